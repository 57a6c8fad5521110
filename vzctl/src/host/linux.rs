//! [`LinuxHost`]: the [`Host`] of a real machine, exercised by the VM suite.

use super::{Host, Running, StartPlan};
use crate::cgroup;
use crate::device::{ControlDevice, KernelConfig, Vzctl};
use crate::device_rules::Rule;
use crate::error::VzError;
use crate::net;
use crate::quota::{self, DiskLimits};
use crate::runtime;
use std::cell::OnceCell;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a stop waits for the kernel to finish removing the VE's deleted link.
const LINK_GONE_TIMEOUT: Duration = Duration::from_secs(10);

/// Host-wide settings every start makes sure of:
/// - the kernel log is the host's: without CAP_SYSLOG a VE then cannot read it;
/// - a VE's network namespace gets no fallback tunnel devices (sit0 and the like, a device
///   with its IPv6 state each, which no VE uses: its link is venet0); the host keeps its own.
const HOST_SETTINGS: [(&str, &str); 2] = [
    ("sys/kernel/dmesg_restrict", "1"),
    ("sys/net/core/fb_tunnels_only_for_init_net", "1"),
];

/// Sleeps between the polls of a wait: 1 ms first, doubling up to 50 ms, so that what ends
/// at once (a killed VE's tasks, a deleted link) is seen at once, and a long wait wakes
/// rarely.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(1);
    const MOST: Duration = Duration::from_millis(50);

    fn new() -> Self {
        Backoff(Self::FIRST)
    }

    fn sleep(&mut self) {
        std::thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Self::MOST);
    }
}

/// The real host: the control device, the cgroup tree and /proc.
pub struct LinuxHost {
    device: OnceCell<Vzctl>,
    pub(super) cgroup_root: PathBuf,
    pub(super) proc_dir: PathBuf,
}

impl LinuxHost {
    pub fn new(cgroup_root: PathBuf, proc_dir: PathBuf) -> Self {
        LinuxHost {
            device: OnceCell::new(),
            cgroup_root,
            proc_dir,
        }
    }

    /// The control device, opened on first use (create and destroy never need it).
    pub(super) fn device(&self) -> Result<&Vzctl, VzError> {
        if let Some(device) = self.device.get() {
            return Ok(device);
        }
        let device = crate::trace::timed("open /dev/vzctl", Vzctl::open)?;
        Ok(self.device.get_or_init(|| device))
    }

    /// The caller's /proc/self/mountinfo.
    fn mountinfo(&self) -> Result<String, VzError> {
        let path = self.proc_dir.join("self/mountinfo");
        std::fs::read_to_string(&path).map_err(|e| VzError::System {
            what: format!("read {}", path.display()),
            source: e,
        })
    }

    pub(super) fn cgroup_dir(&self, veid: u32) -> PathBuf {
        self.cgroup_root.join("vz").join(veid.to_string())
    }

    /// Kills every task of the VE (its init's pid namespace takes the rest with it, its
    /// cgroup the tasks that joined it from outside, such as the waiting side of a `vzctl
    /// exec`), waits until none is left, then removes the VE from the kernel and its cgroup.
    /// A frozen VE dies as it is (a fatal signal ends a frozen task): nothing in it runs
    /// again after a checkpoint.
    pub(super) fn tear_down(&self, veid: u32) -> Result<(), VzError> {
        let _phase = crate::trace::phase("tear down");
        let device = self.device()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        // The links of the host stop answering for the VE's addresses.
        if let Ok(state) = device.ve_export(veid) {
            net::publish(&crate::checkpoint::ipv4_addresses(&state.addresses), false);
        }
        // A frozen VE was dumped (or is migrating): its peers must not hear its sockets
        // close (a reset would end the connections its restored copy carries on), so it
        // loses its link before its tasks die; its closed connections then give up their
        // unanswerable FINs after one retry, not the default eight (minutes during which
        // they hold the VE's network namespace and the module).
        if self.is_frozen(veid) {
            if let Ok(init_pid) = self.init_pid(veid) {
                let _ = runtime::in_namespace(
                    &self.proc_dir,
                    init_pid,
                    runtime::Namespace::Net,
                    || net::sysctl(&self.proc_dir, "tcp_orphan_retries", "1"),
                );
            }
            self.disconnect(veid)?;
        }
        let killing = crate::trace::phase("kill its tasks");
        let mut backoff = Backoff::new();
        while let Some(running) = self.running(veid)? {
            if running.init_pid > 0 {
                // SAFETY: kill(2) with a pid and a signal touches no memory.
                unsafe { libc::kill(running.init_pid, libc::SIGKILL) };
            }
            self.kill_cgroup(veid);
            if Instant::now() > deadline {
                return Err(VzError::StopFailed {
                    veid,
                    reason: format!("{} tasks still alive after SIGKILL", running.nproc),
                });
            }
            backoff.sleep();
        }
        drop(killing);
        // Tasks in its cgroup tree that never were the VE's (what a failed restore's CRIU
        // made before it attached the VE's root) go too.
        while self.cgroup_populated(veid) {
            self.kill_cgroup(veid);
            if Instant::now() > deadline {
                return Err(VzError::StopFailed {
                    veid,
                    reason: "tasks left in its cgroup after SIGKILL".into(),
                });
            }
            backoff.sleep();
        }
        if matches!(device.ve_info(veid), Ok(Some(_))) {
            crate::trace::timed("remove the VE from the kernel", || device.ve_destroy(veid))?;
        }
        crate::trace::timed("delete its link", || self.disconnect(veid))?;
        crate::trace::timed("remove its cgroup", || {
            cgroup::remove_cgroup(&self.cgroup_root, veid)
        })
    }

    /// Creates VE `veid` in the kernel (replacing one that a crashed vzctl left without
    /// tasks) and sets it up with `setup` (a start or a restore); a failed setup removes the
    /// VE and whatever it had again.
    pub(super) fn create_ve(
        &self,
        veid: u32,
        setup: impl FnOnce() -> Result<(), VzError>,
    ) -> Result<(), VzError> {
        let device = self.device()?;
        if matches!(device.ve_info(veid), Ok(Some(_))) {
            self.tear_down(veid)?;
        }
        crate::trace::timed("create the VE in the kernel", || device.ve_create(veid))?;
        let done = setup();
        if done.is_err() {
            let _ = self.tear_down(veid);
        }
        done
    }

    /// Deletes the VE's link pair and waits until the host end is gone (its routes go with
    /// it), so that a start right after finds no leftover.
    fn disconnect(&self, veid: u32) -> Result<(), VzError> {
        let host = net::host_link(veid);
        let deadline = Instant::now() + LINK_GONE_TIMEOUT;
        let mut backoff = Backoff::new();
        loop {
            net::delete_link(&host)?;
            if !net::link_exists(&host) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(VzError::StopFailed {
                    veid,
                    reason: format!(
                        "{host} still present {} s after it was deleted",
                        LINK_GONE_TIMEOUT.as_secs()
                    ),
                });
            }
            backoff.sleep();
        }
    }

    /// Where a command entering the VE goes: the VE's init, its namespaces and its cgroup.
    fn inside(&self, veid: u32) -> Result<(i32, PathBuf), VzError> {
        let init_pid = self.init_pid(veid)?;
        Ok((init_pid, self.init_cgroup(veid, init_pid)))
    }

    /// Runs `argv` in the running VE with `how` (pipes, a pty, or quietly); its exit status.
    fn run_command(
        &self,
        veid: u32,
        argv: &[String],
        how: fn(&Vzctl, &runtime::Inside, &[String]) -> Result<i32, VzError>,
    ) -> Result<i32, VzError> {
        let (init_pid, cgroup) = crate::trace::timed("find its init", || self.inside(veid))?;
        how(
            self.device()?,
            &runtime::Inside {
                veid,
                init_pid,
                cgroup: &cgroup,
                proc_dir: &self.proc_dir,
            },
            argv,
        )
    }

    /// The cgroup of the VE's init: the VE's own, or the sub-cgroup of it that the init moved
    /// to (systemd's init.scope). Anything else falls back to the VE's cgroup.
    fn init_cgroup(&self, veid: u32, init_pid: i32) -> PathBuf {
        let ve_cgroup = self.cgroup_dir(veid);
        let text = std::fs::read_to_string(self.proc_dir.join(format!("{init_pid}/cgroup")))
            .unwrap_or_default();
        let prefix = format!("/vz/{veid}");
        text.lines()
            .find_map(|line| line.strip_prefix("0::"))
            .filter(|path| {
                (*path == prefix || path.starts_with(&format!("{prefix}/")))
                    && !path.split('/').any(|part| part == "..")
            })
            .map_or(ve_cgroup, |path| {
                self.cgroup_root.join(path.trim_start_matches('/'))
            })
    }

    /// The host uid and gid of the running VE's root, from its init's id maps.
    fn root_ids(&self, init_pid: i32) -> Result<(u32, u32), VzError> {
        let first_host_id = |file: &str| -> Result<u32, VzError> {
            let path = self.proc_dir.join(format!("{init_pid}/{file}"));
            let text = std::fs::read_to_string(&path).map_err(|source| VzError::System {
                what: format!("read {}", path.display()),
                source,
            })?;
            text.split_whitespace()
                .nth(1)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| VzError::System {
                    what: format!("{}: no mapping", path.display()),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidData),
                })
        };
        Ok((first_host_id("uid_map")?, first_host_id("gid_map")?))
    }

    pub(super) fn init_pid(&self, veid: u32) -> Result<i32, VzError> {
        self.running(veid)?
            .map(|r| r.init_pid)
            .filter(|&pid| pid > 0)
            .ok_or(VzError::NotRunning(veid))
    }

    /// Gives the VE its venet0 (the VE end of a new veth pair) and routes `addresses` to it.
    pub(super) fn connect(&self, veid: u32, addresses: &[Ipv4Addr]) -> Result<(), VzError> {
        let (host, peer) = (net::host_link(veid), net::peer_link(veid));
        // A link of this VE left by a host crash or an older vzctl would make the pair
        // creation fail with EEXIST.
        net::delete_link(&host)?;
        net::create_pair(&host, &peer)?;
        self.device()?.netdev(veid, vz_abi::NETDEV_ADD, &peer)?;
        let init_pid = self.init_pid(veid)?;
        runtime::in_namespace(&self.proc_dir, init_pid, runtime::Namespace::Net, || {
            net::rename(&peer, net::VE_LINK)?;
            net::set_up("lo")?;
            net::set_up(net::VE_LINK)?;
            for &ip in addresses {
                net::address(net::VE_LINK, ip, true)?;
            }
            net::route(net::VE_LINK, None, true)
        })?;
        self.connect_host_side(veid, addresses)
    }

    /// The host's side of the VE's link `venet<CTID>`, which exists: up, proxy ARP, reverse
    /// path filter, no IPv6, forwarding, and a route to each of `addresses`.
    pub(super) fn connect_host_side(
        &self,
        veid: u32,
        addresses: &[Ipv4Addr],
    ) -> Result<(), VzError> {
        let host = net::host_link(veid);
        net::set_up(&host)?;
        // The host answers ARP on the VE's link for what it can reach, and forwards for it.
        net::sysctl(&self.proc_dir, &format!("conf/{host}/proxy_arp"), "1")?;
        // Strict reverse-path filtering: a packet from the VE is taken only when its source
        // is routed back to this link, i.e. is one of the VE's own addresses (venet's
        // anti-spoofing). The VE end has no IPv6: nothing else leaves it unfiltered.
        net::sysctl(&self.proc_dir, &format!("conf/{host}/rp_filter"), "1")?;
        let ipv6 = self
            .proc_dir
            .join(format!("sys/net/ipv6/conf/{host}/disable_ipv6"));
        if ipv6.exists() {
            std::fs::write(&ipv6, "1").map_err(|source| VzError::System {
                what: format!("write 1 to {}", ipv6.display()),
                source,
            })?;
        }
        net::sysctl(&self.proc_dir, "ip_forward", "1")?;
        for &ip in addresses {
            net::route(&host, Some(ip), true)?;
        }
        net::publish(addresses, true);
        Ok(())
    }

    /// Whether the VE's cgroup is frozen (a checkpoint's suspend).
    fn is_frozen(&self, veid: u32) -> bool {
        std::fs::read_to_string(self.cgroup_dir(veid).join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|line| line == "frozen 1"))
    }

    /// Whether the VE's cgroup tree has a task.
    fn cgroup_populated(&self, veid: u32) -> bool {
        std::fs::read_to_string(self.cgroup_dir(veid).join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|line| line == "populated 1"))
    }

    /// Kills every task in the VE's cgroup, its init's pid namespace or not.
    fn kill_cgroup(&self, veid: u32) {
        let _ = std::fs::write(self.cgroup_dir(veid).join("cgroup.kill"), "1");
    }
}

impl Host for LinuxHost {
    fn running(&self, veid: u32) -> Result<Option<Running>, VzError> {
        let _phase = crate::trace::phase("ask the kernel whether it runs");
        Ok(self
            .device()?
            .ve_info(veid)?
            .filter(|info| info.nproc > 0)
            .map(|info| Running {
                init_pid: info.init_pid,
                nproc: info.nproc,
            }))
    }

    fn is_mounted(&self, root: &Path) -> Result<bool, VzError> {
        let _phase = crate::trace::phase("is its root mounted");
        match crate::mounts::is_mount_root(root) {
            Ok(Some(mounted)) => Ok(mounted),
            // The kernel does not say: the mount table does.
            Ok(None) => Ok(crate::procfs::is_mounted(&self.mountinfo()?, root)),
            Err(source) => Err(VzError::System {
                what: format!("statx {}", root.display()),
                source,
            }),
        }
    }

    fn mount(&self, private: &Path, root: &Path) -> Result<(), VzError> {
        runtime::mount_private(private, root)
    }

    fn umount(&self, root: &Path) -> Result<(), VzError> {
        runtime::umount_private(root)
    }

    fn unpack(&self, tarball: &Path, into: &Path) -> Result<(), VzError> {
        let compression = if tarball.to_string_lossy().ends_with(".xz") {
            "-J"
        } else {
            "-z"
        };
        let parent = std::process::id();
        let mut tar = Command::new("tar");
        tar.arg(compression)
            .arg("-xpf")
            .arg(tarball)
            .arg("-C")
            .arg(into);
        // SAFETY: The closure only makes async-signal-safe calls (prctl, getppid) between
        // fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut tar, move || {
                // tar dies with vzctl: a killed create leaves nothing writing into the
                // partial area.
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                    || u32::try_from(libc::getppid()).ok() != Some(parent)
                {
                    return Err(std::io::Error::from(std::io::ErrorKind::Interrupted));
                }
                Ok(())
            });
        }
        let output = tar.output().map_err(|e| VzError::System {
            what: "run tar".into(),
            source: e,
        })?;
        if !output.status.success() {
            return Err(VzError::TemplateUnpack {
                template: tarball.to_owned(),
                reason: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    fn start(&self, plan: &StartPlan) -> Result<(), VzError> {
        let device = self.device()?;
        for (setting, value) in HOST_SETTINGS {
            let path = self.proc_dir.join(setting);
            std::fs::write(&path, value).map_err(|source| VzError::System {
                what: format!("write {value} to {}", path.display()),
                source,
            })?;
        }
        self.create_ve(plan.veid, || {
            let limits = crate::trace::phase("device rules and beancounters");
            for rule in plan.devices.iter().chain(plan.nodes.iter().map(|(_, r)| r)) {
                device.set_devperm(rule.for_ve(plan.veid))?;
            }
            for &(resource, barrier, limit) in &plan.ubc {
                device.ub_set(plan.veid, resource, barrier, limit)?;
            }
            drop(limits);
            let cgroups = crate::trace::phase("make its cgroup");
            let cgroup = cgroup::make_cgroup(&self.cgroup_root, plan.veid, plan.ids)?;
            for (file, value) in &plan.cgroup {
                self.set_cgroup(plan.veid, file, value)?;
            }
            drop(cgroups);
            let init = crate::trace::phase("start its init");
            runtime::start_init(
                device,
                &runtime::InitSpec {
                    veid: plan.veid,
                    root: &plan.root,
                    cgroup: &cgroup,
                    hostname: plan.hostname.as_deref(),
                    nodes: &plan.nodes,
                    ids: plan.ids,
                    proc_dir: &self.proc_dir,
                },
            )?;
            drop(init);
            // physpages goes to the memory cgroup of the VE's init, which exists only now.
            for &(resource, barrier, limit) in &plan.ubc {
                if resource == vz_abi::UB_PHYSPAGES {
                    device.ub_set(plan.veid, resource, barrier, limit)?;
                }
            }
            if !plan.addresses.is_empty() {
                crate::trace::timed("connect its network", || {
                    self.connect(plan.veid, &plan.addresses)
                })?;
            }
            let _configure = crate::trace::phase("configure the VE in the kernel");
            let private = open_path(&plan.private)?;
            device.ve_configure(
                plan.veid,
                &KernelConfig {
                    cpu_share: Some(plan.cpu_share),
                    addresses: Some(&plan.addresses),
                    private: Some(private.as_fd()),
                },
            )
        })
    }

    fn stop(&self, veid: u32, fast: bool, timeout: Duration) -> Result<(), VzError> {
        if !fast {
            // As OpenVZ: halt inside; the VE's init then ends and its pid namespace with it.
            let _ = self.run_command(veid, &["halt".to_string()], runtime::run_inside_quietly);
            let deadline = Instant::now() + timeout;
            let mut backoff = Backoff::new();
            while self.running(veid)?.is_some_and(|r| r.init_pid > 0) && Instant::now() < deadline {
                backoff.sleep();
            }
        }
        self.tear_down(veid)
    }

    fn run(&self, veid: u32, argv: &[String]) -> Result<i32, VzError> {
        self.run_command(veid, argv, runtime::run_inside)
    }

    fn enter(&self, veid: u32, argv: &[String]) -> Result<i32, VzError> {
        self.run_command(veid, argv, runtime::enter_pty)
    }

    fn set_ubc(&self, veid: u32, resource: u32, barrier: u64, limit: u64) -> Result<(), VzError> {
        self.device()?.ub_set(veid, resource, barrier, limit)
    }

    fn disk_quota(
        &self,
        veid: u32,
        private: &Path,
        limits: &DiskLimits,
        assign: bool,
    ) -> Result<(), VzError> {
        let failed = |reason: String| VzError::QuotaFailed { veid, reason };
        // Found by its id, reading the mount table only as far as its line (the filesystem of
        // the private areas is mounted before any VE's root): not a line per running VE.
        let id = crate::mounts::mount_id_of(private)
            .map_err(|e| failed(format!("stat {}: {e}", private.display())))?;
        let mount = crate::procfs::first_mount(|entry| entry.mount_id == id)
            .map_err(|e| failed(format!("read /proc/self/mountinfo: {e}")))?
            .ok_or_else(|| failed(format!("no filesystem holds {}", private.display())))?;
        if !mount.prjquota() {
            return Err(failed(format!(
                "{} is not mounted with prjquota (an ext4 made with -O quota,project), or set \
                 DISK_QUOTA=no in vz.conf",
                mount.mount_point.display()
            )));
        }
        if assign {
            quota::assign_project(private, veid).map_err(|e| failed(e.to_string()))?;
        }
        quota::set_limits(&mount.source, veid, limits).map_err(|e| failed(e.to_string()))
    }

    fn set_device(&self, veid: u32, rule: &Rule, node: Option<&str>) -> Result<(), VzError> {
        self.device()?.set_devperm(rule.for_ve(veid))?;
        if let Some(name) = node {
            let init_pid = self.init_pid(veid)?;
            let owner = self.root_ids(init_pid)?;
            runtime::in_namespace(&self.proc_dir, init_pid, runtime::Namespace::Mount, || {
                let fail = |e: String| VzError::System {
                    what: format!("CT {veid}"),
                    source: std::io::Error::other(e),
                };
                // The VE's root owns its /, so /dev itself must not be a link.
                let dev = std::fs::File::open("/").and_then(|root| {
                    crate::mounts::open_in_root(
                        std::os::fd::AsFd::as_fd(&root),
                        Path::new("dev"),
                        libc::O_DIRECTORY | libc::O_PATH,
                    )
                });
                let dev = dev.map_err(|e| fail(format!("/dev: {e}")))?;
                runtime::make_node(std::os::fd::AsFd::as_fd(&dev), name, rule, owner)
                    .map_err(|e| fail(e.to_string()))
            })?;
        }
        Ok(())
    }

    fn set_address(&self, veid: u32, ip: Ipv4Addr, add: bool) -> Result<(), VzError> {
        let init_pid = self.init_pid(veid)?;
        let host = net::host_link(veid);
        let has_link = self.proc_dir.join("sys/net/ipv4/conf").join(&host).exists();
        if !has_link {
            return if add {
                self.connect(veid, &[ip])
            } else {
                Ok(())
            };
        }
        runtime::in_namespace(&self.proc_dir, init_pid, runtime::Namespace::Net, || {
            net::address(net::VE_LINK, ip, add)
        })?;
        net::route(&host, Some(ip), add)
    }

    fn freeze(&self, veid: u32, frozen: bool, addresses: &[Ipv4Addr]) -> Result<(), VzError> {
        self.freeze_ve(veid, frozen, addresses)
    }

    fn dump(
        &self,
        veid: u32,
        dir: &Path,
        netdevs: &[String],
        mode: crate::checkpoint::DumpMode,
    ) -> Result<crate::checkpoint::DumpStats, VzError> {
        self.dump_ve(veid, dir, netdevs, mode)
    }

    fn restore(
        &self,
        plan: &StartPlan,
        dir: &Path,
        saved: &crate::checkpoint::SavedVe,
        frozen: bool,
    ) -> Result<(), VzError> {
        self.create_ve(plan.veid, || self.restore_created(plan, dir, saved, frozen))
    }

    fn attach(&self, veid: u32, pid: i32) -> Result<(), VzError> {
        self.device()?.ve_attach(veid, pid)
    }

    fn show_config(
        &self,
        veid: u32,
        cpu_share: (u32, u32),
        addresses: &[Ipv4Addr],
    ) -> Result<(), VzError> {
        let config = KernelConfig {
            cpu_share: Some(cpu_share),
            addresses: Some(addresses),
            private: None,
        };
        self.device()?.ve_configure(veid, &config)
    }

    fn cpus(&self) -> Result<Vec<u32>, VzError> {
        cgroup::host_cpus(&self.cgroup_root)
    }

    fn set_cgroup(&self, veid: u32, file: &str, value: &str) -> Result<(), VzError> {
        let path = self.cgroup_dir(veid).join(file);
        std::fs::write(&path, value).map_err(|e| VzError::System {
            what: format!("write {value} to {}", path.display()),
            source: e,
        })
    }
}

/// `path` opened `O_PATH`: a reference to it for the kernel, which reads nothing through it.
pub(super) fn open_path(path: &Path) -> Result<std::fs::File, VzError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(path)
        .map_err(|source| VzError::System {
            what: format!("open {}", path.display()),
            source,
        })
}
