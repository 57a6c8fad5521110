# User beancounters: per-VE limits the kernel enforces, refusals counted in failcnt, and
# /proc/user_beancounters and /proc/bc/<id>/resources in OpenVZ's layout.

# expect_limit RESOURCE COUNT ERRNO: with the limit at what VE 101 holds plus COUNT, exactly
# COUNT objects succeed inside the VE, the next gets ERRNO, failcnt rises by exactly 1, held
# rises by exactly COUNT (the refusal left it alone), maxheld stays within the limit, and held
# is back where it was after the release and at 0 once the VE has no task.
expect_limit() {
    fresh_module
    vztest create 101
    expect_eq "$1 at limit $2" "$(vztest ubtest 101 "$1" "$2")" \
        "acquired $2 errno $3 failcnt_delta 1 held_delta $2 maxheld_within_limit yes released_delta 0 exit_held 0"
}

test_numproc_is_enforced() { expect_limit numproc 10 EAGAIN; }
test_numfile_is_enforced() { expect_limit numfile 20 ENFILE; }
test_numtcpsock_is_enforced() { expect_limit numtcpsock 8 ENOMEM; }
test_numothersock_is_enforced() { expect_limit numothersock 8 ENOMEM; }
test_numflock_is_enforced() { expect_limit numflock 12 ENOLCK; }
test_numpty_is_enforced() { expect_limit numpty 5 ENOSPC; }
test_numsiginfo_is_enforced() { expect_limit numsiginfo 16 EAGAIN; }
test_privvmpages_is_enforced() { expect_limit privvmpages 64 ENOMEM; }
test_lockedpages_is_enforced() { expect_limit lockedpages 16 ENOMEM; }

test_shmpages_is_enforced() {
    mkdir -p /tmp/vzshm
    mount -t tmpfs vzshm /tmp/vzshm
    expect_limit shmpages 32 ENOSPC
    umount /tmp/vzshm
}

# Other ways to take the same rows: flock() locks, MAP_LOCKED mappings, pages of a SysV shm
# segment (written through /proc/self/mem, which reports the refused page as EIO where a plain
# touch would get SIGBUS), and connections accepted by a listener in the VE (a
# connection the VE cannot hold is never handed to accept()).
test_flock_locks_count_as_numflock() { expect_limit numflock/flock 12 ENOLCK; }
test_map_locked_counts_as_lockedpages() { expect_limit lockedpages/maplocked 16 EAGAIN; }
test_sysv_shm_counts_as_shmpages() { expect_limit shmpages/sysv 24 EIO; }
test_accepted_connections_count_as_numtcpsock() { expect_limit numtcpsock/accept 6 EAGAIN; }

# Socket buffers are bytes the kernel reserves as data queues up, in steps of pages or of
# whole buffers, so "exactly L" becomes: data queues until the barrier refuses it (counted in
# failcnt), held rises but never past the limit, and every byte is given back.
# expect_buffer_limit RESOURCE BARRIER SLACK FAILCNT: FAILCNT is "exactly N" or "at least N".
expect_buffer_limit() {
    fresh_module
    vztest create 101
    report=$(vztest ubtest --slack "$3" 101 "$1" "$2")
    field() { echo "$report" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
    held=$(field held_delta)
    failcnt=$(field failcnt_delta)
    [ "$held" -gt 0 ] && [ "$held" -le $(($2 + $3)) ] || fail "$1: held $held, not in 1..$(($2 + $3)): $report"
    case $4 in
        exactly*) [ "$failcnt" -eq "${4#exactly }" ] ;;
        *) [ "$failcnt" -ge "${4#at least }" ] ;;
    esac || fail "$1: failcnt rose by $failcnt, expected $4: $report"
    expect_eq "$1 within limit, given back" "$(echo "$report" | sed 's/.*maxheld/maxheld/')" \
        "maxheld_within_limit yes released_delta 0 exit_held 0"
}

test_tcpsndbuf_is_enforced() {
    expect_buffer_limit tcpsndbuf 65536 0 "at least 1"
    expect_eq "writer refused" "$(field errno)" EAGAIN
}

test_tcprcvbuf_is_enforced() {
    expect_buffer_limit tcprcvbuf 16384 0 "at least 1"
}

test_othersockbuf_is_enforced() {
    expect_buffer_limit othersockbuf 32768 16384 "exactly 2"
    expect_eq "writer refused, idle socket refused" "$(field errno) $(field idle_socket)" "EAGAIN ENOBUFS"
    [ "$(field acquired)" -le 32768 ] || fail "unix writer queued $(field acquired) bytes past a 32768 barrier"
}

test_dgramrcvbuf_is_enforced() {
    expect_buffer_limit dgramrcvbuf 16384 0 "at least 1"
}

# held of RESOURCE in VE $1.
held_of() { vztest ubget "$1" "$2" | cut -d' ' -f1; }
failcnt_of() { vztest ubget "$1" "$2" | cut -d' ' -f5; }
held_is() { [ "$(held_of "$1" "$2")" = "$3" ]; }

test_every_counter_is_zero_when_the_ve_has_no_task() {
    fresh_module
    vztest create 101
    # Processes, files, sockets of every kind, a pty, memory: then the VE stops.
    vztest enter 101 -- sh -c 'vztest sockets >/dev/null; true <>/dev/ptmx; ls / >/dev/null'
    nonzero=$(vztest ubget 101 all | awk '$2 != 0 { print $1 "=" $2 }')
    expect_eq "held after the VE's last task" "$nonzero" ""
    [ "$(vztest ubget 101 numproc | cut -d' ' -f2)" -ge 2 ] || fail "numproc maxheld not recorded"
    [ "$(vztest ubget 101 privvmpages | cut -d' ' -f2)" -gt 0 ] || fail "privvmpages maxheld not recorded"
}

test_lowering_a_limit_below_held_kills_nothing() {
    fresh_module
    vztest create 101
    vztest enter 101 -- sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null 2>&1 &
    wait_for "three tasks" held_is 101 numproc 3
    vztest ubset 101 numproc 1
    sleep 0.5
    expect_eq "tasks after lowering numproc to 1" "$(held_of 101 numproc)" 3
    expect_eq "barrier and limit" "$(vztest ubget 101 numproc | cut -d' ' -f3,4)" "1 1"
    # A new fork inside is refused and counted.
    vztest enter 101 -- sh -c 'true & wait' >/dev/null 2>&1 || true
    [ "$(failcnt_of 101 numproc)" -ge 1 ] || fail "refused fork not counted"
    vztest ubset 101 numproc unlimited
    destroy_all_ves
}

test_bad_limits_are_refused() {
    fresh_module
    vztest create 101
    vztest ubset 101 4 10 2>&1 | grep -q "Invalid argument" || fail "dummy row: no EINVAL"
    vztest ubset 101 25 10 2>&1 | grep -q "Invalid argument" || fail "resource 25: no EINVAL"
    vztest ubset 101 numfile 10:5 2>&1 | grep -q "Invalid argument" || fail "barrier > limit: no EINVAL"
    vztest ubset 101 numfile 9223372036854775808 2>&1 | grep -q "Invalid argument" ||
        fail "above unlimited: no EINVAL"
    vztest ubset 102 numfile 10 2>&1 | grep -q "No such file" || fail "missing VE: no ENOENT"
    vztest ubset 101 numfile 0:unlimited
    expect_eq "numfile after a valid set" "$(vztest ubget 101 numfile)" "0 0 0 9223372036854775807 0"
}

# The rows OpenVZ prints for a VE with nothing held: `%10s%c %-12s %20lu x5`.
golden_rows() {
    awk -v uid="$1" -v numproc="$2" 'BEGIN {
        split("kmemsize lockedpages privvmpages shmpages dummy numproc physpages vmguarpages oomguarpages numtcpsock numflock numpty numsiginfo tcpsndbuf tcprcvbuf othersockbuf dgramrcvbuf numothersock dcachesize numfile dummy dummy dummy numiptent swappages", names, " ")
        for (i = 1; i <= 25; i++) {
            b = l = (names[i] == "dummy") ? "0" : "9223372036854775807"
            if (names[i] == "numproc" && numproc != "") { b = l = numproc }
            if (uid == "-") {
                if (names[i] == "dummy") continue
                printf "%10s%c %-12s %20d %20d %20s %20s %20d\n", "", " ", names[i], 0, 0, b, l, 0
            } else {
                printf "%10s%c %-12s %20d %20d %20s %20s %20d\n", (i == 1 ? uid : ""), (i == 1 ? ":" : " "), names[i], 0, 0, b, l, 0
            }
        }
    }'
}

test_user_beancounters_golden_format_from_the_host() {
    fresh_module
    vztest create 101
    vztest create 7
    vztest ubset 101 numproc 100
    {
        echo "Version: 2.5"
        printf "%10s  %-12s %20s %20s %20s %20s %20s\n" uid resource held maxheld barrier limit failcnt
        golden_rows 0 ""
        golden_rows 7 ""
        golden_rows 101 100
    } >/tmp/ubc.golden
    cat /proc/user_beancounters >/tmp/ubc.out
    diff /tmp/ubc.golden /tmp/ubc.out || fail "/proc/user_beancounters differs from OpenVZ's layout"
    golden_rows - 100 >/tmp/bc101.golden
    diff /tmp/bc101.golden /proc/bc/101/resources || fail "/proc/bc/101/resources differs"
    golden_rows - "" >/tmp/bc0.golden
    diff /tmp/bc0.golden /proc/bc/0/resources || fail "/proc/bc/0/resources differs"
    expect_eq "/proc/bc/resources" "$(cat /proc/bc/resources)" "$(cat /tmp/ubc.golden)"
    vztest destroy 7
    [ ! -e /proc/bc/7 ] || fail "/proc/bc/7 left after destroy"
}

test_user_beancounters_inside_a_ve_shows_only_its_rows() {
    fresh_module
    vztest create 101
    vztest create 102
    out=$(vztest enter 101 -- cat /proc/user_beancounters)
    expect_eq "lines seen inside" "$(echo "$out" | wc -l)" 27
    expect_eq "header" "$(echo "$out" | head -1)" "Version: 2.5"
    expect_eq "uid rows inside" "$(echo "$out" | awk '$1 ~ /^[0-9]+:$/ { print $1 }')" "101:"
    # The reader itself (and cat) are counted in the VE's numproc.
    held=$(echo "$out" | awk '$1 == "numproc" { print $2 }')
    [ "$held" -ge 1 ] || fail "numproc held inside is '$held'"
    vztest enter 101 -- cat /proc/bc/101/resources >/dev/null || fail "own /proc/bc unreadable"
    if vztest enter 101 -- cat /proc/bc/102/resources >/dev/null 2>&1; then
        fail "VE 101 read VE 102's /proc/bc"
    fi
}

# Inside a VE, /proc/bc lists only the VE's own directory and resources (with only its rows);
# another VE's directory, or the host's, is not found, even right after the host looked it up
# (no dentry is shared). The host sees everything.
test_proc_bc_inside_a_ve_shows_only_its_own_directory() {
    fresh_module
    vztest create 101
    vztest create 102
    expect_eq "/proc/bc on the host" "$(ls /proc/bc | tr '\n' ' ')" "0 101 102 resources "
    cat /proc/bc/102/resources /proc/bc/0/resources >/dev/null
    expect_eq "/proc/bc inside" "$(vztest enter 101 -- ls /proc/bc | tr '\n' ' ')" "101 resources "
    for other in 0 102; do
        out=$(vztest enter 101 -- stat -c %n /proc/bc/$other 2>&1) && fail "VE 101 found /proc/bc/$other"
        case "$out" in *"No such file"*) ;; *) fail "lookup of /proc/bc/$other inside: $out" ;; esac
        vztest enter 101 -- cat /proc/bc/$other/resources 2>&1 | grep -q "No such file" ||
            fail "VE 101 opened /proc/bc/$other/resources"
    done
    vztest enter 101 -- cat /proc/bc/101/resources | grep -q " numproc " || fail "own resources unreadable"
    out=$(vztest enter 101 -- cat /proc/bc/resources)
    expect_eq "uid rows of /proc/bc/resources inside" \
        "$(echo "$out" | awk '$1 ~ /^[0-9]+:$/ { print $1 }')" "101:"
    # The VE's own /proc (vzctl's init mounts one in the VE's pid namespace) is filtered too.
    mkdir -p /tmp/veproc
    expect_eq "/proc/bc in the VE's own /proc" \
        "$(vztest enter 101 --init -- sh -c 'mount -t proc proc /tmp/veproc && ls /tmp/veproc/bc' | tr '\n' ' ')" \
        "101 resources "
    umount /tmp/veproc 2>/dev/null || true
    expect_eq "/proc/bc on the host afterwards" "$(ls /proc/bc | tr '\n' ' ')" "0 101 102 resources "
    [ -r /proc/bc/102/resources ] || fail "the host lost /proc/bc/102"
}

bomb_filled_the_ve() {
    [ "$(vztest ubget 101 numproc | cut -d' ' -f2)" = 100 ] && [ "$(failcnt_of 101 numproc)" -gt 0 ]
}

test_fork_bomb_stays_at_numproc_while_the_host_works() {
    fresh_module
    vztest create 101
    vztest ubset 101 numproc 100
    # Every bomb process forks two more and then waits (a builtin: no fork), so the bomb
    # fills the VE up to its limit and stays there.
    vztest enter 101 -- sh -c 'bomb() { bomb & bomb & wait; }; bomb' >/dev/null 2>&1 &
    # Full once it has held 100 tasks and been refused one more. (Not "held is 100 now": the
    # bomb's tasks keep ending and being replaced, and on the debug kernel a poll took minutes
    # to land on a moment when all 100 were there.)
    tries=0
    until bomb_filled_the_ve; do
        tries=$((tries + 1))
        [ $tries -lt 1200 ] || fail "the bomb did not reach 100 tasks in 120 s: $(vztest ubget 101 numproc)"
        sleep 0.1
    done
    # The host keeps working while the bomb keeps trying.
    for i in 1 2 3 4 5; do
        ls / >/dev/null || fail "host ls failed during the fork bomb"
        [ "$(held_of 101 numproc)" -le 100 ] || fail "numproc passed 100"
    done
    [ "$(vztest ubget 101 numproc | cut -d' ' -f2)" -le 100 ] || fail "maxheld passed 100"
    [ "$(failcnt_of 101 numproc)" -gt 0 ] || fail "no refusal counted"
    # What an admin does: a limit of 0 refuses every new fork (and kills nothing), so the
    # bomb cannot refill the VE while its tasks are killed.
    vztest ubset 101 numproc 0
    tries=0
    while [ "$(held_of 101 numproc)" != 0 ]; do
        # One grep over every status file: a hundred awk runs would take seconds.
        for pid in $(grep -l '^envID:[[:space:]]*101$' /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3); do
            kill -9 "$pid" 2>/dev/null || true
        done
        tries=$((tries + 1))
        [ $tries -lt 200 ] || fail "could not stop the fork bomb"
        sleep 0.05
    done
    wait 2>/dev/null || true
    no_kernel_faults
}

# Two workers charge and release processes, files, sockets, ptys and memory at once; every
# counter must come back to 0. CHURN_SECONDS is 60 in the suite, 600 under `make soak`.
test_concurrent_churn_leaves_no_drift() {
    fresh_module
    vztest create 101
    seconds=${CHURN_SECONDS:-60}
    end=$(( $(date +%s) + seconds ))
    worker='while [ "$(date +%s)" -lt '"$end"' ]; do vztest sockets >/dev/null; true <>/dev/ptmx; (ls /dev >/dev/null) ; done'
    vztest enter 101 -- sh -c "$worker" &
    first=$!
    vztest enter 101 -- sh -c "$worker" &
    second=$!
    wait $first || fail "first worker failed"
    wait $second || fail "second worker failed"
    # Closed TCP sockets finish their teardown in the kernel after the workers exit.
    all_zero() { [ -z "$(vztest ubget 101 all | awk '$2 != 0')" ]; }
    for _ in $(seq 50); do all_zero && break; sleep 0.1; done
    nonzero=$(vztest ubget 101 all | awk '$2 != 0 { print $1 "=" $2 }')
    expect_eq "held after $seconds s of churn" "$nonzero" ""
    nofail=$(vztest ubget 101 all | awk '$6 != 0 { print $1 "=" $6 }')
    expect_eq "failcnt with no limits" "$nofail" ""
}

# physpages is enforced by the memory cgroup of the VE's init: a hog past it is OOM-killed
# inside that cgroup; the host and another VE are untouched.
test_memory_hog_is_stopped_inside_its_ve() {
    fresh_module
    cg=/tmp/vzcg
    mkdir -p $cg
    grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg
    echo +memory >$cg/cgroup.subtree_control
    mkdir -p $cg/vz101 $cg/vz102
    vztest create 101
    vztest create 102
    sh -c "echo \$\$ >$cg/vz102/cgroup.procs; exec vztest enter 102 -- sleep 1000" >/dev/null 2>&1 &
    other=$!
    sh -c "echo \$\$ >$cg/vz101/cgroup.procs; exec vztest enter 101 --init -- sleep 1000" >/dev/null 2>&1 &
    wait_for "VE 101 init" ve_has_init 101
    vztest ubset 101 physpages 0:4096
    expect_eq "memory.max of VE 101" "$(cat $cg/vz101/memory.max)" 16777216
    expect_eq "physpages limit" "$(vztest ubget 101 physpages | cut -d' ' -f4)" 4096
    out=$(sh -c "echo \$\$ >$cg/vz101/cgroup.procs; exec vztest enter 101 -- vztest hog 64" 2>&1) && status=0 || status=$?
    expect_eq "hog's exit status (SIGKILL)" "$status" 137
    case "$out" in *survived*) fail "the hog survived" ;; esac
    dmesg | grep -q "Memory cgroup out of memory" || fail "no memory cgroup OOM reported"
    # The OOM report's stack dump is expected here; later fault checks must not see it.
    dmesg -c >/dev/null
    [ "$(failcnt_of 101 physpages)" -gt 0 ] || fail "physpages failcnt not counted"
    [ "$(held_of 101 physpages)" -le 4096 ] || fail "physpages held above the limit"
    [ "$(held_of 101 kmemsize)" -gt 0 ] || fail "kmemsize of the VE's cgroup not reported"
    kill -0 $other || fail "VE 102's task was killed"
    ls / >/dev/null || fail "host cannot run commands"
    expect_eq "VE 102 still works" "$(vztest enter 102 -- echo alive)" alive
    destroy_all_ves
    rmdir $cg/vz101 $cg/vz102
}
