//! Restoring a VE with CRIU: the mounts it restores the VE onto, and running it inside the VE.
//!
//! CRIU recreates the VE's namespaces, mounts and tasks itself. Two mounts it cannot make
//! as the start does: the VE's root is an idmapped mount (CRIU 3.17 knows nothing of
//! idmapping and bind-mounts its `--root` as it finds it), and its /dev is a tmpfs made in
//! the host's user namespace (one made in the VE's could hold no usable device node). vzctl
//! makes both as for a start and attaches them under a staging directory, where CRIU
//! bind-mounts them into the restored mount namespace (`--root`, and /dev as an external
//! mount); the staging copies are detached again once CRIU is done.
//!
//! CRIU runs on the host: not bound by the VE's device rules or beancounters, nor by what
//! the kernel refuses a VE's tasks (it writes the VE's hostname sysctl and decodes file
//! handles for it). It moves each task it restores into the task's cgroup in the VE's tree.
//! Its action script (`vzctl criu-action`) moves the restored root into the VE before it
//! forks anything (`VZCTL_VE_ATTACH`): every other restored task inherits the VE.

use super::dev::make_dev;
use super::fork::{close_in_child, fork_reporting, host_error};
use super::Step;
use crate::checkpoint::DevEntry;
use crate::device_rules::Rule;
use crate::error::VzError;
use crate::idmap::IdMap;
use crate::mounts;
use nix::mount::{umount2, MntFlags};
use nix::sched::{unshare, CloneFlags};
use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The root and /dev of a VE being restored, attached under a staging directory; detached
/// and removed when dropped.
pub struct RestoreMounts {
    dir: PathBuf,
}

impl RestoreMounts {
    /// Attaches under `dir` (made here) the VE's root at `root` idmapped with `ids`, and a
    /// fresh /dev with the DEVNODES `nodes` and the directories and links `entries` the VE
    /// had made there.
    pub fn attach(
        dir: &Path,
        root: &Path,
        ids: IdMap,
        nodes: &[(String, Rule)],
        entries: &[DevEntry],
        proc_dir: &Path,
    ) -> Result<RestoreMounts, VzError> {
        let failed = |what: String, source: std::io::Error| VzError::System { what, source };
        // A staging directory left by a killed vzctl is detached and made again.
        let staged = RestoreMounts {
            dir: dir.to_owned(),
        };
        staged.detach();
        for sub in ["root", "dev"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path)
                .map_err(|e| failed(format!("mkdir {}", path.display()), e))?;
        }
        let userns = userns_with(ids, proc_dir)?;
        let root_mount = mounts::clone_mount(root)
            .map_err(|e| failed(format!("clone {}", root.display()), e))?;
        mounts::idmap(&root_mount, &userns)
            .map_err(|e| failed(format!("idmap {}", root.display()), e))?;
        mounts::attach(&root_mount, &staged.root())
            .map_err(|e| failed(format!("attach {}", staged.root().display()), e))?;
        // CRIU's cgroup yard, mounted here rather than by CRIU in the dump directory, where
        // a CRIU killed midway would leave it.
        let unified = staged.yard().join("unified");
        fs::create_dir_all(&unified)
            .map_err(|e| failed(format!("mkdir {}", unified.display()), e))?;
        nix::mount::mount(
            Some("cgroup2"),
            &unified,
            Some("cgroup2"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| failed(format!("mount cgroup2 on {}", unified.display()), e.into()))?;
        let dev = make_dev(ids, nodes).map_err(host_error)?;
        remake_entries(&dev, entries, (ids.uid, ids.gid))
            .map_err(|e| failed("remake the VE's /dev".into(), e))?;
        mounts::attach(&dev, &staged.dev())
            .map_err(|e| failed(format!("attach {}", staged.dev().display()), e))?;
        Ok(staged)
    }

    /// CRIU's `--root`.
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    /// The VE's new /dev, for CRIU's external mount.
    pub fn dev(&self) -> PathBuf {
        self.dir.join("dev")
    }

    /// CRIU's cgroup yard (`--cgroup-yard`): the cgroup2 tree mounted at `unified` in it.
    pub fn yard(&self) -> PathBuf {
        self.dir.join("yard")
    }

    /// Where CRIU writes the restored root's host pid.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("init.pid")
    }

    /// Writes CRIU's action script beside the mounts: a shell script running `command`
    /// (CRIU runs an action script as a program, without arguments).
    pub fn write_action(&self, command: &str) -> Result<PathBuf, VzError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("action");
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o700)
                .open(&path)?;
            std::io::Write::write_all(&mut file, format!("#!/bin/sh\nexec {command}\n").as_bytes())
        };
        write().map_err(|source| VzError::System {
            what: format!("write {}", path.display()),
            source,
        })?;
        Ok(path)
    }

    fn detach(&self) {
        for path in [
            self.dev(),
            self.root(),
            self.yard().join("unified"),
            self.yard(),
        ] {
            while umount2(&path, MntFlags::MNT_DETACH).is_ok() {}
            let _ = fs::remove_dir(&path);
        }
        let _ = fs::remove_file(self.dir.join("action"));
        let _ = fs::remove_file(self.pidfile());
        let _ = fs::remove_dir(&self.dir);
    }
}

impl Drop for RestoreMounts {
    fn drop(&mut self) {
        self.detach();
    }
}

/// Makes `entries` (directories and links, paths below /dev) in the new /dev `dev`, owned
/// by the VE's root `owner`. Each path is resolved inside `dev` (openat2, no link followed
/// and no `..` above it): a dump names nothing outside. Those the new /dev has already are
/// kept.
fn remake_entries(
    dev: &std::os::fd::OwnedFd,
    entries: &[DevEntry],
    owner: (u32, u32),
) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    for entry in entries.iter().take(crate::checkpoint::DEV_ENTRIES_MAX) {
        let Some(link) = &entry.link else {
            mounts::make_dirs_in_root(dev.as_fd(), &entry.path, owner)?;
            continue;
        };
        let (Some(parent), Some(name)) = (entry.path.parent(), entry.path.file_name()) else {
            continue;
        };
        let parent = mounts::make_dirs_in_root(dev.as_fd(), parent, owner)?;
        match nix::unistd::symlinkat(link.as_path(), Some(parent.as_raw_fd()), name) {
            Ok(()) => mounts::chown_at(parent.as_raw_fd(), Path::new(name), owner)?,
            Err(nix::errno::Errno::EEXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

/// A user namespace mapping the VE's ids as its own does, for idmapping a mount the same
/// way before the VE's own namespace exists: a child unshares it and waits while vzctl
/// writes its maps and opens it.
fn userns_with(ids: IdMap, proc_dir: &Path) -> Result<File, VzError> {
    let (hold_r, hold_w) = nix::unistd::pipe().map_err(|e| VzError::system("pipe", e))?;
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(|e| VzError::system("pipe", e))?;
    let child = fork_reporting(|| {
        close_in_child(&[hold_w.as_raw_fd(), ready_r.as_raw_fd()]);
        unshare(CloneFlags::CLONE_NEWUSER).map_err(Step::UnshareUser.failed())?;
        close_in_child(&[ready_w.as_raw_fd()]);
        // Until vzctl closes its end: it has opened the namespace by then.
        let _ = nix::unistd::read(hold_r.as_raw_fd(), &mut [0u8]);
        Ok(0)
    })
    .map_err(host_error)?;
    drop(hold_r);
    drop(ready_w);
    // End of file once the child has unshared (or failed).
    let _ = File::from(ready_r).read(&mut [0u8]);
    let entry = proc_dir.join(child.pid.to_string());
    let opened = (|| {
        for (file, map) in [("uid_map", ids.uid_map()), ("gid_map", ids.gid_map())] {
            let path = entry.join(file);
            fs::write(&path, map).map_err(|source| VzError::System {
                what: format!("write {}", path.display()),
                source,
            })?;
        }
        let path = entry.join("ns/user");
        File::open(&path).map_err(|source| VzError::System {
            what: format!("open {}", path.display()),
            source,
        })
    })();
    drop(hold_w);
    let (_, report) = child.wait().map_err(host_error)?;
    if let Some(err) = report {
        return Err(host_error(err));
    }
    opened
}
