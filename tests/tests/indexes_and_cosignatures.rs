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
    let mut rng = Rng::new(3);
    let grades = workload::grade_set(COUNTY, "2021", &insts, &mut rng).unwrap();
    let subs = workload::sign(
        &officers,
        &code.origin(),
        TIME_MS,
        &[(Signer::Adjudicator, grades)],
    )
    .unwrap();
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
    let grades = workload::grade_set(COUNTY, "2021", &insts, &mut Rng::new(5)).unwrap();
    subs.extend(
        workload::sign(
            &officers,
            &code.origin(),
            TIME_MS,
            &[(Signer::Adjudicator, grades)],
        )
        .unwrap(),
    );
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
