//! The pages. Every value from the ledger goes through `escape` (or is a number).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Html;
use serde_json::Value;
use yibao_schema::record::Record;

use crate::display::{shanghai_time, yuan};
use crate::html::{escape, frozen_flag, page, query_value, row_badge_cell, table_open, Lang};
use crate::records::{self, kind_label};
use crate::verify::{self, u64_of, CheckedCheckpoint, CheckedEntry, LogInfo};
use crate::{fetch_ok, AppState, PageError};

type PageResult = Result<Html<String>, PageError>;
type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

/// Notices per page of the list.
const PER_PAGE: u64 = 20;
/// The most notices read for a county page or a search (pages of 100).
const MAX_SCAN_PAGES: u64 = 50;
/// The longest search text.
const MAX_QUERY_CHARS: usize = 64;

/// The language and the other parameters; a query that does not parse is a 400.
fn params(query: QueryParams) -> Result<(Lang, HashMap<String, String>), PageError> {
    match query {
        Ok(Query(map)) => Ok((Lang::from_param(map.get("lang").map(String::as_str)), map)),
        Err(e) => Err(PageError::bad(Lang::Zh, format!("bad query: {e}"))),
    }
}

fn path_error(lang: Lang, e: PathRejection) -> PageError {
    PageError::bad(lang, format!("bad path: {e}"))
}

fn valid_log(lang: Lang, log: &str) -> Result<(), PageError> {
    if log.len() == 6 && log.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PageError::bad(
            lang,
            format!(
                "`{log}`: {}",
                lang.t(
                    "不是6位行政区划代码",
                    "not a 6-digit administrative division code"
                )
            ),
        ))
    }
}

fn is_institution_code(code: &str) -> bool {
    code.len() == 12
        && matches!(code.as_bytes().first(), Some(b'H' | b'P'))
        && code.bytes().skip(1).all(|b| b.is_ascii_digit())
}

/// One row of a notice list, from the node's JSON (a summary; the notice page verifies).
fn notice_row(lang: Lang, n: &Value) -> String {
    let r = &n["record"];
    let log = n["log"].as_str().unwrap_or_default();
    let seq = u64_of(&n["seq"]);
    let frozen = if n["frozen"].as_bool().unwrap_or(false) {
        format!(
            " <span class=\"badge bad\">{}</span>",
            lang.t("日志已冻结", "frozen log")
        )
    } else {
        String::new()
    };
    format!(
        "<tr><td>{date}</td><td><a href=\"{href}\">{title}</a>{frozen}<br><span class=\"muted\">{inst}</span></td><td>¥{amount}</td><td class=\"muted\">{log} #{seq}</td></tr>",
        date = escape(r["published_on"].as_str().unwrap_or_default()),
        href = lang.href(&format!("/notices/{}/{seq}", query_value(log))),
        title = escape(r["title"].as_str().unwrap_or_default()),
        inst = escape(r["institution"]["name"].as_str().unwrap_or_default()),
        amount = yuan(u64_of(&r["amount_involved"])),
        log = escape(log),
    )
}

fn notice_table(lang: Lang, notices: &[Value]) -> String {
    if notices.is_empty() {
        return format!(
            "<p>{}</p>",
            lang.t("暂无曝光通报。", "No exposure notices.")
        );
    }
    let mut out = table_open(&[
        lang.t("发布日期", "Published"),
        lang.t("通报", "Notice"),
        lang.t("涉及金额", "Amount involved"),
        lang.t("日志 / 序号", "Log / seq"),
    ]);
    for n in notices {
        out.push_str(&notice_row(lang, n));
    }
    out.push_str("</tbody></table></div>");
    out.push_str(&format!(
        "<p class=\"muted\">{}</p>",
        lang.t(
            "列表为节点提供的摘要；打开每条通报即在服务器端核验其签名检查点与包含证明。",
            "The list is the node's summary; opening a notice verifies it against the signed checkpoint and an inclusion proof."
        )
    ));
    out
}

/// Every notice the node holds (newest first), up to `MAX_SCAN_PAGES` pages of 100.
async fn all_notices(state: &AppState, lang: Lang) -> Result<Vec<Value>, PageError> {
    let mut out = Vec::new();
    for page_no in 1..=MAX_SCAN_PAGES {
        let v = fetch_ok(
            &*state.source,
            lang,
            &format!("/v1/notices?page={page_no}&per_page=100"),
        )
        .await?;
        let list = v["notices"].as_array().cloned().unwrap_or_default();
        let total = u64_of(&v["total"]);
        let empty = list.is_empty();
        out.extend(list);
        if empty || out.len() as u64 >= total {
            break;
        }
    }
    Ok(out)
}

/// Whether a log is a city office's own (a division code ending in 00, as the audit ranks
/// them) rather than a county bureau's.
fn is_city_office(code: &str) -> bool {
    code.len() == 6 && code.ends_with("00")
}

/// The home page's list of the bureaus whose logs the source holds, counties first and the
/// city office after them: name and division code (linking to the county page), how many
/// notices each has published, its latest checkpoint (size, whether its signature holds)
/// and when the newest entry that checkpoint covers was signed.
async fn county_table(state: &AppState, lang: Lang) -> Result<String, PageError> {
    let logs = state.cache.logs(&*state.source, lang).await?;
    let mut ordered: Vec<&LogInfo> = logs.iter().collect();
    ordered.sort_by_key(|l| (is_city_office(&l.log), l.log.clone()));
    let mut out = format!(
        "<section id=\"counties\"><h2>{}</h2>",
        lang.t(
            "各县（区）与市医保局账本",
            "Logs of the county and city bureaus"
        )
    );
    if ordered.is_empty() {
        let _ = write!(
            out,
            "<p>{}</p></section>",
            lang.t("该节点尚无任何日志。", "The node holds no log yet.")
        );
        return Ok(out);
    }
    out.push_str(&table_open(&[
        lang.t("医保局 / 区划代码", "Bureau / division code"),
        lang.t("曝光通报", "Exposure notices"),
        lang.t("最新签名检查点", "Latest signed checkpoint"),
        lang.t("最新条目时间（北京时间）", "Newest entry (Asia/Shanghai)"),
    ]));
    for info in ordered {
        let href = lang.href(&format!("/counties/{}", query_value(&info.log)));
        let level = if is_city_office(&info.log) {
            lang.t("市局", "city office")
        } else {
            lang.t("县级", "county")
        };
        let frozen = if info.frozen {
            format!(
                " <span class=\"badge bad\">{}</span>",
                lang.t("日志已冻结", "frozen log")
            )
        } else {
            String::new()
        };
        let notices = match info.notices {
            Some(n) => format!(
                "<a href=\"{}#notices\" data-notices=\"{n}\">{}</a>",
                href,
                escape(&match lang {
                    Lang::Zh => format!("{n} 条"),
                    Lang::En => format!("{n}"),
                })
            ),
            None => "—".to_string(),
        };
        // The checkpoint as read and checked for the notice pages (kept a second).
        let checkpoint = match state
            .cache
            .checkpoint(&*state.source, lang, info, &logs)
            .await
        {
            Err(e) => format!(
                "<span class=\"badge bad\">{}</span> <span class=\"muted\">{}</span>",
                lang.t("无法读取", "cannot be read"),
                escape(&e.message)
            ),
            Ok(known) => {
                let size = known
                    .checked
                    .size()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "—".into());
                let badge = match &known.checked.problem {
                    None => format!(
                        "<span class=\"badge ok\">✔ {}</span>",
                        lang.t("签名有效", "signature valid")
                    ),
                    Some(p) => format!(
                        "<span class=\"badge bad\" title=\"{}\">✘ {}</span>",
                        escape(p),
                        lang.t("未通过核验", "NOT VERIFIED")
                    ),
                };
                format!(
                    "<span data-checkpoint-size=\"{size}\">{}</span> {badge}",
                    escape(&match lang {
                        Lang::Zh => format!("{size} 条"),
                        Lang::En => format!("{size} entries"),
                    })
                )
            }
        };
        let latest = info
            .latest_entry_ms
            .map(shanghai_time)
            .unwrap_or_else(|| "—".into());
        let _ = write!(
            out,
            "<tr data-log=\"{log}\"><td><a href=\"{href}\">{name}</a>{frozen}<br><span class=\"muted\">{log} · {level}</span></td><td>{notices}</td><td>{checkpoint}</td><td>{latest}</td></tr>",
            log = escape(&info.log),
            name = escape(if info.name.is_empty() { &info.log } else { &info.name }),
            level = escape(level),
            latest = escape(&latest),
        );
    }
    let _ = write!(
        out,
        "</tbody></table></div><p class=\"muted\">{}</p></section>",
        lang.t(
            "签名检查点由各医保局以其日志公钥签署，已在服务器端核验；检查点本身不含时间，所示时间为其所含最新条目由经办人签署的时间。点击医保局名称查看该地的检查点与曝光通报。",
            "Each checkpoint is signed with the bureau's log key and checked on the server. A checkpoint carries no time of its own: the time shown is when the newest entry it covers was signed by its officer. Open a bureau for its checkpoint and exposure notices."
        )
    );
    Ok(out)
}

/// Whether `text` is all digits but larger than any seq or page can be.
fn too_large(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u64>().is_err()
}

/// `/`: exposure notices, newest first, 20 a page.
pub(crate) async fn index(State(state): State<AppState>, query: QueryParams) -> PageResult {
    let (lang, map) = params(query)?;
    let page_no: u64 = match map.get("page") {
        None => 1,
        Some(p) => p.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            let reason = if too_large(p) {
                lang.t("页码过大", "the page number is too large")
            } else {
                lang.t("页码须为从1开始的整数", "pages are whole numbers from 1")
            };
            PageError::bad(lang, format!("page `{p}`: {reason}"))
        })?,
    };
    let v = fetch_ok(
        &*state.source,
        lang,
        &format!("/v1/notices?page={page_no}&per_page={PER_PAGE}"),
    )
    .await?;
    let notices = v["notices"]
        .as_array()
        .ok_or_else(|| PageError::upstream(lang, "GET /v1/notices: no `notices` list"))?;
    let total = u64_of(&v["total"]);
    let pages = total.div_ceil(PER_PAGE).max(1);
    if page_no > pages {
        return Err(PageError::not_found(
            lang,
            format!(
                "{} {page_no} ({} {pages})",
                lang.t("没有第", "there is no page"),
                lang.t("共", "of")
            ),
        ));
    }
    let mut body = format!(
        "<h1>{}</h1>",
        lang.t("医保基金违法违规案件曝光", "Exposure notices"),
    );
    if page_no == 1 {
        body.push_str(&county_table(&state, lang).await?);
    }
    let _ = write!(
        body,
        "<section id=\"notices\"><h2>{}</h2><p>{}</p>",
        lang.t("曝光通报", "Notices of every log"),
        escape(&match lang {
            Lang::Zh => format!("共 {total} 条，按发布日期由新到旧。第 {page_no} / {pages} 页。"),
            Lang::En => {
                format!("{total} notices, latest publication first. Page {page_no} of {pages}.")
            }
        })
    );
    body.push_str(&notice_table(lang, notices));
    body.push_str("</section>");
    body.push_str("<nav class=\"pages\">");
    if page_no > 1 {
        let _ = write!(
            body,
            "<a rel=\"prev\" href=\"{}\">← {}</a> ",
            lang.href(&format!("/?page={}", page_no - 1)),
            lang.t("上一页", "Newer")
        );
    }
    if page_no < pages {
        let _ = write!(
            body,
            "<a rel=\"next\" href=\"{}\">{} →</a>",
            lang.href(&format!("/?page={}", page_no + 1)),
            lang.t("下一页", "Older")
        );
    }
    body.push_str("</nav>");
    let self_path = if page_no > 1 {
        format!("/?page={page_no}")
    } else {
        "/".to_string()
    };
    Ok(Html(page(
        lang,
        lang.t("曝光通报", "Exposure notices"),
        &self_path,
        &body,
    )))
}

fn cosigner_list(lang: Lang, c: &CheckedCheckpoint) -> String {
    if c.cosigners.is_empty() {
        return escape(lang.t("暂无见证联署", "none yet"));
    }
    let mut out = String::from("<ul class=\"cosigners\">");
    for cosigner in &c.cosigners {
        let line = match (&cosigner.bureau, &cosigner.problem) {
            (Some(bureau), None) => format!(
                "✔ {bureau} ({}) {} {}",
                cosigner.name,
                lang.t("联署于", "cosigned at"),
                cosigner
                    .timestamp
                    .map(|t| shanghai_time(t.saturating_mul(1000)))
                    .unwrap_or_default()
            ),
            (Some(bureau), Some(problem)) => format!(
                "✘ {bureau} ({}) {}: {problem}",
                cosigner.name,
                lang.t("联署无效", "cosignature does NOT verify")
            ),
            (None, _) => format!(
                "? {} {}",
                cosigner.name,
                lang.t("（未知见证方，未核验）", "(unknown witness, not checked)")
            ),
        };
        let _ = write!(out, "<li>{}</li>", escape(&line));
    }
    out.push_str("</ul>");
    out
}

fn checkpoint_block(lang: Lang, log: &LogInfo, c: &CheckedCheckpoint) -> String {
    let (class, label) = match &c.problem {
        None => (
            "ok",
            lang.t("检查点签名有效", "checkpoint signature valid")
                .to_string(),
        ),
        Some(p) => (
            "bad",
            format!(
                "{} ({p})",
                lang.t("检查点未通过核验", "checkpoint NOT VERIFIED")
            ),
        ),
    };
    let root = c
        .checkpoint
        .as_ref()
        .map(|c| hex::encode(c.checkpoint.root))
        .unwrap_or_default();
    format!(
        "<dl class=\"fields proof\"><dt>{}</dt><dd><span class=\"badge {class}\">{}</span></dd>\
<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        lang.t("签名检查点", "Signed checkpoint"),
        escape(&label),
        lang.t("日志", "Log"),
        escape(&format!("{} {}", log.log, log.name)),
        lang.t("检查点规模（条目数）", "Checkpoint size (entries)"),
        c.size()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "—".into()),
        lang.t("根哈希", "Root hash"),
        escape(&root),
        lang.t(
            "日志公钥（请与医保局公布的公钥比对）",
            "Log key (compare it with the key the bureau publishes)"
        ),
        escape(&log.vkey),
        lang.t(
            "见证联署（已在服务器端核验）",
            "Cosignatures (checked on the server)"
        ),
        cosigner_list(lang, c),
    )
}

fn badge(lang: Lang, checked: &CheckedEntry) -> String {
    match &checked.problem {
        None if checked.record.is_some() => format!(
            "<p><span class=\"badge ok\" id=\"verification\">✔ {}</span></p>",
            lang.t("服务器已核验", "verified by the server")
        ),
        None => format!(
            "<p><span class=\"badge bad\" id=\"verification\">✘ {} ({})</span></p>",
            lang.t("未通过核验 NOT VERIFIED", "NOT VERIFIED"),
            lang.t("记录无法解码", "the record does not decode")
        ),
        Some(p) => format!(
            "<p><span class=\"badge bad\" id=\"verification\">✘ {} ({})</span></p>",
            lang.t("未通过核验 NOT VERIFIED", "NOT VERIFIED"),
            escape(p)
        ),
    }
}

/// The in-browser check of a notice: hidden until `verify.js` runs (without scripts the
/// page shows the server's verification only, and says so).
fn browser_check(lang: Lang, checked: &CheckedEntry, kind: &str) -> String {
    format!(
        "<section id=\"browser-check\" class=\"browser-check js-only\" hidden data-log=\"{log}\" data-seq=\"{seq}\" data-vkey=\"{vkey}\" data-kind=\"{kind}\">\
<h2>{title}</h2><p><span class=\"badge pending\" id=\"browser-verification\" data-state=\"pending\">⏳ {pending}</span></p>\
<p class=\"proof\" id=\"browser-details\"></p><p class=\"muted\">{cosig}</p><ul class=\"proof\" id=\"browser-cosignatures\"></ul>\
<p class=\"muted\">{explain}</p></section>\
<noscript><p class=\"muted\" id=\"no-script\">{noscript}</p></noscript>",
        log = escape(&checked.log.log),
        seq = checked.seq,
        vkey = escape(&checked.log.vkey),
        kind = escape(kind),
        title = lang.t("浏览器核验", "Verification in your browser"),
        pending = lang.t("正在浏览器中验证…", "verifying in your browser…"),
        cosig = lang.t("见证联署（浏览器核验）：", "Cosignatures (checked by your browser):"),
        explain = lang.t(
            "您的浏览器从本站取得已签名的条目字节、包含证明与签名检查点，自行计算 BLAKE3 叶子哈希与审计路径，并用 WebCrypto 核验 Ed25519 签名，无需信任本站服务器；请将上述日志公钥与医保局公布的公钥比对。",
            "Your browser fetches the signed entry bytes, the inclusion proof and the signed checkpoint, recomputes the BLAKE3 leaf hash and audit path, and checks the Ed25519 signatures with WebCrypto, without trusting this site's server; compare the log key with the one the bureau publishes."
        ),
        noscript = lang.t(
            "浏览器未运行脚本：以上为服务器端核验结果。",
            "Scripts are off: the verification shown is the server's."
        ),
    )
}

/// `/notices/{log}/{seq}`: one exposure notice, verified before display.
pub(crate) async fn notice(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: QueryParams,
) -> PageResult {
    entry_page(state, path, query, true).await
}

/// `/entries/{log}/{seq}`: any public entry — a case's inspection, findings, decision and
/// rectification, a registration, grades, a correction — verified before display as a
/// notice is, its record shown in words. Key events are not public (the source withholds
/// them).
pub(crate) async fn entry(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: QueryParams,
) -> PageResult {
    entry_page(state, path, query, false).await
}

/// A verified entry's page; `notices_only` refuses any other kind (the notice route).
async fn entry_page(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    query: QueryParams,
    notices_only: bool,
) -> PageResult {
    let (lang, _) = params(query)?;
    let Path((log, seq_text)) = path.map_err(|e| path_error(lang, e))?;
    valid_log(lang, &log)?;
    let seq: u64 = seq_text.parse().map_err(|_| {
        let reason = if too_large(&seq_text) {
            lang.t("序号过大", "too large")
        } else {
            lang.t("序号须为非负整数", "not a whole number")
        };
        PageError::bad(lang, format!("seq `{seq_text}`: {reason}"))
    })?;
    let checked = verify::entry(&state.cache, &*state.source, lang, &log, seq).await?;
    if let Some(other) = &checked.record {
        if notices_only && !matches!(other, Record::ExposureNotice(_)) {
            return Err(PageError::not_found(
                lang,
                format!(
                    "{log} #{seq}: {} ({}); {} /entries/{log}/{seq}",
                    lang.t("该条目不是曝光通报", "this entry is not an exposure notice"),
                    other.kind().as_str(),
                    lang.t("该条目见", "see"),
                ),
            ));
        }
    }
    let self_path = if notices_only {
        format!("/notices/{log}/{seq}")
    } else {
        format!("/entries/{log}/{seq}")
    };
    let mut body = String::new();
    if checked.log.frozen {
        body.push_str(&frozen_flag(lang, &log));
    }
    let title = match &checked.record {
        Some(record) => {
            let title = match record {
                Record::ExposureNotice(n) => {
                    let _ = write!(body, "<h1 data-field=\"title\">{}</h1>", escape(&n.title));
                    n.title.clone()
                }
                other => {
                    let heading = records::record_heading(lang, other);
                    let _ = write!(body, "<h1>{}</h1>", escape(&heading));
                    heading
                }
            };
            body.push_str(&badge(lang, &checked));
            if !checked.verified() {
                let _ = write!(
                    body,
                    "<p class=\"badge bad\">{}</p>",
                    lang.t(
                        "以下内容未通过核验，可能已被篡改，不可作为依据。",
                        "The content below did not verify and may have been altered; do not rely on it."
                    )
                );
            }
            body.push_str(&browser_check(lang, &checked, record.kind().as_str()));
            body.push_str(&records::record_fields(
                lang,
                &log,
                record,
                checked.timestamp_ms,
            ));
            title
        }
        None => {
            let what = if notices_only {
                lang.t("曝光通报", "Exposure notice")
            } else {
                lang.t("条目", "Entry")
            };
            let _ = write!(body, "<h1>{what} {} #{seq}</h1>", escape(&log));
            body.push_str(&badge(lang, &checked));
            format!("{log} #{seq}")
        }
    };
    let _ = write!(
        body,
        "<h2>{}</h2><dl class=\"fields proof\"><dt>{}</dt><dd>{} #{seq}</dd><dt>{}</dt><dd>{}</dd></dl>",
        lang.t("核验信息", "Verification"),
        lang.t("日志 / 序号", "Log / seq"),
        escape(&log),
        lang.t("叶子哈希（由签名条目字节重新计算）", "Leaf hash (recomputed from the signed entry bytes)"),
        checked.leaf_hash.map(hex::encode).unwrap_or_else(|| "—".into()),
    );
    body.push_str(&checkpoint_block(lang, &checked.log, &checked.checkpoint));
    Ok(Html(page(lang, &title, &self_path, &body)))
}

/// The start of a grade row that the browser re-checks (`tr.browser-check`).
fn grade_row_start(log: &str, seq: u64, institution: &str, vkey: Option<&String>) -> String {
    format!(
        "<tr class=\"browser-check\" data-log=\"{}\" data-seq=\"{seq}\" data-institution=\"{}\" data-vkey=\"{}\">",
        escape(log),
        escape(institution),
        escape(vkey.map(String::as_str).unwrap_or_default())
    )
}

/// The most cases of one institution shown with every record (one read each); the others
/// show the records that name the institution.
const MAX_CASES_READ: usize = 50;

/// One record of a case: its kind, a line saying what it is, linking to its verified page
/// (the notice page for a notice, the entry page for the others).
fn case_row(lang: Lang, log: &str, e: &Value) -> String {
    let seq = u64_of(&e["seq"]);
    let kind = e["kind"].as_str().unwrap_or_default();
    let path = if kind == "exposure_notice" {
        format!("/notices/{}/{seq}", query_value(log))
    } else {
        format!("/entries/{}/{seq}", query_value(log))
    };
    let summary = Record::from_json_value(&e["record"])
        .map(|r| records::case_summary(lang, &r))
        .unwrap_or_else(|_| kind_label(lang, kind));
    format!(
        "<tr data-kind=\"{}\"><td>{}</td><td><a href=\"{}\">{summary}</a></td><td class=\"muted\">{} #{seq}</td></tr>",
        escape(kind),
        kind_label(lang, kind),
        lang.href(&path),
        escape(log),
    )
}

/// The institution's cases, each with every record of it in order (inspection, findings,
/// decision, rectification, notice), read from the source's case index; `known` are the
/// entries naming the institution, by case, shown when a case cannot be read. Logs found
/// frozen are added to `frozen_logs`.
async fn case_sections(
    state: &AppState,
    lang: Lang,
    known: &BTreeMap<(String, String), Vec<Value>>,
    frozen_logs: &mut Vec<String>,
) -> Result<String, PageError> {
    let mut out = String::new();
    for (i, ((log, case_id), named)) in known.iter().enumerate() {
        let mut entries = Vec::new();
        if i < MAX_CASES_READ {
            let path = format!(
                "/v1/logs/{}/cases/{}",
                query_value(log),
                query_value(case_id)
            );
            let (status, v) = crate::fetch_json(&*state.source, lang, &path).await?;
            if status == 200 {
                entries = v["entries"].as_array().cloned().unwrap_or_default();
            }
        }
        if entries.is_empty() {
            entries.clone_from(named);
        }
        if entries.iter().any(|e| e["frozen"].as_bool() == Some(true)) && !frozen_logs.contains(log)
        {
            frozen_logs.push(log.clone());
        }
        let rows: String = entries.iter().map(|e| case_row(lang, log, e)).collect();
        let head = table_open(&[
            lang.t("记录", "Record"),
            lang.t(
                "内容（节点摘要，打开即核验）",
                "What it says (the node's summary; open it to verify)",
            ),
            lang.t("日志 / 序号", "Log / seq"),
        ]);
        let _ = write!(
            out,
            "<section class=\"case\" data-case=\"{case}\"><h3>{} {case} <span class=\"muted\">· {} {}</span></h3>\
{head}{rows}</tbody></table></div></section>",
            lang.t("案件", "Case"),
            lang.t("日志", "log"),
            escape(log),
            case = escape(case_id),
        );
    }
    Ok(out)
}

/// `/institutions/{code}`: grade history, cases and notices.
pub(crate) async fn institution(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> PageResult {
    let (lang, _) = params(query)?;
    let Path(code) = path.map_err(|e| path_error(lang, e))?;
    if !is_institution_code(&code) {
        return Err(PageError::bad(
            lang,
            format!(
                "`{code}`: {}",
                lang.t(
                    "不是机构编码（H或P加11位数字）",
                    "not an institution code (H or P and 11 digits)"
                )
            ),
        ));
    }
    let v = fetch_ok(&*state.source, lang, &format!("/v1/institutions/{code}")).await?;
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    // Each log's key, for the browser to check grade rows against.
    let vkeys: HashMap<String, String> = verify::logs(&*state.source, lang)
        .await?
        .into_iter()
        .map(|l| (l.log, l.vkey))
        .collect();
    let mut name = String::new();
    let mut frozen_logs: Vec<String> = Vec::new();
    // (period, log, seq, row): sorted by period so that a revision stands under its set.
    let mut grade_rows: Vec<(String, String, u64, String)> = Vec::new();
    // One row of the grade table; `note` follows the period (a revision's kind and reason).
    let grade_row = |log: &str,
                     seq: u64,
                     period: &str,
                     note: &str,
                     grade: &Value,
                     score: &Value| {
        let row = format!(
            "{}<td><span data-field=\"period\">{}</span>{note}</td><td><strong data-field=\"grade\">{}</strong></td><td data-field=\"score\">{}</td><td class=\"muted\">{} #{seq}</td>{}</tr>",
            grade_row_start(log, seq, &code, vkeys.get(log)),
            escape(period),
            escape(grade.as_str().unwrap_or_default()),
            u64_of(score),
            escape(log),
            row_badge_cell(lang),
        );
        (period.to_string(), log.to_string(), seq, row)
    };
    // Each case the institution's entries name, by (log, case id), with those entries.
    let mut cases: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut notices = Vec::new();
    for e in &entries {
        let r = &e["record"];
        if let (Some(log), Some(case_id)) = (e["log"].as_str(), r["case_id"].as_str()) {
            cases
                .entry((log.to_string(), case_id.to_string()))
                .or_default()
                .push(e.clone());
        }
        let log = e["log"].as_str().unwrap_or_default().to_string();
        let seq = u64_of(&e["seq"]);
        if e["frozen"].as_bool().unwrap_or(false) && !frozen_logs.contains(&log) {
            frozen_logs.push(log.clone());
        }
        match e["kind"].as_str().unwrap_or_default() {
            "institution_registered" | "institution_updated" => {
                if let Some(n) = r["name"].as_str() {
                    name = n.to_string();
                }
            }
            "grade_set" => {
                for g in r["grades"].as_array().into_iter().flatten() {
                    if g["institution"].as_str() == Some(code.as_str()) {
                        let period = r["period"].as_str().unwrap_or_default();
                        grade_rows.push(grade_row(&log, seq, period, "", &g["grade"], &g["score"]));
                    }
                }
            }
            "grade_revision" => {
                let period = r["period"].as_str().unwrap_or_default();
                let why = match r["reason_kind"].as_str() {
                    Some("credit_repair") => lang.t("信用修复", "credit repair"),
                    Some("appeal") => lang.t("申诉调整", "appeal"),
                    _ => lang.t("调整", "revised"),
                };
                let note = format!(
                    " ({why})<br><span class=\"muted\">{}</span>",
                    escape(r["reason"].as_str().unwrap_or_default())
                );
                grade_rows.push(grade_row(
                    &log,
                    seq,
                    period,
                    &note,
                    &r["grade"],
                    &r["score"],
                ));
            }
            "exposure_notice" => {
                if name.is_empty() {
                    name = r["institution"]["name"].as_str().unwrap_or_default().into();
                }
                notices.push(e.clone());
            }
            _ => {}
        }
    }
    let case_list = case_sections(&state, lang, &cases, &mut frozen_logs).await?;
    let mut body = String::new();
    for log in &frozen_logs {
        body.push_str(&frozen_flag(lang, log));
    }
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"muted\">{} {}</p>",
        escape(if name.is_empty() { &code } else { &name }),
        lang.t("机构编码", "Institution code"),
        escape(&code)
    );
    let _ = write!(
        body,
        "<p class=\"muted\">{}</p><h2>{}</h2>",
        lang.t(
            "本页为节点提供的摘要；曝光通报与案件的每条记录均可打开，逐条核验其签名条目。",
            "This page is the node's summary; open a notice or any record of a case to verify its signed entry."
        ),
        lang.t("信用评价记录", "Grade history")
    );
    grade_rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    let grades: String = grade_rows.into_iter().map(|(_, _, _, row)| row).collect();
    if grades.is_empty() {
        let _ = write!(body, "<p>{}</p>", lang.t("无评价记录。", "No grades."));
    } else {
        let _ = write!(
            body,
            "<div class=\"table\"><table id=\"grades\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"js-only\" hidden>{}</th></tr></thead><tbody>{grades}</tbody></table></div>",
            lang.t("评价期", "Period"),
            lang.t("等级", "Grade"),
            lang.t("分数", "Score"),
            lang.t("日志 / 序号", "Log / seq"),
            lang.t("浏览器核验", "Checked in your browser"),
        );
    }
    let _ = write!(body, "<h2>{}</h2>", lang.t("检查案件", "Cases"));
    if cases.is_empty() {
        let _ = write!(body, "<p>{}</p>", lang.t("无案件记录。", "No cases."));
    } else {
        body.push_str(&case_list);
    }
    let _ = write!(body, "<h2>{}</h2>", lang.t("曝光通报", "Exposure notices"));
    body.push_str(&notice_table(lang, &notices));
    Ok(Html(page(
        lang,
        if name.is_empty() { &code } else { &name },
        &format!("/institutions/{code}"),
        &body,
    )))
}

/// `/counties/{code}`: the county's log, its checkpoint, and its notices.
pub(crate) async fn county(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: QueryParams,
) -> PageResult {
    let (lang, _) = params(query)?;
    let Path(code) = path.map_err(|e| path_error(lang, e))?;
    valid_log(lang, &code)?;
    let logs = verify::logs(&*state.source, lang).await?;
    let info = logs
        .iter()
        .find(|l| l.log == code)
        .cloned()
        .ok_or_else(|| {
            PageError::not_found(
                lang,
                format!(
                    "{code}: {}",
                    lang.t(
                        "该节点没有此县的日志",
                        "the node holds no log of this county"
                    )
                ),
            )
        })?;
    let checkpoint = verify::checkpoint(&*state.source, lang, &info, &logs).await?;
    let notices: Vec<Value> = all_notices(&state, lang)
        .await?
        .into_iter()
        .filter(|n| n["log"].as_str() == Some(code.as_str()))
        .collect();
    let mut body = String::new();
    if info.frozen {
        body.push_str(&frozen_flag(lang, &code));
    }
    let _ = write!(
        body,
        "<h1>{}</h1><p>{} {} · {} {}</p>",
        escape(if info.name.is_empty() {
            &code
        } else {
            &info.name
        }),
        lang.t("区划代码", "Division code"),
        escape(&code),
        lang.t("日志条目数", "Log size"),
        info.size
    );
    body.push_str(&checkpoint_block(lang, &info, &checkpoint));
    let _ = write!(
        body,
        "<h2 id=\"notices\">{} ({})</h2>",
        lang.t("曝光通报", "Exposure notices"),
        notices.len()
    );
    body.push_str(&notice_table(lang, &notices));
    Ok(Html(page(
        lang,
        if info.name.is_empty() {
            &code
        } else {
            &info.name
        },
        &format!("/counties/{code}"),
        &body,
    )))
}

/// `/search?q=`: by institution name, institution code or county code.
pub(crate) async fn search(State(state): State<AppState>, query: QueryParams) -> PageResult {
    let (lang, map) = params(query)?;
    let q = map
        .get("q")
        .map(|s| s.trim())
        .unwrap_or_default()
        .to_string();
    let title = lang.t("搜索", "Search");
    let form = format!(
        "<form action=\"/search\" method=\"get\"><input name=\"q\" value=\"{}\" aria-label=\"{title}\">{}<button>{title}</button></form>",
        escape(&q),
        if lang == Lang::En { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
    );
    if q.is_empty() {
        let body = format!(
            "<h1>{title}</h1>{form}<p>{}</p>",
            lang.t(
                "输入机构名称、机构编码（如 H14112500001）或县级区划代码（如 141125）。",
                "Enter an institution name, an institution code (e.g. H14112500001) or a county code (e.g. 141125)."
            )
        );
        return Ok(Html(page(lang, title, "/search", &body)));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(PageError::bad(
            lang,
            format!(
                "{} {MAX_QUERY_CHARS}",
                lang.t(
                    "搜索内容过长，最多字符数：",
                    "the search text is too long; at most characters:"
                )
            ),
        ));
    }
    let mut institutions: BTreeMap<String, String> = BTreeMap::new();
    let mut counties: Vec<LogInfo> = Vec::new();
    let upper = q.to_ascii_uppercase();
    if is_institution_code(&upper) {
        let (status, v) =
            crate::fetch_json(&*state.source, lang, &format!("/v1/institutions/{upper}")).await?;
        if status == 200 {
            let name = v["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|e| {
                    e["record"]["name"]
                        .as_str()
                        .or(e["record"]["institution"]["name"].as_str())
                })
                .unwrap_or_default()
                .to_string();
            institutions.insert(upper.clone(), name);
        }
    }
    let logs = verify::logs(&*state.source, lang).await?;
    let notices = all_notices(&state, lang).await?;
    let is_county = q.len() == 6 && q.bytes().all(|b| b.is_ascii_digit());
    if !is_county {
        // Every registered institution by name or code (the node's directory, or the
        // bundle's registrations read the same way).
        let (status, v) = crate::fetch_json(
            &*state.source,
            lang,
            &format!("/v1/institutions?q={}", query_value(&q)),
        )
        .await?;
        if status == 200 {
            for found in v["institutions"].as_array().into_iter().flatten() {
                if let (Some(code), Some(name)) = (found["code"].as_str(), found["name"].as_str()) {
                    institutions.insert(code.to_string(), name.to_string());
                }
            }
        }
    }
    for l in logs {
        if l.log == q || (!is_county && !l.name.is_empty() && l.name.contains(&q)) {
            counties.push(l);
        }
    }
    let mut matched = Vec::new();
    for n in notices {
        let inst = &n["record"]["institution"];
        let code = inst["code"].as_str().unwrap_or_default();
        let name = inst["name"].as_str().unwrap_or_default();
        let hit = if is_county {
            inst["division"].as_str() == Some(q.as_str()) || n["log"].as_str() == Some(q.as_str())
        } else {
            code == upper || name.contains(&q)
        };
        if hit {
            institutions.insert(code.to_string(), name.to_string());
            matched.push(n);
        }
    }
    let mut body = format!("<h1>{title}</h1>{form}");
    if institutions.is_empty() && counties.is_empty() {
        let _ = write!(
            body,
            "<p id=\"no-results\">{}「{}」</p>",
            lang.t("没有找到结果：", "No results for "),
            escape(&q)
        );
    }
    if !counties.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul>",
            lang.t("县（日志）", "Counties (logs)")
        );
        for l in &counties {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{} {}</a>{}</li>",
                lang.href(&format!("/counties/{}", query_value(&l.log))),
                escape(&l.log),
                escape(&l.name),
                if l.frozen {
                    format!(
                        " <span class=\"badge bad\">{}</span>",
                        lang.t("日志已冻结", "frozen log")
                    )
                } else {
                    String::new()
                }
            );
        }
        body.push_str("</ul>");
    }
    if !institutions.is_empty() {
        let _ = write!(body, "<h2>{}</h2><ul>", lang.t("机构", "Institutions"));
        for (code, name) in &institutions {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{} {}</a></li>",
                lang.href(&format!("/institutions/{}", query_value(code))),
                escape(code),
                escape(name)
            );
        }
        body.push_str("</ul>");
    }
    if !matched.is_empty() {
        let _ = write!(body, "<h2>{}</h2>", lang.t("曝光通报", "Exposure notices"));
        body.push_str(&notice_table(lang, &matched));
    }
    let _ = write!(
        body,
        "<p class=\"muted\">{}</p>",
        lang.t(
            "按名称搜索的范围：节点所持各县日志登记的定点医药机构（最多列出50家）、曝光通报及县级日志名称。",
            "Names are searched among the institutions registered in the logs the node holds (at most 50 listed), its exposure notices and the counties' log names."
        )
    );
    Ok(Html(page(
        lang,
        title,
        &format!("/search?q={}", query_value(&q)),
        &body,
    )))
}

/// Any other path: a 404 page.
pub(crate) async fn unknown(uri: Uri) -> PageError {
    let lang = Lang::from_param(
        uri.query()
            .filter(|q| q.split('&').any(|kv| kv == "lang=en"))
            .map(|_| "en"),
    );
    PageError::not_found(
        lang,
        format!(
            "{}: {}",
            uri.path(),
            lang.t("没有这个页面", "there is no such page")
        ),
    )
}
