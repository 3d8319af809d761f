//! Every JSON document the tool writes validates against the schema in
//! `docs/spanlens.schema.json`, and findings carry their facts as fields
//! (issue 24): each command's `--format json`, `report --format json` and
//! its `summary.json`, `inspect`, `ingest` (with a lake merge) and every
//! `--format jsonl` row, on data where every kind of finding fires.

use serde_json::Value;

use crate::common::*;

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("docs/spanlens.schema.json")).unwrap();
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// The schema with its root pointing at one definition (`#/$defs/NAME`).
fn validator(def: &str) -> jsonschema::Validator {
    let mut s = schema();
    assert!(s["$defs"][def].is_object(), "no definition {def}");
    let root = s.as_object_mut().unwrap();
    root.remove("anyOf");
    root.insert("$ref".into(), format!("#/$defs/{def}").into());
    jsonschema::draft202012::new(&s).expect("a valid draft 2020-12 schema")
}

fn errors(def: &str, doc: &Value) -> Vec<String> {
    validator(def)
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn valid(def: &str, doc: &Value, what: &str) {
    let e = errors(def, doc);
    assert!(e.is_empty(), "{what} against #/$defs/{def}: {e:#?}");
}

fn findings(v: &Value) -> Vec<Value> {
    v["findings"].as_array().unwrap().clone()
}

/// compare of the planted data: each route's newest prompt version
/// against the one before.
fn compare_versions(input: &str) -> Vec<&str> {
    vec![
        "compare",
        input,
        "--by",
        "route",
        "--candidate",
        "latest:prompt_version",
    ]
}

fn objectives(dir: &std::path::Path) -> String {
    let path = dir.join("slo.toml");
    std::fs::write(
        &path,
        "[[objective]]\nname = \"availability\"\nsli = \"availability\"\ntarget = 0.99\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn every_json_document_matches_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let planted = planted(dir.path());
    let planted = planted.to_str().unwrap();
    let anomalous = crate::anomalies::planted(dir.path());
    let anomalous = anomalous.to_str().unwrap();
    let slo = objectives(dir.path());
    let cost = p(COST);
    let mut all: Vec<Value> = Vec::new();

    // the single-report commands, each where its findings fire
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (
            vec!["slo", planted, "--by", "route", "--objectives", &slo],
            0,
        ),
        (vec!["cost", &cost, "--budget", "0.5/day"], 0),
        (vec!["drift", planted, "--by", "route"], 0),
        (compare_versions(planted), 0),
        (
            [
                &["anomalies", anomalous, "--by", "route"][..],
                &crate::anomalies::PLANTED_DAY,
            ]
            .concat(),
            0,
        ),
        (vec!["prices", "gpt-4o"], 0),
    ];
    for (args, code) in &runs {
        let v = json_exit(&[&args[..], &["--format", "json"]].concat(), *code);
        valid("command", &v, args[0]);
        all.extend(findings(&v));
        // one row a line: every line a row of the schema
        if args[0] != "prices" {
            let o = run(&[&args[..], &["--format", "jsonl"]].concat());
            assert_eq!(o.status.code(), Some(*code), "{}", stderr(&o));
            let text = String::from_utf8(o.stdout).unwrap();
            assert!(text.lines().count() > 0, "{} --format jsonl", args[0]);
            for line in text.lines() {
                valid("row", &serde_json::from_str(line).unwrap(), args[0]);
            }
        }
    }
    let q = dir.path().join("q.sql");
    std::fs::write(
        &q,
        "SELECT {{keys}}, COUNT(*) AS spans FROM {{spans}} s GROUP BY {{keys}}\n",
    )
    .unwrap();
    let v = json_of(&["query", q.to_str().unwrap(), planted, "--format", "json"]);
    valid("command", &v, "query");
    valid(
        "command",
        &json_of(&["fields", "--format", "json"]),
        "fields",
    );

    // the nightly report, as one document and as --out-dir's summary.json
    let report = ["report", planted, "--by", "route", "--objectives", &slo];
    let v = json_exit(&[&report[..], &["--format", "json"]].concat(), 0);
    valid("nightly", &v, "report --format json");
    let md = dir.path().join("r.md");
    let out = dir.path().join("out");
    let o = run(&[
        &report[..],
        &[
            "-o",
            md.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "-q",
        ],
    ]
    .concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    valid("summary", &summary, "summary.json");
    assert_eq!(summary["findings"], v["findings"]);

    // what was read: inspect, and ingest into a lake and then merged
    let v = json_of(&["inspect", planted, &p(COST), "--format", "json"]);
    valid("inspect", &v, "inspect");
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let ingest = [
        "ingest",
        planted,
        "-o",
        lake,
        "--partition",
        "day",
        "--format",
        "json",
    ];
    let v = json_of(&ingest);
    valid("ingest", &v, "ingest");
    assert_eq!(v.get("lake"), None);
    let v = json_of(&ingest);
    valid("ingest", &v, "ingest merged into the lake");
    assert_eq!(v["lake"]["replaced"].as_array().unwrap().len(), 8, "{v}");

    // every kind a report raises on its own data is among them
    let kinds: std::collections::BTreeSet<&str> =
        all.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for k in [
        "breach",
        "budget",
        "unpriced",
        "drift",
        "regression",
        "anomaly",
    ] {
        assert!(kinds.contains(k), "no {k} finding in {kinds:?}");
    }
}

/// The facts behind each kind of finding, as fields: values a person can
/// check against the tables they come from.
#[test]
fn findings_carry_their_facts_as_fields() {
    let dir = tempfile::tempdir().unwrap();
    let planted = planted(dir.path());
    let planted = planted.to_str().unwrap();

    // the regression planted on /changed: candidate v2 against baseline v1
    let v = json_exit(
        &[&compare_versions(planted)[..], &["--format", "json"]].concat(),
        0,
    );
    let table = rows(&v, "compare");
    let regressions: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "regression")
        .collect();
    assert!(!regressions.is_empty());
    for f in &regressions {
        assert_eq!(f["cohort"], serde_json::json!({"route": "/changed"}), "{f}");
        let metric = f["metric"].as_str().unwrap();
        let r = table
            .iter()
            .find(|r| r["route"] == "/changed" && r["metric"] == metric)
            .unwrap_or_else(|| panic!("no row for {metric}"));
        assert_eq!(f["p"], r["p_holm"], "{f}");
        assert_eq!(f["expected"], r["baseline"], "{f}");
        assert_eq!(f["observed"], r["candidate"], "{f}");
        assert!(f["p"].as_f64().unwrap() < 0.05);
        assert!(["critical", "warning"].contains(&f["severity"].as_str().unwrap()));
        assert_eq!(f["trace_ids"], serde_json::json!([]));
    }

    // a budget: 0.720075 USD spent of 0.5 on the tiny cost fixture's day
    // (tests/integration/cost.rs works the spend out by hand)
    let v = json_exit(
        &["cost", &p(COST), "--budget", "0.5/day", "--format", "json"],
        0,
    );
    let b = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "budget")
        .unwrap();
    close(&b["observed"], &0.720075.into(), "spent");
    assert_eq!(b["expected"], 0.5);
    // used 144%: critical (twice its strength's unit from 100% on)
    assert_eq!(b["severity"], "critical");
    let u = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "unpriced")
        .unwrap();
    assert_eq!(u["metric"], "acme-llm-7b");
    assert_eq!(u["cohort"], Value::Null);

    // anomalies: the traces to open are trace ids, each once
    let a = crate::anomalies::planted(dir.path());
    let v = json_exit(
        &[
            &[
                "anomalies",
                a.to_str().unwrap(),
                "--by",
                "route",
                "--format",
                "json",
            ][..],
            &crate::anomalies::PLANTED_DAY,
        ]
        .concat(),
        0,
    );
    let table = rows(&v, "anomalies");
    let found = v["findings"].as_array().unwrap();
    assert_eq!(found.len(), table.len());
    for (f, r) in found.iter().zip(table) {
        assert_eq!(f["metric"], r["kind"]);
        assert_eq!(f["cohort"]["route"], r["route"]);
        assert_eq!(f["severity"], r["severity"]);
        assert_eq!(f["observed"], r["observed"]);
        // the open column's trace_id[/span_id], reduced to distinct traces
        let mut traces: Vec<String> = Vec::new();
        for id in r["open"].as_array().unwrap() {
            let t = id.as_str().unwrap().split('/').next().unwrap().to_string();
            if !traces.contains(&t) {
                traces.push(t);
            }
        }
        assert_eq!(f["trace_ids"], serde_json::json!(traces), "{f}");
    }
    assert!(found
        .iter()
        .any(|f| !f["trace_ids"].as_array().unwrap().is_empty()));
}

/// The schema rejects what it should: a finding without its fields, a
/// time as nanoseconds, an unknown kind (so the validation can fail).
#[test]
fn the_schema_rejects_a_wrong_document() {
    let v = json_exit(
        &["cost", &p(COST), "--budget", "0.5/day", "--format", "json"],
        0,
    );
    valid("command", &v, "cost");
    let mut missing = v.clone();
    missing["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("trace_ids");
    assert!(!errors("command", &missing).is_empty());
    let mut kind = v.clone();
    kind["findings"][0]["kind"] = "oops".into();
    assert!(!errors("command", &kind).is_empty());
    let mut extra = v.clone();
    extra["surprise"] = 1.into();
    assert!(!errors("command", &extra).is_empty());
    let i = json_of(&["inspect", &p(COST), "--format", "json"]);
    valid("inspect", &i, "inspect");
    let mut ns = i.clone();
    ns["start"] = 1_767_225_600_000_000_000i64.into();
    assert!(!errors("inspect", &ns).is_empty());
}
