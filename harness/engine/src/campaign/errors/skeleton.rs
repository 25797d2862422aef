//! What a persistence model sees of a trace, for `torture errors` to tell when a faulted run did,
//! for the file system, exactly what its golden run did, and so needs no power exploration of
//! its own (each costs as much as a whole `torture power` run: ~9.5 s per injection for a shell
//! writer that makes 300 small writes).
//!
//! Two traces have the same skeleton when their successful calls are the same operations on the
//! same paths with the same bytes, once
//! - failed calls are left out: a call that returned `-errno` changed nothing (fsyncgate, where a
//!   failed fsync drops data, is judged with `lost_writes` and never takes this shortcut);
//! - a write continued at once by the next call on the same fd (a short write and the writer's
//!   own retry) is one write: the page cache holds the same bytes either way, and writeback
//!   persists pages and blocks, not the calls that filled them;
//! - inode numbers, which differ from run to run, are numbered by first appearance, and so is
//!   every name in a path but the target's (`mktemp` names differ from run to run): the judging
//!   looks only at the target, and a consistent renaming keeps which paths are the same file or
//!   share a directory.

use std::collections::HashMap;

use serde_json::Value;
use torture_core::trace::{Op, Trace};

/// The operations of `trace` as its persistence model sees them.
pub fn skeleton(trace: &Trace) -> Vec<Value> {
    let mut ops: Vec<Op> = Vec::new();
    for event in trace.events.iter().filter(|e| e.ret >= 0) {
        let merged = match (ops.last_mut(), &event.op) {
            (Some(previous), Op::Write { .. }) => continue_write(previous, &event.op),
            _ => false,
        };
        if !merged {
            ops.push(event.op.clone());
        }
    }
    let mut inodes = HashMap::new();
    let mut names = Names::keeping(trace.header.target.as_deref().unwrap_or_default());
    ops.iter()
        .map(|op| {
            let mut value = serde_json::to_value(op).unwrap_or(Value::Null);
            renumber_inodes(&mut value, &mut inodes);
            names.rename_paths(&mut value);
            value
        })
        .collect()
}

/// Names in paths, numbered by first appearance; the target's own names kept.
struct Names {
    kept: Vec<String>,
    ranks: HashMap<String, usize>,
}

impl Names {
    fn keeping(target: &str) -> Names {
        let kept = target.split('/').map(str::to_owned).collect();
        Names {
            kept,
            ranks: HashMap::new(),
        }
    }

    /// Renames every component of the op's `path`, `from` and `to` (not `#<ino>` names).
    fn rename_paths(&mut self, value: &mut Value) {
        let Value::Object(fields) = value else {
            return;
        };
        for key in ["path", "from", "to"] {
            if let Some(Value::String(path)) = fields.get_mut(key) {
                if !path.starts_with('#') {
                    *path = self.rename(path);
                }
            }
        }
    }

    fn rename(&mut self, path: &str) -> String {
        let renamed: Vec<String> = path
            .split('/')
            .map(|name| {
                let literal = name.is_empty()
                    || name == "."
                    || name == ".."
                    || self.kept.iter().any(|k| k == name);
                if literal {
                    return name.to_owned();
                }
                let next = self.ranks.len();
                format!("<{}>", self.ranks.entry(name.to_owned()).or_insert(next))
            })
            .collect();
        renamed.join("/")
    }
}

/// Appends `next` to `previous` when it writes right where `previous` ended, on the same fd and
/// file with the same sync mode; whether it did.
fn continue_write(previous: &mut Op, next: &Op) -> bool {
    let (
        Op::Write {
            path,
            ino,
            fd,
            offset_bytes,
            len_bytes,
            data,
            sync,
        },
        Op::Write {
            path: next_path,
            ino: next_ino,
            fd: next_fd,
            offset_bytes: next_offset,
            data: next_data,
            sync: next_sync,
            ..
        },
    ) = (previous, next)
    else {
        return false;
    };
    let continues = path == next_path
        && ino == next_ino
        && fd == next_fd
        && sync == next_sync
        && *offset_bytes + *len_bytes == *next_offset;
    if continues {
        data.extend_from_slice(next_data);
        *len_bytes += next_data.len() as u64;
    }
    continues
}

/// Replaces every inode number (fields named `ino` or `*_ino`, and `#<ino>` names of unnamed
/// files) by its rank of first appearance.
fn renumber_inodes(value: &mut Value, inodes: &mut HashMap<u64, u64>) {
    fn rank(inodes: &mut HashMap<u64, u64>, ino: u64) -> u64 {
        let next = inodes.len() as u64;
        *inodes.entry(ino).or_insert(next)
    }
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let is_ino = key == "ino" || key.ends_with("_ino");
                match (is_ino, field.as_u64()) {
                    (true, Some(ino)) => *field = Value::from(rank(inodes, ino)),
                    _ => renumber_inodes(field, inodes),
                }
            }
        }
        Value::String(text) => {
            if let Some(ino) = text.strip_prefix('#').and_then(|n| n.parse().ok()) {
                *text = format!("#{}", rank(inodes, ino));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| renumber_inodes(v, inodes)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torture_core::trace::{Event, WriteSync};

    fn write(seq: u64, ino: u64, offset_bytes: u64, data: &[u8], ret: i64) -> Event {
        Event {
            seq,
            pid: 1,
            syscall: "write".into(),
            ret,
            op: Op::Write {
                path: "t.tmp".into(),
                ino: Some(ino),
                fd: 3,
                offset_bytes,
                len_bytes: data.len() as u64,
                data: data.to_vec(),
                sync: WriteSync::No,
            },
        }
    }

    fn trace(events: Vec<Event>) -> Trace {
        Trace {
            events,
            ..Trace::new(String::new(), Vec::new())
        }
    }

    #[test]
    fn a_short_write_and_its_retry_are_the_golden_write() {
        let golden = trace(vec![write(0, 10, 0, b"abcd", 4)]);
        let short = trace(vec![write(0, 77, 0, b"ab", 2), write(1, 77, 2, b"cd", 2)]);
        let failed = trace(vec![write(0, 5, 0, b"", -4), write(1, 5, 0, b"abcd", 4)]);
        assert_eq!(skeleton(&golden), skeleton(&short));
        assert_eq!(skeleton(&golden), skeleton(&failed));
    }

    fn rename(seq: u64, from: &str, to: &str) -> Event {
        Event {
            seq,
            pid: 1,
            syscall: "rename".into(),
            ret: 0,
            op: Op::Rename {
                from: from.into(),
                to: to.into(),
                noreplace: false,
                exchange: false,
                from_ino: None,
                to_ino: None,
            },
        }
    }

    #[test]
    fn random_temp_names_are_the_same_skeleton_but_the_target_is_not_renamed() {
        let mut golden = trace(vec![rename(0, ".report.aB3dE9", "target.json")]);
        let mut faulted = trace(vec![rename(0, ".report.Zq81xk", "target.json")]);
        let mut elsewhere = trace(vec![rename(0, ".report.Zq81xk", "other.json")]);
        for t in [&mut golden, &mut faulted, &mut elsewhere] {
            t.header.target = Some("target.json".into());
        }
        assert_eq!(skeleton(&golden), skeleton(&faulted));
        assert_ne!(skeleton(&golden), skeleton(&elsewhere));
    }

    #[test]
    fn other_bytes_or_places_are_another_skeleton() {
        let golden = trace(vec![write(0, 10, 0, b"abcd", 4)]);
        let other = trace(vec![write(0, 10, 0, b"abce", 4)]);
        let gap = trace(vec![write(0, 10, 0, b"ab", 2), write(1, 10, 3, b"cd", 2)]);
        assert_ne!(skeleton(&golden), skeleton(&other));
        assert_ne!(skeleton(&golden), skeleton(&gap));
    }
}
