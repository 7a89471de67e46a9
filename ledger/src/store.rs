//! The ledger on disk: every log a node holds, in one sled database.
//!
//! An append goes: decode the envelope → check the author's signature (batched) →
//! decode the record and check authorisation and the domain rules against the log's state
//! → assign seq and prev → extend the Merkle tree → sign a checkpoint → one atomic sled
//! batch → flush and fsync → acknowledge. Concurrent submitters share one batch and one
//! flush through [`crate::appender::Appender`] (group commit).
//!
//! Not here: full verification of stored data (`verify`), export bundles (`bundle`),
//! derived indexes (`index`), and anything to do with the network.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use ed25519_dalek::SigningKey;
use yibao_schema::entry::{self, EntryRef, EnvelopeError, Submission, SubmissionRef};
use yibao_schema::hashing::FastMap;
use yibao_schema::note::{Checkpoint, SignedCheckpoint};
use yibao_schema::policy::Policy;
use yibao_schema::record::{Record, RecordKind};
use yibao_schema::rules::RuleViolation;
use yibao_schema::sig::{BatchVerifier, PublicKey, SignatureError};
use yibao_schema::state::{EntryContext, LogState};

use crate::keys::{self, LogCode};
use crate::merkle::{
    self, Blake3Hasher, Frontier, Hash, LeafIndex, MerkleHasher, NodeId, NodeSource, TreeSize,
};
use crate::page;

/// How many times (20 ms apart) opening waits for a ledger's lock to be released.
const LOCK_ATTEMPTS: u32 = 50;

/// Tree nodes of this height and above are stored; lower ones are recomputed from at most
/// 2^(STORED_MIN_LEVEL) − 1 entries when a proof needs them. This keeps the tree's share
/// of the disk near 4 bytes per entry instead of 64.
pub const STORED_MIN_LEVEL: u8 = 4;

/// A checkpoint is kept in the history when the tree grew by at least this many entries
/// since the last kept one; the latest checkpoint is always kept.
pub const CHECKPOINT_RETAIN_EVERY: u64 = 1024;

/// How far in the future (by the node's clock) a statement's timestamp may be.
pub const MAX_FUTURE_SKEW_MS: u64 = 5 * 60 * 1000;

/// How old a statement may be when it is submitted. A re-submitted statement is answered
/// with the entry it made, not appended twice; keeping statements this young lets the node
/// remember the recent ones in memory instead of indexing every statement on disk.
pub const MAX_STATEMENT_AGE_MS: u64 = 24 * 60 * 60 * 1000;

/// Authors' public keys a log keeps decompressed between batches, at most (see
/// `verify_signatures`).
const MAX_CACHED_KEYS: usize = 4096;

/// The statements a log remembers so that the same signed statement is not appended twice
/// (SPEC §3.3): those no more than [`MAX_STATEMENT_AGE_MS`] + [`MAX_FUTURE_SKEW_MS`] older
/// than the log's newest statement. The owner refuses anything older as too old, so its
/// check is complete; a replica refuses a repeat of any statement in the window and leaves
/// a repeat of an older one (which no honest owner appends) to `verify` and the audit,
/// which check the whole log. The bound is by the log's own timestamps, not this node's
/// clock, so a replica holds the same window whether it has just started or replicated
/// for a year.
#[derive(Debug, Default)]
struct Recent {
    /// Statement hash → (seq, statement timestamp, leaf hash).
    statements: FastMap<[u8; 32], (u64, u64, Hash)>,
    /// The newest statement timestamp remembered, in milliseconds.
    newest_ms: u64,
}

impl Recent {
    fn get(&self, statement_hash: &[u8; 32]) -> Option<&(u64, u64, Hash)> {
        self.statements.get(statement_hash)
    }

    /// Adds statements; whenever the set grows past a power of two (from 8,192 on), the
    /// ones that fell out of the window are dropped — not on every batch, since a pass over
    /// a day's statements costs more than a small batch.
    fn remember(&mut self, fresh: impl IntoIterator<Item = ([u8; 32], (u64, u64, Hash))>) {
        let before = self.statements.len();
        for (hash, value) in fresh {
            self.newest_ms = self.newest_ms.max(value.1);
            self.statements.insert(hash, value);
        }
        let after = self.statements.len();
        if after > 4096 && before.leading_zeros() != after.leading_zeros() {
            self.prune();
        }
    }

    /// Drops the statements that fell out of the window.
    fn prune(&mut self) {
        let horizon = self
            .newest_ms
            .saturating_sub(MAX_STATEMENT_AGE_MS + MAX_FUTURE_SKEW_MS);
        self.statements
            .retain(|_, (_, timestamp, _)| *timestamp >= horizon);
    }
}

/// Why the store failed, as a whole.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error (I/O, corruption it detected).
    #[error("storage error: {}", describe_sled(.0))]
    Sled(#[from] sled::Error),
    /// An I/O error outside sled (the journal, fsync, key files).
    #[error("I/O error: {}", describe_io(.0))]
    Io(#[from] std::io::Error),
    /// Stored data is not what this code wrote.
    #[error("log {log}{}: stored data is corrupt: {what}", seq.map(|s| format!(" seq {s}")).unwrap_or_default())]
    Corrupt {
        /// The log.
        log: String,
        /// The entry, when one is to blame.
        seq: Option<u64>,
        /// What is wrong.
        what: String,
    },
    /// No such log in this store.
    #[error("no log {0} in this ledger")]
    UnknownLog(String),
    /// The log exists already.
    #[error("log {0} exists already")]
    LogExists(String),
    /// This node cannot sign for the log.
    #[error("this node holds no signing key for log {0}")]
    NoSigningKey(String),
    /// An entry or proof was asked for outside the log.
    #[error("log {log} has {size} entries; {what} is out of range")]
    OutOfRange {
        /// The log.
        log: String,
        /// Its size.
        size: u64,
        /// What was asked.
        what: String,
    },
    /// Another process (a running node) holds the ledger's lock.
    #[error("the ledger at {0} is in use by another process (a running node holds its lock)")]
    Locked(String),
    /// A cosignature was refused.
    #[error("log {log}: cosignature refused: {reason}")]
    Cosignature {
        /// The log.
        log: String,
        /// Why.
        reason: String,
    },
    /// Creating the log's first entry failed.
    #[error("cannot create log: {0}")]
    Genesis(String),
}

/// An I/O error for people: a full disk says so and what to do (the OS message alone
/// does not say that the node needs room, and sled passes it on in debug form).
pub fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let cause = match e.kind() {
        ErrorKind::StorageFull => "the disk is full",
        ErrorKind::QuotaExceeded => "the disk quota is used up",
        ErrorKind::FileTooLarge => "a file reached the file-size limit",
        _ => return e.to_string(),
    };
    format!(
        "{cause}: the ledger's files cannot grow; free space, then restart the node if \
         writes still fail (nothing acknowledged is lost)"
    )
}

fn describe_sled(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => describe_io(io),
        other => other.to_string(),
    }
}

/// Why one submission was refused. Other submissions in the same batch are unaffected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The envelope is malformed.
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    /// The statement names another log.
    #[error("statement is for log `{found}`, but this is `{expected}`")]
    WrongLog {
        /// This log's origin.
        expected: String,
        /// The statement's origin.
        found: String,
    },
    /// The statement's timestamp is ahead of the node's clock.
    #[error("timestamp {timestamp_ms} is {ahead_ms} ms ahead of this node's clock (limit {MAX_FUTURE_SKEW_MS} ms)")]
    FromTheFuture {
        /// The statement's timestamp.
        timestamp_ms: u64,
        /// How far ahead.
        ahead_ms: u64,
    },
    /// The statement is older than [`MAX_STATEMENT_AGE_MS`]; the officer signs it again.
    #[error("statement was signed {age_ms} ms ago, more than the {MAX_STATEMENT_AGE_MS} ms a statement may wait; sign it again")]
    TooOld {
        /// How old it is.
        age_ms: u64,
    },
    /// The record kind is unknown to this build.
    #[error("unknown record kind `{0}`")]
    UnknownKind(String),
    /// The signature does not verify.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// The payload is not a valid record of its kind.
    #[error("record: {0}")]
    Payload(String),
    /// A domain rule or authorisation failed.
    #[error("{0}")]
    Rule(RuleViolation),
    /// The log is frozen (equivocation proven) and accepts nothing.
    #[error("log {0} is frozen and accepts no entries")]
    Frozen(String),
    /// Not appended because another submission of an all-or-nothing batch was refused.
    #[error("not appended: another record submitted with it was refused")]
    NotAppended,
    /// The batch could not be stored, so nothing of it was acknowledged. (Its journal
    /// record may have been made durable before the failure; submitting it again is safe,
    /// a repeat is answered with the stored entry.)
    #[error("not stored, not acknowledged (submitting it again is safe): {0}")]
    Storage(String),
}

/// The acknowledgement of a durable append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The log.
    pub log: LogCode,
    /// The entry's seq.
    pub seq: u64,
    /// The entry's Merkle leaf hash.
    pub leaf_hash: Hash,
    /// The size of the checkpoint signed with this batch (covers `seq`).
    pub checkpoint_size: u64,
    /// True when this statement was already in the log and nothing new was appended.
    pub duplicate: bool,
}

/// A log's metadata row: what it was created with. JSON, small, read on open.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LogMeta {
    /// The 6-digit division code.
    pub division: String,
    /// The origin line of its checkpoints.
    pub origin: String,
    /// The bureau's name, e.g. 柳林县医疗保障局.
    pub name: String,
    /// Hex of the bureau key the log was created with (the key of entry 0).
    pub genesis_key: String,
}

/// A log's head row: size and the last leaf hash, written in the same batch as entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    size: u64,
    last_leaf: Hash,
    latest_checkpoint: u64,
    last_retained_checkpoint: u64,
}

impl Head {
    const LEN: usize = 8 + 32 + 8 + 8;

    fn encode(&self) -> [u8; Head::LEN] {
        let mut out = [0u8; Head::LEN];
        out[0..8].copy_from_slice(&self.size.to_be_bytes());
        out[8..40].copy_from_slice(&self.last_leaf);
        out[40..48].copy_from_slice(&self.latest_checkpoint.to_be_bytes());
        out[48..56].copy_from_slice(&self.last_retained_checkpoint.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Head> {
        if bytes.len() != Head::LEN {
            return None;
        }
        let u = |range: std::ops::Range<usize>| -> Option<u64> {
            Some(u64::from_be_bytes(bytes.get(range)?.try_into().ok()?))
        };
        Some(Head {
            size: u(0..8)?,
            last_leaf: bytes.get(8..40)?.try_into().ok()?,
            latest_checkpoint: u(40..48)?,
            last_retained_checkpoint: u(48..56)?,
        })
    }
}

/// In-memory state of one log, behind its mutex.
struct LogMem {
    code: LogCode,
    meta: LogMeta,
    head: Head,
    frontier: Frontier,
    /// The domain and authorisation state, built on the first append (replaying the log),
    /// so that read-only commands open fast.
    state: Option<LogState>,
    /// The entries of the last, partly filled page, framed (empty when the log fills its
    /// pages exactly).
    tail_page: Vec<u8>,
    /// The log's recent statements, for de-duplication. Built with `state`.
    recent: Recent,
    /// Checked public keys of authors seen, so each is decompressed once.
    keys: HashMap<[u8; 32], PublicKey>,
    /// The bureau key, when this node owns the log.
    signer: Option<SigningKey>,
    /// The latest signed checkpoint's text.
    latest_checkpoint: String,
    /// Set when the log is proven to equivocate; it then accepts nothing.
    frozen: bool,
    /// What readers see, and what commits change: behind its own mutex, so that writing
    /// one batch never waits for the validation of the next (which holds this `LogMem`).
    shared: Arc<Mutex<Shared>>,
    /// The ticket the next prepared batch gets; batches are committed in ticket order.
    next_ticket: u64,
}

/// The next ticket allowed to commit, and a condition variable to wait for it on.
type CommitGate = (Mutex<u64>, std::sync::Condvar);

/// The part of a log's memory that commits change.
#[derive(Debug)]
struct Shared {
    /// What readers see: the state as of the last durable batch. `head`, `frontier`,
    /// `state`, `tail_page`, `recent` and `latest_checkpoint` of [`LogMem`] run ahead of
    /// it while prepared batches wait to be written (see [`Ledger::prepare`]).
    durable: Durable,
    /// Bumped (with the `LogMem` locked too) when a write fails: batches prepared before
    /// then are refused, because they were built on top of the failed one.
    generation: u64,
    /// A copy of `LogMem::frozen`, for readers.
    frozen: bool,
}

impl Shared {
    fn new(durable: Durable) -> Arc<Mutex<Shared>> {
        Arc::new(Mutex::new(Shared {
            durable,
            generation: 0,
            frozen: false,
        }))
    }
}

/// The durable view of a log.
#[derive(Debug, Clone)]
struct Durable {
    head: Head,
    checkpoint: String,
    root: Hash,
}

/// A batch that has been validated and applied to the log's in-memory state, waiting to
/// be written by [`Ledger::commit`]. Commits happen in the order batches were prepared.
pub struct Prepared {
    code: LogCode,
    ticket: u64,
    generation: u64,
    shared: Arc<Mutex<Shared>>,
    batch: Option<Rows>,
    results: Vec<Option<Result<Receipt, AppendError>>>,
    appended: Vec<(usize, u64, Hash)>,
    first_new_seq: u64,
    durable: Durable,
    index_rows: Vec<Vec<u8>>,
    /// The stored-level tree nodes the batch completes, for the node cache once durable.
    nodes: Vec<(NodeId, Hash)>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("code", &self.code)
            .field("ticket", &self.ticket)
            .field("entries", &self.appended.len())
            .finish()
    }
}

/// A ledger: all the logs one node holds.
pub struct Ledger {
    path: PathBuf,
    db: sled::Db,
    main: sled::Tree,
    /// The derived indexes (see `index`).
    pub(crate) index: sled::Tree,
    policy: Policy,
    logs: RwLock<BTreeMap<LogCode, Arc<Mutex<LogMem>>>>,
    /// Each log's shared part (the same `Arc` as its `LogMem::shared`), reachable without
    /// locking the log: readers (sizes, checkpoints, the frozen flag) never wait behind a
    /// batch being validated.
    shared: RwLock<BTreeMap<LogCode, Arc<Mutex<Shared>>>>,
    /// The sled data file, fsynced after each flush: sled's own flush issues
    /// `sync_file_range`, which does not reach the disk's write cache.
    data_file: Option<File>,
    /// Every log's acknowledged size, mirrored outside sled in `heads` (see
    /// [`HEADS_FILE`]) after each durable batch.
    acknowledged: Mutex<BTreeMap<LogCode, u64>>,
    /// Per log, the next ticket allowed to commit, with a condition variable to wait on.
    commit_order: Mutex<BTreeMap<LogCode, Arc<CommitGate>>>,
    /// The write-ahead journal every write to `main` goes through (see `journal`).
    journal: Mutex<Journal>,
    /// Stored tree nodes already read, for proofs (see [`NodeCache`]).
    nodes: NodeCache,
    /// Index rows of durable batches not yet written to the index tree (see `index`).
    pub(crate) pending_index: Mutex<Vec<crate::index::PendingIndex>>,
    /// Held while pending index rows are written, so that they are written in order.
    pub(crate) indexing: Mutex<()>,
    /// The heads file, opened on the first write to it.
    heads_file: Mutex<Option<File>>,
}

/// Stored tree nodes read for proofs and roots, kept in memory.
///
/// A stored node is the hash of a perfect subtree, fixed once written, and sled holds only
/// what the journal made durable, so a node read from sled never changes: the cache needs
/// no invalidation. It is bounded by emptying it when it passes [`NodeCache::MAX`] nodes
/// (a proof's upper nodes are shared by every proof and come back at once).
///
/// It keeps the leaf hashes of blocks of 2^[`STORED_MIN_LEVEL`] entries too (the level-0
/// tiles under the lowest stored level, partial for a log's last block): with them, a
/// proof needs no entry read, decompression or hashing of entries. They are as fixed as
/// stored nodes (a stored entry never changes; the last block only gains leaves, and a
/// tile is only used for as many leaves as it has), and bounded the same way, by
/// [`NodeCache::MAX_TILES`].
#[derive(Default)]
pub(crate) struct NodeCache {
    // Keyed fast maps: SipHash cost as much as the rest of a cached node lookup.
    nodes: Mutex<FastMap<(LogCode, NodeId), Hash>>,
    tiles: Mutex<FastMap<(LogCode, u64), LeafTile>>,
}

/// The leaf hashes of one block (of its first leaves, for the last block of a log).
type LeafTile = Arc<[Hash]>;

/// Leaves per block: the width of the lowest stored level.
const BLOCK: u64 = 1 << STORED_MIN_LEVEL;

impl NodeCache {
    /// About 40 MB of nodes: every stored node of ~4,000,000 entries.
    const MAX: usize = 1 << 19;

    fn get(&self, code: &LogCode, id: NodeId) -> Option<Hash> {
        lock(&self.nodes).get(&(*code, id)).copied()
    }

    /// Keeps a node. When the cache is full, it is emptied first if `evict`, else the node
    /// is not kept; says whether it was kept.
    fn put(&self, code: &LogCode, id: NodeId, hash: Hash, evict: bool) -> bool {
        let mut nodes = lock(&self.nodes);
        if nodes.len() >= Self::MAX {
            if !evict {
                return false;
            }
            nodes.clear();
        }
        nodes.insert((*code, id), hash);
        true
    }

    /// About 64 MB of leaf hashes: the tiles of ~2,000,000 entries.
    const MAX_TILES: usize = 1 << 17;

    fn tile(&self, code: &LogCode, first: u64) -> Option<LeafTile> {
        lock(&self.tiles).get(&(*code, first)).cloned()
    }

    /// Keeps the leaf hashes of the block starting at `first` (all of them, or the first
    /// ones of the log's last block, which only ever gains leaves), unless a tile as long
    /// is kept already. When the cache is full, it is emptied first if `evict`, else the
    /// tile is not kept.
    fn put_tile(&self, code: &LogCode, first: u64, leaves: &LeafTile, evict: bool) {
        if leaves.is_empty() || leaves.len() as u64 > BLOCK || !first.is_multiple_of(BLOCK) {
            return;
        }
        let mut tiles = lock(&self.tiles);
        if let Some(kept) = tiles.get(&(*code, first)) {
            if kept.len() >= leaves.len() {
                return;
            }
        } else if tiles.len() >= Self::MAX_TILES {
            if !evict {
                return;
            }
            tiles.clear();
        }
        tiles.insert((*code, first), leaves.clone());
    }

    /// Keeps what a durable batch added to a log: its new stored nodes, and its leaves
    /// (from `first_seq` on, consecutive) on the tiles of their blocks. A block's tile is
    /// extended only if the cache holds all of it before `first_seq` (or it starts there).
    fn remember_appended(
        &self,
        code: &LogCode,
        first_seq: u64,
        leaves: &[Hash],
        nodes: &[(NodeId, Hash)],
    ) {
        for (id, hash) in nodes {
            self.put(code, *id, *hash, true);
        }
        let mut seq = first_seq;
        let mut rest = leaves;
        while !rest.is_empty() {
            let first = seq & !(BLOCK - 1);
            let before = usize::try_from(seq - first).unwrap_or(usize::MAX);
            let room = usize::try_from(first + BLOCK - seq).unwrap_or(usize::MAX);
            let (now, later) = rest.split_at(room.min(rest.len()));
            let kept: Option<Vec<Hash>> = if before == 0 {
                Some(Vec::with_capacity(BLOCK as usize))
            } else {
                self.tile(code, first)
                    .and_then(|tile| tile.get(..before).map(<[Hash]>::to_vec))
            };
            if let Some(mut tile) = kept {
                tile.extend_from_slice(now);
                self.put_tile(code, first, &tile.into(), true);
            }
            seq += now.len() as u64;
            rest = later;
        }
    }
}

/// A small text file beside the sled directory, rewritten in place after every durable
/// batch: one line per log, `CODE SIZE`, then `blake3 <16 hex digits>` over those lines. sled recovers from a
/// damaged file by ending its log at the damage, which could silently drop acknowledged
/// entries; this file lets `open` and `verify` notice that instead of passing a shortened
/// log.
pub const HEADS_FILE: &str = "heads";

impl Drop for Ledger {
    /// A ledger dropped without [`Ledger::close`] still leaves sled flushed and the journal
    /// empty (as after `close`), so that the next open has nothing to replay. If that
    /// fails, nothing is lost: the journal is replayed on the next open.
    fn drop(&mut self) {
        self.flush_index();
        // After `close`, there is nothing left to do.
        if lock(&self.journal).is_empty() {
            return;
        }
        if let Err(e) = self.empty_journal() {
            tracing::warn!(error = %e, "could not flush the store when closing it; the journal will be replayed on the next open");
        }
    }
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

mod journal;
mod replica;
use journal::{Journal, Rows};
pub use journal::{JOURNAL_FILE, ROTATE_BYTES};
pub use replica::{ReplicaError, ReplicaProgress, MAX_REPLICA_BATCH, MAX_REPLICA_BATCH_BYTES};

/// Stages entry `seq` of a batch whose first entry is `from` into `batch`: its frame joins
/// the in-memory tail page `tail`; when the page fills, the page is written, compressed,
/// and the tail rows of its entries that earlier batches wrote (those before `from`) are
/// removed in the same batch. With [`stage_tail`], the one place where entry bytes go into
/// a sled batch.
fn stage_entry(
    batch: &mut Rows,
    tail: &mut Vec<u8>,
    code: &LogCode,
    (from, seq): (u64, u64),
    bytes: &[u8],
) {
    page::push_frame(tail, bytes);
    let index = page::page_of(seq);
    if page::page_of(seq + 1) != index {
        batch.insert(
            &keys::page(code, index)[..],
            page::encode_full(&std::mem::take(tail)),
        );
        // Only the first page a batch fills can have tail rows: the entries of this batch
        // have none yet (a catch-up batch of 4,096 entries used to stage 3,968 removes of
        // rows that never existed, each a sled lookup and 20 bytes of journal).
        for earlier in page::first_seq(index)..seq.min(from) {
            batch.remove(&keys::tail(code, earlier)[..]);
        }
    }
}

/// Stages, once a batch's entries are staged, one tail row per entry of the batch (from
/// seq `from` on) that is left in the partly filled last page; `tail` holds that page's
/// frames and `size` is the log's size after the batch. Tail rows are small and written
/// once, so an append does not rewrite the partly filled page (see "Entry pages" in
/// ARCHITECTURE.md).
fn stage_tail(
    batch: &mut Rows,
    tail: &[u8],
    code: &LogCode,
    from: u64,
    size: u64,
) -> Result<(), page::PageError> {
    if tail.is_empty() {
        return Ok(());
    }
    let first = page::first_seq(page::page_of(size));
    let frames = page::frames(tail)?;
    if first + frames.len() as u64 != size {
        return Err(page::PageError::BadHeader);
    }
    for (i, (offset, len)) in frames.into_iter().enumerate() {
        let seq = first + i as u64;
        if seq >= from {
            let bytes = tail.get(offset..offset + len).unwrap_or_default();
            batch.insert(&keys::tail(code, seq)[..], bytes);
        }
    }
    Ok(())
}

/// Stages the signed checkpoint `text` for `head.size` as the log's latest, and drops or
/// retains the previous latest (see "Checkpoint retention" in ARCHITECTURE.md). The
/// caller writes `head` afterwards.
fn stage_checkpoint(
    batch: &mut Rows,
    code: &LogCode,
    head: &mut Head,
    previous_text: &str,
    text: &str,
) {
    batch.insert(keys::checkpoint(code, head.size), text.as_bytes());
    let previous = head.latest_checkpoint;
    if previous == head.size {
        // The same size signed again (a replica storing the owner's note): nothing to drop.
    } else if previous == 0 {
        // The unsigned empty-tree checkpoint is only for a log with no entries.
        batch.remove(keys::checkpoint(code, 0));
    } else if previous != head.last_retained_checkpoint
        && previous - head.last_retained_checkpoint < CHECKPOINT_RETAIN_EVERY
        // A cosigned checkpoint was seen by witnesses: it is kept.
        && previous_text.matches("\n— ").count() <= 1
    {
        batch.remove(keys::checkpoint(code, previous));
    } else if previous != head.last_retained_checkpoint {
        head.last_retained_checkpoint = previous;
    }
    head.latest_checkpoint = head.size;
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned mutex means a thread panicked while holding it; the data it guards is
    // only mutated after storage succeeded, so it is still consistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Pages a state replay reads and decodes at a time (in parallel).
const REPLAY_CHUNK_PAGES: u64 = 64;

/// One stored entry as a state replay needs it, decoded.
struct Replayed {
    /// Its position, from where it is stored.
    seq: u64,
    /// The seq it carries.
    entry_seq: u64,
    leaf: Hash,
    timestamp_ms: u64,
    author: [u8; 32],
    statement_hash: [u8; 32],
    record: Record,
}

impl Replayed {
    fn decode(code: &LogCode, seq: u64, bytes: &[u8]) -> Result<Replayed, StoreError> {
        let entry = EntryRef::decode(bytes).map_err(|e| corrupt(code, Some(seq), e.to_string()))?;
        let statement = &entry.submission.statement;
        let kind = RecordKind::parse(statement.kind)
            .ok_or_else(|| corrupt(code, Some(seq), "unknown record kind"))?;
        let record = Record::decode_payload(kind, entry.submission.payload)
            .map_err(|e| corrupt(code, Some(seq), e.to_string()))?;
        Ok(Replayed {
            seq,
            entry_seq: entry.seq,
            leaf: Blake3Hasher::leaf(bytes),
            timestamp_ms: statement.timestamp_ms,
            author: statement.author,
            statement_hash: entry.submission.statement_hash(),
            record,
        })
    }
}

fn corrupt(log: &LogCode, seq: Option<u64>, what: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        log: log.to_string(),
        seq,
        what: what.into(),
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`.
    ///
    /// Every log's head, tree frontier and latest checkpoint are loaded and checked for
    /// agreement; a store that does not agree with itself is refused with
    /// [`StoreError::Corrupt`] rather than opened.
    pub fn open(path: &Path, policy: Policy) -> Result<Ledger, StoreError> {
        std::fs::create_dir_all(path)?;
        let config = sled_config(&path.join("sled"));
        // sled asserts on some kinds of damage while recovering its files; a damaged store
        // must be a clean refusal to open, not a crash of the process that opens it.
        // A ledger closed a moment ago in this process may still hold its lock while sled's
        // background threads finish; another process holds it as long as it runs. Wait a
        // little before saying the ledger is in use.
        let mut attempts = 0;
        let db = loop {
            let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()))
                .map_err(|_| StoreError::Corrupt {
                log: "*".into(),
                seq: None,
                what: "the database files are damaged (sled could not recover them)".into(),
            })?;
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock") =>
                {
                    attempts += 1;
                    if attempts >= LOCK_ATTEMPTS {
                        return Err(StoreError::Locked(path.display().to_string()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let main = db.open_tree("ledger")?;
        let index = db.open_tree(crate::index::TREE)?;
        let data_file = File::open(path.join("sled").join("db")).ok();
        // Writes made durable in the journal but perhaps not yet in sled go in first.
        let (journal, replayed) =
            Journal::open(path, &main, || flush_sled(&db, data_file.as_ref()))?;
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed the journal into the store");
        }
        let ledger = Ledger {
            path: path.to_path_buf(),
            db,
            main,
            index,
            policy,
            logs: RwLock::new(BTreeMap::new()),
            shared: RwLock::new(BTreeMap::new()),
            data_file,
            acknowledged: Mutex::new(read_heads_file(&path.join(HEADS_FILE))?),
            commit_order: Mutex::new(BTreeMap::new()),
            journal: Mutex::new(journal),
            nodes: NodeCache::default(),
            pending_index: Mutex::new(Vec::new()),
            indexing: Mutex::new(()),
            heads_file: Mutex::new(None),
        };
        let mut loaded = BTreeMap::new();
        for row in ledger.main.scan_prefix([keys::tag::META]) {
            let (key, value) = row?;
            let code = key
                .get(1..7)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(LogCode::parse)
                .ok_or_else(|| StoreError::Corrupt {
                    log: "?".into(),
                    seq: None,
                    what: "metadata row with a bad key".into(),
                })?;
            let meta: LogMeta = serde_json::from_slice(&value)
                .map_err(|e| corrupt(&code, None, format!("metadata: {e}")))?;
            // The row is exactly what this code writes, so no change to it goes unseen.
            if serde_json::to_vec(&meta).ok().as_deref() != Some(&value[..]) {
                return Err(corrupt(
                    &code,
                    None,
                    "metadata row is not in the form this store writes",
                ));
            }
            let mem = ledger.load_log(code, meta)?;
            ledger
                .shared
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(code, mem.shared.clone());
            loaded.insert(code, Arc::new(Mutex::new(mem)));
        }
        for (code, size) in lock(&ledger.acknowledged).iter() {
            let stored = loaded.get(code).map(|mem| lock(mem).head.size);
            match stored {
                Some(stored) if stored >= *size => {}
                Some(stored) => {
                    return Err(corrupt(
                        code,
                        None,
                        format!("{size} entries were acknowledged but only {stored} are stored"),
                    ))
                }
                None => {
                    return Err(corrupt(
                        code,
                        None,
                        format!("{size} entries were acknowledged but the log is missing"),
                    ))
                }
            }
        }
        *ledger
            .logs
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = loaded;
        // Index whatever a crash left unindexed. Indexes are derived: a failure here is
        // logged, and `verify` reports whatever damage caused it.
        for code in ledger.log_codes() {
            if let Err(e) = ledger.catch_up_index(&code) {
                tracing::warn!(log = %code, error = %e, "could not bring the indexes up to date");
            }
        }
        Ok(ledger)
    }

    /// The directory the ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy the ledger checks records against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The underlying sled database (for derived indexes and peer state).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    fn load_log(&self, code: LogCode, meta: LogMeta) -> Result<LogMem, StoreError> {
        let head_bytes = self
            .main
            .get(keys::head(&code))?
            .ok_or_else(|| corrupt(&code, None, "no head row"))?;
        let head = Head::decode(&head_bytes).ok_or_else(|| corrupt(&code, None, "bad head row"))?;
        if head.last_retained_checkpoint > head.latest_checkpoint
            || head.latest_checkpoint > head.size
        {
            return Err(corrupt(
                &code,
                None,
                "head row's checkpoint sizes are out of order",
            ));
        }
        if head.last_retained_checkpoint != 0
            && self
                .main
                .get(keys::checkpoint(&code, head.last_retained_checkpoint))?
                .is_none()
        {
            return Err(corrupt(
                &code,
                None,
                "head row names a kept checkpoint that is missing",
            ));
        }
        // The stored entries must end at the head's size with the head's last leaf: the
        // last page, then the tail rows that follow it without a gap, within one page.
        let last = self
            .main
            .scan_prefix(keys::table_prefix(keys::tag::ENTRY, &code))
            .next_back()
            .transpose()?;
        let (pages_end, mut tail_page, mut last_entry) = match &last {
            Some((key, stored)) => {
                let index = keys::trailing_u64(key)
                    .ok_or_else(|| corrupt(&code, None, "bad entry page key"))?;
                let value = &page::decode(stored).map_err(|e| {
                    corrupt(
                        &code,
                        Some(page::first_seq(index)),
                        format!("entry page {index}: {e}"),
                    )
                })?;
                let frames = page::frames(value).map_err(|e| {
                    corrupt(
                        &code,
                        Some(page::first_seq(index)),
                        format!("entry page {index}: {e}"),
                    )
                })?;
                let size = page::first_seq(index).saturating_add(frames.len() as u64);
                let last_entry = frames
                    .last()
                    .map(|&(offset, len)| value.subslice(offset, len));
                // A partly filled page is one written by an earlier version of this store,
                // before tail rows: its entries begin the tail.
                let tail = if frames.len() as u64 == page::ENTRIES_PER_PAGE {
                    Vec::new()
                } else {
                    value.to_vec()
                };
                (size, tail, last_entry)
            }
            None => (0, Vec::new(), None),
        };
        let mut stored_size = pages_end;
        for row in self
            .main
            .scan_prefix(keys::table_prefix(keys::tag::TAIL, &code))
        {
            let (key, value) = row?;
            let seq =
                keys::trailing_u64(&key).ok_or_else(|| corrupt(&code, None, "bad tail row key"))?;
            if seq != stored_size {
                return Err(corrupt(
                    &code,
                    Some(stored_size.min(seq)),
                    format!("entry {stored_size} is missing: the next tail row is entry {seq}"),
                ));
            }
            // A tail row may not fill its page: a full page is written as a page.
            if page::page_of(seq + 1) != page::page_of(pages_end) {
                return Err(corrupt(
                    &code,
                    Some(seq),
                    format!("entry {seq} is stored as a tail row after its page filled"),
                ));
            }
            page::push_frame(&mut tail_page, &value);
            last_entry = Some(value);
            stored_size += 1;
        }
        if let Some(bytes) = &last_entry {
            if stored_size == head.size && Blake3Hasher::leaf(bytes) != head.last_leaf {
                return Err(corrupt(
                    &code,
                    Some(stored_size.saturating_sub(1)),
                    "last entry's leaf hash differs from the head",
                ));
            }
        }
        if stored_size != head.size {
            return Err(corrupt(
                &code,
                None,
                format!(
                    "head says {} entries but {stored_size} are stored",
                    head.size
                ),
            ));
        }
        let source = StoreSource::new(&self.main, code, head.size);
        let frontier = Frontier::from_source(TreeSize(head.size), &source)
            .map_err(|e| corrupt(&code, None, format!("tree: {e}")))?;
        let text = self
            .main
            .get(keys::checkpoint(&code, head.latest_checkpoint))?
            .ok_or_else(|| corrupt(&code, None, "latest checkpoint missing"))?;
        let latest_checkpoint = String::from_utf8(text.to_vec())
            .map_err(|_| corrupt(&code, None, "latest checkpoint is not UTF-8"))?;
        // A log that has no signed checkpoint yet (empty, or a replica catching up to its
        // first one) keeps the unsigned empty-tree body.
        let parsed = if head.latest_checkpoint == 0 {
            Checkpoint::parse_body(&latest_checkpoint)
                .map_err(|e| corrupt(&code, None, format!("empty-tree checkpoint: {e}")))?
        } else {
            SignedCheckpoint::parse(&latest_checkpoint)
                .map_err(|e| corrupt(&code, None, format!("latest checkpoint: {e}")))?
                .checkpoint
        };
        if head.latest_checkpoint == 0 && parsed.root != Blake3Hasher::empty() {
            return Err(corrupt(&code, None, "the empty-tree checkpoint has a root"));
        }
        if parsed.size != head.latest_checkpoint || parsed.origin != meta.origin {
            return Err(corrupt(
                &code,
                None,
                "latest checkpoint does not match the head",
            ));
        }
        if head.latest_checkpoint == head.size && parsed.root != frontier.root::<Blake3Hasher>() {
            return Err(corrupt(
                &code,
                None,
                "latest checkpoint's root differs from the stored tree",
            ));
        }
        let frozen = self.main.get(keys::equivocation(&code))?.is_some();
        let shared = Shared::new(Durable {
            head,
            checkpoint: latest_checkpoint.clone(),
            root: frontier.root::<Blake3Hasher>(),
        });
        lock(&shared).frozen = frozen;
        Ok(LogMem {
            code,
            meta,
            head,
            shared,
            frontier,
            state: None,
            tail_page,
            recent: Recent::default(),
            keys: HashMap::new(),
            signer: None,
            latest_checkpoint,
            frozen,
            next_ticket: 0,
        })
    }

    fn log(&self, code: &LogCode) -> Result<Arc<Mutex<LogMem>>, StoreError> {
        self.logs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(code)
            .cloned()
            .ok_or_else(|| StoreError::UnknownLog(code.to_string()))
    }

    /// A log's durable view.
    fn durable(&self, code: &LogCode) -> Result<Durable, StoreError> {
        let shared = self.shared_of(code)?;
        let durable = lock(&shared).durable.clone();
        Ok(durable)
    }

    /// A log's shared part, without locking the log.
    fn shared_of(&self, code: &LogCode) -> Result<Arc<Mutex<Shared>>, StoreError> {
        self.shared
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(code)
            .cloned()
            .ok_or_else(|| StoreError::UnknownLog(code.to_string()))
    }

    /// The logs held, in division-code order.
    pub fn log_codes(&self) -> Vec<LogCode> {
        self.logs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// A log's metadata.
    pub fn meta(&self, code: &LogCode) -> Result<LogMeta, StoreError> {
        Ok(lock(&*self.log(code)?).meta.clone())
    }

    /// A log's number of entries.
    pub fn size(&self, code: &LogCode) -> Result<u64, StoreError> {
        Ok(self.durable(code)?.head.size)
    }

    /// A log's current tree root.
    pub fn root(&self, code: &LogCode) -> Result<Hash, StoreError> {
        Ok(self.durable(code)?.root)
    }

    /// The latest signed checkpoint, exactly as signed (signed-note text).
    pub fn latest_checkpoint(&self, code: &LogCode) -> Result<String, StoreError> {
        Ok(self.durable(code)?.checkpoint)
    }

    /// Every kept checkpoint of a log, by size.
    pub fn checkpoints(&self, code: &LogCode) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        for row in self
            .main
            .scan_prefix(keys::table_prefix(keys::tag::CHECKPOINT, code))
        {
            let (key, value) = row?;
            let size = keys::trailing_u64(&key)
                .ok_or_else(|| corrupt(code, None, "bad checkpoint key"))?;
            let text = String::from_utf8(value.to_vec())
                .map_err(|_| corrupt(code, None, format!("checkpoint {size} is not UTF-8")))?;
            out.push((size, text));
        }
        Ok(out)
    }

    /// Creates a log owned by this node: writes its metadata, entry 0 (`LogCreated`, signed
    /// by the bureau key) and the first checkpoint, durably.
    pub fn create_log(
        &self,
        code: LogCode,
        name: &str,
        bureau_key: SigningKey,
        now_ms: u64,
    ) -> Result<Receipt, StoreError> {
        if self.log(&code).is_ok() {
            return Err(StoreError::LogExists(code.to_string()));
        }
        let genesis = crate::genesis_record(&code, name, &bureau_key.verifying_key().to_bytes())
            .map_err(StoreError::Genesis)?;
        let payload = genesis
            .encode_payload()
            .map_err(|e| StoreError::Genesis(e.to_string()))?;
        let submission = Submission::sign(
            &bureau_key,
            &code.origin(),
            now_ms,
            genesis.kind().as_str(),
            payload,
        )
        .map_err(|e| StoreError::Genesis(e.to_string()))?;
        self.create_replica_log(code, name, &bureau_key.verifying_key().to_bytes())?;
        self.set_signer(&code, bureau_key)?;
        let mut receipts = self.append_batch(&code, vec![submission], now_ms)?;
        match receipts.pop() {
            Some(Ok(receipt)) => Ok(receipt),
            Some(Err(e)) => Err(StoreError::Genesis(e.to_string())),
            None => Err(StoreError::Genesis("no receipt".into())),
        }
    }

    /// Registers an empty log this node will hold but not sign for (a replica), pinned to
    /// the bureau key its entry 0 must carry.
    pub fn create_replica_log(
        &self,
        code: LogCode,
        name: &str,
        genesis_key: &[u8; 32],
    ) -> Result<(), StoreError> {
        let mut logs = self
            .logs
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if logs.contains_key(&code) {
            return Err(StoreError::LogExists(code.to_string()));
        }
        let meta = LogMeta {
            division: code.to_string(),
            origin: code.origin(),
            name: name.to_string(),
            genesis_key: hex::encode(genesis_key),
        };
        let head = Head {
            size: 0,
            last_leaf: entry::GENESIS_PREV,
            latest_checkpoint: 0,
            last_retained_checkpoint: 0,
        };
        // An empty log has no signed checkpoint; the empty-tree checkpoint text is kept
        // unsigned so that `latest_checkpoint` always has something to say.
        let empty = Checkpoint {
            origin: code.origin(),
            size: 0,
            root: Blake3Hasher::empty(),
            extensions: Vec::new(),
        };
        let text = empty.body();
        let mut batch = Rows::default();
        batch.insert(
            keys::meta(&code),
            serde_json::to_vec(&meta).map_err(|e| StoreError::Genesis(e.to_string()))?,
        );
        batch.insert(keys::head(&code), &head.encode()[..]);
        batch.insert(keys::checkpoint(&code, 0), text.as_bytes());
        self.write_rows(&[&batch])?;
        let mem = LogMem {
            code,
            meta,
            head,
            shared: Shared::new(Durable {
                head,
                checkpoint: text.clone(),
                root: Blake3Hasher::empty(),
            }),
            frontier: Frontier::new(),
            state: None,
            tail_page: Vec::new(),
            recent: Recent::default(),
            keys: HashMap::new(),
            signer: None,
            latest_checkpoint: text,
            frozen: false,
            next_ticket: 0,
        };
        self.shared
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(code, mem.shared.clone());
        logs.insert(code, Arc::new(Mutex::new(mem)));
        Ok(())
    }

    /// Gives the node the bureau key of a log it owns, so it can sign checkpoints.
    pub fn set_signer(&self, code: &LogCode, key: SigningKey) -> Result<(), StoreError> {
        lock(&*self.log(code)?).signer = Some(key);
        Ok(())
    }

    /// Freezes a log: it accepts no further entries (equivocation proven).
    pub fn freeze(&self, code: &LogCode) -> Result<(), StoreError> {
        let log = self.log(code)?;
        let mut mem = lock(&log);
        mem.frozen = true;
        lock(&mem.shared).frozen = true;
        Ok(())
    }

    /// Keeps a witness's cosignature (tlog-cosignature) of the kept checkpoint of `size`: the
    /// cosignature line is added to that checkpoint's note, durably. Adding the same
    /// witness's cosignature again changes nothing. The checkpoint must be kept (the latest,
    /// or one in the history).
    pub fn add_cosignature(
        &self,
        code: &LogCode,
        size: u64,
        cosignature: &yibao_schema::note::Cosignature,
        witness: &yibao_schema::note::VerifierKey,
    ) -> Result<bool, StoreError> {
        let refused = |reason: String| StoreError::Cosignature {
            log: code.to_string(),
            reason,
        };
        let log = self.log(code)?;
        let mut mem = lock(&log);
        let text = self
            .main
            .get(keys::checkpoint(code, size))?
            .ok_or_else(|| refused(format!("no kept checkpoint of size {size}")))?;
        let text = String::from_utf8(text.to_vec())
            .map_err(|_| corrupt(code, None, format!("checkpoint {size} is not UTF-8")))?;
        let mut signed = SignedCheckpoint::parse(&text)
            .map_err(|e| corrupt(code, None, format!("checkpoint {size}: {e}")))?;
        cosignature
            .verify(&signed.checkpoint, witness)
            .map_err(|e| refused(e.to_string()))?;
        // A stored cosignature by this witness that does not verify is damage, not a reason
        // to add another.
        let existing = signed
            .find_cosignature(witness)
            .map_err(|e| corrupt(code, None, format!("checkpoint {size}: {e}")))?;
        if existing.is_some() {
            return Ok(false);
        }
        signed.add_cosignature(cosignature);
        let updated = signed.to_text();
        let mut batch = Rows::default();
        batch.insert(keys::checkpoint(code, size), updated.as_bytes());
        self.write_rows(&[&batch])?;
        if mem.head.latest_checkpoint == size {
            mem.latest_checkpoint = updated.clone();
        }
        let mut shared = lock(&mem.shared);
        if shared.durable.head.latest_checkpoint == size {
            shared.durable.checkpoint = updated;
        }
        Ok(true)
    }

    /// Writes `batches` durably, as one atomic write, through the journal.
    fn write_rows(&self, batches: &[&Rows]) -> Result<(), StoreError> {
        lock(&self.journal).write(batches, &self.main, || {
            flush_sled(&self.db, self.data_file.as_ref())
        })
    }

    /// Appends a batch of submissions to a log owned by this node, durably, and returns one
    /// result per submission in order. Refused submissions do not affect the others. The
    /// batch shares one sled write, one checkpoint signature and one flush.
    pub fn append_batch(
        &self,
        code: &LogCode,
        submissions: Vec<Submission>,
        now_ms: u64,
    ) -> Result<Vec<Result<Receipt, AppendError>>, StoreError> {
        self.append(code, submissions, now_ms, false)
    }

    /// Like [`Ledger::append_batch`], but all or nothing: if any submission is refused,
    /// none is appended, and the others are answered with [`AppendError::NotAppended`].
    /// This is what an officer submitting one file of records expects.
    pub fn append_all_or_nothing(
        &self,
        code: &LogCode,
        submissions: Vec<Submission>,
        now_ms: u64,
    ) -> Result<Vec<Result<Receipt, AppendError>>, StoreError> {
        self.append(code, submissions, now_ms, true)
    }

    fn append(
        &self,
        code: &LogCode,
        submissions: Vec<Submission>,
        now_ms: u64,
        all_or_nothing: bool,
    ) -> Result<Vec<Result<Receipt, AppendError>>, StoreError> {
        let prepared = self.prepare_inner(code, submissions, now_ms, all_or_nothing)?;
        let results = self.commit(prepared);
        self.flush_index();
        Ok(results)
    }

    /// Validates a batch and applies it to the log's in-memory state, without writing it:
    /// the first half of an append. [`Ledger::commit`] writes it; batches are committed in
    /// the order they were prepared, so a writer can prepare the next batch while the
    /// previous one is being flushed (see `appender`).
    pub fn prepare(
        &self,
        code: &LogCode,
        submissions: Vec<Submission>,
        now_ms: u64,
    ) -> Result<Prepared, StoreError> {
        self.prepare_inner(code, submissions, now_ms, false)
    }

    fn prepare_inner(
        &self,
        code: &LogCode,
        submissions: Vec<Submission>,
        now_ms: u64,
        all_or_nothing: bool,
    ) -> Result<Prepared, StoreError> {
        let log = self.log(code)?;
        let mut mem = lock(&log);
        let unwritten = |mem: &mut LogMem, results: Vec<Option<Result<Receipt, AppendError>>>| {
            let ticket = mem.next_ticket;
            mem.next_ticket += 1;
            let (generation, durable) = {
                let shared = lock(&mem.shared);
                (shared.generation, shared.durable.clone())
            };
            Prepared {
                code: *code,
                ticket,
                generation,
                shared: mem.shared.clone(),
                batch: None,
                results,
                appended: Vec::new(),
                first_new_seq: mem.head.size,
                durable,
                index_rows: Vec::new(),
                nodes: Vec::new(),
            }
        };
        if mem.signer.is_none() {
            return Err(StoreError::NoSigningKey(code.to_string()));
        }
        if mem.frozen {
            let err = AppendError::Frozen(code.to_string());
            let results = submissions.iter().map(|_| Some(Err(err.clone()))).collect();
            return Ok(unwritten(&mut mem, results));
        }
        self.load_state(&mut mem)?;
        // The checkpoint of this batch is signed with the node's key, which must be the
        // log's bureau key in force; checked before anything is applied.
        let signer_key = mem.signer.as_ref().map(|k| k.verifying_key().to_bytes());
        let in_force = mem.state.as_ref().and_then(|state| state.bureau_key());
        // An empty log has no bureau key yet: its entry 0 names it (checked again below).
        // A rotation is appended alone, with the node already holding the new key: the
        // record (signed by the old key) makes the new key the one in force, and the new
        // key signs the batch's checkpoint.
        let rotating_to_signer = submissions.len() == 1
            && submissions.first().is_some_and(|s| {
                s.view().ok().is_some_and(|v| {
                    RecordKind::parse(v.statement.kind) == Some(RecordKind::KeyEvent)
                        && matches!(
                            Record::decode_payload(RecordKind::KeyEvent, v.payload),
                            Ok(Record::KeyEvent(
                                yibao_schema::record::KeyEvent::BureauKeyRotated { new_key }
                            )) if Some(new_key.0) == signer_key
                        )
                })
            });
        if in_force.is_some() && in_force != signer_key && !rotating_to_signer {
            return Err(StoreError::NoSigningKey(format!(
                "{code} (this node's key is not the log's bureau key in force)"
            )));
        }
        let mut results: Vec<Option<Result<Receipt, AppendError>>> = vec![None; submissions.len()];

        // 1. Envelopes, origin, clock, de-duplication; collect what needs a signature check.
        let mut views: Vec<(usize, SubmissionRef<'_>)> = Vec::with_capacity(submissions.len());
        let mut seen_in_batch: FastMap<[u8; 32], usize> = FastMap::default();
        let mut view_hashes: Vec<[u8; 32]> = Vec::with_capacity(submissions.len());
        for (i, submission) in submissions.iter().enumerate() {
            let view = match submission.view() {
                Ok(view) => view,
                Err(e) => {
                    results[i] = Some(Err(e.into()));
                    continue;
                }
            };
            if view.statement.origin != mem.meta.origin {
                results[i] = Some(Err(AppendError::WrongLog {
                    expected: mem.meta.origin.clone(),
                    found: view.statement.origin.to_string(),
                }));
                continue;
            }
            if view.statement.timestamp_ms > now_ms.saturating_add(MAX_FUTURE_SKEW_MS) {
                results[i] = Some(Err(AppendError::FromTheFuture {
                    timestamp_ms: view.statement.timestamp_ms,
                    ahead_ms: view.statement.timestamp_ms - now_ms,
                }));
                continue;
            }
            let statement_hash = view.statement_hash();
            if let Some(&(seq, _, leaf)) = mem.recent.get(&statement_hash) {
                results[i] = Some(Ok(Receipt {
                    log: *code,
                    seq,
                    leaf_hash: leaf,
                    checkpoint_size: mem.head.latest_checkpoint,
                    duplicate: true,
                }));
                continue;
            }
            if view
                .statement
                .timestamp_ms
                .saturating_add(MAX_STATEMENT_AGE_MS)
                < now_ms
            {
                results[i] = Some(Err(AppendError::TooOld {
                    age_ms: now_ms - view.statement.timestamp_ms,
                }));
                continue;
            }
            // A second copy in this batch is resolved after the first is appended.
            seen_in_batch.entry(statement_hash).or_insert(i);
            views.push((i, view));
            view_hashes.push(statement_hash);
        }

        // 2. Signatures, batched (and spread over both cores for large batches).
        let (unique, unique_hashes): (Vec<&(usize, SubmissionRef<'_>)>, Vec<[u8; 32]>) = views
            .iter()
            .zip(&view_hashes)
            .filter(|((i, _), hash)| seen_in_batch.get(*hash) == Some(i))
            .map(|(view, hash)| (view, *hash))
            .unzip();
        let mut checked_keys = std::mem::take(&mut mem.keys);
        let sig_results = verify_signatures(&unique, &mut checked_keys);
        mem.keys = checked_keys;

        // 3. Records, rules, authorisation; seq, prev, tree — on copies, so that a storage
        // failure leaves memory as it was.
        // The state is updated in place as records pass their checks: it is taken out of
        // `mem`, and if anything below fails before the batch is durable, or an
        // all-or-nothing batch is abandoned after some of its records were applied,
        // `mem.state` stays empty and the next append replays the log from storage, so
        // memory never runs ahead of what is durable. (Abandoning is rare — the import checks
        // every row first — so it costs a replay rather than every batch a copy of the
        // state.)
        let mut state = match mem.state.take() {
            Some(state) => state,
            None => return Err(corrupt(code, None, "log state missing")),
        };
        let mut frontier = mem.frontier.clone();
        let mut head = mem.head;
        let mut tail = mem.tail_page.clone();
        let mut fresh: Vec<([u8; 32], u64, u64, Hash)> = Vec::new();
        let first_new_seq = head.size;
        let mut index_rows: Vec<Vec<u8>> = Vec::new();
        let mut batch = Rows::default();
        let mut appended: Vec<(usize, u64, Hash)> = Vec::new();
        let mut new_nodes: Vec<(NodeId, Hash)> = Vec::new();
        let mut hash_to_seq: FastMap<[u8; 32], u64> = FastMap::default();
        for (k, (i, view)) in unique.iter().enumerate() {
            let record = match sig_results.get(k) {
                Some(Ok(record)) => record,
                Some(Err(e)) => {
                    results[*i] = Some(Err(e.clone()));
                    continue;
                }
                None => {
                    results[*i] = Some(Err(AppendError::Storage("not processed".into())));
                    continue;
                }
            };
            if let Record::KeyEvent(yibao_schema::record::KeyEvent::BureauKeyRotated { new_key }) =
                record
            {
                if Some(new_key.0) != signer_key {
                    results[*i] = Some(Err(AppendError::Rule(RuleViolation {
                        rule: yibao_schema::rules::Rule::Authorisation,
                        field: "new_key".into(),
                        reason: "this node signs checkpoints with its own key: load the new bureau key into the node before appending its rotation".into(),
                    })));
                    continue;
                }
            }
            let ctx = EntryContext {
                division: state.division(),
                seq: head.size,
                timestamp_ms: view.statement.timestamp_ms,
                author: view.statement.author,
            };
            // Validity, then the node's own screen of what its officers submit (SPEC.md
            // §3.2; replicated entries are checked for validity only).
            if let Err(violation) = state
                .check(&ctx, record)
                .and_then(|()| state.screen(record))
            {
                results[*i] = Some(Err(AppendError::Rule(violation)));
                continue;
            }
            state.apply(&ctx, record);
            index_rows.extend(crate::index::keys_for(code, head.size, record));
            let seq = head.size;
            let bytes = entry::encode_entry(seq, &head.last_leaf, view);
            let leaf = Blake3Hasher::leaf(&bytes);
            frontier
                .push::<Blake3Hasher>(leaf, &mut |id, hash| {
                    if id.level >= STORED_MIN_LEVEL {
                        new_nodes.push((id, hash));
                    }
                })
                .map_err(|_| corrupt(code, Some(seq), "the tree is full"))?;
            stage_entry(&mut batch, &mut tail, code, (first_new_seq, seq), &bytes);
            let statement_hash = unique_hashes.get(k).copied().unwrap_or_default();
            fresh.push((statement_hash, seq, view.statement.timestamp_ms, leaf));
            hash_to_seq.insert(statement_hash, seq);
            head.size += 1;
            head.last_leaf = leaf;
            appended.push((*i, seq, leaf));
        }
        // Duplicates inside the batch point at the first copy.
        let appended_indices: std::collections::HashSet<usize> =
            appended.iter().map(|(i, _, _)| *i).collect();
        for ((i, _), hash) in views.iter().zip(&view_hashes) {
            if results[*i].is_none() && !appended_indices.contains(i) {
                let first_seq = hash_to_seq.get(hash).copied();
                results[*i] = Some(match first_seq {
                    Some(seq) => Ok(Receipt {
                        log: *code,
                        seq,
                        leaf_hash: appended
                            .iter()
                            .find(|(_, s, _)| *s == seq)
                            .map(|(_, _, leaf)| *leaf)
                            .unwrap_or_default(),
                        checkpoint_size: head.size,
                        duplicate: true,
                    }),
                    None => Err(AppendError::Payload(
                        "an identical statement in this batch was refused".into(),
                    )),
                });
            }
        }
        if all_or_nothing && results.iter().any(|r| matches!(r, Some(Err(_)))) {
            let results = results
                .into_iter()
                .map(|r| match r {
                    Some(Err(e)) => Some(Err(e)),
                    _ => Some(Err(AppendError::NotAppended)),
                })
                .collect();
            // The state, with some of this batch applied, is dropped: the next append
            // replays the log.
            return Ok(unwritten(&mut mem, results));
        }
        if appended.is_empty() {
            // Only refusals and duplicates: the state is unchanged, put it back.
            mem.state = Some(state);
            return Ok(unwritten(&mut mem, results));
        }
        stage_tail(&mut batch, &tail, code, first_new_seq, head.size)
            .map_err(|e| corrupt(code, None, format!("the tail page in memory: {e}")))?;
        for (id, hash) in &new_nodes {
            batch.insert(keys::node(code, *id), &hash[..]);
        }

        // 4. A checkpoint for the new size, signed by the current bureau key.
        let signer = match &mem.signer {
            Some(signer) => signer,
            None => return Err(StoreError::NoSigningKey(code.to_string())),
        };
        if state.bureau_key() != Some(signer.verifying_key().to_bytes()) {
            return Err(StoreError::NoSigningKey(format!(
                "{code} (the log's bureau key has rotated; load the new key)"
            )));
        }
        let checkpoint = Checkpoint {
            origin: mem.meta.origin.clone(),
            size: head.size,
            root: frontier.root::<Blake3Hasher>(),
            extensions: Vec::new(),
        };
        let signed = SignedCheckpoint::sign(checkpoint, signer)
            .map_err(|e| corrupt(code, None, format!("signing checkpoint: {e}")))?;
        let text = signed.to_text();
        stage_checkpoint(&mut batch, code, &mut head, &mem.latest_checkpoint, &text);
        batch.insert(keys::head(code), &head.encode()[..]);

        // The batch is applied in memory now, ahead of the durable view; `commit` writes it.
        let root = frontier.root::<Blake3Hasher>();
        mem.state = Some(state);
        mem.frontier = frontier;
        mem.head = head;
        mem.latest_checkpoint = text.clone();
        mem.tail_page = tail;
        mem.recent.remember(
            fresh
                .into_iter()
                .map(|(hash, seq, timestamp, leaf)| (hash, (seq, timestamp, leaf))),
        );
        let ticket = mem.next_ticket;
        mem.next_ticket += 1;
        let generation = lock(&mem.shared).generation;
        Ok(Prepared {
            code: *code,
            ticket,
            generation,
            shared: mem.shared.clone(),
            batch: Some(batch),
            results,
            appended,
            first_new_seq,
            durable: Durable {
                head,
                checkpoint: text,
                root,
            },
            index_rows,
            nodes: new_nodes,
        })
    }

    fn commit_gate(&self, code: &LogCode) -> Arc<CommitGate> {
        lock(&self.commit_order)
            .entry(*code)
            .or_insert_with(|| Arc::new((Mutex::new(0), std::sync::Condvar::new())))
            .clone()
    }

    /// Writes a prepared batch — one atomic sled batch, then flush and fsync — and only then
    /// answers its submissions. Waits for every batch prepared before it. If the write fails,
    /// the batch and every batch prepared after it are refused, and the log's memory is
    /// reloaded from storage.
    pub fn commit(&self, prepared: Prepared) -> Vec<Result<Receipt, AppendError>> {
        self.commit_many(vec![prepared]).pop().unwrap_or_default()
    }

    /// Writes several prepared batches of one log, consecutive in the order they were
    /// prepared, with one flush and fsync for all of them (group commit across batches):
    /// each batch is still one atomic sled write. Returns one result list per batch.
    pub fn commit_many(&self, group: Vec<Prepared>) -> Vec<Vec<Result<Receipt, AppendError>>> {
        let Some(first) = group.first() else {
            return Vec::new();
        };
        let gate = self.commit_gate(&first.code);
        let first_ticket = first.ticket;
        let count = group.len() as u64;
        let (turn, turned) = &*gate;
        let mut next = lock(turn);
        while *next < first_ticket {
            next = turned
                .wait(next)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let results = self.commit_group(group);
        *next = first_ticket + count;
        turned.notify_all();
        results
    }

    fn commit_group(&self, group: Vec<Prepared>) -> Vec<Vec<Result<Receipt, AppendError>>> {
        type Results = Vec<Option<Result<Receipt, AppendError>>>;
        let finish = |results: Results,
                      durable_size: u64,
                      message: &str|
         -> Vec<Result<Receipt, AppendError>> {
            results
                .into_iter()
                .map(|r| match r {
                    // A receipt pointing past what is durable refers to a failed batch.
                    Some(Ok(receipt)) if receipt.seq >= durable_size => {
                        Err(AppendError::Storage(message.to_string()))
                    }
                    Some(result) => result,
                    None => Err(AppendError::Storage(message.to_string())),
                })
                .collect()
        };
        let Some(code) = group.first().map(|p| p.code) else {
            return Vec::new();
        };
        let log = match self.log(&code) {
            Ok(log) => log,
            Err(e) => {
                let message = e.to_string();
                return group
                    .into_iter()
                    .map(|p| finish(p.results, 0, &message))
                    .collect();
            }
        };
        let Some(shared) = group.first().map(|p| p.shared.clone()) else {
            return Vec::new();
        };
        // Not the `LogMem`: the next batch may be being validated under its lock.
        let (generation, durable_before) = {
            let shared = lock(&shared);
            (shared.generation, shared.durable.head.size)
        };
        // Every batch of the group that is still valid, written as one durable, atomic
        // write. Only then is anything acknowledged.
        let mut failure: Option<String> = None;
        let had_batch: Vec<bool> = group.iter().map(|p| p.batch.is_some()).collect();
        let written: Vec<bool> = group
            .iter()
            .map(|p| p.generation == generation && p.batch.is_some())
            .collect();
        let batches: Vec<&Rows> = group
            .iter()
            .zip(&written)
            .filter(|(_, w)| **w)
            .filter_map(|(p, _)| p.batch.as_ref())
            .collect();
        if !batches.is_empty() {
            if let Err(e) = self.write_rows(&batches) {
                failure = Some(e.to_string());
            }
        }
        if let Some(message) = &failure {
            tracing::error!(log = %code, error = %message, "a batch could not be stored");
            let mut mem = lock(&log);
            lock(&mem.shared).generation += 1;
            // Memory ran ahead of storage: start again from what is stored.
            let meta = mem.meta.clone();
            match self.load_log(code, meta) {
                Ok(mut fresh) => {
                    fresh.signer = mem.signer.take();
                    fresh.keys = std::mem::take(&mut mem.keys);
                    fresh.frozen = mem.frozen;
                    fresh.next_ticket = mem.next_ticket;
                    // Batches prepared earlier hold the shared part: keep it, with what
                    // storage holds as its durable view.
                    let reloaded = lock(&fresh.shared).durable.clone();
                    fresh.shared = mem.shared.clone();
                    lock(&fresh.shared).durable = reloaded;
                    *mem = fresh;
                }
                Err(reload) => {
                    tracing::error!(log = %code, error = %reload, "the log cannot be reloaded");
                    mem.state = None;
                }
            }
        }
        let stale = "an earlier batch could not be stored; nothing of this one was written";
        let mut out = Vec::with_capacity(group.len());
        let mut durable_size = durable_before;
        for ((prepared, was_written), had_batch) in group.into_iter().zip(written).zip(had_batch) {
            let Prepared {
                code,
                generation: batch_generation,
                mut results,
                appended,
                first_new_seq,
                durable,
                index_rows,
                nodes,
                ..
            } = prepared;
            if !had_batch && batch_generation == generation && failure.is_none() {
                // Only refusals and duplicates of entries already durable.
                out.push(finish(results, durable_size, "not processed"));
                continue;
            }
            if !was_written || failure.is_some() {
                let message = failure.clone().unwrap_or_else(|| stale.to_string());
                for (i, _, _) in &appended {
                    results[*i] = Some(Err(AppendError::Storage(message.clone())));
                }
                out.push(finish(results, durable_size, &message));
                continue;
            }
            let size = durable.head.size;
            durable_size = size;
            lock(&shared).durable = durable;
            // Written to the index tree after the submitters are answered (see `index`).
            self.defer_index(code, first_new_seq, size, index_rows);
            // Proofs of what was just appended (the receipt's first) need no storage read.
            let leaves: Vec<Hash> = appended.iter().map(|(_, _, leaf)| *leaf).collect();
            self.nodes
                .remember_appended(&code, first_new_seq, &leaves, &nodes);
            for (i, seq, leaf) in appended {
                results[i] = Some(Ok(Receipt {
                    log: code,
                    seq,
                    leaf_hash: leaf,
                    checkpoint_size: size,
                    duplicate: false,
                }));
            }
            out.push(finish(results, durable_size, "not processed"));
        }
        if durable_size > durable_before {
            if let Err(e) = self.record_acknowledged(&code, durable_size) {
                // The entries are durable in sled; the mirror only guards against silent loss.
                tracing::warn!(log = %code, error = %e, "could not update the heads file");
            }
        }
        out
    }

    /// Replays a log's state (its domain state and recent statements) unless it is loaded.
    fn load_state(&self, mem: &mut LogMem) -> Result<(), StoreError> {
        if mem.state.is_some() {
            return Ok(());
        }
        if mem.head.size != lock(&mem.shared).durable.head.size {
            // Replaying storage now would miss the batches still being written.
            return Err(corrupt(
                &mem.code,
                None,
                "the log's state was lost while batches were being written; reopen the ledger",
            ));
        }
        let (state, recent) = self.replay_state(mem)?;
        mem.state = Some(state);
        mem.recent = recent;
        Ok(())
    }

    /// Replays the state of every log whose state is not loaded yet, the logs in parallel,
    /// so that the first use of each (a peer's Status, a replicated batch, an append) does
    /// not wait for it. A daemon calls this once at start. Returns each log's outcome: its
    /// size, or why its state could not be rebuilt; such a log is left as it was, and its
    /// first use reports the same error.
    pub fn load_states(&self) -> Vec<(LogCode, Result<u64, StoreError>)> {
        use rayon::prelude::*;
        self.log_codes()
            .into_par_iter()
            .map(|code| {
                let loaded = self.log(&code).and_then(|log| {
                    let mut mem = lock(&log);
                    self.load_state(&mut mem)?;
                    Ok(mem.head.size)
                });
                (code, loaded)
            })
            .collect()
    }

    /// Rebuilds a log's domain state by replaying its entries, and its recent statements.
    fn replay_state(&self, mem: &LogMem) -> Result<(LogState, Recent), StoreError> {
        use rayon::prelude::*;
        let division = yibao_schema::record::DivisionCode::parse(mem.code.as_str())
            .map_err(|e| corrupt(&mem.code, None, e.to_string()))?;
        let mut state = LogState::new(division, self.policy.clone());
        let mut recent = Recent::default();
        // The replay reads every entry once: the leaf tiles for proofs are filled on the
        // way, while they fit (a few per cent more work than the replay itself).
        let mut tile: Vec<Hash> = Vec::with_capacity(BLOCK as usize);
        let mut start = 0u64;
        while start < mem.head.size {
            // Whole blocks per read (the page size is a multiple of the block). Reading,
            // decompressing and decoding are independent per page and run in parallel;
            // only applying the records to the state is sequential.
            let end = mem
                .head
                .size
                .min(start + REPLAY_CHUNK_PAGES * page::ENTRIES_PER_PAGE);
            let pages: Vec<(u64, u64)> = (start..end)
                .step_by(page::ENTRIES_PER_PAGE as usize)
                .map(|from| (from, end.min(from + page::ENTRIES_PER_PAGE)))
                .collect();
            let decoded: Vec<Result<Vec<Replayed>, StoreError>> = pages
                .par_iter()
                .map(|&(from, to)| {
                    read_entries(&self.main, &mem.code, from, to)?
                        .iter()
                        .map(|(seq, bytes)| Replayed::decode(&mem.code, *seq, bytes))
                        .collect()
                })
                .collect();
            for page in decoded {
                for entry in page? {
                    let seq = entry.seq;
                    if seq % BLOCK == 0 {
                        tile.clear();
                    }
                    if seq % BLOCK == tile.len() as u64 {
                        tile.push(entry.leaf);
                        if tile.len() as u64 == BLOCK || seq + 1 == mem.head.size {
                            let leaves: LeafTile = Arc::from(&tile[..]);
                            self.nodes
                                .put_tile(&mem.code, seq - seq % BLOCK, &leaves, false);
                        }
                    }
                    let ctx = EntryContext {
                        division,
                        seq: entry.entry_seq,
                        timestamp_ms: entry.timestamp_ms,
                        author: entry.author,
                    };
                    state.apply(&ctx, &entry.record);
                    recent.remember(std::iter::once((
                        entry.statement_hash,
                        (seq, entry.timestamp_ms, entry.leaf),
                    )));
                }
            }
            start = end;
        }
        self.warm_stored_nodes(&mem.code);
        recent.prune();
        Ok((state, recent))
    }

    /// Reads a log's stored tree nodes into the node cache while they fit, so that the
    /// first proofs after a start need no sled reads either. A failed read only leaves the
    /// cache colder.
    fn warm_stored_nodes(&self, code: &LogCode) {
        for row in self
            .main
            .scan_prefix(keys::table_prefix(keys::tag::NODE, code))
        {
            let Ok((key, value)) = row else { return };
            let (Some(id), Ok(hash)) = (keys::parse_node(&key), <Hash>::try_from(value.as_ref()))
            else {
                continue;
            };
            if !self.nodes.put(code, id, hash, false) {
                return;
            }
        }
    }

    /// The state of a log's officers and domain records (replayed on first use).
    pub fn state(&self, code: &LogCode) -> Result<LogState, StoreError> {
        let log = self.log(code)?;
        let mut mem = lock(&log);
        self.load_state(&mut mem)?;
        mem.state
            .clone()
            .ok_or_else(|| corrupt(code, None, "log state missing"))
    }

    /// The bytes of entry `seq`.
    pub fn entry(&self, code: &LogCode, seq: u64) -> Result<Vec<u8>, StoreError> {
        let size = self.size(code)?;
        if seq >= size {
            return Err(StoreError::OutOfRange {
                log: code.to_string(),
                size,
                what: format!("entry {seq}"),
            });
        }
        read_entries(&self.main, code, seq, seq + 1)?
            .pop()
            .map(|(_, bytes)| bytes.to_vec())
            .ok_or_else(|| corrupt(code, Some(seq), "entry missing"))
    }

    /// Entries `[start, start + count)` clipped to the log, in order.
    pub fn entries(
        &self,
        code: &LogCode,
        start: u64,
        count: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let size = self.size(code)?;
        let end = start.saturating_add(count).min(size);
        Ok(read_entries(&self.main, code, start, end)?
            .into_iter()
            .map(|(seq, bytes)| (seq, bytes.to_vec()))
            .collect())
    }

    /// The stored values of full pages `[first, first + count)` of a log, as they are,
    /// clipped to the pages the log has filled: what a Pages response carries (SPEC.md
    /// §15), without decompressing them.
    pub fn full_pages(
        &self,
        code: &LogCode,
        first: u64,
        count: u64,
    ) -> Result<Vec<sled::IVec>, StoreError> {
        let filled = self.size(code)? / page::ENTRIES_PER_PAGE;
        let end = first.saturating_add(count).min(filled);
        let mut out = Vec::new();
        if first >= end {
            return Ok(out);
        }
        for row in self
            .main
            .range(keys::page(code, first)..keys::page(code, end))
        {
            let (key, value) = row?;
            let expected = first + out.len() as u64;
            if keys::trailing_u64(&key) != Some(expected) {
                break;
            }
            out.push(value);
        }
        let next = first + out.len() as u64;
        if next < end {
            return Err(corrupt(
                code,
                Some(page::first_seq(next)),
                format!("entry page {next} is missing"),
            ));
        }
        Ok(out)
    }

    /// An inclusion proof of entry `seq` in the tree of `size` entries.
    pub fn inclusion_proof(
        &self,
        code: &LogCode,
        seq: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.proof_source(code, seq, size).map(|(_, proof)| proof)
    }

    /// Entry `seq`'s bytes and its inclusion proof in the tree of `size` entries, from one
    /// read of the entry's block (what a reader asking for a proof needs too).
    pub fn entry_with_inclusion_proof(
        &self,
        code: &LogCode,
        seq: u64,
        size: u64,
    ) -> Result<(Vec<u8>, Vec<Hash>), StoreError> {
        let (source, proof) = self.proof_source(code, seq, size)?;
        Ok((source.entry(seq)?, proof))
    }

    /// Entry `seq`'s leaf hash and its inclusion proof in the tree of `size` entries: what a
    /// reader checking inclusion needs, served from the cached leaf tiles when they hold
    /// the entry's block (no entry is read then).
    pub fn leaf_with_inclusion_proof(
        &self,
        code: &LogCode,
        seq: u64,
        size: u64,
    ) -> Result<(Hash, Vec<Hash>), StoreError> {
        let (source, proof) = self.proof_source(code, seq, size)?;
        Ok((source.leaf(seq)?, proof))
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries, with the source
    /// that read it (which holds the entry's block).
    fn proof_source(
        &self,
        code: &LogCode,
        seq: u64,
        size: u64,
    ) -> Result<(StoreSource<'_>, Vec<Hash>), StoreError> {
        let log_size = self.size(code)?;
        if size > log_size || seq >= size {
            return Err(StoreError::OutOfRange {
                log: code.to_string(),
                size: log_size,
                what: format!("entry {seq} in a tree of size {size}"),
            });
        }
        let source = StoreSource::new(&self.main, *code, size).cached(&self.nodes);
        let proof =
            merkle::inclusion_proof::<Blake3Hasher, _>(LeafIndex(seq), TreeSize(size), &source)
                .map_err(|e| corrupt(code, Some(seq), format!("proof: {e}")))?;
        Ok((source, proof))
    }

    /// A consistency proof between tree sizes `size1 <= size2`.
    pub fn consistency_proof(
        &self,
        code: &LogCode,
        size1: u64,
        size2: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let log_size = self.size(code)?;
        if size2 > log_size || size1 > size2 {
            return Err(StoreError::OutOfRange {
                log: code.to_string(),
                size: log_size,
                what: format!("consistency {size1} → {size2}"),
            });
        }
        let source = StoreSource::new(&self.main, *code, size2).cached(&self.nodes);
        merkle::consistency_proof::<Blake3Hasher, _>(TreeSize(size1), TreeSize(size2), &source)
            .map_err(|e| corrupt(code, None, format!("proof: {e}")))
    }

    /// The tree root at `size` (any size up to the log's).
    pub fn root_at(&self, code: &LogCode, size: u64) -> Result<Hash, StoreError> {
        let log_size = self.size(code)?;
        if size > log_size {
            return Err(StoreError::OutOfRange {
                log: code.to_string(),
                size: log_size,
                what: format!("tree size {size}"),
            });
        }
        let source = StoreSource::new(&self.main, *code, size).cached(&self.nodes);
        merkle::root_at::<Blake3Hasher, _>(TreeSize(size), &source)
            .map_err(|e| corrupt(code, None, format!("tree: {e}")))
    }

    fn record_acknowledged(&self, code: &LogCode, size: u64) -> Result<(), StoreError> {
        let mut acknowledged = lock(&self.acknowledged);
        acknowledged.insert(*code, size);
        let mut text: String = acknowledged
            .iter()
            .map(|(code, size)| format!("{code} {size}\n"))
            .collect();
        // A checksum line, so that a torn write is told apart from tampering or loss.
        let checksum = blake3::hash(text.as_bytes());
        text.push_str(&format!("blake3 {}\n", &checksum.to_hex()[..16]));
        // Rewritten in place (a rename costs a metadata journal commit on every batch),
        // through a handle kept open (an open per batch showed in profiles). The lock on
        // `acknowledged` orders the writes.
        use std::io::{Seek, Write};
        let mut handle = lock(&self.heads_file);
        let file = match &mut *handle {
            Some(file) => file,
            None => handle.insert(
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(self.path.join(HEADS_FILE))?,
            ),
        };
        file.seek(std::io::SeekFrom::Start(0))?;
        file.write_all(text.as_bytes())?;
        file.set_len(text.len() as u64)?;
        Ok(())
    }

    /// The sizes recorded in the heads file when the ledger was opened or last written.
    pub fn acknowledged_sizes(&self) -> BTreeMap<LogCode, u64> {
        lock(&self.acknowledged).clone()
    }

    /// Flushes sled, empties the journal, and closes. (Dropping the ledger does the same,
    /// but cannot report a failure.)
    pub fn close(self) -> Result<(), StoreError> {
        self.flush_index();
        self.empty_journal()
    }

    /// Flushes sled (always: the derived indexes are written to sled only) and empties the
    /// journal.
    fn empty_journal(&self) -> Result<(), StoreError> {
        lock(&self.journal).empty(|| flush_sled(&self.db, self.data_file.as_ref()))
    }
}

/// Flushes sled and fsyncs its data file (sled's own flush issues `sync_file_range`, which
/// does not reach the disk's write cache).
fn flush_sled(db: &sled::Db, data_file: Option<&File>) -> Result<(), StoreError> {
    db.flush()?;
    if let Some(file) = data_file {
        file.sync_data()?;
    }
    Ok(())
}

/// The sled configuration of every ledger: tools that open a ledger's sled directory
/// directly (tests, repair) must use the same, since sled refuses a changed compression
/// setting.
///
/// sled's own periodic flush is off: durability comes from the journal, and sled is
/// flushed (and synced) when the journal is emptied (see `store::journal`). Left on, its
/// flusher thread syncs sled's files every 500 ms, and the journal's `fdatasync` of a
/// submitter's record waits behind it on the same disk.
pub fn sled_config(sled_dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(sled_dir)
        .cache_capacity(256 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .flush_every_ms(None)
}

fn read_heads_file(path: &Path) -> Result<BTreeMap<LogCode, u64>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    if text.is_empty() {
        // Created but never written (a crash right after creating it): no guard yet.
        return Ok(BTreeMap::new());
    }
    let bad = |what: String| StoreError::Corrupt {
        log: "?".into(),
        seq: None,
        what: format!("{}: {what}", path.display()),
    };
    let body_len = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let (body, last) = text.split_at(body_len);
    let expected = blake3::hash(body.as_bytes()).to_hex();
    match last.trim_end().strip_prefix("blake3 ") {
        Some(sum) if expected.starts_with(sum) && sum.len() == 16 => {}
        _ => return Err(bad("damaged (its checksum line does not match); if the machine lost power while writing it, move it aside and run `yibao verify`".into())),
    }
    let mut out = BTreeMap::new();
    for (number, line) in body.lines().enumerate() {
        let parsed = line
            .split_once(' ')
            .and_then(|(code, size)| Some((LogCode::parse(code)?, size.parse::<u64>().ok()?)));
        match parsed {
            Some((code, size)) => {
                out.insert(code, size);
            }
            None => {
                return Err(StoreError::Corrupt {
                    log: "?".into(),
                    seq: None,
                    what: format!(
                        "{} line {}: expected `CODE SIZE`",
                        path.display(),
                        number + 1
                    ),
                })
            }
        }
    }
    Ok(out)
}

/// The size of the pieces [`verify_signatures`] cuts a batch into: a batch of at most
/// this many signatures is checked whole on the calling thread; a larger one is cut into
/// a piece per core, each at least this long (but the last), checked on the pool.
///
/// Under concurrent appends the other core is busy committing the previous batch, so
/// splitting a few dozen signatures over the pool only added a hand-off and a slower,
/// smaller signature batch. With 64 submitters (batches of about 32), checking each batch
/// whole on the writer thread took the writer's signature time from 0.47 to 0.40 ms per
/// batch and the rate from 29–37k to 39–42k entries/s, in alternating runs of one binary
/// (session 11). Replicated batches (thousands) are still spread over every core, unless
/// other checks already occupy them (see [`piece_len`]).
const MIN_PARALLEL_CHECK: usize = 64;

/// Signature checks ([`verify_signatures`]) running in this process.
static CHECKS_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one running check while it lives.
struct RunningCheck;

impl RunningCheck {
    /// Starts counting; returns how many other checks were running.
    fn start() -> (RunningCheck, usize) {
        let others = CHECKS_RUNNING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (RunningCheck, others)
    }
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        CHECKS_RUNNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The piece length for a check of `len` signatures on `cores` cores while `others`
/// other checks run: a piece per core, none under [`MIN_PARALLEL_CHECK`], when the cores
/// are free; the whole batch on the calling thread when other checks already give every
/// core one. A node catching up several logs checks each log's batch on its own thread:
/// one MSM of 4,096 signatures instead of two of 2,048 costs less per signature and needs
/// no hand-off (`bench-sync`, 4 logs, alternating runs: 110.9k and 111.3k entries/s at
/// 16.4–16.8 µs of CPU per entry, against 106.5k and 107.3k at 16.8–16.9 µs always split;
/// session 12). A lone log still uses every core (never splitting: 71–73k instead of
/// 88–93k entries/s catching up one log).
fn piece_len(len: usize, cores: usize, others: usize) -> usize {
    if others + 1 >= cores {
        len.max(1)
    } else {
        len.div_ceil(cores.max(1)).max(MIN_PARALLEL_CHECK)
    }
}

/// Verifies the signatures of a batch, in parallel pieces when it is large and the cores
/// are free ([`piece_len`]), and returns one result per item. Keys are checked once and
/// cached.
fn verify_signatures(
    items: &[&(usize, SubmissionRef<'_>)],
    keys: &mut HashMap<[u8; 32], PublicKey>,
) -> Vec<Result<Record, AppendError>> {
    // Anyone may submit under a key of their own: the cache starts again rather than grow
    // with them (a log's officers are a few dozen keys).
    if keys.len() > MAX_CACHED_KEYS {
        keys.clear();
    }
    let mut key_errors: HashMap<[u8; 32], SignatureError> = HashMap::new();
    for (_, view) in items {
        let author = view.statement.author;
        if !keys.contains_key(&author) && !key_errors.contains_key(&author) {
            match PublicKey::from_bytes(&author) {
                Ok(key) => {
                    keys.insert(author, key);
                }
                Err(e) => {
                    key_errors.insert(author, e);
                }
            }
        }
    }
    let (_running, others) = RunningCheck::start();
    let chunk_len = piece_len(items.len(), rayon::current_num_threads(), others);
    check_in_pieces(items, keys, &key_errors, chunk_len)
}

/// Checks `items` in pieces of `chunk_len` (on the pool when there is more than one),
/// decoding each record on the way; `keys` holds every valid author key and `key_errors`
/// why the others are not.
fn check_in_pieces(
    items: &[&(usize, SubmissionRef<'_>)],
    keys: &HashMap<[u8; 32], PublicKey>,
    key_errors: &HashMap<[u8; 32], SignatureError>,
    chunk_len: usize,
) -> Vec<Result<Record, AppendError>> {
    let check = |chunk: &[&(usize, SubmissionRef<'_>)]| {
        // Each record is decoded here too, in parallel, before the sequential checks.
        let mut results: Vec<Result<Record, AppendError>> = chunk
            .iter()
            .map(|(_, view)| match RecordKind::parse(view.statement.kind) {
                None => Err(AppendError::UnknownKind(view.statement.kind.to_string())),
                Some(kind) => Record::decode_payload(kind, view.payload)
                    .map_err(|e| AppendError::Payload(e.to_string())),
            })
            .collect();
        let mut batch = BatchVerifier::with_capacity(chunk.len());
        let mut positions = Vec::with_capacity(chunk.len());
        for (k, (_, view)) in chunk.iter().enumerate() {
            let author = view.statement.author;
            let Some(key) = keys.get(&author) else {
                let e = key_errors
                    .get(&author)
                    .cloned()
                    .unwrap_or(SignatureError::EquationFailed);
                results[k] = Err(AppendError::Signature(e));
                continue;
            };
            // Every push takes an index in the batch, refused or not, so the
            // batch's failure indices map back through `positions`.
            let pushed = batch.push(key, &view.signing_message(), &view.signature);
            positions.push(k);
            if let Err(e) = pushed {
                results[k] = Err(AppendError::Signature(e));
            }
        }
        if let Err(failure) = batch.verify(&mut rand_core::OsRng) {
            for index in failure.failed {
                if let Some(&k) = positions.get(index) {
                    // A push refused as malformed keeps its own, sharper reason.
                    if !matches!(results[k], Err(AppendError::Signature(_))) {
                        results[k] = Err(AppendError::Signature(SignatureError::EquationFailed));
                    }
                }
            }
        }
        results
    };
    if items.len() <= chunk_len {
        // One piece: checked here, without waking a pool thread and waiting for it.
        return check(items);
    }
    use rayon::prelude::*;
    let chunks: Vec<Vec<Result<Record, AppendError>>> =
        items.par_chunks(chunk_len).map(check).collect();
    chunks.into_iter().flatten().collect()
}

/// Reads tree nodes from the store: stored ones directly, lower ones recomputed from entries.
///
/// The nodes below [`STORED_MIN_LEVEL`] are recomputed from the leaves of their aligned
/// block of 2^STORED_MIN_LEVEL entries, which is read (one page decompression) and hashed
/// once per source: an inclusion path needs a node at each of those levels, all from the
/// same block.
pub(crate) struct StoreSource<'a> {
    tree: &'a sled::Tree,
    code: LogCode,
    size: u64,
    block: std::cell::RefCell<Option<LeafBlock>>,
    cache: Option<&'a NodeCache>,
}

/// The entries of one aligned block of 2^STORED_MIN_LEVEL leaves (clipped to the tree's
/// size) and their leaf hashes.
struct LeafBlock {
    first: u64,
    /// The entries' bytes, when they were read (not when the leaves came from the cache).
    entries: Option<Vec<sled::IVec>>,
    /// The block's leaf hashes: the first `len` of `tile`.
    tile: LeafTile,
    len: usize,
}

impl LeafBlock {
    /// The leaf hashes of the block's entries below the source's size.
    fn leaves(&self) -> &[Hash] {
        self.tile.get(..self.len).unwrap_or_default()
    }
}

impl<'a> StoreSource<'a> {
    pub(crate) fn new(tree: &'a sled::Tree, code: LogCode, size: u64) -> StoreSource<'a> {
        StoreSource {
            tree,
            code,
            size,
            block: std::cell::RefCell::new(None),
            cache: None,
        }
    }

    /// The same source, keeping the stored nodes it reads in `cache` and reading them
    /// from it first.
    fn cached(self, cache: &'a NodeCache) -> StoreSource<'a> {
        StoreSource {
            cache: Some(cache),
            ..self
        }
    }

    /// Runs `f` on the block of leaves holding leaf `seq`, reading it if not yet read.
    /// With `entries` false, a complete block's leaf hashes may come from the cache and the
    /// block's `entries` may be `None`.
    fn with_block<T>(
        &self,
        seq: u64,
        entries: bool,
        f: impl FnOnce(&LeafBlock) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let first = seq & !(BLOCK - 1);
        let mut held = self.block.borrow_mut();
        if let Some(block) = held
            .as_ref()
            .filter(|b| b.first == first && (b.entries.is_some() || !entries))
        {
            return f(block);
        }
        let end = first.saturating_add(BLOCK).min(self.size);
        let len = usize::try_from(end.saturating_sub(first)).unwrap_or(usize::MAX);
        if !entries {
            if let Some(tile) = self.cache.and_then(|cache| cache.tile(&self.code, first)) {
                if tile.len() >= len {
                    return f(held.insert(LeafBlock {
                        first,
                        entries: None,
                        tile,
                        len,
                    }));
                }
            }
        }
        let read = match self.read_full_page(first, end) {
            Some(read) => read,
            None => read_entries(self.tree, &self.code, first, end)?
                .into_iter()
                .map(|(_, bytes)| bytes)
                .collect(),
        };
        if read.len() as u64 != end.saturating_sub(first) {
            return Err(corrupt(
                &self.code,
                Some(first),
                "entries missing under a tree node",
            ));
        }
        let tile: LeafTile = read.iter().map(|b| Blake3Hasher::leaf(b)).collect();
        if let Some(cache) = self.cache {
            cache.put_tile(&self.code, first, &tile, true);
        }
        f(held.insert(LeafBlock {
            first,
            entries: Some(read),
            len: tile.len(),
            tile,
        }))
    }

    /// The leaf hash of entry `seq` (below the source's size).
    pub(crate) fn leaf(&self, seq: u64) -> Result<Hash, StoreError> {
        self.with_block(seq, false, |block| {
            usize::try_from(seq - block.first)
                .ok()
                .and_then(|i| block.leaves().get(i))
                .copied()
                .ok_or_else(|| corrupt(&self.code, Some(seq), "entry missing"))
        })
    }

    /// Entries `[first, end)` when they all lie in one full stored page: one sled `get`
    /// instead of the two range scans (pages, then tail rows) of `read_entries`. `None`
    /// (read the general way) for anything else, damage included.
    fn read_full_page(&self, first: u64, end: u64) -> Option<Vec<sled::IVec>> {
        let index = page::page_of(first);
        if end == first || page::page_of(end - 1) != index {
            return None;
        }
        let stored = self.tree.get(keys::page(&self.code, index)).ok()??;
        let frames_bytes = page::decode(&stored).ok()?;
        let frames = page::frames(&frames_bytes).ok()?;
        if frames.len() as u64 != page::ENTRIES_PER_PAGE {
            return None; // A partly filled raw page of an older store: its tail rows follow.
        }
        let skip = usize::try_from(first - page::first_seq(index)).ok()?;
        let take = usize::try_from(end - first).ok()?;
        Some(
            frames
                .into_iter()
                .skip(skip)
                .take(take)
                .map(|(offset, len)| frames_bytes.subslice(offset, len))
                .collect(),
        )
    }

    /// The stored bytes of entry `seq` (below the source's size), from the cached block.
    pub(crate) fn entry(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        self.with_block(seq, true, |block| {
            usize::try_from(seq - block.first)
                .ok()
                .and_then(|i| block.entries.as_ref()?.get(i))
                .map(|bytes| bytes.to_vec())
                .ok_or_else(|| corrupt(&self.code, Some(seq), "entry missing"))
        })
    }
}

impl NodeSource for StoreSource<'_> {
    type Error = StoreError;

    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        let first = id
            .index
            .checked_shl(u32::from(id.level))
            .unwrap_or(u64::MAX);
        let width = 1u64.checked_shl(u32::from(id.level)).unwrap_or(u64::MAX);
        if first.saturating_add(width) > self.size {
            return Err(corrupt(
                &self.code,
                None,
                format!(
                    "asked for node {}/{} beyond size {}",
                    id.level, id.index, self.size
                ),
            ));
        }
        if id.level >= STORED_MIN_LEVEL {
            if let Some(hash) = self.cache.and_then(|cache| cache.get(&self.code, id)) {
                return Ok(hash);
            }
            let bytes = self.tree.get(keys::node(&self.code, id))?.ok_or_else(|| {
                corrupt(
                    &self.code,
                    None,
                    format!("tree node {}/{} missing", id.level, id.index),
                )
            })?;
            let hash: Hash = bytes.as_ref().try_into().map_err(|_| {
                corrupt(
                    &self.code,
                    None,
                    format!("tree node {}/{} is not 32 bytes", id.level, id.index),
                )
            })?;
            if let Some(cache) = self.cache {
                cache.put(&self.code, id, hash, true);
            }
            return Ok(hash);
        }
        // Recompute from the leaves: at most 2^(STORED_MIN_LEVEL - 1) of them, all in the
        // block that holds `first`.
        let mut level: Vec<Hash> = self.with_block(first, false, |block| {
            let from = usize::try_from(first - block.first).unwrap_or(usize::MAX);
            let to = usize::try_from(width).map_or(usize::MAX, |w| from.saturating_add(w));
            block
                .leaves()
                .get(from..to)
                .map(<[Hash]>::to_vec)
                .ok_or_else(|| {
                    corrupt(&self.code, Some(first), "entries missing under a tree node")
                })
        })?;
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => Blake3Hasher::node(left, right),
                    [single] => *single,
                    _ => Blake3Hasher::empty(),
                })
                .collect();
        }
        level
            .pop()
            .ok_or_else(|| corrupt(&self.code, None, "empty tree node"))
    }
}

/// A log of a [`Ledger`] seen as raw data, for verification.
pub(crate) struct StoredLog<'a> {
    ledger: &'a Ledger,
    code: LogCode,
    meta: LogMeta,
    acknowledged: Option<u64>,
}

impl<'a> StoredLog<'a> {
    pub(crate) fn new(
        ledger: &'a Ledger,
        code: LogCode,
        meta: LogMeta,
        acknowledged: Option<u64>,
    ) -> Self {
        StoredLog {
            ledger,
            code,
            meta,
            acknowledged,
        }
    }
}

impl crate::verify::LogData for StoredLog<'_> {
    fn meta(&self) -> &LogMeta {
        &self.meta
    }

    fn entries_end(&self) -> Result<u64, String> {
        let last = self
            .ledger
            .main
            .scan_prefix(keys::table_prefix(keys::tag::ENTRY, &self.code))
            .next_back()
            .transpose()
            .map_err(|e| e.to_string())?;
        let pages_end = match last {
            Some((key, value)) => {
                let index = keys::trailing_u64(&key).ok_or("bad entry page key")?;
                // A damaged last page counts as a full one, so that its entries are reported
                // rather than silently absent.
                let count = page::decode(&value)
                    .ok()
                    .and_then(|frames| page::frames(&frames).ok())
                    .map(|f| f.len() as u64)
                    .unwrap_or(page::ENTRIES_PER_PAGE);
                page::first_seq(index).saturating_add(count)
            }
            None => 0,
        };
        let last_tail = self
            .ledger
            .main
            .scan_prefix(keys::table_prefix(keys::tag::TAIL, &self.code))
            .next_back()
            .transpose()
            .map_err(|e| e.to_string())?;
        let tail_end = match last_tail {
            Some((key, _)) => keys::trailing_u64(&key)
                .ok_or("bad tail row key")?
                .saturating_add(1),
            None => 0,
        };
        Ok(pages_end.max(tail_end))
    }

    fn name(&self) -> String {
        self.code.to_string()
    }

    fn entries_range(&self, start: u64, end: u64) -> Result<Vec<crate::verify::Read>, String> {
        read_stored(&self.ledger.main, &self.code, start, end).map_err(|e| e.to_string())
    }

    fn stored_nodes(&self) -> Result<Option<crate::verify::StoredNodes>, String> {
        let mut out = Vec::new();
        for row in self
            .ledger
            .main
            .scan_prefix(keys::table_prefix(keys::tag::NODE, &self.code))
        {
            let (key, value) = row.map_err(|e| e.to_string())?;
            let id = keys::parse_node(&key).ok_or("bad tree node key")?;
            out.push((id, value.to_vec()));
        }
        Ok(Some(out))
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, String> {
        self.ledger
            .checkpoints(&self.code)
            .map_err(|e| e.to_string())
    }

    fn claimed_size(&self) -> Result<u64, String> {
        let bytes = self
            .ledger
            .main
            .get(keys::head(&self.code))
            .map_err(|e| e.to_string())?
            .ok_or("no head row")?;
        Head::decode(&bytes)
            .map(|h| h.size)
            .ok_or_else(|| "bad head row".to_string())
    }

    fn acknowledged_size(&self) -> Option<u64> {
        self.acknowledged
    }

    fn pending_target(&self) -> Result<Option<(String, Vec<Hash>)>, String> {
        self.ledger
            .pending_target(&self.code)
            .map_err(|e| e.to_string())
    }
}

/// What is stored for the entries with `start <= seq < end`, in seq order: the entries of
/// full pages and of tail rows (without copying), and the damaged pages that cannot be
/// read. An entry stored twice (in a page and in a tail row) is given twice.
fn read_stored(
    tree: &sled::Tree,
    code: &LogCode,
    start: u64,
    end: u64,
) -> Result<Vec<crate::verify::Read>, sled::Error> {
    use crate::verify::Read;
    let mut out = Vec::with_capacity(
        usize::try_from(end.saturating_sub(start))
            .unwrap_or(0)
            .min(1 << 16),
    );
    if start >= end {
        return Ok(out);
    }
    // Tail rows first, then pages. An append that fills a page writes the page before it
    // removes the page's tail rows (one journal record, applied to sled row by row, while
    // readers read): a tail row found gone was removed after its page was written, so the
    // page is found after it, and an entry found in both is taken from its page.
    let mut tails = Vec::new();
    for row in tree.range(keys::tail(code, start)..keys::tail(code, end)) {
        let (key, bytes) = row?;
        if let Some(seq) = keys::trailing_u64(&key) {
            tails.push((seq, bytes)); // Tail keys are fixed-length; the range holds no other.
        }
    }
    let rows = tree
        .range(keys::page(code, page::page_of(start))..=keys::page(code, page::page_of(end - 1)));
    // The seqs each page read covers, damaged ones included, in order.
    let mut covered: Vec<(u64, u64)> = Vec::new();
    for row in rows {
        let (key, stored) = row?;
        let Some(index) = keys::trailing_u64(&key) else {
            continue; // Page keys are fixed-length; the range holds no other.
        };
        let first = page::first_seq(index);
        let damaged = |what: String| Read::Damaged {
            first: first.max(start),
            count: first
                .saturating_add(page::ENTRIES_PER_PAGE)
                .min(end)
                .saturating_sub(first.max(start)),
            what: format!("entry page {index} (entries from {first}) is damaged: {what}"),
        };
        let frames_bytes = match page::decode(&stored) {
            Ok(frames) => frames,
            Err(e) => {
                out.push(damaged(e.to_string()));
                covered.push((first, first.saturating_add(page::ENTRIES_PER_PAGE)));
                continue;
            }
        };
        match page::frames(&frames_bytes) {
            Ok(frames) => {
                covered.push((first, first.saturating_add(frames.len() as u64)));
                for (i, (offset, len)) in frames.into_iter().enumerate() {
                    let seq = first + i as u64;
                    if seq >= start && seq < end {
                        // INVARIANT: `frames` only returns ranges inside the page.
                        out.push(Read::Entry(seq, frames_bytes.subslice(offset, len)));
                    }
                }
            }
            Err(e) => {
                out.push(damaged(e.to_string()));
                covered.push((first, first.saturating_add(page::ENTRIES_PER_PAGE)));
            }
        }
    }
    let pages_end = covered.last().map_or(0, |(_, end)| *end);
    let mut ordered = true;
    for (seq, bytes) in tails {
        let in_page = covered
            .binary_search_by(|(first, end)| {
                if *end <= seq {
                    std::cmp::Ordering::Less
                } else if *first > seq {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok();
        if in_page {
            // Read in both (see above): the same bytes, or damage.
            let same = out
                .binary_search_by_key(&seq, |read| match read {
                    Read::Entry(at, _) => *at,
                    Read::Damaged { first, .. } => *first,
                })
                .ok()
                .and_then(|i| out.get(i))
                .is_some_and(|read| matches!(read, Read::Entry(_, page) if **page == *bytes));
            if !same {
                out.push(Read::Damaged {
                    first: seq,
                    count: 1,
                    what: format!(
                        "entry {seq} is stored twice, differently (a tail row beside its page)"
                    ),
                });
                ordered = false;
            }
            continue;
        }
        ordered &= seq >= pages_end;
        out.push(Read::Entry(seq, bytes));
    }
    if !ordered {
        // Only damage puts a tail row among the pages' entries; keep seq order.
        out.sort_by_key(|read| match read {
            Read::Entry(seq, _) => *seq,
            Read::Damaged { first, .. } => *first,
        });
    }
    Ok(out)
}

/// The entries with `start <= seq < end`, read from their pages and tail rows without
/// copying. Damage is an error.
fn read_entries(
    tree: &sled::Tree,
    code: &LogCode,
    start: u64,
    end: u64,
) -> Result<Vec<(u64, sled::IVec)>, StoreError> {
    use crate::verify::Read;
    let mut out = Vec::with_capacity(
        usize::try_from(end.saturating_sub(start))
            .unwrap_or(0)
            .min(1 << 16),
    );
    for read in read_stored(tree, code, start, end)? {
        match read {
            Read::Entry(seq, bytes) => {
                if out.last().is_some_and(|(last, _)| *last >= seq) {
                    return Err(corrupt(
                        code,
                        Some(seq),
                        format!("entry {seq} is stored twice"),
                    ));
                }
                out.push((seq, bytes));
            }
            Read::Damaged { first, what, .. } => return Err(corrupt(code, Some(first), what)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(i: u64, timestamp: u64) -> ([u8; 32], (u64, u64, Hash)) {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&i.to_le_bytes());
        (hash, (i, timestamp, [0u8; 32]))
    }

    #[test]
    fn batches_are_cut_into_pieces_only_while_the_cores_are_free() {
        // Free cores: a piece per core, none under the minimum.
        assert_eq!(piece_len(4096, 2, 0), 2048);
        assert_eq!(piece_len(100, 2, 0), MIN_PARALLEL_CHECK);
        assert_eq!(piece_len(32, 2, 0), MIN_PARALLEL_CHECK);
        assert_eq!(piece_len(4096, 4, 1), 1024);
        // Every core already has a check: the whole batch here.
        assert_eq!(piece_len(4096, 2, 1), 4096);
        assert_eq!(piece_len(4096, 4, 3), 4096);
        assert_eq!(piece_len(0, 2, 5), 1);
        assert_eq!(piece_len(4096, 1, 0), 4096);
    }

    #[test]
    fn bad_signatures_are_blamed_on_their_own_items_however_the_batch_is_cut() {
        use yibao_schema::record::{DivisionCode, KeyEvent};
        let key = SigningKey::from_bytes(&[5; 32]);
        let record = Record::KeyEvent(KeyEvent::LogCreated {
            division: DivisionCode::parse("141125").unwrap(),
            name: "柳林县医疗保障局".into(),
            bureau_key: key.verifying_key().to_bytes().into(),
        });
        let payload = record.encode_payload().unwrap();
        let mut submissions: Vec<Submission> = (0..200)
            .map(|i| {
                Submission::sign(
                    &key,
                    "o",
                    1_000 + i,
                    record.kind().as_str(),
                    payload.clone(),
                )
                .unwrap()
            })
            .collect();
        let forged = [5, 63, 64, 120, 199];
        for i in forged {
            submissions[i].signature[7] ^= 0x20;
        }
        let views: Vec<(usize, SubmissionRef<'_>)> = submissions
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.view().unwrap()))
            .collect();
        let items: Vec<&(usize, SubmissionRef<'_>)> = views.iter().collect();
        let keys = HashMap::from([(
            key.verifying_key().to_bytes(),
            PublicKey::from_signing_key(&key).unwrap(),
        )]);
        for chunk_len in [16, 64, 100, 200] {
            let results = check_in_pieces(&items, &keys, &HashMap::new(), chunk_len);
            assert_eq!(results.len(), 200);
            let failed: Vec<usize> = (0..200).filter(|&i| results[i].is_err()).collect();
            assert_eq!(failed, forged, "pieces of {chunk_len}");
            for i in forged {
                assert!(
                    matches!(results[i], Err(AppendError::Signature(_))),
                    "pieces of {chunk_len}: {:?}",
                    results[i]
                );
            }
            assert_eq!(results[0].as_ref().ok(), Some(&record));
        }
    }

    #[test]
    fn recent_statements_stay_within_a_day_of_the_newest() {
        let window = MAX_STATEMENT_AGE_MS + MAX_FUTURE_SKEW_MS;
        let mut recent = Recent::default();
        // A day's worth at t = 0 and one statement exactly at the window's edge later on.
        recent.remember((0..10_000).map(|i| statement(i, 1_000)));
        recent.remember(std::iter::once(statement(10_000, 1_000 + window)));
        // Then days later, enough to cross a power of two: the first day is dropped, the
        // edge statement (within the window of the newest then) is kept.
        let later = 1_000 + 2 * window;
        recent.remember((20_000..30_000).map(|i| statement(i, later)));
        assert!(recent.get(&statement(5, 0).0).is_none());
        assert!(recent.get(&statement(10_000, 0).0).is_some());
        assert!(recent.get(&statement(25_000, 0).0).is_some());
        assert!(
            recent.statements.len() <= 10_001,
            "{}",
            recent.statements.len()
        );
        // A replay ends with a prune, whatever the size.
        let mut small = Recent::default();
        small.remember([statement(1, 0), statement(2, window + 1)]);
        small.prune();
        assert!(small.get(&statement(1, 0).0).is_none());
        assert!(small.get(&statement(2, 0).0).is_some());
    }

    #[test]
    fn the_author_key_cache_starts_again_rather_than_grow() {
        let key = PublicKey::from_signing_key(&SigningKey::from_bytes(&[3; 32])).unwrap();
        let mut keys: HashMap<[u8; 32], PublicKey> = (0..=MAX_CACHED_KEYS as u64)
            .map(|i| (statement(i, 0).0, key))
            .collect();
        assert!(verify_signatures(&[], &mut keys).is_empty());
        assert!(keys.is_empty());
    }
}
