# A VE's root is root only in the VE's own user namespace: its host ids, its files on disk,
# its cgroup subtree and the way commands enter it.

TEMPLATE=busybox-1.35-x86_64

conf_value() { sed -n "s/^$2=\"\{0,1\}\([0-9]*\)\"\{0,1\}$/\1/p" "/etc/vz/conf/$1.conf"; }

test_each_ve_gets_its_own_host_id_range() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    vzctl --quiet create 102 --ostemplate $TEMPLATE >/dev/null
    expect_eq "LOCAL_UID of 101" "$(conf_value 101 LOCAL_UID)" 100000
    expect_eq "LOCAL_GID of 101" "$(conf_value 101 LOCAL_GID)" 100000
    expect_eq "LOCAL_UID of 102" "$(conf_value 102 LOCAL_UID)" 165536
    # An explicit range that overlaps another VE's is refused, and so is the host's root.
    expect_eq "overlap" "$(status_of vzctl create 103 --ostemplate $TEMPLATE --local_uid 150000)" 21
    grep -q "overlaps CT 10[12]" /tmp/err || fail "overlap message: $(cat /tmp/err)"
    [ ! -e /vz/private/103 ] && [ ! -e /etc/vz/conf/103.conf ] || fail "half-made VE 103"
    expect_eq "uid 0" "$(status_of vzctl create 103 --ostemplate $TEMPLATE --local_uid 0)" 21
    vzctl --quiet create 103 --ostemplate $TEMPLATE --local_uid 300000 --local_gid 400000 >/dev/null
    expect_eq "chosen gid" "$(conf_value 103 LOCAL_GID)" 400000
    # One of the two given: the other is the same.
    vzctl --quiet create 104 --ostemplate $TEMPLATE --local_uid 500000 >/dev/null
    expect_eq "gid follows uid" "$(conf_value 104 LOCAL_GID)" 500000
    vzctl --quiet destroy 104 >/dev/null
    # A hand-edited overlap is refused at start, before anything runs.
    sed -i 's/^LOCAL_UID=.*/LOCAL_UID="100001"/' /etc/vz/conf/103.conf
    expect_eq "start with an overlap" "$(status_of vzctl start 103)" 21
    expect_eq status "$(vzctl status 103)" "CTID 103 exist unmounted down"
    # A VE whose config passed at its last start is not checked against the others again
    # until its config changes: a broken 102.conf does not hold 101 back, but once 101.conf
    # changes the pass is made again and reports it.
    vzctl --quiet destroy 103 >/dev/null
    vzctl --quiet start 101 && vzctl --quiet stop --fast 101
    [ -s /vz/lock/101.checked ] || fail "no record that 101's config passed"
    cp /etc/vz/conf/102.conf /tmp/102.conf
    echo 'NOT A SETTING' >> /etc/vz/conf/102.conf
    vzctl --quiet start 101 || fail "a checked, unchanged VE was held back by another's config"
    vzctl --quiet stop --fast 101
    touch /etc/vz/conf/101.conf
    expect_eq "changed config checked again" "$(status_of vzctl start 101)" 21
    grep -q "102.conf" /tmp/err || fail "the broken config not named: $(cat /tmp/err)"
    cp /tmp/102.conf /etc/vz/conf/102.conf
    for ct in 101 102; do vzctl --quiet destroy $ct >/dev/null; done
    [ ! -e /vz/lock/101.checked ] || fail "destroy left 101's record"
}

test_ve_root_is_an_unprivileged_host_user_and_files_keep_their_owners() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    vzctl --quiet start 101 >/dev/null
    expect_eq "uid_map" "$(vzctl exec2 101 cat /proc/self/uid_map | tr -s ' ')" " 0 100000 65536"
    expect_eq "gid_map" "$(vzctl exec2 101 cat /proc/self/gid_map | tr -s ' ')" " 0 100000 65536"
    expect_eq "id inside" "$(vzctl exec2 101 id -u)" 0
    init=$(vztest info 101 | cut -d' ' -f4)
    expect_eq "init's host uid" "$(awk '/^Uid:/ { print $2 }' /proc/$init/status)" 100000
    # The template's files show as the VE's root inside and stay uid 0 on disk.
    expect_eq "owner of /bin inside" "$(vzctl exec2 101 stat -c %u:%g /bin)" 0:0
    vzctl exec2 101 'touch /root/made-inside && touch /tmp/owned && chown 33:44 /tmp/owned'
    expect_eq "on disk" "$(stat -c %u:%g /vz/private/101/root/made-inside)" 0:0
    expect_eq "chown inside, on disk" "$(stat -c %u:%g /vz/private/101/tmp/owned)" 33:44
    # A file the host made with another uid than the range's shows as nobody inside.
    touch /vz/private/101/tmp/foreign && chown 70000:70000 /vz/private/101/tmp/foreign
    expect_eq "unmapped owner" "$(vzctl exec2 101 stat -c %u /tmp/foreign)" 65534
    vzctl exec2 101 'echo x > /tmp/foreign' 2>/dev/null && fail "VE root wrote an unmapped file"
    # The VE's /dev: the host's nodes work, owned by the VE's root; devpts is the VE's own.
    expect_eq "/dev/null owner" "$(vzctl exec2 101 stat -c %u /dev/null)" 0
    vzctl exec2 101 'echo x > /dev/null && head -c 1 /dev/zero | od -An -tx1' | grep -q 00 ||
        fail "/dev nodes unusable"
    vzctl exec2 101 'ln -s /proc/self/fd /dev/made-inside' || fail "VE root cannot add to its /dev"
    vzctl stop --fast 101 >/dev/null
    vzctl --quiet destroy 101 >/dev/null
}

test_ve_sees_and_delegates_only_its_own_cgroup_subtree() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    vzctl --quiet set 101 --cpulimit 50 --save >/dev/null
    vzctl --quiet start 101 >/dev/null
    grep -q nsdelegate /proc/self/mountinfo || fail "the host's cgroup2 has no nsdelegate"
    grep -q favordynmods /proc/self/mountinfo || fail "the host's cgroup2 has no favordynmods"
    expect_eq "cgroup inside" "$(vzctl exec2 101 cat /proc/self/cgroup)" "0::/"
    vzctl exec2 101 'test -e /sys/fs/cgroup/cgroup.procs' || fail "no cgroup2 at /sys/fs/cgroup"
    vzctl exec2 101 'ls /sys/fs/cgroup' | grep -q '^vz$' && fail "the host's tree is visible"
    # Its limits are the host's.
    for file in memory.max cpu.max pids.max; do
        before=$(cat /sys/fs/cgroup/vz/101/$file)
        vzctl exec2 101 "echo max > /sys/fs/cgroup/$file" 2>/dev/null && fail "VE wrote its $file"
        expect_eq "$file" "$(cat /sys/fs/cgroup/vz/101/$file)" "$before"
    done
    # Below its own cgroup it may build (as systemd does): a sub-cgroup, its init moved there.
    vzctl exec2 101 'mkdir /sys/fs/cgroup/init.scope && echo 1 > /sys/fs/cgroup/init.scope/cgroup.procs'
    vzctl exec2 101 'echo +pids > /sys/fs/cgroup/cgroup.subtree_control'
    init=$(vztest info 101 | cut -d' ' -f4)
    expect_eq "init's cgroup" "$(cat /proc/$init/cgroup)" "0::/vz/101/init.scope"
    # Commands then enter where init is, and still count as the VE.
    expect_eq "exec's cgroup" "$(vzctl exec2 101 cat /proc/self/cgroup)" "0::/init.scope"
    vzctl exec2 101 'echo 1000 > /sys/fs/cgroup/init.scope/pids.max' || fail "own sub-cgroup not writable"
    # It cannot move itself out of its subtree, nor make more cgroups than allowed.
    expect_eq "max.descendants" "$(cat /sys/fs/cgroup/vz/101/cgroup.max.descendants)" 1024
    vzctl stop --fast 101 >/dev/null
    [ ! -d /sys/fs/cgroup/vz/101 ] || fail "the VE's cgroup tree was left"
    vzctl --quiet destroy 101 >/dev/null
}

test_exec_hands_the_ve_pipes_not_host_descriptors() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    vzctl --quiet start 101 >/dev/null
    for fd in 0 1 2; do
        link=$(vzctl exec2 101 "readlink /proc/self/fd/$fd" </etc/passwd 2>&1)
        case "$link" in pipe:*) ;; *) fail "fd $fd of a command inside is $link" ;; esac
    done
    # Input and output still flow, in both directions and in bulk.
    expect_eq "stdin" "$(echo hello | vzctl exec2 101 cat)" hello
    expect_eq "bulk" "$(head -c 3000000 /dev/zero | vzctl exec2 101 'wc -c' | tr -d ' ')" 3000000
    expect_eq "bulk out" "$(vzctl exec2 101 'head -c 2000000 /dev/zero' | wc -c | tr -d ' ')" 2000000
    expect_eq "stderr" "$(vzctl exec2 101 'echo err >&2' 2>&1 >/dev/null)" err
    expect_eq "status" "$(status_of vzctl exec2 101 'exit 7')" 7
    # A command that does not read its stdin is not held up by it.
    expect_eq "unread stdin" "$(head -c 1000000 /dev/zero | vzctl exec2 101 'echo done')" done
    # A background process keeping the output open does not hold vzctl.
    vzctl exec 101 'sleep 30 &' || fail "exec of a background job failed"
    vzctl stop --fast 101 >/dev/null
    vzctl --quiet destroy 101 >/dev/null
}
