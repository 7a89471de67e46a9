//! Verifying inclusion proofs (RFC 9162 §2.1.3.2) and consistency proofs (RFC 9162
//! §2.1.4.2) against tree heads, with no access to the tree.
//!
//! This is what every verifier runs: a node checking a peer's checkpoint, an auditor's
//! offline tool, the public viewer. It is deliberately pure: no source, no I/O, no
//! allocation. A proof of the wrong length for its sizes is refused as malformed before
//! any hashing; that refusal is kept apart from a proof of the right shape that does not
//! lead to the roots (verification failed).
//!
//! A proof binds a leaf (or an old tree) to a tree size AND a root together: callers must
//! take both from the same signed checkpoint. With the root kept and only the size
//! changed, a proof can legitimately still reproduce the root (leaf 2's path in a tree of
//! size 7 has the same shape as in size 8), so "verified at size n" means nothing unless
//! the root really is the root of size n.
//!
//! # Edge cases (record these in SPEC.md)
//!
//! * Inclusion: `leaf >= size` is [`VerifyError::IndexOutOfRange`]; so a tree of size 0
//!   proves nothing in it.
//! * Consistency, `size1 > size2`: [`VerifyError::SizesOutOfOrder`].
//! * Consistency, `size1 == size2`: the proof must be empty and `root1 == root2`. When both
//!   sizes are 0 the roots must moreover be H(""), the only root of the empty tree.
//! * Consistency, `size1 == 0 < size2`: accepted with an empty proof when `root1` is H("");
//!   `root2` is not constrained, since every tree extends the empty one. RFC 9162 defines
//!   no proof for this case and transparency-dev/merkle refuses it ("consistency proof
//!   from empty tree is meaningless"); we accept it because a witness or node that has
//!   seen only the empty checkpoint of a new log must be able to move on, and the C2SP
//!   tlog-witness protocol likewise requires the proof from old size 0 to be empty.

use super::hasher::{Hash, MerkleHasher};
use super::position::{bit_length, LeafIndex, TreeSize};

/// Why a proof was refused.
///
/// `MalformedProof`, `IndexOutOfRange` and `SizesOutOfOrder` mean the input does not even
/// describe a proof; the `Incorrect*` variants mean a well-formed proof failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The proof has the wrong number of hashes for the leaf index and sizes given.
    #[error("malformed proof: {actual} hashes given where {expected} are needed")]
    MalformedProof {
        /// How many hashes a proof for these positions has.
        expected: usize,
        /// How many hashes were given.
        actual: usize,
    },
    /// The leaf is not in the tree of the given size.
    #[error("leaf {leaf} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf given.
        leaf: LeafIndex,
        /// The tree size given.
        size: TreeSize,
    },
    /// The first tree is larger than the second.
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizesOutOfOrder {
        /// The earlier tree size given.
        size1: TreeSize,
        /// The later tree size given.
        size2: TreeSize,
    },
    /// The inclusion proof does not lead from the leaf hash to the given root.
    #[error("the inclusion proof does not lead to the given root")]
    IncorrectRoot,
    /// The consistency proof does not lead to the given first root (or, from size 0, the
    /// first root is not the empty tree's root).
    #[error("the consistency proof does not lead to the given first root")]
    IncorrectFirstRoot,
    /// The consistency proof does not lead to the given second root (or, for equal sizes,
    /// the two roots differ).
    #[error("the consistency proof does not lead to the given second root")]
    IncorrectSecondRoot,
}

/// Checks that `leaf_hash` is leaf `leaf` of the tree of `size` leaves whose root is
/// `root`, by the algorithm of RFC 9162 §2.1.3.2.
pub fn verify_inclusion<H: MerkleHasher>(
    leaf_hash: &Hash,
    leaf: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if !size.contains(leaf) {
        return Err(VerifyError::IndexOutOfRange { leaf, size });
    }
    let expected = inclusion_proof_len(leaf.get(), size.get());
    let malformed = VerifyError::MalformedProof {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(malformed);
    }
    // RFC 9162 §2.1.3.2 step 2: fn is the leaf's index, sn the last leaf's, at each level.
    let mut fn_ = leaf.get();
    // INVARIANT: size > leaf >= 0, so this does not saturate.
    let mut sn = size.get().saturating_sub(1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(malformed);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = H::node(p, &r);
            // Skip the levels where the node is the last one and has no sibling.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = H::node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(malformed);
    }
    if r != *root {
        return Err(VerifyError::IncorrectRoot);
    }
    Ok(())
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1`
/// leaves with root `root1`, by the algorithm of RFC 9162 §2.1.4.2, with the edge cases
/// described in the module documentation.
pub fn verify_consistency<H: MerkleHasher>(
    size1: TreeSize,
    size2: TreeSize,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), VerifyError> {
    let (old, new) = (size1.get(), size2.get());
    if old > new {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    let expected = if old == 0 || old == new {
        0
    } else {
        consistency_proof_len(old, new)
    };
    let malformed = VerifyError::MalformedProof {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(malformed);
    }
    if old == 0 {
        if *root1 != H::empty() {
            return Err(VerifyError::IncorrectFirstRoot);
        }
        if new == 0 && *root2 != H::empty() {
            return Err(VerifyError::IncorrectSecondRoot);
        }
        return Ok(());
    }
    if old == new {
        if root1 != root2 {
            return Err(VerifyError::IncorrectSecondRoot);
        }
        return Ok(());
    }
    // RFC 9162 §2.1.4.2 step 2: when the old tree is perfect, its root is the first
    // element of the proof, and the client already has it.
    let (seed, rest) = if old.is_power_of_two() {
        (*root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(malformed),
        }
    };
    // Steps 3 and 4: start at the level of the largest perfect subtree ending at `old`.
    // INVARIANT: 0 < old < new, so these do not saturate.
    let mut fn_ = old.saturating_sub(1);
    let mut sn = new.saturating_sub(1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Steps 5 and 6: fr rebuilds the old root, sr the new one.
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if sn == 0 {
            return Err(malformed);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = H::node(c, &fr);
            sr = H::node(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = H::node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(malformed);
    }
    if fr != *root1 {
        return Err(VerifyError::IncorrectFirstRoot);
    }
    if sr != *root2 {
        return Err(VerifyError::IncorrectSecondRoot);
    }
    Ok(())
}

/// The length of the inclusion proof of leaf `index` in a tree of `size` leaves: the
/// levels below the point where the paths to `index` and to `size - 1` meet ("inner",
/// one sibling each) plus the left siblings above it ("border").
///
/// INVARIANT (caller): `index < size`.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = bit_length(index ^ size.saturating_sub(1));
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    // At most 64 + 64 hashes, which fits any usize.
    usize::try_from(inner.saturating_add(border)).unwrap_or(usize::MAX)
}

/// The length of the consistency proof from `old` to `new` leaves: the largest perfect
/// subtree ending at `old` (unless that is the whole old tree) and its path in the new
/// tree, which starts at that subtree's level.
///
/// INVARIANT (caller): `0 < old < new`.
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let last = old.saturating_sub(1);
    let shift = old.trailing_zeros();
    let fork = bit_length(last ^ new.saturating_sub(1));
    let border = last.checked_shr(fork).unwrap_or(0).count_ones();
    let seed = u32::from(!old.is_power_of_two());
    // INVARIANT: shift < fork when old < new (the paths to old-1 and new-1 part above
    // the level of the seed), and the total is at most 1 + 64 + 64 hashes.
    let total = seed
        .saturating_add(fork.saturating_sub(shift))
        .saturating_add(border);
    usize::try_from(total).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_lengths_match_the_rfc_examples() {
        // RFC 9162 §2.1.5's seven-leaf tree and the transparency-dev vectors.
        assert_eq!(inclusion_proof_len(0, 7), 3);
        assert_eq!(inclusion_proof_len(3, 7), 3);
        assert_eq!(inclusion_proof_len(4, 7), 3);
        assert_eq!(inclusion_proof_len(6, 7), 2);
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(2, 3), 1);
        assert_eq!(consistency_proof_len(3, 7), 4);
        assert_eq!(consistency_proof_len(4, 7), 1);
        assert_eq!(consistency_proof_len(6, 7), 3);
        assert_eq!(consistency_proof_len(1, 8), 3);
        assert_eq!(consistency_proof_len(2, 5), 2);
    }

    #[test]
    fn proof_lengths_at_the_edges_of_u64() {
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(consistency_proof_len(1, u64::MAX), 64);
        assert_eq!(consistency_proof_len(u64::MAX - 1, u64::MAX), 64);
    }
}
