// The one definition of the `/dev/vzctl` ioctl ABI.
//
// This file is compiled twice: as the body of the `vz-abi` crate (userland) and as a module of
// the kernel module (`#[path]`). It must therefore use only `core`, carry no crate attributes,
// and describe every struct with fixed-width fields, explicit padding and `u64` for user
// pointers, so that layouts cannot differ between the two compilers.
//
// # Ioctls
//
// Every command is refused with `EPERM` unless the caller has `CAP_SYS_ADMIN`. Unknown command
// numbers get `ENOTTY`.
//
// | Command              | Direction | Argument      | Errors                          |
// |----------------------|-----------|---------------|---------------------------------|
// | `VZCTL_GET_VERSION`  | read      | `VersionInfo` | `EPERM`, `EFAULT`               |

/// The ioctl type byte, OpenVZ's `VZCTLTYPE`.
pub const VZCTL_TYPE: u8 = b'.';

/// Path of the control device the module registers.
pub const VZCTL_DEVICE_PATH: &str = "/dev/vzctl";

/// Version of this ABI. Bumped on every incompatible change; tools refuse a module whose
/// version differs.
pub const VZ_ABI_VERSION: u32 = 1;

/// Length of the module version string in `VersionInfo`, NUL padding included.
pub const VZ_VERSION_STRING_LEN: usize = 32;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Encodes an ioctl number as Linux's `_IOC` does on x86.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | ((VZCTL_TYPE as u32) << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// `_IOR('.', nr, T)`: the kernel writes a `T` to the caller.
const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, nr, core::mem::size_of::<T>())
}

/// `_IOW('.', nr, T)`: the caller passes a `T` to the kernel.
#[allow(dead_code)]
const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `_IOWR('.', nr, T)`: the caller passes a `T` and the kernel writes it back.
#[allow(dead_code)]
const fn iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, core::mem::size_of::<T>())
}

// This project's commands start at 64 so that a legacy OpenVZ binary issuing one of its own
// numbers (0..=15, with different layouts) gets ENOTTY instead of a misread struct.
const NR_BASE: u32 = 64;

/// Answer of `VZCTL_GET_VERSION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// `VZ_ABI_VERSION` of the running module.
    pub abi_version: u32,
    /// Explicit padding; always zero.
    pub reserved: u32,
    /// The module's own version, NUL-padded UTF-8.
    pub module_version: [u8; VZ_VERSION_STRING_LEN],
}

impl VersionInfo {
    /// An all-zero value, for the caller to pass as the buffer to fill.
    pub const fn zeroed() -> Self {
        Self {
            abi_version: 0,
            reserved: 0,
            module_version: [0; VZ_VERSION_STRING_LEN],
        }
    }

    /// The module version as text, up to its first NUL; `None` if it is not UTF-8.
    pub fn module_version_str(&self) -> Option<&str> {
        let len = self
            .module_version
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(VZ_VERSION_STRING_LEN);
        core::str::from_utf8(self.module_version.get(..len)?).ok()
    }
}

/// Returns the ABI version and the module's version string.
pub const VZCTL_GET_VERSION: u32 = ior::<VersionInfo>(NR_BASE);

// Layout asserts: any change here is an ABI change and must bump `VZ_ABI_VERSION`.
const _: () = assert!(core::mem::size_of::<VersionInfo>() == 40);
const _: () = assert!(core::mem::offset_of!(VersionInfo, abi_version) == 0);
const _: () = assert!(core::mem::offset_of!(VersionInfo, reserved) == 4);
const _: () = assert!(core::mem::offset_of!(VersionInfo, module_version) == 8);
const _: () = assert!(VZCTL_GET_VERSION == 0x8028_2e40);
