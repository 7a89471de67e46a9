//! TestNet: several nodes in one process, on loopback with port 0, with seeded keys and a
//! manifest signed by a seeded city key. No mDNS: nodes find each other only through the
//! manifest and explicit dials. Every wait is bounded and fails with a message saying what
//! did not happen.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use ed25519_dalek::SigningKey;
use libp2p::{Multiaddr, PeerId};
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::net::identity::keypair_from_seed;
use yibao_node::net::{NetConfig, NodeHandle, NodeStatus};
use yibao_node::workload::{self, Institution, Officers, Rng, Signer};
use yibao_schema::manifest::{Manifest, ManifestBody, Member};
use yibao_schema::policy::Policy;
use yibao_schema::record::Record;

use crate::TIME_MS;

/// Division codes of the test city (晋中-like, fictional): five counties and the city.
pub const DIVISIONS: [&str; 6] = ["140702", "140721", "140722", "140723", "140724", "140700"];

/// One node of a TestNet.
pub struct TestNode {
    pub division: String,
    pub name: String,
    pub dir: PathBuf,
    pub officers: Officers,
    pub institutions: Vec<Institution>,
    pub network_seed: [u8; 32],
    pub handle: Option<NodeHandle>,
    /// Set while the node is stopped, so it can be restarted on the same data.
    pub next_case: u64,
}

impl TestNode {
    pub fn code(&self) -> LogCode {
        LogCode::parse(&self.division).unwrap_or_else(|| unreachable!("six digits"))
    }

    pub fn peer_id(&self) -> PeerId {
        keypair_from_seed(self.network_seed)
            .map(|k| k.public().to_peer_id())
            .unwrap_or_else(|_| unreachable!("a seed is a valid key"))
    }

    pub fn handle(&self) -> &NodeHandle {
        self.handle
            .as_ref()
            .unwrap_or_else(|| panic!("node {} is not running", self.division))
    }

    pub fn status(&self) -> NodeStatus {
        self.handle().status()
    }
}

/// A network of nodes in this process.
pub struct TestNet {
    pub _root: tempfile::TempDir,
    pub city: SigningKey,
    pub manifest: Manifest,
    pub nodes: Vec<TestNode>,
    pub config: NetConfig,
}

/// The settings tests use: fast polling, short bans.
pub fn test_config() -> NetConfig {
    let mut config = NetConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0"
            .parse()
            .unwrap_or_else(|_| unreachable!())],
        status_interval: Duration::from_millis(300),
        redial_interval: Duration::from_millis(500),
        request_timeout: Duration::from_secs(10),
        avoid_for: Duration::from_millis(500),
        ..NetConfig::default()
    };
    config.scores.ban_duration = Duration::from_secs(300);
    config
}

fn network_seed(seed: u64, i: usize) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&seed.to_le_bytes());
    out[8] = i as u8;
    out[31] = 0x5a;
    out
}

/// Creates a county's log with officers and institutions registered.
pub fn setup_log(
    ledger: &Ledger,
    division: &str,
    name: &str,
    officers: &Officers,
    institutions: &[Institution],
) -> Result<()> {
    let code = LogCode::parse(division).ok_or_else(|| anyhow!("bad division {division}"))?;
    ledger.create_log(code, name, officers.bureau.clone(), TIME_MS)?;
    let mut records = officers.key_events()?;
    for inst in institutions {
        records.push((Signer::Administrator, workload::register(inst)?));
    }
    let subs = workload::sign(officers, &code.origin(), TIME_MS, &records)?;
    workload::append_all(ledger, &code, subs, TIME_MS)
}

impl TestNet {
    /// Creates the nodes' data (each with its own log) and the signed manifest; starts
    /// nothing.
    pub fn create(divisions: &[&str], seed: u64) -> Result<TestNet> {
        let root = tempfile::tempdir()?;
        let city = SigningKey::from_bytes(&[seed as u8 ^ 0xc1; 32]);
        let mut body = ManifestBody::new("test-city", &city.verifying_key().to_bytes());
        let mut nodes = Vec::new();
        for (i, division) in divisions.iter().enumerate() {
            let dir = root.path().join(division);
            std::fs::create_dir_all(&dir)?;
            let officers = Officers::from_seed(seed * 100 + i as u64);
            let institutions = workload::institutions(division, 8);
            let name = format!("测试{division}医疗保障局");
            {
                let ledger = Ledger::open(&dir, Policy::default())?;
                setup_log(&ledger, division, &name, &officers, &institutions)?;
                ledger.close()?;
            }
            let node = TestNode {
                division: division.to_string(),
                name: name.clone(),
                dir,
                officers,
                institutions,
                network_seed: network_seed(seed, i),
                handle: None,
                next_case: 0,
            };
            body.upsert_member(Member {
                division: division.to_string(),
                name,
                log_key: hex::encode(node.officers.bureau.verifying_key().to_bytes()),
                peer_id: node.peer_id().to_string(),
                addrs: Vec::new(),
            });
            nodes.push(node);
        }
        let manifest = Manifest::sign(body, &city)?;
        Ok(TestNet {
            _root: root,
            city,
            manifest,
            nodes,
            config: test_config(),
        })
    }

    /// Starts node `i` on its data (again, after a stop) and waits until it listens.
    pub async fn start(&mut self, i: usize) -> Result<()> {
        let config = self.config.clone();
        self.start_with(i, config).await
    }

    /// Like [`Self::start`], with its own settings (a byzantine node's fault, say).
    pub async fn start_with(&mut self, i: usize, config: NetConfig) -> Result<()> {
        let node = &mut self.nodes[i];
        let ledger = Arc::new(open_retrying(&node.dir)?);
        let keypair = keypair_from_seed(node.network_seed)?;
        let own = Some((node.code(), node.officers.bureau.clone()));
        let handle = NodeHandle::start(ledger, keypair, self.manifest.clone(), own, config).await?;
        node.handle = Some(handle);
        let division = node.division.clone();
        wait_for(
            &format!("node {division} to listen"),
            Duration::from_secs(10),
            || !self.nodes[i].handle().listen_addrs().is_empty(),
        )
        .await
    }

    /// Starts every node and connects each to every other.
    pub async fn start_all(&mut self) -> Result<()> {
        for i in 0..self.nodes.len() {
            self.start(i).await?;
        }
        for i in 0..self.nodes.len() {
            self.connect(i);
        }
        Ok(())
    }

    /// Node `i` dials every other running node.
    pub fn connect(&self, i: usize) {
        for (j, other) in self.nodes.iter().enumerate() {
            if i == j {
                continue;
            }
            if let Some(handle) = &other.handle {
                for addr in handle.listen_addrs() {
                    self.nodes[i]
                        .handle()
                        .dial(with_peer(addr, handle.peer_id()));
                }
            }
        }
    }

    /// Stops node `i` gracefully.
    pub async fn stop(&mut self, i: usize) -> Result<()> {
        if let Some(handle) = self.nodes[i].handle.take() {
            let ledger = handle.shutdown().await?;
            drop(ledger);
        }
        Ok(())
    }

    /// Appends `cases` whole cases to node `i`'s own log (durably, through its ledger).
    pub fn append_cases(&mut self, i: usize, cases: u64) -> Result<()> {
        let node = &mut self.nodes[i];
        let code = node.code();
        let mut rng = Rng::new(node.next_case * 7919 + 1);
        let mut records: Vec<(Signer, Record)> = Vec::new();
        for case_no in node.next_case..node.next_case + cases {
            let inst = &node.institutions[rng.below(node.institutions.len() as u64) as usize];
            records.extend(workload::case_records(
                &mut rng,
                &node.division,
                &node.name,
                case_no,
                inst,
                2024,
                false,
            )?);
        }
        node.next_case += cases;
        let subs = workload::sign(&node.officers, &code.origin(), TIME_MS, &records)?;
        workload::append_all(node.handle().ledger(), &code, subs, TIME_MS)
    }

    /// Waits until every node in `which` holds the log of every node in `which` at the
    /// same size and checkpoint as its owner.
    pub async fn wait_converged(&self, which: &[usize], timeout: Duration) -> Result<()> {
        let expected: Vec<(String, u64)> = which
            .iter()
            .map(|&i| &self.nodes[i])
            .filter(|n| n.handle.is_some())
            .map(|n| {
                let size = n.handle().ledger().size(&n.code()).unwrap_or(0);
                (n.division.clone(), size)
            })
            .collect();
        let describe = || -> String {
            which
                .iter()
                .map(|&i| {
                    let s = self.nodes[i].status();
                    let logs: Vec<String> = s
                        .logs
                        .iter()
                        .map(|l| format!("{}={}", l.log, l.size))
                        .collect();
                    format!("{}: {}", self.nodes[i].division, logs.join(" "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let ok = wait_until(timeout, || {
            which.iter().all(|&i| {
                let status = self.nodes[i].status();
                expected.iter().all(|(log, size)| {
                    status
                        .log(log)
                        .map(|v| v.size == *size && v.checkpoint_size == *size)
                        .unwrap_or(false)
                })
            })
        })
        .await;
        if !ok {
            bail!(
                "not converged within {timeout:?}; expected {expected:?}; saw {}",
                describe()
            );
        }
        // Same checkpoints (owner's signature line and tree) everywhere.
        for (log, _) in &expected {
            let bodies: Vec<String> = which
                .iter()
                .map(|&i| checkpoint_body(&self.nodes[i].status(), log))
                .collect();
            if bodies.windows(2).any(|w| w[0] != w[1]) {
                bail!("log {log}: different checkpoints on different nodes: {bodies:?}");
            }
        }
        Ok(())
    }
}

/// The checkpoint note of `log` without its cosignature lines.
pub fn checkpoint_body(status: &NodeStatus, log: &str) -> String {
    status
        .log(log)
        .map(|v| {
            v.checkpoint
                .lines()
                .filter(|l| !l.starts_with("— yibao.ledger/v1/witness/"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Opens a ledger, retrying while a just-stopped node's sled lock is released.
pub fn open_retrying(dir: &std::path::Path) -> Result<Ledger> {
    let mut last = None;
    for _ in 0..100 {
        match Ledger::open(dir, Policy::default()) {
            Ok(l) => return Ok(l),
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(anyhow!("cannot open {}: {last:?}", dir.display()))
}

/// `addr` with `/p2p/<peer>` appended.
pub fn with_peer(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    addr.with(libp2p::multiaddr::Protocol::P2p(peer))
}

/// Polls `ready` every 50 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Like [`wait_until`], failing with `what` on timeout.
pub async fn wait_for(what: &str, timeout: Duration, ready: impl FnMut() -> bool) -> Result<()> {
    if wait_until(timeout, ready).await {
        Ok(())
    } else {
        bail!("timed out after {timeout:?} waiting for {what}")
    }
}

/// Copies a stopped node's data directory (to fork its history).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A two-worker tokio runtime, as the machine has two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}"))
}
