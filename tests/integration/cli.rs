//! The real CLI: exit codes, error lines, atomic outputs, compression,
//! stdin, partitioning, and the bad inputs of docs/reliability.md.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use polars::prelude::*;
use serde_json::{json, Value};

use crate::common::*;

fn tiny(name: &str) -> String {
    root()
        .join("fixtures/tiny")
        .join(name)
        .display()
        .to_string()
}

/// The line numbers of a JSON summary's `rejected` list.
fn rejected_lines(rejected: &Value) -> Vec<u64> {
    rejected
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

fn assert_error(o: &std::process::Output, code: i32, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {e}");
    assert!(e.starts_with("spanlens: error: "), "{e}");
    assert!(e.contains(needle), "want {needle:?} in {e}");
    assert!(e.contains("\nhint: "), "a hint line: {e}");
    assert!(!e.contains("panicked") && !e.contains("Os {"), "{e}");
}

#[test]
fn ingest_writes_spans_and_evals_and_reads_back_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spans.parquet");
    let o = run(&[
        "ingest",
        &tiny("otlp_genai.jsonl"),
        &tiny("flat_mixed.jsonl"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("read 2 file(s): 10 spans in 4 traces, 2 evals"),
        "{e}"
    );
    assert!(e.contains("rejected: 6 record(s)"), "{e}");
    assert!(e.contains("otlp_genai.jsonl:5: invalid JSON"), "{e}");
    assert!(dir.path().join("spans.evals.parquet").is_file());
    // read back (the evals sibling comes along) and compare with a direct read
    let direct = load_paths(&[
        &root().join("fixtures/tiny/otlp_genai.jsonl"),
        &root().join("fixtures/tiny/flat_mixed.jsonl"),
    ]);
    let back = load_paths(&[&out]);
    assert_eq!(back.files[0].format, "parquet (canonical spans)");
    assert!(back.spans.equals_missing(&direct.spans), "spans round trip");
    assert!(back.evals.equals_missing(&direct.evals), "evals round trip");
    assert_eq!(back.rejected(), 0);
}

#[test]
fn json_summary_lists_every_rejected_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    let o = run(&[
        "ingest",
        &tiny("otlp_genai.jsonl"),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rej = v["input"]["rejected"].as_array().unwrap();
    assert_eq!(rejected_lines(&v["input"]["rejected"]), vec![2, 4, 5, 7]);
    assert!(rej[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("otlp_genai.jsonl"));
    assert_eq!(v["output"][0]["rows"], 6);
    assert_eq!(v["input"]["spans"], 6);
}

#[test]
fn strict_and_max_bad_give_exit_3_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    let o = run(&[
        "ingest",
        &tiny("otlp_genai.jsonl"),
        "-o",
        out.to_str().unwrap(),
        "--strict",
    ]);
    assert_error(&o, 3, "4 malformed record(s)");
    assert!(stderr(&o).contains("otlp_genai.jsonl:2: span #3"));
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp files left"
    );
    let o = run(&[
        "ingest",
        &tiny("otlp_genai.jsonl"),
        "-o",
        out.to_str().unwrap(),
        "--max-bad",
        "3",
    ]);
    assert_error(&o, 3, "more than --max-bad 3");
    let o = run(&[
        "ingest",
        &tiny("otlp_genai.jsonl"),
        "-o",
        out.to_str().unwrap(),
        "--max-bad",
        "4",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "", "--quiet prints nothing");
}

#[test]
fn usage_input_and_output_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    assert_error(&run(&["inspect", "/no/such/file.jsonl"]), 3, "no such file");
    assert_error(&run(&["inspect", "/no/such/*.jsonl"]), 3, "no file matches");
    assert_eq!(run(&["inspect", "--bogus", "x"]).status.code(), Some(2));
    let input = tiny("flat_mixed.jsonl");
    assert_error(
        &run(&["ingest", &input, "-o", &input]),
        2,
        "is a file this run reads",
    );
    assert_error(
        &run(&["ingest", &input, "-o", "/no/such/dir/s.parquet"]),
        4,
        "/no/such/dir/s.parquet",
    );
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[fields]\ncolour = [\"x\"]\n").unwrap();
    assert_error(
        &run(&["inspect", &input, "--config", cfg.to_str().unwrap()]),
        2,
        "unknown field `colour`",
    );
    std::fs::write(&cfg, "[nope]\n").unwrap();
    assert_error(
        &run(&["inspect", &input, "--config", cfg.to_str().unwrap()]),
        2,
        "bad.toml:1:",
    );
    assert!(!out.exists());
}

#[test]
fn stdin_gzip_zstd_and_collector_framing() {
    let raw = std::fs::read(root().join("fixtures/tiny/otlp_genai.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // gzip, written as two concatenated members (logrotate appends)
    let gz = dir.path().join("a.otlp.jsonl.gz");
    {
        let mut f = std::fs::File::create(&gz).unwrap();
        let half = raw.iter().position(|b| *b == b'\n').unwrap() + 1;
        for part in [&raw[..half], &raw[half..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(part).unwrap();
            f.write_all(&e.finish().unwrap()).unwrap();
        }
    }
    let zst = dir.path().join("b.zst");
    std::fs::write(&zst, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    // the collector's legacy framing: [u32 BE length][zstd frame] per message
    let framed = dir.path().join("c.json.zst");
    {
        let mut out = Vec::new();
        for line in raw.split(|b| *b == b'\n').take(3) {
            let frame = zstd::encode_all(line, 1).unwrap();
            out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            out.extend_from_slice(&frame);
        }
        std::fs::write(&framed, out).unwrap();
    }
    for (p, comp, spans) in [
        (&gz, "gzip", 6),
        (&zst, "zstd", 6),
        (&framed, "zstd (collector length-prefixed)", 6),
    ] {
        let o = run(&["inspect", p.to_str().unwrap(), "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["inputs"][0]["compression"], comp);
        assert_eq!(v["spans"], spans, "{comp}");
    }
    // stdin
    let mut child = bin()
        .args(["inspect", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(root().join("fixtures/tiny/flat_mixed.jsonl")).unwrap())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["spans"].as_u64(), v["inputs"][0]["path"].as_str()),
        (Some(4), Some("<stdin>"))
    );
}

#[test]
fn corrupt_truncated_and_bomb_compression_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(root().join("fixtures/tiny/otlp_genai.jsonl")).unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&raw).unwrap();
    let gz = e.finish().unwrap();
    let trunc = dir.path().join("t.jsonl.gz");
    std::fs::write(&trunc, &gz[..gz.len() / 2]).unwrap();
    assert_error(
        &run(&["inspect", trunc.to_str().unwrap()]),
        3,
        "t.jsonl.gz: cannot read",
    );
    let mut bad = gz.clone();
    for b in bad.iter_mut().skip(20).take(40) {
        *b ^= 0x5a;
    }
    let corrupt = dir.path().join("c.jsonl.gz");
    std::fs::write(&corrupt, &bad).unwrap();
    assert_error(
        &run(&["inspect", corrupt.to_str().unwrap()]),
        3,
        "c.jsonl.gz: cannot read",
    );
    // 256 MiB of newlines compress to a few KiB: the ratio guard stops it
    let bomb = dir.path().join("bomb.jsonl.zst");
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    let chunk = vec![b'\n'; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&chunk).unwrap();
    }
    std::fs::write(&bomb, enc.finish().unwrap()).unwrap();
    assert_error(
        &run(&["inspect", bomb.to_str().unwrap()]),
        3,
        "decompression bomb",
    );
}

#[test]
fn hostile_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hostile.jsonl");
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let good = json!({"trace_id": "dddddddddddddddddddddddddddddddd", "span_id": "d000000000000001", "name": "ok", "start_time": "2026-01-01T00:00:00Z",
        "attributes": {"gen_ai.request.model": format!("m{}", "x".repeat(10_000)), "app.note": "|`<script>\u{1b}[31m=HYPERLINK(1)\n"}});
    let body = format!(
        "{good}\n{deep}\n[1,2]\n{{\"trace_id\": 5}}\n\n   \n{}\n",
        "{\"a\":".repeat(200)
    );
    std::fs::write(&p, body).unwrap();
    let o = run(&["inspect", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spans"], 1);
    let lines = rejected_lines(&v["rejected"]);
    assert_eq!(lines, vec![2, 3, 4, 7]);
    // terminal output: control characters neutralised
    let o = run(&["inspect", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text.contains('\u{1b}'),
        "no escape sequences reach the terminal"
    );
}

#[test]
fn empty_blank_and_unrelated_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    std::fs::write(dir.path().join("blank.jsonl"), "\n\n  \n").unwrap();
    std::fs::write(dir.path().join("README.md"), "# not an export").unwrap();
    std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
    let o = run(&["inspect", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v["spans"].as_u64(),
            v["rejected_count"].as_u64(),
            v["files"].as_u64()
        ),
        (Some(0), Some(0), Some(2))
    );
    let skipped: Vec<String> = v["skipped_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap().to_string())
        .collect();
    assert!(
        skipped.iter().any(|s| s.ends_with("README.md"))
            && skipped.iter().any(|s| s.ends_with("_SUCCESS"))
    );
}

#[test]
fn duplicate_spans_across_files_are_kept_once_and_counted() {
    let a = root().join("fixtures/tiny/otlp_genai.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("copy.jsonl");
    std::fs::copy(&a, &b).unwrap();
    let ds = load_paths(&[&a, &b]);
    assert_eq!(ds.spans.height(), 6);
    assert_eq!((ds.files[0].duplicates, ds.files[1].duplicates), (0, 6));
}

#[test]
fn duplicate_spans_in_parquet_inputs_are_kept_once_and_counted() {
    let a = root().join("fixtures/tiny/otlp_genai.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spans.parquet");
    let o = run(&[
        "ingest",
        a.to_str().unwrap(),
        "-o",
        p.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let q = dir.path().join("copy.parquet");
    std::fs::copy(&p, &q).unwrap();
    // the JSONL, then the same spans as Parquet twice: kept once
    let ds = load_paths(&[&a, &p, &q]);
    assert_eq!(ds.spans.height(), 6);
    let dups: Vec<u64> = ds.files.iter().map(|f| f.duplicates).collect();
    assert_eq!(&dups[..3], &[0, 6, 6]);
    // Parquet alone: every span new, nothing dropped
    let ds = load_paths(&[&p]);
    assert_eq!((ds.spans.height(), ds.files[0].duplicates), (6, 0));
}

#[test]
fn partition_by_day_writes_a_replaceable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    for _ in 0..2 {
        let o = run(&[
            "ingest",
            &tiny("otlp_genai.jsonl"),
            &tiny("flat_mixed.jsonl"),
            "-o",
            out.to_str().unwrap(),
            "--partition",
            "day",
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let mut days: Vec<String> = std::fs::read_dir(out.join("spans"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    days.sort();
    assert_eq!(days, vec!["day=2026-01-01", "day=2026-01-02"]);
    assert!(out.join("evals/part-0.parquet").is_file() && out.join("_spanlens.json").is_file());
    let ds = load_paths(&[&out]);
    assert_eq!((ds.spans.height(), ds.evals.height()), (10, 2));
    // a directory spanlens did not write is never replaced
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let o = run(&[
        "ingest",
        &tiny("flat_mixed.jsonl"),
        "-o",
        foreign.to_str().unwrap(),
        "--partition",
        "day",
    ]);
    assert_error(&o, 4, "was not written by spanlens");
    assert!(foreign.join("keep.txt").is_file());
}

#[test]
fn existing_output_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    std::fs::write(&out, "old contents").unwrap();
    let o = run(&[
        "ingest",
        &tiny("flat_mixed.jsonl"),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read(&out).unwrap().starts_with(b"PAR1"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temp files: {names:?}");
}

#[test]
fn closed_stdout_exits_zero_without_a_panic() {
    let mut child = bin()
        .args([
            "inspect",
            &root()
                .join("../shared/real-exports/langfuse-ui-trace-json")
                .display()
                .to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn parquet_inputs_phoenix_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    // Phoenix spans dataframe layout: dotted attribute columns, float counts with NaN
    let t0 = 1_767_225_600_000_000i64; // µs
    let mut df = df!(
        "context.trace_id" => ["eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"],
        "context.span_id" => ["e000000000000001", "e000000000000002"],
        "parent_id" => [None, Some("e000000000000001")],
        "name" => ["chain", "llm"],
        "span_kind" => ["CHAIN", "LLM"],
        "start_time" => [t0, t0 + 1_000],
        "end_time" => [t0 + 5_000, t0 + 4_000],
        "status_code" => ["OK", "ERROR"],
        "attributes.llm.token_count.prompt" => [f64::NAN, 97.0],
        "attributes.llm.model_name" => [None, Some("gpt-4o")],
        "attributes.session.id" => [Some("sess"), None],
        "eval.correctness.label" => [None, Some("correct")],
        "eval.correctness.score" => [None, Some(1.0)]
    )
    .unwrap();
    for c in ["start_time", "end_time"] {
        let s = df
            .column(c)
            .unwrap()
            .cast(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ))
            .unwrap();
        df.with_column(s).unwrap();
    }
    let phoenix = dir.path().join("trace_dataset.parquet");
    ParquetWriter::new(std::fs::File::create(&phoenix).unwrap())
        .finish(&mut df)
        .unwrap();
    let ds = load_paths(&[&phoenix]);
    assert_eq!(ds.files[0].format, "parquet (phoenix spans dataframe)");
    assert_fields("e2", &find_span(&ds.spans, "e000000000000002"), &json!({
        "span_type": "llm", "input_tokens": 97, "response_model": "gpt-4o", "status": "error", "duration_ms": 3.0,
        "session": "sess", "start_ns": 1_767_225_600_001_000_000i64
    }).as_object().unwrap().clone());
    assert_fields(
        "e1",
        &find_span(&ds.spans, "e000000000000001"),
        &json!({"input_tokens": null, "span_type": "chain"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert_eq!(
        evals_rows(&ds.evals),
        vec![json!([
            "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            "e000000000000002",
            "correctness",
            1.0,
            "correct",
            "phoenix.column"
        ])]
    );

    // corrupt footer
    let bad = dir.path().join("bad.parquet");
    let mut bytes = std::fs::read(&phoenix).unwrap();
    let n = bytes.len();
    bytes[n - 12..n - 4].fill(0xff);
    std::fs::write(&bad, &bytes).unwrap();
    assert_error(
        &run(&["inspect", bad.to_str().unwrap()]),
        3,
        "not a readable Parquet file",
    );
    // a spanlens table missing a column names it
    let out = dir.path().join("s.parquet");
    assert_eq!(
        run(&[
            "ingest",
            &tiny("flat_mixed.jsonl"),
            "-o",
            out.to_str().unwrap(),
            "-q"
        ])
        .status
        .code(),
        Some(0)
    );
    let full = ParquetReader::new(std::fs::File::open(&out).unwrap())
        .finish()
        .unwrap();
    let mut t = full.drop("ttft_ms").unwrap();
    let cut = dir.path().join("cut.parquet");
    ParquetWriter::new(std::fs::File::create(&cut).unwrap())
        .finish(&mut t)
        .unwrap();
    assert_error(
        &run(&["inspect", cut.to_str().unwrap()]),
        3,
        "without the column(s) ttft_ms",
    );
    // unrelated Parquet
    let mut other = df!("a" => [1i64, 2]).unwrap();
    let unrelated = dir.path().join("other.parquet");
    ParquetWriter::new(std::fs::File::create(&unrelated).unwrap())
        .finish(&mut other)
        .unwrap();
    assert_error(
        &run(&["inspect", unrelated.to_str().unwrap()]),
        3,
        "neither the spanlens columns nor a trace id",
    );
    // zero rows: a valid, empty table
    let mut empty = full.head(Some(0));
    let zero = dir.path().join("zero.parquet");
    ParquetWriter::new(std::fs::File::create(&zero).unwrap())
        .finish(&mut empty)
        .unwrap();
    let ds = load_paths(&[&zero]);
    assert_eq!((ds.spans.height(), ds.rejected()), (0, 0));
}

#[test]
fn a_line_longer_than_a_read_block_is_read_whole() {
    // 40 MiB in one line: bigger than the 16 MiB read block, so the reader
    // must grow its buffer; the lines on either side keep their numbers.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.jsonl");
    let span = |id: &str, note: &str| {
        json!({"trace_id": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "span_id": id, "name": "s",
            "start_time": "2026-01-01T00:00:00Z", "attributes": {"app.note": note}})
    };
    let big = "y".repeat(40 << 20);
    let body = format!(
        "{}\n{}\n{{bad\n{}\n",
        span("e000000000000001", "a"),
        span("e000000000000002", &big),
        span("e000000000000003", "c")
    );
    std::fs::write(&p, body).unwrap();
    let o = run(&["inspect", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spans"], 3);
    let lines = rejected_lines(&v["rejected"]);
    assert_eq!(lines, vec![3], "the bad line keeps its number");
}

/// `ingest --partition day --format json` into `lake`: the run's JSON.
fn ingest_lake(inputs: &[&str], lake: &Path, extra: &[&str]) -> serde_json::Value {
    let mut a = vec!["ingest"];
    a.extend(inputs);
    a.extend([
        "-o",
        lake.to_str().unwrap(),
        "--partition",
        "day",
        "--format",
        "json",
    ]);
    a.extend(extra);
    let o = run(&a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn lake_days(lake: &Path) -> Vec<String> {
    let mut days: Vec<String> = std::fs::read_dir(lake.join("spans"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    days.sort();
    days
}

/// Regression (issue 19): ingesting into an existing lake replaced the
/// whole directory, deleting every day the new input did not hold: the
/// nightly lake lost its history on night two.
#[test]
fn issue19_a_lake_is_never_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let example = example.to_str().unwrap();
    // night one: 8 days; night two: a day already in the lake (2026-01-02)
    let v = ingest_lake(&[example], &lake, &[]);
    assert!(v.get("lake").is_none(), "a new lake is written whole: {v}");
    let days = lake_days(&lake);
    assert_eq!(days.len(), 8, "{days:?}");
    let v = ingest_lake(&[&tiny("cost.jsonl")], &lake, &[]);
    assert_eq!(v["lake"]["written"], serde_json::json!([]), "{v}");
    assert_eq!(
        v["lake"]["replaced"],
        serde_json::json!(["2026-01-02"]),
        "{v}"
    );
    assert_eq!(v["lake"]["kept"].as_array().unwrap().len(), 7, "{v}");
    assert_eq!(lake_days(&lake), days);
    let ds = load_paths(&[&lake]);
    // the example's 6,003 spans and cost.jsonl's 7 lines (none shared)
    assert_eq!(ds.spans.height(), 6003 + 7);
    // the same export again changes nothing
    let v = ingest_lake(&[example], &lake, &[]);
    assert_eq!(v["lake"]["duplicates"], serde_json::json!(6003), "{v}");
    let again = load_paths(&[&lake]);
    assert_eq!(
        (again.spans.height(), again.evals.height()),
        (ds.spans.height(), ds.evals.height())
    );
    // --mode overwrite on request: only the new input's days
    ingest_lake(&[&tiny("cost.jsonl")], &lake, &["--mode", "overwrite"]);
    assert_eq!(lake_days(&lake), ["day=2026-01-02"]);
}

/// A kill between the two renames of an overwrite left no lake at the
/// path; a killed run's staging directory stayed forever. The next run
/// puts the old lake back, and removes the staging directory.
#[test]
fn issue19_a_killed_lake_write_is_recovered_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    ingest_lake(&[&tiny("otlp_genai.jsonl")], &lake, &[]);
    // as a kill after `lake -> .lake.spanlens-old` leaves it
    std::fs::rename(&lake, dir.path().join(".lake.spanlens-old")).unwrap();
    let staging = dir.path().join(".spanlens-partition-killed");
    std::fs::create_dir_all(staging.join("spans")).unwrap();
    std::fs::write(staging.join(".owner.lock"), "").unwrap();
    // a sweep leaves entries younger than its grace (not locked yet, maybe)
    std::thread::sleep(spanlens::output::SWEEP_GRACE + std::time::Duration::from_millis(200));
    let v = ingest_lake(&[&tiny("cost.jsonl")], &lake, &[]);
    assert_eq!(
        v["lake"]["written"],
        serde_json::json!(["2026-01-02"]),
        "{v}"
    );
    assert_eq!(lake_days(&lake), ["day=2026-01-01", "day=2026-01-02"]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["lake"]);
}

/// The commands that take the shared report options.
use spanlens::cli::ANALYSIS_COMMANDS;

/// The help lists what the code accepts, from the code's own lists: every
/// finding kind `--fail-on` gates on (with what raises it), every `--by`
/// field, every span type (`--span-type`, alias `--kind`), on every
/// analysis command.
#[test]
fn help_lists_the_values_the_code_accepts() {
    use spanlens::report::model::FindingKind;
    use spanlens::span::row::SpanType;
    for cmd in ANALYSIS_COMMANDS {
        let o = run(&[cmd, "--help"]);
        let help = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        for k in FindingKind::ALL {
            assert!(help.contains(&format!("- {}:", k.as_str())), "{cmd}: {k}");
        }
        for f in spanlens::engine::FIELDS {
            assert!(help.contains(f), "{cmd}: --by {f}");
        }
        for t in SpanType::ALL {
            assert!(help.contains(&format!("- {}", t.as_str())), "{cmd}: {t:?}");
        }
        assert!(help.contains("[alias: --kind]"), "{cmd}");
    }
    // the alias and the new name filter alike
    let a = run(&[
        "slo",
        &tiny("cost.jsonl"),
        "--span-type",
        "all",
        "--format",
        "json",
        "--current",
        "2026-01-02..2026-01-03",
    ]);
    let b = run(&[
        "slo",
        &tiny("cost.jsonl"),
        "--kind",
        "all",
        "--format",
        "json",
        "--current",
        "2026-01-02..2026-01-03",
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn shared_options_errors_and_cardinality_guard() {
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
        (vec!["slo", COST, "--current", "3 fortnights"], "--current"),
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

/// Issue 24: windows as people write them. A date is that whole day; a
/// compound, fractional or ISO 8601 length; an open range; `now` in a
/// range; a zone-less time (UTC, as ingest reads it). Each gives the same
/// report as the range it stands for.
#[test]
fn windows_as_people_write_them() {
    let cost = p(COST);
    let report = |current: &str, until: Option<&str>| -> Value {
        let mut args = vec![
            "slo",
            cost.as_str(),
            "--current",
            current,
            "--format",
            "json",
            "-q",
        ];
        if let Some(u) = until {
            args.extend(["--until", u]);
        }
        let mut v = json_of(&args);
        v["meta"]["window"].take()
    };
    let day = report("2026-01-02..2026-01-03", None);
    assert_eq!(report("2026-01-02", None), day);
    assert_eq!(report("2026-01-02T00:00:00..2026-01-03 00:00", None), day);
    assert_eq!(report("P1D", Some("2026-01-03")), day);
    assert_eq!(report("1d", Some("2026-01-03")), day);
    assert_eq!(
        report("0.5d", Some("2026-01-02T12:00")),
        report("2026-01-02..2026-01-02T12:00:00Z", None)
    );
    assert_eq!(
        report("12h", Some("2026-01-02T12:00")),
        report("11h 60m", Some("2026-01-02T12:00"))
    );
    // `A..` runs to the data's end (the newest span, 10:06 on the 2nd)
    let open = report("2026-01-02..", None);
    assert!(
        open.as_str()
            .unwrap()
            .starts_with("2026-01-02T00:00:00.000Z .. 2026-01-02T10:06"),
        "{open}"
    );
    // a range ending now holds the whole fixture
    let now = report("2026-01-01..now", None);
    assert!(
        now.as_str()
            .unwrap()
            .starts_with("2026-01-01T00:00:00.000Z .. "),
        "{now}"
    );
    // what is not a window is a usage error naming the flag, with examples
    let o = run(&["slo", &cost, "--current", "next tuesday"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("--current") && e.contains("2026-01-07..now"),
        "{e}"
    );
}

/// Issue 24: `-o -` is standard output (before, a file named `-`, and the
/// report made a directory `--charts/`).
#[test]
fn dash_output_is_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let cost = p(COST);
    let config = p(CONFIG);
    let example = p(EXAMPLE);
    for args in [
        vec![
            "cost",
            cost.as_str(),
            "--current",
            DAY,
            "--format",
            "json",
            "-o",
            "-",
        ],
        vec![
            "--config",
            config.as_str(),
            "report",
            example.as_str(),
            "--current",
            "1d",
            "-o",
            "-",
        ],
    ] {
        let o = bin().current_dir(dir.path()).args(&args).output().unwrap();
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{}",
            stderr(&o)
        );
        assert!(!o.stdout.is_empty(), "{args:?}: nothing on stdout");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} wrote {left:?}");
    }
}

/// Issue 24: a misspelt value is answered with the value meant, as clap
/// answers a misspelt flag.
#[test]
fn misspelt_values_get_a_did_you_mean() {
    let cost = p(COST);
    for (args, want) in [
        (
            vec!["slo", cost.as_str(), "--by", "rout"],
            "did you mean `route`?",
        ),
        (
            vec!["drift", cost.as_str(), "--field", "output_token"],
            "did you mean `output_tokens`?",
        ),
        (
            vec!["compare", cost.as_str(), "--metrics", "latency_p90"],
            "did you mean `latency_p95`?",
        ),
        (
            vec!["slo", cost.as_str(), "--fail-on", "regresion"],
            "did you mean `regression`?",
        ),
        (
            vec!["slo", cost.as_str(), "--span-type", "lmm"],
            "did you mean `llm`?",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // nothing close: no guess
    let o = run(&["slo", &cost, "--by", "zzzz"]);
    assert!(!stderr(&o).contains("did you mean"), "{}", stderr(&o));
}

/// Issue 24: the configuration is found as cargo and ruff find theirs:
/// `--config`, else `$SPANLENS_CONFIG`, else the first spanlens.toml in the
/// working directory or above it. A file not named on the command line is
/// named in the report's meta, and its relative paths are read from its
/// own directory.
#[test]
fn configuration_is_found_upward_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    let deep = proj.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    // the fixture's unpriced model, priced by a table beside the file
    std::fs::write(proj.join("p.csv"), "model,input,output\nacme-llm-7b,1,2\n").unwrap();
    std::fs::write(proj.join("spanlens.toml"), "[cost]\nprices = [\"p.csv\"]\n").unwrap();
    let cost = p(COST);
    let args = ["cost", cost.as_str(), "--current", DAY, "--format", "json"];
    let run_in = |cwd: &Path, env: Option<&Path>| -> Value {
        let mut c = bin();
        c.current_dir(cwd).env_remove("SPANLENS_CONFIG");
        if let Some(e) = env {
            c.env("SPANLENS_CONFIG", e);
        }
        let o = c.args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = run_in(&deep, None);
    let how = v["meta"]["config"].as_str().unwrap_or_default().to_string();
    assert!(
        how.contains("proj/spanlens.toml") && how.contains("working directory"),
        "{how}"
    );
    assert_eq!(
        v["tables"]["unpriced"].as_array().unwrap().len(),
        0,
        "p.csv read from proj/"
    );
    // SPANLENS_CONFIG from elsewhere
    let v = run_in(dir.path(), Some(&proj.join("spanlens.toml")));
    assert!(v["meta"]["config"]
        .as_str()
        .unwrap()
        .contains("SPANLENS_CONFIG"));
    // no file anywhere above: the defaults, and no config line
    let v = run_in(dir.path(), None);
    assert!(v["meta"].get("config").is_none(), "{}", v["meta"]);
    assert_eq!(v["tables"]["unpriced"].as_array().unwrap().len(), 1);
}

/// Issue 24: `--format jsonl`, one row a line for jq: every row of every
/// table with its table's name (and its section's, for the report); with
/// `--table`, that table's rows only; each line equal to its row in
/// `--format json`.
#[test]
fn jsonl_is_one_row_a_line() {
    let cost = p(COST);
    let base = [
        "cost",
        cost.as_str(),
        "--current",
        DAY,
        "--by",
        "route",
        "-q",
    ];
    let mut json = base.to_vec();
    json.extend(["--format", "json"]);
    let v = json_of(&json);
    let mut args = base.to_vec();
    args.extend(["--format", "jsonl"]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total: usize = v["tables"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t.as_array().unwrap().len())
        .sum();
    assert_eq!(lines.len(), total);
    for mut l in lines {
        let table = l["table"].as_str().unwrap().to_string();
        l.as_object_mut().unwrap().remove("table");
        assert!(
            v["tables"][&table].as_array().unwrap().contains(&l),
            "{table}: {l}"
        );
    }
    args.extend(["--table", "cost"]);
    let o = run(&args);
    let n = String::from_utf8(o.stdout).unwrap().lines().count();
    assert_eq!(n, v["tables"]["cost"].as_array().unwrap().len());
    // the report: every section's rows, with the section
    let (config, example) = (p(CONFIG), p(EXAMPLE));
    let o = run(&[
        "--config", &config, "report", &example, "--format", "jsonl", "-q",
    ]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&o)
    );
    let first: Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["section"], "slo");
}

/// Issue 24: every command's help is grouped under the same headings and
/// ends with examples; `compare --baseline` says it takes conditions too.
#[test]
fn help_is_grouped_with_examples() {
    for cmd in ANALYSIS_COMMANDS {
        let help = String::from_utf8_lossy(&run(&[cmd, "--help"]).stdout).to_string();
        for heading in [
            "Inputs:", "Window:", "Cohorts:", "Output:", "Gate:", "Engine:", "Global:",
        ] {
            assert!(
                help.contains(&format!("\n{heading}\n")),
                "{cmd}: {heading}\n{help}"
            );
        }
    }
    for cmd in spanlens::cli::COMMANDS {
        let help = String::from_utf8_lossy(&run(&[cmd, "--help"]).stdout).to_string();
        assert!(help.contains("\nExamples:\n  spanlens "), "{cmd}");
        // every flag under a heading of its own: the generic one holds only --help
        let generic = help.split("\nOptions:\n").nth(1).unwrap_or("");
        for line in generic
            .lines()
            .take_while(|l| l.is_empty() || l.starts_with(' '))
        {
            let flag = line.trim_start();
            if flag.starts_with('-') {
                assert!(
                    flag.starts_with("-h, --help"),
                    "{cmd}: {flag} has no heading"
                );
            }
        }
    }
    let help = String::from_utf8_lossy(&run(&["compare", "--help"]).stdout).to_string();
    assert!(help.contains("previous:FIELD"), "{help}");
}

/// Issue 24: `--version` names the commit; the long form the price tables;
/// clap's own errors read like spanlens' (`spanlens: error: ...`, exit 2).
#[test]
fn version_and_usage_errors() {
    let short = String::from_utf8(run(&["-V"]).stdout).unwrap();
    assert!(
        short.starts_with(&format!("spanlens {} (", env!("CARGO_PKG_VERSION"))),
        "{short}"
    );
    // `git` and a 12-digit hash, or "unknown commit" outside a checkout
    let commit = regex::Regex::new(r"\((git [0-9a-f]{12}|unknown commit)\)\n$").unwrap();
    assert!(commit.is_match(&short), "{short}");
    let long = String::from_utf8(run(&["--version"]).stdout).unwrap();
    assert!(long.contains(spanlens::pricing::SNAPSHOT_NAME), "{long}");
    assert!(long.contains(spanlens::pricing::LANGFUSE_NAME), "{long}");
    let o = run(&["slo", "--no-such-flag", "x.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("spanlens: error: unexpected argument '--no-such-flag'"),
        "{err}"
    );
}

/// Issue 24: completions for every shell clap knows and a man page, from
/// the same definitions as --help (every command and flag named), on
/// stdout, needing no configuration.
#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    // a broken configuration in the working directory does not matter here
    std::fs::write(dir.path().join("spanlens.toml"), "not = [toml").unwrap();
    let gen = |args: &[&str]| {
        let o = crate::common::bin()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = gen(&["completions", shell]);
        for word in ["report", "compare", "fail-on", "out-dir", "span-type"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    // bash reads its script without a syntax error
    let bash = gen(&["completions", "bash"]);
    let f = dir.path().join("spanlens.bash");
    std::fs::write(&f, bash).unwrap();
    let ok = std::process::Command::new("bash")
        .arg("-n")
        .arg(&f)
        .status()
        .unwrap();
    assert!(ok.success());
    let man = gen(&["man"]);
    assert!(man.starts_with(".ie"), "{}", &man[..80.min(man.len())]);
    assert!(man.contains(".TH spanlens 1"), "roff title");
    for word in ["report", "compare", "ingest", "completions"] {
        assert!(man.contains(word), "man: {word}");
    }
    // a command's own page, with its options
    let report = gen(&["man", "report"]);
    assert!(
        report.contains(".TH spanlens-report 1"),
        "{}",
        &report[..200.min(report.len())]
    );
    for word in ["\\-\\-fail\\-on", "\\-\\-out\\-dir", "\\-\\-current"] {
        assert!(report.contains(word), "man report: {word}");
    }
    let o = crate::common::bin()
        .args(["man", "reprot"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("report"), "{}", stderr(&o));
}

/// Issue 24: verdicts are coloured with --color always (red for a
/// breach), never when piped by default, with --color never, or in a file;
/// `NO_COLOR` leaves auto plain.
#[test]
fn colour_where_it_carries_meaning() {
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let input = input.to_str().unwrap();
    let objectives = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        objectives.path(),
        "[[objective]]\nname = \"availability\"\nsli = \"availability\"\ntarget = 0.999\n",
    )
    .unwrap();
    let slo = |extra: &[&str]| {
        let mut args = vec![
            "slo",
            input,
            "--current",
            "1d",
            "--objectives",
            objectives.path().to_str().unwrap(),
        ];
        args.extend(extra);
        let o = crate::common::bin()
            .args(&args)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let plain = slo(&[]);
    assert!(
        plain.contains("breached") && !plain.contains('\x1b'),
        "{plain}"
    );
    assert_eq!(slo(&["--color", "never"]), plain);
    let coloured = slo(&["--color", "always"]);
    // comfy-table's red (crossterm: ESC[38;5;9m) around the padded word
    assert!(coloured.contains("\x1b[38;5;9m breached "), "{coloured}");
    // the same text once the escapes are taken out
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plain);
    // NO_COLOR wins even over a colour asked for by name (the terminal
    // library honours it whatever the flag says)
    let o = crate::common::bin()
        .args(["slo", input, "--current", "1d", "--color", "always"])
        .args(["--objectives", objectives.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), plain);
}

/// Issue 24: every shared flag can be set in `[report]`: format,
/// percentiles, span_type; a flag still wins, and a bad value names its key.
#[test]
fn report_section_sets_the_shared_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spanlens.toml");
    std::fs::write(
        &config,
        "[report]\nformat = \"json\"\npercentiles = \"log-bucket\"\nspan_type = \"all\"\ncurrent = \"1d\"\n",
    )
    .unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let slo = |extra: &[&str]| {
        let mut args = vec!["slo", input.to_str().unwrap()];
        args.extend(extra);
        crate::common::bin()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap()
    };
    let o = slo(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("[report] format = json");
    let engine = v["meta"]["engine"].as_str().unwrap();
    assert!(engine.contains("log-bucket"), "{engine}");
    // the flag wins over the file
    let o = slo(&["--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(csv.lines().next().unwrap().contains(",spans,"), "{csv}");
    // a one-table format in the file is for the single-report commands:
    // the report still writes Markdown; without -o, parquet names the key
    std::fs::write(&config, "[report]\nformat = \"parquet\"\n").unwrap();
    let report = crate::common::bin()
        .current_dir(dir.path())
        .args(["report", input.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(
        report.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&report)
    );
    assert!(String::from_utf8(report.stdout)
        .unwrap()
        .starts_with("**spanlens report: "));
    let o = slo(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("spanlens.toml [report] format = \"parquet\" needs an output file"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&config, "[report]\nformat = \"yaml\"\n").unwrap();
    let o = slo(&[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("spanlens.toml [report] format: unknown value `yaml`"),
        "{e}"
    );
    assert!(e.contains("json"), "{e}");
}

/// Issue 24: Parquet tables keep their types whatever the rows: `open` is
/// `list<string>` with no anomaly, times are `Timestamp(ns, UTC)`.
#[test]
fn parquet_tables_keep_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let read = |args: &[&str], name: &str| {
        let out = dir.path().join(name);
        let mut all = args.to_vec();
        all.extend(["--format", "parquet", "-o", out.to_str().unwrap()]);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let f = std::fs::File::open(&out).unwrap();
        ParquetReader::new(f).finish().unwrap()
    };
    let input = input.to_str().unwrap();
    let none = read(&["anomalies", input, "--current", "1d"], "none.parquet");
    assert_eq!(none.height(), 0);
    assert_eq!(
        none.column("open").unwrap().dtype(),
        &DataType::List(Box::new(DataType::String))
    );
    let traces = read(&["cost", input, "--table", "top_traces"], "traces.parquet");
    assert!(traces.height() > 0);
    assert_eq!(
        traces.column("start").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
    );
}

/// Issue 24: on a terminal the tables fit its width (`--width` gives what a
/// terminal's width would): snapshots of the 80- and 120-column views,
/// every line within the width, ids whole; piped output keeps every column
/// under its full name.
#[test]
fn tables_fit_80_and_120_columns() {
    let config = root().join("fixtures/example/spanlens.toml");
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let (config, input) = (config.to_str().unwrap(), input.to_str().unwrap());
    for cmd in ["slo", "cost", "drift", "compare"] {
        let base = ["--config", config, cmd, input, "--by", "route"];
        for w in [80usize, 120] {
            let out = snapshot_output(&[&base[..], &["--width", &w.to_string()]].concat());
            for line in out.lines() {
                assert!(
                    line.chars().count() <= w,
                    "{cmd} at {w}: {} columns: {line}",
                    line.chars().count()
                );
            }
            insta::assert_snapshot!(format!("{cmd}_{w}_columns"), out);
        }
        // piped: every column under its full name, on one header line
        let piped = snapshot_output(&base);
        assert!(!piped.contains("more column(s)"), "{piped}");
        // piped output ignores $COLUMNS (scripts see the same bytes)
        let o = bin().args(base).env("COLUMNS", "60").output().unwrap();
        assert_eq!(String::from_utf8(o.stdout).unwrap(), piped);
    }
    let piped = snapshot_output(&["--config", config, "slo", input, "--by", "route"]);
    assert!(piped.contains("latency_p50_ms") && piped.contains("tpot_p95_ms"));

    // anomalies: the ids to open are listed under the table, each whole
    let dir = tempfile::tempdir().unwrap();
    let planted = crate::anomalies::planted(dir.path());
    let base = [
        &["anomalies", planted.to_str().unwrap(), "--by", "route"][..],
        &crate::anomalies::PLANTED_DAY,
    ]
    .concat();
    let v = json_of(&[&base[..], &["--format", "json"]].concat());
    let text = snapshot_output(&[&base[..], &["--width", "80"]].concat());
    let mut n = 0;
    for r in rows(&v, "anomalies") {
        for id in r["open"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            assert!(
                text.lines().any(|l| l.split(' ').any(|w| w == id)),
                "{id} not whole in:\n{text}"
            );
            n += 1;
        }
    }
    assert!(n > 5, "ids listed: {n}");
    let grid_lines = text.lines().filter(|l| l.starts_with('│'));
    for l in grid_lines {
        assert!(l.chars().count() <= 80, "{l}");
    }

    // --wide and --width contradict each other
    let o = run(&["slo", input, "--wide", "--width", "80"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Issue 24: `--tz` (or `[report] tz`): a date is that day in the zone, a
/// month budget starts at the zone's midnight on the 1st, and the report's
/// daily charts are the zone's days, labelled with their dates.
#[test]
fn days_in_a_time_zone() {
    let cost = p(COST);
    let tokyo = json_of(&[
        "cost",
        &cost,
        "--current",
        "2026-01-02",
        "--tz",
        "Asia/Tokyo",
        "--format",
        "json",
    ]);
    // 2026-01-02 in Tokyo (UTC+9) is 2026-01-01T15:00Z..2026-01-02T15:00Z
    let utc = json_of(&[
        "cost",
        &cost,
        "--current",
        "2026-01-01T15:00:00Z..2026-01-02T15:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(tokyo["tables"], utc["tables"]);
    assert!(tokyo["meta"]["time zone"]
        .as_str()
        .unwrap()
        .starts_with("Asia/Tokyo"));
    assert_eq!(utc["meta"].get("time zone"), None);
    // the same from spanlens.toml; a zone-less time is in the zone too
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spanlens.toml");
    std::fs::write(&config, "[report]\ntz = \"Asia/Tokyo\"\n").unwrap();
    let config = config.to_str().unwrap();
    let from_file = json_of(&[
        "--config",
        config,
        "cost",
        &cost,
        "--current",
        "2026-01-02T00:00..2026-01-03T00:00",
        "--format",
        "json",
    ]);
    assert_eq!(from_file["tables"], utc["tables"]);
    // a bad zone is a usage error naming the flag
    let o = run(&["cost", &cost, "--tz", "Mars/Olympus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(error_text(&o).starts_with("spanlens: error: --tz: `Mars/Olympus`"));

    // the report's daily charts: New York days (UTC-5), with their year
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let md = dir.path().join("r.md");
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "--tz",
        "America/New_York",
        "-o",
        md.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(dir.path().join("r-charts/spend-daily.svg")).unwrap();
    assert!(svg.contains("Spend per America/New_York day"));
    // the export starts 2025-12-31T23:40Z: 18:40 on the 31st in New York
    assert!(
        svg.contains("2025-12-31") && svg.contains("2026-01-08"),
        "{svg}"
    );
}

/// Issue 24: `spanlens fields` lists what each option takes from the
/// code's own lists; its `--table` names are the tables each command
/// writes (run here with objectives and budgets, so every one is there).
#[test]
fn fields_lists_every_name_and_table() {
    let v = json_of(&["fields", "--format", "json"]);
    let names = rows(&v, "names");
    let listed = |option: &str, command: &str| -> Vec<String> {
        names
            .iter()
            .find(|r| r["option"] == option && r["commands"].as_str().unwrap().contains(command))
            .unwrap_or_else(|| panic!("no {option} for {command}"))["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let by = listed("--by, --where", "slo");
    assert!(by.contains(&"route".to_string()) && by.contains(&"attr:KEY".to_string()));
    assert!(listed("--metrics", "compare").contains(&"latency_p95".to_string()));
    assert!(listed("--fail-on", "report").contains(&"unjudged".to_string()));
    let columns = rows(&v, "columns");
    assert!(columns.iter().any(|r| r["column"] == "duration_ms"));

    let config = root().join("fixtures/example/spanlens.toml");
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let (config, input) = (config.to_str().unwrap(), input.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.sql");
    std::fs::write(&q, "SELECT COUNT(*) AS n FROM {{spans}} s\n").unwrap();
    let q = q.to_str().unwrap();
    let slo = dir.path().join("slo.toml");
    std::fs::write(
        &slo,
        "[[objective]]\nname = \"availability\"\nsli = \"availability\"\ntarget = 0.99\n",
    )
    .unwrap();
    let slo = slo.to_str().unwrap();
    let runs: Vec<(&str, Vec<Vec<&str>>)> = vec![
        ("slo", vec![vec!["slo", input, "--objectives", slo]]),
        ("cost", vec![vec!["cost", input, "--budget", "1/day"]]),
        ("drift", vec![vec!["drift", input]]),
        (
            "compare",
            vec![vec![
                "compare",
                input,
                "--candidate",
                "latest:prompt_version",
            ]],
        ),
        ("anomalies", vec![vec!["anomalies", input]]),
        ("query", vec![vec!["query", q, input]]),
    ];
    for (command, args) in runs {
        let mut written: Vec<String> = Vec::new();
        for a in args {
            let out = json_of(&[&["--config", config][..], &a, &["--format", "json"]].concat());
            written.extend(out["tables"].as_object().unwrap().keys().cloned());
        }
        written.sort();
        written.dedup();
        let mut want = listed("--table", command);
        want.sort();
        assert_eq!(written, want, "{command}'s tables");
    }
}

/// Issue 24: `spanlens init` writes a commented spanlens.toml and an
/// objectives file from what the export holds (the example keeps its
/// prompt version in a custom attribute: init finds the `[fields]` line),
/// both of which the tool reads back and runs on; it writes over nothing
/// without --force.
#[test]
fn init_writes_a_config_and_objectives_from_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let input = input.to_str().unwrap();
    let out = dir.path().join("ops");
    let out_s = out.to_str().unwrap();
    let o = run(&["init", input, "--dir", out_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("next: spanlens report"),
        "{}",
        stderr(&o)
    );
    let config = std::fs::read_to_string(out.join("spanlens.toml")).unwrap();
    assert!(
        config.contains("prompt_version = [\"app.prompt.version\"]"),
        "{config}"
    );
    assert!(
        config.contains("by = [\"route\"]") && config.contains("/chat ("),
        "{config}"
    );
    let objectives = std::fs::read_to_string(out.join("objectives.toml")).unwrap();
    assert!(
        objectives.contains("evaluation = \"relevance\""),
        "{objectives}"
    );
    assert!(objectives.contains("threshold_ms = "), "{objectives}");

    // the tool reads both back and reports on them
    let cfg = out.join("spanlens.toml");
    let obj = out.join("objectives.toml");
    let v = json_of(&[
        "--config",
        cfg.to_str().unwrap(),
        "slo",
        input,
        "--objectives",
        obj.to_str().unwrap(),
        "--stale-after",
        "off",
        "--format",
        "json",
    ]);
    let names: Vec<&str> = rows(&v, "objectives")
        .iter()
        .map(|r| r["objective"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"availability") && names.contains(&"latency"),
        "{names:?}"
    );
    assert!(names.contains(&"relevance pass rate"), "{names:?}");

    // never over an existing file without --force
    std::fs::write(out.join("objectives.toml"), "# mine\n").unwrap();
    let o = run(&["init", input, "--dir", out_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(error_text(&o).contains("exists"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("objectives.toml")).unwrap(),
        "# mine\n"
    );
    let o = run(&["init", input, "--dir", out_s, "--force", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty());
}

/// A baseline overlapping the current window is refused (a span in both
/// would be judged in one only: a day with spans read as a silence); a
/// date outside 1677..2262 is out of range, not another day.
#[test]
fn overlapping_windows_and_dates_out_of_range_are_usage_errors() {
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let input = input.to_str().unwrap();
    let o = run(&[
        "anomalies",
        input,
        "--current",
        "2026-01-05",
        "--baseline",
        "2026-01-01..2026-01-07",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        error_text(&o).contains("overlaps the current window"),
        "{}",
        stderr(&o)
    );
    let o = run(&["slo", input, "--current", "..1600-01-01"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(error_text(&o).contains("out of range"), "{}", stderr(&o));
    // windows that meet are fine
    let o = run(&[
        "drift",
        input,
        "--current",
        "2026-01-07",
        "--baseline",
        "2026-01-01..2026-01-07",
        "--stale-after",
        "off",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `init` writes through no symlink, dangling or not, without --force.
#[cfg(unix)]
#[test]
fn init_writes_through_no_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let out = dir.path().join("ops");
    std::fs::create_dir(&out).unwrap();
    let elsewhere = dir.path().join("elsewhere.toml");
    std::os::unix::fs::symlink(&elsewhere, out.join("spanlens.toml")).unwrap();
    let o = run(&[
        "init",
        input.to_str().unwrap(),
        "--dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!elsewhere.exists(), "written through a dangling symlink");
    assert!(!out.join("objectives.toml").exists(), "half a pair written");
}

/// Issue 23: a run naming no attribute keeps only the attributes spanlens
/// reads itself (tool call arguments, response ids) and still counts every
/// other for `inspect`; an `attr:` key named only in spanlens.toml (even
/// spelt with a TOML escape), or only in an objectives file, is still read.
#[test]
fn attributes_no_query_reads_are_not_kept() {
    use spanlens::frame::{load, LoadOptions};
    use spanlens::span::schema as s;
    let input = p(COST);
    let mut opts = LoadOptions::default();
    let all = load(std::slice::from_ref(&input), &opts).unwrap();
    opts.resolve.skip_attrs = true;
    let kept = load(std::slice::from_ref(&input), &opts).unwrap();
    let keys = |df: &DataFrame| -> Vec<String> {
        let mut k: Vec<String> = (0..df.height())
            .flat_map(|i| spanlens::span::build::attrs_of_row(df, i).unwrap())
            .map(|(k, _)| k)
            .collect();
        k.sort();
        k.dedup();
        k
    };
    assert!(keys(&all.spans).contains(&"app.region".to_string()));
    assert!(keys(&kept.spans)
        .iter()
        .all(|k| spanlens::ingest::resolve::KEPT_ATTRS.contains(&k.as_str())));
    // everything else is the same table
    assert_eq!(
        all.spans.drop(s::ATTRS).unwrap(),
        kept.spans.drop(s::ATTRS).unwrap()
    );
    assert_eq!(all.files[0].unclaimed, kept.files[0].unclaimed);

    // the key named in spanlens.toml only, spelt with a TOML escape (no
    // `attr:` in the file's text)
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spanlens.toml");
    std::fs::write(&config, "[report]\nby = [\"\\u0061ttr:app.region\"]\n").unwrap();
    let v = json_of(&[
        "--config",
        config.to_str().unwrap(),
        "slo",
        &input,
        "--current",
        DAY,
        "--where",
        "model!=o3",
        "--format",
        "json",
    ]);
    assert_eq!(row(&v, "cohorts", "attr:app.region", "eu")["spans"], 3);
    // in an objectives file only
    let slo = dir.path().join("slo.toml");
    std::fs::write(
        &slo,
        "[[objective]]\nname = \"eu\"\nsli = \"availability\"\ntarget = 0.5\nwhere = [\"attr:app.region=eu\"]\n",
    )
    .unwrap();
    let out = run(&[
        "slo",
        &input,
        "--current",
        DAY,
        "--objectives",
        slo.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v["tables"]["objectives"][0];
    assert_eq!(o["objective"], "eu", "{v}");
    assert_eq!(o["valid"], 4, "{v}");
}
