//! Tests of `yibao import`: good CSV and XLSX ledgers (the XLSX written here with
//! rust_xlsxwriter), wrong and missing headers, bad numbers, full-width digits, empty
//! files, `--skip-bad` and its report, re-import adding nothing, a mapping file, rule
//! refusals reported before anything is written, 查办分离, and the real `yibao import`
//! binary. After every import that writes, the ledger verifies.

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
        ]),
    );
    let summary = f.import(&path, &f.options()).unwrap();
    assert!(!summary.written);
    assert_eq!(f.size(), before, "nothing is written when a row is bad");
    assert_eq!(summary.bad_rows, 4);
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
    let reasons: Vec<&str> = summary.bad.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons
        .iter()
        .any(|r| r.contains("more than 2 decimal places")));
    assert!(reasons.iter().any(|r| r.contains("negative")));
    assert!(reasons.iter().any(|r| r.contains("thousands separators")));
    assert!(reasons
        .iter()
        .any(|r| r.contains("not a real calendar date")));
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
    let errors = errors_of(&summary);
    assert!(
        errors.contains(&(3, "罚款倍数".into())),
        "{:?}",
        summary.bad
    );
    assert!(
        errors.contains(&(4, "处理日期".into())),
        "{:?}",
        summary.bad
    );
    assert!(
        errors.contains(&(5, "检查类型".into())),
        "{:?}",
        summary.bad
    );
    assert!(
        summary.bad[0].reason.contains("penalty-range"),
        "{:?}",
        summary.bad
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
    assert!(text.contains("\n2,罚款倍数,"), "{text}");
    assert!(text.contains("\n4,机构编码,"), "{text}");

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
        err.contains("institution_name") && err.contains("机构名称"),
        "{err}"
    );
    assert!(err.contains("row 1"), "{err}");

    let missing = f.write("missing.csv", "机构名称,机构编码\n某医院,H14112500001\n");
    let err = f.import(&missing, &f.options()).unwrap_err().to_string();
    for field in [
        "inspection_type",
        "opened_on",
        "violation_type",
        "amount_involved",
    ] {
        assert!(err.contains(field), "{field} missing from {err}");
    }

    let doubled = f.write(
        "doubled.csv",
        "机构名称,机构编码,医保编码,检查类型,检查日期,违规类型,违规金额\n",
    );
    let err = f.import(&doubled, &f.options()).unwrap_err().to_string();
    assert!(err.contains("both hold institution_code"), "{err}");
    assert_eq!(f.size(), 5);
}

#[test]
fn empty_files_are_refused() {
    let f = Fixture::new();
    let empty = f.write("empty.csv", "");
    let err = f.import(&empty, &f.options()).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let blank = f.write("blank.csv", "\u{feff}\n\n");
    assert!(f.import(&blank, &f.options()).is_err());
    let header_only = f.write("header.csv", &csv(&[]));
    let err = f
        .import(&header_only, &f.options())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no data rows"), "{err}");
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
    assert!(err.contains("amount_involved (header 金额)"), "{err}");
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
        summary.bad[0].reason.contains("0.30000000000000004"),
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
        out.contains("5 rows: 5 to import, 0 already in the log, 0 bad"),
        "{out}"
    );
    assert!(out.contains("appended 18 entries"), "{out}");
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
        out.contains("5 already in the log") && out.contains("nothing new"),
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
    assert!(err.contains("row 3, column 机构编码"), "{err}");
    assert!(err.contains("row 6, column 罚款倍数"), "{err}");
    assert!(out.contains("nothing imported"), "{out}");

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
    assert!(out.contains("appended 3 entries"), "{out}");
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
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
    assert!(err.contains("empty"), "{err}");
    let (code, _, err) = yibao(&["import", "--data", data, "--key", wang, "ledger.txt"]);
    assert_eq!(code, Some(2));
    assert!(err.contains(".csv and .xlsx"), "{err}");
}
