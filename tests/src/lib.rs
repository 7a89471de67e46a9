//! Shared helpers for the cross-crate tests in `tests/tests/`: a county ledger with
//! officers, and streams of valid records to append. Test support only; nothing here is
//! used by the product.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod net;

use anyhow::Result;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_node::workload::{self, Institution, Officers, Rng, Signer};
use yibao_schema::entry::Submission;
use yibao_schema::record::Record;

/// The county all these tests use: 柳林县.
pub const COUNTY: &str = "141125";

/// A fixed time (2025-06-15 15:06:40 UTC), after every date the generators write.
pub const TIME_MS: u64 = 1_750_000_000_000;

/// The log code of [`COUNTY`].
pub fn county() -> LogCode {
    match LogCode::parse(COUNTY) {
        Some(code) => code,
        None => unreachable!("COUNTY is six digits"),
    }
}

/// Creates the county's log in `ledger` with officers and `institutions` registered.
pub fn setup_county(
    ledger: &Ledger,
    seed: u64,
    institutions: u64,
) -> Result<(Officers, Vec<Institution>)> {
    let officers = Officers::from_seed(seed);
    let code = county();
    ledger.create_log(code, "柳林县医疗保障局", officers.bureau.clone(), TIME_MS)?;
    let insts = workload::institutions(COUNTY, institutions);
    let mut records = officers.key_events()?;
    for inst in &insts {
        records.push((Signer::Administrator, workload::register(inst)?));
    }
    let submissions = workload::sign(&officers, &code.origin(), TIME_MS, &records)?;
    workload::append_all(ledger, &code, submissions, TIME_MS)?;
    Ok((officers, insts))
}

/// The records of whole cases numbered from `first_case`, signed, in order.
pub fn case_submissions(
    officers: &Officers,
    insts: &[Institution],
    first_case: u64,
    cases: u64,
    seed: u64,
) -> Result<Vec<Submission>> {
    let mut rng = Rng::new(seed);
    let mut records: Vec<(Signer, Record)> = Vec::new();
    for case_no in first_case..first_case + cases {
        let inst = &insts[rng.below(insts.len() as u64) as usize];
        records.extend(workload::case_records(
            &mut rng,
            COUNTY,
            "柳林县医疗保障局",
            case_no,
            inst,
            2023,
            case_no % 5 == 0,
        )?);
    }
    workload::sign(officers, &county().origin(), TIME_MS, &records)
}

/// An `ACK seq leaf` line of the `append-loop` child (the entry at `seq`, whose leaf hash
/// is `leaf` in hex, was acknowledged as durable): the seq and the leaf.
pub fn parse_ack(line: &str) -> Option<(u64, String)> {
    let (seq, leaf) = line.strip_prefix("ACK ")?.split_once(' ')?;
    Some((seq.parse().ok()?, leaf.to_string()))
}

/// Panics, saying `context` and which entry, unless the county's log in `ledger` holds
/// every acknowledged entry (seq → leaf hash in hex) unchanged.
pub fn assert_holds_acknowledged(
    ledger: &Ledger,
    acknowledged: &std::collections::BTreeMap<u64, String>,
    context: &str,
) {
    use yibao_ledger::merkle::{Blake3Hasher, MerkleHasher};
    let code = county();
    let size = ledger
        .size(&code)
        .unwrap_or_else(|e| panic!("{context}: no county log: {e}"));
    for (seq, leaf) in acknowledged {
        assert!(
            *seq < size,
            "{context}: acknowledged seq {seq} is gone (size {size})"
        );
        let bytes = ledger
            .entry(&code, *seq)
            .unwrap_or_else(|e| panic!("{context}: acknowledged seq {seq} cannot be read: {e}"));
        assert_eq!(
            hex::encode(Blake3Hasher::leaf(&bytes)),
            *leaf,
            "{context}: acknowledged seq {seq} changed"
        );
    }
}

/// Panics, saying `context`, unless the log `code` of `ledger` has a tail row for exactly
/// the entries of its last, partly filled page: a full page's entries must have had their
/// tail rows removed in the batch that filled it (SPEC.md does not cover the store; see
/// `yibao_ledger::page`).
pub fn assert_tail_rows_only_for_last_page(ledger: &Ledger, code: &LogCode, context: &str) {
    use yibao_ledger::keys::{self, tag};
    use yibao_ledger::page;
    let size = ledger
        .size(code)
        .unwrap_or_else(|e| panic!("{context}: no log {code}: {e}"));
    let tree = ledger
        .db()
        .open_tree("ledger")
        .unwrap_or_else(|e| panic!("{context}: the main tree: {e}"));
    let held: Vec<u64> = tree
        .scan_prefix(keys::table_prefix(tag::TAIL, code))
        .map(|row| {
            row.ok()
                .and_then(|(key, _)| keys::trailing_u64(&key))
                .unwrap_or_else(|| panic!("{context}: an unreadable tail row"))
        })
        .collect();
    let expected: Vec<u64> = (page::first_seq(page::page_of(size))..size).collect();
    assert_eq!(
        held, expected,
        "{context}: tail rows of a log of {size} entries"
    );
}

/// Flips one bit inside the signature of an encoded entry (found through its decoded
/// view), leaving everything else as it was: a forged signature.
pub fn forge_signature(entry: &mut [u8]) {
    let signature = yibao_schema::entry::EntryRef::decode(entry)
        .unwrap_or_else(|e| panic!("not an entry: {e}"))
        .submission
        .signature;
    let at = entry
        .windows(64)
        .position(|w| w == signature)
        .unwrap_or_else(|| panic!("the signature is not in the entry's bytes"));
    entry[at + 10] ^= 1;
}

/// The entries of a full page as received (`yibao_ledger::page`), each as its own bytes.
pub fn page_entries(value: &[u8]) -> Vec<Vec<u8>> {
    yibao_ledger::page::decode_received(value)
        .unwrap_or_else(|e| panic!("not a full page: {e}"))
        .entries()
        .map(<[u8]>::to_vec)
        .collect()
}

/// A full page of `entries`, as a store writes it.
pub fn page_of_entries<E: AsRef<[u8]>>(entries: &[E]) -> Vec<u8> {
    let mut frames = Vec::new();
    for e in entries {
        yibao_ledger::page::push_frame(&mut frames, e.as_ref());
    }
    yibao_ledger::page::encode_full(&frames)
}
