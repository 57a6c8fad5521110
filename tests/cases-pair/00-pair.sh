# The link between the two guests of a pair, which the other two-guest cases (migration)
# build on: vzb by name over ssh and rsync, and its vz module loaded.

test_peer_reachable_by_ssh_rsync_and_ping() {
    expect_eq "vzb's hostname over ssh" "$(ssh vzb hostname)" vzb
    ping -c 1 -W 5 vzb >/dev/null || fail "vzb does not answer ping"
    src=/tmp/pair-src
    rm -rf "$src"
    mkdir -p "$src/sub"
    echo one >"$src/a"
    seq 1 2000 >"$src/sub/b"
    ln -s a "$src/link"
    ssh vzb rm -rf /tmp/pair-dst
    rsync -a "$src/" vzb:/tmp/pair-dst/
    expect_eq "files copied by rsync" \
        "$(ssh vzb 'cd /tmp/pair-dst && find . | sort && cat a sub/b | md5sum && readlink link')" \
        "$(cd "$src" && find . | sort && cat a sub/b | md5sum && readlink link)"
    ssh vzb test -c /dev/vzctl || fail "no /dev/vzctl on vzb: its vz module is not loaded"
}
