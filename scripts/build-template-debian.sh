#!/usr/bin/env bash
# Builds the Debian 12 OS template for `vzctl create`: OUTDIR/debian-12-x86_64.tar.xz, a
# debootstrap minbase of bookworm with systemd as /sbin/init (systemd-sysv, as on any Debian 12
# machine) and lighttpd serving /var/www/html as an enabled systemd unit, prepared to boot as a
# container: the units that cannot run in one are masked (the list and the reasons are below and
# in the README), no network configuration inside (vzctl gives the VE its venet0), an empty
# machine-id (each VE makes its own), no apt caches. The archive is kept in the machine-wide
# cache (scripts/cache.sh) keyed by a hash of this script, and copied to OUTDIR: a clone on a
# machine that built it before does not download Debian again. (The mirror's packages are not
# part of the key: the cached template stays as it was built until this script changes or the
# cache is cleared.)
#
# Usage: build-template-debian.sh OUTDIR   (as root: debootstrap chroots and makes device nodes)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/cache.sh"
out=$(realpath -m "$1")
suite=bookworm
mirror=http://deb.debian.org/debian
name="debian-12-$(uname -m)"
tarball="$out/$name.tar.xz"
umask 022

inputs_hash=$(sha256sum "$0" | cut -c1-16)
stamp="$out/.$name.inputs"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs_hash" ] && [ -f "$tarball" ]; then
  echo "templates: up to date ($tarball)"
  exit 0
fi

# build DIR: debootstrap, prepare and pack the template into DIR/$name.tar.xz. A subshell, so
# that its cleanup trap is its own.
build() (
[ "$(id -u)" = 0 ] || { echo "templates: $name needs root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "templates: no debootstrap (run make setup)" >&2; exit 1; }

dest=$1
mkdir -p "$out"
work=$(mktemp -d "$out/$name.XXXXXX")
root="$work/root"
# debootstrap mounts /proc and /sys in the target while it runs, and so does this script for
# apt; a failed run can leave them mounted, so unmount everything under the tree before
# removing it, and never cross into another filesystem.
cleanup() {
  { grep -o " $root/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mnt; do umount -l "$mnt" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

started=$(date +%s)
echo "templates: debootstrap $suite into $root"
debootstrap --variant=minbase --include=systemd-sysv,procps \
  "$suite" "$root" "$mirror" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "templates: debootstrap failed" >&2
  exit 1
}
# The web server comes from apt in the target, as an admin would install it; its package
# enables lighttpd.service in multi-user.target. The policy-rc.d keeps the package from
# starting its daemon here in the build (systemd is not running in the chroot anyway).
mount -t proc proc "$root/proc"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
{
  chroot "$root" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends lighttpd
} >>"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "templates: apt-get install lighttpd failed" >&2
  exit 1
}
rm "$root/usr/sbin/policy-rc.d"
umount "$root/proc"

# --- Container preparation ---------------------------------------------------------------

# What a VE is, for systemd (https://systemd.io/CONTAINER_INTERFACE): vzctl starts /sbin/init
# with container=vz in its environment (so ConditionVirtualization=container holds and systemd
# writes /run/systemd/container), in its own pid, mount, network, UTS, IPC and cgroup
# namespaces, with /proc, a read-only /sys and a /dev of a few nodes (no /dev/console, no
# /dev/tty0, no /dev/kmsg) mounted; systemd mounts /run, /sys/fs/cgroup and the rest itself.
# The root is the VE's private area, a directory on the host's /vz disk; the clock, the
# hardware, the kernel and its modules are the host's, and host-wide capabilities
# (CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_AUDIT_*...) are dropped.
#
# Masked (a link to /dev/null in /etc/systemd/system, which a package upgrade leaves alone):
# units that would try to act on the host's kernel or hardware, or wait for devices a VE never
# has. Most are skipped anyway by a ConditionCapability= on a capability vzctl drops; they are
# masked so that boot does not depend on that, and so that `systemctl list-unit-files` says
# plainly what a VE does not run. Units already skipped by their own
# ConditionVirtualization=!container (systemd-random-seed, systemd-pstore, systemd-repart,
# fstrim.timer), by having no D-Bus (systemd-logind: a VE that installs dbus gets it) or that
# are only disabled (systemd-networkd) are left as Debian ships them.
masked=(
  # Consoles: a VE has no virtual terminals (getty@ttyN and getty-static, which starts tty2-6,
  # need /dev/tty0) and nothing attaches to its console: vzctl enter gives a shell on a pty
  # of the VE's own devpts. console-getty is what systemd's getty generator starts in a
  # container; it would respawn forever on a console nobody reads.
  getty@.service
  getty-static.service
  console-getty.service
  # Kernel modules are the host's: no CAP_SYS_MODULE, and the VE has no /lib/modules of the
  # running kernel.
  kmod-static-nodes.service
  systemd-modules-load.service
  modprobe@.service
  # The host kernel's own filesystems (configfs, debugfs, tracefs, fusectl) and its hugetlbfs
  # pools: not a VE's to mount.
  sys-kernel-config.mount
  sys-kernel-debug.mount
  sys-kernel-tracing.mount
  sys-fs-fuse-connections.mount
  dev-hugepages.mount
  # binfmt_misc registrations are host-wide, and its automount needs autofs, which the
  # kernel lacks.
  proc-sys-fs-binfmt_misc.automount
  proc-sys-fs-binfmt_misc.mount
  systemd-binfmt.service
  # The audit subsystem is not virtualized: no CAP_AUDIT_READ/CONTROL, nothing to read.
  systemd-journald-audit.socket
  # Remounts / with fstab's options: the root is vzctl's bind mount of the private area, and
  # a remount of it from inside would change the host's /vz filesystem, not the VE's view.
  systemd-remount-fs.service
  # The clock is the host's (no CAP_SYS_TIME). Not installed; masked so that installing
  # systemd-timesyncd later (or as a dependency) does not start a daemon that cannot work.
  systemd-timesyncd.service
  # udev manages devices through a writable /sys and the kernel's uevents, neither of which a
  # VE has (its unit already refuses a read-only /sys). Not installed; masked for the same
  # reason as timesyncd.
  systemd-udevd.service
  systemd-udevd-control.socket
  systemd-udevd-kernel.socket
  systemd-udev-trigger.service
  # e2scrub checks ext4 filesystems on LVM snapshots: a VE has no block devices.
  e2scrub_reap.service
  e2scrub_all.timer
  e2scrub_all.service
)
for unit in "${masked[@]}"; do
  ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  # Nothing may still want a masked unit (a masked unit that is wanted is only skipped, but
  # the link would read as enabled): Debian enables getty@tty1, e2scrub_reap and
  # e2scrub_all.timer. A masked template (getty@) takes its instances with it.
  find "$root/etc/systemd/system" -path '*.wants/*' \( -name "$unit" -o -name "${unit/@./@*.}" \) -delete
done
find "$root/etc/systemd/system" -mindepth 1 -type d -name '*.wants' -empty -delete
# lighttpd.service is enabled by its package; enable it again so that the template does not
# depend on that, and check the link.
chroot "$root" systemctl enable lighttpd.service >>"$work/build.log" 2>&1 ||
  { echo "templates: systemctl enable lighttpd failed" >&2; exit 1; }
[ -L "$root/etc/systemd/system/multi-user.target.wants/lighttpd.service" ] ||
  { echo "templates: lighttpd.service is not enabled" >&2; exit 1; }

# Each VE gets its own machine id: systemd generates one at the VE's first boot when the file
# is empty (an empty file, unlike a missing one, does not start first-boot mode, whose
# systemd-firstboot would prompt on a console the VE does not have).
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# journald caps the persistent journal at 10% of the filesystem it is on: here the host's /vz,
# not the VE's disk quota. Cap it for a VE.
mkdir -p "$root/etc/systemd/journald.conf.d"
cat > "$root/etc/systemd/journald.conf.d/vz.conf" <<'JOURNALD'
# A VE's journal lives on the host's /vz filesystem: cap it (journald's default is 10% of
# that filesystem, whatever the VE's disk quota).
[Journal]
SystemMaxUse=64M
JOURNALD

echo localhost > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
# Filled by the container manager (NAMESERVER in vz.conf or the VE's config).
: > "$root/etc/resolv.conf"
# No network configuration inside: neither ifupdown nor systemd-networkd is in use (minbase
# has no ifupdown, Debian leaves networkd disabled), and none is needed: vzctl brings up lo
# and the VE's venet0 with its addresses and default route from the host. No DHCP client.
# No filesystems to mount: the root is mounted by vzctl before the VE starts.
cat > "$root/etc/fstab" <<'FSTAB'
# <file system> <mount point> <type> <options> <dump> <pass>
FSTAB
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror}-security $suite-security main
SOURCES

cat > "$root/var/www/html/index.html" <<HTML
<!DOCTYPE html>
<html><head><title>vz</title></head>
<body><p>This page is served by lighttpd from a vz virtual environment ($name template).</p></body>
</html>
HTML

# No apt caches (apt-get update fetches the lists again). The documentation stays: dpkg 1.21
# reports files left out by a path-exclude as missing in `dpkg --verify`, and the template's
# packages must verify clean (checked here; the scenario test checks lighttpd inside a VE).
chroot "$root" apt-get clean
find "$root/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name partial -exec rm -rf {} +
rm -rf "$root"/var/cache/debconf/*-old "$root"/var/log/bootstrap.log
if ! verify=$(chroot "$root" dpkg --verify 2>&1) || [ -n "$verify" ]; then
  echo "templates: dpkg --verify in the template: $verify" >&2
  exit 1
fi
# vzctl mounts a fresh /dev over this one at every start.
rm -rf "${root:?}"/dev/*

# Nothing of the build may still run or be mounted in the tree.
grep -q " $root/" /proc/mounts && { echo "templates: something is still mounted in $root" >&2; exit 1; }

tar --numeric-owner --sort=name -C "$root" -cf - . | xz -6 -T0 > "$dest/$name.tar.xz"
echo "templates: $name.tar.xz ($(du -k "$dest/$name.tar.xz" | cut -f1) kB, unpacked $(du -sk "$root" | cut -f1) kB, built in $(( $(date +%s) - started )) s)"
)

entry=$(cache_get_or_build "template-debian" "$inputs_hash" build "$name.tar.xz")
mkdir -p "$out"
cp "$entry/$name.tar.xz" "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
echo "$inputs_hash" > "$stamp"
echo "templates: $tarball (from the cache, $entry)"
