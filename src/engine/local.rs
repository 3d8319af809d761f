//! The local engine: polars' SQL context over the canonical tables, held
//! in memory or (large `spanlens ingest` Parquet, `frame::stream`) scanned
//! lazily by polars' streaming engine query by query. Percentiles are exact
//! by default in memory (`pbucket(x)` keeps the value itself);
//! `--percentiles log-bucket`, and every streamed run, answer them from
//! log-bucket histograms as a remote engine does.

use polars::prelude::*;
use polars::sql::SQLContext;

use super::template::{model_key_sql, Dialect, Expanded, MODEL_KEY};
use super::{Engine, PercentileMethod};
use crate::error::{Error, Result};
use crate::span::build::attr_values;
use crate::span::schema as col;

/// Where the span and eval tables are.
enum Tables {
    Memory {
        spans: DataFrame,
        evals: DataFrame,
    },
    Streamed {
        spans: Box<LazyFrame>,
        evals: Box<LazyFrame>,
    },
}

pub struct LocalEngine {
    tables: Tables,
    small: Vec<(String, DataFrame)>,
    method: PercentileMethod,
    row_cap: Option<usize>,
    /// The spilled input's files the streamed tables read (`frame::spill`):
    /// kept as long as the engine, removed with it.
    spill: Option<crate::frame::spill::SpillDir>,
    /// The only attributes the `attrs` column holds, when the read kept
    /// only those spanlens reads itself (no `attr:` key named).
    only_attrs: Option<&'static [&'static str]>,
}

impl LocalEngine {
    pub fn new(spans: DataFrame, evals: DataFrame) -> LocalEngine {
        LocalEngine {
            tables: Tables::Memory { spans, evals },
            small: Vec::new(),
            method: PercentileMethod::Exact,
            row_cap: None,
            spill: None,
            only_attrs: None,
        }
    }

    /// Over lazy scans (`frame::stream`): each query runs on polars'
    /// streaming engine, percentiles come from log buckets, and a query
    /// returns at most `cap` rows (`--max-rows`, default
    /// [`super::ROW_CAP`]), so per-trace work stays in the engine.
    pub fn streamed(spans: LazyFrame, evals: LazyFrame, cap: usize) -> LocalEngine {
        LocalEngine {
            tables: Tables::Streamed {
                spans: Box::new(spans),
                evals: Box::new(evals),
            },
            small: Vec::new(),
            method: PercentileMethod::LogBucket,
            row_cap: Some(cap),
            spill: None,
            only_attrs: None,
        }
    }

    /// Keep the directory the streamed tables read until the engine goes.
    pub fn holding(mut self, dir: crate::frame::spill::SpillDir) -> LocalEngine {
        self.spill = Some(dir);
        self
    }

    /// Refuse a query returning more than `cap` rows (`--max-rows`), as a
    /// remote engine does; the reports then keep per-trace work in the engine.
    pub fn with_row_cap(mut self, cap: Option<usize>) -> LocalEngine {
        self.row_cap = cap;
        self
    }

    /// The `attrs` column holds only these attributes (see
    /// [`crate::ingest::resolve::ResolveOptions::skip_attrs`]): a query
    /// reading another is refused, never answered as if no span had it.
    pub fn with_only_attrs(mut self, only: Option<&'static [&'static str]>) -> LocalEngine {
        self.only_attrs = only;
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
        let expr = format!("SELECT *, {} AS {MODEL_KEY} FROM spans", model_key_sql());
        match &mut self.tables {
            Tables::Memory { spans, .. } => {
                if spans.get_column_index(MODEL_KEY).is_some() {
                    return Ok(());
                }
                let mut ctx = SQLContext::new();
                ctx.register("spans", spans.clone().lazy());
                let key = ctx
                    .execute(&expr)
                    .and_then(|lf| lf.select([polars::prelude::col(MODEL_KEY)]).collect())
                    .and_then(|df| df.column(MODEL_KEY).cloned())
                    .map_err(|e| engine_err("modelkey()", e))?;
                spans
                    .with_column(key)
                    .map_err(|e| engine_err("modelkey()", e))?;
            }
            Tables::Streamed { spans, .. } => {
                // a lazy column: computed by each query that reads it
                let has = spans
                    .collect_schema()
                    .map_err(|e| engine_err("modelkey()", e))?
                    .contains(MODEL_KEY);
                if has {
                    return Ok(());
                }
                let mut ctx = SQLContext::new();
                ctx.register("spans", (**spans).clone());
                **spans = ctx
                    .execute(&expr)
                    .map_err(|e| engine_err("modelkey()", e))?;
            }
        }
        Ok(())
    }
}

/// The optimizations of a streamed query, without common subplan
/// elimination: a scan shared by two branches feeds them through a buffer
/// that holds every row the slower branch has not read yet, and a join
/// branch reads nothing until its build side is done. So a self-join of the
/// spans (per-trace aggregates joined back, the two halves of an eval
/// attribution) held most of its probe side. Each branch now reads the
/// Parquet itself, which costs a second scan of a few columns.
fn no_shared_scans() -> OptFlags {
    let mut f = OptFlags::default();
    f.set(OptFlags::COMM_SUBPLAN_ELIM, false);
    f
}

/// Every equi-join of a streamed query builds its hash table on the right
/// side. The templates keep the smaller side of each join on the right (the
/// price table, the evaluations, per-cohort or per-trace aggregates; see
/// queries/README.md). Left to choose, polars' streaming join first buffers
/// up to 10M rows of each side to sample their sizes (POLARS_JOIN_SAMPLE_LIMIT),
/// which was most of the peak memory of a streamed report, and with both
/// sides that long it can pick the spans side.
fn build_right(plan: &mut DslPlan) {
    use polars::prelude::JoinBuildSide;
    use std::sync::Arc;
    match plan {
        DslPlan::Join {
            input_left,
            input_right,
            options,
            ..
        } => {
            let o = Arc::make_mut(options);
            if o.args.build_side.is_none() && o.args.maintain_order == MaintainOrderJoin::None {
                o.args.build_side = Some(JoinBuildSide::ForceRight);
            }
            build_right(Arc::make_mut(input_left));
            build_right(Arc::make_mut(input_right));
        }
        DslPlan::Select { input, .. }
        | DslPlan::GroupBy { input, .. }
        | DslPlan::Filter { input, .. }
        | DslPlan::Distinct { input, .. }
        | DslPlan::Sort { input, .. }
        | DslPlan::Slice { input, .. }
        | DslPlan::HStack { input, .. }
        | DslPlan::MatchToSchema { input, .. }
        | DslPlan::MapFunction { input, .. }
        | DslPlan::Sink { input, .. }
        | DslPlan::Cache { input, .. } => build_right(Arc::make_mut(input)),
        DslPlan::Union { inputs, .. }
        | DslPlan::HConcat { inputs, .. }
        | DslPlan::SinkMultiple { inputs } => inputs.iter_mut().for_each(build_right),
        DslPlan::Gather { input, idxs, .. } => {
            build_right(Arc::make_mut(input));
            build_right(Arc::make_mut(idxs));
        }
        DslPlan::ExtContext { input, contexts } => {
            build_right(Arc::make_mut(input));
            contexts.iter_mut().for_each(build_right);
        }
        DslPlan::IR { dsl, node, .. } => {
            // a conversion cached by an earlier call: convert the edited plan
            *node = None;
            build_right(Arc::make_mut(dsl));
        }
        // sources, and nodes the SQL front end does not produce
        _ => {}
    }
}

/// A failure of spanlens' own work on the local engine (not a query).
fn engine_err(what: &str, e: PolarsError) -> Error {
    Error::internal(format!("{what} failed on the local engine: {e}"))
}

/// A failed query: a bundled template's failure is spanlens' bug (exit
/// 5); a user's own SQL (`spanlens query`) is a usage error.
fn query_err(q: &Expanded, e: impl std::fmt::Display) -> Error {
    if q.bundled {
        Error::internal(format!(
            "bundled query {} failed on the local engine: {e}",
            q.name
        ))
    } else {
        Error::usage(
            format!("query {} failed on the local engine: {e}", q.name),
            "check the SQL of the template (polars SQL dialect); spanlens query --explain shows the expanded text",
        )
    }
}

fn streaming_panic(q: &Expanded, msg: &str) -> Error {
    if q.bundled {
        return Error::internal(format!(
            "bundled query {} failed in polars' streaming engine: {msg}",
            q.name
        ));
    }
    Error::usage(
        format!("query {} failed in polars' streaming engine: {msg}", q.name),
        "rewrite the query (e.g. COUNT(col) for COUNT(*)), or raise SPANLENS_STREAM_SPANS above \
         the input's span count to run it in memory",
    )
}

/// The value of attribute `key` on every span (null where absent).
pub fn attr_column(spans: &DataFrame, key: &str, name: &str) -> PolarsResult<Column> {
    attr_values(spans.column(col::ATTRS)?, key, name, &|_| true)
}

impl Engine for LocalEngine {
    fn name(&self) -> &'static str {
        match self.tables {
            Tables::Memory { .. } => "local",
            Tables::Streamed { .. } => "local (streaming)",
        }
    }

    fn dialect(&self) -> Dialect {
        Dialect::Polars
    }

    fn percentiles(&self) -> PercentileMethod {
        self.method
    }

    fn last_start_ns(&mut self, cutoff_ns: i64) -> Result<Option<i64>> {
        match &self.tables {
            Tables::Memory { spans, .. } => Ok(spans
                .column(col::START_NS)
                .ok()
                .and_then(|c| c.i64().ok())
                .and_then(|ca| ca.iter().flatten().filter(|t| *t <= cutoff_ns).max())),
            Tables::Streamed { spans, .. } => {
                let start = polars::prelude::col(col::START_NS);
                let df = spans
                    .clone()
                    .filter(start.clone().lt_eq(lit(cutoff_ns)))
                    .select([start.max()])
                    .collect_with_engine(polars::prelude::Engine::Streaming)
                    .map(|r| r.unwrap_single())
                    .map_err(|e| engine_err("the newest span start", e))?;
                Ok(df
                    .column(col::START_NS)
                    .ok()
                    .and_then(|c| c.i64().ok().and_then(|ca| ca.get(0))))
            }
        }
    }

    fn register(&mut self, name: &str, table: DataFrame) -> Result<()> {
        self.small.retain(|(n, _)| n != name);
        self.small.push((name.to_string(), table));
        Ok(())
    }

    fn stage(&mut self, name: &str, query: &Expanded) -> Result<()> {
        let table = self
            .run_all(std::slice::from_ref(query))?
            .pop()
            .unwrap_or_default();
        self.register(name, table)
    }

    fn unstage(&mut self, name: &str) -> Result<()> {
        self.small.retain(|(n, _)| n != name);
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
    /// The `spans` table with the attribute columns `__attr_N` of `keys`.
    fn spans_with(&self, keys: &[String]) -> PolarsResult<LazyFrame> {
        match &self.tables {
            Tables::Memory { spans, .. } => {
                let mut out = spans.clone();
                for (i, k) in keys.iter().enumerate() {
                    out.with_column(attr_column(spans, k, &format!("__attr_{i}"))?)?;
                }
                Ok(out.lazy())
            }
            Tables::Streamed { spans, .. } => {
                let cols: Vec<Expr> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let (k, name) = (k.clone(), format!("__attr_{i}"));
                        let out = name.clone();
                        polars::prelude::col(col::ATTRS)
                            .map(
                                move |c| attr_values(&c, &k, &name, &|_| true),
                                |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
                            )
                            .alias(out)
                    })
                    .collect();
                Ok(if cols.is_empty() {
                    (**spans).clone()
                } else {
                    (**spans).clone().with_columns(cols)
                })
            }
        }
    }

    fn run_all(&mut self, queries: &[Expanded]) -> Result<Vec<DataFrame>> {
        if let Some(only) = self.only_attrs {
            let unread = queries
                .iter()
                .flat_map(|q| q.attr_keys.iter().map(move |k| (q, k)))
                .find(|(_, k)| !only.contains(&k.as_str()));
            if let Some((q, k)) = unread {
                return Err(Error::internal(format!(
                    "query {} reads the attribute `{k}`, which was not kept: the run named no \
                     attr: or resource: key",
                    q.name
                )));
            }
        }
        if queries.iter().any(|q| q.sql.contains(MODEL_KEY)) {
            self.add_model_key()?;
        }
        // Queries reading the same attribute columns share one registered
        // `spans` plan, so polars computes their common subplans (the
        // `{{spans}}` derived table of one scope) once per batch.
        let mut contexts: Vec<(&[String], SQLContext)> = Vec::new();
        let evals = match &self.tables {
            Tables::Memory { evals, .. } => evals.clone().lazy(),
            Tables::Streamed { evals, .. } => (**evals).clone(),
        };
        let mut plans = Vec::with_capacity(queries.len());
        for q in queries {
            let at = match contexts
                .iter()
                .position(|(k, _)| *k == q.attr_keys.as_slice())
            {
                Some(i) => i,
                None => {
                    let spans = self.spans_with(&q.attr_keys).map_err(|e| query_err(q, e))?;
                    let ctx = SQLContext::new();
                    ctx.register("spans", spans);
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
                .map_err(|e| query_err(q, e))?;
            plans.push(lf.logical_plan);
        }
        if let Tables::Streamed { .. } = self.tables {
            // one streaming query at a time: each scans only what it reads,
            // and no shared subplan is cached whole in memory
            let mut out = Vec::with_capacity(plans.len());
            for (mut p, q) in plans.into_iter().zip(queries) {
                let t = std::time::Instant::now();
                build_right(&mut p);
                let run = crate::guard::catch(|| {
                    LazyFrame::from(p)
                        .with_optimizations(no_shared_scans())
                        .collect_with_engine(polars::prelude::Engine::Streaming)
                        .map(|r| r.unwrap_single())
                });
                out.push(match run {
                    Ok(r) => r.map_err(|e| query_err(q, e))?,
                    Err(msg) => return Err(streaming_panic(q, &msg)),
                });
                if crate::timing::per_query() {
                    eprintln!(
                        "spanlens: timing: query {:<24} {:>8.3} s (streaming)",
                        q.name,
                        t.elapsed().as_secs_f64()
                    );
                }
            }
            return Ok(out);
        }
        if crate::timing::per_query() {
            let mut out = Vec::with_capacity(plans.len());
            for (p, q) in plans.into_iter().zip(queries) {
                let t = std::time::Instant::now();
                out.push(LazyFrame::from(p).collect().map_err(|e| query_err(q, e))?);
                eprintln!(
                    "spanlens: timing: query {:<24} {:>8.3} s",
                    q.name,
                    t.elapsed().as_secs_f64()
                );
            }
            return Ok(out);
        }
        let kept = plans.clone();
        LazyFrame::collect_all_with_engine(
            plans,
            polars::prelude::Engine::Auto,
            OptFlags::default(),
        )
        .map_err(|e| {
            // name the query that failed: run each alone (only on failure)
            kept.into_iter()
                .zip(queries)
                .find_map(|(p, q)| LazyFrame::from(p).collect().err().map(|e| query_err(q, e)))
                .unwrap_or_else(|| engine_err("a batch of queries", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundled query that fails is spanlens' bug (exit 5, naming the
    /// query even inside a batch); the user's own SQL is a usage error.
    #[test]
    fn a_failing_bundled_query_is_an_internal_error_naming_it() {
        let spans = crate::span::build::spans_frame(&[]).unwrap();
        let evals = crate::span::build::evals_frame(&[]).unwrap();
        let mut e = LocalEngine::new(spans, evals);
        let ok = Expanded::internal("fine", "SELECT COUNT(trace_id) AS n FROM spans".into());
        let bad = Expanded::internal("broken", "SELECT no_such_column FROM spans".into());
        let err = e.run(&[ok.clone(), bad.clone()]).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::INTERNAL);
        assert!(
            err.to_string().contains("bundled query broken failed"),
            "{err}"
        );
        let mut user = bad;
        user.bundled = false;
        let err = e.run(&[ok, user]).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::USAGE);
        assert!(err.to_string().starts_with("query broken failed"), "{err}");
    }

    /// An engine over a read that kept only spanlens' own attributes
    /// refuses a query reading another (an internal error naming it), and
    /// answers one reading a kept attribute.
    #[test]
    fn a_query_reading_an_attribute_not_kept_is_refused() {
        let spans = crate::span::build::spans_frame(&[]).unwrap();
        let evals = crate::span::build::evals_frame(&[]).unwrap();
        let mut e = LocalEngine::new(spans, evals)
            .with_only_attrs(Some(crate::ingest::resolve::KEPT_ATTRS));
        let mut q =
            Expanded::internal("by_region", "SELECT COUNT(trace_id) AS n FROM spans".into());
        q.attr_keys = vec!["app.region".into()];
        let err = e.run(&[q.clone()]).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::INTERNAL);
        assert!(err.to_string().contains("`app.region`"), "{err}");
        q.attr_keys = vec![crate::ingest::chunk::RESPONSE_ID.into()];
        assert_eq!(e.run(&[q]).unwrap()[0].height(), 1);
    }

    /// Both joins of a nested plan (an inner join in a subquery, a left join
    /// around it) build on the right after `build_right`, and the streamed
    /// answer is unchanged.
    #[test]
    fn every_join_of_a_streamed_plan_builds_on_the_right() {
        let big = df!("k" => [1i64, 2, 2, 3], "x" => [10i64, 20, 21, 30])
            .unwrap()
            .lazy();
        let small = df!("k" => [2i64, 3], "y" => [200i64, 300]).unwrap().lazy();
        let mut ctx = SQLContext::new();
        ctx.register("big", big);
        ctx.register("small", small);
        let sql = "SELECT t.k, t.x, s2.y FROM (SELECT big.k, big.x FROM big JOIN small ON big.k = small.k) t \
                   LEFT JOIN small s2 ON t.k = s2.k ORDER BY t.x";
        let lf = ctx.execute(sql).unwrap();
        let mut plan = lf.logical_plan.clone();
        let forced = |p: &DslPlan| format!("{p:?}").matches("ForceRight").count();
        assert_eq!(forced(&plan), 0);
        build_right(&mut plan);
        assert_eq!(forced(&plan), 2);
        let out = LazyFrame::from(plan)
            .with_optimizations(no_shared_scans())
            .collect_with_engine(polars::prelude::Engine::Streaming)
            .unwrap()
            .unwrap_single();
        let x: Vec<Option<i64>> = out.column("x").unwrap().i64().unwrap().iter().collect();
        let y: Vec<Option<i64>> = out.column("y").unwrap().i64().unwrap().iter().collect();
        assert_eq!(x, [Some(20), Some(21), Some(30)]);
        assert_eq!(y, [Some(200), Some(200), Some(300)]);
    }
}
