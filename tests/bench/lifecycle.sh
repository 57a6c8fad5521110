# make bench, lifecycle: what vzctl's commands cost over the kernel work they ask for, as
# ratios to baselines taken in the same guest run (fastest of RUNS; goals from issue 16):
#   start + exec2 + stop --fast / the raw cycle: a cgroup, busybox unshare of the namespaces,
#       a bind mount of the VE's root, pivot_root and exec of true        (goal: at most 1.5)
#   vzctl status CT, vzlist CT / vznop, a program linked as vzctl is      (goal: at most 1.5)
#   vzctl exec2 CT true / vznsexec: setns into the VE's namespaces, fork, exec true
#                                                                         (goal: at most 2)
# and, as times, create, start, stop --fast, destroy, and the kernel memory an idle busybox VE
# costs (slab, page tables, stacks; goal: at most 350 KiB), from IDLE running VEs.
set -e
. /tests/lib.sh
RUNS=${RUNS:-15}
IDLE=${IDLE:-20}
TEMPLATE=busybox-1.35-x86_64

# best CMD...: the fastest of RUNS runs of CMD, in microseconds.
best() { vztest time --runs "$RUNS" -- "$@" | cut -d' ' -f1; }
# once CMD...: one run of CMD, in microseconds.
once() { vztest time --runs 1 -- "$@" | cut -d' ' -f1; }
min() { [ -z "$1" ] || [ "$2" -lt "$1" ] && echo "$2" || echo "$1"; }

fresh_vz
vzctl --quiet create 101 --ostemplate $TEMPLATE >/dev/null

# The raw cycle, on the VE's own files.
mkdir -p /tmp/rawroot
cat > /tmp/raw-cycle.sh <<'EOF'
cg=/sys/fs/cgroup/raw$$
mkdir $cg
echo $$ > $cg/cgroup.procs
unshare -m -u -i -n -p -f -r --propagation private sh -c \
    'mount --bind /vz/private/101 /tmp/rawroot && cd /tmp/rawroot && pivot_root . . && exec /bin/true'
echo $$ > /sys/fs/cgroup/cgroup.procs
rmdir $cg
EOF
raw_cycle=$(best sh /tmp/raw-cycle.sh)
cycle=$(best sh -c 'vzctl --quiet start 101 && vzctl exec2 101 true && vzctl --quiet stop --fast 101')

c_create=; c_start=; c_stop=; c_destroy=
r=1
while [ $r -le 5 ]; do
    c_create=$(min "$c_create" "$(once vzctl --quiet create 102 --ostemplate $TEMPLATE)")
    c_start=$(min "$c_start" "$(once vzctl --quiet start 102)")
    c_stop=$(min "$c_stop" "$(once vzctl --quiet stop --fast 102)")
    c_destroy=$(min "$c_destroy" "$(once vzctl --quiet destroy 102)")
    r=$((r + 1))
done

vzctl --quiet start 101
init=$(ve_field 101 4)
nop=$(best vznop)
host_true=$(best /bin/true)
status=$(best vzctl status 101)
list=$(best vzlist 101)
exec2=$(best vzctl exec2 101 true)
nsexec=$(best vznsexec "$init" true)
vzctl --quiet stop --fast 101

# An idle VE's kernel memory: IDLE more VEs made first (their files are not what a running VE
# costs), then started; the meminfo deltas divided among them, caches dropped both times.
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
kernel_kb() { echo $(( $(meminfo Slab) + $(meminfo PageTables) + $(meminfo KernelStack) )); }
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 3; }
# each_idle CMD...: runs CMD ID for each of the IDLE VEs.
each_idle() { i=1; while [ $i -le "$IDLE" ]; do "$@" $((200 + i)); i=$((i + 1)); done; }
make_ve() { vzctl --quiet create "$1" --ostemplate $TEMPLATE >/dev/null; }
remove_ve() { vzctl --quiet stop --fast "$1" && vzctl --quiet destroy "$1"; }
each_idle make_ve
settle
avail0=$(meminfo MemAvailable); slab0=$(meminfo Slab); kern0=$(kernel_kb)
each_idle vzctl --quiet start
settle
avail1=$(meminfo MemAvailable); slab1=$(meminfo Slab); kern1=$(kernel_kb)
each_idle remove_ve

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
printf '%-34s %10s %10s %8s %6s\n' lifecycle "ms" "base ms" ratio goal
printf '%-34s %10s %10s %8s %6s\n' "start+exec2+stop / raw cycle" "$(ms "$cycle")" "$(ms "$raw_cycle")" "$(ratio "$cycle" "$raw_cycle")" 1.5
printf '%-34s %10s %10s %8s %6s\n' "vzctl status / vznop" "$(ms "$status")" "$(ms "$nop")" "$(ratio "$status" "$nop")" 1.5
printf '%-34s %10s %10s %8s %6s\n' "vzlist CT / vznop" "$(ms "$list")" "$(ms "$nop")" "$(ratio "$list" "$nop")" 1.5
printf '%-34s %10s %10s %8s %6s\n' "exec2 true / nsexec true" "$(ms "$exec2")" "$(ms "$nsexec")" "$(ratio "$exec2" "$nsexec")" 2
printf '%-34s %10s %10s %8s %6s\n' "/bin/true on the host" "$(ms "$host_true")" - - -
for step in create start stop destroy; do
    eval "t=\$c_$step"
    printf '%-34s %10s %10s %8s %6s\n' "vzctl $step" "$(ms "$t")" - - -
done
printf 'idle busybox VE (%d running): MemAvailable %d KiB, kernel (slab+page tables+stacks) %d KiB, slab %d KiB per VE (goal: kernel at most 350)\n' \
    "$IDLE" $(( (avail0 - avail1) / IDLE )) $(( (kern1 - kern0) / IDLE )) $(( (slab1 - slab0) / IDLE ))
