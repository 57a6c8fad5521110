//! The failure of one step of setting up a process for a VE: plain data, so that a forked child
//! can send it to its parent over the report pipe ([`SetupError::to_bytes`]), where it becomes
//! the message the admin reads.

use crate::error::VzError;
use nix::errno::Errno;
use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// The steps that can fail, named for what they do. A step whose message names a path, a
/// program, a namespace or a capability takes it as the error's `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    // Forking and waiting.
    Pipe,
    Fork,
    ForkInit,
    Waitpid,
    // Entering the VE (target: the cgroup.procs file; the namespace).
    SetNondumpable,
    JoinCgroup,
    EnterVe,
    Setns,
    Setgroups,
    Setresgid,
    Setresuid,
    // The start helper and its socket to vzctl (target: the timens_offsets file).
    UnshareTime,
    SetBootTime,
    UnshareUser,
    UnshareNamespaces,
    Send,
    Receive,
    ReceiveFds,
    MountsMissing,
    // The init's filesystem view (target: the VE's root; a mount point; "fstype on target").
    MakeMountsPrivate,
    AttachRoot,
    ChdirRoot,
    MakeMountPoint,
    Mount,
    MakeDevDir,
    AttachDev,
    PivotRoot,
    DetachHostRoot,
    ChdirNewRoot,
    Sethostname,
    Setsid,
    // Capabilities (target: the capability number) and descriptors.
    DropCapability,
    Capget,
    Capset,
    OpenNull,
    Dup2,
    CloseRange,
    ExecInit,
    // vzctl's side of the start (target: the file, the VE's root, the /dev entry).
    WriteIdMap,
    OpenUserns,
    CloneRoot,
    IdmapRoot,
    MakeDev,
    DevDir,
    DevLink,
    DevLinkOwner,
    Mknod,
    NodeName,
    // Commands (target: the program; the pty).
    NoCommand,
    Exec,
    OpenPtmx,
    Grantpt,
    Unlockpt,
    Ptsname,
    OpenPtySlave,
    Tiocsctty,
    // Work for the host in one of the VE's namespaces (target: its error message).
    JoinNamespace,
    /// Last: the test of `Step::ALL` counts the steps up to it.
    Work,
}

impl Step {
    /// Every step, in declaration order: the index is the step's number on the wire.
    const ALL: [Step; 58] = [
        Step::Pipe,
        Step::Fork,
        Step::ForkInit,
        Step::Waitpid,
        Step::SetNondumpable,
        Step::JoinCgroup,
        Step::EnterVe,
        Step::Setns,
        Step::Setgroups,
        Step::Setresgid,
        Step::Setresuid,
        Step::UnshareTime,
        Step::SetBootTime,
        Step::UnshareUser,
        Step::UnshareNamespaces,
        Step::Send,
        Step::Receive,
        Step::ReceiveFds,
        Step::MountsMissing,
        Step::MakeMountsPrivate,
        Step::AttachRoot,
        Step::ChdirRoot,
        Step::MakeMountPoint,
        Step::Mount,
        Step::MakeDevDir,
        Step::AttachDev,
        Step::PivotRoot,
        Step::DetachHostRoot,
        Step::ChdirNewRoot,
        Step::Sethostname,
        Step::Setsid,
        Step::DropCapability,
        Step::Capget,
        Step::Capset,
        Step::OpenNull,
        Step::Dup2,
        Step::CloseRange,
        Step::ExecInit,
        Step::WriteIdMap,
        Step::OpenUserns,
        Step::CloneRoot,
        Step::IdmapRoot,
        Step::MakeDev,
        Step::DevDir,
        Step::DevLink,
        Step::DevLinkOwner,
        Step::Mknod,
        Step::NodeName,
        Step::NoCommand,
        Step::Exec,
        Step::OpenPtmx,
        Step::Grantpt,
        Step::Unlockpt,
        Step::Ptsname,
        Step::OpenPtySlave,
        Step::Tiocsctty,
        Step::JoinNamespace,
        Step::Work,
    ];

    /// The error of this step from `err` (an errno or an I/O error).
    pub fn failed<E: Into<Cause>>(self) -> impl FnOnce(E) -> SetupError {
        move |err| SetupError::new(self, "", err.into().0)
    }

    /// As [`Step::failed`], for a step on `target`.
    pub fn failed_at<E: Into<Cause>>(
        self,
        target: impl fmt::Display,
    ) -> impl FnOnce(E) -> SetupError {
        let target = target.to_string();
        move |err| SetupError::new(self, target, err.into().0)
    }

    /// How the errno follows the step's words in the message: nix's short text after a
    /// system call, std's "(os error N)" form after a file operation, or not at all.
    fn style(self) -> Style {
        use Step::*;
        match self {
            Pipe | Waitpid | JoinCgroup | AttachRoot | MakeMountPoint | MakeDevDir | AttachDev
            | OpenNull | WriteIdMap | OpenUserns | CloneRoot | IdmapRoot | MakeDev | DevDir
            | DevLinkOwner | Mknod | OpenPtySlave | JoinNamespace | SetBootTime => Style::Io,
            EnterVe | MountsMissing | NodeName | NoCommand | Work => Style::Alone,
            _ => Style::Errno,
        }
    }
}

enum Style {
    Errno,
    Io,
    Alone,
}

/// The errno of a failed call, from nix or from std (an I/O error that carries none, such as
/// a path with a NUL byte, counts as EINVAL).
pub struct Cause(Errno);

impl From<Errno> for Cause {
    fn from(errno: Errno) -> Cause {
        Cause(errno)
    }
}

impl From<std::io::Error> for Cause {
    fn from(err: std::io::Error) -> Cause {
        Cause(err.raw_os_error().map_or(Errno::EINVAL, Errno::from_raw))
    }
}

/// A failed setup step, with what it worked on and the errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError {
    pub step: Step,
    /// The path, program, namespace or capability the step names; empty for the others.
    pub target: String,
    pub errno: Errno,
}

impl SetupError {
    pub fn new(step: Step, target: impl Into<String>, errno: Errno) -> SetupError {
        SetupError {
            step,
            target: target.into(),
            errno,
        }
    }

    /// The step failed with the errno the last libc call left.
    pub fn last(step: Step, target: impl Into<String>) -> SetupError {
        SetupError::new(step, target, Errno::last())
    }

    /// Work run in a child for the host failed with `err`, which the report carries as text.
    pub fn work(err: VzError) -> SetupError {
        SetupError::new(Step::Work, err.to_string(), Errno::UnknownErrno)
    }

    /// What failed, without the errno: the message's first part.
    pub(super) fn label(&self) -> Cow<'_, str> {
        use Step::*;
        let t = self.target.as_str();
        Cow::Borrowed(match self.step {
            Pipe => "pipe",
            Fork => "fork",
            ForkInit => "fork init",
            Waitpid => "waitpid",
            SetNondumpable => "PR_SET_DUMPABLE",
            JoinCgroup | MakeMountPoint | OpenUserns | OpenPtySlave | Exec | Work => t,
            EnterVe => return Cow::Owned(self.device_error().to_string()),
            Setns => return Cow::Owned(format!("setns {t}")),
            Setgroups => "setgroups in the VE",
            Setresgid => "setresgid 0 in the VE",
            Setresuid => "setresuid 0 in the VE",
            UnshareTime => "unshare the time namespace",
            SetBootTime => return Cow::Owned(format!("set the VE's boot time in {t}")),
            UnshareUser => "unshare the user namespace",
            UnshareNamespaces => "unshare",
            Send => "send to the VE's helper",
            Receive => "receive from vzctl",
            ReceiveFds => "receive descriptors",
            MountsMissing => "vzctl did not send the VE's mounts",
            MakeMountsPrivate => "make mounts private",
            AttachRoot => return Cow::Owned(format!("attach the VE's root at {t}")),
            ChdirRoot => return Cow::Owned(format!("chdir {t}")),
            Mount => return Cow::Owned(format!("mount {t}")),
            MakeDevDir => "/dev",
            AttachDev => "attach /dev",
            PivotRoot => "pivot_root",
            DetachHostRoot => "detach the host's root",
            ChdirNewRoot => "chdir /",
            Sethostname => "sethostname",
            Setsid => "setsid",
            DropCapability => return Cow::Owned(format!("drop capability {t}")),
            Capget => "capget",
            Capset => "capset",
            OpenNull => "/dev/null in the VE",
            Dup2 => "dup2",
            CloseRange => "close_range",
            ExecInit => "exec /sbin/init in the VE",
            WriteIdMap => return Cow::Owned(format!("write {t}")),
            CloneRoot => return Cow::Owned(format!("clone the mount at {t}")),
            IdmapRoot => return Cow::Owned(format!("idmap the mount of {t}")),
            MakeDev => "make the VE's /dev",
            DevDir | DevLink | DevLinkOwner => return Cow::Owned(format!("/dev/{t}")),
            Mknod => return Cow::Owned(format!("mknod /dev/{t}")),
            NodeName => return Cow::Owned(format!("/dev/{t}: not a node name")),
            NoCommand => "no command",
            OpenPtmx => "open /dev/ptmx in the VE",
            Grantpt => "grantpt",
            Unlockpt => "unlockpt",
            Ptsname => "ptsname",
            Tiocsctty => "TIOCSCTTY",
            JoinNamespace => "setns",
        })
    }

    /// VE_ENTER's failure as the control device words it for every ioctl.
    fn device_error(&self) -> VzError {
        if self.errno == Errno::EPERM {
            VzError::PermissionDenied(PathBuf::from(vz_abi::VZCTL_DEVICE_PATH))
        } else {
            VzError::Ioctl {
                command: "VE_ENTER".into(),
                source: self.errno.into(),
            }
        }
    }

    /// The error of VE_ENTER, from the control device's error.
    pub fn enter_ve(err: VzError) -> SetupError {
        let errno = match &err {
            VzError::PermissionDenied(_) => Errno::EPERM,
            VzError::Ioctl { source, .. } => {
                source.raw_os_error().map_or(Errno::EINVAL, Errno::from_raw)
            }
            _ => Errno::EINVAL,
        };
        SetupError::new(Step::EnterVe, "", errno)
    }

    /// The report's bytes: the step's number, the errno and the target.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![self.step as u8];
        bytes.extend_from_slice(&(self.errno as i32).to_ne_bytes());
        bytes.extend_from_slice(self.target.as_bytes());
        bytes
    }

    /// The report sent as [`SetupError::to_bytes`]; None for an empty one (the child exec'd or
    /// succeeded). A report cut short (the child was killed while writing it) reads as EIO.
    pub fn from_bytes(bytes: &[u8]) -> Option<SetupError> {
        let (&step, rest) = bytes.split_first()?;
        let decoded = rest.split_first_chunk::<4>().and_then(|(errno, target)| {
            Some(SetupError::new(
                *Step::ALL.get(usize::from(step))?,
                String::from_utf8_lossy(target),
                Errno::from_raw(i32::from_ne_bytes(*errno)),
            ))
        });
        Some(
            decoded
                .unwrap_or_else(|| SetupError::new(Step::Work, "a cut-short report", Errno::EIO)),
        )
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label();
        match self.step.style() {
            Style::Errno => write!(f, "{label}: {}", self.errno.desc()),
            Style::Io => write!(f, "{label}: {}", std::io::Error::from(self.errno)),
            Style::Alone => f.write_str(&label),
        }
    }
}

impl std::error::Error for SetupError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_numbered_in_order() {
        for (number, step) in Step::ALL.iter().enumerate() {
            assert_eq!(*step as usize, number, "{step:?}");
        }
        assert_eq!(Step::Work as usize + 1, Step::ALL.len());
    }

    #[test]
    fn reports_cross_the_pipe_whole() {
        for step in Step::ALL {
            let err = SetupError::new(step, "/vz/root/101 a", Errno::ENOENT);
            assert_eq!(SetupError::from_bytes(&err.to_bytes()), Some(err));
        }
        assert_eq!(SetupError::from_bytes(&[]), None);
        let cut = SetupError::from_bytes(&[3, 1]).unwrap();
        assert_eq!((cut.step, cut.errno), (Step::Work, Errno::EIO));
    }

    #[test]
    fn messages_read_as_before() {
        let cases = [
            (
                Step::PivotRoot,
                "",
                Errno::EINVAL,
                "pivot_root: Invalid argument",
            ),
            (
                Step::ChdirRoot,
                "/vz/root/101",
                Errno::ENOENT,
                "chdir /vz/root/101: No such file or directory",
            ),
            (
                Step::AttachDev,
                "",
                Errno::ENOENT,
                "attach /dev: No such file or directory (os error 2)",
            ),
            (
                Step::Exec,
                "nosuch",
                Errno::ENOENT,
                "nosuch: No such file or directory",
            ),
            (
                Step::Mount,
                "proc on proc",
                Errno::EPERM,
                "mount proc on proc: Operation not permitted",
            ),
            (
                Step::EnterVe,
                "",
                Errno::ENOENT,
                "VE_ENTER: No such file or directory (os error 2)",
            ),
            (
                Step::EnterVe,
                "",
                Errno::EPERM,
                "/dev/vzctl: permission denied (vzctl must run as root on the host)",
            ),
            (
                Step::MountsMissing,
                "",
                Errno::EPROTO,
                "vzctl did not send the VE's mounts",
            ),
            (
                Step::Work,
                "CT 101: /dev: gone",
                Errno::UnknownErrno,
                "CT 101: /dev: gone",
            ),
        ];
        for (step, target, errno, message) in cases {
            assert_eq!(SetupError::new(step, target, errno).to_string(), message);
        }
    }

    #[test]
    fn the_control_devices_errors_keep_their_errno() {
        let err = VzError::Ioctl {
            command: "VE_ENTER".into(),
            source: std::io::Error::from_raw_os_error(libc::ESRCH),
        };
        assert_eq!(SetupError::enter_ve(err).errno, Errno::ESRCH);
        let err = VzError::PermissionDenied("/dev/vzctl".into());
        assert_eq!(SetupError::enter_ve(err).errno, Errno::EPERM);
    }
}
