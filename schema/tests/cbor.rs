//! Tests of the canonical CBOR codec (`yibao_schema::cbor`) through its public API: the
//! RFC 8949 Appendix A examples that fall in the subset, canonical key order, every
//! rejection with its specific error, serde derive round trips, the low-level encoder and
//! decoder, and property tests (random values round-trip; random and mutated bytes never
//! panic, and whatever is accepted re-encodes to exactly the same bytes).
//!
//! This file is not a benchmark: it makes no timing assertions.

#![allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure with a message.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use yibao_schema::cbor::{
    from_slice, from_slice_canonical, to_vec, validate, DecodeError, Decoder, EncodeError, Encoder,
    MAX_DEPTH,
};

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text.replace(' ', "")).unwrap()
}

// ---------------------------------------------------------------------------------------
// A test-only dynamic value covering the whole subset.
// ---------------------------------------------------------------------------------------

/// Any item of the subset. Negative integers keep their CBOR argument, so that the whole
/// range down to -2^64 is representable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TestValue {
    Uint(u64),
    /// The value -1 - argument.
    Nint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<TestValue>),
    /// Entries in canonical key order without duplicates (see `canonicalise`).
    Map(Vec<(String, TestValue)>),
    Bool(bool),
    Null,
}

impl Serialize for TestValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TestValue::Uint(value) => serializer.serialize_u64(*value),
            TestValue::Nint(argument) => serializer.serialize_i128(-1 - i128::from(*argument)),
            TestValue::Bytes(bytes) => serializer.serialize_bytes(bytes),
            TestValue::Text(text) => serializer.serialize_str(text),
            TestValue::Array(items) => serializer.collect_seq(items),
            TestValue::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            TestValue::Bool(value) => serializer.serialize_bool(*value),
            TestValue::Null => serializer.serialize_unit(),
        }
    }
}

struct TestValueVisitor;

impl<'de> Visitor<'de> for TestValueVisitor {
    type Value = TestValue;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any item of the subset")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<TestValue, E> {
        Ok(TestValue::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<TestValue, E> {
        Ok(TestValue::Uint(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<TestValue, E> {
        self.visit_i128(i128::from(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<TestValue, E> {
        if value >= 0 {
            u64::try_from(value)
                .map(TestValue::Uint)
                .map_err(|_| E::custom("integer out of range"))
        } else {
            u64::try_from(-1 - value)
                .map(TestValue::Nint)
                .map_err(|_| E::custom("integer out of range"))
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<TestValue, E> {
        Ok(TestValue::Text(value.to_owned()))
    }

    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<TestValue, E> {
        Ok(TestValue::Bytes(value.to_vec()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<TestValue, E> {
        Ok(TestValue::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<TestValue, E> {
        Ok(TestValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TestValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(TestValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TestValue, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, TestValue>()? {
            entries.push((key, value));
        }
        Ok(TestValue::Map(entries))
    }
}

impl<'de> Deserialize<'de> for TestValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TestValue, D::Error> {
        deserializer.deserialize_any(TestValueVisitor)
    }
}

impl TestValue {
    /// Puts map keys into canonical order (shorter first, then bytewise) and drops
    /// duplicate keys, recursively.
    fn canonicalise(self) -> TestValue {
        match self {
            TestValue::Array(items) => {
                TestValue::Array(items.into_iter().map(TestValue::canonicalise).collect())
            }
            TestValue::Map(entries) => {
                let mut entries: Vec<(String, TestValue)> = entries
                    .into_iter()
                    .map(|(key, value)| (key, value.canonicalise()))
                    .collect();
                entries
                    .sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
                entries.dedup_by(|a, b| a.0 == b.0);
                TestValue::Map(entries)
            }
            other => other,
        }
    }

    /// Encodes with the low-level [`Encoder`], independently of the serde serializer.
    fn encode_low_level(&self, encoder: &mut Encoder) {
        match self {
            TestValue::Uint(value) => {
                encoder.uint(*value);
            }
            TestValue::Nint(argument) => {
                encoder.nint(*argument);
            }
            TestValue::Bytes(bytes) => {
                encoder.bytes(bytes);
            }
            TestValue::Text(text) => {
                encoder.text(text);
            }
            TestValue::Array(items) => {
                encoder.array(items.len() as u64);
                for item in items {
                    item.encode_low_level(encoder);
                }
            }
            TestValue::Map(entries) => {
                encoder.map(entries.len() as u64);
                for (key, value) in entries {
                    encoder.text(key);
                    value.encode_low_level(encoder);
                }
            }
            TestValue::Bool(value) => {
                encoder.bool(*value);
            }
            TestValue::Null => {
                encoder.null();
            }
        }
    }

    /// Decodes with the low-level [`Decoder`], independently of the serde deserializer.
    fn decode_low_level(decoder: &mut Decoder<'_>) -> Result<TestValue, DecodeError> {
        match decoder.peek_major()? {
            0 => decoder.uint().map(TestValue::Uint),
            1 => decoder.nint().map(TestValue::Nint),
            2 => decoder.bytes().map(|b| TestValue::Bytes(b.to_vec())),
            3 => decoder.text().map(|t| TestValue::Text(t.to_owned())),
            4 => {
                let count = decoder.array()?;
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(TestValue::decode_low_level(decoder)?);
                }
                Ok(TestValue::Array(items))
            }
            5 => {
                let count = decoder.map()?;
                let mut previous = None;
                let mut entries = Vec::new();
                for _ in 0..count {
                    let key = decoder.map_key(&mut previous)?.to_owned();
                    entries.push((key, TestValue::decode_low_level(decoder)?));
                }
                Ok(TestValue::Map(entries))
            }
            _ => {
                if decoder.is_null() {
                    decoder.null().map(|()| TestValue::Null)
                } else {
                    decoder.bool().map(TestValue::Bool)
                }
            }
        }
    }
}

fn text(value: &str) -> TestValue {
    TestValue::Text(value.to_owned())
}

fn nested_arrays(levels: usize) -> TestValue {
    let mut value = TestValue::Array(Vec::new());
    for _ in 1..levels {
        value = TestValue::Array(vec![value]);
    }
    value
}

// ---------------------------------------------------------------------------------------
// Helpers for typed tests.
// ---------------------------------------------------------------------------------------

/// A byte string, in the manner of serde_bytes' `ByteBuf`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = ByteBuf;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(value.to_vec()))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// `#[serde(with = "as_bytes")]` for `Vec<u8>` fields.
mod as_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        super::ByteBuf::deserialize(deserializer).map(|b| b.0)
    }
}

/// A byte string borrowed from the input.
#[derive(Debug, PartialEq, Eq)]
struct BorrowedBytes<'a>(&'a [u8]);

impl Serialize for BorrowedBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedBytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BorrowedBytes<'a>, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(BorrowedBytes)
    }
}

/// Encodes, compares with `expected_hex`, and decodes back (plain, canonical, validate,
/// and through `TestValue`).
fn check<T>(value: T, expected_hex: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
{
    let expected = hex(expected_hex);
    let encoded = to_vec(&value).unwrap();
    assert_eq!(
        hex::encode(&encoded),
        hex::encode(&expected),
        "encoding of {value:?}"
    );
    assert_eq!(from_slice::<T>(&expected).unwrap(), value);
    assert_eq!(from_slice_canonical::<T>(&expected).unwrap(), value);
    validate(&expected).unwrap();
    let dynamic: TestValue = from_slice(&expected).unwrap();
    assert_eq!(to_vec(&dynamic).unwrap(), expected);
    let mut decoder = Decoder::new(&expected);
    let low = TestValue::decode_low_level(&mut decoder).unwrap();
    decoder.finish().unwrap();
    assert_eq!(low, dynamic);
    let mut encoder = Encoder::new();
    low.encode_low_level(&mut encoder);
    assert_eq!(encoder.as_slice(), expected.as_slice());
}

// ---------------------------------------------------------------------------------------
// RFC 8949 Appendix A.
// ---------------------------------------------------------------------------------------

#[test]
fn rfc8949_appendix_a_integers() {
    check(0u64, "00");
    check(1u64, "01");
    check(10u64, "0a");
    check(23u64, "17");
    check(24u64, "1818");
    check(25u64, "1819");
    check(100u64, "1864");
    check(1000u64, "1903e8");
    check(1_000_000u64, "1a000f4240");
    check(1_000_000_000_000u64, "1b000000e8d4a51000");
    check(18_446_744_073_709_551_615u64, "1bffffffffffffffff");
    check(-1i64, "20");
    check(-10i64, "29");
    check(-100i64, "3863");
    check(-1000i64, "3903e7");
    check(-18_446_744_073_709_551_616i128, "3bffffffffffffffff");
    check(18_446_744_073_709_551_615u128, "1bffffffffffffffff");
}

#[test]
fn rfc8949_appendix_a_strings() {
    check(String::new(), "60");
    check("a".to_owned(), "6161");
    check("IETF".to_owned(), "6449455446");
    check("\"\\".to_owned(), "62225c");
    check("\u{00fc}".to_owned(), "62c3bc");
    check("\u{6c34}".to_owned(), "63e6b0b4");
    check(ByteBuf(Vec::new()), "40");
    check(ByteBuf(vec![1, 2, 3, 4]), "4401020304");
}

#[test]
fn rfc8949_appendix_a_arrays_and_maps() {
    check(Vec::<u64>::new(), "80");
    check(vec![1u64, 2, 3], "83010203");
    check((1u64, vec![2u64, 3], vec![4u64, 5]), "8301820203820405");
    check(
        (1u64..=25).collect::<Vec<u64>>(),
        "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
    );
    check(BTreeMap::<String, u64>::new(), "a0");

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AB {
        b: Vec<u64>,
        a: u64,
    }
    check(
        AB {
            a: 1,
            b: vec![2, 3],
        },
        "a26161016162820203",
    );

    let mut inner = BTreeMap::new();
    inner.insert("b".to_owned(), "c".to_owned());
    check(("a".to_owned(), inner), "826161a161626163");

    let five: BTreeMap<String, String> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|k| (k.to_string(), k.to_uppercase()))
        .collect();
    check(five, "a56161614161626142616361436164614461656145");
}

#[test]
fn rfc8949_appendix_a_simple_values() {
    check(false, "f4");
    check(true, "f5");
    check(None::<u64>, "f6");
    check((), "f6");
}

#[test]
fn low_level_encoder_matches_appendix_a() {
    let mut e = Encoder::with_capacity(16);
    assert!(e.is_empty());
    e.uint(1_000_000)
        .nint(999)
        .int(-1)
        .int(i64::MIN)
        .int(i64::MAX);
    assert_eq!(
        hex::encode(e.as_slice()),
        "1a000f4240\
         3903e7\
         20\
         3b7fffffffffffffff\
         1b7fffffffffffffff"
    );
    let mut e = Encoder::new();
    e.array(3)
        .text("IETF")
        .bytes(&[1, 2])
        .map(1)
        .text("a")
        .null();
    e.bool(true).bool(false).nint(u64::MAX).raw(&[0x01]);
    assert_eq!(
        hex::encode(e.as_slice()),
        "836449455446420102a16161f6f5f43bffffffffffffffff01"
    );
    assert_eq!(e.len(), e.clone().into_vec().len());
}

// ---------------------------------------------------------------------------------------
// Canonical key order.
// ---------------------------------------------------------------------------------------

#[test]
fn struct_fields_are_sorted_canonically() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Fields {
        b: u64,
        aa: u64,
        a: u64,
    }
    // "a" (61 61), "b" (61 62), "aa" (62 61 61): shorter keys first, then bytewise.
    check(Fields { b: 2, aa: 3, a: 1 }, "a3 6161 01 6162 02 626161 03");
}

#[test]
fn map_keys_are_sorted_by_encoded_bytes_not_by_string_order() {
    let mut map = BTreeMap::new();
    map.insert("aa".to_owned(), 1u64);
    map.insert("b".to_owned(), 2u64);
    map.insert("\u{6c34}".to_owned(), 3u64);
    map.insert("z".to_owned(), 4u64);
    // BTreeMap order is "aa", "b", "z", "水"; canonical order is by length first.
    check(map, "a4 6162 02 617a 04 626161 01 63e6b0b4 03");
}

#[test]
fn key_of_23_bytes_sorts_before_key_of_24_bytes() {
    let short = "z".repeat(23);
    let long = "a".repeat(24);
    let mut map = HashMap::new();
    map.insert(long.clone(), 2u64);
    map.insert(short.clone(), 1u64);
    let encoded = to_vec(&map).unwrap();
    let mut expected = Encoder::new();
    expected.map(2).text(&short).uint(1).text(&long).uint(2);
    assert_eq!(encoded, expected.into_vec());
    assert_eq!(from_slice::<HashMap<String, u64>>(&encoded).unwrap(), map);
}

// ---------------------------------------------------------------------------------------
// Rejections.
// ---------------------------------------------------------------------------------------

fn rejected(hex_input: &str) -> DecodeError {
    let bytes = hex(hex_input);
    let by_validate = validate(&bytes).unwrap_err();
    let by_serde = from_slice::<TestValue>(&bytes).unwrap_err();
    assert_eq!(
        by_validate, by_serde,
        "validate and serde disagree on {hex_input}"
    );
    let mut decoder = Decoder::new(&bytes);
    let by_low_level = TestValue::decode_low_level(&mut decoder).and_then(|_| decoder.finish());
    assert!(
        by_low_level.is_err(),
        "low-level decoder accepted {hex_input}"
    );
    by_validate
}

#[test]
fn rejects_non_shortest_integers() {
    for (input, offset) in [
        ("1805", 0),
        ("190005", 0),
        ("1900ff", 0),
        ("1a0000ffff", 0),
        ("1b00000000ffffffff", 0),
        ("3805", 0),
        ("3900ff", 0),
        ("3a0000ffff", 0),
        ("3b00000000ffffffff", 0),
        ("82 01 1805", 2),
    ] {
        assert_eq!(
            rejected(input),
            DecodeError::NonShortestForm { offset },
            "{input}"
        );
    }
    // The boundaries themselves are accepted.
    for input in ["1818", "190100", "1a00010000", "1b0000000100000000", "3818"] {
        validate(&hex(input)).unwrap();
    }
    // A byte string of exactly 24 bytes uses the one-byte length form.
    validate(&[&[0x58, 0x18][..], &[0u8; 24][..]].concat()).unwrap();
}

#[test]
fn rejects_non_shortest_lengths_and_counts() {
    for input in [
        "5800",
        "580101",
        "7800",
        "78016161",
        "9800",
        "980101",
        "b800",
        "b8016161 01",
        "5900 01 01",
    ] {
        assert_eq!(
            rejected(input),
            DecodeError::NonShortestForm { offset: 0 },
            "{input}"
        );
    }
}

#[test]
fn rejects_indefinite_lengths() {
    for input in [
        "5f 41 01 ff",
        "7f 61 61 ff",
        "9f ff",
        "9f 01 ff",
        "bf ff",
        "bf 6161 01 ff",
    ] {
        assert_eq!(
            rejected(input),
            DecodeError::IndefiniteLength { offset: 0 },
            "{input}"
        );
    }
    assert_eq!(
        rejected("81 9f ff"),
        DecodeError::IndefiniteLength { offset: 1 }
    );
}

fn assert_unsupported(input: &str, offset: usize, contains: &str) {
    match rejected(input) {
        DecodeError::Unsupported {
            offset: found,
            what,
        } => {
            assert_eq!(found, offset, "{input}");
            assert!(
                what.contains(contains),
                "{input}: {what:?} should mention {contains:?}"
            );
        }
        other => panic!("{input}: expected Unsupported, got {other:?}"),
    }
}

#[test]
fn rejects_floats_tags_undefined_and_other_simple_values() {
    assert_unsupported("f9 3c00", 0, "float");
    assert_unsupported("f9 0000", 0, "float");
    assert_unsupported("fa 47c35000", 0, "float");
    assert_unsupported("fb 3ff199999999999a", 0, "float");
    assert_unsupported("c0 74 323031332d30332d32315432303a30343a30305a", 0, "tag");
    assert_unsupported("c1 1a514b67b0", 0, "tag");
    assert_unsupported("d8 20 01", 0, "tag");
    assert_unsupported("f7", 0, "undefined");
    assert_unsupported("f0", 0, "simple value");
    assert_unsupported("e0", 0, "simple value");
    assert_unsupported("f3", 0, "simple value");
    assert_unsupported("f8 ff", 0, "simple value");
    assert_unsupported("f8 18", 0, "simple value");
    assert_unsupported("ff", 0, "break");
    assert_unsupported("fc", 0, "reserved");
    assert_unsupported("1c", 0, "reserved");
    assert_unsupported("5e", 0, "reserved");
    assert_unsupported("1f", 0, "31");
    assert_unsupported("3f", 0, "31");
    assert_unsupported("82 01 fb 3ff199999999999a", 2, "float");
    assert_unsupported("a1 6161 f7", 3, "undefined");
}

#[test]
fn rejects_invalid_utf8() {
    assert_eq!(rejected("62 c328"), DecodeError::InvalidUtf8 { offset: 0 });
    assert_eq!(rejected("61 ff"), DecodeError::InvalidUtf8 { offset: 0 });
    // A surrogate code point encoded in UTF-8 form is not valid UTF-8.
    assert_eq!(
        rejected("63 eda080"),
        DecodeError::InvalidUtf8 { offset: 0 }
    );
    assert_eq!(
        rejected("82 01 62 c328"),
        DecodeError::InvalidUtf8 { offset: 2 }
    );
    // The same bytes are fine as a byte string.
    validate(&hex("42 c328")).unwrap();
    // Invalid UTF-8 in a key.
    assert_eq!(
        rejected("a1 61ff 01"),
        DecodeError::InvalidUtf8 { offset: 1 }
    );
}

#[test]
fn rejects_unsorted_duplicate_and_non_text_keys() {
    assert_eq!(
        rejected("a2 6162 01 6161 02"),
        DecodeError::MapKeysOutOfOrder { offset: 4 }
    );
    assert_eq!(
        rejected("a2 626161 01 6162 02"),
        DecodeError::MapKeysOutOfOrder { offset: 5 }
    );
    assert_eq!(
        rejected("a2 6161 01 6161 02"),
        DecodeError::MapKeysOutOfOrder { offset: 4 }
    );
    assert_eq!(
        rejected("a2 60 01 60 02"),
        DecodeError::MapKeysOutOfOrder { offset: 3 }
    );
    assert_eq!(
        rejected("a1 01 02"),
        DecodeError::MapKeyNotText { offset: 1 }
    );
    assert_eq!(
        rejected("a1 4161 02"),
        DecodeError::MapKeyNotText { offset: 1 }
    );
    assert_eq!(
        rejected("a1 f6 02"),
        DecodeError::MapKeyNotText { offset: 1 }
    );
    assert_eq!(
        rejected("a1 80 02"),
        DecodeError::MapKeyNotText { offset: 1 }
    );
    assert_eq!(
        rejected("a2 6161 01 02 02"),
        DecodeError::MapKeyNotText { offset: 4 }
    );
    // Nested maps have their own order: the inner "a" may follow the outer "b".
    validate(&hex("a2 6161 a1 6162 01 6162 a1 6161 02")).unwrap();
    assert_eq!(
        rejected("a1 6161 a2 6162 01 6161 02"),
        DecodeError::MapKeysOutOfOrder { offset: 7 }
    );
    // Typed decoding checks the order too, even for fields serde would accept in any order.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct AB {
        a: u64,
        b: u64,
    }
    assert_eq!(
        from_slice::<AB>(&hex("a2 6162 01 6161 02")).unwrap_err(),
        DecodeError::MapKeysOutOfOrder { offset: 4 }
    );
}

#[test]
fn rejects_trailing_bytes() {
    assert_eq!(rejected("01 00"), DecodeError::TrailingBytes { offset: 1 });
    assert_eq!(rejected("80 80"), DecodeError::TrailingBytes { offset: 1 });
    assert_eq!(
        rejected("6161 f6"),
        DecodeError::TrailingBytes { offset: 2 }
    );
    assert_eq!(
        from_slice::<u64>(&hex("01 00")).unwrap_err(),
        DecodeError::TrailingBytes { offset: 1 }
    );
    assert_eq!(rejected(""), DecodeError::UnexpectedEnd { offset: 0 });
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Handling {
    Closed,
    Recovered(u64),
    Range(u64, i64),
    Penalty {
        multiple_bp: u32,
        legal_basis: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Finding {
    case_id: String,
    amount_fen: u64,
    adjustment: i64,
    #[serde(with = "as_bytes")]
    evidence: Vec<u8>,
    note: Option<String>,
    reviewer: Option<String>,
    matrix: Vec<Vec<u32>>,
    handling: Vec<Handling>,
    flags: (bool, bool),
    unit: (),
    letter: char,
}

fn sample_finding() -> Finding {
    Finding {
        case_id: "371702-2024-0017".to_owned(),
        amount_fen: 11_184_300,
        adjustment: -42,
        evidence: (0u8..40).collect(),
        note: Some("\u{8d85}\u{6807}\u{51c6}\u{6536}\u{8d39}".to_owned()),
        reviewer: None,
        matrix: vec![vec![], vec![1, 2, 300], vec![70_000]],
        handling: vec![
            Handling::Closed,
            Handling::Recovered(335_529),
            Handling::Range(1, -2),
            Handling::Penalty {
                multiple_bp: 20_000,
                legal_basis: "Art. 38".to_owned(),
            },
        ],
        flags: (true, false),
        unit: (),
        letter: '\u{6c34}',
    }
}

#[test]
fn rejects_every_truncation_of_a_valid_encoding() {
    let encoded = to_vec(&sample_finding()).unwrap();
    assert!(encoded.len() > 100);
    for len in 0..encoded.len() {
        let prefix = &encoded[..len];
        for error in [
            validate(prefix).unwrap_err(),
            from_slice::<Finding>(prefix).unwrap_err(),
            from_slice::<TestValue>(prefix).unwrap_err(),
        ] {
            match error {
                DecodeError::UnexpectedEnd { offset } | DecodeError::LengthTooLarge { offset } => {
                    assert!(offset <= len, "prefix {len}: offset {offset} past the end");
                }
                other => panic!("prefix of {len} bytes: unexpected error {other:?}"),
            }
        }
    }
    assert_eq!(from_slice::<Finding>(&encoded).unwrap(), sample_finding());
}

#[test]
fn rejects_huge_declared_lengths_without_allocating() {
    for input in [
        "5b ffffffffffffffff",
        "7b ffffffffffffffff",
        "9b ffffffffffffffff",
        "bb ffffffffffffffff",
        "5a ffffffff 00",
        "9a ffffffff 00",
        "bb 8000000000000000 6161 01",
    ] {
        assert_eq!(
            rejected(input),
            DecodeError::LengthTooLarge { offset: 0 },
            "{input}"
        );
    }
    // Typed targets that would preallocate from a trusted length are refused the same way.
    let huge = hex("9b ffffffffffffffff 00");
    assert_eq!(
        from_slice::<Vec<u64>>(&huge).unwrap_err(),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    let huge = hex("5b ffffffffffffffff 00");
    assert_eq!(
        from_slice::<ByteBuf>(&huge).unwrap_err(),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    let huge = hex("bb ffffffffffffffff 00");
    assert_eq!(
        from_slice::<HashMap<String, u64>>(&huge).unwrap_err(),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    // One more item than the input can hold is refused; exactly enough is accepted.
    assert_eq!(
        rejected("83 01 02"),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    assert_eq!(
        rejected("a2 6161 01"),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    assert_eq!(
        rejected("43 0102"),
        DecodeError::LengthTooLarge { offset: 0 }
    );
    validate(&hex("82 01 02")).unwrap();
}

#[test]
fn depth_limit_is_64_levels() {
    assert_eq!(MAX_DEPTH, 64);
    let mut deepest_allowed = vec![0x81u8; 63];
    deepest_allowed.push(0x80);
    validate(&deepest_allowed).unwrap();
    let value: TestValue = from_slice(&deepest_allowed).unwrap();
    assert_eq!(value, nested_arrays(64));
    assert_eq!(to_vec(&nested_arrays(64)).unwrap(), deepest_allowed);

    let mut too_deep = vec![0x81u8; 64];
    too_deep.push(0x80);
    assert_eq!(
        hex::encode(&too_deep),
        hex::encode(
            to_vec(&nested_arrays(64))
                .map(|inner| [vec![0x81], inner].concat())
                .unwrap()
        )
    );
    assert_eq!(
        validate(&too_deep).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 }
    );
    assert_eq!(
        from_slice::<TestValue>(&too_deep).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 }
    );
    assert_eq!(
        to_vec(&nested_arrays(65)).unwrap_err(),
        EncodeError::DepthExceeded { limit: 64 }
    );

    // Maps count as levels too: 65 nested single-entry maps {"a": {"a": ... {}}}.
    let mut maps = vec![];
    for _ in 0..64 {
        maps.extend_from_slice(&[0xa1, 0x61, 0x61]);
    }
    maps.push(0xa0);
    assert_eq!(
        validate(&maps).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 * 3 }
    );
    validate(&maps[3..]).unwrap();

    // A very deep input is refused quickly, without exhausting the stack.
    let abyss = vec![0x81u8; 1_000_000];
    assert_eq!(
        validate(&abyss).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 }
    );
    assert_eq!(
        from_slice::<TestValue>(&abyss).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 }
    );
}

#[test]
fn enum_variants_count_toward_depth() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Wrap {
        Leaf,
        Node(Box<Wrap>),
    }
    let mut value = Wrap::Leaf;
    for _ in 0..64 {
        value = Wrap::Node(Box::new(value));
    }
    let encoded = to_vec(&value).unwrap();
    assert_eq!(from_slice::<Wrap>(&encoded).unwrap(), value);
    let value = Wrap::Node(Box::new(value));
    assert_eq!(
        to_vec(&value).unwrap_err(),
        EncodeError::DepthExceeded { limit: 64 }
    );
    let mut bytes = vec![];
    for _ in 0..65 {
        bytes.extend_from_slice(&[0xa1, 0x64, b'N', b'o', b'd', b'e']);
    }
    bytes.extend_from_slice(&[0x64, b'L', b'e', b'a', b'f']);
    assert_eq!(
        from_slice::<Wrap>(&bytes).unwrap_err(),
        DecodeError::DepthExceeded { offset: 64 * 6 }
    );
}

#[test]
fn unknown_fields_are_caught_by_canonical_decoding() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Small {
        a: u64,
    }
    // {"a": 1, "zz": 2}: serde ignores "zz", so the plain decode succeeds.
    let bytes = hex("a2 6161 01 627a7a 02");
    assert_eq!(from_slice::<Small>(&bytes).unwrap(), Small { a: 1 });
    assert_eq!(
        from_slice_canonical::<Small>(&bytes).unwrap_err(),
        DecodeError::NotCanonical
    );
    // The ignored value is still checked strictly.
    let bad = hex("a2 6161 01 627a7a 1802");
    assert_eq!(
        from_slice::<Small>(&bad).unwrap_err(),
        DecodeError::NonShortestForm { offset: 7 }
    );
    let bad = hex("a2 6161 01 627a7a 81 fa00000000");
    assert!(matches!(
        from_slice::<Small>(&bad).unwrap_err(),
        DecodeError::Unsupported { offset: 8, .. }
    ));
    // deny_unknown_fields reports the field by name.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        a: u64,
    }
    match from_slice::<Strict>(&bytes).unwrap_err() {
        DecodeError::Custom(message) => {
            assert!(message.contains("unknown field `zz`"), "{message}")
        }
        other => panic!("expected Custom, got {other:?}"),
    }
}

#[test]
fn option_and_null_behaviour() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Opt {
        a: Option<u64>,
        b: Option<Option<u64>>,
    }
    check(Opt { a: None, b: None }, "a2 6161 f6 6162 f6");
    check(
        Opt {
            a: Some(0),
            b: Some(Some(7)),
        },
        "a2 6161 00 6162 07",
    );
    check(Some(5u64), "05");
    check(vec![None, Some(1u64)], "82 f6 01");
    // Some(None) encodes as null and so decodes as None: such values are not canonical.
    let bytes = to_vec(&Opt {
        a: None,
        b: Some(None),
    })
    .unwrap();
    assert_eq!(from_slice::<Opt>(&bytes).unwrap(), Opt { a: None, b: None });
    // A missing Option field decodes as None, but is not the canonical form.
    let missing = hex("a1 6161 f6");
    assert_eq!(
        from_slice::<Opt>(&missing).unwrap(),
        Opt { a: None, b: None }
    );
    assert_eq!(
        from_slice_canonical::<Opt>(&missing).unwrap_err(),
        DecodeError::NotCanonical
    );
    // null is not a number, and a number is not null.
    assert_eq!(
        from_slice::<u64>(&hex("f6")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "integer",
            found: "null"
        }
    );
    assert_eq!(
        from_slice::<()>(&hex("00")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "null",
            found: "unsigned integer"
        }
    );
    assert_eq!(
        from_slice::<bool>(&hex("f6")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "boolean",
            found: "null"
        }
    );
}

#[test]
fn type_mismatches_and_ranges_are_specific() {
    assert_eq!(
        from_slice::<String>(&hex("01")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "text string",
            found: "unsigned integer"
        }
    );
    // A byte string is not accepted for a String, even if it is valid UTF-8.
    assert_eq!(
        from_slice::<String>(&hex("4161")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "text string",
            found: "byte string"
        }
    );
    assert_eq!(
        from_slice::<ByteBuf>(&hex("6161")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "byte string",
            found: "text string"
        }
    );
    assert_eq!(
        from_slice::<Vec<u8>>(&hex("a0")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "array",
            found: "map"
        }
    );
    assert_eq!(
        from_slice::<BTreeMap<String, u8>>(&hex("80")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "map",
            found: "array"
        }
    );
    assert_eq!(
        from_slice::<u8>(&hex("190100")).unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "u8"
        }
    );
    assert_eq!(from_slice::<u8>(&hex("18ff")).unwrap(), 255);
    assert_eq!(
        from_slice::<u64>(&hex("20")).unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "u64"
        }
    );
    assert_eq!(
        from_slice::<i64>(&hex("3b8000000000000000")).unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "i64"
        }
    );
    assert_eq!(
        from_slice::<i64>(&hex("3b7fffffffffffffff")).unwrap(),
        i64::MIN
    );
    assert_eq!(
        from_slice::<i8>(&hex("3880")).unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "i8"
        }
    );
    assert_eq!(from_slice::<i8>(&hex("387f")).unwrap(), -128);
    assert_eq!(
        from_slice::<u128>(&hex("1bffffffffffffffff")).unwrap(),
        u128::from(u64::MAX)
    );
    assert!(matches!(
        from_slice::<f64>(&hex("01")).unwrap_err(),
        DecodeError::Unsupported { offset: 0, .. }
    ));
    assert_eq!(
        from_slice::<(u8, u8)>(&hex("83 01 02 03")).unwrap_err(),
        DecodeError::UnreadItems {
            offset: 0,
            count: 1
        }
    );
    match from_slice::<(u8, u8, u8)>(&hex("82 01 02")).unwrap_err() {
        DecodeError::Custom(message) => assert!(message.contains("invalid length 2"), "{message}"),
        other => panic!("expected Custom, got {other:?}"),
    }
    match from_slice::<char>(&hex("62 6161")).unwrap_err() {
        DecodeError::Custom(message) => assert!(message.contains("invalid value"), "{message}"),
        other => panic!("expected Custom, got {other:?}"),
    }
}

#[test]
fn serde_messages_name_the_field_or_variant() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Case {
        case_id: String,
        amount_fen: u64,
    }
    assert_eq!(
        from_slice::<Case>(&hex("a1 6a616d6f756e745f66656e 01")).unwrap_err(),
        DecodeError::Custom("missing field `case_id`".to_owned())
    );
    match from_slice::<Handling>(&hex("64 4f70656e")).unwrap_err() {
        DecodeError::Custom(message) => {
            assert!(message.contains("unknown variant `Open`"), "{message}")
        }
        other => panic!("expected Custom, got {other:?}"),
    }
}

#[test]
fn error_messages_say_what_and_where() {
    let error = from_slice::<Vec<u64>>(&hex("83 01 02 1805")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at byte 3: integer, length or count not in shortest form"
    );
    let error = validate(&hex("82 01 fa00000000")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at byte 2: unsupported item: single-precision float"
    );
    let error = validate(&hex("a2 6162 01 6161 02")).unwrap_err();
    assert!(
        error.to_string().starts_with("at byte 4: map key"),
        "{error}"
    );
    let error = from_slice::<String>(&hex("01")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "at byte 0: expected text string, found unsigned integer"
    );
    let error = to_vec(&1.5f64).unwrap_err();
    assert!(error.to_string().contains("floating-point"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Encoding errors.
// ---------------------------------------------------------------------------------------

#[test]
fn encoding_refuses_values_outside_the_subset() {
    assert!(matches!(
        to_vec(&1.0f32).unwrap_err(),
        EncodeError::Unsupported(_)
    ));
    assert!(matches!(
        to_vec(&vec![0.5f64]).unwrap_err(),
        EncodeError::Unsupported(_)
    ));
    assert_eq!(
        to_vec(&(u128::from(u64::MAX) + 1)).unwrap_err(),
        EncodeError::IntegerOutOfRange("18446744073709551616".to_owned())
    );
    assert_eq!(
        to_vec(&(-18_446_744_073_709_551_617i128)).unwrap_err(),
        EncodeError::IntegerOutOfRange("-18446744073709551617".to_owned())
    );
    assert_eq!(
        to_vec(&(-18_446_744_073_709_551_616i128)).unwrap(),
        hex("3bffffffffffffffff")
    );

    let mut numeric_keys = BTreeMap::new();
    numeric_keys.insert(1u64, 2u64);
    assert_eq!(
        to_vec(&numeric_keys).unwrap_err(),
        EncodeError::MapKeyNotText {
            found: "an integer"
        }
    );
    let mut byte_keys = BTreeMap::new();
    byte_keys.insert(ByteBuf(vec![1]), 2u64);
    assert_eq!(
        to_vec(&byte_keys).unwrap_err(),
        EncodeError::MapKeyNotText {
            found: "a byte string"
        }
    );

    struct Duplicate;
    impl Serialize for Duplicate {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("b", &1u8)?;
            map.serialize_entry("a", &2u8)?;
            map.serialize_entry("b", &3u8)?;
            map.end()
        }
    }
    assert_eq!(
        to_vec(&Duplicate).unwrap_err(),
        EncodeError::DuplicateMapKey {
            key: "b".to_owned()
        }
    );

    struct Liar;
    impl Serialize for Liar {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = serializer.serialize_seq(Some(3))?;
            seq.serialize_element(&1u8)?;
            seq.end()
        }
    }
    assert_eq!(
        to_vec(&Liar).unwrap_err(),
        EncodeError::LengthMismatch {
            what: "array",
            declared: 3,
            actual: 1
        }
    );
}

#[test]
fn duplicate_keys_are_refused_in_order_too() {
    struct Adjacent;
    impl Serialize for Adjacent {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(3))?;
            map.serialize_entry("a", &1u8)?;
            map.serialize_entry("a", &2u8)?;
            map.serialize_entry("bb", &3u8)?;
            map.end()
        }
    }
    assert_eq!(
        to_vec(&Adjacent).unwrap_err(),
        EncodeError::DuplicateMapKey {
            key: "a".to_owned()
        }
    );
}

#[test]
fn sequences_of_unknown_length_get_their_head_inserted() {
    /// Serialises the even numbers below `limit` through an iterator whose length serde
    /// cannot know in advance, so `serialize_seq(None)` is used.
    struct Evens(u64);
    impl Serialize for Evens {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq((0..self.0).filter(|n| n % 2 == 0))
        }
    }
    #[derive(Serialize)]
    struct Holder {
        zz: Vec<Evens>,
        a: Evens,
    }
    let holder = Holder {
        zz: vec![Evens(0), Evens(3), Evens(60)],
        a: Evens(50),
    };
    let encoded = to_vec(&holder).unwrap();
    let expected = TestValue::Map(vec![
        (
            "a".to_owned(),
            TestValue::Array((0..50).step_by(2).map(TestValue::Uint).collect()),
        ),
        (
            "zz".to_owned(),
            TestValue::Array(vec![
                TestValue::Array(vec![]),
                TestValue::Array(vec![TestValue::Uint(0), TestValue::Uint(2)]),
                TestValue::Array((0..60).step_by(2).map(TestValue::Uint).collect()),
            ]),
        ),
    ]);
    assert_eq!(encoded, to_vec(&expected).unwrap());
    // 25 items need the one-byte count form: 0x98 0x19.
    assert_eq!(&encoded[..5], &[0xa2, 0x61, b'a', 0x98, 0x19]);
    assert_eq!(from_slice::<TestValue>(&encoded).unwrap(), expected);
}

#[test]
fn ignored_values_are_still_checked_strictly() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Small {
        a: u64,
    }
    // {"a": 1, "zz": {"b": 1, "a": 2}}: the unknown field's keys are out of order.
    let bytes = hex("a2 6161 01 627a7a a2 6162 01 6161 02");
    assert_eq!(
        from_slice::<Small>(&bytes).unwrap_err(),
        DecodeError::MapKeysOutOfOrder { offset: 11 }
    );
    let bytes = hex("a2 6161 01 627a7a 62 c328");
    assert_eq!(
        from_slice::<Small>(&bytes).unwrap_err(),
        DecodeError::InvalidUtf8 { offset: 7 }
    );
}

#[test]
fn encoder_serialize_appends_or_leaves_the_buffer_unchanged() {
    let mut encoder = Encoder::new();
    encoder.array(2).uint(7);
    encoder.serialize(&("x", 1u8)).unwrap();
    assert_eq!(encoder.as_slice(), hex("82 07 82 6178 01").as_slice());
    let before = encoder.len();
    assert!(encoder.serialize(&vec![1.0f64]).is_err());
    assert_eq!(encoder.len(), before);
    validate(encoder.as_slice()).unwrap();
}

// ---------------------------------------------------------------------------------------
// serde derive round trips.
// ---------------------------------------------------------------------------------------

#[test]
fn derived_struct_round_trips() {
    let finding = sample_finding();
    let encoded = to_vec(&finding).unwrap();
    validate(&encoded).unwrap();
    assert_eq!(from_slice::<Finding>(&encoded).unwrap(), finding);
    assert_eq!(from_slice_canonical::<Finding>(&encoded).unwrap(), finding);
    // The evidence is a byte string (0x58 0x28 = 40 bytes), not an array of integers.
    let evidence_at = encoded.windows(2).position(|w| w == [0x58, 0x28]).unwrap();
    assert_eq!(
        &encoded[evidence_at + 2..evidence_at + 42],
        finding.evidence.as_slice()
    );
    // The top-level map has 11 entries with keys in canonical order.
    let mut decoder = Decoder::new(&encoded);
    assert_eq!(decoder.map().unwrap(), 11);
    let mut previous = None;
    let mut keys = vec![];
    for _ in 0..11 {
        keys.push(decoder.map_key(&mut previous).unwrap());
        decoder.skip_item().unwrap();
    }
    decoder.finish().unwrap();
    assert_eq!(
        keys,
        [
            "note",
            "unit",
            "flags",
            "letter",
            "matrix",
            "case_id",
            "evidence",
            "handling",
            "reviewer",
            "adjustment",
            "amount_fen"
        ]
    );
}

#[test]
fn externally_tagged_enum_forms() {
    check(Handling::Closed, "66 436c6f736564");
    check(Handling::Recovered(5), "a1 69 5265636f7665726564 05");
    check(Handling::Range(1, -2), "a1 65 52616e6765 82 01 21");
    check(
        Handling::Penalty {
            multiple_bp: 2,
            legal_basis: "A".to_owned(),
        },
        // "legal_basis" sorts before "multiple_bp": same length, and 0x6c < 0x6d.
        "a1 67 50656e616c7479 a2 6b 6c6567616c5f6261736973 6141 6b 6d756c7469706c655f6270 02",
    );
    // Alternative forms that the serializer never writes are refused.
    assert!(matches!(
        from_slice::<Handling>(&hex("a1 66436c6f736564 f6")).unwrap_err(),
        DecodeError::TypeMismatch { offset: 0, .. }
    ));
    assert!(matches!(
        from_slice::<Handling>(&hex("69 5265636f7665726564")).unwrap_err(),
        DecodeError::TypeMismatch { offset: 0, .. }
    ));
    assert!(matches!(
        from_slice::<Handling>(&hex("a2 65 52616e6765 80 69 5265636f7665726564 05")).unwrap_err(),
        DecodeError::TypeMismatch { offset: 0, .. }
    ));
    assert_eq!(
        from_slice::<Handling>(&hex("a1 01 05")).unwrap_err(),
        DecodeError::MapKeyNotText { offset: 1 }
    );
    assert!(matches!(
        from_slice::<Handling>(&hex("05")).unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            found: "unsigned integer",
            ..
        }
    ));
}

#[test]
fn internally_tagged_untagged_and_flattened_types_round_trip() {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Record {
        InspectionOpened {
            case_id: String,
            inspection: String,
        },
        Grade {
            institution: String,
            grade: char,
            score: u32,
        },
        Correction {
            supersedes: u64,
            #[serde(with = "as_bytes")]
            digest: Vec<u8>,
        },
    }
    let opened = Record::InspectionOpened {
        case_id: "c1".to_owned(),
        inspection: "flight".to_owned(),
    };
    // Keys: "kind" (4) < "case_id" (7) < "inspection" (10).
    check(
        opened,
        "a3 64 6b696e64 70 496e7370656374696f6e4f70656e6564 \
         67 636173655f6964 62 6331 \
         6a 696e7370656374696f6e 66 666c69676874",
    );
    for record in [
        Record::Grade {
            institution: "H1".to_owned(),
            grade: 'B',
            score: 87,
        },
        Record::Correction {
            supersedes: 12,
            digest: vec![0xab; 32],
        },
    ] {
        let encoded = to_vec(&record).unwrap();
        assert_eq!(from_slice_canonical::<Record>(&encoded).unwrap(), record);
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Words(Vec<String>),
        Negative(i64),
    }
    check(Either::Number(3), "03");
    check(Either::Words(vec!["a".to_owned()]), "81 6161");
    check(Either::Negative(-3), "22");

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Common {
        origin: String,
        seq: u64,
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct WithCommon {
        #[serde(flatten)]
        common: Common,
        body: String,
    }
    check(
        WithCommon {
            common: Common {
                origin: "o".to_owned(),
                seq: 1,
            },
            body: "b".to_owned(),
        },
        "a3 63 736571 01 64 626f6479 6162 66 6f726967696e 616f",
    );
}

#[test]
fn unit_newtype_and_tuple_structs_and_enum_keys() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Marker;
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Fen(u64);
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(u8, String);
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    enum Grade {
        A,
        B,
    }
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    struct Code(String);
    check(Marker, "f6");
    check(Fen(111_843), "1a0001b4e3");
    check(Pair(1, "x".to_owned()), "82 01 6178");
    let mut grades = BTreeMap::new();
    grades.insert(Grade::B, 2u8);
    grades.insert(Grade::A, 3u8);
    check(grades, "a2 6141 03 6142 02");
    let mut codes = BTreeMap::new();
    codes.insert(Code("371702".to_owned()), 1u8);
    check(codes, "a1 66 333731373032 01");
    check('\u{6c34}', "63e6b0b4");
}

#[test]
fn strings_and_bytes_are_borrowed_from_the_input() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct View<'a> {
        name: &'a str,
        #[serde(borrow)]
        blob: BorrowedBytes<'a>,
    }
    let encoded = to_vec(&View {
        name: "n",
        blob: BorrowedBytes(&[9, 9]),
    })
    .unwrap();
    let view: View<'_> = from_slice(&encoded).unwrap();
    let range = encoded.as_ptr_range();
    assert!(range.contains(&view.name.as_ptr()));
    assert!(range.contains(&view.blob.0.as_ptr()));
    assert_eq!(view.blob.0, &[9, 9]);
}

#[test]
fn binary_form_is_chosen_when_not_human_readable() {
    /// A 32-byte key: hex text for humans, a byte string in the canonical encoding.
    #[derive(Debug, Clone, PartialEq)]
    struct Key32([u8; 32]);
    impl Serialize for Key32 {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if serializer.is_human_readable() {
                serializer.serialize_str(&hex::encode(self.0))
            } else {
                serializer.serialize_bytes(&self.0)
            }
        }
    }
    impl<'de> Deserialize<'de> for Key32 {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key32, D::Error> {
            let bytes = if deserializer.is_human_readable() {
                let text = String::deserialize(deserializer)?;
                hex::decode(text).map_err(de::Error::custom)?
            } else {
                ByteBuf::deserialize(deserializer)?.0
            };
            <[u8; 32]>::try_from(bytes.as_slice())
                .map(Key32)
                .map_err(|_| de::Error::custom("expected 32 bytes"))
        }
    }
    let key = Key32([7; 32]);
    let encoded = to_vec(&key).unwrap();
    assert_eq!(encoded.len(), 34);
    assert_eq!(&encoded[..2], &[0x58, 0x20]);
    assert_eq!(from_slice_canonical::<Key32>(&encoded).unwrap(), key);
    assert_eq!(
        serde_json::to_string(&key).unwrap(),
        format!("\"{}\"", "07".repeat(32))
    );
    // Externally tagged enums and plain structs hand the key our deserializer directly.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum KeyEvent {
        Add { key: Key32 },
    }
    let event = KeyEvent::Add { key: key.clone() };
    let encoded = to_vec(&event).unwrap();
    assert_eq!(from_slice_canonical::<KeyEvent>(&encoded).unwrap(), event);

    // A serde limitation worth knowing: internally tagged, untagged and flattened types
    // buffer the input in serde's private `Content`, whose deserializer reports
    // `is_human_readable() == true` whatever the original said. A type that switches on it
    // then fails there; it must accept both forms when deserializing.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum TaggedStrict {
        Add { key: Key32 },
    }
    let encoded = to_vec(&TaggedStrict::Add { key: key.clone() }).unwrap();
    let error = from_slice::<TaggedStrict>(&encoded).unwrap_err();
    assert!(matches!(&error, DecodeError::Custom(_)), "{error:?}");

    /// A 32-byte key whose deserializer accepts both forms, as types used inside
    /// internally tagged enums must.
    #[derive(Debug, Clone, PartialEq)]
    struct TolerantKey32([u8; 32]);
    impl Serialize for TolerantKey32 {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            Key32(self.0).serialize(serializer)
        }
    }
    impl<'de> Deserialize<'de> for TolerantKey32 {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TolerantKey32, D::Error> {
            struct Either;
            impl Visitor<'_> for Either {
                type Value = TolerantKey32;
                fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                    formatter.write_str("32 bytes, or 64 hex digits")
                }
                fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<TolerantKey32, E> {
                    <[u8; 32]>::try_from(value)
                        .map(TolerantKey32)
                        .map_err(|_| E::invalid_length(value.len(), &self))
                }
                fn visit_str<E: de::Error>(self, value: &str) -> Result<TolerantKey32, E> {
                    let bytes = hex::decode(value).map_err(E::custom)?;
                    self.visit_bytes(&bytes)
                }
            }
            deserializer.deserialize_any(Either)
        }
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum TaggedTolerant {
        Add { key: TolerantKey32 },
    }
    let event = TaggedTolerant::Add {
        key: TolerantKey32(key.0),
    };
    let encoded = to_vec(&event).unwrap();
    assert_eq!(
        from_slice_canonical::<TaggedTolerant>(&encoded).unwrap(),
        event
    );
}

// ---------------------------------------------------------------------------------------
// The low-level decoder.
// ---------------------------------------------------------------------------------------

#[test]
fn low_level_decoder_reads_a_fixed_layout() {
    let mut encoder = Encoder::new();
    encoder
        .array(5)
        .uint(1)
        .bytes(&[0xaa; 32])
        .int(-5)
        .map(2)
        .text("a")
        .bool(true)
        .text("bb")
        .null()
        .text("end");
    let bytes = encoder.into_vec();
    let mut d = Decoder::new(&bytes);
    assert_eq!(d.peek_major().unwrap(), 4);
    assert_eq!(d.array().unwrap(), 5);
    assert_eq!(d.offset(), 1);
    assert_eq!(d.uint().unwrap(), 1);
    // A typed read of the wrong type fails and leaves the position where it was.
    assert_eq!(
        d.text().unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 2,
            expected: "text string",
            found: "byte string"
        }
    );
    assert_eq!(
        d.bytes_fixed::<16>().unwrap_err(),
        DecodeError::ByteStringLength {
            offset: 2,
            expected: 16,
            found: 32
        }
    );
    assert_eq!(d.offset(), 2);
    assert_eq!(d.bytes_fixed::<32>().unwrap(), [0xaa; 32]);
    assert_eq!(d.int().unwrap(), -5);
    assert_eq!(d.map().unwrap(), 2);
    assert_eq!(
        d.expect_key("b").unwrap_err(),
        DecodeError::UnexpectedKey {
            offset: 38,
            expected: "b"
        }
    );
    d.expect_key("a").unwrap();
    assert!(!d.is_null());
    assert_eq!(
        d.null().unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 40,
            expected: "null",
            found: "boolean"
        }
    );
    assert!(d.bool().unwrap());
    d.expect_key("bb").unwrap();
    assert!(d.is_null());
    d.null().unwrap();
    assert!(!d.is_at_end());
    assert_eq!(
        d.finish().unwrap_err(),
        DecodeError::TrailingBytes { offset: 45 }
    );
    assert_eq!(d.text().unwrap(), "end");
    assert!(d.is_at_end());
    assert_eq!(d.remaining(), 0);
    d.finish().unwrap();
    assert_eq!(
        d.uint().unwrap_err(),
        DecodeError::UnexpectedEnd { offset: 49 }
    );
    assert_eq!(
        d.peek_major().unwrap_err(),
        DecodeError::UnexpectedEnd { offset: 49 }
    );
}

#[test]
fn low_level_decoder_integer_extremes() {
    let mut d = Decoder::new(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        d.int().unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "i64"
        }
    );
    assert_eq!(d.offset(), 0);
    let mut d = Decoder::new(&[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        d.int().unwrap_err(),
        DecodeError::IntegerOutOfRange {
            offset: 0,
            target: "i64"
        }
    );
    assert_eq!(d.uint().unwrap(), 1 << 63);
    let mut d = Decoder::new(&[0x20]);
    assert_eq!(
        d.uint().unwrap_err(),
        DecodeError::TypeMismatch {
            offset: 0,
            expected: "unsigned integer",
            found: "negative integer"
        }
    );
    assert_eq!(d.int().unwrap(), -1);
}

#[test]
fn low_level_decoder_deserializes_in_the_middle() {
    let mut encoder = Encoder::new();
    encoder.array(2).serialize(&Handling::Recovered(9)).unwrap();
    encoder.text("tail");
    let bytes = encoder.into_vec();
    let mut d = Decoder::new(&bytes);
    assert_eq!(d.array().unwrap(), 2);
    assert_eq!(d.deserialize::<Handling>().unwrap(), Handling::Recovered(9));
    assert_eq!(d.deserialize::<&str>().unwrap(), "tail");
    d.finish().unwrap();
}

// ---------------------------------------------------------------------------------------
// Property tests.
// ---------------------------------------------------------------------------------------

fn arbitrary_value() -> impl Strategy<Value = TestValue> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(TestValue::Uint),
        (0u64..30).prop_map(TestValue::Uint),
        any::<u64>().prop_map(TestValue::Nint),
        (0u64..300).prop_map(TestValue::Nint),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(TestValue::Bytes),
        "\\PC{0,12}".prop_map(TestValue::Text),
        any::<bool>().prop_map(TestValue::Bool),
        Just(TestValue::Null),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(TestValue::Array),
            proptest::collection::vec(("[a-c]{0,3}|\\PC{0,4}", inner), 0..8)
                .prop_map(|entries| TestValue::Map(entries).canonicalise()),
        ]
    })
}

/// Reverses the entry order of every map (keys stay unique), so that the serializer has to
/// sort them.
fn reverse_maps(value: TestValue) -> TestValue {
    match value {
        TestValue::Array(items) => TestValue::Array(items.into_iter().map(reverse_maps).collect()),
        TestValue::Map(entries) => TestValue::Map(
            entries
                .into_iter()
                .rev()
                .map(|(key, value)| (key, reverse_maps(value)))
                .collect(),
        ),
        other => other,
    }
}

/// Checks the fuzz property on arbitrary bytes: no panic; `validate`, the serde decoder
/// and the low-level decoder agree; and accepted bytes re-encode exactly.
fn check_arbitrary_bytes(bytes: &[u8]) {
    let validated = validate(bytes);
    let decoded = from_slice::<TestValue>(bytes);
    let mut decoder = Decoder::new(bytes);
    let low_level = TestValue::decode_low_level(&mut decoder).and_then(|value| {
        decoder.finish()?;
        Ok(value)
    });
    match (&validated, &decoded) {
        (Ok(()), Ok(value)) => {
            assert_eq!(to_vec(value).unwrap(), bytes);
            assert_eq!(low_level.as_ref().unwrap(), value);
            assert_eq!(from_slice_canonical::<TestValue>(bytes).as_ref(), Ok(value));
        }
        (Err(a), Err(b)) => {
            assert_eq!(
                a,
                b,
                "validate and serde disagree on {}",
                hex::encode(bytes)
            );
            assert!(low_level.is_err());
        }
        _ => panic!(
            "validate {validated:?} and serde {decoded:?} disagree on {}",
            hex::encode(bytes)
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_values_round_trip(value in arbitrary_value()) {
        let encoded = to_vec(&value).unwrap();
        validate(&encoded).unwrap();
        prop_assert_eq!(&from_slice::<TestValue>(&encoded).unwrap(), &value);
        prop_assert_eq!(&from_slice_canonical::<TestValue>(&encoded).unwrap(), &value);
        let mut encoder = Encoder::new();
        value.encode_low_level(&mut encoder);
        prop_assert_eq!(encoder.as_slice(), encoded.as_slice());
        let mut decoder = Decoder::new(&encoded);
        prop_assert_eq!(&TestValue::decode_low_level(&mut decoder).unwrap(), &value);
        decoder.finish().unwrap();
    }

    #[test]
    fn map_entry_order_does_not_change_the_encoding(value in arbitrary_value()) {
        let canonical = to_vec(&value).unwrap();
        let reversed = reverse_maps(value.clone());
        prop_assert_eq!(to_vec(&reversed).unwrap(), canonical);
    }

    #[test]
    fn random_maps_with_any_key_order_encode_canonically(
        entries in proptest::collection::vec(("\\PC{0,6}", any::<u64>()), 0..12)
    ) {
        let map: HashMap<String, u64> = entries.into_iter().collect();
        let encoded = to_vec(&map).unwrap();
        validate(&encoded).unwrap();
        prop_assert_eq!(from_slice::<HashMap<String, u64>>(&encoded).unwrap(), map);
    }

    #[test]
    fn random_bytes_never_panic_and_accepted_bytes_re_encode_exactly(
        bytes in proptest::collection::vec(any::<u8>(), 0..48)
    ) {
        check_arbitrary_bytes(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic_and_accepted_bytes_re_encode_exactly(
        value in arbitrary_value(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        mutation in 0u8..4,
    ) {
        let mut bytes = to_vec(&value).unwrap();
        let at = position.index(bytes.len() + 1);
        match mutation {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            2 if at < bytes.len() => { bytes.remove(at); }
            _ => bytes.truncate(at),
        }
        check_arbitrary_bytes(&bytes);
    }
}

/// A deterministic fuzz loop over mutated valid encodings, with more cases than proptest
/// runs by default; seeded so that a failure reproduces.
#[test]
fn seeded_mutation_fuzz() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5942_4c45_4447_4552);
    let seeds: Vec<Vec<u8>> = vec![
        to_vec(&sample_finding()).unwrap(),
        hex("a56161614161626142616361436164614461656145"),
        hex("8301820203820405"),
        hex("a26161016162820203"),
        to_vec(&nested_arrays(60)).unwrap(),
    ];
    let mut accepted_mutants = 0;
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..=bytes.len());
            match rng.gen_range(0..4) {
                0 if at < bytes.len() => bytes[at] = rng.gen(),
                1 => bytes.insert(at, rng.gen()),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {
                    if at < bytes.len() {
                        bytes[at] ^= 1 << rng.gen_range(0..8);
                    }
                }
            }
        }
        check_arbitrary_bytes(&bytes);
        if validate(&bytes).is_ok() {
            accepted_mutants += 1;
        }
        let _ = from_slice::<Finding>(&bytes);
    }
    // Some mutants (for example a changed integer or letter) are still valid.
    assert!(
        accepted_mutants > 100,
        "only {accepted_mutants} mutants were valid"
    );
}

#[test]
fn text_value_helpers_are_canonical() {
    // The test-only canonicaliser orders keys like the encoder does.
    let value = TestValue::Map(vec![
        ("aa".to_owned(), text("x")),
        ("b".to_owned(), TestValue::Null),
        ("b".to_owned(), TestValue::Bool(true)),
    ])
    .canonicalise();
    assert_eq!(
        value,
        TestValue::Map(vec![
            ("b".to_owned(), TestValue::Null),
            ("aa".to_owned(), text("x"))
        ])
    );
    assert_eq!(to_vec(&value).unwrap(), hex("a2 6162 f6 626161 6178"));
}
