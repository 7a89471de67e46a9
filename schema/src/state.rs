//! The state of one county log, replayed entry by entry: who may sign (from key events),
//! which cases, findings, decisions, rectification items, grade sets and notices exist, and
//! the stateful rules that need them — authorisation by role, references, separation of
//! inspection and adjudication (查办分离), fine ranges by the finding's article,
//! cross-county inspections, status transitions, corrections.
//!
//! The state keeps identifiers, authors, statuses and amounts, never texts, so that the
//! state of a log of about a million entries fits comfortably in memory; `check` is a few
//! hash lookups on top of `rules::validate`. It deliberately knows nothing of signatures,
//! hashes or storage: the ledger verifies the entry's signature and chain, then hands the
//! decoded record and its context here.
//!
//! Role table (who may sign what):
//!
//! | record kind | signed by |
//! |---|---|
//! | key_event | the current bureau key (seq 0: the key `log_created` names) |
//! | institution_registered, institution_updated | administrator |
//! | inspection_opened, finding, rectification_item | inspector |
//! | rectification_update | inspector or adjudicator |
//! | decision, grade_set, grade_revision | adjudicator |
//! | exposure_notice | publisher |
//! | correction | a role that may sign the target's kind |
//!
//! Corrections: identifiers are never freed. A replacement keeps the target's identity
//! (case id, finding id, decision id, item id, notice id, institution code, or division and
//! period) and is checked as if it were the target; a withdrawal marks the target
//! withdrawn. A decided finding and a published decision cannot be corrected until the
//! decision or notice that depends on them is withdrawn; only the latest update of an
//! institution or rectification item can be corrected.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use crate::hashing::FastMap;
use crate::policy::Policy;
use crate::record::{
    Correction, Date, Decision, DivisionCode, ExposureNotice, Fen, Finding, Grade, GradeRevision,
    GradeSet, InspectionOpened, InspectionType, InstitutionCode, InstitutionKind,
    InstitutionRegistered, InstitutionStatus, InstitutionUpdated, KeyEvent, OfficerId, Period,
    Record, RecordKind, RectificationItem, RectificationStatus, RectificationUpdate, Role,
};
use crate::rules::{self, Rule, RuleViolation};

/// What the ledger knows about an entry besides its record: the log's division, the
/// entry's seq, its timestamp (ms since the Unix epoch, UTC) and its author's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContext {
    /// The division of the log the entry belongs to.
    pub division: DivisionCode,
    /// The entry's position in the log (0, 1, 2, …).
    pub seq: u64,
    /// The entry's timestamp in milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// The Ed25519 public key that signed the entry.
    pub author: [u8; 32],
}

/// The roles allowed to sign a record of `kind`. Empty for `key_event` (the bureau key
/// signs those) and for `correction` (it depends on the target's kind).
pub const fn roles_for(kind: RecordKind) -> &'static [Role] {
    match kind {
        RecordKind::KeyEvent | RecordKind::Correction => &[],
        RecordKind::InstitutionRegistered | RecordKind::InstitutionUpdated => {
            &[Role::Administrator]
        }
        RecordKind::InspectionOpened | RecordKind::Finding | RecordKind::RectificationItem => {
            &[Role::Inspector]
        }
        RecordKind::RectificationUpdate => &[Role::Inspector, Role::Adjudicator],
        RecordKind::Decision | RecordKind::GradeSet | RecordKind::GradeRevision => {
            &[Role::Adjudicator]
        }
        RecordKind::ExposureNotice => &[Role::Publisher],
    }
}

/// A set of roles, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    /// The set holding `roles`.
    pub fn from_roles(roles: &[Role]) -> Self {
        RoleSet(roles.iter().fold(0, |bits, r| bits | RoleSet::bit(*r)))
    }

    const fn bit(role: Role) -> u8 {
        1 << role as u8
    }

    /// Whether `role` is in the set.
    pub fn contains(&self, role: Role) -> bool {
        self.0 & RoleSet::bit(role) != 0
    }

    /// Whether any of `roles` is in the set.
    pub fn contains_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.contains(*r))
    }

    /// The roles in the set, in `Role::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        Role::ALL.into_iter().filter(|r| self.contains(*r))
    }

    /// The roles as text, e.g. "inspector, adjudicator".
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.iter().map(Role::as_str).collect();
        if names.is_empty() {
            "no role".into()
        } else {
            names.join(", ")
        }
    }
}

/// An officer key known to the log (added by `officer_added`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    /// The officer's public key.
    pub key: [u8; 32],
    /// The officer's law-enforcement certificate number (执法证号).
    pub officer_id: OfficerId,
    /// The officer's surname.
    pub surname: String,
    /// The roles the key may act in.
    pub roles: RoleSet,
    /// The seq of the `officer_added` event.
    pub added_seq: u64,
    /// The seq of the `officer_revoked` event, if revoked; the key authorises nothing after.
    pub revoked_seq: Option<u64>,
}

/// The status of a rectification item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemStatus {
    /// Recorded, not yet being rectified.
    Open,
    /// 整改中.
    Rectifying,
    /// 已核验.
    Verified,
    /// 已销号.
    ClosedOut,
}

impl ItemStatus {
    fn after(status: RectificationStatus) -> ItemStatus {
        match status {
            RectificationStatus::Rectifying => ItemStatus::Rectifying,
            RectificationStatus::Verified => ItemStatus::Verified,
            RectificationStatus::ClosedOut => ItemStatus::ClosedOut,
        }
    }

    fn next(self) -> Option<RectificationStatus> {
        match self {
            ItemStatus::Open => Some(RectificationStatus::Rectifying),
            ItemStatus::Rectifying => Some(RectificationStatus::Verified),
            ItemStatus::Verified => Some(RectificationStatus::ClosedOut),
            ItemStatus::ClosedOut => None,
        }
    }

    fn previous(self) -> ItemStatus {
        match self {
            ItemStatus::Open | ItemStatus::Rectifying => ItemStatus::Open,
            ItemStatus::Verified => ItemStatus::Rectifying,
            ItemStatus::ClosedOut => ItemStatus::Verified,
        }
    }

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Open => "open",
            ItemStatus::Rectifying => "rectifying",
            ItemStatus::Verified => "verified",
            ItemStatus::ClosedOut => "closed_out",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Compact tables
// ---------------------------------------------------------------------------------------

/// No object (an entry that created nothing, or an author who is not an officer).
const NONE: u32 = u32::MAX;

/// Rows addressed by a key and by a dense `u32` index.
#[derive(Debug, Clone)]
struct Table<K, V> {
    index: FastMap<K, u32>,
    rows: Vec<V>,
}

impl<K: Hash + Eq, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            index: FastMap::default(),
            rows: Vec::new(),
        }
    }
}

impl<K: Hash + Eq, V> Table<K, V> {
    fn find<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
    {
        self.index.get(key).copied()
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(u32, &V)>
    where
        K: Borrow<Q>,
    {
        let idx = self.find(key)?;
        self.row(idx).map(|row| (idx, row))
    }

    fn row(&self, idx: u32) -> Option<&V> {
        self.rows.get(usize::try_from(idx).ok()?)
    }

    fn row_mut(&mut self, idx: u32) -> Option<&mut V> {
        self.rows.get_mut(usize::try_from(idx).ok()?)
    }

    /// Inserts a new row; returns `NONE` (and stores nothing) if the key exists or the
    /// table is full.
    fn insert(&mut self, key: K, row: V) -> u32 {
        if self.index.contains_key(&key) {
            return NONE;
        }
        let Ok(idx) = u32::try_from(self.rows.len()) else {
            return NONE;
        };
        if idx == NONE {
            return NONE;
        }
        self.index.insert(key, idx);
        self.rows.push(row);
        idx
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

#[derive(Debug, Clone, Copy)]
struct EntrySlot {
    kind: RecordKind,
    withdrawn: bool,
    /// The row the entry created or concerns (officer, institution, case, …), or `NONE`.
    object: u32,
}

#[derive(Debug, Clone)]
struct InstitutionState {
    division: DivisionCode,
    kind: InstitutionKind,
    status: InstitutionStatus,
    /// The status before the latest update, to undo a withdrawn update.
    prev_status: InstitutionStatus,
    last_update_seq: Option<u64>,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct CaseState {
    institution: InstitutionCode,
    institution_division: DivisionCode,
    inspection_type: InspectionType,
    opened_on: Date,
    live_findings: u32,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct FindingState {
    case: u32,
    article: u8,
    amount: Fen,
    author: u32,
    decision: Option<u32>,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct DecisionState {
    case: u32,
    findings: Box<[u32]>,
    decided_on: Date,
    live_notices: u32,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct ItemState {
    status: ItemStatus,
    last_update_seq: Option<u64>,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct NoticeState {
    decision: u32,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct GradeSetState {
    /// Each graded institution's grade in the set as recorded (revisions not applied).
    institutions: HashMap<InstitutionCode, Grade>,
    withdrawn: bool,
}

#[derive(Debug, Clone)]
struct RevisionState {
    set: u32,
    institution: InstitutionCode,
}

/// The replayed state of one log. Cheap to clone relative to replaying (the ledger
/// snapshots it).
#[derive(Debug, Clone)]
pub struct LogState {
    division: DivisionCode,
    policy: Policy,
    /// One slot per entry, indexed by seq.
    entries: Vec<EntrySlot>,
    bureau_key: Option<[u8; 32]>,
    former_bureau_keys: Vec<[u8; 32]>,
    officers: Vec<Officer>,
    officer_by_key: FastMap<[u8; 32], u32>,
    institutions: Table<InstitutionCode, InstitutionState>,
    /// Live registrations per division (to know when registrations are known).
    registered_per_division: FastMap<DivisionCode, u32>,
    cases: Table<Box<str>, CaseState>,
    findings: Table<Box<str>, FindingState>,
    decisions: Table<Box<str>, DecisionState>,
    items: Table<Box<str>, ItemState>,
    notices: Table<Box<str>, NoticeState>,
    grade_sets: Table<(DivisionCode, Period), GradeSetState>,
    revisions: Vec<RevisionState>,
}

fn violation(rule: Rule, field: impl Into<String>, reason: impl Into<String>) -> RuleViolation {
    RuleViolation::new(rule, field, reason)
}

fn short_key(key: &[u8; 32]) -> String {
    hex::encode(key.get(..4).unwrap_or(&[]))
}

/// Whether the set of findings a replacement decision decides equals the target's.
fn same_findings(mut a: Vec<u32>, b: &[u32]) -> bool {
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

impl LogState {
    /// The empty state of the log of `division` under `policy`.
    pub fn new(division: DivisionCode, policy: Policy) -> Self {
        LogState {
            division,
            policy,
            entries: Vec::new(),
            bureau_key: None,
            former_bureau_keys: Vec::new(),
            officers: Vec::new(),
            officer_by_key: FastMap::default(),
            institutions: Table::default(),
            registered_per_division: FastMap::default(),
            cases: Table::default(),
            findings: Table::default(),
            decisions: Table::default(),
            items: Table::default(),
            notices: Table::default(),
            grade_sets: Table::default(),
            revisions: Vec::new(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------

    /// The log's division.
    pub fn division(&self) -> DivisionCode {
        self.division
    }

    /// The policy the log is checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The seq the next entry must have (the number of entries applied).
    pub fn next_seq(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The current bureau key, once the log is created.
    pub fn bureau_key(&self) -> Option<[u8; 32]> {
        self.bureau_key
    }

    /// Every officer key ever added, in order, revoked ones included (for `officer list`).
    pub fn officers(&self) -> &[Officer] {
        &self.officers
    }

    /// The officer with `key`, if any.
    pub fn officer(&self, key: &[u8; 32]) -> Option<&Officer> {
        let idx = *self.officer_by_key.get(key)?;
        self.officers.get(usize::try_from(idx).ok()?)
    }

    /// Whether `author` may now sign a record of `kind`: the bureau key for key events; an
    /// unrevoked officer key holding a role for the kind otherwise. For corrections, whose
    /// role depends on the target, any unrevoked officer key.
    pub fn is_authorised(&self, author: &[u8; 32], kind: RecordKind) -> bool {
        match kind {
            RecordKind::KeyEvent => self.bureau_key.as_ref() == Some(author),
            _ => match self.officer(author) {
                Some(officer) if officer.revoked_seq.is_none() => match kind {
                    RecordKind::Correction => officer.roles != RoleSet::default(),
                    _ => officer.roles.contains_any(roles_for(kind)),
                },
                _ => false,
            },
        }
    }

    /// The kind of the entry at `seq`, if it exists.
    pub fn entry_kind(&self, seq: u64) -> Option<RecordKind> {
        self.slot(seq).map(|s| s.kind)
    }

    /// Whether the entry at `seq` has been withdrawn by a correction.
    pub fn is_withdrawn(&self, seq: u64) -> bool {
        self.slot(seq).is_some_and(|s| s.withdrawn)
    }

    /// The status of a rectification item, if it exists and is not withdrawn.
    pub fn rectification_status(&self, item_id: &str) -> Option<ItemStatus> {
        self.items
            .get(item_id)
            .filter(|(_, i)| !i.withdrawn)
            .map(|(_, i)| i.status)
    }

    /// The agreement status of a registered institution, if registered here.
    pub fn institution_status(&self, code: &InstitutionCode) -> Option<InstitutionStatus> {
        self.institutions
            .get(code)
            .filter(|(_, i)| !i.withdrawn)
            .map(|(_, i)| i.status)
    }

    /// Whether a case with this id was opened in this log and not withdrawn.
    pub fn has_case(&self, case_id: &str) -> bool {
        self.cases.get(case_id).is_some_and(|(_, c)| !c.withdrawn)
    }

    /// The day the case with this id was opened, if it was opened in this log and not
    /// withdrawn (to say which date a decision came before).
    pub fn case_opened_on(&self, case_id: &str) -> Option<Date> {
        self.cases
            .get(case_id)
            .filter(|(_, c)| !c.withdrawn)
            .map(|(_, c)| c.opened_on)
    }

    /// Whether the finding exists and has a live decision.
    pub fn is_decided(&self, finding_id: &str) -> bool {
        self.findings
            .get(finding_id)
            .is_some_and(|(_, f)| f.decision.is_some())
    }

    /// Whether `id` was ever used as the identifier of a record of `kind` in this log
    /// (withdrawn ones included: identifiers are never freed). Kinds without an identifier
    /// of their own answer false. Used by bulk import to skip what is already there.
    pub fn id_in_use(&self, kind: RecordKind, id: &str) -> bool {
        match kind {
            RecordKind::InspectionOpened => self.cases.find(id).is_some(),
            RecordKind::Finding => self.findings.find(id).is_some(),
            RecordKind::Decision => self.decisions.find(id).is_some(),
            RecordKind::RectificationItem => self.items.find(id).is_some(),
            RecordKind::ExposureNotice => self.notices.find(id).is_some(),
            _ => false,
        }
    }

    /// Counts of cases, findings, decisions, rectification items and notices (live or not).
    pub fn counts(&self) -> [usize; 5] {
        [
            self.cases.len(),
            self.findings.len(),
            self.decisions.len(),
            self.items.len(),
            self.notices.len(),
        ]
    }

    fn slot(&self, seq: u64) -> Option<&EntrySlot> {
        self.entries.get(usize::try_from(seq).ok()?)
    }

    fn officer_index(&self, key: &[u8; 32]) -> u32 {
        self.officer_by_key.get(key).copied().unwrap_or(NONE)
    }

    fn officer_at(&self, idx: u32) -> Option<&Officer> {
        self.officers.get(usize::try_from(idx).ok()?)
    }

    /// Whether two officer indexes are the same person (same key or same certificate).
    fn same_officer(&self, a: u32, b: u32) -> bool {
        if a == b {
            return a != NONE;
        }
        match (self.officer_at(a), self.officer_at(b)) {
            (Some(x), Some(y)) => x.officer_id == y.officer_id,
            _ => false,
        }
    }

    fn entry_date(ctx: &EntryContext) -> Option<Date> {
        Date::from_timestamp_ms_china(ctx.timestamp_ms)
    }

    fn check_not_after_entry(
        ctx: &EntryContext,
        date: Date,
        field: &str,
    ) -> Result<(), RuleViolation> {
        match LogState::entry_date(ctx) {
            Some(today) if date > today => Err(violation(
                Rule::Date,
                field,
                format!("{date} is after the entry's own date {today} (China Standard Time)"),
            )),
            _ => Ok(()),
        }
    }

    // -----------------------------------------------------------------------------------
    // Checking
    // -----------------------------------------------------------------------------------

    /// Checks `record` as the next entry of the log: entry context (division, seq,
    /// timestamp, genesis), authorisation, `rules::validate`, then the stateful rules.
    /// Returns the first breach.
    pub fn check(&self, ctx: &EntryContext, record: &Record) -> Result<(), RuleViolation> {
        self.check_context(ctx, record)?;
        self.check_authorisation(ctx, record)?;
        rules::validate(record, &self.policy)?;
        let author = self.officer_index(&ctx.author);
        match record {
            Record::KeyEvent(r) => self.check_key_event(r),
            Record::InstitutionRegistered(r) => self.check_institution_registered(r, None),
            Record::InstitutionUpdated(r) => self.check_institution_updated(r, None),
            Record::InspectionOpened(r) => self.check_inspection_opened(ctx, r, None),
            Record::Finding(r) => self.check_finding(r, None),
            Record::Decision(r) => self.check_decision(ctx, author, r, None),
            Record::RectificationItem(r) => self.check_rectification_item(r, None),
            Record::RectificationUpdate(r) => self.check_rectification_update(ctx, r),
            Record::GradeSet(r) => self.check_grade_set(r, None),
            Record::GradeRevision(r) => self.check_grade_revision(r),
            Record::ExposureNotice(r) => self.check_exposure_notice(ctx, r, None),
            Record::Correction(r) => self.check_correction(ctx, author, r),
        }
    }

    /// The node's submission screen (SPEC.md §3.2): checks beyond validity that a node
    /// applies to what its own officers submit, and the city audit reports on entries
    /// that passed validity — they are not part of validity, so entries appended before
    /// them, or by another implementation, still verify. Call it for a record that
    /// [`LogState::check`] accepted, before it is applied. Returns the first finding:
    /// - an exposure notice whose `amount_involved` is not the sum of the amounts of the
    ///   findings its decision decides (`exposure-reference`);
    /// - an exposure notice text that [`rules::screen_personal_data`] flags: a full name
    ///   before a role word, a patient's record or card number (`exposure-privacy`);
    /// - a credit repair (信用修复) that does not raise the institution's grade above its
    ///   grade in the set as recorded (`transition`).
    pub fn screen(&self, record: &Record) -> Result<(), RuleViolation> {
        match record {
            Record::ExposureNotice(n) => self.screen_notice(n),
            Record::GradeRevision(r)
                if r.reason_kind == crate::record::RevisionReason::CreditRepair =>
            {
                let recorded = self
                    .grade_sets
                    .get(&(r.division, r.period))
                    .and_then(|(_, set)| set.institutions.get(&r.institution));
                match recorded {
                    Some(&before) if r.grade >= before => Err(violation(
                        Rule::Transition,
                        "grade",
                        format!(
                            "a credit repair (信用修复) raises a grade, but {} was graded {before:?} in the set for {} {} and the revision gives {:?}",
                            r.institution, r.division, r.period, r.grade
                        ),
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn screen_notice(&self, n: &ExposureNotice) -> Result<(), RuleViolation> {
        let texts = [
            ("title", &n.title),
            ("location", &n.location),
            ("inspecting_body", &n.inspecting_body),
            ("inspection_period", &n.inspection_period),
            ("facts", &n.facts),
            ("legal_basis", &n.legal_basis),
            ("handling", &n.handling),
        ];
        for (field, text) in texts {
            if let Some(reason) = rules::screen_personal_data(text) {
                return Err(violation(Rule::ExposurePrivacy, field, reason));
            }
        }
        for (i, category) in n.categories.iter().enumerate() {
            if let Some(reason) = rules::screen_personal_data(category) {
                return Err(violation(
                    Rule::ExposurePrivacy,
                    format!("categories[{i}]"),
                    reason,
                ));
            }
        }
        let Some((_, decision)) = self.decisions.get(n.decision_id.as_str()) else {
            return Ok(());
        };
        let mut involved: u64 = 0;
        for &f in decision.findings.iter() {
            if let Some(finding) = self.findings.row(f) {
                involved = involved.saturating_add(finding.amount.get());
            }
        }
        if n.amount_involved.get() != involved {
            return Err(violation(
                Rule::ExposureReference,
                "amount_involved",
                format!(
                    "the notice gives {} fen involved, but the findings decision {} decides involve {involved} fen",
                    n.amount_involved.get(),
                    n.decision_id.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Checks, then applies if the record is accepted.
    pub fn check_and_apply(
        &mut self,
        ctx: &EntryContext,
        record: &Record,
    ) -> Result<(), RuleViolation> {
        self.check(ctx, record)?;
        self.apply(ctx, record);
        Ok(())
    }

    fn check_context(&self, ctx: &EntryContext, record: &Record) -> Result<(), RuleViolation> {
        if ctx.division != self.division {
            return Err(violation(
                Rule::Origin,
                "division",
                format!(
                    "the entry belongs to the log of {}, not of {}",
                    ctx.division, self.division
                ),
            ));
        }
        let expected = self.next_seq();
        if ctx.seq != expected {
            return Err(violation(
                Rule::Sequence,
                "seq",
                format!(
                    "the next entry of this log is seq {expected}, not {}",
                    ctx.seq
                ),
            ));
        }
        let created = match record {
            Record::KeyEvent(KeyEvent::LogCreated {
                division,
                bureau_key,
                ..
            }) => Some((division, bureau_key)),
            _ => None,
        };
        match (ctx.seq, created) {
            (0, Some((division, bureau_key))) => {
                if *division != self.division {
                    return Err(violation(
                        Rule::Origin,
                        "division",
                        format!("this log belongs to {}, not {division}", self.division),
                    ));
                }
                if bureau_key.0 != ctx.author {
                    return Err(violation(
                        Rule::Genesis,
                        "bureau_key",
                        format!(
                            "log_created must be signed by the bureau key it names ({}…), not {}…",
                            short_key(&bureau_key.0),
                            short_key(&ctx.author)
                        ),
                    ));
                }
                Ok(())
            }
            (0, None) => Err(violation(
                Rule::Genesis,
                "kind",
                format!(
                    "the first entry of a log must be a log_created key event, not a {}",
                    record.kind()
                ),
            )),
            (_, Some(_)) => Err(violation(
                Rule::Genesis,
                "event",
                "log_created may only be the first entry (seq 0) of a log",
            )),
            (_, None) => Ok(()),
        }
    }

    fn check_authorisation(
        &self,
        ctx: &EntryContext,
        record: &Record,
    ) -> Result<(), RuleViolation> {
        let kind = record.kind();
        if ctx.seq == 0 {
            // Genesis was checked in `check_context`: the named key signs it.
            return Ok(());
        }
        if kind == RecordKind::KeyEvent {
            return if self.bureau_key == Some(ctx.author) {
                Ok(())
            } else {
                Err(violation(
                    Rule::Authorisation,
                    "author",
                    format!(
                        "key events must be signed by the current bureau key, not {}…",
                        short_key(&ctx.author)
                    ),
                ))
            };
        }
        let required: &[Role] = match record {
            Record::Correction(c)
                if matches!(c.target_kind, RecordKind::KeyEvent | RecordKind::Correction) =>
            {
                // `rules::validate` refuses these with the `correction` rule.
                return Ok(());
            }
            Record::Correction(c) => roles_for(c.target_kind),
            _ => roles_for(kind),
        };
        // Only put into words when refused: this runs for every entry.
        let what = || match record {
            Record::Correction(c) => format!("corrections of `{}` records", c.target_kind),
            _ => format!("records of kind `{kind}`"),
        };
        let Some(officer) = self.officer(&ctx.author) else {
            let reason = if self.bureau_key == Some(ctx.author) {
                format!(
                    "the bureau key signs key events only; {} must be signed by an officer key",
                    what()
                )
            } else {
                format!(
                    "the key {}… is not an officer key of this log",
                    short_key(&ctx.author)
                )
            };
            return Err(violation(Rule::Authorisation, "author", reason));
        };
        if let Some(revoked) = officer.revoked_seq {
            return Err(violation(
                Rule::Authorisation,
                "author",
                format!(
                    "the key of officer {} was revoked at seq {revoked}",
                    officer.officer_id
                ),
            ));
        }
        if !officer.roles.contains_any(required) {
            let allowed: Vec<&str> = required.iter().map(|r| r.as_str()).collect();
            return Err(violation(
                Rule::Authorisation,
                "author",
                format!(
                    "officer {} ({}) may not sign {}; allowed: {}",
                    officer.officer_id,
                    officer.roles.describe(),
                    what(),
                    allowed.join(" or ")
                ),
            ));
        }
        Ok(())
    }

    fn check_key_event(&self, event: &KeyEvent) -> Result<(), RuleViolation> {
        match event {
            KeyEvent::LogCreated { .. } => Ok(()),
            KeyEvent::OfficerAdded { key, .. } => {
                if self.bureau_key == Some(key.0) || self.former_bureau_keys.contains(&key.0) {
                    return Err(violation(
                        Rule::Authorisation,
                        "key",
                        "an officer key may not be a bureau key (current or former)",
                    ));
                }
                if let Some(officer) = self.officer(&key.0) {
                    let reason = match officer.revoked_seq {
                        Some(seq) => format!(
                            "the key was revoked at seq {seq}; a revoked key is never added again"
                        ),
                        None => format!(
                            "the key is already the key of officer {}",
                            officer.officer_id
                        ),
                    };
                    return Err(violation(Rule::Duplicate, "key", reason));
                }
                Ok(())
            }
            KeyEvent::OfficerRevoked { key, .. } => match self.officer(&key.0) {
                None => Err(violation(
                    Rule::Reference,
                    "key",
                    format!("{}… is not an officer key of this log", short_key(&key.0)),
                )),
                Some(Officer {
                    revoked_seq: Some(seq),
                    ..
                }) => Err(violation(
                    Rule::Transition,
                    "key",
                    format!("the key was already revoked at seq {seq}"),
                )),
                Some(_) => Ok(()),
            },
            KeyEvent::BureauKeyRotated { new_key } => {
                if self.bureau_key == Some(new_key.0)
                    || self.former_bureau_keys.contains(&new_key.0)
                {
                    return Err(violation(
                        Rule::Duplicate,
                        "new_key",
                        "the new bureau key must differ from the current and every former bureau key",
                    ));
                }
                if self.officer(&new_key.0).is_some() {
                    return Err(violation(
                        Rule::Authorisation,
                        "new_key",
                        "an officer key may not become the bureau key",
                    ));
                }
                Ok(())
            }
        }
    }

    fn check_institution_registered(
        &self,
        r: &InstitutionRegistered,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        if r.division != self.division {
            return Err(violation(
                Rule::CrossCounty,
                "division",
                format!(
                    "institutions are registered in the log of their own division: this log is {}, the institution is in {}",
                    self.division, r.division
                ),
            ));
        }
        if replacing.is_none() && self.institutions.find(&r.code).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "code",
                format!("{} is already registered in this log", r.code),
            ));
        }
        Ok(())
    }

    fn check_institution_updated(
        &self,
        r: &InstitutionUpdated,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        let Some((_, institution)) = self.institutions.get(&r.code).filter(|(_, i)| !i.withdrawn)
        else {
            return Err(violation(
                Rule::Reference,
                "code",
                format!("{} is not registered in this log", r.code),
            ));
        };
        let current = if replacing.is_some() {
            institution.prev_status
        } else {
            institution.status
        };
        if let Some(new) = r.changes.status {
            if current == InstitutionStatus::Terminated {
                return Err(violation(
                    Rule::Transition,
                    "changes.status",
                    format!("{}'s agreement is terminated; termination is final", r.code),
                ));
            }
            if new == current {
                return Err(violation(
                    Rule::Transition,
                    "changes.status",
                    format!("{} is already {}", r.code, current.as_str()),
                ));
            }
        }
        Ok(())
    }

    fn check_inspection_opened(
        &self,
        ctx: &EntryContext,
        r: &InspectionOpened,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        if replacing.is_none() && self.cases.find(r.case_id.as_str()).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "case_id",
                format!("the case {} was already opened in this log", r.case_id),
            ));
        }
        LogState::check_not_after_entry(ctx, r.opened_on, "opened_on")?;
        let institution_division = r.institution.division;
        if institution_division != self.division {
            if !r.inspection_type.may_cross_divisions() {
                return Err(violation(
                    Rule::CrossCounty,
                    "inspection_type",
                    format!(
                        "{} is in division {institution_division}, outside this log's division {}; only cross_county, city_direct or flight inspections may cross divisions, not {}",
                        r.institution.code,
                        self.division,
                        r.inspection_type.as_str()
                    ),
                ));
            }
            if r.inspection_type == InspectionType::CityDirect
                && !institution_division.is_within_city_of(&self.division)
            {
                return Err(violation(
                    Rule::CrossCounty,
                    "institution.division",
                    format!(
                        "a city-direct inspection covers its own city ({}); {institution_division} is outside it",
                        self.division.city()
                    ),
                ));
            }
        } else if r.inspection_type == InspectionType::CrossCounty {
            return Err(violation(
                Rule::CrossCounty,
                "inspection_type",
                format!(
                    "a cross-county inspection is of an institution in another county, but {} is in this log's division {}",
                    r.institution.code, self.division
                ),
            ));
        }
        if let Some((_, registered)) = self
            .institutions
            .get(&r.institution.code)
            .filter(|(_, i)| !i.withdrawn)
        {
            if registered.division != institution_division {
                return Err(violation(
                    Rule::Reference,
                    "institution.division",
                    format!(
                        "{} is registered in this log in division {}, not {institution_division}",
                        r.institution.code, registered.division
                    ),
                ));
            }
        }
        Ok(())
    }

    fn live_case(
        &self,
        case_id: &str,
        rule: Rule,
        field: &str,
    ) -> Result<(u32, &CaseState), RuleViolation> {
        match self.cases.get(case_id) {
            Some((_, case)) if case.withdrawn => Err(violation(
                rule,
                field,
                format!("the case {case_id} was withdrawn by a correction"),
            )),
            Some(found) => Ok(found),
            None => Err(violation(
                rule,
                field,
                format!("no case {case_id} was opened in this log"),
            )),
        }
    }

    fn check_finding(&self, r: &Finding, replacing: Option<u32>) -> Result<(), RuleViolation> {
        let (_, case) = self.live_case(r.case_id.as_str(), Rule::Reference, "case_id")?;
        if replacing.is_none() && self.findings.find(r.finding_id.as_str()).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "finding_id",
                format!(
                    "the finding {} was already recorded in this log",
                    r.finding_id
                ),
            ));
        }
        if case.institution_division != self.division && !case.inspection_type.may_cross_divisions()
        {
            return Err(violation(
                Rule::CrossCounty,
                "case_id",
                format!(
                    "the case {} concerns an institution in {}, outside this log's division, and is a {} inspection",
                    r.case_id,
                    case.institution_division,
                    case.inspection_type.as_str()
                ),
            ));
        }
        Ok(())
    }

    fn check_decision(
        &self,
        ctx: &EntryContext,
        author: u32,
        r: &Decision,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        let (case_idx, case) = self.live_case(r.case_id.as_str(), Rule::Reference, "case_id")?;
        if replacing.is_none() && self.decisions.find(r.decision_id.as_str()).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "decision_id",
                format!(
                    "the decision {} was already recorded in this log",
                    r.decision_id
                ),
            ));
        }
        LogState::check_not_after_entry(ctx, r.decided_on, "decided_on")?;
        if r.decided_on < case.opened_on {
            return Err(violation(
                Rule::Date,
                "decided_on",
                format!(
                    "{} is before the case was opened on {}",
                    r.decided_on, case.opened_on
                ),
            ));
        }
        for (i, item) in r.items.iter().enumerate() {
            let field = || format!("items[{i}].finding_id");
            let Some((_, finding)) = self.findings.get(item.finding_id.as_str()) else {
                return Err(violation(
                    Rule::Reference,
                    field(),
                    format!("no finding {} was recorded in this log", item.finding_id),
                ));
            };
            if finding.case != case_idx {
                return Err(violation(
                    Rule::Reference,
                    field(),
                    format!(
                        "the finding {} belongs to another case, not {}",
                        item.finding_id, r.case_id
                    ),
                ));
            }
            if finding.withdrawn {
                return Err(violation(
                    Rule::Reference,
                    field(),
                    format!(
                        "the finding {} was withdrawn by a correction",
                        item.finding_id
                    ),
                ));
            }
            if let Some(decision) = finding.decision {
                if Some(decision) != replacing {
                    return Err(violation(
                        Rule::Duplicate,
                        field(),
                        format!(
                            "the finding {} is already decided; each finding is decided once",
                            item.finding_id
                        ),
                    ));
                }
            }
            if item.recovered > finding.amount {
                return Err(violation(
                    Rule::Money,
                    format!("items[{i}].recovered"),
                    format!(
                        "{} is more than the finding's amount involved, {}",
                        item.recovered, finding.amount
                    ),
                ));
            }
            if let Some(fine) = &item.fine {
                let fine_field = format!("items[{i}].fine");
                rules::check_fine_for_article(fine, finding.article, &self.policy, &fine_field)?;
                if fine.multiple.is_some() && fine.basis > finding.amount {
                    return Err(violation(
                        Rule::Money,
                        format!("{fine_field}.basis"),
                        format!(
                            "the fine basis {} is more than the finding's amount involved, {}",
                            fine.basis, finding.amount
                        ),
                    ));
                }
            }
            if self.same_officer(author, finding.author) {
                let officer = self
                    .officer_at(author)
                    .map(|o| o.officer_id.to_string())
                    .unwrap_or_else(|| "?".into());
                return Err(violation(
                    Rule::SeparationOfDuties,
                    field(),
                    format!(
                        "officer {officer} recorded the finding {} and may not also decide it (查办分离)",
                        item.finding_id
                    ),
                ));
            }
        }
        if let Some(target) = replacing.and_then(|idx| self.decisions.row(idx)) {
            let decided: Vec<u32> = r
                .items
                .iter()
                .filter_map(|item| self.findings.find(item.finding_id.as_str()))
                .collect();
            if !same_findings(decided, &target.findings) {
                return Err(violation(
                    Rule::Correction,
                    "items",
                    "a replacement decision decides the same findings as the decision it replaces; withdraw it and record a new decision instead",
                ));
            }
        }
        Ok(())
    }

    fn check_rectification_item(
        &self,
        r: &RectificationItem,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        if replacing.is_none() && self.items.find(r.item_id.as_str()).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "item_id",
                format!(
                    "the rectification item {} was already recorded in this log",
                    r.item_id
                ),
            ));
        }
        match &r.case_id {
            Some(case_id) => {
                let (_, case) = self.live_case(case_id.as_str(), Rule::Reference, "case_id")?;
                if case.institution != r.institution {
                    return Err(violation(
                        Rule::Reference,
                        "institution",
                        format!(
                            "the case {case_id} concerns {}, not {}",
                            case.institution, r.institution
                        ),
                    ));
                }
            }
            None => {
                if self
                    .institutions
                    .get(&r.institution)
                    .filter(|(_, i)| !i.withdrawn)
                    .is_none()
                {
                    return Err(violation(
                        Rule::Reference,
                        "institution",
                        format!(
                            "{} is not registered in this log; give the case_id for an institution of another division",
                            r.institution
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn live_item(&self, item_id: &str) -> Result<(u32, &ItemState), RuleViolation> {
        match self.items.get(item_id) {
            Some((_, item)) if item.withdrawn => Err(violation(
                Rule::Reference,
                "item_id",
                format!("the rectification item {item_id} was withdrawn by a correction"),
            )),
            Some(found) => Ok(found),
            None => Err(violation(
                Rule::Reference,
                "item_id",
                format!("no rectification item {item_id} was recorded in this log"),
            )),
        }
    }

    fn check_rectification_update(
        &self,
        ctx: &EntryContext,
        r: &RectificationUpdate,
    ) -> Result<(), RuleViolation> {
        let (_, item) = self.live_item(r.item_id.as_str())?;
        LogState::check_not_after_entry(ctx, r.on, "on")?;
        match item.status.next() {
            None => Err(violation(
                Rule::Transition,
                "status",
                format!(
                    "the item {} is closed out (销号); nothing follows",
                    r.item_id
                ),
            )),
            Some(next) if next == r.status => Ok(()),
            Some(next) => Err(violation(
                Rule::Transition,
                "status",
                format!(
                    "the item {} is {}; the next step is {}, not {}",
                    r.item_id,
                    item.status.as_str(),
                    next.as_str(),
                    r.status.as_str()
                ),
            )),
        }
    }

    fn check_grade_set(&self, r: &GradeSet, replacing: Option<u32>) -> Result<(), RuleViolation> {
        if r.division != self.division {
            return Err(violation(
                Rule::Origin,
                "division",
                format!(
                    "this log grades division {}; a set for {} belongs in that division's log",
                    self.division, r.division
                ),
            ));
        }
        if replacing.is_none() && self.grade_sets.find(&(r.division, r.period)).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "period",
                format!(
                    "a grade set for {} {} already exists; revise or correct it",
                    r.division, r.period
                ),
            ));
        }
        let registrations_known = self
            .registered_per_division
            .get(&r.division)
            .is_some_and(|&n| n > 0);
        if registrations_known {
            for (i, g) in r.grades.iter().enumerate() {
                let registered = self
                    .institutions
                    .get(&g.institution)
                    .is_some_and(|(_, inst)| !inst.withdrawn && inst.division == r.division);
                if !registered {
                    return Err(violation(
                        Rule::Reference,
                        format!("grades[{i}].institution"),
                        format!(
                            "{} is not registered in this log for division {}",
                            g.institution, r.division
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_grade_revision(&self, r: &GradeRevision) -> Result<(), RuleViolation> {
        let set = match self.grade_sets.get(&(r.division, r.period)) {
            Some((_, set)) if !set.withdrawn => set,
            Some(_) => {
                return Err(violation(
                    Rule::Reference,
                    "period",
                    format!(
                        "the grade set for {} {} was withdrawn",
                        r.division, r.period
                    ),
                ))
            }
            None => {
                return Err(violation(
                    Rule::Reference,
                    "period",
                    format!(
                        "there is no grade set for {} {} in this log",
                        r.division, r.period
                    ),
                ))
            }
        };
        if !set.institutions.contains_key(&r.institution) {
            return Err(violation(
                Rule::Reference,
                "institution",
                format!(
                    "{} is not graded in the set for {} {}",
                    r.institution, r.division, r.period
                ),
            ));
        }
        Ok(())
    }

    fn check_exposure_notice(
        &self,
        ctx: &EntryContext,
        r: &ExposureNotice,
        replacing: Option<u32>,
    ) -> Result<(), RuleViolation> {
        if replacing.is_none() && self.notices.find(r.notice_id.as_str()).is_some() {
            return Err(violation(
                Rule::Duplicate,
                "notice_id",
                format!(
                    "the notice {} was already published in this log",
                    r.notice_id
                ),
            ));
        }
        let (case_idx, case) =
            self.live_case(r.case_id.as_str(), Rule::ExposureReference, "case_id")?;
        let (decision_idx, decision) = match self.decisions.get(r.decision_id.as_str()) {
            Some((_, d)) if d.withdrawn => {
                return Err(violation(
                    Rule::ExposureReference,
                    "decision_id",
                    format!(
                        "the decision {} was withdrawn by a correction",
                        r.decision_id
                    ),
                ))
            }
            Some(found) => found,
            None => {
                return Err(violation(
                    Rule::ExposureReference,
                    "decision_id",
                    format!(
                        "no decision {} was recorded in this log; a notice publishes a decision",
                        r.decision_id
                    ),
                ))
            }
        };
        if decision.case != case_idx {
            return Err(violation(
                Rule::ExposureReference,
                "decision_id",
                format!(
                    "the decision {} belongs to another case, not {}",
                    r.decision_id, r.case_id
                ),
            ));
        }
        if case.institution != r.institution.code {
            return Err(violation(
                Rule::ExposureReference,
                "institution.code",
                format!(
                    "the case {} concerns {}, not {}",
                    r.case_id, case.institution, r.institution.code
                ),
            ));
        }
        if let Some(target) = replacing.and_then(|idx| self.notices.row(idx)) {
            if target.decision != decision_idx {
                return Err(violation(
                    Rule::Correction,
                    "decision_id",
                    "a replacement notice publishes the same decision as the notice it replaces",
                ));
            }
        }
        LogState::check_not_after_entry(ctx, r.published_on, "published_on")?;
        if r.published_on < decision.decided_on {
            return Err(violation(
                Rule::Date,
                "published_on",
                format!(
                    "{} is before the decision of {}",
                    r.published_on, decision.decided_on
                ),
            ));
        }
        Ok(())
    }

    fn check_correction(
        &self,
        ctx: &EntryContext,
        author: u32,
        c: &Correction,
    ) -> Result<(), RuleViolation> {
        let Some(slot) = self.slot(c.target_seq).filter(|_| c.target_seq < ctx.seq) else {
            return Err(violation(
                Rule::Correction,
                "target_seq",
                format!("there is no earlier entry {} in this log", c.target_seq),
            ));
        };
        if slot.kind != c.target_kind {
            return Err(violation(
                Rule::Correction,
                "target_kind",
                format!(
                    "the entry {} is a {}, not a {}",
                    c.target_seq, slot.kind, c.target_kind
                ),
            ));
        }
        if slot.withdrawn {
            return Err(violation(
                Rule::Correction,
                "target_seq",
                format!("the entry {} was already withdrawn", c.target_seq),
            ));
        }
        let object = slot.object;
        let identity = |field: &str, what: &str| {
            violation(
                Rule::Correction,
                format!("replacement.{field}"),
                format!("a replacement keeps the {what} of the entry it corrects"),
            )
        };
        let within =
            |result: Result<(), RuleViolation>| result.map_err(|v| v.within("replacement"));
        let replacement = c.replacement.as_deref();
        match (c.target_kind, replacement) {
            (RecordKind::InstitutionRegistered, Some(Record::InstitutionRegistered(r))) => {
                if self.institutions.find(&r.code) != Some(object) {
                    return Err(identity("code", "institution code"));
                }
                within(self.check_institution_registered(r, Some(object)))
            }
            (RecordKind::InstitutionUpdated, replacement) => {
                let latest = self
                    .institutions
                    .row(object)
                    .and_then(|i| i.last_update_seq);
                if latest != Some(c.target_seq) {
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        "only the latest update of an institution can be corrected",
                    ));
                }
                match replacement {
                    Some(Record::InstitutionUpdated(r)) => {
                        if self.institutions.find(&r.code) != Some(object) {
                            return Err(identity("code", "institution code"));
                        }
                        within(self.check_institution_updated(r, Some(object)))
                    }
                    _ => Ok(()),
                }
            }
            (RecordKind::InspectionOpened, replacement) => {
                let live_findings = self.cases.row(object).map_or(0, |c| c.live_findings);
                match replacement {
                    Some(Record::InspectionOpened(r)) => {
                        if self.cases.find(r.case_id.as_str()) != Some(object) {
                            return Err(identity("case_id", "case id"));
                        }
                        let same_institution = self
                            .cases
                            .row(object)
                            .is_some_and(|case| case.institution == r.institution.code);
                        if live_findings > 0 && !same_institution {
                            return Err(violation(
                                Rule::Correction,
                                "replacement.institution.code",
                                "the case has findings; its institution cannot change",
                            ));
                        }
                        within(self.check_inspection_opened(ctx, r, Some(object)))
                    }
                    _ if live_findings > 0 => Err(violation(
                        Rule::Correction,
                        "target_seq",
                        format!(
                            "the case has {live_findings} findings; withdraw them before the case"
                        ),
                    )),
                    _ => Ok(()),
                }
            }
            (RecordKind::Finding, replacement) => {
                if let Some(decision) = self.findings.row(object).and_then(|f| f.decision) {
                    let id = self
                        .decisions
                        .index
                        .iter()
                        .find(|(_, &idx)| idx == decision)
                        .map(|(id, _)| id.to_string())
                        .unwrap_or_default();
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        format!("the finding is decided by decision {id}; correct or withdraw the decision first"),
                    ));
                }
                match replacement {
                    Some(Record::Finding(r)) => {
                        if self.findings.find(r.finding_id.as_str()) != Some(object) {
                            return Err(identity("finding_id", "finding id"));
                        }
                        let same_case = self.findings.row(object).map(|f| f.case)
                            == self.cases.find(r.case_id.as_str());
                        if !same_case {
                            return Err(identity("case_id", "case id"));
                        }
                        within(self.check_finding(r, Some(object)))
                    }
                    _ => Ok(()),
                }
            }
            (RecordKind::Decision, replacement) => {
                let live_notices = self.decisions.row(object).map_or(0, |d| d.live_notices);
                if live_notices > 0 {
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        "the decision has been published in an exposure notice; withdraw the notice first",
                    ));
                }
                match replacement {
                    Some(Record::Decision(r)) => {
                        if self.decisions.find(r.decision_id.as_str()) != Some(object) {
                            return Err(identity("decision_id", "decision id"));
                        }
                        let same_case = self.decisions.row(object).map(|d| d.case)
                            == self.cases.find(r.case_id.as_str());
                        if !same_case {
                            return Err(identity("case_id", "case id"));
                        }
                        within(self.check_decision(ctx, author, r, Some(object)))
                    }
                    _ => Ok(()),
                }
            }
            (RecordKind::RectificationItem, Some(Record::RectificationItem(r))) => {
                if self.items.find(r.item_id.as_str()) != Some(object) {
                    return Err(identity("item_id", "item id"));
                }
                within(self.check_rectification_item(r, Some(object)))
            }
            (RecordKind::RectificationUpdate, replacement) => {
                let Some(item) = self.items.row(object) else {
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        "the update's item is unknown",
                    ));
                };
                if item.last_update_seq != Some(c.target_seq) {
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        "only the latest update of a rectification item can be corrected",
                    ));
                }
                match replacement {
                    Some(Record::RectificationUpdate(r)) => {
                        if self.items.find(r.item_id.as_str()) != Some(object) {
                            return Err(identity("item_id", "item id"));
                        }
                        if ItemStatus::after(r.status) != item.status {
                            return Err(identity("status", "status"));
                        }
                        within(LogState::check_not_after_entry(ctx, r.on, "on"))
                    }
                    _ => Ok(()),
                }
            }
            (RecordKind::GradeSet, Some(Record::GradeSet(r))) => {
                if self.grade_sets.find(&(r.division, r.period)) != Some(object) {
                    return Err(identity("period", "division and period"));
                }
                within(self.check_grade_set(r, Some(object)))
            }
            (RecordKind::GradeRevision, Some(Record::GradeRevision(r))) => {
                let Some(target) = self
                    .revisions
                    .get(usize::try_from(object).unwrap_or(usize::MAX))
                else {
                    return Err(violation(
                        Rule::Correction,
                        "target_seq",
                        "the revision's grade set is unknown",
                    ));
                };
                if self.grade_sets.find(&(r.division, r.period)) != Some(target.set) {
                    return Err(identity("period", "division and period"));
                }
                if r.institution != target.institution {
                    return Err(identity("institution", "institution"));
                }
                within(self.check_grade_revision(r))
            }
            (RecordKind::ExposureNotice, Some(Record::ExposureNotice(r))) => {
                if self.notices.find(r.notice_id.as_str()) != Some(object) {
                    return Err(identity("notice_id", "notice id"));
                }
                within(self.check_exposure_notice(ctx, r, Some(object)))
            }
            // Withdrawals with nothing further to check.
            (
                RecordKind::InstitutionRegistered
                | RecordKind::RectificationItem
                | RecordKind::GradeSet
                | RecordKind::GradeRevision
                | RecordKind::ExposureNotice,
                None,
            ) => Ok(()),
            // A replacement of another kind, or a key event or correction: `rules::validate`
            // has already refused these.
            _ => Err(violation(
                Rule::Correction,
                "replacement",
                format!("a {} cannot be corrected this way", c.target_kind),
            )),
        }
    }

    // -----------------------------------------------------------------------------------
    // Applying
    // -----------------------------------------------------------------------------------

    /// Counts an entry that failed its checks without applying it, so that a verifier checks
    /// the entries after it at their own positions and reports each failure once, instead
    /// of blaming every later entry for a wrong sequence number. The skipped entry can never
    /// be the target of a correction.
    pub fn skip(&mut self, kind: Option<RecordKind>) {
        self.entries.push(EntrySlot {
            // A correction can never target a correction, so this placeholder is inert.
            kind: kind.unwrap_or(RecordKind::Correction),
            withdrawn: true,
            object: NONE,
        });
    }

    /// Applies a record as the next entry. Meant for records that passed `check`; for any
    /// other record it still never panics and records what it can (the city audit applies
    /// every entry after counting its breaches).
    pub fn apply(&mut self, ctx: &EntryContext, record: &Record) {
        let seq = self.next_seq();
        let author = self.officer_index(&ctx.author);
        let object = match record {
            Record::KeyEvent(r) => self.apply_key_event(seq, r),
            Record::InstitutionRegistered(r) => self.apply_institution_registered(r),
            Record::InstitutionUpdated(r) => self.apply_institution_updated(seq, r),
            Record::InspectionOpened(r) => self.cases.insert(
                r.case_id.as_str().into(),
                CaseState {
                    institution: r.institution.code,
                    institution_division: r.institution.division,
                    inspection_type: r.inspection_type,
                    opened_on: r.opened_on,
                    live_findings: 0,
                    withdrawn: false,
                },
            ),
            Record::Finding(r) => self.apply_finding(author, r),
            Record::Decision(r) => self.apply_decision(r),
            Record::RectificationItem(r) => self.items.insert(
                r.item_id.as_str().into(),
                ItemState {
                    status: ItemStatus::Open,
                    last_update_seq: None,
                    withdrawn: false,
                },
            ),
            Record::RectificationUpdate(r) => match self.items.find(r.item_id.as_str()) {
                Some(idx) => {
                    if let Some(item) = self.items.row_mut(idx) {
                        item.status = ItemStatus::after(r.status);
                        item.last_update_seq = Some(seq);
                    }
                    idx
                }
                None => NONE,
            },
            Record::GradeSet(r) => self.grade_sets.insert(
                (r.division, r.period),
                GradeSetState {
                    institutions: r.grades.iter().map(|g| (g.institution, g.grade)).collect(),
                    withdrawn: false,
                },
            ),
            Record::GradeRevision(r) => match self.grade_sets.find(&(r.division, r.period)) {
                Some(set) => {
                    let idx = u32::try_from(self.revisions.len()).unwrap_or(NONE);
                    if idx != NONE {
                        self.revisions.push(RevisionState {
                            set,
                            institution: r.institution,
                        });
                    }
                    idx
                }
                None => NONE,
            },
            Record::ExposureNotice(r) => match self.decisions.find(r.decision_id.as_str()) {
                Some(decision) => {
                    let idx = self.notices.insert(
                        r.notice_id.as_str().into(),
                        NoticeState {
                            decision,
                            withdrawn: false,
                        },
                    );
                    if idx != NONE {
                        if let Some(d) = self.decisions.row_mut(decision) {
                            d.live_notices = d.live_notices.saturating_add(1);
                        }
                    }
                    idx
                }
                None => NONE,
            },
            Record::Correction(c) => {
                self.apply_correction(c);
                NONE
            }
        };
        self.entries.push(EntrySlot {
            kind: record.kind(),
            withdrawn: false,
            object,
        });
    }

    fn apply_key_event(&mut self, seq: u64, event: &KeyEvent) -> u32 {
        match event {
            KeyEvent::LogCreated { bureau_key, .. } => {
                if self.bureau_key.is_none() {
                    self.bureau_key = Some(bureau_key.0);
                }
                NONE
            }
            KeyEvent::OfficerAdded {
                key,
                officer_id,
                surname,
                roles,
            } => {
                if self.officer_by_key.contains_key(&key.0) {
                    return NONE;
                }
                let Ok(idx) = u32::try_from(self.officers.len()) else {
                    return NONE;
                };
                self.officers.push(Officer {
                    key: key.0,
                    officer_id: officer_id.clone(),
                    surname: surname.clone(),
                    roles: RoleSet::from_roles(roles),
                    added_seq: seq,
                    revoked_seq: None,
                });
                self.officer_by_key.insert(key.0, idx);
                idx
            }
            KeyEvent::OfficerRevoked { key, .. } => {
                let idx = self.officer_index(&key.0);
                if let Some(officer) = self
                    .officers
                    .get_mut(usize::try_from(idx).unwrap_or(usize::MAX))
                {
                    if officer.revoked_seq.is_none() {
                        officer.revoked_seq = Some(seq);
                    }
                }
                idx
            }
            KeyEvent::BureauKeyRotated { new_key } => {
                if let Some(old) = self.bureau_key.replace(new_key.0) {
                    self.former_bureau_keys.push(old);
                }
                NONE
            }
        }
    }

    fn apply_institution_registered(&mut self, r: &InstitutionRegistered) -> u32 {
        let idx = self.institutions.insert(
            r.code,
            InstitutionState {
                division: r.division,
                kind: r.institution_kind,
                status: InstitutionStatus::Active,
                prev_status: InstitutionStatus::Active,
                last_update_seq: None,
                withdrawn: false,
            },
        );
        if idx != NONE {
            let count = self.registered_per_division.entry(r.division).or_insert(0);
            *count = count.saturating_add(1);
        }
        idx
    }

    fn apply_institution_updated(&mut self, seq: u64, r: &InstitutionUpdated) -> u32 {
        let Some(idx) = self.institutions.find(&r.code) else {
            return NONE;
        };
        if let Some(inst) = self.institutions.row_mut(idx) {
            inst.prev_status = inst.status;
            if let Some(status) = r.changes.status {
                inst.status = status;
            }
            if let Some(kind) = r.changes.institution_kind {
                inst.kind = kind;
            }
            inst.last_update_seq = Some(seq);
        }
        idx
    }

    fn apply_finding(&mut self, author: u32, r: &Finding) -> u32 {
        let Some(case) = self.cases.find(r.case_id.as_str()) else {
            return NONE;
        };
        let idx = self.findings.insert(
            r.finding_id.as_str().into(),
            FindingState {
                case,
                article: r.legal_basis.article,
                amount: r.amount_involved,
                author,
                decision: None,
                withdrawn: false,
            },
        );
        if idx != NONE {
            if let Some(c) = self.cases.row_mut(case) {
                c.live_findings = c.live_findings.saturating_add(1);
            }
        }
        idx
    }

    fn decided_findings(&self, r: &Decision, case: u32) -> Vec<u32> {
        r.items
            .iter()
            .filter_map(|item| self.findings.find(item.finding_id.as_str()))
            .filter(|&f| self.findings.row(f).is_some_and(|row| row.case == case))
            .collect()
    }

    fn apply_decision(&mut self, r: &Decision) -> u32 {
        let Some(case) = self.cases.find(r.case_id.as_str()) else {
            return NONE;
        };
        let findings = self.decided_findings(r, case);
        let idx = self.decisions.insert(
            r.decision_id.as_str().into(),
            DecisionState {
                case,
                findings: findings.clone().into_boxed_slice(),
                decided_on: r.decided_on,
                live_notices: 0,
                withdrawn: false,
            },
        );
        if idx != NONE {
            for f in findings {
                if let Some(row) = self.findings.row_mut(f) {
                    if row.decision.is_none() {
                        row.decision = Some(idx);
                    }
                }
            }
        }
        idx
    }

    fn apply_correction(&mut self, c: &Correction) {
        let Some(slot) = self.slot(c.target_seq).copied() else {
            return;
        };
        if slot.kind != c.target_kind || slot.withdrawn {
            return;
        }
        let object = slot.object;
        match c.replacement.as_deref() {
            Some(replacement) => self.apply_replacement(object, replacement),
            None => {
                self.apply_withdrawal(slot.kind, object);
                if let Some(s) = usize::try_from(c.target_seq)
                    .ok()
                    .and_then(|i| self.entries.get_mut(i))
                {
                    s.withdrawn = true;
                }
            }
        }
    }

    fn apply_replacement(&mut self, object: u32, replacement: &Record) {
        match replacement {
            Record::InstitutionRegistered(r) => {
                if let Some(inst) = self.institutions.row_mut(object) {
                    inst.kind = r.institution_kind;
                }
            }
            Record::InstitutionUpdated(r) => {
                if let Some(inst) = self.institutions.row_mut(object) {
                    inst.status = r.changes.status.unwrap_or(inst.prev_status);
                    if let Some(kind) = r.changes.institution_kind {
                        inst.kind = kind;
                    }
                }
            }
            Record::InspectionOpened(r) => {
                if let Some(case) = self.cases.row_mut(object) {
                    case.institution = r.institution.code;
                    case.institution_division = r.institution.division;
                    case.inspection_type = r.inspection_type;
                    case.opened_on = r.opened_on;
                }
            }
            Record::Finding(r) => {
                if let Some(f) = self.findings.row_mut(object) {
                    f.article = r.legal_basis.article;
                    f.amount = r.amount_involved;
                }
            }
            Record::Decision(r) => {
                if let Some(d) = self.decisions.row_mut(object) {
                    d.decided_on = r.decided_on;
                }
            }
            Record::GradeSet(r) => {
                if let Some(set) = self.grade_sets.row_mut(object) {
                    set.institutions = r.grades.iter().map(|g| (g.institution, g.grade)).collect();
                }
            }
            Record::RectificationItem(_)
            | Record::RectificationUpdate(_)
            | Record::GradeRevision(_)
            | Record::ExposureNotice(_)
            | Record::KeyEvent(_)
            | Record::Correction(_) => {}
        }
    }

    fn apply_withdrawal(&mut self, kind: RecordKind, object: u32) {
        match kind {
            RecordKind::InstitutionRegistered => {
                if let Some(inst) = self.institutions.row_mut(object) {
                    inst.withdrawn = true;
                    let division = inst.division;
                    if let Some(count) = self.registered_per_division.get_mut(&division) {
                        *count = count.saturating_sub(1);
                    }
                }
            }
            RecordKind::InstitutionUpdated => {
                if let Some(inst) = self.institutions.row_mut(object) {
                    inst.status = inst.prev_status;
                    inst.last_update_seq = None;
                }
            }
            RecordKind::InspectionOpened => {
                if let Some(case) = self.cases.row_mut(object) {
                    case.withdrawn = true;
                }
            }
            RecordKind::Finding => {
                if let Some(f) = self.findings.row_mut(object) {
                    f.withdrawn = true;
                    let case = f.case;
                    if let Some(c) = self.cases.row_mut(case) {
                        c.live_findings = c.live_findings.saturating_sub(1);
                    }
                }
            }
            RecordKind::Decision => {
                let findings = match self.decisions.row_mut(object) {
                    Some(d) => {
                        d.withdrawn = true;
                        d.findings.clone()
                    }
                    None => return,
                };
                for f in findings.iter() {
                    if let Some(row) = self.findings.row_mut(*f) {
                        if row.decision == Some(object) {
                            row.decision = None;
                        }
                    }
                }
            }
            RecordKind::RectificationItem => {
                if let Some(item) = self.items.row_mut(object) {
                    item.withdrawn = true;
                }
            }
            RecordKind::RectificationUpdate => {
                if let Some(item) = self.items.row_mut(object) {
                    item.status = item.status.previous();
                    item.last_update_seq = None;
                }
            }
            RecordKind::GradeSet => {
                if let Some(set) = self.grade_sets.row_mut(object) {
                    set.withdrawn = true;
                }
            }
            RecordKind::ExposureNotice => {
                let decision = match self.notices.row_mut(object) {
                    Some(n) => {
                        n.withdrawn = true;
                        n.decision
                    }
                    None => return,
                };
                if let Some(d) = self.decisions.row_mut(decision) {
                    d.live_notices = d.live_notices.saturating_sub(1);
                }
            }
            RecordKind::GradeRevision | RecordKind::KeyEvent | RecordKind::Correction => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table_matches_the_documentation() {
        assert_eq!(roles_for(RecordKind::Finding), &[Role::Inspector]);
        assert_eq!(roles_for(RecordKind::Decision), &[Role::Adjudicator]);
        assert_eq!(
            roles_for(RecordKind::RectificationUpdate),
            &[Role::Inspector, Role::Adjudicator]
        );
        assert_eq!(roles_for(RecordKind::ExposureNotice), &[Role::Publisher]);
        assert_eq!(
            roles_for(RecordKind::InstitutionRegistered),
            &[Role::Administrator]
        );
        assert!(roles_for(RecordKind::KeyEvent).is_empty());
    }

    #[test]
    fn role_sets() {
        let set = RoleSet::from_roles(&[Role::Inspector, Role::Publisher]);
        assert!(set.contains(Role::Inspector));
        assert!(!set.contains(Role::Adjudicator));
        assert_eq!(set.describe(), "inspector, publisher");
    }

    #[test]
    fn item_status_steps() {
        assert_eq!(
            ItemStatus::Open.next(),
            Some(RectificationStatus::Rectifying)
        );
        assert_eq!(ItemStatus::ClosedOut.next(), None);
        assert_eq!(ItemStatus::ClosedOut.previous(), ItemStatus::Verified);
    }
}
