//! Parquet inputs: the canonical table (what `spanlens ingest` writes) read
//! as a frame, or any other span table (Phoenix's dotted `attributes.*`
//! dataframe, Langfuse's observations export) read row by row through the
//! flat-record mapping. Phoenix `eval.<name>.score|label` columns become
//! `evals` rows.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::chunk::Chunk;
use super::flat;
use super::json::Val;
use super::scan::ScanOutput;
use crate::error::{Error, Result};
use crate::span::build::to_canonical_types;
use crate::span::row::EvalRow;
use crate::span::schema as s;

const ID_COLUMNS: &[&str] = &["trace_id", "context.trace_id", "traceId", "traceID"];

fn bad(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::input(
        path,
        format!("not a readable Parquet file: {e}"),
        "the file may be truncated or not Parquet; re-export it",
    )
}

/// The whole Parquet file at `path`, read as [`read_guarded`] reads.
pub fn read_file(path: &Path) -> Result<DataFrame> {
    let f = File::open(path).map_err(|e| Error::input_io(path, &e))?;
    read_guarded(path, || ParquetReader::new(f).finish())
}

pub fn read(path: &Path, chunk: &mut Chunk<'_>, out: &mut ScanOutput) -> Result<()> {
    let df = read_file(path)?;
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    chunk.stats.records += df.height() as u64;

    if s::is_evals_schema(&names) {
        chunk.stats.format = "parquet (canonical evals)".into();
        chunk.stats.evals += df.height() as u64;
        let df = crate::span::build::evals_as_text(df).map_err(|e| bad(path, e))?;
        let df = finite_scores(df, chunk).map_err(|e| bad(path, e))?;
        out.eval_frames.push(df);
        return Ok(());
    }
    let canonical_hits = s::SPAN_COLUMNS.iter().filter(|c| names.contains(c)).count();
    if canonical_hits >= 6 && names.contains(&s::START_NS) {
        let missing: Vec<&str> = s::required_span_columns()
            .filter(|c| !names.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(
                path,
                format!(
                    "a spanlens spans table without the column(s) {}",
                    missing.join(", ")
                ),
                "re-create it with `spanlens ingest`",
            ));
        }
        chunk.stats.format = "parquet (canonical spans)".into();
        let mut df = df;
        crate::span::build::with_added_columns(&mut df).map_err(|e| bad(path, e))?;
        let mut df = df
            .select(s::SPAN_COLUMNS.iter().copied())
            .map_err(|e| bad(path, e))?;
        to_canonical_types(&mut df).map_err(|e| {
            Error::input(
                path,
                format!("a column has an unexpected type: {e}"),
                "re-create it with `spanlens ingest`",
            )
        })?;
        for c in [s::TRACE_ID, s::SPAN_ID, s::NAME] {
            if df
                .column(c)
                .map(|c| c.dtype() != &DataType::String)
                .unwrap_or(true)
            {
                return Err(Error::input(
                    path,
                    format!("column `{c}` is not text"),
                    "re-create it with `spanlens ingest`",
                ));
            }
        }
        bound_token_counts(&mut df, chunk).map_err(|e| bad(path, e))?;
        let df = validate_rows(df, chunk).map_err(|e| bad(path, e))?;
        chunk.stats.spans += df.height() as u64;
        out.span_frames.push((chunk.file, df));
        return Ok(());
    }
    if !ID_COLUMNS.iter().any(|c| names.contains(c)) {
        return Err(Error::input(
            path,
            "a Parquet file with neither the spanlens columns nor a trace id column",
            format!(
                "expected the canonical table or a span export with one of: {}",
                ID_COLUMNS.join(", ")
            ),
        ));
    }
    chunk.stats.format = if names.contains(&"context.span_id") {
        "parquet (phoenix spans dataframe)".into()
    } else {
        "parquet (span export)".into()
    };
    read_rows(&df, chunk);
    Ok(())
}

/// Run a polars Parquet read of the file at `path`, after checking its
/// footer and page headers ([`super::pages`]: polars' decoders abort on
/// some corrupt counts, which no catch can stop), and turning its panics on
/// a corrupt file into an error naming the file: polars' footer decoder
/// unwraps some malformed Thrift fields (both found by the parquet_file
/// fuzz target). The panic prints nothing ([`crate::guard`]).
pub fn read_guarded<T>(path: &Path, read: impl FnOnce() -> PolarsResult<T>) -> Result<T> {
    super::pages::check(path)?;
    match crate::guard::catch(read) {
        Ok(r) => r.map_err(|e| bad(path, e)),
        Err(_) => Err(Error::input(
            path,
            "a corrupt Parquet file (its footer does not decode)",
            "re-create it, e.g. with `spanlens ingest`",
        )),
    }
}

/// Evaluation scores that are NaN or infinite become null, counted as
/// invalid values (JSON cannot carry them; a NaN score would pass every
/// threshold, since engines order NaN above every number).
fn finite_scores(mut df: DataFrame, chunk: &mut Chunk<'_>) -> PolarsResult<DataFrame> {
    let fixed: Float64Chunked = {
        let ca = df.column(s::EVAL_SCORE)?.cast(&DataType::Float64)?;
        let ca = ca.f64()?.clone();
        let bad = ca.iter().flatten().filter(|x| !x.is_finite()).count();
        if bad == 0 {
            return Ok(df);
        }
        chunk.stats.invalid_n(s::EVAL_SCORE, bad as u64);
        ca.iter().map(|v| v.filter(|x| x.is_finite())).collect()
    };
    df.with_column(fixed.with_name(s::EVAL_SCORE.into()).into_column())?;
    Ok(df)
}

/// A canonical table is checked as the JSON readers check records: a row
/// without a trace id, span id or start time is rejected (counted, with its
/// row number), and a duration, TTFT or reported cost that is NaN, infinite
/// or negative becomes null and is counted as an invalid value.
fn validate_rows(mut df: DataFrame, chunk: &mut Chunk<'_>) -> PolarsResult<DataFrame> {
    for c in [s::DURATION_MS, s::TTFT_MS, s::REPORTED_COST_USD] {
        let fixed: Float64Chunked = {
            let ca = df.column(c)?.f64()?;
            let ok = |x: &f64| x.is_finite() && *x >= 0.0;
            let bad = ca.iter().flatten().filter(|x| !ok(x)).count();
            if bad == 0 {
                continue;
            }
            chunk.stats.invalid_n(c, bad as u64);
            ca.iter().map(|v| v.filter(ok)).collect()
        };
        df.with_column(fixed.with_name(c.into()).into_column())?;
    }
    let (tid, sid) = (
        df.column(s::TRACE_ID)?.str()?,
        df.column(s::SPAN_ID)?.str()?,
    );
    let start = df.column(s::START_NS)?.i64()?;
    let mut keep = Vec::with_capacity(df.height());
    for (i, ((t, sp), st)) in tid.iter().zip(sid.iter()).zip(start.iter()).enumerate() {
        let why = match (
            t.filter(|t| !t.is_empty()),
            sp.filter(|s| !s.is_empty()),
            st,
        ) {
            (None, _, _) => Some("row without a trace_id"),
            (_, None, _) => Some("row without a span_id"),
            (_, _, None) => Some("row without a start_ns"),
            _ => None,
        };
        if let Some(why) = why {
            chunk.stats.reject(i as u64 + 1, why);
        }
        keep.push(why.is_none());
    }
    if keep.iter().all(|k| *k) {
        return Ok(df);
    }
    df.filter(&BooleanChunked::from_slice("keep".into(), &keep))
}

/// Token counts outside 0..=MAX_COUNT (a canonical table written by
/// something else, or corrupt) become null and are counted as invalid
/// values, as the JSON readers do: their sums could otherwise wrap.
fn bound_token_counts(df: &mut DataFrame, chunk: &mut Chunk<'_>) -> PolarsResult<()> {
    use crate::ingest::resolve::MAX_COUNT;
    for c in s::TOKEN_COLUMNS {
        let ca = df.column(c)?.i64()?;
        let ok = |x: &i64| (0..=MAX_COUNT).contains(x);
        let bad = ca.iter().flatten().filter(|x| !ok(x)).count();
        if bad == 0 {
            continue;
        }
        let fixed: Int64Chunked = ca.iter().map(|v| v.filter(ok)).collect();
        df.with_column(fixed.with_name(c.into()).into_column())?;
        chunk.stats.invalid_n(c, bad as u64);
    }
    Ok(())
}

fn any_to_val(v: AnyValue<'_>) -> Val<'static> {
    match v {
        AnyValue::Null => Val::Null,
        AnyValue::Boolean(b) => Val::Bool(b),
        AnyValue::String(s) => Val::Str(Cow::Owned(s.to_string())),
        AnyValue::StringOwned(s) => Val::Str(Cow::Owned(s.to_string())),
        AnyValue::Int8(n) => Val::I64(n as i64),
        AnyValue::Int16(n) => Val::I64(n as i64),
        AnyValue::Int32(n) => Val::I64(n as i64),
        AnyValue::Int64(n) => Val::I64(n),
        AnyValue::UInt8(n) => Val::I64(n as i64),
        AnyValue::UInt16(n) => Val::I64(n as i64),
        AnyValue::UInt32(n) => Val::I64(n as i64),
        AnyValue::UInt64(n) => i64::try_from(n).map(Val::I64).unwrap_or(Val::U64(n)),
        AnyValue::Float32(f) if f.is_nan() => Val::Null,
        AnyValue::Float64(f) if f.is_nan() => Val::Null, // pandas NaN = missing
        AnyValue::Float32(f) => Val::F64(f as f64),
        AnyValue::Float64(f) => Val::F64(f),
        AnyValue::Datetime(t, unit, _) | AnyValue::DatetimeOwned(t, unit, _) => {
            Val::I64(match unit {
                TimeUnit::Nanoseconds => t,
                TimeUnit::Microseconds => t.saturating_mul(1_000),
                TimeUnit::Milliseconds => t.saturating_mul(1_000_000),
            })
        }
        AnyValue::List(series) => Val::Arr(
            (0..series.len())
                .map(|i| series.get(i).map(any_to_val).unwrap_or(Val::Null))
                .collect(),
        ),
        AnyValue::Categorical(..)
        | AnyValue::CategoricalOwned(..)
        | AnyValue::Enum(..)
        | AnyValue::EnumOwned(..) => match v.get_str() {
            Some(s) => Val::Str(Cow::Owned(s.to_string())),
            None => Val::Null,
        },
        other => Val::Str(Cow::Owned(other.to_string())),
    }
}

/// Rows of a non-canonical span table through the flat-record mapping.
fn read_rows(df: &DataFrame, chunk: &mut Chunk<'_>) {
    let cols = df.columns();
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    for row in 0..df.height() {
        let mut kv: Vec<(Cow<'static, str>, Val<'static>)> = Vec::with_capacity(cols.len());
        let mut evals: Vec<(String, Option<f64>, Option<String>)> = Vec::new();
        for (c, name) in cols.iter().zip(&names) {
            let v = match c.get(row) {
                Ok(v) => any_to_val(v),
                Err(_) => Val::Null,
            };
            if v.is_null() || name == "__index_level_0__" {
                continue;
            }
            if let Some(rest) = name.strip_prefix("eval.") {
                if let Some((ename, leaf)) = rest.rsplit_once('.') {
                    let e = match evals.iter_mut().position(|e| e.0 == ename) {
                        Some(i) => &mut evals[i],
                        None => {
                            evals.push((ename.to_string(), None, None));
                            evals.last_mut().expect("pushed")
                        }
                    };
                    let mut n = 0;
                    match leaf {
                        "score" => e.1 = super::resolve::to_f64(&v, &mut n),
                        "label" => e.2 = v.as_str().map(str::to_string),
                        _ => {}
                    }
                }
                continue;
            }
            kv.push((Cow::Owned(name.clone()), v));
        }
        let (mut raw, resource) = flat::flat_to_raw(kv);
        let tid = raw.trace_id.as_deref().and_then(|t| {
            super::resolve::normalize_id(t, 16, super::resolve::IdPolicy::Lenient).ok()
        });
        let sid = raw.span_id.as_deref().and_then(|t| {
            super::resolve::normalize_id(t, 8, super::resolve::IdPolicy::Lenient).ok()
        });
        if let (Some(t), Some(sp)) = (tid, sid) {
            for (name, score, label) in evals {
                raw.evals.push(EvalRow {
                    trace_id: t.0.clone(),
                    span_id: Some(sp.0.clone()),
                    name: name.into(),
                    score,
                    label: label.map(Into::into),
                    source: "phoenix.column".into(),
                });
            }
        }
        chunk.add_span(
            raw,
            &resource,
            super::resolve::IdPolicy::Lenient,
            row as u64 + 1,
            0,
        );
    }
}
