//! `spanlens slo IN... [--objectives slo.toml]`

use super::report::{conditions, emit, prepare, Need};
use super::Context;
use crate::cli::SloArgs;
use crate::config::{self, ObjectiveConfig};
use crate::engine::KindFilter;
use crate::error::{Error, Result};
use crate::metrics::cost::CostOptions;
use crate::metrics::slo::{self, Objective, Sli, SloOptions};
use crate::window::{self, NS_PER_DAY};

/// Objectives from spanlens.toml and an --objectives file, and prices when
/// a cost objective needs them.
/// The objectives of spanlens.toml and `file`, and the prices (`prices`,
/// called only when a cost objective needs them).
pub fn objectives(
    ctx: &Context,
    file: Option<&std::path::Path>,
    prices: impl FnOnce() -> Result<CostOptions>,
) -> Result<(Vec<Objective>, Option<CostOptions>)> {
    let mut objectives = objectives_from(&ctx.config.objectives, "spanlens.toml")?;
    if let Some(p) = file {
        objectives.extend(objectives_from(
            &config::load_objectives(p)?,
            &p.display().to_string(),
        )?);
    }
    let cost = if objectives.iter().any(|o| matches!(o.sli, Sli::Cost { .. })) {
        Some(prices()?)
    } else {
        None
    };
    Ok((objectives, cost))
}

pub fn run(mut args: SloArgs, ctx: &Context) -> Result<i32> {
    args.report.reads = args
        .prices
        .iter()
        .chain(&args.objectives)
        .cloned()
        .collect();
    let (objectives, cost) = objectives(ctx, args.objectives.as_deref(), || {
        super::cost::cost_options(ctx, &args.prices)
    })?;
    let p = prepare(&args.report, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = SloOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        objectives,
        cost,
    };
    let mut report = slo::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.report, &p.fail_on, ctx)
}

/// Check and convert `[[objective]]` tables.
pub fn objectives_from(list: &[ObjectiveConfig], file: &str) -> Result<Vec<Objective>> {
    let mut out = Vec::new();
    for o in list {
        let bad = |what: String| {
            Error::usage(
                format!("{file}: objective `{}`: {what}", o.name),
                "sli is availability, latency (threshold_ms), ttft (threshold_ms), quality (evaluation) \
                 or cost (max_usd); target is a share such as 0.995",
            )
        };
        if !(o.target > 0.0 && o.target <= 1.0) {
            return Err(bad(format!("target {} is not a share in (0, 1]", o.target)));
        }
        let need_ms = |v: Option<f64>| -> Result<f64> {
            match v {
                Some(t) if t >= 0.0 => Ok(t),
                _ => Err(bad("needs threshold_ms (a number of milliseconds)".into())),
            }
        };
        let sli = match o.sli.as_str() {
            "availability" => Sli::Availability,
            "latency" => Sli::Latency {
                threshold_ms: need_ms(o.threshold_ms)?,
            },
            "ttft" => Sli::Ttft {
                threshold_ms: need_ms(o.threshold_ms)?,
            },
            "quality" => Sli::Quality {
                evaluation: o
                    .evaluation
                    .clone()
                    .ok_or_else(|| bad("needs evaluation (an evaluation name)".into()))?,
            },
            "cost" => Sli::Cost {
                max_usd: o
                    .max_usd
                    .filter(|x| *x >= 0.0)
                    .ok_or_else(|| bad("needs max_usd".into()))?,
            },
            other => return Err(bad(format!("unknown sli `{other}`"))),
        };
        let period_ns = match &o.period {
            None => 30 * NS_PER_DAY,
            Some(p) => window::parse_duration(p).map_err(|e| bad(format!("period: {e}")))?,
        };
        out.push(Objective {
            name: o.name.clone(),
            selector: conditions(
                &o.selector,
                &format!("{file}: objective `{}` where", o.name),
            )?,
            sli,
            target: o.target,
            period_ns,
        });
    }
    Ok(out)
}
