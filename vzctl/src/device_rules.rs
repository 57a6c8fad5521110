//! Device access of a VE: OpenVZ's `--devices b|c:major:minor|all:[r][w][q]|none` (a rule;
//! the admin makes the node) and `--devnodes name:[r][w][q]|none` (a rule for the host's
//! /dev/NAME, whose node vzctl also makes in the VE's /dev). `q` (quota) is accepted and has
//! no effect. A rule also allows mknod of the device, so that the node can be made inside.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use vz_abi as abi;

/// One rule, without its VE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `abi::DEV_CHAR` or `abi::DEV_BLOCK`.
    pub kind: u32,
    pub major: u32,
    pub minor: u32,
    /// `abi::DEVPERM_ALL_MINORS` or 0.
    pub flags: u32,
    /// `abi::DEVPERM_*`; 0 is an explicit deny (`none`).
    pub perms: u32,
}

impl Rule {
    pub fn for_ve(&self, veid: u32) -> abi::DevPerm {
        abi::DevPerm {
            veid,
            kind: self.kind,
            major: self.major,
            minor: self.minor,
            flags: self.flags,
            perms: self.perms,
        }
    }
}

/// `[r][w][q]` or `none`.
fn parse_perms(text: &str) -> Result<u32, String> {
    if text == "none" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("no permissions (r, w, q or none)".into());
    }
    let mut perms = 0;
    for c in text.chars() {
        perms |= match c {
            'r' => abi::DEVPERM_READ,
            'w' => abi::DEVPERM_WRITE,
            'q' => 0,
            _ => return Err(format!("unknown permission {c:?} (r, w, q or none)")),
        };
    }
    Ok(if perms == 0 {
        0
    } else {
        perms | abi::DEVPERM_MKNOD
    })
}

/// One `--devices` value: `b|c:major:minor|all:perms`.
pub fn parse_device(text: &str) -> Result<Rule, String> {
    let bad = |why: String| format!("invalid device {text:?}: {why}");
    let parts: Vec<&str> = text.split(':').collect();
    let [kind, major, minor, perms] = parts.as_slice() else {
        return Err(bad("expected b|c:major:minor|all:[r][w][q]|none".into()));
    };
    let kind = match *kind {
        "c" => abi::DEV_CHAR,
        "b" => abi::DEV_BLOCK,
        other => return Err(bad(format!("{other:?} is not b or c"))),
    };
    let number = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| bad(format!("{s:?} is not a number")))
    };
    let major = number(major)?;
    let (minor, flags) = match *minor {
        "all" => (0, abi::DEVPERM_ALL_MINORS),
        n => (number(n)?, 0),
    };
    Ok(Rule {
        kind,
        major,
        minor,
        flags,
        perms: parse_perms(perms).map_err(bad)?,
    })
}

/// One `--devnodes` value: `name:perms`, `name` a node under the host's /dev (`dev` here).
/// Returns the node's name and its rule.
pub fn parse_devnode(dev: &Path, text: &str) -> Result<(String, Rule), String> {
    let bad = |why: String| format!("invalid device node {text:?}: {why}");
    let (name, perms) = text
        .rsplit_once(':')
        .ok_or_else(|| bad("expected name:[r][w][q]|none".into()))?;
    let name = name.strip_prefix("/dev/").unwrap_or(name);
    if name.is_empty()
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("not a name under /dev".into()));
    }
    let path = dev.join(name);
    let meta = std::fs::metadata(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let file_type = meta.file_type();
    let kind = if file_type.is_char_device() {
        abi::DEV_CHAR
    } else if file_type.is_block_device() {
        abi::DEV_BLOCK
    } else {
        return Err(bad(format!("{} is not a device node", path.display())));
    };
    let rdev = std::os::unix::fs::MetadataExt::rdev(&meta);
    let rule = Rule {
        kind,
        // Linux's dev_t holds a 32-bit major and minor (MKDEV's 12 and 20 bits in the kernel).
        major: u32::try_from(nix::sys::stat::major(rdev))
            .map_err(|_| bad(format!("{}: major number too large", path.display())))?,
        minor: u32::try_from(nix::sys::stat::minor(rdev))
            .map_err(|_| bad(format!("{}: minor number too large", path.display())))?,
        flags: 0,
        perms: parse_perms(perms).map_err(bad)?,
    };
    Ok((name.to_owned(), rule))
}

/// The words of a DEVICES or DEVNODES config value.
pub fn words(value: Option<&str>) -> Vec<&str> {
    value.unwrap_or_default().split_whitespace().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_follow_openvz_syntax() {
        let rule = parse_device("c:10:200:rw").unwrap();
        assert_eq!(
            (rule.kind, rule.major, rule.minor, rule.flags),
            (abi::DEV_CHAR, 10, 200, 0)
        );
        assert_eq!(rule.perms, abi::DEVPERM_ALL);
        let all = parse_device("b:8:all:r").unwrap();
        assert_eq!(all.flags, abi::DEVPERM_ALL_MINORS);
        assert_eq!(all.perms, abi::DEVPERM_READ | abi::DEVPERM_MKNOD);
        assert_eq!(parse_device("c:1:3:none").unwrap().perms, 0);
        assert_eq!(parse_device("c:1:3:q").unwrap().perms, 0);
        for bad in ["x:1:3:rw", "c:1:3", "c:one:3:rw", "c:1:3:rx", "c:1:3:"] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devnodes_take_the_hosts_node() {
        let (name, rule) = parse_devnode(Path::new("/dev"), "null:rw").unwrap();
        assert_eq!(name, "null");
        assert_eq!((rule.kind, rule.major, rule.minor), (abi::DEV_CHAR, 1, 3));
        assert!(parse_devnode(Path::new("/dev"), "../etc/passwd:rw").is_err());
        assert!(parse_devnode(Path::new("/dev"), "nosuchnode:rw").is_err());
        assert!(parse_devnode(Path::new("/dev"), "null").is_err());
    }
}
