//! One resolved span (a row of the canonical table) before it becomes columns.

use std::fmt;
use std::sync::Arc;

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($var),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$var),)+ _ => None } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum!(
    /// OTLP span kind.
    Kind { Unspecified => "unspecified", Internal => "internal", Server => "server", Client => "client", Producer => "producer", Consumer => "consumer" }
);
str_enum!(
    /// What a span does, across conventions.
    SpanType { Llm => "llm", Embedding => "embedding", Tool => "tool", Retriever => "retriever", Agent => "agent", Chain => "chain", Guardrail => "guardrail", Evaluator => "evaluator", Other => "other" }
);
str_enum!(
    /// Span status.
    Status { Unset => "unset", Ok => "ok", Error => "error" }
);

impl Kind {
    /// OTLP numeric kind (0..=5).
    pub fn from_code(code: i64) -> Option<Kind> {
        Some(match code {
            0 => Kind::Unspecified,
            1 => Kind::Internal,
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            _ => return None,
        })
    }

    /// Accepts `SPAN_KIND_CLIENT`, `SpanKind.CLIENT`, `client`, `2`.
    pub fn from_text(s: &str) -> Option<Kind> {
        if let Ok(n) = s.trim().parse::<i64>() {
            return Kind::from_code(n);
        }
        let t = s.trim();
        let t = t
            .strip_prefix("SPAN_KIND_")
            .or_else(|| t.strip_prefix("SpanKind."))
            .unwrap_or(t);
        Kind::parse(&t.to_ascii_lowercase())
    }
}

impl Status {
    pub fn from_code(code: i64) -> Option<Status> {
        Some(match code {
            0 => Status::Unset,
            1 => Status::Ok,
            2 => Status::Error,
            _ => return None,
        })
    }

    /// Accepts `STATUS_CODE_ERROR`, `StatusCode.ERROR`, `ERROR`, `error`,
    /// `failure` (LiteLLM), `2`.
    pub fn from_text(s: &str) -> Option<Status> {
        let t = s.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Status::from_code(n);
        }
        let t = t
            .strip_prefix("STATUS_CODE_")
            .or_else(|| t.strip_prefix("StatusCode."))
            .unwrap_or(t)
            .to_ascii_lowercase();
        match t.as_str() {
            "ok" | "success" => Some(Status::Ok),
            "error" | "failure" | "failed" => Some(Status::Error),
            "unset" | "" => Some(Status::Unset),
            _ => None,
        }
    }
}

/// A span resolved to the canonical fields. Ids are boxed; the repetitive
/// strings (names, models, routes...) are shared `Arc`s from the chunk's
/// interner, so a million rows hold a few thousand distinct strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanRow {
    /// Index of the input file the span came from (not a table column).
    pub file: u32,
    pub trace_id: Box<str>,
    pub span_id: Box<str>,
    pub parent_span_id: Option<Box<str>>,
    pub name: Arc<str>,
    pub kind: Option<Kind>,
    pub span_type: Option<SpanType>,
    pub start_ns: i64,
    pub end_ns: Option<i64>,
    pub duration_ms: Option<f64>,
    pub status: Option<Status>,
    pub error_type: Option<Arc<str>>,
    pub service: Option<Arc<str>>,
    pub operation: Option<Arc<str>>,
    pub provider: Option<Arc<str>>,
    pub request_model: Option<Arc<str>>,
    pub response_model: Option<Arc<str>>,
    pub service_tier: Option<Arc<str>>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cache_write_1h_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub reported_cost_usd: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub finish_reason: Option<Arc<str>>,
    pub route: Option<Arc<str>>,
    pub tenant: Option<Arc<str>>,
    pub user: Option<Arc<str>>,
    pub session: Option<Arc<str>>,
    pub prompt_version: Option<Arc<str>>,
    pub agent: Option<Arc<str>>,
    pub tool: Option<Arc<str>>,
    /// Every attribute no alias claimed (span and resource), values as text.
    pub attrs: Vec<(Arc<str>, Arc<str>)>,
}

/// One evaluation result (the `evals` table).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalRow {
    pub trace_id: Box<str>,
    pub span_id: Option<Box<str>>,
    pub name: Box<str>,
    pub score: Option<f64>,
    pub label: Option<Box<str>>,
    pub source: Box<str>,
}
