//! The Merkle tree of RFC 6962 / RFC 9162 over a log's leaves: hashes, proofs made from the
//! node hashes a store keeps, the verification of those proofs, and the frontier a client
//! keeps instead of the whole tree.
//!
//! Leaves are numbered from 0. A node `(level, index)` is the root of the perfect subtree
//! over the leaves `index << level .. (index + 1) << level`. A store keeps, with each leaf,
//! the hashes of the subtrees that leaf completes ([`hashes_to_store`]): the leaf's own hash
//! and one more for each trailing one bit of its index, so that every node the proofs need
//! is one lookup away ([`holder`]).

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: the hash of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf whose data is `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A node of the tree: the perfect subtree at `level` with position `index` on that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u32,
    pub index: u64,
}

/// Where a store finds a node's hash: in the hashes kept with leaf `leaf`, at `offset`.
pub fn holder(node: Node) -> (u64, usize) {
    let leaf = ((node.index + 1) << node.level) - 1;
    (leaf, node.level as usize)
}

/// The nodes whose hashes are needed to compute the hashes kept with leaf `index`: the left
/// siblings of the subtrees it completes, lowest first.
pub fn siblings_for_append(index: u64) -> Vec<Node> {
    (0..index.trailing_ones())
        .map(|level| Node {
            level,
            index: (index >> level) - 1,
        })
        .collect()
}

/// The hashes a store keeps with leaf `index` whose hash is `leaf`: the leaf's hash, then the
/// root of each subtree the leaf completes. `siblings` are the hashes of
/// [`siblings_for_append`]`(index)`, in that order.
pub fn hashes_to_store(index: u64, leaf: Hash, siblings: &[Hash]) -> Result<Vec<Hash>, Error> {
    let needed = index.trailing_ones() as usize;
    if siblings.len() != needed {
        return Err(Error::Store(format!(
            "leaf {index} needs {needed} sibling hashes, got {}",
            siblings.len()
        )));
    }
    let mut out = Vec::with_capacity(needed + 1);
    let mut h = leaf;
    out.push(h);
    for left in siblings {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// A failure to prove or verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The sizes or index asked for do not fit together (e.g. a leaf beyond the tree).
    #[error("{0}")]
    Range(String),
    /// The proof does not lead to the root it should.
    #[error("{0}")]
    Mismatch(String),
    /// The store could not give a hash it should hold.
    #[error("{0}")]
    Store(String),
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up the range `lo..hi` of a proof, left to right; the
/// range's hash is their right fold.
fn range_nodes(mut lo: u64, hi: u64, out: &mut Vec<Node>) {
    while lo < hi {
        let mut level = if lo == 0 { 63 } else { lo.trailing_zeros() };
        while level > 0 && (lo.checked_add(1 << level).is_none_or(|end| end > hi)) {
            level -= 1;
        }
        out.push(Node {
            level,
            index: lo >> level,
        });
        lo += 1 << level;
    }
}

/// The ranges whose hashes make up the audit path of leaf `m` in the tree `lo..hi`
/// (RFC 6962, 2.1.1), deepest first.
fn path_ranges(m: u64, lo: u64, hi: u64, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_ranges(m, lo, lo + k, out);
        out.push((lo + k, hi));
    } else {
        path_ranges(m - k, lo + k, hi, out);
        out.push((lo, lo + k));
    }
}

/// The ranges whose hashes make up the consistency proof between the first `m` leaves and
/// the tree `lo..hi` (RFC 6962, 2.1.2).
fn subproof_ranges(m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<(u64, u64)>) {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_ranges(m, lo, lo + k, whole, out);
        out.push((lo + k, hi));
    } else {
        subproof_ranges(m - k, lo + k, hi, false, out);
        out.push((lo, lo + k));
    }
}

/// Reads the hashes of nodes from wherever the tree is kept.
pub trait NodeReader {
    /// The hashes of `nodes`, in their order.
    fn read(&mut self, nodes: &[Node]) -> Result<Vec<Hash>, Error>;
}

/// What a proof or a root needs from the store, and how it is made from it: the nodes to
/// read, then [`Plan::finish`] with their hashes. A store that cannot answer synchronously
/// (PostgreSQL) reads [`Plan::nodes`] itself; others use [`root`], [`prove_inclusion`] and
/// [`prove_consistency`] with a [`NodeReader`].
#[derive(Debug, Clone, Default)]
pub struct Plan {
    nodes: Vec<Node>,
    counts: Vec<usize>,
}

impl Plan {
    fn of(ranges: &[(u64, u64)]) -> Self {
        let mut plan = Self::default();
        for &(lo, hi) in ranges {
            let before = plan.nodes.len();
            range_nodes(lo, hi, &mut plan.nodes);
            plan.counts.push(plan.nodes.len() - before);
        }
        plan
    }

    /// The root of the tree of the first `size` leaves: [`Plan::finish`] answers one hash,
    /// or none for the empty tree (whose root is [`empty_root`]).
    pub fn root(size: u64) -> Self {
        if size == 0 {
            return Self::default();
        }
        Self::of(&[(0, size)])
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion(index: u64, size: u64) -> Result<Self, Error> {
        if index >= size {
            return Err(Error::Range(format!(
                "leaf {index} is not in a tree of {size}"
            )));
        }
        let mut ranges = Vec::new();
        path_ranges(index, 0, size, &mut ranges);
        Ok(Self::of(&ranges))
    }

    /// The consistency proof between the trees of `old` and `new` leaves.
    pub fn consistency(old: u64, new: u64) -> Result<Self, Error> {
        if old > new {
            return Err(Error::Range(format!(
                "a tree of {old} cannot be a prefix of one of {new}"
            )));
        }
        let mut ranges = Vec::new();
        if old > 0 && old < new {
            subproof_ranges(old, 0, new, true, &mut ranges);
        }
        Ok(Self::of(&ranges))
    }

    /// The nodes whose hashes the plan needs, in the order [`Plan::finish`] takes them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The proof's hashes (or the root), from the hashes of [`Plan::nodes`].
    pub fn finish(&self, hashes: &[Hash]) -> Result<Vec<Hash>, Error> {
        if hashes.len() != self.nodes.len() {
            return Err(Error::Store(format!(
                "asked for {} node hashes, got {}",
                self.nodes.len(),
                hashes.len()
            )));
        }
        let mut out = Vec::with_capacity(self.counts.len());
        let mut at = 0;
        for &count in &self.counts {
            let part = &hashes[at..at + count];
            at += count;
            let Some((last, rest)) = part.split_last() else {
                continue;
            };
            out.push(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)));
        }
        Ok(out)
    }

    fn run(&self, reader: &mut dyn NodeReader) -> Result<Vec<Hash>, Error> {
        let hashes = if self.nodes.is_empty() {
            Vec::new()
        } else {
            reader.read(&self.nodes)?
        };
        self.finish(&hashes)
    }
}

/// The root of the tree of the first `size` leaves.
pub fn root(size: u64, reader: &mut dyn NodeReader) -> Result<Hash, Error> {
    Ok(Plan::root(size)
        .run(reader)?
        .first()
        .copied()
        .unwrap_or_else(empty_root))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn prove_inclusion(
    index: u64,
    size: u64,
    reader: &mut dyn NodeReader,
) -> Result<Vec<Hash>, Error> {
    Plan::inclusion(index, size)?.run(reader)
}

/// The consistency proof between the trees of `old` and `new` leaves.
pub fn prove_consistency(
    old: u64,
    new: u64,
    reader: &mut dyn NodeReader,
) -> Result<Vec<Hash>, Error> {
    Plan::consistency(old, new)?.run(reader)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162, 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if index >= size {
        return Err(Error::Range(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(Error::Mismatch("the inclusion proof is too long".into()));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::Mismatch("the inclusion proof is too short".into()));
    }
    if &r != root {
        return Err(Error::Mismatch(
            "the inclusion proof does not lead to the root".into(),
        ));
    }
    Ok(())
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of the tree of
/// `new` leaves with root `new_root` (RFC 9162, 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    if old > new {
        return Err(Error::Range(format!(
            "a tree of {old} cannot be a prefix of one of {new}"
        )));
    }
    if old == new {
        if !proof.is_empty() {
            return Err(Error::Mismatch(
                "a proof between equal sizes must be empty".into(),
            ));
        }
        if old_root != new_root {
            return Err(Error::Mismatch(format!(
                "two different roots for the same size {old}"
            )));
        }
        return Ok(());
    }
    if old == 0 {
        if !proof.is_empty() {
            return Err(Error::Mismatch(
                "a proof from the empty tree must be empty".into(),
            ));
        }
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(Error::Mismatch("the consistency proof is empty".into()));
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(Error::Mismatch("the consistency proof is too long".into()));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::Mismatch("the consistency proof is too short".into()));
    }
    if &fr != old_root || &sr != new_root {
        return Err(Error::Mismatch(
            "the consistency proof does not lead to both roots".into(),
        ));
    }
    Ok(())
}

/// The right edge of a tree: the roots of its perfect subtrees, largest first. With it a
/// client appends leaves and computes the root without keeping the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf whose hash is `leaf`.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut n = self.size;
        while n & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            n >>= 1;
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let Some((last, rest)) = self.hashes.split_last() else {
            return empty_root();
        };
        rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc))
    }

    /// The frontier as bytes: the size (8 bytes, big-endian), then the hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Reads [`Frontier::to_bytes`]; None when the bytes are not a frontier.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (size, rest) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return None;
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| c.try_into().ok())
            .collect::<Option<Vec<Hash>>>()?;
        Some(Self { size, hashes })
    }
}
