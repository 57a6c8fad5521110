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
# A dead VE's sockets may hold the module for a moment longer (the kernel tears down its
# network namespace from a work queue): the unload is retried for up to 10 s.
unload_module() {
    tries=0
    while module_loaded && ! rmmod vz 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { rmmod vz; return 1; }
        sleep 0.1
    done
}

# A kernel warning, oops or KASAN report since boot fails the whole run anyway (the host
# harness scans the console); cases that stress the kernel also check it themselves.
no_kernel_faults() {
    if dmesg | grep -E 'WARNING:|BUG:|Oops|KASAN|Call Trace'; then
        fail "kernel reported a fault"
    fi
}

# Pids of the tasks of VE $1 (of every VE when $1 is empty), from /proc.
ve_pids() {
    for status in /proc/[0-9]*/status; do
        # A task may exit while we look: an unreadable file is skipped.
        id=$(awk '/^envID:/ { print $2 }' "$status" 2>/dev/null || true)
        case "$id" in
            ""|0) ;;
            *) if [ -z "$1" ] || [ "$id" = "$1" ]; then pid=${status#/proc/}; echo "${pid%/status}"; fi ;;
        esac
    done
}

# envID of a pid, from /proc.
env_id_of() { awk '/^envID:/ { print $2 }' "/proc/$1/status"; }
vpid_of() { awk '/^VPid:/ { print $2 }' "/proc/$1/status"; }

# Kills every task of every VE, waits until they are reaped, destroys all VEs.
destroy_all_ves() {
    module_loaded || return 0
    for pid in $(ve_pids); do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    tries=0
    while [ -n "$(vztest list)" ]; do
        vztest destroy-all >/dev/null
        [ -z "$(vztest list)" ] && break
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "VEs left after 10 s: $(vztest list | tr '\n' ' ')"
        sleep 0.1
    done
}

# A freshly loaded module with no VEs.
fresh_module() {
    destroy_all_ves
    unload_module
    modprobe vz
}

# wait_for DESCRIPTION CMD...: polls CMD every 0.1 s for up to 10 s.
wait_for() {
    what=$1; shift
    tries=0
    until "$@" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "timed out waiting for $what"
        sleep 0.1
    done
}

# Field N (1-based) of `vztest info VEID`: 2 state, 3 nproc, 4 init pid, 5 created.
ve_field() { vztest info "$1" | awk -v n="$2" '{ print $n }'; }
ve_has_init() { [ "$(ve_field "$1" 4)" != 0 ]; }

# Starts VE $1 with an init (pid 1 of a new pid namespace) running a shell that forks a
# sleep, and waits until the module counts its three tasks. Sets $init to the init's host pid.
start_ve_with_init() {
    vztest enter "$1" --init -- sh -c 'sleep 1000 & sleep 1000; exit 0' >/dev/null 2>&1 &
    wait_for "VE $1 init" ve_has_init "$1"
    wait_for "VE $1 tasks" sh -c "[ \"\$(vztest info $1 | cut -d' ' -f3)\" = 3 ]"
    init=$(ve_field "$1" 4)
}

# No VE left by vzctl: every configured VE stopped and destroyed, locks removed, the module
# reloaded.
fresh_vz() {
    for conf in /etc/vz/conf/[0-9]*.conf; do
        [ -e "$conf" ] || continue
        ctid=$(basename "$conf" .conf)
        vzctl --quiet stop --fast "$ctid" >/dev/null 2>&1 || true
        vzctl --quiet destroy "$ctid" >/dev/null 2>&1 || true
    done
    rm -f /etc/vz/conf/*.destroyed /vz/lock/*.lck
    fresh_module
}

# Exit status of a command, without set -e stopping the case; its output in /tmp/out, /tmp/err.
status_of() { "$@" >/tmp/out 2>/tmp/err && echo 0 || echo $?; }

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# wait_long SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s for up to SECONDS (wait_for,
# for waits longer than its 10 s).
wait_long() {
    limit=$(( $(now_ms) + $1 * 1000 )); what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || fail "timed out waiting for $what"
        sleep 0.2
    done
}

# The host's own address: a real host has one on its NIC; the test guest has none, and
# without an address the host's packets to a VE leave from 127.0.0.1, which the VE drops.
host_address() {
    ip link show host0 >/dev/null 2>&1 && return
    ip link add host0 type dummy
    ip addr add 198.51.100.1/32 dev host0
    ip link set host0 up
}

# A systemd VE's boot (the Debian template's), for the scenario and the migration cases.
# The state systemd reports inside VE $1 (`systemctl is-system-running`: initializing,
# starting, running, degraded, stopping...; empty while nothing answers). Its stderr, when
# vzctl itself fails, is kept in /tmp/state-err for the diagnostics.
system_state() {
    vzctl exec2 "$1" systemctl is-system-running 2>/tmp/state-err || true
}

# What the host can see of VE $1 without entering it, for a boot that never finished: its
# tasks and their cgroups, its cgroup tree, its init's mounts and the messages of its
# journal (read through the init's root: a volatile journal is in the VE's own /run).
host_view_of() {
    echo "--- VE $1 seen from the host"
    echo "last state: '$(cat /tmp/state)'; vzctl said: $(cat /tmp/state-err)"
    for pid in $(ve_pids "$1"); do
        echo "task $pid $(cat /proc/$pid/comm 2>/dev/null) $(cat /proc/$pid/cgroup 2>/dev/null)"
    done
    find "/sys/fs/cgroup/vz/$1" -type d 2>/dev/null | while read -r dir; do
        echo "cgroup ${dir#/sys/fs/cgroup/vz/}: $(wc -l <"$dir/cgroup.procs") procs," \
            "subtree_control '$(cat "$dir/cgroup.subtree_control")'"
    done
    init=$(ve_field "$1" 4 2>/dev/null || true)
    [ -n "$init" ] && [ "$init" != 0 ] || return 0
    echo "mounts of its init:"
    cat "/proc/$init/mountinfo" || true
    for journal in "/proc/$init/root"/run/log/journal/*/*.journal \
        "/proc/$init/root"/var/log/journal/*/*.journal; do
        [ -f "$journal" ] || continue
        echo "messages in ${journal#/proc/$init/root} (each text once, in the order written):"
        grep -a -o 'MESSAGE=[[:print:]]*' "$journal" | tail -n 200
    done
}

# Waits up to $2 seconds until systemd in VE $1 has finished booting: running, or degraded
# (a unit failed: which ones, and what the journal says, goes into the case's log).
wait_for_boot() {
    limit=$(( $(now_ms) + $2 * 1000 ))
    while :; do
        system_state "$1" >/tmp/state
        case "$(cat /tmp/state)" in running|degraded) break ;; esac
        if [ "$(now_ms)" -ge "$limit" ]; then
            host_view_of "$1"
            fail "systemd in VE $1 did not finish booting in $2 s: '$(cat /tmp/state)'"
        fi
        sleep 2
    done
    state=$(cat /tmp/state)
    echo "systemd in VE $1: $state"
    if [ "$state" = degraded ]; then
        echo "--- systemctl --failed"
        vzctl exec2 "$1" 'systemctl --failed --no-pager --full' || true
        for unit in $(vzctl exec2 "$1" 'systemctl --failed --plain --no-legend | cut -d" " -f1'); do
            echo "--- journal of $unit"
            vzctl exec2 "$1" "journalctl -b --no-pager -o short-monotonic -u $unit | tail -n 20" ||
                true
        done
    fi
    echo "--- warnings and errors of this boot"
    vzctl exec2 "$1" 'journalctl -b --no-pager -o short-monotonic -p warning | tail -n 60' || true
}

# In the running busybox VE $1: a counter that appends a rising number to /tmp/counter every
# second and a TCP echo server on port 5000, both started in the background inside so that
# the VE's init adopts them (CRIU dumps the init's tree). The counter forks nothing (read -t
# on a FIFO is its clock), so the VE's tasks and their objects stay the same from one moment
# to the next.
counter_and_echo() {
    vzctl exec "$1" 'mkfifo /tmp/tick; (exec 3<>/tmp/tick; i=0; while :; do i=$((i+1));
        echo $i >> /tmp/counter; read -t 1 x <&3; done) </dev/null >/dev/null 2>&1 &'
    vzctl exec "$1" 'nc -l -p 5000 -e cat </dev/null >/dev/null 2>&1 &'
    wait_for "the counter" test -s "/vz/root/$1/tmp/counter"
    wait_for "the echo server" sh -c "vzctl exec $1 netstat -tln | grep -q ':5000'"
}
