//! `spanlens cost IN... [--prices FILE] [--by tenant,route]`

use std::sync::Arc;

use super::pipeline::{emit, prepare, Need};
use super::Context;
use crate::cli::CostArgs;
use crate::error::Result;
use crate::metrics::cost::{self, CostOptions, CostReportOptions};
use crate::options;

pub fn run(mut args: CostArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = args.prices.files.clone();
    let prices = Arc::new(options::price_table(ctx, &args.prices.files)?);
    let budgets = options::budgets(ctx, &args.budgets.limits)?;
    let p = prepare(&args.common, ctx, options::cost_kind(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = CostReportOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        cost: CostOptions {
            prices,
            kind: p.scope.kind.clone(),
            recompute: args.recompute || ctx.config.cost.recompute,
            top_traces: options::top_traces(ctx, args.top_traces),
            budgets,
            tz: p.tz.clone(),
            resolved: None,
        },
    };
    let mut report = cost::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.common, &p.fail_on, ctx)
}
