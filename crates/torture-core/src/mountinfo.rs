//! Pure parser for `/proc/self/mountinfo`, and the lookup of the mount a path lives on.
//!
//! Line format (proc(5)): `id parent major:minor root mount-point mount-options [optional...] -
//! fstype source super-options`. Paths escape space, tab, newline and backslash as `\ooo` octal.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One mount, as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// Per-mount options (`rw,relatime`).
    pub mount_options: String,
    /// Per-superblock options (`rw,discard,data=ordered`).
    pub super_options: String,
}

impl Mount {
    /// Mount and superblock options in one comma-separated list, without duplicates.
    pub fn all_options(&self) -> Vec<&str> {
        let mut options: Vec<&str> = Vec::new();
        let both = self
            .mount_options
            .split(',')
            .chain(self.super_options.split(','));
        for option in both.filter(|option| !option.is_empty()) {
            if !options.contains(&option) {
                options.push(option);
            }
        }
        options
    }
}

/// A mountinfo line that does not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line_number: usize,
    pub line: String,
}

/// Parses a whole mountinfo text; the first malformed line is an error.
pub fn parse(text: &str) -> Result<Vec<Mount>, BadLine> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            parse_line(line).ok_or_else(|| BadLine {
                line_number: index + 1,
                line: line.to_owned(),
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let mount_point = *fields.get(4)?;
    let mount_options = *fields.get(5)?;
    let mut tail = after.split(' ');
    let fstype = tail.next()?;
    let source = tail.next()?;
    let super_options = tail.next().unwrap_or("");
    Some(Mount {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype: unescape(fstype),
        source: unescape(source),
        mount_options: mount_options.to_owned(),
        super_options: super_options.to_owned(),
    })
}

/// Undoes the kernel's `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match octal_escape(&bytes[index..]) {
            Some(byte) => {
                out.push(byte);
                index += 4;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn octal_escape(bytes: &[u8]) -> Option<u8> {
    let [b'\\', a, b, c, ..] = *bytes else {
        return None;
    };
    let digit = |d: u8| (b'0'..=b'7').contains(&d).then(|| u32::from(d - b'0'));
    let value = digit(a)? * 64 + digit(b)? * 8 + digit(c)?;
    u8::try_from(value).ok()
}

/// The mount that `path` (absolute, symlinks resolved) lives on: the longest mount point that is
/// a prefix of it, the last one listed when several are stacked on the same point.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, mount)| path.starts_with(&mount.mount_point))
        .max_by_key(|(index, mount)| (mount.mount_point.components().count(), *index))
        .map(|(_, mount)| mount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684096k
90 27 7:3 / /var/tmp/torture\\040bench/mnt-xfs rw,relatime shared:5 master:1 - xfs /dev/loop3 rw,attr2,inode64
91 27 0:50 / /var/tmp/stack rw - tmpfs first rw
92 27 0:51 / /var/tmp/stack rw - tmpfs second rw
";

    #[test]
    fn parses_fields_and_optional_fields() {
        let mounts = parse(SAMPLE).unwrap();
        assert_eq!(mounts.len(), 5);
        let xfs = &mounts[2];
        assert_eq!(xfs.mount_point, Path::new("/var/tmp/torture bench/mnt-xfs"));
        assert_eq!(xfs.fstype, "xfs");
        assert_eq!(xfs.source, "/dev/loop3");
        assert_eq!(xfs.mount_options, "rw,relatime");
        assert_eq!(xfs.super_options, "rw,attr2,inode64");
        assert_eq!(xfs.all_options(), ["rw", "relatime", "attr2", "inode64"]);
    }

    #[test]
    fn finds_the_deepest_and_topmost_mount() {
        let mounts = parse(SAMPLE).unwrap();
        let find = |path: &str| mount_of(&mounts, Path::new(path)).unwrap().source.clone();
        assert_eq!(find("/work/main"), "/dev/vda");
        assert_eq!(find("/dev/shm/x"), "tmpfs");
        assert_eq!(find("/var/tmp/torture bench/mnt-xfs/64KiB"), "/dev/loop3");
        assert_eq!(find("/var/tmp/stack/file"), "second");
        // A prefix of the name is not a parent directory.
        assert_eq!(find("/var/tmp/stacked"), "/dev/vda");
    }

    #[test]
    fn a_malformed_line_is_reported_with_its_number() {
        let error = parse("27 1 254:0 / / rw - ext4 /dev/vda rw\nnonsense\n").unwrap_err();
        assert_eq!(error.line_number, 2);
        assert_eq!(error.line, "nonsense");
    }

    #[test]
    fn the_real_mountinfo_parses_and_has_a_root_mount() {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts = parse(&text).unwrap();
        assert!(mount_of(&mounts, Path::new("/")).is_some());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn escaped_mount_points_round_trip(name in "[ -~\t\n]{1,40}") {
            let escaped: String = name.chars().map(|c| match c {
                ' ' | '\t' | '\n' | '\\' => format!("\\{:03o}", c as u32),
                other => other.to_string(),
            }).collect();
            let line = format!("1 0 0:1 / /{escaped} rw - tmpfs none rw");
            let mounts = parse(&line).unwrap();
            prop_assert_eq!(mounts[0].mount_point.clone(), PathBuf::from(format!("/{name}")));
        }
    }
}
