//! One thin file per subcommand (`report.rs` is the `report` command);
//! `pipeline.rs` is what every analysis command shares: options -> scope
//! and engine, report -> rendered output -> gate.

pub mod anomalies;
pub mod compare;
pub mod cost;
pub mod drift;
pub mod fields;
pub mod ingest;
pub mod init;
pub mod inspect;
pub mod pipeline;
pub mod prices;
pub mod query;
pub mod report;
pub mod slo;

use std::io::Write;

use crate::cli::{GlobalArgs, InputArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::frame::LoadOptions;
use crate::ingest::aliases::AliasTable;
use crate::ingest::resolve::ResolveOptions;

/// What every subcommand gets besides its own options.
pub struct Context {
    pub config: Config,
    pub quiet: bool,
    pub progress: bool,
    /// Terminal tables on stdout are coloured (`--color`, `NO_COLOR`).
    pub color: bool,
    /// The width terminal tables on stdout fit (`--width`, a terminal's);
    /// None: every column (piped, `--wide`).
    pub width: Option<usize>,
    /// `--width` was given: files written with `-o` fit it too.
    pub width_asked: bool,
}

impl Context {
    pub fn new(g: &GlobalArgs) -> Result<Context> {
        Ok(Context {
            config: Config::load(g.config.as_deref())?,
            quiet: g.quiet,
            progress: !g.quiet && !g.no_progress,
            color: color(g.color),
            width: width(g),
            width_asked: g.width.is_some(),
        })
    }

    /// Every file a run reads besides its inputs: the command's own
    /// (`extra`), the configuration file and the price tables it names.
    pub fn reads(&self, extra: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
        let mut v = extra.to_vec();
        v.extend(self.config.path.iter().cloned());
        v.extend(self.config.cost.prices.iter().cloned());
        v
    }

    pub fn load_options(&self, input: &InputArgs) -> Result<LoadOptions> {
        let table = AliasTable::new(&self.config.field_overrides())?;
        let max_bad = if input.strict {
            Some(0)
        } else {
            input.max_bad.or(self.config.ingest.max_bad)
        };
        Ok(LoadOptions {
            table,
            resolve: ResolveOptions {
                include_text: input.include_text || self.config.ingest.include_text,
                // spelt as users write them (`bedrock`, `Anthropic`), matched
                // as spans' providers are normalised
                exclusive_input_providers: self
                    .config
                    .ingest
                    .exclusive_input_providers
                    .iter()
                    .map(|p| crate::ingest::aliases::normalize_provider(p))
                    .collect(),
                now_ns: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
                skip_attrs: false,
            },
            max_bad,
            progress: self.progress,
            context_lake: None,
        })
    }
}

/// Write rendered bytes to stdout; a closed pipe is not an error (exit 0).
pub fn to_stdout(render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    render(&mut lock)
        .and_then(|_| lock.flush())
        .map_err(|e| Error::output_io("<stdout>", &e))
}

/// Whether stdout's tables are coloured: never with a non-empty
/// `NO_COLOR` (no-color.org; the terminal library would drop the colour
/// anyway), else `--color always` or `never` as given, and `auto` when
/// stdout is a terminal that shows colour.
fn color(arg: crate::cli::ColorArg) -> bool {
    use std::io::IsTerminal;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    match arg {
        crate::cli::ColorArg::Always => true,
        crate::cli::ColorArg::Never => false,
        crate::cli::ColorArg::Auto => {
            std::env::var_os("TERM").is_none_or(|t| t != "dumb") && std::io::stdout().is_terminal()
        }
    }
}

/// The width stdout's tables fit: `--width N`; else, when stdout is a
/// terminal and `--wide` is not given, `$COLUMNS` if it is a number, else
/// the terminal's width (100 when it cannot be read). Piped output keeps
/// every column, so scripts see the same bytes on any terminal.
fn width(g: &crate::cli::GlobalArgs) -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(w) = g.width {
        return Some(w.into());
    }
    if g.wide || !std::io::stdout().is_terminal() {
        return None;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    let terminal = || terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
    Some(columns.or_else(terminal).unwrap_or(100).max(20))
}

impl Context {
    /// How a terminal table is drawn on stdout, or into a file (`-o`:
    /// never coloured, fitted only to an explicit `--width`).
    pub fn view(&self, to_file: bool) -> crate::report::render::View {
        crate::report::render::View {
            color: self.color && !to_file,
            width: if to_file && !self.width_asked {
                None
            } else {
                self.width
            },
        }
    }
}

/// Tables with no window, gate or findings (`prices`, `fields`) on stdout,
/// as a terminal table or JSON.
pub fn print_tables(
    command: &str,
    tables: Vec<crate::report::model::Table>,
    notes: Vec<String>,
    format: crate::cli::InspectFormat,
    ctx: &Context,
) -> Result<i32> {
    use crate::report::render;
    let report = crate::report::model::Report {
        command: command.into(),
        meta: Vec::new(),
        tables,
        findings: Vec::new(),
        notes,
        headline: None,
        charts: Vec::new(),
    };
    match format {
        crate::cli::InspectFormat::Table => {
            to_stdout(|w| render::table(&report, w, ctx.view(false)))?
        }
        crate::cli::InspectFormat::Json => to_stdout(|w| render::json(&report, w))?,
    }
    Ok(crate::exit::OK)
}

/// Write to stderr, ignoring failures (diagnostics must never fail a run).
pub fn to_stderr(render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let _ = render(&mut lock);
}
