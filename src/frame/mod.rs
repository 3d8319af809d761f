//! The canonical span table: schema, rows, inheritance, and assembly of
//! everything the scan read into one deduplicated `spans` frame and one
//! `evals` frame.

pub mod inherit;
pub mod spill;
pub mod stream;
pub mod summary;

use ahash::AHashSet;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::aliases::AliasTable;
use crate::ingest::chunk::{PendingEval, RESPONSE_ID};
use crate::ingest::resolve::{ResolveOptions, Resolver};
use crate::ingest::scan::{self, ScanOutput};
use crate::ingest::source::{self, Input};
use crate::ingest::stats::FileStats;
use crate::span::row::{EvalRow, SpanRow};
use crate::span::{build, schema};

/// How a run reads its inputs.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub table: AliasTable,
    pub resolve: ResolveOptions,
    /// Rejected records allowed before the run fails (None = unlimited).
    pub max_bad: Option<u64>,
    pub progress: bool,
    /// The lake the inputs are about to be merged into (`ingest
    /// --partition day`): its spans of the inputs' days and the day before
    /// give keys to the inputs' spans of the same traces.
    pub context_lake: Option<std::path::PathBuf>,
}

/// The loaded data and what was read.
pub struct Dataset {
    pub spans: DataFrame,
    pub evals: DataFrame,
    pub files: Vec<FileStats>,
    /// Row range of each file in `spans` (offset, len), by file index.
    pub ranges: Vec<(usize, usize)>,
    pub skipped: Vec<(String, String)>,
    /// Evaluation rows dropped as repeats of earlier ones.
    pub eval_duplicates: u64,
}

impl Dataset {
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
    /// Spans dropped as repeats of earlier ones.
    pub fn duplicates(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates).sum()
    }
}

fn polars_err(e: PolarsError) -> Error {
    Error::input(
        "<frame>",
        format!("cannot build the span table: {e}"),
        "please report this with the input that caused it",
    )
}

/// What a bounded load gives: the tables in memory, or spilled to
/// canonical Parquet files and streamed ([`spill`]).
pub enum Loaded {
    Memory(Dataset),
    Spilled(Box<spill::Spilled>),
}

/// Expand inputs, add the `<stem>.evals.parquet` sibling of an explicit
/// spans Parquet file, and read everything into memory.
pub fn load(args: &[String], opts: &LoadOptions) -> Result<Dataset> {
    let (out, skipped) = read_inputs(args, opts, None)?;
    in_memory(out, skipped, opts)
}

/// [`load`], spilling to disk once more than `bound` spans are held.
pub fn load_bounded(args: &[String], opts: &LoadOptions, bound: u64) -> Result<Loaded> {
    let mut spiller = spill::Spiller::new(bound);
    let (out, skipped) = read_inputs(args, opts, Some(&mut spiller))?;
    match spiller.into_spill() {
        Some(spill) => {
            let mut sp = spill.finish(out)?;
            sp.skipped.extend(skipped);
            check_max_bad(&sp.files, opts.max_bad)?;
            Ok(Loaded::Spilled(Box::new(sp)))
        }
        None => in_memory(out, skipped, opts).map(Loaded::Memory),
    }
}

fn in_memory(
    out: ScanOutput,
    skipped: Vec<(String, String)>,
    opts: &LoadOptions,
) -> Result<Dataset> {
    let mut ds = assemble_with(out, opts.context_lake.as_deref())?;
    ds.skipped.extend(skipped);
    check_max_bad(&ds.files, opts.max_bad)?;
    Ok(ds)
}

/// Scan every input (and the evals beside spans files); the files skipped
/// while expanding directories come back beside what was read.
fn read_inputs(
    args: &[String],
    opts: &LoadOptions,
    sink: Option<&mut dyn scan::Sink>,
) -> Result<(ScanOutput, Vec<(String, String)>)> {
    let mut expanded = source::expand(args)?;
    let mut extra = Vec::new();
    for i in &expanded.inputs {
        if let Some(sib) = i.path().and_then(evals_sibling) {
            let sib_input = Input::Path(sib);
            if !expanded.inputs.contains(&sib_input) && !extra.contains(&sib_input) {
                extra.push(sib_input);
            }
        }
    }
    expanded.inputs.extend(extra);
    let inputs = expanded.inputs;
    let progress = make_progress(&inputs, opts.progress);
    let resolver = Resolver {
        table: &opts.table,
        opts: &opts.resolve,
    };
    let out = {
        let _t = crate::timing::phase("scan");
        scan::scan_into(&inputs, &resolver, progress.as_ref(), sink)?
    };
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Ok((out, expanded.skipped))
}

/// Refuse a run with more rejected records than `--max-bad` allows.
fn check_max_bad(files: &[FileStats], max_bad: Option<u64>) -> Result<()> {
    let Some(max) = max_bad else {
        return Ok(());
    };
    let n: u64 = files.iter().map(|f| f.rejected).sum();
    if n <= max {
        return Ok(());
    }
    let first = files
        .iter()
        .find_map(|f| {
            f.rejects
                .first()
                .map(|r| format!("{}:{}: {}", f.path, r.line, r.reason))
        })
        .unwrap_or_default();
    Err(Error::TooManyRejects {
        what: format!("{n} malformed record(s), more than --max-bad {max} allows; first: {first}"),
        hint: "fix the input, or drop --strict / raise --max-bad to skip and count them".into(),
    })
}

/// The evals file `spanlens ingest` writes beside a spans file
/// (`x.parquet` -> `x.evals.parquet`), when it exists.
pub fn evals_sibling(p: &std::path::Path) -> Option<std::path::PathBuf> {
    let name = p.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".parquet")
        .filter(|s| !s.ends_with(".evals"))?;
    Some(p.with_file_name(format!("{stem}.evals.parquet"))).filter(|sib| sib.is_file())
}

fn make_progress(inputs: &[Input], enabled: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs
        .iter()
        .filter_map(|i| {
            i.path()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .sum();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} reading {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Rows per frame chunk when the span table is built from batches.
const FRAME_CHUNK_ROWS: usize = 1 << 17;

/// What assembling the spans changed, per input file.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FileCounts {
    /// spans dropped as repeats of earlier ones
    pub duplicates: u64,
    /// wrapper spans whose usage repeated their calls' (see
    /// [`inherit::inherit`])
    pub rolled_up: u64,
}

impl FileCounts {
    /// Add each file's counts to its stats.
    pub(crate) fn apply(counts: &[FileCounts], files: &mut [FileStats]) {
        for (f, c) in files.iter_mut().zip(counts) {
            f.duplicates += c.duplicates;
            f.spans = f.spans.saturating_sub(c.duplicates);
            f.rolled_up_usage_cleared += c.rolled_up;
        }
    }

    pub(crate) fn add(a: &mut [FileCounts], b: &[FileCounts]) {
        for (x, y) in a.iter_mut().zip(b) {
            x.duplicates += y.duplicates;
            x.rolled_up += y.rolled_up;
        }
    }
}

/// Drop repeated spans (first occurrence of a (trace_id, span_id) wins,
/// counted per input file), then fill inherited keys. `context` holds spans
/// of the same traces that other tables already carry (see
/// [`ContextKeys`]): they take part in inheritance and are not kept.
pub(crate) fn dedup_and_inherit(
    batches: &mut Vec<Vec<SpanRow>>,
    per_file: &mut [FileCounts],
    context: Vec<SpanRow>,
) {
    let t = crate::timing::phase("dedup");
    {
        let n: usize = batches.iter().map(Vec::len).sum();
        let mut seen: AHashSet<(&str, &str)> = AHashSet::with_capacity(n);
        let keep: Vec<Vec<bool>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|r| {
                        let fresh = seen.insert((&r.trace_id, &r.span_id));
                        if !fresh {
                            per_file[r.file as usize].duplicates += 1;
                        }
                        fresh
                    })
                    .collect()
            })
            .collect();
        drop(seen);
        for (b, k) in batches.iter_mut().zip(keep) {
            if k.iter().any(|x| !x) {
                let mut it = k.iter();
                b.retain(|_| *it.next().unwrap_or(&true));
            }
        }
        batches.retain(|b| !b.is_empty());
    }
    drop(t);
    let _t = crate::timing::phase("inherit");
    if context.is_empty() {
        inherit::inherit(batches, per_file);
    } else {
        batches.push(context);
        inherit::inherit(batches, per_file);
        batches.pop();
    }
}

/// A file index no input has: context rows count nothing in any file.
const CONTEXT_FILE: u32 = u32::MAX;

/// The traces read from exports (tonight's file), to pick the spans of
/// canonical tables (a lake's earlier days) that share a trace with them:
/// as rows, a span of a trace that began before midnight inherits its
/// route, tenant and prompt version from the root the lake holds, as it
/// would have had the trace been read in one file. Spans the exports carry
/// too are left out (the export's copy is the one kept). The keys are
/// gathered once for every table asked.
struct ContextKeys<'a> {
    traces: AHashSet<&'a str>,
    pairs: AHashSet<(&'a str, &'a str)>,
    interner: crate::ingest::resolve::Interner,
}

impl<'a> ContextKeys<'a> {
    fn new(batches: &'a [Vec<SpanRow>]) -> ContextKeys<'a> {
        ContextKeys {
            traces: batches.iter().flatten().map(|r| &*r.trace_id).collect(),
            pairs: batches
                .iter()
                .flatten()
                .map(|r| (&*r.trace_id, &*r.span_id))
                .collect(),
            interner: crate::ingest::resolve::Interner::default(),
        }
    }

    /// The spans of `df` in the exports' traces that the exports lack.
    fn rows(&mut self, df: &DataFrame) -> Result<Vec<SpanRow>> {
        if self.traces.is_empty() {
            return Ok(Vec::new());
        }
        let str_col = |name: &str| -> Result<&StringChunked> {
            df.column(name).and_then(|c| c.str()).map_err(polars_err)
        };
        let (tid, sid) = (str_col(schema::TRACE_ID)?, str_col(schema::SPAN_ID)?);
        let shared: BooleanChunked = tid
            .iter()
            .zip(sid.iter())
            .map(|(t, s)| {
                let (t, s) = (t.unwrap_or(""), s.unwrap_or(""));
                Some(self.traces.contains(t) && !self.pairs.contains(&(t, s)))
            })
            .collect();
        if !shared.any() {
            return Ok(Vec::new());
        }
        let part = df.filter(&shared).map_err(polars_err)?;
        let file = vec![CONTEXT_FILE; part.height()];
        build::rows_from_frame(&part, &file, &mut self.interner).map_err(polars_err)
    }
}

/// The spans frame of rows in batches, built a chunk at a time in
/// parallel, freeing rows as they become columns, so rows and columns are
/// never both held in full.
pub(crate) fn rows_to_frame(batches: Vec<Vec<SpanRow>>) -> Result<DataFrame> {
    let _t = crate::timing::phase("build frame");
    let mut groups: Vec<Vec<Vec<SpanRow>>> = Vec::new();
    let mut rows_in_last = usize::MAX;
    for b in batches {
        if rows_in_last >= FRAME_CHUNK_ROWS {
            groups.push(Vec::new());
            rows_in_last = 0;
        }
        rows_in_last += b.len();
        if let Some(g) = groups.last_mut() {
            g.push(b);
        }
    }
    let frames: Vec<PolarsResult<DataFrame>> = groups
        .into_par_iter()
        .map(|g| build::spans_frame(&g))
        .collect();
    let mut spans = build::spans_frame(&[]).map_err(polars_err)?;
    for f in frames {
        spans
            .vstack_mut(&f.map_err(polars_err)?)
            .map_err(polars_err)?;
    }
    Ok(spans)
}

/// The UTC day number of a time in nanoseconds.
pub fn day_of(ns: i64) -> i64 {
    ns.div_euclid(crate::window::NS_PER_DAY)
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn day_label(d: i64) -> String {
    chrono::DateTime::from_timestamp(d * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| d.to_string())
}

/// `LAKE/spans/day=YYYY-MM-DD/part-0.parquet`.
fn lake_day_file(lake: &std::path::Path, day: i64) -> std::path::PathBuf {
    lake.join("spans")
        .join(format!("day={}", day_label(day)))
        .join("part-0.parquet")
}

/// The spans of one day of a lake (`LAKE/spans/day=YYYY-MM-DD/part-0.parquet`)
/// in canonical columns, or None when the lake has no such day.
pub fn lake_day(lake: &std::path::Path, day: i64) -> Result<Option<DataFrame>> {
    let file = lake_day_file(lake, day);
    if !file.exists() {
        return Ok(None);
    }
    let bad = |e: PolarsError| {
        Error::input(
            &file,
            format!("cannot read this day of the lake: {e}"),
            "restore this file from a backup, or move it away and ingest that day's exports \
             into the lake again (--mode overwrite would replace every day)",
        )
    };
    let mut df = crate::ingest::parquet::read_file(&file)?;
    build::with_added_columns(&mut df).map_err(bad)?;
    let mut df = df
        .select(schema::SPAN_COLUMNS.iter().copied())
        .map_err(bad)?;
    build::to_canonical_types(&mut df).map_err(bad)?;
    Ok(Some(df))
}

/// Dedup (first occurrence wins), inherit, build frames.
pub fn assemble(out: ScanOutput) -> Result<Dataset> {
    assemble_with(out, None)
}

/// [`assemble`], with the spans of `lake` around the inputs' days as
/// context for inheritance.
fn assemble_with(mut out: ScanOutput, lake: Option<&std::path::Path>) -> Result<Dataset> {
    let nfiles = out.files.len();
    let mut batches = std::mem::take(&mut out.batches);
    let mut per_file = vec![FileCounts::default(); nfiles];
    let mut keys = ContextKeys::new(&batches);
    let mut context = Vec::new();
    for (_, df) in &out.span_frames {
        context.extend(keys.rows(df)?);
    }
    if let Some(lake) = lake {
        let mut days: Vec<i64> = batches
            .iter()
            .flatten()
            .map(|r| day_of(r.start_ns))
            .collect();
        days.sort_unstable();
        days.dedup();
        let mut wanted: Vec<i64> = days.iter().flat_map(|&d| [d - 1, d]).collect();
        wanted.dedup();
        // one day at a time, kept only for the inputs' traces
        for d in wanted {
            match lake_day(lake, d) {
                Ok(Some(df)) => context.extend(keys.rows(&df)?),
                Ok(None) => {}
                // a day only read for context does not stop the run
                Err(e) => out.skipped.push((
                    lake_day_file(lake, d).display().to_string(),
                    format!("not used to fill the inputs' traces: {e}"),
                )),
            }
        }
    }
    dedup_and_inherit(&mut batches, &mut per_file, context);
    let t = crate::timing::phase("build frame");
    let mut ranges = vec![(0usize, 0usize); nfiles];
    for (at, r) in batches.iter().flatten().enumerate() {
        let f = r.file as usize;
        if ranges[f].1 == 0 {
            ranges[f].0 = at;
        }
        ranges[f].1 += 1;
    }
    // Canonical Parquet inputs are deduplicated against everything before
    // them: a mask per frame, `None` where every span is new (no copy).
    let mut frame_masks: Vec<Option<BooleanChunked>> = Vec::new();
    if !out.span_frames.is_empty() {
        let mut seen: AHashSet<(&str, &str)> = batches
            .iter()
            .flatten()
            .map(|r| (&*r.trace_id, &*r.span_id))
            .collect();
        for (_, df) in &out.span_frames {
            let str_col = |name: &str| -> Result<&StringChunked> {
                df.column(name).and_then(|c| c.str()).map_err(polars_err)
            };
            let (tid, sid) = (str_col(schema::TRACE_ID)?, str_col(schema::SPAN_ID)?);
            seen.reserve(df.height());
            let mut fresh = Vec::with_capacity(df.height());
            for (t, s) in tid.iter().zip(sid.iter()) {
                fresh.push(seen.insert((t.unwrap_or(""), s.unwrap_or(""))));
            }
            frame_masks.push(if fresh.iter().all(|&f| f) {
                None
            } else {
                Some(BooleanChunked::from_slice("fresh".into(), &fresh))
            });
        }
    }
    drop(t);
    let mut spans = rows_to_frame(batches)?;
    for ((file, df), mask) in out.span_frames.into_iter().zip(frame_masks) {
        let read = df.height();
        let kept = match mask {
            Some(m) => df.filter(&m).map_err(polars_err)?,
            None => df,
        };
        per_file[file as usize].duplicates += (read - kept.height()) as u64;
        ranges[file as usize] = (spans.height(), kept.height());
        spans.vstack_mut(&kept).map_err(polars_err)?;
    }
    // Not rechunked: the chunks are large (FRAME_CHUNK_ROWS) and copying them
    // would hold the table twice.
    FileCounts::apply(&per_file, &mut out.files);
    let pending = std::mem::take(&mut out.pending_evals);
    let attached =
        attach_by_response_id(spans.clone().lazy(), pending, &mut out.files).map_err(polars_err)?;
    out.evals.extend(attached);
    let mut evals = build::evals_frame(&out.evals).map_err(polars_err)?;
    for df in out.eval_frames {
        evals.vstack_mut(&df).map_err(polars_err)?;
    }
    evals.rechunk_mut();
    let (evals, eval_duplicates) = dedup_evals(evals).map_err(polars_err)?;
    Ok(Dataset {
        spans,
        evals,
        files: out.files,
        ranges,
        skipped: out.skipped,
        eval_duplicates,
    })
}

/// Evaluations that name the response they judged, each attached to the
/// span carrying that `gen_ai.response.id` (one of them, when a retry
/// repeats it); one that no span carries stays an evaluation of the trace
/// it names, or is a rejected record of its file, on its line.
pub fn attach_by_response_id(
    spans: LazyFrame,
    pending: Vec<PendingEval>,
    files: &mut [FileStats],
) -> PolarsResult<Vec<EvalRow>> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: AHashSet<String> = pending.iter().map(|p| p.response_id.to_string()).collect();
    let rid = "__response_id";
    let found = spans
        .select([
            col(schema::TRACE_ID),
            col(schema::SPAN_ID),
            col(schema::ATTRS)
                .map(
                    move |c| build::attr_values(&c, RESPONSE_ID, rid, &|v| wanted.contains(v)),
                    |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
                )
                .alias(rid),
        ])
        .filter(col(rid).is_not_null())
        // streamed: a spilled table's attributes are never all held
        .collect_with_engine(polars::prelude::Engine::Streaming)?
        .unwrap_single();
    let (t, s, r) = (
        found.column(schema::TRACE_ID)?.str()?,
        found.column(schema::SPAN_ID)?.str()?,
        found.column(rid)?.str()?,
    );
    let mut by_response: ahash::AHashMap<&str, (&str, &str)> = ahash::AHashMap::new();
    for ((t, s), r) in t.iter().zip(s.iter()).zip(r.iter()) {
        if let (Some(t), Some(s), Some(r)) = (t, s, r) {
            by_response.entry(r).or_insert((t, s));
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    let mut rejected_in = AHashSet::new();
    for p in pending {
        let stats = &mut files[p.file as usize];
        match by_response.get(&*p.response_id) {
            Some((t, s)) => {
                let mut e = p.eval;
                e.trace_id = (*t).into();
                e.span_id = Some((*s).into());
                stats.evals += 1;
                out.push(e);
            }
            None => match p.trace_id {
                // no span has it: the evaluation of its trace, as it says
                Some(t) => {
                    let mut e = p.eval;
                    e.trace_id = t;
                    stats.evals += 1;
                    out.push(e);
                }
                None => {
                    stats.reject(
                        p.line,
                        format!(
                            "evaluation of gen_ai.response.id `{}`: no span carries that response \
                             id, and the record names no trace",
                            p.response_id
                        ),
                    );
                    rejected_in.insert(p.file);
                }
            },
        }
    }
    // rejects are listed in line order
    for f in rejected_in {
        files[f as usize].rejects.sort_by_key(|r| r.line);
    }
    Ok(out)
}

/// Drop repeated evaluation rows, as spans are: a row equal to an earlier
/// one in every column (the same export read twice) goes, the first stays.
/// Without this, two copies of an export double every pass rate's sample.
pub fn dedup_evals(evals: DataFrame) -> PolarsResult<(DataFrame, u64)> {
    let text = |c: &str| -> PolarsResult<StringChunked> {
        Ok(evals.column(c)?.cast(&DataType::String)?.str()?.clone())
    };
    let (tid, sid, name) = (
        text(schema::TRACE_ID)?,
        text(schema::SPAN_ID)?,
        text(schema::EVAL_NAME)?,
    );
    let (label, source) = (text(schema::EVAL_LABEL)?, text(schema::EVAL_SOURCE)?);
    let score = evals.column(schema::EVAL_SCORE)?.cast(&DataType::Float64)?;
    let score = score.f64()?;
    let mut seen = AHashSet::with_capacity(evals.height());
    let keep: Vec<bool> = (0..evals.height())
        .map(|i| {
            seen.insert((
                tid.get(i),
                sid.get(i),
                name.get(i),
                score.get(i).map(f64::to_bits),
                label.get(i),
                source.get(i),
            ))
        })
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count() as u64;
    if dropped == 0 {
        return Ok((evals, 0));
    }
    let out = evals.filter(&BooleanChunked::from_slice("keep".into(), &keep))?;
    Ok((out, dropped))
}
