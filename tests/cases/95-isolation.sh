# Isolation (issue 11): every case is an attack made from inside a VE as its root and
# checked from the host: the host's files, sysctls, module parameters, cgroup limits,
# disks, clocks, links, routes and processes, and the other VE's files, stay as they were.
# The comment above each case names its CVE or attack class and what stops it in the
# design of notes/design-11.md (VE root is root only in the VE's own user namespace).
#
# Busybox has no applet for most of these system calls: vzattack (tests/guest-tools/src/
# attack) makes them, one subcommand each, and prints `refused ...` (exit 0) or `allowed
# ...` (exit 1); it is copied with its libraries into each VE's private area. VE 101
# (10.9.0.101) and VE 102 (10.9.0.102) are made once per guest and shared by the cases
# (iso_ves); a case that ends a VE leaves it to the next iso_ves to start again.

# Starting the two VEs on the debug kernel, and the cases that race vzctl, take a while.
# case-timeout: 600

ISO_TEMPLATE=busybox-1.35-x86_64

# fresh_vz, fail, expect_eq, wait_for, ve_field: tests/guest/lib.sh.

init_of() { ve_field "$1" 4; }
conf_value() { sed -n "s/^$2=\"\(.*\)\"$/\1/p" "/etc/vz/conf/$1.conf"; }

# install_attack CTID: vzattack and the shared libraries it maps (the template has no
# glibc), at the same paths in the VE's private area.
install_attack() {
    private=/vz/private/$1
    if ! cmp -s /usr/local/bin/vzattack "$private/usr/local/bin/vzattack"; then
        mkdir -p "$private/usr/local/bin"
        cp /usr/local/bin/vzattack "$private/usr/local/bin/.vzattack.new"
        mv "$private/usr/local/bin/.vzattack.new" "$private/usr/local/bin/vzattack"
    fi
    for lib in $(vzattack libs) /lib64/ld-linux-x86-64.so.2; do
        [ -e "$lib" ] && [ ! -e "$private$lib" ] || continue
        mkdir -p "$private${lib%/*}"
        cp -L "$lib" "$private$lib"
    done
}

# VE 101 and VE 102 running, with vzattack inside: made on the first call in this guest,
# started again when a case ended one.
iso_ves() {
    host_address
    if [ ! -e /tmp/iso-ves-made ]; then
        fresh_vz
        touch /tmp/iso-ves-made
    fi
    for id in 101 102; do
        case "$(vzctl status $id)" in
            *"exist mounted running") ;;
            *deleted*)
                vzctl --quiet create $id --ostemplate $ISO_TEMPLATE --hostname iso$id.example \
                    --ipadd 10.9.0.$id >/dev/null
                vzctl --quiet start $id >/dev/null ;;
            *)
                vzctl --quiet stop --fast $id >/dev/null 2>&1 || true
                vzctl --quiet start $id >/dev/null ;;
        esac
        install_attack $id
    done
}

# attack CTID ARGS...: `vzattack ARGS` as root inside VE CTID (vzctl exec2; ARGS are one
# shell line there). Sets $verdict (its output), $rc (0 refused, 1 allowed, other: it did not
# run) and $attack_what.
attack() {
    attack_ve=$1; shift
    attack_what="vzattack $*"
    set +e
    verdict=$(vzctl exec2 "$attack_ve" "$attack_what" 2>&1)
    rc=$?
    set -e
    echo "VE $attack_ve: $attack_what -> $verdict (exit $rc)"
}

# refused [RC WHAT VERDICT]: fails the case unless the attack (the last one by default) was
# refused.
refused() {
    r=${1:-$rc}; w=${2:-$attack_what}; v=${3:-$verdict}
    case "$r" in
        0) case "$v" in *refused*) ;; *) fail "no verdict from $w: $v" ;; esac ;;
        1) fail "VE $attack_ve got through: $w: $v" ;;
        *) fail "the attack did not run (exit $r): $w: $v" ;;
    esac
}

# allowed: the last attack was a positive control, and it worked.
allowed() {
    [ "$rc" = 1 ] || fail "positive control failed (exit $rc): VE $attack_ve: $attack_what: $verdict"
}

# remember PATH, then unchanged: PATH (a host file, sysctl, parameter) keeps its content;
# if not, the old one is written back and the case fails.
remember() { kept_path=$1; kept_old=$(cat "$1"); }
unchanged() {
    kept_new=$(cat "$kept_path")
    if [ "$kept_new" != "$kept_old" ]; then
        printf '%s\n' "$kept_old" >"$kept_path" 2>/dev/null || true
        fail "$kept_path changed from '$kept_old' to '$kept_new' by VE $attack_ve: $attack_what"
    fi
}

# keeps PATH CTID ARGS...: the attack must leave PATH alone and be refused.
keeps() {
    remember "$1"; shift
    attack "$@"
    unchanged
    refused
}

# handle_of PATH MOUNT: PATH's file handle ("TYPE HEX"), checked to work from the host
# (decoded through MOUNT, on PATH's filesystem): the positive control of the handle attacks.
handle_of() {
    handle=$(vzattack handle "$1") || fail "no file handle for $1"
    set +e
    vzattack by-handle "$2" $handle list >/dev/null
    st=$?
    set -e
    [ $st = 1 ] || fail "the host itself cannot open its handle of $1 (exit $st)"
    echo "$handle"
}

# ve_cgroup2 CTID: cgroup2 mounted at /tmp/iso-cg inside (the mount a handle is decoded
# through).
ve_cgroup2() {
    vzctl exec2 "$1" 'mkdir -p /tmp/iso-cg && { grep -q " /tmp/iso-cg " /proc/mounts ||
        mount -t cgroup2 none /tmp/iso-cg; }' >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------------------
# Files of the host's /proc guarded by their mode alone (root-owned, so a VE root of another
# user namespace, owning nothing of them, may not write).

# sysrq-trigger: `h` (help) printed to the host's kernel log from a VE. Stopped by: the file
# belongs to the host's root, not mapped in the VE's user namespace (no CAP_DAC_OVERRIDE).
test_sysrq_trigger_is_not_writable() {
    iso_ves
    before=$(dmesg | grep -c 'sysrq: HELP' || true)
    attack 101 write /proc/sysrq-trigger h
    after=$(dmesg | grep -c 'sysrq: HELP' || true)
    [ "$after" = "$before" ] || fail "VE 101 triggered sysrq on the host"
    refused
}

# sysrq-trigger of a procfs the VE mounts itself: the same host-owned file in a new mount.
test_sysrq_trigger_of_a_fresh_procfs_is_not_writable() {
    iso_ves
    before=$(dmesg | grep -c 'sysrq: HELP' || true)
    attack 101 mount proc /tmp/iso-proc --write sysrq-trigger h
    after=$(dmesg | grep -c 'sysrq: HELP' || true)
    [ "$after" = "$before" ] || fail "VE 101 triggered sysrq on the host through a new procfs"
    refused
}

# kernel.sysrq, a global sysctl. Stopped by: patch 0005 (global sysctls refuse VE tasks) and
# the host-owned file.
test_sysrq_sysctl_stays_the_hosts() {
    iso_ves
    case "$(cat /proc/sys/kernel/sysrq)" in 1) new=0 ;; *) new=1 ;; esac
    keeps /proc/sys/kernel/sysrq 101 write /proc/sys/kernel/sysrq $new
}

# /proc/irq/N/smp_affinity_list: the host's interrupt routing. Stopped by: host-owned file.
test_irq_affinity_stays_the_hosts() {
    iso_ves
    target=""
    for f in /proc/irq/*/smp_affinity_list; do
        [ -e "$f" ] || continue
        old=$(cat "$f")
        case "$old" in 0) want=0-1 ;; *) want=0 ;; esac
        # Only an IRQ the host itself can move says anything.
        if echo "$want" >"$f" 2>/dev/null && [ "$(cat "$f")" = "$want" ]; then
            echo "$old" >"$f"
            target=$f
            break
        fi
    done
    if [ -z "$target" ]; then
        target=/proc/irq/default_smp_affinity
        case "$(cat $target)" in 1) want=3 ;; *) want=1 ;; esac
    fi
    keeps "$target" 101 write "$target" "$want"
}

# /proc/bus/pci: the host's PCI configuration space (byte 0x3c, the interrupt line: a
# scratch register). Stopped by: host-owned file.
test_pci_config_space_stays_the_hosts() {
    iso_ves
    dev=$(ls /proc/bus/pci/00 | grep -v '^00\.0$' | head -n 1)
    [ -n "$dev" ] || fail "no PCI device in /proc/bus/pci/00"
    f=/proc/bus/pci/00/$dev
    byte() { dd if="$f" bs=1 skip=60 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
    old=$(byte)
    case "$old" in 5a) new=a5 ;; *) new=5a ;; esac
    attack 101 write "$f" $new --offset 60 --hex
    now=$(byte)
    if [ "$now" != "$old" ]; then
        vzattack write "$f" "$old" --offset 60 --hex >/dev/null || true
        fail "VE 101 changed $f at 0x3c from $old to $now"
    fi
    refused
}

# ---------------------------------------------------------------------------------------
# sysfs and global sysctls.

flip() { case "$1" in Y) echo N ;; *) echo Y ;; esac; }
PRINTK_TIME=/sys/module/printk/parameters/time

# A fresh sysfs mounted read-write inside, then a host module parameter (printk.time)
# written. Stopped by: sysfs files belong to the host's root (the mount itself may work).
test_a_fresh_sysfs_cannot_change_module_parameters() {
    iso_ves
    keeps $PRINTK_TIME 101 mount sysfs /tmp/iso-sysfs \
        --write module/printk/parameters/time "$(flip "$(cat $PRINTK_TIME)")"
}

# The VE's own /sys remounted read-write, then the same parameter. Stopped by: as above.
test_sys_remounted_read_write_cannot_change_module_parameters() {
    iso_ves
    vzctl exec2 101 'mount -o remount,rw /sys' >/dev/null 2>&1 || true
    remember $PRINTK_TIME
    attack 101 write /sys/module/printk/parameters/time "$(flip "$(cat $PRINTK_TIME)")"
    vzctl exec2 101 'mount -o remount,ro /sys' >/dev/null 2>&1 || true
    unchanged
    refused
}

# Global sysctls: kernel.core_pattern with a pipe (the classic container escape: the host
# runs the program as root on the next crash; only when the kernel has core dumps),
# kernel.pid_max and fs.file-max (the whole machine's limits), net.core's fallback tunnels.
# Stopped by: patch 0005, the host-owned files, net.core's global table (init_net's only).
test_global_sysctls_stay_the_hosts() {
    iso_ves
    if [ -e /proc/sys/kernel/core_pattern ]; then
        keeps /proc/sys/kernel/core_pattern 101 write /proc/sys/kernel/core_pattern \
            "'|/vz/private/101/tmp/iso-core-helper'"
    fi
    keeps /proc/sys/kernel/pid_max 101 write /proc/sys/kernel/pid_max 1000
    keeps /proc/sys/fs/file-max 101 write /proc/sys/fs/file-max 100
    # vzctl start sets it so that VEs get no fallback tunnel devices (their memory): a VE
    # setting it back would give every later VE its sit0.
    keeps /proc/sys/net/core/fb_tunnels_only_for_init_net 101 write \
        /proc/sys/net/core/fb_tunnels_only_for_init_net 0
}

# kernel.modprobe and kernel.poweroff_cmd: usermode helpers the host runs as root.
# Stopped by: patch 0005 and the host-owned files.
test_usermode_helper_paths_stay_the_hosts() {
    iso_ves
    keeps /proc/sys/kernel/modprobe 101 write /proc/sys/kernel/modprobe /vz/private/101/tmp/iso-helper
    keeps /proc/sys/kernel/poweroff_cmd 101 write /proc/sys/kernel/poweroff_cmd /vz/private/101/tmp/iso-helper
}

# ---------------------------------------------------------------------------------------
# cgroups: the VE's limits are the host's to set; the VE sees and reaches its own subtree.

VE101_CG=/sys/fs/cgroup/vz/101

# memory.max of the VE's own cgroup raised, through the VE's /sys/fs/cgroup and a cgroup2 it
# mounts. Stopped by: only cgroup.procs, cgroup.threads and cgroup.subtree_control are
# delegated (chowned to the VE's root); memory.max stays the host's root's.
test_cgroup2_cannot_raise_the_ves_memory_max() {
    iso_ves
    echo 536870912 >$VE101_CG/memory.max
    keeps $VE101_CG/memory.max 101 write /sys/fs/cgroup/memory.max max
    keeps $VE101_CG/memory.max 101 mount cgroup2 /tmp/iso-cgroup2 --write memory.max max
}

# cpu.max (--cpulimit 20) raised. Stopped by: as above.
test_cgroup2_cannot_raise_the_ves_cpu_max() {
    iso_ves
    vzctl set 101 --cpulimit 20 >/dev/null
    old=$(cat $VE101_CG/cpu.max)
    attack 101 write /sys/fs/cgroup/cpu.max "'max 100000'"
    r1=$rc w1=$attack_what v1=$verdict
    new1=$(cat $VE101_CG/cpu.max)
    attack 101 mount cgroup2 /tmp/iso-cgroup2 --write cpu.max "'max 100000'"
    new2=$(cat $VE101_CG/cpu.max)
    # The limit goes before any verdict: a VE left at 20% would slow every later case.
    vzctl set 101 --cpulimit 0 >/dev/null
    expect_eq "cpu.max after VE 101 wrote its /sys/fs/cgroup/cpu.max" "$new1" "$old"
    expect_eq "cpu.max after VE 101 wrote it through its own cgroup2" "$new2" "$old"
    refused "$r1" "$w1" "$v1"
    refused
}

# cpuset.cpus (--cpus 1: CPU 1 of the guest's two) widened to both CPUs. Stopped by: as
# above.
test_cgroup2_cannot_widen_the_ves_cpuset() {
    iso_ves
    vzctl set 101 --cpus 1 >/dev/null
    old=$(cat $VE101_CG/cpuset.cpus)
    attack 101 write /sys/fs/cgroup/cpuset.cpus 0-1
    r1=$rc w1=$attack_what v1=$verdict
    new1=$(cat $VE101_CG/cpuset.cpus)
    attack 101 mount cgroup2 /tmp/iso-cgroup2 --write cpuset.cpus 0-1
    new2=$(cat $VE101_CG/cpuset.cpus)
    vzctl set 101 --cpus unlimited >/dev/null
    expect_eq "cpuset.cpus of VE 101 under --cpus 1" "$old" 1
    expect_eq "cpuset.cpus after VE 101 wrote its /sys/fs/cgroup/cpuset.cpus" "$new1" "$old"
    expect_eq "cpuset.cpus after VE 101 wrote it through its own cgroup2" "$new2" "$old"
    refused "$r1" "$w1" "$v1"
    refused
}

# sched_setaffinity (taskset) onto the CPU outside the VE's cpuset, and onto both CPUs.
# Stopped by: the kernel intersects every affinity with the task's cpuset: a mask with none of
# the VE's CPUs is refused (EINVAL), a wider one narrowed to them.
test_sched_setaffinity_cannot_leave_the_ves_cpus() {
    iso_ves
    vzctl set 101 --cpus 1 >/dev/null
    set +e
    outside=$(vzctl exec2 101 'taskset 1 cat /proc/self/status' 2>&1)
    outside_rc=$?
    both=$(vzctl exec2 101 'taskset 3 cat /proc/self/status' 2>&1)
    set -e
    vzctl set 101 --cpus unlimited >/dev/null
    echo "taskset 1 (CPU 0): exit $outside_rc, $(echo "$outside" | grep -E 'Cpus_allowed_list|taskset')"
    echo "taskset 3 (CPUs 0-1): $(echo "$both" | grep -E 'Cpus_allowed_list|taskset')"
    [ "$outside_rc" != 0 ] || fail "VE 101 ran on CPU 0, outside its cpuset"
    echo "$both" | grep -qx 'Cpus_allowed_list:	1' || fail "VE 101 widened its affinity: $both"
}

# pids.max raised. Stopped by: as above.
test_cgroup2_cannot_raise_the_ves_pids_max() {
    iso_ves
    echo 5000 >$VE101_CG/pids.max
    keeps $VE101_CG/pids.max 101 write /sys/fs/cgroup/pids.max max
    keeps $VE101_CG/pids.max 101 mount cgroup2 /tmp/iso-cgroup2 --write pids.max max
    echo max >$VE101_CG/pids.max
}

# A cgroup2 mounted inside shows the VE's own cgroup as its root: neither vz/ nor the other
# VE. Stopped by: the VE's cgroup namespace, rooted at vz/CTID.
test_cgroup2_inside_shows_only_the_ves_subtree() {
    iso_ves
    [ -d /sys/fs/cgroup/vz/102 ] || fail "positive control: no cgroup of VE 102 on the host"
    ve_cgroup2 101
    out=$(vzctl exec2 101 'ls /tmp/iso-cg; cat /proc/self/cgroup')
    echo "$out"
    echo "$out" | grep -qx 'vz' && fail "VE 101 sees the host's vz/ cgroup"
    echo "$out" | grep -qx '102' && fail "VE 101 sees VE 102's cgroup"
    echo "$out" | grep -qx '0::/' || fail "VE 101's cgroup is not the root of its view"
}

# Positive control of the delegation: VE root makes a sub-cgroup and moves a task into it
# (systemd does), which the host sees under vz/101.
test_the_ves_cgroup_is_delegated_for_sub_cgroups() {
    iso_ves
    ve_cgroup2 101
    out=$(vzctl exec2 101 'mkdir -p /tmp/iso-cg/iso-sub && echo $$ >/tmp/iso-cg/iso-sub/cgroup.procs &&
        cat /proc/self/cgroup' 2>&1) || fail "VE 101 cannot use its delegated cgroup: $out"
    [ -d $VE101_CG/iso-sub ] || fail "no vz/101/iso-sub on the host"
    wait_for "vz/101/iso-sub to empty" rmdir $VE101_CG/iso-sub
    expect_eq "the task's cgroup inside" "$out" "0::/iso-sub"
}

# open_by_handle_at on the VE's cgroup2 mount with the handle of the host's root cgroup,
# then the VE's init written into its cgroup.procs (out of every limit). Stopped by: 6.12
# decodes handles for a user namespace's own mount only inside that mount's root (the VE's
# cgroup) and never without CAP_DAC_READ_SEARCH over it.
test_open_by_handle_cannot_move_the_ve_into_the_hosts_root_cgroup() {
    iso_ves
    ve_cgroup2 101
    handle=$(handle_of /sys/fs/cgroup /sys/fs/cgroup)
    init=$(init_of 101)
    attack 101 by-handle /tmp/iso-cg $handle write-at cgroup.procs 1
    now=$(cat /proc/$init/cgroup)
    case "$now" in
        0::/vz/101*) ;;
        *) echo $init >$VE101_CG/cgroup.procs; fail "VE 101's init moved to cgroup '$now'" ;;
    esac
    refused
}

# The same with the handle of the other VE's cgroup: its pids.max set. Stopped by: as above.
test_open_by_handle_cannot_reach_another_ves_cgroup() {
    iso_ves
    ve_cgroup2 101
    handle=$(handle_of /sys/fs/cgroup/vz/102 /sys/fs/cgroup)
    keeps /sys/fs/cgroup/vz/102/pids.max 101 by-handle /tmp/iso-cg $handle write-at pids.max 7
}

# Reading, not writing: open_by_handle_at on the VE's own cgroup2 mount (its superblock is
# the VE user namespace's, where 6.12 decodes directory handles without a subtree check)
# with the handle of the host's root cgroup, then a listing of it (the host's and every
# VE's cgroups). Stopped by: patch 0005, a VE task decodes no handle.
test_open_by_handle_cannot_list_the_hosts_cgroup_tree() {
    iso_ves
    ve_cgroup2 101
    handle=$(handle_of /sys/fs/cgroup /sys/fs/cgroup)
    attack 101 by-handle /tmp/iso-cg $handle list
    case "$verdict" in *vz*) fail "VE 101 listed the host's cgroup tree: $verdict" ;; esac
    refused
}

# ---------------------------------------------------------------------------------------
# The host's /vz: shocker, binds, devtmpfs, block devices, device nodes.

# "Shocker": the handle of another VE's /etc, decoded through the VE's own root (the same
# ext4), then a file there written and the directory listed. Stopped by: as for cgroups (the
# other area is outside the VE's mount root; ext4's superblock is the host's).
test_shocker_cannot_reach_another_ves_private_area() {
    iso_ves
    echo "secret of VE 102" >/vz/private/102/etc/iso-secret
    handle=$(handle_of /vz/private/102/etc /vz)
    keeps /vz/private/102/etc/iso-secret 101 by-handle / $handle write-at iso-secret written-by-101
    attack 101 by-handle / $handle list
    rm -f /vz/private/102/etc/iso-secret
    refused
}

# Shocker on the root of the host's /vz: a file created there.
test_shocker_cannot_write_the_hosts_vz() {
    iso_ves
    rm -f /vz/iso-shocker
    handle=$(handle_of /vz /vz)
    attack 101 by-handle / $handle create iso-shocker
    [ ! -e /vz/iso-shocker ] || { rm -f /vz/iso-shocker; fail "VE 101 created /vz/iso-shocker"; }
    refused
}

# The whole of /vz bind-mounted inside (reached by its handle), then written through.
test_the_hosts_vz_cannot_be_bind_mounted_inside() {
    iso_ves
    rm -f /vz/iso-bind-mark
    handle=$(handle_of /vz /vz)
    attack 101 by-handle / $handle bind /tmp/iso-vz iso-bind-mark
    [ ! -e /vz/iso-bind-mark ] || { rm -f /vz/iso-bind-mark; fail "VE 101 wrote /vz through a bind"; }
    refused
}

# The host's devtmpfs mounted inside, a file created in the host's /dev. Stopped by:
# devtmpfs cannot be mounted from a user namespace.
test_devtmpfs_cannot_be_mounted_inside() {
    iso_ves
    rm -f /dev/iso-devtmpfs
    attack 101 mount devtmpfs /tmp/iso-devtmpfs --write iso-devtmpfs x
    [ ! -e /dev/iso-devtmpfs ] || { rm -f /dev/iso-devtmpfs; fail "VE 101 created /dev/iso-devtmpfs"; }
    refused
}

# The host's /vz disk mounted inside, from devtmpfs's node or a node made by mknod, and
# written. Stopped by: ext4 cannot be mounted from a user namespace; devtmpfs as above;
# mknod as below.
test_the_hosts_disk_cannot_be_mounted_inside() {
    iso_ves
    dev=$(cat /sys/block/vda/dev)
    rm -f /vz/iso-vda-mark
    vzctl exec2 101 "vzattack mount devtmpfs /tmp/iso-devtmpfs --keep;
        vzattack mknod /tmp/iso-vda b ${dev%:*} ${dev#*:}" >/dev/null 2>&1 || true
    attack 101 mount ext4 /tmp/iso-vdamnt --source /tmp/iso-devtmpfs/vda --write iso-vda-mark x
    r1=$rc w1=$attack_what v1=$verdict
    attack 101 mount ext4 /tmp/iso-vdamnt --source /tmp/iso-vda --write iso-vda-mark x
    vzctl exec2 101 'umount /tmp/iso-devtmpfs; rm -f /tmp/iso-vda' >/dev/null 2>&1 || true
    rm -f /vz/private/101/tmp/iso-vda
    [ ! -e /vz/iso-vda-mark ] || { rm -f /vz/iso-vda-mark; fail "VE 101 mounted and wrote the host's disk"; }
    refused "$r1" "$w1" "$v1"
    refused
}

# no_node CTID NAME b|c MAJOR MINOR: mknod of the device inside is refused and leaves no
# node on the VE's disk. Stopped by: the module's device rules (no "m" for it) and
# CAP_MKNOD of the VE's user namespace reaching only granted devices.
no_node() {
    iso_ves
    rm -f "/vz/private/$1/tmp/$2"
    attack "$1" mknod "/tmp/$2" "$3" "$4" "$5"
    if [ -e "/vz/private/$1/tmp/$2" ]; then
        rm -f "/vz/private/$1/tmp/$2"
        fail "VE $1 made a node of $3 $4:$5"
    fi
    refused
}

# mknod of the host's disk (then raw reads and writes of every VE's files).
test_mknod_of_the_hosts_disk_is_refused() {
    dev=$(cat /sys/block/vda/dev)
    no_node 101 iso-vda b "${dev%:*}" "${dev#*:}"
}

# mknod of /dev/mem (physical memory).
test_mknod_of_dev_mem_is_refused() { no_node 101 iso-mem c 1 1; }

# mknod of /dev/kmsg (the host's kernel log, read and written).
test_mknod_of_dev_kmsg_is_refused() { no_node 101 iso-kmsg c 1 11; }

# mknod of /dev/port (I/O ports).
test_mknod_of_dev_port_is_refused() { no_node 101 iso-port c 1 4; }

# mknod of /dev/vzctl (the control device: every VE's limits).
test_mknod_of_dev_vzctl_is_refused() {
    dev=$(cat /sys/class/misc/vzctl/dev)
    no_node 101 iso-vzctl c "${dev%:*}" "${dev#*:}"
}

# The VE's own beancounters set through /dev/vzctl (absent inside) and through a node made
# for it. Stopped by: no node, the device rules, and the module's CAP_SYS_ADMIN check
# against the host's user namespace.
test_dev_vzctl_cannot_set_the_ves_own_beancounters() {
    iso_ves
    vzctl exec2 101 'test -e /dev/vzctl' && fail "/dev/vzctl exists inside VE 101"
    before=$(vztest ubget 101 numproc | cut -d' ' -f3,4)
    attack 101 ubset /dev/vzctl 101 numproc 99999 99999
    r1=$rc w1=$attack_what v1=$verdict
    dev=$(cat /sys/class/misc/vzctl/dev)
    vzctl exec2 101 "vzattack mknod /tmp/iso-vzctl c ${dev%:*} ${dev#*:}" >/dev/null 2>&1 || true
    attack 101 ubset /tmp/iso-vzctl 101 numproc 99999 99999
    rm -f /vz/private/101/tmp/iso-vzctl
    after=$(vztest ubget 101 numproc | cut -d' ' -f3,4)
    if [ "$after" != "$before" ]; then
        vztest ubset 101 numproc "${before% *}:${before#* }" >/dev/null
        fail "VE 101 set its numproc from $before to $after"
    fi
    refused "$r1" "$w1" "$v1"
    refused
}

# ---------------------------------------------------------------------------------------
# The host's disk: quotas, freeze, shutdown, swap.

# A file moved to project 0 (FS_IOC_FSSETXATTR), out of the VE's quota, then written past
# --diskspace. Stopped by: the kernel refuses a project change from outside the initial
# user namespace.
test_a_file_cannot_leave_the_ves_disk_quota() {
    iso_ves
    [ "$(vzattack projid /vz/private/101/etc)" = 101 ] || fail "positive control: /etc of VE 101 is not in project 101"
    vzctl set 101 --diskspace 20M:20M >/dev/null
    vzctl exec2 101 'rm -f /tmp/iso-proj; echo x >/tmp/iso-proj'
    attack 101 set-projid /tmp/iso-proj 0
    project=$(vzattack projid /vz/private/101/tmp/iso-proj)
    set +e
    vzctl exec2 101 'dd if=/dev/zero of=/tmp/iso-proj bs=1M count=30 2>/dev/null'
    wrote=$?
    set -e
    vzctl exec2 101 'rm -f /tmp/iso-proj'
    vzctl set 101 --diskspace "$(conf_value 101 DISKSPACE)" >/dev/null
    [ "$project" = 101 ] || fail "VE 101 moved a file to project $project"
    [ "$wrote" != 0 ] || fail "VE 101 wrote 30 MB past a 20 MB --diskspace"
    refused
}

# The VE's own project quota lifted with quotactl_fd (Q_SETQUOTA), then written past.
# Stopped by: quotactl needs CAP_SYS_ADMIN over the filesystem's (the host's) namespace.
test_quotactl_cannot_lift_the_ves_disk_quota() {
    iso_ves
    vzctl set 101 --diskspace 20M:20M >/dev/null
    before=$(vzattack quota-get /vz 101)
    attack 101 quota-set / 101
    after=$(vzattack quota-get /vz 101)
    set +e
    vzctl exec2 101 'dd if=/dev/zero of=/tmp/iso-big bs=1M count=30 2>/dev/null'
    wrote=$?
    set -e
    vzctl exec2 101 'rm -f /tmp/iso-big'
    vzctl set 101 --diskspace "$(conf_value 101 DISKSPACE)" >/dev/null
    [ "$after" = "$before" ] || fail "VE 101 changed its quota from '$before' to '$after'"
    [ "$wrote" != 0 ] || fail "VE 101 wrote 30 MB past a 20 MB --diskspace"
    refused
}

# FIFREEZE of the host's /vz (every VE's disk stops). Stopped by: CAP_SYS_ADMIN over the
# superblock's (the host's) user namespace.
test_the_hosts_disk_cannot_be_frozen() {
    iso_ves
    attack 101 fsfreeze /
    if ! timeout 20 sh -c 'echo ok >/vz/.iso-freeze-check'; then
        fsfreeze --unfreeze /vz || true
        fail "the host's /vz was not writable after VE 101's FIFREEZE"
    fi
    rm -f /vz/.iso-freeze-check
    refused
}

# EXT4_IOC_SHUTDOWN of the host's /vz (probed with an invalid flag: passing the capability
# check shows as EINVAL, nothing is shut down). Stopped by: capable(CAP_SYS_ADMIN).
test_the_hosts_disk_cannot_be_shut_down() {
    iso_ves
    attack 101 ext4-shutdown /
    timeout 20 sh -c 'echo ok >/vz/.iso-shutdown-check' || fail "the host's /vz is not writable"
    rm -f /vz/.iso-shutdown-check
    refused
}

# swapon of a file the VE made: the host would swap to the VE's disk. Stopped by:
# capable(CAP_SYS_ADMIN).
test_swapon_is_refused_inside() {
    iso_ves
    vzctl exec2 101 'rm -f /iso-swap && dd if=/dev/zero of=/iso-swap bs=1M count=4 2>/dev/null &&
        chmod 600 /iso-swap && mkswap /iso-swap >/dev/null'
    attack 101 swapon /iso-swap
    if grep -q iso-swap /proc/swaps; then
        swapoff /vz/private/101/iso-swap 2>/dev/null || swapoff /vz/root/101/iso-swap 2>/dev/null || true
        fail "the host swaps to VE 101's file"
    fi
    vzctl exec2 101 'rm -f /iso-swap'
    refused
}

# swapoff of the host's swap file (reached by its directory's handle), and swapoff of a
# missing path (ENOENT would mean the capability check passed). Stopped by:
# capable(CAP_SYS_ADMIN), and the handle as above.
test_swapoff_of_the_hosts_swap_is_refused() {
    iso_ves
    swapoff /vz/iso-hostswap 2>/dev/null || true
    dd if=/dev/zero of=/vz/iso-hostswap bs=1M count=4 2>/dev/null
    chmod 600 /vz/iso-hostswap
    mkswap /vz/iso-hostswap >/dev/null
    swapon /vz/iso-hostswap
    handle=$(handle_of /vz /vz)
    attack 101 by-handle / $handle swapoff iso-hostswap
    r1=$rc w1=$attack_what v1=$verdict
    grep -q iso-hostswap /proc/swaps && on1=yes || on1=no
    attack 101 swapoff /iso-no-such-swap
    grep -q iso-hostswap /proc/swaps && on2=yes || on2=no
    swapoff /vz/iso-hostswap 2>/dev/null || true
    rm -f /vz/iso-hostswap
    [ $on1 = yes ] && [ $on2 = yes ] || fail "VE 101 turned the host's swap off"
    refused "$r1" "$w1" "$v1"
    refused
}

# ---------------------------------------------------------------------------------------
# perf and BPF.

# A system-wide perf counter (every task on a CPU), and perf_event_paranoid lowered.
# Positive control: a counter of its own task opens. Stopped by: CAP_PERFMON (or
# CAP_SYS_ADMIN) of the host's user namespace; patch 0005 for the sysctl.
test_perf_cannot_count_the_whole_host() {
    iso_ves
    attack 101 perf-self
    allowed
    attack 101 perf-cpu
    refused
    keeps /proc/sys/kernel/perf_event_paranoid 101 write /proc/sys/kernel/perf_event_paranoid -1
}

# Privileged BPF program types (and the socket filter: unprivileged BPF is off). Stopped
# by: CAP_BPF of the host's user namespace (no BPF token can be made inside).
test_bpf_programs_cannot_be_loaded() {
    iso_ves
    attack 101 bpf-prog socket_filter kprobe tracepoint raw_tracepoint perf_event xdp sched_cls cgroup_skb
    refused
}

# A program the verifier accepts only with pointer leaks allowed (it stores a kernel stack
# address in a map). Stopped by: as above (no map, no program).
test_bpf_verifier_leaks_no_kernel_address() {
    iso_ves
    attack 101 bpf-leak
    refused
}

# The host's BPF map opened by its id (BPF_MAP_GET_FD_BY_ID) and overwritten. Stopped by:
# capable(CAP_SYS_ADMIN).
test_the_hosts_bpf_maps_cannot_be_opened_by_id() {
    iso_ves
    rm -f /tmp/iso-map-id
    vzattack bpf-map-hold /tmp/iso-map-id >/tmp/iso-map.out 2>&1 &
    holder=$!
    wait_for "the host's map" test -s /tmp/iso-map-id
    attack 101 bpf-map-attack "$(cat /tmp/iso-map-id)"
    rm -f /tmp/iso-map-id
    wait $holder || true
    expect_eq "the host's map after VE 101's attempt" "$(cat /tmp/iso-map.out)" "value 0x1111"
    refused
}

# bpffs inside: a mount with delegation options (what a BPF token needs), a token from it;
# a plain bpffs inside holds nothing the host pinned. Stopped by: delegation options need
# CAP_SYS_ADMIN of the host's namespace; each bpffs mount is its own instance.
test_bpffs_inside_delegates_nothing_and_shows_nothing_of_the_hosts() {
    iso_ves
    mkdir -p /sys/fs/bpf
    grep -q ' /sys/fs/bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
    rm -f /sys/fs/bpf/iso-host-map
    vzattack bpf-pin /sys/fs/bpf/iso-host-map >/dev/null
    attack 101 mount bpf /tmp/iso-bpfd --keep \
        --data delegate_cmds=any,delegate_maps=any,delegate_progs=any,delegate_attachs=any
    r1=$rc w1=$attack_what v1=$verdict
    attack 101 bpf-token /tmp/iso-bpfd
    r2=$rc w2=$attack_what v2=$verdict
    listing=$(vzctl exec2 101 'mkdir -p /tmp/iso-bpf; mount -t bpf bpf /tmp/iso-bpf 2>/dev/null;
        ls -a /tmp/iso-bpf /tmp/iso-bpfd; umount /tmp/iso-bpf /tmp/iso-bpfd' 2>&1 || true)
    rm -f /sys/fs/bpf/iso-host-map
    echo "$listing"
    echo "$listing" | grep -q iso-host-map && fail "VE 101 sees the host's pinned map"
    refused "$r1" "$w1" "$v1"
    refused "$r2" "$w2" "$v2"
}

# ---------------------------------------------------------------------------------------
# Pseudo-filesystems of the host's kernel. Stopped by: none of them can be mounted from a
# user namespace (and several are not in this kernel at all: refused with ENODEV).

# no_mount FSTYPE: a FSTYPE mount inside is refused; the host sees none in the VE's mounts.
no_mount() {
    iso_ves
    attack 101 mount "$1" "/tmp/iso-$1" --keep
    if grep -q " - $1 " /proc/"$(init_of 101)"/mountinfo; then
        vzctl exec2 101 "umount /tmp/iso-$1" >/dev/null 2>&1 || true
        fail "VE 101 mounted $1"
    fi
    refused
}

# debugfs: kernel internals, writable knobs.
test_debugfs_cannot_be_mounted_inside() { no_mount debugfs; }

# tracefs: kprobes, ftrace, every task's activity.
test_tracefs_cannot_be_mounted_inside() { no_mount tracefs; }

# securityfs: LSM policies.
test_securityfs_cannot_be_mounted_inside() { no_mount securityfs; }

# configfs: kernel objects configured by mkdir (targets, gadgets).
test_configfs_cannot_be_mounted_inside() { no_mount configfs; }

# pstore: the host's crash records.
test_pstore_cannot_be_mounted_inside() { no_mount pstore; }

# efivarfs: firmware variables (a machine that no longer boots).
test_efivarfs_cannot_be_mounted_inside() { no_mount efivarfs; }

# binfmt_misc: interpreters the host's kernel runs for every exec.
test_binfmt_misc_cannot_be_mounted_inside() { no_mount binfmt_misc; }

# ---------------------------------------------------------------------------------------
# CVE-2022-0492: a cgroup v1 hierarchy's release_agent, run by the host as root when a
# cgroup empties. A new hierarchy can only be made in the initial cgroup namespace, so the
# attack goes through one the host has (as systemd's name=systemd on a hybrid host), which
# the VE mounts too. Stopped by: the kernel accepts release_agent only from the initial user
# namespace.

# The agent: a script in VE 101's area that leaves a mark in the host's /tmp.
agent_script() {
    rm -f /tmp/iso-release-agent-ran
    printf '#!/bin/sh\ntouch /tmp/iso-release-agent-ran\n' >/vz/private/101/tmp/iso-agent.sh
    chmod 755 /vz/private/101/tmp/iso-agent.sh
}

# release_in_ve DIR: empties a child cgroup of the v1 hierarchy mounted at DIR in VE 101 with
# notify_on_release set, and says whether the agent ran on the host within 3 s.
release_in_ve() {
    vzctl exec2 101 "echo 1 >$1/notify_on_release; mkdir -p $1/iso-x &&
        sh -c 'echo \$\$ >$1/iso-x/cgroup.procs'; sleep 1; rmdir $1/iso-x" >/dev/null 2>&1 || true
    tries=0
    while [ $tries -lt 20 ]; do
        [ -e /tmp/iso-release-agent-ran ] && return 0
        sleep 0.1
        tries=$((tries + 1))
    done
    return 1
}

test_cgroup1_release_agent_cannot_be_written_cve_2022_0492() {
    iso_ves
    agent_script
    mkdir -p /tmp/iso-host-cg1
    grep -q ' /tmp/iso-host-cg1 ' /proc/mounts || mount -t cgroup -o none,name=isorel cgroup /tmp/iso-host-cg1
    vzctl exec2 101 'mkdir -p /tmp/iso-cg1 && { grep -q " /tmp/iso-cg1 " /proc/mounts ||
        mount -t cgroup -o none,name=isorel cgroup /tmp/iso-cg1; } && ls /tmp/iso-cg1/release_agent' ||
        echo "VE 101 cannot mount the host's v1 hierarchy"
    attack 101 write /tmp/iso-cg1/release_agent /vz/private/101/tmp/iso-agent.sh
    ran=no
    release_in_ve /tmp/iso-cg1 && ran=yes
    agent=$(cat /tmp/iso-host-cg1/release_agent)
    echo >/tmp/iso-host-cg1/release_agent
    vzctl exec2 101 'umount /tmp/iso-cg1' >/dev/null 2>&1 || true
    umount /tmp/iso-host-cg1 || true
    [ $ran = no ] || fail "the release agent set by VE 101 ran on the host as root"
    [ -z "$agent" ] || fail "VE 101 set the host's release_agent to $agent"
    refused
}

# The same as a mount option of a new hierarchy.
test_cgroup1_release_agent_mount_option_is_refused_cve_2022_0492() {
    iso_ves
    agent_script
    attack 101 mount cgroup /tmp/iso-cg2 --keep \
        --data none,name=isorel2,release_agent=/vz/private/101/tmp/iso-agent.sh
    ran=no
    release_in_ve /tmp/iso-cg2 && ran=yes
    vzctl exec2 101 'umount /tmp/iso-cg2' >/dev/null 2>&1 || true
    [ $ran = no ] || fail "the release agent set by VE 101 ran on the host as root"
    refused
}

# ---------------------------------------------------------------------------------------
# The kernel's memory and log.

# /proc/kcore: the kernel's memory. Stopped by: CAP_SYS_RAWIO of the host (and absent here).
test_kcore_is_not_readable_inside() {
    iso_ves
    attack 101 read /proc/kcore
    refused
}

# /proc/kallsyms: addresses (KASLR) must read as zeros. Positive control: the host sees
# them. Stopped by: CAP_SYSLOG of the host's user namespace.
test_kallsyms_shows_no_kernel_addresses_inside() {
    iso_ves
    host=$(grep -c -v '^0000000000000000 ' /proc/kallsyms || true)
    [ "$host" -gt 0 ] || fail "positive control: the host sees no kallsyms addresses"
    inside=$(vzctl exec2 101 "grep -c -v '^0000000000000000 ' /proc/kallsyms" || true)
    expect_eq "kallsyms lines with an address in VE 101" "$inside" 0
}

# /proc/kmsg: reading it consumes the host's log. Stopped by: host-owned 0400 file and
# CAP_SYSLOG.
test_proc_kmsg_is_not_readable_inside() {
    iso_ves
    attack 101 read /proc/kmsg
    refused
}

# dmesg (syslog(2)) and /dev/kmsg inside: a line the host logged. Stopped by:
# dmesg_restrict (set by vzctl start) and CAP_SYSLOG of the host.
test_the_hosts_kernel_log_is_not_readable_inside() {
    iso_ves
    marker=iso-kmsg-marker-$$
    echo "$marker" >/dev/kmsg
    out=$(vzctl exec2 101 dmesg 2>&1 || true)
    echo "$out" | grep -q "$marker" && fail "VE 101 read the host's kernel log"
    attack 101 read /dev/kmsg
    refused
}

# dmesg -c: the host's log cleared. Stopped by: as above.
test_the_hosts_kernel_log_cannot_be_cleared_inside() {
    iso_ves
    marker=iso-kmsg-clear-$$
    echo "$marker" >/dev/kmsg
    vzctl exec2 101 'dmesg -c' >/dev/null 2>&1 || true
    dmesg | grep -q "$marker" || fail "VE 101 cleared the host's kernel log"
}

# ---------------------------------------------------------------------------------------
# Whole-machine calls: kexec, reboot, Ctrl-Alt-Del, modules, clocks, port I/O.

# kexec_load and kexec_file_load (asked to unload: nothing is touched either way). Stopped
# by: capable(CAP_SYS_BOOT) (and kexec is not in this kernel).
test_kexec_is_refused_inside() {
    iso_ves
    attack 101 kexec
    [ ! -e /sys/kernel/kexec_loaded ] || expect_eq "kexec_loaded" "$(cat /sys/kernel/kexec_loaded)" 0
    refused
}

# Ctrl-Alt-Del behaviour (reboot CAD_ON/CAD_OFF). Stopped by: in a child pid namespace
# reboot(2) takes only restart and halt (EINVAL).
test_ctrl_alt_del_stays_the_hosts() {
    iso_ves
    keeps /proc/sys/kernel/ctrl-alt-del 101 reboot cad-off
    keeps /proc/sys/kernel/ctrl-alt-del 101 reboot cad-on
}

# init_module and finit_module, directly and from a user namespace nested in the VE's (in
# which it has every capability). Stopped by: capable(CAP_SYS_MODULE) of the host.
test_modules_cannot_be_loaded_inside_even_from_a_nested_user_namespace() {
    iso_ves
    before=$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')
    attack 101 init-module --nested-userns
    r1=$rc w1=$attack_what v1=$verdict
    attack 101 init-module
    expect_eq "the host's modules" "$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')" "$before"
    refused "$r1" "$w1" "$v1"
    refused
}

# clock_settime and settimeofday of CLOCK_REALTIME (time namespaces do not cover it).
# Stopped by: capable(CAP_SYS_TIME).
test_the_clock_cannot_be_set_inside() {
    iso_ves
    before=$(date +%s)
    attack 101 settime
    after=$(date +%s)
    if [ $((after - before)) -gt 600 ] || [ $((after - before)) -lt -600 ]; then
        vzattack settime $((before + 5)) >/dev/null || true
        fail "VE 101 moved the host's clock by $((after - before)) s"
    fi
    refused
}

# The kernel's timezone (settimeofday with a timezone only). Stopped by: as above.
test_the_kernels_timezone_cannot_be_set_inside() {
    iso_ves
    before=$(vzattack clock-state | awk '{ print $2 }')
    attack 101 settz
    after=$(vzattack clock-state | awk '{ print $2 }')
    [ "$after" = "$before" ] || { vzattack settz "$before" >/dev/null || true; fail "VE 101 set the timezone to $after"; }
    refused
}

# The clock's frequency (adjtimex ADJ_FREQUENCY). Stopped by: as above.
test_the_clock_frequency_cannot_be_adjusted_inside() {
    iso_ves
    before=$(vzattack clock-state | awk '{ print $4 }')
    attack 101 adjtime
    after=$(vzattack clock-state | awk '{ print $4 }')
    [ "$after" = "$before" ] || { vzattack adjtime "$before" >/dev/null || true; fail "VE 101 set the frequency to $after"; }
    refused
}

# The VE's boot time moved: its init's timens_offsets written. Stopped by: the kernel froze
# them when init, the namespace's first task, was forked; and VE root has no CAP_SYS_TIME
# (vzctl drops it), which writing them takes even in its own user namespace.
test_the_ves_boot_time_cannot_be_moved_inside() {
    iso_ves
    init=$(init_of 101)
    keeps /proc/$init/timens_offsets 101 write /proc/1/timens_offsets "'boottime 86400 0'"
    keeps /proc/$init/timens_offsets 101 write /proc/self/timens_offsets "'boottime 86400 0'"
}

# unshare -T and a day added to the new namespace's boot time. Stopped by: VE root has no
# CAP_SYS_TIME even over a time namespace it owns (vzctl drops it); and a new time namespace
# is its maker's children's alone: the VE's init and every later way in keep the VE's.
test_a_time_namespace_made_inside_leaves_the_ves_alone() {
    iso_ves
    init=$(init_of 101)
    keeps /proc/$init/timens_offsets 101 time-unshare
    up=$(vzctl exec 101 cut -d. -f1 /proc/uptime)
    [ "$up" -lt 86400 ] || fail "VE 101's uptime is $up s after its time-unshare"
}

# iopl and ioperm: raw port I/O. Stopped by: capable(CAP_SYS_RAWIO) (and not in this kernel).
test_port_io_is_refused_inside() {
    iso_ves
    attack 101 iopl
    refused
}

# ---------------------------------------------------------------------------------------
# The host's namespaces and the IPC objects they hold.

host_ns_inodes() {
    for ns in user pid net mnt ipc uts cgroup time; do stat -L -c %i /proc/1/ns/$ns; done | tr '\n' ' '
}

# setns into a host namespace reached through NS_GET_PARENT / NS_GET_USERNS from the VE's
# own. Stopped by: the kernel hands out a parent or owner only to its ancestors' members.
test_setns_cannot_join_the_hosts_namespaces_through_ns_ioctls() {
    iso_ves
    attack 101 setns walk $(host_ns_inodes)
    refused
}

# setns into any namespace file the VE's /proc offers (every task's, every thread's).
# Stopped by: the VE's pid namespace shows no host task.
test_setns_cannot_join_the_hosts_namespaces_through_proc() {
    iso_ves
    attack 101 setns scan $(host_ns_inodes)
    refused
}

# The host's SysV shm segment and message queue: found by key, attached, removed by id.
# Stopped by: the VE's IPC namespace.
test_the_hosts_sysv_ipc_is_out_of_reach() {
    iso_ves
    set -- $(vzattack ipc-make 0x15011)
    shm=$2 msg=$4
    attack 101 ipc-attack 0x15011 "$shm" "$msg"
    expect_eq "the host's IPC objects" "$(vzattack ipc-check "$shm" "$msg" --remove)" "shm present msg present"
    refused
}

# The host's abstract unix socket (abstract names are per network namespace). Positive
# control: the host connects. Stopped by: the VE's network namespace.
test_the_hosts_abstract_unix_sockets_are_out_of_reach() {
    iso_ves
    rm -f /tmp/iso-unix.out
    vzattack unix-listen iso-host-abstract 60 >/tmp/iso-unix.out 2>&1 &
    listener=$!
    wait_for "the host's listener" grep -q ready /tmp/iso-unix.out
    attack 101 unix-connect iso-host-abstract
    set +e
    vzattack unix-connect iso-host-abstract end >/dev/null
    st=$?
    set -e
    wait $listener || true
    [ $st = 1 ] || fail "positive control: the host cannot connect to its own socket"
    expect_eq "connections to the host's socket from VE 101" "$(tail -n 1 /tmp/iso-unix.out)" "others 0"
    refused
}

# The host's keys (a key in root's user keyring: read and invalidated by id). Stopped by:
# keyrings are per user namespace and the VE's root is another uid (and this kernel has no
# keys: ENOSYS).
test_the_hosts_keyrings_are_out_of_reach() {
    iso_ves
    key=$(vzattack key-add iso-host-key)
    case "$key" in
        "key "*)
            attack 101 key-attack "${key#key }"
            case "$(vzattack key-check "${key#key }")" in
                present*) ;;
                *) fail "VE 101 invalidated the host's key" ;;
            esac ;;
        *)
            echo "the host has no keyrings ($key)"
            attack 101 key-attack 1 ;;
    esac
    refused
}

# ---------------------------------------------------------------------------------------
# Networking: links, routes, addresses, other VEs' traffic.

# A veth made inside with one end pushed into the host's namespace (by netnsid, namespace
# descriptor or pid). Stopped by: CAP_NET_ADMIN over the target namespace, the host's.
test_a_veth_cannot_be_pushed_out_of_the_ve() {
    iso_ves
    vzctl exec2 102 'ip link del isoa0' >/dev/null 2>&1 || true
    vzctl exec2 102 'vzattack veth-add isoa0 isob0' >/dev/null || fail "VE 102 cannot make a veth pair (positive control)"
    attack 102 netns-push isob0
    if ip link show isob0 >/dev/null 2>&1; then
        ip link del isob0 || true
        fail "VE 102 pushed isob0 into the host's namespace"
    fi
    vzctl exec2 102 'ip link del isoa0' >/dev/null 2>&1 || true
    refused
}

# The VE's venet0 pushed into the host's namespace. Stopped by: as above.
test_venet0_cannot_be_pushed_out_of_the_ve() {
    iso_ves
    attack 102 netns-push venet0
    if ip link show venet0 >/dev/null 2>&1; then
        ip link del venet0 || true
        vzctl --quiet stop --fast 102 >/dev/null 2>&1 || true
        fail "VE 102 pushed its venet0 into the host's namespace"
    fi
    if ! vzctl exec2 102 'ip link show venet0' >/dev/null 2>&1; then
        vzctl --quiet stop --fast 102 >/dev/null 2>&1 || true
        fail "venet0 left VE 102"
    fi
    refused
}

# A host link deleted through the id the VE's namespace gives the host's (RTM_DELLINK with
# IFLA_TARGET_NETNSID). Stopped by: CAP_NET_ADMIN over the host's namespace.
test_a_host_link_cannot_be_deleted_through_its_netnsid() {
    iso_ves
    ip link show isohost0 >/dev/null 2>&1 || ip link add isohost0 type dummy
    attack 101 dellink-netnsid isohost0
    ip link show isohost0 >/dev/null 2>&1 || fail "VE 101 deleted the host's link isohost0"
    ip link del isohost0
    refused
}

# Routes and forwarding changed inside are the VE's own: the host's routing table,
# ip_forward and venet101's rp_filter stay. Positive control: the VE changes its own.
test_routes_and_forwarding_changed_inside_stay_the_ves() {
    iso_ves
    routes=$(cat /proc/net/route)
    forward=$(cat /proc/sys/net/ipv4/ip_forward)
    rpf=$(cat /proc/sys/net/ipv4/conf/venet101/rp_filter)
    vzctl exec2 101 'ip route add 203.0.113.0/24 dev venet0 && echo 0 >/proc/sys/net/ipv4/ip_forward &&
        echo 0 >/proc/sys/net/ipv4/conf/all/rp_filter' ||
        fail "VE 101 cannot change its own routes and forwarding (positive control)"
    now_routes=$(cat /proc/net/route)
    vzctl exec2 101 'ip route del 203.0.113.0/24 dev venet0' >/dev/null 2>&1 || true
    [ "$now_routes" = "$routes" ] || fail "the host's routes changed: $now_routes"
    expect_eq "the host's ip_forward" "$(cat /proc/sys/net/ipv4/ip_forward)" "$forward"
    expect_eq "the host's rp_filter on venet101" "$(cat /proc/sys/net/ipv4/conf/venet101/rp_filter)" "$rpf"
}

# recv_start PORT: the host listens on UDP PORT (its output in /tmp/iso-recv.out), until a
# datagram says "end".
recv_start() {
    rm -f /tmp/iso-recv.out
    vzattack udp-recv "$1" 60 >/tmp/iso-recv.out 2>&1 &
    receiver=$!
    wait_for "the host's UDP listener" grep -q ready /tmp/iso-recv.out
}

# spoof_case SOURCE PORT: VE 101 sends from its own address (the positive control), from
# SOURCE on a raw socket, and "end" from its own; only its own may reach the host.
spoof_case() {
    iso_ves
    recv_start "$2"
    vzctl exec2 101 "vzattack spoof-udp 10.9.0.101 198.51.100.1 $2 own-101" || fail "raw send failed"
    vzctl exec2 101 "vzattack spoof-udp $1 198.51.100.1 $2 spoofed"
    vzctl exec2 101 "vzattack spoof-udp 10.9.0.101 198.51.100.1 $2 end"
    wait $receiver || true
    cat /tmp/iso-recv.out
    grep -q '^from 10.9.0.101 own-101$' /tmp/iso-recv.out ||
        fail "positive control: VE 101's datagram from its own address did not arrive"
    if grep -q spoofed /tmp/iso-recv.out; then fail "a datagram from VE 101 with source $1 reached the host"; fi
}

# Source-address spoofing as another VE (raw socket, IP_HDRINCL). Stopped by: strict
# rp_filter on venet101 (10.9.0.102 routes to venet102, not back to venet101).
test_a_raw_socket_cannot_send_as_another_ve() { spoof_case 10.9.0.102 9101; }

# Spoofing an address routed nowhere. Stopped by: as above (no route back to venet101).
test_a_raw_socket_cannot_send_from_an_unrouted_address() { spoof_case 203.0.113.7 9102; }

# Another VE's address added to venet0 inside, then used as an ordinary source. Stopped by:
# rp_filter as above; the host's route to 10.9.0.102 stays venet102.
test_another_ves_address_taken_inside_gets_nothing_through() {
    iso_ves
    recv_start 9103
    vzctl exec2 101 'ip addr add 10.9.0.102/32 dev venet0'
    vzctl exec2 101 'vzattack udp-send 10.9.0.102 198.51.100.1 9103 taken-102' || true
    route=$(ip route | grep '^10\.9\.0\.102 ' || true)
    vzctl exec2 101 'vzattack udp-send 10.9.0.101 198.51.100.1 9103 end'
    wait $receiver || true
    vzctl exec2 101 'ip addr del 10.9.0.102/32 dev venet0' || true
    cat /tmp/iso-recv.out
    grep -q '^from 10.9.0.101 end$' /tmp/iso-recv.out || fail "positive control: VE 101's own datagram did not arrive"
    grep -q taken-102 /tmp/iso-recv.out && fail "VE 101 sent as 10.9.0.102 through the host"
    case "$route" in *"dev venet102"*) ;; *) fail "the host's route to 10.9.0.102 is now: $route" ;; esac
}

# A packet socket inside (every link of the VE): VE 102's traffic must not show, VE 101's own
# does (positive control). Stopped by: the VE's network namespace sees its links only.
test_a_packet_socket_sees_no_other_ves_traffic() {
    iso_ves
    out=/vz/private/101/tmp/iso-sniff.out
    rm -f $out
    vzctl exec 101 'vzattack sniff 60 hello-101 secret-102 >/tmp/iso-sniff.out 2>&1 &'
    wait_for "the sniffer in VE 101" grep -q ready $out
    for i in 1 2 3; do
        vzattack udp-send 0.0.0.0 10.9.0.102 9 secret-102 >/dev/null
        vzattack udp-send 0.0.0.0 10.9.0.101 9 hello-101 >/dev/null
    done
    tries=0
    until grep -Eq '^(refused|allowed)' $out || [ $tries -ge 100 ]; do
        vzattack udp-send 0.0.0.0 10.9.0.101 9 stop-sniff >/dev/null
        sleep 0.3
        tries=$((tries + 1))
    done
    cat $out
    verdict=$(grep -E '^(refused|allowed)' $out) || fail "no verdict from the sniffer"
    case "$verdict" in *"own 0 "*) fail "positive control: the sniffer saw none of VE 101's traffic" ;; esac
    case "$verdict" in refused*) ;; *) fail "VE 101 saw VE 102's traffic: $verdict" ;; esac
}

# ---------------------------------------------------------------------------------------
# CPU, processes and files: limits that must hold.

# A SCHED_FIFO busy loop under --cpulimit 20 (real-time tasks escape CFS bandwidth).
# Stopped by: SCHED_FIFO needs CAP_SYS_NICE of the host (RLIMIT_RTPRIO is 0 and cannot be
# raised without CAP_SYS_RESOURCE); the loop then runs throttled.
test_sched_fifo_cannot_escape_the_cpulimit() {
    iso_ves
    vzctl set 101 --cpulimit 20 >/dev/null
    usage() { sed -n 's/^usage_usec //p' $VE101_CG/cpu.stat; }
    u0=$(usage)
    t0=$(now_ms)
    attack 101 fifo-spin 3
    u1=$(usage)
    t1=$(now_ms)
    vzctl set 101 --cpulimit 0 >/dev/null
    used=$(( (u1 - u0) / 1000 ))
    wall=$((t1 - t0))
    echo "VE 101 used $used ms of CPU in $wall ms under --cpulimit 20"
    [ $used -le $((wall / 2)) ] || fail "VE 101 used $used ms of CPU in $wall ms under a 20% limit"
    refused
}

# A fork bomb under numproc 60: refused at the limit, counted, the host and the other VE
# unaffected. Stopped by: the numproc beancounter (and pids.max).
test_a_fork_bomb_stops_at_numproc() {
    iso_ves
    vzctl set 102 --numproc 60:60 >/dev/null
    failcnt=$(vztest ubget 102 numproc | cut -d' ' -f5)
    attack 102 forkbomb 5000
    set -- $(vztest ubget 102 numproc)
    vzctl set 102 --numproc "$(conf_value 102 NUMPROC)" >/dev/null
    [ "$2" -le 60 ] || fail "VE 102 held $2 processes under a limit of 60"
    [ "$5" -gt "$failcnt" ] || fail "the refused forks were not counted"
    for i in 1 2 3 4 5; do /bin/true || fail "the host cannot fork"; done
    vzctl exec2 101 true || fail "VE 101 cannot run a command"
    refused
}

# A descriptor bomb (per-process limit raised to the hard one, four processes) under
# numfile 300. Stopped by: the numfile beancounter.
test_a_descriptor_bomb_stops_at_numfile() {
    iso_ves
    vzctl set 102 --numfile 300:300 >/dev/null
    failcnt=$(vztest ubget 102 numfile | cut -d' ' -f5)
    attack 102 fdbomb 4
    set -- $(vztest ubget 102 numfile)
    vzctl set 102 --numfile "$(conf_value 102 NUMFILE)" >/dev/null
    [ "$2" -le 300 ] || fail "VE 102 held $2 files under a limit of 300"
    [ "$5" -gt "$failcnt" ] || fail "the refused opens were not counted"
    cat /etc/passwd >/dev/null || fail "the host cannot open a file"
    refused
    case "$verdict" in *ENFILE*) ;; *) fail "numfile did not stop the bomb: $verdict" ;; esac
}

# ---------------------------------------------------------------------------------------
# Entry paths: what vzctl exec, exec2, runscript and enter hand the command.

# The host file given to exec2 as stdin, reopened for writing through /proc/self/fd/0.
# Stopped by: stdin reaches the VE as a pipe vzctl relays.
test_exec2_stdin_cannot_be_reopened_for_writing() {
    iso_ves
    printf 'a host file, the stdin of exec2\n' >/tmp/iso-stdin
    remember /tmp/iso-stdin
    attack_ve=101 attack_what="vzattack reopen-fd 0 w (stdin: a host file)"
    set +e
    verdict=$(vzctl exec2 101 'vzattack reopen-fd 0 w' </tmp/iso-stdin 2>&1)
    rc=$?
    set -e
    echo "$verdict"
    unchanged
    refused
}

# A host log given to exec as stdout (>>), reopened to read what the host logged before and
# to truncate it. Stopped by: stdout reaches the VE as a pipe vzctl relays.
test_exec_stdout_cannot_be_reopened_to_read_or_truncate_a_host_log() {
    iso_ves
    printf 'host-log-secret\n' >/tmp/iso-log
    vzctl exec 101 'vzattack reopen-fd 1 r; vzattack reopen-fd 1 trunc' >>/tmp/iso-log 2>&1 || true
    cat /tmp/iso-log
    [ "$(head -n 1 /tmp/iso-log)" = host-log-secret ] || fail "VE 101 truncated the host's log"
    [ "$(grep -c host-log-secret /tmp/iso-log)" = 1 ] || fail "VE 101 read the host's log"
    if grep -q '^allowed' /tmp/iso-log; then fail "VE 101 reopened its stdout"; fi
}

# The same through runscript (stdin a host file, stdout a host log).
test_runscript_stdio_cannot_be_reopened() {
    iso_ves
    printf 'a host file, the stdin of runscript\n' >/tmp/iso-stdin
    printf 'host-log-secret\n' >/tmp/iso-log
    printf 'vzattack reopen-fd 0 w\nvzattack reopen-fd 1 r\nvzattack reopen-fd 1 trunc\n' >/tmp/iso-script.sh
    remember /tmp/iso-stdin
    vzctl runscript 101 /tmp/iso-script.sh </tmp/iso-stdin >>/tmp/iso-log 2>&1 || true
    cat /tmp/iso-log
    attack_ve=101 attack_what="runscript reopening its stdin"
    unchanged
    [ "$(head -n 1 /tmp/iso-log)" = host-log-secret ] || fail "VE 101 truncated the host's log"
    [ "$(grep -c host-log-secret /tmp/iso-log)" = 1 ] || fail "VE 101 read the host's log"
    if grep -q '^allowed' /tmp/iso-log; then fail "VE 101 reopened its stdio"; fi
}

# on_admin_terminal ARGS...: runs `vzattack pty-run ARGS` (the command on a new pty, the
# admin's terminal) and fails unless nothing was pushed into that terminal's input.
on_admin_terminal() {
    set +e
    out=$(vzattack pty-run "$@" 2>/tmp/iso-pty.log)
    st=$?
    set -e
    cat /tmp/iso-pty.log
    echo "$out"
    [ $st = 0 ] || fail "the admin's terminal: $out"
}

# TIOCSTI on stdin, the admin's terminal, pushing a command the admin's shell would run.
# Stopped by: stdin is a pipe (ENOTTY); no host terminal reaches the VE.
test_tiocsti_through_stdin_cannot_reach_the_admins_terminal() {
    iso_ves
    on_admin_terminal -- vzctl exec2 101 "vzattack tiocsti 0 'echo INJECTED'"
}

# TIOCSTI on /dev/tty, the controlling terminal. Stopped by: the command has none inside
# (ENXIO).
test_tiocsti_through_dev_tty_cannot_reach_the_admins_terminal() {
    iso_ves
    on_admin_terminal -- vzctl exec2 101 "vzattack tiocsti /dev/tty 'echo INJECTED'"
}

# TIOCSTI from a vzctl enter session: it reaches the VE's own pty only. Stopped by: enter
# relays a pty of the VE's devpts.
test_tiocsti_from_enter_cannot_reach_the_admins_terminal() {
    iso_ves
    on_admin_terminal --input 'vzattack tiocsti /dev/tty "echo INJ""ECTED"\nexit\n' \
        --after 'entered into CT' -- vzctl enter 101
}

# race_exe CTID TRIES [--hijack-sh]: an attacker in the VE watches /proc/*/exe while the
# host runs `vzctl exec2 CTID true` up to TRIES times; vzctl's binary must stay as it was and
# the attacker must open nothing of the host's for writing.
race_exe() {
    iso_ves
    sum=$(md5sum </usr/local/bin/vzctl)
    dir=/vz/private/$1/tmp
    out=$dir/iso-race.out
    rm -f $out $dir/iso-race.stop
    vzctl exec $1 "vzattack exe-race /tmp/iso-race.stop 240 $3 >/tmp/iso-race.out 2>&1 &" ||
        echo "vzctl exec of the attacker exited $?"
    state=starting
    tries=0
    while [ $tries -lt 150 ]; do
        grep -q ready $out 2>/dev/null && { state=ready; break; }
        sleep 0.2
        tries=$((tries + 1))
    done
    tries=0
    while [ $state = ready ] && [ $tries -lt $2 ] && ! grep -q '^caught' $out; do
        vzctl exec2 $1 true >/dev/null 2>&1 || true
        tries=$((tries + 1))
    done
    touch $dir/iso-race.stop
    tries=0
    while [ $state = ready ] && [ $tries -lt 300 ]; do
        grep -Eq '^(refused|allowed)' $out && { state=done; break; }
        sleep 0.2
        tries=$((tries + 1))
    done
    # /bin/sh is back whatever happened to the attacker.
    if [ ! -L /vz/private/$1/bin/sh ]; then
        rm -f /vz/private/$1/bin/sh
        ln -s /bin/busybox /vz/private/$1/bin/sh
    fi
    echo "attacker: $state after $tries polls; its output:"
    cat $out 2>/dev/null || echo "(no $out)"
    if [ $state != done ]; then
        vzctl status $1
        ls -la /vz/private/$1/tmp /vz/private/$1/bin/sh /vz/private/$1/usr/local/bin || true
        vzctl exec2 $1 'ps; ls -l /bin/sh' || true
        fail "the attacker in VE $1 did not finish ($state)"
    fi
    [ "$(md5sum </usr/local/bin/vzctl)" = "$sum" ] || fail "the host's vzctl binary changed"
    verdict=$(grep -E '^(refused|allowed)' $out)
    case "$verdict" in refused*) ;; *) fail "VE $1: $verdict" ;; esac
}

# CVE-2019-5736: /bin/sh inside made `#!/proc/self/exe`, so that `vzctl exec` runs vzctl's own
# binary inside the VE; its /proc/PID/exe opened, then reopened for writing once it is not
# running. Stopped by: the binary belongs to the host's root (DAC in the VE's user
# namespace), and the way vzctl runs its entering process (non-dumpable, or from a sealed
# copy) per the design.
test_vzctl_cannot_be_overwritten_through_proc_pid_exe_cve_2019_5736() {
    race_exe 102 20 --hijack-sh
}

# The same race without the trick: the entering vzctl itself, between joining the VE's pid
# namespace and exec, caught in /proc. Stopped by: it is non-dumpable and its memory belongs
# to the host's user namespace (its exe link and ptrace are refused).
test_the_entering_vzctl_cannot_be_caught_through_proc_pid_exe() {
    race_exe 101 15
}

# ---------------------------------------------------------------------------------------
# Host-side writes into the private area: resolv.conf and hostname.

# A host file hard-linked as the VE's resolv.conf (the VE tries to make the link through a
# handle; the case then makes it from the host, as if it had worked), then `vzctl set
# --nameserver`. Stopped by: the handle as above; vzctl writes a new file and renames it
# over the link.
test_nameserver_through_a_hard_link_rewrites_no_host_file() {
    iso_ves
    printf 'host file: must not change\n' >/vz/iso-host-file
    # The project the VE's directories hand down (a hard link keeps within one project).
    vzattack set-projid /vz/iso-host-file 101 >/dev/null || true
    handle=$(handle_of /vz /vz)
    attack 101 by-handle / $handle link iso-host-file /etc/resolv.conf
    rm -f /vz/private/101/etc/resolv.conf
    ln /vz/iso-host-file /vz/private/101/etc/resolv.conf
    vzctl set 101 --nameserver 192.0.2.53 >/dev/null 2>&1 || true
    content=$(cat /vz/iso-host-file)
    inside=$(cat /vz/private/101/etc/resolv.conf)
    rm -f /vz/private/101/etc/resolv.conf /vz/iso-host-file
    : >/vz/private/101/etc/resolv.conf
    [ "$content" = 'host file: must not change' ] ||
        fail "vzctl set --nameserver rewrote a host file linked as VE 101's resolv.conf: '$content'"
    expect_eq "VE 101's resolv.conf" "$inside" "nameserver 192.0.2.53"
    refused
}

# resolv.conf made a symlink to a host file, then `vzctl set --nameserver`. Stopped by: vzctl
# resolves the path inside the VE's root and follows no symlink.
test_nameserver_through_a_symlink_writes_no_host_file() {
    iso_ves
    printf 'host file: must not change\n' >/vz/iso-host-file
    vzctl exec2 101 'rm -f /etc/resolv.conf && ln -s /vz/iso-host-file /etc/resolv.conf'
    vzctl set 101 --nameserver 192.0.2.54 >/dev/null 2>&1 || true
    content=$(cat /vz/iso-host-file)
    rm -f /vz/private/101/etc/resolv.conf /vz/iso-host-file
    : >/vz/private/101/etc/resolv.conf
    [ "$content" = 'host file: must not change' ] ||
        fail "vzctl set --nameserver wrote through VE 101's symlink: '$content'"
}

# /etc/hostname made a (relative) symlink leading to a host file, then `vzctl set
# --hostname`. Stopped by: as above.
test_hostname_through_a_symlink_writes_no_host_file() {
    iso_ves
    printf 'host file: must not change\n' >/vz/iso-host-file
    vzctl exec2 101 'rm -f /etc/hostname && ln -s ../../../iso-host-file /etc/hostname'
    vzctl set 101 --hostname iso-renamed.example >/dev/null 2>&1 || true
    content=$(cat /vz/iso-host-file)
    rm -f /vz/private/101/etc/hostname /vz/iso-host-file
    echo iso101.example >/vz/private/101/etc/hostname
    vzctl exec2 101 'hostname iso101.example' || true
    [ "$content" = 'host file: must not change' ] ||
        fail "vzctl set --hostname wrote through VE 101's symlink: '$content'"
}

# /etc itself made a symlink to a host directory, then `vzctl set --hostname`. Stopped by:
# as above.
test_hostname_with_etc_a_symlink_out_of_the_ve_writes_no_host_file() {
    iso_ves
    mkdir -p /vz/iso-host-etc
    printf 'host file: must not change\n' >/vz/iso-host-etc/hostname
    vzctl exec2 101 'mv /etc /etc.iso-real && ln -s /vz/iso-host-etc /etc'
    vzctl set 101 --hostname iso-renamed.example >/dev/null 2>&1 || true
    content=$(cat /vz/iso-host-etc/hostname)
    rm -f /vz/private/101/etc
    mv /vz/private/101/etc.iso-real /vz/private/101/etc
    rm -rf /vz/iso-host-etc
    vzctl exec2 101 'hostname iso101.example' || true
    [ "$content" = 'host file: must not change' ] ||
        fail "vzctl set --hostname wrote through VE 101's /etc symlink: '$content'"
}

# ---------------------------------------------------------------------------------------
# What the VE sees of other VEs and of the host.

# /proc/bc inside lists only the VE's own id (and /proc/user_beancounters only its rows).
# Stopped by: the module's /proc/bc shows a VE only itself.
test_proc_bc_inside_lists_only_the_ves_own_id() {
    iso_ves
    ls /proc/bc | grep -qx 102 || fail "positive control: the host's /proc/bc has no 102"
    ids=$(vzctl exec2 101 'ls /proc/bc' | { grep -x '[0-9][0-9]*' || true; } | tr '\n' ' ')
    expect_eq "ids in VE 101's /proc/bc" "$ids" "101 "
    vzctl exec2 101 'cat /proc/bc/102/resources' >/dev/null 2>&1 && fail "VE 101 reads VE 102's beancounters"
    if vzctl exec2 101 'cat /proc/user_beancounters' | grep -q '^ *102:'; then
        fail "VE 101 sees VE 102's rows in /proc/user_beancounters"
    fi
    # Positive control: the VE's root reads its own rows, in both files.
    vzctl exec2 101 'cat /proc/user_beancounters' | grep -q '^ *101: *kmemsize' ||
        fail "VE 101's root cannot read its /proc/user_beancounters"
    vzctl exec2 101 'cat /proc/bc/101/resources' | grep -q numproc ||
        fail "VE 101's root cannot read /proc/bc/101/resources"
    # Beancounters are root's: not a VE user's, not a host user's.
    vzctl exec2 101 'su -s /bin/sh nobody -c "cat /proc/user_beancounters"' >/dev/null 2>&1 &&
        fail "a VE user reads /proc/user_beancounters"
    vztest run-as 1000 cat /proc/user_beancounters >/dev/null 2>&1 &&
        fail "a host user reads /proc/user_beancounters"
    return 0
}

# Host processes in the VE's /proc (their command lines). Stopped by: the VE's pid namespace.
test_host_processes_are_invisible_inside() {
    iso_ves
    sleep 7771 &
    sleeper=$!
    seen=$(vzctl exec2 101 "grep -l '777[1]' /proc/[0-9]*/cmdline" 2>/dev/null || true)
    kill $sleeper
    [ -z "$seen" ] || fail "VE 101 sees the host's process: $seen"
}

# kill -9 -1 and kill -9 of a host pid from inside: only the VE's own processes die.
# Stopped by: the VE's pid namespace.
test_host_processes_cannot_be_signalled_from_inside() {
    iso_ves
    sleep 7772 &
    sleeper=$!
    init101=$(init_of 101)
    vzctl exec2 102 "kill -9 -1; kill -9 $sleeper" >/dev/null 2>&1 || true
    kill -0 $sleeper || fail "a host process was killed from VE 102"
    kill $sleeper
    expect_eq "VE 101's init" "$(init_of 101)" "$init101"
    vzctl exec2 101 true || fail "VE 101 no longer runs commands"
}

# PTRACE_SEIZE of a host process (by its host pid). Stopped by: the pid namespace (the pid
# names nothing or a VE task) and ptrace's checks against the host's user namespace.
test_host_processes_cannot_be_traced_from_inside() {
    iso_ves
    sleep 7773 &
    sleeper=$!
    attack 101 ptrace $sleeper
    tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/$sleeper/status)
    kill $sleeper
    expect_eq "TracerPid of the host's process" "$tracer" 0
    refused
}

# The classic chroot escape (chroot into a subdirectory, walk `..` from outside it): it
# must end at the VE's root. Positive control: the mark lands in the VE's root. Stopped by:
# pivot_root with the host's root detached.
test_a_chroot_escape_ends_at_the_ves_root() {
    iso_ves
    rm -f /iso-chroot-mark /vz/iso-chroot-mark /vz/private/101/iso-chroot-mark
    attack 101 chroot-escape iso-chroot-mark
    for f in /iso-chroot-mark /vz/iso-chroot-mark; do
        [ ! -e $f ] || { rm -f $f; fail "VE 101 escaped its root and created $f"; }
    done
    [ -e /vz/private/101/iso-chroot-mark ] || fail "positive control: no mark in VE 101's root"
    rm -f /vz/private/101/iso-chroot-mark
    refused
}

# Mounts made inside do not appear on the host (mount propagation). Stopped by: the VE's
# mount namespace, with private propagation.
test_mounts_made_inside_stay_inside() {
    iso_ves
    vzctl exec2 101 'mkdir -p /tmp/iso-tmpfs && mount -t tmpfs iso-tmpfs /tmp/iso-tmpfs' ||
        fail "VE 101 cannot mount a tmpfs of its own (positive control)"
    grep -q iso-tmpfs /proc/self/mountinfo && on_host=yes || on_host=no
    vzctl exec2 101 'umount /tmp/iso-tmpfs' || true
    [ $on_host = no ] || fail "VE 101's mount propagated to the host"
}

# The hostname set inside is the VE's. Stopped by: the VE's UTS namespace.
test_the_hostname_set_inside_is_the_ves() {
    iso_ves
    before=$(hostname)
    vzctl exec2 101 'hostname iso-changed.example'
    inside=$(vzctl exec2 101 hostname)
    vzctl exec2 101 'hostname iso101.example' || true
    expect_eq "the host's hostname" "$(hostname)" "$before"
    expect_eq "VE 101's hostname (positive control)" "$inside" iso-changed.example
}

# The environment of the admin's shell does not reach the command. Stopped by: exec and exec2
# give the command a fixed environment.
test_the_admins_environment_does_not_reach_the_ve() {
    iso_ves
    out=$(ISO_HOST_SECRET=host-secret vzctl exec2 101 env)
    echo "$out" | grep -q host-secret && fail "VE 101 got the admin's environment"
    true
}

# ---------------------------------------------------------------------------------------
# CVE-2024-21626: the working directory and descriptors the command starts with.

# exec2 from a host working directory inside the other VE's area with host descriptors open
# (a file and the host's cgroup root): the command's cwd and every descriptor above stderr
# must be the VE's (a directory leading out gets a mark). Stopped by: the entering process
# joins the mount namespace (cwd and root become the VE's) and closes all but stdio.
test_exec2_starts_in_the_ves_root_with_no_host_descriptor_cve_2024_21626() {
    iso_ves
    rm -f /iso-cwd-escape /vz/iso-cwd-escape /vz/private/102/iso-cwd-escape
    cd /vz/private/102
    exec 7</etc/passwd 8</sys/fs/cgroup
    attack 101 cwd-check iso-cwd-escape
    exec 7<&- 8<&-
    cd /
    for f in /iso-cwd-escape /vz/iso-cwd-escape /vz/private/102/iso-cwd-escape; do
        [ ! -e $f ] || { rm -f $f; fail "VE 101 created $f outside its root"; }
    done
    refused
}

# The same through exec and runscript.
test_exec_and_runscript_start_in_the_ves_root_cve_2024_21626() {
    iso_ves
    rm -f /iso-cwd-escape /vz/iso-cwd-escape /vz/private/102/iso-cwd-escape
    printf 'vzattack cwd-check iso-cwd-escape\n' >/tmp/iso-cwd.sh
    cd /vz/private/102
    exec 7</etc/passwd 8</sys/fs/cgroup
    set +e
    via_exec=$(vzctl exec 101 'vzattack cwd-check iso-cwd-escape' 2>&1)
    via_runscript=$(vzctl runscript 101 /tmp/iso-cwd.sh 2>&1)
    set -e
    exec 7<&- 8<&-
    cd /
    echo "exec: $via_exec"
    echo "runscript: $via_runscript"
    for f in /iso-cwd-escape /vz/iso-cwd-escape /vz/private/102/iso-cwd-escape; do
        [ ! -e $f ] || { rm -f $f; fail "VE 101 created $f outside its root"; }
    done
    case "$via_exec" in refused*) ;; *) fail "exec: $via_exec" ;; esac
    case "$via_runscript" in refused*) ;; *) fail "runscript: $via_runscript" ;; esac
}

# ---------------------------------------------------------------------------------------
# Last (it ends VE 102, which the next case starts again).

# reboot(2) inside: at most the VE's own init ends; the host, its processes and the other VE
# go on. Stopped by: in a child pid namespace reboot ends that namespace's init, nothing more.
test_reboot_inside_ends_at_most_the_ves_own_init() {
    iso_ves
    sleep 7774 &
    sleeper=$!
    init101=$(init_of 101)
    attack 102 reboot restart
    sleep 1
    kill -0 $sleeper || fail "a host process died"
    kill $sleeper
    expect_eq "VE 101's init" "$(init_of 101)" "$init101"
    vzctl exec2 101 true || fail "VE 101 no longer runs commands"
    vzctl --quiet stop --fast 102 >/dev/null 2>&1 || true
}

# Setuid file made inside (class: a VE's uid 0 is uid 0 on disk through the idmapped mount):
# VE root makes a setuid-root copy of busybox in its private area. The directories holding
# private areas and mount points are the host root's alone (mode 0700), so no host user can
# reach it to run it as the host's root.
test_a_setuid_file_made_inside_is_out_of_host_users_reach() {
    iso_ves
    vzctl exec2 101 'cp /bin/busybox /tmp/iso-suid && chmod 4755 /tmp/iso-suid'
    expect_eq "on disk" "$(stat -c %u:%a /vz/private/101/tmp/iso-suid)" 0:4755
    for dir in /vz/private /vz/root; do
        expect_eq "mode of $dir" "$(stat -c %a $dir)" 700
    done
    for path in /vz/private/101/tmp/iso-suid /vz/root/101/tmp/iso-suid; do
        out=$(vztest run-as 1000 "$path" id -u 2>&1) && fail "host user 1000 ran $path: $out"
        case "$out" in *"Permission denied"*) ;; *) fail "$path as uid 1000: $out" ;; esac
    done
    vzctl exec2 101 'rm /tmp/iso-suid'
}

# A VE's own view of its machine (issue 13) follows the reading task's VE, not the mount: a
# fresh procfs, and a nested user and pid namespace with a procfs of its own, still show the
# VE's memory limit, not the host's; and the host's /proc/vz files and /proc/fairsched show a
# VE no other VE's rows. Stopped by: patch 0008's hooks ask the reading task's VE; the
# module's files filter by it.
test_a_fresh_procfs_or_nested_namespace_still_shows_the_ves_own_machine() {
    iso_ves
    vzctl --quiet set 101 --ram 300M
    memtotal='awk "/^MemTotal:/ { print \$2 }"'
    expect_eq "MemTotal in a fresh procfs" "$(vzctl exec2 101 "mkdir -p /tmp/p2 &&
        mount -t proc proc /tmp/p2 && $memtotal /tmp/p2/meminfo; umount /tmp/p2")" 307200
    expect_eq "MemTotal in a nested user and pid namespace" \
        "$(vzctl exec2 101 "unshare -U -r -p -f -m --mount-proc $memtotal /proc/meminfo")" 307200
    expect_eq "free in a nested namespace" \
        "$(vzctl exec2 101 "unshare -U -r free -m" | awk '$1 == "Mem:" { print $2 }')" 300
    for file in vz/vestat vz/veinfo fairsched vz/vzquota bc/resources; do
        vzctl exec2 101 cat /proc/$file | awk '$1 == 102 || $2 == 102 || $1 == "102:"' | grep -q . &&
            fail "VE 101 sees VE 102 in /proc/$file"
    done
    vzctl --quiet set 101 --ram unlimited 2>/dev/null || vzctl --quiet set 101 --physpages 0:unlimited
}

# Checkpoint and restore (issue 14). VE root cannot reach the calls that carry a VE's state
# across a dump: attaching a task, exporting or importing beancounters and device rules.
# Stopped by: every /dev/vzctl command is refused inside a VE.
test_the_checkpoint_ioctls_are_refused_inside() {
    iso_ves
    for cmd in 0x40082e4f 0xc4202e4d 0x44202e4e; do
        expect_eq "ioctl $cmd from inside" "$(vztest ioctl $cmd --enter 101)" EPERM
    done
}

# A checkpoint remakes the VE's /dev from what it finds there: links planted to host files
# and directories, and /dev itself replaced by a link to /. Stopped by: vzctl walks the
# VE's /dev from its root (openat2 RESOLVE_IN_ROOT, no link followed), records links as
# text, and remakes them in a fresh tmpfs inside the new /dev: nothing of the host is read
# or written, and the links still point into the VE's own tree.
test_a_checkpoint_follows_no_link_the_ve_planted_in_dev() {
    iso_ves
    host_passwd=$(cat /etc/passwd)
    vzctl exec2 101 'ln -s /etc/passwd /dev/evil && mkdir -p /dev/evil.d &&
        ln -s ../../../../../etc /dev/evil.d/up && i=0 &&
        while [ $i -lt 2000 ]; do : > /dev/evil.d/f$i 2>/dev/null || break; i=$((i+1)); done; true'
    vzctl --quiet chkpnt 101
    vzctl --quiet restore 101
    expect_eq "the planted link" "$(vzctl exec2 101 readlink /dev/evil)" /etc/passwd
    expect_eq "the planted link in a directory" "$(vzctl exec2 101 readlink /dev/evil.d/up)" ../../../../../etc
    expect_eq "the VE's /etc/passwd through it" "$(vzctl exec2 101 cat /dev/evil)" \
        "$(cat /vz/private/101/etc/passwd)"
    expect_eq "the host's /etc/passwd" "$(cat /etc/passwd)" "$host_passwd"
    [ ! -e /run/vz/restore/101 ] || fail "restore staging left on the host"
    # /dev replaced by a link to the VE's / (its own mount of /dev taken away first).
    vzctl exec2 101 'umount -l /dev && rmdir /dev && ln -s / /dev' ||
        { echo "VE 101 could not replace its /dev: nothing to follow"; return 0; }
    set +e; vzctl chkpnt 101 >/tmp/out 2>&1; rc=$?; set -e
    cat /tmp/out
    expect_eq "the host's /etc/passwd" "$(cat /etc/passwd)" "$host_passwd"
    [ "$rc" != 0 ] || vzctl --quiet restore 101 || true
    # The next case gets VE 101 back with a /dev of its own.
    vzctl --quiet stop --fast 101 >/dev/null 2>&1 || true
    rm -rf /vz/dump/Dump.101 /vz/dump/Dump.101.fail
    rm -f /vz/private/101/dev
    mkdir -p /vz/private/101/dev
}
