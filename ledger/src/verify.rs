//! Full verification of a log from its raw stored data: every entry's envelope and
//! signature, every `seq` and `prev` link, every author's authorisation at that point in
//! the log, every domain rule, every stored tree node, every kept checkpoint's root and
//! signature, and the acknowledged size.
//!
//! Verification reads bytes and reports; it never panics and never stops at the first
//! failure (up to [`MAX_REPORTED_FAILURES`] are listed, all are counted). The same code
//! verifies a store on disk ([`verify_ledger`]) and an export bundle (`bundle`), through
//! the [`LogData`] trait.
//!
//! Speed: signatures dominate, so entries are verified in pieces of one signature batch —
//! decoding, hashing and batch signature verification run as tasks on every core, handed
//! out by a feeder thread a bounded distance ahead — while the calling thread takes the
//! decoded pieces through the sequential checks (links, state, tree) in order.

use std::collections::HashMap;
use std::sync::RwLock;

use yibao_schema::entry::{EntryRef, GENESIS_PREV};
use yibao_schema::hashing::FastMap;
use yibao_schema::note::{Checkpoint, KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::policy::Policy;
use yibao_schema::record::{DivisionCode, Record, RecordKind};
use yibao_schema::rules::{Rule, RuleViolation};
use yibao_schema::sig::{BatchVerifier, PublicKey};
use yibao_schema::state::{EntryContext, LogState};

use crate::keys::LogCode;
use crate::merkle::{Blake3Hasher, Frontier, Hash, MerkleHasher, NodeId};
use crate::store::{Ledger, LogMeta, STORED_MIN_LEVEL};

/// At most this many failures are kept in a report; the rest are only counted.
pub const MAX_REPORTED_FAILURES: usize = 1000;

/// Entries read and decoded by one parallel task: one signature batch.
const PIECE: u64 = 512;

/// Pieces handed to the decoding tasks ahead of the one being checked, at most.
const IN_FLIGHT: usize = 32;

/// Why entries could not be read when reading them panicked inside sled.
const DAMAGED: &str =
    "the database files are damaged: reading them failed (sled could not recover them)";

/// The bytes of a stored entry, shared rather than copied.
pub type EntryBytes = sled::IVec;

/// One thing that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The log's division code (or what the data claims it is).
    pub log: String,
    /// The entry, when one is to blame.
    pub seq: Option<u64>,
    /// What is wrong, in a sentence.
    pub what: String,
    /// The domain rule breached, when the failure is a rule's refusal of a well-signed
    /// record rather than damage to the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "log {} seq {}: {}", self.log, seq, self.what),
            None => write!(f, "log {}: {}", self.log, self.what),
        }
    }
}

/// What verification of one log found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LogSummary {
    /// Division code.
    pub log: String,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Hex of the tree root over all entries.
    pub root: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// One summary per log.
    pub logs: Vec<LogSummary>,
    /// The first failures found.
    pub failures: Vec<Failure>,
    /// How many failures there were in all.
    pub failure_count: u64,
}

impl Report {
    /// True when nothing failed.
    pub fn is_ok(&self) -> bool {
        self.failure_count == 0
    }

    /// Total entries verified.
    pub fn entries(&self) -> u64 {
        self.logs.iter().map(|l| l.entries).sum()
    }

    /// Adds another report's logs and failures to this one.
    pub fn merge(&mut self, other: Report) {
        self.logs.extend(other.logs);
        self.failure_count += other.failure_count;
        let room = MAX_REPORTED_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(other.failures.into_iter().take(room));
    }

    /// Records a failure.
    pub fn fail(&mut self, log: &str, seq: Option<u64>, what: impl Into<String>) {
        self.push(log, seq, what.into(), None);
    }

    /// Records a domain rule's refusal of the entry at `seq`.
    pub fn fail_rule(&mut self, log: &str, seq: u64, violation: &RuleViolation) {
        self.push(log, Some(seq), violation.to_string(), Some(violation.rule));
    }

    fn push(&mut self, log: &str, seq: Option<u64>, what: String, rule: Option<Rule>) {
        self.failure_count += 1;
        if self.failures.len() < MAX_REPORTED_FAILURES {
            self.failures.push(Failure {
                log: log.to_string(),
                seq,
                what,
                rule,
            });
        }
    }
}

/// Stored tree nodes with their stored bytes.
pub type StoredNodes = Vec<(NodeId, Vec<u8>)>;

/// What reading a range of stored entries gives.
#[derive(Debug, Clone)]
pub enum Read {
    /// An entry's bytes, with the seq its position or storage key gives it.
    Entry(u64, EntryBytes),
    /// Entries that could not be read at all (a damaged page), so each is reported.
    Damaged {
        /// The first seq affected.
        first: u64,
        /// How many.
        count: u64,
        /// What is wrong.
        what: String,
    },
}

/// The raw data of one log, wherever it is kept.
pub trait LogData: Sync {
    /// The log's name in reports: the division code it is stored or exported under.
    fn name(&self) -> String;
    /// The log's metadata (its pinned genesis key above all).
    fn meta(&self) -> &LogMeta;
    /// One past the highest stored seq (0 when there are none).
    fn entries_end(&self) -> Result<u64, String>;
    /// The stored entries with `start <= seq < end`, in order, as (seq claimed by the
    /// storage key or position, bytes). Missing entries are simply absent.
    fn entries_range(&self, start: u64, end: u64) -> Result<Vec<Read>, String>;
    /// Stored tree nodes, when the data has them (a store does; a bundle does not).
    fn stored_nodes(&self) -> Result<Option<StoredNodes>, String>;
    /// Every kept checkpoint as (size claimed by the storage key, text).
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, String>;
    /// The size the store's head row or the bundle claims.
    fn claimed_size(&self) -> Result<u64, String>;
    /// The size acknowledged to submitters (the heads file), if known.
    fn acknowledged_size(&self) -> Option<u64>;
    /// A replica catching up: the owner's signed checkpoint beyond the stored entries and
    /// the consistency proof from the stored size to it (see `store::replica`).
    fn pending_target(&self) -> Result<Option<(String, Vec<Hash>)>, String> {
        Ok(None)
    }
}

/// Sees, in log order, what verification decodes: each entry's record and each kept
/// checkpoint. The city audit builds its tables this way, in the same single pass that
/// verifies the data.
pub trait Visitor: Send {
    /// A log is about to be read: `entries` is how many it stores (a hint for sizing
    /// tables; a damaged log may yield fewer).
    fn log_start(&mut self, log: &str, entries: u64) {
        let _ = (log, entries);
    }
    /// An entry whose record decoded. `intact` is false when the entry failed an integrity
    /// check (signature, link, seq, origin, duplicate statement); `violation` is the domain
    /// rule it breaks, if any. `state` is the log's state after the entry was applied.
    fn entry(&mut self, visit: &EntryVisit<'_>) {
        let _ = visit;
    }
    /// A checkpoint whose size, root and bureau signature were checked; `valid` says whether
    /// they held.
    fn checkpoint(&mut self, log: &str, signed: &SignedCheckpoint, valid: bool) {
        let _ = (log, signed, valid);
    }
}

/// One entry as a [`Visitor`] sees it.
#[derive(Debug)]
pub struct EntryVisit<'a> {
    /// The log's division code.
    pub log: &'a str,
    /// Seq, timestamp, author, division.
    pub ctx: &'a EntryContext,
    /// The decoded record.
    pub record: &'a Record,
    /// Whether the entry passed every integrity check.
    pub intact: bool,
    /// The domain rule the record breaks, if any.
    pub violation: Option<&'a RuleViolation>,
    /// For a valid record, what the node's submission screen (`LogState::screen`, not part
    /// of validity) finds, if anything.
    pub screened: Option<&'a RuleViolation>,
    /// The log's state with this entry applied.
    pub state: &'a LogState,
}

/// A visitor that looks at nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoVisitor;

impl Visitor for NoVisitor {}

/// Verifies every log of a ledger on disk.
pub fn verify_ledger(ledger: &Ledger, progress: &(dyn Fn(u64) + Sync)) -> Report {
    verify_ledger_visiting(ledger, progress, &mut NoVisitor)
}

/// [`verify_ledger`], showing every entry and checkpoint to `visitor`.
pub fn verify_ledger_visiting(
    ledger: &Ledger,
    progress: &(dyn Fn(u64) + Sync),
    visitor: &mut dyn Visitor,
) -> Report {
    let mut report = Report::default();
    let acknowledged = ledger.acknowledged_sizes();
    for code in ledger.log_codes() {
        let meta = match ledger.meta(&code) {
            Ok(meta) => meta,
            Err(e) => {
                report.fail(code.as_str(), None, e.to_string());
                continue;
            }
        };
        let data =
            crate::store::StoredLog::new(ledger, code, meta, acknowledged.get(&code).copied());
        // sled asserts on some kinds of damage while reading its files; that is a failed
        // verification of this log, not a crash of the verifier.
        let mut log_report = Report::default();
        let verified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verify_log_visiting(&data, ledger.policy(), &mut log_report, progress, visitor);
        }));
        if verified.is_err() {
            log_report.fail(code.as_str(), None, DAMAGED);
        }
        report.merge(log_report);
    }
    for code in acknowledged.keys() {
        if !ledger.log_codes().contains(code) {
            report.fail(
                code.as_str(),
                None,
                "acknowledged in the heads file but missing from the store",
            );
        }
    }
    report
}

/// What the parallel stage learns about one entry.
struct Decoded {
    key_seq: u64,
    leaf: Hash,
    body: Result<Body, String>,
}

struct Body {
    seq: u64,
    prev: [u8; 32],
    origin_ok: bool,
    timestamp_ms: u64,
    author: [u8; 32],
    statement_hash: [u8; 32],
    kind: Option<RecordKind>,
    record: Result<Record, String>,
    signature: Result<(), String>,
}

/// Verifies one log and adds what it finds to `report`.
pub fn verify_log(
    data: &dyn LogData,
    policy: &Policy,
    report: &mut Report,
    progress: &(dyn Fn(u64) + Sync),
) {
    verify_log_visiting(data, policy, report, progress, &mut NoVisitor);
}

/// [`verify_log`], showing every entry and checkpoint to `visitor`.
pub fn verify_log_visiting(
    data: &dyn LogData,
    policy: &Policy,
    report: &mut Report,
    progress: &(dyn Fn(u64) + Sync),
    visitor: &mut dyn Visitor,
) {
    let meta = data.meta().clone();
    let log = data.name();
    if meta.division != log {
        report.fail(
            &log,
            None,
            format!(
                "the metadata names division {}, but the log is stored as {log}",
                meta.division
            ),
        );
    }
    let mut summary = LogSummary {
        log: log.clone(),
        ..LogSummary::default()
    };
    let Some(code) = LogCode::parse(&log) else {
        report.fail(&log, None, "division code is not 6 digits");
        return;
    };
    if meta.origin != code.origin() {
        report.fail(
            &log,
            None,
            format!("origin `{}` is not `{}`", meta.origin, code.origin()),
        );
    }
    // Lowercase hex only: one key has one spelling, so any change to the stored text shows.
    let genesis_key: Option<[u8; 32]> = hex::decode(&meta.genesis_key)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .filter(|key: &[u8; 32]| hex::encode(key) == meta.genesis_key);
    if genesis_key.is_none() {
        report.fail(
            &log,
            None,
            "pinned genesis key is not 32 bytes of lowercase hex",
        );
    }
    let division = match DivisionCode::parse(&log) {
        Ok(division) => division,
        Err(e) => {
            report.fail(&log, None, e.to_string());
            return;
        }
    };
    let mut checkpoints = match data.checkpoints() {
        Ok(c) => c,
        Err(e) => {
            report.fail(&log, None, format!("cannot read checkpoints: {e}"));
            Vec::new()
        }
    };
    checkpoints.sort_by_key(|(size, _)| *size);
    // A replica still catching up to the first checkpoint it was sent keeps the empty-tree
    // placeholder as its latest: the pending target stands in for it (checked at the end).
    let pending_target = data.pending_target();
    if matches!(pending_target, Ok(Some(_))) && matches!(checkpoints.as_slice(), [(0, _)]) {
        checkpoints.clear();
    }
    let mut next_checkpoint = 0usize;

    let keys: RwLock<HashMap<[u8; 32], Result<PublicKey, String>>> = RwLock::new(HashMap::new());
    let mut state = LogState::new(division, policy.clone());
    let mut frontier = Frontier::new();
    // Keyed fast maps: SipHash cost more than the rest of the sequential checks of an entry.
    let mut computed_nodes: FastMap<NodeId, Hash> = FastMap::default();
    let mut statements: FastMap<[u8; 32], u64> = FastMap::default();
    let mut expected_seq = 0u64;
    let mut last_leaf = GENESIS_PREV;

    let end = match data.entries_end() {
        Ok(end) => end,
        Err(e) => {
            report.fail(&log, None, format!("cannot read entries: {e}"));
            0
        }
    };
    // Growing the map as it fills would rehash it again and again.
    statements.reserve(usize::try_from(end.min(1 << 20)).unwrap_or(0));
    visitor.log_start(&log, end);
    let mut seq_state = SequentialState {
        state: &mut state,
        frontier: &mut frontier,
        computed_nodes: &mut computed_nodes,
        statements: &mut statements,
        meta: &meta,
        expected_seq: &mut expected_seq,
        last_leaf: &mut last_leaf,
        genesis_key: genesis_key.as_ref(),
        checkpoints: &checkpoints,
        next_checkpoint: &mut next_checkpoint,
        summary: &mut summary,
        visitor: &mut *visitor,
    };
    let mut check_piece = |piece_start: u64, decoded: Result<Vec<Decoded>, String>| match decoded {
        Ok(piece) => {
            for decoded in &piece {
                check_sequential(decoded, &log, &mut seq_state, report);
            }
            progress(*seq_state.expected_seq);
        }
        Err(e) => report.fail(&log, Some(piece_start), format!("cannot read entries: {e}")),
    };
    let pieces: Vec<(u64, u64)> = (0..end)
        .step_by(usize::try_from(PIECE).unwrap_or(usize::MAX))
        .map(|from| (from, end.min(from.saturating_add(PIECE))))
        .collect();
    let decode = |(from, to): (u64, u64)| -> Result<Vec<Decoded>, String> {
        let raw = data.entries_range(from, to)?;
        Ok(decode_part(&raw, &meta.origin, &keys))
    };
    // Pieces are read and decoded as tasks on rayon's threads (every core), handed out by
    // a feeder thread at most IN_FLIGHT ahead of the piece this thread is checking, which
    // takes them in order: the cores never wait for each other at a chunk boundary. On a
    // rayon thread, or when no thread can be started, the pieces are decoded and checked
    // in turn here (blocking a rayon thread on the feeder could starve the pool).
    let overlapped = rayon::current_thread_index().is_none()
        && std::thread::scope(|scope| {
            let (done, finished) = std::sync::mpsc::channel();
            let (give_token, take_token) = std::sync::mpsc::sync_channel(IN_FLIGHT);
            for _ in 0..IN_FLIGHT {
                if give_token.send(()).is_err() {
                    return false;
                }
            }
            let pieces = &pieces;
            let decode = &decode;
            let feeder = std::thread::Builder::new()
                .name("yibao-verify-feed".into())
                .spawn_scoped(scope, move || {
                    rayon::in_place_scope(|tasks| {
                        for (index, &piece) in pieces.iter().enumerate() {
                            if take_token.recv().is_err() {
                                break; // The checker stopped.
                            }
                            let done = done.clone();
                            tasks.spawn(move |_| {
                                // sled asserts on some kinds of damage while reading: the
                                // piece is then unreadable, and the checker must still get
                                // an answer for it (it waits for the pieces in order).
                                let decoded =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        decode(piece)
                                    }))
                                    .unwrap_or_else(|_| Err(DAMAGED.to_string()));
                                // A send fails only when the checker stopped.
                                let _ = done.send((index, decoded));
                            });
                        }
                    });
                });
            if feeder.is_err() {
                return false;
            }
            // Pieces finish out of order; each waits here until those before it are checked.
            let mut waiting: FastMap<usize, Result<Vec<Decoded>, String>> = FastMap::default();
            let mut next = 0usize;
            for (index, decoded) in finished {
                waiting.insert(index, decoded);
                while let Some(decoded) = waiting.remove(&next) {
                    let piece_start = pieces.get(next).map_or(0, |p| p.0);
                    check_piece(piece_start, decoded);
                    next += 1;
                    // The feeder may have stopped after the last piece; nothing to give.
                    let _ = give_token.send(());
                }
            }
            true
        });
    if !overlapped {
        for &piece in &pieces {
            check_piece(piece.0, decode(piece));
        }
    }

    // Checkpoints that were not reached: sizes beyond the log or of an empty log.
    for (size, text) in checkpoints.iter().skip(next_checkpoint) {
        if *size == 0 && expected_seq == 0 {
            let empty = Checkpoint {
                origin: meta.origin.clone(),
                size: 0,
                root: Blake3Hasher::empty(),
                extensions: Vec::new(),
            };
            if *text != empty.body() {
                report.fail(&log, None, "checkpoint 0 is not the empty-tree checkpoint");
            } else {
                summary.checkpoints += 1;
            }
        } else {
            report.fail(
                &log,
                None,
                format!("checkpoint for size {size} but the log has {expected_seq} entries"),
            );
        }
    }

    // Stored tree nodes must be exactly the ones the entries produce.
    match data.stored_nodes() {
        Ok(Some(stored)) => {
            let mut seen = 0usize;
            for (id, bytes) in stored {
                match computed_nodes.get(&id) {
                    Some(hash) if bytes.as_slice() == hash.as_slice() => seen += 1,
                    Some(_) => report.fail(
                        &log,
                        None,
                        format!(
                            "stored tree node {}/{} differs from the entries",
                            id.level, id.index
                        ),
                    ),
                    None => report.fail(
                        &log,
                        None,
                        format!(
                            "stored tree node {}/{} is not part of the tree",
                            id.level, id.index
                        ),
                    ),
                }
            }
            if seen < computed_nodes.len() {
                report.fail(
                    &log,
                    None,
                    format!(
                        "{} stored tree nodes are missing",
                        computed_nodes.len() - seen
                    ),
                );
            }
        }
        Ok(None) => {}
        Err(e) => report.fail(&log, None, format!("cannot read tree nodes: {e}")),
    }

    match data.claimed_size() {
        Ok(size) if size == expected_seq => {}
        Ok(size) => report.fail(
            &log,
            None,
            format!("head claims {size} entries but {expected_seq} are stored"),
        ),
        Err(e) => report.fail(&log, None, format!("cannot read head: {e}")),
    }
    if let Some(acknowledged) = data.acknowledged_size() {
        if acknowledged > expected_seq {
            report.fail(
                &log,
                None,
                format!(
                    "{acknowledged} entries were acknowledged but only {expected_seq} are stored"
                ),
            );
        }
    }
    if expected_seq > 0 {
        match checkpoints.last() {
            Some((size, _)) if *size == expected_seq => {}
            _ => match pending_target {
                Ok(Some((text, proof))) => {
                    if let Err(e) = check_pending_target(
                        &text,
                        &proof,
                        expected_seq,
                        &frontier.root::<Blake3Hasher>(),
                        state.bureau_key(),
                    ) {
                        report.fail(
                            &log,
                            None,
                            format!("entries beyond the latest checkpoint: {e}"),
                        );
                    }
                }
                Ok(None) => report.fail(
                    &log,
                    None,
                    format!("no checkpoint covers all {expected_seq} entries"),
                ),
                Err(e) => report.fail(&log, None, format!("cannot read pending target: {e}")),
            },
        }
    }
    summary.entries = expected_seq;
    summary.root = hex::encode(frontier.root::<Blake3Hasher>());
    report.logs.push(summary);
}

fn key_for(
    author: &[u8; 32],
    keys: &RwLock<HashMap<[u8; 32], Result<PublicKey, String>>>,
) -> Result<PublicKey, String> {
    if let Some(found) = keys.read().ok().and_then(|map| map.get(author).cloned()) {
        return found;
    }
    let checked = PublicKey::from_bytes(author).map_err(|e| e.to_string());
    if let Ok(mut map) = keys.write() {
        map.insert(*author, checked.clone());
    }
    checked
}

fn decode_part(
    part: &[Read],
    origin: &str,
    keys: &RwLock<HashMap<[u8; 32], Result<PublicKey, String>>>,
) -> Vec<Decoded> {
    let mut out: Vec<Decoded> = Vec::with_capacity(part.len());
    let mut batch = BatchVerifier::with_capacity(part.len());
    let mut in_batch: Vec<usize> = Vec::with_capacity(part.len());
    for read in part {
        let (key_seq, bytes) = match read {
            Read::Entry(seq, bytes) => (seq, bytes),
            Read::Damaged { first, count, what } => {
                for seq in *first..first.saturating_add(*count) {
                    out.push(Decoded {
                        key_seq: seq,
                        leaf: [0u8; 32],
                        body: Err(format!("cannot be read: {what}")),
                    });
                }
                continue;
            }
        };
        let leaf = Blake3Hasher::leaf(bytes);
        let body = match EntryRef::decode(bytes) {
            Err(e) => Err(e.to_string()),
            Ok(entry) => {
                let statement = entry.submission.statement;
                let kind = RecordKind::parse(statement.kind);
                let record = match kind {
                    None => Err(format!("unknown record kind `{}`", statement.kind)),
                    Some(kind) => Record::decode_payload(kind, entry.submission.payload)
                        .map_err(|e| e.to_string()),
                };
                let signature = match key_for(&statement.author, keys) {
                    Err(e) => Err(format!("author key: {e}")),
                    Ok(key) => match batch.push(
                        &key,
                        &entry.submission.signing_message(),
                        &entry.submission.signature,
                    ) {
                        // Every push takes an index in the batch, refused or not.
                        Ok(()) => {
                            in_batch.push(out.len());
                            Ok(())
                        }
                        Err(e) => {
                            in_batch.push(out.len());
                            Err(format!("signature: {e}"))
                        }
                    },
                };
                Ok(Body {
                    seq: entry.seq,
                    prev: entry.prev,
                    origin_ok: statement.origin == origin,
                    timestamp_ms: statement.timestamp_ms,
                    author: statement.author,
                    statement_hash: entry.submission.statement_hash(),
                    kind,
                    record,
                    signature,
                })
            }
        };
        out.push(Decoded {
            key_seq: *key_seq,
            leaf,
            body,
        });
    }
    if let Err(failure) = batch.verify(&mut rand_core::OsRng) {
        for index in failure.failed {
            if let Some(Decoded { body: Ok(body), .. }) =
                in_batch.get(index).and_then(|&k| out.get_mut(k))
            {
                if body.signature.is_ok() {
                    body.signature = Err("signature does not verify".into());
                }
            }
        }
    }
    out
}

struct SequentialState<'a> {
    state: &'a mut LogState,
    frontier: &'a mut Frontier,
    computed_nodes: &'a mut FastMap<NodeId, Hash>,
    statements: &'a mut FastMap<[u8; 32], u64>,
    meta: &'a LogMeta,
    expected_seq: &'a mut u64,
    last_leaf: &'a mut Hash,
    genesis_key: Option<&'a [u8; 32]>,
    checkpoints: &'a [(u64, String)],
    next_checkpoint: &'a mut usize,
    summary: &'a mut LogSummary,
    visitor: &'a mut dyn Visitor,
}

fn check_sequential(
    decoded: &Decoded,
    log: &str,
    s: &mut SequentialState<'_>,
    report: &mut Report,
) {
    let seq = *s.expected_seq;
    if decoded.key_seq != seq {
        report.fail(
            log,
            Some(seq),
            format!(
                "entry {seq} is missing (next stored entry is {})",
                decoded.key_seq
            ),
        );
    }
    // Count positions as the data does, so one gap is reported once, not at every entry.
    if decoded.key_seq > seq && decoded.key_seq - seq <= 1 << 20 {
        for _ in seq..decoded.key_seq {
            s.state.skip(None);
        }
    }
    let seq = decoded.key_seq.max(seq);
    *s.expected_seq = seq;
    match &decoded.body {
        Err(e) => {
            report.fail(log, Some(seq), format!("malformed entry: {e}"));
            s.state.skip(None);
        }
        Ok(body) => {
            let failures_before = report.failure_count;
            if body.seq != seq {
                report.fail(
                    log,
                    Some(seq),
                    format!("entry says seq {} but is at position {seq}", body.seq),
                );
            }
            if body.prev != *s.last_leaf {
                report.fail(
                    log,
                    Some(seq),
                    "prev does not match the leaf hash of the previous entry",
                );
            }
            if !body.origin_ok {
                report.fail(log, Some(seq), "statement is signed for another log");
            }
            if let Err(e) = &body.signature {
                report.fail(log, Some(seq), e.clone());
            }
            if s.statements.insert(body.statement_hash, seq).is_some() {
                report.fail(log, Some(seq), "the same signed statement appears twice");
            }
            if seq == 0 {
                if let Some(genesis_key) = s.genesis_key {
                    if &body.author != genesis_key {
                        report.fail(
                            log,
                            Some(0),
                            "entry 0 is not signed by the log's pinned bureau key",
                        );
                    }
                }
            }
            match &body.record {
                Err(e) => {
                    report.fail(log, Some(seq), format!("record: {e}"));
                    s.state.skip(body.kind);
                }
                Ok(record) => {
                    if seq == 0 {
                        check_genesis_meta(record, s.meta, log, report);
                    }
                    let ctx = EntryContext {
                        division: s.state.division(),
                        seq,
                        timestamp_ms: body.timestamp_ms,
                        author: body.author,
                    };
                    let intact = report.failure_count == failures_before;
                    let violation = s.state.check(&ctx, record).err();
                    if let Some(violation) = &violation {
                        report.fail_rule(log, seq, violation);
                    }
                    // Not a failure of verification: shown to the visitor (the audit).
                    let screened = match violation {
                        None => s.state.screen(record).err(),
                        Some(_) => None,
                    };
                    // Applied even when refused (it never panics), so that later entries
                    // are checked at their own positions against what the log holds.
                    s.state.apply(&ctx, record);
                    s.visitor.entry(&EntryVisit {
                        log,
                        ctx: &ctx,
                        record,
                        intact,
                        violation: violation.as_ref(),
                        screened: screened.as_ref(),
                        state: s.state,
                    });
                }
            }
        }
    }
    let computed = &mut *s.computed_nodes;
    if s.frontier
        .push::<Blake3Hasher>(decoded.leaf, &mut |id, hash| {
            if id.level >= STORED_MIN_LEVEL {
                computed.insert(id, hash);
            }
        })
        .is_err()
    {
        report.fail(log, Some(seq), "the tree is full");
    }
    *s.last_leaf = decoded.leaf;
    *s.expected_seq = seq + 1;
    let size = seq + 1;
    // Checkpoints for this size: the root must match and the bureau key in force must have
    // signed it.
    while let Some((checkpoint_size, text)) = s.checkpoints.get(*s.next_checkpoint) {
        if *checkpoint_size > size {
            break;
        }
        *s.next_checkpoint += 1;
        if *checkpoint_size == 0 {
            report.fail(
                log,
                None,
                "the empty-tree checkpoint is kept after entries were added",
            );
            continue;
        }
        if *checkpoint_size < size {
            continue; // Reported by the caller as unreachable below; cannot happen in order.
        }
        verify_checkpoint(text, size, s, log, report);
    }
}

/// Entry 0 must say what the log's metadata says: division and name.
fn check_genesis_meta(record: &Record, meta: &LogMeta, log: &str, report: &mut Report) {
    match record {
        Record::KeyEvent(yibao_schema::record::KeyEvent::LogCreated { division, name, .. }) => {
            if division.as_str() != meta.division {
                report.fail(
                    log,
                    Some(0),
                    format!(
                        "entry 0 names division {division}, the metadata {}",
                        meta.division
                    ),
                );
            }
            if *name != meta.name {
                report.fail(
                    log,
                    Some(0),
                    format!(
                        "entry 0 names the bureau `{name}`, the metadata `{}`",
                        meta.name
                    ),
                );
            }
        }
        _ => report.fail(log, Some(0), "entry 0 is not a log_created key event"),
    }
}

fn verify_checkpoint(
    text: &str,
    size: u64,
    s: &mut SequentialState<'_>,
    log: &str,
    report: &mut Report,
) {
    let failures_before = report.failure_count;
    let signed = match SignedCheckpoint::parse(text) {
        Ok(signed) => signed,
        Err(e) => {
            report.fail(log, None, format!("checkpoint {size}: {e}"));
            return;
        }
    };
    let expected_origin = match LogCode::parse(log) {
        Some(code) => code.origin(),
        None => String::new(),
    };
    if signed.checkpoint.origin != expected_origin {
        report.fail(
            log,
            None,
            format!(
                "checkpoint {size}: origin is `{}`",
                signed.checkpoint.origin
            ),
        );
    }
    if signed.checkpoint.size != size {
        report.fail(
            log,
            None,
            format!(
                "checkpoint stored under size {size} says size {}",
                signed.checkpoint.size
            ),
        );
    }
    if signed.checkpoint.root != s.frontier.root::<Blake3Hasher>() {
        report.fail(
            log,
            None,
            format!("checkpoint {size}: root differs from the tree of the entries"),
        );
    }
    let Some(bureau_key) = s.state.bureau_key() else {
        report.fail(
            log,
            None,
            format!("checkpoint {size}: no bureau key in force"),
        );
        return;
    };
    match VerifierKey::from_public_key(&expected_origin, &bureau_key, KeyKind::Ed25519) {
        Ok(verifier) => match signed.verify(&verifier) {
            Ok(_) => s.summary.checkpoints += 1,
            Err(e) => report.fail(log, None, format!("checkpoint {size}: {e}")),
        },
        Err(e) => report.fail(log, None, format!("checkpoint {size}: bureau key: {e}")),
    }
    s.visitor
        .checkpoint(log, &signed, report.failure_count == failures_before);
}

/// Checks that the `size` stored entries with root `root` are a prefix of the owner's
/// signed checkpoint `text`, through the consistency proof kept beside them.
fn check_pending_target(
    text: &str,
    proof: &[Hash],
    size: u64,
    root: &Hash,
    bureau_key: Option<[u8; 32]>,
) -> Result<(), String> {
    let signed = SignedCheckpoint::parse(text).map_err(|e| e.to_string())?;
    if signed.checkpoint.size <= size {
        return Err(format!(
            "the pending checkpoint's size {} does not go beyond them",
            signed.checkpoint.size
        ));
    }
    crate::merkle::verify_consistency::<Blake3Hasher>(
        crate::merkle::TreeSize(size),
        crate::merkle::TreeSize(signed.checkpoint.size),
        proof,
        root,
        &signed.checkpoint.root,
    )
    .map_err(|e| format!("consistency with the pending checkpoint: {e}"))?;
    let key = bureau_key.ok_or("no bureau key in force")?;
    let verifier = VerifierKey::from_public_key(&signed.checkpoint.origin, &key, KeyKind::Ed25519)
        .map_err(|e| e.to_string())?;
    signed
        .verify(&verifier)
        .map_err(|e| format!("pending checkpoint: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of 2,000 entries whose second piece cannot be read: reading it panics, as
    /// sled does on some damage.
    struct Damaged {
        meta: LogMeta,
        asked: std::sync::Mutex<Vec<u64>>,
    }

    impl LogData for Damaged {
        fn name(&self) -> String {
            "141125".into()
        }
        fn meta(&self) -> &LogMeta {
            &self.meta
        }
        fn entries_end(&self) -> Result<u64, String> {
            Ok(2000)
        }
        fn entries_range(&self, start: u64, end: u64) -> Result<Vec<Read>, String> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(start);
            }
            assert!(!(start..end).contains(&600), "sled: damaged page");
            Ok(Vec::new())
        }
        fn stored_nodes(&self) -> Result<Option<StoredNodes>, String> {
            Ok(None)
        }
        fn checkpoints(&self) -> Result<Vec<(u64, String)>, String> {
            Ok(Vec::new())
        }
        fn claimed_size(&self) -> Result<u64, String> {
            Ok(2000)
        }
        fn acknowledged_size(&self) -> Option<u64> {
            None
        }
    }

    #[test]
    fn a_piece_that_panics_while_read_is_reported_and_the_rest_still_checked() {
        let code = LogCode::parse("141125").unwrap();
        let data = Damaged {
            meta: LogMeta {
                division: "141125".into(),
                origin: code.origin(),
                name: "柳林县医疗保障局".into(),
                genesis_key: "00".repeat(32),
            },
            asked: std::sync::Mutex::new(Vec::new()),
        };
        let mut report = Report::default();
        verify_log(&data, &Policy::default(), &mut report, &|_| {});
        let damaged: Vec<_> = report
            .failures
            .iter()
            .filter(|f| f.what.contains("database files are damaged"))
            .collect();
        assert_eq!(damaged.len(), 1, "{:#?}", report.failures);
        assert_eq!(damaged[0].seq, Some(512));
        // The pieces after the damaged one were read too.
        let mut asked = data.asked.into_inner().unwrap();
        asked.sort_unstable();
        assert_eq!(asked, [0, 512, 1024, 1536]);
        assert!(!report.is_ok());
    }
}
