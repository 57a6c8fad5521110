// SPDX-License-Identifier: GPL-2.0

//! The vz kernel module: virtual environments (VEs) for OpenVZ-style containers.
//!
//! Userland talks to the module through `/dev/vzctl` (see `abi/src/abi.rs` for the commands);
//! core kernel code calls it through the hooks of `linux/vz_hooks.h`.

use kernel::c_str;
use kernel::prelude::*;

// Shared with userland, which uses parts the module does not.
#[allow(dead_code, unreachable_pub)]
#[path = "abi/src/abi.rs"]
mod abi;
mod clock;
mod hooks;
mod installed;
#[deny(unsafe_code)]
mod load;
mod memcg;
mod miscdev;
mod module_ref;
mod netdev;
mod procfs;
mod quota_root;
mod task;
mod task_work;
mod uaccess;
mod ve_stats;

// The VE logic is safe Rust on top of the wrapper files above; the compiler holds it to that.
#[deny(unsafe_code)]
mod control;
#[deny(unsafe_code)]
mod ubc;
#[deny(unsafe_code)]
mod ve;
#[deny(unsafe_code)]
mod ve_proc;

module! {
    type: VzModule,
    name: "vz",
    author: "vz project",
    description: "OpenVZ-style virtual environments",
    license: "GPL",
}

// Fields drop in declaration order: the device and /proc files go before the hooks, and the
// table last, after nothing can reach it any more.
struct VzModule {
    _control: miscdev::MiscDevice,
    _proc: procfs::ProcFiles,
    _hooks: hooks::Hooks,
    _table: TableOwner,
}

/// Owns the VE table and uninstalls it before it is freed.
struct TableOwner {
    _table: Pin<KBox<ve::VeTable>>,
}

impl Drop for TableOwner {
    fn drop(&mut self) {
        ve::TABLE.uninstall();
    }
}

impl kernel::Module for VzModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let table = KBox::pin_init(ve::VeTable::new(), GFP_KERNEL)?;
        // SAFETY: The table is pinned in its box, which `TableOwner` frees only after
        // uninstalling it. That happens last in module exit (see `VzModule`'s field order):
        // after the device, the /proc files and the hooks, whose users are the only callers of
        // `VeTable::get`, are gone and have returned.
        unsafe { ve::TABLE.install(&table) };
        let table = TableOwner { _table: table };
        let hooks = hooks::Hooks::register()?;
        let proc = procfs::ProcFiles::register()?;
        let control = miscdev::MiscDevice::register::<control::Vzctl>(
            module,
            c_str!("vzctl"),
            control::VZCTL_MODE,
        )?;
        pr_info!(
            "vz {} loaded, ABI {}\n",
            control::RELEASE,
            abi::VZ_ABI_VERSION
        );
        Ok(VzModule {
            _control: control,
            _proc: proc,
            _hooks: hooks,
            _table: table,
        })
    }
}

impl Drop for VzModule {
    fn drop(&mut self) {
        pr_info!("vz unloaded\n");
    }
}
