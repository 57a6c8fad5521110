// SPDX-License-Identifier: GPL-2.0

//! The only file that touches raw bindings and C symbols. Everything here is a small safe
//! wrapper; the rest of the module is safe Rust on top of it.

use crate::abi;
use crate::ubc::Strictness;
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::c_str;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::types::{AsBytes, FromBytes, Opaque};
use kernel::uaccess::UserSlice;

/// Marks ABI structs as plain old data for user copies.
macro_rules! abi_plain_old_data {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: Every ABI struct is `#[repr(C)]` with only integer and integer-array fields
        // and explicit padding fields (layout asserted in abi.rs), so it has no padding bytes
        // and every bit pattern is a valid value.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above.
        unsafe impl AsBytes for $t {}
    )*};
}
abi_plain_old_data!(
    abi::VersionInfo,
    abi::VeCreate,
    abi::VeRef,
    abi::VeInfo,
    abi::VeList,
    abi::PidInfo,
    abi::DevPerm,
    abi::DevPermList,
    abi::NetDev,
    abi::UbSet,
    abi::UbGet,
);

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

/// Returns true if the current task has `CAP_SYS_ADMIN` in the initial user namespace.
pub(crate) fn caller_has_sys_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials; any capability number
    // in range is valid and CAP_SYS_ADMIN is.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// Seconds since the epoch.
pub(crate) fn now_seconds() -> u64 {
    // SAFETY: Reads the clock; no preconditions.
    u64::try_from(unsafe { bindings::ktime_get_real_seconds() }).unwrap_or(0)
}

/// A reference on this module, which keeps `rmmod` from unloading it while the holder lives.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    pub(crate) fn new() -> Self {
        // SAFETY: The module is live (this code runs in it), so a reference may be taken.
        unsafe { bindings::__module_get(crate::THIS_MODULE.as_ptr()) };
        ModuleRef(())
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: Gives back the reference taken in `new`. Code still running in the module
        // after this is covered: drops happen in ioctls (the open file holds the module) or
        // in hooks (unregistering waits for them with synchronize_rcu()).
        unsafe { bindings::module_put(crate::THIS_MODULE.as_ptr()) };
    }
}

/// The untyped ioctl argument: a pointer into the caller's address space.
#[derive(Clone, Copy)]
pub(crate) struct UserArg(usize);

impl UserArg {
    /// Copies a `T` in from the user buffer the argument points at (`EFAULT` if unreadable).
    pub(crate) fn read<T: FromBytes>(self) -> Result<T> {
        UserSlice::new(self.0, core::mem::size_of::<T>())
            .reader()
            .read()
    }

    /// Copies `value` out to the user buffer the argument points at (`EFAULT` if it is not
    /// writable).
    pub(crate) fn write<T: AsBytes>(self, value: &T) -> Result {
        UserSlice::new(self.0, core::mem::size_of::<T>())
            .writer()
            .write(value)
    }
}

/// Copies `items` out to the user array at `addr` (a `u64` pointer field of an ABI struct).
pub(crate) fn write_user_array<T: AsBytes>(addr: u64, items: &[T]) -> Result {
    let len = items
        .len()
        .checked_mul(core::mem::size_of::<T>())
        .ok_or(EINVAL)?;
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    let mut writer = UserSlice::new(addr, len).writer();
    for item in items {
        writer.write(item)?;
    }
    Ok(())
}

/// A task passed to a hook by core code (or the current task), valid for the duration of
/// the hook or ioctl.
#[derive(Clone, Copy)]
pub(crate) struct HookTask(NonNull<bindings::task_struct>);

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

    fn ptr(&self) -> *mut bindings::task_struct {
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

/// What the memory cgroup of a VE counts.
pub(crate) struct MemcgCounters {
    /// Pages: usage, watermark, memory.max (as barrier and limit), failcnt.
    pub(crate) memory: abi::UbCounter,
    /// Accounted kernel memory in bytes (memory.stat `kernel`).
    pub(crate) kernel_bytes: u64,
}

/// The memory cgroup counters of the VE of `task`: the cgroup at the root of `task`'s cgroup
/// namespace (not the sub-cgroup `task` may have moved to), unless that is the root cgroup or
/// has no memory controller of its own.
pub(crate) fn memcg_counters(task: &TaskRef) -> Option<MemcgCounters> {
    let mut stat = bindings::vz_memcg_stat::default();
    // SAFETY: `task` is live; the function finds the cgroup under the task's lock and RCU and
    // holds a reference on it while it reads into `stat`.
    if unsafe { bindings::vz_memcg_read(task.ptr(), &mut stat) } != 0 {
        return None;
    }
    let pages = |value: c_ulong| u64::try_from(value).unwrap_or(u64::MAX);
    Some(MemcgCounters {
        memory: abi::UbCounter {
            held: pages(stat.usage),
            maxheld: pages(stat.watermark),
            barrier: pages(stat.max),
            limit: pages(stat.max),
            failcnt: pages(stat.failcnt),
        },
        kernel_bytes: pages(stat.kmem)
            .saturating_mul(u64::try_from(kernel::page::PAGE_SIZE).unwrap_or(u64::MAX)),
    })
}

/// Sets memory.max (pages) of the memory cgroup of the VE of `task`, as `memcg_counters`
/// finds it (`ENOENT` without one).
pub(crate) fn memcg_set_max(task: &TaskRef, pages: u64) -> Result {
    let pages = c_ulong::try_from(pages).unwrap_or(c_ulong::MAX);
    // SAFETY: `task` is live; the function finds the cgroup as `vz_memcg_read` does.
    to_result(unsafe { bindings::vz_memcg_set_max(task.ptr(), pages) })
}

/// Moves network device `name` from the network namespace of `from` to that of `to` (`None`:
/// the host's), if it carries VE id `expect`, and records `ve_id` on it.
pub(crate) fn netdev_move(
    from: Option<&TaskRef>,
    to: Option<&TaskRef>,
    name: &CStr,
    expect: u32,
    ve_id: u32,
) -> Result {
    let ptr = |task: Option<&TaskRef>| task.map_or(core::ptr::null_mut(), TaskRef::ptr);
    // SAFETY: The tasks are live (or null, meaning the host); `name` is NUL-terminated; the
    // function takes the RTNL and namespace references itself.
    to_result(unsafe {
        bindings::vz_netdev_move(ptr(from), ptr(to), name.as_char_ptr(), expect, ve_id)
    })
}

/// Text output into a seq_file being shown.
pub(crate) struct SeqOut(*mut bindings::seq_file);

impl core::fmt::Write for SeqOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: `self.0` is the seq_file of the running show callback; `s` is valid for
        // `s.len()` bytes. On overflow seq_file retries the show with a larger buffer.
        let ret = unsafe { bindings::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        if ret == 0 {
            Ok(())
        } else {
            Err(core::fmt::Error)
        }
    }
}

/// `/proc/vz` and the files in it.
///
/// # Invariants
///
/// `dir`, `beancounters` and `bc` (when set) are proc entries created by `register` and
/// removed (with their files) by `drop`.
pub(crate) struct ProcFiles {
    dir: NonNull<bindings::proc_dir_entry>,
    beancounters: Option<NonNull<bindings::proc_dir_entry>>,
    bc: Option<NonNull<bindings::proc_dir_entry>>,
}

// SAFETY: The entry is only removed in `drop`; procfs does its own locking.
unsafe impl Send for ProcFiles {}
// SAFETY: No methods access the entry.
unsafe impl Sync for ProcFiles {}

/// Shows `/proc/vz/veinfo`.
///
/// # Safety
///
/// Called only by seq_file for the file created in `ProcFiles::register`, with its seq_file.
unsafe extern "C" fn veinfo_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    let only = current().ve_id();
    if let Ok(table) = crate::ve::VeTable::get() {
        // A full buffer is not an error: seq_file calls again with a larger one.
        let _ = table.show_veinfo(&mut SeqOut(m), only);
    }
    0
}

/// Shows `/proc/user_beancounters` and `/proc/bc/resources`.
///
/// # Safety
///
/// As for `veinfo_show`.
unsafe extern "C" fn beancounters_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    let only = current().ve_id();
    if !caller_may_read_counters(only) {
        return EACCES.to_errno();
    }
    if let Ok(table) = crate::ve::VeTable::get() {
        // A full buffer is not an error: seq_file calls again with a larger one.
        let _ = table.show_beancounters(&mut SeqOut(m), only);
    }
    0
}

/// Shows `/proc/bc/<id>/resources`; the entry's data is the VE id.
///
/// # Safety
///
/// Called only by seq_file for a file created by `create_resources_file`, with its seq_file.
unsafe extern "C" fn resources_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the live seq_file of this show call; single_open stored the entry's
    // data, a VE id and never a pointer to dereference, in `private`.
    let id = u32::try_from(unsafe { (*m).private } as usize).unwrap_or(u32::MAX);
    if !caller_may_read_counters(current().ve_id()) {
        return EACCES.to_errno();
    }
    let shown = crate::ve::VeTable::get()
        .and_then(|table| table.show_resources(&mut SeqOut(m), id, current().ve_id()));
    match shown {
        // A full buffer (ENOSPC) is not an error: seq_file calls again with a larger one.
        Ok(()) => 0,
        Err(err) if err == ENOSPC => 0,
        Err(err) => err.to_errno(),
    }
}

/// Who reads the beancounter files: the host's root, and a VE's root (root of the VE's own
/// user namespace, with CAP_SYS_ADMIN over its init's pid namespace), who sees only the VE's
/// rows. The files are mode 0444 so that a VE's root,
/// not the owner of a host root file, may open them; this is the check instead.
fn caller_may_read_counters(caller_ve: u32) -> bool {
    // The host's root, also when it has entered a VE (it then sees the VE's rows).
    if caller_has_sys_admin() {
        return true;
    }
    caller_ve != 0
        && crate::ve::VeTable::get()
            .and_then(|table| table.init_of(caller_ve))
            .is_ok_and(|init| init.caller_is_root_of_its_pidns())
}

/// Creates a read-only file `name` in `dir` shown by `show` with `data` as its private.
fn create_file(
    dir: NonNull<bindings::proc_dir_entry>,
    name: &CStr,
    mode: u16,
    show: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
    data: usize,
) -> Result {
    // SAFETY: `dir` is live (callers own it); `name` is NUL-terminated; the show callbacks
    // live as long as the module, which removes every entry before unloading; `data` is an
    // integer the callback reads back, never dereferenced.
    let entry = unsafe {
        bindings::proc_create_single_data(
            name.as_char_ptr(),
            mode,
            dir.as_ptr(),
            Some(show),
            data as *mut c_void,
        )
    };
    if entry.is_null() {
        return Err(ENOMEM);
    }
    Ok(())
}

/// Makes directory `name` in `parent` (null: /proc itself).
fn make_dir(
    name: &CStr,
    parent: *mut bindings::proc_dir_entry,
) -> Result<NonNull<bindings::proc_dir_entry>> {
    // SAFETY: `name` is NUL-terminated; `parent` is null or a live entry of this module.
    NonNull::new(unsafe { bindings::proc_mkdir(name.as_char_ptr(), parent) }).ok_or(ENOMEM)
}

/// Makes directory `name` in /proc whose entries every path walk looks up again, as those of
/// /proc/net are: what a task sees there depends on its VE (`proc_visible_hook`), so a dentry
/// one task looked up must not be served from the dcache to another.
fn make_per_ve_dir(name: &CStr) -> Result<NonNull<bindings::proc_dir_entry>> {
    // SAFETY: `name` is NUL-terminated; a null parent means /proc itself, mode 0 the default
    // (0555) and the null data is never read.
    let entry = unsafe {
        bindings::_proc_mkdir(
            name.as_char_ptr(),
            0,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            true,
        )
    };
    NonNull::new(entry).ok_or(ENOMEM)
}

/// `/proc/bc`, where per-VE directories go; set while `ProcFiles` lives.
static BC_DIR: AtomicPtr<bindings::proc_dir_entry> = AtomicPtr::new(core::ptr::null_mut());

/// Creates `<dir>/resources` for VE `id` (0: the host).
fn create_resources_file(dir: NonNull<bindings::proc_dir_entry>, id: u32) -> Result {
    // OpenVZ: root only (it also required CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH).
    create_file(dir, c_str!("resources"), 0o444, resources_show, id as usize)
}

/// A /proc entry of this module, removed (with everything in it) on drop, which may sleep.
///
/// # Invariants
///
/// `entry` is a live proc entry created by this module and removed only in `drop`.
pub(crate) struct ProcEntry {
    entry: NonNull<bindings::proc_dir_entry>,
}

// SAFETY: The entry is only removed in `drop`; procfs does its own locking.
unsafe impl Send for ProcEntry {}

impl ProcEntry {
    /// `/proc/bc/<id>/` with its `resources` file.
    pub(crate) fn ve_resources(id: u32) -> Result<Self> {
        let bc = BC_DIR.load(Ordering::Acquire);
        if bc.is_null() {
            return Err(ENODEV);
        }
        let name = CString::try_from_fmt(kernel::fmt!("{}", id))?;
        // INVARIANT: just created; on error `entry` is dropped, removing it.
        let entry = ProcEntry {
            entry: make_dir(&name, bc)?,
        };
        create_resources_file(entry.entry, id)?;
        Ok(entry)
    }
}

impl Drop for ProcEntry {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the entry is live; this removes it and its children
        // and waits for running show callbacks.
        unsafe { bindings::proc_remove(self.entry.as_ptr()) };
    }
}

impl ProcFiles {
    /// Creates `/proc/vz/veinfo`, `/proc/user_beancounters`, `/proc/bc/resources` and
    /// `/proc/bc/0/resources` (the host).
    pub(crate) fn register() -> Result<Self> {
        // INVARIANT: `dir` was just created.
        let files = ProcFiles {
            dir: make_dir(c_str!("vz"), core::ptr::null_mut())?,
            beancounters: None,
            bc: None,
        };
        create_file(files.dir, c_str!("veinfo"), 0o444, veinfo_show, 0)?;
        let mut files = files;
        let root = make_per_ve_dir(c_str!("bc"))?;
        files.bc = Some(root);
        create_file(root, c_str!("resources"), 0o444, beancounters_show, 0)?;
        create_resources_file(make_dir(c_str!("0"), root.as_ptr())?, 0)?;
        // SAFETY: The name is a NUL-terminated literal; a null parent means /proc; the show
        // callback lives as long as the module, which removes the entry before unloading.
        let entry = unsafe {
            bindings::proc_create_single_data(
                c_str!("user_beancounters").as_char_ptr(),
                0o444,
                core::ptr::null_mut(),
                Some(beancounters_show),
                core::ptr::null_mut(),
            )
        };
        files.beancounters = Some(NonNull::new(entry).ok_or(ENOMEM)?);
        BC_DIR.store(root.as_ptr(), Ordering::Release);
        Ok(files)
    }
}

impl Drop for ProcFiles {
    fn drop(&mut self) {
        BC_DIR.store(core::ptr::null_mut(), Ordering::Release);
        for entry in [Some(self.dir), self.beancounters, self.bc]
            .into_iter()
            .flatten()
        {
            // SAFETY: By the type invariant these entries are live; this removes each with
            // its files and waits for running show callbacks to finish.
            unsafe { bindings::proc_remove(entry.as_ptr()) };
        }
    }
}

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

/// What a misc device does with an ioctl; implemented by the module's command dispatcher.
pub(crate) trait IoctlHandler {
    /// Handles `cmd` with argument `arg`; the `Ok` value is the ioctl's return value.
    fn ioctl(cmd: u32, arg: UserArg) -> Result<i64>;
}

/// A registered misc character device whose ioctls go to `H`.
///
/// # Invariants
///
/// `misc` is registered with the misc subsystem from `register` until `drop`, and it points
/// at `fops`; both boxes stay allocated (at a fixed address) for that whole time.
pub(crate) struct MiscDevice {
    misc: KBox<Opaque<bindings::miscdevice>>,
    _fops: KBox<Opaque<bindings::file_operations>>,
}

// SAFETY: After registration the C structs are only read by the misc subsystem, which does its
// own locking; this type offers no access to them, so sharing it between threads is sound.
unsafe impl Sync for MiscDevice {}
// SAFETY: See `Sync`; deregistration may happen from any thread.
unsafe impl Send for MiscDevice {}

impl MiscDevice {
    /// Registers `/dev/<name>` with node permissions `mode` and a dynamic minor.
    pub(crate) fn register<H: IoctlHandler>(
        module: &'static ThisModule,
        name: &'static CStr,
        mode: u16,
    ) -> Result<Self> {
        // SAFETY: `file_operations` is a C struct of nullable function pointers and a module
        // pointer; all-zero is its documented "no operation" value.
        let mut fops: bindings::file_operations = unsafe { core::mem::zeroed() };
        fops.owner = module.as_ptr();
        fops.unlocked_ioctl = Some(ioctl_trampoline::<H>);
        let fops = KBox::new(Opaque::new(fops), GFP_KERNEL)?;

        // SAFETY: As above, all-zero is a valid, unregistered `miscdevice`.
        let mut misc: bindings::miscdevice = unsafe { core::mem::zeroed() };
        misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
        misc.name = name.as_char_ptr();
        misc.fops = fops.get();
        misc.mode = mode;
        let misc = KBox::new(Opaque::new(misc), GFP_KERNEL)?;

        // SAFETY: `misc` is fully initialised, lives in a heap allocation that does not move
        // and is only freed after `misc_deregister` in `drop`; `name` is 'static.
        to_result(unsafe { bindings::misc_register(misc.get()) })?;
        Ok(Self { misc, _fops: fops })
    }
}

impl Drop for MiscDevice {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `misc` is registered; this is the one deregistration.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// The C entry point for `unlocked_ioctl`: converts the arguments and the result.
///
/// # Safety
///
/// Called only by the VFS for a file of a device registered by `MiscDevice::register::<H>`.
unsafe extern "C" fn ioctl_trampoline<H: IoctlHandler>(
    _file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    match H::ioctl(cmd, UserArg(arg)) {
        Ok(ret) => ret as c_long,
        Err(err) => err.to_errno() as c_long,
    }
}
