//! spanlens: SLOs, cost, drift, regressions and anomalies from LLM trace exports.
//!
//! ```text
//! inputs (JSONL: OTLP/JSON or flat; Parquet: canonical or dotted-attribute; .gz/.zst)
//!   | ingest::scan      detect format per file, parse in parallel, resolve attribute aliases
//!   v
//! frame (SpanFrame)    the canonical span table (spec/span-model.md), deduplicated;
//!   |                  trace-level fields inherited from ancestors (route, tenant, user...)
//!   v
//! report::render       table | json (more formats and reports follow)
//!   v
//! exit code            exit.rs
//! ```

pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod exit;
pub mod frame;
pub mod ingest;
pub mod output;
pub mod pricing;
pub mod report;
pub mod stats;
pub mod timing;
pub mod window;

pub use error::{Error, Result};

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> Result<i32> {
    let ctx = cmd::Context::new(&cli.global)?;
    match cli.command {
        cli::Command::Ingest(a) => cmd::ingest::run(a, &ctx),
        cli::Command::Inspect(a) => cmd::inspect::run(a, &ctx),
    }
}
