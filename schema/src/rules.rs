//! The stateless domain rules: everything that can be checked on one record and the policy
//! alone — exact penalty arithmetic and totals, damages ranges, suspension months, grade
//! ratios, exposure-notice privacy, text bounds. Each breach is a `RuleViolation` naming the
//! rule (a stable kebab-case id the city audit counts by), the field path and the reason.
//!
//! Rules that need the log's history (authorisation, references, fine ranges that depend
//! on the finding's article, separation of duties, cross-county inspections) are
//! deliberately not here but in `state`.
//!
//! Rounding, stated once: a penalty computed from a multiple is
//! `amount = round_half_up(basis × multiple)` to the fen, computed exactly in integers as
//! `(basis_fen × thousandths + 500) / 1000` (e.g. 3 fen × 1.5 = 4.5 fen → 5 fen). Grade
//! counts follow the largest-remainder (Hamilton) method, see `largest_remainder`.

mod privacy;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::{FineRule, Policy};
use crate::record::{
    Correction, Decision, ExposureNotice, Fen, Finding, Grade, GradeRevision, GradeSet, Handling,
    InspectionOpened, InstitutionKind, InstitutionRegistered, InstitutionUpdated, KeyEvent,
    Multiple, Pattern, PayloadError, Penalty, Record, RecordKind, RectificationItem,
    RectificationUpdate,
};

pub use privacy::{find_personal_data, is_masked_person, is_surname, screen_personal_data};

/// A domain rule, with a stable kebab-case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The payload is not the canonical encoding of a record of the header's kind.
    Encoding,
    /// An amount is out of bounds (above the policy maximum, above the finding's amount).
    Money,
    /// A computed amount or total does not match its recomputation.
    Arithmetic,
    /// A fine or damages multiple or flat amount is outside the policy range.
    PenaltyRange,
    /// A suspension or staff-points handling is outside the policy range.
    HandlingRange,
    /// 查办分离: a decision decides a finding its own officer recorded.
    SeparationOfDuties,
    /// A grade set does not follow the policy ratio.
    GradeRatio,
    /// A score is above the policy maximum.
    GradeScore,
    /// An exposure notice carries personal data.
    ExposurePrivacy,
    /// An exposure notice does not match the decision and case it refers to.
    ExposureReference,
    /// An inspection or registration crosses divisions without the right inspection type.
    CrossCounty,
    /// A record refers to something that does not exist (or is withdrawn) in this log.
    Reference,
    /// The author may not sign this record.
    Authorisation,
    /// A status change is not allowed from the current status.
    Transition,
    /// An identifier or entry appears twice.
    Duplicate,
    /// Seq 0 is not a `log_created` by the key it names, or a `log_created` appears later.
    Genesis,
    /// The entry's seq is not the next one.
    Sequence,
    /// The entry belongs to another division's log.
    Origin,
    /// A date is impossible in context (after the entry's own date, before the case).
    Date,
    /// A text field is empty, too long or holds control characters; a list is too long.
    Text,
    /// The legal basis names an article or item the policy does not know.
    LegalBasis,
    /// An institution code's prefix does not match its kind.
    InstitutionCode,
    /// A correction targets something it may not, or changes the target's identity.
    Correction,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 23] = [
        Rule::Encoding,
        Rule::Money,
        Rule::Arithmetic,
        Rule::PenaltyRange,
        Rule::HandlingRange,
        Rule::SeparationOfDuties,
        Rule::GradeRatio,
        Rule::GradeScore,
        Rule::ExposurePrivacy,
        Rule::ExposureReference,
        Rule::CrossCounty,
        Rule::Reference,
        Rule::Authorisation,
        Rule::Transition,
        Rule::Duplicate,
        Rule::Genesis,
        Rule::Sequence,
        Rule::Origin,
        Rule::Date,
        Rule::Text,
        Rule::LegalBasis,
        Rule::InstitutionCode,
        Rule::Correction,
    ];

    /// The stable id.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rule::Encoding => "encoding",
            Rule::Money => "money",
            Rule::Arithmetic => "arithmetic",
            Rule::PenaltyRange => "penalty-range",
            Rule::HandlingRange => "handling-range",
            Rule::SeparationOfDuties => "separation-of-duties",
            Rule::GradeRatio => "grade-ratio",
            Rule::GradeScore => "grade-score",
            Rule::ExposurePrivacy => "exposure-privacy",
            Rule::ExposureReference => "exposure-reference",
            Rule::CrossCounty => "cross-county",
            Rule::Reference => "reference",
            Rule::Authorisation => "authorisation",
            Rule::Transition => "transition",
            Rule::Duplicate => "duplicate",
            Rule::Genesis => "genesis",
            Rule::Sequence => "sequence",
            Rule::Origin => "origin",
            Rule::Date => "date",
            Rule::Text => "text",
            Rule::LegalBasis => "legal-basis",
            Rule::InstitutionCode => "institution-code",
            Rule::Correction => "correction",
        }
    }

    /// The rule as a sentence for an officer who cannot read the English reason, e.g.
    /// `罚款或违约金超出政策范围`; the import prints it before the English detail when it has
    /// nothing more specific to say.
    pub const fn chinese(self) -> &'static str {
        match self {
            Rule::Encoding => "记录的编码不符合格式",
            Rule::Money => "金额超出允许的范围",
            Rule::Arithmetic => "金额计算不一致",
            Rule::PenaltyRange => "罚款或违约金超出政策范围",
            Rule::HandlingRange => "暂停或记分超出政策范围",
            Rule::SeparationOfDuties => "违反查办分离：记录违规事实的人员不能对其作出处理决定",
            Rule::GradeRatio => "信用等级的比例不符合政策",
            Rule::GradeScore => "信用评分超过政策上限",
            Rule::ExposurePrivacy => "曝光内容含有个人信息",
            Rule::ExposureReference => "曝光内容与所引用的处理决定或案件不一致",
            Rule::CrossCounty => "跨区划的检查或登记不符合检查类型",
            Rule::Reference => "所引用的记录不存在或已被撤回",
            Rule::Authorisation => "签名人员无权签署这类记录",
            Rule::Transition => "不允许这样变更状态",
            Rule::Duplicate => "记录或编号重复",
            Rule::Genesis => "账本的第一条记录不正确",
            Rule::Sequence => "记录的序号不连续",
            Rule::Origin => "记录不属于本区划的账本",
            Rule::Date => "日期不合理（晚于记录当天，或早于立案日期）",
            Rule::Text => "文字为空、过长或含有控制字符",
            Rule::LegalBasis => "法律依据不是政策中的条款",
            Rule::InstitutionCode => "机构编码与机构类型不符",
            Rule::Correction => "不允许这样更正",
        }
    }

    /// The rule with id `id`, if any.
    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == id)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A breach of a domain rule: which rule, which field (a path such as
/// `items[1].fine.multiple`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("`{field}`: {reason} (rule: {rule})")]
pub struct RuleViolation {
    /// The rule breached.
    pub rule: Rule,
    /// The path of the offending field within the record (or `seq`, `author` for entry
    /// context).
    pub field: String,
    /// Why, in words.
    pub reason: String,
}

impl RuleViolation {
    /// A violation of `rule` at `field`.
    pub fn new(rule: Rule, field: impl Into<String>, reason: impl Into<String>) -> Self {
        RuleViolation {
            rule,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The violation for a payload that could not be decoded (rule `encoding`).
    pub fn encoding(error: &PayloadError) -> Self {
        RuleViolation::new(Rule::Encoding, "payload", error.to_string())
    }

    /// The same violation with `prefix.` put before its field path.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

fn violation(rule: Rule, field: impl Into<String>, reason: impl Into<String>) -> RuleViolation {
    RuleViolation::new(rule, field, reason)
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

/// Longest name (institution, bureau, inspecting body), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest title of an exposure notice.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest address.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Longest short text (level, period covered, location, category, pattern text).
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest reason, note, problem or basis.
pub const MAX_REASON_CHARS: usize = 2_000;
/// Longest facts text.
pub const MAX_FACTS_CHARS: usize = 20_000;
/// Longest handling text of a notice.
pub const MAX_HANDLING_CHARS: usize = 5_000;
/// Most evidence digests in a finding.
pub const MAX_EVIDENCE: usize = 1_000;
/// Most items in a decision.
pub const MAX_DECISION_ITEMS: usize = 1_000;
/// Most other-handling entries in a decision.
pub const MAX_HANDLINGS: usize = 32;
/// Most categories in a notice.
pub const MAX_CATEGORIES: usize = 32;
/// Most assignments in a grade set.
pub const MAX_GRADES: usize = 100_000;

#[derive(Clone, Copy)]
struct TextLimit {
    max_chars: usize,
    multiline: bool,
    required: bool,
}

const NAME: TextLimit = TextLimit {
    max_chars: MAX_NAME_CHARS,
    multiline: false,
    required: true,
};
const TITLE: TextLimit = TextLimit {
    max_chars: MAX_TITLE_CHARS,
    multiline: false,
    required: true,
};
const ADDRESS: TextLimit = TextLimit {
    max_chars: MAX_ADDRESS_CHARS,
    multiline: false,
    required: true,
};
const SHORT: TextLimit = TextLimit {
    max_chars: MAX_SHORT_CHARS,
    multiline: false,
    required: true,
};
const REASON: TextLimit = TextLimit {
    max_chars: MAX_REASON_CHARS,
    multiline: true,
    required: true,
};
const FACTS: TextLimit = TextLimit {
    max_chars: MAX_FACTS_CHARS,
    multiline: true,
    required: true,
};
const HANDLING_TEXT: TextLimit = TextLimit {
    max_chars: MAX_HANDLING_CHARS,
    multiline: true,
    required: true,
};

/// Checks one text value; the error is the reason.
fn text_problem(value: &str, limit: TextLimit) -> Option<String> {
    let mut chars = 0usize;
    for c in value.chars() {
        chars += 1;
        let allowed_control = limit.multiline && (c == '\n' || c == '\t');
        if c.is_control() && !allowed_control {
            return Some(format!(
                "contains the control character U+{:04X}",
                u32::from(c)
            ));
        }
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            return Some(format!(
                "contains the invisible direction-control character U+{:04X}",
                u32::from(c)
            ));
        }
    }
    if limit.required && value.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if chars > limit.max_chars {
        return Some(format!(
            "is {chars} characters long; at most {} are allowed",
            limit.max_chars
        ));
    }
    None
}

fn check_text(
    value: &str,
    limit: TextLimit,
    field: impl FnOnce() -> String,
) -> Result<(), RuleViolation> {
    match text_problem(value, limit) {
        None => Ok(()),
        Some(reason) => Err(violation(Rule::Text, field(), reason)),
    }
}

fn check_optional_text(
    value: Option<&String>,
    limit: TextLimit,
    field: impl FnOnce() -> String,
) -> Result<(), RuleViolation> {
    match value {
        Some(v) => check_text(v, limit, field),
        None => Ok(()),
    }
}

fn check_count(len: usize, max: usize, field: &str, what: &str) -> Result<(), RuleViolation> {
    if len > max {
        Err(violation(
            Rule::Text,
            field,
            format!("has {len} {what}; at most {max} are allowed"),
        ))
    } else {
        Ok(())
    }
}

fn check_amount(
    amount: Fen,
    policy: &Policy,
    field: impl FnOnce() -> String,
) -> Result<(), RuleViolation> {
    if amount > policy.max_amount {
        Err(violation(
            Rule::Money,
            field(),
            format!(
                "{amount} is above the policy maximum of {}",
                policy.max_amount
            ),
        ))
    } else {
        Ok(())
    }
}

fn name(s: &str) -> impl Fn() -> String + '_ {
    move || s.to_owned()
}

// ---------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------

/// The penalty for `basis` at `multiple`, rounded half up to the fen:
/// `(basis_fen × thousandths + 500) / 1000`, exactly, in `u128`. `None` if the result does
/// not fit in `u64` fen.
///
/// 11,184,300 fen × 2 = 22,368,600 fen; 3,210,000 fen × 1.5 = 4,815,000 fen;
/// 3 fen × 1.5 = 4.5 fen → 5 fen.
pub fn penalty_amount(basis: Fen, multiple: Multiple) -> Option<Fen> {
    let product = u128::from(basis.get()) * u128::from(multiple.thousandths());
    // INVARIANT: u64::MAX × u32::MAX + 500 < u128::MAX, so this cannot overflow.
    let rounded = (product + 500) / 1000;
    u64::try_from(rounded).ok().map(Fen::new)
}

/// The largest-remainder (Hamilton) apportionment of `total` seats to `weights`:
/// each gets ⌊total × wᵢ / Σw⌋, then the seats left over go one each to the largest
/// remainders, ties to the earlier weight (the better grade). `None` if all weights are 0.
///
/// For 20 institutions at 3:4:2:1 this is 6, 8, 4, 2; for 7 it is 2, 3, 1, 1.
pub fn largest_remainder(total: u64, weights: &[u32]) -> Option<Vec<u64>> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return None;
    }
    let mut counts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut assigned: u128 = 0;
    for (index, &weight) in weights.iter().enumerate() {
        let numerator = u128::from(total) * u128::from(weight);
        let floor = numerator / sum;
        assigned += floor;
        // INVARIANT: floor ≤ total, so it fits in u64.
        counts.push(u64::try_from(floor).unwrap_or(u64::MAX));
        remainders.push((numerator % sum, index));
    }
    // Largest remainder first; on a tie, the earlier index (the better grade) first.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = u128::from(total).saturating_sub(assigned);
    for (_, index) in remainders {
        if left == 0 {
            break;
        }
        if let Some(count) = counts.get_mut(index) {
            *count += 1;
            left -= 1;
        }
    }
    Some(counts)
}

/// The counts a grade set of `n` institutions must have under `policy`, A to D.
pub fn expected_grade_counts(n: u64, policy: &Policy) -> Option<[u64; 4]> {
    let counts = largest_remainder(n, &policy.grade_ratio)?;
    let mut out = [0u64; 4];
    for (slot, count) in out.iter_mut().zip(counts) {
        *slot = count;
    }
    Some(out)
}

fn format_counts(counts: &[u64; 4]) -> String {
    let parts: Vec<String> = Grade::ALL
        .iter()
        .zip(counts)
        .map(|(g, c)| format!("{} {c}", g.as_str()))
        .collect();
    parts.join(", ")
}

// ---------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------

/// Checks every field-level rule of one record against the policy. Stops at the first
/// breach. Rules that need the log's history are in `state::LogState::check`.
pub fn validate(record: &Record, policy: &Policy) -> Result<(), RuleViolation> {
    match record {
        Record::KeyEvent(r) => validate_key_event(r),
        Record::InstitutionRegistered(r) => validate_institution_registered(r),
        Record::InstitutionUpdated(r) => validate_institution_updated(r),
        Record::InspectionOpened(r) => validate_inspection_opened(r),
        Record::Finding(r) => validate_finding(r, policy),
        Record::Decision(r) => validate_decision(r, policy),
        Record::RectificationItem(r) => validate_rectification_item(r),
        Record::RectificationUpdate(r) => validate_rectification_update(r),
        Record::GradeSet(r) => validate_grade_set(r, policy),
        Record::GradeRevision(r) => validate_grade_revision(r, policy),
        Record::ExposureNotice(r) => validate_exposure_notice(r, policy),
        Record::Correction(r) => validate_correction(r, policy),
    }
}

fn validate_key_event(event: &KeyEvent) -> Result<(), RuleViolation> {
    match event {
        KeyEvent::LogCreated { name: bureau, .. } => check_text(bureau, NAME, name("name")),
        KeyEvent::OfficerAdded { surname, roles, .. } => {
            if !is_surname(surname) {
                return Err(violation(
                    Rule::Text,
                    "surname",
                    format!("{surname:?} is not a surname of one or two Han characters (the surname only)"),
                ));
            }
            if roles.is_empty() {
                return Err(violation(
                    Rule::Authorisation,
                    "roles",
                    "an officer needs at least one role",
                ));
            }
            for (i, role) in roles.iter().enumerate() {
                if roles.get(..i).is_some_and(|earlier| earlier.contains(role)) {
                    return Err(violation(
                        Rule::Duplicate,
                        format!("roles[{i}]"),
                        format!("the role {role} is listed twice"),
                    ));
                }
            }
            Ok(())
        }
        KeyEvent::OfficerRevoked { reason, .. } => check_text(reason, REASON, name("reason")),
        KeyEvent::BureauKeyRotated { .. } => Ok(()),
    }
}

fn check_code_matches_kind(
    code: &crate::record::InstitutionCode,
    kind: InstitutionKind,
    field: &str,
) -> Result<(), RuleViolation> {
    if code.is_pharmacy() != kind.is_pharmacy() {
        let expected = if kind.is_pharmacy() { 'P' } else { 'H' };
        return Err(violation(
            Rule::InstitutionCode,
            field,
            format!(
                "the code {code} does not match the kind {}: {} codes start with {expected}",
                kind.as_str(),
                if kind.is_pharmacy() {
                    "pharmacy"
                } else {
                    "medical institution"
                }
            ),
        ));
    }
    Ok(())
}

fn validate_institution_registered(r: &InstitutionRegistered) -> Result<(), RuleViolation> {
    check_code_matches_kind(&r.code, r.institution_kind, "code")?;
    check_text(&r.name, NAME, name("name"))?;
    check_text(&r.address, ADDRESS, name("address"))?;
    check_optional_text(r.level.as_ref(), SHORT, name("level"))
}

fn validate_institution_updated(r: &InstitutionUpdated) -> Result<(), RuleViolation> {
    if r.changes.is_empty() {
        return Err(violation(
            Rule::Text,
            "changes",
            "must change at least one field",
        ));
    }
    if let Some(kind) = r.changes.institution_kind {
        check_code_matches_kind(&r.code, kind, "changes.institution_kind")?;
    }
    check_optional_text(r.changes.name.as_ref(), NAME, name("changes.name"))?;
    check_optional_text(r.changes.address.as_ref(), ADDRESS, name("changes.address"))?;
    check_optional_text(r.changes.level.as_ref(), SHORT, name("changes.level"))?;
    check_text(&r.reason, REASON, name("reason"))
}

fn validate_inspection_opened(r: &InspectionOpened) -> Result<(), RuleViolation> {
    check_text(&r.institution.name, NAME, name("institution.name"))?;
    check_text(&r.inspecting_body, NAME, name("inspecting_body"))?;
    check_optional_text(r.period_covered.as_ref(), SHORT, name("period_covered"))?;
    check_optional_text(r.basis.as_ref(), REASON, name("basis"))
}

fn validate_finding(r: &Finding, policy: &Policy) -> Result<(), RuleViolation> {
    let Some(article) = policy.article(r.legal_basis.article) else {
        return Err(violation(
            Rule::LegalBasis,
            "legal_basis.article",
            format!(
                "Art. {} is not an article the policy knows (articles: {})",
                r.legal_basis.article,
                policy.article_list()
            ),
        ));
    };
    if let Some(item) = r.legal_basis.item {
        if item == 0 || item > article.items {
            return Err(violation(
                Rule::LegalBasis,
                "legal_basis.item",
                format!(
                    "item {item} does not exist: Art. {} has items 1–{}",
                    article.article, article.items
                ),
            ));
        }
    }
    if let Pattern::Other(text) = &r.pattern {
        check_text(text, SHORT, name("pattern.other"))?;
    }
    check_text(&r.facts, FACTS, name("facts"))?;
    check_amount(r.amount_involved, policy, name("amount_involved"))?;
    check_count(r.evidence.len(), MAX_EVIDENCE, "evidence", "digests")?;
    let mut seen = HashSet::with_capacity(r.evidence.len());
    for (i, digest) in r.evidence.iter().enumerate() {
        if !seen.insert(digest) {
            return Err(violation(
                Rule::Duplicate,
                format!("evidence[{i}]"),
                format!("the evidence digest {digest} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// Checks a penalty's own arithmetic: with a multiple, amount = round_half_up(basis ×
/// multiple); without one, basis = amount.
fn check_penalty_arithmetic(p: &Penalty, field: &str) -> Result<(), RuleViolation> {
    match p.multiple {
        Some(multiple) => match penalty_amount(p.basis, multiple) {
            Some(expected) if expected == p.amount => Ok(()),
            Some(expected) => Err(violation(
                Rule::Arithmetic,
                format!("{field}.amount"),
                format!(
                    "{} × {multiple} is {expected} (rounded half up to the fen), not {}",
                    p.basis, p.amount
                ),
            )),
            None => Err(violation(
                Rule::Money,
                format!("{field}.amount"),
                format!("{} × {multiple} overflows", p.basis),
            )),
        },
        None if p.basis == p.amount => Ok(()),
        None => Err(violation(
            Rule::Arithmetic,
            format!("{field}.basis"),
            format!(
                "a flat penalty's basis must equal its amount ({}), not {}",
                p.amount, p.basis
            ),
        )),
    }
}

fn validate_decision(r: &Decision, policy: &Policy) -> Result<(), RuleViolation> {
    if r.items.is_empty() {
        return Err(violation(
            Rule::Reference,
            "items",
            "a decision must decide at least one finding",
        ));
    }
    check_count(r.items.len(), MAX_DECISION_ITEMS, "items", "items")?;
    check_count(
        r.other_handling.len(),
        MAX_HANDLINGS,
        "other_handling",
        "entries",
    )?;
    let mut seen = HashSet::with_capacity(r.items.len());
    let (mut recovered, mut damages, mut fines) = (0u128, 0u128, 0u128);
    for (i, item) in r.items.iter().enumerate() {
        if !seen.insert(&item.finding_id) {
            return Err(violation(
                Rule::Duplicate,
                format!("items[{i}].finding_id"),
                format!(
                    "the finding {} is decided twice in this decision",
                    item.finding_id
                ),
            ));
        }
        check_amount(item.recovered, policy, || format!("items[{i}].recovered"))?;
        recovered += u128::from(item.recovered.get());
        if let Some(d) = &item.damages {
            let field = format!("items[{i}].damages");
            check_amount(d.basis, policy, || format!("{field}.basis"))?;
            check_amount(d.amount, policy, || format!("{field}.amount"))?;
            let Some(multiple) = d.multiple else {
                return Err(violation(
                    Rule::PenaltyRange,
                    format!("{field}.multiple"),
                    "liquidated damages (违约金) are a multiple of the recovered amount; give the multiple",
                ));
            };
            if d.basis != item.recovered {
                return Err(violation(
                    Rule::Arithmetic,
                    format!("{field}.basis"),
                    format!(
                        "the damages basis {} must equal the item's recovered amount {}",
                        d.basis, item.recovered
                    ),
                ));
            }
            if !policy.damages.contains(multiple) {
                return Err(violation(
                    Rule::PenaltyRange,
                    format!("{field}.multiple"),
                    format!(
                        "{multiple}× is outside the {} range for liquidated damages",
                        policy.damages
                    ),
                ));
            }
            check_penalty_arithmetic(d, &field)?;
            damages += u128::from(d.amount.get());
        }
        if let Some(f) = &item.fine {
            let field = format!("items[{i}].fine");
            check_amount(f.basis, policy, || format!("{field}.basis"))?;
            check_amount(f.amount, policy, || format!("{field}.amount"))?;
            check_penalty_arithmetic(f, &field)?;
            fines += u128::from(f.amount.get());
        }
    }
    let totals = [
        ("totals.recovered", recovered, r.totals.recovered),
        ("totals.damages", damages, r.totals.damages),
        ("totals.fines", fines, r.totals.fines),
        ("totals.total", recovered + damages + fines, r.totals.total),
    ];
    for (field, computed, stated) in totals {
        if computed != u128::from(stated.get()) {
            let shown = u64::try_from(computed)
                .map(|c| Fen::new(c).to_string())
                .unwrap_or_else(|_| format!("{computed} fen"));
            return Err(violation(
                Rule::Arithmetic,
                field,
                format!("is {stated}, but the items sum to {shown}"),
            ));
        }
    }
    for (i, handling) in r.other_handling.iter().enumerate() {
        if r.other_handling
            .get(..i)
            .is_some_and(|earlier| earlier.contains(handling))
        {
            return Err(violation(
                Rule::Duplicate,
                format!("other_handling[{i}]"),
                "the same handling is listed twice",
            ));
        }
        match *handling {
            Handling::Suspension { months, .. } => {
                let range = policy.suspension_months;
                if months < range.min || months > range.max {
                    return Err(violation(
                        Rule::HandlingRange,
                        format!("other_handling[{i}].months"),
                        format!(
                            "a suspension of {months} months is outside the {}–{} month range",
                            range.min, range.max
                        ),
                    ));
                }
            }
            Handling::StaffPoints { points } => {
                if points == 0 || points > policy.max_staff_points {
                    return Err(violation(
                        Rule::HandlingRange,
                        format!("other_handling[{i}].points"),
                        format!("{points} points is outside 1–{}", policy.max_staff_points),
                    ));
                }
            }
            Handling::OrderToCorrect
            | Handling::Summons
            | Handling::AgreementTermination
            | Handling::Referral { .. } => {}
        }
    }
    Ok(())
}

/// Checks a fine against the policy rule of the finding's article: a multiple within the
/// range, or a flat amount within the range and no multiple. Used by `state`, where the
/// article is known.
pub fn check_fine_for_article(
    fine: &Penalty,
    article: u8,
    policy: &Policy,
    field: &str,
) -> Result<(), RuleViolation> {
    let Some(rule) = policy.article(article) else {
        return Err(violation(
            Rule::LegalBasis,
            field,
            format!("Art. {article} is not an article the policy knows"),
        ));
    };
    match (rule.fine, fine.multiple) {
        (FineRule::Multiple(range), Some(multiple)) if range.contains(multiple) => Ok(()),
        (FineRule::Multiple(range), Some(multiple)) => Err(violation(
            Rule::PenaltyRange,
            format!("{field}.multiple"),
            format!("{multiple}× is outside the {range} range for Art. {article}"),
        )),
        (FineRule::Multiple(range), None) => Err(violation(
            Rule::PenaltyRange,
            format!("{field}.multiple"),
            format!("fines under Art. {article} are a multiple of the basis ({range}); give the multiple"),
        )),
        (FineRule::Flat(_), Some(multiple)) => Err(violation(
            Rule::PenaltyRange,
            format!("{field}.multiple"),
            format!("fines under Art. {article} are a flat amount, not a multiple ({multiple}×)"),
        )),
        (FineRule::Flat(range), None) if range.contains(fine.amount) => Ok(()),
        (FineRule::Flat(range), None) => Err(violation(
            Rule::PenaltyRange,
            format!("{field}.amount"),
            format!(
                "a flat fine of {} is outside the {range} range for Art. {article}",
                fine.amount
            ),
        )),
    }
}

fn validate_rectification_item(r: &RectificationItem) -> Result<(), RuleViolation> {
    check_text(&r.problem, REASON, name("problem"))
}

fn validate_rectification_update(r: &RectificationUpdate) -> Result<(), RuleViolation> {
    check_text(&r.note, REASON, name("note"))
}

fn validate_grade_set(r: &GradeSet, policy: &Policy) -> Result<(), RuleViolation> {
    if r.grades.is_empty() {
        return Err(violation(
            Rule::GradeRatio,
            "grades",
            "a grade set must grade at least one institution",
        ));
    }
    check_count(r.grades.len(), MAX_GRADES, "grades", "assignments")?;
    let mut seen = HashSet::with_capacity(r.grades.len());
    let mut counts = [0u64; 4];
    for (i, g) in r.grades.iter().enumerate() {
        if !seen.insert(g.institution) {
            return Err(violation(
                Rule::Duplicate,
                format!("grades[{i}].institution"),
                format!("{} is graded twice in this set", g.institution),
            ));
        }
        if g.score > policy.max_grade_score {
            return Err(violation(
                Rule::GradeScore,
                format!("grades[{i}].score"),
                format!(
                    "{} points is above the maximum of {}",
                    g.score, policy.max_grade_score
                ),
            ));
        }
        check_optional_text(g.reason.as_ref(), SHORT, || format!("grades[{i}].reason"))?;
        if let Some(count) = counts.get_mut(g.grade.index()) {
            *count += 1;
        }
    }
    let n = r.grades.len() as u64;
    let Some(expected) = expected_grade_counts(n, policy) else {
        return Err(violation(
            Rule::GradeRatio,
            "grades",
            "the policy's grade ratio is all zeros",
        ));
    };
    if counts != expected {
        return Err(violation(
            Rule::GradeRatio,
            "grades",
            format!(
                "the counts {} do not follow the {} ratio for {n} institutions: expected {} (largest-remainder rounding, ties to the better grade)",
                format_counts(&counts),
                policy.grade_ratio_text(),
                format_counts(&expected)
            ),
        ));
    }
    Ok(())
}

fn validate_grade_revision(r: &GradeRevision, policy: &Policy) -> Result<(), RuleViolation> {
    if r.score > policy.max_grade_score {
        return Err(violation(
            Rule::GradeScore,
            "score",
            format!(
                "{} points is above the maximum of {}",
                r.score, policy.max_grade_score
            ),
        ));
    }
    check_text(&r.reason, REASON, name("reason"))
}

fn check_public_text(
    value: &str,
    limit: TextLimit,
    field: impl Fn() -> String,
) -> Result<(), RuleViolation> {
    check_text(value, limit, &field)?;
    match find_personal_data(value) {
        None => Ok(()),
        Some(reason) => Err(violation(Rule::ExposurePrivacy, field(), reason)),
    }
}

fn validate_exposure_notice(r: &ExposureNotice, policy: &Policy) -> Result<(), RuleViolation> {
    check_public_text(&r.title, TITLE, name("title"))?;
    check_public_text(&r.institution.name, NAME, name("institution.name"))?;
    check_public_text(&r.location, SHORT, name("location"))?;
    check_public_text(&r.inspecting_body, NAME, name("inspecting_body"))?;
    check_public_text(&r.inspection_period, SHORT, name("inspection_period"))?;
    check_public_text(&r.facts, FACTS, name("facts"))?;
    if r.categories.is_empty() {
        return Err(violation(
            Rule::Text,
            "categories",
            "a notice names at least one violation category",
        ));
    }
    check_count(
        r.categories.len(),
        MAX_CATEGORIES,
        "categories",
        "categories",
    )?;
    for (i, category) in r.categories.iter().enumerate() {
        check_public_text(category, SHORT, || format!("categories[{i}]"))?;
    }
    check_amount(r.amount_involved, policy, name("amount_involved"))?;
    check_public_text(&r.legal_basis, REASON, name("legal_basis"))?;
    check_public_text(&r.handling, HANDLING_TEXT, name("handling"))?;
    let max_persons = usize::try_from(policy.max_exposure_persons).unwrap_or(usize::MAX);
    if r.persons.len() > max_persons {
        return Err(violation(
            Rule::ExposurePrivacy,
            "persons",
            format!(
                "a notice may mention at most {} persons, not {}",
                policy.max_exposure_persons,
                r.persons.len()
            ),
        ));
    }
    for (i, person) in r.persons.iter().enumerate() {
        if !is_masked_person(person) {
            return Err(violation(
                Rule::ExposurePrivacy,
                format!("persons[{i}]"),
                format!(
                    "{person:?} is not a surname followed by 某 or 某某 (e.g. 景某, 钱某某); private persons appear by surname only"
                ),
            ));
        }
    }
    Ok(())
}

fn validate_correction(r: &Correction, policy: &Policy) -> Result<(), RuleViolation> {
    check_text(&r.reason, REASON, name("reason"))?;
    if matches!(r.target_kind, RecordKind::KeyEvent | RecordKind::Correction) {
        return Err(violation(
            Rule::Correction,
            "target_kind",
            format!("a {} cannot be corrected", r.target_kind),
        ));
    }
    if let Some(replacement) = &r.replacement {
        if replacement.kind() != r.target_kind {
            return Err(violation(
                Rule::Correction,
                "replacement.kind",
                format!(
                    "the replacement is a {}, but the target is a {}",
                    replacement.kind(),
                    r.target_kind
                ),
            ));
        }
        validate(replacement, policy).map_err(|v| v.within("replacement"))?;
    }
    Ok(())
}
