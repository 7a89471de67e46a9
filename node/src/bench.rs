//! `yibao bench`: the figures the project is held to, each next to a ceiling measured in
//! the same run on the same machine, because these machines are noisy.
//!
//! Ceilings: ed25519-dalek's own `verify_batch` rate (1,024 per batch) on one core and on
//! every core, and the serial rate of a 4 KiB write + fsync. Figures: durable appends with
//! 1 and 64 concurrent submitters, full verification of a large ledger, on-disk bytes per
//! raw entry byte, and inclusion-proof generation time. Records are a realistic mix
//! (`workload`), signed before the clock starts: signing is the officer's cost, not the
//! node's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rayon::prelude::*;
use serde_json::json;
use yibao_ledger::appender::{system_clock, Appender};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_ledger::verify;
use yibao_schema::policy::Policy;

use crate::workload::{self, Workload};

/// Options of `yibao bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Entries in the ledger that is verified, measured for size and proved against.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Seconds each append run lasts.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Work in this directory (kept afterwards) instead of a temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// CPU seconds (user + system) this process has used so far, from `/proc/self/stat`;
/// `None` where that file is missing or unreadable. Divided by the entries of a run, it is
/// a figure a noisy machine moves less than the rate: time the process waited for a core
/// does not count.
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses; utime and
    // stime are fields 14 and 15 of the line, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// CPU seconds this process has used since `before` (a [`process_cpu_seconds`] reading).
pub(crate) fn process_cpu_since(before: Option<f64>) -> Option<f64> {
    Some(process_cpu_seconds()? - before?)
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// ed25519-dalek `verify_batch` over 1,024-signature batches of statement-sized messages,
/// on one thread and on all threads.
pub(crate) fn batch_verify_ceiling() -> (f64, f64) {
    const BATCH: usize = 1024;
    // About a second on each side: shorter runs swung by ±30% on a shared machine.
    const BATCHES: usize = 64;
    let keys: Vec<SigningKey> = (0..16u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let messages: Vec<Vec<u8>> = (0..BATCH * BATCHES)
        .map(|i| {
            let mut m = vec![0u8; 180];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m
        })
        .collect();
    let signed: Vec<(VerifyingKey, Signature)> = messages
        .par_iter()
        .enumerate()
        .map(|(i, m)| {
            let key = &keys[i % keys.len()];
            (key.verifying_key(), key.sign(m))
        })
        .collect();
    let run_batch = |b: usize| {
        let range = b * BATCH..(b + 1) * BATCH;
        let msgs: Vec<&[u8]> = messages[range.clone()].iter().map(Vec::as_slice).collect();
        let sigs: Vec<Signature> = signed[range.clone()].iter().map(|(_, s)| *s).collect();
        let vks: Vec<VerifyingKey> = signed[range].iter().map(|(k, _)| *k).collect();
        ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok()
    };
    let start = Instant::now();
    let ok1 = (0..BATCHES).all(run_batch);
    let one = rate((BATCH * BATCHES) as u64, start.elapsed());
    let start = Instant::now();
    let ok2 = (0..BATCHES).into_par_iter().all(run_batch);
    let all = rate((BATCH * BATCHES) as u64, start.elapsed());
    if !(ok1 && ok2) {
        eprintln!("warning: ceiling signatures did not verify");
    }
    (one, all)
}

/// Serial 4 KiB write + fsync in `dir`: the rate, and the latency of one write + fsync.
pub(crate) struct FsyncCeiling {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Display for FsyncCeiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}/s serial, one write + fsync p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.per_second, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Measures [`FsyncCeiling`] over 1,000 rounds.
pub(crate) fn fsync_ceiling(dir: &Path) -> Result<FsyncCeiling> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let block = vec![7u8; 4096];
    let rounds = 1000u64;
    let mut latencies = Vec::with_capacity(rounds as usize);
    let start = Instant::now();
    for _ in 0..rounds {
        let one = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        latencies.push(one.elapsed().as_secs_f64() * 1e3);
    }
    let per_second = rate(rounds, start.elapsed());
    drop(file);
    std::fs::remove_file(&path)?;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or(0.0)
    };
    Ok(FsyncCeiling {
        per_second,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => total += dir_size(&entry.path()),
                Ok(meta) => {
                    use std::os::unix::fs::MetadataExt;
                    // Allocated blocks, not the apparent length: what the disk really holds.
                    total += meta.blocks() * 512;
                }
                Err(_) => {}
            }
        }
    }
    total
}

/// What one append run measured.
struct AppendRun {
    per_second: f64,
    durable: u64,
    /// CPU of the whole process during the run, per durable entry.
    cpu_us_per_entry: Option<f64>,
}

impl AppendRun {
    fn cpu_text(&self) -> String {
        self.cpu_us_per_entry
            .map(|us| format!("; {us:.1} µs of CPU per entry"))
            .unwrap_or_default()
    }
}

/// Appends pre-signed submissions from `submitters` threads for `seconds`.
fn append_run(
    ledger: Arc<Ledger>,
    code: LogCode,
    work: &Workload,
    submitters: usize,
    seconds: u64,
) -> Result<AppendRun> {
    let (appender, writer) = Appender::start(ledger.clone(), code, system_clock())?;
    let per_thread = work.submissions_for_run(submitters, seconds)?;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu_seconds();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for subs in per_thread {
            let appender = appender.clone();
            let stop = stop.clone();
            let count = count.clone();
            let refused = refused.clone();
            scope.spawn(move || {
                for submission in subs {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match appender.submit(submission) {
                        Ok(_) => count.fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = start.elapsed();
    drop(appender);
    writer.join();
    let durable = count.load(Ordering::Relaxed);
    let cpu_us_per_entry = process_cpu_since(cpu_before)
        .filter(|_| durable > 0)
        .map(|cpu| cpu * 1e6 / durable as f64);
    let refused = refused.load(Ordering::Relaxed);
    if refused > 0 {
        eprintln!("warning: {refused} submissions were refused during the append run");
    }
    Ok(AppendRun {
        per_second: rate(durable, elapsed),
        durable,
        cpu_us_per_entry,
    })
}

/// The directory a benchmark works in: `--data` (created if missing, kept afterwards), or
/// a temporary one that is removed when the returned guard is dropped.
pub(crate) fn work_dir(data: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match data {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Ok((dir.to_path_buf(), None))
        }
        None => {
            let temp = tempfile::tempdir()?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// `yibao bench`.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    // The temporary directory, if any, lives until the end of the run.
    let (root, _temp) = work_dir(args.data.as_deref())?;
    let threads = rayon::current_num_threads();
    println!("yibao bench on {threads} threads, {} entries", args.entries);

    let (batch_1, batch_all) = batch_verify_ceiling();
    println!("ceiling: ed25519-dalek verify_batch: {batch_1:.0}/s on 1 core, {batch_all:.0}/s on {threads} cores");
    let fsync_probe = fsync_ceiling(&root)?;
    println!("ceiling: 4 KiB write + fsync: {fsync_probe}");
    let fsync = fsync_probe.per_second;

    // Appends.
    let append_dir = root.join("append");
    let ledger = Arc::new(Ledger::open(&append_dir, Policy::default())?);
    let code = LogCode::parse("141125").context("code")?;
    let work = Workload::create(&ledger, code, "柳林县医疗保障局", 42)?;
    let one_run = append_run(ledger.clone(), code, &work, 1, args.seconds)?;
    let one = one_run.per_second;
    println!(
        "append, 1 submitter: {one:.0} entries/s ({} durable; {:.2} × the fsync ceiling{})",
        one_run.durable,
        one / fsync,
        one_run.cpu_text()
    );
    let many_run = append_run(ledger.clone(), code, &work, 64, args.seconds)?;
    let many = many_run.per_second;
    println!(
        "append, 64 submitters: {many:.0} entries/s ({} durable; target ≥ 40,000; {:.2} × the {threads}-core batch-verify ceiling{})",
        many_run.durable,
        many / batch_all,
        many_run.cpu_text()
    );
    // What the runs above left on disk: entries appended a few dozen at a time, their index
    // rows written every 200 ms (the large ledger below is built in batches of 4,096).
    let appended_entries = ledger.size(&code)?;
    let appended_raw = workload::raw_entry_bytes(&ledger, &code)?;
    drop(work);
    drop(ledger);
    let appended_on_disk = dir_size(&append_dir);
    let appended_ratio = appended_on_disk as f64 / appended_raw.max(1) as f64;
    println!(
        "storage after the append runs ({appended_entries} entries): {appended_on_disk} bytes on disk for {appended_raw} raw entry bytes: {appended_ratio:.2} ×"
    );

    // A large ledger: build, verify, measure, prove.
    let big_dir = root.join("verify");
    let big = Ledger::open(&big_dir, Policy::default())?;
    let build_start = Instant::now();
    let raw_bytes = workload::build_ledger(&big, code, "柳林县医疗保障局", args.entries, 7)?;
    println!(
        "built {} entries in {:.1} s ({:.0} entries/s appended in batches)",
        args.entries,
        build_start.elapsed().as_secs_f64(),
        rate(args.entries, build_start.elapsed())
    );
    big.close()?;
    let on_disk = dir_size(&big_dir);
    let ratio = on_disk as f64 / raw_bytes.max(1) as f64;
    println!("storage: {on_disk} bytes on disk for {raw_bytes} raw entry bytes: {ratio:.2} × (target ≤ 1.5)");

    let big = Ledger::open(&big_dir, Policy::default())?;
    let start = Instant::now();
    let report = verify::verify_ledger(&big, &|_| {});
    let verify_elapsed = start.elapsed();
    let verified = report.entries();
    let verify_rate = rate(verified, verify_elapsed);
    println!(
        "verify: {verified} entries in {:.2} s: {verify_rate:.0} entries/s = {:.2} × the {threads}-core batch-verify ceiling (target ≥ 0.75){}",
        verify_elapsed.as_secs_f64(),
        verify_rate / batch_all,
        if report.is_ok() { "" } else { " — VERIFICATION FAILED" }
    );
    for failure in report.failures.iter().take(5) {
        println!("  {failure}");
    }

    // The ceiling again, right after the verification it is compared with: the ratio is to
    // the mean of the two measurements, since a shared machine's speed drifts.
    let (batch_1_after, batch_all_after) = batch_verify_ceiling();
    let ceiling_mean = (batch_all + batch_all_after) / 2.0;
    println!(
        "ceiling again: ed25519-dalek verify_batch: {batch_1_after:.0}/s on 1 core, {batch_all_after:.0}/s on {threads} cores; verify = {:.2} × their mean {ceiling_mean:.0}/s",
        verify_rate / ceiling_mean
    );

    let size = big.size(&code)?;
    let proofs = 20_000u64;
    // The same random entries twice: the first pass reads and hashes each block (the
    // ledger was just opened, with no state replay to fill the caches), the second finds
    // the blocks' leaf tiles and the stored nodes in memory.
    let prove_all = || -> Result<f64> {
        let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
        let start = Instant::now();
        for _ in 0..proofs {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            let seq = rng_state % size.max(1);
            big.inclusion_proof(&code, seq, size)?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / proofs as f64)
    };
    let per_proof = prove_all()?;
    let per_proof_warm = prove_all()?;
    println!(
        "inclusion proof at {size} entries: {per_proof:.1} µs per proof cold ({:.0}/s, one thread), {per_proof_warm:.1} µs warm ({:.0}/s)",
        1e6 / per_proof,
        1e6 / per_proof_warm
    );

    if let Some(path) = &args.json {
        let figures = json!({
            "threads": threads,
            "ceiling_batch_verify_1_core_per_s": batch_1,
            "ceiling_batch_verify_all_cores_per_s": batch_all,
            "ceiling_fsync_per_s": fsync,
            "append_1_submitter_per_s": one,
            "append_64_submitters_per_s": many,
            "append_64_ratio_to_batch_verify": many / batch_all,
            "append_1_cpu_us_per_entry": one_run.cpu_us_per_entry,
            "append_64_cpu_us_per_entry": many_run.cpu_us_per_entry,
            "verify_entries": verified,
            "verify_per_s": verify_rate,
            "verify_ratio_to_batch_verify": verify_rate / batch_all,
            "ceiling_batch_verify_all_cores_after_verify_per_s": batch_all_after,
            "verify_ratio_to_mean_batch_verify": verify_rate / ceiling_mean,
            "verify_ok": report.is_ok(),
            "storage_on_disk_bytes": on_disk,
            "storage_raw_entry_bytes": raw_bytes,
            "storage_ratio": ratio,
            "storage_after_append_runs_entries": appended_entries,
            "storage_after_append_runs_ratio": appended_ratio,
            "inclusion_proof_warm_us": per_proof_warm,
            "inclusion_proof_us": per_proof,
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
