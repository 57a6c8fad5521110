// SPDX-License-Identifier: GPL-2.0

//! The vz kernel module: virtual environments (VEs) for OpenVZ-style containers.
//!
//! Userland talks to the module through `/dev/vzctl` (see `abi/src/abi.rs` for the commands).

use kernel::c_str;
use kernel::prelude::*;

// Shared with userland, which uses parts the module does not.
#[allow(dead_code, unreachable_pub)]
#[path = "abi/src/abi.rs"]
mod abi;
mod control;
mod hooks;

module! {
    type: VzModule,
    name: "vz",
    author: "vz project",
    description: "OpenVZ-style virtual environments",
    license: "GPL",
}

struct VzModule {
    _control: hooks::MiscDevice,
}

impl kernel::Module for VzModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let control = hooks::MiscDevice::register::<control::Vzctl>(
            module,
            c_str!("vzctl"),
            control::VZCTL_MODE,
        )?;
        pr_info!("vz {} loaded, ABI {}\n", control::RELEASE, abi::VZ_ABI_VERSION);
        Ok(VzModule { _control: control })
    }
}

impl Drop for VzModule {
    fn drop(&mut self) {
        pr_info!("vz unloaded\n");
    }
}
