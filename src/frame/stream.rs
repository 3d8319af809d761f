//! Large canonical Parquet inputs, streamed (issue 7: 100M spans in bounded
//! memory). When every input is `spanlens ingest` Parquet (the spans table
//! and its evals) and the spans number more than a bound, the reports run
//! on lazy scans of the files through polars' streaming engine: each query
//! reads only the columns and row groups it needs, and nothing holds the
//! whole table. Anything else (JSONL, other Parquet, a smaller input) is
//! loaded into memory by [`super::load`] as before.
//!
//! What changes on the streamed path, and the report says so in its
//! `inputs` line: percentiles come from log-bucket histograms (1% relative
//! accuracy; exact ones would hold every distinct value), and spans are not
//! deduplicated across the input files (`spanlens ingest` already wrote
//! each span once; the in-memory path's set of every id is what does not
//! fit).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::resolve::MAX_COUNT;
use crate::ingest::source::{self, Input};
use crate::span::schema as s;

/// Spans above which a canonical Parquet input is streamed, unless
/// `SPANLENS_STREAM_SPANS` says otherwise (0 streams every such input).
pub const STREAM_SPANS: u64 = 20_000_000;

/// The streamed inputs.
pub struct Streamed {
    pub spans: LazyFrame,
    pub evals: LazyFrame,
    pub files: usize,
    pub span_rows: u64,
}

/// The bound from the environment, else [`STREAM_SPANS`].
pub fn threshold() -> u64 {
    std::env::var("SPANLENS_STREAM_SPANS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(STREAM_SPANS)
}

fn bad(path: &Path, e: PolarsError) -> Error {
    Error::input(
        path,
        format!("not a readable Parquet file: {e}"),
        "re-create it with `spanlens ingest`",
    )
}

/// What one input file is, from its footer alone.
enum Kind {
    Spans(u64, Schema),
    Evals,
    Other,
}

fn kind(path: &Path) -> Kind {
    let is_parquet = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    if !is_parquet {
        return Kind::Other;
    }
    let Ok(f) = File::open(path) else {
        return Kind::Other;
    };
    // (a corrupt file: the loader reports it)
    let footer = crate::ingest::parquet::read_guarded(path, || {
        let mut r = ParquetReader::new(f);
        Ok((r.schema()?, r.num_rows()?))
    });
    let Ok((schema, rows)) = footer else {
        return Kind::Other;
    };
    let schema = Schema::from_arrow_schema(&schema);
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    if s::is_evals_schema(&names) {
        return Kind::Evals;
    }
    let text = |c: &str| schema.get(c) == Some(&DataType::String);
    if s::required_span_columns().all(|c| names.contains(&c))
        && [s::TRACE_ID, s::SPAN_ID, s::NAME].into_iter().all(text)
    {
        Kind::Spans(rows as u64, schema)
    } else {
        Kind::Other
    }
}

/// The inputs as lazy scans when they qualify (see the module), else None.
pub fn open(args: &[String], bound: u64) -> Result<Option<Streamed>> {
    let expanded = source::expand(args)?;
    let mut spans: Vec<(PathBuf, Schema)> = Vec::new();
    let mut evals: Vec<PathBuf> = Vec::new();
    let mut rows = 0u64;
    for input in &expanded.inputs {
        let Input::Path(p) = input else {
            return Ok(None);
        };
        match kind(p) {
            Kind::Spans(n, schema) => {
                rows += n;
                spans.push((p.clone(), schema));
                // the evals beside a spans file, as the loader reads them
                if let Some(sib) = super::evals_sibling(p) {
                    if !evals.contains(&sib) && !expanded.inputs.contains(&Input::Path(sib.clone()))
                    {
                        evals.push(sib);
                    }
                }
            }
            Kind::Evals => evals.push(p.clone()),
            Kind::Other => return Ok(None),
        }
    }
    if spans.is_empty() || rows <= bound {
        return Ok(None);
    }
    // corrupt page headers abort polars' decoder (ingest::pages): every
    // file kind() read was checked by read_guarded, the evals beside the
    // spans files not yet
    for p in &evals {
        if !expanded.inputs.contains(&Input::Path(p.clone())) {
            crate::ingest::pages::check(p)?;
        }
    }
    // One multi-file scan per distinct file schema (normally one for the
    // whole input), read one after the other. A union of one scan per file
    // runs every file at once in the streaming engine, each decoding its
    // row groups ahead: memory then grows with the number of files (100M
    // spans in 90 day files did not fit in 21 GiB). A multi-file scan
    // bounds what it reads ahead, and an ordered union reads its inputs in
    // turn.
    let mut groups: Vec<(Schema, Vec<PathBuf>)> = Vec::new();
    for (p, schema) in spans {
        match groups.iter_mut().find(|(s, _)| *s == schema) {
            Some((_, paths)) => paths.push(p),
            None => groups.push((schema, vec![p])),
        }
    }
    let first = groups[0].1[0].clone();
    let mut span_scans = Vec::with_capacity(groups.len());
    for (schema, paths) in &groups {
        span_scans.push(scan(paths)?.select(span_exprs(schema)));
    }
    let files = groups.iter().map(|(_, p)| p.len()).sum::<usize>() + evals.len();
    let in_turn = UnionArgs {
        parallel: false,
        rechunk: false,
        maintain_order: true,
        ..Default::default()
    };
    let spans_lf = concat(span_scans, in_turn).map_err(|e| bad(&first, e))?;
    let evals_lf = if evals.is_empty() {
        crate::span::build::evals_frame(&[])
            .map_err(|e| bad(&first, e))?
            .lazy()
    } else {
        // a scan per evals file, each cast to the loader's types (evals
        // files are few and small beside the spans), read in turn
        let mut scans = Vec::with_capacity(evals.len());
        for p in &evals {
            scans.push(scan(std::slice::from_ref(p))?.select(eval_exprs()));
        }
        concat(scans, in_turn).map_err(|e| bad(&evals[0], e))?
    };
    Ok(Some(Streamed {
        spans: spans_lf,
        evals: evals_lf,
        files,
        span_rows: rows,
    }))
}

fn scan(paths: &[PathBuf]) -> Result<LazyFrame> {
    // the `day=` directories are not columns (the window filters on
    // start_ns, which the row-group statistics prune); the paths are files
    // already expanded, not globs
    let args = ScanArgsParquet {
        hive_options: HiveOptions::new_disabled(),
        glob: false,
        ..Default::default()
    };
    let sources = paths
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
        .collect();
    LazyFrame::scan_parquet_files(sources, args).map_err(|e| bad(&paths[0], e))
}

/// The canonical columns with the loader's types, and token counts outside
/// 0..=MAX_COUNT as null (as `ingest::parquet` reads them).
fn span_exprs(schema: &Schema) -> Vec<Expr> {
    let cat = DataType::from_categories(Categories::global());
    let cast = |name: &str, to: &DataType| -> Expr {
        if schema.get(name).is_none() {
            // a column added since the table was written
            lit(NULL).cast(to.clone())
        } else if schema.get(name) == Some(to) {
            col(name)
        } else if *to == cat {
            col(name).cast(DataType::String).cast(to.clone())
        } else {
            col(name).cast(to.clone())
        }
    };
    s::SPAN_COLUMNS
        .iter()
        .map(|&name| {
            let e = if s::CATEGORICAL_COLUMNS.contains(&name) {
                cast(name, &cat)
            } else if s::TOKEN_COLUMNS.contains(&name) {
                let x = cast(name, &DataType::Int64);
                when(
                    x.clone()
                        .gt_eq(lit(0i64))
                        .and(x.clone().lt_eq(lit(MAX_COUNT))),
                )
                .then(x)
                .otherwise(lit(NULL).cast(DataType::Int64))
            } else if [s::START_NS, s::END_NS].contains(&name) {
                cast(name, &DataType::Int64)
            } else if [s::DURATION_MS, s::REPORTED_COST_USD, s::TTFT_MS].contains(&name) {
                cast(name, &DataType::Float64)
            } else {
                col(name)
            };
            e.alias(name)
        })
        .collect()
}

fn eval_exprs() -> Vec<Expr> {
    s::EVAL_COLUMNS
        .iter()
        .map(|&name| {
            if name == s::EVAL_SCORE {
                col(name).cast(DataType::Float64)
            } else {
                col(name).cast(DataType::String)
            }
            .alias(name)
        })
        .collect()
}
