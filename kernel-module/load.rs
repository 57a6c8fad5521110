// SPDX-License-Identifier: GPL-2.0

//! A VE's load average, kept as the kernel keeps its own (kernel/sched/loadavg.c): every
//! `LOAD_FREQ` the threads that are running, runnable or uninterruptible are folded into three
//! exponentially decaying averages, in fixed point with `FSHIFT` fraction bits.

use crate::abi::LOAD_FSHIFT;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

const FIXED_1: u64 = 1 << LOAD_FSHIFT;
/// 1/exp(5 s / 1 min), 1/exp(5 s / 5 min) and 1/exp(5 s / 15 min) in fixed point.
const EXP: [u64; 3] = [1884, 2014, 2037];

/// The 1, 5 and 15-minute averages. Only the sampling work item writes them.
pub(crate) struct LoadAvg([AtomicU64; 3]);

impl LoadAvg {
    pub(crate) const fn new() -> Self {
        Self([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
    }

    /// Folds in one sample of `active` threads.
    pub(crate) fn sample(&self, active: u32) {
        let active = u64::from(active) * FIXED_1;
        for (avg, exp) in self.0.iter().zip(EXP) {
            avg.store(
                decay(avg.load(Ordering::Relaxed), exp, active),
                Ordering::Relaxed,
            );
        }
    }

    pub(crate) fn read(&self) -> [u64; 3] {
        self.0.each_ref().map(|avg| avg.load(Ordering::Relaxed))
    }
}

/// The kernel's `calc_load`: `load` decayed by `exp` towards `active`, rounded up while rising.
fn decay(load: u64, exp: u64, active: u64) -> u64 {
    let mut next = load
        .saturating_mul(exp)
        .saturating_add(active.saturating_mul(FIXED_1 - exp));
    if active >= load {
        next = next.saturating_add(FIXED_1 - 1);
    }
    next / FIXED_1
}

/// One average as /proc/loadavg prints it: two decimals, rounded as `get_avenrun` rounds.
pub(crate) struct Decimal(pub(crate) u64);

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0.saturating_add(FIXED_1 / 200);
        let int = value >> LOAD_FSHIFT;
        let frac = ((value & (FIXED_1 - 1)) * 100) >> LOAD_FSHIFT;
        write!(f, "{int}.{frac:02}")
    }
}
