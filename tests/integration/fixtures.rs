//! Tiny hand-written inputs against the values written beside them.

use serde_json::Value;

use crate::common::*;

fn check(name: &str) {
    let dir = root().join("fixtures/tiny");
    let input = dir.join(format!("{name}.jsonl"));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
    )
    .unwrap();
    let ds = load_paths(&[&input]);
    assert_eq!(
        ds.spans.height() as u64,
        expected["spans"].as_u64().unwrap(),
        "span count"
    );
    let lines: Vec<u64> = ds.files[0].rejects.iter().map(|r| r.line).collect();
    let want: Vec<u64> = expected["rejected_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(lines, want, "rejected lines: {:?}", ds.files[0].rejects);
    assert_eq!(ds.files[0].rejected, want.len() as u64);
    if let Some(d) = expected.get("duplicates") {
        assert_eq!(ds.files[0].duplicates, d.as_u64().unwrap());
    }
    for (span, fields) in expected["rows"].as_object().unwrap() {
        let row = find_span(&ds.spans, span);
        assert_fields(span, &row, fields.as_object().unwrap());
    }
    let mut got = evals_rows(&ds.evals);
    let mut want = expected["evals"].as_array().unwrap().clone();
    let key = |v: &Value| v.to_string();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want, "evals");
}

#[test]
fn otlp_genai_fixture_matches_hand_worked_values() {
    check("otlp_genai");
}

/// Issue 21: the attribute names of OTel GenAI since its own repository,
/// of real emitters beside it, and of the Vercel AI SDK's telemetry.
#[test]
fn current_genai_names_fixture_matches_hand_worked_values() {
    check("genai_current");
}

/// Issue 21: the service tier a call ran on and the 1-hour cache writes,
/// in each convention that records them.
#[test]
fn service_tier_fixture_matches_hand_worked_values() {
    check("service_tiers");
}

/// Issue 21: evaluation events that name the response they judged instead
/// of their span attach to the span with that `gen_ai.response.id`.
#[test]
fn evaluations_by_response_id_fixture_matches_hand_worked_values() {
    check("eval_by_response");
}

/// The same, spilled: the response ids are looked up in the spill files,
/// and the unattached evaluation is a rejected record as in memory.
#[test]
fn evaluations_by_response_id_attach_when_spilled_too() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("evals.sql");
    std::fs::write(
        &sql,
        "SELECT COALESCE(span_id, '-') AS span_id, name FROM evals ORDER BY name, span_id",
    )
    .unwrap();
    let input = root().join("fixtures/tiny/eval_by_response.jsonl");
    for spill in ["0", "1000000"] {
        let o = bin()
            .env("SPANLENS_SPILL_SPANS", spill)
            .env("TMPDIR", dir.path())
            .args([
                "query",
                sql.to_str().unwrap(),
                input.to_str().unwrap(),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = v["tables"]["result"].as_array().unwrap();
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r["span_id"].as_str().unwrap(), r["name"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("00f067aa0ba902b7", "Groundedness"),
                // the trace-level one whose response is in another export
                ("-", "Relevance"),
                ("00f067aa0ba902b7", "Relevance")
            ],
            "SPANLENS_SPILL_SPANS={spill}"
        );
        let inputs = v["meta"]["inputs"].as_str().unwrap();
        assert!(inputs.contains("2 malformed record(s) skipped"), "{inputs}");
    }
}

/// Issue 21: OpenInference evaluations of a span, of its trace and of its
/// session, with who judged them.
#[test]
fn openinference_scoped_evaluations_fixture_matches_hand_worked_values() {
    check("openinference_evals");
}

#[test]
fn flat_mixed_fixture_matches_hand_worked_values() {
    check("flat_mixed");
}

#[test]
fn text_attributes_are_kept_only_when_asked() {
    let input = root().join("fixtures/tiny/otlp_genai.jsonl");
    let mut opts = spanlens::frame::LoadOptions::default();
    opts.resolve.include_text = true;
    let ds = spanlens::frame::load(&[input.display().to_string()], &opts).unwrap();
    let row = find_span(&ds.spans, "00f067aa0ba902b7");
    assert_eq!(
        row["attrs.gen_ai.input.messages"],
        "[{\"role\":\"user\",\"content\":\"secret prompt\"}]"
    );
}

#[test]
fn config_field_mapping_overrides_the_defaults() {
    // `app.route` is a default route alias; map route to `app.region` instead.
    let input = root().join("fixtures/tiny/otlp_genai.jsonl");
    let table =
        spanlens::ingest::aliases::AliasTable::new(&[("route".into(), vec!["app.region".into()])])
            .unwrap();
    let opts = spanlens::frame::LoadOptions {
        table,
        ..Default::default()
    };
    let ds = spanlens::frame::load(&[input.display().to_string()], &opts).unwrap();
    assert_eq!(find_span(&ds.spans, "00f067aa0ba902b7")["route"], "eu");
}

/// The Python SDK's ConsoleSpanExporter output: pretty-printed span objects
/// one after another (not JSON lines), `0x` ids, `SpanKind.CLIENT`.
#[test]
fn python_sdk_console_exporter_objects() {
    let doc = r#"{
    "name": "chat gpt-4o",
    "context": {
        "trace_id": "0x5b8efff798038103d269b633813fc60c",
        "span_id": "0x051581bf3cb55c13",
        "trace_state": "[]"
    },
    "kind": "SpanKind.CLIENT",
    "parent_id": "0x051581bf3cb55c12",
    "start_time": "2025-01-15T10:30:00.000000Z",
    "end_time": "2025-01-15T10:30:01.250000Z",
    "status": {
        "status_code": "ERROR",
        "description": "APIConnectionError: boom"
    },
    "attributes": {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10
    },
    "events": [
        {
            "name": "exception",
            "timestamp": "2025-01-15T10:30:01.200000Z",
            "attributes": {"exception.type": "APIConnectionError"}
        }
    ],
    "links": [],
    "resource": {
        "attributes": {"service.name": "py-app"},
        "schema_url": ""
    }
}
{
    "name": "handler",
    "context": {
        "trace_id": "0x5b8efff798038103d269b633813fc60c",
        "span_id": "0x051581bf3cb55c12",
        "trace_state": "[]"
    },
    "kind": "SpanKind.SERVER",
    "parent_id": null,
    "start_time": "2025-01-15T10:29:59.900000Z",
    "end_time": "2025-01-15T10:30:01.300000Z",
    "status": {"status_code": "UNSET"},
    "attributes": {"http.route": "/ask"},
    "events": [],
    "links": [],
    "resource": {"attributes": {"service.name": "py-app"}, "schema_url": ""}
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("console.json");
    std::fs::write(&p, doc).unwrap();
    let ds = load_paths(&[&p]);
    assert_eq!((ds.spans.height(), ds.rejected()), (2, 0));
    assert_eq!(ds.files[0].format, "json-document");
    let row = find_span(&ds.spans, "051581bf3cb55c13");
    let want = serde_json::json!({
        "trace_id": "5b8efff798038103d269b633813fc60c", "parent_span_id": "051581bf3cb55c12", "kind": "client",
        "status": "error", "error_type": "APIConnectionError", "duration_ms": 1250.0, "service": "py-app",
        "provider": "openai", "request_model": "gpt-4o", "input_tokens": 10, "span_type": "llm", "route": "/ask"
    });
    assert_fields("py", &row, want.as_object().unwrap());
}

/// Issue 21: `inspect` turns unclaimed attributes that look like a field
/// the LLM spans lack into `[fields]` lines, and those lines, pasted into
/// spanlens.toml, fill the fields. A name that cannot be written in a TOML
/// string as-is (a quote in it) is not suggested.
#[test]
fn inspect_suggests_fields_lines_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("spans.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"trace_id": "abababababababababababababababab", "span_id": "ab00000000000001", "name": "chat gpt-4o", "kind": 3, "#,
            r#""start_time_unix_nano": 1767348000000000000, "end_time_unix_nano": 1767348001000000000, "attributes": {"#,
            r#""gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10, "#,
            r#""gen_ai.usage.output_tokens": 5, "acme.tenant.id": "t-1", "myapp.prompt_version": "v3", "weird\"name.route": "/x"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let o = crate::common::run(&["inspect", input.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let lines: Vec<&str> = v["inputs"][0]["suggested_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            r#"tenant = ["acme.tenant.id"]"#,
            r#"prompt_version = ["myapp.prompt_version"]"#
        ]
    );
    let config = dir.path().join("spanlens.toml");
    std::fs::write(&config, format!("[fields]\n{}\n", lines.join("\n"))).unwrap();
    let out = dir.path().join("spans.parquet");
    let o = crate::common::run(&[
        "--config",
        config.to_str().unwrap(),
        "ingest",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = parquet_rows(&out);
    assert_eq!(rows[0]["tenant"], "t-1");
    assert_eq!(rows[0]["prompt_version"], "v3");
}
