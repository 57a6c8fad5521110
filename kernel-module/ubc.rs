// SPDX-License-Identifier: GPL-2.0

//! User beancounters: per-VE resource counters with OpenVZ's barrier, limit and failcnt.
//!
//! Charging is lock-free: one compare-and-swap on the resource's `held`, then a `fetch_max` on
//! `maxheld`. Barrier and limit are plain atomics, so they change while the VE runs; lowering
//! one below `held` refuses new charges and takes nothing away.

use crate::abi::{self, UbCounter};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How hard a charge is: which bound it may not pass.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Fails past the barrier (OpenVZ's UB_HARD): new objects.
    Barrier,
    /// Fails past the limit (UB_SOFT): growth the kernel would rather not refuse.
    Limit,
    /// Never fails (UB_FORCE): replacing what is already held, entering a VE.
    Force,
    /// Charges nothing, but fails (and counts the failure) as `Barrier` would.
    Check,
    /// As `Barrier`, but a failure is not counted: the caller retries, and the retry counts.
    Try,
}

/// One resource of one VE.
struct Counter {
    held: AtomicU64,
    maxheld: AtomicU64,
    barrier: AtomicU64,
    limit: AtomicU64,
    failcnt: AtomicU64,
}

impl Counter {
    const fn new() -> Self {
        Counter {
            held: AtomicU64::new(0),
            maxheld: AtomicU64::new(0),
            barrier: AtomicU64::new(abi::UB_UNLIMITED),
            limit: AtomicU64::new(abi::UB_UNLIMITED),
            failcnt: AtomicU64::new(0),
        }
    }

    fn charge(&self, amount: u64, how: Strictness) -> bool {
        let bound = match how {
            Strictness::Barrier | Strictness::Check | Strictness::Try => self.barrier.load(Relaxed),
            Strictness::Limit => self.limit.load(Relaxed),
            Strictness::Force => u64::MAX,
        };
        let mut held = self.held.load(Relaxed);
        loop {
            let wanted = held.checked_add(amount).filter(|&new| new <= bound);
            let Some(new) = wanted else {
                if how != Strictness::Try {
                    self.failcnt.fetch_add(1, Relaxed);
                }
                return false;
            };
            if how == Strictness::Check {
                return true;
            }
            match self.held.compare_exchange_weak(held, new, Relaxed, Relaxed) {
                Ok(_) => {
                    // A plain load first: most charges do not raise maxheld.
                    if new > self.maxheld.load(Relaxed) {
                        self.maxheld.fetch_max(new, Relaxed);
                    }
                    return true;
                }
                Err(now) => held = now,
            }
        }
    }

    fn uncharge(&self, amount: u64) {
        // Saturating: an unbalanced uncharge would be a kernel bug, but must not wrap to a
        // huge value that refuses every later charge.
        let _ = self
            .held
            .fetch_update(Relaxed, Relaxed, |held| Some(held.saturating_sub(amount)));
    }

    fn read(&self) -> UbCounter {
        UbCounter {
            held: self.held.load(Relaxed),
            maxheld: self.maxheld.load(Relaxed),
            barrier: self.barrier.load(Relaxed),
            limit: self.limit.load(Relaxed),
            failcnt: self.failcnt.load(Relaxed),
        }
    }
}

/// All beancounters of one VE, indexed by OpenVZ's resource id (`abi::UB_NAMES`).
pub(crate) struct Beancounters {
    counters: [Counter; abi::UB_COUNT],
}

impl Beancounters {
    /// Every resource unlimited, nothing held.
    pub(crate) const fn new() -> Self {
        Beancounters {
            counters: [const { Counter::new() }; abi::UB_COUNT],
        }
    }

    /// Charges `amount` of `resource`; false (with failcnt counted) if refused. An unknown
    /// resource is not counted at all.
    pub(crate) fn charge(&self, resource: u32, amount: u64, how: Strictness) -> bool {
        self.counters
            .get(resource as usize)
            .map_or(true, |counter| counter.charge(amount, how))
    }

    pub(crate) fn uncharge(&self, resource: u32, amount: u64) {
        if let Some(counter) = self.counters.get(resource as usize) {
            counter.uncharge(amount);
        }
    }

    /// Records a resource measured elsewhere rather than charged here: `held` becomes
    /// `value` and `maxheld` keeps the largest value seen.
    pub(crate) fn observe(&self, resource: u32, value: u64) {
        if let Some(counter) = self.counters.get(resource as usize) {
            counter.held.store(value, Relaxed);
            counter.maxheld.fetch_max(value, Relaxed);
        }
    }

    pub(crate) fn held(&self, resource: u32) -> u64 {
        self.counters
            .get(resource as usize)
            .map_or(0, |counter| counter.held.load(Relaxed))
    }

    pub(crate) fn limit(&self, resource: u32) -> u64 {
        self.counters
            .get(resource as usize)
            .map_or(abi::UB_UNLIMITED, |counter| counter.limit.load(Relaxed))
    }

    /// Sets barrier and limit; the caller has validated them (`abi::ub_resource_valid`,
    /// barrier <= limit <= `UB_UNLIMITED`).
    pub(crate) fn set_limits(&self, resource: u32, barrier: u64, limit: u64) {
        if let Some(counter) = self.counters.get(resource as usize) {
            counter.barrier.store(barrier, Relaxed);
            counter.limit.store(limit, Relaxed);
        }
    }

    /// Row `index`; dummy rows are all zero, as OpenVZ printed them.
    /// A restore's peaks: maxheld becomes `maxheld` (or what is held now, if more: the
    /// restore's own transient charges are not the VE's), failcnt at least `failcnt`.
    pub(crate) fn restore_peaks(&self, resource: u32, maxheld: u64, failcnt: u64) {
        if let Some(counter) = self.counters.get(resource as usize) {
            counter
                .maxheld
                .store(maxheld.max(counter.held.load(Relaxed)), Relaxed);
            counter.failcnt.fetch_max(failcnt, Relaxed);
        }
    }

    fn row(&self, index: usize) -> UbCounter {
        match (abi::UB_NAMES.get(index), self.counters.get(index)) {
            (Some(name), Some(counter)) if *name != "dummy" => counter.read(),
            _ => UbCounter::default(),
        }
    }

    pub(crate) fn read_all(&self) -> [UbCounter; abi::UB_COUNT] {
        core::array::from_fn(|index| self.row(index))
    }
}

/// The rows of `/proc/user_beancounters` (`uid` set: `<uid>:` on the first row, dummy rows
/// shown) or of `/proc/bc/<id>/resources` (`uid` None: no uid, dummy rows skipped), in OpenVZ's
/// `%10s%c %-12s %20lu ...` layout.
pub(crate) fn show_rows(
    out: &mut impl Write,
    rows: &[UbCounter; abi::UB_COUNT],
    uid: Option<u32>,
) -> core::fmt::Result {
    for (index, (name, row)) in abi::UB_NAMES.iter().zip(rows.iter()).enumerate() {
        if uid.is_none() && *name == "dummy" {
            continue;
        }
        match uid.filter(|_| index == 0) {
            Some(id) => write!(out, "{:>10}:", id)?,
            None => write!(out, "{:>10} ", "")?,
        }
        writeln!(
            out,
            " {:<12} {:>20} {:>20} {:>20} {:>20} {:>20}",
            name, row.held, row.maxheld, row.barrier, row.limit, row.failcnt
        )?;
    }
    Ok(())
}

/// The header of `/proc/user_beancounters` and `/proc/bc/resources`.
pub(crate) fn show_header(out: &mut impl Write) -> core::fmt::Result {
    writeln!(out, "Version: 2.5")?;
    writeln!(
        out,
        "{:>10}  {:<12} {:>20} {:>20} {:>20} {:>20} {:>20}",
        "uid", "resource", "held", "maxheld", "barrier", "limit", "failcnt"
    )
}
