//! `spanlens cost` through the real CLI: hand-priced fixtures (cache,
//! reasoning, long-context and service tiers, 1-hour writes, reported
//! costs, unpriced models), budgets and gates, older tables, and snapshots
//! of every output format.

use serde_json::Value;

use crate::common::*;

/// fixtures/tiny/cost.jsonl, priced by hand from LiteLLM 1.110.2 (USD per 1M tokens; `spanlens prices MODEL` shows each rate):
/// /a: gpt-4o 6000 in x2.5 + 4000 cache read x1.25 + 500 out x10 = 0.025;
///     o3 2000 in x2 + 1000 out x8 + 2000 reasoning x8 (no reasoning rate) = 0.028;
///     gpt-4o-mini reported 0.01 (table 1000x0.15 + 100x0.6 = 0.00021, delta 0.00979);
///     gemini-2.5-flash 1000 in x0.3 + 500 out x2.5 + 1500 reasoning x2.5 = 0.0053  => 0.0683
/// /b: claude-sonnet-4-6, Anthropic-style exclusive input (1000 + 3000 read + 500 write):
///     1000x3 + 3000x0.3 + 500x3.75 + 400 out x15 = 0.011775;
///     gemini-2.5-pro above 200k: 250000x2.5 + 1000x15 = 0.64;
///     acme-llm-7b unpriced (500 in, 50 out)                                      => 0.651775
#[test]
fn cost_equals_hand_computed_table() {
    let v = json_of(&[
        "cost",
        &p(COST),
        "--by",
        "route",
        "--current",
        DAY,
        "--format",
        "json",
    ]);
    let a = row(&v, "cost", "route", "/a");
    let b = row(&v, "cost", "route", "/b");
    close(&a["cost_usd"], &0.0683.into(), "/a cost");
    close(&b["cost_usd"], &0.651775.into(), "/b cost");
    close(&a["reported_usd"], &0.01.into(), "/a reported");
    close(&a["delta_vs_table_usd"], &0.00979.into(), "/a delta");
    close(&a["traces"], &3.into(), "/a traces");
    // per-trace costs /a: 0.053, 0.01, 0.0053 -> p50 0.01, p95 0.01 + 0.9 x 0.043
    close(&a["per_trace_p50_usd"], &0.01.into(), "/a p50");
    close(&a["per_trace_p95_usd"], &0.0487.into(), "/a p95");
    close(&a["per_trace_mean_usd"], &(0.0683 / 3.0).into(), "/a mean");
    close(&b["unpriced_spans"], &1.into(), "/b unpriced");
    close(&b["traces"], &2.into(), "/b priced traces");
    let ta = row(&v, "tokens", "route", "/a");
    for (k, want) in [
        ("input_tokens", 10000),
        ("cache_read_tokens", 4000),
        ("cache_write_tokens", 0),
        ("output_tokens", 2100),
        ("reasoning_tokens", 3500),
    ] {
        close(&ta[k], &want.into(), k);
    }
    let tb = row(&v, "tokens", "route", "/b");
    close(&tb["input_tokens"], &251500.into(), "/b input");
    close(&tb["cache_write_tokens"], &500.into(), "/b cache write");
    close(
        &tb["cache_write_usd"],
        &0.001875.into(),
        "/b cache write usd",
    );
    close(
        &tb["input_usd"],
        &0.628.into(),
        "/b input usd (long-context tier)",
    );
    let u = row(&v, "unpriced", "request_model", "acme-llm-7b");
    close(&u["input_tokens"], &500.into(), "unpriced input");
    assert_eq!(v["findings"][0]["kind"], "unpriced");
    assert!(v["meta"]["prices"]
        .as_str()
        .unwrap()
        .contains("LiteLLM 1.110.2"));

    // --recompute prices the reported span from the table
    let r = json_of(&[
        "cost",
        &p(COST),
        "--by",
        "route",
        "--current",
        DAY,
        "--format",
        "json",
        "--recompute",
    ]);
    close(
        &row(&r, "cost", "route", "/a")["cost_usd"],
        &0.05851.into(),
        "/a recomputed",
    );
}

/// fixtures/tiny/service_tiers.jsonl priced by hand from LiteLLM 1.110.2
/// (USD per 1M tokens):
/// - gpt-5.4 on priority (5 in, 0.5 cache read, 30 out): 8000x5 + 2000x0.5
///   + 1000x30 = 0.071; on flex (1.25 / 7.5): 10000x1.25 + 1000x7.5 = 0.02;
/// - claude-sonnet-4-6 on the batch API (1.5 / 7.5): 2000x1.5 + 500x7.5 =
///   0.00675; on priority, which the table does not price apart for it: the
///   standard 1000x3 + 100x15 = 0.0045;
/// - claude-sonnet-4-6 with 1-hour writes (`_above_1hr` 6, 5-minute 3.75,
///   read 0.3): 1000x3 + 500x0.3 + 400x3.75 + 600x6 + 100x15 = 0.00975, and
///   1000x3 + 300x6 = 0.0048.
#[test]
fn service_tiers_and_hour_long_cache_writes_bill_their_own_rates() {
    let v = json_of(&[
        "cost",
        &p("fixtures/tiny/service_tiers.jsonl"),
        "--by",
        "service_tier",
        "--current",
        DAY,
        "--format",
        "json",
    ]);
    for (tier, want) in [
        ("priority", 0.071 + 0.0045),
        ("flex", 0.02),
        ("batch", 0.00675),
        ("standard", 0.0048),
        ("(none)", 0.00975),
    ] {
        close(
            &row(&v, "cost", "service_tier", tier)["cost_usd"],
            &want.into(),
            tier,
        );
    }
    let t = row(&v, "tokens", "service_tier", "(none)");
    close(
        &t["cache_write_usd"],
        &((400.0 * 3.75 + 600.0 * 6.0) / 1e6).into(),
        "1-hour writes",
    );
    // the models table says which tiers ran, and when the table has no
    // rates of that tier for the model
    let m = row(&v, "models", "request_model", "claude-sonnet-4-6");
    assert_eq!(m["service_tiers"], "priority 1 (standard rates)");
    let m = row(&v, "models", "request_model", "gpt-5.4");
    assert_eq!(m["service_tiers"], "priority 1, flex 1");
}

/// Counts that cannot all hold (cache reads on a span without input
/// tokens, reasoning above the output) are clamped per span alike in the
/// per-cohort table and the per-trace costs: never a negative price.
/// gpt-4o: 100 output tokens x $10 per 1M = 0.001, with the 500 cache
/// reads of no input priced at nothing.
#[test]
fn inconsistent_counts_never_cost_less_than_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("odd.jsonl");
    std::fs::write(
        &f,
        r#"{"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "name": "chat", "kind": 3, "start_time_unix_nano": 1767348000000000000, "end_time_unix_nano": 1767348001000000000, "attributes": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 500}}
"#,
    )
    .unwrap();
    let v = json_of(&[
        "cost",
        f.to_str().unwrap(),
        "--current",
        DAY,
        "--format",
        "json",
    ]);
    let c = &v["tables"]["cost"][0];
    close(&c["cost_usd"], &0.001.into(), "cohort cost");
    close(&c["per_trace_p50_usd"], &0.001.into(), "trace cost");
    close(
        &v["tables"]["top_traces"][0]["cost_usd"],
        &0.001.into(),
        "top trace",
    );
}

/// A canonical table written before `service_tier` and
/// `cache_write_1h_tokens` existed (an older lake) reads them as nulls, in
/// memory and streamed, and a lake of such days still merges new spans.
#[test]
fn a_table_without_the_added_columns_reads_them_as_nulls() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let strip = |path: &std::path::Path| {
        let df = ParquetReader::new(std::fs::File::open(path).unwrap())
            .finish()
            .unwrap();
        let mut old = df.drop_many(["service_tier", "cache_write_1h_tokens"]);
        crate::common::write_parquet(path, &mut old);
    };
    let old = dir.path().join("old.parquet");
    crate::common::ingest_ok(&root().join(COST), &old, &[]);
    strip(&old);
    let args = [
        "cost",
        old.to_str().unwrap(),
        "--by",
        "route",
        "--current",
        DAY,
        "--format",
        "json",
    ];
    for stream in ["", "0"] {
        let mut c = crate::common::bin();
        if !stream.is_empty() {
            c.env("SPANLENS_STREAM_SPANS", stream);
        }
        let o = c.args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        close(
            &row(&v, "cost", "route", "/a")["cost_usd"],
            &0.0683.into(),
            "/a",
        );
        close(
            &row(&v, "cost", "route", "/b")["cost_usd"],
            &0.651775.into(),
            "/b",
        );
    }
    // a lake of such days merges the same spans again: all duplicates
    let lake = dir.path().join("lake");
    crate::common::ingest_ok(&root().join(COST), &lake, &["--partition", "day"]);
    for part in crate::common::walk(&lake) {
        if part.file_name().is_some_and(|n| n == "part-0.parquet") {
            strip(&part);
        }
    }
    let o = run(&[
        "ingest",
        &p(COST),
        "-o",
        lake.to_str().unwrap(),
        "--partition",
        "day",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["lake"]["written"], serde_json::json!([]));
    assert!(v["lake"]["duplicates"].as_u64().unwrap() > 0, "{v}");
}

// Regression: cohorts by attribute broke every cost template that wraps
// another's SQL (the wrapper did not carry the attribute column).
#[test]
fn cost_by_attribute_cohort() {
    let v = json_of(&[
        "cost",
        &p(COST),
        "--by",
        "attr:app.region",
        "--current",
        DAY,
        "--format",
        "json",
    ]);
    // in the fixture region eu is route /a and us is route /b
    let eu = row(&v, "cost", "attr:app.region", "eu");
    let us = row(&v, "cost", "attr:app.region", "us");
    close(&eu["cost_usd"], &0.0683.into(), "eu cost");
    close(&us["cost_usd"], &0.651775.into(), "us cost");
    close(&eu["per_trace_p95_usd"], &0.0487.into(), "eu p95");
}

#[test]
fn cost_gates_unpriced_and_budget_and_prices_overlay() {
    let args = ["cost", &p(COST), "--current", DAY, "--format", "json"];
    let o = run(&[&args[..], &["--fail-on", "unpriced"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("acme-llm-7b"), "{}", stderr(&o));
    // an overlay prices the model: no finding, total grows by 500x1 + 50x2 per 1M
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        r#"{"acme-llm-7b": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}"#,
    )
    .unwrap();
    let o = run(&[
        &args[..],
        &[
            "--fail-on",
            "unpriced",
            "--prices",
            prices.to_str().unwrap(),
        ],
    ]
    .concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    close(
        &row(&v, "cost", "cohort", "all")["cost_usd"],
        &(0.0683 + 0.651775 + 0.0006).into(),
        "total",
    );
    // budgets: 0.5 USD per day is crossed (0.72 spent), 2 USD is not
    let o = run(&[
        &args[..],
        &[
            "--budget",
            "0.5/day",
            "--budget",
            "2/day",
            "--fail-on",
            "budget",
        ],
    ]
    .concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = v["tables"]["budgets"].as_array().unwrap();
    assert_eq!(b[0]["threshold_crossed"], "100%");
    close(&b[0]["used"], &(0.720075 / 0.5).into(), "used");
    assert_eq!(b[1]["threshold_crossed"], Value::Null);
    assert_eq!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "budget")
            .count(),
        1
    );
    // a budget period reaching before the report window prices the models
    // met only there (the window holds just the last two spans)
    let narrow = json_of(&[
        "cost",
        &p(COST),
        "--current",
        "2026-01-02T10:05:00Z..2026-01-02T10:07:00Z",
        "--budget",
        "1/day",
        "--format",
        "json",
    ]);
    close(
        &narrow["tables"]["budgets"][0]["spent_usd"],
        &0.720075.into(),
        "day spend",
    );
}

/// Every output format of `cost` (rows in a stable order; Parquet read back
/// through the JSON of its rows).
#[test]
fn snapshots_of_every_format() {
    for (name, out) in every_format(
        "cost",
        &["cost", &p(COST), "--by", "route", "--current", DAY],
    ) {
        insta::assert_snapshot!(name, out);
    }
}

/// A Langfuse tier that holds on one service tier above a prompt size
/// (priority above 150k input tokens) starts a prompt-size class of its
/// own, even where no standard tier starts there (this model's is above
/// 200k). Priced by hand: 180,000 input tokens at the priority long-context
/// rate 18e-6 and 1,000 output at 18e-6 = 3.258 USD (the priority rate
/// below 150k, 9e-6, gave 1.629: the class was missing).
#[test]
fn a_service_tiers_own_size_tier_starts_a_class() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("langfuse.json");
    std::fs::write(
        &prices,
        r#"[{"modelName": "m", "matchPattern": "(?i)^m$",
            "pricingTiers": [
              {"isDefault": true, "conditions": [], "prices": {"input": 1e-6, "output": 2e-6}},
              {"isDefault": false, "conditions": [{"usageDetailPattern": "input", "operator": "gt", "value": 200000}],
               "prices": {"input": 2e-6, "output": 4e-6}},
              {"isDefault": false, "conditions": [{"source": "model_parameters", "key": "service_tier", "operator": "in", "values": ["priority"]}],
               "prices": {"input": 9e-6, "output": 9e-6}},
              {"isDefault": false, "conditions": [{"source": "model_parameters", "key": "service_tier", "operator": "in", "values": ["priority"]},
                                                   {"usageDetailPattern": "input", "operator": "gt", "value": 150000}],
               "prices": {"input": 18e-6, "output": 18e-6}}]}]"#,
    )
    .unwrap();
    let spans = dir.path().join("spans.jsonl");
    let line = serde_json::json!({
        "trace_id": "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
        "span_id": "b100000000000001",
        "name": "chat m",
        "start_time_unix_nano": 1767348000000000000i64,
        "end_time_unix_nano": 1767348001000000000i64,
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "openai.response.service_tier": "priority",
            "gen_ai.usage.input_tokens": 180000,
            "gen_ai.usage.output_tokens": 1000,
        }
    });
    std::fs::write(&spans, format!("{line}\n")).unwrap();
    let v = json_of(&[
        "cost",
        spans.to_str().unwrap(),
        "--prices",
        prices.to_str().unwrap(),
        "--current",
        DAY,
        "--format",
        "json",
    ]);
    let cost = &rows(&v, "cost")[0]["cost_usd"];
    assert!((cost.as_f64().unwrap() - 3.258).abs() < 1e-9, "{v}");
}
