//! The write-ahead journal: what makes a write durable, instead of a sled flush.
//!
//! Every write to the ledger's main tree is a [`Rows`] batch. [`Journal::write`] appends
//! the batches to the journal file as one record and `fdatasync`s it; only then are they
//! applied to sled (in memory; sled writes them to its own files in the background). A
//! write is acknowledged once its record is durable. Opening the ledger replays every
//! record still in the journal into sled, flushes sled, and starts an empty journal.
//!
//! Why: a sled flush wakes sled's I/O threads and syncs more than the batch, about 1.3 ms
//! per durable append on the reference machine, where one `fdatasync` of an appended
//! record costs about 0.2 ms. Group commit shares that cost among concurrent submitters.
//!
//! Replay is correct because records are applied to sled in journal order, row by row,
//! after they are durable, and a batch sets or removes whole rows: re-applying records
//! 1..n to a store that already holds the effects of records 1..k and part of k+1
//! (whatever sled kept) leaves it exactly as applying them once. A record that is not complete or whose checksum fails
//! at the end of the last file is a write that never finished (never acknowledged); it is
//! cut off. A bad record anywhere else is damage, and the ledger refuses to open.
//!
//! When the journal file passes [`ROTATE_BYTES`], sled is flushed and synced and the
//! journal starts again empty, so the journal stays small and opening stays fast.
//!
//! The file is extended ahead of the records, [`EXTEND_BYTES`] of zeros at a time, made
//! durable once: a record then overwrites bytes the file already has, and its
//! `fdatasync` writes data only, without the file-system journal commit that a growing
//! file's new size needs (about 0.1 ms of a 0.3 ms sync on the reference machine, and
//! more of its tail).
//!
//! # Format (file `journal` beside `sled/`)
//!
//! A sequence of records, each `len: u32 LE ‖ check: 16 bytes ‖ body: len bytes`, where
//! `check` is the first 16 bytes of BLAKE3(body), then zeros to the end of the file. A
//! record's `len` is never 0, so a zero length marks the end. A body is a sequence of
//! operations, each `1 ‖ key_len: u32 LE ‖ key ‖ value_len: u32 LE ‖ value` (set) or
//! `0 ‖ key_len: u32 LE ‖ key` (remove). The journal is local to one node and not part of
//! any exchanged format.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::StoreError;

/// File name of the journal, beside `sled/`.
pub const JOURNAL_FILE: &str = "journal";

/// Journal size past which sled is flushed and the journal emptied.
pub const ROTATE_BYTES: u64 = 64 * 1024 * 1024;

/// Zeros the file is extended by when a record does not fit in what it has.
pub const EXTEND_BYTES: u64 = 8 * 1024 * 1024;

/// Bytes of a record's header: length and check.
const HEADER: usize = 4 + 16;

/// One batch of row writes to the main tree, atomic in the journal, in order: a later
/// write to the same key wins.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Rows {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.ops
            .push((key.as_ref().to_vec(), Some(value.as_ref().to_vec())));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.ops.push((key.as_ref().to_vec(), None));
    }

    /// True if nothing is written.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The length of [`Rows::encode_into`]'s output.
    fn encoded_len(&self) -> usize {
        self.ops
            .iter()
            .map(|(key, value)| 5 + key.len() + value.as_ref().map_or(0, |v| 4 + v.len()))
            .sum()
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        for (key, value) in &self.ops {
            out.push(u8::from(value.is_some()));
            put(out, key);
            if let Some(value) = value {
                put(out, value);
            }
        }
    }

    /// Writes the rows to `tree` one by one, in order. Not a sled batch: sled writes and
    /// syncs its log buffer to disk for every batch (`sync_file_range`, twice), which cost
    /// more than the journal's own `fdatasync` and queued behind it on the disk. The
    /// record is atomic in the journal, which a crash replays whole, and readers do not
    /// need the rows to appear at once (see `read_stored`).
    fn apply(&self, tree: &sled::Tree) -> sled::Result<()> {
        for (key, value) in &self.ops {
            match value {
                Some(value) => tree.insert(key.as_slice(), value.as_slice())?,
                None => tree.remove(key.as_slice())?,
            };
        }
        Ok(())
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn check(body: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&blake3::hash(body).as_bytes()[..16]);
    out
}

/// The journal of one ledger. Not shared between threads by itself: the ledger keeps it
/// under a mutex, and every write to the main tree goes through [`Journal::write`].
pub struct Journal {
    file: File,
    /// Bytes of records; the rest of the file, to `allocated`, is zeros.
    len: u64,
    /// The file's durable length.
    allocated: u64,
    /// Set when a record was made durable but could not be applied to sled: memory and
    /// storage may now disagree, so nothing more is written until the ledger is reopened
    /// (which replays the record).
    failed: Option<String>,
    /// The last record's buffer, kept for the next (a catch-up batch's record is megabytes:
    /// allocating it afresh each time cost page faults and the copies of a growing vector).
    buffer: Vec<u8>,
}

/// The largest record buffer kept between writes.
const KEEP_BUFFER: usize = 8 << 20;

impl Journal {
    /// Opens the journal of the ledger at `dir`, replays its records into `tree`, makes
    /// them durable in sled with `flush`, and empties it. Returns the journal and the
    /// number of records replayed.
    pub fn open(
        dir: &Path,
        tree: &sled::Tree,
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(Journal, usize), StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let records = parse(&bytes).map_err(|what| StoreError::Corrupt {
            log: "*".into(),
            seq: None,
            what: format!("{}: {what}", path.display()),
        })?;
        let replayed = records.len();
        for body in records {
            let rows = decode_body(body).map_err(|what| StoreError::Corrupt {
                log: "*".into(),
                seq: None,
                what: format!("{}: {what}", path.display()),
            })?;
            rows.apply(tree)?;
        }
        if !bytes.is_empty() {
            flush()?;
            file.set_len(0)?;
            file.sync_all()?;
        }
        Ok((
            Journal {
                file,
                len: 0,
                allocated: 0,
                failed: None,
                buffer: Vec::new(),
            },
            replayed,
        ))
    }

    /// Makes `batches` durable as one record, then applies them to `tree`, row by row in
    /// order (see [`Rows`]). When the journal has grown past [`ROTATE_BYTES`], `flush` makes sled
    /// durable and the journal is emptied.
    pub fn write(
        &mut self,
        batches: &[&Rows],
        tree: &sled::Tree,
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if let Some(reason) = &self.failed {
            return Err(StoreError::Io(std::io::Error::other(format!(
                "an earlier write failed ({reason}); nothing more is written until the ledger is \
                 reopened (restart the node)"
            ))));
        }
        if batches.iter().all(|rows| rows.is_empty()) {
            return Ok(());
        }
        let mut record = std::mem::take(&mut self.buffer);
        record.clear();
        record.reserve(HEADER + batches.iter().map(|rows| rows.encoded_len()).sum::<usize>());
        record.resize(HEADER, 0);
        for rows in batches {
            rows.encode_into(&mut record);
        }
        let body_len = record.len() - HEADER;
        let checked = check(record.get(HEADER..).unwrap_or_default());
        record
            .get_mut(..4)
            .unwrap_or_default()
            .copy_from_slice(&(body_len as u32).to_le_bytes());
        record
            .get_mut(4..HEADER)
            .unwrap_or_default()
            .copy_from_slice(&checked);
        let end = self.len + record.len() as u64;
        if end > self.allocated {
            self.extend(end)?;
        }
        let durable = self
            .file
            .write_all_at(&record, self.len)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = durable {
            // The file may now hold part of a record: cut it back, or stop writing.
            match self.file.set_len(self.len) {
                Ok(()) => self.allocated = self.len,
                Err(cut) => self.failed = Some(format!("cannot cut the journal back: {cut}")),
            }
            return Err(e.into());
        }
        self.len += record.len() as u64;
        if record.capacity() <= KEEP_BUFFER {
            self.buffer = record;
        }
        let applied = batches.iter().try_for_each(|rows| rows.apply(tree));
        if let Err(e) = applied {
            let e = StoreError::from(e);
            self.failed = Some(e.to_string());
            return Err(e);
        }
        if self.len >= ROTATE_BYTES {
            self.empty(flush)?;
        }
        Ok(())
    }

    /// True if the journal holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes sled durable with `flush`, then empties the journal.
    pub fn empty(
        &mut self,
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        flush()?;
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.len = 0;
        self.allocated = 0;
        Ok(())
    }

    /// Extends the file with durable zeros to at least `end` bytes.
    fn extend(&mut self, end: u64) -> Result<(), StoreError> {
        let target = end.max(self.allocated + EXTEND_BYTES);
        let zeros = vec![0u8; 1 << 20];
        let mut at = self.allocated;
        while at < target {
            let n = usize::try_from(target - at).map_or(zeros.len(), |n| n.min(zeros.len()));
            self.file
                .write_all_at(zeros.get(..n).unwrap_or_default(), at)?;
            at += n as u64;
        }
        // Syncs the new length too: after this, records are written over existing bytes.
        self.file.sync_data()?;
        self.allocated = target;
        Ok(())
    }
}

/// The bodies of the complete, intact records of a journal, in order.
///
/// Each record is made durable before the next is written, so only the last record can
/// be a write that never finished: a record that is cut short, or that fails its check
/// with only zeros after it (where it ends by its length field), is dropped. Zeros where
/// a record would start are the end of the records. A record that fails its check, or a
/// zero length, with other bytes after it is damage. (So is a write torn with its first
/// page lost and a later one kept: refused rather than guessed at, since the same bytes
/// could be acknowledged records behind damage.)
fn parse(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER) else {
            break; // A header cut short: the last write never finished.
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(header.get(..4).unwrap_or_default());
        if len == [0; 4] {
            // The zeros after the last record, unless data follows.
            if let Some(data) = bytes
                .get(at..)
                .unwrap_or_default()
                .iter()
                .position(|&b| b != 0)
            {
                return Err(format!(
                    "the record at byte {at} is damaged (its length is zero) and {} bytes of data follow it",
                    bytes.len() - at - data
                ));
            }
            break;
        }
        let end = (at + HEADER).saturating_add(u32::from_le_bytes(len) as usize);
        let Some(body) = bytes.get(at + HEADER..end) else {
            break; // A body cut short.
        };
        if header.get(4..HEADER) != Some(&check(body)[..]) {
            let after = bytes.get(end..).unwrap_or_default();
            if let Some(data) = after.iter().position(|&b| b != 0) {
                return Err(format!(
                    "the record at byte {at} is damaged (its checksum does not match) and {} bytes of data follow it",
                    after.len() - data
                ));
            }
            break;
        }
        records.push(body);
        at = end;
    }
    Ok(records)
}

/// The operations of one record body.
fn decode_body(body: &[u8]) -> Result<Rows, String> {
    let mut rows = Rows::default();
    let mut at = 0usize;
    let take = |at: &mut usize| -> Result<&[u8], String> {
        let mut len = [0u8; 4];
        len.copy_from_slice(
            body.get(*at..*at + 4)
                .ok_or_else(|| "a record ends inside a length".to_string())?,
        );
        let len = u32::from_le_bytes(len) as usize;
        let bytes = body
            .get(*at + 4..*at + 4 + len)
            .ok_or_else(|| "a record ends inside a row".to_string())?;
        *at += 4 + len;
        Ok(bytes)
    };
    while at < body.len() {
        let op = body.get(at).copied().unwrap_or(2);
        at += 1;
        let key = take(&mut at)?;
        match op {
            1 => {
                let value = take(&mut at)?;
                rows.insert(key, value);
            }
            0 => rows.remove(key),
            other => return Err(format!("unknown operation {other}")),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rows: &Rows) -> Vec<u8> {
        let mut body = Vec::new();
        rows.encode_into(&mut body);
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&check(&body));
        out.extend_from_slice(&body);
        out
    }

    fn rows(pairs: &[(&str, Option<&str>)]) -> Rows {
        let mut rows = Rows::default();
        for (key, value) in pairs {
            match value {
                Some(v) => rows.insert(key.as_bytes(), v.as_bytes()),
                None => rows.remove(key.as_bytes()),
            }
        }
        rows
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let a = record(&rows(&[("a", Some("1")), ("b", None)]));
        let b = record(&rows(&[("c", Some("3"))]));
        let mut bytes = [a.clone(), b.clone()].concat();
        assert_eq!(parse(&bytes).unwrap().len(), 2);
        for cut in 0..b.len() {
            let torn = &bytes[..a.len() + cut];
            assert_eq!(parse(torn).unwrap().len(), 1, "cut at {cut}");
        }
        // Damage in the last record: dropped like a torn write.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(parse(&bytes).unwrap().len(), 1);
    }

    #[test]
    fn damage_followed_by_intact_records_is_refused() {
        let a = record(&rows(&[("a", Some("1"))]));
        let b = record(&rows(&[("b", Some("2"))]));
        // Check and body: refused.
        for offset in 4..a.len() {
            let mut bytes = [a.clone(), b.clone()].concat();
            bytes[offset] ^= 0x40;
            assert!(parse(&bytes).is_err(), "flip at {offset} was not refused");
        }
        // The length: refused, or (pointing past the end) taken for a torn write and
        // dropped with everything after it, which the heads file then reports.
        for offset in 0..4 {
            for mask in [1u8, 0x40, 0x80] {
                let mut bytes = [a.clone(), b.clone()].concat();
                bytes[offset] ^= mask;
                if let Ok(records) = parse(&bytes) {
                    assert!(
                        records.is_empty(),
                        "flip {mask} at {offset} kept {records:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_zeros_after_the_records_end_them_and_data_in_them_is_refused() {
        let a = record(&rows(&[("a", Some("1"))]));
        let b = record(&rows(&[("b", Some("2"))]));
        let zeros = vec![0u8; 300];
        let bytes = [a.clone(), b.clone(), zeros.clone()].concat();
        assert_eq!(parse(&bytes).unwrap().len(), 2);
        // A torn last record, over zeros: dropped.
        for cut in 1..b.len() {
            let mut torn = [a.clone(), b[..cut].to_vec(), zeros.clone()].concat();
            torn.resize(bytes.len(), 0);
            assert_eq!(parse(&torn).unwrap().len(), 1, "cut at {cut}");
        }
        // Data where the zeros should be: after a zero length, or after a failed check.
        let mut stray = bytes.clone();
        stray[a.len() + b.len() + 100] = 7;
        assert!(parse(&stray).is_err());
        let mut hidden = bytes.clone();
        hidden[..4].copy_from_slice(&[0; 4]);
        assert!(parse(&hidden).is_err(), "a zeroed length hid a record");
    }

    #[test]
    fn records_overwrite_durable_zeros_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let (mut journal, _) = Journal::open(dir.path(), &tree, || Ok(())).unwrap();
        let big = "x".repeat(1 << 20);
        for i in 0..10 {
            let row = rows(&[(&format!("k{i}"), Some(big.as_str()))]);
            journal.write(&[&row], &tree, || Ok(())).unwrap();
        }
        // Ten 1 MiB records: the file was extended twice, ahead of them.
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, 2 * EXTEND_BYTES);
        assert!(journal.len > 10 << 20 && journal.len < len);
        drop(journal);
        let fresh = db.open_tree("fresh").unwrap();
        let (_, replayed) = Journal::open(dir.path(), &fresh, || Ok(())).unwrap();
        assert_eq!(replayed, 10);
        assert_eq!(fresh.get("k9").unwrap().unwrap().len(), big.len());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn replay_applies_in_order_and_empties_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        {
            let (mut journal, replayed) = Journal::open(dir.path(), &tree, || Ok(())).unwrap();
            assert_eq!(replayed, 0);
            let first = rows(&[("a", Some("1")), ("b", Some("2"))]);
            let second = rows(&[("a", Some("3")), ("b", None)]);
            journal.write(&[&first], &tree, || Ok(())).unwrap();
            journal.write(&[&second], &tree, || Ok(())).unwrap();
        }
        let fresh = db.open_tree("fresh").unwrap();
        let (_, replayed) = Journal::open(dir.path(), &fresh, || Ok(())).unwrap();
        assert_eq!(replayed, 2);
        assert_eq!(fresh.get("a").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(fresh.get("b").unwrap(), None);
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .len(),
            0
        );
    }
}
