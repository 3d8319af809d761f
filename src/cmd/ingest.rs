//! `spanlens ingest IN... -o spans.parquet [--partition day]`

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{to_stderr, to_stdout, Context};
use crate::cli::{IngestArgs, Partition, SummaryFormat};
use crate::error::{Error, Result};
use crate::frame::{self, schema as s, summary};
use crate::output::{parent_dir, refuse_input_as_output, replace_dir, write_atomic};
use crate::report;

/// Marks a directory written by `ingest --partition`.
pub const MARKER: &str = "_spanlens.json";

const NS_PER_DAY: i64 = 86_400_000_000_000;

fn write_parquet(df: &mut DataFrame, w: &mut dyn Write) -> std::io::Result<()> {
    let _t = crate::timing::phase("write parquet");
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .finish(df)
        .map(|_| ())
        .map_err(std::io::Error::other)
}

/// `<stem>.evals.parquet` beside `spans.parquet`.
pub fn evals_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("spans.parquet");
    let stem = name.strip_suffix(".parquet").unwrap_or(name);
    out.with_file_name(format!("{stem}.evals.parquet"))
}

pub fn run(args: IngestArgs, ctx: &Context) -> Result<i32> {
    refuse_input_as_output(&args.output, &args.input.inputs)?;
    let opts = ctx.load_options(&args.input)?;
    let ds = frame::load(&args.input.inputs, &opts)?;
    let t = crate::timing::phase("summarize");
    let sum = summary::summarize(&ds, &opts.table, 20)
        .map_err(|e| Error::output(&args.output, e.to_string(), ""))?;
    drop(t);
    if ds.spans.height() == 0 {
        // nothing to write: an empty table would pass for a day's export
        if !ctx.quiet {
            to_stderr(|w| report::summary::ingest_text(&sum, w));
        }
        return Err(Error::no_data(
            format!(
                "no span read from the inputs ({} file(s), {} malformed record(s) skipped); \
                 nothing written",
                ds.files.len(),
                ds.rejected()
            ),
            "check that the inputs are trace exports (spanlens inspect IN shows what each file holds)",
        ));
    }
    let mut spans = ds.spans;
    let mut evals = ds.evals;
    let written: Vec<(PathBuf, usize)> = match args.partition {
        None => {
            let ep = evals_path(&args.output);
            write_atomic(&args.output, |w| write_parquet(&mut spans, w))?;
            write_atomic(&ep, |w| write_parquet(&mut evals, w))?;
            vec![(args.output.clone(), spans.height()), (ep, evals.height())]
        }
        Some(Partition::Day) => write_partitioned(&args.output, &mut spans, &mut evals, &sum)?,
    };
    match args.format {
        SummaryFormat::Json => to_stdout(|w| report::summary::ingest_json(&sum, &written, w))?,
        SummaryFormat::Text if !ctx.quiet => to_stderr(|w| {
            report::summary::ingest_text(&sum, w)?;
            for (p, n) in &written {
                writeln!(
                    w,
                    "wrote {} ({} rows)",
                    p.display(),
                    report::format::int(*n as u64)
                )?;
            }
            Ok(())
        }),
        SummaryFormat::Text => {}
    }
    Ok(crate::exit::OK)
}

fn write_partitioned(
    dest: &Path,
    spans: &mut DataFrame,
    evals: &mut DataFrame,
    sum: &summary::RunSummary,
) -> Result<Vec<(PathBuf, usize)>> {
    let parent = parent_dir(dest);
    std::fs::create_dir_all(&parent).map_err(|e| Error::output_io(&parent, &e))?;
    let staging = tempfile::Builder::new()
        .prefix(".spanlens-partition-")
        .tempdir_in(&parent)
        .map_err(|e| Error::output_io(dest, &e))?;
    let root = staging.path();
    let perr = |e: PolarsError| Error::output(dest, e.to_string(), "");
    let days: Vec<i64> = spans
        .column(s::START_NS)
        .map_err(perr)?
        .i64()
        .map_err(perr)?
        .iter()
        .map(|t| t.unwrap_or(0).div_euclid(NS_PER_DAY))
        .collect();
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut written = Vec::new();
    for d in distinct {
        let mask: BooleanChunked = days.iter().map(|x| Some(*x == d)).collect();
        let mut part = spans.filter(&mask).map_err(perr)?;
        let label = chrono::DateTime::from_timestamp(d * 86_400, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| d.to_string());
        let dir = root.join("spans").join(format!("day={label}"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::output_io(&dir, &e))?;
        let file = dir.join("part-0.parquet");
        write_atomic(&file, |w| write_parquet(&mut part, w))?;
        written.push((
            dest.join("spans")
                .join(format!("day={label}"))
                .join("part-0.parquet"),
            part.height(),
        ));
    }
    let edir = root.join("evals");
    std::fs::create_dir_all(&edir).map_err(|e| Error::output_io(&edir, &e))?;
    write_atomic(&edir.join("part-0.parquet"), |w| write_parquet(evals, w))?;
    written.push((dest.join("evals").join("part-0.parquet"), evals.height()));
    let marker = serde_json::json!({
        "written_by": format!("spanlens {}", env!("CARGO_PKG_VERSION")),
        "partition": "day",
        "spans": sum.spans,
        "evals": sum.evals,
    });
    write_atomic(&root.join(MARKER), |w| {
        serde_json::to_writer_pretty(&mut *w, &marker).map_err(std::io::Error::other)
    })?;
    let staging_path = staging.keep();
    replace_dir(&staging_path, dest).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging_path);
    })?;
    Ok(written)
}
