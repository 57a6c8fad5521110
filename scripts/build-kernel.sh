#!/usr/bin/env bash
# Builds the patched kernel: unpack Debian's linux-source-6.12, apply kernel-module/patches in
# order, merge configs/kernel fragments onto tinyconfig, build bzImage. The build tree lives in
# the machine-wide cache (scripts/cache.sh), keyed by a hash of every input (source version,
# patches, fragments, this script, the compilers and bindgen); OUTDIR becomes a link to it. A
# clone whose inputs were built before on this machine, by any clone, builds nothing.
#
# Usage: build-kernel.sh OUTDIR [DEBUG]   (DEBUG=1 adds configs/kernel/debug and builds with clang,
#                                           which the kernel requires for KASAN with Rust)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/cache.sh"
out=$(realpath -m -s "$1")
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
    bindgen --version
    if [ "$debug" = 1 ]; then clang --version | head -n1; else gcc --version | head -n1; fi
    echo "${make_flags[*]}"
    cat "$0" "${patches[@]}" "${fragments[@]}"
  } | sha256sum | cut -c1-16
)

# What the module build and the harness use from the tree; the cache checks their hashes.
key_outputs=(arch/x86/boot/bzImage vmlinux .config Module.symvers include/config/kernel.release
  rust/libkernel.rmeta rust/libmacros.so scripts/mod/modpost)

# build TREE: the whole kernel build, in TREE.
build() {
  local tree=$1 start missing=() line opt
  start=$(date +%s)
  echo "kernel: building (inputs $inputs_hash)"
  tar -xf "$tarball" -C "$tree" --strip-components=1
  cd "$tree"
  for p in "${patches[@]}"; do
    echo "kernel: applying $(basename "$p")"
    patch -p1 --quiet --forward < "$p"
  done

  make -s "${make_flags[@]}" tinyconfig
  scripts/kconfig/merge_config.sh -m -Q .config "${fragments[@]}" >/dev/null
  make -s "${make_flags[@]}" olddefconfig

  # Kconfig silently drops an option whose dependencies are unmet: fail loudly instead, so the
  # config really carries what the fragments ask for.
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=n) opt=${line%=n}; grep -q "^$opt=" .config && missing+=("$line (still set)") ;;
      CONFIG_*=*) grep -qx "$line" .config || missing+=("$line") ;;
    esac
  done < <(cat "${fragments[@]}" | sed 's/[[:space:]]*#.*//' | grep '^CONFIG_')
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'kernel: config options not satisfied:\n' >&2
    printf '  %s\n' "${missing[@]}" >&2
    return 1
  fi

  make -s "${make_flags[@]}" -j"$(nproc)" bzImage modules
  echo "kernel: built in $(( $(date +%s) - start )) s"
}

entry=$(cache_get_or_build "kernel" "$inputs_hash" build "${key_outputs[@]}")
if [ "$(readlink "$out" 2>/dev/null)" = "$entry" ]; then
  echo "kernel: up to date ($out -> $entry)"
else
  cache_link "$out" "$entry"
  echo "kernel: $out -> $entry"
fi
