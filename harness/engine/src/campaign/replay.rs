//! One-line commands that replay a trial, and shell quoting for them.

use std::ffi::OsString;
use std::path::Path;

use super::subject::SubjectKind;
use super::{Selection, Settings, Subject, ValidationChoice};
use torture_core::killpoint::KillPoint;
use torture_core::oracle::{Expect, Initial};

/// Default `--target`.
pub const DEFAULT_TARGET: &str = "target.json";
/// Default `--timeout-ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Quotes `word` for a POSIX shell (and bash: braces, `$`, `!` and `,` are quoted too), leaving
/// plain words alone, so a printed line replays the exact argv when pasted.
pub fn shell_quote(word: &str) -> String {
    // A NUL cannot be in an argv at all; `allow_nul` only keeps quoting infallible for text that
    // never becomes one.
    let quoter = shlex::Quoter::new().allow_nul(true);
    match quoter.quote(word) {
        Ok(quoted) => quoted.into_owned(),
        Err(error) => unreachable!("{error}: shlex's allow_nul(true) refuses nothing"),
    }
}

/// A program and its arguments as one shell line.
pub fn shell_words(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|word| shell_quote(&word.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command that replays exactly the trial of `subject` at `point` with these settings.
pub fn replay_command(subject: &Subject, settings: &Settings, point: KillPoint) -> String {
    let own = vec![
        ("--seed", settings.seed.to_string()),
        ("--kill-at", point.to_string()),
    ];
    replay_line("kill", subject, settings, own)
}

/// `torture COMMAND` with every option that shapes a verdict: the built-in subject and its
/// size, `--initial`, the command's `own` options (what it replays), the options that differ
/// from their defaults (`--check`/`--validate`, `--target`, ...), `--expect caught` for a
/// command, `--strict`, then `-- ARGV`. Every replay line is built here, so none drops one.
pub fn replay_line(
    command: &str,
    subject: &Subject,
    settings: &Settings,
    own: Vec<(&'static str, String)>,
) -> String {
    let mut words: Vec<String> = vec!["torture".into(), command.into()];
    let mut options: Vec<(&str, String)> = Vec::new();
    if let SubjectKind::Builtin { size_bytes } = &subject.kind {
        options.push(("--subject", subject.name.clone()));
        options.push(("--size", size_bytes.to_string()));
    }
    // With `--setup` the setup's tree is the start, and `--initial` is refused beside it.
    if settings.setup.is_none() {
        options.push(("--initial", initial_name(settings.initial).to_owned()));
    }
    options.extend(own);
    options.extend(differing_options(settings));
    let is_command = matches!(subject.kind, SubjectKind::Command { .. });
    if is_command && subject.expect == Expect::Caught {
        options.push(("--expect", "caught".to_owned()));
    }
    for (flag, value) in options {
        words.push(flag.to_owned());
        words.push(shell_quote(&value));
    }
    if settings.strict {
        words.push("--strict".into());
    }
    if let SubjectKind::Command { argv } = &subject.kind {
        words.push("--".into());
        words.extend(argv.iter().map(|arg| shell_quote(&arg.to_string_lossy())));
    }
    words.join(" ")
}

/// Options that change a trial and differ from their defaults.
pub(crate) fn differing_options(settings: &Settings) -> Vec<(&'static str, String)> {
    let mut options = Vec::new();
    match &settings.validation {
        ValidationChoice::Auto => {}
        ValidationChoice::Json => options.push(("--validate", "json".to_owned())),
        ValidationChoice::JsonLines => options.push(("--validate", "jsonl".to_owned())),
        ValidationChoice::Bytes => options.push(("--validate", "bytes".to_owned())),
        ValidationChoice::Check(command) => options.push(("--check", command.clone())),
    }
    if settings.unit.is_unit() {
        let targets = settings.unit.targets.iter();
        options.extend(targets.map(|target| ("--target", target.clone())));
        options.extend(settings.unit.marker.iter().map(|m| ("--marker", m.clone())));
    } else if settings.target != Path::new(DEFAULT_TARGET) {
        options.push(("--target", settings.target.to_string_lossy().into_owned()));
    }
    if settings.timeout_ms != DEFAULT_TIMEOUT_MS {
        options.push(("--timeout-ms", settings.timeout_ms.to_string()));
    }
    if settings.dir != crate::sandbox::default_dir() {
        options.push(("--dir", settings.dir.to_string_lossy().into_owned()));
    }
    let tree = [
        ("--ack-line", &settings.ack_line),
        ("--setup", &settings.setup),
        ("--recover", &settings.recover),
    ];
    for (flag, value) in tree {
        if let Some(value) = value {
            options.push((flag, value.clone()));
        }
    }
    options
}

/// `absent` or `old`.
pub fn initial_name(initial: Initial) -> &'static str {
    match initial {
        Initial::Absent => "absent",
        Initial::Old => "old",
    }
}

/// How a selection reads in reports.
pub fn selection_name(selection: Selection) -> String {
    match selection {
        Selection::Sample { trials } => format!("{trials} sampled kill points"),
        Selection::Exhaustive => "every kill point (exhaustive)".to_owned(),
        Selection::One(point) => format!("one kill point ({point})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn settings() -> Settings {
        Settings {
            initial: Initial::Old,
            validation: ValidationChoice::Auto,
            selection: Selection::Sample { trials: 10 },
            seed: 7,
            jobs: 2,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            dir: crate::sandbox::default_dir(),
            target: PathBuf::from(DEFAULT_TARGET),
            unit: crate::campaign::UnitSpec::default(),
            strict: false,
            partition: None,
            ack_line: None,
            setup: None,
            recover: None,
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain-fsync"), "plain-fsync");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        for word in [
            "{target}", "{a,b}", "$HOME", "it's", "a\"b", "!x", "~", "*", "é ü",
        ] {
            assert_eq!(bash_words(&shell_quote(word)), [word], "{word}");
        }
    }

    /// The words bash makes of `line` (expansions included), through `printf '%s\0'`.
    fn bash_words(line: &str) -> Vec<String> {
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("printf '%s\\0' {line}")])
            .output()
            .expect("run bash");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let mut words: Vec<String> = text.split('\0').map(str::to_owned).collect();
        words.pop();
        words
    }

    #[test]
    fn builtin_replay() {
        let subject = Subject {
            name: "plain".into(),
            label: "plain".into(),
            kind: SubjectKind::Builtin { size_bytes: 65536 },
            expect: Expect::Caught,
            selection: None,
        };
        let line = replay_command(&subject, &settings(), KillPoint::Byte(4097));
        assert_eq!(
            line,
            "torture kill --subject plain --size 65536 --initial old --seed 7 --kill-at byte:4097"
        );
    }

    #[test]
    fn command_replay_keeps_options_and_argv() {
        let subject = Subject::command(
            vec![
                "python3".into(),
                "/w/my writer.py".into(),
                "{target}".into(),
            ],
            Expect::Caught,
        );
        let s = Settings {
            strict: true,
            validation: ValidationChoice::Check("jq . {file}".into()),
            ..settings()
        };
        let line = replay_command(&subject, &s, KillPoint::Syscall(3));
        assert_eq!(
            line,
            "torture kill --initial old --seed 7 --kill-at syscall:3 --check 'jq . {file}' --expect caught \
             --strict -- python3 '/w/my writer.py' '{target}'"
        );
    }

    #[test]
    fn a_replay_line_with_braces_and_dollars_replays_the_exact_argv() {
        let argv = [
            "sh",
            "-c",
            "echo {a,b} $HOME `id` \"$1\"",
            "w",
            "{target}",
            "{a,b}",
        ];
        let subject = Subject::command(argv.iter().map(Into::into).collect(), Expect::Pass);
        let s = Settings {
            validation: ValidationChoice::Check("test -s {file} && echo $0".into()),
            ..settings()
        };
        let line = replay_command(&subject, &s, KillPoint::Byte(1));
        let words = bash_words(&line);
        let dashes = words
            .iter()
            .position(|w| w == "--")
            .expect("-- before the argv");
        assert_eq!(words[dashes + 1..], argv, "{line}");
        let check = words.iter().position(|w| w == "--check").expect("--check");
        assert_eq!(words[check + 1], "test -s {file} && echo $0", "{line}");
    }
}
