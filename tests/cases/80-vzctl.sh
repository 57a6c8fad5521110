# vzctl: the VE lifecycle as an admin drives it, with the busybox template from
# /vz/template/cache and the configs in /etc/vz.

TEMPLATE=busybox-1.35-x86_64

# A VE 101 created from the template, stopped.
created() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE --hostname ct101.example >/dev/null
}


test_create_writes_private_area_and_config() {
    fresh_vz
    out=$(vzctl create 101 --ostemplate $TEMPLATE --hostname ct101.example)
    echo "$out" | grep -q "Container private area was created" || fail "create said: $out"
    [ -x /vz/private/101/sbin/init ] || fail "no /sbin/init in the private area"
    conf=/etc/vz/conf/101.conf
    grep -q '^OSTEMPLATE="busybox-1.35-x86_64"$' $conf || fail "OSTEMPLATE not in $conf"
    grep -q '^HOSTNAME="ct101.example"$' $conf || fail "HOSTNAME not in $conf"
    grep -q '^NUMPROC="240:240"$' $conf || fail "the sample's NUMPROC not in $conf"
    expect_eq "hostname file" "$(cat /vz/private/101/etc/hostname)" ct101.example
    expect_eq status "$(vzctl status 101)" "CTID 101 exist unmounted down"
    vzctl destroy 101 >/dev/null
}

test_start_runs_init_as_pid_1_in_its_own_world() {
    created
    vzctl start 101 | grep -q "Container start in progress" || fail "start did not report"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted running"
    expect_eq "pid 1 inside" "$(vzctl exec2 101 cat /proc/1/comm)" init
    expect_eq "hostname inside" "$(vzctl exec2 101 hostname)" ct101.example
    # Only the VE's own processes are visible.
    sleep 300 >/dev/null 2>&1 &
    host_sleep=$!
    inside=$(vzctl exec2 101 'ls /proc | grep -c "^[0-9]"')
    [ "$inside" -le 4 ] || fail "$inside processes visible inside"
    vzctl exec2 101 "test -e /proc/$host_sleep" && fail "host process $host_sleep visible inside"
    kill $host_sleep
    # /dev holds only the permitted nodes; /dev/vzctl is absent; /sys is read-only.
    expect_eq "/dev" "$(vzctl exec2 101 ls /dev | tr '\n' ' ')" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero "
    vzctl exec2 101 'touch /sys/x' 2>/dev/null && fail "/sys writable inside"
    # Capabilities: no module loading, raw I/O or clock setting.
    bnd=$(vzctl exec2 101 'grep CapBnd /proc/self/status' | awk '{ print $2 }')
    for cap in 16 17 25; do
        [ $(( 0x$bnd >> cap & 1 )) = 0 ] || fail "capability $cap kept (CapBnd $bnd)"
    done
    out=$(vzctl exec2 101 'date -s 2000-01-01' 2>&1)
    case "$out" in *"not permitted"*) ;; *) fail "date -s inside said: $out" ;; esac
    [ "$(date +%Y)" != 2000 ] || fail "the host's clock was set from inside"
    # The host's /vz (the VE root's filesystem) cannot be remounted from inside.
    vzctl exec2 101 'mount -o remount,ro /' 2>/dev/null && fail "VE remounted its root's filesystem"
    touch /vz/.host-writable || fail "the host's /vz became read-only"
    rm -f /vz/.host-writable
    # Host-wide sysctls and the kernel log are the host's; the VE's own network ones are its.
    vzctl exec2 101 'echo 3 > /proc/sys/vm/drop_caches' 2>/dev/null && fail "VE wrote a global sysctl"
    vzctl exec2 101 'echo 1 > /proc/sys/net/ipv4/ip_forward' || fail "VE cannot set its own net sysctl"
    vzctl exec2 101 'dmesg' >/dev/null 2>&1 && fail "VE reads the host's kernel log"
    # Its network has only loopback (no address given): no fallback tunnel device (sit0).
    expect_eq "links inside" "$(vzctl exec2 101 ls /sys/class/net | tr '\n' ' ')" "lo "
    [ -e /sys/class/net/sit0 ] || fail "the host lost its own sit0"
    # No file descriptor of the host leaks in.
    exec 7</etc/passwd
    fds=$(vzctl exec2 101 'ls /proc/self/fd | tr "\n" " "')
    exec 7<&-
    expect_eq "fds of a command inside" "$fds" "0 1 2 3 "
    # The VE's tasks carry its id.
    init_pid=$(vztest info 101 | cut -d' ' -f4)
    expect_eq "envID of init" "$(sed -n 's/^envID:\t*//p' /proc/$init_pid/status)" 101
    vzctl stop --fast 101 >/dev/null
}

test_vz_trace_times_each_phase_on_stderr() {
    created
    VZ_TRACE=1 vzctl --quiet start 101 2>/tmp/trace >/tmp/out || fail "traced start failed"
    [ -s /tmp/out ] && fail "the trace went to stdout: $(cat /tmp/out)"
    for phase in "parse arguments" "lock" "start its init" "command"; do
        grep -Eq "^vz-trace: +[0-9]+\.[0-9]{3} ms  $phase \(at [0-9.]+ ms\)$" /tmp/trace ||
            fail "no '$phase' phase in: $(cat /tmp/trace)"
    done
    expect_eq "status line" "$(VZ_TRACE=1 vzctl status 101 2>/dev/null)" "CTID 101 exist mounted running"
    VZ_TRACE=1 vzlist -H -o ctid 2>&1 >/dev/null | grep -q '^vz-trace: .* gather ' ||
        fail "vzlist traced no gather phase"
    # Off (unset, empty or 0): not a line.
    for off in "" 0; do
        VZ_TRACE=$off vzctl exec2 101 true 2>/tmp/trace
        [ -s /tmp/trace ] && fail "VZ_TRACE='$off' printed: $(cat /tmp/trace)"
    done
    vzctl --quiet stop --fast 101
    vzctl --quiet destroy 101
}

test_stop_leaves_nothing_behind() {
    created
    vzctl start 101 >/dev/null
    vzctl exec 101 'sleep 1000 >/dev/null 2>&1 &'
    out=$(vzctl stop 101)
    echo "$out" | grep -q "Container was stopped" || fail "stop said: $out"
    expect_eq status "$(vzctl status 101)" "CTID 101 exist unmounted down"
    vztest info 101 >/dev/null 2>&1 && fail "VE 101 still in the kernel"
    grep -q " /vz/root/101 " /proc/self/mountinfo && fail "/vz/root/101 still mounted"
    [ ! -d /sys/fs/cgroup/vz/101 ] || fail "cgroup of VE 101 left"
    pgrep -f "sleep 1000" && fail "a task of the VE survived"
    vzctl destroy 101 >/dev/null
    expect_eq status "$(vzctl status 101)" "CTID 101 deleted unmounted down"
    [ ! -e /vz/private/101 ] || fail "private area left"
    [ -f /etc/vz/conf/101.conf.destroyed ] || fail "config not kept as .destroyed"
}

test_exec_exit_codes_follow_openvz() {
    created
    vzctl start 101 >/dev/null
    expect_eq "exec2 passes the status on" "$(status_of vzctl exec2 101 'exit 7')" 7
    expect_eq "exec of a failing command" "$(status_of vzctl exec 101 false)" 8
    expect_eq "exec of a good command" "$(status_of vzctl exec 101 true)" 0
    expect_eq "exec - reads stdin" "$(echo 'echo from-stdin' | vzctl exec 101 -)" from-stdin
    printf 'echo script ran in $(hostname)\nexit 3\n' >/tmp/script.sh
    expect_eq "runscript output" "$(vzctl runscript 101 /tmp/script.sh)" "script ran in ct101.example"
    expect_eq "runscript status" "$(status_of vzctl runscript 101 /tmp/script.sh)" 3
    vzctl stop --fast 101 >/dev/null
    expect_eq "exec on a stopped VE" "$(status_of vzctl exec 101 true)" 31
}

test_wrong_states_and_input_get_openvz_codes() {
    created
    expect_eq "stop of a stopped VE" "$(status_of vzctl stop 101)" 31
    vzctl start 101 >/dev/null
    expect_eq "start of a running VE" "$(status_of vzctl start 101)" 32
    expect_eq "destroy of a running VE" "$(status_of vzctl destroy 101)" 32
    [ -d /vz/private/101 ] || fail "destroy of a running VE removed its private area"
    expect_eq "umount of a running VE" "$(status_of vzctl umount 101)" 32
    vzctl stop --fast 101 >/dev/null
    expect_eq "create over an existing VE" "$(status_of vzctl create 101 --ostemplate $TEMPLATE)" 44
    expect_eq "unknown template" "$(status_of vzctl create 102 --ostemplate nosuch)" 91
    grep -q "nosuch" /tmp/err || fail "the message does not name the template: $(cat /tmp/err)"
    [ ! -e /vz/private/102 ] && [ ! -e /etc/vz/conf/102.conf ] || fail "a failed create left files"
    expect_eq "unknown option" "$(status_of vzctl start 101 --frobnicate)" 20
    expect_eq "bad CTID" "$(status_of vzctl start 0)" 21
    expect_eq "bad numproc" "$(status_of vzctl set 101 --numproc 12Q)" 21
    grep -q "numproc" /tmp/err || fail "the message does not name numproc: $(cat /tmp/err)"
    expect_eq "start of a missing VE" "$(status_of vzctl start 555)" 14
    vzctl destroy 101 >/dev/null
}

test_a_broken_template_leaves_no_half_made_ve() {
    fresh_vz
    printf 'not a tarball' >/vz/template/cache/broken.tar.gz
    expect_eq "create from a broken template" "$(status_of vzctl create 103 --ostemplate broken)" 48
    rm /vz/template/cache/broken.tar.gz
    ls -d /vz/private/103* 2>/dev/null && fail "private area left: $(ls -d /vz/private/103*)"
    [ ! -e /etc/vz/conf/103.conf ] || fail "config left"
}

test_set_changes_limits_live_and_saves() {
    created
    vzctl start 101 >/dev/null
    vzctl set 101 --numproc 50:60 --privvmpages 256M --save >/dev/null
    expect_eq "numproc in the kernel" "$(vztest ubget 101 numproc | cut -d' ' -f3,4)" "50 60"
    expect_eq "privvmpages in the kernel" "$(vztest ubget 101 privvmpages | cut -d' ' -f3,4)" "65536 65536"
    grep -q '^NUMPROC="50:60"$' /etc/vz/conf/101.conf || fail "NUMPROC not saved"
    grep -q "numproc.*50 *60" /proc/user_beancounters || fail "not in /proc/user_beancounters"
    # Unsaved: applied now, gone after a restart.
    vzctl set 101 --numfile 1000 2>/dev/null
    expect_eq "numfile live" "$(vztest ubget 101 numfile | cut -d' ' -f3)" 1000
    vzctl restart 101 >/dev/null
    expect_eq "numfile after restart" "$(vztest ubget 101 numfile | cut -d' ' -f3)" 9312
    expect_eq "numproc after restart" "$(vztest ubget 101 numproc | cut -d' ' -f3,4)" "50 60"
    # A limit below what the VE holds: new forks are refused inside, nothing is killed.
    vzctl set 101 --numproc 1 >/dev/null 2>&1
    vzctl exec2 101 'true' >/dev/null 2>&1 || true
    [ "$(vztest ubget 101 numproc | cut -d' ' -f5)" -ge 1 ] || fail "refused fork not counted"
    vzctl set 101 --numproc unlimited >/dev/null
    # Hostname and CPU share apply live.
    vzctl set 101 --hostname renamed.example --cpuunits 2000 --cpulimit 50 --save >/dev/null
    expect_eq "hostname" "$(vzctl exec2 101 hostname)" renamed.example
    expect_eq "cpu.weight" "$(cat /sys/fs/cgroup/vz/101/cpu.weight)" 200
    expect_eq "cpu.max" "$(cat /sys/fs/cgroup/vz/101/cpu.max)" "50000 100000"
    vzctl stop --fast 101 >/dev/null
    vzctl destroy 101 >/dev/null
}

# held_in_user_beancounters VEID RESOURCE: the held column of the VE's row.
held_in_user_beancounters() {
    awk -v ve="$1:" -v r="$2" '$1 ~ /:$/ { id = $1; $0 = substr($0, index($0, ":") + 1) }
        id == ve && $1 == r { print $2; exit }' /proc/user_beancounters
}

# physpages and kmemsize are those of the VE's cgroup (vz/CTID, the root of the cgroup namespace
# its init starts in), wherever the init moves inside it: systemd as a VE's init puts itself in
# init.scope and enables the memory controller below. The host does the same here for the
# busybox init; memory used in another sub-cgroup still counts, and a new limit still lands on
# vz/CTID, not on the init's own cgroup.
test_physpages_stay_the_ve_cgroups_when_init_moves_to_a_sub_cgroup() {
    created
    vzctl start 101 >/dev/null
    cg=/sys/fs/cgroup/vz/101
    # A VE process that fills 8 MiB of the VE's /dev/shm once it has been moved.
    vzctl exec2 101 'touch /ready; while [ ! -e /go ]; do sleep 0.1; done
        dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>/dev/null' &
    filler=$!
    wait_for "the filler inside" test -e /vz/root/101/ready
    init=$(vztest info 101 | cut -d' ' -f4)
    mkdir $cg/init.scope $cg/rest
    echo "$init" >$cg/init.scope/cgroup.procs
    # The filler's loop keeps forking: a task may exit between the listing and the move
    # (ESRCH), or be forked in vz/101 after the listing. Move until vz/101 is empty (no
    # controller can be enabled below a cgroup that still has tasks).
    tries=0
    while [ -n "$(cat $cg/cgroup.procs)" ]; do
        for pid in $(cat $cg/cgroup.procs); do
            echo "$pid" 2>/dev/null >$cg/rest/cgroup.procs || true
        done
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "tasks stay in $cg: $(cat $cg/cgroup.procs | tr '\n' ' ')"
    done
    echo +memory >$cg/cgroup.subtree_control
    touch /vz/root/101/go
    wait $filler || fail "the filler failed"
    [ "$(cat $cg/rest/memory.current)" -ge 8388608 ] || fail "the 8 MiB are not in rest"
    [ "$(cat $cg/init.scope/memory.current)" -lt 8388608 ] || fail "the 8 MiB are in init.scope"
    held=$(held_in_user_beancounters 101 physpages)
    [ "$held" -ge 2048 ] || fail "physpages held $held pages: not the VE's cgroup"
    kernel_before=$(awk '$1 == "kernel" { print $2 }' $cg/memory.stat)
    kmem=$(held_in_user_beancounters 101 kmemsize)
    kernel_after=$(awk '$1 == "kernel" { print $2 }' $cg/memory.stat)
    [ "$kmem" -ge $((kernel_before * 9 / 10)) ] && [ "$kmem" -le $((kernel_after * 11 / 10)) ] ||
        fail "kmemsize $kmem, the VE's cgroup has $kernel_before..$kernel_after"
    vzctl set 101 --physpages 0:65536 >/dev/null
    expect_eq "memory.max of the VE's cgroup" "$(cat $cg/memory.max)" 268435456
    expect_eq "memory.max of init.scope" "$(cat $cg/init.scope/memory.max)" max
    expect_eq "physpages limit" "$(vztest ubget 101 physpages | cut -d' ' -f4)" 65536
    # vzctl exec joins the init's cgroup; stop removes the sub-cgroups with the VE's.
    expect_eq "exec's cgroup" "$(vzctl exec2 101 cat /proc/self/cgroup)" "0::/init.scope"
    vzctl stop --fast 101 >/dev/null
    [ ! -d $cg ] || fail "the VE's cgroup tree was left"
    vzctl destroy 101 >/dev/null
}

test_a_locked_ve_is_refused_and_a_stale_lock_removed() {
    created
    mkdir -p /vz/lock
    sleep 300 >/dev/null 2>&1 &
    holder=$!
    printf '%s\nstarting\n' $holder >/vz/lock/101.lck
    expect_eq "start while locked" "$(status_of vzctl start 101)" 9
    grep -q "Locked by: pid $holder" /tmp/err || fail "no holder in: $(cat /tmp/err)"
    kill $holder
    wait $holder 2>/dev/null || true
    vzctl start 101 >/dev/null 2>/tmp/err || fail "stale lock not removed: $(cat /tmp/err)"
    vzctl stop --fast 101 >/dev/null
    [ ! -e /vz/lock/101.lck ] || fail "lock file left after stop"
    vzctl destroy 101 >/dev/null
}

test_names_resolve_to_ctids() {
    fresh_vz
    vzctl --quiet create 104 --ostemplate $TEMPLATE --name web >/dev/null
    expect_eq "status by name" "$(vzctl status web)" "CTID 104 exist unmounted down"
    vzctl destroy web >/dev/null
    [ ! -e /etc/vz/names/web ] || fail "name link left"
}

test_ipadd_routes_the_ve_and_the_host_reaches_its_service() {
    created
    host_address
    vzctl set 101 --ipadd 10.1.1.101 --save >/dev/null
    grep -q '^IP_ADDRESS="10.1.1.101"$' /etc/vz/conf/101.conf || fail "IP_ADDRESS not saved"
    vzctl start 101 >/dev/null
    vzctl exec2 101 'ip -4 addr show venet0' | grep -q "10.1.1.101/32" || fail "no address on venet0"
    # A service inside, reached from the host at the VE's address.
    vzctl exec 101 'httpd -p 80 -h /var/www'
    got=$(vztest http-get 10.1.1.101:80 /) || fail "host cannot reach the VE's httpd"
    expect_eq "page served from the VE" "$got" "$(cat /vz/private/101/var/www/index.html)"
    # The VE reaches the host.
    vzctl exec2 101 'ping -c 1 -W 3 198.51.100.1' >/dev/null || fail "the VE cannot reach the host"
    # Addresses change live.
    vzctl set 101 --ipadd 10.1.1.102 --save >/dev/null
    vztest http-get 10.1.1.102:80 / >/dev/null || fail "added address not reachable"
    vzctl set 101 --ipdel 10.1.1.101 --save >/dev/null
    vztest http-get 10.1.1.101:80 / >/dev/null 2>&1 && fail "deleted address still answers"
    grep -q '^IP_ADDRESS="10.1.1.102"$' /etc/vz/conf/101.conf || fail "IP_ADDRESS not updated"
    # An address another VE has is refused.
    expect_eq "address in use" "$(status_of vzctl create 102 --ostemplate $TEMPLATE --ipadd 10.1.1.102)" 78
    expect_eq "bad address" "$(status_of vzctl set 101 --ipadd 10.1.1.300)" 71
    vzctl stop --fast 101 >/dev/null
    ip link show venet101 >/dev/null 2>&1 && fail "venet101 left after stop"
    ip route | grep -q 10.1.1.102 && fail "route left after stop"
    vzctl destroy 101 >/dev/null
}

# The kernel removes a stopped VE's network namespace later, in a worker, and not at all while
# anything on the host still holds it (here an open /proc/PID/ns/net, in every other round):
# a stop that left the host end of the pair to the kernel made an immediate start (or
# restart) fail on the old link.
test_stop_then_start_twenty_times_finds_no_leftover_link() {
    created
    vzctl set 101 --ipadd 10.1.2.101 --save >/dev/null
    round=1
    while [ $round -le 20 ]; do
        vzctl start 101 >/dev/null || fail "start $round failed"
        ip link show venet101 >/dev/null 2>&1 || fail "no venet101 after start $round"
        vzctl exec2 101 'ip -4 addr show venet0' | grep -q "10.1.2.101/32" ||
            fail "no address on venet0 after start $round"
        if [ $((round % 5)) = 0 ]; then
            vzctl restart 101 >/dev/null || fail "restart $round failed"
        fi
        [ $((round % 2)) = 1 ] && exec 8<"/proc/$(ve_field 101 4)/ns/net"
        vzctl stop --fast 101 >/dev/null || fail "stop $round failed"
        ip link show venet101 >/dev/null 2>&1 && fail "venet101 left after stop $round"
        ip link show vzp101 >/dev/null 2>&1 && fail "vzp101 left after stop $round"
        ip route | grep -q 10.1.2.101 && fail "route to 10.1.2.101 left after stop $round"
        exec 8<&-
        round=$((round + 1))
    done
    vzctl destroy 101 >/dev/null
}

test_enter_gives_a_shell_on_a_pty_inside() {
    created
    vzctl start 101 >/dev/null
    out=$(printf 'tty; hostname; echo marker-$((6*7))\n' | vzctl enter 101 2>/tmp/err)
    echo "$out" | grep -q "^/dev/pts/0" || fail "not on a pty of the VE: $out"
    echo "$out" | grep -q "^ct101.example" || fail "not inside VE 101: $out"
    echo "$out" | grep -q "^marker-42" || fail "commands did not run: $out"
    grep -q "entered into CT 101" /tmp/err || fail "no 'entered into CT 101': $(cat /tmp/err)"
    vzctl exec2 101 ps | grep -q "sh -l" && fail "the login shell is still running inside"
    expect_eq "enter of a stopped VE" "$(vzctl stop --fast 101 >/dev/null; status_of vzctl enter 101 </dev/null)" 31
}

# /etc/init.d/vz (also behind vz.service and the guest's run mode) starts the ONBOOT VEs at
# boot, highest BOOTORDER first, and stops every VE at shutdown.
test_onboot_ves_start_with_the_host_and_stop_with_it() {
    fresh_vz
    for ctid in 101 102 103; do
        vzctl --quiet create $ctid --ostemplate $TEMPLATE >/dev/null
    done
    vzctl set 101 --onboot yes --save >/dev/null
    vzctl set 103 --onboot yes --bootorder 5 --save >/dev/null
    order=$(/etc/init.d/vz start | grep "^Starting CT" | tr '\n' ' ')
    expect_eq "boot order" "$order" "Starting CT 103 Starting CT 101 "
    expect_eq "101" "$(vzctl status 101)" "CTID 101 exist mounted running"
    expect_eq "102 stays down" "$(vzctl status 102)" "CTID 102 exist unmounted down"
    expect_eq "103" "$(vzctl status 103)" "CTID 103 exist mounted running"
    /etc/init.d/vz stop >/dev/null
    for ctid in 101 103; do
        expect_eq "$ctid after shutdown" "$(vzctl status $ctid)" "CTID $ctid exist unmounted down"
    done
    fresh_vz
}

# --devnodes gives a host /dev node (made in the VE's /dev), --devices a rule for a node
# made by hand inside (VE root may mknod what a rule grants "m" for, from its own user
# namespace); none takes access away again. Both apply live and at start.
test_devices_and_devnodes_grant_host_devices() {
    created
    vzctl start 101 >/dev/null
    vzctl exec2 101 'mknod /tmp/l0 b 7 0' 2>/dev/null && fail "mknod of a block device allowed"
    vzctl set 101 --devnodes loop0:rw --save >/dev/null
    vzctl exec2 101 'ls -l /dev/loop0' | grep -q "^b" || fail "no /dev/loop0 inside"
    vzctl exec2 101 'dd if=/dev/loop0 of=/dev/null count=0 2>/dev/null' || fail "granted loop0 cannot be opened"
    grep -q '^DEVNODES="loop0:rw"$' /etc/vz/conf/101.conf || fail "DEVNODES not saved"
    vzctl set 101 --devices b:7:1:r --save >/dev/null
    vzctl exec2 101 'mknod /tmp/l1 b 7 1 && dd if=/tmp/l1 of=/dev/null count=0 2>/dev/null' ||
        fail "read of b:7:1 not granted"
    vzctl exec2 101 'dd if=/dev/zero of=/tmp/l1 count=0 2>/dev/null' && fail "write of b:7:1 granted"
    vzctl set 101 --devnodes loop0:none >/dev/null
    vzctl exec2 101 'dd if=/dev/loop0 of=/dev/null count=0 2>/dev/null' && fail "loop0 still open to the VE"
    # At start the saved rules and nodes come back.
    vzctl restart 101 >/dev/null
    vzctl exec2 101 'dd if=/dev/loop0 of=/dev/null count=0 2>/dev/null' || fail "DEVNODES not applied at start"
    expect_eq "bad rule" "$(status_of vzctl set 101 --devices x:1:2:rw)" 21
    expect_eq "not a device" "$(status_of vzctl set 101 --devnodes ../etc/passwd:rw)" 21
    vzctl stop --fast 101 >/dev/null
    vzctl destroy 101 >/dev/null
}

# --diskspace and --diskinodes are ext4 project quotas on /vz: every file of the private area
# is in project CTID; writes past the hard limit fail inside, live changes apply at once.
test_diskspace_and_diskinodes_are_enforced() {
    created
    vzctl start 101 >/dev/null
    vzctl set 101 --diskspace 20M:20M --diskinodes 100000:100000 --save >/dev/null
    grep -q '^DISKSPACE="20480:20480"$' /etc/vz/conf/101.conf || fail "DISKSPACE not saved"
    out=$(vzctl exec2 101 'dd if=/dev/zero of=/big bs=1M count=40 2>&1; rm -f /big')
    case "$out" in *"quota exceeded"*|*"Disk quota"*) ;; *) fail "40 MB written under a 20 MB quota: $out" ;; esac
    vzctl set 101 --diskspace 200M >/dev/null
    vzctl exec2 101 'dd if=/dev/zero of=/big bs=1M count=40 2>/dev/null && rm /big' ||
        fail "raised quota not applied live"
    vzctl set 101 --diskinodes 10:10 >/dev/null
    vzctl exec2 101 'for i in $(seq 20); do touch /tmp/f$i || exit 1; done' 2>/dev/null &&
        fail "20 files created past a 10-inode quota"
    expect_eq "bad diskspace" "$(status_of vzctl set 101 --diskspace 10Q)" 21
    vzctl stop --fast 101 >/dev/null
    vzctl destroy 101 >/dev/null
}

# mount and umount on their own; the remaining set options; two vzctl at once on one VE.
test_mount_umount_and_the_other_set_options() {
    created
    vzctl mount 101 >/dev/null
    expect_eq status "$(vzctl status 101)" "CTID 101 exist mounted down"
    [ -x /vz/root/101/sbin/init ] || fail "private area not visible at the root"
    expect_eq "mount twice" "$(status_of vzctl mount 101)" 41
    vzctl umount 101 >/dev/null
    expect_eq "umount twice" "$(status_of vzctl umount 101)" 40
    printf 'NUMFILE="2048:2048"\nHOSTNAME="from-sample"\nCPUUNITS="500"\n' >/etc/vz/conf/ve-small.conf-sample
    vzctl set 101 --ram 64M --swap 128M --cpus 1 --nameserver 192.0.2.53 --description "web shop" \
        --applyconfig small --save >/dev/null
    conf=/etc/vz/conf/101.conf
    for line in 'PHYSPAGES="0:16384"' 'SWAPPAGES="0:32768"' 'CPUS="1"' 'NAMESERVER="192.0.2.53"' \
        'DESCRIPTION="web shop"' 'NUMFILE="2048:2048"' 'CPUUNITS="500"' 'HOSTNAME="ct101.example"'; do
        grep -qx "$line" $conf || fail "$line not in $conf"
    done
    expect_eq "resolv.conf" "$(cat /vz/private/101/etc/resolv.conf)" "nameserver 192.0.2.53"
    vzctl start 101 >/dev/null
    expect_eq "cpu.max for one CPU" "$(cat /sys/fs/cgroup/vz/101/cpu.max)" "100000 100000"
    expect_eq "memory.max from --ram" "$(cat /sys/fs/cgroup/vz/101/memory.max)" 67108864
    expect_eq "numfile from the sample" "$(vztest ubget 101 numfile | cut -d' ' -f3)" 2048
    # Two vzctl at once: one stops the VE, the other is refused (locked, or already stopped).
    vzctl stop 101 >/dev/null 2>&1 &
    first=$!
    second=$(status_of vzctl stop 101)
    wait $first || true
    case "$second" in 0|9|31) ;; *) fail "a second stop exited $second" ;; esac
    expect_eq "status after both" "$(vzctl status 101)" "CTID 101 exist unmounted down"
    vzctl destroy 101 >/dev/null
    rm -f /etc/vz/conf/ve-small.conf-sample
}

# A create killed while it unpacks leaves no VE (tar dies with it): the next create removes the
# partial area and the stale lock, and succeeds.
test_an_interrupted_create_leaves_no_ve() {
    fresh_vz
    vzctl --quiet create 105 --ostemplate debian-12-x86_64 >/dev/null 2>&1 &
    creator=$!
    wait_for "the unpacking" test -d /vz/private/105.partial/usr
    kill -9 $creator
    wait $creator 2>/dev/null || true
    expect_eq status "$(vzctl status 105)" "CTID 105 deleted unmounted down"
    [ ! -e /etc/vz/conf/105.conf ] || fail "a config was written"
    [ ! -e /vz/private/105 ] || fail "a private area is in place"
    vzctl --quiet create 105 --ostemplate $TEMPLATE >/dev/null || fail "create after the interrupted one failed"
    [ ! -e /vz/private/105.partial ] || fail "the partial area was left"
    vzctl destroy 105 >/dev/null
}
