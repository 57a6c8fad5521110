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
    fn resource_ids_name_openvz_rows() {
        let named = [
            (UB_LOCKEDPAGES, "lockedpages"),
            (UB_PRIVVMPAGES, "privvmpages"),
            (UB_SHMPAGES, "shmpages"),
            (UB_NUMPROC, "numproc"),
            (UB_PHYSPAGES, "physpages"),
            (UB_NUMTCPSOCK, "numtcpsock"),
            (UB_NUMFLOCK, "numflock"),
            (UB_NUMPTY, "numpty"),
            (UB_NUMSIGINFO, "numsiginfo"),
            (UB_TCPSNDBUF, "tcpsndbuf"),
            (UB_TCPRCVBUF, "tcprcvbuf"),
            (UB_OTHERSOCKBUF, "othersockbuf"),
            (UB_DGRAMRCVBUF, "dgramrcvbuf"),
            (UB_NUMOTHERSOCK, "numothersock"),
            (UB_NUMFILE, "numfile"),
        ];
        for (id, name) in named {
            assert_eq!(UB_NAMES[id as usize], name);
        }
        assert_eq!(UB_NAMES[0], "kmemsize");
        assert_eq!(UB_NAMES[UB_COUNT - 1], "swappages");
    }

    #[test]
    fn dummy_and_out_of_range_resources_are_invalid() {
        assert!(ub_resource_valid(UB_NUMFILE));
        for dummy in [4, 20, 21, 22] {
            assert!(!ub_resource_valid(dummy));
        }
        assert!(!ub_resource_valid(u32::try_from(UB_COUNT).unwrap()));
        assert!(!ub_resource_valid(u32::MAX));
    }

    #[test]
    fn unlimited_is_openvz_long_max() {
        assert_eq!(UB_UNLIMITED, 9_223_372_036_854_775_807);
    }

    #[test]
    fn module_version_rejects_invalid_utf8() {
        let mut info = VersionInfo::zeroed();
        info.module_version[0] = 0xff;
        assert_eq!(info.module_version_str(), None);
    }
}
