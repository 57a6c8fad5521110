// SPDX-License-Identifier: GPL-2.0

//! Running the module's code in another task's own context (task work). A task's VE is
//! changed only by the task itself (see `task::HookTask`); to move another task into a VE
//! the module queues work on it, which the task runs before it next returns to user space.

use crate::task::{as_raw, TaskExt};
use crate::ve::VeTable;
use core::sync::atomic::{AtomicI32, Ordering};
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::task::Task;

// linux/task_work.h is not among the Rust bindings; both functions are exported.
extern "C" {
    // The task as `void *`: its bindgen type is not FFI-safe to the lint (empty structs).
    fn task_work_add(
        task: *mut core::ffi::c_void,
        work: *mut bindings::callback_head,
        notify: core::ffi::c_uint,
    ) -> core::ffi::c_int;
    fn msleep(msecs: core::ffi::c_uint);
}

/// `TWA_SIGNAL` of `enum task_work_notify_mode`: interrupt the task's wait to run the work.
const TWA_SIGNAL: core::ffi::c_uint = 2;

/// The result slot while the work has not run.
const PENDING: i32 = i32::MIN;

/// A queued entry into a VE. `head` comes first: the kernel hands the callback a pointer to
/// it, which is then a pointer to the whole.
#[repr(C)]
struct EnterWork {
    head: bindings::callback_head,
    veid: u32,
    /// 0 or a negative errno once the work ran.
    result: Arc<AtomicI32>,
}

/// Runs in the target task: it enters the VE itself, as `VZCTL_VE_ENTER` would for it.
///
/// # Safety
///
/// `head` must be the `head` of an `EnterWork` leaked by `enter_as`, passed once (the
/// kernel calls task work once).
unsafe extern "C" fn run_enter(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the first field of an `EnterWork` that `enter_as` leaked from a
    // `KBox` and handed to the kernel, which calls this once with it; it is ours again here.
    let work = unsafe { KBox::from_raw(head.cast::<EnterWork>()) };
    let current = crate::task::current();
    let result = if current.ve_id() != 0 {
        EBUSY.to_errno()
    } else {
        match VeTable::get().and_then(|table| table.enter(work.veid)) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    };
    work.result.store(result, Ordering::Release);
}

/// Moves `task` into VE `veid` for good, in the task's own context, and waits until it has.
/// The task must come back to the kernel's exit path (a wait it sleeps in interruptibly is
/// broken off for it); CRIU's restored root does, waiting on CRIU's futex.
pub(crate) fn enter_as(task: &Task, veid: u32) -> Result {
    let result = Arc::new(AtomicI32::new(PENDING), GFP_KERNEL)?;
    let work = KBox::new(
        EnterWork {
            head: bindings::callback_head {
                next: core::ptr::null_mut(),
                func: Some(run_enter),
            },
            veid,
            result: result.clone(),
        },
        GFP_KERNEL,
    )?;
    let raw = KBox::into_raw(work);
    // SAFETY: `task` is a live task; `raw` points to an `EnterWork` whose first field is an
    // initialised callback_head, which stays valid until the callback takes it back.
    let ret = unsafe { task_work_add(as_raw(task).cast(), raw.cast(), TWA_SIGNAL) };
    if let Err(err) = to_result(ret) {
        // SAFETY: The kernel did not take the work (the task is exiting): it is ours again.
        drop(unsafe { KBox::from_raw(raw) });
        return Err(err);
    }
    // The work runs at the latest when the task exits, and this ioctl holds the module until
    // then: no callback runs after the module is gone.
    loop {
        let done = result.load(Ordering::Acquire);
        if done != PENDING {
            return to_result(done);
        }
        // SAFETY: msleep only sleeps; this is process context (an ioctl).
        unsafe { msleep(1) };
    }
}
