//! `spanlens anomalies IN...`

use super::pipeline::{emit, prepare, Need};
use super::Context;
use crate::cli::AnomaliesArgs;
use crate::engine::KindFilter;
use crate::error::Result;
use crate::metrics::anomaly::{self, AnomalyOptions};
use crate::options;

pub fn run(mut args: AnomaliesArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = args.prices.files.clone();
    let a = options::anomalies(
        ctx,
        options::AnomalyFlags {
            suppress: &args.suppress,
            deploy_quiet_min: args.deploy_quiet,
            loop_floor: args.loop_floor,
        },
        &super::pipeline::time_zone(&args.common, ctx)?,
    )?;
    let cost = options::cost(ctx, &args.prices.files)?;
    let p = prepare(&args.common, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = AnomalyOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        baseline: p.baseline,
        cost,
        suppress: a.suppress,
        deploy_quiet_ns: a.deploy_quiet_ns,
        loop_floor: a.loop_floor,
        composites: a.composites,
    };
    let mut report = anomaly::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.common, &p.fail_on, ctx)
}
