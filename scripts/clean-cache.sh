#!/usr/bin/env bash
# Empties the machine-wide build cache (scripts/cache.sh): every built kernel and template.
# A build still running keeps its temporary tree and adds its entry when done. Clones linked
# to a removed kernel rebuild it on their next make.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/cache.sh"
[ -d "$VZ_CACHE" ] || { echo "cache: $VZ_CACHE is already empty"; exit 0; }
for kind_dir in "$VZ_CACHE"/*/; do
  [ -d "$kind_dir" ] || continue
  (
    exec {kind_lock}>"$kind_dir/.lock"
    flock "$kind_lock"
    VZ_CACHE_KEEP=0 cache_evict "$(basename "$kind_dir")"
  )
done
echo "cache: emptied $VZ_CACHE ($(du -sh "$VZ_CACHE" | cut -f1) left)"
