//! How the CLI shows things to people: times in Asia/Shanghai, money in yuan, entries as
//! JSON. Storage is always UTC milliseconds and integer fen; the conversions themselves live in
//! `yibao_web_viewer::display`, shared with the viewer, and happen only for display.

use serde_json::{json, Value};
use yibao_ledger::merkle::{Blake3Hasher, MerkleHasher};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

pub use yibao_web_viewer::display::{shanghai_time, yuan, SHANGHAI};

/// An entry as JSON for `yibao show`: header, hashes, and the record in its JSON form.
pub fn entry_json(log: &str, bytes: &[u8]) -> Value {
    let leaf = Blake3Hasher::leaf(bytes);
    match EntryRef::decode(bytes) {
        Err(e) => json!({ "log": log, "error": e.to_string(), "leaf_hash": hex::encode(leaf) }),
        Ok(entry) => {
            let statement = entry.submission.statement;
            let record = RecordKind::parse(statement.kind)
                .ok_or_else(|| format!("unknown kind {}", statement.kind))
                .and_then(|kind| {
                    Record::decode_payload(kind, entry.submission.payload)
                        .map_err(|e| e.to_string())
                })
                .and_then(|record| serde_json::to_value(&record).map_err(|e| e.to_string()));
            let signature = match entry.submission.verify_signature() {
                Ok(()) => "valid".to_string(),
                Err(e) => format!("INVALID: {e}"),
            };
            json!({
                "log": log,
                "seq": entry.seq,
                "origin": statement.origin,
                "timestamp_ms": statement.timestamp_ms,
                "time": shanghai_time(statement.timestamp_ms),
                "author": hex::encode(statement.author),
                "kind": statement.kind,
                "prev": hex::encode(entry.prev),
                "leaf_hash": hex::encode(leaf),
                "payload_hash": hex::encode(statement.payload_hash),
                "signature": signature,
                "record": match record { Ok(v) => v, Err(e) => json!({ "error": e }) },
            })
        }
    }
}
