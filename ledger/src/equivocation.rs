//! Equivocation proofs: two checkpoints of one log, both signed by its bureau key, that
//! cannot both be honest (SPEC.md §13).
//!
//! - Same size, different roots: the two checkpoints are the whole proof.
//! - Different sizes `a < b`: a consistency proof from size `a` to checkpoint `b`'s root,
//!   starting from a root of size `a` (`prefix_root`) that is not checkpoint `a`'s root.
//!   Checkpoint `b`'s tree therefore has a different first `a` leaves than checkpoint `a`'s.
//!
//! A proof is self-contained: anyone holding the log's key can check it, with no access
//! to the log.

use yibao_schema::cbor::{Decoder, Encoder};
use yibao_schema::note::{SignedCheckpoint, VerifierKey};

use crate::merkle::{verify_consistency, Blake3Hasher, Hash, TreeSize};

/// The tag that opens an encoded proof.
pub const PROOF_TAG: &str = "yibao-equivocation";
/// The version of the proof encoding.
pub const PROOF_VERSION: u64 = 1;
/// The most hashes a consistency proof of a 2^64-leaf tree can hold.
const MAX_PROOF_HASHES: usize = 128;
/// The longest checkpoint note accepted inside a proof.
const MAX_NOTE_LEN: usize = 16 * 1024;

/// A proof that a log's key signed two inconsistent checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquivocationProof {
    /// The smaller (or equal) checkpoint's note text.
    pub first: String,
    /// The larger (or equal) checkpoint's note text.
    pub second: String,
    /// For different sizes: the root of the second tree's prefix of the first's size.
    pub prefix_root: Option<Hash>,
    /// For different sizes: the consistency proof from that prefix to the second root.
    pub consistency: Vec<Hash>,
}

/// What a verified proof shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivocation {
    /// The log's origin.
    pub origin: String,
    /// The two sizes.
    pub sizes: (u64, u64),
    /// The two roots.
    pub roots: (Hash, Hash),
}

/// Why a proof is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("equivocation proof: malformed encoding: {0}")]
    Malformed(String),
    #[error("equivocation proof: checkpoint {which}: {reason}")]
    Checkpoint { which: &'static str, reason: String },
    #[error("equivocation proof: the checkpoints are of different logs")]
    DifferentLogs,
    #[error("equivocation proof: the checkpoints agree ({0})")]
    Consistent(String),
}

impl EquivocationProof {
    /// Encodes the proof: the canonical CBOR array `["yibao-equivocation", 1, first,
    /// second, prefix_root or null, [hash, …]]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.array(6);
        e.text(PROOF_TAG);
        e.uint(PROOF_VERSION);
        e.text(&self.first);
        e.text(&self.second);
        match &self.prefix_root {
            Some(root) => e.bytes(root),
            None => e.null(),
        };
        e.array(self.consistency.len() as u64);
        for hash in &self.consistency {
            e.bytes(hash);
        }
        e.into_vec()
    }

    /// Decodes a proof strictly (the bytes must be exactly what [`Self::encode`] gives).
    pub fn decode(bytes: &[u8]) -> Result<EquivocationProof, ProofError> {
        let bad = |e: yibao_schema::cbor::DecodeError| ProofError::Malformed(e.to_string());
        let mut d = Decoder::new(bytes);
        if d.array().map_err(bad)? != 6 {
            return Err(ProofError::Malformed("expected an array of 6".into()));
        }
        if d.text().map_err(bad)? != PROOF_TAG {
            return Err(ProofError::Malformed("wrong tag".into()));
        }
        let version = d.uint().map_err(bad)?;
        if version != PROOF_VERSION {
            return Err(ProofError::Malformed(format!("unknown version {version}")));
        }
        let first = d.text().map_err(bad)?.to_string();
        let second = d.text().map_err(bad)?.to_string();
        if first.len() > MAX_NOTE_LEN || second.len() > MAX_NOTE_LEN {
            return Err(ProofError::Malformed("checkpoint note too long".into()));
        }
        let prefix_root = if d.is_null() {
            d.null().map_err(bad)?;
            None
        } else {
            Some(hash_of(d.bytes().map_err(bad)?)?)
        };
        let count = d.array().map_err(bad)?;
        if count > MAX_PROOF_HASHES as u64 {
            return Err(ProofError::Malformed("too many hashes".into()));
        }
        let mut consistency = Vec::with_capacity(count as usize);
        for _ in 0..count {
            consistency.push(hash_of(d.bytes().map_err(bad)?)?);
        }
        d.finish().map_err(bad)?;
        let proof = EquivocationProof {
            first,
            second,
            prefix_root,
            consistency,
        };
        if proof.encode() != bytes {
            return Err(ProofError::Malformed("not in canonical form".into()));
        }
        Ok(proof)
    }

    /// Checks the proof against the log's key (the checkpoints' signer).
    pub fn verify(&self, log_key: &VerifierKey) -> Result<Equivocation, ProofError> {
        let open = |which: &'static str, text: &str| -> Result<SignedCheckpoint, ProofError> {
            let signed = SignedCheckpoint::parse(text).map_err(|e| ProofError::Checkpoint {
                which,
                reason: e.to_string(),
            })?;
            signed.verify(log_key).map_err(|e| ProofError::Checkpoint {
                which,
                reason: e.to_string(),
            })?;
            Ok(signed)
        };
        let a = open("first", &self.first)?.checkpoint;
        let b = open("second", &self.second)?.checkpoint;
        if a.origin != b.origin {
            return Err(ProofError::DifferentLogs);
        }
        let found = Equivocation {
            origin: a.origin.clone(),
            sizes: (a.size, b.size),
            roots: (a.root, b.root),
        };
        if a.size == b.size {
            if a.root == b.root {
                return Err(ProofError::Consistent("same size, same root".into()));
            }
            return Ok(found);
        }
        if a.size > b.size {
            return Err(ProofError::Malformed(
                "the first checkpoint must not be larger than the second".into(),
            ));
        }
        let prefix = self
            .prefix_root
            .ok_or_else(|| ProofError::Malformed("different sizes need a prefix root".into()))?;
        if prefix == a.root {
            return Err(ProofError::Consistent(
                "the prefix root is the first checkpoint's root".into(),
            ));
        }
        verify_consistency::<Blake3Hasher>(
            TreeSize(a.size),
            TreeSize(b.size),
            &self.consistency,
            &prefix,
            &b.root,
        )
        .map_err(|e| {
            ProofError::Consistent(format!(
                "the consistency proof from the prefix does not verify: {e}"
            ))
        })?;
        Ok(found)
    }
}

fn hash_of(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes
        .try_into()
        .map_err(|_| ProofError::Malformed("a hash is not 32 bytes".into()))
}
