//! Number and text formatting for humans: the only place rounding happens.
//! JSON and Parquet carry raw values.

use chrono::{TimeZone, Utc};

pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn pct(share: Option<f64>) -> String {
    match share {
        Some(p) => format!("{:.1}%", p * 100.0),
        None => "-".into(),
    }
}

pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// RFC 3339 UTC with milliseconds.
pub fn time_ns(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Text from span data made safe for a terminal: control characters
/// (including ANSI escapes) replaced, length bounded (reliability.md #5).
pub fn terminal_safe(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (i, c) in s.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '·' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(12), "12");
        assert_eq!(pct(Some(0.5)), "50.0%");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(
            time_ns(1_760_460_275_939_000_000),
            "2025-10-14T16:44:35.939Z"
        );
        assert_eq!(terminal_safe("a\x1b[31mb\nc", 100), "a·[31mb·c");
    }
}
