//! How the CLI shows things to people: times in Asia/Shanghai, money in yuan, entries as
//! JSON. Storage is always UTC milliseconds and integer fen; this is the only place that
//! converts, and only for display.

use serde_json::{json, Value};
use time::{macros::offset, OffsetDateTime, UtcOffset};
use yibao_ledger::merkle::{Blake3Hasher, MerkleHasher};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

/// China Standard Time. Asia/Shanghai has had no daylight saving since 1991, so a fixed
/// +08:00 offset is exact for every date this ledger records.
pub const SHANGHAI: UtcOffset = offset!(+8);

/// `2021-06-30 14:05:09 +08:00` for a UTC millisecond timestamp.
pub fn shanghai_time(timestamp_ms: u64) -> String {
    let nanos = i128::from(timestamp_ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let t = t.to_offset(SHANGHAI);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +08:00",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => format!("{timestamp_ms} ms"),
    }
}

/// `335,529.00` for 33,552,900 fen.
pub fn yuan(fen: u64) -> String {
    let whole = fen / 100;
    let cents = fen % 100;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{cents:02}")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_two_decimals_and_groups() {
        assert_eq!(yuan(33_552_900), "335,529.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(100_000), "1,000.00");
    }

    #[test]
    fn shanghai_is_utc_plus_eight() {
        // 2021-06-30T16:00:00Z is midnight on 1 July in Shanghai.
        assert_eq!(
            shanghai_time(1_625_068_800_000),
            "2021-07-01 00:00:00 +08:00"
        );
    }
}
