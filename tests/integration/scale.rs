//! Issue 7 (scale): a large `spanlens ingest` Parquet input is streamed
//! (lazy scans, polars' streaming engine, one query at a time) instead of
//! loaded, and any other large input is spilled to Parquet by trace and
//! then streamed (`frame::spill`). `SPANLENS_STREAM_SPANS=0` streams any
//! canonical Parquet input and `SPANLENS_SPILL_SPANS=0` spills any input, so
//! both paths are checked here against the in-memory engine on the bundled
//! example: equal to 1e-9 (both with log-bucket percentiles, which a
//! streamed run always uses, and the row cap it always has).

use serde_json::Value;

use crate::common::{bin, ingest_ok, root, same, stderr, without_meta};

fn report(args: &[&str], stream: bool) -> Value {
    let mut c = bin();
    if stream {
        c.env("SPANLENS_STREAM_SPANS", "0");
    }
    let o = c.args(args).output().unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{args:?}: {}",
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `args` run streamed and in memory (with the row cap a streamed run
/// always has): asserted equal to 1e-9 but for their meta lines; the
/// streamed report.
fn streamed_equal_to_in_memory(args: &[&str], at: &str) -> Value {
    let streamed = report(args, true);
    let mut memory = args.to_vec();
    memory.extend(["--max-rows", "1000000"]);
    same(
        &without_meta(report(&memory, false)),
        &without_meta(streamed.clone()),
        at,
    );
    streamed
}

#[test]
fn issue7_streamed_parquet_equals_the_in_memory_engine() {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let lake = dir.path().join("lake");
    let file = dir.path().join("spans.parquet");
    ingest_ok(&example, &lake, &["--partition", "day"]);
    ingest_ok(&example, &file, &[]);
    let config = root().join("fixtures/example/spanlens.toml");
    let config = config.to_str().unwrap();
    for input in [lake.to_str().unwrap(), file.to_str().unwrap()] {
        let windows = ["--current", "1d", "--baseline", "7d"];
        let commands: Vec<Vec<&str>> = vec![
            vec!["slo", input, "--by", "route"],
            vec!["cost", input, "--by", "model"],
            vec!["drift", input, "--by", "route"],
            vec!["anomalies", input, "--by", "route"],
            vec!["report", input],
            vec![
                "compare",
                input,
                "--by",
                "route",
                "--candidate",
                "latest:prompt_version",
            ],
        ];
        for c in commands {
            let mut args = vec!["--config", config];
            args.extend(&c);
            if c[0] != "compare" {
                args.extend(windows);
            }
            args.extend(["--format", "json", "-q", "--percentiles", "log-bucket"]);
            let streamed = streamed_equal_to_in_memory(&args, &format!("{input} {}", c[0]));
            let engine = streamed["meta"]["engine"].as_str().unwrap_or("");
            let inputs = streamed["meta"]["inputs"].as_str().unwrap_or("");
            // every command, the report too, streamed (not loaded)
            assert!(inputs.contains("streamed from Parquet"), "{c:?}: {inputs}");
            assert!(engine.starts_with("local (streaming)"), "{c:?}: {engine}");
        }
    }
}

/// Canonical Parquet files of two schemas (one with `provider` and
/// `status` as plain strings and `duration_ms` as Float32, as another
/// writer may store them) streamed together: one scan per schema, read in
/// turn, cast to the loader's types. Equal to the in-memory engine over the
/// same files, and every span counted once.
#[test]
fn issue7_streamed_files_of_two_schemas_equal_the_in_memory_engine() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let whole = dir.path().join("whole.parquet");
    ingest_ok(&example, &whole, &[]);
    let df = ParquetReader::new(std::fs::File::open(&whole).unwrap())
        .finish()
        .unwrap();
    let half = df.height() / 2;
    let mut a = df.slice(0, half);
    let mut b = df
        .slice(half as i64, df.height() - half)
        .lazy()
        .with_columns([
            col("provider").cast(DataType::String),
            col("status").cast(DataType::String),
            col("duration_ms").cast(DataType::Float32),
        ])
        .collect()
        .unwrap();
    assert_ne!(a.schema(), b.schema());
    let (pa, pb) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    for (p, d) in [(&pa, &mut a), (&pb, &mut b)] {
        ParquetWriter::new(std::fs::File::create(p).unwrap())
            .finish(d)
            .unwrap();
    }
    let evals = dir.path().join("whole.evals.parquet");
    assert!(evals.is_file());
    let config = root().join("fixtures/example/spanlens.toml");
    let (pa, pb, evals) = (
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        evals.to_str().unwrap(),
    );
    for command in ["slo", "cost", "report"] {
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            command,
            pa,
            pb,
            evals,
            "--current",
            "1d",
            "--baseline",
            "7d",
            "--format",
            "json",
            "-q",
            "--percentiles",
            "log-bucket",
        ];
        if command != "report" {
            args.extend(["--by", "route"]);
        }
        let streamed = streamed_equal_to_in_memory(&args, command);
        if command != "report" {
            let inputs = streamed["meta"]["inputs"].as_str().unwrap_or("");
            assert!(
                inputs.starts_with(&format!(
                    "3 file(s), {} spans, streamed",
                    spanlens::report::format::int(df.height() as u64)
                )),
                "{inputs}"
            );
        }
    }
}

/// A panic inside polars' streaming engine is a spanlens error naming the
/// query, with no panic text. polars 0.55.2 panics on a bare `COUNT(*)`
/// over a Parquet scan on its streaming engine ("not implemented for dtype
/// UInt128"). When an upgraded polars answers it, this test fails: assert
/// the span count then.
#[test]
fn issue7_a_streaming_engine_panic_is_an_error_naming_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let lake = dir.path().join("lake");
    ingest_ok(&example, &lake, &["--partition", "day"]);
    let sql = dir.path().join("count.sql");
    std::fs::write(&sql, "SELECT COUNT(*) AS n FROM spans\n").unwrap();
    let o = bin()
        .env("SPANLENS_STREAM_SPANS", "0")
        .args(["query", sql.to_str().unwrap(), lake.to_str().unwrap()])
        .args([
            "--current",
            "3650d",
            "--until",
            "2030-01-01",
            "--format",
            "json",
            "-q",
        ])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        e.starts_with("spanlens: error: query ")
            && e.contains("failed in polars' streaming engine: not implemented"),
        "{e}"
    );
    assert!(e.contains("hint: rewrite the query"), "{e}");
}

/// `args` run with every span spilled (`SPANLENS_SPILL_SPANS=0`, spill files
/// under `tmp`) and in memory with log-bucket percentiles and the row cap a
/// streamed run has: asserted equal to 1e-9 but for their meta lines; the
/// spilled report. `tmp` is asserted empty afterwards (the spill files go
/// with the run).
fn spilled_equal_to_in_memory(args: &[&str], tmp: &std::path::Path, at: &str) -> Value {
    let o = bin()
        .env("SPANLENS_SPILL_SPANS", "0")
        .env("TMPDIR", tmp)
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{at}: {}",
        stderr(&o)
    );
    let spilled: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        std::fs::read_dir(tmp).unwrap().count(),
        0,
        "{at}: spill files left in TMPDIR"
    );
    let mut memory = args.to_vec();
    memory.extend(["--max-rows", "1000000"]);
    same(
        &without_meta(report(&memory, false)),
        &without_meta(spilled.clone()),
        at,
    );
    spilled
}

/// JSON lines over the spill bound (issue 7: JSONL at 10M spans in 4 GiB)
/// are spilled to Parquet by trace, each partition deduplicated and
/// inherited as the in-memory loader does, then streamed. Every report
/// equals the in-memory engine's on the same inputs: the bundled example,
/// and the example split line by line into two files (72 of its traces
/// then have spans in both, so inheritance and the trace statistics need
/// both files), read together with a copy of itself (every span a
/// duplicate, counted once) and a flat-JSONL file.
#[test]
fn issue7_spilled_jsonl_equals_the_in_memory_engine() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let lines: Vec<String> = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&example).unwrap(),
    ))
    .lines()
    .map(Result::unwrap)
    .collect();
    let (odd, even) = (dir.path().join("odd.jsonl"), dir.path().join("even.jsonl"));
    let mut fo = std::fs::File::create(&odd).unwrap();
    let mut fe = std::fs::File::create(&even).unwrap();
    for (i, l) in lines.iter().enumerate() {
        writeln!(if i % 2 == 1 { &mut fo } else { &mut fe }, "{l}").unwrap();
    }
    drop((fo, fe));
    let flat = root().join("fixtures/tiny/flat_mixed.jsonl");
    let config = root().join("fixtures/example/spanlens.toml");
    let (config, example, odd, even, flat) = (
        config.to_str().unwrap(),
        example.to_str().unwrap(),
        odd.to_str().unwrap(),
        even.to_str().unwrap(),
        flat.to_str().unwrap(),
    );
    let windows = ["--current", "1d", "--baseline", "7d"];
    let one: Vec<&str> = vec![example];
    let mixed: Vec<&str> = vec![odd, even, example, flat];
    for (inputs, commands) in [
        (
            &one,
            vec!["slo", "cost", "drift", "anomalies", "report", "compare"],
        ),
        (&mixed, vec!["slo", "report"]),
    ] {
        for c in commands {
            let mut args = vec!["--config", config, c];
            args.extend(inputs.iter().copied());
            match c {
                "compare" => args.extend(["--by", "route", "--candidate", "latest:prompt_version"]),
                "report" => args.extend(windows),
                "cost" => args.extend(["--by", "model"].into_iter().chain(windows)),
                _ => args.extend(["--by", "route"].into_iter().chain(windows)),
            }
            args.extend(["--format", "json", "-q", "--percentiles", "log-bucket"]);
            let at = format!("{} file(s) {c}", inputs.len());
            let spilled = spilled_equal_to_in_memory(&args, &tmp, &at);
            let meta = &spilled["meta"];
            let inputs_line = meta["inputs"].as_str().unwrap_or("");
            let engine = meta["engine"].as_str().unwrap_or("");
            // 6,003 spans in the example; the mixed set holds it twice
            // (split and whole) and the flat file's 4 (7 lines: 2 rejected, 1 duplicate)
            let expect = if inputs.len() == 1 {
                "1 file(s), 6,003 spans, 0 malformed record(s) skipped; over 0 spans: spilled to \
                 Parquet in 4 partitions by trace"
            } else {
                "4 file(s), 6,007 spans, 2 malformed record(s) skipped, 6,004 duplicate span(s) and \
                 724 duplicate evaluation(s) dropped; over 0 spans: spilled to Parquet in 4 \
                 partitions by trace"
            };
            assert!(inputs_line.starts_with(expect), "{at}: {inputs_line}");
            assert!(engine.starts_with("local (streaming)"), "{at}: {engine}");
        }
    }
}

/// Rows -> frame -> rows -> frame is the identity on every fixture and real
/// export: what the spill reads back is what it wrote.
#[test]
fn issue7_spilled_rows_read_back_equal_the_frame() {
    use spanlens::span::build::{rows_from_frame, spans_frame};
    let mut inputs = vec![
        root().join("fixtures/example/export.otlp.jsonl.gz"),
        root().join("fixtures/tiny/flat_mixed.jsonl"),
        root().join("fixtures/tiny/otlp_genai.jsonl"),
    ];
    for sub in ["otlp-json", "langfuse-ui-trace-json"] {
        inputs.push(crate::common::shared().join(sub));
    }
    for input in inputs {
        let ds = crate::common::load_paths(&[&input]);
        let df = ds.spans;
        assert!(df.height() > 0, "{}", input.display());
        let mut interner = Default::default();
        let rows = rows_from_frame(&df, &vec![3; df.height()], &mut interner).unwrap();
        assert!(rows.iter().all(|r| r.file == 3));
        let again = spans_frame(&[rows]).unwrap();
        assert!(
            again.equals_missing(&df),
            "{}: {:?}\nvs\n{:?}",
            input.display(),
            again.head(Some(3)),
            df.head(Some(3))
        );
    }
}

/// `--strict` and `--max-bad` hold when the input is spilled: exit 3 with
/// the first rejected record's file and line, no report, no spill files.
#[test]
fn issue7_spilled_input_keeps_strict_and_max_bad() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let report = dir.path().join("r.md");
    let input = root().join("fixtures/tiny/otlp_genai.jsonl");
    for limit in [["--strict", ""], ["--max-bad", "3"]] {
        let o = bin()
            .env("SPANLENS_SPILL_SPANS", "0")
            .env("TMPDIR", &tmp)
            .args([
                "report",
                input.to_str().unwrap(),
                "-o",
                report.to_str().unwrap(),
            ])
            .args(limit.iter().filter(|a| !a.is_empty()))
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{limit:?}: {e}");
        assert!(e.contains("4 malformed record(s)"), "{e}");
        assert!(e.contains("otlp_genai.jsonl:2: span #3"), "{e}");
        assert!(!report.exists());
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "spill files left"
        );
    }
}
