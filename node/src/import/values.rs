//! Cell values of a bureau's ledger (台账) as written by people: amounts in yuan, multiples,
//! dates, months and institution codes, with full-width characters, thousands separators
//! and units (元, 倍) normalised. Pure functions, no I/O; every error is a sentence that
//! says what was expected.
//!
//! Money never goes through a float: text is parsed digit by digit into integer fen, and
//! a spreadsheet's numeric cell (an `f64`) is first written as the shortest decimal that
//! reads back as the same `f64` (what the spreadsheet shows), then parsed as text — so
//! `12.34` is 1,234 fen exactly, and a value that is not a whole number of fen (e.g. the
//! result of a formula, `0.30000000000000004`) is refused instead of rounded.
//!
//! Not here: which column holds what (`mapping`), or what the values mean together
//! (`rows`).

use yibao_schema::record::{Date, Fen, InstitutionCode, Month, Multiple};

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
/// first group of one to three. Returns the digits without separators.
fn strip_thousands(whole: &str) -> Result<String, String> {
    if !whole.contains(',') {
        return Ok(whole.to_string());
    }
    let groups: Vec<&str> = whole.split(',').collect();
    let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
    let rest_ok = groups.iter().skip(1).all(|g| g.len() == 3);
    if !first_ok || !rest_ok {
        return Err(format!(
            "{whole:?} has misplaced thousands separators (write 1,234,567.89 or 1234567.89)"
        ));
    }
    Ok(groups.concat())
}

/// Parses an amount in yuan written as text — `111843`, `111,843.00`, `１１１８４３．５`,
/// `¥71,100元` — into exact fen. At most two decimals (more are accepted only when they
/// are zeros). No sign, no exponent, no 万.
pub fn parse_yuan_text(raw: &str) -> Result<Fen, String> {
    // A full stop (。) is sometimes typed for the decimal point.
    let text = normalize(raw).replace(' ', "").replace('。', ".");
    let body = strip_affixes(&text, &["¥", "￥", "RMB"], &["人民币元", "元"]);
    if body.is_empty() {
        return Err(format!("{raw:?} is not an amount"));
    }
    if body.starts_with('-') {
        return Err(format!("{raw:?} is negative; amounts are never negative"));
    }
    if body.contains('万') {
        return Err(format!(
            "{raw:?} is in 万元; write the amount in yuan (元), e.g. 19.72万 as 197200"
        ));
    }
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    let whole = strip_thousands(whole)?;
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{raw:?} is not an amount in yuan (digits, optionally a point and up to 2 decimals)"
        ));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (body.contains('.') && frac.is_empty()) {
        return Err(format!(
            "{raw:?} is not an amount in yuan (digits, optionally a point and up to 2 decimals)"
        ));
    }
    let (fen_digits, extra) = frac.split_at(frac.len().min(2));
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!(
            "{raw:?} has more than 2 decimal places; amounts are exact to the fen (0.01 yuan)"
        ));
    }
    let too_large = || format!("{raw:?} is too large an amount");
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
            if !v.is_finite() {
                return Err(format!("{v} is not an amount"));
            }
            if *v < 0.0 {
                return Err(format!("{v} is negative; amounts are never negative"));
            }
            if *v >= MAX_NUMERIC_YUAN {
                return Err(format!("{v} is too large an amount"));
            }
            let text = shortest_decimal(*v);
            parse_yuan_text(&text).map_err(|_| {
                format!(
                    "the number {text} is not a whole number of fen (more than 2 decimal places; a formula result?)"
                )
            })
        }
        Cell::Bool(_) => Err("is a true/false value, not an amount".into()),
        Cell::Empty => Err("is empty".into()),
    }
}

/// Parses a multiple — `2`, `1.5`, `１．５倍`, `3.5 倍` — into an exact multiple (to 0.001).
pub fn parse_multiple(cell: &Cell) -> Result<Multiple, String> {
    let text = match cell {
        Cell::Text(text) => normalize(text).replace(' ', ""),
        Cell::Number(v) if v.is_finite() && *v >= 0.0 && *v < 1e6 => shortest_decimal(*v),
        Cell::Number(v) => return Err(format!("{v} is not a multiple")),
        Cell::Bool(_) => return Err("is a true/false value, not a multiple".into()),
        Cell::Empty => return Err("is empty".into()),
    };
    let body = strip_affixes(&text, &[], &["倍"]);
    Multiple::parse(body).map_err(|e| {
        format!(
            "{text:?} is not a multiple such as 1.5 or 2 (at most 3 decimals): {}",
            e.reason
        )
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
    let text = match cell {
        Cell::Number(v) if v.fract() == 0.0 && (19_000_101.0..=29_991_231.0).contains(v) => {
            shortest_decimal(*v)
        }
        Cell::Number(v) => {
            return Err(format!(
                "the number {} is not a date; format the column as dates or write 2021-06-30",
                shortest_decimal(*v)
            ))
        }
        Cell::Text(text) => normalize(text),
        Cell::Bool(_) => return Err("is a true/false value, not a date".into()),
        Cell::Empty => return Err("is empty".into()),
    };
    let shape = || format!("{text:?} is not a date (write 2021-06-30, 2021/6/30 or 2021年6月30日)");
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '-' | '/' | '.' | '年' | '月' | '日');
    if !text.chars().all(allowed) {
        // A time after the date (2021-06-30 00:00:00) is dropped; anything else is refused.
        let date_part = text.split_whitespace().next().unwrap_or("");
        if date_part.chars().all(allowed) && !date_part.is_empty() && date_part != text {
            return parse_date(&Cell::Text(date_part.to_string()));
        }
        return Err(shape());
    }
    let runs = digit_runs(&text);
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
        format!("{text:?} is not a real calendar date (or its year is out of range)")
    })
}

/// Parses a month: `2021-06`, `2021/6`, `2021年6月`, `202106`.
pub fn parse_month(cell: &Cell) -> Result<Month, String> {
    let text = match cell {
        Cell::Number(v) if v.fract() == 0.0 && (190_001.0..=299_912.0).contains(v) => {
            shortest_decimal(*v)
        }
        Cell::Text(text) => normalize(text),
        _ => return Err("is not a month (write 2021-06)".into()),
    };
    let shape = || format!("{text:?} is not a month (write 2021-06 or 2021年6月)");
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
    let text = normalize(&cell.text()).replace(' ', "").to_uppercase();
    InstitutionCode::parse(&text).map_err(|e| format!("{text:?} {}", e.reason))
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
            .contains("fen"));
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
