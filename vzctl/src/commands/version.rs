//! `--version`: the tools' release and, when the module answers, the module's.

use crate::device::ControlDevice;
use crate::error::VzError;
use std::io::Write;

/// The first line of `vzctl --version` and of `vzctl --help`: libvirt's openvz driver reads
/// the release from the latter (see docs/openvz-clients.md, 2.3).
pub const VZCTL_VERSION_LINE: &str = concat!("vzctl version ", env!("CARGO_PKG_VERSION"));

/// Prints `<tool> version X` and then, when the control device opens, the module's ABI
/// version and release.
///
/// The command succeeds also when the device does not open (the module not loaded, a user
/// other than root, inside a VE): the tools' version needs no module, as OpenVZ's `vzctl
/// --version` never asked the kernel, and libvirt connects only when `vzctl` answers with
/// exit 0. Why the module did not answer then goes to `err`.
pub fn run<D: ControlDevice>(
    tool: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
    open_device: impl FnOnce() -> Result<D, VzError>,
) -> Result<(), VzError> {
    let io_err = |source| VzError::System {
        what: "write to stdout".into(),
        source,
    };
    writeln!(out, "{tool} version {}", crate::TOOLS_VERSION).map_err(io_err)?;
    match open_device().and_then(|device| device.version()) {
        Ok(info) => writeln!(
            out,
            "vz module ABI version {} (module {})",
            info.abi_version,
            info.module_version_str().unwrap_or("unknown")
        )
        .map_err(io_err),
        Err(why) => {
            // A closed stderr must not fail the command either.
            let _ = writeln!(err, "{tool}: vz module: {why}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::fake::FakeDevice;
    use vz_abi::VZ_ABI_VERSION;

    fn printed(
        open_device: impl FnOnce() -> Result<FakeDevice, VzError>,
    ) -> (Result<(), VzError>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = run("vzctl", &mut out, &mut err, open_device);
        (
            result,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn prints_tools_and_module_versions() {
        let device = FakeDevice {
            release: "9.8.7",
            ..FakeDevice::default()
        };
        let (result, out, err) = printed(|| Ok(device));
        result.unwrap();
        assert_eq!(
            out,
            format!(
                "{VZCTL_VERSION_LINE}\nvz module ABI version {VZ_ABI_VERSION} (module 9.8.7)\n"
            )
        );
        assert_eq!(err, "");
    }

    #[test]
    fn without_the_module_prints_tools_version_and_succeeds() {
        let (result, out, err) = printed(|| Err(VzError::ModuleNotLoaded("/dev/vzctl".into())));
        result.unwrap();
        assert_eq!(out, format!("{VZCTL_VERSION_LINE}\n"));
        assert!(err.starts_with("vzctl: vz module: /dev/vzctl: "));
        assert!(err.contains("not loaded"), "{err}");
        let (result, out, err) = printed(|| Err(VzError::PermissionDenied("/dev/vzctl".into())));
        result.unwrap();
        assert_eq!(out, format!("{VZCTL_VERSION_LINE}\n"));
        assert!(err.contains("/dev/vzctl"), "{err}");
    }

    #[test]
    fn the_line_is_the_tools_release() {
        assert_eq!(
            VZCTL_VERSION_LINE,
            format!("vzctl version {}", crate::TOOLS_VERSION)
        );
    }
}
