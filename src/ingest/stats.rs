//! What was read from one input: counts, rejects with line numbers, alias
//! hits and unclaimed attributes. Nothing is skipped without a count here.

use std::collections::BTreeMap;

use ahash::AHashMap;
use serde::Serialize;

use super::aliases::{AliasTable, Convention};

/// How many reject details are kept per file (all are counted).
pub const MAX_REJECT_DETAILS: usize = 200;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Reject {
    /// 1-based line (JSON lines) or record number (documents, Parquet rows).
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct FileStats {
    pub path: String,
    pub format: String,
    pub compression: Option<&'static str>,
    pub bytes: u64,
    pub records: u64,
    pub spans: u64,
    pub evals: u64,
    pub rejected: u64,
    pub rejects: Vec<Reject>,
    pub duplicates: u64,
    pub coerced_values: u64,
    pub invalid_values: BTreeMap<&'static str, u64>,
    pub content_attrs_dropped: u64,
    pub exclusive_input_normalized: u64,
    /// Wrapper spans whose token counts and cost repeated the model calls
    /// below them: cleared so nothing counts them twice.
    pub rolled_up_usage_cleared: u64,
    pub nonstandard_ids: u64,
    pub timestamps_in_future: u64,
    pub end_before_start: u64,
    pub conventions: [u64; Convention::ALL.len()],
    pub alias_hits: Vec<u64>,
    pub unclaimed: AHashMap<Box<str>, u64>,
    pub notes: Vec<String>,
}

impl FileStats {
    pub fn new(path: &str, table: &AliasTable) -> FileStats {
        FileStats {
            path: path.to_string(),
            alias_hits: vec![0; table.aliases.len()],
            ..Default::default()
        }
    }

    pub fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected += 1;
        if self.rejects.len() < MAX_REJECT_DETAILS {
            self.rejects.push(Reject {
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn invalid(&mut self, field: &'static str) {
        self.invalid_n(field, 1);
    }

    /// `n` invalid values of `field` at once.
    pub fn invalid_n(&mut self, field: &'static str, n: u64) {
        *self.invalid_values.entry(field).or_default() += n;
    }

    /// Fold a chunk's counts into this file's.
    pub fn merge(&mut self, other: FileStats) {
        self.records += other.records;
        self.spans += other.spans;
        self.evals += other.evals;
        self.rejected += other.rejected;
        for r in other.rejects {
            if self.rejects.len() < MAX_REJECT_DETAILS {
                self.rejects.push(r);
            }
        }
        self.duplicates += other.duplicates;
        self.coerced_values += other.coerced_values;
        for (k, v) in other.invalid_values {
            *self.invalid_values.entry(k).or_default() += v;
        }
        self.content_attrs_dropped += other.content_attrs_dropped;
        self.exclusive_input_normalized += other.exclusive_input_normalized;
        self.rolled_up_usage_cleared += other.rolled_up_usage_cleared;
        self.nonstandard_ids += other.nonstandard_ids;
        self.timestamps_in_future += other.timestamps_in_future;
        self.end_before_start += other.end_before_start;
        for (a, b) in self.conventions.iter_mut().zip(other.conventions) {
            *a += b;
        }
        if self.alias_hits.len() < other.alias_hits.len() {
            self.alias_hits.resize(other.alias_hits.len(), 0);
        }
        for (a, b) in self.alias_hits.iter_mut().zip(other.alias_hits) {
            *a += b;
        }
        for (k, v) in other.unclaimed {
            *self.unclaimed.entry(k).or_default() += v;
        }
        self.notes.extend(other.notes);
    }

    pub fn conventions_detected(&self) -> Vec<(&'static str, u64)> {
        Convention::ALL
            .iter()
            .zip(self.conventions)
            .filter(|(c, n)| *n > 0 && **c != Convention::Generic)
            .map(|(c, n)| (c.as_str(), n))
            .collect()
    }

    /// The `n` most frequent unclaimed attributes, ties by name.
    pub fn top_unclaimed(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .unclaimed
            .iter()
            .map(|(k, c)| (k.to_string(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}
