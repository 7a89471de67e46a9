//! The city audit (市局审计) of a merged ledger: one pass that verifies every log (every
//! signature, link, tree node, checkpoint and cosignature, every author's authorisation
//! and every domain rule at the entry's own position) and, from the same decoded records,
//! builds the city's tables — per-county totals, a ranking by a documented score, the
//! cross-county matrix, the monthly trend — and the list of breaches, each with the
//! entries that prove it.
//!
//! Rules that need more than one log, or a date, are checked after the pass
//! ([`collect`]): rectification items past their deadline and not closed out, decisions
//! without rectification items, cross-county inspections of institutions that their own
//! county's log does not register, and equivocation proofs held by the node.
//!
//! The report's JSON form is documented in `docs/AUDIT.md` (format `yibao-audit/v1`).

mod collect;
mod score;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yibao_schema::manifest::Manifest;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Date, Period};

use crate::bundle::{self, BundleError};
use crate::store::Ledger;
use crate::verify::{self, LogSummary, Report};

pub use score::ScoreWeights;

/// The JSON format name and version of an audit report.
pub const FORMAT: &str = "yibao-audit/v1";

/// At most this many breaches are listed; the rest are only counted.
pub const MAX_LISTED_BREACHES: usize = 100_000;

/// Days after a decision within which its rectification items are expected, when the
/// policy requires them (`Policy::decision_requires_rectification`).
pub const DEFAULT_RECTIFICATION_GRACE_DAYS: u32 = 30;

/// What to audit and how.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// First day (inclusive, China Standard Time) of the period the tables cover.
    pub from: Option<Date>,
    /// Last day (inclusive) of the period the tables cover.
    pub to: Option<Date>,
    /// The day against which deadlines are judged (normally today in Asia/Shanghai).
    pub as_of: Date,
    /// Days a decision may go without a rectification item before that is a breach.
    pub rectification_grace_days: u32,
    /// The weights of the ranking score.
    pub weights: ScoreWeights,
    /// The network manifest: witness keys for cosignatures and members' names. Without
    /// it, cosignatures are counted but not checked.
    pub manifest: Option<Manifest>,
}

impl AuditOptions {
    /// Options covering all time, judged as of `as_of`, with the default score.
    pub fn new(as_of: Date) -> AuditOptions {
        AuditOptions {
            from: None,
            to: None,
            as_of,
            rectification_grace_days: DEFAULT_RECTIFICATION_GRACE_DAYS,
            weights: ScoreWeights::default(),
            manifest: None,
        }
    }

    /// Restricts the tables to one grading or reporting period.
    pub fn with_period(mut self, period: Period) -> AuditOptions {
        let (from, to) = period_bounds(period);
        self.from = from;
        self.to = to;
        self
    }

    /// Whether a record dated `date` counts in the tables.
    pub fn in_period(&self, date: Date) -> bool {
        self.from.is_none_or(|from| date >= from) && self.to.is_none_or(|to| date <= to)
    }
}

/// The first and last day of a period.
pub fn period_bounds(period: Period) -> (Option<Date>, Option<Date>) {
    let (year, first_month, last_month) = match period {
        Period::Year(y) => (y, 1, 12),
        Period::Half(y, h) => (y, (h - 1) * 6 + 1, h * 6),
        Period::Quarter(y, q) => (y, (q - 1) * 3 + 1, q * 3),
    };
    let year = i32::from(year);
    let from = Date::from_ymd(year, first_month, 1);
    let to = (28..=31)
        .rev()
        .find_map(|day| Date::from_ymd(year, last_month, day));
    (from, to)
}

/// The Chinese name of a rectification item's status id (`open`, `rectifying`, `verified`,
/// `closed_out`, as the report's rows carry it); another text is returned as it is.
pub fn status_label(id: &str) -> &str {
    match id {
        "open" => "待整改",
        "rectifying" => "整改中",
        "verified" => "已核验",
        "closed_out" => "已销号",
        other => other,
    }
}

/// A pointer to an entry that proves a breach, with where to fetch it and its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPointer {
    /// The log (division code).
    pub log: String,
    /// The entry's seq.
    pub seq: u64,
    /// Where a node's API serves the entry's signed bytes.
    pub entry_url: String,
    /// Where a node's API serves its inclusion proof in the latest checkpoint.
    pub proof_url: String,
}

impl EntryPointer {
    /// The pointer to entry `seq` of `log`.
    pub fn new(log: &str, seq: u64) -> EntryPointer {
        EntryPointer {
            log: log.to_string(),
            seq,
            entry_url: format!("/v1/logs/{log}/entries/{seq}"),
            proof_url: format!("/v1/logs/{log}/proofs/inclusion?seq={seq}"),
        }
    }
}

/// One thing the city must act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    /// What kind of breach, a stable kebab-case id: a domain rule's id (`penalty-range`,
    /// `separation-of-duties`, …) or one of the audit's own (`integrity`, `cosignature`,
    /// `equivocation`, `overdue-rectification`, `missing-rectification`,
    /// `dangling-correction`, `cross-county-reference`). See docs/AUDIT.md.
    pub kind: String,
    /// The county (log) it is in.
    pub county: String,
    /// What is wrong, in a sentence.
    pub what: String,
    /// The entries that prove it, the breaching entry first. Empty when the breach is
    /// of the data as a whole (a missing tree node, an equivocation).
    pub entries: Vec<EntryPointer>,
}

/// Amounts in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    /// 追回 (recovered).
    pub recovered: u64,
    /// 违约金 (liquidated damages).
    pub damages: u64,
    /// 罚款 (fines).
    pub fines: u64,
    /// recovered + damages + fines.
    pub total: u64,
}

impl Amounts {
    fn add(&mut self, other: &Amounts) {
        self.recovered = self.recovered.saturating_add(other.recovered);
        self.damages = self.damages.saturating_add(other.damages);
        self.fines = self.fines.saturating_add(other.fines);
        self.total = self.total.saturating_add(other.total);
    }
}

/// Rectification items by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    /// All items (not withdrawn).
    pub total: u64,
    /// 待整改.
    pub open: u64,
    /// 整改中.
    pub rectifying: u64,
    /// 已核验.
    pub verified: u64,
    /// 已销号.
    pub closed_out: u64,
    /// Past their deadline and not closed out, as of the audit date.
    pub overdue: u64,
}

/// One county's grades for one period: the latest grade set in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRow {
    /// The county.
    pub county: String,
    /// The period, e.g. `2025`.
    pub period: String,
    /// The entry of the grade set.
    pub seq: u64,
    /// Institutions graded A, B, C, D (after revisions).
    pub counts: [u64; 4],
    /// What the policy ratio gives for this many institutions (see SPEC.md's rounding).
    pub expected: [u64; 4],
}

/// One county's row of the city's tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountyTable {
    /// Division code.
    pub county: String,
    /// The bureau's name.
    pub name: String,
    /// Entries in the log (all time).
    pub entries: u64,
    /// Institutions registered in the log and not withdrawn (all time).
    pub institutions: u64,
    /// Inspections opened in the period, by inspection type (snake_case).
    pub inspections_by_type: BTreeMap<String, u64>,
    /// Inspections opened in the period.
    pub inspections: u64,
    /// Findings recorded in the period, by pattern (snake_case; `other` for free text).
    pub findings_by_category: BTreeMap<String, u64>,
    /// Findings recorded in the period.
    pub findings: u64,
    /// Σ amount involved of those findings, fen.
    pub amount_involved: u64,
    /// Decisions made in the period.
    pub decisions: u64,
    /// Their amounts, fen.
    pub amounts: Amounts,
    /// Rectification items recorded in the period, by status as it stands.
    pub items: ItemCounts,
    /// closed_out / total, 0–1 (1 when there are no items).
    pub close_out_rate: f64,
    /// Exposure notices published in the period.
    pub notices: u64,
    /// The latest grade set of the period: institutions graded A, B, C, D.
    pub grades: [u64; 4],
    /// Breaches found in this county's log.
    pub breaches: u64,
    /// The ranking score (see `ScoreWeights`).
    pub score: f64,
    /// 1 = best.
    pub rank: u32,
}

/// Inspections by an inspecting county (the log) of institutions of a county.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCell {
    /// The log whose officers inspected.
    pub inspector: String,
    /// The division of the institutions inspected.
    pub inspected: String,
    /// Inspections in the period.
    pub inspections: u64,
}

/// One county's month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    /// The county.
    pub county: String,
    /// Inspections opened.
    pub inspections: u64,
    /// Findings recorded.
    pub findings: u64,
    /// Decisions made.
    pub decisions: u64,
    /// Their amounts, fen.
    pub amounts: Amounts,
    /// Notices published.
    pub notices: u64,
}

/// Text in the report's rows: shared, not copied, between the rows that repeat it (a
/// county's code, an institution's name, a legal basis in words) and with the audit's
/// own tables. Serialized as a plain JSON string.
pub type Text = std::sync::Arc<str>;

/// A finding, for the workbook's detail sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRow {
    /// The county.
    pub county: Text,
    /// Entry seq.
    pub seq: u64,
    /// Case.
    pub case_id: Text,
    /// Finding id.
    pub finding_id: Text,
    /// Institution code.
    pub institution: Text,
    /// Institution name.
    pub institution_name: Text,
    /// E.g. `Art. 38 (1)`.
    pub legal_basis: Text,
    /// The same in Chinese: `第三十八条第一项`.
    pub legal_basis_zh: Text,
    /// Pattern (snake_case).
    pub pattern: Text,
    /// The pattern as bureaus name it: `分解住院`.
    pub pattern_zh: Text,
    /// Fen.
    pub amount_involved: u64,
    /// Day recorded (China Standard Time).
    pub date: Date,
}

/// A decision, for the workbook's detail sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// The county.
    pub county: Text,
    /// Entry seq.
    pub seq: u64,
    /// Decision id.
    pub decision_id: Text,
    /// Case.
    pub case_id: Text,
    /// Institution code.
    pub institution: Text,
    /// Day decided.
    pub decided_on: Date,
    /// Fen.
    pub amounts: Amounts,
    /// Per finding decided, its damages and fine multiples as written:
    /// `141125-2023-000001-F1 违约金 2×、罚款 1.5×`, joined by `; `.
    pub multiples: Text,
    /// Other handling (snake_case), joined by `; `.
    pub handling: Text,
    /// The same in Chinese (`责令改正；暂停医保联网结算6个月`), joined by `；`.
    pub handling_zh: Text,
}

/// A rectification item, for the workbook's detail sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRow {
    /// The county.
    pub county: Text,
    /// Entry seq of the item.
    pub seq: u64,
    /// Item id.
    pub item_id: Text,
    /// Case, if any.
    pub case_id: Text,
    /// Institution code.
    pub institution: Text,
    /// Deadline.
    pub deadline: Date,
    /// `open`, `rectifying`, `verified` or `closed_out`.
    pub status: Text,
    /// Past the deadline and not closed out.
    pub overdue: bool,
}

/// Integrity figures over all logs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// Per log: entries, checkpoints, root.
    pub logs: Vec<LogSummaryRow>,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Cosignatures that verified against the manifest's witness keys.
    pub cosignatures_verified: u64,
    /// Cosignatures not checked (no manifest given).
    pub cosignatures_unchecked: u64,
    /// Integrity failures (damage, forged or broken entries, bad checkpoints).
    pub failures: u64,
    /// Logs with an equivocation proof held or found.
    pub equivocations: u64,
}

/// A log's verification summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSummaryRow {
    /// Division code.
    pub log: String,
    /// Entries.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Hex tree root.
    pub root: String,
}

impl From<&LogSummary> for LogSummaryRow {
    fn from(s: &LogSummary) -> Self {
        LogSummaryRow {
            log: s.log.clone(),
            entries: s.entries,
            checkpoints: s.checkpoints,
            root: s.root.clone(),
        }
    }
}

/// The audit report (JSON format `yibao-audit/v1`, docs/AUDIT.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    /// Always [`FORMAT`].
    pub format: String,
    /// The day deadlines were judged against.
    pub as_of: String,
    /// First day of the period, if restricted.
    pub from: Option<String>,
    /// Last day of the period, if restricted.
    pub to: Option<String>,
    /// The score's weights.
    pub weights: ScoreWeights,
    /// Integrity figures.
    pub integrity: Integrity,
    /// One row per county, in ranking order.
    pub counties: Vec<CountyTable>,
    /// Who inspected whom.
    pub cross_county: Vec<CrossCell>,
    /// Monthly trend per county.
    pub monthly: Vec<MonthRow>,
    /// Grade sets per county and period.
    pub grades: Vec<GradeRow>,
    /// Breaches counted in all.
    pub breach_count: u64,
    /// The breaches (at most [`MAX_LISTED_BREACHES`]), by county then seq.
    pub breaches: Vec<Breach>,
    /// Findings of the period.
    pub findings: Vec<FindingRow>,
    /// Decisions of the period.
    pub decisions: Vec<DecisionRow>,
    /// Rectification items of the period.
    pub rectification: Vec<ItemRow>,
}

impl AuditReport {
    /// True when nothing was breached.
    pub fn is_clean(&self) -> bool {
        self.breach_count == 0
    }

    /// Breaches counted by kind.
    pub fn breaches_by_kind(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for b in &self.breaches {
            *out.entry(b.kind.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Audits every log a ledger on disk holds, and the equivocation proofs it keeps.
pub fn audit_ledger(
    ledger: &Ledger,
    options: &AuditOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> AuditReport {
    let mut collector = collect::Collector::new(options);
    let report = verify::verify_ledger_visiting(ledger, progress, &mut collector);
    for code in ledger.log_codes() {
        if let Ok(meta) = ledger.meta(&code) {
            collector.name_log(code.as_str(), &meta.name);
        }
        match ledger.equivocation(&code) {
            Ok(None) => {}
            Ok(Some(proof)) => {
                let checked = ledger
                    .log_verifier_key(&code)
                    .map_err(|e| e.to_string())
                    .and_then(|key| proof.verify(&key).map_err(|e| e.to_string()));
                collector.equivocation(code.as_str(), checked);
            }
            Err(e) => collector.equivocation(
                code.as_str(),
                Err(format!("the stored proof cannot be read: {e}")),
            ),
        }
    }
    collector.finish(ledger.policy(), report)
}

/// Audits an export bundle. `pinned` verifier keys work as for `verify_bundle`.
pub fn audit_bundle(
    bytes: &[u8],
    policy: &Policy,
    pinned: &[String],
    options: &AuditOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<AuditReport, BundleError> {
    let mut collector = collect::Collector::new(options);
    let report = bundle::verify_bundle_visiting(bytes, policy, pinned, progress, &mut collector)?;
    for log in bundle::parse(bytes)? {
        collector.name_log(&log.meta().division, &log.meta().name);
    }
    Ok(collector.finish(policy, report))
}

/// Turns a verification report's failures that are not rule refusals (those come with
/// their record, from the collector) into integrity breaches.
fn integrity_breaches(report: &Report) -> (Vec<Breach>, u64) {
    let breaches: Vec<Breach> = report
        .failures
        .iter()
        .filter(|f| f.rule.is_none())
        .map(|f| Breach {
            kind: "integrity".into(),
            county: f.log.clone(),
            what: f.what.clone(),
            entries: f
                .seq
                .map(|seq| vec![EntryPointer::new(&f.log, seq)])
                .unwrap_or_default(),
        })
        .collect();
    // Failures beyond the report's list cannot be told apart; count them as integrity.
    let unlisted = report
        .failure_count
        .saturating_sub(report.failures.len() as u64);
    let count = breaches.len() as u64 + unlisted;
    (breaches, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_bounds_cover_whole_months() {
        let d = |s: &str| Date::parse(s).unwrap();
        assert_eq!(
            period_bounds(Period::Year(2024)),
            (Some(d("2024-01-01")), Some(d("2024-12-31")))
        );
        assert_eq!(
            period_bounds(Period::Half(2024, 2)),
            (Some(d("2024-07-01")), Some(d("2024-12-31")))
        );
        assert_eq!(
            period_bounds(Period::Quarter(2023, 1)),
            (Some(d("2023-01-01")), Some(d("2023-03-31")))
        );
        assert_eq!(
            period_bounds(Period::Quarter(2024, 1)).1,
            Some(d("2024-03-31"))
        );
        let options = AuditOptions::new(d("2025-01-01")).with_period(Period::Half(2024, 1));
        assert!(options.in_period(d("2024-06-30")));
        assert!(!options.in_period(d("2024-07-01")));
        assert!(!options.in_period(d("2023-12-31")));
    }

    #[test]
    fn pointers_name_the_api_routes() {
        let p = EntryPointer::new("141125", 7);
        assert_eq!(p.entry_url, "/v1/logs/141125/entries/7");
        assert_eq!(p.proof_url, "/v1/logs/141125/proofs/inclusion?seq=7");
    }
}
