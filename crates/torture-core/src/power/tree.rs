//! The replay file system: the sandbox tree in memory, as values.
//!
//! Names (`entries`, one per path relative to the sandbox) point at nodes; a file node points at
//! an inode by number, so hard links share data and an `O_TMPFILE` inode lives with no name at
//! all (its link count is 0 until a `linkat` gives it one). Inode data sits behind an [`Arc`]: a
//! cloned tree shares every inode it does not change, which is what makes replaying thousands of
//! crash states from a few snapshots cheap. Each inode caches a content hash that byte-range
//! updates keep current in time proportional to the bytes changed.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, OnceLock};

use crate::oracle::{FileKind, TargetState};

/// An inode number of the model (not the recorded one: see [`super::plan`]).
pub type Ino = u64;

/// What a name in the tree points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// A regular file: its inode.
    File(Ino),
    /// A directory.
    Dir,
    /// A symbolic link with this text.
    Symlink(String),
}

/// One regular file's contents.
#[derive(Debug, Clone, Default)]
pub struct Inode {
    data: Vec<u8>,
    /// The two lanes of [`content_lanes`], when known.
    lanes: OnceLock<(u64, u64)>,
}

/// The sandbox tree: names and inodes.
#[derive(Debug, Clone, Default)]
pub struct FsTree {
    entries: BTreeMap<String, Node>,
    inodes: BTreeMap<Ino, Arc<Inode>>,
}

/// The parent directory of a sandbox path (`.` for a top-level name).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

impl Inode {
    /// The file's bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// A 128-bit hash of the contents (length included).
    pub fn content_hash(&self) -> u128 {
        let (a, b) = *self.lanes.get_or_init(|| content_lanes(&self.data));
        let len = self.data.len() as u64;
        (u128::from(mix(a ^ len)) << 64) | u128::from(b.wrapping_add(mix(len)))
    }

    /// Changes the bytes in `span` (and the length) through `change`, keeping the hash current.
    /// `span` must cover every byte whose value or presence changes.
    fn modify(&mut self, span: std::ops::Range<usize>, change: impl FnOnce(&mut Vec<u8>)) {
        // Keeping the hash current costs two passes over the span (out with the old words, in
        // with the new); hashing the whole file once, when asked, costs one. So the hash is
        // kept only while the span is small against the file.
        let known = self
            .lanes
            .get()
            .copied()
            .filter(|_| span.len().saturating_mul(4) < self.data.len());
        let words = span.start / 8..span.end.div_ceil(8);
        let before = known.map(|lanes| sub_lanes(lanes, &self.data, words.clone()));
        change(&mut self.data);
        self.lanes = match before {
            Some(lanes) => OnceLock::from(add_lanes(lanes, &self.data, words)),
            None => OnceLock::new(),
        };
    }

    /// Writes `bytes` at `offset_bytes`, growing the file (a gap reads as zeros).
    pub fn write_at(&mut self, offset_bytes: usize, bytes: &[u8]) {
        let old_len = self.data.len();
        let end = offset_bytes + bytes.len();
        self.modify(old_len.min(offset_bytes)..end.max(old_len), |data| {
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset_bytes..end].copy_from_slice(bytes);
        });
    }

    /// Sets the length: cut, or grown with zeros.
    pub fn set_len(&mut self, len_bytes: usize) {
        let old_len = self.data.len();
        self.modify(old_len.min(len_bytes)..old_len.max(len_bytes), |data| {
            data.resize(len_bytes, 0)
        });
    }
}

/// murmur3's 64-bit finaliser.
fn mix(mut z: u64) -> u64 {
    z ^= z >> 33;
    z = z.wrapping_mul(0xff51_afd7_ed55_8ccd);
    z ^= z >> 33;
    z = z.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// Word `j` of `data`, zero-padded past the end.
fn word(data: &[u8], j: usize) -> Option<u64> {
    let start = j * 8;
    if start >= data.len() {
        return None;
    }
    let mut buf = [0u8; 8];
    let end = (start + 8).min(data.len());
    buf[..end - start].copy_from_slice(&data[start..end]);
    Some(u64::from_le_bytes(buf))
}

/// What word `j` adds to each lane: a sum of per-position terms can be updated in place.
fn word_terms(j: usize, w: u64) -> (u64, u64) {
    let j = j as u64;
    let a = mix(w ^ j.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let b = w.wrapping_mul(j.wrapping_mul(0xd6e8_feb8_6659_fd93) | 1);
    (a, b)
}

fn content_lanes(data: &[u8]) -> (u64, u64) {
    add_lanes((0, 0), data, 0..data.len().div_ceil(8))
}

fn add_lanes(mut lanes: (u64, u64), data: &[u8], words: std::ops::Range<usize>) -> (u64, u64) {
    for j in words {
        let Some(w) = word(data, j) else { break };
        let (a, b) = word_terms(j, w);
        lanes = (lanes.0.wrapping_add(a), lanes.1.wrapping_add(b));
    }
    lanes
}

fn sub_lanes(mut lanes: (u64, u64), data: &[u8], words: std::ops::Range<usize>) -> (u64, u64) {
    for j in words {
        let Some(w) = word(data, j) else { break };
        let (a, b) = word_terms(j, w);
        lanes = (lanes.0.wrapping_sub(a), lanes.1.wrapping_sub(b));
    }
    lanes
}

fn text_hash(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl FsTree {
    /// A tree holding only the sandbox directory `.`.
    pub fn new() -> FsTree {
        let mut tree = FsTree::default();
        tree.entries.insert(".".to_owned(), Node::Dir);
        tree
    }

    /// Every name, in path order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries
            .iter()
            .map(|(path, node)| (path.as_str(), node))
    }

    /// The node at `path`.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.entries.get(path)
    }

    /// An inode, named or not.
    pub fn inode(&self, ino: Ino) -> Option<&Inode> {
        self.inodes.get(&ino).map(Arc::as_ref)
    }

    /// How many names point at `ino` (0 for an unnamed `O_TMPFILE` inode or a deleted file).
    pub fn nlink(&self, ino: Ino) -> usize {
        self.entries
            .values()
            .filter(|node| **node == Node::File(ino))
            .count()
    }

    /// The inode for writing, created empty if the tree has never seen it.
    pub fn inode_mut(&mut self, ino: Ino) -> &mut Inode {
        Arc::make_mut(self.inodes.entry(ino).or_default())
    }

    /// Creates an empty inode with no name, replacing any it had.
    pub fn new_inode(&mut self, ino: Ino) {
        self.inodes.insert(ino, Arc::default());
    }

    /// Names `path` (replacing what it named), making sure its inode exists.
    pub fn insert(&mut self, path: &str, node: Node) {
        if let Node::File(ino) = node {
            self.inodes.entry(ino).or_default();
        }
        self.entries.insert(path.to_owned(), node);
    }

    /// Removes a name; a directory takes everything below it along.
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let node = self.entries.remove(path)?;
        if node == Node::Dir {
            let below = format!("{path}/");
            self.entries.retain(|name, _| !name.starts_with(&below));
        }
        Some(node)
    }

    /// Moves `from` (and, for a directory, everything below it) to `to`, replacing `to`.
    pub fn move_entry(&mut self, from: &str, to: &str, node: Node) {
        self.remove(to);
        self.entries.remove(from);
        if node == Node::Dir {
            let below = format!("{from}/");
            let moved: Vec<(String, Node)> = self
                .entries
                .iter()
                .filter(|(name, _)| name.starts_with(&below))
                .map(|(name, node)| (format!("{to}/{}", &name[below.len()..]), node.clone()))
                .collect();
            self.entries.retain(|name, _| !name.starts_with(&below));
            self.entries.extend(moved);
        }
        self.entries.insert(to.to_owned(), node);
    }

    /// Swaps what two names point at (`renameat2(RENAME_EXCHANGE)`).
    pub fn exchange(&mut self, a: &str, b: &str) {
        let node_a = self.entries.get(a).cloned();
        let node_b = self.entries.get(b).cloned();
        if let (Some(node_a), Some(node_b)) = (node_a, node_b) {
            self.entries.insert(a.to_owned(), node_b);
            self.entries.insert(b.to_owned(), node_a);
        }
    }

    /// What the oracle sees at `path`.
    pub fn target_state(&self, path: &str) -> TargetState {
        match self.entries.get(path) {
            None => TargetState::Absent,
            Some(Node::File(ino)) => {
                TargetState::Regular(self.inode(*ino).map(|i| i.data.clone()).unwrap_or_default())
            }
            Some(Node::Dir) => TargetState::NotRegular(FileKind::Directory),
            Some(Node::Symlink(_)) => TargetState::NotRegular(FileKind::Symlink),
        }
    }

    /// A hash of what is at `path`: equal hashes, equal [`FsTree::target_state`].
    pub fn target_hash(&self, path: &str) -> u128 {
        match self.entries.get(path) {
            None => 1,
            Some(node) => self.node_hash(node),
        }
    }

    fn node_hash(&self, node: &Node) -> u128 {
        match node {
            Node::File(ino) => self.inode(*ino).map_or(2, Inode::content_hash),
            Node::Dir => 3,
            Node::Symlink(text) => u128::from(text_hash(text)) << 2,
        }
    }

    /// A hash of every name and what it holds (unnamed inodes are not part of what is seen).
    pub fn content_hash(&self) -> u128 {
        self.entries.iter().fold(0u128, |sum, (path, node)| {
            let h = self.node_hash(node);
            let p = text_hash(path);
            let lo = mix(p ^ (h as u64));
            let hi = mix(p.rotate_left(17) ^ ((h >> 64) as u64) ^ 0x5555);
            sum.wrapping_add((u128::from(hi) << 64) | u128::from(lo))
        })
    }

    /// A hash of what the tree holds, with every name but `target` left out: equal trees hash
    /// equal, and so does the same tree built in another process where the writer picked other
    /// temp names. `--partition` shards the crash states by it.
    pub fn shard_hash(&self, target: &str) -> u128 {
        self.entries.iter().fold(0u128, |sum, (path, node)| {
            let h = self.node_hash(node);
            let p = match path == target {
                true => text_hash(path),
                false => 0x9e37_79b9_7f4a_7c15,
            };
            let lo = mix(p ^ (h as u64));
            let hi = mix(p.rotate_left(17) ^ ((h >> 64) as u64) ^ 0x5555);
            sum.wrapping_add((u128::from(hi) << 64) | u128::from(lo))
        })
    }

    /// Whether `self` and `other` show the same names holding the same contents: what
    /// [`FsTree::content_hash`] hashes (inode numbers and unnamed inodes do not count).
    pub fn same_content(&self, other: &FsTree) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|((a, node_a), (b, node_b))| a == b && self.same_node(node_a, other, node_b))
    }

    fn same_node(&self, node: &Node, other: &FsTree, other_node: &Node) -> bool {
        match (node, other_node) {
            (Node::File(a), Node::File(b)) => {
                self.inode(*a).map(Inode::data) == other.inode(*b).map(Inode::data)
            }
            (Node::Dir, Node::Dir) => true,
            (Node::Symlink(a), Node::Symlink(b)) => a == b,
            (Node::File(_) | Node::Dir | Node::Symlink(_), _) => false,
        }
    }

    /// Names other than `.`, the target and the target's ancestor directories: what a crash
    /// leaves behind.
    pub fn leftovers(&self, target: &str) -> Vec<String> {
        self.entries
            .keys()
            .filter(|name| {
                name.as_str() != "."
                    && name.as_str() != target
                    && !target.starts_with(&format!("{name}/"))
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_hash_equals_a_fresh_one() {
        let mut inode = Inode::default();
        inode.write_at(3, b"hello world");
        let _ = inode.content_hash();
        inode.write_at(20, b"xy");
        inode.set_len(7);
        inode.set_len(30);
        inode.write_at(5, b"0123456789abcdef");
        let fresh = Inode {
            data: inode.data.clone(),
            lanes: OnceLock::new(),
        };
        assert_eq!(inode.content_hash(), fresh.content_hash());
        assert_ne!(inode.content_hash(), Inode::default().content_hash());
    }

    #[test]
    fn zeros_of_different_lengths_differ() {
        let mut a = Inode::default();
        a.set_len(8);
        let mut b = Inode::default();
        b.set_len(16);
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn renaming_a_directory_moves_its_children_and_links_count() {
        let mut tree = FsTree::new();
        tree.insert("d", Node::Dir);
        tree.insert("d/f", Node::File(1));
        tree.insert("g", Node::File(1));
        assert_eq!(tree.nlink(1), 2);
        tree.move_entry("d", "e", Node::Dir);
        assert_eq!(tree.node("e/f"), Some(&Node::File(1)));
        assert_eq!(tree.node("d/f"), None);
        tree.remove("e");
        assert_eq!(tree.nlink(1), 1);
        assert_eq!(tree.leftovers("g"), Vec::<String>::new());
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("c"), ".");
    }
}
