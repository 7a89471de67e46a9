//! A [`Source`] over an export bundle (`yibao export`, SPEC.md §11): `yibao viewer --bundle
//! FILE` shows a ledger with no node running, e.g. an auditor's copy.
//!
//! The bundle is verified in full when it is opened (every entry, signature, rule and kept
//! checkpoint, as `yibao verify-bundle --trust-bundle` does); one that does not verify is
//! refused. It then answers the read paths of the node API that the viewer uses, with the
//! same JSON as the node: `/v1/logs`, `/v1/logs/{log}/checkpoint` (the last kept
//! checkpoint, with its cosignature lines), `/v1/logs/{log}/entries/{seq}`,
//! `/v1/logs/{log}/proofs/inclusion`, `/v1/notices`, `/v1/institutions/{code}`. Proofs are
//! computed from the bundle's entries, so each notice page is verified as against a node.
//!
//! Not here: the frozen flag (a bundle does not carry one; every log shows as not frozen)
//! and pinning keys (the viewer shows each log's key for the reader to compare).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use yibao_ledger::bundle::{self, BundleLog};
use yibao_ledger::index::keys_for;
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{Blake3Hasher, LeafIndex, MemoryTree, TreeSize};
use yibao_ledger::verify::LogData;
use yibao_schema::entry::EntryRef;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Record, RecordKind};

use crate::{Source, SourceFuture};

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
}

/// An export bundle, verified and indexed in memory.
pub struct BundleSource {
    logs: BTreeMap<String, Log>,
    /// Exposure notices as (log, seq), by log then seq.
    notices: Vec<(String, u64)>,
    /// Entries about each institution as (log, seq), by log then seq.
    institutions: HashMap<String, Vec<(String, u64)>>,
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
fn institutions_of(code: &LogCode, seq: u64, record: &Record) -> Vec<String> {
    keys_for(code, seq, record)
        .into_iter()
        .filter(|k| k.len() == 27 && k.first() == Some(&b'I'))
        .filter_map(|k| String::from_utf8(k.get(1..13)?.to_vec()).ok())
        .collect()
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
        };
        for log in bundle::parse(bytes).context("the bundle cannot be read")? {
            source.add(log)?;
        }
        for list in source.institutions.values_mut() {
            list.sort();
        }
        source.notices.sort();
        Ok(source)
    }

    fn add(&mut self, log: BundleLog) -> anyhow::Result<()> {
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
                    }
                    for institution in institutions_of(&code, seq, &record) {
                        self.institutions
                            .entry(institution)
                            .or_default()
                            .push((code.to_string(), seq));
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
        let params: HashMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
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
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
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
                // As the node lists them: latest publication day, then entry time, then
                // log and seq (the order of `self.notices`; the sort is stable).
                all.sort_by_cached_key(|v| {
                    std::cmp::Reverse((
                        v["record"]["published_on"].as_str().unwrap_or_default().to_string(),
                        v["timestamp_ms"].as_u64().unwrap_or(0),
                    ))
                });
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
                "no such endpoint in a bundle (the viewer reads logs, checkpoints, entries, inclusion proofs, notices and institutions)",
            )),
        };
        Reply::Json(answer.unwrap_or_else(|e| e))
    }

    fn logs_json(&self) -> Answer {
        let logs: Vec<Value> = self
            .logs
            .values()
            .map(|l| {
                json!({
                    "log": l.code.to_string(),
                    "origin": l.origin,
                    "name": l.name,
                    "vkey": l.vkey,
                    "size": l.entries.len(),
                    "checkpoint": l.checkpoint,
                    "frozen": false,
                    "own": false,
                })
            })
            .collect();
        (200, json!({ "logs": logs }))
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
