//! What one read of the target is: absent, the old version, one writer's complete version, or
//! torn, and when torn, which versions it mixes over which byte ranges.
//!
//! A mix is cut into pieces by matching each version at the same offsets (racing writers write
//! through their own file offsets, so a torn file is made of stretches of versions at their own
//! places, holes of zeros, and bytes of no version). At each offset the version with the
//! longest match wins; a match counts only when it is at least [`MIN_MATCH_BYTES`] long (or
//! reaches the end of the file), so that a few coincidental equal bytes do not fragment it.

use std::fmt;

use crate::oracle::{FileKind, TargetState};

use super::schedule::WriterId;

/// Shortest stretch that counts as a piece of a version or a hole.
pub const MIN_MATCH_BYTES: usize = 8;

/// The versions a read may legitimately be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions<'a> {
    /// The version in place before the race (`None`: no target at the start).
    pub old: Option<&'a [u8]>,
    /// Writer `i + 1`'s complete version at index `i`.
    pub writers: &'a [Vec<u8>],
}

/// Where a piece of a torn file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The old version, at the same offsets.
    Old,
    /// This writer's version, at the same offsets.
    Writer(WriterId),
    /// Zero bytes no version has there (a hole left by a write past the end).
    Zeros,
    /// Bytes of no version.
    Unknown,
}

/// One stretch of a torn file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Where it comes from.
    pub source: Source,
    /// Where it starts in the file.
    pub offset_bytes: u64,
    /// Its length.
    pub len_bytes: u64,
}

/// A torn file: its pieces, in file order, covering it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// The pieces (none for an empty file).
    pub pieces: Vec<Piece>,
    /// When the file is one piece of a version cut short, that version's full length.
    pub cut_from_bytes: Option<u64>,
}

/// What one read of the target shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// No file.
    Absent,
    /// Exactly the old version.
    Old,
    /// Exactly this writer's version (the lowest-numbered one if several are equal).
    Version(WriterId),
    /// Not a regular file.
    NotRegular(FileKind),
    /// Anything else.
    Torn(Mix),
}

/// Classifies a read of the target.
pub fn classify(state: &TargetState, versions: &Versions<'_>) -> Reading {
    match state {
        TargetState::Absent => Reading::Absent,
        TargetState::NotRegular(kind) => Reading::NotRegular(*kind),
        TargetState::Regular(bytes) => classify_bytes(bytes, versions),
    }
}

/// Classifies a regular file's bytes: exact match with the old version, then each writer's;
/// otherwise a [`Mix`]. The fuzzing entry point.
pub fn classify_bytes(bytes: &[u8], versions: &Versions<'_>) -> Reading {
    if versions.old == Some(bytes) {
        return Reading::Old;
    }
    if let Some(index) = versions.writers.iter().position(|v| v == bytes) {
        return Reading::Version(writer_at(index));
    }
    Reading::Torn(mix(bytes, versions))
}

fn writer_at(index: usize) -> WriterId {
    WriterId(u32::try_from(index + 1).unwrap_or(u32::MAX))
}

/// Cuts `bytes` into pieces (see the module docs).
pub fn mix(bytes: &[u8], versions: &Versions<'_>) -> Mix {
    let sources = sources(versions);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let (source, len) = match anchor(bytes, offset, &sources) {
            Some(found) => found,
            None => (Source::Unknown, unknown_len(bytes, offset, &sources)),
        };
        push_piece(&mut pieces, source, offset, len);
        offset += len;
    }
    let cut_from_bytes = match pieces.as_slice() {
        [only] => version_of(only.source, &sources).map(|v| v.len() as u64),
        _ => None,
    };
    Mix {
        pieces,
        cut_from_bytes,
    }
}

fn sources<'a>(versions: &Versions<'a>) -> Vec<(Source, &'a [u8])> {
    let old = versions.old.map(|old| (Source::Old, old));
    let writers = versions
        .writers
        .iter()
        .enumerate()
        .map(|(i, v)| (Source::Writer(writer_at(i)), v.as_slice()));
    old.into_iter().chain(writers).collect()
}

fn version_of<'a>(source: Source, sources: &[(Source, &'a [u8])]) -> Option<&'a [u8]> {
    sources.iter().find(|(s, _)| *s == source).map(|(_, v)| *v)
}

/// The longest version match at `offset`, else a hole of zeros, if long enough to count.
fn anchor(bytes: &[u8], offset: usize, sources: &[(Source, &[u8])]) -> Option<(Source, usize)> {
    let needed = MIN_MATCH_BYTES.min(bytes.len() - offset);
    let best = sources
        .iter()
        .map(|(source, version)| (*source, match_len(bytes, offset, version)))
        .fold(
            None,
            |best: Option<(Source, usize)>, (source, len)| match best {
                Some((_, best_len)) if best_len >= len => best,
                Some(_) | None => Some((source, len)),
            },
        );
    match best {
        Some((source, len)) if len >= needed => Some((source, len)),
        Some(_) | None => {
            let zeros = bytes[offset..].iter().take_while(|&&b| b == 0).count();
            (zeros >= needed).then_some((Source::Zeros, zeros))
        }
    }
}

fn match_len(bytes: &[u8], offset: usize, version: &[u8]) -> usize {
    let Some(tail) = version.get(offset..) else {
        return 0;
    };
    bytes[offset..]
        .iter()
        .zip(tail)
        .take_while(|(a, b)| a == b)
        .count()
}

/// Bytes of no version: up to the next offset where something anchors.
fn unknown_len(bytes: &[u8], offset: usize, sources: &[(Source, &[u8])]) -> usize {
    (offset + 1..bytes.len())
        .find(|&next| anchor(bytes, next, sources).is_some())
        .unwrap_or(bytes.len())
        - offset
}

fn push_piece(pieces: &mut Vec<Piece>, source: Source, offset: usize, len: usize) {
    match pieces.last_mut() {
        Some(last) if last.source == source => last.len_bytes += len as u64,
        Some(_) | None => pieces.push(Piece {
            source,
            offset_bytes: offset as u64,
            len_bytes: len as u64,
        }),
    }
}

/// `512 bytes`, `12 KiB`, `12300 bytes`: exact, in KiB only when whole.
pub fn format_bytes(bytes: u64) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Old => f.write_str("the old version"),
            Source::Writer(writer) => write!(f, "{writer}'s version"),
            Source::Zeros => f.write_str("zeros"),
            Source::Unknown => f.write_str("bytes of no version"),
        }
    }
}

impl fmt::Display for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.offset_bytes + self.len_bytes;
        let size = format_bytes(self.len_bytes);
        write!(
            f,
            "{size} of {} (bytes {}..{end})",
            self.source, self.offset_bytes
        )
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pieces.as_slice(), self.cut_from_bytes) {
            ([], _) => f.write_str("empty"),
            ([only], Some(full)) => write!(
                f,
                "the first {} of {} (of {})",
                format_bytes(only.len_bytes),
                only.source,
                format_bytes(full)
            ),
            (pieces, _) => {
                let parts: Vec<String> = pieces.iter().map(Piece::to_string).collect();
                f.write_str(&parts.join(" followed by "))
            }
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Absent => f.write_str("absent"),
            Reading::Old => f.write_str("the old version"),
            Reading::Version(writer) => write!(f, "{writer}'s version"),
            Reading::NotRegular(kind) => write!(f, "not a regular file ({kind:?})"),
            Reading::Torn(mix) => write!(f, "torn: {mix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn version(fill: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| fill.wrapping_add((i % 7) as u8)).collect()
    }

    #[test]
    fn exact_versions_are_named() {
        let writers = [version(b'a', 40), version(b'k', 50)];
        let old = version(b'A', 30);
        let versions = Versions {
            old: Some(&old),
            writers: &writers,
        };
        assert_eq!(classify_bytes(&old, &versions), Reading::Old);
        assert_eq!(
            classify_bytes(&writers[1], &versions),
            Reading::Version(WriterId(2))
        );
        assert_eq!(classify(&TargetState::Absent, &versions), Reading::Absent);
    }

    #[test]
    fn a_mix_names_its_versions_holes_and_ranges() {
        let writers = [version(b'a', 40 * 1024), version(b'k', 40 * 1024)];
        let versions = Versions {
            old: None,
            writers: &writers,
        };
        // Writer 2 truncated and wrote 12 KiB; writer 1 went on writing at 30 KiB.
        let mut file = writers[1][..12 * 1024].to_vec();
        file.resize(30 * 1024, 0);
        file.extend_from_slice(&writers[0][30 * 1024..]);
        let Reading::Torn(mix) = classify_bytes(&file, &versions) else {
            panic!("not torn");
        };
        assert_eq!(
            mix.to_string(),
            "12 KiB of writer 2's version (bytes 0..12288) followed by 18 KiB of zeros \
             (bytes 12288..30720) followed by 10 KiB of writer 1's version (bytes 30720..40960)"
        );
    }

    #[test]
    fn a_prefix_and_an_empty_file_say_so() {
        let writers = [version(b'a', 100)];
        let versions = Versions {
            old: None,
            writers: &writers,
        };
        let prefix = classify_bytes(&writers[0][..60], &versions);
        assert_eq!(
            prefix.to_string(),
            "torn: the first 60 bytes of writer 1's version (of 100 bytes)"
        );
        assert_eq!(classify_bytes(b"", &versions).to_string(), "torn: empty");
    }

    #[test]
    fn foreign_bytes_are_one_piece_not_fragments() {
        let writers = [version(b'a', 64)];
        let versions = Versions {
            old: None,
            writers: &writers,
        };
        let mut file = writers[0][..16].to_vec();
        file.extend_from_slice(b"#garbage#garbage#");
        file.extend_from_slice(&writers[0][33..]);
        let Reading::Torn(mix) = classify_bytes(&file, &versions) else {
            panic!("not torn");
        };
        let sources: Vec<Source> = mix.pieces.iter().map(|p| p.source).collect();
        assert_eq!(
            sources,
            [
                Source::Writer(WriterId(1)),
                Source::Unknown,
                Source::Writer(WriterId(1))
            ]
        );
    }

    proptest! {
        #[test]
        fn pieces_cover_the_file_exactly(
            file in proptest::collection::vec(0u8..4, 0..200),
            old in proptest::option::of(proptest::collection::vec(0u8..4, 0..200)),
            writers in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..200), 0..4),
        ) {
            let versions = Versions { old: old.as_deref(), writers: &writers };
            let mix = mix(&file, &versions);
            let mut offset = 0;
            for (index, piece) in mix.pieces.iter().enumerate() {
                prop_assert_eq!(piece.offset_bytes, offset);
                prop_assert!(piece.len_bytes > 0);
                if index > 0 {
                    prop_assert_ne!(piece.source, mix.pieces[index - 1].source);
                }
                let range = piece.offset_bytes as usize..(offset + piece.len_bytes) as usize;
                if let Some(version) = version_of(piece.source, &sources(&versions)) {
                    prop_assert_eq!(&file[range.clone()], &version[range]);
                }
                offset += piece.len_bytes;
            }
            prop_assert_eq!(offset, file.len() as u64);
        }
    }
}
