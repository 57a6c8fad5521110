#!/usr/bin/env bash
# Builds the patched kernel: unpack Debian's linux-source-6.12, apply kernel-module/patches in
# order, merge configs/kernel fragments onto tinyconfig, build bzImage. A stamp keyed by a hash
# of every input (source version, patches, fragments, this script, the compilers) skips the
# whole thing when nothing changed.
#
# Usage: build-kernel.sh OUTDIR [DEBUG]   (DEBUG=1 adds configs/kernel/debug and builds with clang,
#                                           which the kernel requires for KASAN with Rust)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "$1")
debug=${2:-0}
tarball=/usr/src/linux-source-6.12.tar.xz

fragments=("$top"/configs/kernel/*.config)
make_flags=(RUSTC=/usr/bin/rustc)
if [ "$debug" = 1 ]; then
  fragments+=("$top"/configs/kernel/debug/*.config)
  make_flags+=(LLVM=1)
fi
patches=("$top"/kernel-module/patches/*.patch)

inputs_hash=$(
  {
    dpkg-query -W -f='${Version}\n' linux-source-6.12
    /usr/bin/rustc --version
    echo "${make_flags[*]}"
    cat "$0" "${patches[@]}" "${fragments[@]}"
  } | sha256sum | cut -c1-16
)
stamp="$out/.vz-inputs"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs_hash" ] && [ -f "$out/arch/x86/boot/bzImage" ]; then
  echo "kernel: up to date ($out, inputs $inputs_hash)"
  exit 0
fi

start=$(date +%s)
echo "kernel: building in $out (inputs $inputs_hash)"
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp"
tar -xf "$tarball" -C "$out.tmp" --strip-components=1
mv "$out.tmp" "$out"
cd "$out"

for p in "${patches[@]}"; do
  echo "kernel: applying $(basename "$p")"
  patch -p1 --quiet --forward < "$p"
done

make -s "${make_flags[@]}" tinyconfig
scripts/kconfig/merge_config.sh -m -Q .config "${fragments[@]}" >/dev/null
make -s "${make_flags[@]}" olddefconfig

# Kconfig silently drops an option whose dependencies are unmet: fail loudly instead, so the
# config really carries what the fragments ask for.
missing=()
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=n) opt=${line%=n}; grep -q "^$opt=" .config && missing+=("$line (still set)") ;;
    CONFIG_*=*) grep -qx "$line" .config || missing+=("$line") ;;
  esac
done < <(cat "${fragments[@]}" | sed 's/[[:space:]]*#.*//' | grep '^CONFIG_')
if [ ${#missing[@]} -gt 0 ]; then
  printf 'kernel: config options not satisfied:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi

make -s "${make_flags[@]}" -j"$(nproc)" bzImage modules
echo "$inputs_hash" > "$stamp"
echo "kernel: built in $(( $(date +%s) - start )) s"
