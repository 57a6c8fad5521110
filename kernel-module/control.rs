// SPDX-License-Identifier: GPL-2.0

//! The `/dev/vzctl` command dispatcher: privilege check, then one handler per command. Each
//! handler reads its argument from user memory once, validates the copy, then acts.

use crate::abi;
use crate::miscdev::{IoctlHandler, UserArg};
use crate::quota_root::QuotaRoot;
use crate::task::TaskExt;
use crate::ve::{VeConfig, VeImport, VeTable};
use crate::{netdev, task, task_work, uaccess};
use kernel::prelude::*;
use kernel::str::CStr;

/// The project release, from the workspace manifest (see the Makefile).
pub(crate) const RELEASE: &str = env!("VZ_RELEASE");

/// Permissions of the device node: root only, as OpenVZ had it.
pub(crate) const VZCTL_MODE: u16 = 0o600;

/// The `/dev/vzctl` device.
pub(crate) struct Vzctl;

impl IoctlHandler for Vzctl {
    /// Every command needs `CAP_SYS_ADMIN` on the host; the check comes first so that an
    /// unprivileged or in-VE caller learns nothing, not even which commands exist.
    fn ioctl(cmd: u32, arg: UserArg) -> Result<i64> {
        if !task::caller_has_sys_admin() || task::current().ve_id() != 0 {
            return Err(EPERM);
        }
        match cmd {
            abi::VZCTL_GET_VERSION => get_version(arg),
            abi::VZCTL_VE_CREATE => ve_create(arg),
            abi::VZCTL_VE_DESTROY => VeTable::get()?.destroy(read_ve_ref(arg)?),
            abi::VZCTL_VE_ENTER => VeTable::get()?.enter(read_ve_ref(arg)?),
            abi::VZCTL_VE_INFO => ve_info(arg),
            abi::VZCTL_VE_LIST => ve_list(arg),
            abi::VZCTL_PID_INFO => pid_info(arg),
            abi::VZCTL_SET_DEVPERMS => set_devperms(arg),
            abi::VZCTL_GET_DEVPERMS => get_devperms(arg),
            abi::VZCTL_VE_NETDEV => ve_netdev(arg),
            abi::VZCTL_UB_SET => ub_set(arg),
            abi::VZCTL_UB_GET => ub_get(arg),
            abi::VZCTL_VE_CONFIGURE => ve_configure(arg),
            abi::VZCTL_VE_EXPORT => ve_export(arg),
            abi::VZCTL_VE_IMPORT => ve_import(arg),
            abi::VZCTL_VE_ATTACH => ve_attach(arg),
            _ => return Err(ENOTTY),
        }
        .map(|()| 0)
    }
}

fn check_veid(veid: u32) -> Result<u32> {
    if veid == 0 || veid > abi::VZ_VEID_MAX {
        return Err(EINVAL);
    }
    Ok(veid)
}

fn read_ve_ref(arg: UserArg) -> Result<u32> {
    let req: abi::VeRef = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    check_veid(req.veid)
}

fn get_version(arg: UserArg) -> Result {
    let mut info = abi::VersionInfo::zeroed();
    info.abi_version = abi::VZ_ABI_VERSION;
    let release = RELEASE.as_bytes();
    // Keep at least one NUL at the end, so userland always finds a terminator.
    let len = release.len().min(abi::VZ_VERSION_STRING_LEN - 1);
    if let (Some(dst), Some(src)) = (info.module_version.get_mut(..len), release.get(..len)) {
        dst.copy_from_slice(src);
    }
    arg.write(&info)
}

fn ve_create(arg: UserArg) -> Result {
    let req: abi::VeCreate = arg.read()?;
    if req.flags != 0 {
        return Err(EINVAL);
    }
    VeTable::get()?.create(check_veid(req.veid)?)
}

fn ve_info(arg: UserArg) -> Result {
    let req: abi::VeInfo = arg.read()?;
    let info = VeTable::get()?.info(check_veid(req.veid)?)?;
    arg.write(&info)
}

fn ve_list(arg: UserArg) -> Result {
    let mut req: abi::VeList = arg.read()?;
    let capacity = usize::try_from(req.capacity).map_err(|_| EINVAL)?;
    let mut ids = KVec::new();
    req.count = VeTable::get()?.list(&mut ids, capacity)?;
    uaccess::write_user_array(req.ids, &ids)?;
    arg.write(&req)
}

fn pid_info(arg: UserArg) -> Result {
    let req: abi::PidInfo = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    let info = VeTable::get()?.pid_info(req.pid)?;
    arg.write(&info)
}

fn set_devperms(arg: UserArg) -> Result {
    let rule = devperm_checked(arg.read()?)?;
    VeTable::get()?.set_devperm(rule)
}

/// `rule` validated, with the fields it does not use stored as 0.
fn devperm_checked(rule: abi::DevPerm) -> Result<abi::DevPerm> {
    check_veid(rule.veid)?;
    let kind_ok = rule.kind == abi::DEV_CHAR || rule.kind == abi::DEV_BLOCK;
    let flags_ok = matches!(
        rule.flags,
        0 | abi::DEVPERM_ALL_MINORS | abi::DEVPERM_ALL_DEVICES
    );
    if !kind_ok
        || !flags_ok
        || rule.perms & !abi::DEVPERM_ALL != 0
        || rule.major > abi::DEV_MAJOR_MAX
        || rule.minor > abi::DEV_MINOR_MAX
    {
        return Err(EINVAL);
    }
    // Fields a rule does not use are stored as 0 so that equal rules compare equal.
    Ok(abi::DevPerm {
        major: if rule.flags == abi::DEVPERM_ALL_DEVICES {
            0
        } else {
            rule.major
        },
        minor: if rule.flags == 0 { rule.minor } else { 0 },
        ..rule
    })
}

fn get_devperms(arg: UserArg) -> Result {
    let mut req: abi::DevPermList = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    let capacity = usize::try_from(req.capacity).map_err(|_| EINVAL)?;
    let mut rules = KVec::new();
    req.count = VeTable::get()?.devperms(check_veid(req.veid)?, &mut rules, capacity)?;
    uaccess::write_user_array(req.entries, &rules)?;
    arg.write(&req)
}

fn ve_netdev(arg: UserArg) -> Result {
    let req: abi::NetDev = arg.read()?;
    let veid = check_veid(req.veid)?;
    let name = netdev_name(&req.name)?;
    // Validate the whole request before looking at the VE, so a bad op is EINVAL whatever
    // state the VE is in.
    let add = match req.op {
        abi::NETDEV_ADD => true,
        abi::NETDEV_DEL => false,
        _ => return Err(EINVAL),
    };
    let init = VeTable::get()?.init_of(veid)?;
    let caller = task::current();
    if add {
        netdev::move_device(Some(&caller), Some(&init), name, 0, veid)
    } else {
        netdev::move_device(Some(&init), Some(&caller), name, veid, 0)
    }
}

/// A device name of the ABI: NUL-terminated within its array, not empty.
fn netdev_name(name: &[u8; abi::NETDEV_NAME_LEN]) -> Result<&CStr> {
    let name = CStr::from_bytes_with_nul(
        name.iter()
            .position(|&b| b == 0)
            .and_then(|end| name.get(..=end))
            .ok_or(EINVAL)?,
    )
    .map_err(|_| EINVAL)?;
    if name.is_empty() {
        return Err(EINVAL);
    }
    Ok(name)
}

fn ub_set(arg: UserArg) -> Result {
    let req: abi::UbSet = arg.read()?;
    let veid = check_veid(req.veid)?;
    if !abi::ub_resource_valid(req.resource)
        || req.barrier > req.limit
        || req.limit > abi::UB_UNLIMITED
    {
        return Err(EINVAL);
    }
    VeTable::get()?.set_ub_limits(veid, req.resource, req.barrier, req.limit)
}

fn ub_get(arg: UserArg) -> Result {
    let req: abi::UbGet = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    let counters = VeTable::get()?.ub_counters(check_veid(req.veid)?)?;
    arg.write(&abi::UbGet { counters, ..req })
}

fn ve_configure(arg: UserArg) -> Result {
    let req: abi::VeConfig = arg.read()?;
    let veid = check_veid(req.veid)?;
    if req.flags & !abi::VE_CONFIG_ALL != 0 {
        return Err(EINVAL);
    }
    let cpu = if req.flags & abi::VE_CONFIG_CPU != 0 {
        if !(abi::CPUUNITS_MIN..=abi::CPUUNITS_MAX).contains(&req.cpuunits) {
            return Err(EINVAL);
        }
        Some((req.cpuunits, req.cpulimit))
    } else {
        None
    };
    let addrs = if req.flags & abi::VE_CONFIG_ADDRS != 0 {
        Some(read_addresses(req.addrs, req.addr_count)?)
    } else {
        None
    };
    let private = if req.flags & abi::VE_CONFIG_PRIVATE != 0 {
        Some(QuotaRoot::from_fd(req.private_fd)?)
    } else {
        None
    };
    VeTable::get()?.configure(
        veid,
        VeConfig {
            cpu,
            addrs,
            private,
        },
    )
}

/// `count` addresses at user address `addrs`, each valid.
fn read_addresses(addrs: u64, count: u32) -> Result<KVec<abi::VeAddr>> {
    if count > abi::VZ_MAX_ADDRS {
        return Err(EINVAL);
    }
    let addrs: KVec<abi::VeAddr> =
        uaccess::read_user_array(addrs, usize::try_from(count).map_err(|_| EINVAL)?)?;
    if !addrs.iter().all(address_valid) {
        return Err(EINVAL);
    }
    Ok(addrs)
}

/// A host task that is pid 1 of a pid namespace of its own enters a VE in its own context.
fn ve_attach(arg: UserArg) -> Result {
    let req: abi::VeAttach = arg.read()?;
    let veid = check_veid(req.veid)?;
    VeTable::get()?.info(veid)?;
    let target = task::find_by_pid(req.pid).ok_or(ESRCH)?;
    if target.ve_id() != 0 {
        return Err(EBUSY);
    }
    if !target.is_pidns_init() {
        return Err(EINVAL);
    }
    task_work::enter_as(&target, veid)
}

fn ve_export(arg: UserArg) -> Result {
    let req: abi::VeState = arg.read()?;
    if req.flags != 0 {
        return Err(EINVAL);
    }
    let table = VeTable::get()?;
    let veid = check_veid(req.veid)?;
    let counters = table.ub_counters(veid)?;
    let mut rules = KVec::new();
    let capacity = usize::try_from(req.devperm_capacity).map_err(|_| EINVAL)?;
    let devperm_count = table.devperms(veid, &mut rules, capacity)?;
    let mut addrs = KVec::new();
    let capacity = usize::try_from(req.addr_capacity).map_err(|_| EINVAL)?;
    let addr_count = table.addresses(veid, &mut addrs, capacity)?;
    uaccess::write_user_array(req.devperms, &rules)?;
    uaccess::write_user_array(req.addrs, &addrs)?;
    arg.write(&abi::VeState {
        counters,
        devperm_count,
        addr_count,
        netdev_count: 0,
        ..req
    })
}

/// Validates the whole import before anything of the VE changes.
fn ve_import(arg: UserArg) -> Result {
    let req: abi::VeState = arg.read()?;
    let veid = check_veid(req.veid)?;
    if req.flags & !abi::VE_STATE_ALL != 0 {
        return Err(EINVAL);
    }
    let wanted = |flag| req.flags & flag != 0;
    let beancounters = if wanted(abi::VE_STATE_BEANCOUNTERS) {
        let valid = |(resource, row): (usize, &abi::UbCounter)| {
            let resource = u32::try_from(resource).unwrap_or(u32::MAX);
            !abi::ub_resource_valid(resource)
                || (row.barrier <= row.limit && row.limit <= abi::UB_UNLIMITED)
        };
        if !req.counters.iter().enumerate().all(valid) {
            return Err(EINVAL);
        }
        Some(req.counters)
    } else {
        None
    };
    let devperms = if wanted(abi::VE_STATE_DEVPERMS) {
        if req.devperm_count > abi::VZ_MAX_DEVPERMS {
            return Err(EINVAL);
        }
        let count = usize::try_from(req.devperm_count).map_err(|_| EINVAL)?;
        let mut rules: KVec<abi::DevPerm> = uaccess::read_user_array(req.devperms, count)?;
        for rule in rules.iter_mut() {
            *rule = devperm_checked(abi::DevPerm { veid, ..*rule })?;
        }
        Some(rules)
    } else {
        None
    };
    let addrs = if wanted(abi::VE_STATE_ADDRS) {
        Some(read_addresses(req.addrs, req.addr_count)?)
    } else {
        None
    };
    let netdevs = if wanted(abi::VE_STATE_NETDEVS) {
        if req.netdev_count > abi::VZ_MAX_NETDEVS {
            return Err(EINVAL);
        }
        let count = usize::try_from(req.netdev_count).map_err(|_| EINVAL)?;
        let names: KVec<[u8; abi::NETDEV_NAME_LEN]> = uaccess::read_user_array(req.netdevs, count)?;
        for name in names.iter() {
            netdev_name(name)?;
        }
        Some(names)
    } else {
        None
    };
    let table = VeTable::get()?;
    if let Some(names) = &netdevs {
        // First, as it is the one part that can fail on a valid request: a device CRIU did
        // not recreate leaves the VE unchanged.
        let init = table.init_of(veid)?;
        for name in names.iter() {
            netdev::move_device(Some(&init), Some(&init), netdev_name(name)?, 0, veid)?;
        }
    }
    table.import(
        veid,
        VeImport {
            beancounters,
            devperms,
            addrs,
        },
    )
}

/// A known family, no padding, and an IPv4 address only in the first 4 bytes.
fn address_valid(addr: &abi::VeAddr) -> bool {
    let unused = match addr.family {
        abi::VE_ADDR_IPV4 => addr.addr.get(4..),
        abi::VE_ADDR_IPV6 => addr.addr.get(16..),
        _ => None,
    };
    addr.reserved == 0 && unused.is_some_and(|rest| rest.iter().all(|&b| b == 0))
}
