//! Multi-file units: several files judged as one output (a pipeline's partitions, a database
//! and its journal), all old or all new, never a mix; with a marker (`_SUCCESS`), the marker's
//! presence must imply every other file is complete.
//!
//! Pure: the caller gathers each file's two versions (before the writer ran, after a crash-free
//! run) and what a crash left, by whatever means its crash kind has (an in-memory tree for power
//! cuts, the sandbox for the others), and [`Unit::judge`] says what the unit is.

use super::{TargetClass, TargetState};

/// One file of a unit and its two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// Relative to the sandbox.
    pub path: String,
    /// Before the writer ran ([`TargetState::Absent`] when it did not exist).
    pub old: TargetState,
    /// After a crash-free run.
    pub new: TargetState,
}

/// The files judged as one, the marker among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Every file of the unit, in the order they were named.
    pub files: Vec<UnitFile>,
    /// The index in `files` of the marker (`--marker`), if there is one.
    pub marker: Option<usize>,
}

/// Where one file of a unit stands against its two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Its old and new versions are the same, and it is that.
    Both,
    /// The old version (or absent, where it did not exist before).
    Old,
    /// The new version.
    New,
    /// Neither: torn, lost, or something else.
    Neither,
}

/// What a crash left of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitVerdict {
    /// Nothing of it is published: every file is gone, or the marker is.
    Absent,
    /// Every file at its old version.
    Old,
    /// Every file at its new version.
    New,
    /// Some files at one version and some at the other, or at neither (never acceptable).
    Mixed {
        /// Files at their new version only.
        new: Vec<String>,
        /// Files at their old version only (present).
        old: Vec<String>,
        /// Files not there that are not new.
        gone: Vec<String>,
        /// Files present at neither version.
        torn: Vec<String>,
    },
    /// The marker (at its new version) survived but these files are not at their new version.
    MarkerEarly {
        /// The marker's path.
        marker: String,
        /// The files that are not complete, each with what it is: `gone`, `the old version`,
        /// `torn`.
        incomplete: Vec<(String, &'static str)>,
    },
}

impl Standing {
    /// Where `state` stands against `file`'s versions.
    pub fn of(file: &UnitFile, state: &TargetState) -> Standing {
        match (*state == file.new, *state == file.old) {
            (true, true) => Standing::Both,
            (true, false) => Standing::New,
            (false, true) => Standing::Old,
            (false, false) => Standing::Neither,
        }
    }

    fn fits_new(self) -> bool {
        matches!(self, Standing::Both | Standing::New)
    }

    fn fits_old(self) -> bool {
        matches!(self, Standing::Both | Standing::Old)
    }
}

impl Unit {
    /// Whether the unit existed before the writer ran: the marker did, or (without one) any file.
    /// Losing it is then losing the old version.
    pub fn had_old(&self) -> bool {
        match self.marker {
            Some(m) => self.files[m].old != TargetState::Absent,
            None => self
                .files
                .iter()
                .any(|file| file.old != TargetState::Absent),
        }
    }

    /// Judges what a crash left: `states[i]` is what is at `files[i].path`. A state list of the
    /// wrong length is judged as if the missing files were absent.
    pub fn judge(&self, states: &[TargetState]) -> UnitVerdict {
        let absent = TargetState::Absent;
        let state = |i: usize| states.get(i).unwrap_or(&absent);
        if let Some(m) = self.marker {
            // Without its marker, the unit is not published: a reader ignores the rest.
            if *state(m) == TargetState::Absent && self.files[m].new != TargetState::Absent {
                return UnitVerdict::Absent;
            }
        }
        let standings: Vec<Standing> = (0..self.files.len())
            .map(|i| Standing::of(&self.files[i], state(i)))
            .collect();
        let everything_gone = (0..self.files.len()).all(|i| *state(i) == TargetState::Absent);
        if standings.iter().all(|s| s.fits_new()) {
            UnitVerdict::New
        } else if everything_gone {
            UnitVerdict::Absent
        } else if standings.iter().all(|s| s.fits_old()) {
            UnitVerdict::Old
        } else {
            self.inconsistent(&standings, &|i| state(i) == &TargetState::Absent)
        }
    }

    /// A unit that is neither all old nor all new: with a marker at its new version, the marker
    /// came too early; else a mix.
    fn inconsistent(&self, standings: &[Standing], gone: &dyn Fn(usize) -> bool) -> UnitVerdict {
        if let Some(m) = self.marker.filter(|&m| standings[m].fits_new()) {
            let incomplete = (0..self.files.len())
                .filter(|&i| i != m && !standings[i].fits_new())
                .map(|i| {
                    let what = match (gone(i), standings[i]) {
                        (true, _) => "gone",
                        (false, Standing::Neither) => "torn",
                        (false, Standing::Both | Standing::New | Standing::Old) => {
                            "the old version"
                        }
                    };
                    (self.files[i].path.clone(), what)
                })
                .collect();
            return UnitVerdict::MarkerEarly {
                marker: self.files[m].path.clone(),
                incomplete,
            };
        }
        let named = |wanted: &dyn Fn(usize) -> bool| {
            (0..self.files.len())
                .filter(|&i| wanted(i))
                .map(|i| self.files[i].path.clone())
                .collect()
        };
        UnitVerdict::Mixed {
            new: named(&|i| standings[i] == Standing::New),
            old: named(&|i| standings[i] == Standing::Old && !gone(i)),
            gone: named(&|i| !standings[i].fits_new() && gone(i)),
            torn: named(&|i| standings[i] == Standing::Neither && !gone(i)),
        }
    }
}

impl UnitVerdict {
    /// The one-word class the campaigns count: a mix or an early marker is torn (a violation
    /// before and after the acknowledgement alike).
    pub fn class(&self) -> TargetClass {
        match self {
            UnitVerdict::Absent => TargetClass::Absent,
            UnitVerdict::Old => TargetClass::Old,
            UnitVerdict::New => TargetClass::New,
            UnitVerdict::Mixed { .. } | UnitVerdict::MarkerEarly { .. } => TargetClass::Torn,
        }
    }

    /// One sentence saying what is wrong, for a violating verdict (`None` otherwise).
    pub fn reason(&self) -> Option<String> {
        match self {
            UnitVerdict::Absent | UnitVerdict::Old | UnitVerdict::New => None,
            UnitVerdict::MarkerEarly { marker, incomplete } => {
                let files: Vec<String> = incomplete
                    .iter()
                    .map(|(path, what)| format!("`{path}` ({what})"))
                    .collect();
                Some(format!(
                    "`{marker}` survived but {} did not",
                    crate::words::join_and(&files)
                ))
            }
            UnitVerdict::Mixed {
                new,
                old,
                gone,
                torn,
            } => {
                let list = |paths: &[String]| {
                    let quoted: Vec<String> = paths.iter().map(|p| format!("`{p}`")).collect();
                    crate::words::join_and(&quoted)
                };
                let mut parts = Vec::new();
                for (paths, what) in [
                    (new, "at the new version"),
                    (old, "at the old version"),
                    (gone, "gone"),
                    (torn, "torn"),
                ] {
                    if !paths.is_empty() {
                        parts.push(format!("{} {what}", list(paths)));
                    }
                }
                Some(format!("the unit is mixed: {}", parts.join(", ")))
            }
        }
    }

    /// The `Fix:` line for a violating verdict.
    pub fn fix(&self) -> &'static str {
        match self {
            UnitVerdict::MarkerEarly { .. } => {
                "fsync each file of the unit and its directory before creating the marker"
            }
            UnitVerdict::Mixed { .. }
            | UnitVerdict::Absent
            | UnitVerdict::Old
            | UnitVerdict::New => {
                "publish the unit in one step (write it to a new directory, fsync each file and the directory, rename the directory into place), or publish a marker last (--marker) after fsyncing each file and the directory"
            }
        }
    }
}

/// Whether `pattern` is a glob (holds `*`, `?` or `[`) rather than one path.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Whether `path` matches the glob `pattern`: `*` is any run of characters but `/`, `?` one
/// character but `/`, `[abc]` / `[a-z]` / `[!a]` one of a set; anything else matches itself.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let path: Vec<char> = path.chars().collect();
    matches_from(&pattern, &path)
}

fn matches_from(pattern: &[char], path: &[char]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some(('*', rest)) => {
            // Shortest first; a star never crosses a directory separator.
            let run = path.iter().take_while(|&&c| c != '/').count();
            (0..=run).any(|skip| matches_from(rest, &path[skip..]))
        }
        Some(('?', rest)) => path
            .split_first()
            .is_some_and(|(&c, tail)| c != '/' && matches_from(rest, tail)),
        Some(('[', rest)) => match (class_end(rest), path.split_first()) {
            (Some(end), Some((&c, tail))) => {
                c != '/' && in_class(&rest[..end], c) && matches_from(&rest[end + 1..], tail)
            }
            (None, Some((&c, tail))) => c == '[' && matches_from(rest, tail),
            (Some(_) | None, None) => false,
        },
        Some((&literal, rest)) => path
            .split_first()
            .is_some_and(|(&c, tail)| c == literal && matches_from(rest, tail)),
    }
}

/// Where the `]` closing a class is in `rest` (the pattern after `[`); a `]` first is literal.
fn class_end(rest: &[char]) -> Option<usize> {
    let skip = usize::from(matches!(rest.first(), Some('!' | '^')));
    let from = skip + usize::from(rest.get(skip) == Some(&']'));
    rest[from.min(rest.len())..]
        .iter()
        .position(|&c| c == ']')
        .map(|i| i + from)
}

fn in_class(class: &[char], c: char) -> bool {
    let (negated, set) = match class.split_first() {
        Some(('!' | '^', set)) => (true, set),
        Some(_) | None => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            found |= (set[i]..=set[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= set[i] == c;
            i += 1;
        }
    }
    found != negated
}

/// The unit's paths: each literal pattern as given, each glob replaced by the `candidates` it
/// matches (sorted), without duplicates, in order. A glob that matches nothing adds nothing.
pub fn expand(patterns: &[String], candidates: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for pattern in patterns {
        let mut found: Vec<String> = match is_glob(pattern) {
            true => candidates
                .iter()
                .filter(|path| glob_matches(pattern, path))
                .map(|path| (*path).to_owned())
                .collect(),
            false => vec![pattern.clone()],
        };
        found.sort();
        for path in found {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> UnitFile {
        let state = |bytes: Option<&[u8]>| match bytes {
            Some(b) => TargetState::Regular(b.to_vec()),
            None => TargetState::Absent,
        };
        UnitFile {
            path: path.to_owned(),
            old: state(old),
            new: state(new),
        }
    }

    fn regular(bytes: &[u8]) -> TargetState {
        TargetState::Regular(bytes.to_vec())
    }

    /// Three partitions and a marker, first run.
    fn pipeline() -> Unit {
        Unit {
            files: vec![
                file("out/part-1.csv", None, Some(b"1")),
                file("out/part-2.csv", None, Some(b"2")),
                file("out/_SUCCESS", None, Some(b"")),
            ],
            marker: Some(2),
        }
    }

    #[test]
    fn the_marker_absent_means_nothing_published() {
        let unit = pipeline();
        let states = [regular(b"1"), TargetState::Absent, TargetState::Absent];
        assert_eq!(unit.judge(&states), UnitVerdict::Absent);
        assert!(!unit.had_old());
    }

    #[test]
    fn a_marker_before_its_partitions_is_named() {
        let unit = pipeline();
        let states = [regular(b"1"), TargetState::Absent, regular(b"")];
        let verdict = unit.judge(&states);
        assert_eq!(
            verdict,
            UnitVerdict::MarkerEarly {
                marker: "out/_SUCCESS".to_owned(),
                incomplete: vec![("out/part-2.csv".to_owned(), "gone")],
            }
        );
        assert_eq!(verdict.class(), TargetClass::Torn);
        assert_eq!(
            verdict.reason().unwrap(),
            "`out/_SUCCESS` survived but `out/part-2.csv` (gone) did not"
        );
    }

    #[test]
    fn the_marker_with_every_partition_is_new() {
        let unit = pipeline();
        let states = [regular(b"1"), regular(b"2"), regular(b"")];
        assert_eq!(unit.judge(&states), UnitVerdict::New);
    }

    #[test]
    fn without_a_marker_a_mix_is_a_violation() {
        let unit = Unit {
            files: vec![
                file("a", Some(b"a1"), Some(b"a2")),
                file("b", Some(b"b1"), Some(b"b2")),
            ],
            marker: None,
        };
        assert!(unit.had_old());
        assert_eq!(
            unit.judge(&[regular(b"a1"), regular(b"b1")]),
            UnitVerdict::Old
        );
        assert_eq!(
            unit.judge(&[regular(b"a2"), regular(b"b2")]),
            UnitVerdict::New
        );
        let mixed = unit.judge(&[regular(b"a2"), regular(b"b1")]);
        assert_eq!(
            mixed.reason().unwrap(),
            "the unit is mixed: `a` at the new version, `b` at the old version"
        );
        let gone = unit.judge(&[TargetState::Absent, TargetState::Absent]);
        assert_eq!(gone, UnitVerdict::Absent);
    }

    #[test]
    fn a_file_unchanged_by_the_run_fits_either_side() {
        let unit = Unit {
            files: vec![
                file("a", Some(b"x"), Some(b"x")),
                file("b", None, Some(b"b")),
            ],
            marker: None,
        };
        assert_eq!(
            unit.judge(&[regular(b"x"), regular(b"b")]),
            UnitVerdict::New
        );
        assert_eq!(
            unit.judge(&[regular(b"x"), TargetState::Absent]),
            UnitVerdict::Old
        );
    }

    #[test]
    fn globs_match_within_one_directory() {
        assert!(glob_matches("out/part-*.csv", "out/part-1.csv"));
        assert!(glob_matches("out/part-*.csv", "out/part-.csv"));
        assert!(!glob_matches("out/part-*.csv", "out/sub/part-1.csv"));
        assert!(!glob_matches("out/part-*.csv", "out/part-1.csv.tmp"));
        assert!(glob_matches("out/part-?.csv", "out/part-2.csv"));
        assert!(glob_matches("out/part-[0-9].csv", "out/part-7.csv"));
        assert!(!glob_matches("out/part-[!0-9].csv", "out/part-7.csv"));
        assert!(glob_matches("*", "a"));
        assert!(!glob_matches("*", "a/b"));
        assert!(glob_matches("a[", "a["));
        assert!(!is_glob("out/_SUCCESS"));
    }

    #[test]
    fn expansion_keeps_order_and_drops_duplicates() {
        let candidates = ["out/part-2.csv", "out/part-1.csv", "out/_SUCCESS", "out"];
        let patterns = [
            "out/part-*.csv".to_owned(),
            "out/part-1.csv".to_owned(),
            "out/_SUCCESS".to_owned(),
            "none-*".to_owned(),
        ];
        assert_eq!(
            expand(&patterns, &candidates),
            ["out/part-1.csv", "out/part-2.csv", "out/_SUCCESS"]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A unit of 1..6 files whose old and new versions differ (some absent before), with
        /// or without a marker (the last file).
        fn units() -> impl Strategy<Value = Unit> {
            (
                1usize..6,
                any::<bool>(),
                proptest::collection::vec(any::<bool>(), 6),
            )
                .prop_map(|(n, marked, existed)| Unit {
                    files: (0..n)
                        .map(|i| {
                            let old = existed[i].then(|| format!("old{i}").into_bytes());
                            let new = format!("new{i}").into_bytes();
                            file(&format!("f{i}"), old.as_deref(), Some(&new))
                        })
                        .collect(),
                    marker: marked.then_some(n - 1),
                })
        }

        proptest! {
            #[test]
            fn a_literal_pattern_matches_only_itself(path in "[a-z/._-]{0,12}") {
                prop_assert!(glob_matches(&path, &path));
                let other = format!("{path}x");
                prop_assert!(!glob_matches(&path, &other));
            }

            #[test]
            fn a_star_matches_every_name_without_a_slash(name in "[a-z._-]{0,12}") {
                let path = format!("out/{name}");
                prop_assert!(glob_matches("out/*", &path));
                let nested = format!("out/{name}/x");
                prop_assert!(!glob_matches("out/*", &nested));
            }

            #[test]
            fn all_new_is_new_and_all_old_is_never_a_violation(unit in units()) {
                let new: Vec<TargetState> = unit.files.iter().map(|f| f.new.clone()).collect();
                prop_assert_eq!(unit.judge(&new), UnitVerdict::New);
                let old: Vec<TargetState> = unit.files.iter().map(|f| f.old.clone()).collect();
                let verdict = unit.judge(&old);
                prop_assert!(verdict.reason().is_none(), "{:?}", verdict);
                prop_assert_ne!(verdict.class(), TargetClass::New);
            }

            #[test]
            fn a_mix_of_old_and_new_is_always_a_violation(
                unit in units(),
                pick in proptest::collection::vec(any::<bool>(), 6),
            ) {
                let states: Vec<TargetState> = unit.files.iter().enumerate()
                    .map(|(i, f)| if pick[i] { f.new.clone() } else { f.old.clone() })
                    .collect();
                let n = unit.files.len();
                let news = (0..n).filter(|&i| pick[i]).count();
                let verdict = unit.judge(&states);
                let marker_gone = unit.marker.is_some_and(|m| !pick[m] && unit.files[m].old == TargetState::Absent);
                let all_old_absent = (0..n).all(|i| pick[i] || unit.files[i].old == TargetState::Absent);
                if news == n {
                    prop_assert_eq!(verdict, UnitVerdict::New);
                } else if marker_gone || (news == 0 && all_old_absent) {
                    prop_assert_eq!(verdict, UnitVerdict::Absent);
                } else if news == 0 {
                    prop_assert_eq!(verdict, UnitVerdict::Old);
                } else {
                    // Some new, some old: a mix, unless every old one is an absent file and
                    // nothing else exists (then still a mix: a new file beside gone ones).
                    prop_assert_eq!(verdict.class(), TargetClass::Torn);
                    prop_assert!(verdict.reason().is_some());
                }
            }

            #[test]
            fn a_present_marker_implies_every_file_new(
                unit in units(),
                pick in proptest::collection::vec(any::<bool>(), 6),
            ) {
                let Some(m) = unit.marker else { return Ok(()); };
                let states: Vec<TargetState> = unit.files.iter().enumerate()
                    .map(|(i, f)| if i == m || pick[i] { f.new.clone() } else { TargetState::Absent })
                    .collect();
                let verdict = unit.judge(&states);
                let missing: Vec<String> = (0..unit.files.len())
                    .filter(|&i| i != m && !pick[i])
                    .map(|i| unit.files[i].path.clone())
                    .collect();
                match missing.is_empty() {
                    true => prop_assert_eq!(verdict, UnitVerdict::New),
                    false => match verdict {
                        UnitVerdict::MarkerEarly { incomplete, .. } => {
                            let named: Vec<String> = incomplete.into_iter().map(|(p, _)| p).collect();
                            prop_assert_eq!(named, missing);
                        }
                        other @ (UnitVerdict::Absent
                        | UnitVerdict::Old
                        | UnitVerdict::New
                        | UnitVerdict::Mixed { .. }) => prop_assert!(false, "{:?}", other),
                    },
                }
            }
        }
    }
}
