//! Docker-style sizes: `64m`, `1g`, `512k`, `1048576`, `1.5g`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid size {input:?}: {why} (try a number with an optional unit b, k, m or g, like 64m or 1g)")]
pub struct SizeError {
    input: String,
    why: &'static str,
}

/// Parses a size the way `docker run --memory` does: a number, optionally with a fraction, then an
/// optional unit `b`, `k`, `m`, `g` (powers of 1024, case-insensitive, a trailing `b` allowed as in `64mb`).
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let err = |why| SizeError {
        input: input.to_string(),
        why,
    };
    let s = input.trim().to_ascii_lowercase();
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() {
        return Err(err("it does not start with a number"));
    }
    let value: f64 = number.parse().map_err(|_| err("the number is malformed"))?;
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(err("the unit is unknown")),
    };
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(err("it is too large"));
    }
    Ok(bytes as u64)
}

/// A size for people: `64 MiB`, `1.5 GiB`, `512 KiB`, `1 B`; two decimals at most.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_bytes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("12b"), Ok(12));
    }

    #[test]
    fn units_are_powers_of_1024_in_any_case() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64mb"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
    }

    #[test]
    fn sizes_are_printed_for_people() {
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(512 << 10), "512 KiB");
        assert_eq!(human(1), "1 B");
        assert_eq!(human(0), "0 B");
        assert_eq!(human(6 << 20), "6 MiB");
        assert_eq!(human((1 << 20) + 1), "1 MiB");
    }

    #[test]
    fn malformed_sizes_say_what_to_type() {
        let e = parse_size("12q").unwrap_err().to_string();
        assert!(
            e.contains("\"12q\"") && e.contains("unit is unknown") && e.contains("64m"),
            "{e}"
        );
        assert!(parse_size("m")
            .unwrap_err()
            .to_string()
            .contains("does not start with a number"));
        assert!(parse_size("").is_err());
        assert!(parse_size("1.2.3m")
            .unwrap_err()
            .to_string()
            .contains("malformed"));
        assert!(parse_size("-5m").is_err());
        assert!(parse_size("99999999999t")
            .unwrap_err()
            .to_string()
            .contains("too large"));
    }
}
