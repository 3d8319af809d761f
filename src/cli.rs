//! The command line (spec/cli.md). Only this module and `main.rs` see clap;
//! subcommands receive plain option structs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "spanlens",
    version,
    about = "SLOs, cost, drift, regressions and anomalies from LLM trace exports",
    long_about = "spanlens reads raw LLM trace exports (OTLP/JSON, OpenInference, OpenLLMetry, \
Langfuse, Phoenix Parquet; plain, .gz or .zst) into one canonical span table and answers \
questions about it.\n\nExit codes: 0 ok, 1 gated finding, 2 usage error, 3 input error, 4 output error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: ./spanlens.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print nothing but errors on stderr
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Hide progress bars (they are hidden anyway when stderr is not a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read exports into the canonical span table (Parquet) and summarize what was read
    Ingest(IngestArgs),
    /// Show formats, conventions, field coverage and unmapped attributes per input
    Inspect(InspectArgs),
}

/// Inputs and how strictly to read them (shared by every command).
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Files, directories or globs; `-` reads JSON lines from stdin
    #[arg(required = true, value_name = "IN")]
    pub inputs: Vec<String>,
    /// Fail (exit 3) on the first malformed record
    #[arg(long)]
    pub strict: bool,
    /// Fail (exit 3) when more than N records are malformed
    #[arg(long, value_name = "N")]
    pub max_bad: Option<u64>,
    /// Keep prompt and completion text attributes (dropped by default)
    #[arg(long)]
    pub include_text: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Day,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output Parquet file (the `evals` table goes beside it as <stem>.evals.parquet),
    /// or a directory with --partition
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Write a directory partitioned by day: OUT/spans/day=YYYY-MM-DD/part-0.parquet
    #[arg(long, value_enum)]
    pub partition: Option<Partition>,
    /// Summary format: human text on stderr, or JSON on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub format: SummaryFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: InspectFormat,
    /// How many unclaimed attributes to list per input
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
}
