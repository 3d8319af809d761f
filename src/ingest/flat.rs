//! Flat span records (one span per JSON object) and Langfuse trace
//! downloads. A flat record's structural keys are recognised in every
//! spelling seen in the wild (generic, Phoenix REST / Python SDK `to_json`,
//! Langfuse observations in camelCase or snake_case, LiteLLM payloads);
//! every other top-level key is an attribute, nested objects flattened to
//! dotted keys.

use std::borrow::Cow;

use ahash::AHashSet;

use super::chunk::Chunk;
use super::json::Val;
use super::resolve::{normalize_id, push_attr, Attrs, IdPolicy, RawEvent, RawSpan};
use super::time::parse_time_ns;
use crate::span::row::{EvalRow, Kind, Status};

/// Langfuse observation fields renamed to the Langfuse OTel attribute names
/// the alias table knows.
fn langfuse_field(key: &str) -> Option<&'static str> {
    Some(match key {
        "type" => "langfuse.observation.type",
        "model" | "providedModelName" | "provided_model_name" => "langfuse.observation.model.name",
        "usageDetails" | "usage_details" => "langfuse.observation.usage_details",
        "costDetails" | "cost_details" => "langfuse.observation.cost_details",
        "completionStartTime" | "completion_start_time" => {
            "langfuse.observation.completion_start_time"
        }
        "promptName" | "prompt_name" => "langfuse.observation.prompt.name",
        "promptVersion" | "prompt_version" => "langfuse.observation.prompt.version",
        "level" => "langfuse.observation.level",
        "userId" | "user_id" => "langfuse.user.id",
        "sessionId" | "session_id" => "langfuse.session.id",
        "traceName" | "trace_name" => "langfuse.trace.name",
        _ => return None,
    })
}

fn text<'a>(v: Val<'a>) -> Option<Cow<'a, str>> {
    match v {
        Val::Str(s) => Some(s),
        Val::Null => None,
        other => other.scalar_text().map(|s| Cow::Owned(s.into_owned())),
    }
}

/// `{"attributes": {...}}`, a plain map, or an OTLP-style `[{key, value}]` list.
fn attrs_into<'a>(out: &mut Attrs<'a>, v: Val<'a>) {
    match v {
        Val::Obj(kv) => {
            for (k, v) in kv {
                push_attr(out, k, v);
            }
        }
        Val::Arr(items) => {
            for item in items {
                if let Val::Obj(kv) = item {
                    let mut key = None;
                    let mut value = Val::Null;
                    for (k, v) in kv {
                        match k.as_ref() {
                            "key" => key = text(v),
                            "value" => value = any_value(v),
                            _ => {}
                        }
                    }
                    if let Some(k) = key {
                        push_attr(out, k, value);
                    }
                }
            }
        }
        Val::Str(s) => {
            if let Ok(v @ Val::Obj(_)) = super::json::parse(s.as_bytes()) {
                attrs_into(out, v.into_owned());
            }
        }
        _ => {}
    }
}

/// An OTLP AnyValue written as a generic JSON object.
fn any_value(v: Val<'_>) -> Val<'_> {
    match v {
        Val::Obj(mut kv) if kv.len() == 1 => {
            let (k, inner) = kv.pop().expect("one entry");
            match k.as_ref() {
                "stringValue" | "boolValue" | "doubleValue" | "bytesValue" => inner,
                "intValue" => match inner {
                    Val::Str(s) => s.parse::<i64>().map(Val::I64).unwrap_or(Val::Str(s)),
                    o => o,
                },
                "arrayValue" => match inner.get("values") {
                    Some(Val::Arr(_)) => match inner {
                        Val::Obj(mut kv) => match kv.pop() {
                            Some((_, Val::Arr(items))) => {
                                Val::Arr(items.into_iter().map(any_value).collect())
                            }
                            _ => Val::Null,
                        },
                        _ => Val::Null,
                    },
                    _ => Val::Null,
                },
                _ => Val::Obj(vec![(k, inner)]),
            }
        }
        other => other,
    }
}

fn events_of(v: Val<'_>) -> Vec<RawEvent<'_>> {
    let Val::Arr(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|e| match e {
            Val::Obj(kv) => {
                let mut ev = RawEvent::default();
                for (k, v) in kv {
                    match k.as_ref() {
                        "name" => ev.name = text(v).unwrap_or_default(),
                        "timestamp" | "time" | "time_unix_nano" | "timeUnixNano" => {
                            ev.time_ns = parse_time_ns(&v).ok()
                        }
                        "attributes" => attrs_into(&mut ev.attrs, v),
                        _ => {}
                    }
                }
                Some(ev)
            }
            _ => None,
        })
        .collect()
}

fn status_of(v: &Val<'_>) -> Option<Status> {
    match v {
        Val::I64(n) => Status::from_code(*n),
        Val::Str(s) => Status::from_text(s),
        _ => None,
    }
}

/// One flat record -> raw span plus its resource attributes.
pub fn flat_to_raw<'a>(kv: Vec<(Cow<'a, str>, Val<'a>)>) -> (RawSpan<'a>, Attrs<'a>) {
    let mut raw = RawSpan::default();
    let mut resource: Attrs<'a> = Vec::new();
    let mut id_fallback = None;
    for (k, v) in kv {
        match k.as_ref() {
            "trace_id" | "traceId" | "traceID" | "context.trace_id" => raw.trace_id = text(v),
            "span_id" | "spanId" | "spanID" | "context.span_id" => raw.span_id = text(v),
            "id" => id_fallback = text(v),
            "parent_span_id"
            | "parentSpanId"
            | "parent_id"
            | "parentId"
            | "parent_observation_id"
            | "parentObservationId" => raw.parent_span_id = text(v),
            "context" => {
                if let Val::Obj(ctx) = v {
                    for (ck, cv) in ctx {
                        match ck.as_ref() {
                            "trace_id" | "traceId" => raw.trace_id = text(cv),
                            "span_id" | "spanId" => raw.span_id = text(cv),
                            _ => {}
                        }
                    }
                }
            }
            "name" | "operationName" => raw.name = text(v),
            "kind" => {
                raw.kind = match &v {
                    Val::I64(n) => Kind::from_code(*n),
                    Val::Str(s) => Kind::from_text(s),
                    _ => None,
                }
            }
            // Phoenix: span_kind holds the OpenInference kind (LLM, CHAIN...).
            "span_kind" => match &v {
                Val::Str(s) if Kind::from_text(s).is_some() => raw.kind = Kind::from_text(s),
                _ => push_attr(&mut raw.attrs, Cow::Borrowed("openinference.span.kind"), v),
            },
            "start_time"
            | "startTime"
            | "start_time_unix_nano"
            | "startTimeUnixNano"
            | "start_ns"
            | "start" => raw.start = Some(v),
            "end_time" | "endTime" | "end_time_unix_nano" | "endTimeUnixNano" | "end_ns"
            | "end" => raw.end = Some(v),
            "status" => match v {
                Val::Obj(st) => {
                    for (sk, sv) in st {
                        match sk.as_ref() {
                            "code" | "status_code" => raw.status = status_of(&sv),
                            "message" | "description" => raw.status_message = text(sv),
                            _ => {}
                        }
                    }
                }
                other => raw.status = status_of(&other),
            },
            "status_code" | "statusCode" => raw.status = status_of(&v),
            "status_message" | "statusMessage" => raw.status_message = text(v),
            "attributes" => attrs_into(&mut raw.attrs, v),
            "resource" => match v {
                Val::Obj(mut r) => {
                    if let Some(pos) = r.iter().position(|(k, _)| k == "attributes") {
                        let (_, a) = r.swap_remove(pos);
                        attrs_into(&mut resource, a);
                    } else {
                        attrs_into(&mut resource, Val::Obj(r));
                    }
                }
                other => attrs_into(&mut resource, other),
            },
            "resource_attributes" | "resourceAttributes" => attrs_into(&mut resource, v),
            "events" => raw.events = events_of(v),
            "links"
            | "dropped_attributes_count"
            | "droppedAttributesCount"
            | "dropped_events_count"
            | "droppedEventsCount"
            | "dropped_links_count"
            | "droppedLinksCount"
            | "trace_state"
            | "traceState"
            | "flags" => {}
            "metadata" => metadata_into(&mut raw.attrs, &mut resource, v),
            other if other.starts_with("attributes.") => push_attr(
                &mut raw.attrs,
                Cow::Owned(other["attributes.".len()..].to_string()),
                v,
            ),
            // Langfuse export bookkeeping derived from fields read above.
            "projectId"
            | "project_id"
            | "createdAt"
            | "created_at"
            | "updatedAt"
            | "updated_at"
            | "latency"
            | "timeToFirstToken"
            | "inputUsage"
            | "outputUsage"
            | "totalUsage"
            | "inputCost"
            | "outputCost"
            | "totalCost"
            | "total_cost"
            | "calculatedInputCost"
            | "calculatedOutputCost"
            | "calculatedTotalCost"
            | "internalModelId"
            | "modelId"
            | "model_id"
            | "unit"
            | "providedCostDetails"
            | "provided_cost_details"
            | "providedUsageDetails"
            | "provided_usage_details"
            | "usagePricingTierName"
            | "usage_pricing_tier_name"
            | "usagePricingTierId"
            | "promptId"
            | "prompt_id" => {}
            other => match langfuse_field(other) {
                // kept whole: usage and cost maps are read as maps, not flattened
                Some(name) => {
                    if !v.is_null() {
                        raw.attrs.push((Cow::Borrowed(name), v))
                    }
                }
                None => push_attr(&mut raw.attrs, k, v),
            },
        }
    }
    if raw.span_id.is_none() {
        raw.span_id = id_fallback;
    }
    (raw, resource)
}

/// Langfuse `metadata`: an object or a JSON string; its `attributes` and
/// `resourceAttributes` hold the original OTel span attributes.
fn metadata_into<'a>(attrs: &mut Attrs<'a>, resource: &mut Attrs<'a>, v: Val<'a>) {
    let v = match v {
        Val::Str(s) if s.trim_start().starts_with('{') => match super::json::parse(s.as_bytes()) {
            Ok(parsed) => parsed.into_owned(),
            Err(_) => Val::Str(s),
        },
        other => other,
    };
    match v {
        Val::Obj(kv)
            if kv
                .iter()
                .any(|(k, _)| k == "attributes" || k == "resourceAttributes") =>
        {
            for (k, v) in kv {
                match k.as_ref() {
                    "attributes" => attrs_into(attrs, v),
                    "resourceAttributes" => attrs_into(resource, v),
                    "scope" => {
                        if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
                            attrs.push((
                                Cow::Borrowed("otel.scope.name"),
                                Val::Str(Cow::Owned(name.to_string())),
                            ));
                        }
                    }
                    _ => push_attr(attrs, Cow::Owned(format!("metadata.{k}")), v),
                }
            }
        }
        other => push_attr(attrs, Cow::Borrowed("metadata"), other),
    }
}

/// A flat record: one span.
pub fn read_flat(val: Val<'_>, line: u64, chunk: &mut Chunk<'_>) -> Result<(), String> {
    match val {
        Val::Obj(kv) => {
            if kv.iter().any(|(k, _)| k == "observations") && kv.iter().any(|(k, _)| k == "trace") {
                return read_langfuse(Val::Obj(kv), line, chunk);
            }
            let (raw, resource) = flat_to_raw(kv);
            chunk.add_span(raw, &resource, IdPolicy::Lenient, line, 0);
            Ok(())
        }
        Val::Arr(items) => {
            for item in items {
                read_flat(item, line, chunk)?;
            }
            Ok(())
        }
        Val::Null => Err("a JSON null, not a span object".into()),
        _ => Err("a JSON scalar, not a span object".into()),
    }
}

/// A Langfuse trace download: `{trace, observations[]}`. Trace-level name,
/// user, session, tags and metadata go on the root observations (inheritance
/// carries them down); trace scores become `evals` rows.
pub fn read_langfuse(doc: Val<'_>, line: u64, chunk: &mut Chunk<'_>) -> Result<(), String> {
    let Val::Obj(kv) = doc else {
        return Err("not an object".into());
    };
    let mut trace = None;
    let mut observations = Vec::new();
    for (k, v) in kv {
        match k.as_ref() {
            "trace" => trace = Some(v),
            "observations" => {
                if let Val::Arr(items) = v {
                    observations = items;
                }
            }
            _ => {}
        }
    }
    let mut trace = trace.ok_or("Langfuse document without `trace`")?;
    // Newer downloads also nest observations inside the trace.
    if observations.is_empty() {
        if let Val::Obj(kv) = &mut trace {
            if let Some(pos) = kv.iter().position(|(k, _)| k == "observations") {
                if let (_, Val::Arr(items)) = kv.swap_remove(pos) {
                    observations = items;
                }
            }
        }
    }
    let trace_id = trace
        .get("id")
        .and_then(|v| v.as_str())
        .map(|s| s.to_string());
    let ids: AHashSet<String> = observations
        .iter()
        .filter_map(|o| o.get("id").and_then(|v| v.as_str()).map(|s| s.to_string()))
        .collect();
    let mut trace_attrs: Attrs<'static> = Vec::new();
    for (src, dst) in [
        ("name", "langfuse.trace.name"),
        ("userId", "langfuse.user.id"),
        ("sessionId", "langfuse.session.id"),
        ("environment", "langfuse.environment"),
        ("release", "langfuse.release"),
        ("version", "langfuse.version"),
        ("tags", "langfuse.trace.tags"),
    ] {
        if let Some(v) = trace.get(src).filter(|v| !v.is_null()) {
            if matches!(v, Val::Arr(a) if a.is_empty()) {
                continue;
            }
            trace_attrs.push((Cow::Borrowed(dst), v.clone().into_owned()));
        }
    }
    if let Some(md) = trace.get("metadata") {
        let md = match md {
            Val::Str(s) => super::json::parse(s.as_bytes())
                .map(|v| v.into_owned())
                .unwrap_or(Val::Null),
            other => other.clone().into_owned(),
        };
        if let Val::Obj(kv) = md {
            for (k, v) in kv {
                if !matches!(k.as_ref(), "attributes" | "resourceAttributes" | "scope") {
                    push_attr(
                        &mut trace_attrs,
                        Cow::Owned(format!("langfuse.trace.metadata.{k}")),
                        v,
                    );
                }
            }
        }
    }
    let mut scores: Vec<EvalRow> = Vec::new();
    if let (Some(Val::Arr(items)), Some(tid)) = (trace.get("scores"), trace_id.as_deref()) {
        let tid = normalize_id(tid, 16, IdPolicy::Lenient).map(|t| t.0).ok();
        for s in items {
            let Some(name) = s.get("name").and_then(super::resolve::first_text) else {
                chunk.stats.invalid("eval_name");
                continue;
            };
            let mut c = 0;
            let label = s
                .get_any(&["stringValue", "string_value"])
                .and_then(super::resolve::first_text)
                .filter(|l| !l.is_empty());
            let data_type = s
                .get_any(&["dataType", "data_type"])
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let score = s
                .get("value")
                .and_then(|v| super::resolve::to_f64(v, &mut c))
                .filter(|_| data_type != "CATEGORICAL" || label.is_none());
            let span_id = s
                .get_any(&["observationId", "observation_id"])
                .and_then(|v| v.as_str())
                .and_then(|o| normalize_id(o, 8, IdPolicy::Lenient).ok().map(|x| x.0));
            let source = s.get("source").and_then(|v| v.as_str()).unwrap_or("API");
            scores.push(EvalRow {
                trace_id: tid.clone().unwrap_or_default(),
                span_id,
                name: name.into(),
                score,
                label: label.map(Into::into),
                source: format!("langfuse.{}", source.to_ascii_lowercase()).into(),
            });
        }
    }
    let mut scores = Some(scores);
    for (i, obs) in observations.into_iter().enumerate() {
        let Val::Obj(kv) = obs else {
            chunk.reject(line, format!("observation #{}: not an object", i + 1));
            continue;
        };
        let (mut raw, resource) = flat_to_raw(kv);
        if raw.trace_id.is_none() {
            raw.trace_id = trace_id.clone().map(Cow::Owned);
        }
        let is_root = match raw.parent_span_id.as_deref() {
            None | Some("") => true,
            Some(p) => !ids.contains(p),
        };
        if is_root {
            for (k, v) in &trace_attrs {
                if !raw.attrs.iter().any(|(rk, _)| rk == k) {
                    raw.attrs.push((k.clone(), v.clone()));
                }
            }
            if let Some(s) = scores.take() {
                raw.evals = s;
            }
        }
        chunk.add_span(raw, &resource, IdPolicy::Lenient, line, i + 1);
    }
    if let Some(s) = scores.filter(|s| !s.is_empty()) {
        chunk.stats.evals += s.len() as u64;
        chunk.evals.extend(s);
    }
    Ok(())
}
