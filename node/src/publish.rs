//! `yibao publish --data DIR --out OUT`: the public part of a node's ledger as static files
//! any web server or CDN can serve, each verifiable the same way as the API's answers:
//!
//! - `logs.json` — every log: division, name, origin, vkey, size, frozen;
//! - `logs/CODE/checkpoint.txt` — the latest checkpoint, exactly as signed (with the
//!   cosignature lines held);
//! - `notices.json` — every exposure notice, latest publication day first: log, seq,
//!   entry time, publication day, title, institution;
//! - `notices/CODE-SEQ.json` — one notice: the entry (base64 of its signed bytes), its
//!   leaf hash, the record, and its inclusion proof in the published checkpoint;
//! - `index.html` with `assets/style.css` and `assets/verify.js` — the notices as a page
//!   (readable without scripts), each row re-checked in the reader's browser from the
//!   files above by the viewer's own verifier: log key, checkpoint signature and
//!   cosignatures' witnesses from `logs.json`, officer signature, BLAKE3 leaf hash,
//!   inclusion proof, and the row's text against the signed record.
//!
//! Files are written to a temporary directory beside OUT and renamed into place, so a
//! reader never sees half a publication.

use std::cmp::Reverse;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use yibao_ledger::entry_json::notice_order;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_schema::note::SignedCheckpoint;
use yibao_web_viewer::display::yuan;
use yibao_web_viewer::html::{self, escape};

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
    let mut vkeys = std::collections::BTreeMap::new();
    let mut frozen = Vec::new();
    for code in ledger.log_codes() {
        let vkey = ledger.log_verifier_key(&code)?.to_string();
        let is_frozen = ledger.is_frozen(&code)?;
        if is_frozen {
            frozen.push(code);
        }
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
            "vkey": vkey,
            "size": size,
            "frozen": is_frozen,
        }));
        vkeys.insert(code, vkey);
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
        let row = notice_row(
            &code,
            seq,
            vkeys.get(&code),
            frozen.contains(&code),
            &entry["record"],
        );
        notices.push((
            json!({
                "log": code.to_string(),
                "seq": seq,
                "timestamp_ms": entry["timestamp_ms"],
                "published_on": entry["record"]["published_on"],
                "title": entry["record"]["title"],
                "institution": entry["record"]["institution"],
                "file": format!("notices/{code}-{seq}.json"),
            }),
            row,
        ));
    }
    // Newest first, as the node's list: by publication day, then entry time.
    notices.sort_by(|(a, _), (b, _)| listed_order(a).cmp(&listed_order(b)));
    let count = notices.len();
    let (listed, rows): (Vec<Value>, Vec<String>) = notices.into_iter().unzip();
    write_json(&staging.join("notices.json"), &json!({ "notices": listed }))?;
    std::fs::write(staging.join("index.html"), index_page(&rows, &frozen))?;
    std::fs::create_dir_all(staging.join("assets"))?;
    for (name, content) in html::PUBLICATION_ASSETS {
        std::fs::write(staging.join("assets").join(name), content)?;
    }

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

/// One notice's row on the publication's page. Every `data-field` cell shows its field of
/// the signed record exactly as the viewer's in-browser check expects it.
fn notice_row(
    code: &LogCode,
    seq: u64,
    vkey: Option<&String>,
    frozen: bool,
    record: &Value,
) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or_default());
    let frozen = if frozen {
        " <span class=\"badge bad\">日志已冻结 · frozen log</span>"
    } else {
        ""
    };
    format!(
        "<tr class=\"browser-check\" data-log=\"{code}\" data-seq=\"{seq}\" data-vkey=\"{vkey}\" data-src=\"notices/{code}-{seq}.json\">\
<td data-field=\"published_on\">{published}</td><td data-field=\"title\">{title}</td>\
<td><span data-field=\"institution\">{institution}</span><br><span class=\"muted\" data-field=\"institution_code\">{institution_code}</span></td>\
<td class=\"amount\" data-field=\"amount_involved\">¥{amount}</td>\
<td class=\"muted\"><a href=\"notices/{code}-{seq}.json\">{code} #{seq}</a>{frozen}</td>\
{badge}</tr>",
        vkey = escape(vkey.map(String::as_str).unwrap_or_default()),
        published = text(&record["published_on"]),
        title = text(&record["title"]),
        institution = text(&record["institution"]["name"]),
        institution_code = text(&record["institution"]["code"]),
        amount = yuan(record["amount_involved"].as_u64().unwrap_or(0)),
        badge = html::row_badge_cell(html::Lang::Zh),
    )
}

/// The publication's page: every notice, newest first, below a warning for each frozen
/// log.
fn index_page(rows: &[String], frozen: &[LogCode]) -> String {
    let flags: String = frozen
        .iter()
        .map(|code| html::frozen_flag(html::Lang::Zh, code.as_str()))
        .collect();
    let body = format!(
        "{flags}<h1>医保基金使用违法违规问题曝光 <small class=\"muted\">Exposure notices</small></h1>\
<p class=\"muted\">共 {count} 条。条目、证明与检查点：<a href=\"notices.json\">notices.json</a>、<a href=\"logs.json\">logs.json</a>。 \
{count} notices; the signed entries, proofs and checkpoints are in the files listed.</p>\
<table><thead><tr><th>发布日期<br><small>Published</small></th><th>标题<br><small>Title</small></th>\
<th>机构<br><small>Institution</small></th><th>涉及金额<br><small>Amount involved</small></th>\
<th>日志 · 序号<br><small>Log · seq</small></th><th class=\"js-only\" hidden>浏览器核验<br><small>Browser check</small></th></tr></thead>\
<tbody>{rows}</tbody></table>",
        count = rows.len(),
        rows = rows.concat(),
    );
    html::publication_page("曝光通报 · Exposure notices", &body)
}

/// Where a notice of `notices.json` stands in the list.
fn listed_order(n: &Value) -> (Reverse<&str>, Reverse<u64>, &str, u64) {
    notice_order(
        n["published_on"].as_str().unwrap_or_default(),
        n["timestamp_ms"].as_u64().unwrap_or(0),
        n["log"].as_str().unwrap_or_default(),
        n["seq"].as_u64().unwrap_or(0),
    )
}
