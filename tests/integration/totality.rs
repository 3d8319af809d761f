//! Every report over any valid canonical table: zeros, nulls, negatives,
//! NaN and infinities in float columns, one row, one cohort, all values
//! equal, a cohort in one window only, span values that look like template
//! text. Canonical Parquet tables built from those edge values go through
//! the binary (slo, cost, drift, compare, anomalies, report) in every
//! output format; each run ends with a documented exit code (0, or 3 when
//! the window holds nothing to judge) and well-formed output, never an
//! engine error (exit 5) or a usage error blamed on the user.
//!
//! The cases are drawn by proptest from a fixed seed: the same tables on
//! every run (CI is deterministic), and a failure prints the table.

use std::path::Path;

use polars::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};
use spanlens::span::build::{evals_frame, spans_frame};
use spanlens::span::row::{EvalRow, SpanRow, SpanType, Status};

use crate::common::{run, stderr, write_parquet};

const DAY: i64 = 86_400_000_000_000;
/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600_000_000_000;

/// Values spans carry that once broke a template: SQL keywords, macro and
/// placeholder spellings, quotes, comment markers.
const TEXTS: &[&str] = &[
    "/chat",
    "{{keys}}",
    "x logbucket(1) y",
    "modelkey()",
    "it's",
    "-- not a comment",
    "user",
    "timebucket(",
    "{{spans}}",
    "a\\b",
];

/// Float values: zeros, tiny and huge, NaN, infinities, negatives.
const FLOATS: &[f64] = &[
    0.0,
    1.0,
    1e-300,
    1e12,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -5.0,
    250.0,
];

const TOKENS: &[i64] = &[0, 1, 2, 100, -3, 4_000_000_000];

#[derive(Clone, Debug)]
struct SpanSpec {
    trace: u8,
    day: u8,
    minute: u16,
    route: Option<u8>,
    model: Option<u8>,
    version: Option<u8>,
    tenant: Option<u8>,
    duration: Option<u8>,
    ttft: Option<u8>,
    cost: Option<u8>,
    tokens: (Option<u8>, Option<u8>),
    error: bool,
    refusal: bool,
    tool: bool,
    eval: Option<(u8, Option<bool>)>,
}

fn span_spec() -> impl Strategy<Value = SpanSpec> {
    let idx = |n: usize| prop::option::weighted(0.8, 0..n as u8);
    (
        (0u8..6, 0u8..8, 0u16..1440),
        (idx(TEXTS.len()), idx(TEXTS.len()), idx(TEXTS.len()), idx(3)),
        (
            idx(FLOATS.len()),
            idx(FLOATS.len()),
            idx(FLOATS.len()),
            (idx(TOKENS.len()), idx(TOKENS.len())),
        ),
        (
            any::<bool>(),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.15),
        ),
        prop::option::of((0u8..FLOATS.len() as u8, prop::option::of(any::<bool>()))),
    )
        .prop_map(
            |(
                (trace, day, minute),
                (route, model, version, tenant),
                (duration, ttft, cost, tokens),
                (error, refusal, tool),
                eval,
            )| SpanSpec {
                trace,
                day,
                minute,
                route,
                model,
                version,
                tenant,
                duration,
                ttft,
                cost,
                tokens,
                error,
                refusal,
                tool,
                eval,
            },
        )
}

/// The spans (and their evaluations) of one case. `same_time` puts every
/// span at one instant (all values equal, one bucket).
fn rows(specs: &[SpanSpec], same_time: bool) -> (Vec<SpanRow>, Vec<EvalRow>) {
    let text = |i: Option<u8>| i.map(|i| TEXTS[i as usize].into());
    let float = |i: Option<u8>| i.map(|i| FLOATS[i as usize]);
    let mut spans = Vec::new();
    let mut evals = Vec::new();
    for (n, s) in specs.iter().enumerate() {
        let start = if same_time {
            T0 + 7 * DAY
        } else {
            T0 + i64::from(s.day) * DAY + i64::from(s.minute) * 60_000_000_000
        };
        let trace = format!("{:032x}", u32::from(s.trace) + 1);
        let span = format!("{:016x}", n + 1);
        spans.push(SpanRow {
            trace_id: trace.clone().into(),
            span_id: span.clone().into(),
            name: "chat".into(),
            span_type: Some(if s.tool {
                SpanType::Tool
            } else {
                SpanType::Llm
            }),
            start_ns: start,
            end_ns: Some(start + 1_000_000),
            duration_ms: float(s.duration),
            ttft_ms: float(s.ttft),
            reported_cost_usd: float(s.cost),
            status: Some(if s.error { Status::Error } else { Status::Ok }),
            error_type: s.error.then(|| "429".into()),
            provider: Some("openai".into()),
            request_model: text(s.model),
            response_model: text(s.model),
            input_tokens: s.tokens.0.map(|i| TOKENS[i as usize]),
            output_tokens: s.tokens.1.map(|i| TOKENS[i as usize]),
            finish_reason: Some(if s.refusal { "content_filter" } else { "stop" }.into()),
            route: text(s.route),
            tenant: s.tenant.map(|t| format!("t{t}").into()),
            user: text(s.route),
            prompt_version: s
                .version
                .map(|v| format!("v{}{}", v % 3, TEXTS[v as usize]).into()),
            ..SpanRow::default()
        });
        if let Some((score, label)) = s.eval {
            evals.push(EvalRow {
                trace_id: trace.into(),
                span_id: Some(span.into()),
                name: "relevance".into(),
                score: Some(FLOATS[score as usize]),
                label: label.map(|p| if p { "pass" } else { "fail" }.into()),
                source: "test".into(),
            });
        }
    }
    (spans, evals)
}

/// Write the case as canonical Parquet (spans and the evals beside them).
fn write_case(dir: &Path, specs: &[SpanSpec], same_time: bool) -> String {
    let (spans, evals) = rows(specs, same_time);
    let p = dir.join("spans.parquet");
    write_parquet(&p, &mut spans_frame(&[spans]).unwrap());
    write_parquet(
        &dir.join("spans.evals.parquet"),
        &mut evals_frame(&evals).unwrap(),
    );
    p.display().to_string()
}

const FORMATS: &[&str] = &["table", "markdown", "json", "csv", "parquet"];

/// Run one command; assert a documented exit code and well-formed output.
fn check(dir: &Path, args: &[&str], format: &str, report: bool) {
    let out = dir.join(format!("out-{format}"));
    let out_s = out.display().to_string();
    let mut argv: Vec<&str> = args.to_vec();
    argv.extend(["--stale-after", "off", "-q"]);
    let format = if report && !matches!(format, "markdown" | "json") {
        "markdown"
    } else {
        format
    };
    argv.extend(["--format", format]);
    if format == "parquet" || report {
        argv.extend(["-o", &out_s]);
    }
    let o = run(&argv);
    let err = stderr(&o);
    let code = o.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "{argv:?}: exit {code:?}\n{err}"
    );
    if code == Some(3) {
        // only "nothing to judge" may stop a run over valid data: no span
        // in the window, or a comparison with an empty arm
        assert!(
            err.starts_with("spanlens: error: ")
                && (err.contains("no span") || err.contains("no cohort has a newer value")),
            "{argv:?}: {err}"
        );
        return;
    }
    assert!(!err.contains("error"), "{argv:?}: {err}");
    let text = if format == "parquet" || report {
        std::fs::read(&out).unwrap()
    } else {
        o.stdout.clone()
    };
    match format {
        "json" => {
            serde_json::from_slice::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{argv:?}: not JSON: {e}"));
        }
        "csv" => {
            let mut r = csv::Reader::from_reader(text.as_slice());
            let width = r.headers().unwrap().len();
            for rec in r.records() {
                assert_eq!(rec.unwrap().len(), width, "{argv:?}: ragged CSV");
            }
        }
        "parquet" => {
            ParquetReader::new(std::io::Cursor::new(text))
                .finish()
                .unwrap_or_else(|e| panic!("{argv:?}: not Parquet: {e}"));
        }
        _ => assert!(!text.is_empty(), "{argv:?}: empty output"),
    }
}

fn run_case(specs: &[SpanSpec], same_time: bool, case: usize) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_case(dir.path(), specs, same_time);
    let fmt = FORMATS[case % FORMATS.len()];
    let by = ["route", "model,user", "prompt_version,tenant", "user"][case % 4];
    let pct = ["exact", "log-bucket"][case % 2];
    let common = ["--by", by, "--percentiles", pct];
    for cmd in ["slo", "cost", "drift", "compare", "anomalies"] {
        let mut a = vec![cmd, input.as_str()];
        a.extend(common);
        check(dir.path(), &a, fmt, false);
    }
    let mut a = vec![
        "compare",
        input.as_str(),
        "--candidate",
        "latest:prompt_version",
    ];
    a.extend(common);
    check(dir.path(), &a, fmt, false);
    let mut a = vec!["report", input.as_str()];
    a.extend(common);
    check(dir.path(), &a, fmt, true);
}

proptest! {
    #![proptest_config(PtConfig {
        cases: 20,
        rng_seed: RngSeed::Fixed(18),
        failure_persistence: None,
        ..PtConfig::default()
    })]

    #[test]
    fn every_report_is_total_over_edge_values(
        specs in prop::collection::vec(span_spec(), 1..40),
        same_time in prop::bool::weighted(0.2),
        case in 0usize..1000,
    ) {
        run_case(&specs, same_time, case);
    }
}

/// One row: every report still answers.
#[test]
fn one_span_is_enough() {
    let spec = SpanSpec {
        trace: 0,
        day: 7,
        minute: 0,
        route: Some(0),
        model: Some(0),
        version: Some(0),
        tenant: Some(0),
        duration: Some(0),
        ttft: Some(0),
        cost: Some(0),
        tokens: (Some(0), Some(0)),
        error: false,
        refusal: false,
        tool: false,
        eval: Some((0, None)),
    };
    for case in 0..FORMATS.len() {
        run_case(std::slice::from_ref(&spec), false, case);
    }
}

/// Every cohort key the help names works in `--by` and `--where` (`user`
/// is a SQL keyword: it failed as a function call).
#[test]
fn every_cohort_key_works_in_by_and_where() {
    let example = crate::common::root().join("fixtures/example/export.otlp.jsonl.gz");
    let ex = example.to_str().unwrap();
    let mut keys: Vec<String> = spanlens::engine::FIELDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    keys.extend(["attr:app.region".into(), "resource:service.name".into()]);
    for k in &keys {
        let o = run(&[
            "slo",
            ex,
            "--by",
            k,
            "--stale-after",
            "off",
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "--by {k}: {}", stderr(&o));
        let cond = format!("{k}!=no-such-value");
        let o = run(&["slo", ex, "--where", &cond, "--stale-after", "off", "-q"]);
        assert_eq!(o.status.code(), Some(0), "--where {cond}: {}", stderr(&o));
        let cond = format!("{k}=no-such-value");
        let o = run(&["slo", ex, "--where", &cond, "--stale-after", "off", "-q"]);
        assert_eq!(o.status.code(), Some(3), "--where {cond}: {}", stderr(&o));
    }
}

/// Every report command over every genuine export in ../shared/real-exports:
/// the exit code each gives (3 only where the newest day holds no LLM span).
#[test]
fn every_report_command_reads_every_real_export() {
    let mut files: Vec<std::path::PathBuf> = crate::common::walk(&crate::common::shared())
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().contains("price-tables")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut seen = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for cmd in ["slo", "cost", "drift", "compare", "anomalies", "report"] {
            let o = run(&[cmd, f.to_str().unwrap(), "--stale-after", "off", "-q"]);
            let err = stderr(&o);
            let code = o.status.code();
            assert!(
                code == Some(0) || (code == Some(3) && err.contains("no span")),
                "{cmd} {name}: exit {code:?}: {err}"
            );
            if code == Some(0) {
                assert!(err.is_empty(), "{cmd} {name}: {err}");
            }
            seen.push(format!("{name} {cmd} {}", code.unwrap_or(-1)));
        }
    }
    let mut expected = Vec::new();
    for name in EXPECTED_REAL {
        for cmd in ["slo", "cost", "drift", "compare", "anomalies", "report"] {
            expected.push(format!("{name} {cmd} {}", expected_real(name, cmd)));
        }
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
}

/// Worked out by reading each file. The seven Langfuse downloads hold one
/// trace with LLM spans: every report answers (exit 0) but `compare`,
/// whose default baseline (the 7 days before the newest day) is empty, so
/// it cannot judge (exit 3). The attribute maps hold no span (attributes,
/// not spans) and the OTLP example one span that is no LLM call: exit 3.
const EXPECTED_REAL: &[&str] = &[
    "csharp-meai-gemini-2026-03-09.trace.json",
    "google-adk-openinference-2025-08-28.json",
    "llamaindex-openinference-2025-06-05.json",
    "microsoft-agent-framework-2025-10-14.json",
    "openai-agents-openinference-2025-09-30.json",
    "pydantic-ai-tools-2025-12-04.json",
    "vercel-aisdk-2025-11-17.trace.json",
    "openinference_client_span_tool_calls.json",
    "otel_genai_client_span_tool_calls.json",
    "otel_genai_deprecated_client_span_tool_calls.json",
    "otel_genai_tool_execution_span.json",
    "opentelemetry-proto-example-trace.json",
];

/// The exit code expected of `cmd` over the real export `name`.
fn expected_real(name: &str, cmd: &str) -> i32 {
    let langfuse = EXPECTED_REAL[..7].contains(&name);
    i32::from(!langfuse || cmd == "compare") * 3
}
