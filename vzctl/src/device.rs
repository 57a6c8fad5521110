//! The control device `/dev/vzctl`: the one place userland issues vz ioctls.

use crate::error::VzError;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use vz_abi::{VersionInfo, VZCTL_DEVICE_PATH, VZCTL_GET_VERSION, VZ_ABI_VERSION};

/// What the tools ask of the kernel module. The real implementation is [`Vzctl`]; unit tests
/// use a fake.
pub trait ControlDevice {
    /// The module's ABI version and release.
    fn version(&self) -> Result<VersionInfo, VzError>;
}

/// An open `/dev/vzctl` whose module speaks this ABI version.
pub struct Vzctl {
    file: File,
    path: PathBuf,
}

impl Vzctl {
    /// Opens the default control device and checks that the module speaks our ABI.
    pub fn open() -> Result<Self, VzError> {
        Self::open_path(Path::new(VZCTL_DEVICE_PATH))
    }

    /// Opens the control device at `path` and checks that the module speaks our ABI.
    pub fn open_path(path: &Path) -> Result<Self, VzError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|err| match err.kind() {
                io::ErrorKind::NotFound => VzError::ModuleNotLoaded(path.to_owned()),
                io::ErrorKind::PermissionDenied => VzError::PermissionDenied(path.to_owned()),
                _ => VzError::System {
                    what: format!("open {}", path.display()),
                    source: err,
                },
            })?;
        let device = Vzctl {
            file,
            path: path.to_owned(),
        };
        let info = device.version()?;
        if info.abi_version != VZ_ABI_VERSION {
            return Err(VzError::AbiMismatch {
                module: info.abi_version,
                tools: VZ_ABI_VERSION,
            });
        }
        Ok(device)
    }

    fn ioctl_error(&self, name: &str, err: io::Error) -> VzError {
        if err.raw_os_error() == Some(libc::EPERM) {
            VzError::PermissionDenied(self.path.clone())
        } else {
            VzError::System {
                what: format!("{name} on {}", self.path.display()),
                source: err,
            }
        }
    }
}

impl ControlDevice for Vzctl {
    fn version(&self) -> Result<VersionInfo, VzError> {
        let mut info = VersionInfo::zeroed();
        // SAFETY: VZCTL_GET_VERSION writes exactly size_of::<VersionInfo>() bytes (the size is
        // encoded in the command number) into `info`, which is a valid, writable VersionInfo.
        let ret = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                VZCTL_GET_VERSION as libc::c_ulong,
                &mut info as *mut VersionInfo,
            )
        };
        if ret < 0 {
            return Err(self.ioctl_error("VZCTL_GET_VERSION", io::Error::last_os_error()));
        }
        Ok(info)
    }
}
