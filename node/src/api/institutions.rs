//! The institutions of every log the node holds, behind `GET /v1/institutions?q=…` (the
//! public viewer's search by name): each institution's code, its name as last registered or
//! renamed, and where it is registered. Kept between requests: each log is read once up to
//! the size served, and a request reads only the entries added since.
//!
//! A registration withdrawn by a correction stays listed (the institution page shows the
//! correction); search finds names, it decides nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{json, Value};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{Ledger, StoreError};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

/// Entries read from storage at a time while catching up.
const READ_CHUNK: u64 = 1_000;

struct Found {
    name: String,
    division: String,
    log: LogCode,
    seq: u64,
}

#[derive(Default)]
struct Known {
    /// Per log, how many of its entries have been read.
    read: HashMap<LogCode, u64>,
    /// By institution code.
    by_code: BTreeMap<String, Found>,
}

/// The institutions every log registers, by code.
#[derive(Default)]
pub struct InstitutionDirectory {
    known: Mutex<Known>,
}

impl InstitutionDirectory {
    /// The institutions whose name contains `q` or whose code starts with `q` (ASCII letters
    /// compared without case), by code: how many there are, and the first `limit`.
    pub fn search(
        &self,
        ledger: &Ledger,
        q: &str,
        limit: usize,
    ) -> Result<(usize, Vec<Value>), StoreError> {
        let known = super::notices::refreshed(&self.known, ledger, refresh)?;
        let upper = q.to_ascii_uppercase();
        let hits: Vec<(&String, &Found)> = known
            .by_code
            .iter()
            .filter(|(code, found)| code.starts_with(&upper) || found.name.contains(q))
            .collect();
        let out = hits
            .iter()
            .take(limit)
            .map(|(code, found)| {
                json!({
                    "code": code,
                    "name": found.name,
                    "division": found.division,
                    "log": found.log.to_string(),
                    "seq": found.seq,
                })
            })
            .collect();
        Ok((hits.len(), out))
    }
}

/// Reads what each log has added since the last request.
fn refresh(known: &mut Known, ledger: &Ledger) -> Result<(), StoreError> {
    for code in ledger.log_codes() {
        let size = ledger.size(&code)?;
        let mut from = known.read.get(&code).copied().unwrap_or(0);
        while from < size {
            let chunk = ledger.entries(&code, from, READ_CHUNK.min(size - from))?;
            let Some(&(last, _)) = chunk.last() else {
                break;
            };
            for (seq, bytes) in &chunk {
                take(known, code, *seq, bytes);
            }
            from = last + 1;
        }
        known.read.insert(code, from);
    }
    Ok(())
}

/// Takes a registration or a change of name; other entries, and entries that do not
/// decode (verification reports those), are passed over.
fn take(known: &mut Known, log: LogCode, seq: u64, bytes: &[u8]) {
    let Ok(entry) = EntryRef::decode(bytes) else {
        return;
    };
    let kind = match RecordKind::parse(entry.submission.statement.kind) {
        Some(kind @ (RecordKind::InstitutionRegistered | RecordKind::InstitutionUpdated)) => kind,
        _ => return,
    };
    match Record::decode_payload(kind, entry.submission.payload) {
        Ok(Record::InstitutionRegistered(r)) => {
            known.by_code.insert(
                r.code.as_str().to_string(),
                Found {
                    name: r.name,
                    division: r.division.to_string(),
                    log,
                    seq,
                },
            );
        }
        Ok(Record::InstitutionUpdated(u)) => {
            if let (Some(name), Some(found)) =
                (u.changes.name, known.by_code.get_mut(u.code.as_str()))
            {
                found.name = name;
            }
        }
        _ => {}
    }
}
