# A hosting admin's day with the Debian 12 template (build-template-debian.sh): create a VE
# with an address, give it limits, start it (sysvinit boots it and lighttpd starts from its
# init script), reach its web server from the host, change a limit live, stop and destroy it.
# Nothing may be left behind.

TEMPLATE=debian-12-x86_64

# On the debug kernel (KASAN, lockdep) under TCG, unpacking the 135 MB template alone took
# 271 s with another guest running: more than the runner's default 300 s for the whole case.
# case-timeout: 900

# fresh_vz, status_of, fail, expect_eq, ve_pids: tests/guest/lib.sh.

# The host's own address (as in 80-vzctl.sh): a real host has one on its NIC; the test guest
# has no NIC, and without an address the host's packets to the VE leave from 127.0.0.1,
# which the VE drops.
host_address() {
    ip link show host0 >/dev/null 2>&1 && return
    ip link add host0 type dummy
    ip addr add 198.51.100.1/32 dev host0
    ip link set host0 up
}

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# wait_up_to SECONDS DESCRIPTION CMD...: polls CMD every 0.5 s for up to SECONDS (wait_for
# of lib.sh, for waits longer than its 10 s).
wait_up_to() {
    limit=$(( $(now_ms) + $1 * 1000 )); what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || fail "timed out waiting for $what"
        sleep 0.5
    done
}

# barrier and limit of resource $2 in VE $1's rows of /proc/user_beancounters (a VE's first
# row carries "CTID:" before the resource name).
ub_row() {
    awk -v id="$1:" -v res="$2" '
        $1 ~ /^[0-9]+:$/ { ve = $1; $1 = ""; $0 = $0 }
        ve == id && $1 == res { print $4, $5 }' /proc/user_beancounters
}

test_a_hosting_admin_runs_a_debian_web_server() {
    fresh_vz
    host_address
    page=/vz/private/201/var/www/html/index.html

    # Create: the template is unpacked into the private area, the config written.
    t=$(now_ms)
    out=$(vzctl create 201 --ostemplate $TEMPLATE --hostname web.example --ipadd 10.2.0.201)
    echo "create took $(( $(now_ms) - t )) ms"
    echo "$out" | grep -q "Container private area was created" || fail "create said: $out"
    [ -x /vz/private/201/sbin/init ] || fail "no /sbin/init in the private area"
    expect_eq "hostname file" "$(cat /vz/private/201/etc/hostname)" web.example
    grep -q '^IP_ADDRESS="10.2.0.201"$' /etc/vz/conf/201.conf || fail "IP_ADDRESS not saved"

    # Limits, saved in the config.
    vzctl set 201 --numproc 200 --privvmpages 512M --save >/dev/null
    grep -q '^NUMPROC="200:200"$' /etc/vz/conf/201.conf || fail "NUMPROC not saved"

    # Start: sysvinit is pid 1 and runs its boot scripts; lighttpd starts from its own.
    t=$(now_ms)
    vzctl start 201 | grep -q "Container start in progress" || fail "start did not report"
    expect_eq status "$(vzctl status 201)" "CTID 201 exist mounted running"
    # About 10 s under TCG; the debug kernel (make test DEBUG=1) is several times slower.
    # About 10 s on the normal kernel; minutes on the debug one.
    wait_up_to 300 "the web server of VE 201" vztest http-get 10.2.0.201:80 /
    echo "start to web server answering: $(( $(now_ms) - t )) ms"
    got=$(vztest http-get 10.2.0.201:80 /)
    expect_eq "page served from the VE" "$got" "$(cat $page)"
    echo "$got" | grep -q "$TEMPLATE template" || fail "the page does not name the template: $got"

    # Inside: sysvinit in runlevel 2, no gettys, lighttpd running as www-data from the
    # package's own, unmodified binary.
    expect_eq "pid 1 inside" "$(vzctl exec2 201 cat /proc/1/comm)" init
    expect_eq "runlevel" "$(vzctl exec2 201 runlevel)" "N 2"
    expect_eq "hostname inside" "$(vzctl exec2 201 hostname)" web.example
    procs=$(vzctl exec2 201 'ps -e -o user=,comm=')
    echo "$procs" | grep -q "^www-data *lighttpd$" || fail "no lighttpd as www-data inside: $procs"
    echo "$procs" | grep -q getty && fail "a getty runs inside: $procs"
    expect_eq "lighttpd's package" "$(vzctl exec2 201 'dpkg -S /usr/sbin/lighttpd')" \
        "lighttpd: /usr/sbin/lighttpd"
    vzctl exec2 201 'dpkg --verify lighttpd' >/tmp/verify 2>&1 ||
        fail "lighttpd's files differ from the package: $(cat /tmp/verify)"
    [ ! -s /tmp/verify ] || fail "dpkg --verify lighttpd: $(cat /tmp/verify)"
    # The host sees the VE's processes with its id.
    ve_server=""
    for pid in $(ve_pids 201); do
        [ "$(cat /proc/$pid/comm 2>/dev/null)" = lighttpd ] && ve_server=$pid
    done
    [ -n "$ve_server" ] || fail "no lighttpd among VE 201's tasks on the host"

    # The saved limits are in force; a limit changes live (not saved).
    expect_eq "numproc in the kernel" "$(vztest ubget 201 numproc | cut -d' ' -f3,4)" "200 200"
    expect_eq "privvmpages in the kernel" "$(vztest ubget 201 privvmpages | cut -d' ' -f3,4)" \
        "131072 131072"
    vzctl set 201 --numproc 300 >/dev/null
    expect_eq "numproc in /proc/user_beancounters" "$(ub_row 201 numproc)" "300 300"
    grep -q '^NUMPROC="200:200"$' /etc/vz/conf/201.conf || fail "an unsaved limit was saved"
    # vzlist -j (whitespace dropped) shows the same.
    json=$(vzlist -j 201 | tr -d ' \n')
    echo "$json" | grep -q '"status":"running"' || fail "vzlist -j: not running: $json"
    echo "$json" | grep -q '"ip":\["10.2.0.201"\]' || fail "vzlist -j: no address: $json"
    numproc=$(echo "$json" | sed -n 's/.*"numproc":{\([^}]*\)}.*/\1/p')
    echo "$numproc" | grep -q '"barrier":300,"limit":300' ||
        fail "vzlist -j: numproc is not 300:300: $numproc"

    # Stop: halt inside (sysvinit runs its runlevel 0 scripts), then nothing of the VE runs.
    t=$(now_ms)
    out=$(vzctl stop 201)
    echo "stop took $(( $(now_ms) - t )) ms"
    echo "$out" | grep -q "Container was stopped" || fail "stop said: $out"
    expect_eq status "$(vzctl status 201)" "CTID 201 exist unmounted down"
    vztest http-get 10.2.0.201:80 / >/dev/null 2>&1 && fail "the web server answers after stop"

    # Destroy: nothing is left, in the kernel or on the host.
    vzctl destroy 201 >/dev/null
    expect_eq status "$(vzctl status 201)" "CTID 201 deleted unmounted down"
    vztest info 201 >/dev/null 2>&1 && fail "VE 201 still in the kernel"
    [ -z "$(ve_pids 201)" ] || fail "tasks of VE 201 left: $(ve_pids 201)"
    grep -q " /vz/root/201[ /]" /proc/self/mountinfo && fail "a mount under /vz/root/201 left"
    [ ! -d /sys/fs/cgroup/vz/201 ] || fail "cgroup of VE 201 left"
    ip link show venet201 >/dev/null 2>&1 && fail "venet201 left"
    ip route | grep -q "10.2.0.201" && fail "route to 10.2.0.201 left"
    [ ! -e /vz/private/201 ] || fail "private area left"
    return 0
}
