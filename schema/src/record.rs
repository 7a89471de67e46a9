//! Every kind of record a county log holds, as serde types, with their two encodings: the
//! JSON file form officers write for `yibao submit` (`{"kind": "finding", …}`) and the
//! signed payload form, the canonical CBOR of the record's own struct (the kind travels in
//! the signed entry header, not in the payload).
//!
//! Values are well formed by construction (see `values`); this module deliberately does not
//! check domain rules between fields or against the log (sums, ranges, references,
//! authorisation): `rules` and `state` do that, so that a malformed record and a record
//! that breaks a rule are reported differently.

mod json;
mod values;

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{self, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cbor;

pub use json::JsonError;
pub use values::{
    Bytes32, CaseId, Date, DecisionId, DivisionCode, Fen, FindingId, InstitutionCode, ItemId,
    Month, Multiple, NoticeId, OfficerId, Period, ValueError, MAX_ID_CHARS, MAX_YEAR, MIN_YEAR,
};

use json::{join_field, join_index, without_field, PathDeserializer};

// ---------------------------------------------------------------------------------------
// Record kinds
// ---------------------------------------------------------------------------------------

/// The kind of a record (记录类型). Its snake_case name travels in the signed entry header.
///
/// The numeric discriminants are stable (the state stores them compactly); new kinds are
/// only ever appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum RecordKind {
    /// 密钥事件: log creation, officer keys added or revoked, bureau key rotation.
    KeyEvent = 0,
    /// 定点医药机构登记.
    InstitutionRegistered = 1,
    /// 定点医药机构信息变更.
    InstitutionUpdated = 2,
    /// 检查立案.
    InspectionOpened = 3,
    /// 违规事实认定.
    Finding = 4,
    /// 处理决定.
    Decision = 5,
    /// 整改事项.
    RectificationItem = 6,
    /// 整改进度.
    RectificationUpdate = 7,
    /// 信用评价等级.
    GradeSet = 8,
    /// 信用等级调整 (appeal or credit repair).
    GradeRevision = 9,
    /// 曝光通报.
    ExposureNotice = 10,
    /// 更正.
    Correction = 11,
}

impl RecordKind {
    /// Every kind, in discriminant order.
    pub const ALL: [RecordKind; 12] = [
        RecordKind::KeyEvent,
        RecordKind::InstitutionRegistered,
        RecordKind::InstitutionUpdated,
        RecordKind::InspectionOpened,
        RecordKind::Finding,
        RecordKind::Decision,
        RecordKind::RectificationItem,
        RecordKind::RectificationUpdate,
        RecordKind::GradeSet,
        RecordKind::GradeRevision,
        RecordKind::ExposureNotice,
        RecordKind::Correction,
    ];

    /// The snake_case name, as in JSON and in the entry header.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::KeyEvent => "key_event",
            RecordKind::InstitutionRegistered => "institution_registered",
            RecordKind::InstitutionUpdated => "institution_updated",
            RecordKind::InspectionOpened => "inspection_opened",
            RecordKind::Finding => "finding",
            RecordKind::Decision => "decision",
            RecordKind::RectificationItem => "rectification_item",
            RecordKind::RectificationUpdate => "rectification_update",
            RecordKind::GradeSet => "grade_set",
            RecordKind::GradeRevision => "grade_revision",
            RecordKind::ExposureNotice => "exposure_notice",
            RecordKind::Correction => "correction",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The stable discriminant.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The kind with discriminant `value`, if any.
    pub fn from_u8(value: u8) -> Option<RecordKind> {
        RecordKind::ALL.get(usize::from(value)).copied()
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Key events
// ---------------------------------------------------------------------------------------

/// An officer's role (角色), which decides the record kinds the officer's key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 检查人员: opens inspections, records findings and rectification.
    Inspector,
    /// 审理人员: decides handling, grades institutions, verifies rectification.
    Adjudicator,
    /// 信息发布人员: publishes exposure notices.
    Publisher,
    /// 协议管理人员: registers and updates designated institutions.
    Administrator,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Inspector,
        Role::Adjudicator,
        Role::Publisher,
        Role::Administrator,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::Adjudicator => "adjudicator",
            Role::Publisher => "publisher",
            Role::Administrator => "administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key event (密钥事件): the only records that change who may sign. Signed by the
/// bureau key (or, for `log_created`, by the key it names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyEvent {
    /// The first entry of every log (seq 0), signed by the bureau key it names.
    LogCreated {
        /// The division the log belongs to; must be the log's own.
        division: DivisionCode,
        /// The bureau's name, e.g. 柳林县医疗保障局.
        name: String,
        /// The bureau's Ed25519 public key.
        bureau_key: Bytes32,
    },
    /// An officer's key is authorised for some roles.
    OfficerAdded {
        /// The officer's Ed25519 public key.
        key: Bytes32,
        /// The officer's law-enforcement certificate number (执法证号).
        officer_id: OfficerId,
        /// The officer's surname only, one or two Han characters.
        surname: String,
        /// The roles the key may act in.
        roles: Vec<Role>,
    },
    /// An officer's key stops authorising anything from the next entry on.
    OfficerRevoked {
        /// The key revoked.
        key: Bytes32,
        /// Why (departure, lost device, …).
        reason: String,
    },
    /// The bureau key changes; signed by the old key, effective from the next entry.
    BureauKeyRotated {
        /// The new bureau key.
        new_key: Bytes32,
    },
}

// ---------------------------------------------------------------------------------------
// Institutions
// ---------------------------------------------------------------------------------------

/// The kind of a designated institution (定点医药机构类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionKind {
    /// 公立医院.
    PublicHospital,
    /// 民营医院.
    PrivateHospital,
    /// 诊所.
    Clinic,
    /// 乡镇卫生院.
    TownshipHealthCentre,
    /// 村卫生室.
    VillageClinic,
    /// 定点零售药店 (单体).
    RetailPharmacySingle,
    /// 定点零售药店 (连锁).
    RetailPharmacyChain,
}

impl InstitutionKind {
    /// Whether this kind is a pharmacy (code prefix `P`) rather than a medical institution
    /// (code prefix `H`).
    pub const fn is_pharmacy(self) -> bool {
        matches!(
            self,
            InstitutionKind::RetailPharmacySingle | InstitutionKind::RetailPharmacyChain
        )
    }

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstitutionKind::PublicHospital => "public_hospital",
            InstitutionKind::PrivateHospital => "private_hospital",
            InstitutionKind::Clinic => "clinic",
            InstitutionKind::TownshipHealthCentre => "township_health_centre",
            InstitutionKind::VillageClinic => "village_clinic",
            InstitutionKind::RetailPharmacySingle => "retail_pharmacy_single",
            InstitutionKind::RetailPharmacyChain => "retail_pharmacy_chain",
        }
    }
}

/// The agreement status of a designated institution (协议状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstitutionStatus {
    /// 正常.
    Active,
    /// 暂停 (suspended, may return to active).
    Suspended,
    /// 解除协议 (terminated, final).
    Terminated,
}

impl InstitutionStatus {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstitutionStatus::Active => "active",
            InstitutionStatus::Suspended => "suspended",
            InstitutionStatus::Terminated => "terminated",
        }
    }
}

/// A designated institution is registered in the log of its division (定点医药机构登记).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionRegistered {
    /// The national medical-insurance code; `H…` for medical institutions, `P…` for
    /// pharmacies, matching `institution_kind`.
    pub code: InstitutionCode,
    /// The registered name.
    pub name: String,
    /// The kind of institution. Named `institution_kind` because `kind` is the record tag
    /// in the JSON file form.
    pub institution_kind: InstitutionKind,
    /// The division the institution is located in; must be the log's division.
    pub division: DivisionCode,
    /// The address.
    pub address: String,
    /// The hospital level (一级/二级/三级, 甲等…), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// The fields of an institution that an update changes; absent fields stay as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionChanges {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A new kind (the code prefix must still match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_kind: Option<InstitutionKind>,
    /// A new agreement status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InstitutionStatus>,
    /// A new level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl InstitutionChanges {
    /// Whether nothing is changed.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.address.is_none()
            && self.institution_kind.is_none()
            && self.status.is_none()
            && self.level.is_none()
    }
}

/// A registered institution's details or agreement status change (机构信息变更).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionUpdated {
    /// The institution, registered earlier in this log.
    pub code: InstitutionCode,
    /// What changes.
    pub changes: InstitutionChanges,
    /// Why.
    pub reason: String,
}

/// An institution as named in a case or notice: its code, name and division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionRef {
    /// The institution code.
    pub code: InstitutionCode,
    /// The institution name.
    pub name: String,
    /// The division the institution is located in.
    pub division: DivisionCode,
}

// ---------------------------------------------------------------------------------------
// Inspections and findings
// ---------------------------------------------------------------------------------------

/// The type of inspection (检查类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum InspectionType {
    /// 日常检查.
    Daily,
    /// 专项治理.
    Special,
    /// 飞行检查 (organised by a provincial or national bureau).
    Flight,
    /// 县区互查 (county A's team inspects institutions of county B).
    CrossCounty,
    /// 市局直查.
    CityDirect,
    /// 双随机、一公开.
    Random,
    /// 智能监控 alert.
    SmartMonitoring,
}

impl InspectionType {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            InspectionType::Daily => "daily",
            InspectionType::Special => "special",
            InspectionType::Flight => "flight",
            InspectionType::CrossCounty => "cross_county",
            InspectionType::CityDirect => "city_direct",
            InspectionType::Random => "random",
            InspectionType::SmartMonitoring => "smart_monitoring",
        }
    }

    /// Whether this type may inspect an institution outside the log's own division.
    pub const fn may_cross_divisions(self) -> bool {
        matches!(
            self,
            InspectionType::CrossCounty | InspectionType::CityDirect | InspectionType::Flight
        )
    }
}

/// An inspection is opened as a case (检查立案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionOpened {
    /// The case number, unique in the log.
    pub case_id: CaseId,
    /// The type of inspection.
    pub inspection_type: InspectionType,
    /// The institution inspected.
    pub institution: InstitutionRef,
    /// The inspecting body, e.g. 柳林县医疗保障局.
    pub inspecting_body: String,
    /// The day the case was opened (China Standard Time).
    pub opened_on: Date,
    /// The period of activity covered, free text (e.g. 2019年1月至2021年5月).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_covered: Option<String>,
    /// What prompted the inspection (complaint, smart-monitoring alert, campaign document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// The legal basis of a finding: an article of the Regulation on the Supervision and
/// Administration of the Use of Medical Security Funds (《医疗保障基金使用监督管理条例》,
/// State Council Order 735) and optionally an item of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    /// The article: 38, 39, 40 or 41 under the default policy.
    pub article: u8,
    /// The item (项) within the article, e.g. 1 for Art. 38 (1) split hospitalisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u8>,
}

impl fmt::Display for LegalBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            Some(item) => write!(f, "Art. {} ({item})", self.article),
            None => write!(f, "Art. {}", self.article),
        }
    }
}

impl LegalBasis {
    /// As a Chinese document cites it: `第三十八条第一项`, `第四十条`.
    pub fn chinese(&self) -> String {
        let mut text = format!("第{}条", chinese_number(self.article));
        if let Some(item) = self.item {
            text.push_str(&format!("第{}项", chinese_number(item)));
        }
        text
    }
}

/// 0–255 in Chinese numerals as articles and items are numbered: `三十八`, `四十`, `十`,
/// `一百零五`.
pub fn chinese_number(n: u8) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let digit = |d: u8| DIGITS[usize::from(d % 10)];
    let below_hundred = |n: u8, in_hundreds: bool| -> String {
        match (n / 10, n % 10) {
            (0, 0) => String::new(),
            (0, ones) if in_hundreds => format!("零{}", digit(ones)),
            (0, ones) => digit(ones).to_string(),
            (1, 0) if !in_hundreds => "十".to_string(),
            (1, ones) if !in_hundreds => format!("十{}", digit(ones)),
            (tens, 0) => format!("{}十", digit(tens)),
            (tens, ones) => format!("{}十{}", digit(tens), digit(ones)),
        }
    };
    match n {
        0 => "零".to_string(),
        1..=99 => below_hundred(n, false),
        _ => format!("{}百{}", digit(n / 100), below_hundred(n % 100, true)),
    }
}

/// A named violation pattern (违规类型) from the seed documents and the Regulation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Pattern {
    /// 分解住院.
    SplitHospitalisation,
    /// 挂床住院.
    PhantomBeds,
    /// 叠床住院.
    StackedBeds,
    /// 低标准入院.
    AdmissionBelowStandard,
    /// 诊断升级.
    DiagnosisUpgrading,
    /// 费用转移.
    CostShifting,
    /// 超范围用药、限制性用药.
    RestrictedDrugs,
    /// 超范围经营.
    OutOfScopeBusiness,
    /// 计费混乱.
    ChaoticBilling,
    /// 医技人员无证上岗.
    UnlicensedStaff,
    /// 进销存不符.
    InventoryMismatch,
    /// 病历书写不规范.
    NonStandardRecords,
    /// 违规加价.
    IllegalMarkups,
    /// 过度诊疗、过度检查.
    OverTreatment,
    /// 重复收费、超标准收费、分解收费.
    Overbilling,
    /// 串换药品、医用耗材、诊疗项目和服务设施.
    Substitution,
    /// 将不属于医保基金支付范围的医药费用纳入结算.
    NonCoveredBilling,
    /// 虚构医药服务项目.
    FictitiousServices,
    /// 假病人、假病情、假票据 (“三假”).
    FakePatientsConditionsReceipts,
    /// 伪造、变造、隐匿、涂改、销毁医学文书或会计凭证.
    ForgedRecords,
    /// 冒名就医、出借医保凭证.
    CardMisuse,
    /// 内部管理制度不健全 (Art. 39 management failures).
    ManagementFailure,
    /// Anything else, described in a few words.
    Other(String),
}

/// A violation fact established in a case (违规事实认定).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The case the finding belongs to, opened earlier in this log.
    pub case_id: CaseId,
    /// The finding number, unique in the log.
    pub finding_id: FindingId,
    /// The article (and item) violated.
    pub legal_basis: LegalBasis,
    /// The named pattern.
    pub pattern: Pattern,
    /// The facts as established.
    pub facts: String,
    /// The fund money involved (涉及金额), in fen.
    pub amount_involved: Fen,
    /// BLAKE3 digests of the evidence files (kept outside the ledger).
    #[serde(default)]
    pub evidence: Vec<Bytes32>,
}

// ---------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------

/// A money penalty: liquidated damages (违约金) or an administrative fine (罚款).
///
/// With a multiple, `amount` = round_half_up(`basis` × multiple); without one (a flat
/// Art. 39 fine) `basis` equals `amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Penalty {
    /// The amount the multiple applies to, in fen.
    pub basis: Fen,
    /// The multiple, or `None` for a flat amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<Multiple>,
    /// The penalty, in fen.
    pub amount: Fen,
}

/// The handling decided for one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionItem {
    /// The finding decided, of the decision's case.
    pub finding_id: FindingId,
    /// Fund money to be returned (追回), in fen; at most the finding's amount involved.
    pub recovered: Fen,
    /// Liquidated damages under the service agreement (违约金): a multiple of `recovered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damages: Option<Penalty>,
    /// An administrative fine (罚款), in the range the policy sets for the finding's article.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine: Option<Penalty>,
}

/// What a suspension covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionScope {
    /// 暂停相关责任部门涉及医保基金使用的医药服务.
    Department,
    /// 暂停医保联网结算.
    NetworkedSettlement,
}

impl Pattern {
    /// The pattern as bureaus name it: `分解住院`, `串换药品、耗材、诊疗项目`; `Other` is its own words.
    pub fn chinese(&self) -> &str {
        match self {
            Pattern::SplitHospitalisation => "分解住院",
            Pattern::PhantomBeds => "挂床住院",
            Pattern::StackedBeds => "叠床住院",
            Pattern::AdmissionBelowStandard => "低标准入院",
            Pattern::DiagnosisUpgrading => "诊断升级",
            Pattern::CostShifting => "费用转移",
            Pattern::RestrictedDrugs => "超范围用药",
            Pattern::OutOfScopeBusiness => "超范围经营",
            Pattern::ChaoticBilling => "计费混乱",
            Pattern::UnlicensedStaff => "医技人员无证上岗",
            Pattern::InventoryMismatch => "进销存不符",
            Pattern::NonStandardRecords => "病历书写不规范",
            Pattern::IllegalMarkups => "违规加价",
            Pattern::OverTreatment => "过度诊疗",
            Pattern::Overbilling => "重复收费、超标准收费",
            Pattern::Substitution => "串换药品、耗材、诊疗项目",
            Pattern::NonCoveredBilling => "违规纳入医保结算",
            Pattern::FictitiousServices => "虚构医药服务项目",
            Pattern::FakePatientsConditionsReceipts => "假病人、假病情、假票据",
            Pattern::ForgedRecords => "伪造医学文书",
            Pattern::CardMisuse => "冒名就医、出借医保凭证",
            Pattern::ManagementFailure => "内部管理制度不健全",
            Pattern::Other(words) => words,
        }
    }
}

/// Where a case is referred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralTarget {
    /// 公安机关.
    Police,
    /// 卫生健康部门.
    HealthCommission,
    /// 纪检监察机关.
    DisciplineInspection,
}

/// Handling other than money (其他处理).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Handling {
    /// 责令改正.
    OrderToCorrect,
    /// 约谈.
    Summons,
    /// 暂停 for a number of months.
    Suspension {
        /// What is suspended.
        scope: SuspensionScope,
        /// For how many months.
        months: u8,
    },
    /// 解除服务协议.
    AgreementTermination,
    /// 医保支付资格记分 for the responsible staff.
    StaffPoints {
        /// Points.
        points: u8,
    },
    /// 移交.
    Referral {
        /// To whom.
        to: ReferralTarget,
    },
}

impl Handling {
    /// As a decision states it: `责令改正`, `暂停医保联网结算6个月`, `移交公安机关`.
    pub fn chinese(&self) -> String {
        match self {
            Handling::OrderToCorrect => "责令改正".to_string(),
            Handling::Summons => "约谈".to_string(),
            Handling::Suspension { scope, months } => match scope {
                SuspensionScope::Department => format!("暂停相关科室医保服务{months}个月"),
                SuspensionScope::NetworkedSettlement => format!("暂停医保联网结算{months}个月"),
            },
            Handling::AgreementTermination => "解除服务协议".to_string(),
            Handling::StaffPoints { points } => format!("相关人员记{points}分"),
            Handling::Referral { to } => match to {
                ReferralTarget::Police => "移交公安机关".to_string(),
                ReferralTarget::HealthCommission => "移交卫生健康部门".to_string(),
                ReferralTarget::DisciplineInspection => "移交纪检监察机关".to_string(),
            },
        }
    }
}

/// The decision's totals, each recomputed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Σ recovered.
    pub recovered: Fen,
    /// Σ damages amounts.
    pub damages: Fen,
    /// Σ fine amounts.
    pub fines: Fen,
    /// recovered + damages + fines.
    pub total: Fen,
}

/// The handling decided in a case (处理决定), per finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The case decided.
    pub case_id: CaseId,
    /// The decision number, unique in the log.
    pub decision_id: DecisionId,
    /// The day of the decision (China Standard Time).
    pub decided_on: Date,
    /// One item per finding decided.
    pub items: Vec<DecisionItem>,
    /// Handling other than money.
    #[serde(default)]
    pub other_handling: Vec<Handling>,
    /// The month whose advance payment (垫付款) the amounts are deducted from, if deducted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_month: Option<Month>,
    /// The totals.
    pub totals: Totals,
}

// ---------------------------------------------------------------------------------------
// Rectification
// ---------------------------------------------------------------------------------------

/// A problem entered in the rectification ledger (整改台账) with a deadline. It starts
/// open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationItem {
    /// The item number, unique in the log.
    pub item_id: ItemId,
    /// The case the problem was found in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
    /// The institution that must rectify.
    pub institution: InstitutionCode,
    /// The problem.
    pub problem: String,
    /// The deadline.
    pub deadline: Date,
}

/// The status a rectification update moves an item to: open → rectifying → verified →
/// closed out (销号), one step at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RectificationStatus {
    /// 整改中.
    Rectifying,
    /// 已核验.
    Verified,
    /// 已销号.
    ClosedOut,
}

impl RectificationStatus {
    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RectificationStatus::Rectifying => "rectifying",
            RectificationStatus::Verified => "verified",
            RectificationStatus::ClosedOut => "closed_out",
        }
    }
}

/// A rectification item moves one step (整改进度).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationUpdate {
    /// The item.
    pub item_id: ItemId,
    /// The new status.
    pub status: RectificationStatus,
    /// The day of the step.
    pub on: Date,
    /// What was done or verified.
    pub note: String,
}

// ---------------------------------------------------------------------------------------
// Grades
// ---------------------------------------------------------------------------------------

/// A credit grade (信用等级), A best to D worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// A.
    A,
    /// B.
    B,
    /// C.
    C,
    /// D.
    D,
}

impl Grade {
    /// Every grade, best first.
    pub const ALL: [Grade; 4] = [Grade::A, Grade::B, Grade::C, Grade::D];

    /// The position, A = 0 … D = 3.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The letter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
}

/// One institution's grade in a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeAssignment {
    /// The institution.
    pub institution: InstitutionCode,
    /// Its grade.
    pub grade: Grade,
    /// Its score in points (0 to the policy's maximum, 1,000 by default).
    pub score: u32,
    /// A short reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The credit grades (信用评价等级) of a division's institutions for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeSet {
    /// The division graded; the log's own.
    pub division: DivisionCode,
    /// The period graded.
    pub period: Period,
    /// One assignment per institution.
    pub grades: Vec<GradeAssignment>,
}

/// Why a grade was revised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionReason {
    /// 申诉.
    Appeal,
    /// 信用修复.
    CreditRepair,
}

/// One institution's grade in an existing set changes after an appeal or credit repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRevision {
    /// The set's division.
    pub division: DivisionCode,
    /// The set's period.
    pub period: Period,
    /// The institution, graded in that set.
    pub institution: InstitutionCode,
    /// The new grade.
    pub grade: Grade,
    /// The new score.
    pub score: u32,
    /// Appeal or credit repair.
    pub reason_kind: RevisionReason,
    /// The reason in words.
    pub reason: String,
}

// ---------------------------------------------------------------------------------------
// Exposure notices
// ---------------------------------------------------------------------------------------

/// A public exposure notice (曝光通报) about a decided case. Everything in it is public:
/// private persons appear by surname only (景某, 钱某某) and no patient data appears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureNotice {
    /// The notice number, unique in the log.
    pub notice_id: NoticeId,
    /// The case.
    pub case_id: CaseId,
    /// The decision the notice publishes, of that case.
    pub decision_id: DecisionId,
    /// The title, like 〔机构名称〕违规使用医保基金案.
    pub title: String,
    /// The institution.
    pub institution: InstitutionRef,
    /// Where the institution is (县、乡镇).
    pub location: String,
    /// The inspecting body.
    pub inspecting_body: String,
    /// When the inspection took place, free text.
    pub inspection_period: String,
    /// The violation facts.
    pub facts: String,
    /// The violation categories in words (分解住院, 串换药品, …).
    pub categories: Vec<String>,
    /// The amount involved, in fen.
    pub amount_involved: Fen,
    /// The legal basis in words.
    pub legal_basis: String,
    /// The handling in words (recovered amount, damages, fines, suspension, referral).
    pub handling: String,
    /// Whether the money has been fully recovered (已全部追回).
    pub fully_recovered: bool,
    /// The people mentioned, surname + 某 or 某某 only.
    #[serde(default)]
    pub persons: Vec<String>,
    /// The day of publication.
    pub published_on: Date,
}

// ---------------------------------------------------------------------------------------
// Corrections
// ---------------------------------------------------------------------------------------

/// A correction (更正): supersedes an earlier entry of the log, with a reason. Nothing is
/// ever edited or deleted; with no replacement the target is withdrawn. Key events and
/// corrections cannot be corrected.
///
/// In JSON the replacement is a record object with its own `"kind"`. In the CBOR payload it
/// is a byte string holding the replacement's own canonical payload (its kind is
/// `target_kind`), so the correction is canonical exactly when the replacement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// The seq of the entry corrected, earlier in the same log.
    pub target_seq: u64,
    /// The kind of the entry corrected.
    pub target_kind: RecordKind,
    /// Why.
    pub reason: String,
    /// The record that replaces the target, of the same kind; `None` withdraws it.
    pub replacement: Option<Box<Record>>,
}

/// A byte string for serde (CBOR major type 2).
struct ByteString(Vec<u8>);

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl de::Visitor<'_> for BytesVisitor {
            type Value = ByteString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteString, E> {
                Ok(ByteString(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteString, E> {
                Ok(ByteString(v))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

fn nested_kind_allowed(kind: RecordKind) -> bool {
    !matches!(kind, RecordKind::KeyEvent | RecordKind::Correction)
}

impl Serialize for Correction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let human_readable = serializer.is_human_readable();
        let fields = if self.replacement.is_some() { 4 } else { 3 };
        let mut state = serializer.serialize_struct("Correction", fields)?;
        state.serialize_field("target_seq", &self.target_seq)?;
        state.serialize_field("target_kind", &self.target_kind)?;
        state.serialize_field("reason", &self.reason)?;
        match &self.replacement {
            Some(replacement) if human_readable => {
                state.serialize_field("replacement", replacement)?
            }
            Some(replacement) => {
                if replacement.kind() != self.target_kind || !nested_kind_allowed(self.target_kind)
                {
                    return Err(ser::Error::custom(format!(
                        "replacement: a {} cannot replace a {}",
                        replacement.kind(),
                        self.target_kind
                    )));
                }
                let bytes = replacement.encode_payload().map_err(ser::Error::custom)?;
                state.serialize_field("replacement", &ByteString(bytes))?;
            }
            None => state.skip_field("replacement")?,
        }
        state.end()
    }
}

impl<'de> Deserialize<'de> for Correction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct JsonForm {
                target_seq: u64,
                target_kind: RecordKind,
                reason: String,
                #[serde(default)]
                replacement: Option<Value>,
            }
            let form = JsonForm::deserialize(deserializer)?;
            let replacement = match form.replacement {
                None | Some(Value::Null) => None,
                Some(value) => Some(Box::new(
                    Record::from_json_value_at(&value, "replacement").map_err(de::Error::custom)?,
                )),
            };
            Ok(Correction {
                target_seq: form.target_seq,
                target_kind: form.target_kind,
                reason: form.reason,
                replacement,
            })
        } else {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct BinaryForm {
                target_seq: u64,
                target_kind: RecordKind,
                reason: String,
                #[serde(default)]
                replacement: Option<ByteString>,
            }
            let form = BinaryForm::deserialize(deserializer)?;
            let replacement = match form.replacement {
                None => None,
                Some(bytes) => {
                    // INVARIANT: refusing nested corrections bounds the decoder's recursion
                    // at one level, whatever the input.
                    if !nested_kind_allowed(form.target_kind) {
                        return Err(de::Error::custom(format!(
                            "replacement: a {} cannot be corrected",
                            form.target_kind
                        )));
                    }
                    let record = Record::decode_payload(form.target_kind, &bytes.0)
                        .map_err(|e| de::Error::custom(format!("replacement: {e}")))?;
                    Some(Box::new(record))
                }
            };
            Ok(Correction {
                target_seq: form.target_seq,
                target_kind: form.target_kind,
                reason: form.reason,
                replacement,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// The record enum
// ---------------------------------------------------------------------------------------

/// Any record. Its serde form is the JSON file form, internally tagged by `"kind"`; the
/// signed payload is `encode_payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// 密钥事件.
    KeyEvent(KeyEvent),
    /// 定点医药机构登记.
    InstitutionRegistered(InstitutionRegistered),
    /// 机构信息变更.
    InstitutionUpdated(InstitutionUpdated),
    /// 检查立案.
    InspectionOpened(InspectionOpened),
    /// 违规事实认定.
    Finding(Finding),
    /// 处理决定.
    Decision(Decision),
    /// 整改事项.
    RectificationItem(RectificationItem),
    /// 整改进度.
    RectificationUpdate(RectificationUpdate),
    /// 信用评价等级.
    GradeSet(GradeSet),
    /// 信用等级调整.
    GradeRevision(GradeRevision),
    /// 曝光通报.
    ExposureNotice(ExposureNotice),
    /// 更正.
    Correction(Correction),
}

/// A payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The record cannot be encoded (e.g. a correction whose replacement has another kind).
    #[error("cannot encode {kind} payload: {source}")]
    Encode {
        /// The record's kind.
        kind: RecordKind,
        /// The encoder's reason.
        source: cbor::EncodeError,
    },
    /// The bytes are not the canonical payload of a record of this kind.
    #[error("invalid {kind} payload: {source}")]
    Decode {
        /// The kind from the entry header.
        kind: RecordKind,
        /// The decoder's reason.
        source: cbor::DecodeError,
    },
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::KeyEvent(_) => RecordKind::KeyEvent,
            Record::InstitutionRegistered(_) => RecordKind::InstitutionRegistered,
            Record::InstitutionUpdated(_) => RecordKind::InstitutionUpdated,
            Record::InspectionOpened(_) => RecordKind::InspectionOpened,
            Record::Finding(_) => RecordKind::Finding,
            Record::Decision(_) => RecordKind::Decision,
            Record::RectificationItem(_) => RecordKind::RectificationItem,
            Record::RectificationUpdate(_) => RecordKind::RectificationUpdate,
            Record::GradeSet(_) => RecordKind::GradeSet,
            Record::GradeRevision(_) => RecordKind::GradeRevision,
            Record::ExposureNotice(_) => RecordKind::ExposureNotice,
            Record::Correction(_) => RecordKind::Correction,
        }
    }

    /// The signed payload: the canonical CBOR of the inner struct (no kind tag).
    pub fn encode_payload(&self) -> Result<Vec<u8>, PayloadError> {
        let encoded = match self {
            Record::KeyEvent(r) => cbor::to_vec(r),
            Record::InstitutionRegistered(r) => cbor::to_vec(r),
            Record::InstitutionUpdated(r) => cbor::to_vec(r),
            Record::InspectionOpened(r) => cbor::to_vec(r),
            Record::Finding(r) => cbor::to_vec(r),
            Record::Decision(r) => cbor::to_vec(r),
            Record::RectificationItem(r) => cbor::to_vec(r),
            Record::RectificationUpdate(r) => cbor::to_vec(r),
            Record::GradeSet(r) => cbor::to_vec(r),
            Record::GradeRevision(r) => cbor::to_vec(r),
            Record::ExposureNotice(r) => cbor::to_vec(r),
            Record::Correction(r) => cbor::to_vec(r),
        };
        encoded.map_err(|source| PayloadError::Encode {
            kind: self.kind(),
            source,
        })
    }

    /// Decodes the payload of an entry whose header says `kind`. Refuses anything that is
    /// not exactly the canonical encoding (re-encoding must give back `bytes`), including
    /// unknown fields.
    pub fn decode_payload(kind: RecordKind, bytes: &[u8]) -> Result<Record, PayloadError> {
        let decoded = match kind {
            RecordKind::KeyEvent => cbor::from_slice_canonical(bytes).map(Record::KeyEvent),
            RecordKind::InstitutionRegistered => {
                cbor::from_slice_canonical(bytes).map(Record::InstitutionRegistered)
            }
            RecordKind::InstitutionUpdated => {
                cbor::from_slice_canonical(bytes).map(Record::InstitutionUpdated)
            }
            RecordKind::InspectionOpened => {
                cbor::from_slice_canonical(bytes).map(Record::InspectionOpened)
            }
            RecordKind::Finding => cbor::from_slice_canonical(bytes).map(Record::Finding),
            RecordKind::Decision => cbor::from_slice_canonical(bytes).map(Record::Decision),
            RecordKind::RectificationItem => {
                cbor::from_slice_canonical(bytes).map(Record::RectificationItem)
            }
            RecordKind::RectificationUpdate => {
                cbor::from_slice_canonical(bytes).map(Record::RectificationUpdate)
            }
            RecordKind::GradeSet => cbor::from_slice_canonical(bytes).map(Record::GradeSet),
            RecordKind::GradeRevision => {
                cbor::from_slice_canonical(bytes).map(Record::GradeRevision)
            }
            RecordKind::ExposureNotice => {
                cbor::from_slice_canonical(bytes).map(Record::ExposureNotice)
            }
            RecordKind::Correction => cbor::from_slice_canonical(bytes).map(Record::Correction),
        };
        decoded.map_err(|source| PayloadError::Decode { kind, source })
    }

    /// Reads one record from JSON text in the file form `{"kind": "…", …}`.
    pub fn from_json(text: &str) -> Result<Record, JsonError> {
        let value = json::parse_text(text)?;
        Record::from_json_value_at(&value, "")
    }

    /// Reads a record file: a JSON array of records (a single record object is accepted
    /// too). Error paths start with the record's index, e.g. `[2].items[0].recovered`.
    pub fn list_from_json(text: &str) -> Result<Vec<Record>, JsonError> {
        let value = json::parse_text(text)?;
        match &value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Record::from_json_value_at(item, join_index("", i)))
                .collect(),
            Value::Object(_) => Record::from_json_value_at(&value, "").map(|r| vec![r]),
            _ => Err(JsonError::at(
                "",
                "a record file must hold a JSON array of records",
            )),
        }
    }

    /// Reads a record from a parsed JSON value.
    pub fn from_json_value(value: &Value) -> Result<Record, JsonError> {
        Record::from_json_value_at(value, "")
    }

    /// Reads a record from a parsed JSON value found at `path` (used for error messages).
    pub(crate) fn from_json_value_at(
        value: &Value,
        path: impl Into<String>,
    ) -> Result<Record, JsonError> {
        let path: String = path.into();
        let Value::Object(map) = value else {
            return Err(JsonError::at(
                path,
                "a record must be a JSON object with a \"kind\" field",
            ));
        };
        let kind_path = join_field(&path, "kind");
        let kind = match map.get("kind") {
            None => return Err(JsonError::at(path, "missing field `kind`")),
            Some(Value::String(name)) => RecordKind::parse(name).ok_or_else(|| {
                let known: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
                JsonError::at(
                    kind_path.clone(),
                    format!(
                        "unknown record kind {name:?}; expected one of {}",
                        known.join(", ")
                    ),
                )
            })?,
            Some(_) => return Err(JsonError::at(kind_path, "the kind must be a string")),
        };
        let rest = without_field(map, "kind");
        let de = PathDeserializer::new(&rest, path.clone());
        let record = match kind {
            RecordKind::KeyEvent => Record::KeyEvent(KeyEvent::deserialize(de)?),
            RecordKind::InstitutionRegistered => {
                Record::InstitutionRegistered(InstitutionRegistered::deserialize(de)?)
            }
            RecordKind::InstitutionUpdated => {
                Record::InstitutionUpdated(InstitutionUpdated::deserialize(de)?)
            }
            RecordKind::InspectionOpened => {
                Record::InspectionOpened(InspectionOpened::deserialize(de)?)
            }
            RecordKind::Finding => Record::Finding(Finding::deserialize(de)?),
            RecordKind::Decision => Record::Decision(Decision::deserialize(de)?),
            RecordKind::RectificationItem => {
                Record::RectificationItem(RectificationItem::deserialize(de)?)
            }
            RecordKind::RectificationUpdate => {
                Record::RectificationUpdate(RectificationUpdate::deserialize(de)?)
            }
            RecordKind::GradeSet => Record::GradeSet(GradeSet::deserialize(de)?),
            RecordKind::GradeRevision => Record::GradeRevision(GradeRevision::deserialize(de)?),
            RecordKind::ExposureNotice => Record::ExposureNotice(ExposureNotice::deserialize(de)?),
            RecordKind::Correction => {
                // The replacement is read separately so that its errors carry their full path.
                let Value::Object(rest_map) = &rest else {
                    return Err(JsonError::at(path, "a record must be a JSON object"));
                };
                let without_replacement = without_field(rest_map, "replacement");
                let mut correction = Correction::deserialize(PathDeserializer::new(
                    &without_replacement,
                    path.clone(),
                ))?;
                match rest_map.get("replacement") {
                    None | Some(Value::Null) => {}
                    Some(replacement) => {
                        let replacement_path = join_field(&path, "replacement");
                        let nested =
                            Record::from_json_value_at(replacement, replacement_path.clone())?;
                        if !nested_kind_allowed(nested.kind()) {
                            return Err(JsonError::at(
                                join_field(&replacement_path, "kind"),
                                format!("a {} cannot be a replacement", nested.kind()),
                            ));
                        }
                        correction.replacement = Some(Box::new(nested));
                    }
                }
                Record::Correction(correction)
            }
        };
        Ok(record)
    }

    /// The JSON file form, pretty-printed.
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The case the record belongs to, if any (for indexes).
    pub fn case_id(&self) -> Option<&CaseId> {
        match self {
            Record::InspectionOpened(r) => Some(&r.case_id),
            Record::Finding(r) => Some(&r.case_id),
            Record::Decision(r) => Some(&r.case_id),
            Record::RectificationItem(r) => r.case_id.as_ref(),
            Record::ExposureNotice(r) => Some(&r.case_id),
            _ => None,
        }
    }

    /// The institution the record is about, if it names exactly one (for indexes).
    pub fn institution(&self) -> Option<InstitutionCode> {
        match self {
            Record::InstitutionRegistered(r) => Some(r.code),
            Record::InstitutionUpdated(r) => Some(r.code),
            Record::InspectionOpened(r) => Some(r.institution.code),
            Record::RectificationItem(r) => Some(r.institution),
            Record::GradeRevision(r) => Some(r.institution),
            Record::ExposureNotice(r) => Some(r.institution.code),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Record {
    /// Reads the JSON file form from any self-describing human-readable format, via a
    /// `serde_json::Value`. The binary payload form is read with `decode_payload`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Err(de::Error::custom(
                "a record has no binary serde form; decode the payload with Record::decode_payload",
            ));
        }
        let value = Value::deserialize(deserializer)?;
        Record::from_json_value(&value).map_err(de::Error::custom)
    }
}

macro_rules! record_from {
    ($($variant:ident),* $(,)?) => {
        $(impl From<$variant> for Record {
            fn from(r: $variant) -> Record {
                Record::$variant(r)
            }
        })*
    };
}
record_from!(
    KeyEvent,
    InstitutionRegistered,
    InstitutionUpdated,
    InspectionOpened,
    Finding,
    Decision,
    RectificationItem,
    RectificationUpdate,
    GradeSet,
    GradeRevision,
    ExposureNotice,
    Correction,
);
