//! Error types of the canonical CBOR codec: why a value could not be encoded, and why
//! bytes were refused by the strict decoder.
//!
//! This module only describes failures; it does not decide policy (which inputs are
//! refused is decided in `decoder.rs`, `ser.rs` and `de.rs`).

use std::fmt::Display;

/// Why a value could not be encoded in the canonical subset.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A value outside the subset, such as a floating-point number.
    #[error("cannot encode: {0}")]
    Unsupported(String),
    /// A 128-bit integer outside the range of CBOR's 64-bit major types 0 and 1.
    #[error("cannot encode: integer {0} does not fit a 64-bit CBOR integer")]
    IntegerOutOfRange(String),
    /// A map key that does not serialise as a text string.
    #[error("cannot encode: map key is {found}, but map keys must be text strings")]
    MapKeyNotText {
        /// What the key serialised as.
        found: &'static str,
    },
    /// The same key was written twice into one map.
    #[error("cannot encode: duplicate map key {key:?}")]
    DuplicateMapKey {
        /// The repeated key.
        key: String,
    },
    /// Arrays and maps nested deeper than [`super::MAX_DEPTH`].
    #[error("cannot encode: arrays and maps nested deeper than {limit} levels")]
    DepthExceeded {
        /// The nesting limit.
        limit: usize,
    },
    /// A sequence or map announced one length and produced another.
    #[error("cannot encode: {what} announced {declared} items but produced {actual}")]
    LengthMismatch {
        /// "array" or "map".
        what: &'static str,
        /// The announced length.
        declared: usize,
        /// The number of items actually produced.
        actual: usize,
    },
    /// A message from a `Serialize` implementation.
    #[error("cannot encode: {0}")]
    Custom(String),
}

impl serde::ser::Error for EncodeError {
    fn custom<T: Display>(msg: T) -> Self {
        EncodeError::Custom(msg.to_string())
    }
}

/// Why bytes were refused by the strict decoder. Offsets are byte positions in the input,
/// pointing at the first byte of the offending item unless said otherwise.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ends inside the item that starts at `offset` (or no item starts there).
    #[error("at byte {offset}: unexpected end of input in the item starting here")]
    UnexpectedEnd {
        /// First byte of the incomplete item.
        offset: usize,
    },
    /// Bytes follow the single top-level item.
    #[error("at byte {offset}: trailing bytes after the end of the item")]
    TrailingBytes {
        /// First byte after the item.
        offset: usize,
    },
    /// An integer, length or count that has a shorter encoding.
    #[error("at byte {offset}: integer, length or count not in shortest form")]
    NonShortestForm {
        /// First byte of the item.
        offset: usize,
    },
    /// An indefinite-length string, array or map.
    #[error("at byte {offset}: indefinite length is not allowed")]
    IndefiniteLength {
        /// First byte of the item.
        offset: usize,
    },
    /// An item outside the subset: float, tag, undefined, another simple value, a break
    /// code or a reserved additional-information value.
    #[error("at byte {offset}: unsupported item: {what}")]
    Unsupported {
        /// First byte of the item.
        offset: usize,
        /// What was found.
        what: &'static str,
    },
    /// A text string that is not valid UTF-8.
    #[error("at byte {offset}: text string is not valid UTF-8")]
    InvalidUtf8 {
        /// First byte of the text string item.
        offset: usize,
    },
    /// A map key that is not a text string.
    #[error("at byte {offset}: map key is not a text string")]
    MapKeyNotText {
        /// First byte of the key.
        offset: usize,
    },
    /// A map key that does not sort strictly after the previous key (this includes
    /// duplicates).
    #[error("at byte {offset}: map key is not strictly after the previous key in canonical order (unsorted or duplicate)")]
    MapKeysOutOfOrder {
        /// First byte of the key.
        offset: usize,
    },
    /// Arrays and maps nested deeper than [`super::MAX_DEPTH`].
    #[error(
        "at byte {offset}: arrays and maps nested deeper than {} levels",
        super::MAX_DEPTH
    )]
    DepthExceeded {
        /// First byte of the array or map that is one level too deep.
        offset: usize,
    },
    /// An item of another type than the one expected here.
    #[error("at byte {offset}: expected {expected}, found {found}")]
    TypeMismatch {
        /// First byte of the item.
        offset: usize,
        /// What the reader expected.
        expected: &'static str,
        /// What the input holds.
        found: &'static str,
    },
    /// A declared length or count larger than the input that remains.
    #[error("at byte {offset}: declared length or count exceeds the remaining input")]
    LengthTooLarge {
        /// First byte of the string, array or map.
        offset: usize,
    },
    /// An integer that does not fit the requested Rust type.
    #[error("at byte {offset}: integer does not fit in {target}")]
    IntegerOutOfRange {
        /// First byte of the integer.
        offset: usize,
        /// The Rust type asked for.
        target: &'static str,
    },
    /// A byte string of the wrong length for a fixed-size field.
    #[error("at byte {offset}: expected a byte string of {expected} bytes, found {found} bytes")]
    ByteStringLength {
        /// First byte of the byte string.
        offset: usize,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A map key other than the one the fixed layout requires here.
    #[error("at byte {offset}: expected map key {expected:?}")]
    UnexpectedKey {
        /// First byte of the key.
        offset: usize,
        /// The key required at this position.
        expected: &'static str,
    },
    /// Items of an array or entries of a map that the type did not read (for example a
    /// third element where a pair was expected).
    #[error("at byte {offset}: {count} items of this array or map were not read by the type")]
    UnreadItems {
        /// First byte of the array or map.
        offset: usize,
        /// How many items or entries were left.
        count: u64,
    },
    /// The value decoded, but re-encoding it gave different bytes (an unknown field that
    /// serde ignored, a default, or another non-canonical form).
    #[error("not canonical: the decoded value re-encodes to different bytes")]
    NotCanonical,
    /// A message from a `Deserialize` implementation, such as "missing field `case_id`".
    #[error("{0}")]
    Custom(String),
}

impl serde::de::Error for DecodeError {
    fn custom<T: Display>(msg: T) -> Self {
        DecodeError::Custom(msg.to_string())
    }
}
