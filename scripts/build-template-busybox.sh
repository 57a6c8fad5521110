#!/usr/bin/env bash
# Builds the busybox OS template for `vzctl create`: OUTDIR/busybox-<major.minor>-<arch>.tar.gz,
# a minimal tree around Debian's busybox-static with an init that suits a container (no
# console, no gettys). The archive is deterministic (sorted, root-owned, mtime 0); a stamp keyed
# by a hash of the inputs (this script, the busybox binary) skips the build when nothing changed.
#
# Usage: build-template-busybox.sh OUTDIR
set -euo pipefail

out=$(realpath -m "$1")
busybox=/bin/busybox
umask 022

# "BusyBox v1.35.0 (Debian ...)" names the template busybox-1.35-x86_64, OpenVZ's
# <distribution>-<version>-<arch> form.
# (sed reads the whole banner: `head` could end the pipe early and fail it with SIGPIPE.)
version=$("$busybox" | sed -n '1s/^BusyBox v\([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$version" ] || { echo "templates: cannot read the version of $busybox" >&2; exit 1; }
name="busybox-$version-$(uname -m)"
tarball="$out/$name.tar.gz"

inputs_hash=$(cat "$0" "$busybox" | sha256sum | cut -c1-16)
stamp="$out/.$name.inputs"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs_hash" ] && [ -f "$tarball" ]; then
  echo "templates: up to date ($tarball)"
  exit 0
fi

mkdir -p "$out"
root=$(mktemp -d "$out/$name.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,run,var/log,var/www,home}
install -d -m 1777 "$root/tmp"
install -d -m 0700 "$root/root"

# Busybox is every command, /sbin/init included. linuxrc is for initrds, not for a VE.
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = linuxrc ] || [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# The VE's processes are started by its init, after the container manager has mounted /proc,
# /sys and /dev: rcS once at start; at stop, every process gets SIGTERM. No gettys: a VE has
# no console to run them on.
cat > "$root/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
::shutdown:/bin/sh -c 'kill -TERM -1; sleep 1'
INITTAB

cat > "$root/etc/init.d/rcS" <<'RCS'
#!/bin/sh
# Run once by init when the VE starts. /proc, /sys and /dev are already mounted by the
# container manager, so there is no `mount -a`.
#
# /etc/vz-services lists the daemons to start, one shell command per line (blank lines and
# lines starting with # are skipped), for example:
#     httpd -p 80 -h /var/www
#     syslogd
# Each runs in the background in the order given; their output goes to
# /var/log/vz-services.log.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

ip link set lo up
[ -s /etc/hostname ] && hostname -F /etc/hostname

if [ -f /etc/vz-services ]; then
    while IFS= read -r service; do
        case "$service" in ''|'#'*) continue ;; esac
        sh -c "$service" </dev/null >>/var/log/vz-services.log 2>&1 &
    done </etc/vz-services
fi
exit 0
RCS
chmod 0755 "$root/etc/init.d/rcS"

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
# Locked passwords: no one logs in with a password until the admin sets one.
cat > "$root/etc/shadow" <<'SHADOW'
root:!::0:99999:7:::
nobody:!::0:99999:7:::
SHADOW
chmod 0600 "$root/etc/shadow"
echo localhost > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
# Filled by the container manager (NAMESERVER in vz.conf or the VE's config).
: > "$root/etc/resolv.conf"
cat > "$root/etc/profile" <<'PROFILE'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PROFILE
cat > "$root/var/www/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>vz</title></head>
<body><p>This page is served from a vz virtual environment (busybox template).</p></body>
</html>
HTML

tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . \
  | gzip -9 -n > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
echo "$inputs_hash" > "$stamp"
echo "templates: $tarball ($(du -k "$tarball" | cut -f1) kB)"
