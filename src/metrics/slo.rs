//! `spanlens slo`: per-cohort rates and percentiles, and objectives with
//! error budgets, burn rates and alert levels (docs/statistics.md "Rates",
//! "Percentiles", "SLOs").

use std::collections::BTreeMap;

use super::explain::{self, Ask};
use super::{
    cohort_phase, expand, key_order, pct_cell, percentile_template, read_percentiles, Batch,
};
use crate::engine::template::Template;
use crate::engine::{Condition, Engine, Scope};
use crate::error::Result;
use crate::report::model::{Cell, Finding, FindingKind, Report, Table, Unit};
use crate::stats::{burn, rates};
use crate::window::Window;

/// Seconds per event bucket of the objective queries.
pub const BUCKET_SECS: i64 = 300;

#[derive(Clone, Debug, PartialEq)]
pub enum Sli {
    Availability,
    Latency { threshold_ms: f64 },
    Ttft { threshold_ms: f64 },
    Quality { evaluation: String },
    Cost { max_usd: f64 },
}

impl Sli {
    pub fn describe(&self) -> String {
        match self {
            Sli::Availability => "availability".into(),
            Sli::Latency { threshold_ms } => format!("latency <= {threshold_ms} ms"),
            Sli::Ttft { threshold_ms } => format!("ttft <= {threshold_ms} ms"),
            Sli::Quality { evaluation } => format!("quality: {evaluation} passes"),
            Sli::Cost { max_usd } => format!("cost per trace <= ${max_usd}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    pub name: String,
    pub selector: Vec<Condition>,
    pub sli: Sli,
    pub target: f64,
    pub period_ns: i64,
}

pub struct SloOptions {
    /// Column names of the cohort keys (`["cohort"]` without --by, whose one value is "all").
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub objectives: Vec<Objective>,
    /// Prices for cost objectives (the cost report's table and options).
    pub cost: Option<super::cost::CostOptions>,
}

/// Compute the SLO report over `scope` (its window is the report window).
pub fn run(engine: &mut dyn Engine, mut scope: Scope, o: &SloOptions) -> Result<Report> {
    cohort_phase(engine, &mut scope, o.min_count, o.top)?;
    let nk = scope.keys.len();
    let method = engine.percentiles();
    let mut batch = Batch::new();
    let counts = batch.ask(expand(engine, &scope, Template::SloCounts, &[])?);
    let percentiles = batch.ask(expand(
        engine,
        &scope,
        percentile_template(method, Template::SloQuantiles, Template::SloHistograms),
        &[],
    )?);
    let evals = batch.ask(expand(engine, &scope, Template::SloEvals, &[])?);
    let answers = batch.run(engine)?;

    let counts = answers.rows(counts);
    let hists = read_percentiles(&answers.rows(percentiles), nk, Some("metric"), method)?;
    let evals = answers.rows(evals);

    let mut cohorts = Table::with_keys(
        "cohorts",
        "Service levels per cohort",
        &o.key_names,
        &[
            ("spans", Unit::Count),
            ("traces", Unit::Count),
            ("error_rate", Unit::Share),
            ("refusal_rate", Unit::Share),
            ("latency_n", Unit::Count),
            ("latency_p50_ms", Unit::Ms),
            ("latency_p95_ms", Unit::Ms),
            ("latency_p99_ms", Unit::Ms),
            ("ttft_n", Unit::Count),
            ("ttft_p50_ms", Unit::Ms),
            ("ttft_p95_ms", Unit::Ms),
            ("ttft_p99_ms", Unit::Ms),
            ("tpot_n", Unit::Count),
            ("tpot_p50_ms", Unit::Ms),
            ("tpot_p95_ms", Unit::Ms),
        ],
    )
    .wide(&[
        "traces",
        "latency_n",
        "ttft_n",
        "tpot_n",
        "tpot_p50_ms",
        "tpot_p95_ms",
    ]);
    let keys = counts.keys(nk)?;
    let (spans, traces, errors, refusals) = (
        counts.u64s("spans")?,
        counts.u64s("traces")?,
        counts.u64s("errors")?,
        counts.u64s("refusals")?,
    );
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| key_order(&keys[*a], &keys[*b]));
    for i in order {
        let k = &keys[i];
        let h = |m: &str| hists.get(&(k.clone(), m.to_string()));
        let n = |m: &str| Cell::count(h(m).map_or(0, |x| x.n));
        let mut row: Vec<Cell> = k.iter().map(|s| Cell::text(s.clone())).collect();
        row.extend([
            Cell::count(spans[i]),
            Cell::count(traces[i]),
            Cell::opt(rates::ratio(errors[i], spans[i])),
            Cell::opt(rates::ratio(refusals[i], spans[i])),
            n("latency_ms"),
            pct_cell(h("latency_ms"), 0.5),
            pct_cell(h("latency_ms"), 0.95),
            pct_cell(h("latency_ms"), 0.99),
            n("ttft_ms"),
            pct_cell(h("ttft_ms"), 0.5),
            pct_cell(h("ttft_ms"), 0.95),
            pct_cell(h("ttft_ms"), 0.99),
            n("tpot_ms"),
            pct_cell(h("tpot_ms"), 0.5),
            pct_cell(h("tpot_ms"), 0.95),
        ]);
        cohorts.push(row);
    }

    let mut eval_t = Table::with_keys(
        "evals",
        "Evaluation pass rates (Wilson 95% interval)",
        &o.key_names,
        &[
            ("evaluation", Unit::Text),
            ("judged", Unit::Count),
            ("passed", Unit::Count),
            ("pass_rate", Unit::Share),
            ("ci_low", Unit::Share),
            ("ci_high", Unit::Share),
        ],
    )
    .drop_first(&["ci_low+ci_high", "passed", "judged"]);
    let ek = evals.keys(nk)?;
    let (names, passed, judged) = (
        evals.strs("evaluation")?,
        evals.u64s("passed")?,
        evals.u64s("judged")?,
    );
    let mut order: Vec<usize> = (0..ek.len()).filter(|i| judged[*i] > 0).collect();
    order.sort_by(|a, b| key_order(&ek[*a], &ek[*b]).then_with(|| names[*a].cmp(&names[*b])));
    for i in order {
        let ci = rates::wilson(passed[i], judged[i], rates::Z95);
        let mut row: Vec<Cell> = ek[i].iter().map(|s| Cell::text(s.clone())).collect();
        row.extend([
            Cell::text(names[i].clone().unwrap_or_default()),
            Cell::count(judged[i]),
            Cell::count(passed[i]),
            Cell::opt(rates::ratio(passed[i], judged[i])),
            Cell::opt(ci.map(|c| c.0)),
            Cell::opt(ci.map(|c| c.1)),
        ]);
        eval_t.push(row);
    }

    let mut report = Report {
        command: "slo".into(),
        meta: Vec::new(),
        tables: vec![cohorts, eval_t],
        findings: Vec::new(),
        notes: Vec::new(),
        headline: None,
        charts: Vec::new(),
    };
    if !o.objectives.is_empty() {
        let (t, findings) = objectives(engine, &scope, o)?;
        report.tables.push(t);
        report.findings.extend(findings);
    }
    Ok(report)
}

/// Per objective and cohort: SLI over the period, budget, burn rates, alert.
fn objectives(
    engine: &mut dyn Engine,
    scope: &Scope,
    o: &SloOptions,
) -> Result<(Table, Vec<Finding>)> {
    let nk = scope.keys.len();
    let end = scope.window.end_ns;
    let bucket_ns = BUCKET_SECS * 1_000_000_000;
    // 5-minute buckets aligned to the report's end (bucket t covers
    // [t + offset, t + offset + 5 min)), so every burn window and period
    // ends exactly at the end: nothing after it counts
    let offset = end.rem_euclid(bucket_ns);
    let shifted_end = end - offset;
    let mut cols: Vec<(&str, Unit)> = vec![
        ("objective", Unit::Text),
        ("sli", Unit::Text),
        ("target", Unit::Share),
        ("valid", Unit::Count),
        ("bad", Unit::Count),
        ("sli_value", Unit::Share),
        ("budget_remaining", Unit::Share),
    ];
    let burn_names: Vec<String> = burn::WINDOWS
        .iter()
        .map(|(w, _)| format!("burn_{w}"))
        .collect();
    for b in &burn_names {
        cols.push((b.as_str(), Unit::Number));
    }
    cols.push(("alert", Unit::Text));
    cols.push(("status", Unit::Text));
    cols.extend(explain::COLUMNS);
    let mut table = Table::with_keys(
        "objectives",
        "Objectives: budgets and burn rates",
        &o.key_names,
        &cols,
    )
    .wide(&[
        "sli",
        "valid",
        "bad",
        "burn_5m",
        "burn_30m",
        "burn_2h",
        "burn_6h",
        "cause",
        "cause_field",
        "cause_value",
        "cause_share",
    ]);
    table.footnote = Some(
        "burn rates over 5-minute buckets ending exactly at the report's end; page: 1h & 5m > 14.4 or 6h & 30m > 6; \
         ticket: 1d & 2h > 3 or 3d & 6h > 1"
            .into(),
    );
    let mut findings = Vec::new();
    // Cost objectives share one price resolution, over the longest period
    // (a superset of every cost objective's spans), registered before the
    // objectives' events run in one engine pass.
    let prices = match &o.cost {
        Some(copts)
            if o.objectives
                .iter()
                .any(|x| matches!(x.sli, Sli::Cost { .. })) =>
        {
            let longest = o.objectives.iter().map(|x| x.period_ns).max().unwrap_or(0);
            let mut s = scope.clone();
            s.kind = copts.kind.clone();
            s.window = Window {
                start_ns: end.saturating_sub(longest),
                end_ns: end,
            };
            Some(super::cost::resolve(engine, &s, copts)?)
        }
        _ => None,
    };
    let mut batch = Batch::new();
    let mut asked = Vec::with_capacity(o.objectives.len());
    // per objective: its scope, and its bad events as SQL over span
    // columns with their name (for a breach's attribution)
    let mut events: Vec<(Scope, Option<(String, String)>)> = Vec::new();
    for obj in &o.objectives {
        let mut s = scope.clone();
        s.window = Window {
            start_ns: end.saturating_sub(obj.period_ns),
            end_ns: end,
        };
        let offset = ("offset", offset.to_string());
        s.conditions.extend(obj.selector.iter().cloned());
        let bad = match &obj.sli {
            Sli::Availability => Some((explain::ERROR.to_string(), "errors".to_string())),
            Sli::Latency { threshold_ms } => Some((
                format!("duration_ms > {threshold_ms:?}"),
                format!("spans slower than {threshold_ms} ms"),
            )),
            Sli::Ttft { threshold_ms } => Some((
                format!("ttft_ms > {threshold_ms:?}"),
                format!("spans with a first token after {threshold_ms} ms"),
            )),
            Sli::Quality { .. } | Sli::Cost { .. } => None,
        };
        events.push((s.clone(), bad));
        let q = match &obj.sli {
            Sli::Availability => expand(
                engine,
                &s,
                Template::SloEvents,
                &[
                    ("valid", "TRUE".into()),
                    ("bad", "CAST(status AS VARCHAR) = 'error'".into()),
                    offset,
                ],
            )?,
            Sli::Latency { threshold_ms } => expand(
                engine,
                &s,
                Template::SloEvents,
                &[
                    ("valid", "duration_ms IS NOT NULL".into()),
                    ("bad", format!("duration_ms > {threshold_ms:?}")),
                    offset,
                ],
            )?,
            Sli::Ttft { threshold_ms } => expand(
                engine,
                &s,
                Template::SloEvents,
                &[
                    ("valid", "ttft_ms IS NOT NULL".into()),
                    ("bad", format!("ttft_ms > {threshold_ms:?}")),
                    offset,
                ],
            )?,
            Sli::Quality { evaluation } => expand(
                engine,
                &s,
                Template::SloEvalEvents,
                &[
                    ("evaluation", crate::engine::template::quote(evaluation)),
                    offset,
                ],
            )?,
            Sli::Cost { max_usd } => {
                let (Some(copts), Some(res)) = (&o.cost, &prices) else {
                    return Err(crate::error::Error::usage(
                        format!(
                            "objective `{}`: a cost objective needs a price table",
                            obj.name
                        ),
                        "pass --prices FILE or let spanlens use its embedded table",
                    ));
                };
                let mut cs = s.clone();
                cs.kind = copts.kind.clone();
                let tc = super::cost::trace_costs_with(engine, &cs, copts, res)?;
                expand(
                    engine,
                    &cs,
                    Template::SloCostEvents,
                    &[
                        ("trace_costs", tc),
                        ("max_usd", format!("{max_usd:?}")),
                        offset,
                    ],
                )?
            }
        };
        asked.push(batch.ask(q));
    }
    let answers = batch.run(engine)?;
    // breaches to attribute: (finding, table row, objective, cohort)
    let mut to_explain: Vec<(usize, usize, usize, Vec<String>)> = Vec::new();
    for (j, (obj, a)) in o.objectives.iter().zip(&asked).enumerate() {
        let rows = answers.rows(*a);
        let keys = rows.keys(nk)?;
        let (t, valid, bad) = (rows.i64s("t")?, rows.u64s("valid")?, rows.u64s("bad")?);
        // cohort -> bucket start -> (valid, bad)
        let mut by: BTreeMap<Vec<String>, BTreeMap<i64, (u64, u64)>> = BTreeMap::new();
        for i in 0..rows.len() {
            let e = by
                .entry(keys[i].clone())
                .or_default()
                .entry(t[i].unwrap_or(0))
                .or_default();
            e.0 += valid[i];
            e.1 += bad[i];
        }
        if by.is_empty() && nk == 0 {
            by.insert(vec!["all".into()], BTreeMap::new());
        }
        let mut cohorts: Vec<&Vec<String>> = by.keys().collect();
        cohorts.sort_by(|a, b| key_order(a, b));
        for k in cohorts {
            let buckets = &by[k];
            let sum_since = |secs: i64| -> (u64, u64) {
                let from = shifted_end - secs * 1_000_000_000;
                buckets
                    .range(from..)
                    .fold((0, 0), |acc, (_, (v, b))| (acc.0 + v, acc.1 + b))
            };
            let (pv, pb) = buckets
                .values()
                .fold((0, 0), |acc, (v, b)| (acc.0 + v, acc.1 + b));
            let burns: Vec<Option<f64>> = burn::WINDOWS
                .iter()
                .map(|(_, secs)| {
                    let (v, b) = sum_since(*secs);
                    burn::burn_rate(b, v, obj.target)
                })
                .collect();
            let level = burn::alert(&|w: &str| {
                burn::WINDOWS
                    .iter()
                    .position(|(n, _)| *n == w)
                    .and_then(|i| burns[i])
            });
            let remaining = burn::budget_remaining(pb, pv, obj.target);
            let sli_value = burn::error_ratio(pb, pv).map(|r| 1.0 - r);
            let breached = sli_value.is_some_and(|v| v < obj.target);
            let status = if pv == 0 {
                "no data"
            } else if breached {
                "breached"
            } else {
                "met"
            };
            let cohort = k.join(", ");
            if breached || level == burn::Alert::Page {
                to_explain.push((findings.len(), table.rows.len(), j, k.clone()));
            }
            if breached {
                findings.push(
                    Finding::new(
                        FindingKind::Breach,
                        format!(
                            "{} [{cohort}]: SLI {:.4} below target {} over the period",
                            obj.name,
                            sli_value.unwrap_or(0.0),
                            obj.target
                        ),
                        // an objective missed is always on the first screen
                        3.0,
                    )
                    .cohort(&o.key_names, k)
                    .metric(obj.name.clone())
                    .values(sli_value, Some(obj.target)),
                );
            } else if level == burn::Alert::Page {
                findings.push(
                    Finding::new(
                        FindingKind::Breach,
                        format!("{} [{cohort}]: burning its budget at page level", obj.name),
                        Finding::CRITICAL,
                    )
                    .cohort(&o.key_names, k)
                    .metric(obj.name.clone())
                    .values(sli_value, Some(obj.target)),
                );
            }
            let mut row: Vec<Cell> = k.iter().map(|s| Cell::text(s.clone())).collect();
            row.extend([
                Cell::text(obj.name.clone()),
                Cell::text(obj.sli.describe()),
                Cell::Num(obj.target),
                Cell::count(pv),
                Cell::count(pb),
                Cell::opt(sli_value),
                Cell::opt(remaining),
            ]);
            row.extend(burns.iter().map(|b| Cell::opt(*b)));
            row.push(Cell::text(level.as_str()));
            row.push(Cell::text(status));
            row.extend(explain::cells(None));
            table.push(row);
        }
    }
    // who holds a breach's bad events, beyond their share of the traffic
    to_explain.sort_by(|a, b| findings[b.0].strength.total_cmp(&findings[a.0].strength));
    for (f, row, j, cohort) in to_explain.into_iter().take(explain::EXPLAINED) {
        let (s, bad) = &events[j];
        let Some((hits, noun)) = bad else { continue };
        let ask = Ask::level(&cohort, s.window, format!("({hits})"));
        // errors are not laid at their own error type
        let skip = match o.objectives[j].sli {
            Sli::Availability => explain::same_as("error_type"),
            _ => &[],
        };
        // a cause is extra: an engine refusing its queries leaves none
        let cause = explain::focus(engine, s, &ask, skip, noun).unwrap_or(None);
        explain::attach(&mut table, row, &mut findings[f], cause);
    }
    Ok((table, findings))
}
