//! `spanlens anomalies`: every anomaly rule as a row kind in one ranked
//! list. Each rule judges the report window against the cohort's own
//! baseline, on the scale the data lives on: per-trace cost, tokens and
//! duration and per-span tokens by how many values pass the baseline's
//! 99th percentile (a one-sided Fisher exact test against the baseline's own
//! count above it: heavy tails are the norm, not news),
//! error bursts by a binomial test against the baseline rate with a prior,
//! silences by the baseline's traffic at those hours, spend by a compound
//! Poisson bound, the model mix by a chi-squared test. Every rule has a
//! minimum sample and a false-alarm rate of 0.001 per report shared over
//! the cohorts it tests.
//!
//! The engine returns the traces past a bound (anomaly_trace_tails: the
//! bounds are computed where the data is, on every engine alike), the
//! token bounds, 5-minute span/error counts, spend per window and the
//! response model mix per cohort in one pass; a second pass fetches the
//! spans to open for the rows that need them.

use std::collections::{BTreeMap, BTreeSet};

use super::cost::{self, CostOptions};
use super::explain::{self, Ask};
use super::{cohort_phase, expand, expand_field, key_order, who, Batch, Rows};
use crate::engine::template::quote;
use crate::engine::template::Template;
use crate::engine::{parse_key, Arms, Engine, KindFilter, Scope};
use crate::error::Result;
use crate::report::format;
use crate::report::model::{Cell, Finding, FindingKind, Report, Table, Unit};
use crate::stats::anomaly::{binomial_tail, total_variation};
use crate::stats::hypothesis::fisher_greater;
use crate::window::Window;

const NS_PER_MIN: i64 = 60_000_000_000;
const BUCKET_NS: i64 = 5 * NS_PER_MIN;
const HOUR_NS: i64 = 60 * NS_PER_MIN;
/// Spans opened per anomaly.
const IDS: usize = 5;
/// Traces an outlier finding's attribution reads at most.
const FOCUS_TRACES: usize = 1000;
/// Costliest traces fetched per spend spike, re-ranked on rounded costs.
const TOP_FETCH: usize = 50;
/// Tail rules: the share of current values expected above the baseline's
/// 99th percentile when nothing changed.
const TAIL_SHARE: f64 = 0.01;
/// A baseline needs this many values for its 99th percentile to be a bound.
const MIN_BASE: u64 = 200;
/// A tail finding needs this many values above the bound.
const MIN_OVER: u64 = 3;
/// Each rule's false-alarm rate per report, shared out over the cohorts it
/// tests (Bonferroni).
const ALPHA: f64 = 0.001;

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
    ids: Vec<Open>,
    /// (condition, order) of the spans to open, fetched in pass 2
    examples: Option<(String, String)>,
    /// who caused it
    cause: Option<super::explain::Cause>,
    /// the finding's own spans, for the attribution (outliers, loops,
    /// context stuffing, model mix)
    focus: Option<Focus>,
}

/// A trace, or one span of it, for a person to open.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Open {
    trace: String,
    span: Option<String>,
}

impl Open {
    fn trace(trace: String) -> Open {
        Open { trace, span: None }
    }

    fn span(trace: &Option<String>, span: &Option<String>) -> Open {
        Open {
            trace: trace.clone().unwrap_or_default(),
            span: Some(span.clone().unwrap_or_default()),
        }
    }

    /// `trace_id` or `trace_id/span_id`, as the `open` column shows it
    fn shown(&self) -> String {
        match &self.span {
            Some(s) => format!("{}/{s}", self.trace),
            None => self.trace.clone(),
        }
    }
}

/// The spans a finding is about, for its attribution.
#[derive(Clone, Debug)]
struct Focus {
    /// SQL over span columns: its traces, its spans above the bound, the
    /// spans of the model that gained
    hits: String,
    /// what they are, in the cause's sentence
    noun: String,
    /// a change between the windows (model mix: who moved the share), not
    /// who holds the spans (outliers, loops)
    change: bool,
}

impl Focus {
    fn held(hits: String, noun: &str) -> Option<Focus> {
        Some(Focus {
            hits,
            noun: noun.into(),
            change: false,
        })
    }
}

impl Anomaly {
    /// the traces of its spans to open, each once, in their order
    fn trace_ids(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.ids
            .iter()
            .filter(|o| seen.insert(&o.trace))
            .map(|o| o.trace.clone())
            .collect()
    }

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

/// The staged per-trace figures of anomaly_traces (read by
/// anomaly_trace_tails).
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
    let res = cost::resolve(engine, &cost_both, &o.cost)?;
    let trace_costs = cost::trace_costs_with(engine, &cost_both, &o.cost, &res)?;
    // prompt versions over all data up to the report's end (first appearances)
    let mut history = cur.clone();
    history.window = Window {
        start_ns: crate::stats::quantile::ZERO_BUCKET,
        end_ns: current.end_ns,
    };
    let field =
        |f: &str| parse_key(f).map_err(|e| crate::error::Error::usage(e, "a bundled field name"));
    let pv = field("prompt_version")?;
    let args = field(TOOL_ARGS)?;
    let mut all_both = both.clone();
    all_both.kind = KindFilter::All;
    let same_cohort = (0..cur.keys.len().max(1))
        .map(|i| format!("t.k{i} = c.k{i}"))
        .chain(["t.arm = c.arm".to_string()])
        .collect::<Vec<_>>()
        .join(" AND ");
    let traces_sql = expand(
        engine,
        &all_both,
        Template::AnomalyTraces,
        &[
            ("trace_costs", trace_costs.clone()),
            ("same_cohort", same_cohort),
        ],
    )?;
    // the per-trace figures once: the bounds, the counts and the traces
    // past them all read them
    engine.stage(TRACE_TABLE, &traces_sql)?;
    let nk = cur.keys.len();
    let cohort_cols = (0..nk.max(1))
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let on = (0..nk.max(1))
        .map(|i| format!("a.k{i} = b.k{i}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut batch = Batch::new();
    let tails = batch.ask(expand(
        engine,
        &all_both,
        Template::AnomalyTraceTails,
        &[
            ("traces", format!("SELECT * FROM {TRACE_TABLE}")),
            ("cohort", cohort_cols),
            ("on", on),
            ("baseline", quote(crate::engine::BASELINE)),
            ("loop_floor", o.loop_floor.to_string()),
        ],
    )?);
    let token_bounds = batch.ask(expand(engine, &both, Template::AnomalyTokenBounds, &[])?);
    let buckets = batch.ask(expand(engine, &both, Template::AnomalyBuckets, &[])?);
    let spend = batch.ask(expand(
        engine,
        &cost_both,
        Template::AnomalySpend,
        &[("trace_costs", trace_costs)],
    )?);
    let model_mix = batch.ask(expand(engine, &both, Template::AnomalyModelMix, &[])?);
    let versions = batch.ask(expand_field(
        engine,
        &history,
        Template::CompareVersions,
        &pv,
        &[],
    )?);
    let tool_repeats = batch.ask(expand_field(
        engine,
        &all_kinds,
        Template::AnomalyToolRepeats,
        &args,
        &[],
    )?);
    let answers = {
        let _t = crate::timing::phase("engine");
        batch.run(engine)?
    };
    engine.unstage(TRACE_TABLE)?;

    // deploy windows: (cohort, first appearance) of versions new in the report window
    let mut quiet: Vec<(Vec<String>, Window)> = Vec::new();
    if o.deploy_quiet_ns > 0 {
        let r = answers.rows(versions);
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
    let buckets = answers.rows(buckets);
    // every rule's tests are corrected for the cohorts it judges
    let cohorts = {
        let keys = buckets.keys(nk)?;
        keys.into_iter().collect::<BTreeSet<_>>().len().max(1)
    };
    let traces = read_tails(&answers.rows(tails), nk)?;
    trace_rules(&traces, o, cohorts, &suppressed, &mut list);
    tool_repeat_rule(&answers.rows(tool_repeats), nk, &suppressed, &mut list)?;
    let over = stuffing_condition(&answers.rows(token_bounds), nk)?;
    bucket_rules(&buckets, nk, o, current, &suppressed, &mut list)?;
    spend_rule(
        &answers.rows(spend),
        nk,
        o,
        current,
        cohorts,
        &suppressed,
        &mut list,
    )?;
    model_mix_rule(
        &answers.rows(model_mix),
        nk,
        current,
        cohorts,
        &suppressed,
        &mut list,
    )?;

    // pass 2: context stuffing, and the spans to open for rows without ids
    let mut pass2 = Batch::new();
    let mut stuffing = None;
    if let Some((cond, _)) = &over {
        stuffing = Some(pass2.ask(expand(
            engine,
            &cur,
            Template::AnomalyStuffing,
            &[("over", cond.clone()), ("limit", "10000".into())],
        )?));
    }
    let wanting: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].examples.is_some())
        .collect();
    let mut examples = Vec::with_capacity(wanting.len());
    for &i in &wanting {
        let (cond, order) = list[i].examples.clone().unwrap_or_default();
        examples.push((
            i,
            pass2.ask(expand(
                engine,
                &all_kinds,
                Template::AnomalyExamples,
                &[("cond", cond), ("order", order)],
            )?),
        ));
    }
    // spend spikes list their cohort's costliest traces: fetched here when
    // only the outlying traces came back
    let spikes: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].kind == "spend_spike")
        .collect();
    let mut top_traces = Vec::with_capacity(spikes.len());
    for &i in &spikes {
        let q = expand(
            engine,
            &all_kinds,
            Template::AnomalyTopTraces,
            &[
                ("traces", traces_sql.as_param()),
                (
                    "cond",
                    format!(
                        "{} AND arm <> {}",
                        cohort_sql(&list[i].cohort),
                        quote(crate::engine::BASELINE)
                    ),
                ),
                ("limit", TOP_FETCH.to_string()),
            ],
        )?;
        top_traces.push((i, pass2.ask(q)));
    }
    if !pass2.is_empty() {
        let answers = pass2.run(engine)?;
        if let (Some((_, bounds)), Some(a)) = (&over, stuffing) {
            stuffing_rule(
                &answers.rows(a),
                nk,
                bounds,
                cohorts,
                &suppressed,
                &mut list,
            )?;
        }
        for (i, a) in examples {
            let r = answers.rows(a);
            let (t, s) = (r.strs("trace_id")?, r.strs("span_id")?);
            list[i].ids = (0..r.len()).map(|k| Open::span(&t[k], &s[k])).collect();
        }
        for (i, a) in top_traces {
            let r = answers.rows(a);
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
            list[i].ids = top
                .into_iter()
                .take(IDS)
                .map(|(_, t)| Open::trace(t))
                .collect();
        }
    }

    // who caused them, strongest first (a silence empties its whole
    // cohort: no value of another dimension holds more of it than its share)
    let mut order: Vec<usize> = (0..list.len())
        .filter(|&i| {
            matches!(list[i].kind, "error_burst" | "spend_spike") || list[i].focus.is_some()
        })
        .collect();
    order.sort_by(|&a, &b| list[b].strength.total_cmp(&list[a].strength));
    for &i in order.iter().take(explain::EXPLAINED) {
        let a = &list[i];
        list[i].cause = if let Some(f) = &a.focus {
            let ask = Ask::spans(&a.cohort, o.baseline, current, f.hits.clone());
            if f.change {
                // the model that gained is what moved, not who moved it
                explain::shift(engine, &cur, &ask, &["model", "provider"], &f.noun)
            } else {
                explain::focus(engine, &cur, &ask, &[], &f.noun)
            }
        } else if a.kind == "error_burst" {
            // the hour as the burst counted it: inside the report window
            let hour = Window {
                start_ns: a.time_ns.max(current.start_ns),
                end_ns: (a.time_ns + HOUR_NS).min(current.end_ns),
            };
            explain::errors(engine, &cur, &a.cohort, hour, o.baseline)
        } else {
            explain::spend(
                engine,
                &cur,
                &a.cohort,
                (current, o.baseline),
                &o.cost,
                &res,
            )
        }
        // a cause is extra: an engine refusing its queries (a row cap on
        // a high-cardinality dimension) leaves the finding without one
        .unwrap_or(None);
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
            explain::COLUMNS[0],
            explain::COLUMNS[1],
            explain::COLUMNS[2],
            explain::COLUMNS[3],
            ("open", Unit::List),
        ],
    )
    .wide(&[
        "score",
        "cause",
        "cause_field",
        "cause_value",
        "cause_share",
    ])
    .drop_first(&["detail", "expected", "time"]);
    t.footnote = Some(
        "score: -log10 p (more outliers past the baseline p99 or context stuffing than chance, \
         error bursts), x the baseline's largest (one value past twice it), LLM calls (loops), x daily mean (spend), total variation (model mix), expected spans \
         (silence). Critical: at least twice the rule's threshold. cause: the value of a dimension \
         (model, tenant, route, ...) holding most of an error burst, a spend increase, an \
         outlier's or a loop's spans, or of a model's gain in the mix. open: \
         trace_id[/span_id]."
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
        ]);
        row.extend(explain::cells(a.cause.as_ref()));
        row.push(Cell::List(a.ids.iter().map(Open::shown).collect()));
        t.push(row);
        t.row_units.push(a.unit);
        let mut f = Finding::new(
            FindingKind::Anomaly,
            format!(
                "{}{} ({}) at {}: {}",
                who(&o.key_names, &a.cohort),
                a.kind,
                a.severity().as_str(),
                format::time_ns(a.time_ns),
                a.detail,
            ),
            a.strength,
        )
        .cohort(&o.key_names, &a.cohort)
        .metric(a.kind)
        .values(Some(a.observed), a.expected)
        .trace_ids(a.trace_ids());
        f.set_cause(a.cause.clone());
        findings.push(f);
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

/// A per-trace metric of the tail rules: its anomaly kind, value, unit,
/// column prefix in anomaly_trace_tails, and what its values are called.
struct Metric {
    kind: &'static str,
    get: fn(&TraceRow) -> Option<f64>,
    unit: Unit,
    col: &'static str,
    what: &'static str,
}

const METRICS: [Metric; 4] = [
    Metric {
        kind: "cost_outlier",
        get: |t| t.cost,
        unit: Unit::Usd,
        col: "cost",
        what: "cost",
    },
    Metric {
        kind: "token_outlier",
        get: |t| Some(t.tokens),
        unit: Unit::Tokens,
        col: "tokens",
        what: "tokens",
    },
    Metric {
        kind: "agent_loop",
        get: |t| Some(t.llm_calls),
        unit: Unit::Number,
        col: "calls",
        what: "LLM calls",
    },
    Metric {
        kind: "duration_outlier",
        get: |t| Some(t.duration_ms),
        unit: Unit::Ms,
        col: "duration",
        what: "duration",
    },
];
/// METRICS\[LOOPS\] is judged by the agent-loop rule, the others by the tail rule.
const LOOPS: usize = 2;

/// A cohort's baseline for one metric: how many values, their 99th
/// percentile and their largest.
#[derive(Clone, Copy, Debug)]
struct Base {
    n: u64,
    bound: f64,
    max: f64,
}

/// One cohort's current traces for the tail rules: per metric the values
/// counted and the baseline, and the traces past a bound or at the loop
/// floor.
#[derive(Debug, Default)]
struct TailSet {
    n: [u64; 4],
    base: [Option<Base>; 4],
    rows: Vec<TraceRow>,
}

/// Every cohort's [`TailSet`] from anomaly_trace_tails.
fn read_tails(r: &Rows, nk: usize) -> Result<BTreeMap<Vec<String>, TailSet>> {
    let keys = r.keys(nk)?;
    let (tr, st, cost, tok, calls, dur) = (
        r.strs("trace_id")?,
        r.i64s("start_ns")?,
        r.f64s("cost")?,
        r.f64s("tokens")?,
        r.f64s("llm_calls")?,
        r.f64s("duration_ms")?,
    );
    let mut cols = Vec::new();
    for m in &METRICS {
        cols.push((
            r.u64s(&format!("{}_n", m.col))?,
            r.u64s(&format!("{}_base", m.col))?,
            r.f64s(&format!("{}_bound", m.col))?,
            r.f64s(&format!("{}_max", m.col))?,
        ));
    }
    let mut out: BTreeMap<Vec<String>, TailSet> = BTreeMap::new();
    for i in 0..r.len() {
        let set = out.entry(keys[i].clone()).or_insert_with(|| TailSet {
            n: std::array::from_fn(|m| cols[m].0[i]),
            base: std::array::from_fn(|m| {
                let (_, n, bound, max) = &cols[m];
                match (bound[i], max[i]) {
                    (Some(bound), Some(max)) => Some(Base {
                        n: n[i],
                        bound,
                        max,
                    }),
                    _ => None,
                }
            }),
            rows: Vec::new(),
        });
        set.rows.push(TraceRow {
            trace: tr[i].clone().unwrap_or_default(),
            start_ns: st[i].unwrap_or(0),
            cost: cost[i],
            tokens: tok[i].unwrap_or(0.0),
            llm_calls: calls[i].unwrap_or(0.0),
            duration_ms: dur[i].unwrap_or(0.0),
        });
    }
    for v in out.values_mut() {
        v.rows.sort_by(|a, b| a.trace.cmp(&b.trace));
    }
    Ok(out)
}

/// How far past the baseline's largest value one value must be to be an
/// anomaly on its own.
const EXTREME: f64 = 2.0;

/// The verdict of a tail rule on one cohort.
#[derive(Debug, PartialEq)]
enum Tail {
    /// more values above the baseline's 99th percentile than chance allows
    /// ([`TAIL_SHARE`] of them are expected): the binomial p and the
    /// threshold it passed
    Burst { p: f64, alpha: f64 },
    /// a value above [`EXTREME`] times the baseline's largest: how many
    Extreme { count: usize },
}

impl Tail {
    /// The bound the finding's values passed: the baseline's p99, or
    /// [`EXTREME`] times its largest.
    fn bound(&self, base: &Base) -> f64 {
        match self {
            Tail::Burst { .. } => base.bound,
            Tail::Extreme { .. } => EXTREME * base.max,
        }
    }

    /// How many of the values (largest first) the finding opens: an
    /// extreme finding only its extreme ones.
    fn shown(&self) -> usize {
        match self {
            Tail::Burst { .. } => IDS,
            Tail::Extreme { count } => (*count).min(IDS),
        }
    }
}

/// The tail rules shared by the per-trace and per-span rules: `above` are
/// the current values above the baseline's 99th percentile, of `n`
/// current values; `tests` the cohorts (and metrics) judged. None when
/// nothing is anomalous, or the baseline is too small to tell.
fn judge_tail(above: &[f64], n: u64, base: &Base, tests: usize) -> Option<Tail> {
    if base.n < MIN_BASE || n == 0 {
        return None;
    }
    let k = above.len() as u64;
    let alpha = ALPHA / tests.max(1) as f64;
    // the baseline's own values above its p99 (type 7: floor(0.01 (n - 1))
    // without ties): Fisher's exact test carries the uncertainty of a p99
    // estimated from a small baseline, which a fixed 1% would not
    let base_above = ((base.n - 1) as f64 * TAIL_SHARE).floor() as u64;
    let p = fisher_greater(k, n, base_above, base.n);
    if k >= MIN_OVER && p < alpha {
        return Some(Tail::Burst { p, alpha });
    }
    if base.max <= 0.0 {
        return None;
    }
    let count = above.iter().filter(|v| **v > EXTREME * base.max).count();
    (count > 0).then_some(Tail::Extreme { count })
}

/// The score of a test (-log10 p) and its strength (the score over the
/// score at the threshold: 1 at the threshold, 2 at its square).
fn p_score(p: f64, alpha: f64) -> (f64, f64) {
    let score = -p.max(f64::MIN_POSITIVE).log10();
    (score, score / -alpha.log10())
}

/// The tail rules on cost, tokens and duration per trace (more traces
/// above their cohort's baseline 99th percentile than chance allows: one
/// row per cohort and metric) and agent loops (traces with at least the
/// floor of LLM calls and above the baseline's 99th percentile of calls).
fn trace_rules(
    traces: &BTreeMap<Vec<String>, TailSet>,
    o: &AnomalyOptions,
    cohorts: usize,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) {
    let tests = cohorts * (METRICS.len() - 1);
    for (cohort, set) in traces {
        for (m, metric) in METRICS.iter().enumerate() {
            let base = set.base[m];
            let mut hits: Vec<(f64, &TraceRow)> = set
                .rows
                .iter()
                .filter(|t| !suppressed(cohort, t.start_ns))
                .filter_map(|t| (metric.get)(t).map(|v| (v, t)))
                .filter(|(v, _)| {
                    if m == LOOPS {
                        *v >= o.loop_floor as f64 && base.is_none_or(|b| *v > b.bound)
                    } else {
                        base.is_some_and(|b| *v > b.bound)
                    }
                })
                .collect();
            if hits.is_empty() {
                continue;
            }
            hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.trace.cmp(&b.1.trace)));
            let (v, top) = hits[0];
            let mut ids: Vec<Open> = hits
                .iter()
                .take(IDS)
                .map(|h| Open::trace(h.1.trace.clone()))
                .collect();
            let k = hits.len() as u64;
            if m == LOOPS {
                let floor = o.loop_floor.max(1) as f64;
                list.push(Anomaly {
                    kind: metric.kind,
                    cohort: cohort.clone(),
                    time_ns: top.start_ns,
                    observed: v,
                    expected: base.map(|b| b.bound),
                    score: v,
                    strength: v / floor,
                    unit: metric.unit,
                    detail: format!(
                        "{k} trace(s) made at least {} LLM calls{}; the largest made {}",
                        o.loop_floor,
                        base.map(|b| format!(
                            ", above the baseline's p99 ({})",
                            format::number(b.bound)
                        ))
                        .unwrap_or_default(),
                        format::number(v)
                    ),
                    ids,
                    examples: None,
                    cause: None,
                    focus: (hits.len() >= explain::MIN_TRACES)
                        .then(|| {
                            Focus::held(
                                format!(
                                    "trace_id IN ({})",
                                    hits.iter()
                                        .take(FOCUS_TRACES)
                                        .map(|h| quote(&h.1.trace))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                                "LLM spans of its traces",
                            )
                        })
                        .flatten(),
                });
                continue;
            }
            let Some(base) = base else { continue };
            let n = set.n[m];
            let above: Vec<f64> = hits.iter().map(|h| h.0).collect();
            let Some(tail) = judge_tail(&above, n, &base, tests) else {
                continue;
            };
            let show = |x: f64| match metric.unit {
                Unit::Usd => format::usd(x),
                Unit::Ms => format!("{} ms", format::number(x)),
                _ => format::number(x),
            };
            let (score, strength, detail) =
                tail_terms(&tail, k, n, "traces", &base, v, metric.what, &show);
            ids.truncate(tail.shown());
            let expected = tail.bound(&base);
            // the finding's traces (its extreme ones, or all past the p99)
            let own: Vec<String> = hits
                .iter()
                .filter(|h| h.0 > expected)
                .take(FOCUS_TRACES)
                .map(|h| quote(&h.1.trace))
                .collect();
            // one or two traces are themselves, not a pattern of anyone's
            let focus = (own.len() >= explain::MIN_TRACES)
                .then(|| {
                    Focus::held(
                        format!("trace_id IN ({})", own.join(", ")),
                        "LLM spans of its traces",
                    )
                })
                .flatten();
            list.push(Anomaly {
                kind: metric.kind,
                cohort: cohort.clone(),
                time_ns: top.start_ns,
                observed: v,
                expected: Some(expected),
                score,
                strength,
                unit: metric.unit,
                detail,
                ids,
                examples: None,
                cause: None,
                focus,
            });
        }
    }
}

/// Score, strength and detail of a tail finding: `k` of `n` `noun`
/// (traces, LLM spans) above the bound, the largest `v`.
#[allow(clippy::too_many_arguments)]
fn tail_terms(
    tail: &Tail,
    k: u64,
    n: u64,
    noun: &str,
    base: &Base,
    v: f64,
    what: &str,
    show: &dyn Fn(f64) -> String,
) -> (f64, f64, String) {
    match *tail {
        Tail::Burst { p, alpha } => {
            let (score, strength) = p_score(p, alpha);
            let detail = format!(
                "{k} of {n} {noun} above the baseline's p99 {what} ({}), {:.1} expected (p {}); the largest {}",
                show(base.bound),
                n as f64 * TAIL_SHARE,
                format::stat(p),
                show(v)
            );
            (score, strength, detail)
        }
        Tail::Extreme { count } => {
            let ratio = v / base.max;
            let detail = format!(
                "{count} of {n} {noun} above {EXTREME}x the baseline's largest {what} ({}); the largest {} ({ratio:.1}x)",
                show(base.max),
                show(v)
            );
            (ratio, ratio / EXTREME, detail)
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
    type Run = (usize, String, i64, Open);
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
                    Open::span(&tr[*k], &sp[*k]),
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
            cause: None,
            focus: None,
        });
    }
    Ok(())
}

/// A cohort's tokens per LLM span: the baseline's count and 99th
/// percentile, the current window's count and median.
#[derive(Clone, Copy, Debug)]
struct TokenBound {
    base: Base,
    n: u64,
    median: f64,
}

impl Default for TokenBound {
    fn default() -> Self {
        TokenBound {
            base: Base {
                n: 0,
                bound: f64::NAN,
                max: f64::NAN,
            },
            n: 0,
            median: f64::NAN,
        }
    }
}
type Bounds = BTreeMap<Vec<String>, TokenBound>;

/// From anomaly_token_bounds: the per-cohort SQL condition `tok > bound`
/// (cohorts whose baseline has enough spans and some current ones) and the
/// figures, or None when no cohort can be judged.
fn stuffing_condition(r: &Rows, nk: usize) -> Result<Option<(String, Bounds)>> {
    let (keys, base) = (r.keys(nk)?, r.is_baseline()?);
    let (n, med, bound) = (r.u64s("n")?, r.f64s("median")?, r.f64s("bound")?);
    let top = r.f64s("top")?;
    let mut all = Bounds::new();
    for i in 0..r.len() {
        let e = all.entry(keys[i].clone()).or_default();
        if base[i] {
            e.base = Base {
                n: n[i],
                bound: bound[i].unwrap_or(f64::NAN),
                max: top[i].unwrap_or(f64::NAN),
            };
        } else {
            e.n = n[i];
            e.median = med[i].unwrap_or(f64::NAN);
        }
    }
    all.retain(|_, b| b.base.n >= MIN_BASE && b.n > 0 && b.base.bound.is_finite());
    let parts: Vec<String> = all
        .iter()
        .map(|(k, b)| format!("({} AND tok > {:?})", cohort_sql(k), b.base.bound))
        .collect();
    Ok((!parts.is_empty()).then(|| (parts.join(" OR "), all)))
}

/// Context stuffing: more LLM spans above their cohort's baseline 99th
/// percentile of tokens than chance allows (the tail test).
fn stuffing_rule(
    r: &Rows,
    nk: usize,
    bounds: &Bounds,
    cohorts: usize,
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
        let Some(b) = bounds.get(&cohort) else {
            continue;
        };
        let above: Vec<f64> = idx.iter().map(|&i| tok[i].unwrap_or(0.0)).collect();
        let Some(tail) = judge_tail(&above, b.n, &b.base, cohorts) else {
            continue;
        };
        let top = idx[0];
        let v = above[0];
        let shown = tail.shown();
        let (score, strength, detail) = tail_terms(
            &tail,
            idx.len() as u64,
            b.n,
            "LLM spans",
            &b.base,
            v,
            "tokens per span",
            &|x| format::number(x),
        );
        let expected = tail.bound(&b.base);
        let focus = Focus::held(
            format!("COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) > {expected:?}"),
            "LLM spans above the bound",
        );
        list.push(Anomaly {
            kind: "context_stuffing",
            cohort,
            time_ns: st[top].unwrap_or(0),
            observed: v,
            expected: Some(expected),
            score,
            strength,
            unit: Unit::Tokens,
            detail: format!(
                "{}{detail}{}",
                if capped { ">= " } else { "" },
                if b.median > 0.0 {
                    format!(", {:.1}x today's median", v / b.median)
                } else {
                    String::new()
                }
            ),
            ids: idx
                .iter()
                .take(shown)
                .map(|&i| Open::span(&tr[i], &sp[i]))
                .collect(),
            examples: None,
            cause: None,
            focus,
        });
    }
    Ok(())
}

/// An error burst needs this many errors in its hour.
const MIN_ERRORS: u64 = 3;
/// A silence must last this long and the baseline see this many spans in it.
const SILENCE_MIN: f64 = 15.0;
const SILENCE_SPANS: f64 = 10.0;

/// Error bursts (hourly, current window, binomial tail against the
/// baseline rate with a uniform prior, Bonferroni over the hours tested)
/// and silences (judged by how often the baseline saw those times of day
/// busy).
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
    let day = crate::window::NS_PER_DAY;
    let slots = (day / BUCKET_NS) as usize;
    let mut baseline: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    // per cohort and 5-minute slot of the day in the baseline: the spans,
    // and the days on which the slot saw any
    let mut by_slot: BTreeMap<Vec<String>, Vec<(u64, u64)>> = BTreeMap::new();
    let mut hours: BTreeMap<(Vec<String>, i64), (u64, u64)> = BTreeMap::new();
    let mut busy: BTreeMap<Vec<String>, BTreeSet<i64>> = BTreeMap::new();
    for i in 0..r.len() {
        let ts = t[i].unwrap_or(0);
        if base[i] {
            let b = baseline.entry(keys[i].clone()).or_default();
            b.0 += n[i];
            b.1 += e[i];
            let v = by_slot
                .entry(keys[i].clone())
                .or_insert_with(|| vec![(0, 0); slots]);
            let slot = &mut v[(ts.rem_euclid(day) / BUCKET_NS) as usize];
            slot.0 += n[i];
            slot.1 += 1;
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
    let alpha = ALPHA / tested;
    for ((cohort, hour), (n, errs)) in &hours {
        let Some((bn, be)) = baseline.get(cohort) else {
            continue;
        };
        if *errs < MIN_ERRORS || suppressed(cohort, *hour) {
            continue;
        }
        // a baseline without errors is not a zero rate: (errors + 1) / (spans + 2)
        let p0 = (*be as f64 + 1.0) / (*bn as f64 + 2.0);
        let rate = *errs as f64 / *n as f64;
        let p = binomial_tail(*errs, *n, p0);
        if p < alpha && rate >= 0.02 {
            let (score, strength) = p_score(p, alpha);
            list.push(Anomaly {
                kind: "error_burst",
                cohort: cohort.clone(),
                time_ns: *hour,
                observed: rate,
                expected: Some(p0),
                score,
                strength,
                unit: Unit::Share,
                detail: format!(
                    "{errs} errors in {n} spans this hour vs {} baseline (p {})",
                    format::pct(Some(*be as f64 / (*bn).max(1) as f64)),
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
                cause: None,
                focus: None,
            });
        }
    }
    // silence: an empty stretch of >= 15 minutes that the baseline makes
    // unlikely. Spans come in traces and traces in bursts, so a count of
    // spans overstates what an empty stretch says; what the baseline says
    // is how often each 5-minute slot of the day was busy. The chance that
    // every bucket of the stretch is empty is the product over its buckets
    // of (1 - busy days / (baseline days + 1)) (the +1: a slot busy every
    // baseline day may still be empty one day).
    let base_days = (o.baseline.end_ns - o.baseline.start_ns) as f64 / day as f64;
    // whole days: a slot is seen busy on at most that many (a baseline
    // shorter than a day says nothing of the times of day)
    let whole = base_days.floor();
    if whole < 1.0 {
        return Ok(());
    }
    let buckets_per_day = slots as f64;
    let alpha = ALPHA / (by_slot.len().max(1) as f64 * buckets_per_day);
    let first = current.start_ns - current.start_ns.rem_euclid(BUCKET_NS);
    for (cohort, slot) in &by_slot {
        // the chance of [from, to) being empty, and the spans the baseline
        // expects there (whole or part buckets)
        let judge = |from: i64, to: i64| -> (f64, f64) {
            let (mut p, mut spans) = (1.0, 0.0);
            let mut b = from - from.rem_euclid(BUCKET_NS);
            while b < to {
                let part = (to.min(b + BUCKET_NS) - from.max(b)) as f64 / BUCKET_NS as f64;
                let (n, busy) = slot[(b.rem_euclid(day) / BUCKET_NS) as usize];
                spans += part * n as f64 / base_days;
                let busy = (busy as f64).min(whole) / (whole + 1.0);
                p *= (1.0 - busy).powf(part);
                b += BUCKET_NS;
            }
            (p, spans)
        };
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
            let (p, expected) = judge(start, stop);
            if minutes >= SILENCE_MIN
                && expected >= SILENCE_SPANS
                && p < alpha
                && !suppressed(cohort, start)
            {
                let (score, strength) = p_score(p, alpha);
                list.push(Anomaly {
                    kind: "silence",
                    cohort: cohort.clone(),
                    time_ns: start,
                    observed: 0.0,
                    expected: Some(expected),
                    score,
                    strength,
                    unit: Unit::Number,
                    detail: format!(
                        "no spans for {minutes:.0} min (until {}); the baseline sees {expected:.0} at those hours, and so long a gap there with chance {}",
                        format::time_ns(stop),
                        format::stat(p)
                    ),
                    ids: Vec::new(),
                    examples: None,
                    cause: None,
                    focus: None,
                });
            }
            b = end;
        }
    }
    Ok(())
}

/// A spend spike or a model-mix change needs this many traces in each window.
const MIN_SPANS: u64 = 100;
/// A spend spike is at least this many times the baseline's daily mean.
const SPIKE_RATIO: f64 = 1.5;
/// A model-mix change moves at least this much of the traffic.
const MIX_TVD: f64 = 0.2;

/// Spend spike: the current window's daily cost at least 1.5x the
/// baseline's daily mean (the trailing 7 days by default), and beyond what
/// chance allows: under the baseline, a day's spend is a compound Poisson
/// sum (its priced traces per day, each costing like a baseline trace),
/// whose variance is the daily trace rate times the mean squared trace
/// cost.
fn spend_rule(
    r: &Rows,
    nk: usize,
    o: &AnomalyOptions,
    current: Window,
    cohorts: usize,
    suppressed: &dyn Fn(&[String], i64) -> bool,
    list: &mut Vec<Anomaly>,
) -> Result<()> {
    let (keys, base, usd) = (r.keys(nk)?, r.is_baseline()?, r.f64s("usd")?);
    let (priced, usd2) = (r.u64s("priced")?, r.f64s("usd2")?);
    // per cohort: (baseline usd, usd2, priced), (current usd, priced)
    type Spend = ((f64, f64, u64), (f64, u64));
    let mut per: BTreeMap<Vec<String>, Spend> = BTreeMap::new();
    for i in 0..r.len() {
        let e = per.entry(keys[i].clone()).or_default();
        let v = super::settle(usd[i].unwrap_or(0.0));
        if base[i] {
            e.0 = (v, usd2[i].unwrap_or(0.0), priced[i]);
        } else {
            e.1 = (v, priced[i]);
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
    let alpha = ALPHA / cohorts.max(1) as f64;
    for (cohort, ((b, b2, bn), (c, cn))) in per {
        let (bdaily, cdaily) = (b / bd, c / cd);
        if bn < MIN_SPANS
            || cn < MIN_SPANS
            || bdaily <= 0.0
            || cdaily < SPIKE_RATIO * bdaily
            || suppressed(&cohort, current.start_ns)
        {
            continue;
        }
        // the current daily mean's spread under the baseline
        let sd = ((bn as f64 / bd) * (b2 / bn as f64) / cd).sqrt();
        let z = (cdaily - bdaily) / sd;
        let p = crate::stats::hypothesis::normal_sf(z);
        // (a NaN p, from a baseline without spread, is no evidence)
        if p.is_nan() || p >= alpha {
            continue;
        }
        let ratio = cdaily / bdaily;
        list.push(Anomaly {
            kind: "spend_spike",
            cohort,
            time_ns: current.start_ns,
            observed: cdaily,
            expected: Some(bdaily),
            score: ratio,
            // the increase over the threshold's: +50% at 1, double at 2
            // (critical)
            strength: (ratio - 1.0) / (SPIKE_RATIO - 1.0),
            unit: Unit::Usd,
            detail: format!(
                "{} per day vs {} baseline daily mean ({ratio:.1}x, p {}); the costliest traces listed",
                format::usd(cdaily),
                format::usd(bdaily),
                format::stat(p)
            ),
            ids: Vec::new(),
            examples: None,
            cause: None,
            focus: None,
        });
    }
    Ok(())
}

/// Model mix change: the response models' shares of traces moved (total
/// variation distance above 0.2) and a chi-squared test of homogeneity
/// says it is not chance (each window needs 100 traces).
fn model_mix_rule(
    r: &Rows,
    nk: usize,
    current: Window,
    cohorts: usize,
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
    let alpha = ALPHA / cohorts.max(1) as f64;
    for (cohort, (b, c)) in per {
        let (nb, nc): (u64, u64) = (b.values().sum(), c.values().sum());
        if nb < MIN_SPANS || nc < MIN_SPANS || suppressed(&cohort, current.start_ns) {
            continue;
        }
        let models: BTreeSet<&String> = b.keys().chain(c.keys()).collect();
        let count = |m: &BTreeMap<String, u64>, k: &String| m.get(k).copied().unwrap_or(0);
        let p: Vec<f64> = models
            .iter()
            .map(|k| count(&b, k) as f64 / nb as f64)
            .collect();
        let q: Vec<f64> = models
            .iter()
            .map(|k| count(&c, k) as f64 / nc as f64)
            .collect();
        let tvd = total_variation(&p, &q);
        let bc: Vec<u64> = models.iter().map(|k| count(&b, k)).collect();
        let cc: Vec<u64> = models.iter().map(|k| count(&c, k)).collect();
        let Some(chi) = crate::stats::drift::chi2_homogeneity(&bc, &cc) else {
            continue;
        };
        if tvd <= MIX_TVD || chi.p.is_nan() || chi.p >= alpha {
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
            expected: Some(MIX_TVD),
            score: tvd,
            strength: tvd / MIX_TVD,
            unit: Unit::Number,
            detail: format!(
                "response models moved (total variation {tvd:.2}, chi-squared p {}); {model} gained {}",
                format::stat(chi.p),
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
            cause: None,
            focus: Some(Focus {
                hits: format!("CAST(response_model AS VARCHAR) = {}", quote(&model)),
                noun: format!("spans answered by {model}"),
                change: true,
            }),
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
            let at = |name: &str| t.columns.iter().position(|c| c.name == name);
            let (Some(verdict), Some(metric_col)) = (at("verdict"), at("metric")) else {
                return Err(crate::error::Error::internal(
                    "the compare table has no verdict or metric column",
                ));
            };
            for row in &t.rows {
                let text = |c: &Cell| match c {
                    Cell::Text(s) => s.clone(),
                    _ => String::new(),
                };
                if text(&row[verdict]) == "regressed" {
                    let cohort: Vec<String> = row[..nk].iter().map(text).collect();
                    let metric = text(&row[metric_col]);
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
                cause: None,
                focus: None,
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
