//! `yibao demo`: a city network on loopback — the city office (吕梁市) and three county
//! bureaus, each a node with its own log of generated records (300 institutions each,
//! cases with findings, decisions, rectification in every state, exposure notices, grade
//! sets at 3:4:2:1, every record kind, inspections across divisions: `workload.rs`),
//! replicating over libp2p, each serving the HTTP API, and the public viewer reading the
//! city node. Prints the URLs, one per line as `viewer: URL` and `node CODE: URL`, and runs
//! until Ctrl-C or SIGTERM. With `--data DIR` the network's
//! data stays in DIR, one sub-directory per node, each usable with `--data` (and the demo
//! restarts on it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use yibao_ledger::appender::{system_clock, Appender};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::api::{router, ApiState, Metrics};
use yibao_node::net::{identity, NetConfig, NodeHandle};
use yibao_node::node_dir::{self, NodeDir};
use yibao_node::workload::{self, build_demo_ledger, Officers, Visit};
use yibao_schema::manifest::{Manifest, ManifestBody, Member};
use yibao_schema::policy::Policy;

/// The demo network: the city office and three counties of 吕梁市 (fictional data).
const NODES: [(&str, &str, u64); 4] = [
    ("141100", "吕梁市医疗保障局", 2_000),
    ("141125", "柳林县医疗保障局", 3_000),
    ("141126", "石楼县医疗保障局", 2_500),
    ("141127", "岚县医疗保障局", 2_500),
];

fn seed(i: usize) -> u64 {
    7_000 + i as u64
}

/// Inspections across divisions: the city office inspects a county's institution directly
/// (city_direct), 柳林 inspects one in 石楼 (cross_county), 岚县 one in 柳林 (flight).
fn visits(division: &str) -> Vec<Visit> {
    let visit = |county: &str, n: usize, inspection_type| Visit {
        institution: workload::institutions(county, 300)[n].clone(),
        inspection_type,
    };
    match division {
        "141100" => vec![visit("141127", 2, "city_direct")],
        "141125" => vec![visit("141126", 0, "cross_county")],
        "141127" => vec![visit("141125", 1, "flight")],
        _ => Vec::new(),
    }
}

/// Creates a node directory with a generated log, unless it exists.
fn prepare_node(dir: &Path, i: usize, division: &str, name: &str, entries: u64) -> Result<()> {
    let node = NodeDir::new(dir);
    if node.config_path().exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let code = LogCode::parse(division).context("division")?;
    let ledger = Ledger::open(&node.ledger_path(), Policy::default())?;
    build_demo_ledger(&ledger, code, name, entries, seed(i), &visits(division))?;
    ledger.close()?;
    let officers = Officers::from_seed(seed(i));
    node_dir::write_key(&node.bureau_key_path(), &officers.bureau)?;
    for (file, key) in [
        ("administrator.key", &officers.administrator),
        ("inspector.key", &officers.inspector),
        ("adjudicator.key", &officers.adjudicator),
        ("publisher.key", &officers.publisher),
    ] {
        node_dir::write_key(&dir.join(file), key)?;
    }
    node.write_config(&code, name)?;
    identity::load_or_create(&node.network_key_path())?;
    Ok(())
}

/// `yibao demo`.
pub fn run(data: Option<&Path>) -> Result<ExitCode> {
    let temp;
    let root: PathBuf = match data {
        Some(dir) => dir.to_path_buf(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&root)?;
    eprintln!("preparing the demo network in {} …", root.display());
    for (i, (division, name, entries)) in NODES.iter().enumerate() {
        prepare_node(&root.join(division), i, division, name, *entries)?;
    }
    // The city office's key signs the manifest (kept beside the nodes).
    let city_key_path = root.join("city.key");
    let city = if city_key_path.exists() {
        node_dir::read_key(&city_key_path)?
    } else {
        let key = node_dir::generate_key();
        node_dir::write_key(&city_key_path, &key)?;
        key
    };
    let mut body = ManifestBody::new("lvliang-demo", &city.verifying_key().to_bytes());
    for (division, name, _) in NODES {
        let node = NodeDir::new(&root.join(division));
        let keypair = identity::load_or_create(&node.network_key_path())?;
        let bureau = node_dir::read_key(&node.bureau_key_path())?;
        body.upsert_member(Member {
            division: division.into(),
            name: name.into(),
            log_key: hex::encode(bureau.verifying_key().to_bytes()),
            peer_id: keypair.public().to_peer_id().to_string(),
            addrs: Vec::new(),
        });
    }
    let previous = std::fs::read(NodeDir::new(&root.join(NODES[0].0)).manifest_path())
        .ok()
        .and_then(|b| Manifest::from_json(&b).ok());
    body.serial = previous.map(|m| m.body.serial + 1).unwrap_or(1);
    let manifest = Manifest::sign(body, &city)?;
    for (division, _, _) in NODES {
        let path = NodeDir::new(&root.join(division)).manifest_path();
        std::fs::write(path, manifest.to_json()? + "\n")?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut nodes = Vec::new();
        let mut servers = Vec::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        for (division, _, _) in NODES {
            let dir = NodeDir::new(&root.join(division));
            let ledger = Arc::new(dir.open_ledger()?);
            let code = dir.own_log()?;
            let bureau = node_dir::read_key(&dir.bureau_key_path())?;
            let keypair = identity::load_or_create(&dir.network_key_path())?;
            let config = NetConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
                status_file: Some(dir.status_path()),
                ..NetConfig::default()
            };
            let node = NodeHandle::start(ledger.clone(), keypair, manifest.clone(), Some((code, bureau)), config).await?;
            let (appender, writer) = Appender::start(ledger.clone(), code, system_clock())?;
            let state = ApiState {
                ledger,
                appender: Some((code, appender)),
                metrics: Arc::new(Metrics::default()),
                network_metrics: Some(node.metrics_source()),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let mut stop = stop_rx.clone();
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, router(state))
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .await;
            });
            servers.push((server, writer));
            nodes.push((division, url, node));
        }
        // Wait until every node listens, then connect them all.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while nodes.iter().any(|(_, _, n)| n.listen_addrs().is_empty()) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for (_, _, a) in &nodes {
            for (_, _, b) in &nodes {
                if a.peer_id() != b.peer_id() {
                    for addr in b.listen_addrs() {
                        a.dial(addr.with(libp2p::multiaddr::Protocol::P2p(b.peer_id())));
                    }
                }
            }
        }
        // The public viewer reads the city office's node, which holds every county's log.
        let viewer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let viewer_url = format!("http://{}", viewer_listener.local_addr()?);
        let city_url = nodes.first().map(|(_, url, _)| url.clone()).unwrap_or_default();
        let source: Arc<dyn yibao_web_viewer::Source> =
            Arc::new(yibao_web_viewer::HttpSource::new(city_url)?);
        let mut stop = stop_rx.clone();
        let viewer = tokio::spawn(async move {
            let _ = axum::serve(viewer_listener, yibao_web_viewer::router(source))
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await;
        });
        println!("viewer: {viewer_url}");
        println!("data: {}", root.display());
        for (division, url, _) in &nodes {
            println!("node {division}: {url}");
        }
        if let Some((division, url, _)) = nodes.get(1) {
            println!("try: curl {url}/v1/logs");
            println!("try: curl {url}/v1/logs/{division}/checkpoint");
            println!("try: curl '{url}/v1/logs/{division}/entries?start=300&count=5'");
            println!("try: curl '{url}/v1/logs/{division}/proofs/inclusion?seq=300'");
            println!("try: yibao status --data {}", root.join(division).display());
        }
        println!("the nodes replicate every county's log and cosign each other's checkpoints; Ctrl-C stops");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("stopping…");
        let _ = stop_tx.send(true);
        let _ = viewer.await;
        for (server, writer) in servers {
            let _ = server.await;
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        for (_, _, node) in nodes {
            let ledger = node.shutdown().await?;
            if let Ok(ledger) = Arc::try_unwrap(ledger) {
                ledger.close()?;
            }
        }
        eprintln!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
