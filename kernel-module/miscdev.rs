// SPDX-License-Identifier: GPL-2.0

//! A misc character device whose ioctls go to a Rust handler.

use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::{AsBytes, FromBytes, Opaque};
use kernel::uaccess::UserSlice;

/// What a misc device does with an ioctl; implemented by the module's command dispatcher.
pub(crate) trait IoctlHandler {
    /// Handles `cmd` with argument `arg`; the `Ok` value is the ioctl's return value.
    fn ioctl(cmd: u32, arg: UserArg) -> Result<i64>;
}

/// A registered misc character device whose ioctls go to `H`.
///
/// # Invariants
///
/// `misc` is registered with the misc subsystem from `register` until `drop`, and it points
/// at `fops`; both boxes stay allocated (at a fixed address) for that whole time.
pub(crate) struct MiscDevice {
    misc: KBox<Opaque<bindings::miscdevice>>,
    _fops: KBox<Opaque<bindings::file_operations>>,
}

// SAFETY: After registration the C structs are only read by the misc subsystem, which does its
// own locking; this type offers no access to them, so sharing it between threads is sound.
unsafe impl Sync for MiscDevice {}
// SAFETY: See `Sync`; deregistration may happen from any thread.
unsafe impl Send for MiscDevice {}

impl MiscDevice {
    /// Registers `/dev/<name>` with node permissions `mode` and a dynamic minor.
    pub(crate) fn register<H: IoctlHandler>(
        module: &'static ThisModule,
        name: &'static CStr,
        mode: u16,
    ) -> Result<Self> {
        // SAFETY: `file_operations` is a C struct of nullable function pointers and a module
        // pointer; all-zero is its documented "no operation" value.
        let mut fops: bindings::file_operations = unsafe { core::mem::zeroed() };
        fops.owner = module.as_ptr();
        fops.unlocked_ioctl = Some(ioctl_trampoline::<H>);
        let fops = KBox::new(Opaque::new(fops), GFP_KERNEL)?;

        // SAFETY: As above, all-zero is a valid, unregistered `miscdevice`.
        let mut misc: bindings::miscdevice = unsafe { core::mem::zeroed() };
        misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
        misc.name = name.as_char_ptr();
        misc.fops = fops.get();
        misc.mode = mode;
        let misc = KBox::new(Opaque::new(misc), GFP_KERNEL)?;

        // SAFETY: `misc` is fully initialised, lives in a heap allocation that does not move
        // and is only freed after `misc_deregister` in `drop`; `name` is 'static.
        to_result(unsafe { bindings::misc_register(misc.get()) })?;
        Ok(Self { misc, _fops: fops })
    }
}

impl Drop for MiscDevice {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `misc` is registered; this is the one deregistration.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// The C entry point for `unlocked_ioctl`: converts the arguments and the result.
///
/// # Safety
///
/// Called only by the VFS for a file of a device registered by `MiscDevice::register::<H>`.
unsafe extern "C" fn ioctl_trampoline<H: IoctlHandler>(
    _file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    match H::ioctl(cmd, UserArg(arg)) {
        Ok(ret) => ret as c_long,
        Err(err) => err.to_errno() as c_long,
    }
}

/// The untyped ioctl argument: a pointer into the caller's address space.
#[derive(Clone, Copy)]
pub(crate) struct UserArg(usize);

impl UserArg {
    /// Copies a `T` in from the user buffer the argument points at (`EFAULT` if unreadable).
    pub(crate) fn read<T: FromBytes>(self) -> Result<T> {
        UserSlice::new(self.0, core::mem::size_of::<T>())
            .reader()
            .read()
    }

    /// Copies `value` out to the user buffer the argument points at (`EFAULT` if it is not
    /// writable).
    pub(crate) fn write<T: AsBytes>(self, value: &T) -> Result {
        UserSlice::new(self.0, core::mem::size_of::<T>())
            .writer()
            .write(value)
    }
}
