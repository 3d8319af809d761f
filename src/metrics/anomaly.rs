//! `spanlens anomalies`: every rule of statistics.md "Anomalies" as a row
//! kind in one ranked list. The engine returns per-trace metrics, token
//! medians, 5-minute span/error counts, spend per window and the response
//! model mix per cohort in one pass; a second pass fetches the spans to
//! open for the rows that need them. Scores come from `stats::anomaly`.
//!
//! On an engine that caps the rows a query returns (Spark, `--max-rows`),
//! the per-trace robust z is found in the engine (anomaly_trace_outliers:
//! medians and MADs per cohort, only the traces past the bound come back)
//! instead of bringing every trace of the window back.

use std::collections::{BTreeMap, BTreeSet};

use super::cost::{self, CostOptions};
use super::{cohort_phase, expand, expand_field, key_order, who, Rows};
use crate::engine::template::quote;
use crate::engine::{parse_key, Arms, Engine, KindFilter, Scope, OTHER};
use crate::error::Result;
use crate::report::format;
use crate::report::model::{Cell, Finding, Report, Table, Unit};
use crate::stats::anomaly::{
    binomial_tail, robust, total_variation, Robust, MAD_Z, MEAN_DEV_Z, Z_THRESHOLD,
};
use crate::window::Window;

const NS_PER_MIN: i64 = 60_000_000_000;
const BUCKET_NS: i64 = 5 * NS_PER_MIN;
const HOUR_NS: i64 = 60 * NS_PER_MIN;
/// Spans opened per anomaly.
const IDS: usize = 5;
/// Costliest traces fetched per spend spike, re-ranked on rounded costs.
const TOP_FETCH: usize = 50;

pub struct AnomalyOptions {
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub baseline: Window,
    pub cost: CostOptions,
    /// no anomaly inside these windows
    pub suppress: Vec<Window>,
    /// no anomaly within this long after a prompt version first appears (0: off)
    pub deploy_quiet_ns: i64,
    /// agent loops: a trace needs at least this many LLM calls
    pub loop_floor: u64,
    /// joint alerts from spanlens.toml
    pub composites: Vec<Composite>,
}

/// The anomaly kinds a composite condition may name.
pub const KINDS: &[&str] = &[
    "cost_outlier",
    "token_outlier",
    "agent_loop",
    "duration_outlier",
    "context_stuffing",
    "error_burst",
    "silence",
    "spend_spike",
    "model_mix",
];

/// One signal of a composite condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// an anomaly of this kind in the cohort
    Kind(&'static str),
    /// the metric regressed from the baseline window to the report window
    Regressed(&'static str),
}

#[derive(Clone, Debug)]
pub struct Composite {
    pub name: String,
    pub all: Vec<Signal>,
}

/// `error_burst`, `regressed:pass_rate`.
pub fn parse_signal(s: &str) -> std::result::Result<Signal, String> {
    let s = s.trim();
    if let Some(m) = s.strip_prefix("regressed:") {
        return super::compare::metric(m)
            .map(|d| Signal::Regressed(d.name))
            .ok_or_else(|| format!("`{s}`: unknown metric `{m}`"));
    }
    KINDS
        .iter()
        .find(|k| **k == s)
        .map(|k| Signal::Kind(k))
        .ok_or_else(|| {
            format!(
                "`{s}` is not a signal; use an anomaly kind ({}) or regressed:METRIC",
                KINDS.join(", ")
            )
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// One row of the list.
#[derive(Clone, Debug)]
struct Anomaly {
    kind: &'static str,
    cohort: Vec<String>,
    time_ns: i64,
    observed: f64,
    expected: Option<f64>,
    score: f64,
    /// the score divided by the rule's threshold (ranks across kinds)
    strength: f64,
    unit: Unit,
    detail: String,
    ids: Vec<String>,
    /// (condition, order) of the spans to open, fetched in pass 2
    examples: Option<(String, String)>,
}

impl Anomaly {
    fn severity(&self) -> Severity {
        if self.strength >= 2.0 {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

/// A trace of the report window.
#[derive(Clone, Debug)]
struct TraceRow {
    trace: String,
    start_ns: i64,
    cost: Option<f64>,
    tokens: f64,
    llm_calls: f64,
    duration_ms: f64,
}

/// The staged per-trace statistics of anomaly_traces on engines that cap
/// rows (read by anomaly_trace_outliers).
const TRACE_TABLE: &str = "anomaly_trace_stats";

pub fn run(engine: &mut dyn Engine, scope: Scope, o: &AnomalyOptions) -> Result<Report> {
    let current = scope.window;
    // both windows, for the cohort guard and the rules comparing with the baseline
    let mut both = scope.clone();
    both.set_arms(Arms::windows(o.baseline, current, "current"));
    cohort_phase(engine, &mut both, o.min_count, o.top)?;
    let mut cur = scope;
    cur.kept = both.kept.clone();
    let mut all_kinds = cur.clone();
    all_kinds.kind = KindFilter::All;
    let mut cost_both = both.clone();
    cost_both.kind = o.cost.kind.clone();
    let mut cost_cur = cur.clone();
    cost_cur.kind = o.cost.kind.clone();
    let res = cost::resolve(engine, &cost_both, &o.cost)?;
    let trace_costs = cost::trace_costs_with(engine, &cost_cur, &o.cost, &res)?;
    let span_costs = cost::span_costs_with(engine, &cost_both, &o.cost, &res)?;
    // prompt versions over all data up to the report's end (first appearances)
    let mut history = cur.clone();
    history.window = Window {
        start_ns: crate::stats::quantile::ZERO_BUCKET,
        end_ns: current.end_ns,
    };
    let field =
        |f: &str| parse_key(f).map_err(|e| crate::error::Error::usage(e, "a bundled field name"));
    let (pv, rm) = (field("prompt_version")?, field("response_model")?);
    let args = field(TOOL_ARGS)?;
    let traces_sql = expand(
        engine,
        &all_kinds,
        "anomaly_traces",
        &[("trace_costs", trace_costs)],
    )?;
    // on a capped engine only the outlying traces come back
    let in_engine = engine.row_cap().is_some();
    if in_engine {
        // the per-trace statistics once: the medians, the deviations and
        // the outliers all read them (derived three times over the spans
        // before, which set the peak memory of a streamed 100M-span report)
        engine.stage(TRACE_TABLE, &traces_sql)?;
    }
    let nk = cur.keys.len();
    let queries = vec![
        if in_engine {
            let on = (0..nk.max(1))
                .map(|i| format!("a.k{i} = b.k{i}"))
                .collect::<Vec<_>>()
                .join(" AND ");
            expand(
                engine,
                &all_kinds,
                "anomaly_trace_outliers",
                &[
                    ("traces", format!("SELECT * FROM {TRACE_TABLE}")),
                    ("on", on),
                    ("mad_k", format!("{:?}", Z_THRESHOLD / MAD_Z)),
                    ("mean_k", format!("{:?}", Z_THRESHOLD * MEAN_DEV_Z)),
                ],
            )?
        } else {
            traces_sql.clone()
        },
        expand(engine, &cur, "anomaly_token_medians", &[])?,
        expand(engine, &both, "anomaly_buckets", &[])?,
        expand(
            engine,
            &cost_both,
            "anomaly_spend",
            &[("span_costs", span_costs)],
        )?,
        expand_field(engine, &both, "drift_categories", &rm, &[])?,
        expand_field(engine, &history, "compare_versions", &pv, &[])?,
        expand_field(engine, &all_kinds, "anomaly_tool_repeats", &args, &[])?,
    ];
    let frames = {
        let _t = crate::timing::phase("engine");
        engine.run(&queries)?
    };
    if in_engine {
        engine.unstage(TRACE_TABLE)?;
    }

    // deploy windows: (cohort, first appearance) of versions new in the report window
    let mut quiet: Vec<(Vec<String>, Window)> = Vec::new();
    if o.deploy_quiet_ns > 0 {
        let r = Rows::new(&frames[5], "compare_versions");
        let (keys, first) = (r.keys(nk)?, r.i64s("first_ns")?);
        for i in 0..r.len() {
            if let Some(f) = first[i].filter(|f| *f >= current.start_ns) {
                quiet.push((
                    keys[i].clone(),
                    Window {
                        start_ns: f,
                        end_ns: f + o.deploy_quiet_ns,
                    },
                ));
            }
        }
    }
    let suppressed = |cohort: &[String], t: i64| -> bool {
        o.suppress.iter().any(|w| w.start_ns <= t && t < w.end_ns)
            || quiet
                .iter()
                .any(|(k, w)| k.as_slice() == cohort && w.start_ns <= t && t < w.end_ns)
    };

    let mut list: Vec<Anomaly> = Vec::new();
    let traces = if in_engine {
        read_outliers(&Rows::new(&frames[0], "anomaly_trace_outliers"), nk)?
    } else {
        every_trace(read_traces(&Rows::new(&frames[0], "anomaly_traces"), nk)?)
    };
    trace_rules(&traces, o, &suppressed, &mut list);
    tool_repeat_rule(
        &Rows::new(&frames[6], "anomaly_tool_repeats"),
        nk,
        &suppressed,
        &mut list,
    )?;
    let over = stuffing_condition(&Rows::new(&frames[1], "anomaly_token_medians"), &cur)?;
    bucket_rules(
        &Rows::new(&frames[2], "anomaly_buckets"),
        nk,
        o,
        current,
        &suppressed,
        &mut list,
    )?;
    spend_rule(
        &Rows::new(&frames[3], "anomaly_spend"),
        nk,
        o,
        current,
        &traces,
        &suppressed,
        &mut list,
    )?;
    model_mix_rule(
        &Rows::new(&frames[4], "drift_categories"),
        nk,
        current,
        &suppressed,
        &mut list,
    )?;

    // pass 2: context stuffing, and the spans to open for rows without ids
    let mut pass2 = Vec::new();
    if let Some((cond, _)) = &over {
        pass2.push(expand(
            engine,
            &cur,
            "anomaly_stuffing",
            &[("over", cond.clone()), ("limit", "10000".into())],
        )?);
    }
    let wanting: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].examples.is_some())
        .collect();
    for &i in &wanting {
        let (cond, order) = list[i].examples.clone().unwrap_or_default();
        pass2.push(expand(
            engine,
            &all_kinds,
            "anomaly_examples",
            &[("cond", cond), ("order", order)],
        )?);
    }
    // spend spikes list their cohort's costliest traces: fetched here when
    // only the outlying traces came back
    let spikes: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].kind == "spend_spike" && !traces.every)
        .collect();
    for &i in &spikes {
        pass2.push(expand(
            engine,
            &all_kinds,
            "anomaly_top_traces",
            &[
                ("traces", traces_sql.as_param()),
                ("cond", cohort_sql(&list[i].cohort)),
                ("limit", TOP_FETCH.to_string()),
            ],
        )?);
    }
    if !pass2.is_empty() {
        let frames = engine.run(&pass2)?;
        let mut at = 0;
        if let Some((_, medians)) = &over {
            stuffing_rule(
                &Rows::new(&frames[0], "anomaly_stuffing"),
                nk,
                medians,
                &suppressed,
                &mut list,
            )?;
            at = 1;
        }
        for (j, &i) in wanting.iter().enumerate() {
            let r = Rows::new(&frames[at + j], "anomaly_examples");
            let (t, s) = (r.strs("trace_id")?, r.strs("span_id")?);
            list[i].ids = (0..r.len())
                .map(|k| {
                    format!(
                        "{}/{}",
                        t[k].clone().unwrap_or_default(),
                        s[k].clone().unwrap_or_default()
                    )
                })
                .collect();
        }
        at += wanting.len();
        for (j, &i) in spikes.iter().enumerate() {
            let r = Rows::new(&frames[at + j], "anomaly_top_traces");
            let (t, c) = (r.strs("trace_id")?, r.f64s("cost")?);
            let mut top: Vec<(f64, String)> = (0..r.len())
                .map(|k| {
                    (
                        super::settle(c[k].unwrap_or(0.0)),
                        t[k].clone().unwrap_or_default(),
                    )
                })
                .collect();
            top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            list[i].ids = top.into_iter().take(IDS).map(|(_, t)| t).collect();
        }
    }

    composite_rules(engine, &cur, o, &mut list)?;

    // rank: critical first, then strength, then time and cohort
    list.sort_by(|a, b| {
        a.severity()
            .cmp(&b.severity())
            .then(b.strength.total_cmp(&a.strength))
            .then(a.time_ns.cmp(&b.time_ns))
            .then_with(|| key_order(&a.cohort, &b.cohort))
            .then(a.kind.cmp(b.kind))
    });
    let mut t = Table::with_keys(
        "anomalies",
        "Anomalies, most severe first",
        &o.key_names,
        &[
            ("kind", Unit::Text),
            ("severity", Unit::Text),
            ("time", Unit::Time),
            ("observed", Unit::PerRow),
            ("expected", Unit::PerRow),
            ("score", Unit::Stat),
            ("detail", Unit::Text),
            ("open", Unit::Text),
        ],
    );
    t.footnote = Some(
        "score: robust z (outliers, loops), -log10 p (error bursts), x median (context stuffing), \
         x daily mean (spend), total variation (model mix), expected spans (silence). Critical: \
         at least twice the rule's threshold. open: trace_id[/span_id]."
            .into(),
    );
    let mut findings = Vec::new();
    for a in &list {
        let mut row: Vec<Cell> = a.cohort.iter().map(|k| Cell::text(k.clone())).collect();
        row.extend([
            Cell::text(a.kind),
            Cell::text(a.severity().as_str()),
            Cell::Int(a.time_ns),
            Cell::opt(Some(a.observed)),
            Cell::opt(a.expected),
            Cell::opt(Some(a.score)),
            Cell::text(a.detail.clone()),
            Cell::text(a.ids.join(" ")),
        ]);
        t.push(row);
        t.row_units.push(a.unit);
        findings.push(Finding {
            kind: "anomaly".into(),
            message: format!(
                "{}{} ({}) at {}: {}",
                who(&o.key_names, &a.cohort),
                a.kind,
                a.severity().as_str(),
                format::time_ns(a.time_ns),
                a.detail
            ),
        });
    }
    super::settle_table(&mut t);
    let crit = list
        .iter()
        .filter(|a| a.severity() == Severity::Critical)
        .count();
    let headline = if list.is_empty() {
        "anomalies: none".to_string()
    } else {
        format!(
            "anomalies: {} ({} critical, {} warning)",
            list.len(),
            crit,
            list.len() - crit
        )
    };
    let mut meta = vec![(
        "baseline".to_string(),
        format!(
            "{} .. {}",
            format::time_ns(o.baseline.start_ns),
            format::time_ns(o.baseline.end_ns)
        ),
    )];
    if !o.suppress.is_empty() || o.deploy_quiet_ns > 0 {
        let mut parts: Vec<String> = o
            .suppress
            .iter()
            .map(|w| {
                format!(
                    "{} .. {}",
                    format::time_ns(w.start_ns),
                    format::time_ns(w.end_ns)
                )
            })
            .collect();
        if o.deploy_quiet_ns > 0 {
            parts.push(format!(
                "{} min after each new prompt version ({} in the window)",
                o.deploy_quiet_ns / NS_PER_MIN,
                quiet.len()
            ));
        }
        meta.push(("suppressed".into(), parts.join("; ")));
    }
    Ok(Report {
        command: "anomalies".into(),
        meta,
        tables: vec![t],
        findings,
        notes: Vec::new(),
        headline: Some(headline),
        charts: Vec::new(),
    })
}

/// SQL selecting one cohort's spans in `{{spans}}` (its k columns).
fn cohort_sql(cohort: &[String]) -> String {
    cohort
        .iter()
        .enumerate()
        .map(|(i, v)| format!("k{i} = {}", quote(v)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn read_traces(r: &Rows, nk: usize) -> Result<BTreeMap<Vec<String>, Vec<TraceRow>>> {
    let keys = r.keys(nk)?;
    let (tr, st, cost, tok, calls, dur) = (
        r.strs("trace_id")?,
        r.i64s("start_ns")?,
        r.f64s("cost")?,
        r.f64s("tokens")?,
        r.f64s("llm_calls")?,
        r.f64s("duration_ms")?,
    );
    let mut out: BTreeMap<Vec<String>, Vec<TraceRow>> = BTreeMap::new();
    for i in 0..r.len() {
        out.entry(keys[i].clone()).or_default().push(TraceRow {
            trace: tr[i].clone().unwrap_or_default(),
            start_ns: st[i].unwrap_or(0),
            cost: cost[i].map(super::settle),
            tokens: tok[i].unwrap_or(0.0),
            llm_calls: calls[i].unwrap_or(0.0),
            duration_ms: dur[i].unwrap_or(0.0),
        });
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.trace.cmp(&b.trace));
    }
    Ok(out)
}

/// A per-trace metric of the outlier rules: its anomaly kind, value, unit
/// and column prefix in anomaly_trace_outliers.
type Metric = (
    &'static str,
    fn(&TraceRow) -> Option<f64>,
    Unit,
    &'static str,
);

const METRICS: [Metric; 4] = [
    ("cost_outlier", |t| t.cost, Unit::Usd, "cost"),
    ("token_outlier", |t| Some(t.tokens), Unit::Number, "tokens"),
    ("agent_loop", |t| Some(t.llm_calls), Unit::Number, "calls"),
    (
        "duration_outlier",
        |t| Some(t.duration_ms),
        Unit::Ms,
        "duration",
    ),
];

/// One cohort's traces for the outlier rules: how many it has, per metric
/// the robust location and scale with the number of values, and the traces
/// to test.
#[derive(Debug, Default)]
struct TraceSet {
    traces: usize,
    stats: [Option<(Robust, usize)>; 4],
    rows: Vec<TraceRow>,
}

/// Every cohort's [`TraceSet`]; `every`: the sets hold all traces of the
/// window (else only those past the bound somewhere).
struct Traces {
    cohorts: BTreeMap<Vec<String>, TraceSet>,
    every: bool,
}

/// Every trace of the window came back: the statistics from them.
fn every_trace(traces: BTreeMap<Vec<String>, Vec<TraceRow>>) -> Traces {
    let cohorts = traces
        .into_iter()
        .map(|(cohort, rows)| {
            let stats = METRICS.map(|(_, get, _, _)| {
                let vals: Vec<f64> = rows.iter().filter_map(get).collect();
                robust(&vals).map(|r| (r, vals.len()))
            });
            let set = TraceSet {
                traces: rows.len(),
                stats,
                rows,
            };
            (cohort, set)
        })
        .collect();
    Traces {
        cohorts,
        every: true,
    }
}

/// The engine found the outlying traces (anomaly_trace_outliers): each row
/// carries its cohort's statistics.
fn read_outliers(r: &Rows, nk: usize) -> Result<Traces> {
    let rows = read_traces(r, nk)?;
    let keys = r.keys(nk)?;
    let traces = r.u64s("traces")?;
    let mut cols = Vec::new();
    for (_, _, _, m) in METRICS {
        cols.push((
            r.u64s(&format!("{m}_n"))?,
            r.f64s(&format!("{m}_med"))?,
            r.f64s(&format!("{m}_mad"))?,
            r.f64s(&format!("{m}_mean_dev"))?,
        ));
    }
    let mut cohorts: BTreeMap<Vec<String>, TraceSet> = BTreeMap::new();
    for i in 0..r.len() {
        cohorts.entry(keys[i].clone()).or_insert_with(|| TraceSet {
            traces: traces[i] as usize,
            stats: std::array::from_fn(|m| {
                let (n, med, mad, dev) = &cols[m];
                match (med[i], mad[i], dev[i]) {
                    // (costs were rounded in SQL as the local path rounds them)
                    (Some(med), Some(mad), Some(dev)) if n[i] > 0 => {
                        Some((Robust::from_parts(med, mad, dev), n[i] as usize))
                    }
                    _ => None,
                }
            }),
            rows: Vec::new(),
        });
    }
    for (cohort, rows) in rows {
        if let Some(set) = cohorts.get_mut(&cohort) {
            set.rows = rows;
        }
    }
    Ok(Traces {
        cohorts,
        every: false,
    })
}

/// Robust z per cohort on cost, tokens, LLM calls and duration per trace:
/// one row per (cohort, metric) holding every trace past |z| 3.5; LLM
/// calls only count as an agent loop at the absolute floor too.
fn trace_rules(
    traces: &Traces,
    o: &AnomalyOptions,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) {
    for (cohort, set) in &traces.cohorts {
        if cohort.iter().any(|k| k == OTHER) && set.traces < 2 {
            continue;
        }
        for (m, (kind, get, unit, _)) in METRICS.into_iter().enumerate() {
            let Some((r, n)) = set.stats[m] else { continue };
            let mut hits: Vec<(f64, &TraceRow, f64)> = set
                .rows
                .iter()
                .filter_map(|t| get(t).map(|v| (r.z(v), t, v)))
                .filter(|(z, t, v)| {
                    z.abs() > Z_THRESHOLD
                        && !suppressed(cohort, t.start_ns)
                        && (kind != "agent_loop" || (*z > 0.0 && *v >= o.loop_floor as f64))
                })
                .collect();
            if hits.is_empty() {
                continue;
            }
            hits.sort_by(|a, b| {
                b.0.abs()
                    .total_cmp(&a.0.abs())
                    .then(a.1.trace.cmp(&b.1.trace))
            });
            let (z, top, v) = hits[0];
            let score = if z.is_finite() { z.abs() } else { f64::MAX };
            list.push(Anomaly {
                kind,
                cohort: cohort.clone(),
                time_ns: top.start_ns,
                observed: v,
                expected: Some(r.median),
                score,
                strength: score / Z_THRESHOLD,
                unit,
                detail: format!(
                    "{} of {n} traces past |robust z| {Z_THRESHOLD}; the largest {}",
                    hits.len(),
                    if kind == "agent_loop" {
                        format!("made {v} LLM calls (median {})", r.median)
                    } else {
                        format!("z = {}", format::stat(z))
                    }
                ),
                ids: hits.iter().take(IDS).map(|h| h.1.trace.clone()).collect(),
                examples: None,
            });
        }
    }
}

/// The attribute holding a tool call's arguments (OTel GenAI).
const TOOL_ARGS: &str = "attr:gen_ai.tool.call.arguments";
/// Calls of one tool with equal arguments in a row that make a loop.
const REPEATS: usize = 3;

/// The longest run of equal present items in `v` (length, where it starts);
/// a missing item equals nothing.
fn longest_run<T: PartialEq>(v: &[Option<T>]) -> (usize, usize) {
    let (mut best, mut at, mut start) = (0, 0, 0);
    for i in 0..v.len() {
        if v[i].is_none() {
            start = i + 1;
            continue;
        }
        if i > start && v[i] != v[i - 1] {
            start = i;
        }
        if i + 1 - start > best {
            best = i + 1 - start;
            at = start;
        }
    }
    (best, at)
}

/// Agent loops of the second kind: the same tool called `REPEATS`+ times in
/// a row (in start order within a trace) with equal arguments. One row per
/// cohort: the longest run, the traces with such a run.
fn tool_repeat_rule(
    r: &Rows,
    nk: usize,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let keys = r.keys(nk)?;
    let (tr, sp, st) = (r.strs("trace_id")?, r.strs("span_id")?, r.i64s("start_ns")?);
    let (tool, args) = (r.strs("tool")?, r.strs("args")?);
    // rows come ordered by trace, start, span
    // per cohort: (run length, tool, start of the run, trace/span to open)
    type Run = (usize, String, i64, String);
    let mut runs: BTreeMap<Vec<String>, Vec<Run>> = BTreeMap::new();
    let mut i = 0;
    while i < r.len() {
        let mut j = i;
        while j < r.len() && tr[j] == tr[i] {
            j += 1;
        }
        let calls: Vec<Option<(&String, &String, usize)>> = (i..j)
            .map(|k| match (&tool[k], &args[k]) {
                (Some(t), Some(a)) => Some((t, a, k)),
                _ => None,
            })
            .collect();
        let eq: Vec<Option<(&String, &String)>> =
            calls.iter().map(|c| c.map(|(t, a, _)| (t, a))).collect();
        let (n, at) = longest_run(&eq);
        if let Some(Some((t, _, k))) = calls.get(at).filter(|_| n >= REPEATS) {
            let start = st[*k].unwrap_or(0);
            if !suppressed(&keys[*k], start) {
                runs.entry(keys[*k].clone()).or_default().push((
                    n,
                    t.to_string(),
                    start,
                    format!(
                        "{}/{}",
                        tr[*k].clone().unwrap_or_default(),
                        sp[*k].clone().unwrap_or_default()
                    ),
                ));
            }
        }
        i = j;
    }
    for (cohort, mut v) in runs {
        // longest first, then earliest
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
        let (n, t, start, _) = v[0].clone();
        list.push(Anomaly {
            kind: "agent_loop",
            cohort,
            time_ns: start,
            observed: n as f64,
            expected: None,
            score: n as f64,
            strength: n as f64 / REPEATS as f64,
            unit: Unit::Number,
            detail: format!(
                "{} trace(s) called one tool {REPEATS}+ times in a row with equal arguments; \
                 the longest: {t} x{n}",
                v.len()
            ),
            ids: v.iter().take(IDS).map(|x| x.3.clone()).collect(),
            examples: None,
        });
    }
    Ok(())
}

/// From the token medians: the per-cohort SQL condition `tok > 3 x median`
/// and the medians, or None when no cohort has tokens.
type Medians = BTreeMap<Vec<String>, f64>;
fn stuffing_condition(r: &Rows, scope: &Scope) -> Result<Option<(String, Medians)>> {
    let nk = scope.keys.len();
    let (keys, med) = (r.keys(nk)?, r.f64s("median")?);
    let mut medians = Medians::new();
    let mut parts = Vec::new();
    for i in 0..r.len() {
        if let Some(m) = med[i].filter(|m| *m > 0.0) {
            parts.push(format!(
                "({} AND tok > {:?})",
                cohort_sql(&keys[i]),
                3.0 * m
            ));
            medians.insert(keys[i].clone(), m);
        }
    }
    Ok((!parts.is_empty()).then(|| (parts.join(" OR "), medians)))
}

fn stuffing_rule(
    r: &Rows,
    nk: usize,
    medians: &Medians,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let keys = r.keys(nk)?;
    let (tr, sp, st, tok) = (
        r.strs("trace_id")?,
        r.strs("span_id")?,
        r.i64s("start_ns")?,
        r.f64s("tok")?,
    );
    // rows come largest first
    let mut per: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for i in 0..r.len() {
        if !suppressed(&keys[i], st[i].unwrap_or(0)) {
            per.entry(keys[i].clone()).or_default().push(i);
        }
    }
    let capped = r.len() >= 10_000;
    for (cohort, idx) in per {
        let m = medians.get(&cohort).copied().unwrap_or(f64::NAN);
        let top = idx[0];
        let v = tok[top].unwrap_or(0.0);
        let ratio = v / m;
        list.push(Anomaly {
            kind: "context_stuffing",
            cohort,
            time_ns: st[top].unwrap_or(0),
            observed: v,
            expected: Some(m),
            score: ratio,
            strength: ratio / 3.0,
            unit: Unit::Number,
            detail: format!(
                "{}{} LLM spans above 3x the median tokens per span ({}); the largest {:.1}x",
                if capped { ">= " } else { "" },
                idx.len(),
                format::number(m),
                ratio
            ),
            ids: idx
                .iter()
                .take(IDS)
                .map(|&i| {
                    format!(
                        "{}/{}",
                        tr[i].clone().unwrap_or_default(),
                        sp[i].clone().unwrap_or_default()
                    )
                })
                .collect(),
            examples: None,
        });
    }
    Ok(())
}

/// Error bursts (hourly, current window, binomial tail against the
/// baseline rate, Bonferroni over the hours tested) and silences.
fn bucket_rules(
    r: &Rows,
    nk: usize,
    o: &AnomalyOptions,
    current: Window,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let (keys, base) = (r.keys(nk)?, r.is_baseline()?);
    let (t, n, e) = (r.i64s("t")?, r.u64s("n")?, r.u64s("errors")?);
    let mut baseline: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    let mut hours: BTreeMap<(Vec<String>, i64), (u64, u64)> = BTreeMap::new();
    let mut busy: BTreeMap<Vec<String>, BTreeSet<i64>> = BTreeMap::new();
    for i in 0..r.len() {
        let ts = t[i].unwrap_or(0);
        if base[i] {
            let b = baseline.entry(keys[i].clone()).or_default();
            b.0 += n[i];
            b.1 += e[i];
        } else {
            let h = hours
                .entry((keys[i].clone(), ts - ts.rem_euclid(HOUR_NS)))
                .or_default();
            h.0 += n[i];
            h.1 += e[i];
            busy.entry(keys[i].clone()).or_default().insert(ts);
        }
    }
    // error bursts
    let tested = hours.len().max(1) as f64;
    let alpha = 0.001 / tested;
    for ((cohort, hour), (n, errs)) in &hours {
        let Some((bn, be)) = baseline.get(cohort) else {
            continue;
        };
        if *bn == 0 || suppressed(cohort, *hour) {
            continue;
        }
        let p0 = *be as f64 / *bn as f64;
        let rate = *errs as f64 / *n as f64;
        let p = binomial_tail(*errs, *n, p0);
        if p < alpha && rate >= 0.02 {
            let score = -p.max(f64::MIN_POSITIVE).log10();
            list.push(Anomaly {
                kind: "error_burst",
                cohort: cohort.clone(),
                time_ns: *hour,
                observed: rate,
                expected: Some(p0),
                score,
                strength: score / -alpha.log10(),
                unit: Unit::Share,
                detail: format!(
                    "{errs} errors in {n} spans this hour vs {} baseline (p {})",
                    format::pct(Some(p0)),
                    format::stat(p)
                ),
                ids: Vec::new(),
                examples: Some((
                    format!(
                        "{} AND start_ns >= {hour} AND start_ns < {} AND CAST(status AS VARCHAR) = 'error'",
                        cohort_sql(cohort),
                        hour + HOUR_NS
                    ),
                    "start_ns, trace_id, span_id".into(),
                )),
            });
        }
    }
    // silence: an empty stretch of >= 15 minutes where the baseline rate expects >= 10 spans
    let base_min = (o.baseline.end_ns - o.baseline.start_ns) as f64 / NS_PER_MIN as f64;
    let first = current.start_ns - current.start_ns.rem_euclid(BUCKET_NS);
    for (cohort, (bn, _)) in &baseline {
        if *bn == 0 || base_min <= 0.0 {
            continue;
        }
        let per_min = *bn as f64 / base_min;
        let empty = BTreeSet::new();
        let seen = busy.get(cohort).unwrap_or(&empty);
        let mut b = first;
        while b < current.end_ns {
            if seen.contains(&b) {
                b += BUCKET_NS;
                continue;
            }
            let start = b.max(current.start_ns);
            let mut end = b;
            while end < current.end_ns && !seen.contains(&end) {
                end += BUCKET_NS;
            }
            let stop = end.min(current.end_ns);
            let minutes = (stop - start) as f64 / NS_PER_MIN as f64;
            let expected = per_min * minutes;
            if minutes >= 15.0 && expected >= 10.0 && !suppressed(cohort, start) {
                list.push(Anomaly {
                    kind: "silence",
                    cohort: cohort.clone(),
                    time_ns: start,
                    observed: 0.0,
                    expected: Some(expected),
                    score: expected,
                    strength: expected / 10.0,
                    unit: Unit::Number,
                    detail: format!(
                        "no spans for {minutes:.0} min (until {}); the baseline rate expects {expected:.0}",
                        format::time_ns(stop)
                    ),
                    ids: Vec::new(),
                    examples: None,
                });
            }
            b = end;
        }
    }
    Ok(())
}

/// Spend spike: the current window's daily cost above 1.5x the baseline's
/// daily mean (the trailing 7 days by default).
fn spend_rule(
    r: &Rows,
    nk: usize,
    o: &AnomalyOptions,
    current: Window,
    traces: &Traces,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let (keys, base, usd) = (r.keys(nk)?, r.is_baseline()?, r.f64s("usd")?);
    let mut per: BTreeMap<Vec<String>, (f64, f64)> = BTreeMap::new();
    for i in 0..r.len() {
        let e = per.entry(keys[i].clone()).or_default();
        let v = super::settle(usd[i].unwrap_or(0.0));
        if base[i] {
            e.0 += v;
        } else {
            e.1 += v;
        }
    }
    let day = crate::window::NS_PER_DAY as f64;
    let (bd, cd) = (
        (o.baseline.end_ns - o.baseline.start_ns) as f64 / day,
        (current.end_ns - current.start_ns) as f64 / day,
    );
    if bd <= 0.0 || cd <= 0.0 {
        return Ok(());
    }
    for (cohort, (b, c)) in per {
        let (bdaily, cdaily) = (b / bd, c / cd);
        if bdaily <= 0.0 || cdaily <= 1.5 * bdaily || suppressed(&cohort, current.start_ns) {
            continue;
        }
        let ratio = cdaily / bdaily;
        // (filled by a second query when only the outliers came back)
        let mut top: Vec<&TraceRow> = traces
            .cohorts
            .get(&cohort)
            .filter(|_| traces.every)
            .map(|v| v.rows.iter().filter(|t| t.cost.is_some()).collect())
            .unwrap_or_default();
        top.sort_by(|a, b| {
            b.cost
                .unwrap_or(0.0)
                .total_cmp(&a.cost.unwrap_or(0.0))
                .then(a.trace.cmp(&b.trace))
        });
        list.push(Anomaly {
            kind: "spend_spike",
            cohort,
            time_ns: current.start_ns,
            observed: cdaily,
            expected: Some(bdaily),
            score: ratio,
            strength: ratio / 1.5,
            unit: Unit::Usd,
            detail: format!(
                "{} per day vs {} baseline daily mean ({ratio:.1}x); the costliest traces listed",
                format::usd(cdaily),
                format::usd(bdaily)
            ),
            ids: top.iter().take(IDS).map(|t| t.trace.clone()).collect(),
            examples: None,
        });
    }
    Ok(())
}

/// Model mix change: total variation distance of response models, current
/// window vs baseline, above 0.2 (each window needs 30 spans).
fn model_mix_rule(
    r: &Rows,
    nk: usize,
    current: Window,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let (keys, base, v, n) = (r.keys(nk)?, r.is_baseline()?, r.strs("v")?, r.u64s("n")?);
    type Mix = (BTreeMap<String, u64>, BTreeMap<String, u64>);
    let mut per: BTreeMap<Vec<String>, Mix> = BTreeMap::new();
    for i in 0..r.len() {
        let m = per.entry(keys[i].clone()).or_default();
        let side = if base[i] { &mut m.0 } else { &mut m.1 };
        *side
            .entry(v[i].clone().unwrap_or_else(|| crate::engine::NONE.into()))
            .or_default() += n[i];
    }
    for (cohort, (b, c)) in per {
        let (nb, nc): (u64, u64) = (b.values().sum(), c.values().sum());
        if nb < 30 || nc < 30 || suppressed(&cohort, current.start_ns) {
            continue;
        }
        let models: BTreeSet<&String> = b.keys().chain(c.keys()).collect();
        let share = |m: &BTreeMap<String, u64>, k: &String, n: u64| {
            m.get(k).copied().unwrap_or(0) as f64 / n as f64
        };
        let p: Vec<f64> = models.iter().map(|k| share(&b, k, nb)).collect();
        let q: Vec<f64> = models.iter().map(|k| share(&c, k, nc)).collect();
        let tvd = total_variation(&p, &q);
        if tvd <= 0.2 {
            continue;
        }
        // the model whose share rose most
        let (gain, model) = models
            .iter()
            .zip(p.iter().zip(&q))
            .map(|(k, (a, b))| (b - a, (*k).clone()))
            .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)))
            .unwrap_or((0.0, String::new()));
        list.push(Anomaly {
            kind: "model_mix",
            cohort: cohort.clone(),
            time_ns: current.start_ns,
            observed: tvd,
            expected: Some(0.2),
            score: tvd,
            strength: tvd / 0.2,
            unit: Unit::Number,
            detail: format!(
                "response models moved (total variation {tvd:.2}); {model} gained {}",
                format::pct(Some(gain))
            ),
            ids: Vec::new(),
            examples: Some((
                format!(
                    "{} AND start_ns >= {} AND start_ns < {} AND CAST(response_model AS VARCHAR) = {}",
                    cohort_sql(&cohort),
                    current.start_ns,
                    current.end_ns,
                    quote(&model)
                ),
                "start_ns, trace_id, span_id".into(),
            )),
        });
    }
    Ok(())
}

/// Joint alerts: a composite row per cohort where every signal holds.
/// `regressed:METRIC` signals come from `compare` over the two windows
/// (run only when a composite names one).
fn composite_rules(
    engine: &mut dyn Engine,
    cur: &Scope,
    o: &AnomalyOptions,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    if o.composites.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&'static super::compare::MetricDef> = super::compare::METRICS
        .iter()
        .filter(|m| {
            o.composites
                .iter()
                .any(|c| c.all.contains(&Signal::Regressed(m.name)))
        })
        .collect();
    let mut regressed: BTreeSet<(Vec<String>, String)> = BTreeSet::new();
    if !wanted.is_empty() {
        let nk = cur.keys.len().max(1);
        let r = super::compare::run(
            engine,
            cur.clone(),
            &super::compare::CompareOptions {
                key_names: o.key_names.clone(),
                min_count: o.min_count,
                top: o.top,
                arms: super::compare::ArmsSpec::Fixed(Arms::windows(
                    o.baseline,
                    cur.window,
                    "candidate",
                )),
                metrics: wanted,
                alpha: super::compare::ALPHA,
                min_effect: BTreeMap::new(),
                seed: super::compare::SEED,
                cost: o.cost.clone(),
            },
        )?;
        if let Some(t) = r.tables.first() {
            let verdict = t.columns.len() - 1;
            for row in &t.rows {
                let text = |c: &Cell| match c {
                    Cell::Text(s) => s.clone(),
                    _ => String::new(),
                };
                if text(&row[verdict]) == "regressed" {
                    let cohort: Vec<String> = row[..nk].iter().map(text).collect();
                    let metric = text(&row[nk]);
                    let base = metric.split(':').next().unwrap_or_default().to_string();
                    regressed.insert((cohort, base));
                }
            }
        }
    }
    let cohorts: BTreeSet<Vec<String>> = list
        .iter()
        .map(|a| a.cohort.clone())
        .chain(regressed.iter().map(|(c, _)| c.clone()))
        .collect();
    let mut found = Vec::new();
    for c in &o.composites {
        for cohort in &cohorts {
            let parts: Vec<&Anomaly> = list.iter().filter(|a| &a.cohort == cohort).collect();
            let holds = c.all.iter().all(|s| match s {
                Signal::Kind(k) => parts.iter().any(|a| a.kind == *k),
                Signal::Regressed(m) => regressed.contains(&(cohort.clone(), m.to_string())),
            });
            if !holds {
                continue;
            }
            let names: Vec<String> = c
                .all
                .iter()
                .map(|s| match s {
                    Signal::Kind(k) => k.to_string(),
                    Signal::Regressed(m) => format!("regressed:{m}"),
                })
                .collect();
            let time = parts
                .iter()
                .map(|a| a.time_ns)
                .max()
                .unwrap_or(cur.window.start_ns);
            found.push(Anomaly {
                kind: "composite",
                cohort: cohort.clone(),
                time_ns: time,
                observed: c.all.len() as f64,
                expected: None,
                score: c.all.len() as f64,
                // a joint alert ranks with the critical ones
                strength: 2.0 + c.all.len() as f64,
                unit: Unit::Count,
                detail: format!("{}: {}", c.name, names.join(" + ")),
                ids: parts
                    .iter()
                    .flat_map(|a| a.ids.iter().cloned())
                    .take(IDS)
                    .collect(),
                examples: None,
            });
        }
    }
    list.extend(found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_run_of_equal_calls() {
        assert_eq!(longest_run::<u8>(&[]), (0, 0));
        assert_eq!(longest_run(&[Some(1), Some(1), Some(2), Some(1)]), (2, 0));
        assert_eq!(
            longest_run(&[Some(1), Some(2), Some(2), Some(2), Some(1), Some(1)]),
            (3, 1)
        );
        // a missing argument breaks a run and never makes one
        assert_eq!(longest_run(&[Some(1), None, Some(1)]), (1, 0));
        assert_eq!(longest_run(&[None::<u8>, None, None]), (0, 0));
        assert_eq!(longest_run(&[None, Some(3), Some(3)]), (2, 1));
    }
}
