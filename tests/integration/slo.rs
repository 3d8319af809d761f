//! `spanlens slo` through the real CLI: against DuckDB reference values,
//! objectives with budgets, burn rates and alerts, and snapshots of every
//! output format.

use serde_json::Value;

use crate::common::*;

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
fn slo_equals_duckdb_reference() {
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
fn log_bucket_percentiles_within_one_percent() {
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

/// Objectives on the cost fixture: 7 LLM spans 10:00..10:06, none failed,
/// each 2 s long. Latency <= 1.5 s at 90%: every span is bad, so the error
/// ratio is 1, burn = 1 / 0.1 = 10 in every window with data: 6h & 30m > 6 pages.
#[test]
fn objectives_budget_burn_and_alerts() {
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

/// Every output format of `slo` (rows in a stable order; Parquet read back
/// through the JSON of its rows).
#[test]
fn snapshots_of_every_format() {
    for (name, out) in every_format("slo", &["slo", &p(COST), "--by", "route", "--current", DAY]) {
        insta::assert_snapshot!(name, out);
    }
}
