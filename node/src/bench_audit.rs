//! `yibao bench-audit`: the city audit of a merged ledger of several counties (1,000,000
//! entries over 10 counties by default), next to the 2-core ed25519 batch-verify rate and
//! a plain `verify` of the same ledger, measured in the same run.
//!
//! The machines are shared and noisy, and the ceiling is a short measurement: one slow
//! second during it or during the audit moves a single ratio by ±15%. So the audit is run
//! several times (`--runs`, 3 by default), each between two ceiling measurements, and each
//! run's ratio is its rate over the mean of the ceilings either side of it; the median of
//! those ratios is the figure, with every run printed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use yibao_ledger::audit::{audit_ledger, AuditOptions};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_ledger::verify::verify_ledger;
use yibao_node::workload::build_ledger;
use yibao_schema::policy::Policy;
use yibao_schema::record::Date;

/// Options of `yibao bench-audit`.
#[derive(Debug, Args)]
pub struct BenchAuditArgs {
    /// Entries in all, spread evenly over the counties.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// How many county logs.
    #[arg(long, default_value_t = 10)]
    counties: u64,
    /// Keep (and reuse) the generated ledger in this directory.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Audits to run, each between two ceiling measurements; the median ratio is reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// `yibao bench-audit`.
pub fn run(args: &BenchAuditArgs) -> Result<ExitCode> {
    if args.counties == 0 || args.counties > 99 {
        bail!("--counties must be 1 to 99");
    }
    // The temporary directory, if any, lives until the end of the run.
    let (root, _temp) = crate::bench::work_dir(args.data.as_deref())?;
    let dir = root.join(format!("merged-{}x{}", args.counties, args.entries));
    if !dir.join("built").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let ledger = Ledger::open(&dir, Policy::default())?;
        let per_county = args.entries / args.counties;
        for i in 0..args.counties {
            let division = format!("1411{:02}", 21 + i);
            let code = LogCode::parse(&division).context("division code")?;
            eprintln!("building county log {division} of {per_county} entries…");
            build_ledger(
                &ledger,
                code,
                &format!("基准{i}县医疗保障局"),
                per_county,
                500 + i,
            )?;
        }
        ledger.close()?;
        std::fs::write(dir.join("built"), b"")?;
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let threads = rayon::current_num_threads();
    let (one_core, first_ceiling) = crate::bench::batch_verify_ceiling();
    println!(
        "ceiling: ed25519-dalek verify_batch: {one_core:.0}/s on 1 core, {first_ceiling:.0}/s on {threads} cores"
    );

    let opened = Instant::now();
    let ledger = Ledger::open(&dir, Policy::default())?;
    let open_s = opened.elapsed().as_secs_f64();
    let entries: u64 = ledger
        .log_codes()
        .iter()
        .map(|c| ledger.size(c))
        .sum::<Result<u64, _>>()?;

    let start = Instant::now();
    let verified = verify_ledger(&ledger, &|_| {});
    let verify_s = start.elapsed().as_secs_f64();
    if !verified.is_ok() {
        bail!(
            "the generated ledger does not verify: {:?}",
            verified.failures
        );
    }
    let verify_rate = entries as f64 / verify_s.max(1e-9);
    let (_, mut ceiling_before) = crate::bench::batch_verify_ceiling();
    let verify_ceiling = (first_ceiling + ceiling_before) / 2.0;
    println!(
        "ledger: {entries} entries in {} county logs (opened in {open_s:.2} s)",
        ledger.log_codes().len()
    );
    println!(
        "verify: {verify_rate:.0} entries/s ({:.2}× the mean {threads}-core batch-verify rate either side, {verify_ceiling:.0}/s)",
        verify_rate / verify_ceiling
    );

    let as_of = Date::from_ymd(2026, 1, 1).context("date")?;
    let mut runs = Vec::new();
    let mut ratios = Vec::new();
    let mut breaches = 0;
    for run in 1..=args.runs {
        let start = Instant::now();
        let report = audit_ledger(&ledger, &AuditOptions::new(as_of), &|_| {});
        let audit_s = start.elapsed().as_secs_f64();
        breaches = report.breach_count;
        drop(report);
        let (_, ceiling_after) = crate::bench::batch_verify_ceiling();
        let audit_rate = entries as f64 / audit_s.max(1e-9);
        let ceiling = (ceiling_before + ceiling_after) / 2.0;
        let ratio = audit_rate / ceiling;
        println!(
            "audit run {run}: {audit_rate:.0} entries/s in {audit_s:.2} s; batch verify {ceiling_before:.0}/s before, {ceiling_after:.0}/s after: {ratio:.2}×"
        );
        runs.push(json!({
            "audit_s": audit_s,
            "audit_entries_per_s": audit_rate,
            "batch_verify_before_per_s": ceiling_before,
            "batch_verify_after_per_s": ceiling_after,
            "ratio_to_batch_verify": ratio,
        }));
        ratios.push(ratio);
        ceiling_before = ceiling_after;
    }
    ratios.sort_by(f64::total_cmp);
    // With an even number of runs, the mean of the middle two.
    let middle = ratios.len() / 2;
    let median = match (ratios.len() % 2, middle.checked_sub(1)) {
        (0, Some(below)) => (ratios[below] + ratios[middle]) / 2.0,
        _ => ratios.get(middle).copied().unwrap_or(0.0),
    };
    let (low, high) = (
        ratios.first().copied().unwrap_or(0.0),
        ratios.last().copied().unwrap_or(0.0),
    );
    println!(
        "audit:  median {median:.2}× the {threads}-core batch-verify rate over {} runs (range {low:.2}–{high:.2}; target ≥ 0.75×), {breaches} breaches found",
        runs.len()
    );
    if let Some(path) = &args.json {
        let figures = json!({
            "threads": threads,
            "entries": entries,
            "counties": ledger.log_codes().len(),
            "batch_verify_one_core_per_s": one_core,
            "open_s": open_s,
            "verify_entries_per_s": verify_rate,
            "verify_ratio_to_batch_verify": verify_rate / verify_ceiling,
            "audit_runs": runs,
            "audit_ratio_to_batch_verify": median,
            "breaches": breaches,
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
