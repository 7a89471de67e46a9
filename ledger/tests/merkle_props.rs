//! Property, exhaustive and cost tests of the Merkle tree (RFC 6962 §2.1, RFC 9162
//! §2.1.3–2.1.4): random trees of 1–300 leaves, every tampering of every proof in all
//! trees of 1–32 leaves, the frontier's reports and round trips, and how many nodes a
//! proof reads at a million leaves.
//!
//! The oracle throughout is the literal recursion of the RFCs (MTH, PATH, SUBPROOF) over a
//! list of leaf hashes, written here independently of the perfect-subtree code under test.
//! This file is deliberately not for the known-answer vectors (`merkle_vectors.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic: a panic is a failed test.

use std::cell::Cell;
use std::collections::BTreeSet;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use yibao_ledger::merkle::{
    consistency_proof, inclusion_proof, root_at, verify_consistency, verify_inclusion,
    Blake3Hasher, Frontier, Hash, LeafIndex, MemoryTree, MerkleHasher, NodeId, NodeSource,
    ProofError, Sha256Hasher, TreeSize, VerifyError,
};

// ---------------------------------------------------------------------------------------
// The RFC's recursive definitions, as the oracle.
// ---------------------------------------------------------------------------------------

/// The largest power of two smaller than `n` (n >= 2), RFC 6962 §2.1's k.
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) of RFC 9162 §2.1.1.
fn mth<H: MerkleHasher>(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => H::empty(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            H::node(&mth::<H>(&leaves[..k]), &mth::<H>(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
fn reference_path<H: MerkleHasher>(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n);
    if m < k {
        let mut path = reference_path::<H>(m, &leaves[..k]);
        path.push(mth::<H>(&leaves[k..]));
        path
    } else {
        let mut path = reference_path::<H>(m - k, &leaves[k..]);
        path.push(mth::<H>(&leaves[..k]));
        path
    }
}

/// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
fn reference_subproof<H: MerkleHasher>(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![mth::<H>(leaves)]
        };
    }
    let k = split_point(n);
    if m <= k {
        let mut proof = reference_subproof::<H>(m, &leaves[..k], b);
        proof.push(mth::<H>(&leaves[k..]));
        proof
    } else {
        let mut proof = reference_subproof::<H>(m - k, &leaves[k..], false);
        proof.push(mth::<H>(&leaves[..k]));
        proof
    }
}

/// PROOF(m, D[n]) of RFC 9162 §2.1.4.1, extended with our rule: empty from size 0.
fn reference_consistency<H: MerkleHasher>(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if m == 0 {
        Vec::new()
    } else {
        reference_subproof::<H>(m, leaves, true)
    }
}

// ---------------------------------------------------------------------------------------
// Trees to test with.
// ---------------------------------------------------------------------------------------

/// A tree of `size` leaves with random contents (0–39 bytes each) drawn from `seed`.
fn random_tree<H: MerkleHasher>(size: u64, seed: u64) -> MemoryTree<H> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tree = MemoryTree::new();
    for _ in 0..size {
        let len = rng.gen_range(0..40);
        let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        tree.push_data(&data);
    }
    tree
}

/// A tree of `size` leaves that are all different ("leaf 0", "leaf 1", ...).
fn distinct_tree<H: MerkleHasher>(size: u64) -> MemoryTree<H> {
    MemoryTree::from_leaf_data((0..size).map(|i| format!("leaf {i}")))
}

fn frontier_of<H: MerkleHasher>(tree: &MemoryTree<H>) -> Frontier {
    let mut frontier = Frontier::new();
    for leaf_hash in tree.leaf_hashes() {
        frontier.push::<H>(*leaf_hash, &mut |_, _| {}).unwrap();
    }
    frontier
}

// ---------------------------------------------------------------------------------------
// Random trees of 1–300 leaves.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_trees_roots_agree_and_every_inclusion_proof_verifies(
        size in 1u64..=300,
        seed in any::<u64>(),
        prefix in any::<prop::sample::Index>(),
    ) {
        let tree = random_tree::<Blake3Hasher>(size, seed);
        let leaves = tree.leaf_hashes();
        // Frontier, root_at and the RFC recursion agree at every size along the way.
        let mut frontier = Frontier::new();
        for (i, leaf_hash) in leaves.iter().enumerate() {
            frontier.push::<Blake3Hasher>(*leaf_hash, &mut |_, _| {}).unwrap();
            let grown = TreeSize(i as u64 + 1);
            let want = mth::<Blake3Hasher>(&leaves[..=i]);
            prop_assert_eq!(frontier.root::<Blake3Hasher>(), want);
            prop_assert_eq!(root_at::<Blake3Hasher, _>(grown, &tree).unwrap(), want);
        }
        prop_assert_eq!(frontier.root::<Blake3Hasher>(), tree.root());
        // Every leaf's proof verifies, at the full size and at a random smaller size.
        let smaller = prefix.index(size as usize) as u64 + 1;
        for at in [size, smaller] {
            let at = TreeSize(at);
            let root = root_at::<Blake3Hasher, _>(at, &tree).unwrap();
            for leaf in 0..at.get() {
                let leaf = LeafIndex(leaf);
                let proof = tree.inclusion_proof(leaf, at).unwrap();
                let leaf_hash = tree.leaf_hash(leaf).unwrap();
                prop_assert_eq!(
                    verify_inclusion::<Blake3Hasher>(&leaf_hash, leaf, at, &proof, &root),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn random_consistency_proofs_verify(
        size in 1u64..=300,
        seed in any::<u64>(),
        pairs in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..12),
    ) {
        let tree = random_tree::<Sha256Hasher>(size, seed);
        for (a, b) in pairs {
            let (a, b) = (a.index(size as usize + 1) as u64, b.index(size as usize + 1) as u64);
            let (size1, size2) = (TreeSize(a.min(b)), TreeSize(a.max(b)));
            let root1 = root_at::<Sha256Hasher, _>(size1, &tree).unwrap();
            let root2 = root_at::<Sha256Hasher, _>(size2, &tree).unwrap();
            let proof = tree.consistency_proof(size1, size2).unwrap();
            prop_assert_eq!(
                verify_consistency::<Sha256Hasher>(size1, size2, &proof, &root1, &root2),
                Ok(())
            );
            if size1 != size2 {
                prop_assert_eq!(
                    tree.consistency_proof(size2, size1),
                    Err(ProofError::SizesOutOfOrder { size1: size2, size2: size1 })
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Exhaustive small trees: generated proofs are the RFC's, and every tampering fails.
// ---------------------------------------------------------------------------------------

const SMALL: u64 = 32;

/// Every way of damaging a proof's list of hashes, each labelled.
fn tampered_proofs(proof: &[Hash]) -> Vec<(String, Vec<Hash>)> {
    let mut out = Vec::new();
    for (i, element) in proof.iter().enumerate() {
        for bit in 0..256 {
            let mut changed = proof.to_vec();
            changed[i][bit / 8] ^= 1 << (bit % 8);
            out.push((format!("flip bit {bit} of element {i}"), changed));
        }
        let mut dropped = proof.to_vec();
        dropped.remove(i);
        out.push((format!("drop element {i}"), dropped));
        let mut duplicated = proof.to_vec();
        duplicated.insert(i, *element);
        out.push((format!("duplicate element {i}"), duplicated));
    }
    for filler in [[0u8; 32], [0xff; 32]] {
        for position in 0..=proof.len() {
            let mut appended = proof.to_vec();
            appended.insert(position, filler);
            out.push((
                format!("insert {:02x}.. at {position}", filler[0]),
                appended,
            ));
        }
    }
    out
}

fn length_changed(original: &[Hash], tampered: &[Hash]) -> bool {
    original.len() != tampered.len()
}

#[test]
fn small_trees_inclusion_proofs_are_the_rfc_paths_and_every_tampering_fails() {
    // One tree one leaf larger than the largest size tested, so that "size + 1" has a root.
    let tree = distinct_tree::<Blake3Hasher>(SMALL + 1);
    let leaves = tree.leaf_hashes();
    let root = |size: u64| mth::<Blake3Hasher>(&leaves[..size as usize]);
    let mut refusals = 0usize;
    for size in 1..=SMALL {
        let size_t = TreeSize(size);
        for leaf in 0..size {
            let leaf_t = LeafIndex(leaf);
            let leaf_hash = leaves[leaf as usize];
            let proof = tree.inclusion_proof(leaf_t, size_t).unwrap();
            assert_eq!(
                proof,
                reference_path::<Blake3Hasher>(leaf as usize, &leaves[..size as usize]),
                "PATH({leaf}, D[{size}])"
            );
            let verify = |hash: &Hash, leaf: u64, size: u64, proof: &[Hash], root: &Hash| {
                verify_inclusion::<Blake3Hasher>(hash, LeafIndex(leaf), TreeSize(size), proof, root)
            };
            assert_eq!(verify(&leaf_hash, leaf, size, &proof, &root(size)), Ok(()));

            for (what, bad) in tampered_proofs(&proof) {
                let result = verify(&leaf_hash, leaf, size, &bad, &root(size));
                let want_malformed = length_changed(&proof, &bad);
                match result {
                    Err(VerifyError::MalformedProof { .. }) if want_malformed => {}
                    Err(VerifyError::IncorrectRoot) if !want_malformed => {}
                    other => panic!("leaf {leaf} size {size}, {what}: {other:?}"),
                }
                refusals += 1;
            }
            // Another leaf index with the same leaf hash and proof.
            for other in [leaf.wrapping_sub(1), leaf + 1] {
                assert!(verify(&leaf_hash, other, size, &proof, &root(size)).is_err());
                refusals += 1;
            }
            // Another size, with that size's genuine root (sizes and roots come in pairs
            // from checkpoints; see verify.rs).
            for other in [size - 1, size + 1] {
                assert!(
                    verify(&leaf_hash, leaf, other, &proof, &root(other)).is_err(),
                    "leaf {leaf} size {size} claimed at size {other}"
                );
                refusals += 1;
            }
            // Another tree head: the root of another size, or the empty root.
            for other_root in [root(size - 1), root(size + 1), Blake3Hasher::empty()] {
                assert_eq!(
                    verify(&leaf_hash, leaf, size, &proof, &other_root),
                    Err(VerifyError::IncorrectRoot)
                );
                refusals += 1;
            }
            // Another leaf's hash, and the root given as the leaf hash.
            for other_hash in [leaves[(leaf as usize + 1) % size as usize], root(size)] {
                if other_hash != leaf_hash {
                    assert_eq!(
                        verify(&other_hash, leaf, size, &proof, &root(size)),
                        Err(VerifyError::IncorrectRoot)
                    );
                    refusals += 1;
                }
            }
        }
    }
    assert!(refusals > 500_000, "only {refusals} tamperings were tried");
}

#[test]
fn small_trees_consistency_proofs_are_the_rfc_proofs_and_every_tampering_fails() {
    let tree = distinct_tree::<Blake3Hasher>(SMALL + 1);
    let leaves = tree.leaf_hashes();
    let root = |size: u64| mth::<Blake3Hasher>(&leaves[..size as usize]);
    let genuine = |size1: u64, size2: u64| {
        reference_consistency::<Blake3Hasher>(size1 as usize, &leaves[..size2 as usize])
    };
    let verify = |size1: u64, size2: u64, proof: &[Hash], root1: &Hash, root2: &Hash| {
        verify_consistency::<Blake3Hasher>(TreeSize(size1), TreeSize(size2), proof, root1, root2)
    };
    let mut refusals = 0usize;
    let mut accepted_after_moving_sizes = BTreeSet::new();
    for size2 in 0..=SMALL {
        for size1 in 0..=size2 {
            let proof = tree
                .consistency_proof(TreeSize(size1), TreeSize(size2))
                .unwrap();
            assert_eq!(proof, genuine(size1, size2), "PROOF({size1}, D[{size2}])");
            let (root1, root2) = (root(size1), root(size2));
            assert_eq!(verify(size1, size2, &proof, &root1, &root2), Ok(()));

            for (what, bad) in tampered_proofs(&proof) {
                let result = verify(size1, size2, &bad, &root1, &root2);
                let want_malformed = length_changed(&proof, &bad);
                match result {
                    Err(VerifyError::MalformedProof { .. }) if want_malformed => {}
                    Err(VerifyError::IncorrectFirstRoot | VerifyError::IncorrectSecondRoot)
                        if !want_malformed => {}
                    other => panic!("{size1} -> {size2}, {what}: {other:?}"),
                }
                refusals += 1;
            }
            // Swapped roots.
            if root1 != root2 {
                assert!(verify(size1, size2, &proof, &root2, &root1).is_err());
                refusals += 1;
            }
            // Wrong roots of the right sizes.
            for wrong in [root(size1 + 1), Blake3Hasher::leaf(b"not a root")] {
                if wrong != root1 {
                    assert!(verify(size1, size2, &proof, &wrong, &root2).is_err());
                    refusals += 1;
                }
                // From the empty tree, root2 is not constrained (our size1 = 0 rule).
                if wrong != root2 && !(size1 == 0 && size2 > 0) {
                    assert!(verify(size1, size2, &proof, &root1, &wrong).is_err());
                    refusals += 1;
                }
            }
            // Moved sizes, each with its genuine root. The result is refused unless this
            // very proof is the genuine proof for the moved sizes: then the claim is true.
            let moves = [
                (size1.wrapping_sub(1), size2),
                (size1 + 1, size2),
                (size1, size2.wrapping_sub(1)),
                (size1, size2 + 1),
            ];
            for (moved1, moved2) in moves {
                if moved1 > SMALL + 1 || moved2 > SMALL + 1 {
                    continue;
                }
                let result = verify(moved1, moved2, &proof, &root(moved1), &root(moved2));
                let true_claim = moved1 <= moved2 && genuine(moved1, moved2) == proof;
                if true_claim {
                    assert_eq!(result, Ok(()));
                    accepted_after_moving_sizes.insert((size1, size2, moved1, moved2));
                } else {
                    assert!(
                        result.is_err(),
                        "{size1} -> {size2} moved to {moved1} -> {moved2}"
                    );
                    refusals += 1;
                }
            }
        }
    }
    // The only moved claims that hold are the ones with an empty proof: from the empty
    // tree to any size (our size1 = 0 rule), and from a size to itself.
    for &(size1, size2, moved1, moved2) in &accepted_after_moving_sizes {
        assert!(
            (size1 == 0 || size1 == size2) && (moved1 == 0 || moved1 == moved2),
            "{size1} -> {size2} moved to {moved1} -> {moved2} was accepted"
        );
    }
    assert!(refusals > 500_000, "only {refusals} tamperings were tried");
}

#[test]
fn out_of_range_requests_are_refused_not_panicked_on() {
    let tree = distinct_tree::<Sha256Hasher>(5);
    assert_eq!(
        tree.inclusion_proof(LeafIndex(5), TreeSize(5)),
        Err(ProofError::IndexOutOfRange {
            leaf: LeafIndex(5),
            size: TreeSize(5)
        })
    );
    assert_eq!(
        tree.inclusion_proof(LeafIndex(0), TreeSize(0)),
        Err(ProofError::IndexOutOfRange {
            leaf: LeafIndex(0),
            size: TreeSize(0)
        })
    );
    // Asking a memory tree for more leaves than it holds is a source error, not a panic.
    assert!(matches!(
        tree.inclusion_proof(LeafIndex(0), TreeSize(6)),
        Err(ProofError::Source(_))
    ));
    assert!(root_at::<Sha256Hasher, _>(TreeSize(9), &tree).is_err());
    let empty = Sha256Hasher::empty();
    let any = [1u8; 32];
    assert_eq!(
        verify_inclusion::<Sha256Hasher>(&any, LeafIndex(u64::MAX), TreeSize(8), &[], &any),
        Err(VerifyError::IndexOutOfRange {
            leaf: LeafIndex(u64::MAX),
            size: TreeSize(8)
        })
    );
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(2), TreeSize(1), &[], &any, &any),
        Err(VerifyError::SizesOutOfOrder {
            size1: TreeSize(2),
            size2: TreeSize(1)
        })
    );
    // The size1 = 0 rule, spelled out.
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(0), TreeSize(7), &[], &empty, &any),
        Ok(())
    );
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(0), TreeSize(7), &[], &any, &any),
        Err(VerifyError::IncorrectFirstRoot)
    );
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(0), TreeSize(7), &[empty], &empty, &any),
        Err(VerifyError::MalformedProof {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(0), TreeSize(0), &[], &empty, &empty),
        Ok(())
    );
    assert_eq!(
        verify_consistency::<Sha256Hasher>(TreeSize(0), TreeSize(0), &[], &any, &any),
        Err(VerifyError::IncorrectFirstRoot)
    );
}

// ---------------------------------------------------------------------------------------
// The frontier: what push reports, and rebuilding from a source.
// ---------------------------------------------------------------------------------------

#[test]
fn push_reports_exactly_the_nodes_it_completes_bottom_up() {
    let tree = distinct_tree::<Sha256Hasher>(300);
    let mut frontier = Frontier::new();
    let mut stored = BTreeSet::new();
    for size in 0..1100u64 {
        let leaf_hash = match tree.leaf_hash(LeafIndex(size)) {
            Some(hash) => hash,
            None => Sha256Hasher::leaf(format!("leaf {size}").as_bytes()),
        };
        let mut reported = Vec::new();
        frontier
            .push::<Sha256Hasher>(leaf_hash, &mut |id, hash| reported.push((id, hash)))
            .unwrap();
        // Brute force: the nodes complete within size + 1 but not within size.
        let mut want = Vec::new();
        for level in 0..=11u8 {
            for index in 0..=((size + 1) >> level) {
                let id = NodeId { level, index };
                if id.is_complete_within(TreeSize(size + 1))
                    && !id.is_complete_within(TreeSize(size))
                {
                    want.push(id);
                }
            }
        }
        let ids: Vec<NodeId> = reported.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, want, "push at size {size}");
        assert_eq!(ids[0], NodeId::leaf(LeafIndex(size)));
        assert_eq!(reported[0].1, leaf_hash);
        for (id, hash) in &reported {
            assert!(stored.insert(*id), "{id} reported twice");
            if size < 300 {
                assert_eq!(tree.node(*id), Ok(*hash), "{id}");
            }
        }
    }
    // Every node complete in the final tree was reported exactly once.
    assert_eq!(
        stored.len(),
        2 * 1100 - TreeSize(1100).perfect_subtrees().count()
    );
}

#[test]
fn frontier_round_trips_through_a_source_at_every_size_to_300() {
    let tree = random_tree::<Blake3Hasher>(300, 7);
    let mut frontier = Frontier::new();
    for size in 0..=300u64 {
        let rebuilt = Frontier::from_source(TreeSize(size), &tree).unwrap();
        assert_eq!(rebuilt, frontier, "size {size}");
        assert_eq!(
            rebuilt.root::<Blake3Hasher>(),
            tree.reference_root(TreeSize(size)).unwrap()
        );
        let ids: Vec<NodeId> = rebuilt.subtrees().iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, TreeSize(size).perfect_subtrees().collect::<Vec<_>>());
        assert_eq!(ids.len(), size.count_ones() as usize);
        if let Some(leaf_hash) = tree.leaf_hash(LeafIndex(size)) {
            frontier
                .push::<Blake3Hasher>(leaf_hash, &mut |_, _| {})
                .unwrap();
        }
    }
    assert_eq!(frontier_of(&tree), frontier);
}

/// A tree whose leaves all hold the same hash: every node of a level has the same hash,
/// so it is a consistent tree of any size, up to u64::MAX leaves, in 64 hashes.
struct UniformTree {
    by_level: Vec<Hash>,
    reads: Cell<usize>,
    size: TreeSize,
}

impl UniformTree {
    fn new<H: MerkleHasher>(size: u64) -> UniformTree {
        let mut by_level = vec![H::leaf(b"the same leaf")];
        for level in 1..64 {
            let below = by_level[level - 1];
            by_level.push(H::node(&below, &below));
        }
        UniformTree {
            by_level,
            reads: Cell::new(0),
            size: TreeSize(size),
        }
    }
}

impl NodeSource for UniformTree {
    type Error = NodeId;

    fn node(&self, id: NodeId) -> Result<Hash, NodeId> {
        self.reads.set(self.reads.get() + 1);
        if !id.is_complete_within(self.size) {
            return Err(id);
        }
        Ok(self.by_level[usize::from(id.level)])
    }
}

#[test]
fn huge_trees_up_to_u64_max_neither_overflow_nor_ask_for_incomplete_nodes() {
    for size in [
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 40) - 3,
    ] {
        let tree = UniformTree::new::<Sha256Hasher>(size);
        let root = root_at::<Sha256Hasher, _>(TreeSize(size), &tree).unwrap();
        let frontier = Frontier::from_source(TreeSize(size), &tree).unwrap();
        assert_eq!(frontier.root::<Sha256Hasher>(), root);
        let leaf_hash = tree.by_level[0];
        for leaf in [0, 1, size / 2, size - 2, size - 1] {
            let proof =
                inclusion_proof::<Sha256Hasher, _>(LeafIndex(leaf), TreeSize(size), &tree).unwrap();
            assert!(proof.len() <= 128);
            assert_eq!(
                verify_inclusion::<Sha256Hasher>(
                    &leaf_hash,
                    LeafIndex(leaf),
                    TreeSize(size),
                    &proof,
                    &root
                ),
                Ok(()),
                "leaf {leaf} of {size}"
            );
        }
        for size1 in [1, 2, 3, size / 3, size - 1, size] {
            let old = UniformTree::new::<Sha256Hasher>(size1);
            let root1 = root_at::<Sha256Hasher, _>(TreeSize(size1), &old).unwrap();
            let proof =
                consistency_proof::<Sha256Hasher, _>(TreeSize(size1), TreeSize(size), &tree)
                    .unwrap();
            assert_eq!(
                verify_consistency::<Sha256Hasher>(
                    TreeSize(size1),
                    TreeSize(size),
                    &proof,
                    &root1,
                    &root
                ),
                Ok(()),
                "{size1} -> {size}"
            );
        }
    }
    // The largest push is refused rather than wrapping around.
    let full = Frontier::from_source(
        TreeSize(u64::MAX),
        &UniformTree::new::<Sha256Hasher>(u64::MAX),
    )
    .unwrap();
    let mut full = full;
    assert!(full.push::<Sha256Hasher>([0; 32], &mut |_, _| {}).is_err());
    assert_eq!(full.size(), TreeSize(u64::MAX));
}

// ---------------------------------------------------------------------------------------
// How many nodes a proof reads at a million leaves.
// ---------------------------------------------------------------------------------------

/// Every complete node of a tree, stored by level as a store would, counting reads.
struct LevelStore {
    levels: Vec<Vec<Hash>>,
    reads: Cell<usize>,
}

impl NodeSource for LevelStore {
    type Error = NodeId;

    fn node(&self, id: NodeId) -> Result<Hash, NodeId> {
        self.reads.set(self.reads.get() + 1);
        self.levels
            .get(usize::from(id.level))
            .and_then(|level| level.get(usize::try_from(id.index).ok()?))
            .copied()
            .ok_or(id)
    }
}

impl LevelStore {
    fn take_reads(&self) -> usize {
        self.reads.replace(0)
    }
}

#[test]
fn proofs_at_a_million_leaves_read_few_nodes_and_verify() {
    const SIZE: u64 = 1_000_000;
    let mut store = LevelStore {
        levels: vec![Vec::new(); 21],
        reads: Cell::new(0),
    };
    let mut frontier = Frontier::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1_000_000);
    let mut roots_by_size = Vec::new();
    let checkpoints = [1, 2, 3, 524_287, 524_288, 524_289, 999_999];
    for i in 0..SIZE {
        let leaf_hash = Blake3Hasher::leaf(&i.to_be_bytes());
        frontier
            .push::<Blake3Hasher>(leaf_hash, &mut |id, hash| {
                let level = &mut store.levels[usize::from(id.level)];
                // The store receives nodes of each level in index order.
                assert_eq!(level.len() as u64, id.index);
                level.push(hash);
            })
            .unwrap();
        if checkpoints.contains(&(i + 1)) {
            roots_by_size.push((i + 1, frontier.root::<Blake3Hasher>()));
        }
    }
    let size = TreeSize(SIZE);
    let root = frontier.root::<Blake3Hasher>();
    assert_eq!(root_at::<Blake3Hasher, _>(size, &store).unwrap(), root);
    assert_eq!(store.take_reads(), SIZE.count_ones() as usize);
    assert_eq!(Frontier::from_source(size, &store).unwrap(), frontier);
    store.take_reads();

    for _ in 0..200 {
        let leaf = LeafIndex(rng.gen_range(0..SIZE));
        let proof = inclusion_proof::<Blake3Hasher, _>(leaf, size, &store).unwrap();
        let reads = store.take_reads();
        assert!(reads <= 40, "leaf {leaf}: {reads} reads");
        assert!((proof.len()..=proof.len() + 20).contains(&reads));
        let leaf_hash = Blake3Hasher::leaf(&leaf.get().to_be_bytes());
        assert_eq!(
            verify_inclusion::<Blake3Hasher>(&leaf_hash, leaf, size, &proof, &root),
            Ok(())
        );
    }
    for (size1, root1) in roots_by_size {
        let proof = consistency_proof::<Blake3Hasher, _>(TreeSize(size1), size, &store).unwrap();
        let reads = store.take_reads();
        assert!(reads <= 45, "{size1} -> {SIZE}: {reads} reads");
        assert_eq!(
            verify_consistency::<Blake3Hasher>(TreeSize(size1), size, &proof, &root1, &root),
            Ok(())
        );
    }
}
