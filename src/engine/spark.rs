//! The Spark engine (feature `spark`): the bundled templates expanded in
//! Spark SQL and run on a Spark Connect server. Only grouped aggregates
//! come back (as Arrow IPC, read by polars); a row cap refuses a query that
//! would pull raw spans. Inputs are `spanlens ingest` outputs at any path
//! the cluster can read; day partitions become pruning predicates.

use std::io::Cursor;

use polars::prelude::*;
use spark_connect::SparkSession;

use super::template::{literal as sql_literal, quote, Dialect, Expanded};
use super::{Engine, PercentileMethod};
use crate::error::{Error, Result};
use crate::span::schema as col;
use crate::window::{Window, NS_PER_DAY};

pub struct SparkEngine {
    session: SparkSession,
    /// `spans` has a `day=YYYY-MM-DD` partition column (ingest --partition day)
    day_partitions: bool,
    row_cap: usize,
}

fn spark_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::usage(
        format!("{what} failed on Spark: {e}"),
        "check --remote / SPARK_REMOTE and that the cluster can read the input paths; \
         spanlens query --explain --engine spark shows the SQL",
    )
}

/// A path as a Spark SQL identifier: `parquet.`PATH``.
fn parquet_source(path: &str) -> String {
    format!("parquet.`{}`", path.replace('`', "``"))
}

/// Where the spans and evaluations of one input are: an ingest output
/// directory (`DIR/spans`, `DIR/evals`), or a Parquet file with its
/// `.evals.parquet` sibling.
fn layout(input: &str) -> (String, Option<String>) {
    let trimmed = input.trim_end_matches('/');
    if let Some(stem) = trimmed.strip_suffix(".parquet") {
        // a sibling is looked for on local paths only
        let evals = format!("{stem}.evals.parquet");
        let found = !trimmed.contains("://") && std::path::Path::new(&evals).exists();
        return (trimmed.to_string(), found.then_some(evals));
    }
    if !trimmed.contains("://") && !std::path::Path::new(&format!("{trimmed}/spans")).is_dir() {
        // a local directory of span Parquet files (not an ingest output)
        return (trimmed.to_string(), None);
    }
    let evals = format!("{trimmed}/evals");
    let has_evals = trimmed.contains("://") || std::path::Path::new(&evals).exists();
    (format!("{trimmed}/spans"), has_evals.then_some(evals))
}

impl SparkEngine {
    /// Connect to `remote` (`sc://HOST:PORT[/;token=...;use_ssl=true]`) and
    /// register the inputs as the `spans` and `evals` views.
    pub fn connect(remote: &str, inputs: &[String], row_cap: usize) -> Result<SparkEngine> {
        let session = SparkSession::builder()
            .remote(remote)
            .get_or_create()
            .map_err(|e| {
                Error::usage(
                    format!("cannot connect to Spark Connect at {remote}: {e}"),
                    "start a Spark Connect server, or give --remote sc://HOST:PORT",
                )
            })?;
        let mut e = SparkEngine {
            session,
            day_partitions: false,
            row_cap,
        };
        e.load(inputs)?;
        Ok(e)
    }

    fn exec(&self, sql: &str, what: &str) -> Result<()> {
        let df = self.session.sql(sql).map_err(|e| spark_err(what, e))?;
        df.collect().map_err(|e| spark_err(what, e))?;
        Ok(())
    }

    /// The column names of a relation (a view, or `parquet.`PATH``), from
    /// its schema as Spark reads it.
    fn columns(&self, relation: &str, what: &str) -> Result<Vec<String>> {
        let df = self
            .session
            .sql(&format!("SELECT * FROM {relation}"))
            .map_err(|e| spark_err(what, e))?;
        df.columns().map_err(|e| spark_err(what, e))
    }

    /// The first row's column `m` of a one-value query, cast to `dt`.
    fn scalar(&self, sql: String, dt: DataType) -> Result<Option<AnyValue<'static>>> {
        let q = Expanded::internal("last_start", sql);
        let df = self.fetch(&q)?;
        Ok(df
            .column("m")
            .ok()
            .and_then(|c| c.cast(&dt).ok())
            .and_then(|c| c.get(0).ok().map(|v| v.into_static())))
    }

    /// The inputs as one relation: the columns every input has, by name
    /// (Spark SQL's UNION is positional), in the first input's order. A
    /// `day` partition column that only some inputs have is dropped, so no
    /// span is lost to pruning on it.
    fn union(&self, paths: &[String], what: &str) -> Result<String> {
        let first = match paths.first() {
            Some(p) if paths.len() == 1 => {
                return Ok(format!("SELECT * FROM {}", parquet_source(p)));
            }
            Some(p) => self.columns(&parquet_source(p), what)?,
            None => return Ok(String::new()),
        };
        let mut common = first;
        for p in &paths[1..] {
            let cols = self.columns(&parquet_source(p), what)?;
            common.retain(|c| cols.contains(c));
        }
        let list = common
            .iter()
            .map(|c| format!("`{}`", c.replace('`', "``")))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(paths
            .iter()
            .map(|p| format!("SELECT {list} FROM {}", parquet_source(p)))
            .collect::<Vec<_>>()
            .join(" UNION ALL "))
    }

    fn load(&mut self, inputs: &[String]) -> Result<()> {
        let mut spans = Vec::new();
        let mut evals = Vec::new();
        for i in inputs {
            let (s, e) = layout(i);
            spans.push(s);
            evals.extend(e);
        }
        let union = self.union(&spans, "reading the spans")?;
        self.exec(
            &format!("CREATE OR REPLACE TEMP VIEW spans AS {union}"),
            "reading the spans",
        )?;
        // a lake written before the added columns reads them as nulls
        let have = self.columns("spans", "reading the spans' schema")?;
        let added: Vec<String> = col::ADDED_COLUMNS
            .iter()
            .filter(|c| !have.iter().any(|h| h == *c))
            .map(|c| {
                let t = if col::TOKEN_COLUMNS.contains(c) {
                    "BIGINT"
                } else {
                    "STRING"
                };
                format!("CAST(NULL AS {t}) AS `{c}`")
            })
            .collect();
        if !added.is_empty() {
            self.exec(
                &format!(
                    "CREATE OR REPLACE TEMP VIEW spans AS SELECT *, {} FROM ({union})",
                    added.join(", ")
                ),
                "reading the spans",
            )?;
        }
        let evals_sql = if evals.is_empty() {
            format!(
                "SELECT CAST(NULL AS STRING) AS {}, CAST(NULL AS STRING) AS {}, \
                 CAST(NULL AS STRING) AS {}, CAST(NULL AS DOUBLE) AS {}, \
                 CAST(NULL AS STRING) AS {}, CAST(NULL AS STRING) AS {} WHERE FALSE",
                col::TRACE_ID,
                col::SPAN_ID,
                col::EVAL_NAME,
                col::EVAL_SCORE,
                col::EVAL_LABEL,
                col::EVAL_SOURCE
            )
        } else {
            self.union(&evals, "reading the evaluations")?
        };
        self.exec(
            &format!("CREATE OR REPLACE TEMP VIEW evals AS {evals_sql}"),
            "reading the evaluations",
        )?;
        let columns = self.columns("spans", "reading the spans' schema")?;
        self.day_partitions = columns.iter().any(|c| c == "day");
        Ok(())
    }

    /// One query's result as a polars frame (column names kept when empty).
    fn fetch(&self, q: &Expanded) -> Result<DataFrame> {
        let df = self
            .session
            .sql(&q.sql)
            .map_err(|e| spark_err(&format!("query {}", q.name), e))?;
        let capped = df.limit(i32::try_from(self.row_cap + 1).unwrap_or(i32::MAX));
        let bytes = capped
            .to_arrow()
            .map_err(|e| spark_err(&format!("query {}", q.name), e))?;
        let out = IpcReader::new(Cursor::new(bytes))
            .finish()
            .map_err(|e| spark_err(&format!("reading the result of {}", q.name), e))?;
        if out.height() > self.row_cap {
            return Err(super::too_many_rows(&q.name, self.row_cap, "Spark"));
        }
        if out.width() == 0 {
            let names = capped
                .columns()
                .map_err(|e| spark_err(&format!("query {}", q.name), e))?;
            let cols: Vec<Column> = names
                .iter()
                .map(|n| Column::full_null(n.as_str().into(), 0, &DataType::Null))
                .collect();
            return DataFrame::new(0, cols)
                .map_err(|e| spark_err(&format!("reading the result of {}", q.name), e));
        }
        Ok(out)
    }
}

/// A polars dtype as the Spark SQL type its values are cast to.
fn spark_type(dt: &DataType) -> &'static str {
    match dt {
        DataType::Boolean => "BOOLEAN",
        dt if dt.is_integer() => "BIGINT",
        dt if dt.is_float() => "DOUBLE",
        _ => "STRING",
    }
}

/// A cell as a Spark SQL literal.
fn literal(v: AnyValue) -> String {
    match v {
        AnyValue::Null => "NULL".into(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Float64(x) if x.is_finite() => format!("{x:?}"),
        AnyValue::Float32(x) if x.is_finite() => format!("{:?}", x as f64),
        AnyValue::Float64(_) | AnyValue::Float32(_) => "NULL".into(),
        v if v.dtype().is_integer() => v.to_string(),
        v => match v.get_str() {
            Some(s) => sql_literal(s, Dialect::Spark),
            None => sql_literal(&v.to_string(), Dialect::Spark),
        },
    }
}

impl Engine for SparkEngine {
    fn name(&self) -> &'static str {
        "spark"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Spark
    }

    fn percentiles(&self) -> PercentileMethod {
        PercentileMethod::LogBucket
    }

    fn partition_filter(&self, w: Window) -> Option<String> {
        if !self.day_partitions || w.end_ns <= w.start_ns {
            return None;
        }
        let day = |ns: i64| {
            crate::report::format::time_ns(ns.div_euclid(NS_PER_DAY) * NS_PER_DAY)[..10].to_string()
        };
        Some(format!(
            "day >= {} AND day <= {}",
            quote(&day(w.start_ns.max(0))),
            quote(&day(w.end_ns - 1))
        ))
    }

    fn span_extent(&mut self, after_ns: Option<i64>) -> Result<super::Extent> {
        // spans after an instant live in the partitions of its day and later
        let filter = match after_ns {
            None => String::new(),
            Some(t) if self.day_partitions => format!(
                "{} > {t} AND day >= {}",
                col::START_NS,
                sql_literal(&crate::report::format::time_ns(t)[..10], Dialect::Spark)
            ),
            Some(t) => format!("{} > {t}", col::START_NS),
        };
        Ok(super::Extent::of(
            &self.fetch(&super::Extent::query(&filter))?,
        ))
    }

    fn last_start_ns(&mut self, cutoff_ns: i64) -> Result<Option<i64>> {
        // on a day-partitioned lake only the newest day's spans are read:
        // the newest partition value first, answered from the partition
        // listing with no file opened (the optimization's caveat, a
        // partition of empty files, does not arise: ingest writes none),
        // then that day's start times
        let prune = if self.day_partitions {
            self.exec(
                "SET spark.sql.optimizer.metadataOnly=true",
                "reading the partitions",
            )?;
            let cutoff_day = crate::report::format::time_ns(cutoff_ns)[..10].to_string();
            let newest = self.scalar(
                format!(
                    "SELECT CAST(MAX(day) AS STRING) AS m FROM spans WHERE day <= {}",
                    sql_literal(&cutoff_day, Dialect::Spark)
                ),
                DataType::String,
            );
            self.exec(
                "SET spark.sql.optimizer.metadataOnly=false",
                "reading the partitions",
            )?;
            match newest? {
                Some(AnyValue::StringOwned(d)) => {
                    format!(" AND day = {}", sql_literal(d.as_str(), Dialect::Spark))
                }
                _ => return Ok(None),
            }
        } else {
            String::new()
        };
        let max = |prune: &str| -> Result<Option<i64>> {
            let sql = format!(
                "SELECT MAX({c}) AS m FROM spans WHERE {c} <= {cutoff_ns}{prune}",
                c = col::START_NS
            );
            Ok(match self.scalar(sql, DataType::Int64)? {
                Some(AnyValue::Int64(v)) => Some(v),
                _ => None,
            })
        };
        match max(&prune)? {
            // the newest day held only spans after the cutoff: every day
            None if !prune.is_empty() => max(""),
            found => Ok(found),
        }
    }

    fn register(&mut self, name: &str, table: DataFrame) -> Result<()> {
        let cols = table.columns();
        let select: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "CAST(col{} AS {}) AS {}",
                    i + 1,
                    spark_type(c.dtype()),
                    c.name()
                )
            })
            .collect();
        let sql = if table.height() == 0 {
            let nulls: Vec<String> = cols
                .iter()
                .map(|c| format!("CAST(NULL AS {}) AS {}", spark_type(c.dtype()), c.name()))
                .collect();
            format!("SELECT {} WHERE FALSE", nulls.join(", "))
        } else {
            let mut rows = Vec::with_capacity(table.height());
            for r in 0..table.height() {
                let vals: Vec<String> = cols
                    .iter()
                    .map(|c| literal(c.get(r).unwrap_or(AnyValue::Null)))
                    .collect();
                rows.push(format!("({})", vals.join(", ")));
            }
            format!(
                "SELECT {} FROM VALUES {}",
                select.join(", "),
                rows.join(", ")
            )
        };
        self.exec(
            &format!("CREATE OR REPLACE TEMP VIEW {name} AS {sql}"),
            &format!("registering {name}"),
        )
    }

    fn stage(&mut self, name: &str, query: &Expanded) -> Result<()> {
        // a view: Spark plans it into each query that reads it
        self.exec(
            &format!("CREATE OR REPLACE TEMP VIEW {name} AS {}", query.sql),
            &format!("query {}", query.name),
        )
    }

    fn unstage(&mut self, name: &str) -> Result<()> {
        self.exec(
            &format!("DROP VIEW IF EXISTS {name}"),
            &format!("dropping {name}"),
        )
    }

    fn run(&mut self, queries: &[Expanded]) -> Result<Vec<DataFrame>> {
        queries.iter().map(|q| self.fetch(q)).collect()
    }

    fn row_cap(&self) -> Option<usize> {
        Some(self.row_cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_layouts() {
        assert_eq!(
            layout("s3a://bucket/lake/"),
            (
                "s3a://bucket/lake/spans".to_string(),
                Some("s3a://bucket/lake/evals".to_string())
            )
        );
        assert_eq!(
            layout("/nowhere/x.parquet"),
            ("/nowhere/x.parquet".into(), None)
        );
        assert_eq!(parquet_source("/a`b"), "parquet.`/a``b`");
        assert_eq!(literal(AnyValue::String("it's")), "'it\\'s'");
        assert_eq!(literal(AnyValue::Float64(0.5)), "0.5");
        assert_eq!(literal(AnyValue::Int64(-3)), "-3");
    }
}
