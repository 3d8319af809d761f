//! The command line (docs/cli.md). Only this module and `main.rs` see clap;
//! subcommands receive plain option structs.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::model::FindingKind;
use crate::span::row::SpanType;

/// A flag whose values spanlens checks itself (with its own messages, the
/// same for the flag and for spanlens.toml), and whose help lists the
/// values the code knows, from the code's own lists.
#[derive(Clone)]
struct Listed(fn() -> Vec<PossibleValue>);

impl TypedValueParser for Listed {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new((self.0)().into_iter()))
    }
}

fn finding_kinds() -> Vec<PossibleValue> {
    FindingKind::ALL
        .into_iter()
        .map(|k| PossibleValue::new(k.as_str()).help(k.describe()))
        .collect()
}

fn cohort_fields() -> Vec<PossibleValue> {
    crate::engine::FIELDS
        .iter()
        .map(|f| PossibleValue::new(*f))
        .collect()
}

fn span_types() -> Vec<PossibleValue> {
    SpanType::ALL
        .iter()
        .map(|t| PossibleValue::new(t.as_str()))
        .chain([PossibleValue::new("all").help("every span type")])
        .collect()
}

#[derive(Parser, Debug)]
#[command(
    name = "spanlens",
    version,
    about = "SLOs, cost, drift, regressions and anomalies from LLM trace exports",
    long_about = "spanlens reads raw LLM trace exports (OTLP/JSON, OpenInference, OpenLLMetry, \
Langfuse, Phoenix Parquet; plain, .gz or .zst) into one canonical span table and answers \
questions about it.\n\nExit codes: 0 ok, 1 gated finding, 2 usage error, 3 input error (unreadable, nothing to \
judge, too many rejected records), 4 output error, 5 internal error (a bug: please report it)."
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
    /// Per-cohort error and refusal rates, eval pass rates, latency/TTFT percentiles; objectives with burn rates
    Slo(SloArgs),
    /// Tokens and USD by kind per cohort, cost per trace, top traces, unpriced models, budgets
    Cost(CostArgs),
    /// Baseline window vs current window per cohort and field: PSI, JS distance, chi-squared p, verdict
    Drift(DriftArgs),
    /// Two arms (prompt versions, models, windows) per metric: deltas, CIs, Holm p, verdict; the CI gate
    Compare(CompareArgs),
    /// Ranked anomalies: outlier traces, agent loops, context stuffing, error bursts, spend spikes,
    /// model-mix changes, silences
    Anomalies(AnomaliesArgs),
    /// The nightly job: SLO, cost, drift, compare and anomalies from one read of the inputs, as one
    /// Markdown report (--out-dir: every table as Parquet, and summary.json)
    Report(ReportArgs),
    /// Run a SQL template over the canonical `spans` and `evals` tables
    Query(QueryArgs),
    /// What each model string is priced as: the entry, the rule that found it, its source and
    /// its rates per 1M tokens; with no model, the price tables' versions, sha256 and sizes
    Prices(PricesArgs),
}

impl Command {
    /// The options an analysis command shares, if it is one.
    pub fn common_mut(&mut self) -> Option<&mut CommonArgs> {
        match self {
            Command::Slo(a) => Some(&mut a.common),
            Command::Cost(a) => Some(&mut a.common),
            Command::Drift(a) => Some(&mut a.common),
            Command::Compare(a) => Some(&mut a.common),
            Command::Anomalies(a) => Some(&mut a.common),
            Command::Report(a) => Some(&mut a.common),
            Command::Query(a) => Some(&mut a.common),
            Command::Ingest(_) | Command::Inspect(_) | Command::Prices(_) => None,
        }
    }
}

impl Cli {
    /// `-o -` is standard output, as for every Unix tool (not a file named
    /// `-`, nor a report's `--charts/` directory).
    pub fn normalized(mut self) -> Cli {
        if let Some(c) = self.command.common_mut() {
            if c.output.as_deref() == Some(std::path::Path::new("-")) {
                c.output = None;
            }
        }
        self
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
    /// one JSON object a line: every table row (or --table's), with its table
    Jsonl,
    Csv,
    Parquet,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineArg {
    /// in this process (polars)
    Local,
    /// a Spark Connect server (`--remote`); builds with feature `spark`
    Spark,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PercentilesArg {
    Exact,
    LogBucket,
}

/// Windows, cohorts, filters, output and gate: shared by every report.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Report window: a length ending at --until (1d, 6h, 1h30m, 1.5d, P1D; default 1d), a day
    /// (2026-01-08, yesterday, today) or a range A..B (dates, times, now; A.. runs to --until)
    #[arg(long, value_name = "W")]
    pub current: Option<String>,
    /// Baseline window: a length before the current window (default 7d), a day or a range A..B
    #[arg(long, value_name = "W")]
    pub baseline: Option<String>,
    /// Where relative windows end: now, today, yesterday (their midnight, UTC) or a time
    /// (default: the newest span)
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Cohort keys: canonical fields, attr:KEY (a span attribute) or resource:KEY
    #[arg(long, value_delimiter = ',', value_name = "KEY[,KEY]", value_parser = Listed(cohort_fields))]
    pub by: Vec<String>,
    /// Keep spans matching KEY=VALUE, KEY!=VALUE or KEY=A|B (repeatable; all must hold)
    #[arg(long = "where", value_name = "EXPR")]
    pub filters: Vec<String>,
    /// Cohorts with fewer spans go to __other__
    #[arg(long, value_name = "N")]
    pub min_count: Option<u64>,
    /// Keep the K largest cohorts; the rest goes to __other__ (default 50)
    #[arg(long, value_name = "K")]
    pub top: Option<usize>,
    /// The span type a report counts (default: llm; cost: llm and embedding; query: all)
    #[arg(long = "span-type", visible_alias = "kind", value_name = "TYPE", value_parser = Listed(span_types))]
    pub span_type: Option<String>,
    /// Warn (and find `stale`, for --fail-on) when the newest span is older than this on the
    /// clock; `off` turns it off (default 36h; only for windows ending at the newest span)
    #[arg(long, value_name = "D")]
    pub stale_after: Option<String>,
    /// Percentiles: exact (type 7, = DuckDB quantile_cont) or from log-bucket
    /// histograms (1% relative accuracy; what a remote engine returns)
    #[arg(long, value_enum, default_value = "exact")]
    pub percentiles: PercentilesArg,
    /// Where the queries run: local, or spark (inputs: `spanlens ingest` Parquet at paths the
    /// cluster reads; only aggregates come back)
    #[arg(long, value_enum, default_value = "local")]
    pub engine: EngineArg,
    /// Spark Connect server for --engine spark: sc://HOST:PORT[/;token=...;use_ssl=true]
    #[arg(long, env = "SPARK_REMOTE", value_name = "URL")]
    pub remote: Option<String>,
    /// Refuse a query returning more than N rows (reports bring back aggregates, never spans;
    /// default 1000000 on Spark and on a streamed Parquet input, none in memory); with a cap,
    /// per-trace outliers are found in the engine
    #[arg(long, value_name = "N")]
    pub max_rows: Option<usize>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Write to FILE (atomically) instead of stdout; `-` is stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The table written by --format csv|parquet (default: the first)
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Exit 1 when a finding of one of these kinds occurs
    #[arg(long, value_delimiter = ',', value_name = "KIND[,KIND]", value_parser = Listed(finding_kinds))]
    pub fail_on: Vec<String>,
    /// Files the command reads besides the inputs (prices, objectives, SQL),
    /// set by the command: an output may never be one of them.
    #[arg(skip)]
    pub reads: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SloArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub objectives: ObjectiveArgs,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Args, Debug)]
pub struct CostArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub prices: PriceArgs,
    /// Price every span from the table, ignoring costs reported on spans
    #[arg(long)]
    pub recompute: bool,
    /// How many of the most expensive traces to list
    #[arg(long, value_name = "N")]
    pub top_traces: Option<usize>,
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

#[derive(Args, Debug)]
pub struct PricesArgs {
    /// Model strings as spans carry them (gpt-4o-2024-08-06, bedrock/us.anthropic.claude-...)
    #[arg(value_name = "MODEL")]
    pub models: Vec<String>,
    /// The span's provider (gen_ai.provider.name: openai, gcp.gemini, aws.bedrock, ...)
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: InspectFormat,
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// More fields: a column (input_tokens, duration_ms, model, finish_reason, ...), cost_usd,
    /// eval_score, eval_label, attr:KEY or resource:KEY (numeric when every value is a number)
    #[arg(long, value_delimiter = ',', value_name = "FIELD[,FIELD]")]
    pub field: Vec<String>,
    /// Compare only the --field fields, not the defaults of docs/statistics.md
    #[arg(long)]
    pub no_default_fields: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The candidate arm: conditions (prompt_version=refunds@v4[,model=gpt-4o]), a window
    /// (1d, A..B), or latest:FIELD (each cohort's newest value of FIELD). Default: the current window
    #[arg(long, value_name = "PRED|W")]
    pub candidate: Option<String>,
    /// Metrics gated: pass_rate, error_rate, refusal_rate, latency_p50, latency_p95, ttft_p50,
    /// ttft_p95, cost_mean, cost_p95, input_tokens, output_tokens (default: all)
    #[arg(long, value_delimiter = ',', value_name = "M[,M]")]
    pub metrics: Vec<String>,
    /// Family-wise significance level of the gate (Holm)
    #[arg(long, value_name = "A")]
    pub alpha: Option<f64>,
    /// Minimum effect that counts, per metric: error_rate=0.01 (absolute), latency_p95=0.1 (relative)
    #[arg(long, value_delimiter = ',', value_name = "M=X[,M=X]")]
    pub min_effect: Vec<String>,
    /// Seed of the bootstrap (same seed, same output)
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Args, Debug)]
pub struct AnomaliesArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Report no anomaly inside this window (A..B; repeatable)
    #[arg(long, value_name = "RANGE")]
    pub suppress: Vec<String>,
    /// Minutes after a prompt version first appears with no anomaly (default 30; 0 = off)
    #[arg(long, value_name = "MIN")]
    pub deploy_quiet: Option<u64>,
    /// Agent loops: the fewest LLM calls in one trace that count (default 10)
    #[arg(long, value_name = "N")]
    pub loop_floor: Option<u64>,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub objectives: ObjectiveArgs,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[command(flatten)]
    pub budgets: BudgetArgs,
    /// Also write every table as Parquet (one file per table) and summary.json into DIR
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Do not draw the SVG charts (drawn next to the -o report: into --out-dir, else REPORT-charts/)
    #[arg(long)]
    pub no_charts: bool,
    /// Show every row of the drift and compare tables in the Markdown report
    /// (by default rows whose verdict is stable, pass, insufficient or
    /// inconclusive are counted, not listed; JSON and --out-dir hold them all)
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The SQL template (placeholders and macros as in queries/README.md)
    #[arg(value_name = "FILE.sql")]
    pub sql: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the expanded SQL instead of running it
    #[arg(long)]
    pub explain: bool,
}

/// `--prices`: price tables over the embedded ones (every command that
/// prices spans).
#[derive(Args, Debug, Clone, Default)]
pub struct PriceArgs {
    /// Price table over the embedded ones (repeatable; later files win): LiteLLM JSON, a
    /// Langfuse model price export, or a CSV in USD per 1M tokens with the columns
    /// model,input,output and optionally cache_read,cache_write,cache_write_1h,reasoning
    #[arg(long = "prices", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `--objectives`: service level objectives beside spanlens.toml's.
#[derive(Args, Debug, Clone, Default)]
pub struct ObjectiveArgs {
    /// Objectives file (`[[objective]]` tables); also read from spanlens.toml
    #[arg(long = "objectives", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `--budget`: spend limits beside spanlens.toml's `[[budget]]`.
#[derive(Args, Debug, Clone, Default)]
pub struct BudgetArgs {
    /// Budget per cohort: USD, USD/day or USD/month (repeatable)
    #[arg(long = "budget", value_name = "USD[/PERIOD]")]
    pub limits: Vec<String>,
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
pub enum LakeMode {
    Merge,
    Overwrite,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Day,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output Parquet file (the `evals` table goes beside it as `<stem>.evals.parquet`),
    /// or a directory with --partition
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Write a directory partitioned by day: OUT/spans/day=YYYY-MM-DD/part-0.parquet
    #[arg(long, value_enum)]
    pub partition: Option<Partition>,
    /// With --partition into an existing lake: merge (default) writes only the days of this
    /// input, each merged with the spans it holds (a span already there is kept once), and
    /// keeps every other day; overwrite replaces the whole lake
    #[arg(long, value_enum, default_value = "merge")]
    pub mode: LakeMode,
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
