#!/usr/bin/env bash
# timed.sh NAME CMD...: runs CMD, then prints how long the stage took. Keeps CMD's status.
# With VZ_STAGES set to a file, also appends "NAME SECONDS STATUS" to it (.ci/run's table).
name=$1; shift
start=$(date +%s%N)
"$@"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '[stage] %-22s %7.1f s%s\n' "$name" "${ms}e-3" "$([ $rc -eq 0 ] || echo "  (failed, exit $rc)")"
[ -z "${VZ_STAGES:-}" ] || printf '%s %s %s\n' "$name" "$ms" "$rc" >> "$VZ_STAGES"
exit $rc
