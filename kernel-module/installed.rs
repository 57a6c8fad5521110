// SPDX-License-Identifier: GPL-2.0

//! A global pointer to a value owned elsewhere, for code that core kernel code calls into
//! (hooks, /proc files, ioctls) and that has no other way to reach the value.

use core::sync::atomic::{AtomicPtr, Ordering};

/// A value made reachable from everywhere between `install` and `uninstall`.
///
/// # Invariants
///
/// `ptr` is null or points at a value that stays valid while any reference `get` returned
/// may still be used (the contract of `install`).
pub(crate) struct Installed<T>(AtomicPtr<T>);

impl<T: Sync> Installed<T> {
    pub(crate) const fn new() -> Self {
        Installed(AtomicPtr::new(core::ptr::null_mut()))
    }

    /// Makes `value` the one `get` returns until `uninstall`.
    ///
    /// # Safety
    ///
    /// `value` stays valid (and where it is) until `uninstall` has been called and every
    /// caller that `get` may have returned it to has finished with it.
    pub(crate) unsafe fn install(&self, value: &T) {
        // INVARIANT: By the caller's guarantee.
        self.0
            .store(core::ptr::from_ref(value).cast_mut(), Ordering::Release);
    }

    /// Forgets the installed value; `get` returns `None` from now on.
    pub(crate) fn uninstall(&self) {
        self.0.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// The installed value, if any.
    pub(crate) fn get(&self) -> Option<&T> {
        let ptr = self.0.load(Ordering::Acquire);
        // SAFETY: By the type invariant `ptr` is null or valid for as long as the reference
        // is used.
        unsafe { ptr.as_ref() }
    }
}
