// SPDX-License-Identifier: GPL-2.0

//! A VE's private area as the root of its disk quota, for /proc/vz/vzquota: a counted path,
//! and the project quota (project id = VE id) of its filesystem.

use crate::procfs::SeqOut;
use kernel::bindings;
use kernel::prelude::*;

/// Space (bytes) and inodes a project uses, with its limits (0: none).
pub(crate) struct Quota {
    pub(crate) space: u64,
    pub(crate) space_soft: u64,
    pub(crate) space_hard: u64,
    /// When the soft space limit was exceeded for longer than its grace time, seconds since
    /// the epoch; 0 if it is not.
    pub(crate) space_timer: u64,
    pub(crate) inodes: u64,
    pub(crate) inodes_soft: u64,
    pub(crate) inodes_hard: u64,
    pub(crate) inodes_timer: u64,
}

/// A VE's private area.
///
/// # Invariants
///
/// `path` holds a reference (`path_get`), dropped in `drop`, which may sleep: the value lives
/// in the VE table's admin tree, which is changed only in process context.
pub(crate) struct QuotaRoot {
    path: bindings::path,
}

// SAFETY: A counted path may be used and put from any thread in process context.
unsafe impl Send for QuotaRoot {}

impl QuotaRoot {
    /// The directory open as the caller's `fd`.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `fget_raw` looks the descriptor up in the current task's table and returns a
        // counted file or null; unlike `fget` it also takes `O_PATH` descriptors.
        let file = unsafe { bindings::fget_raw(fd) };
        if file.is_null() {
            return Err(EBADF);
        }
        // SAFETY: `file` is counted until the `fput` below; its path is valid while it is, and
        // `path_get` takes references of our own on its mount and dentry.
        let path = unsafe {
            let path = (*file).f_path;
            bindings::path_get(&path);
            bindings::fput(file);
            path
        };
        // INVARIANT: `path_get` was called above.
        Ok(QuotaRoot { path })
    }

    /// Project `project`'s quota on the private area's filesystem. May sleep.
    pub(crate) fn read(&self, project: u32) -> Result<Quota> {
        let mut dq = bindings::qc_dqblk::default();
        // SAFETY: `self.path` is a counted path (type invariant); the function only reads it
        // and writes `dq`.
        kernel::error::to_result(unsafe { bindings::vz_quota_read(&self.path, project, &mut dq) })?;
        let time = |t: i64| u64::try_from(t).unwrap_or(0);
        Ok(Quota {
            space: dq.d_space,
            space_soft: dq.d_spc_softlimit,
            space_hard: dq.d_spc_hardlimit,
            space_timer: time(dq.d_spc_timer),
            inodes: dq.d_ino_count,
            inodes_soft: dq.d_ino_softlimit,
            inodes_hard: dq.d_ino_hardlimit,
            inodes_timer: time(dq.d_ino_timer),
        })
    }

    /// Writes the private area's path, as the host sees it.
    pub(crate) fn show_path(&self, out: &mut SeqOut) {
        out.path(&self.path);
    }
}

impl Drop for QuotaRoot {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the path holds our reference; this drops it.
        unsafe { bindings::path_put(&self.path) };
    }
}
