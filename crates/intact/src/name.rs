//! Temp file names: `.{target}.{random}.intact-tmp`, generated and recognised.
//!
//! Pure functions, so the pattern can be property-tested: every generated name is recognised,
//! fits in `NAME_MAX`, and nothing without the exact shape is ever taken for a temp file.

use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasher, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Ends every temp file name; `sweep` only looks at names ending with it.
pub(crate) const SUFFIX: &str = ".intact-tmp";
/// The random part: 16 lowercase hex digits (64 bits).
const RANDOM_DIGITS: usize = 16;
/// The longest file name most filesystems accept (ext4, xfs, btrfs, tmpfs: 255 bytes).
const NAME_MAX: usize = 255;
/// Room left for the target's name: `NAME_MAX` minus `.`, `.`, the digits and the suffix.
const STEM_MAX: usize = NAME_MAX - 2 - RANDOM_DIGITS - SUFFIX.len();

/// The temp file name for target file name `target` with random part `random`.
///
/// A long target name is shortened (at a character boundary when it is UTF-8) so the temp name
/// still fits in 255 bytes: a target name that is valid must never fail as a temp name.
pub(crate) fn temp_name(target: &OsStr, random: u64) -> OsString {
    let stem = shorten(target.as_bytes(), STEM_MAX);
    let mut name = Vec::with_capacity(stem.len() + 2 + RANDOM_DIGITS + SUFFIX.len());
    name.push(b'.');
    name.extend_from_slice(stem);
    name.extend_from_slice(format!(".{random:016x}").as_bytes());
    name.extend_from_slice(SUFFIX.as_bytes());
    OsString::from_vec(name)
}

/// The first `max` bytes of `bytes`, cut back to a character boundary if `bytes` is UTF-8.
fn shorten(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let end = (0..=max).rev().find(|&i| text.is_char_boundary(i));
            &bytes[..end.unwrap_or(0)]
        }
        Err(_) => &bytes[..max],
    }
}

/// A recognised temp file name: the (possibly shortened) target name and the random part.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TempName<'a> {
    pub(crate) stem: &'a [u8],
    pub(crate) random: u64,
}

/// Recognises a name made by [`temp_name`]; anything else is `None`.
pub(crate) fn parse_temp_name(name: &OsStr) -> Option<TempName<'_>> {
    let bytes = name.as_bytes();
    let inner = bytes.strip_prefix(b".")?.strip_suffix(SUFFIX.as_bytes())?;
    let split = inner.len().checked_sub(RANDOM_DIGITS + 1)?;
    let (stem, dot_digits) = inner.split_at(split);
    let digits = dot_digits.strip_prefix(b".")?;
    if stem.is_empty()
        || !digits
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let random = u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
    Some(TempName { stem, random })
}

/// 64 unpredictable-enough bits for a temp name, without a dependency or a syscall.
///
/// `O_EXCL` (and `EEXIST` from `linkat`) makes a collision harmless: the caller retries with
/// a fresh name. So this only needs to make one unlikely. It mixes std's `RandomState` (a
/// random key per thread, seeded from the OS once, then stepped on every call), a
/// process-wide counter and the clock in nanoseconds. A forked child inherits the key and
/// the counter, so parent and child differ by the clock alone; a tie costs one retry. (The
/// pid would separate them, but `getpid` is a syscall on every call, and std does not cache
/// it.)
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn makes_the_documented_shape() {
        let name = temp_name(OsStr::new("out.json"), 0xabc);
        assert_eq!(name, OsStr::new(".out.json.0000000000000abc.intact-tmp"));
    }

    #[test]
    fn rejects_near_misses() {
        for name in [
            ".out.json.0000000000000abc.intact-tm",
            "out.json.0000000000000abc.intact-tmp",
            "..0000000000000abc.intact-tmp",
            ".out.json.0000000000000ABC.intact-tmp",
            ".out.json.000000000000abc.intact-tmp",
            ".out.json-0000000000000abc.intact-tmp",
            ".intact-tmp",
            ".x.intact-tmp",
        ] {
            assert_eq!(parse_temp_name(OsStr::new(name)), None, "{name}");
        }
    }

    #[test]
    fn shortens_at_a_character_boundary() {
        let long = "é".repeat(200);
        let name = temp_name(OsStr::new(&long), 1);
        assert!(name.len() <= NAME_MAX);
        assert!(name.to_str().is_some(), "still valid UTF-8");
    }

    #[test]
    fn random_parts_differ() {
        let a = random_u64();
        let b = random_u64();
        assert_ne!(a, b);
    }

    fn file_name() -> impl Strategy<Value = Vec<u8>> {
        // Any bytes a Unix file name may hold: not NUL, not '/'; 1..=255 bytes.
        proptest::collection::vec(
            any::<u8>().prop_filter("no NUL or /", |b| *b != 0 && *b != b'/'),
            1..=255,
        )
    }

    proptest! {
        #[test]
        fn every_generated_name_is_recognised(target in file_name(), random in any::<u64>()) {
            let name = temp_name(OsStr::from_bytes(&target), random);
            prop_assert!(name.len() <= NAME_MAX);
            let parsed = parse_temp_name(&name).expect("generated name parses");
            prop_assert_eq!(parsed.random, random);
            prop_assert!(target.starts_with(parsed.stem));
        }

        #[test]
        fn unicode_names_stay_unicode(target in "[^/\u{0}]{1,120}", random in any::<u64>()) {
            let name = temp_name(OsStr::new(&target), random);
            prop_assert!(name.len() <= NAME_MAX);
            prop_assert!(name.to_str().is_some());
        }

        #[test]
        fn names_without_the_suffix_are_never_temp_names(name in file_name()) {
            prop_assume!(!name.ends_with(SUFFIX.as_bytes()));
            prop_assert_eq!(parse_temp_name(OsStr::from_bytes(&name)), None);
        }
    }
}
