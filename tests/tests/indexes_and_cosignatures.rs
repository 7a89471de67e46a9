//! The ledger's derived indexes (institution, case, period) and its kept cosignatures.
//!
//! Indexes must agree with a scan of the entries, survive reopening, catch up after being
//! lost, and rebuild to the same answer. Cosignatures must be verified before they are
//! kept, kept durably on the checkpoint they sign, and keep that checkpoint in the history.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use yibao_ledger::store::Ledger;
use yibao_ledger::verify::verify_ledger;
use yibao_node::workload::{self, Rng, Signer};
use yibao_schema::entry::EntryRef;
use yibao_schema::note::{Cosignature, KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::policy::Policy;
use yibao_schema::record::{Record, RecordKind};
use yibao_tests::{case_submissions, county, setup_county, COUNTY, TIME_MS};

fn record_at(ledger: &Ledger, seq: u64) -> Record {
    let bytes = ledger.entry(&county(), seq).unwrap();
    let entry = EntryRef::decode(&bytes).unwrap();
    let kind = RecordKind::parse(entry.submission.statement.kind).unwrap();
    Record::decode_payload(kind, entry.submission.payload).unwrap()
}

/// (key, seq) pairs: what an index should hold.
type Pairs = Vec<(String, u64)>;

/// What the indexes should say (institution, case, period), from a scan of every entry.
fn scan(ledger: &Ledger) -> (Pairs, Pairs, Pairs) {
    let size = ledger.size(&county()).unwrap();
    let (mut by_institution, mut by_case, mut by_period) = (Vec::new(), Vec::new(), Vec::new());
    for seq in 0..size {
        let record = record_at(ledger, seq);
        if let Record::GradeSet(set) = &record {
            for grade in &set.grades {
                by_institution.push((grade.institution.as_str().to_string(), seq));
            }
        } else if let Some(code) = record.institution() {
            by_institution.push((code.as_str().to_string(), seq));
        }
        if let Some(case) = record.case_id() {
            by_case.push((case.as_str().to_string(), seq));
        }
        match &record {
            Record::GradeSet(set) => by_period.push((set.period.to_string(), seq)),
            Record::GradeRevision(r) => by_period.push((r.period.to_string(), seq)),
            _ => {}
        }
    }
    (by_institution, by_case, by_period)
}

/// The 2021 grade set of `insts`, signed by the adjudicator.
fn signed_grade_set(
    officers: &workload::Officers,
    insts: &[workload::Institution],
    seed: u64,
) -> Vec<yibao_schema::entry::Submission> {
    let grades = workload::grade_set(COUNTY, "2021", insts, &mut Rng::new(seed)).unwrap();
    workload::sign(
        officers,
        &county().origin(),
        TIME_MS,
        &[(Signer::Adjudicator, grades)],
    )
    .unwrap()
}

fn query(ledger: &Ledger, expected: &(Pairs, Pairs, Pairs)) {
    let code = county();
    let institutions: BTreeSet<&String> = expected.0.iter().map(|(k, _)| k).collect();
    for institution in institutions {
        let want: Vec<u64> = expected
            .0
            .iter()
            .filter(|(k, _)| k == institution)
            .map(|(_, s)| *s)
            .collect();
        let got: Vec<u64> = ledger
            .entries_about_institution(institution)
            .unwrap()
            .into_iter()
            .map(|(log, seq)| {
                assert_eq!(log, code);
                seq
            })
            .collect();
        assert_eq!(got, want, "institution {institution}");
    }
    let cases: BTreeSet<&String> = expected.1.iter().map(|(k, _)| k).collect();
    assert!(cases.len() > 5, "the test needs several cases");
    for case in cases {
        let want: Vec<u64> = expected
            .1
            .iter()
            .filter(|(k, _)| k == case)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            ledger.entries_of_case(&code, case).unwrap(),
            want,
            "case {case}"
        );
    }
    let periods: BTreeSet<&String> = expected.2.iter().map(|(k, _)| k).collect();
    assert!(!periods.is_empty(), "the test needs a grade set");
    for period in periods {
        let want: Vec<(yibao_ledger::keys::LogCode, u64)> = expected
            .2
            .iter()
            .filter(|(k, _)| k == period)
            .map(|(_, s)| (code, *s))
            .collect();
        assert_eq!(
            ledger.grades_of_period(period).unwrap(),
            want,
            "period {period}"
        );
    }
    assert!(ledger
        .entries_about_institution("H99999999999")
        .unwrap()
        .is_empty());
    assert!(ledger
        .entries_of_case(&code, "no-such-case")
        .unwrap()
        .is_empty());
}

/// Closes and reopens the ledger, then checks that every entry is indexed and the
/// indexes give the expected answers.
fn reopened_and_fully_indexed(
    ledger: Ledger,
    dir: &std::path::Path,
    expected: &(Pairs, Pairs, Pairs),
) -> Ledger {
    ledger.close().unwrap();
    let ledger = Ledger::open(dir, Policy::default()).unwrap();
    assert_eq!(
        ledger.indexed_size(&county()).unwrap(),
        ledger.size(&county()).unwrap()
    );
    query(&ledger, expected);
    ledger
}

#[test]
fn indexes_agree_with_the_entries_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let (officers, insts) = setup_county(&ledger, 5, 20).unwrap();
    for batch in 0..3 {
        let subs = case_submissions(&officers, &insts, batch * 10, 10, 50 + batch).unwrap();
        for result in ledger.append_batch(&code, subs, TIME_MS + batch).unwrap() {
            result.unwrap();
        }
    }
    let subs = signed_grade_set(&officers, &insts, 3);
    ledger
        .append_batch(&code, subs, TIME_MS)
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();

    let expected = scan(&ledger);
    assert_eq!(
        ledger.indexed_size(&code).unwrap(),
        ledger.size(&code).unwrap()
    );
    query(&ledger, &expected);

    // Reopened: the same answers. Lost: caught up on open. Rebuilt: the same answers.
    ledger.close().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    query(&ledger, &expected);
    ledger.db().open_tree("index").unwrap().clear().unwrap();
    let ledger = reopened_and_fully_indexed(ledger, dir.path(), &expected);
    ledger.rebuild_indexes().unwrap();
    query(&ledger, &expected);
}

/// The appender writes index rows after it answers; a read right after an answer must
/// still find the entry (reads write what is queued first), and the rows must be there
/// after the appender stops and the ledger is reopened.
#[test]
fn entries_acknowledged_by_the_appender_are_in_the_indexes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
    let (officers, insts) = setup_county(&ledger, 7, 20).unwrap();
    let clock: yibao_ledger::appender::Clock = std::sync::Arc::new(|| TIME_MS + 10);
    let (appender, writer) =
        yibao_ledger::appender::Appender::start(ledger.clone(), code, clock).unwrap();
    let mut subs = case_submissions(&officers, &insts, 0, 12, 77).unwrap();
    subs.extend(signed_grade_set(&officers, &insts, 5));
    for submission in subs {
        let receipt = appender.submit(submission).unwrap();
        let record = record_at(&ledger, receipt.seq);
        if let Some(case) = record.case_id() {
            let seqs = ledger.entries_of_case(&code, case.as_str()).unwrap();
            assert!(
                seqs.contains(&receipt.seq),
                "entry {} of case {} not in the case index right after its receipt",
                receipt.seq,
                case.as_str()
            );
        }
        assert_eq!(
            ledger.indexed_size(&code).unwrap(),
            receipt.seq + 1,
            "the watermark right after the receipt of entry {}",
            receipt.seq
        );
    }
    drop(appender);
    writer.join();
    let expected = scan(&ledger);
    query(&ledger, &expected);
    let ledger = std::sync::Arc::into_inner(ledger).unwrap();
    reopened_and_fully_indexed(ledger, dir.path(), &expected);
}

/// A batch writes one index row per indexed thing (a case, an institution…), its seqs in
/// the value; rows written one per seq, as before grouping, read the same; a range of
/// notices starting inside a group finds exactly the notices in the range; a damaged row
/// is an error, not a wrong answer.
#[test]
fn index_rows_group_a_batch_and_read_the_same_as_one_row_per_seq() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    workload::build_ledger(&ledger, code, "柳林县医疗保障局", 2_000, 11).unwrap();
    // The grade sets come last in the generated records, after the ones kept here.
    let officers = workload::Officers::from_seed(11);
    let insts = workload::institutions(COUNTY, 300);
    let subs = signed_grade_set(&officers, &insts, 5);
    workload::append_all(&ledger, &code, subs, TIME_MS).unwrap();
    let size = ledger.size(&code).unwrap();
    let expected = scan(&ledger);
    query(&ledger, &expected);
    let notices: Vec<u64> = (0..size)
        .filter(|seq| matches!(record_at(&ledger, *seq), Record::ExposureNotice(_)))
        .collect();
    assert!(notices.len() > 3, "the test needs several notices");

    let index = ledger.db().open_tree("index").unwrap();
    let pointers = expected.0.len() + expected.1.len() + expected.2.len() + notices.len();
    let rows = index.len();
    assert!(
        rows * 2 < pointers,
        "{rows} index rows for {pointers} pointers: a batch's rows were not grouped"
    );

    let notice_ranges = |ledger: &Ledger| {
        let mut bounds: Vec<u64> = notices.iter().flat_map(|s| [*s, s + 1]).collect();
        bounds.extend([0, 1, size / 2, size]);
        for &from in &bounds {
            for &to in &bounds {
                let want: Vec<u64> = notices
                    .iter()
                    .copied()
                    .filter(|s| (from..to).contains(s))
                    .collect();
                assert_eq!(
                    ledger.exposure_notices_in(&code, from, to).unwrap(),
                    want,
                    "notices in [{from}, {to})"
                );
            }
        }
        let all: Vec<u64> = ledger
            .exposure_notices()
            .unwrap()
            .into_iter()
            .map(|(_, seq)| seq)
            .collect();
        assert_eq!(all, notices);
    };
    notice_ranges(&ledger);

    // The rows a store wrote before grouping: one per seq, empty values.
    index.clear().unwrap();
    for seq in 0..size {
        for key in yibao_ledger::index::keys_for(&code, seq, &record_at(&ledger, seq)) {
            index.insert(key, &[][..]).unwrap();
        }
    }
    let mut watermark = b"W".to_vec();
    watermark.extend_from_slice(code.as_bytes());
    index.insert(watermark, &size.to_be_bytes()[..]).unwrap();
    assert_eq!(index.len() - 1, pointers);
    query(&ledger, &expected);
    notice_ranges(&ledger);

    // A damaged row: a value that is not a list of seqs.
    let (case, _) = &expected.1[0];
    let mut key = b"K".to_vec();
    key.extend_from_slice(code.as_bytes());
    key.extend_from_slice(case.as_bytes());
    key.push(0);
    key.extend_from_slice(&u64::MAX.to_be_bytes());
    index.insert(key, &[1, 2, 3][..]).unwrap();
    let err = ledger.entries_of_case(&code, case).unwrap_err();
    assert!(
        err.to_string().contains("not a list of 8-byte seqs"),
        "{err}"
    );
}

#[test]
fn cosignatures_are_verified_kept_and_keep_their_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let (officers, insts) = setup_county(&ledger, 6, 10).unwrap();
    let witness_key = SigningKey::from_bytes(&[0x57; 32]);
    let witness =
        VerifierKey::from_signing_key("witness.city/141100", &witness_key, KeyKind::CosignatureV1)
            .unwrap();
    let size = ledger.size(&code).unwrap();
    let signed = SignedCheckpoint::parse(&ledger.latest_checkpoint(&code).unwrap()).unwrap();
    assert_eq!(signed.checkpoint.size, size);

    // A cosignature of another checkpoint, or by another key, is refused.
    let mut other = signed.checkpoint.clone();
    other.size += 1;
    let wrong =
        Cosignature::sign(&other, "witness.city/141100", &witness_key, 1_750_000_000).unwrap();
    assert!(ledger
        .add_cosignature(&code, size, &wrong, &witness)
        .is_err());
    let impostor_key = SigningKey::from_bytes(&[0x58; 32]);
    let impostor = Cosignature::sign(
        &signed.checkpoint,
        "witness.city/141100",
        &impostor_key,
        1_750_000_000,
    )
    .unwrap();
    assert!(ledger
        .add_cosignature(&code, size, &impostor, &witness)
        .is_err());
    assert!(ledger
        .add_cosignature(&code, size + 5, &impostor, &witness)
        .is_err());

    let good = Cosignature::sign(
        &signed.checkpoint,
        "witness.city/141100",
        &witness_key,
        1_750_000_000,
    )
    .unwrap();
    assert!(ledger
        .add_cosignature(&code, size, &good, &witness)
        .unwrap());
    assert!(
        !ledger
            .add_cosignature(&code, size, &good, &witness)
            .unwrap(),
        "adding it again changes nothing"
    );
    let cosigned = SignedCheckpoint::parse(&ledger.latest_checkpoint(&code).unwrap()).unwrap();
    assert!(cosigned.find_cosignature(&witness).unwrap().is_some());
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());

    // A later batch keeps the cosigned checkpoint in the history, and it survives reopening.
    let subs = case_submissions(&officers, &insts, 0, 3, 9).unwrap();
    for result in ledger.append_batch(&code, subs, TIME_MS + 1).unwrap() {
        result.unwrap();
    }
    ledger.close().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let kept = ledger.checkpoints(&code).unwrap();
    let (_, text) = kept
        .iter()
        .find(|(s, _)| *s == size)
        .expect("the cosigned checkpoint is kept");
    assert!(SignedCheckpoint::parse(text)
        .unwrap()
        .find_cosignature(&witness)
        .unwrap()
        .is_some());
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());
}

#[test]
fn bundles_with_no_logs_twice_the_same_log_or_a_missing_pinned_log_fail() {
    use yibao_ledger::bundle;
    use yibao_schema::cbor::Encoder;
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    setup_county(&ledger, 8, 5).unwrap();
    let mut bytes = Vec::new();
    bundle::export(&ledger, &[], &mut bytes).unwrap();
    let vkey = bundle::genesis_vkey(&ledger.meta(&code).unwrap()).unwrap();
    let policy = Policy::default();
    let ok = bundle::verify_bundle(&bytes, &policy, std::slice::from_ref(&vkey), &|_| {}).unwrap();
    assert!(ok.is_ok(), "{:?}", ok.failures);

    // No logs at all, even with a pinned key.
    let mut empty = Encoder::new();
    empty
        .array(3)
        .text(bundle::BUNDLE_MAGIC)
        .uint(bundle::BUNDLE_VERSION)
        .array(0);
    let report = bundle::verify_bundle(
        empty.as_slice(),
        &policy,
        std::slice::from_ref(&vkey),
        &|_| {},
    )
    .unwrap();
    assert!(!report.is_ok());
    assert!(report.failures.iter().any(|f| f.what.contains("no logs")));
    assert!(report
        .failures
        .iter()
        .any(|f| f.what.contains("pinned log is missing")));

    // The same log twice: the log's encoding follows the 3 header items of the bundle.
    let header = {
        let mut e = Encoder::new();
        e.array(3)
            .text(bundle::BUNDLE_MAGIC)
            .uint(bundle::BUNDLE_VERSION)
            .array(1);
        e.into_vec()
    };
    assert_eq!(&bytes[..header.len()], &header[..]);
    let log = &bytes[header.len()..];
    let mut twice = Encoder::new();
    twice
        .array(3)
        .text(bundle::BUNDLE_MAGIC)
        .uint(bundle::BUNDLE_VERSION)
        .array(2)
        .raw(log)
        .raw(log);
    let report = bundle::verify_bundle(
        twice.as_slice(),
        &policy,
        std::slice::from_ref(&vkey),
        &|_| {},
    )
    .unwrap();
    assert!(
        report.failures.iter().any(|f| f.what.contains("twice")),
        "{:?}",
        report.failures
    );

    // A pinned key for a log the bundle does not hold.
    let other = vkey.replace("141125", "141124");
    let report = bundle::verify_bundle(&bytes, &policy, &[vkey.clone(), other], &|_| {}).unwrap();
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.what.contains("pinned log is missing")),
        "{:?}",
        report.failures
    );
}
