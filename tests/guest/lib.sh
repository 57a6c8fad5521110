# Helpers for the in-guest cases. Every case runs under `set -e`: any failing command fails it.

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; }

# expect_status EXPECTED CMD...: runs CMD and checks its exit status.
expect_status() {
    want=$1; shift
    set +e; "$@"; got=$?; set -e
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

module_loaded() { grep -q '^vz ' /proc/modules; }
load_module() { module_loaded || modprobe vz; }
unload_module() { if module_loaded; then rmmod vz; fi; }

# A kernel warning, oops or KASAN report since boot fails the whole run anyway (the host
# harness scans the console); cases that stress the kernel also check it themselves.
no_kernel_faults() {
    if dmesg | grep -E 'WARNING:|BUG:|Oops|KASAN|Call Trace'; then
        fail "kernel reported a fault"
    fi
}
