//! `spanlens ingest IN... -o spans.parquet [--partition day]`

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{to_stderr, to_stdout, Context};
use crate::cli::{IngestArgs, LakeMode, Partition, SummaryFormat};
use crate::error::{Error, Result};
use crate::frame::{self, summary};
use crate::output::{parent_dir, refuse_input_as_output, replace_dir, write_atomic, DirLock};
use crate::report;
use crate::span::schema as s;

/// Marks a directory written by `ingest --partition`.
pub const MARKER: &str = "_spanlens.json";

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
    refuse_input_as_output(&args.output, &args.input.inputs, &ctx.reads(&[]))?;
    refuse_input_as_output(
        &evals_path(&args.output),
        &args.input.inputs,
        &ctx.reads(&[]),
    )?;
    let mut opts = ctx.load_options(&args.input)?;
    // merging into a lake: a trace that began on a day the lake holds
    // gives its keys to tonight's spans of it. The lake is locked (and a
    // killed run's swap repaired) before it is read.
    let merging = args.partition.is_some() && args.mode == LakeMode::Merge;
    let mut lock = None;
    if merging && args.output.exists() {
        lock = Some(lock_lake(&args.output)?);
        if lake_exists(&args.output)? {
            opts.context_lake = Some(args.output.clone());
        }
    }
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
    let mut lake = None;
    let written: Vec<(PathBuf, usize)> = match args.partition {
        None => {
            let ep = evals_path(&args.output);
            write_atomic(&args.output, |w| write_parquet(&mut spans, w))?;
            write_atomic(&ep, |w| write_parquet(&mut evals, w))?;
            vec![(args.output.clone(), spans.height()), (ep, evals.height())]
        }
        Some(Partition::Day) => {
            let _lock = match lock.take() {
                Some(l) => l,
                None => lock_lake(&args.output)?,
            };
            let existing = lake_exists(&args.output)?;
            if existing && args.mode == LakeMode::Merge {
                let (w, l) = merge_partitioned(&args.output, &spans, &evals)?;
                lake = Some(l);
                w
            } else {
                write_partitioned(&args.output, &mut spans, &mut evals, &sum)?
            }
        }
    };
    match args.format {
        SummaryFormat::Json => {
            to_stdout(|w| report::summary::ingest_json(&sum, &written, lake.as_ref(), w))?
        }
        SummaryFormat::Text if !ctx.quiet => to_stderr(|w| {
            report::summary::ingest_text(&sum, w)?;
            if let Some(l) = &lake {
                writeln!(w, "{}", l.sentence())?;
            }
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

/// Staging directories of `--partition` writes: `PARENT/.spanlens-partition-*`,
/// with an [`OWNER`] file their run holds a kernel lock on.
const STAGING: &str = ".spanlens-partition-";
const OWNER: &str = ".owner.lock";

/// Remove the staging directories in `parent` of runs that were killed.
fn sweep_staging(parent: &Path) {
    crate::output::sweep_abandoned(parent, |n| n.starts_with(STAGING), |d| d.join(OWNER));
}

/// What a merge into an existing lake did, by day (`YYYY-MM-DD`).
#[derive(Debug, Default, serde::Serialize)]
pub struct LakeChange {
    /// days the lake did not hold
    pub written: Vec<String>,
    /// days merged with the spans already there
    pub replaced: Vec<String>,
    /// days of the lake this input did not touch
    pub kept: Vec<String>,
    /// spans of the input already in the lake (kept once)
    pub duplicates: u64,
}

impl LakeChange {
    pub fn sentence(&self) -> String {
        format!(
            "lake: {} day(s) written, {} replaced (merged), {} kept; {} span(s) already in the lake",
            self.written.len(),
            self.replaced.len(),
            self.kept.len(),
            self.duplicates
        )
    }
}

/// Whether `dest` is an existing, non-empty lake spanlens wrote (an
/// existing directory it did not write is refused, never replaced).
fn lake_exists(dest: &Path) -> Result<bool> {
    if !dest.exists() {
        return Ok(false);
    }
    let empty = std::fs::read_dir(dest)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty {
        return Ok(false);
    }
    if !dest.join(MARKER).exists() {
        return Err(Error::output(
            dest,
            "exists and was not written by spanlens",
            "choose a new directory for --partition output, or remove this one",
        ));
    }
    Ok(true)
}

/// One lock for the whole write of a lake, beside it (an overwrite swaps
/// the lake), taken before any repair or sweep; then a killed run's swap
/// is repaired and its staging swept.
fn lock_lake(lake: &Path) -> Result<DirLock> {
    let parent = parent_dir(lake);
    std::fs::create_dir_all(&parent).map_err(|e| Error::output_io(&parent, &e))?;
    let name = lake.file_name().and_then(|n| n.to_str()).unwrap_or("lake");
    let lock = DirLock::at(parent.join(format!(".{name}.spanlens-lake.lock")), lake)?;
    crate::output::recover_dir(lake);
    sweep_staging(&parent);
    Ok(lock)
}

/// The UTC day number of every span.
fn span_days(spans: &DataFrame) -> PolarsResult<Vec<i64>> {
    Ok(spans
        .column(s::START_NS)?
        .i64()?
        .iter()
        .map(|t| frame::day_of(t.unwrap_or(0)))
        .collect())
}

/// Merge the input into an existing lake, a day at a time: each day of the
/// input is its old rows plus the input's rows not already there (by trace
/// and span id), written to a temporary file and renamed over the day's
/// file, so a kill at any moment leaves each day old or new. The
/// evaluations (one table) are merged first: a kill between the two leaves
/// evaluations of spans not written yet, which match nothing, never spans
/// without theirs. Days the input does not hold are not touched. The caller
/// holds the lake's lock.
fn merge_partitioned(
    dest: &Path,
    spans: &DataFrame,
    evals: &DataFrame,
) -> Result<(Vec<(PathBuf, usize)>, LakeChange)> {
    let perr = |e: PolarsError| Error::output(dest, e.to_string(), "");
    let mut written = Vec::new();
    let mut change = LakeChange::default();
    // evaluations
    let epath = dest.join("evals").join("part-0.parquet");
    let mut all_evals = if epath.exists() {
        crate::span::build::evals_as_text(crate::ingest::parquet::read_file(&epath)?)
            .map_err(perr)?
    } else {
        crate::span::build::evals_frame(&[]).map_err(perr)?
    };
    all_evals.vstack_mut(evals).map_err(perr)?;
    let (mut all_evals, _) = frame::dedup_evals(all_evals).map_err(perr)?;
    std::fs::create_dir_all(parent_dir(&epath)).map_err(|e| Error::output_io(&epath, &e))?;
    write_atomic(&epath, |w| write_parquet(&mut all_evals, w))?;
    written.push((epath, all_evals.height()));
    // spans, a day at a time
    let days = span_days(spans).map_err(perr)?;
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut touched = std::collections::BTreeSet::new();
    let mut added = 0u64;
    for d in distinct {
        let label = frame::day_label(d);
        touched.insert(format!("day={label}"));
        let mask: BooleanChunked = days.iter().map(|x| Some(*x == d)).collect();
        let new = spans.filter(&mask).map_err(perr)?;
        let dir = dest.join("spans").join(format!("day={label}"));
        let file = dir.join("part-0.parquet");
        let mut part = if let Some(mut old) = frame::lake_day(dest, d)? {
            let ids = |df: &DataFrame| -> PolarsResult<Vec<(String, String)>> {
                let (t, sp) = (
                    df.column(s::TRACE_ID)?.str()?,
                    df.column(s::SPAN_ID)?.str()?,
                );
                Ok(t.iter()
                    .zip(sp.iter())
                    .map(|(a, b)| (a.unwrap_or("").to_string(), b.unwrap_or("").to_string()))
                    .collect())
            };
            let seen: ahash::AHashSet<(String, String)> =
                ids(&old).map_err(perr)?.into_iter().collect();
            let fresh: BooleanChunked = ids(&new)
                .map_err(perr)?
                .iter()
                .map(|k| Some(!seen.contains(k)))
                .collect();
            let fresh = new.filter(&fresh).map_err(perr)?;
            change.duplicates += (new.height() - fresh.height()) as u64;
            added += fresh.height() as u64;
            old.vstack_mut(&fresh).map_err(perr)?;
            change.replaced.push(label.clone());
            old
        } else {
            added += new.height() as u64;
            change.written.push(label.clone());
            new
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::output_io(&dir, &e))?;
        write_atomic(&file, |w| write_parquet(&mut part, w))?;
        written.push((file, part.height()));
    }
    if let Ok(entries) = std::fs::read_dir(dest.join("spans")) {
        let mut kept: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with("day=") && !touched.contains(n))
            .map(|n| n["day=".len()..].to_string())
            .collect();
        kept.sort();
        change.kept = kept;
    }
    // the marker's totals, last
    let marker_path = dest.join(MARKER);
    let old: serde_json::Value = std::fs::read(&marker_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let marker = serde_json::json!({
        "written_by": format!("spanlens {}", env!("CARGO_PKG_VERSION")),
        "partition": "day",
        "spans": old["spans"].as_u64().unwrap_or(0) + added,
        "evals": all_evals.height(),
    });
    write_atomic(&marker_path, |w| {
        serde_json::to_writer_pretty(&mut *w, &marker).map_err(std::io::Error::from)
    })?;
    Ok((written, change))
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
        .prefix(STAGING)
        .tempdir_in(&parent)
        .map_err(|e| Error::output_io(dest, &e))?;
    let root = staging.path();
    // live while this run is: a killed run's staging goes at the next run
    let owner_path = root.join(OWNER);
    let owner = std::fs::File::create(&owner_path).map_err(|e| Error::output_io(dest, &e))?;
    crate::output::try_lock(&owner).map_err(|e| Error::output_io(dest, &e))?;
    let perr = |e: PolarsError| Error::output(dest, e.to_string(), "");
    let days = span_days(spans).map_err(perr)?;
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut written = Vec::new();
    for d in distinct {
        let mask: BooleanChunked = days.iter().map(|x| Some(*x == d)).collect();
        let mut part = spans.filter(&mask).map_err(perr)?;
        let label = frame::day_label(d);
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
    let _ = std::fs::remove_file(&owner_path);
    let staging_path = staging.keep();
    replace_dir(&staging_path, dest).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging_path);
    })?;
    drop(owner);
    Ok(written)
}
