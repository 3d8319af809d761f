//! What a run read, as data: per input and overall (spans, traces, time
//! range, conventions, rejects, coverage of LLM-span fields and which alias
//! each came from, unclaimed attributes). Rendered by report::summary.

use polars::prelude::*;
use serde::Serialize;

use super::Dataset;
use crate::ingest::aliases::{AliasTable, Field};
use crate::ingest::stats::{FileStats, Reject};
use crate::span::schema as s;

#[derive(Serialize, Debug, Clone)]
pub struct Coverage {
    pub field: &'static str,
    /// LLM spans with the field present.
    pub present: u64,
    pub llm_spans: u64,
    /// Share in [0, 1]; null when there are no LLM spans.
    pub share: Option<f64>,
    /// Aliases that supplied the field (all spans), most used first.
    pub sources: Vec<(String, u64)>,
}

#[derive(Serialize, Debug, Clone)]
pub struct InputSummary {
    pub path: String,
    pub format: String,
    pub compression: Option<&'static str>,
    pub bytes: u64,
    pub records: u64,
    pub spans: u64,
    pub llm_spans: u64,
    pub evals: u64,
    pub rejected_count: u64,
    pub rejected: Vec<Reject>,
    pub duplicates: u64,
    pub conventions: Vec<(&'static str, u64)>,
    pub coverage: Vec<Coverage>,
    pub unclaimed_attributes: Vec<(String, u64)>,
    pub unclaimed_distinct: usize,
    /// `[fields]` lines mapping unclaimed attributes whose names look like a
    /// field that some LLM spans of this input lack
    pub suggested_fields: Vec<String>,
    pub coerced_values: u64,
    pub invalid_values: Vec<(&'static str, u64)>,
    pub content_attributes_dropped: u64,
    pub exclusive_input_normalized: u64,
    /// wrapper spans whose usage repeated their calls' (cleared)
    pub rolled_up_usage_cleared: u64,
    pub nonstandard_ids: u64,
    pub timestamps_in_future: u64,
    pub notes: Vec<String>,
}

#[derive(Serialize, Debug, Clone)]
pub struct RunSummary {
    pub files: usize,
    pub spans: u64,
    pub traces: u64,
    pub evals: u64,
    /// the first span's start (RFC 3339 in JSON)
    #[serde(rename = "start", serialize_with = "rfc3339")]
    pub start_ns: Option<i64>,
    /// the last span's start (RFC 3339 in JSON)
    #[serde(rename = "end", serialize_with = "rfc3339")]
    pub end_ns: Option<i64>,
    pub conventions: Vec<(&'static str, u64)>,
    pub rejected_count: u64,
    pub duplicates: u64,
    pub skipped_files: Vec<(String, String)>,
    pub inputs: Vec<InputSummary>,
}

/// A time in JSON as every document of the tool writes it.
fn rfc3339<S: serde::Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => s.serialize_str(&crate::report::format::rfc3339(*ns)),
        None => s.serialize_none(),
    }
}

const COVERED: &[(&str, &[&str], &[Field])] = &[
    (
        "model",
        &[s::RESPONSE_MODEL, s::REQUEST_MODEL],
        &[Field::ResponseModel, Field::RequestModel],
    ),
    ("provider", &[s::PROVIDER], &[Field::Provider]),
    (
        "input_tokens",
        &[s::INPUT_TOKENS],
        &[Field::InputTokens, Field::UsageDetails],
    ),
    (
        "output_tokens",
        &[s::OUTPUT_TOKENS],
        &[Field::OutputTokens, Field::UsageDetails],
    ),
    (
        "cache_read_tokens",
        &[s::CACHE_READ_TOKENS],
        &[Field::CacheReadTokens],
    ),
    (
        "reasoning_tokens",
        &[s::REASONING_TOKENS],
        &[Field::ReasoningTokens],
    ),
    (
        "reported_cost_usd",
        &[s::REPORTED_COST_USD],
        &[Field::Cost, Field::CostDetails],
    ),
    ("ttft_ms", &[s::TTFT_MS], &[Field::Ttft]),
    ("finish_reason", &[s::FINISH_REASON], &[Field::FinishReason]),
    ("route", &[s::ROUTE], &[Field::Route]),
    ("tenant", &[s::TENANT], &[Field::Tenant]),
    ("user", &[s::USER], &[Field::User]),
    ("session", &[s::SESSION], &[Field::Session]),
    (
        "prompt_version",
        &[s::PROMPT_VERSION],
        &[Field::PromptVersion],
    ),
];

fn llm_mask(df: &DataFrame) -> PolarsResult<BooleanChunked> {
    let t = df.column(s::SPAN_TYPE)?.cast(&DataType::String)?;
    Ok(t.str()?.equal("llm"))
}

fn coverage(
    df: &DataFrame,
    evals: &DataFrame,
    stats: &FileStats,
    table: &AliasTable,
) -> PolarsResult<(u64, Vec<Coverage>)> {
    let llm = df.filter(&llm_mask(df)?)?;
    let n = llm.height() as u64;
    let share = |k: u64| {
        if n == 0 {
            None
        } else {
            Some(k as f64 / n as f64)
        }
    };
    let mut out = Vec::new();
    for (name, cols, fields) in COVERED {
        let mut present = vec![false; llm.height()];
        for c in *cols {
            let col = llm.column(c)?.as_materialized_series().clone();
            for (i, v) in col.is_not_null().iter().enumerate() {
                present[i] |= v.unwrap_or(false);
            }
        }
        let k = present.iter().filter(|b| **b).count() as u64;
        let mut sources: Vec<(String, u64)> = table
            .aliases
            .iter()
            .enumerate()
            .filter(|(_, a)| fields.contains(&a.field))
            .filter_map(|(i, a)| {
                let hits = stats.alias_hits.get(i).copied().unwrap_or(0);
                (hits > 0).then(|| (a.name.to_string(), hits))
            })
            .collect();
        sources.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if stats.format.starts_with("parquet (canonical") && k > 0 {
            sources.push(("canonical column".into(), k));
        }
        out.push(Coverage {
            field: name,
            present: k,
            llm_spans: n,
            share: share(k),
            sources,
        });
    }
    // evals: an LLM span is covered when an eval names it, or its trace has a trace-level eval.
    let mut by_span = ahash::AHashSet::new();
    let mut by_trace = ahash::AHashSet::new();
    if evals.height() > 0 {
        let t = evals.column(s::TRACE_ID)?.str()?.clone();
        let sp = evals.column(s::SPAN_ID)?.str()?.clone();
        for (t, sp) in t.iter().zip(sp.iter()) {
            match sp {
                Some(sp) => {
                    by_span.insert(sp.to_string());
                }
                None => {
                    by_trace.insert(t.unwrap_or("").to_string());
                }
            }
        }
    }
    let t = llm.column(s::TRACE_ID)?.str()?.clone();
    let sp = llm.column(s::SPAN_ID)?.str()?.clone();
    let k = t
        .iter()
        .zip(sp.iter())
        .filter(|(t, sp)| by_span.contains(sp.unwrap_or("")) || by_trace.contains(t.unwrap_or("")))
        .count() as u64;
    out.push(Coverage {
        field: "evals",
        present: k,
        llm_spans: n,
        share: share(k),
        sources: vec![],
    });
    Ok((n, out))
}

fn merge_conventions(files: &[FileStats]) -> Vec<(&'static str, u64)> {
    let mut total: Vec<(&'static str, u64)> = Vec::new();
    for f in files {
        for (c, n) in f.conventions_detected() {
            match total.iter_mut().find(|(k, _)| *k == c) {
                Some(e) => e.1 += n,
                None => total.push((c, n)),
            }
        }
    }
    total.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    total
}

/// The field an attribute's name looks like (by how it ends), for a
/// `[fields]` suggestion.
fn looks_like(attr: &str) -> Option<&'static str> {
    let a = attr.to_ascii_lowercase();
    let ends = |suffixes: &[&str]| suffixes.iter().any(|x| a == x[1..] || a.ends_with(x));
    if ends(&[
        ".prompt.version",
        "_prompt_version",
        ".prompt_version",
        ".promptversion",
    ]) {
        Some("prompt_version")
    } else if ends(&[
        ".tenant",
        ".tenant.id",
        ".tenant_id",
        "_tenant_id",
        ".tenantid",
    ]) {
        Some("tenant")
    } else if ends(&[".route", "_route"]) {
        Some("route")
    } else if ends(&[".user.id", ".user_id", "_user_id", ".userid"]) {
        Some("user")
    } else if ends(&[".session.id", ".session_id", "_session_id", ".sessionid"]) {
        Some("session")
    } else {
        None
    }
}

/// `[fields]` lines (`tenant = ["app.tenant"]`) for unclaimed attributes
/// that look like a field most LLM spans lack (under half have it), the
/// most common attribute per field.
fn suggest_fields(unclaimed: &[(String, u64)], coverage: &[Coverage]) -> Vec<String> {
    let mut out: Vec<(&'static str, &String)> = Vec::new();
    for (attr, _) in unclaimed {
        // names a TOML string holds as they are, shown whole
        let plain = attr.len() <= 200
            && attr
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if attr.starts_with("resource:") || !plain {
            continue;
        }
        let Some(field) = looks_like(attr) else {
            continue;
        };
        let covered = coverage
            .iter()
            .find(|c| c.field == field)
            .and_then(|c| c.share)
            .unwrap_or(0.0);
        if covered < 1.0 && !out.iter().any(|(f, _)| *f == field) {
            out.push((field, attr));
        }
    }
    out.into_iter()
        .map(|(f, a)| format!("{f} = [\"{a}\"]"))
        .collect()
}

pub fn summarize(ds: &Dataset, table: &AliasTable, top: usize) -> PolarsResult<RunSummary> {
    let mut inputs = Vec::new();
    for (i, f) in ds.files.iter().enumerate() {
        let (off, len) = ds.ranges.get(i).copied().unwrap_or((0, 0));
        let slice = ds.spans.slice(off as i64, len);
        let (llm, cov) = coverage(&slice, &ds.evals, f, table)?;
        inputs.push(InputSummary {
            path: f.path.clone(),
            format: f.format.clone(),
            compression: f.compression,
            bytes: f.bytes,
            records: f.records,
            spans: len as u64,
            llm_spans: llm,
            evals: f.evals,
            rejected_count: f.rejected,
            rejected: f.rejects.clone(),
            duplicates: f.duplicates,
            conventions: f.conventions_detected(),
            suggested_fields: suggest_fields(&f.top_unclaimed(top.max(50)), &cov),
            coverage: cov,
            unclaimed_attributes: f.top_unclaimed(top),
            unclaimed_distinct: f.unclaimed.len(),
            coerced_values: f.coerced_values,
            invalid_values: f.invalid_values.iter().map(|(k, v)| (*k, *v)).collect(),
            content_attributes_dropped: f.content_attrs_dropped,
            exclusive_input_normalized: f.exclusive_input_normalized,
            rolled_up_usage_cleared: f.rolled_up_usage_cleared,
            nonstandard_ids: f.nonstandard_ids,
            timestamps_in_future: f.timestamps_in_future,
            notes: f.notes.clone(),
        });
    }
    let traces = if ds.spans.height() > 0 {
        ds.spans.column(s::TRACE_ID)?.n_unique()? as u64
    } else {
        0
    };
    let start = ds.spans.column(s::START_NS)?.i64()?;
    Ok(RunSummary {
        files: ds.files.len(),
        spans: ds.spans.height() as u64,
        traces,
        evals: ds.evals.height() as u64,
        start_ns: start.min(),
        end_ns: start.max(),
        conventions: merge_conventions(&ds.files),
        rejected_count: ds.rejected(),
        duplicates: ds.files.iter().map(|f| f.duplicates).sum(),
        skipped_files: ds.skipped.clone(),
        inputs,
    })
}
