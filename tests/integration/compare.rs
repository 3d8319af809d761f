//! `spanlens compare` through the real CLI: end to end against scipy and
//! statsmodels reference values (drift too), a planted regression, gates,
//! usage errors, and snapshots of every output format.

use serde_json::Value;

use crate::common::*;

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
fn drift_and_compare_equal_scipy_reference() {
    let r = reference();
    let (config, input) = (p(CONFIG), p(EXAMPLE));
    let v = json_exit(
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
    let v = json_exit(
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

/// The planted regression is found on /changed (and gates the run); the
/// route without change has no regressed metric.
#[test]
fn compare_finds_the_planted_regression_only() {
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
    let v = json_exit(&args, 0);
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

#[test]
fn usage_errors() {
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

/// Every output format of `compare` on the bundled example, and its gates.
#[test]
fn snapshots_of_every_format() {
    let (config, input) = (p(CONFIG), p(EXAMPLE));
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
    for (name, out) in every_format("compare", &compare) {
        insta::assert_snapshot!(name, out);
    }
}
