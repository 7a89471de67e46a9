//! Tests of C2SP signed notes, tlog checkpoints and tlog cosignatures
//! (`yibao_schema::note`): the C2SP examples (vectors under `tests/vectors/`, with their
//! provenance), frozen Yibao vectors that break if the format ever changes, strict parse
//! rejections, and a sign/parse/verify round-trip property.
//!
//! Not for: the Ed25519 edge cases themselves (see `sig_rule.rs`).

// Tests may unwrap: a panic is a test failure.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use yibao_schema::note::{
    key_id, sign_note, Checkpoint, Cosignature, KeyKind, NoteError, NoteSignature,
    SignedCheckpoint, SignedNote, VerifierKey, MAX_SIGNATURES,
};
use yibao_schema::sig::SignatureError;

const LOG_ORIGIN: &str = "yibao.ledger/v1/blake3/county/141125";
const WITNESS_NAME: &str = "yibao.ledger/v1/witness/city/141100";

/// The log key of the frozen vectors: seed 32 × 0x42.
fn log_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

/// The witness key of the frozen vectors: seed 32 × 0x43.
fn witness_key() -> SigningKey {
    SigningKey::from_bytes(&[0x43; 32])
}

fn log_vkey() -> VerifierKey {
    VerifierKey::from_signing_key(LOG_ORIGIN, &log_key(), KeyKind::Ed25519).unwrap()
}

fn witness_vkey() -> VerifierKey {
    VerifierKey::from_signing_key(WITNESS_NAME, &witness_key(), KeyKind::CosignatureV1).unwrap()
}

/// The checkpoint of the frozen vectors.
fn frozen_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: LOG_ORIGIN.to_owned(),
        size: 111_843,
        root: *blake3::hash(b"yibao frozen checkpoint root").as_bytes(),
        extensions: Vec::new(),
    }
}

/// 2026-01-01T00:00:00Z.
const FROZEN_TIMESTAMP: u64 = 1_767_225_600;

// The frozen vectors below were generated once by this crate and checked independently
// with Python's `cryptography` package (OpenSSL Ed25519), which produced the same bytes.
// Never regenerate them unless the format is meant to change.

/// The log's verifier key (type 0x01).
const FROZEN_LOG_VKEY: &str =
    "yibao.ledger/v1/blake3/county/141125+2b3afc62+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
/// The witness's verifier key (type 0x04).
const FROZEN_WITNESS_VKEY: &str =
    "yibao.ledger/v1/witness/city/141100+36f016c9+BCL8KXeS8Lb/wL/P237bDAqhTgJaNl7A40Lobjgpy3S2";
/// The frozen checkpoint signed by the log key.
const FROZEN_SIGNED_CHECKPOINT: &str = "yibao.ledger/v1/blake3/county/141125
111843
CFd+656m/9RZoAsV2mPDJDbLuqUsEBU/UJnLtIMQDy0=

\u{2014} yibao.ledger/v1/blake3/county/141125 Kzr8YpsSSPjwepxoojDP3RN7NVEsGwdMf4G18iEJx8y9vpKq4nLeCWgj9J+uNW7tt/5b/L03Sq+qC66Gjk1vbJaUvgs=
";
/// The frozen cosignature line, witness key at 2026-01-01T00:00:00Z.
const FROZEN_COSIGNATURE_LINE: &str = "\u{2014} yibao.ledger/v1/witness/city/141100 NvAWyQAAAABpVbkAanU9Bd2WdF/sx0nxSb1/G1Qm6Pi0XN0aGOcPApVupYmd3Y+DbAnsnk2wzmCDQS7eZ8sH8c5DbmpedkYFmXxWBw==\n";

#[derive(serde::Deserialize)]
struct SignedNoteExample {
    source: String,
    verifier_key: String,
    signed_note: String,
    note_text: String,
}

fn signed_note_example() -> SignedNoteExample {
    let json = include_str!("vectors/signed-note-example.json");
    serde_json::from_str(json).unwrap()
}

#[derive(serde::Deserialize)]
struct CosignatureExample {
    source: String,
    signed_checkpoint: String,
    origin: String,
    tree_size: u64,
    root_hash_base64: String,
    cosigner_name: String,
    cosigner_key_id_hex: String,
    cosignature_timestamp: u64,
}

fn cosignature_example() -> CosignatureExample {
    let json = include_str!("vectors/tlog-checkpoint-cosignature-example.json");
    serde_json::from_str(json).unwrap()
}

// ---------------------------------------------------------------------------------------
// The C2SP examples.
// ---------------------------------------------------------------------------------------

#[test]
fn c2sp_signed_note_example_verifies_with_its_vkey() {
    let example = signed_note_example();
    assert!(example
        .source
        .contains("5ba5ee830903e91240fc6f9f3a7a9293d49e69c9"));
    let vkey = VerifierKey::parse(&example.verifier_key).unwrap();
    assert_eq!(vkey.name(), "example.com/foo");
    assert_eq!(hex::encode(vkey.key_id()), "530d903a");
    assert_eq!(vkey.kind(), KeyKind::Ed25519);
    assert_eq!(vkey.to_string(), example.verifier_key);
    assert_eq!(
        key_id(vkey.name(), KeyKind::Ed25519, vkey.public_key().as_bytes()),
        vkey.key_id()
    );

    let note = SignedNote::parse(&example.signed_note).unwrap();
    assert_eq!(note.text, example.note_text);
    assert_eq!(note.signatures.len(), 1);
    assert_eq!(note.to_string(), example.signed_note);
    assert_eq!(note.verify(std::slice::from_ref(&vkey)), Ok(vec![0]));
}

#[test]
fn c2sp_signed_note_example_fails_after_any_single_byte_change() {
    let example = signed_note_example();
    let vkey = VerifierKey::parse(&example.verifier_key).unwrap();
    let original = example.signed_note.as_bytes();
    let mut tried = 0;
    for position in 0..original.len() {
        for bit in 0..8 {
            let mut changed = original.to_vec();
            changed[position] ^= 1 << bit;
            let outcome = SignedNote::parse_bytes(&changed)
                .and_then(|note| note.verify(std::slice::from_ref(&vkey)));
            assert!(
                outcome.is_err(),
                "flipping bit {bit} of byte {position} still verifies"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, original.len() * 8);
}

#[test]
fn c2sp_signed_note_example_fails_with_the_key_as_a_cosigner_key() {
    // Same name and key, type 0x04: a different key ID, so the signature is unknown.
    let example = signed_note_example();
    let ed25519 = VerifierKey::parse(&example.verifier_key).unwrap();
    let cosigner = VerifierKey::from_public_key(
        ed25519.name(),
        ed25519.public_key().as_bytes(),
        KeyKind::CosignatureV1,
    )
    .unwrap();
    assert_ne!(cosigner.key_id(), ed25519.key_id());
    let note = SignedNote::parse(&example.signed_note).unwrap();
    assert_eq!(
        note.verify(&[cosigner]),
        Err(NoteError::NoKnownSignature { signatures: 1 })
    );
}

#[test]
fn c2sp_cosignature_example_parses() {
    let example = cosignature_example();
    assert!(example
        .source
        .contains("5ba5ee830903e91240fc6f9f3a7a9293d49e69c9"));
    let signed = SignedCheckpoint::parse(&example.signed_checkpoint).unwrap();
    assert_eq!(signed.checkpoint.origin, example.origin);
    assert_eq!(signed.checkpoint.size, example.tree_size);
    assert_eq!(
        BASE64.encode(signed.checkpoint.root),
        example.root_hash_base64
    );
    assert!(signed.checkpoint.extensions.is_empty());
    assert_eq!(signed.to_text(), example.signed_checkpoint);
    assert_eq!(signed.note.signatures.len(), 2);

    let cosignature = Cosignature::from_note_signature(&signed.note.signatures[1]).unwrap();
    assert_eq!(cosignature.name, example.cosigner_name);
    assert_eq!(hex::encode(cosignature.key_id), example.cosigner_key_id_hex);
    assert_eq!(cosignature.timestamp, example.cosignature_timestamp);
    assert_eq!(
        cosignature.to_line(),
        signed.note.signatures[1].to_line(),
        "the cosignature line prints back unchanged"
    );
    // The log's own signature is a plain 64-byte Ed25519 signature.
    assert_eq!(signed.note.signatures[0].signature.len(), 64);
}

// ---------------------------------------------------------------------------------------
// Frozen Yibao vectors.
// ---------------------------------------------------------------------------------------

#[test]
fn frozen_verifier_keys() {
    assert_eq!(log_vkey().to_string(), FROZEN_LOG_VKEY);
    assert_eq!(witness_vkey().to_string(), FROZEN_WITNESS_VKEY);
    assert_eq!(VerifierKey::parse(FROZEN_LOG_VKEY).unwrap(), log_vkey());
    assert_eq!(
        VerifierKey::parse(FROZEN_WITNESS_VKEY).unwrap(),
        witness_vkey()
    );
}

#[test]
fn frozen_signed_checkpoint() {
    let signed = SignedCheckpoint::sign(frozen_checkpoint(), &log_key()).unwrap();
    assert_eq!(signed.to_text(), FROZEN_SIGNED_CHECKPOINT);
    let parsed = SignedCheckpoint::parse(FROZEN_SIGNED_CHECKPOINT).unwrap();
    assert_eq!(parsed, signed);
    assert_eq!(parsed.verify(&log_vkey()), Ok(()));
}

#[test]
fn frozen_cosignature() {
    let cosignature = Cosignature::sign(
        &frozen_checkpoint(),
        WITNESS_NAME,
        &witness_key(),
        FROZEN_TIMESTAMP,
    )
    .unwrap();
    assert_eq!(cosignature.to_line(), FROZEN_COSIGNATURE_LINE);
    let parsed = Cosignature::parse_line(FROZEN_COSIGNATURE_LINE).unwrap();
    assert_eq!(parsed, cosignature);
    assert_eq!(parsed.verify(&frozen_checkpoint(), &witness_vkey()), Ok(()));

    // The cosigned checkpoint as a whole note.
    let mut signed = SignedCheckpoint::parse(FROZEN_SIGNED_CHECKPOINT).unwrap();
    signed.add_cosignature(&parsed);
    let text = signed.to_text();
    assert_eq!(
        text,
        format!("{FROZEN_SIGNED_CHECKPOINT}{FROZEN_COSIGNATURE_LINE}")
    );
    let reparsed = SignedCheckpoint::parse(&text).unwrap();
    assert_eq!(reparsed.verify(&log_vkey()), Ok(()));
    assert_eq!(reparsed.find_cosignature(&witness_vkey()), Ok(Some(parsed)));
    assert_eq!(reparsed.note.verify(&[witness_vkey()]), Ok(vec![1]));
    assert_eq!(
        reparsed.note.verify(&[log_vkey(), witness_vkey()]),
        Ok(vec![0, 1])
    );
}

#[test]
fn cosignature_signs_the_documented_message() {
    // The signed message is "cosignature/v1\ntime <t>\n" followed by the checkpoint body.
    let cosignature = Cosignature::parse_line(FROZEN_COSIGNATURE_LINE).unwrap();
    let message = format!(
        "cosignature/v1\ntime {FROZEN_TIMESTAMP}\n{}",
        frozen_checkpoint().body()
    );
    assert_eq!(
        yibao_schema::sig::verify(
            witness_key().verifying_key().as_bytes(),
            message.as_bytes(),
            &cosignature.signature
        ),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------
// Verification semantics.
// ---------------------------------------------------------------------------------------

fn two_signature_note() -> (SignedNote, VerifierKey, VerifierKey) {
    let text = "Two signers.\n";
    let alice = SigningKey::from_bytes(&[1; 32]);
    let bob = SigningKey::from_bytes(&[2; 32]);
    let note = SignedNote {
        text: text.to_owned(),
        signatures: vec![
            sign_note(text, "alice.example", &alice).unwrap(),
            sign_note(text, "bob.example", &bob).unwrap(),
        ],
    };
    let alice_key =
        VerifierKey::from_signing_key("alice.example", &alice, KeyKind::Ed25519).unwrap();
    let bob_key = VerifierKey::from_signing_key("bob.example", &bob, KeyKind::Ed25519).unwrap();
    (note, alice_key, bob_key)
}

#[test]
fn unknown_signatures_are_kept_and_ignored() {
    let (note, alice, bob) = two_signature_note();
    let text = note.to_string();
    let parsed = SignedNote::parse(&text).unwrap();
    assert_eq!(parsed.verify(std::slice::from_ref(&alice)), Ok(vec![0]));
    assert_eq!(parsed.verify(std::slice::from_ref(&bob)), Ok(vec![1]));
    assert_eq!(parsed.verify(&[alice, bob]), Ok(vec![0, 1]));
    assert_eq!(parsed.to_string(), text);
    assert_eq!(
        parsed.verify(&[]),
        Err(NoteError::NoKnownSignature { signatures: 2 })
    );
}

#[test]
fn an_invalid_signature_by_a_known_key_rejects_the_note() {
    let (mut note, alice, bob) = two_signature_note();
    // Byte 40 is in S: the signature stays well formed but no longer verifies.
    note.signatures[1].signature[40] ^= 1;
    assert_eq!(note.verify(std::slice::from_ref(&alice)), Ok(vec![0]));
    let error = note.verify(&[alice, bob]).unwrap_err();
    assert_eq!(
        error,
        NoteError::VerificationFailed {
            index: 1,
            name: "bob.example".to_owned(),
            source: SignatureError::EquationFailed,
        }
    );
    assert!(!error.is_malformed());
}

#[test]
fn a_known_key_with_the_wrong_signature_length_is_malformed() {
    let (mut note, alice, _) = two_signature_note();
    note.signatures[0].signature.pop();
    let error = note.verify(&[alice]).unwrap_err();
    assert!(matches!(
        error,
        NoteError::MalformedSignature { index: 0, .. }
    ));
    assert!(error.is_malformed());
}

#[test]
fn a_signature_with_the_right_name_but_another_key_id_is_unknown() {
    let (mut note, alice, _) = two_signature_note();
    note.signatures[0].key_id[0] ^= 1;
    note.signatures.truncate(1);
    assert_eq!(
        note.verify(&[alice]),
        Err(NoteError::NoKnownSignature { signatures: 1 })
    );
}

#[test]
fn identical_verifier_keys_listed_twice_are_not_ambiguous() {
    // Two different keys with the same name and key ID need a 32-bit collision; that case
    // is a unit test in `note.rs`. Listing the same key twice is harmless.
    let (note, alice, _) = two_signature_note();
    assert_eq!(note.verify(&[alice.clone(), alice]), Ok(vec![0]));
}

#[test]
fn checkpoint_verify_requires_the_origin_as_key_name_and_an_ed25519_key() {
    let signed = SignedCheckpoint::sign(frozen_checkpoint(), &log_key()).unwrap();
    let renamed = VerifierKey::from_signing_key("other.log", &log_key(), KeyKind::Ed25519).unwrap();
    assert!(matches!(
        signed.verify(&renamed),
        Err(NoteError::OriginMismatch { .. })
    ));
    let as_cosigner =
        VerifierKey::from_signing_key(LOG_ORIGIN, &log_key(), KeyKind::CosignatureV1).unwrap();
    assert!(matches!(
        signed.verify(&as_cosigner),
        Err(NoteError::WrongKeyKind { .. })
    ));
    let other_key =
        VerifierKey::from_signing_key(LOG_ORIGIN, &witness_key(), KeyKind::Ed25519).unwrap();
    assert_eq!(
        signed.verify(&other_key),
        Err(NoteError::NoKnownSignature { signatures: 1 })
    );
}

#[test]
fn cosignature_checks() {
    let checkpoint = frozen_checkpoint();
    let cosignature = Cosignature::sign(&checkpoint, WITNESS_NAME, &witness_key(), 5).unwrap();
    assert_eq!(cosignature.verify(&checkpoint, &witness_vkey()), Ok(()));

    let mut later = cosignature.clone();
    later.timestamp = 6;
    assert!(matches!(
        later.verify(&checkpoint, &witness_vkey()),
        Err(NoteError::VerificationFailed { .. })
    ));

    let mut bigger = checkpoint.clone();
    bigger.size += 1;
    assert!(matches!(
        cosignature.verify(&bigger, &witness_vkey()),
        Err(NoteError::VerificationFailed { .. })
    ));

    assert!(matches!(
        cosignature.verify(&checkpoint, &log_vkey()),
        Err(NoteError::WrongKeyKind { .. })
    ));
    let other =
        VerifierKey::from_signing_key("someone.else", &witness_key(), KeyKind::CosignatureV1)
            .unwrap();
    assert!(matches!(
        cosignature.verify(&checkpoint, &other),
        Err(NoteError::KeyMismatch { .. })
    ));

    assert_eq!(
        Cosignature::sign(&checkpoint, WITNESS_NAME, &witness_key(), 1 << 63),
        Err(NoteError::TimestampOutOfRange { timestamp: 1 << 63 })
    );
    assert!(Cosignature::sign(&checkpoint, WITNESS_NAME, &witness_key(), (1 << 63) - 1).is_ok());

    // A line carrying timestamp 2^63 is refused when read.
    let mut note_signature = cosignature.to_note_signature();
    note_signature.signature[0] = 0x80;
    assert_eq!(
        Cosignature::parse_line(&note_signature.to_line()),
        Err(NoteError::TimestampOutOfRange {
            timestamp: (1 << 63) | 5
        })
    );
    // And a plain 64-byte signature is not a cosignature.
    let plain = sign_note(&checkpoint.body(), WITNESS_NAME, &witness_key()).unwrap();
    assert!(matches!(
        Cosignature::parse_line(&plain.to_line()),
        Err(NoteError::MalformedSignature { .. })
    ));
}

#[test]
fn an_invalid_cosignature_in_a_checkpoint_is_an_error() {
    let mut signed = SignedCheckpoint::sign(frozen_checkpoint(), &log_key()).unwrap();
    assert_eq!(signed.find_cosignature(&witness_vkey()), Ok(None));
    let mut cosignature =
        Cosignature::sign(&signed.checkpoint, WITNESS_NAME, &witness_key(), 7).unwrap();
    cosignature.signature[3] ^= 4;
    signed.add_cosignature(&cosignature);
    assert!(matches!(
        signed.find_cosignature(&witness_vkey()),
        Err(NoteError::VerificationFailed { .. })
    ));
    // The log signature is still fine on its own.
    assert_eq!(signed.verify(&log_vkey()), Ok(()));
}

// ---------------------------------------------------------------------------------------
// Parse rejections.
// ---------------------------------------------------------------------------------------

fn assert_malformed(result: Result<impl std::fmt::Debug, NoteError>, what: &str) {
    match result {
        Err(error) => assert!(error.is_malformed(), "{what}: {error} is not 'malformed'"),
        Ok(value) => panic!("{what}: accepted {value:?}"),
    }
}

fn frozen_text() -> String {
    SignedCheckpoint::sign(frozen_checkpoint(), &log_key())
        .unwrap()
        .to_text()
}

#[test]
fn the_frozen_text_itself_parses() {
    // The control for every rejection below.
    assert!(SignedCheckpoint::parse(&frozen_text()).is_ok());
}

#[test]
fn missing_blank_line_is_rejected() {
    let text = frozen_text().replacen("\n\n", "\n", 1);
    assert_malformed(SignedNote::parse(&text), "no blank line");
}

#[test]
fn missing_final_newline_is_rejected() {
    let text = frozen_text();
    let text = text.strip_suffix('\n').unwrap();
    let error = SignedNote::parse(text).unwrap_err();
    assert!(
        matches!(error, NoteError::Malformed { line: 5, .. }),
        "{error}"
    );
}

#[test]
fn no_signature_lines_is_rejected() {
    assert_malformed(SignedNote::parse("text\n\n"), "no signatures");
    assert_malformed(SignedNote::parse("text\n"), "no blank line");
    assert_malformed(SignedNote::parse(""), "empty");
}

#[test]
fn bad_signature_lines_are_rejected() {
    let text = frozen_text();
    let (body, line) = text.split_once("\n\n").unwrap();
    let (_, encoded) = line.trim_end().rsplit_once(' ').unwrap();
    let cases = [
        ("not base64", format!("— {LOG_ORIGIN} !!!!\n")),
        (
            "missing padding",
            format!("— {LOG_ORIGIN} {}\n", encoded.trim_end_matches('=')),
        ),
        ("hyphen, not em dash", format!("- {LOG_ORIGIN} {encoded}\n")),
        ("two spaces", format!("— {LOG_ORIGIN}  {encoded}\n")),
        ("no signature", format!("— {LOG_ORIGIN}\n")),
        ("empty name", format!("—  {encoded}\n")),
        ("name with plus", format!("— a+b {encoded}\n")),
        ("trailing space", format!("— {LOG_ORIGIN} {encoded} \n")),
        (
            "key ID only",
            format!("— {LOG_ORIGIN} {}\n", BASE64.encode([1, 2, 3, 4])),
        ),
        (
            "three bytes",
            format!("— {LOG_ORIGIN} {}\n", BASE64.encode([1, 2, 3])),
        ),
    ];
    for (what, line) in cases {
        assert_malformed(SignedNote::parse(&format!("{body}\n\n{line}")), what);
    }
}

#[test]
fn non_canonical_base64_is_rejected() {
    // "aQM=" ends in bits that canonical base64 requires to be zero; "aQN=" sets one.
    let bytes = BASE64.decode("AAAAAAAAaQM=").unwrap();
    assert_eq!(BASE64.encode(&bytes), "AAAAAAAAaQM=");
    assert_malformed(
        SignedNote::parse("t\n\n— n AAAAAAAAaQN=\n"),
        "non-zero trailing bits",
    );
    assert!(SignedNote::parse("t\n\n— n AAAAAAAAaQM=\n").is_ok());
}

#[test]
fn too_many_signatures_are_rejected() {
    let text = "Many signers.\n";
    let key = SigningKey::from_bytes(&[9; 32]);
    let line = sign_note(text, "signer", &key).unwrap().to_line();
    let at_limit = format!("{text}\n{}", line.repeat(MAX_SIGNATURES));
    assert_eq!(
        SignedNote::parse(&at_limit).unwrap().signatures.len(),
        MAX_SIGNATURES
    );
    let over = format!("{text}\n{}", line.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        SignedNote::parse(&over),
        Err(NoteError::TooManySignatures { count: 101 })
    );
}

#[test]
fn non_utf8_is_rejected_at_the_byte_boundary() {
    let mut bytes = frozen_text().into_bytes();
    bytes[3] = 0xff;
    assert_eq!(
        SignedNote::parse_bytes(&bytes),
        Err(NoteError::NotUtf8 { valid_up_to: 3 })
    );
    assert_eq!(
        SignedCheckpoint::parse_bytes(&bytes),
        Err(NoteError::NotUtf8 { valid_up_to: 3 })
    );
    assert!(SignedCheckpoint::parse_bytes(frozen_text().as_bytes()).is_ok());
}

#[test]
fn control_characters_are_rejected() {
    let text = frozen_text();
    for control in ['\0', '\t', '\r', '\u{1b}', '\u{1f}'] {
        let changed = text.replacen("yibao", &format!("yi{control}bao"), 1);
        let error = SignedNote::parse(&changed).unwrap_err();
        assert!(
            matches!(error, NoteError::Malformed { line: 1, .. }),
            "{error}"
        );
        assert!(sign_note(&format!("a{control}b\n"), "n", &log_key()).is_err());
    }
    // DEL and non-ASCII text are allowed by the spec.
    let key = log_key();
    let fine = SignedNote::sign("医保基金 \u{7f} ok\n", "n", &key).unwrap();
    assert!(SignedNote::parse(&fine.to_string()).is_ok());
}

#[test]
fn note_text_without_final_newline_cannot_be_signed() {
    assert_malformed(sign_note("no newline", "n", &log_key()), "sign");
    assert!(matches!(
        sign_note("text\n", "bad name", &log_key()),
        Err(NoteError::InvalidKeyName { .. })
    ));
}

fn body_with(size: &str, root: &str) -> String {
    format!("{LOG_ORIGIN}\n{size}\n{root}\n")
}

#[test]
fn checkpoint_body_rejections() {
    let root = BASE64.encode([7u8; 32]);
    assert!(Checkpoint::parse_body(&body_with("12", &root)).is_ok());
    // 0xfb bytes encode as "+/v7…", which URL-safe base64 writes as "-_v7…".
    let plus_slash_root = BASE64.encode([0xfbu8; 32]);
    assert!(plus_slash_root.contains('+') && plus_slash_root.contains('/'));
    assert!(Checkpoint::parse_body(&body_with("1", &plus_slash_root)).is_ok());
    let url_safe_root = plus_slash_root.replace('+', "-").replace('/', "_");
    assert!(Checkpoint::parse_body(&body_with("0", &root)).is_ok());
    let cases = [
        ("leading zero", body_with("012", &root), 2),
        ("plus sign", body_with("+12", &root), 2),
        ("negative", body_with("-1", &root), 2),
        ("empty size", body_with("", &root), 2),
        ("overflow", body_with("18446744073709551616", &root), 2),
        ("33-byte root", body_with("1", &BASE64.encode([7u8; 33])), 3),
        ("31-byte root", body_with("1", &BASE64.encode([7u8; 31])), 3),
        ("bad root base64", body_with("1", "not base64!"), 3),
        ("url-safe base64", body_with("1", &url_safe_root), 3),
        ("missing root", format!("{LOG_ORIGIN}\n1\n"), 3),
        ("empty origin", format!("\n1\n{root}\n"), 1),
        ("empty extension", format!("{}\n", body_with("1", &root)), 4),
        (
            "no final newline",
            body_with("1", &root).trim_end().to_owned(),
            3,
        ),
    ];
    for (what, body, line) in cases {
        match Checkpoint::parse_body(&body) {
            Err(NoteError::Malformed { line: found, .. }) => {
                assert_eq!(found, line, "{what}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn checkpoint_extensions_round_trip() {
    let mut checkpoint = frozen_checkpoint();
    checkpoint.extensions = vec!["ext one".to_owned(), "— ext+two".to_owned()];
    let signed = SignedCheckpoint::sign(checkpoint.clone(), &log_key()).unwrap();
    let parsed = SignedCheckpoint::parse(&signed.to_text()).unwrap();
    assert_eq!(parsed.checkpoint, checkpoint);
    assert_eq!(parsed.verify(&log_vkey()), Ok(()));
}

#[test]
fn invalid_checkpoints_cannot_be_signed() {
    let mut newline_in_origin = frozen_checkpoint();
    newline_in_origin.origin.push_str("\nx");
    assert_malformed(
        SignedCheckpoint::sign(newline_in_origin, &log_key()),
        "newline in origin",
    );
    let mut empty_extension = frozen_checkpoint();
    empty_extension.extensions.push(String::new());
    assert_malformed(
        Cosignature::sign(&empty_extension, WITNESS_NAME, &witness_key(), 1),
        "empty extension",
    );
    let mut space_in_origin = frozen_checkpoint();
    space_in_origin.origin = "a b".to_owned();
    assert!(matches!(
        SignedCheckpoint::sign(space_in_origin, &log_key()),
        Err(NoteError::InvalidKeyName { .. })
    ));
}

#[test]
fn verifier_key_rejections() {
    let good = log_vkey().to_string();
    let (name, rest) = good.split_once('+').unwrap();
    let (id, material) = rest.split_once('+').unwrap();
    let key_bytes = BASE64.decode(material).unwrap();

    assert_eq!(VerifierKey::parse(&good).unwrap().to_string(), good);
    let upper = format!("{name}+{}+{material}", id.to_uppercase());
    assert_malformed(VerifierKey::parse(&upper), "uppercase hex");
    assert_malformed(
        VerifierKey::parse(&format!("{name}+{}+{material}", &id[..7])),
        "7 digits",
    );
    assert_malformed(
        VerifierKey::parse(&format!("{name}+{material}")),
        "two parts",
    );
    assert_malformed(VerifierKey::parse(&format!("{name}+{id}+")), "no key");
    assert_malformed(
        VerifierKey::parse(&format!("+{id}+{material}")),
        "empty name",
    );
    assert_malformed(VerifierKey::parse(&format!("a b+{id}+{material}")), "space");

    let wrong_id = format!("{name}+00000000+{material}");
    assert!(matches!(
        VerifierKey::parse(&wrong_id),
        Err(NoteError::KeyIdMismatch { .. })
    ));

    let mut ecdsa = key_bytes.clone();
    ecdsa[0] = 0x02;
    assert_eq!(
        VerifierKey::parse(&format!("{name}+{id}+{}", BASE64.encode(&ecdsa))),
        Err(NoteError::UnsupportedKeyType {
            name: name.to_owned(),
            type_byte: 0x02
        })
    );
    let short = &key_bytes[..32];
    assert_malformed(
        VerifierKey::parse(&format!("{name}+{id}+{}", BASE64.encode(short))),
        "31-byte key",
    );

    // A small-order key (the identity) is refused by the signature rule.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let identity_id = hex::encode(key_id(name, KeyKind::Ed25519, &identity));
    let material = BASE64.encode([&[0x01][..], &identity[..]].concat());
    assert_eq!(
        VerifierKey::parse(&format!("{name}+{identity_id}+{material}")),
        Err(NoteError::InvalidPublicKey {
            name: name.to_owned(),
            source: SignatureError::SmallOrderKey
        })
    );
}

#[test]
fn error_messages_say_what_is_wrong() {
    let root = BASE64.encode([7u8; 33]);
    let error = Checkpoint::parse_body(&body_with("1", &root)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed note, line 3: the root hash is 33 bytes, expected 32"
    );
    let error = Checkpoint::parse_body(&body_with("01", &root)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed note, line 2: the tree size has a leading zero"
    );
}

#[test]
fn note_signature_line_round_trip() {
    let signature = NoteSignature {
        name: "x.example/y".to_owned(),
        key_id: [1, 2, 3, 4],
        signature: vec![5; 70],
    };
    let line = signature.to_line();
    assert!(line.starts_with("\u{2014} x.example/y "));
    assert!(line.ends_with('\n'));
    assert_eq!(NoteSignature::parse_line(&line), Ok(signature));
}

// ---------------------------------------------------------------------------------------
// Property: sign, print, parse, verify.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_parse_verify_round_trip(
        origin in "[a-z0-9][a-z0-9./_-]{0,60}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in proptest::collection::vec("[a-zA-Z0-9 +/=_.\u{4e00}-\u{4e10}-]{1,20}", 0..3),
        seed in any::<[u8; 32]>(),
        witness_seed in any::<[u8; 32]>(),
        timestamp in 0..=i64::MAX as u64,
        flip in any::<prop::sample::Index>(),
    ) {
        let checkpoint = Checkpoint { origin: origin.clone(), size, root, extensions };
        let log_key = SigningKey::from_bytes(&seed);
        let witness_key = SigningKey::from_bytes(&witness_seed);
        let log_vkey = VerifierKey::from_signing_key(&origin, &log_key, KeyKind::Ed25519).unwrap();
        let witness_vkey =
            VerifierKey::from_signing_key("w.example", &witness_key, KeyKind::CosignatureV1).unwrap();
        prop_assert_eq!(VerifierKey::parse(&log_vkey.to_string()).unwrap(), log_vkey.clone());

        let mut signed = SignedCheckpoint::sign(checkpoint.clone(), &log_key).unwrap();
        let cosignature =
            Cosignature::sign(&checkpoint, "w.example", &witness_key, timestamp).unwrap();
        signed.add_cosignature(&cosignature);
        let text = signed.to_text();

        let parsed = SignedCheckpoint::parse(&text).unwrap();
        prop_assert_eq!(&parsed.checkpoint, &checkpoint);
        prop_assert_eq!(parsed.to_text(), text.clone());
        prop_assert_eq!(parsed.verify(&log_vkey), Ok(()));
        prop_assert_eq!(parsed.find_cosignature(&witness_vkey), Ok(Some(cosignature)));

        // Any single bit flip breaks parsing or verification by one of the two keys.
        let mut bytes = text.into_bytes();
        let position = flip.index(bytes.len());
        bytes[position] ^= 0x01;
        let outcome = SignedCheckpoint::parse_bytes(&bytes).and_then(|changed| {
            changed.verify(&log_vkey)?;
            changed.find_cosignature(&witness_vkey)?.ok_or(NoteError::NoKnownSignature { signatures: 0 })?;
            Ok(())
        });
        prop_assert!(outcome.is_err(), "flip at {} still verifies", position);
    }
}
