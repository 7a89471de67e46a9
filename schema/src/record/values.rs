//! Validated value types used inside records: money in fen, exact multiples, division and
//! institution codes, dates, months, grading periods, identifiers and 32-byte digests.
//!
//! Each type checks its invariant when it is constructed and when it is deserialized, so a
//! value of one of these types is always well formed. This module is deliberately not about
//! domain rules between values (ranges from the policy, sums, references): those live in
//! `rules` and `state`.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Why a value was refused: which kind of value, the input, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ValueError {
    /// The kind of value, e.g. "institution code".
    pub what: &'static str,
    /// The input as given (truncated to 80 characters).
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

impl ValueError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        ValueError {
            what,
            input: input.chars().take(80).collect(),
            reason: reason.into(),
        }
    }
}

/// Implements `Serialize` as a string (via `Display`) and `Deserialize` from a string via
/// `FromStr`-like `parse`, for the code-like types below.
macro_rules! string_serde {
    ($ty:ident, $expecting:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StrVisitor;
                impl de::Visitor<'_> for StrVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        $ty::parse(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(StrVisitor)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                $ty::parse(s)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Money
// ---------------------------------------------------------------------------------------

/// An amount of money in integer fen (分, 1/100 yuan). Never a float.
///
/// JSON and CBOR both carry the plain integer of fen: 111,843 yuan is `11184300`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(u64);

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);

    /// An amount of `fen` fen.
    pub const fn new(fen: u64) -> Self {
        Fen(fen)
    }

    /// A whole number of yuan, or `None` if it does not fit in `u64` fen.
    pub const fn from_yuan(yuan: u64) -> Option<Self> {
        match yuan.checked_mul(100) {
            Some(fen) => Some(Fen(fen)),
            None => None,
        }
    }

    /// The amount in fen.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Checked addition.
    pub const fn checked_add(self, other: Fen) -> Option<Fen> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Fen(sum)),
            None => None,
        }
    }
}

/// Formats as yuan with two decimals and thousands separators, e.g. `111,843.00 yuan`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yuan = self.0 / 100;
        let fen = self.0 % 100;
        let digits = yuan.to_string();
        // Groups of three from the right: the first group takes the remainder.
        let first = match digits.len() % 3 {
            0 => digits.len().min(3),
            n => n,
        };
        let (head, tail) = digits.split_at(first);
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        grouped.push_str(head);
        for chunk in tail.as_bytes().chunks(3) {
            grouped.push(',');
            grouped.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        }
        write!(f, "{grouped}.{fen:02} yuan")
    }
}

impl Serialize for Fen {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FenVisitor;
        impl de::Visitor<'_> for FenVisitor {
            type Value = Fen;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a whole number of fen (1 yuan = 100 fen), e.g. 11184300")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fen, E> {
                Ok(Fen(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fen, E> {
                u64::try_from(v).map(Fen).map_err(|_| {
                    E::custom(format!(
                        "amount {v} is negative; amounts are never negative"
                    ))
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fen, E> {
                Err(E::custom(format!(
                    "amount {v} is not a whole number of fen; write amounts as integer fen (1 yuan = 100 fen), never as a decimal"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fen, E> {
                Err(E::custom(format!(
                    "amount {v:?} is a string; write amounts as an integer number of fen"
                )))
            }
        }
        deserializer.deserialize_u64(FenVisitor)
    }
}

// ---------------------------------------------------------------------------------------
// Multiples
// ---------------------------------------------------------------------------------------

/// An exact multiple (倍数) in thousandths: 1.5× is `Multiple(1500)`, 2× is `Multiple(2000)`.
///
/// JSON carries a decimal string with at most three decimals (`"1.5"`, `"2"`, `"3.5"`);
/// CBOR carries the integer of thousandths. Penalty amounts computed from a multiple are
/// rounded half up to the fen (see `rules::penalty_amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Multiple(u32);

impl Multiple {
    /// 1×.
    pub const ONE: Multiple = Multiple(1000);

    /// A multiple of `thousandths` / 1000.
    pub const fn from_thousandths(thousandths: u32) -> Self {
        Multiple(thousandths)
    }

    /// A whole multiple, e.g. `Multiple::whole(2)` is 2×.
    pub const fn whole(times: u16) -> Self {
        Multiple(times as u32 * 1000)
    }

    /// The multiple in thousandths.
    pub const fn thousandths(self) -> u32 {
        self.0
    }

    /// Parses a decimal string such as `"1.5"` or `"2"`: digits, optionally a point and one
    /// to three decimals. No sign, no exponent, no more than three decimals.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let err = |reason: &str| ValueError::new("multiple", s, reason);
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "must be a decimal number such as \"1.5\" or \"2\" (no sign, no exponent)",
            ));
        }
        if whole.len() > 6 {
            return Err(err("is too large (at most 999999.999)"));
        }
        let mut thousandths: u32 = 0;
        for b in whole.bytes() {
            thousandths = thousandths * 10 + u32::from(b - b'0');
        }
        thousandths *= 1000;
        if let Some(frac) = frac {
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("must have digits after the decimal point"));
            }
            if frac.len() > 3 {
                return Err(err(
                    "has more than 3 decimal places; multiples are exact to 0.001",
                ));
            }
            let mut scale = 100;
            for b in frac.bytes() {
                thousandths += u32::from(b - b'0') * scale;
                scale /= 10;
            }
        }
        Ok(Multiple(thousandths))
    }
}

/// Formats as the shortest decimal: `1.5`, `2`, `1.125`.
impl fmt::Display for Multiple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Multiple {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Multiple {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MultipleVisitor {
            human_readable: bool,
        }
        impl de::Visitor<'_> for MultipleVisitor {
            type Value = Multiple;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.human_readable {
                    f.write_str("a multiple as a decimal string, e.g. \"1.5\" or \"2\"")
                } else {
                    f.write_str("a multiple as an integer of thousandths")
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Multiple, E> {
                Multiple::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Multiple, E> {
                if self.human_readable {
                    return Err(E::custom(format!(
                        "multiple {v} is a number; write it as a decimal string such as \"{v}\" or \"1.5\""
                    )));
                }
                u32::try_from(v)
                    .map(Multiple)
                    .map_err(|_| E::custom(format!("multiple of {v} thousandths is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Multiple, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!("multiple {v} is negative"))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Multiple, E> {
                Err(E::custom(format!(
                    "multiple {v} is a floating-point number; write it as a decimal string such as \"1.5\""
                )))
            }
        }
        let human_readable = deserializer.is_human_readable();
        deserializer.deserialize_any(MultipleVisitor { human_readable })
    }
}

// ---------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------

/// GB/T 2260 province-level prefixes (the first two digits of a division code).
const PROVINCE_PREFIXES: [&[u8; 2]; 34] = [
    b"11", b"12", b"13", b"14", b"15", b"21", b"22", b"23", b"31", b"32", b"33", b"34", b"35",
    b"36", b"37", b"41", b"42", b"43", b"44", b"45", b"46", b"50", b"51", b"52", b"53", b"54",
    b"61", b"62", b"63", b"64", b"65", b"71", b"81", b"82",
];

/// A 6-digit administrative division code (行政区划代码, GB/T 2260), e.g. `141125` for
/// 柳林县. The first two digits must be a province-level prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode([u8; 6]);

impl DivisionCode {
    /// Parses exactly six ASCII digits with a valid province prefix.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let bytes = s.as_bytes();
        let Ok(code) = <[u8; 6]>::try_from(bytes) else {
            return Err(ValueError::new(
                "division code",
                s,
                "must be exactly 6 digits (GB/T 2260), e.g. \"141125\"",
            ));
        };
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::new(
                "division code",
                s,
                "must be exactly 6 digits (GB/T 2260), e.g. \"141125\"",
            ));
        }
        if !PROVINCE_PREFIXES.iter().any(|p| p[..] == code[..2]) {
            return Err(ValueError::new(
                "division code",
                s,
                "does not start with a GB/T 2260 province code",
            ));
        }
        Ok(DivisionCode(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }

    /// The code of the prefecture-level city containing this division (`141125` → `141100`).
    pub fn city(&self) -> DivisionCode {
        let mut code = self.0;
        code[4] = b'0';
        code[5] = b'0';
        DivisionCode(code)
    }

    /// Whether this division lies within `city`'s prefecture (same first four digits).
    pub fn is_within_city_of(&self, city: &DivisionCode) -> bool {
        self.0[..4] == city.0[..4]
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
string_serde!(
    DivisionCode,
    "a 6-digit division code as a string, e.g. \"141125\""
);

/// A national medical-insurance institution code (定点医药机构编码): `H` + 11 digits for
/// medical institutions, `P` + 11 digits for retail pharmacies, e.g. `H14112500001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstitutionCode([u8; 12]);

impl InstitutionCode {
    /// Parses `H` or `P` followed by exactly 11 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let reason = "must be H (medical institution) or P (pharmacy) followed by 11 digits, e.g. \"H14112500001\"";
        let Ok(code) = <[u8; 12]>::try_from(s.as_bytes()) else {
            return Err(ValueError::new("institution code", s, reason));
        };
        if !matches!(code[0], b'H' | b'P') || !code[1..].iter().all(u8::is_ascii_digit) {
            return Err(ValueError::new("institution code", s, reason));
        }
        Ok(InstitutionCode(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("H00000000000")
    }

    /// Whether the code is a pharmacy code (`P…`) rather than a medical institution (`H…`).
    pub fn is_pharmacy(&self) -> bool {
        self.0[0] == b'P'
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
string_serde!(
    InstitutionCode,
    "an institution code as a string, e.g. \"H14112500001\""
);

// ---------------------------------------------------------------------------------------
// Dates and periods
// ---------------------------------------------------------------------------------------

/// Lowest year accepted in dates, months and periods.
pub const MIN_YEAR: i32 = 1900;
/// Highest year accepted in dates, months and periods.
pub const MAX_YEAR: i32 = 9999;

fn parse_year(what: &'static str, input: &str, digits: &str) -> Result<i32, ValueError> {
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::new(what, input, "the year must be 4 digits"));
    }
    let year: i32 = digits
        .parse()
        .map_err(|_| ValueError::new(what, input, "the year must be 4 digits"))?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(ValueError::new(
            what,
            input,
            format!("the year must be between {MIN_YEAR} and {MAX_YEAR}"),
        ));
    }
    Ok(year)
}

fn parse_two_digits(digits: &str) -> Option<u8> {
    if digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// A calendar date, `YYYY-MM-DD` (a real date: no 2021-02-30). Dates in records are dates
/// in China Standard Time (Asia/Shanghai, UTC+8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

impl Date {
    /// Parses `YYYY-MM-DD`, exactly 10 characters, and checks the date exists.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let shape = "must be a date written YYYY-MM-DD, e.g. \"2021-06-30\"";
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ValueError::new("date", s, shape));
        };
        let year = parse_year("date", s, y)?;
        let (Some(month), Some(day)) = (parse_two_digits(m), parse_two_digits(d)) else {
            return Err(ValueError::new("date", s, shape));
        };
        Self::from_ymd(year, month, day)
            .ok_or_else(|| ValueError::new("date", s, "is not a real calendar date"))
    }

    /// The date `year-month-day`, or `None` if there is no such day.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Self> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return None;
        }
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day)
            .ok()
            .map(Date)
    }

    /// The date in China Standard Time (UTC+8) of a timestamp in milliseconds since the
    /// Unix epoch, or `None` if it is outside the supported years.
    pub fn from_timestamp_ms_china(timestamp_ms: u64) -> Option<Self> {
        const CHINA_OFFSET_MS: u64 = 8 * 3600 * 1000;
        const MS_PER_DAY: u64 = 86_400_000;
        let days = timestamp_ms.checked_add(CHINA_OFFSET_MS)? / MS_PER_DAY;
        // 2440588 is the Julian day number of 1970-01-01.
        let julian = i32::try_from(days).ok()?.checked_add(2_440_588)?;
        let date = time::Date::from_julian_day(julian).ok()?;
        if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
            Some(Date(date))
        } else {
            None
        }
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.0.year()
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        u8::from(self.0.month())
    }

    /// The day of the month, 1–31.
    pub fn day(&self) -> u8 {
        self.0.day()
    }

    /// The month this date falls in.
    pub fn to_month(&self) -> Month {
        Month {
            year: self.year() as u16,
            month: self.month(),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}
string_serde!(Date, "a date as a string, YYYY-MM-DD");

/// A calendar month, `YYYY-MM`, e.g. the settlement month whose advance payment a
/// deduction comes from (`2021-06`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: u16,
    month: u8,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let shape = "must be a month written YYYY-MM, e.g. \"2021-06\"";
        let Some((y, m)) = s.split_once('-') else {
            return Err(ValueError::new("month", s, shape));
        };
        let year = parse_year("month", s, y)?;
        match parse_two_digits(m) {
            Some(month @ 1..=12) => Ok(Month {
                year: year as u16,
                month,
            }),
            _ => Err(ValueError::new("month", s, shape)),
        }
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}
string_serde!(Month, "a month as a string, YYYY-MM");

/// A grading or reporting period: a year (`2023`), a half year (`2023-H1`, `2023-H2`) or a
/// quarter (`2023-Q1` … `2023-Q4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar year.
    Year(u16),
    /// A half year, 1 or 2.
    Half(u16, u8),
    /// A quarter, 1–4.
    Quarter(u16, u8),
}

impl Period {
    /// Parses `YYYY`, `YYYY-H1|H2` or `YYYY-Q1..Q4`.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let shape =
            "must be a year (\"2023\"), a half year (\"2023-H1\") or a quarter (\"2023-Q3\")";
        let (y, rest) = match s.split_once('-') {
            Some((y, rest)) => (y, Some(rest)),
            None => (s, None),
        };
        let year = parse_year("period", s, y)? as u16;
        match rest {
            None => Ok(Period::Year(year)),
            Some("H1") => Ok(Period::Half(year, 1)),
            Some("H2") => Ok(Period::Half(year, 2)),
            Some("Q1") => Ok(Period::Quarter(year, 1)),
            Some("Q2") => Ok(Period::Quarter(year, 2)),
            Some("Q3") => Ok(Period::Quarter(year, 3)),
            Some("Q4") => Ok(Period::Quarter(year, 4)),
            Some(_) => Err(ValueError::new("period", s, shape)),
        }
    }

    /// The year the period lies in.
    pub fn year(&self) -> u16 {
        match *self {
            Period::Year(y) | Period::Half(y, _) | Period::Quarter(y, _) => y,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Year(y) => write!(f, "{y:04}"),
            Period::Half(y, h) => write!(f, "{y:04}-H{h}"),
            Period::Quarter(y, q) => write!(f, "{y:04}-Q{q}"),
        }
    }
}
string_serde!(
    Period,
    "a period as a string, e.g. \"2023\", \"2023-H1\" or \"2023-Q4\""
);

// ---------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------

/// Longest identifier, in characters.
pub const MAX_ID_CHARS: usize = 64;

fn check_id(what: &'static str, s: &str) -> Result<(), ValueError> {
    if s.is_empty() {
        return Err(ValueError::new(what, s, "must not be empty"));
    }
    if s.chars().count() > MAX_ID_CHARS {
        return Err(ValueError::new(
            what,
            s,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValueError::new(what, s, "contains a control character"));
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(ValueError::new(what, s, "starts or ends with whitespace"));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Non-empty, at most 64 characters, no control characters, no leading or trailing
        /// whitespace.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// Checks and wraps an identifier.
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                check_id($what, s)?;
                Ok($ty(s.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        string_serde!($ty, concat!("a ", $what, " as a string"));
    };
}

id_type!(
    /// A case number (案件编号), unique within a log.
    CaseId,
    "case id"
);
id_type!(
    /// A finding number (违规事实编号), unique within a log.
    FindingId,
    "finding id"
);
id_type!(
    /// A decision number (处理决定书编号), unique within a log.
    DecisionId,
    "decision id"
);
id_type!(
    /// A rectification item number (整改事项编号), unique within a log.
    ItemId,
    "item id"
);
id_type!(
    /// An exposure notice number (曝光通报编号), unique within a log.
    NoticeId,
    "notice id"
);
id_type!(
    /// An officer's law-enforcement certificate number (执法证号).
    OfficerId,
    "officer id"
);

// ---------------------------------------------------------------------------------------
// 32-byte values
// ---------------------------------------------------------------------------------------

/// 32 bytes: an Ed25519 public key or a BLAKE3 digest.
///
/// JSON carries 64 lowercase hex digits; CBOR carries a 32-byte byte string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes32(pub [u8; 32]);

impl Bytes32 {
    /// Parses 64 lowercase hex digits.
    pub fn parse_hex(s: &str) -> Result<Self, ValueError> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ValueError::new(
                "32-byte value",
                s,
                "must be 64 lowercase hex digits",
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| ValueError::new("32-byte value", s, e.to_string()))?;
        Ok(Bytes32(out))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<[u8; 32]> for Bytes32 {
    fn from(bytes: [u8; 32]) -> Self {
        Bytes32(bytes)
    }
}

impl fmt::Debug for Bytes32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes32({})", self.to_hex())
    }
}

impl fmt::Display for Bytes32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Bytes32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Bytes32 {
    /// Accepts either form whatever the format says, because serde's buffering of
    /// internally tagged enums (used by `KeyEvent`) forgets whether the format is human
    /// readable. The canonical CBOR decoder re-encodes and so still refuses a hex string
    /// where bytes belong.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes32Visitor;
        impl<'de> de::Visitor<'de> for Bytes32Visitor {
            type Value = Bytes32;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "32 bytes: 64 lowercase hex digits in JSON, a 32-byte byte string in CBOR",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes32, E> {
                Bytes32::parse_hex(v).map_err(E::custom)
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes32, E> {
                <[u8; 32]>::try_from(v)
                    .map(Bytes32)
                    .map_err(|_| E::custom(format!("expected 32 bytes, found {}", v.len())))
            }
        }
        deserializer.deserialize_any(Bytes32Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_parses_and_prints_shortest_decimal() {
        for (text, thousandths, shown) in [
            ("1.5", 1500, "1.5"),
            ("2", 2000, "2"),
            ("2.0", 2000, "2"),
            ("3.5", 3500, "3.5"),
            ("1.125", 1125, "1.125"),
            ("0.05", 50, "0.05"),
        ] {
            let m = Multiple::parse(text).unwrap();
            assert_eq!(m.thousandths(), thousandths, "{text}");
            assert_eq!(m.to_string(), shown, "{text}");
        }
        for bad in [
            "1.5555", "-1", "+1", "1e3", "", ".5", "1.", "1,5", "1234567",
        ] {
            assert!(Multiple::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn fen_displays_as_grouped_yuan() {
        assert_eq!(Fen::new(33_552_900).to_string(), "335,529.00 yuan");
        assert_eq!(Fen::new(5).to_string(), "0.05 yuan");
        assert_eq!(Fen::new(100_000_000).to_string(), "1,000,000.00 yuan");
        assert_eq!(Fen::new(12_345_600).to_string(), "123,456.00 yuan");
        assert_eq!(Fen::from_yuan(111_843), Some(Fen::new(11_184_300)));
    }

    #[test]
    fn codes_are_checked() {
        assert!(DivisionCode::parse("141125").is_ok());
        assert_eq!(
            DivisionCode::parse("141125").unwrap().city().as_str(),
            "141100"
        );
        for bad in ["14112", "1411255", "99a125", "991125", "000000"] {
            assert!(DivisionCode::parse(bad).is_err(), "{bad}");
        }
        assert!(InstitutionCode::parse("H14112500001").is_ok());
        assert!(InstitutionCode::parse("P14112500001")
            .unwrap()
            .is_pharmacy());
        for bad in [
            "X14112500001",
            "H1411250000",
            "h14112500001",
            "H1411250000a",
        ] {
            assert!(InstitutionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_months_periods() {
        assert!(Date::parse("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2021-6-30",
            "2021/06/30",
            "21-06-30",
            "2021-06-30T00:00",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Month::parse("2021-06").unwrap().to_string(), "2021-06");
        assert!(Month::parse("2021-13").is_err());
        for good in ["2023", "2023-H1", "2023-H2", "2023-Q1", "2023-Q4"] {
            assert_eq!(Period::parse(good).unwrap().to_string(), good);
        }
        for bad in ["2023-H3", "2023-Q5", "23", "2023-"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        // 2021-06-30T16:00:00Z is 2021-07-01 00:00 in Beijing.
        let ms = 1_625_068_800_000;
        assert_eq!(
            Date::from_timestamp_ms_china(ms).unwrap().to_string(),
            "2021-07-01"
        );
        assert_eq!(
            Date::from_timestamp_ms_china(ms - 1).unwrap().to_string(),
            "2021-06-30"
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(CaseId::parse("LL-2021-001").is_ok());
        assert!(CaseId::parse("").is_err());
        assert!(CaseId::parse(" x").is_err());
        assert!(CaseId::parse("a\nb").is_err());
        assert!(CaseId::parse(&"x".repeat(65)).is_err());
    }
}
