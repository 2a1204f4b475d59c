//! Timestamps as RFC 3339 text, without a date-time crate for one format,
//! and durations as people write them in configs (`30s`, `90d`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parse a duration written as `500ms`, `30s`, `5m`, `2h` or `7d`: digits,
/// then one unit, nothing else. Too large a value is an error, not an
/// overflow.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(mcpgate_core::parse_duration("5m"), Ok(Duration::from_secs(300)));
/// assert!(mcpgate_core::parse_duration("5 minutes").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; write e.g. `500ms`, `30s`, `5m`, `2h` or `7d`")
    })?;
    let too_long = || format!("`{text}` is too long a duration");
    let seconds = |factor: u64| {
        value
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(too_long)
    };
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        _ => Err(format!(
            "`{text}` has no known unit; write e.g. `500ms`, `30s`, `5m`, `2h` or `7d`"
        )),
    }
}

/// `time` in UTC as RFC 3339 with milliseconds, e.g.
/// `2025-01-01T12:00:00.250Z`. Times before 1970 print as the epoch.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_millis(951_782_400_250);
/// assert_eq!(mcpgate_core::format_rfc3339(t), "2000-02-29T00:00:00.250Z");
/// ```
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    // Whole days since 1970 are not negative here (earlier times print as
    // the epoch), so neither is any part of the date.
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let (year, month, day) = (year as u64, month as u64, day as u64);
    let secs_of_day = secs % 86_400;
    let (hour, minute, second) = (
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60,
    );
    let millis = u64::from(since_epoch.subsec_millis());
    if year > 9999 {
        return format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
        );
    }
    // Every audit record formats its time twice on the call's path; filling
    // a fixed template costs a small fraction of `format!`'s machinery.
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, hour);
    put(14, 2, minute);
    put(17, 2, second);
    put(20, 3, millis);
    text.iter().map(|&b| char::from(b)).collect()
}

/// Parse an RFC 3339 time (`2025-01-01T12:00:00Z`, with optional
/// fraction and `Z` or a `±hh:mm` offset). Times before 1970 and malformed
/// text give `None`.
///
/// ```
/// use mcpgate_core::{format_rfc3339, parse_rfc3339};
/// let t = parse_rfc3339("2000-02-29T01:00:00+01:00").unwrap();
/// assert_eq!(format_rfc3339(t), "2000-02-29T00:00:00.000Z");
/// ```
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let scaled: String = fraction[..digits]
            .chars()
            .chain(std::iter::repeat('0'))
            .take(9)
            .collect();
        nanos = scaled.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_seconds: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            let magnitude = hours * 3600 + minutes * 60;
            if &rest[..1] == "+" {
                magnitude
            } else {
                -magnitude
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let local = days as i64 * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    let utc = u64::try_from(local - offset_seconds).ok()?;
    Some(UNIX_EPOCH + std::time::Duration::new(utc, nanos))
}

/// (year, month, day) → days since 1970-01-01, for dates from 1970 on.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

/// Days since 1970-01-01 (negative before) → (year, month, day) in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
///
/// ```
/// assert_eq!(mcpgate_core::civil_from_days(0), (1970, 1, 1));
/// assert_eq!(mcpgate_core::civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> String {
        format_rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn formats_dates_across_leap_rules() {
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_735_732_800), "2025-01-01T12:00:00.000Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59.000Z");
        assert_eq!(
            format_rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn the_template_writes_what_format_would() {
        // Every day from 1970 to past 2400 (leap rules of 2000 and 2100),
        // at a time and milliseconds that vary with it; then past 9999.
        for day in (0..157_000u64).step_by(7) {
            let secs = day * 86_400 + (day * 7919) % 86_400;
            let millis = day % 1000;
            let time = UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis);
            let (year, month, date) = civil_from_days(day as i64);
            let of_day = secs % 86_400;
            let expected = format!(
                "{year:04}-{month:02}-{date:02}T{:02}:{:02}:{:02}.{millis:03}Z",
                of_day / 3600,
                of_day % 3600 / 60,
                of_day % 60
            );
            assert_eq!(format_rfc3339(time), expected);
        }
        assert_eq!(at(253_402_300_800), "10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_formats_and_the_common_variants() {
        for secs in [0, 951_782_400, 1_735_732_800, 4_107_542_399, 1_795_442_225] {
            let text = at(secs);
            assert_eq!(parse_rfc3339(&text).map(format_rfc3339), Some(text));
        }
        let base = "2025-01-01T12:00:00.000Z";
        for variant in [
            "2025-01-01T12:00:00Z",
            "2025-01-01t12:00:00z",
            "2025-01-01T13:00:00+01:00",
            "2025-01-01T11:30:00-00:30",
            "2025-01-01T12:00:00.000000000Z",
        ] {
            assert_eq!(
                parse_rfc3339(variant).map(format_rfc3339).as_deref(),
                Some(base),
                "{variant}"
            );
        }
        assert_eq!(
            parse_rfc3339("2025-01-01T12:00:00.25Z")
                .map(format_rfc3339)
                .as_deref(),
            Some("2025-01-01T12:00:00.250Z")
        );
        for bad in [
            "",
            "2025-01-01",
            "2025-13-01T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2025-01-01T00:00:00+0100",
            "２０２５-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
