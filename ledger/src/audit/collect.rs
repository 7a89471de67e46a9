//! The audit's [`Visitor`]: it keeps, per county, what the tables and the after-pass rules
//! need (identifiers, dates, amounts and statuses, never texts), follows corrections
//! (a replacement takes the target's place, a withdrawal removes it), turns every rule
//! refusal into a breach with the entries that prove it, and checks cosignatures against
//! the manifest's witness keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use yibao_schema::hashing::FastMap;
use yibao_schema::manifest::witness_name;
use yibao_schema::note::{Cosignature, KeyKind, SignedCheckpoint, VerifierKey};
use yibao_schema::policy::Policy;
use yibao_schema::record::{Date, Grade, Handling, LegalBasis, Pattern, Period, Record};
use yibao_schema::rules::{expected_grade_counts, Rule, RuleViolation};
use yibao_schema::state::ItemStatus;

use super::{
    integrity_breaches, score, Amounts, AuditOptions, AuditReport, Breach, CountyTable, CrossCell,
    DecisionRow, EntryPointer, FindingRow, GradeRow, Integrity, ItemRow, LogSummaryRow, MonthRow,
    Text, FORMAT, MAX_LISTED_BREACHES,
};
use crate::equivocation::Equivocation;
use crate::verify::{EntryVisit, Report, Visitor};

struct Institution {
    name: Text,
}

struct Case {
    seq: u64,
    institution: Text,
    institution_name: Text,
    institution_division: Text,
    inspection_type: &'static str,
    opened_on: Date,
}

/// Kept as the record has them; turned into text only for the report's rows.
struct FindingInfo {
    seq: u64,
    case_id: Text,
    legal_basis: LegalBasis,
    pattern: Pattern,
    amount: u64,
    date: Date,
}

struct DecisionInfo {
    seq: u64,
    case_id: Text,
    decided_on: Date,
    amounts: Amounts,
    multiples: Text,
    handling: Vec<Handling>,
}

struct ItemInfo {
    seq: u64,
    case_id: Option<Text>,
    institution: Text,
    deadline: Date,
    date: Date,
    status: ItemStatus,
}

struct GradeSetInfo {
    seq: u64,
    grades: FastMap<String, Grade>,
}

/// What an entry made, so that a correction can find it.
enum Made {
    Institution(Text),
    Case(Text),
    Finding(Text),
    Decision(Text),
    Item(Text),
    Update(Text),
    Notice(Text),
    Grades(Period),
}

#[derive(Default)]
struct County {
    name: String,
    entries: u64,
    institutions: FastMap<Text, Institution>,
    cases: FastMap<Text, Case>,
    findings: FastMap<Text, FindingInfo>,
    decisions: FastMap<Text, DecisionInfo>,
    items: FastMap<Text, ItemInfo>,
    notices: FastMap<Text, (u64, Date)>,
    grades: BTreeMap<Period, GradeSetInfo>,
    made: FastMap<u64, Made>,
}

pub(super) struct Collector<'o> {
    options: &'o AuditOptions,
    witness_keys: HashMap<String, VerifierKey>,
    counties: BTreeMap<String, County>,
    breaches: Vec<Breach>,
    breaches_per_county: BTreeMap<String, u64>,
    cosignatures_verified: u64,
    cosignatures_unchecked: u64,
    equivocations: u64,
}

/// The snake_case name of an enum value's variant, as serde writes it.
fn variant_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

impl<'o> Collector<'o> {
    pub(super) fn new(options: &'o AuditOptions) -> Collector<'o> {
        let mut witness_keys = HashMap::new();
        if let Some(manifest) = &options.manifest {
            for m in &manifest.body.members {
                let name = witness_name(&m.division);
                if let Ok(key) = m.log_key_bytes() {
                    if let Ok(vkey) =
                        VerifierKey::from_public_key(&name, &key, KeyKind::CosignatureV1)
                    {
                        witness_keys.insert(name, vkey);
                    }
                }
            }
        }
        Collector {
            options,
            witness_keys,
            counties: BTreeMap::new(),
            breaches: Vec::new(),
            breaches_per_county: BTreeMap::new(),
            cosignatures_verified: 0,
            cosignatures_unchecked: 0,
            equivocations: 0,
        }
    }

    fn breach(&mut self, kind: &str, county: &str, what: String, entries: Vec<EntryPointer>) {
        *self
            .breaches_per_county
            .entry(county.to_string())
            .or_insert(0) += 1;
        if self.breaches.len() < MAX_LISTED_BREACHES {
            self.breaches.push(Breach {
                kind: kind.to_string(),
                county: county.to_string(),
                what,
                entries,
            });
        }
    }

    pub(super) fn name_log(&mut self, log: &str, name: &str) {
        self.counties.entry(log.to_string()).or_default().name = name.to_string();
    }

    pub(super) fn equivocation(&mut self, log: &str, checked: Result<Equivocation, String>) {
        self.equivocations += 1;
        let what = match checked {
            Ok(e) => format!(
                "县局密钥签署了两个互不一致的检查点（大小 {} 和 {}）：该日志已冻结，证明见 /v1/equivocations",
                e.sizes.0, e.sizes.1
            ),
            Err(e) => format!("节点保存的分叉证明无法验证：{e}"),
        };
        self.breach("equivocation", log, what, Vec::new());
    }

    /// Related entries that help prove a rule breach, besides the entry itself.
    fn related(&self, log: &str, record: &Record, violation: &RuleViolation) -> Vec<u64> {
        let Some(county) = self.counties.get(log) else {
            return Vec::new();
        };
        match (violation.rule, record) {
            (Rule::SeparationOfDuties, Record::Decision(d)) => d
                .items
                .iter()
                .filter_map(|i| county.findings.get(i.finding_id.as_str()).map(|f| f.seq))
                .collect(),
            (Rule::ExposureReference, Record::ExposureNotice(n)) => county
                .decisions
                .get(n.decision_id.as_str())
                .map(|d| d.seq)
                .into_iter()
                .collect(),
            (Rule::Reference | Rule::CrossCounty | Rule::PenaltyRange, Record::Finding(f)) => {
                county
                    .cases
                    .get(f.case_id.as_str())
                    .map(|c| c.seq)
                    .into_iter()
                    .collect()
            }
            (Rule::PenaltyRange | Rule::Arithmetic, Record::Decision(d)) => d
                .items
                .iter()
                .filter_map(|i| county.findings.get(i.finding_id.as_str()).map(|f| f.seq))
                .collect(),
            (_, Record::Correction(c)) if c.target_seq < u64::MAX => {
                if county.made.contains_key(&c.target_seq) {
                    vec![c.target_seq]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// Takes a record into the county's tables at `seq` (the target's seq for a
    /// replacement).
    fn take(county: &mut County, seq: u64, date: Date, record: &Record, visit: &EntryVisit<'_>) {
        match record {
            Record::InstitutionRegistered(r) => {
                let code = Text::from(r.code.as_str());
                county.institutions.insert(
                    code.clone(),
                    Institution {
                        name: Text::from(r.name.as_str()),
                    },
                );
                county.made.insert(seq, Made::Institution(code));
            }
            Record::InstitutionUpdated(u) => {
                if let (Some(name), Some(i)) = (
                    &u.changes.name,
                    county.institutions.get_mut(u.code.as_str()),
                ) {
                    i.name = Text::from(name.as_str());
                }
            }
            Record::InspectionOpened(r) => {
                let id = Text::from(r.case_id.as_str());
                county.cases.insert(
                    id.clone(),
                    Case {
                        seq,
                        institution: Text::from(r.institution.code.as_str()),
                        institution_name: Text::from(r.institution.name.as_str()),
                        institution_division: Text::from(r.institution.division.as_str()),
                        inspection_type: r.inspection_type.as_str(),
                        opened_on: r.opened_on,
                    },
                );
                county.made.insert(seq, Made::Case(id));
            }
            Record::Finding(f) => {
                // A finding belongs to its case's time: dated by the day the case opened.
                // The case's own text is shared, not copied.
                let (date, case_id) = match county.cases.get_key_value(f.case_id.as_str()) {
                    Some((id, c)) => (c.opened_on, id.clone()),
                    None => (date, Text::from(f.case_id.as_str())),
                };
                let id = Text::from(f.finding_id.as_str());
                county.findings.insert(
                    id.clone(),
                    FindingInfo {
                        seq,
                        case_id,
                        legal_basis: f.legal_basis,
                        pattern: f.pattern.clone(),
                        amount: f.amount_involved.get(),
                        date,
                    },
                );
                county.made.insert(seq, Made::Finding(id));
            }
            Record::Decision(d) => {
                // Per finding decided: `141125-2023-000001-F1 违约金 2×、罚款 1.5×`.
                let mut multiples = Vec::new();
                for item in &d.items {
                    let of_item: Vec<String> = [("违约金", &item.damages), ("罚款", &item.fine)]
                        .into_iter()
                        .filter_map(|(what, penalty)| {
                            penalty
                                .as_ref()
                                .and_then(|p| p.multiple)
                                .map(|m| format!("{what} {m}×"))
                        })
                        .collect();
                    if !of_item.is_empty() {
                        multiples.push(format!(
                            "{} {}",
                            item.finding_id.as_str(),
                            of_item.join("、")
                        ));
                    }
                }
                let case_id = county
                    .cases
                    .get_key_value(d.case_id.as_str())
                    .map_or_else(|| Text::from(d.case_id.as_str()), |(id, _)| id.clone());
                let id = Text::from(d.decision_id.as_str());
                county.decisions.insert(
                    id.clone(),
                    DecisionInfo {
                        seq,
                        case_id,
                        decided_on: d.decided_on,
                        amounts: Amounts {
                            recovered: d.totals.recovered.get(),
                            damages: d.totals.damages.get(),
                            fines: d.totals.fines.get(),
                            total: d.totals.total.get(),
                        },
                        multiples: Text::from(multiples.join("; ")),
                        handling: d.other_handling.clone(),
                    },
                );
                county.made.insert(seq, Made::Decision(id));
            }
            Record::RectificationItem(r) => {
                let status = visit
                    .state
                    .rectification_status(r.item_id.as_str())
                    .unwrap_or(ItemStatus::Open);
                let case = r
                    .case_id
                    .as_ref()
                    .and_then(|c| county.cases.get_key_value(c.as_str()));
                let date = case.map_or(date, |(_, c)| c.opened_on);
                let case_id = match (case, &r.case_id) {
                    (Some((id, _)), _) => Some(id.clone()),
                    (None, id) => id.as_ref().map(|c| Text::from(c.as_str())),
                };
                let id = Text::from(r.item_id.as_str());
                county.items.insert(
                    id.clone(),
                    ItemInfo {
                        seq,
                        case_id,
                        institution: Text::from(r.institution.as_str()),
                        deadline: r.deadline,
                        date,
                        status,
                    },
                );
                county.made.insert(seq, Made::Item(id));
            }
            Record::RectificationUpdate(u) => {
                Self::refresh_item(county, u.item_id.as_str(), visit);
                county
                    .made
                    .insert(seq, Made::Update(Text::from(u.item_id.as_str())));
            }
            Record::GradeSet(g) => {
                let grades = g
                    .grades
                    .iter()
                    .map(|a| (a.institution.as_str().to_string(), a.grade))
                    .collect();
                county.grades.insert(g.period, GradeSetInfo { seq, grades });
                county.made.insert(seq, Made::Grades(g.period));
            }
            Record::GradeRevision(r) => {
                if let Some(set) = county.grades.get_mut(&r.period) {
                    set.grades
                        .insert(r.institution.as_str().to_string(), r.grade);
                }
            }
            Record::ExposureNotice(n) => {
                let id = Text::from(n.notice_id.as_str());
                county.notices.insert(id.clone(), (seq, n.published_on));
                county.made.insert(seq, Made::Notice(id));
            }
            Record::Correction(c) => match c.replacement.as_deref() {
                Some(replacement) => Self::take(county, c.target_seq, date, replacement, visit),
                None => Self::withdraw(county, c.target_seq, visit),
            },
            Record::KeyEvent(_) => {}
        }
    }

    fn refresh_item(county: &mut County, item_id: &str, visit: &EntryVisit<'_>) {
        if let (Some(item), Some(status)) = (
            county.items.get_mut(item_id),
            visit.state.rectification_status(item_id),
        ) {
            item.status = status;
        }
    }

    fn withdraw(county: &mut County, target: u64, visit: &EntryVisit<'_>) {
        match county.made.remove(&target) {
            Some(Made::Institution(code)) => {
                county.institutions.remove(&code);
            }
            Some(Made::Case(id)) => {
                county.cases.remove(&id);
            }
            Some(Made::Finding(id)) => {
                county.findings.remove(&id);
            }
            Some(Made::Decision(id)) => {
                county.decisions.remove(&id);
            }
            Some(Made::Item(id)) => {
                county.items.remove(&id);
            }
            Some(Made::Update(id)) => Self::refresh_item(county, &id, visit),
            Some(Made::Notice(id)) => {
                county.notices.remove(&id);
            }
            Some(Made::Grades(period)) => {
                county.grades.remove(&period);
            }
            None => {}
        }
    }

    /// The breach kind of a rule refusal.
    /// The breach kind of what the submission screen found in a valid entry, and the entry
    /// it is judged against: the notice's decision, the revision's grade set.
    fn screened(
        &self,
        log: &str,
        record: &Record,
        screened: &RuleViolation,
    ) -> (&'static str, Option<u64>) {
        let county = self.counties.get(log);
        match record {
            Record::ExposureNotice(_) if screened.rule == Rule::ExposurePrivacy => {
                ("notice-personal-data", None)
            }
            Record::ExposureNotice(n) => (
                "notice-amount-mismatch",
                county
                    .and_then(|c| c.decisions.get(n.decision_id.as_str()))
                    .map(|d| d.seq),
            ),
            Record::GradeRevision(r) => (
                "credit-repair-lowers-grade",
                county.and_then(|c| c.grades.get(&r.period)).map(|g| g.seq),
            ),
            _ => ("screen", None),
        }
    }

    fn kind(record: &Record, violation: &RuleViolation) -> &'static str {
        match record {
            Record::Correction(_)
                if violation.rule == Rule::Correction && violation.field == "target_seq" =>
            {
                "dangling-correction"
            }
            _ => violation.rule.as_str(),
        }
    }

    pub(super) fn finish(mut self, policy: &Policy, report: Report) -> AuditReport {
        let options = self.options;
        let (integrity, integrity_count) = integrity_breaches(&report);
        let integrity_listed = integrity.len() as u64;
        for b in integrity {
            let county = b.county.clone();
            self.breach(&b.kind, &county, b.what, b.entries);
        }
        // Failures beyond the verification report's list: counted, not listed.
        if let Some(first) = report.logs.first() {
            *self
                .breaches_per_county
                .entry(first.log.clone())
                .or_insert(0) += integrity_count - integrity_listed;
        }
        let as_of = options.as_of;
        let counties = std::mem::take(&mut self.counties);
        let holds: BTreeSet<&str> = counties.keys().map(String::as_str).collect();
        // Each county's tables are built on its own (in parallel), then put together in
        // county order.
        let parts: Vec<CountyPart> = {
            use rayon::prelude::*;
            counties
                .par_iter()
                .map(|(code, county)| county_part(code, county, &counties, &holds, options, policy))
                .collect()
        };
        let mut tables = Vec::with_capacity(parts.len());
        let mut cross: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut monthly: BTreeMap<(String, String), MonthRow> = BTreeMap::new();
        let mut grade_rows = Vec::new();
        let mut finding_rows = Vec::with_capacity(parts.iter().map(|p| p.findings.len()).sum());
        let mut decision_rows = Vec::with_capacity(parts.iter().map(|p| p.decisions.len()).sum());
        let mut item_rows = Vec::with_capacity(parts.iter().map(|p| p.items.len()).sum());
        let mut late = Vec::new();
        // `counties` is ordered by code and each part's rows by seq.
        for part in parts {
            let code = part.table.county.clone();
            tables.push(part.table);
            for (inspected, n) in part.cross {
                *cross.entry((code.clone(), inspected)).or_insert(0) += n;
            }
            for row in part.months {
                monthly.insert((row.month.clone(), code.clone()), row);
            }
            grade_rows.extend(part.grades);
            finding_rows.extend(part.findings);
            decision_rows.extend(part.decisions);
            item_rows.extend(part.items);
            late.extend(part.late);
        }
        for (kind, county, what, entries) in late {
            self.breach(kind, &county, what, entries);
        }
        for t in &mut tables {
            t.breaches = self
                .breaches_per_county
                .get(&t.county)
                .copied()
                .unwrap_or(0);
        }
        let mut breaches = std::mem::take(&mut self.breaches);
        breaches.sort_by(|a, b| {
            (&a.county, a.entries.first().map(|e| e.seq), &a.kind).cmp(&(
                &b.county,
                b.entries.first().map(|e| e.seq),
                &b.kind,
            ))
        });
        // The county maps are large (every finding, decision and item): freeing them is
        // left to another thread rather than delaying the report. If no thread can be
        // started, the closure (and the maps) are dropped here instead.
        let _ = std::thread::Builder::new().spawn(move || drop(counties));
        let breach_count = self.breaches_per_county.values().sum();
        AuditReport {
            format: FORMAT.into(),
            as_of: as_of.to_string(),
            from: options.from.map(|d| d.to_string()),
            to: options.to.map(|d| d.to_string()),
            weights: options.weights,
            integrity: Integrity {
                logs: report.logs.iter().map(LogSummaryRow::from).collect(),
                entries: report.entries(),
                checkpoints: report.logs.iter().map(|l| l.checkpoints).sum(),
                cosignatures_verified: self.cosignatures_verified,
                cosignatures_unchecked: self.cosignatures_unchecked,
                failures: integrity_count,
                equivocations: self.equivocations,
            },
            counties: score::rank(tables, &options.weights),
            cross_county: cross
                .into_iter()
                .map(|((inspector, inspected), inspections)| CrossCell {
                    inspector,
                    inspected,
                    inspections,
                })
                .collect(),
            monthly: monthly.into_values().collect(),
            grades: grade_rows,
            breach_count,
            breaches,
            findings: finding_rows,
            decisions: decision_rows,
            rectification: item_rows,
        }
    }
}

/// One county's share of the report, built from its tables alone (and, for cross-county
/// references, the other counties' registrations).
struct CountyPart {
    table: CountyTable,
    /// Inspections per inspected division.
    cross: BTreeMap<String, u64>,
    months: Vec<MonthRow>,
    grades: Vec<GradeRow>,
    findings: Vec<FindingRow>,
    decisions: Vec<DecisionRow>,
    items: Vec<ItemRow>,
    /// Breaches found from the tables: (kind, county, what, entries).
    late: Vec<LateBreach>,
}

type LateBreach = (&'static str, String, String, Vec<EntryPointer>);

fn county_part(
    code: &str,
    county: &County,
    counties: &BTreeMap<String, County>,
    holds: &BTreeSet<&str>,
    options: &AuditOptions,
    policy: &Policy,
) -> CountyPart {
    let as_of = options.as_of;
    // Shared by every row of this county.
    let county_code = Text::from(code);
    let none = Text::from("");
    // This county's months, keyed by year and month number (no strings per entry).
    let mut months: BTreeMap<(i32, u8), MonthRow> = BTreeMap::new();
    let mut cross: BTreeMap<String, u64> = BTreeMap::new();
    let mut late: Vec<LateBreach> = Vec::new();
    let mut t = CountyTable {
        county: code.to_string(),
        name: county.name.clone(),
        entries: county.entries,
        institutions: county.institutions.len() as u64,
        ..CountyTable::default()
    };
    for case in county.cases.values() {
        if &*case.institution_division != code && holds.contains(&*case.institution_division) {
            let registered = counties
                .get(&*case.institution_division)
                .is_some_and(|c| c.institutions.contains_key(&case.institution));
            if !registered {
                late.push((
                    "cross-county-reference",
                    code.to_string(),
                    format!(
                        "检查对象是区划 {} 的机构 {}，但该县的日志没有登记这家机构",
                        case.institution_division, case.institution
                    ),
                    vec![EntryPointer::new(code, case.seq)],
                ));
            }
        }
        if !options.in_period(case.opened_on) {
            continue;
        }
        t.inspections += 1;
        *t.inspections_by_type
            .entry(case.inspection_type.to_string())
            .or_insert(0) += 1;
        *cross
            .entry(case.institution_division.to_string())
            .or_insert(0) += 1;
        month_row(&mut months, code, case.opened_on).inspections += 1;
    }
    // A county has thousands of findings but a few dozen legal bases, patterns and
    // handlings: each is put into words once.
    let mut bases: HashMap<LegalBasis, (Text, Text)> = HashMap::new();
    let mut patterns: HashMap<&Pattern, (Text, Text)> = HashMap::new();
    let mut handlings: HashMap<&[Handling], (Text, Text)> = HashMap::new();
    let mut finding_rows = Vec::with_capacity(county.findings.len());
    for (id, f) in &county.findings {
        if !options.in_period(f.date) {
            continue;
        }
        t.findings += 1;
        t.amount_involved = t.amount_involved.saturating_add(f.amount);
        let (basis, basis_zh) = bases.entry(f.legal_basis).or_insert_with(|| {
            (
                Text::from(f.legal_basis.to_string()),
                Text::from(f.legal_basis.chinese()),
            )
        });
        let (pattern, pattern_zh) = patterns.entry(&f.pattern).or_insert_with(|| {
            (
                Text::from(variant_name(&f.pattern)),
                Text::from(f.pattern.chinese()),
            )
        });
        if let Some(n) = t.findings_by_category.get_mut(&**pattern) {
            *n += 1;
        } else {
            t.findings_by_category.insert(pattern.to_string(), 1);
        }
        month_row(&mut months, code, f.date).findings += 1;
        let case = county.cases.get(&f.case_id);
        finding_rows.push(FindingRow {
            county: county_code.clone(),
            seq: f.seq,
            case_id: f.case_id.clone(),
            finding_id: id.clone(),
            institution: case.map_or_else(|| none.clone(), |c| c.institution.clone()),
            institution_name: case.map_or_else(|| none.clone(), |c| c.institution_name.clone()),
            legal_basis: basis.clone(),
            legal_basis_zh: basis_zh.clone(),
            pattern: pattern.clone(),
            pattern_zh: pattern_zh.clone(),
            amount_involved: f.amount,
            date: f.date,
        });
    }
    let cases_with_items: BTreeSet<&str> = county
        .items
        .values()
        .filter_map(|i| i.case_id.as_deref())
        .collect();
    let mut decision_rows = Vec::with_capacity(county.decisions.len());
    for (id, d) in &county.decisions {
        let due = i64::from(options.rectification_grace_days);
        let overdue_for_items = days_between(d.decided_on, as_of) > due;
        if policy.decision_requires_rectification
            && overdue_for_items
            && options.in_period(d.decided_on)
            && !cases_with_items.contains(&*d.case_id)
        {
            late.push((
                "missing-rectification",
                code.to_string(),
                format!(
                    "案件 {} 的处理决定 {id}（{}）作出 {} 天后仍未列整改事项，政策要求列出",
                    d.case_id,
                    d.decided_on,
                    days_between(d.decided_on, as_of)
                ),
                vec![EntryPointer::new(code, d.seq)],
            ));
        }
        if !options.in_period(d.decided_on) {
            continue;
        }
        t.decisions += 1;
        t.amounts.add(&d.amounts);
        let row = month_row(&mut months, code, d.decided_on);
        row.decisions += 1;
        row.amounts.add(&d.amounts);
        let (handling, handling_zh) = handlings.entry(&d.handling).or_insert_with(|| {
            let ids: Vec<String> = d.handling.iter().map(variant_name).collect();
            let words: Vec<String> = d.handling.iter().map(Handling::chinese).collect();
            (Text::from(ids.join("; ")), Text::from(words.join("；")))
        });
        decision_rows.push(DecisionRow {
            county: county_code.clone(),
            seq: d.seq,
            decision_id: id.clone(),
            case_id: d.case_id.clone(),
            institution: county
                .cases
                .get(&d.case_id)
                .map_or_else(|| none.clone(), |c| c.institution.clone()),
            decided_on: d.decided_on,
            amounts: d.amounts,
            multiples: d.multiples.clone(),
            handling: handling.clone(),
            handling_zh: handling_zh.clone(),
        });
    }
    let statuses = [
        ItemStatus::Open,
        ItemStatus::Rectifying,
        ItemStatus::Verified,
        ItemStatus::ClosedOut,
    ]
    .map(|s| (s, Text::from(status_name(s))));
    let mut item_rows = Vec::with_capacity(county.items.len());
    for (id, item) in &county.items {
        if !options.in_period(item.date) {
            continue;
        }
        let overdue = item.status != ItemStatus::ClosedOut && item.deadline < as_of;
        t.items.total += 1;
        match item.status {
            ItemStatus::Open => t.items.open += 1,
            ItemStatus::Rectifying => t.items.rectifying += 1,
            ItemStatus::Verified => t.items.verified += 1,
            ItemStatus::ClosedOut => t.items.closed_out += 1,
        }
        let status = status_name(item.status);
        if overdue {
            t.items.overdue += 1;
            late.push((
                "overdue-rectification",
                code.to_string(),
                format!(
                    "机构 {} 的整改事项 {id} 整改期限为 {}，截至 {as_of} 仍未销号（{}）",
                    item.institution,
                    item.deadline,
                    super::status_label(status)
                ),
                vec![EntryPointer::new(code, item.seq)],
            ));
        }
        item_rows.push(ItemRow {
            county: county_code.clone(),
            seq: item.seq,
            item_id: id.clone(),
            case_id: item.case_id.clone().unwrap_or_else(|| none.clone()),
            institution: item.institution.clone(),
            deadline: item.deadline,
            status: statuses
                .iter()
                .find(|(s, _)| *s == item.status)
                .map_or_else(|| Text::from(status), |(_, text)| text.clone()),
            overdue,
        });
    }
    for (_, published_on) in county.notices.values() {
        if options.in_period(*published_on) {
            t.notices += 1;
            month_row(&mut months, code, *published_on).notices += 1;
        }
    }
    let mut grade_rows = Vec::new();
    let mut latest: Option<[u64; 4]> = None;
    for (period, set) in &county.grades {
        let (from, to) = super::period_bounds(*period);
        let overlaps = from.is_some_and(|f| options.to.is_none_or(|to| f <= to))
            && to.is_some_and(|t| options.from.is_none_or(|from| t >= from));
        if !overlaps {
            continue;
        }
        let mut counts = [0u64; 4];
        for grade in set.grades.values() {
            counts[grade.index()] += 1;
        }
        let n: u64 = counts.iter().sum();
        grade_rows.push(GradeRow {
            county: code.to_string(),
            period: period.to_string(),
            seq: set.seq,
            counts,
            expected: expected_grade_counts(n, policy).unwrap_or_default(),
        });
        latest = Some(counts);
    }
    t.grades = latest.unwrap_or_default();
    // In entry order; the county parts come in county order, so the report's rows are
    // in (county, seq) order without sorting them all again.
    finding_rows.sort_unstable_by_key(|r| r.seq);
    decision_rows.sort_unstable_by_key(|r| r.seq);
    item_rows.sort_unstable_by_key(|r| r.seq);
    CountyPart {
        table: t,
        cross,
        months: months.into_values().collect(),
        grades: grade_rows,
        findings: finding_rows,
        decisions: decision_rows,
        items: item_rows,
        late,
    }
}

fn month_row<'m>(
    months: &'m mut BTreeMap<(i32, u8), MonthRow>,
    county: &str,
    date: Date,
) -> &'m mut MonthRow {
    months
        .entry((date.year(), date.month()))
        .or_insert_with(|| MonthRow {
            month: date.to_month().to_string(),
            county: county.to_string(),
            ..MonthRow::default()
        })
}

fn status_name(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::Open => "open",
        ItemStatus::Rectifying => "rectifying",
        ItemStatus::Verified => "verified",
        ItemStatus::ClosedOut => "closed_out",
    }
}

/// Days from `a` to `b` (negative when `b` is earlier).
fn days_between(a: Date, b: Date) -> i64 {
    let julian = |d: Date| {
        let m = i64::from(d.month());
        let y = i64::from(d.year()) - i64::from(m <= 2);
        let era_day = (153 * ((m + 9) % 12) + 2) / 5 + i64::from(d.day()) - 1;
        365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + era_day
    };
    julian(b) - julian(a)
}

impl Visitor for Collector<'_> {
    fn log_start(&mut self, log: &str, entries: u64) {
        // Sized up front: growing these maps entry by entry rehashed every identifier
        // again at each doubling (nearly half of the collector's time per entry). A case
        // is an opening, its findings, a decision and items, so each kind is about a
        // quarter of a log; a table that needs more still grows.
        let entries = usize::try_from(entries.min(1 << 22)).unwrap_or(0);
        let county = self.counties.entry(log.to_string()).or_default();
        county.made.reserve(entries);
        county.cases.reserve(entries / 4);
        county.findings.reserve(entries / 4);
        county.decisions.reserve(entries / 4);
        county.items.reserve(entries / 4);
    }

    fn entry(&mut self, visit: &EntryVisit<'_>) {
        if !self.counties.contains_key(visit.log) {
            self.counties
                .insert(visit.log.to_string(), County::default());
        }
        if let Some(county) = self.counties.get_mut(visit.log) {
            county.entries += 1;
        }
        if !visit.intact {
            // Reported as an integrity failure; a record that may be forged counts nowhere.
            return;
        }
        if let Some(violation) = visit.violation {
            let mut entries = vec![EntryPointer::new(visit.log, visit.ctx.seq)];
            entries.extend(
                self.related(visit.log, visit.record, violation)
                    .into_iter()
                    .map(|seq| EntryPointer::new(visit.log, seq)),
            );
            let kind = Self::kind(visit.record, violation);
            self.breach(kind, visit.log, violation.to_string(), entries);
        }
        if let Some(screened) = visit.screened {
            let (kind, related) = self.screened(visit.log, visit.record, screened);
            let mut entries = vec![EntryPointer::new(visit.log, visit.ctx.seq)];
            entries.extend(related.map(|seq| EntryPointer::new(visit.log, seq)));
            self.breach(
                kind,
                visit.log,
                format!("{screened}（记录有效，但节点对本局官员的提交会拒收）"),
                entries,
            );
        }
        let date = Date::from_timestamp_ms_china(visit.ctx.timestamp_ms)
            .or_else(|| Date::from_ymd(1970, 1, 1));
        let Some(date) = date else { return };
        if let Some(county) = self.counties.get_mut(visit.log) {
            Self::take(county, visit.ctx.seq, date, visit.record, visit);
        }
    }

    fn checkpoint(&mut self, log: &str, signed: &SignedCheckpoint, _valid: bool) {
        for signature in &signed.note.signatures {
            if signature.name == signed.checkpoint.origin {
                continue; // The bureau's own signature, checked by verification.
            }
            if self.witness_keys.is_empty() {
                self.cosignatures_unchecked += 1;
                continue;
            }
            let size = signed.checkpoint.size;
            let checked = match self.witness_keys.get(&signature.name) {
                None => Err(format!(
                    "见证方 `{}` 不在网络清单（manifest）中",
                    signature.name
                )),
                Some(key) => Cosignature::from_note_signature(signature)
                    .map_err(|e| e.to_string())
                    .and_then(|c| c.verify(&signed.checkpoint, key).map_err(|e| e.to_string())),
            };
            match checked {
                Ok(()) => self.cosignatures_verified += 1,
                Err(e) => self.breach(
                    "cosignature",
                    log,
                    format!("检查点 {size}：{} 的见证签名无效：{e}", signature.name),
                    Vec::new(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_between_counts_calendar_days() {
        let d = |s: &str| Date::parse(s).unwrap();
        assert_eq!(days_between(d("2024-02-28"), d("2024-03-01")), 2);
        assert_eq!(days_between(d("2023-02-28"), d("2023-03-01")), 1);
        assert_eq!(days_between(d("2024-12-31"), d("2025-01-01")), 1);
        assert_eq!(days_between(d("2025-01-01"), d("2024-01-01")), -366);
    }

    #[test]
    fn variant_names_are_serde_names() {
        use yibao_schema::record::{Handling, Pattern};
        assert_eq!(
            variant_name(&Pattern::SplitHospitalisation),
            "split_hospitalisation"
        );
        assert_eq!(variant_name(&Pattern::Other("x".into())), "other");
        assert_eq!(
            variant_name(&Handling::StaffPoints { points: 3 }),
            "staff_points"
        );
    }
}
