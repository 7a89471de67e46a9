//! Replicas at the storage level: another bureau's entries, received in batches, are stored
//! only when every entry and the batch's tie to the owner's signed checkpoint verify; bad
//! batches are refused with the seq and reason and change nothing; equivocation proofs
//! freeze a log for good.

use ed25519_dalek::SigningKey;
use yibao_ledger::equivocation::EquivocationProof;
use yibao_ledger::keys::LogCode;
use yibao_ledger::page;
use yibao_ledger::store::{Ledger, ReplicaError};
use yibao_ledger::verify::verify_ledger;
use yibao_schema::entry::EntryRef;
use yibao_schema::note::SignedCheckpoint;
use yibao_schema::policy::Policy;
use yibao_tests::{
    assert_tail_rows_only_for_last_page, case_submissions, county, forge_signature, page_entries,
    page_of_entries, setup_county, TIME_MS,
};

struct Owner {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    bureau: SigningKey,
}

fn owner(seed: u64, cases: u64) -> Owner {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let (officers, insts) = setup_county(&ledger, seed, 6).unwrap();
    // Several batches, so that the owner keeps several checkpoints.
    for part in 0..4 {
        let subs = case_submissions(&officers, &insts, part * cases, cases, seed + part).unwrap();
        for r in ledger.append_batch(&county(), subs, TIME_MS).unwrap() {
            r.unwrap();
        }
        assert_tail_rows_only_for_last_page(&ledger, &county(), "owner");
    }
    Owner {
        _dir: dir,
        ledger,
        bureau: officers.bureau.clone(),
    }
}

fn replica(owner: &Owner) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    ledger
        .create_replica_log(
            county(),
            "柳林县医疗保障局",
            &owner.bureau.verifying_key().to_bytes(),
        )
        .unwrap();
    (dir, ledger)
}

/// What a serving peer sends for `[start, start + count)`: the entries, its latest
/// checkpoint and the consistency proof from the batch's end to it.
fn serve(
    owner: &Ledger,
    code: &LogCode,
    start: u64,
    count: u64,
) -> (Vec<Vec<u8>>, String, Vec<[u8; 32]>) {
    let (_, entries, checkpoint, proof) = serve_batch(owner, code, start, count, false);
    (entries, checkpoint, proof)
}

/// Panics unless the replica holds the county's log with the owner's root and latest
/// checkpoint.
fn assert_same_as_owner(replica: &Ledger, owner: &Owner) {
    let code = county();
    assert_eq!(
        replica.root(&code).unwrap(),
        owner.ledger.root(&code).unwrap()
    );
    assert_eq!(
        replica.latest_checkpoint(&code).unwrap(),
        owner.ledger.latest_checkpoint(&code).unwrap()
    );
}

/// A replica that took the owner's first `count` entries honestly.
fn replica_holding_first(owner: &Owner, count: u64) -> (tempfile::TempDir, Ledger) {
    let (dir, replica) = replica(owner);
    let (entries, checkpoint, proof) = serve(&owner.ledger, &county(), 0, count);
    replica
        .append_replicated(&county(), 0, &entries, &checkpoint, &proof)
        .unwrap();
    (dir, replica)
}

#[test]
fn a_replica_catches_up_in_batches_and_verifies() {
    let owner = owner(1, 6);
    let code = county();
    let size = owner.ledger.size(&code).unwrap();
    assert!(size > 100, "a real log: {size}");
    let (dir, replica) = replica(&owner);
    // An empty replica reopens.
    drop(replica);
    let mut replica = Ledger::open(dir.path(), Policy::default()).unwrap();
    let mut start = 0;
    let mut batches = 0;
    while start < size {
        if batches == 1 {
            // Mid-way to the first checkpoint (a pending target stored): reopens too.
            assert!(replica.pending_target(&code).unwrap().is_some());
            drop(replica);
            replica = Ledger::open(dir.path(), Policy::default()).unwrap();
        }
        let (entries, checkpoint, proof) = serve(&owner.ledger, &code, start, 37);
        let progress = replica
            .append_replicated(&code, start, &entries, &checkpoint, &proof)
            .unwrap();
        start = progress.size;
        batches += 1;
        assert_tail_rows_only_for_last_page(&replica, &code, "replica");
        if batches == 1 {
            // A small batch's index rows wait for a later, larger write; a read writes
            // them first, so it always finds what was replicated.
            assert_eq!(replica.index_queued(), progress.size);
            assert_eq!(replica.indexed_size(&code).unwrap(), progress.size);
            assert_eq!(replica.index_queued(), 0);
        }
        // Between checkpoints the replica verifies too: a pending target ties the stored
        // prefix to the owner's signed checkpoint.
        let report = verify_ledger(&replica, &|_| {});
        assert_eq!(report.failure_count, 0, "{:?}", report.failures);
        assert_eq!(progress.reached_checkpoint, progress.size == size);
    }
    assert!(batches > 3);
    assert_same_as_owner(&replica, &owner);
    assert!(replica.pending_target(&code).unwrap().is_none());
    // The replica's domain state is the owner's.
    assert_eq!(
        replica.state(&code).unwrap().officers().len(),
        owner.ledger.state(&code).unwrap().officers().len()
    );
    // Again from the start: refused as not contiguous, nothing changes.
    let (entries, checkpoint, proof) = serve(&owner.ledger, &code, 0, 10);
    let err = replica
        .append_replicated(&code, 0, &entries, &checkpoint, &proof)
        .unwrap_err();
    assert!(
        matches!(err, ReplicaError::NotContiguous { expected, got: 0, .. } if expected == size)
    );
    assert!(!err.is_peer_fault());
    // An owner never takes its own log from peers.
    let err = owner
        .ledger
        .append_replicated(&code, size, &[], &checkpoint, &[])
        .unwrap_err();
    assert!(matches!(err, ReplicaError::OwnLog(_)));
}

/// Re-encodes an entry with a changed field.
fn reencode(bytes: &[u8], seq: Option<u64>, prev: Option<[u8; 32]>) -> Vec<u8> {
    let entry = EntryRef::decode(bytes).unwrap();
    yibao_schema::entry::encode_entry(
        seq.unwrap_or(entry.seq),
        &prev.unwrap_or(entry.prev),
        &entry.submission,
    )
}

#[test]
fn bad_batches_are_refused_with_the_seq_and_change_nothing() {
    let owner = owner(2, 3);
    let code = county();
    let (_dir, replica) = replica_holding_first(&owner, 20);
    let (good, checkpoint, proof) = serve(&owner.ledger, &code, 20, 30);
    type Tamper = Box<dyn Fn(&mut Vec<Vec<u8>>, &mut String, &mut Vec<[u8; 32]>)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "forged signature",
            // The batch's last entry: no later entry's prev link gives it away.
            Box::new(|e, _, _| forge_signature(&mut e[29])),
            "entry 49: signature: ",
        ),
        (
            "broken prev link",
            Box::new(|e, _, _| e[3] = reencode(&e[3], None, Some([7; 32]))),
            "entry 23: prev",
        ),
        (
            "wrong seq",
            Box::new(|e, _, _| e[0] = reencode(&e[0], Some(99), None)),
            "entry 20: carries seq 99",
        ),
        (
            "garbage bytes",
            Box::new(|e, _, _| e[2] = vec![0xff, 0x00, 0x13]),
            "entry 22: ",
        ),
        (
            "a checkpoint that does not match the entries",
            Box::new(|e, _, _| e.truncate(10)),
            "consistency",
        ),
        (
            "a tampered proof",
            Box::new(|_, _, p| {
                if let Some(h) = p.first_mut() {
                    h[0] ^= 1
                }
            }),
            "consistency",
        ),
        (
            "a checkpoint signed by someone else",
            Box::new(|_, c, _| {
                let signed = SignedCheckpoint::parse(c).unwrap();
                let other = SigningKey::from_bytes(&[9; 32]);
                *c = SignedCheckpoint::sign(signed.checkpoint, &other)
                    .unwrap()
                    .to_text();
            }),
            "checkpoint",
        ),
        (
            "replayed old entries",
            Box::new(|e, _, _| e[1] = e[0].clone()),
            "entry 21: ",
        ),
    ];
    for (name, tamper, needle) in cases {
        let mut entries = good.clone();
        let mut c = checkpoint.clone();
        let mut p = proof.clone();
        tamper(&mut entries, &mut c, &mut p);
        let err = replica
            .append_replicated(&code, 20, &entries, &c, &p)
            .expect_err(name);
        assert!(err.is_peer_fault(), "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(needle), "{name}: {text}");
        assert_eq!(replica.size(&code).unwrap(), 20, "{name}: nothing stored");
    }
    // And the honest batch still goes in afterwards.
    replica
        .append_replicated(&code, 20, &good, &checkpoint, &proof)
        .unwrap();
    assert_eq!(verify_ledger(&replica, &|_| {}).failure_count, 0);
}

/// A replica that has replicated the owner's whole log, and what it was served.
#[allow(clippy::type_complexity)] // reason: the three parts `serve` returns
fn replica_holding_all(
    owner: &Owner,
) -> (
    tempfile::TempDir,
    Ledger,
    (Vec<Vec<u8>>, String, Vec<[u8; 32]>),
) {
    let (dir, replica) = replica(owner);
    let size = owner.ledger.size(&county()).unwrap();
    let served = serve(&owner.ledger, &county(), 0, size);
    let (entries, checkpoint, proof) = &served;
    replica
        .append_replicated(&county(), 0, entries, checkpoint, proof)
        .unwrap();
    (dir, replica, served)
}

/// What a byzantine owner makes of its log `entries`: one more entry carrying `submission`,
/// and its own signed checkpoint over the lot.
fn continued_by_owner(
    owner: &Owner,
    entries: &[Vec<u8>],
    submission: &yibao_schema::entry::SubmissionRef<'_>,
) -> (Vec<u8>, String) {
    let prev = <yibao_ledger::merkle::Blake3Hasher as yibao_ledger::merkle::MerkleHasher>::leaf(
        entries.last().unwrap(),
    );
    let next = yibao_schema::entry::encode_entry(entries.len() as u64, &prev, submission);
    let mut tree = yibao_ledger::merkle::MemoryTree::<yibao_ledger::merkle::Blake3Hasher>::new();
    for e in entries {
        tree.push_data(e);
    }
    tree.push_data(&next);
    let signed = SignedCheckpoint::sign(
        yibao_schema::note::Checkpoint {
            origin: county().origin(),
            size: entries.len() as u64 + 1,
            root: tree.root(),
            extensions: Vec::new(),
        },
        &owner.bureau,
    )
    .unwrap();
    (next, signed.to_text())
}

#[test]
fn a_repeated_statement_is_refused_before_and_after_a_restart() {
    // A byzantine owner appends an officer's signed statement a second time; a replica
    // refuses the repeat whether it saw the first copy in this run or before a restart.
    let owner = owner(5, 2);
    let code = county();
    let (dir, replica, (entries, _, _)) = replica_holding_all(&owner);
    let size = entries.len() as u64;
    let first = size - 3;
    let repeated = EntryRef::decode(&entries[first as usize]).unwrap();
    let (again, signed) = continued_by_owner(&owner, &entries, &repeated.submission);
    let refused = |replica: &Ledger| {
        let err = replica
            .append_replicated(&code, size, std::slice::from_ref(&again), &signed, &[])
            .unwrap_err();
        assert!(err.is_peer_fault(), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "the same signed statement is already entry {first}"
            )),
            "{err}"
        );
        assert_eq!(replica.size(&code).unwrap(), size);
    };
    refused(&replica);
    drop(replica);
    let replica = Ledger::open(dir.path(), Policy::default()).unwrap();
    refused(&replica);
    // Nothing of the repeat was stored: the replica still verifies.
    assert_eq!(verify_ledger(&replica, &|_| {}).failure_count, 0);
}

#[test]
fn an_unauthorised_author_is_refused_at_its_seq() {
    // A byzantine owner (its own key) signs a log with an entry by an officer it never
    // added, and one that breaks a rule: replicas refuse both at that seq.
    let owner = owner(3, 2);
    let code = county();
    let (_dir, replica, (entries, checkpoint, proof)) = replica_holding_all(&owner);
    let size = entries.len() as u64;

    // Build the bad continuation on a copy of the owner: same log, key and history.
    let bad_dir = tempfile::tempdir().unwrap();
    let forked = Ledger::open(bad_dir.path(), Policy::default()).unwrap();
    forked
        .create_replica_log(code, "x", &owner.bureau.verifying_key().to_bytes())
        .unwrap();
    forked
        .append_replicated(&code, 0, &entries, &checkpoint, &proof)
        .unwrap();
    let stranger = SigningKey::from_bytes(&[42; 32]);
    let record = yibao_schema::record::Record::Correction(yibao_schema::record::Correction {
        target_seq: 1,
        target_kind: yibao_schema::record::RecordKind::KeyEvent,
        reason: "typo".into(),
        replacement: None,
    });
    let submission = yibao_schema::entry::Submission::sign(
        &stranger,
        &code.origin(),
        TIME_MS,
        record.kind().as_str(),
        record.encode_payload().unwrap(),
    )
    .unwrap();
    let (bad, signed) = continued_by_owner(&owner, &entries, &submission.view().unwrap());
    let err = replica
        .append_replicated(&code, size, &[bad], &signed, &[])
        .unwrap_err();
    assert!(err.is_peer_fault());
    assert!(err.to_string().contains(&format!("entry {size}")), "{err}");
    assert_eq!(replica.size(&code).unwrap(), size);
}

#[test]
fn equivocation_is_proven_stored_and_freezes_the_log_across_restarts() {
    // One bureau key signs two diverging logs (same officers, different cases).
    let a = owner(4, 3);
    let dir_b = tempfile::tempdir().unwrap();
    let b_ledger = Ledger::open(dir_b.path(), Policy::default()).unwrap();
    let (officers, insts) = setup_county(&b_ledger, 4, 6).unwrap();
    assert_eq!(officers.bureau.to_bytes(), a.bureau.to_bytes());
    let code = county();
    let subs = case_submissions(&officers, &insts, 500, 5, 77).unwrap();
    for r in b_ledger.append_batch(&code, subs, TIME_MS).unwrap() {
        r.unwrap();
    }
    // A replica of A sees B's checkpoint (smaller, or larger: either way).
    let (dir, replica) = replica(&a);
    let size = a.ledger.size(&code).unwrap();
    let (entries, checkpoint, proof) = serve(&a.ledger, &code, 0, size);
    replica
        .append_replicated(&code, 0, &entries, &checkpoint, &proof)
        .unwrap();
    let seen = SignedCheckpoint::parse(&b_ledger.latest_checkpoint(&code).unwrap()).unwrap();
    assert!(seen.checkpoint.size < size, "B is the shorter history here");
    let proof = replica
        .find_equivocation(&code, &seen)
        .unwrap()
        .expect("diverging histories are found");
    // The proof stands on its own, and round-trips its encoding.
    let key = replica.log_verifier_key(&code).unwrap();
    let found = proof.verify(&key).unwrap();
    assert_ne!(found.roots.0, found.roots.1);
    let decoded = EquivocationProof::decode(&proof.encode()).unwrap();
    assert_eq!(decoded, proof);
    // Tampered proofs are not proofs.
    let mut bad = proof.clone();
    bad.prefix_root = Some(found.roots.0);
    assert!(bad.verify(&key).is_err());
    let mut bad = proof.clone();
    bad.first = proof.second.clone();
    assert!(bad.verify(&key).is_err());
    assert!(EquivocationProof::decode(&proof.encode()[..20]).is_err());

    // The honest checkpoint is no equivocation.
    let own = SignedCheckpoint::parse(&a.ledger.latest_checkpoint(&code).unwrap()).unwrap();
    assert!(replica.find_equivocation(&code, &own).unwrap().is_none());

    assert!(replica.record_equivocation(&code, &proof).unwrap());
    assert!(!replica.record_equivocation(&code, &proof).unwrap(), "once");
    assert!(replica.is_frozen(&code).unwrap());
    drop(replica);
    let reopened = Ledger::open(dir.path(), Policy::default()).unwrap();
    assert!(
        reopened.is_frozen(&code).unwrap(),
        "frozen survives a restart"
    );
    assert_eq!(reopened.equivocation(&code).unwrap(), Some(proof));
    let err = reopened
        .append_replicated(&code, size, &[], &checkpoint, &[])
        .unwrap_err();
    assert!(matches!(err, ReplicaError::Frozen(_)));
}

/// What a serving peer sends for a PagesByRange from `start` (a page's first entry): the
/// full pages among `[start, start + count)` as the owner stores them, the entries after
/// them, its latest checkpoint and the consistency proof from the batch's end to it.
#[allow(clippy::type_complexity)] // reason: the four parts of a Pages response
fn serve_pages(
    owner: &Ledger,
    code: &LogCode,
    start: u64,
    count: u64,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, String, Vec<[u8; 32]>) {
    assert_eq!(start % page::ENTRIES_PER_PAGE, 0);
    serve_batch(owner, code, start, count, true)
}

/// What a serving peer sends for `[start, start + count)`: the full pages among them as
/// the owner stores them when `with_pages`, the entries after them, its latest checkpoint
/// and the consistency proof from the batch's end to it.
#[allow(clippy::type_complexity)] // reason: the four parts of a Pages response
fn serve_batch(
    owner: &Ledger,
    code: &LogCode,
    start: u64,
    count: u64,
    with_pages: bool,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, String, Vec<[u8; 32]>) {
    let size = owner.size(code).unwrap();
    let end = size.min(start + count);
    let full = if with_pages {
        (end - start) / page::ENTRIES_PER_PAGE
    } else {
        0
    };
    let pages: Vec<Vec<u8>> = owner
        .full_pages(code, start / page::ENTRIES_PER_PAGE, full)
        .unwrap()
        .iter()
        .map(|p| p.to_vec())
        .collect();
    let loose = start + pages.len() as u64 * page::ENTRIES_PER_PAGE;
    let entries = owner
        .entries(code, loose, end - loose)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let checkpoint = owner.latest_checkpoint(code).unwrap();
    let proof = owner.consistency_from(code, end, size).unwrap();
    (pages, entries, checkpoint, proof)
}

/// Every full page of a log as stored.
fn stored_pages(ledger: &Ledger, code: &LogCode) -> Vec<Vec<u8>> {
    let size = ledger.size(code).unwrap();
    ledger
        .full_pages(code, 0, size / page::ENTRIES_PER_PAGE)
        .unwrap()
        .iter()
        .map(|p| p.to_vec())
        .collect()
}

#[test]
fn a_replica_catches_up_from_pages_and_stores_them_as_they_came() {
    let owner = owner(3, 6);
    let code = county();
    let size = owner.ledger.size(&code).unwrap();
    assert!(size > 4 * page::ENTRIES_PER_PAGE, "a real log: {size}");
    let (dir, replica) = replica(&owner);
    // Pages and loose entries from each page's first entry (40 = a page and 8 entries);
    // from inside a page, entries up to the next page's first, as a node asks.
    let mut start = 0;
    let mut paged_batches = 0;
    while start < size {
        let progress = if start % page::ENTRIES_PER_PAGE == 0 {
            let (pages, entries, checkpoint, proof) = serve_pages(&owner.ledger, &code, start, 40);
            paged_batches += usize::from(!pages.is_empty());
            replica
                .append_replicated_pages(&code, start, &pages, &entries, &checkpoint, &proof)
                .unwrap()
        } else {
            let to_boundary = page::ENTRIES_PER_PAGE - start % page::ENTRIES_PER_PAGE;
            let (entries, checkpoint, proof) = serve(&owner.ledger, &code, start, to_boundary);
            replica
                .append_replicated(&code, start, &entries, &checkpoint, &proof)
                .unwrap()
        };
        assert!(progress.size > start);
        start = progress.size;
        assert_tail_rows_only_for_last_page(&replica, &code, "replica fed pages");
        assert_eq!(verify_ledger(&replica, &|_| {}).failure_count, 0);
    }
    assert!(paged_batches > 2, "{paged_batches} batches with pages");
    assert_same_as_owner(&replica, &owner);
    // Every page is stored byte for byte as the owner stores it, and reads back after a
    // restart.
    let pages = stored_pages(&owner.ledger, &code);
    assert_eq!(pages.len() as u64, size / page::ENTRIES_PER_PAGE);
    assert_eq!(stored_pages(&replica, &code), pages);
    drop(replica);
    let replica = Ledger::open(dir.path(), Policy::default()).unwrap();
    assert_eq!(verify_ledger(&replica, &|_| {}).failure_count, 0);
    assert_eq!(
        replica.entries(&code, 0, size).unwrap(),
        owner.ledger.entries(&code, 0, size).unwrap()
    );
}

#[test]
fn bad_pages_are_refused_with_the_seq_and_change_nothing() {
    let owner = owner(4, 6);
    let code = county();
    let (_dir, replica) = replica_holding_first(&owner, 32);
    let root = replica.root(&code).unwrap();
    let (good, loose, checkpoint, proof) = serve_pages(&owner.ledger, &code, 32, 64);
    assert_eq!((good.len(), loose.len()), (2, 0));
    assert_eq!(good[1][0], 0x01, "a compressed page");
    let second = page_entries(&good[1]);
    type Tamper = Box<dyn Fn(&mut Vec<Vec<u8>>, &mut u64)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "pages from inside a page",
            Box::new(|_, start| *start = 33),
            "page boundary",
        ),
        (
            "a page that does not decompress",
            Box::new(|p, _| {
                let header = p[1][..5].to_vec();
                p[1] = [header, vec![0x42; 64]].concat();
            }),
            "entry 64: the page from 64: the compressed page does not decompress",
        ),
        (
            "a page of 31 entries",
            Box::new({
                let second = second.clone();
                move |p, _| p[1] = page_of_entries(&second[..31])
            }),
            "entry 64: the page from 64: the page holds 31 entries, not 32",
        ),
        (
            "a page padded past its frames",
            Box::new(|p, _| {
                let len = u32::from_be_bytes(p[1][1..5].try_into().unwrap()) as usize;
                let padding = len + 2 - p[1].len();
                p[1].extend(std::iter::repeat_n(0, padding));
            }),
            "larger than raw",
        ),
        (
            "a header that promises more than a page holds",
            Box::new(|p, _| p[1][1..5].copy_from_slice(&u32::MAX.to_be_bytes())),
            "entry 64: the page from 64: the page header",
        ),
        (
            "pages that would expand past a response",
            Box::new(|p, _| {
                let big = (page::ENTRIES_PER_PAGE as u32) * 250_000;
                for value in p.iter_mut() {
                    value[1..5].copy_from_slice(&big.to_be_bytes());
                }
                let extra = p[0].clone();
                p.extend([extra.clone(), extra]);
            }),
            "expands to",
        ),
        (
            "a forged signature inside a page",
            Box::new({
                let second = second.clone();
                move |p, _| {
                    // The page's last entry: no later entry's prev link gives it away.
                    let mut entries = second.clone();
                    forge_signature(&mut entries[31]);
                    p[1] = page_of_entries(&entries);
                }
            }),
            "entry 95: signature: ",
        ),
        (
            "pages in the wrong order",
            Box::new(|p, _| p.swap(0, 1)),
            "entry 32: carries seq 64",
        ),
    ];
    for (name, tamper, needle) in cases {
        let mut pages = good.clone();
        let mut start = 32;
        tamper(&mut pages, &mut start);
        let err = replica
            .append_replicated_pages(&code, start, &pages, &[], &checkpoint, &proof)
            .expect_err(name);
        assert!(err.is_peer_fault(), "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(needle), "{name}: {text}");
        assert_eq!(replica.size(&code).unwrap(), 32, "{name}: nothing stored");
        assert_eq!(replica.root(&code).unwrap(), root, "{name}: nothing stored");
    }
    // And the honest pages still go in afterwards, stored as they came.
    replica
        .append_replicated_pages(&code, 32, &good, &[], &checkpoint, &proof)
        .unwrap();
    assert_eq!(replica.size(&code).unwrap(), 96);
    assert_eq!(&stored_pages(&replica, &code)[1..], &good[..]);
    assert_eq!(verify_ledger(&replica, &|_| {}).failure_count, 0);
}
