// SPDX-License-Identifier: GPL-2.0

//! Virtual environments: the VE table, per-VE state, and what the core-kernel hooks decide.
//!
//! Every task in a VE holds one reference on its `Ve` (an `Arc` turned into the task's
//! `vz_priv`); the table holds one more until the VE is destroyed. Hooks on the current task
//! use its own reference and take no global lock; lookups by id take the table lock.
//!
//! Objects charged to a VE's beancounters (files, sockets, locks, ptys, siginfo, mms) hold a
//! reference too, so that they are uncharged to the right VE whenever they are freed; every
//! `Ve` holds a reference on the module, so it cannot be unloaded while any is left.
//!
//! Lock order: `VeTable::admin`, then `VeTable::ves`, then `Ve::inner`. The spinlocks are
//! never held across a user copy.

use crate::abi::{self, DevPerm};
use crate::installed::Installed;
use crate::load::LoadAvg;
use crate::module_ref::ModuleRef;
use crate::procfs::{ProcEntry, SeqOut};
use crate::quota_root::QuotaRoot;
use crate::task::{self, HookTask, TaskExt};
use crate::ubc::{self, Beancounters, Strictness};
use crate::ve_proc::{Ipv4, Ipv6};
use crate::{clock, memcg, ve_proc, ve_stats};
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::{Arc, ArcBorrow, Mutex, SpinLock};
use kernel::task::Task;
use kernel::types::ARef;
use kernel::{new_mutex, new_spinlock};

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

/// OpenVZ's default cpuunits.
const DEFAULT_CPUUNITS: u32 = 1000;

/// State that changes after creation.
struct VeInner {
    /// The VE's init: the first task that entered (or was forked into) it as pid 1 of a new
    /// pid namespace, while it lives.
    init: Option<ARef<Task>>,
    /// Device rules, at most `VZ_MAX_DEVPERMS`.
    devperms: KVec<DevPerm>,
    /// OpenVZ's cpuunits and cpulimit (% of one CPU, 0 none), as vzctl set them on the VE's
    /// cgroup; shown in /proc/fairsched.
    cpuunits: u32,
    cpulimit: u32,
    /// The VE's addresses, shown in /proc/vz/veinfo.
    addrs: KVec<abi::VeAddr>,
}

/// One virtual environment.
#[pin_data]
pub(crate) struct Ve {
    id: u32,
    /// Creation time, seconds since the epoch.
    created: u64,
    /// Creation time, boot-time nanoseconds: the VE's uptime counts from it.
    started_ns: u64,
    /// Tasks forked in the VE (/proc/stat's `processes`).
    forks: AtomicU64,
    load: LoadAvg,
    /// Resource counters; numproc counts the VE's tasks (enter and fork charge it, a task
    /// being reaped gives it back).
    bc: Beancounters,
    /// What the device rules give each of `FAST_DEVICES` (see `fast_perms_of`).
    fast_perms: AtomicU32,
    #[pin]
    inner: SpinLock<VeInner>,
    _module: ModuleRef,
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
        let fast_perms = AtomicU32::new(fast_perms_of(&devperms));
        Arc::pin_init(
            pin_init!(Ve {
                id,
                fast_perms,
                created: clock::now_seconds(),
                started_ns: ve_stats::boottime_ns(),
                forks: AtomicU64::new(0),
                load: LoadAvg::new(),
                bc: Beancounters::new(),
                inner <- new_spinlock!(
                    VeInner {
                        init: None,
                        devperms,
                        cpuunits: DEFAULT_CPUUNITS,
                        cpulimit: 0,
                        addrs: KVec::new(),
                    },
                    "vz_ve_inner"
                ),
                _module: ModuleRef::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The counters charged to the VE, for the hooks that charge an object's own reference.
    pub(crate) fn beancounters(&self) -> &Beancounters {
        &self.bc
    }

    fn init(&self) -> Option<ARef<Task>> {
        self.inner.lock().init.clone()
    }

    /// Records `task` as init unless a live one is known. A stale one is dropped after the
    /// lock is released.
    fn offer_init(&self, task: ARef<Task>) {
        let stale = {
            let mut inner = self.inner.lock();
            if inner.init.as_ref().is_some_and(|init| init.is_alive()) {
                return;
            }
            inner.init.replace(task)
        };
        drop(stale);
    }

    /// Every beancounter row. physpages comes from the VE's memory cgroup, which enforces it
    /// (held: usage, maxheld: watermark, failcnt: charges that hit memory.max): the root of
    /// its init's cgroup namespace, which vzctl makes the VE's cgroup, wherever in it the init
    /// has moved since (systemd moves itself into init.scope). kmemsize is that cgroup's
    /// accounted kernel memory, reported (maxheld as seen by readers), not limited on its own.
    fn counters(&self) -> [abi::UbCounter; abi::UB_COUNT] {
        let memcg = self.init().and_then(|init| memcg::counters(&init));
        if let Some(memcg) = &memcg {
            self.bc.observe(abi::UB_KMEMSIZE, memcg.kernel_bytes);
        }
        let mut rows = self.bc.read_all();
        // The row's own maxheld and failcnt are what a restore carried over from before the
        // checkpoint (0 otherwise): the new memory cgroup counts from the restore on.
        if let (Some(row), Some(memcg)) = (rows.get_mut(abi::UB_PHYSPAGES as usize), memcg) {
            row.held = memcg.memory.held;
            row.maxheld = row.maxheld.max(memcg.memory.maxheld);
            row.failcnt = row.failcnt.saturating_add(memcg.memory.failcnt);
        }
        rows
    }

    /// Sets barrier and limit; physpages also becomes memory.max of the VE's memory cgroup (as
    /// in `counters`) when it has one (otherwise it is kept for when the cgroup is set up).
    fn set_limits(&self, resource: u32, barrier: u64, limit: u64) -> Result {
        self.bc.set_limits(resource, barrier, limit);
        if resource == abi::UB_PHYSPAGES {
            if let Some(init) = self.init() {
                match memcg::set_max(&init, limit) {
                    Err(err) if err != ENOENT => return Err(err),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Tasks in the VE.
    fn nproc(&self) -> u32 {
        u32::try_from(self.bc.held(abi::UB_NUMPROC)).unwrap_or(u32::MAX)
    }

    fn info(&self) -> abi::VeInfo {
        let nproc = self.nproc();
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
            uptime_ns: self.uptime_ns(),
            load: self.load.read(),
        }
    }

    fn uptime_ns(&self) -> u64 {
        ve_stats::boottime_ns().saturating_sub(self.started_ns)
    }

    /// The VE's memory for its /proc/meminfo: swap is capped by swappages, and what its tasks
    /// committed is privvmpages, as in OpenVZ.
    fn memory(&self, init: &Task) -> Option<ve_proc::Memory> {
        let mut memory = memcg::meminfo(init)?;
        memory.swap_total = memory.swap_total.min(self.bc.limit(abi::UB_SWAPPAGES));
        memory.committed = self.bc.held(abi::UB_PRIVVMPAGES);
        Some(memory)
    }

    /// Writes the VE's own version of /proc `file` for one of its tasks. A full buffer is not
    /// an error: seq_file calls again with a larger one.
    pub(crate) fn show_own(&self, file: OwnProcFile, out: &mut SeqOut) -> Result {
        let init = self.init().ok_or(ESRCH)?;
        let _ = match file {
            OwnProcFile::Meminfo => ve_proc::show_meminfo(out, &self.memory(&init).ok_or(ENOENT)?),
            OwnProcFile::Swaps => {
                let memory = self.memory(&init).ok_or(ENOENT)?;
                let kb = |pages: u64| pages.saturating_mul(ve_proc::PAGE_KB);
                ve_proc::show_swap(out, kb(memory.swap_total), kb(memory.swap_usage))
            }
            OwnProcFile::Loadavg => {
                let tasks = ve_stats::tasks(&init).unwrap_or_default();
                ve_proc::show_loadavg(out, self.load.read(), &tasks)
            }
            OwnProcFile::Stat => self.show_stat(&init, out),
        };
        Ok(())
    }

    /// What sysinfo(2) reports to the VE's tasks; `None` when the VE has no memory cgroup (the
    /// host's figures then stay).
    pub(crate) fn sysinfo(&self) -> Option<ve_proc::SysInfo> {
        let init = self.init()?;
        let memory = self.memory(&init)?;
        let tasks = ve_stats::tasks(&init).unwrap_or_default();
        Some(ve_proc::SysInfo {
            load: self.load.read(),
            threads: tasks.threads,
            total: memory.total,
            free: memory.total.saturating_sub(memory.usage),
            shared: memory.shmem,
            swap_total: memory.swap_total,
            swap_free: memory.swap_total.saturating_sub(memory.swap_usage),
        })
    }

    /// /proc/stat: the VE's CPU time on each CPU its tasks see, idle the rest of its uptime.
    fn show_stat(&self, init: &Task, out: &mut SeqOut) -> core::fmt::Result {
        let uptime = self.uptime_ns();
        let per_cpu = || {
            ve_stats::visible_cpus().map(move |cpu| {
                let time = ve_stats::cputime(init, Some(cpu));
                (cpu, time, ve_proc::idle_ns(uptime, &time))
            })
        };
        let total_idle = per_cpu().fold(0u64, |sum, (_, _, idle)| sum.saturating_add(idle));
        let totals = ve_proc::StatTotals {
            boot_time: clock::now_seconds().saturating_sub(uptime / 1_000_000_000),
            forks: self.forks.load(Ordering::Relaxed),
            tasks: ve_stats::tasks(init).unwrap_or_default(),
        };
        let total = ve_stats::cputime(init, None);
        ve_proc::show_stat(out, &total, total_idle, per_cpu(), &totals)
    }

    /// The VE's row of /proc/vz/vestat; none without an init.
    fn show_vestat_row(&self, out: &mut SeqOut) -> core::fmt::Result {
        let Some(init) = self.init() else {
            return Ok(());
        };
        let uptime = self.uptime_ns();
        let time = ve_stats::cputime(&init, None);
        // Idle: what the VE left unused of every CPU the reader sees over its uptime.
        let cpus = u64::try_from(ve_stats::visible_cpus().count()).unwrap_or(1);
        let idle = uptime.saturating_mul(cpus).saturating_sub(time.used);
        ve_proc::show_vestat_row(out, self.id, &time, uptime, idle)
    }

    /// Folds the VE's running and uninterruptible threads into its load average.
    fn sample_load(&self) {
        let active = self
            .init()
            .and_then(|init| ve_stats::tasks(&init))
            .map_or(0, |tasks| tasks.running.saturating_add(tasks.blocked));
        self.load.sample(active);
    }

    /// Whether the current task of this VE may have `access` (`VZ_DEV_*` bits, equal to the
    /// `DEVPERM_*` ones) to device `major:minor` of `kind`. The common character devices are
    /// answered from `fast_perms` without taking the lock.
    fn device_allowed(&self, kind: u32, major: u32, minor: u32, access: u32) -> bool {
        if let Some(slot) = fast_slot(kind, major, minor) {
            let perms = (self.fast_perms.load(Ordering::Relaxed) >> (slot * 4)) & abi::DEVPERM_ALL;
            return perms & access == access;
        }
        perms_of(&self.inner.lock().devperms, kind, major, minor) & access == access
    }

    fn set_devperm(&self, rule: DevPerm) -> Result {
        let mut inner = self.inner.lock();
        let same = |r: &DevPerm| {
            r.kind == rule.kind
                && r.flags == rule.flags
                && r.major == rule.major
                && r.minor == rule.minor
        };
        if let Some(existing) = inner.devperms.iter_mut().find(|r| same(r)) {
            existing.perms = rule.perms;
        } else if inner.devperms.len() >= abi::VZ_MAX_DEVPERMS as usize {
            return Err(ENOSPC);
        } else {
            // GFP_ATOMIC: a spinlock is held; the vector rarely grows.
            inner.devperms.push(rule, GFP_ATOMIC)?;
        }
        // Under the lock, so that concurrent updates store their results in order.
        self.fast_perms
            .store(fast_perms_of(&inner.devperms), Ordering::Relaxed);
        Ok(())
    }
}

/// Character devices opened often enough (by every shell and libc) to be checked lock-free.
const FAST_DEVICES: [(u32, u32); 7] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)];

/// Index of a device in `FAST_DEVICES`.
fn fast_slot(kind: u32, major: u32, minor: u32) -> Option<u32> {
    if kind != abi::DEV_CHAR {
        return None;
    }
    let slot = FAST_DEVICES.iter().position(|&dev| dev == (major, minor))?;
    u32::try_from(slot).ok()
}

/// The perms the rules give each of `FAST_DEVICES`, four bits per device.
fn fast_perms_of(devperms: &[DevPerm]) -> u32 {
    FAST_DEVICES
        .iter()
        .enumerate()
        .fold(0, |bits, (slot, &(major, minor))| {
            bits | (perms_of(devperms, abi::DEV_CHAR, major, minor) << (slot * 4))
        })
}

/// The perms of the most specific rule for a device (0, no access, without one).
fn perms_of(devperms: &[DevPerm], kind: u32, major: u32, minor: u32) -> u32 {
    let mut best: Option<(u8, u32)> = None;
    for rule in devperms.iter().filter(|r| r.kind == kind) {
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
    best.map_or(0, |(_, perms)| perms & abi::DEVPERM_ALL)
}

/// The /proc files a task in a VE sees its VE's own version of (`VZ_PROC_*`).
#[derive(Clone, Copy)]
pub(crate) enum OwnProcFile {
    Meminfo,
    Stat,
    Loadavg,
    Swaps,
}

/// What the table keeps of a VE that must be made and dropped in process context.
struct VeAdmin {
    /// `/proc/bc/<id>`.
    _resources: ProcEntry,
    /// The private area, the root of the VE's disk quota.
    private: Option<QuotaRoot>,
}

/// What `VZCTL_VE_CONFIGURE` sets, validated.
pub(crate) struct VeConfig {
    pub(crate) cpu: Option<(u32, u32)>,
    pub(crate) addrs: Option<KVec<abi::VeAddr>>,
    pub(crate) private: Option<QuotaRoot>,
}

/// What `VZCTL_VE_IMPORT` sets, validated.
pub(crate) struct VeImport {
    pub(crate) beancounters: Option<[abi::UbCounter; abi::UB_COUNT]>,
    pub(crate) devperms: Option<KVec<DevPerm>>,
    pub(crate) addrs: Option<KVec<abi::VeAddr>>,
}

/// All VEs by id.
#[pin_data]
pub(crate) struct VeTable {
    /// Serialises create and destroy, and holds each VE's `/proc/bc/<id>` (made and removed
    /// in process context, never by whoever drops the last `Ve` reference).
    #[pin]
    admin: Mutex<RBTree<u32, VeAdmin>>,
    #[pin]
    ves: SpinLock<RBTree<u32, Arc<Ve>>>,
}

/// The table of the loaded module, installed by the module's init while it owns the table.
pub(crate) static TABLE: Installed<VeTable> = Installed::new();

impl VeTable {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(VeTable {
            admin <- new_mutex!(RBTree::new(), "vz_ve_admin"),
            ves <- new_spinlock!(RBTree::new(), "vz_ve_table"),
        })
    }

    /// The installed table.
    pub(crate) fn get() -> Result<&'static VeTable> {
        TABLE.get().ok_or(ENODEV)
    }

    fn lookup(&self, id: u32) -> Result<Arc<Ve>> {
        self.ves.lock().get(&id).cloned().ok_or(ENOENT)
    }

    pub(crate) fn create(&self, id: u32) -> Result {
        let mut admin = self.admin.lock();
        {
            let ves = self.ves.lock();
            if ves.get(&id).is_some() {
                return Err(EEXIST);
            }
            if ves.iter().count() >= abi::VZ_MAX_VES as usize {
                return Err(ENOSPC);
            }
        }
        let admin_state = VeAdmin {
            _resources: ProcEntry::ve_resources(id)?,
            private: None,
        };
        let proc_node = RBTreeNode::new(id, admin_state, GFP_KERNEL)?;
        let node = RBTreeNode::new(id, Ve::new(id)?, GFP_KERNEL)?;
        // Checked above under the same admin lock, so the id is still free.
        self.ves.lock().insert(node);
        admin.insert(proc_node);
        Ok(())
    }

    pub(crate) fn destroy(&self, id: u32) -> Result {
        let mut admin = self.admin.lock();
        let removed = {
            let mut ves = self.ves.lock();
            let ve = ves.get(&id).ok_or(ENOENT)?;
            if ve.nproc() != 0 {
                return Err(EBUSY);
            }
            ves.remove(&id)
        };
        drop(removed);
        drop(admin.remove(&id));
        Ok(())
    }

    /// Moves the current task into VE `id` for good.
    pub(crate) fn enter(&self, id: u32) -> Result {
        let current = task::current();
        let ve = {
            // Under the table lock, so that destroy cannot remove a VE being entered.
            let ves = self.ves.lock();
            let ve = ves.get(&id).ok_or(ENOENT)?.clone();
            // Forced: the admin's own helper is never refused.
            ve.bc.charge(abi::UB_NUMPROC, 1, Strictness::Force);
            // A host task (the ioctl checks) holds no VE reference: none comes back.
            drop(current.replace_ve(id, Some(ve.clone())));
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
        let task = task::find_by_pid(pid).ok_or(ESRCH)?;
        let veid = task.ve_id();
        let vpid = if veid == 0 {
            task.host_pid()
        } else {
            self.lookup(veid)?
                .init()
                .map_or(0, |init| task.pid_in_ns_of(&init))
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
    pub(crate) fn devperms(
        &self,
        id: u32,
        out: &mut KVec<DevPerm>,
        capacity: usize,
    ) -> Result<u32> {
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
    pub(crate) fn init_of(&self, id: u32) -> Result<ARef<Task>> {
        self.lookup(id)?.init().ok_or(ESRCH)
    }

    /// `/proc/vz/veinfo`: `veid classid nproc` and the addresses, per running VE, as OpenVZ
    /// printed it, the host's line (its tasks, no addresses) first. Inside a VE (`only`
    /// nonzero) just that VE's line.
    pub(crate) fn show_veinfo(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        if only == 0 {
            let host = ve_stats::host_threads().saturating_sub(self.ve_threads());
            writeln!(out, "{:>10} {:>5} {:>5}", 0, 0, host)?;
        }
        let ves = self.ves.lock();
        for ve in ves.values().filter(|ve| only == 0 || ve.id == only) {
            let nproc = ve.nproc();
            if nproc == 0 {
                continue;
            }
            write!(out, "{:>10} {:>5} {:>5}", ve.id, 0, nproc)?;
            for addr in ve.inner.lock().addrs.iter() {
                match addr.family {
                    abi::VE_ADDR_IPV4 => write!(out, " {:>15}", Ipv4(addr))?,
                    _ => write!(out, " {:>39}", Ipv6(addr))?,
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// Tasks in all VEs.
    fn ve_threads(&self) -> u32 {
        self.ves
            .lock()
            .values()
            .fold(0u32, |sum, ve| sum.saturating_add(ve.nproc()))
    }

    /// `/proc/vz/vestat`: OpenVZ's header, then a row per running VE (none for the host). Inside
    /// a VE (`only` nonzero) just that VE's row.
    pub(crate) fn show_vestat(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        ve_proc::show_vestat_header(out)?;
        let ves = self.ves.lock();
        for ve in ves.values().filter(|ve| only == 0 || ve.id == only) {
            if ve.nproc() > 0 {
                ve.show_vestat_row(out)?;
            }
        }
        Ok(())
    }

    /// Samples every VE's load; called every `LOAD_FREQ`. Walks each VE's threads under the
    /// table lock, which only create, destroy and lookups by id contend for.
    pub(crate) fn sample_load(&self) {
        for ve in self.ves.lock().values() {
            ve.sample_load();
        }
    }

    /// Sets the parts of VE `id`'s configuration that `config` has.
    pub(crate) fn configure(&self, id: u32, config: VeConfig) -> Result {
        let mut admin = self.admin.lock();
        let ve = self.lookup(id)?;
        let stale_addrs = {
            let mut inner = ve.inner.lock();
            if let Some((units, limit)) = config.cpu {
                inner.cpuunits = units;
                inner.cpulimit = limit;
            }
            config
                .addrs
                .map(|addrs| core::mem::replace(&mut inner.addrs, addrs))
        };
        drop(stale_addrs);
        if let Some(private) = config.private {
            // The old one, if any, is put here, in process context.
            admin.get_mut(&id).ok_or(ENOENT)?.private = Some(private);
        }
        Ok(())
    }

    /// Up to `capacity` addresses of VE `id` into `out`; returns how many it has.
    pub(crate) fn addresses(
        &self,
        id: u32,
        out: &mut KVec<abi::VeAddr>,
        capacity: usize,
    ) -> Result<u32> {
        let ve = self.lookup(id)?;
        // Reserve before taking the spinlock so the copy below does not allocate.
        out.reserve(capacity.min(abi::VZ_MAX_ADDRS as usize), GFP_KERNEL)?;
        let inner = ve.inner.lock();
        for addr in inner.addrs.iter().take(capacity) {
            out.push(*addr, GFP_ATOMIC)?;
        }
        Ok(u32::try_from(inner.addrs.len()).unwrap_or(u32::MAX))
    }

    /// Gives restored VE `id` the state a checkpoint saved of it.
    pub(crate) fn import(&self, id: u32, state: VeImport) -> Result {
        let ve = self.lookup(id)?;
        if let Some(rules) = state.devperms {
            for rule in rules {
                ve.set_devperm(rule)?;
            }
        }
        if let Some(rows) = state.beancounters {
            for (resource, row) in (0u32..).zip(rows.iter()) {
                if abi::ub_resource_valid(resource) {
                    ve.set_limits(resource, row.barrier, row.limit)?;
                    ve.bc.restore_peaks(resource, row.maxheld, row.failcnt);
                }
            }
        }
        if let Some(addrs) = state.addrs {
            let stale = core::mem::replace(&mut ve.inner.lock().addrs, addrs);
            drop(stale);
        }
        Ok(())
    }

    /// `/proc/vz/vzquota`: OpenVZ's header, then for each VE with a private area its id and
    /// path, and its space (KiB) and inode usage and limits. Inside a VE (`only` nonzero) just
    /// its own, with its root as the path. May sleep (reading a quota may).
    pub(crate) fn show_vzquota(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        writeln!(
            out,
            "{:<11}{:>15}{:>15}{:>15}{:>11}{:>11}",
            "qid: path", "usage", "softlimit", "hardlimit", "time", "expire"
        )?;
        let admin = self.admin.lock();
        for (&id, state) in admin.iter().filter(|(&id, _)| only == 0 || id == only) {
            let Some(private) = &state.private else {
                continue;
            };
            let Ok(quota) = private.read(id) else {
                continue;
            };
            write!(out, "{id}: ")?;
            if only == 0 {
                private.show_path(out);
            } else {
                write!(out, "/")?;
            }
            writeln!(out)?;
            let kb = |bytes: u64| bytes >> 10;
            let space = [quota.space, quota.space_soft, quota.space_hard].map(kb);
            vzquota_line(out, "1k-blocks", space, quota.space_timer)?;
            let inodes = [quota.inodes, quota.inodes_soft, quota.inodes_hard];
            vzquota_line(out, "inodes", inodes, quota.inodes_timer)?;
        }
        Ok(())
    }

    /// `/proc/fairsched` in OpenVZ's compatibility layout: the host's node (id 2147483647)
    /// and one node per running VE, each with its weight (500000 / cpuunits, as vzctl set it)
    /// and rate (cpulimit in 1/1024 of a CPU). Inside a VE (`only` nonzero) just its node.
    pub(crate) fn show_fairsched(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        writeln!(out, "Version: 2.6 debug")?;
        writeln!(out, "      veid         id     parent weight  rate tasks   run cpus flg ready            start_tag                value                delay")?;
        let cpus = u32::try_from(ve_stats::visible_cpus().count()).unwrap_or(u32::MAX);
        let node = |out: &mut SeqOut,
                    row: (u32, u32, u32),
                    weight: u32,
                    rate: u32,
                    tasks: u32,
                    run: u32| {
            let flag = if rate != 0 { 'L' } else { '.' };
            writeln!(
                out,
                "{:>10} {:>10} {:>10} {weight:>6} {rate:>5} {tasks:>5} {run:>5} {cpus:>4}  {flag}. {run:>5} {:>20} {:>20} {:>20}",
                row.0, row.1, row.2, 0, 0, 0
            )
        };
        if only == 0 {
            node(out, (0, 0, 0), 1, 0, 0, 0)?;
            node(out, (0, FAIRSCHED_HOST_NODE, 0), 1, 0, 0, 0)?;
        }
        let ves = self.ves.lock();
        for ve in ves.values().filter(|ve| only == 0 || ve.id == only) {
            let tasks = ve.nproc();
            if tasks == 0 {
                continue;
            }
            let (units, limit) = {
                let inner = ve.inner.lock();
                (inner.cpuunits, inner.cpulimit)
            };
            let weight = abi::CPUUNITS_MAX / units.max(abi::CPUUNITS_MIN);
            let rate = limit.saturating_mul(1024) / 100;
            let run = ve
                .init()
                .and_then(|init| ve_stats::tasks(&init))
                .map_or(0, |t| t.running);
            for row in [(0, ve.id, 0), (ve.id, 0, ve.id), (ve.id, 1, 0)] {
                node(out, row, weight, rate, tasks, run)?;
            }
        }
        Ok(())
    }

    /// Sets barrier and limit of one resource of VE `id` (validated by the caller).
    pub(crate) fn set_ub_limits(&self, id: u32, resource: u32, barrier: u64, limit: u64) -> Result {
        self.lookup(id)?.set_limits(resource, barrier, limit)
    }

    pub(crate) fn ub_counters(&self, id: u32) -> Result<[abi::UbCounter; abi::UB_COUNT]> {
        Ok(self.lookup(id)?.counters())
    }

    /// `/proc/user_beancounters`: the header, then every VE's rows (the host's `0:` first,
    /// where nothing is counted). Inside a VE (`only` nonzero) just that VE's rows.
    pub(crate) fn show_beancounters(&self, out: &mut SeqOut, only: u32) -> core::fmt::Result {
        ubc::show_header(out)?;
        if only == 0 {
            ubc::show_rows(out, &HOST_BEANCOUNTERS.read_all(), Some(0))?;
        }
        let ves = self.ves.lock();
        for ve in ves.values().filter(|ve| only == 0 || ve.id == only) {
            ubc::show_rows(out, &ve.counters(), Some(ve.id))?;
        }
        Ok(())
    }

    /// `/proc/bc/<id>/resources`, readable from the host and from VE `id` itself.
    pub(crate) fn show_resources(&self, out: &mut SeqOut, id: u32, caller_ve: u32) -> Result {
        if caller_ve != 0 && caller_ve != id {
            return Err(EACCES);
        }
        let rows = if id == 0 {
            HOST_BEANCOUNTERS.read_all()
        } else {
            self.lookup(id)?.counters()
        };
        ubc::show_rows(out, &rows, None).map_err(|_| ENOSPC)
    }
}

/// One line of /proc/vz/vzquota: usage, soft and hard limit, the soft limit's timer and the
/// expiry, which is not kept (0).
fn vzquota_line(
    out: &mut SeqOut,
    name: &str,
    [usage, soft, hard]: [u64; 3],
    timer: u64,
) -> core::fmt::Result {
    writeln!(
        out,
        "{name:>11}{usage:>15}{soft:>15}{hard:>15}{timer:>11}{:>11}",
        0
    )
}

/// The node id /proc/fairsched gives the host (OpenVZ's `FAIRSCHED_HOST_NODE`).
const FAIRSCHED_HOST_NODE: u32 = 2_147_483_647;

/// The host's row: the host is not charged, so nothing is held and nothing is limited.
static HOST_BEANCOUNTERS: Beancounters = Beancounters::new();

/// Fork of a task in a VE: the child takes its own reference. Returns an errno or 0.
pub(crate) fn on_task_fork(child: HookTask<'_>, clone_flags: u64) -> i32 {
    // The child's count, taken before the charge; a refused fork drops it again.
    let Some(ve) = task::current().ve() else {
        // A VE id without a VE reference: never let such a task escape into the host.
        return EPERM.to_errno();
    };
    if !ve.bc.charge(abi::UB_NUMPROC, 1, Strictness::Barrier) {
        return EAGAIN.to_errno();
    }
    ve.forks.fetch_add(1, Ordering::Relaxed);
    if task::fork_makes_pidns_init(clone_flags) {
        ve.offer_init(child.get());
    }
    // A new child holds no reference yet (core code cleared the copied one): none comes back.
    drop(child.replace_ve(ve.id, Some(ve)));
    0
}

/// A task in a VE is reaped, or its fork failed after `on_task_fork`.
pub(crate) fn on_task_free(task: HookTask<'_>) {
    let Some(ve) = task.replace_ve(task.ve_id(), None) else {
        return;
    };
    ve.bc.uncharge(abi::UB_NUMPROC, 1);
    let stale = {
        let mut inner = ve.inner.lock();
        if inner
            .init
            .as_ref()
            .is_some_and(|init| core::ptr::eq::<Task>(&**init, &*task))
        {
            inner.init.take()
        } else {
            None
        }
    };
    drop(stale);
}

/// May the current task, whose VE is `ve`, have `access` to device `dev`?
pub(crate) fn on_dev_access(ve: &Ve, kind: u32, major: u32, minor: u32, access: u32) -> bool {
    ve.device_allowed(kind, major, minor, access)
}

/// May the current task, whose VE is `ve` and which lacks `CAP_MKNOD` on the host (VE root in
/// its VE's user namespace), make device node `major:minor` of `kind`? Yes when the VE's rules
/// grant mknod of it and the task has `CAP_MKNOD` in the VE's user namespace: the one that owns
/// the pid namespace of the VE's init. A user namespace made inside the VE does not count, so
/// an unprivileged user there cannot make device nodes; nor does a VE without an init have a
/// user namespace to check.
pub(crate) fn on_mknod_capable(ve: &Ve, kind: u32, major: u32, minor: u32) -> bool {
    if !ve.device_allowed(kind, major, minor, abi::DEVPERM_MKNOD) {
        return false;
    }
    match ve.init() {
        Some(init) => init.caller_may_mknod_in_its_pidns(),
        None => false,
    }
}

/// Whether a task of VE `caller_ve` sees the entry `name` of `/proc/bc`: `resources` (which
/// lists only the caller's rows) and the caller's own directory, not another VE's. The host
/// (0) sees every entry.
pub(crate) fn bc_entry_visible(name: &[u8], caller_ve: u32) -> bool {
    caller_ve == 0 || name == b"resources" || bc_dir_id(name) == Some(caller_ve)
}

/// The VE id a `/proc/bc` directory name stands for: its decimal form, as the directory is
/// made (no sign, no leading zero).
fn bc_dir_id(name: &[u8]) -> Option<u32> {
    let canonical = !name.is_empty()
        && name.iter().all(u8::is_ascii_digit)
        && (name.len() == 1 || name.first() != Some(&b'0'));
    if !canonical {
        return None;
    }
    core::str::from_utf8(name).ok()?.parse().ok()
}

/// The pid of `task` (in a VE) inside its VE, for `VPid:` in /proc.
pub(crate) fn on_task_vpid(task: &Task) -> i32 {
    // Another task's reference may go away any moment: look the VE up by id instead.
    let Ok(table) = VeTable::get() else {
        return 0;
    };
    match table.lookup(task.ve_id()).ok().and_then(|ve| ve.init()) {
        Some(init) => task.pid_in_ns_of(&init),
        None => 0,
    }
}

/// Charges `amount` of `resource` to `ve`; on success returns a new reference to it for the
/// charged object to hold.
pub(crate) fn charge(
    ve: ArcBorrow<'_, Ve>,
    resource: u32,
    amount: u64,
    how: Strictness,
) -> Option<Arc<Ve>> {
    if !ve.bc.charge(resource, amount, how) {
        return None;
    }
    Some(ve.into())
}

/// Gives back `amount` of `resource` to `ve`, whose reference the uncharged object held.
pub(crate) fn uncharge(ve: &Ve, resource: u32, amount: u64) {
    ve.bc.uncharge(resource, amount);
}
