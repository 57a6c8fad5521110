// SPDX-License-Identifier: GPL-2.0

//! References on this module.

use kernel::bindings;

/// A reference on this module, which keeps `rmmod` from unloading it while the holder lives.
pub(crate) struct ModuleRef(());

impl ModuleRef {
    pub(crate) fn new() -> Self {
        // SAFETY: The module is live (this code runs in it), so a reference may be taken.
        unsafe { bindings::__module_get(crate::THIS_MODULE.as_ptr()) };
        ModuleRef(())
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: Gives back the reference taken in `new`. Code still running in the module
        // after this is covered: drops happen in ioctls (the open file holds the module) or
        // in hooks (unregistering waits for them with synchronize_rcu()).
        unsafe { bindings::module_put(crate::THIS_MODULE.as_ptr()) };
    }
}
