# make bench: the cost of the vz hooks, as ratios against a baseline taken in the same guest.
#   host, module loaded / host, module not loaded    (goal: at most 1.02)
#   in a VE, hooks and beancounters active / host, module not loaded (goal: at most 1.05)
# open_close opens /dev/null (device rules and numfile), open_close_file a regular file
# (numfile only). Each configuration runs several alternating rounds; the fastest counts.
set -e
ROUNDS=${ROUNDS:-5}
ITER="--iterations 3000 --rounds 5"
vztest destroy-all >/dev/null 2>&1 || true
r=1
while [ $r -le $ROUNDS ]; do
    if grep -q '^vz ' /proc/modules; then rmmod vz; fi
    vztest bench $ITER >> /tmp/bench.off
    modprobe vz
    vztest bench $ITER >> /tmp/bench.on
    vztest create 900
    vztest enter 900 -- vztest bench $ITER >> /tmp/bench.ve
    vztest destroy 900
    r=$((r + 1))
done
best() { awk -v m="$1" '$1 == m { if (best == "" || $2 < best) best = $2 } END { print best }' "$2"; }
printf '%-16s %12s %12s %12s %10s %10s\n' loop "off ns/op" "on ns/op" "VE ns/op" "on/off" "VE/off"
for m in fork_exit_wait socket_close open_close open_close_file mmap_munmap; do
    off=$(best $m /tmp/bench.off); on=$(best $m /tmp/bench.on); ve=$(best $m /tmp/bench.ve)
    awk -v m=$m -v off=$off -v on=$on -v ve=$ve \
        'BEGIN { printf "%-16s %12d %12d %12d %10.3f %10.3f\n", m, off, on, ve, on / off, ve / off }'
done
