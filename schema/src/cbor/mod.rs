//! Deterministic CBOR (RFC 8949 §4.2.1, "core deterministic encoding requirements"),
//! restricted to the subset Yibao Ledger uses, with serde support and a strict decoder.
//! This is the canonical encoding of every record: decoding and encoding again must give
//! back the same bytes, and anything else is refused.
//!
//! # The subset
//!
//! - unsigned and negative integers (major types 0 and 1), byte strings (2), text strings
//!   (3, valid UTF-8), arrays (4), maps (5), and the simple values `false`, `true` and
//!   `null` (major type 7, values 20, 21 and 22);
//! - nothing else: no floats of any width, no tags, no `undefined`, no other simple values,
//!   no indefinite lengths;
//! - every argument (integer, length, count) in its shortest form;
//! - map keys are text strings only, sorted by the bytewise order of their encodings
//!   (shorter keys first, then bytewise), without duplicates;
//! - arrays and maps nest at most [`MAX_DEPTH`] levels; no byte follows the top-level item.
//!
//! # The serde mapping (as serde_json's, with externally tagged enums)
//!
//! - `bool` → false/true;
//! - integers up to 64 bits, and 128-bit integers that fit major type 0 or 1 → major type
//!   0 or 1 (other 128-bit values are an error);
//! - `f32`/`f64` → error;
//! - `char` and `str` → text string; `serialize_bytes` → byte string;
//! - `None`, `()` and unit structs → null; `Some(x)` → x; newtype struct → inner value;
//! - sequences, tuples and tuple structs → array;
//! - maps (keys must serialise as text) and structs → map with canonically sorted keys;
//! - unit variant → its name as text; newtype, tuple and struct variants →
//!   `{name: value}`, `{name: [..]}` and `{name: {..}}`.
//!
//! `is_human_readable()` is false on both sides, so types pick their binary form (for
//! example 32-byte keys as byte strings rather than hex).
//!
//! # Errors
//!
//! Decoding errors carry the byte offset of the offending item's first byte. A declared
//! length or count larger than what remains of the input is [`DecodeError::LengthTooLarge`]
//! (so a truncated string or array reports that, never allocating from the length); input
//! that ends inside an item head or before an item is [`DecodeError::UnexpectedEnd`].
//!
//! This module deliberately does not do general-purpose CBOR: it cannot represent floats
//! or tags, and it refuses every input it would not itself have written.

mod de;
mod decoder;
mod encoder;
mod error;
mod ser;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The deepest nesting of arrays and maps that is encoded or accepted: a top-level array
/// is level 1, so 64 nested arrays are accepted and 65 are refused.
pub const MAX_DEPTH: usize = 64;

/// Encodes `value` canonically.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut serializer = ser::Serializer::from_vec(Vec::with_capacity(128));
    value.serialize(&mut serializer)?;
    Ok(serializer.into_vec())
}

/// Decodes strictly (every rule of the subset) with no trailing bytes. Strings and byte
/// strings are borrowed from `bytes` where the type allows.
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, DecodeError> {
    let mut decoder = Decoder::new(bytes);
    let value = decoder.deserialize()?;
    decoder.finish()?;
    Ok(value)
}

/// Decodes strictly, then encodes the value again and requires identical bytes. This
/// catches what serde lets through silently: unknown fields that were ignored, defaults,
/// and alternative forms. Fails with [`DecodeError::NotCanonical`] otherwise.
pub fn from_slice_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let value: T = from_slice(bytes)?;
    if encodes_to(&value, bytes) {
        Ok(value)
    } else {
        Err(DecodeError::NotCanonical)
    }
}

thread_local! {
    /// The serializer the canonical check encodes with, kept per thread so that its buffers
    /// are reused: verifying a ledger checks every payload this way.
    static CHECKER: std::cell::RefCell<ser::Serializer> =
        std::cell::RefCell::new(ser::Serializer::default());
}

/// Whether `value` encodes to exactly `expected`.
fn encodes_to<T: Serialize + ?Sized>(value: &T, expected: &[u8]) -> bool {
    let reused = CHECKER.try_with(|cell| {
        let mut serializer = cell.try_borrow_mut().ok()?;
        serializer.reset();
        let same = value.serialize(&mut *serializer).is_ok() && serializer.written() == expected;
        serializer.trim();
        Some(same)
    });
    match reused {
        Ok(Some(same)) => same,
        // The thread is ending, or a serialize in progress re-entered: a fresh serializer.
        _ => to_vec(value).is_ok_and(|again| again == expected),
    }
}

/// Checks that `bytes` is exactly one well-formed item of the strict subset.
pub fn validate(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut decoder = Decoder::new(bytes);
    decoder.skip_item()?;
    decoder.finish()
}
