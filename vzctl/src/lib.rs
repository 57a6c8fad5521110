//! The vzctl library: everything the vzctl, vzlist, vzpid and vzmigrate binaries share.
//!
//! Privileged operations go through the [`device::ControlDevice`] and [`host::Host`] traits so
//! command logic is unit-tested without root or a kernel; the real implementations are
//! exercised in the VM suite.

pub mod cgroup;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conflicts;
pub mod device;
pub mod device_rules;
pub mod error;
pub mod host;
pub mod idmap;
pub mod lock;
pub mod migrate;
pub mod mounts;
pub mod names;
pub mod net;
pub mod params;
pub mod paths;
pub mod procfs;
pub mod quota;
pub mod runtime;
pub mod tools;
pub mod trace;
pub mod ve;
pub mod ve_files;

/// The tools' release; the module reports the same workspace version.
pub const TOOLS_VERSION: &str = env!("CARGO_PKG_VERSION");
