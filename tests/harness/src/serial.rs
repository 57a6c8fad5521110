//! What the guest says on its serial console: protocol markers and kernel faults.

/// Printed by the guest init once userland runs.
pub const READY: &str = "VZ-GUEST-READY";
/// `VZ-GUEST-EXIT <status>`: the guest's payload finished with this status.
pub const EXIT: &str = "VZ-GUEST-EXIT ";
/// `VZ-CASES-TOTAL <n>`: how many cases the guest is about to run.
pub const CASES_TOTAL: &str = "VZ-CASES-TOTAL ";
/// `VZ-CASE PASS|FAIL <name> <milliseconds>`: one finished case.
pub const CASE: &str = "VZ-CASE ";
/// `VZ-CASE-OUTPUT <line>`: output of a failed case.
pub const CASE_OUTPUT: &str = "VZ-CASE-OUTPUT ";
/// Start and end of the guest's dmesg dump.
pub const DMESG_BEGIN: &str = "VZ-DMESG-BEGIN";
pub const DMESG_END: &str = "VZ-DMESG-END";

/// Kernel messages that fail a run wherever they appear.
const FAULT_PATTERNS: &[&str] = &[
    "Oops",
    "BUG:",
    "WARNING:",
    "Kernel panic",
    "KASAN",
    "UBSAN",
    "general protection fault",
    "rust_panic",
    "possible circular locking",
    "unreferenced object",
];

/// Returns the fault pattern found in a serial line, if any.
pub fn kernel_fault(line: &str) -> Option<&'static str> {
    // The guest's own markers and case output may quote words like "BUG:" on purpose.
    if line.starts_with(CASE_OUTPUT) || line.starts_with(CASE) {
        return None;
    }
    FAULT_PATTERNS.iter().copied().find(|p| line.contains(p))
}

/// One finished in-guest case.
#[derive(Debug, PartialEq, Eq)]
pub struct CaseResult {
    pub passed: bool,
    pub name: String,
    pub millis: u64,
}

/// Parses a `VZ-CASE` line.
pub fn parse_case(line: &str) -> Option<CaseResult> {
    let rest = line.strip_prefix(CASE)?;
    let mut words = rest.split_whitespace();
    let passed = match words.next()? {
        "PASS" => true,
        "FAIL" => false,
        _ => return None,
    };
    let name = words.next()?.to_owned();
    let millis = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    Some(CaseResult {
        passed,
        name,
        millis,
    })
}

/// Parses `VZ-GUEST-EXIT <status>`.
pub fn parse_exit(line: &str) -> Option<i32> {
    line.strip_prefix(EXIT)?.trim().parse().ok()
}

/// Parses `VZ-CASES-TOTAL <n>`.
pub fn parse_total(line: &str) -> Option<usize> {
    line.strip_prefix(CASES_TOTAL)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kernel_faults() {
        assert_eq!(
            kernel_fault("[    1.2] WARNING: CPU: 0 PID: 1 at mm/x.c:1"),
            Some("WARNING:")
        );
        assert_eq!(
            kernel_fault("[    3.0] BUG: KASAN: slab-out-of-bounds"),
            Some("BUG:")
        );
        assert_eq!(kernel_fault("[    0.5] Oops: 0000 [#1] SMP"), Some("Oops"));
        assert_eq!(kernel_fault("vz 5.0.0 loaded, ABI 4"), None);
    }

    #[test]
    fn case_output_is_not_a_fault() {
        assert_eq!(kernel_fault("VZ-CASE-OUTPUT grep -c 'BUG:' dmesg"), None);
    }

    #[test]
    fn parses_case_lines() {
        assert_eq!(
            parse_case("VZ-CASE PASS 10-module/test_loads 120"),
            Some(CaseResult {
                passed: true,
                name: "10-module/test_loads".into(),
                millis: 120
            })
        );
        assert!(!parse_case("VZ-CASE FAIL a/b 3").unwrap().passed);
        assert_eq!(parse_case("VZ-CASE MAYBE a/b 3"), None);
        assert_eq!(parse_case("VZ-CASE"), None);
    }

    #[test]
    fn parses_exit_and_total() {
        assert_eq!(parse_exit("VZ-GUEST-EXIT 3"), Some(3));
        assert_eq!(parse_exit("VZ-GUEST-EXIT x"), None);
        assert_eq!(parse_total("VZ-CASES-TOTAL 12"), Some(12));
    }
}
