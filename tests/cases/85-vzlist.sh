# vzlist: the VE list as OpenVZ's vzlist printed it, with the real tools in the guest: VE 101
# running and VE 102 stopped, both made from the busybox template.

TEMPLATE=busybox-1.35-x86_64
HEADER="      CTID      NPROC STATUS    IP_ADDR         HOSTNAME"

# No VE of an earlier case is left; VE 101 (a.example) runs, VE 102 (b.example) is stopped.
two_ves() {
    fresh_vz
    vzctl --quiet create 101 --ostemplate $TEMPLATE --hostname a.example >/dev/null
    vzctl --quiet create 102 --ostemplate $TEMPLATE --hostname b.example >/dev/null
    vzctl --quiet start 101 >/dev/null
}

# Stops 101 and destroys both.
remove_ves() {
    vzctl --quiet stop --fast 101 >/dev/null 2>&1 || true
    vzctl --quiet destroy 101 >/dev/null
    vzctl --quiet destroy 102 >/dev/null
}


# The CTIDs and states vzlist prints with the options given, on one line.
states() { vzlist -H -o ctid,status "$@" | awk '{ printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2 }'; }

# Whether vzlist's NPROC of VE 101 is numproc held as the module counts it now.
nproc_is_the_modules() {
    [ "$(vzlist -H -o numproc 101 | tr -d ' ')" = "$(vztest ubget 101 numproc | cut -d' ' -f1)" ]
}

test_default_lists_running_ves_in_openvz_columns() {
    two_ves
    out=$(vzlist)
    expect_eq "header" "$(echo "$out" | sed -n 1p)" "$HEADER"
    expect_eq "rows" "$(echo "$out" | wc -l | tr -d ' ')" 2
    nproc=$(echo "$out" | sed -n 2p | awk '{ print $2 }')
    [ "$nproc" -ge 1 ] || fail "NPROC of a running VE: '$nproc'"
    expect_eq "row of 101" "$(echo "$out" | sed -n 2p)" \
        "$(printf '%10s %10s %-9s %-15s %s' 101 "$nproc" running - a.example)"
    wait_for "vzlist NPROC = the module's numproc held" nproc_is_the_modules
    remove_ves
}

test_all_stopped_and_selection() {
    two_ves
    out=$(vzlist -a)
    expect_eq "header of -a" "$(echo "$out" | sed -n 1p)" "$HEADER"
    expect_eq "row of 102" "$(echo "$out" | sed -n 3p)" \
        "$(printf '%10s %10s %-9s %-15s %s' 102 - stopped - b.example)"
    expect_eq "-a" "$(states -a)" "101 running 102 stopped"
    expect_eq "-S" "$(states -S)" "102 stopped"
    expect_eq "a CTID in any state" "$(states 102)" "102 stopped"
    expect_eq "-H -o ctid" "$(vzlist -H -o ctid)" "       101"
    expect_eq "-1" "$(vzlist -1)" "       101"
    expect_eq "-1 -a" "$(vzlist -1 -a | tr -s ' \n' ' ')" " 101 102 "
    expect_eq "-h pattern" "$(vzlist -1 -a -h 'b.*' | tr -d ' ')" 102
    # Reverse order by CTID; the limit of the running VE comes from the module, the stopped
    # one's from its config (the sample's NUMPROC="240:240").
    limit=$(vztest ubget 101 numproc | cut -d' ' -f4)
    expect_eq "-o ctid,numproc.l -s -ctid" "$(vzlist -a -o ctid,numproc.l -s -ctid)" \
        "$(printf '%10s %10s\n%10s %10s\n%10s %10s' CTID NPROC.L 102 240 101 "$limit")"
    # A VE whose private area is mounted at its root is mounted.
    vzctl --quiet mount 102 >/dev/null
    expect_eq "mounted" "$(states -S)" "102 mounted"
    vzctl --quiet umount 102 >/dev/null
    expect_eq "unmounted" "$(states -S)" "102 stopped"
    remove_ves
}

# Whether vzlist -j shows numproc's held as the module counts it now.
json_held_is_the_modules() {
    held=$(vzlist -j 101 | sed -n '/"numproc": {/,/}/s/.*"held": \([0-9]*\),.*/\1/p')
    [ -n "$held" ] && [ "$held" = "$(vztest ubget 101 numproc | cut -d' ' -f1)" ]
}

test_json_shows_config_and_the_modules_counters() {
    two_ves
    vzctl --quiet set 101 --numproc 77 --save >/dev/null
    json=$(vzlist -j 101)
    expect_eq "array" "$(echo "$json" | sed -n 1p)" "["
    echo "$json" | grep -q '^    "ctid": 101,$' || fail "no ctid in: $json"
    echo "$json" | grep -q '^    "status": "running",$' || fail "not running in: $json"
    echo "$json" | grep -q '^    "hostname": "a.example",$' || fail "no hostname in: $json"
    echo "$json" | grep -q '^    "ip": \[\],$' || fail "ip is not an empty array in: $json"
    numproc=$(echo "$json" | sed -n '/"numproc": {/,/}/p')
    echo "$numproc" | grep -q '"barrier": 77,' || fail "numproc barrier not 77: $numproc"
    echo "$numproc" | grep -q '"limit": 77,' || fail "numproc limit not 77: $numproc"
    wait_for "vzlist -j numproc held = the module's" json_held_is_the_modules
    # -o picks the keys; the stopped VE holds nothing and shows its config's limits.
    expect_eq "-j -o" "$(vzlist -j -o ctid,numproc 102 | tr -d ' \n')" \
        '[{"ctid":102,"numproc":{"held":0,"maxheld":0,"barrier":240,"limit":240,"failcnt":0}}]'
    remove_ves
}

test_errors_exit_1_and_no_module_means_all_stopped() {
    two_ves
    expect_eq "unknown field" "$(status_of vzlist -o foo)" 1
    grep -q "foo" /tmp/err || fail "the message does not name the field: $(cat /tmp/err)"
    expect_eq "suffix in JSON" "$(status_of vzlist -j -o numproc.m)" 1
    expect_eq "unknown sort field" "$(status_of vzlist -s nosuch)" 1
    # OpenVZ's fields that have no meaning here are refused, saying why.
    for field in ioprio iolimit iopslimit features vm_overcommit netfilter capability; do
        expect_eq "-o $field" "$(status_of vzlist -o ctid,$field)" 1
        grep -q "field '$field' of OpenVZ's vzlist does not apply here: .*--$field" /tmp/err \
            || fail "-o $field: $(cat /tmp/err)"
        expect_eq "-s $field" "$(status_of vzlist -s $field)" 1
    done
    expect_eq "missing CT" "$(status_of vzlist 555)" 1
    expect_eq "missing CT says" "$(cat /tmp/err)" "Container(s) not found"
    # Without the module every VE is stopped, and an empty list is no error.
    vzctl --quiet stop --fast 101 >/dev/null
    destroy_all_ves
    unload_module
    expect_eq "no module: -a" "$(states -a)" "101 stopped 102 stopped"
    expect_eq "no module: nothing running" "$(status_of vzlist)" 0
    expect_eq "nothing running says" "$(cat /tmp/err)" "Container(s) not found"
    load_module
    remove_ves
}

# ---------------------------------------------------------------------------------------
# Uptime, load and disk quota, read as OpenVZ's clients read them.

# Zabbix-OpenVZ's discovery (vzdiscover.pl), written anew: it runs
# `vzlist -a -o veid,hostname,status,laverage -H` and takes from each line that matches its
# regex (leading blanks, the CTID, one blank, the hostname up to the next run of blanks that a
# non-blank follows, that run, the status) the CTID, hostname and status. Prints them, one VE a
# line.
zabbix_discovery() {
    vzlist -a -o veid,hostname,status,laverage -H 2>/dev/null |
        sed -nE 's/^[[:space:]]*([0-9]+) ([^[:space:]]*)[[:space:]]+([^[:space:]]+).*$/\1 \2 \3/p'
}

# Zabbix-OpenVZ's item (vzlist.sh and zabbix_agentd.d/openvz.conf): `vzlist -a -o FIELD -H CTID`,
# then awk: the load split on '/' (part $2: 1, 2 or 3), sizes the first word times $3.
zabbix_load() { vzlist -a -o laverage -H "$1" | awk -F/ -v n="$2" '{ print $n }'; }
zabbix_size() { vzlist -a -o "$2" -H "$1" | awk -v k="$3" '{ print $1 * k }'; }

# munin's openvz-load-avg, written anew. config: `vzlist -H -a -s veid -o veid,name`, lines of
# blanks, CTID, blanks, a name of word characters and '-', blanks; fetch: `vzlist -H -s veid
# -o veid,name,laverage`, lines of blanks, CTID, blanks, name, blanks, then three numbers of
# digits and dots joined by '/', blanks. Print "CTID name" (config) and "name 5-minute-load"
# (fetch) for each line that matches.
munin_load_avg_config() {
    vzlist -H -a -s veid -o veid,name |
        sed -nE 's/^[[:space:]]*([0-9]+)[[:space:]]*([[:alnum:]_-]+)[[:space:]]*$/\1 \2/p'
}
munin_load_avg_fetch() {
    vzlist -H -s veid -o veid,name,laverage |
        sed -nE 's#^[[:space:]]*([0-9]+)[[:space:]]+([[:alnum:]_-]+)[[:space:]]+[0-9.]+/([0-9.]+)/[0-9.]+[[:space:]]*$#\2 \3#p'
}

# munin's openvz_ plugin linked as openvz_laverage, written anew: `vzlist -a -H --no-trim -o
# hostname,laverage`; from the first run of digits and dots followed by '/' to the end of the
# line, only the text between that '/' and the last '/' is kept (the 5-minute load); then
# awk prints "laverage<hostname with '.' made '_'>.value <second word>".
munin_openvz_laverage() {
    vzlist -a -H --no-trim -o hostname,laverage | sed -E 's#[0-9.]*/(.*)/.*$#\1#' |
        awk '{ gsub(/[.]/, "_", $1); print "laverage" $1 ".value " $2 }'
}

# A load as vzlist prints it: two decimals.
LOAD='[0-9]+[.][0-9][0-9]'

test_clients_discover_ves_and_read_their_load() {
    two_ves
    vzctl --quiet set 101 --name web --save >/dev/null
    expect_eq "Zabbix discovery" "$(zabbix_discovery | tr '\n' ';')" \
        "101 a.example running;102 b.example stopped;"
    line=$(vzlist -a -o veid,hostname,status,laverage -H | sed -n 1p)
    echo "$line" | grep -Eq " $LOAD/$LOAD/$LOAD\$" || fail "no load at the end of '$line'"
    for n in 1 2 3; do
        zabbix_load 101 $n | grep -Eq "^$LOAD\$" || fail "Zabbix load $n of 101: '$(zabbix_load 101 $n)'"
    done
    expect_eq "Zabbix load of stopped 102" "$(zabbix_load 102 1 | tr -d ' ')" "-"
    expect_eq "munin openvz-load-avg config" "$(munin_load_avg_config | tr '\n' ';')" "101 web;102 -;"
    fetched=$(munin_load_avg_fetch)
    echo "$fetched" | grep -Eq "^web $LOAD\$" || fail "munin openvz-load-avg fetch: '$fetched'"
    expect_eq "munin fetch lines" "$(echo "$fetched" | wc -l | tr -d ' ')" 1
    laverage=$(munin_openvz_laverage)
    echo "$laverage" | sed -n 1p | grep -Eq "^laveragea_example[.]value $LOAD\$" \
        || fail "munin openvz_laverage: '$laverage'"
    expect_eq "munin openvz_laverage, stopped" "$(echo "$laverage" | sed -n 2p)" \
        "laverageb_example.value -"
    remove_ves
}

# Seconds of an uptime as vzlist prints it (DDDdHHh:MMm:SSs).
uptime_s() {
    vzlist -H -o uptime "$1" |
        sed -nE 's/^ *([0-9]+)d([0-9][0-9])h:([0-9][0-9])m:([0-9][0-9])s$/\1 \2 \3 \4/p' |
        awk '{ print (($1 * 24 + $2) * 60 + $3) * 60 + $4 }'
}

test_uptime_counts_from_the_start_and_restarts() {
    two_ves
    up=$(vzlist -H -o uptime 101)
    echo "$up" | grep -Eq '^[0-9]{3,}d[0-9]{2}h:[0-9]{2}m:[0-9]{2}s$' || fail "uptime '$up'"
    expect_eq "header" "$(vzlist -o uptime,laverage 102 | sed -n 1p)" "         UPTIME       LAVERAGE"
    expect_eq "stopped: no uptime, no load" "$(vzlist -H -o uptime,laverage 102 | tr -s ' ')" " - -"
    sleep 3
    before=$(uptime_s 101)
    [ "$before" -ge 3 ] || fail "uptime $before s after 3 s"
    json=$(vzlist -j -o uptime,laverage 101)
    echo "$json" | grep -Eq '^    "uptime": [0-9]+[.][0-9]{3},$' || fail "JSON uptime: $json"
    echo "$json" | grep -Eq "^    \"laverage\": \[$LOAD, $LOAD, $LOAD\]\$" || fail "JSON load: $json"
    expect_eq "JSON, stopped" "$(vzlist -j -o uptime,laverage 102 | tr -d ' \n')" \
        '[{"uptime":0.000,"laverage":null}]'
    vzctl --quiet restart 101 >/dev/null
    after=$(uptime_s 101)
    [ "$after" -lt "$before" ] || fail "uptime $after s after a restart, $before s before"
    remove_ves
}

# Whether the 1-minute load of VE $1, as vzlist prints it, is above 0.5.
load_above_half() {
    vzlist -H -o laverage "$1" | awk -F/ '{ exit !($1 > 0.5) }'
}

test_load_rises_with_busy_loops_in_that_ve_only() {
    two_ves
    vzctl --quiet start 102 >/dev/null
    # Two runnable tasks take the 1-minute load (sampled every 5 s) past 0.5 in about 17 s;
    # one alone would need 42 s.
    for i in 1 2; do
        vzctl exec 101 'while :; do :; done >/dev/null 2>&1 &'
    done
    waited=0
    until load_above_half 101; do
        waited=$((waited + 1))
        [ $waited -le 60 ] || fail "VE 101's load stayed at $(vzlist -H -o laverage 101) for 60 s"
        sleep 1
    done
    echo "after $waited s: 101 $(vzlist -H -o laverage 101), 102 $(vzlist -H -o laverage 102)"
    ! load_above_half 102 || fail "idle VE 102's load rose to $(vzlist -H -o laverage 102)"
    expect_eq "-s -laverage" "$(vzlist -H -o ctid -s -laverage | tr -s ' \n' ' ')" " 101 102 "
    vzctl --quiet stop --fast 102 >/dev/null
    remove_ves
}

# The words of `vzlist -H -o FIELDS CTID` on one line.
values() { vzlist -H -o "$1" "$2" | tr -s ' ' | sed 's/^ //'; }

test_disk_quota_fields_show_usage_and_limits() {
    two_ves
    vzctl --quiet set 101 --diskspace 100M:120M --diskinodes 5000:6000 --save >/dev/null
    expect_eq "header" "$(vzlist -o diskspace,diskspace.s,diskspace.h,diskinodes,diskinodes.s,diskinodes.h 101 | sed -n 1p)" \
        "    DSPACE   DSPACE.S   DSPACE.H    DINODES  DINODES.S  DINODES.H"
    expect_eq "limits of 101" "$(values diskspace.s,diskspace.h,diskinodes.s,diskinodes.h 101)" \
        "102400 122880 5000 6000"
    # The stopped VE: the sample's DISKSPACE="2G:2.2G" and DISKINODES="131072:144179".
    expect_eq "limits of 102" "$(values diskspace.s,diskspace.h,diskinodes.s,diskinodes.h 102)" \
        "2097152 2306868 131072 144179"
    set -- $(values diskspace,diskinodes 102)
    [ "$1" -gt 0 ] && [ "$2" -gt 0 ] || fail "usage of stopped 102: $*"
    set -- $(values diskspace,diskinodes 101)
    space=$1 inodes=$2
    [ "$space" -gt 0 ] && [ "$inodes" -gt 0 ] || fail "usage of 101: $*"
    vzctl exec2 101 'dd if=/dev/zero of=/fill bs=1024 count=4096 2>/dev/null && sync'
    set -- $(values diskspace,diskinodes 101)
    echo "101 used $space KB, $inodes inodes; then $1 KB, $2 inodes"
    [ "$1" -ge $((space + 4096)) ] || fail "4 MB written, usage $space -> $1 KB"
    [ "$2" -gt "$inodes" ] || fail "a file made, inodes $inodes -> $2"
    # As Zabbix reads them: KB times 1024, inodes as they are.
    expect_eq "Zabbix diskspace" "$(zabbix_size 101 diskspace 1024)" "$(($1 * 1024))"
    expect_eq "Zabbix diskspace.s" "$(zabbix_size 101 diskspace.s 1024)" "$((102400 * 1024))"
    expect_eq "Zabbix diskinodes.s" "$(zabbix_size 101 diskinodes.s 1)" 5000
    expect_eq "JSON" "$(vzlist -j -o diskspace 101 | tr -d ' \n')" \
        "[{\"diskspace\":{\"usage\":$1,\"softlimit\":102400,\"hardlimit\":122880}}]"
    # Sorted by usage: the VE with more data last.
    vzctl exec2 101 'rm /fill'
    vzctl exec2 101 'dd if=/dev/zero of=/fill bs=1024 count=8192 2>/dev/null && sync'
    expect_eq "-s diskspace" "$(vzlist -a -H -o ctid -s diskspace | tr -s ' \n' ' ')" " 102 101 "
    remove_ves
}
