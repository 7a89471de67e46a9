//! The one-node commands of `yibao`: init, checkpoint, verify, officers, submit, show,
//! list, prove, export and verify-bundle. Each returns the process exit code or an error
//! that `main` prints; none of them panics on bad input.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use yibao_ledger::appender::system_clock;
use yibao_ledger::bundle;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{AppendError, Ledger, StoreError};
use yibao_ledger::verify::{self, Report};
use yibao_schema::entry::{EntryRef, Submission};
use yibao_schema::policy::Policy;
use yibao_schema::record::Record;

use crate::node_dir::{self, NodeDir};
use crate::output;

/// The system clock in ms since the Unix epoch.
pub fn now_ms() -> u64 {
    system_clock()()
}

fn log_code(dir: &NodeDir, log: Option<&str>) -> Result<LogCode> {
    match log {
        Some(code) => LogCode::parse(code)
            .ok_or_else(|| anyhow!("--log `{code}` is not a 6-digit division code")),
        None => dir.own_log(),
    }
}

/// `yibao init`.
pub fn init(data: &Path, county: &str, name: &str) -> Result<ExitCode> {
    let code = LogCode::parse(county).ok_or_else(|| {
        anyhow!("--county `{county}` is not a 6-digit administrative division code (e.g. 141125)")
    })?;
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let dir = NodeDir::new(data);
    if dir.config_path().exists() {
        bail!("{} already holds a node (node.json exists)", data.display());
    }
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let key = node_dir::generate_key();
    node_dir::write_key(&dir.bureau_key_path(), &key)?;
    let ledger = Ledger::open(&dir.ledger_path(), Policy::default())?;
    let receipt = ledger.create_log(code, name, key.clone(), now_ms())?;
    dir.write_config(&code, name)?;
    let meta = ledger.meta(&code)?;
    println!("created node for {} ({}) in {}", name, code, data.display());
    println!(
        "bureau key: {} (mode 0600)",
        dir.bureau_key_path().display()
    );
    println!(
        "verifier key: {}",
        bundle::genesis_vkey(&meta).map_err(|e| anyhow!(e))?
    );
    let network = yibao_node::net::identity::load_or_create(&dir.network_key_path())?;
    println!(
        "bureau public key: {}",
        hex::encode(key.verifying_key().to_bytes())
    );
    println!("peer id: {}", network.public().to_peer_id());
    println!(
        "entry {} (log created) is durable; first checkpoint:",
        receipt.seq
    );
    print!("{}", ledger.latest_checkpoint(&code)?);
    ledger.close()?;
    Ok(ExitCode::SUCCESS)
}

/// `yibao checkpoint`.
pub fn checkpoint(data: &Path, log: Option<&str>, vkey: bool) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let code = log_code(&dir, log)?;
    let ledger = dir.open_ledger()?;
    if vkey {
        let state = ledger.state(&code)?;
        let key = state
            .bureau_key()
            .ok_or_else(|| anyhow!("log {code} has no bureau key yet"))?;
        let vkey = yibao_schema::note::VerifierKey::from_public_key(
            &code.origin(),
            &key,
            yibao_schema::note::KeyKind::Ed25519,
        )?;
        println!("{vkey}");
    } else {
        print!("{}", ledger.latest_checkpoint(&code)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report, json_path: Option<&Path>) -> Result<ExitCode> {
    for log in &report.logs {
        println!(
            "log {}: {} entries, {} checkpoints verified, root {}",
            log.log, log.entries, log.checkpoints, log.root
        );
    }
    if let Some(path) = json_path {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if report.is_ok() {
        println!("verified: every signature, link, authorisation, rule, tree node and checkpoint");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED: {} problem(s)", report.failure_count);
        for failure in &report.failures {
            println!("  {failure}");
        }
        if report.failure_count as usize > report.failures.len() {
            println!(
                "  … and {} more",
                report.failure_count as usize - report.failures.len()
            );
        }
        Ok(ExitCode::from(1))
    }
}

/// `yibao verify`: exit 0 when everything verifies, 1 with a report otherwise.
pub fn verify(data: &Path, json_path: Option<&Path>) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let config = dir.config()?;
    let mut report = Report::default();
    if !dir.ledger_path().join("sled").is_dir() {
        report.fail(
            &config.division,
            None,
            "the ledger is missing from the node directory",
        );
        return print_report(&report, json_path);
    }
    let ledger = match Ledger::open(&dir.ledger_path(), Policy::default()) {
        Ok(ledger) => ledger,
        // A busy node is not a damaged one: that is an error, not a verification failure.
        Err(e @ StoreError::Locked(_)) => return Err(e.into()),
        Err(StoreError::Corrupt { log, seq, what }) => {
            let log = if log == "*" || log == "?" {
                config.division.clone()
            } else {
                log
            };
            report.fail(&log, seq, format!("the ledger cannot be opened: {what}"));
            return print_report(&report, json_path);
        }
        Err(e) => {
            report.fail(
                &config.division,
                None,
                format!("the ledger cannot be opened: {e}"),
            );
            return print_report(&report, json_path);
        }
    };
    let report = {
        let mut report = verify::verify_ledger(&ledger, &|_| {});
        if let Some(code) = LogCode::parse(&config.division) {
            if !ledger.log_codes().contains(&code) {
                report.fail(
                    &config.division,
                    None,
                    "node.json names this log, but the ledger does not hold it",
                );
            }
        }
        report
    };
    print_report(&report, json_path)
}

/// Builds a key-event record from its JSON form.
fn key_event(fields: Value) -> Result<Record> {
    let mut value = json!({ "kind": "key_event" });
    if let (Some(target), Some(source)) = (value.as_object_mut(), fields.as_object()) {
        for (k, v) in source {
            target.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(value).context("invalid key event")
}

fn append_records(
    ledger: &Ledger,
    code: &LogCode,
    key: &SigningKey,
    records: Vec<(String, Record)>,
) -> Result<bool> {
    let origin = code.origin();
    let now = now_ms();
    let mut submissions = Vec::new();
    let mut labels = Vec::new();
    for (label, record) in records {
        let payload = record
            .encode_payload()
            .map_err(|e| anyhow!("{label}: cannot encode: {e}"))?;
        submissions.push(Submission::sign(
            key,
            &origin,
            now,
            record.kind().as_str(),
            payload,
        )?);
        labels.push((label, record.kind()));
    }
    let results = ledger.append_all_or_nothing(code, submissions, now)?;
    let mut all_ok = true;
    for ((label, kind), result) in labels.iter().zip(results) {
        match result {
            Ok(receipt) if receipt.duplicate => {
                println!(
                    "{label}: already in the log at seq {} ({})",
                    receipt.seq,
                    kind.as_str()
                )
            }
            Ok(receipt) => println!(
                "{label}: appended at seq {} ({}), durable, checkpoint size {}",
                receipt.seq,
                kind.as_str(),
                receipt.checkpoint_size
            ),
            Err(AppendError::NotAppended) => {
                all_ok = false;
                eprintln!("{label}: not appended (another record in this submission was refused)");
            }
            Err(e) => {
                all_ok = false;
                eprintln!("{label}: refused: {e}");
            }
        }
    }
    Ok(all_ok)
}

fn bureau(data: &Path) -> Result<(NodeDir, Ledger, LogCode, SigningKey)> {
    let dir = NodeDir::new(data);
    let code = dir.own_log()?;
    let key = node_dir::read_key(&dir.bureau_key_path())?;
    let ledger = dir.open_ledger()?;
    Ok((dir, ledger, code, key))
}

/// `yibao officer add`.
pub fn officer_add(
    data: &Path,
    roles: &[String],
    officer_id: &str,
    surname: &str,
    public_key: Option<&str>,
    key_out: Option<&Path>,
) -> Result<ExitCode> {
    for role in roles {
        if serde_json::from_value::<yibao_schema::record::Role>(json!(role)).is_err() {
            bail!("--roles: `{role}` is not a role; roles are inspector, adjudicator, publisher, administrator");
        }
    }
    let (_, ledger, code, bureau_key) = bureau(data)?;
    let officer_public = match (public_key, key_out) {
        (Some(hex_key), _) => {
            let bytes = hex::decode(hex_key).context("--public-key is not hex")?;
            if bytes.len() != 32 {
                bail!(
                    "--public-key must be 32 bytes (64 hex digits), found {}",
                    bytes.len()
                );
            }
            hex_key.to_lowercase()
        }
        (None, Some(path)) => {
            let key = node_dir::generate_key();
            // Written before the key event, so an authorised key is never lost; removed
            // again below if the log refuses the event.
            node_dir::write_key(path, &key)?;
            hex::encode(key.verifying_key().to_bytes())
        }
        (None, None) => {
            bail!("give --public-key (from `yibao keygen`) or --key-out to generate one")
        }
    };
    let appended = key_event(json!({
        "event": "officer_added",
        "key": officer_public,
        "officer_id": officer_id,
        "surname": surname,
        "roles": roles,
    }))
    .and_then(|record| {
        append_records(
            &ledger,
            &code,
            &bureau_key,
            vec![("officer add".into(), record)],
        )
    });
    match appended {
        Ok(true) => {
            if let Some(path) = key_out {
                println!("officer key written to {} (mode 0600)", path.display());
            }
            println!("officer public key: {officer_public}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            if let (Some(path), None) = (key_out, public_key) {
                let _ = std::fs::remove_file(path);
            }
            match other {
                Err(e) => Err(e),
                _ => Ok(ExitCode::from(2)),
            }
        }
    }
}

/// `yibao officer revoke`.
pub fn officer_revoke(data: &Path, public_key: &str, reason: &str) -> Result<ExitCode> {
    let bytes =
        hex::decode(public_key).map_err(|_| anyhow!("--public-key `{public_key}` is not hex"))?;
    if bytes.len() != 32 {
        bail!(
            "--public-key must be 32 bytes (64 hex digits), found {}",
            bytes.len()
        );
    }
    let (_, ledger, code, bureau_key) = bureau(data)?;
    let record = key_event(
        json!({ "event": "officer_revoked", "key": public_key.to_lowercase(), "reason": reason }),
    )?;
    let ok = append_records(
        &ledger,
        &code,
        &bureau_key,
        vec![("officer revoke".into(), record)],
    )?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `yibao officer list`.
pub fn officer_list(data: &Path) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let code = dir.own_log()?;
    let ledger = dir.open_ledger()?;
    let state = ledger.state(&code)?;
    let officers = state.officers();
    if officers.is_empty() {
        println!("no officers yet; add one with `yibao officer add`");
    }
    for officer in officers {
        let status = match officer.revoked_seq {
            Some(seq) => format!("revoked at seq {seq}"),
            None => "active".to_string(),
        };
        println!(
            "{}  {}某  {:<12}  roles {:<40}  added at seq {}, {status}",
            hex::encode(officer.key),
            officer.surname,
            officer.officer_id.as_str(),
            officer.roles.describe(),
            officer.added_seq
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `yibao keygen`.
pub fn keygen(out: &Path) -> Result<ExitCode> {
    let key = node_dir::generate_key();
    node_dir::write_key(out, &key)?;
    println!("{}", hex::encode(key.verifying_key().to_bytes()));
    Ok(ExitCode::SUCCESS)
}

/// Reads record files: each a JSON record or an array of records. Labels name file and index.
pub fn read_record_files(files: &[PathBuf]) -> Result<Vec<(String, Record)>> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            let label = format!("{}#{}", file.display(), i);
            let record: Record = serde_json::from_value(item)
                .with_context(|| format!("{label}: not a valid record"))?;
            out.push((label, record));
        }
    }
    Ok(out)
}

/// `yibao submit`.
pub fn submit(
    data: Option<&Path>,
    node: Option<&str>,
    key_path: &Path,
    files: &[PathBuf],
) -> Result<ExitCode> {
    if let Some(url) = node {
        return submit_remote(url, key_path, files);
    }
    let data = data.ok_or_else(|| anyhow!("give --data DIR (a local node) or --node URL"))?;
    let dir = NodeDir::new(data);
    let code = dir.own_log()?;
    let key = node_dir::read_key(key_path)?;
    let records = read_record_files(files)?;
    if records.is_empty() {
        bail!("the files hold no records");
    }
    let ledger = dir.open_ledger()?;
    let ok = append_records(&ledger, &code, &key, records)?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `yibao show`.
pub fn show(data: &Path, log: Option<&str>, seq: u64) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let code = log_code(&dir, log)?;
    let ledger = dir.open_ledger()?;
    let bytes = ledger.entry(&code, seq)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&output::entry_json(code.as_str(), &bytes))?
    );
    Ok(ExitCode::SUCCESS)
}

/// `yibao list`.
pub fn list(
    data: &Path,
    log: Option<&str>,
    kind: Option<&str>,
    from: u64,
    limit: u64,
) -> Result<ExitCode> {
    if let Some(kind) = kind {
        if yibao_schema::record::RecordKind::parse(kind).is_none() {
            let known: Vec<&str> = yibao_schema::record::RecordKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect();
            bail!(
                "--kind `{kind}` is not a record kind; one of: {}",
                known.join(", ")
            );
        }
    }
    let dir = NodeDir::new(data);
    let code = log_code(&dir, log)?;
    let ledger = dir.open_ledger()?;
    let size = ledger.size(&code)?;
    let mut shown = 0u64;
    let mut start = from;
    let mut out = BufWriter::new(std::io::stdout().lock());
    while start < size && shown < limit {
        let chunk = ledger.entries(&code, start, 1024)?;
        if chunk.is_empty() {
            break;
        }
        for (seq, bytes) in &chunk {
            start = seq + 1;
            if shown >= limit {
                break;
            }
            match EntryRef::decode(bytes) {
                Ok(entry) => {
                    let statement = entry.submission.statement;
                    if kind.is_some_and(|k| k != statement.kind) {
                        continue;
                    }
                    writeln!(
                        out,
                        "{seq:>8}  {}  {:<22} author {}",
                        output::shanghai_time(statement.timestamp_ms),
                        statement.kind,
                        &hex::encode(statement.author)[..16]
                    )?;
                }
                Err(e) => writeln!(out, "{seq:>8}  MALFORMED: {e}")?,
            }
            shown += 1;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `yibao prove`.
pub fn prove(data: &Path, log: Option<&str>, seq: u64) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let code = log_code(&dir, log)?;
    let ledger = dir.open_ledger()?;
    let checkpoint = ledger.latest_checkpoint(&code)?;
    let size = ledger.size(&code)?;
    let (bytes, proof) = ledger.entry_with_inclusion_proof(&code, seq, size)?;
    let leaf =
        <yibao_ledger::merkle::Blake3Hasher as yibao_ledger::merkle::MerkleHasher>::leaf(&bytes);
    let value = json!({
        "log": code.as_str(),
        "origin": code.origin(),
        "seq": seq,
        "tree_size": size,
        "leaf_hash": hex::encode(leaf),
        "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "root": hex::encode(ledger.root(&code)?),
        "checkpoint": checkpoint,
        "entry": hex::encode(&bytes),
    });
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(ExitCode::SUCCESS)
}

/// `yibao export`.
pub fn export(data: &Path, out: &Path, logs: &[String]) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let ledger = dir.open_ledger()?;
    let codes = logs
        .iter()
        .map(|code| {
            LogCode::parse(code)
                .ok_or_else(|| anyhow!("--log `{code}` is not a 6-digit division code"))
        })
        .collect::<Result<Vec<_>>>()?;
    for code in &codes {
        if !ledger.log_codes().contains(code) {
            bail!("no log {code} in this node's ledger (--log)");
        }
    }
    // Write beside the target and rename, so a failed export leaves no partial bundle.
    let partial = out.with_extension("partial");
    let result = (|| -> Result<u64> {
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut writer = BufWriter::new(file);
        let written = bundle::export(&ledger, &codes, &mut writer)?;
        writer
            .into_inner()
            .map_err(|e| anyhow!("cannot write {}: {}", partial.display(), e.error()))?
            .sync_all()?;
        std::fs::rename(&partial, out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        Ok(written)
    })();
    let written = match result {
        Ok(written) => written,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    println!("exported {written} entries to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `yibao verify-bundle`.
pub fn verify_bundle(
    file: &Path,
    vkeys: &[String],
    trust_bundle: bool,
    json_path: Option<&Path>,
) -> Result<ExitCode> {
    yibao_node::audit::check_pinned_keys(vkeys, trust_bundle)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = match bundle::verify_bundle(&bytes, &Policy::default(), vkeys, &|_| {}) {
        Ok(report) => report,
        Err(e) => {
            let mut report = Report::default();
            report.fail("bundle", None, e.to_string());
            report
        }
    };
    if trust_bundle {
        println!("note: no --vkey pinned; the bundle's own keys were trusted (--trust-bundle)");
    }
    print_report(&report, json_path)
}

/// `yibao submit --node URL`: signs each record here and posts it to the node's API, one
/// by one, in order; each receipt's inclusion proof is checked against the node's signed
/// checkpoint. Stops at the first refusal (the records before it are in the log).
fn submit_remote(url: &str, key_path: &Path, files: &[PathBuf]) -> Result<ExitCode> {
    use yibao_node::http_client::request;
    let key = node_dir::read_key(key_path)?;
    let records = read_record_files(files)?;
    if records.is_empty() {
        bail!("the files hold no records");
    }
    let (status, body) = request(url, "GET", "/v1/logs", None, &[])?;
    if status != 200 {
        bail!("{url}: GET /v1/logs answered {status}");
    }
    let logs: Value = serde_json::from_slice(&body).context("the node's /v1/logs")?;
    let own = logs["logs"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["own"] == true))
        .ok_or_else(|| anyhow!("{url} accepts no submissions (it owns no log)"))?;
    let code = own["log"]
        .as_str()
        .and_then(LogCode::parse)
        .ok_or_else(|| anyhow!("{url}: bad log code"))?;
    let vkey: yibao_schema::note::VerifierKey = own["vkey"]
        .as_str()
        .unwrap_or("")
        .parse()
        .map_err(|e| anyhow!("{url}: bad verifier key: {e}"))?;
    let origin = code.origin();
    for (label, record) in records {
        let payload = record
            .encode_payload()
            .map_err(|e| anyhow!("{label}: cannot encode: {e}"))?;
        let submission =
            Submission::sign(&key, &origin, now_ms(), record.kind().as_str(), payload)?;
        let (status, body) = request(
            url,
            "POST",
            &format!("/v1/logs/{code}/entries"),
            Some("application/cbor"),
            &submission.encode(),
        )?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status != 200 && status != 201 {
            eprintln!(
                "{label}: refused ({status}): {}: {}",
                answer["error"]["field"].as_str().unwrap_or(""),
                answer["error"]["reason"].as_str().unwrap_or("")
            );
            return Ok(ExitCode::from(2));
        }
        let seq = answer["seq"].as_u64().unwrap_or(0);
        check_receipt(url, &code, &vkey, &answer).with_context(|| {
            format!("{label}: the node's receipt for seq {seq} does not verify")
        })?;
        println!(
            "{label}: {} at seq {seq} ({}), durable; inclusion proof verified against the signed checkpoint",
            if status == 200 { "already in the log" } else { "appended" },
            record.kind().as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks a receipt: the entry's inclusion in the node's latest checkpoint, signed by the
/// log's key (the receipt's own proof when the log has not grown since).
fn check_receipt(
    url: &str,
    code: &LogCode,
    vkey: &yibao_schema::note::VerifierKey,
    receipt: &Value,
) -> Result<()> {
    use yibao_ledger::merkle::{verify_inclusion, Blake3Hasher, LeafIndex, TreeSize};
    use yibao_node::http_client::request;
    let hash = |v: &Value| -> Result<[u8; 32]> {
        hex::decode(v.as_str().unwrap_or(""))
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow!("bad hash"))
    };
    let seq = receipt["seq"].as_u64().ok_or_else(|| anyhow!("no seq"))?;
    let size = receipt["tree_size"]
        .as_u64()
        .ok_or_else(|| anyhow!("no tree size"))?;
    let leaf = hash(&receipt["leaf_hash"])?;
    let proof: Vec<[u8; 32]> = receipt["proof"]
        .as_array()
        .ok_or_else(|| anyhow!("no proof"))?
        .iter()
        .map(hash)
        .collect::<Result<_>>()?;
    let (status, text) = request(
        url,
        "GET",
        &format!("/v1/logs/{code}/checkpoint"),
        None,
        &[],
    )?;
    if status != 200 {
        bail!("checkpoint: {status}");
    }
    let signed = yibao_schema::note::SignedCheckpoint::parse(&String::from_utf8_lossy(&text))?;
    signed.verify(vkey)?;
    let latest = signed.checkpoint;
    if latest.size == size {
        return verify_inclusion::<Blake3Hasher>(
            &leaf,
            LeafIndex(seq),
            TreeSize(size),
            &proof,
            &latest.root,
        )
        .map_err(|e| anyhow!("{e}"));
    }
    // The log grew since: the entry must be in the latest signed checkpoint.
    let (status, body) = request(
        url,
        "GET",
        &format!(
            "/v1/logs/{code}/proofs/inclusion?seq={seq}&size={}",
            latest.size
        ),
        None,
        &[],
    )?;
    if status != 200 {
        bail!("inclusion at {}: {status}", latest.size);
    }
    let fresh: Value = serde_json::from_slice(&body)?;
    let fresh_proof: Vec<[u8; 32]> = fresh["proof"]
        .as_array()
        .ok_or_else(|| anyhow!("no proof"))?
        .iter()
        .map(hash)
        .collect::<Result<_>>()?;
    verify_inclusion::<Blake3Hasher>(
        &leaf,
        LeafIndex(seq),
        TreeSize(latest.size),
        &fresh_proof,
        &latest.root,
    )
    .map_err(|e| anyhow!("{e}"))
}

/// `yibao rotate-bureau-key`: a new bureau key for the node's log. The rotation entry is
/// signed by the old key; the new key signs its checkpoint and every later one. The new
/// key is written (0600) before the entry is appended, and becomes `bureau.key` once the
/// entry is durable (the old one is kept as `bureau.key.retired`); a crash in between is
/// resolved on the next open.
pub fn rotate_bureau_key(data: &Path) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let code = dir.own_log()?;
    let ledger = dir.open_ledger()?;
    let old = node_dir::read_key(&dir.bureau_key_path())?;
    if ledger.bureau_key(&code)? != Some(old.verifying_key().to_bytes()) {
        bail!("bureau.key is not the log's bureau key in force; nothing rotated");
    }
    let new = node_dir::generate_key();
    node_dir::write_key(&dir.next_bureau_key_path(), &new)?;
    let record = Record::KeyEvent(yibao_schema::record::KeyEvent::BureauKeyRotated {
        new_key: new.verifying_key().to_bytes().into(),
    });
    let payload = record.encode_payload().map_err(|e| anyhow!("{e}"))?;
    let now = now_ms();
    let submission = Submission::sign(&old, &code.origin(), now, record.kind().as_str(), payload)?;
    ledger.set_signer(&code, new.clone())?;
    let result = ledger
        .append_all_or_nothing(&code, vec![submission], now)
        .map_err(anyhow::Error::from)
        .and_then(|mut r| {
            r.pop()
                .ok_or_else(|| anyhow!("no receipt"))?
                .map_err(anyhow::Error::from)
        });
    match result {
        Ok(receipt) => {
            dir.finish_rotation(&ledger, &code)?;
            println!(
                "bureau key rotated at seq {}; the new key signs from now on",
                receipt.seq
            );
            println!("verifier key: {}", ledger.log_verifier_key(&code)?);
            println!(
                "old key kept in {}",
                data.join("bureau.key.retired").display()
            );
            ledger.close()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = std::fs::remove_file(dir.next_bureau_key_path());
            Err(e.context("the rotation was refused; the bureau key is unchanged"))
        }
    }
}
