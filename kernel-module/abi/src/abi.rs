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
// Every command is also refused with `EPERM` when the caller is inside a VE, even as root.
// `EFAULT` means a bad argument pointer; `EINVAL` a struct field out of range (a VE id of 0
// or above `VZ_VEID_MAX`, nonzero reserved fields, unknown flags).
//
// | Command                | Dir.  | Argument      | What it does; errors beyond the above       |
// |------------------------|-------|---------------|---------------------------------------------|
// | `VZCTL_GET_VERSION`    | read  | `VersionInfo` | ABI version and module release              |
// | `VZCTL_VE_CREATE`      | write | `VeCreate`    | new VE with default device rules; `EEXIST`, |
// |                        |       |               | `ENOSPC` (VZ_MAX_VES reached)               |
// | `VZCTL_VE_DESTROY`     | write | `VeRef`       | `ENOENT`, `EBUSY` while it has tasks        |
// | `VZCTL_VE_ENTER`       | write | `VeRef`       | moves the calling task (and so its future   |
// |                        |       |               | children) into the VE for good; `ENOENT`    |
// | `VZCTL_VE_INFO`        | r/w   | `VeInfo`      | state, tasks, init, creation, uptime, load; |
// |                        |       |               | `ENOENT`                                    |
// | `VZCTL_VE_LIST`        | r/w   | `VeList`      | ids of all VEs, ascending                   |
// | `VZCTL_PID_INFO`       | r/w   | `PidInfo`     | host pid to VE and in-VE pid; `ESRCH`       |
// | `VZCTL_SET_DEVPERMS`   | write | `DevPerm`     | sets one device rule; `ENOENT`, `ENOSPC`    |
// | `VZCTL_GET_DEVPERMS`   | r/w   | `DevPermList` | the VE's device rules; `ENOENT`             |
// | `VZCTL_VE_NETDEV`      | write | `NetDev`      | gives a host network device to a running VE |
// |                        |       |               | or takes it back; `ENOENT`, `ENODEV`,       |
// |                        |       |               | `ESRCH` (VE has no init), `EEXIST`          |
// | `VZCTL_UB_SET`         | write | `UbSet`       | barrier:limit of one resource, also while   |
// |                        |       |               | the VE runs; `ENOENT`; `EINVAL` for a dummy |
// |                        |       |               | or unknown resource, barrier > limit, or a  |
// |                        |       |               | value above `UB_UNLIMITED`                  |
// | `VZCTL_UB_GET`         | r/w   | `UbGet`       | every counter of the VE; `ENOENT`           |
// | `VZCTL_VE_CONFIGURE`   | write | `VeConfig`    | addresses, CPU weight and limit, private    |
// |                        |       |               | area, for /proc; `ENOENT`, `EBADF` (fd)     |
// | `VZCTL_VE_EXPORT`      | r/w   | `VeState`     | what a checkpoint carries of the VE:        |
// |                        |       |               | beancounters, device rules, addresses;      |
// |                        |       |               | `ENOENT`                                    |
// | `VZCTL_VE_ATTACH`      | write | `VeAttach`    | moves a task, pid 1 of its own pid          |
// |                        |       |               | namespace and in no VE, into the VE, as it  |
// |                        |       |               | runs next (CRIU's restored root); `ENOENT`, |
// |                        |       |               | `ESRCH`, `EBUSY` (in a VE), `EINVAL` (no    |
// |                        |       |               | pid namespace init)                         |
// | `VZCTL_VE_IMPORT`      | write | `VeState`     | gives a restored VE that state (the parts   |
// |                        |       |               | in `flags`), all or nothing; `ENOENT`,      |
// |                        |       |               | `ENODEV` (a net device not in the VE),      |
// |                        |       |               | `ESRCH` (net devices, VE has no init)       |

/// The ioctl type byte, OpenVZ's `VZCTLTYPE`.
pub const VZCTL_TYPE: u8 = b'.';

/// Path of the control device the module registers.
pub const VZCTL_DEVICE_PATH: &str = "/dev/vzctl";

/// Version of this ABI. Bumped on every incompatible change; tools refuse a module whose
/// version differs.
pub const VZ_ABI_VERSION: u32 = 5;

/// The largest VE id, as in OpenVZ ("should not be more than 2147483644"). 0 is the host.
pub const VZ_VEID_MAX: u32 = 2_147_483_644;

/// How many VEs may exist at once.
pub const VZ_MAX_VES: u32 = 65_536;

/// How many device rules one VE may hold.
pub const VZ_MAX_DEVPERMS: u32 = 256;

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
#[allow(
    clippy::cast_possible_truncation,
    reason = "size is asserted to fit the 14-bit field first"
)]
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size < 1 << IOC_SIZEBITS, "ioctl struct too large");
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
const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `_IOWR('.', nr, T)`: the caller passes a `T` and the kernel writes it back.
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

/// Argument of `VZCTL_VE_CREATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeCreate {
    /// 1..=`VZ_VEID_MAX`.
    pub veid: u32,
    /// No flags are defined yet; must be 0.
    pub flags: u32,
}

/// Names one VE (`VZCTL_VE_DESTROY`, `VZCTL_VE_ENTER`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeRef {
    pub veid: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// The VE has no task.
pub const VE_STATE_STOPPED: u32 = 0;
/// The VE has at least one task.
pub const VE_STATE_RUNNING: u32 = 1;

/// `VZCTL_VE_INFO`: the caller sets `veid`, the module fills the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeInfo {
    pub veid: u32,
    /// `VE_STATE_*`.
    pub state: u32,
    /// Tasks (threads included) in the VE.
    pub nproc: u32,
    /// Host pid of the VE's init, 0 if it has none.
    pub init_pid: i32,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// Time since creation (the VE's start), in nanoseconds of boot time (suspend included).
    pub uptime_ns: u64,
    /// The VE's 1, 5 and 15-minute load averages, fixed point with `LOAD_FSHIFT` fraction bits,
    /// as the kernel keeps its own.
    pub load: [u64; 3],
}

/// Fraction bits of `VeInfo::load`, the kernel's `FSHIFT`.
pub const LOAD_FSHIFT: u32 = 11;

/// `VZCTL_VE_LIST`: the caller passes a buffer of `capacity` u32s at `ids`; the module
/// writes up to `capacity` ids (ascending) and sets `count` to the number of VEs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeList {
    pub ids: u64,
    pub capacity: u32,
    pub count: u32,
}

/// `VZCTL_PID_INFO`: the caller sets `pid` (as it sees it); the module fills `veid` and
/// `vpid`, the pid inside the VE (0 if the task is not visible there, the host pid for
/// host tasks).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PidInfo {
    pub pid: i32,
    pub veid: u32,
    pub vpid: i32,
    pub reserved: u32,
}

/// Character device (`DevPerm::kind`).
pub const DEV_CHAR: u32 = 1;
/// Block device (`DevPerm::kind`).
pub const DEV_BLOCK: u32 = 2;
/// The rule covers every minor of `major`.
pub const DEVPERM_ALL_MINORS: u32 = 1;
/// The rule covers every device of `kind`.
pub const DEVPERM_ALL_DEVICES: u32 = 2;
/// May open for reading.
pub const DEVPERM_READ: u32 = 1;
/// May open for writing.
pub const DEVPERM_WRITE: u32 = 2;
/// May create the node (mknod).
pub const DEVPERM_MKNOD: u32 = 4;
/// Every permission bit.
pub const DEVPERM_ALL: u32 = DEVPERM_READ | DEVPERM_WRITE | DEVPERM_MKNOD;
/// Largest major and minor numbers (Linux's 12 and 20 bits).
pub const DEV_MAJOR_MAX: u32 = (1 << 12) - 1;
pub const DEV_MINOR_MAX: u32 = (1 << 20) - 1;

/// One device rule of a VE. The most specific rule matching a device decides (one device,
/// then all minors of a major, then all devices of a kind); no match means no access.
/// Setting a rule replaces the one with the same kind, major, minor and flags; `perms` 0
/// keeps it as an explicit deny (OpenVZ's `none`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevPerm {
    pub veid: u32,
    /// `DEV_CHAR` or `DEV_BLOCK`.
    pub kind: u32,
    pub major: u32,
    pub minor: u32,
    /// `DEVPERM_ALL_MINORS` or `DEVPERM_ALL_DEVICES` or 0.
    pub flags: u32,
    /// `DEVPERM_READ | DEVPERM_WRITE | DEVPERM_MKNOD`, any subset.
    pub perms: u32,
}

/// `VZCTL_GET_DEVPERMS`: up to `capacity` rules are written to `entries`; `count` is set to
/// the number of rules the VE has.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevPermList {
    pub veid: u32,
    pub capacity: u32,
    pub count: u32,
    pub reserved: u32,
    pub entries: u64,
}

/// Give the device to the VE (`NetDev::op`).
pub const NETDEV_ADD: u32 = 1;
/// Take the device back to the host (`NetDev::op`).
pub const NETDEV_DEL: u32 = 2;
/// Length of a network device name, NUL included (IFNAMSIZ).
pub const NETDEV_NAME_LEN: usize = 16;

/// `VZCTL_VE_NETDEV`: moves a network device into the network namespace of the VE's init
/// (add) or back to the host's (del), and records the VE on it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetDev {
    pub veid: u32,
    /// `NETDEV_ADD` or `NETDEV_DEL`.
    pub op: u32,
    /// NUL-terminated name.
    pub name: [u8; NETDEV_NAME_LEN],
}

/// User beancounter resources, in OpenVZ's order (the row order of /proc/user_beancounters;
/// the index is OpenVZ's resource id). `dummy` rows are kept for the layout and never count.
pub const UB_NAMES: [&str; UB_COUNT] = [
    "kmemsize",
    "lockedpages",
    "privvmpages",
    "shmpages",
    "dummy",
    "numproc",
    "physpages",
    "vmguarpages",
    "oomguarpages",
    "numtcpsock",
    "numflock",
    "numpty",
    "numsiginfo",
    "tcpsndbuf",
    "tcprcvbuf",
    "othersockbuf",
    "dgramrcvbuf",
    "numothersock",
    "dcachesize",
    "numfile",
    "dummy",
    "dummy",
    "dummy",
    "numiptent",
    "swappages",
];
/// How many beancounter rows a VE has.
pub const UB_COUNT: usize = 25;
pub const UB_KMEMSIZE: u32 = 0;
pub const UB_LOCKEDPAGES: u32 = 1;
pub const UB_PRIVVMPAGES: u32 = 2;
pub const UB_SHMPAGES: u32 = 3;
pub const UB_NUMPROC: u32 = 5;
pub const UB_PHYSPAGES: u32 = 6;
pub const UB_NUMTCPSOCK: u32 = 9;
pub const UB_NUMFLOCK: u32 = 10;
pub const UB_NUMPTY: u32 = 11;
pub const UB_NUMSIGINFO: u32 = 12;
pub const UB_TCPSNDBUF: u32 = 13;
pub const UB_TCPRCVBUF: u32 = 14;
pub const UB_OTHERSOCKBUF: u32 = 15;
pub const UB_DGRAMRCVBUF: u32 = 16;
pub const UB_NUMOTHERSOCK: u32 = 17;
pub const UB_NUMFILE: u32 = 19;
pub const UB_SWAPPAGES: u32 = 24;
/// "unlimited": OpenVZ's LONG_MAX, printed as 9223372036854775807.
pub const UB_UNLIMITED: u64 = i64::MAX as u64;

/// Whether `resource` is a real (not dummy, in range) beancounter row.
pub fn ub_resource_valid(resource: u32) -> bool {
    UB_NAMES
        .get(resource as usize)
        .is_some_and(|name| *name != "dummy")
}

/// `VZCTL_UB_SET`: sets barrier and limit of one resource of a VE.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UbSet {
    pub veid: u32,
    /// Index into `UB_NAMES`.
    pub resource: u32,
    pub barrier: u64,
    pub limit: u64,
}

/// One beancounter row.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UbCounter {
    pub held: u64,
    pub maxheld: u64,
    pub barrier: u64,
    pub limit: u64,
    pub failcnt: u64,
}

/// `VZCTL_UB_GET`: every row of VE `veid`, indexed like `UB_NAMES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UbGet {
    pub veid: u32,
    pub reserved: u32,
    pub counters: [UbCounter; UB_COUNT],
}

/// How many addresses one VE may have in `VeConfig`.
pub const VZ_MAX_ADDRS: u32 = 1024;
/// `VeConfig::flags`: set `cpuunits` and `cpulimit`.
pub const VE_CONFIG_CPU: u32 = 1;
/// `VeConfig::flags`: replace the VE's addresses with `addrs`.
pub const VE_CONFIG_ADDRS: u32 = 2;
/// `VeConfig::flags`: set the VE's private area (its quota root) from `private_fd`.
pub const VE_CONFIG_PRIVATE: u32 = 4;
pub const VE_CONFIG_ALL: u32 = VE_CONFIG_CPU | VE_CONFIG_ADDRS | VE_CONFIG_PRIVATE;
/// `VeAddr::family`.
pub const VE_ADDR_IPV4: u32 = 4;
pub const VE_ADDR_IPV6: u32 = 6;
/// The range of OpenVZ's cpuunits.
pub const CPUUNITS_MIN: u32 = 8;
pub const CPUUNITS_MAX: u32 = 500_000;

/// One address of a VE: IPv4 in the first 4 bytes of `addr` (the rest zero), or IPv6.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeAddr {
    /// `VE_ADDR_IPV4` or `VE_ADDR_IPV6`.
    pub family: u32,
    /// Explicit padding; always zero.
    pub reserved: u32,
    /// Network byte order.
    pub addr: [u8; 16],
}

/// `VZCTL_VE_CONFIGURE`: what the kernel shows of a VE's configuration in /proc/vz/veinfo
/// (addresses), /proc/fairsched (CPU weight and limit) and /proc/vz/vzquota (private area).
/// Only the parts named in `flags` change.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeConfig {
    pub veid: u32,
    /// `VE_CONFIG_*` bits.
    pub flags: u32,
    /// OpenVZ's cpuunits, `CPUUNITS_MIN..=CPUUNITS_MAX`.
    pub cpuunits: u32,
    /// CPU limit in percent of one CPU; 0 for none.
    pub cpulimit: u32,
    /// A descriptor of the VE's private area (`O_PATH` is enough): the root of its disk quota,
    /// whose project id is the VE id.
    pub private_fd: i32,
    /// How many `VeAddr` are at `addrs`, at most `VZ_MAX_ADDRS`.
    pub addr_count: u32,
    /// User pointer to the VE's addresses, in the order /proc/vz/veinfo lists them.
    pub addrs: u64,
}

/// `VeState::flags` of an import: set every beancounter's barrier and limit, and its maxheld
/// and failcnt as saved (maxheld no lower than what is held now, failcnt no lower than now).
pub const VE_STATE_BEANCOUNTERS: u32 = 1;
/// Import: set every device rule in `devperms` (rules the VE has and the list does not name
/// are kept: a saved list names every rule, the defaults included).
pub const VE_STATE_DEVPERMS: u32 = 2;
/// Import: replace the VE's addresses with `addrs`.
pub const VE_STATE_ADDRS: u32 = 4;
/// Import: record the VE on each network device named in `netdevs`, which must already be in
/// the network namespace of the VE's init (where CRIU recreated it).
pub const VE_STATE_NETDEVS: u32 = 8;
pub const VE_STATE_ALL: u32 =
    VE_STATE_BEANCOUNTERS | VE_STATE_DEVPERMS | VE_STATE_ADDRS | VE_STATE_NETDEVS;
/// How many network devices one import may name.
pub const VZ_MAX_NETDEVS: u32 = 64;

/// `VZCTL_VE_EXPORT` and `VZCTL_VE_IMPORT`: the state of a VE that the module keeps and a
/// checkpoint (CRIU) does not carry. Each list is a user pointer to `*_count` entries; on
/// export the caller sets `*_capacity` and the module writes up to that many entries and sets
/// `*_count` to how many there are (`netdevs` stays empty: a device's VE is recorded on the
/// device, and the caller names the devices it gave).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VeState {
    pub veid: u32,
    /// Export: 0. Import: `VE_STATE_*` bits, the parts to set.
    pub flags: u32,
    /// Every beancounter row, indexed like `UB_NAMES` (`held` is informative: objects
    /// recreated in the VE charge it again).
    pub counters: [UbCounter; UB_COUNT],
    pub devperm_capacity: u32,
    pub devperm_count: u32,
    /// `DevPerm` entries (their `veid` is ignored on import).
    pub devperms: u64,
    pub addr_capacity: u32,
    pub addr_count: u32,
    /// `VeAddr` entries.
    pub addrs: u64,
    pub netdev_capacity: u32,
    pub netdev_count: u32,
    /// `[u8; NETDEV_NAME_LEN]` entries, NUL-terminated names.
    pub netdevs: u64,
}

impl VeState {
    /// An empty state of VE `veid`, for the caller to fill or to pass as the buffer.
    pub const fn new(veid: u32) -> Self {
        VeState {
            veid,
            flags: 0,
            counters: [UbCounter {
                held: 0,
                maxheld: 0,
                barrier: 0,
                limit: 0,
                failcnt: 0,
            }; UB_COUNT],
            devperm_capacity: 0,
            devperm_count: 0,
            devperms: 0,
            addr_capacity: 0,
            addr_count: 0,
            addrs: 0,
            netdev_capacity: 0,
            netdev_count: 0,
            netdevs: 0,
        }
    }
}

/// `VZCTL_VE_ATTACH`: the task with host pid `pid` enters VE `veid` (its children later
/// inherit it through fork).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VeAttach {
    pub veid: u32,
    pub pid: i32,
}

pub const VZCTL_VE_CREATE: u32 = iow::<VeCreate>(NR_BASE + 1);
pub const VZCTL_VE_DESTROY: u32 = iow::<VeRef>(NR_BASE + 2);
pub const VZCTL_VE_ENTER: u32 = iow::<VeRef>(NR_BASE + 3);
pub const VZCTL_VE_INFO: u32 = iowr::<VeInfo>(NR_BASE + 4);
pub const VZCTL_VE_LIST: u32 = iowr::<VeList>(NR_BASE + 5);
pub const VZCTL_PID_INFO: u32 = iowr::<PidInfo>(NR_BASE + 6);
pub const VZCTL_SET_DEVPERMS: u32 = iow::<DevPerm>(NR_BASE + 7);
pub const VZCTL_GET_DEVPERMS: u32 = iowr::<DevPermList>(NR_BASE + 8);
pub const VZCTL_VE_NETDEV: u32 = iow::<NetDev>(NR_BASE + 9);
pub const VZCTL_UB_SET: u32 = iow::<UbSet>(NR_BASE + 10);
pub const VZCTL_UB_GET: u32 = iowr::<UbGet>(NR_BASE + 11);
pub const VZCTL_VE_CONFIGURE: u32 = iow::<VeConfig>(NR_BASE + 12);
pub const VZCTL_VE_EXPORT: u32 = iowr::<VeState>(NR_BASE + 13);
pub const VZCTL_VE_IMPORT: u32 = iow::<VeState>(NR_BASE + 14);
pub const VZCTL_VE_ATTACH: u32 = iow::<VeAttach>(NR_BASE + 15);

// Layout asserts: any change here is an ABI change and must bump `VZ_ABI_VERSION`.
const _: () = assert!(core::mem::size_of::<VersionInfo>() == 40);
const _: () = assert!(core::mem::offset_of!(VersionInfo, abi_version) == 0);
const _: () = assert!(core::mem::offset_of!(VersionInfo, reserved) == 4);
const _: () = assert!(core::mem::offset_of!(VersionInfo, module_version) == 8);
const _: () = assert!(core::mem::size_of::<VeCreate>() == 8);
const _: () = assert!(core::mem::size_of::<VeRef>() == 8);
const _: () = assert!(core::mem::size_of::<VeInfo>() == 56);
const _: () = assert!(core::mem::offset_of!(VeInfo, init_pid) == 12);
const _: () = assert!(core::mem::offset_of!(VeInfo, created) == 16);
const _: () = assert!(core::mem::size_of::<VeList>() == 16);
const _: () = assert!(core::mem::offset_of!(VeList, capacity) == 8);
const _: () = assert!(core::mem::size_of::<PidInfo>() == 16);
const _: () = assert!(core::mem::size_of::<DevPerm>() == 24);
const _: () = assert!(core::mem::offset_of!(DevPerm, perms) == 20);
const _: () = assert!(core::mem::size_of::<DevPermList>() == 24);
const _: () = assert!(core::mem::offset_of!(DevPermList, entries) == 16);
const _: () = assert!(core::mem::size_of::<NetDev>() == 24);
const _: () = assert!(core::mem::offset_of!(NetDev, name) == 8);
const _: () = assert!(core::mem::size_of::<UbSet>() == 24);
const _: () = assert!(core::mem::size_of::<UbCounter>() == 40);
const _: () = assert!(core::mem::size_of::<UbGet>() == 8 + 40 * UB_COUNT);
const _: () = assert!(core::mem::size_of::<VeAddr>() == 24);
const _: () = assert!(core::mem::size_of::<VeConfig>() == 32);
const _: () = assert!(core::mem::offset_of!(VeConfig, addrs) == 24);
const _: () = assert!(core::mem::offset_of!(UbGet, counters) == 8);
const _: () = assert!(core::mem::size_of::<VeState>() == 8 + 40 * UB_COUNT + 48);
const _: () = assert!(core::mem::size_of::<VeAttach>() == 8);
const _: () = assert!(core::mem::offset_of!(VeState, devperm_capacity) == 8 + 40 * UB_COUNT);
const _: () = assert!(core::mem::offset_of!(VeState, netdevs) == 8 + 40 * UB_COUNT + 40);
const _: () = assert!(VZCTL_GET_VERSION == 0x8028_2e40);
