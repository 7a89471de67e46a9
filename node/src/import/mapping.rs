//! The mapping from a bureau ledger's columns and Chinese labels to record fields and enum
//! values: a documented default (docs/IMPORT.md lists it) that a small JSON mapping file
//! can extend or override.
//!
//! Not here: parsing cell values (`values`) or building records (`rows`).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use yibao_schema::record::{InspectionType, LegalBasis, Pattern, ReferralTarget, SuspensionScope};

/// A field of an import row. Its `name` is what a mapping file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// 机构名称.
    InstitutionName,
    /// 机构编码 (H/P + 11 digits).
    InstitutionCode,
    /// 所属区划: the institution's division, when not the log's own.
    InstitutionDivision,
    /// 案件编号: rows with the same number are findings of one case.
    CaseNo,
    /// 检查类型.
    InspectionType,
    /// 检查日期: the day the case was opened.
    OpenedOn,
    /// 检查期间.
    PeriodCovered,
    /// 检查机构.
    InspectingBody,
    /// 线索来源.
    Basis,
    /// 违规类型.
    ViolationType,
    /// 违规条款 (overrides the article of the violation type).
    LegalBasis,
    /// 违规事实.
    Facts,
    /// 违规金额.
    AmountInvolved,
    /// 追回金额.
    Recovered,
    /// 违约金倍数.
    DamagesMultiple,
    /// 违约金 (amount).
    Damages,
    /// 罚款倍数.
    FineMultiple,
    /// 罚款基数 (defaults to the amount involved).
    FineBasis,
    /// 罚款 (amount).
    Fine,
    /// 处理结果.
    Handling,
    /// 处理日期.
    DecidedOn,
    /// 扣款月份.
    SettlementMonth,
    /// 整改期限.
    Deadline,
    /// 整改内容.
    Problem,
}

impl Field {
    /// Every field, in the order the documentation lists them.
    pub const ALL: [Field; 24] = [
        Field::InstitutionName,
        Field::InstitutionCode,
        Field::InstitutionDivision,
        Field::CaseNo,
        Field::InspectionType,
        Field::OpenedOn,
        Field::PeriodCovered,
        Field::InspectingBody,
        Field::Basis,
        Field::ViolationType,
        Field::LegalBasis,
        Field::Facts,
        Field::AmountInvolved,
        Field::Recovered,
        Field::DamagesMultiple,
        Field::Damages,
        Field::FineMultiple,
        Field::FineBasis,
        Field::Fine,
        Field::Handling,
        Field::DecidedOn,
        Field::SettlementMonth,
        Field::Deadline,
        Field::Problem,
    ];

    /// The name a mapping file uses.
    pub const fn name(self) -> &'static str {
        match self {
            Field::InstitutionName => "institution_name",
            Field::InstitutionCode => "institution_code",
            Field::InstitutionDivision => "institution_division",
            Field::CaseNo => "case_no",
            Field::InspectionType => "inspection_type",
            Field::OpenedOn => "opened_on",
            Field::PeriodCovered => "period_covered",
            Field::InspectingBody => "inspecting_body",
            Field::Basis => "basis",
            Field::ViolationType => "violation_type",
            Field::LegalBasis => "legal_basis",
            Field::Facts => "facts",
            Field::AmountInvolved => "amount_involved",
            Field::Recovered => "recovered",
            Field::DamagesMultiple => "damages_multiple",
            Field::Damages => "damages",
            Field::FineMultiple => "fine_multiple",
            Field::FineBasis => "fine_basis",
            Field::Fine => "fine",
            Field::Handling => "handling",
            Field::DecidedOn => "decided_on",
            Field::SettlementMonth => "settlement_month",
            Field::Deadline => "deadline",
            Field::Problem => "problem",
        }
    }

    /// The field as a bureau's ledger names it (its documented header, e.g. `违规金额`):
    /// how messages name a field whose column the file does not have.
    pub fn label(self) -> &'static str {
        self.default_headers()
            .first()
            .copied()
            .unwrap_or(self.name())
    }

    /// The field named `name`, if any.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether every file must have a column for it.
    pub const fn required(self) -> bool {
        matches!(
            self,
            Field::InstitutionName
                | Field::InstitutionCode
                | Field::InspectionType
                | Field::OpenedOn
                | Field::ViolationType
                | Field::AmountInvolved
        )
    }

    /// The headers recognised by default, the first being the documented one.
    pub const fn default_headers(self) -> &'static [&'static str] {
        match self {
            Field::InstitutionName => &["机构名称", "定点医药机构名称", "医药机构名称", "单位名称"],
            Field::InstitutionCode => &["机构编码", "定点医药机构编码", "医保编码", "机构代码"],
            Field::InstitutionDivision => &["所属区划", "区划代码", "行政区划代码"],
            Field::CaseNo => &["案件编号", "案号", "立案编号"],
            Field::InspectionType => &["检查类型", "检查方式"],
            Field::OpenedOn => &["检查日期", "立案日期", "检查时间"],
            Field::PeriodCovered => &["检查期间", "检查时段"],
            Field::InspectingBody => &["检查机构", "检查单位"],
            Field::Basis => &["线索来源", "检查依据"],
            Field::ViolationType => &["违规类型", "违规行为", "问题类型"],
            Field::LegalBasis => &["违规条款", "法律依据", "适用条款"],
            Field::Facts => &["违规事实", "问题描述", "违规情况"],
            Field::AmountInvolved => &["违规金额", "涉及金额", "涉案金额"],
            Field::Recovered => &["追回金额", "退回金额"],
            Field::DamagesMultiple => &["违约金倍数"],
            Field::Damages => &["违约金", "违约金金额"],
            Field::FineMultiple => &["罚款倍数"],
            Field::FineBasis => &["罚款基数"],
            Field::Fine => &["罚款", "罚款金额"],
            Field::Handling => &["处理结果", "处理方式", "处理意见"],
            Field::DecidedOn => &["处理日期", "决定日期", "处理时间"],
            Field::SettlementMonth => &["扣款月份", "结算月份"],
            Field::Deadline => &["整改期限", "整改时限"],
            Field::Problem => &["整改内容", "整改要求", "整改事项"],
        }
    }
}

/// A header as compared: full-width characters made ASCII, whitespace, `*` marks and a
/// trailing unit in brackets (`违规金额（元）`) removed.
pub fn normalize_header(header: &str) -> String {
    let text = super::values::normalize(header);
    let text = text.trim_start_matches('\u{feff}');
    let mut out = String::with_capacity(text.len());
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '(' | '[' | '【' => depth += 1,
            ')' | ']' | '】' => depth = depth.saturating_sub(1),
            '*' => {}
            c if c.is_whitespace() => {}
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// What a handling label (处理结果) stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlingLabel {
    /// 责令改正.
    OrderToCorrect,
    /// 约谈.
    Summons,
    /// 暂停相关科室 N 个月 (the number is read from the text).
    SuspensionDepartment,
    /// 暂停联网结算 N 个月.
    SuspensionNetworkedSettlement,
    /// 解除服务协议.
    AgreementTermination,
    /// 医保支付资格记分 N 分.
    StaffPoints,
    /// 移交公安.
    ReferralPolice,
    /// 移交卫健.
    ReferralHealthCommission,
    /// 移交纪检.
    ReferralDisciplineInspection,
    /// Money (追回, 违约金, 罚款): carried by the amount columns, so ignored here.
    Money,
}

impl HandlingLabel {
    /// The suspension scope, for the suspension labels.
    pub fn suspension_scope(self) -> Option<SuspensionScope> {
        match self {
            HandlingLabel::SuspensionDepartment => Some(SuspensionScope::Department),
            HandlingLabel::SuspensionNetworkedSettlement => {
                Some(SuspensionScope::NetworkedSettlement)
            }
            _ => None,
        }
    }

    /// The referral target, for the referral labels.
    pub fn referral(self) -> Option<ReferralTarget> {
        match self {
            HandlingLabel::ReferralPolice => Some(ReferralTarget::Police),
            HandlingLabel::ReferralHealthCommission => Some(ReferralTarget::HealthCommission),
            HandlingLabel::ReferralDisciplineInspection => {
                Some(ReferralTarget::DisciplineInspection)
            }
            _ => None,
        }
    }
}

/// A violation type: its pattern and legal basis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationType {
    /// The named pattern.
    pub pattern: Pattern,
    /// The article and item of the Regulation it falls under by default.
    pub legal_basis: LegalBasis,
}

/// A violation type as a mapping file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViolationTypeFile {
    /// A pattern name (`split_hospitalisation`, …); absent: `other` with the label as text.
    #[serde(default)]
    pattern: Option<String>,
    article: u8,
    #[serde(default)]
    item: Option<u8>,
}

/// A mapping file (JSON). Every section is optional and adds to the defaults; headers
/// given for a field replace that field's default headers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Field name → the headers that hold it.
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    /// Label → inspection type (`daily`, `special`, `flight`, `cross_county`,
    /// `city_direct`, `random`, `smart_monitoring`).
    #[serde(default)]
    inspection_types: BTreeMap<String, InspectionType>,
    /// Label → violation type.
    #[serde(default)]
    violation_types: BTreeMap<String, ViolationTypeFile>,
    /// Label → handling.
    #[serde(default)]
    handling: BTreeMap<String, HandlingLabel>,
}

/// The mapping in force: defaults plus any mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    headers: HashMap<Field, Vec<String>>,
    inspection_types: HashMap<String, InspectionType>,
    violation_types: HashMap<String, ViolationType>,
    /// Longest label first, so that 暂停联网结算 wins over 暂停.
    handling: Vec<(String, HandlingLabel)>,
}

fn basis(article: u8, item: Option<u8>) -> LegalBasis {
    LegalBasis { article, item }
}

/// The default inspection-type labels.
pub const DEFAULT_INSPECTION_TYPES: [(&str, InspectionType); 16] = [
    ("日常检查", InspectionType::Daily),
    ("日常稽核", InspectionType::Daily),
    ("专项检查", InspectionType::Special),
    ("专项治理", InspectionType::Special),
    ("飞行检查", InspectionType::Flight),
    ("交叉检查", InspectionType::CrossCounty),
    ("县区互查", InspectionType::CrossCounty),
    ("交叉互查", InspectionType::CrossCounty),
    ("市级直查", InspectionType::CityDirect),
    ("市局直查", InspectionType::CityDirect),
    ("随机抽查", InspectionType::Random),
    ("双随机", InspectionType::Random),
    ("双随机一公开", InspectionType::Random),
    ("智能监控", InspectionType::SmartMonitoring),
    ("智能审核", InspectionType::SmartMonitoring),
    ("智能监管", InspectionType::SmartMonitoring),
];

/// The documented label of an inspection type (`日常检查`), for messages.
pub fn inspection_type_label(inspection_type: InspectionType) -> &'static str {
    DEFAULT_INSPECTION_TYPES
        .iter()
        .find(|(_, t)| *t == inspection_type)
        .map_or(inspection_type.as_str(), |(label, _)| *label)
}

/// `甲、乙 或 丙`: a list of alternatives as a sentence says it.
pub fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} 或 {last}", init.join("、")),
    }
}

/// The default violation-type labels: (label, pattern, article, item).
pub fn default_violation_types() -> Vec<(&'static str, Pattern, LegalBasis)> {
    use Pattern::*;
    vec![
        ("分解住院", SplitHospitalisation, basis(38, Some(1))),
        ("挂床住院", PhantomBeds, basis(38, Some(1))),
        ("叠床住院", StackedBeds, basis(38, Some(1))),
        ("低标准入院", AdmissionBelowStandard, basis(38, Some(2))),
        ("过度诊疗", OverTreatment, basis(38, Some(2))),
        ("过度检查", OverTreatment, basis(38, Some(2))),
        ("重复收费", Overbilling, basis(38, Some(3))),
        ("超标准收费", Overbilling, basis(38, Some(3))),
        ("分解收费", Overbilling, basis(38, Some(3))),
        ("计费混乱", ChaoticBilling, basis(38, Some(3))),
        ("违规加价", IllegalMarkups, basis(38, Some(3))),
        ("串换药品", Substitution, basis(38, Some(4))),
        ("串换项目", Substitution, basis(38, Some(4))),
        ("串换收费", Substitution, basis(38, Some(4))),
        ("进销存不符", InventoryMismatch, basis(38, Some(4))),
        ("超范围用药", RestrictedDrugs, basis(38, Some(6))),
        ("限制性用药", RestrictedDrugs, basis(38, Some(6))),
        ("违规纳入医保结算", NonCoveredBilling, basis(38, Some(6))),
        ("诊断升级", DiagnosisUpgrading, basis(38, Some(7))),
        ("费用转移", CostShifting, basis(38, Some(7))),
        ("超范围经营", OutOfScopeBusiness, basis(38, Some(7))),
        ("医技人员无证上岗", UnlicensedStaff, basis(38, Some(7))),
        ("无证上岗", UnlicensedStaff, basis(38, Some(7))),
        ("病历书写不规范", NonStandardRecords, basis(39, None)),
        ("内部管理制度不健全", ManagementFailure, basis(39, None)),
        ("虚构医药服务项目", FictitiousServices, basis(40, None)),
        ("虚构服务", FictitiousServices, basis(40, None)),
        ("假病人", FakePatientsConditionsReceipts, basis(40, None)),
        ("假病情", FakePatientsConditionsReceipts, basis(40, None)),
        ("假票据", FakePatientsConditionsReceipts, basis(40, None)),
        ("三假", FakePatientsConditionsReceipts, basis(40, None)),
        ("伪造医学文书", ForgedRecords, basis(40, None)),
        ("冒名就医", CardMisuse, basis(41, None)),
        ("出借医保凭证", CardMisuse, basis(41, None)),
    ]
}

/// The default handling labels.
pub const DEFAULT_HANDLING: [(&str, HandlingLabel); 20] = [
    ("责令改正", HandlingLabel::OrderToCorrect),
    ("责令整改", HandlingLabel::OrderToCorrect),
    ("限期整改", HandlingLabel::OrderToCorrect),
    ("约谈", HandlingLabel::Summons),
    ("暂停联网结算", HandlingLabel::SuspensionNetworkedSettlement),
    ("暂停医保结算", HandlingLabel::SuspensionNetworkedSettlement),
    ("暂停", HandlingLabel::SuspensionDepartment),
    ("解除服务协议", HandlingLabel::AgreementTermination),
    ("解除协议", HandlingLabel::AgreementTermination),
    ("记分", HandlingLabel::StaffPoints),
    ("移交公安", HandlingLabel::ReferralPolice),
    ("移送公安", HandlingLabel::ReferralPolice),
    ("移交卫健", HandlingLabel::ReferralHealthCommission),
    ("移交卫生健康", HandlingLabel::ReferralHealthCommission),
    ("移交纪检", HandlingLabel::ReferralDisciplineInspection),
    ("追回", HandlingLabel::Money),
    ("退回", HandlingLabel::Money),
    ("违约金", HandlingLabel::Money),
    ("罚款", HandlingLabel::Money),
    ("扣款", HandlingLabel::Money),
];

impl Default for Mapping {
    fn default() -> Self {
        let headers = Field::ALL
            .into_iter()
            .map(|f| {
                let list = f.default_headers().iter().map(|h| normalize_header(h));
                (f, list.collect())
            })
            .collect();
        let inspection_types = DEFAULT_INSPECTION_TYPES
            .iter()
            .map(|(label, t)| (label_key(label), *t))
            .collect();
        let violation_types = default_violation_types()
            .into_iter()
            .map(|(label, pattern, legal_basis)| {
                (
                    label_key(label),
                    ViolationType {
                        pattern,
                        legal_basis,
                    },
                )
            })
            .collect();
        let mut mapping = Mapping {
            headers,
            inspection_types,
            violation_types,
            handling: DEFAULT_HANDLING
                .iter()
                .map(|(label, h)| (label_key(label), *h))
                .collect(),
        };
        mapping.sort_handling();
        mapping
    }
}

/// A label as compared: normalised, without whitespace.
pub fn label_key(label: &str) -> String {
    super::values::normalize(label)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

impl Mapping {
    /// The defaults with a mapping file's JSON text applied.
    pub fn with_file(text: &str) -> Result<Mapping, String> {
        let file: MappingFile = serde_json::from_str(text)
            .map_err(|e| format!("映射文件不是有效的 JSON，或含有未知的项（{e}）"))?;
        let mut mapping = Mapping::default();
        for (name, headers) in file.headers {
            let field = Field::parse(&name).ok_or_else(|| {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "映射文件 headers 中的 \"{name}\" 不是字段名；字段名有：{}",
                    known.join(", ")
                )
            })?;
            if headers.is_empty() {
                return Err(format!("映射文件 headers.{name}：请至少写一个表头"));
            }
            mapping
                .headers
                .insert(field, headers.iter().map(|h| normalize_header(h)).collect());
        }
        for (label, t) in file.inspection_types {
            mapping.inspection_types.insert(label_key(&label), t);
        }
        for (label, v) in file.violation_types {
            let pattern = match v.pattern.as_deref() {
                None | Some("other") => Pattern::Other(label.clone()),
                Some(name) => serde_json::from_value(serde_json::Value::String(name.into()))
                    .map_err(|_| {
                        format!("映射文件 violation_types.{label}：\"{name}\" 不是违规模式的名称（见 docs/IMPORT.md）")
                    })?,
            };
            mapping.violation_types.insert(
                label_key(&label),
                ViolationType {
                    pattern,
                    legal_basis: basis(v.article, v.item),
                },
            );
        }
        for (label, h) in file.handling {
            let key = label_key(&label);
            mapping.handling.retain(|(l, _)| *l != key);
            mapping.handling.push((key, h));
        }
        mapping.sort_handling();
        Ok(mapping)
    }

    fn sort_handling(&mut self) {
        self.handling.sort_by(|a, b| {
            b.0.chars()
                .count()
                .cmp(&a.0.chars().count())
                .then(a.0.cmp(&b.0))
        });
    }

    /// The field a header names, if any.
    pub fn field_of_header(&self, header: &str) -> Option<Field> {
        let key = normalize_header(header);
        Field::ALL
            .into_iter()
            .find(|f| self.headers.get(f).is_some_and(|hs| hs.contains(&key)))
    }

    /// Which field each header of a file holds (`None`: the column is ignored), or the
    /// problems with the headers, in Chinese: a required field without a column, or two
    /// columns for one field.
    pub fn resolve_headers(&self, headers: &[String]) -> Result<Vec<Option<Field>>, Vec<String>> {
        let mut problems = Vec::new();
        let mut columns: Vec<Option<Field>> = Vec::with_capacity(headers.len());
        let mut seen: HashMap<Field, usize> = HashMap::new();
        for (i, header) in headers.iter().enumerate() {
            let field = self.field_of_header(header);
            if let Some(field) = field {
                if let Some(&earlier) = seen.get(&field) {
                    let shown = |h: &str| h.trim_start_matches('\u{feff}').trim().to_string();
                    problems.push(format!(
                        "\"{}\" 和 \"{}\" 两列都是{}；请只保留一列",
                        shown(headers.get(earlier).map(String::as_str).unwrap_or("")),
                        shown(header),
                        field.label(),
                    ));
                } else {
                    seen.insert(field, i);
                }
            }
            columns.push(field);
        }
        for field in Field::ALL.into_iter().filter(|f| f.required()) {
            if !seen.contains_key(&field) {
                problems.push(format!(
                    "缺少必填的{}列（表头应为 {}；映射文件中的字段名 {}）",
                    field.label(),
                    self.headers_of(field),
                    field.name(),
                ));
            }
        }
        if problems.is_empty() {
            Ok(columns)
        } else {
            Err(problems)
        }
    }

    fn headers_of(&self, field: Field) -> String {
        self.headers
            .get(&field)
            .map(|hs| one_of(&hs.iter().map(String::as_str).collect::<Vec<_>>()))
            .unwrap_or_default()
    }

    /// The inspection type of a label.
    pub fn inspection_type(&self, label: &str) -> Result<InspectionType, String> {
        let key = label_key(label);
        self.inspection_types.get(&key).copied().ok_or_else(|| {
            let mut known: Vec<&str> = self.inspection_types.keys().map(String::as_str).collect();
            known.sort_unstable();
            format!(
                "{label:?} 不是已知的检查类型；可填：{}（映射文件可以增加标签）",
                known.join("、")
            )
        })
    }

    /// The violation type of a label.
    pub fn violation_type(&self, label: &str) -> Result<ViolationType, String> {
        let key = label_key(label);
        self.violation_types.get(&key).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = self.violation_types.keys().map(String::as_str).collect();
            known.sort_unstable();
            format!(
                "{label:?} 不是已知的违规类型；可填：{}（映射文件可以增加标签）",
                known.join("、")
            )
        })
    }

    /// The handling label a piece of 处理结果 text starts with or contains (longest label
    /// first).
    pub fn handling(&self, token: &str) -> Option<HandlingLabel> {
        let key = label_key(token);
        self.handling
            .iter()
            .find(|(label, _)| key.contains(label.as_str()))
            .map(|(_, h)| *h)
    }

    /// Every handling label, for error messages.
    pub fn handling_labels(&self) -> String {
        let mut labels: Vec<&str> = self.handling.iter().map(|(l, _)| l.as_str()).collect();
        labels.sort_unstable();
        labels.join("、")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_normalised() {
        assert_eq!(normalize_header(" 违规金额（元）"), "违规金额");
        assert_eq!(normalize_header("*机构名称"), "机构名称");
        assert_eq!(normalize_header("\u{feff}机构名称"), "机构名称");
        assert_eq!(normalize_header("违约金 倍数"), "违约金倍数");
    }

    #[test]
    fn default_headers_resolve_and_problems_are_named() {
        let mapping = Mapping::default();
        let headers: Vec<String> = [
            "机构名称",
            "机构编码",
            "检查类型",
            "检查日期",
            "违规类型",
            "违规金额（元）",
            "备注",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let columns = mapping.resolve_headers(&headers).unwrap();
        assert_eq!(columns[5], Some(Field::AmountInvolved));
        assert_eq!(columns[6], None);
        let wrong: Vec<String> = ["机构名", "机构编码", "机构代码"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let problems = mapping.resolve_headers(&wrong).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p == "缺少必填的机构名称列（表头应为 机构名称、定点医药机构名称、医药机构名称 或 单位名称；映射文件中的字段名 institution_name）"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "\"机构编码\" 和 \"机构代码\" 两列都是机构编码；请只保留一列"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_mapping_file_overrides_headers_and_adds_labels() {
        let mapping = Mapping::with_file(
            r#"{"headers": {"amount_involved": ["涉案金额（元）"]},
                "inspection_types": {"夜查": "special"},
                "violation_types": {"超量开药": {"pattern": "over_treatment", "article": 38, "item": 2},
                                    "其他违规": {"article": 38, "item": 7}},
                "handling": {"通报批评": "summons"}}"#,
        )
        .unwrap();
        assert_eq!(
            mapping.inspection_type("夜查").unwrap(),
            InspectionType::Special
        );
        assert_eq!(
            mapping.violation_type("超量开药").unwrap().pattern,
            Pattern::OverTreatment
        );
        assert_eq!(
            mapping.violation_type("其他违规").unwrap().pattern,
            Pattern::Other("其他违规".into())
        );
        assert_eq!(mapping.handling("通报批评"), Some(HandlingLabel::Summons));
        let headers: Vec<String> = [
            "机构名称",
            "机构编码",
            "检查类型",
            "检查日期",
            "违规类型",
            "违规金额",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // 违规金额 is no longer a header of amount_involved.
        assert!(mapping.resolve_headers(&headers).is_err());
        assert!(Mapping::with_file(r#"{"headers": {"nope": ["x"]}}"#).is_err());
        assert!(Mapping::with_file(r#"{"inspection_types": {"x": "weekly"}}"#).is_err());
    }

    #[test]
    fn handling_prefers_the_longest_label() {
        let mapping = Mapping::default();
        assert_eq!(
            mapping.handling("暂停联网结算6个月"),
            Some(HandlingLabel::SuspensionNetworkedSettlement)
        );
        assert_eq!(
            mapping.handling("暂停科室6个月"),
            Some(HandlingLabel::SuspensionDepartment)
        );
        assert_eq!(mapping.handling("通报"), None);
    }

    #[test]
    fn unknown_labels_are_named_in_chinese() {
        let mapping = Mapping::default();
        let err = mapping.inspection_type("周查").unwrap_err();
        assert!(
            err.starts_with("\"周查\" 不是已知的检查类型；可填：") && err.contains("日常检查"),
            "{err}"
        );
        let err = mapping.violation_type("乱收费").unwrap_err();
        assert!(err.starts_with("\"乱收费\" 不是已知的违规类型"), "{err}");
        assert_eq!(
            inspection_type_label(InspectionType::CrossCounty),
            "交叉检查"
        );
        assert_eq!(Field::FineBasis.label(), "罚款基数");
        assert_eq!(one_of(&["甲", "乙", "丙"]), "甲、乙 或 丙");
        let err = Mapping::with_file(r#"{"headers": {"nope": ["x"]}}"#).unwrap_err();
        assert!(err.contains("\"nope\" 不是字段名"), "{err}");
    }
}
