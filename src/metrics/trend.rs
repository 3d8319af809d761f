//! The nightly report's trends: spend in the report window against the day
//! before and the baseline's daily mean, and the data of its charts (daily
//! spend and p95 latency per cohort, pass rate per prompt version). One
//! engine batch; the charts themselves are drawn by `report::chart`.

use std::collections::BTreeMap;

use super::cost::{self, CostOptions};
use super::{cohort_phase, expand, Batch, Rows};
use crate::engine::template::Template;
use crate::engine::{Engine, Scope};
use crate::error::Result;
use crate::report::model::{Chart, ChartKind, Series, Unit};
use crate::stats::quantile::quantile_log_buckets;
use crate::stats::rates;
use crate::window::{self, TimeZone, Window, NS_PER_DAY};

/// Cohorts drawn as their own line; the rest are summed as one.
const LINES: usize = 8;
/// Bars in the pass-rate chart (each cohort's newest versions first).
const VERSION_BARS: usize = 24;
/// Evaluations drawn in the pass-rate chart (most judged first).
const EVALS: usize = 4;

pub struct Trends {
    /// spend in the report window, the 24 h before it, the baseline's daily mean
    pub spend: (f64, f64, f64),
    /// (section the chart belongs to, chart)
    pub charts: Vec<(&'static str, Chart)>,
}

pub struct TrendOptions {
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub baseline: Window,
    pub cost: CostOptions,
    /// `--tz`: the zone whose days the charts show
    pub tz: TimeZone,
}

/// `scope` is the report's scope (window = the report window, kind = the
/// span kinds latency is read from).
pub fn run(engine: &mut dyn Engine, scope: &Scope, o: &TrendOptions) -> Result<Trends> {
    let cur = scope.window;
    let prev = Window {
        start_ns: cur.start_ns - NS_PER_DAY,
        end_ns: cur.start_ns,
    };
    let mut s = scope.clone();
    s.arms = None;
    s.kept = None;
    s.window = Window {
        start_ns: prev.start_ns.min(o.baseline.start_ns),
        end_ns: cur.end_ns.max(o.baseline.end_ns),
    };
    cohort_phase(engine, &mut s, o.min_count, o.top)?;
    let mut cost_s = s.clone();
    cost_s.kind = o.cost.kind.clone();
    let res = cost::resolve(engine, &cost_s, &o.cost)?;
    let spans = cost::span_costs_with(engine, &cost_s, &o.cost, &res)?;
    let n = |x: i64| x.to_string();
    // the days of the --tz zone: a span's local date, by the zone's offset
    let (first_offset, changes) = window::offsets(s.window, &o.tz);
    let day = ("day", day_sql(first_offset, &changes));
    let mut batch = Batch::new();
    let spend_q = batch.ask(expand(
        engine,
        &cost_s,
        Template::ReportSpend,
        &[
            ("span_costs", spans.clone()),
            ("cur_start", n(cur.start_ns)),
            ("cur_end", n(cur.end_ns)),
            ("prev_start", n(prev.start_ns)),
            ("prev_end", n(prev.end_ns)),
            ("base_start", n(o.baseline.start_ns)),
            ("base_end", n(o.baseline.end_ns)),
        ],
    )?);
    let daily_spend = batch.ask(expand(
        engine,
        &cost_s,
        Template::ReportDailySpend,
        &[("span_costs", spans), day.clone()],
    )?);
    let daily_latency = batch.ask(expand(engine, &s, Template::ReportDailyLatency, &[day])?);
    let version_evals = batch.ask(expand(engine, &s, Template::ReportVersionEvals, &[])?);
    let answers = batch.run(engine)?;

    let r = answers.rows(spend_q);
    let get = |c: &str| -> Result<f64> {
        Ok(super::settle(
            r.f64s(c)?.first().copied().flatten().unwrap_or(0.0),
        ))
    };
    let base_days = (o.baseline.end_ns - o.baseline.start_ns) as f64 / NS_PER_DAY as f64;
    let spend = (
        get("current_usd")?,
        get("previous_usd")?,
        get("baseline_usd")? / base_days.max(f64::MIN_POSITIVE),
    );

    let nk = s.keys.len().max(1);
    let label = |k: &[String]| -> String {
        if s.keys.is_empty() {
            "all".into()
        } else {
            k.join(" · ")
        }
    };
    // the local dates with spans (days since the epoch), first to last
    let mut seen = Vec::new();
    for a in [daily_spend, daily_latency] {
        let r = answers.rows(a);
        seen.extend(
            r.i64s("day")?
                .into_iter()
                .flatten()
                .map(|d| d.div_euclid(NS_PER_DAY)),
        );
    }
    let first = seen.iter().min().copied().unwrap_or(0);
    let last = seen.iter().max().copied().unwrap_or(0);
    let days: Vec<i64> = (first..=last).collect();
    let x: Vec<String> = days.iter().map(|d| date_label(*d)).collect();
    let slot = |t: i64| -> Option<usize> {
        let i = t.div_euclid(NS_PER_DAY) - first;
        (0..days.len() as i64).contains(&i).then_some(i as usize)
    };
    let zone = window::tz_name(&o.tz);

    let mut charts = Vec::new();
    // daily spend per cohort
    let r = answers.rows(daily_spend);
    let (keys, day, usd) = (r.keys(nk)?, r.i64s("day")?, r.f64s("usd")?);
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 0..r.len() {
        let (Some(d), Some(u)) = (day[i].and_then(slot), usd[i]) else {
            continue;
        };
        per.entry(label(&keys[i]))
            .or_insert_with(|| vec![0.0; days.len()])[d] += u;
    }
    if per.values().flatten().any(|u| *u > 0.0) {
        let series = top_lines(
            per,
            |v| v.iter().sum(),
            |acc, v| {
                for (a, b) in acc.iter_mut().zip(v) {
                    *a += b;
                }
            },
        );
        charts.push((
            "cost",
            Chart {
                file: "spend-daily".into(),
                title: format!("Spend per {zone} day and {}", o.key_names.join(" · ")),
                y_label: "spend (USD per day)".into(),
                y_unit: Unit::Usd,
                x_label: format!("day ({zone})"),
                kind: ChartKind::Lines,
                x: x.clone(),
                series: series
                    .into_iter()
                    .map(|(name, v)| Series {
                        name,
                        values: v.into_iter().map(|u| Some(super::settle(u))).collect(),
                        errors: Vec::new(),
                    })
                    .collect(),
                zoom: false,
            },
        ));
    }

    // p95 latency per day and cohort from log-bucket histograms
    let r = answers.rows(daily_latency);
    let (keys, day, b, cnt) = (r.keys(nk)?, r.i64s("day")?, r.i64s("b")?, r.u64s("n")?);
    let mut hist: BTreeMap<String, Vec<Vec<(i64, u64)>>> = BTreeMap::new();
    for i in 0..r.len() {
        let (Some(d), Some(b)) = (day[i].and_then(slot), b[i]) else {
            continue;
        };
        hist.entry(label(&keys[i]))
            .or_insert_with(|| vec![Vec::new(); days.len()])[d]
            .push((b, cnt[i]));
    }
    if !hist.is_empty() {
        let count =
            |v: &Vec<Vec<(i64, u64)>>| -> f64 { v.iter().flatten().map(|(_, n)| *n as f64).sum() };
        let series = top_lines(hist, count, |acc, v| {
            for (a, b) in acc.iter_mut().zip(v) {
                a.extend(b);
            }
        });
        charts.push((
            "slo",
            Chart {
                file: "latency-p95-daily".into(),
                title: format!("p95 latency per {zone} day and {}", o.key_names.join(" · ")),
                y_label: "p95 latency (ms)".into(),
                y_unit: Unit::Ms,
                x_label: format!("day ({zone})"),
                kind: ChartKind::Lines,
                x,
                zoom: false,
                series: series
                    .into_iter()
                    .map(|(name, v)| Series {
                        name,
                        values: v
                            .into_iter()
                            .map(|mut h| {
                                h.sort_unstable();
                                quantile_log_buckets(&h, 0.95)
                            })
                            .collect(),
                        errors: Vec::new(),
                    })
                    .collect(),
            },
        ));
    }

    if let Some(c) = version_chart(&answers.rows(version_evals), nk, &label)? {
        charts.push(("compare", c));
    }
    Ok(Trends { spend, charts })
}

/// The `LINES - 1` largest series by `size` by name, the rest merged into
/// "other cohorts" (all of them when there are at most `LINES`).
fn top_lines<V: Clone>(
    per: BTreeMap<String, V>,
    size: impl Fn(&V) -> f64,
    merge: impl Fn(&mut V, &V),
) -> Vec<(String, V)> {
    let mut all: Vec<(String, V)> = per.into_iter().collect();
    if all.len() <= LINES {
        return all;
    }
    all.sort_by(|a, b| size(&b.1).total_cmp(&size(&a.1)).then(a.0.cmp(&b.0)));
    let rest = all.split_off(LINES - 1);
    let mut other = rest[0].1.clone();
    for (_, v) in &rest[1..] {
        merge(&mut other, v);
    }
    all.push((format!("other cohorts ({})", rest.len()), other));
    all
}

/// Pass rate (%) per cohort and prompt version with its Wilson 95%
/// interval, one bar series per evaluation; versions in order of first
/// evaluated span, each cohort's newest marked.
fn version_chart(
    r: &Rows,
    nk: usize,
    label: &dyn Fn(&[String]) -> String,
) -> Result<Option<Chart>> {
    let (keys, version, eval) = (r.keys(nk)?, r.strs("version")?, r.strs("evaluation")?);
    let (passed, judged, first) = (r.u64s("passed")?, r.u64s("judged")?, r.i64s("first_ns")?);
    // (cohort, version) -> first seen; evaluation -> judged
    let mut bars: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut evals: BTreeMap<String, u64> = BTreeMap::new();
    // (cohort, version, evaluation) -> (pass rate, its interval), in %
    type Rate = (f64, Option<(f64, f64)>);
    let mut rate: BTreeMap<(String, String, String), Rate> = BTreeMap::new();
    for i in 0..r.len() {
        let (Some(v), Some(e)) = (&version[i], &eval[i]) else {
            continue;
        };
        if judged[i] == 0 {
            continue;
        }
        let c = label(&keys[i]);
        let f = first[i].unwrap_or(i64::MAX);
        let at = bars.entry((c.clone(), v.clone())).or_insert(f);
        *at = (*at).min(f);
        *evals.entry(e.clone()).or_default() += judged[i];
        let ci = rates::wilson(passed[i], judged[i], rates::Z95);
        rate.insert(
            (c, v.clone(), e.clone()),
            (
                100.0 * passed[i] as f64 / judged[i] as f64,
                ci.map(|(l, h)| (100.0 * l, 100.0 * h)),
            ),
        );
    }
    if bars.is_empty() {
        return Ok(None);
    }
    let mut order: Vec<((String, String), i64)> = bars.into_iter().collect();
    // newest versions are kept when there are too many bars
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    order.truncate(VERSION_BARS);
    order.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0)));
    let mut names: Vec<(String, u64)> = evals.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    names.truncate(EVALS);
    // each cohort's newest version (the last in its order)
    let newest = |i: usize| order.get(i + 1).is_none_or(|n| n.0 .0 != order[i].0 .0);
    let x: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, ((c, v), _))| {
            let mark = if newest(i) { " (newest)" } else { "" };
            if c == "all" {
                format!("{v}{mark}")
            } else {
                format!("{c} · {v}{mark}")
            }
        })
        .collect();
    let series = names
        .into_iter()
        .map(|(e, _)| {
            let got: Vec<Option<&Rate>> = order
                .iter()
                .map(|((c, v), _)| rate.get(&(c.clone(), v.clone(), e.clone())))
                .collect();
            Series {
                values: got.iter().map(|r| r.map(|r| r.0)).collect(),
                errors: got.iter().map(|r| r.and_then(|r| r.1)).collect(),
                name: e,
            }
        })
        .collect();
    Ok(Some(Chart {
        file: "pass-rate-by-version".into(),
        title: "Pass rate per prompt version (whiskers: Wilson 95% interval)".into(),
        y_label: "pass rate (%)".into(),
        y_unit: Unit::Share,
        x_label: "prompt version".into(),
        kind: ChartKind::HBars,
        x,
        series,
        zoom: true,
    }))
}

/// SQL of a span's local date in the --tz zone, as the nanoseconds of
/// that date's midnight in UTC (`timebucket(start_ns + offset, 86400)`),
/// the offset being the zone's at the span: `first` before the first
/// change, then each change's from its instant on. UTC: no offset.
fn day_sql(first: i64, changes: &[(i64, i64)]) -> String {
    let local = |off: i64| match off {
        0 => "timebucket(start_ns, 86400)".to_string(),
        o if o < 0 => format!("timebucket(start_ns - {}, 86400)", o.unsigned_abs()),
        o => format!("timebucket(start_ns + {o}, 86400)"),
    };
    if changes.is_empty() {
        return local(first);
    }
    let mut sql = "CASE".to_string();
    let mut off = first;
    for (at, next) in changes {
        sql.push_str(&format!(" WHEN start_ns < {at} THEN {}", local(off)));
        off = *next;
    }
    sql.push_str(&format!(" ELSE {} END", local(off)));
    sql
}

/// `2026-01-08` for the date `d` days after 1970-01-01.
fn date_label(d: i64) -> String {
    crate::report::format::time_ns(d * NS_PER_DAY)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cohorts_merge_into_other() {
        let per: BTreeMap<String, f64> = (0..10).map(|i| (format!("c{i}"), i as f64)).collect();
        let top = top_lines(per, |v| *v, |a, b| *a += b);
        assert_eq!(top.len(), LINES);
        assert_eq!(top[0], ("c9".to_string(), 9.0));
        // c0..c2 merged: 0 + 1 + 2
        assert_eq!(top[LINES - 1], ("other cohorts (3)".to_string(), 3.0));
        let few: BTreeMap<String, f64> = [("a".to_string(), 1.0)].into();
        assert_eq!(top_lines(few, |v| *v, |a, b| *a += b).len(), 1);
    }

    #[test]
    fn days_in_sql() {
        assert_eq!(day_sql(0, &[]), "timebucket(start_ns, 86400)");
        assert_eq!(day_sql(9, &[]), "timebucket(start_ns + 9, 86400)");
        assert_eq!(
            day_sql(-5, &[(100, -4)]),
            "CASE WHEN start_ns < 100 THEN timebucket(start_ns - 5, 86400) \
             ELSE timebucket(start_ns - 4, 86400) END"
        );
        // 2026-01-08 is day 20461 since the epoch
        assert_eq!(date_label(20461), "2026-01-08");
    }
}
