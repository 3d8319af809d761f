//! Error budgets and multi-window, multi-burn-rate alerts (docs/statistics.md
//! "SLOs", after the Google SRE Workbook, ch. 5).

use serde::Serialize;

/// The burn-rate windows, ending at the report's end, in seconds.
pub const WINDOWS: [(&str, i64); 7] = [
    ("5m", 300),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("6h", 21_600),
    ("1d", 86_400),
    ("3d", 259_200),
];

/// (long window, short window, threshold, level): alert when both burn rates exceed the threshold.
pub const RULES: [(&str, &str, f64, Alert); 4] = [
    ("1h", "5m", 14.4, Alert::Page),
    ("6h", "30m", 6.0, Alert::Page),
    ("1d", "2h", 3.0, Alert::Ticket),
    ("3d", "6h", 1.0, Alert::Ticket),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    Page,
    Ticket,
    Ok,
    NoData,
}

impl Alert {
    pub fn as_str(self) -> &'static str {
        match self {
            Alert::Page => "page",
            Alert::Ticket => "ticket",
            Alert::Ok => "ok",
            Alert::NoData => "no data",
        }
    }
}

/// error ratio = bad / valid; None without valid events.
pub fn error_ratio(bad: u64, valid: u64) -> Option<f64> {
    (valid > 0).then(|| bad as f64 / valid as f64)
}

/// Error budget of a target: 1 - target.
pub fn budget(target: f64) -> f64 {
    1.0 - target
}

/// burn rate = error ratio / budget; None without valid events. A target
/// of 100% has no budget: any bad event burns at +inf, none at 0.
pub fn burn_rate(bad: u64, valid: u64, target: f64) -> Option<f64> {
    let r = error_ratio(bad, valid)?;
    let b = budget(target);
    Some(if b > 0.0 {
        r / b
    } else if r > 0.0 {
        f64::INFINITY
    } else {
        0.0
    })
}

/// Budget remaining = 1 - error ratio / budget (negative when overspent).
pub fn budget_remaining(bad: u64, valid: u64, target: f64) -> Option<f64> {
    burn_rate(bad, valid, target).map(|c| 1.0 - c)
}

/// A burn rate strictly above a threshold, past floating-point noise: a
/// ratio that equals the threshold exactly (2 bad of 200 at 99%: 1 in
/// exact arithmetic, 1.0000000000000002 in doubles) does not alert.
pub fn exceeds(burn: f64, threshold: f64) -> bool {
    burn > threshold * (1.0 + 1e-9)
}

/// The alert level from burn rates per window name (None = no valid
/// events in that window). A rule fires only when both of its windows have
/// data and exceed its threshold; with no data in any window the level is
/// "no data", never "ok".
pub fn alert(burn: &dyn Fn(&str) -> Option<f64>) -> Alert {
    let mut level = None;
    for (long, short, threshold, l) in RULES {
        if let (Some(a), Some(b)) = (burn(long), burn(short)) {
            if exceeds(a, threshold) && exceeds(b, threshold) {
                level = match (level, l) {
                    (Some(Alert::Page), _) | (_, Alert::Page) => Some(Alert::Page),
                    _ => Some(Alert::Ticket),
                };
            }
        }
    }
    if let Some(l) = level {
        return l;
    }
    if WINDOWS.iter().all(|(w, _)| burn(w).is_none()) {
        Alert::NoData
    } else {
        Alert::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(v: [Option<f64>; 7]) -> impl Fn(&str) -> Option<f64> {
        move |w| WINDOWS.iter().position(|(n, _)| *n == w).and_then(|i| v[i])
    }

    /// Regression: 1 bad of 10 against a 90% target burns at exactly 1,
    /// 1.0000000000000002 in doubles, which fired the 3d & 6h ticket.
    #[test]
    fn a_burn_of_exactly_the_threshold_does_not_alert() {
        let b = burn_rate(1, 10, 0.9).unwrap();
        assert!(b > 1.0, "the doubles overshoot: {b}");
        assert!(!exceeds(b, 1.0));
        assert!(exceeds(1.000001, 1.0));
        let at_threshold = [
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(b),
            Some(0.0),
            Some(b),
        ];
        assert_eq!(alert(&rates(at_threshold)), Alert::Ok);
        let above = [
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(1.5),
            Some(0.0),
            Some(1.5),
        ];
        assert_eq!(alert(&rates(above)), Alert::Ticket);
    }

    #[test]
    fn budget_arithmetic() {
        // 99.9% target, 20 bad of 10,000: ratio 0.002, budget 0.001 -> burn 2, remaining -1
        let b = burn_rate(20, 10_000, 0.999).unwrap();
        assert!((b - 2.0).abs() < 1e-9, "{b}");
        assert!((budget_remaining(20, 10_000, 0.999).unwrap() + 1.0).abs() < 1e-9);
        assert!((budget_remaining(5, 10_000, 0.999).unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(burn_rate(0, 0, 0.99), None);
        assert_eq!(burn_rate(1, 10, 1.0), Some(f64::INFINITY));
        assert_eq!(burn_rate(0, 10, 1.0), Some(0.0));
    }

    #[test]
    fn multiwindow_levels() {
        let s = Some;
        // 5m, 30m, 1h, 2h, 6h, 1d, 3d
        assert_eq!(
            alert(&rates([
                s(15.0),
                s(1.0),
                s(14.5),
                s(1.0),
                s(1.0),
                s(0.5),
                s(0.5)
            ])),
            Alert::Page
        );
        // the long window alone is not enough
        assert_eq!(
            alert(&rates([
                s(1.0),
                s(1.0),
                s(20.0),
                s(1.0),
                s(1.0),
                s(0.5),
                s(0.5)
            ])),
            Alert::Ok
        );
        assert_eq!(
            alert(&rates([
                s(1.0),
                s(6.5),
                s(1.0),
                s(1.0),
                s(6.1),
                s(0.5),
                s(0.5)
            ])),
            Alert::Page
        );
        assert_eq!(
            alert(&rates([
                s(0.0),
                s(0.0),
                s(0.0),
                s(3.5),
                s(0.0),
                s(3.1),
                s(0.5)
            ])),
            Alert::Ticket
        );
        assert_eq!(
            alert(&rates([None, None, None, None, s(1.2), s(1.0), s(1.1)])),
            Alert::Ticket
        );
        // exactly at the threshold does not fire (strictly greater)
        assert_eq!(
            alert(&rates([None, None, None, None, s(1.0), s(1.0), s(1.0)])),
            Alert::Ok
        );
        // a missing short window keeps its rule from firing
        assert_eq!(
            alert(&rates([
                None,
                s(1.0),
                s(30.0),
                s(1.0),
                s(1.0),
                s(1.0),
                s(0.5)
            ])),
            Alert::Ok
        );
        assert_eq!(alert(&rates([None; 7])), Alert::NoData);
    }
}
