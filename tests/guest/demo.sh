# The non-interactive `make run`: show the module, a VE and the data disk, then power off.
set -e
show() { echo "\$ $*"; "$@"; }
show vzctl --version
show ls -l /dev/vzctl
show vztest create 101
echo "\$ vztest enter 101 -- sh -c 'grep -E \"envID|VPid\" /proc/self/status; cat /proc/vz/veinfo'"
vztest enter 101 -- sh -c 'grep -E "envID|VPid" /proc/self/status; cat /proc/vz/veinfo'
show vzpid $$
show vztest destroy 101
show df -h /vz
count=$(( $(cat /vz/.boots 2>/dev/null || echo 0) + 1 ))
echo "$count" > /vz/.boots
echo "this data disk has been booted $count time(s)"
