// SPDX-License-Identifier: GPL-2.0

//! The hooks core kernel code calls (`linux/vz_hooks.h`): the table the module registers and
//! one `extern "C"` function per hook, which turns the C arguments into the module's types.

use crate::abi;
use crate::procfs::{SeqOut, BC_DIR};
use crate::task::{self, current, HookTask, TaskExt};
use crate::ubc::Strictness;
use crate::ve::{OwnProcFile, Ve};
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

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
        // SAFETY: By the hook contract `child` is a live child the current task is forking,
        // valid for this call.
        Some(child) => crate::ve::on_task_fork(unsafe { HookTask::from_raw(child) }, clone_flags),
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
        // SAFETY: By the hook contract `task` is a dead task the current task is reaping (or
        // the child of a failed fork), valid for this call.
        crate::ve::on_task_free(unsafe { HookTask::from_raw(task) });
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
    // SAFETY: By the hook contract `ve` is current's VE reference (or null), which current
    // holds for this call.
    let allowed = unsafe { borrow_ve(ve) }
        .is_some_and(|ve| crate::ve::on_dev_access(&ve, kind, major, minor, access));
    if allowed {
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
    // SAFETY: By the hook contract `ve` is current's VE reference (or null), which current
    // holds for this call.
    unsafe { borrow_ve(ve) }.is_some_and(|ve| crate::ve::on_mknod_capable(&ve, kind, major, minor))
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
    let Some(task) = NonNull::new(task) else {
        return 0;
    };
    // SAFETY: By the hook contract `task` is live for this call.
    crate::ve::on_task_vpid(unsafe { task::task_from_raw(task) })
}

/// Borrows a VE reference core code passed to a hook: a task's `vz_priv` or a charged
/// object's bc (`None` for null).
///
/// # Safety
///
/// `ve` is null, or a VE reference this module made with `into_foreign` (`HookTask::replace_ve`,
/// `ChargeSlot::fill`, `bc_get_hook`) whose count stays held for `'a`.
unsafe fn borrow_ve<'a>(ve: *mut c_void) -> Option<ArcBorrow<'a, Ve>> {
    if ve.is_null() {
        return None;
    }
    // SAFETY: By the caller's guarantee.
    Some(unsafe { <Arc<Ve> as ForeignOwnable>::borrow(ve) })
}

/// A charged object's bc field, as the `charge` and `uncharge` hooks get it (`void **bc`).
///
/// # Invariants
///
/// For `'a` the field is used only through this value, and it is null or holds one count of an
/// `Arc<Ve>` made by `into_foreign`.
struct ChargeSlot<'a>(&'a mut *mut c_void);

impl<'a> ChargeSlot<'a> {
    /// # Safety
    ///
    /// `slot` is null, or points at a field that satisfies the type invariants for `'a`.
    unsafe fn from_raw(slot: *mut *mut c_void) -> Option<Self> {
        // SAFETY: By the caller's guarantee a non-null `slot` is valid and not aliased for `'a`.
        unsafe { slot.as_mut() }.map(ChargeSlot)
    }

    /// Stores the reference `ve` of a new charge, as the hook contract asks. The field was
    /// never read first: a reference it held would be kept for good, not given back early.
    fn fill(&mut self, ve: Arc<Ve>) {
        // INVARIANT: A count made by `into_foreign`.
        *self.0 = ve.into_foreign().cast_mut();
    }

    /// Takes the reference out of the field, which becomes null.
    fn take(&mut self) -> Option<Arc<Ve>> {
        let ptr = core::mem::replace(self.0, core::ptr::null_mut());
        // SAFETY: By the type invariant `ptr` is null or a count made by `into_foreign`; the
        // field no longer holds it, so it is given back here, once.
        unsafe { <Arc<Ve> as ForeignOwnable>::try_from_foreign(ptr) }
    }
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
    // SAFETY: By the hook contract `slot` is an object's bc field, used only by this call while
    // it runs, that holds null or a reference from this module.
    let Some(mut slot) = (unsafe { ChargeSlot::from_raw(slot) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: By the hook contract `ve` is null or a VE reference held for this call.
    let Some(ve) = (unsafe { borrow_ve(ve) }) else {
        return 0;
    };
    match crate::ve::charge(ve, resource, amount_of(amount), how) {
        Some(charged) => {
            slot.fill(charged);
            0
        }
        None => ENOMEM.to_errno(),
    }
}

/// The `uncharge` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a pointer to a bc field that holds a reference from
/// `charge_hook` or `bc_get_hook` (or null).
unsafe extern "C" fn uncharge_hook(slot: *mut *mut c_void, resource: c_uint, amount: c_ulong) {
    // SAFETY: By the hook contract `slot` is null or an object's bc field, used only by this
    // call while it runs, that holds null or a reference from this module.
    if let Some(ve) = unsafe { ChargeSlot::from_raw(slot) }.and_then(|mut slot| slot.take()) {
        crate::ve::uncharge(&ve, resource, amount_of(amount));
    }
}

/// The `bc_get` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code with a live VE reference.
unsafe extern "C" fn bc_get_hook(ve: *mut c_void) -> *mut c_void {
    // SAFETY: By the hook contract `ve` is null or a VE reference held for this call.
    match unsafe { borrow_ve(ve) } {
        Some(ve) => Arc::from(ve).into_foreign().cast_mut(),
        None => core::ptr::null_mut(),
    }
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
    // SAFETY: By the hook contract `bc` is null or a VE reference held for this call.
    let Some(ve) = (unsafe { borrow_ve(bc) }) else {
        return 0;
    };
    if ve.beancounters().charge(resource, amount_of(amount), how) {
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
    // SAFETY: By the hook contract `bc` is null or a VE reference held for this call.
    if let Some(ve) = unsafe { borrow_ve(bc) } {
        ve.beancounters().uncharge(resource, amount_of(amount));
    }
}

/// The `proc_show` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: with current's VE
/// reference and the seq_file of the /proc file being shown.
unsafe extern "C" fn proc_show_hook(
    ve: *mut c_void,
    file: c_uint,
    m: *mut bindings::seq_file,
) -> c_int {
    let file = match file {
        bindings::VZ_PROC_MEMINFO => OwnProcFile::Meminfo,
        bindings::VZ_PROC_STAT => OwnProcFile::Stat,
        bindings::VZ_PROC_LOADAVG => OwnProcFile::Loadavg,
        bindings::VZ_PROC_SWAPS => OwnProcFile::Swaps,
        _ => return EINVAL.to_errno(),
    };
    // SAFETY: By the hook contract `ve` is current's VE reference (or null), which current
    // holds for this call.
    let Some(ve) = (unsafe { borrow_ve(ve) }) else {
        return ENODEV.to_errno();
    };
    // SAFETY: By the hook contract `m` is the seq_file of the show call running on this thread.
    let mut out = unsafe { SeqOut::new(m) };
    match ve.show_own(file, &mut out) {
        Ok(()) => 0,
        Err(err) => err.to_errno(),
    }
}

/// The `sysinfo` hook of `HOOK_OPS`.
///
/// # Safety
///
/// Called only by core kernel code as documented in `linux/vz_hooks.h`: with current's VE
/// reference and the sysinfo being filled for current, which only this thread uses.
unsafe extern "C" fn sysinfo_hook(ve: *mut c_void, info: *mut bindings::sysinfo) {
    // SAFETY: By the hook contract `ve` is current's VE reference (or null), which current
    // holds for this call.
    let Some(ve) = (unsafe { borrow_ve(ve) }) else {
        return;
    };
    // SAFETY: By the hook contract `info` is valid and used only by this thread for the call.
    let (Some(own), Some(info)) = (ve.sysinfo(), unsafe { info.as_mut() }) else {
        return;
    };
    let word = |value: u64| c_ulong::try_from(value).unwrap_or(c_ulong::MAX);
    // sysinfo's loads have SI_LOAD_SHIFT fraction bits, the VE's FSHIFT.
    let shift = bindings::SI_LOAD_SHIFT - abi::LOAD_FSHIFT;
    for (out, load) in info.loads.iter_mut().zip(own.load) {
        *out = word(load.saturating_mul(1 << shift));
    }
    info.procs = u16::try_from(own.threads).unwrap_or(u16::MAX);
    info.totalram = word(own.total);
    info.freeram = word(own.free);
    info.sharedram = word(own.shared);
    info.bufferram = 0;
    info.totalswap = word(own.swap_total);
    info.freeswap = word(own.swap_free);
}

/// The `load_sample` hook of `HOOK_OPS`: every `LOAD_FREQ`, from a work item.
extern "C" fn load_sample_hook() {
    if let Ok(table) = crate::ve::VeTable::get() {
        table.sample_load();
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
    proc_show: Some(proc_show_hook),
    sysinfo: Some(sysinfo_hook),
    load_sample: Some(load_sample_hook),
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
