//! A fake [`Host`] for the commands' unit tests: records what it was asked to do.

use crate::error::VzError;
use crate::host::{Host, Running, StartPlan};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Default)]
pub struct FakeHost {
    pub running: RefCell<Option<Running>>,
    pub mounted: RefCell<Vec<PathBuf>>,
    pub calls: RefCell<Vec<String>>,
    pub fail_unpack: bool,
    pub exit_status: i32,
    /// The host's CPUs, as [`Host::cpus`] reports them.
    pub cpus: Vec<u32>,
    /// `dump` and `restore` fail (after `dump` wrote a file of its dump).
    pub fail_dump: bool,
    pub fail_restore: bool,
}

impl FakeHost {
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }
}

impl Host for FakeHost {
    fn running(&self, _veid: u32) -> Result<Option<Running>, VzError> {
        Ok(*self.running.borrow())
    }
    fn is_mounted(&self, root: &Path) -> Result<bool, VzError> {
        Ok(self.mounted.borrow().iter().any(|m| m == root))
    }
    fn mount(&self, private: &Path, root: &Path) -> Result<(), VzError> {
        self.log(format!("mount {} {}", private.display(), root.display()));
        self.mounted.borrow_mut().push(root.to_owned());
        Ok(())
    }
    fn umount(&self, root: &Path) -> Result<(), VzError> {
        self.log(format!("umount {}", root.display()));
        self.mounted.borrow_mut().retain(|m| m != root);
        Ok(())
    }
    fn unpack(&self, tarball: &Path, into: &Path) -> Result<(), VzError> {
        self.log(format!("unpack {}", tarball.display()));
        if self.fail_unpack {
            std::fs::write(into.join("half-written"), "x").ok();
            return Err(VzError::TemplateUnpack {
                template: tarball.to_owned(),
                reason: "broken archive".into(),
            });
        }
        std::fs::create_dir_all(into.join("sbin")).ok();
        std::fs::write(into.join("sbin/init"), "").ok();
        Ok(())
    }
    fn start(&self, plan: &StartPlan) -> Result<(), VzError> {
        self.log(format!("start {plan:?}"));
        *self.running.borrow_mut() = Some(Running {
            init_pid: 42,
            nproc: 1,
        });
        Ok(())
    }
    fn stop(&self, veid: u32, fast: bool, timeout: Duration) -> Result<(), VzError> {
        self.log(format!(
            "stop {veid} fast={fast} timeout={}",
            timeout.as_secs()
        ));
        *self.running.borrow_mut() = None;
        Ok(())
    }
    fn run(&self, veid: u32, argv: &[String]) -> Result<i32, VzError> {
        self.log(format!("run {veid} {argv:?}"));
        Ok(self.exit_status)
    }
    fn disk_quota(
        &self,
        veid: u32,
        _private: &Path,
        limits: &crate::quota::DiskLimits,
        _assign: bool,
    ) -> Result<(), VzError> {
        self.log(format!(
            "quota {veid} {}:{} {}:{}",
            limits.space_soft_kb, limits.space_hard_kb, limits.inodes_soft, limits.inodes_hard
        ));
        Ok(())
    }
    fn set_device(
        &self,
        veid: u32,
        rule: &crate::device_rules::Rule,
        node: Option<&str>,
    ) -> Result<(), VzError> {
        self.log(format!("device {veid} {rule:?} {node:?}"));
        Ok(())
    }
    fn enter(&self, veid: u32, argv: &[String]) -> Result<i32, VzError> {
        self.log(format!("enter {veid} {argv:?}"));
        Ok(self.exit_status)
    }
    fn set_ubc(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError> {
        self.log(format!("ubc {veid} {resource} {barrier}:{limit}"));
        Ok(())
    }
    fn cpus(&self) -> Result<Vec<u32>, VzError> {
        Ok(self.cpus.clone())
    }
    fn set_cgroup(&self, veid: u32, file: &str, value: &str) -> Result<(), VzError> {
        self.log(format!("cgroup {veid} {file}={value}"));
        Ok(())
    }
    fn set_address(&self, veid: u32, ip: std::net::Ipv4Addr, add: bool) -> Result<(), VzError> {
        self.log(format!(
            "address {veid} {ip} {}",
            if add { "add" } else { "del" }
        ));
        Ok(())
    }

    fn show_config(
        &self,
        veid: u32,
        cpu_share: (u32, u32),
        addresses: &[std::net::Ipv4Addr],
    ) -> Result<(), VzError> {
        self.log(format!("show_config {veid} {cpu_share:?} {addresses:?}"));
        Ok(())
    }

    fn attach(&self, veid: u32, pid: i32) -> Result<(), VzError> {
        self.log(format!("attach {veid} {pid}"));
        Ok(())
    }

    fn freeze(
        &self,
        veid: u32,
        frozen: bool,
        addresses: &[std::net::Ipv4Addr],
    ) -> Result<(), VzError> {
        self.log(format!("freeze {veid} {frozen} {addresses:?}"));
        Ok(())
    }

    fn dump(
        &self,
        veid: u32,
        dir: &Path,
        netdevs: &[String],
        mode: crate::checkpoint::DumpMode,
    ) -> Result<crate::checkpoint::DumpStats, VzError> {
        self.log(format!(
            "dump {veid} {} {netdevs:?} {mode:?}",
            dir.display()
        ));
        std::fs::write(dir.join("inventory.img"), "").unwrap();
        if self.fail_dump {
            return Err(VzError::ChkpntFailed {
                veid,
                reason: "criu dump failed".into(),
            });
        }
        Ok(crate::checkpoint::DumpStats::default())
    }

    fn restore(
        &self,
        plan: &StartPlan,
        dir: &Path,
        _saved: &crate::checkpoint::SavedVe,
        frozen: bool,
    ) -> Result<(), VzError> {
        self.log(format!("restore {} {} {frozen}", plan.veid, dir.display()));
        if self.fail_restore {
            return Err(VzError::RestoreFailed {
                veid: plan.veid,
                reason: "criu restore failed".into(),
            });
        }
        *self.running.borrow_mut() = Some(Running {
            init_pid: 1,
            nproc: 1,
        });
        Ok(())
    }
}
