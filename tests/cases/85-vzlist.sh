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
