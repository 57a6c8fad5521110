# make bench: checkpoint and restore of an idle busybox VE and of one holding 64 MiB of
# resident memory, as ratios to `vzctl stop` + `vzctl start` of the same VE in the same run,
# and the dump's write rate against the guest's disk write rate (dd with fsync to /vz).
#   goals: an idle VE's restore no slower than its start (restore/start <= 1.0); the 64 MiB
#   dump written at >= 50% of the disk's rate.
set -e
. /tests/lib.sh
ROUNDS=${ROUNDS:-3}

# ms CMD...: runs CMD, prints how long it took in milliseconds.
ms() { t0=$(now_ms); "$@" >/dev/null; echo $(( $(now_ms) - t0 )); }

# The memory holder: busybox awk with a 64 MiB string it has written, sleeping.
HOG='awk "BEGIN { s = sprintf(\"%67108864s\", \"\"); while (1) system(\"sleep 1\") }"'
rss_kb() { vzctl exec 101 'cat /proc/[0-9]*/status' | awk '/^VmRSS/ { if ($2 > m) m = $2 } END { print m + 0 }'; }

disk_rate() {
    t=$(ms dd if=/dev/zero of=/vz/bench.dd bs=1M count=64 conv=fsync)
    rm -f /vz/bench.dd
    echo $(( 64 * 1000 / t ))
}

fresh_vz
rm -rf /vz/dump/*
vzctl --quiet create 101 --ostemplate busybox-1.35-x86_64 --ipadd 10.1.5.101 >/dev/null
disk=$(disk_rate)
printf '%-8s %10s %10s %10s %10s %10s %10s %12s %12s\n' VE "start ms" "stop ms" "chkpnt ms" \
    "restore ms" "dump KiB" "chk/s+s" "restore/s+s" "restore/start"
for kind in idle 64MiB; do
    best_start=; best_stop=; best_chk=; best_rst=
    r=1
    while [ $r -le $ROUNDS ]; do
        start=$(ms vzctl --quiet start 101)
        if [ $kind = 64MiB ]; then
            vzctl exec 101 "$HOG </dev/null >/dev/null 2>&1 &"
            wait_long 60 "64 MiB resident" sh -c "[ \$(vzctl exec 101 'cat /proc/[0-9]*/status' | awk '/^VmRSS/ { if (\$2 > m) m = \$2 } END { print m + 0 }') -ge 65536 ]"
        fi
        chk=$(ms vzctl --quiet chkpnt 101)
        size=$(du -sk /vz/dump/Dump.101 | cut -f1)
        rst=$(ms vzctl --quiet restore 101)
        stop=$(ms vzctl --quiet stop --fast 101)
        for v in start stop chk rst; do
            eval "cur=\$$v best=\$best_$v"
            [ -z "$best" ] || [ "$cur" -lt "$best" ] && eval "best_$v=$cur"
        done
        r=$((r + 1))
    done
    [ $kind = 64MiB ] && dump_rate=$(( size * 1000 / 1024 / best_chk ))
    awk -v k=$kind -v s=$best_start -v p=$best_stop -v c=$best_chk -v r=$best_rst -v z=$size \
        'BEGIN { printf "%-8s %10d %10d %10d %10d %10d %10.3f %12.3f %12.3f\n", k, s, p, c, r, z, c / (s + p), r / (s + p), r / s }'
done
echo "disk write: $disk MiB/s; 64 MiB VE's dump (size / chkpnt time, freeze and kill included): $dump_rate MiB/s ($(( dump_rate * 100 / disk ))% of the disk)"
vzctl --quiet destroy 101
