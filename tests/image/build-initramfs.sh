#!/usr/bin/env bash
# Builds the guest image: a busybox-static initramfs carrying the vz module, the tools with
# the shared libraries they need, their config files, the OS templates, the guest init and the
# test cases.
#
# Usage: build-initramfs.sh OUT.cpio.gz KERNEL_DIR VZ_KO BIN_DIR TEMPLATE_DIR
set -euo pipefail

out=$1 kdir=$2 module=$3 bindir=$4 templates=$5
top=$(cd "$(dirname "$0")/../.." && pwd)
krel=$(cat "$kdir/include/config/kernel.release")
stage=$(mktemp -d "${out%/*}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/vz/conf,usr/share/vz/templates}
mkdir -p "$stage"/{root,proc,sys,dev,tmp,run,vz,tests/cases,tests/cases-pair,etc/ssh}
mkdir -p "$stage/lib/modules/$krel/extra"

# Busybox provides the shell and every basic command.
cp /bin/busybox "$stage/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

# $(install_dynamic SRC DEST): a glibc-dynamic program, with the libraries ldd lists at the
# same paths.
install_dynamic() {
  install -m 0755 "$1" "$stage$2"
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L -n "$lib" "$stage$lib"
  done
}
tools=(vzctl vzlist vzpid vzmigrate vztest vzattack vznop vznsexec)
for tool in "${tools[@]}"; do
  install_dynamic "$bindir/$tool" "/usr/local/bin/$tool"
done

# Checkpoints: Debian's criu, with the programs it runs itself: iproute2's ip (it saves and
# restores a VE's addresses and routes with `ip ... save/restore`, which busybox's lacks) and
# GNU tar (it packs tmpfs contents with options busybox's lacks). They sit in /usr/sbin and
# /usr/bin, ahead of busybox's /sbin and /bin on PATH.
install_dynamic /usr/sbin/criu /usr/sbin/criu
install_dynamic /usr/sbin/ip /usr/sbin/ip
install_dynamic /usr/bin/tar /usr/bin/tar

# The two guests of a pair (the harness's GUESTS=2 and --pair) reach each other as two hosts
# do for vzmigrate: OpenSSH's server and client, and rsync (run over ssh on both ends). The
# guest init starts sshd with the run's keys; privilege separation runs as the sshd user in
# /run/sshd (Debian's build). Keys only: the guests have no passwords. PAM is off: the image
# has none of its modules.
install_dynamic /usr/sbin/sshd /usr/sbin/sshd
install_dynamic /usr/bin/ssh /usr/bin/ssh
install_dynamic /usr/bin/rsync /usr/bin/rsync

# Profiling: strace counts a command's system calls and times them (`strace -c -f`, `-r`), as
# the lifecycle profile in the README was taken.
install_dynamic /usr/bin/strace /usr/bin/strace
cat > "$stage/etc/ssh/sshd_config" <<'SSHD'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
SSHD
# Never a prompt: a script that reaches the other guest fails at once instead of hanging.
cat > "$stage/etc/ssh/ssh_config" <<'SSH'
Host *
    BatchMode yes
    StrictHostKeyChecking yes
    ConnectTimeout 10
    # A peer that powered off or hangs ends the session within a minute, not never.
    ServerAliveInterval 10
    ServerAliveCountMax 6
SSH

# The module, with modules.dep so that `modprobe vz` works as on a real host.
install -m 0644 "$module" "$stage/lib/modules/$krel/extra/vz.ko"
depmod -b "$stage" "$krel" 2>/dev/null

# The tools' config files at OpenVZ's paths, and the OS templates; the guest init copies the
# templates to /vz/template/cache, where vzctl create looks.
install -m 0644 "$top/configs/vz/vz.conf" "$stage/etc/vz/vz.conf"
install -m 0644 "$top"/configs/vz/ve-*.conf-sample "$stage/etc/vz/conf/"
mkdir -p "$stage/etc/init.d" "$stage/lib/systemd/system"
install -m 0755 "$top/configs/vz/vz.init" "$stage/etc/init.d/vz"
install -m 0644 "$top/configs/vz/vz.service" "$stage/lib/systemd/system/vz.service"
install -m 0644 "$templates"/*.tar.gz "$stage/usr/share/vz/templates/"

install -m 0755 "$top/tests/guest/init" "$stage/init"
install -m 0755 "$top/tests/guest/run-cases.sh" "$stage/tests/run-cases.sh"
install -m 0644 "$top/tests/guest/lib.sh" "$stage/tests/lib.sh"
install -m 0644 "$top/tests/guest/demo.sh" "$stage/tests/demo.sh"
install -m 0644 "$top"/tests/cases/*.sh "$stage/tests/cases/"
install -m 0644 "$top"/tests/cases-pair/*.sh "$stage/tests/cases-pair/"
install -m 0644 "$top/tests/guest/motd" "$stage/etc/motd"

cat > "$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
sshd:x:100:65534::/run/sshd:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$stage/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
cat > "$stage/etc/profile" <<'PROFILE'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PS1='vz-guest:\w# '
PROFILE

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "image: $out ($(du -k "$out" | cut -f1) kB, kernel $krel)"
