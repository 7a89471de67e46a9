//! Frozen known-answer vectors for the entry envelope (SPEC.md §3, §4, §5, §8): the first
//! three entries of the log of 141125, in `vectors/entries.json`. The file was generated
//! once and is never rewritten; this test checks that today's code reproduces every byte
//! of it, that the entries decode and their signatures verify, and that a log state
//! accepts them in order. SPEC.md §12 points implementers in other languages at the file.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde_json::Value;
use yibao_schema::entry::{
    encode_entry, signing_message, EntryRef, Statement, Submission, SubmissionRef, GENESIS_PREV,
};
use yibao_schema::policy::Policy;
use yibao_schema::record::{DivisionCode, InstitutionStatus, Record, RecordKind, Role};
use yibao_schema::rules::Rule;
use yibao_schema::state::{EntryContext, LogState};

const VECTORS: &str = include_str!("vectors/entries.json");
const ORIGIN: &str = "yibao.ledger/v1/blake3/141125";

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string"))
}

/// A hex field, which must be lowercase.
fn bytes(v: &Value, field: &str) -> Vec<u8> {
    let s = text(v, field);
    assert_eq!(s, s.to_ascii_lowercase(), "`{field}` is not lowercase hex");
    hex::decode(s).unwrap()
}

fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0x00]);
    hasher.update(entry);
    *hasher.finalize().as_bytes()
}

fn key_for(author: &str) -> SigningKey {
    match author {
        "bureau" => SigningKey::from_bytes(&[0x42; 32]),
        "officer" => SigningKey::from_bytes(&[0x43; 32]),
        other => panic!("unknown author {other}"),
    }
}

fn entries(v: &Value) -> &Vec<Value> {
    v["entries"].as_array().unwrap()
}

#[test]
fn keys_and_origin_are_the_fixed_ones() {
    let v = vectors();
    assert_eq!(text(&v, "origin"), ORIGIN);
    for (name, seed) in [("bureau", 0x42u8), ("officer", 0x43u8)] {
        let key = &v["keys"][name];
        assert_eq!(bytes(key, "seed"), vec![seed; 32], "{name}");
        assert_eq!(
            bytes(key, "public"),
            key_for(name).verifying_key().to_bytes().to_vec(),
            "{name}"
        );
    }
    assert_eq!(entries(&v).len(), 3);
}

#[test]
fn every_field_is_described() {
    let v = vectors();
    let description = v["description"].as_object().unwrap();
    for top in v
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "description")
    {
        assert!(description.contains_key(top), "`{top}` is not described");
    }
    for entry in entries(&v) {
        for field in entry.as_object().unwrap().keys() {
            assert!(
                description.contains_key(field),
                "`{field}` is not described"
            );
        }
    }
}

#[test]
fn encoding_reproduces_every_byte() {
    let v = vectors();
    let mut prev = GENESIS_PREV;
    for (index, e) in entries(&v).iter().enumerate() {
        let seq = e["seq"].as_u64().unwrap();
        assert_eq!(seq, index as u64);
        let timestamp_ms = e["timestamp_ms"].as_u64().unwrap();
        let key = key_for(text(e, "author"));

        // The record, from its JSON file form, encodes to the frozen payload and back.
        let record = Record::from_json_value(&e["record"]).unwrap();
        assert_eq!(record.kind().as_str(), text(e, "kind"), "seq {seq}");
        let payload = record.encode_payload().unwrap();
        assert_eq!(
            hex::encode(&payload),
            text(e, "payload"),
            "payload of seq {seq}"
        );
        assert_eq!(
            Record::decode_payload(record.kind(), &payload).unwrap(),
            record,
            "seq {seq}"
        );
        assert_eq!(
            blake3::hash(&payload).as_bytes().to_vec(),
            bytes(e, "payload_hash"),
            "seq {seq}"
        );

        // Signing is deterministic (RFC 8032), so the whole envelope is reproducible.
        let submission =
            Submission::sign(&key, ORIGIN, timestamp_ms, text(e, "kind"), payload).unwrap();
        assert_eq!(
            hex::encode(&submission.statement_bytes),
            text(e, "statement"),
            "statement of seq {seq}"
        );
        assert_eq!(
            hex::encode(signing_message(&submission.statement_bytes)),
            text(e, "signing_message"),
            "signing message of seq {seq}"
        );
        assert_eq!(
            hex::encode(submission.signature),
            text(e, "signature"),
            "signature of seq {seq}"
        );
        assert_eq!(
            hex::encode(submission.encode()),
            text(e, "submission"),
            "submission of seq {seq}"
        );

        // The entry chains to the previous leaf hash.
        assert_eq!(bytes(e, "prev"), prev.to_vec(), "prev of seq {seq}");
        let entry = encode_entry(seq, &prev, &submission.view().unwrap());
        assert_eq!(hex::encode(&entry), text(e, "entry"), "entry of seq {seq}");
        let leaf = leaf_hash(&entry);
        assert_eq!(hex::encode(leaf), text(e, "leaf_hash"), "leaf of seq {seq}");
        prev = leaf;
    }
}

#[test]
fn entries_decode_and_signatures_verify() {
    let v = vectors();
    for e in entries(&v) {
        let seq = e["seq"].as_u64().unwrap();
        let entry_bytes = bytes(e, "entry");
        let entry = EntryRef::decode(&entry_bytes).unwrap();
        assert_eq!(entry.seq, seq);
        assert_eq!(entry.prev.to_vec(), bytes(e, "prev"));
        assert_eq!(entry.encode(), entry_bytes);
        let sub = entry.submission;
        assert_eq!(sub.statement_bytes, &bytes(e, "statement")[..]);
        assert_eq!(sub.signature.to_vec(), bytes(e, "signature"));
        assert_eq!(sub.payload, &bytes(e, "payload")[..]);
        assert_eq!(sub.signing_message(), bytes(e, "signing_message"));

        let statement = Statement::decode(sub.statement_bytes).unwrap();
        assert_eq!(statement.origin, ORIGIN);
        assert_eq!(statement.timestamp_ms, e["timestamp_ms"].as_u64().unwrap());
        assert_eq!(
            statement.author,
            key_for(text(e, "author")).verifying_key().to_bytes()
        );
        assert_eq!(statement.kind, text(e, "kind"));
        assert_eq!(statement.payload_hash.to_vec(), bytes(e, "payload_hash"));
        assert_eq!(statement.payload_len, sub.payload.len() as u64);

        // The Yibao rule (§5) and, independently, ed25519-dalek's strict verification.
        sub.verify_signature().unwrap();
        let public = VerifyingKey::from_bytes(&statement.author).unwrap();
        public
            .verify_strict(
                &sub.signing_message(),
                &Signature::from_bytes(&sub.signature),
            )
            .unwrap();

        // One flipped bit of the signature and it no longer verifies.
        let mut tampered = sub;
        tampered.signature[0] ^= 0x01;
        assert!(tampered.verify_signature().is_err(), "seq {seq}");

        // The submission decodes to the same parts.
        let submission_bytes = bytes(e, "submission");
        let submission = SubmissionRef::decode(&submission_bytes).unwrap();
        assert_eq!(submission, sub);
    }
}

fn decoded(e: &Value) -> (EntryContext, Record) {
    let entry_bytes = bytes(e, "entry");
    let entry = EntryRef::decode(&entry_bytes).unwrap();
    let statement = entry.submission.statement;
    let kind = RecordKind::parse(statement.kind).unwrap();
    let record = Record::decode_payload(kind, entry.submission.payload).unwrap();
    let ctx = EntryContext {
        division: DivisionCode::parse("141125").unwrap(),
        seq: entry.seq,
        timestamp_ms: statement.timestamp_ms,
        author: statement.author,
    };
    (ctx, record)
}

#[test]
fn log_state_accepts_the_three_entries_in_order() {
    let v = vectors();
    let mut state = LogState::new(DivisionCode::parse("141125").unwrap(), Policy::default());
    for e in entries(&v) {
        let (ctx, record) = decoded(e);
        state.check_and_apply(&ctx, &record).unwrap();
    }
    assert_eq!(state.next_seq(), 3);
    let bureau = key_for("bureau").verifying_key().to_bytes();
    let officer = key_for("officer").verifying_key().to_bytes();
    assert_eq!(state.bureau_key(), Some(bureau));
    let added = state.officer(&officer).unwrap();
    assert!(added.roles.contains(Role::Administrator));
    assert_eq!(added.added_seq, 1);
    assert_eq!(
        state.institution_status(&"H14112500001".parse().unwrap()),
        Some(InstitutionStatus::Active)
    );
}

#[test]
fn log_state_refuses_the_registration_before_the_officer_is_added() {
    let v = vectors();
    let all = entries(&v);
    let mut state = LogState::new(DivisionCode::parse("141125").unwrap(), Policy::default());
    let (ctx0, genesis) = decoded(&all[0]);
    state.check_and_apply(&ctx0, &genesis).unwrap();
    // Entry 2 presented as seq 1: the officer key is not yet an officer of the log.
    let (mut ctx2, registration) = decoded(&all[2]);
    ctx2.seq = 1;
    let refused = state.check(&ctx2, &registration).unwrap_err();
    assert_eq!(refused.rule, Rule::Authorisation);
}
