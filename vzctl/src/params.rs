//! Parsing of the values `vzctl set` takes and the configuration files hold.
//!
//! Every parser returns a message naming the value at fault (and the parameter where the parser
//! knows it); commands wrap it in the error whose exit code fits.

use std::net::Ipv4Addr;
use vz_abi::{UB_NAMES, UB_UNLIMITED, VZ_VEID_MAX};

/// The unit a beancounter counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Objects: processes, sockets, files. No size suffixes are accepted.
    Items,
    /// Memory pages of [`PAGE_SIZE`] bytes.
    Pages,
    /// Bytes.
    Bytes,
}

/// The page size UBC page counts are expressed in (x86_64).
pub const PAGE_SIZE: u64 = 4096;

/// A settable user beancounter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UbcParam {
    /// The lowercase option name, as in `vzctl set --numproc`.
    pub name: &'static str,
    /// The configuration key, as in `NUMPROC="240:240"`.
    pub key: &'static str,
    /// vzlist's column header, as in `NPROC`.
    pub header: &'static str,
    /// OpenVZ's resource id: the index into [`vz_abi::UB_NAMES`].
    pub resource: u32,
    /// The unit of barrier and limit.
    pub unit: Unit,
}

/// The id of the beancounter called `name` in [`vz_abi::UB_NAMES`].
///
/// Only used to initialise constants: a name missing from the ABI table stops the build.
const fn ub_id(name: &str) -> u32 {
    let mut id = 0;
    while id < UB_NAMES.len() {
        if str_eq(UB_NAMES[id], name) {
            #[allow(clippy::cast_possible_truncation, reason = "UB_NAMES has 25 entries")]
            return id as u32;
        }
        id += 1;
    }
    panic!("beancounter name missing from vz_abi::UB_NAMES")
}

/// String equality usable in constants.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn ubc(name: &'static str, key: &'static str, header: &'static str, unit: Unit) -> UbcParam {
    UbcParam {
        name,
        key,
        header,
        resource: ub_id(name),
        unit,
    }
}

/// Every settable OpenVZ beancounter, in the order of vzctl(8).
pub const UBC_PARAMS: &[UbcParam] = &[
    ubc("numproc", "NUMPROC", "NPROC", Unit::Items),
    ubc("numtcpsock", "NUMTCPSOCK", "NTCPSOCK", Unit::Items),
    ubc("numothersock", "NUMOTHERSOCK", "NOTHSOCK", Unit::Items),
    ubc("vmguarpages", "VMGUARPAGES", "VMGUARP", Unit::Pages),
    ubc("kmemsize", "KMEMSIZE", "KMEMSIZE", Unit::Bytes),
    ubc("tcpsndbuf", "TCPSNDBUF", "TCPSNDB", Unit::Bytes),
    ubc("tcprcvbuf", "TCPRCVBUF", "TCPRCVB", Unit::Bytes),
    ubc("othersockbuf", "OTHERSOCKBUF", "OTHSOCKB", Unit::Bytes),
    ubc("dgramrcvbuf", "DGRAMRCVBUF", "DGRAMRB", Unit::Bytes),
    ubc("oomguarpages", "OOMGUARPAGES", "OOMGUARP", Unit::Pages),
    ubc("lockedpages", "LOCKEDPAGES", "LOCKEDP", Unit::Pages),
    ubc("privvmpages", "PRIVVMPAGES", "PRIVVMP", Unit::Pages),
    ubc("shmpages", "SHMPAGES", "SHMP", Unit::Pages),
    ubc("numfile", "NUMFILE", "NFILE", Unit::Items),
    ubc("numflock", "NUMFLOCK", "NFLOCK", Unit::Items),
    ubc("numpty", "NUMPTY", "NPTY", Unit::Items),
    ubc("numsiginfo", "NUMSIGINFO", "NSIGINFO", Unit::Items),
    ubc("dcachesize", "DCACHESIZE", "DCACHESZ", Unit::Bytes),
    ubc("numiptent", "NUMIPTENT", "NIPTENT", Unit::Items),
    ubc("physpages", "PHYSPAGES", "PHYSP", Unit::Pages),
    ubc("swappages", "SWAPPAGES", "SWAPP", Unit::Pages),
];

/// The beancounter with option name `name` (`"numproc"`).
pub fn ubc_param(name: &str) -> Option<&'static UbcParam> {
    UBC_PARAMS.iter().find(|p| p.name == name)
}

/// The beancounter with configuration key `key` (`"NUMPROC"`).
pub fn ubc_param_by_key(key: &str) -> Option<&'static UbcParam> {
    UBC_PARAMS.iter().find(|p| p.key == key)
}

/// Parses a UBC value: `N` sets barrier and limit to N, `B:L` sets both.
///
/// Each part is a non-negative integer in the parameter's unit, `unlimited`, or (except for
/// `num*` parameters) a number with a suffix: `K`, `M`, `G`, `T` (binary multiples of bytes,
/// fractions such as `2.2G` allowed), `P` (pages) or `B` (bytes). Byte amounts given to a
/// page parameter are rounded up to whole pages. Returns `(barrier, limit)`.
pub fn parse_ubc(param: &UbcParam, text: &str) -> Result<(u64, u64), String> {
    let fail = |why: String| format!("invalid value {text:?} for {}: {why}", param.name);
    let (barrier, limit) = split_pair(text).map_err(fail)?;
    let barrier = parse_ubc_part(param, barrier).map_err(fail)?;
    let limit = match limit {
        Some(limit) => parse_ubc_part(param, limit).map_err(fail)?,
        None => barrier,
    };
    if barrier > limit {
        return Err(fail(format!(
            "barrier {} is above limit {}",
            format_ubc_part(barrier),
            format_ubc_part(limit)
        )));
    }
    Ok((barrier, limit))
}

/// Formats barrier and limit as OpenVZ saves them: `"B:L"`, with `unlimited` for
/// [`vz_abi::UB_UNLIMITED`] (`PHYSPAGES="0:unlimited"`).
pub fn format_ubc(barrier: u64, limit: u64) -> String {
    format!("{}:{}", format_ubc_part(barrier), format_ubc_part(limit))
}

fn format_ubc_part(value: u64) -> String {
    if value == UB_UNLIMITED {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// Parses `DISKSPACE`/`--diskspace`: `soft[:hard]`, one value setting both. A plain number is
/// in kilobytes; `K`, `M`, `G` and `T` suffixes (fractions allowed, `2.2G`) are rounded up to
/// whole kilobytes. Returns `(soft, hard)` in kilobytes.
pub fn parse_disk(text: &str) -> Result<(u64, u64), String> {
    parse_soft_hard(text, "diskspace", |part| {
        parse_sized(part, 1024, SIZE_SUFFIXES, u64::MAX)
    })
}

/// Parses `DISKINODES`/`--diskinodes`: `soft[:hard]` plain numbers, one value setting both.
pub fn parse_inodes(text: &str) -> Result<(u64, u64), String> {
    parse_soft_hard(text, "diskinodes", parse_integer)
}

/// Parses `yes` or `no`.
pub fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("invalid value {text:?}: expected yes or no")),
    }
}

/// The range OpenVZ accepts for `--cpuunits`.
pub const CPUUNITS_RANGE: std::ops::RangeInclusive<u32> =
    vz_abi::CPUUNITS_MIN..=vz_abi::CPUUNITS_MAX;

/// Parses `--cpuunits`: an integer in [`CPUUNITS_RANGE`].
pub fn parse_cpuunits(text: &str) -> Result<u32, String> {
    let fail = |why: &str| format!("invalid value {text:?} for cpuunits: {why}");
    let units = parse_u32(text).map_err(fail)?;
    if !CPUUNITS_RANGE.contains(&units) {
        return Err(fail(&format!(
            "must be between {} and {}",
            CPUUNITS_RANGE.start(),
            CPUUNITS_RANGE.end()
        )));
    }
    Ok(units)
}

/// Parses `--cpulimit`: a percentage of one CPU with an optional trailing `%`; 0 is unlimited.
/// The caller checks the upper bound (100 times the number of CPUs).
pub fn parse_cpulimit(text: &str) -> Result<u32, String> {
    let digits = text.strip_suffix('%').unwrap_or(text);
    parse_u32(digits).map_err(|why| format!("invalid value {text:?} for cpulimit: {why}"))
}

/// Parses `--cpus` and CPUS: a CPU count, or `unlimited`; 0 (what `--cpus unlimited` saves,
/// as CPULIMIT's 0) is unlimited too.
pub fn parse_cpus(text: &str) -> Result<u32, String> {
    if text == "unlimited" {
        return Ok(0);
    }
    parse_u32(text).map_err(|why| format!("invalid value {text:?} for cpus: {why}"))
}

/// Parses a size for `--ram` and `--swap`: bytes, or a number with a `K`, `M`, `G` or `T` suffix
/// (fractions allowed). Returns bytes, at most [`vz_abi::UB_UNLIMITED`].
pub fn parse_ram(text: &str) -> Result<u64, String> {
    parse_sized(text, 1, SIZE_SUFFIXES, UB_UNLIMITED)
        .map_err(|why| format!("invalid size {text:?}: {why}"))
}

/// Checks a host name: dot-separated labels of ASCII letters, digits and `-`, each 1 to 63
/// characters and not starting or ending with `-`, 253 characters in all.
pub fn parse_hostname(text: &str) -> Result<String, String> {
    let fail = |why: &str| format!("invalid hostname {text:?}: {why}");
    if text.is_empty() {
        return Err(fail("empty"));
    }
    if text.len() > 253 {
        return Err(fail("longer than 253 characters"));
    }
    for label in text.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(fail("each dot-separated part must have 1 to 63 characters"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(fail("only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(fail("a part may not start or end with '-'"));
        }
    }
    Ok(text.to_owned())
}

/// Parses `a.b.c.d` or `a.b.c.d/prefix` (prefix 0 to 32). The caller maps an error to exit
/// code 71 (Incorrect IP address format).
pub fn parse_ipv4_with_mask(text: &str) -> Result<(Ipv4Addr, Option<u8>), String> {
    let fail = |why: &str| format!("Incorrect IP address format: {text:?}: {why}");
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| fail("expected an IPv4 address a.b.c.d"))?;
    let prefix = match prefix {
        None => None,
        Some(prefix) => match parse_u32(prefix).ok().filter(|bits| *bits <= 32) {
            Some(bits) => u8::try_from(bits).ok(),
            None => return Err(fail("the prefix length after '/' must be 0 to 32")),
        },
    };
    Ok((addr, prefix))
}

/// Parses a numeric CT ID: 1 to 2147483644 (0 is the host). IDs up to 100 are reserved for
/// OpenVZ's internal purposes but accepted. Names are resolved elsewhere.
pub fn parse_ctid(text: &str) -> Result<u32, String> {
    let fail = |why: &str| format!("invalid CT ID {text:?}: {why}");
    match parse_u32(text).map_err(fail)? {
        0 => Err(fail("0 is the host")),
        id if id > VZ_VEID_MAX => Err(fail(&format!("must not be above {VZ_VEID_MAX}"))),
        id => Ok(id),
    }
}

/// Size suffixes and their multiples of a byte.
const SIZE_SUFFIXES: &[(char, u64)] = &[
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
];

/// UBC suffixes: the size suffixes plus pages and bytes.
const UBC_SUFFIXES: &[(char, u64)] = &[
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
    ('P', PAGE_SIZE),
    ('B', 1),
];

/// Splits `a` or `a:b`; more colons or empty parts are an error.
fn split_pair(text: &str) -> Result<(&str, Option<&str>), String> {
    let mut parts = text.split(':');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    if parts.next().is_some() {
        return Err("expected one value or two separated by ':'".to_owned());
    }
    if first.is_empty() || second.is_some_and(str::is_empty) {
        return Err("empty value".to_owned());
    }
    Ok((first, second))
}

/// Parses `soft[:hard]` with `part` for each side; soft above hard is an error.
fn parse_soft_hard(
    text: &str,
    name: &str,
    part: impl Fn(&str) -> Result<u64, String>,
) -> Result<(u64, u64), String> {
    let fail = |why: String| format!("invalid value {text:?} for {name}: {why}");
    let (soft, hard) = split_pair(text).map_err(fail)?;
    let soft = part(soft).map_err(fail)?;
    let hard = match hard {
        Some(hard) => part(hard).map_err(fail)?,
        None => soft,
    };
    if soft > hard {
        return Err(fail(format!(
            "soft limit {soft} is above hard limit {hard}"
        )));
    }
    Ok((soft, hard))
}

/// One side of a UBC value, in the parameter's unit.
fn parse_ubc_part(param: &UbcParam, text: &str) -> Result<u64, String> {
    if text == "unlimited" {
        return Ok(UB_UNLIMITED);
    }
    let value = match param.unit {
        Unit::Items => {
            if text.ends_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "{text:?}: suffixes are not allowed for num* parameters"
                ));
            }
            parse_integer(text)?
        }
        Unit::Pages => parse_sized(text, PAGE_SIZE, UBC_SUFFIXES, u64::MAX)?,
        Unit::Bytes => parse_sized(text, 1, UBC_SUFFIXES, u64::MAX)?,
    };
    if value > UB_UNLIMITED {
        return Err(format!("{text:?} is above the maximum {UB_UNLIMITED}"));
    }
    Ok(value)
}

/// Parses a plain non-negative decimal integer.
fn parse_integer(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a non-negative integer"));
    }
    text.parse().map_err(|_| format!("{text:?} is too large"))
}

fn parse_u32(text: &str) -> Result<u32, &'static str> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a non-negative integer");
    }
    text.parse().map_err(|_| "too large")
}

/// Parses an amount in units of `unit` bytes: a plain integer is already in that unit; a
/// number with one of `suffixes` (either case; fractions allowed) is converted from bytes and
/// rounded up. The result must not exceed `max`.
fn parse_sized(text: &str, unit: u64, suffixes: &[(char, u64)], max: u64) -> Result<u64, String> {
    let Some(last) = text.chars().last() else {
        return Err("empty value".to_owned());
    };
    if !last.is_ascii_alphabetic() {
        let value = parse_integer(text)?;
        return if value > max {
            Err(format!("{text:?} is above the maximum {max}"))
        } else {
            Ok(value)
        };
    }
    let suffix = last.to_ascii_uppercase();
    let multiple = suffixes
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            let known: String = suffixes.iter().map(|(s, _)| *s).collect();
            format!("unknown suffix {last:?} in {text:?} (known: {known})")
        })?;
    let number = text.strip_suffix(last).unwrap_or(text);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) || number.ends_with('.') {
        return Err(format!("{text:?} is not a number with a suffix"));
    }
    // value = (whole.fraction) * multiple / unit, exactly, rounded up.
    let too_large = || format!("{text:?} is too large");
    let mut mantissa: u128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(digit - b'0')))
            .ok_or_else(too_large)?;
    }
    let scale = u32::try_from(fraction.len())
        .ok()
        .and_then(|len| 10u128.checked_pow(len))
        .ok_or_else(too_large)?;
    let divisor = scale.checked_mul(u128::from(unit)).ok_or_else(too_large)?;
    let value = mantissa
        .checked_mul(u128::from(multiple))
        .map(|bytes| bytes.div_ceil(divisor))
        .ok_or_else(too_large)?;
    match u64::try_from(value) {
        Ok(value) if value <= max => Ok(value),
        _ => Err(format!("{text:?} is above the maximum {max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ubc(name: &str, text: &str) -> Result<(u64, u64), String> {
        parse_ubc(ubc_param(name).unwrap(), text)
    }

    #[test]
    fn every_param_names_its_abi_row() {
        assert_eq!(UBC_PARAMS.len(), 21);
        for param in UBC_PARAMS {
            assert_eq!(UB_NAMES[param.resource as usize], param.name);
            assert!(vz_abi::ub_resource_valid(param.resource));
            assert_eq!(param.key, param.name.to_ascii_uppercase());
            let expected = if param.name.starts_with("num") {
                Unit::Items
            } else if param.name.ends_with("pages") {
                Unit::Pages
            } else {
                Unit::Bytes
            };
            assert_eq!(param.unit, expected, "{}", param.name);
        }
        // Every real ABI row is settable.
        for (id, name) in UB_NAMES.iter().enumerate() {
            if *name != "dummy" {
                assert_eq!(ubc_param(name).map(|p| p.resource as usize), Some(id));
            }
        }
    }

    #[test]
    fn ids_match_openvz() {
        let id = |name| ubc_param(name).unwrap().resource;
        assert_eq!(id("kmemsize"), vz_abi::UB_KMEMSIZE);
        assert_eq!(id("numproc"), vz_abi::UB_NUMPROC);
        assert_eq!(id("vmguarpages"), 7);
        assert_eq!(id("oomguarpages"), 8);
        assert_eq!(id("dcachesize"), 18);
        assert_eq!(id("numiptent"), 23);
        assert_eq!(id("swappages"), 24);
    }

    #[test]
    fn lookup_by_name_and_key() {
        assert_eq!(ubc_param("privvmpages").unwrap().key, "PRIVVMPAGES");
        assert_eq!(ubc_param_by_key("NUMPTY").unwrap().name, "numpty");
        assert!(ubc_param("NUMPROC").is_none());
        assert!(ubc_param_by_key("numproc").is_none());
        assert!(ubc_param("dummy").is_none());
        assert!(ubc_param("avnumproc").is_none());
    }

    #[test]
    fn one_value_sets_both() {
        assert_eq!(ubc("numproc", "240"), Ok((240, 240)));
        assert_eq!(ubc("numproc", "0"), Ok((0, 0)));
        assert_eq!(ubc("numflock", "188:206"), Ok((188, 206)));
    }

    #[test]
    fn unlimited_is_long_max() {
        assert_eq!(ubc("physpages", "0:unlimited"), Ok((0, UB_UNLIMITED)));
        assert_eq!(
            ubc("numproc", "unlimited"),
            Ok((UB_UNLIMITED, UB_UNLIMITED))
        );
        assert_eq!(
            ubc("kmemsize", "9223372036854775807"),
            Ok((UB_UNLIMITED, UB_UNLIMITED))
        );
        assert!(ubc("numproc", "unlimited:5").is_err());
    }

    #[test]
    fn suffixes_convert_to_the_param_unit() {
        // Pages: byte suffixes become pages.
        assert_eq!(ubc("privvmpages", "256M"), Ok((65536, 65536)));
        assert_eq!(ubc("physpages", "0:256M"), Ok((0, 65536)));
        assert_eq!(ubc("swappages", "0:512m"), Ok((0, 131072)));
        assert_eq!(ubc("privvmpages", "1G:2G"), Ok((262_144, 524_288)));
        assert_eq!(ubc("privvmpages", "10P"), Ok((10, 10)));
        assert_eq!(ubc("privvmpages", "4096B"), Ok((1, 1)));
        // Rounded up to whole pages.
        assert_eq!(ubc("privvmpages", "1B"), Ok((1, 1)));
        assert_eq!(ubc("privvmpages", "4097b"), Ok((2, 2)));
        assert_eq!(ubc("shmpages", "1.5K"), Ok((1, 1)));
        // A plain number is already pages.
        assert_eq!(ubc("privvmpages", "65536:69632"), Ok((65536, 69632)));
        // Bytes.
        assert_eq!(
            ubc("kmemsize", "14372700:14790164"),
            Ok((14_372_700, 14_790_164))
        );
        assert_eq!(ubc("kmemsize", "2K"), Ok((2048, 2048)));
        assert_eq!(ubc("kmemsize", "1P"), Ok((4096, 4096)));
        assert_eq!(ubc("tcpsndbuf", "1T"), Ok((1 << 40, 1 << 40)));
        assert_eq!(ubc("dcachesize", "2.5M"), Ok((2_621_440, 2_621_440)));
        // 2.2 GiB is 2362232012.8 bytes, rounded up.
        assert_eq!(ubc("kmemsize", "2.2G"), Ok((2_362_232_013, 2_362_232_013)));
    }

    #[test]
    fn num_params_refuse_suffixes() {
        for text in ["10K", "1P", "5B", "1.5"] {
            let err = ubc("numproc", text).unwrap_err();
            assert!(err.contains("numproc"), "{err}");
            assert!(err.contains(text), "{err}");
        }
    }

    #[test]
    fn malformed_values_name_value_and_param() {
        let err = ubc("numproc", "12Q").unwrap_err();
        assert!(
            err.starts_with("invalid value \"12Q\" for numproc: "),
            "{err}"
        );
        let err = ubc("kmemsize", "12Q").unwrap_err();
        assert!(
            err.starts_with("invalid value \"12Q\" for kmemsize: "),
            "{err}"
        );
        for bad in [
            "", ":", "1:", ":1", "1:2:3", "-1", "+1", " 1", "1 ", "abc", "G", ".5G", "1.G",
            "1..2G", "1.5", "0x10", "1e3", "1KK", "1Ä",
        ] {
            assert!(ubc("kmemsize", bad).is_err(), "{bad:?} accepted");
            assert!(ubc("privvmpages", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn barrier_above_limit_is_refused() {
        let err = ubc("numproc", "10:5").unwrap_err();
        assert!(err.contains("barrier 10 is above limit 5"), "{err}");
        assert!(ubc("physpages", "unlimited:0").is_err());
        assert!(ubc("kmemsize", "2M:1M").is_err());
    }

    #[test]
    fn overflow_is_refused() {
        assert!(ubc("kmemsize", "9223372036854775808").is_err());
        assert!(ubc("numproc", "18446744073709551616").is_err());
        assert!(ubc("kmemsize", "8388608T").is_err(), "2^63 bytes");
        assert_eq!(
            ubc("kmemsize", "8388607T"),
            Ok(((1 << 63) - (1 << 40), (1 << 63) - (1 << 40)))
        );
        assert!(ubc("privvmpages", "99999999999999999999999999999999999999999G").is_err());
        assert!(ubc(
            "privvmpages",
            "1.00000000000000000000000000000000000000001G"
        )
        .is_err());
        // Pages: 2^63 - 1 pages is the maximum, 2^63 pages in bytes is far above it.
        assert!(ubc("privvmpages", "9223372036854775807").is_ok());
        assert!(ubc("privvmpages", "9223372036854775808").is_err());
        assert!(ubc("privvmpages", "40000000000000000000P").is_err());
    }

    #[test]
    fn format_writes_unlimited() {
        assert_eq!(format_ubc(0, UB_UNLIMITED), "0:unlimited");
        assert_eq!(format_ubc(240, 240), "240:240");
        assert_eq!(
            format_ubc(UB_UNLIMITED, UB_UNLIMITED),
            "unlimited:unlimited"
        );
        let param = ubc_param("vmguarpages").unwrap();
        assert_eq!(
            parse_ubc(param, &format_ubc(33792, UB_UNLIMITED)),
            Ok((33792, UB_UNLIMITED))
        );
    }

    #[test]
    fn diskspace_in_kilobytes() {
        assert_eq!(parse_disk("1000"), Ok((1000, 1000)));
        assert_eq!(parse_disk("1000:2000"), Ok((1000, 2000)));
        assert_eq!(parse_disk("2G"), Ok((2_097_152, 2_097_152)));
        // 2.2 GiB is 2306867.2 KiB, rounded up.
        assert_eq!(parse_disk("2G:2.2G"), Ok((2_097_152, 2_306_868)));
        assert_eq!(parse_disk("512K"), Ok((512, 512)));
        assert_eq!(parse_disk("1.5k"), Ok((2, 2)));
        assert_eq!(parse_disk("10m:1t"), Ok((10_240, 1 << 30)));
        for bad in [
            "",
            "1P",
            "1B",
            "2:1",
            "2G:1G",
            "-1",
            "1.5",
            "x",
            "1:2:3",
            "99999999999999999999",
        ] {
            let err = parse_disk(bad).unwrap_err();
            assert!(err.contains("diskspace"), "{err}");
        }
        assert!(parse_disk("17179869184T").is_err(), "2^64 KiB");
    }

    #[test]
    fn inodes_are_plain_numbers() {
        assert_eq!(parse_inodes("131072:144179"), Ok((131_072, 144_179)));
        assert_eq!(parse_inodes("200000"), Ok((200_000, 200_000)));
        for bad in ["1K", "2:1", "", "a", "-5", "1:2:3"] {
            let err = parse_inodes(bad).unwrap_err();
            assert!(err.contains("diskinodes"), "{err}");
        }
    }

    #[test]
    fn yes_no() {
        assert_eq!(parse_yes_no("yes"), Ok(true));
        assert_eq!(parse_yes_no("no"), Ok(false));
        for bad in ["Yes", "y", "1", "", "on"] {
            assert!(parse_yes_no(bad).unwrap_err().contains(&format!("{bad:?}")));
        }
    }

    #[test]
    fn cpu_values() {
        assert_eq!(parse_cpuunits("1000"), Ok(1000));
        assert_eq!(parse_cpuunits("8"), Ok(8));
        assert_eq!(parse_cpuunits("500000"), Ok(500_000));
        for bad in ["7", "500001", "", "1k", "-8", "99999999999"] {
            assert!(parse_cpuunits(bad).unwrap_err().contains("cpuunits"));
        }
        assert_eq!(parse_cpulimit("0"), Ok(0));
        assert_eq!(parse_cpulimit("25"), Ok(25));
        assert_eq!(parse_cpulimit("250%"), Ok(250));
        for bad in ["", "%", "-1", "1.5", "10%%", "x"] {
            assert!(parse_cpulimit(bad).unwrap_err().contains("cpulimit"));
        }
        assert_eq!(parse_cpus("1"), Ok(1));
        assert_eq!(parse_cpus("64"), Ok(64));
        assert_eq!(parse_cpus("unlimited"), Ok(0));
        assert_eq!(parse_cpus("0"), Ok(0));
        for bad in ["", "-1", "two"] {
            assert!(parse_cpus(bad).unwrap_err().contains("cpus"));
        }
    }

    #[test]
    fn ram_sizes_in_bytes() {
        assert_eq!(parse_ram("256M"), Ok(268_435_456));
        assert_eq!(parse_ram("1g"), Ok(1 << 30));
        assert_eq!(parse_ram("1.5G"), Ok(1_610_612_736));
        assert_eq!(parse_ram("4096"), Ok(4096));
        assert_eq!(parse_ram("0"), Ok(0));
        for bad in [
            "",
            "1P",
            "1B",
            "-1M",
            "M",
            "9223372036854775808",
            "8388608T",
        ] {
            assert!(parse_ram(bad).unwrap_err().contains(&format!("{bad:?}")));
        }
    }

    #[test]
    fn hostnames() {
        for good in [
            "ct101",
            "a",
            "web-1.example.com",
            "1.2.3.x",
            &"a".repeat(63),
        ] {
            assert_eq!(parse_hostname(good).as_deref(), Ok(good));
        }
        let long = ["a".repeat(63).as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        for bad in [
            "",
            "-web",
            "web-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "a b",
            "héllo",
            &"a".repeat(64),
            &long,
        ] {
            assert!(parse_hostname(bad).is_err(), "{bad:?} accepted");
        }
        let at_limit = format!(
            "{}.{}",
            ["a".repeat(63).as_str(); 3].join("."),
            "a".repeat(61)
        );
        assert_eq!(at_limit.len(), 253);
        assert!(parse_hostname(&at_limit).is_ok());
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(
            parse_ipv4_with_mask("10.0.0.1"),
            Ok((Ipv4Addr::new(10, 0, 0, 1), None))
        );
        assert_eq!(
            parse_ipv4_with_mask("192.168.1.2/24"),
            Ok((Ipv4Addr::new(192, 168, 1, 2), Some(24)))
        );
        assert_eq!(
            parse_ipv4_with_mask("0.0.0.0/0"),
            Ok((Ipv4Addr::UNSPECIFIED, Some(0)))
        );
        for bad in [
            "",
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1/33",
            "10.0.0.1/",
            "10.0.0.1/-1",
            "a.b.c.d",
            "10.0.0.1/24/1",
            "::1",
            "10.0.0.1 ",
        ] {
            let err = parse_ipv4_with_mask(bad).unwrap_err();
            assert!(err.contains("Incorrect IP address format"), "{err}");
        }
    }

    #[test]
    fn ctids() {
        assert_eq!(parse_ctid("101"), Ok(101));
        assert_eq!(parse_ctid("1"), Ok(1));
        assert_eq!(parse_ctid("100"), Ok(100));
        assert_eq!(parse_ctid("2147483644"), Ok(2_147_483_644));
        for bad in [
            "0",
            "2147483645",
            "4294967296",
            "",
            "-1",
            "+5",
            "web",
            "10 1",
        ] {
            assert!(parse_ctid(bad).unwrap_err().contains("CT ID"), "{bad:?}");
        }
    }
}
