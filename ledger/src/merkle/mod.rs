//! The verifiable log's Merkle tree: the RFC 6962 §2.1 / RFC 9162 §2.1 tree shape with
//! domain-separated hashing, generic over the hash ([`Sha256Hasher`] to check against the
//! public transparency-dev vectors, [`Blake3Hasher`] in production).
//!
//! What it is for:
//! * computing leaf, node and root hashes ([`MerkleHasher`], [`Frontier`], [`root_at`]);
//! * producing inclusion proofs (RFC 9162 §2.1.3.1) and consistency proofs (RFC 9162
//!   §2.1.4.1) from stored perfect subtrees ([`inclusion_proof`], [`consistency_proof`]);
//! * verifying them with no access to the tree (RFC 9162 §2.1.3.2 and §2.1.4.2,
//!   [`verify_inclusion`], [`verify_consistency`]), including the edge cases documented
//!   in `verify` (notably: a consistency proof from size 0 is empty and is accepted when
//!   the first root is H("")).
//!
//! What it is deliberately not for: storing nodes (the sled layer implements
//! [`NodeSource`]), signing or parsing checkpoints, encoding proofs for the wire, tiles.
//! Nothing here does I/O, and nothing panics on any input.
// Input from outside reaches this code (sizes and indexes from peers and HTTP requests):
// no panics, no unchecked indexing, no silent overflow or truncation.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions
)]

mod frontier;
mod hasher;
mod memory;
mod position;
mod prove;
mod verify;

pub use frontier::{Frontier, TreeFull};
pub use hasher::{
    hash_from_slice, Blake3Hasher, Hash, MerkleHasher, Sha256Hasher, WrongHashLength, HASH_LEN,
};
pub use memory::{MemoryTree, NodeNotInTree};
pub use position::{LeafIndex, NodeId, NodeSource, PerfectSubtrees, TreeSize};
pub use prove::{consistency_proof, inclusion_proof, root_at, ProofError};
pub use verify::{verify_consistency, verify_inclusion, VerifyError};
