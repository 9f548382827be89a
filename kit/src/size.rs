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
