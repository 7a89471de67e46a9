//! Derived indexes: which entries concern an institution, a case, or a grading period.
//!
//! They live in their own sled tree, `index`, apart from the entries, and can always be
//! rebuilt from the entries ([`Ledger::rebuild_indexes`]): each log has a watermark (how
//! many of its entries are indexed), each durable batch's rows are written after it
//! (below), and opening a ledger indexes whatever a crash left unindexed. An index row
//! only points at entries, `(log, seq)`; readers fetch and verify the entries themselves.
//!
//! A batch's rows are written after its submitters are answered, off the append path:
//! the committer queues them (`Ledger::defer_index`) and the appender's indexer thread
//! writes them ([`Ledger::flush_index`]). Every read of an index first writes what is
//! queued, so a reader never misses an entry that was acknowledged before it read. A
//! crash loses only queued rows, which the watermark shows missing and the next open
//! indexes.
//!
//! Keys, each a *prefix* naming what is indexed, then a seq (8 bytes BE):
//! - `I` ‖ institution code (12 bytes) ‖ log (6) ‖ seq — registrations, updates,
//!   inspections, rectification items, grades (sets and revisions) and exposure notices;
//! - `K` ‖ log (6) ‖ case id ‖ 0x00 ‖ seq — every record of a case;
//! - `P` ‖ period (e.g. `2021`, `2021-H1`) ‖ 0x00 ‖ log (6) ‖ seq — grade sets and
//!   revisions;
//! - `X` ‖ log (6) ‖ seq — exposure notices;
//! - `W` ‖ log (6) → the watermark, 8 bytes BE.
//!
//! One row holds every seq of a prefix written together (one flush of the indexer, or one
//! chunk of a catch-up): the key carries the smallest, the value the others, ascending,
//! 8 bytes BE each (empty when there are none, as in every row written before grouping).
//! A row costs sled far more than its bytes (every insert is a log record, and leaf
//! rewrites and splits follow): on a 300,000-entry ledger built in large batches, one row
//! per seq made the index ~45% of the disk, more than the compressed entries.
//!
//! Not here: anything a verifier relies on. Indexes are conveniences for reading.

use std::collections::BTreeMap;

use yibao_schema::entry::EntryRef;
use yibao_schema::record::{Record, RecordKind};

use crate::keys::{self, LogCode};
use crate::store::{Ledger, StoreError};

/// The sled tree that holds the indexes.
pub(crate) const TREE: &str = "index";

/// How long queued index rows wait before they are written: by the appender's indexer
/// after it is told of a batch, and by the network runner for replicated batches. Reads
/// never wait for it: every index read writes the queue first.
///
/// A fifth of a second, for the disk: sled never reclaims the space of rewritten rows (its
/// segment cleaner runs only with its flusher, which is off), and index rows land all over
/// the key space, so every index write rewrites leaves that later writes rewrite again.
/// Written every 5 ms, the index of a live append run left 1.82–1.89 bytes on disk per raw
/// entry byte; every 100–200 ms, 0.90–0.93 (`yibao bench`, 64 submitters, ~180,000
/// entries; 1.32 at 50 ms). Entries are durable without it, and lost rows are rebuilt from
/// the log on open.
pub const INDEX_WRITE_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

const INSTITUTION: u8 = b'I';
const CASE: u8 = b'K';
const PERIOD: u8 = b'P';
const WATERMARK: u8 = b'W';
const NOTICE: u8 = b'X';

/// How many entries of `log` the index tree holds rows for.
fn watermark(tree: &sled::Tree, log: &LogCode) -> Result<u64, StoreError> {
    Ok(tree
        .get(watermark_key(log))?
        .and_then(|v| keys::trailing_u64(&v))
        .unwrap_or(0))
}

fn watermark_key(log: &LogCode) -> Vec<u8> {
    let mut key = vec![WATERMARK];
    key.extend_from_slice(log.as_bytes());
    key
}

/// The index keys of one record.
pub fn keys_for(log: &LogCode, seq: u64, record: &Record) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let institution = |code: &str| {
        let mut key = vec![INSTITUTION];
        key.extend_from_slice(code.as_bytes());
        key.extend_from_slice(log.as_bytes());
        key.extend_from_slice(&seq.to_be_bytes());
        key
    };
    match record {
        Record::GradeSet(set) => {
            for grade in &set.grades {
                out.push(institution(grade.institution.as_str()));
            }
        }
        other => {
            if let Some(code) = other.institution() {
                out.push(institution(code.as_str()));
            }
        }
    }
    if let Some(case) = record.case_id() {
        let mut key = vec![CASE];
        key.extend_from_slice(log.as_bytes());
        key.extend_from_slice(case.as_str().as_bytes());
        key.push(0);
        key.extend_from_slice(&seq.to_be_bytes());
        out.push(key);
    }
    let period = match record {
        Record::GradeSet(set) => Some(set.period.to_string()),
        Record::GradeRevision(revision) => Some(revision.period.to_string()),
        _ => None,
    };
    if let Record::ExposureNotice(_) = record {
        let mut key = vec![NOTICE];
        key.extend_from_slice(log.as_bytes());
        key.extend_from_slice(&seq.to_be_bytes());
        out.push(key);
    }
    if let Some(period) = period {
        let mut key = vec![PERIOD];
        key.extend_from_slice(period.as_bytes());
        key.push(0);
        key.extend_from_slice(log.as_bytes());
        key.extend_from_slice(&seq.to_be_bytes());
        out.push(key);
    }
    out
}

/// The log named at `log_at` in an index key.
fn log_in(key: &[u8], log_at: usize) -> Option<LogCode> {
    key.get(log_at..log_at + 6)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(LogCode::parse)
}

/// Index rows to write for `keys` (each `prefix ‖ seq`): one row per prefix, keyed by its
/// smallest seq, the other seqs in the value.
fn grouped(keys: Vec<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut groups: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
    for mut key in keys {
        let Some(seq) = keys::trailing_u64(&key) else {
            continue;
        };
        key.truncate(key.len() - 8);
        groups.entry(key).or_default().push(seq);
    }
    groups
        .into_iter()
        .filter_map(|(mut key, mut seqs)| {
            seqs.sort_unstable();
            seqs.dedup();
            let (first, rest) = seqs.split_first()?;
            key.extend_from_slice(&first.to_be_bytes());
            Some((key, rest.iter().flat_map(|s| s.to_be_bytes()).collect()))
        })
        .collect()
}

/// Every seq an index row points at, ascending: its key's, then its value's.
fn row_seqs(key: &[u8], value: &[u8]) -> Result<Vec<u64>, StoreError> {
    let damaged = |what: &str| StoreError::Corrupt {
        log: "index".into(),
        seq: None,
        what: format!("index row {}: {what}", hex::encode(key)),
    };
    let first = keys::trailing_u64(key).ok_or_else(|| damaged("key too short"))?;
    if !value.len().is_multiple_of(8) {
        return Err(damaged("value is not a list of 8-byte seqs"));
    }
    let mut seqs = Vec::with_capacity(1 + value.len() / 8);
    seqs.push(first);
    for chunk in value.chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        seqs.push(u64::from_be_bytes(bytes));
    }
    if seqs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(damaged("seqs are not ascending"));
    }
    Ok(seqs)
}

/// The index rows of one durable batch of a log, entries `[first, end)`, not yet written.
pub(crate) struct PendingIndex {
    log: LogCode,
    first: u64,
    end: u64,
    rows: Vec<Vec<u8>>,
}

impl Ledger {
    /// The index tree, for reading: whatever is queued is written first.
    fn index_tree(&self) -> Result<sled::Tree, StoreError> {
        self.flush_index();
        Ok(self.index_tree_raw())
    }

    fn index_tree_raw(&self) -> sled::Tree {
        self.index.clone()
    }

    /// Queues the index rows of a durable batch; [`Ledger::flush_index`] writes them.
    pub(crate) fn defer_index(&self, log: LogCode, first: u64, end: u64, rows: Vec<Vec<u8>>) {
        crate::store::lock(&self.pending_index).push(PendingIndex {
            log,
            first,
            end,
            rows,
        });
    }

    /// How many entries have index rows queued and not yet written.
    pub fn index_queued(&self) -> u64 {
        crate::store::lock(&self.pending_index)
            .iter()
            .map(|batch| batch.end - batch.first)
            .sum()
    }

    /// Writes every queued index row, in the order queued. Indexes are derived: a failure
    /// is logged, and the watermark makes the next write (or open) catch up from the
    /// entries.
    pub fn flush_index(&self) {
        let _writing = crate::store::lock(&self.indexing);
        let pending = std::mem::take(&mut *crate::store::lock(&self.pending_index));
        // Consecutive batches of one log are written as one.
        let mut merged: Vec<PendingIndex> = Vec::with_capacity(pending.len());
        for batch in pending {
            match merged.last_mut() {
                Some(last) if last.log == batch.log && last.end == batch.first => {
                    last.end = batch.end;
                    last.rows.extend(batch.rows);
                }
                _ => merged.push(batch),
            }
        }
        for batch in merged {
            if let Err(e) = self.index_appended(&batch.log, batch.first, batch.end, batch.rows) {
                tracing::warn!(log = %batch.log, error = %e, "could not index the batch");
            }
        }
    }

    /// How many entries of `log` are indexed.
    pub fn indexed_size(&self, log: &LogCode) -> Result<u64, StoreError> {
        watermark(&self.index_tree()?, log)
    }

    /// Indexes every entry of `log` not yet indexed. Cheap when nothing is missing.
    pub fn catch_up_index(&self, log: &LogCode) -> Result<u64, StoreError> {
        let tree = self.index_tree()?;
        let _writing = crate::store::lock(&self.indexing);
        self.catch_up_index_in(&tree, log)
    }

    /// [`Ledger::catch_up_index`] with the tree at hand and the index lock held.
    fn catch_up_index_in(&self, tree: &sled::Tree, log: &LogCode) -> Result<u64, StoreError> {
        let size = self.size(log)?;
        let mut start = watermark(tree, log)?;
        let indexed_from = start;
        while start < size {
            let chunk = self.entries(log, start, 4096)?;
            if chunk.is_empty() {
                break;
            }
            let mut rows = Vec::new();
            for (seq, bytes) in &chunk {
                let entry = EntryRef::decode(bytes).map_err(|e| StoreError::Corrupt {
                    log: log.to_string(),
                    seq: Some(*seq),
                    what: e.to_string(),
                })?;
                let statement = entry.submission.statement;
                let record = RecordKind::parse(statement.kind)
                    .and_then(|kind| Record::decode_payload(kind, entry.submission.payload).ok());
                if let Some(record) = record {
                    rows.extend(keys_for(log, *seq, &record));
                }
                start = seq + 1;
            }
            let mut batch = sled::Batch::default();
            for (key, value) in grouped(rows) {
                batch.insert(key, value);
            }
            batch.insert(watermark_key(log), &start.to_be_bytes()[..]);
            tree.apply_batch(batch)?;
        }
        Ok(start - indexed_from)
    }

    /// Indexes a batch just made durable: `rows` are the keys of entries `[first, end)`.
    /// If the index is behind (a previous failure), it catches up from the entries instead.
    pub(crate) fn index_appended(
        &self,
        log: &LogCode,
        first: u64,
        end: u64,
        rows: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let tree = self.index_tree_raw();
        if watermark(&tree, log)? != first {
            self.catch_up_index_in(&tree, log)?;
            return Ok(());
        }
        // Row by row, the watermark last, not as a sled batch: sled writes and syncs its log
        // buffer to disk for every batch, on the same disk as the next append's journal
        // sync. sled recovers a prefix of its writes, so a watermark that survives a crash
        // has its rows.
        for (key, value) in grouped(rows) {
            tree.insert(key, value)?;
        }
        tree.insert(watermark_key(log), &end.to_be_bytes()[..])?;
        Ok(())
    }

    /// Drops every index and rebuilds them from the entries.
    pub fn rebuild_indexes(&self) -> Result<(), StoreError> {
        let tree = self.index_tree()?;
        let _writing = crate::store::lock(&self.indexing);
        tree.clear()?;
        for log in self.log_codes() {
            self.catch_up_index_in(&tree, &log)?;
        }
        Ok(())
    }

    /// The (log, seq) pointers of the rows `prefix ‖ log (6) ‖ seq (8)`, by log then seq.
    fn pointers(&self, prefix: &[u8]) -> Result<Vec<(LogCode, u64)>, StoreError> {
        let mut out = Vec::new();
        for row in self.index_tree()?.scan_prefix(prefix) {
            let (key, value) = row?;
            if key.len() == prefix.len() + 14 {
                if let Some(log) = log_in(&key, prefix.len()) {
                    out.extend(row_seqs(&key, &value)?.into_iter().map(|seq| (log, seq)));
                }
            }
        }
        Ok(out)
    }

    /// Entries about an institution, in every log: (log, seq), by log then seq.
    pub fn entries_about_institution(
        &self,
        institution: &str,
    ) -> Result<Vec<(LogCode, u64)>, StoreError> {
        let mut prefix = vec![INSTITUTION];
        prefix.extend_from_slice(institution.as_bytes());
        self.pointers(&prefix)
    }

    /// The seqs of every record of a case in a log, in order.
    pub fn entries_of_case(&self, log: &LogCode, case_id: &str) -> Result<Vec<u64>, StoreError> {
        let tree = self.index_tree()?;
        let mut prefix = vec![CASE];
        prefix.extend_from_slice(log.as_bytes());
        prefix.extend_from_slice(case_id.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for row in tree.scan_prefix(&prefix) {
            let (key, value) = row?;
            if key.len() == prefix.len() + 8 {
                out.extend(row_seqs(&key, &value)?);
            }
        }
        Ok(out)
    }

    /// Grade sets and revisions of a period (e.g. `2021`), in every log.
    pub fn grades_of_period(&self, period: &str) -> Result<Vec<(LogCode, u64)>, StoreError> {
        let mut prefix = vec![PERIOD];
        prefix.extend_from_slice(period.as_bytes());
        prefix.push(0);
        self.pointers(&prefix)
    }

    /// Exposure notices in every log: (log, seq), by log then seq.
    pub fn exposure_notices(&self) -> Result<Vec<(LogCode, u64)>, StoreError> {
        self.pointers(&[NOTICE])
    }

    /// The seqs of the exposure notices of `log` with `from <= seq < to`, in order. With
    /// `to` at most [`Ledger::indexed_size`] read before, nothing in the range is missing
    /// (an indexed batch writes its rows and the new size together).
    pub fn exposure_notices_in(
        &self,
        log: &LogCode,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let key = |seq: u64| {
            let mut key = vec![NOTICE];
            key.extend_from_slice(log.as_bytes());
            key.extend_from_slice(&seq.to_be_bytes());
            key
        };
        let tree = self.index_tree()?;
        // The row holding `from` may be keyed by an earlier seq of its group.
        let start = match tree.range(key(0)..=key(from)).next_back() {
            Some(row) => row?.0.to_vec(),
            None => key(from),
        };
        for row in tree.range(start..key(to)) {
            let (key, value) = row?;
            out.extend(
                row_seqs(&key, &value)?
                    .into_iter()
                    .filter(|seq| (from..to).contains(seq)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prefix: &[u8], seq: u64) -> Vec<u8> {
        let mut key = prefix.to_vec();
        key.extend_from_slice(&seq.to_be_bytes());
        key
    }

    #[test]
    fn rows_group_by_prefix_and_read_back_in_order() {
        let keys = vec![key(b"Ka", 9), key(b"Kb", 4), key(b"Ka", 3), key(b"Ka", 9)];
        let rows = grouped(keys);
        assert_eq!(rows.len(), 2);
        let (k, v) = &rows[0];
        assert_eq!(k, &key(b"Ka", 3));
        assert_eq!(row_seqs(k, v).unwrap(), vec![3, 9]);
        let (k, v) = &rows[1];
        assert_eq!((k, v.is_empty()), (&key(b"Kb", 4), true));
        assert_eq!(row_seqs(k, v).unwrap(), vec![4]);
    }

    #[test]
    fn damaged_rows_are_refused() {
        let k = key(b"Ka", 5);
        assert!(row_seqs(&k, &[0; 7]).is_err());
        assert!(row_seqs(&k, &5u64.to_be_bytes()).is_err());
        assert!(row_seqs(&k, &4u64.to_be_bytes()).is_err());
        assert!(row_seqs(b"short", &[]).is_err());
        assert_eq!(row_seqs(&k, &6u64.to_be_bytes()).unwrap(), vec![5, 6]);
    }
}
