//! Errors of the tools and their OpenVZ exit codes.
//!
//! Messages that OpenVZ's tools print (and panels parse) keep OpenVZ's wording and
//! capitalisation ("CT 101: ..."); the others are lowercase, in the Rust tools' style.

use std::path::PathBuf;
use thiserror::Error;

/// An error that ends a vzctl-family command.
#[derive(Debug, Error)]
pub enum VzError {
    /// The control device is absent: the vz module is not loaded.
    #[error("{}: not found; the vz kernel module is not loaded (try: modprobe vz)", .0.display())]
    ModuleNotLoaded(PathBuf),
    /// The module speaks another ABI version than these tools.
    #[error("the vz module speaks ABI version {module}, these tools speak {tools}; install matching versions")]
    AbiMismatch { module: u32, tools: u32 },
    /// The caller may not use the control device.
    #[error("{}: permission denied (vzctl must run as root on the host)", .0.display())]
    PermissionDenied(PathBuf),
    /// Any other failing system call.
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A vz ioctl failed.
    #[error("{command}: {source}")]
    Ioctl {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// A value given by the user is out of range or malformed.
    #[error("{0}")]
    InvalidValue(String),
    /// Bad command-line usage; clap has already formatted the message.
    #[error("{0}")]
    Usage(String),
    /// A feature that the current build does not offer yet.
    #[error("{0} is not available in this release yet")]
    NotImplemented(&'static str),
    /// The global configuration file is missing.
    #[error("{}: not found; the global configuration vz.conf is required", .0.display())]
    VzConfNotFound(PathBuf),
    /// A configuration file (usually a VE's `CTID.conf`) is missing.
    #[error("{}: configuration file not found", .0.display())]
    ConfigNotFound(PathBuf),
    /// A configuration file has a line that is not a comment, blank or `NAME=value`.
    #[error("{}:{line}: {reason}: {text}", .path.display())]
    ConfigSyntax {
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The offending line as written.
        text: String,
        reason: String,
    },
    /// Writing a configuration file failed.
    #[error("{}: cannot save the configuration: {source}", .path.display())]
    ConfigSave {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another live process holds the VE's lock file.
    #[error("CT {veid}: Locked by: pid {pid}, cmdline {cmdline}")]
    Locked {
        veid: u32,
        pid: i32,
        cmdline: String,
    },
    /// The VE has no private area: it does not exist.
    #[error("CT {veid}: private area {} does not exist", .private.display())]
    PrivateNotFound { veid: u32, private: PathBuf },
    /// `create` found the VE's private area or config already there.
    #[error("CT {veid}: already exists ({} is present)", .what.display())]
    AlreadyExists { veid: u32, what: PathBuf },
    /// No --ostemplate and no DEF_OSTEMPLATE in vz.conf.
    #[error("CT {0}: no OS template given (--ostemplate) and no DEF_OSTEMPLATE in vz.conf")]
    TemplateNotSpecified(u32),
    /// The OS template's tarball is not in the template cache.
    #[error("OS template {name} not found: no {}/{name}.tar.gz or .tar.xz", .cache.display())]
    TemplateNotFound { name: String, cache: PathBuf },
    /// Unpacking the template failed; nothing of the VE was kept.
    #[error("{}: cannot unpack the OS template: {reason}", .template.display())]
    TemplateUnpack { template: PathBuf, reason: String },
    /// The sample config named by --config or CONFIGFILE is missing.
    #[error("{}: sample config not found", .0.display())]
    SampleNotFound(PathBuf),
    #[error("CT {0} is not running")]
    NotRunning(u32),
    #[error("CT {veid} is running: {action}")]
    Running { veid: u32, action: &'static str },
    #[error("CT {0} is not mounted")]
    NotMounted(u32),
    #[error("CT {0} is already mounted")]
    AlreadyMounted(u32),
    #[error("unable to mount {0}")]
    MountFailed(String),
    #[error("unable to unmount {0}")]
    UmountFailed(String),
    /// Starting the VE failed; it was torn down again.
    #[error("CT {veid}: unable to start: {reason}")]
    StartFailed { veid: u32, reason: String },
    #[error("CT {veid}: unable to stop: {reason}")]
    StopFailed { veid: u32, reason: String },
    /// A command could not be started inside the VE.
    #[error("CT {veid}: unable to run the command: {reason}")]
    ExecFailed { veid: u32, reason: String },
    /// `vzctl exec`: the command ran and returned non-zero.
    #[error("CT {veid}: the command exited with status {status}")]
    CommandFailed { veid: u32, status: i32 },
    #[error("CT {veid}: bad IP address {value}: {reason}")]
    BadIp {
        veid: u32,
        value: String,
        reason: String,
    },
    #[error("CT {veid}: IP address {ip} is already in use by CT {owner}")]
    IpInUse { veid: u32, ip: String, owner: u32 },
    /// A checkpoint failed; the VE was left running (OpenVZ's VZ_CHKPNT_ERROR).
    #[error("CT {veid}: Checkpointing failed: {reason}")]
    ChkpntFailed { veid: u32, reason: String },
    /// A restore failed; the dump was kept and nothing of the VE is left running
    /// (OpenVZ's VZ_RESTORE_ERROR).
    #[error("CT {veid}: Failed to restore: {reason}")]
    RestoreFailed { veid: u32, reason: String },
    /// The VE's disk quota could not be set up.
    #[error("CT {veid}: disk quota: {reason}")]
    QuotaFailed { veid: u32, reason: String },
}

impl VzError {
    /// A failing system call, named.
    pub fn system(what: &str, errno: nix::errno::Errno) -> VzError {
        VzError::System {
            what: what.to_owned(),
            source: std::io::Error::from(errno),
        }
    }
}

impl VzError {
    /// The exit code OpenVZ's vzctl uses for this kind of failure (vzctl(8), EXIT STATUS).
    pub fn exit_code(&self) -> i32 {
        match self {
            VzError::ModuleNotLoaded(_) | VzError::AbiMismatch { .. } => 5,
            VzError::PermissionDenied(_) => 12,
            VzError::System { .. } | VzError::Ioctl { .. } | VzError::NotImplemented(_) => 3,
            VzError::Usage(_) => 20,
            VzError::InvalidValue(_) | VzError::ConfigSyntax { .. } => 21,
            VzError::VzConfNotFound(_) => 10,
            VzError::ConfigNotFound(_) => 14,
            VzError::ConfigSave { .. } => 139,
            VzError::Locked { .. } => 9,
            VzError::PrivateNotFound { .. } => 43,
            VzError::AlreadyExists { .. } => 44,
            VzError::TemplateNotSpecified(_) => 29,
            VzError::TemplateNotFound { .. } => 91,
            VzError::TemplateUnpack { .. } => 48,
            VzError::SampleNotFound(_) => 82,
            VzError::NotRunning(_) => 31,
            VzError::Running { .. } => 32,
            VzError::NotMounted(_) => 40,
            VzError::AlreadyMounted(_) => 41,
            VzError::MountFailed(_) => 50,
            VzError::UmountFailed(_) => 51,
            VzError::StartFailed { .. } | VzError::ExecFailed { .. } => 3,
            VzError::StopFailed { .. } => 33,
            VzError::CommandFailed { .. } => 8,
            VzError::BadIp { .. } => 71,
            VzError::IpInUse { .. } => 78,
            VzError::QuotaFailed { .. } => 60,
            VzError::ChkpntFailed { .. } => 16,
            VzError::RestoreFailed { .. } => 17,
        }
    }
}

/// Ends a tool's `main`: prints the error as `tool: message` and turns it into the exit code.
pub fn exit_code_of(tool: &str, result: Result<(), VzError>) -> std::process::ExitCode {
    exit_status_of(tool, result.map(|()| 0))
}

/// As [`exit_code_of`] for commands that pass on a status of their own (`vzctl exec2`).
pub fn exit_status_of(tool: &str, result: Result<i32, VzError>) -> std::process::ExitCode {
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{tool}: {err}");
            err.exit_code()
        }
    };
    // Every code in exit_code() and every wait status is below 256.
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_is_exit_5() {
        let err = VzError::ModuleNotLoaded("/dev/vzctl".into());
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("vz kernel module is not loaded"));
    }

    #[test]
    fn abi_mismatch_names_both_versions() {
        let err = VzError::AbiMismatch {
            module: 7,
            tools: 1,
        };
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("ABI version 7"));
        assert!(err.to_string().contains("speak 1"));
    }

    #[test]
    fn usage_is_exit_20() {
        assert_eq!(VzError::Usage("x".into()).exit_code(), 20);
    }

    #[test]
    fn config_errors_use_openvz_codes() {
        assert_eq!(
            VzError::VzConfNotFound("/etc/vz/vz.conf".into()).exit_code(),
            10
        );
        assert_eq!(
            VzError::ConfigNotFound("/etc/vz/conf/101.conf".into()).exit_code(),
            14
        );
        let save = VzError::ConfigSave {
            path: "/etc/vz/conf/101.conf".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(save.exit_code(), 139);
        assert!(save.to_string().contains("/etc/vz/conf/101.conf"));
    }

    #[test]
    fn syntax_error_names_file_line_and_text() {
        let err = VzError::ConfigSyntax {
            path: "/etc/vz/conf/101.conf".into(),
            line: 7,
            text: "A=\"x".into(),
            reason: "unterminated quote".into(),
        };
        assert_eq!(err.exit_code(), 21);
        assert_eq!(
            err.to_string(),
            "/etc/vz/conf/101.conf:7: unterminated quote: A=\"x"
        );
    }

    #[test]
    fn locked_names_the_holder() {
        let err = VzError::Locked {
            veid: 101,
            pid: 42,
            cmdline: "vzctl start 101".into(),
        };
        assert_eq!(err.exit_code(), 9);
        assert!(err
            .to_string()
            .contains("Locked by: pid 42, cmdline vzctl start 101"));
    }
}
