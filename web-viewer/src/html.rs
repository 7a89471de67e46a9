//! HTML building blocks: escaping, the page frame, the language switch.

use std::fmt::Write;

/// The page language: Chinese first, English on `?lang=en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From the `lang` query parameter; anything but `en` is Chinese.
    pub fn from_param(value: Option<&str>) -> Lang {
        match value {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// Picks the text of this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// A link to `path` (which may already carry a query) that keeps this language.
    pub fn href(self, path: &str) -> String {
        let url = match self {
            Lang::Zh => path.to_string(),
            Lang::En if path.contains('?') => format!("{path}&lang=en"),
            Lang::En => format!("{path}?lang=en"),
        };
        escape(&url)
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value or a path segment (UTF-8 bytes outside the unreserved set).
pub fn query_value(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A whole page. `body` is already-escaped HTML; `path` is the page's own path and query
/// without `lang`, for the language switch.
pub fn page(lang: Lang, title: &str, path: &str, body: &str) -> String {
    let other = match lang {
        Lang::Zh => format!(
            "<a href=\"{}\" hreflang=\"en\">English</a>",
            Lang::En.href(path)
        ),
        Lang::En => format!(
            "<a href=\"{}\" hreflang=\"zh-CN\">中文</a>",
            Lang::Zh.href(path)
        ),
    };
    let lang_field = match lang {
        Lang::Zh => String::new(),
        Lang::En => "<input type=\"hidden\" name=\"lang\" value=\"en\">".to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · {site}</title><link rel=\"stylesheet\" href=\"{css}\">\
<script src=\"{js}\" defer></script></head><body>\
<header><a class=\"home\" href=\"{home}\">{site}</a>\
<form class=\"search\" action=\"/search\" method=\"get\"><input name=\"q\" placeholder=\"{placeholder}\" aria-label=\"{search}\">{lang_field}<button>{search}</button></form>\
<nav class=\"lang\">{other}</nav></header><main>{body}</main>\
<footer class=\"muted\"><p>{footer}</p></footer></body></html>\n",
        code = lang.code(),
        css = crate::assets::style_css_path(),
        js = crate::assets::verify_js_path(),
        title = escape(title),
        site = lang.t("医保基金监管账本", "Yibao Ledger"),
        home = lang.href("/"),
        placeholder = lang.t("机构名称、编码或区划代码", "institution name, code or county code"),
        search = lang.t("搜索", "Search"),
        footer = lang.t(
            "只读公开查看页面：内容取自账本节点，曝光通报在显示前于服务器端核验签名检查点与包含证明；启用脚本时，浏览器会自行再次核验。",
            "Read-only public viewer: data comes from a ledger node; exposure notices are checked against the signed checkpoint and an inclusion proof on the server before display, and again by your browser when scripts run."
        ),
    )
}

/// The warning shown above any data of a frozen (equivocating) log.
pub fn frozen_flag(lang: Lang, log: &str) -> String {
    format!(
        "<div class=\"frozen\" role=\"alert\"><strong>{}</strong> {}</div>",
        lang.t("⚠ 日志已冻结", "⚠ Frozen log"),
        escape(&match lang {
            Lang::Zh => format!("日志 {log} 已被证实存在分叉（同一规模两个不同的签名检查点），已停止接收新条目；其数据请谨慎看待。"),
            Lang::En => format!("Log {log} was proven to equivocate (two signed checkpoints that disagree) and accepts no new entries; treat its data with care."),
        })
    )
}

/// The cell of a row the browser re-checks (`tr.browser-check`: grade rows, a
/// publication's notices) that shows its verdict: hidden until `verify.js` runs.
pub fn row_badge_cell(lang: Lang) -> String {
    format!(
        "<td class=\"js-only\" hidden><span class=\"badge pending\" data-role=\"badge\" data-state=\"pending\">⏳ {}</span></td>",
        lang.t("验证中…", "verifying…")
    )
}

/// The opening of a plain table with these column headings, up to its open `<tbody>`
/// (close it with `</tbody></table></div>`).
pub fn table_open(headings: &[&str]) -> String {
    let cells: String = headings
        .iter()
        .map(|h| format!("<th>{}</th>", escape(h)))
        .collect();
    format!("<div class=\"table\"><table><thead><tr>{cells}</tr></thead><tbody>")
}

/// The file names, under `assets/`, of the style sheet and the verifier in a publication.
pub const PUBLICATION_ASSETS: [(&str, &str); 2] = [
    ("style.css", crate::assets::STYLE_CSS),
    ("verify.js", crate::assets::VERIFY_JS),
];

/// A page of a static publication (`yibao publish`): the viewer's style sheet and
/// in-browser verifier, loaded by relative paths so the files can be served from any
/// directory of any web server. Chinese, with English beside the headings.
pub fn publication_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · 医保基金监管账本</title><link rel=\"stylesheet\" href=\"assets/style.css\">\
<script src=\"assets/verify.js\" defer></script></head><body>\
<header><span class=\"home\">医保基金监管账本 · Yibao Ledger</span></header><main>{body}</main>\
<footer class=\"muted\"><p>静态发布：每条通报的签名条目、包含证明与签名检查点均在本目录的文件中；启用脚本时，浏览器会逐条核验（检查点签名、经办人签名、BLAKE3 叶子哈希与包含证明），无需信任发布服务器。\
 A static publication: each notice's signed entry, inclusion proof and signed checkpoint are files beside this page; with scripts on, your browser checks each one (checkpoint signature, officer signature, BLAKE3 leaf hash and inclusion proof) without trusting the server.</p></footer></body></html>\n",
        title = escape(title),
    )
}
