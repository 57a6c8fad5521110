# The non-interactive `make run`: a VE's life with the real tools, the data disk, power off.
set -e
show() { echo "\$ $*"; "$@"; }
show vzctl --version
show ls -l /dev/vzctl
# A VE left by an earlier run of this persistent disk goes first.
vzctl --quiet stop --fast 901 >/dev/null 2>&1 || true
vzctl --quiet destroy 901 >/dev/null 2>&1 || true
show vzctl create 901 --ostemplate busybox-1.35-x86_64 --hostname demo.example
show vzctl set 901 --numproc 50 --save
show vzctl start 901
show vzctl exec2 901 'hostname; ps'
show vzlist -o ctid,numproc,numproc.l,status,hostname
show vzpid $$
show vzctl stop 901
show vzctl destroy 901
show df -h /vz
count=$(( $(cat /vz/.boots 2>/dev/null || echo 0) + 1 ))
echo "$count" > /vz/.boots
echo "this data disk has been booted $count time(s)"
