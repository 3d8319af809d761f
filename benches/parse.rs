//! Per-stage benchmarks of the ingest path on generated data:
//! parse+resolve (OTLP lines, flat lines), assemble (dedup, inherit, frame),
//! and Parquet write/read of the canonical table.
//!
//! `cargo bench --bench parse` (results and commands in benches/RESULTS.md)

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use polars::prelude::*;
use spanlens::frame::assemble;
use spanlens::ingest::aliases::AliasTable;
use spanlens::ingest::resolve::{ResolveOptions, Resolver};
use spanlens::ingest::scan::scan_bytes;

#[path = "../fixtures/generator/gen.rs"]
#[allow(dead_code)]
mod gen;

const SPANS: usize = 50_000;

fn data(shape: gen::Shape) -> Vec<u8> {
    let opts = gen::Options {
        spans: SPANS,
        seed: 1,
        start: "2026-01-01".into(),
        days: 2,
        batch: 64,
        plant: Vec::new(),
    };
    let mut out = Vec::new();
    gen::generate(&opts, &mut out, shape).unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let table = AliasTable::default();
    let ropts = ResolveOptions {
        now_ns: i64::MAX / 2,
        ..Default::default()
    };
    let resolver = Resolver {
        table: &table,
        opts: &ropts,
    };
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    for (name, shape) in [
        ("otlp_lines", gen::Shape::Otlp),
        ("flat_lines", gen::Shape::Flat),
    ] {
        let bytes = data(shape);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("parse_resolve/{name}"), |b| {
            b.iter(|| {
                black_box(
                    scan_bytes(name, bytes.clone(), &resolver)
                        .unwrap()
                        .batches
                        .iter()
                        .map(Vec::len)
                        .sum::<usize>(),
                )
            })
        });
    }
    let bytes = data(gen::Shape::Otlp);
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("assemble/dedup_inherit_frame", |b| {
        b.iter_batched(
            || scan_bytes("otlp", bytes.clone(), &resolver).unwrap(),
            |out| black_box(assemble(out).unwrap().spans.height()),
            criterion::BatchSize::LargeInput,
        )
    });
    let mut df = assemble(scan_bytes("otlp", bytes.clone(), &resolver).unwrap())
        .unwrap()
        .spans;
    g.bench_function("parquet/write_zstd", |b| {
        b.iter(|| {
            let mut buf = Vec::new();
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut df)
                .unwrap();
            black_box(buf.len())
        })
    });
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .unwrap();
    g.bench_function("parquet/read", |b| {
        b.iter(|| {
            black_box(
                ParquetReader::new(std::io::Cursor::new(&buf))
                    .finish()
                    .unwrap()
                    .height(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
