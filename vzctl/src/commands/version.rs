//! `--version`: the tools' release and, when the module is loaded, the module's.

use crate::device::ControlDevice;
use crate::error::VzError;
use std::io::Write;

/// Prints `<tool> version X` and then the module's ABI version and release.
///
/// The tools' own version is printed first in every case, so an admin sees it even when the
/// module is missing; the error that follows then carries OpenVZ's exit code 5.
pub fn run<D: ControlDevice>(
    tool: &str,
    out: &mut dyn Write,
    open_device: impl FnOnce() -> Result<D, VzError>,
) -> Result<(), VzError> {
    let io_err = |source| VzError::System {
        what: "write to stdout".into(),
        source,
    };
    writeln!(out, "{tool} version {}", crate::TOOLS_VERSION).map_err(io_err)?;
    let device = open_device()?;
    let info = device.version()?;
    writeln!(
        out,
        "vz module ABI version {} (module {})",
        info.abi_version,
        info.module_version_str().unwrap_or("unknown")
    )
    .map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::fake::FakeDevice;
    use vz_abi::VZ_ABI_VERSION;

    #[test]
    fn prints_tools_and_module_versions() {
        let mut out = Vec::new();
        let device = FakeDevice {
            release: "9.8.7",
            ..FakeDevice::default()
        };
        run("vzctl", &mut out, || Ok(device)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "vzctl version {}\nvz module ABI version {VZ_ABI_VERSION} (module 9.8.7)\n",
                crate::TOOLS_VERSION
            )
        );
    }

    #[test]
    fn missing_module_prints_tools_version_then_fails_with_5() {
        let mut out = Vec::new();
        let err = run::<FakeDevice>("vzctl", &mut out, || {
            Err(VzError::ModuleNotLoaded("/dev/vzctl".into()))
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("vzctl version "));
    }
}
