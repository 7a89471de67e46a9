//! Chinese reasons for the officer when the log refuses a record that a row makes, and
//! when rows of one file contradict each other.
//!
//! The domain rules (`yibao_schema::rules` and `state`) say why in English, for the API and
//! the city audit; their messages stay as they are. The import translates each
//! `RuleViolation` — its rule, its field path and the values of the row and the record —
//! into a sentence that names the column as the file writes it:
//! `罚款倍数 3 超出第三十八条的政策范围（1–2 倍）`. A violation without a sentence of its own
//! (rules an import cannot normally break) gets its rule's Chinese sentence
//! (`Rule::chinese`) followed by the English detail in parentheses, so nothing is lost.
//!
//! Not here: the checks themselves (the log state decides), or the messages about single
//! cells (`values`, `rows`).

use std::collections::HashMap;

use yibao_schema::policy::{FenRange, FineRule, MultipleRange};
use yibao_schema::record::{
    chinese_number, Date, Decision, DecisionItem, Fen, Handling, InspectionOpened, LegalBasis,
    Pattern, Record,
};
use yibao_schema::rules::{
    Rule, RuleViolation, MAX_FACTS_CHARS, MAX_NAME_CHARS, MAX_REASON_CHARS, MAX_SHORT_CHARS,
};
use yibao_schema::state::LogState;

use super::mapping::{inspection_type_label, Field};
use super::rows::{self, ParsedRow};
use super::values::format_yuan;

/// The header of each field's column as the file writes it.
pub type Headers = HashMap<Field, String>;

/// The header of `field`'s column, or its label when the file has no such column.
fn header(headers: &Headers, field: Field) -> String {
    headers
        .get(&field)
        .cloned()
        .unwrap_or_else(|| field.label().to_string())
}

/// `1–2 倍`.
fn multiples(range: MultipleRange) -> String {
    format!("{}–{} 倍", range.min, range.max)
}

/// `10,000 元至 50,000 元`.
fn amounts(range: FenRange) -> String {
    format!("{}至 {}", format_yuan(range.min), format_yuan(range.max))
}

/// `第三十八条`: an article without its item, as the policy's ranges are per article.
fn article_text(article: u8) -> String {
    LegalBasis {
        article,
        item: None,
    }
    .chinese()
}

/// The index in a field path such as `items[0].fine.multiple` after `list`.
fn index_in(path: &str, list: &str) -> Option<usize> {
    let rest = path.strip_prefix(list)?.strip_prefix('[')?;
    let (digits, _) = rest.split_once(']')?;
    digits.parse().ok()
}

/// A record of a row that the log refused, with what is needed to say why in Chinese.
pub struct Refusal<'a> {
    /// The row as parsed.
    pub row: &'a ParsedRow,
    /// The record the log refused.
    pub record: &'a Record,
    /// The header of each field's column as the file writes it.
    pub headers: &'a Headers,
    /// The log's state the record was checked against.
    pub state: &'a LogState,
    /// The entry's date in China Standard Time: the "today" no date may be after.
    pub today: Option<Date>,
}

impl Refusal<'_> {
    fn header(&self, field: Field) -> String {
        header(self.headers, field)
    }

    /// The column to blame: the one the violation's field comes from, as the file writes
    /// it; when the file has no such column, the one the value was derived from (the
    /// violation type gives the article, 违规金额 the fine basis, 机构编码 the institution);
    /// `-` when no column is to blame.
    pub fn column(&self, violation: &RuleViolation) -> String {
        let Some(field) = rows::field_of_violation(self.record.kind(), &violation.field) else {
            return "-".to_string();
        };
        let derived_from = match field {
            Field::LegalBasis => Some(Field::ViolationType),
            Field::FineBasis => Some(Field::AmountInvolved),
            Field::InstitutionDivision => Some(Field::InstitutionCode),
            _ => None,
        };
        match derived_from {
            Some(other) if !self.headers.contains_key(&field) => self.header(other),
            _ => self.header(field),
        }
    }

    /// Why the record was refused, in Chinese.
    pub fn reason(&self, violation: &RuleViolation) -> String {
        self.specific(violation)
            .unwrap_or_else(|| format!("{}（{violation}）", violation.rule.chinese()))
    }

    fn specific(&self, v: &RuleViolation) -> Option<String> {
        let path = v.field.as_str();
        match (v.rule, self.record) {
            (Rule::PenaltyRange, Record::Decision(d)) => self.penalty_range(d, path),
            (Rule::Money, Record::Finding(f)) if path == "amount_involved" => {
                self.above_policy_maximum(Field::AmountInvolved, f.amount_involved)
            }
            (Rule::Money, Record::Decision(d)) => self.money(d, path),
            (Rule::HandlingRange, Record::Decision(d)) => self.handling_range(d, path),
            (Rule::Date, Record::InspectionOpened(o)) if path == "opened_on" => {
                self.in_the_future(Field::OpenedOn, o.opened_on)
            }
            (Rule::Date, Record::Decision(d)) if path == "decided_on" => self.decided_on(d),
            (Rule::CrossCounty, Record::InspectionOpened(o)) => self.cross_county(o, path),
            (Rule::Reference, Record::InspectionOpened(o)) if path == "institution.division" => {
                Some(format!(
                    "机构 {} 在本账本中登记的所属区划不是 {}；请按登记的区划填写{}",
                    o.institution.code,
                    o.institution.division,
                    self.header(Field::InstitutionDivision)
                ))
            }
            (Rule::LegalBasis, Record::Finding(f)) => self.legal_basis(f.legal_basis, path),
            (Rule::Text, _) => self.text(path),
            (Rule::SeparationOfDuties, Record::Decision(_)) => Some(
                "违反查办分离：这条违规事实是由 --adjudicator-key 的人员本人记录的，同一人员不能再对它作出处理决定；请换另一名处理人员的密钥"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// `罚款倍数 3 超出第三十八条的政策范围（1–2 倍）` and the other penalty ranges.
    fn penalty_range(&self, d: &Decision, path: &str) -> Option<String> {
        let item = d.items.get(index_in(path, "items")?)?;
        let policy = self.state.policy();
        if path.contains(".damages.") {
            let range = policy.damages;
            return Some(match item.damages.and_then(|p| p.multiple) {
                Some(m) => format!(
                    "{} {m} 超出政策范围（违约金为{}的 {}）",
                    self.header(Field::DamagesMultiple),
                    self.header(Field::Recovered),
                    multiples(range)
                ),
                None => format!(
                    "违约金是{}的倍数（{}）；请填写{}",
                    self.header(Field::Recovered),
                    multiples(range),
                    self.header(Field::DamagesMultiple)
                ),
            });
        }
        let fine = item.fine?;
        let article = self.row.legal_basis.article;
        let cited = article_text(article);
        Some(match (policy.article(article)?.fine, fine.multiple) {
            (FineRule::Multiple(range), Some(m)) => format!(
                "{} {m} 超出{cited}的政策范围（{}）",
                self.header(Field::FineMultiple),
                multiples(range)
            ),
            (FineRule::Multiple(range), None) => format!(
                "{cited}的罚款按倍数计算（{}）；请填写{}",
                multiples(range),
                self.header(Field::FineMultiple)
            ),
            (FineRule::Flat(range), Some(m)) => format!(
                "{cited}的罚款是固定金额（{}），不按倍数计算；请删去{} {m}，在{}中填写金额",
                amounts(range),
                self.header(Field::FineMultiple),
                self.header(Field::Fine)
            ),
            (FineRule::Flat(range), None) => format!(
                "{} {}超出{cited}的政策范围（{}）",
                self.header(Field::Fine),
                format_yuan(fine.amount),
                amounts(range)
            ),
        })
    }

    fn above_policy_maximum(&self, field: Field, amount: Fen) -> Option<String> {
        let max = self.state.policy().max_amount;
        (amount > max).then(|| {
            format!(
                "{} {}超过政策允许的最大金额 {}",
                self.header(field),
                format_yuan(amount),
                format_yuan(max)
            )
        })
    }

    /// An amount of a decision above the finding's amount or the policy's maximum.
    fn money(&self, d: &Decision, path: &str) -> Option<String> {
        let item: &DecisionItem = d.items.get(index_in(path, "items")?)?;
        let (field, amount) = if path.ends_with(".recovered") {
            (Field::Recovered, item.recovered)
        } else if path.ends_with(".damages.basis") {
            (Field::Recovered, item.damages?.basis)
        } else if path.ends_with(".damages.amount") {
            (Field::Damages, item.damages?.amount)
        } else if path.ends_with(".fine.basis") {
            (Field::FineBasis, item.fine?.basis)
        } else if path.ends_with(".fine.amount") {
            (Field::Fine, item.fine?.amount)
        } else {
            return None;
        };
        if let Some(reason) = self.above_policy_maximum(field, amount) {
            return Some(reason);
        }
        let involved = self.row.amount_involved;
        match field {
            Field::Recovered if amount > involved => Some(rows::recovered_exceeds_amount(
                &self.header(Field::Recovered),
                amount,
                &self.header(Field::AmountInvolved),
                involved,
            )),
            Field::FineBasis if amount > involved => Some(format!(
                "{} {}超过{} {}；罚款基数不能多于违规金额",
                self.header(Field::FineBasis),
                format_yuan(amount),
                self.header(Field::AmountInvolved),
                format_yuan(involved)
            )),
            _ => Some(format!(
                "{} 的计算结果超出可以计算的范围",
                self.header(field)
            )),
        }
    }

    /// A suspension or staff points outside the policy's range.
    fn handling_range(&self, d: &Decision, path: &str) -> Option<String> {
        let handling = d.other_handling.get(index_in(path, "other_handling")?)?;
        let policy = self.state.policy();
        let range = match handling {
            Handling::Suspension { .. } => format!(
                "暂停 {}–{} 个月",
                policy.suspension_months.min, policy.suspension_months.max
            ),
            Handling::StaffPoints { .. } => format!("记 1–{} 分", policy.max_staff_points),
            _ => return None,
        };
        Some(format!(
            "{}中的 {:?} 超出政策范围（{range}）",
            self.header(Field::Handling),
            handling.chinese()
        ))
    }

    /// `检查日期 2099-07-01 晚于今天（2026-01-01）……`.
    fn in_the_future(&self, field: Field, date: Date) -> Option<String> {
        let today = self.today.filter(|today| date > *today)?;
        Some(format!(
            "{} {date} 晚于今天（{today}）；日期不能在将来",
            self.header(field)
        ))
    }

    /// A decision dated in the future or before its case was opened.
    fn decided_on(&self, d: &Decision) -> Option<String> {
        if let Some(reason) = self.in_the_future(Field::DecidedOn, d.decided_on) {
            return Some(reason);
        }
        let opened = self
            .state
            .case_opened_on(d.case_id.as_str())
            .unwrap_or(self.row.opened_on);
        if d.decided_on >= opened {
            return None;
        }
        let (decided_header, opened_header) =
            (self.header(Field::DecidedOn), self.header(Field::OpenedOn));
        Some(if opened == self.row.opened_on {
            rows::decided_before_opened(&decided_header, d.decided_on, &opened_header, opened)
        } else {
            // The case was opened by an earlier import, on another day than this row says.
            format!(
                "{decided_header} {} 早于该案件在账本中的{opened_header} {opened}（本行写的是 {}）",
                d.decided_on, self.row.opened_on
            )
        })
    }

    /// An inspection that crosses divisions without the right inspection type.
    fn cross_county(&self, o: &InspectionOpened, path: &str) -> Option<String> {
        let own = self.state.division();
        let division = o.institution.division;
        let division_header = self.header(Field::InstitutionDivision);
        match path {
            "inspection_type" if division != own => Some(format!(
                "{}是{}，但机构的{division_header} {division} 不是本局的区划 {own}；检查其他区划的机构须为交叉检查、市级直查或飞行检查",
                self.header(Field::InspectionType),
                inspection_type_label(o.inspection_type)
            )),
            "inspection_type" => Some(format!(
                "交叉检查（县区互查）查的是其他县区的机构，但本行机构的{division_header}是本局的 {own}；请填写机构的{division_header}，或改用其他检查类型"
            )),
            "institution.division" => Some(format!(
                "市级直查只查本市（{}）的机构，{division_header} {division} 不在本市",
                own.city()
            )),
            _ => None,
        }
    }

    /// An article or item the policy does not know.
    fn legal_basis(&self, basis: LegalBasis, path: &str) -> Option<String> {
        let policy = self.state.policy();
        match (path, basis.item) {
            ("legal_basis.article", _) => {
                let known: Vec<String> = policy
                    .articles
                    .iter()
                    .map(|a| article_text(a.article))
                    .collect();
                Some(format!(
                    "{} 不是政策中的条款（可用的条款：{}）",
                    article_text(basis.article),
                    known.join("、")
                ))
            }
            ("legal_basis.item", Some(item)) => {
                let items = policy.article(basis.article)?.items;
                Some(format!(
                    "{}没有第{}项（该条共 {items} 项）",
                    article_text(basis.article),
                    chinese_number(item)
                ))
            }
            _ => None,
        }
    }

    /// A text that is empty, too long or holds control characters, recomputed from the
    /// record's value so the sentence can say which.
    fn text(&self, path: &str) -> Option<String> {
        let (value, limit, multiline) = match (self.record, path) {
            (Record::InspectionOpened(o), "institution.name") => {
                (o.institution.name.as_str(), MAX_NAME_CHARS, false)
            }
            (Record::InspectionOpened(o), "inspecting_body") => {
                (o.inspecting_body.as_str(), MAX_NAME_CHARS, false)
            }
            (Record::InspectionOpened(o), "period_covered") => {
                (o.period_covered.as_deref()?, MAX_SHORT_CHARS, false)
            }
            (Record::InspectionOpened(o), "basis") => (o.basis.as_deref()?, MAX_REASON_CHARS, true),
            (Record::Finding(f), "pattern.other") => match &f.pattern {
                Pattern::Other(text) => (text.as_str(), MAX_SHORT_CHARS, false),
                _ => return None,
            },
            (Record::Finding(f), "facts") => (f.facts.as_str(), MAX_FACTS_CHARS, true),
            (Record::RectificationItem(r), "problem") => {
                (r.problem.as_str(), MAX_REASON_CHARS, true)
            }
            _ => return None,
        };
        let field = rows::field_of_violation(self.record.kind(), path)?;
        let header = self.header(field);
        let allowed = |c: char| multiline && matches!(c, '\n' | '\t');
        if let Some(c) = value.chars().find(|c| c.is_control() && !allowed(*c)) {
            return Some(if c == '\n' {
                format!("{header}中有换行；这一列只能写一行，请删去换行")
            } else {
                format!(
                    "{header}中有看不见的控制字符 U+{:04X}；请删去",
                    u32::from(c)
                )
            });
        }
        let direction = |c: &char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if let Some(c) = value.chars().find(direction) {
            return Some(format!(
                "{header}中有看不见的文字方向控制字符 U+{:04X}；请删去",
                u32::from(c)
            ));
        }
        if value.trim().is_empty() {
            return Some(format!("{header}不能为空"));
        }
        let chars = value.chars().count();
        (chars > limit).then(|| format!("{header}有 {chars} 个字，最多只能写 {limit} 个"))
    }
}

/// The same row twice in one file.
pub fn same_row(first_row: usize) -> String {
    format!("与第 {first_row} 行是同一行；台账的一行只能导入一次")
}

/// Two rows of one case (same 案件编号 and institution) that open it differently: the
/// column to blame (the first that differs) and the reason, naming every difference with
/// both rows' values.
pub fn case_opened_differently(
    headers: &Headers,
    case_no: &str,
    first_row: usize,
    first: &Record,
    this: &Record,
) -> (String, String) {
    let rule = "同一案件编号的各行，检查类型、检查日期、机构名称、所属区划、检查机构、检查期间和线索来源须一致";
    let case_header = header(headers, Field::CaseNo);
    let (Record::InspectionOpened(a), Record::InspectionOpened(b)) = (first, this) else {
        return (
            case_header.clone(),
            format!("{case_header} {case_no:?} 已在第 {first_row} 行立案，本行的立案信息与之不同；{rule}"),
        );
    };
    let text = |t: &Option<String>| {
        t.as_deref()
            .map_or("（空）".to_string(), |t| format!("{t:?}"))
    };
    let mut differences: Vec<(Field, String, String)> = Vec::new();
    let mut differ = |field: Field, this: String, first: String| {
        if this != first {
            differences.push((field, this, first));
        }
    };
    differ(
        Field::InspectionType,
        inspection_type_label(b.inspection_type).to_string(),
        inspection_type_label(a.inspection_type).to_string(),
    );
    differ(
        Field::OpenedOn,
        b.opened_on.to_string(),
        a.opened_on.to_string(),
    );
    differ(
        Field::InstitutionName,
        format!("{:?}", b.institution.name),
        format!("{:?}", a.institution.name),
    );
    differ(
        Field::InstitutionDivision,
        b.institution.division.to_string(),
        a.institution.division.to_string(),
    );
    differ(
        Field::InspectingBody,
        format!("{:?}", b.inspecting_body),
        format!("{:?}", a.inspecting_body),
    );
    differ(
        Field::PeriodCovered,
        text(&b.period_covered),
        text(&a.period_covered),
    );
    differ(Field::Basis, text(&b.basis), text(&a.basis));
    let column = differences
        .first()
        .map_or(case_header.clone(), |(field, ..)| header(headers, *field));
    let listed: Vec<String> = differences
        .iter()
        .map(|(field, this, first)| {
            format!(
                "{}（本行 {this}，第 {first_row} 行 {first}）",
                header(headers, *field)
            )
        })
        .collect();
    (
        column,
        format!(
            "{case_header} {case_no:?} 已在第 {first_row} 行立案，本行的{}与之不同；{rule}",
            listed.join("、")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use yibao_schema::policy::Policy;
    use yibao_schema::record::{
        CaseId, DecisionId, DivisionCode, FindingId, InspectionType, InstitutionCode,
        InstitutionRef, Multiple, Penalty, SuspensionScope, Totals,
    };

    fn date(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn row() -> ParsedRow {
        ParsedRow {
            institution_code: InstitutionCode::parse("H14112500107").unwrap(),
            institution_name: "柳林县第七诊所".into(),
            institution_division: DivisionCode::parse("141125").unwrap(),
            case_no: Some("LL-020".into()),
            inspection_type: InspectionType::Daily,
            opened_on: date("2021-06-01"),
            period_covered: None,
            inspecting_body: "柳林县医疗保障局".into(),
            basis: None,
            violation_label: "分解住院".into(),
            pattern: Pattern::SplitHospitalisation,
            legal_basis: LegalBasis {
                article: 38,
                item: Some(1),
            },
            facts: "事实".into(),
            amount_involved: Fen::from_yuan(5_000).unwrap(),
            decision: None,
            rectification: None,
        }
    }

    fn decision(item: DecisionItem, other_handling: Vec<Handling>) -> Record {
        Record::Decision(Decision {
            case_id: CaseId::parse("IMP-141125-0000000000000001").unwrap(),
            decision_id: DecisionId::parse("IMP-141125-0000000000000001-D000000000001").unwrap(),
            decided_on: date("2021-07-01"),
            items: vec![item],
            other_handling,
            settlement_month: None,
            totals: Totals {
                recovered: Fen::ZERO,
                damages: Fen::ZERO,
                fines: Fen::ZERO,
                total: Fen::ZERO,
            },
        })
    }

    fn item(recovered: Fen) -> DecisionItem {
        DecisionItem {
            finding_id: FindingId::parse("IMP-141125-0000000000000001-F000000000001").unwrap(),
            recovered,
            damages: None,
            fine: None,
        }
    }

    fn headers() -> Headers {
        [
            (Field::AmountInvolved, "违规金额（元）"),
            (Field::Recovered, "追回金额"),
            (Field::FineMultiple, "罚款倍数"),
            (Field::DecidedOn, "处理日期"),
            (Field::OpenedOn, "检查日期"),
            (Field::Handling, "处理结果"),
        ]
        .into_iter()
        .map(|(f, h)| (f, h.to_string()))
        .collect()
    }

    fn explain(record: &Record, violation: RuleViolation) -> (String, String) {
        let state = LogState::new(DivisionCode::parse("141125").unwrap(), Policy::default());
        let (row, headers) = (row(), headers());
        let refusal = Refusal {
            row: &row,
            record,
            headers: &headers,
            state: &state,
            today: Some(date("2026-01-01")),
        };
        (refusal.column(&violation), refusal.reason(&violation))
    }

    #[test]
    fn a_fine_multiple_out_of_range_names_the_article_and_its_range() {
        let mut with_fine = item(Fen::from_yuan(5_000).unwrap());
        with_fine.fine = Some(Penalty {
            basis: Fen::from_yuan(5_000).unwrap(),
            multiple: Some(Multiple::whole(3)),
            amount: Fen::from_yuan(15_000).unwrap(),
        });
        let record = decision(with_fine, Vec::new());
        let violation = RuleViolation::new(
            Rule::PenaltyRange,
            "items[0].fine.multiple",
            "3× is outside the 1×–2× range for Art. 38",
        );
        assert_eq!(
            explain(&record, violation),
            (
                "罚款倍数".to_string(),
                "罚款倍数 3 超出第三十八条的政策范围（1–2 倍）".to_string()
            )
        );
    }

    #[test]
    fn recovered_above_the_amount_involved() {
        let record = decision(item(Fen::from_yuan(6_000).unwrap()), Vec::new());
        let violation = RuleViolation::new(
            Rule::Money,
            "items[0].recovered",
            "6,000.00 yuan is more than the finding's amount involved, 5,000.00 yuan",
        );
        assert_eq!(
            explain(&record, violation),
            (
                "追回金额".to_string(),
                "追回金额 6,000 元超过违规金额（元） 5,000 元；追回的不能多于违规的金额"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_decision_before_its_case_or_in_the_future() {
        let record = decision(item(Fen::ZERO), Vec::new());
        let Record::Decision(mut early) = record.clone() else {
            unreachable!()
        };
        early.decided_on = date("2021-05-01");
        let violation = RuleViolation::new(
            Rule::Date,
            "decided_on",
            "2021-05-01 is before the case was opened on 2021-06-01",
        );
        assert_eq!(
            explain(&Record::Decision(early.clone()), violation.clone()),
            (
                "处理日期".to_string(),
                "处理日期 2021-05-01 早于检查日期 2021-06-01".to_string()
            )
        );
        early.decided_on = date("2099-07-01");
        assert_eq!(
            explain(&Record::Decision(early), violation).1,
            "处理日期 2099-07-01 晚于今天（2026-01-01）；日期不能在将来"
        );
    }

    #[test]
    fn a_suspension_outside_the_policy_months() {
        let record = decision(
            item(Fen::ZERO),
            vec![Handling::Suspension {
                scope: SuspensionScope::NetworkedSettlement,
                months: 3,
            }],
        );
        let violation = RuleViolation::new(
            Rule::HandlingRange,
            "other_handling[0].months",
            "a suspension of 3 months is outside the 6–12 month range",
        );
        assert_eq!(
            explain(&record, violation),
            (
                "处理结果".to_string(),
                "处理结果中的 \"暂停医保联网结算3个月\" 超出政策范围（暂停 6–12 个月）".to_string()
            )
        );
    }

    #[test]
    fn an_unknown_item_and_a_newline_in_a_name() {
        let finding = Record::Finding(yibao_schema::record::Finding {
            case_id: CaseId::parse("IMP-141125-0000000000000001").unwrap(),
            finding_id: FindingId::parse("IMP-141125-0000000000000001-F000000000001").unwrap(),
            legal_basis: LegalBasis {
                article: 38,
                item: Some(9),
            },
            pattern: Pattern::SplitHospitalisation,
            facts: "事实".into(),
            amount_involved: Fen::from_yuan(5_000).unwrap(),
            evidence: Vec::new(),
        });
        let violation = RuleViolation::new(
            Rule::LegalBasis,
            "legal_basis.item",
            "item 9 does not exist: Art. 38 has items 1–7",
        );
        // The file has no 违规条款 column: the article came from the violation type.
        assert_eq!(
            explain(&finding, violation),
            (
                "违规类型".to_string(),
                "第三十八条没有第九项（该条共 7 项）".to_string()
            )
        );
        let opening = Record::InspectionOpened(InspectionOpened {
            case_id: CaseId::parse("IMP-141125-0000000000000001").unwrap(),
            inspection_type: InspectionType::Daily,
            institution: InstitutionRef {
                code: InstitutionCode::parse("H14112500107").unwrap(),
                name: "柳林县\n第七诊所".into(),
                division: DivisionCode::parse("141125").unwrap(),
            },
            inspecting_body: "柳林县医疗保障局".into(),
            opened_on: date("2021-06-01"),
            period_covered: None,
            basis: None,
        });
        let violation = RuleViolation::new(
            Rule::Text,
            "institution.name",
            "contains the control character U+000A",
        );
        assert_eq!(
            explain(&opening, violation).1,
            "机构名称中有换行；这一列只能写一行，请删去换行"
        );
    }

    #[test]
    fn an_amount_above_the_policy_maximum() {
        let finding = Record::Finding(yibao_schema::record::Finding {
            case_id: CaseId::parse("IMP-141125-0000000000000001").unwrap(),
            finding_id: FindingId::parse("IMP-141125-0000000000000001-F000000000001").unwrap(),
            legal_basis: LegalBasis {
                article: 38,
                item: Some(1),
            },
            pattern: Pattern::SplitHospitalisation,
            facts: "事实".into(),
            amount_involved: Fen::from_yuan(20_000_000_000).unwrap(),
            evidence: Vec::new(),
        });
        let violation = RuleViolation::new(
            Rule::Money,
            "amount_involved",
            "20,000,000,000.00 yuan is above the policy maximum of 10,000,000,000.00 yuan",
        );
        assert_eq!(
            explain(&finding, violation),
            (
                "违规金额（元）".to_string(),
                "违规金额（元） 20,000,000,000 元超过政策允许的最大金额 10,000,000,000 元"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_rule_without_a_sentence_of_its_own_keeps_the_english_detail() {
        let record = decision(item(Fen::ZERO), Vec::new());
        let violation = RuleViolation::new(
            Rule::Arithmetic,
            "totals.total",
            "is 1.00 yuan, but the items sum to 0.00 yuan",
        );
        let (column, reason) = explain(&record, violation);
        assert_eq!(column, "-");
        assert_eq!(
            reason,
            "金额计算不一致（`totals.total`: is 1.00 yuan, but the items sum to 0.00 yuan (rule: arithmetic)）"
        );
    }
}
