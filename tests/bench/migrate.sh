# make bench (two guests, vza and vzb): moving a busybox VE that holds 64 MiB of resident
# memory and dirties about 2 MiB/s of it, from vza to vzb, three ways in the same run:
#   restart  stop, copy, start (vzmigrate without --online): its downtime;
#   single   a live move with one dump (--online --noiter): its frozen time;
#   iter     a live move with iterative pre-copy (--online): its frozen time;
# and, for each, the longest gap a TCP client on vza saw in the echoes of a server in the VE.
#   goals: single/restart <= 0.5 (live frozen time at most half the stop-copy downtime) and
#   iter/single <= 0.5 (pre-copy halves the frozen time).
set -e
. /tests/lib.sh

VE_IP=10.199.0.101
on_vzb() { ssh vzb "$@"; }

# 64 one-MiB strings, two of them rewritten every second (large strings are mapped afresh:
# new pages, dirty).
DIRTIER='awk "BEGIN { for (i = 0; i < 64; i++) a[i] = sprintf(\"%1048576s\", i); n = 0;
    while (1) { a[n % 64] = sprintf(\"%1048576s\", n); n++; a[n % 64] = sprintf(\"%1048576s\", n); n++;
    system(\"sleep 1\") } }"'

# move KIND ARGS...: a fresh VE on vza with the dirtier and an echo server, moved to vzb with
# vzmigrate ARGS; prints "seconds gap_ms" (the frozen or down time, the client's longest gap).
move() {
    fresh_vz
    rm -rf /vz/dump/*
    on_vzb '. /tests/lib.sh; fresh_vz; rm -rf /vz/dump/*' >/dev/null
    vzctl --quiet create 101 --ostemplate busybox-1.35-x86_64 --ipadd $VE_IP >/dev/null
    vzctl --quiet start 101
    vzctl exec 101 "$DIRTIER </dev/null >/dev/null 2>&1 &"
    vzctl exec 101 'nc -l -p 5000 -e cat </dev/null >/dev/null 2>&1 &'
    wait_long 60 "64 MiB resident" sh -c "[ \$(vzctl exec 101 'cat /proc/[0-9]*/status' | awk '/^VmRSS/ { if (\$2 > m) m = \$2 } END { print m + 0 }') -ge 65536 ]"
    wait_for "the echo server" sh -c "vzctl exec 101 netstat -tln | grep -q ':5000'"
    rm -f /tmp/probe.stop
    vztest probe tcp $VE_IP:5000 --until /tmp/probe.stop >/tmp/probe.out 2>&1 &
    probe=$!
    sleep 3
    vzmigrate -t --json "$@" vzb 101 >/tmp/move.out
    sleep 3
    touch /tmp/probe.stop
    wait $probe || echo "the TCP client failed: $(cat /tmp/probe.out)" >&2
    json=$(tail -n 1 /tmp/move.out)
    echo "$json" >&2
    seconds=$(echo "$json" | sed -n 's/.*"frozen_seconds":\([0-9.]*\).*/\1/p')
    gap=$(sed -n 's/.*longest-gap-ms \([0-9]*\).*/\1/p' /tmp/probe.out)
    echo "$seconds ${gap:-0}"
}

printf '%-8s %12s %16s\n' move "frozen s" "TCP gap ms"
set -- $(move)
restart=$1; restart_gap=$2
printf '%-8s %12.2f %16d\n' restart "$restart" "$restart_gap"
set -- $(move --online --noiter)
single=$1; single_gap=$2
printf '%-8s %12.2f %16d\n' single "$single" "$single_gap"
set -- $(move --online)
iter=$1; iter_gap=$2
printf '%-8s %12.2f %16d\n' iter "$iter" "$iter_gap"
awk -v r="$restart" -v s="$single" -v i="$iter" 'BEGIN {
    printf "single/restart %.3f (goal <= 0.5), iter/single %.3f (goal <= 0.5)\n", s / r, i / s }'
on_vzb vzctl --quiet stop --fast 101 >/dev/null
