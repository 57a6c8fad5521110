//! What a task on its way into a VE keeps: its capability sets, its ids in the VE's user
//! namespace, and whether it is dumpable.

use super::{SetupError, Step};

/// Capabilities no VE task keeps, even in its own user namespace (where the kernel's checks
/// against the host already refuse them): module loading, raw I/O, process accounting,
/// overriding resource limits (disk quota above all), setting clocks, kernel audit and MAC
/// policy, the kernel log, wake alarms and suspend blocking, BPF and perf.
const DROPPED_CAPS: [u32; 14] = [
    16, // CAP_SYS_MODULE
    17, // CAP_SYS_RAWIO
    20, // CAP_SYS_PACCT
    24, // CAP_SYS_RESOURCE: it would exempt the VE from its disk quota
    25, // CAP_SYS_TIME
    30, // CAP_AUDIT_CONTROL
    32, // CAP_MAC_OVERRIDE
    33, // CAP_MAC_ADMIN
    34, // CAP_SYSLOG
    35, // CAP_WAKE_ALARM
    36, // CAP_BLOCK_SUSPEND
    37, // CAP_AUDIT_READ
    38, // CAP_PERFMON
    39, // CAP_BPF
];

/// Makes the calling process non-dumpable: nothing in a VE may open its /proc files, its
/// memory or its executable (a host binary) while it is on its way in.
pub(super) fn set_nondumpable() -> Result<(), SetupError> {
    // SAFETY: PR_SET_DUMPABLE takes an integer and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(SetupError::last(Step::SetNondumpable, ""));
    }
    Ok(())
}

/// Becomes uid and gid 0 (the VE's root) of the user namespace just joined, with no
/// supplementary groups.
pub(super) fn become_ve_root() -> Result<(), SetupError> {
    nix::unistd::setgroups(&[]).map_err(Step::Setgroups.failed())?;
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(Step::Setresgid.failed())?;
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(Step::Setresuid.failed())
}

/// The kernel's capability header and data (capget(2)/capset(2), version 3: two 32-bit words).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Removes [`DROPPED_CAPS`] from the bounding, ambient, effective, permitted and inheritable
/// sets, so that nothing exec'd in the VE can get them back.
pub(super) fn drop_capabilities() -> Result<(), SetupError> {
    for cap in DROPPED_CAPS {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(SetupError::last(Step::DropCapability, cap.to_string()));
        }
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL touches no memory.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: The header and a two-element data array, as version 3 requires, live across
    // the call.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(SetupError::last(Step::Capget, ""));
    }
    for cap in DROPPED_CAPS {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        if let Some(d) = data.get_mut(word) {
            d.effective &= !bit;
            d.permitted &= !bit;
            d.inheritable &= !bit;
        }
    }
    // SAFETY: As for capget.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(SetupError::last(Step::Capset, ""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_capabilities_fit_the_two_words() {
        assert!(DROPPED_CAPS.iter().all(|&c| c < 64));
    }
}
