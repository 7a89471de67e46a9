//! [`MemoryTree`]: a tree held as a vector of leaf hashes, computing every node on demand.
//!
//! It is for tests and small callers (an auditor's tool checking a few hundred entries, a
//! test that needs an oracle): its [`MemoryTree::reference_root`] follows the recursive
//! definition of MTH in RFC 6962 §2.1 (RFC 9162 §2.1.1) literally, independently of the
//! perfect-subtree code. It is deliberately not for logs of real size: reading a node of
//! height h costs 2^h hashes, and nothing is cached.

use std::marker::PhantomData;

use super::hasher::{Hash, MerkleHasher};
use super::position::{LeafIndex, NodeId, NodeSource, TreeSize};
use super::prove::{consistency_proof, inclusion_proof, root_at, ProofError};

/// A node was asked for that is not a complete subtree of the memory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{node} is not complete within this tree of {size} leaves")]
pub struct NodeNotInTree {
    /// The node asked for.
    pub node: NodeId,
    /// The tree's size when it was asked.
    pub size: TreeSize,
}

/// A Merkle tree over `H` held in memory as its leaf hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTree<H> {
    leaves: Vec<Hash>,
    hasher: PhantomData<fn() -> H>,
}

impl<H: MerkleHasher> Default for MemoryTree<H> {
    fn default() -> Self {
        MemoryTree {
            leaves: Vec::new(),
            hasher: PhantomData,
        }
    }
}

impl<H: MerkleHasher> MemoryTree<H> {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree whose leaves hold each of `leaf_data` in turn.
    pub fn from_leaf_data<D: AsRef<[u8]>>(leaf_data: impl IntoIterator<Item = D>) -> Self {
        MemoryTree {
            leaves: leaf_data
                .into_iter()
                .map(|data| H::leaf(data.as_ref()))
                .collect(),
            hasher: PhantomData,
        }
    }

    /// Appends a leaf holding `data` and returns its index.
    pub fn push_data(&mut self, data: &[u8]) -> LeafIndex {
        self.push_leaf_hash(H::leaf(data))
    }

    /// Appends a leaf whose hash (H(0x00 ‖ data)) is already known and returns its index.
    pub fn push_leaf_hash(&mut self, leaf_hash: Hash) -> LeafIndex {
        let index = LeafIndex(self.size().get());
        self.leaves.push(leaf_hash);
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        // A Vec never holds more than u64::MAX elements on any supported platform.
        TreeSize(u64::try_from(self.leaves.len()).unwrap_or(u64::MAX))
    }

    /// The leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }

    /// The hash of leaf `leaf`, if the tree holds it.
    pub fn leaf_hash(&self, leaf: LeafIndex) -> Option<Hash> {
        let index = usize::try_from(leaf.get()).ok()?;
        self.leaves.get(index).copied()
    }

    /// The current root, computed from the perfect subtrees.
    pub fn root(&self) -> Hash {
        match root_at::<H, _>(self.size(), self) {
            Ok(root) => root,
            // INVARIANT: root_at only asks for subtrees complete within the size given,
            // which this tree always has; fall back to the reference definition anyway.
            Err(_) => mth::<H>(&self.leaves),
        }
    }

    /// The root of the first `size` leaves by the literal recursion of RFC 6962 §2.1:
    /// MTH({}) = H(""), MTH({d}) = leaf hash, and otherwise the node hash of MTH of the
    /// first k leaves and of the rest, k the largest power of two smaller than the size.
    /// `None` if the tree has fewer than `size` leaves.
    pub fn reference_root(&self, size: TreeSize) -> Option<Hash> {
        let len = usize::try_from(size.get()).ok()?;
        self.leaves.get(..len).map(mth::<H>)
    }

    /// The inclusion proof of `leaf` in the tree of its first `size` leaves.
    pub fn inclusion_proof(
        &self,
        leaf: LeafIndex,
        size: TreeSize,
    ) -> Result<Vec<Hash>, ProofError<NodeNotInTree>> {
        inclusion_proof::<H, _>(leaf, size, self)
    }

    /// The consistency proof from its first `size1` leaves to its first `size2` leaves.
    pub fn consistency_proof(
        &self,
        size1: TreeSize,
        size2: TreeSize,
    ) -> Result<Vec<Hash>, ProofError<NodeNotInTree>> {
        consistency_proof::<H, _>(size1, size2, self)
    }
}

impl<H: MerkleHasher> NodeSource for MemoryTree<H> {
    type Error = NodeNotInTree;

    fn node(&self, id: NodeId) -> Result<Hash, NodeNotInTree> {
        let missing = NodeNotInTree {
            node: id,
            size: self.size(),
        };
        if !id.is_complete_within(self.size()) {
            return Err(missing);
        }
        let leaves = id
            .leaf_range()
            .and_then(|range| {
                let start = usize::try_from(range.start).ok()?;
                let end = usize::try_from(range.end).ok()?;
                self.leaves.get(start..end)
            })
            .ok_or(missing)?;
        Ok(mth::<H>(leaves))
    }
}

/// MTH of RFC 6962 §2.1 over a list of leaf hashes, by its recursive definition.
fn mth<H: MerkleHasher>(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => H::empty(),
        [only] => *only,
        _ => {
            // The largest power of two smaller than the length (which is at least 2).
            let split = leaves
                .len()
                .saturating_sub(1)
                .checked_ilog2()
                .and_then(|exponent| 1_usize.checked_shl(exponent));
            match split.and_then(|split| leaves.split_at_checked(split)) {
                Some((left, right)) => H::node(&mth::<H>(left), &mth::<H>(right)),
                // INVARIANT: split < len, so this arm is never taken.
                None => H::empty(),
            }
        }
    }
}
