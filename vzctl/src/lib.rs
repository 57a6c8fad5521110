//! The vzctl library: everything the vzctl, vzlist, vzpid and vzmigrate binaries share.
//!
//! Privileged operations go through the [`device::ControlDevice`] trait so command logic is
//! unit-tested without root or a kernel; the real implementation is exercised in the VM suite.

pub mod cli;
pub mod commands;
pub mod device;
pub mod error;
pub mod procfs;

/// The tools' release; the module reports the same workspace version.
pub const TOOLS_VERSION: &str = env!("CARGO_PKG_VERSION");
