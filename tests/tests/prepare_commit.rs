//! The store's two-step append: batches prepared ahead of being written are committed in
//! the order they were prepared, readers see only what is durable, and several prepared
//! batches can share one flush.

use std::sync::Arc;

use yibao_ledger::store::Ledger;
use yibao_ledger::verify::verify_ledger;
use yibao_schema::policy::Policy;
use yibao_tests::{case_submissions, county, setup_county, TIME_MS};

#[test]
fn prepared_batches_commit_in_order_and_readers_see_only_durable_entries() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
    let (officers, insts) = setup_county(&ledger, 11, 10).unwrap();
    let before = ledger.size(&code).unwrap();
    let checkpoint_before = ledger.latest_checkpoint(&code).unwrap();

    let a = ledger
        .prepare(
            &code,
            case_submissions(&officers, &insts, 0, 2, 1).unwrap(),
            TIME_MS,
        )
        .unwrap();
    let b = ledger
        .prepare(
            &code,
            case_submissions(&officers, &insts, 2, 2, 2).unwrap(),
            TIME_MS,
        )
        .unwrap();
    let c = ledger
        .prepare(
            &code,
            case_submissions(&officers, &insts, 4, 2, 3).unwrap(),
            TIME_MS,
        )
        .unwrap();
    // Nothing is visible before it is durable.
    assert_eq!(ledger.size(&code).unwrap(), before);
    assert_eq!(ledger.latest_checkpoint(&code).unwrap(), checkpoint_before);

    // Committing B from another thread first: it waits for A.
    let waiting = {
        let ledger = ledger.clone();
        std::thread::spawn(move || ledger.commit(b))
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(
        ledger.size(&code).unwrap(),
        before,
        "B must not be written before A"
    );
    let a_results = ledger.commit(a);
    let b_results = waiting.join().unwrap();
    let a_last = a_results
        .iter()
        .map(|r| r.as_ref().unwrap().seq)
        .max()
        .unwrap();
    let b_first = b_results
        .iter()
        .map(|r| r.as_ref().unwrap().seq)
        .min()
        .unwrap();
    assert_eq!(b_first, a_last + 1);

    // C alone through commit_many; then two more batches sharing one flush.
    let c_results = ledger.commit_many(vec![c]).pop().unwrap();
    assert!(c_results.iter().all(|r| r.is_ok()));
    let d = ledger
        .prepare(
            &code,
            case_submissions(&officers, &insts, 6, 2, 4).unwrap(),
            TIME_MS,
        )
        .unwrap();
    let e = ledger
        .prepare(
            &code,
            case_submissions(&officers, &insts, 8, 2, 5).unwrap(),
            TIME_MS,
        )
        .unwrap();
    let results = ledger.commit_many(vec![d, e]);
    assert_eq!(results.len(), 2);
    assert!(results.iter().flatten().all(|r| r.is_ok()));
    let size = ledger.size(&code).unwrap();
    let appended = a_results.len()
        + b_results.len()
        + c_results.len()
        + results.iter().map(Vec::len).sum::<usize>();
    assert_eq!(size, before + appended as u64);

    // What is durable verifies, and survives reopening.
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());
    Arc::try_unwrap(ledger).unwrap().close().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    assert_eq!(ledger.size(&code).unwrap(), size);
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());
}

/// Appends write their rows to sled one by one (the journal record is what is atomic), so
/// a reader can run between a full page being written and its tail rows being removed.
/// Readers of the last pages, running beside appends that fill page after page, must
/// always get every entry below the size they saw, once each and in order.
#[test]
fn readers_beside_appends_filling_pages_see_every_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Arc::new(Ledger::open(dir.path(), Policy::default()).unwrap());
    let (officers, insts) = setup_county(&ledger, 12, 10).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let ledger = ledger.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let size = ledger.size(&code).unwrap();
                    let start = size.saturating_sub(70);
                    let got = ledger
                        .entries(&code, start, 200)
                        .unwrap_or_else(|e| panic!("reading {start}.. at size {size}: {e}"));
                    let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
                    assert!(
                        got.len() as u64 >= size - start,
                        "read {} entries from {start} at size {size}",
                        got.len()
                    );
                    let expected: Vec<u64> = (start..start + got.len() as u64).collect();
                    assert_eq!(seqs, expected, "at size {size}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let before = ledger.size(&code).unwrap();
    for case in 0..120 {
        let submissions = case_submissions(&officers, &insts, case, 1, case + 100).unwrap();
        for result in ledger.append_batch(&code, submissions, TIME_MS).unwrap() {
            result.unwrap();
        }
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let size = ledger.size(&code).unwrap();
    // Enough entries to fill many 32-entry pages, read while they filled.
    assert!(
        size - before > 320,
        "only {} entries appended",
        size - before
    );
    assert!(reads > 100, "only {reads} reads ran beside the appends");
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());
}

/// An all-or-nothing batch refused after some of its records passed (and were applied to
/// the log's state in memory) leaves no trace: the same good records are accepted
/// afterwards — the first case opening is not taken for a duplicate — and the log
/// verifies.
#[test]
fn an_abandoned_all_or_nothing_batch_leaves_the_state_as_it_was() {
    use yibao_ledger::store::AppendError;
    use yibao_node::workload::{self, Rng};

    let dir = tempfile::tempdir().unwrap();
    let code = county();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let (officers, insts) = setup_county(&ledger, 12, 4).unwrap();
    let before = ledger.size(&code).unwrap();
    let checkpoint_before = ledger.latest_checkpoint(&code).unwrap();

    let records = workload::case_records(
        &mut Rng::new(5),
        yibao_tests::COUNTY,
        "柳林县医疗保障局",
        0,
        &insts[0],
        2023,
        false,
    )
    .unwrap();
    let good = workload::sign(&officers, &code.origin(), TIME_MS, &records).unwrap();
    // The case opened again under the same id, signed a millisecond later: refused, after
    // the whole case before it passed.
    let again = workload::sign(&officers, &code.origin(), TIME_MS + 1, &records[..1]).unwrap();
    let mut batch = good.clone();
    batch.extend(again);
    let results = ledger
        .append_all_or_nothing(&code, batch, TIME_MS + 1)
        .unwrap();
    let last = results.len() - 1;
    for (i, result) in results.iter().enumerate() {
        match result {
            Err(AppendError::NotAppended) => assert!(i < last, "entry {i}"),
            Err(AppendError::Rule(violation)) => {
                assert_eq!(i, last, "entry {i}: {violation}");
                assert!(
                    violation.to_string().contains("case"),
                    "the refusal names the case: {violation}"
                );
            }
            other => panic!("entry {i}: {other:?}"),
        }
    }
    assert_eq!(ledger.size(&code).unwrap(), before);
    assert_eq!(ledger.latest_checkpoint(&code).unwrap(), checkpoint_before);

    // The good records alone go in: the state does not remember the abandoned batch.
    let results = ledger
        .append_all_or_nothing(&code, good.clone(), TIME_MS + 1)
        .unwrap();
    for (i, result) in results.iter().enumerate() {
        let receipt = result.as_ref().unwrap_or_else(|e| panic!("entry {i}: {e}"));
        assert!(!receipt.duplicate, "entry {i}");
        assert_eq!(receipt.seq, before + i as u64);
    }
    assert_eq!(ledger.size(&code).unwrap(), before + good.len() as u64);
    // And the state goes on from them: the same opening is now refused on its own.
    let again = workload::sign(&officers, &code.origin(), TIME_MS + 2, &records[..1]).unwrap();
    let results = ledger
        .append_all_or_nothing(&code, again, TIME_MS + 2)
        .unwrap();
    assert!(
        matches!(results.as_slice(), [Err(AppendError::Rule(_))]),
        "{results:?}"
    );
    assert!(verify_ledger(&ledger, &|_| {}).is_ok());
}
