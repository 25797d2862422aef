//! Traces built by hand for the tests: one method per syscall a writer makes.

use crate::trace::{Ack, AckKind, ExitStatus, InitialState, Op, Trace, WriteSync};

/// A trace under construction; inode numbers are the recorded ones (from 100).
pub struct Writer {
    pub trace: Trace,
    next_ino: u64,
}

impl Writer {
    pub fn new(target: &str, old: Option<&[u8]>) -> Writer {
        let mut trace = Trace::new("/sb".into(), vec!["w".into()]);
        trace.header.target = Some(target.to_owned());
        trace.header.initial = Some(match old {
            Some(data) => InitialState::Old {
                data: data.to_vec(),
            },
            None => InitialState::Absent,
        });
        Writer {
            trace,
            next_ino: 100,
        }
    }

    fn push(&mut self, syscall: &str, ret: i64, op: Op) -> usize {
        self.trace.push(1, syscall, ret, op);
        self.trace.events.len() - 1
    }

    fn open_op(path: &str, created: bool, truncated: bool, tmpfile: bool, ino: Option<u64>) -> Op {
        Op::Open {
            path: path.into(),
            ino,
            flags: 0,
            created,
            truncated,
            tmpfile,
            directory: false,
            append: false,
            excl: false,
            sync: WriteSync::No,
        }
    }

    /// `open(O_CREAT|O_EXCL)` of a new file.
    pub fn create(&mut self, path: &str) -> usize {
        self.next_ino += 1;
        let op = Self::open_op(path, true, false, false, Some(self.next_ino));
        self.push("openat", 3, op)
    }

    /// `open(O_TRUNC)` of an existing file.
    pub fn open_trunc(&mut self, path: &str) -> usize {
        self.push("openat", 3, Self::open_op(path, false, true, false, None))
    }

    /// `open(O_TMPFILE)` in the sandbox: returns the `#ino` path.
    pub fn tmpfile(&mut self) -> String {
        self.next_ino += 1;
        let op = Self::open_op(".", false, false, true, Some(self.next_ino));
        self.push("openat", 3, op);
        format!("#{}", self.next_ino)
    }

    pub fn write(&mut self, path: &str, offset_bytes: u64, data: &[u8]) -> usize {
        self.write_sync(path, offset_bytes, data, WriteSync::No)
    }

    pub fn write_sync(
        &mut self,
        path: &str,
        offset_bytes: u64,
        data: &[u8],
        sync: WriteSync,
    ) -> usize {
        let op = Op::Write {
            path: path.into(),
            ino: None,
            fd: 3,
            offset_bytes,
            len_bytes: data.len() as u64,
            data: data.to_vec(),
            sync,
        };
        self.push("pwrite64", data.len() as i64, op)
    }

    pub fn fsync(&mut self, path: &str) -> usize {
        self.push(
            "fsync",
            0,
            Op::Fsync {
                path: path.into(),
                ino: None,
            },
        )
    }

    pub fn fdatasync(&mut self, path: &str) -> usize {
        self.push(
            "fdatasync",
            0,
            Op::Fdatasync {
                path: path.into(),
                ino: None,
            },
        )
    }

    pub fn rename(&mut self, from: &str, to: &str) -> usize {
        let op = Op::Rename {
            from: from.into(),
            to: to.into(),
            noreplace: false,
            exchange: false,
            from_ino: None,
            to_ino: None,
        };
        self.push("rename", 0, op)
    }

    pub fn link(&mut self, from: &str, to: &str) -> usize {
        let op = Op::Link {
            from: from.into(),
            from_ino: None,
            to: to.into(),
        };
        self.push("linkat", 0, op)
    }

    pub fn unlink(&mut self, path: &str) -> usize {
        self.push(
            "unlink",
            0,
            Op::Unlink {
                path: path.into(),
                ino: None,
            },
        )
    }

    pub fn truncate(&mut self, path: &str, len_bytes: u64) -> usize {
        self.push(
            "ftruncate",
            0,
            Op::Truncate {
                path: path.into(),
                ino: None,
                len_bytes,
            },
        )
    }

    pub fn sync(&mut self) -> usize {
        self.push("sync", 0, Op::Sync)
    }

    pub fn close(&mut self, path: &str) -> usize {
        self.push(
            "close",
            0,
            Op::Close {
                path: path.into(),
                ino: None,
                fd: 3,
            },
        )
    }

    /// A stdout line acknowledging the work so far.
    pub fn say(&mut self, text: &str) {
        let events_before = self.trace.events.len() as u64;
        self.trace.header.acks.push(Ack {
            events_before,
            kind: AckKind::Line { text: text.into() },
        });
    }

    /// `exit(0)`: the default acknowledgement.
    pub fn exit(mut self) -> Trace {
        let events_before = self.trace.events.len() as u64;
        self.trace.header.exit = Some(ExitStatus::Code(0));
        self.trace.header.acks.push(Ack {
            events_before,
            kind: AckKind::Exit,
        });
        self.trace.validate().expect("a hand-built trace is valid");
        self.trace
    }
}
