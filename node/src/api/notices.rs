//! The exposure-notice list behind `GET /v1/notices`, kept between requests: reading,
//! decoding and sorting every notice on each request made one page cost seconds on a
//! large ledger. Each log's notices are known up to its index watermark
//! (`Ledger::indexed_size`, written in the same batch as the index rows); a request first
//! reads only the notices indexed since, then answers from the sorted list. Frozen flags
//! are read per answer (a log can be frozen at any time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use yibao_ledger::entry_json::notice_order;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{Ledger, StoreError};

use super::entry_json;

/// One notice as the API shows it (without its log's frozen flag).
struct Notice {
    /// The notice's publication day (`YYYY-MM-DD`, so that text order is date order).
    published_on: String,
    timestamp_ms: u64,
    log: LogCode,
    seq: u64,
    json: Arc<Value>,
}

impl Notice {
    fn order(&self) -> (std::cmp::Reverse<&str>, std::cmp::Reverse<u64>, &str, u64) {
        notice_order(
            &self.published_on,
            self.timestamp_ms,
            self.log.as_str(),
            self.seq,
        )
    }
}

#[derive(Default)]
struct Known {
    /// Per log, the index watermark up to which its notices are in `sorted`.
    indexed: HashMap<LogCode, u64>,
    /// Every known notice, latest publication day first, then latest entry, then by log
    /// and seq.
    sorted: Vec<Notice>,
}

/// Locks a cache kept between requests and brings it up to date with `refresh`; if that
/// fails, the cache starts again from nothing next time rather than keep a half-read
/// state.
pub(super) fn refreshed<'c, K: Default>(
    cache: &'c Mutex<K>,
    ledger: &Ledger,
    refresh: impl FnOnce(&mut K, &Ledger) -> Result<(), StoreError>,
) -> Result<std::sync::MutexGuard<'c, K>, StoreError> {
    let mut known = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(e) = refresh(&mut known, ledger) {
        *known = K::default();
        return Err(e);
    }
    Ok(known)
}

/// The notices of every log, kept sorted newest first: by publication day (发布日期, what
/// the public reads), then by when the entry was signed.
#[derive(Default)]
pub struct NoticeCache {
    known: Mutex<Known>,
}

impl NoticeCache {
    /// How many notices there are, and those at positions `[start, end)` of the newest-first
    /// list, each with its log's frozen flag.
    pub fn page(
        &self,
        ledger: &Ledger,
        start: usize,
        end: usize,
    ) -> Result<(u64, Vec<Value>), StoreError> {
        let known = refreshed(&self.known, ledger, refresh)?;
        let total = known.sorted.len() as u64;
        let mut out = Vec::new();
        for notice in known
            .sorted
            .get(start..end.min(known.sorted.len()))
            .unwrap_or_default()
        {
            let mut v = (*notice.json).clone();
            if let Some(map) = v.as_object_mut() {
                map.insert("frozen".into(), json!(ledger.is_frozen(&notice.log)?));
            }
            out.push(v);
        }
        Ok((total, out))
    }

    /// How many notices each log has (logs without any are absent).
    pub fn counts(&self, ledger: &Ledger) -> Result<HashMap<LogCode, u64>, StoreError> {
        let known = refreshed(&self.known, ledger, refresh)?;
        let mut out: HashMap<LogCode, u64> = HashMap::new();
        for notice in &known.sorted {
            *out.entry(notice.log).or_default() += 1;
        }
        Ok(out)
    }
}

/// Reads what was indexed since the last request.
fn refresh(known: &mut Known, ledger: &Ledger) -> Result<(), StoreError> {
    let codes = ledger.log_codes();
    let mut changed = false;
    if known.indexed.keys().any(|code| !codes.contains(code)) {
        known.indexed.retain(|code, _| codes.contains(code));
        known.sorted.retain(|n| codes.contains(&n.log));
        changed = true;
    }
    for code in codes {
        let indexed = ledger.indexed_size(&code)?;
        let mut from = known.indexed.get(&code).copied().unwrap_or(0);
        if indexed < from {
            // The index was rebuilt: read this log's notices again.
            known.sorted.retain(|n| n.log != code);
            from = 0;
            changed = true;
        }
        for seq in ledger.exposure_notices_in(&code, from, indexed)? {
            let bytes = ledger.entry(&code, seq)?;
            let mut v = entry_json(seq, &bytes);
            if let Some(map) = v.as_object_mut() {
                map.insert("log".into(), json!(code.to_string()));
            }
            known.sorted.push(Notice {
                published_on: v["record"]["published_on"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                timestamp_ms: v["timestamp_ms"].as_u64().unwrap_or(0),
                log: code,
                seq,
                json: Arc::new(v),
            });
            changed = true;
        }
        known.indexed.insert(code, indexed);
    }
    if changed {
        // Newest first: by publication day, then entry time; ties by log then seq.
        known.sorted.sort_by(|a, b| a.order().cmp(&b.order()));
    }
    Ok(())
}
