# The non-interactive `make run`: show that the module and tools work, then power off.
set -e
echo "\$ vzctl --version"
vzctl --version
echo "\$ ls -l /dev/vzctl"
ls -l /dev/vzctl
echo "\$ df -h /vz"
df -h /vz
echo "\$ cat /vz/.boots"
count=$(( $(cat /vz/.boots 2>/dev/null || echo 0) + 1 ))
echo "$count" > /vz/.boots
echo "this data disk has been booted $count time(s)"
