//! `yibao publish --data DIR --out OUT`: the public part of a node's ledger as static files
//! any web server or CDN can serve, each verifiable the same way as the API's answers:
//!
//! - `logs.json` — every log: division, name, origin, vkey, size, frozen;
//! - `logs/CODE/checkpoint.txt` — the latest checkpoint, exactly as signed (with the
//!   cosignature lines held);
//! - `notices.json` — every exposure notice, newest first: log, seq, title, institution;
//! - `notices/CODE-SEQ.json` — one notice: the entry (base64 of its signed bytes), its
//!   leaf hash, the record, and its inclusion proof in the published checkpoint.
//!
//! Files are written to a temporary directory beside OUT and renamed into place, so a
//! reader never sees half a publication.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use yibao_ledger::store::Ledger;
use yibao_schema::note::SignedCheckpoint;

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the publication of `ledger` into `out` (replacing what was there). Returns the
/// number of notices published.
pub fn publish(ledger: &Ledger, out: &Path) -> Result<usize> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .context("--out must name a directory")?;
    let staging = parent.join(format!(".{name}.publishing"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("logs"))?;
    std::fs::create_dir_all(staging.join("notices"))?;

    let mut logs = Vec::new();
    let mut checkpoint_sizes = std::collections::BTreeMap::new();
    for code in ledger.log_codes() {
        let meta = ledger.meta(&code)?;
        let checkpoint = ledger.latest_checkpoint(&code)?;
        let size = SignedCheckpoint::parse(&checkpoint)
            .map(|s| s.checkpoint.size)
            .unwrap_or(0);
        checkpoint_sizes.insert(code, (size, checkpoint.clone()));
        let dir = staging.join("logs").join(code.as_str());
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("checkpoint.txt"), &checkpoint)?;
        logs.push(json!({
            "log": code.to_string(),
            "name": meta.name,
            "origin": meta.origin,
            "vkey": ledger.log_verifier_key(&code)?.to_string(),
            "size": size,
            "frozen": ledger.is_frozen(&code)?,
        }));
    }
    write_json(&staging.join("logs.json"), &json!({ "logs": logs }))?;

    let mut notices = Vec::new();
    for (code, seq) in ledger.exposure_notices()? {
        let Some((size, checkpoint)) = checkpoint_sizes.get(&code) else {
            continue;
        };
        if seq >= *size {
            continue; // Not yet covered by a checkpoint: published next time.
        }
        let (bytes, proof) = ledger.entry_with_inclusion_proof(&code, seq, *size)?;
        let mut entry = crate::api::entry_json(seq, &bytes);
        if let Some(map) = entry.as_object_mut() {
            map.insert("log".into(), json!(code.to_string()));
            map.insert("tree_size".into(), json!(size));
            map.insert(
                "proof".into(),
                json!(proof.iter().map(hex::encode).collect::<Vec<_>>()),
            );
            map.insert("checkpoint".into(), json!(checkpoint));
        }
        write_json(
            &staging.join("notices").join(format!("{code}-{seq}.json")),
            &entry,
        )?;
        notices.push(json!({
            "log": code.to_string(),
            "seq": seq,
            "timestamp_ms": entry["timestamp_ms"],
            "title": entry["record"]["title"],
            "institution": entry["record"]["institution"],
            "file": format!("notices/{code}-{seq}.json"),
        }));
    }
    notices.sort_by_key(|n| std::cmp::Reverse(n["timestamp_ms"].as_u64().unwrap_or(0)));
    let count = notices.len();
    write_json(
        &staging.join("notices.json"),
        &json!({ "notices": notices }),
    )?;

    if out.exists() {
        if !out.join("logs.json").exists() {
            let _ = std::fs::remove_dir_all(&staging);
            bail!(
                "{} exists and is not a publication; publish into an empty or new directory",
                out.display()
            );
        }
        std::fs::remove_dir_all(out)?;
    }
    std::fs::rename(&staging, out)
        .with_context(|| format!("cannot move the publication into {}", out.display()))?;
    Ok(count)
}
