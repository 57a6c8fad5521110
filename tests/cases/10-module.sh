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
    # Without the fd the node's mode already stops a non-root user: vzctl --version still
    # prints the tools' version, and says why the module's is missing.
    expect_eq "--version as uid 65534" "$(status_of vztest run-as 65534 vzctl --version)" 0
    grep -q "^vzctl version " /tmp/out || fail "tools version not printed: $(cat /tmp/out)"
    grep -q "/dev/vzctl: permission denied" /tmp/err || fail "no reason given: $(cat /tmp/err)"
}

# libvirt's openvz driver (openvz_conf.c, openvzExtractVersionInfo and virStringParseVersion),
# written anew: runs `LC_ALL=C vzctl --help`, needs exit status 0 and stdout starting with
# `vzctl version `, then reads major[.minor[.micro]] (decimal, each part at least one digit,
# minor and micro at most 999, anything after ignored) as major*1000000 + minor*1000 + micro.
# Prints that number, or nothing and fails when libvirt would not connect.
libvirt_vzctl_version() {
    out=$(LC_ALL=C "$@") || return 1
    case "$out" in "vzctl version "*) ;; *) return 1 ;; esac
    rest=${out#vzctl version }
    major=$(leading_digits "$rest")
    [ -n "$major" ] || return 1
    rest=${rest#"$major"}
    minor=0
    micro=0
    case "$rest" in
        .*) rest=${rest#.}; minor=$(leading_digits "$rest"); rest=${rest#"$minor"}
            [ -n "$minor" ] || return 1 ;;
    esac
    case "$rest" in
        .*) rest=${rest#.}; micro=$(leading_digits "$rest")
            [ -n "$micro" ] || return 1 ;;
    esac
    [ "$major" -le 4294 ] && [ "$minor" -le 999 ] && [ "$micro" -le 999 ] || return 1
    # expr reads leading zeros as decimal (sh arithmetic would take them for octal); it exits
    # 1 when the result is 0.
    expr "$major" \* 1000000 + "$minor" \* 1000 + "$micro" || true
}

# The digits at the start of $1 (its first line), if any.
leading_digits() { printf '%s\n' "$1" | sed -n '1s/^\([0-9][0-9]*\).*/\1/p'; }

# libvirt takes its modern code path (bridges passed to --netif_add) from 3.0.23 on.
LIBVIRT_MODERN=3000023

# `vzctl --help` and `vzctl --version` as libvirt reads them: with the module loaded, with
# /dev/vzctl unreachable (a user other than root) and with the module unloaded.
test_version_line_as_libvirt_parses_it() {
    load_module
    for state in loaded unreachable unloaded; do
        run=""
        case $state in
            unreachable) run="vztest run-as 65534" ;;
            unloaded) unload_module ;;
        esac
        for flag in --help --version; do
            version=$(libvirt_vzctl_version $run vzctl $flag) \
                || fail "libvirt cannot read 'vzctl $flag' with the module $state"
            echo "vzctl $flag, module $state: $version"
            [ "$version" -ge $LIBVIRT_MODERN ] || fail "$version is below libvirt's 3.0.23"
            expect_eq "first line of $flag, module $state" \
                "$($run vzctl $flag 2>/dev/null | sed -n 1p)" "$(vzctl --version 2>/dev/null | sed -n 1p)"
        done
    done
    # The usage follows the version line in --help.
    vzctl --help | grep -q "^Usage: vzctl" || fail "no usage in vzctl --help"
    load_module
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
