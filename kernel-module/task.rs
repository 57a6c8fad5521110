// SPDX-License-Identifier: GPL-2.0

//! Tasks: the task a hook or ioctl runs for, with its VE reference (`HookTask`), and what the
//! module asks about any task (`TaskExt` on the kernel's `Task`; counted as `ARef<Task>`).

use crate::ve::Ve;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::sync::Arc;
use kernel::task::Task;
use kernel::types::{ARef, ForeignOwnable};

/// Returns true if the current task has `CAP_SYS_ADMIN` in the initial user namespace.
pub(crate) fn caller_has_sys_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials; any capability number
    // in range is valid and CAP_SYS_ADMIN is.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// The C task behind `task`, for the C functions the module calls.
pub(crate) fn as_raw(task: &Task) -> *mut bindings::task_struct {
    // `Task` is a transparent wrapper of the C struct (in an `Opaque`, so C may write it).
    core::ptr::from_ref(task).cast_mut().cast()
}

/// The kernel's `Task` for a task pointer core code passed to a hook.
///
/// # Safety
///
/// `task` points at a task that stays valid for `'a`.
pub(crate) unsafe fn task_from_raw<'a>(task: NonNull<bindings::task_struct>) -> &'a Task {
    // SAFETY: `Task` is a transparent wrapper of the C struct, and the task is valid for `'a`
    // by the caller's guarantee.
    unsafe { task.cast::<Task>().as_ref() }
}

/// A task a hook or ioctl runs for, borrowed for that call: the current task, a child the
/// current task is forking, or a task the current task is freeing. Through it the module reads
/// and replaces the task's VE reference (`vz_priv`); everything else is on `Task` (`TaskExt`).
///
/// # Invariants
///
/// - `task` is valid for `'a`.
/// - The task's `vz_priv` is null or holds one count of an `Arc<Ve>` made by `into_foreign`:
///   only `replace_ve` stores into it, and core code only clears the copy a new child gets.
/// - While `'a` lasts, only the current thread changes that `vz_priv`: a task changes its own
///   (enter), a parent its new child's before the child runs (fork), and the reaper that of a
///   dead task (free). The value is neither `Send` nor `Sync`, so it stays on that thread.
#[derive(Clone, Copy)]
pub(crate) struct HookTask<'a> {
    task: &'a Task,
    _not_send: PhantomData<*mut ()>,
}

/// The current task.
pub(crate) fn current() -> HookTask<'static> {
    // SAFETY: In process context, where all callers run, the current task is valid while it
    // runs, which is as long as any value on its thread can be used.
    let task = unsafe { task_from_raw(NonNull::new_unchecked(bindings::get_current())) };
    // INVARIANT: Valid while it runs (above); only the task itself changes its own `vz_priv`
    // while it runs (enter), and the value cannot leave its thread.
    HookTask {
        task,
        _not_send: PhantomData,
    }
}

impl<'a> HookTask<'a> {
    /// The task core code passed to a hook.
    ///
    /// # Safety
    ///
    /// `task` stays valid for `'a` and is the current task, a child the current task is
    /// forking, or a task the current task is freeing.
    pub(crate) unsafe fn from_raw(task: NonNull<bindings::task_struct>) -> Self {
        // INVARIANT: By the caller's guarantee; `vz_priv` holds what `replace_ve` stored, as
        // nothing else in the module writes it.
        HookTask {
            // SAFETY: By the caller's guarantee.
            task: unsafe { task_from_raw(task) },
            _not_send: PhantomData,
        }
    }

    /// A new count on the task's VE (`None` for a task without a VE reference).
    pub(crate) fn ve(&self) -> Option<Arc<Ve>> {
        // SAFETY: The task is valid (type invariant); the accessor reads one field.
        let ptr = unsafe { bindings::vz_task_priv(as_raw(self.task)) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: By the type invariants `ptr` came from `into_foreign` of an `Arc<Ve>` whose
        // count the task holds, and only this thread could give it back, which it does not do
        // while the borrow lasts (it ends in this function).
        let ve = unsafe { <Arc<Ve> as ForeignOwnable>::borrow(ptr) };
        Some(ve.into())
    }

    /// Stores VE id `ve_id` and VE reference `ve` on the task; returns the reference it held.
    pub(crate) fn replace_ve(&self, ve_id: u32, ve: Option<Arc<Ve>>) -> Option<Arc<Ve>> {
        let task = as_raw(self.task);
        // SAFETY: The task is valid (type invariant); the accessor reads one field.
        let old = unsafe { bindings::vz_task_priv(task) };
        let new = ve.map_or(core::ptr::null_mut(), |ve| ve.into_foreign().cast_mut());
        // SAFETY: As above; the accessor writes the two fields with WRITE_ONCE.
        unsafe { bindings::vz_task_set_ve(task, ve_id, new) };
        // SAFETY: By the type invariants `old` is null or a count from `into_foreign` that
        // only this thread could take out; the task no longer holds it, so it is given back
        // here, once.
        unsafe { <Arc<Ve> as ForeignOwnable>::try_from_foreign(old) }
    }

    /// A counted reference to the task.
    pub(crate) fn get(&self) -> ARef<Task> {
        ARef::from(self.task)
    }
}

impl Deref for HookTask<'_> {
    type Target = Task;

    fn deref(&self) -> &Task {
        self.task
    }
}

/// What the module asks about a task.
pub(crate) trait TaskExt {
    /// The task's VE id (0 for the host).
    fn ve_id(&self) -> u32;
    /// Whether the task has not exited yet.
    fn is_alive(&self) -> bool;
    /// The task's pid in the host's pid namespace.
    fn host_pid(&self) -> i32;
    /// Whether the task is pid 1 of a pid namespace other than the host's.
    fn is_pidns_init(&self) -> bool;
    /// Whether the current task has `CAP_MKNOD` in the user namespace that owns this task's
    /// pid namespace (false once this task is reaped).
    fn caller_may_mknod_in_its_pidns(&self) -> bool;
    /// Whether the current task has `CAP_SYS_ADMIN` in the user namespace that owns this
    /// task's pid namespace: for a VE's init, whether the caller is that VE's root.
    fn caller_is_root_of_its_pidns(&self) -> bool;
    /// The task's pid as seen in the pid namespace of `init` (0 if not visible there or if
    /// `init` has exited).
    fn pid_in_ns_of(&self, init: &Task) -> i32;
}

impl TaskExt for Task {
    fn ve_id(&self) -> u32 {
        // SAFETY: `self` is a valid task (`Task`'s invariant); the accessor reads one field.
        unsafe { bindings::vz_task_ve_id(as_raw(self)) }
    }

    fn is_alive(&self) -> bool {
        // SAFETY: `self` is a valid task; exit_state is a plain int.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*as_raw(self)).exit_state)) == 0 }
    }

    fn host_pid(&self) -> i32 {
        // SAFETY: `self` is a valid task; the function handles a detached pid by returning 0.
        unsafe {
            bindings::__task_pid_nr_ns(
                as_raw(self),
                bindings::pid_type_PIDTYPE_PID,
                core::ptr::addr_of_mut!(bindings::init_pid_ns),
            )
        }
    }

    fn is_pidns_init(&self) -> bool {
        // SAFETY: `self` is a valid task; both functions read its pid links under RCU
        // themselves.
        unsafe {
            let task = as_raw(self);
            let ns = bindings::task_active_pid_ns(task);
            !ns.is_null()
                && ns != core::ptr::addr_of_mut!(bindings::init_pid_ns)
                && bindings::__task_pid_nr_ns(task, bindings::pid_type_PIDTYPE_PID, ns) == 1
        }
    }

    fn caller_may_mknod_in_its_pidns(&self) -> bool {
        // SAFETY: `self` is a valid task; the function reads its pid namespace under RCU and
        // checks only the current task's credentials.
        unsafe { bindings::vz_pidns_capable(as_raw(self), bindings::CAP_MKNOD as i32) }
    }

    fn caller_is_root_of_its_pidns(&self) -> bool {
        // SAFETY: As for `caller_may_mknod_in_its_pidns`.
        unsafe { bindings::vz_pidns_capable(as_raw(self), bindings::CAP_SYS_ADMIN as i32) }
    }

    fn pid_in_ns_of(&self, init: &Task) -> i32 {
        // SAFETY: Both tasks are valid; `task_active_pid_ns` returns null for a task that has
        // been reaped, which is checked, and `__task_pid_nr_ns` reads under RCU.
        unsafe {
            let ns = bindings::task_active_pid_ns(as_raw(init));
            if ns.is_null() {
                return 0;
            }
            bindings::__task_pid_nr_ns(as_raw(self), bindings::pid_type_PIDTYPE_PID, ns)
        }
    }
}

/// The task with pid `pid` in the caller's pid namespace.
pub(crate) fn find_by_pid(pid: i32) -> Option<ARef<Task>> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: `find_get_pid` takes a reference on the returned pid (or returns null),
    // `get_pid_task` takes one on the task, and `put_pid` drops the pid's.
    let task = unsafe {
        let pid = bindings::find_get_pid(pid);
        if pid.is_null() {
            return None;
        }
        let task = bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_PID);
        bindings::put_pid(pid);
        task
    };
    let task = NonNull::new(task)?.cast::<Task>();
    // SAFETY: `get_pid_task` took the count the `ARef` now holds; `Task` is a transparent
    // wrapper of the C struct.
    Some(unsafe { ARef::from_raw(task) })
}

/// Whether the child the current task is forking with `clone_flags` will be pid 1 of a new
/// pid namespace (`clone(CLONE_NEWPID)`, or the first child after `unshare(CLONE_NEWPID)`).
pub(crate) fn fork_makes_pidns_init(clone_flags: u64) -> bool {
    if clone_flags & u64::from(bindings::CLONE_THREAD) != 0 {
        return false;
    }
    if clone_flags & u64::from(bindings::CLONE_NEWPID) != 0 {
        return true;
    }
    // SAFETY: The current task's nsproxy cannot change under it while it forks; a non-null
    // nsproxy and its pid namespace for children are live while the task is.
    unsafe {
        let task = bindings::get_current();
        let nsproxy = (*task).nsproxy;
        if nsproxy.is_null() {
            return false;
        }
        let for_children = (*nsproxy).pid_ns_for_children;
        !for_children.is_null()
            && for_children != bindings::task_active_pid_ns(task)
            && (*for_children).child_reaper.is_null()
    }
}
