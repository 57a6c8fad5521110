// SPDX-License-Identifier: GPL-2.0

//! The memory cgroup of a VE.

use crate::abi;
use crate::task::as_raw;
use crate::ve_proc::Memory;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::c_ulong;
use kernel::prelude::*;
use kernel::task::Task;

/// A count from C as the module counts.
fn pages(value: c_ulong) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
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
pub(crate) fn counters(task: &Task) -> Option<MemcgCounters> {
    let mut stat = bindings::vz_memcg_stat::default();
    // SAFETY: `task` is live; the function finds the cgroup under the task's lock and RCU and
    // holds a reference on it while it reads into `stat`.
    if unsafe { bindings::vz_memcg_read(as_raw(task), &mut stat) } != 0 {
        return None;
    }
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

/// Sets memory.max (pages) of the memory cgroup of the VE of `task`, as `counters`
/// finds it (`ENOENT` without one).
pub(crate) fn set_max(task: &Task, pages: u64) -> Result {
    let pages = c_ulong::try_from(pages).unwrap_or(c_ulong::MAX);
    // SAFETY: `task` is live; the function finds the cgroup as `vz_memcg_read` does.
    to_result(unsafe { bindings::vz_memcg_set_max(as_raw(task), pages) })
}

/// The memory of the VE of `task` for its /proc/meminfo, from its memory cgroup as `counters`
/// finds it: MemTotal is memory.max, at most the host's RAM. The swap shown is the host's,
/// which the caller caps with the VE's own limit; the caller also fills in `committed`.
pub(crate) fn meminfo(task: &Task) -> Option<Memory> {
    let mut info = bindings::vz_meminfo::default();
    // SAFETY: `task` is live; the function finds the cgroup as `vz_memcg_read` does and only
    // writes `info`.
    if unsafe { bindings::vz_memcg_meminfo(as_raw(task), &mut info) } != 0 {
        return None;
    }
    Some(Memory {
        total: pages(info.max).min(pages(info.host_ram)),
        usage: pages(info.usage),
        swap_total: pages(info.swap_max).min(pages(info.host_swap)),
        swap_usage: pages(info.swap_usage),
        inactive_anon: pages(info.inactive_anon),
        active_anon: pages(info.active_anon),
        inactive_file: pages(info.inactive_file),
        active_file: pages(info.active_file),
        unevictable: pages(info.unevictable),
        file: pages(info.file),
        anon: pages(info.anon),
        shmem: pages(info.shmem),
        mapped: pages(info.file_mapped),
        dirty: pages(info.file_dirty),
        writeback: pages(info.writeback),
        slab_reclaimable: pages(info.slab_reclaimable),
        slab_unreclaimable: pages(info.slab_unreclaimable),
        kernel_stack_kb: pages(info.kernel_stack_kb),
        pagetables: pages(info.pagetables),
        committed: 0,
    })
}
