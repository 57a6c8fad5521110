# Network devices given to a VE and taken back.

test_netdev_given_to_ve_and_taken_back() {
    fresh_module
    vztest create 101
    ip link show dummy0 >/dev/null || fail "no dummy0 on the host"
    vztest netdev 101 add dummy0 2>&1 | grep -q "No such process" || fail "VE without init: no ESRCH"
    vztest netdev 101 3 dummy0 2>&1 | grep -q "Invalid argument" || fail "undefined op: no EINVAL"
    vztest enter 101 --init --net -- sleep 1000 >/dev/null 2>&1 &
    wait_for "VE 101 init" ve_has_init 101
    init=$(ve_field 101 4)
    vztest netdev 101 add dummy0
    ip link show dummy0 2>/dev/null && fail "dummy0 still on the host"
    nsenter -t "$init" -n ip link show dummy0 || fail "dummy0 not in the VE"
    vztest netdev 101 add dummy0 2>&1 | grep -q "No such device" || fail "second add: no ENODEV"
    vztest netdev 101 add nosuchdev 2>&1 | grep -q "No such device" || fail "unknown device accepted"
    vztest netdev 101 del dummy0
    ip link show dummy0 >/dev/null || fail "dummy0 not back on the host"
    nsenter -t "$init" -n ip link show dummy0 2>/dev/null && fail "dummy0 still in the VE"
    destroy_all_ves
}
