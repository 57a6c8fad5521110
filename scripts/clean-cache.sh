#!/usr/bin/env bash
# Empties the machine-wide build cache (scripts/cache.sh): every built kernel and template.
# Waits for a build that holds a kind's lock. Clones linked to a removed kernel rebuild it on
# their next make.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/cache.sh"
[ -d "$VZ_CACHE" ] || { echo "cache: $VZ_CACHE is already empty"; exit 0; }
for kind_dir in "$VZ_CACHE"/*/; do
  [ -d "$kind_dir" ] || continue
  (
    exec {lock_fd}>"$kind_dir/.lock"
    flock "$lock_fd"
    find "$kind_dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  )
done
echo "cache: emptied $VZ_CACHE ($(du -sh "$VZ_CACHE" | cut -f1) left: the lock files)"
