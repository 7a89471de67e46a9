//! The institutions of every log the node holds, behind `GET /v1/institutions?q=…` (the
//! public viewer's search by name): each institution's code, its name as last registered or
//! renamed, and where it is registered. Kept between requests: each log is read once up to
//! the size served, and a request reads only the entries added since. The router reads
//! every log in the background when it starts ([`InstitutionDirectory::warm`]), so that the
//! first search after a start does not read the whole ledger while the public waits.
//!
//! A registration withdrawn by a correction stays listed (the institution page shows the
//! correction); search finds names, it decides nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, Weak};

use serde_json::{json, Value};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{Ledger, StoreError};
use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

/// Entries read from storage at a time while catching up; warming takes the lock for one
/// such chunk at a time.
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

    /// Reads every log into the directory, a chunk of [`READ_CHUNK`] entries at a time,
    /// holding the lock (and the ledger) only while it reads a chunk: a search arriving
    /// meanwhile waits for that chunk, then reads what is left itself. Stops when every log
    /// is read up to its size, or once the ledger has been dropped elsewhere (the router
    /// that owned it is gone). Run on a thread of its own: this is the whole ledger.
    pub fn warm(&self, ledger: &Weak<Ledger>) -> Result<(), StoreError> {
        loop {
            let Some(ledger) = ledger.upgrade() else {
                return Ok(());
            };
            let mut known = self
                .known
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match read_some(&mut known, &ledger, READ_CHUNK) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    // As after a failed refresh: start again from nothing next time.
                    *known = Known::default();
                    return Err(e);
                }
            }
        }
    }

    /// How many entries of each log have been read.
    #[cfg(test)]
    fn read(&self) -> HashMap<LogCode, u64> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .read
            .clone()
    }
}

/// Reads what each log has added since the last request.
fn refresh(known: &mut Known, ledger: &Ledger) -> Result<(), StoreError> {
    read_some(known, ledger, u64::MAX).map(|_| ())
}

/// Reads at most `budget` entries more, log after log; whether every log is now read up to
/// its size.
fn read_some(known: &mut Known, ledger: &Ledger, budget: u64) -> Result<bool, StoreError> {
    let mut left = budget;
    for code in ledger.log_codes() {
        let size = ledger.size(&code)?;
        let mut from = known.read.get(&code).copied().unwrap_or(0);
        while from < size {
            if left == 0 {
                known.read.insert(code, from);
                return Ok(false);
            }
            let chunk = ledger.entries(&code, from, READ_CHUNK.min(size - from).min(left))?;
            let Some(&(last, _)) = chunk.last() else {
                break;
            };
            for (seq, bytes) in &chunk {
                take(known, code, *seq, bytes);
            }
            left = left.saturating_sub(chunk.len() as u64);
            from = last + 1;
        }
        known.read.insert(code, from);
    }
    Ok(true)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use yibao_schema::policy::Policy;

    use super::*;
    use crate::api::notices::NoticeCache;
    use crate::workload::{self, Officers, Signer};

    const NOW: u64 = 1_750_000_000_000;

    /// Two logs, each registering `count` institutions (more than a chunk in all).
    fn ledger(count: u64) -> (tempfile::TempDir, Arc<Ledger>) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
        for division in ["141125", "141124"] {
            let code = LogCode::parse(division).unwrap();
            let officers = Officers::from_seed(u64::from(division.parse::<u32>().unwrap()));
            ledger
                .create_log(code, division, officers.bureau.clone(), NOW - 1000)
                .unwrap();
            let mut records = officers.key_events().unwrap();
            for inst in workload::institutions(division, count) {
                records.push((Signer::Administrator, workload::register(&inst).unwrap()));
            }
            let subs = workload::sign(&officers, &code.origin(), NOW, &records).unwrap();
            workload::append_all(&ledger, &code, subs, NOW).unwrap();
        }
        (dir, ledger)
    }

    fn sizes(ledger: &Ledger) -> HashMap<LogCode, u64> {
        ledger
            .log_codes()
            .into_iter()
            .map(|code| (code, ledger.size(&code).unwrap()))
            .collect()
    }

    #[test]
    fn warming_reads_every_log_before_any_search() {
        let (_dir, ledger) = ledger(600);
        assert!(sizes(&ledger).values().sum::<u64>() > READ_CHUNK);
        let directory = InstitutionDirectory::default();
        assert!(directory.read().is_empty());
        directory.warm(&Arc::downgrade(&ledger)).unwrap();
        assert_eq!(directory.read(), sizes(&ledger));
        let expected = workload::institutions("141124", 600)
            .iter()
            .filter(|i| i.code.starts_with("H141124"))
            .count();
        let (total, found) = directory.search(&ledger, "h141124", 50).unwrap();
        assert_eq!((total, found.len()), (expected, 50));
    }

    #[test]
    fn a_search_during_warming_reads_the_rest_and_answers_in_full() {
        let (_dir, ledger) = ledger(300);
        let directory = InstitutionDirectory::default();
        {
            let mut known = directory.known.lock().unwrap();
            assert!(!read_some(&mut known, &ledger, 100).unwrap());
        }
        let read: u64 = directory.read().values().sum();
        assert_eq!(read, 100);
        let (total, _) = directory.search(&ledger, "14112", 50).unwrap();
        assert_eq!(total, 0, "codes start with H or P");
        let (total, _) = directory.search(&ledger, "P14112", 50).unwrap();
        let pharmacies = ["141125", "141124"]
            .iter()
            .flat_map(|d| workload::institutions(d, 300))
            .filter(|i| i.code.starts_with('P'))
            .count();
        assert_eq!(total, pharmacies);
        assert_eq!(directory.read(), sizes(&ledger));
        // Warming after that has nothing left to read.
        directory.warm(&Arc::downgrade(&ledger)).unwrap();
        assert_eq!(directory.read(), sizes(&ledger));
    }

    #[test]
    fn warming_stops_once_the_ledger_is_gone() {
        let (_dir, ledger) = ledger(10);
        let weak = Arc::downgrade(&ledger);
        drop(ledger);
        let directory = InstitutionDirectory::default();
        directory.warm(&weak).unwrap();
        assert!(directory.read().is_empty());
    }

    /// The router's thread fills the directory with no request made, and searches still see
    /// what is appended afterwards.
    #[test]
    fn the_router_warms_the_directory_in_the_background() {
        let (_dir, ledger) = ledger(600);
        let notices = Arc::new(NoticeCache::default());
        let directory = Arc::new(InstitutionDirectory::default());
        crate::api::warm_in_background(&ledger, &notices, &directory);
        let started = Instant::now();
        while directory.read() != sizes(&ledger) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the directory was not read in the background: {:?} of {:?}",
                directory.read(),
                sizes(&ledger)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // A later change of name is read by the next search.
        let code = LogCode::parse("141125").unwrap();
        let officers = Officers::from_seed(141125);
        let first = &workload::institutions("141125", 1)[0];
        let rename = workload::parse(serde_json::json!({
            "kind": "institution_updated", "code": first.code,
            "changes": { "name": "柳林县新城社区卫生服务中心" }, "reason": "机构更名",
        }))
        .unwrap();
        let subs = workload::sign(
            &officers,
            &code.origin(),
            NOW + 1000,
            &[(Signer::Administrator, rename)],
        )
        .unwrap();
        workload::append_all(&ledger, &code, subs, NOW + 1000).unwrap();
        let (total, found) = directory.search(&ledger, "新城社区", 50).unwrap();
        assert_eq!(total, 1);
        assert_eq!(found[0]["code"], first.code.as_str());
    }
}
