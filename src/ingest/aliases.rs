//! The attribute-alias table (docs/aliases.md) and its overrides from
//! `spanlens.toml` `[fields]`. Each canonical field has an ordered list of
//! attribute names; the first one present on a span wins (never a sum).
//! Precedence: the user's mapping, current OTel GenAI, deprecated OTel,
//! OpenInference, OpenLLMetry legacy, then vendor names (Vercel AI SDK,
//! Langfuse, LiteLLM, pydantic-ai).

use ahash::AHashMap;

use crate::error::{Error, Result};

/// A field an attribute can resolve to. Some are internal (span-type hints,
/// prompt name, Langfuse usage maps) and feed the canonical columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    RequestModel,
    ResponseModel,
    Provider,
    Operation,
    OiSpanKind,
    TraceloopSpanKind,
    LlmRequestType,
    VercelOperation,
    LangfuseType,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    CacheWrite1hTokens,
    ReasoningTokens,
    Cost,
    Ttft,
    Duration,
    PromptVersion,
    PromptName,
    Route,
    Tenant,
    User,
    Session,
    Agent,
    Tool,
    FinishReason,
    ServiceTier,
    ErrorType,
    Service,
    LangfuseLevel,
    UsageDetails,
    CostDetails,
    ModelParameters,
    EvalName,
    EvalScore,
    EvalLabel,
}

impl Field {
    pub const COUNT: usize = Field::EvalLabel as usize + 1;

    /// The name users write in `spanlens.toml` `[fields]` (canonical column
    /// names, plus the few hint fields).
    pub fn config_name(self) -> &'static str {
        use Field::*;
        match self {
            RequestModel => "request_model",
            ResponseModel => "response_model",
            Provider => "provider",
            Operation => "operation",
            OiSpanKind => "openinference_span_kind",
            TraceloopSpanKind => "traceloop_span_kind",
            LlmRequestType => "llm_request_type",
            VercelOperation => "vercel_operation",
            LangfuseType => "langfuse_type",
            InputTokens => "input_tokens",
            OutputTokens => "output_tokens",
            CacheReadTokens => "cache_read_tokens",
            CacheWriteTokens => "cache_write_tokens",
            CacheWrite1hTokens => "cache_write_1h_tokens",
            ReasoningTokens => "reasoning_tokens",
            Cost => "reported_cost_usd",
            Ttft => "ttft_ms",
            Duration => "duration_s",
            PromptVersion => "prompt_version",
            PromptName => "prompt_name",
            Route => "route",
            Tenant => "tenant",
            User => "user",
            Session => "session",
            Agent => "agent",
            Tool => "tool",
            FinishReason => "finish_reason",
            ServiceTier => "service_tier",
            ErrorType => "error_type",
            Service => "service",
            LangfuseLevel => "langfuse_level",
            UsageDetails => "usage_details",
            CostDetails => "cost_details",
            ModelParameters => "model_parameters",
            EvalName => "eval_name",
            EvalScore => "eval_score",
            EvalLabel => "eval_label",
        }
    }

    pub fn all() -> impl Iterator<Item = Field> {
        DEFAULTS
            .iter()
            .map(|d| d.0)
            .chain([Field::Ttft, Field::Cost])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
    }

    pub fn from_config_name(s: &str) -> Option<Field> {
        // `ttft_s` lets a user map a seconds-valued attribute.
        if s == "ttft_s" {
            return Some(Field::Ttft);
        }
        Field::all().find(|f| f.config_name() == s)
    }
}

/// The convention an alias belongs to (for "conventions detected").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Convention {
    OtelGenAi,
    OtelGenAiDeprecated,
    OpenInference,
    OpenLlmetry,
    Langfuse,
    VercelAiSdk,
    LiteLlm,
    Generic,
    User,
}

impl Convention {
    pub const ALL: [Convention; 9] = [
        Convention::OtelGenAi,
        Convention::OtelGenAiDeprecated,
        Convention::OpenInference,
        Convention::OpenLlmetry,
        Convention::Langfuse,
        Convention::VercelAiSdk,
        Convention::LiteLlm,
        Convention::Generic,
        Convention::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Convention::OtelGenAi => "otel-genai",
            Convention::OtelGenAiDeprecated => "otel-genai-deprecated",
            Convention::OpenInference => "openinference",
            Convention::OpenLlmetry => "openllmetry",
            Convention::Langfuse => "langfuse",
            Convention::VercelAiSdk => "vercel-ai-sdk",
            Convention::LiteLlm => "litellm",
            Convention::Generic => "generic",
            Convention::User => "spanlens.toml",
        }
    }

    /// The versions of the convention the default names were taken from
    /// (docs/aliases.md).
    pub fn version(self) -> &'static str {
        match self {
            Convention::OtelGenAi => "semconv 1.37-1.42, GenAI repository 2026",
            Convention::OtelGenAiDeprecated => "semconv before 1.37",
            Convention::OpenInference => "0.1.31 (2026-08)",
            Convention::OpenLlmetry => "semconv-ai 0.5",
            Convention::Langfuse => "OTel attributes and exports, v3 (2026)",
            Convention::VercelAiSdk => "AI SDK 5 telemetry",
            Convention::LiteLlm => "StandardLoggingPayload, 1.110",
            Convention::Generic => "no convention: seen in real emitters",
            Convention::User => "spanlens.toml [fields]",
        }
    }

    /// The convention an attribute name belongs to by its prefix, for
    /// attributes no alias claimed.
    pub fn of_key(key: &str) -> Option<Convention> {
        if key.starts_with("gen_ai.") {
            Some(Convention::OtelGenAi)
        } else if key.starts_with("llm.") || key.starts_with("openinference.") {
            Some(Convention::OpenInference)
        } else if key.starts_with("traceloop.") {
            Some(Convention::OpenLlmetry)
        } else if key.starts_with("langfuse.") {
            Some(Convention::Langfuse)
        } else if key.starts_with("ai.") {
            Some(Convention::VercelAiSdk)
        } else {
            None
        }
    }
}

/// How a numeric attribute's value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Text, or the first element of a list.
    Text,
    /// A count (tokens).
    Count,
    /// USD.
    Usd,
    Seconds,
    Millis,
    /// An absolute timestamp (TTFT = timestamp - span start).
    Timestamp,
    /// A JSON map of usage or cost (Langfuse `usage_details`).
    Map,
}

/// What an input-token alias says about cached tokens (docs/aliases.md "Token counts and the prompt cache").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheRule {
    /// Input counts include cache reads and writes.
    Inclusive,
    /// Inclusive by convention, except legacy Anthropic/Bedrock instrumentations.
    ProviderDependent,
    /// A legacy name: exclusive when the provider is Anthropic or Bedrock.
    Legacy,
}

#[derive(Clone, Debug)]
pub struct Alias {
    pub name: Box<str>,
    pub field: Field,
    pub convention: Convention,
    pub unit: Unit,
    pub cache_rule: CacheRule,
}

use CacheRule::{Inclusive as Inc, Legacy as Leg, ProviderDependent as Dep};
use Convention::{
    Generic, Langfuse, LiteLlm, OpenInference, OpenLlmetry, OtelGenAi, OtelGenAiDeprecated,
    VercelAiSdk,
};
use Field::*;
use Unit::*;

/// The default table, in precedence order within each field: one alias a
/// line (field, attribute name, convention, unit, cache rule).
#[rustfmt::skip]
const DEFAULTS: &[(Field, &str, Convention, Unit, CacheRule)] = &[
    (RequestModel, "gen_ai.request.model", OtelGenAi, Text, Inc),
    (RequestModel, "llm.request.model_name", OpenInference, Text, Inc),
    (RequestModel, "ai.model.id", VercelAiSdk, Text, Inc),
    (ResponseModel, "gen_ai.response.model", OtelGenAi, Text, Inc),
    (ResponseModel, "llm.response.model_name", OpenInference, Text, Inc),
    (ResponseModel, "llm.model_name", OpenInference, Text, Inc),
    (ResponseModel, "embedding.model_name", OpenInference, Text, Inc),
    (ResponseModel, "reranker.model_name", OpenInference, Text, Inc),
    (ResponseModel, "llm.response.model", OpenLlmetry, Text, Inc),
    (ResponseModel, "ai.response.model", VercelAiSdk, Text, Inc),
    (ResponseModel, "langfuse.observation.model.name", Langfuse, Text, Inc),
    (ResponseModel, "model", Generic, Text, Inc),
    (Provider, "gen_ai.provider.name", OtelGenAi, Text, Inc),
    (Provider, "gen_ai.system", OtelGenAiDeprecated, Text, Inc),
    (Provider, "llm.provider", OpenInference, Text, Inc),
    (Provider, "llm.system", OpenInference, Text, Inc),
    (Provider, "ai.model.provider", VercelAiSdk, Text, Inc),
    (Provider, "custom_llm_provider", LiteLlm, Text, Inc),
    (Operation, "gen_ai.operation.name", OtelGenAi, Text, Inc),
    (OiSpanKind, "openinference.span.kind", OpenInference, Text, Inc),
    (TraceloopSpanKind, "traceloop.span.kind", OpenLlmetry, Text, Inc),
    (LlmRequestType, "llm.request.type", OpenLlmetry, Text, Inc),
    (VercelOperation, "ai.operationId", VercelAiSdk, Text, Inc),
    (LangfuseType, "langfuse.observation.type", Langfuse, Text, Inc),
    (InputTokens, "gen_ai.usage.input_tokens", OtelGenAi, Count, Dep),
    (InputTokens, "gen_ai.usage.prompt_tokens", OtelGenAiDeprecated, Count, Leg),
    (InputTokens, "llm.token_count.prompt", OpenInference, Count, Inc),
    (InputTokens, "ai.usage.inputTokens", VercelAiSdk, Count, Inc),
    (InputTokens, "ai.usage.promptTokens", VercelAiSdk, Count, Leg),
    (InputTokens, "prompt_tokens", LiteLlm, Count, Inc),
    (OutputTokens, "gen_ai.usage.output_tokens", OtelGenAi, Count, Inc),
    (OutputTokens, "gen_ai.usage.completion_tokens", OtelGenAiDeprecated, Count, Inc),
    (OutputTokens, "llm.token_count.completion", OpenInference, Count, Inc),
    (OutputTokens, "ai.usage.outputTokens", VercelAiSdk, Count, Inc),
    (OutputTokens, "ai.usage.completionTokens", VercelAiSdk, Count, Inc),
    (OutputTokens, "completion_tokens", LiteLlm, Count, Inc),
    (CacheReadTokens, "gen_ai.usage.cache_read.input_tokens", OtelGenAi, Count, Dep),
    (CacheReadTokens, "gen_ai.usage.cache_read_input_tokens", OtelGenAiDeprecated, Count, Leg),
    (CacheReadTokens, "llm.token_count.prompt_details.cache_read", OpenInference, Count, Inc),
    (CacheReadTokens, "ai.usage.cachedInputTokens", VercelAiSdk, Count, Inc),
    // names real emitters write beside the convention's
    (CacheReadTokens, "gen_ai.usage.input_tokens.cached", Generic, Count, Inc),
    // the name since GenAI's own repository (core 1.42); the one before it
    (CacheWriteTokens, "gen_ai.usage.cache_write.input_tokens", OtelGenAi, Count, Dep),
    (CacheWriteTokens, "gen_ai.usage.cache_creation.input_tokens", OtelGenAi, Count, Dep),
    (CacheWriteTokens, "gen_ai.usage.cache_creation_input_tokens", OtelGenAiDeprecated, Count, Leg),
    (CacheWriteTokens, "llm.token_count.prompt_details.cache_write", OpenInference, Count, Inc),
    (CacheWriteTokens, "gen_ai.usage.input_tokens.cache_write", Generic, Count, Inc),
    (CacheWriteTokens, "gen_ai.usage.cache_write_input_tokens", Generic, Count, Leg),
    // the Anthropic API's usage object, flattened (LiteLLM payloads, raw logs)
    (CacheWrite1hTokens, "usage.cache_creation.ephemeral_1h_input_tokens", Generic, Count, Inc),
    (ReasoningTokens, "gen_ai.usage.reasoning.output_tokens", OtelGenAi, Count, Inc),
    (ReasoningTokens, "gen_ai.usage.output_tokens.reasoning", Generic, Count, Inc),
    (ReasoningTokens, "gen_ai.usage.reasoning_tokens", OpenLlmetry, Count, Inc),
    (ReasoningTokens, "llm.token_count.completion_details.reasoning", OpenInference, Count, Inc),
    (ReasoningTokens, "llm.usage.reasoning_tokens", OpenLlmetry, Count, Inc),
    (ReasoningTokens, "ai.usage.reasoningTokens", VercelAiSdk, Count, Inc),
    (Cost, "gen_ai.usage.cost", OtelGenAiDeprecated, Usd, Inc),
    (Cost, "gen_ai.usage.total_cost", Generic, Usd, Inc),
    (Cost, "llm.cost.total", OpenInference, Usd, Inc),
    (Cost, "operation.cost", Generic, Usd, Inc),
    (Cost, "response_cost", LiteLlm, Usd, Inc),
    (CostDetails, "langfuse.observation.cost_details", Langfuse, Map, Inc),
    (Ttft, "gen_ai.response.time_to_first_chunk", OtelGenAi, Seconds, Inc),
    (Ttft, "gen_ai.server.time_to_first_token", OtelGenAi, Seconds, Inc),
    (Ttft, "ai.response.msToFirstChunk", VercelAiSdk, Millis, Inc),
    (Ttft, "ai.stream.msToFirstChunk", VercelAiSdk, Millis, Inc),
    (Ttft, "langfuse.observation.completion_start_time", Langfuse, Timestamp, Inc),
    (Ttft, "time_to_first_token", Langfuse, Seconds, Inc),
    (Duration, "gen_ai.client.operation.duration", OtelGenAi, Seconds, Inc),
    (PromptVersion, "llm.prompt_template.version", OpenInference, Text, Inc),
    (PromptVersion, "traceloop.prompt.version", OpenLlmetry, Text, Inc),
    (PromptVersion, "langfuse.observation.prompt.version", Langfuse, Text, Inc),
    (PromptVersion, "langfuse.prompt.version", Langfuse, Text, Inc),
    (PromptVersion, "prompt_version", Generic, Text, Inc),
    (PromptVersion, "gen_ai.prompt.version", OtelGenAi, Text, Inc),
    (PromptName, "gen_ai.prompt.name", OtelGenAi, Text, Inc),
    (PromptName, "traceloop.prompt.key", OpenLlmetry, Text, Inc),
    (PromptName, "langfuse.observation.prompt.name", Langfuse, Text, Inc),
    (PromptName, "langfuse.prompt.name", Langfuse, Text, Inc),
    (PromptName, "prompt_name", Generic, Text, Inc),
    (Route, "http.route", Generic, Text, Inc),
    (Route, "app.route", Generic, Text, Inc),
    (Route, "traceloop.workflow.name", OpenLlmetry, Text, Inc),
    (Route, "gen_ai.workflow.name", OtelGenAi, Text, Inc),
    (Route, "langfuse.trace.name", Langfuse, Text, Inc),
    (Route, "ai.telemetry.functionId", VercelAiSdk, Text, Inc),
    (Tenant, "tenant.id", Generic, Text, Inc),
    (Tenant, "app.tenant", Generic, Text, Inc),
    (Tenant, "organization.id", Generic, Text, Inc),
    (Tenant, "traceloop.association.properties.customer_id", OpenLlmetry, Text, Inc),
    (Tenant, "metadata.tenant_id", OpenInference, Text, Inc),
    (Tenant, "metadata.tenant", OpenInference, Text, Inc),
    (Tenant, "langfuse.trace.metadata.tenant_id", Langfuse, Text, Inc),
    (Tenant, "langfuse.trace.metadata.tenant", Langfuse, Text, Inc),
    (User, "user.id", Generic, Text, Inc),
    (User, "enduser.id", Generic, Text, Inc),
    (User, "traceloop.association.properties.user_id", OpenLlmetry, Text, Inc),
    (User, "langfuse.user.id", Langfuse, Text, Inc),
    (User, "ai.telemetry.metadata.userId", VercelAiSdk, Text, Inc),
    (User, "end_user", LiteLlm, Text, Inc),
    (Session, "gen_ai.conversation.id", OtelGenAi, Text, Inc),
    (Session, "session.id", Generic, Text, Inc),
    (Session, "traceloop.association.properties.session_id", OpenLlmetry, Text, Inc),
    (Session, "langfuse.session.id", Langfuse, Text, Inc),
    (Session, "ai.telemetry.metadata.sessionId", VercelAiSdk, Text, Inc),
    (Session, "gcp.vertex.agent.session_id", Generic, Text, Inc),
    (Session, "session_id", LiteLlm, Text, Inc),
    (Agent, "gen_ai.agent.name", OtelGenAi, Text, Inc),
    (Agent, "agent.name", OpenInference, Text, Inc),
    (Tool, "gen_ai.tool.name", OtelGenAi, Text, Inc),
    (Tool, "tool.name", OpenInference, Text, Inc),
    (Tool, "ai.toolCall.name", VercelAiSdk, Text, Inc),
    (FinishReason, "gen_ai.response.finish_reasons", OtelGenAi, Text, Inc),
    (FinishReason, "llm.finish_reason", OpenInference, Text, Inc),
    (FinishReason, "gen_ai.response.finish_reason", OpenLlmetry, Text, Inc),
    (FinishReason, "llm.response.finish_reason", OpenLlmetry, Text, Inc),
    (FinishReason, "gen_ai.completion.0.finish_reason", OpenLlmetry, Text, Inc),
    (FinishReason, "ai.response.finishReason", VercelAiSdk, Text, Inc),
    // what the call ran on: the response's word over the request's
    (ServiceTier, "openai.response.service_tier", OtelGenAi, Text, Inc),
    (ServiceTier, "gen_ai.openai.response.service_tier", OtelGenAiDeprecated, Text, Inc),
    (ServiceTier, "usage.service_tier", Generic, Text, Inc),
    (ServiceTier, "openai.request.service_tier", OtelGenAi, Text, Inc),
    (ServiceTier, "gen_ai.openai.request.service_tier", OtelGenAiDeprecated, Text, Inc),
    (ServiceTier, "modelParameters.service_tier", Langfuse, Text, Inc),
    (ServiceTier, "model_parameters.service_tier", Langfuse, Text, Inc),
    (ErrorType, "error.type", Generic, Text, Inc),
    (ErrorType, "exception.type", Generic, Text, Inc),
    (Service, "service.name", Generic, Text, Inc),
    (LangfuseLevel, "langfuse.observation.level", Langfuse, Text, Inc),
    (UsageDetails, "langfuse.observation.usage_details", Langfuse, Map, Inc),
    // request parameters as one JSON map (a `service_tier` key in it)
    (ModelParameters, "langfuse.observation.model.parameters", Langfuse, Map, Inc),
    (ModelParameters, "llm.invocation_parameters", OpenInference, Map, Inc),
    (EvalName, "gen_ai.evaluation.name", OtelGenAi, Text, Inc),
    (EvalName, "evaluation.name", OpenInference, Text, Inc),
    (EvalName, "annotation.name", OpenInference, Text, Inc),
    (EvalScore, "gen_ai.evaluation.score.value", OtelGenAi, Text, Inc),
    (EvalScore, "evaluation.score", OpenInference, Text, Inc),
    (EvalScore, "annotation.score", OpenInference, Text, Inc),
    (EvalLabel, "gen_ai.evaluation.score.label", OtelGenAi, Text, Inc),
    (EvalLabel, "evaluation.label", OpenInference, Text, Inc),
    (EvalLabel, "annotation.label", OpenInference, Text, Inc),
];

/// Attribute names that carry prompt, completion or tool-definition text.
/// They are not kept in `attrs` unless `--include-text` is given
/// (docs/reliability.md promise 5: no prompt text in any output unless asked).
pub fn is_content_key(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "gen_ai.input.messages",
        "gen_ai.input.messages_delta",
        "gen_ai.output.messages",
        "gen_ai.evaluation.explanation",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "input.value",
        "output.value",
        "input",
        "output",
        "llm.prompts",
        "llm.invocation_parameters",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "ai.prompt",
        "ai.prompt.messages",
        "ai.prompt.tools",
        "ai.response.text",
        "ai.response.toolCalls",
        "ai.response.object",
        "ai.response.providerMetadata",
        "pydantic_ai.all_messages",
        "logfire.json_schema",
        "final_result",
        "tool_response",
        "gcp.vertex.agent.llm_request",
        "gcp.vertex.agent.llm_response",
        "gcp.vertex.agent.tool_call_args",
        "gcp.vertex.agent.tool_response",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.trace.input",
        "langfuse.trace.output",
        "messages",
        "response",
    ];
    const PREFIXES: &[&str] = &[
        "gen_ai.memory.",
        "llm.input_messages.",
        "llm.output_messages.",
        "llm.tools.",
        "llm.prompt_template.template",
        "llm.prompt_template.variables",
        "traceloop.prompt.template",
        "retrieval.documents.",
        "embedding.embeddings.",
        "reranker.input_documents.",
        "reranker.output_documents.",
        "input.",
        "output.",
    ];
    if EXACT.contains(&key) {
        return true;
    }
    // finish reasons live under gen_ai.completion.N and are not text.
    if key.ends_with(".finish_reason") {
        return false;
    }
    // OpenLLMetry's indexed messages (gen_ai.prompt.0.content); the
    // standard gen_ai.prompt.name and .version are not text
    let indexed = ["gen_ai.prompt.", "gen_ai.completion."].iter().any(|p| {
        key.strip_prefix(p)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    });
    indexed || PREFIXES.iter().any(|p| key.starts_with(p)) && !key.ends_with(".mime_type")
}

/// The lookup table a run uses: defaults plus user overrides.
#[derive(Clone, Debug)]
pub struct AliasTable {
    pub aliases: Vec<Alias>,
    index: AHashMap<Box<str>, u16>,
}

impl Default for AliasTable {
    fn default() -> Self {
        AliasTable::new(&[]).expect("the default alias table is valid")
    }
}

impl AliasTable {
    /// `overrides`: (field name as in `[fields]`, attribute names) from the config.
    /// User names come first for their field, then the defaults.
    pub fn new(overrides: &[(String, Vec<String>)]) -> Result<AliasTable> {
        let mut aliases: Vec<Alias> = Vec::new();
        for (field_name, names) in overrides {
            let field = Field::from_config_name(field_name).ok_or_else(|| {
                let known: Vec<&str> = Field::all().map(|f| f.config_name()).collect();
                Error::Usage {
                    what: format!("unknown field `{field_name}` in [fields]"),
                    hint: format!("fields that can be mapped: {}", known.join(", ")),
                }
            })?;
            let unit = match (field, field_name.as_str()) {
                (Field::Ttft, "ttft_s") => Unit::Seconds,
                (Field::Ttft, _) => Unit::Millis,
                _ => default_unit(field),
            };
            for n in names {
                aliases.push(Alias {
                    name: n.as_str().into(),
                    field,
                    convention: Convention::User,
                    unit,
                    cache_rule: CacheRule::Inclusive,
                });
            }
        }
        for &(field, name, convention, unit, cache_rule) in DEFAULTS {
            aliases.push(Alias {
                name: name.into(),
                field,
                convention,
                unit,
                cache_rule,
            });
        }
        let mut index = AHashMap::with_capacity(aliases.len());
        // The first mention of a name wins (a user mapping can re-point a default name).
        for (i, a) in aliases.iter().enumerate() {
            index.entry(a.name.clone()).or_insert(i as u16);
        }
        Ok(AliasTable { aliases, index })
    }

    /// The alias id (also its rank: lower wins) for an attribute name.
    #[inline]
    pub fn lookup(&self, key: &str) -> Option<u16> {
        self.index.get(key).copied()
    }

    pub fn get(&self, id: u16) -> &Alias {
        &self.aliases[id as usize]
    }
}

fn default_unit(field: Field) -> Unit {
    match field {
        InputTokens | OutputTokens | CacheReadTokens | CacheWriteTokens | CacheWrite1hTokens
        | ReasoningTokens => Unit::Count,
        Cost => Unit::Usd,
        Duration => Unit::Seconds,
        UsageDetails | CostDetails | ModelParameters => Unit::Map,
        _ => Unit::Text,
    }
}

/// Normalize a provider name to the OTel `gen_ai.provider.name` spelling.
pub fn normalize_provider(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    let mapped = match lower.as_str() {
        "az.ai.openai" | "azure" | "azure_openai" | "azure-openai" | "azure.openai" => {
            "azure.ai.openai"
        }
        "az.ai.inference" => "azure.ai.inference",
        "xai" | "x-ai" | "grok" => "x_ai",
        "mistral" | "mistralai" => "mistral_ai",
        "moonshot" => "moonshot_ai",
        "aws" | "bedrock" | "amazon" | "amazon-bedrock" | "amazon_bedrock" => "aws.bedrock",
        "vertexai" | "vertex_ai" | "google-vertex" | "gcp.vertex.agent" => "gcp.vertex_ai",
        "gemini" | "google" | "google.generative-ai" | "google-generative-ai" => "gcp.gemini",
        "cohere" | "cohere.chat" => "cohere",
        "watsonx" => "ibm.watsonx.ai",
        other => other,
    };
    if mapped != lower {
        return mapped.to_string();
    }
    // Vercel AI SDK style `openai.chat`, `anthropic.messages`, `google.generative-ai`.
    const SDK_PREFIXES: &[&str] = &[
        "openai",
        "anthropic",
        "mistral",
        "xai",
        "groq",
        "deepseek",
        "cohere",
        "azure",
        "google",
        "amazon-bedrock",
        "perplexity",
        "fireworks",
        "togetherai",
    ];
    if let Some((head, _)) = lower.split_once('.') {
        if SDK_PREFIXES.contains(&head) && !lower.starts_with("azure.ai") {
            return normalize_provider(head);
        }
    }
    lower
}

/// Normalize a finish reason across providers (docs/aliases.md, OpenLLMetry's map).
pub fn normalize_finish_reason(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase().replace('-', "_");
    match lower.as_str() {
        "tool_calls" | "function_call" | "tool_use" | "tool_call" => "tool_call".into(),
        "end_turn" | "stop_sequence" | "stop" | "complete" | "eos" => "stop".into(),
        "max_tokens" | "length" | "max_output_tokens" => "length".into(),
        "content_filter" | "safety" | "blocklist" | "prohibited_content" | "spii" => {
            "content_filter".into()
        }
        _ => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_mapping_comes_first_and_unknown_fields_are_usage_errors() {
        let t = AliasTable::new(&[("prompt_version".into(), vec!["app.prompt.version".into()])])
            .unwrap();
        let user = t.lookup("app.prompt.version").unwrap();
        let oi = t.lookup("llm.prompt_template.version").unwrap();
        assert!(user < oi);
        assert_eq!(t.get(user).field, Field::PromptVersion);
        assert!(AliasTable::new(&[("colour".into(), vec!["x".into()])]).is_err());
    }

    #[test]
    fn precedence_follows_the_spec_order() {
        let t = AliasTable::default();
        let r = |k| t.lookup(k).unwrap();
        assert!(r("gen_ai.usage.input_tokens") < r("gen_ai.usage.prompt_tokens"));
        assert!(r("gen_ai.usage.prompt_tokens") < r("llm.token_count.prompt"));
        assert!(r("gen_ai.provider.name") < r("gen_ai.system"));
    }

    #[test]
    fn providers_and_finish_reasons_normalize() {
        assert_eq!(normalize_provider("openai.responses"), "openai");
        assert_eq!(normalize_provider("az.ai.openai"), "azure.ai.openai");
        assert_eq!(normalize_provider("xai"), "x_ai");
        assert_eq!(normalize_provider("gcp.vertex.agent"), "gcp.vertex_ai");
        assert_eq!(normalize_provider("Anthropic"), "anthropic");
        assert_eq!(
            normalize_provider("microsoft.agent_framework"),
            "microsoft.agent_framework"
        );
        assert_eq!(normalize_finish_reason("tool-calls"), "tool_call");
        assert_eq!(normalize_finish_reason("end_turn"), "stop");
        assert_eq!(normalize_finish_reason("MAX_TOKENS"), "length");
    }

    #[test]
    fn content_keys_are_recognised() {
        assert!(is_content_key("llm.input_messages.0.message.content"));
        assert!(is_content_key("gen_ai.input.messages"));
        assert!(!is_content_key("gen_ai.completion.0.finish_reason"));
        // OpenLLMetry's indexed messages are text; the standard prompt
        // name and version are not
        assert!(is_content_key("gen_ai.prompt.0.content"));
        assert!(is_content_key("gen_ai.completion.1.content"));
        assert!(!is_content_key("gen_ai.prompt.version"));
        assert!(!is_content_key("gen_ai.prompt.name"));
        assert!(is_content_key("gen_ai.input.messages_delta"));
        assert!(is_content_key("gen_ai.memory.content"));
        assert!(is_content_key("gen_ai.evaluation.explanation"));
        assert!(!is_content_key("input.mime_type"));
        assert!(!is_content_key("gen_ai.usage.input_tokens"));
    }
}
