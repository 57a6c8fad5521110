# /proc as OpenVZ's clients read it (issue 13): a VE sees its own machine in /proc/meminfo,
# /proc/stat, /proc/loadavg, /proc/swaps, /proc/cpuinfo and sysinfo(2); the host reads
# /proc/vz/vestat, /proc/vz/veinfo, /proc/fairsched and /proc/vz/vzquota. Each case parses
# the files the way the client named in it does (its regexes and field positions, written
# again here), so a layout change that would break the client fails the case.

# Two VEs with busy loops and 40 s of load sampling.
# case-timeout: 400

TEMPLATE=busybox-1.35-x86_64

# fresh_vz, fail, expect_eq, wait_for, status_of: tests/guest/lib.sh.

# VE $1 created from the template and started, with the options that follow.
started() {
    id=$1
    shift
    vzctl --quiet create "$id" --ostemplate $TEMPLATE >/dev/null
    [ $# -eq 0 ] || vzctl --quiet set "$id" "$@" --save >/dev/null
    vzctl --quiet start "$id"
}

# A line's field $2 (awk numbering) for the line of /proc/meminfo-like text $1 named $3.
kb_of() { echo "$1" | awk -v k="$2:" '$1 == k { print $2 }'; }

test_meminfo_and_sysinfo_show_the_ves_memory() {
    fresh_vz
    started 101 --ram 256M
    inside=$(vzctl exec2 101 cat /proc/meminfo)
    expect_eq "MemTotal inside" "$(kb_of "$inside" MemTotal)" 262144
    free_kb=$(kb_of "$inside" MemFree)
    [ "$free_kb" -gt 0 ] && [ "$free_kb" -lt 262144 ] || fail "MemFree $free_kb of 262144"
    # The kernel's layout: label padded to 16 columns, value to 8, " kB".
    echo "$inside" | head -1 | grep -qx 'MemTotal:         262144 kB' ||
        fail "layout: $(echo "$inside" | head -1)"
    # busybox free asks sysinfo(2) (procps free reads /proc/meminfo: the Debian scenario).
    total=$(vzctl exec2 101 free -m | awk '$1 == "Mem:" { print $2 }')
    expect_eq "free -m total" "$total" 256
    # What the VE uses shows: 64 MB in its tmpfs /dev/shm lower MemFree by about as much.
    vzctl exec2 101 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=64 2>/dev/null'
    after=$(kb_of "$(vzctl exec2 101 cat /proc/meminfo)" MemFree)
    [ $((free_kb - after)) -gt 60000 ] || fail "MemFree $free_kb -> $after after 64 MB"
    # The host still sees its own.
    host=$(kb_of "$(cat /proc/meminfo)" MemTotal)
    [ "$host" != 262144 ] || fail "the host's MemTotal became the VE's"
    vzctl --quiet stop --fast 101
    vzctl --quiet destroy 101
}

test_stat_and_vestat_count_the_ves_cpu_time() {
    fresh_vz
    started 101
    # /proc/stat inside: its own rows, as top and mpstat parse them.
    stat=$(vzctl exec2 101 cat /proc/stat)
    echo "$stat" | head -1 | grep -Eq '^cpu  [0-9]+( [0-9]+){9}$' || fail "cpu row: $stat"
    rows=$(echo "$stat" | grep -c '^cpu[0-9]')
    expect_eq "cpuN rows" "$rows" "$(vzctl exec2 101 nproc)"
    busy_before=$(echo "$stat" | awk '/^cpu / { print $2 + $4 }')
    # vestat: user + system (columns 2 and 4) grow with the VE's work.
    row() { awk -v id=101 '$1 == id { print $2 + $4, $9 }' /proc/vz/vestat; }
    set -- $(row)
    vestat_before=$1 used_before=$2
    vzctl exec2 101 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'
    set -- $(row)
    [ $(($1 - vestat_before)) -ge 500 ] || fail "vestat user+system $vestat_before -> $1 ms"
    [ $(($2 - used_before)) -ge 500000000 ] || fail "vestat used $used_before -> $2 ns"
    busy_after=$(vzctl exec2 101 cat /proc/stat | awk '/^cpu / { print $2 + $4 }')
    [ $((busy_after - busy_before)) -ge 50 ] || fail "/proc/stat user+system $busy_before -> $busy_after"
    # The host's /proc/stat is the host's: it has interrupts.
    grep -q '^intr [1-9]' /proc/stat || fail "host /proc/stat lost its interrupts"
    vzctl --quiet stop --fast 101
    vzctl --quiet destroy 101
}

# Proxmox's check_running: a line of /proc/vz/vestat matching ^\s*(\d+)\s+ with $1 the id.
proxmox_running() {
    awk -v id="$1" '/^[ \t]*[0-9]+[ \t]/ { if ($1 == id) found = 1 } END { exit !found }' \
        /proc/vz/vestat
}

# libvirt's openvzGetProcessInfo: sscanf("%d %llu %llu %llu") == 4 on a line, id matching.
libvirt_cpu_ticks() {
    awk -v id="$1" 'NF >= 4 && $1 ~ /^[0-9]+$/ && $1 == id { print $2 + $3 + $4; found = 1 }
        END { exit !found }' /proc/vz/vestat
}

test_vestat_layout_and_status_agree_with_vzlist() {
    fresh_vz
    started 101
    vzctl --quiet create 102 --ostemplate $TEMPLATE
    vzctl --quiet create 103 --ostemplate $TEMPLATE
    vzctl --quiet mount 103
    # OpenVZ's layout: "Version: 2.2" padded to 251 columns, then the header, twelve
    # right-aligned 20-column fields joined by one blank (munin splits on the leading blank).
    expect_eq "version line" "$(head -1 /proc/vz/vestat | wc -c)" 252
    head -1 /proc/vz/vestat | grep -q '^Version: 2\.2 *$' || fail "version line"
    sed -n 2p /proc/vz/vestat | grep -Eq '^ +VEID +user +nice +system +uptime +idle +strv +uptime +used +maxlat +totlat +numsched$' ||
        fail "header: $(sed -n 2p /proc/vz/vestat)"
    line=$(awk '$1 == 101' /proc/vz/vestat)
    expect_eq "row width" "$(echo "$line" | wc -c)" 252
    echo "$line" | grep -Eq '^ {17}101( +[0-9]+){11}$' || fail "row: $line"
    awk '$1 == 0' /proc/vz/vestat | grep -q . && fail "the host has a vestat row"
    libvirt_cpu_ticks 101 >/dev/null || fail "libvirt cannot read VE 101's CPU time"
    # munin's openvzcpu: ^\W+(\d+)\W+(\d+)\W+(\d+)\W+(\d+)\W+(\d+), which only VE rows match.
    w='[^[:alnum:]_]+'
    expect_eq "munin's rows" "$(grep -Ec "^$w[0-9]+$w[0-9]+$w[0-9]+$w[0-9]+$w[0-9]+" /proc/vz/vestat)" 1
    for id in 101 102 103; do
        status=$(vzlist -H -o status "$id")
        if proxmox_running "$id"; then vestat=running; else vestat=stopped; fi
        case "$status" in
            running) expect_eq "VE $id: vestat vs vzlist" "$vestat" running ;;
            *) expect_eq "VE $id ($status): vestat vs vzlist" "$vestat" stopped ;;
        esac
    done
    expect_eq "VE 103 is mounted" "$(vzlist -H -o status 103)" mounted
    # Inside a VE: the header and its own row only.
    inside=$(vzctl exec2 101 cat /proc/vz/vestat)
    expect_eq "rows inside" "$(echo "$inside" | awk '$1 ~ /^[0-9]+$/' | awk '{ print $1 }')" 101
    vzctl --quiet stop --fast 101
    proxmox_running 101 && fail "a stopped VE is running for Proxmox"
    vzctl --quiet umount 103
    for id in 101 102 103; do vzctl --quiet destroy $id; done
}

# The 1-minute load of /proc/loadavg as uptime and top read it.
load1() { vzctl exec2 "$1" cat /proc/loadavg | awk '{ print int($1 * 100) }'; }

test_load_rises_with_busy_loops_in_the_ve_and_not_in_another() {
    fresh_vz
    started 101
    started 102
    vzctl exec2 101 'while :; do :; done' >/dev/null 2>&1 &
    busy=$!
    sleep 40
    one=$(load1 101)
    other=$(load1 102)
    kill $busy
    vzctl exec2 101 'pkill -f "while :"' 2>/dev/null || true
    # After 40 s (8 samples) a load of 1 reaches 1 - (1884/2048)^8 = 0.49, as the kernel's does.
    [ "$one" -ge 35 ] || fail "VE 101's load $one/100 after 40 s of a busy loop"
    [ "$other" -lt 30 ] || fail "idle VE 102's load $other/100 rose with VE 101's loop"
    vzctl exec2 101 cat /proc/loadavg | grep -Eq '^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+/[0-9]+ [0-9]+$' ||
        fail "loadavg layout: $(vzctl exec2 101 cat /proc/loadavg)"
    # busybox uptime reads sysinfo(2): the same load.
    vzctl exec2 101 uptime | grep -q 'load average: 0\.[0-2]' &&
        fail "sysinfo load: $(vzctl exec2 101 uptime)"
    for id in 101 102; do vzctl --quiet stop --fast $id; vzctl --quiet destroy $id; done
}

test_cpuinfo_online_and_swaps_show_the_ves_own() {
    fresh_vz
    started 101
    # The CPUs a VE's task may run on: nproc (sched_getaffinity), cpuinfo and the online
    # list agree, as they do on the host.
    n=$(vzctl exec2 101 nproc)
    expect_eq "cpuinfo processors" "$(vzctl exec2 101 grep -c ^processor /proc/cpuinfo)" "$n"
    expect_eq "one CPU for a task pinned to CPU 0" \
        "$(vzctl exec2 101 taskset -c 0 grep -c ^processor /proc/cpuinfo)" 1
    expect_eq "online CPUs of a task pinned to CPU 1" \
        "$(vzctl exec2 101 taskset -c 1 cat /sys/devices/system/cpu/online)" 1
    expect_eq "the host's online CPUs" "$(taskset -c 1 cat /sys/devices/system/cpu/online)" 0-1
    # --cpus 1: the VE's cpuset holds one CPU, and the files list just that one.
    started 102 --cpus 1
    expect_eq "cpuinfo with --cpus 1" "$(vzctl exec2 102 grep -c ^processor /proc/cpuinfo)" 1
    expect_eq "stat rows with --cpus 1" "$(vzctl exec2 102 grep -c ^cpu[0-9] /proc/stat)" 1
    expect_eq "online with --cpus 1" "$(vzctl exec2 102 cat /sys/devices/system/cpu/online)" \
        "$(vzctl exec2 102 "awk '/^Cpus_allowed_list:/ { print \$2 }' /proc/self/status")"
    vzctl --quiet stop --fast 102
    vzctl --quiet destroy 102
    # /proc/swaps lists none of the host's devices, only its header.
    expect_eq "swaps" "$(vzctl exec2 101 cat /proc/swaps | tr '\t' ' ' | tr -s ' ')" \
        "Filename Type Size Used Priority"
    vzctl --quiet stop --fast 101
    vzctl --quiet destroy 101
}

test_veinfo_lists_each_running_ves_addresses() {
    fresh_vz
    started 101 --ipadd 10.9.7.1
    vzctl --quiet create 102 --ostemplate $TEMPLATE
    # OpenVZ's "%10u %5u %5u" and " %15s" per address; the host's line (0) first.
    head -1 /proc/vz/veinfo | grep -Eq '^ {9}0 {5}0 +[0-9]+$' || fail "host line: $(head -1 /proc/vz/veinfo)"
    line=$(awk '$1 == 101' /proc/vz/veinfo)
    echo "$line" | grep -Eq '^ {7}101 {5}0 +[0-9]+ {8}10\.9\.7\.1$' || fail "VE 101: '$line'"
    vzctl --quiet set 101 --ipadd 10.9.7.2 --save
    expect_eq "addresses" "$(awk '$1 == 101 { print $4, $5 }' /proc/vz/veinfo)" "10.9.7.1 10.9.7.2"
    vzctl --quiet set 101 --ipdel 10.9.7.1 --save
    expect_eq "after ipdel" "$(awk '$1 == 101 { print NF, $4 }' /proc/vz/veinfo)" "4 10.9.7.2"
    awk '$1 == 102' /proc/vz/veinfo | grep -q . && fail "stopped VE 102 listed"
    # vzlist's own reading (OpenVZ's get_run_ve_proc): the VE's id and its task count.
    expect_eq "inside" "$(vzctl exec2 101 cat /proc/vz/veinfo | awk '{ print $1, $4 }')" "101 10.9.7.2"
    vzctl --quiet stop --fast 101
    for id in 101 102; do vzctl --quiet destroy $id; done
}

# vzcpucheck's reading of /proc/fairsched: the columns named weight and id in the header
# (neither may be the last), rows with $1 == 0 and $id != 0, units = int(500000 / weight).
vzcpucheck_units() {
    awk -v want="$1" '
        $1 == "Version:" { next }
        !header { for (i = 1; i < NF; i++) { if ($i == "weight") w = i; if ($i == "id") d = i }
                  header = 1; next }
        $1 == 0 && $d != 0 { id = ($d == 2147483647) ? 0 : $d
                             if (id == want) print ($w ? int(500000 / $w) : 500000) }
    ' /proc/fairsched
}

test_fairsched_shows_cpuunits_as_vzcpucheck_reads_them() {
    fresh_vz
    started 101 --cpuunits 2000 --cpulimit 50
    head -1 /proc/fairsched | grep -qx 'Version: 2.6 debug' || fail "version: $(head -1 /proc/fairsched)"
    expect_eq "VE 101's units" "$(vzcpucheck_units 101)" 2000
    [ -n "$(vzcpucheck_units 0)" ] || fail "no host node (2147483647)"
    # cpulimit 50% is rate 512 (1/1024 of a CPU) with the L flag.
    awk '$1 == 0 && $2 == 101 { print $5, $9 }' /proc/fairsched | grep -qx '512 L.' ||
        fail "rate: $(awk '$1 == 0 && $2 == 101' /proc/fairsched)"
    vzctl --quiet set 101 --cpuunits 4000 --save
    expect_eq "units after set" "$(vzcpucheck_units 101)" 4000
    expect_eq "nodes inside" "$(vzctl exec2 101 cat /proc/fairsched | awk '$1 == 0 && $2 != 0 { print $2 }')" 101
    vzctl --quiet stop --fast 101
    vzctl --quiet destroy 101
}

test_vzquota_shows_disk_usage_as_proxmox_reads_it() {
    fresh_vz
    started 101 --diskspace 100M:120M --diskinodes 20000:25000
    vzctl exec2 101 'dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; sync'
    # Proxmox's vmstatus: the line ^(\d+):\s+\S+/private/\d+$ for the VE, then the next
    # line ^\s*1k-blocks\s+(\d+)\s+(\d+)\s gives usage and soft limit in KiB.
    set -- $(awk '
        /^[0-9]+:[ \t]+[^ \t]+\/private\/[0-9]+$/ { split($1, a, ":"); id = a[1]; next }
        id == 101 && /^[ \t]*1k-blocks[ \t]+[0-9]+[ \t]+[0-9]+[ \t]/ { print $2, $3; id = "" }
    ' /proc/vz/vzquota)
    [ "${1:-0}" -ge 8192 ] || fail "usage ${1:-none} KiB after 8 MiB: $(cat /proc/vz/vzquota)"
    expect_eq "soft limit" "${2:-}" 102400
    awk '$1 == "inodes" { print $3, $4; exit }' /proc/vz/vzquota | grep -qx '20000 25000' ||
        fail "inode limits: $(cat /proc/vz/vzquota)"
    # Inside: only its own, with its own root as the path.
    expect_eq "ids inside" "$(vzctl exec2 101 cat /proc/vz/vzquota | awk -F: '/^[0-9]+:/ { print $1 }')" 101
    vzctl exec2 101 cat /proc/vz/vzquota | grep -q private && fail "host path shown inside"
    vzctl --quiet stop --fast 101
    awk -F: '/^[0-9]+:/ { print $1 }' /proc/vz/vzquota | grep -qx 101 && fail "stopped VE listed"
    vzctl --quiet destroy 101
}
