//! vznop: a program that does nothing, built and linked as vzctl is (release, std, panic
//! abort, the same libc): the lifecycle benchmark's floor for a vzctl command.

fn main() {}
