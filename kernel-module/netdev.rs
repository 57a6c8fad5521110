// SPDX-License-Identifier: GPL-2.0

//! Network devices moved between network namespaces.

use crate::task::as_raw;
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::task::Task;

/// Moves network device `name` from the network namespace of `from` to that of `to` (`None`:
/// the host's), if it carries VE id `expect`, and records `ve_id` on it.
pub(crate) fn move_device(
    from: Option<&Task>,
    to: Option<&Task>,
    name: &CStr,
    expect: u32,
    ve_id: u32,
) -> Result {
    let ptr = |task: Option<&Task>| task.map_or(core::ptr::null_mut(), as_raw);
    // SAFETY: The tasks are live (or null, meaning the host); `name` is NUL-terminated; the
    // function takes the RTNL and namespace references itself.
    to_result(unsafe {
        bindings::vz_netdev_move(ptr(from), ptr(to), name.as_char_ptr(), expect, ve_id)
    })
}
