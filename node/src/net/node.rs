//! The node daemon's network half: a libp2p swarm (TCP + Noise + Yamux; identify, ping,
//! gossipsub, request-response) driven by one event loop that owns every sync decision.
//!
//! Per log, catch-up is a two-stage pipeline: while one batch is being verified and stored
//! (on a blocking thread), the next is already being fetched. Batches come from any member
//! whose Status says it holds more, not only from the log's owner. Every answer is checked
//! before use; faults lower the sender's score, and a peer past the threshold is banned.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, gossipsub, identify, identity, noise, ping, tcp, yamux, Multiaddr, PeerId,
    Swarm,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use yibao_ledger::equivocation::EquivocationProof;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::{Ledger, ReplicaError, ReplicaProgress};
use yibao_schema::manifest::{witness_name, Manifest};
use yibao_schema::note::{Cosignature, KeyKind, NoteSignature, SignedCheckpoint, VerifierKey};

use super::fault::ServeFault;
use super::protocol::{
    EntriesResponse, Gossip, LogStatus, Outgoing, Request, Response, SyncCodec, ENTRIES_PER_PAGE,
    GOSSIP_TOPIC, MAX_ENTRIES_PER_REQUEST, MAX_GOSSIP_BYTES, MAX_RESPONSE_BYTES, SYNC_PROTOCOL,
};
use super::score::{Fault, ScoreConfig, Scores};

/// How long gossipsub remembers a message it has seen or published, and so how long this
/// node does not gossip the same bytes again.
const GOSSIP_DUPLICATE_WINDOW: Duration = Duration::from_secs(60);

/// How often the index rows queued by replicated batches are written: the same pause as
/// an owner's appender, for the same reason.
const INDEX_WRITE_EVERY: Duration = yibao_ledger::index::INDEX_WRITE_PAUSE;

/// Every timing and limit of a node, set explicitly.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on (loopback in tests: `/ip4/127.0.0.1/tcp/0`).
    pub listen: Vec<Multiaddr>,
    /// How often each connected peer is asked for its Status.
    pub status_interval: Duration,
    /// How often members that are not connected are dialled again.
    pub redial_interval: Duration,
    /// How long a request may take before it fails (and costs the peer a little).
    pub request_timeout: Duration,
    /// How long a connection with nothing to do stays open.
    pub idle_timeout: Duration,
    /// The most entries asked for in one EntriesByRange.
    pub batch: u64,
    /// The most concurrent streams per connection for sync.
    pub max_streams: usize,
    /// How long a peer that refused or failed a log's batch is not asked for it again.
    pub avoid_for: Duration,
    /// How long a log's sync pauses after this node failed to store a verified batch (a
    /// full disk, say): fetching again at once would only download the batch again.
    pub storage_retry: Duration,
    /// Peer scoring.
    pub scores: ScoreConfig,
    /// Where to write the node's status as JSON every second (`yibao status` reads it).
    pub status_file: Option<PathBuf>,
    /// Fault injection for tests of byzantine peers (never set by `yibao run`).
    pub fault: Option<ServeFault>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: Vec::new(),
            status_interval: Duration::from_secs(1),
            redial_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            batch: MAX_ENTRIES_PER_REQUEST,
            max_streams: 64,
            avoid_for: Duration::from_secs(10),
            storage_retry: Duration::from_secs(5),
            scores: ScoreConfig::default(),
            status_file: None,
            fault: None,
        }
    }
}

/// One log as the node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogView {
    pub log: String,
    /// Entries stored.
    pub size: u64,
    /// The size of the latest checkpoint held.
    pub checkpoint_size: u64,
    /// The latest checkpoint's note, with the cosignatures held.
    pub checkpoint: String,
    /// The largest checkpoint size any peer or gossip has shown (verified).
    pub best_known: u64,
    /// `best_known - size` (0 when up to date).
    pub lag: u64,
    /// Cosignatures on the latest checkpoint.
    pub cosignatures: usize,
    /// Frozen by a proven equivocation.
    pub frozen: bool,
    /// This node's own log.
    pub own: bool,
    /// Why this node could not store the log's last verified batch (a full disk, say),
    /// while that lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_error: Option<String>,
}

/// What `yibao status` shows.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NodeStatus {
    pub peer_id: String,
    /// The process running the node.
    #[serde(default)]
    pub pid: u32,
    pub listen: Vec<String>,
    pub peers: Vec<String>,
    pub banned: Vec<String>,
    pub faults: u64,
    pub logs: Vec<LogView>,
    /// Logs with a stored equivocation proof.
    pub equivocations: Vec<String>,
    /// Milliseconds since the Unix epoch when this was taken.
    pub updated_ms: u64,
}

impl NodeStatus {
    /// The view of one log.
    pub fn log(&self, code: &str) -> Option<&LogView> {
        self.logs.iter().find(|l| l.log == code)
    }

    /// Prometheus lines for the network side: peers, bans, faults, and per-log sync lag.
    pub fn prometheus(&self) -> String {
        let mut out = format!(
            "# HELP yibao_peers Connected peers.\n# TYPE yibao_peers gauge\nyibao_peers {}\n\
             # HELP yibao_banned_peers Peers banned for faults.\n# TYPE yibao_banned_peers gauge\nyibao_banned_peers {}\n\
             # HELP yibao_peer_faults_total Faults recorded against peers.\n# TYPE yibao_peer_faults_total counter\nyibao_peer_faults_total {}\n\
             # HELP yibao_sync_lag_entries Entries behind the best known checkpoint.\n# TYPE yibao_sync_lag_entries gauge\n",
            self.peers.len(),
            self.banned.len(),
            self.faults
        );
        for log in &self.logs {
            out.push_str(&format!(
                "yibao_sync_lag_entries{{log=\"{}\"}} {}\n",
                log.log, log.lag
            ));
        }
        out
    }
}

enum Command {
    Dial(Multiaddr),
    Block(PeerId),
    Unblock(PeerId),
    Announce,
    InstallManifest(Box<Manifest>, oneshot::Sender<Result<()>>),
    Shutdown,
}

/// A running node.
pub struct NodeHandle {
    tx: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<NodeStatus>>,
    task: tokio::task::JoinHandle<()>,
    peer_id: PeerId,
    ledger: Arc<Ledger>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("peer_id", &self.peer_id)
            .finish()
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// What an outstanding request was for.
#[derive(Debug, Clone)]
enum Asked {
    Status,
    /// `pages`: asked as PagesByRange (whose answer may carry pages).
    Entries {
        log: LogCode,
        start: u64,
        count: u64,
        pages: bool,
    },
    /// `suspect`: why the peer is blamed if its tree turns out consistent with ours (a
    /// batch that did not match its checkpoint).
    Consistency {
        log: LogCode,
        from: u64,
        suspect: Option<String>,
    },
}

/// Catch-up state of one log.
#[derive(Debug, Default)]
struct LogSync {
    /// The batch being fetched: request, start, count, peer.
    in_flight: Option<(OutboundRequestId, u64, PeerId)>,
    /// A fetched batch waiting for the one being verified.
    ready: Option<(PeerId, EntriesResponse)>,
    /// A batch is being verified and stored.
    verifying: bool,
    /// Where the next request starts.
    next_start: u64,
    /// Peers not to ask for this log until then.
    avoid: HashMap<PeerId, Instant>,
    /// The best verified checkpoint size seen anywhere.
    best_known: u64,
    /// Cosignatures that arrived before their checkpoint did: (size, line).
    backlog: Vec<(u64, String)>,
    /// This node failed to store a verified batch: why, and when to fetch again.
    storage_failure: Option<(String, Instant)>,
}

struct Verified {
    log: LogCode,
    peer: PeerId,
    checkpoint: String,
    result: std::result::Result<ReplicaProgress, ReplicaError>,
}

/// The peer to fetch `log` from, among `candidates` (peer, size it holds): one that holds
/// the most of it; when several do, the logs are spread over them by division code, so
/// that one peer does not serve every log a new node catches up.
fn pick_holder(log: &LogCode, candidates: &[(PeerId, u64)]) -> Option<(PeerId, u64)> {
    let most = candidates.iter().map(|(_, size)| *size).max()?;
    let mut holders: Vec<PeerId> = candidates
        .iter()
        .filter(|(_, size)| *size == most)
        .map(|(peer, _)| *peer)
        .collect();
    holders.sort_by_key(|peer| peer.to_bytes());
    let spread = log.as_str().parse::<usize>().unwrap_or(0) % holders.len().max(1);
    holders.get(spread).map(|peer| (*peer, most))
}

struct Runner {
    swarm: Swarm<Behaviour>,
    ledger: Arc<Ledger>,
    manifest: Manifest,
    own: Option<(LogCode, SigningKey)>,
    config: NetConfig,
    scores: Scores,
    topic: gossipsub::IdentTopic,
    peer_logs: HashMap<PeerId, HashMap<LogCode, (u64, String)>>,
    asked: HashMap<OutboundRequestId, (PeerId, Asked)>,
    status_pending: HashSet<PeerId>,
    syncs: HashMap<LogCode, LogSync>,
    verified_tx: mpsc::UnboundedSender<Verified>,
    verified_rx: mpsc::UnboundedReceiver<Verified>,
    announced: Option<u64>,
    /// Ids (BLAKE3 of the bytes, as gossipsub's message ids) of what this node gossiped in
    /// the last [`GOSSIP_DUPLICATE_WINDOW`], oldest first: gossipsub refuses to publish a
    /// message again within that window, and logs a warning each time.
    published: std::collections::VecDeque<(blake3::Hash, Instant)>,
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    manual_blocks: HashSet<PeerId>,
    status: Arc<Mutex<NodeStatus>>,
    listen_addrs: Vec<Multiaddr>,
    witness_keys: HashMap<String, VerifierKey>,
    last_status_poll: Instant,
    /// Per replica, the checkpoint size already looked at by `cosign_held`.
    cosigned: HashMap<LogCode, u64>,
    /// Checkpoints (log, size, root) already compared with what this node holds.
    compared: HashSet<(LogCode, u64, [u8; 32])>,
    /// Each log's verifier key in force, cached (see `check_checkpoint`).
    vkeys: HashMap<LogCode, VerifierKey>,
    /// Consistency checks already asked for: (peer, log) → (from, to).
    checked: HashMap<(PeerId, LogCode), (u64, u64)>,
    last_redial: Instant,
    last_status_write: Instant,
    status_soon: bool,
    /// When the replicated batches' queued index rows were last written (see
    /// [`INDEX_WRITE_EVERY`]); set while a write runs.
    last_index_write: Instant,
    index_writing: Arc<std::sync::atomic::AtomicBool>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The peer ids and addresses of a manifest's members, skipping ours and any that do not
/// parse (reported).
fn members(manifest: &Manifest, me: &PeerId) -> HashMap<PeerId, Vec<Multiaddr>> {
    let mut out = HashMap::new();
    for m in &manifest.body.members {
        let peer: PeerId = match m.peer_id.parse() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(member = %m.division, error = %e, "manifest peer id does not parse; member skipped");
                continue;
            }
        };
        if &peer == me {
            continue;
        }
        let addrs = m.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        out.insert(peer, addrs);
    }
    out
}

fn witness_keys(manifest: &Manifest) -> HashMap<String, VerifierKey> {
    let mut out = HashMap::new();
    for m in &manifest.body.members {
        let name = witness_name(&m.division);
        if let Ok(key) = m.log_key_bytes() {
            if let Ok(vkey) = VerifierKey::from_public_key(&name, &key, KeyKind::CosignatureV1) {
                out.insert(name, vkey);
            }
        }
    }
    out
}

/// Makes sure the ledger holds every member's log (an empty replica pinned to the bureau
/// key the manifest names, for the ones it does not have yet).
pub fn ensure_member_logs(ledger: &Ledger, manifest: &Manifest) -> Result<()> {
    let held: HashSet<LogCode> = ledger.log_codes().into_iter().collect();
    for m in &manifest.body.members {
        let code = LogCode::parse(&m.division)
            .ok_or_else(|| anyhow!("manifest member {} has a bad division code", m.division))?;
        let key = m.log_key_bytes()?;
        if held.contains(&code) {
            let meta = ledger.meta(&code)?;
            if meta.genesis_key != hex::encode(key) {
                return Err(anyhow!(
                    "log {code}: the manifest names bureau key {} but the ledger holds a log created with {}",
                    m.log_key,
                    meta.genesis_key
                ));
            }
            continue;
        }
        ledger.create_replica_log(code, &m.name, &key)?;
    }
    Ok(())
}

impl NodeHandle {
    /// Starts a node on the current tokio runtime. `own` is this node's log and bureau
    /// key (which also signs its cosignatures), if it has one.
    pub async fn start(
        ledger: Arc<Ledger>,
        keypair: identity::Keypair,
        manifest: Manifest,
        own: Option<(LogCode, SigningKey)>,
        config: NetConfig,
    ) -> Result<NodeHandle> {
        manifest.verify(None).context("the node's manifest")?;
        ensure_member_logs(&ledger, &manifest)?;
        if let Some((code, key)) = &own {
            ledger.set_signer(code, key.clone())?;
        }
        // Every log's state is replayed now, off the runtime's threads, rather than inside
        // the event loop on first use (a million entries take seconds).
        let replaying = ledger.clone();
        let started = Instant::now();
        for (log, loaded) in tokio::task::spawn_blocking(move || replaying.load_states()).await? {
            match loaded {
                Ok(size) => tracing::debug!(%log, size, "log state replayed"),
                Err(e) => tracing::error!(%log, "log state cannot be replayed: {e}"),
            }
        }
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "log states replayed"
        );
        let peer_id = keypair.public().to_peer_id();
        let mut swarm = build_swarm(keypair, &config)?;
        let topic = gossipsub::IdentTopic::new(GOSSIP_TOPIC);
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| anyhow!("gossip subscribe: {e}"))?;
        let addresses = members(&manifest, &peer_id);
        for peer in addresses.keys() {
            swarm.behaviour_mut().allowed.allow_peer(*peer);
        }
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .with_context(|| format!("listen on {addr}"))?;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (verified_tx, verified_rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(NodeStatus {
            peer_id: peer_id.to_string(),
            ..NodeStatus::default()
        }));
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        let mut runner = Runner {
            swarm,
            ledger: ledger.clone(),
            witness_keys: witness_keys(&manifest),
            manifest,
            own,
            scores: Scores::new(config.scores),
            config,
            topic,
            peer_logs: HashMap::new(),
            asked: HashMap::new(),
            status_pending: HashSet::new(),
            syncs: HashMap::new(),
            verified_tx,
            verified_rx,
            announced: None,
            published: std::collections::VecDeque::new(),
            addresses,
            manual_blocks: HashSet::new(),
            status: status.clone(),
            listen_addrs: Vec::new(),
            last_status_poll: long_ago,
            checked: HashMap::new(),
            vkeys: HashMap::new(),
            compared: HashSet::new(),
            cosigned: HashMap::new(),
            last_redial: long_ago,
            last_status_write: long_ago,
            status_soon: true,
            last_index_write: long_ago,
            index_writing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    event = runner.swarm.select_next_some() => runner.on_swarm_event(event),
                    Some(done) = runner.verified_rx.recv() => runner.on_verified(done),
                    command = rx.recv() => match command {
                        None | Some(Command::Shutdown) => break,
                        Some(command) => runner.on_command(command),
                    },
                    _ = tick.tick() => runner.on_tick(),
                }
            }
            runner.shutdown().await;
        });
        Ok(NodeHandle {
            tx,
            status,
            task,
            peer_id,
            ledger,
        })
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The node's status as of its last tick (every 100 ms).
    pub fn status(&self) -> NodeStatus {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The network side of the HTTP API's `/metrics`, read from the node's status.
    pub fn metrics_source(&self) -> Arc<dyn Fn() -> String + Send + Sync> {
        let status = self.status.clone();
        Arc::new(move || {
            status
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .prometheus()
        })
    }

    /// The addresses the node listens on (once listening).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.status()
            .listen
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    pub fn dial(&self, addr: Multiaddr) {
        let _ = self.tx.send(Command::Dial(addr));
    }

    /// Refuses every connection with `peer` until [`Self::unblock`] (a partition in tests,
    /// an operator's decision otherwise).
    pub fn block(&self, peer: PeerId) {
        let _ = self.tx.send(Command::Block(peer));
    }

    pub fn unblock(&self, peer: PeerId) {
        let _ = self.tx.send(Command::Unblock(peer));
    }

    /// Announces the node's own latest checkpoint now (it also does so on its own, every
    /// tick, when the checkpoint changed).
    pub fn announce(&self) {
        let _ = self.tx.send(Command::Announce);
    }

    /// Replaces the manifest with a newer one signed by the same city key.
    pub async fn install_manifest(&self, manifest: Manifest) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::InstallManifest(Box::new(manifest), tx))
            .map_err(|_| anyhow!("the node has stopped"))?;
        rx.await.map_err(|_| anyhow!("the node has stopped"))?
    }

    /// Stops the node: connections closed, nothing half-written (every store is atomic
    /// and durable before it is acknowledged).
    pub async fn shutdown(self) -> Result<Arc<Ledger>> {
        let _ = self.tx.send(Command::Shutdown);
        self.task.await.map_err(|e| anyhow!("node task: {e}"))?;
        Ok(self.ledger)
    }
}

fn build_swarm(keypair: identity::Keypair, config: &NetConfig) -> Result<Swarm<Behaviour>> {
    let request_timeout = config.request_timeout;
    let max_streams = config.max_streams;
    let idle = config.idle_timeout;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| anyhow!("transport: {e}"))?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(500))
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .max_transmit_size(MAX_GOSSIP_BYTES)
                .mesh_n_low(1)
                .mesh_n(4)
                .mesh_n_high(8)
                .mesh_outbound_min(1)
                .flood_publish(true)
                .duplicate_cache_time(GOSSIP_DUPLICATE_WINDOW)
                .message_id_fn(|message: &gossipsub::Message| {
                    gossipsub::MessageId::from(blake3::hash(&message.data).as_bytes().to_vec())
                })
                .build()
                .map_err(|e| e.to_string())?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            Ok(Behaviour {
                allowed: allow_block_list::Behaviour::default(),
                blocked: allow_block_list::Behaviour::default(),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/yibao/1".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
                gossipsub,
                sync: request_response::Behaviour::with_codec(
                    SyncCodec,
                    [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(request_timeout)
                        .with_max_concurrent_streams(max_streams),
                ),
            })
        })
        .map_err(|e| anyhow!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}

impl Runner {
    fn on_command(&mut self, command: Command) {
        match command {
            Command::Dial(addr) => {
                // An address naming a member's peer id is remembered, so that it is dialled
                // again while that member is not connected.
                if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
                    if let Some(known) = self.addresses.get_mut(&peer) {
                        let bare: Multiaddr = addr
                            .iter()
                            .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
                            .collect();
                        if !known.contains(&bare) {
                            known.insert(0, bare);
                            known.truncate(8);
                        }
                    }
                }
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "dial failed");
                }
            }
            Command::Block(peer) => {
                self.manual_blocks.insert(peer);
                self.swarm.behaviour_mut().blocked.block_peer(peer);
            }
            Command::Unblock(peer) => {
                self.manual_blocks.remove(&peer);
                if !self.scores.is_banned(&peer) {
                    self.swarm.behaviour_mut().blocked.unblock_peer(peer);
                }
                self.last_redial = Instant::now()
                    .checked_sub(self.config.redial_interval)
                    .unwrap_or_else(Instant::now);
            }
            Command::Announce => self.announce(true),
            Command::InstallManifest(manifest, reply) => {
                let _ = reply.send(self.install_manifest(*manifest));
            }
            Command::Shutdown => {}
        }
    }

    fn install_manifest(&mut self, manifest: Manifest) -> Result<()> {
        manifest.verify_replacement(&self.manifest)?;
        ensure_member_logs(&self.ledger, &manifest)?;
        let me = *self.swarm.local_peer_id();
        let new_members = members(&manifest, &me);
        let removed: Vec<PeerId> = self
            .addresses
            .keys()
            .filter(|p| !new_members.contains_key(p))
            .copied()
            .collect();
        for peer in removed {
            self.swarm.behaviour_mut().allowed.disallow_peer(peer);
            self.peer_logs.remove(&peer);
        }
        for peer in new_members.keys() {
            self.swarm.behaviour_mut().allowed.allow_peer(*peer);
        }
        self.addresses = new_members;
        self.witness_keys = witness_keys(&manifest);
        tracing::info!(serial = manifest.body.serial, "manifest replaced");
        self.manifest = manifest;
        Ok(())
    }

    fn member_log(&self, code: &LogCode) -> bool {
        self.manifest.member(code.as_str()).is_some()
    }

    fn penalise(&mut self, peer: PeerId, fault: Fault, why: &str) {
        tracing::warn!(%peer, ?fault, reason = why, "peer fault");
        if self.scores.penalise(peer, fault, Instant::now()) {
            tracing::warn!(%peer, "peer banned");
            self.swarm.behaviour_mut().blocked.block_peer(peer);
            self.peer_logs.remove(&peer);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.listen_addrs.push(address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                tracing::info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                self.request_status(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::info!(peer = %peer_id, "disconnected");
                self.peer_logs.remove(&peer_id);
                self.status_pending.remove(&peer_id);
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                tracing::debug!(error = %error, "incoming connection refused");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if self.addresses.contains_key(&peer_id) => {
                // Learn where a member listens (after a restart its port may change).
                if let Some(known) = self.addresses.get_mut(&peer_id) {
                    for a in info.listen_addrs.into_iter().take(8) {
                        if !known.contains(&a) {
                            known.push(a);
                        }
                    }
                    known.truncate(8);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let verdict = self.on_gossip(propagation_source, &message.data);
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, verdict);
            }
            _ => {}
        }
    }

    fn request_status(&mut self, peer: PeerId) {
        if self.status_pending.contains(&peer) || self.scores.is_banned(&peer) {
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Request::Status);
        self.asked.insert(id, (peer, Asked::Status));
        self.status_pending.insert(peer);
    }

    fn on_sync_event(&mut self, event: request_response::Event<Request, Outgoing>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.serve(peer, request, channel);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let Some((asked_peer, asked)) = self.asked.remove(&request_id) else {
                        return;
                    };
                    let Outgoing::Response(response) = response else {
                        return;
                    };
                    self.on_response(asked_peer, request_id, asked, response);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let asked = self.asked.remove(&request_id);
                let fault = match &error {
                    request_response::OutboundFailure::Io(e)
                        if e.kind() == std::io::ErrorKind::InvalidData =>
                    {
                        Some(Fault::Malformed)
                    }
                    request_response::OutboundFailure::Timeout => Some(Fault::Timeout),
                    request_response::OutboundFailure::Io(e)
                        if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                    {
                        Some(Fault::Malformed)
                    }
                    _ => None,
                };
                tracing::debug!(%peer, error = %error, "request failed");
                if let Some(fault) = fault {
                    self.penalise(peer, fault, &error.to_string());
                }
                match asked {
                    Some((_, Asked::Status)) => {
                        self.status_pending.remove(&peer);
                    }
                    Some((_, Asked::Entries { log, start, .. })) => {
                        self.entries_failed(log, peer, start);
                    }
                    Some((_, Asked::Consistency { .. })) | None => {}
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, error = %error, "inbound request failed");
                if let request_response::InboundFailure::Io(e) = &error {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        self.penalise(peer, Fault::Malformed, &e.to_string());
                    }
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn entries_failed(&mut self, log: LogCode, peer: PeerId, start: u64) {
        let avoid_until = Instant::now() + self.config.avoid_for;
        if let Some(sync) = self.syncs.get_mut(&log) {
            if matches!(sync.in_flight, Some((_, s, p)) if s == start && p == peer) {
                sync.in_flight = None;
            }
            sync.avoid.insert(peer, avoid_until);
            // Start again from what is stored and verified.
            if sync.ready.is_none() && !sync.verifying {
                sync.next_start = self.ledger.size(&log).unwrap_or(sync.next_start);
            }
        }
        self.drive(log);
    }

    /// Answers a peer's request from the ledger.
    fn serve(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Outgoing>) {
        let response = match request {
            Request::Status => Response::Status(self.status_of_logs()),
            Request::Entries { log, start, count } => self.serve_entries(log, start, count, false),
            // A byzantine test node corrupts entries, so it serves them as entries unless it
            // corrupts pages.
            Request::Pages { log, start, count } => {
                let pages = self
                    .config
                    .fault
                    .as_ref()
                    .is_none_or(ServeFault::serves_pages);
                self.serve_entries(log, start, count, pages)
            }
            Request::Consistency { log, from, to } => self.serve_consistency(log, from, to),
        };
        let outgoing = match (&self.config.fault, response) {
            (Some(fault), Response::Entries(r)) => fault.apply(r),
            (_, response) => Outgoing::Response(response),
        };
        if self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, outgoing)
            .is_err()
        {
            tracing::debug!(%peer, "response not sent: the peer went away");
        }
    }

    fn status_of_logs(&self) -> Vec<LogStatus> {
        let mut out = Vec::new();
        for log in self.ledger.log_codes() {
            let Ok(text) = self.ledger.latest_checkpoint(&log) else {
                continue;
            };
            let Ok(signed) = SignedCheckpoint::parse(&text) else {
                continue;
            };
            if signed.checkpoint.size == 0 {
                continue;
            }
            out.push(LogStatus {
                log,
                size: signed.checkpoint.size,
                checkpoint: text,
            });
        }
        out
    }

    /// Entries `[start, start + count)` of `log` up to its latest checkpoint, the full
    /// pages among them as stored when `with_pages` (and `start` is a page's first), cut
    /// to the response cap.
    fn serve_entries(&self, log: LogCode, start: u64, count: u64, with_pages: bool) -> Response {
        let refuse = |why: String| Response::Refused(why);
        let Ok(text) = self.ledger.latest_checkpoint(&log) else {
            return refuse(format!("this node does not hold log {log}"));
        };
        let Ok(signed) = SignedCheckpoint::parse(&text) else {
            return refuse("no checkpoint".into());
        };
        let size = signed.checkpoint.size;
        if start >= size {
            return refuse(format!(
                "log {log}: nothing checkpointed from {start} (size {size})"
            ));
        }
        let end = size.min(start.saturating_add(count.min(MAX_ENTRIES_PER_REQUEST)));
        // Cut to the response cap (leaving room for the checkpoint and proof), counting
        // pages by what they expand to, as the receiver does.
        let budget = MAX_RESPONSE_BYTES - 64 * 1024;
        let mut used = 0usize;
        let mut pages = Vec::new();
        let wanted_pages = if with_pages && start.is_multiple_of(ENTRIES_PER_PAGE) {
            (end - start) / ENTRIES_PER_PAGE
        } else {
            0
        };
        if wanted_pages > 0 {
            let stored = match self
                .ledger
                .full_pages(&log, start / ENTRIES_PER_PAGE, wanted_pages)
            {
                Ok(stored) => stored,
                Err(e) => return refuse(format!("cannot read log {log}: {e}")),
            };
            for value in stored {
                let expands_to = match yibao_ledger::page::frames_len(&value) {
                    Ok(len) => len,
                    Err(e) => return refuse(format!("cannot read log {log}: a page: {e}")),
                };
                used += expands_to + 9;
                if used > budget && !pages.is_empty() {
                    break;
                }
                pages.push(value.to_vec());
            }
        }
        let loose_start = start + pages.len() as u64 * ENTRIES_PER_PAGE;
        let mut entries = Vec::new();
        if (pages.len() as u64) == wanted_pages && loose_start < end {
            entries = match self.ledger.entries(&log, loose_start, end - loose_start) {
                Ok(e) => e.into_iter().map(|(_, bytes)| bytes).collect::<Vec<_>>(),
                Err(e) => return refuse(format!("cannot read log {log}: {e}")),
            };
            let keep = entries
                .iter()
                .take_while(|e| {
                    used += e.len() + 9;
                    used <= budget
                })
                .count()
                .max(usize::from(pages.is_empty()));
            entries.truncate(keep);
        }
        let served = EntriesResponse {
            log,
            start,
            pages,
            entries,
            checkpoint: text,
            proof: Vec::new(),
        };
        let end = start + served.len();
        match self.ledger.consistency_from(&log, end, size) {
            Ok(proof) => Response::Entries(EntriesResponse { proof, ..served }),
            Err(e) => refuse(format!("cannot prove log {log}: {e}")),
        }
    }

    fn serve_consistency(&self, log: LogCode, from: u64, to: u64) -> Response {
        let Ok(text) = self.ledger.latest_checkpoint(&log) else {
            return Response::Refused(format!("this node does not hold log {log}"));
        };
        let Ok(signed) = SignedCheckpoint::parse(&text) else {
            return Response::Refused("no checkpoint".into());
        };
        if to != signed.checkpoint.size || from > to || from == 0 {
            return Response::Refused(format!(
                "consistency {from}→{to}: only to the latest checkpoint ({})",
                signed.checkpoint.size
            ));
        }
        match (
            self.ledger.root_at(&log, from),
            self.ledger.consistency_from(&log, from, to),
        ) {
            (Ok(prefix_root), Ok(proof)) => Response::Consistency {
                log,
                prefix_root,
                proof,
                checkpoint: text,
            },
            _ => Response::Refused("cannot prove".into()),
        }
    }

    fn on_response(
        &mut self,
        peer: PeerId,
        id: OutboundRequestId,
        asked: Asked,
        response: Response,
    ) {
        match (asked, response) {
            (Asked::Status, Response::Status(logs)) => {
                self.status_pending.remove(&peer);
                self.on_status(peer, logs);
            }
            (
                Asked::Entries {
                    log,
                    start,
                    count,
                    pages,
                },
                Response::Entries(r),
            ) => {
                if r.log != log
                    || r.start != start
                    || r.is_empty()
                    || r.len() > count
                    || (!pages && !r.pages.is_empty())
                {
                    self.penalise(
                        peer,
                        Fault::WrongAnswer,
                        "entries response is not what was asked",
                    );
                    self.entries_failed(log, peer, start);
                    return;
                }
                let Some(sync) = self.syncs.get_mut(&log) else {
                    return;
                };
                if !matches!(sync.in_flight, Some((i, _, _)) if i == id) {
                    return;
                }
                sync.in_flight = None;
                sync.next_start = start + r.len();
                tracing::debug!(%log, start, count = r.len(), pages = r.pages.len(), %peer, "batch fetched");
                sync.ready = Some((peer, r));
                self.drive(log);
            }
            (Asked::Entries { log, start, .. }, Response::Refused(why)) => {
                tracing::debug!(%log, start, %peer, reason = %why, "peer refused a batch");
                self.entries_failed(log, peer, start);
            }
            (
                Asked::Consistency { log, from, suspect },
                Response::Consistency {
                    log: l,
                    prefix_root,
                    proof,
                    checkpoint,
                },
            ) => {
                if l != log {
                    self.penalise(peer, Fault::WrongAnswer, "consistency for another log");
                    return;
                }
                let equivocation =
                    self.on_consistency(peer, log, from, prefix_root, proof, checkpoint);
                if let (false, Some(why)) = (equivocation, suspect) {
                    self.penalise(peer, Fault::InvalidData, &why);
                }
            }
            (Asked::Status, _) => {
                self.status_pending.remove(&peer);
                self.penalise(
                    peer,
                    Fault::WrongAnswer,
                    "status answered with something else",
                );
            }
            (Asked::Entries { log, start, .. }, _) => {
                self.penalise(
                    peer,
                    Fault::WrongAnswer,
                    "entries answered with something else",
                );
                self.entries_failed(log, peer, start);
            }
            (Asked::Consistency { suspect, .. }, Response::Refused(_)) => {
                if let Some(why) = suspect {
                    self.penalise(peer, Fault::InvalidData, &why);
                }
            }
            (Asked::Consistency { .. }, _) => {
                self.penalise(
                    peer,
                    Fault::WrongAnswer,
                    "consistency answered with something else",
                );
            }
        }
    }

    /// Whether a checkpoint (not verified) claims more than this node holds of the log: it
    /// may be signed by a key a later entry rotates to, so it cannot be judged yet.
    fn beyond_held(&self, log: &LogCode, text: &str, claimed: u64) -> bool {
        SignedCheckpoint::parse(text)
            .map(|s| s.checkpoint.size == claimed && claimed > self.ledger.size(log).unwrap_or(0))
            .unwrap_or(false)
    }

    /// Verifies a checkpoint of `log` under its bureau key in force. The key is cached per
    /// log (and dropped when a batch is stored, since it may rotate): looking it up locks
    /// the log, which a batch being verified holds.
    fn check_checkpoint(
        &mut self,
        log: &LogCode,
        text: &str,
    ) -> std::result::Result<SignedCheckpoint, String> {
        let signed = SignedCheckpoint::parse(text).map_err(|e| e.to_string())?;
        let key = match self.vkeys.get(log) {
            Some(key) => key.clone(),
            None => {
                let key = self
                    .ledger
                    .log_verifier_key(log)
                    .map_err(|e| e.to_string())?;
                self.vkeys.insert(*log, key.clone());
                key
            }
        };
        signed.verify(&key).map_err(|e| e.to_string())?;
        Ok(signed)
    }

    fn on_status(&mut self, peer: PeerId, logs: Vec<LogStatus>) {
        let mut seen = HashMap::new();
        for status in logs {
            if !self.member_log(&status.log) {
                continue;
            }
            let signed = match self.check_checkpoint(&status.log, &status.checkpoint) {
                Ok(s) => s,
                Err(_) if self.beyond_held(&status.log, &status.checkpoint, status.size) => {
                    // Signed, perhaps, by a key that a later entry rotates to: the batch
                    // that reaches it is checked against it when it arrives.
                    seen.insert(status.log, (status.size, status.checkpoint));
                    continue;
                }
                Err(e) => {
                    self.penalise(
                        peer,
                        Fault::InvalidData,
                        &format!("status checkpoint of {}: {e}", status.log),
                    );
                    return;
                }
            };
            if signed.checkpoint.size != status.size {
                self.penalise(
                    peer,
                    Fault::InvalidData,
                    "status size is not its checkpoint's",
                );
                return;
            }
            self.on_checkpoint_seen(&status.log, &signed, Some(peer));
            self.merge_cosignatures(&status.log, &signed);
            seen.insert(status.log, (status.size, status.checkpoint));
        }
        let logs: Vec<LogCode> = seen.keys().copied().collect();
        self.peer_logs.insert(peer, seen);
        for log in logs {
            self.drive(log);
        }
    }

    /// A verified checkpoint of `log` seen somewhere: a new best known size, or an
    /// equivocation.
    fn on_checkpoint_seen(
        &mut self,
        log: &LogCode,
        signed: &SignedCheckpoint,
        from: Option<PeerId>,
    ) {
        let size = signed.checkpoint.size;
        let sync = self.syncs.entry(*log).or_default();
        if size > sync.best_known {
            sync.best_known = size;
        }
        // Peers repeat the same checkpoint in every Status: compare each one once (a
        // comparison may compute a root from storage). Ones beyond what we hold are
        // compared again once we hold them.
        let key = (*log, size, signed.checkpoint.root);
        if self.compared.contains(&key) {
            return;
        }
        if size <= self.ledger.size(log).unwrap_or(0) {
            if self.compared.len() > 65_536 {
                self.compared.clear();
            }
            self.compared.insert(key);
        }
        match self.ledger.find_equivocation(log, signed) {
            Ok(Some(proof)) => self.on_equivocation(*log, proof, true),
            Ok(None) => {
                // Beyond what we hold: ask the peer how its tree extends ours, in case it
                // does not (equivocation shown through a larger checkpoint).
                if let (Some(peer), Ok(ours)) = (from, self.ledger.latest_checkpoint(log)) {
                    if let Ok(ours) = SignedCheckpoint::parse(&ours) {
                        let from_size = ours.checkpoint.size;
                        let held = self.ledger.size(log).unwrap_or(0);
                        if from_size > 0
                            && size > held
                            && self.needs_consistency_check(log, peer)
                            && self.checked.insert((peer, *log), (from_size, size))
                                != Some((from_size, size))
                        {
                            let id = self.swarm.behaviour_mut().sync.send_request(
                                &peer,
                                Request::Consistency {
                                    log: *log,
                                    from: from_size,
                                    to: size,
                                },
                            );
                            self.asked.insert(
                                id,
                                (
                                    peer,
                                    Asked::Consistency {
                                        log: *log,
                                        from: from_size,
                                        suspect: None,
                                    },
                                ),
                            );
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(%log, error = %e, "cannot compare checkpoints"),
        }
    }

    /// A consistency check is worth a request only when this node is not already
    /// fetching the log from that peer (the batch itself will show any divergence).
    fn needs_consistency_check(&self, log: &LogCode, peer: PeerId) -> bool {
        let busy = self
            .asked
            .values()
            .any(|(p, a)| *p == peer && matches!(a, Asked::Consistency { log: l, .. } if l == log));
        !busy && !self.owns(log)
    }

    fn owns(&self, log: &LogCode) -> bool {
        matches!(&self.own, Some((code, _)) if code == log)
    }

    /// Checks a peer's consistency answer; returns whether it proved an equivocation.
    fn on_consistency(
        &mut self,
        peer: PeerId,
        log: LogCode,
        from: u64,
        prefix_root: [u8; 32],
        proof: Vec<[u8; 32]>,
        checkpoint: String,
    ) -> bool {
        let signed = match self.check_checkpoint(&log, &checkpoint) {
            Ok(s) => s,
            Err(e) => {
                self.penalise(
                    peer,
                    Fault::InvalidData,
                    &format!("consistency checkpoint: {e}"),
                );
                return true; // Blamed already.
            }
        };
        let Ok(ours_text) = self.ledger.latest_checkpoint(&log) else {
            return true;
        };
        let Ok(ours) = SignedCheckpoint::parse(&ours_text) else {
            return true;
        };
        if ours.checkpoint.size != from {
            return true; // We moved on meanwhile: no verdict.
        }
        let checked = yibao_ledger::merkle::verify_consistency::<yibao_ledger::merkle::Blake3Hasher>(
            yibao_ledger::merkle::TreeSize(from),
            yibao_ledger::merkle::TreeSize(signed.checkpoint.size),
            &proof,
            &prefix_root,
            &signed.checkpoint.root,
        );
        if checked.is_err() {
            self.penalise(
                peer,
                Fault::InvalidData,
                "consistency proof does not verify",
            );
            return true;
        }
        if prefix_root == ours.checkpoint.root {
            return false; // Consistent: nothing to see.
        }
        let proof = EquivocationProof {
            first: ours_text,
            second: signed.to_text(),
            prefix_root: Some(prefix_root),
            consistency: proof,
        };
        self.on_equivocation(log, proof, true);
        true
    }

    fn on_equivocation(&mut self, log: LogCode, proof: EquivocationProof, gossip: bool) {
        match self.ledger.record_equivocation(&log, &proof) {
            Ok(true) => {
                tracing::warn!(%log, "equivocation proven; log frozen; proof gossiped");
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.ready = None;
                }
                if gossip {
                    self.publish(Gossip::Equivocation {
                        log,
                        proof: proof.encode(),
                    });
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%log, error = %e, "equivocation proof not recorded"),
        }
    }

    /// Adds cosignatures from a peer's copy of a checkpoint we hold.
    fn merge_cosignatures(&mut self, log: &LogCode, signed: &SignedCheckpoint) {
        // Lines already on our copy are skipped without touching the log (adding one locks
        // it, which a batch being verified may hold).
        let ours = self.ledger.latest_checkpoint(log).unwrap_or_default();
        for signature in &signed.note.signatures {
            if signature.name == signed.checkpoint.origin || ours.contains(&signature.to_line()) {
                continue;
            }
            if let Err(e) =
                self.add_cosignature_line(log, signed.checkpoint.size, &signature.to_line())
            {
                tracing::debug!(%log, error = %e, "a peer's cosignature was not kept");
            }
        }
    }

    /// Checks and keeps a cosignature line. Err means it is invalid; Ok(false) that it
    /// could not be placed yet.
    fn add_cosignature_line(
        &mut self,
        log: &LogCode,
        size: u64,
        line: &str,
    ) -> std::result::Result<bool, String> {
        let signature = NoteSignature::parse_line(line).map_err(|e| e.to_string())?;
        let Some(witness) = self.witness_keys.get(&signature.name).cloned() else {
            return Err(format!("unknown witness {}", signature.name));
        };
        let cosignature =
            Cosignature::from_note_signature(&signature).map_err(|e| e.to_string())?;
        match self
            .ledger
            .add_cosignature(log, size, &cosignature, &witness)
        {
            Ok(_) => Ok(true),
            Err(yibao_ledger::store::StoreError::Cosignature { reason, .. })
                if reason.starts_with("no kept checkpoint") =>
            {
                let sync = self.syncs.entry(*log).or_default();
                if sync.backlog.len() < 256
                    && !sync.backlog.iter().any(|(s, l)| *s == size && l == line)
                {
                    sync.backlog.push((size, line.to_string()));
                }
                Ok(false)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn on_gossip(&mut self, source: PeerId, data: &[u8]) -> gossipsub::MessageAcceptance {
        use gossipsub::MessageAcceptance::{Accept, Ignore, Reject};
        let gossip = match Gossip::decode(data) {
            Ok(g) => g,
            Err(e) => {
                self.penalise(source, Fault::InvalidGossip, &e.to_string());
                return Reject;
            }
        };
        let log = gossip.log();
        if !self.member_log(&log) {
            return Ignore;
        }
        match gossip {
            Gossip::Checkpoint { checkpoint, .. } => match self.check_checkpoint(&log, &checkpoint)
            {
                Ok(signed) => {
                    tracing::debug!(%log, size = signed.checkpoint.size, "checkpoint gossiped");
                    self.on_checkpoint_seen(&log, &signed, None);
                    if signed.checkpoint.size > self.ledger.size(&log).unwrap_or(0) {
                        self.status_soon = true;
                    }
                    Accept
                }
                Err(_)
                    if SignedCheckpoint::parse(&checkpoint)
                        .map(|s| self.beyond_held(&log, &checkpoint, s.checkpoint.size))
                        .unwrap_or(false) =>
                {
                    // Perhaps signed by a rotated key this node has not seen yet: not
                    // relayed, not blamed; Status and catch-up will tell.
                    self.status_soon = true;
                    Ignore
                }
                Err(e) => {
                    self.penalise(
                        source,
                        Fault::InvalidGossip,
                        &format!("gossiped checkpoint: {e}"),
                    );
                    Reject
                }
            },
            Gossip::Cosignature { size, line, .. } => {
                match self.add_cosignature_line(&log, size, &line) {
                    Ok(_) => Accept,
                    Err(e) => {
                        self.penalise(source, Fault::InvalidGossip, &format!("cosignature: {e}"));
                        Reject
                    }
                }
            }
            Gossip::Equivocation { proof, .. } => {
                let proof = match EquivocationProof::decode(&proof) {
                    Ok(p) => p,
                    Err(e) => {
                        self.penalise(source, Fault::InvalidGossip, &e.to_string());
                        return Reject;
                    }
                };
                match self.ledger.record_equivocation(&log, &proof) {
                    Ok(_) => {
                        tracing::warn!(%log, "equivocation proof received; log frozen");
                        Accept
                    }
                    Err(e) => {
                        self.penalise(source, Fault::InvalidGossip, &e.to_string());
                        Reject
                    }
                }
            }
        }
    }

    fn publish(&mut self, gossip: Gossip) {
        let bytes = gossip.encode();
        let id = blake3::hash(&bytes);
        let now = Instant::now();
        while self
            .published
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) >= GOSSIP_DUPLICATE_WINDOW)
        {
            self.published.pop_front();
        }
        if self.published.iter().any(|(seen, _)| *seen == id) {
            tracing::debug!("gossip already published lately; not again");
            return;
        }
        self.published.push_back((id, now));
        let topic = self.topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, bytes) {
            tracing::debug!(error = %e, "gossip not published");
        }
    }

    /// Gossips this node's own latest checkpoint if it changed (or always, if `force`).
    fn announce(&mut self, force: bool) {
        let Some((code, _)) = &self.own else { return };
        let code = *code;
        let Ok(text) = self.ledger.latest_checkpoint(&code) else {
            return;
        };
        let Ok(signed) = SignedCheckpoint::parse(&text) else {
            return;
        };
        let size = signed.checkpoint.size;
        if size == 0 || (!force && self.announced == Some(size)) {
            return;
        }
        self.announced = Some(size);
        // The owner's signature only: cosignatures travel on their own.
        let owner_only = SignedCheckpoint {
            note: yibao_schema::note::SignedNote {
                text: signed.note.text.clone(),
                signatures: signed
                    .note
                    .signatures
                    .iter()
                    .filter(|s| s.name == signed.checkpoint.origin)
                    .cloned()
                    .collect(),
            },
            checkpoint: signed.checkpoint.clone(),
        };
        self.publish(Gossip::Checkpoint {
            log: code,
            checkpoint: owner_only.to_text(),
        });
    }

    /// Decides the next step of a log's catch-up.
    fn drive(&mut self, log: LogCode) {
        if self.owns(&log) || self.ledger.is_frozen(&log).unwrap_or(true) {
            return;
        }
        let size = self.ledger.size(&log).unwrap_or(0);
        let now = Instant::now();
        let batch = self.config.batch.clamp(1, MAX_ENTRIES_PER_REQUEST);
        let sync = self.syncs.entry(log).or_default();
        sync.avoid.retain(|_, until| *until > now);
        if sync
            .storage_failure
            .as_ref()
            .is_some_and(|(_, retry)| now < *retry)
        {
            return;
        }
        if !sync.verifying && sync.ready.is_none() && sync.in_flight.is_none() {
            sync.next_start = size;
        }
        // Verify the fetched batch if nothing else is being verified.
        if !sync.verifying {
            if let Some((peer, batch_data)) = sync.ready.take() {
                if batch_data.start == size {
                    sync.verifying = true;
                    let ledger = self.ledger.clone();
                    let tx = self.verified_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let result = ledger.append_replicated_pages(
                            &batch_data.log,
                            batch_data.start,
                            &batch_data.pages,
                            &batch_data.entries,
                            &batch_data.checkpoint,
                            &batch_data.proof,
                        );
                        let _ = tx.send(Verified {
                            log: batch_data.log,
                            peer,
                            checkpoint: batch_data.checkpoint,
                            result,
                        });
                    });
                } else {
                    sync.next_start = size;
                }
            }
        }
        // Fetch the next batch if one is not already fetched or in flight.
        if sync.in_flight.is_some() || sync.ready.is_some() {
            return;
        }
        let start = sync.next_start;
        let candidates: Vec<(PeerId, u64)> = self
            .peer_logs
            .iter()
            .filter(|(peer, _)| !self.scores.is_banned(peer) && !sync.avoid.contains_key(*peer))
            .filter_map(|(peer, logs)| logs.get(&log).map(|(s, _)| (*peer, *s)))
            .filter(|(_, s)| *s > start)
            .collect();
        let Some((peer, their_size)) = pick_holder(&log, &candidates) else {
            return;
        };
        // Whole pages from a page's first entry on; up to the next page's first before.
        let pages = start.is_multiple_of(ENTRIES_PER_PAGE);
        let mut count = batch.min(their_size - start);
        if !pages {
            count = count.min(ENTRIES_PER_PAGE - start % ENTRIES_PER_PAGE);
        }
        let request = if pages {
            Request::Pages { log, start, count }
        } else {
            Request::Entries { log, start, count }
        };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        tracing::debug!(%log, start, count, pages, %peer, "fetching");
        if let Some(sync) = self.syncs.get_mut(&log) {
            sync.in_flight = Some((id, start, peer));
        }
        self.asked.insert(
            id,
            (
                peer,
                Asked::Entries {
                    log,
                    start,
                    count,
                    pages,
                },
            ),
        );
    }

    fn on_verified(&mut self, done: Verified) {
        let Verified {
            log,
            peer,
            checkpoint,
            result,
        } = done;
        if let Some(sync) = self.syncs.get_mut(&log) {
            sync.verifying = false;
        }
        // The batch may have rotated the log's key: look it up now, while no batch of this
        // log holds its lock.
        match self.ledger.log_verifier_key(&log) {
            Ok(key) => {
                self.vkeys.insert(log, key);
            }
            Err(_) => {
                self.vkeys.remove(&log);
            }
        }
        match result {
            Ok(progress) => {
                tracing::debug!(%log, size = progress.size, "batch verified and stored");
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.storage_failure = None;
                }
                if progress.reached_checkpoint {
                    self.cosign(&log);
                    self.retry_backlog(&log);
                }
            }
            Err(e @ ReplicaError::Mismatch { .. }) => {
                // Either the peer lies, or the log's key signed two histories: ask the peer
                // how its checkpoint extends ours before blaming it.
                tracing::warn!(%log, %peer, error = %e, "batch does not match its checkpoint");
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.ready = None;
                    sync.avoid
                        .insert(peer, Instant::now() + self.config.avoid_for);
                }
                let ours = self
                    .ledger
                    .latest_checkpoint(&log)
                    .ok()
                    .and_then(|t| SignedCheckpoint::parse(&t).ok())
                    .map(|s| s.checkpoint.size)
                    .unwrap_or(0);
                let theirs = SignedCheckpoint::parse(&checkpoint)
                    .map(|s| s.checkpoint.size)
                    .unwrap_or(0);
                if ours > 0 && theirs > ours {
                    let id = self.swarm.behaviour_mut().sync.send_request(
                        &peer,
                        Request::Consistency {
                            log,
                            from: ours,
                            to: theirs,
                        },
                    );
                    self.asked.insert(
                        id,
                        (
                            peer,
                            Asked::Consistency {
                                log,
                                from: ours,
                                suspect: Some(e.to_string()),
                            },
                        ),
                    );
                } else {
                    self.penalise(peer, Fault::InvalidData, &e.to_string());
                }
            }
            Err(e) if e.is_peer_fault() => {
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.ready = None;
                    sync.avoid
                        .insert(peer, Instant::now() + self.config.avoid_for);
                }
                self.penalise(peer, Fault::InvalidData, &e.to_string());
            }
            Err(e @ ReplicaError::Store(_)) => {
                // This node's fault, not the peer's: say so loudly, and wait before
                // downloading the batch again.
                tracing::error!(%log, error = %e, "a verified batch could not be stored");
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.ready = None;
                    sync.storage_failure =
                        Some((e.to_string(), Instant::now() + self.config.storage_retry));
                }
            }
            Err(e) => {
                tracing::info!(%log, error = %e, "batch not stored");
                if let Some(sync) = self.syncs.get_mut(&log) {
                    sync.ready = None;
                }
            }
        }
        self.drive(log);
    }

    /// Cosigns the replica's latest checkpoint (which it has verified against every entry)
    /// and gossips the cosignature.
    /// Cosigns every replica's latest checkpoint this node holds but has not cosigned yet
    /// (a node stopped between storing a checkpoint and cosigning it, or restarted on a
    /// complete replica). Each size is looked at once.
    fn cosign_held(&mut self) {
        let Some((own, _)) = &self.own else { return };
        let own = *own;
        let line_start = format!("— {} ", witness_name(own.as_str()));
        for log in self.ledger.log_codes() {
            if log == own {
                continue;
            }
            let Ok(text) = self.ledger.latest_checkpoint(&log) else {
                continue;
            };
            let size = text
                .lines()
                .nth(1)
                .and_then(|l| l.parse::<u64>().ok())
                .unwrap_or(0);
            if size == 0 || self.cosigned.get(&log) == Some(&size) {
                continue;
            }
            if !text.contains(&line_start) {
                self.cosign(&log);
            }
            self.cosigned.insert(log, size);
        }
    }

    fn cosign(&mut self, log: &LogCode) {
        let Some((own, key)) = &self.own else { return };
        let name = witness_name(own.as_str());
        let Ok(text) = self.ledger.latest_checkpoint(log) else {
            return;
        };
        let Ok(signed) = SignedCheckpoint::parse(&text) else {
            return;
        };
        let Ok(cosignature) = Cosignature::sign(&signed.checkpoint, &name, key, now_ms() / 1000)
        else {
            return;
        };
        let Some(witness) = self.witness_keys.get(&name).cloned() else {
            tracing::warn!(%name, "this node is not a witness in the manifest; not cosigning");
            return;
        };
        match self
            .ledger
            .add_cosignature(log, signed.checkpoint.size, &cosignature, &witness)
        {
            Ok(_) => {
                tracing::debug!(%log, size = signed.checkpoint.size, "cosigned");
                self.publish(Gossip::Cosignature {
                    log: *log,
                    size: signed.checkpoint.size,
                    line: cosignature.to_line(),
                });
            }
            Err(e) => tracing::warn!(%log, error = %e, "cannot keep own cosignature"),
        }
    }

    fn retry_backlog(&mut self, log: &LogCode) {
        let backlog = match self.syncs.get_mut(log) {
            Some(sync) => std::mem::take(&mut sync.backlog),
            None => return,
        };
        let size = self.ledger.size(log).unwrap_or(0);
        for (s, line) in backlog {
            if s > size {
                if let Some(sync) = self.syncs.get_mut(log) {
                    sync.backlog.push((s, line));
                }
                continue;
            }
            let _ = self.add_cosignature_line(log, s, &line);
        }
        // Lines for checkpoints that were superseded are dropped.
        if let Some(sync) = self.syncs.get_mut(log) {
            sync.backlog.retain(|(s, _)| *s > size);
        }
    }

    /// Writes the index rows that replicated batches queued, off the runner's thread, at
    /// most every [`INDEX_WRITE_EVERY`] and one write at a time.
    fn write_queued_index(&mut self, now: Instant) {
        use std::sync::atomic::Ordering;
        if now.duration_since(self.last_index_write) < INDEX_WRITE_EVERY
            || self.ledger.index_queued() == 0
            || self.index_writing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.last_index_write = now;
        let ledger = self.ledger.clone();
        let writing = self.index_writing.clone();
        tokio::task::spawn_blocking(move || {
            ledger.flush_index();
            writing.store(false, Ordering::Release);
        });
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.write_queued_index(now);
        for peer in self.scores.expire(now) {
            if !self.manual_blocks.contains(&peer) {
                self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            }
        }
        self.announce(false);
        self.cosign_held();
        if self.status_soon
            || now.duration_since(self.last_status_poll) >= self.config.status_interval
        {
            self.status_soon = false;
            self.last_status_poll = now;
            let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
            for peer in peers {
                self.request_status(peer);
            }
        }
        if now.duration_since(self.last_redial) >= self.config.redial_interval {
            self.last_redial = now;
            let targets: Vec<(PeerId, Vec<Multiaddr>)> = self
                .addresses
                .iter()
                .filter(|(p, _)| {
                    !self.swarm.is_connected(p)
                        && !self.scores.is_banned(p)
                        && !self.manual_blocks.contains(p)
                })
                .map(|(p, a)| (*p, a.clone()))
                .collect();
            for (peer, addrs) in targets {
                if addrs.is_empty() {
                    continue;
                }
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                    .addresses(addrs)
                    .build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(%peer, error = %e, "redial failed");
                }
            }
        }
        let logs: Vec<LogCode> = self.ledger.log_codes();
        for log in logs {
            self.drive(log);
        }
        self.publish_status(now);
    }

    fn publish_status(&mut self, now: Instant) {
        let mut logs = Vec::new();
        let mut equivocations = Vec::new();
        for code in self.ledger.log_codes() {
            let size = self.ledger.size(&code).unwrap_or(0);
            let checkpoint = self.ledger.latest_checkpoint(&code).unwrap_or_default();
            let (checkpoint_size, cosignatures) = SignedCheckpoint::parse(&checkpoint)
                .map(|s| {
                    let origin = s.checkpoint.origin.clone();
                    (
                        s.checkpoint.size,
                        s.note
                            .signatures
                            .iter()
                            .filter(|x| x.name != origin)
                            .count(),
                    )
                })
                .unwrap_or((0, 0));
            let frozen = self.ledger.is_frozen(&code).unwrap_or(false);
            if frozen {
                equivocations.push(code.to_string());
            }
            let sync = self.syncs.get(&code);
            let best_known = sync.map(|s| s.best_known).unwrap_or(0).max(checkpoint_size);
            logs.push(LogView {
                log: code.to_string(),
                size,
                checkpoint_size,
                checkpoint,
                best_known,
                lag: best_known.saturating_sub(size),
                cosignatures,
                frozen,
                own: self.owns(&code),
                storage_error: sync
                    .and_then(|s| s.storage_failure.as_ref().map(|(e, _)| e.clone())),
            });
        }
        let mut peers: Vec<String> = self
            .swarm
            .connected_peers()
            .map(|p| p.to_string())
            .collect();
        peers.sort();
        let status = NodeStatus {
            peer_id: self.swarm.local_peer_id().to_string(),
            pid: std::process::id(),
            listen: self.listen_addrs.iter().map(|a| a.to_string()).collect(),
            peers,
            banned: self.scores.banned().iter().map(|p| p.to_string()).collect(),
            faults: self.scores.fault_count(),
            logs,
            equivocations,
            updated_ms: now_ms(),
        };
        if let Some(path) = &self.config.status_file {
            if now.duration_since(self.last_status_write) >= Duration::from_secs(1) {
                self.last_status_write = now;
                write_status_file(path, &status);
            }
        }
        *self
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = status;
    }

    async fn shutdown(mut self) {
        // Let a batch being verified finish: it is stored atomically either way, but
        // waiting means the last status is true.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.syncs.values().any(|s| s.verifying) && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(100), self.verified_rx.recv()).await {
                Ok(Some(done)) => {
                    if let Some(sync) = self.syncs.get_mut(&done.log) {
                        sync.verifying = false;
                    }
                }
                _ => continue,
            }
        }
        self.publish_status(Instant::now());
        if let Some(path) = &self.config.status_file {
            let mut status = self
                .status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            status.peers.clear();
            write_status_file(path, &status);
        }
        tracing::info!("node stopped");
    }
}

fn write_status_file(path: &std::path::Path, status: &NodeStatus) {
    let Ok(json) = serde_json::to_vec_pretty(status) else {
        return;
    };
    let tmp = path.with_extension("json.tmp");
    if std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, path))
        .is_err()
    {
        tracing::warn!(path = %path.display(), "cannot write the status file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_fetched_from_the_fullest_holders_spread_over_them() {
        let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
        let candidates = vec![(peers[0], 100), (peers[1], 100), (peers[2], 60)];
        let picked: Vec<(PeerId, u64)> = (140_702..140_706)
            .map(|code| {
                let log = LogCode::parse(&code.to_string()).unwrap();
                pick_holder(&log, &candidates).unwrap()
            })
            .collect();
        // Only peers holding all 100 entries, and both of them in turn.
        assert!(picked
            .iter()
            .all(|(peer, size)| *size == 100 && *peer != peers[2]));
        assert!(picked.iter().any(|(peer, _)| *peer == peers[0]));
        assert!(picked.iter().any(|(peer, _)| *peer == peers[1]));
        // The same log always goes to the same peer, whatever order peers are listed in.
        let log = LogCode::parse("140702").unwrap();
        let mut reversed = candidates.clone();
        reversed.reverse();
        assert_eq!(pick_holder(&log, &candidates), pick_holder(&log, &reversed));
        assert_eq!(pick_holder(&log, &[]), None);
        assert_eq!(pick_holder(&log, &[(peers[2], 7)]), Some((peers[2], 7)));
    }
}
