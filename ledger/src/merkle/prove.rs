//! Computing roots and proofs from stored perfect subtrees: the tree head MTH (RFC 6962
//! §2.1, RFC 9162 §2.1.1), the inclusion path PATH (RFC 9162 §2.1.3.1) and the consistency
//! proof PROOF / SUBPROOF (RFC 9162 §2.1.4.1).
//!
//! The RFC defines these by recursion over the whole tree. Here they are walked bottom-up
//! over perfect subtrees: every element of a path is either a perfect subtree, read from
//! the [`NodeSource`] once, or the root of the incomplete right-hand part of the tree,
//! folded from the few perfect subtrees that cover it. A proof at size 10^6 reads about
//! 20 to 40 nodes. This module is deliberately not for verifying proofs (see `verify`,
//! which needs no source) and does not cache: caching belongs to the source.

use super::frontier::fold_right;
use super::hasher::{Hash, MerkleHasher};
use super::position::{bit_length, LeafIndex, NodeId, NodeSource, PerfectSubtrees, TreeSize};

/// Why a root or a proof could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The leaf asked for is not in the tree of the size asked for.
    #[error("leaf {leaf} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf asked for.
        leaf: LeafIndex,
        /// The size of the tree asked for.
        size: TreeSize,
    },
    /// A consistency proof was asked for from a larger tree to a smaller one.
    #[error("cannot prove consistency from tree size {size1} to the smaller size {size2}")]
    SizesOutOfOrder {
        /// The earlier tree size asked for.
        size1: TreeSize,
        /// The later tree size asked for.
        size2: TreeSize,
    },
    /// The node source failed to give a node hash.
    #[error("could not read a tree node")]
    Source(#[source] E),
}

/// The root MTH(D[0:size]) of the tree of `size` leaves; H("") for size 0.
///
/// Reads one node per bit set in `size`.
pub fn root_at<H: MerkleHasher, S: NodeSource>(
    size: TreeSize,
    source: &S,
) -> Result<Hash, S::Error> {
    let hashes = size
        .perfect_subtrees()
        .map(|id| source.node(id))
        .collect::<Result<Vec<Hash>, _>>()?;
    Ok(fold_right::<H>(hashes.into_iter()))
}

/// The inclusion proof of `leaf` in the tree of `size` leaves: PATH(leaf, D[0:size]) of
/// RFC 9162 §2.1.3.1, ordered from the leaf's sibling up to the child of the root.
pub fn inclusion_proof<H: MerkleHasher, S: NodeSource>(
    leaf: LeafIndex,
    size: TreeSize,
    source: &S,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if !size.contains(leaf) {
        return Err(ProofError::IndexOutOfRange { leaf, size });
    }
    let mut proof = Vec::new();
    path_from::<H, S>(NodeId::leaf(leaf), size.get(), source, &mut proof)
        .map_err(ProofError::Source)?;
    Ok(proof)
}

/// The consistency proof from the tree of `size1` leaves to the tree of `size2` leaves:
/// PROOF(size1, D[0:size2]) of RFC 9162 §2.1.4.1.
///
/// The proof is empty when `size1 == size2`, and also when `size1 == 0`: the RFC defines
/// no proof from the empty tree, and every tree extends it, so there is nothing to prove.
/// The verifier accepts exactly that (see `verify_consistency`).
pub fn consistency_proof<H: MerkleHasher, S: NodeSource>(
    size1: TreeSize,
    size2: TreeSize,
    source: &S,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    let (old, new) = (size1.get(), size2.get());
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    // The seed is the largest perfect subtree that ends at the old size. The proof is
    // that subtree (unless it is the whole old tree, whose root the verifier already
    // has) followed by its inclusion path in the new tree.
    let level = old.trailing_zeros();
    let seed = NodeId {
        // INVARIANT: old > 0, so level <= 63.
        level: u8::try_from(level).unwrap_or(NodeId::MAX_LEVEL),
        index: old.saturating_sub(1) >> level,
    };
    let mut proof = Vec::new();
    if seed.index != 0 {
        proof.push(source.node(seed).map_err(ProofError::Source)?);
    }
    path_from::<H, S>(seed, new, source, &mut proof).map_err(ProofError::Source)?;
    Ok(proof)
}

/// Appends to `out` the hashes of the siblings on the path from the perfect subtree
/// `start` up to the root of the tree of `size` leaves, lowest first.
///
/// At each level the sibling is a complete perfect subtree (read it), or the incomplete
/// right-hand part of the tree (fold it), or lies wholly beyond `size` (there is no
/// sibling at that level: RFC 6962 promotes the node unchanged).
///
/// INVARIANT (caller): `start` is complete within `size`, and `size > 0`.
fn path_from<H: MerkleHasher, S: NodeSource>(
    start: NodeId,
    size: u64,
    source: &S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    // The root of a tree of `size` leaves sits at the level where leaf 0 and leaf size-1
    // meet: the bit length of size-1.
    let root_level = bit_length(size.saturating_sub(1));
    let mut node = start;
    while u32::from(node.level) < root_level {
        let sibling = node.sibling();
        if sibling.is_complete_within(TreeSize(size)) {
            out.push(source.node(sibling)?);
        } else if let Some(first) = sibling.first_leaf().filter(|&first| first < size) {
            // INVARIANT: `first` is a multiple of 2^level, and the part [first, size) is
            // shorter than 2^level, so its cover is a binary expansion.
            let parts = PerfectSubtrees::covering(first, size)
                .map(|id| source.node(id))
                .collect::<Result<Vec<Hash>, _>>()?;
            out.push(fold_right::<H>(parts.into_iter()));
        }
        node = node.parent();
    }
    Ok(())
}
