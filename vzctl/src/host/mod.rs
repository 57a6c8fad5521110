//! The privileged operations of the VE lifecycle behind one trait, so that the commands'
//! logic (state checks, config handling, what is applied when) is unit-tested without root.
//! [`LinuxHost`] is the real implementation, exercised by the VM suite.

use crate::device_rules::Rule;
use crate::error::VzError;
use crate::quota::DiskLimits;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod criu;
#[cfg(test)]
pub mod fake;
mod linux;

pub use linux::LinuxHost;

/// A VE that has tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    /// Host pid of its init, 0 if its init is gone but tasks are left.
    pub init_pid: i32,
    pub nproc: u32,
}

/// What starting a VE applies, in order: beancounters (id, barrier, limit), cgroup files
/// (name, value), then init.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartPlan {
    pub veid: u32,
    pub root: PathBuf,
    pub hostname: Option<String>,
    pub ubc: Vec<(u32, u64, u64)>,
    pub cgroup: Vec<(String, String)>,
    /// IP_ADDRESS: routed to the VE once its init runs.
    pub addresses: Vec<Ipv4Addr>,
    /// DEVICES and DEVNODES rules; the DEVNODES nodes are made in the VE's /dev.
    pub devices: Vec<Rule>,
    pub nodes: Vec<(String, Rule)>,
    /// LOCAL_UID / LOCAL_GID: the host ids of the VE's user namespace.
    pub ids: crate::idmap::IdMap,
    /// CPUUNITS and CPULIMIT, for /proc/fairsched.
    pub cpu_share: (u32, u32),
    /// The private area: the root of the VE's disk quota in /proc/vz/vzquota.
    pub private: PathBuf,
}

/// Privileged operations the commands need.
pub trait Host {
    /// The VE's tasks, or None when it has none (stopped).
    fn running(&self, veid: u32) -> Result<Option<Running>, VzError>;
    /// Whether `root` is a mount point.
    fn is_mounted(&self, root: &Path) -> Result<bool, VzError>;
    fn mount(&self, private: &Path, root: &Path) -> Result<(), VzError>;
    fn umount(&self, root: &Path) -> Result<(), VzError>;
    /// Unpacks an OS template (tar.gz or tar.xz) into the existing directory `into`.
    fn unpack(&self, tarball: &Path, into: &Path) -> Result<(), VzError>;
    /// Creates the VE in the kernel, applies the plan and starts its init. On failure nothing
    /// of the VE is left running.
    fn start(&self, plan: &StartPlan) -> Result<(), VzError>;
    /// Stops the VE: `halt` inside it, then (after `timeout`, or at once when `fast`) kills
    /// what is left; then removes it from the kernel.
    fn stop(&self, veid: u32, fast: bool, timeout: Duration) -> Result<(), VzError>;
    /// Runs `argv` inside the running VE with the caller's stdio; returns its exit status.
    fn run(&self, veid: u32, argv: &[String]) -> Result<i32, VzError>;
    /// Runs `argv` inside the running VE on a new pty, relaying the caller's terminal;
    /// returns its exit status.
    fn enter(&self, veid: u32, argv: &[String]) -> Result<i32, VzError>;
    /// Sets one beancounter of a running VE.
    fn set_ubc(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError>;
    /// The CPUs the host gives VEs' cgroups, for their cpuset.cpus.
    fn cpus(&self) -> Result<Vec<u32>, VzError>;
    /// Writes a file of a running VE's cgroup.
    fn set_cgroup(&self, veid: u32, file: &str, value: &str) -> Result<(), VzError>;
    /// Sets the VE's disk limits (its project quota); with `assign`, first puts every file of
    /// the private area in the VE's project.
    fn disk_quota(
        &self,
        veid: u32,
        private: &Path,
        limits: &DiskLimits,
        assign: bool,
    ) -> Result<(), VzError>;
    /// Sets a device rule of a running VE and, with `node`, makes that node in its /dev.
    fn set_device(&self, veid: u32, rule: &Rule, node: Option<&str>) -> Result<(), VzError>;
    /// Adds (or removes) an address of a running VE: on its venet0 and as a host route.
    fn set_address(&self, veid: u32, ip: Ipv4Addr, add: bool) -> Result<(), VzError>;
    /// Freezes every task of the running VE (or thaws them), through its cgroup. While it
    /// is frozen what the host routes to its `addresses` reaches no one: its kernel would
    /// still answer (acknowledge TCP data the dump has not seen, and a restore would lose).
    fn freeze(&self, veid: u32, frozen: bool, addresses: &[Ipv4Addr]) -> Result<(), VzError>;
    /// Checkpoints the running VE with CRIU into the existing, empty directory `dir`, with
    /// the module's state of it (its network devices are `netdevs`); freezes it first if it
    /// is not. A final dump with `kill` ends its tasks once dumped (with their TCP
    /// connections still in repair mode: nothing is sent to their peers); otherwise it
    /// leaves them frozen. A pre-dump takes memory only and leaves the VE as it was. A failed
    /// dump leaves the tasks as they were.
    fn dump(
        &self,
        veid: u32,
        dir: &Path,
        netdevs: &[String],
        mode: crate::checkpoint::DumpMode,
    ) -> Result<crate::checkpoint::DumpStats, VzError>;
    /// Recreates the VE of `plan` from the dump in `dir` (its module state `saved`) and
    /// resumes it, or leaves it frozen when `frozen`. On failure nothing of the VE is left
    /// running and the dump is unchanged.
    fn restore(
        &self,
        plan: &StartPlan,
        dir: &Path,
        saved: &crate::checkpoint::SavedVe,
        frozen: bool,
    ) -> Result<(), VzError>;
    /// Moves host task `pid`, pid 1 of its own pid namespace (CRIU's restored root), into
    /// VE `veid`.
    fn attach(&self, veid: u32, pid: i32) -> Result<(), VzError>;
    /// Tells the kernel a running VE's new CPU share (cpuunits, cpulimit) and addresses, which
    /// /proc/fairsched and /proc/vz/veinfo show.
    fn show_config(
        &self,
        veid: u32,
        cpu_share: (u32, u32),
        addresses: &[Ipv4Addr],
    ) -> Result<(), VzError>;
}
