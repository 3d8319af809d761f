//! The aggregate engine seam (docs/architecture.md): SQL templates from
//! `queries/` are expanded for an engine's dialect and run over the
//! canonical `spans` and `evals` tables; only small aggregate frames come
//! back, and every statistic is computed from them by Rust code in
//! `metrics/`, so equal aggregates give equal reports on every engine.
//!
//! Template placeholders (expanded here, the same for every engine):
//! * `{{spans}}`: a derived table of the spans in the window that pass
//!   `--where`, with the cohort key columns `k0, k1, ...` added;
//! * `{{keys}}`: the cohort key columns, for SELECT and GROUP BY;
//! * `{{kind}}`: the span kind filter (`--span-type`, LLM spans by default);
//! * `{{refusal_reasons}}`, `{{pass_labels}}`, `{{fail_labels}}`,
//!   `{{score_threshold}}`: lists and numbers from the options;
//! * `{{field}}`: the field a per-field template reads (drift);
//! * `{{param:NAME}}`: a per-query parameter.
//!
//! With [`Arms`] (drift, compare), `{{spans}}` also carries the column
//! `arm` and `{{keys}}` ends with it.
//!
//! Macros (expanded per dialect): `logbucket(x)` = floor(ln(x)/ln(1.02))
//! (and a sentinel bucket for x <= 0), `pbucket(x)` = the percentile key
//! (the exact value on the local engine, `logbucket(x)` on remote ones),
//! `timebucket(t, SECONDS)`, `modelkey()`.

pub mod local;
#[cfg(feature = "spark")]
pub mod spark;
pub mod template;

use polars::prelude::DataFrame;

use crate::error::Result;
use crate::span::schema as col;
use crate::window::Window;

/// How an engine answers percentiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PercentileMethod {
    /// Exact type 7 (= DuckDB quantile_cont) from value -> count histograms.
    Exact,
    /// Log-bucket histograms, 1% relative accuracy.
    LogBucket,
}

impl PercentileMethod {
    pub fn describe(self) -> &'static str {
        match self {
            PercentileMethod::Exact => "exact (type 7, = DuckDB quantile_cont)",
            PercentileMethod::LogBucket => "log-bucket histogram (1% relative accuracy)",
        }
    }
}

pub trait Engine {
    fn name(&self) -> &'static str;
    /// The SQL dialect the templates are expanded in.
    fn dialect(&self) -> template::Dialect;
    fn percentiles(&self) -> PercentileMethod;
    /// The newest span start at or before `cutoff_ns` (for relative
    /// windows: spans from a clock in the future do not move them); None
    /// when there is none.
    fn last_start_ns(&mut self, cutoff_ns: i64) -> Result<Option<i64>>;
    /// How many spans start after `after_ns` (every span with None), and
    /// the first and last of their starts.
    fn span_extent(&mut self, after_ns: Option<i64>) -> Result<Extent> {
        let filter = after_ns.map_or(String::new(), |t| format!("{} > {t}", col::START_NS));
        let frames = self.run(&[Extent::query(&filter)])?;
        Ok(frames.first().map(Extent::of).unwrap_or_default())
    }
    /// A predicate on partition columns selecting at least the spans of
    /// window `w` (partition pruning on remote engines); None reads all.
    fn partition_filter(&self, _w: crate::window::Window) -> Option<String> {
        None
    }
    /// Make a small table (e.g. resolved prices) visible to later queries.
    fn register(&mut self, name: &str, table: DataFrame) -> Result<()>;
    /// Make the result of `query` a table named `name` for later queries,
    /// where several of them read it: computed once and kept in memory on
    /// the local engine (a streamed query would otherwise derive it again
    /// in each of its branches), a temp view on Spark. It stays in the
    /// engine, so no row cap applies.
    fn stage(&mut self, name: &str, query: &template::Expanded) -> Result<()>;
    /// Drop a table made by [`Engine::stage`] (its memory, on the local engine).
    fn unstage(&mut self, name: &str) -> Result<()>;
    /// Run fully expanded queries, in one pass over the data where the
    /// engine can; one frame per query, in order.
    fn run(&mut self, queries: &[template::Expanded]) -> Result<Vec<DataFrame>>;
    /// The most rows one query may return (`--max-rows`), if capped: on
    /// such an engine the reports compute per-trace statistics in the
    /// engine and bring back only the traces they list.
    fn row_cap(&self) -> Option<usize> {
        None
    }
}

/// Span starts: how many, the first and the last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub spans: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

impl Extent {
    /// The query behind [`Engine::span_extent`], over spans passing `filter`
    /// (SQL; empty for every span).
    pub fn query(filter: &str) -> template::Expanded {
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!(" WHERE {filter}")
        };
        template::Expanded::internal(
            "span_extent",
            format!(
                "SELECT COUNT({c}) AS n, MIN({c}) AS lo, MAX({c}) AS hi FROM spans{filter}",
                c = col::START_NS
            ),
        )
    }

    /// Read the answer of [`Extent::query`].
    pub fn of(df: &DataFrame) -> Extent {
        let get = |name: &str| -> Option<i64> {
            df.column(name)
                .ok()?
                .cast(&polars::prelude::DataType::Int64)
                .ok()?
                .i64()
                .ok()?
                .get(0)
        };
        Extent {
            spans: get("n").unwrap_or(0).max(0) as u64,
            first_ns: get("lo"),
            last_ns: get("hi"),
        }
    }
}

/// The default cap of the rows one query may return on engines that cap
/// them (Spark, a streamed input): reports bring back aggregates.
pub const ROW_CAP: usize = 1_000_000;

/// The refusal of a query that returned more than `cap` rows.
pub fn too_many_rows(query: &str, cap: usize, engine: &str) -> crate::error::Error {
    crate::error::Error::usage(
        format!("query {query} would bring more than {cap} rows back from {engine}"),
        "a query must return aggregates (per cohort, bucket or model), not spans; \
         raise --max-rows if the machine running spanlens can hold them",
    )
}

impl<E: Engine + ?Sized> Engine for Box<E> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn dialect(&self) -> template::Dialect {
        (**self).dialect()
    }
    fn percentiles(&self) -> PercentileMethod {
        (**self).percentiles()
    }
    fn partition_filter(&self, w: crate::window::Window) -> Option<String> {
        (**self).partition_filter(w)
    }
    fn last_start_ns(&mut self, cutoff_ns: i64) -> Result<Option<i64>> {
        (**self).last_start_ns(cutoff_ns)
    }
    fn span_extent(&mut self, after_ns: Option<i64>) -> Result<Extent> {
        (**self).span_extent(after_ns)
    }
    fn register(&mut self, name: &str, table: DataFrame) -> Result<()> {
        (**self).register(name, table)
    }
    fn stage(&mut self, name: &str, query: &template::Expanded) -> Result<()> {
        (**self).stage(name, query)
    }
    fn unstage(&mut self, name: &str) -> Result<()> {
        (**self).unstage(name)
    }
    fn run(&mut self, queries: &[template::Expanded]) -> Result<Vec<DataFrame>> {
        (**self).run(queries)
    }
    fn row_cap(&self) -> Option<usize> {
        (**self).row_cap()
    }
}

/// A cohort key: a canonical field or an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// An expression over canonical columns.
    Field { name: String, expr: FieldExpr },
    /// `attr:KEY` (span attribute) or `resource:KEY` (resource attribute, stored as `resource:KEY`).
    Attr { name: String, attr_key: String },
}

/// What a [`Key::Field`] reads; spelled per dialect by the expander, with
/// every column name quoted (`user` is a keyword in SQL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldExpr {
    /// A column as text.
    Text(&'static str),
    /// A numeric column as it is.
    Number(&'static str),
    /// `model`: the request model, else the response model.
    Model,
}

impl Key {
    pub fn name(&self) -> &str {
        match self {
            Key::Field { name, .. } | Key::Attr { name, .. } => name,
        }
    }
}

/// The canonical fields a user may name in `--by` and `--where`.
pub const FIELDS: &[&str] = &[
    "route",
    "model",
    "provider",
    "prompt_version",
    "tenant",
    "user",
    "session",
    "operation",
    "service",
    "agent",
    "tool",
    "request_model",
    "response_model",
    "span_type",
    "status",
    "finish_reason",
    "service_tier",
    "error_type",
    "name",
    "kind",
];

/// Set once this process has parsed an attribute key ([`parse_key`]).
static ATTRIBUTE_NAMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process has parsed an `attr:` or `resource:` key so far:
/// a read that comes after every key of the run was parsed keeps only the
/// attributes spanlens reads itself when none was (see
/// `cmd::pipeline::names_attributes`).
pub fn attribute_named() -> bool {
    ATTRIBUTE_NAMED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Parse `route`, `model`, `attr:app.region`, `resource:service.version`.
pub fn parse_key(s: &str) -> std::result::Result<Key, String> {
    let s = s.trim();
    if s.starts_with("attr:") || s.starts_with("resource:") {
        ATTRIBUTE_NAMED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(k) = s.strip_prefix("attr:") {
        if k.is_empty() {
            return Err("`attr:` needs an attribute name, e.g. attr:app.region".into());
        }
        return Ok(Key::Attr {
            name: s.to_string(),
            attr_key: k.to_string(),
        });
    }
    if let Some(k) = s.strip_prefix("resource:") {
        if k.is_empty() {
            return Err(
                "`resource:` needs an attribute name, e.g. resource:service.version".into(),
            );
        }
        return Ok(Key::Attr {
            name: s.to_string(),
            attr_key: s.to_string(),
        });
    }
    let expr = match s {
        "model" => FieldExpr::Model,
        f => match FIELDS.iter().find(|c| **c == f) {
            Some(c) => FieldExpr::Text(c),
            None => {
                return Err(format!(
                    "unknown field `{s}`{}; use one of {} or attr:KEY / resource:KEY",
                    crate::error::did_you_mean(s, FIELDS.iter().copied()),
                    FIELDS.join(", ")
                ))
            }
        },
    };
    Ok(Key::Field {
        name: s.to_string(),
        expr,
    })
}

/// One `--where` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub key: Key,
    pub negate: bool,
    /// Alternatives separated by `|` in the value: `model=gpt-4o|gpt-4o-mini`.
    pub values: Vec<String>,
}

/// `KEY=VALUE`, `KEY!=VALUE`, `KEY=A|B`.
pub fn parse_condition(s: &str) -> std::result::Result<Condition, String> {
    let (k, v, negate) = if let Some((k, v)) = s.split_once("!=") {
        (k, v, true)
    } else if let Some((k, v)) = s.split_once('=') {
        (k, v, false)
    } else {
        return Err(format!(
            "`{s}` is not a condition; write KEY=VALUE or KEY!=VALUE (e.g. model=gpt-4o)"
        ));
    };
    let key = parse_key(k)?;
    Ok(Condition {
        key,
        negate,
        values: v.split('|').map(|x| x.trim().to_string()).collect(),
    })
}

/// What the span kind filter keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindFilter {
    All,
    SpanTypes(Vec<String>),
}

impl KindFilter {
    /// LLM calls only: what most reports count by default.
    pub fn llm() -> KindFilter {
        KindFilter::SpanTypes(vec!["llm".into()])
    }
}

/// Everything a query expansion needs besides the template.
#[derive(Clone, Debug)]
pub struct Scope {
    pub keys: Vec<Key>,
    pub conditions: Vec<Condition>,
    pub window: Window,
    pub kind: KindFilter,
    /// Cohorts kept by --top/--min-count; None = every cohort as it is.
    pub kept: Option<Vec<Vec<String>>>,
    pub refusal_reasons: Vec<String>,
    pub pass_labels: Vec<String>,
    pub fail_labels: Vec<String>,
    pub score_threshold: f64,
    /// Two arms compared by drift and compare; None for every other report.
    pub arms: Option<Arms>,
}

/// The two arms of a comparison. With arms, `{{spans}}` holds only the
/// spans of either arm, with a column `arm` ('baseline' or the candidate's
/// label), and `{{keys}}` ends with `arm`, so every template groups by arm.
#[derive(Clone, Debug)]
pub struct Arms {
    pub baseline: Arm,
    pub candidate: Arm,
    /// The candidate arm's label: `current` (drift) or `candidate` (compare).
    pub candidate_label: &'static str,
}

/// Which spans form one arm.
#[derive(Clone, Debug)]
pub enum Arm {
    /// spans starting in the window
    Window(Window),
    /// spans matching every condition
    Where(Vec<Condition>),
    /// per cohort (the values of the cohort keys), spans whose `field` has
    /// the given value: e.g. each route's newest prompt version
    PerCohort {
        field: Key,
        values: Vec<(Vec<String>, String)>,
    },
}

impl Arms {
    /// A baseline window against a candidate window.
    pub fn windows(baseline: Window, candidate: Window, candidate_label: &'static str) -> Arms {
        Arms {
            baseline: Arm::Window(baseline),
            candidate: Arm::Window(candidate),
            candidate_label,
        }
    }
}

impl Scope {
    /// Compare two arms; when both are windows, the scope's window widens
    /// to cover both (the arm column picks each span's window).
    pub fn set_arms(&mut self, arms: Arms) {
        if let (Arm::Window(b), Arm::Window(c)) = (&arms.baseline, &arms.candidate) {
            self.window = Window {
                start_ns: b.start_ns.min(c.start_ns),
                end_ns: b.end_ns.max(c.end_ns),
            };
        }
        self.arms = Some(arms);
    }
}

/// The baseline arm's label.
pub const BASELINE: &str = "baseline";

/// The value standing for a missing cohort key.
pub const NONE: &str = "(none)";
/// The cohort collecting everything below --min-count or beyond --top.
pub const OTHER: &str = "__other__";
