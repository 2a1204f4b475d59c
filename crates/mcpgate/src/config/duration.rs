//! Durations written as `500ms`, `30s`, `5m`, `2h` or `7d`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

pub use mcpgate_core::parse_duration;

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    let duration = parse_duration(&text).map_err(de::Error::custom)?;
    if duration.is_zero() {
        return Err(de::Error::custom("a duration of zero is not allowed here"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_nonsense() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in [
            "",
            "s",
            "30",
            "30 s",
            "1.5s",
            "-1s",
            "99999999999999999999s",
            "999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
