//! Bad-input tests for every domain rule (each asserts the rule id and the field path),
//! the money vectors from the seeds, JSON errors that name the field, largest-remainder
//! grade counts, and the canonical CBOR payload of every record kind.
//!
//! Not here: signatures, entry hashing and storage (the `sig`, `entry` and ledger tests).

use proptest::prelude::*;
use serde_json::{json, Value};

use yibao_schema::policy::Policy;
use yibao_schema::record::{
    Bytes32, Decision, DivisionCode, Fen, InstitutionCode, KeyEvent, Multiple, OfficerId, Record,
    RecordKind, Role, Totals,
};
use yibao_schema::rules::{self, largest_remainder, penalty_amount, Rule, RuleViolation};
use yibao_schema::state::{EntryContext, ItemStatus, LogState};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

const BUREAU: [u8; 32] = [0xB0; 32];
const INSPECTOR: [u8; 32] = [0x11; 32];
const INSPECTOR_2: [u8; 32] = [0x12; 32];
const ADJUDICATOR: [u8; 32] = [0x21; 32];
/// Holds both the inspector and the adjudicator role.
const DUAL: [u8; 32] = [0x22; 32];
/// A second key of the officer who holds `INSPECTOR` (same certificate number).
const INSPECTOR_SECOND_KEY: [u8; 32] = [0x23; 32];
const PUBLISHER: [u8; 32] = [0x31; 32];
const ADMIN: [u8; 32] = [0x41; 32];
const STRANGER: [u8; 32] = [0x99; 32];
/// 2022-06-30 00:00 China Standard Time.
const T0: u64 = 1_656_518_400_000;

const HOSPITAL: &str = "H14112500001";
const PHARMACY: &str = "P14112500001";
const OTHER_COUNTY_HOSPITAL: &str = "H14112400023";

fn division() -> DivisionCode {
    DivisionCode::parse("141125").unwrap()
}

fn rec(value: Value) -> Record {
    Record::from_json_value(&value).unwrap_or_else(|e| panic!("{e}\n{value:#}"))
}

#[track_caller]
fn expect(result: Result<(), RuleViolation>, rule: Rule, field: &str) -> RuleViolation {
    let v = match result {
        Ok(()) => panic!("expected a {rule} violation at `{field}`, but the record was accepted"),
        Err(v) => v,
    };
    assert_eq!((v.rule, v.field.as_str()), (rule, field), "{v}");
    v
}

struct Log {
    state: LogState,
    ts: u64,
}

impl Log {
    /// A created log with officers; nothing else.
    fn empty() -> Self {
        let mut log = Log {
            state: LogState::new(division(), Policy::default()),
            ts: T0,
        };
        log.append(
            BUREAU,
            rec(
                json!({"kind": "key_event", "event": "log_created", "division": "141125",
                       "name": "柳林县医疗保障局", "bureau_key": hex::encode(BUREAU)}),
            ),
        );
        for (key, id, roles) in [
            (INSPECTOR, "14112500101", vec!["inspector"]),
            (INSPECTOR_2, "14112500105", vec!["inspector"]),
            (ADJUDICATOR, "14112500102", vec!["adjudicator"]),
            (DUAL, "14112500106", vec!["inspector", "adjudicator"]),
            (INSPECTOR_SECOND_KEY, "14112500101", vec!["adjudicator"]),
            (PUBLISHER, "14112500103", vec!["publisher"]),
            (ADMIN, "14112500104", vec!["administrator"]),
        ] {
            log.append(BUREAU, officer_added(key, id, roles));
        }
        log
    }

    /// A log with two institutions, an open case C1 for the hospital and findings F38
    /// (Art. 38, 32,100 yuan), F40 (Art. 40, 39,000 yuan) and F39 (Art. 39, no amount).
    fn with_case() -> Self {
        let mut log = Log::empty();
        log.append(ADMIN, institution(HOSPITAL, "private_hospital"));
        log.append(ADMIN, institution(PHARMACY, "retail_pharmacy_single"));
        log.append(INSPECTOR, opened("C1", HOSPITAL, "141125", "daily"));
        log.append(INSPECTOR, finding("C1", "F38", 38, 3_210_000));
        log.append(INSPECTOR, finding("C1", "F40", 40, 3_900_000));
        log.append(INSPECTOR, finding("C1", "F39", 39, 0));
        log
    }

    fn ctx(&self, author: [u8; 32]) -> EntryContext {
        EntryContext {
            division: division(),
            seq: self.state.next_seq(),
            timestamp_ms: self.ts,
            author,
        }
    }

    fn check(&self, author: [u8; 32], record: &Record) -> Result<(), RuleViolation> {
        self.state.check(&self.ctx(author), record)
    }

    #[track_caller]
    fn append(&mut self, author: [u8; 32], record: Record) -> u64 {
        let ctx = self.ctx(author);
        if let Err(v) = self.state.check_and_apply(&ctx, &record) {
            panic!("seq {} refused: {v}", ctx.seq);
        }
        self.ts += 60_000;
        ctx.seq
    }
}

fn officer_added(key: [u8; 32], id: &str, roles: Vec<&str>) -> Record {
    rec(
        json!({"kind": "key_event", "event": "officer_added", "key": hex::encode(key),
               "officer_id": id, "surname": "王", "roles": roles}),
    )
}

fn institution(code: &str, kind: &str) -> Record {
    rec(
        json!({"kind": "institution_registered", "code": code, "name": "柳林县某某医院",
               "institution_kind": kind, "division": "141125", "address": "山西省吕梁市柳林县"}),
    )
}

fn opened(case: &str, code: &str, division: &str, inspection_type: &str) -> Record {
    rec(
        json!({"kind": "inspection_opened", "case_id": case, "inspection_type": inspection_type,
               "institution": {"code": code, "name": "某某医院", "division": division},
               "inspecting_body": "柳林县医疗保障局", "opened_on": "2021-05-10"}),
    )
}

fn finding(case: &str, id: &str, article: u8, amount: u64) -> Record {
    rec(json!({"kind": "finding", "case_id": case, "finding_id": id,
               "legal_basis": {"article": article}, "pattern": "phantom_beds",
               "facts": "挂床住院。", "amount_involved": amount}))
}

/// A decision with the given items, totals computed from them.
fn decision(case: &str, id: &str, items: Value, handling: Value) -> Record {
    let mut value = json!({"kind": "decision", "case_id": case, "decision_id": id, "decided_on": "2021-06-25",
                           "items": items, "other_handling": handling,
                           "totals": {"recovered": 0, "damages": 0, "fines": 0, "total": 0}});
    let Record::Decision(mut d) = rec(value.take()) else {
        unreachable!()
    };
    d.totals = totals_of(&d);
    Record::Decision(d)
}

fn totals_of(d: &Decision) -> Totals {
    let recovered: u64 = d.items.iter().map(|i| i.recovered.get()).sum();
    let damages: u64 = d
        .items
        .iter()
        .filter_map(|i| i.damages)
        .map(|p| p.amount.get())
        .sum();
    let fines: u64 = d
        .items
        .iter()
        .filter_map(|i| i.fine)
        .map(|p| p.amount.get())
        .sum();
    Totals {
        recovered: Fen::new(recovered),
        damages: Fen::new(damages),
        fines: Fen::new(fines),
        total: Fen::new(recovered + damages + fines),
    }
}

fn fine_item(finding: &str, recovered: u64, basis: u64, multiple: &str, amount: u64) -> Value {
    json!({"finding_id": finding, "recovered": recovered,
           "fine": {"basis": basis, "multiple": multiple, "amount": amount}})
}

/// A valid decision of C1 deciding F38 (1.5×) and F40 (3.5×): the 黄石-style vector.
fn good_decision() -> Record {
    decision(
        "C1",
        "D1",
        json!([
            fine_item("F38", 3_210_000, 3_210_000, "1.5", 4_815_000),
            fine_item("F40", 3_900_000, 3_900_000, "3.5", 13_650_000),
        ]),
        json!(["order_to_correct", {"suspension": {"scope": "department", "months": 6}}]),
    )
}

fn notice(id: &str, case: &str, decision: &str, code: &str) -> Value {
    json!({"kind": "exposure_notice", "notice_id": id, "case_id": case, "decision_id": decision,
           "title": "柳林县某某医院违规使用医保基金案",
           "institution": {"code": code, "name": "柳林县某某医院", "division": "141125"},
           "location": "山西省吕梁市柳林县", "inspecting_body": "柳林县医疗保障局",
           "inspection_period": "2021年5月", "facts": "该院存在挂床住院问题，负责人景某负有管理责任。",
           "categories": ["挂床住院"], "amount_involved": 7_110_000,
           "legal_basis": "《医疗保障基金使用监督管理条例》第三十八条、第四十条",
           "handling": "追回医保基金71100元，处罚款184650元。", "fully_recovered": true,
           "persons": ["景某", "钱某某"], "published_on": "2021-07-15"})
}

fn validate(value: Value) -> Result<(), RuleViolation> {
    rules::validate(&rec(value), &Policy::default())
}

fn set_field(mut value: Value, path: &[&str], new: Value) -> Value {
    let mut slot = &mut value;
    for key in path {
        slot = match key.parse::<usize>() {
            Ok(i) => &mut slot[i],
            Err(_) => &mut slot[*key],
        };
    }
    *slot = new;
    value
}

fn decision_value(record: &Record) -> Value {
    serde_json::to_value(record).unwrap()
}

fn grade_set(division: &str, period: &str, counts: [usize; 4]) -> Value {
    let mut grades = Vec::new();
    let mut n = 1;
    for (grade, count) in ["A", "B", "C", "D"].iter().zip(counts) {
        for _ in 0..count {
            grades.push(json!({"institution": format!("H141125{n:05}"), "grade": grade, "score": 1000 - n * 10}));
            n += 1;
        }
    }
    json!({"kind": "grade_set", "division": division, "period": period, "grades": grades})
}

fn register_hospitals(log: &mut Log, n: usize) {
    for i in 1..=n {
        log.append(
            ADMIN,
            institution(&format!("H141125{i:05}"), "private_hospital"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Money vectors and arithmetic
// ---------------------------------------------------------------------------------------

#[test]
fn liulin_vector_111843_times_3_is_335529() {
    let recovered = Fen::from_yuan(111_843).unwrap();
    let damages = penalty_amount(recovered, Multiple::whole(2)).unwrap();
    assert_eq!(damages, Fen::new(22_368_600));
    assert_eq!(recovered.checked_add(damages), Fen::from_yuan(335_529));
    assert_eq!(Fen::new(33_552_900).to_string(), "335,529.00 yuan");
}

#[test]
fn fractional_multiples_are_exact() {
    let m15 = Multiple::parse("1.5").unwrap();
    let m35 = Multiple::parse("3.5").unwrap();
    assert_eq!(
        penalty_amount(Fen::from_yuan(32_100).unwrap(), m15),
        Fen::from_yuan(48_150)
    );
    assert_eq!(
        penalty_amount(Fen::from_yuan(39_000).unwrap(), m35),
        Fen::from_yuan(136_500)
    );
}

#[test]
fn penalties_round_half_up_to_the_fen() {
    let cases = [
        (3, "1.5", 5),    // 4.5 fen → 5
        (1, "1.5", 2),    // 1.5 fen → 2
        (1, "1.25", 1),   // 1.25 fen → 1
        (5, "0.1", 1),    // 0.5 fen → 1
        (1, "0.499", 0),  // 0.499 fen → 0
        (7, "2.333", 16), // 16.331 fen → 16
    ];
    for (basis, multiple, expected) in cases {
        let got = penalty_amount(Fen::new(basis), Multiple::parse(multiple).unwrap());
        assert_eq!(got, Some(Fen::new(expected)), "{basis} × {multiple}");
    }
    assert_eq!(penalty_amount(Fen::new(u64::MAX), Multiple::whole(2)), None);
}

#[test]
fn good_decision_is_accepted() {
    let mut log = Log::with_case();
    log.append(ADJUDICATOR, good_decision());
    assert!(log.state.is_decided("F38"));
    let Record::Decision(d) = good_decision() else {
        unreachable!()
    };
    assert_eq!(d.totals.fines, Fen::new(18_465_000));
    assert_eq!(d.totals.total, Fen::new(25_575_000));
}

#[test]
fn rule_money_amount_above_policy_maximum() {
    let mut value = serde_json::to_value(finding("C1", "F9", 38, 1)).unwrap();
    value["amount_involved"] = json!(1_000_000_000_001u64);
    expect(validate(value), Rule::Money, "amount_involved");
}

#[test]
fn rule_money_recovered_above_amount_involved() {
    let log = Log::with_case();
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 3_210_001}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::Money,
        "items[0].recovered",
    );
}

#[test]
fn rule_arithmetic_penalty_amount() {
    let d = decision_value(&decision(
        "C1",
        "D1",
        json!([fine_item("F38", 3_210_000, 3_210_000, "1.5", 4_815_001)]),
        json!([]),
    ));
    let v = expect(validate(d), Rule::Arithmetic, "items[0].fine.amount");
    assert!(v.reason.contains("48,150.00 yuan"), "{v}");
}

#[test]
fn rule_arithmetic_damages_basis_is_the_recovered_amount() {
    let d = decision_value(&decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 1000,
                "damages": {"basis": 2000, "multiple": "2", "amount": 4000}}]),
        json!([]),
    ));
    expect(validate(d), Rule::Arithmetic, "items[0].damages.basis");
}

#[test]
fn rule_arithmetic_totals() {
    let good = decision_value(&good_decision());
    for (field, path) in [
        ("totals.recovered", ["totals", "recovered"]),
        ("totals.damages", ["totals", "damages"]),
        ("totals.fines", ["totals", "fines"]),
        ("totals.total", ["totals", "total"]),
    ] {
        let stated = good["totals"][path[1]].as_u64().unwrap();
        let bad = set_field(good.clone(), &path, json!(stated + 1));
        expect(validate(bad), Rule::Arithmetic, field);
    }
}

#[test]
fn rule_arithmetic_flat_penalty_basis_equals_amount() {
    let d = decision_value(&decision(
        "C1",
        "D1",
        json!([{"finding_id": "F39", "recovered": 0, "fine": {"basis": 0, "amount": 2_000_000}}]),
        json!([]),
    ));
    expect(validate(d), Rule::Arithmetic, "items[0].fine.basis");
}

// ---------------------------------------------------------------------------------------
// Penalty and handling ranges
// ---------------------------------------------------------------------------------------

#[test]
fn rule_penalty_range_fine_multiple_for_article_40() {
    let log = Log::with_case();
    let d = decision(
        "C1",
        "D1",
        json!([
            fine_item("F38", 3_210_000, 3_210_000, "1.5", 4_815_000),
            fine_item("F40", 3_900_000, 3_900_000, "5.5", 21_450_000),
        ]),
        json!([]),
    );
    let v = expect(
        log.check(ADJUDICATOR, &d),
        Rule::PenaltyRange,
        "items[1].fine.multiple",
    );
    assert_eq!(
        v.to_string(),
        "`items[1].fine.multiple`: 5.5× is outside the 2×–5× range for Art. 40 (rule: penalty-range)"
    );
}

#[test]
fn rule_penalty_range_fine_multiple_for_article_38() {
    let log = Log::with_case();
    let d = decision(
        "C1",
        "D1",
        json!([fine_item("F38", 0, 3_210_000, "2.5", 8_025_000)]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::PenaltyRange,
        "items[0].fine.multiple",
    );
    let d = decision(
        "C1",
        "D1",
        json!([fine_item("F38", 0, 3_210_000, "0.5", 1_605_000)]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::PenaltyRange,
        "items[0].fine.multiple",
    );
}

#[test]
fn rule_penalty_range_article_38_fine_needs_a_multiple() {
    let log = Log::with_case();
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0, "fine": {"basis": 2_000_000, "amount": 2_000_000}}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::PenaltyRange,
        "items[0].fine.multiple",
    );
}

#[test]
fn rule_penalty_range_article_39_is_flat() {
    let log = Log::with_case();
    let flat = |amount: u64| {
        decision(
            "C1",
            "D1",
            json!([{"finding_id": "F39", "recovered": 0, "fine": {"basis": amount, "amount": amount}}]),
            json!([]),
        )
    };
    assert_eq!(log.check(ADJUDICATOR, &flat(1_000_000)), Ok(()));
    assert_eq!(log.check(ADJUDICATOR, &flat(5_000_000)), Ok(()));
    expect(
        log.check(ADJUDICATOR, &flat(999_999)),
        Rule::PenaltyRange,
        "items[0].fine.amount",
    );
    expect(
        log.check(ADJUDICATOR, &flat(5_000_001)),
        Rule::PenaltyRange,
        "items[0].fine.amount",
    );
    let with_multiple = decision(
        "C1",
        "D1",
        json!([fine_item("F39", 0, 0, "1", 0)]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &with_multiple),
        Rule::PenaltyRange,
        "items[0].fine.multiple",
    );
}

#[test]
fn rule_penalty_range_damages() {
    let d = |multiple: &str, amount: u64| {
        decision_value(&decision(
            "C1",
            "D1",
            json!([{"finding_id": "F38", "recovered": 1000,
                    "damages": {"basis": 1000, "multiple": multiple, "amount": amount}}]),
            json!([]),
        ))
    };
    assert_eq!(validate(d("5", 5000)), Ok(()));
    let v = expect(
        validate(d("6", 6000)),
        Rule::PenaltyRange,
        "items[0].damages.multiple",
    );
    assert!(v.reason.contains("1×–5×"), "{v}");
    expect(
        validate(d("0.5", 500)),
        Rule::PenaltyRange,
        "items[0].damages.multiple",
    );
    let no_multiple = decision_value(&decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 1000, "damages": {"basis": 1000, "amount": 2000}}]),
        json!([]),
    ));
    expect(
        validate(no_multiple),
        Rule::PenaltyRange,
        "items[0].damages.multiple",
    );
}

#[test]
fn rule_handling_range_suspension_and_points() {
    let with = |handling: Value| {
        decision_value(&decision(
            "C1",
            "D1",
            json!([{"finding_id": "F38", "recovered": 0}]),
            handling,
        ))
    };
    assert_eq!(
        validate(with(
            json!([{"suspension": {"scope": "department", "months": 12}}])
        )),
        Ok(())
    );
    expect(
        validate(with(
            json!(["summons", {"suspension": {"scope": "department", "months": 3}}]),
        )),
        Rule::HandlingRange,
        "other_handling[1].months",
    );
    expect(
        validate(with(
            json!([{"suspension": {"scope": "networked_settlement", "months": 13}}]),
        )),
        Rule::HandlingRange,
        "other_handling[0].months",
    );
    expect(
        validate(with(json!([{"staff_points": {"points": 13}}]))),
        Rule::HandlingRange,
        "other_handling[0].points",
    );
}

// ---------------------------------------------------------------------------------------
// Separation of duties, references, duplicates
// ---------------------------------------------------------------------------------------

#[test]
fn rule_separation_of_duties_same_key() {
    let mut log = Log::with_case();
    log.append(DUAL, finding("C1", "F-dual", 38, 1000));
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F-dual", "recovered": 1000}]),
        json!([]),
    );
    let v = expect(
        log.check(DUAL, &d),
        Rule::SeparationOfDuties,
        "items[0].finding_id",
    );
    assert!(v.reason.contains("查办分离"), "{v}");
    // Another adjudicator may decide it.
    assert_eq!(log.check(ADJUDICATOR, &d), Ok(()));
}

#[test]
fn rule_separation_of_duties_same_officer_other_key() {
    let log = Log::with_case();
    // INSPECTOR_SECOND_KEY belongs to the officer who recorded F38 with INSPECTOR.
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(INSPECTOR_SECOND_KEY, &d),
        Rule::SeparationOfDuties,
        "items[0].finding_id",
    );
}

#[test]
fn rule_reference_finding_needs_an_opened_case() {
    let log = Log::with_case();
    expect(
        log.check(INSPECTOR, &finding("C-missing", "F9", 38, 1)),
        Rule::Reference,
        "case_id",
    );
}

#[test]
fn rule_reference_decision_items_belong_to_the_case() {
    let mut log = Log::with_case();
    log.append(INSPECTOR, opened("C2", PHARMACY, "141125", "random"));
    log.append(INSPECTOR, finding("C2", "F-other", 38, 1000));
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F-other", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::Reference,
        "items[0].finding_id",
    );
    let d = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F-nowhere", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &d),
        Rule::Reference,
        "items[0].finding_id",
    );
    let d = decision(
        "C9",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!([]),
    );
    expect(log.check(ADJUDICATOR, &d), Rule::Reference, "case_id");
}

#[test]
fn rule_reference_empty_decision() {
    let d = decision_value(&good_decision());
    let d = set_field(d, &["items"], json!([]));
    let d = set_field(
        d,
        &["totals"],
        json!({"recovered": 0, "damages": 0, "fines": 0, "total": 0}),
    );
    expect(validate(d), Rule::Reference, "items");
}

#[test]
fn rule_reference_rectification() {
    let mut log = Log::with_case();
    let update = rec(
        json!({"kind": "rectification_update", "item_id": "R-missing", "status": "rectifying",
                            "on": "2021-07-01", "note": "整改中"}),
    );
    expect(log.check(INSPECTOR, &update), Rule::Reference, "item_id");
    let item = |code: &str, case: Option<&str>| {
        let mut v = json!({"kind": "rectification_item", "item_id": "R1", "institution": code,
                           "problem": "制度不健全", "deadline": "2021-08-31"});
        if let Some(case) = case {
            v["case_id"] = json!(case);
        }
        rec(v)
    };
    expect(
        log.check(INSPECTOR, &item("H14112500999", None)),
        Rule::Reference,
        "institution",
    );
    expect(
        log.check(INSPECTOR, &item(PHARMACY, Some("C1"))),
        Rule::Reference,
        "institution",
    );
    expect(
        log.check(INSPECTOR, &item(HOSPITAL, Some("C9"))),
        Rule::Reference,
        "case_id",
    );
    log.append(INSPECTOR, item(HOSPITAL, Some("C1")));
    assert_eq!(log.state.rectification_status("R1"), Some(ItemStatus::Open));
}

#[test]
fn rule_reference_grades() {
    let mut log = Log::empty();
    register_hospitals(&mut log, 19);
    // H14112500020 is not registered while this division's registrations are known.
    expect(
        log.check(ADJUDICATOR, &rec(grade_set("141125", "2021", [6, 8, 4, 2]))),
        Rule::Reference,
        "grades[19].institution",
    );
    log.append(ADMIN, institution("H14112500020", "private_hospital"));
    log.append(ADJUDICATOR, rec(grade_set("141125", "2021", [6, 8, 4, 2])));
    let revision = |period: &str, code: &str| {
        rec(
            json!({"kind": "grade_revision", "division": "141125", "period": period, "institution": code,
                   "grade": "B", "score": 880, "reason_kind": "appeal", "reason": "申诉成立"}),
        )
    };
    expect(
        log.check(ADJUDICATOR, &revision("2022", "H14112500020")),
        Rule::Reference,
        "period",
    );
    expect(
        log.check(ADJUDICATOR, &revision("2021", "H14112500099")),
        Rule::Reference,
        "institution",
    );
    log.append(ADJUDICATOR, revision("2021", "H14112500020"));
}

#[test]
fn rule_duplicate_ids() {
    let mut log = Log::with_case();
    expect(
        log.check(INSPECTOR, &opened("C1", HOSPITAL, "141125", "daily")),
        Rule::Duplicate,
        "case_id",
    );
    expect(
        log.check(INSPECTOR, &finding("C1", "F38", 38, 1)),
        Rule::Duplicate,
        "finding_id",
    );
    expect(
        log.check(ADMIN, &institution(HOSPITAL, "private_hospital")),
        Rule::Duplicate,
        "code",
    );
    log.append(ADJUDICATOR, good_decision());
    let again = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F39", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &again),
        Rule::Duplicate,
        "decision_id",
    );
    let decided_twice = decision(
        "C1",
        "D2",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &decided_twice),
        Rule::Duplicate,
        "items[0].finding_id",
    );
    log.append(PUBLISHER, rec(notice("N1", "C1", "D1", HOSPITAL)));
    expect(
        log.check(PUBLISHER, &rec(notice("N1", "C1", "D1", HOSPITAL))),
        Rule::Duplicate,
        "notice_id",
    );
    let item = rec(
        json!({"kind": "rectification_item", "item_id": "R1", "case_id": "C1", "institution": HOSPITAL,
                          "problem": "挂床住院", "deadline": "2021-08-31"}),
    );
    log.append(INSPECTOR, item.clone());
    expect(log.check(INSPECTOR, &item), Rule::Duplicate, "item_id");
}

#[test]
fn rule_duplicate_within_records() {
    let d = decision_value(&decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0}, {"finding_id": "F38", "recovered": 0}]),
        json!([]),
    ));
    expect(validate(d), Rule::Duplicate, "items[1].finding_id");
    let mut set = grade_set("141125", "2021", [3, 4, 2, 1]);
    set["grades"][1]["institution"] = set["grades"][0]["institution"].clone();
    expect(validate(set), Rule::Duplicate, "grades[1].institution");
    let digest = hex::encode([7u8; 32]);
    let mut f = serde_json::to_value(finding("C1", "F1", 38, 1)).unwrap();
    f["evidence"] = json!([digest, digest]);
    expect(validate(f), Rule::Duplicate, "evidence[1]");
    let d = decision_value(&decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!(["summons", "summons"]),
    ));
    expect(validate(d), Rule::Duplicate, "other_handling[1]");
}

#[test]
fn rule_duplicate_grade_set_per_division_and_period() {
    let mut log = Log::empty();
    register_hospitals(&mut log, 10);
    log.append(ADJUDICATOR, rec(grade_set("141125", "2021", [3, 4, 2, 1])));
    expect(
        log.check(ADJUDICATOR, &rec(grade_set("141125", "2021", [3, 4, 2, 1]))),
        Rule::Duplicate,
        "period",
    );
    log.append(
        ADJUDICATOR,
        rec(grade_set("141125", "2021-H2", [3, 4, 2, 1])),
    );
}

// ---------------------------------------------------------------------------------------
// Grades
// ---------------------------------------------------------------------------------------

#[test]
fn rule_grade_ratio_twenty_institutions() {
    assert_eq!(validate(grade_set("141125", "2021", [6, 8, 4, 2])), Ok(()));
    let v = expect(
        validate(grade_set("141125", "2021", [7, 7, 4, 2])),
        Rule::GradeRatio,
        "grades",
    );
    assert!(v.reason.contains("expected A 6, B 8, C 4, D 2"), "{v}");
    expect(
        validate(grade_set("141125", "2021", [0, 0, 0, 0])),
        Rule::GradeRatio,
        "grades",
    );
}

#[test]
fn rule_grade_score() {
    let mut set = grade_set("141125", "2021", [3, 4, 2, 1]);
    set["grades"][3]["score"] = json!(1001);
    expect(validate(set), Rule::GradeScore, "grades[3].score");
    let revision = json!({"kind": "grade_revision", "division": "141125", "period": "2021",
                          "institution": HOSPITAL, "grade": "A", "score": 5000,
                          "reason_kind": "credit_repair", "reason": "信用修复"});
    expect(validate(revision), Rule::GradeScore, "score");
}

#[test]
fn hamilton_counts_for_several_sizes() {
    let ratio = [3, 4, 2, 1];
    for (n, expected) in [
        (7, vec![2, 3, 1, 1]),
        (10, vec![3, 4, 2, 1]),
        (13, vec![4, 5, 3, 1]),
        (20, vec![6, 8, 4, 2]),
        (33, vec![10, 13, 7, 3]),
        (2, vec![1, 1, 0, 0]),
        (0, vec![0, 0, 0, 0]),
    ] {
        assert_eq!(largest_remainder(n, &ratio), Some(expected), "N = {n}");
    }
    // Ties go to the better grade.
    assert_eq!(largest_remainder(5, &[1, 1, 1, 1]), Some(vec![2, 1, 1, 1]));
    assert_eq!(largest_remainder(6, &[1, 1, 1, 1]), Some(vec![2, 2, 1, 1]));
    assert_eq!(largest_remainder(5, &[0, 0, 0, 0]), None);
}

proptest! {
    #[test]
    fn hamilton_counts_sum_to_n_and_stay_within_one_of_the_quota(
        n in 0u64..100_000,
        weights in proptest::collection::vec(0u32..1_000, 1..8),
    ) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let counts = largest_remainder(n, &weights).unwrap();
        prop_assert_eq!(counts.iter().sum::<u64>(), n);
        let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        for (count, &w) in counts.iter().zip(&weights) {
            // |count − n·w/Σw| < 1, in integers.
            let scaled = u128::from(*count) * sum;
            let exact = u128::from(n) * u128::from(w);
            prop_assert!(scaled.abs_diff(exact) < sum, "count {} for weight {} of {}", count, w, sum);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Exposure notices
// ---------------------------------------------------------------------------------------

fn decided_log() -> Log {
    let mut log = Log::with_case();
    log.append(ADJUDICATOR, good_decision());
    log
}

#[test]
fn good_notice_is_accepted() {
    let mut log = decided_log();
    log.append(PUBLISHER, rec(notice("N1", "C1", "D1", HOSPITAL)));
}

#[test]
fn rule_exposure_privacy_persons() {
    let good = notice("N1", "C1", "D1", HOSPITAL);
    for (bad, field) in [
        (json!(["景三"]), "persons[0]"),
        (json!(["景某", "景某某某"]), "persons[1]"),
        (json!(["景某", "钱某某", "张三某"]), "persons[2]"),
    ] {
        expect(
            validate(set_field(good.clone(), &["persons"], bad)),
            Rule::ExposurePrivacy,
            field,
        );
    }
    let many: Vec<String> = (0..11).map(|_| "景某".to_string()).collect();
    expect(
        validate(set_field(good, &["persons"], json!(many))),
        Rule::ExposurePrivacy,
        "persons",
    );
}

#[test]
fn rule_exposure_privacy_free_text() {
    let good = notice("N1", "C1", "D1", HOSPITAL);
    for (field, text) in [
        ("facts", "患者身份证号141125199001011234住院"),
        ("facts", "患者身份证号14112519900101123X住院"),
        ("handling", "联系电话13812345678"),
        ("handling", "联系电话 138-1234-5678"),
        ("title", "患者张三违规使用医保基金案"),
        ("legal_basis", "院长王小明"),
        ("location", "负责人：李四"),
    ] {
        let bad = set_field(good.clone(), &[field], json!(text));
        expect(validate(bad), Rule::ExposurePrivacy, field);
    }
    let bad = set_field(good.clone(), &["categories", "0"], json!("护士赵六冒名"));
    expect(validate(bad), Rule::ExposurePrivacy, "categories[0]");
    // Institution codes, sums and masked names are fine.
    let ok = set_field(
        good,
        &["facts"],
        json!("H14112500001违规金额71100元，负责人景某、医生钱某某。"),
    );
    assert_eq!(validate(ok), Ok(()));
}

#[test]
fn rule_exposure_reference() {
    let mut log = decided_log();
    expect(
        log.check(PUBLISHER, &rec(notice("N1", "C1", "D9", HOSPITAL))),
        Rule::ExposureReference,
        "decision_id",
    );
    expect(
        log.check(PUBLISHER, &rec(notice("N1", "C9", "D1", HOSPITAL))),
        Rule::ExposureReference,
        "case_id",
    );
    expect(
        log.check(PUBLISHER, &rec(notice("N1", "C1", "D1", PHARMACY))),
        Rule::ExposureReference,
        "institution.code",
    );
    log.append(INSPECTOR, opened("C2", PHARMACY, "141125", "random"));
    expect(
        log.check(PUBLISHER, &rec(notice("N1", "C2", "D1", PHARMACY))),
        Rule::ExposureReference,
        "decision_id",
    );
}

// ---------------------------------------------------------------------------------------
// Cross-county
// ---------------------------------------------------------------------------------------

#[test]
fn rule_cross_county_inspection_types() {
    let mut log = Log::with_case();
    for t in ["daily", "special", "random", "smart_monitoring"] {
        let v = expect(
            log.check(INSPECTOR, &opened("X1", OTHER_COUNTY_HOSPITAL, "141124", t)),
            Rule::CrossCounty,
            "inspection_type",
        );
        assert!(v.reason.contains("141124"), "{v}");
    }
    expect(
        log.check(INSPECTOR, &opened("X1", HOSPITAL, "141125", "cross_county")),
        Rule::CrossCounty,
        "inspection_type",
    );
    expect(
        log.check(
            INSPECTOR,
            &opened("X1", "H37170200001", "371702", "city_direct"),
        ),
        Rule::CrossCounty,
        "institution.division",
    );
    for (case, t) in [
        ("X1", "cross_county"),
        ("X2", "flight"),
        ("X3", "city_direct"),
    ] {
        log.append(INSPECTOR, opened(case, OTHER_COUNTY_HOSPITAL, "141124", t));
        log.append(INSPECTOR, finding(case, &format!("{case}-F1"), 38, 100));
    }
}

#[test]
fn rule_cross_county_registration_in_own_division_only() {
    let log = Log::empty();
    let mut value = serde_json::to_value(institution("H14112400001", "private_hospital")).unwrap();
    value["division"] = json!("141124");
    expect(log.check(ADMIN, &rec(value)), Rule::CrossCounty, "division");
}

#[test]
fn registered_division_must_match_the_case() {
    let log = Log::with_case();
    // HOSPITAL is registered in 141125; a case naming it in 141124 contradicts the registry.
    expect(
        log.check(INSPECTOR, &opened("X1", HOSPITAL, "141124", "flight")),
        Rule::Reference,
        "institution.division",
    );
}

// ---------------------------------------------------------------------------------------
// Authorisation and key events
// ---------------------------------------------------------------------------------------

#[test]
fn rule_authorisation_by_role() {
    let log = Log::with_case();
    expect(
        log.check(INSPECTOR, &good_decision()),
        Rule::Authorisation,
        "author",
    );
    expect(
        log.check(ADJUDICATOR, &finding("C1", "F9", 38, 1)),
        Rule::Authorisation,
        "author",
    );
    expect(
        log.check(PUBLISHER, &institution("H14112500002", "clinic")),
        Rule::Authorisation,
        "author",
    );
    expect(
        log.check(STRANGER, &finding("C1", "F9", 38, 1)),
        Rule::Authorisation,
        "author",
    );
    let v = expect(
        log.check(BUREAU, &finding("C1", "F9", 38, 1)),
        Rule::Authorisation,
        "author",
    );
    assert!(v.reason.contains("bureau key"), "{v}");
    expect(
        log.check(INSPECTOR, &officer_added(STRANGER, "x", vec!["inspector"])),
        Rule::Authorisation,
        "author",
    );
    assert!(log.state.is_authorised(&INSPECTOR, RecordKind::Finding));
    assert!(!log.state.is_authorised(&INSPECTOR, RecordKind::Decision));
    assert!(log.state.is_authorised(&BUREAU, RecordKind::KeyEvent));
}

#[test]
fn rule_authorisation_revoked_key() {
    let mut log = Log::with_case();
    log.append(
        BUREAU,
        rec(json!({"kind": "key_event", "event": "officer_revoked", "key": hex::encode(INSPECTOR), "reason": "调离"})),
    );
    let v = expect(
        log.check(INSPECTOR, &finding("C1", "F9", 38, 1)),
        Rule::Authorisation,
        "author",
    );
    assert!(v.reason.contains("revoked"), "{v}");
    assert!(!log.state.is_authorised(&INSPECTOR, RecordKind::Finding));
    expect(
        log.check(
            BUREAU,
            &rec(json!({"kind": "key_event", "event": "officer_revoked", "key": hex::encode(INSPECTOR), "reason": "x"})),
        ),
        Rule::Transition,
        "key",
    );
    expect(
        log.check(
            BUREAU,
            &officer_added(INSPECTOR, "14112500101", vec!["inspector"]),
        ),
        Rule::Duplicate,
        "key",
    );
}

#[test]
fn bureau_key_rotation_switches_the_signer_of_key_events() {
    let new_bureau = [0xB1; 32];
    let mut log = Log::empty();
    let rotate = rec(
        json!({"kind": "key_event", "event": "bureau_key_rotated", "new_key": hex::encode(new_bureau)}),
    );
    log.append(BUREAU, rotate);
    assert_eq!(log.state.bureau_key(), Some(new_bureau));
    let add = officer_added([0x61; 32], "14112500200", vec!["publisher"]);
    expect(log.check(BUREAU, &add), Rule::Authorisation, "author");
    log.append(new_bureau, add);
    expect(
        log.check(new_bureau, &officer_added(BUREAU, "x", vec!["publisher"])),
        Rule::Authorisation,
        "key",
    );
    let back = rec(
        json!({"kind": "key_event", "event": "bureau_key_rotated", "new_key": hex::encode(BUREAU)}),
    );
    expect(log.check(new_bureau, &back), Rule::Duplicate, "new_key");
    let to_officer = rec(
        json!({"kind": "key_event", "event": "bureau_key_rotated", "new_key": hex::encode(INSPECTOR)}),
    );
    expect(
        log.check(new_bureau, &to_officer),
        Rule::Authorisation,
        "new_key",
    );
    assert_eq!(log.state.officers().len(), 8);
}

#[test]
fn rule_reference_and_text_in_key_events() {
    let log = Log::empty();
    let revoke_unknown = rec(
        json!({"kind": "key_event", "event": "officer_revoked", "key": hex::encode(STRANGER), "reason": "x"}),
    );
    expect(log.check(BUREAU, &revoke_unknown), Rule::Reference, "key");
    let bad_surname = rec(
        json!({"kind": "key_event", "event": "officer_added", "key": hex::encode(STRANGER),
                                 "officer_id": "1", "surname": "王小明", "roles": ["inspector"]}),
    );
    expect(log.check(BUREAU, &bad_surname), Rule::Text, "surname");
    let no_roles = officer_added(STRANGER, "1", vec![]);
    expect(log.check(BUREAU, &no_roles), Rule::Authorisation, "roles");
    let twice = officer_added(STRANGER, "1", vec!["inspector", "publisher", "inspector"]);
    expect(log.check(BUREAU, &twice), Rule::Duplicate, "roles[2]");
}

// ---------------------------------------------------------------------------------------
// Genesis, sequence, origin, timestamps, dates
// ---------------------------------------------------------------------------------------

fn log_created(division: &str, key: [u8; 32]) -> Record {
    rec(
        json!({"kind": "key_event", "event": "log_created", "division": division,
               "name": "柳林县医疗保障局", "bureau_key": hex::encode(key)}),
    )
}

fn genesis_ctx(author: [u8; 32]) -> EntryContext {
    EntryContext {
        division: division(),
        seq: 0,
        timestamp_ms: T0,
        author,
    }
}

#[test]
fn rule_genesis() {
    let state = LogState::new(division(), Policy::default());
    expect(
        state.check(&genesis_ctx(BUREAU), &institution(HOSPITAL, "clinic")),
        Rule::Genesis,
        "kind",
    );
    expect(
        state.check(&genesis_ctx(STRANGER), &log_created("141125", BUREAU)),
        Rule::Genesis,
        "bureau_key",
    );
    assert_eq!(
        state.check(&genesis_ctx(BUREAU), &log_created("141125", BUREAU)),
        Ok(())
    );
    let log = Log::empty();
    expect(
        log.check(BUREAU, &log_created("141125", BUREAU)),
        Rule::Genesis,
        "event",
    );
}

#[test]
fn rule_origin() {
    let state = LogState::new(division(), Policy::default());
    expect(
        state.check(&genesis_ctx(BUREAU), &log_created("141124", BUREAU)),
        Rule::Origin,
        "division",
    );
    let mut ctx = genesis_ctx(BUREAU);
    ctx.division = DivisionCode::parse("141124").unwrap();
    expect(
        state.check(&ctx, &log_created("141125", BUREAU)),
        Rule::Origin,
        "division",
    );
    let log = Log::empty();
    expect(
        log.check(ADJUDICATOR, &rec(grade_set("141124", "2021", [3, 4, 2, 1]))),
        Rule::Origin,
        "division",
    );
}

#[test]
fn rule_sequence() {
    let log = Log::empty();
    let mut ctx = log.ctx(ADMIN);
    ctx.seq += 1;
    expect(
        log.state.check(&ctx, &institution(HOSPITAL, "clinic")),
        Rule::Sequence,
        "seq",
    );
    let state = LogState::new(division(), Policy::default());
    let mut ctx = genesis_ctx(BUREAU);
    ctx.seq = 3;
    expect(
        state.check(&ctx, &log_created("141125", BUREAU)),
        Rule::Sequence,
        "seq",
    );
}

#[test]
fn concurrent_officers_may_sign_out_of_order() {
    // Officers sign on their own clocks and the log orders concurrent submissions, so an
    // entry may carry an earlier timestamp than the one before it.
    let log = Log::empty();
    let mut ctx = log.ctx(ADMIN);
    ctx.timestamp_ms = T0 - 1;
    assert!(log
        .state
        .check(&ctx, &institution(HOSPITAL, "clinic"))
        .is_ok());
}

#[test]
fn rule_date() {
    let mut log = Log::with_case();
    let mut future = serde_json::to_value(opened("C9", HOSPITAL, "141125", "daily")).unwrap();
    future["opened_on"] = json!("2022-07-01");
    let v = expect(log.check(INSPECTOR, &rec(future)), Rule::Date, "opened_on");
    assert!(v.reason.contains("2022-06-30"), "{v}");
    let early = set_field(
        decision_value(&good_decision()),
        &["decided_on"],
        json!("2021-05-09"),
    );
    expect(
        log.check(ADJUDICATOR, &rec(early)),
        Rule::Date,
        "decided_on",
    );
    log.append(ADJUDICATOR, good_decision());
    let early = set_field(
        notice("N1", "C1", "D1", HOSPITAL),
        &["published_on"],
        json!("2021-06-24"),
    );
    expect(
        log.check(PUBLISHER, &rec(early)),
        Rule::Date,
        "published_on",
    );
}

// ---------------------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------------------

#[test]
fn rule_transition_rectification_steps() {
    let mut log = Log::with_case();
    log.append(
        INSPECTOR,
        rec(json!({"kind": "rectification_item", "item_id": "R1", "case_id": "C1", "institution": HOSPITAL,
                   "problem": "挂床住院", "deadline": "2021-08-31"})),
    );
    let update = |status: &str| {
        rec(
            json!({"kind": "rectification_update", "item_id": "R1", "status": status,
                   "on": "2021-07-01", "note": "进度"}),
        )
    };
    expect(
        log.check(INSPECTOR, &update("verified")),
        Rule::Transition,
        "status",
    );
    log.append(INSPECTOR, update("rectifying"));
    expect(
        log.check(INSPECTOR, &update("rectifying")),
        Rule::Transition,
        "status",
    );
    expect(
        log.check(ADJUDICATOR, &update("closed_out")),
        Rule::Transition,
        "status",
    );
    log.append(ADJUDICATOR, update("verified"));
    log.append(ADJUDICATOR, update("closed_out"));
    assert_eq!(
        log.state.rectification_status("R1"),
        Some(ItemStatus::ClosedOut)
    );
    let v = expect(
        log.check(INSPECTOR, &update("rectifying")),
        Rule::Transition,
        "status",
    );
    assert!(v.reason.contains("closed out"), "{v}");
}

#[test]
fn rule_transition_institution_status() {
    let mut log = Log::with_case();
    let update = |status: &str| {
        rec(
            json!({"kind": "institution_updated", "code": HOSPITAL, "changes": {"status": status},
                   "reason": "处理决定"}),
        )
    };
    expect(
        log.check(ADMIN, &update("active")),
        Rule::Transition,
        "changes.status",
    );
    log.append(ADMIN, update("suspended"));
    log.append(ADMIN, update("terminated"));
    expect(
        log.check(ADMIN, &update("active")),
        Rule::Transition,
        "changes.status",
    );
    let unknown = rec(
        json!({"kind": "institution_updated", "code": "H14112500777",
                             "changes": {"name": "新名称"}, "reason": "更名"}),
    );
    expect(log.check(ADMIN, &unknown), Rule::Reference, "code");
}

// ---------------------------------------------------------------------------------------
// Text, legal basis, institution codes
// ---------------------------------------------------------------------------------------

#[test]
fn rule_text() {
    let good = notice("N1", "C1", "D1", HOSPITAL);
    expect(
        validate(set_field(good.clone(), &["title"], json!(""))),
        Rule::Text,
        "title",
    );
    expect(
        validate(set_field(good.clone(), &["title"], json!("  "))),
        Rule::Text,
        "title",
    );
    expect(
        validate(set_field(good.clone(), &["title"], json!("a\u{0007}b"))),
        Rule::Text,
        "title",
    );
    expect(
        validate(set_field(good.clone(), &["title"], json!("a\nb"))),
        Rule::Text,
        "title",
    );
    expect(
        validate(set_field(good.clone(), &["location"], json!("a\u{202E}b"))),
        Rule::Text,
        "location",
    );
    expect(
        validate(set_field(good.clone(), &["categories"], json!([]))),
        Rule::Text,
        "categories",
    );
    // Facts may have line breaks, up to 20,000 characters.
    assert_eq!(
        validate(set_field(good.clone(), &["facts"], json!("一\n二"))),
        Ok(())
    );
    let long = "医".repeat(20_001);
    expect(
        validate(set_field(good, &["facts"], json!(long))),
        Rule::Text,
        "facts",
    );
    let f = set_field(
        serde_json::to_value(finding("C1", "F1", 38, 1)).unwrap(),
        &["facts"],
        json!(""),
    );
    expect(validate(f), Rule::Text, "facts");
    let unchanged =
        json!({"kind": "institution_updated", "code": HOSPITAL, "changes": {}, "reason": "无"});
    expect(validate(unchanged), Rule::Text, "changes");
}

#[test]
fn rule_legal_basis() {
    let f = |article: u8, item: Option<u8>| {
        let mut v = serde_json::to_value(finding("C1", "F1", article, 1)).unwrap();
        if let Some(item) = item {
            v["legal_basis"]["item"] = json!(item);
        }
        v
    };
    assert_eq!(validate(f(38, Some(7))), Ok(()));
    expect(
        validate(f(42, None)),
        Rule::LegalBasis,
        "legal_basis.article",
    );
    expect(
        validate(f(38, Some(8))),
        Rule::LegalBasis,
        "legal_basis.item",
    );
    expect(
        validate(f(38, Some(0))),
        Rule::LegalBasis,
        "legal_basis.item",
    );
    expect(
        validate(f(40, Some(5))),
        Rule::LegalBasis,
        "legal_basis.item",
    );
}

#[test]
fn rule_institution_code_prefix_matches_kind() {
    expect(
        rules::validate(
            &institution(PHARMACY, "private_hospital"),
            &Policy::default(),
        ),
        Rule::InstitutionCode,
        "code",
    );
    expect(
        rules::validate(
            &institution(HOSPITAL, "retail_pharmacy_chain"),
            &Policy::default(),
        ),
        Rule::InstitutionCode,
        "code",
    );
    let update = json!({"kind": "institution_updated", "code": HOSPITAL,
                        "changes": {"institution_kind": "retail_pharmacy_single"}, "reason": "变更"});
    expect(
        validate(update),
        Rule::InstitutionCode,
        "changes.institution_kind",
    );
}

// ---------------------------------------------------------------------------------------
// Corrections
// ---------------------------------------------------------------------------------------

fn correction(target_seq: u64, target_kind: &str, replacement: Option<Value>) -> Record {
    let mut v = json!({"kind": "correction", "target_seq": target_seq, "target_kind": target_kind,
                       "reason": "录入错误"});
    if let Some(r) = replacement {
        v["replacement"] = r;
    }
    rec(v)
}

#[test]
fn rule_correction_targets() {
    let log = Log::with_case();
    // seq 0 is the log_created key event.
    expect(
        log.check(BUREAU, &correction(0, "key_event", None)),
        Rule::Correction,
        "target_kind",
    );
    expect(
        log.check(INSPECTOR, &correction(0, "finding", None)),
        Rule::Correction,
        "target_kind",
    );
    let next = log.state.next_seq();
    expect(
        log.check(INSPECTOR, &correction(next, "finding", None)),
        Rule::Correction,
        "target_seq",
    );
    let f38 = next - 3;
    assert_eq!(log.state.entry_kind(f38), Some(RecordKind::Finding));
    let replacement = serde_json::to_value(opened("C1", HOSPITAL, "141125", "daily")).unwrap();
    expect(
        log.check(INSPECTOR, &correction(f38, "finding", Some(replacement))),
        Rule::Correction,
        "replacement.kind",
    );
    let renamed = serde_json::to_value(finding("C1", "F38-new", 38, 1)).unwrap();
    expect(
        log.check(INSPECTOR, &correction(f38, "finding", Some(renamed))),
        Rule::Correction,
        "replacement.finding_id",
    );
    // A correction needs a role for the target's kind.
    expect(
        log.check(PUBLISHER, &correction(f38, "finding", None)),
        Rule::Authorisation,
        "author",
    );
    // Replacements are validated like any record, with the path under `replacement`.
    let bad = set_field(
        serde_json::to_value(finding("C1", "F38", 38, 1)).unwrap(),
        &["legal_basis", "article"],
        json!(50),
    );
    expect(
        log.check(INSPECTOR, &correction(f38, "finding", Some(bad))),
        Rule::LegalBasis,
        "replacement.legal_basis.article",
    );
}

#[test]
fn correction_replaces_a_finding_amount_then_the_decision_checks_the_new_amount() {
    let mut log = Log::with_case();
    let f38 = log.state.next_seq() - 3;
    let over = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 4_000_000}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &over),
        Rule::Money,
        "items[0].recovered",
    );
    let bigger = serde_json::to_value(finding("C1", "F38", 38, 4_000_000)).unwrap();
    log.append(INSPECTOR, correction(f38, "finding", Some(bigger)));
    log.append(ADJUDICATOR, over);
    // Now decided: the finding cannot be corrected until the decision is withdrawn.
    expect(
        log.check(INSPECTOR, &correction(f38, "finding", None)),
        Rule::Correction,
        "target_seq",
    );
}

#[test]
fn withdrawing_a_decision_frees_its_findings() {
    let mut log = Log::with_case();
    let d1 = log.append(ADJUDICATOR, good_decision());
    let n1 = log.append(PUBLISHER, rec(notice("N1", "C1", "D1", HOSPITAL)));
    expect(
        log.check(ADJUDICATOR, &correction(d1, "decision", None)),
        Rule::Correction,
        "target_seq",
    );
    log.append(PUBLISHER, correction(n1, "exposure_notice", None));
    log.append(ADJUDICATOR, correction(d1, "decision", None));
    assert!(log.state.is_withdrawn(d1));
    assert!(!log.state.is_decided("F38"));
    expect(
        log.check(ADJUDICATOR, &correction(d1, "decision", None)),
        Rule::Correction,
        "target_seq",
    );
    // The id stays taken; a new decision with a new id decides the findings again.
    let again = decision(
        "C1",
        "D1",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!([]),
    );
    expect(
        log.check(ADJUDICATOR, &again),
        Rule::Duplicate,
        "decision_id",
    );
    let d2 = decision(
        "C1",
        "D2",
        json!([{"finding_id": "F38", "recovered": 0}]),
        json!([]),
    );
    log.append(ADJUDICATOR, d2);
    assert!(log.state.is_decided("F38"));
    // A notice may not publish the withdrawn decision.
    expect(
        log.check(PUBLISHER, &rec(notice("N2", "C1", "D1", HOSPITAL))),
        Rule::ExposureReference,
        "decision_id",
    );
}

#[test]
fn replacement_decision_keeps_its_findings_and_separation() {
    let mut log = Log::with_case();
    let d1 = log.append(ADJUDICATOR, good_decision());
    let fewer = decision_value(&decision(
        "C1",
        "D1",
        json!([fine_item("F38", 3_210_000, 3_210_000, "1.5", 4_815_000)]),
        json!([]),
    ));
    expect(
        log.check(ADJUDICATOR, &correction(d1, "decision", Some(fewer))),
        Rule::Correction,
        "replacement.items",
    );
    let mut same = decision_value(&good_decision());
    same["decided_on"] = json!("2021-06-26");
    // The inspector's second key (an adjudicator) may not correct a decision of their own findings.
    expect(
        log.check(
            INSPECTOR_SECOND_KEY,
            &correction(d1, "decision", Some(same.clone())),
        ),
        Rule::SeparationOfDuties,
        "replacement.items[0].finding_id",
    );
    log.append(ADJUDICATOR, correction(d1, "decision", Some(same)));
    assert!(log.state.is_decided("F40"));
}

#[test]
fn rectification_update_corrections_step_back() {
    let mut log = Log::with_case();
    log.append(
        INSPECTOR,
        rec(json!({"kind": "rectification_item", "item_id": "R1", "case_id": "C1", "institution": HOSPITAL,
                   "problem": "挂床住院", "deadline": "2021-08-31"})),
    );
    let update = |status: &str| {
        rec(
            json!({"kind": "rectification_update", "item_id": "R1", "status": status,
                   "on": "2021-07-01", "note": "进度"}),
        )
    };
    let first = log.append(INSPECTOR, update("rectifying"));
    let second = log.append(ADJUDICATOR, update("verified"));
    expect(
        log.check(INSPECTOR, &correction(first, "rectification_update", None)),
        Rule::Correction,
        "target_seq",
    );
    let wrong_status = serde_json::to_value(update("closed_out")).unwrap();
    expect(
        log.check(
            ADJUDICATOR,
            &correction(second, "rectification_update", Some(wrong_status)),
        ),
        Rule::Correction,
        "replacement.status",
    );
    log.append(
        ADJUDICATOR,
        correction(second, "rectification_update", None),
    );
    assert_eq!(
        log.state.rectification_status("R1"),
        Some(ItemStatus::Rectifying)
    );
}

#[test]
fn a_case_with_findings_cannot_be_withdrawn() {
    let mut log = Log::with_case();
    let case_seq = log.state.next_seq() - 4;
    assert_eq!(
        log.state.entry_kind(case_seq),
        Some(RecordKind::InspectionOpened)
    );
    expect(
        log.check(INSPECTOR, &correction(case_seq, "inspection_opened", None)),
        Rule::Correction,
        "target_seq",
    );
    log.append(INSPECTOR, opened("C2", PHARMACY, "141125", "random"));
    let c2 = log.state.next_seq() - 1;
    log.append(INSPECTOR, correction(c2, "inspection_opened", None));
    assert!(!log.state.has_case("C2"));
    expect(
        log.check(INSPECTOR, &finding("C2", "F-c2", 38, 1)),
        Rule::Reference,
        "case_id",
    );
}

// ---------------------------------------------------------------------------------------
// Encoding and JSON errors
// ---------------------------------------------------------------------------------------

#[test]
fn rule_encoding_from_a_bad_payload() {
    let error = Record::decode_payload(RecordKind::Finding, &[0xff, 0x00]).unwrap_err();
    let v = RuleViolation::encoding(&error);
    assert_eq!((v.rule, v.field.as_str()), (Rule::Encoding, "payload"));
}

#[track_caller]
fn json_error(value: Value, path: &str, needle: &str) {
    let err = Record::from_json(&value.to_string()).unwrap_err();
    assert_eq!(err.path(), path, "{err}");
    assert!(
        err.message().contains(needle),
        "{err} should mention {needle:?}"
    );
}

#[test]
fn json_errors_name_the_field() {
    let f = serde_json::to_value(finding("C1", "F1", 38, 1)).unwrap();
    let mut typo = f.clone();
    typo["amout_involved"] = json!(1);
    json_error(typo, "", "unknown field `amout_involved`");
    json_error(
        set_field(f.clone(), &["amount_involved"], json!(1118.43)),
        "amount_involved",
        "not a whole number",
    );
    json_error(
        set_field(f.clone(), &["amount_involved"], json!(-5)),
        "amount_involved",
        "negative",
    );
    json_error(
        set_field(f.clone(), &["amount_involved"], json!("100")),
        "amount_involved",
        "string",
    );
    let mut no_facts = f.clone();
    no_facts.as_object_mut().unwrap().remove("facts");
    json_error(no_facts, "", "missing field `facts`");
    json_error(
        set_field(f.clone(), &["pattern"], json!("split_hospitalization")),
        "pattern",
        "unknown variant",
    );
    json_error(
        set_field(f, &["evidence"], json!(["ABC"])),
        "evidence[0]",
        "64 lowercase hex",
    );

    let d = decision_value(&good_decision());
    json_error(
        set_field(
            d.clone(),
            &["items", "1", "fine", "multiple"],
            json!("1.5555"),
        ),
        "items[1].fine.multiple",
        "more than 3 decimal places",
    );
    json_error(
        set_field(d.clone(), &["items", "0", "fine", "multiple"], json!(1.5)),
        "items[0].fine.multiple",
        "decimal string",
    );
    json_error(
        set_field(d.clone(), &["items", "0", "fine", "multiple"], json!(2)),
        "items[0].fine.multiple",
        "decimal string",
    );
    json_error(
        set_field(d.clone(), &["items", "0", "fine", "multiple"], json!("-1")),
        "items[0].fine.multiple",
        "decimal",
    );
    let mut extra = d.clone();
    extra["items"][0]["fine"]["rate"] = json!("1");
    json_error(extra, "items[0].fine", "unknown field `rate`");
    json_error(
        set_field(d.clone(), &["settlement_month"], json!("2021-13")),
        "settlement_month",
        "month",
    );
    json_error(
        set_field(
            d,
            &["other_handling", "1", "suspension", "months"],
            json!(-6),
        ),
        "other_handling[1].suspension.months",
        "-6",
    );

    let o = serde_json::to_value(opened("C1", HOSPITAL, "141125", "daily")).unwrap();
    json_error(
        set_field(o.clone(), &["institution", "code"], json!("X14112500001")),
        "institution.code",
        "H (medical",
    );
    json_error(
        set_field(o.clone(), &["institution", "division"], json!("14112")),
        "institution.division",
        "6 digits",
    );
    json_error(
        set_field(o.clone(), &["opened_on"], json!("2021-02-30")),
        "opened_on",
        "not a real calendar date",
    );
    json_error(
        set_field(o.clone(), &["opened_on"], json!("2021/06/30")),
        "opened_on",
        "YYYY-MM-DD",
    );
    json_error(
        set_field(o.clone(), &["case_id"], json!("")),
        "case_id",
        "must not be empty",
    );
    json_error(
        set_field(o, &["inspection_type"], json!("weekly")),
        "inspection_type",
        "unknown variant",
    );

    json_error(
        json!({"kind": "key_event", "event": "bureau_key_rotated", "new_key": hex::encode([1u8; 32]), "why": 1}),
        "",
        "unknown field `why`",
    );
    json_error(
        json!({"kind": "key_event", "event": "key_lost"}),
        "event",
        "unknown variant `key_lost`",
    );
    json_error(json!({"case_id": "C1"}), "", "missing field `kind`");
    json_error(json!({"kind": "verdict"}), "kind", "unknown record kind");
    let mut g = grade_set("141125", "2021", [3, 4, 2, 1]);
    g["period"] = json!("2021-H3");
    json_error(g, "period", "period");
}

#[test]
fn record_files_report_the_record_index() {
    let good = serde_json::to_value(finding("C1", "F1", 38, 1)).unwrap();
    let bad = set_field(good.clone(), &["amount_involved"], json!(0.5));
    let text = Value::Array(vec![good, bad]).to_string();
    let err = Record::list_from_json(&text).unwrap_err();
    assert_eq!(err.path(), "[1].amount_involved", "{err}");
    let err = Record::list_from_json("[{\"kind\": ").unwrap_err();
    assert!(err.message().contains("invalid JSON"), "{err}");
}

#[test]
fn correction_json_errors_carry_the_replacement_path() {
    let value = json!({"kind": "correction", "target_seq": 9, "target_kind": "finding", "reason": "更正",
                       "replacement": {"kind": "finding", "case_id": "C1", "finding_id": "F1",
                                       "legal_basis": {"article": 38}, "pattern": "phantom_beds",
                                       "facts": "x", "amount_involved": 1.5}});
    json_error(value, "replacement.amount_involved", "not a whole number");
    let nested = json!({"kind": "correction", "target_seq": 9, "target_kind": "correction", "reason": "x",
                        "replacement": {"kind": "correction", "target_seq": 1, "target_kind": "finding", "reason": "x"}});
    json_error(nested, "replacement.kind", "cannot be a replacement");
}

// ---------------------------------------------------------------------------------------
// Canonical CBOR payloads
// ---------------------------------------------------------------------------------------

/// One record of every kind.
fn one_of_each() -> Vec<Record> {
    let key_events = [
        log_created("141125", BUREAU),
        officer_added(INSPECTOR, "14112500101", vec!["inspector", "adjudicator"]),
        rec(
            json!({"kind": "key_event", "event": "officer_revoked", "key": hex::encode(INSPECTOR), "reason": "调离"}),
        ),
        rec(
            json!({"kind": "key_event", "event": "bureau_key_rotated", "new_key": hex::encode([0xB1; 32])}),
        ),
    ];
    let mut records: Vec<Record> = key_events.into_iter().collect();
    let mut registered = serde_json::to_value(institution(HOSPITAL, "private_hospital")).unwrap();
    registered["level"] = json!("一级");
    records.push(rec(registered));
    records.push(rec(json!({"kind": "institution_updated", "code": HOSPITAL,
                            "changes": {"status": "suspended", "name": "新名"}, "reason": "暂停"})));
    let mut case = serde_json::to_value(opened("C1", HOSPITAL, "141125", "flight")).unwrap();
    case["basis"] = json!("举报线索");
    records.push(rec(case));
    let mut f = serde_json::to_value(finding("C1", "F1", 38, 3_210_000)).unwrap();
    f["evidence"] = json!([hex::encode([7u8; 32]), hex::encode([8u8; 32])]);
    f["legal_basis"]["item"] = json!(1);
    f["pattern"] = json!({"other": "其他违规"});
    records.push(rec(f));
    let mut d = good_decision();
    if let Record::Decision(ref mut inner) = d {
        inner.settlement_month = Some("2021-06".parse().unwrap());
        inner
            .other_handling
            .push(rec_handling(json!({"referral": {"to": "police"}})));
        inner
            .other_handling
            .push(rec_handling(json!({"staff_points": {"points": 9}})));
    }
    records.push(d);
    records.push(rec(json!({"kind": "rectification_item", "item_id": "R1", "case_id": "C1", "institution": HOSPITAL,
                            "problem": "挂床住院", "deadline": "2021-08-31"})));
    records.push(rec(
        json!({"kind": "rectification_update", "item_id": "R1", "status": "closed_out",
                            "on": "2021-09-10", "note": "销号"}),
    ));
    records.push(rec(grade_set("141125", "2021-Q3", [3, 4, 2, 1])));
    records.push(rec(json!({"kind": "grade_revision", "division": "141125", "period": "2021-H1",
                            "institution": HOSPITAL, "grade": "B", "score": 880, "reason_kind": "appeal",
                            "reason": "申诉成立"})));
    records.push(rec(notice("N1", "C1", "D1", HOSPITAL)));
    records.push(correction(7, "finding", None));
    records.push(correction(
        7,
        "finding",
        Some(serde_json::to_value(finding("C1", "F1", 40, 5)).unwrap()),
    ));
    records
}

fn rec_handling(value: Value) -> yibao_schema::record::Handling {
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_kind_round_trips_through_its_payload() {
    let records = one_of_each();
    let kinds: std::collections::HashSet<RecordKind> = records.iter().map(Record::kind).collect();
    assert_eq!(
        kinds.len(),
        RecordKind::ALL.len(),
        "one record of every kind"
    );
    for record in records {
        let bytes = record
            .encode_payload()
            .unwrap_or_else(|e| panic!("{}: {e}", record.kind()));
        let back = Record::decode_payload(record.kind(), &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", record.kind()));
        assert_eq!(back, record);
        assert_eq!(back.encode_payload().unwrap(), bytes, "{}", record.kind());
        // JSON round trip too.
        assert_eq!(
            Record::from_json(&record.to_json_pretty().unwrap()).unwrap(),
            record
        );
    }
}

#[test]
fn payloads_carry_binary_keys_and_integer_multiples() {
    let record = officer_added(INSPECTOR, "14112500101", vec!["inspector"]);
    let bytes = record.encode_payload().unwrap();
    // The key is a 32-byte byte string (0x58 0x20), not 64 hex characters.
    let needle = [&[0x58, 0x20][..], &INSPECTOR[..]].concat();
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
    assert!(!bytes.windows(8).any(|w| w == b"11111111"));
    let decision = good_decision().encode_payload().unwrap();
    // 1.5× is the integer 1500 (0x19 0x05 0xdc), not the text "1.5".
    assert!(decision.windows(3).any(|w| w == [0x19, 0x05, 0xdc]));
    assert!(!decision.windows(3).any(|w| w == b"1.5"));
}

#[test]
fn payload_with_an_extra_field_is_refused() {
    #[derive(serde::Serialize)]
    struct UpdateWithExtra<'a> {
        item_id: &'a str,
        status: &'a str,
        on: &'a str,
        note: &'a str,
        extra: u8,
    }
    let bytes = yibao_schema::cbor::to_vec(&UpdateWithExtra {
        item_id: "R1",
        status: "verified",
        on: "2021-08-30",
        note: "核验",
        extra: 1,
    })
    .unwrap();
    let err = Record::decode_payload(RecordKind::RectificationUpdate, &bytes).unwrap_err();
    assert!(err.to_string().contains("extra"), "{err}");
    assert_eq!(RuleViolation::encoding(&err).rule, Rule::Encoding);
}

#[test]
fn payload_of_another_kind_or_non_canonical_form_is_refused() {
    let finding_bytes = finding("C1", "F1", 38, 1).encode_payload().unwrap();
    assert!(Record::decode_payload(RecordKind::Decision, &finding_bytes).is_err());
    // A key given as a hex text string instead of bytes is not canonical.
    #[derive(serde::Serialize)]
    struct RotatedAsText {
        event: &'static str,
        new_key: String,
    }
    let bytes = yibao_schema::cbor::to_vec(&RotatedAsText {
        event: "bureau_key_rotated",
        new_key: hex::encode([0xB1; 32]),
    })
    .unwrap();
    assert!(Record::decode_payload(RecordKind::KeyEvent, &bytes).is_err());
    // A correction whose replacement has another kind cannot be encoded.
    let Record::Correction(mut c) = correction(7, "finding", None) else {
        unreachable!()
    };
    c.replacement = Some(Box::new(opened("C1", HOSPITAL, "141125", "daily")));
    assert!(Record::Correction(c).encode_payload().is_err());
}

#[test]
fn typed_values_are_what_they_say() {
    assert_eq!(InstitutionCode::parse(HOSPITAL).unwrap().as_str(), HOSPITAL);
    assert_eq!(
        OfficerId::parse("14112500101").unwrap().as_str(),
        "14112500101"
    );
    assert_eq!(Bytes32(BUREAU).to_hex(), hex::encode(BUREAU));
    let KeyEvent::LogCreated { division: d, .. } = (match log_created("141125", BUREAU) {
        Record::KeyEvent(k) => k,
        _ => unreachable!(),
    }) else {
        unreachable!()
    };
    assert_eq!(d, division());
    assert_eq!(Role::ALL.len(), 4);
    assert_eq!(Rule::parse("penalty-range"), Some(Rule::PenaltyRange));
    for rule in Rule::ALL {
        assert_eq!(Rule::parse(rule.as_str()), Some(rule));
    }
    for kind in RecordKind::ALL {
        assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
        assert_eq!(RecordKind::from_u8(kind.as_u8()), Some(kind));
    }
}
