//! `spanlens drift`: per (cohort, field), the baseline window against the
//! current window (docs/statistics.md "Drift"). The engine returns log-bucket
//! histograms of numeric fields and value counts of categorical ones per
//! cohort and window, in one pass; bins and statistics are computed here.

use std::collections::BTreeMap;

use super::cost::{self, CostOptions};
use super::explain::{self, Ask};
use super::{cohort_phase, expand, expand_field, key_order, Asked, Batch, Rows};
use crate::engine::template::quote;
use crate::engine::template::Template;
use crate::engine::{parse_key, Arms, Engine, FieldExpr, Key, Scope, FIELDS, NONE};
use crate::error::Result;
use crate::report::format;
use crate::report::model::{
    Cell, Chart, ChartKind, Finding, FindingKind, Report, Series, Table, Unit,
};
use crate::span::schema as col;
use crate::stats::drift::{self as stat, DriftResult, Verdict, ZERO_ORDINAL};
use crate::stats::quantile::GAMMA;
use crate::window::Window;

/// Canonical numeric columns a user may name in `--field`.
pub const NUMERIC_FIELDS: &[&str] = &[
    col::INPUT_TOKENS,
    col::OUTPUT_TOKENS,
    col::CACHE_READ_TOKENS,
    col::CACHE_WRITE_TOKENS,
    col::REASONING_TOKENS,
    col::DURATION_MS,
    col::TTFT_MS,
    col::REPORTED_COST_USD,
];

/// Where a field's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// a span column or attribute
    Span(Key),
    /// the cost of each span (reported or priced)
    Cost,
    /// evaluation scores, one field per evaluation name
    EvalScore,
    /// evaluation labels, one field per evaluation name
    EvalLabel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Numeric,
    Categorical,
}

impl FieldType {
    fn as_str(self) -> &'static str {
        match self {
            FieldType::Numeric => "numeric",
            FieldType::Categorical => "categorical",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    pub source: Source,
    /// None: decided from the data (attributes)
    pub ty: Option<FieldType>,
}

/// The default fields of docs/statistics.md: input and output tokens,
/// duration, TTFT, cost per span, eval score; model, response model,
/// provider, finish reason, error type, eval label.
pub fn default_fields() -> Vec<FieldSpec> {
    let mut v: Vec<FieldSpec> = [
        col::INPUT_TOKENS,
        col::OUTPUT_TOKENS,
        col::DURATION_MS,
        col::TTFT_MS,
        "cost_usd",
        "eval_score",
        "model",
        col::RESPONSE_MODEL,
        col::PROVIDER,
        col::FINISH_REASON,
        col::ERROR_TYPE,
        "eval_label",
    ]
    .iter()
    .filter_map(|f| parse_field(f).ok())
    .collect();
    v.dedup();
    v
}

/// A `--field`: a canonical column, `cost_usd`, `eval_score`,
/// `eval_label`, or `attr:KEY` / `resource:KEY` (numeric when every value
/// parses as a number).
pub fn parse_field(s: &str) -> std::result::Result<FieldSpec, String> {
    let s = s.trim();
    let spec = |source, ty| FieldSpec {
        name: s.to_string(),
        source,
        ty,
    };
    if let Some(c) = NUMERIC_FIELDS.iter().find(|c| **c == s) {
        return Ok(spec(
            Source::Span(Key::Field {
                name: s.to_string(),
                expr: FieldExpr::Number(c),
            }),
            Some(FieldType::Numeric),
        ));
    }
    Ok(match s {
        "cost_usd" => spec(Source::Cost, Some(FieldType::Numeric)),
        "eval_score" => spec(Source::EvalScore, Some(FieldType::Numeric)),
        "eval_label" => spec(Source::EvalLabel, Some(FieldType::Categorical)),
        f if f.starts_with("attr:") || f.starts_with("resource:") => {
            spec(Source::Span(parse_key(f)?), None)
        }
        f if FIELDS.contains(&f) => spec(Source::Span(parse_key(f)?), Some(FieldType::Categorical)),
        _ => {
            let known = NUMERIC_FIELDS.iter().chain(FIELDS).copied().chain([
                "cost_usd",
                "eval_score",
                "eval_label",
            ]);
            return Err(format!(
                "unknown field `{s}`{}; use a numeric column ({}), cost_usd, eval_score, eval_label, \
                 a categorical field ({}) or attr:KEY / resource:KEY",
                crate::error::did_you_mean(s, known),
                NUMERIC_FIELDS.join(", "),
                FIELDS.join(", ")
            ));
        }
    })
}

pub struct DriftOptions {
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub baseline: Window,
    pub fields: Vec<FieldSpec>,
    /// Prices for `cost_usd` (None: the field is skipped).
    pub cost: Option<CostOptions>,
    /// Build the charts of the distributions that moved most (only the
    /// `report` command draws them).
    pub charts: bool,
}

/// Counts of one (cohort, field) in both windows.
#[derive(Default, Clone, Debug)]
struct Pair {
    base: BTreeMap<i64, u64>,
    cur: BTreeMap<i64, u64>,
    base_cat: BTreeMap<String, u64>,
    cur_cat: BTreeMap<String, u64>,
}

/// (cohort, field name) -> counts
type Counts = BTreeMap<(Vec<String>, String), Pair>;

/// A resolved field: name, type, and the query that answers it (index
/// into the batch), or eval fields answered by the shared eval query.
struct Planned {
    spec: FieldSpec,
    ty: FieldType,
    query: Option<Asked>,
}

/// Decide the type of attribute fields: numeric when every present value
/// parses as a number (one engine pass for all of them); None for an
/// attribute no span has.
fn resolve_types(
    engine: &mut dyn Engine,
    scope: &Scope,
    fields: &[FieldSpec],
) -> Result<Vec<Option<FieldType>>> {
    let mut batch = Batch::new();
    let mut asked = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if let (None, Source::Span(k)) = (f.ty, &f.source) {
            asked.push((
                i,
                batch.ask(expand_field(
                    engine,
                    scope,
                    Template::DriftFieldType,
                    k,
                    &[],
                )?),
            ));
        }
    }
    let answers = batch.run(engine)?;
    let mut out: Vec<Option<FieldType>> = fields.iter().map(|f| f.ty).collect();
    for (i, a) in asked {
        let rows = answers.rows(a);
        let present = rows.u64s("present")?.first().copied().unwrap_or(0);
        let numeric = rows.u64s("numeric")?.first().copied().unwrap_or(0);
        out[i] = match (present, numeric == present) {
            (0, _) => None,
            (_, true) => Some(FieldType::Numeric),
            (_, false) => Some(FieldType::Categorical),
        };
    }
    Ok(out)
}

pub fn run(engine: &mut dyn Engine, mut scope: Scope, o: &DriftOptions) -> Result<Report> {
    let current = scope.window;
    scope.set_arms(Arms::windows(o.baseline, current, "current"));
    cohort_phase(engine, &mut scope, o.min_count, o.top)?;
    let types = resolve_types(engine, &scope, &o.fields)?;
    let mut notes = Vec::new();

    // one pass: a query per span field, one for span costs, one for evals
    let mut batch = Batch::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut eval_query = None;
    for (f, ty) in o.fields.iter().zip(types) {
        let Some(ty) = ty else {
            notes.push(format!("{}: no span in either window has it", f.name));
            continue;
        };
        let query = match &f.source {
            Source::Span(k) => {
                let t = match ty {
                    FieldType::Numeric => Template::DriftNumeric,
                    FieldType::Categorical => Template::DriftCategories,
                };
                Some(batch.ask(expand_field(engine, &scope, t, k, &[])?))
            }
            Source::Cost => {
                let Some(c) = &o.cost else {
                    notes.push("cost_usd skipped: no price table".into());
                    continue;
                };
                let mut cs = scope.clone();
                cs.kind = c.kind.clone();
                let res = cost::resolve(engine, &cs, c)?;
                let spans = cost::span_costs_with(engine, &cs, c, &res)?;
                Some(batch.ask(expand(
                    engine,
                    &cs,
                    Template::DriftCosts,
                    &[("span_costs", spans)],
                )?))
            }
            Source::EvalScore | Source::EvalLabel => {
                if eval_query.is_none() {
                    eval_query =
                        Some(batch.ask(expand(engine, &scope, Template::DriftEvals, &[])?));
                }
                None
            }
        };
        planned.push(Planned {
            spec: f.clone(),
            ty,
            query,
        });
    }
    let answers = {
        let _t = crate::timing::phase("engine");
        batch.run(engine)?
    };
    let nk = scope.keys.len();

    let mut counts: Counts = BTreeMap::new();
    // fields in output order; eval fields expand to one per evaluation
    let mut order: Vec<(String, FieldType)> = Vec::new();
    let mut eval_names: Vec<String> = Vec::new();
    if let Some(a) = eval_query {
        eval_names = read_evals(answers.frame(a), nk, &mut counts)?;
    }
    for p in &planned {
        match (&p.spec.source, p.query) {
            (Source::EvalScore, _) => {
                for e in &eval_names {
                    let name = format!("eval_score:{e}");
                    if counts.keys().any(|(_, f)| *f == name) {
                        order.push((name, FieldType::Numeric));
                    }
                }
            }
            (Source::EvalLabel, _) => {
                for e in &eval_names {
                    let name = format!("eval_label:{e}");
                    if counts.keys().any(|(_, f)| *f == name) {
                        order.push((name, FieldType::Categorical));
                    }
                }
            }
            (_, Some(q)) => {
                let rows = answers.rows(q);
                read_field(&rows, nk, &p.spec.name, p.ty, &mut counts)?;
                order.push((p.spec.name.clone(), p.ty));
            }
            (_, None) => {}
        }
    }

    // the span fields' keys, for attribution
    let span_keys: BTreeMap<String, Key> = planned
        .iter()
        .filter_map(|p| match &p.spec.source {
            Source::Span(k) => Some((p.spec.name.clone(), k.clone())),
            _ => None,
        })
        .collect();
    let mut cohorts: Vec<Vec<String>> = counts.keys().map(|(k, _)| k.clone()).collect();
    cohorts.sort_by(|a, b| key_order(a, b));
    cohorts.dedup();

    let mut table = Table::with_keys(
        "drift",
        "Drift per cohort and field (baseline window vs current window)",
        &o.key_names,
        &[
            ("field", Unit::Text),
            ("type", Unit::Text),
            ("n_baseline", Unit::Count),
            ("n_current", Unit::Count),
            ("psi", Unit::Stat),
            ("js_distance", Unit::Stat),
            ("chi2_p", Unit::Stat),
            ("verdict", Unit::Text),
            ("moved_most", Unit::Text),
            explain::COLUMNS[0],
            explain::COLUMNS[1],
            explain::COLUMNS[2],
            explain::COLUMNS[3],
        ],
    )
    .wide(&[
        "type",
        "n_baseline",
        "n_current",
        "cause",
        "cause_field",
        "cause_value",
        "cause_share",
    ])
    .drop_first(&["moved_most", "chi2_p", "js_distance"]);
    table.footnote = Some(
        "drift: (PSI >= 0.25 or JS >= 0.1) and chi-squared p < 0.01; moderate: 0.1 <= PSI < 0.25 \
         and p < 0.01; insufficient: < 100 values in a window. Numeric bins: baseline deciles over \
         2% log buckets."
            .into(),
    );
    let mut bins_t = Table::with_keys(
        "drift_bins",
        "Bins that moved most (top 3 per cohort and field)",
        &o.key_names,
        &[
            ("field", Unit::Text),
            ("bin", Unit::Text),
            ("baseline_n", Unit::Count),
            ("current_n", Unit::Count),
            ("baseline_share", Unit::Share),
            ("current_share", Unit::Share),
            ("delta", Unit::Share),
        ],
    );
    let mut findings = Vec::new();
    // drifted pairs to attribute: (finding, table row, cohort, field, type)
    let mut to_explain: Vec<(usize, usize, &Vec<String>, &String, FieldType)> = Vec::new();
    let mut drifted: Vec<(f64, Chart)> = Vec::new();
    let mut tally: BTreeMap<Verdict, usize> = BTreeMap::new();
    for cohort in &cohorts {
        for (field, ty) in &order {
            let Some(pair) = counts.get(&(cohort.clone(), field.clone())) else {
                continue;
            };
            let (labels, b, c) = bins_of(pair, *ty);
            let r = stat::evaluate(&b, &c);
            *tally.entry(r.verdict).or_default() += 1;
            let moved = moved(&labels, &b, &c);
            let top = moved.first().map(|(l, ..)| l.clone());
            let mut row: Vec<Cell> = cohort.iter().map(|k| Cell::text(k.clone())).collect();
            row.extend([
                Cell::text(field.clone()),
                Cell::text(ty.as_str()),
                Cell::count(r.n_base),
                Cell::count(r.n_cur),
                Cell::opt(Some(r.psi)),
                Cell::opt(Some(r.js)),
                Cell::opt(r.chi2.map(|x| x.p)),
                Cell::text(r.verdict.as_str()),
                top.map_or(Cell::Null, Cell::text),
            ]);
            row.extend(explain::cells(None));
            table.push(row);
            if r.verdict != Verdict::Insufficient {
                for (label, nb, nc, pb, pc) in moved.into_iter().take(3) {
                    let mut row: Vec<Cell> = cohort.iter().map(|k| Cell::text(k.clone())).collect();
                    row.extend([
                        Cell::text(field.clone()),
                        Cell::text(label),
                        Cell::count(nb),
                        Cell::count(nc),
                        Cell::Num(pb),
                        Cell::Num(pc),
                        Cell::Num(pc - pb),
                    ]);
                    bins_t.push(row);
                }
            }
            if r.verdict == Verdict::Drift {
                if o.charts {
                    drifted.push((
                        r.psi,
                        distribution_chart(
                            &o.key_names,
                            cohort,
                            (field, *ty),
                            (&labels, &b, &c),
                            &r,
                        ),
                    ));
                }
                to_explain.push((findings.len(), table.rows.len() - 1, cohort, field, *ty));
                findings.push(
                    Finding::new(
                        FindingKind::Drift,
                        drift_message(&o.key_names, cohort, field, &r),
                        // the PSI or JS distance over its drift threshold
                        (r.psi / stat::PSI_DRIFT).max(r.js / stat::JS_DRIFT),
                    )
                    .cohort(&o.key_names, cohort)
                    .metric(field.clone())
                    // the distance that crossed its threshold, and the threshold
                    .values(
                        Some(if r.psi >= stat::PSI_DRIFT {
                            r.psi
                        } else {
                            r.js
                        }),
                        Some(if r.psi >= stat::PSI_DRIFT {
                            stat::PSI_DRIFT
                        } else {
                            stat::JS_DRIFT
                        }),
                    )
                    .p(r.chi2.map(|x| x.p)),
                );
            }
        }
    }
    // who moved the strongest drifts: the spans where each distribution
    // grew, per value of every other dimension
    to_explain.sort_by(|a, b| findings[b.0].strength.total_cmp(&findings[a.0].strength));
    for (f, row, cohort, field, ty) in to_explain.into_iter().take(explain::EXPLAINED) {
        let (Some(key), Some(pair)) = (
            span_keys.get(field),
            counts.get(&(cohort.clone(), field.clone())),
        ) else {
            continue;
        };
        let Some((hits, range)) = grown_where(pair, ty) else {
            continue;
        };
        let template = match ty {
            FieldType::Numeric => Template::ExplainNumeric,
            FieldType::Categorical => Template::ExplainCategory,
        };
        let ask = Ask {
            cohort,
            arms: Arms::windows(o.baseline, current, "current"),
            template,
            field: Some(key),
            hits,
        };
        let what = format!("spans with {field} {range}");
        // a cause is extra: an engine refusing its queries leaves none
        let cause =
            explain::shift(engine, &scope, &ask, explain::same_as(field), &what).unwrap_or(None);
        explain::attach(&mut table, row, &mut findings[f], cause);
    }
    // the distributions that moved most, baseline vs current, for the
    // nightly report's charts
    drifted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let charts: Vec<Chart> = drifted
        .into_iter()
        .take(CHARTS)
        .enumerate()
        .map(|(i, (_, mut c))| {
            c.file = format!("drift-{}", i + 1);
            c
        })
        .collect();
    let pairs: usize = tally.values().sum();
    let n = |v: Verdict| tally.get(&v).copied().unwrap_or(0);
    let headline = if pairs == 0 {
        "drift: no values in either window".to_string()
    } else if n(Verdict::Drift) > 0 {
        format!(
            "drift: {} of {pairs} cohort x field pairs drifted ({} moderate, {} stable, {} insufficient)",
            n(Verdict::Drift),
            n(Verdict::Moderate),
            n(Verdict::Stable),
            n(Verdict::Insufficient)
        )
    } else {
        format!(
            "drift: none in {pairs} cohort x field pairs ({} moderate, {} stable, {} insufficient)",
            n(Verdict::Moderate),
            n(Verdict::Stable),
            n(Verdict::Insufficient)
        )
    };
    Ok(Report {
        command: "drift".into(),
        meta: vec![(
            "baseline".into(),
            format!(
                "{} .. {}",
                format::time_ns(o.baseline.start_ns),
                format::time_ns(o.baseline.end_ns)
            ),
        )],
        tables: vec![table, bins_t],
        findings,
        notes,
        headline: Some(headline),
        charts,
    })
}

/// Drifted distributions drawn in the nightly report (highest PSI first).
const CHARTS: usize = 4;

/// Bin shares (%) of one drifted (cohort, field) in both windows.
fn distribution_chart(
    names: &[String],
    cohort: &[String],
    (field, ty): (&str, FieldType),
    (labels, b, c): (&[String], &[u64], &[u64]),
    r: &DriftResult,
) -> Chart {
    let pct = |v: &[u64]| -> Vec<Option<f64>> {
        stat::shares(v)
            .into_iter()
            .map(|x| Some(x * 100.0))
            .collect()
    };
    let who = super::who(names, cohort);
    // the unit of a numeric field's bins, from its canonical name
    let unit = match field {
        f if f.ends_with("_ms") => ", ms",
        f if f.ends_with("_tokens") => ", tokens",
        f if f.ends_with("_usd") => ", USD",
        _ => "",
    };
    let x_label = match ty {
        FieldType::Numeric => format!("{field}: bins of values{unit}"),
        FieldType::Categorical => format!("{field}: values"),
    };
    Chart {
        file: String::new(),
        title: format!(
            "{who}{field}: baseline vs current (PSI {}, JS {})",
            format::stat(r.psi),
            format::stat(r.js)
        ),
        y_label: "share of values (%)".into(),
        y_unit: Unit::Share,
        x_label,
        kind: ChartKind::Bars,
        x: labels.to_vec(),
        series: vec![
            Series {
                name: "baseline".into(),
                values: pct(b),
                errors: Vec::new(),
            },
            Series {
                name: "current".into(),
                values: pct(c),
                errors: Vec::new(),
            },
        ],
        zoom: false,
    }
}

fn drift_message(names: &[String], cohort: &[String], field: &str, r: &DriftResult) -> String {
    let who: Vec<String> = names
        .iter()
        .zip(cohort)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    format!(
        "{}: {field} drifted (PSI {:.3}, JS {:.3}, p {:.2e}; n {} -> {})",
        who.join(" "),
        r.psi,
        r.js,
        r.chi2.map_or(f64::NAN, |c| c.p),
        r.n_base,
        r.n_cur
    )
}

/// Rows of a numeric (keys, arm, b, n) or categorical (keys, arm, v, n) query.
fn read_field(
    rows: &Rows,
    nk: usize,
    field: &str,
    ty: FieldType,
    counts: &mut Counts,
) -> Result<()> {
    let keys = rows.keys(nk)?;
    let base = rows.is_baseline()?;
    let n = rows.u64s("n")?;
    match ty {
        FieldType::Numeric => {
            let b = rows.i64s("b")?;
            for i in 0..rows.len() {
                let Some(bucket) = b[i] else { continue };
                let e = counts
                    .entry((keys[i].clone(), field.to_string()))
                    .or_default();
                let m = if base[i] { &mut e.base } else { &mut e.cur };
                *m.entry(bucket).or_default() += n[i];
            }
        }
        FieldType::Categorical => {
            let v = rows.strs("v")?;
            for i in 0..rows.len() {
                let e = counts
                    .entry((keys[i].clone(), field.to_string()))
                    .or_default();
                let m = if base[i] {
                    &mut e.base_cat
                } else {
                    &mut e.cur_cat
                };
                let cat = v[i].clone().unwrap_or_else(|| NONE.to_string());
                *m.entry(cat).or_default() += n[i];
            }
        }
    }
    Ok(())
}

/// Rows of drift_evals: scores and labels per evaluation name; returns the
/// evaluation names in order.
fn read_evals(
    df: &polars::prelude::DataFrame,
    nk: usize,
    counts: &mut Counts,
) -> Result<Vec<String>> {
    let rows = Rows::new(df, "drift_evals");
    let keys = rows.keys(nk)?;
    let base = rows.is_baseline()?;
    let (ev, b, label, n) = (
        rows.strs("evaluation")?,
        rows.i64s("b")?,
        rows.strs("label")?,
        rows.u64s("n")?,
    );
    let mut names = std::collections::BTreeSet::new();
    for i in 0..rows.len() {
        let name = ev[i].clone().unwrap_or_else(|| NONE.to_string());
        names.insert(name.clone());
        if let Some(bucket) = b[i] {
            let e = counts
                .entry((keys[i].clone(), format!("eval_score:{name}")))
                .or_default();
            let m = if base[i] { &mut e.base } else { &mut e.cur };
            *m.entry(bucket).or_default() += n[i];
        }
        if let Some(l) = &label[i] {
            let e = counts
                .entry((keys[i].clone(), format!("eval_label:{name}")))
                .or_default();
            let m = if base[i] {
                &mut e.base_cat
            } else {
                &mut e.cur_cat
            };
            *m.entry(l.clone()).or_default() += n[i];
        }
    }
    Ok(names.into_iter().collect())
}

/// Bin labels and counts of one (cohort, field), bins from the baseline.
fn bins_of(p: &Pair, ty: FieldType) -> (Vec<String>, Vec<u64>, Vec<u64>) {
    match ty {
        FieldType::Numeric => {
            let base: Vec<(i64, u64)> = p.base.iter().map(|(k, v)| (*k, *v)).collect();
            let cur: Vec<(i64, u64)> = p.cur.iter().map(|(k, v)| (*k, *v)).collect();
            let edges = stat::decile_edges(&base);
            (
                numeric_labels(&edges),
                stat::bin_counts(&edges, &base),
                stat::bin_counts(&edges, &cur),
            )
        }
        FieldType::Categorical => {
            let b = stat::category_bins(&p.base_cat, &p.cur_cat);
            (b.labels, b.base, b.cur)
        }
    }
}

/// Bins sorted by how much their share moved: (label, n base, n current,
/// share base, share current).
fn moved(labels: &[String], b: &[u64], c: &[u64]) -> Vec<(String, u64, u64, f64, f64)> {
    let (p, q) = (stat::shares(b), stat::shares(c));
    let mut v: Vec<(String, u64, u64, f64, f64)> = (0..labels.len())
        .map(|i| (labels[i].clone(), b[i], c[i], p[i], q[i]))
        .collect();
    v.sort_by(|x, y| {
        (y.4 - y.3)
            .abs()
            .total_cmp(&(x.4 - x.3).abs())
            .then_with(|| x.0.cmp(&y.0))
    });
    v
}

/// The value where a bin edge (over bucket ordinals) falls: every value
/// below it is in the bins left of the edge. Bucket i holds [γ^i, γ^(i+1)).
fn edge_value(e: f64) -> f64 {
    if e < ZERO_ORDINAL / 2.0 {
        0.0
    } else {
        GAMMA.powf(e.floor() + 1.0)
    }
}

fn short(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// Human labels of numeric bins: `< a`, `a .. b`, `>= b` (`<= 0` for the
/// bin of zeros).
fn numeric_labels(edges: &[f64]) -> Vec<String> {
    let vals: Vec<f64> = edges.iter().map(|e| edge_value(*e)).collect();
    (0..=edges.len())
        .map(|i| range_label((i > 0).then(|| vals[i - 1]), vals.get(i).copied()))
        .collect()
}

/// The values from `lo` (included) to `hi` (excluded); a bound of 0 is
/// the zero bin's (0 itself is below every positive value's bins).
fn range_label(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (None, Some(0.0)) => "<= 0".to_string(),
        (None, Some(h)) => format!("< {}", short(h)),
        (Some(0.0), Some(h)) => format!("(0, {})", short(h)),
        (Some(l), Some(h)) => format!("{} .. {}", short(l), short(h)),
        (Some(l), None) => format!(">= {}", short(l)),
        (None, None) => "all".to_string(),
    }
}

/// Where a drifted distribution grew, for its attribution: SQL over the
/// value `v` and words for it. Numeric: every bin that grew (as runs of
/// adjacent bins); categorical: every category that grew (a pooled rest is
/// no one value, and is left out).
fn grown_where(p: &Pair, ty: FieldType) -> Option<(String, String)> {
    let (labels, b, c) = bins_of(p, ty);
    let (pb, pc) = (stat::shares(&b), stat::shares(&c));
    let grew: Vec<bool> = (0..labels.len()).map(|i| pc[i] > pb[i]).collect();
    match ty {
        FieldType::Numeric => {
            let base: Vec<(i64, u64)> = p.base.iter().map(|(k, v)| (*k, *v)).collect();
            let vals: Vec<f64> = stat::decile_edges(&base)
                .iter()
                .map(|e| edge_value(*e))
                .collect();
            // each run of adjacent bins that grew: [i, j]
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for i in (0..labels.len()).filter(|&i| grew[i]) {
                match runs.last_mut() {
                    Some(r) if r.1 + 1 == i => r.1 = i,
                    _ => runs.push((i, i)),
                }
            }
            let (mut sql, mut words) = (Vec::new(), Vec::new());
            for (i, j) in runs {
                let lo = (i > 0).then(|| vals[i - 1]);
                let hi = vals.get(j).copied();
                let mut cond = Vec::new();
                match lo {
                    Some(0.0) => cond.push("v > 0".to_string()),
                    Some(l) => cond.push(format!("v >= {l:?}")),
                    None => {}
                }
                match hi {
                    Some(0.0) => cond.push("v <= 0".to_string()),
                    Some(h) => cond.push(format!("v < {h:?}")),
                    None => {}
                }
                if cond.is_empty() {
                    // every bin grew: nothing to single out
                    return None;
                }
                sql.push(format!("({})", cond.join(" AND ")));
                words.push(range_label(lo, hi));
            }
            let more = if words.len() > 3 { ", ..." } else { "" };
            words.truncate(3);
            (!sql.is_empty()).then(|| (sql.join(" OR "), format!("{}{more}", words.join(", "))))
        }
        FieldType::Categorical => {
            let cats: Vec<&String> = (0..labels.len())
                .filter(|&i| grew[i] && labels[i] != stat::OTHER)
                .map(|i| &labels[i])
                .collect();
            if cats.is_empty() {
                return None;
            }
            let named: Vec<String> = cats
                .iter()
                .filter(|l| l.as_str() != NONE)
                .map(|l| quote(l))
                .collect();
            let mut sql = Vec::new();
            if !named.is_empty() {
                sql.push(format!("v IN ({})", named.join(", ")));
            }
            if cats.iter().any(|l| l.as_str() == NONE) {
                sql.push("v IS NULL".to_string());
            }
            let words: Vec<&str> = cats.iter().take(3).map(|l| l.as_str()).collect();
            let more = if cats.len() > 3 { ", ..." } else { "" };
            Some((sql.join(" OR "), format!("{}{more}", words.join(", "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_and_default() {
        let d = default_fields();
        assert_eq!(d.len(), 12);
        assert_eq!(d[4].source, Source::Cost);
        assert_eq!(d[0].ty, Some(FieldType::Numeric));
        assert_eq!(d[6].ty, Some(FieldType::Categorical));
        assert_eq!(parse_field("attr:app.region").unwrap().ty, None);
        assert!(parse_field("nope")
            .unwrap_err()
            .contains("unknown field `nope`"));
    }

    #[test]
    fn numeric_bin_labels() {
        // buckets 0 and 115 (1.02^116 = 9.9450): bins < 1.02, 1.02 .. 9.945, >= 9.945
        let l = numeric_labels(&[0.0, 115.0]);
        assert_eq!(l, vec!["< 1.020", "1.020 .. 9.945", ">= 9.945"]);
        let z = numeric_labels(&[ZERO_ORDINAL, 10.0]);
        assert_eq!(z[0], "<= 0");
        assert!(z[1].starts_with("(0, "), "{z:?}");
    }

    fn pair(base: &[(i64, u64)], cur: &[(i64, u64)]) -> Pair {
        Pair {
            base: base.iter().copied().collect(),
            cur: cur.iter().copied().collect(),
            ..Default::default()
        }
    }

    #[test]
    fn where_a_distribution_grew() {
        // 100 values in each of buckets 0..10 (1.02^b); the current window
        // has them all in buckets 9 and 10: only the top bins grew, so the
        // spans counted are those above the edge below them
        let base: Vec<(i64, u64)> = (0..=10).map(|b| (b, 100)).collect();
        let (sql, words) =
            grown_where(&pair(&base, &[(9, 50), (10, 50)]), FieldType::Numeric).unwrap();
        assert!(sql.starts_with("(v >= ") && !sql.contains("v <"), "{sql}");
        assert!(words.starts_with(">= "), "{words}");
        // every bin grew: nothing to single out
        assert_eq!(
            grown_where(&pair(&[(3, 10)], &[(3, 5)]), FieldType::Numeric),
            None
        );
        // categories: b and a missing value gained; NULL is the (none) bin
        let cat = |kv: &[(&str, u64)]| -> BTreeMap<String, u64> {
            kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let p = Pair {
            base_cat: cat(&[("a", 60), ("b", 40)]),
            cur_cat: cat(&[("a", 20), ("b", 50), (NONE, 30)]),
            ..Default::default()
        };
        assert_eq!(
            grown_where(&p, FieldType::Categorical),
            Some((
                format!("v IN ({}) OR v IS NULL", quote("b")),
                "b, (none)".into()
            ))
        );
    }
}

#[cfg(test)]
mod aa_tests {
    use super::*;
    use crate::stats::quantile::log_bucket;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, LogNormal};

    fn numeric(n: usize, mu: f64, rng: &mut StdRng) -> BTreeMap<i64, u64> {
        let d = LogNormal::new(mu, 0.8).unwrap();
        let mut m = BTreeMap::new();
        for _ in 0..n {
            *m.entry(log_bucket(d.sample(rng).round())).or_default() += 1;
        }
        m
    }

    /// 30 categories with geometric weights (so the tail is pooled).
    fn categorical(n: usize, tilt: f64, rng: &mut StdRng) -> BTreeMap<String, u64> {
        let w: Vec<f64> = (0..30).map(|i| (0.8f64 + tilt).powi(i)).collect();
        let total: f64 = w.iter().sum();
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let mut x = rng.random::<f64>() * total;
            let mut k = 0;
            while k < 29 && x >= w[k] {
                x -= w[k];
                k += 1;
            }
            *m.entry(format!("c{k:02}")).or_default() += 1;
        }
        m
    }

    fn verdict(p: &Pair, ty: FieldType) -> Verdict {
        let (_, b, c) = bins_of(p, ty);
        stat::evaluate(&b, &c).verdict
    }

    // A/A: both windows from one distribution; `drift` needs p < 0.01, so
    // at most 1% of repetitions may be flagged, at every n (two binomial
    // standard errors allowed, as in compare's A/A test). Observed with the
    // seeds below: n = 100: 3/300 numeric, 2/300 categorical; n = 1000:
    // 0/300, 3/300; n = 10000: 0/100, 0/100.
    #[test]
    fn aa_false_drift_at_most_one_percent() {
        for (n, reps) in [(100usize, 300u64), (1000, 300), (10_000, 100)] {
            let (mut num, mut cat) = (0, 0);
            for seed in 0..reps {
                let mut rng = StdRng::seed_from_u64(seed * 31 + n as u64);
                let p = Pair {
                    base: numeric(n, 6.0, &mut rng),
                    cur: numeric(n, 6.0, &mut rng),
                    base_cat: categorical(n, 0.0, &mut rng),
                    cur_cat: categorical(n, 0.0, &mut rng),
                };
                num += (verdict(&p, FieldType::Numeric) == Verdict::Drift) as u64;
                cat += (verdict(&p, FieldType::Categorical) == Verdict::Drift) as u64;
            }
            eprintln!("A/A n = {n}: drift numeric {num}/{reps}, categorical {cat}/{reps}");
            let r = reps as f64;
            let bound = 0.01 * r + 2.0 * (r * 0.01 * 0.99).sqrt();
            assert!(num as f64 <= bound, "n {n}: numeric {num}/{reps}");
            assert!(cat as f64 <= bound, "n {n}: categorical {cat}/{reps}");
        }
    }

    // A planted shift (lognormal mu +0.5; category weights tilted) at
    // n = 2000 is drift.
    #[test]
    fn planted_drift_is_found() {
        let mut rng = StdRng::seed_from_u64(5);
        let p = Pair {
            base: numeric(2000, 6.0, &mut rng),
            cur: numeric(2000, 6.5, &mut rng),
            base_cat: categorical(2000, 0.0, &mut rng),
            cur_cat: categorical(2000, 0.15, &mut rng),
        };
        assert_eq!(verdict(&p, FieldType::Numeric), Verdict::Drift);
        assert_eq!(verdict(&p, FieldType::Categorical), Verdict::Drift);
    }
}
