//! Attribution: which value of which dimension explains a finding, found
//! without the user choosing `--by`. For each dimension (route, model,
//! provider, tenant, user, prompt version, error type, finish reason, tool,
//! agent) other than the finding's own cohort keys, the engine returns the
//! finding's measure per value in the finding's focus and in the baseline;
//! the value that holds most of the change, and more of it than its usual
//! share, is the cause (MacroBase's support and risk ratio, in one score).
//! The selection rules are pure functions ([`error_cause`],
//! [`spend_cause`]) tested by hand below.

use std::collections::BTreeMap;

use super::cost::{self, CostOptions, Resolution};
use super::{expand, Rows};
use crate::engine::template::Expanded;
use crate::engine::{parse_key, Arms, Condition, Engine, Scope, NONE, OTHER};
use crate::error::{Error, Result};
use crate::report::format;
use crate::window::Window;

/// The dimensions searched, in the order ties are broken.
pub const DIMS: &[&str] = &[
    "model",
    "provider",
    "route",
    "tenant",
    "prompt_version",
    "user",
    "tool",
    "agent",
    "finish_reason",
    "error_type",
];

/// A cause needs at least this share of the change.
const MIN_SHARE: f64 = 0.5;

/// What explains a finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    pub field: String,
    pub value: String,
    /// its share of the finding's measure (errors, spend increase)
    pub share: f64,
    /// one sentence for people
    pub text: String,
}

/// A dimension value's measure in the focus and in the reference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Split {
    pub focus: f64,
    pub focus_n: f64,
    pub reference: f64,
    pub reference_n: f64,
}

/// Per dimension, per value.
pub type Table = BTreeMap<String, BTreeMap<String, Split>>;

/// One scope per dimension: the cohort's spans (its key values as
/// conditions), keyed by the dimension, in two arms (reference, focus).
fn scopes(
    scope: &Scope,
    cohort: &[String],
    reference: Window,
    focus: Window,
) -> Result<Vec<(&'static str, Scope)>> {
    if cohort.iter().any(|v| v == NONE || v == OTHER) {
        return Ok(Vec::new());
    }
    let own: Vec<&str> = scope.keys.iter().map(|k| k.name()).collect();
    let mut out = Vec::new();
    for d in DIMS {
        if own.contains(d) {
            continue;
        }
        let key = parse_key(d).map_err(|e| Error::usage(e, "a bundled field name"))?;
        let mut s = scope.clone();
        s.kept = None;
        for (k, v) in scope.keys.iter().zip(cohort) {
            s.conditions.push(Condition {
                key: k.clone(),
                negate: false,
                values: vec![v.clone()],
            });
        }
        s.keys = vec![key];
        s.set_arms(Arms::windows(reference, focus, "current"));
        out.push((*d, s));
    }
    Ok(out)
}

/// Run one query per dimension scope (`queries`, in `scopes`' order) and
/// gather per dimension and value its `measure` (and `count`) in the focus
/// and the reference arm.
fn gather(
    engine: &mut dyn Engine,
    scopes: &[(&'static str, Scope)],
    queries: &[Expanded],
    measure: &str,
    count: Option<&str>,
) -> Result<Table> {
    let frames = engine.run(queries)?;
    let mut t = Table::new();
    for (((d, _), f), q) in scopes.iter().zip(&frames).zip(queries) {
        let r = Rows::new(f, &q.name);
        let (keys, base, m) = (r.keys(1)?, r.is_baseline()?, r.f64s(measure)?);
        let n = match count {
            Some(c) => r.f64s(c)?,
            None => vec![None; r.len()],
        };
        let values = t.entry(d.to_string()).or_default();
        for i in 0..r.len() {
            let s = values.entry(keys[i][0].clone()).or_default();
            let (m, n) = (m[i].unwrap_or(0.0), n[i].unwrap_or(0.0));
            if base[i] {
                s.reference += m;
                s.reference_n += n;
            } else {
                s.focus += m;
                s.focus_n += n;
            }
        }
    }
    Ok(t)
}

/// Who caused an error burst of `cohort` in `hour` against `baseline`.
pub fn errors(
    engine: &mut dyn Engine,
    scope: &Scope,
    cohort: &[String],
    hour: Window,
    baseline: Window,
) -> Result<Option<Cause>> {
    let scopes = scopes(scope, cohort, baseline, hour)?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let queries = scopes
        .iter()
        .map(|(_, s)| expand(engine, s, "anomaly_explain_errors", &[]))
        .collect::<Result<Vec<_>>>()?;
    let t = gather(engine, &scopes, &queries, "errors", Some("n"))?;
    Ok(error_cause(&t))
}

/// Who an outlier finding of `cohort` in `current` is: `focus` (SQL over
/// span columns) selects its spans; `noun` names them in the sentence.
pub fn focus(
    engine: &mut dyn Engine,
    scope: &Scope,
    cohort: &[String],
    (current, baseline): (Window, Window),
    focus: &str,
    noun: &str,
) -> Result<Option<Cause>> {
    let scopes = scopes(scope, cohort, baseline, current)?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let queries = scopes
        .iter()
        .map(|(_, s)| {
            expand(
                engine,
                s,
                "anomaly_explain_focus",
                &[("focus", focus.to_string())],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let t = gather(engine, &scopes, &queries, "hits", Some("n"))?;
    Ok(focus_cause(&t, noun))
}

/// Who caused a spend spike of `cohort` in `current` against `baseline`
/// (daily figures: the windows' lengths in days).
pub fn spend(
    engine: &mut dyn Engine,
    scope: &Scope,
    cohort: &[String],
    (current, baseline): (Window, Window),
    o: &CostOptions,
    res: &Resolution,
) -> Result<Option<Cause>> {
    let scopes = scopes(scope, cohort, baseline, current)?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let mut queries = Vec::new();
    for (_, s) in &scopes {
        let mut s = s.clone();
        s.kind = o.kind.clone();
        let spans = cost::span_costs_with(engine, &s, o, res)?;
        queries.push(expand(
            engine,
            &s,
            "anomaly_explain_spend",
            &[("span_costs", spans)],
        )?);
    }
    let mut t = gather(engine, &scopes, &queries, "usd", None)?;
    // daily figures
    let days = |w: Window| (w.end_ns - w.start_ns) as f64 / crate::window::NS_PER_DAY as f64;
    let (cd, bd) = (days(current), days(baseline));
    for s in t.values_mut().flat_map(|v| v.values_mut()) {
        s.focus /= cd;
        s.reference /= bd;
    }
    Ok(spend_cause(&t))
}

/// Whether `score` beats the best so far (a tie keeps the earlier).
fn better(best: &Option<(f64, Cause)>, score: f64) -> bool {
    best.as_ref().is_none_or(|(b, _)| score > *b)
}

fn cause(field: &str, value: &str, share: f64, text: String) -> Cause {
    Cause {
        field: field.to_string(),
        value: value.to_string(),
        share,
        text,
    }
}

/// The table's dimensions in [`DIMS`] order.
fn in_order(t: &Table) -> impl Iterator<Item = (&String, &BTreeMap<String, Split>)> {
    DIMS.iter().filter_map(|d| t.get_key_value(*d))
}

fn named(v: &str) -> bool {
    v != NONE && v != OTHER
}

fn field_name(d: &str) -> String {
    d.replace('_', " ")
}

/// A cause found: (field, value, its split, its share).
type Found<'a> = (&'a str, &'a str, Split, f64);

/// The value of a dimension (in DIMS order, `skip` left out) holding at
/// least half of the focus measure and more of it than of the focus
/// window's traffic, scored by share x ln(share / traffic share): (field,
/// value, its split, its share).
fn concentrated<'a>(t: &'a Table, skip: &[&str]) -> Option<Found<'a>> {
    let mut best: Option<(f64, Found)> = None;
    for (d, values) in in_order(t) {
        if skip.contains(&d.as_str()) {
            continue;
        }
        let total: f64 = values.values().map(|s| s.focus).sum();
        let spans: f64 = values.values().map(|s| s.focus_n).sum();
        if total <= 0.0 || spans <= 0.0 {
            continue;
        }
        for (v, s) in values.iter().filter(|(v, _)| named(v)) {
            let (share, traffic) = (s.focus / total, s.focus_n / spans);
            if share < MIN_SHARE || share <= traffic {
                continue;
            }
            let score = share * (share / traffic).ln();
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, (d.as_str(), v.as_str(), *s, share)));
            }
        }
    }
    best.map(|(_, x)| x)
}

/// An outlier finding's cause: the value holding at least half of its
/// spans, and more than its share of the cohort's (see [`concentrated`]).
pub fn focus_cause(t: &Table, noun: &str) -> Option<Cause> {
    let (d, v, s, share) = concentrated(t, &[])?;
    let total: f64 = t.get(d)?.values().map(|s| s.focus).sum();
    let spans: f64 = t.get(d)?.values().map(|s| s.focus_n).sum();
    let text = format!(
        "{} of {} {noun} from {} {v} ({} of the cohort's LLM spans)",
        s.focus,
        total,
        field_name(d),
        format::pct(Some(s.focus_n / spans))
    );
    Some(cause(d, v, share, text))
}

/// The error burst's cause: the value of a dimension (not the error type
/// itself: that is what failed, not who) holding at least half of the
/// burst's errors and more of them than of its traffic, scored by share x
/// ln(share / traffic share); the burst's main error type is added.
/// `focus`: errors and spans in the hour; `reference`: in the baseline.
pub fn error_cause(t: &Table) -> Option<Cause> {
    let (d, v, s, share) = concentrated(t, &["error_type", "finish_reason"])?;
    let errs: f64 = t.get(d)?.values().map(|s| s.focus).sum();
    let rate = s.focus / s.focus_n;
    // against the baseline rate with the burst rule's prior; a value the
    // baseline never saw has no rate to compare with
    let against = if s.reference_n > 0.0 {
        let base = (s.reference + 1.0) / (s.reference_n + 2.0);
        format!("{:.0}x its baseline", rate / base)
    } else {
        "not in the baseline".to_string()
    };
    let text = format!(
        "{} of {errs} errors from {} {v} ({} error rate, {against})",
        s.focus,
        field_name(d),
        format::pct(Some(rate)),
    );
    let mut cause = cause(d, v, share, text);
    // the main error type, when one holds most errors
    if let Some(types) = t.get("error_type") {
        let errs: f64 = types.values().map(|s| s.focus).sum();
        if let Some((v, s)) = types
            .iter()
            .filter(|(v, _)| named(v))
            .max_by(|a, b| a.1.focus.total_cmp(&b.1.focus).then(b.0.cmp(a.0)))
        {
            if errs > 0.0 && s.focus / errs >= MIN_SHARE {
                cause.text = cause.text.replacen(" (", &format!(" (error type {v}; "), 1);
            }
        }
    }
    Some(cause)
}

/// The spend spike's cause: the value of a dimension holding at least half
/// of the increase in daily spend, scored by its share of the increase
/// less its share of the baseline's spend (a value that is all the spend
/// explains nothing). `focus`: current daily spend; `reference`: baseline
/// daily spend.
pub fn spend_cause(t: &Table) -> Option<Cause> {
    let mut best: Option<(f64, Cause)> = None;
    for (d, values) in in_order(t) {
        let (cur, base): (f64, f64) = values
            .values()
            .fold((0.0, 0.0), |a, s| (a.0 + s.focus, a.1 + s.reference));
        let rise = cur - base;
        if rise <= 0.0 || base <= 0.0 {
            continue;
        }
        for (v, s) in values.iter().filter(|(v, _)| named(v)) {
            let delta = s.focus - s.reference;
            let share = delta / rise;
            let usual = s.reference / base;
            let score = share - usual;
            if share < MIN_SHARE || score <= 0.0 || !better(&best, score) {
                continue;
            }
            let text = format!(
                "{} {v} contributes {} of the increase ({} per day; {} of the baseline's spend)",
                field_name(d),
                format::pct(Some(share)),
                if delta >= 0.0 {
                    format!("+{}", format::usd(delta))
                } else {
                    format::usd(delta)
                },
                format::pct(Some(usual))
            );
            best = Some((score, cause(d, v, share, text)));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(focus: f64, focus_n: f64, reference: f64, reference_n: f64) -> Split {
        Split {
            focus,
            focus_n,
            reference,
            reference_n,
        }
    }

    fn table(rows: &[(&str, &str, Split)]) -> Table {
        let mut t = Table::new();
        for (d, v, s) in rows {
            t.entry(d.to_string())
                .or_default()
                .insert(v.to_string(), *s);
        }
        t
    }

    // by hand: 6 of the hour's 7 errors are gemini's, whose 40 spans are
    // a third of the hour's 120; its baseline: 5 errors in 2,000 spans
    #[test]
    fn an_error_burst_is_laid_at_the_model_that_holds_it() {
        let t = table(&[
            ("model", "gemini", split(6.0, 40.0, 5.0, 2000.0)),
            ("model", "gpt-4o", split(1.0, 80.0, 20.0, 4000.0)),
            // every span of the hour is on one route: explains nothing
            ("route", "/chat", split(7.0, 120.0, 25.0, 6000.0)),
            ("error_type", "429", split(6.0, 6.0, 3.0, 3.0)),
            ("error_type", "(none)", split(0.0, 113.0, 0.0, 5975.0)),
            ("error_type", "timeout", split(1.0, 1.0, 22.0, 22.0)),
        ]);
        let c = error_cause(&t).unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("model", "gemini"));
        assert!((c.share - 6.0 / 7.0).abs() < 1e-12);
        // rate 6/40 = 15%; baseline (5+1)/(2000+2) = 0.2997%: 50x
        assert_eq!(
            c.text,
            "6 of 7 errors from model gemini (error type 429; 15.0% error rate, 50x its baseline)"
        );
    }

    #[test]
    fn errors_spread_like_the_traffic_have_no_cause() {
        let t = table(&[
            ("model", "a", split(5.0, 50.0, 10.0, 1000.0)),
            ("model", "b", split(5.0, 50.0, 10.0, 1000.0)),
        ]);
        assert_eq!(error_cause(&t), None);
    }

    // by hand: 9 of an outlier's 10 spans are tenant t3's, whose 20 spans
    // are 5% of the cohort's 400
    #[test]
    fn an_outlier_is_laid_at_the_value_its_spans_share() {
        let t = table(&[
            ("tenant", "t3", split(9.0, 20.0, 0.0, 0.0)),
            ("tenant", "t1", split(1.0, 380.0, 0.0, 0.0)),
            // every span on one model: explains nothing
            ("model", "m", split(10.0, 400.0, 0.0, 0.0)),
        ]);
        let c = focus_cause(&t, "LLM spans of its traces").unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t3"));
        assert!((c.share - 0.9).abs() < 1e-12);
        assert_eq!(
            c.text,
            "9 of 10 LLM spans of its traces from tenant t3 (5.0% of the cohort's LLM spans)"
        );
    }

    // by hand: daily spend $10 -> $30; tenant t17 $1 -> $18 (+17 of +20:
    // 85%, 10% of the baseline's spend); the other tenants +3
    #[test]
    fn a_spend_spike_is_laid_at_the_tenant_that_holds_the_increase() {
        let t = table(&[
            ("tenant", "t17", split(18.0, 0.0, 1.0, 0.0)),
            ("tenant", "t1", split(12.0, 0.0, 9.0, 0.0)),
            // one provider carries all spend: 100% of the increase, but
            // also 100% of the baseline: no explanation
            ("provider", "openai", split(30.0, 0.0, 10.0, 0.0)),
        ]);
        let c = spend_cause(&t).unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t17"));
        assert!((c.share - 0.85).abs() < 1e-12);
        assert_eq!(
            c.text,
            "tenant t17 contributes 85.0% of the increase (+$17.0000 per day; 10.0% of the baseline's spend)"
        );
    }
}
