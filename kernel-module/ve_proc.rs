// SPDX-License-Identifier: GPL-2.0

//! The text of the files that show a VE its own machine: /proc/meminfo, /proc/stat,
//! /proc/loadavg and /proc/swaps as a task in the VE sees them, and the VE's row of
//! /proc/vz/vestat. Each keeps the layout of the host's file, byte for byte, so that free, top,
//! uptime, ps and OpenVZ's clients parse it unchanged.

use crate::abi::VeAddr;
use crate::load::Decimal;
use crate::ve_stats::{CpuTime, Tasks};
use core::fmt::{self, Write};

/// A VE's memory as /proc/meminfo shows it, in pages.
pub(crate) struct Memory {
    pub(crate) total: u64,
    pub(crate) usage: u64,
    pub(crate) swap_total: u64,
    pub(crate) swap_usage: u64,
    pub(crate) inactive_anon: u64,
    pub(crate) active_anon: u64,
    pub(crate) inactive_file: u64,
    pub(crate) active_file: u64,
    pub(crate) unevictable: u64,
    pub(crate) file: u64,
    pub(crate) anon: u64,
    pub(crate) shmem: u64,
    pub(crate) mapped: u64,
    pub(crate) dirty: u64,
    pub(crate) writeback: u64,
    pub(crate) slab_reclaimable: u64,
    pub(crate) slab_unreclaimable: u64,
    pub(crate) kernel_stack_kb: u64,
    pub(crate) pagetables: u64,
    /// privvmpages held: what the VE's tasks have committed (OpenVZ's Committed_AS).
    pub(crate) committed: u64,
}

/// What sysinfo(2) shows a VE's task: memory in pages, load as `VeInfo::load`.
pub(crate) struct SysInfo {
    pub(crate) load: [u64; 3],
    pub(crate) threads: u32,
    pub(crate) total: u64,
    pub(crate) free: u64,
    pub(crate) shared: u64,
    pub(crate) swap_total: u64,
    pub(crate) swap_free: u64,
}

/// KiB in a page.
pub(crate) const PAGE_KB: u64 = kernel::page::PAGE_SIZE as u64 / 1024;

/// One line of /proc/meminfo: the label padded to 16 columns, the value to 8, as the kernel's
/// `show_val_kb` writes it.
fn kb_line(out: &mut impl Write, label: &str, kb: u64) -> fmt::Result {
    writeln!(out, "{label:<16}{kb:>8} kB")
}

/// /proc/meminfo of a VE: its limit as MemTotal, what its memory cgroup holds as used.
pub(crate) fn show_meminfo(out: &mut impl Write, mem: &Memory) -> fmt::Result {
    let free = mem.total.saturating_sub(mem.usage);
    let reclaimable = mem
        .inactive_file
        .saturating_add(mem.active_file)
        .saturating_add(mem.slab_reclaimable);
    let available = free.saturating_add(reclaimable).min(mem.total);
    let swap_free = mem.swap_total.saturating_sub(mem.swap_usage);
    let lines: [(&str, u64); 27] = [
        ("MemTotal:", mem.total),
        ("MemFree:", free),
        ("MemAvailable:", available),
        ("Buffers:", 0),
        ("Cached:", mem.file),
        ("SwapCached:", 0),
        ("Active:", mem.active_anon.saturating_add(mem.active_file)),
        (
            "Inactive:",
            mem.inactive_anon.saturating_add(mem.inactive_file),
        ),
        ("Active(anon):", mem.active_anon),
        ("Inactive(anon):", mem.inactive_anon),
        ("Active(file):", mem.active_file),
        ("Inactive(file):", mem.inactive_file),
        ("Unevictable:", mem.unevictable),
        ("Mlocked:", 0),
        ("SwapTotal:", mem.swap_total),
        ("SwapFree:", swap_free),
        ("Dirty:", mem.dirty),
        ("Writeback:", mem.writeback),
        ("AnonPages:", mem.anon),
        ("Mapped:", mem.mapped),
        ("Shmem:", mem.shmem),
        ("KReclaimable:", mem.slab_reclaimable),
        (
            "Slab:",
            mem.slab_reclaimable.saturating_add(mem.slab_unreclaimable),
        ),
        ("SReclaimable:", mem.slab_reclaimable),
        ("SUnreclaim:", mem.slab_unreclaimable),
        ("KernelStack:", mem.kernel_stack_kb / PAGE_KB),
        ("PageTables:", mem.pagetables),
    ];
    for (label, pages) in lines {
        kb_line(out, label, pages.saturating_mul(PAGE_KB))?;
    }
    kb_line(
        out,
        "CommitLimit:",
        mem.total
            .saturating_add(mem.swap_total)
            .saturating_mul(PAGE_KB),
    )?;
    kb_line(out, "Committed_AS:", mem.committed.saturating_mul(PAGE_KB))
}

/// Nanoseconds in one /proc/stat tick (USER_HZ, 100 on every architecture Linux exports it).
const NS_PER_USER_TICK: u64 = 10_000_000;

/// The ten columns of a /proc/stat cpu row: the VE's own time, idle the rest of its uptime.
fn cpu_columns(out: &mut impl Write, time: &CpuTime, idle_ns: u64) -> fmt::Result {
    let ticks = |ns: u64| ns / NS_PER_USER_TICK;
    write!(
        out,
        "{} {} {} {}",
        ticks(time.user),
        ticks(time.nice),
        ticks(time.system),
        ticks(idle_ns)
    )?;
    // iowait irq softirq steal guest guest_nice: not kept per VE.
    writeln!(out, " 0 0 0 0 0 0")
}

/// Idle time of one CPU over `uptime_ns`: what the VE did not use of it.
pub(crate) fn idle_ns(uptime_ns: u64, time: &CpuTime) -> u64 {
    uptime_ns.saturating_sub(
        time.user
            .saturating_add(time.nice)
            .saturating_add(time.system),
    )
}

/// What /proc/stat of a VE shows beyond its CPU rows.
pub(crate) struct StatTotals {
    pub(crate) boot_time: u64,
    pub(crate) forks: u64,
    pub(crate) tasks: Tasks,
}

/// /proc/stat of a VE: the total row, one row per CPU the VE sees (`cpus`: number, time, idle
/// in ns), and its tasks. Interrupts and context switches are not counted per VE: zero.
pub(crate) fn show_stat(
    out: &mut impl Write,
    total: &CpuTime,
    total_idle_ns: u64,
    cpus: impl Iterator<Item = (u32, CpuTime, u64)>,
    totals: &StatTotals,
) -> fmt::Result {
    write!(out, "cpu  ")?;
    cpu_columns(out, total, total_idle_ns)?;
    for (cpu, time, idle) in cpus {
        write!(out, "cpu{cpu} ")?;
        cpu_columns(out, &time, idle)?;
    }
    writeln!(out, "intr 0")?;
    writeln!(out, "ctxt 0")?;
    writeln!(out, "btime {}", totals.boot_time)?;
    writeln!(out, "processes {}", totals.forks)?;
    writeln!(out, "procs_running {}", totals.tasks.running)?;
    writeln!(out, "procs_blocked {}", totals.tasks.blocked)?;
    writeln!(out, "softirq 0 0 0 0 0 0 0 0 0 0 0")
}

/// /proc/loadavg of a VE, in the kernel's `%lu.%02lu ... %u/%d %d` layout.
pub(crate) fn show_loadavg(out: &mut impl Write, load: [u64; 3], tasks: &Tasks) -> fmt::Result {
    let [one, five, fifteen] = load.map(Decimal);
    writeln!(
        out,
        "{one} {five} {fifteen} {}/{} {}",
        tasks.running, tasks.threads, tasks.last_pid
    )
}

/// The line /proc/swaps shows a VE after its header: its swap, as OpenVZ showed it, on
/// /dev/null (the VE has no swap device of its own), in the kernel's `swap_show` layout.
pub(crate) fn show_swap(out: &mut impl Write, total_kb: u64, used_kb: u64) -> fmt::Result {
    if total_kb == 0 {
        return Ok(());
    }
    let pad = |kb: u64| if kb < 10_000_000 { "\t" } else { "" };
    writeln!(
        out,
        "{:<40}partition\t{total_kb}\t{}{used_kb}\t{}-1",
        "/dev/null",
        pad(total_kb),
        pad(used_kb)
    )
}

/// Width of a /proc/vz/vestat line, its newline included: twelve 20-column fields.
const VESTAT_LINE: usize = 12 * 21;

/// The first two lines of /proc/vz/vestat: the version padded to the line width, as OpenVZ's
/// kernel printed them (scripts match `Version: 2.2` and skip the header).
pub(crate) fn show_vestat_header(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "{:<width$}", "Version: 2.2", width = VESTAT_LINE - 1)?;
    let names = [
        "VEID", "user", "nice", "system", "uptime", "idle", "strv", "uptime", "used", "maxlat",
        "totlat", "numsched",
    ];
    let mut sep = "";
    for name in names {
        write!(out, "{sep}{name:>20}")?;
        sep = " ";
    }
    writeln!(out)
}

/// One VE's row of /proc/vz/vestat. Columns 2-5 are in milliseconds (jiffies of OpenVZ's
/// kernels, HZ=1000, which Proxmox assumes), 6, 8 and 9 in nanoseconds. strv was always 0;
/// maxlat, totlat and numsched (scheduling latency) are not kept here: 0.
pub(crate) fn show_vestat_row(
    out: &mut impl Write,
    id: u32,
    time: &CpuTime,
    uptime_ns: u64,
    idle_ns: u64,
) -> fmt::Result {
    let ms = |ns: u64| ns / 1_000_000;
    writeln!(
        out,
        "{id:>20} {:>20} {:>20} {:>20} {:>20} {idle_ns:>20} {:>20} {uptime_ns:>20} {:>20} {:>20} {:>20} {:>20}",
        ms(time.user),
        ms(time.nice),
        ms(time.system),
        ms(uptime_ns),
        0,
        time.used,
        0,
        0,
        0
    )
}

/// Text of at most `N` bytes built on the stack, for a padded field (`Formatter::pad`).
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|bytes| core::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }
}

impl<const N: usize> Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An IPv4 address of a VE, dotted, padded as asked (`{:>15}` in /proc/vz/veinfo).
pub(crate) struct Ipv4<'a>(pub(crate) &'a VeAddr);

impl fmt::Display for Ipv4<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = StackText::<16>::new();
        let [a, b, c, d, ..] = self.0.addr;
        write!(text, "{a}.{b}.{c}.{d}")?;
        f.pad(text.as_str())
    }
}

/// An IPv6 address of a VE in its canonical text form (RFC 5952: lowercase, the longest run
/// of two or more zero groups as `::`), padded as asked.
pub(crate) struct Ipv6<'a>(pub(crate) &'a VeAddr);

impl fmt::Display for Ipv6<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let byte = |i: usize| self.0.addr.get(i).copied().unwrap_or(0);
        let groups: [u16; 8] =
            core::array::from_fn(|i| u16::from_be_bytes([byte(2 * i), byte(2 * i + 1)]));
        // The longest run of zero groups (the first of equal ones), if two or more long.
        let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
        for (i, &group) in groups.iter().enumerate() {
            if group == 0 {
                run = if run.1 == 0 {
                    (i, 1)
                } else {
                    (run.0, run.1 + 1)
                };
                if run.1 > best.1 {
                    best = run;
                }
            } else {
                run = (0, 0);
            }
        }
        let mut text = StackText::<40>::new();
        let mut i = 0;
        while let Some(&group) = groups.get(i) {
            if best.1 >= 2 && i == best.0 {
                text.write_str("::")?;
                i += best.1;
                continue;
            }
            let after_gap = best.1 >= 2 && i == best.0 + best.1;
            if i > 0 && !after_gap {
                text.write_str(":")?;
            }
            write!(text, "{group:x}")?;
            i += 1;
        }
        f.pad(text.as_str())
    }
}
