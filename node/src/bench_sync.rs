//! `yibao bench-sync`: a new node catching up several logs from an established network
//! over libp2p on loopback (each source node owns one log and, before the clock, has
//! replicated the others'), every entry verified and durably stored, next to the 2-core
//! ed25519 batch-verify rate measured in the same run.
//!
//! Before session 12 the sources did not replicate each other before the clock: a fresh
//! run measured them catching up each other's logs from the new node along with it, and a
//! reused `--data` directory held sources that had (after several runs, every log).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::net::identity::keypair_from_seed;
use yibao_node::net::{NetConfig, NodeHandle};
use yibao_node::workload::{build_ledger, Officers};
use yibao_schema::manifest::{Manifest, ManifestBody, Member};
use yibao_schema::note::SignedCheckpoint;
use yibao_schema::policy::Policy;

/// Options of `yibao bench-sync`.
#[derive(Debug, Args)]
pub struct BenchSyncArgs {
    /// Entries in all, spread over the logs.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// How many logs (each served by its own owner node).
    #[arg(long, default_value_t = 4)]
    logs: u64,
    /// Work in this directory (the source ledgers are kept and reused) instead of a
    /// temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Entries the new node asks for at a time (the node's default is the protocol's
    /// largest batch).
    #[arg(long, default_value_t = yibao_node::net::protocol::MAX_ENTRIES_PER_REQUEST)]
    batch: u64,
}

const FIRST_DIVISION: u64 = 140_702;

fn division(i: u64) -> String {
    (FIRST_DIVISION + i).to_string()
}

fn seed(i: u64) -> [u8; 32] {
    let mut s = [0x3c; 32];
    s[0] = i as u8;
    s
}

/// `yibao bench-sync`.
pub fn run(args: &BenchSyncArgs) -> Result<ExitCode> {
    if args.logs == 0 || args.logs > 32 {
        bail!("--logs must be 1 to 32");
    }
    // The temporary directory, if any, lives until the end of the run.
    let (root, _temp) = crate::bench::work_dir(args.data.as_deref())?;
    let per_log = args.entries / args.logs;
    // Sources: built once (kept with --data).
    for i in 0..args.logs {
        let dir = root.join(format!("source-{i}"));
        if dir.join("built").exists() {
            continue;
        }
        let _ = std::fs::remove_dir_all(&dir);
        let ledger = Ledger::open(&dir, Policy::default())?;
        let code = LogCode::parse(&division(i)).context("division")?;
        eprintln!("building source log {code} of {per_log} entries…");
        build_ledger(
            &ledger,
            code,
            &format!("基准{i}县医疗保障局"),
            per_log,
            100 + i,
        )?;
        ledger.close()?;
        std::fs::write(dir.join("built"), b"")?;
    }
    let (one_core, ceiling) = crate::bench::batch_verify_ceiling();
    eprintln!("batch verify: {one_core:.0}/s on one core, {ceiling:.0}/s on all");

    let target_dir = root.join("target");
    let _ = std::fs::remove_dir_all(&target_dir);
    let city = ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]);
    let mut body = ManifestBody::new("bench", &city.verifying_key().to_bytes());
    let target_officers = Officers::from_seed(9_999);
    let target_division = "140799".to_string();
    let members = (0..args.logs)
        .map(|i| (division(i), Officers::from_seed(100 + i).bureau, seed(i)))
        .chain(std::iter::once((
            target_division.clone(),
            target_officers.bureau.clone(),
            seed(99),
        )));
    for (div, bureau, net_seed) in members {
        body.upsert_member(Member {
            division: div.clone(),
            name: format!("{div}医疗保障局"),
            log_key: hex::encode(bureau.verifying_key().to_bytes()),
            peer_id: keypair_from_seed(net_seed)?
                .public()
                .to_peer_id()
                .to_string(),
            addrs: Vec::new(),
        });
    }
    let manifest = Manifest::sign(body, &city)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (entries, seconds, cpu_seconds) = runtime.block_on(async {
        let config = NetConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
            status_interval: Duration::from_millis(200),
            batch: args.batch,
            ..NetConfig::default()
        };
        let mut sources = Vec::new();
        let sources_started = Instant::now();
        for i in 0..args.logs {
            let ledger = Arc::new(Ledger::open(
                &root.join(format!("source-{i}")),
                Policy::default(),
            )?);
            let code = LogCode::parse(&division(i)).context("division")?;
            let own = Some((code, Officers::from_seed(100 + i).bureau));
            sources.push(
                NodeHandle::start(
                    ledger,
                    keypair_from_seed(seed(i))?,
                    manifest.clone(),
                    own,
                    config.clone(),
                )
                .await?,
            );
        }
        eprintln!(
            "{} source nodes started in {:.1} s (their logs' state replayed; before the clock)",
            args.logs,
            sources_started.elapsed().as_secs_f64()
        );
        let target = Arc::new(Ledger::open(&target_dir, Policy::default())?);
        let code = LogCode::parse(&target_division).context("division")?;
        target.create_log(
            code,
            "目标",
            target_officers.bureau.clone(),
            1_750_000_000_000,
        )?;
        let total: u64 = {
            let mut t = 0;
            for (i, s) in sources.iter().enumerate() {
                t += s
                    .ledger()
                    .size(&LogCode::parse(&division(i as u64)).context("division")?)?;
            }
            t
        };
        // Wait until every source listens, then start the clock and the new node.
        let deadline = Instant::now() + Duration::from_secs(20);
        while sources.iter().any(|s| s.listen_addrs().is_empty()) {
            if Instant::now() > deadline {
                bail!("sources did not start listening");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The sources are an established network: each holds every log, as the members a
        // new node joins would. Before the clock they replicate each other's logs (kept
        // with --data), so that none is still catching up from the new node while it is
        // measured.
        for s in &sources {
            for other in &sources {
                if other.peer_id() != s.peer_id() {
                    for a in other.listen_addrs() {
                        s.dial(a.with(libp2p::multiaddr::Protocol::P2p(other.peer_id())));
                    }
                }
            }
        }
        let replicated = Instant::now();
        let mut reported = Instant::now();
        loop {
            let mut held = 0;
            for s in &sources {
                for i in 0..args.logs {
                    let log = LogCode::parse(&division(i)).context("division")?;
                    held += s.ledger().size(&log).unwrap_or(0);
                }
            }
            if held >= total * args.logs {
                break;
            }
            if reported.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "sources replicating each other's logs: {held} of {} entries…",
                    total * args.logs
                );
                reported = Instant::now();
            }
            if replicated.elapsed() > Duration::from_secs(3600) {
                bail!("the sources did not replicate each other's logs");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "every source holds every log ({:.1} s; before the clock)",
            replicated.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let cpu_before = crate::bench::process_cpu_seconds();
        let node = NodeHandle::start(
            target,
            keypair_from_seed(seed(99))?,
            manifest.clone(),
            Some((code, target_officers.bureau.clone())),
            config.clone(),
        )
        .await?;
        for s in &sources {
            for a in s.listen_addrs() {
                node.dial(a.with(libp2p::multiaddr::Protocol::P2p(s.peer_id())));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let held: u64 = (0..args.logs)
                .map(|i| {
                    node.ledger()
                        .size(&LogCode::parse(&division(i)).unwrap_or(code))
                        .unwrap_or(0)
                })
                .sum();
            if held >= total {
                break;
            }
            if Instant::now() > deadline {
                bail!("catch-up did not finish: {held} of {total}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = crate::bench::process_cpu_since(cpu_before);
        // After the clock: every log is its owner's, root and signed checkpoint (the
        // cosignatures each holds may differ).
        for (i, s) in sources.iter().enumerate() {
            let code = LogCode::parse(&division(i as u64)).context("division")?;
            let checkpoint = |ledger: &Ledger| -> Result<_> {
                let text = ledger.latest_checkpoint(&code)?;
                Ok(SignedCheckpoint::parse(&text)?.checkpoint)
            };
            let (held, owned) = (node.ledger(), s.ledger());
            if held.root(&code)? != owned.root(&code)? || checkpoint(held)? != checkpoint(owned)? {
                bail!("log {code}: the new node's root or checkpoint is not its owner's");
            }
        }
        node.shutdown().await?;
        for s in sources {
            s.shutdown().await?;
        }
        Ok::<_, anyhow::Error>((total, seconds, cpu))
    })?;
    let rate = entries as f64 / seconds.max(1e-9);
    println!(
        "catch-up of {entries} entries in {} logs: {seconds:.1} s, {rate:.0} entries/s",
        args.logs
    );
    println!(
        "ratio to the 2-core batch-verify rate ({ceiling:.0}/s): {:.2}; target ≥ 100,000 entries/s",
        rate / ceiling
    );
    // Sources and the new node share this process: the CPU is all of theirs.
    let cpu_us_per_entry = cpu_seconds.map(|cpu| cpu * 1e6 / entries.max(1) as f64);
    if let (Some(cpu), Some(per_entry)) = (cpu_seconds, cpu_us_per_entry) {
        println!(
            "CPU of the sources and the new node: {cpu:.1} s, {per_entry:.1} µs per entry ({:.0}% of the cores' time)",
            100.0 * cpu / (seconds.max(1e-9) * std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64))
        );
    }
    if let Some(path) = &args.json {
        let figures = json!({
            "entries": entries,
            "logs": args.logs,
            "seconds": seconds,
            "entries_per_second": rate,
            "batch_verify_one_core_per_second": one_core,
            "batch_verify_all_cores_per_second": ceiling,
            "ratio_to_batch_verify": rate / ceiling,
            "cpu_us_per_entry": cpu_us_per_entry,
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
