//! Time windows of the shared options (docs/cli.md "Windows and durations").
//!
//! `--current` / `--baseline` take an absolute range `A..B` (dates or
//! RFC 3339, UTC; a date-only end is exclusive, so `2026-01-01..2026-01-08`
//! is seven days) or a length relative to the end (`90m`, `6h`, `1d`, `2w`).
//! The end is the data's end (the last span's start), `--until now`, or an
//! instant given to `--until`. Defaults: current = 1d, baseline = the 7d
//! before the current window. Windows are half-open: `[start, end)`.

use chrono::{DateTime, NaiveDate};

pub const NS_PER_SEC: i64 = 1_000_000_000;
pub const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// A half-open time range in UTC nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub start_ns: i64,
    pub end_ns: i64,
}

impl Window {
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start_ns && t < self.end_ns
    }
    pub fn len_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }
}

/// A window as the user wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSpec {
    Absolute(Window),
    /// A length ending at the reference end (current) or at the start of
    /// the current window (baseline).
    Relative(i64),
}

/// Where relative windows end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    DataEnd,
    Now,
    At(i64),
}

/// `90s`, `15m`, `6h`, `1d`, `2w` -> nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` has no unit"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let unit_ns = match unit {
        "s" => NS_PER_SEC,
        "m" | "min" => 60 * NS_PER_SEC,
        "h" => 3600 * NS_PER_SEC,
        "d" => NS_PER_DAY,
        "w" => 7 * NS_PER_DAY,
        _ => {
            return Err(format!(
                "`{s}` has an unknown unit `{unit}` (use s, m, h, d or w)"
            ))
        }
    };
    if n <= 0 {
        return Err(format!("`{s}` must be longer than zero"));
    }
    n.checked_mul(unit_ns)
        .ok_or_else(|| format!("`{s}` is too long"))
}

/// An instant: RFC 3339 (`2026-01-01T12:00:00Z`) or a date (`2026-01-01`, midnight UTC).
pub fn parse_instant(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    Err(format!(
        "`{s}` is neither a date (2026-01-31) nor an RFC 3339 time (2026-01-31T12:00:00Z)"
    ))
}

/// `A..B` or a relative length.
pub fn parse_window(s: &str) -> Result<WindowSpec, String> {
    if let Some((a, b)) = s.split_once("..") {
        let start_ns = parse_instant(a)?;
        let end_ns = parse_instant(b)?;
        if end_ns <= start_ns {
            return Err(format!("`{s}` ends before it starts"));
        }
        return Ok(WindowSpec::Absolute(Window { start_ns, end_ns }));
    }
    parse_duration(s).map(WindowSpec::Relative)
}

/// `now`, an instant, or (when absent) the data's end.
pub fn parse_until(s: Option<&str>) -> Result<Until, String> {
    match s {
        None => Ok(Until::DataEnd),
        Some(v) if v.eq_ignore_ascii_case("now") => Ok(Until::Now),
        Some(v) => parse_instant(v).map(Until::At),
    }
}

/// Whether resolving the windows needs the newest span's start: only a
/// relative current window ending at the data's end does (an absolute
/// current window fixes the baseline's end too). Engines that scan a lake
/// then skip that scan.
pub fn needs_data_end(current: Option<WindowSpec>, until: Until) -> bool {
    until == Until::DataEnd && !matches!(current, Some(WindowSpec::Absolute(_)))
}

/// Resolve the current and baseline windows. `last_start_ns` is the start
/// of the newest span (None for empty data); `now_ns` the clock.
pub fn resolve(
    current: Option<WindowSpec>,
    baseline: Option<WindowSpec>,
    until: Until,
    last_start_ns: Option<i64>,
    now_ns: i64,
) -> (Window, Window) {
    let end = match until {
        Until::DataEnd => last_start_ns.map_or(now_ns, |t| t + 1),
        Until::Now => now_ns,
        Until::At(t) => t,
    };
    let cur = match current.unwrap_or(WindowSpec::Relative(NS_PER_DAY)) {
        WindowSpec::Absolute(w) => w,
        WindowSpec::Relative(len) => Window {
            start_ns: end.saturating_sub(len),
            end_ns: end,
        },
    };
    let base = match baseline.unwrap_or(WindowSpec::Relative(7 * NS_PER_DAY)) {
        WindowSpec::Absolute(w) => w,
        WindowSpec::Relative(len) => Window {
            start_ns: cur.start_ns.saturating_sub(len),
            end_ns: cur.start_ns,
        },
    };
    (cur, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN1: i64 = 1_767_225_600 * NS_PER_SEC; // 2026-01-01T00:00:00Z

    #[test]
    fn durations_and_instants() {
        assert_eq!(parse_duration("90m"), Ok(90 * 60 * NS_PER_SEC));
        assert_eq!(parse_duration("2w"), Ok(14 * NS_PER_DAY));
        assert!(parse_duration("7").unwrap_err().contains("no unit"));
        assert!(parse_duration("7y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("0d").is_err());
        assert_eq!(parse_instant("2026-01-01"), Ok(JAN1));
        assert_eq!(
            parse_instant("2026-01-01T01:00:00+01:00"),
            Ok(JAN1),
            "offsets are converted to UTC"
        );
        assert!(parse_instant("01/02/2026").is_err());
    }

    #[test]
    fn absolute_range_end_is_exclusive() {
        let w = parse_window("2026-01-01..2026-01-08").unwrap();
        assert_eq!(
            w,
            WindowSpec::Absolute(Window {
                start_ns: JAN1,
                end_ns: JAN1 + 7 * NS_PER_DAY
            })
        );
        assert!(parse_window("2026-01-08..2026-01-01").is_err());
    }

    #[test]
    fn defaults_are_last_day_and_seven_before() {
        let last = JAN1 + 10 * NS_PER_DAY;
        let (cur, base) = resolve(None, None, Until::DataEnd, Some(last), 0);
        assert_eq!(cur.end_ns, last + 1);
        assert!(cur.contains(last));
        assert_eq!(cur.len_ns(), NS_PER_DAY);
        assert_eq!(base.end_ns, cur.start_ns);
        assert_eq!(base.len_ns(), 7 * NS_PER_DAY);
        let (cur, _) = resolve(
            Some(WindowSpec::Relative(3600 * NS_PER_SEC)),
            None,
            Until::Now,
            Some(last),
            JAN1,
        );
        assert_eq!((cur.start_ns, cur.end_ns), (JAN1 - 3600 * NS_PER_SEC, JAN1));
        assert_eq!(parse_until(Some("now")), Ok(Until::Now));
        assert!(needs_data_end(None, Until::DataEnd));
        assert!(!needs_data_end(None, Until::Now));
        let abs = parse_window("2026-01-01..2026-01-08").ok();
        assert!(!needs_data_end(abs, Until::DataEnd));
        assert!(needs_data_end(parse_window("1d").ok(), Until::DataEnd));
        assert_eq!(parse_until(Some("2026-01-01")), Ok(Until::At(JAN1)));
    }
}
