//! Model-based storage test: random sequences of operations on a ledger — appending
//! batches (valid cases mixed with forged, duplicate, malformed, rule-breaking,
//! wrong-log and future-dated submissions), reading entries and ranges, inclusion and
//! consistency proofs, the latest checkpoint, closing and reopening — each checked
//! against an in-memory oracle: the expected entry bytes (built independently with
//! `encode_entry`), the leaf hashes in a `MemoryTree` whose reference root follows the
//! RFC 6962 recursion, and every stored submission with its seq. At the end the whole
//! ledger must verify.
//!
//! In the manner of sled's own `tests/tree` model tests: proptest generates the
//! operations (with a fixed seed, so runs reproduce, and no regression files written);
//! a failing sequence is shrunk and printed.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{
    verify_consistency, verify_inclusion, Blake3Hasher, Hash, LeafIndex, MemoryTree, MerkleHasher,
    TreeSize,
};
use yibao_ledger::store::{AppendError, Ledger, Receipt, StoreError};
use yibao_ledger::verify::verify_ledger;
use yibao_node::workload::{self, Institution, Officers, Rng, Signer};
use yibao_schema::entry::{encode_entry, EntryRef, Submission, GENESIS_PREV};
use yibao_schema::note::{KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::policy::Policy;
use yibao_schema::record::Record;
use yibao_tests::{case_submissions, county, setup_county, COUNTY, TIME_MS};

/// The officers' seed of every run.
const SEED: u64 = 0x30de1;

/// A submission that must be refused, added to a batch of valid ones.
#[derive(Debug, Clone)]
enum Bad {
    /// A fresh statement with one bit of its signature flipped.
    ForgedSignature { bit: usize },
    /// A payload that is not a valid record of its kind (three variants).
    MalformedPayload { variant: u8 },
    /// A well-formed finding for a case never opened.
    RuleBreach,
    /// Signed for another county's log.
    WrongLog,
    /// Dated an hour ahead of the node's clock.
    FromTheFuture,
}

/// Something added to a batch besides the valid cases.
#[derive(Debug, Clone)]
enum Extra {
    /// A submission that must be refused.
    Bad(Bad),
    /// A submission already in the log (picked by index): must return the original seq.
    Duplicate { pick: usize },
}

#[derive(Debug, Clone)]
enum Op {
    /// Appends the first `take` submissions of `cases` fresh cases, with `extras` each
    /// inserted at a position picked by its number.
    Append {
        cases: u64,
        take: usize,
        extras: Vec<(Extra, usize)>,
    },
    /// Reads one entry.
    ReadEntry { pick: u64 },
    /// Reads a range of entries (which may run past the end).
    ReadRange { start: u64, count: u64 },
    /// An inclusion proof of a leaf in a tree of some size up to the log's.
    Inclusion { size: u64, leaf: u64 },
    /// A consistency proof between two sizes up to the log's.
    Consistency { first: u64, second: u64 },
    /// The latest checkpoint, verified with the bureau's key.
    Checkpoint,
    /// Requests beyond the end of the log, which must be refused.
    OutOfRange { beyond: u64 },
    /// Closes the ledger and opens it again.
    Reopen,
}

fn extra() -> impl Strategy<Value = Extra> {
    prop_oneof![
        any::<usize>().prop_map(|bit| Extra::Bad(Bad::ForgedSignature { bit })),
        (0u8..3).prop_map(|variant| Extra::Bad(Bad::MalformedPayload { variant })),
        Just(Extra::Bad(Bad::RuleBreach)),
        Just(Extra::Bad(Bad::WrongLog)),
        Just(Extra::Bad(Bad::FromTheFuture)),
        any::<usize>().prop_map(|pick| Extra::Duplicate { pick }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1u64..=3, 1usize..=20, prop::collection::vec((extra(), any::<usize>()), 0..=3))
            .prop_map(|(cases, take, extras)| Op::Append { cases, take, extras }),
        2 => any::<u64>().prop_map(|pick| Op::ReadEntry { pick }),
        2 => (any::<u64>(), 0u64..40).prop_map(|(start, count)| Op::ReadRange { start, count }),
        3 => (any::<u64>(), any::<u64>()).prop_map(|(size, leaf)| Op::Inclusion { size, leaf }),
        3 => (any::<u64>(), any::<u64>()).prop_map(|(first, second)| Op::Consistency { first, second }),
        1 => Just(Op::Checkpoint),
        1 => (0u64..3).prop_map(|beyond| Op::OutOfRange { beyond }),
        1 => Just(Op::Reopen),
    ]
}

/// What the ledger must answer for one submission of a batch.
#[derive(Debug)]
enum Expect {
    /// Appended as the next entry.
    Fresh,
    /// Already stored at this seq.
    Duplicate(u64),
    /// Refused for this reason.
    Refused(Bad),
}

/// The ledger under test and its oracle.
struct Model {
    _dir: tempfile::TempDir,
    path: PathBuf,
    ledger: Option<Ledger>,
    code: LogCode,
    officers: Officers,
    insts: Vec<Institution>,
    /// The expected bytes of every entry, by seq.
    entries: Vec<Vec<u8>>,
    /// The leaf hashes of the expected entries.
    tree: MemoryTree<Blake3Hasher>,
    /// Every submission in the log, by seq.
    stored: Vec<Submission>,
    /// The next fresh case number for valid cases, and for the cases refused submissions
    /// are drawn from (a range of their own, so that nothing valid depends on them).
    next_case: u64,
    next_bad_case: u64,
    /// Batches appended so far (the node's clock moves on by a millisecond each).
    batches: u64,
}

impl Model {
    fn new() -> Model {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let ledger = Ledger::open(&path, Policy::default()).unwrap();
        let (officers, insts) = setup_county(&ledger, SEED, 20).unwrap();
        let code = county();
        let size = ledger.size(&code).unwrap();
        // The oracle starts from the set-up entries, checked to chain from GENESIS_PREV.
        let mut model = Model {
            _dir: dir,
            path,
            ledger: Some(ledger),
            code,
            officers,
            insts,
            entries: Vec::new(),
            tree: MemoryTree::new(),
            stored: Vec::new(),
            next_case: 0,
            next_bad_case: 900_000,
            batches: 0,
        };
        let mut prev = GENESIS_PREV;
        let set_up = model.ledger().entries(&code, 0, size).unwrap();
        for (seq, bytes) in set_up {
            let entry = EntryRef::decode(&bytes).unwrap();
            assert_eq!(
                (entry.seq, entry.prev),
                (seq, prev),
                "set-up entry {seq} does not chain"
            );
            prev = Blake3Hasher::leaf(&bytes);
            model.stored.push(entry.submission.to_owned());
            model.push_expected(bytes);
        }
        model.check_head();
        model
    }

    fn ledger(&self) -> &Ledger {
        self.ledger.as_ref().unwrap()
    }

    fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    fn push_expected(&mut self, bytes: Vec<u8>) {
        self.tree.push_data(&bytes);
        self.entries.push(bytes);
    }

    /// `n` fresh, independent inspection openings, signed by their inspector.
    fn openings(&mut self, n: usize) -> Vec<Submission> {
        (0..n)
            .map(|_| {
                let records = self.bad_case();
                self.sign(records[0].0, &records[0].1, &self.code.origin(), TIME_MS)
            })
            .collect()
    }

    /// Expects every acknowledged submission of a batch in the log, next in order, and
    /// nothing else: `results` are the batch's answers, one per submission.
    fn expect_acknowledged(
        &mut self,
        submissions: Vec<Submission>,
        results: &[Result<Receipt, AppendError>],
    ) {
        for (submission, result) in submissions.into_iter().zip(results) {
            if let Ok(receipt) = result {
                let seq = self.size();
                assert_eq!(
                    receipt.seq, seq,
                    "the acknowledged submissions keep their order"
                );
                let prev = Blake3Hasher::leaf(self.entries.last().unwrap());
                self.push_expected(encode_entry(seq, &prev, &submission.view().unwrap()));
            }
        }
    }

    /// The expected root of the first `size` entries, by the reference recursion.
    fn root(&self, size: u64) -> Hash {
        self.tree.reference_root(TreeSize(size)).unwrap()
    }

    /// Size and root agree with the oracle.
    fn check_head(&self) {
        assert_eq!(self.ledger().size(&self.code).unwrap(), self.size(), "size");
        assert_eq!(
            self.ledger().root(&self.code).unwrap(),
            self.root(self.size()),
            "root"
        );
        assert_eq!(
            self.ledger().root_at(&self.code, self.size()).unwrap(),
            self.root(self.size()),
            "root_at(size)"
        );
    }

    /// The records of a case that nothing valid refers to.
    fn bad_case(&mut self) -> Vec<(Signer, Record)> {
        let case_no = self.next_bad_case;
        self.next_bad_case += 1;
        let mut rng = Rng::new(case_no);
        workload::case_records(
            &mut rng,
            COUNTY,
            "柳林县医疗保障局",
            case_no,
            &self.insts[0],
            2023,
            false,
        )
        .unwrap()
    }

    fn sign(&self, signer: Signer, record: &Record, origin: &str, timestamp_ms: u64) -> Submission {
        let payload = record.encode_payload().unwrap();
        Submission::sign(
            self.officers.key(signer),
            origin,
            timestamp_ms,
            record.kind().as_str(),
            payload,
        )
        .unwrap()
    }

    fn bad_submission(&mut self, bad: &Bad, now_ms: u64) -> Submission {
        let records = self.bad_case();
        let (opener_signer, opener) = &records[0];
        let (finding_signer, finding) = &records[1];
        let origin = self.code.origin();
        match bad {
            Bad::ForgedSignature { bit } => {
                let mut submission = self.sign(*opener_signer, opener, &origin, TIME_MS);
                let bit = bit % 512;
                submission.signature[bit / 8] ^= 1 << (bit % 8);
                submission
            }
            Bad::MalformedPayload { variant } => {
                let good = opener.encode_payload().unwrap();
                let (kind, payload) = match variant {
                    0 => ("finding", vec![0xa0]),
                    1 => ("inspection_opened", [good.as_slice(), &[0x00]].concat()),
                    _ => ("finding", good),
                };
                Submission::sign(
                    self.officers.key(Signer::Inspector),
                    &origin,
                    TIME_MS,
                    kind,
                    payload,
                )
                .unwrap()
            }
            Bad::RuleBreach => self.sign(*finding_signer, finding, &origin, TIME_MS),
            Bad::WrongLog => self.sign(
                *opener_signer,
                opener,
                &LogCode::parse("141126").unwrap().origin(),
                TIME_MS,
            ),
            Bad::FromTheFuture => self.sign(*opener_signer, opener, &origin, now_ms + 3_600_000),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Append {
                cases,
                take,
                extras,
            } => self.append(*cases, *take, extras),
            Op::ReadEntry { pick } => {
                let seq = pick % self.size();
                assert_eq!(
                    self.ledger().entry(&self.code, seq).unwrap(),
                    self.entries[seq as usize],
                    "entry {seq}"
                );
            }
            Op::ReadRange { start, count } => {
                let start = start % (self.size() + 5);
                let got = self.ledger().entries(&self.code, start, *count).unwrap();
                let end = (start + count).min(self.size());
                let expected: Vec<(u64, Vec<u8>)> = (start..end.max(start))
                    .map(|s| (s, self.entries[s as usize].clone()))
                    .collect();
                assert_eq!(got, expected, "entries({start}, {count})");
            }
            Op::Inclusion { size, leaf } => {
                let size = 1 + size % self.size();
                let leaf = leaf % size;
                let proof = self
                    .ledger()
                    .inclusion_proof(&self.code, leaf, size)
                    .unwrap();
                let root = self.ledger().root_at(&self.code, size).unwrap();
                assert_eq!(root, self.root(size), "root_at({size})");
                assert_eq!(
                    proof,
                    self.tree
                        .inclusion_proof(LeafIndex(leaf), TreeSize(size))
                        .unwrap(),
                    "proof of {leaf} in {size}"
                );
                // The entry and proof read together are the same entry and proof.
                let (bytes, with_entry) = self
                    .ledger()
                    .entry_with_inclusion_proof(&self.code, leaf, size)
                    .unwrap();
                assert_eq!(
                    bytes, self.entries[leaf as usize],
                    "entry {leaf} with its proof"
                );
                assert_eq!(
                    with_entry, proof,
                    "proof of {leaf} in {size} with its entry"
                );
                let leaf_hash = Blake3Hasher::leaf(&self.entries[leaf as usize]);
                // The leaf hash and proof, read cold and again (then from the cached leaf
                // tiles when the entry's block is complete), and for the whole log.
                for _ in 0..2 {
                    let (hash, with_leaf) = self
                        .ledger()
                        .leaf_with_inclusion_proof(&self.code, leaf, size)
                        .unwrap();
                    assert_eq!(hash, leaf_hash, "leaf hash of {leaf} with its proof");
                    assert_eq!(with_leaf, proof, "proof of {leaf} in {size} with its leaf");
                }
                let full = self.size();
                let (hash, _) = self
                    .ledger()
                    .leaf_with_inclusion_proof(&self.code, leaf, full)
                    .unwrap();
                assert_eq!(hash, leaf_hash, "leaf hash of {leaf} in {full}");
                verify_inclusion::<Blake3Hasher>(
                    &leaf_hash,
                    LeafIndex(leaf),
                    TreeSize(size),
                    &proof,
                    &root,
                )
                .unwrap_or_else(|e| panic!("inclusion of {leaf} in {size}: {e}"));
                // And the proof proves only that leaf.
                let mut other = leaf_hash;
                other[0] ^= 1;
                assert!(verify_inclusion::<Blake3Hasher>(
                    &other,
                    LeafIndex(leaf),
                    TreeSize(size),
                    &proof,
                    &root
                )
                .is_err());
            }
            Op::Consistency { first, second } => {
                let first = first % (self.size() + 1);
                let second = first + second % (self.size() - first + 1);
                let proof = self
                    .ledger()
                    .consistency_proof(&self.code, first, second)
                    .unwrap();
                let expected = self
                    .tree
                    .consistency_proof(TreeSize(first), TreeSize(second))
                    .unwrap();
                assert_eq!(proof, expected, "consistency {first} → {second}");
                let (root1, root2) = (
                    self.ledger().root_at(&self.code, first).unwrap(),
                    self.ledger().root_at(&self.code, second).unwrap(),
                );
                assert_eq!(
                    (root1, root2),
                    (self.root(first), self.root(second)),
                    "roots at {first} and {second}"
                );
                verify_consistency::<Blake3Hasher>(
                    TreeSize(first),
                    TreeSize(second),
                    &proof,
                    &root1,
                    &root2,
                )
                .unwrap_or_else(|e| panic!("consistency {first} → {second}: {e}"));
            }
            Op::Checkpoint => self.check_checkpoint(),
            Op::OutOfRange { beyond } => {
                let (ledger, code, size) = (self.ledger(), &self.code, self.size());
                let out_of_range =
                    |r: Result<_, StoreError>| matches!(r, Err(StoreError::OutOfRange { .. }));
                assert!(out_of_range(ledger.entry(code, size + beyond).map(|_| ())));
                assert!(out_of_range(
                    ledger.root_at(code, size + 1 + beyond).map(|_| ())
                ));
                assert!(out_of_range(
                    ledger
                        .inclusion_proof(code, size + beyond, size)
                        .map(|_| ())
                ));
                assert!(out_of_range(
                    ledger
                        .inclusion_proof(code, 0, size + 1 + beyond)
                        .map(|_| ())
                ));
                assert!(out_of_range(
                    ledger
                        .consistency_proof(code, 1, size + 1 + beyond)
                        .map(|_| ())
                ));
                assert!(out_of_range(
                    ledger
                        .consistency_proof(code, size, size.saturating_sub(1 + beyond))
                        .map(|_| ())
                ));
                assert!(ledger.entries(code, size + beyond, 10).unwrap().is_empty());
            }
            Op::Reopen => {
                let before = self.ledger().latest_checkpoint(&self.code).unwrap();
                self.ledger.take().unwrap().close().unwrap();
                let ledger = Ledger::open(&self.path, Policy::default())
                    .unwrap_or_else(|e| panic!("reopen: {e}"));
                ledger
                    .set_signer(&self.code, Officers::from_seed(SEED).bureau)
                    .unwrap();
                self.ledger = Some(ledger);
                assert_eq!(
                    self.ledger().latest_checkpoint(&self.code).unwrap(),
                    before,
                    "latest checkpoint after reopening"
                );
            }
        }
        self.check_head();
    }

    fn append(&mut self, cases: u64, take: usize, extras: &[(Extra, usize)]) {
        self.batches += 1;
        let now_ms = TIME_MS + self.batches;
        let mut valid = case_submissions(
            &self.officers,
            &self.insts,
            self.next_case,
            cases,
            self.next_case ^ SEED,
        )
        .unwrap();
        self.next_case += cases;
        valid.truncate(take);
        let mut batch: Vec<(Submission, Expect)> =
            valid.into_iter().map(|s| (s, Expect::Fresh)).collect();
        for (extra, position) in extras {
            let item = match extra {
                Extra::Bad(bad) => (
                    self.bad_submission(bad, now_ms),
                    Expect::Refused(bad.clone()),
                ),
                Extra::Duplicate { pick } => {
                    let seq = pick % self.stored.len();
                    (self.stored[seq].clone(), Expect::Duplicate(seq as u64))
                }
            };
            batch.insert(position % (batch.len() + 1), item);
        }
        let checkpoint_before = self.ledger().latest_checkpoint(&self.code).unwrap();
        let submissions: Vec<Submission> = batch.iter().map(|(s, _)| s.clone()).collect();
        let results = self
            .ledger()
            .append_batch(&self.code, submissions, now_ms)
            .unwrap();
        assert_eq!(results.len(), batch.len());

        let size_before = self.size();
        let mut fresh_receipts = Vec::new();
        for (i, ((submission, expect), result)) in batch.into_iter().zip(results).enumerate() {
            let context = format!("batch {} item {i} ({expect:?})", self.batches);
            match expect {
                Expect::Fresh => {
                    let receipt = result.unwrap_or_else(|e| panic!("{context}: refused: {e}"));
                    let seq = self.size();
                    let prev = Blake3Hasher::leaf(self.entries.last().unwrap());
                    let bytes = encode_entry(seq, &prev, &submission.view().unwrap());
                    assert!(
                        !receipt.duplicate,
                        "{context}: a fresh statement reported as a duplicate"
                    );
                    assert_eq!(
                        (receipt.log, receipt.seq),
                        (self.code, seq),
                        "{context}: log and seq"
                    );
                    assert_eq!(
                        receipt.leaf_hash,
                        Blake3Hasher::leaf(&bytes),
                        "{context}: leaf hash"
                    );
                    self.push_expected(bytes);
                    self.stored.push(submission);
                    fresh_receipts.push(receipt);
                }
                Expect::Duplicate(seq) => {
                    let receipt = result.unwrap_or_else(|e| panic!("{context}: refused: {e}"));
                    assert!(
                        receipt.duplicate,
                        "{context}: a stored statement appended again"
                    );
                    assert_eq!(receipt.seq, seq, "{context}: seq of the original");
                    assert_eq!(
                        receipt.leaf_hash,
                        self.tree.leaf_hash(LeafIndex(seq)).unwrap(),
                        "{context}: leaf hash"
                    );
                    assert!(
                        receipt.checkpoint_size > seq,
                        "{context}: checkpoint {} does not cover {seq}",
                        receipt.checkpoint_size
                    );
                }
                Expect::Refused(bad) => {
                    let error = match result {
                        Ok(receipt) => panic!("{context}: accepted: {receipt:?}"),
                        Err(e) => e,
                    };
                    let right = match bad {
                        Bad::ForgedSignature { .. } => matches!(error, AppendError::Signature(_)),
                        Bad::MalformedPayload { .. } => matches!(error, AppendError::Payload(_)),
                        Bad::RuleBreach => matches!(error, AppendError::Rule(_)),
                        Bad::WrongLog => matches!(error, AppendError::WrongLog { .. }),
                        Bad::FromTheFuture => matches!(error, AppendError::FromTheFuture { .. }),
                    };
                    assert!(right, "{context}: refused for the wrong reason: {error:?}");
                }
            }
        }
        for receipt in &fresh_receipts {
            assert_eq!(
                receipt.checkpoint_size,
                self.size(),
                "the batch's checkpoint covers the batch"
            );
        }
        for seq in size_before..self.size() {
            assert_eq!(
                self.ledger().entry(&self.code, seq).unwrap(),
                self.entries[seq as usize],
                "stored entry {seq}"
            );
        }
        if fresh_receipts.is_empty() {
            assert_eq!(
                self.ledger().latest_checkpoint(&self.code).unwrap(),
                checkpoint_before,
                "a batch that added nothing signed a checkpoint"
            );
        }
        self.check_checkpoint();
    }

    fn check_checkpoint(&self) {
        let text = self.ledger().latest_checkpoint(&self.code).unwrap();
        let signed = SignedCheckpoint::parse(&text).unwrap();
        let origin = self.code.origin();
        let key = VerifierKey::from_signing_key(&origin, &self.officers.bureau, KeyKind::Ed25519)
            .unwrap();
        signed
            .verify(&key)
            .unwrap_or_else(|e| panic!("latest checkpoint: {e}"));
        assert_eq!(signed.checkpoint.origin, origin);
        assert_eq!(
            signed.checkpoint.size,
            self.size(),
            "latest checkpoint size"
        );
        assert_eq!(
            signed.checkpoint.root,
            self.root(self.size()),
            "latest checkpoint root"
        );
        let kept = self.ledger().checkpoints(&self.code).unwrap();
        assert_eq!(
            kept.last(),
            Some(&(self.size(), text)),
            "the latest kept checkpoint"
        );
    }

    /// The whole ledger verifies, and the verifier saw what the oracle holds.
    fn finish(self) {
        let report = verify_ledger(self.ledger(), &|_| {});
        assert!(
            report.is_ok(),
            "verification failed: {:?}",
            &report.failures[..report.failures.len().min(10)]
        );
        assert_eq!(report.entries(), self.size());
        assert_eq!(report.logs[0].root, hex::encode(self.root(self.size())));
        self.ledger.unwrap().close().unwrap();
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 32,
        rng_seed: RngSeed::Fixed(0x6d6f_64656c),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    })]

    #[test]
    fn ledger_matches_the_model(ops in prop::collection::vec(op(), 20..=60)) {
        let mut model = Model::new();
        for op in &ops {
            model.apply(op);
        }
        model.finish();
    }
}

#[test]
fn a_statement_repeated_in_one_batch_gets_the_first_copys_receipt() {
    let mut model = Model::new();
    let submission = case_submissions(&model.officers, &model.insts, 0, 1, 1)
        .unwrap()
        .remove(0);
    let results = model
        .ledger()
        .append_batch(
            &model.code,
            vec![submission.clone(), submission.clone()],
            TIME_MS + 1,
        )
        .unwrap();
    let first = results[0].clone().unwrap();
    let second = results[1].clone().unwrap();
    assert!(!first.duplicate && second.duplicate);
    assert_eq!(second.seq, first.seq);
    // The receipt names the entry: its leaf hash is the stored entry's, as for a
    // statement re-submitted in a later batch.
    let stored = model.ledger().entry(&model.code, first.seq).unwrap();
    assert_eq!(first.leaf_hash, Blake3Hasher::leaf(&stored));
    assert_eq!(
        second.leaf_hash, first.leaf_hash,
        "the in-batch duplicate's receipt has another leaf hash"
    );
    let later = model
        .ledger()
        .append_batch(&model.code, vec![submission], TIME_MS + 2)
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(later.duplicate);
    assert_eq!((later.seq, later.leaf_hash), (first.seq, first.leaf_hash));
    model.push_expected(stored);
    model.check_head();
}

#[test]
fn a_malformed_signature_in_a_batch_does_not_shift_the_blame() {
    // Three fresh, independent inspection openings. The first signature's S is not
    // canonical, so it is refused as soon as it is put into the batch verifier; the third
    // is well-formed but does not verify; the second is valid.
    let mut model = Model::new();
    let mut submissions = model.openings(3);
    submissions[0].signature[63] |= 0xf0;
    submissions[2].signature[32] ^= 1;
    let results = model
        .ledger()
        .append_batch(&model.code, submissions.clone(), TIME_MS + 1)
        .unwrap();
    let mut problems = Vec::new();
    if !matches!(results[0], Err(AppendError::Signature(_))) {
        problems.push(format!(
            "the malformed signature was answered {:?}",
            results[0]
        ));
    }
    if results[1].is_err() {
        problems.push(format!(
            "the valid submission was refused: {:?}",
            results[1]
        ));
    }
    if !matches!(results[2], Err(AppendError::Signature(_))) {
        problems.push(format!(
            "the forged signature was accepted: {:?}",
            results[2]
        ));
    }
    // Whatever was acknowledged is in the log, and nothing else.
    model.expect_acknowledged(submissions, &results);
    model.check_head();
    assert!(problems.is_empty(), "{}", problems.join("; "));
}

#[test]
fn bad_signatures_in_every_piece_of_a_large_batch_are_blamed_on_their_own_submissions() {
    // 200 independent inspection openings: a batch this large has its signatures checked
    // in pieces on every core, so a failure's position must map back through its piece.
    // One forged signature early in the first piece, one malformed and one forged in the
    // second, and the batch's very last submission forged.
    let mut model = Model::new();
    let mut submissions = model.openings(200);
    let forged = [5usize, 120, 199];
    let malformed = 150usize;
    for &i in &forged {
        submissions[i].signature[40] ^= 0x02;
    }
    submissions[malformed].signature[63] |= 0xf0;
    let results = model
        .ledger()
        .append_batch(&model.code, submissions.clone(), TIME_MS + 1)
        .unwrap();
    assert_eq!(results.len(), submissions.len());
    let refused: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(refused, vec![5, 120, 150, 199], "refused: {refused:?}");
    for &i in &refused {
        assert!(
            matches!(results[i], Err(AppendError::Signature(_))),
            "submission {i} was refused for another reason: {:?}",
            results[i]
        );
    }
    model.expect_acknowledged(submissions, &results);
    model.check_head();
}
