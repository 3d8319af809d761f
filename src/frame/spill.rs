//! Large inputs that are not canonical Parquet (JSON lines, OTLP, other
//! span tables), in bounded memory (issue 7: JSONL at 10M spans in 4 GiB).
//!
//! In memory a span costs about 1.1 KiB as a row, and the reports over an
//! in-memory table about as much again. Deduplication and inheritance need
//! each trace whole, and a trace's spans can be anywhere in the input (an
//! OTLP line holds many traces, a file many interleaved ones). So once the
//! scan holds more than a bound of spans, it hands them here: each span goes,
//! by a hash of its trace id, to one of P partition files in a temporary
//! directory, and every trace lies in one partition. When the scan is done,
//! each partition is read back on its own, deduplicated and inherited
//! exactly as the in-memory loader does it (`dedup_and_inherit`),
//! sorted by start time and written as a canonical spans file. The reports
//! then stream those files as they stream a lake ([`super::stream`]), with
//! log-bucket percentiles. The directory is removed when the run ends.
//!
//! What differs from the in-memory loader: spans of canonical Parquet
//! inputs mixed with other inputs are inherited again with the rows of the
//! same trace from the other inputs (in memory they are taken as they are,
//! and only give keys to the other inputs' spans: `frame::ContextKeys`),
//! and a span found both in such a file and elsewhere keeps its first
//! occurrence in input order (in memory the non-Parquet one wins).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use rayon::prelude::*;

use super::stream;
use crate::error::{Error, Result};
use crate::ingest::chunk::Chunk;
use crate::ingest::resolve::Interner;
use crate::ingest::scan::{ScanOutput, Sink};
use crate::ingest::stats::FileStats;
use crate::span::build;
use crate::span::row::{EvalRow, SpanRow};
use crate::span::schema as s;

/// Spans held in memory above which the scan spills, unless
/// `SPANLENS_SPILL_SPANS` says otherwise (0 spills every input). At this
/// bound an in-memory report of flat JSON lines peaks at about 2.6 GB
/// (benches/RESULTS.md).
pub const SPILL_SPANS: u64 = 2_000_000;

/// Spans per partition aimed at: a partition is finished in memory, at
/// about 1.1 KiB a span as rows plus its frame.
const PART_SPANS: u64 = 400_000;
const MIN_PARTS: usize = 4;
/// Every partition's spill file stays open through the scan: at most 512
/// (a common soft limit on open files is 1,024), so inputs past about 200M
/// spans get larger partitions instead of more.
const MAX_PARTS: usize = 512;
/// Write buffer of each open spill file (a batch is written whole, so a
/// larger buffer buys nothing; 512 of them hold 128 MiB).
const SPILL_BUF: usize = 256 << 10;
/// Input file index of each spilled span (a column of the spill files only).
const FILE_COL: &str = "_file";
/// Rows per row group of the finished files: small enough that a window's
/// start_ns bounds skip most of a file sorted by start time.
const ROW_GROUP: usize = 64 * 1024;

/// The bound from the environment, else [`SPILL_SPANS`].
pub fn threshold() -> u64 {
    std::env::var("SPANLENS_SPILL_SPANS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(SPILL_SPANS)
}

/// The spilled inputs, finished and ready to stream.
pub struct Spilled {
    pub streamed: stream::Streamed,
    /// Holds the finished files; they go when it is dropped.
    pub dir: SpillDir,
    pub files: Vec<FileStats>,
    pub skipped: Vec<(String, String)>,
    /// Spans after deduplication.
    pub spans: u64,
    pub partitions: usize,
    /// Evaluation rows dropped as repeats of earlier ones.
    pub eval_duplicates: u64,
}

impl Spilled {
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
    /// Spans dropped as repeats of earlier ones.
    pub fn duplicates(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates).sum()
    }
}

/// The scan's sink: spills once more than `bound` spans are held.
pub struct Spiller {
    bound: u64,
    spill: Option<Spill>,
}

impl Spiller {
    pub fn new(bound: u64) -> Spiller {
        Spiller { bound, spill: None }
    }

    /// What was spilled, if anything was (else load in memory).
    pub fn into_spill(self) -> Option<Spill> {
        self.spill
    }
}

impl Sink for Spiller {
    fn offer(
        &mut self,
        out: &mut ScanOutput,
        current: &mut Chunk<'_>,
        read: u64,
        total: Option<u64>,
    ) -> Result<()> {
        let held = out.batches.iter().map(Vec::len).sum::<usize>()
            + current.held_rows()
            + out
                .span_frames
                .iter()
                .map(|(_, df)| df.height())
                .sum::<usize>();
        if held as u64 <= self.bound {
            return Ok(());
        }
        let spill = match &mut self.spill {
            Some(s) => s,
            None => self
                .spill
                .insert(Spill::create(partitions(held, read, total), self.bound)?),
        };
        let _t = crate::timing::phase("spill: write");
        spill.take(out, Some(current))
    }
}

/// Partitions for an input estimated from what was read so far, so each
/// holds about [`PART_SPANS`] spans (a power of two, bounded).
fn partitions(held: usize, read: u64, total: Option<u64>) -> usize {
    let est = match total {
        Some(t) if read > 0 => (held as f64 * t.max(read) as f64 / read as f64) as u64,
        _ => held as u64 * 8,
    };
    (est.div_ceil(PART_SPANS) as usize)
        .next_power_of_two()
        .clamp(MIN_PARTS, MAX_PARTS)
}

type Writer = BatchedWriter<BufWriter<File>>;

/// Spill directories are `TMPDIR/spanlens-spill-` plus a random suffix,
/// with an [`OWNER`] file their run holds a kernel lock on while it lives.
const PREFIX: &str = "spanlens-spill-";
const OWNER: &str = "owner.lock";

/// A spill directory and the lock that marks it live: removed on drop; a
/// killed run's lock goes with its process, and the next run that spills
/// removes the directory (`sweep`).
pub struct SpillDir {
    dir: tempfile::TempDir,
    _owner: File,
}

impl SpillDir {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Remove the spill directories of runs that no longer exist (killed, so
/// their directory was not removed on exit): those whose owner lock can be
/// taken. A directory without its owner file (one being created) is kept.
fn sweep(tmp: &Path) {
    crate::output::sweep_abandoned(tmp, |n| n.starts_with(PREFIX), |d| d.join(OWNER));
}

/// Close a spill file: its footer written, and every byte on disk (a
/// buffered writer's last flush can fail unseen when dropped).
fn close(w: Writer, path: &Path, root: &Path) -> Result<()> {
    let size = w.finish().map_err(|e| spill_error(root, e))?;
    drop(w);
    let on_disk = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if on_disk != size {
        return Err(spill_error(
            root,
            format!(
                "{} holds {on_disk} of the {size} bytes written (is the disk full?)",
                path.display()
            ),
        ));
    }
    Ok(())
}

struct Part {
    path: PathBuf,
    writer: Option<Writer>,
}

/// Spans spilled to partition files, and the evals beside them.
pub struct Spill {
    dir: SpillDir,
    hasher: ahash::RandomState,
    parts: Vec<Part>,
    spans_schema: Schema,
    evals_path: PathBuf,
    evals: Option<Writer>,
    evals_schema: Schema,
    /// The spill bound, which also bounds partitions finished at once.
    bound_spans: u64,
}

fn spill_error(dir: &Path, what: impl std::fmt::Display) -> Error {
    Error::output(
        dir,
        format!("cannot write the spill files of a large input: {what}"),
        "spanlens spills inputs over SPANLENS_SPILL_SPANS spans to TMPDIR; set TMPDIR to a \
         writable directory with free space about the input's size",
    )
}

fn writer(path: &Path, schema: &Schema, dir: &Path) -> Result<Writer> {
    let f = File::create(path).map_err(|e| spill_error(dir, crate::error::io_text(&e)))?;
    ParquetWriter::new(BufWriter::with_capacity(SPILL_BUF, f))
        .with_compression(ParquetCompression::Lz4Raw)
        .with_statistics(StatisticsOptions::full())
        .batched(schema)
        .map_err(|e| spill_error(dir, e))
}

/// `df`'s columns cast to `schema` where their types differ.
fn conform(df: DataFrame, schema: &Schema) -> PolarsResult<DataFrame> {
    let names: Vec<PlSmallStr> = schema.iter_names().cloned().collect();
    let mut df = df.select(names)?;
    for (name, dtype) in schema.iter() {
        let c = df.column(name)?;
        if c.dtype() != dtype {
            let cast = c.cast(dtype)?;
            df.with_column(cast)?;
        }
    }
    Ok(df)
}

impl Spill {
    fn create(parts: usize, bound_spans: u64) -> Result<Spill> {
        let tmp = std::env::temp_dir();
        sweep(&tmp);
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(&tmp)
            .map_err(|e| spill_error(&tmp, crate::error::io_text(&e)))?;
        let root = dir.path().to_path_buf();
        let io = |e: std::io::Error| spill_error(&root, crate::error::io_text(&e));
        let owner = File::create(root.join(OWNER)).map_err(io)?;
        crate::output::try_lock(&owner).map_err(io)?;
        let dir = SpillDir { dir, _owner: owner };
        for sub in ["spill", "spans"] {
            std::fs::create_dir(root.join(sub))
                .map_err(|e| spill_error(&root, crate::error::io_text(&e)))?;
        }
        let mut spans_schema = (*build::spans_frame(&[])
            .map_err(|e| spill_error(&root, e))?
            .schema())
        .as_ref()
        .clone();
        spans_schema.insert(FILE_COL.into(), DataType::UInt32);
        let evals_schema = build::evals_frame(&[])
            .map_err(|e| spill_error(&root, e))?
            .schema()
            .as_ref()
            .clone();
        let mut list = Vec::with_capacity(parts);
        for k in 0..parts {
            let path = root.join("spill").join(format!("part-{k:04}.parquet"));
            list.push(Part {
                writer: Some(writer(&path, &spans_schema, &root)?),
                path,
            });
        }
        let evals_path = root.join("evals.parquet");
        let evals = Some(writer(&evals_path, &evals_schema, &root)?);
        Ok(Spill {
            dir,
            // fixed seeds: the same trace goes to the same partition in
            // every run, so a run's files are reproducible
            hasher: ahash::RandomState::with_seeds(
                0x7370_616e,
                0x6c65_6e73,
                0x7370_696c,
                0x6c21_2121,
            ),
            parts: list,
            spans_schema,
            evals_path,
            evals,
            evals_schema,
            bound_spans,
        })
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn part_of(&self, trace_id: &str) -> usize {
        (self.hasher.hash_one(trace_id) % self.parts.len() as u64) as usize
    }

    /// Spill everything `out` and `current` hold.
    fn take(&mut self, out: &mut ScanOutput, current: Option<&mut Chunk<'_>>) -> Result<()> {
        let mut batches = std::mem::take(&mut out.batches);
        let mut evals = std::mem::take(&mut out.evals);
        if let Some(c) = current {
            c.hand_over_rows(&mut batches);
            evals.append(&mut c.evals);
        }
        self.write_rows(batches)?;
        for (file, df) in std::mem::take(&mut out.span_frames) {
            self.write_frame(file, df)?;
        }
        self.write_evals(&evals)?;
        drop(evals);
        for df in std::mem::take(&mut out.eval_frames) {
            let root = self.root().to_path_buf();
            let df = conform(df, &self.evals_schema).map_err(|e| spill_error(&root, e))?;
            self.write_evals_frame(&df)?;
        }
        Ok(())
    }

    /// Rows to their partitions, each partition's frame built and written
    /// in parallel.
    fn write_rows(&mut self, batches: Vec<Vec<SpanRow>>) -> Result<()> {
        let p = self.parts.len();
        let index: Vec<Vec<u32>> = batches
            .par_iter()
            .map(|b| b.iter().map(|r| self.part_of(&r.trace_id) as u32).collect())
            .collect();
        let mut counts = vec![0usize; p];
        for &k in index.iter().flatten() {
            counts[k as usize] += 1;
        }
        let mut per: Vec<Vec<SpanRow>> = counts.iter().map(|&n| Vec::with_capacity(n)).collect();
        for (b, idx) in batches.into_iter().zip(index) {
            for (r, k) in b.into_iter().zip(idx) {
                per[k as usize].push(r);
            }
        }
        let root = self.root().to_path_buf();
        self.parts
            .par_iter_mut()
            .zip(per.into_par_iter())
            .try_for_each(|(part, rows)| {
                if rows.is_empty() {
                    return Ok(());
                }
                let file: Vec<u32> = rows.iter().map(|r| r.file).collect();
                let mut df = build::spans_frame(std::slice::from_ref(&rows))
                    .map_err(|e| spill_error(&root, e))?;
                drop(rows);
                df.with_column(Column::new(FILE_COL.into(), file))
                    .map_err(|e| spill_error(&root, e))?;
                part.write(&df, &root)
            })
    }

    /// A canonical Parquet input's frame to the partitions.
    fn write_frame(&mut self, file: u32, df: DataFrame) -> Result<()> {
        let root = self.root().to_path_buf();
        let err = |e: PolarsError| spill_error(&root, e);
        let n = df.height();
        let mut df = df;
        df.with_column(Column::new(FILE_COL.into(), vec![file; n]))
            .map_err(err)?;
        let df = conform(df, &self.spans_schema).map_err(err)?;
        let ids = df
            .column(s::TRACE_ID)
            .and_then(|c| c.str().cloned())
            .map_err(err)?;
        let index: Vec<usize> = ids.iter().map(|t| self.part_of(t.unwrap_or(""))).collect();
        for k in 0..self.parts.len() {
            let mask: BooleanChunked = index.iter().map(|&i| i == k).collect();
            let part = df.filter(&mask).map_err(err)?;
            if part.height() > 0 {
                let mut part = part;
                part.rechunk_mut();
                self.parts[k].write(&part, &root)?;
            }
        }
        Ok(())
    }

    fn write_evals(&mut self, evals: &[EvalRow]) -> Result<()> {
        if evals.is_empty() {
            return Ok(());
        }
        let root = self.root().to_path_buf();
        let df = build::evals_frame(evals).map_err(|e| spill_error(&root, e))?;
        self.write_evals_frame(&df)
    }

    fn write_evals_frame(&mut self, df: &DataFrame) -> Result<()> {
        let root = self.root().to_path_buf();
        match &mut self.evals {
            Some(w) => {
                let mut df = df.clone();
                df.rechunk_mut();
                w.write_batch(&df).map_err(|e| spill_error(&root, e))
            }
            None => Err(spill_error(&root, "the evals file is already closed")),
        }
    }

    /// Spill what the scan left, finish every partition and open the result
    /// for streaming.
    pub fn finish(mut self, mut out: ScanOutput) -> Result<Spilled> {
        let _t = crate::timing::phase("spill: finish partitions");
        let pending = std::mem::take(&mut out.pending_evals);
        self.take(&mut out, None)?;
        let root = self.root().to_path_buf();
        let err = |e: PolarsError| spill_error(&root, e);
        if let Some(w) = self.evals.take() {
            close(w, &self.evals_path, &root)?;
        }
        for part in &mut self.parts {
            if let Some(w) = part.writer.take() {
                close(w, &part.path, &root)?;
            }
        }
        let mut files = out.files;
        let nfiles = files.len();
        let spans_dir = root.join("spans");
        // Partitions are finished a few at a time in parallel: each is
        // mostly one thread's work (dedup, inheritance), and each in flight
        // holds its rows, so no more run at once than the bound allows.
        let at_once = (self.bound_spans / PART_SPANS).clamp(1, rayon::current_num_threads() as u64);
        let mut per_file = vec![super::FileCounts::default(); nfiles];
        let mut spans = 0u64;
        let indexed: Vec<(usize, &Part)> = self.parts.iter().enumerate().collect();
        for group in indexed.chunks(at_once as usize) {
            let done: Vec<Result<(u64, Vec<super::FileCounts>)>> = group
                .par_iter()
                .map(|&(k, part)| {
                    finish_part(
                        part,
                        &spans_dir.join(format!("part-{k:04}.parquet")),
                        nfiles,
                        &root,
                    )
                })
                .collect();
            for d in done {
                let (n, dups) = d?;
                spans += n;
                super::FileCounts::add(&mut per_file, &dups);
            }
        }
        super::FileCounts::apply(&per_file, &mut files);
        let inputs = [
            spans_dir.display().to_string(),
            self.evals_path.display().to_string(),
        ];
        let streamed = if spans > 0 {
            stream::open(&inputs, 0)?
        } else {
            None
        };
        let mut streamed = match streamed {
            Some(st) => st,
            None => stream::Streamed {
                spans: build::spans_frame(&[]).map_err(err)?.lazy(),
                evals: build::evals_frame(&[]).map_err(err)?.lazy(),
                files: 0,
                span_rows: 0,
            },
        };
        // evaluations are deduplicated as in memory (they are few beside
        // the spans: held whole)
        let mut evals = File::open(&self.evals_path)
            .map_err(|e| spill_error(&root, crate::error::io_text(&e)))
            .and_then(|f| ParquetReader::new(f).finish().map_err(err))?;
        let attached = super::attach_by_response_id(streamed.spans.clone(), pending, &mut files)
            .map_err(err)?;
        if !attached.is_empty() {
            let df = build::evals_frame(&attached).map_err(err)?;
            let df = conform(df, &self.evals_schema).map_err(err)?;
            evals.vstack_mut(&df).map_err(err)?;
        }
        let (evals, eval_duplicates) = super::dedup_evals(evals).map_err(err)?;
        streamed.evals = evals.lazy();
        Ok(Spilled {
            eval_duplicates,
            streamed,
            partitions: self.parts.len(),
            dir: self.dir,
            files,
            skipped: out.skipped,
            spans,
        })
    }
}

/// One partition read back, deduplicated, inherited, sorted by start time
/// and written to `dest`: its span count and what changed per input file.
fn finish_part(
    part: &Part,
    dest: &Path,
    nfiles: usize,
    root: &Path,
) -> Result<(u64, Vec<super::FileCounts>)> {
    let err = |e: PolarsError| spill_error(root, e);
    let io = |e: std::io::Error| spill_error(root, crate::error::io_text(&e));
    let mut per_file = vec![super::FileCounts::default(); nfiles];
    let df = File::open(&part.path)
        .map_err(io)
        .and_then(|f| ParquetReader::new(f).finish().map_err(err))?;
    let _ = std::fs::remove_file(&part.path);
    if df.height() == 0 {
        return Ok((0, per_file));
    }
    let file: Vec<u32> = df
        .column(FILE_COL)
        .and_then(|c| c.u32().cloned())
        .map_err(err)?
        .iter()
        .map(|f| f.unwrap_or(0))
        .collect();
    if file.iter().any(|&f| f as usize >= nfiles) {
        return Err(spill_error(root, "a spilled span names no input file"));
    }
    let mut interner = Interner::default();
    let rows = build::rows_from_frame(&df, &file, &mut interner).map_err(err)?;
    drop((df, file, interner));
    let mut batches = vec![rows];
    super::dedup_and_inherit(&mut batches, &mut per_file, Vec::new());
    let mut frame = super::rows_to_frame(batches)?
        .sort(
            [s::START_NS],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 20, File::create(dest).map_err(io)?);
    ParquetWriter::new(&mut w)
        .with_compression(ParquetCompression::Lz4Raw)
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP))
        .finish(&mut frame)
        .map_err(err)?;
    w.flush().map_err(io)?;
    Ok((frame.height() as u64, per_file))
}

impl Part {
    fn write(&mut self, df: &DataFrame, root: &Path) -> Result<()> {
        match &mut self.writer {
            Some(w) => w.write_batch(df).map_err(|e| spill_error(root, e)),
            None => Err(spill_error(root, "a partition file is already closed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_estimated_input_size() {
        // 2M spans held after a tenth of the input: ~20M spans, 50 -> 64
        assert_eq!(partitions(2_000_000, 600, Some(6_000)), 64);
        // whole input read: 2M / 400K = 5 -> 8
        assert_eq!(partitions(2_000_000, 6_000, Some(6_000)), 8);
        // unknown size (stdin): 8x what is held
        assert_eq!(partitions(1_000, 10, None), MIN_PARTS);
        assert_eq!(partitions(1_000_000, 10, None), 32);
        // 300M spans would want 750 -> 1024: capped at 512 open files
        assert_eq!(partitions(300_000_000, 1, Some(1)), 512);
        assert_eq!(partitions(usize::MAX / 16, 1, Some(1 << 40)), MAX_PARTS);
    }
}
