//! The control device `/dev/vzctl`: the one place userland issues vz ioctls.

use crate::error::VzError;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use vz_abi as abi;
use vz_abi::{DevPerm, PidInfo, VeInfo, VersionInfo};

#[cfg(test)]
pub mod fake;

/// What the tools ask of the kernel module: one method per ioctl of the ABI. The real
/// implementation is [`Vzctl`]; unit tests use the fake in `device/fake.rs`.
pub trait ControlDevice {
    /// The module's ABI version and release.
    fn version(&self) -> Result<VersionInfo, VzError>;
    /// Creates VE `veid` with the default device rules.
    fn ve_create(&self, veid: u32) -> Result<(), VzError>;
    /// Destroys VE `veid`, which must have no tasks.
    fn ve_destroy(&self, veid: u32) -> Result<(), VzError>;
    /// Moves the calling thread into VE `veid` for good.
    fn ve_enter(&self, veid: u32) -> Result<(), VzError>;
    /// State, task count, init and creation time of VE `veid`; `None` when the module does
    /// not know the VE (never created, or destroyed). The module answers that, and only
    /// that, with `ENOENT`: `VZCTL_VE_INFO` has no other "no such VE" errno.
    fn ve_info(&self, veid: u32) -> Result<Option<VeInfo>, VzError>;
    /// Ids of all VEs, ascending.
    fn ve_list(&self) -> Result<Vec<u32>, VzError>;
    /// The VE of host pid `pid` and its pid inside the VE.
    fn pid_info(&self, pid: i32) -> Result<PidInfo, VzError>;
    /// Sets one device rule.
    fn set_devperm(&self, rule: DevPerm) -> Result<(), VzError>;
    /// The device rules of VE `veid`.
    fn devperms(&self, veid: u32) -> Result<Vec<DevPerm>, VzError>;
    /// Gives network device `name` to running VE `veid` (`op` = `NETDEV_ADD`) or takes it
    /// back (`NETDEV_DEL`).
    fn netdev(&self, veid: u32, op: u32, name: &str) -> Result<(), VzError>;
    /// Sets barrier and limit of one beancounter resource (an index into `abi::UB_NAMES`).
    fn ub_set(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError>;
    /// Every beancounter row of a VE, indexed like `abi::UB_NAMES`.
    fn ub_get(&self, veid: u32) -> Result<[abi::UbCounter; abi::UB_COUNT], VzError>;
    /// Tells the module what /proc shows of VE `veid`'s configuration.
    fn ve_configure(&self, veid: u32, config: &KernelConfig<'_>) -> Result<(), VzError>;
    /// Moves host task `pid`, pid 1 of its own pid namespace (CRIU's restored root), into
    /// VE `veid`.
    fn ve_attach(&self, veid: u32, pid: i32) -> Result<(), VzError>;
    /// The VE's state for a checkpoint: beancounters, device rules, addresses.
    fn ve_export(&self, veid: u32) -> Result<VeExport, VzError>;
    /// Gives a restored VE the parts of `state` named by `flags` (`VE_STATE_*`); `netdevs`
    /// are the VE's network devices to record it on.
    fn ve_import(&self, state: &crate::checkpoint::SavedVe, flags: u32) -> Result<(), VzError>;
}

/// What `VZCTL_VE_EXPORT` returns.
pub struct VeExport {
    pub counters: [abi::UbCounter; abi::UB_COUNT],
    pub devices: Vec<DevPerm>,
    pub addresses: Vec<abi::VeAddr>,
}

/// What the module shows of a VE's configuration in /proc/vz/veinfo (addresses),
/// /proc/fairsched (CPU share) and /proc/vz/vzquota (private area). Parts left `None` stay
/// as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelConfig<'a> {
    /// cpuunits, and cpulimit in % of one CPU (0: none).
    pub cpu_share: Option<(u32, u32)>,
    pub addresses: Option<&'a [Ipv4Addr]>,
    /// The private area, open (`O_PATH` is enough).
    pub private: Option<BorrowedFd<'a>>,
}

/// An open `/dev/vzctl` whose module speaks this ABI version.
pub struct Vzctl {
    file: File,
    path: PathBuf,
}

impl Vzctl {
    /// Opens the default control device and checks that the module speaks our ABI.
    pub fn open() -> Result<Self, VzError> {
        Self::open_path(Path::new(abi::VZCTL_DEVICE_PATH))
    }

    /// Opens the control device at `path` and checks that the module speaks our ABI.
    pub fn open_path(path: &Path) -> Result<Self, VzError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|err| match err.kind() {
                io::ErrorKind::NotFound => VzError::ModuleNotLoaded(path.to_owned()),
                io::ErrorKind::PermissionDenied => VzError::PermissionDenied(path.to_owned()),
                _ => VzError::System {
                    what: format!("open {}", path.display()),
                    source: err,
                },
            })?;
        let device = Vzctl {
            file,
            path: path.to_owned(),
        };
        let info = device.version()?;
        if info.abi_version != abi::VZ_ABI_VERSION {
            return Err(VzError::AbiMismatch {
                module: info.abi_version,
                tools: abi::VZ_ABI_VERSION,
            });
        }
        Ok(device)
    }

    /// Issues `cmd` with `arg`; `name` names the command in errors.
    fn call<T>(&self, name: &str, cmd: u32, arg: &mut T) -> Result<(), VzError> {
        // SAFETY: Every vz command number encodes size_of::<T>() of the struct its caller
        // passes (asserted in vz-abi), and `arg` is a valid, writable T for the whole call.
        let ret =
            unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            return Err(if err.raw_os_error() == Some(libc::EPERM) {
                VzError::PermissionDenied(self.path.clone())
            } else {
                VzError::Ioctl {
                    command: name.to_owned(),
                    source: err,
                }
            });
        }
        Ok(())
    }
}

impl ControlDevice for Vzctl {
    fn version(&self) -> Result<VersionInfo, VzError> {
        let mut info = VersionInfo::zeroed();
        self.call("GET_VERSION", abi::VZCTL_GET_VERSION, &mut info)?;
        Ok(info)
    }

    fn ve_create(&self, veid: u32) -> Result<(), VzError> {
        let mut req = abi::VeCreate { veid, flags: 0 };
        self.call("VE_CREATE", abi::VZCTL_VE_CREATE, &mut req)
    }

    fn ve_destroy(&self, veid: u32) -> Result<(), VzError> {
        let mut req = abi::VeRef { veid, reserved: 0 };
        self.call("VE_DESTROY", abi::VZCTL_VE_DESTROY, &mut req)
    }

    fn ve_enter(&self, veid: u32) -> Result<(), VzError> {
        let mut req = abi::VeRef { veid, reserved: 0 };
        self.call("VE_ENTER", abi::VZCTL_VE_ENTER, &mut req)
    }

    fn ve_info(&self, veid: u32) -> Result<Option<VeInfo>, VzError> {
        let mut info = VeInfo {
            veid,
            ..VeInfo::default()
        };
        match self.call("VE_INFO", abi::VZCTL_VE_INFO, &mut info) {
            Ok(()) => Ok(Some(info)),
            Err(VzError::Ioctl { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn ve_list(&self) -> Result<Vec<u32>, VzError> {
        let mut ids = vec![0u32; 64];
        loop {
            let mut req = abi::VeList {
                ids: ids.as_mut_ptr() as u64,
                capacity: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                count: 0,
            };
            self.call("VE_LIST", abi::VZCTL_VE_LIST, &mut req)?;
            let count = req.count as usize;
            if count <= ids.len() {
                ids.truncate(count);
                return Ok(ids);
            }
            // More VEs than room: retry with enough (VEs may be created meanwhile).
            ids.resize(count + 16, 0);
        }
    }

    fn pid_info(&self, pid: i32) -> Result<PidInfo, VzError> {
        let mut req = PidInfo {
            pid,
            ..PidInfo::default()
        };
        self.call("PID_INFO", abi::VZCTL_PID_INFO, &mut req)?;
        Ok(req)
    }

    fn set_devperm(&self, rule: DevPerm) -> Result<(), VzError> {
        let mut rule = rule;
        self.call("SET_DEVPERMS", abi::VZCTL_SET_DEVPERMS, &mut rule)
    }

    fn devperms(&self, veid: u32) -> Result<Vec<DevPerm>, VzError> {
        let mut rules = vec![DevPerm::default(); abi::VZ_MAX_DEVPERMS as usize];
        let mut req = abi::DevPermList {
            veid,
            capacity: abi::VZ_MAX_DEVPERMS,
            count: 0,
            reserved: 0,
            entries: rules.as_mut_ptr() as u64,
        };
        self.call("GET_DEVPERMS", abi::VZCTL_GET_DEVPERMS, &mut req)?;
        rules.truncate(req.count as usize);
        Ok(rules)
    }

    fn netdev(&self, veid: u32, op: u32, name: &str) -> Result<(), VzError> {
        let mut req = abi::NetDev {
            veid,
            op,
            name: netdev_name(name)?,
        };
        self.call("VE_NETDEV", abi::VZCTL_VE_NETDEV, &mut req)
    }

    fn ub_set(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError> {
        let mut req = abi::UbSet {
            veid,
            resource,
            barrier,
            limit,
        };
        self.call("UB_SET", abi::VZCTL_UB_SET, &mut req)
    }

    fn ub_get(&self, veid: u32) -> Result<[abi::UbCounter; abi::UB_COUNT], VzError> {
        let mut req = abi::UbGet {
            veid,
            ..Default::default()
        };
        self.call("UB_GET", abi::VZCTL_UB_GET, &mut req)?;
        Ok(req.counters)
    }

    fn ve_configure(&self, veid: u32, config: &KernelConfig<'_>) -> Result<(), VzError> {
        let addrs: Vec<abi::VeAddr> = config
            .addresses
            .unwrap_or_default()
            .iter()
            .map(|ip| ve_addr(*ip))
            .collect();
        let flag = |set: bool, bit: u32| if set { bit } else { 0 };
        let (cpuunits, cpulimit) = config.cpu_share.unwrap_or((abi::CPUUNITS_MIN, 0));
        let mut req = abi::VeConfig {
            veid,
            flags: flag(config.cpu_share.is_some(), abi::VE_CONFIG_CPU)
                | flag(config.addresses.is_some(), abi::VE_CONFIG_ADDRS)
                | flag(config.private.is_some(), abi::VE_CONFIG_PRIVATE),
            cpuunits,
            cpulimit,
            private_fd: config.private.map_or(-1, |fd| fd.as_raw_fd()),
            addr_count: u32::try_from(addrs.len()).unwrap_or(u32::MAX),
            addrs: addrs.as_ptr() as u64,
        };
        self.call("VE_CONFIGURE", abi::VZCTL_VE_CONFIGURE, &mut req)
    }

    fn ve_attach(&self, veid: u32, pid: i32) -> Result<(), VzError> {
        let mut req = abi::VeAttach { veid, pid };
        self.call("VE_ATTACH", abi::VZCTL_VE_ATTACH, &mut req)
    }

    fn ve_export(&self, veid: u32) -> Result<VeExport, VzError> {
        let mut devices = vec![DevPerm::default(); abi::VZ_MAX_DEVPERMS as usize];
        let mut addresses = vec![abi::VeAddr::default(); abi::VZ_MAX_ADDRS as usize];
        let mut req = abi::VeState {
            devperm_capacity: abi::VZ_MAX_DEVPERMS,
            devperms: devices.as_mut_ptr() as u64,
            addr_capacity: abi::VZ_MAX_ADDRS,
            addrs: addresses.as_mut_ptr() as u64,
            ..abi::VeState::new(veid)
        };
        self.call("VE_EXPORT", abi::VZCTL_VE_EXPORT, &mut req)?;
        devices.truncate(req.devperm_count as usize);
        addresses.truncate(req.addr_count as usize);
        Ok(VeExport {
            counters: req.counters,
            devices,
            addresses,
        })
    }

    fn ve_import(&self, state: &crate::checkpoint::SavedVe, flags: u32) -> Result<(), VzError> {
        let counters = state.counters().map_err(VzError::InvalidValue)?;
        let devices = state.device_rules();
        let addrs: Vec<abi::VeAddr> = state.addresses.iter().map(|ip| ve_addr(*ip)).collect();
        let netdevs = state
            .netdevs
            .iter()
            .map(|name| netdev_name(name))
            .collect::<Result<Vec<_>, _>>()?;
        let count = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let mut req = abi::VeState {
            flags,
            counters,
            devperm_count: count(devices.len()),
            devperms: devices.as_ptr() as u64,
            addr_count: count(addrs.len()),
            addrs: addrs.as_ptr() as u64,
            netdev_count: count(netdevs.len()),
            netdevs: netdevs.as_ptr() as u64,
            ..abi::VeState::new(state.veid)
        };
        self.call("VE_IMPORT", abi::VZCTL_VE_IMPORT, &mut req)
    }
}

/// An IPv4 address as the ABI carries it.
fn ve_addr(ip: Ipv4Addr) -> abi::VeAddr {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&ip.octets());
    abi::VeAddr {
        family: abi::VE_ADDR_IPV4,
        reserved: 0,
        addr,
    }
}

/// A network device name as the ABI carries it: 1 to 15 bytes, NUL-padded.
fn netdev_name(name: &str) -> Result<[u8; abi::NETDEV_NAME_LEN], VzError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= abi::NETDEV_NAME_LEN || bytes.contains(&0) {
        return Err(VzError::InvalidValue(format!(
            "network device name '{name}': 1 to {} bytes",
            abi::NETDEV_NAME_LEN - 1
        )));
    }
    let mut out = [0; abi::NETDEV_NAME_LEN];
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(out)
}
