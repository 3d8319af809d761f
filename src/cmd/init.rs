//! `spanlens init IN...`: a commented `spanlens.toml` and an objectives
//! file a person edits, built from what the export holds: its routes and
//! models, the attributes that need a `[fields]` line, its latency and its
//! evaluations. Neither file is written over an existing one without
//! `--force`, nor over an input; both are written atomically.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use super::{to_stderr, Context};
use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::frame::{self, summary, Dataset};
use crate::report::format;
use crate::span::schema as col;

/// Values named in the comments (routes, models).
const NAMED: usize = 8;
/// Evaluations given a quality objective (those with the most results).
const EVALS: usize = 3;

/// What `init` read of the export.
struct Seen {
    spans: u64,
    from: String,
    to: String,
    /// (route, LLM spans), most first
    routes: Vec<(String, u64)>,
    /// (model, LLM spans), most first
    models: Vec<(String, u64)>,
    /// p95 of LLM span latency, ms
    p95_ms: Option<f64>,
    /// (evaluation, results), most first
    evals: Vec<(String, u64)>,
    /// `[fields]` lines suggested for attributes the LLM spans lack
    fields: Vec<String>,
}

pub fn run(args: InitArgs, ctx: &Context) -> Result<i32> {
    let dir = Path::new(&args.dir);
    let config = dir.join("spanlens.toml");
    let objectives = dir.join("objectives.toml");
    for p in [&config, &objectives] {
        // a dangling symlink is there too: init writes through none
        if p.symlink_metadata().is_ok() && !args.force {
            return Err(Error::usage(
                format!("{} exists; init writes over nothing", p.display()),
                "edit it, remove it, or give --force to replace it",
            ));
        }
        crate::output::refuse_input_as_output(p, &args.input.inputs, &[])?;
    }
    let opts = ctx.load_options(&args.input)?;
    let ds = frame::load(&args.input.inputs, &opts)?;
    if ds.spans.height() == 0 {
        return Err(Error::input(
            "<inputs>",
            "no span read",
            "give an export with spans (`spanlens inspect` shows what a file holds)",
        ));
    }
    let sum = summary::summarize(&ds, &opts.table, 50)
        .map_err(|e| Error::input("<inputs>", e.to_string(), ""))?;
    let seen = seen(&ds, &sum).map_err(|e| Error::input("<inputs>", e.to_string(), ""))?;
    let read = args.input.inputs.join(" ");
    std::fs::create_dir_all(dir).map_err(|e| Error::output_io(dir, &e))?;
    // both files or neither, under the directory's lock
    let _lock = crate::output::DirLock::acquire(dir)?;
    crate::output::roll_forward(dir);
    let mut set = crate::output::FileSet::new(dir);
    set.add(&config, |w| {
        w.write_all(config_text(&seen, &read).as_bytes())
    })?;
    set.add(&objectives, |w| {
        w.write_all(objectives_text(&seen).as_bytes())
    })?;
    set.commit()?;
    let inputs: Vec<String> = args.input.inputs.iter().map(|a| shell_word(a)).collect();
    let inputs = inputs.join(" ");
    if !ctx.quiet {
        to_stderr(|w| {
            writeln!(
                w,
                "wrote {} and {} from {} spans; next: spanlens report {inputs} --config {} --objectives {}",
                format::terminal_safe(&config.display().to_string(), 400),
                format::terminal_safe(&objectives.display().to_string(), 400),
                format::int(seen.spans),
                shell_word(&config.display().to_string()),
                shell_word(&objectives.display().to_string())
            )
        });
    }
    Ok(crate::exit::OK)
}

/// `s` as one shell word a person can paste (single-quoted unless plain),
/// control characters shown as `·`.
fn shell_word(s: &str) -> String {
    let s = format::terminal_safe(s, 400);
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The values of a string column of LLM spans with their counts, most first.
fn counts(llm: &DataFrame, column: &str) -> PolarsResult<Vec<(String, u64)>> {
    let s = llm.column(column)?.cast(&DataType::String)?;
    let mut n: std::collections::BTreeMap<String, u64> = Default::default();
    for v in s.str()?.iter().flatten() {
        *n.entry(v.to_string()).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = n.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(v)
}

fn seen(ds: &Dataset, sum: &summary::RunSummary) -> PolarsResult<Seen> {
    let kind = ds.spans.column(col::SPAN_TYPE)?.cast(&DataType::String)?;
    let llm = ds.spans.filter(&kind.str()?.equal("llm"))?;
    let mut models = counts(&llm, col::RESPONSE_MODEL)?;
    if models.is_empty() {
        models = counts(&llm, col::REQUEST_MODEL)?;
    }
    let latency = llm
        .column(col::DURATION_MS)?
        .as_materialized_series()
        .clone();
    let p95_ms = latency
        .f64()?
        .quantile(0.95, QuantileMethod::Linear)?
        .filter(|x| x.is_finite());
    let evals = counts(&ds.evals, col::EVAL_NAME)?;
    let mut fields: Vec<String> = sum
        .inputs
        .iter()
        .flat_map(|i| i.suggested_fields.iter().cloned())
        .collect();
    fields.sort();
    fields.dedup();
    let day = |t: Option<i64>| t.map_or("-".into(), |t| format::time_ns(t)[..10].to_string());
    Ok(Seen {
        spans: ds.spans.height() as u64,
        from: day(sum.start_ns),
        to: day(sum.end_ns),
        routes: counts(&llm, col::ROUTE)?,
        models,
        p95_ms,
        evals,
        fields,
    })
}

/// `a (12 spans), b (1 span)` for a comment; the rest counted.
fn named(v: &[(String, u64)], noun: &str) -> String {
    let mut s: Vec<String> = v
        .iter()
        .take(NAMED)
        .map(|(k, n)| {
            let plural = if *n == 1 { "" } else { "s" };
            format!("{} ({} {noun}{plural})", comment_safe(k), format::int(*n))
        })
        .collect();
    if v.len() > NAMED {
        s.push(format!("and {} more", v.len() - NAMED));
    }
    s.join(", ")
}

/// Span data in a TOML comment: one line, no control characters.
fn comment_safe(s: &str) -> String {
    format::terminal_safe(s, 80)
}

/// A TOML basic string of `s`.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn config_text(s: &Seen, inputs: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# spanlens.toml, written by `spanlens init` from {} ({} spans, {} .. {}).\n\
         # Every key is optional: a flag on the command line wins over it. `spanlens\n\
         # --help` and docs/cli.md say what each does; `spanlens fields` lists names.",
        comment_safe(inputs),
        format::int(s.spans),
        s.from,
        s.to
    );
    t.push_str(
        "\n# Attribute names per canonical field, tried before the built-in aliases.\n[fields]\n",
    );
    if s.fields.is_empty() {
        t.push_str(
            "# None suggested: no attribute name (plain ASCII, no quotes or spaces) looks\n\
             # like a field the LLM spans lack. For one of yours:\n\
             # prompt_version = [\"app.prompt.version\"]\n",
        );
    } else {
        t.push_str(
            "# Attributes of this export that look like a field some of its LLM spans lack:\n",
        );
        for f in &s.fields {
            let _ = writeln!(t, "{f}");
        }
    }
    t.push_str("\n[report]\n");
    if s.routes.is_empty() {
        t.push_str(if s.models.is_empty() {
            "# The export has no LLM span with a route or model: check it with\n\
             # `spanlens inspect`. Cohorts by model, once there are some.\nby = [\"model\"]\n"
        } else {
            "# The LLM spans carry no route; cohorts by model instead.\nby = [\"model\"]\n"
        });
    } else {
        let _ = writeln!(
            t,
            "# Cohorts of every report. Routes seen: {}.\nby = [\"route\"]",
            named(&s.routes, "span")
        );
    }
    if !s.models.is_empty() {
        let _ = writeln!(
            t,
            "# Models seen: {}. `--by route,model` splits by both.",
            named(&s.models, "span")
        );
    }
    t.push_str(
        "# The nightly window: the last day, against the 7 days before it.\n\
         current = \"1d\"\n\
         baseline = \"7d\"\n\
         # The days of windows, month budgets and charts (an IANA zone; default UTC).\n\
         # tz = \"America/New_York\"\n\
         # Exit 1 on these findings, for cron and CI (`spanlens fields` lists them all).\n\
         # fail_on = [\"breach\", \"regression\", \"unpriced\"]\n\
         \n\
         # A spend limit per day (or \"month\", or the report window).\n\
         # [[budget]]\n\
         # usd = 100\n\
         # per = \"day\"\n",
    );
    t
}

/// A latency threshold a little above `p95`, on a round number of ms.
fn round_up(p95: f64) -> f64 {
    let step = 10f64.powf((p95.max(1.0)).log10().floor()) / 2.0;
    ((p95 / step).floor() + 1.0) * step
}

fn objectives_text(s: &Seen) -> String {
    let mut t = String::from(
        "# Objectives, written by `spanlens init`: edit the targets to what you\n\
         # promise. Use with `spanlens slo IN --objectives objectives.toml` or\n\
         # `spanlens report IN --objectives objectives.toml --fail-on breach`.\n\
         # sli: availability, latency or ttft (threshold_ms), quality\n\
         # (evaluation), cost (max_usd); target: the share of good events;\n\
         # period: the window the budget covers.\n\
         \n\
         [[objective]]\n\
         name = \"availability\"\n\
         sli = \"availability\"\n\
         target = 0.99\n\
         period = \"7d\"\n",
    );
    if let Some(p95) = s.p95_ms {
        let _ = write!(
            t,
            "\n# The LLM spans' p95 latency in this export: {} ms.\n\
             [[objective]]\n\
             name = \"latency\"\n\
             sli = \"latency\"\n\
             threshold_ms = {}\n\
             target = 0.95\n\
             period = \"7d\"\n",
            format::ms(p95),
            round_up(p95)
        );
    }
    let evals: Vec<&(String, u64)> = s
        .evals
        .iter()
        .filter(|(e, _)| !e.trim().is_empty())
        .collect();
    if evals.len() > EVALS {
        let rest: Vec<String> = evals[EVALS..]
            .iter()
            .map(|(e, n)| format!("{} ({})", comment_safe(e), format::int(*n)))
            .collect();
        let _ = write!(
            t,
            "\n# Evaluations with fewer results, left out (add one as below): {}.\n",
            rest.join(", ")
        );
    }
    for (e, n) in evals.into_iter().take(EVALS) {
        let _ = write!(
            t,
            "\n# {} results of this evaluation in the export.\n\
             [[objective]]\n\
             name = {}\n\
             sli = \"quality\"\n\
             evaluation = {}\n\
             target = 0.8\n\
             period = \"7d\"\n",
            format::int(*n),
            toml_str(&format!("{e} pass rate")),
            toml_str(e)
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_round_up_past_the_p95() {
        assert_eq!(round_up(4123.0), 4500.0);
        assert_eq!(round_up(950.0), 1000.0);
        assert_eq!(round_up(12.0), 15.0);
        assert_eq!(round_up(0.2), 0.5);
    }
}
