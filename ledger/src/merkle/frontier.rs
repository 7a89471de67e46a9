//! The frontier of an append-only tree: the roots of the at most 64 perfect subtrees that
//! make up the tree `[0, size)` (a "compact range" in transparency-dev terms).
//!
//! It is what an appender keeps in memory: appending a leaf merges equal-height subtrees
//! (RFC 6962 §2.1 builds the tree from them), and folding them right to left gives the
//! root MTH(D[0:size]) (RFC 9162 §2.1.1). It is deliberately not a store: it holds no
//! interior node below its subtree roots, so it cannot produce proofs; it reports the
//! nodes it completes so that the store can persist the ones it keeps.

use super::hasher::{Hash, MerkleHasher};
use super::position::{LeafIndex, NodeId, NodeSource, TreeSize};

/// The tree already holds `u64::MAX` leaves, so no leaf can be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree is full: it already holds u64::MAX leaves")]
pub struct TreeFull;

/// The roots of the perfect subtrees that make up a tree, in order from the left.
///
/// INVARIANT: `subtrees` holds exactly the nodes of `TreeSize(size).perfect_subtrees()`,
/// in that order, with their hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// The perfect subtrees that make up the tree and their hashes, left to right.
    pub fn subtrees(&self) -> &[(NodeId, Hash)] {
        &self.subtrees
    }

    /// Appends the leaf with hash `leaf_hash` (already H(0x00 ‖ data)).
    ///
    /// `created` is called once for every perfect subtree this leaf completes, from the
    /// bottom up: first the leaf itself at level 0, then each parent formed by merging
    /// equal-height subtrees. Those are exactly the nodes that are complete within the new
    /// size and were not complete within the old one.
    pub fn push<H: MerkleHasher>(
        &mut self,
        leaf_hash: Hash,
        created: &mut impl FnMut(NodeId, Hash),
    ) -> Result<(), TreeFull> {
        let new_size = self.size.checked_add(1).ok_or(TreeFull)?;
        let mut id = NodeId::leaf(LeafIndex(self.size));
        let mut hash = leaf_hash;
        created(id, hash);
        while let Some(&(left_id, left_hash)) = self.subtrees.last() {
            if left_id.level != id.level {
                break;
            }
            self.subtrees.pop();
            hash = H::node(&left_hash, &hash);
            // INVARIANT: two complete subtrees of equal height merge into their parent,
            // whose level stays below 64 because the new size fits in a u64.
            id = left_id.parent();
            created(id, hash);
        }
        self.subtrees.push((id, hash));
        self.size = new_size;
        Ok(())
    }

    /// The root of the tree, MTH(D[0:size]); H("") for the empty tree.
    pub fn root<H: MerkleHasher>(&self) -> Hash {
        fold_right::<H>(self.subtrees.iter().map(|(_, hash)| *hash))
    }

    /// Rebuilds the frontier of the tree of `size` leaves from stored subtree hashes, for
    /// reopening a store. Reads one node per bit set in `size`.
    pub fn from_source<S: NodeSource>(size: TreeSize, source: &S) -> Result<Frontier, S::Error> {
        let subtrees = size
            .perfect_subtrees()
            .map(|id| source.node(id).map(|hash| (id, hash)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier {
            size: size.get(),
            subtrees,
        })
    }
}

/// Folds the roots of consecutive perfect subtrees, given left to right with strictly
/// decreasing heights, into the root of the range they cover: the rightmost two are joined
/// first, as the RFC 6962 §2.1 recursion does. An empty list folds to H("").
pub(crate) fn fold_right<H: MerkleHasher>(hashes: impl DoubleEndedIterator<Item = Hash>) -> Hash {
    let mut from_right = hashes.rev();
    match from_right.next() {
        None => H::empty(),
        Some(last) => from_right.fold(last, |right, left| H::node(&left, &right)),
    }
}
