use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use serde_json::{json, Map, Value};
use spanlens::frame::{build::attrs_of_row, load, schema as s, Dataset, LoadOptions};

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

/// Markdown parsed as GitHub renders it (tables on): every table row has
/// its header's cell count, and span data created no link, HTML or
/// heading (no heading text holds `marker`); an image is allowed only where
/// `image_ok(url)`. Returns (tables, body rows).
pub fn assert_inert_markdown(
    md: &str,
    marker: &str,
    image_ok: impl Fn(&str) -> bool,
) -> (usize, usize) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut cols, mut cells, mut tables, mut rows) = (0, 0, 0, 0);
    let mut in_heading = false;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
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
