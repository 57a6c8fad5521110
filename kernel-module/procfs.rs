// SPDX-License-Identifier: GPL-2.0

//! The module's /proc files: `/proc/vz/veinfo`, `/proc/user_beancounters` and `/proc/bc`.

use crate::task::{caller_has_sys_admin, current, TaskExt};
use crate::ve::VeTable;
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::c_str;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::str::{CStr, CString};

/// Text output into a seq_file being shown.
///
/// # Invariants
///
/// The seq_file is that of a show callback running on this thread, for as long as the value
/// lives (it is neither `Send` nor `Sync`).
pub(crate) struct SeqOut(*mut bindings::seq_file);

impl SeqOut {
    /// # Safety
    ///
    /// `m` is the seq_file of a show callback that runs on this thread while the value lives.
    pub(crate) unsafe fn new(m: *mut bindings::seq_file) -> Self {
        // INVARIANT: By the caller's guarantee.
        SeqOut(m)
    }

    /// Writes `path` as the caller sees it (escaping newlines). A path that does not fit marks
    /// the buffer full, so seq_file calls the show again with a larger one.
    pub(crate) fn path(&mut self, path: &bindings::path) {
        // SAFETY: By the type invariant `self.0` is the running show callback's seq_file;
        // `path` is a counted path the caller holds; the escape set is NUL-terminated.
        unsafe { bindings::seq_path(self.0, path, c_str!("\n").as_char_ptr()) };
    }
}

impl core::fmt::Write for SeqOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: By the type invariant `self.0` is the seq_file of the running show callback; `s` is valid for
        // `s.len()` bytes. On overflow seq_file retries the show with a larger buffer.
        let ret = unsafe { bindings::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        if ret == 0 {
            Ok(())
        } else {
            Err(core::fmt::Error)
        }
    }
}

/// `/proc/vz` and the files in it.
///
/// # Invariants
///
/// `dir`, `beancounters`, `fairsched` and `bc` (when set) are proc entries created by `register` and
/// removed (with their files) by `drop`.
pub(crate) struct ProcFiles {
    dir: NonNull<bindings::proc_dir_entry>,
    beancounters: Option<NonNull<bindings::proc_dir_entry>>,
    fairsched: Option<NonNull<bindings::proc_dir_entry>>,
    bc: Option<NonNull<bindings::proc_dir_entry>>,
}

// SAFETY: The entry is only removed in `drop`; procfs does its own locking.
unsafe impl Send for ProcFiles {}
// SAFETY: No methods access the entry.
unsafe impl Sync for ProcFiles {}

/// Who may read a file of the VE table.
#[derive(PartialEq)]
enum Readers {
    /// Everyone, as in OpenVZ (a VE's task still sees only its own entry).
    All,
    /// The host's root and a VE's root (`caller_may_read_counters`).
    Root,
}

/// Shows a file of the VE table: `show` writes it for the caller's VE (0: the host).
///
/// # Safety
///
/// `m` is the seq_file of a show callback running on this thread.
unsafe fn show_table(
    m: *mut bindings::seq_file,
    readers: Readers,
    show: fn(&VeTable, &mut SeqOut, u32) -> core::fmt::Result,
) -> c_int {
    let caller_ve = current().ve_id();
    if readers == Readers::Root && !caller_may_read_counters(caller_ve) {
        return EACCES.to_errno();
    }
    if let Ok(table) = VeTable::get() {
        // SAFETY: By the caller's guarantee.
        let mut out = unsafe { SeqOut::new(m) };
        // A full buffer is not an error: seq_file calls again with a larger one.
        let _ = show(table, &mut out, caller_ve);
    }
    0
}

/// Shows `/proc/vz/veinfo`.
///
/// # Safety
///
/// Called only by seq_file for the file created in `ProcFiles::register`, with its seq_file.
unsafe extern "C" fn veinfo_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    unsafe { show_table(m, Readers::All, VeTable::show_veinfo) }
}

/// Shows `/proc/vz/vestat`.
///
/// # Safety
///
/// As for `veinfo_show`.
unsafe extern "C" fn vestat_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    unsafe { show_table(m, Readers::Root, VeTable::show_vestat) }
}

/// Shows `/proc/vz/vzquota`.
///
/// # Safety
///
/// As for `veinfo_show`.
unsafe extern "C" fn vzquota_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    unsafe { show_table(m, Readers::Root, VeTable::show_vzquota) }
}

/// Shows `/proc/fairsched`.
///
/// # Safety
///
/// As for `veinfo_show`.
unsafe extern "C" fn fairsched_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    unsafe { show_table(m, Readers::All, VeTable::show_fairsched) }
}

/// Shows `/proc/user_beancounters` and `/proc/bc/resources`.
///
/// # Safety
///
/// As for `veinfo_show`.
unsafe extern "C" fn beancounters_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    unsafe { show_table(m, Readers::Root, VeTable::show_beancounters) }
}

/// Shows `/proc/bc/<id>/resources`; the entry's data is the VE id.
///
/// # Safety
///
/// Called only by seq_file for a file created by `create_resources_file`, with its seq_file.
unsafe extern "C" fn resources_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the live seq_file of this show call; single_open stored the entry's
    // data, a VE id and never a pointer to dereference, in `private`.
    let id = u32::try_from(unsafe { (*m).private } as usize).unwrap_or(u32::MAX);
    if !caller_may_read_counters(current().ve_id()) {
        return EACCES.to_errno();
    }
    // SAFETY: `m` is the seq_file of this show call, on this thread.
    let mut out = unsafe { SeqOut::new(m) };
    let shown =
        VeTable::get().and_then(|table| table.show_resources(&mut out, id, current().ve_id()));
    match shown {
        // A full buffer (ENOSPC) is not an error: seq_file calls again with a larger one.
        Ok(()) => 0,
        Err(err) if err == ENOSPC => 0,
        Err(err) => err.to_errno(),
    }
}

/// Who reads the beancounter files: the host's root, and a VE's root (root of the VE's own
/// user namespace, with CAP_SYS_ADMIN over its init's pid namespace), who sees only the VE's
/// rows. The files are mode 0444 so that a VE's root,
/// not the owner of a host root file, may open them; this is the check instead.
fn caller_may_read_counters(caller_ve: u32) -> bool {
    // The host's root, also when it has entered a VE (it then sees the VE's rows).
    if caller_has_sys_admin() {
        return true;
    }
    caller_ve != 0
        && VeTable::get()
            .and_then(|table| table.init_of(caller_ve))
            .is_ok_and(|init| init.caller_is_root_of_its_pidns())
}

/// Creates the read-only file `name` (mode 0444) in `parent` (`None`: /proc itself), shown
/// by `show` with `data` as its private.
fn create_file(
    parent: Option<NonNull<bindings::proc_dir_entry>>,
    name: &CStr,
    show: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
    data: usize,
) -> Result<NonNull<bindings::proc_dir_entry>> {
    let parent = parent.map_or(core::ptr::null_mut(), NonNull::as_ptr);
    // SAFETY: `parent` is null (/proc) or live (callers own it); `name` is NUL-terminated; the
    // show callbacks live as long as the module, which removes every entry before unloading;
    // `data` is an integer the callback reads back, never dereferenced.
    let entry = unsafe {
        bindings::proc_create_single_data(
            name.as_char_ptr(),
            0o444,
            parent,
            Some(show),
            data as *mut c_void,
        )
    };
    NonNull::new(entry).ok_or(ENOMEM)
}

/// Makes directory `name` in `parent` (null: /proc itself).
fn make_dir(
    name: &CStr,
    parent: *mut bindings::proc_dir_entry,
) -> Result<NonNull<bindings::proc_dir_entry>> {
    // SAFETY: `name` is NUL-terminated; `parent` is null or a live entry of this module.
    NonNull::new(unsafe { bindings::proc_mkdir(name.as_char_ptr(), parent) }).ok_or(ENOMEM)
}

/// Makes directory `name` in /proc whose entries every path walk looks up again, as those of
/// /proc/net are: what a task sees there depends on its VE (`proc_visible_hook`), so a dentry
/// one task looked up must not be served from the dcache to another.
fn make_per_ve_dir(name: &CStr) -> Result<NonNull<bindings::proc_dir_entry>> {
    // SAFETY: `name` is NUL-terminated; a null parent means /proc itself, mode 0 the default
    // (0555) and the null data is never read.
    let entry = unsafe {
        bindings::_proc_mkdir(
            name.as_char_ptr(),
            0,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            true,
        )
    };
    NonNull::new(entry).ok_or(ENOMEM)
}

/// `/proc/bc`, where per-VE directories go; set while `ProcFiles` lives.
pub(crate) static BC_DIR: AtomicPtr<bindings::proc_dir_entry> =
    AtomicPtr::new(core::ptr::null_mut());

/// Creates `<dir>/resources` for VE `id` (0: the host).
fn create_resources_file(dir: NonNull<bindings::proc_dir_entry>, id: u32) -> Result {
    // OpenVZ: root only (it also required CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH).
    create_file(Some(dir), c_str!("resources"), resources_show, id as usize)?;
    Ok(())
}

/// A /proc entry of this module, removed (with everything in it) on drop, which may sleep.
///
/// # Invariants
///
/// `entry` is a live proc entry created by this module and removed only in `drop`.
pub(crate) struct ProcEntry {
    entry: NonNull<bindings::proc_dir_entry>,
}

// SAFETY: The entry is only removed in `drop`; procfs does its own locking.
unsafe impl Send for ProcEntry {}

impl ProcEntry {
    /// `/proc/bc/<id>/` with its `resources` file.
    pub(crate) fn ve_resources(id: u32) -> Result<Self> {
        let bc = BC_DIR.load(Ordering::Acquire);
        if bc.is_null() {
            return Err(ENODEV);
        }
        let name = CString::try_from_fmt(kernel::fmt!("{}", id))?;
        // INVARIANT: just created; on error `entry` is dropped, removing it.
        let entry = ProcEntry {
            entry: make_dir(&name, bc)?,
        };
        create_resources_file(entry.entry, id)?;
        Ok(entry)
    }
}

impl Drop for ProcEntry {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the entry is live; this removes it and its children
        // and waits for running show callbacks.
        unsafe { bindings::proc_remove(self.entry.as_ptr()) };
    }
}

impl ProcFiles {
    /// Creates `/proc/vz/veinfo`, `/proc/user_beancounters`, `/proc/bc/resources` and
    /// `/proc/bc/0/resources` (the host).
    pub(crate) fn register() -> Result<Self> {
        // INVARIANT: `dir` was just created.
        let files = ProcFiles {
            dir: make_dir(c_str!("vz"), core::ptr::null_mut())?,
            beancounters: None,
            fairsched: None,
            bc: None,
        };
        create_file(Some(files.dir), c_str!("veinfo"), veinfo_show, 0)?;
        create_file(Some(files.dir), c_str!("vestat"), vestat_show, 0)?;
        create_file(Some(files.dir), c_str!("vzquota"), vzquota_show, 0)?;
        let mut files = files;
        let root = make_per_ve_dir(c_str!("bc"))?;
        files.bc = Some(root);
        create_file(Some(root), c_str!("resources"), beancounters_show, 0)?;
        create_resources_file(make_dir(c_str!("0"), root.as_ptr())?, 0)?;
        files.beancounters = Some(create_file(
            None,
            c_str!("user_beancounters"),
            beancounters_show,
            0,
        )?);
        files.fairsched = Some(create_file(None, c_str!("fairsched"), fairsched_show, 0)?);
        BC_DIR.store(root.as_ptr(), Ordering::Release);
        Ok(files)
    }
}

impl Drop for ProcFiles {
    fn drop(&mut self) {
        BC_DIR.store(core::ptr::null_mut(), Ordering::Release);
        for entry in [Some(self.dir), self.beancounters, self.fairsched, self.bc]
            .into_iter()
            .flatten()
        {
            // SAFETY: By the type invariant these entries are live; this removes each with
            // its files and waits for running show callbacks to finish.
            unsafe { bindings::proc_remove(entry.as_ptr()) };
        }
    }
}
