//! `spanlens drift` through the real CLI: a planted drift in generated
//! data (and a route without change that must not be flagged), charts of
//! the drifted distributions, and snapshots of every output format.

use serde_json::Value;

use crate::common::*;

/// The planted drift is found on /changed (output tokens, duration, cost)
/// and nothing drifts on /stable.
#[test]
fn drift_finds_the_planted_drift_only() {
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
    let v = json_exit(&args, 0);
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
    let v = json_exit(
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

/// The nightly report draws the drifted distributions of the planted data
/// (baseline vs current bin shares), highest PSI first, next to the report.
#[test]
fn report_charts_the_drifted_distributions() {
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
    let v = json_exit(
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

/// Every output format of `drift` on the bundled example.
#[test]
fn snapshots_of_every_format() {
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
    for (name, out) in every_format("drift", &drift) {
        insta::assert_snapshot!(name, out);
    }
}
