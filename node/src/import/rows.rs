//! One ledger row → its fields (`parse_row`, every bad column reported) → its records
//! (`RowRecords`), with stable identifiers derived from the row's content, so that
//! importing the same file twice gives the same records.
//!
//! Identifiers (documented in docs/IMPORT.md):
//! - case: `IMP-<division>-<16 hex>`, the hex from BLAKE3 over the log's division, the
//!   institution code and the case key — the 案件编号 when the file has one (rows with the
//!   same number are findings of one case), otherwise the row's content;
//! - finding `<case>-F<12 hex>`, decision `<case>-D<12 hex>`, rectification item
//!   `<case>-R<12 hex>`, the hex from BLAKE3 over the row's parsed content (so `111,843.00`
//!   and `111843` are the same row).
//!
//! Pure: no I/O, no clock, no keys. Not here: whether the records pass the domain rules
//! (the log state decides, in `import`).

use serde::Serialize;
use yibao_schema::policy::{FineRule, Policy};
use yibao_schema::record::{
    CaseId, Date, Decision, DecisionId, DecisionItem, DivisionCode, Fen, Finding, FindingId,
    Handling, InspectionOpened, InspectionType, InstitutionCode, InstitutionRef, ItemId,
    LegalBasis, Month, Multiple, Pattern, Penalty, Record, RectificationItem, Totals,
};
use yibao_schema::rules::penalty_amount;

use super::mapping::{Field, HandlingLabel, Mapping};
use super::values::{self, Cell};

/// A problem with one row: its number in the file (the header is row 1), the column's
/// header as written in the file (the field's Chinese label when the file has no such
/// column, `-` when no column is to blame), and why, in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row number as a spreadsheet shows it (the header row is 1).
    pub row: usize,
    /// The column's header, a field's label, or `-`.
    pub column: String,
    /// Why the row is refused.
    pub reason: String,
}

/// The fields of one row, parsed. Serialized (as JSON) to derive the row's identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedRow {
    /// The institution.
    pub institution_code: InstitutionCode,
    /// Its name.
    pub institution_name: String,
    /// Its division (the log's own unless given).
    pub institution_division: DivisionCode,
    /// The bureau's case number, if the file has one.
    pub case_no: Option<String>,
    /// The inspection type.
    pub inspection_type: InspectionType,
    /// The day the case was opened.
    pub opened_on: Date,
    /// 检查期间.
    pub period_covered: Option<String>,
    /// 检查机构 (the bureau's name unless given).
    pub inspecting_body: String,
    /// 线索来源.
    pub basis: Option<String>,
    /// The violation label as written.
    pub violation_label: String,
    /// Its pattern.
    pub pattern: Pattern,
    /// Its legal basis.
    pub legal_basis: LegalBasis,
    /// 违规事实 (generated from the label and amount unless given).
    pub facts: String,
    /// 违规金额.
    pub amount_involved: Fen,
    /// The decision, if the row has handling.
    pub decision: Option<ParsedDecision>,
    /// The rectification item, if the row has a deadline.
    pub rectification: Option<(Date, String)>,
}

/// The handling of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedDecision {
    /// 处理日期.
    pub decided_on: Date,
    /// 追回金额 (0 when empty).
    pub recovered: Fen,
    /// 违约金.
    pub damages: Option<Penalty>,
    /// 罚款.
    pub fine: Option<Penalty>,
    /// Other handling.
    pub other_handling: Vec<Handling>,
    /// 扣款月份.
    pub settlement_month: Option<Month>,
}

/// What a row is read with: the mapping, the log's division, the default inspecting body
/// and the policy (for the fine rule of an article).
#[derive(Debug, Clone)]
pub struct RowContext<'a> {
    /// The mapping.
    pub mapping: &'a Mapping,
    /// The log's division.
    pub division: DivisionCode,
    /// The bureau's name, the default 检查机构.
    pub bureau_name: &'a str,
    /// The policy.
    pub policy: &'a Policy,
}

/// The cells of one row by field, with the headers for error messages.
pub struct RowCells<'a> {
    /// The row number (the header is row 1).
    pub row: usize,
    /// The file's headers.
    pub headers: &'a [String],
    /// Which field each column holds.
    pub columns: &'a [Option<Field>],
    /// The row's cells (possibly fewer than the headers).
    pub cells: &'a [Cell],
}

impl RowCells<'_> {
    fn index(&self, field: Field) -> Option<usize> {
        self.columns.iter().position(|c| *c == Some(field))
    }

    /// The cell of a field, if the file has the column and the cell is not empty.
    fn get(&self, field: Field) -> Option<&Cell> {
        let i = self.index(field)?;
        self.cells.get(i).filter(|c| !c.is_empty())
    }

    /// The header of a field's column as the file writes it, or the field's label
    /// (`罚款基数`) when the file has no such column.
    pub fn header(&self, field: Field) -> String {
        self.index(field)
            .and_then(|i| self.headers.get(i))
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .unwrap_or_else(|| field.label().to_string())
    }

    /// Whether every cell of the row is empty.
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_empty)
    }
}

/// Collects the errors of one row.
struct Errors<'a, 'b> {
    cells: &'b RowCells<'a>,
    list: Vec<RowError>,
}

impl Errors<'_, '_> {
    fn add(&mut self, field: Field, reason: impl Into<String>) {
        self.list.push(RowError {
            row: self.cells.row,
            column: self.cells.header(field),
            reason: reason.into(),
        });
    }

    /// Parses a field's cell with `parse`; `None` when empty (an error when required).
    fn field<T>(
        &mut self,
        field: Field,
        required: bool,
        parse: impl FnOnce(&Cell) -> Result<T, String>,
    ) -> Option<T> {
        match self.cells.get(field) {
            None => {
                if required {
                    self.add(field, "必填，不能为空");
                }
                None
            }
            Some(cell) => match parse(cell) {
                Ok(value) => Some(value),
                Err(reason) => {
                    self.add(field, reason);
                    None
                }
            },
        }
    }

    fn text(&mut self, field: Field) -> Option<String> {
        self.field(field, false, |c| Ok(c.text()))
    }
}

/// Parses a legal basis such as `第三十八条第一项`, `38(1)`, `第38条`, `条例第四十条`.
pub fn parse_legal_basis(text: &str) -> Result<LegalBasis, String> {
    let t = values::normalize(text).replace(' ', "");
    let shape = || format!("{text:?} 不是《条例》的条款（请写 第三十八条第一项 或 38(1)）");
    let number = |s: &str| -> Option<u8> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok();
        }
        chinese_number(s)
    };
    // 38(1) / 38
    if let Some(open) = t.find('(') {
        let article = number(&t[..open]).ok_or_else(shape)?;
        let item = t[open + 1..].trim_end_matches(')');
        return Ok(LegalBasis {
            article,
            item: Some(number(item).ok_or_else(shape)?),
        });
    }
    if let Some(article) = number(&t) {
        return Ok(LegalBasis {
            article,
            item: None,
        });
    }
    // …第X条[第Y项]: from the first 第 on.
    let Some((_, from)) = t.split_once('第') else {
        return Err(shape());
    };
    let (article_text, rest) = from.split_once('条').unwrap_or((from, ""));
    let article = number(article_text).ok_or_else(shape)?;
    let item = if rest.is_empty() {
        None
    } else {
        let item_text = rest
            .trim_start_matches('第')
            .trim_end_matches('项')
            .trim_end_matches('款');
        Some(number(item_text).ok_or_else(shape)?)
    };
    Ok(LegalBasis { article, item })
}

/// 一 … 九十九 as a number.
fn chinese_number(s: &str) -> Option<u8> {
    let digit = |c: char| "零一二三四五六七八九".chars().position(|d| d == c);
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        ['十'] => Some(10),
        [d] => digit(*d).map(|v| v as u8),
        ['十', u] => digit(*u).map(|v| 10 + v as u8),
        [t, '十'] => digit(*t).map(|v| 10 * v as u8),
        [t, '十', u] => Some(10 * digit(*t)? as u8 + digit(*u)? as u8),
        _ => None,
    }
}

/// Why a penalty's columns (amount, multiple, basis) do not agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PenaltyError {
    /// basis × multiple does not fit in fen.
    Overflow { basis: Fen, multiple: Multiple },
    /// The stated amount is not basis × multiple.
    Mismatch {
        stated: Fen,
        basis: Fen,
        multiple: Multiple,
        computed: Fen,
    },
    /// An amount without a multiple, on a basis of zero.
    ZeroBasis { stated: Fen },
    /// An amount without a multiple that no multiple (to 0.001) of the basis gives.
    NotExact { stated: Fen, basis: Fen },
}

/// The headers a penalty's message names: its amount, its multiple and its basis columns.
struct PenaltyColumns {
    amount: String,
    multiple: String,
    basis: String,
}

impl PenaltyError {
    /// The Chinese reason, naming the columns as the file writes them.
    fn reason(self, columns: &PenaltyColumns) -> String {
        let PenaltyColumns {
            amount,
            multiple,
            basis,
        } = columns;
        let yuan = values::format_yuan;
        match self {
            PenaltyError::Overflow {
                basis: b,
                multiple: m,
            } => format!("{basis} {} × {m} 超出可以计算的范围", yuan(b)),
            PenaltyError::Mismatch {
                stated,
                basis: b,
                multiple: m,
                computed,
            } => format!(
                "{amount} {}不等于{basis} {} × {m} = {}（四舍五入到分）；请改正{amount}或{multiple}",
                yuan(stated),
                yuan(b),
                yuan(computed)
            ),
            PenaltyError::ZeroBasis { stated } => format!(
                "{basis}为 0 或未填，{amount} {}无法按{basis}的倍数计算；请填写{basis}和{multiple}",
                yuan(stated)
            ),
            PenaltyError::NotExact { stated, basis: b } => format!(
                "{amount} {}不能由{basis} {}乘以倍数得出（倍数最多三位小数）；请填写{multiple}",
                yuan(stated),
                yuan(b)
            ),
        }
    }
}

/// The penalty for `basis` with an optional multiple and an optional stated amount: the
/// amount is computed from the multiple (and must agree with a stated one); without a
/// multiple, it is derived from the stated amount when exact.
fn penalty(
    basis: Fen,
    multiple: Option<Multiple>,
    stated: Option<Fen>,
) -> Result<Option<Penalty>, PenaltyError> {
    match (multiple, stated) {
        (None, None) => Ok(None),
        (Some(m), stated) => {
            let amount =
                penalty_amount(basis, m).ok_or(PenaltyError::Overflow { basis, multiple: m })?;
            if let Some(stated) = stated {
                if stated != amount {
                    return Err(PenaltyError::Mismatch {
                        stated,
                        basis,
                        multiple: m,
                        computed: amount,
                    });
                }
            }
            Ok(Some(Penalty {
                basis,
                multiple: Some(m),
                amount,
            }))
        }
        (None, Some(amount)) => {
            if basis == Fen::ZERO {
                return Err(PenaltyError::ZeroBasis { stated: amount });
            }
            let not_exact = PenaltyError::NotExact {
                stated: amount,
                basis,
            };
            let thousandths = (u128::from(amount.get()) * 1000 + u128::from(basis.get()) / 2)
                / u128::from(basis.get());
            let m = u32::try_from(thousandths)
                .map(Multiple::from_thousandths)
                .map_err(|_| not_exact)?;
            if penalty_amount(basis, m) != Some(amount) {
                return Err(not_exact);
            }
            Ok(Some(Penalty {
                basis,
                multiple: Some(m),
                amount,
            }))
        }
    }
}

/// Splits 处理结果 text into handling items.
fn parse_handling(text: &str, mapping: &Mapping) -> Result<Vec<Handling>, String> {
    let mut out: Vec<Handling> = Vec::new();
    let separators = [
        '、', '，', ',', '；', ';', '/', '；', '。', '\n', ' ', '+', '＋',
    ];
    for token in values::normalize(text)
        .split(|c| separators.contains(&c))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let Some(label) = mapping.handling(token) else {
            return Err(format!(
                "{token:?} 不是已知的处理方式；可填：{}（映射文件可以增加标签）",
                mapping.handling_labels()
            ));
        };
        let number = || {
            values::first_number(token)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| {
                    format!("{token:?} 缺少月数或分数：请写明数字，如 暂停联网结算6个月、记9分")
                })
        };
        let handling = match label {
            HandlingLabel::Money => continue,
            HandlingLabel::OrderToCorrect => Handling::OrderToCorrect,
            HandlingLabel::Summons => Handling::Summons,
            HandlingLabel::AgreementTermination => Handling::AgreementTermination,
            HandlingLabel::StaffPoints => Handling::StaffPoints { points: number()? },
            HandlingLabel::SuspensionDepartment | HandlingLabel::SuspensionNetworkedSettlement => {
                Handling::Suspension {
                    scope: label
                        .suspension_scope()
                        .ok_or_else(|| format!("{token:?} 不是暂停的处理方式"))?,
                    months: number()?,
                }
            }
            HandlingLabel::ReferralPolice
            | HandlingLabel::ReferralHealthCommission
            | HandlingLabel::ReferralDisciplineInspection => Handling::Referral {
                to: label
                    .referral()
                    .ok_or_else(|| format!("{token:?} 没有写明移交给哪个部门"))?,
            },
        };
        if !out.contains(&handling) {
            out.push(handling);
        }
    }
    Ok(out)
}

/// Parses one row. Every bad column is reported, not only the first.
pub fn parse_row(cells: &RowCells<'_>, ctx: &RowContext<'_>) -> Result<ParsedRow, Vec<RowError>> {
    let mut e = Errors {
        cells,
        list: Vec::new(),
    };
    let mapping = ctx.mapping;
    let institution_name = e.field(Field::InstitutionName, true, |c| Ok(c.text()));
    let institution_code = e.field(Field::InstitutionCode, true, values::parse_institution_code);
    let institution_division = e
        .field(Field::InstitutionDivision, false, values::parse_division)
        .unwrap_or(ctx.division);
    let case_no = e.text(Field::CaseNo);
    let inspection_type = e.field(Field::InspectionType, true, |c| {
        mapping.inspection_type(&c.text())
    });
    let opened_on = e.field(Field::OpenedOn, true, values::parse_date);
    let period_covered = e.text(Field::PeriodCovered);
    let inspecting_body = e
        .text(Field::InspectingBody)
        .unwrap_or_else(|| ctx.bureau_name.to_string());
    let basis = e.text(Field::Basis);
    let violation_label = e.field(Field::ViolationType, true, |c| Ok(c.text()));
    let violation =
        violation_label
            .as_deref()
            .and_then(|label| match mapping.violation_type(label) {
                Ok(v) => Some(v),
                Err(reason) => {
                    e.add(Field::ViolationType, reason);
                    None
                }
            });
    let legal_basis_override = e.field(Field::LegalBasis, false, |c| parse_legal_basis(&c.text()));
    let amount_involved = e.field(Field::AmountInvolved, true, values::parse_yuan);
    let facts = e.text(Field::Facts);

    // Handling.
    let recovered = e.field(Field::Recovered, false, values::parse_yuan);
    let damages_multiple = e.field(Field::DamagesMultiple, false, values::parse_multiple);
    let damages_stated = e.field(Field::Damages, false, values::parse_yuan);
    let fine_multiple = e.field(Field::FineMultiple, false, values::parse_multiple);
    let fine_basis = e.field(Field::FineBasis, false, values::parse_yuan);
    let fine_stated = e.field(Field::Fine, false, values::parse_yuan);
    let other_handling = e
        .field(Field::Handling, false, |c| {
            parse_handling(&c.text(), mapping)
        })
        .unwrap_or_default();
    let handling_cells: Vec<String> = [
        Field::Recovered,
        Field::DamagesMultiple,
        Field::Damages,
        Field::FineMultiple,
        Field::FineBasis,
        Field::Fine,
        Field::Handling,
        Field::SettlementMonth,
    ]
    .into_iter()
    .filter(|f| cells.get(*f).is_some())
    .map(|f| cells.header(f))
    .collect();
    let decided_on = e.field(Field::DecidedOn, false, values::parse_date);
    let settlement_month = e.field(Field::SettlementMonth, false, values::parse_month);
    let deadline = e.field(Field::Deadline, false, values::parse_date);
    let problem = e.text(Field::Problem);

    if !handling_cells.is_empty() && decided_on.is_none() && cells.get(Field::DecidedOn).is_none() {
        e.add(
            Field::DecidedOn,
            format!(
                "为空，但本行填写了{}，是一项处理决定；请填写作出处理决定的日期",
                handling_cells.join("、")
            ),
        );
    }
    let legal_basis = legal_basis_override.or_else(|| violation.as_ref().map(|v| v.legal_basis));

    if let (Some(amount), Some(recovered)) = (amount_involved, recovered) {
        if recovered > amount {
            e.add(
                Field::Recovered,
                recovered_exceeds_amount(
                    &cells.header(Field::Recovered),
                    recovered,
                    &cells.header(Field::AmountInvolved),
                    amount,
                ),
            );
        }
    }
    let recovered_or_zero = recovered.unwrap_or(Fen::ZERO);
    let damages = match penalty(recovered_or_zero, damages_multiple, damages_stated) {
        Ok(p) => p,
        Err(error) => {
            let field = if damages_stated.is_some() {
                Field::Damages
            } else {
                Field::DamagesMultiple
            };
            let columns = PenaltyColumns {
                amount: cells.header(Field::Damages),
                multiple: cells.header(Field::DamagesMultiple),
                basis: cells.header(Field::Recovered),
            };
            e.add(field, error.reason(&columns));
            None
        }
    };
    let flat_fine = legal_basis
        .and_then(|b| ctx.policy.article(b.article))
        .is_some_and(|a| matches!(a.fine, FineRule::Flat(_)));
    let fine = if flat_fine && fine_multiple.is_none() {
        fine_stated.map(|amount| Penalty {
            basis: amount,
            multiple: None,
            amount,
        })
    } else {
        let basis = fine_basis.or(amount_involved).unwrap_or(Fen::ZERO);
        match penalty(basis, fine_multiple, fine_stated) {
            Ok(p) => p,
            Err(error) => {
                let field = if fine_stated.is_some() {
                    Field::Fine
                } else {
                    Field::FineMultiple
                };
                let basis_field = if fine_basis.is_some() {
                    Field::FineBasis
                } else {
                    Field::AmountInvolved
                };
                let columns = PenaltyColumns {
                    amount: cells.header(Field::Fine),
                    multiple: cells.header(Field::FineMultiple),
                    basis: cells.header(basis_field),
                };
                e.add(field, error.reason(&columns));
                None
            }
        }
    };
    if let (Some(opened), Some(decided)) = (opened_on, decided_on) {
        if decided < opened {
            e.add(
                Field::DecidedOn,
                decided_before_opened(
                    &cells.header(Field::DecidedOn),
                    decided,
                    &cells.header(Field::OpenedOn),
                    opened,
                ),
            );
        }
    }

    if !e.list.is_empty() {
        return Err(e.list);
    }
    // INVARIANT: every required field either parsed or added an error above.
    let (
        Some(institution_name),
        Some(institution_code),
        Some(inspection_type),
        Some(opened_on),
        Some(violation_label),
        Some(violation),
        Some(legal_basis),
        Some(amount_involved),
    ) = (
        institution_name,
        institution_code,
        inspection_type,
        opened_on,
        violation_label,
        violation,
        legal_basis,
        amount_involved,
    )
    else {
        return Err(vec![RowError {
            row: cells.row,
            column: "-".into(),
            reason: "缺少必填的内容".into(),
        }]);
    };
    let facts = facts.unwrap_or_else(|| {
        format!(
            "{institution_name}存在{violation_label}问题，涉及医保基金{}元。",
            yuan_text(amount_involved)
        )
    });
    let decision = decided_on.map(|decided_on| ParsedDecision {
        decided_on,
        recovered: recovered_or_zero,
        damages,
        fine,
        other_handling,
        settlement_month,
    });
    let rectification = deadline.map(|deadline| {
        let problem = problem.unwrap_or_else(|| format!("整改{violation_label}问题"));
        (deadline, problem)
    });
    Ok(ParsedRow {
        institution_code,
        institution_name,
        institution_division,
        case_no,
        inspection_type,
        opened_on,
        period_covered,
        inspecting_body,
        basis,
        violation_label,
        pattern: violation.pattern,
        legal_basis,
        facts,
        amount_involved,
        decision,
        rectification,
    })
}

/// `追回金额 6,000 元超过违规金额 5,000 元……`: the reason for a recovered amount above the
/// amount involved, from the row's check and from the log's (`money`) alike.
pub fn recovered_exceeds_amount(
    recovered_header: &str,
    recovered: Fen,
    amount_header: &str,
    amount: Fen,
) -> String {
    format!(
        "{recovered_header} {}超过{amount_header} {}；追回的不能多于违规的金额",
        values::format_yuan(recovered),
        values::format_yuan(amount)
    )
}

/// `处理日期 2021-05-01 早于检查日期 2021-06-30`: the reason for a decision dated before
/// its case was opened, from the row's check and from the log's (`date`) alike.
pub fn decided_before_opened(
    decided_header: &str,
    decided: Date,
    opened_header: &str,
    opened: Date,
) -> String {
    format!("{decided_header} {decided} 早于{opened_header} {opened}")
}

/// `111843.5` style yuan text (no grouping) for generated facts.
fn yuan_text(fen: Fen) -> String {
    let (yuan, rest) = (fen.get() / 100, fen.get() % 100);
    if rest == 0 {
        yuan.to_string()
    } else {
        format!("{yuan}.{rest:02}")
    }
}

/// The records of one row, in the order they are appended.
#[derive(Debug, Clone)]
pub struct RowRecords {
    /// The case's opening (skipped when the case exists already).
    pub opening: Record,
    /// The finding.
    pub finding: Record,
    /// The decision, if the row has handling.
    pub decision: Option<Record>,
    /// The rectification item, if the row has a deadline.
    pub rectification: Option<Record>,
    /// The case id.
    pub case_id: CaseId,
    /// The finding id.
    pub finding_id: FindingId,
    /// The decision id, if any.
    pub decision_id: Option<DecisionId>,
    /// The item id, if any.
    pub item_id: Option<ItemId>,
}

fn hex_of(hash: &blake3::Hash, chars: usize) -> String {
    let hex = hash.to_hex();
    hex.as_str()
        .get(..chars)
        .unwrap_or(hex.as_str())
        .to_string()
}

fn parse_id<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, yibao_schema::record::ValueError>,
) -> Result<T, String> {
    parse(text).map_err(|e| e.to_string())
}

/// The BLAKE3 of a row's parsed content (its identity in the file).
pub fn row_hash(row: &ParsedRow) -> Result<blake3::Hash, String> {
    let json = serde_json::to_vec(row).map_err(|e| format!("无法计算本行的标识（{e}）"))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"yibao-import/v1/row\0");
    hasher.update(&json);
    Ok(hasher.finalize())
}

/// Builds a row's records with their stable identifiers.
pub fn build_records(row: &ParsedRow, division: DivisionCode) -> Result<RowRecords, String> {
    let row_hash = row_hash(row)?;
    let mut case_hasher = blake3::Hasher::new();
    case_hasher.update(b"yibao-import/v1/case\0");
    case_hasher.update(division.as_str().as_bytes());
    case_hasher.update(b"\0");
    case_hasher.update(row.institution_code.as_str().as_bytes());
    case_hasher.update(b"\0");
    match &row.case_no {
        Some(no) => {
            case_hasher.update(b"no\0");
            case_hasher.update(no.as_bytes());
        }
        None => {
            case_hasher.update(b"row\0");
            case_hasher.update(row_hash.as_bytes());
        }
    }
    let case_text = format!("IMP-{division}-{}", hex_of(&case_hasher.finalize(), 16));
    let row_hex = hex_of(&row_hash, 12);
    let case_id = parse_id(&case_text, CaseId::parse)?;
    let finding_id = parse_id(&format!("{case_text}-F{row_hex}"), FindingId::parse)?;
    let opening = Record::InspectionOpened(InspectionOpened {
        case_id: case_id.clone(),
        inspection_type: row.inspection_type,
        institution: InstitutionRef {
            code: row.institution_code,
            name: row.institution_name.clone(),
            division: row.institution_division,
        },
        inspecting_body: row.inspecting_body.clone(),
        opened_on: row.opened_on,
        period_covered: row.period_covered.clone(),
        basis: row.basis.clone(),
    });
    let finding = Record::Finding(Finding {
        case_id: case_id.clone(),
        finding_id: finding_id.clone(),
        legal_basis: row.legal_basis,
        pattern: row.pattern.clone(),
        facts: row.facts.clone(),
        amount_involved: row.amount_involved,
        evidence: Vec::new(),
    });
    let (decision, decision_id) = match &row.decision {
        Some(d) => {
            let decision_id = parse_id(&format!("{case_text}-D{row_hex}"), DecisionId::parse)?;
            let damages = d.damages.map_or(Fen::ZERO, |p| p.amount);
            let fines = d.fine.map_or(Fen::ZERO, |p| p.amount);
            let total = d
                .recovered
                .checked_add(damages)
                .and_then(|t| t.checked_add(fines))
                .ok_or("合计金额超出可以计算的范围")?;
            let record = Record::Decision(Decision {
                case_id: case_id.clone(),
                decision_id: decision_id.clone(),
                decided_on: d.decided_on,
                items: vec![DecisionItem {
                    finding_id: finding_id.clone(),
                    recovered: d.recovered,
                    damages: d.damages,
                    fine: d.fine,
                }],
                other_handling: d.other_handling.clone(),
                settlement_month: d.settlement_month,
                totals: Totals {
                    recovered: d.recovered,
                    damages,
                    fines,
                    total,
                },
            });
            (Some(record), Some(decision_id))
        }
        None => (None, None),
    };
    let (rectification, item_id) = match &row.rectification {
        Some((deadline, problem)) => {
            let item_id = parse_id(&format!("{case_text}-R{row_hex}"), ItemId::parse)?;
            let record = Record::RectificationItem(RectificationItem {
                item_id: item_id.clone(),
                case_id: Some(case_id.clone()),
                institution: row.institution_code,
                problem: problem.clone(),
                deadline: *deadline,
            });
            (Some(record), Some(item_id))
        }
        None => (None, None),
    };
    Ok(RowRecords {
        opening,
        finding,
        decision,
        rectification,
        case_id,
        finding_id,
        decision_id,
        item_id,
    })
}

/// The field a record's rule violation is about, to name the column in the report.
pub fn field_of_violation(kind: yibao_schema::record::RecordKind, field: &str) -> Option<Field> {
    use yibao_schema::record::RecordKind as K;
    let f = |prefix: &str| field.starts_with(prefix);
    Some(match kind {
        K::InspectionOpened if f("inspection_type") => Field::InspectionType,
        K::InspectionOpened if f("institution.name") => Field::InstitutionName,
        K::InspectionOpened if f("institution.division") => Field::InstitutionDivision,
        K::InspectionOpened if f("institution") => Field::InstitutionCode,
        K::InspectionOpened if f("opened_on") => Field::OpenedOn,
        K::InspectionOpened if f("inspecting_body") => Field::InspectingBody,
        K::InspectionOpened if f("period_covered") => Field::PeriodCovered,
        K::InspectionOpened if f("basis") => Field::Basis,
        K::Finding if f("legal_basis") => Field::LegalBasis,
        K::Finding if f("pattern") => Field::ViolationType,
        K::Finding if f("facts") => Field::Facts,
        K::Finding if f("amount_involved") => Field::AmountInvolved,
        K::Decision if field.contains("recovered") => Field::Recovered,
        K::Decision if field.contains("damages.multiple") => Field::DamagesMultiple,
        K::Decision if field.contains("damages") => Field::Damages,
        K::Decision if field.contains("fine.multiple") => Field::FineMultiple,
        K::Decision if field.contains("fine.basis") => Field::FineBasis,
        K::Decision if field.contains("fine") => Field::Fine,
        K::Decision if f("decided_on") => Field::DecidedOn,
        K::Decision if f("other_handling") => Field::Handling,
        K::Decision if f("settlement_month") => Field::SettlementMonth,
        K::RectificationItem if f("deadline") => Field::Deadline,
        K::RectificationItem if f("problem") => Field::Problem,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_bases() {
        for (text, article, item) in [
            ("第三十八条第一项", 38, Some(1)),
            ("38(1)", 38, Some(1)),
            ("38（2）", 38, Some(2)),
            ("第38条", 38, None),
            ("条例第四十条", 40, None),
            ("40", 40, None),
            ("第三十九条", 39, None),
        ] {
            let b = parse_legal_basis(text).unwrap();
            assert_eq!((b.article, b.item), (article, item), "{text}");
        }
        for bad in ["第条", "abc", "三十八万", "38(x)"] {
            assert!(parse_legal_basis(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_legal_basis("第条").unwrap_err(),
            "\"第条\" 不是《条例》的条款（请写 第三十八条第一项 或 38(1)）"
        );
    }

    #[test]
    fn penalties_are_exact() {
        // Seed 000: 111,843 recovered, 2× damages = 223,686.
        let basis = Fen::new(11_184_300);
        let p = penalty(basis, Some(Multiple::whole(2)), None)
            .unwrap()
            .unwrap();
        assert_eq!(p.amount, Fen::new(22_368_600));
        let derived = penalty(basis, None, Some(Fen::new(22_368_600)))
            .unwrap()
            .unwrap();
        assert_eq!(derived.multiple, Some(Multiple::whole(2)));
        assert!(penalty(basis, Some(Multiple::whole(2)), Some(Fen::new(1))).is_err());
        assert!(penalty(basis, None, Some(Fen::new(1_234_567))).is_err());
        assert!(penalty(Fen::ZERO, None, Some(Fen::new(5))).is_err());
        assert_eq!(penalty(basis, None, None).unwrap(), None);
    }

    #[test]
    fn penalty_messages_name_the_columns_as_written() {
        let columns = PenaltyColumns {
            amount: "违约金".into(),
            multiple: "违约金倍数".into(),
            basis: "追回金额".into(),
        };
        let mismatch = penalty(
            Fen::new(500_000),
            Some(Multiple::from_thousandths(1_500)),
            Some(Fen::new(1_000_000)),
        )
        .unwrap_err();
        assert_eq!(
            mismatch.reason(&columns),
            "违约金 10,000 元不等于追回金额 5,000 元 × 1.5 = 7,500 元（四舍五入到分）；请改正违约金或违约金倍数"
        );
        let zero = penalty(Fen::ZERO, None, Some(Fen::new(5))).unwrap_err();
        assert!(zero.reason(&columns).starts_with("追回金额为 0 或未填"));
        let inexact = penalty(Fen::new(1_234_567), None, Some(Fen::new(100))).unwrap_err();
        assert_eq!(
            inexact.reason(&columns),
            "违约金 1 元不能由追回金额 12,345.67 元乘以倍数得出（倍数最多三位小数）；请填写违约金倍数"
        );
    }

    #[test]
    fn handling_text() {
        let mapping = Mapping::default();
        let h = parse_handling(
            "追回违规金额、处2倍违约金，约谈；暂停联网结算6个月、移交公安",
            &mapping,
        )
        .unwrap();
        assert_eq!(
            h,
            vec![
                Handling::Summons,
                Handling::Suspension {
                    scope: yibao_schema::record::SuspensionScope::NetworkedSettlement,
                    months: 6
                },
                Handling::Referral {
                    to: yibao_schema::record::ReferralTarget::Police
                },
            ]
        );
        assert!(parse_handling("通报批评", &mapping)
            .unwrap_err()
            .starts_with("\"通报批评\" 不是已知的处理方式；可填："));
        assert!(parse_handling("暂停结算", &mapping)
            .unwrap_err()
            .contains("缺少月数或分数"));
    }
}
