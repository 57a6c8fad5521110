//! The `/dev/vzctl` ioctl ABI as a `no_std` crate for the userland tools.
//!
//! The kernel module includes `abi.rs` directly, so both sides compile the very same
//! definitions; see that file for the list of ioctls.
#![no_std]

include!("abi.rs");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_version_matches_linux_ior_encoding() {
        // _IOR('.', 64, 40-byte struct) as computed by <asm-generic/ioctl.h>.
        assert_eq!(VZCTL_GET_VERSION, (2 << 30) | (40 << 16) | (0x2e << 8) | 64);
    }

    #[test]
    fn module_version_stops_at_first_nul() {
        let mut info = VersionInfo::zeroed();
        info.module_version[..5].copy_from_slice(b"0.1.0");
        assert_eq!(info.module_version_str(), Some("0.1.0"));
    }

    #[test]
    fn module_version_rejects_invalid_utf8() {
        let mut info = VersionInfo::zeroed();
        info.module_version[0] = 0xff;
        assert_eq!(info.module_version_str(), None);
    }
}
