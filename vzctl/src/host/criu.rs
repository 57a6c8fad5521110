//! Checkpoint and restore on a real host: the cgroup freezer, CRIU, and the module's state.

use super::linux::{open_path, LinuxHost};
use super::{Host, StartPlan};
use crate::cgroup;
use crate::checkpoint::{self, DumpMode, DumpStats, SavedVe};
use crate::device::{ControlDevice, KernelConfig};
use crate::error::VzError;
use crate::net;
use crate::runtime;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vz_abi as abi;

/// How long a freeze may take before it counts as failed.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long CRIU may run before it counts as hung (a VE of some GiB dumps and restores in
/// well under a minute, also under TCG).
const CRIU_TIMEOUT: Duration = Duration::from_secs(120);

/// The cgroup below the VE's in which CRIU restores it: every task CRIU makes starts there
/// (until CRIU moves it into its own cgroup), so a failed restore's cgroup.kill of the VE's
/// tree reaches all of them; a leaf, so that the VE's own cgroup can have controllers.
const CRIU_CGROUP: &str = ".criu";

/// Where a restore stages the VE's root and /dev for CRIU.
const RESTORE_STAGING: &str = "/run/vz/restore";

impl LinuxHost {
    pub(super) fn freeze_ve(
        &self,
        veid: u32,
        frozen: bool,
        addresses: &[Ipv4Addr],
    ) -> Result<(), VzError> {
        self.init_pid(veid)?;
        let link = net::host_link(veid);
        let routed = !addresses.is_empty() && net::link_exists(&link);
        // While frozen, what the host routes to the VE goes to no one (its kernel would
        // acknowledge data the dump does not hold): the host still answers ARP for its
        // addresses and keeps their routes, so senders retry, and reach the VE again once
        // it is thawed, or restored on another host.
        if frozen && routed {
            for &ip in addresses {
                net::divert_neighbour(&link, ip, true)?;
            }
        }
        self.set_frozen(veid, frozen)?;
        if !frozen && routed {
            for &ip in addresses {
                net::divert_neighbour(&link, ip, false)?;
            }
        }
        Ok(())
    }

    /// Writes cgroup.freeze of the VE's cgroup and waits until cgroup.events agrees.
    fn set_frozen(&self, veid: u32, frozen: bool) -> Result<(), VzError> {
        let dir = self.cgroup_dir(veid);
        let value = if frozen { "1" } else { "0" };
        let path = dir.join("cgroup.freeze");
        std::fs::write(&path, value).map_err(|source| VzError::System {
            what: format!("write {value} to {}", path.display()),
            source,
        })?;
        let events = dir.join("cgroup.events");
        let want = format!("frozen {value}");
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&events).map_err(|source| VzError::System {
                what: format!("read {}", events.display()),
                source,
            })?;
            if text.lines().any(|line| line == want) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(VzError::System {
                    what: format!("{}: still not {want}", events.display()),
                    source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(super) fn dump_ve(
        &self,
        veid: u32,
        dir: &Path,
        netdevs: &[String],
        mode: DumpMode,
    ) -> Result<DumpStats, VzError> {
        let init_pid = self.init_pid(veid)?;
        let failed = |reason: String| VzError::ChkpntFailed { veid, reason };
        if let Some(pid) = self.task_outside_init_tree(veid, init_pid) {
            return Err(failed(format!(
                "task {pid} joined it from the host (an open vzctl exec or enter session); CRIU dumps only the tree of the VE's init: end the session first"
            )));
        }
        let log = match mode {
            DumpMode::Final { .. } => {
                self.set_frozen(veid, true)?;
                let state = self.device()?.ve_export(veid)?;
                let saved = SavedVe {
                    dev: dev_entries(&self.proc_dir, init_pid)?,
                    subtree_control: cgroup::subtree_controls(&self.cgroup_dir(veid)),
                    ..SavedVe::from_export(
                        veid,
                        init_pid,
                        &state.counters,
                        &state.devices,
                        &state.addresses,
                        netdevs.to_vec(),
                        self.cgroup_values(veid)?,
                    )
                };
                saved.save(dir)?;
                checkpoint::DUMP_LOG
            }
            DumpMode::Pre { .. } => checkpoint::PRE_DUMP_LOG,
        };
        let argv = checkpoint::criu_dump_args(
            init_pid,
            dir,
            &self.cgroup_dir(veid),
            &format!("/vz/{veid}"),
            mode,
        );
        let status = run_criu(&argv, None).map_err(|e| failed(e.to_string()))?;
        if status != 0 {
            let errors = checkpoint::criu_errors(&dir.join(log));
            return Err(failed(format!(
                "criu {} exited with status {status}{}",
                argv.get(1).map_or("", String::as_str),
                errors.map(|e| format!(": {e}")).unwrap_or_default()
            )));
        }
        DumpStats::read(dir).map_err(failed)
    }

    /// The restore of VE `plan.veid`, created in the kernel and still empty.
    pub(super) fn restore_created(
        &self,
        plan: &StartPlan,
        dir: &Path,
        saved: &SavedVe,
        frozen: bool,
    ) -> Result<(), VzError> {
        let device = self.device()?;
        let veid = plan.veid;
        let failed = |reason: String| VzError::RestoreFailed { veid, reason };
        // Device rules first: the restored tasks reopen the VE's devices under them. The
        // beancounters stay unlimited until every task is back: what the restore itself
        // holds on the way is not the VE's.
        device.ve_import(saved, abi::VE_STATE_DEVPERMS)?;
        let cgroup = cgroup::make_cgroup(&self.cgroup_root, veid, plan.ids)?;
        for (file, value) in &plan.cgroup {
            self.set_cgroup(veid, file, value)?;
        }
        // Then the values the VE had: a host that refuses one (CPUs it lacks) keeps the
        // config's.
        for (file, value) in &saved.cgroup {
            if checkpoint::CGROUP_FILES.contains(&file.as_str()) {
                if let Err(err) = std::fs::write(cgroup.join(file), value) {
                    eprintln!(
                        "CT {veid}: {file} {value} of the dump refused ({err}), kept the config's"
                    );
                }
            }
        }
        let staging = PathBuf::from(RESTORE_STAGING).join(veid.to_string());
        let mounts = runtime::RestoreMounts::attach(
            &staging,
            &plan.root,
            plan.ids,
            &plan.nodes,
            &saved.dev,
            &self.proc_dir,
        )?;
        let has_link = saved.netdevs.iter().any(|name| name == net::VE_LINK);
        let host_link = net::host_link(veid);
        let vzctl = std::env::current_exe().map_err(|source| VzError::System {
            what: "the path of vzctl".into(),
            source,
        })?;
        // The action script reads the dump: the controllers the VE had enabled for its
        // sub-cgroups (systemd's slices) are set again from it (see criu_action).
        let dump = dir.canonicalize().map_err(|source| VzError::System {
            what: format!("resolve {}", dir.display()),
            source,
        })?;
        let action = mounts.write_action(&format!(
            "{} criu-action {veid} --dumpfile '{}'",
            vzctl.display(),
            dump.display().to_string().replace('\'', "'\\''")
        ))?;
        let argv = checkpoint::criu_restore_args(
            dir,
            &mounts,
            &format!("/vz/{veid}"),
            &action,
            has_link.then_some((net::VE_LINK, host_link.as_str())),
            frozen,
        );
        let criu_cgroup = cgroup.join(CRIU_CGROUP);
        std::fs::create_dir_all(&criu_cgroup).map_err(|source| VzError::System {
            what: format!("mkdir {}", criu_cgroup.display()),
            source,
        })?;
        let status = run_criu(&argv, Some(&criu_cgroup)).map_err(|e| failed(e.to_string()))?;
        drop(mounts);
        // Empty once CRIU has ended and moved every task it made into its own cgroup.
        let _ = std::fs::remove_dir(&criu_cgroup);
        if status != 0 {
            let log = dir.join(checkpoint::RESTORE_LOG);
            return Err(failed(format!(
                "criu restore exited with status {status}{}; CRIU's log is {}",
                checkpoint::criu_errors(&log)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                log.display()
            )));
        }
        if self.running(veid)?.is_none_or(|r| r.init_pid <= 0) {
            return Err(failed("criu restored no init into the VE".into()));
        }
        device.ve_import(
            saved,
            abi::VE_STATE_BEANCOUNTERS | abi::VE_STATE_ADDRS | abi::VE_STATE_NETDEVS,
        )?;
        let init_pid = self.init_pid(veid)?;
        runtime::in_namespace(&self.proc_dir, init_pid, runtime::Namespace::Net, || {
            net::delete_inet_table(&saved.network_lock_table())
        })?;
        if has_link {
            self.connect_host_side(veid, &plan.addresses)?;
        }
        let private = open_path(&plan.private)?;
        device.ve_configure(
            veid,
            &KernelConfig {
                cpu_share: Some(plan.cpu_share),
                addresses: Some(&plan.addresses),
                private: Some(private.as_fd()),
            },
        )?;
        if frozen {
            self.set_frozen(veid, true)?;
            self.continue_stopped(veid);
        }
        Ok(())
    }

    /// The values of `CGROUP_FILES` in the VE's cgroup.
    fn cgroup_values(&self, veid: u32) -> Result<Vec<(String, String)>, VzError> {
        checkpoint::CGROUP_FILES
            .iter()
            .map(|file| {
                let path = self.cgroup_dir(veid).join(file);
                std::fs::read_to_string(&path)
                    .map(|value| ((*file).to_owned(), value.trim().to_owned()))
                    .map_err(|source| VzError::System {
                        what: format!("read {}", path.display()),
                        source,
                    })
            })
            .collect()
    }

    /// A task in the VE's cgroup outside its init's pid namespace: the waiting side of a
    /// `vzctl exec` or `enter`, whose command (a child of it) is no descendant of the init.
    fn task_outside_init_tree(&self, veid: u32, init_pid: i32) -> Option<i32> {
        let pidns = |pid: i32| std::fs::read_link(self.proc_dir.join(format!("{pid}/ns/pid"))).ok();
        let ve_pidns = pidns(init_pid)?;
        cgroup::tasks(&self.cgroup_dir(veid))
            .into_iter()
            .find(|&pid| pidns(pid).is_some_and(|ns| ns != ve_pidns))
    }

    /// Continues the tasks CRIU left stopped (`--leave-stopped`) in the frozen VE: they go
    /// on where they were once it is thawed.
    fn continue_stopped(&self, veid: u32) {
        for pid in cgroup::tasks(&self.cgroup_dir(veid)) {
            // SAFETY: kill(2) with a pid and a signal touches no memory.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

/// Runs CRIU with `argv` on the host, its stdio on /dev/null (it writes everything to its
/// log), in cgroup `cgroup` if given; its exit status. CRIU that has not ended after
/// `CRIU_TIMEOUT` (it can wait forever on a restored task that died of a damaged image) is
/// killed: an error, whose leftovers the caller's cleanup removes.
fn run_criu(argv: &[String], cgroup: Option<&Path>) -> Result<i32, VzError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| VzError::InvalidValue("no program".into()))?;
    let procs = cgroup
        .map(|dir| std::ffi::CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()))
        .transpose()
        .map_err(|_| VzError::InvalidValue("a cgroup path with a NUL byte".into()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(procs) = procs {
        // SAFETY: Between fork and exec the closure only calls open, write and close (vzctl
        // is single-threaded, and the path was made before the fork).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, c"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().map_err(|source| VzError::System {
        what: format!("run {program}"),
        source,
    })?;
    let deadline = Instant::now() + CRIU_TIMEOUT;
    loop {
        let ended = child.try_wait().map_err(|source| VzError::System {
            what: format!("wait for {program}"),
            source,
        })?;
        if let Some(status) = ended {
            return Ok(status.code().unwrap_or(128));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(VzError::System {
                what: format!(
                    "{program} did not end in {} s, killed",
                    CRIU_TIMEOUT.as_secs()
                ),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The directories and links of the VE's /dev, as its init sees it, walked from the host
/// without following any link (the VE's root may have placed them anywhere), on /dev's own
/// filesystem only, within `DEV_ENTRIES_MAX` and `DEV_DEPTH_MAX`.
fn dev_entries(proc_dir: &Path, init_pid: i32) -> Result<Vec<checkpoint::DevEntry>, VzError> {
    use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
    use nix::sys::stat::{fstatat, Mode, SFlag};
    let failed = |what: &str, source: std::io::Error| VzError::System {
        what: format!("the VE's /dev: {what}"),
        source,
    };
    let root = std::fs::File::open(proc_dir.join(format!("{init_pid}/root")))
        .map_err(|e| failed("open its root", e))?;
    let dev = crate::mounts::open_in_root(root.as_fd(), Path::new("dev"), libc::O_DIRECTORY)
        .map_err(|e| failed("open", e))?;
    let dev_fs = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&dev))
        .map_err(|e| failed("stat", e.into()))?
        .st_dev;
    let mut entries = Vec::new();
    let mut dirs = vec![(dev, PathBuf::new(), 0usize)];
    while let Some((fd, rel, depth)) = dirs.pop() {
        let mut dir = nix::dir::Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(fd))
            .map_err(|e| failed("read", e.into()))?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&dir);
        let names: Vec<std::ffi::CString> = dir
            .iter()
            .flatten()
            .map(|entry| entry.file_name().to_owned())
            .filter(|name| name.as_bytes() != b"." && name.as_bytes() != b"..")
            .collect();
        for name in names {
            if entries.len() >= checkpoint::DEV_ENTRIES_MAX {
                return Ok(entries);
            }
            let Ok(stat) = fstatat(Some(raw), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            let path = rel.join(std::ffi::OsStr::from_bytes(name.as_bytes()));
            match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFDIR => {
                    entries.push(checkpoint::DevEntry {
                        path: path.clone(),
                        link: None,
                    });
                    // Not into another filesystem (devpts, mqueue): only its mount point.
                    if stat.st_dev == dev_fs && depth + 1 < checkpoint::DEV_DEPTH_MAX {
                        let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                        if let Ok(sub) = openat(Some(raw), name.as_c_str(), flags, Mode::empty()) {
                            // SAFETY: openat returned a new descriptor that nothing else owns.
                            let sub = unsafe { std::os::fd::OwnedFd::from_raw_fd(sub) };
                            dirs.push((sub, path, depth + 1));
                        }
                    }
                }
                SFlag::S_IFLNK => {
                    if let Ok(target) = readlinkat(Some(raw), name.as_c_str()) {
                        entries.push(checkpoint::DevEntry {
                            path,
                            link: Some(PathBuf::from(target)),
                        });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(entries)
}
