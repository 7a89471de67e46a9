//! `yibao audit`: the city office's audit of a merged ledger (a node's data directory or
//! an export bundle) — the terminal summary, the JSON report and the .xlsx workbook. The
//! audit itself is `yibao_ledger::audit`; this module loads the inputs, shows progress and
//! writes the outputs. The JSON schema and the workbook's sheets are in docs/AUDIT.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use yibao_ledger::audit::{self, AuditOptions, AuditReport, ScoreWeights};
use yibao_ledger::store::{Ledger, StoreError};
use yibao_schema::manifest::Manifest;
use yibao_schema::policy::Policy;
use yibao_schema::record::{Date, Period};

use crate::node_dir::NodeDir;
use crate::output::yuan;

/// Where the merged ledger comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A node's data directory (`--data`).
    Node(PathBuf),
    /// An export bundle (`--bundle`), with the verifier keys pinned for it, or none and
    /// `trust_bundle` to trust the keys the bundle carries.
    Bundle {
        /// The bundle file.
        path: PathBuf,
        /// Pinned verifier keys (vkey form).
        vkeys: Vec<String>,
        /// Trust the bundle's own keys when none is pinned.
        trust_bundle: bool,
    },
}

/// What `yibao audit` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The ledger.
    pub input: Input,
    /// A period (`2025`, `2025-H1`, `2025-Q3`) the tables are restricted to.
    pub period: Option<String>,
    /// Or explicit first and last days.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// The day deadlines are judged against (default: today in Asia/Shanghai).
    pub as_of: Option<String>,
    /// A JSON file of score weights.
    pub weights: Option<PathBuf>,
    /// A manifest file (default: the node's pinned manifest, if any).
    pub manifest: Option<PathBuf>,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
    /// Write the workbook here.
    pub xlsx: Option<PathBuf>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// The rule for reading a bundle: pin the logs' keys (`--vkey`, each a valid verifier key)
/// or say that the bundle's own keys are trusted (`--trust-bundle`).
pub fn check_pinned_keys(vkeys: &[String], trust_bundle: bool) -> Result<()> {
    if vkeys.is_empty() && !trust_bundle {
        bail!(
            "pin the keys of the logs you expect with --vkey (from `yibao checkpoint --vkey`), \
             or pass --trust-bundle to trust the keys the bundle carries"
        );
    }
    for vkey in vkeys {
        yibao_schema::note::VerifierKey::parse(vkey).map_err(|e| {
            anyhow!("--vkey `{vkey}` is not a verifier key (name+keyid+base64): {e}")
        })?;
    }
    Ok(())
}

fn parse_date(what: &str, s: &str) -> Result<Date> {
    Date::parse(s).map_err(|e| anyhow!("--{what} `{s}`: {e}"))
}

/// Today in Asia/Shanghai.
pub fn today_in_china() -> Result<Date> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    let ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    Date::from_timestamp_ms_china(ms).ok_or_else(|| anyhow!("today is outside supported years"))
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let manifest = Manifest::from_json(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    manifest
        .verify(None)
        .map_err(|e| anyhow!("{} does not verify: {e}", path.display()))?;
    Ok(manifest)
}

fn options(request: &Request, manifest: Option<Manifest>) -> Result<AuditOptions> {
    let as_of = match &request.as_of {
        Some(s) => parse_date("as-of", s)?,
        None => today_in_china()?,
    };
    let mut options = AuditOptions::new(as_of);
    if let Some(p) = &request.period {
        if request.from.is_some() || request.to.is_some() {
            bail!("give either --period or --from/--to, not both");
        }
        let period = Period::parse(p).map_err(|e| anyhow!("--period `{p}`: {e}"))?;
        options = options.with_period(period);
    }
    if let Some(s) = &request.from {
        options.from = Some(parse_date("from", s)?);
    }
    if let Some(s) = &request.to {
        options.to = Some(parse_date("to", s)?);
    }
    if let (Some(from), Some(to)) = (options.from, options.to) {
        if from > to {
            bail!("--from {from} is after --to {to}");
        }
    }
    if let Some(path) = &request.weights {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let weights: ScoreWeights = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a score weights object", path.display()))?;
        weights
            .validate()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        options.weights = weights;
    }
    options.manifest = manifest;
    Ok(options)
}

/// A progress bar over `total` entries, fed per log with the entries done in that log.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    base: AtomicU64,
    last: AtomicU64,
}

impl Progress {
    fn new(total: u64, show: bool) -> Progress {
        let bar = (show && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} auditing [{bar:40}] {pos}/{len} entries ({per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            base: AtomicU64::new(0),
            last: AtomicU64::new(0),
        }
    }

    fn update(&self, done_in_log: u64) {
        let last = self.last.swap(done_in_log, Ordering::Relaxed);
        if done_in_log < last {
            // The next log started.
            self.base.fetch_add(last, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.base.load(Ordering::Relaxed) + done_in_log);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs the audit and writes what was asked. Exit 0 when nothing is breached, 1 when
/// breaches were found; an error (exit 2) when the audit could not run.
pub fn run(request: &Request) -> Result<ExitCode> {
    let report = match &request.input {
        Input::Node(data) => {
            let dir = NodeDir::new(data);
            if !dir.ledger_path().join("sled").is_dir() {
                bail!(
                    "{} holds no ledger (expected a node's --data directory)",
                    data.display()
                );
            }
            let manifest = match &request.manifest {
                Some(path) => Some(read_manifest(path)?),
                None if dir.manifest_path().is_file() => Some(read_manifest(&dir.manifest_path())?),
                None => None,
            };
            let policy = manifest
                .as_ref()
                .map(|m| m.body.policy.clone())
                .unwrap_or_default();
            let options = options(request, manifest)?;
            let ledger = match Ledger::open(&dir.ledger_path(), policy) {
                Ok(ledger) => ledger,
                Err(e @ StoreError::Locked(_)) => {
                    return Err(anyhow!(e).context(
                        "the node is running: audit a copy, an export bundle, or stop it first",
                    ))
                }
                Err(e) => bail!("the ledger cannot be opened: {e}"),
            };
            let total = ledger
                .log_codes()
                .iter()
                .filter_map(|c| ledger.size(c).ok())
                .sum();
            let progress = Progress::new(total, request.progress);
            let report = audit::audit_ledger(&ledger, &options, &|n| progress.update(n));
            progress.finish();
            report
        }
        Input::Bundle {
            path,
            vkeys,
            trust_bundle,
        } => {
            check_pinned_keys(vkeys, *trust_bundle)?;
            let manifest = request.manifest.as_deref().map(read_manifest).transpose()?;
            let policy = manifest
                .as_ref()
                .map(|m| m.body.policy.clone())
                .unwrap_or_else(Policy::default);
            let options = options(request, manifest)?;
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let progress = Progress::new(0, false);
            audit::audit_bundle(&bytes, &policy, vkeys, &options, &|n| progress.update(n))
                .map_err(|e| anyhow!("{}: {e}", path.display()))?
        }
    };
    // The files first: a reader who closes the pipe early (`| head`) still gets them.
    let mut written = String::new();
    if let Some(path) = &request.json {
        let text = serde_json::to_string_pretty(&report)?;
        write_atomically(path, text.as_bytes())?;
        written.push_str(&format!("JSON report: {}\n", path.display()));
    }
    if let Some(path) = &request.xlsx {
        let bytes = workbook(&report).map_err(|e| anyhow!("cannot build the workbook: {e}"))?;
        write_atomically(path, &bytes)?;
        written.push_str(&format!("workbook: {}\n", path.display()));
    }
    print_out(&summary(&report))?;
    print_out(&written)?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes a file whole or not at all: a temporary file beside it, synced, then renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Columns a character takes on a terminal: two for Han characters and full-width forms.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF => 2,
            0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// `text` padded with spaces to `width` terminal columns, on the left when `right`.
fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(display_width(text)));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// The terminal summary, in Chinese like the workbook; breach kinds keep their ids (for
/// the JSON report and docs/AUDIT.md) after their Chinese names.
pub fn summary(report: &AuditReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let period = match (&report.from, &report.to) {
        (None, None) => "全部时间".to_string(),
        (from, to) => format!(
            "{} 至 {}",
            from.as_deref().unwrap_or("最早"),
            to.as_deref().unwrap_or("最新")
        ),
    };
    let i = &report.integrity;
    let _ = writeln!(
        out,
        "市级审计（{period}；整改期限以 {} 为准）：{} 个日志，{} 条记录，{} 个检查点",
        report.as_of,
        i.logs.len(),
        i.entries,
        i.checkpoints
    );
    let cosig = if i.cosignatures_unchecked > 0 {
        format!(
            "{} 个见证签名未核验（没有网络清单 manifest）",
            i.cosignatures_unchecked
        )
    } else {
        format!("{} 个见证签名已核验", i.cosignatures_verified)
    };
    let _ = writeln!(
        out,
        "完整性：{} 处失败，{} 次分叉（双重签署），{cosig}",
        i.failures, i.equivocations
    );
    // (header, width, right-aligned); names as wide as the widest.
    let name_width = report
        .counties
        .iter()
        .map(|c| display_width(&c.name))
        .max()
        .unwrap_or(0)
        .max(4);
    let columns: [(&str, usize, bool); 11] = [
        ("排名", 4, true),
        ("区划", 6, false),
        ("名称", name_width, false),
        ("得分", 7, true),
        ("检查", 6, true),
        ("违规事实", 8, true),
        ("追回金额（元）", 17, true),
        ("销号率", 7, true),
        ("逾期", 6, true),
        ("曝光", 5, true),
        ("问题", 6, true),
    ];
    let line = |cells: [String; 11]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(columns)
            .map(|(cell, (_, width, right))| pad(cell, width, right))
            .collect();
        padded.join(" ").trim_end().to_string()
    };
    let _ = writeln!(out, "\n{}", line(columns.map(|(h, _, _)| h.to_string())));
    for c in &report.counties {
        let _ = writeln!(
            out,
            "{}",
            line([
                if c.rank == 0 {
                    "不排名".to_string()
                } else {
                    c.rank.to_string()
                },
                c.county.clone(),
                c.name.clone(),
                format!("{:.2}", c.score),
                c.inspections.to_string(),
                c.findings.to_string(),
                yuan(c.amounts.recovered),
                percent(c.close_out_rate),
                c.items.overdue.to_string(),
                c.notices.to_string(),
                c.breaches.to_string(),
            ])
        );
    }
    if report.is_clean() {
        let _ = writeln!(out, "\n未发现问题");
        return out;
    }
    let _ = writeln!(out, "\n发现问题 {} 处：", report.breach_count);
    for (kind, n) in report.breaches_by_kind() {
        let _ = writeln!(out, "  {}（{kind}）：{n}", breach_label(&kind));
    }
    const SHOWN: usize = 20;
    for b in report.breaches.iter().take(SHOWN) {
        let at = b
            .entries
            .iter()
            .map(|e| format!("{}#{}", e.log, e.seq))
            .collect::<Vec<_>>()
            .join("，");
        let _ = writeln!(
            out,
            "  [{}] {} {}：{}",
            breach_label(&b.kind),
            b.county,
            at,
            b.what
        );
    }
    if report.breaches.len() > SHOWN {
        let _ = writeln!(
            out,
            "  ……另有 {} 处（见 JSON 报告或工作簿）",
            report.breach_count - SHOWN as u64
        );
    }
    out
}

/// A cell of the workbook.
enum Cell {
    Text(String),
    Int(u64),
    /// Fen, shown as yuan with two decimals.
    Yuan(u64),
    /// 0–1, shown as a percentage.
    Rate(f64),
    Real(f64),
}

struct Formats {
    header: Format,
    yuan: Format,
    rate: Format,
    real: Format,
}

fn sheet(
    workbook: &mut Workbook,
    f: &Formats,
    name: &str,
    headers: &[(&str, f64)],
    rows: impl Iterator<Item = Vec<Cell>>,
) -> Result<(), XlsxError> {
    let ws: &mut Worksheet = workbook.add_worksheet();
    ws.set_name(name)?;
    for (col, (header, width)) in headers.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        ws.write_string_with_format(0, col, *header, &f.header)?;
        ws.set_column_width(col, *width)?;
    }
    let mut last_row = 0u32;
    for (r, row) in rows.enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        last_row = r;
        for (c, cell) in row.into_iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s)?,
                Cell::Int(n) => ws.write_number(r, c, n as f64)?,
                Cell::Yuan(fen) => {
                    ws.write_number_with_format(r, c, fen as f64 / 100.0, &f.yuan)?
                }
                Cell::Rate(x) => ws.write_number_with_format(r, c, x, &f.rate)?,
                Cell::Real(x) => ws.write_number_with_format(r, c, x, &f.real)?,
            };
        }
    }
    let last_col = u16::try_from(headers.len().saturating_sub(1)).unwrap_or(0);
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, last_row, last_col)?;
    ws.set_repeat_rows(0, 0)?;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// The label of an inspection type as bureaus write it.
fn inspection_label(id: &str) -> &str {
    match id {
        "daily" => "日常检查",
        "special" => "专项治理",
        "flight" => "飞行检查",
        "cross_county" => "交叉检查",
        "city_direct" => "市局直查",
        "random" => "双随机抽查",
        "smart_monitoring" => "智能监控",
        other => other,
    }
}

const INSPECTION_TYPES: [&str; 7] = [
    "daily",
    "special",
    "flight",
    "cross_county",
    "city_direct",
    "random",
    "smart_monitoring",
];

/// The Chinese name of a breach kind (docs/AUDIT.md), for the workbook.
pub fn breach_label(kind: &str) -> &str {
    match kind {
        "overdue-rectification" => "整改逾期未销号",
        "missing-rectification" => "处理决定未列整改事项",
        "cross-county-reference" => "跨县检查的机构未在所属县登记",
        "equivocation" => "日志分叉（双重签署检查点）",
        "cosignature" => "见证签名无效",
        "integrity" => "完整性问题",
        "dangling-correction" => "更正指向不存在的条目",
        "notice-amount-mismatch" => "曝光金额与处理决定不符",
        "notice-personal-data" => "曝光内容疑含个人信息",
        "credit-repair-lowers-grade" => "信用修复反而降低等级",
        "encoding" => "编码不规范",
        "money" => "金额超出上限",
        "arithmetic" => "金额计算错误",
        "penalty-range" => "处罚倍数或金额超出政策范围",
        "handling-range" => "其他处理超出政策范围",
        "separation-of-duties" => "违反查办分离",
        "grade-ratio" => "信用等级比例不符",
        "grade-score" => "信用评分超出上限",
        "exposure-privacy" => "曝光含个人信息",
        "exposure-reference" => "曝光与案件或处理决定不符",
        "cross-county" => "不当跨县检查",
        "reference" => "引用的记录不存在",
        "authorisation" => "签署人无此权限",
        "transition" => "状态变更不合规",
        "duplicate" => "重复记录",
        "genesis" => "日志创建记录不合规",
        "sequence" => "条目序号错误",
        "origin" => "区划不符",
        "date" => "日期不合规",
        "text" => "文字不合规",
        "legal-basis" => "法律依据不明",
        "institution-code" => "机构编码不合规",
        "correction" => "更正不合规",
        other => other,
    }
}

/// The workbook (Chinese headers): 汇总, 排名, 问题清单, 违规事实, 处理决定, 信用等级, 整改台账,
/// 交叉检查, 月度趋势. Amounts are yuan with two decimals.
pub fn workbook(report: &AuditReport) -> Result<Vec<u8>, XlsxError> {
    let f = Formats {
        header: Format::new().set_bold().set_text_wrap(),
        yuan: Format::new().set_num_format("#,##0.00"),
        rate: Format::new().set_num_format("0.0%"),
        real: Format::new().set_num_format("0.00"),
    };
    let mut wb = Workbook::new();
    let i = &report.integrity;
    let mut summary_rows = vec![
        vec![text("审计基准日"), text(report.as_of.clone())],
        vec![
            text("统计期间"),
            text(match (&report.from, &report.to) {
                (None, None) => "全部".to_string(),
                (a, b) => format!(
                    "{} 至 {}",
                    a.as_deref().unwrap_or("起始"),
                    b.as_deref().unwrap_or("至今")
                ),
            }),
        ],
        vec![text("日志数"), Cell::Int(i.logs.len() as u64)],
        vec![text("已验证条目数"), Cell::Int(i.entries)],
        vec![text("已验证检查点数"), Cell::Int(i.checkpoints)],
        vec![text("已验证见证签名数"), Cell::Int(i.cosignatures_verified)],
        vec![
            text("未验证见证签名数"),
            Cell::Int(i.cosignatures_unchecked),
        ],
        vec![text("完整性问题数"), Cell::Int(i.failures)],
        vec![text("分叉（双重签署）日志数"), Cell::Int(i.equivocations)],
        vec![text("问题总数"), Cell::Int(report.breach_count)],
    ];
    for (kind, n) in report.breaches_by_kind() {
        summary_rows.push(vec![
            text(format!("问题：{}", breach_label(&kind))),
            Cell::Int(n),
        ]);
    }
    sheet(
        &mut wb,
        &f,
        "汇总",
        &[("项目", 28.0), ("数值", 24.0)],
        summary_rows.into_iter(),
    )?;

    let mut headers: Vec<(String, f64)> = vec![
        ("名次".into(), 6.0),
        ("县区代码".into(), 10.0),
        ("医保局".into(), 22.0),
        ("得分".into(), 8.0),
        ("定点机构数".into(), 10.0),
        ("检查数".into(), 8.0),
    ];
    for t in INSPECTION_TYPES {
        headers.push((inspection_label(t).to_string(), 10.0));
    }
    for h in [
        "违规事实数",
        "涉及金额(元)",
        "处理决定数",
        "追回金额(元)",
        "违约金(元)",
        "罚款(元)",
        "合计(元)",
        "整改事项数",
        "已销号",
        "销号率",
        "逾期未销号",
        "曝光数",
        "A",
        "B",
        "C",
        "D",
        "问题数",
    ] {
        headers.push((h.to_string(), 12.0));
    }
    let header_refs: Vec<(&str, f64)> = headers.iter().map(|(h, w)| (h.as_str(), *w)).collect();
    sheet(
        &mut wb,
        &f,
        "排名",
        &header_refs,
        report.counties.iter().map(|c| {
            let mut row = vec![
                // The city office's own log is listed, not ranked.
                if c.rank == 0 {
                    text("不参与排名")
                } else {
                    Cell::Int(u64::from(c.rank))
                },
                text(c.county.clone()),
                text(c.name.clone()),
                Cell::Real(c.score),
                Cell::Int(c.institutions),
                Cell::Int(c.inspections),
            ];
            for t in INSPECTION_TYPES {
                row.push(Cell::Int(
                    c.inspections_by_type.get(t).copied().unwrap_or(0),
                ));
            }
            row.extend([
                Cell::Int(c.findings),
                Cell::Yuan(c.amount_involved),
                Cell::Int(c.decisions),
                Cell::Yuan(c.amounts.recovered),
                Cell::Yuan(c.amounts.damages),
                Cell::Yuan(c.amounts.fines),
                Cell::Yuan(c.amounts.total),
                Cell::Int(c.items.total),
                Cell::Int(c.items.closed_out),
                Cell::Rate(c.close_out_rate),
                Cell::Int(c.items.overdue),
                Cell::Int(c.notices),
            ]);
            row.extend(c.grades.iter().map(|n| Cell::Int(*n)));
            row.push(Cell::Int(c.breaches));
            row
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "问题清单",
        &[
            ("问题类型", 22.0),
            ("问题代码", 14.0),
            ("县区", 8.0),
            ("说明", 60.0),
            ("日志", 8.0),
            ("序号", 8.0),
            ("相关条目", 20.0),
            ("条目地址", 30.0),
            ("包含证明地址", 40.0),
        ],
        report.breaches.iter().map(|b| {
            let first = b.entries.first();
            let related = b
                .entries
                .iter()
                .skip(1)
                .map(|e| format!("{}#{}", e.log, e.seq))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                text(breach_label(&b.kind)),
                text(b.kind.clone()),
                text(b.county.clone()),
                text(b.what.clone()),
                text(first.map(|e| e.log.clone()).unwrap_or_default()),
                first.map_or(text(""), |e| Cell::Int(e.seq)),
                text(related),
                text(first.map(|e| e.entry_url.clone()).unwrap_or_default()),
                text(first.map(|e| e.proof_url.clone()).unwrap_or_default()),
            ]
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "违规事实",
        &[
            ("县区", 8.0),
            ("序号", 8.0),
            ("案件编号", 16.0),
            ("事实编号", 16.0),
            ("机构编码", 16.0),
            ("机构名称", 24.0),
            ("法律依据", 18.0),
            ("违规类型", 24.0),
            ("涉及金额(元)", 14.0),
            ("记录日期", 12.0),
        ],
        report.findings.iter().map(|r| {
            vec![
                text(&*r.county),
                Cell::Int(r.seq),
                text(&*r.case_id),
                text(&*r.finding_id),
                text(&*r.institution),
                text(&*r.institution_name),
                text(&*r.legal_basis_zh),
                text(&*r.pattern_zh),
                Cell::Yuan(r.amount_involved),
                text(r.date.to_string()),
            ]
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "处理决定",
        &[
            ("县区", 8.0),
            ("序号", 8.0),
            ("决定书编号", 16.0),
            ("案件编号", 16.0),
            ("机构编码", 16.0),
            ("决定日期", 12.0),
            ("追回金额(元)", 14.0),
            ("违约金(元)", 14.0),
            ("罚款(元)", 14.0),
            ("合计(元)", 14.0),
            ("倍数", 24.0),
            ("其他处理", 30.0),
        ],
        report.decisions.iter().map(|r| {
            vec![
                text(&*r.county),
                Cell::Int(r.seq),
                text(&*r.decision_id),
                text(&*r.case_id),
                text(&*r.institution),
                text(r.decided_on.to_string()),
                Cell::Yuan(r.amounts.recovered),
                Cell::Yuan(r.amounts.damages),
                Cell::Yuan(r.amounts.fines),
                Cell::Yuan(r.amounts.total),
                text(&*r.multiples),
                text(&*r.handling_zh),
            ]
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "信用等级",
        &[
            ("县区", 8.0),
            ("期间", 8.0),
            ("序号", 8.0),
            ("A", 6.0),
            ("B", 6.0),
            ("C", 6.0),
            ("D", 6.0),
            ("应有A", 8.0),
            ("应有B", 8.0),
            ("应有C", 8.0),
            ("应有D", 8.0),
        ],
        report.grades.iter().map(|g| {
            let mut row = vec![
                text(g.county.clone()),
                text(g.period.clone()),
                Cell::Int(g.seq),
            ];
            row.extend(g.counts.iter().map(|n| Cell::Int(*n)));
            row.extend(g.expected.iter().map(|n| Cell::Int(*n)));
            row
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "整改台账",
        &[
            ("县区", 8.0),
            ("序号", 8.0),
            ("整改事项编号", 16.0),
            ("案件编号", 16.0),
            ("机构编码", 16.0),
            ("整改期限", 12.0),
            ("状态", 10.0),
            ("是否逾期", 10.0),
        ],
        report.rectification.iter().map(|r| {
            vec![
                text(&*r.county),
                Cell::Int(r.seq),
                text(&*r.item_id),
                text(&*r.case_id),
                text(&*r.institution),
                text(r.deadline.to_string()),
                text(audit::status_label(&r.status)),
                text(if r.overdue { "逾期" } else { "" }),
            ]
        }),
    )?;

    sheet(
        &mut wb,
        &f,
        "交叉检查",
        &[("检查方", 10.0), ("被检查方", 10.0), ("检查数", 10.0)],
        // Between counties only: a county's inspections in its own division are in 排名.
        report
            .cross_county
            .iter()
            .filter(|c| c.inspector != c.inspected)
            .map(|c| {
                vec![
                    text(c.inspector.clone()),
                    text(c.inspected.clone()),
                    Cell::Int(c.inspections),
                ]
            }),
    )?;

    sheet(
        &mut wb,
        &f,
        "月度趋势",
        &[
            ("月份", 10.0),
            ("县区", 8.0),
            ("检查数", 8.0),
            ("违规事实数", 10.0),
            ("处理决定数", 10.0),
            ("追回金额(元)", 14.0),
            ("违约金(元)", 14.0),
            ("罚款(元)", 14.0),
            ("合计(元)", 14.0),
            ("曝光数", 8.0),
        ],
        report.monthly.iter().map(|m| {
            vec![
                text(m.month.clone()),
                text(m.county.clone()),
                Cell::Int(m.inspections),
                Cell::Int(m.findings),
                Cell::Int(m.decisions),
                Cell::Yuan(m.amounts.recovered),
                Cell::Yuan(m.amounts.damages),
                Cell::Yuan(m.amounts.fines),
                Cell::Yuan(m.amounts.total),
                Cell::Int(m.notices),
            ]
        }),
    )?;
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn han_characters_take_two_columns() {
        assert_eq!(display_width("141125"), 6);
        assert_eq!(display_width("柳林县医疗保障局"), 16);
        assert_eq!(display_width("追回金额（元）"), 14);
        assert_eq!(pad("排名", 6, true), "  排名");
        assert_eq!(pad("柳林县", 8, false), "柳林县  ");
        // Too wide: never cut, only not padded.
        assert_eq!(pad("柳林县医疗保障局", 4, false), "柳林县医疗保障局");
    }
}
