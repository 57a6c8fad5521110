// SPDX-License-Identifier: GPL-2.0

//! Tasks: the task a hook or ioctl runs for, counted task references, and what the module
//! asks about a task (VE id, pids, capabilities).

use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::bindings;

/// Returns true if the current task has `CAP_SYS_ADMIN` in the initial user namespace.
pub(crate) fn caller_has_sys_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials; any capability number
    // in range is valid and CAP_SYS_ADMIN is.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// A task passed to a hook by core code (or the current task), valid for the duration of
/// the hook or ioctl.
#[derive(Clone, Copy)]
pub(crate) struct HookTask(pub(crate) NonNull<bindings::task_struct>);

/// The current task.
pub(crate) fn current() -> HookTask {
    // SAFETY: In process context, where all callers run, the current task is never null.
    HookTask(unsafe { NonNull::new_unchecked(bindings::get_current()) })
}

impl HookTask {
    /// The task's VE id (0 for the host).
    pub(crate) fn ve_id(self) -> u32 {
        // SAFETY: `self.0` is a live task (type invariant); the accessor reads one field.
        unsafe { bindings::vz_task_ve_id(self.0.as_ptr()) }
    }

    /// The module's VE reference stored on the task (null for host tasks).
    pub(crate) fn priv_ptr(self) -> *mut c_void {
        // SAFETY: As in `ve_id`.
        unsafe { bindings::vz_task_priv(self.0.as_ptr()) }
    }

    /// Stores the task's VE id and the module's reference.
    pub(crate) fn set_ve(self, ve_id: u32, ve_ref: *mut c_void) {
        // SAFETY: As in `ve_id`; the accessor writes two fields with WRITE_ONCE.
        unsafe { bindings::vz_task_set_ve(self.0.as_ptr(), ve_id, ve_ref) }
    }

    /// A counted reference to the task.
    pub(crate) fn get(self) -> TaskRef {
        // SAFETY: The task is live, so its count is nonzero and may be incremented.
        unsafe { bindings::get_task_struct(self.0.as_ptr()) };
        // INVARIANT: The count was just taken for this `TaskRef`.
        TaskRef(self.0)
    }

    /// Whether the task is pid 1 of a pid namespace other than the host's.
    pub(crate) fn is_pidns_init(self) -> bool {
        // SAFETY: `self.0` is live; both functions read its pid links under RCU themselves.
        unsafe {
            let task = self.0.as_ptr();
            let ns = bindings::task_active_pid_ns(task);
            !ns.is_null()
                && ns != core::ptr::addr_of_mut!(bindings::init_pid_ns)
                && bindings::__task_pid_nr_ns(task, bindings::pid_type_PIDTYPE_PID, ns) == 1
        }
    }
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

/// A counted reference to a task.
///
/// # Invariants
///
/// `self.0` points at a task whose reference count this value holds one of.
pub(crate) struct TaskRef(NonNull<bindings::task_struct>);

// SAFETY: A task reference may be used and dropped from any thread.
unsafe impl Send for TaskRef {}
// SAFETY: The methods only read task state through functions that do their own locking.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// The task with pid `pid` in the caller's pid namespace.
    pub(crate) fn find_by_pid(pid: i32) -> Option<TaskRef> {
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
        // INVARIANT: `get_pid_task` took the count this value holds.
        NonNull::new(task).map(TaskRef)
    }

    pub(crate) fn ptr(&self) -> *mut bindings::task_struct {
        self.0.as_ptr()
    }

    /// Whether this is the task a hook was called for.
    pub(crate) fn is(&self, task: HookTask) -> bool {
        self.0 == task.0
    }

    /// The task's VE id.
    pub(crate) fn ve_id(&self) -> u32 {
        HookTask(self.0).ve_id()
    }

    /// Whether the task has not exited yet.
    pub(crate) fn is_alive(&self) -> bool {
        // SAFETY: The task is live by the type invariant; exit_state is a plain int.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.ptr()).exit_state)) == 0 }
    }

    /// The task's pid in the host's pid namespace.
    pub(crate) fn host_pid(&self) -> i32 {
        // SAFETY: The task is live; the function handles a detached pid by returning 0.
        unsafe {
            bindings::__task_pid_nr_ns(
                self.ptr(),
                bindings::pid_type_PIDTYPE_PID,
                core::ptr::addr_of_mut!(bindings::init_pid_ns),
            )
        }
    }

    /// Whether the current task has `CAP_MKNOD` in the user namespace that owns this task's
    /// pid namespace (false once this task is reaped).
    pub(crate) fn caller_may_mknod_in_its_pidns(&self) -> bool {
        // SAFETY: The task is live by the type invariant; the function reads its pid
        // namespace under RCU and checks only the current task's credentials.
        unsafe { bindings::vz_pidns_capable(self.ptr(), bindings::CAP_MKNOD as i32) }
    }

    /// Whether the current task has `CAP_SYS_ADMIN` in the user namespace that owns this
    /// task's pid namespace: for a VE's init, whether the caller is that VE's root.
    pub(crate) fn caller_is_root_of_its_pidns(&self) -> bool {
        // SAFETY: As for `caller_may_mknod_in_its_pidns`.
        unsafe { bindings::vz_pidns_capable(self.ptr(), bindings::CAP_SYS_ADMIN as i32) }
    }

    /// The task's pid as seen in the pid namespace of `init` (0 if not visible there or if
    /// `init` has exited).
    pub(crate) fn pid_in_ns_of(&self, init: &TaskRef) -> i32 {
        // SAFETY: Both tasks are live; `task_active_pid_ns` returns null for a task that has
        // been reaped, which is checked, and `__task_pid_nr_ns` reads under RCU.
        unsafe {
            let ns = bindings::task_active_pid_ns(init.ptr());
            if ns.is_null() {
                return 0;
            }
            bindings::__task_pid_nr_ns(self.ptr(), bindings::pid_type_PIDTYPE_PID, ns)
        }
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        HookTask(self.0).get()
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this value holds one count, given back here once.
        unsafe { bindings::put_task_struct(self.ptr()) };
    }
}
