//! Replicas: storing another bureau's entries received from peers, each one verified as
//! the owner's own append would have been, and the batch tied to the owner's signed
//! checkpoint before anything is written. Also equivocation proofs, which freeze a log.

use yibao_schema::cbor::{Decoder, Encoder};
use yibao_schema::entry::{EntryRef, SubmissionRef};
use yibao_schema::hashing::FastMap;
use yibao_schema::note::{KeyKind, SignedCheckpoint, SignedNote, VerifierKey};
use yibao_schema::record::{Record, RecordKind};
use yibao_schema::state::EntryContext;

use super::{
    corrupt, lock, stage_checkpoint, stage_entry, stage_tail, verify_signatures, AppendError,
    Ledger, StoreError, STORED_MIN_LEVEL,
};
use crate::equivocation::EquivocationProof;
use crate::keys::{self, LogCode};
use crate::merkle::{verify_consistency, Blake3Hasher, Hash, MerkleHasher, NodeId, TreeSize};
use crate::page;

/// The most entries one replicated batch may carry.
pub const MAX_REPLICA_BATCH: usize = 8192;

/// The most bytes of entries one replicated batch may carry (pages counted expanded): an
/// Entries response's cap, so that pages never expand to more than entries could bring.
pub const MAX_REPLICA_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Queued index rows of replicated batches are written at once when they cover this many
/// entries; below it they wait for the runner's timer or the next read, so that a replica
/// following live appends a few dozen at a time writes its index in few, large passes (a
/// replica fed 32 entries a batch, each batch's rows written at once, left 1.76 bytes on
/// disk per raw entry byte; catch-up in batches of thousands, 1.14).
const REPLICA_INDEX_QUEUE: u64 = 16_384;

/// Why a replicated batch was refused. [`ReplicaError::is_peer_fault`] tells the network
/// layer whether the peer that sent it should be blamed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("log {0} is frozen (equivocation proven); nothing more is accepted")]
    Frozen(String),
    #[error("log {0} is this node's own log; it is never taken from peers")]
    OwnLog(String),
    #[error("log {log}: batch starts at {got}, but {expected} entries are stored")]
    NotContiguous {
        log: String,
        expected: u64,
        got: u64,
    },
    #[error("log {log}: batch of {count} entries is larger than {MAX_REPLICA_BATCH}")]
    TooLarge { log: String, count: usize },
    #[error("log {log} entry {seq}: {reason}")]
    BadEntry {
        log: String,
        seq: u64,
        reason: String,
    },
    #[error("log {log}: checkpoint: {reason}")]
    BadCheckpoint { log: String, reason: String },
    #[error("log {log}: the entries do not match the signed checkpoint of size {size}: {reason}")]
    Mismatch {
        log: String,
        size: u64,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReplicaError {
    /// Whether the data itself was bad (rather than this node's state or storage).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            ReplicaError::TooLarge { .. }
                | ReplicaError::BadEntry { .. }
                | ReplicaError::BadCheckpoint { .. }
                | ReplicaError::Mismatch { .. }
        )
    }
}

/// What a stored replicated batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaProgress {
    /// The log's size now.
    pub size: u64,
    /// The size of the latest checkpoint stored (equal to `size` when the batch reached the
    /// checkpoint it was checked against).
    pub checkpoint_size: u64,
    /// Whether this batch stored the checkpoint as the log's latest.
    pub reached_checkpoint: bool,
}

/// Encodes a pending-target row: `[checkpoint note, [hash, …]]`.
pub(crate) fn encode_pending(checkpoint: &str, proof: &[Hash]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array(2);
    e.text(checkpoint);
    e.array(proof.len() as u64);
    for hash in proof {
        e.bytes(hash);
    }
    e.into_vec()
}

/// Decodes a pending-target row.
pub(crate) fn decode_pending(bytes: &[u8]) -> Result<(String, Vec<Hash>), String> {
    let mut d = Decoder::new(bytes);
    let err = |e: yibao_schema::cbor::DecodeError| e.to_string();
    if d.array().map_err(err)? != 2 {
        return Err("pending row: expected an array of 2".into());
    }
    let text = d.text().map_err(err)?.to_string();
    let count = d.array().map_err(err)?;
    if count > 128 {
        return Err("pending row: too many hashes".into());
    }
    let mut proof = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let hash: Hash = d
            .bytes()
            .map_err(err)?
            .try_into()
            .map_err(|_| "pending row: a hash is not 32 bytes".to_string())?;
        proof.push(hash);
    }
    d.finish().map_err(err)?;
    Ok((text, proof))
}

/// Keeps only the signature lines of `log_key` in a checkpoint note: cosignatures arrive
/// separately, each checked against its witness key.
fn owner_signature_only(signed: &SignedCheckpoint, log_key: &VerifierKey) -> SignedCheckpoint {
    SignedCheckpoint {
        checkpoint: signed.checkpoint.clone(),
        note: SignedNote {
            text: signed.note.text.clone(),
            signatures: signed
                .note
                .signatures
                .iter()
                .filter(|s| log_key.matches(&s.name, &s.key_id))
                .cloned()
                .collect(),
        },
    }
}

impl Ledger {
    /// The verifier key of a log's bureau key in force (from its state), falling back to
    /// the key pinned in its metadata for an empty log.
    pub fn log_verifier_key(&self, code: &LogCode) -> Result<VerifierKey, StoreError> {
        let meta = self.meta(code)?;
        let key = match self.bureau_key(code)? {
            Some(key) => key,
            None => hex::decode(&meta.genesis_key)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| corrupt(code, None, "metadata's genesis key is not 32 bytes"))?,
        };
        VerifierKey::from_public_key(&meta.origin, &key, KeyKind::Ed25519)
            .map_err(|e| corrupt(code, None, format!("bureau key: {e}")))
    }

    /// The bureau key in force for a log (none for an empty log), without copying its state.
    pub fn bureau_key(&self, code: &LogCode) -> Result<Option<[u8; 32]>, StoreError> {
        let log = self.log(code)?;
        let mut mem = lock(&log);
        self.load_state(&mut mem)?;
        Ok(mem.state.as_ref().and_then(|s| s.bureau_key()))
    }

    /// Whether a log is frozen by a proven equivocation.
    pub fn is_frozen(&self, code: &LogCode) -> Result<bool, StoreError> {
        Ok(lock(&*self.shared_of(code)?).frozen)
    }

    /// Whether this node signs for the log (it owns it).
    pub fn owns(&self, code: &LogCode) -> Result<bool, StoreError> {
        Ok(lock(&*self.log(code)?).signer.is_some())
    }

    /// A replica's pending target while it catches up: the owner's checkpoint beyond the
    /// stored size and the consistency proof from the stored size to it.
    pub fn pending_target(
        &self,
        code: &LogCode,
    ) -> Result<Option<(String, Vec<Hash>)>, StoreError> {
        match self.main.get(keys::pending(code))? {
            None => Ok(None),
            Some(bytes) => decode_pending(&bytes)
                .map(Some)
                .map_err(|e| corrupt(code, None, e)),
        }
    }

    /// Stores entries `[start, start + entries.len())` of another bureau's log, received
    /// from a peer, if every one of them verifies: envelope, origin, seq, prev link,
    /// signature, the author's authorisation and the domain rules at that point, and a
    /// statement not already in the log; and the batch as a whole is consistent with
    /// `checkpoint`, the owner's signed checkpoint of a size at least the batch's end (its
    /// root if the batch ends there, otherwise through `proof`, a consistency proof from
    /// the batch's end to the checkpoint). Nothing is written unless all of it verifies;
    /// what is written is durable when this returns.
    pub fn append_replicated(
        &self,
        code: &LogCode,
        start: u64,
        entries: &[Vec<u8>],
        checkpoint: &str,
        proof: &[Hash],
    ) -> Result<ReplicaProgress, ReplicaError> {
        self.append_replicated_pages(code, start, &[], entries, checkpoint, proof)
    }

    /// Like [`Ledger::append_replicated`], for a batch whose first entries come as full
    /// pages (SPEC.md §15, Pages response): `pages` hold entries `[start, start + 32 ×
    /// pages.len())` in the stored page encoding, `start` is a multiple of 32, and
    /// `entries` follow them. Each page is checked ([`page::decode_received`]) and its
    /// entries verified like any others; a page is then stored as it came, so this node
    /// neither compresses it nor the sender decompressed it.
    pub fn append_replicated_pages(
        &self,
        code: &LogCode,
        start: u64,
        pages: &[Vec<u8>],
        entries: &[Vec<u8>],
        checkpoint: &str,
        proof: &[Hash],
    ) -> Result<ReplicaProgress, ReplicaError> {
        let log_name = code.to_string();
        let bad_checkpoint = |reason: String| ReplicaError::BadCheckpoint {
            log: log_name.clone(),
            reason,
        };
        let bad_entry = |seq: u64, reason: String| ReplicaError::BadEntry {
            log: log_name.clone(),
            seq,
            reason,
        };
        let paged = pages.len() * page::ENTRIES_PER_PAGE as usize;
        let count = paged + entries.len();
        if count > MAX_REPLICA_BATCH {
            return Err(ReplicaError::TooLarge {
                log: log_name,
                count,
            });
        }
        if !pages.is_empty() && !start.is_multiple_of(page::ENTRIES_PER_PAGE) {
            return Err(bad_entry(
                start,
                "pages must start at a page boundary (a multiple of 32)".into(),
            ));
        }
        // Pages are checked (and expanded) before the log's lock is taken, their declared
        // lengths first: a batch expands to at most what an Entries response may carry.
        let bad_page = |k: usize, e: page::PageError| {
            let first = start + k as u64 * page::ENTRIES_PER_PAGE;
            bad_entry(first, format!("the page from {first}: {e}"))
        };
        let mut declared = entries.iter().map(Vec::len).sum::<usize>();
        for (k, value) in pages.iter().enumerate() {
            declared =
                declared.saturating_add(page::frames_len(value).map_err(|e| bad_page(k, e))?);
        }
        if declared > MAX_REPLICA_BATCH_BYTES {
            return Err(bad_entry(
                start,
                format!("the batch expands to {declared} bytes, over {MAX_REPLICA_BATCH_BYTES}"),
            ));
        }
        let mut expanded = Vec::with_capacity(pages.len());
        for (k, value) in pages.iter().enumerate() {
            expanded.push(page::decode_received(value).map_err(|e| bad_page(k, e))?);
        }
        let mut all: Vec<&[u8]> = Vec::with_capacity(count);
        for page in &expanded {
            all.extend(page.entries());
        }
        all.extend(entries.iter().map(Vec::as_slice));
        let entries = all;
        // The state is replayed (if needed) before the log's lock is taken for the batch.
        let log_key = self.log_verifier_key(code)?;
        let log = self.log(code)?;
        let mut mem = lock(&log);
        if mem.frozen {
            return Err(ReplicaError::Frozen(log_name));
        }
        if mem.signer.is_some() {
            return Err(ReplicaError::OwnLog(log_name));
        }
        let durable_size = lock(&mem.shared).durable.head.size;
        if mem.head.size != start || durable_size != start {
            return Err(ReplicaError::NotContiguous {
                log: log_name,
                expected: mem.head.size,
                got: start,
            });
        }
        let signed =
            SignedCheckpoint::parse(checkpoint).map_err(|e| bad_checkpoint(e.to_string()))?;
        if signed.checkpoint.origin != mem.meta.origin {
            return Err(bad_checkpoint(format!(
                "origin {:?} is not this log's {:?}",
                signed.checkpoint.origin, mem.meta.origin
            )));
        }
        let end = start + entries.len() as u64;
        if signed.checkpoint.size < end {
            return Err(bad_checkpoint(format!(
                "size {} is smaller than the batch's end {end}",
                signed.checkpoint.size
            )));
        }
        self.load_state(&mut mem)?;

        // 1. Envelopes, seq, prev, origin — cheap, in order.
        let mut views: Vec<(usize, SubmissionRef<'_>)> = Vec::with_capacity(entries.len());
        let mut leaves: Vec<Hash> = Vec::with_capacity(entries.len());
        let mut prev = mem.head.last_leaf;
        for (i, bytes) in entries.iter().enumerate() {
            let seq = start + i as u64;
            let entry = EntryRef::decode(bytes).map_err(|e| bad_entry(seq, e.to_string()))?;
            if entry.seq != seq {
                return Err(bad_entry(seq, format!("carries seq {}", entry.seq)));
            }
            if entry.prev != prev {
                return Err(bad_entry(
                    seq,
                    "prev is not the leaf hash of the entry before it".into(),
                ));
            }
            if entry.submission.statement.origin != mem.meta.origin {
                return Err(bad_entry(
                    seq,
                    format!(
                        "origin {:?} is another log's",
                        entry.submission.statement.origin
                    ),
                ));
            }
            prev = Blake3Hasher::leaf(bytes);
            leaves.push(prev);
            views.push((i, entry.submission));
        }

        // 2. Signatures, batched over both cores; records decoded on the way.
        let refs: Vec<&(usize, SubmissionRef<'_>)> = views.iter().collect();
        let mut checked_keys = std::mem::take(&mut mem.keys);
        let records = verify_signatures(&refs, &mut checked_keys);
        mem.keys = checked_keys;

        // 3. Authorisation, rules, uniqueness, tree — on copies, except the domain state,
        // which is taken (copying it per batch costs more than the batch): if the batch is
        // refused, the state is left empty and replayed from storage on next use, so memory
        // never holds a refused batch. (A peer that sends bad batches is banned after two.)
        let Some(mut state) = mem.state.take() else {
            return Err(corrupt(code, None, "log state missing").into());
        };
        let mut frontier = mem.frontier.clone();
        let mut head = mem.head;
        let mut tail = mem.tail_page.clone();
        if paged > 0 && !tail.is_empty() {
            return Err(
                corrupt(code, Some(start), "a partly filled page at a page boundary").into(),
            );
        }
        let mut batch = super::Rows::default();
        let mut new_nodes: Vec<(NodeId, Hash)> = Vec::new();
        let mut index_rows: Vec<Vec<u8>> = Vec::new();
        let mut fresh: FastMap<[u8; 32], (u64, u64, Hash)> =
            FastMap::with_capacity_and_hasher(views.len(), Default::default());
        for (((i, view), record), leaf) in views.iter().zip(records).zip(&leaves) {
            let seq = start + *i as u64;
            let record: Record = record.map_err(|e| bad_entry(seq, describe(&e)))?;
            let statement_hash = view.statement_hash();
            if let Some((first, _, _)) = mem
                .recent
                .get(&statement_hash)
                .or_else(|| fresh.get(&statement_hash))
            {
                return Err(bad_entry(
                    seq,
                    format!("the same signed statement is already entry {first}"),
                ));
            }
            if RecordKind::parse(view.statement.kind) != Some(record.kind()) {
                return Err(bad_entry(
                    seq,
                    "record kind does not match the statement".into(),
                ));
            }
            let ctx = EntryContext {
                division: state.division(),
                seq,
                timestamp_ms: view.statement.timestamp_ms,
                author: view.statement.author,
            };
            state
                .check(&ctx, &record)
                .map_err(|violation| bad_entry(seq, violation.to_string()))?;
            state.apply(&ctx, &record);
            index_rows.extend(crate::index::keys_for(code, seq, &record));
            frontier
                .push::<Blake3Hasher>(*leaf, &mut |id, hash| {
                    if id.level >= STORED_MIN_LEVEL {
                        new_nodes.push((id, hash));
                    }
                })
                .map_err(|_| corrupt(code, Some(seq), "the tree is full"))?;
            if *i < paged {
                // A received page, stored as it came once its last entry is checked.
                if (*i + 1) % page::ENTRIES_PER_PAGE as usize == 0 {
                    let value = pages
                        .get(*i / page::ENTRIES_PER_PAGE as usize)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    batch.insert(&keys::page(code, page::page_of(seq))[..], value);
                }
            } else {
                let bytes = entries.get(*i).copied().unwrap_or_default();
                stage_entry(&mut batch, &mut tail, code, (start, seq), bytes);
            }
            fresh.insert(statement_hash, (seq, view.statement.timestamp_ms, *leaf));
            head.size = seq + 1;
            head.last_leaf = *leaf;
        }

        // 4. The batch against the owner's signed checkpoint, under the key in force.
        let root = frontier.root::<Blake3Hasher>();
        let mismatch = |reason: String| ReplicaError::Mismatch {
            log: log_name.clone(),
            size: signed.checkpoint.size,
            reason,
        };
        if end == signed.checkpoint.size {
            if root != signed.checkpoint.root {
                return Err(mismatch(
                    "the root of the entries is not the checkpoint's".into(),
                ));
            }
        } else {
            verify_consistency::<Blake3Hasher>(
                TreeSize(end),
                TreeSize(signed.checkpoint.size),
                proof,
                &root,
                &signed.checkpoint.root,
            )
            .map_err(|e| mismatch(format!("consistency proof: {e}")))?;
        }
        let key_now = match state.bureau_key() {
            Some(key) => VerifierKey::from_public_key(&mem.meta.origin, &key, KeyKind::Ed25519)
                .map_err(|e| bad_checkpoint(e.to_string()))?,
            None => log_key,
        };
        signed
            .verify(&key_now)
            .map_err(|e| bad_checkpoint(format!("not signed by the log's bureau key: {e}")))?;

        // 5. Stage and write.
        if head.size == mem.head.size && head.size == mem.head.latest_checkpoint {
            // Nothing new: the checkpoint is the one already held (or a re-signing of it).
            return Ok(ReplicaProgress {
                size: head.size,
                checkpoint_size: head.latest_checkpoint,
                reached_checkpoint: false,
            });
        }
        stage_tail(&mut batch, &tail, code, start, head.size)
            .map_err(|e| corrupt(code, Some(start), format!("tail page: {e}")))?;
        for (id, hash) in &new_nodes {
            batch.insert(keys::node(code, *id), &hash[..]);
        }
        let reached = end == signed.checkpoint.size;
        let mut latest_text = mem.latest_checkpoint.clone();
        if reached {
            let text = owner_signature_only(&signed, &key_now).to_text();
            stage_checkpoint(&mut batch, code, &mut head, &mem.latest_checkpoint, &text);
            batch.remove(keys::pending(code));
            latest_text = text;
        } else {
            batch.insert(
                keys::pending(code),
                encode_pending(&owner_signature_only(&signed, &key_now).to_text(), proof),
            );
        }
        batch.insert(keys::head(code), &head.encode()[..]);
        let written = self.write_rows(&[&batch]);
        if let Err(e) = written {
            tracing::error!(log = %code, error = %e, "a replicated batch could not be stored");
            // Storage may hold part of nothing (sled batches are atomic); memory is kept as
            // it was, and the next open checks the store against itself.
            return Err(e.into());
        }
        mem.state = Some(state);
        mem.frontier = frontier;
        mem.head = head;
        mem.tail_page = tail;
        mem.latest_checkpoint = latest_text.clone();
        lock(&mem.shared).durable = super::Durable {
            head,
            checkpoint: latest_text,
            root,
        };
        mem.recent.remember(fresh);
        drop(mem);
        if let Err(e) = self.record_acknowledged(code, head.size) {
            tracing::warn!(log = %code, error = %e, "could not update the heads file");
        }
        // Written with later batches, as an owner's appends are (see `INDEX_WRITE_PAUSE`):
        // by the network runner's timer, by the next read, or here once the queue is large.
        self.defer_index(*code, start, head.size, index_rows);
        if self.index_queued() >= REPLICA_INDEX_QUEUE {
            self.flush_index();
        }
        Ok(ReplicaProgress {
            size: head.size,
            checkpoint_size: head.latest_checkpoint,
            reached_checkpoint: reached,
        })
    }

    /// The consistency proof a peer needs to check a batch ending at `from` against the
    /// latest checkpoint of size `to`.
    pub fn consistency_from(
        &self,
        code: &LogCode,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.consistency_proof(code, from, to)
    }

    /// Checks an equivocation proof against the log's key and, if it holds, stores it and
    /// freezes the log (durably, so it stays frozen after a restart). Returns whether it
    /// was new.
    pub fn record_equivocation(
        &self,
        code: &LogCode,
        proof: &EquivocationProof,
    ) -> Result<bool, ReplicaError> {
        let key = self.log_verifier_key(code)?;
        proof
            .verify(&key)
            .map_err(|e| ReplicaError::BadCheckpoint {
                log: code.to_string(),
                reason: e.to_string(),
            })?;
        let log = self.log(code)?;
        let mut mem = lock(&log);
        if self
            .main
            .get(keys::equivocation(code))
            .map_err(StoreError::from)?
            .is_some()
        {
            mem.frozen = true;
            lock(&mem.shared).frozen = true;
            return Ok(false);
        }
        let mut batch = super::Rows::default();
        batch.insert(keys::equivocation(code), proof.encode());
        self.write_rows(&[&batch])?;
        mem.frozen = true;
        lock(&mem.shared).frozen = true;
        tracing::warn!(log = %code, "equivocation proven: the log is frozen");
        Ok(true)
    }

    /// The stored equivocation proof of a log, if any.
    pub fn equivocation(&self, code: &LogCode) -> Result<Option<EquivocationProof>, StoreError> {
        match self.main.get(keys::equivocation(code))? {
            None => Ok(None),
            Some(bytes) => EquivocationProof::decode(&bytes)
                .map(Some)
                .map_err(|e| corrupt(code, None, e.to_string())),
        }
    }

    /// Compares a checkpoint of a log, seen somewhere (gossip, a peer), with what this
    /// node holds, and builds an equivocation proof if the two cannot both be true. The
    /// checkpoint must already be verified under the log's key. Returns `None` when they
    /// agree or cannot be compared yet (the checkpoint is beyond the stored tree).
    pub fn find_equivocation(
        &self,
        code: &LogCode,
        seen: &SignedCheckpoint,
    ) -> Result<Option<EquivocationProof>, StoreError> {
        let durable = self.durable(code)?;
        let (ours_text, ours_size, durable_size) = (
            durable.checkpoint,
            durable.head.latest_checkpoint,
            durable.head.size,
        );
        if ours_size == 0 {
            return Ok(None);
        }
        let ours = SignedCheckpoint::parse(&ours_text)
            .map_err(|e| corrupt(code, None, format!("latest checkpoint: {e}")))?;
        let seen_size = seen.checkpoint.size;
        if seen_size > durable_size {
            return Ok(None);
        }
        let ours_root = ours.checkpoint.root;
        let seen_text = seen.to_text();
        if seen_size == ours_size {
            if seen.checkpoint.root == ours_root {
                return Ok(None);
            }
            return Ok(Some(EquivocationProof {
                first: ours_text,
                second: seen_text,
                prefix_root: None,
                consistency: Vec::new(),
            }));
        }
        // Our tree holds the seen size: its prefix root there should be the seen root.
        let prefix = self.root_at(code, seen_size)?;
        if prefix == seen.checkpoint.root {
            return Ok(None);
        }
        if seen_size < ours_size {
            let proof = self.consistency_from(code, seen_size, ours_size)?;
            return Ok(Some(EquivocationProof {
                first: seen_text,
                second: ours_text,
                prefix_root: Some(prefix),
                consistency: proof,
            }));
        }
        // Beyond our latest checkpoint but within entries stored while catching up: it is
        // compared again once the next checkpoint is reached.
        Ok(None)
    }
}

fn describe(e: &AppendError) -> String {
    e.to_string()
}
