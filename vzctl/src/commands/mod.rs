//! One file per command; each is thin and calls into the library.

pub mod version;
pub mod vzpid;
