#!/bin/sh
# Runs every test_* function of every /tests/cases/*.sh (of VZ_CASES_DIR/*.sh when set: a
# pair's vza runs /tests/cases-pair), each in its own shell with a timeout, and reports one
# "VZ-CASE PASS|FAIL feature/name millis" line per case for the host harness, followed for a
# failed case by its output ("VZ-CASE-OUTPUT line"). Exits 0 if all passed.
# VZ_ONLY=REGEX runs only the cases whose "file:name" matches. VZ_SHARD=K/N runs every Nth
# case from the Kth on (the harness's guests that run at once each take one share): cases are
# dealt out one by one, so a feature's slow cases spread over the guests.
# A case may take CASE_TIMEOUT seconds; a file whose cases need longer says so in a line
# "# case-timeout: SECONDS".
CASE_TIMEOUT=${CASE_TIMEOUT:-300}
# A case that fails in a loop could flood the console; its last lines tell the story.
OUTPUT_LINES=2000

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

shard=${VZ_SHARD:-1/1}
shard_index=${shard%/*}
shard_count=${shard#*/}
cases=""
index=0
for file in "${VZ_CASES_DIR:-/tests/cases}"/*.sh; do
    for name in $(sed -n 's/^\(test_[a-z0-9_]*\)() *{.*/\1/p' "$file"); do
        echo "$file:$name" | grep -Eq "${VZ_ONLY:-.}" || continue
        [ $((index % shard_count + 1)) -eq "$shard_index" ] && cases="$cases $file:$name"
        index=$((index + 1))
    done
done
echo "VZ-CASES-TOTAL $(echo $cases | wc -w)"

failed=0
for entry in $cases; do
    file=${entry%%:*}
    name=${entry#*:}
    feature=$(basename "$file" .sh)
    limit=$(sed -n 's/^# case-timeout: *\([0-9][0-9]*\)$/\1/p' "$file")
    limit=${limit:-$CASE_TIMEOUT}
    start=$(now_ms)
    timeout "$limit" sh -c ". /tests/lib.sh && . '$file' && set -e && $name" >/tmp/case.log 2>&1
    rc=$?
    took=$(( $(now_ms) - start ))
    if [ $rc -eq 0 ]; then
        echo "VZ-CASE PASS $feature/$name $took"
    else
        [ $rc -eq 143 ] && echo "timed out after $limit s" >>/tmp/case.log
        echo "VZ-CASE FAIL $feature/$name $took"
        tail -n $OUTPUT_LINES /tmp/case.log | sed 's/^/VZ-CASE-OUTPUT /'
        echo "VZ-CASE-OUTPUT (exit status $rc)"
        failed=$((failed + 1))
    fi
done
[ $failed -eq 0 ]
