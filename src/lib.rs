//! spanlens: SLOs, cost, drift, regressions and anomalies from LLM trace exports.
//!
//! ```text
//! inputs (JSONL: OTLP/JSON or flat; Parquet: canonical or dotted-attribute; .gz/.zst)
//!   | ingest::scan      detect format per file, parse in parallel, resolve attribute aliases
//!   v
//! frame (SpanFrame)    the canonical span table (docs/span-table.md), deduplicated;
//!   |                  trace-level fields inherited from ancestors (route, tenant, user...)
//!   v
//!   | engine::Engine    queries/*.sql templates -> small aggregate frames (local: polars SQL)
//!   v
//! metrics/*            SLO, cost: aggregates -> typed reports (stats/* pure kernels)
//!   | report::render    table | markdown | json | csv | parquet
//!   v
//! gate                 findings x --fail-on -> exit code (exit.rs)
//! ```

pub mod cli;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod error;
pub mod exit;
pub mod frame;
pub mod gate;
pub mod guard;
pub mod ingest;
pub mod metrics;
pub mod options;
pub mod output;
pub mod pricing;
pub mod report;
pub mod span;
pub mod stats;
pub mod timing;
pub mod window;

pub use error::{Error, Result};

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> Result<i32> {
    let cli = cli.normalized();
    // completions and the man page need no configuration
    if let Some(write) = cli.generated() {
        cmd::to_stdout(write)?;
        return Ok(exit::OK);
    }
    let ctx = cmd::Context::new(&cli.global)?;
    let mut command = cli.command;
    if let Some(c) = command.common_mut() {
        c.fill_from(&ctx.config.report).map_err(|e| {
            Error::usage(
                format!("spanlens.toml {e}"),
                "fix the value in spanlens.toml, or give the flag on the command line",
            )
        })?;
    }
    match command {
        cli::Command::Ingest(a) => cmd::ingest::run(a, &ctx),
        cli::Command::Inspect(a) => cmd::inspect::run(a, &ctx),
        cli::Command::Prices(a) => cmd::prices::run(a, &ctx),
        cli::Command::Fields(a) => cmd::fields::run(a, &ctx),
        cli::Command::Init(a) => cmd::init::run(a, &ctx),
        cli::Command::Slo(a) => cmd::slo::run(a, &ctx),
        cli::Command::Cost(a) => cmd::cost::run(a, &ctx),
        cli::Command::Drift(a) => cmd::drift::run(a, &ctx),
        cli::Command::Compare(a) => cmd::compare::run(a, &ctx),
        cli::Command::Anomalies(a) => cmd::anomalies::run(a, &ctx),
        cli::Command::Report(a) => cmd::report::run(a, &ctx),
        cli::Command::Query(a) => cmd::query::run(a, &ctx),
        cli::Command::Completions { .. } | cli::Command::Man { .. } => {
            unreachable!("generated above")
        }
    }
}
