//! Issue 20: the anomaly rules' false-alarm and detection rates on
//! heavy-tailed traffic (spanlens-gen: lognormal latencies, tokens and
//! costs, Zipf tenants, diurnal traffic with quiet nights, agents with
//! several calls per trace), not on the light-tailed fixtures the rules
//! were first written with.
//!
//! - Null days: 20 days with nothing planted, each against the 7 days
//!   before it, `anomalies` by route (the report's default) and by tenant,
//!   and the whole `report`: on average at most 1 finding a day, and no
//!   critical finding on at least 95% of the days.
//! - Planted day: an error burst of one model and a spend spike of one
//!   tenant are found, and laid at that model and that tenant without
//!   `--by` naming them; each of the eight incidents `spanlens-gen --plant`
//!   knows is on the report's first screen, laid at its cause; an SLO
//!   breach is laid at who holds its bad events.
//!
//! Measured (the README's "How anomalies are judged"): null days
//! (tests/reference/anomaly_null_days.sh) seed 1 by route 0 findings in 20
//! days, by tenant 3 (0 critical); seed 7 at twice the traffic 0 and 0; the
//! whole report 4 in 20 days, none critical. Planted
//! (tests/reference/anomaly_planted_seeds.py, seeds 100-119): the burst
//! found and laid at its model 20/20, the spike at its tenant 20/20; the
//! report's first screen (tests/reference/report_planted_seeds.py 200 20):
//! each of the eight incidents, laid at its cause, 20/20.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{run, stderr};

/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;

fn generate(out: &Path, days: u32, spans: usize, seed: u64) {
    generate_with(out, days, spans, seed, &[]);
}

fn generate_with(out: &Path, days: u32, spans: usize, seed: u64, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_spanlens-gen"))
        .args(["--spans", &spans.to_string(), "--days", &days.to_string()])
        .args(args)
        .args(["--seed", &seed.to_string(), "--format", "parquet", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn day(d: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(T0 + d * DAY_NS)
        .format("%Y-%m-%d")
        .to_string()
}

/// `spanlens COMMAND INPUT ARGS...` on day `d` against the 7 days before,
/// as JSON.
fn on_day(command: &str, input: &str, args: &[&str], d: i64) -> Value {
    let (b, c, e) = (day(d - 7), day(d), day(d + 1));
    let (baseline, current) = (format!("{b}..{c}"), format!("{c}..{e}"));
    let mut all = vec![command, input];
    all.extend_from_slice(args);
    all.extend([
        "--baseline",
        &baseline,
        "--current",
        &current,
        "--format",
        "json",
    ]);
    let o = run(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn anomalies(input: &str, by: &str, d: i64) -> Vec<Value> {
    let v = on_day("anomalies", input, &["--by", by], d);
    v["tables"]["anomalies"].as_array().unwrap().clone()
}

#[test]
fn issue20_null_days_raise_at_most_one_finding_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("null.parquet");
    // 28 days, about 9,000 spans a day
    generate(&path, 28, 250_000, 1);
    let input = path.to_str().unwrap();
    for by in ["route", "tenant"] {
        let (mut findings, mut critical_days) = (0, 0);
        let mut seen = Vec::new();
        for d in 8..28 {
            let rows = anomalies(input, by, d);
            findings += rows.len();
            if rows.iter().any(|r| r["severity"] == "critical") {
                critical_days += 1;
            }
            seen.extend(rows.iter().map(|r| format!("{} {}", day(d), r["detail"])));
        }
        assert!(
            findings <= 20,
            "by {by}: {findings} findings in 20 null days: {seen:#?}"
        );
        assert!(
            critical_days <= 1,
            "by {by}: {critical_days} days with a critical finding: {seen:#?}"
        );
    }
    // the whole nightly report (SLO, cost, drift, the newest prompt version
    // against the previous one, anomalies): measured 4 warnings in 20 days
    let (mut findings, mut critical_days) = (0, 0);
    let mut seen = Vec::new();
    for d in 8..28 {
        let v = on_day("report", input, &[], d);
        let c = day(d);
        let ranked = v["summary"][0]["items"].as_array().unwrap();
        findings += v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] != "inconclusive")
            .count();
        if ranked
            .iter()
            .any(|i| i.as_str().unwrap().contains(" critical] "))
        {
            critical_days += 1;
        }
        seen.extend(ranked.iter().map(|i| format!("{c} {i}")));
    }
    assert!(
        findings <= 20,
        "report: {findings} in 20 null days: {seen:#?}"
    );
    assert!(
        critical_days <= 1,
        "report: {critical_days} critical days: {seen:#?}"
    );
}

/// One LLM call as a flat span with its root, in `route` for `tenant`.
#[allow(clippy::too_many_arguments)]
fn call(
    w: &mut impl Write,
    id: &mut u64,
    start: i64,
    route: &str,
    tenant: &str,
    (model, response_model): (&str, &str),
    input_tokens: u64,
    error: bool,
) {
    *id += 1;
    let trace = format!("ee{:030x}", id);
    let root = format!("ee{:014x}", id);
    let end = start + 2_000_000_000;
    let status = if error {
        json!({"code": "ERROR", "message": "429 Too Many Requests"})
    } else {
        json!({"code": "UNSET"})
    };
    let lines = [
        json!({
            "trace_id": trace, "span_id": root, "parent_span_id": null, "kind": 2,
            "name": format!("POST {route}"),
            "start_time_unix_nano": start, "end_time_unix_nano": end,
            "status": status,
            "attributes": {"http.route": route, "tenant.id": tenant},
            "resource": {"service.name": "chat-api"}
        }),
        json!({
            "trace_id": trace, "span_id": format!("ef{:014x}", id), "parent_span_id": root,
            "kind": 3, "name": format!("chat {model}"),
            "start_time_unix_nano": start + 1000, "end_time_unix_nano": end - 1000,
            "status": status,
            "attributes": {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": if model.starts_with("gemini") { "gcp.gemini" } else { "openai" },
                "gen_ai.request.model": model,
                "gen_ai.response.model": response_model,
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.usage.output_tokens": 300,
                "error.type": if error { Value::from("429") } else { Value::Null },
            },
            "resource": {"service.name": "chat-api"}
        }),
    ];
    for l in lines {
        writeln!(w, "{l}").unwrap();
    }
}

#[test]
fn issue20_planted_incidents_are_found_and_laid_at_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("traffic.parquet");
    generate(&base, 8, 80_000, 2);
    let planted = dir.path().join("planted.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&planted).unwrap());
    let mut id = 0;
    let d8 = T0 + 7 * DAY_NS;
    // an error burst of one model on /chat, 14:00-15:00 of day 8
    for i in 0..12 {
        let t = d8 + 14 * HOUR_NS + i * 240_000_000_000;
        call(
            &mut w,
            &mut id,
            t,
            "/chat",
            "acme",
            ("gemini-2.5-flash", "gemini-2.5-flash"),
            800,
            true,
        );
    }
    // a spend spike of one new tenant on /summarize, all day 8, on a
    // model the route already uses (the tenant, not the model, is new)
    for i in 0..400 {
        let t = d8 + i * (DAY_NS / 400) + 7_000_000_000;
        // request and response model as the generator writes them
        let m = ("gpt-4o-mini", "gpt-4o-mini-2024-07-18");
        call(&mut w, &mut id, t, "/summarize", "t17", m, 100_000, false);
    }
    w.flush().unwrap();
    drop(w);
    let o = run(&[
        "anomalies",
        base.to_str().unwrap(),
        planted.to_str().unwrap(),
        "--by",
        "route",
        "--baseline",
        &format!("{}..{}", day(0), day(7)),
        "--current",
        &format!("{}..{}", day(7), day(8)),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["tables"]["anomalies"].as_array().unwrap();
    let find = |route: &str, kind: &str| {
        rows.iter()
            .find(|r| r["route"] == route && r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} on {route}: {rows:#?}"))
    };
    let burst = find("/chat", "error_burst");
    assert_eq!(crate::common::time_ns(&burst["time"]), d8 + 14 * HOUR_NS);
    assert_eq!(burst["cause_field"], "model", "{burst:#}");
    assert_eq!(burst["cause_value"], "gemini-2.5-flash", "{burst:#}");
    assert!(
        burst["cause"]
            .as_str()
            .unwrap()
            .contains(" errors from model gemini-2.5-flash (error type 429; 100.0% error rate, not in the baseline)"),
        "{burst:#}"
    );
    let spike = find("/summarize", "spend_spike");
    assert_eq!(spike["cause_field"], "tenant", "{spike:#}");
    assert_eq!(spike["cause_value"], "t17", "{spike:#}");
    assert!(spike["cause_share"].as_f64().unwrap() > 0.9, "{spike:#}");
    // the spike's 100,000-token calls are context stuffing, laid at t17 too
    let stuffing = find("/summarize", "context_stuffing");
    assert_eq!(stuffing["cause_field"], "tenant", "{stuffing:#}");
    assert_eq!(stuffing["cause_value"], "t17", "{stuffing:#}");
    // the finding's sentence carries the cause too
    let msgs: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("tenant t17 contributes")),
        "{msgs:#?}"
    );
}

/// Each incident spanlens-gen plants (in the last of 8 days, alone), with
/// the finding a person must see and who caused it: (incident, route, how
/// the finding's message reads, cause field, cause value). The generator's
/// PLANTED table says the same; here it is written out, as the test's
/// expectation.
const PLANTED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "error-burst",
        "/search",
        ": error_burst (",
        "model",
        "gemini-2.5-flash",
    ),
    (
        "spend-spike",
        "/refunds",
        ": spend_spike (",
        "tenant",
        "wonka",
    ),
    (
        "agent-loops",
        "/agent/plan",
        ": agent_loop (",
        "tenant",
        "tyrell",
    ),
    (
        "context-stuffing",
        "/chat",
        ": context_stuffing (",
        "tenant",
        "hooli",
    ),
    (
        "provider-latency",
        "/summarize",
        ": ttft_ms drifted",
        "provider",
        "openai",
    ),
    (
        "model-mix",
        "/agent/plan",
        ": model_mix (",
        "tenant",
        "acme",
    ),
    (
        "numeric-drift",
        "/chat",
        ": output_tokens drifted",
        "model",
        "gpt-4o-mini",
    ),
    (
        "prompt-regression",
        "/refunds",
        ": error_rate regressed",
        "model",
        "claude-haiku-4-5",
    ),
];

/// Every planted incident is on the report's first screen (the ranked
/// block), laid at its cause, found without `--by` naming it: the report
/// is per route, and the cause is a model, a tenant or a provider. One
/// seed here; tests/reference/report_planted_seeds.py measures many.
#[test]
fn issue20_every_planted_incident_is_on_the_first_screen_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planted.parquet");
    let input = path.to_str().unwrap();
    for (name, route, marker, field, value) in PLANTED {
        generate_with(&path, 8, 80_000, 100, &["--plant", name]);
        let v = on_day("report", input, &[], 7);
        let items: Vec<&str> = v["summary"][0]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        let found = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                let m = f["message"].as_str().unwrap();
                m.starts_with(&format!("route={route}:")) && m.contains(marker)
            })
            .unwrap_or_else(|| panic!("{name}: no finding on {route}: {items:#?}"));
        assert_eq!(found["cause"]["field"], *field, "{name}: {found:#}");
        assert_eq!(found["cause"]["value"], *value, "{name}: {found:#}");
        let message = found["message"].as_str().unwrap();
        assert!(
            items.iter().any(|i| i.ends_with(&format!("] {message}"))),
            "{name}: not on the first screen: {items:#?}"
        );
    }
}

/// An SLO breach is laid at who holds its bad events: a 3 s first-token
/// delay of one provider on /summarize breaks a first-token objective on
/// that route only, and every late span is that provider's.
#[test]
fn issue20_a_breach_is_laid_at_who_holds_its_bad_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("planted.parquet");
    generate_with(&path, 8, 80_000, 100, &["--plant", "provider-latency"]);
    let objectives = dir.path().join("slo.toml");
    std::fs::write(
        &objectives,
        "[[objective]]\nname = \"first token\"\nsli = \"ttft\"\nthreshold_ms = 2000\ntarget = 0.95\nperiod = \"1d\"\n",
    )
    .unwrap();
    let v = on_day(
        "report",
        path.to_str().unwrap(),
        &["--objectives", objectives.to_str().unwrap()],
        7,
    );
    let breaches: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "breach")
        .collect();
    assert_eq!(breaches.len(), 1, "{breaches:#?}");
    let b = breaches[0];
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .starts_with("first token [/summarize]: SLI "),
        "{b:#}"
    );
    assert_eq!(b["cause"]["field"], "provider", "{b:#}");
    assert_eq!(b["cause"]["value"], "openai", "{b:#}");
    assert_eq!(b["cause"]["share"], 1.0, "{b:#}");
}
