//! `yibao bench-import`: the import rate of a generated bureau ledger (100,000 rows by
//! default) into a fresh node, next to the 2-core ed25519 sign and batch-verify rates
//! measured in the same run (every imported entry is signed once by the import and
//! verified once by the append path, so together they bound the entry rate).
//!
//! Not a test: nothing here asserts a speed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use ed25519_dalek::{Signer, SigningKey};
use rayon::prelude::*;
use serde_json::json;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_ledger::verify;
use yibao_node::import::{self, mapping::Mapping, ImportOptions};
use yibao_node::workload::{self, Officers, Rng};
use yibao_schema::policy::Policy;

/// Options of `yibao bench-import`.
#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Rows in the generated ledger file.
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Entries per all-or-nothing batch.
    #[arg(long, default_value_t = import::DEFAULT_BATCH_ENTRIES)]
    batch: usize,
    /// Work in this directory (kept afterwards) instead of a temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A generated ledger in CSV: two rows (findings) per case, each with a decision and a
/// rectification deadline, amounts with fen and thousands separators, multiples 1–5×.
pub fn generated_csv(rows: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(rows * 200);
    out.push('\u{feff}');
    out.push_str("案件编号,机构名称,机构编码,检查类型,检查日期,违规类型,违规金额（元）,追回金额,违约金倍数,罚款倍数,处理结果,处理日期,整改期限\n");
    let types = ["日常检查", "专项检查", "随机抽查", "智能监控"];
    // (label, fine multiples allowed)
    let violations: [(&str, &[&str]); 6] = [
        ("分解住院", &["1", "1.5", "2"]),
        ("重复收费", &["1", "1.5"]),
        ("串换药品", &["1", "2"]),
        ("过度检查", &["", "1"]),
        ("虚构医药服务项目", &["2", "3.5", "5"]),
        ("挂床住院", &["1.5", ""]),
    ];
    let handlings = [
        "约谈",
        "责令改正",
        "约谈、暂停医保结算6个月",
        "",
        "移交公安",
    ];
    for row in 0..rows {
        let case = row / 2;
        let year = 2021 + (case % 3);
        let inst = case % 300;
        let month = 1 + (case % 6);
        let (label, fines) = violations[rng.below(violations.len() as u64) as usize];
        let fen = 10_000 + rng.below(20_000_000);
        let amount = if row % 3 == 0 {
            let yuan = fen / 100;
            format!("\"{},{:03}.{:02}\"", yuan / 1000, yuan % 1000, fen % 100)
        } else {
            format!("{}.{:02}", fen / 100, fen % 100)
        };
        let recovered = if row % 5 == 0 {
            format!("{}", fen / 200)
        } else {
            format!("{}.{:02}", fen / 100, fen % 100)
        };
        let damages = ["1", "1.5", "2", ""][rng.below(4) as usize];
        let fine = fines[rng.below(fines.len() as u64) as usize];
        out.push_str(&format!(
            "LL{year}-{case:06},柳林县第{inst}诊所,H141125{inst:05},{},{year}-{month:02}-{:02},{label},{amount},{recovered},{damages},{fine},{},{year}-{:02}-{:02},{}-{:02}-28\n",
            types[case % types.len()],
            1 + case % 28,
            handlings[rng.below(handlings.len() as u64) as usize],
            month + 6,
            1 + row % 28,
            year + 1,
            1 + row % 12,
        ));
    }
    out
}

fn rate(count: u64, seconds: f64) -> f64 {
    count as f64 / seconds.max(1e-9)
}

/// ed25519-dalek signing of statement-sized messages on every core.
fn sign_ceiling() -> f64 {
    let key = SigningKey::from_bytes(&[9; 32]);
    let messages: Vec<Vec<u8>> = (0..32_768u64)
        .map(|i| {
            let mut m = vec![0u8; 180];
            m[..8].copy_from_slice(&i.to_le_bytes());
            m
        })
        .collect();
    let start = Instant::now();
    let signatures: Vec<_> = messages.par_iter().map(|m| key.sign(m)).collect();
    let r = rate(signatures.len() as u64, start.elapsed().as_secs_f64());
    std::hint::black_box(signatures);
    r
}

/// `yibao bench-import`.
pub fn run(args: &BenchImportArgs) -> Result<ExitCode> {
    // The temporary directory, if any, lives until the end of the run.
    let (root, _temp) = crate::bench::work_dir(args.data.as_deref())?;
    let threads = rayon::current_num_threads();
    println!(
        "yibao bench-import on {threads} threads, {} rows",
        args.rows
    );
    let sign = sign_ceiling();
    let (_, verify_all) = crate::bench::batch_verify_ceiling();
    // Each entry is signed once and verified once, on the same cores.
    let per_entry_ceiling = 1.0 / (1.0 / sign + 1.0 / verify_all);
    println!(
        "ceiling: ed25519 sign {sign:.0}/s, verify_batch {verify_all:.0}/s on {threads} cores; one sign + one verify per entry: {per_entry_ceiling:.0} entries/s"
    );

    let csv_path = root.join("ledger.csv");
    std::fs::write(&csv_path, generated_csv(args.rows, 5))?;
    let code = LogCode::parse("141125").context("code")?;
    let ledger = Ledger::open(&root.join("ledger"), Policy::default())?;
    let officers = Officers::from_seed(11);
    let now = crate::commands::now_ms();
    ledger.create_log(code, "柳林县医疗保障局", officers.bureau.clone(), now)?;
    let keys = workload::sign(&officers, &code.origin(), now, &officers.key_events()?)?;
    workload::append_all(&ledger, &code, keys, now)?;

    let options = ImportOptions {
        mapping: Mapping::default(),
        inspector: officers.inspector.clone(),
        adjudicator: Some(officers.adjudicator.clone()),
        skip_bad: false,
        check_only: false,
        progress: false,
        batch_entries: args.batch,
        now_ms: now,
        bureau_name: "柳林县医疗保障局".into(),
    };
    let start = Instant::now();
    let summary = import::import_file(&ledger, &code, &csv_path, &options)?;
    let seconds = start.elapsed().as_secs_f64();
    if summary.bad_rows > 0 || !summary.written {
        let first = summary
            .bad
            .first()
            .map(|e| format!("row {}, {}: {}", e.row, e.column, e.reason));
        bail!(
            "the generated file did not import: {} bad rows ({})",
            summary.bad_rows,
            first.unwrap_or_default()
        );
    }
    let [parse_s, check_s, write_s] = summary.phase_seconds;
    println!(
        "phases: read+parse {:.2} s, check against the log {check_s:.2} s, sign+append {write_s:.2} s",
        seconds - check_s - write_s
    );
    let _ = parse_s;
    let rows_per_s = rate(summary.imported_rows as u64, seconds);
    let entries_per_s = rate(summary.entries, seconds);
    println!(
        "import: {} rows → {} entries ({:.2} per row: opening once per case of two rows, finding, decision, rectification item) in {seconds:.2} s",
        summary.imported_rows,
        summary.entries,
        summary.entries as f64 / summary.imported_rows.max(1) as f64
    );
    println!(
        "import: {rows_per_s:.0} rows/s (target ≥ 50,000), {entries_per_s:.0} entries/s = {:.2} × the sign+verify ceiling",
        entries_per_s / per_entry_ceiling
    );

    let start = Instant::now();
    let again = import::import_file(&ledger, &code, &csv_path, &options)?;
    println!(
        "re-import: {} rows already present, {} entries added, {:.2} s",
        again.present_rows,
        again.entries,
        start.elapsed().as_secs_f64()
    );
    let report = verify::verify_ledger(&ledger, &|_| {});
    println!(
        "verify after import: {} entries, {}",
        report.entries(),
        if report.is_ok() { "ok" } else { "FAILED" }
    );
    if let Some(path) = &args.json {
        let figures = json!({
            "threads": threads,
            "rows": summary.imported_rows,
            "entries": summary.entries,
            "seconds": seconds,
            "phase_seconds_check": check_s,
            "phase_seconds_sign_append": write_s,
            "rows_per_s": rows_per_s,
            "entries_per_s": entries_per_s,
            "ceiling_sign_per_s": sign,
            "ceiling_batch_verify_per_s": verify_all,
            "ceiling_sign_plus_verify_entries_per_s": per_entry_ceiling,
            "ratio_to_ceiling": entries_per_s / per_entry_ceiling,
            "reimport_added": again.entries,
            "verify_ok": report.is_ok(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(if report.is_ok() && again.entries == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
