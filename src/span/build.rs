//! Rows -> the canonical polars frames (and back, for dedup of frames read
//! from canonical Parquet). Low-cardinality strings become categoricals
//! (dictionary-encoded in Parquet); `attrs` is a list<struct<key, value>>,
//! the physical layout of a Parquet/Arrow map.

use polars::prelude::*;
use polars_arrow::array::{Array, ListArray, StructArray, Utf8ViewArray};
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField};
use polars_arrow::offset::OffsetsBuffer;

use super::row::{EvalRow, Kind, SpanRow, SpanType, Status};
use super::schema as s;

/// Rows kept in batches, as the scan made them.
type Rows<'a> = &'a [Vec<SpanRow>];

fn each<'a>(rows: Rows<'a>) -> impl Iterator<Item = &'a SpanRow> {
    rows.iter().flatten()
}

fn str_col<'a>(name: &str, rows: Rows<'a>, f: impl Fn(&'a SpanRow) -> Option<&'a str>) -> Column {
    let v: Vec<Option<&str>> = each(rows).map(f).collect();
    Series::new(name.into(), v).into_column()
}

fn i64_col(name: &str, rows: Rows<'_>, f: impl Fn(&SpanRow) -> Option<i64>) -> Column {
    let v: Vec<Option<i64>> = each(rows).map(f).collect();
    Series::new(name.into(), v).into_column()
}

fn f64_col(name: &str, rows: Rows<'_>, f: impl Fn(&SpanRow) -> Option<f64>) -> Column {
    let v: Vec<Option<f64>> = each(rows).map(f).collect();
    Series::new(name.into(), v).into_column()
}

pub fn attrs_dtype() -> ArrowDataType {
    ArrowDataType::Struct(vec![
        ArrowField::new(s::ATTR_KEY.into(), ArrowDataType::Utf8View, true),
        ArrowField::new(s::ATTR_VALUE.into(), ArrowDataType::Utf8View, true),
    ])
}

fn attrs_col(rows: Rows<'_>) -> PolarsResult<Column> {
    let total: usize = each(rows).map(|r| r.attrs.len()).sum();
    let mut keys: Vec<&str> = Vec::with_capacity(total);
    let mut values: Vec<&str> = Vec::with_capacity(total);
    let n: usize = rows.iter().map(Vec::len).sum();
    let mut offsets: Vec<i64> = Vec::with_capacity(n + 1);
    offsets.push(0);
    for r in each(rows) {
        for (k, v) in &r.attrs {
            keys.push(k);
            values.push(v);
        }
        offsets.push(keys.len() as i64);
    }
    let k = Utf8ViewArray::from_slice_values(&keys);
    let v = Utf8ViewArray::from_slice_values(&values);
    let st = StructArray::new(attrs_dtype(), total, vec![k.boxed(), v.boxed()], None);
    let list_dtype = ListArray::<i64>::default_datatype(attrs_dtype());
    let offsets: OffsetsBuffer<i64> = offsets
        .try_into()
        .map_err(|_| polars_err!(ComputeError: "attrs offsets"))?;
    let arr = ListArray::<i64>::new(list_dtype, offsets, st.boxed(), None);
    Ok(ListChunked::with_chunk(s::ATTRS.into(), arr)
        .into_series()
        .into_column())
}

/// The spans frame in canonical column order, from rows in batches.
pub fn spans_frame(rows: &[Vec<SpanRow>]) -> PolarsResult<DataFrame> {
    let cols = vec![
        str_col(s::TRACE_ID, rows, |r| Some(&r.trace_id)),
        str_col(s::SPAN_ID, rows, |r| Some(&r.span_id)),
        str_col(s::PARENT_SPAN_ID, rows, |r| r.parent_span_id.as_deref()),
        str_col(s::NAME, rows, |r| Some(&r.name)),
        str_col(s::KIND, rows, |r| {
            Some(r.kind.map_or("unspecified", |k| k.as_str()))
        }),
        str_col(s::SPAN_TYPE, rows, |r| {
            Some(r.span_type.map_or("other", |k| k.as_str()))
        }),
        i64_col(s::START_NS, rows, |r| Some(r.start_ns)),
        i64_col(s::END_NS, rows, |r| r.end_ns),
        f64_col(s::DURATION_MS, rows, |r| r.duration_ms),
        str_col(s::STATUS, rows, |r| {
            Some(r.status.map_or("unset", |k| k.as_str()))
        }),
        str_col(s::ERROR_TYPE, rows, |r| r.error_type.as_deref()),
        str_col(s::SERVICE, rows, |r| r.service.as_deref()),
        str_col(s::OPERATION, rows, |r| r.operation.as_deref()),
        str_col(s::PROVIDER, rows, |r| r.provider.as_deref()),
        str_col(s::REQUEST_MODEL, rows, |r| r.request_model.as_deref()),
        str_col(s::RESPONSE_MODEL, rows, |r| r.response_model.as_deref()),
        str_col(s::SERVICE_TIER, rows, |r| r.service_tier.as_deref()),
        i64_col(s::INPUT_TOKENS, rows, |r| r.input_tokens),
        i64_col(s::OUTPUT_TOKENS, rows, |r| r.output_tokens),
        i64_col(s::CACHE_READ_TOKENS, rows, |r| r.cache_read_tokens),
        i64_col(s::CACHE_WRITE_TOKENS, rows, |r| r.cache_write_tokens),
        i64_col(s::CACHE_WRITE_1H_TOKENS, rows, |r| r.cache_write_1h_tokens),
        i64_col(s::REASONING_TOKENS, rows, |r| r.reasoning_tokens),
        f64_col(s::REPORTED_COST_USD, rows, |r| r.reported_cost_usd),
        f64_col(s::TTFT_MS, rows, |r| r.ttft_ms),
        str_col(s::FINISH_REASON, rows, |r| r.finish_reason.as_deref()),
        str_col(s::ROUTE, rows, |r| r.route.as_deref()),
        str_col(s::TENANT, rows, |r| r.tenant.as_deref()),
        str_col(s::USER, rows, |r| r.user.as_deref()),
        str_col(s::SESSION, rows, |r| r.session.as_deref()),
        str_col(s::PROMPT_VERSION, rows, |r| r.prompt_version.as_deref()),
        str_col(s::AGENT, rows, |r| r.agent.as_deref()),
        str_col(s::TOOL, rows, |r| r.tool.as_deref()),
        attrs_col(rows)?,
    ];
    let mut df = DataFrame::new_infer_height(cols)?;
    to_canonical_types(&mut df)?;
    Ok(df)
}

/// A canonical spans table written before the [`s::ADDED_COLUMNS`] existed
/// reads them as nulls.
pub fn with_added_columns(df: &mut DataFrame) -> PolarsResult<()> {
    let height = df.height();
    for &name in s::ADDED_COLUMNS {
        if df.column(name).is_err() {
            let dt = if s::TOKEN_COLUMNS.contains(&name) {
                DataType::Int64
            } else {
                DataType::String
            };
            df.with_column(Column::full_null(name.into(), height, &dt))?;
        }
    }
    Ok(())
}

/// Cast the categorical columns (also used on frames read from Parquet, so
/// every source ends with identical dtypes).
pub fn to_canonical_types(df: &mut DataFrame) -> PolarsResult<()> {
    let cat = DataType::from_categories(Categories::global());
    for name in s::CATEGORICAL_COLUMNS {
        let c = df.column(name)?;
        if c.dtype() != &cat {
            let casted = c.cast(&DataType::String)?.cast(&cat)?;
            df.with_column(casted)?;
        }
    }
    for name in [s::START_NS, s::END_NS].into_iter().chain(s::TOKEN_COLUMNS) {
        let c = df.column(name)?;
        if c.dtype() != &DataType::Int64 {
            let casted = c.cast(&DataType::Int64)?;
            df.with_column(casted)?;
        }
    }
    for name in [s::DURATION_MS, s::REPORTED_COST_USD, s::TTFT_MS] {
        let c = df.column(name)?;
        if c.dtype() != &DataType::Float64 {
            let casted = c.cast(&DataType::Float64)?;
            df.with_column(casted)?;
        }
    }
    Ok(())
}

/// An `evals` table read from Parquet, its text columns as plain strings
/// (another writer may have stored them dictionary-encoded), in table order.
pub fn evals_as_text(mut df: DataFrame) -> PolarsResult<DataFrame> {
    for c in [
        s::TRACE_ID,
        s::SPAN_ID,
        s::EVAL_NAME,
        s::EVAL_LABEL,
        s::EVAL_SOURCE,
    ] {
        let col = df.column(c)?.cast(&DataType::String)?;
        df.with_column(col)?;
    }
    df.select(s::EVAL_COLUMNS.iter().copied())
}

pub fn evals_frame(rows: &[EvalRow]) -> PolarsResult<DataFrame> {
    let trace: Vec<&str> = rows.iter().map(|r| r.trace_id.as_ref()).collect();
    let span: Vec<Option<&str>> = rows.iter().map(|r| r.span_id.as_deref()).collect();
    let name: Vec<&str> = rows.iter().map(|r| r.name.as_ref()).collect();
    let score: Vec<Option<f64>> = rows.iter().map(|r| r.score).collect();
    let label: Vec<Option<&str>> = rows.iter().map(|r| r.label.as_deref()).collect();
    let source: Vec<&str> = rows.iter().map(|r| r.source.as_ref()).collect();
    DataFrame::new_infer_height(vec![
        Series::new(s::TRACE_ID.into(), trace).into_column(),
        Series::new(s::SPAN_ID.into(), span).into_column(),
        Series::new(s::EVAL_NAME.into(), name).into_column(),
        Series::new(s::EVAL_SCORE.into(), score).into_column(),
        Series::new(s::EVAL_LABEL.into(), label).into_column(),
        Series::new(s::EVAL_SOURCE.into(), source).into_column(),
    ])
}

/// Every key/value pair of one row's `attrs` (for tests and inspect).
pub fn attrs_of_row(df: &DataFrame, row: usize) -> PolarsResult<Vec<(String, String)>> {
    let list = df.column(s::ATTRS)?.list()?;
    let Some(inner) = list.get_as_series(row) else {
        return Ok(Vec::new());
    };
    let st = inner.struct_()?;
    let fields = st.fields_as_series();
    let keys = fields[0].str()?;
    let vals = fields[1].str()?;
    Ok(keys
        .iter()
        .zip(vals.iter())
        .map(|(k, v)| (k.unwrap_or("").to_string(), v.unwrap_or("").to_string()))
        .collect())
}

/// The value of attribute `key` in each row of an `attrs` column, where
/// `keep` accepts it (null where absent or not kept).
pub fn attr_values(
    attrs: &Column,
    key: &str,
    name: &str,
    keep: &dyn Fn(&str) -> bool,
) -> PolarsResult<Column> {
    let ca = attrs.list()?;
    let mut out: Vec<Option<&str>> = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        let arr: &ListArray<i64> = arr;
        let st = arr
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| polars_err!(ComputeError: "attrs is not a list of structs"))?;
        let text = |i: usize| {
            st.values()[i]
                .as_any()
                .downcast_ref::<Utf8ViewArray>()
                .ok_or_else(|| polars_err!(ComputeError: "attrs keys and values are not strings"))
        };
        let (keys, vals) = (text(0)?, text(1)?);
        let offsets = arr.offsets();
        for i in 0..arr.len() {
            if arr.is_null(i) {
                out.push(None);
                continue;
            }
            let (a, b) = offsets.start_end(i);
            let hit = (a..b).find(|&j| keys.is_valid(j) && keys.value(j) == key);
            out.push(hit.and_then(|j| vals.get(j)).filter(|v| keep(v)));
        }
    }
    Ok(StringChunked::from_iter_options(name.into(), out.into_iter()).into_column())
}

/// Text columns as `&str` per row, whether stored as text or categorical.
fn text_values(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    let c = df.column(name)?;
    let c = if c.dtype() == &DataType::String {
        c.clone()
    } else {
        c.cast(&DataType::String)?
    };
    Ok(c.str()?.rechunk().into_owned())
}

/// The rows of a spans frame in canonical columns (the inverse of
/// [`spans_frame`]: `spans_frame(&[rows_from_frame(df)])` equals `df`), so
/// spilled spans can be deduplicated and inherited as rows again
/// (`frame::spill`). `file` gives each row's input file index. Repeated
/// strings share one allocation through `interner`.
pub fn rows_from_frame(
    df: &DataFrame,
    file: &[u32],
    interner: &mut crate::ingest::resolve::Interner,
) -> PolarsResult<Vec<SpanRow>> {
    let n = df.height();
    if file.len() != n {
        polars_bail!(ComputeError: "{} file indices for {n} rows", file.len());
    }
    let mut rows: Vec<SpanRow> = file
        .iter()
        .map(|&f| SpanRow {
            file: f,
            ..Default::default()
        })
        .collect();
    // ids: one allocation each, as the readers make them
    type SetId = fn(&mut SpanRow, &str);
    let ids: [(&str, SetId); 3] = [
        (s::TRACE_ID, |r, v| r.trace_id = v.into()),
        (s::SPAN_ID, |r, v| r.span_id = v.into()),
        (s::PARENT_SPAN_ID, |r, v| r.parent_span_id = Some(v.into())),
    ];
    for (name, set) in ids {
        for (r, v) in rows.iter_mut().zip(text_values(df, name)?.iter()) {
            if let Some(v) = v {
                set(r, v);
            }
        }
    }
    for (r, v) in rows.iter_mut().zip(text_values(df, s::NAME)?.iter()) {
        r.name = interner.get(v.unwrap_or(""));
    }
    for (r, v) in rows.iter_mut().zip(text_values(df, s::KIND)?.iter()) {
        r.kind = v.and_then(Kind::parse);
    }
    for (r, v) in rows.iter_mut().zip(text_values(df, s::SPAN_TYPE)?.iter()) {
        r.span_type = v.and_then(SpanType::parse);
    }
    for (r, v) in rows.iter_mut().zip(text_values(df, s::STATUS)?.iter()) {
        r.status = v.and_then(Status::parse);
    }
    type Shared = fn(&mut SpanRow) -> &mut Option<std::sync::Arc<str>>;
    let shared: [(&str, Shared); 15] = [
        (s::ERROR_TYPE, |r| &mut r.error_type),
        (s::SERVICE, |r| &mut r.service),
        (s::OPERATION, |r| &mut r.operation),
        (s::PROVIDER, |r| &mut r.provider),
        (s::REQUEST_MODEL, |r| &mut r.request_model),
        (s::RESPONSE_MODEL, |r| &mut r.response_model),
        (s::SERVICE_TIER, |r| &mut r.service_tier),
        (s::FINISH_REASON, |r| &mut r.finish_reason),
        (s::ROUTE, |r| &mut r.route),
        (s::TENANT, |r| &mut r.tenant),
        (s::USER, |r| &mut r.user),
        (s::SESSION, |r| &mut r.session),
        (s::PROMPT_VERSION, |r| &mut r.prompt_version),
        (s::AGENT, |r| &mut r.agent),
        (s::TOOL, |r| &mut r.tool),
    ];
    for (name, field) in shared {
        for (r, v) in rows.iter_mut().zip(text_values(df, name)?.iter()) {
            *field(r) = v.map(|v| interner.get(v));
        }
    }
    let int = |name: &str| -> PolarsResult<Int64Chunked> {
        Ok(df
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .rechunk()
            .into_owned())
    };
    let float = |name: &str| -> PolarsResult<Float64Chunked> {
        Ok(df
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .rechunk()
            .into_owned())
    };
    for (r, v) in rows.iter_mut().zip(int(s::START_NS)?.iter()) {
        r.start_ns = v.unwrap_or(0);
    }
    type IntField = fn(&mut SpanRow) -> &mut Option<i64>;
    let ints: [(&str, IntField); 7] = [
        (s::END_NS, |r| &mut r.end_ns),
        (s::INPUT_TOKENS, |r| &mut r.input_tokens),
        (s::OUTPUT_TOKENS, |r| &mut r.output_tokens),
        (s::CACHE_READ_TOKENS, |r| &mut r.cache_read_tokens),
        (s::CACHE_WRITE_TOKENS, |r| &mut r.cache_write_tokens),
        (s::CACHE_WRITE_1H_TOKENS, |r| &mut r.cache_write_1h_tokens),
        (s::REASONING_TOKENS, |r| &mut r.reasoning_tokens),
    ];
    for (name, field) in ints {
        for (r, v) in rows.iter_mut().zip(int(name)?.iter()) {
            *field(r) = v;
        }
    }
    type FloatField = fn(&mut SpanRow) -> &mut Option<f64>;
    let floats: [(&str, FloatField); 3] = [
        (s::DURATION_MS, |r| &mut r.duration_ms),
        (s::REPORTED_COST_USD, |r| &mut r.reported_cost_usd),
        (s::TTFT_MS, |r| &mut r.ttft_ms),
    ];
    for (name, field) in floats {
        for (r, v) in rows.iter_mut().zip(float(name)?.iter()) {
            *field(r) = v;
        }
    }
    read_attrs(df, &mut rows, interner)?;
    Ok(rows)
}

/// The `attrs` list<struct<key, value>> column back into each row's pairs.
fn read_attrs(
    df: &DataFrame,
    rows: &mut [SpanRow],
    interner: &mut crate::ingest::resolve::Interner,
) -> PolarsResult<()> {
    let list = df.column(s::ATTRS)?.list()?.rechunk();
    let mut at = 0usize;
    for arr in list.downcast_iter() {
        let st = arr
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| polars_err!(ComputeError: "attrs is not a list of structs"))?;
        let text = |i: usize| -> PolarsResult<&Utf8ViewArray> {
            st.values()
                .get(i)
                .and_then(|a| a.as_any().downcast_ref::<Utf8ViewArray>())
                .ok_or_else(|| polars_err!(ComputeError: "attrs field {i} is not text"))
        };
        let (keys, values) = (text(0)?, text(1)?);
        let offsets = arr.offsets();
        for i in 0..arr.len() {
            let row = rows
                .get_mut(at + i)
                .ok_or_else(|| polars_err!(ComputeError: "attrs longer than the frame"))?;
            if !arr.is_valid(i) {
                continue;
            }
            let (start, end) = offsets.start_end(i);
            row.attrs.reserve_exact(end - start);
            for j in start..end {
                if !st.is_valid(j) {
                    continue;
                }
                let k = if keys.is_valid(j) { keys.value(j) } else { "" };
                let v = if values.is_valid(j) {
                    values.value(j)
                } else {
                    ""
                };
                row.attrs.push((interner.get(k), interner.get(v)));
            }
        }
        at += arr.len();
    }
    Ok(())
}
