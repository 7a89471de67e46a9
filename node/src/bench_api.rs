//! `yibao bench-api`: the HTTP side on loopback against a large ledger (1,000,000 entries by
//! default, built once into `--data` and reused): the viewer's notice page served from a
//! node source, the node's `/v1/notices`, inclusion proofs, and one submitter's signed
//! submits acknowledged once durable. Each figure is reported with p50/p99/max latency and
//! next to ceilings measured in the same run (the 2-core ed25519 batch-verify rate, the
//! serial fsync rate, and the rate of the cheapest request, `/healthz`, through the same
//! server and load generator), because these machines are noisy.
//!
//! The load generator runs in process: tokio tasks, each with its own keep-alive
//! HTTP/1.1 connection (a minimal client below, enough for axum's answers), on a runtime of
//! its own. Not here: anything the API does (`api.rs`) or the viewer renders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use yibao_ledger::appender::{system_clock, Appender};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::api::{router, ApiState, Metrics};
use yibao_node::workload::{build_ledger, Officers, Workload};
use yibao_schema::policy::Policy;

use crate::bench::{batch_verify_ceiling, fsync_ceiling};

/// Options of `yibao bench-api`.
#[derive(Debug, Args)]
pub struct BenchApiArgs {
    /// Entries in the ledger served (built once into --data and reused).
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Seconds each read run lasts.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections of the load generator for reads.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Worker threads of the server runtime (the node and the viewer share it).
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Work in this directory (the ledger is kept and reused) instead of a temporary one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

const DIVISION: &str = "141125";
const BUREAU: &str = "柳林县医疗保障局";
const SEED: u64 = 7;

/// Latencies of one run and what they add up to.
#[derive(Debug)]
struct RunFigures {
    requests: u64,
    failures: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl RunFigures {
    fn from_latencies(mut nanos: Vec<u64>, failures: u64, elapsed: Duration) -> RunFigures {
        nanos.sort_unstable();
        let at = |q: f64| -> f64 {
            if nanos.is_empty() {
                return 0.0;
            }
            let i = ((nanos.len() as f64 * q).ceil() as usize).clamp(1, nanos.len()) - 1;
            nanos.get(i).copied().unwrap_or(0) as f64 / 1e6
        };
        RunFigures {
            requests: nanos.len() as u64,
            failures,
            per_second: nanos.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "failures": self.failures,
            "per_s": self.per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        })
    }

    fn line(&self) -> String {
        format!(
            "{:.0}/s ({} requests, {} failed), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.per_second, self.requests, self.failures, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    host: String,
    reader: BufReader<TcpStream>,
}

impl Connection {
    async fn open(host: &str) -> Result<Connection> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("cannot connect to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            host: host.to_string(),
            reader: BufReader::new(stream),
        })
    }

    /// Sends a request and reads the whole answer: (status, body).
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.reader.get_mut().write_all(&out).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("malformed status line {line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                bail!("connection closed in the headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .map_err(|_| anyhow!("malformed chunk size {line:?}"))?;
                let mut chunk = vec![0u8; size + 2];
                self.reader.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let length = length.ok_or_else(|| anyhow!("no content-length"))?;
            body.resize(length, 0);
            self.reader.read_exact(&mut body).await?;
        }
        Ok((status, body))
    }
}

/// `concurrency` tasks on keep-alive connections to `host`, each asking `GET path(i)` in a
/// loop for `seconds`; a request counts when `accept(status, body)` holds.
async fn read_run(
    host: &str,
    concurrency: usize,
    seconds: u64,
    path: Arc<dyn Fn(u64) -> String + Send + Sync>,
    accept: fn(u16, &[u8]) -> bool,
) -> Result<RunFigures> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let host = host.to_string();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut connection = Connection::open(&host).await?;
            let mut i = (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            while Instant::now() < deadline {
                i = i.wrapping_add(1);
                let p = path(i);
                let sent = Instant::now();
                match connection.request("GET", &p, None, &[]).await {
                    Ok((status, body)) if accept(status, &body) => {
                        latencies.push(sent.elapsed().as_nanos() as u64);
                    }
                    Ok((status, body)) => {
                        failures += 1;
                        if failures == 1 {
                            eprintln!(
                                "warning: GET {p}: {status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            );
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!("warning: GET {p}: {e:#}");
                        connection = Connection::open(&host).await?;
                    }
                }
            }
            Ok::<_, anyhow::Error>((latencies, failures))
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (latencies, f) = task.await??;
        all.extend(latencies);
        failures += f;
    }
    Ok(RunFigures::from_latencies(all, failures, start.elapsed()))
}

fn ok_200(status: u16, _body: &[u8]) -> bool {
    status == 200
}

/// A notice page counts only when the viewer verified it.
fn verified_page(status: u16, body: &[u8]) -> bool {
    status == 200 && !body.windows(12).any(|w| w == b"NOT VERIFIED")
}

/// A small deterministic spread of indices.
fn spread(i: u64, n: u64) -> u64 {
    let mut x = i.wrapping_mul(0x2545_f491_4f6c_dd1d);
    x ^= x >> 29;
    x % n.max(1)
}

/// Builds the ledger into `dir` unless a finished one is there.
fn prepare_ledger(dir: &Path, entries: u64) -> Result<()> {
    let marker = dir.join("built");
    if marker.exists() {
        let text = std::fs::read_to_string(&marker)?;
        if text.trim() == entries.to_string() {
            return Ok(());
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    eprintln!(
        "building a ledger of {entries} entries in {} (kept for later runs)…",
        dir.display()
    );
    let started = Instant::now();
    let ledger = Ledger::open(&dir.join("ledger"), Policy::default())?;
    let code = LogCode::parse(DIVISION).context("division")?;
    build_ledger(&ledger, code, BUREAU, entries, SEED)?;
    ledger.close()?;
    std::fs::write(&marker, format!("{entries}\n"))?;
    eprintln!("built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `yibao bench-api`.
pub fn run(args: &BenchApiArgs) -> Result<ExitCode> {
    if args.concurrency == 0 || args.concurrency > 1024 {
        bail!("--concurrency must be 1 to 1024");
    }
    // The temporary directory, if any, lives until the end of the run.
    let (root, _temp) = crate::bench::work_dir(args.data.as_deref())?;
    let dir = root.join(format!("api-{}", args.entries));
    prepare_ledger(&dir, args.entries)?;

    let (batch_1, batch_all) = batch_verify_ceiling();
    let threads = rayon::current_num_threads();
    println!("ceiling: ed25519-dalek verify_batch: {batch_1:.0}/s on 1 core, {batch_all:.0}/s on {threads} cores");
    let fsync_probe = fsync_ceiling(&dir)?;
    println!("ceiling: 4 KiB write + fsync: {fsync_probe}");
    let fsync = fsync_probe.per_second;

    let ledger = Arc::new(Ledger::open(&dir.join("ledger"), Policy::default())?);
    let code = LogCode::parse(DIVISION).context("division")?;
    let size = ledger.size(&code)?;
    let notices = ledger.exposure_notices()?;
    println!("ledger: {size} entries, {} exposure notices", notices.len());
    if notices.is_empty() {
        bail!("the ledger holds no exposure notices");
    }
    // The log's state is replayed once, before serving (not part of any figure).
    let replay = Instant::now();
    ledger.state(&code)?;
    println!(
        "log state replayed in {:.1} s (before any figure)",
        replay.elapsed().as_secs_f64()
    );
    ledger.set_signer(&code, Officers::from_seed(SEED).bureau)?;
    let (appender, writer) = Appender::start(ledger.clone(), code, system_clock())?;
    let state = ApiState {
        ledger: ledger.clone(),
        appender: Some((code, appender)),
        metrics: Arc::new(Metrics::default()),
        network_metrics: None,
    };
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads.max(1))
        .thread_name("api-server")
        .enable_all()
        .build()?;
    let (node_addr, viewer_addr) = server_rt.block_on(async {
        let node = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let node_addr = node.local_addr()?;
        tokio::spawn(async move { axum::serve(node, router(state)).await });
        let viewer = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let viewer_addr = viewer.local_addr()?;
        let source: Arc<dyn yibao_web_viewer::Source> = Arc::new(
            yibao_web_viewer::HttpSource::new(format!("http://{node_addr}"))?,
        );
        tokio::spawn(async move { axum::serve(viewer, yibao_web_viewer::router(source)).await });
        Ok::<_, anyhow::Error>((node_addr, viewer_addr))
    })?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load-generator")
        .enable_all()
        .build()?;
    let node_host = node_addr.to_string();
    let viewer_host = viewer_addr.to_string();
    let c = args.concurrency;
    let secs = args.seconds;
    println!(
        "load: {c} keep-alive connections, {secs} s per run, server runtime of {} threads, load generator on 1 thread",
        args.server_threads
    );

    let figures = client_rt.block_on(async {
        // Warm up until notice pages verify (at most a minute).
        let mut warmed = false;
        for _ in 0..30 {
            let warm = read_run(&viewer_host, 4, 2, {
                let notices = notices.clone();
                Arc::new(move |i| {
                    let (log, seq) = notices[spread(i, notices.len() as u64) as usize];
                    format!("/notices/{log}/{seq}")
                })
            }, verified_page)
            .await?;
            if warm.requests > 0 && warm.failures == 0 {
                warmed = true;
                break;
            }
        }
        if !warmed {
            bail!("notice pages did not verify during a minute of warm-up");
        }
        // The viewer keeps entries it verified against the current checkpoint: one pass
        // over every notice fills that, as a viewer that has been up for a while is (the
        // checkpoint does not change during the read runs). Reported, not hidden.
        let warm_start = Instant::now();
        let per_task = notices.len().div_ceil(c);
        let mut tasks = Vec::new();
        for chunk in notices.chunks(per_task.max(1)) {
            let chunk = chunk.to_vec();
            let host = viewer_host.clone();
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::open(&host).await?;
                let mut failures = 0u64;
                for (log, seq) in chunk {
                    let (status, body) =
                        connection.request("GET", &format!("/notices/{log}/{seq}"), None, &[]).await?;
                    if !verified_page(status, &body) {
                        failures += 1;
                    }
                }
                Ok::<_, anyhow::Error>(failures)
            }));
        }
        let mut failures = 0;
        for task in tasks {
            failures += task.await??;
        }
        println!(
            "viewer: first visit of all {} notice pages (each verified in full): {:.1} s, {failures} not verified",
            notices.len(),
            warm_start.elapsed().as_secs_f64()
        );

        let healthz = read_run(&node_host, c, secs, Arc::new(|_| "/healthz".to_string()), ok_200).await?;
        println!("ceiling: GET /healthz through the same server and load generator: {}", healthz.line());

        let notice_pages = read_run(&viewer_host, c, secs, {
            let notices = notices.clone();
            Arc::new(move |i| {
                let (log, seq) = notices[spread(i, notices.len() as u64) as usize];
                format!("/notices/{log}/{seq}")
            })
        }, verified_page)
        .await?;
        println!(
            "viewer notice page (verified, node source over HTTP): {} — target ≥ 10,000/s, p99 ≤ 20 ms; {:.3} × the /healthz ceiling",
            notice_pages.line(),
            notice_pages.per_second / healthz.per_second.max(1e-9)
        );

        // The node keeps the sorted notice list after the first request reads it.
        let first = Instant::now();
        let (status, _) = Connection::open(&node_host)
            .await?
            .request("GET", "/v1/notices?page=1&per_page=20", None, &[])
            .await?;
        println!(
            "node: first GET /v1/notices (reads every notice once): {status} in {:.1} s",
            first.elapsed().as_secs_f64()
        );
        let pages = (notices.len() as u64).div_ceil(20);
        let notices_json = read_run(&node_host, c, secs, Arc::new(move |i| {
            format!("/v1/notices?page={}&per_page=20", 1 + spread(i, pages))
        }), ok_200)
        .await?;
        println!(
            "node GET /v1/notices (20 per page, {pages} pages): {}; {:.3} × the /healthz ceiling",
            notices_json.line(),
            notices_json.per_second / healthz.per_second.max(1e-9)
        );

        let proofs = read_run(&node_host, c, secs, Arc::new(move |i| {
            format!("/v1/logs/{DIVISION}/proofs/inclusion?seq={}", spread(i, size))
        }), ok_200)
        .await?;
        println!(
            "inclusion proofs (random seq of {size}): {} — target ≥ 20,000/s; {:.3} × the /healthz ceiling",
            proofs.line(),
            proofs.per_second / healthz.per_second.max(1e-9)
        );
        Ok::<_, anyhow::Error>((healthz, notice_pages, notices_json, proofs))
    })?;
    let (healthz, notice_pages, notices_json, proofs) = figures;

    // One submitter: pre-signed statements (signing is the officer's cost), posted one
    // after the other, each answered once durable.
    let work = Workload::existing(code, BUREAU, SEED);
    // Case numbers differ from run to run (the ledger is reused and keeps what was
    // submitted before).
    let run = 1 + std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 999;
    let submissions: Vec<Vec<u8>> = work
        .submissions_for_numbered_run(1, secs, run)?
        .into_iter()
        .flatten()
        .map(|s| s.encode())
        .collect();
    let submit = client_rt.block_on(async {
        let mut connection = Connection::open(&node_host).await?;
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let mut latencies = Vec::new();
        let mut failures = 0u64;
        let path = format!("/v1/logs/{DIVISION}/entries");
        for body in &submissions {
            if Instant::now() >= deadline {
                break;
            }
            let sent = Instant::now();
            let (status, answer) = connection
                .request("POST", &path, Some("application/cbor"), body)
                .await?;
            if status == 201 {
                latencies.push(sent.elapsed().as_nanos() as u64);
            } else {
                failures += 1;
                if failures == 1 {
                    eprintln!(
                        "warning: submit: {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(RunFigures::from_latencies(
            latencies,
            failures,
            start.elapsed(),
        ))
    })?;
    println!(
        "submit, 1 submitter over HTTP (durable): {} — target p99 ≤ 2 ms; {:.2} × the serial fsync ceiling",
        submit.line(),
        submit.per_second / fsync.max(1e-9)
    );
    drop(client_rt);
    drop(server_rt);
    writer.join();

    let met = notice_pages.per_second >= 10_000.0
        && notice_pages.p99_ms <= 20.0
        && proofs.per_second >= 20_000.0
        && submit.p99_ms <= 2.0;
    if let Some(path) = &args.json {
        let figures = json!({
            "entries": size,
            "notices": notices.len(),
            "concurrency": c,
            "seconds": secs,
            "server_threads": args.server_threads,
            "threads": threads,
            "ceiling_batch_verify_1_core_per_s": batch_1,
            "ceiling_batch_verify_all_cores_per_s": batch_all,
            "ceiling_fsync_per_s": fsync,
            "ceiling_fsync_p50_ms": fsync_probe.p50_ms,
            "ceiling_fsync_p99_ms": fsync_probe.p99_ms,
            "ceiling_healthz": healthz.json(),
            "viewer_notice_page": notice_pages.json(),
            "viewer_notice_page_ratio_to_healthz": notice_pages.per_second / healthz.per_second.max(1e-9),
            "node_notices_json": notices_json.json(),
            "inclusion_proofs": proofs.json(),
            "inclusion_proofs_ratio_to_healthz": proofs.per_second / healthz.per_second.max(1e-9),
            "inclusion_proofs_ratio_to_batch_verify": proofs.per_second / batch_all.max(1e-9),
            "submit_1_submitter": submit.json(),
            "submit_ratio_to_fsync": submit.per_second / fsync.max(1e-9),
            "targets_met": met,
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)? + "\n")?;
    }
    println!("targets {}", if met { "met" } else { "NOT all met" });
    Ok(ExitCode::SUCCESS)
}
