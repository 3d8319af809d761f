//! The local engine: polars' SQL context over the in-memory canonical
//! tables. Percentiles are exact by default (`pbucket(x)` keeps the value
//! itself); `--percentiles log-bucket` answers them as a remote engine does.

use polars::prelude::*;
use polars::sql::SQLContext;
use polars_arrow::array::{Array, ListArray, StructArray, Utf8ViewArray};

use super::template::{model_key_sql, Dialect, Expanded, MODEL_KEY};
use super::{Engine, PercentileMethod};
use crate::error::{Error, Result};
use crate::frame::schema as col;

pub struct LocalEngine {
    spans: DataFrame,
    evals: DataFrame,
    small: Vec<(String, DataFrame)>,
    method: PercentileMethod,
    row_cap: Option<usize>,
}

impl LocalEngine {
    pub fn new(spans: DataFrame, evals: DataFrame) -> LocalEngine {
        LocalEngine {
            spans,
            evals,
            small: Vec::new(),
            method: PercentileMethod::Exact,
            row_cap: None,
        }
    }

    /// Refuse a query returning more than `cap` rows (`--max-rows`), as a
    /// remote engine does; the reports then keep per-trace work in the engine.
    pub fn with_row_cap(mut self, cap: Option<usize>) -> LocalEngine {
        self.row_cap = cap;
        self
    }

    /// Answer percentiles from log-bucket histograms, as a remote engine does.
    pub fn with_method(mut self, method: PercentileMethod) -> LocalEngine {
        self.method = method;
        self
    }
}

impl LocalEngine {
    /// The `modelkey()` column, computed once: every cost query joins the
    /// price table on it (concatenating three columns per row per query
    /// cost more than the join).
    fn add_model_key(&mut self) -> Result<()> {
        if self.spans.get_column_index(MODEL_KEY).is_some() {
            return Ok(());
        }
        let mut ctx = SQLContext::new();
        ctx.register("spans", self.spans.clone().lazy());
        let key = ctx
            .execute(&format!(
                "SELECT {} AS {MODEL_KEY} FROM spans",
                model_key_sql()
            ))
            .and_then(|lf| lf.collect())
            .and_then(|df| df.column(MODEL_KEY).cloned())
            .map_err(|e| engine_err("modelkey()", e))?;
        self.spans
            .with_column(key)
            .map_err(|e| engine_err("modelkey()", e))?;
        Ok(())
    }
}

fn engine_err(query: &str, e: PolarsError) -> Error {
    Error::usage(
        format!("query {query} failed on the local engine: {e}"),
        "check the SQL of the template (polars SQL dialect); spanlens query --explain shows the expanded text",
    )
}

/// The value of attribute `key` on every span (null where absent).
pub fn attr_column(spans: &DataFrame, key: &str, name: &str) -> PolarsResult<Column> {
    let ca = spans.column(col::ATTRS)?.list()?;
    let mut out: Vec<Option<&str>> = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let arr: &ListArray<i64> = arr;
        let st = arr
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| polars_err!(ComputeError: "attrs is not a list of structs"))?;
        let keys = st.values()[0]
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .ok_or_else(|| polars_err!(ComputeError: "attrs keys are not strings"))?;
        let vals = st.values()[1]
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .ok_or_else(|| polars_err!(ComputeError: "attrs values are not strings"))?;
        let offsets = arr.offsets();
        for i in 0..arr.len() {
            if arr.is_null(i) {
                out.push(None);
                continue;
            }
            let (a, b) = offsets.start_end(i);
            let hit = (a..b).find(|&j| keys.is_valid(j) && keys.value(j) == key);
            out.push(hit.and_then(|j| vals.get(j)));
        }
    }
    Ok(StringChunked::from_iter_options(name.into(), out.into_iter()).into_column())
}

impl Engine for LocalEngine {
    fn name(&self) -> &'static str {
        "local"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Polars
    }

    fn percentiles(&self) -> PercentileMethod {
        self.method
    }

    fn last_start_ns(&mut self) -> Result<Option<i64>> {
        Ok(self
            .spans
            .column(col::START_NS)
            .ok()
            .and_then(|c| c.i64().ok().and_then(|ca| ca.max())))
    }

    fn register(&mut self, name: &str, table: DataFrame) -> Result<()> {
        self.small.retain(|(n, _)| n != name);
        self.small.push((name.to_string(), table));
        Ok(())
    }

    fn row_cap(&self) -> Option<usize> {
        self.row_cap
    }

    fn run(&mut self, queries: &[Expanded]) -> Result<Vec<DataFrame>> {
        let out = self.run_all(queries)?;
        if let Some(cap) = self.row_cap {
            if let Some((q, _)) = queries.iter().zip(&out).find(|(_, f)| f.height() > cap) {
                return Err(super::too_many_rows(&q.name, cap, "the local engine"));
            }
        }
        Ok(out)
    }
}

impl LocalEngine {
    fn run_all(&mut self, queries: &[Expanded]) -> Result<Vec<DataFrame>> {
        if queries.iter().any(|q| q.sql.contains(MODEL_KEY)) {
            self.add_model_key()?;
        }
        // Queries reading the same attribute columns share one registered
        // `spans` plan, so polars computes their common subplans (the
        // `{{spans}}` derived table of one scope) once per batch.
        let mut contexts: Vec<(&[String], SQLContext)> = Vec::new();
        let evals = self.evals.clone().lazy();
        let mut plans = Vec::with_capacity(queries.len());
        for q in queries {
            let at = match contexts
                .iter()
                .position(|(k, _)| *k == q.attr_keys.as_slice())
            {
                Some(i) => i,
                None => {
                    let mut spans = self.spans.clone();
                    for (i, k) in q.attr_keys.iter().enumerate() {
                        let c = attr_column(&self.spans, k, &format!("__attr_{i}"))
                            .map_err(|e| engine_err(&q.name, e))?;
                        spans.with_column(c).map_err(|e| engine_err(&q.name, e))?;
                    }
                    let ctx = SQLContext::new();
                    ctx.register("spans", spans.lazy());
                    ctx.register("evals", evals.clone());
                    for (n, t) in &self.small {
                        ctx.register(n, t.clone().lazy());
                    }
                    contexts.push((q.attr_keys.as_slice(), ctx));
                    contexts.len() - 1
                }
            };
            let lf = contexts[at]
                .1
                .execute(&q.sql)
                .map_err(|e| engine_err(&q.name, e))?;
            plans.push(lf.logical_plan);
        }
        if crate::timing::per_query() {
            let mut out = Vec::with_capacity(plans.len());
            for (p, q) in plans.into_iter().zip(queries) {
                let t = std::time::Instant::now();
                out.push(
                    LazyFrame::from(p)
                        .collect()
                        .map_err(|e| engine_err(&q.name, e))?,
                );
                eprintln!(
                    "spanlens: timing: query {:<24} {:>8.3} s",
                    q.name,
                    t.elapsed().as_secs_f64()
                );
            }
            return Ok(out);
        }
        LazyFrame::collect_all_with_engine(
            plans,
            polars::prelude::Engine::Auto,
            OptFlags::default(),
        )
        .map_err(|e| engine_err("(batch)", e))
    }
}
