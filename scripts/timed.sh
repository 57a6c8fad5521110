#!/usr/bin/env bash
# timed.sh NAME CMD...: runs CMD, then prints how long the stage took. Keeps CMD's status.
name=$1; shift
start=$(date +%s%N)
"$@"; rc=$?
printf '[stage] %-16s %6.1f s%s\n' "$name" "$(( ($(date +%s%N) - start) / 1000000 ))e-3" \
  "$([ $rc -eq 0 ] || echo "  (failed, exit $rc)")"
exit $rc
