//! Reports computed from engine aggregates: typed rows in, [`Report`](crate::report::model::Report)
//! tables out. Only aggregate frames are read here; every statistic comes
//! from `stats/`.

pub mod anomaly;
pub mod compare;
pub mod cost;
pub mod drift;
pub mod explain;
pub mod slo;
pub mod trend;

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::engine::template::{Expanded, Expander, Template};
use crate::engine::{Engine, PercentileMethod, Scope, OTHER};
use crate::error::{Error, Result};
use crate::stats::quantile;

pub(crate) fn frame_err(what: &str, e: PolarsError) -> Error {
    Error::usage(
        format!("unexpected result shape from {what}: {e}"),
        "a custom template must return the columns of the bundled one",
    )
}

/// The queries of one step of a report, asked for by name and answered in
/// one engine pass (so the engine can share their common subplans). Each
/// answer is read back through the handle its query was given, never by
/// position.
#[derive(Default)]
pub struct Batch {
    queries: Vec<Expanded>,
}

/// A query's handle in its [`Batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked(usize);

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Add a query; its answer is read with the handle returned.
    pub fn ask(&mut self, q: Expanded) -> Asked {
        self.queries.push(q);
        Asked(self.queries.len() - 1)
    }

    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Run every query asked for, in one engine call.
    pub fn run(self, engine: &mut dyn Engine) -> Result<Answers> {
        let frames = if self.queries.is_empty() {
            Vec::new()
        } else {
            engine.run(&self.queries)?
        };
        if frames.len() != self.queries.len() {
            return Err(Error::internal(format!(
                "the engine answered {} of {} queries",
                frames.len(),
                self.queries.len()
            )));
        }
        Ok(Answers {
            names: self.queries.into_iter().map(|q| q.name).collect(),
            frames,
        })
    }
}

/// The answers of a [`Batch`].
pub struct Answers {
    names: Vec<String>,
    frames: Vec<DataFrame>,
}

impl Answers {
    /// The frame answering the query behind `a`.
    pub fn frame(&self, a: Asked) -> &DataFrame {
        &self.frames[a.0]
    }

    /// Its rows, read by column name (errors name the query).
    pub fn rows(&self, a: Asked) -> Rows<'_> {
        Rows::new(&self.frames[a.0], &self.names[a.0])
    }
}

/// One query on its own: its answer.
pub fn ask_one(engine: &mut dyn Engine, q: Expanded) -> Result<DataFrame> {
    let mut b = Batch::new();
    let a = b.ask(q);
    let mut answers = b.run(engine)?;
    Ok(answers.frames.swap_remove(a.0))
}

/// Column accessors over a small aggregate frame.
pub struct Rows<'a> {
    df: &'a DataFrame,
    what: &'a str,
}

impl<'a> Rows<'a> {
    pub fn new(df: &'a DataFrame, what: &'a str) -> Self {
        Rows { df, what }
    }

    pub fn len(&self) -> usize {
        self.df.height()
    }

    pub fn is_empty(&self) -> bool {
        self.df.height() == 0
    }

    fn cast(&self, name: &str, dt: &DataType) -> Result<Series> {
        self.df
            .column(name)
            .and_then(|c| c.as_materialized_series().cast(dt))
            .map_err(|e| frame_err(self.what, e))
    }

    pub fn strs(&self, name: &str) -> Result<Vec<Option<String>>> {
        let s = self.cast(name, &DataType::String)?;
        let ca = s.str().map_err(|e| frame_err(self.what, e))?;
        Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
    }

    pub fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let s = self.cast(name, &DataType::Float64)?;
        let ca = s.f64().map_err(|e| frame_err(self.what, e))?;
        Ok(ca.iter().collect())
    }

    pub fn i64s(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let s = self.cast(name, &DataType::Int64)?;
        let ca = s.i64().map_err(|e| frame_err(self.what, e))?;
        Ok(ca.iter().collect())
    }

    pub fn u64s(&self, name: &str) -> Result<Vec<u64>> {
        Ok(self
            .i64s(name)?
            .into_iter()
            .map(|v| v.unwrap_or(0).max(0) as u64)
            .collect())
    }

    /// The `arm` column (drift, compare): true for the baseline arm.
    pub fn is_baseline(&self) -> Result<Vec<bool>> {
        Ok(self
            .strs("arm")?
            .into_iter()
            .map(|a| a.as_deref() == Some(crate::engine::BASELINE))
            .collect())
    }

    /// The cohort key columns k0..k{n-1} of every row.
    pub fn keys(&self, n: usize) -> Result<Vec<Vec<String>>> {
        let cols: Vec<Vec<Option<String>>> = (0..n.max(1))
            .map(|i| self.strs(&format!("k{i}")))
            .collect::<Result<_>>()?;
        Ok((0..self.len())
            .map(|r| {
                cols.iter()
                    .map(|c| c[r].clone().unwrap_or_else(|| crate::engine::NONE.into()))
                    .collect()
            })
            .collect())
    }
}

/// Cohort selection of the cardinality guard: cohorts with at least
/// `min_count` spans, the `top` largest of them; None when every cohort is
/// kept as it is (nothing goes to `__other__`).
pub fn select_cohorts(
    counts: &[(Vec<String>, u64)],
    min_count: u64,
    top: usize,
) -> Option<Vec<Vec<String>>> {
    let mut v: Vec<&(Vec<String>, u64)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let kept: Vec<Vec<String>> = v
        .iter()
        .filter(|(_, n)| *n >= min_count)
        .take(top)
        .map(|(k, _)| k.clone())
        .collect();
    (kept.len() < counts.len()).then_some(kept)
}

/// Order rows so two nights' outputs diff cleanly: by key, `__other__` last.
pub fn key_order(a: &[String], b: &[String]) -> std::cmp::Ordering {
    let rank = |k: &[String]| k.iter().any(|x| x == OTHER);
    rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
}

/// Expand bundled templates for the engine.
pub fn expand(
    engine: &dyn Engine,
    scope: &Scope,
    name: Template,
    params: &[(&str, String)],
) -> Result<Expanded> {
    Expander::new(engine.dialect(), engine.percentiles(), scope)
        .with_partitions(engine.partition_filter(scope.window))
        .expand_builtin(name, params)
}

/// Expand a bundled per-field template (`{{field}}` = `field`).
pub fn expand_field(
    engine: &dyn Engine,
    scope: &Scope,
    name: Template,
    field: &crate::engine::Key,
    params: &[(&str, String)],
) -> Result<Expanded> {
    Expander::new(engine.dialect(), engine.percentiles(), scope)
        .with_partitions(engine.partition_filter(scope.window))
        .with_field(field)
        .expand_builtin(name, params)
}

/// Every table each command writes (`--table`, `--format jsonl`, a
/// report's `SECTION-TABLE.parquet`): `spanlens fields` lists them, and a
/// test holds the list to what the commands write.
pub const TABLES: &[(&str, &[&str])] = &[
    ("slo", &["cohorts", "evals", "objectives"]),
    (
        "cost",
        &[
            "cost",
            "tokens",
            "models",
            "unpriced",
            "top_traces",
            "budgets",
        ],
    ),
    ("drift", &["drift", "drift_bins"]),
    ("compare", &["compare", "arms"]),
    ("anomalies", &["anomalies"]),
    ("query", &["result"]),
];

/// Phase 1: spans per cohort, then the cardinality guard.
pub fn cohort_phase(
    engine: &mut dyn Engine,
    scope: &mut Scope,
    min_count: u64,
    top: usize,
) -> Result<()> {
    if scope.keys.is_empty() {
        return Ok(());
    }
    let q = expand(engine, scope, Template::Cohorts, &[])?;
    let frame = ask_one(engine, q)?;
    let rows = Rows::new(&frame, "cohorts");
    let keys = rows.keys(scope.keys.len())?;
    let n = rows.u64s("spans")?;
    // with arms a cohort has a row per arm: the guard counts both
    let mut sums: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (k, n) in keys.into_iter().zip(n) {
        *sums.entry(k).or_default() += n;
    }
    let counts: Vec<(Vec<String>, u64)> = sums.into_iter().collect();
    scope.kept = select_cohorts(&counts, min_count, top);
    Ok(())
}

/// A finding's cohort prefix: `route=/chat model=gpt-4o: `, nothing
/// without --by.
pub fn who(names: &[String], cohort: &[String]) -> String {
    if names.len() == 1 && names[0] == "cohort" {
        return String::new();
    }
    let parts: Vec<String> = names
        .iter()
        .zip(cohort)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    format!("{}: ", parts.join(" "))
}

/// The probabilities every report prints.
pub const PROBS: [f64; 3] = [0.5, 0.95, 0.99];

/// Percentiles of one (cohort, metric): exact values from the engine, or
/// a log-bucket histogram they are computed from.
#[derive(Default, Clone, Debug)]
pub struct Pcts {
    pub n: u64,
    exact: Option<[Option<f64>; 3]>,
    buckets: Vec<(i64, u64)>,
}

impl Pcts {
    /// One of [`PROBS`].
    pub fn quantile(&self, p: f64) -> Option<f64> {
        match &self.exact {
            Some(v) => PROBS.iter().position(|x| *x == p).and_then(|i| v[i]),
            None => quantile::quantile_log_buckets(&self.buckets, p),
        }
    }
}

/// The template answering percentiles for this engine: exact quantiles or
/// log-bucket histograms.
pub fn percentile_template(
    method: PercentileMethod,
    exact: Template,
    histogram: Template,
) -> Template {
    match method {
        PercentileMethod::Exact => exact,
        PercentileMethod::LogBucket => histogram,
    }
}

/// Read percentile rows: (keys, `extra`, n, p50, p95, p99) from an exact
/// template, or (keys, `extra`, b, n) histogram rows.
pub fn read_percentiles(
    rows: &Rows,
    nkeys: usize,
    extra: Option<&str>,
    method: PercentileMethod,
) -> Result<BTreeMap<(Vec<String>, String), Pcts>> {
    let keys = rows.keys(nkeys)?;
    let extra_v = match extra {
        Some(c) => rows.strs(c)?,
        None => vec![None; rows.len()],
    };
    let n = rows.u64s("n")?;
    let mut out: BTreeMap<(Vec<String>, String), Pcts> = BTreeMap::new();
    let key = |i: usize| (keys[i].clone(), extra_v[i].clone().unwrap_or_default());
    match method {
        PercentileMethod::Exact => {
            let (a, b, c) = (rows.f64s("p50")?, rows.f64s("p95")?, rows.f64s("p99")?);
            for i in 0..rows.len() {
                let e = out.entry(key(i)).or_default();
                e.n += n[i];
                e.exact = Some([a[i], b[i], c[i]]);
            }
        }
        PercentileMethod::LogBucket => {
            let b = rows.i64s("b")?;
            for i in 0..rows.len() {
                if let Some(v) = b[i] {
                    let e = out.entry(key(i)).or_default();
                    e.n += n[i];
                    e.buckets.push((v, n[i]));
                }
            }
        }
    }
    Ok(out)
}

/// Money summed by a parallel engine differs in its last bits from run to
/// run (the order of additions changes). Values are settled to 12 decimal
/// places (1e-12 USD, 1e-12 of a share) so two runs on the same inputs
/// give byte-identical outputs; that is 8 digits below the printed 1e-4.
pub fn settle(x: f64) -> f64 {
    if x.is_finite() && x.abs() < 1e6 {
        (x * 1e12).round() / 1e12
    } else {
        x
    }
}

/// [`settle`] every money and share cell of a table.
pub fn settle_table(t: &mut crate::report::model::Table) {
    use crate::report::model::{Cell, Unit};
    for (i, c) in t.columns.iter().enumerate() {
        if !matches!(c.unit, Unit::Usd | Unit::Share) {
            continue;
        }
        for row in t.rows.iter_mut() {
            row[i] = match row[i] {
                Cell::Num(x) => Cell::Num(settle(x)),
                Cell::Low(x) => Cell::Low(settle(x)),
                ref other => other.clone(),
            };
        }
    }
}

/// The percentile cell: marked low-confidence below the n of docs/statistics.md.
pub fn pct_cell(h: Option<&Pcts>, p: f64) -> crate::report::model::Cell {
    use crate::report::model::Cell;
    let Some(h) = h else { return Cell::Null };
    match h.quantile(p) {
        None => Cell::Null,
        Some(v) => {
            let low = (p >= 0.99 && h.n < 100) || (p >= 0.95 && h.n < 20);
            if low {
                Cell::Low(v)
            } else {
                Cell::Num(v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinality_guard() {
        let c = |k: &str, n| (vec![k.to_string()], n);
        let counts = vec![c("a", 10), c("b", 3), c("c", 10), c("d", 1)];
        assert_eq!(select_cohorts(&counts, 1, 10), None);
        assert_eq!(
            select_cohorts(&counts, 2, 10),
            Some(vec![vec!["a".into()], vec!["c".into()], vec!["b".into()]])
        );
        assert_eq!(
            select_cohorts(&counts, 1, 2),
            Some(vec![vec!["a".into()], vec!["c".into()]])
        );
        let mut keys = [
            vec!["__other__".to_string()],
            vec!["b".into()],
            vec!["a".into()],
        ];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(keys[2], vec!["__other__".to_string()]);
    }
}
