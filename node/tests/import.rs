//! Tests of `yibao import`: good CSV and XLSX ledgers (the XLSX written here with
//! rust_xlsxwriter), wrong and missing headers, bad numbers, full-width digits, empty
//! files, `--skip-bad` and its report, re-import adding nothing, a mapping file, rule
//! refusals reported before anything is written, 查办分离, and the real `yibao import`
//! binary. After every import that writes, the ledger verifies. Every reason the officer
//! reads is Chinese, names the column as the file writes it and quotes the cell.

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;
use tempfile::TempDir;
use yibao_ledger::keys::LogCode;
use yibao_ledger::store::Ledger;
use yibao_ledger::verify;
use yibao_node::import::{self, mapping::Mapping, ImportOptions, ImportSummary};
use yibao_node::workload::{self, Officers};
use yibao_schema::entry::EntryRef;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Record, RecordKind};

const COUNTY: &str = "141125";
const BUREAU: &str = "柳林县医疗保障局";

/// 2026-01-01T00:00:00Z: after every date in these files.
const NOW_MS: u64 = 1_767_225_600_000;

const HEADER: &str = "案件编号,机构名称,机构编码,检查类型,检查日期,违规类型,违规金额（元）,追回金额,违约金倍数,罚款倍数,处理结果,处理日期,整改期限";

struct Fixture {
    dir: TempDir,
    ledger: Ledger,
    code: LogCode,
    officers: Officers,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger"), Policy::default()).unwrap();
        let code = LogCode::parse(COUNTY).unwrap();
        let officers = Officers::from_seed(3);
        ledger
            .create_log(code, BUREAU, officers.bureau.clone(), NOW_MS)
            .unwrap();
        let keys = workload::sign(
            &officers,
            &code.origin(),
            NOW_MS,
            &officers.key_events().unwrap(),
        )
        .unwrap();
        workload::append_all(&ledger, &code, keys, NOW_MS).unwrap();
        Fixture {
            dir,
            ledger,
            code,
            officers,
        }
    }

    fn options(&self) -> ImportOptions {
        ImportOptions {
            mapping: Mapping::default(),
            inspector: self.officers.inspector.clone(),
            adjudicator: Some(self.officers.adjudicator.clone()),
            skip_bad: false,
            check_only: false,
            progress: false,
            batch_entries: 4,
            now_ms: NOW_MS,
            bureau_name: BUREAU.into(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn import(&self, path: &Path, options: &ImportOptions) -> anyhow::Result<ImportSummary> {
        import::import_file(&self.ledger, &self.code, path, options)
    }

    fn size(&self) -> u64 {
        self.ledger.size(&self.code).unwrap()
    }

    fn assert_verifies(&self) {
        let report = verify::verify_ledger(&self.ledger, &|_| {});
        assert!(
            report.is_ok(),
            "the ledger does not verify: {:?}",
            report.failures
        );
    }

    /// Every record of `kind` in the log, decoded from the stored entries.
    fn records(&self, kind: RecordKind) -> Vec<Record> {
        let entries = self.ledger.entries(&self.code, 0, self.size()).unwrap();
        entries
            .iter()
            .filter_map(|(_, bytes)| {
                let entry = EntryRef::decode(bytes).unwrap();
                let statement = entry.submission.statement;
                (statement.kind == kind.as_str())
                    .then(|| Record::decode_payload(kind, entry.submission.payload).unwrap())
            })
            .collect()
    }
}

fn csv(rows: &[&str]) -> String {
    let mut text = String::from("\u{feff}");
    text.push_str(HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// Seed 000: 111,843 yuan recovered, 2× damages, 335,529 yuan in all.
const SEED_ROW: &str = "LL-001,柳林县人民医院,H14112500001,专项检查,2021-05-20,分解住院,\"111,843.00\",111843,2,,约谈,2021-06-25,2021-09-30";

fn errors_of(summary: &ImportSummary) -> Vec<(usize, String)> {
    summary
        .bad
        .iter()
        .map(|e| (e.row, e.column.clone()))
        .collect()
}

/// The reason given for `row` and `column`; fails the test if there is none.
fn reason_of<'s>(summary: &'s ImportSummary, row: usize, column: &str) -> &'s str {
    summary
        .bad
        .iter()
        .find(|e| e.row == row && e.column == column)
        .map(|e| e.reason.as_str())
        .unwrap_or_else(|| {
            panic!(
                "no problem at row {row}, column {column}: {:?}",
                summary.bad
            )
        })
}

/// Every reason is for a county officer: Chinese, with no field path or rule id of the
/// English rules (`items[0]`, `(rule: …)`).
fn assert_reasons_are_chinese(summary: &ImportSummary) {
    for e in &summary.bad {
        assert!(
            e.reason
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "not Chinese: {e:?}"
        );
        for english in ["rule:", "items[", "`", " is ", "refused"] {
            assert!(!e.reason.contains(english), "{english:?} in {e:?}");
        }
    }
}

#[test]
fn a_good_csv_imports_exact_money_and_verifies() {
    let f = Fixture::new();
    let before = f.size();
    let path = f.write(
        "good.csv",
        &csv(&[
            SEED_ROW,
            "LL-001,柳林县人民医院,H14112500001,专项检查,2021-05-20,重复收费,12500.5,12500.5,1,1.5,责令改正,2021-06-25,",
            "LL-002,柳林县第一诊所,H14112500101,飞行检查,2021/7/15,虚构医药服务项目,71100,71100,,3.5,暂停医保结算6个月、移交公安,2021年8月20日,",
            ",柳林县城关卫生院,H14112500203,智能监控,2021-08-02,超范围用药,3600,,,,,,2021-12-31",
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert_eq!(
        (summary.rows, summary.imported_rows, summary.bad_rows),
        (4, 4, 0),
        "{:?}",
        summary.bad
    );
    // 3 cases, 4 findings, 3 decisions, 2 rectification items.
    assert_eq!(summary.entries, 12);
    assert_eq!(f.size(), before + 12);
    f.assert_verifies();

    let decisions = f.records(RecordKind::Decision);
    assert_eq!(decisions.len(), 3);
    let Record::Decision(seed) = &decisions[0] else {
        panic!("not a decision")
    };
    assert_eq!(seed.totals.recovered.get(), 11_184_300);
    assert_eq!(seed.totals.damages.get(), 22_368_600);
    assert_eq!(
        seed.totals.total.get(),
        33_552_900,
        "111,843 × 3 = 335,529 yuan"
    );
    let Record::Decision(fraud) = &decisions[2] else {
        panic!("not a decision")
    };
    let fine = fraud.items[0].fine.unwrap();
    assert_eq!(fine.multiple.unwrap().thousandths(), 3_500);
    assert_eq!(fine.amount.get(), 24_885_000, "71,100 × 3.5 = 248,850 yuan");
    assert_eq!(fraud.other_handling.len(), 2);
    // The two rows of LL-001 are findings of one case.
    let openings = f.records(RecordKind::InspectionOpened);
    assert_eq!(openings.len(), 3);
    let findings = f.records(RecordKind::Finding);
    assert_eq!(findings[0].case_id(), findings[1].case_id());
    assert_ne!(findings[1].case_id(), findings[2].case_id());
}

#[test]
fn reimporting_adds_nothing_and_a_later_adjudicator_adds_only_decisions() {
    let f = Fixture::new();
    let path = f.write(
        "ledger.csv",
        &csv(&[
            SEED_ROW,
            "LL-002,柳林县中医医院,H14112500002,日常检查,2021-06-03,串换药品,8400,8400,1.5,,责令改正,2021-07-01,2021-10-31",
        ]),
    );
    let mut without = f.options();
    without.adjudicator = None;
    let first = f.import(&path, &without).unwrap();
    assert_eq!(first.decisions_without_adjudicator, 2);
    assert_eq!(
        first.entries, 6,
        "openings, findings and items, no decisions"
    );
    let size = f.size();

    let again = f.import(&path, &without).unwrap();
    assert_eq!(
        (again.present_rows, again.entries, again.written),
        (2, 0, false)
    );
    assert_eq!(f.size(), size);

    let with = f.import(&path, &f.options()).unwrap();
    assert_eq!(with.entries, 2, "just the two decisions");
    assert_eq!(f.records(RecordKind::Decision).len(), 2);
    let last = f.import(&path, &f.options()).unwrap();
    assert_eq!((last.present_rows, last.entries), (2, 0));
    // The same rows written differently (no separators, full-width digits) are the same rows.
    let same = f.write(
        "same.csv",
        &csv(&[
            "LL-001,柳林县人民医院,H14112500001,专项检查,2021/5/20,分解住院,１１１８４３,\"111,843\",2.0,,约谈,2021年6月25日,20210930",
        ]),
    );
    let summary = f.import(&same, &f.options()).unwrap();
    assert_eq!(
        (summary.present_rows, summary.entries),
        (1, 0),
        "{:?}",
        summary.bad
    );
    f.assert_verifies();
}

#[test]
fn full_width_digits_are_read_exactly() {
    let f = Fixture::new();
    let path = f.write(
        "fullwidth.csv",
        &csv(&[
            "ＬＬ－００３,柳林县第二诊所,Ｈ１４１１２５００１０２,日常检查,２０２１－０６－０１,过度检查,１２，３４５．６７,１２３４５．６７,１．５,,,２０２１年７月１日,",
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert_eq!(summary.bad_rows, 0, "{:?}", summary.bad);
    let findings = f.records(RecordKind::Finding);
    let Record::Finding(finding) = &findings[0] else {
        panic!("not a finding")
    };
    assert_eq!(finding.amount_involved.get(), 1_234_567);
    let Record::Decision(decision) = &f.records(RecordKind::Decision)[0] else {
        panic!("not a decision")
    };
    let damages = decision.items[0].damages.unwrap();
    assert_eq!(damages.multiple.unwrap().thousandths(), 1_500);
    assert_eq!(
        damages.amount.get(),
        1_851_851,
        "12,345.67 × 1.5 = 18,518.505, half up"
    );
    f.assert_verifies();
}

#[test]
fn bad_numbers_are_reported_by_row_and_column_and_nothing_is_written() {
    let f = Fixture::new();
    let before = f.size();
    let path = f.write(
        "bad.csv",
        &csv(&[
            SEED_ROW,
            "LL-010,柳林县第三诊所,H14112500103,日常检查,2021-06-01,分解住院,12.345,,,,,,",
            "LL-011,柳林县第四诊所,H14112500104,日常检查,2021-06-01,分解住院,-5,,,,,,",
            "LL-012,柳林县第五诊所,H14112500105,日常检查,2021-06-01,分解住院,\"1,23\",abc,两倍,,,2021-07-01,",
            "LL-013,柳林县第六诊所,H14112500106,日常检查,2021-02-30,分解住院,100,200,,,,2021-07-01,",
            "LL-014,柳林县第七诊所,H14112500107,日常检查,2021-06-01,分解住院,１２a,,,,,,",
            "LL-015,柳林县第八诊所,H14112500108,日常检查,2021-06-01,分解住院,19.72万,,,,,,",
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert!(!summary.written);
    assert_eq!(f.size(), before, "nothing is written when a row is bad");
    assert_eq!(summary.bad_rows, 6);
    let errors = errors_of(&summary);
    for expected in [
        (3, "违规金额（元）"),
        (4, "违规金额（元）"),
        (5, "违规金额（元）"),
        (5, "追回金额"),
        (5, "违约金倍数"),
        (6, "检查日期"),
        (6, "追回金额"),
    ] {
        assert!(
            errors.contains(&(expected.0, expected.1.to_string())),
            "missing {expected:?} in {:?}",
            summary.bad
        );
    }
    assert_reasons_are_chinese(&summary);
    assert_eq!(
        reason_of(&summary, 3, "违规金额（元）"),
        "\"12.345\" 超过两位小数：金额精确到分（0.01 元）"
    );
    assert_eq!(
        reason_of(&summary, 4, "违规金额（元）"),
        "\"-5\" 是负数：金额不能为负"
    );
    assert!(reason_of(&summary, 5, "违规金额（元）").starts_with("\"1,23\" 的千位分隔符位置不对"));
    assert!(reason_of(&summary, 5, "追回金额").starts_with("\"abc\" 不是金额"));
    assert!(reason_of(&summary, 5, "违约金倍数").starts_with("\"两倍\" 不是倍数"));
    assert_eq!(
        reason_of(&summary, 6, "检查日期"),
        "\"2021-02-30\" 不是有效日期：2021年2月只有 28 天"
    );
    assert_eq!(
        reason_of(&summary, 6, "追回金额"),
        "追回金额 200 元超过违规金额（元） 100 元；追回的不能多于违规的金额"
    );
    // Full-width digits with a letter: the cell is quoted as typed, the column named.
    assert_eq!(
        reason_of(&summary, 7, "违规金额（元）"),
        "\"１２a\" 不是金额：请填写以元为单位的数字，最多两位小数，如 111843 或 111,843.00"
    );
    assert_eq!(
        reason_of(&summary, 8, "违规金额（元）"),
        "\"19.72万\" 以万元填写；请改为以元为单位，如 197200"
    );
}

#[test]
fn a_rule_refusal_is_the_rows_error_before_anything_is_written() {
    let f = Fixture::new();
    let before = f.size();
    let path = f.write(
        "rules.csv",
        &csv(&[
            SEED_ROW,
            // Art. 38 fines are 1–2×; damages are limited by the policy too.
            "LL-020,柳林县第七诊所,H14112500107,日常检查,2021-06-01,分解住院,5000,5000,,3,,2021-07-01,",
            // The decision may not come from the future.
            "LL-021,柳林县第八诊所,H14112500108,日常检查,2021-06-01,分解住院,5000,5000,,,,2099-07-01,",
            // A county's own institution cannot be a cross-county inspection.
            "LL-022,柳林县第九诊所,H14112500109,交叉检查,2021-06-01,分解住院,5000,,,,,,",
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert_eq!(f.size(), before);
    assert_eq!(summary.bad.len(), 3, "{:?}", summary.bad);
    assert_reasons_are_chinese(&summary);
    assert_eq!(
        reason_of(&summary, 3, "罚款倍数"),
        "罚款倍数 3 超出第三十八条的政策范围（1–2 倍）"
    );
    assert_eq!(
        reason_of(&summary, 4, "处理日期"),
        "处理日期 2099-07-01 晚于今天（2026-01-01）；日期不能在将来"
    );
    assert_eq!(
        reason_of(&summary, 5, "检查类型"),
        "交叉检查（县区互查）查的是其他县区的机构，但本行机构的所属区划是本局的 141125；请填写机构的所属区划，或改用其他检查类型"
    );
}

#[test]
fn rule_refusals_are_explained_in_chinese_with_the_rows_values() {
    let f = Fixture::new();
    let before = f.size();
    let header = "案件编号,机构名称,机构编码,检查类型,检查日期,违规类型,违规金额（元）,追回金额,违约金倍数,违约金,罚款倍数,罚款,处理结果,处理日期";
    let path = f.write(
        "rules-zh.csv",
        &format!(
            "{header}\n{}\n",
            [
                // Row 2: damages beyond the policy's 1–5×.
                "LL-050,柳林县第七诊所,H14112500107,日常检查,2021-06-01,分解住院,5000,5000,6,,,,,2021-07-01",
                // Row 3: a flat Art. 39 fine given as a multiple.
                "LL-051,柳林县第八诊所,H14112500108,日常检查,2021-06-01,病历书写不规范,5000,5000,,,1.5,,,2021-07-01",
                // Row 4: a flat Art. 39 fine above ¥50,000.
                "LL-052,柳林县第九诊所,H14112500109,日常检查,2021-06-01,病历书写不规范,5000,,,,,60000,,2021-07-01",
                // Row 5: a suspension shorter than the policy's 6 months.
                "LL-053,柳林县第十诊所,H14112500110,日常检查,2021-06-01,分解住院,5000,5000,,,,,暂停联网结算3个月,2021-07-01",
                // Row 6: decided before the inspection.
                "LL-054,柳林县第十一诊所,H14112500111,日常检查,2021-06-30,分解住院,5000,5000,,,,,,2021-05-01",
                // Row 7: damages that are not 追回金额 × 倍数.
                "LL-055,柳林县第十二诊所,H14112500112,日常检查,2021-06-01,分解住院,5000,5000,2,9000,,,,2021-07-01",
            ]
            .join("\n")
        ),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert_eq!(f.size(), before);
    assert_eq!(summary.bad_rows, 6, "{:?}", summary.bad);
    assert_reasons_are_chinese(&summary);
    assert_eq!(
        reason_of(&summary, 2, "违约金倍数"),
        "违约金倍数 6 超出政策范围（违约金为追回金额的 1–5 倍）"
    );
    assert_eq!(
        reason_of(&summary, 3, "罚款倍数"),
        "第三十九条的罚款是固定金额（10,000 元至 50,000 元），不按倍数计算；请删去罚款倍数 1.5，在罚款中填写金额"
    );
    assert_eq!(
        reason_of(&summary, 4, "罚款"),
        "罚款 60,000 元超出第三十九条的政策范围（10,000 元至 50,000 元）"
    );
    assert_eq!(
        reason_of(&summary, 5, "处理结果"),
        "处理结果中的 \"暂停医保联网结算3个月\" 超出政策范围（暂停 6–12 个月）"
    );
    assert_eq!(
        reason_of(&summary, 6, "处理日期"),
        "处理日期 2021-05-01 早于检查日期 2021-06-30"
    );
    assert_eq!(
        reason_of(&summary, 7, "违约金"),
        "违约金 9,000 元不等于追回金额 5,000 元 × 2 = 10,000 元（四舍五入到分）；请改正违约金或违约金倍数"
    );
}

#[test]
fn the_same_row_twice_and_a_case_opened_differently_are_named() {
    let f = Fixture::new();
    let path = f.write(
        "twice.csv",
        &csv(&[
            SEED_ROW,
            // The same row, written differently: the same parsed content.
            "LL-001,柳林县人民医院,H14112500001,专项检查,2021/5/20,分解住院,111843,\"111,843\",2,,约谈,2021年6月25日,2021-09-30",
            // Another finding of case LL-001, with another inspection date and type.
            "LL-001,柳林县人民医院,H14112500001,日常检查,2021-05-21,重复收费,800,800,1,,,2021-06-25,",
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert!(!summary.written);
    assert_reasons_are_chinese(&summary);
    assert_eq!(
        reason_of(&summary, 3, "-"),
        "与第 2 行是同一行；台账的一行只能导入一次"
    );
    let reason = reason_of(&summary, 4, "检查类型");
    assert!(
        reason.starts_with(
            "案件编号 \"LL-001\" 已在第 2 行立案，本行的检查类型（本行 日常检查，第 2 行 专项检查）、检查日期（本行 2021-05-21，第 2 行 2021-05-20）与之不同；"
        ),
        "{reason}"
    );
}

#[test]
fn a_decision_before_the_logs_own_opening_of_the_case_says_which_date() {
    let f = Fixture::new();
    let first = f.write(
        "first.csv",
        &csv(&["LL-060,柳林县第七诊所,H14112500107,日常检查,2021-06-30,分解住院,5000,,,,,,"]),
    );
    assert_eq!(f.import(&first, &f.options()).unwrap().imported_rows, 1);
    // A later file opens the same case earlier and decides it before the logged opening:
    // the row is consistent in itself; the log refuses the decision.
    let later = f.write(
        "later.csv",
        &csv(&["LL-060,柳林县第七诊所,H14112500107,日常检查,2021-05-01,重复收费,800,800,,,,2021-06-01,"]),
    );
    let summary = f.import(&later, &f.options()).unwrap();
    assert!(!summary.written);
    assert_eq!(
        reason_of(&summary, 2, "处理日期"),
        "处理日期 2021-06-01 早于该案件在账本中的检查日期 2021-06-30（本行写的是 2021-05-01）"
    );
}

#[test]
fn skip_bad_writes_the_good_rows_and_a_report_of_the_bad_ones() {
    let f = Fixture::new();
    let path = f.write(
        "mixed.csv",
        &csv(&[
            // The first row of case LL-030 is refused at its decision, after its opening
            // was checked; the second row of the case must still bring the opening.
            "LL-030,柳林县第十诊所,H14112500110,日常检查,2021-06-01,分解住院,5000,5000,,3,,2021-07-01,",
            "LL-030,柳林县第十诊所,H14112500110,日常检查,2021-06-01,重复收费,800,800,1,,,2021-07-01,2021-12-31",
            "LL-031,柳林县第十一诊所,X1,日常检查,2021-06-01,分解住院,5000,,,,,,",
            SEED_ROW,
        ]),
    );
    let mut options = f.options();
    options.skip_bad = true;
    let summary = f.import(&path, &options).unwrap();
    assert!(summary.written);
    assert_eq!(
        (summary.imported_rows, summary.bad_rows),
        (2, 2),
        "{:?}",
        summary.bad
    );
    let bad_rows: Vec<usize> = summary.bad.iter().map(|e| e.row).collect();
    assert_eq!(bad_rows, vec![2, 4]);
    assert_eq!(f.records(RecordKind::InspectionOpened).len(), 2);
    assert_eq!(f.records(RecordKind::Finding).len(), 2);
    f.assert_verifies();

    let report = f.dir.path().join("report.csv");
    import::write_report(&report, &summary.bad).unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with("\u{feff}行号,列,原因\n"), "{text}");
    assert!(
        text.contains("\n2,罚款倍数,罚款倍数 3 超出第三十八条的政策范围（1–2 倍）\n"),
        "{text}"
    );
    assert!(
        text.contains("\n4,机构编码,\"\"\"X1\"\" 不是机构编码：应为 H（医疗机构）或 P（零售药店）加 11 位数字"),
        "{text}"
    );

    // Fixing nothing and importing again adds nothing and reports the same rows.
    let again = f.import(&path, &options).unwrap();
    assert_eq!(
        (again.entries, again.present_rows, again.bad_rows),
        (0, 2, 2)
    );
}

#[test]
fn wrong_missing_and_doubled_headers_are_refused() {
    let f = Fixture::new();
    let wrong = f.write(
        "wrong.csv",
        "机构名,机构编码,检查类型,检查日期,违规类型,违规金额\n某医院,H14112500001,日常检查,2021-06-01,分解住院,100\n",
    );
    let err = f.import(&wrong, &f.options()).unwrap_err().to_string();
    assert!(
        err == "表头（第 1 行）有问题：缺少必填的机构名称列（表头应为 机构名称、定点医药机构名称、医药机构名称 或 单位名称；映射文件中的字段名 institution_name）。文件的表头是：机构名、机构编码、检查类型、检查日期、违规类型、违规金额",
        "{err}"
    );

    // A title row above the header row, as many county ledgers have.
    let titled = f.write(
        "titled.csv",
        &format!("柳林县2021年医保基金检查台账,,,\n{}\n{SEED_ROW}\n", HEADER),
    );
    let err = f.import(&titled, &f.options()).unwrap_err().to_string();
    assert!(
        err.ends_with("。文件的表头是：柳林县2021年医保基金检查台账。第 1 行没有一列是认得的表头，它可能是表头上方的标题行：表头必须是文件中第一个不空的行，请删去它上面的标题行"),
        "{err}"
    );

    let missing = f.write("missing.csv", "机构名称,机构编码\n某医院,H14112500001\n");
    let err = f.import(&missing, &f.options()).unwrap_err().to_string();
    for column in ["检查类型", "检查日期", "违规类型", "违规金额"] {
        assert!(
            err.contains(&format!("缺少必填的{column}列")),
            "{column} missing from {err}"
        );
    }

    let doubled = f.write(
        "doubled.csv",
        "机构名称,机构编码,医保编码,检查类型,检查日期,违规类型,违规金额\n",
    );
    let err = f.import(&doubled, &f.options()).unwrap_err().to_string();
    assert!(
        err.contains("\"机构编码\" 和 \"医保编码\" 两列都是机构编码；请只保留一列"),
        "{err}"
    );
    assert_eq!(f.size(), 5);
}

#[test]
fn empty_files_are_refused() {
    let f = Fixture::new();
    let empty = f.write("empty.csv", "");
    let err = f.import(&empty, &f.options()).unwrap_err().to_string();
    assert_eq!(err, "文件是空的：没有表头，也没有数据");
    let blank = f.write("blank.csv", "\u{feff}\n\n");
    assert!(f.import(&blank, &f.options()).is_err());
    let header_only = f.write("header.csv", &csv(&[]));
    let err = f
        .import(&header_only, &f.options())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "文件只有表头（第 1 行），没有数据行");
    let blank_rows = f.write("blank-rows.csv", &csv(&[",,,,", ""]));
    assert!(f.import(&blank_rows, &f.options()).is_err());
}

#[test]
fn a_mapping_file_overrides_headers_and_labels() {
    let f = Fixture::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/import");
    let file = examples.join("other-headers.csv");
    // Without the mapping the file is refused (its amount column is 涉案金额, which the
    // default maps too, but its labels are unknown).
    let summary = f.import(&file, &f.options()).unwrap();
    assert_eq!(summary.bad_rows, 2);
    assert!(reason_of(&summary, 2, "检查方式").starts_with("\"夜查\" 不是已知的检查类型；可填："));
    assert!(reason_of(&summary, 2, "问题类型").starts_with("\"超量开药\" 不是已知的违规类型"));
    assert!(reason_of(&summary, 2, "处理意见").starts_with("\"通报批评\" 不是已知的处理方式"));
    let text = std::fs::read_to_string(examples.join("mapping.json")).unwrap();
    let mut options = f.options();
    options.mapping = Mapping::with_file(&text).unwrap();
    let summary = f.import(&file, &options).unwrap();
    assert_eq!(
        (summary.imported_rows, summary.bad_rows),
        (2, 0),
        "{:?}",
        summary.bad
    );
    let findings = f.records(RecordKind::Finding);
    let Record::Finding(other) = &findings[1] else {
        panic!("not a finding")
    };
    assert_eq!(
        other.pattern,
        yibao_schema::record::Pattern::Other("其他违规".into())
    );
    assert_eq!(
        (other.legal_basis.article, other.legal_basis.item),
        (38, Some(7))
    );
    assert_eq!(other.amount_involved.get(), 98_050);
    f.assert_verifies();
    // A mapping that renames a required header makes the default one unknown.
    let mut renamed = f.options();
    renamed.mapping = Mapping::with_file(r#"{"headers": {"amount_involved": ["金额"]}}"#).unwrap();
    let good = f.write("seed.csv", &csv(&[SEED_ROW]));
    let err = f.import(&good, &renamed).unwrap_err().to_string();
    assert!(
        err.contains("缺少必填的违规金额列（表头应为 金额；映射文件中的字段名 amount_involved）"),
        "{err}"
    );
}

#[test]
fn the_adjudicator_must_be_another_officer() {
    let f = Fixture::new();
    let path = f.write("seed.csv", &csv(&[SEED_ROW]));
    let mut same = f.options();
    same.adjudicator = Some(f.officers.inspector.clone());
    let err = f.import(&path, &same).unwrap_err().to_string();
    assert!(err.contains("adjudicator"), "{err}");
    let mut stranger = f.options();
    stranger.inspector = SigningKey::from_bytes(&[77; 32]);
    let err = f.import(&path, &stranger).unwrap_err().to_string();
    assert!(err.contains("not an active inspector"), "{err}");
    assert_eq!(f.size(), 5);
}

#[test]
fn a_good_xlsx_imports_with_numeric_and_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let f = Fixture::new();
    let path = f.dir.path().join("ledger.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let headers = [
        "机构名称",
        "机构编码",
        "检查类型",
        "检查日期",
        "违规类型",
        "违规金额（元）",
        "追回金额",
        "违约金倍数",
        "处理日期",
    ];
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    let rows: [(&str, &str, f64, f64, f64); 3] = [
        ("柳林县人民医院", "H14112500001", 111_843.0, 111_843.0, 2.0),
        ("柳林县中医医院", "H14112500002", 12.34, 12.34, 1.5),
        // A formula-like result that is not a whole number of fen.
        ("柳林县第一诊所", "H14112500101", 0.1 + 0.2, 0.3, 1.0),
    ];
    for (i, (name, code, amount, recovered, multiple)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *name).unwrap();
        sheet.write_string(r, 1, *code).unwrap();
        sheet.write_string(r, 2, "日常检查").unwrap();
        let opened = ExcelDateTime::from_ymd(2021, 6, 1).unwrap();
        sheet
            .write_datetime_with_format(r, 3, &opened, &date)
            .unwrap();
        sheet.write_string(r, 4, "分解住院").unwrap();
        sheet.write_number(r, 5, *amount).unwrap();
        sheet.write_number(r, 6, *recovered).unwrap();
        sheet.write_number(r, 7, *multiple).unwrap();
        let decided = ExcelDateTime::from_ymd(2021, 7, 1).unwrap();
        sheet
            .write_datetime_with_format(r, 8, &decided, &date)
            .unwrap();
    }
    workbook.save(&path).unwrap();

    let summary = f.import(&path, &f.options()).unwrap();
    assert!(!summary.written);
    assert_eq!(errors_of(&summary), vec![(4, "违规金额（元）".to_string())]);
    assert!(
        summary.bad[0]
            .reason
            .starts_with("单元格中的数字 0.30000000000000004 不是整分的金额"),
        "{:?}",
        summary.bad
    );

    let mut options = f.options();
    options.skip_bad = true;
    let summary = f.import(&path, &options).unwrap();
    assert_eq!(summary.imported_rows, 2);
    let decisions = f.records(RecordKind::Decision);
    let Record::Decision(second) = &decisions[1] else {
        panic!("not a decision")
    };
    assert_eq!(second.totals.recovered.get(), 1_234);
    assert_eq!(second.totals.damages.get(), 1_851, "12.34 × 1.5 = 18.51");
    assert_eq!(second.decided_on.to_string(), "2021-07-01");
    f.assert_verifies();
}

// ---------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------

fn yibao(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    let err = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        !out.contains("panicked") && !err.contains("panicked"),
        "{out}\n{err}"
    );
    (output.status.code(), out, err)
}

#[test]
fn the_yibao_import_command() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let data = data.to_str().unwrap();
    let wang = tmp.path().join("wang.key");
    let li = tmp.path().join("li.key");
    let (wang, li) = (wang.to_str().unwrap(), li.to_str().unwrap());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/import");
    let good = examples.join("liulin-2021.csv");
    let bad = examples.join("liulin-bad-rows.csv");
    let (good, bad) = (good.to_str().unwrap(), bad.to_str().unwrap());

    let (code, ..) = yibao(&["init", "--data", data, "--county", COUNTY, "--name", BUREAU]);
    assert_eq!(code, Some(0));
    for (roles, id, surname, key) in [
        ("inspector", "14112500017", "王", wang),
        ("adjudicator", "14112500023", "李", li),
    ] {
        let (code, _, err) = yibao(&[
            "officer",
            "add",
            "--data",
            data,
            "--roles",
            roles,
            "--officer-id",
            id,
            "--surname",
            surname,
            "--key-out",
            key,
        ]);
        assert_eq!(code, Some(0), "{err}");
    }

    // Checking without an adjudicator says what it would leave out, and writes nothing.
    let (code, out, err) = yibao(&["import", "--data", data, "--key", wang, "--check", good]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("共 5 行：可导入 5 行，账本中已有 0 行，有问题 0 行"),
        "{out}"
    );
    assert!(
        out.contains("4 个处理决定未导入：没有给出处理人员的密钥 --adjudicator-key"),
        "{out}"
    );
    assert!(out.contains("仅作检查（--check），未写入任何内容"), "{out}");

    let (code, out, err) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        "--adjudicator-key",
        li,
        good,
    ]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("共 5 行：已导入 5 行，账本中已有 0 行，有问题 0 行"),
        "{out}"
    );
    assert!(
        out.contains(
            "已写入 18 条记录（检查立案 4 条、违规事实 5 条、处理决定 4 条、整改事项 5 条）"
        ),
        "{out}"
    );
    let (code, out, _) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        "--adjudicator-key",
        li,
        good,
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("账本中已有 5 行") && out.contains("没有新的内容需要导入"),
        "{out}"
    );
    let (code, out, _) = yibao(&["verify", "--data", data]);
    assert_eq!(code, Some(0), "{out}");

    // Bad rows: exit 2, each named by row and column, nothing written.
    let (code, out, err) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        "--adjudicator-key",
        li,
        bad,
    ]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(
        err.contains("liulin-bad-rows.csv：4 行有问题（共 6 处）："),
        "{err}"
    );
    assert!(
        err.contains("\n  第 3 行【机构编码】\"X14112500002\" 不是机构编码：应为 H（医疗机构）或 P（零售药店）加 11 位数字，如 H14112500001\n"),
        "{err}"
    );
    assert!(
        err.contains("\n  第 4 行【检查类型】\"周查\" 不是已知的检查类型"),
        "{err}"
    );
    assert!(
        err.contains("\n  第 6 行【罚款倍数】罚款倍数 3 超出第三十八条的政策范围（1–2 倍）\n"),
        "{err}"
    );
    assert!(
        out.contains(
            "未导入任何内容：请改正有问题的行后重新导入，或加 --skip-bad 先导入没有问题的行"
        ),
        "{out}"
    );

    // --skip-bad: the good row goes in, the report lists the bad ones.
    let report = tmp.path().join("bad.csv");
    let (code, out, err) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        "--adjudicator-key",
        li,
        "--skip-bad",
        "--report",
        report.to_str().unwrap(),
        bad,
    ]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(out.contains("已写入 3 条记录"), "{out}");
    assert!(
        out.contains(&format!("有问题的行已写入报告 {}", report.display())),
        "{out}"
    );
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(
        text.contains(
            "\n5,追回金额,\"追回金额 6,000 元超过违规金额 5,000 元；追回的不能多于违规的金额\"\n"
        ),
        "{text}"
    );
    let (code, out, _) = yibao(&["verify", "--data", data]);
    assert_eq!(code, Some(0), "{out}");

    // An empty file and an unknown extension are refused with a reason.
    let empty = tmp.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let (code, _, err) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        empty.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("文件是空的：没有表头，也没有数据"), "{err}");
    let (code, _, err) = yibao(&["import", "--data", data, "--key", wang, "ledger.txt"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("ledger.txt：不支持这种文件类型；请导入 .csv 或 .xlsx 文件"),
        "{err}"
    );

    // More problems than the terminal shows: the report is written anyway, and the
    // terminal says where.
    let many = tmp.path().join("many.csv");
    let mut text = String::from("机构名称,机构编码,检查类型,检查日期,违规类型,违规金额\n");
    for i in 0..60 {
        text.push_str(&format!(
            "柳林县第{i}诊所,H141125{:05},日常检查,2021-06-01,分解住院,12.345\n",
            200 + i
        ));
    }
    std::fs::write(&many, text).unwrap();
    let (code, out, err) = yibao(&[
        "import",
        "--data",
        data,
        "--key",
        wang,
        many.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    let report = tmp.path().join("many.csv.import-errors.csv");
    assert!(
        err.contains(&format!(
            "……另有 10 处问题未显示，全部问题见 {}",
            report.display()
        )),
        "{err}"
    );
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 61, "{text}");
}
