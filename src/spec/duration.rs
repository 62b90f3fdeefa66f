//! Durations as people write them in YAML (`30s`, `2m`, `1h30m`, `500ms`):
//! Go's `time.ParseDuration` subset that Kubernetes users already know, without
//! fractions or negative values, which have no meaning for a window.

use std::time::Duration;

/// Parses `text`, or says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let expected = || format!("expected a duration like 30s, 2m or 1h30m, got {text:?}");
    let s = text.trim();
    if s.is_empty() {
        return Err(expected());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(expected());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| expected())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let millis_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" if rest.is_empty() => {
                return Err(format!(
                    "{} (a number needs a unit: ms, s, m or h)",
                    expected()
                ));
            }
            _ => return Err(expected()),
        };
        rest = &rest[unit_len..];
        total = total
            .checked_add(n.checked_mul(millis_per).ok_or_else(expected)?)
            .ok_or_else(expected)?;
    }
    // Ten years is longer than any experiment; larger values are typos.
    if total > 10 * 365 * 24 * 3_600_000 {
        return Err(format!("duration {text:?} is longer than ten years"));
    }
    Ok(Duration::from_millis(total as u64))
}

/// Whole seconds, rounded up, as Kubernetes fields want them.
pub fn seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_units() {
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn refuses_bare_numbers_and_junk() {
        assert!(parse("30").unwrap_err().contains("needs a unit"));
        assert!(!parse("2 minutes").unwrap_err().contains("needs a unit"));
        for bad in ["", "s", "1.5s", "-1s", "1d", "1s2", "99999999999999999999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
    }
}
