//! The processes of a VE: starting its init in new namespaces on the VE's root, and running
//! commands inside a running VE. Everything here is privileged and runs for real only in the
//! VM suite; commands reach it through [`crate::host::Host`].
//!
//! Start: vzctl forks a helper, which becomes non-dumpable, joins the VE's cgroup and enters
//! the VE in the module (the first steps of every entry path, `inside::enter_ve`) and
//! unshares a user namespace. vzctl maps
//! the VE's 65536 host ids into it ([`IdMap`](crate::idmap::IdMap)) and builds, in the
//! host's user namespace, two detached mounts that it passes to the helper over a socket:
//! the VE's private area as an idmapped mount (files keep their in-VE owners on disk) and a
//! /dev tmpfs holding only the permitted nodes (made by the host: a filesystem mounted inside
//! a user namespace cannot hold usable device nodes). The helper unshares a time namespace
//! whose boot time starts at 0, becomes the VE's root, unshares the mount, UTS, IPC,
//! network, cgroup and pid namespaces (all, the time namespace too, owned by the VE's user
//! namespace, as CRIU needs to checkpoint them) and forks the VE's init, which attaches both mounts, mounts /proc, a
//! read-only /sys, its cgroup subtree, devpts and /dev/shm, pivots into its root and execs
//! /sbin/init. Setup failures travel back to vzctl over a close-on-exec pipe: EOF means the
//! exec happened.
//!
//! Entry (exec, exec2, runscript, enter, and stop's halt) goes through one routine,
//! `inside::join_ve`: non-dumpable first, then the cgroup of the VE's init, the VE id, the
//! time namespace, the user namespace (and uid/gid 0 in it), then the
//! VE's other namespaces with the mount namespace last. The command gets only pipes (exec)
//! or a pty of the VE's devpts (enter) as its stdio; vzctl relays them on the host side, so
//! no host descriptor or terminal is ever inside.

mod caps;
mod channel;
mod dev;
mod error;
mod fork;
mod inside;
mod mount;
mod pty;
mod relay;
mod restore;
mod start;

/// The flag of time namespaces, which nix 0.29 does not name.
const CLONE_NEWTIME: nix::sched::CloneFlags =
    nix::sched::CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// The PATH of every process vzctl starts in a VE (init and commands), as OpenVZ's vzctl set it.
const VE_PATH: &std::ffi::CStr =
    c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub use dev::make_node;
pub use error::{SetupError, Step};
pub use inside::{in_namespace, run_inside, run_inside_quietly, Inside, Namespace, VE_NAMESPACES};
pub use mount::{close_parent, mount_private, umount_private};
pub use pty::enter_pty;
pub use restore::RestoreMounts;
pub use start::{start_init, InitSpec};
