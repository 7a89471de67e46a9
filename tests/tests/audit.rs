//! The city audit over a generated three-county ledger: clean, it reports nothing; with
//! breaches planted — on disk through ordinary appends (what a node accepts but the city
//! must still act on) and in an export bundle forged by a rogue bureau that bypassed its
//! node's checks — every breach is reported, of the right kind, with the right entries.
//! The workbook is read back and its numbers checked against the JSON form.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use ed25519_dalek::SigningKey;
use serde_json::json;
use yibao_ledger::audit::{audit_bundle, audit_ledger, AuditOptions, AuditReport, Breach};
use yibao_ledger::bundle::{encode_raw, RawLog};
use yibao_ledger::equivocation::EquivocationProof;
use yibao_ledger::keys::LogCode;
use yibao_ledger::merkle::{Blake3Hasher, Frontier, MerkleHasher};
use yibao_ledger::store::{Ledger, LogMeta};
use yibao_node::net::identity::keypair_from_seed;
use yibao_node::workload::{self, parse, Institution, Officers, Signer};
use yibao_schema::entry::{encode_entry, Submission, GENESIS_PREV};
use yibao_schema::manifest::{witness_name, Manifest, ManifestBody, Member};
use yibao_schema::note::{Checkpoint, Cosignature, NoteSignature, SignedCheckpoint};
use yibao_schema::policy::Policy;
use yibao_schema::record::{Date, Record};
use yibao_tests::TIME_MS;

const COUNTIES: [(&str, &str); 3] = [
    ("141125", "柳林县医疗保障局"),
    ("141126", "石楼县医疗保障局"),
    ("141127", "岚县医疗保障局"),
];
const INSTITUTIONS: u64 = 30;
const CASES: u64 = 12;

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// Deadlines are judged at the end of 2023: every generated case of 2023 has its
/// rectification item by then, and every deadline falls in 2024.
fn options() -> AuditOptions {
    AuditOptions::new(date("2023-12-31"))
}

struct County {
    code: LogCode,
    officers: Officers,
    insts: Vec<Institution>,
}

fn code(s: &str) -> LogCode {
    LogCode::parse(s).unwrap()
}

fn append(ledger: &Ledger, county: &County, records: &[(Signer, Record)]) -> u64 {
    let first = ledger.size(&county.code).unwrap();
    let submissions =
        workload::sign(&county.officers, &county.code.origin(), TIME_MS, records).unwrap();
    workload::append_all(ledger, &county.code, submissions, TIME_MS).unwrap();
    first
}

/// Three counties, each with officers, institutions, cases of 2023 (with notices) and a
/// 2023 grade set; 141125 also inspects an institution of 141126 (a cross-county
/// inspection, allowed and registered).
fn clean_ledger(ledger: &Ledger) -> Vec<County> {
    let mut counties = Vec::new();
    for (i, (division, name)) in COUNTIES.iter().enumerate() {
        let officers = Officers::from_seed(700 + i as u64);
        let code = code(division);
        ledger
            .create_log(code, name, officers.bureau.clone(), TIME_MS)
            .unwrap();
        let insts = workload::institutions(division, INSTITUTIONS);
        let county = County {
            code,
            officers,
            insts,
        };
        let mut records = county.officers.key_events().unwrap();
        for inst in &county.insts {
            records.push((Signer::Administrator, workload::register(inst).unwrap()));
        }
        let mut rng = workload::Rng::new(40 + i as u64);
        for case_no in 0..CASES {
            let inst = &county.insts[(case_no * 7 % INSTITUTIONS) as usize];
            records.extend(
                workload::case_records(
                    &mut rng,
                    division,
                    name,
                    case_no,
                    inst,
                    2023,
                    case_no % 4 == 0,
                )
                .unwrap(),
            );
        }
        records.push((
            Signer::Adjudicator,
            workload::grade_set(division, "2023", &county.insts, &mut rng).unwrap(),
        ));
        append(ledger, &county, &records);
        counties.push(county);
    }
    let other = &counties[1].insts[3];
    let cross = parse(json!({
        "kind": "inspection_opened",
        "case_id": "141125-2023-CROSS-1",
        "inspection_type": "cross_county",
        "institution": { "code": other.code, "name": other.name, "division": other.division },
        "inspecting_body": "柳林县医疗保障局（交叉检查组）",
        "opened_on": "2023-05-10",
    }))
    .unwrap();
    append(ledger, &counties[0], &[(Signer::Inspector, cross)]);
    counties
}

fn breaches_of<'r>(report: &'r AuditReport, kind: &str) -> Vec<&'r Breach> {
    report.breaches.iter().filter(|b| b.kind == kind).collect()
}

/// The one breach of `kind`, which must name `county` and have `seq` as its first entry.
fn assert_breach<'r>(report: &'r AuditReport, kind: &str, county: &str, seq: u64) -> &'r Breach {
    let found = breaches_of(report, kind);
    assert_eq!(
        found.len(),
        1,
        "expected one `{kind}` breach, found {found:#?}\nall: {:#?}",
        report.breaches
    );
    let b = found[0];
    assert_eq!(b.county, county, "{b:?}");
    let first = b
        .entries
        .first()
        .unwrap_or_else(|| panic!("{b:?} names no entry"));
    assert_eq!((first.log.as_str(), first.seq), (county, seq), "{b:?}");
    assert_eq!(first.entry_url, format!("/v1/logs/{county}/entries/{seq}"));
    b
}

#[test]
fn a_clean_ledger_has_no_breaches_and_full_tables() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let counties = clean_ledger(&ledger);
    let report = audit_ledger(&ledger, &options(), &|_| {});
    assert!(report.is_clean(), "{:#?}", report.breaches);
    assert_eq!(report.breach_count, 0);
    assert_eq!(report.integrity.failures, 0);
    assert_eq!(report.integrity.logs.len(), 3);
    let sizes: u64 = counties.iter().map(|c| ledger.size(&c.code).unwrap()).sum();
    assert_eq!(report.integrity.entries, sizes);
    assert_eq!(report.counties.len(), 3);
    for t in &report.counties {
        assert_eq!(t.institutions, INSTITUTIONS, "{}", t.county);
        let extra = u64::from(t.county == "141125");
        assert_eq!(t.inspections, CASES + extra, "{}", t.county);
        assert_eq!(t.decisions, CASES, "{}", t.county);
        assert_eq!(t.items.total, CASES, "{}", t.county);
        assert_eq!(t.notices, CASES / 4, "{}", t.county);
        assert_eq!(
            t.amounts.total,
            t.amounts.recovered + t.amounts.damages + t.amounts.fines
        );
        assert_eq!(t.grades, [9, 12, 6, 3], "3:4:2:1 of 30");
        assert_eq!(
            t.inspections_by_type.values().sum::<u64>(),
            t.inspections,
            "{}",
            t.county
        );
        assert!((1..=3).contains(&t.rank));
    }
    // The cross-county matrix has the one inspection of 141126 by 141125.
    let cross: Vec<_> = report
        .cross_county
        .iter()
        .filter(|c| c.inspector != c.inspected)
        .collect();
    assert_eq!(cross.len(), 1);
    assert_eq!(
        (cross[0].inspector.as_str(), cross[0].inspected.as_str()),
        ("141125", "141126")
    );
    // The monthly trend adds up to the totals.
    for t in &report.counties {
        let months: u64 = report
            .monthly
            .iter()
            .filter(|m| m.county == t.county)
            .map(|m| m.amounts.total)
            .sum();
        assert_eq!(months, t.amounts.total);
    }
    // The detail rows are in (county, entry) order, every county's rows there.
    fn in_order<'r>(rows: impl Iterator<Item = (&'r str, u64)>) {
        let rows: Vec<(&str, u64)> = rows.collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        let mut counties: Vec<&str> = rows.iter().map(|r| r.0).collect();
        counties.dedup();
        assert_eq!(counties, ["141125", "141126", "141127"]);
    }
    in_order(report.findings.iter().map(|r| (&*r.county, r.seq)));
    in_order(report.decisions.iter().map(|r| (&*r.county, r.seq)));
    in_order(report.rectification.iter().map(|r| (&*r.county, r.seq)));
    // A period outside the data leaves the tables empty but still verifies everything.
    let later = audit_ledger(
        &ledger,
        &options().with_period(yibao_schema::record::Period::Year(2022)),
        &|_| {},
    );
    assert!(later.counties.iter().all(|t| t.inspections == 0));
    assert_eq!(later.integrity.entries, sizes);
}

#[test]
fn breaches_a_node_accepts_are_found_with_their_entries() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let counties = clean_ledger(&ledger);
    let liulin = &counties[0];
    let shilou = &counties[1];
    let inst = &liulin.insts[0];
    let case = |id: &str| {
        parse(json!({
            "kind": "inspection_opened", "case_id": id, "inspection_type": "special",
            "institution": { "code": inst.code, "name": inst.name, "division": inst.division },
            "inspecting_body": "柳林县医疗保障局", "opened_on": "2023-03-01",
        }))
        .unwrap()
    };
    // 111,843 yuan recovered with 2× damages: 335,529 yuan in all.
    let finding = |case_id: &str| {
        parse(json!({
            "kind": "finding", "case_id": case_id, "finding_id": format!("{case_id}-F1"),
            "legal_basis": { "article": 38, "item": 1 }, "pattern": "split_hospitalisation",
            "facts": "分解住院12人次。", "amount_involved": 11_184_300,
        }))
        .unwrap()
    };
    let decision = |case_id: &str| {
        parse(json!({
            "kind": "decision", "case_id": case_id, "decision_id": format!("{case_id}-D"),
            "decided_on": "2023-06-01",
            "items": [{ "finding_id": format!("{case_id}-F1"), "recovered": 11_184_300,
                        "damages": { "basis": 11_184_300, "multiple": "2", "amount": 22_368_600 } }],
            "other_handling": ["order_to_correct"],
            "totals": { "recovered": 11_184_300, "damages": 22_368_600, "fines": 0, "total": 33_552_900 },
        }))
        .unwrap()
    };
    // 1. An item past its deadline, never closed out.
    let overdue_at = append(
        &ledger,
        liulin,
        &[
            (Signer::Inspector, case("LL-OVERDUE")),
            (Signer::Inspector, finding("LL-OVERDUE")),
            (Signer::Adjudicator, decision("LL-OVERDUE")),
        ],
    ) + 3;
    append(
        &ledger,
        liulin,
        &[
            (
                Signer::Inspector,
                parse(json!({
                    "kind": "rectification_item", "item_id": "LL-OVERDUE-R1", "case_id": "LL-OVERDUE",
                    "institution": inst.code, "problem": "整改分解住院问题", "deadline": "2023-10-31",
                }))
                .unwrap(),
            ),
            (
                Signer::Inspector,
                parse(json!({
                    "kind": "rectification_update", "item_id": "LL-OVERDUE-R1",
                    "status": "rectifying", "on": "2023-09-01", "note": "整改中",
                }))
                .unwrap(),
            ),
        ],
    );
    // 2. A decision with no rectification item at all.
    let bare = append(
        &ledger,
        liulin,
        &[
            (Signer::Inspector, case("LL-BARE")),
            (Signer::Inspector, finding("LL-BARE")),
            (Signer::Adjudicator, decision("LL-BARE")),
        ],
    ) + 2;
    // 3. A cross-county inspection of an institution its county does not register.
    let ghost = &workload::institutions("141126", INSTITUTIONS + 5)[INSTITUTIONS as usize + 2];
    let ghost_at = append(
        &ledger,
        liulin,
        &[(
            Signer::Inspector,
            parse(json!({
                "kind": "inspection_opened", "case_id": "LL-GHOST", "inspection_type": "cross_county",
                "institution": { "code": ghost.code, "name": ghost.name, "division": "141126" },
                "inspecting_body": "柳林县医疗保障局", "opened_on": "2023-04-01",
            }))
            .unwrap(),
        )],
    );
    // 4. An equivocation by 石楼: two checkpoints of one size with different roots.
    let origin = shilou.code.origin();
    let signed = |root: u8| {
        SignedCheckpoint::sign(
            Checkpoint {
                origin: origin.clone(),
                size: 3,
                root: [root; 32],
                extensions: Vec::new(),
            },
            &shilou.officers.bureau,
        )
        .unwrap()
        .to_text()
    };
    let proof = EquivocationProof {
        first: signed(1),
        second: signed(2),
        prefix_root: None,
        consistency: Vec::new(),
    };
    assert!(ledger.record_equivocation(&shilou.code, &proof).unwrap());

    let report = audit_ledger(&ledger, &options(), &|_| {});
    let b = assert_breach(&report, "overdue-rectification", "141125", overdue_at);
    assert!(
        b.what.contains("LL-OVERDUE-R1") && b.what.contains("整改中"),
        "{b:?}"
    );
    let b = assert_breach(&report, "missing-rectification", "141125", bare);
    assert!(b.what.contains("LL-BARE-D"), "{b:?}");
    let b = assert_breach(&report, "cross-county-reference", "141125", ghost_at);
    assert!(b.what.contains(&ghost.code), "{b:?}");
    let found = breaches_of(&report, "equivocation");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].county, "141126");
    assert_eq!(report.integrity.equivocations, 1);
    assert_eq!(report.breach_count, 4, "{:#?}", report.breaches);
    assert_eq!(report.integrity.failures, 0);
    let liulin_row = report
        .counties
        .iter()
        .find(|t| t.county == "141125")
        .unwrap();
    assert_eq!(liulin_row.breaches, 3);
    assert_eq!(liulin_row.items.overdue, 1);
    // Judged before the deadline and the grace period, neither item breach stands.
    let early = audit_ledger(&ledger, &AuditOptions::new(date("2023-06-15")), &|_| {});
    assert!(breaches_of(&early, "overdue-rectification").is_empty());
    assert!(breaches_of(&early, "missing-rectification").is_empty());

    // The workbook says what the JSON says.
    check_workbook(&report);
}

/// Reads the workbook back and checks its figures against the report.
fn check_workbook(report: &AuditReport) {
    let bytes = yibao_node::audit::workbook(report).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let names = book.sheet_names();
    for sheet in [
        "汇总",
        "排名",
        "问题清单",
        "违规事实",
        "处理决定",
        "信用等级",
        "整改台账",
        "交叉检查",
        "月度趋势",
    ] {
        assert!(
            names.iter().any(|n| n == sheet),
            "no sheet {sheet} in {names:?}"
        );
    }
    let mut table = |name: &str| -> Vec<BTreeMap<String, Data>> {
        let range = book_range(&mut book, name);
        let mut rows = range.rows();
        let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        rows.map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
            .collect()
    };
    let fen = |d: &Data| -> u64 {
        match d {
            Data::Float(x) => (x * 100.0).round() as u64,
            Data::Int(x) => *x as u64 * 100,
            other => panic!("not a number: {other:?}"),
        }
    };
    let int = |d: &Data| -> u64 {
        match d {
            Data::Float(x) => *x as u64,
            Data::Int(x) => *x as u64,
            other => panic!("not a number: {other:?}"),
        }
    };
    let ranking = table("排名");
    assert_eq!(ranking.len(), report.counties.len());
    for (row, county) in ranking.iter().zip(&report.counties) {
        assert_eq!(row["县区代码"].to_string(), county.county);
        if county.rank == 0 {
            assert_eq!(row["名次"].to_string(), "不参与排名");
        } else {
            assert_eq!(int(&row["名次"]), u64::from(county.rank));
        }
        assert_eq!(fen(&row["追回金额(元)"]), county.amounts.recovered);
        assert_eq!(fen(&row["违约金(元)"]), county.amounts.damages);
        assert_eq!(fen(&row["罚款(元)"]), county.amounts.fines);
        assert_eq!(fen(&row["合计(元)"]), county.amounts.total);
        assert_eq!(fen(&row["涉及金额(元)"]), county.amount_involved);
        assert_eq!(int(&row["检查数"]), county.inspections);
        assert_eq!(int(&row["逾期未销号"]), county.items.overdue);
        assert_eq!(int(&row["曝光数"]), county.notices);
        assert_eq!(int(&row["问题数"]), county.breaches);
        assert_eq!(int(&row["A"]), county.grades[0]);
    }
    let breaches = table("问题清单");
    assert_eq!(breaches.len(), report.breaches.len());
    for (row, b) in breaches.iter().zip(&report.breaches) {
        assert_eq!(row["问题代码"].to_string(), b.kind);
        let label = row["问题类型"].to_string();
        assert_eq!(label, yibao_node::audit::breach_label(&b.kind));
        assert!(
            label.chars().all(|c| !c.is_ascii_alphabetic()),
            "a Chinese name for {}: {label}",
            b.kind
        );
        if let Some(first) = b.entries.first() {
            assert_eq!(int(&row["序号"]), first.seq);
            assert_eq!(row["包含证明地址"].to_string(), first.proof_url);
        }
    }
    let findings = table("违规事实");
    assert_eq!(findings.len(), report.findings.len());
    for (row, f) in findings.iter().zip(&report.findings) {
        // Articles and patterns as a Chinese office writes them, not `Art. 38 (1)`.
        assert_eq!(row["法律依据"].to_string(), &*f.legal_basis_zh);
        assert!(f.legal_basis_zh.starts_with('第'), "{}", f.legal_basis_zh);
        assert_eq!(row["违规类型"].to_string(), &*f.pattern_zh);
        assert!(!f.pattern_zh.is_empty() && f.pattern_zh.chars().all(|c| !c.is_ascii_alphabetic()));
    }
    let sum: u64 = findings.iter().map(|r| fen(&r["涉及金额(元)"])).sum();
    assert_eq!(
        sum,
        report
            .findings
            .iter()
            .map(|f| f.amount_involved)
            .sum::<u64>()
    );
    let decisions = table("处理决定");
    assert_eq!(decisions.len(), report.decisions.len());
    for (row, d) in decisions.iter().zip(&report.decisions) {
        assert_eq!(row["其他处理"].to_string(), &*d.handling_zh);
        assert!(
            d.handling_zh.chars().all(|c| !c.is_ascii_alphabetic()),
            "{}",
            d.handling_zh
        );
        // Each multiple names the finding it applies to.
        for part in d.multiples.split("; ").filter(|p| !p.is_empty()) {
            assert!(part.contains("-F"), "{part}");
        }
    }
    let cross = table("交叉检查");
    let between = report
        .cross_county
        .iter()
        .filter(|c| c.inspector != c.inspected)
        .count();
    assert!(
        between > 0,
        "the clean ledger has a cross-county inspection"
    );
    assert_eq!(cross.len(), between);
    assert!(cross.iter().all(|r| r["检查方"] != r["被检查方"]));
    let sum: u64 = decisions.iter().map(|r| fen(&r["合计(元)"])).sum();
    assert_eq!(
        sum,
        report.counties.iter().map(|c| c.amounts.total).sum::<u64>()
    );
    let items = table("整改台账");
    assert_eq!(items.len(), report.rectification.len());
    let overdue = items.iter().filter(|r| r["是否逾期"] == "逾期").count() as u64;
    assert_eq!(
        overdue,
        report.counties.iter().map(|c| c.items.overdue).sum::<u64>()
    );
    let grades = table("信用等级");
    assert_eq!(grades.len(), report.grades.len());
}

fn book_range(book: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> calamine::Range<Data> {
    book.worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"))
}

/// A log rebuilt entry by entry outside any node: what a rogue bureau could sign.
struct RawLogBuilder {
    meta: LogMeta,
    bureau: SigningKey,
    entries: Vec<Vec<u8>>,
    frontier: Frontier,
    prev: [u8; 32],
}

impl RawLogBuilder {
    fn from_ledger(ledger: &Ledger, code: &LogCode, bureau: &SigningKey) -> RawLogBuilder {
        let mut raw = RawLogBuilder {
            meta: ledger.meta(code).unwrap(),
            bureau: bureau.clone(),
            entries: Vec::new(),
            frontier: Frontier::new(),
            prev: GENESIS_PREV,
        };
        let size = ledger.size(code).unwrap();
        for (_, bytes) in ledger.entries(code, 0, size).unwrap() {
            raw.push_bytes(bytes.to_vec());
        }
        raw
    }

    fn push_bytes(&mut self, bytes: Vec<u8>) -> u64 {
        let leaf = Blake3Hasher::leaf(&bytes);
        self.frontier
            .push::<Blake3Hasher>(leaf, &mut |_, _| {})
            .unwrap();
        self.prev = leaf;
        self.entries.push(bytes);
        self.entries.len() as u64 - 1
    }

    fn submission(&self, key: &SigningKey, record: &Record) -> Submission {
        Submission::sign(
            key,
            &self.meta.origin,
            TIME_MS,
            record.kind().as_str(),
            record.encode_payload().unwrap(),
        )
        .unwrap()
    }

    /// Signs and appends a record with no rule checked; returns its seq.
    fn push(&mut self, key: &SigningKey, record: Record) -> u64 {
        let submission = self.submission(key, &record);
        let seq = self.entries.len() as u64;
        let bytes = encode_entry(seq, &self.prev, &submission.view().unwrap());
        self.push_bytes(bytes)
    }

    fn checkpoint(&self) -> SignedCheckpoint {
        SignedCheckpoint::sign(
            Checkpoint {
                origin: self.meta.origin.clone(),
                size: self.entries.len() as u64,
                root: self.frontier.root::<Blake3Hasher>(),
                extensions: Vec::new(),
            },
            &self.bureau,
        )
        .unwrap()
    }
}

#[test]
fn breaches_a_rogue_bureau_signs_are_found_in_its_export() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let counties = clean_ledger(&ledger);
    let mut logs: Vec<RawLogBuilder> = counties
        .iter()
        .map(|c| RawLogBuilder::from_ledger(&ledger, &c.code, &c.officers.bureau))
        .collect();
    let city = SigningKey::from_bytes(&[0x42; 32]);
    let mut body = ManifestBody::new("吕梁", &city.verifying_key().to_bytes());
    for (i, c) in counties.iter().enumerate() {
        body.upsert_member(Member {
            division: c.code.to_string(),
            name: format!("{}医疗保障局", c.code),
            log_key: hex::encode(c.officers.bureau.verifying_key().to_bytes()),
            peer_id: keypair_from_seed([i as u8 + 1; 32])
                .unwrap()
                .public()
                .to_peer_id()
                .to_string(),
            addrs: Vec::new(),
        });
    }
    let manifest = Manifest::sign(body, &city).unwrap();
    let bundle_of = |logs: &[RawLogBuilder], cosign: bool| -> Vec<u8> {
        let parts: Vec<(LogMeta, Vec<Vec<u8>>, Vec<String>)> = logs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut signed = l.checkpoint();
                if cosign {
                    // Each neighbour cosigns; 141127 also signs with a key not its own.
                    let neighbour = &counties[(i + 1) % counties.len()];
                    let name = witness_name(neighbour.code.as_str());
                    let good = Cosignature::sign(
                        &signed.checkpoint,
                        &name,
                        &neighbour.officers.bureau,
                        1_750_000_000,
                    )
                    .unwrap();
                    signed.add_cosignature(&good);
                    if i == 1 {
                        let forged = Cosignature::sign(
                            &signed.checkpoint,
                            &witness_name("141125"),
                            &SigningKey::from_bytes(&[9; 32]),
                            1_750_000_000,
                        )
                        .unwrap();
                        // Keep the name's key id so the line claims to be 141125's.
                        let mut line: NoteSignature = forged.to_note_signature();
                        line.key_id = Cosignature::sign(
                            &signed.checkpoint,
                            &witness_name("141125"),
                            &counties[0].officers.bureau,
                            1,
                        )
                        .unwrap()
                        .key_id;
                        signed.note.signatures.push(line);
                    }
                }
                (l.meta.clone(), l.entries.clone(), vec![signed.to_text()])
            })
            .collect();
        let raw: Vec<RawLog<'_>> = parts
            .iter()
            .map(|(meta, entries, checkpoints)| RawLog {
                meta,
                entries,
                checkpoints,
            })
            .collect();
        encode_raw(&raw).unwrap()
    };
    let mut with_manifest = options();
    with_manifest.manifest = Some(manifest);

    // The clean export: nothing to report, every cosignature checked.
    let clean = bundle_of(&logs, true);
    let mut before = logs.iter().map(|l| l.entries.len()).collect::<Vec<_>>();
    let report = audit_bundle(&clean, &Policy::default(), &[], &options(), &|_| {}).unwrap();
    assert!(report.is_clean(), "{:#?}", report.breaches);
    assert_eq!(report.integrity.cosignatures_unchecked, 4);

    // Now 柳林 signs records its node would have refused.
    let liulin = &counties[0];
    let o = &liulin.officers;
    let inst = &liulin.insts[1];
    let log = &mut logs[0];
    let inst_ref = json!({ "code": inst.code, "name": inst.name, "division": inst.division });
    log.push(
        &o.inspector,
        parse(json!({
            "kind": "inspection_opened", "case_id": "ROGUE-1", "inspection_type": "special",
            "institution": inst_ref, "inspecting_body": "柳林县医疗保障局", "opened_on": "2023-03-01",
        }))
        .unwrap(),
    );
    let finding = |id: &str, article: u8| {
        parse(json!({
            "kind": "finding", "case_id": "ROGUE-1", "finding_id": id,
            "legal_basis": { "article": article }, "pattern": "fictitious_services",
            "facts": "虚构诊疗项目。", "amount_involved": 1_000_000,
        }))
        .unwrap()
    };
    let f1 = log.push(&o.inspector, finding("ROGUE-1-F1", 40));
    log.push(&o.inspector, finding("ROGUE-1-F2", 40));
    log.push(&o.inspector, finding("ROGUE-1-F3", 40));
    let decide = |id: &str, finding: &str, fine_multiple: &str, fine: u64, total: u64| {
        parse(json!({
            "kind": "decision", "case_id": "ROGUE-1", "decision_id": id, "decided_on": "2023-06-01",
            "items": [{ "finding_id": finding, "recovered": 1_000_000,
                        "fine": { "basis": 1_000_000, "multiple": fine_multiple, "amount": fine } }],
            "other_handling": [],
            "totals": { "recovered": 1_000_000, "damages": 0, "fines": fine, "total": total },
        }))
        .unwrap()
    };
    log.push(
        &o.inspector,
        parse(json!({
            "kind": "rectification_item", "item_id": "ROGUE-1-R1", "case_id": "ROGUE-1",
            "institution": inst.code, "problem": "整改虚构诊疗项目问题", "deadline": "2024-03-31",
        }))
        .unwrap(),
    );
    // A 6× fine where Art. 40 allows 2–5×.
    let penalty = log.push(
        &o.adjudicator,
        decide("ROGUE-1-D1", "ROGUE-1-F1", "6", 6_000_000, 7_000_000),
    );
    // Totals that do not add up.
    let arithmetic = log.push(
        &o.adjudicator,
        decide("ROGUE-1-D2", "ROGUE-1-F2", "2", 2_000_000, 3_500_000),
    );
    // An officer holding both roles decides a finding of their own.
    let both = SigningKey::from_bytes(&[0x77; 32]);
    log.push(
        &o.bureau,
        parse(json!({
            "kind": "key_event", "event": "officer_added",
            "key": hex::encode(both.verifying_key().to_bytes()), "officer_id": "14000000009",
            "surname": "周", "roles": ["inspector", "adjudicator"],
        }))
        .unwrap(),
    );
    let own_finding = log.push(&both, finding("ROGUE-1-F4", 40));
    let separation = log.push(
        &both,
        decide("ROGUE-1-D4", "ROGUE-1-F4", "2", 2_000_000, 3_000_000),
    );
    // A finding signed by the publisher, who may not record findings.
    let unauthorised = log.push(&o.publisher, finding("ROGUE-1-F5", 40));
    // A notice of a decision that does not exist.
    let notice = log.push(
        &o.publisher,
        parse(json!({
            "kind": "exposure_notice", "notice_id": "ROGUE-N", "case_id": "ROGUE-1",
            "decision_id": "ROGUE-1-D9", "title": format!("{}违规使用医保基金案", inst.name),
            "institution": inst_ref, "location": "柳林县", "inspecting_body": "柳林县医疗保障局",
            "inspection_period": "2023年", "facts": "虚构诊疗项目。", "categories": ["虚构医药服务项目"],
            "amount_involved": 1_000_000, "legal_basis": "《医疗保障基金使用监督管理条例》第四十条",
            "handling": "追回并处罚款", "fully_recovered": true, "persons": [],
            "published_on": "2023-07-01",
        }))
        .unwrap(),
    );
    // A daily inspection of another county's institution.
    let other = &counties[2].insts[0];
    let cross = log.push(
        &o.inspector,
        parse(json!({
            "kind": "inspection_opened", "case_id": "ROGUE-2", "inspection_type": "daily",
            "institution": { "code": other.code, "name": other.name, "division": other.division },
            "inspecting_body": "柳林县医疗保障局", "opened_on": "2023-03-01",
        }))
        .unwrap(),
    );
    // A grade set of the second half year that is all A.
    let grades: Vec<_> = liulin
        .insts
        .iter()
        .map(|i| json!({ "institution": i.code, "grade": "A", "score": 950 }))
        .collect();
    let ratio = log.push(
        &o.adjudicator,
        parse(json!({ "kind": "grade_set", "division": "141125", "period": "2023-H2", "grades": grades }))
            .unwrap(),
    );
    // A correction of an entry that does not exist.
    let dangling = log.push(
        &o.inspector,
        parse(json!({
            "kind": "correction", "target_seq": 999_999, "target_kind": "finding",
            "reason": "更正笔误",
        }))
        .unwrap(),
    );
    // What the node's submission screen refuses but validity allows: a notice whose amount
    // is not what its decision's findings involve, a notice naming a doctor in full, and a
    // credit repair that lowers a grade (institution 0 is graded A in the 2023 set).
    let first_case = &liulin.insts[0];
    let first_ref =
        json!({ "code": first_case.code, "name": first_case.name, "division": "141125" });
    let screened_notice = |id: &str, facts: &str| {
        parse(json!({
            "kind": "exposure_notice", "notice_id": id, "case_id": "141125-2023-000000",
            "decision_id": "141125-2023-000000-D", "title": format!("{}违规使用医保基金案", first_case.name),
            "institution": first_ref, "location": "柳林县", "inspecting_body": "柳林县医疗保障局",
            "inspection_period": "2023年", "facts": facts, "categories": ["分解住院"],
            "amount_involved": 1, "legal_basis": "《医疗保障基金使用监督管理条例》第三十八条",
            "handling": "追回医保基金", "fully_recovered": true, "persons": [],
            "published_on": "2024-06-01",
        }))
        .unwrap()
    };
    let mismatch = log.push(&o.publisher, screened_notice("SCREEN-N1", "分解住院。"));
    let named = log.push(
        &o.publisher,
        screened_notice("SCREEN-N2", "经查，刘德华医生开具虚假处方。"),
    );
    let lowered = log.push(
        &o.adjudicator,
        parse(json!({
            "kind": "grade_revision", "division": "141125", "period": "2023",
            "institution": first_case.code, "grade": "B", "score": 850,
            "reason_kind": "credit_repair", "reason": "信用修复",
        }))
        .unwrap(),
    );
    // A signature that does not verify.
    let forged = {
        let record = finding("ROGUE-1-F6", 40);
        let mut submission = log.submission(&o.inspector, &record);
        submission.signature[5] ^= 0x10;
        let seq = log.entries.len() as u64;
        let bytes = encode_entry(seq, &log.prev, &submission.view().unwrap());
        log.push_bytes(bytes)
    };

    let rogue = bundle_of(&logs, true);
    let report = audit_bundle(&rogue, &Policy::default(), &[], &with_manifest, &|_| {}).unwrap();
    let c = "141125";
    let b = assert_breach(&report, "penalty-range", c, penalty);
    assert!(b.entries.iter().any(|e| e.seq == f1), "{b:?}");
    assert_breach(&report, "arithmetic", c, arithmetic);
    let b = assert_breach(&report, "separation-of-duties", c, separation);
    assert!(b.entries.iter().any(|e| e.seq == own_finding), "{b:?}");
    assert_breach(&report, "authorisation", c, unauthorised);
    assert_breach(&report, "exposure-reference", c, notice);
    assert_breach(&report, "cross-county", c, cross);
    assert_breach(&report, "grade-ratio", c, ratio);
    assert_breach(&report, "dangling-correction", c, dangling);
    let decision_seq = report
        .decisions
        .iter()
        .find(|d| &*d.county == c && &*d.decision_id == "141125-2023-000000-D")
        .unwrap()
        .seq;
    let b = assert_breach(&report, "notice-amount-mismatch", c, mismatch);
    assert!(b.entries.iter().any(|e| e.seq == decision_seq), "{b:?}");
    assert!(b.what.contains("involve"), "{b:?}");
    let b = assert_breach(&report, "notice-personal-data", c, named);
    assert!(b.what.contains("刘德华医生"), "{b:?}");
    let b = assert_breach(&report, "credit-repair-lowers-grade", c, lowered);
    assert_eq!(b.entries.len(), 2, "the revision and its grade set: {b:?}");
    assert!(b.what.contains("raises a grade"), "{b:?}");
    let b = assert_breach(&report, "integrity", c, forged);
    assert!(b.what.contains("signature"), "{b:?}");
    let found = breaches_of(&report, "cosignature");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].county, "141126");
    assert!(found[0].what.contains(&witness_name("141125")), "{found:?}");
    assert_eq!(report.integrity.cosignatures_verified, 3);
    // Nothing else: the other counties are clean.
    assert_eq!(report.breach_count, 13, "{:#?}", report.breaches);
    assert!(report
        .breaches
        .iter()
        .all(|b| b.county == c || b.kind == "cosignature"));
    // The forged finding counts nowhere; the signed rogue records do.
    let row = report.counties.iter().find(|t| t.county == c).unwrap();
    assert_eq!(row.breaches, 12);
    let finding_ids: Vec<&str> = report.findings.iter().map(|f| &*f.finding_id).collect();
    assert!(finding_ids.contains(&"ROGUE-1-F5"));
    assert!(!finding_ids.contains(&"ROGUE-1-F6"));
    before[0] = logs[0].entries.len();
    assert_eq!(
        report.integrity.entries,
        before.iter().sum::<usize>() as u64
    );
}

/// The node's submission screen refuses, from its own officers, what the audit reports in
/// an export: a notice whose amount is not its decision's, a notice naming a doctor in
/// full, a credit repair that lowers a grade. A credit repair that raises one is taken,
/// and the ledger stays clean.
#[test]
fn the_node_refuses_what_its_screen_finds() {
    use yibao_ledger::store::AppendError;
    use yibao_schema::rules::Rule;

    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), Policy::default()).unwrap();
    let counties = clean_ledger(&ledger);
    let liulin = &counties[0];
    let first = &liulin.insts[0];
    let notice = |id: &str, facts: &str, amount: u64| {
        parse(json!({
            "kind": "exposure_notice", "notice_id": id, "case_id": "141125-2023-000000",
            "decision_id": "141125-2023-000000-D", "title": format!("{}违规使用医保基金案", first.name),
            "institution": { "code": first.code, "name": first.name, "division": "141125" },
            "location": "柳林县", "inspecting_body": "柳林县医疗保障局",
            "inspection_period": "2023年", "facts": facts, "categories": ["分解住院"],
            "amount_involved": amount, "legal_basis": "《医疗保障基金使用监督管理条例》第三十八条",
            "handling": "追回医保基金", "fully_recovered": true, "persons": [],
            "published_on": "2024-06-01",
        }))
        .unwrap()
    };
    // What the case's findings involve, from the case's own notice.
    let report = audit_ledger(&ledger, &options(), &|_| {});
    let involved: u64 = report
        .findings
        .iter()
        .filter(|f| &*f.county == "141125" && &*f.case_id == "141125-2023-000000")
        .map(|f| f.amount_involved)
        .sum();
    assert!(involved > 0);
    let revision = |code: &str, grade: &str| {
        parse(json!({
            "kind": "grade_revision", "division": "141125", "period": "2023",
            "institution": code, "grade": grade, "score": 700,
            "reason_kind": "credit_repair", "reason": "整改销号后连续六个月未发现违规，予以信用修复。",
        }))
        .unwrap()
    };
    let last = &liulin.insts[liulin.insts.len() - 1]; // Graded D: the set grades in order.
    let records = [
        (
            Signer::Publisher,
            notice("SCREEN-1", "分解住院。", involved + 1),
        ),
        (
            Signer::Publisher,
            notice("SCREEN-2", "经查，刘德华医生开具虚假处方。", involved),
        ),
        (Signer::Adjudicator, revision(&first.code, "B")),
        (Signer::Adjudicator, revision(&last.code, "C")),
        (
            Signer::Publisher,
            notice("SCREEN-3", "分解住院。", involved),
        ),
    ];
    let submissions =
        workload::sign(&liulin.officers, &liulin.code.origin(), TIME_MS, &records).unwrap();
    let results = ledger
        .append_batch(&liulin.code, submissions, TIME_MS)
        .unwrap();
    let refused = |i: usize, rule: Rule, needle: &str| match &results[i] {
        Err(AppendError::Rule(v)) => {
            assert_eq!(v.rule, rule, "{v}");
            assert!(v.to_string().contains(needle), "{v}");
        }
        other => panic!("submission {i}: {other:?}"),
    };
    refused(0, Rule::ExposureReference, "involve");
    refused(1, Rule::ExposurePrivacy, "刘德华医生");
    refused(2, Rule::Transition, "raises a grade");
    assert!(results[3].is_ok(), "{:?}", results[3]);
    assert!(results[4].is_ok(), "{:?}", results[4]);
    let after = audit_ledger(&ledger, &options(), &|_| {});
    assert!(after.is_clean(), "{:#?}", after.breaches);
}
