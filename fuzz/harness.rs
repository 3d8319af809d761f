//! The fuzz harnesses, one function per target (fuzz_targets/*.rs call
//! them; tests/integration/fuzz_corpus.rs replays the kept corpus through
//! them under `cargo test`). Each takes arbitrary bytes; a panic, an abort
//! or a broken invariant asserted here is a crash.

use std::io::Write;
use std::path::Path;

use spanlens::config::Config;
use spanlens::engine::{parse_condition, parse_key};
use spanlens::frame::{assemble, load, LoadOptions};
use spanlens::guard;
use spanlens::ingest::aliases::AliasTable;
use spanlens::ingest::chunk::Chunk;
use spanlens::ingest::resolve::{ResolveOptions, Resolver};
use spanlens::ingest::scan::ScanOutput;
use spanlens::ingest::{flat, json, otlp};
use spanlens::pricing::{PriceTable, Tokens};
use spanlens::window;

fn resolve_opts() -> ResolveOptions {
    ResolveOptions {
        now_ns: 1_780_000_000_000_000_000,
        ..Default::default()
    }
}

/// Read `data` line by line with `read` (one record per line, as the
/// JSONL reader does), then build the canonical frame from what was kept.
fn lines(data: &[u8], read: fn(&[u8], u64, &mut Chunk<'_>) -> Result<(), String>) {
    let table = AliasTable::default();
    let opts = resolve_opts();
    let resolver = Resolver {
        table: &table,
        opts: &opts,
    };
    let mut chunk = Chunk::new(&resolver, 0);
    let mut n = 0u64;
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        // blank lines are skipped, as the JSONL reader does
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Err(e) = read(line, i as u64 + 1, &mut chunk) {
            assert!(!e.is_empty(), "an error without a message");
            chunk.reject(i as u64 + 1, e);
            n += 1;
        }
    }
    // the readers also reject single records inside a line (counted there)
    assert!(chunk.stats.rejected >= n, "every rejected line is counted");
    let mut batches = Vec::new();
    chunk.hand_over_rows(&mut batches);
    let kept = batches.iter().map(Vec::len).sum();
    let out = ScanOutput {
        batches,
        evals: std::mem::take(&mut chunk.evals),
        files: vec![chunk.stats],
        ..Default::default()
    };
    let ds = assemble(out).expect("assembling resolved rows never fails");
    assert!(ds.spans.height() <= kept, "dedup only removes rows");
}

/// OTLP/JSON requests, one per line.
pub fn otlp_line(data: &[u8]) {
    lines(data, otlp::read_request);
}

/// Flat span objects (and Langfuse trace downloads), one per line.
pub fn flat_line(data: &[u8]) {
    lines(data, |line, n, chunk| {
        let val = json::parse(line)?;
        flat::read_flat(val, n, chunk)
    });
}

/// A Parquet file (canonical or dotted-attribute columns) through the loader.
pub fn parquet_file(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("fuzz.parquet");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(data))
        .expect("writing the input");
    let opts = LoadOptions {
        table: AliasTable::default(),
        resolve: resolve_opts(),
        max_bad: None,
        progress: false,
        context_lake: None,
    };
    // polars' decoder panics on some corrupt footers; spanlens catches that
    // (`ingest::parquet::read_guarded`) and reports the file. libFuzzer's
    // panic hook would abort even on a caught panic, so the load runs inside
    // `guard::catch`, whose hook stays quiet meanwhile and otherwise hands
    // over to libFuzzer's: a panic that escapes spanlens still crashes the run.
    let loaded = guard::catch(|| load(&[path.to_string_lossy().into_owned()], &opts));
    match loaded {
        Ok(Ok(ds)) => assert_eq!(ds.files.len(), 1),
        Ok(Err(e)) => assert!(!e.to_string().is_empty()),
        Err(_) => panic!("a panic escaped the Parquet loader"),
    }
}

/// A price table overlay (LiteLLM JSON) on the embedded one: bad entries
/// are errors, never panics, and every model it prices costs a finite,
/// non-negative amount for any token counts a span can carry (< 2^32).
pub fn price_table(data: &[u8]) {
    let mut t = PriceTable::load(&[]).expect("the embedded table loads");
    if t.add("fuzz.json", data).is_err() {
        return;
    }
    // whatever its format (LiteLLM, Langfuse, CSV): every model it added
    let keys: Vec<String> = t.added().map(|p| p.key.clone()).collect();
    for key in &keys {
        let Some((p, _)) = t.lookup(Some("openai"), Some(key), None) else {
            continue;
        };
        for input in [0, 1, 200_000, u64::from(u32::MAX)] {
            let tokens = Tokens {
                input,
                output: input / 3,
                cache_read: input / 2,
                cache_write: input / 4,
                cache_write_1h: input / 8,
                reasoning: input / 5,
            };
            let c = p.cost(&tokens).total();
            assert!(c.is_finite() && c >= 0.0, "{key}: {input} tokens cost {c}");
        }
    }
}

/// spanlens.toml, and what the commands build from it: the alias table
/// with its field overrides, the SLO objectives, the composite anomalies
/// and the report windows.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Config::parse(text, Path::new("fuzz.toml")) else {
        return;
    };
    let _ = AliasTable::new(&c.field_overrides());
    let _ = spanlens::options::objectives_from(&c.objectives, "fuzz.toml");
    let _ = spanlens::options::composites(&c.anomalies);
    let r = &c.report;
    let tz =
        r.tz.as_deref()
            .and_then(|z| window::parse_tz(z).ok())
            .unwrap_or(window::TimeZone::UTC);
    for w in [&r.current, &r.baseline].into_iter().flatten() {
        let _ = window::parse_window(w, &tz);
    }
    let _ = window::parse_until(r.until.as_deref(), &tz);
}

/// --current/--baseline/--until values, and the windows they resolve to.
pub fn window(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    // the zone: a third line, else one with daylight saving
    let (b, zone) = b.split_once('\n').unwrap_or((b, "America/New_York"));
    let tz = window::parse_tz(zone).unwrap_or(window::TimeZone::UTC);
    let _ = window::parse_duration(a);
    let _ = window::parse_instant(a, &tz);
    let cur = window::parse_window(a, &tz).ok();
    let base = window::parse_window(b, &tz).ok();
    if let Ok(until) = window::parse_until(Some(b), &tz) {
        for last in [None, Some(i64::MIN), Some(0), Some(i64::MAX - 1)] {
            let _ = window::resolve(cur, base, until, last, i64::MAX);
        }
    }
    if let Some(window::WindowSpec::Absolute(w)) = cur {
        assert!(w.start_ns < w.end_ns, "{a}: an empty window was accepted");
    }
}

/// --where conditions and --by keys.
pub fn predicate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = parse_condition(text) {
        assert!(!c.values.is_empty());
    }
    let _ = parse_key(text);
}
