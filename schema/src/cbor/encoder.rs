//! The low-level canonical CBOR writer: item heads in shortest form and definite lengths,
//! with no serde in between. The entry envelope uses it on the hot path.
//!
//! It is deliberately not a checker: it writes what it is told. A caller that writes a map
//! must write its text keys in canonical order itself, and must write as many items as it
//! announced; [`super::validate`] checks the result.

use super::ser;
use super::EncodeError;
use serde::Serialize;

/// Major type 0: unsigned integer.
pub(crate) const MAJOR_UNSIGNED: u8 = 0;
/// Major type 1: negative integer.
pub(crate) const MAJOR_NEGATIVE: u8 = 1;
/// Major type 2: byte string.
pub(crate) const MAJOR_BYTES: u8 = 2;
/// Major type 3: text string.
pub(crate) const MAJOR_TEXT: u8 = 3;
/// Major type 4: array.
pub(crate) const MAJOR_ARRAY: u8 = 4;
/// Major type 5: map.
pub(crate) const MAJOR_MAP: u8 = 5;
/// Major type 7: simple values (only false, true and null are in the subset).
pub(crate) const MAJOR_SIMPLE: u8 = 7;

/// The encoded simple value `false`.
pub(crate) const FALSE: u8 = 0xf4;
/// The encoded simple value `true`.
pub(crate) const TRUE: u8 = 0xf5;
/// The encoded simple value `null`.
pub(crate) const NULL: u8 = 0xf6;

/// The head of an item (major type and argument) in shortest form, as a buffer and the
/// number of bytes used in it.
pub(crate) fn head_bytes(major: u8, argument: u64) -> ([u8; 9], usize) {
    let mut head = [0u8; 9];
    let initial = major << 5;
    let be = argument.to_be_bytes();
    let used = if argument < 24 {
        head[0] = initial | argument as u8;
        1
    } else if argument <= u64::from(u8::MAX) {
        head[0] = initial | 24;
        head[1] = be[7];
        2
    } else if argument <= u64::from(u16::MAX) {
        head[0] = initial | 25;
        head[1..3].copy_from_slice(&be[6..8]);
        3
    } else if argument <= u64::from(u32::MAX) {
        head[0] = initial | 26;
        head[1..5].copy_from_slice(&be[4..8]);
        5
    } else {
        head[0] = initial | 27;
        head[1..9].copy_from_slice(&be);
        9
    };
    (head, used)
}

/// Appends the head of an item in shortest form.
#[inline]
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    if argument < 24 {
        out.push((major << 5) | argument as u8);
    } else {
        let (head, used) = head_bytes(major, argument);
        out.extend_from_slice(head.get(..used).unwrap_or(&head));
    }
}

/// Appends a signed integer as major type 0 or 1.
#[inline]
pub(crate) fn write_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        write_head(out, MAJOR_UNSIGNED, value.unsigned_abs());
    } else {
        // For negative `value`, -1 - value is in 0..=i64::MAX, so `!value` (which equals
        // -1 - value in two's complement) is its argument.
        write_head(out, MAJOR_NEGATIVE, (!value).unsigned_abs());
    }
}

/// A writer of canonical CBOR items into a growing byte vector.
///
/// Every head is written in its shortest form with a definite length. The encoder does
/// not track structure: announce an array or map with [`Encoder::array`] or
/// [`Encoder::map`] and then write exactly that many items (or key/value pairs, keys as
/// text in canonical order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self { out: Vec::new() }
    }

    /// An empty encoder with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            out: Vec::with_capacity(capacity),
        }
    }

    /// Writes an unsigned integer (major type 0).
    pub fn uint(&mut self, value: u64) -> &mut Self {
        write_head(&mut self.out, MAJOR_UNSIGNED, value);
        self
    }

    /// Writes a negative integer (major type 1) with argument `argument`, that is the
    /// value `-1 - argument`: `nint(0)` is -1 and `nint(u64::MAX)` is -2^64.
    pub fn nint(&mut self, argument: u64) -> &mut Self {
        write_head(&mut self.out, MAJOR_NEGATIVE, argument);
        self
    }

    /// Writes a signed integer: major type 0 when it is non-negative, 1 otherwise.
    pub fn int(&mut self, value: i64) -> &mut Self {
        write_int(&mut self.out, value);
        self
    }

    /// Writes a byte string (major type 2).
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        write_head(&mut self.out, MAJOR_BYTES, value.len() as u64);
        self.out.extend_from_slice(value);
        self
    }

    /// Writes a text string (major type 3).
    pub fn text(&mut self, value: &str) -> &mut Self {
        write_head(&mut self.out, MAJOR_TEXT, value.len() as u64);
        self.out.extend_from_slice(value.as_bytes());
        self
    }

    /// Writes the head of an array of `len` items; the caller writes the items next.
    pub fn array(&mut self, len: u64) -> &mut Self {
        write_head(&mut self.out, MAJOR_ARRAY, len);
        self
    }

    /// Writes the head of a map of `len` pairs; the caller writes the pairs next, with
    /// text keys in canonical order (shorter keys first, then bytewise).
    pub fn map(&mut self, len: u64) -> &mut Self {
        write_head(&mut self.out, MAJOR_MAP, len);
        self
    }

    /// Writes `false` or `true`.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.out.push(if value { TRUE } else { FALSE });
        self
    }

    /// Writes `null`.
    pub fn null(&mut self) -> &mut Self {
        self.out.push(NULL);
        self
    }

    /// Appends bytes that already are one or more encoded items. They are not checked.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.out.extend_from_slice(encoded);
        self
    }

    /// Appends one serde value in canonical form (as [`super::to_vec`] would encode it).
    /// On error nothing is appended. The nesting limit counts from the value itself: arrays
    /// and maps the caller opened around it are not counted, so keep the total within
    /// [`super::MAX_DEPTH`].
    pub fn serialize<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Self, EncodeError> {
        let start = self.out.len();
        let out = std::mem::take(&mut self.out);
        let mut serializer = ser::Serializer::from_vec(out);
        let result = value.serialize(&mut serializer);
        self.out = serializer.into_vec();
        match result {
            Ok(()) => Ok(self),
            Err(error) => {
                self.out.truncate(start);
                Err(error)
            }
        }
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.out
    }

    /// The number of bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.out
    }
}
