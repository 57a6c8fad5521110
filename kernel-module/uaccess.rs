// SPDX-License-Identifier: GPL-2.0

//! Copies between the module and user memory: the ABI structs as plain old data, and arrays.

use crate::abi;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
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
    abi::VeAddr,
    abi::VeConfig,
    abi::VeState,
    abi::VeAttach,
);

/// Copies in `count` items from the user array at `addr` (a `u64` pointer field).
pub(crate) fn read_user_array<T: FromBytes>(addr: u64, count: usize) -> Result<KVec<T>> {
    let len = count.checked_mul(core::mem::size_of::<T>()).ok_or(EINVAL)?;
    let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
    let mut reader = UserSlice::new(addr, len).reader();
    let mut items = KVec::with_capacity(count, GFP_KERNEL)?;
    for _ in 0..count {
        items.push(reader.read()?, GFP_KERNEL)?;
    }
    Ok(items)
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
