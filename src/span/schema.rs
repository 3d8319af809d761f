//! The canonical span table (docs/span-table.md). This is the only place the
//! column names are spelled; every other module refers to these constants.

pub const TRACE_ID: &str = "trace_id";
pub const SPAN_ID: &str = "span_id";
pub const PARENT_SPAN_ID: &str = "parent_span_id";
pub const NAME: &str = "name";
pub const KIND: &str = "kind";
pub const SPAN_TYPE: &str = "span_type";
pub const START_NS: &str = "start_ns";
pub const END_NS: &str = "end_ns";
pub const DURATION_MS: &str = "duration_ms";
pub const STATUS: &str = "status";
pub const ERROR_TYPE: &str = "error_type";
pub const SERVICE: &str = "service";
pub const OPERATION: &str = "operation";
pub const PROVIDER: &str = "provider";
pub const REQUEST_MODEL: &str = "request_model";
pub const RESPONSE_MODEL: &str = "response_model";
/// The service tier the call ran on, as the provider reported it
/// (`priority`, `flex`, `batch`, `default`...); it selects the price.
pub const SERVICE_TIER: &str = "service_tier";
pub const INPUT_TOKENS: &str = "input_tokens";
pub const OUTPUT_TOKENS: &str = "output_tokens";
pub const CACHE_READ_TOKENS: &str = "cache_read_tokens";
pub const CACHE_WRITE_TOKENS: &str = "cache_write_tokens";
/// The part of `cache_write_tokens` written with a 1-hour lifetime
/// (Anthropic bills it above the 5-minute write).
pub const CACHE_WRITE_1H_TOKENS: &str = "cache_write_1h_tokens";
pub const REASONING_TOKENS: &str = "reasoning_tokens";
/// Every token count column (Int64).
pub const TOKEN_COLUMNS: [&str; 6] = [
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    CACHE_WRITE_1H_TOKENS,
    REASONING_TOKENS,
];
pub const REPORTED_COST_USD: &str = "reported_cost_usd";
pub const TTFT_MS: &str = "ttft_ms";
pub const FINISH_REASON: &str = "finish_reason";
pub const ROUTE: &str = "route";
pub const TENANT: &str = "tenant";
pub const USER: &str = "user";
pub const SESSION: &str = "session";
pub const PROMPT_VERSION: &str = "prompt_version";
pub const AGENT: &str = "agent";
pub const TOOL: &str = "tool";
pub const ATTRS: &str = "attrs";
/// Field names inside each `attrs` list element (a map as list<struct<key, value>>).
pub const ATTR_KEY: &str = "key";
pub const ATTR_VALUE: &str = "value";

/// Every column of the spans table, in table order.
pub const SPAN_COLUMNS: &[&str] = &[
    TRACE_ID,
    SPAN_ID,
    PARENT_SPAN_ID,
    NAME,
    KIND,
    SPAN_TYPE,
    START_NS,
    END_NS,
    DURATION_MS,
    STATUS,
    ERROR_TYPE,
    SERVICE,
    OPERATION,
    PROVIDER,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SERVICE_TIER,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    CACHE_WRITE_1H_TOKENS,
    REASONING_TOKENS,
    REPORTED_COST_USD,
    TTFT_MS,
    FINISH_REASON,
    ROUTE,
    TENANT,
    USER,
    SESSION,
    PROMPT_VERSION,
    AGENT,
    TOOL,
    ATTRS,
];

/// Low-cardinality string columns stored dictionary-encoded (categorical).
pub const CATEGORICAL_COLUMNS: &[&str] = &[
    KIND,
    SPAN_TYPE,
    STATUS,
    SERVICE,
    OPERATION,
    PROVIDER,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SERVICE_TIER,
    FINISH_REASON,
];

/// Columns added after the first canonical tables were written: a spans
/// table without them (an older lake) reads them as nulls.
pub const ADDED_COLUMNS: &[&str] = &[SERVICE_TIER, CACHE_WRITE_1H_TOKENS];

/// The columns a canonical spans table must have.
pub fn required_span_columns() -> impl Iterator<Item = &'static str> {
    SPAN_COLUMNS
        .iter()
        .copied()
        .filter(|c| !ADDED_COLUMNS.contains(c))
}

/// The `evals` table: one row per evaluation result.
pub const EVAL_NAME: &str = "name";
pub const EVAL_SCORE: &str = "score";
pub const EVAL_LABEL: &str = "label";
pub const EVAL_SOURCE: &str = "source";
pub const EVAL_COLUMNS: &[&str] = &[
    TRACE_ID,
    SPAN_ID,
    EVAL_NAME,
    EVAL_SCORE,
    EVAL_LABEL,
    EVAL_SOURCE,
];

/// Cohort keys that inherit from ancestors (docs/span-table.md, "Cohort keys inherited from the trace").
pub const INHERITED_KEYS: &[&str] = &[ROUTE, TENANT, USER, SESSION, PROMPT_VERSION];

/// Which of the two tables a Parquet file holds, told from its columns.
pub fn is_spans_schema(columns: &[&str]) -> bool {
    [TRACE_ID, SPAN_ID, START_NS, END_NS, SPAN_TYPE, ATTRS]
        .iter()
        .all(|c| columns.contains(c))
}

pub fn is_evals_schema(columns: &[&str]) -> bool {
    EVAL_COLUMNS.iter().all(|c| columns.contains(c)) && !columns.contains(&START_NS)
}
