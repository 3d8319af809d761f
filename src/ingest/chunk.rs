//! The chunk every reader fills: the rows, evaluations and statistics one
//! worker accumulates from the records it reads, handed to the scan as
//! whole batches.

use std::borrow::Cow;

use super::otlp;
use super::resolve::{Attrs, IdPolicy, Interner, RawSpan, Resolver};
use super::stats::FileStats;
use crate::span::row::{EvalRow, SpanRow};

/// An evaluation that names the response it judged (`gen_ai.response.id`)
/// instead of its span: attached once every span has been read
/// (`frame::attach_by_response_id`), or rejected on its line.
#[derive(Clone, Debug)]
pub struct PendingEval {
    pub response_id: Box<str>,
    /// the record's own trace, if it names one: its evaluation stays a
    /// trace-level one when no span carries the response id
    pub trace_id: Option<Box<str>>,
    pub eval: EvalRow,
    pub file: u32,
    pub line: u64,
}

/// The attribute a span and an evaluation event share when the event does
/// not name its span.
pub const RESPONSE_ID: &str = "gen_ai.response.id";

/// Rows a chunk fills before starting a new vector (about 240 KB).
const ROW_BATCH: usize = 512;

/// What one worker accumulates.
pub struct Chunk<'r> {
    pub resolver: &'r Resolver<'r>,
    pub file: u32,
    pub stats: FileStats,
    /// The rows being filled, at most [`ROW_BATCH`]; full ones move to
    /// `full`. A vector grown by doubling copied every row at each step,
    /// faulting fresh pages for each copy (a tenth of a JSON run's CPU, in
    /// the kernel zeroing pages), and left up to half its capacity unused.
    rows: Vec<SpanRow>,
    /// This chunk's own full batches of rows, in order.
    full: Vec<Vec<SpanRow>>,
    /// Rows of absorbed chunks, kept as they were made (moving batches
    /// instead of appending rows saves copying every row several times).
    pub batches: Vec<Vec<SpanRow>>,
    pub evals: Vec<EvalRow>,
    pub pending_evals: Vec<PendingEval>,
    pub interner: Interner,
}

impl<'r> Chunk<'r> {
    pub fn new(resolver: &'r Resolver<'r>, file: u32) -> Chunk<'r> {
        Chunk {
            resolver,
            file,
            stats: FileStats::new("", resolver.table),
            rows: Vec::new(),
            full: Vec::new(),
            batches: Vec::new(),
            evals: Vec::new(),
            pending_evals: Vec::new(),
            interner: Interner::default(),
        }
    }

    pub fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.stats.reject(line, reason);
    }

    /// Resolve a raw span; `index` > 0 names the span within its record.
    pub fn add_span(
        &mut self,
        raw: RawSpan<'_>,
        resource: &Attrs<'_>,
        policy: IdPolicy,
        line: u64,
        index: usize,
    ) {
        let before = self.evals.len();
        match self.resolver.resolve(
            raw,
            resource,
            policy,
            &mut self.stats,
            &mut self.interner,
            &mut self.evals,
        ) {
            Ok(mut row) => {
                row.file = self.file;
                if self.rows.len() == self.rows.capacity() {
                    let full = std::mem::replace(&mut self.rows, Vec::with_capacity(ROW_BATCH));
                    if !full.is_empty() {
                        self.full.push(full);
                    }
                }
                self.rows.push(row);
                self.stats.spans += 1;
                self.stats.evals += (self.evals.len() - before) as u64;
            }
            Err(reason) => {
                self.evals.truncate(before);
                let r = if index > 0 {
                    format!("span #{index}: {reason}")
                } else {
                    reason
                };
                self.reject(line, r);
            }
        }
    }

    pub fn add_log_eval(
        &mut self,
        trace: Option<Cow<'_, str>>,
        span: Option<Cow<'_, str>>,
        attrs: &Attrs<'_>,
        line: u64,
    ) {
        let span = span
            .filter(|s| !s.is_empty())
            .and_then(|s| super::resolve::normalize_id(&s, 8, IdPolicy::Otlp).ok())
            .map(|s| s.0);
        let trace = trace.and_then(|t| super::resolve::normalize_id(&t, 16, IdPolicy::Otlp).ok());
        let response = attrs
            .iter()
            .find(|(k, _)| k == RESPONSE_ID)
            .and_then(|(_, v)| super::resolve::first_text(v))
            .filter(|r| !r.is_empty());
        // a record missing its span or its trace but naming the response it
        // judged: attached to that response's span once every span is
        // known (a trace-level evaluation of its trace when none is)
        if let (true, Some(response_id)) = (span.is_none() || trace.is_none(), response) {
            match otlp::eval_from_attrs("".into(), None, attrs, "otel.log") {
                Some(eval) => self.pending_evals.push(PendingEval {
                    response_id: response_id.into(),
                    trace_id: trace.map(|t| t.0),
                    eval,
                    file: self.file,
                    line,
                }),
                None => self.reject(line, "evaluation log record without gen_ai.evaluation.name"),
            }
            return;
        }
        let Some(t) = trace else {
            self.reject(
                line,
                "evaluation log record without a valid trace id or a gen_ai.response.id",
            );
            return;
        };
        match otlp::eval_from_attrs(t.0, span, attrs, "otel.log") {
            Some(e) => {
                self.evals.push(e);
                self.stats.evals += 1;
            }
            None => self.reject(line, "evaluation log record without gen_ai.evaluation.name"),
        }
    }

    /// Move this chunk's rows, in order, onto `dest` as whole batches.
    pub fn hand_over_rows(&mut self, dest: &mut Vec<Vec<SpanRow>>) {
        dest.append(&mut self.full);
        if !self.rows.is_empty() {
            dest.push(std::mem::take(&mut self.rows));
        }
        dest.append(&mut self.batches);
    }

    /// Rows held (not yet handed over).
    pub fn held_rows(&self) -> usize {
        let batch = |b: &[Vec<SpanRow>]| b.iter().map(Vec::len).sum::<usize>();
        self.rows.len() + batch(&self.full) + batch(&self.batches)
    }

    pub(super) fn absorb(&mut self, mut other: Chunk<'_>) {
        other.hand_over_rows(&mut self.batches);
        self.evals.extend(other.evals);
        self.pending_evals.extend(other.pending_evals);
        self.stats.merge(other.stats);
    }
}
