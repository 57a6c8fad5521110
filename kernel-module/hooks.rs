// SPDX-License-Identifier: GPL-2.0

//! The hooks core kernel code calls (`linux/vz_hooks.h`): the table the module registers and
//! one `extern "C"` function per hook, which turns the C arguments into the module's types.

use crate::abi;
use crate::procfs::BC_DIR;
use crate::task::{current, HookTask};
use crate::ubc::Strictness;
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};
use kernel::prelude::*;

// The resource ids core code charges are OpenVZ's, as in the ABI.
const _: () = {
    assert!(bindings::VZ_UB_LOCKEDPAGES == abi::UB_LOCKEDPAGES);
    assert!(bindings::VZ_UB_PRIVVMPAGES == abi::UB_PRIVVMPAGES);
    assert!(bindings::VZ_UB_SHMPAGES == abi::UB_SHMPAGES);
    assert!(bindings::VZ_UB_NUMPROC == abi::UB_NUMPROC);
    assert!(bindings::VZ_UB_NUMTCPSOCK == abi::UB_NUMTCPSOCK);
    assert!(bindings::VZ_UB_NUMFLOCK == abi::UB_NUMFLOCK);
    assert!(bindings::VZ_UB_NUMPTY == abi::UB_NUMPTY);
    assert!(bindings::VZ_UB_NUMSIGINFO == abi::UB_NUMSIGINFO);
    assert!(bindings::VZ_UB_TCPSNDBUF == abi::UB_TCPSNDBUF);
    assert!(bindings::VZ_UB_TCPRCVBUF == abi::UB_TCPRCVBUF);
    assert!(bindings::VZ_UB_OTHERSOCKBUF == abi::UB_OTHERSOCKBUF);
    assert!(bindings::VZ_UB_DGRAMRCVBUF == abi::UB_DGRAMRCVBUF);
    assert!(bindings::VZ_UB_NUMOTHERSOCK == abi::UB_NUMOTHERSOCK);
    assert!(bindings::VZ_UB_NUMFILE == abi::UB_NUMFILE);
};

/// The `task_fork` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: in process context,
/// with live tasks.
unsafe extern "C" fn task_fork_hook(child: *mut bindings::task_struct, clone_flags: u64) -> c_int {
    match NonNull::new(child) {
        Some(child) => crate::ve::on_task_fork(HookTask(child), clone_flags),
        None => EINVAL.to_errno(),
    }
}

/// The `task_free` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: in process context,
/// with live tasks.
unsafe extern "C" fn task_free_hook(task: *mut bindings::task_struct) {
    if let Some(task) = NonNull::new(task) {
        crate::ve::on_task_free(HookTask(task));
    }
}

/// The `dev_access` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: in process context,
/// with live tasks.
unsafe extern "C" fn dev_access_hook(
    ve: *mut c_void,
    mode: bindings::umode_t,
    dev: bindings::dev_t,
    access: c_uint,
) -> c_int {
    let Some((kind, major, minor)) = device_of(mode, dev) else {
        return 0;
    };
    // SAFETY: By the hook contract `ve` is current's VE reference (or null).
    if unsafe { crate::ve::on_dev_access(ve, kind, major, minor, access) } {
        0
    } else {
        EPERM.to_errno()
    }
}

/// The kind (`abi::DEV_CHAR` or `abi::DEV_BLOCK`), major and minor of a device node of `mode`
/// and number `dev`; `None` for anything but a device.
fn device_of(mode: bindings::umode_t, dev: bindings::dev_t) -> Option<(u32, u32, u32)> {
    let kind = match u32::from(mode) & bindings::S_IFMT {
        bindings::S_IFCHR => abi::DEV_CHAR,
        bindings::S_IFBLK => abi::DEV_BLOCK,
        _ => return None,
    };
    Some((kind, dev >> bindings::MINORBITS, dev & bindings::MINORMASK))
}

/// The `mknod_capable` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: in process context,
/// with current's VE reference (or null).
unsafe extern "C" fn mknod_capable_hook(
    ve: *mut c_void,
    mode: bindings::umode_t,
    dev: bindings::dev_t,
) -> bool {
    let Some((kind, major, minor)) = device_of(mode, dev) else {
        return false;
    };
    // SAFETY: By the hook contract `ve` is current's VE reference (or null).
    unsafe { crate::ve::on_mknod_capable(ve, kind, major, minor) }
}

/// The `proc_visible` hook of `HOOK_OPS`: inside a VE, the entries of `/proc/bc` that belong
/// to other VEs are hidden; every other /proc entry is left alone.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`, with the entry's name
/// valid for `len` bytes.
unsafe extern "C" fn proc_visible_hook(
    parent: *const bindings::proc_dir_entry,
    name: *const c_char,
    len: c_uint,
) -> bool {
    let bc = BC_DIR.load(Ordering::Acquire);
    if bc.is_null() || parent != bc.cast_const() {
        return true;
    }
    if name.is_null() {
        return false;
    }
    let Ok(len) = usize::try_from(len) else {
        return false;
    };
    // SAFETY: By the hook contract `name` points at `len` readable bytes, the name of a proc
    // entry that stays allocated for the call.
    let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), len) };
    crate::ve::bc_entry_visible(name, current().ve_id())
}

/// The `task_vpid` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: in process context,
/// with live tasks.
unsafe extern "C" fn task_vpid_hook(task: *mut bindings::task_struct) -> bindings::pid_t {
    NonNull::new(task).map_or(0, |task| crate::ve::on_task_vpid(HookTask(task)))
}

/// The C charge mode as a `Strictness`.
fn strictness(mode: c_uint) -> Option<Strictness> {
    match mode {
        bindings::VZ_CHARGE_BARRIER => Some(Strictness::Barrier),
        bindings::VZ_CHARGE_LIMIT => Some(Strictness::Limit),
        bindings::VZ_CHARGE_FORCE => Some(Strictness::Force),
        bindings::VZ_CHARGE_CHECK => Some(Strictness::Check),
        bindings::VZ_CHARGE_TRY => Some(Strictness::Try),
        _ => None,
    }
}

fn amount_of(amount: c_ulong) -> u64 {
    u64::try_from(amount).unwrap_or(u64::MAX)
}

/// The `charge` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: `slot` points at an
/// object's bc field, `ve` is a live VE reference.
unsafe extern "C" fn charge_hook(
    slot: *mut *mut c_void,
    ve: *mut c_void,
    resource: c_uint,
    amount: c_ulong,
    mode: c_uint,
) -> c_int {
    let Some(how) = strictness(mode) else {
        return EINVAL.to_errno();
    };
    // SAFETY: By the hook contract `slot` is a valid, exclusively used pointer for this call.
    let Some(slot) = (unsafe { slot.as_mut() }) else {
        return EINVAL.to_errno();
    };
    if ve.is_null() {
        return 0;
    }
    // SAFETY: By the hook contract `ve` is a live VE reference.
    if unsafe { crate::ve::charge(slot, ve, resource, amount_of(amount), how) } {
        0
    } else {
        ENOMEM.to_errno()
    }
}

/// The `uncharge` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a pointer to a bc field that holds a reference from
/// `charge_hook` or `bc_get_hook` (or null).
unsafe extern "C" fn uncharge_hook(slot: *mut *mut c_void, resource: c_uint, amount: c_ulong) {
    // SAFETY: By the hook contract `slot` is valid and exclusively used for this call.
    if let Some(slot) = unsafe { slot.as_mut() } {
        // SAFETY: By the hook contract the reference in it has not been given back.
        unsafe { crate::ve::uncharge(slot, resource, amount_of(amount)) };
    }
}

/// The `bc_get` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a live VE reference.
unsafe extern "C" fn bc_get_hook(ve: *mut c_void) -> *mut c_void {
    if ve.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: By the hook contract.
    unsafe { crate::ve::bc_get(ve) }
}

/// The `bc_charge` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a live reference from `charge_hook` or `bc_get_hook`.
unsafe extern "C" fn bc_charge_hook(
    bc: *mut c_void,
    resource: c_uint,
    amount: c_ulong,
    mode: c_uint,
) -> c_int {
    let Some(how) = strictness(mode) else {
        return EINVAL.to_errno();
    };
    if bc.is_null() {
        return 0;
    }
    // SAFETY: By the hook contract the reference is live for this call.
    let counters = unsafe { crate::ve::bc_of(bc) };
    if counters.charge(resource, amount_of(amount), how) {
        0
    } else {
        ENOMEM.to_errno()
    }
}

/// The `bc_uncharge` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a live reference from `charge_hook` or `bc_get_hook`.
unsafe extern "C" fn bc_uncharge_hook(bc: *mut c_void, resource: c_uint, amount: c_ulong) {
    if !bc.is_null() {
        // SAFETY: By the hook contract the reference is live for this call.
        unsafe { crate::ve::bc_of(bc) }.uncharge(resource, amount_of(amount));
    }
}

static HOOK_OPS: bindings::vz_hook_ops = bindings::vz_hook_ops {
    task_fork: Some(task_fork_hook),
    task_free: Some(task_free_hook),
    dev_access: Some(dev_access_hook),
    task_vpid: Some(task_vpid_hook),
    charge: Some(charge_hook),
    uncharge: Some(uncharge_hook),
    bc_get: Some(bc_get_hook),
    bc_charge: Some(bc_charge_hook),
    bc_uncharge: Some(bc_uncharge_hook),
    proc_visible: Some(proc_visible_hook),
    mknod_capable: Some(mknod_capable_hook),
};

/// The module's hooks, registered with core code while this value lives.
pub(crate) struct Hooks(());

impl Hooks {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: `HOOK_OPS` is a static whose functions stay valid until `drop`
        // unregisters them, which waits for running hooks to return.
        to_result(unsafe { bindings::vz_hooks_register(&HOOK_OPS) })?;
        Ok(Hooks(()))
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; unregistering waits for running hooks.
        unsafe { bindings::vz_hooks_unregister(&HOOK_OPS) };
    }
}
