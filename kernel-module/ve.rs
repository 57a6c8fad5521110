// SPDX-License-Identifier: GPL-2.0

//! Virtual environments: the VE table, per-VE state, and what the core-kernel hooks decide.
//!
//! Every task in a VE holds one reference on its `Ve` (an `Arc` turned into the task's
//! `vz_priv`); the table holds one more until the VE is destroyed. Hooks on the current task
//! use its own reference and take no global lock; lookups by id take the table lock.
//!
//! Lock order: `VeTable::ves` before `Ve::inner`. Neither is held across a user copy.

use crate::abi::{self, DevPerm};
use crate::hooks::{self, HookTask, SeqOut, TaskRef};
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::{Arc, ArcBorrow, SpinLock};

/// Devices every new VE may use: null, zero, full, random, urandom, tty, ptmx and the pts
/// ptys (136:*), with read, write and mknod.
const DEFAULT_DEVICES: [(u32, u32, u32); 8] = [
    (1, 3, 0),
    (1, 5, 0),
    (1, 7, 0),
    (1, 8, 0),
    (1, 9, 0),
    (5, 0, 0),
    (5, 2, 0),
    (136, 0, abi::DEVPERM_ALL_MINORS),
];

/// State that changes after creation.
struct VeInner {
    /// The VE's init: the first task that entered (or was forked into) it as pid 1 of a new
    /// pid namespace, while it lives.
    init: Option<TaskRef>,
    /// Device rules, at most `VZ_MAX_DEVPERMS`.
    devperms: KVec<DevPerm>,
}

/// One virtual environment.
#[pin_data]
pub(crate) struct Ve {
    id: u32,
    /// Creation time, seconds since the epoch.
    created: u64,
    /// Tasks in the VE: incremented by enter and fork, decremented when a task is reaped.
    nproc: AtomicU32,
    #[pin]
    inner: SpinLock<VeInner>,
}

impl Ve {
    fn new(id: u32) -> Result<Arc<Ve>> {
        let mut devperms = KVec::with_capacity(DEFAULT_DEVICES.len(), GFP_KERNEL)?;
        for (major, minor, flags) in DEFAULT_DEVICES {
            devperms.push(
                DevPerm {
                    veid: id,
                    kind: abi::DEV_CHAR,
                    major,
                    minor,
                    flags,
                    perms: abi::DEVPERM_ALL,
                },
                GFP_KERNEL,
            )?;
        }
        Arc::pin_init(
            pin_init!(Ve {
                id,
                created: hooks::now_seconds(),
                nproc: AtomicU32::new(0),
                inner <- new_spinlock!(VeInner { init: None, devperms }, "vz_ve_inner"),
            }),
            GFP_KERNEL,
        )
    }

    fn init(&self) -> Option<TaskRef> {
        self.inner.lock().init.clone()
    }

    /// Records `task` as init unless a live one is known. A stale one is dropped after the
    /// lock is released.
    fn offer_init(&self, task: TaskRef) {
        let stale = {
            let mut inner = self.inner.lock();
            if inner.init.as_ref().is_some_and(|init| init.is_alive()) {
                return;
            }
            inner.init.replace(task)
        };
        drop(stale);
    }

    fn info(&self) -> abi::VeInfo {
        let nproc = self.nproc.load(Ordering::Relaxed);
        abi::VeInfo {
            veid: self.id,
            state: if nproc > 0 {
                abi::VE_STATE_RUNNING
            } else {
                abi::VE_STATE_STOPPED
            },
            nproc,
            init_pid: self.init().map_or(0, |init| init.host_pid()),
            created: self.created,
        }
    }

    /// Whether the current task of this VE may have `access` (`VZ_DEV_*` bits, equal to the
    /// `DEVPERM_*` ones) to device `major:minor` of `kind`.
    fn device_allowed(&self, kind: u32, major: u32, minor: u32, access: u32) -> bool {
        let inner = self.inner.lock();
        let mut best: Option<(u8, u32)> = None;
        for rule in inner.devperms.iter().filter(|r| r.kind == kind) {
            let specificity = if rule.flags & abi::DEVPERM_ALL_DEVICES != 0 {
                1
            } else if rule.major != major {
                continue;
            } else if rule.flags & abi::DEVPERM_ALL_MINORS != 0 {
                2
            } else if rule.minor == minor {
                3
            } else {
                continue;
            };
            if best.map_or(true, |(s, _)| specificity > s) {
                best = Some((specificity, rule.perms));
            }
        }
        best.is_some_and(|(_, perms)| perms & access == access)
    }

    fn set_devperm(&self, rule: DevPerm) -> Result {
        let mut inner = self.inner.lock();
        let same = |r: &DevPerm| {
            r.kind == rule.kind && r.flags == rule.flags && r.major == rule.major && r.minor == rule.minor
        };
        if let Some(existing) = inner.devperms.iter_mut().find(|r| same(r)) {
            existing.perms = rule.perms;
            return Ok(());
        }
        if inner.devperms.len() >= abi::VZ_MAX_DEVPERMS as usize {
            return Err(ENOSPC);
        }
        // GFP_ATOMIC: a spinlock is held; the vector rarely grows.
        inner.devperms.push(rule, GFP_ATOMIC)?;
        Ok(())
    }
}

/// All VEs by id.
#[pin_data]
pub(crate) struct VeTable {
    #[pin]
    ves: SpinLock<RBTree<u32, Arc<Ve>>>,
}

/// The table of the loaded module: set by `VeTable::install`, cleared by `uninstall`.
static TABLE: AtomicPtr<VeTable> = AtomicPtr::new(core::ptr::null_mut());

impl VeTable {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(VeTable {
            ves <- new_spinlock!(RBTree::new(), "vz_ve_table"),
        })
    }

    /// Makes `table` the one hooks and ioctls use until `uninstall`, which the owner must
    /// call before freeing it.
    pub(crate) fn install(table: &Pin<KBox<VeTable>>) {
        TABLE.store(core::ptr::from_ref(table.as_ref().get_ref()).cast_mut(), Ordering::Release);
    }

    /// Forgets the installed table; called before it is freed.
    pub(crate) fn uninstall() {
        TABLE.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// The installed table.
    pub(crate) fn get() -> Result<&'static VeTable> {
        let ptr = TABLE.load(Ordering::Acquire);
        // SAFETY: `install` stores a pinned, boxed table that the module frees only after
        // `uninstall`, which runs in module exit after the device, the /proc files and the
        // hooks are gone, so no caller can still be using the reference then.
        unsafe { ptr.as_ref() }.ok_or(ENODEV)
    }

    fn lookup(&self, id: u32) -> Result<Arc<Ve>> {
        self.ves.lock().get(&id).cloned().ok_or(ENOENT)
    }

    pub(crate) fn create(&self, id: u32) -> Result {
        let ve = Ve::new(id)?;
        let node = RBTreeNode::new(id, ve, GFP_KERNEL)?;
        let first = {
            let mut ves = self.ves.lock();
            if ves.get(&id).is_some() {
                return Err(EEXIST);
            }
            if ves.iter().count() >= abi::VZ_MAX_VES as usize {
                return Err(ENOSPC);
            }
            let first = ves.iter().next().is_none();
            ves.insert(node);
            first
        };
        // The module cannot be unloaded while any VE exists.
        if first {
            hooks::module_hold(true);
        }
        Ok(())
    }

    pub(crate) fn destroy(&self, id: u32) -> Result {
        let (removed, last) = {
            let mut ves = self.ves.lock();
            let ve = ves.get(&id).ok_or(ENOENT)?;
            if ve.nproc.load(Ordering::Relaxed) != 0 {
                return Err(EBUSY);
            }
            let removed = ves.remove(&id);
            (removed, ves.iter().next().is_none())
        };
        drop(removed);
        if last {
            hooks::module_hold(false);
        }
        Ok(())
    }

    /// Moves the current task into VE `id` for good.
    pub(crate) fn enter(&self, id: u32) -> Result {
        let current = hooks::current();
        let ve = {
            // Under the table lock, so that destroy cannot remove a VE being entered.
            let ves = self.ves.lock();
            let ve = ves.get(&id).ok_or(ENOENT)?.clone();
            ve.nproc.fetch_add(1, Ordering::Relaxed);
            current.set_ve(id, ve.clone().into_raw().cast_mut().cast());
            ve
        };
        if current.is_pidns_init() {
            ve.offer_init(current.get());
        }
        Ok(())
    }

    pub(crate) fn info(&self, id: u32) -> Result<abi::VeInfo> {
        Ok(self.lookup(id)?.info())
    }

    /// Fills `out` with the lowest ids; returns how many VEs exist.
    pub(crate) fn list(&self, out: &mut KVec<u32>, capacity: usize) -> Result<u32> {
        // Reserve before taking the spinlock so the copy below does not allocate.
        out.reserve(capacity.min(abi::VZ_MAX_VES as usize), GFP_KERNEL)?;
        let ves = self.ves.lock();
        let mut count = 0u32;
        for id in ves.keys() {
            if out.len() < capacity {
                out.push(*id, GFP_ATOMIC)?;
            }
            count = count.saturating_add(1);
        }
        Ok(count)
    }

    /// The VE id of host pid `pid` and its pid inside the VE.
    pub(crate) fn pid_info(&self, pid: i32) -> Result<abi::PidInfo> {
        let task = TaskRef::find_by_pid(pid).ok_or(ESRCH)?;
        let veid = task.ve_id();
        let vpid = if veid == 0 {
            task.host_pid()
        } else {
            self.lookup(veid)?.init().map_or(0, |init| task.pid_in_ns_of(&init))
        };
        Ok(abi::PidInfo {
            pid,
            veid,
            vpid,
            reserved: 0,
        })
    }

    pub(crate) fn set_devperm(&self, rule: DevPerm) -> Result {
        self.lookup(rule.veid)?.set_devperm(rule)
    }

    /// Up to `capacity` rules of VE `id` into `out`; returns how many it has.
    pub(crate) fn devperms(&self, id: u32, out: &mut KVec<DevPerm>, capacity: usize) -> Result<u32> {
        let ve = self.lookup(id)?;
        // Reserve before taking the spinlock so the copy below does not allocate.
        out.reserve(capacity.min(abi::VZ_MAX_DEVPERMS as usize), GFP_KERNEL)?;
        let inner = ve.inner.lock();
        for rule in inner.devperms.iter().take(capacity) {
            out.push(*rule, GFP_ATOMIC)?;
        }
        Ok(u32::try_from(inner.devperms.len()).unwrap_or(u32::MAX))
    }

    /// The init of VE `id`, which must exist and have one.
    pub(crate) fn init_of(&self, id: u32) -> Result<TaskRef> {
        self.lookup(id)?.init().ok_or(ESRCH)
    }

    /// `/proc/vz/veinfo`: `veid classid nproc` per running VE, as OpenVZ printed it. Inside a
    /// VE (`only` nonzero) just that VE's line.
    pub(crate) fn show_veinfo(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        let ves = self.ves.lock();
        for ve in ves.values().filter(|ve| only == 0 || ve.id == only) {
            let nproc = ve.nproc.load(Ordering::Relaxed);
            if nproc > 0 {
                writeln!(out, "{:>10} {:>5} {:>5}", ve.id, 0, nproc)?;
            }
        }
        Ok(())
    }
}

/// The VE reference a task in a VE carries.
///
/// # Safety
///
/// `task` must be alive for the returned lifetime and be the current task or a task being
/// reaped or forked by the current one, so that its `vz_priv` cannot change meanwhile.
unsafe fn ve_of<'a>(task: HookTask) -> Option<ArcBorrow<'a, Ve>> {
    let ptr = task.priv_ptr().cast::<Ve>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: A non-null `vz_priv` is only ever set from `Arc::into_raw` (enter, fork) and
    // holds a count that `on_task_free` alone gives back, which by the caller's guarantee
    // does not run meanwhile.
    Some(unsafe { ArcBorrow::from_raw(ptr) })
}

/// Fork of a task in a VE: the child takes its own reference. Returns an errno or 0.
pub(crate) fn on_task_fork(child: HookTask, clone_flags: u64) -> i32 {
    let parent = hooks::current();
    // SAFETY: `parent` is the current task.
    let Some(ve) = (unsafe { ve_of(parent) }) else {
        // A VE id without a VE reference: never let such a task escape into the host.
        return EPERM.to_errno();
    };
    let owned: Arc<Ve> = ve.into();
    owned.nproc.fetch_add(1, Ordering::Relaxed);
    if hooks::fork_makes_pidns_init(clone_flags) {
        owned.offer_init(child.get());
    }
    child.set_ve(owned.id, owned.into_raw().cast_mut().cast());
    0
}

/// A task in a VE is reaped, or its fork failed after `on_task_fork`.
pub(crate) fn on_task_free(task: HookTask) {
    let ptr = task.priv_ptr().cast::<Ve>();
    if ptr.is_null() {
        return;
    }
    task.set_ve(task.ve_id(), core::ptr::null_mut());
    // SAFETY: `ptr` came from `Arc::into_raw` in enter or fork and this is the one place
    // that gives that count back; `vz_priv` was cleared above so it cannot happen twice.
    let ve = unsafe { Arc::from_raw(ptr) };
    ve.nproc.fetch_sub(1, Ordering::Relaxed);
    let stale = {
        let mut inner = ve.inner.lock();
        if inner.init.as_ref().is_some_and(|init| init.is(task)) {
            inner.init.take()
        } else {
            None
        }
    };
    drop(stale);
}

/// May the current task (in a VE) have `access` to device `dev`?
pub(crate) fn on_dev_access(kind: u32, major: u32, minor: u32, access: u32) -> bool {
    // SAFETY: The task is the current one.
    match unsafe { ve_of(hooks::current()) } {
        Some(ve) => ve.device_allowed(kind, major, minor, access),
        None => false,
    }
}

/// The pid of `task` (in a VE) inside its VE, for `VPid:` in /proc.
pub(crate) fn on_task_vpid(task: HookTask) -> i32 {
    // Another task's reference may go away any moment: look the VE up by id instead.
    let Ok(table) = VeTable::get() else {
        return 0;
    };
    match table.lookup(task.ve_id()).ok().and_then(|ve| ve.init()) {
        Some(init) => task.get().pid_in_ns_of(&init),
        None => 0,
    }
}
