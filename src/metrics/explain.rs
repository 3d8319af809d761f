//! Attribution: which value of which dimension explains a finding, found
//! without the user choosing `--by`. For each dimension (model, provider,
//! route, tenant, prompt version, user, tool, agent, finish reason, error
//! type) other than the finding's own cohort keys, the engine returns per
//! value the spans the finding counts (its errors, its traces' spans, the
//! spans where a distribution grew, ...) and all spans, in the finding's
//! focus arm and its reference arm. Two questions, two pure rules tested by
//! hand below:
//!
//! - who holds it ([`focus_cause`], [`error_cause`]: bursts, outliers,
//!   loops, breaches): the value with most of the finding's spans, at a
//!   rate well above the rest's (MacroBase's support and risk ratio);
//! - who moved it ([`shift_cause`], [`spend_cause`]: drift, regressions,
//!   model mix, spend): the value holding most of the rise, split exactly
//!   over the values (shift-share), well beyond its share of the traffic.

use std::collections::BTreeMap;

use super::cost::{self, CostOptions, Resolution};
use super::{expand, expand_field, Asked, Batch};
use crate::engine::template::Expanded;
use crate::engine::template::Template;
use crate::engine::{parse_key, Arms, Condition, Engine, Key, Scope, NONE, OTHER};
use crate::error::{Error, Result};
use crate::report::format;
pub use crate::report::model::Cause;
use crate::report::model::{Cell, Finding, Table as ReportTable, Unit};
use crate::stats::anomaly::binomial_tail;
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

/// The strongest findings of a report that are attributed (each costs a
/// query per dimension).
pub const EXPLAINED: usize = 10;

/// The columns a table gives a row's cause in.
pub const COLUMNS: [(&str, Unit); 4] = [
    ("cause", Unit::Text),
    ("cause_field", Unit::Text),
    ("cause_value", Unit::Text),
    ("cause_share", Unit::Share),
];

/// A row's cause in [`COLUMNS`].
pub fn cells(c: Option<&Cause>) -> [Cell; 4] {
    match c {
        Some(c) => [
            Cell::text(c.text.clone()),
            Cell::text(c.field.clone()),
            Cell::text(c.value.clone()),
            Cell::Num(c.share),
        ],
        None => [Cell::text(""), Cell::text(""), Cell::text(""), Cell::Null],
    }
}

/// Give a finding its cause, and the table row it stands for the cause's
/// [`COLUMNS`].
pub fn attach(table: &mut ReportTable, row: usize, finding: &mut Finding, cause: Option<Cause>) {
    if let Some(at) = table.columns.iter().position(|c| c.name == COLUMNS[0].0) {
        for (i, c) in cells(cause.as_ref()).into_iter().enumerate() {
            table.rows[row][at + i] = c;
        }
    }
    finding.set_cause(cause);
}

/// The dimensions that say the same as a field (its own values, or the
/// model behind a provider), left out of its attribution.
pub fn same_as(field: &str) -> &'static [&'static str] {
    match field {
        "model" | "response_model" | "provider" => &["model", "provider"],
        "finish_reason" | "error_type" => &["finish_reason", "error_type"],
        "prompt_version" => &["prompt_version"],
        _ => &[],
    }
}

/// A finding of fewer traces is not attributed (one trace's spans all
/// share its user and tenant), and a cause holds at least this many of a
/// finding's spans.
pub const MIN_TRACES: usize = 3;

/// A value holding a finding's spans has at least this many times the
/// rate of the rest (MacroBase's default minimum risk ratio): errors spread
/// like the traffic, give or take chance, have no cause.
const MIN_RISK: f64 = 3.0;

/// ... and holds more of them than its share of the traffic would by
/// chance: P(at least that many | binomial at its traffic share) below
/// this.
const CAUSE_ALPHA: f64 = 0.01;

/// A cause needs at least this share of the change.
const MIN_SHARE: f64 = 0.5;

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

impl Split {
    /// The splits of a dimension's values added up: the cohort's.
    fn sum<'a>(values: impl IntoIterator<Item = &'a Split>) -> Split {
        values.into_iter().fold(Split::default(), |a, s| Split {
            focus: a.focus + s.focus,
            focus_n: a.focus_n + s.focus_n,
            reference: a.reference + s.reference,
            reference_n: a.reference_n + s.reference_n,
        })
    }

    /// This value's part of the change in the cohort's rate (`all`: the
    /// cohort's split), shift-share: w1 (r1 - r0) + (w1 - w0) (r0 - R0),
    /// with w its share of the arm's count and r its own rate (a value new
    /// in the focus has r0 = R0); and w1.
    fn shift_share(&self, all: &Split) -> (f64, f64) {
        let big_r0 = all.reference / all.reference_n;
        let (w1, w0) = (
            self.focus_n / all.focus_n,
            self.reference_n / all.reference_n,
        );
        let r0 = if self.reference_n > 0.0 {
            self.reference / self.reference_n
        } else {
            big_r0
        };
        let r1 = if self.focus_n > 0.0 {
            self.focus / self.focus_n
        } else {
            r0
        };
        (w1 * (r1 - r0) + (w1 - w0) * (r0 - big_r0), w1)
    }
}

/// What a finding counts among its cohort's spans, in a focus arm against
/// a reference arm.
pub struct Ask<'a> {
    /// the cohort's key values
    pub cohort: &'a [String],
    /// reference (baseline) and focus (candidate) arms
    pub arms: Arms,
    /// `explain_hits` (`hits`: SQL over span columns), or `explain_numeric`
    /// / `explain_category` (`hits`: SQL over the value `v` of `field`)
    pub template: Template,
    pub field: Option<&'a Key>,
    pub hits: String,
}

impl<'a> Ask<'a> {
    /// The spans of `cohort` matching `hits` (SQL over span columns), in
    /// `focus` against `reference`.
    pub fn spans(cohort: &'a [String], reference: Window, focus: Window, hits: String) -> Self {
        Ask {
            cohort,
            arms: Arms::windows(reference, focus, "current"),
            template: Template::ExplainHits,
            field: None,
            hits,
        }
    }

    /// The spans of `cohort` matching `hits` in `window` alone (a level,
    /// not a change: an SLO breach).
    pub fn level(cohort: &'a [String], window: Window, hits: String) -> Self {
        let none = Window {
            start_ns: window.start_ns,
            end_ns: window.start_ns,
        };
        Ask::spans(cohort, none, window, hits)
    }
}

/// One scope per dimension: the cohort's spans (its key values as
/// conditions), keyed by the dimension, in the two arms.
fn scopes(scope: &Scope, cohort: &[String], arms: &Arms) -> Result<Vec<(&'static str, Scope)>> {
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
        s.set_arms(arms.clone());
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
    let mut batch = Batch::new();
    let asked: Vec<Asked> = queries.iter().map(|q| batch.ask(q.clone())).collect();
    let answers = batch.run(engine)?;
    let mut t = Table::new();
    for ((d, _), a) in scopes.iter().zip(asked) {
        let r = answers.rows(a);
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

/// The spans and hits of `ask` per dimension and value (None for a cohort
/// that is not one value per key: `(none)`, `(other)`).
fn hits(engine: &mut dyn Engine, scope: &Scope, ask: &Ask) -> Result<Option<Table>> {
    let scopes = scopes(scope, ask.cohort, &ask.arms)?;
    if scopes.is_empty() {
        return Ok(None);
    }
    let params = [("hits", ask.hits.clone())];
    let queries = scopes
        .iter()
        .map(|(_, s)| match ask.field {
            Some(f) => expand_field(engine, s, ask.template, f, &params),
            None => expand(engine, s, ask.template, &params),
        })
        .collect::<Result<Vec<_>>>()?;
    gather(engine, &scopes, &queries, "hits", Some("n")).map(Some)
}

/// Who caused an error burst of `cohort` in `hour` against `baseline`.
pub fn errors(
    engine: &mut dyn Engine,
    scope: &Scope,
    cohort: &[String],
    hour: Window,
    baseline: Window,
) -> Result<Option<Cause>> {
    let ask = Ask::spans(cohort, baseline, hour, ERROR.into());
    Ok(hits(engine, scope, &ask)?.and_then(|t| error_cause(&t)))
}

/// A span that failed, in SQL.
pub const ERROR: &str = "CAST(status AS VARCHAR) = 'error'";

/// Who holds the spans `ask` counts in its focus arm (outliers, loops, a
/// breach's bad events): see [`focus_cause`]; `noun` names them.
pub fn focus(
    engine: &mut dyn Engine,
    scope: &Scope,
    ask: &Ask,
    skip: &[&str],
    noun: &str,
) -> Result<Option<Cause>> {
    Ok(hits(engine, scope, ask)?.and_then(|t| focus_cause(&t, skip, noun)))
}

/// Who moved the share of spans `ask` counts between its arms (drift,
/// regression, model mix): see [`shift_cause`]; `what` names them.
pub fn shift(
    engine: &mut dyn Engine,
    scope: &Scope,
    ask: &Ask,
    skip: &[&str],
    what: &str,
) -> Result<Option<Cause>> {
    Ok(hits(engine, scope, ask)?.and_then(|t| shift_cause(&t, skip, what)))
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
    let arms = Arms::windows(baseline, current, "current");
    let scopes = scopes(scope, cohort, &arms)?;
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
            Template::ExplainSpend,
            &[("span_costs", spans)],
        )?);
    }
    let mut t = gather(engine, &scopes, &queries, "usd", Some("n"))?;
    // daily figures
    let days = |w: Window| (w.end_ns - w.start_ns) as f64 / crate::window::NS_PER_DAY as f64;
    let (cd, bd) = (days(current), days(baseline));
    for s in t.values_mut().flat_map(|v| v.values_mut()) {
        s.focus /= cd;
        s.focus_n /= cd;
        s.reference /= bd;
        s.reference_n /= bd;
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
/// least half of the focus measure (and 3 of it), at 3 times the rate of
/// the rest and more than chance gives its traffic (binomial p < 0.01),
/// scored by share x ln(share / traffic share): (field, value, its split,
/// its share).
fn concentrated<'a>(t: &'a Table, skip: &[&str]) -> Option<Found<'a>> {
    let mut best: Option<(f64, Found)> = None;
    for (d, values) in in_order(t) {
        if skip.contains(&d.as_str()) {
            continue;
        }
        let Split {
            focus: total,
            focus_n: spans,
            ..
        } = Split::sum(values.values());
        if total <= 0.0 || spans <= 0.0 {
            continue;
        }
        for (v, s) in values.iter().filter(|(v, _)| named(v)) {
            let (share, traffic) = (s.focus / total, s.focus_n / spans);
            if share < MIN_SHARE || share <= traffic || s.focus < MIN_TRACES as f64 {
                continue;
            }
            // its rate against the rest's (MacroBase's risk ratio)
            let rest = (total - s.focus) / (spans - s.focus_n);
            if rest > 0.0 && (s.focus / s.focus_n) / rest < MIN_RISK {
                continue;
            }
            // and more of it than chance puts in a value of that traffic
            let p = binomial_tail(s.focus.round() as u64, total.round() as u64, traffic);
            if p >= CAUSE_ALPHA {
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
/// spans, and more than its share of the cohort's (see `concentrated`).
pub fn focus_cause(t: &Table, skip: &[&str], noun: &str) -> Option<Cause> {
    let (d, v, s, share) = concentrated(t, skip)?;
    let all = Split::sum(t.get(d)?.values());
    let (total, spans) = (all.focus, all.focus_n);
    let text = format!(
        "{} of {} {noun} from {} {v} ({} of the cohort's spans)",
        s.focus,
        total,
        field_name(d),
        format::pct(Some(s.focus_n / spans))
    );
    Some(cause(d, v, share, text))
}

/// Whether a value holding `share` of a change with `traffic` of the
/// spans moved it at least [`MIN_RISK`] times as much per span as the rest
/// did (a value holding the change in proportion to its traffic is no
/// cause, however large).
fn moved_more(share: f64, traffic: f64) -> bool {
    if share <= traffic {
        return false;
    }
    let rest = (1.0 - share) / (1.0 - traffic);
    rest <= 0.0 || (share / traffic) / rest >= MIN_RISK
}

/// A change's cause. The share of the cohort's spans that are hits rose
/// from R0 (reference arm) to R1 (focus arm); per value of a dimension,
/// with w its share of the arm's spans and r its own hit rate, the rise is
/// split exactly (shift-share) into
///
///   w1 (r1 - r0)          its rate changed, at its traffic now, plus
///   (w1 - w0) (r0 - R0)   its traffic share moved, at its usual excess
///
/// (a value new in the focus arm has r0 = R0). A value whose traffic grew
/// with a usual rate (a prompt version rolled out) explains nothing. The
/// cause holds at least half of the rise, at least 3 times as much per
/// span as the rest (`moved_more`); of those, the one scoring highest on
/// its share of the rise less half its share of the spans (the most
/// complete explanation, and the narrower of two that explain as much).
pub fn shift_cause(t: &Table, skip: &[&str], what: &str) -> Option<Cause> {
    let mut best: Option<(f64, Cause)> = None;
    for (d, values) in in_order(t) {
        if skip.contains(&d.as_str()) {
            continue;
        }
        let all = Split::sum(values.values());
        if all.focus_n <= 0.0 || all.reference_n <= 0.0 {
            continue;
        }
        let rise = all.focus / all.focus_n - all.reference / all.reference_n;
        if rise <= 0.0 {
            continue;
        }
        for (v, s) in values.iter().filter(|(v, _)| named(v)) {
            let (part, w1) = s.shift_share(&all);
            let w0 = s.reference_n / all.reference_n;
            let share = part / rise;
            let score = share.min(1.0) - w1 / 2.0;
            if share < MIN_SHARE || !moved_more(share, w1) || !better(&best, score) {
                continue;
            }
            let rate = |h: f64, n: f64| {
                if n > 0.0 {
                    format::pct(Some(h / n))
                } else {
                    "none".to_string()
                }
            };
            let text = format!(
                "{} {v} accounts for {} of the rise in {what} ({} of its spans, {} before; {} of the cohort's spans, {} before)",
                field_name(d),
                format::pct(Some(share.min(1.0))),
                rate(s.focus, s.focus_n),
                rate(s.reference, s.reference_n),
                format::pct(Some(w1)),
                format::pct(Some(w0)),
            );
            // above 1 when other values' hits fell: all of the rise
            best = Some((score, cause(d, v, share.min(1.0), text)));
        }
    }
    best.map(|(_, c)| c)
}

/// The error burst's cause: the value of a dimension (not the error type
/// itself: that is what failed, not who) holding at least half of the
/// burst's errors and more of them than of its traffic, scored by share x
/// ln(share / traffic share); the burst's main error type is added.
/// `focus`: errors and spans in the hour; `reference`: in the baseline.
pub fn error_cause(t: &Table) -> Option<Cause> {
    let (d, v, s, share) = concentrated(t, &["error_type", "finish_reason"])?;
    let errs = Split::sum(t.get(d)?.values()).focus;
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
        let errs = Split::sum(types.values()).focus;
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

/// The spend spike's cause. Daily spend S = N C (N spans a day at C per
/// span) rose from S0 to S1; per value of a dimension (n its spans a day,
/// c its cost per span, w its share of the spans) the rise is split
/// exactly into
///
///   new volume: the net change of spans (N1 - N0) at C0, laid at the
///               values whose spans grew, in proportion to their growth
///               (a prompt version replacing another adds no volume), plus
///   N1 [w1 (c1 - c0) + (w1 - w0) (c0 - C0)]: its cost per span changed,
///               or its share moved at a cost unlike the rest
///
/// (a value new in the current window has c0 = C0). The cause is chosen
/// as in [`shift_cause`]. `focus`, `focus_n`: current
/// daily spend and spans; `reference`, `reference_n`: the baseline's.
pub fn spend_cause(t: &Table) -> Option<Cause> {
    let mut best: Option<(f64, Cause)> = None;
    for (d, values) in in_order(t) {
        let all = Split::sum(values.values());
        let (mut grew, mut shrank) = (0.0, 0.0);
        for s in values.values() {
            let g = s.focus_n - s.reference_n;
            if g > 0.0 {
                grew += g;
            } else {
                shrank += g;
            }
        }
        let (s1, n1, s0, n0) = (all.focus, all.focus_n, all.reference, all.reference_n);
        let rise = s1 - s0;
        if rise <= 0.0 || s0 <= 0.0 || n0 <= 0.0 || n1 <= 0.0 {
            continue;
        }
        let (big_c0, net) = (s0 / n0, n1 - n0);
        for (v, s) in values.iter().filter(|(v, _)| named(v)) {
            let g = s.focus_n - s.reference_n;
            let volume = if net > 0.0 && g > 0.0 {
                g / grew * net * big_c0
            } else if net < 0.0 && g < 0.0 {
                g / shrank * net * big_c0
            } else {
                0.0
            };
            // the cost-per-span part: the same split of the mean, x N1
            let (part, w1) = s.shift_share(&all);
            let per_span = n1 * part;
            let share = (volume + per_span) / rise;
            let score = share.min(1.0) - w1 / 2.0;
            if share < MIN_SHARE || !moved_more(share, w1) || !better(&best, score) {
                continue;
            }
            let delta = s.focus - s.reference;
            let text = format!(
                "{} {v} contributes {} of the increase ({} per day; {} of the baseline's spend)",
                field_name(d),
                format::pct(Some(share.min(1.0))),
                if delta >= 0.0 {
                    format!("+{}", format::usd(delta))
                } else {
                    format::usd(delta)
                },
                format::pct(Some(s.reference / s0))
            );
            best = Some((score, cause(d, v, share.min(1.0), text)));
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
        // 11 of 16 errors from a value with 515 of 1,000 spans: more than
        // its share, but at 2.1x the rest's rate (11/515 vs 5/485)
        let t = table(&[
            ("agent", "a", split(11.0, 515.0, 0.0, 0.0)),
            ("agent", "(none)", split(5.0, 485.0, 0.0, 0.0)),
        ]);
        assert_eq!(focus_cause(&t, &[], "errors"), None);
        // 9 of 10 at 505 of 1,000 spans: 8.8x the rest's rate, but chance
        // gives 9 or 10 of 10 to half the traffic 1.2% of the time
        // (10 x 0.505^9 x 0.495 + 0.505^10 = 0.0117)
        let t = table(&[
            ("agent", "a", split(9.0, 505.0, 0.0, 0.0)),
            ("agent", "(none)", split(1.0, 495.0, 0.0, 0.0)),
        ]);
        assert_eq!(focus_cause(&t, &[], "errors"), None);
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
        let c = focus_cause(&t, &[], "LLM spans of its traces").unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t3"));
        assert!((c.share - 0.9).abs() < 1e-12);
        assert_eq!(
            c.text,
            "9 of 10 LLM spans of its traces from tenant t3 (5.0% of the cohort's spans)"
        );
    }

    // by hand: daily spend $10 over 1,000 spans -> $30 over 1,400; tenant
    // t17 $1 over 100 spans -> $18 over 400, the others $9 over 900 -> $12
    // over 1,000. New volume: 400 spans at $0.01, 300 of the growth
    // t17's ($3); t17's cost per span 0.01 -> 0.045 at 400/1,400 of the
    // spans: 1,400 x 0.2857 x 0.035 = $14; $17 of $20: 85%
    #[test]
    fn a_spend_spike_is_laid_at_the_tenant_that_holds_the_increase() {
        let t = table(&[
            ("tenant", "t17", split(18.0, 400.0, 1.0, 100.0)),
            ("tenant", "t1", split(12.0, 1000.0, 9.0, 900.0)),
            // one provider carries all spend: 100% of the increase, but
            // also 100% of the spans: no explanation
            ("provider", "openai", split(30.0, 1400.0, 10.0, 1000.0)),
        ]);
        let c = spend_cause(&t).unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t17"));
        assert!((c.share - 0.85).abs() < 1e-12, "{}", c.share);
        assert_eq!(
            c.text,
            "tenant t17 contributes 85.0% of the increase (+$17.0000 per day; 10.0% of the baseline's spend)"
        );
    }

    // by hand: prompt v4 replaces half of v3's spans on the day tenant
    // wonka's spans go 50 -> 350 a day at $0.03 (from $0.01). Baseline
    // 1,000 spans, $10; current 1,300 spans, $20. Wonka: new volume 300 x
    // $0.01 = $3, cost per span 1,300 x (350/1,300) x 0.02 = $7: all of
    // the $10. v4: volume $3 (all of the net growth), cost per span 1,300 x
    // 0.5 x (10/650 - 0.01) = $3.5: 65%, but it is half the spans
    #[test]
    fn a_version_rollout_does_not_hide_the_tenant_that_spent() {
        let t = table(&[
            ("tenant", "wonka", split(10.5, 350.0, 0.5, 50.0)),
            ("tenant", "acme", split(9.5, 950.0, 9.5, 950.0)),
            ("prompt_version", "v3", split(10.0, 650.0, 10.0, 1000.0)),
            ("prompt_version", "v4", split(10.0, 650.0, 0.0, 0.0)),
        ]);
        let c = spend_cause(&t).unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "wonka"));
        assert!((c.share - 1.0).abs() < 1e-9, "{}", c.share);
    }

    // by hand: provider b (300 of the route's 1,000 spans in both windows)
    // went from 30% to 95% of its spans in the grown bins, provider a
    // stayed at 30%: the rise 0.3 -> 0.495 is all b's (285/1000 - 90/1000)
    #[test]
    fn a_rate_change_is_laid_at_the_value_whose_rate_rose() {
        let t = table(&[
            ("provider", "a", split(210.0, 700.0, 210.0, 700.0)),
            ("provider", "b", split(285.0, 300.0, 90.0, 300.0)),
            // one route: all of the rise, all of the baseline's hits
            ("route", "/chat", split(495.0, 1000.0, 300.0, 1000.0)),
        ]);
        let c = shift_cause(&t, &[], "slow spans").unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("provider", "b"));
        assert!((c.share - 1.0).abs() < 1e-12);
        assert_eq!(
            c.text,
            "provider b accounts for 100.0% of the rise in slow spans (95.0% of its spans, 30.0% before; 30.0% of the cohort's spans, 30.0% before)"
        );
        // the provider is the drifted field itself: nothing else explains it
        assert_eq!(shift_cause(&t, &["provider"], "slow spans"), None);
        // both providers' rates rose alike (30% -> 40%): a holds 70% of the
        // rise with 70% of the spans, no more than its share
        let alike = table(&[
            ("provider", "a", split(280.0, 700.0, 210.0, 700.0)),
            ("provider", "b", split(120.0, 300.0, 90.0, 300.0)),
        ]);
        assert_eq!(shift_cause(&alike, &[], "slow spans"), None);
    }

    // by hand: tenant t5 went from 50 to 300 of 1,000 spans at the same 80%
    // hit rate, the others stayed at 10%: the rise 0.135 -> 0.31 comes
    // from t5's traffic
    #[test]
    fn a_mix_change_is_laid_at_the_value_whose_traffic_grew() {
        let t = table(&[
            ("tenant", "t5", split(240.0, 300.0, 40.0, 50.0)),
            ("tenant", "t1", split(70.0, 700.0, 95.0, 950.0)),
        ]);
        let c = shift_cause(&t, &[], "long prompts").unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t5"));
        // its traffic moved +25 points at 0.8 - 0.135 above the usual rate:
        // 0.25 x 0.665 / 0.175 = 95%; t1's fall at a rate below it, 5%
        assert!((c.share - 0.95).abs() < 1e-12);
        assert_eq!(
            c.text,
            "tenant t5 accounts for 95.0% of the rise in long prompts (80.0% of its spans, 80.0% before; 30.0% of the cohort's spans, 5.0% before)"
        );
        // a prompt version rolled out (5% -> 90% of spans) at the usual
        // rate, while tenant t5 (30% of spans) went 20% -> 80%: t5, not
        // the version. By hand: R0 = 0.2, R1 = 0.38 (rise 0.18); t5 holds
        // 0.3 x 0.6 / 0.18 = 100%; v2 holds 0.9 x (0.4 - 0.2) / 0.18 = 100%
        // as well, but at 90% of the traffic (score 1 - 0.9/2 = 0.55 < t5's
        // 1 - 0.3/2 = 0.85)
        let rollout = table(&[
            ("tenant", "t5", split(240.0, 300.0, 60.0, 300.0)),
            ("tenant", "t1", split(140.0, 700.0, 140.0, 700.0)),
            ("prompt_version", "v1", split(20.0, 100.0, 190.0, 950.0)),
            ("prompt_version", "v2", split(360.0, 900.0, 10.0, 50.0)),
        ]);
        let c = shift_cause(&rollout, &[], "long prompts").unwrap();
        assert_eq!((c.field.as_str(), c.value.as_str()), ("tenant", "t5"));
        // no rise, no cause
        let flat = table(&[
            ("tenant", "t5", split(40.0, 50.0, 40.0, 50.0)),
            ("tenant", "t1", split(95.0, 950.0, 95.0, 950.0)),
        ]);
        assert_eq!(shift_cause(&flat, &[], "long prompts"), None);
    }
}
