//! Helpers shared by `tamper.rs` and `model.rs`: whole cases as signed submissions that
//! the ledger accepts at [`yibao_tests::TIME_MS`], and directory copies.
//!
//! Two workarounds for the shared generator as it stands: `yibao_tests::case_submissions`
//! dates its cases in 2023, so their rectification updates (dated 2024) fall after the
//! statements' own timestamp (`TIME_MS`, November 2023) and the date rule refuses them —
//! the cases here are dated 2022; and `workload::case_records` truncates 1.5× damages
//! instead of rounding half up, so a case whose records fail the stateless rules is
//! skipped (its number is simply not used).

#![allow(dead_code)] // reason: each test binary uses its own subset of these helpers.

use std::path::Path;

use yibao_node::workload::{self, Institution, Officers, Rng, Signer};
use yibao_schema::entry::Submission;
use yibao_schema::policy::Policy;
use yibao_schema::record::Record;
use yibao_schema::rules;
use yibao_tests::{county, COUNTY, TIME_MS};

/// The year the generated cases are dated in (entirely before [`TIME_MS`]).
pub const CASE_YEAR: u32 = 2022;

/// The records of whole cases numbered from `first_case`, signed at [`TIME_MS`], in order.
/// Every fifth case number ends with an exposure notice. Case numbers whose generated
/// records the stateless rules refuse are skipped, so fewer than `count` cases may come
/// back; case numbers used are all in `first_case..first_case + count`.
pub fn cases(
    officers: &Officers,
    insts: &[Institution],
    first_case: u64,
    count: u64,
    seed: u64,
) -> Vec<Submission> {
    let mut rng = Rng::new(seed);
    let policy = Policy::default();
    let mut records: Vec<(Signer, Record)> = Vec::new();
    for case_no in first_case..first_case + count {
        let inst = &insts[rng.below(insts.len() as u64) as usize];
        let case = workload::case_records(
            &mut rng,
            COUNTY,
            "柳林县医疗保障局",
            case_no,
            inst,
            CASE_YEAR,
            case_no % 5 == 0,
        )
        .unwrap();
        if case
            .iter()
            .all(|(_, record)| rules::validate(record, &policy).is_ok())
        {
            records.extend(case);
        }
    }
    workload::sign(officers, &county().origin(), TIME_MS, &records).unwrap()
}

/// Copies the directory tree `src` to `dst` (created if missing).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}
