//! From a format-neutral raw span (ids, times, attributes, events) to a
//! canonical row: alias resolution, value coercion, span type, token
//! normalization (docs/aliases.md, "How a name is chosen" and "Token counts and the prompt cache"). Readers build `RawSpan`s; this is
//! the one place that knows what the attributes mean.

use std::borrow::Cow;
use std::sync::Arc;

use ahash::{AHashMap, AHashSet};
use base64::Engine as _;

use super::aliases::{
    is_content_key, normalize_finish_reason, normalize_provider, AliasTable, CacheRule, Convention,
    Field, Unit,
};
use super::json::Val;
use super::stats::FileStats;
use super::time::parse_time_ns;
use crate::span::row::{EvalRow, Kind, SpanRow, SpanType, Status};

pub type Attrs<'a> = Vec<(Cow<'a, str>, Val<'a>)>;

#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    pub name: Cow<'a, str>,
    pub time_ns: Option<i64>,
    pub attrs: Attrs<'a>,
}

/// A span as a reader found it, before any meaning is given to attributes.
#[derive(Debug, Default)]
pub struct RawSpan<'a> {
    pub trace_id: Option<Cow<'a, str>>,
    pub span_id: Option<Cow<'a, str>>,
    pub parent_span_id: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub kind: Option<Kind>,
    pub start: Option<Val<'a>>,
    pub end: Option<Val<'a>>,
    pub status: Option<Status>,
    pub status_message: Option<Cow<'a, str>>,
    pub attrs: Attrs<'a>,
    pub events: Vec<RawEvent<'a>>,
    /// Evaluations a reader found outside the attributes (Langfuse scores).
    pub evals: Vec<EvalRow>,
}

/// Whether ids must be OTLP-shaped (hex or base64 of 16/8 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdPolicy {
    Otlp,
    Lenient,
}

/// Settings shared by every reader of a run.
#[derive(Clone, Debug, Default)]
pub struct ResolveOptions {
    pub include_text: bool,
    /// Providers whose input tokens always exclude cached tokens.
    pub exclusive_input_providers: Vec<String>,
    /// Now, for the far-future check (ns).
    pub now_ns: i64,
    /// Keep only the attributes spanlens itself reads ([`KEPT_ATTRS`]) in
    /// the `attrs` column: the run names no attribute (`attr:`,
    /// `resource:`), so no query reads the others (they are still counted
    /// for `inspect`'s unclaimed list).
    pub skip_attrs: bool,
}

/// The attributes every run keeps: the agent-loop rule compares tool call
/// arguments, and evaluations naming a response find its span by id.
pub const KEPT_ATTRS: &[&str] = &[TOOL_CALL_ARGUMENTS, super::chunk::RESPONSE_ID];

/// Flatten an attribute into `out`: nested objects become dotted keys, and a
/// JSON-string `metadata` (OpenInference user keys) is parsed and flattened.
pub fn push_attr<'a>(out: &mut Attrs<'a>, key: Cow<'a, str>, val: Val<'a>) {
    match val {
        Val::Obj(kv) => {
            if kv.is_empty() {
                out.push((key, Val::Obj(kv)));
                return;
            }
            for (k, v) in kv {
                let full = format!("{key}.{k}");
                push_attr(out, Cow::Owned(full), v);
            }
        }
        Val::Str(s) if key == "metadata" && s.trim_start().starts_with('{') => {
            match super::json::parse(s.as_bytes()) {
                Ok(v @ Val::Obj(_)) => push_attr(out, key, v.into_owned()),
                _ => out.push((key, Val::Str(s))),
            }
        }
        v => out.push((key, v)),
    }
}

/// Normalize an id to lowercase hex. OTLP ids are 32/16 hex characters or
/// base64 of 16/8 bytes; `0x` prefixes (Python SDK) are dropped.
pub fn normalize_id(raw: &str, bytes: usize, policy: IdPolicy) -> Result<(Box<str>, bool), String> {
    let s = raw.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.is_empty() {
        return Err("empty id".into());
    }
    let is_hex = s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex && s.len() == bytes * 2 {
        if s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Ok((s.into(), true));
        }
        return Ok((s.to_ascii_lowercase().into(), true));
    }
    if !is_hex || s.len() != bytes * 2 {
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(s) {
            if decoded.len() == bytes {
                let mut hex = String::with_capacity(bytes * 2);
                for b in decoded {
                    hex.push_str(&format!("{b:02x}"));
                }
                return Ok((hex.into(), true));
            }
        }
    }
    match policy {
        IdPolicy::Otlp => Err(format!(
            "id `{}` is neither {} hex characters nor base64 of {} bytes",
            truncate(s, 40),
            bytes * 2,
            bytes
        )),
        IdPolicy::Lenient => {
            if s.len() > 256 {
                return Err("id longer than 256 characters".into());
            }
            let lower = if is_hex {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            };
            Ok((lower.into(), false))
        }
    }
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Interns repeated strings (attribute keys and values, names, models)
/// within one chunk so they share memory; each distinct string is held once.
#[derive(Default)]
pub struct Interner {
    set: AHashSet<Arc<str>>,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }
}

type Slot = Option<(u16, usize, bool)>; // (alias id, index, from resource)

pub struct Resolver<'t> {
    pub table: &'t AliasTable,
    pub opts: &'t ResolveOptions,
}

impl<'t> Resolver<'t> {
    /// Resolve one raw span. `Err` is the reason the record is rejected.
    pub fn resolve(
        &self,
        raw: RawSpan<'_>,
        resource: &[(Cow<'_, str>, Val<'_>)],
        policy: IdPolicy,
        stats: &mut FileStats,
        interner: &mut Interner,
        evals_out: &mut Vec<EvalRow>,
    ) -> Result<SpanRow, String> {
        let trace_raw = raw.trace_id.as_deref().ok_or("missing trace id")?;
        let span_raw = raw.span_id.as_deref().ok_or("missing span id")?;
        let (trace_id, std_t) =
            normalize_id(trace_raw, 16, policy).map_err(|e| format!("trace id: {e}"))?;
        let (span_id, std_s) =
            normalize_id(span_raw, 8, policy).map_err(|e| format!("span id: {e}"))?;
        if !(std_t && std_s) {
            stats.nonstandard_ids += 1;
        }
        let parent_span_id = match raw.parent_span_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(
                normalize_id(p, 8, policy)
                    .map_err(|e| format!("parent span id: {e}"))?
                    .0,
            ),
        };
        let start_ns = match &raw.start {
            None | Some(Val::Null) => return Err("missing start time".into()),
            Some(v) => parse_time_ns(v).map_err(|e| format!("start time: {e}"))?,
        };
        if start_ns <= 0 {
            return Err("start time is zero or negative (unset)".into());
        }
        let mut end_ns = match &raw.end {
            None | Some(Val::Null) => None,
            Some(v) => Some(parse_time_ns(v).map_err(|e| format!("end time: {e}"))?),
        };
        if start_ns > self.opts.now_ns + 86_400_000_000_000 {
            stats.timestamps_in_future += 1;
        }

        // 1. Alias resolution: the best-ranked alias per field wins.
        let mut slots: [Slot; Field::COUNT] = [None; Field::COUNT];
        let mut seen_conv = [false; Convention::ALL.len()];
        let mut attrs: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        let mut list_evals: Vec<(EvalScope, u32, &str, &Val)> = Vec::new();
        for (i, (k, _)) in raw.attrs.iter().enumerate() {
            if let Some(id) = self.table.lookup(k) {
                let alias = self.table.get(id);
                let f = alias.field as usize;
                seen_conv[alias.convention as usize] = true;
                if slots[f].is_none_or(|(best, _, _)| id < best) {
                    slots[f] = Some((id, i, false));
                }
                // request parameters are read for their service tier and
                // kept whole (temperature, max_tokens...) for attr: keys
                if alias.field != Field::ModelParameters {
                    continue;
                }
            }
            if let Some(conv) = Convention::of_key(k) {
                seen_conv[conv as usize] = true;
            }
            if let Some((scope, idx, leaf)) = list_eval_key(k) {
                list_evals.push((scope, idx, leaf, &raw.attrs[i].1));
                continue;
            }
            if !self.opts.include_text && is_content_key(k) {
                stats.content_attrs_dropped += 1;
                continue;
            }
            let v = &raw.attrs[i].1;
            if v.is_null() {
                continue;
            }
            bump(&mut stats.unclaimed, k);
            if self.opts.skip_attrs && !KEPT_ATTRS.contains(&k.as_ref()) {
                continue;
            }
            let key = interner.get(k);
            // a tool call's arguments may hold anything a user typed: kept as
            // a digest (all the agent-loop rule compares) unless asked
            let text = if k == TOOL_CALL_ARGUMENTS && !self.opts.include_text {
                digest(&v.to_text())
            } else {
                v.to_text()
            };
            attrs.push((key, Arc::from(text)));
        }
        for (i, (k, v)) in resource.iter().enumerate() {
            if let Some(id) = self.table.lookup(k) {
                let f = self.table.get(id).field as usize;
                if slots[f].is_none() {
                    slots[f] = Some((id, i, true));
                }
                continue;
            }
            if v.is_null() || self.opts.skip_attrs || (!self.opts.include_text && is_content_key(k))
            {
                continue;
            }
            let key = interner.get(&format!("resource:{k}"));
            attrs.push((key, Arc::from(v.to_text())));
        }
        for (c, seen) in seen_conv.iter().enumerate() {
            if *seen {
                stats.conventions[c] += 1;
            }
        }

        let get = |f: Field| -> Option<(&Val, u16)> {
            slots[f as usize].map(|(id, i, res)| {
                let v = if res { &resource[i].1 } else { &raw.attrs[i].1 };
                (v, id)
            })
        };
        let hit = |f: Field, stats: &mut FileStats| {
            if let Some((id, _, _)) = slots[f as usize] {
                stats.alias_hits[id as usize] += 1;
            }
        };
        let text = |f: Field| -> Option<String> {
            get(f)
                .and_then(|(v, _)| first_text(v))
                .filter(|s| !s.is_empty())
        };

        let mut row = SpanRow {
            trace_id,
            span_id,
            parent_span_id,
            name: interner.get(raw.name.as_deref().unwrap_or("")),
            kind: raw.kind,
            start_ns,
            ..Default::default()
        };

        // Provider, models, operation.
        for f in [
            Field::Provider,
            Field::RequestModel,
            Field::ResponseModel,
            Field::Operation,
            Field::Service,
            Field::Route,
            Field::Tenant,
            Field::User,
            Field::Session,
            Field::Agent,
            Field::Tool,
            Field::FinishReason,
            Field::ServiceTier,
            Field::ModelParameters,
            Field::ErrorType,
            Field::PromptVersion,
            Field::PromptName,
        ] {
            hit(f, stats);
        }
        row.provider = text(Field::Provider).map(|p| interner.get(&normalize_provider(&p)));
        row.request_model = text(Field::RequestModel).map(|s| interner.get(&s));
        row.response_model = text(Field::ResponseModel).map(|s| interner.get(&s));
        row.service = text(Field::Service).map(|s| interner.get(&s));
        row.route = text(Field::Route).map(|s| interner.get(&s));
        row.tenant = text(Field::Tenant).map(|s| interner.get(&s));
        row.user = text(Field::User).map(|s| interner.get(&s));
        row.session = text(Field::Session).map(|s| interner.get(&s));
        row.agent = text(Field::Agent).map(|s| interner.get(&s));
        row.tool = text(Field::Tool).map(|s| interner.get(&s));
        row.finish_reason =
            text(Field::FinishReason).map(|s| interner.get(&normalize_finish_reason(&s)));
        row.service_tier = text(Field::ServiceTier)
            .or_else(|| {
                let (v, _) = get(Field::ModelParameters)?;
                with_map(v, |o| o.get("service_tier").and_then(first_text))
            })
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .map(|s| interner.get(&s));
        row.prompt_version = match (text(Field::PromptName), text(Field::PromptVersion)) {
            (Some(n), Some(v)) if !v.contains('@') => Some(interner.get(&format!("{n}@{v}"))),
            (_, Some(v)) => Some(interner.get(&v)),
            _ => None,
        };

        let vercel_op = text(Field::VercelOperation);
        let oi_kind = text(Field::OiSpanKind).map(|s| s.to_ascii_uppercase());
        let tl_kind = text(Field::TraceloopSpanKind).map(|s| s.to_ascii_lowercase());
        let req_type = text(Field::LlmRequestType).map(|s| s.to_ascii_lowercase());
        let lf_type = text(Field::LangfuseType).map(|s| s.to_ascii_uppercase());
        for f in [
            Field::OiSpanKind,
            Field::TraceloopSpanKind,
            Field::LlmRequestType,
            Field::VercelOperation,
            Field::LangfuseType,
        ] {
            hit(f, stats);
        }
        row.operation = text(Field::Operation)
            .or_else(|| {
                req_type.as_deref().and_then(|t| match t {
                    "chat" => Some("chat".to_string()),
                    "completion" => Some("text_completion".to_string()),
                    "embedding" => Some("embeddings".to_string()),
                    "rerank" => Some("rerank".to_string()),
                    _ => None,
                })
            })
            .or_else(|| {
                vercel_op
                    .as_deref()
                    .and_then(vercel_operation)
                    .map(String::from)
            })
            .map(|s| interner.get(&s));

        // 2. Numbers.
        let count = |f: Field, name: &'static str, stats: &mut FileStats| -> Option<i64> {
            let (v, id) = get(f)?;
            stats.alias_hits[id as usize] += 1;
            match to_count(v, &mut stats.coerced_values) {
                Ok(n) => Some(n),
                Err(()) => {
                    stats.invalid(name);
                    None
                }
            }
        };

        let provider = row.provider.as_deref().unwrap_or("");
        let anthropic_like = matches!(provider, "anthropic" | "aws.bedrock")
            || row
                .response_model
                .as_deref()
                .or(row.request_model.as_deref())
                .is_some_and(|m| m.contains("claude"));
        let rule_of = |f: Field| get(f).map(|(_, id)| self.table.get(id).cache_rule);
        let cache_from_legacy = [Field::CacheReadTokens, Field::CacheWriteTokens]
            .into_iter()
            .any(|f| rule_of(f) == Some(CacheRule::Legacy));
        let exclusive = excludes_cache(
            rule_of(Field::InputTokens),
            cache_from_legacy,
            anthropic_like,
        );
        let reported = Usage {
            input: count(Field::InputTokens, "input_tokens", stats),
            output: count(Field::OutputTokens, "output_tokens", stats),
            cache_read: count(Field::CacheReadTokens, "cache_read_tokens", stats),
            cache_write: count(Field::CacheWriteTokens, "cache_write_tokens", stats),
            cache_write_1h: count(Field::CacheWrite1hTokens, "cache_write_1h_tokens", stats),
            reasoning: count(Field::ReasoningTokens, "reasoning_tokens", stats),
        };
        // a Langfuse usage map, read when no token attribute gives the counts
        let map = if reported.input.is_none() && reported.output.is_none() {
            get(Field::UsageDetails).and_then(|(v, id)| {
                stats.alias_hits[id as usize] += 1;
                usage_map(v)
            })
        } else {
            None
        };
        let forced = !provider.is_empty()
            && self
                .opts
                .exclusive_input_providers
                .iter()
                .any(|p| p == provider);
        let (counts, notes) = count_rules(reported, exclusive, forced, map);
        if notes.cache_added {
            stats.exclusive_input_normalized += 1;
        }
        if notes.input_overflow {
            stats.invalid("input_tokens");
        }
        row.input_tokens = counts.input;
        row.output_tokens = counts.output;
        row.cache_read_tokens = counts.cache_read;
        row.cache_write_tokens = counts.cache_write;
        row.cache_write_1h_tokens = counts.cache_write_1h;
        row.reasoning_tokens = counts.reasoning;

        // Cost.
        row.reported_cost_usd = match get(Field::Cost) {
            Some((v, id)) => {
                stats.alias_hits[id as usize] += 1;
                match to_f64(v, &mut stats.coerced_values) {
                    Some(c) if c >= 0.0 => Some(c),
                    _ => {
                        stats.invalid("reported_cost_usd");
                        None
                    }
                }
            }
            None => get(Field::CostDetails).and_then(|(v, id)| {
                stats.alias_hits[id as usize] += 1;
                // without a total, the sum of its parts
                map_number(v, &["total"])
                    .or_else(|| map_sum(v))
                    .filter(|c| *c >= 0.0)
            }),
        };

        // Duration: from end, else a duration attribute.
        if end_ns.is_none() {
            if let Some((v, id)) = get(Field::Duration) {
                stats.alias_hits[id as usize] += 1;
                if let Some(s) = to_f64(v, &mut stats.coerced_values).filter(|s| *s >= 0.0) {
                    end_ns = Some(start_ns.saturating_add((s * 1e9) as i64));
                }
            }
        }
        row.end_ns = end_ns;
        row.duration_ms = match end_ns {
            Some(e) if e >= start_ns => Some((e - start_ns) as f64 / 1e6),
            Some(_) => {
                stats.end_before_start += 1;
                stats.invalid("duration_ms");
                None
            }
            None => None,
        };

        // TTFT.
        row.ttft_ms = match get(Field::Ttft) {
            Some((v, id)) => {
                stats.alias_hits[id as usize] += 1;
                let unit = self.table.get(id).unit;
                let ms = match unit {
                    Unit::Seconds => to_f64(v, &mut stats.coerced_values).map(|s| s * 1e3),
                    Unit::Millis => to_f64(v, &mut stats.coerced_values),
                    Unit::Timestamp => parse_time_ns(v).ok().map(|t| (t - start_ns) as f64 / 1e6),
                    _ => None,
                };
                match ms {
                    Some(ms) if ms.is_finite() && ms >= 0.0 => Some(ms),
                    _ => {
                        stats.invalid("ttft_ms");
                        None
                    }
                }
            }
            None => None,
        };

        // 3. Events: exceptions, first-token events, evaluation results.
        let mut exception_type: Option<String> = None;
        for ev in &raw.events {
            let lname = ev.name.to_ascii_lowercase();
            if lname == "exception" || lname == "gen_ai.client.operation.exception" {
                if exception_type.is_none() {
                    exception_type = attr_text(&ev.attrs, "exception.type");
                }
            } else if lname.contains("first token") || lname == "gen_ai.first_token" {
                if row.ttft_ms.is_none() {
                    if let Some(t) = ev.time_ns.filter(|t| *t >= start_ns) {
                        row.ttft_ms = Some((t - start_ns) as f64 / 1e6);
                    }
                }
            } else if lname == "gen_ai.evaluation.result" {
                let name = attr_text(&ev.attrs, "gen_ai.evaluation.name");
                let score = ev
                    .attrs
                    .iter()
                    .find(|(k, _)| k == "gen_ai.evaluation.score.value")
                    .and_then(|(_, v)| to_f64(v, &mut stats.coerced_values));
                let label = attr_text(&ev.attrs, "gen_ai.evaluation.score.label");
                match name {
                    Some(name) => evals_out.push(EvalRow {
                        trace_id: row.trace_id.clone(),
                        span_id: Some(row.span_id.clone()),
                        name: name.into(),
                        score,
                        label: label.map(Into::into),
                        source: "otel.event".into(),
                    }),
                    None => stats.invalid("eval_name"),
                }
            }
        }
        // OpenInference evaluation attributes on the span (single and list forms).
        if let Some(name) = text(Field::EvalName) {
            let score =
                get(Field::EvalScore).and_then(|(v, _)| to_f64(v, &mut stats.coerced_values));
            evals_out.push(EvalRow {
                trace_id: row.trace_id.clone(),
                span_id: Some(row.span_id.clone()),
                name: name.into(),
                score,
                label: text(Field::EvalLabel).map(Into::into),
                source: "openinference.attr".into(),
            });
        }
        if !list_evals.is_empty() {
            list_evals.sort_by_key(|e| (e.0, e.1));
            let mut i = 0;
            while i < list_evals.len() {
                let (scope, idx) = (list_evals[i].0, list_evals[i].1);
                let (mut name, mut score, mut label, mut annotator) = (None, None, None, None);
                while i < list_evals.len() && (list_evals[i].0, list_evals[i].1) == (scope, idx) {
                    let (_, _, leaf, v) = list_evals[i];
                    match leaf {
                        "name" => name = first_text(v),
                        "score" => score = to_f64(v, &mut stats.coerced_values),
                        "label" => label = first_text(v),
                        "annotator_kind" => annotator = first_text(v),
                        _ => {}
                    }
                    i += 1;
                }
                match name {
                    Some(name) => evals_out.push(EvalRow {
                        trace_id: row.trace_id.clone(),
                        // a trace's or a session's evaluation judges no one span
                        span_id: (scope == EvalScope::Span).then(|| row.span_id.clone()),
                        name: name.into(),
                        score,
                        label: label.map(Into::into),
                        source: scope.source(annotator.as_deref()).into(),
                    }),
                    None => stats.invalid("eval_name"),
                }
            }
        }
        for mut e in raw.evals {
            if e.span_id.is_none() && e.trace_id.is_empty() {
                e.trace_id = row.trace_id.clone();
            }
            evals_out.push(e);
        }

        // 4. Status and error type.
        let lf_level = text(Field::LangfuseLevel).map(|s| s.to_ascii_uppercase());
        hit(Field::LangfuseLevel, stats);
        row.status = Some(match raw.status {
            Some(s) => s,
            None if lf_level.as_deref() == Some("ERROR") => Status::Error,
            None => Status::Unset,
        });
        row.error_type = text(Field::ErrorType)
            .or(exception_type)
            .or_else(|| {
                if row.status == Some(Status::Error) {
                    raw.status_message.as_deref().and_then(message_class)
                } else {
                    None
                }
            })
            .map(|s| interner.get(&s));

        // 5. Span type.
        let has_model = row.response_model.is_some() || row.request_model.is_some();
        let has_tokens = row.input_tokens.is_some() || row.output_tokens.is_some();
        row.span_type = Some(classify(
            row.operation.as_deref(),
            oi_kind.as_deref(),
            vercel_op.as_deref(),
            tl_kind.as_deref(),
            req_type.as_deref(),
            lf_type.as_deref(),
            row.tool.is_some(),
            row.agent.is_some(),
            has_model && has_tokens,
        ));
        // Agent and tool spans are often named after what they run.
        if row.agent.is_none() && row.span_type == Some(SpanType::Agent) && tl_kind.is_some() {
            row.agent = attr_text(&raw.attrs, "traceloop.entity.name").map(Into::into);
        }
        if row.tool.is_none() && row.span_type == Some(SpanType::Tool) && tl_kind.is_some() {
            row.tool = attr_text(&raw.attrs, "traceloop.entity.name").map(Into::into);
        }
        if row.agent.is_none() && row.span_type == Some(SpanType::Agent) && !row.name.is_empty() {
            row.agent = Some(row.name.clone());
        }
        if row.tool.is_none() && row.span_type == Some(SpanType::Tool) && !row.name.is_empty() {
            row.tool = Some(row.name.clone());
        }

        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        attrs.dedup_by(|a, b| a.0 == b.0);
        row.attrs = attrs;
        Ok(row)
    }
}

fn bump(map: &mut AHashMap<Box<str>, u64>, k: &str) {
    if let Some(n) = map.get_mut(k) {
        *n += 1;
    } else {
        map.insert(k.into(), 1);
    }
}

/// What an OpenInference evaluation on a span judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EvalScope {
    /// `evaluations.N.*`: the span itself
    Span,
    /// `trace.evaluations.N.*`: the span's whole trace
    Trace,
    /// `session.evaluations.N.*`: the session, recorded on the span's trace
    Session,
}

impl EvalScope {
    /// The `source` of the row: the scope, and who judged when the
    /// evaluation says (`annotator_kind` LLM, HUMAN or CODE).
    fn source(self, annotator: Option<&str>) -> String {
        let scope = match self {
            EvalScope::Span => "openinference.attr",
            EvalScope::Trace => "openinference.trace",
            EvalScope::Session => "openinference.session",
        };
        match annotator.map(str::to_ascii_lowercase).as_deref() {
            Some(k @ ("llm" | "human" | "code")) => format!("{scope}:{k}"),
            _ => scope.to_string(),
        }
    }
}

/// `evaluations.N.evaluation.name`, `annotations.N.annotation.score`,
/// `trace.evaluations.N.evaluation.label`,
/// `session.annotations.N.annotation.annotator_kind` -> (scope, N, leaf).
fn list_eval_key(k: &str) -> Option<(EvalScope, u32, &str)> {
    let (scope, k) = match k.split_once('.') {
        Some(("trace", rest)) => (EvalScope::Trace, rest),
        Some(("session", rest)) => (EvalScope::Session, rest),
        _ => (EvalScope::Span, k),
    };
    let rest = k
        .strip_prefix("evaluations.")
        .or_else(|| k.strip_prefix("annotations."))?;
    let (n, rest) = rest.split_once('.')?;
    let n: u32 = n.parse().ok()?;
    let leaf = rest
        .strip_prefix("evaluation.")
        .or_else(|| rest.strip_prefix("annotation."))?;
    Some((scope, n, leaf))
}

fn attr_text(attrs: &Attrs<'_>, key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| first_text(v))
        .filter(|s| !s.is_empty())
}

/// Text of a scalar, or the first element of a list (also a JSON-encoded list
/// in a string, as Langfuse stores `gen_ai.response.finish_reasons`).
pub fn first_text(v: &Val<'_>) -> Option<String> {
    match v {
        Val::Arr(items) => items.first().and_then(first_text),
        Val::Str(s) => {
            let t = s.trim();
            if t.starts_with('[') && t.ends_with(']') {
                if let Ok(Val::Arr(items)) = super::json::parse(t.as_bytes()) {
                    return items.first().and_then(first_text);
                }
            }
            Some(t.to_string())
        }
        Val::Null | Val::Obj(_) => None,
        other => other.scalar_text().map(|s| s.into_owned()),
    }
}

/// The largest token count one span may carry: 2^32. No model reads or
/// writes four billion tokens in one call, so a larger count is corrupt
/// data (counted as an invalid value); bounding it keeps every i64 sum of
/// counts exact, with no wrap, over up to 2^31 spans (docs/reliability.md).
pub const MAX_COUNT: i64 = 1 << 32;

/// A token count: a non-negative integer up to [`MAX_COUNT`], from a number
/// or a decimal string.
fn to_count(v: &Val<'_>, coerced: &mut u64) -> Result<i64, ()> {
    let n = match v {
        Val::I64(n) if *n >= 0 => Ok(*n),
        Val::F64(f) if f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 9.2e18 => {
            Ok(*f as i64)
        }
        Val::Str(s) => {
            *coerced += 1;
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n),
                Ok(_) => Err(()),
                Err(_) => match t.parse::<f64>() {
                    Ok(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 9.2e18 => {
                        Ok(f as i64)
                    }
                    _ => Err(()),
                },
            }
        }
        _ => Err(()),
    }?;
    if n <= MAX_COUNT {
        Ok(n)
    } else {
        Err(())
    }
}

pub fn to_f64(v: &Val<'_>, coerced: &mut u64) -> Option<f64> {
    let f = match v {
        Val::I64(n) => *n as f64,
        Val::U64(n) => *n as f64,
        Val::F64(f) => *f,
        Val::Str(s) => {
            *coerced += 1;
            s.trim().parse::<f64>().ok()?
        }
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// `f` over a map attribute, given as a map or as a JSON string of one
/// (Langfuse writes both).
fn with_map<T>(v: &Val<'_>, f: impl FnOnce(&Val<'_>) -> Option<T>) -> Option<T> {
    match v {
        Val::Str(s) => f(&super::json::parse(s.as_bytes()).ok()?),
        other => f(other),
    }
}

fn map_number(v: &Val<'_>, keys: &[&str]) -> Option<f64> {
    with_map(v, |obj| {
        let mut c = 0;
        keys.iter()
            .find_map(|k| obj.get(k))
            .and_then(|v| to_f64(v, &mut c))
    })
}

/// The sum of a map's numbers (None when it holds none).
fn map_sum(v: &Val<'_>) -> Option<f64> {
    with_map(v, |obj| {
        let Val::Obj(kv) = obj else { return None };
        let mut c = 0;
        let parts: Vec<f64> = kv.iter().filter_map(|(_, v)| to_f64(v, &mut c)).collect();
        (!parts.is_empty()).then(|| parts.iter().sum())
    })
}

/// A span's token counts by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Usage {
    input: Option<i64>,
    output: Option<i64>,
    cache_read: Option<i64>,
    cache_write: Option<i64>,
    cache_write_1h: Option<i64>,
    reasoning: Option<i64>,
}

/// Whether a span's input count leaves out its cached tokens, from the
/// input name's rule (docs/aliases.md "Token counts and the prompt cache"):
/// legacy names on Anthropic-like spans do, as do current names whose cache
/// counts come from legacy names on such spans.
fn excludes_cache(
    input_rule: Option<CacheRule>,
    cache_from_legacy: bool,
    anthropic_like: bool,
) -> bool {
    match input_rule {
        None | Some(CacheRule::Inclusive) => false,
        Some(CacheRule::Legacy) => anthropic_like,
        Some(CacheRule::ProviderDependent) => anthropic_like && cache_from_legacy,
    }
}

/// What [`count_rules`] did, for the input's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CountNotes {
    /// cached tokens were added to an input that left them out
    cache_added: bool,
    /// that sum does not fit: the input is left empty
    input_overflow: bool,
}

/// spanlens' count rules, from the counts a span's attributes give
/// (`reported`) to the canonical ones: input includes the cache, output
/// includes reasoning.
/// 1. No input or output attribute: a Langfuse usage `map` gives the
///    counts; its `input` leaves out the cache, its `output` the reasoning.
/// 2. A span naming only 1-hour cache writes wrote that many.
/// 3. An input that leaves out the cache (`exclusive`: see
///    [`excludes_cache`]; `forced` by `[ingest] exclusive_input_providers`),
///    or that is smaller than its cache (it cannot include it), gets the
///    cached tokens added.
/// 4. Reasoning larger than the output was reported beside it (Gemini's
///    thoughts): added to the output.
fn count_rules(
    reported: Usage,
    exclusive: bool,
    forced: bool,
    map: Option<Usage>,
) -> (Usage, CountNotes) {
    let mut c = reported;
    let mut exclusive = exclusive;
    let mut notes = CountNotes::default();
    if let Some(u) = map.filter(|_| c.input.is_none() && c.output.is_none()) {
        c.input = u.input;
        c.output = match (u.output, u.reasoning) {
            (Some(o), Some(r)) => o.checked_add(r),
            (o, _) => o,
        };
        c.cache_read = c.cache_read.or(u.cache_read);
        c.cache_write = c.cache_write.or(u.cache_write);
        c.cache_write_1h = c.cache_write_1h.or(u.cache_write_1h);
        c.reasoning = c.reasoning.or(u.reasoning);
        exclusive = u.input.is_some();
    }
    if c.cache_write.is_none() {
        c.cache_write = c.cache_write_1h;
    }
    exclusive |= forced;
    if let Some(inp) = c.input {
        let cached = c
            .cache_read
            .unwrap_or(0)
            .saturating_add(c.cache_write.unwrap_or(0));
        if (exclusive || cached > inp) && cached > 0 {
            notes.cache_added = true;
            c.input = inp.checked_add(cached);
            notes.input_overflow = c.input.is_none();
        }
    }
    if let (Some(o), Some(r)) = (c.output, c.reasoning) {
        if r > o {
            c.output = o.checked_add(r);
        }
    }
    (c, notes)
}

/// Langfuse `usage_details`: keys are whatever was ingested.
fn usage_map(v: &Val<'_>) -> Option<Usage> {
    with_map(v, usage_of)
}

fn usage_of(obj: &Val<'_>) -> Option<Usage> {
    let Val::Obj(kv) = obj else { return None };
    let num = |keys: &[&str]| -> Option<i64> {
        let mut c = 0;
        let mut total: Option<i64> = None;
        for (k, v) in kv {
            if keys.contains(&k.as_ref()) {
                if let Ok(n) = to_count(v, &mut c) {
                    total = Some(total.unwrap_or(0).saturating_add(n));
                }
            }
        }
        total
    };
    Some(Usage {
        input: num(&["input"]),
        // audio is output too (no column prices it apart)
        output: num(&["output", "output_audio_tokens"]),
        cache_read: num(&[
            "input_cached_tokens",
            "input_cache_read",
            "cache_read_input_tokens",
            "prompt_details.cache_read",
        ]),
        cache_write: num(&[
            "input_cache_creation",
            "input_cache_write",
            "cache_write.input_tokens",
            "cache_creation_input_tokens",
            "prompt_details.cache_write",
            "input_cache_creation_5m",
            "input_cache_creation_1h",
        ]),
        cache_write_1h: num(&["input_cache_creation_1h"]),
        reasoning: num(&[
            "output_reasoning_tokens",
            "output_reasoning",
            "completion_details.reasoning",
        ]),
    })
}

fn vercel_operation(op: &str) -> Option<&'static str> {
    if op.ends_with(".doGenerate") || op.ends_with(".doStream") {
        Some("chat")
    } else if op.ends_with(".doEmbed") {
        Some("embeddings")
    } else if op == "ai.toolCall" {
        Some("execute_tool")
    } else {
        None
    }
}

/// The class of an error from a status message: `RateLimitError: slow down` -> `RateLimitError`.
fn message_class(msg: &str) -> Option<String> {
    let head = msg.trim().split([':', ' ', '(']).next()?;
    let ok = !head.is_empty()
        && head.len() <= 80
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    Some(if ok {
        head.to_string()
    } else {
        "error".to_string()
    })
}

/// The attribute holding a tool call's arguments (OTel GenAI).
const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";

/// `sha256:` and the first 16 bytes of the text's SHA-256, in hex: equal
/// texts have equal digests, and the text is not kept.
fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(text.as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[allow(clippy::too_many_arguments)]
fn classify(
    operation: Option<&str>,
    oi_kind: Option<&str>,
    vercel_op: Option<&str>,
    tl_kind: Option<&str>,
    req_type: Option<&str>,
    lf_type: Option<&str>,
    has_tool: bool,
    has_agent: bool,
    model_and_tokens: bool,
) -> SpanType {
    use SpanType::*;
    if let Some(op) = operation {
        match op {
            "chat" | "text_completion" | "generate_content" | "completion" | "responses" => {
                return Llm
            }
            "embeddings" | "embedding" => return Embedding,
            "execute_tool" => return Tool,
            // `plan`: an agent's planning step (GenAI's own repository)
            "invoke_agent" | "create_agent" | "plan" => return Agent,
            // `search_memory` reads an agent's memory as retrieval reads
            // documents; the other memory operations write it (other)
            "retrieval" | "rerank" | "search_memory" => return Retriever,
            "invoke_workflow" => return Chain,
            _ => {}
        }
    }
    if let Some(k) = oi_kind {
        return match k {
            "LLM" => Llm,
            "EMBEDDING" => Embedding,
            "TOOL" => Tool,
            "RETRIEVER" | "RERANKER" => Retriever,
            "AGENT" => Agent,
            "CHAIN" => Chain,
            "GUARDRAIL" => Guardrail,
            "EVALUATOR" => Evaluator,
            _ => Other,
        };
    }
    if let Some(op) = vercel_op {
        if op.ends_with(".doGenerate") || op.ends_with(".doStream") {
            return Llm;
        }
        if op.ends_with(".doEmbed") {
            return Embedding;
        }
        if op == "ai.toolCall" {
            return Tool;
        }
        if op.starts_with("ai.") {
            return Chain;
        }
    }
    if let Some(k) = tl_kind {
        match k {
            "workflow" | "task" => return Chain,
            "agent" => return Agent,
            "tool" => return Tool,
            _ => {}
        }
    }
    if let Some(t) = req_type {
        match t {
            "chat" | "completion" => return Llm,
            "embedding" => return Embedding,
            "rerank" => return Retriever,
            _ => {}
        }
    }
    if let Some(t) = lf_type {
        match t {
            "GENERATION" => return Llm,
            "EMBEDDING" => return Embedding,
            "TOOL" => return Tool,
            "AGENT" => return Agent,
            "CHAIN" => return Chain,
            "RETRIEVER" => return Retriever,
            "EVALUATOR" => return Evaluator,
            "GUARDRAIL" => return Guardrail,
            _ => {}
        }
    }
    if has_tool {
        Tool
    } else if model_and_tokens {
        Llm
    } else if has_agent {
        Agent
    } else {
        Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_arguments_are_kept_as_a_digest() {
        // python3 -c 'import hashlib; print(hashlib.sha256(b"{\"q\":\"7\"}").hexdigest()[:32])'
        let a = digest("{\"q\":\"7\"}");
        assert_eq!(a, "sha256:3776cda26c59dac5e850d8b8c03ebc0a");
        assert_ne!(a, digest("{\"q\":\"8\"}"));
    }

    // the operation names GenAI added in its own repository
    #[test]
    fn new_operation_names_have_a_span_type() {
        let of = |op: &str| classify(Some(op), None, None, None, None, None, false, false, false);
        assert_eq!(of("plan"), SpanType::Agent);
        assert_eq!(of("search_memory"), SpanType::Retriever);
        assert_eq!(of("update_memory"), SpanType::Other);
        assert_eq!(of("chat"), SpanType::Llm);
    }

    #[test]
    fn ids_hex_base64_and_prefixed() {
        let p = IdPolicy::Otlp;
        assert_eq!(
            normalize_id("5B8EFFF798038103D269B633813FC60C", 16, p)
                .unwrap()
                .0
                .as_ref(),
            "5b8efff798038103d269b633813fc60c"
        );
        // base64 of 16 bytes, as protobuf MessageToJson writes it
        assert_eq!(
            normalize_id("T6nh/mMkIONaoHewS9UWIw==", 16, p)
                .unwrap()
                .0
                .as_ref(),
            "4fa9e1fe632420e35aa077b04bd51623"
        );
        assert_eq!(
            normalize_id("0tEqJwCpvU0=", 8, p).unwrap().0.as_ref(),
            "d2d12a2700a9bd4d"
        );
        assert_eq!(
            normalize_id("0x00000000000000000000000000000abc", 16, p)
                .unwrap()
                .0
                .as_ref(),
            "00000000000000000000000000000abc"
        );
        assert!(normalize_id("abc", 8, p).is_err());
        assert!(normalize_id("", 8, p).is_err());
        let (id, standard) = normalize_id("obs-uuid-1", 8, IdPolicy::Lenient).unwrap();
        assert_eq!((id.as_ref(), standard), ("obs-uuid-1", false));
    }

    #[test]
    fn counts_are_strict_about_sign_and_fraction() {
        let mut c = 0;
        assert_eq!(to_count(&Val::Str("631".into()), &mut c), Ok(631));
        assert_eq!(c, 1);
        assert_eq!(to_count(&Val::F64(97.0), &mut c), Ok(97));
        assert!(to_count(&Val::F64(97.5), &mut c).is_err());
        assert!(to_count(&Val::I64(-1), &mut c).is_err());
        assert!(to_count(&Val::Str("NaN".into()), &mut c).is_err());
        assert!(to_count(&Val::Str("99999999999999999999".into()), &mut c).is_err());
        assert_eq!(to_count(&Val::I64(MAX_COUNT), &mut c), Ok(MAX_COUNT));
        assert!(to_count(&Val::I64(MAX_COUNT + 1), &mut c).is_err());
        assert!(to_count(&Val::I64(i64::MAX), &mut c).is_err());
        assert!(to_count(&Val::Str("9223372036854775807".into()), &mut c).is_err());
        assert!(to_count(&Val::F64(1e13), &mut c).is_err());
    }

    #[test]
    fn message_classes() {
        assert_eq!(
            message_class("RateLimitError: slow down").unwrap(),
            "RateLimitError"
        );
        assert_eq!(
            message_class("something bad happened").unwrap(),
            "something"
        );
        assert_eq!(message_class("¿qué?").unwrap(), "error");
    }

    /// The count rules, one case each (docs/aliases.md "Token counts and
    /// the prompt cache"): values worked out by hand.
    #[test]
    fn count_rules_one_case_each() {
        let u = |i: Option<i64>, o: Option<i64>, cr: Option<i64>, cw: Option<i64>| Usage {
            input: i,
            output: o,
            cache_read: cr,
            cache_write: cw,
            ..Usage::default()
        };
        let run = |r: Usage, excl: bool| count_rules(r, excl, false, None);
        // an inclusive input keeps its count
        let (c, n) = run(u(Some(1000), Some(50), Some(400), None), false);
        assert_eq!((c.input, n.cache_added), (Some(1000), false));
        // an exclusive one gets reads and writes added
        let (c, n) = run(u(Some(600), Some(50), Some(300), Some(100)), true);
        assert_eq!((c.input, n.cache_added), (Some(1000), true));
        // a cache larger than an "inclusive" input cannot be inside it
        let (c, n) = run(u(Some(100), None, Some(400), None), false);
        assert_eq!((c.input, n.cache_added), (Some(500), true));
        // forced by [ingest] exclusive_input_providers
        let (c, _) = count_rules(u(Some(600), None, Some(400), None), false, true, None);
        assert_eq!(c.input, Some(1000));
        // an overflowing sum leaves the input empty, never wrapped
        let (c, n) = run(u(Some(i64::MAX), None, Some(1), None), true);
        assert_eq!((c.input, n.input_overflow), (None, true));
        // reasoning above the output was reported beside it
        let mut r = u(None, Some(100), None, None);
        r.reasoning = Some(300);
        assert_eq!(run(r, false).0.output, Some(400));
        r.reasoning = Some(30);
        assert_eq!(run(r, false).0.output, Some(100));
        // only 1-hour writes: that many writes
        let mut r = u(Some(1300), None, None, None);
        r.cache_write_1h = Some(300);
        let (c, _) = run(r, false);
        assert_eq!((c.cache_write, c.input), (Some(300), Some(1300)));
        // a Langfuse map: input without cache, output without reasoning
        let map = Usage {
            input: Some(200),
            output: Some(50),
            cache_read: Some(300),
            reasoning: Some(20),
            ..Usage::default()
        };
        let (c, n) = count_rules(Usage::default(), false, false, Some(map));
        assert_eq!(
            (c.input, c.output, c.reasoning),
            (Some(500), Some(70), Some(20))
        );
        assert!(n.cache_added);
        // attributes win over the map
        let (c, _) = count_rules(u(Some(9), Some(9), None, None), false, false, Some(map));
        assert_eq!((c.input, c.output), (Some(9), Some(9)));
    }

    #[test]
    fn which_inputs_leave_out_the_cache() {
        use CacheRule::*;
        assert!(!excludes_cache(None, true, true));
        assert!(!excludes_cache(Some(Inclusive), true, true));
        assert!(excludes_cache(Some(Legacy), false, true));
        assert!(!excludes_cache(Some(Legacy), true, false));
        assert!(excludes_cache(Some(ProviderDependent), true, true));
        assert!(!excludes_cache(Some(ProviderDependent), false, true));
        assert!(!excludes_cache(Some(ProviderDependent), true, false));
    }

    #[test]
    fn list_eval_keys() {
        use EvalScope::*;
        assert_eq!(
            list_eval_key("evaluations.2.evaluation.score"),
            Some((Span, 2, "score"))
        );
        assert_eq!(
            list_eval_key("annotations.0.annotation.label"),
            Some((Span, 0, "label"))
        );
        assert_eq!(
            list_eval_key("trace.evaluations.1.evaluation.name"),
            Some((Trace, 1, "name"))
        );
        assert_eq!(
            list_eval_key("session.annotations.0.annotation.annotator_kind"),
            Some((Session, 0, "annotator_kind"))
        );
        assert_eq!(list_eval_key("evaluations.x.evaluation.score"), None);
        assert_eq!(list_eval_key("trace.id"), None);
        assert_eq!(Trace.source(Some("HUMAN")), "openinference.trace:human");
        assert_eq!(Span.source(Some("robot")), "openinference.attr");
    }
}
