# Checkpoint and restore (issue 14): vzctl chkpnt/restore (suspend/resume) on CRIU, the
# module's state carried in vz-ve.json, OpenVZ's stage options, messages and exit codes, and
# what a failure leaves: a failed dump leaves the VE running, a failed restore leaves the
# dump as it was and nothing of the VE in the kernel, the cgroup tree, the mounts or links.
# case-timeout: 420

TEMPLATE=busybox-1.35-x86_64
DUMP=/vz/dump/Dump.101

# VE 101 created with an address (so it has a venet link and a host route), running the
# counter and the echo server (lib.sh's counter_and_echo).
running_ve() {
    fresh_vz
    host_address
    rm -rf /vz/dump/*
    vzctl --quiet create 101 --ostemplate $TEMPLATE --ipadd 10.1.4.101 >/dev/null
    vzctl --quiet start 101
    counter_and_echo 101
}

counter() { vzctl exec 101 tail -n 1 /tmp/counter; }
# The counter's last value as the private area holds it (also while the VE is down).
counter_on_disk() { tail -n 1 /vz/private/101/tmp/counter; }
# Whether the counter went past N.
counter_above() { [ "$(counter_on_disk)" -gt "$1" ]; }

# The VE's processes as pid and command, in pid order (ps inside the VE, its own pids), less
# the ps itself.
ve_processes() { vzctl exec 101 ps -o pid,args | grep -v -e ' ps ' -e 'PID'; }

# Nothing of VE 101 is left: not in the module, no cgroup, no link, no route, not mounted,
# no restore staging mount.
nothing_left() {
    vztest list | grep -qx 101 && fail "VE 101 is still in the kernel"
    [ ! -d /sys/fs/cgroup/vz/101 ] || fail "cgroup vz/101 left"
    ip link show venet101 >/dev/null 2>&1 && fail "link venet101 left"
    ip route | grep -q 10.1.4.101 && fail "route to 10.1.4.101 left"
    grep -q " /vz/root/101 " /proc/self/mountinfo && fail "/vz/root/101 still mounted"
    grep -q " /run/vz/restore" /proc/self/mountinfo && fail "a restore staging mount left"
    return 0
}

test_criu_check_looks_good() {
    criu check | tee /tmp/check
    grep -qx "Looks good." /tmp/check || fail "criu check did not say 'Looks good.'"
    criu check --extra || true
    for feature in mem_dirty_track network_lock_nftables timens; do
        criu check --feature $feature | grep -q "$feature is supported" ||
            fail "criu feature $feature is missing"
    done
}

# chkpnt suspends, dumps and stops: OpenVZ's messages, the dump in DUMPDIR/Dump.CTID,
# `suspended` in status and vzlist -S, nothing of the VE left. restore brings the same
# processes back with the same pids, and the counter goes on from where it was.
test_a_checkpointed_ve_comes_back_with_its_processes() {
    running_ve
    before=$(ve_processes)
    vzctl chkpnt 101 | tee /tmp/out
    for line in "Setting up checkpoint..." "	suspend..." "	dump..." "	kill..." \
        "Checkpointing completed successfully"; do
        grep -qxF "$line" /tmp/out || fail "no '$line' in chkpnt's output"
    done
    last=$(counter_on_disk)
    [ -f $DUMP/vz-ve.json ] && [ -f $DUMP/pstree.img ] || fail "no dump in $DUMP"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist unmounted down suspended"
    vzlist -S -H -o ctid,status | grep -q "101 *suspended" || fail "vzlist -S: $(vzlist -S -H -o ctid,status)"
    nothing_left
    sleep 1
    expect_eq "counter while suspended" "$(counter_on_disk)" "$last"
    vzctl restore 101 | tee /tmp/out
    for line in "Restoring container ..." "	undump..." "	resume..." \
        "Restoring completed successfully"; do
        grep -qxF "$line" /tmp/out || fail "no '$line' in restore's output"
    done
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
    [ ! -e $DUMP ] || fail "the restored dump is still there"
    first=$(counter)
    [ "$first" -ge "$last" ] || fail "the counter restarted: $first after $last"
    wait_for "the counter to rise" counter_above $first
    after=$(ve_processes)
    echo "before: $before"; echo "after: $after"
    expect_eq "the VE's processes and pids" "$after" "$before"
    vzlist -H -o ctid,status 101 | grep -q "101 *running" || fail "vzlist: not running"
}

# A TCP connection from the host to a server in the VE goes on after the restore: the same
# client process sends and receives over the same connection (the server accepts only one).
test_an_established_tcp_connection_survives() {
    running_ve
    rm -f /tmp/tcp.in /tmp/tcp.out
    mkfifo /tmp/tcp.in
    nc 10.1.4.101 5000 </tmp/tcp.in >/tmp/tcp.out &
    client=$!
    exec 3>/tmp/tcp.in
    echo before >&3
    wait_for "the echo before" grep -q before /tmp/tcp.out
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    echo after >&3
    wait_for "the echo after the restore" grep -q after /tmp/tcp.out
    kill -0 $client || fail "the client ended"
    exec 3>&-
    kill $client 2>/dev/null || true
}

# VE 101's rows of /proc/user_beancounters that CRIU recreates object for object, as
# `name held maxheld barrier limit failcnt`.
ve_counters() {
    awk '$1 == "101:" { on = 1; $1 = "" } on && $1 ~ /^[a-z]/ { print } $1 ~ /^[0-9]+:$/ && $1 != "101:" { on = 0 }' \
        /proc/user_beancounters | awk '{ $1 = $1; print }' |
        grep -E '^(numproc|numtcpsock|numothersock|numflock|numpty|numsiginfo|numfile) '
}

# The VE's beancounters come back: limits, maxheld and failcnt as saved, held as before.
test_beancounters_survive() {
    running_ve
    vzctl set 101 --numproc 24:24 --numfile 900:900 >/dev/null
    # Hit numproc's limit: failcnt rises, maxheld reaches the limit.
    vzctl exec 101 'for i in $(seq 30); do sleep 1000 & done; true' >/dev/null 2>&1 || true
    vzctl exec 101 'killall sleep' >/dev/null 2>&1 || true
    wait_for "the sleeps to end" sh -c "! vzctl exec 101 pidof sleep 1000"
    # Their SIGCHLDs, queued to the VE's init a moment (numsiginfo), handled.
    no_signal_queued() { [ "$(ve_counters | awk '$1 == "numsiginfo" { print $2 }')" = 0 ]; }
    wait_for "the VE's queued signals" no_signal_queued
    before=$(ve_counters)
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    after=$(ve_counters)
    echo "before:"; echo "$before"; echo "after:"; echo "$after"
    failcnt=$(echo "$before" | awk '$1 == "numproc" { print $6 }')
    [ "${failcnt:-0}" -gt 0 ] || fail "numproc never hit its limit: $before"
    expect_eq "beancounters after the restore" "$(echo "$after" | grep -v numfile)" \
        "$(echo "$before" | grep -v numfile)"
    # numfile: every column as saved but held, which is one more per process at most (CRIU
    # gives each restored process its executable as a file of its own, where exec shared one
    # with the code's mapping).
    expect_eq "numfile but held" "$(echo "$after" | awk '$1 == "numfile" { print $3, $4, $5, $6 }')" \
        "$(echo "$before" | awk '$1 == "numfile" { print $3, $4, $5, $6 }')"
    files() { echo "$1" | awk '$1 == "numfile" { print $2 }'; }
    tasks=$(echo "$before" | awk '$1 == "numproc" { print $2 }')
    [ "$(files "$after")" -le $(( $(files "$before") + tasks )) ] ||
        fail "numfile held $(files "$after") after, $(files "$before") before, $tasks tasks"
}

# vzctl exec and enter land in the restored VE's namespaces, the time namespace included.
test_exec_and_enter_join_the_restored_ve() {
    running_ve
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    init=$(ve_field 101 4)
    for ns in time user mnt pid net ipc uts cgroup; do
        want=$(stat -L -c %i /proc/$init/ns/$ns)
        got=$(vzctl exec 101 stat -L -c %i /proc/self/ns/$ns)
        expect_eq "$ns namespace of vzctl exec" "$got" "$want"
    done
    expect_eq "enter" "$(vzctl enter 101 --exec hostname </dev/null | tr -d '\r')" "$(vzctl exec 101 hostname)"
    vzctl exec 101 'echo hello > /tmp/new' && [ -f /vz/root/101/tmp/new ] || fail "exec cannot write"
}

# One of each: memory, a deleted-but-open file, a pipe and a FIFO with data in them, a unix
# socket with a queued message, SysV shm and a semaphore, a timer and a file lock.
test_files_pipes_sockets_ipc_timers_and_locks_survive() {
    running_ve
    install_vztest 101
    vzctl exec 101 'mkdir -p /tmp/keep && vztest keep /tmp/keep </dev/null >/dev/null 2>&1 &'
    wait_for "the keeper" test -s /vz/root/101/tmp/keep/ready
    keeper=$(cat /vz/root/101/tmp/keep/ready)
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    vzctl exec 101 kill -USR1 $keeper
    wait_for "the keeper's verdict" test -s /vz/root/101/tmp/keep/verdict
    expect_eq "after the restore" "$(cat /vz/root/101/tmp/keep/verdict)" kept
}

# The VE's address and routes inside, its host route, its cgroup limits, its disk quota and
# its device rules are back.
test_addresses_limits_quota_and_devices_survive() {
    running_ve
    # Set live, not saved: the dump carries them (the quota's limits are the filesystem's).
    vzctl set 101 --ram 200M --cpus 1 --diskspace 500M:600M --devices c:10:200:rw >/dev/null
    snapshot() {
        vzctl exec 101 'ip -4 addr show venet0 | grep inet; ip route'
        ip route | grep 10.1.4.101
        cat /sys/fs/cgroup/vz/101/memory.max /sys/fs/cgroup/vz/101/cpuset.cpus
        grep -A2 '^101:' /proc/vz/vzquota | grep 1k-blocks | awk '{ print $3, $4 }'
        vztest getdev 101
    }
    before=$(snapshot)
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    after=$(snapshot)
    echo "$after"
    expect_eq "after the restore" "$after" "$before"
    ping -c 1 -W 5 10.1.4.101 >/dev/null || fail "the VE does not answer at its address"
}

# vzctl destroy removes a VE's checkpoints: a new VE with its id starts afresh.
test_destroy_removes_the_dump() {
    running_ve
    vzctl --quiet chkpnt 101
    vzctl --quiet destroy 101
    [ ! -e $DUMP ] || fail "$DUMP left by destroy"
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    vzctl start 101 | grep -q "Dump file" && fail "the new VE 101 restored the old one's dump"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
}

# vzctl start of a VE with a dump restores it (OpenVZ's "Dump file ... exists").
test_start_restores_from_the_dump() {
    running_ve
    vzctl --quiet chkpnt 101
    last=$(counter_on_disk)
    vzctl start 101 | tee /tmp/out
    grep -q "Dump file $DUMP exists, trying to restore from it" /tmp/out || fail "start did not restore"
    [ "$(counter)" -ge "$last" ] || fail "the counter restarted"
    [ ! -e $DUMP ] || fail "the dump is still there"
}

# An open vzctl exec session: its command hangs off a host task, outside the init's tree,
# which CRIU cannot dump. The checkpoint is refused with the reason, and the VE runs on.
test_an_open_exec_session_refuses_the_checkpoint() {
    running_ve
    vzctl exec2 101 sleep 600 </dev/null >/dev/null 2>&1 &
    session=$!
    wait_for "the session" vzctl exec 101 pidof sleep 600
    set +e; vzctl chkpnt 101 >/tmp/out 2>/tmp/err; rc=$?; set -e
    cat /tmp/err
    kill $session 2>/dev/null || true
    expect_eq "chkpnt with a session open" $rc 16
    grep -q "open vzctl exec or enter session" /tmp/err || fail "no reason given"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
    grep -qx "frozen 0" /sys/fs/cgroup/vz/101/cgroup.events || fail "left frozen"
}

# The stage options vzmigrate uses, one at a time, and OpenVZ's exit codes.
test_stage_options_and_exit_codes() {
    running_ve
    expect_status 20 vzctl chkpnt 101 --suspend --dump
    expect_status 20 vzctl restore 101 --undump --resume
    expect_status 32 vzctl restore 101
    vzctl chkpnt 101 --suspend
    frozen=$(counter_on_disk)
    sleep 2
    expect_eq "counter while frozen" "$(counter_on_disk)" "$frozen"
    grep -qx "frozen 1" /sys/fs/cgroup/vz/101/cgroup.events || fail "not frozen"
    # What the host sends it goes to no one (a neighbour entry no interface answers to): its
    # frozen kernel drops it unanswered, the senders retry.
    ip neigh show 10.1.4.101 dev venet101 | grep -q "lladdr 00:00:00:00:00:00 .*PERMANENT" ||
        fail "a frozen VE is still reached: $(ip neigh show dev venet101)"
    got=$(echo hello | timeout 3 nc 10.1.4.101 5000 || true)
    [ -z "$got" ] || fail "the frozen VE's echo server answered: $got"
    vzctl chkpnt 101 --dump
    [ -f $DUMP/pstree.img ] || fail "no dump"
    grep -qx "frozen 1" /sys/fs/cgroup/vz/101/cgroup.events || fail "thawed by --dump"
    vzctl chkpnt 101 --resume
    wait_for "the counter to rise" counter_above $frozen
    ip route | grep -q "^10.1.4.101 dev venet101" || fail "no host route after --resume"
    ip neigh show 10.1.4.101 dev venet101 | grep -q PERMANENT && fail "the diversion stayed after --resume"
    vzctl chkpnt 101 --suspend
    vzctl chkpnt 101 --kill
    nothing_left
    expect_status 31 vzctl chkpnt 101
    vzctl restore 101 --undump
    grep -qx "frozen 1" /sys/fs/cgroup/vz/101/cgroup.events || fail "--undump did not leave it frozen"
    vzctl restore 101 --kill
    nothing_left
    [ -f $DUMP/pstree.img ] || fail "restore --kill removed the dump"
    vzctl restore 101 --undump
    vzctl restore 101 --resume
    wait_for "the counter to rise" counter_above $frozen
    [ ! -e $DUMP ] || fail "the dump is still there after --resume"
}

# A missing, truncated or corrupted dump, or another VE's, is refused with 17; the dump stays
# and nothing of the VE is left.
test_bad_dumps_are_refused_and_leave_nothing() {
    running_ve
    vzctl --quiet chkpnt 101
    cp -a $DUMP /vz/dump/good
    set +e; vzctl restore 101 --dumpfile /vz/dump/none >/tmp/out 2>/tmp/err; rc=$?; set -e
    expect_eq "restore from a missing dump" $rc 17
    grep -q "no dump at /vz/dump/none" /tmp/err || fail "no reason given: $(cat /tmp/err)"
    nothing_left
    # Another VE's dump.
    sed 's/"veid": 101/"veid": 102/' /vz/dump/good/vz-ve.json > $DUMP/vz-ve.json
    set +e; vzctl restore 101 >/tmp/out 2>/tmp/err; rc=$?; set -e
    cat /tmp/err
    expect_eq "another VE's dump" $rc 17
    grep -q "is a dump of CT 102, not of CT 101" /tmp/err || fail "no reason given"
    nothing_left
    cp /vz/dump/good/vz-ve.json $DUMP/
    # Truncated and corrupted CRIU images.
    for img in pstree.img core-1.img; do
        rm -rf $DUMP && cp -a /vz/dump/good $DUMP
        : > $DUMP/$img
        set +e; vzctl restore 101 >/tmp/out 2>/tmp/err; rc=$?; set -e
        cat /tmp/err
        expect_eq "restore with an empty $img" $rc 17
        grep -q "restore.log" /tmp/err || fail "CRIU's log is not named"
        nothing_left
        [ -d $DUMP ] || fail "the dump is gone after a failed restore"
    done
    rm -rf $DUMP && cp -a /vz/dump/good $DUMP
    head -c 100 /vz/dump/good/pages-1.img > $DUMP/pages-1.img
    expect_status 17 vzctl restore 101
    nothing_left
    # The good dump still restores.
    rm -rf $DUMP && mv /vz/dump/good $DUMP
    vzctl --quiet restore 101
    counter >/dev/null
}

# CRIU killed in the middle of a dump, and a full disk under the dump: the VE runs on, thawed,
# with its route; the reason and CRIU's log are named; a good older dump is not replaced.
test_a_failed_dump_leaves_the_ve_running() {
    running_ve
    vzctl chkpnt 101 --suspend
    vzctl chkpnt 101 --dump
    vzctl chkpnt 101 --resume
    mkdir -p /tmp/full
    mount -t tmpfs -o size=64k tmpfs /tmp/full
    set +e; vzctl chkpnt 101 --dumpfile /tmp/full/Dump >/tmp/out 2>/tmp/err; rc=$?; set -e
    umount /tmp/full
    cat /tmp/err
    expect_eq "chkpnt onto a full disk" $rc 16
    grep -q "dump.log" /tmp/err || fail "CRIU's log is not named"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
    first=$(counter)
    wait_for "the counter to rise" counter_above $first
    # CRIU killed while it dumps.
    (while ! killall -9 criu 2>/dev/null; do sleep 0.01; done) &
    killer=$!
    set +e; vzctl chkpnt 101 >/tmp/out 2>/tmp/err; rc=$?; set -e
    kill $killer 2>/dev/null || true
    cat /tmp/err
    expect_eq "chkpnt with CRIU killed" $rc 16
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
    first=$(counter)
    wait_for "the counter to rise" counter_above $first
    ip route | grep -q 10.1.4.101 || fail "no host route after the failed dump"
    [ -f $DUMP/pstree.img ] || fail "the older good dump was replaced"
    grep -q "saved in $DUMP.fail" /tmp/err || fail "the kept dump is not named"
    [ -f $DUMP.fail/vz-ve.json ] || fail "nothing kept in $DUMP.fail"
}

# The dump directory removed while a restore reads it: the restore either completes, or
# fails with 17 leaving nothing of the VE.
test_a_dump_removed_during_restore_leaves_nothing_half_made() {
    running_ve
    vzctl --quiet chkpnt 101
    (while ! pidof criu >/dev/null; do sleep 0.01; done; rm -rf $DUMP) &
    remover=$!
    set +e; vzctl restore 101 >/tmp/out 2>/tmp/err; rc=$?; set -e
    # CRIU may have come and gone between two looks.
    kill $remover 2>/dev/null || true
    cat /tmp/err
    case $rc in
        0) counter >/dev/null ;;
        17) nothing_left ;;
        *) fail "restore exited $rc" ;;
    esac
}

# Ten checkpoint/restore cycles leave nothing behind: the beancounters' held values are
# back at their baseline, and no mount, cgroup, link or dump directory is left over.
test_ten_cycles_leak_nothing() {
    running_ve
    held() { ve_counters | awk '{ print $1, $2 }'; }
    mounts=$(wc -l < /proc/self/mountinfo)
    # The baseline is taken after a first round: numfile grows once (see above).
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    baseline=$(held)
    for round in 2 3 4 5 6 7 8 9 10; do
        vzctl --quiet chkpnt 101
        vzctl --quiet restore 101
        expect_eq "held after round $round" "$(held)" "$baseline"
        expect_eq "host mounts after round $round" "$(wc -l < /proc/self/mountinfo)" "$mounts"
    done
    expect_eq "cgroups" "$(ls -d /sys/fs/cgroup/vz/*/ | tr '\n' ' ')" "/sys/fs/cgroup/vz/101/ "
    expect_eq "links" "$(ip -o link show | grep -c venet101)" 1
    expect_eq "dumps" "$(ls /vz/dump)" ""
    [ ! -e /run/vz/restore/101 ] || fail "restore staging left"
    counter >/dev/null
    no_kernel_faults
}

# install_vztest CTID: vztest and the shared libraries it maps, at the same paths in the
# VE's private area (the template has no glibc; vzattack, built alike, lists them).
install_vztest() {
    private=/vz/private/$1
    mkdir -p "$private/usr/local/bin"
    cp /usr/local/bin/vztest "$private/usr/local/bin/vztest"
    for lib in $(vzattack libs) /lib64/ld-linux-x86-64.so.2; do
        [ -e "$lib" ] && [ ! -e "$private$lib" ] || continue
        mkdir -p "$private${lib%/*}"
        cp -L "$lib" "$private$lib"
    done
}
