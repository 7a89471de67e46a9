//! Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding), restricted to the
//! subset Yibao Ledger uses, with a strict decoder. PLACEHOLDER API: being implemented.

use serde::{de::DeserializeOwned, Serialize};

/// Why a value could not be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    /// A value outside the subset (floats, non-text map keys, …).
    #[error("cannot encode: {0}")]
    Unsupported(String),
}

/// Why bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Anything else, with a message.
    #[error("{0}")]
    Custom(String),
}

/// Encodes `value` canonically.
pub fn to_vec<T: Serialize + ?Sized>(_value: &T) -> Result<Vec<u8>, EncodeError> {
    Err(EncodeError::Unsupported("not implemented yet".into()))
}

/// Decodes strictly and requires that re-encoding gives back exactly `bytes`.
pub fn from_slice_canonical<T: Serialize + DeserializeOwned>(_bytes: &[u8]) -> Result<T, DecodeError> {
    Err(DecodeError::Custom("not implemented yet".into()))
}
