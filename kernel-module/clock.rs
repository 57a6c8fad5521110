// SPDX-License-Identifier: GPL-2.0

//! The wall clock.

use kernel::bindings;

/// Seconds since the epoch.
pub(crate) fn now_seconds() -> u64 {
    // SAFETY: Reads the clock; no preconditions.
    u64::try_from(unsafe { bindings::ktime_get_real_seconds() }).unwrap_or(0)
}
