#!/usr/bin/env bash
# Checks scripts/cache.sh, the machine-wide build cache, on a scratch cache: an entry is built
# once and reused; a damaged, partial or failed entry is never used; two builds of one kind
# wait for each other; only the most recently used entries are kept. Run by `make unit`.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/cache.sh"
VZ_CACHE=$(mktemp -d)
VZ_CACHE_KEEP=2
trap 'rm -rf "$VZ_CACHE"' EXIT
builds=$VZ_CACHE/builds.log

# The cache's own messages (damaged entries, waits) are expected here: only ours are shown.
exec 3>&2 2>/dev/null
fail() { echo "cache test: FAIL: $*" >&3; exit 1; }

# build DIR: one output file and one file in a subdirectory, and a line in the build log.
build() {
  echo "$hash" >> "$builds"
  mkdir -p "$1/sub"
  echo "output of $hash" > "$1/out"
  echo "other" > "$1/sub/file"
}
failing_build() { echo "half" > "$1/out"; false; }
get() { hash=$1; cache_get_or_build kind "$hash" "${2:-build}" out; }
builds_of() { grep -cx "$1" "$builds" || true; }

entry=$(get a)
[ "$entry" = "$VZ_CACHE/kind/a" ] || fail "entry path: $entry"
[ "$(cat "$entry/out")" = "output of a" ] || fail "entry content"
get a >/dev/null
[ "$(builds_of a)" = 1 ] || fail "an intact entry was built again"

# Damage: a changed key output, a file of another size, a missing file, no manifest.
echo "output of b" > "$entry/out"
get a >/dev/null
[ "$(builds_of a)" = 2 ] || fail "an entry with a changed key output was used"
echo "longer" > "$entry/sub/file"
get a >/dev/null
[ "$(builds_of a)" = 3 ] || fail "an entry with a file of another size was used"
rm "$entry/sub/file"
get a >/dev/null
[ "$(builds_of a)" = 4 ] || fail "an entry with a missing file was used"
rm "$entry/.vz-manifest"
get a >/dev/null
[ "$(builds_of a)" = 5 ] || fail "an entry without a manifest was used"

# A failed build leaves nothing that looks like an entry, and no temporary tree.
# (Not in a condition: bash ignores set -e there, and the build would go on.)
set +e; (set -e; get f failing_build >/dev/null 2>&1); status=$?; set -e
[ "$status" != 0 ] || fail "a failed build succeeded"
[ ! -e "$VZ_CACHE/kind/f" ] || fail "a failed build left an entry"
[ -z "$(find "$VZ_CACHE/kind" -maxdepth 1 -name '.tmp-*')" ] || fail "a failed build left its tree"

# A partial tree of a build that died is removed by the next build.
mkdir -p "$VZ_CACHE/kind/.tmp-dead.999999999"
get b >/dev/null
[ ! -e "$VZ_CACHE/kind/.tmp-dead.999999999" ] || fail "a dead build's tree was kept"

# Two builds of the same entry at once: one builds, the other waits and uses it.
slow_build() { sleep 1; build "$1"; }
(get c slow_build >/dev/null) & (sleep 0.2; get c slow_build >/dev/null 2>&1) & wait
[ "$(builds_of c)" = 1 ] || fail "two concurrent builds of one entry both built"
# A build of other inputs (the debug kernel) does not hold up the use of a built entry.
very_slow_build() { sleep 3; build "$1"; }
(get x very_slow_build >/dev/null) &
sleep 0.5
started=$(date +%s%N)
get c >/dev/null
[ $(( ($(date +%s%N) - started) / 1000000 )) -lt 2000 ] || fail "a lookup waited for another entry's build"
wait

# Only the VZ_CACHE_KEEP most recently used entries stay.
sleep 1.1; get b >/dev/null; sleep 1.1; get d >/dev/null 2>&1
[ -d "$VZ_CACHE/kind/b" ] && [ -d "$VZ_CACHE/kind/d" ] || fail "the recent entries were dropped"
for old in a c x; do
  [ ! -e "$VZ_CACHE/kind/$old" ] || fail "old entry $old was kept"
done

# make clean-cache empties it, but leaves a build that is still running alone.
mkdir "$VZ_CACHE/kind/.tmp-live.$$"
VZ_CACHE=$VZ_CACHE "$top/scripts/clean-cache.sh" >/dev/null
left=$(find "$VZ_CACHE/kind" -mindepth 1 -maxdepth 1 ! -name '.*lock' -printf '%f ')
[ "$left" = ".tmp-live.$$ " ] || fail "after clean-cache: '$left', expected only the running build's tree"
echo "cache test: ok"
