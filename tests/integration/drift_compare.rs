//! Issue 4: `spanlens drift` and `spanlens compare` through the real CLI:
//! end-to-end against scipy reference values, a planted regression and a
//! planted drift in generated data (and a route without change that must
//! not be flagged), gates, errors, and snapshots of every output format.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use serde_json::Value;

use crate::common::{error_text, parquet_rows, root, run, snapshot_output, stderr};

fn p(rel: &str) -> String {
    root().join(rel).display().to_string()
}

fn json_of(args: &[&str], code: i32) -> Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("json output")
}

fn close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_f64(), want.as_f64());
    match (g, w) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
            "{what}: {g} vs reference {w}"
        ),
        _ => assert_eq!(got, want, "{what}"),
    }
}

fn rows<'a>(v: &'a Value, table: &str) -> &'a Vec<Value> {
    v["tables"][table].as_array().unwrap()
}

fn find<'a>(v: &'a Value, table: &str, conds: &[(&str, &str)]) -> &'a Value {
    rows(v, table)
        .iter()
        .find(|r| conds.iter().all(|(k, want)| r[*k] == *want))
        .unwrap_or_else(|| panic!("{table}: no row {conds:?}"))
}

const EXAMPLE: &str = "fixtures/example/export.otlp.jsonl.gz";
const CONFIG: &str = "fixtures/example/spanlens.toml";

fn reference() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/example_drift_compare.json"))
            .unwrap(),
    )
    .unwrap()
}

/// Drift per field on one route and compare of two prompt versions equal
/// numpy/scipy/statsmodels on the same spans
/// (tests/reference/scipy_drift_compare.py wrote the values).
#[test]
fn issue4_drift_and_compare_equal_scipy_reference() {
    let r = reference();
    let (config, input) = (p(CONFIG), p(EXAMPLE));
    let v = json_of(
        &[
            "--config",
            &config,
            "drift",
            &input,
            "--by",
            "route",
            "--baseline",
            r["baseline"].as_str().unwrap(),
            "--current",
            r["current"].as_str().unwrap(),
            "--format",
            "json",
        ],
        0,
    );
    for (field, want) in r["drift_chat"].as_object().unwrap() {
        let got = find(&v, "drift", &[("route", "/chat"), ("field", field)]);
        for k in ["n_baseline", "n_current", "psi", "js_distance", "chi2_p"] {
            close(&got[k], &want[k], &format!("/chat {field} {k}"));
        }
    }
    let arms = r["arms"].as_array().unwrap();
    let (b, c) = (
        format!("prompt_version={}", arms[0].as_str().unwrap()),
        format!("prompt_version={}", arms[1].as_str().unwrap()),
    );
    let v = json_of(
        &[
            "--config",
            &config,
            "compare",
            &input,
            "--baseline",
            &b,
            "--candidate",
            &c,
            "--metrics",
            "error_rate,latency_p50,input_tokens",
            "--format",
            "json",
        ],
        0,
    );
    for (metric, want) in r["compare"].as_object().unwrap() {
        let got = find(&v, "compare", &[("metric", metric)]);
        for (k, w) in want.as_object().unwrap() {
            close(&got[k.as_str()], w, &format!("{metric} {k}"));
        }
    }
}

const DAY_NS: i64 = 86_400_000_000_000;
/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600_000_000_000;

fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Generated traffic: two routes, seven baseline days on prompt v1 and an
/// eighth day on v2. On /changed, v2 plants a regression and a drift:
/// error rate 1% -> 6%, latency median x1.4, output tokens x1.65 (and so
/// cost). /stable changes nothing but its prompt version.
pub fn planted(dir: &Path) -> PathBuf {
    let path = dir.join("planted.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut rng = StdRng::seed_from_u64(20261124);
    let mut id = 0u64;
    for route in ["/stable", "/changed"] {
        for (version, n, start, days) in [("v1", 2800, T0, 7), ("v2", 1400, T0 + 7 * DAY_NS, 1)] {
            let changed = route == "/changed" && version == "v2";
            let (err, lat_mu, out_mu) = if changed {
                (0.06, 7.0 + 0.3365, 5.5 + 0.5)
            } else {
                (0.01, 7.0, 5.5)
            };
            let lat = LogNormal::<f64>::new(lat_mu, 0.5).unwrap();
            let inp = LogNormal::<f64>::new(7.0, 0.6).unwrap();
            let out = LogNormal::<f64>::new(out_mu, 0.6).unwrap();
            for _ in 0..n {
                id += 1;
                let s = start + (rng.random::<f64>() * (days * DAY_NS) as f64) as i64;
                let ms = (lat.sample(&mut rng) * 10.0).round() / 10.0;
                let e = s + (ms * 1e6) as i64;
                let error = rng.random::<f64>() < err;
                let line = serde_json::json!({
                    "trace_id": format!("{id:032x}"),
                    "span_id": format!("{id:016x}"),
                    "name": "chat gpt-4o-mini",
                    "start_time": rfc3339(s),
                    "end_time": rfc3339(e),
                    "status": {"code": if error { "ERROR" } else { "OK" }},
                    "attributes": {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "http.route": route,
                        "traceloop.prompt.version": version,
                        "gen_ai.usage.input_tokens": inp.sample(&mut rng).round() as i64,
                        "gen_ai.usage.output_tokens": out.sample(&mut rng).round() as i64,
                        "error.type": if error { Value::from("RateLimitError") } else { Value::Null },
                        "app.docs": rng.random_range(1..12),
                        "app.tier": if rng.random::<f64>() < 0.3 { "gold" } else { "free" },
                    }
                });
                writeln!(f, "{line}").unwrap();
            }
        }
    }
    f.flush().unwrap();
    path
}

/// The planted regression is found on /changed (and gates the run); the
/// route without change has no regressed metric.
#[test]
fn issue4_compare_finds_the_planted_regression_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = planted(dir.path());
    let input = input.to_str().unwrap();
    let args = [
        "compare",
        input,
        "--by",
        "route",
        "--candidate",
        "latest:prompt_version",
        "--format",
        "json",
    ];
    let v = json_of(&args, 0);
    assert!(
        v["headline"]
            .as_str()
            .unwrap()
            .starts_with("compare: REGRESSED"),
        "{}",
        v["headline"]
    );
    let arms = find(&v, "arms", &[("route", "/changed")]);
    assert_eq!(arms["baseline"], "v1");
    assert_eq!(arms["candidate"], "v2");
    for m in [
        "error_rate",
        "latency_p50",
        "latency_p95",
        "output_tokens",
        "cost_mean",
        "cost_p95",
    ] {
        let r = find(&v, "compare", &[("route", "/changed"), ("metric", m)]);
        assert_eq!(r["verdict"], "regressed", "/changed {m}: {r}");
        assert!(r["p_holm"].as_f64().unwrap() < 0.05);
        assert!(
            r["ci_low"].as_f64().unwrap() > 0.0,
            "/changed {m}: CI excludes 0: {r}"
        );
    }
    for m in ["input_tokens", "refusal_rate"] {
        let r = find(&v, "compare", &[("route", "/changed"), ("metric", m)]);
        assert_eq!(r["verdict"], "pass", "/changed {m}: {r}");
    }
    for r in rows(&v, "compare")
        .iter()
        .filter(|r| r["route"] == "/stable")
    {
        assert_ne!(r["verdict"], "regressed", "/stable must not regress: {r}");
    }
    let regressions: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "regression")
        .collect();
    assert_eq!(regressions.len(), 6, "{regressions:?}");
    // the CI gate
    let mut gated: Vec<&str> = args.to_vec();
    gated.extend(["--fail-on", "regression"]);
    let o = run(&gated);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("regression: route=/changed: error_rate regressed"));
    // /stable alone passes the gate
    gated.extend(["--where", "route=/stable"]);
    let o = run(&gated);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // same seed, same bytes; another seed moves only the bootstrap intervals
    let a = run(&args);
    let b = run(&args);
    assert_eq!(a.stdout, b.stdout, "compare output must be byte-identical");
    let mut other = args.to_vec();
    other.extend(["--seed", "7"]);
    let c: Value = serde_json::from_slice(&run(&other).stdout).unwrap();
    let (x, y) = (
        find(
            &v,
            "compare",
            &[("route", "/changed"), ("metric", "latency_p50")],
        ),
        find(
            &c,
            "compare",
            &[("route", "/changed"), ("metric", "latency_p50")],
        ),
    );
    assert_eq!(x["p"], y["p"]);
    assert_ne!(x["ci_low"], y["ci_low"]);
}

/// The planted drift is found on /changed (output tokens, duration, cost)
/// and nothing drifts on /stable.
#[test]
fn issue4_drift_finds_the_planted_drift_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = planted(dir.path());
    let args = [
        "drift",
        input.to_str().unwrap(),
        "--by",
        "route",
        "--baseline",
        "2026-01-01..2026-01-08",
        "--current",
        "2026-01-08..2026-01-09",
        "--format",
        "json",
    ];
    let v = json_of(&args, 0);
    for f in ["output_tokens", "duration_ms", "cost_usd"] {
        let r = find(&v, "drift", &[("route", "/changed"), ("field", f)]);
        assert_eq!(r["verdict"], "drift", "/changed {f}: {r}");
        assert_eq!(r["n_baseline"], 2800);
        assert_eq!(r["n_current"], 1400);
    }
    for f in ["input_tokens", "model", "provider"] {
        let r = find(&v, "drift", &[("route", "/changed"), ("field", f)]);
        assert_eq!(r["verdict"], "stable", "/changed {f}: {r}");
    }
    for r in rows(&v, "drift").iter().filter(|r| r["route"] == "/stable") {
        assert_ne!(r["verdict"], "drift", "/stable must not drift: {r}");
    }
    // the bins that moved: output tokens' top bins on /changed
    let bins: Vec<&Value> = rows(&v, "drift_bins")
        .iter()
        .filter(|r| r["route"] == "/changed" && r["field"] == "output_tokens")
        .collect();
    assert_eq!(bins.len(), 3);
    let d0 = bins[0]["delta"].as_f64().unwrap().abs();
    assert!(d0 >= bins[1]["delta"].as_f64().unwrap().abs());
    let mut gated = args.to_vec();
    gated.extend(["--fail-on", "drift"]);
    let o = run(&gated);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("drift: route=/changed: output_tokens drifted"));
    // an attribute field, typed from its values
    let v = json_of(
        &[
            "drift",
            input.to_str().unwrap(),
            "--baseline",
            "2026-01-01..2026-01-08",
            "--current",
            "2026-01-08..2026-01-09",
            "--no-default-fields",
            "--field",
            "attr:app.docs,attr:app.tier,attr:app.missing",
            "--format",
            "json",
        ],
        0,
    );
    let t = find(&v, "drift", &[("field", "attr:app.docs")]);
    assert_eq!(t["type"], "numeric");
    assert_eq!(t["n_current"], 2800);
    let t = find(&v, "drift", &[("field", "attr:app.tier")]);
    assert_eq!(t["type"], "categorical");
    assert_eq!(t["verdict"], "stable");
    assert_eq!(
        rows(&v, "drift").len(),
        2,
        "no row for an attribute no span has"
    );
    assert!(v["notes"][0]
        .as_str()
        .unwrap()
        .contains("attr:app.missing: no span in either window has it"));
}

#[test]
fn issue4_usage_errors() {
    let input = p(EXAMPLE);
    for (args, msg) in [
        (
            vec!["compare", &input, "--metrics", "latency_p42"],
            "unknown metric `latency_p42`",
        ),
        (
            vec![
                "compare",
                &input,
                "--baseline",
                "7d",
                "--candidate",
                "model=gpt-4o",
            ],
            "is a window but --candidate selects spans",
        ),
        (
            vec!["compare", &input, "--candidate", "model=gpt-4o"],
            "--baseline must select spans too",
        ),
        (
            vec!["compare", &input, "--min-effect", "error_rate=abc"],
            "`abc` is not a number",
        ),
        (
            vec!["compare", &input, "--alpha", "2"],
            "--alpha: 2 is not in (0, 1)",
        ),
        (
            vec!["drift", &input, "--field", "nope"],
            "unknown field `nope`",
        ),
        (
            vec!["drift", &input, "--no-default-fields"],
            "no fields to compare",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = error_text(&o);
        assert!(e.starts_with("spanlens: error: "), "{e}");
        assert!(e.contains(msg), "{args:?}: {e}");
        assert!(e.contains("\nhint: "), "{e}");
    }
}

/// Every output format of both commands on the bundled example.
#[test]
fn issue4_snapshots_of_every_format() {
    let (config, input) = (p(CONFIG), p(EXAMPLE));
    let drift: Vec<&str> = vec![
        "--config",
        &config,
        "drift",
        &input,
        "--by",
        "route",
        "--baseline",
        "2026-01-01..2026-01-05",
        "--current",
        "2026-01-05..2026-01-09",
        "--field",
        "attr:gen_ai.request.temperature",
    ];
    let compare: Vec<&str> = vec![
        "--config",
        &config,
        "compare",
        &input,
        "--by",
        "route",
        "--candidate",
        "latest:prompt_version",
        "--metrics",
        "pass_rate,error_rate,latency_p50,latency_p95,cost_mean,output_tokens",
    ];
    // the example's p95s have fewer than 400 spans per arm: inconclusive gates when asked
    let mut gated = compare.clone();
    gated.extend(["--fail-on", "inconclusive"]);
    let o = run(&gated);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("inconclusive: route=/chat: latency_p95: too few samples"));
    let last = gated.len() - 1;
    gated[last] = "regression";
    assert_eq!(run(&gated).status.code(), Some(0));
    for (name, base) in [("drift", drift), ("compare", compare)] {
        for fmt in ["table", "markdown", "json", "csv"] {
            let mut args = base.clone();
            args.extend(["--format", fmt]);
            insta::assert_snapshot!(format!("{name}_{fmt}"), snapshot_output(&args));
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.parquet");
        let mut args = base.clone();
        args.extend(["--format", "parquet", "-o", out.to_str().unwrap()]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        insta::assert_snapshot!(
            format!("{name}_parquet"),
            serde_json::to_string_pretty(&parquet_rows(&out)).unwrap()
        );
    }
}

/// The nightly report draws the drifted distributions of the planted data
/// (baseline vs current bin shares), highest PSI first, next to the report.
#[test]
fn issue5_report_charts_the_drifted_distributions() {
    let dir = tempfile::tempdir().unwrap();
    let input = planted(dir.path());
    let out = dir.path().join("night.md");
    let o = crate::common::run(&[
        "report",
        input.to_str().unwrap(),
        "--baseline",
        "2026-01-01..2026-01-08",
        "--current",
        "2026-01-08..2026-01-09",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    let md = std::fs::read_to_string(&out).unwrap();
    let v = json_of(
        &[
            "drift",
            input.to_str().unwrap(),
            "--by",
            "route",
            "--baseline",
            "2026-01-01..2026-01-08",
            "--current",
            "2026-01-08..2026-01-09",
            "--format",
            "json",
        ],
        0,
    );
    // the drifted pairs by PSI, as drift reports them
    let mut drifted: Vec<(f64, String)> = rows(&v, "drift")
        .iter()
        .filter(|r| r["verdict"] == "drift")
        .map(|r| {
            (
                r["psi"].as_f64().unwrap(),
                format!("route=/changed: {}", r["field"].as_str().unwrap()),
            )
        })
        .collect();
    drifted.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert!(drifted.len() >= 3, "{drifted:?}");
    for (i, (_, title)) in drifted.iter().take(4).enumerate() {
        let link = format!("night-charts/drift-{}.svg", i + 1);
        assert!(md.contains(&format!("]({link})")), "{link} not linked");
        let svg = std::fs::read_to_string(dir.path().join(&link)).unwrap();
        assert!(
            svg.contains(&format!("{title}: baseline vs current")),
            "{link}"
        );
        assert!(
            svg.contains(">\nbaseline\n") || svg.contains("baseline\n</text>"),
            "{link}"
        );
    }
    // the route without drift has no chart
    assert!(!md.contains("drift-5.svg") || drifted.len() >= 5);
    // charts of the other sections sit next to them
    for f in ["spend-daily", "latency-p95-daily"] {
        assert!(dir.path().join(format!("night-charts/{f}.svg")).is_file());
    }
    // --no-charts: no directory, no links
    let out2 = dir.path().join("plain.md");
    let o = crate::common::run(&[
        "report",
        input.to_str().unwrap(),
        "--current",
        "2026-01-08..2026-01-09",
        "-o",
        out2.to_str().unwrap(),
        "--no-charts",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    assert!(!std::fs::read_to_string(&out2).unwrap().contains(".svg"));
    assert!(!dir.path().join("plain-charts").exists());
}
