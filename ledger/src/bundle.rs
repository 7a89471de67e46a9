//! Export bundles: every entry, kept checkpoint and cosignature of some logs in one file
//! that an auditor can verify offline, with this code or from `schema/SPEC.md` §7 alone.
//!
//! Layout (canonical CBOR): `["yibao-bundle", 1, [log, …]]`, each log a map with the keys
//! `name`, `vkey`, `origin`, `entries`, `division`, `checkpoints`, `genesis_key`,
//! `cosignatures` (in that canonical order). Entries are byte strings holding exactly the
//! stored entry bytes, so leaf hashes and signatures check without re-encoding. Witness
//! cosignatures travel as extra signature lines of the checkpoint notes; the
//! `cosignatures` array is reserved and empty in version 1.
//!
//! Not here: deciding whom to trust. A bundle carries each log's genesis key; the auditor
//! should pin the keys it expects (`--vkey`), since a forged bundle can carry forged keys.

use std::io::Write;

use yibao_schema::cbor::{Decoder, Encoder};
use yibao_schema::note::{KeyKind, VerifierKey};
use yibao_schema::policy::Policy;

use crate::keys::LogCode;
use crate::store::{Ledger, LogMeta, StoreError};
use crate::verify::{self, LogData, Report};

/// The first item of every bundle.
pub const BUNDLE_MAGIC: &str = "yibao-bundle";

/// The bundle layout version.
pub const BUNDLE_VERSION: u64 = 1;

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading the ledger failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Writing the file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a bundle.
    #[error("not a valid bundle: {0}")]
    Malformed(String),
    /// A pinned key does not match the bundle.
    #[error("log {log}: the bundle's key is {found}, but the pinned key is {pinned}")]
    KeyMismatch {
        /// The log.
        log: String,
        /// The key in the bundle (vkey form).
        found: String,
        /// The key pinned by the caller.
        pinned: String,
    },
}

/// The verifier key (vkey form) of a log's genesis bureau key.
pub fn genesis_vkey(meta: &LogMeta) -> Result<String, String> {
    let key: [u8; 32] = hex::decode(&meta.genesis_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("genesis key is not 32 bytes of hex")?;
    VerifierKey::from_public_key(&meta.origin, &key, KeyKind::Ed25519)
        .map(|vkey| vkey.to_string())
        .map_err(|e| e.to_string())
}

/// Writes a bundle of the given logs (all logs when `logs` is empty) to `out`.
pub fn export(ledger: &Ledger, logs: &[LogCode], out: &mut dyn Write) -> Result<u64, BundleError> {
    let codes: Vec<LogCode> = if logs.is_empty() {
        ledger.log_codes()
    } else {
        logs.to_vec()
    };
    let mut written = 0u64;
    write_head(out, codes.len())?;
    for code in codes {
        let meta = ledger.meta(&code)?;
        let size = ledger.size(&code)?;
        write_log_start(out, &meta, size)?;
        let mut start = 0u64;
        while start < size {
            let chunk = ledger.entries(&code, start, 4096)?;
            if chunk.is_empty() {
                return Err(BundleError::Store(StoreError::Corrupt {
                    log: code.to_string(),
                    seq: Some(start),
                    what: "entry missing during export".into(),
                }));
            }
            for (seq, bytes) in &chunk {
                write_entry(out, bytes)?;
                start = seq + 1;
                written += 1;
            }
        }
        let checkpoints = ledger.checkpoints(&code)?;
        let signed: Vec<&str> = checkpoints
            .iter()
            .filter(|(size, _)| *size > 0)
            .map(|(_, text)| text.as_str())
            .collect();
        write_log_end(out, &meta, &signed)?;
    }
    out.flush()?;
    Ok(written)
}

/// A log given as its raw parts, for [`encode_raw`].
#[derive(Debug, Clone, Copy)]
pub struct RawLog<'a> {
    /// Division, origin, name and genesis key.
    pub meta: &'a LogMeta,
    /// Every entry's bytes, in order.
    pub entries: &'a [Vec<u8>],
    /// Signed checkpoint notes (with any cosignature lines).
    pub checkpoints: &'a [String],
}

/// Encodes a bundle from raw parts, exactly as [`export`] lays it out. The parts are not
/// checked: this is how an auditor's test data (or a tool converting another store) is
/// made into a bundle, and verification is what judges it.
pub fn encode_raw(logs: &[RawLog<'_>]) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    write_head(&mut out, logs.len())?;
    for log in logs {
        write_log_start(&mut out, log.meta, log.entries.len() as u64)?;
        for entry in log.entries {
            write_entry(&mut out, entry)?;
        }
        let checkpoints: Vec<&str> = log.checkpoints.iter().map(String::as_str).collect();
        write_log_end(&mut out, log.meta, &checkpoints)?;
    }
    Ok(out)
}

fn write_head(out: &mut dyn Write, logs: usize) -> Result<(), BundleError> {
    let mut head = Encoder::new();
    head.array(3);
    head.text(BUNDLE_MAGIC);
    head.uint(BUNDLE_VERSION);
    head.array(logs as u64);
    out.write_all(head.as_slice())?;
    Ok(())
}

/// The log's map up to the header of its `entries` array of `size` items.
fn write_log_start(out: &mut dyn Write, meta: &LogMeta, size: u64) -> Result<(), BundleError> {
    let vkey = genesis_vkey(meta).map_err(BundleError::Malformed)?;
    let mut e = Encoder::new();
    e.map(8);
    e.text("name");
    e.text(&meta.name);
    e.text("vkey");
    e.text(&vkey);
    e.text("origin");
    e.text(&meta.origin);
    e.text("entries");
    e.array(size);
    out.write_all(e.as_slice())?;
    Ok(())
}

fn write_entry(out: &mut dyn Write, bytes: &[u8]) -> Result<(), BundleError> {
    let mut e = Encoder::with_capacity(bytes.len() + 9);
    e.bytes(bytes);
    out.write_all(e.as_slice())?;
    Ok(())
}

/// The rest of the log's map after its entries.
fn write_log_end(
    out: &mut dyn Write,
    meta: &LogMeta,
    checkpoints: &[&str],
) -> Result<(), BundleError> {
    let genesis_key =
        hex::decode(&meta.genesis_key).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let mut e = Encoder::new();
    e.text("division");
    e.text(&meta.division);
    e.text("checkpoints");
    e.array(checkpoints.len() as u64);
    for text in checkpoints {
        e.text(text);
    }
    e.text("genesis_key");
    e.bytes(&genesis_key);
    e.text("cosignatures");
    e.array(0);
    out.write_all(e.as_slice())?;
    Ok(())
}

/// One log read from a bundle.
#[derive(Debug)]
pub struct BundleLog {
    meta: LogMeta,
    /// The verifier key the bundle states.
    pub vkey: String,
    entries: Vec<crate::verify::EntryBytes>,
    checkpoints: Vec<(u64, String)>,
    /// Cosignature lines (tlog-cosignature), as carried.
    pub cosignatures: Vec<String>,
}

impl BundleLog {
    /// The log's metadata as the bundle states it.
    pub fn meta(&self) -> &LogMeta {
        &self.meta
    }

    /// The entries' bytes in order.
    pub fn entries(&self) -> &[crate::verify::EntryBytes] {
        &self.entries
    }
}

fn malformed(e: impl std::fmt::Display) -> BundleError {
    BundleError::Malformed(e.to_string())
}

fn expect_key(d: &mut Decoder<'_>, key: &str) -> Result<(), BundleError> {
    let found = d.text().map_err(malformed)?;
    if found != key {
        return Err(BundleError::Malformed(format!(
            "expected key `{key}`, found `{found}`"
        )));
    }
    Ok(())
}

/// Parses a bundle strictly.
pub fn parse(bytes: &[u8]) -> Result<Vec<BundleLog>, BundleError> {
    let mut d = Decoder::new(bytes);
    if d.array().map_err(malformed)? != 3 {
        return Err(BundleError::Malformed(
            "expected an array of 3 items".into(),
        ));
    }
    if d.text().map_err(malformed)? != BUNDLE_MAGIC {
        return Err(BundleError::Malformed(format!(
            "does not start with `{BUNDLE_MAGIC}`"
        )));
    }
    let version = d.uint().map_err(malformed)?;
    if version != BUNDLE_VERSION {
        return Err(BundleError::Malformed(format!(
            "unsupported bundle version {version}"
        )));
    }
    let count = d.array().map_err(malformed)?;
    let mut logs = Vec::new();
    for _ in 0..count {
        if d.map().map_err(malformed)? != 8 {
            return Err(BundleError::Malformed(
                "a log must be a map of 8 keys".into(),
            ));
        }
        expect_key(&mut d, "name")?;
        let name = d.text().map_err(malformed)?.to_string();
        expect_key(&mut d, "vkey")?;
        let vkey = d.text().map_err(malformed)?.to_string();
        expect_key(&mut d, "origin")?;
        let origin = d.text().map_err(malformed)?.to_string();
        expect_key(&mut d, "entries")?;
        let n = d.array().map_err(malformed)?;
        let mut entries = Vec::new();
        for _ in 0..n {
            entries.push(crate::verify::EntryBytes::from(
                d.bytes().map_err(malformed)?,
            ));
        }
        expect_key(&mut d, "division")?;
        let division = d.text().map_err(malformed)?.to_string();
        expect_key(&mut d, "checkpoints")?;
        let n = d.array().map_err(malformed)?;
        let mut checkpoints = Vec::new();
        for _ in 0..n {
            let text = d.text().map_err(malformed)?.to_string();
            let size = text
                .lines()
                .nth(1)
                .and_then(|line| line.parse::<u64>().ok())
                .ok_or_else(|| BundleError::Malformed("checkpoint without a size line".into()))?;
            checkpoints.push((size, text));
        }
        expect_key(&mut d, "genesis_key")?;
        let genesis_key = d.bytes_fixed::<32>().map_err(malformed)?;
        expect_key(&mut d, "cosignatures")?;
        let n = d.array().map_err(malformed)?;
        let mut cosignatures = Vec::new();
        for _ in 0..n {
            cosignatures.push(d.text().map_err(malformed)?.to_string());
        }
        logs.push(BundleLog {
            meta: LogMeta {
                division,
                origin,
                name,
                genesis_key: hex::encode(genesis_key),
            },
            vkey,
            entries,
            checkpoints,
            cosignatures,
        });
    }
    d.finish().map_err(malformed)?;
    Ok(logs)
}

impl LogData for BundleLog {
    fn meta(&self) -> &LogMeta {
        &self.meta
    }

    fn entries_end(&self) -> Result<u64, String> {
        Ok(self.entries.len() as u64)
    }

    fn name(&self) -> String {
        self.meta.division.clone()
    }

    fn entries_range(&self, start: u64, end: u64) -> Result<Vec<crate::verify::Read>, String> {
        let start = usize::try_from(start).map_err(|e| e.to_string())?;
        let end = usize::try_from(end)
            .map_err(|e| e.to_string())?
            .min(self.entries.len());
        Ok(self
            .entries
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .map(|(i, bytes)| crate::verify::Read::Entry((start + i) as u64, bytes.clone()))
            .collect())
    }

    fn stored_nodes(&self) -> Result<Option<crate::verify::StoredNodes>, String> {
        Ok(None)
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, String> {
        Ok(self.checkpoints.clone())
    }

    fn claimed_size(&self) -> Result<u64, String> {
        Ok(self.entries.len() as u64)
    }

    fn acknowledged_size(&self) -> Option<u64> {
        None
    }
}

/// Verifies a bundle offline. `pinned` verifier keys (vkey form), when given, must match
/// the bundle's keys for their logs; every log must then have a pinned key.
pub fn verify_bundle(
    bytes: &[u8],
    policy: &Policy,
    pinned: &[String],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, BundleError> {
    verify_bundle_visiting(bytes, policy, pinned, progress, &mut verify::NoVisitor)
}

/// [`verify_bundle`], showing every entry and checkpoint to `visitor`.
pub fn verify_bundle_visiting(
    bytes: &[u8],
    policy: &Policy,
    pinned: &[String],
    progress: &(dyn Fn(u64) + Sync),
    visitor: &mut dyn verify::Visitor,
) -> Result<Report, BundleError> {
    let logs = parse(bytes)?;
    let mut report = Report::default();
    if logs.is_empty() {
        report.fail("bundle", None, "the bundle holds no logs");
    }
    let mut seen = std::collections::BTreeSet::new();
    for log in &logs {
        if !seen.insert(log.meta.origin.clone()) {
            report.fail(&log.meta.division, None, "the bundle holds this log twice");
        }
    }
    // A pinned log missing from the bundle must not pass silently.
    for pin in pinned {
        let origin = pin.split('+').next().unwrap_or_default();
        if !logs.iter().any(|log| log.meta.origin == origin) {
            report.fail(
                origin.rsplit('/').next().unwrap_or(origin),
                None,
                "a pinned log is missing from the bundle",
            );
        }
    }
    for log in &logs {
        // Version 1 carries witness cosignatures as signature lines of the checkpoint notes;
        // this array is reserved and must be empty.
        if !log.cosignatures.is_empty() {
            report.fail(&log.meta.division, None, "the `cosignatures` array must be empty in a version 1 bundle (cosignatures travel on the checkpoint notes)");
        }
        let stated = genesis_vkey(&log.meta).map_err(BundleError::Malformed)?;
        if stated != log.vkey {
            report.fail(
                &log.meta.division,
                None,
                "the bundle's vkey does not match its genesis key",
            );
        }
        if !pinned.is_empty() {
            let ours = pinned
                .iter()
                .find(|p| p.split('+').next() == Some(log.meta.origin.as_str()));
            match ours {
                Some(p) if *p == stated => {}
                Some(p) => {
                    return Err(BundleError::KeyMismatch {
                        log: log.meta.division.clone(),
                        found: stated,
                        pinned: p.clone(),
                    })
                }
                None => report.fail(&log.meta.division, None, "no pinned key for this log"),
            }
        }
        verify::verify_log_visiting(log, policy, &mut report, progress, visitor);
    }
    Ok(report)
}
