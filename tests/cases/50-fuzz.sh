# The control device under random input: no kernel report, and the module still works.

module_still_works() {
    destroy_all_ves
    expect_eq "version ioctl" "$(vztest ioctl version)" ok
    vztest create 4242
    vztest destroy 4242
    rmmod vz
    modprobe vz
    no_kernel_faults
}

test_fuzz_as_host_root() {
    fresh_module
    vztest fuzz --calls 100000 --threads 4 --seed 1
    module_still_works
}

test_fuzz_as_non_root() {
    fresh_module
    out=$(vztest fuzz --calls 100000 --threads 4 --seed 2 --uid 65534)
    echo "$out"
    expect_eq "every call refused" "$out" "calls=100000 EPERM=100000"
    module_still_works
}

test_fuzz_inside_a_ve() {
    fresh_module
    vztest create 101
    out=$(vztest fuzz --calls 100000 --threads 4 --seed 3 --enter 101)
    echo "$out"
    expect_eq "every call refused" "$out" "calls=100000 EPERM=100000"
    module_still_works
}
