//! Time windows of the shared options (docs/cli.md "Windows and durations").
//!
//! `--current` / `--baseline` take an absolute range `A..B` (dates, RFC
//! 3339 or zone-less times, `now`, `today`, `yesterday`; a date-only end
//! is exclusive, so `2026-01-01..2026-01-08` is seven days; `A..` runs to
//! the end), a day (`2026-01-08`, `yesterday`: that whole day), or a
//! length relative to the end (`90m`, `6h`, `1d`, `1h30m`, `1.5d`, `P1D`).
//! Days, dates and zone-less times are in the time zone of `--tz` (an IANA
//! name; UTC by default), so a day starts at that zone's midnight and
//! lasts 23 or 25 hours across a daylight-saving change.
//! The end is the data's end (the last span's start), `--until now`, or an
//! instant given to `--until`. Defaults: current = 1d, baseline = the 7d
//! before the current window. Windows are half-open: `[start, end)`.

use chrono::DateTime;
pub use jiff::tz::TimeZone;

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
    /// From a time to the reference end (`2026-01-07..`).
    From(i64),
}

/// Where relative windows end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    DataEnd,
    Now,
    At(i64),
}

/// A length: `90s`, `15m`, `6h`, `1d`, `2w`, compound (`1h30m`, `1d 12h`),
/// spelt out (`1day`, `90 minutes`), fractional (`1.5d`, `2.5h`) or ISO
/// 8601 (`P1D`, `PT1H30M`, `P1W`) -> nanoseconds. Days are 24 hours;
/// months and years, whose length varies, are refused.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let ns = match fractional_days(s) {
        Some(ns) => ns?,
        None => {
            let span: jiff::Span = s.parse().map_err(|e| {
                format!("`{s}` is not a length (write 90m, 6h, 1d, 1h30m, 1.5d or P1D): {e}")
            })?;
            if span.get_months() != 0 || span.get_years() != 0 {
                return Err(format!(
                    "`{s}`: months and years have no fixed length; write days (30d)"
                ));
            }
            let d = span
                .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .map_err(|e| format!("`{s}` is too long: {e}"))?;
            i64::try_from(d.as_nanos()).map_err(|_| format!("`{s}` is too long"))?
        }
    };
    if ns <= 0 {
        return Err(format!("`{s}` must be longer than zero"));
    }
    Ok(ns)
}

/// `1.5d`, `0.5w`: a fraction of days or weeks (the friendly format takes
/// fractions of hours and below only). None when `s` is not one.
fn fractional_days(s: &str) -> Option<Result<i64, String>> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    if !num.contains('.') {
        return None;
    }
    let days = match unit.trim() {
        "d" | "day" | "days" => 1.0,
        "w" | "week" | "weeks" => 7.0,
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    let ns = n * days * NS_PER_DAY as f64;
    Some(if ns.is_finite() && ns < i64::MAX as f64 {
        Ok(ns.round() as i64)
    } else {
        Err(format!("`{s}` is too long"))
    })
}

/// `--tz`: an IANA time zone name (`America/New_York`, `Europe/Berlin`)
/// or `UTC`, from the tz database built into the binary (the same on
/// every machine).
pub fn parse_tz(s: &str) -> Result<TimeZone, String> {
    let s = s.trim();
    if ["utc", "z", "gmt", "etc/utc"]
        .iter()
        .any(|u| s.eq_ignore_ascii_case(u))
    {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(s).map_err(|_| {
        format!(
            "`{s}` is not a time zone: write an IANA name (America/New_York, Europe/Berlin) or UTC"
        )
    })
}

/// The zone's name as `--tz` takes it.
pub fn tz_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("UTC")
}

/// Whether days are UTC's ([`parse_tz`] gives every spelling of UTC as
/// [`TimeZone::UTC`]).
pub fn is_utc(tz: &TimeZone) -> bool {
    *tz == TimeZone::UTC
}

fn zoned(t: i64, tz: &TimeZone) -> jiff::Zoned {
    // every i64 of nanoseconds (years 1677..2262) is a jiff timestamp
    jiff::Timestamp::from_nanosecond(i128::from(t))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
}

/// The start of `date` in `tz` (its midnight, or the first instant after a
/// gap that skips it).
fn date_start(date: jiff::civil::Date, tz: &TimeZone) -> Result<i64, String> {
    let z = date
        .to_zoned(tz.clone())
        .map_err(|e| format!("{date} is out of range: {e}"))?;
    i64::try_from(z.timestamp().as_nanosecond())
        .map_err(|_| format!("{date} is out of range (times run from 1677 to 2262)"))
}

/// The start of the month holding `t` in `tz`.
pub fn month_start(t: i64, tz: &TimeZone) -> i64 {
    date_start(zoned(t, tz).date().first_of_month(), tz).unwrap_or(t)
}

/// The zone's UTC offsets over `w`, in nanoseconds: the one at its start,
/// then (instant, offset) at each change inside it (daylight saving: about
/// two a year, whatever the window's length).
pub fn offsets(w: Window, tz: &TimeZone) -> (i64, Vec<(i64, i64)>) {
    let at = |t: i64| {
        jiff::Timestamp::from_nanosecond(i128::from(t)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    };
    let off = |o: jiff::tz::Offset| i64::from(o.seconds()) * NS_PER_SEC;
    let first = off(tz.to_offset(at(w.start_ns)));
    let changes = tz
        .following(at(w.start_ns))
        .map(|tr| (ns_of(tr.timestamp()), off(tr.offset())))
        .take_while(|(t, _)| *t < w.end_ns)
        .collect();
    (first, changes)
}

fn ns_of(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// `2026-01-31` or `2026-1-31`: a year of four digits, a month and a day.
fn civil_date(s: &str) -> Option<jiff::civil::Date> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
        return None;
    }
    jiff::civil::Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// A date (`2026-01-31`), `today` or `yesterday`: that day in `tz`, as
/// (start, end). None for anything else.
fn day_at(s: &str, now_ns: i64, tz: &TimeZone) -> Option<Result<(i64, i64), String>> {
    let date = if s.eq_ignore_ascii_case("today") {
        zoned(now_ns, tz).date()
    } else if s.eq_ignore_ascii_case("yesterday") {
        zoned(now_ns, tz).date().yesterday().ok()?
    } else {
        civil_date(s)?
    };
    let range = || -> Result<(i64, i64), String> {
        let next = date
            .tomorrow()
            .map_err(|e| format!("`{s}` is out of range: {e}"))?;
        Ok((date_start(date, tz)?, date_start(next, tz)?))
    };
    Some(range())
}

/// An instant: `now`, `today` or `yesterday` (their midnight), a date
/// (its midnight), RFC 3339 (`2026-01-01T12:00:00Z`), or a time without a
/// zone (`2026-01-01T12:00`, `2026-01-01 12:00:00`); dates and zone-less
/// times in `tz`.
pub fn parse_instant(s: &str, tz: &TimeZone) -> Result<i64, String> {
    parse_instant_at(s, now_ns(), tz)
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn parse_instant_at(s: &str, now_ns: i64, tz: &TimeZone) -> Result<i64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now_ns);
    }
    if let Some(d) = day_at(s, now_ns, tz) {
        return d.map(|(start, _)| start);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    if let Ok(t) = s.parse::<jiff::civil::DateTime>() {
        let z = t
            .to_zoned(tz.clone())
            .map_err(|e| format!("`{s}` is out of range: {e}"))?;
        return i64::try_from(z.timestamp().as_nanosecond())
            .map_err(|_| format!("`{s}` is out of range"));
    }
    Err(format!(
        "`{s}` is not a time: write a date (2026-01-31), a time (2026-01-31T12:00:00Z, or \
         2026-01-31 12:00 in the --tz zone), now, today or yesterday"
    ))
}

/// A window: `A..B` (either end an instant as [`parse_instant`] reads it;
/// `A..` runs to the reference end), a day (`2026-01-08`, `today`,
/// `yesterday`: that whole day in `tz`), or a length ending at the
/// reference end ([`parse_duration`]).
pub fn parse_window(s: &str, tz: &TimeZone) -> Result<WindowSpec, String> {
    parse_window_at(s, now_ns(), tz)
}

fn parse_window_at(s: &str, now_ns: i64, tz: &TimeZone) -> Result<WindowSpec, String> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once("..") {
        let start_ns = if a.trim().is_empty() {
            0
        } else {
            parse_instant_at(a, now_ns, tz)?
        };
        if b.trim().is_empty() {
            return Ok(WindowSpec::From(start_ns));
        }
        let end_ns = parse_instant_at(b, now_ns, tz)?;
        if end_ns <= start_ns {
            return Err(format!("`{s}` ends before it starts"));
        }
        return Ok(WindowSpec::Absolute(Window { start_ns, end_ns }));
    }
    if let Some(d) = day_at(s, now_ns, tz) {
        let (start_ns, end_ns) = d?;
        return Ok(WindowSpec::Absolute(Window { start_ns, end_ns }));
    }
    parse_duration(s).map(WindowSpec::Relative)
}

/// `now`, an instant, or (when absent) the data's end.
pub fn parse_until(s: Option<&str>, tz: &TimeZone) -> Result<Until, String> {
    match s {
        None => Ok(Until::DataEnd),
        Some(v) if v.trim().eq_ignore_ascii_case("now") => Ok(Until::Now),
        Some(v) => parse_instant(v, tz).map(Until::At),
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
        // no window starts before 1970, as `..B` does not
        WindowSpec::Relative(len) => Window {
            start_ns: end.saturating_sub(len).max(0),
            end_ns: end,
        },
        WindowSpec::From(start_ns) => Window {
            start_ns,
            end_ns: end.max(start_ns.saturating_add(1)),
        },
    };
    let base = match baseline.unwrap_or(WindowSpec::Relative(7 * NS_PER_DAY)) {
        WindowSpec::Absolute(w) => w,
        WindowSpec::Relative(len) => Window {
            start_ns: cur.start_ns.saturating_sub(len).max(0),
            end_ns: cur.start_ns,
        },
        // a baseline from a time runs to the current window
        WindowSpec::From(start_ns) => Window {
            start_ns,
            end_ns: cur.start_ns.max(start_ns.saturating_add(1)),
        },
    };
    (cur, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN1: i64 = 1_767_225_600 * NS_PER_SEC; // 2026-01-01T00:00:00Z

    fn parse_instant_utc(s: &str) -> Result<i64, String> {
        parse_instant(s, &TimeZone::UTC)
    }

    #[test]
    fn durations_and_instants() {
        const H: i64 = 3600 * NS_PER_SEC;
        for (text, want) in [
            ("90m", 90 * 60 * NS_PER_SEC),
            ("2w", 14 * NS_PER_DAY),
            ("1h30m", 90 * 60 * NS_PER_SEC),
            ("1day", NS_PER_DAY),
            ("3 days", 3 * NS_PER_DAY),
            ("1d 12h", 36 * H),
            ("1.5d", 36 * H),
            ("0.5w", 84 * H),
            ("2.5h", 150 * 60 * NS_PER_SEC),
            ("P1D", NS_PER_DAY),
            ("PT1H30M", 90 * 60 * NS_PER_SEC),
            ("P1W", 7 * NS_PER_DAY),
            ("P1DT12H", 36 * H),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("7y")
            .unwrap_err()
            .contains("no fixed length"));
        assert!(parse_duration("1mo")
            .unwrap_err()
            .contains("no fixed length"));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("-1d").is_err());
        assert_eq!(parse_instant_utc("2026-01-01"), Ok(JAN1));
        assert_eq!(
            parse_instant_utc("2026-01-01T01:00:00+01:00"),
            Ok(JAN1),
            "offsets are converted to UTC"
        );
        // without a zone: UTC, as ingest reads such times
        assert_eq!(parse_instant_utc("2026-01-01T06:00:00"), Ok(JAN1 + 6 * H));
        assert_eq!(parse_instant_utc("2026-01-01 06:30"), Ok(JAN1 + 13 * H / 2));
        assert!(parse_instant_utc("01/02/2026").is_err());
    }

    /// A date is that whole day; `today`, `yesterday` and `now` read the
    /// clock; `A..` runs to the reference end.
    #[test]
    fn windows_as_people_write_them() {
        const H: i64 = 3600 * NS_PER_SEC;
        let now = JAN1 + 7 * NS_PER_DAY + 15 * H; // 2026-01-08T15:00Z
        let day = |d: i64| {
            WindowSpec::Absolute(Window {
                start_ns: JAN1 + d * NS_PER_DAY,
                end_ns: JAN1 + (d + 1) * NS_PER_DAY,
            })
        };
        assert_eq!(
            parse_window_at("2026-01-08", now, &TimeZone::UTC),
            Ok(day(7))
        );
        assert_eq!(parse_window_at("today", now, &TimeZone::UTC), Ok(day(7)));
        assert_eq!(
            parse_window_at("Yesterday", now, &TimeZone::UTC),
            Ok(day(6))
        );
        assert_eq!(
            parse_window_at("2026-01-07..now", now, &TimeZone::UTC),
            Ok(WindowSpec::Absolute(Window {
                start_ns: JAN1 + 6 * NS_PER_DAY,
                end_ns: now
            }))
        );
        assert_eq!(
            parse_window_at("2026-01-07..", now, &TimeZone::UTC),
            Ok(WindowSpec::From(JAN1 + 6 * NS_PER_DAY))
        );
        assert_eq!(
            parse_window_at("yesterday..today", now, &TimeZone::UTC),
            Ok(day(6))
        );
        assert_eq!(
            parse_window_at("1h30m", now, &TimeZone::UTC),
            Ok(WindowSpec::Relative(90 * 60 * NS_PER_SEC))
        );
        assert!(parse_window_at("2026-01-08..2026-01-07", now, &TimeZone::UTC).is_err());
        // `A..` resolves to the data's end; as a baseline, to the current start
        let (cur, base) = resolve(
            Some(WindowSpec::From(JAN1 + 6 * NS_PER_DAY)),
            Some(WindowSpec::From(JAN1)),
            Until::DataEnd,
            Some(JAN1 + 7 * NS_PER_DAY),
            now,
        );
        assert_eq!(
            (cur.start_ns, cur.end_ns),
            (JAN1 + 6 * NS_PER_DAY, JAN1 + 7 * NS_PER_DAY + 1)
        );
        assert_eq!((base.start_ns, base.end_ns), (JAN1, JAN1 + 6 * NS_PER_DAY));
    }

    #[test]
    fn absolute_range_end_is_exclusive() {
        let w = parse_window("2026-01-01..2026-01-08", &TimeZone::UTC).unwrap();
        assert_eq!(
            w,
            WindowSpec::Absolute(Window {
                start_ns: JAN1,
                end_ns: JAN1 + 7 * NS_PER_DAY
            })
        );
        assert!(parse_window("2026-01-08..2026-01-01", &TimeZone::UTC).is_err());
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
        assert_eq!(parse_until(Some("now"), &TimeZone::UTC), Ok(Until::Now));
        assert!(needs_data_end(None, Until::DataEnd));
        assert!(!needs_data_end(None, Until::Now));
        let abs = parse_window("2026-01-01..2026-01-08", &TimeZone::UTC).ok();
        assert!(!needs_data_end(abs, Until::DataEnd));
        assert!(needs_data_end(
            parse_window("1d", &TimeZone::UTC).ok(),
            Until::DataEnd
        ));
        assert_eq!(
            parse_until(Some("2026-01-01"), &TimeZone::UTC),
            Ok(Until::At(JAN1))
        );
    }

    /// `--tz`: days, dates and zone-less times in the zone, a day 23 hours
    /// long where daylight saving starts, months from the zone's midnight.
    #[test]
    fn days_in_a_time_zone() {
        const H: i64 = 3600 * NS_PER_SEC;
        let ny = parse_tz("America/New_York").unwrap();
        let now = JAN1 + 7 * NS_PER_DAY + 15 * H; // 2026-01-08T15:00Z, 10:00 in New York
        assert_eq!(
            parse_window_at("2026-01-08", now, &ny),
            Ok(WindowSpec::Absolute(Window {
                start_ns: JAN1 + 7 * NS_PER_DAY + 5 * H,
                end_ns: JAN1 + 8 * NS_PER_DAY + 5 * H,
            }))
        );
        // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT
        let mar8 = 1_772_928_000 * NS_PER_SEC; // 2026-03-08T00:00Z
        let Ok(WindowSpec::Absolute(w)) = parse_window_at("2026-03-08", now, &ny) else {
            panic!("a day")
        };
        assert_eq!((w.start_ns, w.len_ns()), (mar8 + 5 * H, 23 * H));
        // yesterday from 2026-01-09T03:00Z is 2026-01-08 in UTC, 01-07 in New York
        let late = JAN1 + 8 * NS_PER_DAY + 3 * H;
        assert_eq!(
            parse_instant_at("yesterday", late, &ny),
            Ok(JAN1 + 6 * NS_PER_DAY + 5 * H)
        );
        assert_eq!(
            parse_instant_at("2026-01-01T06:00", now, &ny),
            Ok(JAN1 + 11 * H),
            "a zone-less time is in the zone"
        );
        assert_eq!(
            parse_instant_at("2026-01-01T06:00:00Z", now, &ny),
            Ok(JAN1 + 6 * H),
            "an explicit offset wins"
        );
        let tokyo = parse_tz("Asia/Tokyo").unwrap();
        // 2026-03-15T12:00Z: March 1st in Tokyo began 2026-02-28T15:00Z
        let t = 1_773_576_000 * NS_PER_SEC;
        assert_eq!(month_start(t, &tokyo), 1_772_290_800 * NS_PER_SEC);
        // from 2026-03-01 to 2026-12-01 in New York: EST, then EDT from
        // 2026-03-08T07:00Z, EST again from 2026-11-01T06:00Z
        let w = Window {
            start_ns: mar8 - 7 * NS_PER_DAY,
            end_ns: mar8 + 268 * NS_PER_DAY,
        };
        assert_eq!(
            offsets(w, &ny),
            (
                -5 * H,
                vec![
                    (mar8 + 7 * H, -4 * H),
                    (mar8 + 238 * NS_PER_DAY + 6 * H, -5 * H)
                ]
            )
        );
        assert_eq!(offsets(w, &TimeZone::UTC), (0, vec![]));
        assert_eq!(
            parse_window_at("2026-1-8", now, &TimeZone::UTC),
            parse_window_at("2026-01-08", now, &TimeZone::UTC),
            "months and days without a leading zero"
        );
        assert!(parse_window_at("2026-02-30", now, &TimeZone::UTC).is_err());
        assert!(parse_window_at("..1600-01-01", now, &TimeZone::UTC)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_tz("Mars/Olympus").is_err());
        assert!(is_utc(&parse_tz("utc").unwrap()));
        assert!(!is_utc(&ny));
    }
}
