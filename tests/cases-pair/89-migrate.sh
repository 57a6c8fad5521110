# vzmigrate (issue 15) between the pair's two guests: vza (here, the source) and vzb (the
# destination), linked on 10.199.0.0/24. Offline, restart and live moves; what arrives with
# the VE; OpenVZ's exit codes, each from a real cause; and faults at each phase, each leaving
# the VE running here and nothing of it on vzb.
# case-timeout: 600

TEMPLATE=busybox-1.35-x86_64
VE_IP=10.199.0.101

on_vzb() { ssh vzb "$@"; }

# on_vzb_background SCRIPT: runs the shell script SCRIPT on vzb, detached from the ssh
# session (the guest's busybox has no nohup).
on_vzb_background() {
    echo "$1" | on_vzb 'cat >/tmp/background.sh'
    on_vzb 'setsid sh /tmp/background.sh </dev/null >/dev/null 2>&1 &'
}

# expect_exit CODE ARGS...: vzmigrate ARGS exits CODE; its output in /tmp/out and /tmp/err.
expect_exit() {
    want=$1; shift
    got=$(status_of vzmigrate "$@")
    [ "$got" = "$want" ] || fail "vzmigrate $* exited $got, expected $want: $(cat /tmp/err)"
}

# No VE on either guest, no dumps, both modules fresh.
# A migration with -r no leaves a private area and a CTID.conf.migrated behind.
fresh_pair() {
    fresh_vz
    rm -rf /vz/dump/* /vz/private/* /etc/vz/conf/*.migrated
    on_vzb '. /tests/lib.sh; fresh_vz; rm -rf /vz/dump/* /vz/private/* /usr/local/bin/criu /vz/filler
        kill $(ps -o pid,args | awk "/[b]ackground.sh/ { print \$1 }") 2>/dev/null || true'
}

# held, maxheld and limit of VE 101's numproc in the /proc/user_beancounters on stdin (a
# VE's first row carries "CTID:" before the resource name).
numproc_row() {
    awk '$1 ~ /^[0-9]+:$/ { ve = $1; $1 = ""; $0 = $0 }
        ve == "101:" && $1 == "numproc" { print $2, $3, $5 }'
}

# VE 101 with an address on the pair's link, a name, ONBOOT and a numproc limit; a marker
# file in its private area.
created_ve() {
    fresh_pair
    vzctl --quiet create 101 --ostemplate $TEMPLATE --ipadd $VE_IP >/dev/null
    vzctl --quiet set 101 --name web101 --onboot yes --numproc 300:300 --save >/dev/null
    echo "marker $$" >/vz/private/101/root/marker
}

# created_ve, running the counter and the echo server (lib.sh's counter_and_echo).
running_ve() {
    created_ve
    vzctl --quiet start 101
    counter_and_echo 101
}

# Nothing of VE 101 on vzb: no config, private area, mount point, dumps, lock, kernel VE.
vzb_clean() {
    left=$(on_vzb 'ls -d /etc/vz/conf/101.conf* /vz/private/101 /vz/root/101 /vz/dump/*101* \
        /vz/lock/101.lck /etc/vz/names/web101 2>/dev/null; vztest list')
    [ -z "$left" ] || fail "left on vzb: $(echo $left)"
}

# VE 101 runs here as before: with its address routed to it, and the counter rising.
source_running() {
    expect_eq "status here" "$(vzctl status 101)" "CTID 101 exist mounted running"
    ip route | grep -q "^$VE_IP dev venet101" || fail "no route to $VE_IP here: $(ip route)"
    before=$(vzctl exec 101 tail -n 1 /tmp/counter)
    wait_for "the counter to rise here" sh -c "[ \$(vzctl exec 101 tail -n 1 /tmp/counter) -gt $before ]"
}

# The VE's address is answered by vzb, not here: no link or route here, and this host's
# neighbour entry for it holds vzb's MAC address.
address_on_vzb() {
    ip link show venet101 >/dev/null 2>&1 && fail "venet101 still here"
    ip route | grep -q "^$VE_IP " && fail "a route to $VE_IP still here"
    ping -c 1 -W 5 $VE_IP >/dev/null || fail "$VE_IP does not answer"
    vzb_mac=$(on_vzb cat /sys/class/net/eth0/address)
    ip neigh show $VE_IP | grep -q "lladdr $vzb_mac" ||
        fail "$VE_IP is not at vzb's $vzb_mac: $(ip neigh show $VE_IP)"
}

# The config values that must arrive with the VE.
config_arrived() {
    conf=$(on_vzb cat /etc/vz/conf/101.conf)
    for line in 'NAME="web101"' 'ONBOOT="yes"' 'NUMPROC="300:300"' "IP_ADDRESS=\"$VE_IP\""; do
        echo "$conf" | grep -qxF "$line" || fail "no $line in vzb's 101.conf"
    done
    expect_eq "marker on vzb" "$(on_vzb cat /vz/private/101/root/marker)" "marker $$"
    expect_eq "name link on vzb" "$(on_vzb readlink /etc/vz/names/web101)" /etc/vz/conf/101.conf
}

test_offline_migration_of_a_stopped_ve() {
    created_ve
    vzmigrate vzb 101 | tee /tmp/out
    for line in "Starting migration of CT 101 to vzb" "Syncing private" "Cleaning up"; do
        grep -qxF "$line" /tmp/out || fail "no '$line' in vzmigrate's output"
    done
    config_arrived
    [ ! -e /etc/vz/conf/101.conf ] && [ ! -e /vz/private/101 ] || fail "CT 101 is still here"
    expect_eq "status on vzb" "$(on_vzb vzctl status 101)" "CTID 101 exist unmounted down"
    on_vzb vzctl --quiet start 101
    on_vzb vzctl exec 101 cat /root/marker | grep -q "marker $$" || fail "the VE on vzb lacks its files"
    address_on_vzb
}

test_a_running_ve_without_online_is_stopped_copied_and_started() {
    running_ve
    vzmigrate -t vzb 101 | tee /tmp/out
    for line in "Stopping container" "Starting container"; do
        grep -qxF "$line" /tmp/out || fail "no '$line' in vzmigrate's output"
    done
    grep -q "Total downtime:" /tmp/out || fail "no downtime in -t's table"
    config_arrived
    expect_eq "status on vzb" "$(on_vzb vzctl status 101)" "CTID 101 exist mounted running"
    address_on_vzb
}

# The counter goes on on vzb from where it was, in the same processes; a TCP connection from
# here to the VE's echo server carries on across the move; the beancounters arrive.
test_live_migration_keeps_processes_and_a_tcp_connection() {
    running_ve
    maxheld=$(numproc_row </proc/user_beancounters | cut -d' ' -f2)
    rm -f /tmp/probe.stop
    vztest probe tcp $VE_IP:5000 --until /tmp/probe.stop >/tmp/probe.out 2>&1 &
    probe=$!
    sleep 2
    # With the client connected (the echo server is now busybox nc's cat).
    before=$(vzctl exec 101 ps -o pid,args | grep -v -e ' ps ' -e PID)
    vzmigrate --online -t vzb 101 | tee /tmp/out
    grep -qxF "Starting live migration of CT 101 to vzb" /tmp/out || fail "no start line"
    grep -q "Pre-copy stopped after round" /tmp/out || fail "no pre-copy stop rule logged"
    grep -q "Total suspended time:" /tmp/out || fail "no suspended time in -t's table"
    sleep 2
    after=$(on_vzb vzctl exec 101 ps -o pid,args | grep -v -e ' ps ' -e PID)
    touch /tmp/probe.stop
    wait $probe || fail "the TCP client lost its server: $(cat /tmp/probe.out)"
    echo "TCP client: $(cat /tmp/probe.out)"
    expect_eq "the VE's processes on vzb" "$after" "$before"
    last=$(on_vzb vzctl exec 101 tail -n 1 /tmp/counter)
    sleep 2
    [ "$(on_vzb vzctl exec 101 tail -n 1 /tmp/counter)" -gt "$last" ] || fail "the counter stopped on vzb"
    config_arrived
    row=$(on_vzb cat /proc/user_beancounters | numproc_row)
    echo "$row" | awk -v m="$maxheld" '{ if ($3 != 300 || $2 < m) exit 1 }' ||
        fail "numproc on vzb: held maxheld limit $row (limit 300, maxheld at least $maxheld expected)"
    [ ! -e /etc/vz/conf/101.conf ] || fail "CT 101's config is still here"
    vztest list | grep -qx 101 && fail "VE 101 still in this kernel"
    address_on_vzb
}

# --noiter: one dump, all frozen; -t --json: one JSON line for panels.
test_single_pass_live_migration_reports_json() {
    running_ve
    vzmigrate --online --noiter -t --json vzb 101 >/tmp/out
    json=$(tail -n 1 /tmp/out)
    echo "$json"
    for key in '"mode":"live"' '"ctid":101' '"destination":"vzb"' '"stop_rule":null' \
        '"frozen_seconds":' '"name":"Undump + Resume"'; do
        echo "$json" | grep -qF "$key" || fail "no $key in the JSON line"
    done
    expect_eq "status on vzb" "$(on_vzb vzctl status 101)" "CTID 101 exist mounted running"
}

test_remove_area_no_keeps_the_source_as_migrated() {
    running_ve
    vzmigrate --online -r no vzb 101 >/dev/null
    [ -f /etc/vz/conf/101.conf.migrated ] || fail "no 101.conf.migrated here"
    [ ! -e /etc/vz/conf/101.conf ] || fail "101.conf still here"
    [ -f /vz/private/101/root/marker ] || fail "the private area was removed"
    vztest list | grep -qx 101 && fail "VE 101 still runs here"
    expect_eq "status on vzb" "$(on_vzb vzctl status 101)" "CTID 101 exist mounted running"
}

test_check_only_changes_nothing() {
    running_ve
    vzmigrate --check-only --online vzb 101 | tee /tmp/out
    grep -qxF "Checking live migration of CT 101 to vzb" /tmp/out || fail "no checking line"
    source_running
    vzb_clean
}

test_exit_codes() {
    created_ve
    expect_exit 1 vzb
    expect_exit 1 --no-such-option vzb 101
    expect_exit 10 vzb 999
    expect_exit 2 --online vzb 101
    expect_exit 4 no-such-host 101
    # Locked: a live process holds the VE's lock.
    sleep 30 &
    printf '%s\nbusy\n' $! >/vz/lock/101.lck
    expect_exit 20 vzb 101
    kill $!
    rm -f /vz/lock/101.lck
    # The VE exists there.
    on_vzb vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null
    expect_exit 9 vzb 101
    on_vzb vzctl --quiet destroy 101 >/dev/null
    on_vzb rm -f /etc/vz/conf/101.conf.destroyed
    # Its address is another VE's there.
    on_vzb vzctl --quiet create 102 --ostemplate $TEMPLATE --ipadd $VE_IP \
        --local_uid 300000 --local_gid 300000 >/dev/null
    expect_exit 12 vzb 101
    grep -q "$VE_IP" /tmp/err || fail "exit 12 without the address: $(cat /tmp/err)"
    on_vzb vzctl --quiet destroy 102 >/dev/null
    # Its uid range overlaps another VE's there (two VEs would share host ids).
    on_vzb vzctl --quiet create 103 --ostemplate $TEMPLATE >/dev/null
    expect_exit 9 vzb 101
    grep -q "overlaps CT 103" /tmp/err || fail "exit 9 without the overlap: $(cat /tmp/err)"
    on_vzb vzctl --quiet destroy 103 >/dev/null
    # No vz module there.
    on_vzb rmmod vz
    expect_exit 14 vzb 101
    on_vzb modprobe vz
    # Another CRIU there: a live migration's dump would not restore.
    vzctl --quiet start 101
    on_vzb 'printf "#!/bin/sh\necho Version: 3.99\n" >/usr/local/bin/criu; chmod +x /usr/local/bin/criu'
    expect_exit 17 --online vzb 101
    on_vzb rm -f /usr/local/bin/criu
    source_running_or_counterless
    vzb_clean
}

# What a failed check leaves: the VE as it was (created_ve's has no counter).
source_running_or_counterless() {
    expect_eq "status here" "$(vzctl status 101)" "CTID 101 exist mounted running"
}

# vzb's disk has no room for the VE: the check says so (exit 6) before anything moves.
test_a_full_destination_disk_is_refused() {
    running_ve
    dd if=/dev/urandom of=/vz/private/101/root/big bs=1M count=64 2>/dev/null
    free_kb=$(on_vzb df -k /vz | awk 'NR == 2 { print $4 }')
    on_vzb fallocate -l $(( (free_kb - 32 * 1024) * 1024 )) /vz/filler
    expect_exit 6 --online vzb 101
    grep -q "not enough disk space" /tmp/err || fail "no disk space message: $(cat /tmp/err)"
    on_vzb rm -f /vz/filler
    source_running
    vzb_clean
}

# CRIU dies on vzb during the restore: exit 7, the VE resumes here, vzb is cleaned.
test_criu_killed_on_the_destination_during_restore() {
    running_ve
    # Once the final dump arrives, the only CRIU on vzb is the restore's.
    on_vzb_background 'until [ -d /vz/dump/Dump.101.migrate/final ]; do sleep 0.02; done
        until killall -9 criu; do sleep 0.02; done'
    expect_exit 7 --online vzb 101
    cat /tmp/out /tmp/err
    grep -qxF "Resuming CT 101" /tmp/out || fail "the source was not resumed"
    source_running
    vzb_clean
}

# vzb's sshd kills every session once the final dump has arrived: the copy or the restore
# fails, the VE resumes here, and vzb is cleaned over a new connection.
test_ssh_killed_after_the_final_dump() {
    running_ve
    on_vzb_background 'until [ -d /vz/dump/Dump.101.migrate/final ]; do sleep 0.02; done
        kill -9 $(ps -o pid,args | awk "/^ *[0-9]+ sshd: root@notty/ { print \$1 }")'
    set +e
    vzmigrate --online vzb 101 >/tmp/out 2>/tmp/err
    code=$?
    set -e
    cat /tmp/out /tmp/err
    case $code in
        6|7) ;;
        *) fail "vzmigrate exited $code, expected 6 (copy) or 7 (restore)" ;;
    esac
    source_running
    vzb_clean
}

# The link to vzb goes down during the first rsync (a big file makes it last): exit 6, the VE
# runs on here, and once the link is back vzb is cleaned.
test_link_cut_during_the_copy() {
    running_ve
    dd if=/dev/urandom of=/vz/private/101/root/big bs=1M count=96 2>/dev/null
    vzmigrate --online vzb 101 >/tmp/out 2>/tmp/err &
    migrate=$!
    wait_for "the first rsync" grep -qxF "Syncing private" /tmp/out
    sleep 1
    ip link set eth0 down
    sleep 20
    ip link set eth0 up
    set +e
    wait $migrate
    code=$?
    set -e
    cat /tmp/out /tmp/err
    expect_eq "vzmigrate's exit" $code 6
    source_running
    vzb_clean
}

# The Debian VE (systemd, journald, lighttpd) moves live while a client on vzb (elsewhere on
# the network, as the VE's users are) asks its web server for a page every 100 ms: every
# request is answered, by the VE here and then by the VE there. While the VE is frozen here
# this host still answers ARP for its address but drops what comes for it: the client's
# connection attempts are retried, not refused.
test_live_migration_of_a_debian_web_server() {
    fresh_pair
    vzctl --quiet create 201 --ostemplate debian-12-x86_64 --ipadd 10.199.0.201 >/dev/null
    vzctl --quiet start 201
    wait_for_boot 201 480
    wait_long 60 "the web server of VE 201" vztest http-get 10.199.0.201:80 /
    on_vzb rm -f /tmp/probe.stop /tmp/probe.status
    on_vzb_background 'vztest probe http 10.199.0.201:80 --until /tmp/probe.stop >/tmp/probe.out 2>&1
        echo $? >/tmp/probe.status'
    sleep 3
    if ! vzmigrate --online -t vzb 201; then
        cat /vz/dump/Dump.201.migrate/*/dump.log 2>/dev/null | grep Error | tail -n 20
        fail "live migration of the Debian VE"
    fi
    sleep 3
    on_vzb touch /tmp/probe.stop
    wait_for "the HTTP client's end" on_vzb test -s /tmp/probe.status
    echo "HTTP client on vzb: $(on_vzb cat /tmp/probe.out)"
    expect_eq "the HTTP client's status" "$(on_vzb cat /tmp/probe.status)" 0
    expect_eq "lighttpd.service on vzb" "$(on_vzb vzctl exec2 201 systemctl is-active lighttpd.service)" active
    vztest http-get 10.199.0.201:80 / | grep -qi html || fail "lighttpd does not answer from vzb"
    ip route | grep -q "10.199.0.201" && fail "a route to 10.199.0.201 still here"
    on_vzb vzctl --quiet stop 201
}

# Attack: VE root fills its tree with links to the host's files (absolute and relative,
# to a file and to a directory) and a FIFO, hoping that the copy, the destination's disk
# quota walk or the undo of a failed move follows them. Each arrives as what it is, the
# undo removes only the VE's own tree, and the files they name on vzb stay as they were.
test_attack_links_in_the_private_area_stay_links() {
    running_ve
    vzctl --quiet set 101 --diskspace 1G:1G --save >/dev/null
    vzctl exec 101 'ln -s /etc /root/etc-link; ln -s ../../../../../etc/passwd /root/passwd-link;
        ln -s / /root/root-link; mkfifo /root/fifo'
    before=$(on_vzb 'ls -ln /etc/passwd /etc/hosts; md5sum /etc/passwd /etc/hosts')
    # A failed move (CRIU killed on vzb) runs the undo over the links first.
    on_vzb_background 'until [ -d /vz/dump/Dump.101.migrate/final ]; do sleep 0.02; done
        until killall -9 criu; do sleep 0.02; done'
    expect_exit 7 --online vzb 101
    vzb_clean
    expect_eq "vzb's files after the undo" "$(on_vzb 'ls -ln /etc/passwd /etc/hosts; md5sum /etc/passwd /etc/hosts')" "$before"
    # A successful one registers the VE (its disk quota walks the tree) and keeps the links.
    vzmigrate --online vzb 101 >/dev/null
    for link in etc-link passwd-link root-link; do
        on_vzb test -L /vz/private/101/root/$link || fail "$link is not a link on vzb"
    done
    on_vzb test -p /vz/private/101/root/fifo || fail "the FIFO is not a FIFO on vzb"
    expect_eq "vzb's files after the move" "$(on_vzb 'ls -ln /etc/passwd /etc/hosts; md5sum /etc/passwd /etc/hosts')" "$before"
    expect_eq "the link inside the VE on vzb" "$(on_vzb vzctl exec 101 readlink /root/etc-link)" /etc
}

# A checkpoint the source cannot take (a `vzctl exec` session holds the VE from the host,
# and CRIU dumps only its init's tree): exit 8, the VE runs on, vzb is cleaned.
test_a_failed_checkpoint_on_the_source_is_8() {
    running_ve
    vzctl exec 101 sleep 60 &
    session=$!
    wait_for "the exec session" sh -c "vzctl exec 101 ps | grep -q '[s]leep 60'"
    expect_exit 8 --online vzb 101
    grep -q "exec or enter session" /tmp/err || fail "exit 8 without the reason: $(cat /tmp/err)"
    kill $session 2>/dev/null || true
    source_running
    vzb_clean
}
