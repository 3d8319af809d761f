//! Every file in ../shared/real-exports reads; counts and values checked
//! against the files themselves (read by hand with jq/python).

use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;

fn lf(name: &str) -> spanlens::frame::Dataset {
    let p = shared().join("langfuse-ui-trace-json").join(name);
    let ds = load_paths(&[&p]);
    assert_eq!(ds.rejected(), 0, "{name}: {:?}", ds.files[0].rejects);
    assert_eq!(ds.files[0].format, "langfuse-trace-json");
    ds
}

fn llm_count(ds: &spanlens::frame::Dataset) -> usize {
    let t = ds
        .spans
        .column("span_type")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    t.str()
        .unwrap()
        .iter()
        .filter(|v| *v == Some("llm"))
        .count()
}

fn fields(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn microsoft_agent_framework() {
    let ds = lf("microsoft-agent-framework-2025-10-14.json");
    assert_eq!(
        (ds.spans.height(), llm_count(&ds), ds.evals.height()),
        (4, 2, 2)
    );
    let route = "invoke_agent 99981f6a-abd1-4d09-9fba-00e2ab172193";
    assert_fields(
        "3c2d",
        &find_span(&ds.spans, "3c2d6f2f26930c50"),
        &fields(json!({
            "trace_id": "e3a407423619277a2dcef3c13dc89982", "parent_span_id": "026d1c61bcaa1743",
            "span_type": "llm", "operation": "chat", "provider": "openai", "request_model": "gpt-4o",
            "input_tokens": 631, "output_tokens": 35, "reported_cost_usd": 0.0019275, "duration_ms": 6459.0,
            "session": "thread_G78qCSLpzn0YQwFwrvK5OivI", "route": route,
            "agent": "99981f6a-abd1-4d09-9fba-00e2ab172193", "service": "agent_framework"
        })),
    );
    // no token attributes on this span: Langfuse's usage map fills them
    assert_fields(
        "c6b8",
        &find_span(&ds.spans, "c6b8d4db5f0eac82"),
        &fields(json!({
            "input_tokens": 25, "output_tokens": 70, "reported_cost_usd": 0.000762499999, "route": route
        })),
    );
    assert_fields(
        "026d",
        &find_span(&ds.spans, "026d1c61bcaa1743"),
        &fields(json!({
            "span_type": "agent", "provider": "microsoft.agent_framework", "parent_span_id": null
        })),
    );
    let evals = evals_rows(&ds.evals);
    assert!(evals.contains(&json!([
        "e3a407423619277a2dcef3c13dc89982",
        null,
        "hallucination",
        1.0,
        null,
        "langfuse.eval"
    ])));
}

#[test]
fn openai_agents_openinference() {
    let ds = lf("openai-agents-openinference-2025-09-30.json");
    assert_eq!(
        (ds.spans.height(), llm_count(&ds), ds.evals.height()),
        (5, 2, 2)
    );
    assert_fields(
        "90d9",
        &find_span(&ds.spans, "90d94774e8e3724d"),
        &fields(json!({
            "span_type": "llm", "response_model": "gpt-4.1-2025-04-14", "provider": "openai",
            "input_tokens": 85, "output_tokens": 29, "cache_read_tokens": 0, "reasoning_tokens": 0,
            "reported_cost_usd": 0.000402, "agent": "Hello world", "route": "Agent workflow"
        })),
    );
    assert_fields(
        "5b99",
        &find_span(&ds.spans, "5b99c3e3411ed17b"),
        &fields(json!({"span_type": "tool", "tool": "get_weather"})),
    );
}

#[test]
fn llamaindex_openinference() {
    let ds = lf("llamaindex-openinference-2025-06-05.json");
    assert_eq!((ds.spans.height(), llm_count(&ds)), (2, 1));
    assert_fields(
        "7ca8",
        &find_span(&ds.spans, "7ca8b22f6628d0c7"),
        &fields(json!({
            "response_model": "gpt-4o", "provider": "openai", "input_tokens": 13, "output_tokens": 81,
            "cache_read_tokens": 0, "reasoning_tokens": 0, "user": "user_123", "session": "session_abc",
            "route": "llama-index-trace", "reported_cost_usd": 0.000842499999
        })),
    );
}

#[test]
fn pydantic_ai_tools() {
    let ds = lf("pydantic-ai-tools-2025-12-04.json");
    assert_eq!((ds.spans.height(), llm_count(&ds)), (12, 4));
    assert_fields(
        "be64",
        &find_span(&ds.spans, "be64c23f44dd98be"),
        &fields(json!({
            "request_model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18", "provider": "openai",
            "input_tokens": 265, "output_tokens": 73, "reported_cost_usd": 0.00008355, "finish_reason": "tool_call",
            "agent": "joke_agent", "route": "joke-generator"
        })),
    );
    // agent runs carry their calls' summed tokens (682 = 265 + 417): they
    // are not LLM calls, and their totals are cleared so that no report,
    // `--kind all` included, counts the calls twice (issue 21)
    assert_fields(
        "5b5c",
        &find_span(&ds.spans, "5b5c52d029f28206"),
        &fields(json!({"span_type": "agent", "input_tokens": null, "output_tokens": null})),
    );
    assert_eq!(ds.files[0].rolled_up_usage_cleared, 3);
    assert_fields(
        "99ec",
        &find_span(&ds.spans, "99ec63d0b5ecdbf5"),
        &fields(json!({"span_type": "tool", "tool": "get_pun_suggestion"})),
    );
}

#[test]
fn google_adk_takes_the_first_alias_never_a_sum() {
    let ds = lf("google-adk-openinference-2025-08-28.json");
    assert_eq!(
        (ds.spans.height(), llm_count(&ds), ds.evals.height()),
        (5, 2, 2)
    );
    assert_fields(
        "bded",
        &find_span(&ds.spans, "bded677884f031ce"),
        &fields(json!({
            "request_model": "gemini-2.0-flash", "response_model": "gemini-2.0-flash", "provider": "gcp.vertex_ai",
            "input_tokens": 39, "output_tokens": 6, "finish_reason": "stop", "user": "demo-user", "session": "demo-session"
        })),
    );
}

#[test]
fn vercel_ai_sdk_wrapper_is_not_an_llm_call() {
    let ds = lf("vercel-aisdk-2025-11-17.trace.json");
    assert_eq!((ds.spans.height(), llm_count(&ds)), (3, 1));
    assert_fields(
        "91a1",
        &find_span(&ds.spans, "91a17a2274bfd23f"),
        &fields(json!({
            "span_type": "llm", "operation": "chat", "request_model": "gpt-5", "response_model": "gpt-5-2025-08-07",
            "provider": "openai", "input_tokens": 62, "output_tokens": 85, "finish_reason": "tool_call"
        })),
    );
    assert_fields(
        "1dc6",
        &find_span(&ds.spans, "1dc6768109615657"),
        &fields(json!({"span_type": "chain", "route": "ai.generateText"})),
    );
    // the wrapper repeats its step's 62 + 85 tokens and cost: cleared, so
    // even `--kind all` counts the call once (issue 21)
    assert_fields(
        "1dc6",
        &find_span(&ds.spans, "1dc6768109615657"),
        &fields(json!({"input_tokens": null, "output_tokens": null, "reported_cost_usd": null})),
    );
    assert_eq!(ds.files[0].rolled_up_usage_cleared, 1);
    assert_fields(
        "e9bb",
        &find_span(&ds.spans, "e9bb8c191e1e4706"),
        &fields(json!({"span_type": "tool", "tool": "getWeather"})),
    );
}

#[test]
fn csharp_meai_gemini_with_json_string_metadata() {
    let ds = lf("csharp-meai-gemini-2026-03-09.trace.json");
    assert_eq!((ds.spans.height(), llm_count(&ds)), (8, 3));
    assert_fields(
        "50d4",
        &find_span(&ds.spans, "50d470aa18418652"),
        &fields(json!({
            "provider": "gcp.vertex_ai", "request_model": "gemini-2.5-flash", "input_tokens": 3004, "output_tokens": 167,
            "finish_reason": "stop", "user": "g.aprozeanu", "route": "Insights Agent C#", "service": "agentic-clientinsights",
            "session": "9714061f-20c0-4d98-9220-1dc7df15c3c2", "attrs.clientId": "22291"
        })),
    );
    assert_fields(
        "f858",
        &find_span(&ds.spans, "f858b986537e9e41"),
        &fields(json!({"span_type": "other"})),
    );
}

#[test]
fn otlp_proto_example() {
    let p = shared().join("otlp-json/opentelemetry-proto-example-trace.json");
    let ds = load_paths(&[&p]);
    assert_eq!((ds.spans.height(), ds.rejected()), (1, 0));
    assert_eq!(ds.files[0].format, "otlp-json-document");
    assert_fields(
        "eee1",
        &find_span(&ds.spans, "eee19b7ec3c1b174"),
        &fields(json!({
            "trace_id": "5b8efff798038103d269b633813fc60c", "parent_span_id": "eee19b7ec3c1b173", "kind": "server",
            "name": "I'm a server span", "duration_ms": 1000.0, "start_ns": 1544712660000000000_i64,
            "service": "my.service", "attrs.my.span.attr": "some value", "route": "I'm a server span"
        })),
    );
}

/// The attribute maps are one logical span in three dialects: wrapped in a
/// flat span each, they resolve to the same canonical fields.
#[test]
fn attribute_maps_resolve_alike_across_dialects() {
    let dir = shared().join("openinference-genai-attr-maps");
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for (i, f) in [
        "otel_genai_client_span_tool_calls",
        "otel_genai_deprecated_client_span_tool_calls",
        "openinference_client_span_tool_calls",
        "otel_genai_tool_execution_span",
    ]
    .iter()
    .enumerate()
    {
        let attrs: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{f}.json"))).unwrap())
                .unwrap();
        rows.push(json!({"trace_id": format!("{:032x}", i + 1), "span_id": format!("{:016x}", i + 1), "name": f,
            "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:01Z", "attributes": attrs}).to_string());
    }
    let path = tmp.path().join("maps.jsonl");
    std::fs::write(&path, rows.join("\n")).unwrap();
    let ds = load_paths(&[&path]);
    assert_eq!((ds.spans.height(), ds.rejected()), (4, 0));
    let common = json!({"span_type": "llm", "provider": "openai", "response_model": "gpt-4-0613", "input_tokens": 97, "output_tokens": 52});
    for id in ["0000000000000001", "0000000000000002", "0000000000000003"] {
        assert_fields(id, &find_span(&ds.spans, id), &fields(common.clone()));
    }
    for id in ["0000000000000001", "0000000000000002"] {
        assert_fields(
            id,
            &find_span(&ds.spans, id),
            &fields(
                json!({"request_model": "gpt-4", "finish_reason": "stop", "operation": "chat"}),
            ),
        );
    }
    assert_fields(
        "tool",
        &find_span(&ds.spans, "0000000000000004"),
        &fields(json!({"span_type": "tool", "tool": "get_weather", "operation": "execute_tool"})),
    );
    // payload text is not kept
    let row = find_span(&ds.spans, "0000000000000003");
    assert!(!row
        .keys()
        .any(|k| k.starts_with("attrs.llm.input_messages") || k == "attrs.input.value"));
}

/// Read as they are, the attribute maps and price tables are not span
/// exports: each record is rejected (counted, with its line) for lacking ids.
#[test]
fn non_span_json_is_rejected_with_a_reason_never_silently() {
    for f in [
        "openinference-genai-attr-maps/otel_genai_tool_execution_span.json",
        "price-tables/litellm-model-prices-subset-v1.109.1.json",
    ] {
        let ds = load_paths(&[&shared().join(f)]);
        assert_eq!(ds.spans.height(), 0);
        assert!(ds.rejected() >= 1);
        assert!(
            ds.files[0]
                .rejects
                .iter()
                .all(|r| r.reason == "missing trace id"),
            "{f}: {:?}",
            ds.files[0].rejects
        );
    }
}

#[test]
fn the_whole_real_exports_directory_reads_in_one_run() {
    let ds = load_paths(&[
        &shared().join("langfuse-ui-trace-json"),
        &shared().join("otlp-json"),
    ]);
    assert_eq!(
        (ds.spans.height(), ds.rejected(), ds.evals.height()),
        (40, 0, 8)
    );
}

/// Issue 21: every model of every real export, and of the bundled example
/// (OTel GenAI, OpenInference, Langfuse, Vertex AI's gemini under
/// `gcp.vertex_ai`, dated OpenAI snapshots, Bedrock and Anthropic ids), has
/// a price: the unpriced table is empty, and the models table says which
/// entry and rule priced each.
#[test]
fn every_model_of_the_real_exports_and_the_example_is_priced() {
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    for input in [shared(), example] {
        let o = run(&[
            "cost",
            input.to_str().unwrap(),
            "--current",
            "100000d",
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let unpriced = v["tables"]["unpriced"].as_array().unwrap();
        assert!(unpriced.is_empty(), "{}: {unpriced:#?}", input.display());
        let models = v["tables"]["models"].as_array().unwrap();
        assert!(models.len() >= 5, "{}: {models:#?}", input.display());
        for m in models {
            assert_ne!(m["price_key"], "(unpriced)", "{m:#}");
            assert!(m["matched_by"].is_string(), "{m:#}");
        }
        // both embedded sources are stamped
        let prices = v["meta"]["prices"].as_str().unwrap();
        assert!(
            prices.contains("LiteLLM 1.110.2") && prices.contains("Langfuse"),
            "{prices}"
        );
    }
}

/// Issue 21: `--prices` reads Langfuse's model price export (a list, with
/// `matchPattern` regexes) and a spreadsheet's CSV, as well as LiteLLM's
/// table; each is stamped, and the CSV's price wins for its model.
#[test]
fn prices_from_a_langfuse_export_and_a_csv() {
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let langfuse = shared().join("price-tables/langfuse-default-model-prices.json");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    // gpt-4o-mini at $1 / $2 per 1M tokens instead of $0.15 / $0.60
    std::fs::write(
        &csv,
        "model,input,output,cache_read,cache_write\ngpt-4o-mini,1,2,,\n",
    )
    .unwrap();
    let cost = |prices: &[&Path]| -> Value {
        let mut args = vec![
            "cost",
            example.to_str().unwrap(),
            "--current",
            "100d",
            "--by",
            "model",
            "--format",
            "json",
        ];
        for p in prices {
            args.extend(["--prices", p.to_str().unwrap()]);
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = cost(&[&langfuse]);
    assert!(
        v["meta"]["prices"]
            .as_str()
            .unwrap()
            .contains("langfuse-default-model-prices.json (151 models"),
        "{}",
        v["meta"]["prices"]
    );
    assert!(v["tables"]["unpriced"].as_array().unwrap().is_empty());
    let base = cost(&[]);
    let with_csv = cost(&[&csv]);
    let mini = |v: &Value| -> (f64, f64) {
        let r = v["tables"]["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == "gpt-4o-mini")
            .unwrap()
            .clone();
        (
            r["input_usd"].as_f64().unwrap(),
            r["output_usd"].as_f64().unwrap(),
        )
    };
    // uncached input and output priced at the CSV's rates: 1 / 0.15 and
    // 2 / 0.6 times the embedded table's
    let ((bi, bo), (ci, co)) = (mini(&base), mini(&with_csv));
    assert!((ci / bi - 1.0 / 0.15).abs() < 1e-6, "{bi} {ci}");
    assert!((co / bo - 2.0 / 0.6).abs() < 1e-6, "{bo} {co}");
}

/// Issue 21: `spanlens prices MODEL...` says what each string resolves to,
/// by which rule and from which table, with its rates per 1M tokens; with
/// no model, the tables with their sha256 and sizes. A CSV's model is
/// looked up there first.
#[test]
fn prices_says_how_each_model_string_is_priced() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("azure.csv");
    std::fs::write(&csv, "model,input,output\nmy-gpt4o-deployment,2.75,11\n").unwrap();
    let o = run(&[
        "prices",
        "claude-sonnet-4-20250514",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "my-gpt4o-deployment",
        "my-finetune",
        "--prices",
        csv.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["tables"]["prices"].as_array().unwrap();
    let pick = |m: &str| rows.iter().find(|r| r["model"] == m).unwrap().clone();
    let a = pick("claude-sonnet-4-20250514");
    assert_eq!(a["matched_by"], "Langfuse pattern");
    assert_eq!(
        (a["input"].as_f64(), a["output"].as_f64()),
        (Some(3.0), Some(15.0))
    );
    let b = pick("us.anthropic.claude-sonnet-4-20250514-v1:0");
    assert_eq!(b["matched_by"], "exact");
    assert!(b["source"].as_str().unwrap().contains("LiteLLM 1.110.2"));
    assert_eq!(b["cache_write"].as_f64(), Some(3.75));
    assert!(
        b["tiers"]
            .as_str()
            .unwrap()
            .contains("above 200000: 6 / 22.5"),
        "{b:#}"
    );
    let c = pick("my-gpt4o-deployment");
    assert_eq!(
        (c["source"].as_str(), c["input"].as_f64()),
        (Some("--prices"), Some(2.75))
    );
    assert_eq!(pick("my-finetune")["price_key"], "(unpriced)");
    let o = run(&["prices", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let tables = v["tables"]["sources"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    assert_eq!(tables[0]["models"], 3733);
    assert_eq!(tables[0]["sha256"].as_str().unwrap().len(), 64);
}

/// Issue 21: an Azure deployment's name, mapped in `[prices] aliases` to
/// the model it runs, is priced as that model: `prod-gpt4o-eu` as
/// `azure/eu/gpt-4o-2024-08-06`, $2.75 / $11 per 1M tokens (the EU data
/// zone), so 1,000 input and 100 output tokens cost 0.00275 + 0.0011.
#[test]
fn an_azure_deployment_alias_is_priced_as_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spanlens.toml");
    std::fs::write(
        &config,
        "[prices]\naliases = { \"prod-gpt4o-eu\" = \"azure/eu/gpt-4o-2024-08-06\" }\n",
    )
    .unwrap();
    let o = run(&[
        "--config",
        config.to_str().unwrap(),
        "prices",
        "prod-gpt4o-eu",
        "--provider",
        "azure.ai.openai",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["tables"]["prices"][0];
    assert_eq!(r["price_key"], "azure/eu/gpt-4o-2024-08-06", "{r:#}");
    assert_eq!(r["matched_by"], "alias ([prices] aliases)");
    let (i, out) = (r["input"].as_f64().unwrap(), r["output"].as_f64().unwrap());
    assert_eq!((i, out), (2.75, 11.0));
    assert!((1000.0 * i / 1e6 + 100.0 * out / 1e6 - (0.00275 + 0.0011)).abs() < 1e-12);
    // a flat span of that deployment is priced by `cost` the same way
    let spans = dir.path().join("azure.jsonl");
    std::fs::write(
        &spans,
        concat!(
            r#"{"trace_id": "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", "span_id": "f000000000000001", "name": "chat prod-gpt4o-eu", "kind": 3, "#,
            r#""start_time_unix_nano": 1767348000000000000, "end_time_unix_nano": 1767348001000000000, "#,
            r#""attributes": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "azure.ai.openai", "#,
            r#""gen_ai.request.model": "prod-gpt4o-eu", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}}"#,
            "\n"
        ),
    )
    .unwrap();
    let o = run(&[
        "--config",
        config.to_str().unwrap(),
        "cost",
        spans.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = v["tables"]["cost"][0]["cost_usd"].as_f64().unwrap();
    assert!((c - 0.00385).abs() < 1e-12, "{c}");
}
