//! The signed entry envelope: what an officer signs (the statement), what an officer
//! submits (a signed submission) and what a log stores (an entry).
//!
//! Byte layouts are specified in `schema/SPEC.md` §3; this module is their only encoder.
//! It checks the envelope (structure, version, payload hash and length, signature) but not
//! the record inside, whose rules live in `rules` and `state`, nor the chain of `prev`
//! links and sequence numbers, which the ledger checks because only it knows the log.
//!
//! Why the officer does not sign `seq` and `prev`: many officers submit at once and the log
//! orders them (group commit), so an officer cannot know them in advance. The log binds
//! them instead: every entry's bytes, `seq` and `prev` included, are a leaf of the log's
//! Merkle tree, whose root the bureau key signs in each checkpoint.

use crate::cbor::{DecodeError, Decoder, Encoder};
use ed25519_dalek::SigningKey;

/// Version of the statement, submission and entry layouts.
pub const ENVELOPE_VERSION: u64 = 1;

/// Domain separation prefix of the message an officer signs: these bytes, then the
/// statement bytes. No other Yibao signature starts with them.
pub const STATEMENT_SIGNING_PREFIX: &[u8] = b"yibao-ledger/v1/statement\n";

/// Largest payload (canonical CBOR record) accepted, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024;

/// Largest entry accepted, in bytes: the payload plus a generous envelope.
pub const MAX_ENTRY_LEN: usize = MAX_PAYLOAD_LEN + 4096;

/// Largest origin string accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 128;

/// Largest record kind name accepted, in bytes.
pub const MAX_KIND_LEN: usize = 64;

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The bytes are not the CBOR this layout requires.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// Which layout: "entry", "submission" or "statement".
        what: &'static str,
        /// The decoder's account of the problem.
        source: DecodeError,
    },
    /// Well-formed CBOR but not this layout.
    #[error("malformed {what}: {reason}")]
    Layout {
        /// Which layout.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A version this code does not know.
    #[error("unsupported {what} version {version} (this build knows version {ENVELOPE_VERSION})")]
    UnsupportedVersion {
        /// Which layout.
        what: &'static str,
        /// The version found.
        version: u64,
    },
    /// The payload does not match the hash or length the statement commits to.
    #[error("payload does not match the statement: {0}")]
    PayloadMismatch(&'static str),
    /// A size limit was exceeded.
    #[error("{what} is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// What an officer signs: every field of the entry header except `seq` and `prev`.
///
/// Borrowed from the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The log this statement is for, e.g. `yibao.ledger/v1/blake3/141125`.
    pub origin: &'a str,
    /// When the officer signed, in milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// The officer's Ed25519 public key.
    pub author: [u8; 32],
    /// The record kind's name, e.g. `finding`.
    pub kind: &'a str,
    /// BLAKE3 of the payload bytes.
    pub payload_hash: [u8; 32],
    /// Length of the payload in bytes.
    pub payload_len: u64,
}

impl<'a> Statement<'a> {
    /// Encodes the statement: CBOR array of 7 items (SPEC.md §3.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(64 + self.origin.len() + self.kind.len() + 64);
        e.array(7);
        e.uint(ENVELOPE_VERSION);
        e.text(self.origin);
        e.uint(self.timestamp_ms);
        e.bytes(&self.author);
        e.text(self.kind);
        e.bytes(&self.payload_hash);
        e.uint(self.payload_len);
        e.into_vec()
    }

    /// Decodes a statement strictly.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let malformed = |source| EnvelopeError::Malformed {
            what: "statement",
            source,
        };
        let mut d = open_envelope(bytes, "statement", 7)?;
        let origin = d.text().map_err(malformed)?;
        let timestamp_ms = d.uint().map_err(malformed)?;
        let author = d.bytes_fixed::<32>().map_err(malformed)?;
        let kind = d.text().map_err(malformed)?;
        let payload_hash = d.bytes_fixed::<32>().map_err(malformed)?;
        let payload_len = d.uint().map_err(malformed)?;
        d.finish().map_err(malformed)?;
        if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN {
            return Err(EnvelopeError::Layout {
                what: "statement",
                reason: format!(
                    "origin must be 1 to {MAX_ORIGIN_LEN} bytes, found {}",
                    origin.len()
                ),
            });
        }
        if kind.is_empty() || kind.len() > MAX_KIND_LEN {
            return Err(EnvelopeError::Layout {
                what: "statement",
                reason: format!(
                    "record kind must be 1 to {MAX_KIND_LEN} bytes, found {}",
                    kind.len()
                ),
            });
        }
        Ok(Statement {
            origin,
            timestamp_ms,
            author,
            kind,
            payload_hash,
            payload_len,
        })
    }
}

/// Opens an envelope of at most [`MAX_ENTRY_LEN`] bytes: an array of exactly `items`
/// items whose first is the version, which must be [`ENVELOPE_VERSION`]. Returns the
/// decoder positioned after the version.
fn open_envelope<'a>(
    bytes: &'a [u8],
    what: &'static str,
    items: u64,
) -> Result<Decoder<'a>, EnvelopeError> {
    if bytes.len() > MAX_ENTRY_LEN {
        return Err(EnvelopeError::TooLarge {
            what,
            len: bytes.len(),
            limit: MAX_ENTRY_LEN,
        });
    }
    let malformed = |source| EnvelopeError::Malformed { what, source };
    let mut d = Decoder::new(bytes);
    let len = d.array().map_err(malformed)?;
    if len != items {
        return Err(EnvelopeError::Layout {
            what,
            reason: format!("expected an array of {items} items, found {len}"),
        });
    }
    let version = d.uint().map_err(malformed)?;
    if version != ENVELOPE_VERSION {
        return Err(EnvelopeError::UnsupportedVersion { what, version });
    }
    Ok(d)
}

/// The message an officer's key signs: the prefix, then the statement bytes.
pub fn signing_message(statement_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(STATEMENT_SIGNING_PREFIX.len() + statement_bytes.len());
    message.extend_from_slice(STATEMENT_SIGNING_PREFIX);
    message.extend_from_slice(statement_bytes);
    message
}

/// A statement signed by its author, with its payload: what an officer submits to a log.
///
/// Owns its parts; [`SubmissionRef`] is the borrowed view used on hot paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The encoded statement, exactly as signed.
    pub statement_bytes: Vec<u8>,
    /// Ed25519 signature over [`signing_message`] of `statement_bytes`.
    pub signature: [u8; 64],
    /// The record's canonical CBOR payload.
    pub payload: Vec<u8>,
}

impl Submission {
    /// Signs `payload` (a record's canonical CBOR) of `kind` for the log `origin`.
    pub fn sign(
        key: &SigningKey,
        origin: &str,
        timestamp_ms: u64,
        kind: &str,
        payload: Vec<u8>,
    ) -> Result<Self, EnvelopeError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::TooLarge {
                what: "payload",
                len: payload.len(),
                limit: MAX_PAYLOAD_LEN,
            });
        }
        let statement = Statement {
            origin,
            timestamp_ms,
            author: key.verifying_key().to_bytes(),
            kind,
            payload_hash: *blake3::hash(&payload).as_bytes(),
            payload_len: payload.len() as u64,
        };
        let statement_bytes = statement.encode();
        // Check our own output against the decoder, so that nothing we sign is refused.
        Statement::decode(&statement_bytes)?;
        let signature = crate::sig::sign(key, &signing_message(&statement_bytes));
        Ok(Submission {
            statement_bytes,
            signature,
            payload,
        })
    }

    /// Encodes the submission: CBOR array [version, statement bytes, signature, payload]
    /// (SPEC.md §3.2).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(self.statement_bytes.len() + self.payload.len() + 96);
        e.array(4);
        e.uint(ENVELOPE_VERSION);
        e.bytes(&self.statement_bytes);
        e.bytes(&self.signature);
        e.bytes(&self.payload);
        e.into_vec()
    }

    /// Decodes and checks a submission's envelope (not its signature).
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let view = SubmissionRef::decode(bytes)?;
        Ok(view.to_owned())
    }

    /// The borrowed view of this submission.
    pub fn view(&self) -> Result<SubmissionRef<'_>, EnvelopeError> {
        SubmissionRef::from_parts(&self.statement_bytes, self.signature, &self.payload)
    }

    /// BLAKE3 of the statement bytes: a submission's identity, used to make re-submission
    /// of the same signed statement idempotent.
    pub fn statement_hash(&self) -> [u8; 32] {
        *blake3::hash(&self.statement_bytes).as_bytes()
    }
}

/// A borrowed, checked view of a submission: the statement is decoded and the payload
/// matches its hash and length. The signature is not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmissionRef<'a> {
    /// The encoded statement, exactly as signed.
    pub statement_bytes: &'a [u8],
    /// The decoded statement.
    pub statement: Statement<'a>,
    /// The author's signature.
    pub signature: [u8; 64],
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> SubmissionRef<'a> {
    /// Decodes a submission strictly.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let malformed = |source| EnvelopeError::Malformed {
            what: "submission",
            source,
        };
        let mut d = open_envelope(bytes, "submission", 4)?;
        let statement_bytes = d.bytes().map_err(malformed)?;
        let signature = d.bytes_fixed::<64>().map_err(malformed)?;
        let payload = d.bytes().map_err(malformed)?;
        d.finish().map_err(malformed)?;
        Self::from_parts(statement_bytes, signature, payload)
    }

    fn from_parts(
        statement_bytes: &'a [u8],
        signature: [u8; 64],
        payload: &'a [u8],
    ) -> Result<Self, EnvelopeError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::TooLarge {
                what: "payload",
                len: payload.len(),
                limit: MAX_PAYLOAD_LEN,
            });
        }
        let statement = Statement::decode(statement_bytes)?;
        if statement.payload_len != payload.len() as u64 {
            return Err(EnvelopeError::PayloadMismatch(
                "payload length differs from the statement's payload_len",
            ));
        }
        if blake3::hash(payload).as_bytes() != &statement.payload_hash {
            return Err(EnvelopeError::PayloadMismatch(
                "BLAKE3 of the payload differs from the statement's payload_hash",
            ));
        }
        Ok(SubmissionRef {
            statement_bytes,
            statement,
            signature,
            payload,
        })
    }

    /// The message the author signed.
    pub fn signing_message(&self) -> Vec<u8> {
        signing_message(self.statement_bytes)
    }

    /// Checks the author's signature under the Yibao rule (`sig`).
    pub fn verify_signature(&self) -> Result<(), crate::sig::SignatureError> {
        crate::sig::verify(
            &self.statement.author,
            &self.signing_message(),
            &self.signature,
        )
    }

    /// BLAKE3 of the statement bytes (see [`Submission::statement_hash`]).
    pub fn statement_hash(&self) -> [u8; 32] {
        *blake3::hash(self.statement_bytes).as_bytes()
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Submission {
        Submission {
            statement_bytes: self.statement_bytes.to_vec(),
            signature: self.signature,
            payload: self.payload.to_vec(),
        }
    }
}

/// Encodes an entry: CBOR array [version, seq, prev, statement bytes, signature, payload]
/// (SPEC.md §3.3). These bytes are the entry's Merkle leaf data.
pub fn encode_entry(seq: u64, prev: &[u8; 32], submission: &SubmissionRef<'_>) -> Vec<u8> {
    let mut e =
        Encoder::with_capacity(submission.statement_bytes.len() + submission.payload.len() + 160);
    e.array(6);
    e.uint(ENVELOPE_VERSION);
    e.uint(seq);
    e.bytes(prev);
    e.bytes(submission.statement_bytes);
    e.bytes(&submission.signature);
    e.bytes(submission.payload);
    e.into_vec()
}

/// A borrowed, checked view of a stored entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Leaf hash of entry `seq - 1`, or 32 zero bytes for entry 0.
    pub prev: [u8; 32],
    /// The signed submission inside.
    pub submission: SubmissionRef<'a>,
}

impl<'a> EntryRef<'a> {
    /// Decodes an entry strictly and checks the payload against the statement.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let malformed = |source| EnvelopeError::Malformed {
            what: "entry",
            source,
        };
        let mut d = open_envelope(bytes, "entry", 6)?;
        let seq = d.uint().map_err(malformed)?;
        let prev = d.bytes_fixed::<32>().map_err(malformed)?;
        let statement_bytes = d.bytes().map_err(malformed)?;
        let signature = d.bytes_fixed::<64>().map_err(malformed)?;
        let payload = d.bytes().map_err(malformed)?;
        d.finish().map_err(malformed)?;
        let submission = SubmissionRef::from_parts(statement_bytes, signature, payload)?;
        Ok(EntryRef {
            seq,
            prev,
            submission,
        })
    }

    /// Re-encodes the entry; equal to the decoded bytes by construction of the strict
    /// decoder (tests hold this).
    pub fn encode(&self) -> Vec<u8> {
        encode_entry(self.seq, &self.prev, &self.submission)
    }
}

/// Zero bytes: the `prev` of entry 0.
pub const GENESIS_PREV: [u8; 32] = [0u8; 32];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn statement_round_trips_and_is_checked() {
        let payload = vec![0xa0]; // an empty CBOR map
        let s = Submission::sign(
            &key(7),
            "yibao.ledger/v1/blake3/141125",
            1_700_000_000_000,
            "finding",
            payload.clone(),
        )
        .unwrap();
        let view = s.view().unwrap();
        assert_eq!(view.statement.kind, "finding");
        assert_eq!(view.statement.payload_len, 1);
        let bytes = s.encode();
        let back = Submission::decode(&bytes).unwrap();
        assert_eq!(back, s);
        let entry = encode_entry(3, &[9u8; 32], &view);
        let e = EntryRef::decode(&entry).unwrap();
        assert_eq!(e.seq, 3);
        assert_eq!(e.prev, [9u8; 32]);
        assert_eq!(e.encode(), entry);
        assert_eq!(e.submission.payload, &payload[..]);
    }

    #[test]
    fn payload_mismatch_is_refused() {
        let mut s = Submission::sign(&key(1), "o", 1, "grade_set", vec![0xa0]).unwrap();
        s.payload = vec![0x80];
        assert!(matches!(
            SubmissionRef::decode(&s.encode()),
            Err(EnvelopeError::PayloadMismatch(_))
        ));
    }

    #[test]
    fn every_truncation_of_an_entry_is_refused() {
        let s = Submission::sign(&key(2), "o", 5, "finding", vec![0xa0]).unwrap();
        let entry = encode_entry(0, &GENESIS_PREV, &s.view().unwrap());
        for cut in 0..entry.len() {
            assert!(EntryRef::decode(&entry[..cut]).is_err(), "prefix {cut}");
        }
        let mut longer = entry.clone();
        longer.push(0);
        assert!(EntryRef::decode(&longer).is_err());
    }
}
