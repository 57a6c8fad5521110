# The vz module itself: load, /dev/vzctl, version ioctl, error codes, unload, load cycles.

test_module_loads() {
    unload_module
    modprobe vz
    module_loaded || fail "vz is not in /proc/modules after modprobe"
    release=$(vzctl --version | sed -n "s/^vzctl version //p")
    dmesg | grep -q "vz $release loaded, ABI $(vztest abi-version)" \
        || fail "no load message with the tools' release in dmesg"
}

test_device_node_is_root_only() {
    load_module
    [ -c /dev/vzctl ] || fail "/dev/vzctl is not a character device"
    expect_eq "mode" "$(stat -c %a /dev/vzctl)" 600
    expect_eq "owner" "$(stat -c %u:%g /dev/vzctl)" 0:0
    grep -q ' vzctl$' /proc/misc || fail "vzctl missing from /proc/misc"
}

test_version_ioctl_answers_tools_abi() {
    load_module
    out=$(vzctl --version)
    echo "$out"
    tools=$(echo "$out" | sed -n 's/^vzctl version //p')
    expect_eq "module line" "$(echo "$out" | sed -n 2p)" \
        "vz module ABI version $(vztest abi-version) (module $tools)"
    expect_eq "raw ioctl" "$(vztest ioctl version)" ok
}

test_unknown_command_is_enotty() {
    load_module
    # Unknown numbers in our range, OpenVZ's legacy numbers and foreign ioctl types.
    for cmd in 0x2e7f 0x80282e41 0x40102e05 0x2e00 0x5401 0 0xffffffff; do
        expect_eq "ioctl $cmd" "$(vztest ioctl $cmd)" ENOTTY
    done
}

test_non_root_gets_eperm() {
    load_module
    # The fd was opened by root; the call is made after dropping every privilege.
    expect_eq "version as uid 65534" "$(vztest ioctl version --uid 65534)" EPERM
    expect_eq "unknown cmd as uid 65534" "$(vztest ioctl 0x2e7f --uid 65534)" EPERM
    # Without the fd the node's mode already stops a non-root user: exit code 12.
    expect_status 12 vztest run-as 65534 vzctl --version
}

test_tools_without_module_exit_5() {
    unload_module
    set +e
    out=$(vzctl --version 2>&1); rc=$?
    set -e
    echo "$out"
    expect_eq "exit status" "$rc" 5
    echo "$out" | grep -q "^vzctl version " || fail "tools version not printed"
    echo "$out" | grep -q "vz kernel module is not loaded" || fail "no clear message"
}

test_rmmod_removes_device() {
    load_module
    rmmod vz
    ! module_loaded || fail "vz still loaded"
    [ ! -e /dev/vzctl ] || fail "/dev/vzctl still exists"
    ! grep -q ' vzctl$' /proc/misc || fail "vzctl still in /proc/misc"
}

slab_kb() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }

# The debug kernel has kmemleak: the exact check. Elsewhere, slab growth is the measure (the
# debug kernel's KASAN quarantine would distort it).
kmemleak=/sys/kernel/debug/kmemleak
have_kmemleak() {
    [ -d /sys/kernel/debug/tracing ] || [ -e $kmemleak ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
    [ -w $kmemleak ]
}

test_repeated_load_unload_leaks_nothing() {
    unload_module
    # Warm-up cycles take the one-time allocations (sysfs, kernfs caches) out of the figure.
    for i in 1 2 3 4 5; do modprobe vz; rmmod vz; done
    if have_kmemleak; then
        echo scan > $kmemleak; echo clear > $kmemleak
    fi
    echo 3 > /proc/sys/vm/drop_caches
    before=$(slab_kb)
    # Without kmemleak a leak shows only as slab growth, which a hundred cycles make
    # measurable; kmemleak reports every leaked object, so ten cycles find the same leaks
    # (and a cycle on the KASAN kernel takes two seconds).
    cycles=100
    have_kmemleak && cycles=10
    i=0
    while [ $i -lt $cycles ]; do
        modprobe vz
        vztest ioctl version >/dev/null
        vztest create 7
        vztest destroy 7
        rmmod vz
        i=$((i + 1))
    done
    ! module_loaded || fail "vz still loaded"
    if have_kmemleak; then
        # kmemleak reports objects unreferenced for 5 s or more.
        sleep 6
        echo scan > $kmemleak; echo scan > $kmemleak
        if grep -q unreferenced $kmemleak; then
            cat $kmemleak
            fail "kmemleak found leaks"
        fi
        echo "kmemleak: no leaks"
    else
        echo 3 > /proc/sys/vm/drop_caches
        after=$(slab_kb)
        echo "slab before ${before} kB, after ${after} kB"
        [ $((after - before)) -lt 128 ] || fail "slab grew by $((after - before)) kB over 100 cycles"
    fi
    no_kernel_faults
}
