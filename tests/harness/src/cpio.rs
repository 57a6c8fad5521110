//! A minimal writer for the kernel's initramfs format (cpio "newc"), used to add a per-run
//! payload (a user's script) to the prebuilt image without rebuilding it.

/// Appends one entry with `mode` (file type and permissions) and `data`.
fn entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8], ino: u32) {
    let name_len = name.len() + 1;
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{name_len:08x}{:08x}",
        0, // uid
        0, // gid
        1, // nlink
        0, // mtime
        data.len(),
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        0, // check
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// An uncompressed newc archive holding `dirs` (mode 0755) and `files` (mode 0755), which the
/// kernel unpacks on top of the image it follows.
pub fn archive(dirs: &[&str], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ino = 1;
    for dir in dirs {
        entry(&mut out, dir, 0o040_755, &[], ino);
        ino += 1;
    }
    for (name, data) in files {
        entry(&mut out, name, 0o100_755, data, ino);
        ino += 1;
    }
    entry(&mut out, "TRAILER!!!", 0, &[], 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_trailer_terminated() {
        let data = archive(&["payload"], &[("payload/script.sh", b"echo hi\n")]);
        assert!(data.starts_with(b"070701"));
        assert_eq!(data.len() % 4, 0);
        let text = String::from_utf8_lossy(&data);
        assert!(text.contains("payload/script.sh\0"));
        assert!(text.contains("echo hi\n"));
        assert!(text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn header_carries_file_size_and_mode() {
        let data = archive(&[], &[("f", b"12345")]);
        let header = std::str::from_utf8(&data[..110]).unwrap();
        assert_eq!(&header[14..22], "000081ed"); // mode: regular file, 0755
        assert_eq!(&header[54..62], "00000005"); // file size
    }
}
