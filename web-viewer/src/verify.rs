//! Verification before display. For one entry: the log's verifier key from `/v1/logs`, its
//! latest signed checkpoint, the signed entry bytes and an inclusion proof at the
//! checkpoint's size. The leaf hash is recomputed from the bytes, the proof checked against
//! the checkpoint root, the checkpoint signature against the key, and the record decoded
//! from the same bytes. Anything that fails leaves a reason; nothing unverified is called
//! verified.

use base64::Engine;
use serde_json::Value;
use yibao_ledger::merkle::{verify_inclusion, Blake3Hasher, LeafIndex, MerkleHasher, TreeSize};
use yibao_schema::entry::EntryRef;
use yibao_schema::manifest::witness_name;
use yibao_schema::note::{Cosignature, KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::record::{Record, RecordKind};

use crate::cache::{Cache, VerifiedEntry};
use crate::html::Lang;
use crate::{fetch_ok, PageError, Source};

/// What `/v1/logs` says of a log.
#[derive(Debug, Clone)]
pub struct LogInfo {
    /// The division code.
    pub log: String,
    /// The bureau's name.
    pub name: String,
    /// The log's verifier key (note vkey text).
    pub vkey: String,
    /// The number of entries.
    pub size: u64,
    /// Frozen after proven equivocation.
    pub frozen: bool,
    /// How many exposure notices the log holds (a node that does not say: None).
    pub notices: Option<u64>,
    /// When the newest entry its latest checkpoint covers was signed (UTC ms).
    pub latest_entry_ms: Option<u64>,
}

/// Every log the node holds.
pub(crate) async fn logs(source: &dyn Source, lang: Lang) -> Result<Vec<LogInfo>, PageError> {
    let value = fetch_ok(source, lang, "/v1/logs").await?;
    let list = value["logs"]
        .as_array()
        .ok_or_else(|| PageError::upstream(lang, "GET /v1/logs: no `logs` list"))?;
    Ok(list
        .iter()
        .filter_map(|l| {
            Some(LogInfo {
                log: l["log"].as_str()?.to_string(),
                name: l["name"].as_str().unwrap_or_default().to_string(),
                vkey: l["vkey"].as_str().unwrap_or_default().to_string(),
                size: l["size"].as_u64().unwrap_or(0),
                frozen: l["frozen"].as_bool().unwrap_or(false),
                notices: l["notices"].as_u64(),
                latest_entry_ms: l["latest_entry_ms"].as_u64(),
            })
        })
        .collect())
}

/// One cosignature line on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigner {
    /// The witness name on the line.
    pub name: String,
    /// The bureau whose key is this witness (None: a witness the source does not name).
    pub bureau: Option<String>,
    /// When it cosigned (seconds since the epoch), for a known witness.
    pub timestamp: Option<u64>,
    /// Why a known witness's cosignature does not verify (None: it verifies, or unknown).
    pub problem: Option<String>,
}

/// A checkpoint as read and checked.
#[derive(Debug, Clone)]
pub struct CheckedCheckpoint {
    /// The parsed checkpoint, if it parsed.
    pub checkpoint: Option<SignedCheckpoint>,
    /// Why the log's signature on it (or a known witness's cosignature) does not verify
    /// (None: it verifies).
    pub problem: Option<String>,
    /// The signature lines other than the log's own, each checked when its witness is
    /// known: witness `yibao.ledger/v1/witness/<division>` cosigns with the key of log
    /// `<division>` as the source names it (SPEC.md §13).
    pub cosigners: Vec<Cosigner>,
}

impl CheckedCheckpoint {
    /// The tree size, if the checkpoint parsed.
    pub fn size(&self) -> Option<u64> {
        self.checkpoint.as_ref().map(|c| c.checkpoint.size)
    }

    /// How many cosignatures of known witnesses verify.
    pub fn verified_cosignatures(&self) -> usize {
        self.cosigners
            .iter()
            .filter(|c| c.bureau.is_some() && c.problem.is_none())
            .count()
    }
}

/// The witness key of each log the source names: its bureau key under the witness name
/// (signature type 0x04), with the bureau's name.
fn witness_keys(logs: &[LogInfo]) -> Vec<(VerifierKey, String)> {
    logs.iter()
        .filter_map(|l| {
            let key = VerifierKey::parse(&l.vkey).ok()?;
            let witness = VerifierKey::from_public_key(
                &witness_name(&l.log),
                key.public_key().as_bytes(),
                KeyKind::CosignatureV1,
            )
            .ok()?;
            Some((witness, l.name.clone()))
        })
        .collect()
}

/// Checks every signature line of `checkpoint` that is not the log's own.
fn cosigners(checkpoint: &SignedCheckpoint, logs: &[LogInfo]) -> Vec<Cosigner> {
    let witnesses = witness_keys(logs);
    let mut out = Vec::new();
    for line in &checkpoint.note.signatures {
        if line.name == checkpoint.checkpoint.origin {
            continue;
        }
        let known = witnesses
            .iter()
            .find(|(key, _)| key.matches(&line.name, &line.key_id));
        let mut cosigner = Cosigner {
            name: line.name.clone(),
            bureau: None,
            timestamp: None,
            problem: None,
        };
        if let Some((key, bureau)) = known {
            cosigner.bureau = Some(bureau.clone());
            match Cosignature::from_note_signature(line) {
                Err(e) => cosigner.problem = Some(e.to_string()),
                Ok(c) => {
                    cosigner.timestamp = Some(c.timestamp);
                    if let Err(e) = c.verify(&checkpoint.checkpoint, key) {
                        cosigner.problem = Some(e.to_string());
                    }
                }
            }
        }
        out.push(cosigner);
    }
    out
}

/// Reads the log's latest checkpoint and checks its signature with `info.vkey`, and the
/// cosignatures of the witnesses among `logs`.
pub(crate) async fn checkpoint(
    source: &dyn Source,
    lang: Lang,
    info: &LogInfo,
    logs: &[LogInfo],
) -> Result<CheckedCheckpoint, PageError> {
    let text = checkpoint_text(source, lang, &info.log).await?;
    Ok(check_checkpoint(&text, info, logs))
}

/// The latest checkpoint of `log` as the node serves it.
pub(crate) async fn checkpoint_text(
    source: &dyn Source,
    lang: Lang,
    log: &str,
) -> Result<Vec<u8>, PageError> {
    let path = format!("/v1/logs/{log}/checkpoint");
    let (status, body) = source
        .get(&path)
        .await
        .map_err(|e| PageError::upstream(lang, format!("GET {path}: {e:#}")))?;
    if status != 200 {
        return Err(PageError::upstream(
            lang,
            format!("GET {path}: the node answered {status}"),
        ));
    }
    Ok(body)
}

/// Checks checkpoint `text` of `info.log`: its signature with `info.vkey`, and the
/// cosignatures of the witnesses among `logs`.
pub(crate) fn check_checkpoint(text: &[u8], info: &LogInfo, logs: &[LogInfo]) -> CheckedCheckpoint {
    let checkpoint = match SignedCheckpoint::parse_bytes(text) {
        Ok(c) => c,
        Err(e) => {
            return CheckedCheckpoint {
                checkpoint: None,
                problem: Some(format!("checkpoint does not parse: {e}")),
                cosigners: Vec::new(),
            }
        }
    };
    let mut problem = match VerifierKey::parse(&info.vkey) {
        Err(e) => Some(format!("the log's verifier key does not parse: {e}")),
        Ok(key) => checkpoint
            .verify(&key)
            .err()
            .map(|e| format!("checkpoint signature: {e}")),
    };
    let cosigners = cosigners(&checkpoint, logs);
    if problem.is_none() {
        problem = cosigners.iter().find_map(|c| {
            c.problem
                .as_ref()
                .map(|p| format!("cosignature of {}: {p}", c.name))
        });
    }
    CheckedCheckpoint {
        checkpoint: Some(checkpoint),
        problem,
        cosigners,
    }
}

/// An entry as verified.
#[derive(Debug)]
pub struct CheckedEntry {
    /// The log.
    pub log: LogInfo,
    /// The entry's position.
    pub seq: u64,
    /// The checkpoint it was checked against.
    pub checkpoint: CheckedCheckpoint,
    /// The officer's signing time (UTC ms), from the signed bytes.
    pub timestamp_ms: Option<u64>,
    /// The record decoded from the signed bytes.
    pub record: Option<Record>,
    /// The leaf hash recomputed from the bytes.
    pub leaf_hash: Option<[u8; 32]>,
    /// The first reason it does not verify; None when every check passed.
    pub problem: Option<String>,
}

impl CheckedEntry {
    /// Whether every check passed and the record decoded.
    pub fn verified(&self) -> bool {
        self.problem.is_none() && self.record.is_some()
    }
}

fn hash32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// Verifies entry `seq` of `log` as described in the module documentation. A log or entry
/// that does not exist is a 404; a node that fails is a 502; anything that does not check
/// out is a [`CheckedEntry`] with a problem.
///
/// The log list and checkpoint come from `cache` (read at most every [`REFRESH`]), and an
/// entry that verified against the same checkpoint text under the same log key before is
/// not read and checked again.
///
/// [`REFRESH`]: crate::cache::REFRESH
pub(crate) async fn entry(
    cache: &Cache,
    source: &dyn Source,
    lang: Lang,
    log: &str,
    seq: u64,
) -> Result<CheckedEntry, PageError> {
    let all = cache.logs(source, lang).await?;
    let info = all.iter().find(|l| l.log == log).cloned().ok_or_else(|| {
        PageError::not_found(
            lang,
            format!(
                "{} {log}",
                lang.t("该节点没有此日志：", "the node holds no log")
            ),
        )
    })?;
    let known = cache.checkpoint(source, lang, &info, &all).await?;
    if known.checked.problem.is_none() {
        if let Some(verified) = cache.verified(&info, seq, &known) {
            return Ok(CheckedEntry {
                log: info,
                seq,
                checkpoint: known.checked.clone(),
                timestamp_ms: verified.timestamp_ms,
                record: Some(verified.record),
                leaf_hash: Some(verified.leaf_hash),
                problem: None,
            });
        }
    }
    let value = fetch_ok(source, lang, &format!("/v1/logs/{log}/entries/{seq}")).await?;
    let mut out = CheckedEntry {
        log: info,
        seq,
        checkpoint: known.checked.clone(),
        timestamp_ms: None,
        record: None,
        leaf_hash: None,
        problem: None,
    };
    let Some(encoded) = value["entry"].as_str() else {
        return Err(PageError::not_found(
            lang,
            lang.t(
                "该条目不公开（经办人密钥事件只公开其哈希）",
                "this entry is not public (officers' key events are served as their hash only)",
            ),
        ));
    };
    let bytes = match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(b) => b,
        Err(_) => {
            out.problem = Some("the entry is not valid base64".into());
            return Ok(out);
        }
    };
    let leaf = Blake3Hasher::leaf(&bytes);
    out.leaf_hash = Some(leaf);
    let mut problems: Vec<String> = Vec::new();
    if let Some(p) = &out.checkpoint.problem {
        problems.push(p.clone());
    }

    // The record, from the signed bytes.
    match EntryRef::decode(&bytes) {
        Err(e) => problems.push(format!("the entry bytes do not decode: {e}")),
        Ok(entry) => {
            let statement = &entry.submission.statement;
            out.timestamp_ms = Some(statement.timestamp_ms);
            if entry.seq != seq {
                problems.push(format!("the entry says it is seq {}, not {seq}", entry.seq));
            }
            if let Some(c) = &out.checkpoint.checkpoint {
                if statement.origin != c.checkpoint.origin {
                    problems.push(format!(
                        "the entry belongs to {}, not to {}",
                        statement.origin, c.checkpoint.origin
                    ));
                }
            }
            if let Err(e) = entry.submission.verify_signature() {
                problems.push(format!("officer signature: {e}"));
            }
            match RecordKind::parse(statement.kind) {
                None => problems.push(format!("unknown record kind {}", statement.kind)),
                Some(kind) => match Record::decode_payload(kind, entry.submission.payload) {
                    Ok(record) => out.record = Some(record),
                    Err(e) => problems.push(format!("the record does not decode: {e}")),
                },
            }
        }
    }

    // Inclusion in the checkpoint's tree.
    match &out.checkpoint.checkpoint {
        None => problems.push("no checkpoint to check against".into()),
        Some(c) => {
            let size = c.checkpoint.size;
            if seq >= size {
                problems.push(format!("the checkpoint (size {size}) does not cover it"));
            } else {
                let proof_path = format!("/v1/logs/{log}/proofs/inclusion?seq={seq}&size={size}");
                match fetch_ok(source, lang, &proof_path).await {
                    Err(e) if e.status.is_server_error() => return Err(e),
                    Err(e) => problems.push(format!("no inclusion proof: {}", e.message)),
                    Ok(proof) => {
                        let hashes: Option<Vec<[u8; 32]>> = proof["proof"]
                            .as_array()
                            .map(|a| a.iter().map(|h| h.as_str().and_then(hash32)).collect())
                            .and_then(|v: Vec<Option<[u8; 32]>>| v.into_iter().collect());
                        match hashes {
                            None => problems.push("the inclusion proof is malformed".into()),
                            Some(hashes) => {
                                if let Err(e) = verify_inclusion::<Blake3Hasher>(
                                    &leaf,
                                    LeafIndex(seq),
                                    TreeSize(size),
                                    &hashes,
                                    &c.checkpoint.root,
                                ) {
                                    problems.push(format!("inclusion proof: {e}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        out.problem = Some(problems.join("; "));
    }
    if let (None, Some(record), Some(leaf_hash)) = (&out.problem, &out.record, out.leaf_hash) {
        cache.remember(
            &out.log,
            seq,
            &known,
            VerifiedEntry {
                timestamp_ms: out.timestamp_ms,
                record: record.clone(),
                leaf_hash,
            },
        );
    }
    Ok(out)
}

/// A number from JSON, or 0.
pub(crate) fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}
