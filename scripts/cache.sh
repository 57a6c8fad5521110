# The machine-wide build cache, sourced by the build scripts. Built kernels and templates are
# kept outside the clone, one directory per input hash, so a fresh clone on a machine that
# built the same inputs before reuses them instead of building again.
#
#   $VZ_CACHE/KIND/HASH/              a complete entry: the builder's output
#   $VZ_CACHE/KIND/HASH/.vz-manifest  the size of every file (but the .vz-* ones), then the
#                                     sha256 of the key outputs
#   $VZ_CACHE/KIND/HASH/.vz-used      touched at every use: the eviction order
#   $VZ_CACHE/KIND/.lock              held (flock) for a moment to look up, add or remove
#                                     entries
#   $VZ_CACHE/KIND/.HASH.lock         held while HASH is built: a second build of it waits,
#                                     then finds the first one's entry
#
# An entry is built in KIND/.tmp-HASH.PID and renamed into place only once its manifest is
# written, so a killed build never leaves an entry that looks complete. Every use verifies the
# manifest first; an entry that fails (a file missing, changed in size, or a key output with
# another hash) is removed and rebuilt. Only the $VZ_CACHE_KEEP most recently used entries of
# each kind are kept. `make clean-cache` removes the whole cache.

VZ_CACHE=${VZ_CACHE:-/var/cache/vz-build}
# The callers run cache_get_or_build in $(...): a failing build step must end it there too.
shopt -s inherit_errexit
VZ_CACHE_KEEP=${VZ_CACHE_KEEP:-4}

# cache_verify DIR: whether DIR is a complete, intact entry.
cache_verify() {
  local dir=$1 manifest=$1/.vz-manifest
  [ -f "$manifest" ] || return 1
  # The size listing is the manifest's first part, the checksums follow a marker line.
  (cd "$dir" && find . -type f ! -name '.vz-*' -printf '%s %p\n' | LC_ALL=C sort) \
    | cmp -s - <(sed '/^== sha256$/,$d' "$manifest") || return 1
  sed '1,/^== sha256$/d' "$manifest" | (cd "$dir" && sha256sum --quiet --status -c -)
}

# cache_write_manifest DIR KEY_FILE...: records DIR's files and the checksums of KEY_FILEs
# (paths relative to DIR).
cache_write_manifest() {
  local dir=$1; shift
  {
    (cd "$dir" && find . -type f ! -name '.vz-*' -printf '%s %p\n' | LC_ALL=C sort)
    echo "== sha256"
    (cd "$dir" && sha256sum -- "$@")
  } > "$dir/.vz-manifest.tmp"
  mv "$dir/.vz-manifest.tmp" "$dir/.vz-manifest"
}

# cache_lookup KIND HASH: prints the path of a verified entry and marks it used; fails (after
# removing it) when the entry is absent or damaged. Call with the KIND/.lock held.
cache_lookup() {
  local dir=$VZ_CACHE/$1/$2
  [ -d "$dir" ] || return 1
  if ! cache_verify "$dir"; then
    echo "cache: $1/$2 is incomplete or damaged; removing it" >&2
    rm -rf "$dir"
    return 1
  fi
  touch "$dir/.vz-used"
  echo "$dir"
}

# cache_evict KIND: removes all but the VZ_CACHE_KEEP most recently used entries of KIND,
# and temporary directories of builds that are no longer running. Call with KIND/.lock held.
cache_evict() {
  local kind_dir=$VZ_CACHE/$1 tmp pid
  for tmp in "$kind_dir"/.tmp-*; do
    [ -e "$tmp" ] || continue
    pid=${tmp##*.}
    kill -0 "$pid" 2>/dev/null || rm -rf "$tmp"
  done
  (cd "$kind_dir" && for entry in */; do
     entry=${entry%/}
     [ -d "$entry" ] || continue
     printf '%s %s\n' "$(stat -c %Y "$entry/.vz-used" 2>/dev/null || echo 0)" "$entry"
   done | sort -rn | tail -n +$((VZ_CACHE_KEEP + 1)) | while read -r _ entry; do
     echo "cache: dropping $1/$entry (keeping the $VZ_CACHE_KEEP most recently used)" >&2
     rm -rf "$entry" ".$entry.lock"
   done)
}

# cache_get_or_build KIND HASH BUILDER [KEY_FILE...]: prints the path of the entry for HASH,
# building it first with `BUILDER TMPDIR` when the cache has no intact one. Run it in a
# subshell (`entry=$(cache_get_or_build ...)`), under set -e. BUILDER's output goes to stderr
# so that stdout carries only the path.
cache_get_or_build() {
  local kind=$1 hash=$2 builder=$3; shift 3
  local kind_dir=$VZ_CACHE/$kind tmp entry
  mkdir -p "$kind_dir"
  exec {build_lock}>"$kind_dir/.$hash.lock"
  if ! flock -n "$build_lock"; then
    echo "cache: waiting for another build of $kind/$hash to finish" >&2
    flock "$build_lock"
  fi
  exec {kind_lock}>"$kind_dir/.lock"
  flock "$kind_lock"
  if entry=$(cache_lookup "$kind" "$hash"); then
    exec {kind_lock}>&- {build_lock}>&-
    echo "$entry"
    return 0
  fi
  flock -u "$kind_lock"

  tmp=$kind_dir/.tmp-$hash.$BASHPID
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # Called plainly (not in a condition, where bash ignores set -e): a failing step ends this
  # subshell, the trap removes the partial tree and the locks go with the process.
  # shellcheck disable=SC2064 # expanded now: $tmp is local and gone when the trap runs
  trap "rm -rf '$tmp'" EXIT
  "$builder" "$tmp" >&2
  cache_write_manifest "$tmp" "$@"

  flock "$kind_lock"
  rm -rf "${kind_dir:?}/$hash"
  mv "$tmp" "$kind_dir/$hash"
  trap - EXIT
  touch "$kind_dir/$hash/.vz-used"
  cache_evict "$kind"
  exec {kind_lock}>&- {build_lock}>&-
  echo "$kind_dir/$hash"
}

# cache_link LINK TARGET: points the clone's LINK at the cache entry TARGET (replacing an older
# link or a directory left by builds from before the cache).
cache_link() {
  local link=$1 target=$2
  mkdir -p "$(dirname "$link")"
  if [ -L "$link" ] || [ ! -e "$link" ]; then
    ln -sfn "$target" "$link.tmp" && mv -T "$link.tmp" "$link"
  else
    rm -rf "$link" && ln -s "$target" "$link"
  fi
}
