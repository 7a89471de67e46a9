//! `yibao demo` at this stage: one county's ledger, in a temporary directory or `--data`,
//! loaded with the example records (the seed cases), verified, with its checkpoint and an
//! inclusion proof printed. Later issues grow it into the city network with its viewer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{verify_inclusion, Blake3Hasher, LeafIndex, MerkleHasher, TreeSize};
use yibao_ledger::store::Ledger;
use yibao_ledger::verify;
use yibao_schema::policy::Policy;
use yibao_schema::record::Record;

use crate::commands::read_record_files;
use crate::output;
use crate::workload::{self, Officers, Signer};

/// The officer whose role allows a record kind, in the demo's four-officer bureau.
fn signer_for(record: &Record) -> Signer {
    use yibao_schema::record::RecordKind as K;
    match record.kind() {
        K::KeyEvent => Signer::Bureau,
        K::InstitutionRegistered | K::InstitutionUpdated => Signer::Administrator,
        K::InspectionOpened | K::Finding | K::RectificationItem | K::RectificationUpdate => {
            Signer::Inspector
        }
        K::Decision | K::GradeSet | K::GradeRevision => Signer::Adjudicator,
        K::ExposureNotice => Signer::Publisher,
        K::Correction => Signer::Adjudicator,
    }
}

/// `yibao demo`.
pub fn run(data: Option<&Path>, records_dir: &Path) -> Result<ExitCode> {
    let temp;
    let root: PathBuf = match data {
        Some(dir) => dir.to_path_buf(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(records_dir)
        .with_context(|| format!("cannot read the example records in {} (run from the repository root or pass --records)", records_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no example records (*.json) in {}", records_dir.display());
    }
    let records = read_record_files(&files)?;

    let code = LogCode::parse("141125").context("code")?;
    let name = "柳林县医疗保障局";
    let node = crate::node_dir::NodeDir::new(&root);
    if node.config_path().exists() {
        bail!(
            "{} already holds a node; give the demo an empty directory",
            root.display()
        );
    }
    std::fs::create_dir_all(&root)?;
    let officers = Officers::from_seed(2021);
    crate::node_dir::write_key(&node.bureau_key_path(), &officers.bureau)?;
    for (file, signer) in [
        ("administrator.key", Signer::Administrator),
        ("inspector.key", Signer::Inspector),
        ("adjudicator.key", Signer::Adjudicator),
        ("publisher.key", Signer::Publisher),
    ] {
        crate::node_dir::write_key(&root.join(file), officers.key(signer))?;
    }
    node.write_config(&code, name)?;

    let ledger = Ledger::open(&node.ledger_path(), Policy::default())?;
    let now = yibao_ledger::appender::system_clock()();
    ledger.create_log(code, name, officers.bureau.clone(), now)?;
    let mut all: Vec<(Signer, Record)> = officers.key_events()?;
    all.extend(
        records
            .into_iter()
            .map(|(_, record)| (signer_for(&record), record)),
    );
    let submissions = workload::sign(&officers, &code.origin(), now, &all)?;
    workload::append_all(&ledger, &code, submissions, now)?;

    let size = ledger.size(&code)?;
    println!("demo ledger for {name} ({code}) in {}", root.display());
    println!(
        "{size} entries appended from {} example files; officers' keys beside node.json",
        files.len()
    );
    let report = verify::verify_ledger(&ledger, &|_| {});
    println!(
        "verify: {} ({} entries, {} checkpoints)",
        if report.is_ok() {
            "every signature, link, authorisation, rule, tree node and checkpoint verified"
        } else {
            "FAILED"
        },
        report.entries(),
        report.logs.iter().map(|l| l.checkpoints).sum::<u64>()
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    println!(
        "verifier key: {}",
        yibao_ledger::bundle::genesis_vkey(&ledger.meta(&code)?).map_err(anyhow::Error::msg)?
    );
    println!("latest checkpoint:");
    print!("{}", ledger.latest_checkpoint(&code)?);

    // Show one exposure notice with its inclusion proof checked against the checkpoint.
    let mut shown = false;
    for (seq, bytes) in ledger.entries(&code, 0, size)? {
        let entry = output::entry_json(code.as_str(), &bytes);
        if entry["kind"] == "exposure_notice" && !shown {
            let proof = ledger.inclusion_proof(&code, seq, size)?;
            let root = ledger.root(&code)?;
            let ok = verify_inclusion::<Blake3Hasher>(
                &Blake3Hasher::leaf(&bytes),
                LeafIndex(seq),
                TreeSize(size),
                &proof,
                &root,
            )
            .is_ok();
            println!(
                "exposure notice at seq {seq}: {} — inclusion proof of {} hashes {}",
                entry["record"]["title"].as_str().unwrap_or("?"),
                proof.len(),
                if ok {
                    "verifies against the checkpoint's root"
                } else {
                    "DOES NOT VERIFY"
                }
            );
            shown = true;
        }
    }
    println!(
        "try: yibao list --data {0}; yibao verify --data {0}; yibao checkpoint --data {0} --vkey",
        root.display()
    );
    ledger.close()?;
    if data.is_none() {
        println!("(temporary directory removed; pass --data DIR to keep the ledger)");
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
