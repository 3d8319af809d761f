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

/// Every command's name (`spanlens man COMMAND`; a test checks the list
/// against the commands clap knows).
pub const COMMANDS: [&str; 14] = [
    "ingest",
    "inspect",
    "slo",
    "cost",
    "drift",
    "compare",
    "anomalies",
    "report",
    "query",
    "prices",
    "fields",
    "init",
    "completions",
    "man",
];

/// The commands that take the shared report options ([`CommonArgs`]); a
/// test checks the list against the commands with `--by`.
pub const ANALYSIS_COMMANDS: [&str; 7] = [
    "slo",
    "cost",
    "drift",
    "compare",
    "anomalies",
    "report",
    "query",
];

/// The help's headings, one per concern, in every command.
const INPUTS: &str = "Inputs";
const WINDOW: &str = "Window";
const COHORTS: &str = "Cohorts";
const OUTPUT: &str = "Output";
const GATE: &str = "Gate";
const ENGINE: &str = "Engine";
const RULES: &str = "Objectives, prices and budgets";
const DRIFT: &str = "Drift";
const COMPARISON: &str = "Comparison";
const ANOMALIES: &str = "Anomalies";
const GLOBAL: &str = "Global";

/// `spanlens --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SPANLENS_GIT_COMMIT"),
    ")"
);

/// `spanlens --version` in full: with the embedded price tables' versions,
/// which decide every computed cost.
fn long_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        format!(
            "{VERSION}\nprices: {}\n        {}",
            crate::pricing::SNAPSHOT_NAME,
            crate::pricing::LANGFUSE_NAME
        )
    })
}

#[derive(Parser, Debug)]
#[command(
    name = "spanlens",
    version = VERSION,
    long_version = long_version(),
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
    /// Configuration file (default: $SPANLENS_CONFIG, else the first spanlens.toml in the
    /// working directory or above)
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// Print nothing but errors on stderr
    #[arg(long, short = 'q', global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Hide progress bars (they are hidden anyway when stderr is not a terminal)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_progress: bool,
    /// Colour verdicts in terminal tables: auto (when stdout is a terminal), always, never;
    /// a non-empty NO_COLOR turns colour off
    #[arg(long, global = true, value_enum, default_value = "auto", value_name = "WHEN", help_heading = GLOBAL)]
    pub color: ColorArg,
    /// Terminal tables show every column under its full name (as when piped), even if rows wrap
    #[arg(long, global = true, conflicts_with = "width", help_heading = GLOBAL)]
    pub wide: bool,
    /// Fit terminal tables to N columns (default: the terminal's width, $COLUMNS if set, when
    /// stdout is a terminal; piped output keeps every column)
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(20..), help_heading = GLOBAL)]
    pub width: Option<u16>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read exports into the canonical span table (Parquet) and summarize what was read
    #[command(after_help = "Examples:
  spanlens ingest traces.jsonl.gz -o spans.parquet
  spanlens ingest 'exports/*.jsonl' -o lake/ --partition day     (merge tonight's day into a lake)
  spanlens ingest traces.jsonl -o spans.parquet --format json | jq .input.rejected")]
    Ingest(IngestArgs),
    /// Show formats, conventions, field coverage and unmapped attributes per input
    #[command(after_help = "Examples:
  spanlens inspect traces.jsonl
  spanlens inspect exports/ --format json --top 50")]
    Inspect(InspectArgs),
    /// Per-cohort error and refusal rates, eval pass rates, latency/TTFT percentiles; objectives with burn rates
    #[command(after_help = "Examples:
  spanlens slo traces.jsonl --by route,model
  spanlens slo lake/ --current yesterday --objectives slo.toml --fail-on breach
  spanlens slo traces.jsonl --by tenant --where route=/chat --format csv -o slo.csv")]
    Slo(SloArgs),
    /// Tokens and USD by kind per cohort, cost per trace, top traces, unpriced models, budgets
    #[command(after_help = "Examples:
  spanlens cost traces.jsonl --by model
  spanlens cost lake/ --by tenant --current 2026-01-07..2026-01-14 --budget 50/day
  spanlens cost traces.jsonl --recompute --prices our-rates.csv --fail-on unpriced")]
    Cost(CostArgs),
    /// Baseline window vs current window per cohort and field: PSI, JS distance, chi-squared p, verdict
    #[command(after_help = "Examples:
  spanlens drift traces.jsonl --by route
  spanlens drift lake/ --current yesterday --baseline 7d --field attr:app.locale,cost_usd")]
    Drift(DriftArgs),
    /// Two arms (prompt versions, models, windows) per metric: deltas, CIs, Holm p, verdict; the CI gate
    #[command(
        after_help = "Examples:
  spanlens compare traces.jsonl --baseline prompt_version=refunds@v3 --candidate prompt_version=refunds@v4
  spanlens compare traces.jsonl --by route --baseline previous:prompt_version --candidate latest:prompt_version
  spanlens compare lake/ --baseline 7d --candidate 1d --metrics pass_rate,latency_p95 --fail-on regression",
        mut_arg("baseline", |a| a.value_name("PRED|W").help_heading(COMPARISON).help(
            "The baseline arm: conditions (prompt_version=refunds@v3), previous:FIELD (each cohort's \
             value of FIELD before the latest), or a window as for every report (default 7d before \
             the current window)"
        ))
    )]
    Compare(CompareArgs),
    /// Ranked anomalies: outlier traces, agent loops, context stuffing, error bursts, spend spikes,
    /// model-mix changes, silences
    #[command(after_help = "Examples:
  spanlens anomalies traces.jsonl
  spanlens anomalies lake/ --current yesterday --suppress 2026-01-08T02:00..2026-01-08T03:00 --fail-on anomaly")]
    Anomalies(AnomaliesArgs),
    /// The nightly job: SLO, cost, drift, compare and anomalies from one read of the inputs, as one
    /// Markdown report (--out-dir: every table as Parquet, and summary.json)
    #[command(after_help = "Examples:
  spanlens report traces.jsonl.gz -o report.md
  spanlens report lake/ today.jsonl --current today -o reports/today.md --out-dir reports/today/ -q
  spanlens report lake/ --current yesterday --fail-on breach,regression --format json -o -")]
    Report(ReportArgs),
    /// Run a SQL template over the canonical `spans` and `evals` tables
    #[command(after_help = "Examples:
  spanlens query my-report.sql traces.jsonl
  spanlens query my-report.sql lake/ --by route --explain")]
    Query(QueryArgs),
    /// What each model string is priced as: the entry, the rule that found it, its source and
    /// its rates per 1M tokens; with no model, the price tables' versions, sha256 and sizes
    #[command(after_help = "Examples:
  spanlens prices
  spanlens prices gpt-4o-2024-08-06 bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0
  spanlens prices my-finetune --prices our-rates.csv")]
    Prices(PricesArgs),
    /// The names the options take: the canonical span columns, every --by / --where field,
    /// --span-type, drift's --field, compare's --metrics, --fail-on, and each command's --table
    #[command(after_help = "Examples:
  spanlens fields
  spanlens fields --format json | jq '.tables.names[] | select(.option == \"--table\")'")]
    Fields(FieldsArgs),
    /// Write a commented spanlens.toml and an objectives file to edit, from what an export
    /// holds: its routes and models, the attributes that need a `[fields]` line, its latency
    /// and its evaluations
    #[command(after_help = "Examples:
  spanlens init traces.jsonl.gz
  spanlens init exports/ --dir ops/spanlens
  spanlens report traces.jsonl.gz --objectives objectives.toml     (what init suggests next)")]
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout
    #[command(after_help = "Examples:
  spanlens completions bash > ~/.local/share/bash-completion/completions/spanlens
  spanlens completions zsh > ~/.zfunc/_spanlens
  spanlens completions fish > ~/.config/fish/completions/spanlens.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) on stdout: spanlens(1), or a command's (spanlens-report(1))
    #[command(after_help = "Examples:
  spanlens man > ~/.local/share/man/man1/spanlens.1
  for c in report compare slo; do spanlens man $c > ~/.local/share/man/man1/spanlens-$c.1; done
  spanlens man report | man -l -")]
    Man {
        /// The command whose page to print (default: spanlens' own)
        #[arg(value_name = "COMMAND", value_parser = clap::builder::PossibleValuesParser::new(COMMANDS))]
        command: Option<String>,
    },
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
            Command::Ingest(_)
            | Command::Inspect(_)
            | Command::Prices(_)
            | Command::Fields(_)
            | Command::Init(_)
            | Command::Completions { .. }
            | Command::Man { .. } => None,
        }
    }
}

impl Cli {
    /// What `completions` and `man` print, generated from these
    /// definitions; None for every other command.
    #[allow(clippy::type_complexity)]
    pub fn generated(
        &self,
    ) -> Option<Box<dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + '_>> {
        use clap::CommandFactory;
        match &self.command {
            Command::Completions { shell } => Some(Box::new(|w| {
                use clap_complete::Generator;
                let mut cmd = Cli::command();
                cmd.set_bin_name("spanlens");
                cmd.build();
                // an error (a closed pipe) is returned, not a panic
                shell.try_generate(&cmd, w)
            })),
            Command::Man { command } => Some(Box::new(move |w| {
                let mut cmd = Cli::command();
                // names subcommands as their pages are named (spanlens-report)
                cmd.build();
                let page = match command {
                    None => cmd,
                    // one of COMMANDS, checked by clap
                    Some(name) => cmd.find_subcommand(name).cloned().unwrap_or_default(),
                };
                clap_mangen::Man::new(page).render(w)
            })),
            _ => None,
        }
    }

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
    #[arg(long, value_name = "W", help_heading = WINDOW)]
    pub current: Option<String>,
    /// Baseline window: a length before the current window (default 7d), a day or a range A..B
    #[arg(long, value_name = "W", help_heading = WINDOW)]
    pub baseline: Option<String>,
    /// Where relative windows end: now, today, yesterday (their midnight) or a time
    /// (default: the newest span)
    #[arg(long, value_name = "T", help_heading = WINDOW)]
    pub until: Option<String>,
    /// Time zone of days: dates, today and yesterday in windows, zone-less times, a budget's
    /// month and the report's daily charts (an IANA name such as America/New_York; default UTC)
    #[arg(long, value_name = "ZONE", help_heading = WINDOW)]
    pub tz: Option<String>,
    /// Cohort keys: canonical fields, attr:KEY (a span attribute) or resource:KEY
    #[arg(long, value_delimiter = ',', value_name = "KEY[,KEY]", value_parser = Listed(cohort_fields), help_heading = COHORTS)]
    pub by: Vec<String>,
    /// Keep spans matching KEY=VALUE, KEY!=VALUE or KEY=A|B (repeatable; all must hold)
    #[arg(long = "where", value_name = "EXPR", help_heading = COHORTS)]
    pub filters: Vec<String>,
    /// Cohorts with fewer spans go to __other__
    #[arg(long, value_name = "N", help_heading = COHORTS)]
    pub min_count: Option<u64>,
    /// Keep the K largest cohorts; the rest goes to __other__ (default 50)
    #[arg(long, value_name = "K", help_heading = COHORTS)]
    pub top: Option<usize>,
    /// The span type a report counts (default: llm; cost: llm and embedding; query: all)
    #[arg(long = "span-type", visible_alias = "kind", value_name = "TYPE", value_parser = Listed(span_types), help_heading = COHORTS)]
    pub span_type: Option<String>,
    /// Warn (and find `stale`, for --fail-on) when the newest span is older than this on the
    /// clock; `off` turns it off (default 36h; only for windows ending at the newest span)
    #[arg(long, value_name = "D", help_heading = WINDOW)]
    pub stale_after: Option<String>,
    /// Percentiles: exact (type 7, = DuckDB quantile_cont; the default) or from log-bucket
    /// histograms (1% relative accuracy; what a remote engine returns)
    #[arg(long, value_enum, help_heading = ENGINE)]
    pub percentiles: Option<PercentilesArg>,
    /// Where the queries run: local (the default), or spark (inputs: `spanlens ingest` Parquet
    /// at paths the cluster reads; only aggregates come back)
    #[arg(long, value_enum, help_heading = ENGINE)]
    pub engine: Option<EngineArg>,
    /// Spark Connect server for --engine spark: sc://HOST:PORT[/;token=...;use_ssl=true]
    #[arg(long, env = "SPARK_REMOTE", value_name = "URL", help_heading = ENGINE)]
    pub remote: Option<String>,
    /// Refuse a query returning more than N rows (reports bring back aggregates, never spans;
    /// default 1000000 on Spark and on a streamed Parquet input, none in memory); with a cap,
    /// per-trace outliers are found in the engine
    #[arg(long, value_name = "N", help_heading = ENGINE)]
    pub max_rows: Option<usize>,
    /// Output format (default: table)
    #[arg(long, value_enum, help_heading = OUTPUT)]
    pub format: Option<ReportFormat>,
    /// Write to FILE (atomically) instead of stdout; `-` is stdout
    #[arg(short = 'o', long = "output", value_name = "FILE", help_heading = OUTPUT)]
    pub output: Option<PathBuf>,
    /// The table written by --format csv|parquet (default: the first)
    #[arg(long, value_name = "NAME", help_heading = OUTPUT)]
    pub table: Option<String>,
    /// Exit 1 when a finding of one of these kinds occurs
    #[arg(long, value_delimiter = ',', value_name = "KIND[,KIND]", value_parser = Listed(finding_kinds), help_heading = GATE)]
    pub fail_on: Vec<String>,
    /// Files the command reads besides the inputs (prices, objectives, SQL),
    /// set by the command: an output may never be one of them.
    #[arg(skip)]
    pub reads: Vec<PathBuf>,
    /// The command reads the `attrs` column whatever the run names (`query`:
    /// a user's SQL), so every attribute is kept.
    #[arg(skip)]
    pub reads_attrs: bool,
    /// The format came from spanlens.toml's `[report]`, not a flag (its
    /// errors name the file's key; `report` ignores a table format there).
    #[arg(skip)]
    pub format_from_file: bool,
}

impl CommonArgs {
    /// Fill what no flag set from spanlens.toml's `[report]` (a flag wins;
    /// the other `[report]` keys are read where each is resolved). The
    /// error names the key and the values it takes.
    pub fn fill_from(&mut self, rc: &crate::config::ReportConfig) -> Result<(), String> {
        fn value<T: ValueEnum>(file: &Option<String>, key: &str) -> Result<Option<T>, String> {
            let Some(s) = file.as_deref() else {
                return Ok(None);
            };
            T::from_str(s, true).map(Some).map_err(|_| {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|v| v.to_possible_value())
                    .map(|p| p.get_name().to_string())
                    .collect();
                format!(
                    "[report] {key}: unknown value `{s}` (one of: {})",
                    names.join(", ")
                )
            })
        }
        if self.format.is_none() {
            self.format = value(&rc.format, "format")?;
            self.format_from_file = self.format.is_some();
        }
        if self.percentiles.is_none() {
            self.percentiles = value(&rc.percentiles, "percentiles")?;
        }
        if self.engine.is_none() {
            self.engine = value(&rc.engine, "engine")?;
        }
        if self.remote.is_none() {
            self.remote.clone_from(&rc.remote);
        }
        if self.max_rows.is_none() {
            self.max_rows = rc.max_rows;
        }
        Ok(())
    }

    /// `--format`, or `[report] format`, or table.
    pub fn format(&self) -> ReportFormat {
        self.format.unwrap_or(ReportFormat::Table)
    }

    /// `--engine`, or `[report] engine`, or local.
    pub fn engine(&self) -> EngineArg {
        self.engine.unwrap_or(EngineArg::Local)
    }

    /// `--percentiles`, or `[report] percentiles`, or exact.
    pub fn percentiles(&self) -> PercentilesArg {
        self.percentiles.unwrap_or(PercentilesArg::Exact)
    }
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
    #[arg(long, help_heading = RULES)]
    pub recompute: bool,
    /// How many of the most expensive traces to list
    #[arg(long, value_name = "N", help_heading = OUTPUT)]
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
    #[arg(long, value_name = "NAME", help_heading = INPUTS)]
    pub provider: Option<String>,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[arg(long, value_enum, default_value = "table", help_heading = OUTPUT)]
    pub format: InspectFormat,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where spanlens.toml and objectives.toml are written
    #[arg(long, default_value = ".", value_name = "DIR", help_heading = OUTPUT)]
    pub dir: String,
    /// Replace the files if they exist (they are never written over otherwise)
    #[arg(long, help_heading = OUTPUT)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct FieldsArgs {
    #[arg(long, value_enum, default_value = "table", help_heading = OUTPUT)]
    pub format: InspectFormat,
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// More fields: a column (input_tokens, duration_ms, model, finish_reason, ...), cost_usd,
    /// eval_score, eval_label, attr:KEY or resource:KEY (numeric when every value is a number)
    #[arg(long, value_delimiter = ',', value_name = "FIELD[,FIELD]", help_heading = DRIFT)]
    pub field: Vec<String>,
    /// Compare only the --field fields, not the defaults of docs/statistics.md
    #[arg(long, help_heading = DRIFT)]
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
    #[arg(long, value_name = "PRED|W", help_heading = COMPARISON)]
    pub candidate: Option<String>,
    /// Metrics gated: pass_rate, error_rate, refusal_rate, latency_p50, latency_p95, ttft_p50,
    /// ttft_p95, cost_mean, cost_p95, input_tokens, output_tokens (default: all)
    #[arg(long, value_delimiter = ',', value_name = "M[,M]", help_heading = COMPARISON)]
    pub metrics: Vec<String>,
    /// Family-wise significance level of the gate (Holm)
    #[arg(long, value_name = "A", help_heading = COMPARISON)]
    pub alpha: Option<f64>,
    /// Minimum effect that counts, per metric: error_rate=0.01 (absolute), latency_p95=0.1 (relative)
    #[arg(long, value_delimiter = ',', value_name = "M=X[,M=X]", help_heading = COMPARISON)]
    pub min_effect: Vec<String>,
    /// Seed of the bootstrap (same seed, same output)
    #[arg(long, value_name = "N", help_heading = COMPARISON)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub prices: PriceArgs,
}

#[derive(Args, Debug)]
pub struct AnomaliesArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Report no anomaly inside this window (A..B; repeatable)
    #[arg(long, value_name = "RANGE", help_heading = ANOMALIES)]
    pub suppress: Vec<String>,
    /// Minutes after a prompt version first appears with no anomaly (default 30; 0 = off)
    #[arg(long, value_name = "MIN", help_heading = ANOMALIES)]
    pub deploy_quiet: Option<u64>,
    /// Agent loops: the fewest LLM calls in one trace that count (default 10)
    #[arg(long, value_name = "N", help_heading = ANOMALIES)]
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
    #[arg(long, value_name = "DIR", help_heading = OUTPUT)]
    pub out_dir: Option<PathBuf>,
    /// Do not draw the SVG charts (drawn next to the -o report: into --out-dir, else REPORT-charts/)
    #[arg(long, help_heading = OUTPUT)]
    pub no_charts: bool,
    /// Show every row of the drift and compare tables in the Markdown report
    /// (by default rows whose verdict is stable, pass, insufficient or
    /// inconclusive are counted, not listed; JSON and --out-dir hold them all)
    #[arg(long, help_heading = OUTPUT)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The SQL template (placeholders and macros as in queries/README.md)
    #[arg(value_name = "FILE.sql", help_heading = INPUTS)]
    pub sql: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the expanded SQL instead of running it
    #[arg(long, help_heading = OUTPUT)]
    pub explain: bool,
}

/// `--prices`: price tables over the embedded ones (every command that
/// prices spans).
#[derive(Args, Debug, Clone, Default)]
pub struct PriceArgs {
    /// Price table over the embedded ones (repeatable; later files win): LiteLLM JSON, a
    /// Langfuse model price export, or a CSV in USD per 1M tokens with the columns
    /// model,input,output and optionally cache_read,cache_write,cache_write_1h,reasoning
    #[arg(long = "prices", value_name = "FILE", help_heading = RULES)]
    pub files: Vec<PathBuf>,
}

/// `--objectives`: service level objectives beside spanlens.toml's.
#[derive(Args, Debug, Clone, Default)]
pub struct ObjectiveArgs {
    /// Objectives file (`[[objective]]` tables); also read from spanlens.toml
    #[arg(long = "objectives", value_name = "FILE", help_heading = RULES)]
    pub file: Option<PathBuf>,
}

/// `--budget`: spend limits beside spanlens.toml's `[[budget]]`.
#[derive(Args, Debug, Clone, Default)]
pub struct BudgetArgs {
    /// Budget per cohort: USD, USD/day or USD/month (repeatable)
    #[arg(long = "budget", value_name = "USD[/PERIOD]", help_heading = RULES)]
    pub limits: Vec<String>,
}

/// Inputs and how strictly to read them (shared by every command).
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Files, directories or globs; `-` reads JSON lines from stdin
    #[arg(required = true, value_name = "IN", help_heading = INPUTS)]
    pub inputs: Vec<String>,
    /// Fail (exit 3) on the first malformed record
    #[arg(long, help_heading = INPUTS)]
    pub strict: bool,
    /// Fail (exit 3) when more than N records are malformed
    #[arg(long, value_name = "N", help_heading = INPUTS)]
    pub max_bad: Option<u64>,
    /// Keep prompt and completion text attributes (dropped by default)
    #[arg(long, help_heading = INPUTS)]
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
    #[arg(short = 'o', long = "output", value_name = "OUT", help_heading = OUTPUT)]
    pub output: PathBuf,
    /// Write a directory partitioned by day: OUT/spans/day=YYYY-MM-DD/part-0.parquet
    #[arg(long, value_enum, help_heading = OUTPUT)]
    pub partition: Option<Partition>,
    /// With --partition into an existing lake: merge (default) writes only the days of this
    /// input, each merged with the spans it holds (a span already there is kept once), and
    /// keeps every other day; overwrite replaces the whole lake
    #[arg(long, value_enum, default_value = "merge", help_heading = OUTPUT)]
    pub mode: LakeMode,
    /// Summary format: human text on stderr, or JSON on stdout
    #[arg(long, value_enum, default_value = "text", help_heading = OUTPUT)]
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
    #[arg(long, value_enum, default_value = "table", help_heading = OUTPUT)]
    pub format: InspectFormat,
    /// How many unclaimed attributes to list per input
    #[arg(long, default_value_t = 20, value_name = "N", help_heading = OUTPUT)]
    pub top: usize,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_analysis_commands_are_those_with_the_shared_options() {
        let with_by: Vec<String> = super::Cli::command()
            .get_subcommands()
            .filter(|c| c.get_arguments().any(|a| a.get_id() == "by"))
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(with_by, super::ANALYSIS_COMMANDS);
    }

    #[test]
    fn every_command_has_a_man_page() {
        let names: Vec<String> = super::Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert_eq!(names, super::COMMANDS);
    }
}
