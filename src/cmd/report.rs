//! `spanlens report IN... -o report.md [--out-dir DIR]`: the nightly job.
//! The inputs are read once; every section runs on the same in-memory
//! tables (SLO, cost, drift, each cohort's newest prompt version against
//! the previous one, anomalies).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::pipeline::{prepare, Need};
use super::{to_stdout, Context};
use crate::cli::{ReportArgs, ReportFormat};
use crate::engine::{parse_key, Engine, KindFilter, Scope};
use crate::error::{Error, Result};
use crate::metrics::anomaly::{self, AnomalyOptions};
use crate::metrics::compare::{self, ArmsSpec, CompareOptions};
use crate::metrics::cost::{self, CostOptions, CostReportOptions};
use crate::metrics::drift::{self, DriftOptions, FieldSpec};
use crate::metrics::slo::{self, Objective, SloOptions};
use crate::metrics::trend::{self, TrendOptions};
use crate::options::{self, AnomalySettings, CompareSettings};
use crate::output::{write_atomic, DirLock, FileSet};
use crate::report::model::{
    Cell, ChartLink, Finding, FindingKind, Nightly, Report, Section, SummaryBlock,
};
use crate::report::render;
use crate::report::{chart, format};
use crate::window::Window;

/// Items per summary block on the first screen.
const FIRST_SCREEN: usize = 5;

/// What every section of the report shares: the scope the inputs were
/// opened with, and the options built once from the flags and
/// spanlens.toml (`options.rs`).
struct Plan {
    scope: Scope,
    key_names: Vec<String>,
    min_count: u64,
    top: usize,
    baseline: Window,
    /// the price tables every section reads, read once, and the prices
    /// of every model the report's spans name, resolved once
    prices: CostOptions,
    /// the cost section's: its span types, budgets and top traces
    cost: CostOptions,
    objectives: Vec<Objective>,
    slo_cost: Option<CostOptions>,
    fields: Vec<FieldSpec>,
    charts: bool,
    compare: CompareSettings,
    anomalies: AnomalySettings,
}

/// One section of the report: its name (in JSON, the `--out-dir` file
/// names and the timings), its title, and how it runs over the plan.
struct SectionDef {
    name: &'static str,
    title: &'static str,
    run: fn(&mut dyn Engine, &Plan) -> Result<Report>,
}

/// The report's sections, in order. A new section is a line here and its
/// run function below.
const SECTIONS: [SectionDef; 5] = [
    SectionDef {
        name: "slo",
        title: "Service levels",
        run: slo_section,
    },
    SectionDef {
        name: "cost",
        title: "Cost",
        run: cost_section,
    },
    SectionDef {
        name: "drift",
        title: "Drift since the baseline",
        run: drift_section,
    },
    SectionDef {
        name: "compare",
        title: "Newest prompt version vs the previous one",
        run: compare_section,
    },
    SectionDef {
        name: "anomalies",
        title: "Anomalies",
        run: anomaly_section,
    },
];

fn slo_section(engine: &mut dyn Engine, p: &Plan) -> Result<Report> {
    slo::run(
        engine,
        p.scope.clone(),
        &SloOptions {
            key_names: p.key_names.clone(),
            min_count: p.min_count,
            top: p.top,
            objectives: p.objectives.clone(),
            cost: p.slo_cost.clone(),
        },
    )
}

fn cost_section(engine: &mut dyn Engine, p: &Plan) -> Result<Report> {
    let mut scope = p.scope.clone();
    scope.kind = p.cost.kind.clone();
    cost::run(
        engine,
        scope,
        &CostReportOptions {
            key_names: p.key_names.clone(),
            min_count: p.min_count,
            top: p.top,
            cost: p.cost.clone(),
        },
    )
}

fn drift_section(engine: &mut dyn Engine, p: &Plan) -> Result<Report> {
    drift::run(
        engine,
        p.scope.clone(),
        &DriftOptions {
            key_names: p.key_names.clone(),
            min_count: p.min_count,
            top: p.top,
            baseline: p.baseline,
            fields: p.fields.clone(),
            cost: Some(p.prices.clone()),
            charts: p.charts,
        },
    )
}

/// Each cohort's newest prompt version against the one before it, over
/// every span up to the report's end.
fn compare_section(engine: &mut dyn Engine, p: &Plan) -> Result<Report> {
    let mut scope = p.scope.clone();
    scope.window = Window {
        start_ns: crate::stats::quantile::ZERO_BUCKET,
        end_ns: p.scope.window.end_ns,
    };
    let field = parse_key("prompt_version").map_err(|e| Error::usage(e, "a bundled field name"))?;
    compare::run(
        engine,
        scope,
        &CompareOptions {
            key_names: p.key_names.clone(),
            min_count: p.min_count,
            top: p.top,
            arms: ArmsSpec::Latest {
                field,
                baseline: None,
                missing_ok: true,
            },
            metrics: p.compare.metrics.clone(),
            alpha: p.compare.alpha,
            min_effect: p.compare.min_effect.clone(),
            seed: p.compare.seed,
            cost: p.prices.clone(),
        },
    )
}

fn anomaly_section(engine: &mut dyn Engine, p: &Plan) -> Result<Report> {
    anomaly::run(
        engine,
        p.scope.clone(),
        &AnomalyOptions {
            key_names: p.key_names.clone(),
            min_count: p.min_count,
            top: p.top,
            baseline: p.baseline,
            cost: p.prices.clone(),
            suppress: p.anomalies.suppress.clone(),
            deploy_quiet_ns: p.anomalies.deploy_quiet_ns,
            loop_floor: p.anomalies.loop_floor,
            composites: p.anomalies.composites.clone(),
        },
    )
}

pub fn run(mut args: ReportArgs, ctx: &Context) -> Result<i32> {
    let mut format = args.common.format();
    // a one-table format in [report] is for the single-report commands
    if args.common.format_from_file && matches!(format, ReportFormat::Csv | ReportFormat::Parquet) {
        format = ReportFormat::Markdown;
        args.common.format = Some(format);
    }
    let json = match format {
        ReportFormat::Table | ReportFormat::Markdown => false,
        ReportFormat::Json | ReportFormat::Jsonl => true,
        ReportFormat::Csv | ReportFormat::Parquet => {
            return Err(Error::usage(
                "report writes Markdown, JSON or JSON lines",
                "use --out-dir DIR for every table as Parquet",
            ))
        }
    };
    // the nightly report is per route unless told otherwise
    if args.common.by.is_empty() && ctx.config.report.by.is_none() {
        args.common.by = vec!["route".into()];
    }
    let mut reads = args.prices.files.clone();
    reads.extend(args.objectives.file.iter().cloned());
    args.common.reads = reads;
    if let Some(d) = &args.out_dir {
        crate::output::refuse_input_as_output(
            d,
            &args.common.input.inputs,
            &ctx.reads(&args.common.reads),
        )?;
        if let Some(o) = &args.common.output {
            refuse_collision(o, d)?;
        }
    }
    // the price tables are read once, for cost objectives and every section
    let prices = options::cost(ctx, &args.prices.files)?;
    let (objectives, slo_cost) =
        options::objectives(ctx, args.objectives.file.as_deref(), || Ok(prices.clone()))?;
    let budgets = options::budgets(ctx, &args.budgets.limits)?;
    let fields = options::drift_fields(ctx, &[], false, false)?;
    let compare = options::compare(ctx, options::CompareFlags::default())?;
    let anomalies = options::anomalies(
        ctx,
        options::AnomalyFlags::default(),
        &super::pipeline::time_zone(&args.common, ctx)?,
    )?;
    let user_kind = args.common.span_type.is_some() || ctx.config.report.kind.is_some();

    let t = crate::timing::phase("prepare");
    let p = prepare(&args.common, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    drop(t);
    // output directories only once there is something to write
    let _lock = match &args.out_dir {
        Some(d) => Some(output_dir(d)?),
        None => None,
    };
    if let Some(o) = &args.common.output {
        let parent = crate::output::parent_dir(o);
        std::fs::create_dir_all(&parent).map_err(|e| Error::output_io(&parent, &e))?;
    }
    // charts go next to a report file: into --out-dir, else REPORT-charts/
    let charts_dir = match (&args.common.output, &args.out_dir) {
        (Some(_), _) if args.no_charts => None,
        (Some(_), Some(d)) => Some(d.clone()),
        (Some(o), None) => Some(charts_beside(o)),
        (None, _) => None,
    };
    // --no-charts: the charts an earlier run drew beside this report go
    let old_charts = match (&args.common.output, &args.out_dir) {
        (Some(o), None) if args.no_charts => {
            Some(charts_beside(o)).filter(|d| d.join(WRITTEN).is_file())
        }
        _ => None,
    };
    let _charts_lock = match &charts_dir {
        Some(d) if args.out_dir.as_ref() != Some(d) => Some(output_dir(d)?),
        _ => None,
    };
    let mut engine = p.engine;
    // every section but cost (slo's cost objectives, drift, compare,
    // anomalies, the charts) prices its spans from one resolution over
    // every span the report reads (the cost section's models table counts
    // its own window's usage)
    let end = p.scope.window.end_ns.max(p.baseline.end_ns);
    let shared = {
        let _t = crate::timing::phase("prices");
        cost::shared(&mut engine, &p.scope, end, &prices)?
    };
    let slo_cost = slo_cost.map(|c| CostOptions {
        resolved: shared.resolved.clone(),
        ..c
    });
    // the cost section counts LLM and embedding spans unless told otherwise
    let mut cost = prices.clone();
    if user_kind {
        cost.kind = p.scope.kind.clone();
    }
    cost.budgets = budgets;
    cost.tz = p.tz.clone();
    let plan = Plan {
        scope: p.scope,
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        baseline: p.baseline,
        prices: shared,
        cost,
        objectives,
        slo_cost,
        fields,
        charts: !args.no_charts,
        compare,
        anomalies,
    };
    let mut sections = Vec::with_capacity(SECTIONS.len());
    for s in &SECTIONS {
        let _t = crate::timing::phase(s.name);
        sections.push(section(s.name, s.title, (s.run)(&mut engine, &plan)?));
    }
    let t = crate::timing::phase("trends");
    let trends = trend::run(
        &mut engine,
        &plan.scope,
        &TrendOptions {
            key_names: plan.key_names.clone(),
            min_count: plan.min_count,
            top: plan.top,
            baseline: plan.baseline,
            cost: CostOptions {
                resolved: plan.prices.resolved.clone(),
                ..plan.cost.clone()
            },
            tz: plan.cost.tz.clone(),
        },
    )?;
    drop(t);
    let mut nightly = summarize(sections, p.pre, trends.spend);
    for (name, chart) in trends.charts {
        if let Some(s) = nightly.sections.iter_mut().find(|s| s.name == name) {
            s.report.charts.push(chart);
        }
    }
    // the report, its charts and its tables are one set: a reader sees
    // the old set or the new one (FileSet)
    let mut set = args
        .out_dir
        .as_ref()
        .or(charts_dir.as_ref())
        .map(|d| FileSet::new(d));
    if let (Some(dir), Some(report), Some(set)) = (&charts_dir, &args.common.output, &mut set) {
        nightly.charts = write_charts(set, dir, report, &nightly)?;
    } else if !args.no_charts {
        nightly.meta.push((
            "charts".into(),
            "not drawn: the report went to stdout (give -o FILE)".into(),
        ));
    }

    // what the Markdown report shows; JSON and the --out-dir tables hold
    // every row
    let shown = if args.all || json {
        None
    } else {
        Some(hide_quiet_rows(&nightly))
    };
    let shown = shown.as_ref().unwrap_or(&nightly);
    let write = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        if format == ReportFormat::Jsonl {
            let tables = nightly
                .sections
                .iter()
                .flat_map(|s| s.report.tables.iter().map(|t| (Some(s.name.as_str()), t)));
            render::jsonl(tables, w)
        } else if json {
            render::nightly_json(&nightly, w)
        } else {
            render::nightly_markdown(shown, w)
        }
    };
    let t = crate::timing::phase("write");
    match set {
        Some(mut set) => {
            if let Some(dir) = &args.out_dir {
                write_out_dir(&mut set, dir, &nightly)?;
            }
            // a file name in these directories means this run's chart or
            // table: what an earlier run wrote there and this one did not
            // goes, once the new set is in place (the report is not one of
            // them: it is noted before it is added)
            let mut dirs: Vec<&PathBuf> = args.out_dir.iter().chain(&charts_dir).collect();
            dirs.dedup();
            let written: Vec<Written> = dirs
                .into_iter()
                .map(|d| Written::note(&mut set, d))
                .collect::<Result<_>>()?;
            // the report last: nothing is replaced before it is written
            match &args.common.output {
                Some(o) => set.add(o, write)?,
                None => to_stdout(write)?,
            }
            set.commit()?;
            for w in written {
                w.remove_stale();
            }
        }
        None => {
            match &args.common.output {
                Some(o) => write_atomic(o, write)?,
                None => to_stdout(write)?,
            }
            if let Some(d) = &old_charts {
                // best effort: a directory another run holds is left as it is
                if let Ok(_lock) = DirLock::acquire(d) {
                    let mut set = FileSet::new(d);
                    let stale = Written::note(&mut set, d)?;
                    set.commit()?;
                    stale.remove_stale();
                }
            }
        }
    }
    drop(t);
    Ok(super::pipeline::gate(&nightly.findings(), &p.fail_on, ctx))
}

/// Create and lock an output directory, marked as spanlens' own
/// ([`crate::ingest::source::REPORT_MARKER`]): a later run reading a
/// directory that holds it does not read its tables as inputs.
fn output_dir(d: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(d).map_err(|e| Error::output_io(d, &e))?;
    let lock = DirLock::acquire(d)?;
    crate::output::roll_forward(d);
    mark(d)?;
    Ok(lock)
}

fn mark(d: &Path) -> Result<()> {
    let marker = d.join(crate::ingest::source::REPORT_MARKER);
    if !marker.exists() {
        write_atomic(&marker, |w| {
            writeln!(
                w,
                "written by spanlens report: tables and charts, not inputs"
            )
        })?;
    }
    Ok(())
}

/// Refuse a report file that `--out-dir` would overwrite (its
/// summary.json, a table, a chart, the lock or the marker).
fn refuse_collision(report: &Path, out_dir: &Path) -> Result<()> {
    // the same directory however spelt (a link to it too)
    if canonical(&crate::output::parent_dir(report)) != canonical(out_dir) {
        return Ok(());
    }
    let name = report.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || written_by_report(name) {
        return Err(Error::usage(
            format!(
                "-o {} would be overwritten by --out-dir {}",
                report.display(),
                out_dir.display()
            ),
            "give the report another name (report.md) or write it outside --out-dir",
        ));
    }
    Ok(())
}

/// `p` with links and `..` resolved when it exists, else made absolute:
/// one spelling for one place.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// Where the charts of `-o REPORT.md` go without --out-dir: `REPORT-charts/`.
fn charts_beside(report: &Path) -> PathBuf {
    let stem = report
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("report");
    crate::output::parent_dir(report).join(format!("{stem}-charts"))
}

/// A table, a chart or summary.json: what `report` writes into --out-dir
/// and a charts directory (its hidden lock, marker and journal aside).
fn written_by_report(name: &str) -> bool {
    !name.starts_with('.')
        && (name == "summary.json" || name.ends_with(".parquet") || name.ends_with(".svg"))
}

/// The files of a directory the last run wrote, one name a line, so the
/// next run removes those it does not write again and nothing else (a
/// directory given to --out-dir may hold a person's own files).
const WRITTEN: &str = ".spanlens-written";

/// What one run writes into one of its output directories, and what the
/// run before wrote there and this one does not.
struct Written {
    dir: PathBuf,
    names: Vec<String>,
    stale: Vec<String>,
}

impl Written {
    /// Note in `set` the tables and charts it writes into `dir`. Until the
    /// stale files are gone the list names them too, so a run killed in
    /// between leaves them to the next.
    fn note(set: &mut FileSet, dir: &Path) -> Result<Written> {
        let here = canonical(dir);
        let mut names: Vec<String> = set
            .destinations()
            .filter(|d| canonical(&crate::output::parent_dir(d)) == here)
            .filter_map(|d| d.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .filter(|n| written_by_report(n))
            .collect();
        names.sort();
        names.dedup();
        // a name written through a link is this run's too
        let targets: Vec<PathBuf> = set.destinations().map(canonical).collect();
        let old = std::fs::read_to_string(dir.join(WRITTEN)).unwrap_or_default();
        let stale: Vec<String> = old
            .lines()
            // a bare name of ours in this directory, never a path elsewhere
            .filter(|n| Path::new(n).file_name() == Some(std::ffi::OsStr::new(n)))
            .filter(|n| written_by_report(n) && !names.iter().any(|w| w == n))
            .filter(|n| !targets.contains(&canonical(&dir.join(n))))
            .map(str::to_string)
            .collect();
        let w = Written {
            dir: dir.to_path_buf(),
            names,
            stale,
        };
        let all: Vec<&String> = w.names.iter().chain(&w.stale).collect();
        set.add(&dir.join(WRITTEN), |f| {
            all.iter().try_for_each(|n| writeln!(f, "{n}"))
        })?;
        Ok(w)
    }

    /// Remove the stale files (best effort: one that cannot be removed
    /// stays listed), then list only what is there.
    fn remove_stale(self) {
        let left: Vec<&String> = self
            .stale
            .iter()
            .filter(|n| {
                let p = self.dir.join(n);
                std::fs::remove_file(&p).is_err() && p.exists()
            })
            .collect();
        let _ = write_atomic(&self.dir.join(WRITTEN), |f| {
            self.names
                .iter()
                .chain(left)
                .try_for_each(|n| writeln!(f, "{n}"))
        });
    }
}

/// Every section's charts as `DIR/FILE.svg` (in the run's set), with the path the
/// report links them by.
fn write_charts(
    set: &mut FileSet,
    dir: &Path,
    report: &Path,
    n: &Nightly,
) -> Result<Vec<ChartLink>> {
    let base = relative_dir(&crate::output::parent_dir(report), dir);
    let mut links = Vec::new();
    for s in &n.sections {
        for c in &s.report.charts {
            let svg = chart::svg(c).map_err(|e| {
                Error::usage(
                    e,
                    "report the chart's data as a bug; --no-charts skips charts",
                )
            })?;
            let file = format!("{}.svg", c.file);
            set.add(&dir.join(&file), |w| w.write_all(svg.as_bytes()))?;
            links.push(ChartLink {
                section: s.name.clone(),
                title: c.title.clone(),
                path: format!("{base}{file}"),
            });
        }
    }
    Ok(links)
}

/// `to` relative to `from` (both directories) as a URL path prefix ending
/// in `/` (empty when they are the same directory).
fn relative_dir(from: &Path, to: &Path) -> String {
    let (from, to) = (canonical(from), canonical(to));
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    for c in &t[common..] {
        parts.push(url_segment(&c.as_os_str().to_string_lossy()));
    }
    parts.into_iter().map(|p| p + "/").collect()
}

/// A path segment percent-encoded for a Markdown link (RFC 3986 unreserved
/// characters kept).
fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn section(name: &str, title: &str, report: Report) -> Section {
    Section {
        name: name.into(),
        title: title.into(),
        report,
    }
}

/// Verdicts that need no one's attention: rows holding them are counted
/// under their table, not listed, unless `--all`.
const QUIET: &[&str] = &["stable", "pass", "insufficient", "inconclusive"];

/// The report with the rows of every table whose `verdict` is quiet
/// ([`QUIET`]) left out, and a note per table saying how many.
fn hide_quiet_rows(n: &Nightly) -> Nightly {
    let mut n = n.clone();
    for s in &mut n.sections {
        let mut notes = Vec::new();
        for t in &mut s.report.tables {
            let Some(v) = t.columns.iter().position(|c| c.name == "verdict") else {
                continue;
            };
            let mut hidden: BTreeMap<String, usize> = BTreeMap::new();
            let mut keep = Vec::new();
            let mut units = Vec::new();
            for (i, row) in t.rows.iter().enumerate() {
                match &row[v] {
                    Cell::Text(x) if QUIET.contains(&x.as_str()) => {
                        *hidden.entry(x.clone()).or_default() += 1;
                    }
                    _ => {
                        keep.push(row.clone());
                        if let Some(u) = t.row_units.get(i) {
                            units.push(*u);
                        }
                    }
                }
            }
            if hidden.is_empty() {
                continue;
            }
            let counts: Vec<String> = hidden.iter().map(|(k, c)| format!("{c} {k}")).collect();
            notes.push(format!(
                "{}: {} row(s) not listed ({}); --all lists them",
                t.title,
                hidden.values().sum::<usize>(),
                counts.join(", ")
            ));
            t.rows = keep;
            if !t.row_units.is_empty() {
                t.row_units = units;
            }
        }
        s.report.notes.extend(notes);
    }
    n
}

/// Every finding of the report in one ranking, strongest first (the
/// section order breaks ties): every critical one, then warnings up to
/// [`FIRST_SCREEN`] in all, then how many more the sections hold.
fn ranked(preamble: &[Finding], sections: &[Section]) -> SummaryBlock {
    let mut all: Vec<(&str, &Finding)> = preamble.iter().map(|f| ("", f)).collect();
    for s in sections {
        all.extend(
            s.report
                .findings
                .iter()
                .filter(|f| f.kind != FindingKind::Inconclusive)
                .map(|f| (s.name.as_str(), f)),
        );
    }
    all.sort_by(|a, b| b.1.strength.total_cmp(&a.1.strength));
    let critical = all
        .iter()
        .filter(|(_, f)| f.strength >= Finding::CRITICAL)
        .count();
    let shown = critical.max(FIRST_SCREEN.min(all.len()));
    SummaryBlock {
        title: format!(
            "Findings, strongest first ({}, {critical} critical)",
            all.len()
        ),
        items: all
            .iter()
            .take(shown)
            .map(|(section, f)| {
                let mark = if f.strength >= Finding::CRITICAL {
                    "critical"
                } else {
                    "warning"
                };
                let section = if section.is_empty() {
                    String::new()
                } else {
                    format!("{section}, ")
                };
                format!("[{section}{} {mark}] {}", f.kind, f.message)
            })
            .collect(),
        more: all.len() - shown,
    }
}

fn messages(findings: &[Finding], kinds: &[&str]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| kinds.contains(&f.kind.as_str()))
        .map(|f| f.message.clone())
        .collect()
}

fn change(now: f64, then: f64) -> String {
    if then > 0.0 {
        format!(" ({:+.1}%)", (now / then - 1.0) * 100.0)
    } else {
        String::new()
    }
}

/// The first screen: overall verdict, breaches, regressions, drifts, top
/// anomalies, cost findings, spend against the day before and the
/// baseline's daily mean.
fn summarize(
    sections: Vec<Section>,
    pre: super::pipeline::Preamble,
    (now, prev, base_daily): (f64, f64, f64),
) -> Nightly {
    let of = |name: &str| -> Vec<Finding> {
        sections
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.report.findings.clone())
            .collect()
    };
    let breaches = messages(&of("slo"), &["breach"]);
    let regressions = messages(&of("compare"), &["regression"]);
    let unjudged = messages(&of("compare"), &["unjudged"]);
    let drifts = messages(&of("drift"), &["drift"]);
    let anomalies = messages(&of("anomalies"), &["anomaly"]);
    let costs = messages(&of("cost"), &["unpriced", "budget"]);
    let ranked = ranked(&pre.findings, &sections);
    let spend = vec![
        format!("report window: {}", format::usd(now)),
        format!(
            "the 24 h before: {}{}",
            format::usd(prev),
            change(now, prev)
        ),
        format!(
            "baseline daily mean: {}{}",
            format::usd(base_daily),
            change(now, base_daily)
        ),
    ];
    let mut parts = Vec::new();
    for (n, what) in [
        (pre.findings.len(), "stale export"),
        (breaches.len(), "breach(es)"),
        (regressions.len(), "regression(s)"),
        (unjudged.len(), "comparison(s) that could not be judged"),
        (drifts.len(), "drift(s)"),
        (anomalies.len(), "anomaly(ies)"),
        (costs.len(), "cost finding(s)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let headline = if parts.is_empty() {
        "spanlens report: all clear".to_string()
    } else {
        format!("spanlens report: {}", parts.join(", "))
    };
    Nightly {
        charts: Vec::new(),
        headline,
        meta: pre.meta,
        preamble_findings: pre.findings,
        summary: vec![
            ranked,
            SummaryBlock {
                title: "Spend".into(),
                items: spend,
                more: 0,
            },
        ],
        sections,
    }
}

/// Every table as `SECTION-TABLE.parquet`, then `summary.json`, in the
/// run's set.
fn write_out_dir(set: &mut FileSet, dir: &Path, n: &Nightly) -> Result<()> {
    let mut files = Vec::new();
    for s in &n.sections {
        for t in &s.report.tables {
            let name = format!("{}-{}.parquet", s.name, t.name);
            set.add(&dir.join(&name), |w| render::parquet(t, w))?;
            files.push(name);
        }
    }
    let summary = serde_json::json!({
        "schema_version": render::SCHEMA_VERSION,
        "headline": n.headline,
        "meta": n.meta.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "summary": n.summary,
        "findings": n.findings(),
        "tables": files,
        "charts": n.charts,
    });
    set.add(&dir.join("summary.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        writeln!(w)
    })
}
