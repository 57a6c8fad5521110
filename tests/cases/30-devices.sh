# Device access control: a VE reaches only the devices granted to it, at open and mknod.

test_default_devices_usable_in_ve() {
    fresh_module
    vztest create 101
    vztest enter 101 -- sh -c '
        : < /dev/null && echo x > /dev/null &&
        head -c 4 /dev/zero >/dev/null && head -c 4 /dev/urandom >/dev/null &&
        head -c 4 /dev/random >/dev/null && : > /dev/full' || fail "default devices denied"
    expect_eq "default rules" "$(vztest getdev 101 | tr '\n' ';')" \
        "c 1 3 0 7;c 1 5 0 7;c 1 7 0 7;c 1 8 0 7;c 1 9 0 7;c 5 0 0 7;c 5 2 0 7;c 136 0 1 7;"
}

test_open_denied_until_granted() {
    fresh_module
    vztest create 101
    # /dev/kmsg is char 1:11, not a default device.
    vztest enter 101 -- sh -c ': < /dev/kmsg' 2>&1 | grep -q "Operation not permitted" \
        || fail "kmsg open not denied"
    : < /dev/kmsg || fail "the host lost access"
    vztest setdev 101 c 1:11 r
    vztest enter 101 -- sh -c ': < /dev/kmsg' || fail "read denied after grant"
    vztest enter 101 -- sh -c ': > /dev/kmsg' 2>/dev/null && fail "write allowed with r only"
    vztest setdev 101 c 1:11 rw
    vztest enter 101 -- sh -c ': > /dev/kmsg' || fail "write denied after rw grant"
    # "-" (none) revokes; a major-wide rule is less specific than a device rule.
    vztest setdev 101 c 1:11 -
    vztest setdev 101 c 1:* rw
    vztest enter 101 -- sh -c ': < /dev/kmsg' 2>/dev/null && fail "explicit deny ignored"
    vztest enter 101 -- sh -c ': < /dev/null' || fail "1:* grant ignored"
    vztest enter 101 -- sh -c ': < /dev/ttyS0' 2>/dev/null && fail "serial console reachable"
    return 0
}

test_mknod_denied_until_granted() {
    fresh_module
    vztest create 101
    dir=$(mktemp -d)
    vztest enter 101 -- mknod "$dir/null" c 1 3 || fail "mknod of a default device denied"
    vztest enter 101 -- mknod "$dir/kmsg" c 1 11 2>&1 | grep -q "Operation not permitted" \
        || fail "mknod of kmsg not denied"
    vztest enter 101 -- mknod "$dir/loop0" b 7 0 2>/dev/null && fail "block mknod allowed"
    vztest setdev 101 c 1:11 m
    vztest enter 101 -- mknod "$dir/kmsg" c 1 11 || fail "mknod denied after m grant"
    vztest enter 101 -- sh -c ": < $dir/kmsg" 2>/dev/null && fail "open allowed with m only"
    vztest setdev 101 b all m
    vztest enter 101 -- mknod "$dir/loop0" b 7 0 || fail "block mknod denied after grant"
    rm -rf "$dir"
}

test_bad_device_rules_refused() {
    fresh_module
    vztest create 101
    vztest setdev 101 c 4096:0 r 2>&1 | grep -q "Invalid argument" || fail "major 4096 accepted"
    vztest setdev 101 c 1:1048576 r 2>&1 | grep -q "Invalid argument" || fail "minor 2^20 accepted"
    vztest setdev 555 c 1:3 r 2>&1 | grep -q "No such file" || fail "missing VE accepted"
    expect_eq "rules unchanged" "$(vztest getdev 101 | wc -l)" 8
}

# VE root in a user namespace of its own (the VE's init is pid 1 of a pid namespace that
# namespace owns, as vzctl start makes it) lacks CAP_MKNOD on the host, yet may make the
# device nodes its VE's rules grant mknod for, and no others. A user namespace made inside
# the VE, one outside any VE and a VE whose init is in the host's user namespace get nothing.
test_mknod_of_granted_devices_from_the_ve_user_namespace() {
    fresh_module
    vztest create 101
    vztest setdev 101 b 7:1 m
    dir=$(mktemp -d)
    vztest enter 101 -- unshare -r -p -f sh -c "
        mknod $dir/l1 b 7 1 || exit 11
        [ -b $dir/l1 ] || exit 12
        mknod $dir/l2 b 7 2 2>/dev/null && exit 13
        mknod $dir/k c 1 11 2>/dev/null && exit 14
        unshare -r mknod $dir/nested b 7 1 2>/dev/null && exit 15
        exit 0" || fail "VE root in its user namespace: exit $? (11, 12: granted node refused; 13, 14: ungranted node made; 15: nested user namespace made a node)"
    expect_eq "node made" "$(stat -c '%F %t:%T' "$dir/l1")" "block special file 7:1"
    # Outside any VE, a user namespace's root still cannot make device nodes.
    unshare -r mknod "$dir/host" b 7 1 2>/dev/null && fail "host user namespace made a node"
    # The VE's init in the host's user namespace: a user namespace inside is not the VE's.
    start_ve_with_init 101
    vztest enter 101 -- unshare -r mknod "$dir/inner" b 7 1 2>/dev/null &&
        fail "a user namespace inside a VE made a node"
    # Root of the host's user namespace inside the VE: the rule alone decides, as before.
    vztest enter 101 -- mknod "$dir/l3" b 7 1 || fail "VE task with CAP_MKNOD refused"
    for node in l2 k nested host inner; do
        [ ! -e "$dir/$node" ] || fail "$dir/$node exists"
    done
    destroy_all_ves
    rm -rf "$dir"
}
