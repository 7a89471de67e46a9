//! One stored entry as JSON, in the form the node's API (`/v1/logs/{log}/entries`), the
//! published files and the viewer's bundle source all show it: the signed bytes in base64
//! beside the record decoded from them, so that a reader can verify what it reads.

use std::cmp::Reverse;

use base64::Engine;
use serde_json::{json, Value};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

use crate::merkle::{Blake3Hasher, MerkleHasher};

/// Entry `seq` with signed bytes `bytes`. Key events carry officers' certificate numbers,
/// which are not public: unless `show_key_events`, only their hash and kind are shown
/// (the hash still proves inclusion).
pub fn entry_json(seq: u64, bytes: &[u8], show_key_events: bool) -> Value {
    let leaf = hex::encode(Blake3Hasher::leaf(bytes));
    let Ok(entry) = EntryRef::decode(bytes) else {
        return json!({"seq": seq, "leaf_hash": leaf, "error": "stored entry does not decode"});
    };
    let statement = &entry.submission.statement;
    let Some(kind) = RecordKind::parse(statement.kind) else {
        return json!({"seq": seq, "leaf_hash": leaf, "kind": statement.kind});
    };
    if kind == RecordKind::KeyEvent && !show_key_events {
        return json!({"seq": seq, "leaf_hash": leaf, "kind": statement.kind, "withheld": "key events are not public"});
    }
    let record = Record::decode_payload(kind, entry.submission.payload)
        .ok()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or(Value::Null);
    json!({
        "seq": seq,
        "leaf_hash": leaf,
        "kind": statement.kind,
        "timestamp_ms": statement.timestamp_ms,
        "author": hex::encode(statement.author),
        "entry": base64::engine::general_purpose::STANDARD.encode(bytes),
        "record": record,
    })
}

/// The order exposure notices are listed in everywhere — the node's API, the static
/// publication, a bundle's viewer: newest first by publication day (`published_on`,
/// `YYYY-MM-DD`), then by entry time; ties by log, then seq. Sort by this key.
pub fn notice_order<'a>(
    published_on: &'a str,
    timestamp_ms: u64,
    log: &'a str,
    seq: u64,
) -> (Reverse<&'a str>, Reverse<u64>, &'a str, u64) {
    (Reverse(published_on), Reverse(timestamp_ms), log, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_newest_first_by_day_then_time() {
        let mut notices = [
            ("2024-03-01", 5, "141126", 9),
            ("2024-05-01", 1, "141125", 3),
            ("2024-03-01", 7, "141125", 4),
            ("2024-03-01", 5, "141125", 8),
        ];
        notices.sort_by(|a, b| {
            notice_order(a.0, a.1, a.2, a.3).cmp(&notice_order(b.0, b.1, b.2, b.3))
        });
        let order: Vec<u64> = notices.iter().map(|n| n.3).collect();
        assert_eq!(order, [3, 4, 8, 9]);
    }
}
