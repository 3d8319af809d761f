//! `spanlens anomalies IN...`

use super::report::{emit, prepare, Need};
use super::Context;
use crate::cli::AnomaliesArgs;
use crate::config::AnomaliesConfig;
use crate::engine::KindFilter;
use crate::error::{Error, Result};
use crate::metrics::anomaly::{self, AnomalyOptions, Composite};
use crate::window::{self, WindowSpec};

pub fn run(mut args: AnomaliesArgs, ctx: &Context) -> Result<i32> {
    args.report.reads = args.prices.clone();
    let ac = &ctx.config.anomalies;
    let mut suppress = Vec::new();
    for s in ac.suppress.iter().chain(&args.suppress) {
        match window::parse_window(s) {
            Ok(WindowSpec::Absolute(w)) => suppress.push(w),
            Ok(_) => {
                return Err(Error::usage(
                    format!("--suppress {s}: give a range, not a length"),
                    "e.g. --suppress 2026-01-08T14:00:00Z..2026-01-08T15:00:00Z",
                ))
            }
            Err(e) => {
                return Err(Error::usage(
                    format!("--suppress: {e}"),
                    "e.g. --suppress 2026-01-08T14:00:00Z..2026-01-08T15:00:00Z",
                ))
            }
        }
    }
    let quiet_min = args.deploy_quiet.or(ac.deploy_quiet_minutes).unwrap_or(30);
    let cost = super::cost::cost_options(ctx, &args.prices)?;
    let p = prepare(&args.report, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = AnomalyOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        baseline: p.baseline,
        cost,
        suppress,
        deploy_quiet_ns: quiet_min as i64 * 60_000_000_000,
        loop_floor: args.loop_floor.or(ac.loop_floor).unwrap_or(10),
        composites: composites(ac)?,
    };
    let mut report = anomaly::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.report, &p.fail_on, ctx)
}

/// `[[anomalies.composite]]` tables, checked.
pub fn composites(ac: &AnomaliesConfig) -> Result<Vec<Composite>> {
    ac.composite
        .iter()
        .map(|c| {
            if c.all.len() < 2 {
                return Err(Error::usage(
                    format!(
                        "spanlens.toml [[anomalies.composite]] `{}`: name two or more signals",
                        c.name
                    ),
                    "e.g. all = [\"regressed:pass_rate\", \"spend_spike\"]",
                ));
            }
            let all = c
                .all
                .iter()
                .map(|s| anomaly::parse_signal(s))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| {
                    Error::usage(
                        format!("spanlens.toml [[anomalies.composite]] `{}`: {e}", c.name),
                        "e.g. all = [\"regressed:pass_rate\", \"spend_spike\"]",
                    )
                })?;
            Ok(Composite {
                name: c.name.clone(),
                all,
            })
        })
        .collect()
}
