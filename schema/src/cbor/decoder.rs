//! The low-level strict CBOR reader: one item head at a time, straight from a byte slice,
//! enforcing every rule of the canonical subset as it reads (shortest form, definite
//! lengths, no floats/tags/other simple values, valid UTF-8, lengths bounded by the
//! remaining input, text map keys in strictly increasing canonical order, nesting depth).
//!
//! It is deliberately not a tree builder and never allocates: strings are borrowed from
//! the input. The serde deserializer (`de.rs`) is built on the same head reader.

use super::encoder::{
    FALSE, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE, MAJOR_SIMPLE, MAJOR_TEXT,
    MAJOR_UNSIGNED, NULL, TRUE,
};
use super::{de, DecodeError, MAX_DEPTH};
use serde::Deserialize;

/// The simple value `false` as an argument of major type 7.
const SIMPLE_FALSE: u64 = 20;
/// The simple value `true` as an argument of major type 7.
const SIMPLE_TRUE: u64 = 21;

/// A decoded, checked item head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Offset of the head's first byte.
    pub(crate) offset: usize,
    /// Major type, 0 to 5 or 7 (tags are refused while reading the head).
    pub(crate) major: u8,
    /// The argument: the integer value, the length, the count, or for major type 7 the
    /// simple value (20, 21 or 22).
    pub(crate) argument: u64,
}

impl Head {
    /// A short description of what this head starts, for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match (self.major, self.argument) {
            (MAJOR_UNSIGNED, _) => "unsigned integer",
            (MAJOR_NEGATIVE, _) => "negative integer",
            (MAJOR_BYTES, _) => "byte string",
            (MAJOR_TEXT, _) => "text string",
            (MAJOR_ARRAY, _) => "array",
            (MAJOR_MAP, _) => "map",
            (MAJOR_SIMPLE, SIMPLE_FALSE | SIMPLE_TRUE) => "boolean",
            (MAJOR_SIMPLE, _) => "null",
            _ => "unsupported item",
        }
    }
}

/// A strict reader of canonical CBOR items from a byte slice.
///
/// Every read checks the shortest-form rule and the subset, and reports the offset of the
/// offending item on error. A failed typed read (for example [`Decoder::uint`] on a text
/// string) leaves the position unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder<'a> {
    input: &'a [u8],
    // INVARIANT: `pos <= input.len()`.
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The number of bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Whether all input has been read.
    pub fn is_at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The major type (0 to 7) of the next item, without reading it or checking it.
    pub fn peek_major(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .map(|initial| initial >> 5)
            .ok_or(DecodeError::UnexpectedEnd { offset: self.pos })
    }

    /// Whether the next item is `null` (without reading it).
    pub fn is_null(&self) -> bool {
        self.input.get(self.pos) == Some(&NULL)
    }

    /// Reads an unsigned integer (major type 0).
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        Ok(self.head_of(MAJOR_UNSIGNED, "unsigned integer")?.argument)
    }

    /// Reads a negative integer (major type 1) and returns its argument `n`, the value
    /// being `-1 - n`; the counterpart of [`super::Encoder::nint`], covering down to -2^64.
    pub fn nint(&mut self) -> Result<u64, DecodeError> {
        Ok(self.head_of(MAJOR_NEGATIVE, "negative integer")?.argument)
    }

    /// Reads an integer of major type 0 or 1 that fits in `i64`.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let (offset, value) = self.integer()?;
        i64::try_from(value).map_err(|_| {
            self.pos = offset;
            DecodeError::IntegerOutOfRange {
                offset,
                target: "i64",
            }
        })
    }

    /// Reads a byte string (major type 2), borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let head = self.head_of(MAJOR_BYTES, "byte string")?;
        self.payload(head)
    }

    /// Reads a byte string of exactly `N` bytes.
    pub fn bytes_fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let offset = self.pos;
        let bytes = self.bytes()?;
        <[u8; N]>::try_from(bytes).map_err(|_| {
            self.pos = offset;
            DecodeError::ByteStringLength {
                offset,
                expected: N,
                found: bytes.len(),
            }
        })
    }

    /// Reads a text string (major type 3, valid UTF-8), borrowed from the input.
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        let head = self.head_of(MAJOR_TEXT, "text string")?;
        self.text_payload(head)
    }

    /// Reads the head of an array and returns its item count, which is checked against the
    /// remaining input (every item takes at least one byte).
    pub fn array(&mut self) -> Result<u64, DecodeError> {
        let head = self.head_of(MAJOR_ARRAY, "array")?;
        self.array_count(head)
    }

    /// Reads the head of a map and returns its pair count, which is checked against the
    /// remaining input (every pair takes at least two bytes). Read the keys with
    /// [`Decoder::map_key`] or [`Decoder::expect_key`] so that their order is checked.
    pub fn map(&mut self) -> Result<u64, DecodeError> {
        let head = self.head_of(MAJOR_MAP, "map")?;
        self.map_count(head)
    }

    /// Reads a map key: a text string whose encoding sorts strictly after `previous`
    /// (the encoded bytes of the previous key of the same map, `None` for the first key),
    /// and updates `previous` to this key's encoded bytes.
    pub fn map_key(&mut self, previous: &mut Option<&'a [u8]>) -> Result<&'a str, DecodeError> {
        let offset = self.pos;
        let initial = self
            .input
            .get(offset)
            .ok_or(DecodeError::UnexpectedEnd { offset })?;
        if initial >> 5 != MAJOR_TEXT {
            return Err(DecodeError::MapKeyNotText { offset });
        }
        let key = self.text()?;
        let encoded = self.input.get(offset..self.pos).unwrap_or_default();
        if let Some(previous_key) = previous {
            if encoded <= *previous_key {
                self.pos = offset;
                return Err(DecodeError::MapKeysOutOfOrder { offset });
            }
        }
        *previous = Some(encoded);
        Ok(key)
    }

    /// Reads a map key that must equal `expected`, for fixed layouts whose keys the caller
    /// reads in canonical order.
    pub fn expect_key(&mut self, expected: &'static str) -> Result<(), DecodeError> {
        let offset = self.pos;
        let initial = self
            .input
            .get(offset)
            .ok_or(DecodeError::UnexpectedEnd { offset })?;
        if initial >> 5 != MAJOR_TEXT {
            return Err(DecodeError::MapKeyNotText { offset });
        }
        if self.text()? != expected {
            self.pos = offset;
            return Err(DecodeError::UnexpectedKey { offset, expected });
        }
        Ok(())
    }

    /// Reads `false` or `true`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        let head = self.head_of(MAJOR_SIMPLE, "boolean")?;
        match head.argument {
            SIMPLE_FALSE => Ok(false),
            SIMPLE_TRUE => Ok(true),
            _ => {
                self.pos = head.offset;
                Err(DecodeError::TypeMismatch {
                    offset: head.offset,
                    expected: "boolean",
                    found: head.describe(),
                })
            }
        }
    }

    /// Reads `null`.
    pub fn null(&mut self) -> Result<(), DecodeError> {
        let head = self.head_of(MAJOR_SIMPLE, "null")?;
        if head.argument == SIMPLE_FALSE || head.argument == SIMPLE_TRUE {
            self.pos = head.offset;
            return Err(DecodeError::TypeMismatch {
                offset: head.offset,
                expected: "null",
                found: head.describe(),
            });
        }
        Ok(())
    }

    /// Reads and checks one whole item of any type, including everything nested in it,
    /// with the full nesting budget of [`MAX_DEPTH`].
    pub fn skip_item(&mut self) -> Result<(), DecodeError> {
        self.skip_nested(0)
    }

    /// Reads one item with serde, under every rule of the strict decoder, borrowing
    /// strings and byte strings from the input where the type allows.
    pub fn deserialize<T: Deserialize<'a>>(&mut self) -> Result<T, DecodeError> {
        let mut deserializer = de::Deserializer::new(*self);
        let value = T::deserialize(&mut deserializer)?;
        self.pos = deserializer.into_decoder().pos;
        Ok(value)
    }

    /// Succeeds only if all input has been read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.pos < self.input.len() {
            Err(DecodeError::TrailingBytes { offset: self.pos })
        } else {
            Ok(())
        }
    }

    /// Reads and checks an item head: shortest form, definite length, and major type and
    /// simple value within the subset.
    pub(crate) fn read_head(&mut self) -> Result<Head, DecodeError> {
        let offset = self.pos;
        let initial = *self
            .input
            .get(offset)
            .ok_or(DecodeError::UnexpectedEnd { offset })?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let unsupported = |what| Err(DecodeError::Unsupported { offset, what });
        match major {
            6 => return unsupported("tag (major type 6)"),
            MAJOR_SIMPLE => {
                return match initial {
                    FALSE | TRUE | NULL => {
                        self.pos = offset + 1;
                        Ok(Head {
                            offset,
                            major,
                            argument: u64::from(info),
                        })
                    }
                    0xf7 => unsupported("undefined"),
                    0xf9 => unsupported("half-precision float"),
                    0xfa => unsupported("single-precision float"),
                    0xfb => unsupported("double-precision float"),
                    0xfc..=0xfe => unsupported("reserved additional information 28 to 30"),
                    0xff => unsupported("break stop code"),
                    _ => unsupported("simple value other than false, true and null"),
                };
            }
            _ => {}
        }
        let (argument, minimum, extra) = match info {
            0..=23 => (u64::from(info), 0, 0),
            24 => (self.be_argument(offset, 1)?, 24, 1),
            25 => (self.be_argument(offset, 2)?, 0x100, 2),
            26 => (self.be_argument(offset, 4)?, 0x1_0000, 4),
            27 => (self.be_argument(offset, 8)?, 0x1_0000_0000, 8),
            28..=30 => return unsupported("reserved additional information 28 to 30"),
            _ => {
                return if (MAJOR_BYTES..=MAJOR_MAP).contains(&major) {
                    Err(DecodeError::IndefiniteLength { offset })
                } else {
                    unsupported("additional information 31 on an integer")
                };
            }
        };
        if argument < minimum {
            return Err(DecodeError::NonShortestForm { offset });
        }
        self.pos = offset + 1 + extra;
        Ok(Head {
            offset,
            major,
            argument,
        })
    }

    /// The big-endian argument of `len` bytes after the initial byte at `offset`.
    fn be_argument(&self, offset: usize, len: usize) -> Result<u64, DecodeError> {
        let bytes = self
            .input
            .get(offset + 1..offset + 1 + len)
            .ok_or(DecodeError::UnexpectedEnd { offset })?;
        Ok(bytes
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    /// Reads a head that must be of major type `major`; on a mismatch the position is left
    /// at the item.
    pub(crate) fn head_of(
        &mut self,
        major: u8,
        expected: &'static str,
    ) -> Result<Head, DecodeError> {
        let head = self.read_head()?;
        if head.major == major {
            Ok(head)
        } else {
            self.pos = head.offset;
            Err(DecodeError::TypeMismatch {
                offset: head.offset,
                expected,
                found: head.describe(),
            })
        }
    }

    /// Reads an integer of major type 0 or 1, returning its offset and value.
    pub(crate) fn integer(&mut self) -> Result<(usize, i128), DecodeError> {
        let head = self.read_head()?;
        match head.major {
            MAJOR_UNSIGNED => Ok((head.offset, i128::from(head.argument))),
            MAJOR_NEGATIVE => Ok((head.offset, -1 - i128::from(head.argument))),
            _ => {
                self.pos = head.offset;
                Err(DecodeError::TypeMismatch {
                    offset: head.offset,
                    expected: "integer",
                    found: head.describe(),
                })
            }
        }
    }

    /// The content of the byte or text string whose head was just read.
    pub(crate) fn payload(&mut self, head: Head) -> Result<&'a [u8], DecodeError> {
        let too_large = DecodeError::LengthTooLarge {
            offset: head.offset,
        };
        let len = usize::try_from(head.argument).map_err(|_| too_large.clone())?;
        if len > self.remaining() {
            self.pos = head.offset;
            return Err(too_large);
        }
        let bytes = self.input.get(self.pos..self.pos + len).ok_or(too_large)?;
        self.pos += len;
        Ok(bytes)
    }

    /// The content of the text string whose head was just read, checked to be UTF-8.
    pub(crate) fn text_payload(&mut self, head: Head) -> Result<&'a str, DecodeError> {
        let bytes = self.payload(head)?;
        std::str::from_utf8(bytes).map_err(|_| {
            self.pos = head.offset;
            DecodeError::InvalidUtf8 {
                offset: head.offset,
            }
        })
    }

    /// The item count of the array whose head was just read, checked against the input.
    pub(crate) fn array_count(&mut self, head: Head) -> Result<u64, DecodeError> {
        if head.argument > self.remaining() as u64 {
            self.pos = head.offset;
            return Err(DecodeError::LengthTooLarge {
                offset: head.offset,
            });
        }
        Ok(head.argument)
    }

    /// The pair count of the map whose head was just read, checked against the input.
    pub(crate) fn map_count(&mut self, head: Head) -> Result<u64, DecodeError> {
        let fits = head
            .argument
            .checked_mul(2)
            .is_some_and(|min_len| min_len <= self.remaining() as u64);
        if !fits {
            self.pos = head.offset;
            return Err(DecodeError::LengthTooLarge {
                offset: head.offset,
            });
        }
        Ok(head.argument)
    }

    /// Reads and checks one whole item that sits inside `depth` open arrays and maps.
    pub(crate) fn skip_nested(&mut self, depth: usize) -> Result<(), DecodeError> {
        let head = self.read_head()?;
        match head.major {
            MAJOR_BYTES => {
                self.payload(head)?;
            }
            MAJOR_TEXT => {
                self.text_payload(head)?;
            }
            MAJOR_ARRAY => {
                let count = self.array_count(head)?;
                check_depth(depth, head.offset)?;
                for _ in 0..count {
                    self.skip_nested(depth + 1)?;
                }
            }
            MAJOR_MAP => {
                let count = self.map_count(head)?;
                check_depth(depth, head.offset)?;
                let mut previous = None;
                for _ in 0..count {
                    self.map_key(&mut previous)?;
                    self.skip_nested(depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Fails if opening one more array or map inside `depth` open ones would exceed
/// [`MAX_DEPTH`].
pub(crate) fn check_depth(depth: usize, offset: usize) -> Result<(), DecodeError> {
    if depth >= MAX_DEPTH {
        Err(DecodeError::DepthExceeded { offset })
    } else {
        Ok(())
    }
}
