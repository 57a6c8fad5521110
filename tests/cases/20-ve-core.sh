# The VE core: VE ids on tasks and sockets, /proc lines, the VE ioctls, lifecycle rules.

test_create_info_list_destroy() {
    fresh_module
    before=$(date +%s)
    vztest create 101
    vztest create 2147483644
    set -- $(vztest info 101)
    expect_eq "veid" "$1" 101
    expect_eq "state (stopped)" "$2" 0
    expect_eq "nproc" "$3" 0
    expect_eq "init pid" "$4" 0
    [ "$5" -ge "$before" ] || fail "creation time $5 is before $before"
    expect_eq "list" "$(vztest list | tr '\n' ' ')" "101 2147483644 "
    vztest destroy 101
    vztest destroy 2147483644
    expect_eq "list after destroy" "$(vztest list)" ""
}

test_bad_ids_and_duplicates_are_refused() {
    fresh_module
    vztest create 101
    expect_status 1 vztest create 101
    vztest create 101 2>&1 | grep -q "File exists" || fail "duplicate create: no EEXIST"
    vztest create 0 2>&1 | grep -q "Invalid argument" || fail "VE 0: no EINVAL"
    vztest create 2147483645 2>&1 | grep -q "Invalid argument" || fail "too large id: no EINVAL"
    vztest destroy 555 2>&1 | grep -q "No such file" || fail "destroy of a missing VE: no ENOENT"
    vztest enter 555 -- true 2>&1 | grep -q "No such file" || fail "enter of a missing VE: no ENOENT"
    vztest info 555 2>&1 | grep -q "No such file" || fail "info of a missing VE: no ENOENT"
}

test_host_tasks_are_ve_0() {
    load_module
    expect_eq "envID of this shell" "$(env_id_of $$)" 0
    expect_eq "VPid of this shell" "$(vpid_of $$)" $$
    expect_eq "envID of init" "$(env_id_of 1)" 0
    expect_eq "pidinfo of this shell" "$(vztest pidinfo $$)" "0 $$"
}

test_ve_id_inherited_by_exec_fork_and_threads() {
    fresh_module
    vztest create 101
    # vztest enters, then execs vztest: exec keeps the VE; the probe forks and starts a thread.
    expect_eq "exec, fork, thread" "$(vztest enter 101 -- vztest inherit)" "self=101 fork=101 thread=101 spawn=101"
    # Fork and exec through two shells.
    expect_eq "nested shells" \
        "$(vztest enter 101 -- sh -c 'sh -c "grep envID /proc/self/status"' | awk '{ print $2 }')" 101
    # The host is untouched.
    expect_eq "host after" "$(vztest inherit)" "self=0 fork=0 thread=0 spawn=0"
}

test_tasks_are_counted_and_reaped() {
    fresh_module
    vztest create 101
    vztest enter 101 -- sleep 1000 >/dev/null 2>&1 &
    pid=$!
    wait_for "the task to enter" sh -c "[ \"\$(vztest info 101 | cut -d' ' -f3)\" = 1 ]"
    expect_eq "state running" "$(ve_field 101 2)" 1
    kill $pid; wait $pid || true
    expect_eq "nproc after reaping" "$(ve_field 101 3)" 0
    expect_eq "state stopped" "$(ve_field 101 2)" 0
}

test_inside_a_ve_even_root_cannot_change_ve() {
    fresh_module
    vztest create 101
    vztest create 102
    # The fd was opened on the host; the calls are made after entering VE 101.
    expect_eq "enter another VE" "$(vztest ioctl enter:102 --enter 101)" EPERM
    expect_eq "enter VE 0 or any command" "$(vztest ioctl version --enter 101)" EPERM
    expect_eq "unknown command" "$(vztest ioctl 0x2e7f --enter 101)" EPERM
    # Inside, the control device cannot even be opened (it is not among the VE's devices):
    # vzctl --version prints the tools' version only, and why.
    expect_eq "vzctl --version inside" "$(status_of vztest enter 101 -- vzctl --version)" 0
    grep -q "/dev/vzctl: permission denied" /tmp/err || fail "the device opened inside: $(cat /tmp/out /tmp/err)"
    ! grep -q "module ABI" /tmp/out || fail "the module answered inside: $(cat /tmp/out)"
    expect_eq "still in 101" "$(vztest enter 101 -- sh -c 'vztest create 103 2>/dev/null; grep envID /proc/self/status' | awk '{ print $2 }')" 101
    expect_eq "103 was not created" "$(vztest list | tr '\n' ' ')" "101 102 "
}

test_sockets_carry_creator_ve() {
    fresh_module
    vztest create 101
    expect_eq "host sockets" "$(vztest sockets)" "tcp=0 accepted=0 udp=0 unix=0"
    expect_eq "VE sockets" "$(vztest enter 101 -- vztest sockets)" "tcp=101 accepted=101 udp=101 unix=101"
}

test_proc_status_and_pidinfo_of_ve_tasks() {
    fresh_module
    vztest create 101
    start_ve_with_init 101
    expect_eq "init envID" "$(env_id_of "$init")" 101
    expect_eq "init VPid" "$(vpid_of "$init")" 1
    expect_eq "init pidinfo" "$(vztest pidinfo "$init")" "101 1"
    checked=0
    for pid in $(ve_pids 101); do
        nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status")
        expect_eq "VPid of $pid" "$(vpid_of "$pid")" "$nspid"
        expect_eq "pidinfo of $pid" "$(vztest pidinfo "$pid")" "101 $nspid"
        checked=$((checked + 1))
    done
    expect_eq "VE tasks seen in /proc" "$checked" 3
    vztest pidinfo 999999 2>&1 | grep -q "No such process" || fail "missing pid: no ESRCH"
    destroy_all_ves
}

test_veinfo_lists_running_ves() {
    fresh_module
    vztest create 101
    vztest create 102
    start_ve_with_init 101
    cat /proc/vz/veinfo
    # The host's line first (its tasks, as OpenVZ listed VE 0), then each running VE's.
    head -1 /proc/vz/veinfo | grep -Eq '^ {9}0 {5}0 +[0-9]+$' || fail "host line: $(head -1 /proc/vz/veinfo)"
    expect_eq "host view" "$(sed 1d /proc/vz/veinfo)" "       101     0     3"
    expect_eq "VE view" "$(vztest enter 101 -- cat /proc/vz/veinfo)" "       101     0     4"
    expect_eq "VE 102 view (stopped VEs are not listed)" "$(vztest enter 102 -- cat /proc/vz/veinfo)" "       102     0     1"
    destroy_all_ves
    expect_eq "after stop" "$(sed 1d /proc/vz/veinfo)" ""
}

test_destroy_refused_while_tasks_live() {
    fresh_module
    vztest create 101
    start_ve_with_init 101
    vztest destroy 101 2>&1 | grep -q "busy" || fail "destroy of a running VE: no EBUSY"
    expect_eq "still listed" "$(vztest list)" 101
    # Killing the init makes the kernel kill the rest, so some pids may be gone already.
    kill -9 $(ve_pids 101) 2>/dev/null || true
    wait_for "VE 101 to stop" sh -c "[ \"\$(vztest info 101 | cut -d' ' -f3)\" = 0 ]"
    expect_eq "init forgotten" "$(ve_field 101 4)" 0
    vztest destroy 101
    expect_eq "gone" "$(vztest list)" ""
}

test_unload_refused_while_a_ve_exists() {
    fresh_module
    vztest create 101
    expect_status 1 rmmod vz
    module_loaded || fail "module unloaded with a VE"
    vztest destroy 101
    rmmod vz
}
