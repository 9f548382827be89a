//! UTC timestamps without a date crate: when a report was made (`made_at`), and how old it is
//! when the room reads it. "Now" is always given, so tests never read the clock.

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-12-05T13:26:16Z` for `secs` since the epoch.
pub fn utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The seconds since the epoch of a `utc` timestamp (`2026-12-05T13:26:16Z`; fractions of a
/// second and other offsets are not read).
pub fn parse_utc(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let numbers =
        |s: &str, sep: char| -> Option<Vec<u64>> { s.split(sep).map(|n| n.parse().ok()).collect() };
    let (date, time) = (numbers(date, '-')?, numbers(time, ':')?);
    let ([year, month, day], [hour, minute, second]) =
        (date[..].try_into().ok()?, time[..].try_into().ok()?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = u64::try_from(days_from_civil(year as i64, month as i64, day as i64)).ok()?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// `12 min ago`: how long before `now` a report made at `made` was made.
pub fn age(made: u64, now: u64) -> String {
    let secs = now.saturating_sub(made);
    match secs {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_utc_and_reads_back() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        // 2024 is a leap year: 29 February exists.
        assert_eq!(utc(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(utc(1_796_477_176), "2026-12-05T13:26:16Z");
        for secs in [0, 951_782_400, 1_709_164_800, 1_796_477_176, 4_102_444_799] {
            assert_eq!(parse_utc(&utc(secs)), Some(secs), "{}", utc(secs));
        }
        for bad in [
            "",
            "2026-12-05",
            "2026-13-01T00:00:00Z",
            "2026-12-05T13:26:16+01:00",
            "yesterday",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_age_is_said_in_words() {
        let made = 1_796_477_176;
        assert_eq!(age(made, made + 5), "just now");
        assert_eq!(age(made, made + 12 * 60 + 59), "12 min ago");
        assert_eq!(age(made, made + 2 * 3600 + 59 * 60), "2 h ago");
        assert_eq!(age(made, made + 3 * 86_400), "3 days ago");
        // A report from a machine whose clock is ahead is not in the future.
        assert_eq!(age(made + 30, made), "just now");
    }
}
