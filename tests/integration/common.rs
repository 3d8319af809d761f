use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use serde_json::{json, Map, Value};
use spanlens::frame::{load, Dataset, LoadOptions};
use spanlens::span::{build::attrs_of_row, schema as s};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared() -> PathBuf {
    root().join("../shared/real-exports")
}

pub fn load_paths(paths: &[&Path]) -> Dataset {
    let args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    load(&args, &LoadOptions::default()).expect("load")
}

/// A row as JSON: every column, plus `attrs.KEY` for each attribute.
pub fn row_json(df: &DataFrame, i: usize) -> Map<String, Value> {
    let mut m = Map::new();
    for c in df.columns() {
        if c.name().as_str() == s::ATTRS {
            continue;
        }
        let v = c.get(i).unwrap();
        let j = match v {
            AnyValue::Null => Value::Null,
            AnyValue::Int64(n) => json!(n),
            AnyValue::Float64(f) => json!(f),
            other => match other.get_str() {
                Some(s) => json!(s),
                None => json!(other.to_string().trim_matches('"')),
            },
        };
        m.insert(c.name().to_string(), j);
    }
    if df.column(s::ATTRS).is_ok() {
        for (k, v) in attrs_of_row(df, i).unwrap() {
            m.insert(format!("attrs.{k}"), json!(v));
        }
    }
    m
}

pub fn find_span(df: &DataFrame, span_id: &str) -> Map<String, Value> {
    let ids = df.column(s::SPAN_ID).unwrap().str().unwrap().clone();
    let i = ids
        .iter()
        .position(|v| v == Some(span_id))
        .unwrap_or_else(|| panic!("span {span_id} not found"));
    row_json(df, i)
}

/// Compare expected fields (null = absent or null) with a row.
pub fn assert_fields(span: &str, row: &Map<String, Value>, expected: &Map<String, Value>) {
    for (k, want) in expected {
        let got = row.get(k).cloned().unwrap_or(Value::Null);
        match (want, &got) {
            (Value::Number(w), Value::Number(g)) if w.is_f64() || g.is_f64() => {
                let (w, g) = (w.as_f64().unwrap(), g.as_f64().unwrap());
                assert!(
                    (w - g).abs() <= 1e-9 * w.abs().max(1.0),
                    "{span}.{k}: want {w}, got {g}"
                );
            }
            _ => assert_eq!(&got, want, "{span}.{k}"),
        }
    }
}

pub fn evals_rows(df: &DataFrame) -> Vec<Value> {
    (0..df.height())
        .map(|i| {
            let m = row_json(df, i);
            json!([
                m["trace_id"],
                m["span_id"],
                m["name"],
                m["score"],
                m["label"],
                m["source"]
            ])
        })
        .collect()
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spanlens"));
    c.env("NO_COLOR", "1");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run spanlens")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stderr without its `spanlens: warning:` lines (a stale fixture warns
/// before a later usage error).
pub fn error_text(o: &Output) -> String {
    stderr(o)
        .lines()
        .filter(|l| !l.starts_with("spanlens: warning:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// stdout of a successful run, as text (for snapshots).
pub fn snapshot_output(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Write `df` as a Parquet file (a canonical table made by a test).
pub fn write_parquet(path: &Path, df: &mut DataFrame) {
    let f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(f).finish(df).unwrap();
}

/// The rows of a Parquet file as JSON objects (for snapshots).
pub fn parquet_rows(path: &Path) -> Vec<Value> {
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    (0..df.height())
        .map(|i| Value::Object(row_json(&df, i)))
        .collect()
}

/// Every file below `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// Markdown parsed as GitHub renders it (tables, strikethrough and math
/// on): every table row has its header's cell count, and span data
/// created no link, HTML, heading, emphasis, strikethrough, code span,
/// code block, math or e-mail autolink (no such text holds `marker`); an
/// image is allowed only where `image_ok(url)`. Returns (tables, body
/// rows).
pub fn assert_inert_markdown(
    md: &str,
    marker: &str,
    image_ok: impl Fn(&str) -> bool,
) -> (usize, usize) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut cols, mut cells, mut tables, mut rows) = (0, 0, 0, 0);
    let mut in_heading = false;
    // inside emphasis, strikethrough or a code block: none is the tool's own
    let mut formatted = 0usize;
    // the tool's only blockquotes are its notes (`> note: ...`): None
    // outside one, Some(false) before its first text
    let mut quote: Option<bool> = None;
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH;
    for ev in Parser::new_ext(md, options) {
        match &ev {
            Event::Start(Tag::Table(align)) => {
                cols = align.len();
                tables += 1;
            }
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                assert_eq!(
                    cells, cols,
                    "a row with {cells} cells in a {cols}-column table"
                );
            }
            _ => {}
        }
        match ev {
            Event::End(TagEnd::TableRow) => rows += 1,
            Event::Start(Tag::Link { .. }) => panic!("span data created a link"),
            Event::Start(Tag::Image { dest_url, .. }) => {
                assert!(
                    image_ok(&dest_url),
                    "span data created an image: {dest_url}"
                )
            }
            Event::Html(h) | Event::InlineHtml(h) => panic!("span data created HTML: {h}"),
            Event::Start(Tag::Heading { .. }) => in_heading = true,
            Event::End(TagEnd::Heading(_)) => in_heading = false,
            Event::Text(t) if in_heading => {
                assert!(!t.contains(marker), "span data created a heading: {t}")
            }
            Event::Start(Tag::Emphasis | Tag::Strikethrough | Tag::CodeBlock(_)) => formatted += 1,
            Event::End(TagEnd::Emphasis | TagEnd::Strikethrough | TagEnd::CodeBlock) => {
                formatted -= 1
            }
            Event::Text(t) if formatted > 0 => {
                assert!(
                    !t.contains(marker),
                    "span data created emphasis or code: {t}"
                )
            }
            Event::Code(t) => {
                assert!(!t.contains(marker), "span data created a code span: {t}")
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                assert!(!t.contains(marker), "span data created math: {t}")
            }
            Event::Start(Tag::BlockQuote(_)) => quote = Some(false),
            Event::End(TagEnd::BlockQuote(_)) => quote = None,
            Event::Text(t) if quote == Some(false) => {
                assert!(
                    t.starts_with("note:"),
                    "span data created a blockquote: {t}"
                );
                quote = Some(true);
            }
            // GitHub links a bare e-mail address (after parsing, so no
            // parser here sees it): text@domain with nothing between
            Event::Text(t) if t.contains(marker) => {
                let c: Vec<char> = t.chars().collect();
                let local = |x: char| x.is_alphanumeric() || ".-_+".contains(x);
                for i in 1..c.len().saturating_sub(1) {
                    assert!(
                        !(c[i] == '@' && local(c[i - 1]) && c[i + 1].is_alphanumeric()),
                        "span data made an e-mail link: {t}"
                    );
                }
            }
            _ => {}
        }
    }
    (tables, rows)
}

/// `a` and `b` equal: numbers to 1e-9 relative, everything else exactly.
pub fn same(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tol = 1e-9 * x.abs().max(y.abs()).max(1e-300);
            assert!((x - y).abs() <= tol, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                same(p, q, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            assert_eq!(kx, ky, "{at}: keys");
            for (k, v) in x {
                same(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `spanlens ingest INPUT -o OUT EXTRA... -q`, asserted to succeed.
pub fn ingest_ok(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "ingest",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    args.push("-q");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A report's JSON without its meta lines (and its sections'), which name
/// the engine and the inputs: what must equal across engines.
pub fn without_meta(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("meta") {
        *m = Value::Null;
    }
    if let Some(s) = v.get_mut("sections").and_then(Value::as_object_mut) {
        for (_, sec) in s.iter_mut() {
            sec["meta"] = Value::Null;
        }
    }
    v
}

/// A path under the repository, as a command-line argument.
pub fn p(rel: &str) -> String {
    root().join(rel).display().to_string()
}

/// The JSON a run printed, asserted to exit 0.
pub fn json_of(args: &[&str]) -> Value {
    json_exit(args, 0)
}

/// The JSON a run printed, asserted to exit `code`.
pub fn json_exit(args: &[&str], code: i32) -> Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("json output")
}

/// Equal to 1e-9 relative when both are numbers, else equal.
pub fn close(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
            "{what}: {g} vs {w}"
        ),
        _ => assert_eq!(got, want, "{what}"),
    }
}

/// The rows of a JSON report's table.
pub fn rows<'a>(v: &'a Value, table: &str) -> &'a Vec<Value> {
    v["tables"][table].as_array().unwrap()
}

/// The row of a JSON report's table matching every (column, value).
pub fn find<'a>(v: &'a Value, table: &str, conds: &[(&str, &str)]) -> &'a Value {
    rows(v, table)
        .iter()
        .find(|r| conds.iter().all(|(k, want)| r[*k] == *want))
        .unwrap_or_else(|| panic!("{table}: no row {conds:?}"))
}

/// The row of a JSON report's table whose `key` is `val`.
pub fn row<'a>(v: &'a Value, table: &str, key: &str, val: &str) -> &'a Value {
    find(v, table, &[(key, val)])
}

/// A command's output in every format, named `{name}_{format}` for its
/// snapshot (Parquet read back as the JSON of its rows); the caller
/// asserts each with `insta::assert_snapshot!`, so the snapshot files are
/// named after the caller's module.
pub fn every_format(name: &str, base: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for fmt in ["table", "markdown", "json", "csv"] {
        let mut args = base.to_vec();
        args.extend(["--format", fmt]);
        out.push((format!("{name}_{fmt}"), snapshot_output(&args)));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.parquet");
    let mut args = base.to_vec();
    args.extend(["--format", "parquet", "-o", file.to_str().unwrap()]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out.push((
        format!("{name}_parquet"),
        serde_json::to_string_pretty(&parquet_rows(&file)).unwrap(),
    ));
    out
}

/// The tiny cost fixture and the day it covers.
pub const COST: &str = "fixtures/tiny/cost.jsonl";
pub const DAY: &str = "2026-01-02..2026-01-03";
/// The bundled example and its configuration.
pub const EXAMPLE: &str = "fixtures/example/export.otlp.jsonl.gz";
pub const CONFIG: &str = "fixtures/example/spanlens.toml";

pub const DAY_NS: i64 = 86_400_000_000_000;

/// 2026-01-01T00:00:00Z
pub const T0: i64 = 1_767_225_600_000_000_000;

pub fn rfc3339(ns: i64) -> String {
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

/// A time of a JSON report (RFC 3339, UTC) in nanoseconds.
pub fn time_ns(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_nanos_opt()
        .unwrap()
}

/// The ids of a JSON report's list column (`open`), space-separated.
pub fn ids(v: &Value) -> String {
    let list = v.as_array().unwrap_or_else(|| panic!("not a list: {v}"));
    list.iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
