//! Errors of the tools and their OpenVZ exit codes.

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
}

impl VzError {
    /// The exit code OpenVZ's vzctl uses for this kind of failure (vzctl(8), EXIT STATUS).
    pub fn exit_code(&self) -> i32 {
        match self {
            VzError::ModuleNotLoaded(_) | VzError::AbiMismatch { .. } => 5,
            VzError::PermissionDenied(_) => 12,
            VzError::System { .. } | VzError::Ioctl { .. } | VzError::NotImplemented(_) => 3,
            VzError::Usage(_) => 20,
            VzError::InvalidValue(_) => 21,
        }
    }
}

/// Ends a tool's `main`: prints the error as `tool: message` and turns it into the exit code.
pub fn exit_code_of(tool: &str, result: Result<(), VzError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{tool}: {err}");
            // Every code in exit_code() is below 256.
            std::process::ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(u8::MAX))
        }
    }
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
}
