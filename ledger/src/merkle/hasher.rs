//! The two hash functions of the tree: the domain-separated leaf hash H(0x00 ‖ data) and
//! node hash H(0x01 ‖ left ‖ right) of RFC 6962 §2.1 (RFC 9162 §2.1.1), and the empty-tree
//! root H("").
//!
//! This module is for turning bytes into 32-byte tree hashes with SHA-256 (to check the
//! algorithms against public test vectors) or BLAKE3 (what Yibao logs use in production).
//! It is deliberately not for hashing entries or payloads for any other purpose, and it
//! does not encode hashes for the wire (base64 and hex belong to the callers).

use sha2::Digest;

/// A tree hash: the leaf, node and root hashes of both hashes we use are 32 bytes long.
pub type Hash = [u8; 32];

/// The length in bytes of a [`Hash`].
pub const HASH_LEN: usize = 32;

/// The byte that starts the input of every leaf hash (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;

/// The byte that starts the input of every interior node hash (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// A hash function plugged into the RFC 6962 tree shape.
///
/// Implementations must keep leaves and nodes apart by the 0x00 and 0x01 prefixes, or
/// second-preimage attacks on the tree become possible (RFC 9162 §2.1.1).
pub trait MerkleHasher {
    /// A short, stable name of the hash, for origin lines and error messages.
    const ALGORITHM: &'static str;

    /// The hash of a leaf holding `data`: H(0x00 ‖ data).
    fn leaf(data: &[u8]) -> Hash;

    /// The hash of an interior node: H(0x01 ‖ left ‖ right).
    fn node(left: &Hash, right: &Hash) -> Hash;

    /// The root of the empty tree: H("") (RFC 6962 §2.1).
    fn empty() -> Hash;
}

/// SHA-256, the hash of RFC 6962 and of the public transparency-dev test vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sha256Hasher;

impl MerkleHasher for Sha256Hasher {
    const ALGORITHM: &'static str = "SHA-256";

    fn leaf(data: &[u8]) -> Hash {
        let mut hasher = sha2::Sha256::new();
        hasher.update([LEAF_PREFIX]);
        hasher.update(data);
        hasher.finalize().into()
    }

    fn node(left: &Hash, right: &Hash) -> Hash {
        let mut hasher = sha2::Sha256::new();
        hasher.update([NODE_PREFIX]);
        hasher.update(left);
        hasher.update(right);
        hasher.finalize().into()
    }

    fn empty() -> Hash {
        sha2::Sha256::digest([]).into()
    }
}

/// BLAKE3 with its default 32-byte output: the hash of every Yibao log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blake3Hasher;

impl MerkleHasher for Blake3Hasher {
    const ALGORITHM: &'static str = "BLAKE3";

    fn leaf(data: &[u8]) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[LEAF_PREFIX]);
        hasher.update(data);
        *hasher.finalize().as_bytes()
    }

    fn node(left: &Hash, right: &Hash) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[NODE_PREFIX]);
        hasher.update(left);
        hasher.update(right);
        *hasher.finalize().as_bytes()
    }

    fn empty() -> Hash {
        *blake3::hash(&[]).as_bytes()
    }
}

/// A byte string offered as a tree hash did not have [`HASH_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a tree hash must be {HASH_LEN} bytes long, but this one has {actual} bytes")]
pub struct WrongHashLength {
    /// The length that was offered.
    pub actual: usize,
}

/// Reads a tree hash from bytes decoded off the wire, refusing any other length.
///
/// Use it on every root, leaf hash and proof element that comes from outside, before
/// calling the verifiers: they take typed hashes, so a 31- or 33-byte "hash" is refused
/// here as malformed input rather than reaching the tree code.
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash, WrongHashLength> {
    Hash::try_from(bytes).map_err(|_| WrongHashLength {
        actual: bytes.len(),
    })
}
