# A hosting admin's day with the Debian 12 template (build-template-debian.sh): create a VE
# with an address, give it limits, start it (systemd boots it to running, or degraded with
# the failed units printed, and starts lighttpd as a unit), reach its web server from the
# host, change a limit live, stop it (systemd stops its units and its init exits, well before
# vzctl's stop timeout) and destroy it. Nothing may be left behind.

TEMPLATE=debian-12-x86_64

# On the debug kernel (KASAN, lockdep) under TCG, unpacking the (then 135 MB) template alone
# took 271 s with another guest running: more than the runner's default 300 s for the whole
# case.
# case-timeout: 900

# fresh_vz, status_of, fail, expect_eq, ve_pids, wait_for_boot: tests/guest/lib.sh.

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
    # systemd is /sbin/init (an absolute link: resolved inside the private area, not on the host).
    expect_eq "/sbin/init" "$(readlink /vz/private/201/sbin/init)" /lib/systemd/systemd
    [ -x /vz/private/201/lib/systemd/systemd ] || fail "no systemd in the private area"
    expect_eq "hostname file" "$(cat /vz/private/201/etc/hostname)" web.example
    grep -q '^IP_ADDRESS="10.2.0.201"$' /etc/vz/conf/201.conf || fail "IP_ADDRESS not saved"

    # Limits, saved in the config.
    vzctl set 201 --numproc 200 --privvmpages 512M --ram 256M --save >/dev/null
    grep -q '^NUMPROC="200:200"$' /etc/vz/conf/201.conf || fail "NUMPROC not saved"

    # Start: systemd is pid 1 and boots to multi-user.target, lighttpd with it.
    t=$(now_ms)
    vzctl start 201 | grep -q "Container start in progress" || fail "start did not report"
    expect_eq status "$(vzctl status 201)" "CTID 201 exist mounted running"
    # Tens of seconds under TCG on the normal kernel; minutes on the debug one.
    wait_for_boot 201 480
    echo "start to systemd booted: $(( $(now_ms) - t )) ms"
    # Every unit that cannot run in a VE is masked in the template, and the kernel gives the
    # rest what they need (POSIX timers: utmp's locking): no unit fails.
    expect_eq "systemd's state" "$state" running
    wait_long 60 "the web server of VE 201" vztest http-get 10.2.0.201:80 /
    echo "start to web server answering: $(( $(now_ms) - t )) ms"
    got=$(vztest http-get 10.2.0.201:80 /)
    expect_eq "page served from the VE" "$got" "$(cat $page)"
    echo "$got" | grep -q "$TEMPLATE template" || fail "the page does not name the template: $got"

    # Inside: systemd knows it is in a container, no gettys, lighttpd an active, enabled unit
    # running as www-data from the package's own, unmodified binary.
    expect_eq "pid 1 inside" "$(vzctl exec2 201 cat /proc/1/comm)" systemd
    expect_eq "container type systemd recorded" "$(vzctl exec2 201 cat /run/systemd/container)" vz
    expect_eq "lighttpd.service" "$(vzctl exec2 201 systemctl is-active lighttpd.service)" active
    expect_eq "lighttpd.service enabled" \
        "$(vzctl exec2 201 systemctl is-enabled lighttpd.service)" enabled
    expect_eq "hostname inside" "$(vzctl exec2 201 hostname)" web.example
    # procps counts from the VE's start (its time namespace): systemd's elapsed time is the
    # VE's uptime, which is not the host's.
    clock=$(vzctl exec2 201 'echo $(ps -o etimes= -p 1) $(cut -d. -f1 /proc/uptime)')
    etimes=${clock% *} ve_up=${clock#* } host_up=$(cut -d. -f1 /proc/uptime)
    echo "systemd's ELAPSED $etimes s, the VE's uptime $ve_up s, the host's $host_up s"
    [ $((ve_up - etimes)) -le 2 ] || fail "systemd's elapsed time $etimes s is not the VE's uptime $ve_up s"
    [ $((ve_up + 2)) -le "$host_up" ] || fail "the VE's uptime $ve_up s is the host's $host_up s"
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
    # procps reads the VE's own /proc: free and top see its 256 MiB.
    expect_eq "free -m total" "$(vzctl exec2 201 free -m | awk '$1 == "Mem:" { print $2 }')" 256
    vzctl exec2 201 'top -b -n 1 | head -5' | grep -q 'Mem : *256\.0 total' ||
        fail "top: $(vzctl exec2 201 'top -b -n 1 | head -5')"
    grep -q '^NUMPROC="200:200"$' /etc/vz/conf/201.conf || fail "an unsaved limit was saved"
    # vzlist -j (whitespace dropped) shows the same.
    json=$(vzlist -j 201 | tr -d ' \n')
    echo "$json" | grep -q '"status":"running"' || fail "vzlist -j: not running: $json"
    echo "$json" | grep -q '"ip":\["10.2.0.201"\]' || fail "vzlist -j: no address: $json"
    numproc=$(echo "$json" | sed -n 's/.*"numproc":{\([^}]*\)}.*/\1/p')
    echo "$numproc" | grep -q '"barrier":300,"limit":300' ||
        fail "vzlist -j: numproc is not 300:300: $numproc"

    # Stop: halt inside; systemd stops its units (lighttpd gets SIGTERM from pid 1 and says
    # so in its log), journald closes the journal, and the VE's init exits by itself: long
    # before STOP_TIMEOUT, after which vzctl would kill whatever is left.
    timeout=$(sed -n 's/^STOP_TIMEOUT=//p' /etc/vz/vz.conf)
    t=$(now_ms)
    out=$(vzctl stop 201 2>&1) || fail "stop failed after $(( $(now_ms) - t )) ms: $out"
    took=$(( $(now_ms) - t ))
    echo "stop took $took ms (STOP_TIMEOUT $timeout s)"
    echo "$out" | grep -q "Container was stopped" || fail "stop said: $out"
    # Only OpenVZ's lines: what halt says inside is not the admin's.
    expect_eq "stop's output" "$(echo "$out" | tr '\n' ';')" \
        "Stopping container ...;Container was stopped;Container is unmounted;"
    [ "$took" -lt $(( timeout * 1000 )) ] ||
        fail "stop took $took ms: the VE's init did not end before STOP_TIMEOUT ($timeout s)"
    expect_eq status "$(vzctl status 201)" "CTID 201 exist unmounted down"
    vztest http-get 10.2.0.201:80 / >/dev/null 2>&1 && fail "the web server answers after stop"
    log=/vz/private/201/var/log/lighttpd/error.log
    echo "--- lighttpd's error.log"
    cat $log || true
    grep -q "server stopped by UID = 0 PID = 1" $log ||
        fail "lighttpd was not stopped by systemd's SIGTERM (see its log above)"
    # systemd gave the VE its own machine id and kept it; its journal, under that id, was
    # closed (offline, or archived by a rotation), not left online as a SIGKILL leaves it.
    machine_id=$(cat /vz/private/201/etc/machine-id)
    echo "$machine_id" | grep -qE '^[0-9a-f]{32}$' || fail "machine-id: '$machine_id'"
    journal=/vz/private/201/var/log/journal/$machine_id/system.journal
    [ -f "$journal" ] || fail "no persistent journal $journal"
    echo "--- last messages of the journal"
    grep -a -o 'MESSAGE=[[:print:]]*' "$journal" | tail -n 15
    journal_state=$(od -An -tu1 -j16 -N1 "$journal" | tr -d ' ')
    [ "$journal_state" != 1 ] ||
        fail "the journal was left online (state $journal_state): journald did not stop cleanly"

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

# The Debian VE checkpointed and restored (vzctl chkpnt/restore, issue 14): systemd, its
# journal and lighttpd come back as they were, and the web server answers at the same
# address. On the normal kernel only, with the rest of this file.
test_a_checkpointed_debian_ve_serves_after_its_restore() {
    fresh_vz
    host_address
    rm -rf /vz/dump/*
    vzctl --quiet create 202 --ostemplate $TEMPLATE --ipadd 10.2.0.202 >/dev/null
    vzctl --quiet start 202
    wait_for_boot 202 480
    wait_long 60 "the web server of VE 202" vztest http-get 10.2.0.202:80 /
    before=$(vzctl exec2 202 'ps -e -o pid=,comm=' | sort)
    t=$(now_ms)
    if ! vzctl chkpnt 202; then
        grep -E 'Error' /vz/dump/Dump.202.fail/dump.log | tail -n 20
        fail "chkpnt of the Debian VE"
    fi
    echo "chkpnt took $(( $(now_ms) - t )) ms, dump $(du -sk /vz/dump/Dump.202 | cut -f1) KiB"
    t=$(now_ms)
    if ! vzctl restore 202; then
        grep -E 'Error' /vz/dump/Dump.202/restore.log | tail -n 20
        fail "restore of the Debian VE"
    fi
    echo "restore took $(( $(now_ms) - t )) ms"
    vztest http-get 10.2.0.202:80 / | grep -qi html || fail "lighttpd does not answer after the restore"
    expect_eq "lighttpd.service" "$(vzctl exec2 202 systemctl is-active lighttpd.service)" active
    after=$(vzctl exec2 202 'ps -e -o pid=,comm=' | grep -v -e ' ps$' -e ' sh$' | sort)
    expect_eq "the VE's processes and pids" "$after" "$(echo "$before" | grep -v -e ' ps$' -e ' sh$')"
    vzctl --quiet stop 202
    vzctl --quiet destroy 202
}
