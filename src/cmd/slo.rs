//! `spanlens slo IN... [--objectives slo.toml]`

use super::pipeline::{emit, prepare, Need};
use super::Context;
use crate::cli::SloArgs;
use crate::engine::KindFilter;
use crate::error::Result;
use crate::metrics::slo::{self, SloOptions};
use crate::options;

pub fn run(mut args: SloArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = args
        .prices
        .files
        .iter()
        .chain(&args.objectives.file)
        .cloned()
        .collect();
    let (objectives, cost) = options::objectives(ctx, args.objectives.file.as_deref(), || {
        options::cost(ctx, &args.prices.files)
    })?;
    let p = prepare(&args.common, ctx, KindFilter::llm(), Need::CurrentWindow)?;
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
    emit(&report, &args.common, &p.fail_on, ctx)
}
