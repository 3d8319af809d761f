//! Issue 7 (scale): a large `spanlens ingest` Parquet input is streamed
//! (lazy scans, polars' streaming engine, one query at a time) instead of
//! loaded. `SPANLENS_STREAM_SPANS=0` streams any such input, so the
//! streamed reports are checked here against the in-memory engine on the
//! bundled example: equal to 1e-9 (both with log-bucket percentiles, which
//! a streamed run always uses, and the row cap it always has).

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
            let mut memory = args.clone();
            memory.extend(["--max-rows", "1000000"]);
            let streamed = report(&args, true);
            let engine = streamed["meta"]["engine"].as_str().unwrap_or("");
            let inputs = streamed["meta"]["inputs"].as_str().unwrap_or("");
            if c[0] != "report" {
                assert!(inputs.contains("streamed from Parquet"), "{c:?}: {inputs}");
                assert!(engine.starts_with("local (streaming)"), "{c:?}: {engine}");
            }
            same(
                &without_meta(report(&memory, false)),
                &without_meta(streamed),
                &format!("{input} {}", c[0]),
            );
        }
    }
}
