//! Faults: the one thing a trial does to a writer, as a value that can be printed, parsed and
//! replayed.
//!
//! Pure data; the tracer's injector carries them out. Spelling (also the `Display` form):
//!
//! | fault | meaning |
//! |---|---|
//! | `kill@byte:4097`, `kill@syscall:12` | SIGKILL the writer's tree at a [`KillPoint`] |
//! | `errno@fsync#9:EIO` | the syscall of trace event 9 (an `fsync`) does not run and returns `-EIO` |
//! | `short@write#5:1` | the write of trace event 5 writes only its first byte and returns 1 |
//! | `hold@rename#7` | the writer is held stopped at the entry of event 7 until the caller resumes it |
//!
//! `SYSCALL#SEQ` ([`CallRef`]) names a syscall by the `seq` of its event in the golden run's trace
//! (`intact-trace`, see [`crate::trace`]); the syscall name is a check that the run being injected
//! still makes the same call there. Errno names are Linux's (`EIO`, `ENOSPC`, `EDQUOT`, ...); any
//! other errno is written as its number (`errno@fsync#9:133`).

use std::fmt;
use std::str::FromStr;

use crate::killpoint::{KillPoint, KillPointParseError};

/// One fault to inject into one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fault {
    /// SIGKILL the whole process tree at this point.
    Kill(KillPoint),
    /// The call does not run; it returns `-errno`.
    Errno { call: CallRef, errno: Errno },
    /// The write runs with its count cut to `len_bytes` and returns `len_bytes`.
    Short { call: CallRef, len_bytes: u64 },
    /// The writer is held stopped at the call's entry while the caller runs others.
    Hold { call: CallRef },
}

/// A syscall named by its event in the golden trace: `fsync#9`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallRef {
    /// Syscall name as in the trace (`fsync`, `pwrite64`, `renameat2`).
    pub syscall: String,
    /// The `seq` of its event.
    pub seq: u64,
}

/// An errno value (1..=4095), shown by its Linux name when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(u16);

/// Largest errno the kernel returns as `-errno` (`MAX_ERRNO`).
const MAX_ERRNO: u16 = 4095;

/// Linux errno names and numbers (x86_64 and the generic table agree on all of these).
const ERRNO_NAMES: [(&str, u16); 30] = [
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("ENAMETOOLONG", 36),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("EOPNOTSUPP", 95),
    ("EDQUOT", 122),
];

impl Errno {
    /// `EIO`: what a failing disk returns.
    pub const EIO: Errno = Errno(5);
    /// `ENOSPC`: the file system is full.
    pub const ENOSPC: Errno = Errno(28);

    /// The errno with this number, if it is one (1..=4095).
    pub fn new(number: i32) -> Option<Errno> {
        u16::try_from(number)
            .ok()
            .filter(|n| (1..=MAX_ERRNO).contains(n))
            .map(Errno)
    }

    /// The number (positive; the syscall returns its negation).
    pub fn number(self) -> i32 {
        i32::from(self.0)
    }

    /// The Linux name, when this build knows it.
    pub fn name(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|(_, n)| *n == self.0)
            .map(|(name, _)| *name)
    }
}

/// Why a fault did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// No known `kind@` in front.
    #[error(
        "`{0}` is not a fault: write kill@byte:N, kill@syscall:N, errno@SYSCALL#SEQ:ERRNO, short@SYSCALL#SEQ:N or hold@SYSCALL#SEQ"
    )]
    UnknownKind(String),
    /// The kill point after `kill@` is wrong.
    #[error("{0}")]
    KillPoint(#[from] KillPointParseError),
    /// `SYSCALL#SEQ` is malformed.
    #[error(
        "`{0}` does not name a call: write SYSCALL#SEQ, e.g. fsync#9 (the seq of its event in the golden trace)"
    )]
    BadCall(String),
    /// The errno is neither a known name nor a number in 1..=4095.
    #[error(
        "`{0}` is not an errno: write a name such as EIO or ENOSPC, or a number from 1 to 4095"
    )]
    BadErrno(String),
    /// The length of a short write is not a number of at least 1.
    #[error(
        "`{0}` is not a short-write length: write a whole number of at least 1 (the bytes the write keeps)"
    )]
    BadLength(String),
    /// A part the kind needs is missing, or one it does not take is there.
    #[error("`{input}`: {what}")]
    Shape { input: String, what: &'static str },
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Errno {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<Errno, FaultParseError> {
        let bad = || FaultParseError::BadErrno(input.to_owned());
        if let Some((_, n)) = ERRNO_NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(input))
        {
            return Ok(Errno(*n));
        }
        let number = digits(input).ok_or_else(bad)?;
        i32::try_from(number)
            .ok()
            .and_then(Errno::new)
            .ok_or_else(bad)
    }
}

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.syscall, self.seq)
    }
}

impl FromStr for CallRef {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<CallRef, FaultParseError> {
        let bad = || FaultParseError::BadCall(input.to_owned());
        let (syscall, seq) = input.split_once('#').ok_or_else(bad)?;
        let name_ok = !syscall.is_empty()
            && syscall
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(bad());
        }
        Ok(CallRef {
            syscall: syscall.to_owned(),
            seq: digits(seq).ok_or_else(bad)?,
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(point) => write!(f, "kill@{point}"),
            Fault::Errno { call, errno } => write!(f, "errno@{call}:{errno}"),
            Fault::Short { call, len_bytes } => write!(f, "short@{call}:{len_bytes}"),
            Fault::Hold { call } => write!(f, "hold@{call}"),
        }
    }
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(input: &str) -> Result<Fault, FaultParseError> {
        let (kind, rest) = input
            .split_once('@')
            .ok_or_else(|| FaultParseError::UnknownKind(input.to_owned()))?;
        let shape = |what| FaultParseError::Shape {
            input: input.to_owned(),
            what,
        };
        match kind {
            "kill" => Ok(Fault::Kill(rest.parse()?)),
            "errno" => {
                let (call, errno) = rest.split_once(':').ok_or_else(|| {
                    shape("errno@ needs SYSCALL#SEQ:ERRNO, e.g. errno@fsync#9:EIO")
                })?;
                Ok(Fault::Errno {
                    call: call.parse()?,
                    errno: errno.parse()?,
                })
            }
            "short" => {
                let (call, len) = rest
                    .split_once(':')
                    .ok_or_else(|| shape("short@ needs SYSCALL#SEQ:N, e.g. short@write#5:1"))?;
                let len_bytes = digits(len)
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| FaultParseError::BadLength(len.to_owned()))?;
                Ok(Fault::Short {
                    call: call.parse()?,
                    len_bytes,
                })
            }
            "hold" if rest.contains(':') => {
                Err(shape("hold@ takes only SYSCALL#SEQ, e.g. hold@rename#7"))
            }
            "hold" => Ok(Fault::Hold {
                call: rest.parse()?,
            }),
            _ => Err(FaultParseError::UnknownKind(input.to_owned())),
        }
    }
}

/// A whole number written with digits only (`u64::from_str` would also take a leading `+`).
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Fault {
    /// The trace event the fault acts on, for faults named by one.
    pub fn call(&self) -> Option<&CallRef> {
        match self {
            Fault::Kill(_) => None,
            Fault::Errno { call, .. } | Fault::Short { call, .. } | Fault::Hold { call } => {
                Some(call)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_spellings_parse() {
        let call = |syscall: &str, seq| CallRef {
            syscall: syscall.into(),
            seq,
        };
        assert_eq!(
            "kill@byte:4097".parse(),
            Ok(Fault::Kill(KillPoint::Byte(4097)))
        );
        assert_eq!(
            "kill@syscall:0".parse(),
            Ok(Fault::Kill(KillPoint::Syscall(0)))
        );
        assert_eq!(
            "errno@fsync#9:EIO".parse(),
            Ok(Fault::Errno {
                call: call("fsync", 9),
                errno: Errno::EIO
            })
        );
        assert_eq!(
            "errno@fsync#9:enospc".parse::<Fault>().unwrap().to_string(),
            "errno@fsync#9:ENOSPC"
        );
        assert_eq!(
            "short@write#5:1".parse(),
            Ok(Fault::Short {
                call: call("write", 5),
                len_bytes: 1
            })
        );
        assert_eq!(
            "hold@renameat2#7".parse(),
            Ok(Fault::Hold {
                call: call("renameat2", 7)
            })
        );
        assert_eq!(
            "errno@fsync#9:133".parse::<Fault>().unwrap().to_string(),
            "errno@fsync#9:133"
        );
    }

    #[test]
    fn bad_faults_are_errors_that_say_how_to_write_them() {
        for bad in [
            "",
            "kill",
            "kill@byte:0",
            "kill@bytes:1",
            "errno@fsync#9",
            "errno@fsync#9:EWHAT",
            "errno@fsync#9:0",
            "errno@fsync#9:4096",
            "errno@fsync:EIO",
            "errno@#9:EIO",
            "errno@Fsync#9:EIO",
            "errno@fsync#+9:EIO",
            "short@write#5:0",
            "short@write#5",
            "short@write#5:x",
            "hold@rename#7:1",
            "hold@rename",
            "boom@write#1",
        ] {
            let err = bad.parse::<Fault>().unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
        assert!(matches!(
            "kill@byte:0".parse::<Fault>(),
            Err(FaultParseError::KillPoint(KillPointParseError::ByteZero))
        ));
    }

    fn call_ref() -> impl Strategy<Value = CallRef> {
        ("[a-z][a-z0-9_]{0,12}", any::<u64>()).prop_map(|(syscall, seq)| CallRef { syscall, seq })
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            (1..=u64::MAX).prop_map(|k| Fault::Kill(KillPoint::Byte(k))),
            any::<u64>().prop_map(|i| Fault::Kill(KillPoint::Syscall(i))),
            (call_ref(), 1..=4095i32).prop_map(|(call, n)| Fault::Errno {
                call,
                errno: Errno::new(n).unwrap()
            }),
            (call_ref(), 1..=u64::MAX)
                .prop_map(|(call, len_bytes)| Fault::Short { call, len_bytes }),
            call_ref().prop_map(|call| Fault::Hold { call }),
        ]
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(f in fault()) {
            prop_assert_eq!(f.to_string().parse::<Fault>(), Ok(f));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = s.parse::<Fault>();
        }
    }
}
