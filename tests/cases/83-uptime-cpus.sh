# A VE's own uptime and CPUs (issue 13): its init starts in a time namespace whose boot time
# begins at 0 (so /proc/uptime, /proc/stat's btime and ps's start times count from the VE's
# start), every way in joins that namespace, and --cpus N is the VE cgroup's cpuset.cpus: the
# CPUs its tasks may run on, which nproc counts. The guest has 2 CPUs.

TEMPLATE=busybox-1.35-x86_64

# A VE 101 created from the template, stopped.
created() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
}

# centiseconds TEXT: the first field of a /proc/uptime line (two decimals) in centiseconds.
centiseconds() { echo "$1" | awk '{ split($1, t, "."); print t[1] * 100 + t[2] }'; }

host_uptime() { centiseconds "$(cat /proc/uptime)"; }

# ve_uptime CTID: /proc/uptime inside the VE (vzctl exec), in centiseconds.
ve_uptime() { centiseconds "$(vzctl exec "$1" cat /proc/uptime)"; }

# uptime_after CTID CMD...: runs CMD (a start or restart of VE CTID), then checks that the
# VE's uptime is no more than the time since CMD began (plus a second of rounding and exec).
# Sets $inside and $host: the VE's uptime and the host's, in centiseconds.
uptime_after() {
    ctid=$1; shift
    before=$(host_uptime)
    "$@" >/dev/null
    inside=$(ve_uptime "$ctid")
    host=$(host_uptime)
    echo "'$*' began $((host - before))0 ms ago; VE $ctid's uptime ${inside}0 ms, the host's ${host}0 ms"
    [ "$inside" -le $((host - before + 100)) ] ||
        fail "VE $ctid's uptime ${inside}0 ms is more than the $((host - before))0 ms since '$*'"
}

# The VE's uptime counts from vzctl start, while the host's is the guest's whole life.
test_uptime_inside_counts_from_the_ves_start() {
    created
    uptime_after 101 vzctl start 101
    [ "$host" -gt $((inside + 100)) ] || fail "the host's uptime ${host}0 ms is the VE's"
    # Its own time namespace (the host keeps its own), and /proc/stat's btime moved with it:
    # now - btime is the VE's uptime.
    host_ns=$(stat -L -c %i /proc/self/ns/time)
    ve_ns=$(vzctl exec 101 stat -L -c %i /proc/self/ns/time)
    [ "$ve_ns" != "$host_ns" ] || fail "VE 101 is in the host's time namespace $host_ns"
    set -- $(vzctl exec 101 'echo $(date +%s) $(awk "/^btime/ { print \$2 }" /proc/stat) $(cut -d" " -f1 /proc/uptime)')
    echo "inside: now $1, btime $2, uptime $3"
    since_btime=$(($1 - $2))
    up=$(($(centiseconds "$3") / 100))
    [ $((since_btime - up)) -le 2 ] && [ $((up - since_btime)) -le 2 ] ||
        fail "inside, now - btime is $since_btime s but the uptime $up s"
    vzctl stop --fast 101 >/dev/null
}

# vzctl restart: a new init in a new time namespace, whose uptime starts again from 0.
test_restart_starts_the_uptime_again() {
    created
    vzctl start 101 >/dev/null
    wait_for "VE 101 up for 2 s" sh -c "[ \$(vzctl exec 101 cut -d. -f1 /proc/uptime) -ge 2 ]"
    uptime_after 101 vzctl restart 101
    vzctl stop --fast 101 >/dev/null
}

# exec, exec2, runscript and enter join the VE's time namespace: they see the init's boot time
# and clock. The init's start time (/proc/1/stat, in clock ticks since the VE's boot) is near
# 0: ps's ELAPSED of init (the uptime less that start time; busybox's ps has no such column)
# is the VE's uptime.
test_every_way_in_sees_the_inits_clock() {
    created
    vzctl start 101 >/dev/null
    btime_of() { tr -d '\r' | awk '/^btime/ { print $2 }'; }
    exec_btime=$(vzctl exec 101 cat /proc/stat | btime_of)
    exec2_btime=$(vzctl exec2 101 cat /proc/stat | btime_of)
    printf 'cat /proc/stat\n' >/tmp/stat.sh
    script_btime=$(vzctl runscript 101 /tmp/stat.sh | btime_of)
    enter_btime=$(printf 'cat /proc/stat\n' | vzctl enter 101 2>/dev/null | btime_of)
    host_btime=$(btime_of </proc/stat)
    echo "btime: host $host_btime, exec $exec_btime, exec2 $exec2_btime, runscript $script_btime, enter $enter_btime"
    [ "$exec_btime" -gt "$host_btime" ] || fail "exec sees the host's btime $host_btime"
    # btime is whole seconds of a clock read at each open: a second apart at most.
    for way in exec2:$exec2_btime runscript:$script_btime enter:$enter_btime; do
        apart=$((${way#*:} - exec_btime))
        [ "$apart" -le 1 ] && [ "$apart" -ge -1 ] ||
            fail "${way%%:*} sees btime ${way#*:}, exec $exec_btime"
    done
    set -- $(vzctl exec 101 'echo $(cut -d" " -f1 /proc/uptime) $(cut -d" " -f22 /proc/1/stat)')
    up=$(centiseconds "$1")
    echo "inside: uptime ${up}0 ms, init started at ${2}0 ms (100 ticks a second)"
    [ "$2" -le 200 ] || fail "init's elapsed time $((up - $2))0 ms is not the uptime ${up}0 ms"
    vzctl stop --fast 101 >/dev/null
}

# allowed_cpus PID: the CPUs PID may run on (its effective affinity).
allowed_cpus() { awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$1/status"; }

# --cpus N: N of the host's CPUs from the (CTID mod host CPUs)th, in cpuset.cpus; the VE's
# init runs on them and nproc inside counts them. Unlimited (or as many as the host has) is
# every CPU. vzctl set changes them on the running VE.
test_cpus_are_the_cpus_the_ve_runs_on_and_sees() {
    expect_eq "CPUs of the guest" "$(nproc)" 2
    created
    vzctl set 101 --cpus 1 --save >/dev/null
    vzctl start 101 >/dev/null
    init=$(ve_field 101 4)
    expect_eq "cpuset.cpus of VE 101" "$(cat /sys/fs/cgroup/vz/101/cpuset.cpus)" 1
    expect_eq "CPUs of VE 101's init" "$(allowed_cpus "$init")" 1
    expect_eq "nproc with --cpus 1" "$(vzctl exec 101 nproc)" 1
    vzctl set 101 --cpus unlimited --save >/dev/null
    expect_eq "cpuset.cpus unlimited" "$(cat /sys/fs/cgroup/vz/101/cpuset.cpus)" 0-1
    expect_eq "CPUs of the init, unlimited" "$(allowed_cpus "$init")" 0-1
    expect_eq "nproc unlimited" "$(vzctl exec 101 nproc)" 2
    vzctl set 101 --cpus 1 >/dev/null
    expect_eq "nproc after set --cpus 1" "$(vzctl exec 101 nproc)" 1
    expect_eq "CPUs of the init after set --cpus 1" "$(allowed_cpus "$init")" 1
    vzctl set 101 --cpus 2 >/dev/null
    expect_eq "nproc with as many CPUs as the host" "$(vzctl exec 101 nproc)" 2
    vzctl set 101 --cpus 1 --save >/dev/null
    vzctl restart 101 >/dev/null
    expect_eq "nproc after a restart (--cpus 1 saved)" "$(vzctl exec 101 nproc)" 1
    vzctl stop --fast 101 >/dev/null
    # Another VE with one CPU gets the other one.
    vzctl --quiet create 102 --ostemplate $TEMPLATE >/dev/null
    vzctl set 102 --cpus 1 --save >/dev/null
    vzctl start 102 >/dev/null
    expect_eq "cpuset.cpus of VE 102" "$(cat /sys/fs/cgroup/vz/102/cpuset.cpus)" 0
    expect_eq "CPUs of VE 102's init" "$(allowed_cpus "$(ve_field 102 4)")" 0
    vzctl stop --fast 102 >/dev/null
}
