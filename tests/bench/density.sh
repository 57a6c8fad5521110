# make bench-density: N idle busybox VEs running at once in the 2 GiB guest, started by
# STREAMS parallel `vzctl start` streams, then DEBIAN Debian VEs with lighttpd serving.
#   - every start succeeds (no error, no lock failure);
#   - exec2, status and `vzlist CT` into the Nth VE with N running cost what they cost into
#     the first with one running (ratio N/1, goal about 1), and `vzlist -a` is timed;
#   - an idle busybox VE's memory: MemAvailable, kernel (slab, page tables, stacks) and slab
#     per VE;
#   - after teardown, MemAvailable and slab within 1% of before;
#   - a Debian VE with systemd and lighttpd serving: MemAvailable per VE.
set -e
. /tests/lib.sh
N=${N:-1000}
STREAMS=${STREAMS:-4}
DEBIAN=${DEBIAN:-50}
RUNS=${RUNS:-7}
BUSYBOX=busybox-1.35-x86_64
DEBIAN_TEMPLATE=debian-12-x86_64
FIRST=1001

best() { vztest time --runs "$RUNS" -- "$@" | cut -d' ' -f1; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
kernel_kb() { echo $(( $(meminfo Slab) + $(meminfo PageTables) + $(meminfo KernelStack) )); }
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1; }
# settled: settle until slab stops shrinking (dead network namespaces and cgroups are freed
# by workers after their last task), at most a minute.
settled() {
    prev=0; n=0
    while [ $n -lt 20 ]; do
        settle; now=$(meminfo Slab)
        [ "$now" = "$prev" ] && return 0
        prev=$now; n=$((n + 1)); sleep 2
    done
}
once() { vztest time --runs 1 -- "$@" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# each_stream CMD: runs `CMD FIRST_ID LAST_ID` for STREAMS slices of the N VEs at once and
# fails if any slice failed.
each_stream() {
    per=$(( (N + STREAMS - 1) / STREAMS )); s=0; pids=
    while [ $s -lt "$STREAMS" ]; do
        from=$(( FIRST + s * per )); to=$(( from + per - 1 ))
        [ $to -lt $(( FIRST + N - 1 )) ] || to=$(( FIRST + N - 1 ))
        [ $from -gt $to ] || { "$1" $from $to > /tmp/stream.$s 2>&1 & pids="$pids $!"; }
        s=$((s + 1))
    done
    failed=0
    for pid in $pids; do wait "$pid" || failed=1; done
    [ $failed = 0 ] || { cat /tmp/stream.*; fail "a $1 stream failed"; }
}
start_slice() { id=$1; while [ $id -le $2 ]; do vzctl --quiet start $id || return 1; id=$((id + 1)); done; }
stop_slice() { id=$1; while [ $id -le $2 ]; do vzctl --quiet stop --fast $id || return 1; vzctl --quiet destroy $id >/dev/null || return 1; id=$((id + 1)); done; }

fresh_vz
settled
avail0=$(meminfo MemAvailable); slab0=$(meminfo Slab); kern0=$(kernel_kb)
pt0=$(meminfo PageTables); ks0=$(meminfo KernelStack)

t0=$(now_ms)
create_1=$(once vzctl --quiet create $FIRST --ostemplate $BUSYBOX)
id=$((FIRST + 1))
last=$(( FIRST + N - 1 ))
while [ $id -lt $last ]; do
    vzctl --quiet create $id --ostemplate $BUSYBOX >/dev/null || fail "create $id"
    id=$((id + 1))
done
create_n=$(once vzctl --quiet create $last --ostemplate $BUSYBOX)
created_s=$(( ($(now_ms) - t0) / 1000 ))

# The first start of the run does one-time host setup (the cgroup2 remount): not counted.
vzctl --quiet start $FIRST && vzctl --quiet stop --fast $FIRST
start_1=$(once vzctl --quiet start $FIRST)
exec_1=$(best vzctl exec2 $FIRST true)
status_1=$(best vzctl status $FIRST)
list_1=$(best vzlist $FIRST)
vzctl --quiet stop --fast $FIRST

t0=$(now_ms)
each_stream start_slice
started_s=$(( ($(now_ms) - t0) / 1000 ))
running=$(vzlist -H -o ctid | wc -l)
expect_eq "VEs running" "$running" "$N"
ls /vz/lock/*.lck >/dev/null 2>&1 && fail "a lock file was left: $(ls /vz/lock)"

vzctl --quiet stop --fast $last
start_n=$(once vzctl --quiet start $last)
# Where a start's time goes with N running (the profile printed at the end).
vzctl --quiet stop --fast $last
VZ_TRACE=1 vzctl --quiet start $last 2>/tmp/start-trace
exec_n=$(best vzctl exec2 $last true)
exec_first_n=$(best vzctl exec2 $FIRST true)
status_n=$(best vzctl status $last)
list_n=$(best vzlist $last)
list_all=$(best vzlist -a)

sleep 5
settled
avail1=$(meminfo MemAvailable); slab1=$(meminfo Slab); kern1=$(kernel_kb)
pt1=$(meminfo PageTables); ks1=$(meminfo KernelStack)

t0=$(now_ms)
each_stream stop_slice
stopped_s=$(( ($(now_ms) - t0) / 1000 ))
fresh_module
# Destroy keeps each config as CTID.conf.destroyed (OpenVZ's record), in the guest's tmpfs /etc:
# files kept on purpose, not memory a VE left behind.
rm -f /etc/vz/conf/*.conf.destroyed
settled
avail2=$(meminfo MemAvailable); slab2=$(meminfo Slab)

printf 'density: %d busybox VEs, created in %d s, started by %d streams in %d s, stopped and destroyed in %d s\n' \
    "$N" "$created_s" "$STREAMS" "$started_s" "$stopped_s"
printf '%-28s %10s %10s %8s\n' "with N running" "1st, N=1" "Nth, N" "N/1"
printf '%-28s %10s %10s %8s\n' "vzctl create ms" "$(ms "$create_1")" "$(ms "$create_n")" "$(ratio "$create_n" "$create_1")"
printf '%-28s %10s %10s %8s\n' "vzctl start ms" "$(ms "$start_1")" "$(ms "$start_n")" "$(ratio "$start_n" "$start_1")"
printf '%-28s %10s %10s %8s\n' "vzctl exec2 CT true ms" "$(ms "$exec_1")" "$(ms "$exec_n")" "$(ratio "$exec_n" "$exec_1")"
printf '%-28s %10s %10s %8s\n' "  (into the 1st, N running)" "$(ms "$exec_1")" "$(ms "$exec_first_n")" "$(ratio "$exec_first_n" "$exec_1")"
printf '%-28s %10s %10s %8s\n' "vzctl status CT ms" "$(ms "$status_1")" "$(ms "$status_n")" "$(ratio "$status_n" "$status_1")"
printf '%-28s %10s %10s %8s\n' "vzlist CT ms" "$(ms "$list_1")" "$(ms "$list_n")" "$(ratio "$list_n" "$list_1")"
printf '%-28s %10s %10s\n' "vzlist -a ms" - "$(ms "$list_all")"
echo "vzctl start with N running, VZ_TRACE=1:"
sed 's/^/    /' /tmp/start-trace
printf 'per idle busybox VE: MemAvailable %d KiB, kernel %d KiB (slab %d, page tables %d, stacks %d)\n' \
    $(( (avail0 - avail1) / N )) $(( (kern1 - kern0) / N )) $(( (slab1 - slab0) / N )) \
    $(( (pt1 - pt0) / N )) $(( (ks1 - ks0) / N ))
printf 'after teardown: MemAvailable %+.2f%%, slab %+.2f%% (goal: within 1%%)\n' \
    "$(awk -v a="$avail2" -v b="$avail0" 'BEGIN { print (a - b) * 100 / b }')" \
    "$(awk -v a="$slab2" -v b="$slab0" 'BEGIN { print (a - b) * 100 / b }')"

[ "$DEBIAN" -gt 0 ] || exit 0
# Debian VEs: systemd boots, lighttpd serves; memory per VE once all of them serve.
settled
avail0=$(meminfo MemAvailable)
i=1
while [ $i -le "$DEBIAN" ]; do
    id=$((2000 + i))
    vzctl --quiet create $id --ostemplate $DEBIAN_TEMPLATE --ipadd 10.7.$((i / 250)).$((i % 250 + 1)) >/dev/null
    vzctl --quiet start $id
    i=$((i + 1))
done
i=1
while [ $i -le "$DEBIAN" ]; do
    wait_long 600 "lighttpd in VE $((2000 + i))" vzctl exec $((2000 + i)) 'pidof lighttpd'
    i=$((i + 1))
done
sleep 10
settled
avail1=$(meminfo MemAvailable)
printf 'per Debian VE with lighttpd serving (%d running): MemAvailable %d KiB\n' \
    "$DEBIAN" $(( (avail0 - avail1) / DEBIAN ))
