//! Model prices (docs/statistics.md "Cost"): LiteLLM's
//! `model_prices_and_context_window.json` read as-is, an embedded snapshot,
//! overlays from `--prices FILE` (later files win), the lookup rules, and
//! the cost of one span's tokens.
//!
//! Written by hand because no crate reads LiteLLM's table: it is a plain
//! JSON object, read with serde_json.

use std::collections::HashMap;
use std::path::Path;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// LiteLLM 1.110.2's table (`model_prices_and_context_window_backup.json`
/// in the PyPI wheel, sha256 8943af58...3dcc2): every chat, completion,
/// responses and embedding entry with token prices, with the fields cost
/// reads (built by `build_table.py` beside it; MIT, `LICENSE-litellm`).
const SNAPSHOT: &str = include_str!("litellm-1.110.2.json");
pub const SNAPSHOT_NAME: &str =
    "embedded LiteLLM 1.110.2 (PyPI wheel, source sha256 8943af58bf9f979c)";

/// Langfuse's default model prices (langfuse/langfuse 2b0e9d23,
/// `worker/src/constants/default-model-prices.json`, MIT outside `ee/`,
/// `LICENSE-langfuse`): a model is looked up here, by its `matchPattern`,
/// when LiteLLM's table has no entry for any of its spellings (the Anthropic
/// API's `claude-sonnet-4-20250514` is in LiteLLM only as Bedrock ids).
const LANGFUSE: &str = include_str!("langfuse-default-model-prices.json");
pub const LANGFUSE_NAME: &str = "embedded Langfuse default model prices (2b0e9d23)";

/// USD per token for each kind of token. A missing cache rate is billed at
/// the input rate, a missing 1-hour write rate at the cache write rate, a
/// missing reasoning rate at the output rate (LiteLLM's fallbacks); an
/// explicit 0 is a real price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    /// a cache write kept for an hour (Anthropic)
    pub cache_write_1h: Option<f64>,
    pub reasoning: Option<f64>,
}

impl Rates {
    pub fn cache_read(&self) -> f64 {
        self.cache_read.unwrap_or(self.input)
    }
    pub fn cache_write(&self) -> f64 {
        self.cache_write.unwrap_or(self.input)
    }
    pub fn cache_write_1h(&self) -> f64 {
        self.cache_write_1h.unwrap_or(self.cache_write())
    }
    pub fn reasoning(&self) -> f64 {
        self.reasoning.unwrap_or(self.output)
    }
    /// Every rate the sheet states, for validation.
    fn stated(&self) -> [Option<f64>; 6] {
        [
            Some(self.input),
            Some(self.output),
            self.cache_read,
            self.cache_write,
            self.cache_write_1h,
            self.reasoning,
        ]
    }
}

/// A service tier priced apart from the standard one. A span that ran on
/// any other tier (`default`, `auto`, `standard`, `scale`) bills the
/// standard rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    Priority,
    Flex,
    Batch,
}

impl ServiceTier {
    pub const ALL: [ServiceTier; 3] =
        [ServiceTier::Priority, ServiceTier::Flex, ServiceTier::Batch];

    /// The name in spanlens' tables and the `prices` SQL table.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Priority => "priority",
            ServiceTier::Flex => "flex",
            ServiceTier::Batch => "batch",
        }
    }

    /// LiteLLM's key suffix for the tier's rates.
    fn suffix(self) -> &'static str {
        match self {
            ServiceTier::Priority => "_priority",
            ServiceTier::Flex => "_flex",
            ServiceTier::Batch => "_batches",
        }
    }

    /// The words a span (or a Langfuse price condition) uses for the tier,
    /// lower case: OpenAI `priority` and `flex`, Anthropic `priority` and
    /// `batch`, Langfuse `fast`.
    fn words(self) -> &'static [&'static str] {
        match self {
            ServiceTier::Priority => &["priority", "fast"],
            ServiceTier::Flex => &["flex"],
            ServiceTier::Batch => &["batch", "batches"],
        }
    }

    /// The tier a span's `service_tier` names, if it is priced apart.
    pub fn of(reported: &str) -> Option<ServiceTier> {
        let r = reported.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.words().contains(&r.as_str()))
    }

    /// The SQL expression of a span's priced tier: one of [`Self::as_str`],
    /// or '' for the standard rates.
    pub fn sql() -> String {
        let mut s = String::from("CASE");
        for t in Self::ALL {
            let words: Vec<String> = t.words().iter().map(|w| format!("'{w}'")).collect();
            s.push_str(&format!(
                " WHEN LOWER(TRIM(CAST(service_tier AS VARCHAR))) IN ({}) THEN '{}'",
                words.join(", "),
                t.as_str()
            ));
        }
        s.push_str(" ELSE '' END");
        s
    }
}

/// The rates of a service tier, with its own long-context tiers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    pub tier: ServiceTier,
    pub base: Rates,
    /// Sorted by threshold, ascending (the standard sheet's thresholds).
    pub tiers: Vec<Tier>,
}

/// A tier that replaces every rate once the prompt exceeds `above` tokens
/// (`>`; `>=` when `inclusive`, as xAI bills).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tier {
    pub above: u64,
    pub inclusive: bool,
    pub rates: Rates,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelPrice {
    pub key: String,
    pub provider: Option<String>,
    pub base: Rates,
    /// Sorted by threshold, ascending.
    pub tiers: Vec<Tier>,
    /// The service tiers the table prices apart (`_priority`, `_flex`,
    /// `_batches`); a tier not here bills the standard rates.
    pub services: Vec<Service>,
}

/// Token counts of one span, normalised: input includes cached tokens,
/// output includes reasoning tokens (docs/span-table.md).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// the part of `cache_write` kept for an hour
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

/// USD of one span by kind of token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CostParts {
    pub input: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub output: f64,
    pub reasoning: f64,
}

impl CostParts {
    pub fn total(&self) -> f64 {
        self.input + self.cache_read + self.cache_write + self.output + self.reasoning
    }
}

impl ModelPrice {
    /// The rates billed for a prompt of `input` tokens on the standard
    /// service tier: the highest tier it passes, all-or-nothing.
    pub fn rates_for(&self, input: u64) -> &Rates {
        self.rates_on(None, input)
    }

    /// The rates billed on a service tier (None: the standard one) for a
    /// prompt of `input` tokens. A service tier the table does not price
    /// bills the standard rates.
    pub fn rates_on(&self, service: Option<ServiceTier>, input: u64) -> &Rates {
        let (base, tiers) = match service.and_then(|t| self.services.iter().find(|s| s.tier == t)) {
            Some(s) => (&s.base, &s.tiers),
            None => (&self.base, &self.tiers),
        };
        tiers
            .iter()
            .rev()
            .find(|t| input > t.above || (t.inclusive && input == t.above))
            .map_or(base, |t| &t.rates)
    }

    /// Whether the table prices this service tier apart.
    pub fn prices_service(&self, tier: ServiceTier) -> bool {
        self.services.iter().any(|s| s.tier == tier)
    }

    /// The cost of one span's tokens at the tier its prompt size selects.
    pub fn cost(&self, t: &Tokens) -> CostParts {
        self.rates_for(t.input).cost(t)
    }
}

impl Tokens {
    /// Tokens by billing kind: [uncached input, cache read, cache write,
    /// output without reasoning, reasoning]. Counts that exceed their total
    /// (a cache larger than the prompt) are clamped, never negative.
    pub fn by_kind(&self) -> [u64; 5] {
        let cached = self
            .cache_read
            .saturating_add(self.cache_write)
            .min(self.input);
        let cr = self.cache_read.min(cached);
        let reas = self.reasoning.min(self.output);
        [
            self.input - cached,
            cr,
            cached - cr,
            self.output - reas,
            reas,
        ]
    }
}

impl Rates {
    /// (in - cr - cw)·r_in + cr·r_cr + (cw - cw1h)·r_cw + cw1h·r_cw1h
    /// + (out - reas)·r_out + reas·r_reas, over [`Tokens::by_kind`].
    pub fn cost(&self, t: &Tokens) -> CostParts {
        let [input, cr, cw, output, reas] = t.by_kind();
        let w1h = t.cache_write_1h.min(cw);
        CostParts {
            input: input as f64 * self.input,
            cache_read: cr as f64 * self.cache_read(),
            cache_write: (cw - w1h) as f64 * self.cache_write()
                + w1h as f64 * self.cache_write_1h(),
            output: output as f64 * self.output,
            reasoning: reas as f64 * self.reasoning(),
        }
    }
}

/// Where the prices came from, stamped in every cost report.
#[derive(Clone, Debug, Serialize)]
pub struct PriceSource {
    pub name: String,
    pub sha256: String,
    pub models: usize,
}

/// How a model name was matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    Exact,
    ProviderPrefix,
    /// a routing prefix (`openrouter/`), a Bedrock region (`us.`) or
    /// vendor (`anthropic.`), or a version suffix (`-v1:0`) taken off
    Normalized,
    DateStripped,
    Regex,
    /// Langfuse's `matchPattern`
    Langfuse,
    /// `[prices] aliases` named the model
    Alias,
}

impl MatchRule {
    /// For people, in the models table.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Exact => "exact",
            MatchRule::ProviderPrefix => "provider prefix",
            MatchRule::Normalized => "prefix, region or version stripped",
            MatchRule::DateStripped => "date suffix stripped",
            MatchRule::Regex => "regex",
            MatchRule::Langfuse => "Langfuse pattern",
            MatchRule::Alias => "alias ([prices] aliases)",
        }
    }
}

pub struct PriceTable {
    /// LiteLLM's embedded table
    embedded: HashMap<String, ModelPrice>,
    /// the `--prices` tables' models, later files over earlier
    models: HashMap<String, ModelPrice>,
    /// (regex, key) from overlay entries carrying a `match` field; later files first.
    patterns: Vec<(Regex, String)>,
    /// Langfuse's entries, by their `matchPattern`, in file order
    langfuse: Vec<(Regex, ModelPrice)>,
    /// the `--prices` Langfuse exports' entries (later files first): only
    /// their patterns match, as in Langfuse
    user_langfuse: Vec<(Regex, ModelPrice)>,
    /// model names mapped to the model they run (`[prices] aliases`)
    aliases: HashMap<String, String>,
    pub sources: Vec<PriceSource>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rate(obj: &serde_json::Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

/// The first rate of `p` that is negative, not finite or above [`MAX_RATE`], as text.
fn bad_rate(p: &ModelPrice) -> Option<String> {
    std::iter::once(&p.base)
        .chain(p.tiers.iter().map(|t| &t.rates))
        .chain(
            p.services
                .iter()
                .flat_map(|s| std::iter::once(&s.base).chain(s.tiers.iter().map(|t| &t.rates))),
        )
        .flat_map(Rates::stated)
        .flatten()
        .find(|x| !(0.0..=MAX_RATE).contains(x))
        .map(|x| format!("{x:?}"))
}

/// The most a token may cost, USD: a thousand times the dearest list price
/// (o1-pro output, $600 per million tokens = 6e-4), and small enough that
/// no span's cost (counts below 2^32 per kind) can overflow to infinity
/// (found by the price_table fuzz target: a 1e307 cache rate).
pub const MAX_RATE: f64 = 1.0;

/// A tier boundary no call can reach (more tokens than one call reads,
/// [`crate::ingest::resolve::MAX_COUNT`]) or that does not fit a count: such
/// an entry is refused, never wrapped (`_above_18446744073709552k_tokens`
/// once wrapped to a 384-token boundary).
fn bad_tier(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    let max = crate::ingest::resolve::MAX_COUNT as f64;
    for k in obj.keys() {
        let Some(n) = k
            .strip_prefix("input_cost_per_token_above_")
            .and_then(|r| r.strip_suffix("k_tokens"))
        else {
            continue;
        };
        let fits = n
            .parse::<u64>()
            .ok()
            .and_then(|t| t.checked_mul(1000))
            .is_some_and(|t| t as f64 <= max);
        if !fits {
            return Some(format!(
                "`{k}`: a tier boundary of {n}k tokens is beyond any call (at most {} tokens)",
                crate::ingest::resolve::MAX_COUNT
            ));
        }
    }
    let ranges = obj.get("tiered_pricing").and_then(Value::as_array)?;
    for t in ranges {
        let lo = t
            .get("range")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_f64);
        if let Some(lo) = lo.filter(|lo| !(lo.is_finite() && *lo >= 0.0 && *lo <= max)) {
            return Some(format!(
                "tiered_pricing: a range starting at {lo} tokens is not a token count of one call"
            ));
        }
    }
    None
}

/// Base or tier rates: `suffix` is "" or "_above_200k_tokens".
fn rates_with(
    obj: &serde_json::Map<String, Value>,
    suffix: &str,
    base: Option<&Rates>,
) -> Option<Rates> {
    let input = rate(obj, &format!("input_cost_per_token{suffix}"));
    let output = rate(obj, &format!("output_cost_per_token{suffix}"));
    let (input, output) = match base {
        // no output price is no price (an embedding's is an explicit 0),
        // never $0 for every output token
        None => (input?, output?),
        Some(b) => {
            if input.is_none() && output.is_none() {
                return None;
            }
            (input.unwrap_or(b.input), output.unwrap_or(b.output))
        }
    };
    Some(Rates {
        input,
        output,
        cache_read: rate(obj, &format!("cache_read_input_token_cost{suffix}"))
            .or_else(|| base.and_then(|b| b.cache_read.map(|_| input))),
        cache_write: rate(obj, &format!("cache_creation_input_token_cost{suffix}"))
            .or_else(|| base.and_then(|b| b.cache_write.map(|_| input))),
        // a long-context tier without its own 1-hour rate keeps the base
        // one (LiteLLM)
        cache_write_1h: rate(
            obj,
            &format!("cache_creation_input_token_cost_above_1hr{suffix}"),
        )
        .or_else(|| base.and_then(|b| b.cache_write_1h)),
        reasoning: rate(obj, &format!("output_cost_per_reasoning_token{suffix}"))
            .or_else(|| base.and_then(|b| b.reasoning.map(|_| output))),
    })
}

/// A service tier's rates: each rate under its `suffix` key (`_priority`),
/// else the standard sheet's (`standard`), as LiteLLM falls back key by
/// key. None when the tier states neither an input nor an output rate.
fn service_rates(
    obj: &serde_json::Map<String, Value>,
    key_suffix: &str,
    standard: &Rates,
) -> Option<Rates> {
    let r = |name: &str| rate(obj, &format!("{name}{key_suffix}"));
    let (input, output) = (r("input_cost_per_token"), r("output_cost_per_token"));
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(Rates {
        input: input.unwrap_or(standard.input),
        output: output.unwrap_or(standard.output),
        cache_read: r("cache_read_input_token_cost").or(standard.cache_read),
        cache_write: r("cache_creation_input_token_cost").or(standard.cache_write),
        cache_write_1h: r("cache_creation_input_token_cost_above_1hr").or(standard.cache_write_1h),
        reasoning: r("output_cost_per_reasoning_token").or(standard.reasoning),
    })
}

/// One entry of a LiteLLM-format table; None for entries without token
/// prices (`sample_spec`, image or audio models).
pub fn parse_entry(key: &str, v: &Value) -> Option<ModelPrice> {
    let obj = v.as_object()?;
    let ranges: Vec<(f64, Rates)> = obj
        .get("tiered_pricing")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|t| {
                    let lo = t.get("range")?.as_array()?.first()?.as_f64()?;
                    Some((lo, rates_with(t.as_object()?, "", None)?))
                })
                .collect()
        })
        .unwrap_or_default();
    let base = rates_with(obj, "", None)
        .or_else(|| ranges.iter().find(|(lo, _)| *lo <= 0.0).map(|(_, r)| *r))?;
    let provider = obj
        .get("litellm_provider")
        .and_then(Value::as_str)
        .map(str::to_string);
    let inclusive = provider.as_deref() == Some("xai");
    // (tier, its key suffix: `_above_200k_tokens`; None for tiered_pricing)
    let mut tiers: Vec<(Tier, Option<String>)> = Vec::new();
    for k in obj.keys() {
        // input_cost_per_token_above_200k_tokens (service-tier variants such
        // as ..._above_200k_tokens_priority are the service tier's)
        let Some(rest) = k.strip_prefix("input_cost_per_token_above_") else {
            continue;
        };
        let Some(n) = rest.strip_suffix("k_tokens") else {
            continue;
        };
        let Ok(thousands) = n.parse::<u64>() else {
            continue;
        };
        let suffix = format!("_above_{n}k_tokens");
        if let Some(rates) = rates_with(obj, &suffix, Some(&base)) {
            let tier = Tier {
                above: thousands.saturating_mul(1000),
                inclusive,
                rates,
            };
            tiers.push((tier, Some(suffix)));
        }
    }
    // tiered_pricing: the range [lo, hi) holding the prompt size bills every token
    for (lo, rates) in ranges {
        if lo > 0.0 {
            let tier = Tier {
                above: lo as u64,
                inclusive: true,
                rates,
            };
            tiers.push((tier, None));
        }
    }
    tiers.sort_by_key(|(t, _)| t.above);
    // a service tier's long-context rates: its own keys
    // (`input_cost_per_token_above_272k_tokens_priority`), else the
    // standard long-context ones
    let services = ServiceTier::ALL
        .into_iter()
        .filter_map(|st| {
            let base = service_rates(obj, st.suffix(), &base)?;
            let tiers = tiers
                .iter()
                .map(|(t, sfx)| Tier {
                    rates: sfx
                        .as_ref()
                        .and_then(|sfx| {
                            service_rates(obj, &format!("{sfx}{}", st.suffix()), &t.rates)
                        })
                        .unwrap_or(t.rates),
                    ..*t
                })
                .collect();
            Some(Service {
                tier: st,
                base,
                tiers,
            })
        })
        .collect();
    Some(ModelPrice {
        key: key.to_string(),
        provider,
        base,
        tiers: tiers.into_iter().map(|(t, _)| t).collect(),
        services,
    })
}

/// The LiteLLM key prefix of an OTel provider name.
fn litellm_prefixes(provider: &str) -> &'static [&'static str] {
    match provider {
        "gcp.gemini" | "gemini" | "google" => &["gemini/"],
        "gcp.vertex_ai" | "vertex_ai" => &["vertex_ai/"],
        "aws.bedrock" | "bedrock" => &["", "us.", "eu.", "apac."],
        "azure.ai.openai" | "azure" | "azure.ai.inference" => &["azure/"],
        "x_ai" | "xai" => &["xai/"],
        "mistral_ai" | "mistral" => &["mistral/"],
        "deepseek" => &["deepseek/"],
        "groq" => &["groq/"],
        "dashscope" => &["dashscope/"],
        _ => &[],
    }
}

/// `gpt-4o-2024-08-06` -> `gpt-4o`, `claude-sonnet-4-5-20250929` and
/// `claude-sonnet-4-5@20250929` -> `claude-sonnet-4-5`; None without a date suffix.
pub fn strip_date_suffix(model: &str) -> Option<&str> {
    let b = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if b.len() > 11 {
        let t = &b[b.len() - 11..];
        if t[0] == b'-'
            && digits(&t[1..5])
            && t[5] == b'-'
            && digits(&t[6..8])
            && t[8] == b'-'
            && digits(&t[9..11])
        {
            return Some(&model[..model.len() - 11]);
        }
    }
    // -YYYYMMDD or @YYYYMMDD
    if b.len() > 9 {
        let t = &b[b.len() - 9..];
        if (t[0] == b'-' || t[0] == b'@') && digits(&t[1..]) && (t[1] == b'2') {
            return Some(&model[..model.len() - 9]);
        }
    }
    None
}

/// Longer model strings are only looked up as written.
const MAX_MODEL_LEN: usize = 256;
/// Routing prefixes taken off a model string at most (`a/b/c/model`).
const MAX_PREFIXES: usize = 4;

/// A model string and the spellings under it, least stripped first: each
/// routing prefix taken off (`openrouter/anthropic/claude-x` ->
/// `anthropic/claude-x` -> `claude-x`), then a Bedrock inference profile's
/// region (`us.`, `eu.`, `apac.`, `global.`, ...), its vendor
/// (`anthropic.`), and its version suffix (`-v1:0`).
pub fn normalized(model: &str) -> Vec<String> {
    const REGIONS: &[&str] = &[
        "us.", "eu.", "apac.", "global.", "au.", "jp.", "us-gov.", "ca.",
    ];
    const VENDORS: &[&str] = &[
        "anthropic.",
        "meta.",
        "amazon.",
        "mistral.",
        "cohere.",
        "ai21.",
        "deepseek.",
        "qwen.",
        "openai.",
        "writer.",
    ];
    let mut out = vec![model.to_string()];
    // no model name is that long, nor routed through more prefixes: a
    // hostile string stays as written (linear work, whatever its length)
    if model.len() > MAX_MODEL_LEN {
        return out;
    }
    let mut m = model;
    for _ in 0..MAX_PREFIXES {
        let Some((_, rest)) = m.split_once('/') else {
            break;
        };
        if rest.is_empty() {
            break;
        }
        m = rest;
        out.push(m.to_string());
    }
    if let Some(r) = REGIONS.iter().find_map(|p| m.strip_prefix(p)) {
        m = r;
        out.push(m.to_string());
    }
    if let Some(r) = VENDORS.iter().find_map(|p| m.strip_prefix(p)) {
        m = r;
        out.push(m.to_string());
    }
    // Bedrock's -v1:0 (a bare -v7 may be part of a name)
    let digits = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, _)) = m.rsplit_once(':').filter(|(_, n)| digits(n)) {
        if let Some((name, _)) = head.rsplit_once("-v").filter(|(_, n)| digits(n)) {
            out.push(name.to_string());
        }
    }
    out.dedup();
    out
}

/// The first rate of `prices` under any of `keys` (Langfuse names one kind
/// of token several ways).
fn first_rate(prices: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| rate(prices, k))
}

/// One Langfuse pricing tier's rates.
fn langfuse_rates(prices: &serde_json::Map<String, Value>) -> Option<Rates> {
    Some(Rates {
        input: first_rate(prices, &["input", "input_tokens", "input_text"])?,
        output: first_rate(prices, &["output", "output_tokens", "output_text"])?,
        cache_read: first_rate(
            prices,
            &[
                "input_cache_read",
                "input_cached_tokens",
                "cache_read_input_tokens",
            ],
        ),
        cache_write: first_rate(
            prices,
            &[
                "input_cache_creation",
                "input_cache_creation_5m",
                "cache_creation_input_tokens",
                "cache_write_tokens",
            ],
        ),
        cache_write_1h: first_rate(prices, &["input_cache_creation_1h"]),
        reasoning: first_rate(
            prices,
            &[
                "output_reasoning_tokens",
                "output_reasoning",
                "reasoning_tokens",
            ],
        ),
    })
}

/// Langfuse's model price export: a list of models, each with a
/// `matchPattern` regex and `pricingTiers` (the default tier's prices; a
/// tier whose only condition is a prompt size above N tokens becomes a
/// tier above N; a tier whose only condition is `model_parameters`
/// `service_tier` in a list becomes that service tier's rates; tiers
/// chosen by other request parameters are left out). A pattern Rust's
/// regex cannot compile is an error.
pub fn langfuse_entries(bytes: &[u8]) -> std::result::Result<Vec<(Regex, ModelPrice)>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let list = doc
        .as_array()
        .ok_or("a Langfuse model price export is a list of models")?;
    let mut out = Vec::new();
    for m in list {
        let name = m
            .get("modelName")
            .and_then(Value::as_str)
            .ok_or("a model without `modelName`")?;
        let pattern = m
            .get("matchPattern")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{name}`: no `matchPattern`"))?;
        let re = Regex::new(pattern).map_err(|e| format!("`{name}`: bad `matchPattern`: {e}"))?;
        let tiers = m.get("pricingTiers").and_then(Value::as_array);
        let mut base = None;
        let mut above = Vec::new();
        let mut services: Vec<Service> = Vec::new();
        // a service tier's long-context rates, placed once its base is known
        let mut service_above: Vec<(ServiceTier, Tier)> = Vec::new();
        for t in tiers.into_iter().flatten() {
            let Some(rates) = t
                .get("prices")
                .and_then(Value::as_object)
                .and_then(langfuse_rates)
            else {
                continue;
            };
            let conditions = t
                .get("conditions")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if t.get("isDefault").and_then(Value::as_bool) == Some(true) {
                base = Some(rates);
                continue;
            }
            // a tier's conditions: service tiers (`model_parameters`
            // `service_tier` in a list) and a prompt size (`gt` N tokens);
            // any other condition leaves the tier out
            let mut on: Vec<ServiceTier> = Vec::new();
            let mut size: Option<u64> = None;
            let mut other = false;
            for c in conditions {
                let get = |k: &str| c.get(k).and_then(Value::as_str);
                if get("source") == Some("model_parameters")
                    && get("key") == Some("service_tier")
                    && get("operator") == Some("in")
                {
                    for v in c
                        .get("values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(t) = v.as_str().and_then(ServiceTier::of) {
                            if !on.contains(&t) {
                                on.push(t);
                            }
                        }
                    }
                } else if get("operator") == Some("gt") {
                    size = c
                        .get("value")
                        .and_then(Value::as_f64)
                        .filter(|n| *n >= 0.0)
                        .map(|n| n as u64);
                    other |= size.is_none();
                } else {
                    other = true;
                }
            }
            if other {
                continue;
            }
            let tier = |above: u64| Tier {
                above,
                inclusive: false,
                rates,
            };
            match (on.is_empty(), size) {
                (true, Some(n)) => above.push(tier(n)),
                (false, None) => {
                    for t in on {
                        if !services.iter().any(|s| s.tier == t) {
                            services.push(Service {
                                tier: t,
                                base: rates,
                                tiers: Vec::new(),
                            });
                        }
                    }
                }
                (false, Some(n)) => service_above.extend(on.into_iter().map(|t| (t, tier(n)))),
                (true, None) => {}
            }
        }
        for (t, tier) in service_above {
            if let Some(s) = services.iter_mut().find(|s| s.tier == t) {
                s.tiers.push(tier);
            }
        }
        for s in &mut services {
            s.tiers.sort_by_key(|t| t.above);
        }
        let Some(base) = base else { continue };
        above.sort_by_key(|t| t.above);
        let price = ModelPrice {
            key: name.to_string(),
            provider: None,
            base,
            tiers: above,
            services,
        };
        if let Some(bad) = bad_rate(&price) {
            return Err(format!("`{name}`: {bad} is not a price"));
        }
        out.push((re, price));
    }
    Ok(out)
}

/// A price table from which nothing could be priced is an error, not a
/// silent no-op (misspelt keys, a Langfuse page rather than its list).
const NO_MODELS: &str = "no model with an input and an output price in it (LiteLLM: \
    input_cost_per_token and output_cost_per_token; Langfuse: a default tier's input and \
    output; CSV: a row under model,input,output)";

/// (regex, key) of entries carrying a `match` field.
type Patterns = Vec<(Regex, String)>;

/// LiteLLM's table: an object keyed by model name (optional `"match":
/// "REGEX"` per entry).
fn litellm_entries(doc: &Value) -> std::result::Result<(Vec<ModelPrice>, Patterns), String> {
    let obj = doc
        .as_object()
        .ok_or("the top level must be an object keyed by model name")?;
    let mut prices = Vec::new();
    let mut patterns = Vec::new();
    for (key, v) in obj {
        if key == "sample_spec" {
            continue;
        }
        let Some(price) = parse_entry(key, v) else {
            let (i, o) = (
                v.get("input_cost_per_token"),
                v.get("output_cost_per_token"),
            );
            if i.is_some_and(|x| !x.is_number()) || o.is_some_and(|x| !x.is_number()) {
                return Err(format!("`{key}`: prices must be numbers (USD per token)"));
            }
            if i.is_some() != o.is_some() {
                return Err(format!(
                    "`{key}`: an input price needs an output price, and an output price an input \
                     price (write 0 for a free one)"
                ));
            }
            continue;
        };
        if let Some(bad) = bad_tier(v) {
            return Err(format!("`{key}`: {bad}"));
        }
        if let Some(bad) = bad_rate(&price) {
            return Err(format!(
                "`{key}`: {bad} is not a price (USD per token must be a number from 0 to {MAX_RATE})"
            ));
        }
        if let Some(m) = v.get("match").and_then(Value::as_str) {
            let re = Regex::new(m).map_err(|e| format!("`{key}`: bad `match` regex: {e}"))?;
            patterns.push((re, key.clone()));
        }
        prices.push(price);
    }
    Ok((prices, patterns))
}

/// Whether a file's first line is a price CSV's header: comma-separated
/// names (quoted or not, in any order) among which `model`.
fn looks_like_csv(first: &str) -> bool {
    let header = first.lines().next().unwrap_or_default();
    header.contains(',')
        && header
            .split(',')
            .any(|h| h.trim().trim_matches('"').eq_ignore_ascii_case("model"))
}

/// A spreadsheet's price list: `model,input,output,cache_read,cache_write`
/// (and `cache_write_1h`, `reasoning`; any order, quoted or not) in USD per 1M tokens (the
/// cache and reasoning columns may be left out or empty: billed at the
/// input and the output rate). A model priced twice is an error.
fn csv_entries(bytes: &[u8]) -> std::result::Result<Vec<ModelPrice>, String> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(m), Some(i), Some(o)) = (col("model"), col("input"), col("output")) else {
        return Err("line 1: the header needs model, input and output columns".into());
    };
    let (cr, cw, cw1h, rs) = (
        col("cache_read"),
        col("cache_write"),
        col("cache_write_1h"),
        col("reasoning"),
    );
    let mut out: Vec<ModelPrice> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, rec) in r.records().enumerate() {
        let line = n + 2;
        let rec = rec.map_err(|e| format!("line {line}: {e}"))?;
        let get = |c: Option<usize>| -> std::result::Result<Option<f64>, String> {
            match c.and_then(|c| rec.get(c)).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if (0.0..=MAX_RATE * 1e6).contains(&x) => Ok(Some(x.abs() / 1e6)),
                    _ => Err(format!(
                        "line {line}: `{v}` is not a price (USD per 1M tokens, from 0 to {})",
                        MAX_RATE * 1e6
                    )),
                },
            }
        };
        let key = rec.get(m).unwrap_or_default();
        if key.is_empty() {
            return Err(format!("line {line}: no model name"));
        }
        // two prices for one model: which one is meant?
        if let Some(before) = seen.insert(key.to_string(), line) {
            return Err(format!(
                "line {line}: `{key}` is priced on line {before} already"
            ));
        }
        let (Some(input), Some(output)) = (get(Some(i))?, get(Some(o))?) else {
            return Err(format!(
                "line {line}: `{key}` needs an input and an output price"
            ));
        };
        let price = ModelPrice {
            key: key.to_string(),
            provider: None,
            base: Rates {
                input,
                output,
                cache_read: get(cr)?,
                cache_write: get(cw)?,
                cache_write_1h: get(cw1h)?,
                reasoning: get(rs)?,
            },
            tiers: Vec::new(),
            services: Vec::new(),
        };
        out.push(price);
    }
    Ok(out)
}

/// The largest price file read (LiteLLM's whole table is 3.5 MB).
const MAX_PRICE_FILE: u64 = 64 << 20;

/// A price file's bytes, refused past [`MAX_PRICE_FILE`] (`/dev/zero`, a
/// log passed by mistake) rather than read without end.
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::input_io(path, &e))?;
    let mut bytes = Vec::new();
    f.take(MAX_PRICE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::input_io(path, &e))?;
    if bytes.len() as u64 > MAX_PRICE_FILE {
        return Err(Error::usage(
            format!(
                "price table {}: larger than {} MiB",
                crate::error::display_path(path),
                MAX_PRICE_FILE >> 20
            ),
            "--prices takes a price table (LiteLLM JSON, a Langfuse export or a CSV)",
        ));
    }
    Ok(bytes)
}

impl PriceTable {
    /// The embedded snapshot, then each overlay in order (later wins).
    pub fn load(overlays: &[std::path::PathBuf]) -> Result<PriceTable> {
        let mut t = PriceTable {
            embedded: HashMap::new(),
            models: HashMap::new(),
            patterns: Vec::new(),
            langfuse: Vec::new(),
            user_langfuse: Vec::new(),
            aliases: HashMap::new(),
            sources: Vec::new(),
        };
        t.add(SNAPSHOT_NAME, SNAPSHOT.as_bytes())
            .map_err(|e| Error::input("<embedded prices>", e, "please report this"))?;
        t.embedded = std::mem::take(&mut t.models);
        t.langfuse = langfuse_entries(LANGFUSE.as_bytes())
            .map_err(|e| Error::input("<embedded Langfuse prices>", e, "please report this"))?;
        t.sources.push(PriceSource {
            name: LANGFUSE_NAME.to_string(),
            sha256: hex(&Sha256::digest(LANGFUSE.as_bytes())),
            models: t.langfuse.len(),
        });
        for p in overlays {
            t.add_file(p)?;
        }
        Ok(t)
    }

    fn add_file(&mut self, path: &Path) -> Result<()> {
        let bytes = read_bounded(path)?;
        self.add(&crate::error::display_path(path), &bytes)
            .map_err(|e| {
                Error::usage(
                    format!("price table {}: {e}", crate::error::display_path(path)),
                    "--prices takes LiteLLM's model_prices_and_context_window.json format \
                 ({\"model\": {\"input_cost_per_token\": 2.5e-6, \"output_cost_per_token\": 1e-5}}), \
                 a Langfuse model price export, or a CSV: model,input,output,cache_read,cache_write \
                 in USD per 1M tokens",
                )
            })
    }

    /// Merge one price table, its format told from its content: LiteLLM's
    /// JSON object, Langfuse's model price export (a JSON list), or a CSV of
    /// USD per 1M tokens (`model,input,output,cache_read,cache_write`).
    /// Its models win over those merged before; its patterns are tried
    /// before theirs.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> std::result::Result<(), String> {
        let text = String::from_utf8_lossy(bytes);
        let first = text.trim_start_matches('\u{feff}').trim_start();
        let (prices, patterns) = if first.starts_with('{') || first.starts_with('[') {
            let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
                format!(
                    "not valid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                )
            })?;
            if doc.is_array() {
                let entries = langfuse_entries(bytes)?;
                if entries.is_empty() {
                    return Err(NO_MODELS.into());
                }
                let n = entries.len();
                let mut entries = entries;
                entries.extend(std::mem::take(&mut self.user_langfuse));
                self.user_langfuse = entries;
                self.sources.push(PriceSource {
                    name: name.to_string(),
                    sha256: hex(&Sha256::digest(bytes)),
                    models: n,
                });
                return Ok(());
            } else {
                litellm_entries(&doc)?
            }
        } else if looks_like_csv(first) {
            (csv_entries(bytes)?, Vec::new())
        } else {
            return Err(
                "neither JSON (LiteLLM's object, Langfuse's list) nor a CSV with a \
                        `model,input,output,cache_read,cache_write` header"
                    .into(),
            );
        };
        let n = prices.len();
        if n == 0 {
            return Err(NO_MODELS.into());
        }
        for p in prices {
            self.models.insert(p.key.clone(), p);
        }
        let mut patterns = patterns;
        patterns.extend(std::mem::take(&mut self.patterns));
        self.patterns = patterns;
        self.sources.push(PriceSource {
            name: name.to_string(),
            sha256: hex(&Sha256::digest(bytes)),
            models: n,
        });
        Ok(())
    }

    /// Model names looked up as another (an Azure deployment's name as the
    /// model it runs).
    pub fn with_aliases(mut self, aliases: &std::collections::BTreeMap<String, String>) -> Self {
        self.aliases = aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self
    }

    /// Which table a lookup's price came from, in a word.
    pub fn source_of(&self, p: &ModelPrice, rule: MatchRule) -> &'static str {
        if rule == MatchRule::Langfuse {
            if self.user_langfuse.iter().any(|(_, q)| q == p) {
                "--prices"
            } else {
                "Langfuse 2b0e9d23"
            }
        } else if self.models.get(&p.key).is_some_and(|q| q == p) {
            "--prices"
        } else {
            "LiteLLM 1.110.2"
        }
    }

    /// The models the `--prices` tables added.
    pub fn added(&self) -> impl Iterator<Item = &ModelPrice> {
        self.models
            .values()
            .chain(self.user_langfuse.iter().map(|(_, p)| p))
    }

    pub fn len(&self) -> usize {
        self.embedded.len() + self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.embedded.is_empty() && self.models.is_empty()
    }

    /// The lookup: the `--prices` tables first (the user's price wins over
    /// any embedded one, whatever rule finds it), then LiteLLM's embedded
    /// table, each by the rules of `find`; then Langfuse's patterns.
    pub fn lookup(
        &self,
        provider: Option<&str>,
        request_model: Option<&str>,
        response_model: Option<&str>,
    ) -> Option<(&ModelPrice, MatchRule)> {
        let names: Vec<&str> = [response_model, request_model]
            .into_iter()
            .flatten()
            .collect();
        // an alias names the model that runs: looked up as that model
        let aliased: Vec<&str> = names
            .iter()
            .filter_map(|n| self.aliases.get(*n).map(String::as_str))
            .collect();
        if !aliased.is_empty() {
            if let Some((p, _)) = self.lookup_names(provider, &aliased) {
                return Some((p, MatchRule::Alias));
            }
        }
        self.lookup_names(provider, &names)
    }

    fn lookup_names<'a>(
        &'a self,
        provider: Option<&str>,
        names: &[&str],
    ) -> Option<(&'a ModelPrice, MatchRule)> {
        let prefixes = provider.map_or(&[][..], litellm_prefixes);
        let patterns = |list: &'a [(Regex, ModelPrice)]| {
            names.iter().find_map(|m| {
                list.iter()
                    .find(|(re, _)| re.is_match(m))
                    .map(|(_, p)| (p, MatchRule::Langfuse))
            })
        };
        find(&self.models, &self.patterns, names, prefixes)
            .or_else(|| patterns(&self.user_langfuse))
            .or_else(|| find(&self.embedded, &[], names, prefixes))
            .or_else(|| patterns(&self.langfuse))
    }
}

/// The rules over one table, in order, each over the response then the
/// request model: the provider's own entry (`gemini/...`), the name as
/// written; a normalised spelling ([`normalized`]); a date suffix taken
/// off; then the table's regexes.
fn find<'a>(
    models: &'a HashMap<String, ModelPrice>,
    patterns: &[(Regex, String)],
    names: &[&str],
    prefixes: &[&str],
) -> Option<(&'a ModelPrice, MatchRule)> {
    // the provider's own entry first (`gemini/...` for the Gemini API,
    // whose bare name is Vertex's), then the name as written
    let exact_or_prefixed = |m: &str| -> Option<(&'a ModelPrice, MatchRule)> {
        prefixes
            .iter()
            .filter(|pre| !pre.is_empty())
            .find_map(|pre| {
                models
                    .get(&format!("{pre}{m}"))
                    .map(|p| (p, MatchRule::ProviderPrefix))
            })
            .or_else(|| models.get(m).map(|p| (p, MatchRule::Exact)))
    };
    for m in names {
        if let Some(hit) = exact_or_prefixed(m) {
            return Some(hit);
        }
    }
    for m in names {
        for n in normalized(m).iter().skip(1) {
            if let Some((p, _)) = exact_or_prefixed(n) {
                return Some((p, MatchRule::Normalized));
            }
        }
    }
    for m in names {
        for n in normalized(m) {
            if let Some(stripped) = strip_date_suffix(&n) {
                if let Some((p, _)) = exact_or_prefixed(stripped) {
                    return Some((p, MatchRule::DateStripped));
                }
            }
        }
    }
    for m in names {
        for (re, key) in patterns {
            if re.is_match(m) {
                if let Some(p) = models.get(key) {
                    return Some((p, MatchRule::Regex));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PriceTable {
        PriceTable::load(&[]).unwrap()
    }

    #[test]
    fn snapshot_loads_with_its_stamp() {
        let t = table();
        assert!(t.len() >= 35, "{}", t.len());
        assert_eq!(t.sources[0].name, SNAPSHOT_NAME);
        assert_eq!(t.sources[0].sha256.len(), 64);
        let (p, rule) = t.lookup(Some("openai"), Some("gpt-4o"), None).unwrap();
        assert_eq!(rule, MatchRule::Exact);
        assert_eq!(p.base.input, 2.5e-6);
        assert_eq!(p.base.cache_read, Some(1.25e-6));
    }

    #[test]
    fn lookup_rules_in_order() {
        let t = table();
        // the response model (what ran) before the request model
        let (p, rule) = t
            .lookup(Some("openai"), Some("gpt-4o"), Some("gpt-4o-2024-08-06"))
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("gpt-4o-2024-08-06", MatchRule::Exact)
        );
        // a snapshot the table does not list: its date stripped
        let (p, rule) = t
            .lookup(Some("openai"), None, Some("gpt-5.4-mini-2026-03-05"))
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("gpt-5.4-mini", MatchRule::DateStripped)
        );
        let (p, rule) = t
            .lookup(Some("gcp.gemini"), Some("gemini-2.5-pro"), None)
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("gemini/gemini-2.5-pro", MatchRule::ProviderPrefix)
        );
        let (p, rule) = t
            .lookup(Some("anthropic"), Some("claude-sonnet-4-5-20250929"), None)
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("claude-sonnet-4-5-20250929", MatchRule::Exact)
        );
        assert!(t
            .lookup(Some("openai"), Some("my-finetune"), None)
            .is_none());
        assert_eq!(strip_date_suffix("claude-x@20250929"), Some("claude-x"));
        assert_eq!(strip_date_suffix("gpt-4o"), None);
        assert_eq!(strip_date_suffix("o4-mini"), None);
    }

    #[test]
    fn spellings_under_a_model_string() {
        assert_eq!(
            normalized("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            [
                "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "claude-sonnet-4-5-20250929-v1:0",
                "claude-sonnet-4-5-20250929",
            ]
        );
        assert_eq!(
            normalized("openrouter/anthropic/claude-sonnet-4-6"),
            [
                "openrouter/anthropic/claude-sonnet-4-6",
                "anthropic/claude-sonnet-4-6",
                "claude-sonnet-4-6",
            ]
        );
        // a name's own -v7 is not a Bedrock version
        assert_eq!(normalized("acme-llm-v7"), ["acme-llm-v7"]);
        assert_eq!(normalized("gpt-4o/"), ["gpt-4o/"]);
    }

    // real spellings of models the embedded tables price, with costs by
    // hand from the tables' rates (LiteLLM 1.110.2, Langfuse 2b0e9d23)
    #[test]
    fn real_model_strings_are_priced() {
        let t = table();
        let tokens = Tokens {
            input: 1000,
            output: 200,
            ..Default::default()
        };
        // the Anthropic API's dated id: only Bedrock ids in LiteLLM, so
        // Langfuse's pattern; $3 / $15 per 1M: 0.003 + 0.003
        let (p, rule) = t
            .lookup(Some("anthropic"), Some("claude-sonnet-4-20250514"), None)
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("claude-sonnet-4-20250514", MatchRule::Langfuse)
        );
        assert!((p.cost(&tokens).total() - 0.006).abs() < 1e-12);
        assert_eq!(p.base.cache_write, Some(3.75e-6));
        // a Bedrock cross-region profile, exactly; one written with
        // LiteLLM's routing prefix: $3.30 / $16.50 per 1M (Sonnet 4.5 in a
        // regional profile): 0.0033 + 0.0033
        let (p, rule) = t
            .lookup(
                Some("aws.bedrock"),
                None,
                Some("bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            )
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                MatchRule::Normalized
            )
        );
        assert!((p.cost(&tokens).total() - 0.0066).abs() < 1e-12);
        // through OpenRouter
        let (p, rule) = t
            .lookup(None, Some("openrouter/anthropic/claude-sonnet-4-6"), None)
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("claude-sonnet-4-6", MatchRule::Normalized)
        );
        // Gemini's long-context tier: a 250k-token prompt bills every token
        // at $2.50 / $15 per 1M: 0.625 + 0.003
        let (p, _) = t
            .lookup(Some("gcp.gemini"), Some("gemini-2.5-pro"), None)
            .unwrap();
        let long = Tokens {
            input: 250_000,
            output: 200,
            ..Default::default()
        };
        assert!((p.cost(&long).total() - 0.628).abs() < 1e-12);
        // Vertex AI's gemini (no vertex_ai/ key): the bare name
        let (p, rule) = t
            .lookup(Some("gcp.vertex_ai"), Some("gemini-2.5-flash"), None)
            .unwrap();
        assert_eq!(
            (p.key.as_str(), rule),
            ("gemini-2.5-flash", MatchRule::Exact)
        );
    }

    // a spreadsheet's list, USD per 1M tokens; it wins over the embedded
    // table for its models
    #[test]
    fn csv_price_lists() {
        let mut t = table();
        t.add(
            "prices.csv",
            b"model,input,output,cache_read,cache_write\nmy-azure-gpt4o,2.75,11,1.375,\ngpt-4o,1,2,,\n",
        )
        .unwrap();
        let (p, rule) = t
            .lookup(Some("azure"), Some("my-azure-gpt4o"), None)
            .unwrap();
        assert_eq!(rule, MatchRule::Exact);
        assert_eq!((p.base.input, p.base.output), (2.75e-6, 11e-6));
        assert_eq!(
            (p.base.cache_read, p.base.cache_write),
            (Some(1.375e-6), None)
        );
        // 1,000 in (400 cached) + 100 out: 600 x 2.75e-6 + 400 x 1.375e-6 + 100 x 11e-6
        let c = p.cost(&Tokens {
            input: 1000,
            cache_read: 400,
            output: 100,
            ..Default::default()
        });
        assert!((c.total() - (0.00165 + 0.00055 + 0.0011)).abs() < 1e-12);
        assert_eq!(
            t.lookup(None, Some("gpt-4o"), None).unwrap().0.base.input,
            1e-6
        );
        assert_eq!(t.sources.last().unwrap().models, 2);
        let bad = |b: &[u8]| table().add("x.csv", b).unwrap_err();
        assert!(bad(b"model,input\nm,1\n").contains("header needs"));
        assert!(bad(b"model,input,output\nm,cheap,1\n").contains("line 2: `cheap` is not a price"));
        assert!(bad(b"model,input,output\nm,1,\n").contains("line 2: `m` needs"));
        assert!(bad(b"model,input,output\nm,1,-2\n").contains("not a price"));
        assert_eq!(
            bad(b"model,input,output\nm,1,2\nm,3,4\n"),
            "line 3: `m` is priced on line 2 already"
        );
        // columns in any order, quoted, with a reasoning rate (a row longer
        // than the header is an error)
        let mut t = table();
        t.add(
            "r.csv",
            b"\"output\",\"model\",\"input\",\"reasoning\"\nr-model,8,r-model-x,2,12\n",
        )
        .unwrap_err();
        t.add(
            "r.csv",
            b"\"output\",\"model\",\"input\",\"reasoning\"\n8,r-model,2,12\n",
        )
        .unwrap();
        let (p, _) = t.lookup(None, Some("r-model"), None).unwrap();
        assert_eq!(
            (p.base.input, p.base.output, p.base.reasoning),
            (2e-6, 8e-6, Some(12e-6))
        );
    }

    // found by a hostile run of the binary (each was a wrong price or worse)
    #[test]
    fn hostile_price_tables_and_model_strings() {
        let mut t = table();
        // an input price without an output price is no price, never $0 out
        let e = t
            .add("l2.json", br#"{"m1": {"input_cost_per_token": 2.5e-6}}"#)
            .unwrap_err();
        assert!(e.contains("needs an output price"), "{e}");
        assert!(t
            .add("f.json", br#"[{"modelName": "m", "matchPattern": "^m$", "pricingTiers": [{"isDefault": true, "prices": {"input": 1e-6}}]}]"#)
            .unwrap_err()
            .contains("no model"));
        // nothing priced in a table is an error, not a silent no-op
        for bad in [
            &br#"{"m1": {"input_cost_per_tokens": 1e-6}}"#[..],
            b"{}",
            b"model,input,output\n",
            br#"{"data": []}"#,
        ] {
            assert!(
                t.add("x", bad).unwrap_err().contains("no model"),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // a Langfuse export's modelName is not an exact key: only its pattern matches
        t.add(
            "lf.json",
            br#"[{"modelName": "gpt-4o", "matchPattern": "^my-gpt$", "pricingTiers": [{"isDefault": true, "prices": {"input": 9e-6, "output": 9e-6}}]}]"#,
        )
        .unwrap();
        assert_eq!(
            t.lookup(None, Some("gpt-4o"), None).unwrap().0.base.input,
            2.5e-6
        );
        let (p, rule) = t.lookup(None, Some("my-gpt"), None).unwrap();
        assert_eq!(
            (p.base.input, rule, t.source_of(p, rule)),
            (9e-6, MatchRule::Langfuse, "--prices")
        );
        // a CSV price outside 0..1e6 per 1M names its line and unit
        let e = table()
            .add("n.csv", b"model,input,output\nm,-1,1\n")
            .unwrap_err();
        assert_eq!(
            e,
            "line 2: `-1` is not a price (USD per 1M tokens, from 0 to 1000000)"
        );
        // a model string of 100,000 slashes is looked up as written, at once
        let slashes = "/".repeat(100_000);
        let start = std::time::Instant::now();
        assert!(table().lookup(None, Some(&slashes), None).is_none());
        assert_eq!(normalized(&slashes).len(), 1);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(normalized("a/b/c/d/e/f/gpt-4o").len(), 1 + MAX_PREFIXES);
    }

    #[test]
    fn langfuse_exports_read_with_their_tiers() {
        let doc = br#"[{"modelName": "m", "matchPattern": "(?i)^(acme/)?m(-2025)?$",
            "pricingTiers": [
              {"isDefault": true, "conditions": [], "prices": {"input": 1e-6, "output": 2e-6, "input_cache_read": 1e-7}},
              {"isDefault": false, "conditions": [{"usageDetailPattern": "input", "operator": "gt", "value": 200000}],
               "prices": {"input": 2e-6, "output": 4e-6}},
              {"isDefault": false, "conditions": [{"source": "model_parameters", "key": "service_tier", "operator": "in", "values": ["priority"]}],
               "prices": {"input": 9e-6, "output": 9e-6}},
              {"isDefault": false, "conditions": [{"source": "model_parameters", "key": "service_tier", "operator": "in", "values": ["fast", "priority"]},
                                                   {"usageDetailPattern": "input", "operator": "gt", "value": 200000}],
               "prices": {"input": 18e-6, "output": 18e-6}}]}]"#;
        let e = langfuse_entries(doc).unwrap();
        assert_eq!(e.len(), 1);
        let (re, p) = &e[0];
        assert!(re.is_match("ACME/m-2025") && !re.is_match("m2"));
        assert_eq!(p.base.cache_read, Some(1e-7));
        // the size tier is a tier, the service tier the priority rates
        assert_eq!(p.tiers.len(), 1);
        assert_eq!((p.tiers[0].above, p.tiers[0].rates.input), (200_000, 2e-6));
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.rates_on(Some(ServiceTier::Priority), 10).input, 9e-6);
        // a priority tier above a prompt size: both conditions hold
        assert_eq!(
            p.rates_on(Some(ServiceTier::Priority), 300_000).input,
            18e-6
        );
        // a tier it does not price apart bills the standard rates
        assert_eq!(p.rates_on(Some(ServiceTier::Flex), 10).input, 1e-6);
        assert!(langfuse_entries(b"{}")
            .unwrap_err()
            .contains("list of models"));
        assert!(langfuse_entries(
            br#"[{"modelName": "x", "matchPattern": "(", "pricingTiers": []}]"#
        )
        .unwrap_err()
        .contains("bad `matchPattern`"));
    }

    #[test]
    fn overlay_extends_overrides_and_matches_by_regex() {
        let mut t = table();
        t.add(
            "overlay.json",
            br#"{"gpt-4o": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
                "acme-llm": {"input_cost_per_token": 3e-7, "output_cost_per_token": 6e-7, "match": "^acme-llm-.*"}}"#,
        )
        .unwrap();
        assert_eq!(
            t.lookup(None, Some("gpt-4o"), None).unwrap().0.base.input,
            1e-6
        );
        let (p, rule) = t.lookup(None, Some("acme-llm-v7"), None).unwrap();
        assert_eq!((p.key.as_str(), rule), ("acme-llm", MatchRule::Regex));
        // a list is Langfuse's export
        assert!(t
            .add("bad.json", b"[1,2]")
            .unwrap_err()
            .contains("modelName"));
        assert!(t
            .add("bad.txt", b"hello")
            .unwrap_err()
            .contains("neither JSON"));
        assert!(t
            .add("bad.json", br#"{"m": {"input_cost_per_token": "cheap"}}"#)
            .unwrap_err()
            .contains("numbers"));
        // docs/reliability.md's bad price tables
        let e = t
            .add(
                "neg.json",
                br#"{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": -2e-6}}"#,
            )
            .unwrap_err();
        assert!(e.contains("`m`") && e.contains("-2e-6"), "{e}");
        // fuzz/regressions/price_table: a finite rate so large a span's cost overflows
        let e = t
            .add(
                "huge.json",
                br#"{"m": {"input_cost_per_token": 0, "output_cost_per_token": 0, "cache_read_input_token_cost": 1e307}}"#,
            )
            .unwrap_err();
        assert!(e.contains("1e307 is not a price"), "{e}");
        let e = t
            .add(
                "neg.json",
                br#"{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 0, "cache_read_input_token_cost": -1}}"#,
            )
            .unwrap_err();
        assert!(e.contains("is not a price"), "{e}");
        assert!(t
            .add("bad.json", b"{\"m\": ")
            .unwrap_err()
            .contains("line 1"));
        // unknown fields are ignored; a model listed twice: the later entry wins
        t.add(
            "twice.json",
            br#"{"twice": {"input_cost_per_token": 1e-6, "new_field": [1]},
                "twice": {"input_cost_per_token": 4e-6, "output_cost_per_token": 8e-6}}"#,
        )
        .unwrap();
        let (p, _) = t.lookup(None, Some("twice"), None).unwrap();
        assert_eq!((p.base.input, p.base.output), (4e-6, 8e-6));
        // a table that prices nothing is an error (a misspelt key would
        // otherwise leave every model on the embedded price, unnoticed)
        let n = t.len();
        assert!(t.add("empty.json", b"{}").unwrap_err().contains("no model"));
        assert_eq!(t.len(), n);
    }

    // Hand-computed (USD per 1M tokens from the embedded LiteLLM 1.110.2 table):
    /// Regression: `_above_18446744073709552k_tokens` wrapped to a
    /// 384-token boundary and a cost went from $11 to $2.7M, exit 0.
    #[test]
    fn a_tier_boundary_beyond_any_call_is_refused() {
        let mut t = table();
        for (key, what) in [
            (
                "input_cost_per_token_above_18446744073709552k_tokens",
                "18446744073709552k tokens is beyond any call",
            ),
            (
                "input_cost_per_token_above_5000000k_tokens",
                "5000000k tokens is beyond any call",
            ),
        ] {
            let doc = format!(
                r#"{{"m": {{"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "{key}": 9e-6}}}}"#
            );
            let err = t.add("p.json", doc.as_bytes()).unwrap_err();
            assert!(err.contains(what), "{err}");
        }
        let err = t
            .add(
                "p.json",
                br#"{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 0, "tiered_pricing": [{"range": [1e300, 2e300], "input_cost_per_token": 1e-6}]}}"#,
            )
            .unwrap_err();
        assert!(err.contains("not a token count of one call"), "{err}");
        // a real boundary still loads
        t.add(
            "p.json",
            br#"{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "input_cost_per_token_above_200k_tokens": 2e-6}}"#,
        )
        .unwrap();
    }

    #[test]
    fn service_tiers_bill_their_own_rates() {
        let t = table();
        let words = [
            "Priority", "fast", "flex", "batch", "default", "auto", "scale", "",
        ];
        let tiers: Vec<_> = words.iter().map(|w| ServiceTier::of(w)).collect();
        use ServiceTier::*;
        assert_eq!(
            tiers,
            [
                Some(Priority),
                Some(Priority),
                Some(Flex),
                Some(Batch),
                None,
                None,
                None,
                None
            ]
        );
        // LiteLLM 1.110.2, USD per 1M: gpt-5.4 standard 2.5 / 15, cache read
        // 0.25; priority 5 / 30 / 0.5; flex 1.25 / 7.5 / 0.13; batches
        // 1.25 / 7.5 / 0.13
        let p = t.lookup(None, Some("gpt-5.4"), None).unwrap().0;
        // above 272k tokens: the batch tier's own long-context rates
        // (2.5 / 11.25 / 0.25); priority has none for gpt-5.4, so the
        // standard long-context rates (5 / 22.5 / 0.5), as LiteLLM bills
        for (tier, prompt, want) in [
            (None, 1000, (2.5, 15.0, 0.25)),
            (Some(Priority), 1000, (5.0, 30.0, 0.5)),
            (Some(Flex), 1000, (1.25, 7.5, 0.13)),
            (Some(Batch), 1000, (1.25, 7.5, 0.13)),
            (Some(Batch), 300_000, (2.5, 11.25, 0.25)),
            (Some(Priority), 300_000, (5.0, 22.5, 0.5)),
        ] {
            let r = p.rates_on(tier, prompt);
            let got = (r.input * 1e6, r.output * 1e6, r.cache_read() * 1e6);
            let close = (got.0 - want.0).abs() < 1e-9
                && (got.1 - want.1).abs() < 1e-9
                && (got.2 - want.2).abs() < 1e-9;
            assert!(close, "{tier:?} at {prompt}: {got:?} vs {want:?}");
        }
        // claude-sonnet-4-6 on the batch API: 1.5 / 7.5, writes 1.875; no
        // priority rates: the standard 3 / 15
        let p = t.lookup(None, Some("claude-sonnet-4-6"), None).unwrap().0;
        let b = p.rates_on(Some(Batch), 10);
        assert!((b.input * 1e6 - 1.5).abs() < 1e-9 && (b.output * 1e6 - 7.5).abs() < 1e-9);
        assert!((b.cache_write() * 1e6 - 1.875).abs() < 1e-9);
        assert!(!p.prices_service(Priority));
        assert_eq!(p.rates_on(Some(Priority), 10), &p.base);
    }

    #[test]
    fn cost_formula_by_kind() {
        let t = table();
        // gpt-4o: 1000 in of which 400 cache read, 200 out: 600*2.5 + 400*1.25 + 200*10 per 1M
        let p = t.lookup(None, Some("gpt-4o"), None).unwrap().0;
        let c = p.cost(&Tokens {
            input: 1000,
            output: 200,
            cache_read: 400,
            ..Default::default()
        });
        assert!((c.total() - (600.0 * 2.5 + 400.0 * 1.25 + 200.0 * 10.0) / 1e6).abs() < 1e-15);
        // claude-sonnet-4-6 with a cache write: 3000 in incl. 1000 write, 500 read
        let p = t.lookup(None, Some("claude-sonnet-4-6"), None).unwrap().0;
        let c = p.cost(&Tokens {
            input: 3000,
            output: 100,
            cache_read: 500,
            cache_write: 1000,
            ..Default::default()
        });
        let want = (1500.0 * 3.0 + 500.0 * 0.3 + 1000.0 * 3.75 + 100.0 * 15.0) / 1e6;
        assert!((c.total() - want).abs() < 1e-15, "{} vs {want}", c.total());
        // the same with 600 of the writes kept for an hour, at $6 per 1M
        // (`cache_creation_input_token_cost_above_1hr`)
        let c = p.cost(&Tokens {
            input: 3000,
            output: 100,
            cache_read: 500,
            cache_write: 1000,
            cache_write_1h: 600,
            ..Default::default()
        });
        let want = (1500.0 * 3.0 + 500.0 * 0.3 + 400.0 * 3.75 + 600.0 * 6.0 + 100.0 * 15.0) / 1e6;
        assert!((c.total() - want).abs() < 1e-15, "{} vs {want}", c.total());
        // gemini-2.5-flash reasoning at its own rate (2.5), gemini-2.5-pro long-context tier
        let p = t
            .lookup(Some("gcp.gemini"), Some("gemini-2.5-pro"), None)
            .unwrap()
            .0;
        let small = p.cost(&Tokens {
            input: 200_000,
            output: 1000,
            ..Default::default()
        });
        let large = p.cost(&Tokens {
            input: 200_001,
            output: 1000,
            ..Default::default()
        });
        assert!((small.total() - (200_000.0 * 1.25 + 1000.0 * 10.0) / 1e6).abs() < 1e-12);
        assert!((large.total() - (200_001.0 * 2.5 + 1000.0 * 15.0) / 1e6).abs() < 1e-12);
        // xAI's threshold is inclusive
        let p = t.lookup(Some("x_ai"), Some("grok-4.7"), None).unwrap().0;
        assert_eq!(p.rates_for(200_000).input, 4e-6);
        assert_eq!(p.rates_for(199_999).input, 2e-6);
        // a missing reasoning rate bills at the output rate
        let p = t.lookup(None, Some("o3"), None).unwrap().0;
        let c = p.cost(&Tokens {
            input: 0,
            output: 1000,
            reasoning: 600,
            ..Default::default()
        });
        assert!((c.reasoning - 600.0 * 8.0 / 1e6).abs() < 1e-15);
        assert!((c.output - 400.0 * 8.0 / 1e6).abs() < 1e-15);
        // tiered_pricing: the range holding the prompt bills everything
        let p = t
            .lookup(Some("dashscope"), Some("qwen-flash"), None)
            .unwrap()
            .0;
        assert_eq!(p.rates_for(1000).input, 5e-8);
        assert_eq!(p.rates_for(300_000).input, 2.5e-7);
    }
}
