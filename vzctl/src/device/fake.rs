//! A fake [`ControlDevice`] for unit tests: a module that knows the VEs a test gives it and
//! records every call.

use super::{ControlDevice, KernelConfig};
use crate::error::VzError;
use std::cell::RefCell;
use std::collections::BTreeMap;
use vz_abi::{DevPerm, PidInfo, UbCounter, VeInfo, VersionInfo, UB_COUNT, VZ_ABI_VERSION};

#[derive(Default)]
pub struct FakeDevice {
    /// The module release `version` reports.
    pub release: &'static str,
    /// The VEs the module knows, by id, with their task counts.
    pub ves: RefCell<BTreeMap<u32, u32>>,
    /// What `ub_get` reports for every known VE.
    pub counters: [UbCounter; UB_COUNT],
    /// What `ve_info` reports as every known VE's uptime and load.
    pub uptime_ns: u64,
    pub load: [u64; 3],
    pub calls: RefCell<Vec<String>>,
}

impl FakeDevice {
    /// A module that knows `ves` (id, task count).
    pub fn with_ves(ves: &[(u32, u32)]) -> FakeDevice {
        FakeDevice {
            ves: RefCell::new(ves.iter().copied().collect()),
            ..FakeDevice::default()
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    /// The module's answer for an id it does not know.
    fn known(&self, command: &str, veid: u32) -> Result<u32, VzError> {
        self.ves
            .borrow()
            .get(&veid)
            .copied()
            .ok_or_else(|| VzError::Ioctl {
                command: command.to_owned(),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            })
    }
}

impl ControlDevice for FakeDevice {
    fn version(&self) -> Result<VersionInfo, VzError> {
        self.log("version".into());
        let mut info = VersionInfo::zeroed();
        info.abi_version = VZ_ABI_VERSION;
        info.module_version[..self.release.len()].copy_from_slice(self.release.as_bytes());
        Ok(info)
    }

    fn ve_create(&self, veid: u32) -> Result<(), VzError> {
        self.log(format!("ve_create {veid}"));
        self.ves.borrow_mut().insert(veid, 0);
        Ok(())
    }

    fn ve_destroy(&self, veid: u32) -> Result<(), VzError> {
        self.log(format!("ve_destroy {veid}"));
        self.known("VE_DESTROY", veid)?;
        self.ves.borrow_mut().remove(&veid);
        Ok(())
    }

    fn ve_enter(&self, veid: u32) -> Result<(), VzError> {
        self.log(format!("ve_enter {veid}"));
        self.known("VE_ENTER", veid).map(|_| ())
    }

    fn ve_info(&self, veid: u32) -> Result<Option<VeInfo>, VzError> {
        self.log(format!("ve_info {veid}"));
        Ok(self.ves.borrow().get(&veid).map(|&nproc| VeInfo {
            veid,
            nproc,
            uptime_ns: self.uptime_ns,
            load: self.load,
            ..VeInfo::default()
        }))
    }

    fn ve_list(&self) -> Result<Vec<u32>, VzError> {
        self.log("ve_list".into());
        Ok(self.ves.borrow().keys().copied().collect())
    }

    fn pid_info(&self, pid: i32) -> Result<PidInfo, VzError> {
        self.log(format!("pid_info {pid}"));
        // Every task is the host's.
        Ok(PidInfo {
            pid,
            vpid: pid,
            ..PidInfo::default()
        })
    }

    fn set_devperm(&self, rule: DevPerm) -> Result<(), VzError> {
        self.log(format!("set_devperm {rule:?}"));
        self.known("SET_DEVPERMS", rule.veid).map(|_| ())
    }

    fn devperms(&self, veid: u32) -> Result<Vec<DevPerm>, VzError> {
        self.log(format!("devperms {veid}"));
        self.known("GET_DEVPERMS", veid).map(|_| Vec::new())
    }

    fn netdev(&self, veid: u32, op: u32, name: &str) -> Result<(), VzError> {
        self.log(format!("netdev {veid} {op} {name}"));
        self.known("VE_NETDEV", veid).map(|_| ())
    }

    fn ub_set(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError> {
        self.log(format!("ub_set {veid} {resource} {barrier}:{limit}"));
        self.known("UB_SET", veid).map(|_| ())
    }

    fn ub_get(&self, veid: u32) -> Result<[UbCounter; UB_COUNT], VzError> {
        self.log(format!("ub_get {veid}"));
        self.known("UB_GET", veid).map(|_| self.counters)
    }

    fn ve_configure(&self, veid: u32, config: &KernelConfig<'_>) -> Result<(), VzError> {
        self.log(format!(
            "ve_configure {veid} cpu {:?} addresses {:?} private {}",
            config.cpu_share,
            config.addresses,
            config.private.is_some()
        ));
        self.known("VE_CONFIGURE", veid).map(|_| ())
    }

    fn ve_attach(&self, veid: u32, pid: i32) -> Result<(), VzError> {
        self.log(format!("ve_attach {veid} {pid}"));
        self.known("VE_ATTACH", veid).map(|_| ())
    }

    fn ve_export(&self, veid: u32) -> Result<super::VeExport, VzError> {
        self.log(format!("ve_export {veid}"));
        self.known("VE_EXPORT", veid)?;
        Ok(super::VeExport {
            counters: self.counters,
            devices: Vec::new(),
            addresses: Vec::new(),
        })
    }

    fn ve_import(&self, state: &crate::checkpoint::SavedVe, flags: u32) -> Result<(), VzError> {
        self.log(format!("ve_import {} flags {flags}", state.veid));
        self.known("VE_IMPORT", state.veid).map(|_| ())
    }
}
