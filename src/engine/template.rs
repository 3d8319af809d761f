//! Template expansion: placeholders and dialect macros (see `engine`).

use super::{
    Arm, Condition, FieldExpr, Key, KindFilter, PercentileMethod, Scope, BASELINE, NONE, OTHER,
};
use crate::error::{Error, Result};
use crate::span::schema as col;

/// SQL dialects of the engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// polars' SQL context (local engine)
    Polars,
    /// Spark SQL (remote engine)
    Spark,
}

/// A query ready to run, with the attribute keys it reads (the local
/// engine materialises them as columns `__attr_N` before running).
#[derive(Clone, Debug)]
pub struct Expanded {
    pub name: String,
    /// The SQL as the engine runs it, literals bound.
    pub sql: String,
    pub attr_keys: Vec<String>,
    /// A bundled template (a failure is spanlens' bug, exit 5) or a
    /// user's own (`spanlens query`: a usage error).
    pub bundled: bool,
    /// The SQL with its literals still as tokens: what another template
    /// embeds through `{{param:...}}` (see [`Expanded::as_param`]).
    fragment: String,
}

impl Expanded {
    /// SQL spanlens writes itself and sends as it is (no template, no
    /// tokens: literals made with [`literal`]).
    pub fn internal(name: &str, sql: String) -> Expanded {
        Expanded {
            name: name.to_string(),
            fragment: sql.clone(),
            sql,
            attr_keys: Vec::new(),
            bundled: true,
        }
    }

    /// This query as a parameter of another template: its literals stay
    /// tokens, so the outer expansion cannot rewrite inside them.
    pub fn as_param(&self) -> String {
        self.fragment.clone()
    }
}

/// The bundled templates, one id each: a query is asked for by its typed
/// id, never by a string looked up at run time. Each id's file is
/// `queries/NAME.sql`.
macro_rules! templates {
    ($($id:ident => $file:literal,)*) => {
        /// A bundled query template.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Template {
            $($id,)*
        }

        impl Template {
            pub const ALL: &'static [Template] = &[$(Template::$id,)*];

            /// Its file name without `.sql` (the query's name in errors).
            pub fn name(self) -> &'static str {
                match self {
                    $(Template::$id => $file,)*
                }
            }

            /// Its SQL, as bundled into the binary.
            pub fn sql(self) -> &'static str {
                match self {
                    $(Template::$id => include_str!(concat!("../../queries/", $file, ".sql")),)*
                }
            }
        }
    };
}

templates! {
    Cohorts => "cohorts",
    SloCounts => "slo_counts",
    SloQuantiles => "slo_quantiles",
    SloHistograms => "slo_histograms",
    SloEvals => "slo_evals",
    SloEvents => "slo_events",
    SloEvalEvents => "slo_eval_events",
    SloCostEvents => "slo_cost_events",
    CostSpanTokens => "cost_span_tokens",
    CostSpanCosts => "cost_span_costs",
    CostTraceCosts => "cost_trace_costs",
    CostModels => "cost_models",
    CostTokens => "cost_tokens",
    CostTraceQuantiles => "cost_trace_quantiles",
    CostTraceHistograms => "cost_trace_histograms",
    CostTopTraces => "cost_top_traces",
    DriftNumeric => "drift_numeric",
    DriftCategories => "drift_categories",
    DriftFieldType => "drift_field_type",
    DriftCosts => "drift_costs",
    DriftEvals => "drift_evals",
    CompareValues => "compare_values",
    CompareVersions => "compare_versions",
    AnomalyTraces => "anomaly_traces",
    AnomalyTraceTails => "anomaly_trace_tails",
    ExplainHits => "explain_hits",
    ExplainNumeric => "explain_numeric",
    ExplainCategory => "explain_category",
    ExplainSpend => "explain_spend",
    AnomalyModelMix => "anomaly_model_mix",
    AnomalyTopTraces => "anomaly_top_traces",
    AnomalyTokenBounds => "anomaly_token_bounds",
    AnomalyStuffing => "anomaly_stuffing",
    AnomalyBuckets => "anomaly_buckets",
    AnomalySpend => "anomaly_spend",
    AnomalyToolRepeats => "anomaly_tool_repeats",
    AnomalyExamples => "anomaly_examples",
    ReportSpend => "report_spend",
    ReportDailySpend => "report_daily_spend",
    ReportDailyLatency => "report_daily_latency",
    ReportVersionEvals => "report_version_evals",
    WindowSpans => "window_spans",
}

/// The column `modelkey()` reads on the local engine (built once per run
/// from [`model_key_sql`]; a remote engine computes the expression).
pub const MODEL_KEY: &str = "__mkey";

/// `provider|request_model|response_model`, the key of the `prices` table.
pub fn model_key_sql() -> String {
    let c = |n: &str| format!("COALESCE(CAST({n} AS VARCHAR), '')");
    format!(
        "({} || '|' || {} || '|' || {})",
        c(col::PROVIDER),
        c(col::REQUEST_MODEL),
        c(col::RESPONSE_MODEL)
    )
}

/// The templates' polars/DuckDB spellings in Spark SQL, outside string
/// literals: `VARCHAR` -> `STRING` (Spark's VARCHAR needs a length),
/// `QUANTILE_CONT(x, p)` -> `percentile(x, p)` (both exact, type 7).
pub fn spark_words(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut word = String::new();
    let mut in_str = false;
    let flush = |word: &mut String, out: &mut String| {
        let w = match word.to_ascii_uppercase().as_str() {
            "VARCHAR" => "STRING".to_string(),
            "QUANTILE_CONT" => "percentile".to_string(),
            _ => std::mem::take(word),
        };
        out.push_str(&w);
        word.clear();
    };
    for c in sql.chars() {
        if in_str {
            out.push(c);
            if c == '\'' {
                in_str = false;
            }
        } else if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
            if c == '\'' {
                in_str = true;
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Marks the start and end of a bound literal in SQL under expansion.
const LIT_OPEN: char = '\u{1}';
const LIT_CLOSE: char = '\u{2}';

/// A string literal for a template under expansion. The value is not
/// pasted into the SQL: it stands there as a token (its UTF-8 bytes in hex
/// between two control characters) that no placeholder, macro or comment
/// pass can match, and [`bind`] turns every token into the dialect's
/// literal once expansion is over. So a span value such as `{{keys}}`,
/// `logbucket(1)` or `--` is data on every path, never template text.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2 + 2);
    out.push(LIT_OPEN);
    for b in s.bytes() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out.push(LIT_CLOSE);
    out
}

/// A column name in `dialect`, quoted (canonical names such as `user` are
/// SQL keywords).
pub fn ident(c: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Polars => format!("\"{}\"", c.replace('"', "\"\"")),
        Dialect::Spark => format!("`{}`", c.replace('`', "``")),
    }
}

/// A string literal in `dialect`, for SQL sent as it is (not expanded).
pub fn literal(s: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Polars => format!("'{}'", s.replace('\'', "''")),
        // Spark reads backslash escapes inside literals
        Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

/// Replace every [`quote`] token of `sql` by the dialect's literal, in one
/// left-to-right pass (the values inserted are never scanned again).
pub fn bind(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find(LIT_OPEN) {
        out.push_str(&rest[..i]);
        let body = &rest[i + LIT_OPEN.len_utf8()..];
        let end = body.find(LIT_CLOSE).unwrap_or(body.len());
        let hex = &body.as_bytes()[..end];
        let bytes: Vec<u8> = hex
            .chunks(2)
            .map(|p| {
                let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                (d(p[0]) << 4) | p.get(1).map_or(0, |&c| d(c))
            })
            .collect();
        out.push_str(&literal(&String::from_utf8_lossy(&bytes), dialect));
        rest = body.get(end + LIT_CLOSE.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Several key expressions as one text value that tells every tuple
/// apart: each part as `LENGTH:part` (a separator alone could be forged
/// by a value holding it). One expression stands as it is.
fn composite_sql(exprs: &[String]) -> String {
    if let [one] = exprs {
        return one.clone();
    }
    let parts: Vec<String> = exprs
        .iter()
        .map(|e| format!("CAST(LENGTH({e}) AS VARCHAR) || ':' || {e}"))
        .collect();
    format!("({})", parts.join(" || "))
}

/// The value [`composite_sql`] gives for the tuple `values`.
fn composite_value(values: &[String]) -> String {
    if let [one] = values {
        return one.clone();
    }
    values
        .iter()
        .map(|v| format!("{}:{v}", v.chars().count()))
        .collect()
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        // an impossible value keeps `IN (...)` valid
        return quote("\u{0}");
    }
    values
        .iter()
        .map(|v| quote(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One evaluation row's outcome over the `evals` columns: 1 pass, 0 fail,
/// NULL not judged. A pass label passes, a fail label fails, otherwise a
/// score passes at >= the threshold (docs/statistics.md "Rates").
fn eval_outcome(s: &Scope) -> String {
    format!(
        "CASE WHEN LOWER(label) IN ({}) THEN 1 WHEN LOWER(label) IN ({}) THEN 0 \
         WHEN score IS NOT NULL AND score >= {:?} THEN 1 WHEN score IS NOT NULL THEN 0 ELSE NULL END",
        list(&s.pass_labels),
        list(&s.fail_labels),
        s.score_threshold
    )
}

pub struct Expander<'a> {
    pub dialect: Dialect,
    pub method: PercentileMethod,
    pub scope: &'a Scope,
    field: Option<&'a Key>,
    attr_keys: Vec<String>,
    /// the engine's partition-pruning predicate for the scope's window
    partitions: Option<String>,
}

impl<'a> Expander<'a> {
    pub fn new(dialect: Dialect, method: PercentileMethod, scope: &'a Scope) -> Self {
        let mut e = Expander {
            dialect,
            method,
            scope,
            field: None,
            attr_keys: Vec::new(),
            partitions: None,
        };
        // Every expansion of one scope numbers its attributes alike, so a
        // template wrapping another's expanded SQL (`{{param:...}}`)
        // carries the attribute columns that SQL reads.
        let mut keys: Vec<&Key> = scope.keys.iter().collect();
        keys.extend(scope.conditions.iter().map(|c| &c.key));
        if let Some(a) = &scope.arms {
            for arm in [&a.baseline, &a.candidate] {
                match arm {
                    Arm::Window(_) => {}
                    Arm::Where(c) => keys.extend(c.iter().map(|c| &c.key)),
                    Arm::PerCohort { field, .. } => keys.push(field),
                }
            }
        }
        for k in keys {
            e.key_sql(k);
        }
        e
    }

    /// A predicate on partition columns added to `{{spans}}` (remote engines).
    pub fn with_partitions(mut self, filter: Option<String>) -> Self {
        self.partitions = filter;
        self
    }

    /// The field `{{field}}` stands for.
    pub fn with_field(mut self, field: &'a Key) -> Self {
        self.field = Some(field);
        self
    }

    fn key_sql(&mut self, k: &Key) -> String {
        let text = |c: &str| format!("CAST({} AS VARCHAR)", ident(c, self.dialect));
        match k {
            Key::Field { expr, .. } => match expr {
                FieldExpr::Text(c) => text(c),
                FieldExpr::Number(c) => ident(c, self.dialect),
                FieldExpr::Model => format!(
                    "COALESCE({}, {})",
                    text(col::REQUEST_MODEL),
                    text(col::RESPONSE_MODEL)
                ),
            },
            Key::Attr { attr_key, .. } => match self.dialect {
                Dialect::Polars => {
                    let i = match self.attr_keys.iter().position(|a| a == attr_key) {
                        Some(i) => i,
                        None => {
                            self.attr_keys.push(attr_key.clone());
                            self.attr_keys.len() - 1
                        }
                    };
                    format!("__attr_{i}")
                }
                Dialect::Spark => format!(
                    "element_at(map_from_entries({}), {})",
                    col::ATTRS,
                    quote(attr_key)
                ),
            },
        }
    }

    fn condition_sql(&mut self, c: &Condition) -> String {
        let e = self.key_sql(&c.key);
        let inner = format!("{e} IN ({})", list(&c.values));
        if c.negate {
            // a missing value is "not equal" too
            format!("({e} IS NULL OR NOT ({inner}))")
        } else {
            format!("({inner})")
        }
    }

    /// The derived table behind `{{spans}}`.
    fn spans_sql(&mut self) -> String {
        let s = self.scope;
        let mut filters = vec![format!(
            "{} >= {} AND {} < {}",
            col::START_NS,
            s.window.start_ns,
            col::START_NS,
            s.window.end_ns
        )];
        if let Some(p) = &self.partitions {
            filters.push(format!("({p})"));
        }
        for c in &s.conditions {
            let f = self.condition_sql(c);
            filters.push(f);
        }
        let exprs: Vec<String> = s
            .keys
            .iter()
            .map(|k| format!("COALESCE({}, {})", self.key_sql(k), quote(NONE)))
            .collect();
        let mut cols = Vec::new();
        if exprs.is_empty() {
            cols.push(format!("{} AS k0", quote("all")));
        } else if let Some(kept) = &s.kept {
            // everything outside the kept cohorts becomes __other__: one IN
            // list over the cohort's composite key (linear in the cohorts;
            // an OR per cohort nested past the stack at --top 10000)
            let cond = if kept.is_empty() {
                "FALSE".to_string()
            } else {
                let values: Vec<String> = kept.iter().map(|row| composite_value(row)).collect();
                format!("{} IN ({})", composite_sql(&exprs), list(&values))
            };
            for (i, e) in exprs.iter().enumerate() {
                cols.push(format!(
                    "CASE WHEN {cond} THEN {e} ELSE {} END AS k{i}",
                    quote(OTHER)
                ));
            }
        } else {
            for (i, e) in exprs.iter().enumerate() {
                cols.push(format!("{e} AS k{i}"));
            }
        }
        let Some(arms) = &s.arms else {
            return format!(
                "(SELECT *, {} FROM spans WHERE {})",
                cols.join(", "),
                filters.join(" AND ")
            );
        };
        let b = self.arm_sql(&arms.baseline, &exprs);
        let c = self.arm_sql(&arms.candidate, &exprs);
        cols.push(format!(
            "CASE WHEN {b} THEN {} WHEN {c} THEN {} END AS arm",
            quote(BASELINE),
            quote(arms.candidate_label)
        ));
        format!(
            "(SELECT * FROM (SELECT *, {} FROM spans WHERE {}) a WHERE arm IS NOT NULL)",
            cols.join(", "),
            filters.join(" AND ")
        )
    }

    /// The condition selecting one arm's spans; `exprs` are the raw cohort
    /// key expressions.
    fn arm_sql(&mut self, arm: &Arm, exprs: &[String]) -> String {
        match arm {
            Arm::Window(w) => format!(
                "({} >= {} AND {} < {})",
                col::START_NS,
                w.start_ns,
                col::START_NS,
                w.end_ns
            ),
            Arm::Where(conds) if conds.is_empty() => "TRUE".into(),
            Arm::Where(conds) => {
                let parts: Vec<String> = conds.iter().map(|c| self.condition_sql(c)).collect();
                format!("({})", parts.join(" AND "))
            }
            Arm::PerCohort { field, values } => {
                if values.is_empty() {
                    return "FALSE".into();
                }
                // (cohort keys, field value) as one composite key IN a list
                let mut parts: Vec<String> = exprs.to_vec();
                // a span without the field matches nothing (NULL IN ... is not true)
                parts.push(self.key_sql(field));
                let values: Vec<String> = values
                    .iter()
                    .map(|(cohort, v)| {
                        // without --by the cohort is `all`, which no key column holds
                        let mut row: Vec<String> =
                            cohort.iter().take(exprs.len()).cloned().collect();
                        row.push(v.clone());
                        composite_value(&row)
                    })
                    .collect();
                format!("({} IN ({}))", composite_sql(&parts), list(&values))
            }
        }
    }

    fn keys_sql(&self) -> String {
        let n = self.scope.keys.len().max(1);
        let mut keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        if self.scope.arms.is_some() {
            keys.push("arm".into());
        }
        keys.join(", ")
    }

    fn kind_sql(&self) -> String {
        match &self.scope.kind {
            KindFilter::All => "TRUE".into(),
            KindFilter::SpanTypes(t) => {
                format!("CAST({} AS VARCHAR) IN ({})", col::SPAN_TYPE, list(t))
            }
        }
    }

    /// Expand `template` (named `name`, for messages) with `params`.
    pub fn expand(self, name: &str, template: &str, params: &[(&str, String)]) -> Result<Expanded> {
        if template.contains([LIT_OPEN, LIT_CLOSE]) {
            return Err(Error::usage(
                format!("query {name}: the SQL holds the control character U+0001 or U+0002"),
                "remove it; spanlens uses these to bind literals",
            ));
        }
        self.expand_text(name, template, params, false)
    }

    /// Expand `template` as a bundled one (tests of the binding).
    #[cfg(test)]
    fn expand_builtin_text(self, name: &str, template: &str) -> Result<Expanded> {
        self.expand_text(name, template, &[], true)
    }

    /// Expand the bundled template `id`.
    pub fn expand_builtin(self, id: Template, params: &[(&str, String)]) -> Result<Expanded> {
        self.expand_text(id.name(), id.sql(), params, true)
    }

    fn expand_text(
        mut self,
        name: &str,
        template: &str,
        params: &[(&str, String)],
        bundled: bool,
    ) -> Result<Expanded> {
        // comments first: a placeholder named in a comment must not pull a
        // value (which may hold newlines from span data) into the SQL
        let mut sql = strip_comments(template);
        for (k, v) in params {
            sql = sql.replace(&format!("{{{{param:{k}}}}}"), v);
        }
        if sql.contains("{{spans}}") {
            let spans = self.spans_sql();
            sql = sql.replace("{{spans}}", &spans);
        }
        if sql.contains("{{field}}") {
            let Some(f) = self.field else {
                return Err(Error::usage(
                    format!(
                        "query {name}: {{{{field}}}} is only set by drift's per-field templates"
                    ),
                    "use {{spans}} columns directly",
                ));
            };
            let f = self.key_sql(f);
            sql = sql.replace("{{field}}", &f);
        }
        let s = self.scope;
        let replacements = [
            ("{{keys}}", self.keys_sql()),
            ("{{kind}}", self.kind_sql()),
            ("{{refusal_reasons}}", list(&s.refusal_reasons)),
            ("{{pass_labels}}", list(&s.pass_labels)),
            ("{{fail_labels}}", list(&s.fail_labels)),
            ("{{eval_outcome}}", eval_outcome(s)),
            ("{{score_threshold}}", format!("{:?}", s.score_threshold)),
        ];
        for (k, v) in replacements {
            sql = sql.replace(k, &v);
        }
        if let Some(at) = sql.find("{{") {
            let end = sql[at..].find("}}").map_or(sql.len(), |e| at + e + 2);
            return Err(Error::usage(
                format!("query {name}: unknown placeholder {}", &sql[at..end]),
                "placeholders are {{spans}}, {{keys}}, {{kind}}, {{refusal_reasons}}, {{pass_labels}}, \
                 {{fail_labels}}, {{score_threshold}}, {{eval_outcome}}",
            ));
        }
        let mut sql = self.macros(&sql).map_err(|e| {
            Error::usage(
                format!("query {name}: {e}"),
                "see queries/README.md for the macros",
            )
        })?;
        if self.dialect == Dialect::Spark {
            sql = spark_words(&sql);
        }
        Ok(Expanded {
            name: name.to_string(),
            sql: bind(&sql, self.dialect),
            attr_keys: self.attr_keys,
            bundled,
            fragment: sql,
        })
    }

    fn macros(&self, sql: &str) -> std::result::Result<String, String> {
        let mut out = sql.to_string();
        for m in ["pbucket", "logbucket", "timebucket", "modelkey"] {
            out = expand_macro(&out, m, &|args| self.macro_sql(m, args))?;
        }
        Ok(out)
    }

    fn macro_sql(&self, m: &str, args: &[String]) -> std::result::Result<String, String> {
        let one = || -> std::result::Result<&String, String> {
            match args {
                [a] => Ok(a),
                _ => Err(format!("{m}(x) takes one argument")),
            }
        };
        Ok(match m {
            "logbucket" => {
                // Total over every value: engines evaluate every branch of a
                // CASE on every row, so the logarithm only ever sees a
                // positive finite number (1 where the branch is not taken);
                // zeros and negatives take the zero bucket, +inf the top one
                // (stats::quantile::log_bucket, the same in Rust).
                let x = one()?;
                let finite = format!("({x}) > 0 AND ({x}) <= {:e}", f64::MAX);
                format!(
                    "CASE WHEN {finite} THEN CAST(FLOOR(LN(CASE WHEN {finite} THEN ({x}) ELSE 1.0 END) \
                     / LN(1.02)) AS BIGINT) WHEN ({x}) > 0 THEN {} ELSE {} END",
                    crate::stats::quantile::TOP_BUCKET,
                    crate::stats::quantile::ZERO_BUCKET
                )
            }
            "pbucket" => {
                let x = one()?;
                match self.method {
                    PercentileMethod::Exact => format!("CAST({x} AS DOUBLE)"),
                    PercentileMethod::LogBucket => self.macro_sql("logbucket", args)?,
                }
            }
            "timebucket" => match args {
                [t, secs] => {
                    let s: i64 = secs
                        .trim()
                        .parse()
                        .map_err(|_| "timebucket(t, SECONDS) takes whole seconds".to_string())?;
                    let ns = s * 1_000_000_000;
                    format!("(({t}) - (({t}) % {ns}))")
                }
                _ => return Err("timebucket(t, SECONDS) takes two arguments".into()),
            },
            "modelkey" => {
                if !(args.is_empty() || args.len() == 1 && args[0].trim().is_empty()) {
                    return Err("modelkey() takes no arguments".into());
                }
                match self.dialect {
                    // built once per run by the local engine
                    Dialect::Polars => MODEL_KEY.to_string(),
                    Dialect::Spark => model_key_sql(),
                }
            }
            _ => unreachable!(),
        })
    }
}

/// Drop `-- comments` (templates carry their documentation).
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| match l.find("--") {
            Some(i) if !l[..i].contains('\'') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replace every call `name(args)` (matched as a whole word, with
/// balanced parentheses) by `f(args)`.
fn expand_macro(
    sql: &str,
    name: &str,
    f: &dyn Fn(&[String]) -> std::result::Result<String, String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    let pat = format!("{name}(");
    while let Some(i) = rest.find(&pat) {
        let word_start = i == 0
            || !rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !word_start {
            out.push_str(&rest[..i + pat.len()]);
            rest = &rest[i + pat.len()..];
            continue;
        }
        out.push_str(&rest[..i]);
        let body = &rest[i + pat.len()..];
        let (mut depth, mut args, mut cur, mut end) = (1, Vec::new(), String::new(), None);
        for (j, c) in body.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                ',' if depth == 1 => {
                    args.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        let end = end.ok_or_else(|| format!("unbalanced parentheses after {name}("))?;
        args.push(cur);
        // nested macros inside the arguments first
        let args: Vec<String> = args
            .iter()
            .map(|a| expand_macro(a, name, f))
            .collect::<std::result::Result<_, _>>()?;
        out.push_str(&f(&args)?);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::parse_condition;
    use crate::window::Window;
    use proptest::strategy::Strategy;

    fn scope() -> Scope {
        Scope {
            keys: vec![crate::engine::parse_key("route").unwrap()],
            conditions: vec![parse_condition("model!=gpt-4o").unwrap()],
            window: Window {
                start_ns: 10,
                end_ns: 20,
            },
            kind: KindFilter::SpanTypes(vec!["llm".into()]),
            kept: Some(vec![vec!["/chat".into()]]),
            refusal_reasons: vec!["refusal".into()],
            pass_labels: vec!["pass".into()],
            fail_labels: vec!["fail".into()],
            score_threshold: 0.5,
            arms: None,
        }
    }

    #[test]
    fn spark_spellings_outside_literals() {
        assert_eq!(
            spark_words(
                "SELECT CAST(x AS VARCHAR), QUANTILE_CONT(v, 0.5) FROM t WHERE y = 'AS VARCHAR'''"
            ),
            "SELECT CAST(x AS STRING), percentile(v, 0.5) FROM t WHERE y = 'AS VARCHAR'''"
        );
        assert_eq!(spark_words("my_varchar_col"), "my_varchar_col");
    }

    #[test]
    fn every_template_file_is_bundled() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".sql").map(str::to_string)
            })
            .collect();
        files.sort();
        let mut bundled: Vec<String> = Template::ALL.iter().map(|t| t.name().to_string()).collect();
        bundled.sort();
        assert_eq!(files, bundled);
    }

    #[test]
    fn macros_expand_per_dialect() {
        let s = scope();
        let e = Expander::new(Dialect::Polars, PercentileMethod::LogBucket, &s)
            .expand(
                "t",
                "SELECT pbucket(duration_ms) AS b, timebucket(start_ns, 300) AS t FROM x",
                &[],
            )
            .unwrap();
        assert!(
            e.sql.contains(
                "CASE WHEN (duration_ms) > 0 AND (duration_ms) <= 1.7976931348623157e308 THEN \
                 CAST(FLOOR(LN(CASE WHEN (duration_ms) > 0 AND (duration_ms) <= \
                 1.7976931348623157e308 THEN (duration_ms) ELSE 1.0 END) / LN(1.02)) AS BIGINT) \
                 WHEN (duration_ms) > 0 THEN 35842 ELSE -9223372036854775807 END"
            ),
            "{}",
            e.sql
        );
        assert!(
            e.sql.contains("((start_ns) - ((start_ns) % 300000000000))"),
            "{}",
            e.sql
        );
        let e = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand("t", "SELECT pbucket(ttft_ms) FROM x", &[])
            .unwrap();
        assert_eq!(e.sql, "SELECT CAST(ttft_ms AS DOUBLE) FROM x");
    }

    #[test]
    fn spans_scope_has_window_filters_and_other() {
        let s = scope();
        let e = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand(
                "t",
                "SELECT {{keys}}, COUNT(*) FROM {{spans}} s WHERE {{kind}} GROUP BY {{keys}}",
                &[],
            )
            .unwrap();
        assert!(
            e.sql.contains("start_ns >= 10 AND start_ns < 20"),
            "{}",
            e.sql
        );
        assert!(e.sql.contains("NOT (COALESCE(CAST(\"request_model\" AS VARCHAR), CAST(\"response_model\" AS VARCHAR)) IN ('gpt-4o'))"), "{}", e.sql);
        assert!(e.sql.contains("ELSE '__other__' END AS k0"), "{}", e.sql);
        assert!(
            e.sql.contains("CAST(span_type AS VARCHAR) IN ('llm')"),
            "{}",
            e.sql
        );
        let err = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand("t", "SELECT {{nope}}", &[])
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {{nope}}"),
            "{err}"
        );
    }

    #[test]
    fn attr_keys_become_columns_locally_and_map_lookups_on_spark() {
        let mut s = scope();
        s.keys = vec![crate::engine::parse_key("attr:app.region").unwrap()];
        s.kept = None;
        let e = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand("t", "SELECT {{keys}} FROM {{spans}} s", &[])
            .unwrap();
        assert_eq!(e.attr_keys, vec!["app.region".to_string()]);
        assert!(
            e.sql.contains("COALESCE(__attr_0, '(none)') AS k0"),
            "{}",
            e.sql
        );
        let e = Expander::new(Dialect::Spark, PercentileMethod::LogBucket, &s)
            .expand("t", "SELECT {{keys}} FROM {{spans}} s", &[])
            .unwrap();
        assert!(
            e.sql
                .contains("element_at(map_from_entries(attrs), 'app.region')"),
            "{}",
            e.sql
        );
        assert_eq!(bind(&quote("it's"), Dialect::Polars), "'it''s'");
    }

    // Regression: params were substituted before comments were stripped, so
    // a value with a newline (span data) in a comment-named placeholder
    // escaped the comment into the SQL.
    #[test]
    fn placeholders_in_comments_are_not_expanded() {
        let s = scope();
        let e = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand(
                "t",
                "-- filters by {{param:cond}}\nSELECT 1 WHERE {{param:cond}}",
                &[("cond", "x = 'a\nDROP'".into())],
            )
            .unwrap();
        assert_eq!(e.sql, "\nSELECT 1 WHERE x = 'a\nDROP'");
    }

    /// Span values are bound after expansion: a value spelled like a
    /// placeholder, a macro or a comment comes out as the same literal, and
    /// the SQL around it is exactly the SQL around a harmless value.
    #[test]
    fn span_values_are_bound_literals_never_template_text() {
        let hostile = [
            "{{keys}}",
            "{{spans}}",
            "x logbucket(1) y",
            "modelkey()",
            "timebucket(",
            "a -- b",
            "it's",
            "{{param:x}}",
            "\u{1}00\u{2}",
            "back\\slash",
        ];
        let template = "SELECT {{keys}}, logbucket(duration_ms) AS b FROM {{spans}} s WHERE {{kind}} -- {{keys}}";
        for v in hostile {
            let mut s = scope();
            s.kept = Some(vec![vec![v.to_string()]]);
            s.conditions = vec![parse_condition(&format!("route={v}")).unwrap()];
            let mut h = scope();
            h.kept = Some(vec![vec!["HARMLESS".into()]]);
            h.conditions = vec![parse_condition("route=HARMLESS").unwrap()];
            let got = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
                .expand_builtin_text("t", template)
                .unwrap();
            let want = Expander::new(Dialect::Polars, PercentileMethod::Exact, &h)
                .expand_builtin_text("t", template)
                .unwrap();
            assert_eq!(
                got.sql,
                want.sql.replace("'HARMLESS'", &literal(v, Dialect::Polars)),
                "{v}"
            );
            // embedded as a parameter of another template, still the same
            let outer = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
                .expand(
                    "o",
                    "SELECT * FROM ({{param:inner}}) i",
                    &[("inner", got.as_param())],
                )
                .unwrap();
            assert_eq!(outer.sql, format!("SELECT * FROM ({}) i", got.sql), "{v}");
        }
        // a user's template may not hold the token characters
        let s = scope();
        let err = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand("t", "SELECT '\u{1}'", &[])
            .unwrap_err();
        assert!(err.to_string().contains("U+0001"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(18),
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// Any value (drawn from the characters and words the passes look
        /// for) expands to the SQL of a harmless value with its literal.
        #[test]
        fn any_span_value_is_data(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("[{}()'\\,a-z_ -]{0,6}").unwrap(),
                    proptest::sample::select(vec![
                        "{{keys}}", "{{spans}}", "{{kind}}", "{{field}}", "{{param:x}}",
                        "logbucket(", "pbucket(", "timebucket(", "modelkey(", "--", "'", "\u{1}",
                        "\u{2}", "\n",
                    ]).prop_map(str::to_string),
                ],
                0..6,
            )
        ) {
            let v: String = parts.concat();
            let mut s = scope();
            s.kept = Some(vec![vec![v.clone()]]);
            let mut h = scope();
            h.kept = Some(vec![vec!["HARMLESS".into()]]);
            let template = "SELECT {{keys}}, logbucket(x), timebucket(start_ns, 60) FROM {{spans}} s WHERE {{kind}}";
            for d in [Dialect::Polars, Dialect::Spark] {
                let got = Expander::new(d, PercentileMethod::LogBucket, &s)
                    .expand_builtin_text("t", template)
                    .unwrap();
                let want = Expander::new(d, PercentileMethod::LogBucket, &h)
                    .expand_builtin_text("t", template)
                    .unwrap();
                proptest::prop_assert_eq!(
                    got.sql,
                    want.sql.replace(&literal("HARMLESS", d), &literal(&v, d))
                );
            }
        }
    }

    #[test]
    fn literals_per_dialect() {
        assert_eq!(bind(&quote("it's"), Dialect::Polars), "'it''s'");
        assert_eq!(bind(&quote("a\\'b"), Dialect::Spark), "'a\\\\\\'b'");
        assert_eq!(bind(&quote(""), Dialect::Polars), "''");
        assert_eq!(bind(&quote("é✓"), Dialect::Polars), "'é✓'");
        assert_eq!(
            bind(
                &format!("x = {} AND y = {}", quote("a"), quote("b")),
                Dialect::Polars
            ),
            "x = 'a' AND y = 'b'"
        );
        assert_eq!(ident("user", Dialect::Polars), "\"user\"");
        assert_eq!(ident("user", Dialect::Spark), "`user`");
    }

    #[test]
    fn arms_add_an_arm_column_and_key() {
        let mut s = scope();
        s.kept = None;
        s.arms = Some(crate::engine::Arms {
            baseline: Arm::Window(Window {
                start_ns: 0,
                end_ns: 10,
            }),
            candidate: Arm::PerCohort {
                field: crate::engine::parse_key("attr:app.version").unwrap(),
                values: vec![(vec!["/chat".into()], "v'2".into())],
            },
            candidate_label: "candidate",
        });
        let e = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand(
                "t",
                "SELECT {{keys}}, COUNT(*) FROM {{spans}} s GROUP BY {{keys}}",
                &[],
            )
            .unwrap();
        assert!(e.sql.starts_with("SELECT k0, arm, COUNT(*)"), "{}", e.sql);
        assert!(
            e.sql.contains(
                "CASE WHEN (start_ns >= 0 AND start_ns < 10) THEN 'baseline' WHEN \
                 ((CAST(LENGTH(COALESCE(CAST(\"route\" AS VARCHAR), '(none)')) AS VARCHAR) || ':' || \
                 COALESCE(CAST(\"route\" AS VARCHAR), '(none)') || CAST(LENGTH(__attr_0) AS VARCHAR) || \
                 ':' || __attr_0) IN ('5:/chat3:v''2')) THEN 'candidate' END AS arm"
            ),
            "{}",
            e.sql
        );
        assert!(e.sql.contains(") a WHERE arm IS NOT NULL)"), "{}", e.sql);
        assert_eq!(e.attr_keys, vec!["app.version".to_string()]);
        // the field placeholder: set by drift, an error elsewhere
        let f = crate::engine::parse_key("finish_reason").unwrap();
        let e = Expander::new(Dialect::Spark, PercentileMethod::LogBucket, &s)
            .with_field(&f)
            .expand("t", "SELECT {{field}} FROM x", &[])
            .unwrap();
        assert_eq!(e.sql, "SELECT CAST(`finish_reason` AS STRING) FROM x");
        let err = Expander::new(Dialect::Polars, PercentileMethod::Exact, &s)
            .expand("t", "SELECT {{field}} FROM x", &[])
            .unwrap_err();
        assert!(err.to_string().contains("{{field}}"), "{err}");
    }
}
