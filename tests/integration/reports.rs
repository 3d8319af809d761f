//! Issue 3: `spanlens slo`, `spanlens cost` and `spanlens query` through
//! the real CLI, against DuckDB reference values and hand-computed tables,
//! with snapshots of every output format.

use serde_json::Value;

use crate::common::{error_text, parquet_rows, root, run, snapshot_output, stderr};

fn p(rel: &str) -> String {
    root().join(rel).display().to_string()
}

fn json_of(args: &[&str]) -> Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("json output")
}

fn close(got: &Value, want: &Value, what: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
                "{what}: {g} vs {w}"
            );
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

fn row<'a>(v: &'a Value, table: &str, key: &str, val: &str) -> &'a Value {
    v["tables"][table]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == val)
        .unwrap_or_else(|| panic!("{table}: no row {key}={val}"))
}

/// The DuckDB reference values and `spanlens slo --by route` on the same
/// window of the bundled example, with `extra` flags.
fn example_slo(extra: &[&str]) -> (Value, Value) {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/example_slo_by_route.json")).unwrap(),
    )
    .unwrap();
    let config = p("fixtures/example/spanlens.toml");
    let input = p("fixtures/example/export.otlp.jsonl.gz");
    let window = reference["window"].as_str().unwrap();
    let mut args = vec![
        "--config",
        &config,
        "slo",
        &input,
        "--by",
        "route",
        "--current",
        window,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let got = json_of(&args);
    (reference, got)
}

/// Counts, rates and percentiles equal DuckDB's on the same spans
/// (tests/reference/duckdb_slo.py wrote the expected values).
#[test]
fn issue3_slo_equals_duckdb_reference() {
    let (reference, got) = example_slo(&[]);
    let want = reference["cohorts"].as_array().unwrap();
    let rows = got["tables"]["cohorts"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (g, w) in rows.iter().zip(want) {
        for (k, v) in w.as_object().unwrap() {
            close(&g[k], v, &format!("{} {k}", w["route"]));
        }
    }
    let evals = got["tables"]["evals"].as_array().unwrap();
    let want = reference["evals"].as_array().unwrap();
    assert_eq!(evals.len(), want.len());
    for (g, w) in evals.iter().zip(want) {
        for k in ["route", "evaluation", "judged", "passed"] {
            close(&g[k], &w[k], &format!("evals {} {k}", w["route"]));
        }
    }
}

/// The log-bucket path (what a remote engine returns) is within 1% of the
/// exact percentiles, and the report says which method produced them.
#[test]
fn issue3_log_bucket_percentiles_within_one_percent() {
    let (reference, got) = example_slo(&["--percentiles", "log-bucket"]);
    assert!(got["meta"]["engine"]
        .as_str()
        .unwrap()
        .contains("log-bucket"));
    let mut checked = 0;
    for (g, w) in got["tables"]["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(reference["cohorts"].as_array().unwrap())
    {
        for k in [
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "ttft_p50_ms",
            "ttft_p95_ms",
        ] {
            if let (Some(a), Some(b)) = (g[k].as_f64(), w[k].as_f64()) {
                assert!(((a - b) / b).abs() < 0.01, "{k}: {a} vs exact {b}");
                checked += 1;
            }
        }
        assert_eq!(g["spans"], w["spans"]);
    }
    assert!(checked >= 15, "{checked}");
}

const COST: &str = "fixtures/tiny/cost.jsonl";
const DAY: &str = "2026-01-02..2026-01-03";

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
fn issue3_cost_equals_hand_computed_table() {
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
fn issue3_cost_gates_unpriced_and_budget_and_prices_overlay() {
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

/// Objectives on the cost fixture: 7 LLM spans 10:00..10:06, none failed,
/// each 2 s long. Latency <= 1.5 s at 90%: every span is bad, so the error
/// ratio is 1, burn = 1 / 0.1 = 10 in every window with data: 6h & 30m > 6 pages.
#[test]
fn issue3_objectives_budget_burn_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("slo.toml");
    std::fs::write(
        &obj,
        r#"
[[objective]]
name = "available"
sli = "availability"
target = 0.99

[[objective]]
name = "fast"
sli = "latency"
threshold_ms = 1500
target = 0.9
period = "7d"

[[objective]]
name = "judged"
sli = "quality"
evaluation = "helpfulness"
target = 0.8

[[objective]]
name = "cheap"
sli = "cost"
max_usd = 0.03
target = 0.5
"#,
    )
    .unwrap();
    let o = run(&[
        // burn windows end at the report's end: the newest span (10:06), with --current 1d
        "slo",
        &p(COST),
        "--current",
        "1d",
        "--objectives",
        obj.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "breach",
        "--stale-after",
        "off",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let avail = row(&v, "objectives", "objective", "available");
    assert_eq!(avail["valid"], 7);
    assert_eq!(avail["bad"], 0);
    close(&avail["budget_remaining"], &1.0.into(), "remaining");
    assert_eq!(avail["alert"], "ok");
    assert_eq!(avail["status"], "met");
    let fast = row(&v, "objectives", "objective", "fast");
    assert_eq!(fast["bad"], 7);
    close(&fast["burn_1h"], &10.0.into(), "burn 1h");
    close(&fast["burn_30m"], &10.0.into(), "burn 30m");
    close(&fast["budget_remaining"], &(-9.0).into(), "remaining");
    assert_eq!(fast["alert"], "page");
    assert_eq!(fast["status"], "breached");
    let judged = row(&v, "objectives", "objective", "judged");
    assert_eq!(judged["alert"], "no data");
    assert_eq!(judged["status"], "no data");
    // traces: 0.053, 0.011775, 0.64, 0.01, 0.0053 priced (the unpriced one has no cost):
    // 2 of 5 above 0.03 -> SLI 0.6 >= 0.5
    let cheap = row(&v, "objectives", "objective", "cheap");
    assert_eq!(cheap["valid"], 5);
    assert_eq!(cheap["bad"], 2);
    assert_eq!(cheap["status"], "met");
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["breach"]);
}

#[test]
fn issue3_shared_options_errors_and_cardinality_guard() {
    let v = json_of(&[
        "cost",
        &p(COST),
        "--current",
        DAY,
        "--by",
        "route",
        "--top",
        "1",
        "--format",
        "json",
    ]);
    let routes: Vec<&str> = v["tables"]["cost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    // /b has 3 priced-or-not spans, /a 4: --top 1 keeps /a
    assert_eq!(routes, ["/a", "__other__"]);
    let v = json_of(&[
        "slo",
        &p(COST),
        "--current",
        DAY,
        "--by",
        "attr:app.region",
        "--where",
        "model!=o3",
        "--format",
        "json",
    ]);
    let eu = row(&v, "cohorts", "attr:app.region", "eu");
    assert_eq!(eu["spans"], 3);
    let v = json_of(&[
        "slo",
        &p(COST),
        "--current",
        DAY,
        "--by",
        "tenant,model",
        "--where",
        "route=/b",
        "--format",
        "json",
    ]);
    assert_eq!(v["tables"]["cohorts"].as_array().unwrap().len(), 3);
    for (args, needle) in [
        (
            vec!["slo", COST, "--by", "colour"],
            "unknown field `colour`",
        ),
        (vec!["slo", COST, "--current", "3 days"], "--current"),
        (vec!["slo", COST, "--where", "model"], "not a condition"),
        (
            vec!["cost", COST, "--fail-on", "oops"],
            "unknown finding kind",
        ),
        (
            vec!["cost", COST, "--format", "parquet"],
            "needs an output file",
        ),
        (
            vec!["cost", COST, "--format", "csv", "--table", "nope"],
            "no table named",
        ),
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| if *a == COST { p(COST) } else { a.to_string() })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = error_text(&o);
        assert!(
            e.starts_with("spanlens: error: ") && e.contains(needle),
            "{args:?}: {e}"
        );
        assert!(e.contains("hint: "), "{e}");
    }
}

#[test]
fn issue3_query_runs_a_user_template() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.sql");
    std::fs::write(
        &q,
        "-- spans and tokens per cohort\nSELECT {{keys}}, COUNT(*) AS spans, SUM(input_tokens) AS input\nFROM {{spans}} s WHERE {{kind}} GROUP BY {{keys}} ORDER BY {{keys}}\n",
    )
    .unwrap();
    let v = json_of(&[
        "query",
        q.to_str().unwrap(),
        &p(COST),
        "--current",
        DAY,
        "--by",
        "route",
        "--format",
        "json",
    ]);
    let rows = v["tables"]["result"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["k0"], "/a");
    assert_eq!(rows[0]["spans"], 4);
    assert_eq!(rows[0]["input"], 14000);
    let o = run(&["query", q.to_str().unwrap(), &p(COST), "--explain"]);
    let sql = String::from_utf8_lossy(&o.stdout);
    assert!(
        sql.contains("FROM (SELECT *, 'all' AS k0 FROM spans WHERE start_ns >="),
        "{sql}"
    );
}

/// Every output format of both commands (rows in a stable order; Parquet
/// read back through the JSON of its rows).
#[test]
fn issue3_snapshots_of_every_format() {
    for cmd in ["slo", "cost"] {
        for fmt in ["table", "markdown", "json", "csv"] {
            let out = snapshot_output(&[
                cmd,
                &p(COST),
                "--by",
                "route",
                "--current",
                DAY,
                "--format",
                fmt,
            ]);
            // the inputs line names an absolute path nowhere, but keep snapshots machine-independent
            insta::assert_snapshot!(format!("{cmd}_{fmt}"), out);
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.parquet");
        let o = run(&[
            cmd,
            &p(COST),
            "--by",
            "route",
            "--current",
            DAY,
            "--format",
            "parquet",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        insta::assert_snapshot!(
            format!("{cmd}_parquet"),
            serde_json::to_string_pretty(&parquet_rows(&out)).unwrap()
        );
    }
}
