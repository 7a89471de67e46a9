//! Records in words: the fields of an entry page (`/entries/{log}/{seq}` and the notice
//! page), field by field, and the one-line summary of each record of a case on an
//! institution page. Money is shown in yuan, dates as recorded (China Standard Time),
//! articles, patterns and handling as bureaus write them (第三十八条第一项, 分解住院).
//!
//! Free text that only exposure notices are screened for on submission (a finding's facts,
//! a rectification problem, a reason) is screened here before it is shown, with the same
//! rules (`yibao_schema::rules`): text that looks like personal data beyond a surname is
//! not shown on the page.
//!
//! Fields marked `data-field` (a dotted path into the signed record; `data-money` for fen
//! shown as yuan) are the ones the browser compares with the signed payload
//! (`assets/verify.js`). This module only renders: what it is given was verified (entry
//! pages) or is the node's summary (case lists), as the caller says on the page.

use std::fmt::Write;

use yibao_schema::record::{
    Correction, Decision, ExposureNotice, Finding, GradeRevision, GradeSet, Handling,
    InspectionOpened, InspectionType, InstitutionKind, InstitutionRegistered, InstitutionStatus,
    InstitutionUpdated, Penalty, Record, RectificationItem, RectificationStatus,
    RectificationUpdate, ReferralTarget, RevisionReason, SuspensionScope,
};

use yibao_schema::rules::{find_personal_data, screen_personal_data};

use crate::display::{shanghai_time, yuan};
use crate::html::{escape, query_value, table_open, Lang};

/// The name of a record kind, as the pages show it.
pub(crate) fn kind_label(lang: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "key_event" => ("经办人密钥事件", "officer key event"),
        "institution_registered" => ("机构登记", "institution registered"),
        "institution_updated" => ("机构变更", "institution updated"),
        "inspection_opened" => ("立案检查", "inspection opened"),
        "finding" => ("检查发现", "finding"),
        "decision" => ("处理决定", "decision"),
        "rectification_item" => ("整改事项", "rectification item"),
        "rectification_update" => ("整改进展", "rectification update"),
        "grade_set" => ("信用评价", "grade set"),
        "grade_revision" => ("评价调整", "grade revision"),
        "exposure_notice" => ("曝光通报", "exposure notice"),
        "correction" => ("更正", "correction"),
        other => (other, other),
    };
    escape(lang.t(zh, en))
}

fn inspection_type(lang: Lang, t: InspectionType) -> &'static str {
    match t {
        InspectionType::Daily => lang.t("日常检查", "routine inspection"),
        InspectionType::Special => lang.t("专项治理", "special campaign"),
        InspectionType::Flight => lang.t("飞行检查", "flight inspection"),
        InspectionType::CrossCounty => lang.t("县区互查", "cross-county inspection"),
        InspectionType::CityDirect => lang.t("市局直查", "city direct inspection"),
        InspectionType::Random => lang.t("双随机、一公开", "random selection"),
        InspectionType::SmartMonitoring => lang.t("智能监控", "smart-monitoring alert"),
    }
}

fn institution_kind(lang: Lang, kind: InstitutionKind) -> &'static str {
    match kind {
        InstitutionKind::PublicHospital => lang.t("公立医院", "public hospital"),
        InstitutionKind::PrivateHospital => lang.t("民营医院", "private hospital"),
        InstitutionKind::Clinic => lang.t("诊所", "clinic"),
        InstitutionKind::TownshipHealthCentre => lang.t("乡镇卫生院", "township health centre"),
        InstitutionKind::VillageClinic => lang.t("村卫生室", "village clinic"),
        InstitutionKind::RetailPharmacySingle => {
            lang.t("定点零售药店（单体）", "retail pharmacy (single)")
        }
        InstitutionKind::RetailPharmacyChain => {
            lang.t("定点零售药店（连锁）", "retail pharmacy (chain)")
        }
    }
}

fn institution_status(lang: Lang, status: InstitutionStatus) -> &'static str {
    match status {
        InstitutionStatus::Active => lang.t("正常", "active"),
        InstitutionStatus::Suspended => lang.t("暂停", "suspended"),
        InstitutionStatus::Terminated => lang.t("解除协议", "agreement terminated"),
    }
}

fn rectification_status(lang: Lang, status: RectificationStatus) -> &'static str {
    match status {
        RectificationStatus::Rectifying => lang.t("整改中", "rectifying"),
        RectificationStatus::Verified => lang.t("已核验", "verified"),
        RectificationStatus::ClosedOut => lang.t("已销号", "closed out"),
    }
}

fn revision_reason(lang: Lang, reason: RevisionReason) -> &'static str {
    match reason {
        RevisionReason::Appeal => lang.t("申诉调整", "appeal"),
        RevisionReason::CreditRepair => lang.t("信用修复", "credit repair"),
    }
}

/// Handling other than money: in Chinese as a decision states it; in English by its name.
fn handling(lang: Lang, h: &Handling) -> String {
    match lang {
        Lang::Zh => h.chinese(),
        Lang::En => match h {
            Handling::OrderToCorrect => "order to correct".into(),
            Handling::Summons => "summons".into(),
            Handling::Suspension { scope, months } => match scope {
                SuspensionScope::Department => {
                    format!("the department's insured services suspended for {months} months")
                }
                SuspensionScope::NetworkedSettlement => {
                    format!("networked settlement suspended for {months} months")
                }
            },
            Handling::AgreementTermination => "service agreement terminated".into(),
            Handling::StaffPoints { points } => format!("{points} points for the staff"),
            Handling::Referral { to } => match to {
                ReferralTarget::Police => "referred to the police".into(),
                ReferralTarget::HealthCommission => "referred to the health commission".into(),
                ReferralTarget::DisciplineInspection => "referred to discipline inspection".into(),
            },
        },
    }
}

/// A money penalty: `¥1,234.56（1.5倍）`.
fn penalty(lang: Lang, p: &Penalty) -> String {
    match p.multiple {
        Some(m) => format!(
            "¥{} {}",
            yuan(p.amount.get()),
            escape(&match lang {
                Lang::Zh => format!("（¥{} 的 {m} 倍）", yuan(p.basis.get())),
                Lang::En => format!("({m} × ¥{})", yuan(p.basis.get())),
            })
        ),
        None => format!("¥{}", yuan(p.amount.get())),
    }
}

/// `text` if neither the notices' validity rule nor their screen finds personal data in it.
fn public(text: &str) -> Option<&str> {
    match find_personal_data(text).or_else(|| screen_personal_data(text)) {
        None => Some(text),
        Some(_) => None,
    }
}

fn withheld(lang: Lang) -> String {
    format!(
        "<span class=\"muted withheld\">{}</span>",
        lang.t(
            "（此段文字经自动筛查疑含个人信息，公开页面不予显示）",
            "(not shown: an automatic screen finds what may be personal data in this text)"
        )
    )
}

/// A definition list of a record's fields.
struct Fields {
    out: String,
    /// Whether values carry `data-field` (not inside a correction's replacement, which the
    /// browser does not compare).
    mark: bool,
}

impl Fields {
    fn new(mark: bool) -> Fields {
        Fields {
            out: String::from("<dl class=\"fields\">"),
            mark,
        }
    }

    /// A field whose value is already HTML.
    fn html(&mut self, label: &str, value: &str) {
        let _ = write!(self.out, "<dt>{}</dt><dd>{value}</dd>", escape(label));
    }

    /// A text field, marked as record field `field` when there is one.
    fn text(&mut self, label: &str, field: Option<&str>, value: &str) {
        let value = self.marked(field, &escape(value));
        self.html(label, &value);
    }

    /// Free text that was not screened for personal data when it was signed: shown only if
    /// the notice screens find none in it.
    fn free_text(&mut self, lang: Lang, label: &str, field: Option<&str>, value: &str) {
        match public(value) {
            Some(value) => self.text(label, field, value),
            None => self.html(label, &withheld(lang)),
        }
    }

    /// An amount in fen, shown in yuan.
    fn money(&mut self, label: &str, field: Option<&str>, fen: u64) {
        let attributes = match field {
            Some(field) if self.mark => format!(" data-money data-field=\"{}\"", escape(field)),
            _ => String::new(),
        };
        let value = format!("<span class=\"amount\"{attributes}>¥{}</span>", yuan(fen));
        self.html(label, &value);
    }

    /// `value` (HTML) marked as record field `field`, when fields are marked.
    fn marked(&self, field: Option<&str>, value: &str) -> String {
        match field {
            Some(field) if self.mark => {
                format!("<span data-field=\"{}\">{value}</span>", escape(field))
            }
            _ => value.to_string(),
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</dl>");
        self.out
    }
}

/// A link to an institution's page: `name（code）`, or the code alone.
fn institution_link(lang: Lang, code: &str, name: Option<&str>) -> String {
    let href = lang.href(&format!("/institutions/{}", query_value(code)));
    match name {
        Some(name) => format!(
            "<a href=\"{href}\">{}</a>（{}）",
            escape(name),
            escape(code)
        ),
        None => format!("<a href=\"{href}\">{}</a>", escape(code)),
    }
}

/// The fields of an exposure notice, the institution and its county linked.
pub(crate) fn notice_fields(lang: Lang, n: &ExposureNotice, recorded_ms: Option<u64>) -> String {
    let mut f = Fields::new(true);
    f.text(
        lang.t("通报编号", "Notice number"),
        Some("notice_id"),
        n.notice_id.as_str(),
    );
    f.html(
        lang.t("机构", "Institution"),
        &format!(
            "<a href=\"{}\" data-field=\"institution\">{}</a>（<span data-field=\"institution_code\">{}</span>）",
            lang.href(&format!("/institutions/{}", n.institution.code.as_str())),
            escape(&n.institution.name),
            escape(n.institution.code.as_str())
        ),
    );
    f.html(
        lang.t("所在地", "Location"),
        &format!(
            "<span data-field=\"location\">{}</span> · <a href=\"{}\">{}</a>",
            escape(&n.location),
            lang.href(&format!("/counties/{}", n.institution.division.as_str())),
            escape(n.institution.division.as_str())
        ),
    );
    f.text(
        lang.t("检查单位", "Inspecting body"),
        Some("inspecting_body"),
        &n.inspecting_body,
    );
    f.text(
        lang.t("检查时间", "Inspection period"),
        Some("inspection_period"),
        &n.inspection_period,
    );
    f.text(lang.t("违规事实", "Facts"), Some("facts"), &n.facts);
    f.text(
        lang.t("违规类型", "Categories"),
        None,
        &n.categories.join(lang.t("、", ", ")),
    );
    f.money(
        lang.t("涉及金额", "Amount involved"),
        Some("amount_involved"),
        n.amount_involved.get(),
    );
    f.text(
        lang.t("处理依据", "Legal basis"),
        Some("legal_basis"),
        &n.legal_basis,
    );
    f.text(
        lang.t("处理情况", "Handling"),
        Some("handling"),
        &n.handling,
    );
    f.text(
        lang.t("追回情况", "Recovery"),
        None,
        if n.fully_recovered {
            lang.t("已全部追回", "fully recovered")
        } else {
            lang.t("尚未全部追回", "not yet fully recovered")
        },
    );
    f.html(
        lang.t("案件编号", "Case"),
        &format!(
            "<span data-field=\"case_id\">{}</span> / <span data-field=\"decision_id\">{}</span>",
            escape(n.case_id.as_str()),
            escape(n.decision_id.as_str())
        ),
    );
    f.text(
        lang.t("发布日期", "Published on"),
        Some("published_on"),
        &n.published_on.to_string(),
    );
    recorded(lang, &mut f, recorded_ms);
    f.finish()
}

fn recorded(lang: Lang, f: &mut Fields, recorded_ms: Option<u64>) {
    if let Some(ms) = recorded_ms {
        f.text(
            lang.t("入账时间（北京时间）", "Recorded (Asia/Shanghai)"),
            None,
            &shanghai_time(ms),
        );
    }
}

/// The heading of an entry page, as plain text (to be escaped): the record's kind and its
/// number.
pub(crate) fn record_heading(lang: Lang, record: &Record) -> String {
    let id = match record {
        Record::InstitutionRegistered(r) => r.name.clone(),
        Record::InstitutionUpdated(r) => r.code.as_str().to_string(),
        Record::InspectionOpened(r) => r.case_id.as_str().to_string(),
        Record::Finding(r) => r.finding_id.as_str().to_string(),
        Record::Decision(r) => r.decision_id.as_str().to_string(),
        Record::RectificationItem(r) => r.item_id.as_str().to_string(),
        Record::RectificationUpdate(r) => r.item_id.as_str().to_string(),
        Record::GradeSet(r) => format!("{} {}", r.division.as_str(), r.period),
        Record::GradeRevision(r) => format!("{} {}", r.institution.as_str(), r.period),
        Record::ExposureNotice(r) => r.title.clone(),
        Record::Correction(r) => format!("#{}", r.target_seq),
        Record::KeyEvent(_) => String::new(),
    };
    // The labels hold no character that escaping changes.
    format!("{} {id}", kind_label(lang, record.kind().as_str()))
}

/// The fields of any public record, verified from its signed bytes; `log` is its log (for
/// links to the entries it names).
pub(crate) fn record_fields(
    lang: Lang,
    log: &str,
    record: &Record,
    recorded_ms: Option<u64>,
) -> String {
    if let Record::ExposureNotice(n) = record {
        return notice_fields(lang, n, recorded_ms);
    }
    let mut f = Fields::new(true);
    fields_of(lang, log, record, &mut f);
    recorded(lang, &mut f, recorded_ms);
    f.finish()
}

fn fields_of(lang: Lang, log: &str, record: &Record, f: &mut Fields) {
    match record {
        Record::InspectionOpened(r) => inspection_fields(lang, r, f),
        Record::Finding(r) => finding_fields(lang, r, f),
        Record::Decision(r) => decision_fields(lang, r, f),
        Record::RectificationItem(r) => rectification_item_fields(lang, r, f),
        Record::RectificationUpdate(r) => rectification_update_fields(lang, r, f),
        Record::InstitutionRegistered(r) => registration_fields(lang, r, f),
        Record::InstitutionUpdated(r) => update_fields(lang, r, f),
        Record::GradeSet(r) => grade_set_fields(lang, r, f),
        Record::GradeRevision(r) => grade_revision_fields(lang, r, f),
        Record::Correction(r) => correction_fields(lang, log, r, f),
        Record::ExposureNotice(n) => {
            // Inside a correction only: unmarked, the same fields in words.
            f.text(lang.t("标题", "Title"), None, &n.title);
            f.html(
                lang.t("机构", "Institution"),
                &institution_link(lang, n.institution.code.as_str(), Some(&n.institution.name)),
            );
            f.text(lang.t("违规事实", "Facts"), None, &n.facts);
            f.money(
                lang.t("涉及金额", "Amount involved"),
                None,
                n.amount_involved.get(),
            );
            f.text(lang.t("处理情况", "Handling"), None, &n.handling);
        }
        Record::KeyEvent(_) => f.text(
            lang.t("内容", "Content"),
            None,
            lang.t("经办人密钥事件不公开", "officer key events are not public"),
        ),
    }
}

fn inspection_fields(lang: Lang, r: &InspectionOpened, f: &mut Fields) {
    f.text(
        lang.t("案件编号", "Case"),
        Some("case_id"),
        r.case_id.as_str(),
    );
    f.text(
        lang.t("检查类型", "Inspection type"),
        None,
        inspection_type(lang, r.inspection_type),
    );
    f.html(
        lang.t("被检查机构", "Institution inspected"),
        &format!(
            "<a href=\"{}\"{}>{}</a>（{}）",
            lang.href(&format!(
                "/institutions/{}",
                query_value(r.institution.code.as_str())
            )),
            if f.mark {
                " data-field=\"institution\""
            } else {
                ""
            },
            escape(&r.institution.name),
            f.marked(
                Some("institution_code"),
                &escape(r.institution.code.as_str())
            ),
        ),
    );
    f.text(
        lang.t("检查单位", "Inspecting body"),
        Some("inspecting_body"),
        &r.inspecting_body,
    );
    f.text(
        lang.t("立案日期", "Opened on"),
        Some("opened_on"),
        &r.opened_on.to_string(),
    );
    if let Some(period) = &r.period_covered {
        f.free_text(
            lang,
            lang.t("检查期间", "Period covered"),
            Some("period_covered"),
            period,
        );
    }
    if let Some(basis) = &r.basis {
        f.free_text(
            lang,
            lang.t("案件来源", "Prompted by"),
            Some("basis"),
            basis,
        );
    }
}

fn finding_fields(lang: Lang, r: &Finding, f: &mut Fields) {
    f.text(
        lang.t("案件编号", "Case"),
        Some("case_id"),
        r.case_id.as_str(),
    );
    f.text(
        lang.t("发现编号", "Finding number"),
        Some("finding_id"),
        r.finding_id.as_str(),
    );
    f.text(lang.t("违规类型", "Pattern"), None, r.pattern.chinese());
    f.text(
        lang.t("违反条款", "Legal basis"),
        None,
        &match lang {
            Lang::Zh => format!(
                "《医疗保障基金使用监督管理条例》{}",
                r.legal_basis.chinese()
            ),
            Lang::En => format!(
                "Regulation on the Supervision of Medical Security Funds, {}",
                r.legal_basis
            ),
        },
    );
    f.free_text(lang, lang.t("违规事实", "Facts"), Some("facts"), &r.facts);
    f.money(
        lang.t("涉及金额", "Amount involved"),
        Some("amount_involved"),
        r.amount_involved.get(),
    );
    if !r.evidence.is_empty() {
        let digests: Vec<String> = r
            .evidence
            .iter()
            .map(|d| escape(&hex::encode(d.0)))
            .collect();
        f.html(
            lang.t(
                "证据文件摘要（BLAKE3，文件存于账本之外）",
                "Evidence files (BLAKE3 digests; the files are kept outside the ledger)",
            ),
            &format!("<span class=\"proof\">{}</span>", digests.join("<br>")),
        );
    }
}

fn decision_fields(lang: Lang, r: &Decision, f: &mut Fields) {
    f.text(
        lang.t("案件编号", "Case"),
        Some("case_id"),
        r.case_id.as_str(),
    );
    f.text(
        lang.t("决定编号", "Decision number"),
        Some("decision_id"),
        r.decision_id.as_str(),
    );
    f.text(
        lang.t("决定日期", "Decided on"),
        Some("decided_on"),
        &r.decided_on.to_string(),
    );
    let mut items = table_open(&[
        lang.t("检查发现", "Finding"),
        lang.t("追回", "Recovered"),
        lang.t("违约金", "Damages"),
        lang.t("罚款", "Fine"),
    ]);
    for item in &r.items {
        let _ = write!(
            items,
            "<tr><td>{}</td><td>¥{}</td><td>{}</td><td>{}</td></tr>",
            escape(item.finding_id.as_str()),
            yuan(item.recovered.get()),
            item.damages
                .as_ref()
                .map_or_else(|| "—".to_string(), |p| penalty(lang, p)),
            item.fine
                .as_ref()
                .map_or_else(|| "—".to_string(), |p| penalty(lang, p)),
        );
    }
    items.push_str("</tbody></table></div>");
    f.html(lang.t("逐项处理", "Per finding"), &items);
    if !r.other_handling.is_empty() {
        let list: Vec<String> = r.other_handling.iter().map(|h| handling(lang, h)).collect();
        f.text(
            lang.t("其他处理", "Other handling"),
            None,
            &list.join(lang.t("；", "; ")),
        );
    }
    if let Some(month) = &r.settlement_month {
        f.text(
            lang.t("从该月垫付款中扣减", "Deducted from the advance payment of"),
            Some("settlement_month"),
            &month.to_string(),
        );
    }
    f.money(
        lang.t("追回合计", "Recovered in all"),
        Some("totals.recovered"),
        r.totals.recovered.get(),
    );
    f.money(
        lang.t("违约金合计", "Damages in all"),
        Some("totals.damages"),
        r.totals.damages.get(),
    );
    f.money(
        lang.t("罚款合计", "Fines in all"),
        Some("totals.fines"),
        r.totals.fines.get(),
    );
    f.money(
        lang.t("合计", "Total"),
        Some("totals.total"),
        r.totals.total.get(),
    );
}

fn rectification_item_fields(lang: Lang, r: &RectificationItem, f: &mut Fields) {
    f.text(
        lang.t("整改事项编号", "Item number"),
        Some("item_id"),
        r.item_id.as_str(),
    );
    if let Some(case) = &r.case_id {
        f.text(lang.t("案件编号", "Case"), Some("case_id"), case.as_str());
    }
    f.html(
        lang.t("整改机构", "Institution"),
        &institution_link(lang, r.institution.as_str(), None),
    );
    f.free_text(lang, lang.t("问题", "Problem"), Some("problem"), &r.problem);
    f.text(
        lang.t("整改期限", "Deadline"),
        Some("deadline"),
        &r.deadline.to_string(),
    );
}

fn rectification_update_fields(lang: Lang, r: &RectificationUpdate, f: &mut Fields) {
    f.text(
        lang.t("整改事项编号", "Item number"),
        Some("item_id"),
        r.item_id.as_str(),
    );
    f.text(
        lang.t("状态", "Status"),
        None,
        rectification_status(lang, r.status),
    );
    f.text(lang.t("日期", "On"), Some("on"), &r.on.to_string());
    f.free_text(lang, lang.t("说明", "Note"), Some("note"), &r.note);
}

fn registration_fields(lang: Lang, r: &InstitutionRegistered, f: &mut Fields) {
    f.html(
        lang.t("机构编码", "Institution code"),
        &f.marked(Some("code"), &institution_link(lang, r.code.as_str(), None)),
    );
    f.text(lang.t("名称", "Name"), Some("name"), &r.name);
    f.text(
        lang.t("类别", "Kind"),
        None,
        institution_kind(lang, r.institution_kind),
    );
    f.text(
        lang.t("所在区划", "Division"),
        Some("division"),
        r.division.as_str(),
    );
    f.text(lang.t("地址", "Address"), Some("address"), &r.address);
    if let Some(level) = &r.level {
        f.text(lang.t("等级", "Level"), Some("level"), level);
    }
}

fn update_fields(lang: Lang, r: &InstitutionUpdated, f: &mut Fields) {
    f.html(
        lang.t("机构编码", "Institution code"),
        &f.marked(Some("code"), &institution_link(lang, r.code.as_str(), None)),
    );
    let c = &r.changes;
    if let Some(name) = &c.name {
        f.text(lang.t("新名称", "New name"), Some("changes.name"), name);
    }
    if let Some(address) = &c.address {
        f.text(
            lang.t("新地址", "New address"),
            Some("changes.address"),
            address,
        );
    }
    if let Some(kind) = c.institution_kind {
        f.text(
            lang.t("新类别", "New kind"),
            None,
            institution_kind(lang, kind),
        );
    }
    if let Some(status) = c.status {
        f.text(
            lang.t("协议状态", "Agreement status"),
            None,
            institution_status(lang, status),
        );
    }
    if let Some(level) = &c.level {
        f.text(lang.t("新等级", "New level"), Some("changes.level"), level);
    }
    f.free_text(lang, lang.t("原因", "Reason"), Some("reason"), &r.reason);
}

fn grade_set_fields(lang: Lang, r: &GradeSet, f: &mut Fields) {
    f.text(
        lang.t("区划代码", "Division"),
        Some("division"),
        r.division.as_str(),
    );
    f.text(
        lang.t("评价期", "Period"),
        Some("period"),
        &r.period.to_string(),
    );
    let mut rows = table_open(&[
        lang.t("机构", "Institution"),
        lang.t("等级", "Grade"),
        lang.t("分数", "Score"),
    ]);
    for g in &r.grades {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td></tr>",
            institution_link(lang, g.institution.as_str(), None),
            escape(g.grade.as_str()),
            g.score,
        );
    }
    rows.push_str("</tbody></table></div>");
    f.html(lang.t("评价结果", "Grades"), &rows);
}

fn grade_revision_fields(lang: Lang, r: &GradeRevision, f: &mut Fields) {
    f.html(
        lang.t("机构", "Institution"),
        &institution_link(lang, r.institution.as_str(), None),
    );
    f.text(
        lang.t("评价期", "Period"),
        Some("period"),
        &r.period.to_string(),
    );
    f.text(
        lang.t("新等级", "New grade"),
        Some("grade"),
        r.grade.as_str(),
    );
    f.text(lang.t("新分数", "New score"), None, &r.score.to_string());
    f.text(
        lang.t("调整类型", "Revised by"),
        None,
        revision_reason(lang, r.reason_kind),
    );
    f.free_text(lang, lang.t("理由", "Reason"), Some("reason"), &r.reason);
}

fn correction_fields(lang: Lang, log: &str, r: &Correction, f: &mut Fields) {
    f.html(
        lang.t("更正的条目", "Entry corrected"),
        &format!(
            "<a href=\"{}\">{} #{}</a>（{}）",
            lang.href(&format!("/entries/{}/{}", query_value(log), r.target_seq)),
            escape(log),
            r.target_seq,
            kind_label(lang, r.target_kind.as_str()),
        ),
    );
    f.free_text(
        lang,
        lang.t("更正理由", "Reason"),
        Some("reason"),
        &r.reason,
    );
    match &r.replacement {
        None => f.text(
            lang.t("更正结果", "Result"),
            None,
            lang.t("撤销原条目", "the entry is withdrawn"),
        ),
        Some(replacement) => {
            let mut inner = Fields::new(false);
            fields_of(lang, log, replacement, &mut inner);
            f.html(lang.t("更正后的记录", "Replaced by"), &inner.finish());
        }
    }
}

/// One line saying what a record of a case is: `分解住院 · 第三十八条第一项 · ¥1,234.56`.
/// From the node's JSON summary (the entry page verifies).
pub(crate) fn case_summary(lang: Lang, record: &Record) -> String {
    let text = match record {
        Record::InspectionOpened(r) => format!(
            "{} · {} {}",
            inspection_type(lang, r.inspection_type),
            r.opened_on,
            lang.t("立案", "opened")
        ),
        Record::Finding(r) => format!(
            "{} · {} · ¥{}",
            r.pattern.chinese(),
            match lang {
                Lang::Zh => r.legal_basis.chinese(),
                Lang::En => r.legal_basis.to_string(),
            },
            yuan(r.amount_involved.get())
        ),
        Record::Decision(r) => format!(
            "{} {} · {} ¥{}",
            r.decided_on,
            lang.t("决定", "decided"),
            lang.t(
                "追回、违约金及罚款合计",
                "recovered, damages and fines in all"
            ),
            yuan(r.totals.total.get())
        ),
        Record::RectificationItem(r) => format!(
            "{} · {} {}",
            public(&r.problem).unwrap_or(lang.t("（问题描述不予显示）", "(problem not shown)")),
            lang.t("期限", "deadline"),
            r.deadline
        ),
        Record::RectificationUpdate(r) => {
            format!("{} · {}", rectification_status(lang, r.status), r.on)
        }
        Record::ExposureNotice(r) => format!("{} · {}", r.title, r.published_on),
        other => return kind_label(lang, other.kind().as_str()),
    };
    escape(&text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn finding(facts: &str) -> Record {
        Record::from_json_value(&json!({
            "kind": "finding", "case_id": "141125-2021-000001",
            "finding_id": "141125-2021-000001-F1",
            "legal_basis": { "article": 38, "item": 1 }, "pattern": "split_hospitalisation",
            "facts": facts, "amount_involved": 123_456, "evidence": [],
        }))
        .unwrap()
    }

    #[test]
    fn a_finding_in_words_with_yuan_and_the_article() {
        let html = record_fields(Lang::Zh, "141125", &finding("患者景某分解住院3次。"), None);
        assert!(html.contains("<span data-field=\"facts\">患者景某分解住院3次。</span>"));
        assert!(html.contains("data-money data-field=\"amount_involved\">¥1,234.56</span>"));
        assert!(html.contains("《医疗保障基金使用监督管理条例》第三十八条第一项"));
        assert!(html.contains("分解住院"));
        let english = record_fields(Lang::En, "141125", &finding("x"), None);
        assert!(english.contains("Amount involved") && english.contains("Art. 38 (1)"));
    }

    #[test]
    fn other_handling_is_stated_in_each_language() {
        let handlings = [
            Handling::Referral {
                to: ReferralTarget::Police,
            },
            Handling::Suspension {
                scope: SuspensionScope::NetworkedSettlement,
                months: 6,
            },
        ];
        let zh: Vec<String> = handlings.iter().map(|h| handling(Lang::Zh, h)).collect();
        assert_eq!(zh, ["移交公安机关", "暂停医保联网结算6个月"]);
        let en: Vec<String> = handlings.iter().map(|h| handling(Lang::En, h)).collect();
        assert_eq!(
            en,
            [
                "referred to the police",
                "networked settlement suspended for 6 months"
            ]
        );
    }

    #[test]
    fn free_text_that_looks_like_personal_data_is_not_shown() {
        for facts in [
            "经查，患者张三丰在该院挂床住院。",
            "院长王建国指使分解住院。",
        ] {
            let html = record_fields(Lang::Zh, "141125", &finding(facts), None);
            assert!(!html.contains(facts), "{html}");
            assert!(!html.contains("data-field=\"facts\""), "{html}");
            assert!(html.contains("不予显示"), "{html}");
            // The rest of the record is still shown.
            assert!(html.contains("¥1,234.56"), "{html}");
        }
        let item = Record::from_json_value(&json!({
            "kind": "rectification_item", "item_id": "R1", "institution": "H14112500001",
            "problem": "患者张三丰的病历缺失", "deadline": "2022-01-01",
        }))
        .unwrap();
        let summary = case_summary(Lang::Zh, &item);
        assert!(
            !summary.contains("张三丰") && summary.contains("不予显示"),
            "{summary}"
        );
    }
}
