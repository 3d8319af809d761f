//! The scan: every input read once, JSON lines parsed in parallel blocks,
//! each span resolved to a canonical row. Rejected records are counted with
//! their line; nothing is dropped silently.

use std::io::{BufRead, Read};
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::chunk::{Chunk, PendingEval};
use super::json::Val;
use super::resolve::{ResolveOptions, Resolver};
use super::source::{self, Input};
use super::stats::FileStats;
use super::{flat, otlp, parquet};
use crate::error::{Error, Result};
use crate::span::row::{EvalRow, SpanRow};

/// Longest accepted JSON line; a longer one is rejected and skipped.
pub const MAX_LINE: usize = 256 << 20;
/// Largest single JSON document (a file that is not JSON lines).
pub const MAX_DOCUMENT: u64 = 2 << 30;
const BLOCK: usize = 16 << 20;
const PIECE: usize = 1 << 20;

/// A JSON error as a sentence: what went wrong, the parser's message
/// without its position (or the input excerpt sonic-rs appends, which may
/// hold hostile text; the line is reported beside the reason) and the column.
fn json_sentence(what: &str, msg: &str, column: usize) -> String {
    let detail = msg.split(" at line ").next().unwrap_or(msg).trim();
    format!("{what} ({detail}, column {column})")
}

/// A serde_json error as a sentence without its Debug form.
pub fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected JSON shape",
        serde_json::error::Category::Io => "read error",
    };
    json_sentence(what, &e.to_string(), e.column())
}

/// A sonic-rs error (the line parsers) as the same kind of sentence.
fn fast_json_error(e: &sonic_rs::Error) -> String {
    let what = match e.classify() {
        sonic_rs::error::Category::Eof => "truncated JSON",
        sonic_rs::error::Category::Syntax => "invalid JSON",
        sonic_rs::error::Category::Io => "read error",
        _ => "unexpected JSON shape",
    };
    json_sentence(what, &e.to_string(), e.column())
}

/// Parse one JSON line with the SIMD parser (measured ~17% faster than
/// serde_json on OTLP lines; benches/RESULTS.md).
pub fn parse_line<'de, T: serde::Deserialize<'de>>(
    line: &'de [u8],
) -> std::result::Result<T, String> {
    sonic_rs::from_slice(line).map_err(|e| fast_json_error(&e))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LineKind {
    Otlp,
    Flat,
}

/// Everything the scan read.
#[derive(Default)]
pub struct ScanOutput {
    /// Resolved rows in input order, in batches.
    pub batches: Vec<Vec<SpanRow>>,
    pub evals: Vec<EvalRow>,
    /// Evaluations to attach by response id once every span is known.
    pub pending_evals: Vec<PendingEval>,
    /// Canonical Parquet inputs, read as frames (already inherited).
    pub span_frames: Vec<(u32, polars::prelude::DataFrame)>,
    pub eval_frames: Vec<polars::prelude::DataFrame>,
    pub files: Vec<FileStats>,
    pub skipped: Vec<(String, String)>,
}

/// Where the scan hands what it holds, after each block of lines and each
/// file, so a large input need not be held whole (`frame::spill`).
pub trait Sink {
    /// `out` holds what earlier inputs gave, `current` what the file being
    /// read gave so far; the sink may take rows and evals from both.
    /// `read` is the input bytes consumed so far (compressed, as on disk),
    /// `total` all the inputs' bytes when known (not for stdin).
    fn offer(
        &mut self,
        out: &mut ScanOutput,
        current: &mut Chunk<'_>,
        read: u64,
        total: Option<u64>,
    ) -> Result<()>;
}

/// Read every input. `progress` is advanced by compressed bytes consumed.
pub fn scan(
    inputs: &[Input],
    resolver: &Resolver<'_>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<ScanOutput> {
    scan_into(inputs, resolver, progress, None)
}

/// [`scan`], offering what it holds to `sink` as it goes.
pub fn scan_into(
    inputs: &[Input],
    resolver: &Resolver<'_>,
    progress: Option<&indicatif::ProgressBar>,
    mut sink: Option<&mut dyn Sink>,
) -> Result<ScanOutput> {
    let mut out = ScanOutput::default();
    let sizes: Vec<Option<u64>> = inputs
        .iter()
        .map(|i| {
            i.path()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .collect();
    let total: Option<u64> = sizes.iter().copied().sum();
    let mut before = 0u64;
    for (i, input) in inputs.iter().enumerate() {
        let file = i as u32;
        let opened = source::open(input)?;
        let mut stats = FileStats::new(&input.display(), resolver.table);
        stats.compression = opened.compression;
        if opened.is_parquet {
            let path = input.path().expect("parquet inputs are files");
            stats.format = "parquet".into();
            stats.bytes = opened.size.unwrap_or(0);
            drop(opened);
            let mut chunk = Chunk::new(resolver, file);
            parquet::read(path, &mut chunk, &mut out)?;
            stats.format = std::mem::take(&mut chunk.stats.format);
            chunk.hand_over_rows(&mut out.batches);
            stats.merge(chunk.stats);
            out.evals.extend(chunk.evals);
            out.pending_evals.extend(chunk.pending_evals);
            if let Some(p) = progress {
                p.inc(stats.bytes);
            }
            out.files.push(stats);
            before += sizes[i].unwrap_or(0);
            if let Some(s) = sink.as_deref_mut() {
                s.offer(&mut out, &mut Chunk::new(resolver, file), before, total)?;
            }
            continue;
        }
        let feed = Feed {
            sink: sink.as_deref_mut(),
            out: &mut out,
            before,
            total,
        };
        let mut chunk = read_json(input, opened, resolver, file, &mut stats, progress, feed)?;
        chunk.hand_over_rows(&mut out.batches);
        stats.merge(chunk.stats);
        out.evals.extend(chunk.evals);
        out.pending_evals.extend(chunk.pending_evals);
        out.files.push(stats);
        before += sizes[i].unwrap_or(0);
        if let Some(s) = sink.as_deref_mut() {
            s.offer(&mut out, &mut Chunk::new(resolver, file), before, total)?;
        }
    }
    Ok(out)
}

/// The sink as one file's reader sees it.
struct Feed<'s, 'k> {
    sink: Option<&'s mut (dyn Sink + 'k)>,
    out: &'s mut ScanOutput,
    /// Bytes of the inputs before this one.
    before: u64,
    total: Option<u64>,
}

impl Feed<'_, '_> {
    fn offer(&mut self, current: &mut Chunk<'_>, read: u64) -> Result<()> {
        match self.sink.as_deref_mut() {
            Some(s) => s.offer(self.out, current, self.before + read, self.total),
            None => Ok(()),
        }
    }
}

fn read_json<'r>(
    input: &Input,
    opened: source::Opened,
    resolver: &'r Resolver<'r>,
    file: u32,
    stats: &mut FileStats,
    progress: Option<&indicatif::ProgressBar>,
    mut feed: Feed<'_, '_>,
) -> Result<Chunk<'r>> {
    let display = input.display();
    let mut reader = opened.reader;
    let consumed = opened.consumed;
    let mut last_reported = 0u64;
    let mut report = |consumed: u64| {
        if let Some(p) = progress {
            p.inc(consumed.saturating_sub(last_reported));
            last_reported = consumed;
        }
    };
    let mut total = Chunk::new(resolver, file);

    // First block: decide lines vs document.
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK);
    fill(&mut reader, &mut buf, BLOCK, &display)?;
    let bom = if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
        3
    } else {
        0
    };
    if buf[bom..].iter().all(|b| b.is_ascii_whitespace()) && buf.len() < BLOCK {
        stats.format = "empty".into();
        stats.bytes = buf.len() as u64;
        stats
            .notes
            .push("the file is empty or holds only blank lines".into());
        report(consumed.load(Ordering::Relaxed));
        return Ok(total);
    }
    let kind = detect_lines(&buf[bom..], buf.len() < BLOCK);
    let Some(kind) = kind else {
        // One JSON document (or several concatenated, pretty-printed).
        let mut rest = Vec::new();
        (&mut reader)
            .take(MAX_DOCUMENT)
            .read_to_end(&mut rest)
            .map_err(|e| Error::input_io(&display, &e))?;
        buf.extend_from_slice(&rest);
        stats.bytes = buf.len() as u64;
        read_documents(&buf[bom..], &mut total, stats);
        report(consumed.load(Ordering::Relaxed));
        return Ok(total);
    };
    stats.format = match kind {
        LineKind::Otlp => "otlp-json-lines".into(),
        LineKind::Flat => "flat-json-lines".into(),
    };
    let mut line_no: u64 = 1;
    let mut start = bom;
    loop {
        let eof = buf.len() < BLOCK;
        // Complete lines in this block.
        let end = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf[start..]) {
                Some(i) => start + i + 1,
                None => {
                    // A line longer than the block: grow until it ends or is too long.
                    if buf.len() - start > MAX_LINE {
                        total.reject(
                            line_no,
                            format!("line longer than {} MiB; skipped", MAX_LINE >> 20),
                        );
                        skip_line(&mut reader, &display)?;
                        line_no += 1;
                        buf.clear();
                        start = 0;
                        fill(&mut reader, &mut buf, BLOCK, &display)?;
                        if buf.is_empty() {
                            break;
                        }
                        continue;
                    }
                    let want = buf.len() + BLOCK;
                    fill(&mut reader, &mut buf, want, &display)?;
                    if buf.len() < want {
                        // reached EOF: the block is the rest of the file
                        let c = process_block(&buf[start..], line_no, kind, resolver, file);
                        total.absorb(c);
                        break;
                    }
                    continue;
                }
            }
        };
        let block = &buf[start..end];
        let lines_in_block = memchr::memchr_iter(b'\n', block).count() as u64;
        let c = process_block(block, line_no, kind, resolver, file);
        total.absorb(c);
        line_no += lines_in_block;
        stats.bytes += (end - start) as u64;
        report(consumed.load(Ordering::Relaxed));
        feed.offer(&mut total, consumed.load(Ordering::Relaxed))?;
        if eof {
            break;
        }
        // Keep the partial last line and read the next block.
        buf.drain(..end);
        start = 0;
        let want = buf.len() + BLOCK;
        fill(&mut reader, &mut buf, want, &display)?;
        if buf.is_empty() {
            break;
        }
        if buf.len() < want && !buf.contains(&b'\n') {
            let c = process_block(&buf, line_no, kind, resolver, file);
            stats.bytes += buf.len() as u64;
            total.absorb(c);
            break;
        }
    }
    report(consumed.load(Ordering::Relaxed));
    Ok(total)
}

fn fill(
    reader: &mut Box<dyn BufRead + Send>,
    buf: &mut Vec<u8>,
    want: usize,
    display: &str,
) -> Result<()> {
    while buf.len() < want {
        let need = want - buf.len();
        let n = (&mut *reader)
            .take(need as u64)
            .read_to_end(buf)
            .map_err(|e| read_error(display, &e))?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn read_error(display: &str, e: &std::io::Error) -> Error {
    let hint = match e.kind() {
        std::io::ErrorKind::InvalidData
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::Other => {
            "the compressed stream is corrupt or truncated; re-export or recompress the file"
        }
        _ => "check that the file is complete and readable",
    };
    Error::input(
        display,
        format!("cannot read: {}", crate::error::io_text(e)),
        hint,
    )
}

fn skip_line(reader: &mut Box<dyn BufRead + Send>, display: &str) -> Result<()> {
    loop {
        let (done, used) = {
            let b = reader.fill_buf().map_err(|e| read_error(display, &e))?;
            if b.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'\n', b) {
                Some(i) => (true, i + 1),
                None => (false, b.len()),
            }
        };
        reader.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// JSON lines when one of the first non-blank lines is a whole JSON value.
/// JSON lines or one document, from the first block. Every complete line
/// of the block is tried: lines when the first parses as an object, or
/// when at least half of them do (a few garbage lines before the spans
/// must not turn a JSON-lines file into a document); a pretty-printed
/// document has few lines that parse alone. A block without a newline
/// (a first line longer than the block) is a line too.
fn detect_lines(head: &[u8], whole_file: bool) -> Option<LineKind> {
    let kind = |t: &[u8]| {
        if otlp::looks_like_otlp(t) {
            LineKind::Otlp
        } else {
            LineKind::Flat
        }
    };
    let first = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if !whole_file && memchr::memchr(b'\n', &head[first..]).is_none() {
        // a first line longer than the block: a line, unless it opens a
        // document's `data` wrapper (a minified download)
        let t = &head[first..];
        let wrapper = t.starts_with(b"[")
            || t[1..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .is_some_and(|i| t[1 + i..].starts_with(b"\"data\""));
        return (t[0] == b'{' && !wrapper).then(|| kind(t));
    }
    // the last piece is a whole line only when the block is the whole file
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if !whole_file {
        lines.pop();
    }
    let (mut tried, mut parsed, mut first_kind) = (0usize, 0usize, None);
    for line in lines {
        let t = trim(line);
        if t.is_empty() {
            continue;
        }
        tried += 1;
        let ok = (t[0] == b'{' || t[0] == b'[')
            && serde_json::from_slice::<serde::de::IgnoredAny>(t).is_ok();
        if ok {
            parsed += 1;
            if tried == 1 {
                return Some(kind(t));
            }
            first_kind.get_or_insert(kind(t));
        }
    }
    first_kind.filter(|_| parsed * 2 >= tried)
}

fn trim(line: &[u8]) -> &[u8] {
    let s = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let e = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &line[s..e]
}

/// Split a block of whole lines into pieces and parse them in parallel.
fn process_block<'r>(
    block: &[u8],
    first_line: u64,
    kind: LineKind,
    resolver: &'r Resolver<'r>,
    file: u32,
) -> Chunk<'r> {
    let mut pieces: Vec<(usize, usize, u64)> = Vec::new();
    let mut s = 0;
    let mut line = first_line;
    while s < block.len() {
        let mut e = (s + PIECE).min(block.len());
        if e < block.len() {
            e = match memchr::memchr(b'\n', &block[e..]) {
                Some(i) => e + i + 1,
                None => block.len(),
            };
        }
        pieces.push((s, e, line));
        line += memchr::memchr_iter(b'\n', &block[s..e]).count() as u64;
        s = e;
    }
    let chunks: Vec<Chunk<'r>> = pieces
        .par_iter()
        .map(|&(s, e, l)| {
            let mut c = Chunk::new(resolver, file);
            parse_lines(&block[s..e], l, kind, &mut c);
            c
        })
        .collect();
    let mut it = chunks.into_iter();
    let mut total = it.next().unwrap_or_else(|| Chunk::new(resolver, file));
    for c in it {
        total.absorb(c);
    }
    total
}

fn parse_lines(piece: &[u8], first_line: u64, kind: LineKind, chunk: &mut Chunk<'_>) {
    // lines found with memchr (a byte-at-a-time split showed in profiles)
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', piece).chain(std::iter::once(piece.len()));
    for (i, end) in ends.enumerate() {
        let raw_line = &piece[start..end];
        start = (end + 1).min(piece.len());
        let line_no = first_line + i as u64;
        let mut line = trim(raw_line);
        if line.starts_with(&[0xef, 0xbb, 0xbf]) {
            line = trim(&line[3..]);
        }
        if line.is_empty() {
            continue;
        }
        chunk.stats.records += 1;
        let res = match kind {
            LineKind::Otlp => otlp::read_request(line, line_no, chunk),
            LineKind::Flat => {
                parse_line::<Val>(line).and_then(|v| flat::read_flat(v, line_no, chunk))
            }
        };
        if let Err(reason) = res {
            chunk.reject(line_no, reason);
        }
    }
}

/// One or more JSON documents: an OTLP request, a Langfuse trace download,
/// an array of flat spans, or pretty-printed span objects one after another.
fn read_documents(doc: &[u8], chunk: &mut Chunk<'_>, stats: &mut FileStats) {
    let otlp_doc = otlp::looks_like_otlp(doc);
    stats.format = if otlp_doc {
        "otlp-json-document"
    } else {
        "json-document"
    }
    .into();
    if otlp_doc {
        each_document::<otlp::Request>(doc, chunk, &mut |req, line, chunk| {
            otlp::handle_request(req, line, chunk)
        });
        return;
    }
    let mut langfuse = false;
    each_document::<Val>(doc, chunk, &mut |v, line, chunk| {
        langfuse |= v.get("trace").is_some() && v.get("observations").is_some();
        match v {
            Val::Obj(kv) if kv.len() == 1 && kv[0].0 == "data" => match kv.into_iter().next() {
                Some((_, data)) => flat::read_flat(data, line, chunk),
                None => Ok(()),
            },
            other => flat::read_flat(other, line, chunk),
        }
    });
    if langfuse {
        stats.format = "langfuse-trace-json".into();
    }
}

/// Every JSON value of `doc` (one after another, whitespace between) to
/// `handle`, with its line; a value that does not parse is one rejected
/// record, and reading goes on at the next line. Line numbers are counted
/// forward from the last one asked: linear in the file, not quadratic.
fn each_document<'d, T: serde::Deserialize<'d>>(
    doc: &'d [u8],
    chunk: &mut Chunk<'_>,
    handle: &mut dyn FnMut(T, u64, &mut Chunk<'_>) -> std::result::Result<(), String>,
) {
    let mut lines = LineCounter::default();
    let mut base = 0;
    'docs: while base < doc.len() {
        let mut stream = serde_json::Deserializer::from_slice(&doc[base..]).into_iter::<T>();
        loop {
            let start = base + stream.byte_offset();
            match stream.next() {
                None => break 'docs,
                Some(Ok(v)) => {
                    chunk.stats.records += 1;
                    let line = lines.at(doc, start);
                    if let Err(r) = handle(v, line, chunk) {
                        chunk.reject(line, r);
                    }
                }
                Some(Err(e)) => {
                    chunk.stats.records += 1;
                    let at = (base + stream.byte_offset()).max(start);
                    chunk.reject(lines.at(doc, at), json_error(&e));
                    base = next_line(doc, at);
                    continue 'docs;
                }
            }
        }
    }
}

/// Where a document stream resumes after an error at `at`: the next line
/// that starts, at its first column, a JSON object or array (a top-level
/// value of a pretty-printed file; an indented line is inside one), or
/// the end of `doc`.
fn next_line(doc: &[u8], at: usize) -> usize {
    let mut at = at.min(doc.len());
    while let Some(i) = memchr::memchr(b'\n', &doc[at..]) {
        at += i + 1;
        if matches!(doc.get(at), Some(b'{' | b'[')) {
            return at;
        }
    }
    doc.len()
}

/// 1-based line numbers of byte offsets asked in increasing order,
/// counting each newline once.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    fn at(&mut self, doc: &[u8], offset: usize) -> u64 {
        let offset = offset.min(doc.len());
        if offset < self.offset {
            // not expected (offsets only grow): count from the start
            *self = LineCounter::default();
        }
        self.line += memchr::memchr_iter(b'\n', &doc[self.offset..offset]).count() as u64;
        self.offset = offset;
        self.line + 1
    }
}

/// Shared settings -> a resolver (helper for callers).
pub fn resolver<'t>(
    table: &'t super::aliases::AliasTable,
    opts: &'t ResolveOptions,
) -> Resolver<'t> {
    Resolver { table, opts }
}

/// Read one in-memory JSON input as if it were a file (benches and tests).
pub fn scan_bytes(name: &str, data: Vec<u8>, resolver: &Resolver<'_>) -> Result<ScanOutput> {
    let opened = source::Opened {
        reader: Box::new(std::io::Cursor::new(data)),
        compression: None,
        consumed: Default::default(),
        size: None,
        is_parquet: false,
    };
    let input = Input::Path(name.into());
    let mut stats = FileStats::new(name, resolver.table);
    let mut out = ScanOutput::default();
    let feed = Feed {
        sink: None,
        out: &mut out,
        before: 0,
        total: None,
    };
    let mut chunk = read_json(&input, opened, resolver, 0, &mut stats, None, feed)?;
    chunk.hand_over_rows(&mut out.batches);
    stats.merge(chunk.stats);
    out.evals = chunk.evals;
    out.pending_evals = chunk.pending_evals;
    out.files = vec![stats];
    Ok(out)
}
