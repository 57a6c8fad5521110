// SPDX-License-Identifier: GPL-2.0

//! The `/dev/vzctl` command dispatcher: privilege check, then one handler per command.

use crate::abi;
use crate::hooks::{self, IoctlHandler, UserArg};
use kernel::prelude::*;

/// The project release, from the workspace manifest (see Kbuild).
pub(crate) const RELEASE: &str = env!("VZ_RELEASE");

/// Permissions of the device node: root only, as OpenVZ had it.
pub(crate) const VZCTL_MODE: u16 = 0o600;

/// The `/dev/vzctl` device.
pub(crate) struct Vzctl;

impl IoctlHandler for Vzctl {
    /// Every command needs `CAP_SYS_ADMIN`; the check comes first so that an unprivileged
    /// caller learns nothing, not even which commands exist.
    fn ioctl(cmd: u32, arg: UserArg) -> Result<i64> {
        if !hooks::caller_has_sys_admin() {
            return Err(EPERM);
        }
        match cmd {
            abi::VZCTL_GET_VERSION => get_version(arg),
            _ => Err(ENOTTY),
        }
    }
}

fn get_version(arg: UserArg) -> Result<i64> {
    let mut info = abi::VersionInfo::zeroed();
    info.abi_version = abi::VZ_ABI_VERSION;
    let release = RELEASE.as_bytes();
    // Keep at least one NUL at the end, so userland always finds a terminator.
    let len = release.len().min(abi::VZ_VERSION_STRING_LEN - 1);
    if let (Some(dst), Some(src)) = (info.module_version.get_mut(..len), release.get(..len)) {
        dst.copy_from_slice(src);
    }
    arg.write(&info)?;
    Ok(0)
}
