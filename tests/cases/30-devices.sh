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
