//! Timestamps as they come: integer nanoseconds (or µs/ms/s told apart by
//! magnitude), float seconds, decimal strings, RFC 3339 / ISO 8601 with or
//! without a zone (no zone = UTC, as ClickHouse writes them).

use chrono::{DateTime, NaiveDateTime};

use super::json::Val;

/// Integer epoch value in unknown units -> ns, by magnitude (dates after 1973).
fn int_to_ns(n: i64) -> Result<i64, String> {
    let a = n.unsigned_abs();
    let ns = if a >= 100_000_000_000_000_000 {
        Some(n)
    } else if a >= 100_000_000_000_000 {
        n.checked_mul(1_000)
    } else if a >= 100_000_000_000 {
        n.checked_mul(1_000_000)
    } else {
        n.checked_mul(1_000_000_000)
    };
    ns.ok_or_else(|| format!("{n} is out of range"))
}

fn float_to_ns(f: f64) -> Result<i64, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a time"));
    }
    let a = f.abs();
    if a >= 1e17 {
        return if a < 9.2e18 {
            Ok(f.round() as i64)
        } else {
            Err(format!("{f} is out of range"))
        };
    }
    // Fractional epoch values carry at best microseconds; rounding there keeps
    // 1760460275.939 s at ...939000000 ns instead of f64's ...938999808.
    let us = if a >= 1e14 {
        f
    } else if a >= 1e11 {
        f * 1e3
    } else {
        f * 1e6
    };
    if us.abs() >= 9.2e15 {
        return Err(format!("{f} is out of range"));
    }
    Ok((us.round() as i64) * 1_000)
}

pub fn parse_time_str(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<i64>() {
            Ok(n) => int_to_ns(n),
            Err(_) => Err(format!("`{t}` is out of range")),
        };
    }
    if let Ok(f) = t.parse::<f64>() {
        return float_to_ns(f);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("`{t}` is out of range"));
    }
    // ISO without a zone, `T` or space separated: UTC.
    let core = t.strip_suffix('Z').unwrap_or(t);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(core, fmt) {
            return n
                .and_utc()
                .timestamp_nanos_opt()
                .ok_or_else(|| format!("`{t}` is out of range"));
        }
    }
    // `+00:00`-style offsets with a space separator.
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return dt
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("`{t}` is out of range"));
    }
    Err(format!(
        "`{}` is not a timestamp (expected ns, seconds or RFC 3339)",
        super::resolve::truncate(t, 40)
    ))
}

pub fn parse_time_ns(v: &Val<'_>) -> Result<i64, String> {
    match v {
        Val::I64(n) => int_to_ns(*n),
        Val::U64(n) => Err(format!("{n} is out of range")),
        Val::F64(f) => float_to_ns(*f),
        Val::Str(s) => parse_time_str(s),
        Val::Null => Err("null".into()),
        _ => Err("not a timestamp".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2025-10-14T16:44:35.939Z = 1760460275939000000 ns
    // (python: int(datetime(2025,10,14,16,44,35,939000,tzinfo=timezone.utc).timestamp()*1000)*1000000)
    const T: i64 = 1_760_460_275_939_000_000;

    #[test]
    fn every_shape_of_the_same_instant() {
        assert_eq!(parse_time_str("2025-10-14T16:44:35.939Z").unwrap(), T);
        assert_eq!(
            parse_time_str("2025-10-14T16:44:35.939000+00:00").unwrap(),
            T
        );
        assert_eq!(parse_time_str("2025-10-14 16:44:35.939").unwrap(), T);
        assert_eq!(parse_time_str("2025-10-14T18:44:35.939+02:00").unwrap(), T);
        assert_eq!(parse_time_str("1760460275939000000").unwrap(), T);
        assert_eq!(parse_time_ns(&Val::I64(1_760_460_275_939_000)).unwrap(), T); // µs
        assert_eq!(parse_time_ns(&Val::I64(1_760_460_275_939)).unwrap(), T); // ms
        assert_eq!(parse_time_ns(&Val::F64(1_760_460_275.939)).unwrap(), T);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_time_str("yesterday").is_err());
        assert!(parse_time_str("99999999999999999999999").is_err());
        assert!(parse_time_ns(&Val::F64(f64::NAN)).is_err());
        assert!(parse_time_ns(&Val::Bool(true)).is_err());
    }
}
