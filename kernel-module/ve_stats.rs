// SPDX-License-Identifier: GPL-2.0

//! What the kernel counts for a VE, read through `kernel/vz_hooks.c`: the CPU time of its
//! cgroups, the tasks of its pid namespace, and which CPUs its tasks see. None of it sleeps,
//! so the VE's /proc files can be shown from a hook.

use crate::task::as_raw;
use kernel::bindings;
use kernel::task::Task;

/// CPU time in nanoseconds, split as /proc/stat splits it (`used` is what the scheduler ran).
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuTime {
    pub(crate) user: u64,
    pub(crate) nice: u64,
    pub(crate) system: u64,
    pub(crate) used: u64,
}

/// The CPU time of the tasks in the VE of `init` (its cgroup and those below it), on `cpu` or,
/// for `None`, on all CPUs. Zero when the VE has no cgroup of its own.
pub(crate) fn cputime(init: &Task, cpu: Option<u32>) -> CpuTime {
    let cpu = cpu.map_or(-1, |cpu| i32::try_from(cpu).unwrap_or(i32::MAX));
    let mut time = bindings::vz_cputime::default();
    // SAFETY: `init` is a valid task; the function takes its own references (cgroup, RCU) and
    // only writes `time`. An out-of-range cpu is never passed: callers iterate `visible_cpus`.
    unsafe { bindings::vz_ve_cputime(as_raw(init), cpu, &mut time) };
    CpuTime {
        user: time.user,
        nice: time.nice,
        system: time.system,
        used: time.used,
    }
}

/// Threads in a VE's pid namespace, counted as the kernel's load average counts them.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tasks {
    pub(crate) running: u32,
    pub(crate) blocked: u32,
    pub(crate) threads: u32,
    /// The last pid handed out in the namespace.
    pub(crate) last_pid: i32,
}

/// The threads of the pid namespace of `init`, a VE's init; `None` once it has been reaped.
pub(crate) fn tasks(init: &Task) -> Option<Tasks> {
    // SAFETY: `init` is a valid task.
    unsafe { tasks_of(as_raw(init)) }
}

/// The threads of the pid namespace of `task`.
///
/// # Safety
///
/// `task` is a valid task.
unsafe fn tasks_of(task: *mut bindings::task_struct) -> Option<Tasks> {
    let mut tasks = bindings::vz_ve_tasks::default();
    // SAFETY: `task` is valid by the caller's guarantee; the function walks its pid namespace
    // under RCU and only writes `tasks`.
    if unsafe { bindings::vz_ve_tasks(task, &mut tasks) } != 0 {
        return None;
    }
    Some(Tasks {
        running: tasks.running,
        blocked: tasks.blocked,
        threads: tasks.threads,
        last_pid: tasks.last_pid,
    })
}

/// The CPUs the current task sees (in a VE: those its cpuset lets it run on), ascending.
pub(crate) fn visible_cpus() -> impl Iterator<Item = u32> {
    // SAFETY: `nr_cpu_ids` is set at boot and read-only afterwards.
    let ids = unsafe { bindings::nr_cpu_ids };
    // SAFETY: The function checks the cpu against `nr_cpu_ids` and reads current's cpu mask.
    (0..ids).filter(|&cpu| unsafe { bindings::vz_cpu_visible(cpu) })
}

/// Nanoseconds since boot, suspend included (the clock of /proc/uptime).
pub(crate) fn boottime_ns() -> u64 {
    // SAFETY: Reads the clock; no preconditions.
    unsafe { bindings::ktime_get_boot_fast_ns() }
}

/// Threads on the whole machine: those of the initial pid namespace.
pub(crate) fn host_threads() -> u32 {
    // SAFETY: `init_task` is the boot task, which never exits, in the initial pid namespace.
    unsafe { tasks_of(core::ptr::addr_of_mut!(bindings::init_task)) }.map_or(0, |t| t.threads)
}
