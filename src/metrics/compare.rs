//! `spanlens compare`: a baseline arm against a candidate arm per cohort
//! and metric, with the tests, intervals and gate of docs/statistics.md
//! ("Regression comparison"). The engine returns counts and value
//! histograms per cohort and arm in one pass; the statistics are computed
//! here (tests in `stats::hypothesis`, intervals in `stats::bootstrap`).

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::cost::{self, CostOptions};
use super::explain::{self, Ask};
use super::{cohort_phase, expand, expand_field, key_order, who, Batch, Rows};
use crate::engine::template::Template;
use crate::engine::{Arm, Arms, Condition, Engine, Key, PercentileMethod, Scope, OTHER};
use crate::error::{Error, Result};
use crate::report::format;
use crate::report::model::{Cell, Finding, FindingKind, Report, Table, Unit};
use crate::stats::bootstrap::{self, Sample, Statistic, REPLICATES};
use crate::stats::hypothesis::{holm, mann_whitney_greater, newcombe_diff, rate_greater};
use crate::stats::quantile::bucket_value;

/// Default family-wise alpha of the gate.
pub const ALPHA: f64 = 0.05;
/// Default bootstrap seed.
pub const SEED: u64 = 42;

/// What a metric measures and which direction is worse.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Measure {
    /// share of spans (or judged evaluations) with a bad outcome; `pass`
    /// rates show the good share
    Rate { good_is_shown: bool },
    /// a statistic of a per-span or per-trace distribution; higher is worse
    Dist {
        histogram: &'static str,
        stat: Statistic,
    },
}

/// A metric of the gate.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    pub name: &'static str,
    measure: Measure,
    /// rates: absolute share; distributions: relative to the baseline
    pub min_effect: f64,
    /// fewer per arm: inconclusive (docs/statistics.md)
    pub min_n: u64,
    unit: Unit,
}

/// Every metric, in output order, with the defaults of docs/statistics.md
/// (pass rate -2 pp, error rate +1 pp, p95 +10%, mean cost +10%; the
/// others by analogy: refusal +1 pp, p50 and tokens +10%).
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "pass_rate",
        measure: Measure::Rate {
            good_is_shown: true,
        },
        min_effect: 0.02,
        min_n: 30,
        unit: Unit::Share,
    },
    MetricDef {
        name: "error_rate",
        measure: Measure::Rate {
            good_is_shown: false,
        },
        min_effect: 0.01,
        min_n: 30,
        unit: Unit::Share,
    },
    MetricDef {
        name: "refusal_rate",
        measure: Measure::Rate {
            good_is_shown: false,
        },
        min_effect: 0.01,
        min_n: 30,
        unit: Unit::Share,
    },
    MetricDef {
        name: "latency_p50",
        measure: Measure::Dist {
            histogram: "latency_ms",
            stat: Statistic::Quantile(0.5),
        },
        min_effect: 0.10,
        min_n: 30,
        unit: Unit::Ms,
    },
    MetricDef {
        name: "latency_p95",
        measure: Measure::Dist {
            histogram: "latency_ms",
            stat: Statistic::Quantile(0.95),
        },
        min_effect: 0.10,
        min_n: 400,
        unit: Unit::Ms,
    },
    MetricDef {
        name: "ttft_p50",
        measure: Measure::Dist {
            histogram: "ttft_ms",
            stat: Statistic::Quantile(0.5),
        },
        min_effect: 0.10,
        min_n: 30,
        unit: Unit::Ms,
    },
    MetricDef {
        name: "ttft_p95",
        measure: Measure::Dist {
            histogram: "ttft_ms",
            stat: Statistic::Quantile(0.95),
        },
        min_effect: 0.10,
        min_n: 400,
        unit: Unit::Ms,
    },
    MetricDef {
        name: "cost_mean",
        measure: Measure::Dist {
            histogram: "cost_per_trace",
            stat: Statistic::Mean,
        },
        min_effect: 0.10,
        min_n: 30,
        unit: Unit::Usd,
    },
    MetricDef {
        name: "cost_p95",
        measure: Measure::Dist {
            histogram: "cost_per_trace",
            stat: Statistic::Quantile(0.95),
        },
        min_effect: 0.10,
        min_n: 400,
        unit: Unit::Usd,
    },
    MetricDef {
        name: "input_tokens",
        measure: Measure::Dist {
            histogram: "input_tokens",
            stat: Statistic::Mean,
        },
        min_effect: 0.10,
        min_n: 30,
        unit: Unit::Tokens,
    },
    MetricDef {
        name: "output_tokens",
        measure: Measure::Dist {
            histogram: "output_tokens",
            stat: Statistic::Mean,
        },
        min_effect: 0.10,
        min_n: 30,
        unit: Unit::Tokens,
    },
];

impl MetricDef {
    /// The spans that make the metric worse than the baseline arm's value
    /// `base`, in SQL over span columns, and their name: what a
    /// regression's attribution counts (None: a metric of evaluations or of
    /// traces' costs, which are not span columns). Errors are not laid at
    /// their own error type: see [`explain::same_as`].
    fn worse_spans(&self, base: f64) -> Option<(String, String)> {
        let above = |col: &str, what: String| {
            Some((
                format!("{col} > {base:?}"),
                format!("spans with {col} above {what}"),
            ))
        };
        let shown = format::number(base);
        match self.name {
            "error_rate" => Some((explain::ERROR.into(), "errors".into())),
            "latency_p50" => above("duration_ms", format!("the baseline's p50 ({shown} ms)")),
            "latency_p95" => above("duration_ms", format!("the baseline's p95 ({shown} ms)")),
            "ttft_p50" => above("ttft_ms", format!("the baseline's p50 ({shown} ms)")),
            "ttft_p95" => above("ttft_ms", format!("the baseline's p95 ({shown} ms)")),
            "input_tokens" | "output_tokens" => {
                above(self.name, format!("the baseline's mean ({shown})"))
            }
            _ => None,
        }
    }
}

/// One cohort's arm as conditions (a per-cohort arm picks the cohort's own
/// value; None: the cohort has none).
fn cohort_arm(arm: &Arm, cohort: &[String]) -> Option<Arm> {
    match arm {
        Arm::PerCohort { field, values } => {
            let (_, v) = values.iter().find(|(k, _)| k.as_slice() == cohort)?;
            Some(Arm::Where(vec![Condition {
                key: field.clone(),
                negate: false,
                values: vec![v.clone()],
            }]))
        }
        a => Some(a.clone()),
    }
}

/// The fields an arm is chosen by (what the arms are, not who caused a
/// change between them).
fn arm_keys(arm: &Arm) -> Vec<&Key> {
    match arm {
        Arm::Window(_) => Vec::new(),
        Arm::Where(c) => c.iter().map(|c| &c.key).collect(),
        Arm::PerCohort { field, .. } => vec![field],
    }
}

pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// How the arms are chosen.
#[derive(Clone, Debug)]
pub enum ArmsSpec {
    /// two windows or two span selections
    Fixed(Arms),
    /// per cohort: the newest value of `field` (by first appearance) against
    /// `baseline` when given, else against the value before it
    Latest {
        field: Key,
        baseline: Option<Vec<Condition>>,
        /// no span with the field: a note (the nightly report) instead of an error
        missing_ok: bool,
    },
}

pub struct CompareOptions {
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub arms: ArmsSpec,
    /// the metrics shown and gated, in METRICS order
    pub metrics: Vec<&'static MetricDef>,
    pub alpha: f64,
    /// metric -> minimum effect, over the defaults
    pub min_effect: BTreeMap<String, f64>,
    pub seed: u64,
    pub cost: CostOptions,
}

impl CompareOptions {
    fn min_effect(&self, m: &MetricDef) -> f64 {
        self.min_effect.get(m.name).copied().unwrap_or(m.min_effect)
    }
}

/// What the engine returned for one cohort and arm.
#[derive(Default, Clone, Debug)]
struct ArmData {
    spans: u64,
    errors: u64,
    refusals: u64,
    /// evaluation -> (passed, judged)
    evals: BTreeMap<String, (u64, u64)>,
    /// histogram name -> (value, count), as read
    hists: BTreeMap<String, Vec<(f64, u64)>>,
    /// the same histograms sorted, built once for tests and bootstrap
    samples: BTreeMap<String, Sample>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Regressed,
    Inconclusive,
    Improved,
    Pass,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Improved => "improved",
            Verdict::Pass => "pass",
        }
    }
}

/// One (cohort, metric) comparison before the Holm step.
#[derive(Clone, Debug)]
struct Row {
    cohort: Vec<String>,
    metric: String,
    def: &'static MetricDef,
    n: (u64, u64),
    value: (Option<f64>, Option<f64>),
    delta: Option<f64>,
    rel: Option<f64>,
    ci: Option<(f64, f64)>,
    /// one-sided p toward worse; None: not tested
    p: Option<f64>,
    /// one-sided p toward better
    p_better: Option<f64>,
    worse: bool,
    /// the effect is past the minimum in the direction it moved
    large: bool,
    test: &'static str,
    p_holm: Option<f64>,
    verdict: Verdict,
}

/// A stable 64-bit FNV-1a hash (seeds per cohort and metric).
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

pub fn run(engine: &mut dyn Engine, mut scope: Scope, o: &CompareOptions) -> Result<Report> {
    let mut notes = Vec::new();
    let mut tables = Vec::new();
    match &o.arms {
        ArmsSpec::Fixed(a) => {
            scope.set_arms(a.clone());
            cohort_phase(engine, &mut scope, o.min_count, o.top)?;
        }
        ArmsSpec::Latest {
            field,
            baseline,
            missing_ok,
        } => {
            cohort_phase(engine, &mut scope, o.min_count, o.top)?;
            let (arms, t) = latest_arms(
                engine,
                &scope,
                field,
                baseline.as_deref(),
                *missing_ok,
                o,
                &mut notes,
            )?;
            scope.arms = Some(arms);
            tables.push(t);
        }
    }

    // one pass: counts, evals, value histograms, cost per trace
    let mut cs = scope.clone();
    cs.kind = o.cost.kind.clone();
    let want_cost = o.metrics.iter().any(|m| {
        matches!(
            m.measure,
            Measure::Dist {
                histogram: "cost_per_trace",
                ..
            }
        )
    });
    let mut batch = Batch::new();
    let counts = batch.ask(expand(engine, &scope, Template::SloCounts, &[])?);
    let evals = batch.ask(expand(engine, &scope, Template::SloEvals, &[])?);
    let values = batch.ask(expand(engine, &scope, Template::CompareValues, &[])?);
    let mut trace_costs = None;
    if want_cost {
        let res = cost::resolve(engine, &cs, &o.cost)?;
        let tc = cost::trace_costs_with(engine, &cs, &o.cost, &res)?;
        trace_costs = Some(batch.ask(expand(
            engine,
            &cs,
            Template::CostTraceHistograms,
            &[("trace_costs", tc)],
        )?));
    }
    let answers = {
        let _t = crate::timing::phase("engine");
        batch.run(engine)?
    };
    let nk = scope.keys.len();
    let log = engine.percentiles() == PercentileMethod::LogBucket;
    let mut data: BTreeMap<Vec<String>, (ArmData, ArmData)> = BTreeMap::new();
    {
        let r = answers.rows(counts);
        let (keys, base) = (r.keys(nk)?, r.is_baseline()?);
        let (sp, er, rf) = (r.u64s("spans")?, r.u64s("errors")?, r.u64s("refusals")?);
        for i in 0..r.len() {
            let e = data.entry(keys[i].clone()).or_default();
            let a = if base[i] { &mut e.0 } else { &mut e.1 };
            a.spans += sp[i];
            a.errors += er[i];
            a.refusals += rf[i];
        }
    }
    let need_both = match &o.arms {
        ArmsSpec::Fixed(_) => true,
        ArmsSpec::Latest { missing_ok, .. } => !missing_ok,
    };
    if need_both {
        let (b, c) = data
            .values()
            .fold((0, 0), |acc, (x, y)| (acc.0 + x.spans, acc.1 + y.spans));
        if b == 0 || c == 0 {
            return Err(empty_arm(engine, &scope, b == 0, c == 0)?);
        }
    }
    {
        let r = answers.rows(evals);
        let (keys, base) = (r.keys(nk)?, r.is_baseline()?);
        let (ev, pa, ju) = (r.strs("evaluation")?, r.u64s("passed")?, r.u64s("judged")?);
        for i in 0..r.len() {
            let e = data.entry(keys[i].clone()).or_default();
            let a = if base[i] { &mut e.0 } else { &mut e.1 };
            let x = a
                .evals
                .entry(ev[i].clone().unwrap_or_default())
                .or_default();
            x.0 += pa[i];
            x.1 += ju[i];
        }
    }
    let mut read_hist = |df: &polars::prelude::DataFrame,
                         what: &str,
                         name_col: Option<&str>,
                         value_col: &str|
     -> Result<()> {
        let r = Rows::new(df, what);
        let (keys, base, n) = (r.keys(nk)?, r.is_baseline()?, r.u64s("n")?);
        let names = match name_col {
            Some(c) => r.strs(c)?,
            None => vec![Some("cost_per_trace".to_string()); r.len()],
        };
        // engine sums (cost per trace) differ in their last bits between
        // runs: settled so ties and outputs are the same every run
        let values: Vec<Option<f64>> = if log {
            r.i64s(value_col)?
                .into_iter()
                .map(|b| b.map(bucket_value))
                .collect()
        } else {
            r.f64s(value_col)?
                .into_iter()
                .map(|v| v.map(super::settle))
                .collect()
        };
        for i in 0..r.len() {
            let Some(v) = values[i] else { continue };
            let e = data.entry(keys[i].clone()).or_default();
            let a = if base[i] { &mut e.0 } else { &mut e.1 };
            a.hists
                .entry(names[i].clone().unwrap_or_default())
                .or_default()
                .push((v, n[i]));
        }
        Ok(())
    };
    read_hist(answers.frame(values), "compare_values", Some("metric"), "v")?;
    if let Some(a) = trace_costs {
        read_hist(answers.frame(a), "cost_trace_histograms", None, "b")?;
    }

    data.par_iter_mut().for_each(|(_, (b, c))| {
        for a in [b, c] {
            a.samples = std::mem::take(&mut a.hists)
                .into_iter()
                .map(|(k, v)| (k, Sample::new(&v)))
                .collect();
        }
    });

    // every (cohort, metric) comparison, bootstrap in parallel
    let mut tasks: Vec<(Vec<String>, String, &'static MetricDef)> = Vec::new();
    let mut cohorts: Vec<&Vec<String>> = data.keys().collect();
    cohorts.sort_by(|a, b| key_order(a, b));
    for c in &cohorts {
        let (b, k) = &data[*c];
        for m in &o.metrics {
            if m.name == "pass_rate" {
                let names: std::collections::BTreeSet<&String> =
                    b.evals.keys().chain(k.evals.keys()).collect();
                for e in names {
                    tasks.push(((*c).clone(), format!("pass_rate:{e}"), m));
                }
            } else {
                tasks.push(((*c).clone(), m.name.to_string(), m));
            }
        }
    }
    let mut rows: Vec<Row> = {
        let _t = crate::timing::phase("tests");
        tasks
            .par_iter()
            .filter_map(|(c, name, m)| compare_one(c, name, m, &data[c].0, &data[c].1, o))
            .collect()
    };
    {
        let _t = crate::timing::phase("bootstrap");
        rows.par_iter_mut().for_each(|r| {
            if let Measure::Dist { histogram, stat } = r.def.measure {
                let (b, k) = &data[&r.cohort];
                r.ci = bootstrap_ci(&r.cohort, &r.metric, histogram, stat, b, k, o.seed);
            }
        });
    }
    let tested = gate(&mut rows, o.alpha);

    let mut t = Table::with_keys(
        "compare",
        "Baseline vs candidate per cohort and metric",
        &o.key_names,
        &[
            ("metric", Unit::Text),
            ("n_baseline", Unit::Count),
            ("n_candidate", Unit::Count),
            ("baseline", Unit::PerRow),
            ("candidate", Unit::PerRow),
            ("delta", Unit::PerRow),
            ("delta_rel", Unit::Share),
            ("ci_low", Unit::PerRow),
            ("ci_high", Unit::PerRow),
            ("p", Unit::Stat),
            ("p_holm", Unit::Stat),
            ("test", Unit::Text),
            ("verdict", Unit::Text),
            explain::COLUMNS[0],
            explain::COLUMNS[1],
            explain::COLUMNS[2],
            explain::COLUMNS[3],
        ],
    )
    .wide(&[
        "n_baseline",
        "n_candidate",
        "p",
        "test",
        "cause",
        "cause_field",
        "cause_value",
        "cause_share",
    ])
    .drop_first(&["ci_low+ci_high", "delta", "p_holm", "delta_rel"]);
    t.footnote = Some(format!(
        "p: one-sided toward worse, p_holm: Holm-adjusted over every test; regressed: p_holm < {} \
         and the change past its minimum effect (improved: the same toward better); CI: Newcombe (rates) or bootstrap B = {REPLICATES} \
         (seed {}); inconclusive: too few samples (rates < 30, p95 < 400 per arm).",
        o.alpha, o.seed
    ));
    let mut findings = Vec::new();
    // regressions to attribute: (finding, table row, comparison)
    let mut to_explain: Vec<(usize, usize, &Row)> = Vec::new();
    let mut tally: BTreeMap<Verdict, usize> = BTreeMap::new();
    for r in &rows {
        *tally.entry(r.verdict).or_default() += 1;
        let mut row: Vec<Cell> = r.cohort.iter().map(|k| Cell::text(k.clone())).collect();
        row.extend([
            Cell::text(r.metric.clone()),
            Cell::count(r.n.0),
            Cell::count(r.n.1),
            Cell::opt(r.value.0),
            Cell::opt(r.value.1),
            Cell::opt(r.delta),
            Cell::opt(r.rel),
            Cell::opt(r.ci.map(|c| c.0)),
            Cell::opt(r.ci.map(|c| c.1)),
            Cell::opt(r.p),
            Cell::opt(r.p_holm),
            Cell::text(r.test),
            Cell::text(r.verdict.as_str()),
        ]);
        row.extend(explain::cells(None));
        t.push(row);
        t.row_units.push(r.def.unit);
        let who = who(&o.key_names, &r.cohort);
        match r.verdict {
            Verdict::Regressed => {
                to_explain.push((findings.len(), t.rows.len() - 1, r));
                findings.push(
                    Finding::new(
                        FindingKind::Regression,
                        format!(
                            "{who}{} regressed: {} -> {} (Holm p {})",
                            r.metric,
                            show(r.value.0, r.def.unit),
                            show(r.value.1, r.def.unit),
                            format::stat(r.p_holm.unwrap_or(f64::NAN))
                        ),
                        // -log10 p over -log10 alpha: critical below alpha squared
                        r.p_holm
                            .map(|p| -p.max(f64::MIN_POSITIVE).log10() / -o.alpha.log10())
                            .unwrap_or(1.0)
                            .max(1.0),
                    )
                    .cohort(&o.key_names, &r.cohort)
                    .metric(r.metric.clone())
                    .values(r.value.1, r.value.0)
                    .p(r.p_holm),
                )
            }
            Verdict::Inconclusive => findings.push(
                Finding::new(
                    FindingKind::Inconclusive,
                    format!(
                        "{who}{}: too few samples (n {} vs {}; {} per arm needed)",
                        r.metric, r.n.0, r.n.1, r.def.min_n
                    ),
                    0.5,
                )
                .cohort(&o.key_names, &r.cohort)
                .metric(r.metric.clone())
                .values(r.value.1, r.value.0),
            ),
            _ => {}
        }
    }
    // who regressed: the spans past the baseline arm's value, per value of
    // every dimension the arms are not chosen by
    to_explain.sort_by(|a, b| findings[b.0].strength.total_cmp(&findings[a.0].strength));
    if let Some(arms) = &scope.arms {
        let mut fields = arm_keys(&arms.baseline);
        fields.extend(arm_keys(&arms.candidate));
        for (f, row, r) in to_explain.into_iter().take(explain::EXPLAINED) {
            let mut skip: Vec<&str> = fields.iter().map(|k| k.name()).collect();
            if r.def.name == "error_rate" {
                skip.extend(explain::same_as("error_type"));
            }
            let (Some((hits, what)), Some(b), Some(c)) = (
                r.value.0.and_then(|v| r.def.worse_spans(v)),
                cohort_arm(&arms.baseline, &r.cohort),
                cohort_arm(&arms.candidate, &r.cohort),
            ) else {
                continue;
            };
            let ask = Ask {
                cohort: &r.cohort,
                arms: Arms {
                    baseline: b,
                    candidate: c,
                    candidate_label: arms.candidate_label,
                },
                template: Template::ExplainHits,
                field: None,
                hits,
            };
            // a cause is extra: an engine refusing its queries leaves none
            let cause = explain::shift(engine, &scope, &ask, &skip, &what).unwrap_or(None);
            explain::attach(&mut t, row, &mut findings[f], cause);
        }
    }
    let n = |v: Verdict| tally.get(&v).copied().unwrap_or(0);
    let overall = if rows.is_empty() {
        "NO DATA"
    } else if n(Verdict::Regressed) > 0 {
        "REGRESSED"
    } else if n(Verdict::Inconclusive) > 0 {
        "INCONCLUSIVE"
    } else {
        "PASS"
    };
    let headline = format!(
        "compare: {overall}: {} regressed, {} improved, {} pass, {} inconclusive (alpha {}, Holm over {} tests)",
        n(Verdict::Regressed),
        n(Verdict::Improved),
        n(Verdict::Pass),
        n(Verdict::Inconclusive),
        o.alpha,
        tested
    );
    if rows.is_empty() {
        notes.push("no spans in either arm: nothing to compare".into());
    } else if n(Verdict::Inconclusive) == rows.len() {
        // a verdict that cannot be judged never passes a gate on it
        findings.push(Finding::new(
            FindingKind::Unjudged,
            format!(
                "nothing could be judged: each of the {} comparison(s) has too few spans or \
                 traces in an arm (see the inconclusive rows)",
                rows.len()
            ),
            1.0,
        ));
    }
    tables.insert(0, t);
    Ok(Report {
        command: "compare".into(),
        meta: vec![(
            "gate".into(),
            format!(
                "alpha {} (Holm), minimum effects: {}",
                o.alpha,
                o.metrics
                    .iter()
                    .map(|m| format!("{} {}", m.name, o.min_effect(m)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )],
        tables,
        findings,
        notes,
        headline: Some(headline),
        charts: Vec::new(),
    })
}

fn show(v: Option<f64>, unit: Unit) -> String {
    match v {
        None => "-".into(),
        Some(x) => match unit {
            Unit::Share => format::pct(Some(x)),
            Unit::Ms => format!("{} ms", format::ms(x)),
            Unit::Usd => format::usd(x),
            _ => format::number(x),
        },
    }
}

/// Holm across every tested (cohort, metric), then the verdicts; returns
/// the number of tests. Regressions: Holm over the one-sided p toward
/// worse of every test (docs/statistics.md); improvements: Holm over the
/// one-sided p toward better, a family of its own.
fn gate(rows: &mut [Row], alpha: f64) -> usize {
    let tested: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].p.is_some()).collect();
    let worse = holm(
        &tested
            .iter()
            .map(|&i| rows[i].p.unwrap_or(1.0))
            .collect::<Vec<_>>(),
    );
    let better = holm(
        &tested
            .iter()
            .map(|&i| rows[i].p_better.unwrap_or(1.0))
            .collect::<Vec<_>>(),
    );
    for (j, &i) in tested.iter().enumerate() {
        let r = &mut rows[i];
        r.p_holm = Some(worse[j]);
        r.verdict = if r.worse && r.large && worse[j] < alpha {
            Verdict::Regressed
        } else if !r.worse && r.large && better[j] < alpha {
            Verdict::Improved
        } else {
            Verdict::Pass
        };
    }
    tested.len()
}

/// The seeded bootstrap interval of a distribution metric's difference;
/// the seed mixes the user's seed with the cohort and metric, so a row's
/// interval does not depend on which other rows are computed.
fn bootstrap_ci(
    cohort: &[String],
    name: &str,
    histogram: &str,
    stat: Statistic,
    b: &ArmData,
    c: &ArmData,
    seed: u64,
) -> Option<(f64, f64)> {
    let (sb, sc) = (b.samples.get(histogram)?, c.samples.get(histogram)?);
    let seed = seed ^ fnv(&[&cohort.join("\u{1f}"), name]);
    bootstrap::diff_ci(sb, sc, stat, REPLICATES, seed)
}

/// One (cohort, metric) without its bootstrap interval: None when
/// neither arm has a value.
fn compare_one(
    cohort: &[String],
    name: &str,
    def: &'static MetricDef,
    b: &ArmData,
    c: &ArmData,
    o: &CompareOptions,
) -> Option<Row> {
    let min = o.min_effect(def);
    let mut row = Row {
        cohort: cohort.to_vec(),
        metric: name.to_string(),
        def,
        n: (0, 0),
        value: (None, None),
        delta: None,
        rel: None,
        ci: None,
        p: None,
        p_better: None,
        worse: false,
        large: false,
        test: "-",
        p_holm: None,
        verdict: Verdict::Inconclusive,
    };
    match def.measure {
        Measure::Rate { good_is_shown } => {
            // (bad events, trials) per arm
            let counts = |a: &ArmData| -> (u64, u64) {
                match def.name {
                    "error_rate" => (a.errors, a.spans),
                    "refusal_rate" => (a.refusals, a.spans),
                    _ => {
                        let e = name.strip_prefix("pass_rate:").unwrap_or_default();
                        let (pass, judged) = a.evals.get(e).copied().unwrap_or((0, 0));
                        (judged - pass, judged)
                    }
                }
            };
            let ((kb, nb), (kc, nc)) = (counts(b), counts(c));
            if nb == 0 && nc == 0 {
                return None;
            }
            row.n = (nb, nc);
            let shown = |k: u64, n: u64| -> Option<f64> {
                (n > 0).then(|| {
                    let bad = k as f64 / n as f64;
                    if good_is_shown {
                        1.0 - bad
                    } else {
                        bad
                    }
                })
            };
            row.value = (shown(kb, nb), shown(kc, nc));
            if nb == 0 || nc == 0 {
                return Some(row);
            }
            let bad_delta = kc as f64 / nc as f64 - kb as f64 / nb as f64;
            let sign = if good_is_shown { -1.0 } else { 1.0 };
            row.delta = Some(sign * bad_delta);
            row.rel = row
                .value
                .0
                .filter(|v| *v != 0.0)
                .map(|v| sign * bad_delta / v);
            row.ci = if good_is_shown {
                newcombe_diff(nc - kc, nc, nb - kb, nb)
            } else {
                newcombe_diff(kc, nc, kb, nb)
            };
            if nb < def.min_n || nc < def.min_n {
                return Some(row);
            }
            row.worse = bad_delta > 0.0;
            let (p, test) = rate_greater(kc, nc, kb, nb)?;
            row.p = Some(p);
            row.p_better = rate_greater(kb, nb, kc, nc).map(|x| x.0);
            row.test = test.as_str();
            row.large = bad_delta.abs() >= min && bad_delta != 0.0;
        }
        Measure::Dist { histogram, stat } => {
            let empty = Sample::new(&[]);
            let sb = b.samples.get(histogram).unwrap_or(&empty);
            let sc = c.samples.get(histogram).unwrap_or(&empty);
            if sb.n() == 0 && sc.n() == 0 {
                return None;
            }
            row.n = (sb.n(), sc.n());
            row.value = (sb.statistic(stat), sc.statistic(stat));
            let (Some(vb), Some(vc)) = row.value else {
                return Some(row);
            };
            let delta = vc - vb;
            row.delta = Some(delta);
            row.rel = (vb != 0.0).then(|| delta / vb);
            if sb.n() < def.min_n || sc.n() < def.min_n {
                return Some(row);
            }
            row.worse = delta > 0.0;
            let (hb, hc) = (sb.pairs(), sc.pairs());
            row.p = Some(mann_whitney_greater(&hc, &hb)?.p);
            row.p_better = mann_whitney_greater(&hb, &hc).map(|m| m.p);
            row.test = "mann-whitney";
            row.large = delta != 0.0
                && match row.rel {
                    Some(r) => r.abs() >= min,
                    None => true,
                };
        }
    }
    row.verdict = Verdict::Pass;
    Some(row)
}

/// Per cohort, the newest value of `field` against the previous one (or
/// `baseline`): the arms, and a table of what was chosen.
/// The error for a comparison with an empty arm: a gate that cannot
/// judge never passes. Names the arm and, for each field its conditions
/// read, the values the data does hold.
fn empty_arm(
    engine: &mut dyn Engine,
    scope: &Scope,
    baseline_empty: bool,
    candidate_empty: bool,
) -> Result<Error> {
    let Some(arms) = &scope.arms else {
        return Ok(Error::internal("a comparison without arms"));
    };
    let which = match (baseline_empty, candidate_empty) {
        (true, true) => "neither arm matches",
        (true, false) => "the baseline arm matches",
        _ => "the candidate arm matches",
    };
    let mut fields = arm_keys(&arms.baseline);
    fields.extend(arm_keys(&arms.candidate));
    fields.dedup_by(|a, b| a.name() == b.name());
    let mut plain = scope.clone();
    plain.arms = None;
    plain.keys.clear();
    plain.kept = None;
    let mut seen = Vec::new();
    for f in fields {
        let q = expand_field(engine, &plain, Template::CompareVersions, f, &[])?;
        let frame = super::ask_one(engine, q)?;
        let r = Rows::new(&frame, "compare_versions");
        let (v, n) = (r.strs("v")?, r.u64s("n")?);
        let mut vals: Vec<(u64, String)> = v
            .into_iter()
            .zip(n)
            .filter_map(|(v, n)| v.map(|v| (n, v)))
            .collect();
        vals.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let total = vals.len();
        let list: Vec<String> = vals
            .iter()
            .take(20)
            .map(|(n, v)| format!("{} ({n})", format::terminal_safe(v, 80)))
            .collect();
        seen.push(if list.is_empty() {
            format!("no span of the window has a {}", f.name())
        } else {
            format!(
                "{} values seen: {}{}",
                f.name(),
                list.join(", "),
                if total > 20 {
                    format!(" and {} more", total - 20)
                } else {
                    String::new()
                }
            )
        });
    }
    let per_cohort = matches!(arms.candidate, Arm::PerCohort { .. });
    let what = if per_cohort && candidate_empty {
        "no cohort has a newer value to compare with the one before it".to_string()
    } else {
        format!("{which} no span of the report's kind in the window")
    };
    Ok(Error::no_data(
        if seen.is_empty() {
            what
        } else {
            format!("{what}; {}", seen.join("; "))
        },
        "a gate that cannot judge does not pass: check the arms' values (spelling, case), \
         --where, --span-type and the window (--current, --until)",
    ))
}

fn latest_arms(
    engine: &mut dyn Engine,
    scope: &Scope,
    field: &Key,
    baseline: Option<&[Condition]>,
    missing_ok: bool,
    o: &CompareOptions,
    notes: &mut Vec<String>,
) -> Result<(Arms, Table)> {
    let q = expand_field(engine, scope, Template::CompareVersions, field, &[])?;
    let frame = super::ask_one(engine, q)?;
    let r = Rows::new(&frame, "compare_versions");
    let nk = scope.keys.len();
    let (keys, v, first, n) = (r.keys(nk)?, r.strs("v")?, r.i64s("first_ns")?, r.u64s("n")?);
    let mut per: BTreeMap<Vec<String>, Vec<(i64, String, u64)>> = BTreeMap::new();
    for i in 0..r.len() {
        if keys[i].iter().any(|k| k == OTHER) {
            continue;
        }
        if let Some(val) = &v[i] {
            per.entry(keys[i].clone()).or_default().push((
                first[i].unwrap_or(0),
                val.clone(),
                n[i],
            ));
        }
    }
    let mut t = Table::with_keys(
        "arms",
        &format!(
            "Newest {} per cohort (candidate) and the arm it is compared with",
            field.name()
        ),
        &o.key_names,
        &[
            ("baseline", Unit::Text),
            ("baseline_spans", Unit::Count),
            ("candidate", Unit::Text),
            ("candidate_spans", Unit::Count),
            ("candidate_first_seen", Unit::Time),
        ],
    );
    let (mut cand, mut base) = (Vec::new(), Vec::new());
    let mut cohorts: Vec<&Vec<String>> = per.keys().collect();
    cohorts.sort_by(|a, b| key_order(a, b));
    for k in cohorts {
        let mut vals = per[k].clone();
        // newest first appearance first; ties by value
        vals.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        let newest = &vals[0];
        let previous = vals.get(1);
        if baseline.is_none() && previous.is_none() {
            notes.push(format!(
                "{}only one {} ({}): nothing to compare it with",
                who(&o.key_names, k),
                field.name(),
                newest.1
            ));
            continue;
        }
        cand.push((k.clone(), newest.1.clone()));
        if let Some(p) = previous.filter(|_| baseline.is_none()) {
            base.push((k.clone(), p.1.clone()));
        }
        let mut row: Vec<Cell> = k.iter().map(|x| Cell::text(x.clone())).collect();
        row.extend([
            match (baseline, previous) {
                (Some(_), _) => Cell::text("(--baseline)"),
                (None, Some(p)) => Cell::text(p.1.clone()),
                (None, None) => Cell::Null,
            },
            match (baseline, previous) {
                (None, Some(p)) => Cell::count(p.2),
                _ => Cell::Null,
            },
            Cell::text(newest.1.clone()),
            Cell::count(newest.2),
            Cell::Int(newest.0),
        ]);
        t.push(row);
    }
    if per.is_empty() && missing_ok {
        notes.push(format!(
            "no span has a {}: nothing to compare",
            field.name()
        ));
    } else if per.is_empty() {
        return Err(Error::no_data(
            format!(
                "--candidate latest:{}: no span in the window has a {0}",
                field.name()
            ),
            "check the field name, or map it in spanlens.toml [fields]",
        ));
    }
    let baseline = match baseline {
        Some(c) => Arm::Where(c.to_vec()),
        None => Arm::PerCohort {
            field: field.clone(),
            values: base,
        },
    };
    Ok((
        Arms {
            baseline,
            candidate: Arm::PerCohort {
                field: field.clone(),
                values: cand,
            },
            candidate_label: "candidate",
        },
        t,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rand_distr::{Binomial, Distribution, LogNormal};

    fn opts() -> CompareOptions {
        CompareOptions {
            key_names: vec!["cohort".into()],
            min_count: 1,
            top: 50,
            arms: ArmsSpec::Fixed(Arms {
                baseline: Arm::Where(Vec::new()),
                candidate: Arm::Where(Vec::new()),
                candidate_label: "candidate",
            }),
            metrics: METRICS.iter().collect(),
            alpha: ALPHA,
            min_effect: BTreeMap::new(),
            seed: SEED,
            cost: CostOptions {
                prices: std::sync::Arc::new(crate::pricing::PriceTable::load(&[]).unwrap()),
                kind: crate::engine::KindFilter::All,
                recompute: false,
                top_traces: 0,
                budgets: Vec::new(),
                tz: crate::window::TimeZone::UTC,
                resolved: None,
            },
        }
    }

    fn hist(v: impl Iterator<Item = f64>) -> Vec<(f64, u64)> {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        for x in v {
            *m.entry(x.to_bits()).or_default() += 1;
        }
        m.into_iter().map(|(b, c)| (f64::from_bits(b), c)).collect()
    }

    /// One arm of n spans: error rate 5%, refusals 2%, pass rate 80%,
    /// lognormal latency, TTFT, tokens and cost per trace.
    fn arm(n: u64, rng: &mut StdRng, error: f64, latency_mu: f64) -> ArmData {
        let b = |p: f64, rng: &mut StdRng| Binomial::new(n, p).unwrap().sample(rng);
        let ln = |mu: f64, s: f64, round: f64, rng: &mut StdRng| -> Vec<(f64, u64)> {
            let d = LogNormal::new(mu, s).unwrap();
            hist((0..n).map(|_| (d.sample(rng) * round).round() / round))
        };
        let mut a = ArmData {
            spans: n,
            errors: b(error, rng),
            refusals: b(0.02, rng),
            ..Default::default()
        };
        a.evals.insert("relevance".into(), (b(0.8, rng), n));
        a.hists
            .insert("latency_ms".into(), ln(latency_mu, 0.6, 10.0, rng));
        a.hists.insert("ttft_ms".into(), ln(6.0, 0.4, 10.0, rng));
        a.hists
            .insert("input_tokens".into(), ln(7.0, 0.8, 1.0, rng));
        a.hists
            .insert("output_tokens".into(), ln(5.5, 0.7, 1.0, rng));
        a.hists
            .insert("cost_per_trace".into(), ln(-5.0, 1.0, 1e6, rng));
        a.samples = a
            .hists
            .iter()
            .map(|(k, v)| (k.clone(), Sample::new(v)))
            .collect();
        a
    }

    fn rows_for(b: &ArmData, c: &ArmData, o: &CompareOptions) -> Vec<Row> {
        let cohort = vec!["all".to_string()];
        let mut rows: Vec<Row> = o
            .metrics
            .iter()
            .filter_map(|m| {
                let name = if m.name == "pass_rate" {
                    "pass_rate:relevance".to_string()
                } else {
                    m.name.to_string()
                };
                compare_one(&cohort, &name, m, b, c, o)
            })
            .collect();
        gate(&mut rows, o.alpha);
        rows
    }

    // A/A: both arms drawn from one distribution. The gate may flag a
    // regression in at most alpha of the repetitions (Holm controls the
    // family-wise rate over the 11 metrics). The observed share is a
    // binomial estimate, so the bound allows two standard errors above
    // alpha: a gate at exactly alpha passes, one at 2 x alpha (e.g. one
    // without the Holm step, or two-sided p halved) fails. Observed
    // with the seeds below: n = 100: 22/400, n = 1000: 5/400, n = 10000: 0/100.
    #[test]
    fn aa_false_regressions_at_most_alpha() {
        let o = opts();
        for (n, reps) in [(100u64, 400u64), (1000, 400), (10_000, 100)] {
            let mut alarms = 0;
            for seed in 0..reps {
                let mut rng = StdRng::seed_from_u64(seed * 7919 + n);
                let (b, c) = (arm(n, &mut rng, 0.05, 7.0), arm(n, &mut rng, 0.05, 7.0));
                let rows = rows_for(&b, &c, &o);
                assert_eq!(rows.len(), METRICS.len());
                if rows.iter().any(|r| r.verdict == Verdict::Regressed) {
                    alarms += 1;
                }
                if n < 400 {
                    // p95 needs 400 per arm: never pass with less
                    let p95 = rows.iter().find(|r| r.metric == "latency_p95").unwrap();
                    assert_eq!(p95.verdict, Verdict::Inconclusive);
                }
            }
            let r = reps as f64;
            let bound = ALPHA * r + 2.0 * (r * ALPHA * (1.0 - ALPHA)).sqrt();
            eprintln!("A/A n = {n}: {alarms} of {reps} repetitions flagged a regression");
            assert!(
                (alarms as f64) <= bound,
                "n = {n}: {alarms} of {reps} A/A repetitions flagged a regression (bound {bound:.1})"
            );
        }
    }

    // A planted regression (error rate 5% -> 9%, latency +35%) is found at
    // n = 2000; the unchanged metrics are not flagged.
    #[test]
    fn planted_regression_is_found() {
        let o = opts();
        let mut rng = StdRng::seed_from_u64(99);
        let b = arm(2000, &mut rng, 0.05, 7.0);
        let c = arm(2000, &mut rng, 0.09, 7.0 + 0.3);
        let rows = rows_for(&b, &c, &o);
        let v = |m: &str| rows.iter().find(|r| r.metric == m).unwrap().verdict;
        assert_eq!(v("error_rate"), Verdict::Regressed);
        assert_eq!(v("latency_p50"), Verdict::Regressed);
        assert_eq!(v("latency_p95"), Verdict::Regressed);
        for m in ["refusal_rate", "ttft_p50", "input_tokens", "cost_mean"] {
            assert_ne!(v(m), Verdict::Regressed, "{m}");
        }
        // the same change the other way round is an improvement
        let rows = rows_for(&c, &b, &o);
        assert_eq!(
            rows.iter()
                .find(|r| r.metric == "error_rate")
                .unwrap()
                .verdict,
            Verdict::Improved
        );
        // below its minimum effect a significant change passes
        let mut o2 = opts();
        o2.min_effect.insert("error_rate".into(), 0.10);
        let rows = rows_for(&b, &c, &o2);
        assert_eq!(
            rows.iter()
                .find(|r| r.metric == "error_rate")
                .unwrap()
                .verdict,
            Verdict::Pass
        );
    }
}
