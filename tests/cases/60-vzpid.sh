# vzpid: host pid to VE, in OpenVZ's tab-separated format, from the kernel's /proc lines.

tab=$(printf '\t')

test_vzpid_host_and_ve_tasks() {
    fresh_module
    vztest create 101
    start_ve_with_init 101
    expect_eq "host task" "$(vzpid $$)" "Pid${tab}CTID${tab}Name
$$${tab}0${tab}sh"
    expect_eq "VE init with -p" "$(vzpid -p "$init")" "Pid${tab}CT/Pid${tab}CTID${tab}Name
$init${tab}1${tab}101${tab}sh"
    expect_eq "pids from stdin, a missing one skipped" \
        "$(echo "$init 999999 $$" | vzpid - | cut -f1,2 | tr '\n' ' ')" \
        "Pid${tab}CTID $init${tab}101 $$${tab}0 "
    # vzpid reads /proc; the module answers the same question by ioctl: they agree.
    for pid in $(ve_pids 101); do
        expect_eq "vzpid vs module for $pid" "$(vzpid -p "$pid" | sed -n 2p | cut -f2,3)" \
            "$(vztest pidinfo "$pid" | awk '{ print $2 "\t" $1 }')"
    done
    destroy_all_ves
}

test_vzpid_bad_input() {
    expect_status 1 vzpid abc
    expect_status 1 vzpid
    vzpid abc 2>&1 | grep -q "invalid pid 'abc'" || fail "no message naming the bad pid"
}
