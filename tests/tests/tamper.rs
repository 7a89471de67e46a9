//! Tamper tests: damage a copy of a pristine ledger and check that the damage is always
//! caught — a clean refusal to open or a failed verification report, never a panic and
//! never a silent pass over changed data.
//!
//! Two kinds of damage:
//! * logical, through sled itself: one row of one table (entry pages E, tail entry rows T,
//!   tree nodes N, checkpoints C, head H, metadata M) has a bit flipped, is truncated or is deleted, or
//!   two entries are swapped. The outcome must be a refusal or a failed report that names
//!   the log (and, for entries, the damaged entry's seq — or, for damage to a page's
//!   framing, a seq in that page — wherever the report can know it);
//! * raw, on the files: a byte changed or the file truncated at a random offset of a
//!   random file (sled's `db`, `conf`, `snap.*`, `blobs/*` when values are large enough
//!   to be kept apart, the `heads` file, and the `journal` of a ledger copied while
//!   open, as a crash leaves it). Here a third
//!   outcome is allowed: the ledger verifies and every entry and checkpoint reads back
//!   byte-identical to the pristine copy (the damage hit space nothing uses).
//!
//! Every run is seeded (ChaCha8), so a failure names its seed, iteration and damage. The
//! logical damage reproduces exactly; where raw damage lands also depends on how sled laid
//! out its files, which depends on the timing of its background flushes.

mod support;

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use yibao_ledger::keys::{self, tag};
use yibao_ledger::page;
use yibao_ledger::store::{
    sled_config, Ledger, StoreError, CHECKPOINT_RETAIN_EVERY, HEADS_FILE, JOURNAL_FILE,
    STORED_MIN_LEVEL,
};
use yibao_ledger::verify::{verify_ledger, Failure, Report};
use yibao_node::workload::{Institution, Officers};
use yibao_schema::entry::EntryRef;
use yibao_schema::policy::Policy;
use yibao_tests::{case_submissions, county, setup_county, COUNTY, TIME_MS};

/// Damaged copies examined per class of logical damage (one table, one kind of damage).
const ITERATIONS_PER_CLASS: usize = 30;
/// Damaged copies examined by the raw file test.
const RAW_ITERATIONS: usize = 300;
/// Batches of cases appended to the full pristine ledger, and cases per batch.
const BATCHES: u64 = 10;
const CASES_PER_BATCH: u64 = 22;

/// A closed ledger with a known content, to be copied and damaged.
struct Pristine {
    _dir: tempfile::TempDir,
    /// The ledger directory (holding `sled/` and `heads`).
    path: PathBuf,
    /// Every entry's bytes, by seq.
    entries: Vec<Vec<u8>>,
    /// Every kept checkpoint, by size.
    checkpoints: Vec<(u64, String)>,
    /// The keys of the main tree's rows, by table tag.
    rows: BTreeMap<u8, Vec<Vec<u8>>>,
}

/// Every entry of the county's log, in order.
fn all_entries(ledger: &Ledger) -> Vec<Vec<u8>> {
    let code = county();
    let size = ledger.size(&code).unwrap();
    ledger
        .entries(&code, 0, size)
        .unwrap()
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect()
}

/// Appends batch `n` of [`CASES_PER_BATCH`] whole cases, each record accepted.
fn append_cases(ledger: &Ledger, officers: &Officers, insts: &[Institution], seed: u64, n: u64) {
    let submissions = case_submissions(
        officers,
        insts,
        n * CASES_PER_BATCH,
        CASES_PER_BATCH,
        seed.wrapping_mul(1000) + n,
    )
    .unwrap();
    for result in ledger
        .append_batch(&county(), submissions, TIME_MS + n)
        .unwrap()
    {
        assert!(
            result.is_ok(),
            "pristine ledger: a generated record was refused: {result:?}"
        );
    }
}

impl Pristine {
    /// The county with 20 institutions, then `batches` batches of whole cases; with more
    /// than one batch, the ledger is closed and reopened half way so that sled has
    /// written a snapshot file.
    fn build(seed: u64, batches: u64) -> Pristine {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let code = county();
        let mut ledger = Ledger::open(&path, Policy::default()).unwrap();
        let (officers, insts) = setup_county(&ledger, seed, 20).unwrap();
        for n in 0..batches {
            if n == batches / 2 && n > 0 {
                ledger.close().unwrap();
                ledger = Ledger::open(&path, Policy::default()).unwrap();
                ledger
                    .set_signer(&code, Officers::from_seed(seed).bureau)
                    .unwrap();
            }
            append_cases(&ledger, &officers, &insts, seed, n);
        }
        let size = ledger.size(&code).unwrap();
        let entries = all_entries(&ledger);
        assert_eq!(entries.len() as u64, size);
        let checkpoints = ledger.checkpoints(&code).unwrap();
        let report = verify_ledger(&ledger, &|_| {});
        assert!(
            report.is_ok(),
            "the pristine ledger does not verify: {}",
            summary(&report)
        );
        ledger.close().unwrap();

        // List the rows from a scratch copy (opening with sled writes to the directory).
        let scratch = tempfile::tempdir().unwrap();
        support::copy_dir(&path, scratch.path());
        let rows = with_main_tree(scratch.path(), |tree| {
            let mut rows: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
            for row in tree.iter() {
                let (key, _) = row.unwrap();
                rows.entry(key[0]).or_default().push(key.to_vec());
            }
            rows
        });
        let count = |t: u8| rows.get(&t).map_or(0, Vec::len);
        // Full pages, then one tail row per entry of the partly filled last page.
        assert_eq!(count(tag::ENTRY) as u64, size / page::ENTRIES_PER_PAGE);
        assert_eq!(count(tag::TAIL) as u64, size % page::ENTRIES_PER_PAGE);
        assert_eq!(count(tag::CHECKPOINT), checkpoints.len());
        assert_eq!((count(tag::HEAD), count(tag::META)), (1, 1));
        // Every table is one the damage tests below cover.
        let tables: Vec<u8> = rows.keys().copied().collect();
        let mut expected = vec![tag::CHECKPOINT, tag::ENTRY, tag::HEAD, tag::META, tag::NODE];
        if !size.is_multiple_of(page::ENTRIES_PER_PAGE) {
            expected.push(tag::TAIL);
        }
        assert_eq!(tables, expected, "tables {tables:?}");
        Pristine {
            _dir: dir,
            path,
            entries,
            checkpoints,
            rows,
        }
    }

    /// A copy, taken while it is open, of a ledger of `batches` batches: as a crash would
    /// leave it, with the batches' records in its journal (replayed when it is next
    /// opened). No rows are listed: only raw damage is done to it.
    fn crash_image(seed: u64, batches: u64) -> Pristine {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let code = county();
        let ledger = Ledger::open(&path, Policy::default()).unwrap();
        let (officers, insts) = setup_county(&ledger, seed, 20).unwrap();
        for n in 0..batches {
            append_cases(&ledger, &officers, &insts, seed, n);
        }
        let entries = all_entries(&ledger);
        let checkpoints = ledger.checkpoints(&code).unwrap();
        // What a crash would leave: the directory as it is while the ledger is open
        // (dropping the ledger would flush sled and empty the journal).
        let image = dir.path().join("image");
        support::copy_dir(&path, &image);
        drop(ledger);
        Pristine {
            _dir: dir,
            path: image,
            entries,
            checkpoints,
            rows: BTreeMap::new(),
        }
    }

    /// The full pristine ledger of the table and raw tests: over a thousand entries, so
    /// that two checkpoints are kept (the latest and one [`CHECKPOINT_RETAIN_EVERY`]
    /// entries on), stored tree nodes reach height 10, and sled has a snapshot file.
    fn full(seed: u64) -> Pristine {
        let pristine = Pristine::build(seed, BATCHES);
        let size = pristine.entries.len() as u64;
        assert!(
            size % page::ENTRIES_PER_PAGE > 1,
            "the pristine ledger should end in tail rows: {size} entries"
        );
        assert!(
            size > CHECKPOINT_RETAIN_EVERY + 16,
            "pristine ledger too small: {size} entries"
        );
        assert!(
            pristine.checkpoints.len() >= 2,
            "only {} checkpoint(s) kept",
            pristine.checkpoints.len()
        );
        let levels: Vec<u8> = pristine.rows[&tag::NODE]
            .iter()
            .map(|key| keys::parse_node(key).unwrap().level)
            .collect();
        assert!(levels.iter().all(|level| *level >= STORED_MIN_LEVEL));
        assert!(
            levels.iter().any(|level| *level >= 10),
            "no stored tree node of height ≥ 10"
        );
        let snapshots = std::fs::read_dir(pristine.path.join("sled"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("snap.")
            })
            .count();
        assert!(snapshots > 0, "sled wrote no snapshot file");
        pristine
    }

    /// A fresh copy of the ledger directory.
    fn copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        support::copy_dir(&self.path, copy.path());
        copy
    }
}

/// What opening and verifying a damaged copy gave.
#[derive(Debug)]
enum Outcome {
    /// `Ledger::open` refused.
    Refused(StoreError),
    /// It opened and verification failed.
    Reported(Report),
    /// It opened, verified, and reads back exactly the pristine data.
    Benign,
    /// It opened and verified, but what it holds differs from the pristine data.
    SilentPass(String),
    /// Something panicked.
    Panicked(String),
}

/// The first few failures of a report, for messages.
fn summary(report: &Report) -> String {
    let shown: Vec<String> = report
        .failures
        .iter()
        .take(8)
        .map(ToString::to_string)
        .collect();
    format!("{} failure(s): {}", report.failure_count, shown.join("; "))
}

/// Opens the (damaged) ledger at `path`, verifies it and compares it with `pristine`,
/// catching any panic.
fn examine(path: &Path, pristine: &Pristine) -> Outcome {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let ledger = match open_when_unlocked(path) {
            Ok(ledger) => ledger,
            Err(e) => return Outcome::Refused(e),
        };
        let report = verify_ledger(&ledger, &|_| {});
        if !report.is_ok() {
            return Outcome::Reported(report);
        }
        match differences(&ledger, pristine) {
            None => Outcome::Benign,
            Some(what) => Outcome::SilentPass(what),
        }
    }));
    result.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Outcome::Panicked(message)
    })
}

/// Opens the ledger at `path`, waiting (up to 30 s) while sled's lock on its data file is
/// still held: sled releases it from background threads some time after the database
/// that damaged the copy was dropped, and a refusal for that reason says nothing about
/// the damage.
fn open_when_unlocked(path: &Path) -> Result<Ledger, StoreError> {
    let mut waited = 0;
    loop {
        match Ledger::open(path, Policy::default()) {
            Err(StoreError::Locked(_)) if waited < 3000 => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited += 1;
            }
            other => return other,
        }
    }
}

/// How what `ledger` holds differs from the pristine data, if it does.
fn differences(ledger: &Ledger, pristine: &Pristine) -> Option<String> {
    let code = county();
    if ledger.log_codes() != vec![code] {
        return Some(format!("logs are {:?}", ledger.log_codes()));
    }
    let size = match ledger.size(&code) {
        Ok(size) => size,
        Err(e) => return Some(format!("size: {e}")),
    };
    if size != pristine.entries.len() as u64 {
        return Some(format!(
            "{size} entries instead of {}",
            pristine.entries.len()
        ));
    }
    for (seq, expected) in pristine.entries.iter().enumerate() {
        match ledger.entry(&code, seq as u64) {
            Ok(bytes) if bytes == *expected => {}
            Ok(_) => return Some(format!("entry {seq} differs")),
            Err(e) => return Some(format!("entry {seq}: {e}")),
        }
    }
    match ledger.entries(&code, 0, size) {
        Ok(all)
            if all.len() == pristine.entries.len()
                && all.iter().zip(&pristine.entries).all(|((_, a), b)| a == b) => {}
        Ok(_) => return Some("the entries read as a range differ".into()),
        Err(e) => return Some(format!("entries: {e}")),
    }
    match ledger.checkpoints(&code) {
        Ok(checkpoints) if checkpoints == pristine.checkpoints => {}
        Ok(_) => return Some("the checkpoints differ".into()),
        Err(e) => return Some(format!("checkpoints: {e}")),
    }
    match ledger.latest_checkpoint(&code) {
        Ok(text) if Some(&text) == pristine.checkpoints.last().map(|(_, t)| t) => None,
        Ok(_) => Some("the latest checkpoint differs".into()),
        Err(e) => Some(format!("latest checkpoint: {e}")),
    }
}

/// Whom a report must blame for a damage.
#[derive(Debug, Clone)]
enum Blame {
    /// The log only: no entry is to blame (or none can be told from the damage).
    Log,
    /// Each of these entries.
    Each(Vec<u64>),
    /// At least one entry in this range (damage to a page's framing or to its end).
    Within(Range<u64>),
    /// As `Within`, or nothing at all if every entry still reads back byte-identical: a
    /// compressed page's encoding is not canonical, so some flips decompress to the same
    /// entries.
    WithinUnlessSame(Range<u64>),
}

impl Blame {
    /// Whether a refusal blaming `seq` fits.
    fn allows(&self, seq: u64) -> bool {
        match self {
            Blame::Log => true,
            Blame::Each(seqs) => seqs.contains(&seq),
            Blame::Within(range) | Blame::WithinUnlessSame(range) => range.contains(&seq),
        }
    }
}

/// Why the outcome of a logical damage is not acceptable, if it is not. Acceptable: a
/// refusal as corrupt data of this log (blaming a fitting entry, or none, since opening
/// checks only the end of the log), or a report with a failure naming this log and the
/// failures `blame` asks for.
fn not_caught(outcome: &Outcome, blame: &Blame) -> Option<String> {
    match outcome {
        Outcome::Refused(StoreError::Corrupt { log, seq, what }) => {
            if log != COUNTY {
                return Some(format!(
                    "refused, naming log `{log}` instead of {COUNTY}: {what}"
                ));
            }
            match seq {
                Some(seq) if !blame.allows(*seq) => Some(format!(
                    "refused, blaming seq {seq} instead of {blame:?}: {what}"
                )),
                _ => None,
            }
        }
        Outcome::Refused(other) => Some(format!(
            "refused, but not as corrupt data of the log: {other}"
        )),
        Outcome::Reported(report) => {
            let ours = |f: &&Failure| f.log == COUNTY;
            if !report.failures.iter().any(|f| ours(&f)) {
                return Some(format!(
                    "no failure names log {COUNTY}: {}",
                    summary(report)
                ));
            }
            let blamed = |seq: u64| {
                report
                    .failures
                    .iter()
                    .filter(ours)
                    .any(|f| f.seq == Some(seq))
            };
            match blame {
                Blame::Log => None,
                Blame::Each(seqs) => {
                    let missing: Vec<u64> =
                        seqs.iter().copied().filter(|seq| !blamed(*seq)).collect();
                    (!missing.is_empty())
                        .then(|| format!("no failure names seq {missing:?}: {}", summary(report)))
                }
                Blame::Within(range) | Blame::WithinUnlessSame(range) => (!range
                    .clone()
                    .any(blamed))
                .then(|| format!("no failure names a seq in {range:?}: {}", summary(report))),
            }
        }
        Outcome::Benign if matches!(blame, Blame::WithinUnlessSame(_)) => None,
        Outcome::Benign => Some("the damage went unnoticed".into()),
        Outcome::SilentPass(what) => Some(format!("verified although {what}")),
        Outcome::Panicked(message) => Some(format!("panicked: {message}")),
    }
}

/// A tally of outcomes, and of the damages not caught as they must be.
#[derive(Default)]
struct Tally {
    refused: usize,
    reported: usize,
    /// Opened and verified with every entry byte-identical (allowed for some damage).
    benign: usize,
    problems: Vec<String>,
}

impl Tally {
    /// Counts `outcome` and notes it if it is not acceptable for `blame`.
    fn add(&mut self, outcome: &Outcome, blame: &Blame, context: &str) {
        match outcome {
            Outcome::Refused(_) => self.refused += 1,
            Outcome::Benign => self.benign += 1,
            _ => self.reported += 1,
        }
        if let Some(problem) = not_caught(outcome, blame) {
            let problem: String = problem.chars().take(400).collect();
            self.problems.push(format!("{context}: {problem}"));
        }
    }

    /// Asserts that every damage was caught (listing the first few that were not).
    fn assert_all_caught(&self, what: &str) {
        let shown: Vec<&str> = self.problems.iter().take(8).map(String::as_str).collect();
        assert!(
            self.problems.is_empty(),
            "{what}: {} of {} damages not caught as they must be:\n{}",
            self.problems.len(),
            self.refused + self.reported + self.benign,
            shown.join("\n")
        );
    }
}

/// A kind of damage done to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    /// One bit of the value flipped.
    Flip,
    /// The value cut short (possibly to nothing).
    Truncate,
    /// The row removed.
    Delete,
}

/// Opens the copy's sled database (with the ledger's own sled configuration, which sled
/// requires to match), applies `change` to the main tree, flushes and closes.
fn with_main_tree<T>(dir: &Path, change: impl FnOnce(&sled::Tree) -> T) -> T {
    let db = sled_config(&dir.join("sled")).open().unwrap();
    let tree = db.open_tree("ledger").unwrap();
    let out = change(&tree);
    tree.flush().unwrap();
    db.flush().unwrap();
    drop(tree);
    drop(db);
    out
}

/// Damages the row `key` of the copy at `dir`; says what was done and whom a report
/// must blame for it. An entry row is a page of entries (see `yibao_ledger::page`): a raw
/// page (the last, partly filled one) holds its frames as they are, so damage inside one
/// entry's bytes is that entry's; damage to a frame's length, to a compressed (full)
/// page, or cutting a page short is the page's.
fn damage_row(dir: &Path, key: &[u8], damage: Damage, rng: &mut ChaCha8Rng) -> (String, Blame) {
    with_main_tree(dir, |tree| {
        let value = tree.get(key).unwrap().unwrap().to_vec();
        if key[0] == tag::TAIL {
            // A tail row holds one entry's bytes: any damage to it is that entry's.
            let seq = keys::trailing_u64(key).unwrap();
            let blame = Blame::Each(vec![seq]);
            return match damage {
                Damage::Flip => {
                    let bit = rng.gen_range(0..value.len() * 8);
                    let mut changed = value.clone();
                    changed[bit / 8] ^= 1 << (bit % 8);
                    tree.insert(key, changed).unwrap();
                    (format!("bit {bit} of {} flipped", row_name(key)), blame)
                }
                Damage::Truncate => {
                    let len = rng.gen_range(0..value.len());
                    tree.insert(key, &value[..len]).unwrap();
                    let what = format!(
                        "{} truncated from {} to {len} bytes",
                        row_name(key),
                        value.len()
                    );
                    (what, blame)
                }
                Damage::Delete => {
                    tree.remove(key).unwrap();
                    (format!("{} deleted", row_name(key)), blame)
                }
            };
        }
        let entry = key[0] == tag::ENTRY;
        let first = keys::trailing_u64(key).map_or(0, page::first_seq);
        let count = if entry {
            page_entries(&value).len() as u64
        } else {
            0
        };
        let whole_page = if entry {
            Blame::Within(first..first + count)
        } else {
            Blame::Log
        };
        // Whom damage to byte `at` of the value blames.
        let blame_at = |at: usize| -> Blame {
            if entry && value[0] != RAW_PAGE && at > 0 {
                return Blame::WithinUnlessSame(first..first + count);
            }
            if !entry || at == 0 {
                return whole_page.clone();
            }
            // Offsets into the frames, which follow the one-byte header.
            let at = at - 1;
            let frames = page::frames(&value[1..]).unwrap();
            match frames.iter().position(|(offset, len)| at < offset + len) {
                Some(i) if at >= frames[i].0 => Blame::Each(vec![first + i as u64]),
                _ => whole_page.clone(),
            }
        };
        match damage {
            Damage::Flip => {
                let bit = rng.gen_range(0..value.len() * 8);
                let mut changed = value.clone();
                changed[bit / 8] ^= 1 << (bit % 8);
                tree.insert(key, changed).unwrap();
                (
                    format!("bit {bit} of {} flipped", row_name(key)),
                    blame_at(bit / 8),
                )
            }
            Damage::Truncate => {
                let len = rng.gen_range(0..value.len());
                tree.insert(key, &value[..len]).unwrap();
                let what = format!(
                    "{} truncated from {} to {len} bytes",
                    row_name(key),
                    value.len()
                );
                (what, whole_page.clone())
            }
            Damage::Delete => {
                tree.remove(key).unwrap();
                let blame = if entry {
                    Blame::Each(vec![first])
                } else {
                    Blame::Log
                };
                (format!("{} deleted", row_name(key)), blame)
            }
        }
    })
}

/// The first byte of a page stored raw (see `yibao_ledger::page`).
const RAW_PAGE: u8 = 0x00;

/// The entries of a stored page value.
fn page_entries(value: &[u8]) -> Vec<Vec<u8>> {
    let frames = page::decode(&sled::IVec::from(value)).unwrap();
    page::frames(&frames)
        .unwrap()
        .into_iter()
        .map(|(offset, len)| frames[offset..offset + len].to_vec())
        .collect()
}

/// The page value the store writes for `entries`: compressed when the page is full.
fn page_value(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut frames = Vec::new();
    for entry in entries {
        page::push_frame(&mut frames, entry);
    }
    if entries.len() as u64 == page::ENTRIES_PER_PAGE {
        page::encode_full(&frames)
    } else {
        page::encode_raw(&frames)
    }
}

/// The entries of the copy's page holding `seq`, with the page's first seq.
fn read_page(tree: &sled::Tree, seq: u64) -> (u64, Vec<Vec<u8>>) {
    let index = page::page_of(seq);
    let value = tree.get(keys::page(&county(), index)).unwrap().unwrap();
    (page::first_seq(index), page_entries(&value))
}

/// Replaces the bytes of entry `seq` in the copy, re-encoding its page (or rewriting its
/// tail row).
fn replace_entry(tree: &sled::Tree, seq: u64, bytes: Vec<u8>) {
    let tail = keys::tail(&county(), seq);
    if tree.contains_key(tail).unwrap() {
        tree.insert(tail, bytes).unwrap();
        return;
    }
    let (first, mut entries) = read_page(tree, seq);
    entries[(seq - first) as usize] = bytes;
    tree.insert(
        keys::page(&county(), page::page_of(seq)),
        page_value(&entries),
    )
    .unwrap();
}

/// The bytes of entry `seq` in the copy.
fn stored_entry(tree: &sled::Tree, seq: u64) -> Vec<u8> {
    if let Some(bytes) = tree.get(keys::tail(&county(), seq)).unwrap() {
        return bytes.to_vec();
    }
    let (first, entries) = read_page(tree, seq);
    entries[(seq - first) as usize].clone()
}

/// A readable name for a row key.
fn row_name(key: &[u8]) -> String {
    match key[0] {
        tag::ENTRY => {
            let first = page::first_seq(keys::trailing_u64(key).unwrap());
            format!("the entry page from seq {first}")
        }
        tag::TAIL => format!("the tail row of entry {}", keys::trailing_u64(key).unwrap()),
        tag::NODE => {
            let id = keys::parse_node(key).unwrap();
            format!("tree node {}/{}", id.level, id.index)
        }
        tag::CHECKPOINT => format!("checkpoint {}", keys::trailing_u64(key).unwrap()),
        tag::HEAD => "the head row".into(),
        tag::META => "the metadata row".into(),
        other => format!("row with tag {other}"),
    }
}

/// Runs [`ITERATIONS_PER_CLASS`] rounds of each kind of damage on random rows of table
/// `table` of a full pristine ledger, asserts that each was caught, and returns how many
/// were refused and how many reported.
fn damage_table(table: u8, seed: u64) -> (usize, usize) {
    let pristine = Pristine::full(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = &pristine.rows[&table];
    let mut tally = Tally::default();
    for damage in [Damage::Flip, Damage::Truncate, Damage::Delete] {
        for iteration in 0..ITERATIONS_PER_CLASS {
            let key = &rows[rng.gen_range(0..rows.len())];
            let copy = pristine.copy();
            let (what, blame) = damage_row(copy.path(), key, damage, &mut rng);
            let outcome = examine(copy.path(), &pristine);
            tally.add(
                &outcome,
                &blame,
                &format!("seed {seed:#x}, {damage:?} #{iteration}: {what}"),
            );
        }
    }
    let table = table as char;
    eprintln!(
        "table {table}: {} refused, {} reported, {} benign",
        tally.refused, tally.reported, tally.benign
    );
    tally.assert_all_caught(&format!("table {table}"));
    (tally.refused, tally.reported)
}

#[test]
fn damaged_entry_rows_are_caught_with_their_seq() {
    let (refused, reported) = damage_table(tag::ENTRY, 0xe1);
    // Opening checks only the last entry and the tree's ragged edge; most damage is
    // found by verification.
    assert!(reported > refused, "{refused} refused, {reported} reported");
}

#[test]
fn damaged_tail_rows_are_caught_with_their_seq() {
    let (refused, reported) = damage_table(tag::TAIL, 0x54);
    assert_eq!(refused + reported, 3 * ITERATIONS_PER_CLASS);
    assert!(reported > 0, "{refused} refused, {reported} reported");
}

#[test]
fn damaged_tree_node_rows_are_caught() {
    let (refused, reported) = damage_table(tag::NODE, 0x4e);
    assert_eq!(refused + reported, 3 * ITERATIONS_PER_CLASS);
    assert!(reported > 0);
}

#[test]
fn damaged_checkpoint_rows_are_caught() {
    let (refused, reported) = damage_table(tag::CHECKPOINT, 0x43);
    // The latest checkpoint is checked on opening, the older kept one by verification.
    assert!(
        refused > 0 && reported > 0,
        "{refused} refused, {reported} reported"
    );
}

#[test]
fn damaged_head_row_is_refused() {
    let (refused, reported) = damage_table(tag::HEAD, 0x48);
    // Everything in the head row is checked against the entries when the log is loaded.
    assert_eq!((refused, reported), (3 * ITERATIONS_PER_CLASS, 0));
}

#[test]
fn damaged_meta_row_is_caught() {
    let (refused, reported) = damage_table(tag::META, 0x4d);
    assert_eq!(refused + reported, 3 * ITERATIONS_PER_CLASS);
    assert!(refused > 0);
}

#[test]
fn swapped_entry_rows_are_caught_at_both_seqs() {
    let seed = 0x5a;
    let pristine = Pristine::full(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let size = pristine.entries.len() as u64;
    let mut tally = Tally::default();
    for iteration in 0..ITERATIONS_PER_CLASS * 2 {
        let a = rng.gen_range(0..size);
        let b = (a + rng.gen_range(1..size)) % size;
        let copy = pristine.copy();
        with_main_tree(copy.path(), |tree| {
            let (bytes_a, bytes_b) = (stored_entry(tree, a), stored_entry(tree, b));
            replace_entry(tree, a, bytes_b);
            replace_entry(tree, b, bytes_a);
        });
        let outcome = examine(copy.path(), &pristine);
        let context = format!("seed {seed:#x}, swap #{iteration}: entries {a} and {b} swapped");
        tally.add(&outcome, &Blame::Each(vec![a, b]), &context);
    }
    eprintln!(
        "swapped entries: {} refused, {} reported",
        tally.refused, tally.reported
    );
    tally.assert_all_caught("swapped entries");
    assert!(tally.reported > 0);
}

/// Flips every bit of the bytes `bytes` of the row `key` in turn (a small ledger keeps
/// this quick) and returns a description of each flip that was not caught.
fn flip_every_bit(pristine: &Pristine, key: &[u8], bytes: Range<usize>) -> Vec<String> {
    let value = {
        let scratch = pristine.copy();
        with_main_tree(scratch.path(), |tree| {
            tree.get(key).unwrap().unwrap().to_vec()
        })
    };
    let mut problems = Vec::new();
    for bit in bytes.start * 8..bytes.end * 8 {
        let mut changed = value.clone();
        changed[bit / 8] ^= 1 << (bit % 8);
        let copy = pristine.copy();
        with_main_tree(copy.path(), |tree| {
            tree.insert(key, changed.clone()).unwrap()
        });
        if let Some(problem) = not_caught(&examine(copy.path(), pristine), &Blame::Log) {
            let (from, to) = (
                (bit / 8).saturating_sub(12),
                (bit / 8 + 12).min(changed.len()),
            );
            let shown = String::from_utf8_lossy(&changed[from..to]);
            let problem: String = problem.chars().take(200).collect();
            problems.push(format!(
                "bit {bit} of {} (now …{shown}…): {problem}",
                row_name(key)
            ));
        }
    }
    problems
}

#[test]
fn every_bit_flip_of_the_head_row_is_refused() {
    let pristine = Pristine::build(0x4848, 1);
    let key = keys::head(&county());
    let problems = flip_every_bit(&pristine, &key, 0..56);
    assert!(
        problems.is_empty(),
        "{} flips not caught:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_bit_flip_of_the_metadata_division_and_key_is_caught_and_blamed_on_its_log() {
    // The metadata row is JSON; the random damage above covers its syntax. Here every bit
    // of the two values a flip can change into another valid value is flipped: the
    // division code (a digit turned into another digit names another county) and the
    // pinned bureau key (bit 5 of a hex letter turns it upper case, which decodes to the
    // same key). Each changes the stored bytes, so it must not pass unnoticed, and a
    // report must name the log the row is stored under, not the county the row now claims.
    let pristine = Pristine::build(0x4d4d, 1);
    let key = keys::meta(&county());
    let text = {
        let scratch = pristine.copy();
        with_main_tree(scratch.path(), |tree| {
            String::from_utf8(tree.get(&key).unwrap().unwrap().to_vec()).unwrap()
        })
    };
    let mut problems = Vec::new();
    for field in ["division", "genesis_key"] {
        let value = serde_json::from_str::<serde_json::Value>(&text).unwrap()[field]
            .as_str()
            .unwrap()
            .to_string();
        let start = text.find(&format!("\"{field}\":\"{value}\"")).unwrap() + field.len() + 4;
        problems.extend(flip_every_bit(&pristine, &key, start..start + value.len()));
    }
    assert!(
        problems.is_empty(),
        "{} flips not caught:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn damaged_signatures_in_one_chunk_are_each_blamed_on_their_own_seq() {
    // Entry 30's signature gets a non-canonical S (refused as soon as it is put into the
    // batch verifier), entry 40's a flipped low bit of S (well-formed, fails the equation).
    // Both are in the same chunk of the verifier; each must be blamed on its own seq, and
    // no other entry's signature may be blamed.
    let pristine = Pristine::build(0x5167, 1);
    let copy = pristine.copy();
    let (malformed, forged) = (30u64, 40u64);
    with_main_tree(copy.path(), |tree| {
        for (seq, change) in [(malformed, 0u8), (forged, 1)] {
            let mut bytes = stored_entry(tree, seq);
            let signature = EntryRef::decode(&bytes).unwrap().submission.signature;
            let at = bytes.windows(64).position(|w| w == signature).unwrap();
            if change == 0 {
                bytes[at + 63] |= 0xf0;
            } else {
                bytes[at + 32] ^= 1;
            }
            replace_entry(tree, seq, bytes);
        }
    });
    let report = match examine(copy.path(), &pristine) {
        Outcome::Reported(report) => report,
        other => panic!("expected a failed report: {other:?}"),
    };
    let blamed: Vec<u64> = report
        .failures
        .iter()
        .filter(|f| f.what.contains("signature"))
        .filter_map(|f| f.seq)
        .collect();
    let summary = summary(&report);
    assert!(
        blamed.contains(&malformed),
        "entry {malformed} not blamed: {summary}"
    );
    assert!(
        blamed.contains(&forged),
        "entry {forged} not blamed: {summary}"
    );
    assert!(
        blamed.iter().all(|seq| *seq == malformed || *seq == forged),
        "innocent entries blamed for their signatures: {blamed:?}"
    );
}

/// The files of a ledger directory, relative to it, sorted.
fn files(dir: &Path, base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files(&entry.path(), base));
        } else {
            out.push(
                entry
                    .path()
                    .strip_prefix(base)
                    .unwrap()
                    .display()
                    .to_string(),
            );
        }
    }
    out.sort();
    out
}

fn file_kind(name: &str) -> &'static str {
    match name {
        "heads" => "heads",
        "sled/conf" => "conf",
        "sled/db" => "db",
        n if n.starts_with("sled/snap.") => "snap",
        n if n.starts_with("sled/blobs/") => "blob",
        _ => "other",
    }
}

#[test]
fn raw_file_damage_is_refused_or_harmless() {
    let seed = 0xf11e;
    let pristine = Pristine::full(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names = files(&pristine.path, &pristine.path);
    for expected in ["heads", "sled/conf", "sled/db", "sled/snap."] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "no {expected} in {names:?}"
        );
    }
    eprintln!("files damaged: {names:?}");
    let db = names.iter().position(|n| n == "sled/db").unwrap();
    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut total_reported = 0;
    for iteration in 0..RAW_ITERATIONS {
        // The data file half of the time: it is where nearly all the bytes are.
        let which = if rng.gen_bool(0.5) {
            db
        } else {
            rng.gen_range(0..names.len())
        };
        let copy = pristine.copy();
        let file = copy.path().join(&names[which]);
        let mut bytes = std::fs::read(&file).unwrap();
        let what = if bytes.is_empty() || rng.gen_bool(0.2) {
            let len = rng.gen_range(0..bytes.len().max(1));
            bytes.truncate(len);
            format!("{} truncated to {len} bytes", names[which])
        } else {
            let offset = rng.gen_range(0..bytes.len());
            let mask: u8 = rng.gen_range(1..=255);
            bytes[offset] ^= mask;
            format!("{} byte {offset} xor {mask:#04x}", names[which])
        };
        std::fs::write(&file, &bytes).unwrap();
        let slot = counts.entry(file_kind(&names[which])).or_default();
        match examine(copy.path(), &pristine) {
            Outcome::Refused(_) => slot[0] += 1,
            Outcome::Reported(report) => {
                if total_reported < 3 {
                    eprintln!("reported: {what}: {}", summary(&report));
                }
                total_reported += 1;
                slot[1] += 1
            }
            Outcome::Benign => slot[2] += 1,
            Outcome::SilentPass(diff) => {
                panic!("seed {seed:#x}, raw #{iteration}: {what}: verified although {diff}")
            }
            Outcome::Panicked(message) => {
                panic!("seed {seed:#x}, raw #{iteration}: {what}: panicked: {message}")
            }
        }
    }
    let mut total = [0; 3];
    for (kind, [refused, reported, benign]) in &counts {
        eprintln!("raw damage to {kind}: {refused} refused, {reported} reported, {benign} benign");
        total = [total[0] + refused, total[1] + reported, total[2] + benign];
    }
    eprintln!(
        "raw damage in all: {} refused, {} reported, {} benign",
        total[0], total[1], total[2]
    );
    // sled checksums what it reads back, and the heads file turns the log it cuts short
    // at the damage into a refusal: raw damage is refused on opening (or harmless), so
    // "reported" is not required here — the table tests above exercise it.
    assert!(
        total[0] > RAW_ITERATIONS / 2,
        "only {} of {RAW_ITERATIONS} were refused",
        total[0]
    );
    for kind in ["db", "conf", "snap", "heads"] {
        assert!(
            counts.get(kind).is_some_and(|c| c[0] > 0),
            "no damage to {kind} was refused: {counts:?}"
        );
    }
}

#[test]
fn damage_to_the_journal_of_a_crashed_ledger_is_refused_or_harmless() {
    let seed = 0x10a1;
    let pristine = Pristine::crash_image(seed, 6);
    let journal = std::fs::read(pristine.path.join(JOURNAL_FILE)).unwrap();
    // The records, then the zeros the file was extended by ahead of them.
    let used = journal
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    assert!(
        used > 1000,
        "the journal of an unclosed ledger holds only {used} bytes of records"
    );
    // Undamaged, the journal is replayed and everything reads back.
    let copy = pristine.copy();
    let outcome = examine(copy.path(), &pristine);
    assert!(matches!(outcome, Outcome::Benign), "undamaged: {outcome:?}");

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = [0usize; 3];
    for iteration in 0..60 {
        let copy = pristine.copy();
        let file = copy.path().join(JOURNAL_FILE);
        let mut bytes = journal.clone();
        let what = if iteration % 4 == 0 {
            let len = rng.gen_range(0..used);
            bytes.truncate(len);
            format!("journal truncated to {len} bytes")
        } else if iteration % 10 == 1 {
            // Data in the zeros after the records: refused, as damage.
            let offset = rng.gen_range(used..bytes.len());
            bytes[offset] = rng.gen_range(1..=255);
            format!("journal byte {offset} (after the records) set")
        } else {
            // Mostly before the last record, where damage cannot pass for a torn write.
            let offset = rng.gen_range(0..used * 3 / 4);
            let mask: u8 = rng.gen_range(1..=255);
            bytes[offset] ^= mask;
            format!("journal byte {offset} xor {mask:#04x}")
        };
        std::fs::write(&file, &bytes).unwrap();
        let outcome = examine(copy.path(), &pristine);
        if iteration % 10 == 1 {
            assert!(
                matches!(outcome, Outcome::Refused(_)),
                "{what}: {outcome:?}"
            );
        }
        match outcome {
            Outcome::Refused(_) => counts[0] += 1,
            Outcome::Reported(_) => counts[1] += 1,
            Outcome::Benign => counts[2] += 1,
            Outcome::SilentPass(diff) => panic!("{what}: verified although {diff}"),
            Outcome::Panicked(message) => panic!("{what}: panicked: {message}"),
        }
    }
    eprintln!(
        "journal damage: {} refused, {} reported, {} benign",
        counts[0], counts[1], counts[2]
    );
    assert!(
        counts[0] > 0,
        "no damage inside the journal was refused: {counts:?}"
    );
}

/// A heads file saying `lines`, with its checksum line.
fn heads_file(lines: &str) -> String {
    let sum = blake3::hash(lines.as_bytes()).to_hex();
    format!("{lines}blake3 {}\n", &sum[..16])
}

#[test]
fn the_heads_file_is_a_guard_only() {
    let pristine = Pristine::build(0x4ead, 2);
    let size = pristine.entries.len() as u64;
    let heads = |text: &str| -> Outcome {
        let copy = pristine.copy();
        std::fs::write(copy.path().join(HEADS_FILE), text).unwrap();
        examine(copy.path(), &pristine)
    };
    let refused_naming = |outcome: &Outcome, code: &str| matches!(outcome, Outcome::Refused(StoreError::Corrupt { log, .. }) if log == code);

    // The file as the ledger wrote it says the stored size.
    let written = std::fs::read_to_string(pristine.path.join(HEADS_FILE)).unwrap();
    assert_eq!(written, heads_file(&format!("{COUNTY} {size}\n")));

    // Deleting it (or emptying it) loses nothing: the ledger opens, verifies and reads
    // back the same.
    let copy = pristine.copy();
    std::fs::remove_file(copy.path().join(HEADS_FILE)).unwrap();
    let outcome = examine(copy.path(), &pristine);
    assert!(
        matches!(outcome, Outcome::Benign),
        "without the heads file: {outcome:?}"
    );
    let outcome = heads("");
    assert!(
        matches!(outcome, Outcome::Benign),
        "with an empty heads file: {outcome:?}"
    );

    // A smaller count is no loss either.
    let outcome = heads(&heads_file(&format!("{COUNTY} {}\n", size - 10)));
    assert!(
        matches!(outcome, Outcome::Benign),
        "with a smaller count: {outcome:?}"
    );

    // A larger count means acknowledged entries are gone: refused, naming the log.
    for more in [1, 2, 1000, u64::MAX - size] {
        let outcome = heads(&heads_file(&format!("{COUNTY} {}\n", size + more)));
        assert!(
            refused_naming(&outcome, COUNTY),
            "heads count {} for {size} stored entries: {outcome:?}",
            size + more
        );
    }

    // An acknowledged log that is not stored at all: refused, naming that log.
    let outcome = heads(&heads_file(&format!("{COUNTY} {size}\n141126 5\n")));
    assert!(
        refused_naming(&outcome, "141126"),
        "heads file naming a missing log: {outcome:?}"
    );

    // Garbage, with or without a matching checksum, and a checksum that does not match:
    // refused, not ignored.
    for garbage in [
        "141125 lots\n",
        "141125\n",
        "14112 5\n",
        "\u{feff}141125 5\n",
    ] {
        for text in [garbage.to_string(), heads_file(garbage)] {
            let outcome = heads(&text);
            assert!(
                matches!(outcome, Outcome::Refused(_)),
                "heads file {text:?}: {outcome:?}"
            );
        }
    }
    let mut wrong_sum = heads_file(&format!("{COUNTY} {size}\n"));
    wrong_sum.replace_range(wrong_sum.len() - 2.., "0\n");
    if wrong_sum == written {
        wrong_sum.replace_range(wrong_sum.len() - 2.., "1\n");
    }
    let outcome = heads(&wrong_sum);
    assert!(
        matches!(outcome, Outcome::Refused(_)),
        "heads file {wrong_sum:?}: {outcome:?}"
    );
}

#[test]
fn a_log_whose_state_cannot_be_replayed_is_reported_by_load_states_and_on_use() {
    let pristine = Pristine::build(0x5157, 1);
    let size = pristine.entries.len() as u64;
    let clean = pristine.copy();
    {
        let ledger = open_when_unlocked(clean.path()).unwrap();
        let loaded = ledger.load_states();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].0, county());
        assert_eq!(loaded[0].1.as_ref().ok(), Some(&size));
    }
    // An entry in the middle no longer decodes: opening checks only the last entry, the
    // replay finds it.
    let damaged = pristine.copy();
    let seq = size / 2;
    with_main_tree(damaged.path(), |tree| {
        replace_entry(tree, seq, vec![0xa5; 40])
    });
    let ledger = open_when_unlocked(damaged.path()).unwrap();
    let loaded = ledger.load_states();
    assert_eq!(loaded.len(), 1);
    match &loaded[0].1 {
        Err(StoreError::Corrupt { log, seq: at, .. }) => {
            assert_eq!((log.as_str(), *at), (county().as_str(), Some(seq)));
        }
        other => panic!("expected the damaged entry {seq} to be reported, got {other:?}"),
    }
    // The log stays unloaded: its first use reports the same.
    let again = ledger.state(&county()).unwrap_err();
    assert!(
        matches!(again, StoreError::Corrupt { seq: Some(s), .. } if s == seq),
        "{again}"
    );
}
