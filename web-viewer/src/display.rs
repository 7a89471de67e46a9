//! How people see times and money: Asia/Shanghai and yuan. Storage is always UTC
//! milliseconds and integer fen; the CLI (`node/src/output.rs`) and the viewer both convert
//! here, and only for display.

use time::{macros::offset, OffsetDateTime, UtcOffset};

/// China Standard Time. Asia/Shanghai has had no daylight saving since 1991, so a fixed
/// +08:00 offset is exact for every date this ledger records.
pub const SHANGHAI: UtcOffset = offset!(+8);

/// `2021-06-30 14:05:09 +08:00` for a UTC millisecond timestamp.
pub fn shanghai_time(timestamp_ms: u64) -> String {
    let nanos = i128::from(timestamp_ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let t = t.to_offset(SHANGHAI);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +08:00",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => format!("{timestamp_ms} ms"),
    }
}

/// `335,529.00` for 33,552,900 fen.
pub fn yuan(fen: u64) -> String {
    let whole = fen / 100;
    let cents = fen % 100;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{cents:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_two_decimals_and_groups() {
        assert_eq!(yuan(33_552_900), "335,529.00");
        assert_eq!(yuan(11_184_300), "111,843.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(100_000), "1,000.00");
    }

    #[test]
    fn shanghai_is_utc_plus_eight() {
        // 2021-06-30T16:00:00Z is midnight on 1 July in Shanghai.
        assert_eq!(
            shanghai_time(1_625_068_800_000),
            "2021-07-01 00:00:00 +08:00"
        );
    }
}
