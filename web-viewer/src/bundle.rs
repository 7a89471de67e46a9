//! A [`Source`] over an export bundle (`yibao export`, SPEC.md §11): `yibao viewer --bundle
//! FILE` shows a ledger with no node running, e.g. an auditor's copy.
//!
//! The bundle is verified in full when it is opened (every entry, signature, rule and kept
//! checkpoint, as `yibao verify-bundle --trust-bundle` does); one that does not verify is
//! refused. It then answers the read paths of the node API that the viewer uses, with the
//! same JSON as the node: `/v1/logs`, `/v1/logs/{log}/checkpoint` (the last kept
//! checkpoint, with its cosignature lines), `/v1/logs/{log}/entries/{seq}`,
//! `/v1/logs/{log}/proofs/inclusion`, `/v1/logs/{log}/cases/{case_id}`, `/v1/notices`,
//! `/v1/institutions/{code}` and the search `/v1/institutions?q=` (by name or code, the
//! name as last changed, from the bundle's registrations and changes, as the node's
//! directory). Proofs are computed from the bundle's entries, so each notice page is
//! verified as against a node.
//!
//! Not here: the frozen flag (a bundle does not carry one; every log shows as not frozen)
//! and pinning keys (the viewer shows each log's key for the reader to compare).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use yibao_ledger::bundle::{self, BundleLog};
use yibao_ledger::entry_json::notice_order;
use yibao_ledger::index::keys_for;
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{Blake3Hasher, LeafIndex, MemoryTree, TreeSize};
use yibao_ledger::verify::LogData;
use yibao_schema::entry::EntryRef;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Record, RecordKind};

use crate::{Source, SourceFuture};

/// Longest search text `/v1/institutions?q=` takes, in characters (as the node).
const MAX_SEARCH_CHARS: usize = 64;
/// Most institutions one search answers with (as the node).
const MAX_SEARCH_RESULTS: usize = 50;

/// One log of the bundle, ready to answer.
struct Log {
    code: LogCode,
    name: String,
    origin: String,
    vkey: String,
    entries: Vec<Vec<u8>>,
    tree: MemoryTree<Blake3Hasher>,
    /// The last kept checkpoint (signed note text).
    checkpoint: String,
    /// How many exposure notices it holds.
    notices: u64,
}

/// An institution as the search finds it: its name as last registered or changed, and
/// where it was registered.
struct Registered {
    name: String,
    division: String,
    log: String,
    seq: u64,
}

/// An export bundle, verified and indexed in memory.
pub struct BundleSource {
    logs: BTreeMap<String, Log>,
    /// Exposure notices as (log, seq), by log then seq.
    notices: Vec<(String, u64)>,
    /// Entries about each institution as (log, seq), by log then seq.
    institutions: HashMap<String, Vec<(String, u64)>>,
    /// Every record of each case, by (log, case id), in seq order.
    cases: HashMap<(String, String), Vec<u64>>,
    /// Registered institutions by code, for the search.
    directory: BTreeMap<String, Registered>,
}

/// What `BundleSource::get` answers, as JSON: status and value.
type Answer = (u16, Value);

/// An answer in the node's form: JSON, or the checkpoint's signed note as text.
enum Reply {
    Json(Answer),
    Text(Vec<u8>),
}

fn error(status: u16, field: &str, reason: impl Into<String>) -> Answer {
    (
        status,
        json!({"error": {"field": field, "reason": reason.into()}}),
    )
}

/// One entry as the node's API shows it to the public (`/v1/logs/{log}/entries/{seq}`).
pub fn entry_json(seq: u64, bytes: &[u8]) -> Value {
    yibao_ledger::entry_json::entry_json(seq, bytes, false)
}

/// The `I` ‖ code (12) ‖ log (6) ‖ seq (8) index keys of a record: its institutions.
fn institutions_of(keys: &[Vec<u8>]) -> Vec<String> {
    keys.iter()
        .filter(|k| k.len() == 27 && k.first() == Some(&b'I'))
        .filter_map(|k| String::from_utf8(k.get(1..13)?.to_vec()).ok())
        .collect()
}

/// The `K` ‖ log (6) ‖ case id ‖ 0 ‖ seq (8) index key of a record: its case.
fn case_of(keys: &[Vec<u8>]) -> Option<String> {
    keys.iter()
        .filter(|k| k.first() == Some(&b'K') && k.len() > 16)
        .find_map(|k| String::from_utf8(k.get(7..k.len() - 9)?.to_vec()).ok())
}

/// Percent-decodes a query value or path segment as the node's router does: `+` is a space
/// in a query value, a `%` not followed by two hex digits stays as it is, and bytes that are
/// not UTF-8 become U+FFFD.
fn decoded(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (b'+', _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl BundleSource {
    /// Reads and verifies the bundle at `path`.
    pub fn open(path: &Path) -> anyhow::Result<BundleSource> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        BundleSource::from_bytes(&bytes)
    }

    /// Verifies a bundle and indexes it. A bundle that does not verify is refused with its
    /// first failures.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<BundleSource> {
        let report = bundle::verify_bundle(bytes, &Policy::default(), &[], &|_| {})
            .context("the bundle cannot be read")?;
        if !report.is_ok() {
            let first: Vec<String> = report
                .failures
                .iter()
                .take(3)
                .map(ToString::to_string)
                .collect();
            bail!(
                "the bundle does not verify ({} failures): {}",
                report.failure_count,
                first.join("; ")
            );
        }
        let mut source = BundleSource {
            logs: BTreeMap::new(),
            notices: Vec::new(),
            institutions: HashMap::new(),
            cases: HashMap::new(),
            directory: BTreeMap::new(),
        };
        let mut named = Vec::new();
        for log in bundle::parse(bytes).context("the bundle cannot be read")? {
            source.add(log, &mut named)?;
        }
        // As the node's directory reads them: log after log (by division code), in seq order.
        named.sort_by(|a: &(String, u64, Record), b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (log, seq, record) in named {
            source.take_name(log, seq, record);
        }
        for list in source.institutions.values_mut() {
            list.sort();
        }
        source.notices.sort();
        Ok(source)
    }

    /// Takes a registration or a change of name into the directory, as the node does.
    fn take_name(&mut self, log: String, seq: u64, record: Record) {
        match record {
            Record::InstitutionRegistered(r) => {
                self.directory.insert(
                    r.code.as_str().to_string(),
                    Registered {
                        name: r.name,
                        division: r.division.to_string(),
                        log,
                        seq,
                    },
                );
            }
            Record::InstitutionUpdated(u) => {
                if let (Some(name), Some(found)) =
                    (u.changes.name, self.directory.get_mut(u.code.as_str()))
                {
                    found.name = name;
                }
            }
            _ => {}
        }
    }

    /// Indexes one log; its registrations and changes of name go to `named`.
    fn add(
        &mut self,
        log: BundleLog,
        named: &mut Vec<(String, u64, Record)>,
    ) -> anyhow::Result<()> {
        let meta = log.meta().clone();
        let code = LogCode::parse(&meta.division)
            .with_context(|| format!("`{}` is not a division code", meta.division))?;
        let checkpoint = log
            .checkpoints()
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .max_by_key(|(size, _)| *size)
            .map(|(_, text)| text)
            .with_context(|| format!("log {code}: the bundle holds no checkpoint"))?;
        let mut entries = Vec::with_capacity(log.entries().len());
        let mut tree = MemoryTree::<Blake3Hasher>::new();
        let mut notices = 0;
        for (seq, bytes) in log.entries().iter().enumerate() {
            let seq = seq as u64;
            tree.push_data(bytes);
            if let Ok(entry) = EntryRef::decode(bytes) {
                let kind = RecordKind::parse(entry.submission.statement.kind);
                if let Some(record) =
                    kind.and_then(|k| Record::decode_payload(k, entry.submission.payload).ok())
                {
                    if matches!(record, Record::ExposureNotice(_)) {
                        self.notices.push((code.to_string(), seq));
                        notices += 1;
                    }
                    let keys = keys_for(&code, seq, &record);
                    for institution in institutions_of(&keys) {
                        self.institutions
                            .entry(institution)
                            .or_default()
                            .push((code.to_string(), seq));
                    }
                    if let Some(case) = case_of(&keys) {
                        self.cases
                            .entry((code.to_string(), case))
                            .or_default()
                            .push(seq);
                    }
                    if matches!(
                        record,
                        Record::InstitutionRegistered(_) | Record::InstitutionUpdated(_)
                    ) {
                        named.push((code.to_string(), seq, record));
                    }
                }
            }
            entries.push(bytes.to_vec());
        }
        self.logs.insert(
            code.to_string(),
            Log {
                code,
                name: meta.name,
                origin: meta.origin,
                vkey: log.vkey.clone(),
                entries,
                tree,
                checkpoint,
                notices,
            },
        );
        Ok(())
    }

    /// How many logs and entries the bundle holds.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.logs.len(),
            self.logs.values().map(|l| l.entries.len()).sum(),
        )
    }

    fn log(&self, text: &str) -> Result<&Log, Answer> {
        if LogCode::parse(text).is_none() {
            return Err(error(
                400,
                "log",
                format!("`{text}` is not a 6-digit division code"),
            ));
        }
        self.logs
            .get(text)
            .ok_or_else(|| error(404, "log", format!("no log {text} in this bundle")))
    }

    fn pointed(&self, pointers: &[(String, u64)]) -> Vec<Value> {
        pointers
            .iter()
            .filter_map(|(log, seq)| {
                let bytes = self.logs.get(log)?.entries.get(*seq as usize)?;
                let mut v = entry_json(*seq, bytes);
                if let Some(map) = v.as_object_mut() {
                    map.insert("log".into(), json!(log));
                    map.insert("frozen".into(), json!(false));
                }
                Some(v)
            })
            .collect()
    }

    /// Answers one GET of the node API (path and query).
    fn answer(&self, path_and_query: &str) -> Reply {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        // As the node's router reads them: decoded, the last of a repeated name wins.
        let params: HashMap<String, String> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (name, value) = kv.split_once('=').unwrap_or((kv, ""));
                (decoded(name, true), decoded(value, true))
            })
            .collect();
        let number = |name: &str| -> Result<Option<u64>, Answer> {
            match params.get(name) {
                None => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| error(400, name, format!("`{v}` is not a number"))),
            }
        };
        let parts: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|part| decoded(part, false))
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let answer = match parts.as_slice() {
            ["v1", "logs"] => Ok(self.logs_json()),
            ["v1", "logs", log, "checkpoint"] => {
                return match self.log(log) {
                    Ok(l) => Reply::Text(l.checkpoint.clone().into_bytes()),
                    Err(answer) => Reply::Json(answer),
                }
            }
            ["v1", "logs", log, "entries", seq] => self.log(log).and_then(|l| {
                let seq: u64 = seq
                    .parse()
                    .map_err(|_| error(400, "seq", format!("`{seq}` is not a number")))?;
                let bytes = l.entries.get(seq as usize).ok_or_else(|| {
                    error(
                        404,
                        "seq",
                        format!("the log has {} entries", l.entries.len()),
                    )
                })?;
                Ok((200, entry_json(seq, bytes)))
            }),
            ["v1", "logs", log, "proofs", "inclusion"] => self.log(log).and_then(|l| {
                let seq = number("seq")?.ok_or_else(|| error(400, "seq", "required"))?;
                let size = match number("size")? {
                    Some(size) => size,
                    None => checkpoint_size(&l.checkpoint),
                };
                self.inclusion(l, seq, size)
            }),
            ["v1", "logs", log, "cases", case_id] => self.case(log, case_id),
            ["v1", "institutions"] => self.search(params.get("q").map(String::as_str)),
            ["v1", "notices"] => (|| {
                let page = number("page")?.unwrap_or(1);
                let per_page = number("per_page")?.unwrap_or(20);
                if page == 0 {
                    return Err(error(400, "page", "pages count from 1"));
                }
                if per_page == 0 || per_page > 100 {
                    return Err(error(400, "per_page", "must be 1 to 100"));
                }
                let mut all = self.pointed(&self.notices);
                // As the node lists them.
                all.sort_by(|a, b| listed_order(a).cmp(&listed_order(b)));
                let total = all.len() as u64;
                let start = page.saturating_sub(1).saturating_mul(per_page).min(total) as usize;
                let end = page.saturating_mul(per_page).min(total) as usize;
                Ok((
                    200,
                    json!({
                        "total": total,
                        "page": page,
                        "per_page": per_page,
                        "notices": all.get(start..end).unwrap_or_default(),
                    }),
                ))
            })(),
            ["v1", "institutions", code] => {
                let valid = code.len() == 12
                    && matches!(code.as_bytes().first(), Some(b'H' | b'P'))
                    && code.bytes().skip(1).all(|b| b.is_ascii_digit());
                if !valid {
                    Err(error(
                        400,
                        "code",
                        format!("`{code}` is not an institution code (H or P and 11 digits)"),
                    ))
                } else {
                    match self.institutions.get(*code) {
                        None => Err(error(
                            404,
                            "code",
                            format!("no entry about {code} in the logs of this bundle"),
                        )),
                        Some(pointers) => Ok((
                            200,
                            json!({"institution": code, "entries": self.pointed(pointers)}),
                        )),
                    }
                }
            }
            _ => Err(error(
                404,
                "path",
                "no such endpoint in a bundle (the viewer reads logs, checkpoints, entries, inclusion proofs, cases, notices and institutions)",
            )),
        };
        Reply::Json(answer.unwrap_or_else(|e| e))
    }

    fn logs_json(&self) -> Answer {
        let logs: Vec<Value> = self
            .logs
            .values()
            .map(|l| {
                // When the newest entry the checkpoint covers was signed (as the node says).
                let latest_entry_ms = checkpoint_size(&l.checkpoint)
                    .checked_sub(1)
                    .and_then(|last| l.entries.get(usize::try_from(last).ok()?))
                    .and_then(|bytes| EntryRef::decode(bytes).ok())
                    .map(|e| e.submission.statement.timestamp_ms);
                json!({
                    "log": l.code.to_string(),
                    "origin": l.origin,
                    "name": l.name,
                    "vkey": l.vkey,
                    "size": l.entries.len(),
                    "checkpoint": l.checkpoint,
                    "latest_entry_ms": latest_entry_ms,
                    "notices": l.notices,
                    "frozen": false,
                    "own": false,
                })
            })
            .collect();
        (200, json!({ "logs": logs }))
    }

    /// `/v1/logs/{log}/cases/{case_id}`: every record of a case, in order.
    fn case(&self, log: &str, case_id: &str) -> Result<Answer, Answer> {
        if LogCode::parse(log).is_none() {
            return Err(error(
                400,
                "log",
                format!("`{log}` is not a 6-digit division code"),
            ));
        }
        if case_id.is_empty() || case_id.len() > 64 {
            return Err(error(400, "case_id", "must be 1 to 64 characters"));
        }
        self.log(log)?;
        let seqs = self
            .cases
            .get(&(log.to_string(), case_id.to_string()))
            .ok_or_else(|| error(404, "case_id", format!("no case {case_id} in log {log}")))?;
        let pointers: Vec<(String, u64)> = seqs.iter().map(|s| (log.to_string(), *s)).collect();
        Ok((
            200,
            json!({"log": log, "case_id": case_id, "entries": self.pointed(&pointers)}),
        ))
    }

    /// `/v1/institutions?q=`: institutions whose name contains the text or whose code starts
    /// with it (ASCII letters compared without case), by code: how many, and the first 50.
    fn search(&self, q: Option<&str>) -> Result<Answer, Answer> {
        let q = q.map(str::trim).unwrap_or_default();
        if q.is_empty() {
            return Err(error(
                400,
                "q",
                "required: part of an institution's name, or the start of its code",
            ));
        }
        if q.chars().count() > MAX_SEARCH_CHARS {
            return Err(error(
                400,
                "q",
                format!("at most {MAX_SEARCH_CHARS} characters"),
            ));
        }
        let upper = q.to_ascii_uppercase();
        let hits: Vec<(&String, &Registered)> = self
            .directory
            .iter()
            .filter(|(code, found)| code.starts_with(&upper) || found.name.contains(q))
            .collect();
        let found: Vec<Value> = hits
            .iter()
            .take(MAX_SEARCH_RESULTS)
            .map(|(code, found)| {
                json!({
                    "code": code,
                    "name": found.name,
                    "division": found.division,
                    "log": found.log,
                    "seq": found.seq,
                })
            })
            .collect();
        Ok((
            200,
            json!({ "q": q, "total": hits.len(), "institutions": found }),
        ))
    }

    fn inclusion(&self, l: &Log, seq: u64, size: u64) -> Result<Answer, Answer> {
        if seq >= size {
            return Err(error(
                400,
                "seq",
                format!("{seq} is not below the tree size {size}"),
            ));
        }
        if size > l.entries.len() as u64 {
            return Err(error(
                404,
                "size",
                format!("the log has {} entries, not {size}", l.entries.len()),
            ));
        }
        let proof = l
            .tree
            .inclusion_proof(LeafIndex(seq), TreeSize(size))
            .map_err(|e| error(500, "proof", e.to_string()))?;
        let leaf = l
            .tree
            .leaf_hash(LeafIndex(seq))
            .ok_or_else(|| error(404, "seq", "no such entry"))?;
        Ok((
            200,
            json!({
                "log": l.code.to_string(),
                "seq": seq,
                "tree_size": size,
                "leaf_hash": hex::encode(leaf),
                "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
                "checkpoint": l.checkpoint,
            }),
        ))
    }
}

fn checkpoint_size(text: &str) -> u64 {
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

impl Source for BundleSource {
    fn get<'a>(&'a self, path: &'a str) -> SourceFuture<'a> {
        Box::pin(async move {
            match self.answer(path) {
                Reply::Json((status, value)) => Ok((status, serde_json::to_vec(&value)?)),
                Reply::Text(body) => Ok((200, body)),
            }
        })
    }
}

/// Where an entry's JSON (with its `log`) stands in the node's list of notices.
fn listed_order(v: &Value) -> (Reverse<&str>, Reverse<u64>, &str, u64) {
    notice_order(
        v["record"]["published_on"].as_str().unwrap_or_default(),
        v["timestamp_ms"].as_u64().unwrap_or(0),
        v["log"].as_str().unwrap_or_default(),
        v["seq"].as_u64().unwrap_or(0),
    )
}
