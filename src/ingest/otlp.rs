//! OTLP/JSON: one `ExportTraceServiceRequest` per line (collector file
//! exporter) or per document. Typed, borrowing serde structs: unknown fields
//! are skipped without allocation. Accepts camelCase and snake_case keys,
//! hex or base64 ids, enums as numbers or names, 64-bit ints as strings or
//! numbers, and `resourceLogs` carrying `gen_ai.evaluation.result` events.

use std::borrow::Cow;

use serde::Deserialize;

use super::chunk::Chunk;
use super::json::{BorrowedStr, Val};
use super::resolve::{push_attr, Attrs, IdPolicy, RawEvent, RawSpan};
use crate::span::row::{EvalRow, Kind, Status};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    #[serde(borrow, default, alias = "resource_spans")]
    pub resource_spans: Option<Vec<ResourceSpans<'a>>>,
    #[serde(borrow, default, alias = "resource_logs")]
    pub resource_logs: Option<Vec<ResourceLogs<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans<'a> {
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(
        borrow,
        default,
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans"
    )]
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct ScopeSpans<'a> {
    #[serde(borrow, default)]
    spans: Vec<Span<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Span<'a> {
    #[serde(borrow, default, alias = "trace_id")]
    trace_id: Option<BorrowedStr<'a>>,
    #[serde(borrow, default, alias = "span_id")]
    span_id: Option<BorrowedStr<'a>>,
    #[serde(borrow, default, alias = "parent_span_id")]
    parent_span_id: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    name: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    kind: Option<Val<'a>>,
    #[serde(borrow, default, alias = "start_time_unix_nano")]
    start_time_unix_nano: Option<Val<'a>>,
    #[serde(borrow, default, alias = "end_time_unix_nano")]
    end_time_unix_nano: Option<Val<'a>>,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
    #[serde(borrow, default)]
    events: Vec<Event<'a>>,
    #[serde(borrow, default)]
    status: Option<StatusObj<'a>>,
}

#[derive(Deserialize)]
struct StatusObj<'a> {
    #[serde(borrow, default)]
    code: Option<Val<'a>>,
    #[serde(borrow, default)]
    message: Option<BorrowedStr<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow, default, alias = "time_unix_nano")]
    time_unix_nano: Option<Val<'a>>,
    #[serde(borrow, default)]
    name: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
pub struct KeyValue<'a> {
    #[serde(borrow)]
    key: BorrowedStr<'a>,
    #[serde(borrow, default)]
    value: Option<AnyValue<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AnyValue<'a> {
    #[serde(borrow, default, alias = "string_value")]
    string_value: Option<BorrowedStr<'a>>,
    #[serde(borrow, default, alias = "int_value")]
    int_value: Option<Val<'a>>,
    #[serde(borrow, default, alias = "double_value")]
    double_value: Option<Val<'a>>,
    #[serde(default, alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(borrow, default, alias = "array_value")]
    array_value: Option<ArrayValue<'a>>,
    #[serde(borrow, default, alias = "kvlist_value")]
    kvlist_value: Option<KvList<'a>>,
    #[serde(borrow, default, alias = "bytes_value")]
    bytes_value: Option<BorrowedStr<'a>>,
}

#[derive(Deserialize, Default)]
struct ArrayValue<'a> {
    #[serde(borrow, default)]
    values: Vec<AnyValue<'a>>,
}

#[derive(Deserialize, Default)]
struct KvList<'a> {
    #[serde(borrow, default)]
    values: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLogs<'a> {
    #[serde(borrow, default, alias = "scope_logs")]
    scope_logs: Vec<ScopeLogs<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs<'a> {
    #[serde(borrow, default, alias = "log_records")]
    log_records: Vec<LogRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord<'a> {
    #[serde(borrow, default, alias = "event_name")]
    event_name: Option<BorrowedStr<'a>>,
    #[serde(borrow, default, alias = "trace_id")]
    trace_id: Option<BorrowedStr<'a>>,
    #[serde(borrow, default, alias = "span_id")]
    span_id: Option<BorrowedStr<'a>>,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

impl<'a> AnyValue<'a> {
    fn into_val(self) -> Val<'a> {
        if let Some(s) = self.string_value {
            return Val::Str(s.0);
        }
        if let Some(v) = self.int_value {
            return match v {
                Val::Str(s) => match s.trim().parse::<i64>() {
                    Ok(n) => Val::I64(n),
                    // out of range: kept as text, so a numeric field flags it invalid
                    Err(_) => Val::Str(s),
                },
                other => other,
            };
        }
        if let Some(v) = self.double_value {
            return match v {
                Val::Str(s) => match s.as_ref() {
                    "NaN" => Val::F64(f64::NAN),
                    "Infinity" => Val::F64(f64::INFINITY),
                    "-Infinity" => Val::F64(f64::NEG_INFINITY),
                    _ => s.parse::<f64>().map(Val::F64).unwrap_or(Val::Str(s)),
                },
                other => other,
            };
        }
        if let Some(b) = self.bool_value {
            return Val::Bool(b);
        }
        if let Some(a) = self.array_value {
            return Val::Arr(a.values.into_iter().map(AnyValue::into_val).collect());
        }
        if let Some(kv) = self.kvlist_value {
            return Val::Obj(
                kv.values
                    .into_iter()
                    .map(|kv| {
                        (
                            kv.key.0,
                            kv.value.map(AnyValue::into_val).unwrap_or(Val::Null),
                        )
                    })
                    .collect(),
            );
        }
        if let Some(b) = self.bytes_value {
            return Val::Str(b.0);
        }
        Val::Null
    }
}

fn attrs_of<'a>(kvs: Vec<KeyValue<'a>>) -> Attrs<'a> {
    let mut out = Vec::with_capacity(kvs.len());
    for kv in kvs {
        let v = kv.value.map(AnyValue::into_val).unwrap_or(Val::Null);
        push_attr(&mut out, kv.key.0, v);
    }
    out
}

fn kind_of(v: &Val<'_>) -> Option<Kind> {
    match v {
        Val::I64(n) => Kind::from_code(*n),
        Val::Str(s) => Kind::from_text(s),
        _ => None,
    }
}

fn status_of(v: &Val<'_>) -> Option<Status> {
    match v {
        Val::I64(n) => Status::from_code(*n),
        Val::Str(s) => Status::from_text(s),
        _ => None,
    }
}

/// Whether the start of a JSON text names an OTLP request.
pub fn looks_like_otlp(head: &[u8]) -> bool {
    let h = &head[..head.len().min(4096)];
    [
        &b"\"resourceSpans\""[..],
        b"\"resource_spans\"",
        b"\"resourceLogs\"",
        b"\"resource_logs\"",
    ]
    .iter()
    .any(|k| memchr::memmem::find(h, k).is_some())
}

/// Parse one OTLP request (a line or a document) and resolve its spans.
pub fn read_request(bytes: &[u8], line: u64, chunk: &mut Chunk<'_>) -> Result<(), String> {
    match super::scan::parse_line::<Request>(bytes) {
        Ok(req) => handle_request(req, line, chunk),
        // one span of a wrong shape must not take its siblings with it
        Err(e) => match span_by_span(bytes, line, chunk) {
            Some(req) => handle_request(req, line, chunk),
            None => Err(e),
        },
    }
}

/// The request of a line whose typed parse failed, read span by span:
/// each span (and each resource's attributes) that does not parse is one
/// rejected record, the others are kept. None when the line is not a JSON
/// object with a `resourceSpans` list (its error stands for the line).
fn span_by_span<'a>(bytes: &'a [u8], line: u64, chunk: &mut Chunk<'_>) -> Option<Request<'a>> {
    use serde_json::value::RawValue;
    #[derive(Deserialize)]
    struct LenientRequest<'a> {
        #[serde(borrow, default, alias = "resource_spans")]
        #[serde(rename = "resourceSpans")]
        resource_spans: Option<Vec<LenientResource<'a>>>,
        #[serde(borrow, default, alias = "resource_logs")]
        #[serde(rename = "resourceLogs")]
        resource_logs: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct LenientResource<'a> {
        #[serde(borrow, default)]
        resource: Option<&'a RawValue>,
        #[serde(
            borrow,
            default,
            rename = "scopeSpans",
            alias = "scope_spans",
            alias = "instrumentationLibrarySpans"
        )]
        scope_spans: Vec<LenientScope<'a>>,
    }
    #[derive(Deserialize)]
    struct LenientScope<'a> {
        #[serde(borrow, default)]
        spans: Vec<&'a RawValue>,
    }
    let lenient: LenientRequest = serde_json::from_slice(bytes).ok()?;
    let resource_spans = lenient.resource_spans?;
    let mut out = Vec::with_capacity(resource_spans.len());
    for (r, rs) in resource_spans.into_iter().enumerate() {
        let resource = match rs
            .resource
            .map(|raw| serde_json::from_str::<Resource>(raw.get()))
        {
            None => None,
            Some(Ok(res)) => Some(res),
            Some(Err(e)) => {
                let n: usize = rs.scope_spans.iter().map(|s| s.spans.len()).sum();
                for _ in 0..n.max(1) {
                    chunk.reject(line, format!("resourceSpans[{r}].resource: {e}"));
                }
                continue;
            }
        };
        let mut scopes = Vec::with_capacity(rs.scope_spans.len());
        for (k, sc) in rs.scope_spans.into_iter().enumerate() {
            let mut spans = Vec::with_capacity(sc.spans.len());
            for (i, raw) in sc.spans.into_iter().enumerate() {
                match serde_json::from_str::<Span>(raw.get()) {
                    Ok(s) => spans.push(s),
                    Err(e) => chunk.reject(
                        line,
                        format!("resourceSpans[{r}].scopeSpans[{k}].spans[{i}]: {e}"),
                    ),
                }
            }
            scopes.push(ScopeSpans { spans });
        }
        out.push(ResourceSpans {
            resource,
            scope_spans: scopes,
        });
    }
    let resource_logs = match lenient
        .resource_logs
        .map(|raw| serde_json::from_str::<Vec<ResourceLogs>>(raw.get()))
    {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            chunk.reject(line, format!("resourceLogs: {e}"));
            None
        }
    };
    Some(Request {
        resource_spans: Some(out),
        resource_logs,
    })
}

pub fn handle_request(req: Request<'_>, line: u64, chunk: &mut Chunk<'_>) -> Result<(), String> {
    if req.resource_spans.is_none() && req.resource_logs.is_none() {
        return Err("an OTLP object without resourceSpans or resourceLogs".into());
    }
    for rs in req.resource_spans.unwrap_or_default() {
        let resource = attrs_of(rs.resource.unwrap_or_default().attributes);
        for ss in rs.scope_spans {
            for (i, s) in ss.spans.into_iter().enumerate() {
                let raw = RawSpan {
                    trace_id: s.trace_id.map(|b| b.0),
                    span_id: s.span_id.map(|b| b.0),
                    parent_span_id: s.parent_span_id.map(|b| b.0),
                    name: s.name.map(|b| b.0),
                    kind: s.kind.as_ref().and_then(kind_of),
                    start: s.start_time_unix_nano,
                    end: s.end_time_unix_nano,
                    status: s
                        .status
                        .as_ref()
                        .and_then(|st| st.code.as_ref().and_then(status_of)),
                    status_message: s.status.and_then(|st| st.message.map(|m| m.0)),
                    attrs: attrs_of(s.attributes),
                    events: s
                        .events
                        .into_iter()
                        .map(|e| RawEvent {
                            name: e.name.map(|n| n.0).unwrap_or(Cow::Borrowed("")),
                            time_ns: e
                                .time_unix_nano
                                .as_ref()
                                .and_then(|t| super::time::parse_time_ns(t).ok()),
                            attrs: attrs_of(e.attributes),
                        })
                        .collect(),
                    evals: Vec::new(),
                };
                chunk.add_span(raw, &resource, IdPolicy::Otlp, line, i + 1);
            }
        }
    }
    for rl in req.resource_logs.unwrap_or_default() {
        for sl in rl.scope_logs {
            for lr in sl.log_records {
                let attrs = attrs_of(lr.attributes);
                let event = lr.event_name.map(|e| e.0).or_else(|| {
                    attrs
                        .iter()
                        .find(|(k, _)| k == "event.name")
                        .and_then(|(_, v)| v.as_str().map(|s| Cow::Owned(s.to_string())))
                });
                if event.as_deref() != Some("gen_ai.evaluation.result") {
                    continue;
                }
                chunk.add_log_eval(
                    lr.trace_id.map(|t| t.0),
                    lr.span_id.map(|s| s.0),
                    &attrs,
                    line,
                );
            }
        }
    }
    Ok(())
}

/// An evaluation event from a log record (or a span event) as an `evals` row.
pub fn eval_from_attrs(
    trace_id: Box<str>,
    span_id: Option<Box<str>>,
    attrs: &Attrs<'_>,
    source: &str,
) -> Option<EvalRow> {
    let get = |k: &str| attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let name = get("gen_ai.evaluation.name").and_then(super::resolve::first_text)?;
    let mut c = 0;
    Some(EvalRow {
        trace_id,
        span_id,
        name: name.into(),
        score: get("gen_ai.evaluation.score.value").and_then(|v| super::resolve::to_f64(v, &mut c)),
        label: get("gen_ai.evaluation.score.label")
            .and_then(super::resolve::first_text)
            .map(Into::into),
        source: source.into(),
    })
}
