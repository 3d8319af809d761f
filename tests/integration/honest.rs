//! Verdicts that can be trusted on data nobody here wrote: span values are
//! data and never template text, nothing to judge never passes, a skewed
//! clock does not move the windows, every count is honest (duplicate spans
//! and evaluations), burn windows end where the report ends, and the
//! configuration refuses what the flags refuse.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{bin, root, run, stderr, write_parquet};
use spanlens::span::row::{SpanRow, SpanType};

fn example() -> String {
    root()
        .join("fixtures/example/export.otlp.jsonl.gz")
        .display()
        .to_string()
}

/// One flat JSONL span.
#[allow(clippy::too_many_arguments)]
fn flat(
    trace: &str,
    span: usize,
    start: &str,
    route: &str,
    version: &str,
    error: bool,
    model: &str,
) -> Value {
    json!({
        "trace_id": trace,
        "span_id": format!("{span:016x}"),
        "name": "chat",
        "start_time": start,
        "end_time": start,
        "status": {"code": if error { "ERROR" } else { "OK" }},
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20,
            "http.route": route,
            "prompt_version": version
        }
    })
}

fn write_lines(path: &Path, lines: &[Value]) {
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn code(args: &[&str]) -> (Option<i32>, String, String) {
    let o = run(args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
    )
}

// ---- span content is data, never template text -------------------------

/// Two routes; on the first (the larger, kept by `--top 1`), version `old`
/// (1% errors over three days) then `new` (30% errors on the last day): a
/// regression.
fn versions_export(dir: &Path, route: &str, old: &str, new: &str) -> PathBuf {
    let mut lines = Vec::new();
    let mut n = 0;
    for day in 5..=8 {
        for i in 0..150 {
            n += 1;
            let start = format!("2026-01-0{day}T{:02}:{:02}:00Z", i / 60 % 24, i % 60);
            let (v, error) = if day == 8 {
                (new, i % 10 < 3)
            } else {
                (old, i % 100 == 0)
            };
            lines.push(flat(
                &format!("{n:032x}"),
                n,
                &start,
                route,
                v,
                error,
                "gpt-4o",
            ));
            if i % 3 != 0 {
                continue;
            }
            n += 1;
            lines.push(flat(
                &format!("{n:032x}"),
                n,
                &start,
                "/other",
                "o1",
                false,
                "gpt-4o",
            ));
        }
    }
    let p = dir.join(format!("versions-{}.jsonl", lines.len()));
    write_lines(&p, &lines);
    p
}

/// Regression: values from spans were pasted into the SQL before the
/// placeholders and macros were expanded, so a prompt version
/// `refunds@{{keys}}` made the candidate arm match nothing and the gate
/// pass (exit 0 where the harmless spelling exits 1).
#[test]
fn issue18_hostile_span_values_give_the_same_verdict_as_harmless_ones() {
    let dir = tempfile::tempdir().unwrap();
    let harmless = ("/refunds", "refunds@v3", "refunds@v4");
    let hostile = (
        "{{keys}} x logbucket(1) y",
        "refunds@{{keys}}",
        "modelkey() {{spans}} timebucket( -- it's",
    );
    let verdict = |(route, old, new): (&str, &str, &str), sub: &str| {
        let d = dir.path().join(sub);
        std::fs::create_dir(&d).unwrap();
        let p = versions_export(&d, route, old, new);
        let o = run(&[
            "compare",
            p.to_str().unwrap(),
            "--by",
            "route",
            "--top",
            "1",
            "--candidate",
            "latest:prompt_version",
            "--fail-on",
            "regression",
            "--format",
            "json",
            "--stale-after",
            "off",
        ]);
        // each value as it stands inside a JSON string (cells and messages)
        let inner = |v: &str| {
            serde_json::to_string(v)
                .unwrap()
                .trim_matches('"')
                .to_string()
        };
        let text = String::from_utf8(o.stdout)
            .unwrap()
            .replace(&inner(old), "OLD")
            .replace(&inner(new), "NEW")
            .replace(&inner(route), "ROUTE");
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["meta"] = Value::Null;
        (o.status.code(), v)
    };
    let (a_code, a) = verdict(harmless, "a");
    let (b_code, b) = verdict(hostile, "b");
    assert_eq!(a_code, Some(1), "the harmless spelling regresses: {a}");
    assert_eq!(b_code, a_code);
    assert_eq!(a, b);
}

// ---- nothing there must not pass -----------------------------------------

#[test]
fn issue18_a_filter_matching_nothing_exits_3_with_the_data_range() {
    let (c, _, err) = code(&["slo", &example(), "--where", "model=gpt-9"]);
    assert_eq!(c, Some(3), "{err}");
    assert!(
        err.contains("no span of type llm matching the --where conditions in the current window"),
        "{err}"
    );
    assert!(
        err.contains(
            "the data covers 2026-01-01T00:12:25.855Z .. 2026-01-08T23:40:54.068Z (6003 spans)"
        ),
        "{err}"
    );
}

#[test]
fn issue18_a_window_outside_the_data_exits_3() {
    for args in [
        vec!["--current", "2025-01-01..2025-01-02"],
        vec!["--until", "now"],
    ] {
        let mut a = vec!["drift", example_ref()];
        a.extend(args.iter().copied());
        let (c, _, err) = code(&a);
        assert_eq!(c, Some(3), "{args:?}: {err}");
        assert!(err.contains("in the current window"), "{err}");
    }
}

fn example_ref() -> &'static str {
    static P: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    P.get_or_init(example)
}

#[test]
fn issue18_inputs_with_no_span_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let hostname = dir.path().join("hostname");
    std::fs::write(&hostname, "buildhost\n").unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    for (p, cmd) in [(&hostname, "slo"), (&empty, "report"), (&empty, "compare")] {
        let (c, _, err) = code(&[cmd, p.to_str().unwrap()]);
        assert_eq!(c, Some(3), "{cmd} {}: {err}", p.display());
        assert!(err.contains("no span read from the inputs"), "{err}");
    }
    let o = bin()
        .args(["cost", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // ingest writes no empty table for an input with no span
    let out = dir.path().join("out.parquet");
    let (c, _, err) = code(&[
        "ingest",
        hostname.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(c, Some(3), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(!out.exists());
}

#[test]
fn issue18_an_unknown_kind_is_a_usage_error() {
    let (c, _, err) = code(&["slo", example_ref(), "--kind", "lmm"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("unknown span type `lmm`"), "{err}");
    assert!(err.contains("llm, embedding, tool"), "{err}");
}

/// Regression: a compare arm naming a version that does not exist passed
/// the gate with no data.
#[test]
fn issue18_an_empty_compare_arm_exits_3_naming_the_values_seen() {
    let (c, _, err) = code(&[
        "--config",
        root()
            .join("fixtures/example/spanlens.toml")
            .to_str()
            .unwrap(),
        "compare",
        example_ref(),
        "--baseline",
        "prompt_version=v1",
        "--candidate",
        "prompt_version=v5",
        "--fail-on",
        "regression",
    ]);
    assert_eq!(c, Some(3), "{err}");
    assert!(
        err.contains("the candidate arm matches no span of the report's kind in the window"),
        "{err}"
    );
    // counted from the export: app.prompt.version (mapped by the example's
    // config) and the prompt name@version pairs of the other services
    assert!(
        err.contains("prompt_version values seen: v1 (243), refunds@1 (228), chat@v2 (227),"),
        "{err}"
    );
}

#[test]
fn issue18_a_stale_export_is_said_and_can_gate() {
    let (c, out, err) = code(&[
        "slo",
        example_ref(),
        "--format",
        "json",
        "--fail-on",
        "stale",
    ]);
    assert_eq!(c, Some(1), "{err}");
    assert!(
        err.contains("spanlens: warning: the newest span starts at 2026-01-08T23:40:54.068Z, more than 36h before the clock"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["meta"]["stale"].as_str().unwrap().contains("36h"), "{v}");
    let (c, _, err) = code(&[
        "slo",
        example_ref(),
        "--stale-after",
        "off",
        "--fail-on",
        "stale",
    ]);
    assert_eq!(c, Some(0), "{err}");
    assert!(!err.contains("stale"), "{err}");
    // an absolute window is the user's choice: no staleness
    let (c, _, err) = code(&[
        "slo",
        example_ref(),
        "--current",
        "2026-01-08..2026-01-09",
        "--fail-on",
        "stale",
    ]);
    assert_eq!(c, Some(0), "{err}");
}

// ---- one bad clock must not move the window -------------------------------

#[test]
fn issue18_spans_from_a_future_clock_do_not_move_the_windows() {
    let dir = tempfile::tempdir().unwrap();
    let future = dir.path().join("future.jsonl");
    write_lines(
        &future,
        &[
            flat(
                &"f".repeat(32),
                1,
                "2099-03-01T00:00:00Z",
                "/chat",
                "v9",
                false,
                "gpt-4o",
            ),
            flat(
                &"f".repeat(32),
                2,
                "2099-03-02T00:00:00Z",
                "/chat",
                "v9",
                true,
                "gpt-4o",
            ),
        ],
    );
    let json = |extra: Option<&Path>| -> Value {
        let mut a = vec![
            "slo",
            example_ref(),
            "--format",
            "json",
            "--stale-after",
            "off",
        ];
        if let Some(p) = extra {
            a.push(p.to_str().unwrap());
        }
        let (c, out, err) = code(&a);
        assert_eq!(c, Some(0), "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let (clean, skewed) = (json(None), json(Some(&future)));
    assert_eq!(clean["meta"]["window"], skewed["meta"]["window"]);
    assert_eq!(clean["tables"], skewed["tables"]);
    let note = skewed["meta"]["future spans"].as_str().unwrap();
    assert!(
        note.starts_with("2 span(s) start after the clock (2099-03-01T00:00:00.000Z .. 2099-03-02T00:00:00.000Z)"),
        "{note}"
    );
}

// ---- every count honest ----------------------------------------------------

/// Regression: two copies of one export doubled every evaluation (and so
/// every pass rate's sample), and the dropped duplicate spans were not said.
#[test]
fn issue18_duplicate_spans_and_evaluations_are_dropped_and_counted() {
    let json = |inputs: &[&str]| -> Value {
        let mut a = vec!["slo"];
        a.extend(inputs);
        a.extend(["--format", "json", "--stale-after", "off"]);
        let (c, out, err) = code(&a);
        assert_eq!(c, Some(0), "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let one = json(&[example_ref()]);
    let two = json(&[example_ref(), example_ref()]);
    assert_eq!(one["tables"], two["tables"]);
    let inputs = two["meta"]["inputs"].as_str().unwrap();
    assert!(
        // 724 gen_ai.evaluation.result events in the example (counted with python)
        inputs.contains("6,003 duplicate span(s) and 724 duplicate evaluation(s) dropped"),
        "{inputs}"
    );
    assert!(!one["meta"]["inputs"]
        .as_str()
        .unwrap()
        .contains("duplicate"));
}

#[test]
fn issue18_config_numbers_are_checked_like_flags() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, what) in [
        (
            "[[budget]]\nusd = nan\n",
            "[[budget]] usd: NaN is not an amount above zero",
        ),
        (
            "[[budget]]\nusd = -1\n",
            "[[budget]] usd: -1 is not an amount above zero",
        ),
        (
            "[compare]\nalpha = nan\n",
            "[compare] alpha: NaN is not in (0, 1)",
        ),
        (
            "[compare]\nmin_effect = { error_rate = nan }\n",
            "[compare] min_effect.error_rate: NaN is not a number >= 0",
        ),
    ] {
        let p = dir.path().join("spanlens.toml");
        std::fs::write(&p, toml).unwrap();
        let (c, _, err) = code(&["--config", p.to_str().unwrap(), "report", example_ref()]);
        assert_eq!(c, Some(2), "{toml}: {err}");
        assert!(err.contains(what), "{toml}: {err}");
    }
}

/// 2026-01-08T00:00:00Z
const T_JAN8: i64 = 1_767_830_400_000_000_000;

/// `n` LLM spans, one trace each, a minute apart from 2026-01-08.
fn llm_rows(n: i64) -> Vec<SpanRow> {
    (0..n)
        .map(|i| SpanRow {
            trace_id: format!("{:032x}", i + 1).into(),
            span_id: format!("{:016x}", i + 1).into(),
            name: "chat".into(),
            span_type: Some(SpanType::Llm),
            start_ns: T_JAN8 + i * 60_000_000_000,
            ..SpanRow::default()
        })
        .collect()
}

// ---- burn windows end where the report ends --------------------------------

/// One span a minute on 2026-01-08 from 10:00 to 15:59, errors where `bad`.
fn minutes_export(dir: &Path, bad: &[&str]) -> PathBuf {
    let mut lines = Vec::new();
    for m in 0..360 {
        let start = format!("2026-01-08T{:02}:{:02}:00Z", 10 + m / 60, m % 60);
        lines.push(flat(
            &format!("{:032x}", m + 1),
            m + 1,
            &start,
            "/chat",
            "v1",
            false,
            "gpt-4o",
        ));
    }
    for (i, t) in bad.iter().enumerate() {
        lines.push(flat(
            &format!("{:032x}", 1000 + i),
            1000 + i,
            t,
            "/chat",
            "v1",
            true,
            "gpt-4o",
        ));
    }
    let p = dir.join("minutes.jsonl");
    write_lines(&p, &lines);
    p
}

fn objectives(dir: &Path, target: f64) -> PathBuf {
    let p = dir.join("slo.toml");
    std::fs::write(
        &p,
        format!("[[objective]]\nname = \"avail\"\nsli = \"availability\"\ntarget = {target}\nperiod = \"1d\"\n"),
    )
    .unwrap();
    p
}

fn objective_row(input: &Path, obj: &Path, until: &str) -> Value {
    let (c, out, err) = code(&[
        "slo",
        input.to_str().unwrap(),
        "--objectives",
        obj.to_str().unwrap(),
        "--until",
        until,
        "--format",
        "json",
        "--stale-after",
        "off",
    ]);
    assert!(c == Some(0) || c == Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["tables"]["objectives"][0].clone()
}

/// Regression: the report's end was rounded up to the next 5-minute
/// boundary, so an error after --until counted in the 5-minute burn.
#[test]
fn issue18_burn_windows_end_at_the_reports_end() {
    let dir = tempfile::tempdir().unwrap();
    let input = minutes_export(dir.path(), &["2026-01-08T14:54:24Z"]);
    let obj = objectives(dir.path(), 0.99);
    let row = objective_row(&input, &obj, "2026-01-08T14:54:00Z");
    assert_eq!(row["burn_5m"], json!(0.0), "{row}");
    assert_eq!(row["bad"], json!(0), "{row}");
    assert_eq!(row["alert"], json!("ok"), "{row}");
    // 30 s later the error is inside: 1 bad of 6 valid in [14:49:30, 14:54:30)
    let row = objective_row(&input, &obj, "2026-01-08T14:54:30Z");
    assert_eq!(row["bad"], json!(1), "{row}");
    let b = row["burn_5m"].as_f64().unwrap();
    assert!((b - (1.0 / 6.0) / 0.01).abs() < 1e-9, "{row}");
}

/// A 100% target has no budget: a bad event burns it infinitely fast,
/// written "inf" in JSON, never null (which means "no data").
#[test]
fn issue18_an_infinite_burn_is_not_written_as_null() {
    let dir = tempfile::tempdir().unwrap();
    let input = minutes_export(dir.path(), &["2026-01-08T15:30:10Z"]);
    let obj = objectives(dir.path(), 1.0);
    let row = objective_row(&input, &obj, "2026-01-08T16:00:00Z");
    assert_eq!(row["burn_1h"], json!("inf"), "{row}");
    assert_eq!(row["burn_5m"], json!(0.0), "{row}");
}

/// Regression: a canonical Parquet table was trusted blindly (a null
/// start fell out of every window uncounted, a null trace id was kept, a
/// NaN or negative duration entered the latency statistics).
#[test]
fn issue18_canonical_parquet_rows_are_validated_and_counted() {
    use polars::prelude::*;
    use spanlens::span::build::spans_frame;
    let rows: Vec<SpanRow> = llm_rows(6)
        .into_iter()
        .enumerate()
        .map(|(i, r)| SpanRow {
            duration_ms: Some(100.0 * (i + 1) as f64),
            route: Some("/chat".into()),
            ..r
        })
        .collect();
    let mut df = spans_frame(&[rows]).unwrap();
    let start: Int64Chunked = (0..6)
        .map(|i| (i != 1).then_some(T_JAN8 + i * 60_000_000_000))
        .collect();
    let trace: StringChunked = (0..6)
        .map(|i| (i != 2).then(|| format!("{:032x}", i + 1)))
        .collect();
    let dur: Float64Chunked = [
        Some(100.0),
        Some(200.0),
        Some(300.0),
        Some(f64::NAN),
        Some(-5.0),
        Some(600.0),
    ]
    .into_iter()
    .collect();
    df.with_column(start.with_name("start_ns".into()).into_column())
        .unwrap();
    df.with_column(trace.with_name("trace_id".into()).into_column())
        .unwrap();
    df.with_column(dur.with_name("duration_ms".into()).into_column())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("canonical.parquet");
    write_parquet(&p, &mut df);
    let out = dir.path().join("out.parquet");
    let (c, stdout, err) = code(&[
        "ingest",
        p.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let f = &v["input"]["inputs"][0];
    assert_eq!(f["spans"], json!(4), "{f}");
    assert_eq!(f["rejected_count"], json!(2), "{f}");
    let reasons: Vec<String> = f["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}: {}", r["line"], r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        ["2: row without a start_ns", "3: row without a trace_id"]
    );
    assert_eq!(f["invalid_values"], json!([["duration_ms", 2]]), "{f}");
    // the latency statistics see 100 and 600 only (p50 = 350)
    let (c, stdout, err) = code(&[
        "slo",
        p.to_str().unwrap(),
        "--format",
        "json",
        "--stale-after",
        "off",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let row = &v["tables"]["cohorts"][0];
    assert_eq!(row["latency_n"], json!(2), "{row}");
    assert_eq!(row["latency_p50_ms"], json!(350.0), "{row}");
}

/// Review finding: per-cohort arms without `--by` built their values from
/// the cohort `all`, which no key column holds, so `latest:` matched nothing.
#[test]
fn issue18_latest_without_by_compares_the_newest_version() {
    let dir = tempfile::tempdir().unwrap();
    let p = versions_export(dir.path(), "/refunds", "refunds@v3", "refunds@v4");
    let (c, out, err) = code(&[
        "compare",
        p.to_str().unwrap(),
        "--candidate",
        "latest:prompt_version",
        "--fail-on",
        "regression",
        "--format",
        "json",
        "--stale-after",
        "off",
    ]);
    assert_eq!(c, Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["tables"]["arms"][0]["candidate"],
        json!("refunds@v4"),
        "{v}"
    );
}

/// Review finding: a NaN or infinite evaluation score in canonical Parquet
/// passed every threshold (engines order NaN above every number); such a
/// score is an invalid value, null, and the evaluation is not judged.
#[test]
fn issue18_non_finite_evaluation_scores_are_invalid() {
    use spanlens::span::build::{evals_frame, spans_frame};
    use spanlens::span::row::EvalRow;
    let evals: Vec<EvalRow> = [0.9, f64::NAN, f64::INFINITY]
        .iter()
        .enumerate()
        .map(|(i, s)| EvalRow {
            trace_id: format!("{:032x}", i + 1).into(),
            span_id: Some(format!("{:016x}", i + 1).into()),
            name: "relevance".into(),
            score: Some(*s),
            label: None,
            source: "test".into(),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.parquet");
    write_parquet(&p, &mut spans_frame(&[llm_rows(3)]).unwrap());
    write_parquet(
        &dir.path().join("c.evals.parquet"),
        &mut evals_frame(&evals).unwrap(),
    );
    let (c, out, err) = code(&[
        "slo",
        p.to_str().unwrap(),
        "--format",
        "json",
        "--stale-after",
        "off",
    ]);
    assert_eq!(c, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let e = &v["tables"]["evals"][0];
    // one judged evaluation (0.9, a pass); the NaN and the inf are not judged
    assert_eq!(
        (e["judged"].clone(), e["passed"].clone()),
        (json!(1), json!(1)),
        "{e}"
    );
}

/// A comparison of which nothing could be judged (every metric has too few
/// spans or traces in an arm) never passes a gate on its verdict: the
/// `unjudged` finding trips `--fail-on regression` (and `inconclusive`).
/// One thin metric beside judged ones does not (see drift_compare).
#[test]
fn a_comparison_nothing_of_which_could_be_judged_fails_the_regression_gate() {
    let cost = crate::common::root().join("fixtures/tiny/cost.jsonl");
    let args = [
        "compare",
        cost.to_str().unwrap(),
        "--baseline",
        "route=/a",
        "--candidate",
        "route=/b",
        "--fail-on",
        "regression",
    ];
    let (c, _, err) = code(&args);
    assert_eq!(c, Some(1), "{err}");
    assert!(err.contains("unjudged: nothing could be judged"), "{err}");
    let mut json = args.to_vec();
    json.extend(["--format", "json"]);
    let (_, out, _) = code(&json);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["inconclusive", "unjudged", "stale"].contains(k)),
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "unjudged").count(), 1);
}
