# make soak: the beancounter churn case for ten minutes. Two workers in one VE charge and
# release processes, files, sockets, ptys and memory at once; afterwards every counter must be
# back at 0 and no refusal may have been counted.
. /tests/lib.sh
. /tests/cases/70-ubc.sh
set -e
CHURN_SECONDS=${CHURN_SECONDS:-600}
test_concurrent_churn_leaves_no_drift
no_kernel_faults
echo "soak: $CHURN_SECONDS s of churn in VE 101, every counter back at 0, no kernel fault"
