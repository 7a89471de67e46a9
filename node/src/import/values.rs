//! Cell values of a bureau's ledger (台账) as written by people: amounts in yuan, multiples,
//! dates, months and institution codes, with full-width characters, thousands separators
//! and units (元, 倍) normalised. Pure functions, no I/O; every error is a Chinese sentence
//! for the officer who typed the cell: it quotes the cell as written and says what to write
//! instead (`"１２a" 不是金额：请填写以元为单位的数字……`).
//!
//! Money never goes through a float: text is parsed digit by digit into integer fen, and
//! a spreadsheet's numeric cell (an `f64`) is first written as the shortest decimal that
//! reads back as the same `f64` (what the spreadsheet shows), then parsed as text — so
//! `12.34` is 1,234 fen exactly, and a value that is not a whole number of fen (e.g. the
//! result of a formula, `0.30000000000000004`) is refused instead of rounded.
//!
//! Not here: which column holds what (`mapping`), or what the values mean together
//! (`rows`).

use yibao_schema::record::{Date, DivisionCode, Fen, InstitutionCode, Month, Multiple};

/// One cell as read from a file: text (every CSV cell, XLSX text cells, and XLSX date
/// cells written as `YYYY-MM-DD`), a number (XLSX numeric cells), a boolean, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Empty, or only whitespace.
    Empty,
    /// Text.
    Text(String),
    /// A spreadsheet number.
    Number(f64),
    /// A spreadsheet boolean.
    Bool(bool),
}

impl Cell {
    /// Whether the cell holds nothing (or only whitespace).
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(text) => normalize(text).is_empty(),
            _ => false,
        }
    }

    /// The cell as trimmed text (numbers as their shortest decimal), for free-text fields.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(text) => trim_text(text),
            Cell::Number(v) => shortest_decimal(*v),
            Cell::Bool(b) => b.to_string(),
        }
    }
}

/// Full-width ASCII (U+FF01–U+FF5E) to ASCII, the ideographic space to a space, and
/// surrounding whitespace trimmed: for numbers, dates, codes and labels. Free text
/// (facts, names) keeps its full-width punctuation and is only trimmed (`Cell::text`).
pub fn normalize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .collect();
    mapped.trim().to_string()
}

/// How an amount is written, the end of every "not an amount" message.
const AMOUNT_HINT: &str = "请填写以元为单位的数字，最多两位小数，如 111843 或 111,843.00";

/// How a date is written, the end of every "not a date" message.
const DATE_HINT: &str = "请写 2021-06-30、2021/6/30 或 2021年6月30日";

/// An amount as a message shows it: yuan with thousands separators, the fen only when
/// there are some: `111,843 元`, `12,500.50 元`.
pub fn format_yuan(amount: Fen) -> String {
    let text = yibao_web_viewer::display::yuan(amount.get());
    format!("{} 元", text.strip_suffix(".00").unwrap_or(&text))
}

/// Trims whitespace, the ideographic space included.
fn trim_text(text: &str) -> String {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}')
        .to_string()
}

/// The shortest decimal text that reads back as exactly `value` (Rust's `Display` for
/// `f64` guarantees the round trip), without an exponent.
pub fn shortest_decimal(value: f64) -> String {
    format!("{value}")
}

/// Removes a currency sign before and a unit after a number: `¥`, `￥`, `元`, `倍`, `分`…
fn strip_affixes<'a>(text: &'a str, prefixes: &[&str], suffixes: &[&str]) -> &'a str {
    let mut t = text.trim();
    for p in prefixes {
        if let Some(rest) = t.strip_prefix(p) {
            t = rest.trim_start();
        }
    }
    for s in suffixes {
        if let Some(rest) = t.strip_suffix(s) {
            t = rest.trim_end();
        }
    }
    t
}

/// Checks thousands separators (`1,234,567.89`): groups of exactly three digits after the
/// first group of one to three. Returns the digits without separators, or `None` when a
/// separator is misplaced.
fn strip_thousands(whole: &str) -> Option<String> {
    if !whole.contains(',') {
        return Some(whole.to_string());
    }
    let groups: Vec<&str> = whole.split(',').collect();
    let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
    let rest_ok = groups.iter().skip(1).all(|g| g.len() == 3);
    (first_ok && rest_ok).then(|| groups.concat())
}

/// An amount in 万元 (`19.72`, `1,361.92`) as yuan text (`197200`, `13619200`), exact:
/// at most six decimals of 万 (a fen), else `None`.
fn wan_as_yuan(wan: &str) -> Option<String> {
    let (whole, frac) = wan.split_once('.').unwrap_or((wan, ""));
    let whole = strip_thousands(whole)?;
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(&whole) || !digits(frac) || frac.len() > 6 {
        return None;
    }
    let frac = format!("{frac:0<6}");
    let (to_yuan, to_fen) = frac.split_at(4);
    let yuan = whole
        .parse::<u64>()
        .ok()?
        .checked_mul(10_000)?
        .checked_add(to_yuan.parse::<u64>().ok()?)?;
    Some(match to_fen.trim_end_matches('0') {
        "" => yuan.to_string(),
        fen => format!("{yuan}.{fen}"),
    })
}

/// Parses an amount in yuan written as text — `111843`, `111,843.00`, `１１１８４３．５`,
/// `¥71,100元` — into exact fen. At most two decimals (more are accepted only when they
/// are zeros). No sign, no exponent, no 万.
pub fn parse_yuan_text(raw: &str) -> Result<Fen, String> {
    // A full stop (。) is sometimes typed for the decimal point.
    let text = normalize(raw).replace(' ', "").replace('。', ".");
    let shown = trim_text(raw);
    let body = strip_affixes(&text, &["¥", "￥", "RMB"], &["人民币元", "元"]);
    let not_an_amount = || format!("{shown:?} 不是金额：{AMOUNT_HINT}");
    if body.is_empty() {
        return Err(not_an_amount());
    }
    if body.starts_with('-') {
        return Err(format!("{shown:?} 是负数：金额不能为负"));
    }
    if let Some(wan) = body.strip_suffix('万') {
        return Err(match wan_as_yuan(wan) {
            Some(yuan) => format!("{shown:?} 以万元填写；请改为以元为单位，如 {yuan}"),
            None => format!("{shown:?} 以万元填写；请改为以元为单位（1万元写作 10000）"),
        });
    }
    if body.contains('万') {
        return Err(format!(
            "{shown:?} 以万元填写；请改为以元为单位（1万元写作 10000）"
        ));
    }
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    let Some(whole) = strip_thousands(whole) else {
        return Err(format!(
            "{shown:?} 的千位分隔符位置不对：请写 1,234,567.89 或 1234567.89"
        ));
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_an_amount());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (body.contains('.') && frac.is_empty()) {
        return Err(not_an_amount());
    }
    let (fen_digits, extra) = frac.split_at(frac.len().min(2));
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!("{shown:?} 超过两位小数：金额精确到分（0.01 元）"));
    }
    let too_large = || format!("{shown:?} 金额过大，不是一个真实的金额");
    let mut fen: u64 = 0;
    for b in whole.bytes() {
        fen = fen
            .checked_mul(10)
            .and_then(|f| f.checked_add(u64::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    fen = fen.checked_mul(100).ok_or_else(too_large)?;
    let mut scale = 10;
    for b in fen_digits.bytes() {
        fen = fen
            .checked_add(u64::from(b - b'0') * scale)
            .ok_or_else(too_large)?;
        scale /= 10;
    }
    Ok(Fen::new(fen))
}

/// Largest amount accepted from a spreadsheet number, in yuan: far above any real amount,
/// and small enough that every fen below it is a distinct `f64`.
const MAX_NUMERIC_YUAN: f64 = 1e12;

/// Parses an amount cell: text as [`parse_yuan_text`]; a spreadsheet number must be a whole
/// number of fen exactly as the spreadsheet shows it.
pub fn parse_yuan(cell: &Cell) -> Result<Fen, String> {
    match cell {
        Cell::Text(text) => parse_yuan_text(text),
        Cell::Number(v) => {
            let text = shortest_decimal(*v);
            if !v.is_finite() {
                return Err(format!("单元格中的 {text} 不是金额：{AMOUNT_HINT}"));
            }
            if *v < 0.0 {
                return Err(format!("{text} 是负数：金额不能为负"));
            }
            if *v >= MAX_NUMERIC_YUAN {
                return Err(format!("{text} 金额过大，不是一个真实的金额"));
            }
            parse_yuan_text(&text).map_err(|_| {
                format!(
                    "单元格中的数字 {text} 不是整分的金额（超过两位小数，可能是公式的计算结果）；请把它保留到两位小数"
                )
            })
        }
        Cell::Bool(b) => Err(format!(
            "单元格是逻辑值 {}，不是金额：{AMOUNT_HINT}",
            bool_text(*b)
        )),
        Cell::Empty => Err("不能为空".into()),
    }
}

/// A spreadsheet boolean as Excel shows it.
fn bool_text(value: bool) -> &'static str {
    if value {
        "TRUE"
    } else {
        "FALSE"
    }
}

/// Parses a multiple — `2`, `1.5`, `１．５倍`, `3.5 倍` — into an exact multiple (to 0.001).
pub fn parse_multiple(cell: &Cell) -> Result<Multiple, String> {
    const HINT: &str = "请填写数字，如 1.5 或 2（最多三位小数）";
    let (shown, text) = match cell {
        Cell::Text(text) => (trim_text(text), normalize(text).replace(' ', "")),
        Cell::Number(v) if v.is_finite() && *v >= 0.0 && *v < 1e6 => {
            (shortest_decimal(*v), shortest_decimal(*v))
        }
        Cell::Number(v) => {
            return Err(format!(
                "单元格中的数字 {} 不是倍数：{HINT}",
                shortest_decimal(*v)
            ))
        }
        Cell::Bool(b) => {
            return Err(format!(
                "单元格是逻辑值 {}，不是倍数：{HINT}",
                bool_text(*b)
            ))
        }
        Cell::Empty => return Err("不能为空".into()),
    };
    let body = strip_affixes(&text, &[], &["倍"]);
    Multiple::parse(body).map_err(|_| {
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if body.starts_with('-') {
            format!("{shown:?} 是负数：倍数不能为负")
        } else if digits(whole) && digits(frac) && frac.len() > 3 {
            format!("{shown:?} 超过三位小数：倍数精确到 0.001")
        } else if digits(whole) && whole.len() > 6 {
            format!("{shown:?} 倍数过大")
        } else {
            format!("{shown:?} 不是倍数：{HINT}")
        }
    })
}

/// Splits `text` into runs of ASCII digits, dropping everything else.
fn digit_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses a date: `2021-06-30`, `2021/6/30`, `2021.6.30`, `2021年6月30日`, `20210630`,
/// full-width digits; a spreadsheet number only as `20210630`.
pub fn parse_date(cell: &Cell) -> Result<Date, String> {
    let (shown, text) = match cell {
        Cell::Number(v) if v.fract() == 0.0 && (19_000_101.0..=29_991_231.0).contains(v) => {
            (shortest_decimal(*v), shortest_decimal(*v))
        }
        Cell::Number(v) => {
            return Err(format!(
                "单元格中的数字 {} 不是日期（可能是 Excel 的日期序号，它与金额无法区分）：请把这一列设为日期格式，或写成 2021-06-30",
                shortest_decimal(*v)
            ))
        }
        Cell::Text(text) => (trim_text(text), normalize(text)),
        Cell::Bool(b) => {
            return Err(format!(
                "单元格是逻辑值 {}，不是日期（{DATE_HINT}）",
                bool_text(*b)
            ))
        }
        Cell::Empty => return Err("不能为空".into()),
    };
    // A time after the date (2021-06-30 00:00:00) is dropped; anything else is refused.
    let date_part = match text.split_whitespace().next() {
        Some(part) if !text.chars().all(is_date_char) && part.chars().all(is_date_char) => part,
        _ => text.as_str(),
    };
    parse_date_text(&shown, date_part)
}

/// Whether `c` may appear in a date: digits and the separators `-/.年月日`.
fn is_date_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '-' | '/' | '.' | '年' | '月' | '日')
}

/// Parses the date part of a cell's text; `shown` is the cell as written, for messages.
fn parse_date_text(shown: &str, text: &str) -> Result<Date, String> {
    let shape = || format!("{shown:?} 不是日期（{DATE_HINT}）");
    if text.is_empty() || !text.chars().all(is_date_char) {
        return Err(shape());
    }
    let runs = digit_runs(text);
    let (y, m, d) = match runs.as_slice() {
        [all] if all.len() == 8 => (&all[..4], &all[4..6], &all[6..]),
        [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            (*y, *m, *d)
        }
        _ => return Err(shape()),
    };
    let (Ok(year), Ok(month), Ok(day)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
    else {
        return Err(shape());
    };
    Date::from_ymd(year, month, day).ok_or_else(|| {
        use yibao_schema::record::{MAX_YEAR, MIN_YEAR};
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return format!("{shown:?} 不是有效日期：年份须在 {MIN_YEAR} 到 {MAX_YEAR} 之间");
        }
        // The last day of the month, when the month exists.
        match (28..=31)
            .rev()
            .find(|d| Date::from_ymd(year, month, *d).is_some())
        {
            Some(last) if day > 0 => {
                format!("{shown:?} 不是有效日期：{year}年{month}月只有 {last} 天")
            }
            _ => format!("{shown:?} 不是有效日期（{DATE_HINT}）"),
        }
    })
}

/// Parses a month: `2021-06`, `2021/6`, `2021年6月`, `202106`.
pub fn parse_month(cell: &Cell) -> Result<Month, String> {
    const HINT: &str = "请写 2021-06 或 2021年6月";
    let (shown, text) = match cell {
        Cell::Number(v) if v.fract() == 0.0 && (190_001.0..=299_912.0).contains(v) => {
            (shortest_decimal(*v), shortest_decimal(*v))
        }
        Cell::Text(text) => (trim_text(text), normalize(text)),
        other => return Err(format!("{:?} 不是月份（{HINT}）", other.text())),
    };
    let shape = || format!("{shown:?} 不是月份（{HINT}）");
    let runs = digit_runs(&text);
    let (y, m) = match runs.as_slice() {
        [all] if all.len() == 6 => (&all[..4], &all[4..]),
        [y, m] if y.len() == 4 && (1..=2).contains(&m.len()) => (*y, *m),
        _ => return Err(shape()),
    };
    Month::parse(&format!("{y}-{:0>2}", m)).map_err(|_| shape())
}

/// Parses an institution code: `H14112500001`, lower-case `h` and full-width characters
/// accepted.
pub fn parse_institution_code(cell: &Cell) -> Result<InstitutionCode, String> {
    let shown = cell.text();
    let text = normalize(&shown).replace(' ', "").to_uppercase();
    InstitutionCode::parse(&text).map_err(|_| {
        if text.len() == 11 && text.bytes().all(|b| b.is_ascii_digit()) {
            format!(
                "{shown:?} 缺少开头的字母：医疗机构写 H{text}，零售药店写 P{text}"
            )
        } else {
            format!(
                "{shown:?} 不是机构编码：应为 H（医疗机构）或 P（零售药店）加 11 位数字，如 H14112500001"
            )
        }
    })
}

/// Parses a division code (所属区划): six digits, the first two a province's.
pub fn parse_division(cell: &Cell) -> Result<DivisionCode, String> {
    let shown = cell.text();
    let text = normalize(&shown).replace(' ', "");
    DivisionCode::parse(&text).map_err(|_| {
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            format!(
                "{shown:?} 不是行政区划代码：前两位 {} 不是省级代码",
                text.get(..2).unwrap_or("")
            )
        } else {
            format!("{shown:?} 不是行政区划代码：应为 6 位数字，如 141125")
        }
    })
}

/// Parses a whole number of months or points from text such as `6个月` or `9分`.
pub fn first_number(text: &str) -> Option<u32> {
    digit_runs(&normalize(text))
        .first()
        .and_then(|d| d.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(text: &str) -> u64 {
        parse_yuan_text(text).unwrap().get()
    }

    #[test]
    fn yuan_text_to_exact_fen() {
        assert_eq!(fen("111843"), 11_184_300);
        assert_eq!(fen("111,843.00"), 11_184_300);
        assert_eq!(fen("335,529"), 33_552_900);
        assert_eq!(fen("1,234,567.89"), 123_456_789);
        assert_eq!(fen("0.05"), 5);
        assert_eq!(fen("0.5"), 50);
        assert_eq!(fen("12.300"), 1_230);
        assert_eq!(fen("¥71,100元"), 7_110_000);
        assert_eq!(fen("  48200 元 "), 4_820_000);
        for bad in [
            "", "-5", "1.234", "1,23", "12,3456", "1e3", "abc", "1.2.3", ".5", "5.", "19.72万",
            "１２a",
        ] {
            assert!(parse_yuan_text(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_yuan_text("99999999999999999999").is_err());
    }

    #[test]
    fn full_width_digits_are_normalised() {
        assert_eq!(fen("１１１８４３"), 11_184_300);
        assert_eq!(fen("１１１，８４３．５０"), 11_184_350);
        assert_eq!(fen("７１１００。５"), 7_110_050);
        assert_eq!(
            parse_multiple(&Cell::Text("１．５倍".into()))
                .unwrap()
                .thousandths(),
            1_500
        );
        assert_eq!(
            parse_date(&Cell::Text("２０２１年６月３０日".into()))
                .unwrap()
                .to_string(),
            "2021-06-30"
        );
    }

    #[test]
    fn spreadsheet_numbers_are_exact_or_refused() {
        assert_eq!(parse_yuan(&Cell::Number(12.34)).unwrap().get(), 1_234);
        assert_eq!(
            parse_yuan(&Cell::Number(111_843.0)).unwrap().get(),
            11_184_300
        );
        assert_eq!(parse_yuan(&Cell::Number(0.1)).unwrap().get(), 10);
        assert!(parse_yuan(&Cell::Number(1.005))
            .unwrap_err()
            .contains("1.005 不是整分的金额"));
        assert!(parse_yuan(&Cell::Number(0.1 + 0.2)).is_err());
        assert!(parse_yuan(&Cell::Number(-1.0)).is_err());
        assert!(parse_yuan(&Cell::Number(f64::NAN)).is_err());
        assert!(parse_yuan(&Cell::Number(1e15)).is_err());
        assert_eq!(
            parse_multiple(&Cell::Number(3.5)).unwrap().thousandths(),
            3_500
        );
        assert!(parse_multiple(&Cell::Number(1.0001)).is_err());
    }

    #[test]
    fn multiples() {
        for (text, thousandths) in [
            ("2", 2_000),
            ("1.5", 1_500),
            ("3.5倍", 3_500),
            ("2 倍", 2_000),
        ] {
            assert_eq!(
                parse_multiple(&Cell::Text(text.into()))
                    .unwrap()
                    .thousandths(),
                thousandths,
                "{text}"
            );
        }
        for bad in ["两倍", "-1", "1.2345", ""] {
            assert!(parse_multiple(&Cell::Text(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_and_months() {
        for text in [
            "2021-06-30",
            "2021/6/30",
            "2021.6.30",
            "2021年6月30日",
            "20210630",
            "2021-06-30 00:00:00",
        ] {
            assert_eq!(
                parse_date(&Cell::Text(text.into())).unwrap().to_string(),
                "2021-06-30",
                "{text}"
            );
        }
        assert_eq!(
            parse_date(&Cell::Number(20_210_630.0)).unwrap().to_string(),
            "2021-06-30"
        );
        for bad in ["2021-02-30", "30/06/2021", "明天", "2021-06", "44377"] {
            assert!(parse_date(&Cell::Text(bad.into())).is_err(), "{bad}");
        }
        // 44377 is 2021-06-30 as an Excel serial date: refused, it cannot be told apart.
        assert!(parse_date(&Cell::Number(44_377.0)).is_err());
        for text in ["2021-06", "2021年6月", "202106", "2021/6"] {
            assert_eq!(
                parse_month(&Cell::Text(text.into())).unwrap().to_string(),
                "2021-06"
            );
        }
        assert!(parse_month(&Cell::Text("2021-13".into())).is_err());
    }

    #[test]
    fn messages_quote_the_cell_and_say_what_to_write() {
        let amount = |text: &str| parse_yuan_text(text).unwrap_err();
        assert_eq!(
            amount("１２a"),
            "\"１２a\" 不是金额：请填写以元为单位的数字，最多两位小数，如 111843 或 111,843.00"
        );
        assert_eq!(
            amount("19.72万"),
            "\"19.72万\" 以万元填写；请改为以元为单位，如 197200"
        );
        assert!(
            amount("1,361.92万元").ends_with("如 13619200"),
            "{}",
            amount("1,361.92万元")
        );
        assert!(amount("0.0000001万").contains("1万元写作 10000"));
        assert_eq!(amount("-5"), "\"-5\" 是负数：金额不能为负");
        assert_eq!(
            amount("12.345"),
            "\"12.345\" 超过两位小数：金额精确到分（0.01 元）"
        );
        assert!(amount("1,23").starts_with("\"1,23\" 的千位分隔符位置不对"));
        assert!(parse_yuan(&Cell::Number(0.1 + 0.2))
            .unwrap_err()
            .contains("0.30000000000000004 不是整分的金额"));
        let date = |text: &str| parse_date(&Cell::Text(text.into())).unwrap_err();
        assert_eq!(
            date("2021-13-01"),
            "\"2021-13-01\" 不是有效日期（请写 2021-06-30、2021/6/30 或 2021年6月30日）"
        );
        assert_eq!(
            date("2021-02-30"),
            "\"2021-02-30\" 不是有效日期：2021年2月只有 28 天"
        );
        assert_eq!(
            date("明天"),
            "\"明天\" 不是日期（请写 2021-06-30、2021/6/30 或 2021年6月30日）"
        );
        assert!(date("2021-02-30 08:00").starts_with("\"2021-02-30 08:00\" 不是有效日期"));
        assert!(parse_date(&Cell::Number(44_377.0))
            .unwrap_err()
            .contains("44377 不是日期"));
        assert_eq!(
            parse_multiple(&Cell::Text("两倍".into())).unwrap_err(),
            "\"两倍\" 不是倍数：请填写数字，如 1.5 或 2（最多三位小数）"
        );
        assert!(parse_multiple(&Cell::Text("1.2345".into()))
            .unwrap_err()
            .contains("超过三位小数"));
        assert!(parse_month(&Cell::Text("2021-13".into()))
            .unwrap_err()
            .starts_with("\"2021-13\" 不是月份"));
        assert!(parse_institution_code(&Cell::Text("X14112500002".into()))
            .unwrap_err()
            .starts_with("\"X14112500002\" 不是机构编码：应为 H（医疗机构）或 P（零售药店）"));
        assert_eq!(
            parse_institution_code(&Cell::Text("14112500001".into())).unwrap_err(),
            "\"14112500001\" 缺少开头的字母：医疗机构写 H14112500001，零售药店写 P14112500001"
        );
        assert!(parse_division(&Cell::Text("991125".into()))
            .unwrap_err()
            .contains("前两位 99 不是省级代码"));
        assert_eq!(format_yuan(Fen::new(11_184_300)), "111,843 元");
        assert_eq!(format_yuan(Fen::new(1_250_050)), "12,500.50 元");
        assert_eq!(format_yuan(Fen::new(5)), "0.05 元");
        assert_eq!(format_yuan(Fen::new(100_000_000_000)), "1,000,000,000 元");
    }

    #[test]
    fn institution_codes() {
        assert_eq!(
            parse_institution_code(&Cell::Text(" h14112500001 ".into()))
                .unwrap()
                .as_str(),
            "H14112500001"
        );
        assert_eq!(
            parse_institution_code(&Cell::Text("Ｐ１４１１２５００００１".into()))
                .unwrap()
                .as_str(),
            "P14112500001"
        );
        assert!(parse_institution_code(&Cell::Text("X14112500001".into())).is_err());
        assert!(parse_institution_code(&Cell::Number(14_112_500_001.0)).is_err());
    }
}
