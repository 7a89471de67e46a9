//! `yibao run`, `yibao status` and `yibao manifest …`: the node daemon and the network's
//! trust root.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use libp2p::Multiaddr;
use yibao_node::net::{identity, NetConfig, NodeHandle, NodeStatus};
use yibao_node::node_dir::{self, NodeDir};
use yibao_schema::manifest::{Manifest, ManifestBody, Member};

/// Reads and verifies the manifest a node pins.
fn pinned_manifest(dir: &NodeDir) -> Result<Manifest> {
    let path = dir.manifest_path();
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "no network manifest at {} (install one with `yibao manifest install`)",
            path.display()
        )
    })?;
    let manifest = Manifest::from_json(&bytes)?;
    manifest
        .verify(None)
        .with_context(|| format!("{} does not verify", path.display()))?;
    Ok(manifest)
}

fn read_manifest_file(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Manifest::from_json(&bytes).with_context(|| format!("{}", path.display()))
}

fn write_manifest_file(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = manifest.to_json()?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `yibao run`.
pub fn run(
    data: &Path,
    listen: &[String],
    dial: &[String],
    http: Option<&str>,
    sync_batch: u64,
) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    let config = dir.config()?;
    let manifest = pinned_manifest(&dir)?;
    let keypair = identity::load_or_create(&dir.network_key_path())?;
    let peer_id = keypair.public().to_peer_id();
    let me = manifest.member(&config.division).ok_or_else(|| {
        anyhow!(
            "the manifest has no member {} (add this node with `yibao manifest add-member`)",
            config.division
        )
    })?;
    if me.peer_id != peer_id.to_string() {
        bail!(
            "the manifest names peer id {} for {}, but this node's network key is {peer_id}",
            me.peer_id,
            config.division
        );
    }
    let mut listen_addrs: Vec<Multiaddr> = listen
        .iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("--listen {a} is not a multiaddr"))
        })
        .collect::<Result<_>>()?;
    if listen_addrs.is_empty() {
        listen_addrs = me.addrs.iter().filter_map(|a| a.parse().ok()).collect();
    }
    if listen_addrs.is_empty() {
        listen_addrs.push("/ip4/127.0.0.1/tcp/0".parse()?);
    }
    let dials: Vec<Multiaddr> = dial
        .iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("--dial {a} is not a multiaddr"))
        })
        .collect::<Result<_>>()?;
    let ledger = Arc::new(dir.open_ledger()?);
    let bureau = node_dir::read_key(&dir.bureau_key_path())?;
    let own = Some((dir.own_log()?, bureau));
    let net_config = NetConfig {
        listen: listen_addrs,
        status_file: Some(dir.status_path()),
        batch: sync_batch,
        ..NetConfig::default()
    };
    let manifest_serial = manifest.body.serial;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let own_code = dir.own_log()?;
    let http_addr: Option<std::net::SocketAddr> = http
        .map(|a| {
            a.parse()
                .with_context(|| format!("--http {a} is not an address like 127.0.0.1:8080"))
        })
        .transpose()?;
    runtime.block_on(async move {
        // Starting replays every log's state first: seconds for a million entries.
        let logs = ledger.log_codes();
        let entries: u64 = logs.iter().filter_map(|c| ledger.size(c).ok()).sum();
        let held = match logs.len() {
            1 => "1 log".to_string(),
            n => format!("{n} logs"),
        };
        eprintln!("starting: replaying the state of {held} ({entries} entries)…");
        let node = NodeHandle::start(ledger.clone(), keypair, manifest, own, net_config).await?;
        let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut http_task = None;
        let mut writer = None;
        if let Some(addr) = http_addr {
            let (appender, w) = yibao_ledger::appender::Appender::start(
                ledger.clone(),
                own_code,
                yibao_ledger::appender::system_clock(),
            )?;
            writer = Some(w);
            let state = yibao_node::api::ApiState {
                ledger: ledger.clone(),
                appender: Some((own_code, appender)),
                metrics: Arc::new(yibao_node::api::Metrics::default()),
                network_metrics: Some(node.metrics_source()),
            };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
            println!("http: http://{}", listener.local_addr()?);
            let app = yibao_node::api::router(state);
            http_task = Some(tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = http_stopped.await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            }));
        }
        drop(ledger);
        for addr in dials {
            node.dial(addr);
        }
        let mut announced = false;
        let mut serial = manifest_serial;
        let mut last_manifest_check = std::time::Instant::now();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tick.tick() => {
                    // A newer manifest written into the data directory (`yibao manifest
                    // install`) replaces the running one.
                    if last_manifest_check.elapsed() >= Duration::from_secs(2) {
                        last_manifest_check = std::time::Instant::now();
                        if let Ok(newer) = pinned_manifest(&dir) {
                            if newer.body.serial > serial {
                                match node.install_manifest(newer.clone()).await {
                                    Ok(()) => {
                                        serial = newer.body.serial;
                                        eprintln!("manifest serial {serial} installed");
                                    }
                                    Err(e) => eprintln!("manifest not installed: {e:#}"),
                                }
                            }
                        }
                    }
                    if !announced {
                        let addrs = node.listen_addrs();
                        if !addrs.is_empty() {
                            println!("peer id: {}", node.peer_id());
                            for a in addrs {
                                println!("listening: {a}");
                            }
                            announced = true;
                        }
                    }
                }
            }
        }
        eprintln!("stopping…");
        let _ = http_stop.send(());
        if let Some(task) = http_task {
            let _ = task.await;
        }
        // The API's appender goes with the router; its writer finishes what it holds.
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        let ledger = node.shutdown().await?;
        match Arc::try_unwrap(ledger) {
            Ok(ledger) => ledger.close()?,
            Err(_) => tracing::warn!("ledger still shared at shutdown; closed on drop"),
        }
        eprintln!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `yibao status`.
pub fn status(data: &Path, json: bool) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    dir.config()?;
    let path = dir.status_path();
    let status: Option<NodeStatus> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    // Fresh, and its process still there (a killed node leaves its last status behind).
    let running = status
        .as_ref()
        .map(|s| {
            now.saturating_sub(s.updated_ms) < 5_000
                && Path::new(&format!("/proc/{}", s.pid)).exists()
        })
        .unwrap_or(false);
    // (status, running, starting: running but no status of its own yet)
    let (status, running, starting) = match (status, running) {
        (Some(s), true) => (s, true, false),
        (stale, _) => match offline_status(&dir) {
            Ok(s) => (s, false, false),
            // The ledger is held by a node that has not written its first status yet.
            Err(e)
                if e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<yibao_ledger::store::StoreError>(),
                        Some(yibao_ledger::store::StoreError::Locked(_))
                    )
                }) =>
            {
                let mut s = stale.unwrap_or_default();
                s.logs.clear();
                s.peers.clear();
                (s, true, true)
            }
            Err(e) => return Err(e),
        },
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&status, running, starting))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "node {} — {}",
        status.peer_id,
        match (running, starting) {
            (true, true) => "starting: replaying its logs' state, no status yet",
            (true, false) => "running",
            (false, _) => "not running",
        }
    );
    for a in &status.listen {
        println!("listening: {a}");
    }
    println!("peers: {}", status.peers.len());
    for p in &status.peers {
        println!("  {p}");
    }
    if !status.banned.is_empty() {
        println!("banned: {}", status.banned.join(", "));
    }
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>8} {:>6}  note",
        "log", "size", "checkpoint", "best", "lag", "cosig"
    );
    for l in &status.logs {
        let note = match (l.own, l.frozen, &l.storage_error) {
            (_, true, _) => "FROZEN: equivocation proven".to_string(),
            (_, false, Some(e)) => format!("NOT STORING: {e}"),
            (true, false, None) => "own log".to_string(),
            _ => String::new(),
        };
        println!(
            "{:<8} {:>10} {:>10} {:>10} {:>8} {:>6}  {note}",
            l.log, l.size, l.checkpoint_size, l.best_known, l.lag, l.cosignatures
        );
    }
    if !status.equivocations.is_empty() {
        println!(
            "equivocation proofs held for: {}",
            status.equivocations.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status_json(status: &NodeStatus, running: bool, starting: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert("running".into(), running.into());
        map.insert("starting".into(), starting.into());
    }
    v
}

/// The status of a node that is not running, from its ledger.
fn offline_status(dir: &NodeDir) -> Result<NodeStatus> {
    let ledger = dir.open_existing_ledger().context(
        "the node is not running (no fresh status.json) and its ledger cannot be opened",
    )?;
    let own = dir.own_log()?;
    let peer_id = if dir.network_key_path().exists() {
        identity::load_or_create(&dir.network_key_path())?
            .public()
            .to_peer_id()
            .to_string()
    } else {
        String::from("(no network key yet)")
    };
    let mut logs = Vec::new();
    let mut equivocations = Vec::new();
    for code in ledger.log_codes() {
        let size = ledger.size(&code)?;
        let checkpoint = ledger.latest_checkpoint(&code)?;
        let parsed = yibao_schema::note::SignedCheckpoint::parse(&checkpoint).ok();
        let checkpoint_size = parsed.as_ref().map(|s| s.checkpoint.size).unwrap_or(0);
        let cosignatures = parsed
            .as_ref()
            .map(|s| {
                s.note
                    .signatures
                    .iter()
                    .filter(|x| x.name != s.checkpoint.origin)
                    .count()
            })
            .unwrap_or(0);
        let frozen = ledger.is_frozen(&code)?;
        if frozen {
            equivocations.push(code.to_string());
        }
        logs.push(yibao_node::net::LogView {
            log: code.to_string(),
            size,
            checkpoint_size,
            checkpoint,
            best_known: checkpoint_size.max(size),
            lag: 0,
            cosignatures,
            frozen,
            own: code == own,
            storage_error: None,
        });
    }
    Ok(NodeStatus {
        peer_id,
        logs,
        equivocations,
        ..NodeStatus::default()
    })
}

/// `yibao manifest new`.
pub fn manifest_new(out: &Path, network: &str, city_key: &Path) -> Result<ExitCode> {
    if out.exists() {
        bail!(
            "{} exists; edit it with `yibao manifest add-member`",
            out.display()
        );
    }
    let key = node_dir::read_key(city_key)?;
    let body = ManifestBody::new(network, &key.verifying_key().to_bytes());
    write_manifest_file(out, &Manifest::unsigned(body))?;
    println!(
        "wrote unsigned manifest {} (serial 1, no members)",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `yibao manifest add-member`: adds (or updates) a node, read from its data directory.
pub fn manifest_add_member(manifest: &Path, data: &Path, addrs: &[String]) -> Result<ExitCode> {
    let mut m = read_manifest_file(manifest)?;
    let dir = NodeDir::new(data);
    let config = dir.config()?;
    let bureau = node_dir::read_key(&dir.bureau_key_path())?;
    let keypair = identity::load_or_create(&dir.network_key_path())?;
    for a in addrs {
        a.parse::<Multiaddr>()
            .with_context(|| format!("--addr {a} is not a multiaddr"))?;
    }
    let was_signed = !m.signature.is_empty();
    m.body.upsert_member(Member {
        division: config.division.clone(),
        name: config.name.clone(),
        log_key: hex::encode(bureau.verifying_key().to_bytes()),
        peer_id: keypair.public().to_peer_id().to_string(),
        addrs: addrs.to_vec(),
    });
    if was_signed {
        m.body.serial += 1;
    }
    m.signature.clear();
    m.body.validate()?;
    write_manifest_file(manifest, &m)?;
    println!(
        "member {} ({}) added; manifest serial {} is unsigned until `yibao manifest sign`",
        config.division, config.name, m.body.serial
    );
    Ok(ExitCode::SUCCESS)
}

/// `yibao manifest sign`.
pub fn manifest_sign(manifest: &Path, city_key: &Path) -> Result<ExitCode> {
    let m = read_manifest_file(manifest)?;
    let key = node_dir::read_key(city_key)?;
    let signed = Manifest::sign(m.body, &key)?;
    write_manifest_file(manifest, &signed)?;
    println!(
        "signed manifest serial {} with {} members",
        signed.body.serial,
        signed.body.members.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `yibao manifest install`: pins a manifest in a node (replacing an older one signed by
/// the same city key).
pub fn manifest_install(data: &Path, manifest: &Path) -> Result<ExitCode> {
    let dir = NodeDir::new(data);
    dir.config()?;
    let new = read_manifest_file(manifest)?;
    match std::fs::read(dir.manifest_path()) {
        Ok(bytes) => {
            let old = Manifest::from_json(&bytes)?;
            new.verify_replacement(&old)?;
        }
        Err(_) => new.verify(None)?,
    }
    write_manifest_file(&dir.manifest_path(), &new)?;
    println!(
        "installed manifest serial {} (city key {})",
        new.body.serial, new.body.city_key
    );
    Ok(ExitCode::SUCCESS)
}

/// `yibao manifest show`.
pub fn manifest_show(manifest: &Path) -> Result<ExitCode> {
    let m = read_manifest_file(manifest)?;
    let verdict = match m.verify(None) {
        Ok(()) => "signed, verifies".to_string(),
        Err(e) => e.to_string(),
    };
    println!(
        "network {} serial {} — {verdict}",
        m.body.network, m.body.serial
    );
    println!("city key {}", m.body.city_key);
    for member in &m.body.members {
        println!(
            "{} {} peer {} {}",
            member.division,
            member.name,
            member.peer_id,
            member.addrs.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
