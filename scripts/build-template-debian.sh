#!/usr/bin/env bash
# Builds the Debian 12 OS template for `vzctl create`: OUTDIR/debian-12-x86_64.tar.xz, a
# debootstrap minbase of bookworm with sysvinit as /sbin/init and lighttpd serving
# /var/www/html, prepared to boot as a container: no gettys, no boot scripts that touch
# hardware or the host's filesystems, lo-only network config (vzctl gives the VE its venet0),
# no apt caches. The archive is kept in the machine-wide cache (scripts/cache.sh) keyed by a
# hash of this script, and copied to OUTDIR: a clone on a machine that built it before does
# not download Debian again. (The mirror's packages are not part of the key: the cached
# template stays as it was built until this script changes or the cache is cleared.)
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
debootstrap --variant=minbase --include=sysvinit-core,procps \
  "$suite" "$root" "$mirror" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "templates: debootstrap failed" >&2
  exit 1
}
# The web server comes from apt in the target, not from debootstrap's --include: lighttpd
# depends on "systemd-sysv | lsb-base", and debootstrap always takes the first alternative
# (bringing systemd along, unused); apt sees that sysvinit-utils provides lsb-base. The
# policy-rc.d keeps the package from starting its daemon here in the build.
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

# A VE has no consoles: no gettys (they would respawn forever on ttys that do not exist).
sed -i 's/^\([0-9]*:[0-9]*:respawn:.*getty.*\)$/#\1/' "$root/etc/inittab"

# Boot and shutdown scripts that have nothing to do, or must not act, in a container. vzctl
# has mounted /proc, a read-only /sys and a /dev with the permitted nodes, devpts and /dev/shm
# before init starts; the root is the VE's private area, a bind mount of a directory on the
# host's disk; the clock, the hardware, swap and the kernel's settings are the host's. Their
# links are removed with update-rc.d, dependents first so that insserv's ordering stays
# consistent (checked below): a later package install then leaves them out too. (An upgrade
# of initscripts itself may add the links back; remove them again after one.)
disabled=(
  # At boot:
  hwclock.sh              # the hardware clock: no device, and CAP_SYS_TIME is dropped
  brightness              # a backlight in /sys/class/backlight: not a VE's
  procps                  # sysctl --system: kernel settings belong to the host
  mountnfs-bootclean.sh   # network filesystems from fstab: none
  mountnfs.sh
  mountall-bootclean.sh   # mount -a and swapon -a: nothing in fstab, no swap for a VE
  mountall.sh
  checkfs.sh              # fsck of fstab's filesystems: none
  checkroot-bootclean.sh  # fsck and remount of the root: a directory on the host's disk
  checkroot.sh
  mountdevsubfs.sh        # its own devpts and /dev/shm over the ones vzctl mounted
  # At halt (vzctl stop runs halt inside; the VE's init ends, then the kernel kills what is
  # left in its pid namespace and vzctl unmounts the root):
  sendsigs                # kill everything: the kernel does that when init ends
  umountnfs.sh            # unmount network filesystems: none
  umountfs                # swapoff -a would turn off the host's swap
  umountroot              # remount,ro of / would make the host's whole /vz disk read-only
)
for script in "${disabled[@]}"; do
  chroot "$root" update-rc.d -f "$script" remove >/dev/null
done
# What is left must order cleanly, or every later package with an init script fails to install.
if ! check=$(chroot "$root" insserv 2>&1) || [ -n "$check" ]; then
  echo "templates: insserv rejects the remaining boot scripts: $check" >&2
  exit 1
fi

echo localhost > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
# Filled by the container manager (NAMESERVER in vz.conf or the VE's config).
: > "$root/etc/resolv.conf"
# vzctl brings up lo and the VE's venet0 with its addresses and route itself.
mkdir -p "$root/etc/network"
cat > "$root/etc/network/interfaces" <<'INTERFACES'
# The loopback network interface. venet0, with the VE's addresses, is configured by vzctl.
auto lo
iface lo inet loopback
INTERFACES
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

chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/log/bootstrap.log
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
