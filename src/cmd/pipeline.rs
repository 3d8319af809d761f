//! The pipeline every analysis command shares: its common options to a
//! scope and an engine (`prepare`), then the report to rendered output
//! (`emit`) and the gate's exit code.

use std::path::Path;

use super::{to_stderr, to_stdout, Context};
use crate::cli::{CommonArgs, ReportFormat};
use crate::engine::local::LocalEngine;
use crate::engine::{parse_key, Engine, Extent, Key, KindFilter, Scope};
use crate::error::{Error, Result};
use crate::frame;
use crate::report::format::{self, int};
use crate::report::model::{Finding, FindingKind, Report};
use crate::report::render;
use crate::span::row::SpanType;
use crate::window::{self, Window};

/// Spans later than the clock by more than this are a skewed clock's: they
/// are counted and left out of "the newest span" that relative windows end at.
pub const FUTURE_TOLERANCE_NS: i64 = 15 * 60 * crate::window::NS_PER_SEC;

/// What a command needs from the data before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// At least one span of the kind, passing `--where`, in the current
    /// window (slo, cost, drift, anomalies, report).
    CurrentWindow,
    /// At least one span read (compare checks its arms itself; query).
    AnySpan,
}

pub struct Prepared {
    pub engine: Box<dyn Engine>,
    pub scope: Scope,
    pub baseline: Window,
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub fail_on: Vec<FindingKind>,
    pub pre: Preamble,
    /// `--tz`: the zone of days (budgets' months, daily charts)
    pub tz: window::TimeZone,
}

/// What the preparation says before any section: meta lines (window,
/// inputs, engine, clock notes) and findings about the data itself (a
/// stale export).
#[derive(Default)]
pub struct Preamble {
    pub meta: Vec<(String, String)>,
    pub findings: Vec<Finding>,
}

impl Preamble {
    /// Put the preamble in front of a report's own meta and findings.
    pub fn apply(self, report: &mut Report) {
        report.meta.splice(0..0, self.meta);
        report.findings.splice(0..0, self.findings);
    }
}

pub fn keys(by: &[String]) -> Result<Vec<Key>> {
    by.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            parse_key(s).map_err(|e| {
                Error::usage(
                    format!("--by: {e}"),
                    "e.g. --by route,model or --by attr:app.region",
                )
            })
        })
        .collect()
}

fn window_arg(
    v: Option<&str>,
    flag: &str,
    tz: &window::TimeZone,
) -> Result<Option<window::WindowSpec>> {
    v.map(|s| {
        window::parse_window(s, tz).map_err(|e| {
            Error::usage(
                format!("{flag}: {e}"),
                "write a length (1d, 6h, 1h30m, P1D), a day (2026-01-08, yesterday) or a range (2026-01-01..2026-01-08, 2026-01-07..now, 2026-01-07..)",
            )
        })
    })
    .transpose()
}

/// Whether the run names an attribute (`attr:KEY`, `resource:KEY`): a key
/// parsed so far (`--by`, `--where`, drift fields, objectives' and budgets'
/// selectors, all parsed before the read), or the text of its arguments or
/// of a file it reads besides its inputs (configuration, objectives, price
/// tables), for a key parsed after the read (compare's arms). When none
/// does, no query reads an attribute but those spanlens itself reads, and
/// the read keeps only those ([`crate::ingest::resolve::KEPT_ATTRS`]). A
/// file that is not a plain readable file (a pipe read once already)
/// counts as naming one; a missed key is refused by the engine, never
/// answered as if no span had the attribute.
fn names_attributes(ctx: &Context, reads: &[std::path::PathBuf]) -> bool {
    let names = |t: &str| t.contains("attr:") || t.contains("resource:");
    crate::engine::attribute_named()
        || std::env::args_os().any(|a| names(&a.to_string_lossy()))
        || ctx.reads(reads).iter().any(|p| {
            !std::fs::metadata(p).is_ok_and(|m| m.is_file())
                || std::fs::read_to_string(p).map_or(true, |t| names(&t))
        })
}

/// What the binary does once the inputs are held in memory, before the
/// queries run: `main.rs` keeps memory the allocator frees for reuse
/// (every query allocates and frees columns of a million rows; returned
/// to the system and taken back, each page is zeroed again by the kernel).
/// Set by the binary only: unset in unit tests and when spanlens is a
/// library.
pub static LOADED_IN_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// The engine the report runs on, and the `inputs` meta line.
fn open_engine(
    a: &CommonArgs,
    ctx: &Context,
    method: crate::engine::PercentileMethod,
) -> Result<(Box<dyn Engine>, String)> {
    if a.engine() == crate::cli::EngineArg::Spark {
        return spark_engine(a);
    }
    if let Some(st) = frame::stream::open(&a.input.inputs, frame::stream::threshold())? {
        let cap = a.max_rows.unwrap_or(crate::engine::ROW_CAP);
        return Ok((
            Box::new(LocalEngine::streamed(st.spans, st.evals, cap)),
            format!(
                "{} file(s), {} spans, streamed from Parquet (over {} spans: log-bucket \
                 percentiles, spans not deduplicated across files)",
                st.files,
                int(st.span_rows),
                int(frame::stream::threshold())
            ),
        ));
    }
    let mut opts = ctx.load_options(&a.input)?;
    opts.resolve.skip_attrs = !a.reads_attrs && !names_attributes(ctx, &a.reads);
    let only = opts
        .resolve
        .skip_attrs
        .then_some(crate::ingest::resolve::KEPT_ATTRS);
    let bound = frame::spill::threshold();
    let loaded = frame::load_bounded(&a.input.inputs, &opts, bound)?;
    let (rejected, nfiles, dups) = match &loaded {
        frame::Loaded::Memory(ds) => (
            ds.rejected(),
            ds.files.len(),
            (ds.duplicates(), ds.eval_duplicates),
        ),
        frame::Loaded::Spilled(sp) => (
            sp.rejected(),
            sp.files.len(),
            (sp.duplicates(), sp.eval_duplicates),
        ),
    };
    let dup_text = match dups {
        (0, 0) => String::new(),
        (s, 0) => format!(", {} duplicate span(s) dropped", int(s)),
        (s, e) => format!(
            ", {} duplicate span(s) and {} duplicate evaluation(s) dropped",
            int(s),
            int(e)
        ),
    };
    if rejected > 0 && !ctx.quiet {
        to_stderr(|w| {
            writeln!(
                w,
                "spanlens: note: {} malformed record(s) skipped; `spanlens ingest` lists each file:line",
                int(rejected)
            )
        });
    }
    Ok(match loaded {
        frame::Loaded::Memory(ds) => {
            if let Some(f) = LOADED_IN_MEMORY.get() {
                f();
            }
            let nspans = int(ds.spans.height() as u64);
            (
                Box::new(
                    LocalEngine::new(ds.spans, ds.evals)
                        .with_method(method)
                        .with_row_cap(a.max_rows)
                        .with_only_attrs(only),
                ),
                format!(
                    "{nfiles} file(s), {nspans} spans, {} malformed record(s) skipped{dup_text}",
                    int(rejected)
                ),
            )
        }
        frame::Loaded::Spilled(sp) => {
            let cap = a.max_rows.unwrap_or(crate::engine::ROW_CAP);
            let inputs = format!(
                "{nfiles} file(s), {} spans, {} malformed record(s) skipped{dup_text}; \
                 over {} spans: spilled to Parquet in {} partitions by trace and \
                 streamed (log-bucket percentiles)",
                int(sp.spans),
                int(rejected),
                int(bound),
                sp.partitions
            );
            let sp = *sp;
            (
                Box::new(
                    LocalEngine::streamed(sp.streamed.spans, sp.streamed.evals, cap)
                        .holding(sp.dir)
                        .with_only_attrs(only),
                ),
                inputs,
            )
        }
    })
}

#[cfg(feature = "spark")]
fn spark_engine(a: &CommonArgs) -> Result<(Box<dyn Engine>, String)> {
    let remote = a.remote.as_deref().ok_or_else(|| {
        Error::usage(
            "--engine spark needs a Spark Connect server",
            "give --remote sc://HOST:PORT or set SPARK_REMOTE",
        )
    })?;
    let cap = a.max_rows.unwrap_or(crate::engine::ROW_CAP);
    let engine = crate::engine::spark::SparkEngine::connect(remote, &a.input.inputs, cap)?;
    Ok((
        Box::new(engine),
        format!(
            "{} input(s) read by Spark at {}",
            a.input.inputs.len(),
            remote.split("/;").next().unwrap_or(remote)
        ),
    ))
}

#[cfg(not(feature = "spark"))]
fn spark_engine(_a: &CommonArgs) -> Result<(Box<dyn Engine>, String)> {
    Err(Error::usage(
        "this spanlens was built without the Spark engine",
        "build with `cargo build --release --features spark`",
    ))
}

/// Parse the shared options, read the inputs, resolve the windows.
pub fn prepare(
    a: &CommonArgs,
    ctx: &Context,
    default_kind: KindFilter,
    need: Need,
) -> Result<Prepared> {
    let rc = &ctx.config.report;
    let by = if a.by.is_empty() {
        rc.by.clone().unwrap_or_default()
    } else {
        a.by.clone()
    };
    let filters = if a.filters.is_empty() {
        rc.filters.clone().unwrap_or_default()
    } else {
        a.filters.clone()
    };
    let keys = keys(&by)?;
    let conds = crate::options::conditions(&filters, "--where")?;
    let tz = time_zone(a, ctx)?;
    let current = window_arg(
        a.current.as_deref().or(rc.current.as_deref()),
        "--current",
        &tz,
    )?;
    let baseline = window_arg(
        a.baseline.as_deref().or(rc.baseline.as_deref()),
        "--baseline",
        &tz,
    )?;
    let until =
        window::parse_until(a.until.as_deref().or(rc.until.as_deref()), &tz).map_err(|e| {
            Error::usage(
                format!("--until: {e}"),
                "write `now` or a time such as 2026-01-31T00:00:00Z",
            )
        })?;
    let kind = kind_filter(a.span_type.as_deref().or(rc.kind.as_deref()), default_kind)?;
    let stale_after = stale_after(a.stale_after.as_deref().or(rc.stale_after.as_deref()))?;
    let mut fail_on = a.fail_on.clone();
    if fail_on.is_empty() {
        fail_on = rc.fail_on.clone().unwrap_or_default();
    }
    let fail_on = crate::gate::parse(&fail_on)?;
    if let Some(o) = &a.output {
        crate::output::refuse_input_as_output(o, &a.input.inputs, &ctx.reads(&a.reads))?;
    }
    if a.format() == ReportFormat::Parquet && a.output.is_none() {
        let from = if a.format_from_file {
            "spanlens.toml [report] format = \"parquet\""
        } else {
            "--format parquet"
        };
        return Err(Error::usage(
            format!("{from} needs an output file"),
            "add -o FILE.parquet, or --format to choose another format",
        ));
    }

    let method = match a.percentiles() {
        crate::cli::PercentilesArg::Exact => crate::engine::PercentileMethod::Exact,
        crate::cli::PercentilesArg::LogBucket => crate::engine::PercentileMethod::LogBucket,
    };
    let (mut engine, inputs_meta) = open_engine(a, ctx, method)?;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let cutoff = now.saturating_add(FUTURE_TOLERANCE_NS);
    let mut clock_meta = Vec::new();
    let mut findings = Vec::new();
    let relative = window::needs_data_end(current, until);
    let last = if relative {
        let future = engine.span_extent(Some(cutoff))?;
        if future.spans > 0 {
            let what = format!(
                "{} span(s) start after the clock ({} .. {}): left out of the newest span the \
                 windows end at (a host with a skewed clock?)",
                future.spans,
                format::time_ns(future.first_ns.unwrap_or(0)),
                format::time_ns(future.last_ns.unwrap_or(0))
            );
            warn(ctx, &what);
            clock_meta.push(("future spans".to_string(), what));
        }
        let last = engine.last_start_ns(cutoff)?;
        if last.is_none() {
            return Err(nothing_read(engine.span_extent(None)?, &inputs_meta));
        }
        last
    } else {
        None
    };
    if let (Some(t), Some(limit)) = (last, stale_after) {
        if now.saturating_sub(t) > limit {
            let what = format!(
                "the newest span starts at {}, more than {} before the clock: a stale export? \
                 (--stale-after)",
                format::time_ns(t),
                format::duration_ns(limit)
            );
            warn(ctx, &what);
            clock_meta.push(("stale".to_string(), what.clone()));
            findings.push(Finding::new(
                crate::report::model::FindingKind::Stale,
                what,
                Finding::CRITICAL,
            ));
        }
    }
    let (cur, base) = window::resolve(current, baseline, until, last, now);
    // a span in both would be counted in one of them only (drift, compare
    // and the anomaly baselines would judge a window they did not read)
    if base.start_ns < cur.end_ns && cur.start_ns < base.end_ns {
        return Err(Error::usage(
            format!(
                "the baseline window ({} .. {}) overlaps the current window ({} .. {})",
                format::time_ns(base.start_ns),
                format::time_ns(base.end_ns),
                format::time_ns(cur.start_ns),
                format::time_ns(cur.end_ns)
            ),
            "give a baseline that ends where the current window starts: a length (--baseline 7d: \
             the 7 days before it) or a range ending at its start",
        ));
    }
    let key_names = if keys.is_empty() {
        vec!["cohort".to_string()]
    } else {
        keys.iter().map(|k| k.name().to_string()).collect()
    };
    let s = &ctx.config.slo;
    let scope = Scope {
        keys,
        conditions: conds,
        window: cur,
        kind,
        kept: None,
        refusal_reasons: s.refusal_reasons.clone(),
        pass_labels: s.pass_labels.iter().map(|x| x.to_lowercase()).collect(),
        fail_labels: s.fail_labels.iter().map(|x| x.to_lowercase()).collect(),
        score_threshold: s.score_threshold,
        arms: None,
    };
    match need {
        Need::CurrentWindow => require_current(&mut *engine, &scope, &inputs_meta)?,
        Need::AnySpan if !relative => {
            let all = engine.span_extent(None)?;
            if all.spans == 0 {
                return Err(nothing_read(all, &inputs_meta));
            }
        }
        Need::AnySpan => {}
    }
    let mut meta = vec![
        (
            "window".to_string(),
            format!(
                "{} .. {}",
                format::time_ns(cur.start_ns),
                format::time_ns(cur.end_ns)
            ),
        ),
        ("inputs".to_string(), inputs_meta),
        (
            "engine".to_string(),
            format!(
                "{} (percentiles: {})",
                engine.name(),
                engine.percentiles().describe()
            ),
        ),
    ];
    if !window::is_utc(&tz) {
        meta.push((
            "time zone".to_string(),
            format!(
                "{} (days, budgets' months and daily charts; times shown in UTC)",
                window::tz_name(&tz)
            ),
        ));
    }
    if let Some(how) = &ctx.config.found {
        meta.push(("config".to_string(), how.clone()));
    }
    meta.extend(clock_meta);
    Ok(Prepared {
        engine,
        scope,
        baseline: base,
        key_names,
        min_count: a.min_count.or(rc.min_count).unwrap_or(1),
        top: a.top.or(rc.top).unwrap_or(crate::options::DEFAULT_TOP),
        fail_on,
        pre: Preamble { meta, findings },
        tz,
    })
}

/// `--span-type` (alias `--kind`): `all` or one span type; anything else is a usage error.
pub fn kind_filter(v: Option<&str>, default: KindFilter) -> Result<KindFilter> {
    let Some(t) = v.map(str::trim) else {
        return Ok(default);
    };
    if t.eq_ignore_ascii_case("all") {
        return Ok(KindFilter::All);
    }
    let t = t.to_ascii_lowercase();
    match SpanType::parse(&t) {
        Some(st) => Ok(KindFilter::SpanTypes(vec![st.as_str().to_string()])),
        None => Err(Error::usage(
            format!(
                "--span-type: unknown span type `{t}`{}",
                crate::error::did_you_mean(&t, SpanType::ALL.iter().map(|x| x.as_str()))
            ),
            format!(
                "use all or one of {}",
                SpanType::ALL
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `--tz ZONE`, else `[report] tz`, else UTC.
pub fn time_zone(a: &CommonArgs, ctx: &Context) -> Result<window::TimeZone> {
    match a.tz.as_deref().or(ctx.config.report.tz.as_deref()) {
        None => Ok(window::TimeZone::UTC),
        Some(z) => window::parse_tz(z).map_err(|e| {
            Error::usage(
                format!("--tz: {e}"),
                "e.g. --tz America/New_York, --tz Europe/Berlin or --tz UTC",
            )
        }),
    }
}

/// `--stale-after D` (`off` turns the check off).
fn stale_after(v: Option<&str>) -> Result<Option<i64>> {
    let v = v.unwrap_or(crate::options::DEFAULT_STALE_AFTER).trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    window::parse_duration(v).map(Some).map_err(|e| {
        Error::usage(
            format!("--stale-after: {e}"),
            "write a length such as 36h or 2d, or off",
        )
    })
}

/// A warning on stderr (unless --quiet); it is in the report's meta too.
fn warn(ctx: &Context, what: &str) {
    if !ctx.quiet {
        to_stderr(|w| writeln!(w, "spanlens: warning: {}", format::terminal_safe(what, 400)));
    }
}

/// The error for inputs with no span (or none before the clock), from the
/// extent of every span read.
fn nothing_read(all: Extent, inputs_meta: &str) -> Error {
    if all.spans == 0 {
        Error::no_data(
            format!("no span read from the inputs ({inputs_meta})"),
            "check that the inputs are trace exports (spanlens inspect IN shows what each file \
             holds); spanlens ingest lists every rejected record with file:line",
        )
    } else {
        Error::no_data(
            format!(
                "every span read ({}) starts after the clock ({} .. {})",
                all.spans,
                format::time_ns(all.first_ns.unwrap_or(0)),
                format::time_ns(all.last_ns.unwrap_or(0))
            ),
            "check the exporting hosts' clocks, or give absolute windows \
             (--current 2026-01-08..2026-01-09)",
        )
    }
}

/// Exit 3 unless the current window holds a span the report can judge.
fn require_current(engine: &mut dyn Engine, scope: &Scope, inputs_meta: &str) -> Result<()> {
    let q = crate::metrics::expand(
        engine,
        scope,
        crate::engine::template::Template::WindowSpans,
        &[],
    )?;
    let n = crate::metrics::ask_one(engine, q)?;
    let n = crate::metrics::Rows::new(&n, "window_spans").u64s("n")?;
    if n.iter().sum::<u64>() > 0 {
        return Ok(());
    }
    let all = engine.span_extent(None)?;
    if all.spans == 0 {
        return Err(nothing_read(all, inputs_meta));
    }
    let mut what = String::from("no span");
    if let KindFilter::SpanTypes(t) = &scope.kind {
        what.push_str(&format!(" of type {}", t.join(" or ")));
    }
    if !scope.conditions.is_empty() {
        what.push_str(" matching the --where conditions");
    }
    Err(Error::no_data(
        format!(
            "{what} in the current window {} .. {}; the data covers {} .. {} ({} spans)",
            format::time_ns(scope.window.start_ns),
            format::time_ns(scope.window.end_ns),
            format::time_ns(all.first_ns.unwrap_or(0)),
            format::time_ns(all.last_ns.unwrap_or(0)),
            all.spans
        ),
        "move the window (--current, --until) to where the data is, or check --where and --span-type",
    ))
}

/// Render in the chosen format to -o (atomically) or stdout, then gate.
pub fn emit(
    report: &Report,
    a: &CommonArgs,
    fail_on: &[FindingKind],
    ctx: &Context,
) -> Result<i32> {
    let pick = || -> Result<&crate::report::model::Table> {
        match &a.table {
            None => report
                .tables
                .first()
                .ok_or_else(|| Error::usage("the report has no table", "use --format json")),
            Some(n) => report.table(n).ok_or_else(|| {
                Error::usage(
                    format!("--table: no table named `{n}`"),
                    format!(
                        "this report has: {}",
                        report
                            .tables
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }),
        }
    };
    let write = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        match a.format() {
            // colour and fitting only where a person reads it: stdout, not a file
            ReportFormat::Table => render::table(report, w, ctx.view(a.output.is_some())),
            ReportFormat::Markdown => render::markdown(report, w),
            ReportFormat::Json => render::json(report, w),
            ReportFormat::Jsonl => match a.table {
                Some(_) => render::jsonl([(None, pick().map_err(std::io::Error::other)?)], w),
                None => render::jsonl(report.tables.iter().map(|t| (None, t)), w),
            },
            ReportFormat::Csv => render::csv(pick().map_err(std::io::Error::other)?, w),
            ReportFormat::Parquet => render::parquet(pick().map_err(std::io::Error::other)?, w),
        }
    };
    // surface a bad --table as a usage error before anything is written
    if matches!(a.format(), ReportFormat::Csv | ReportFormat::Parquet)
        || (a.format() == ReportFormat::Jsonl && a.table.is_some())
    {
        pick()?;
    }
    match &a.output {
        Some(p) => crate::output::write_atomic(Path::new(p), write)?,
        None => to_stdout(write)?,
    }
    Ok(gate(&report.findings, fail_on, ctx))
}

/// The exit code of `--fail-on` over `findings`; the gated findings on
/// stderr unless --quiet.
pub fn gate(findings: &[Finding], fail_on: &[FindingKind], ctx: &Context) -> i32 {
    let (code, hits) = crate::gate::evaluate(findings, fail_on);
    if !ctx.quiet && !hits.is_empty() {
        to_stderr(|w| {
            writeln!(
                w,
                "spanlens: {} gated finding(s) (--fail-on {}):",
                hits.len(),
                fail_on
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for f in hits.iter().take(20) {
                writeln!(
                    w,
                    "  {}: {}",
                    f.kind,
                    format::terminal_safe(&f.message, 300)
                )?;
            }
            Ok(())
        });
    }
    code
}
