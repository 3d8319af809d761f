//! `spanlens drift IN... --baseline W --current W`

use super::pipeline::{emit, prepare, Need};
use super::Context;
use crate::cli::DriftArgs;
use crate::engine::KindFilter;
use crate::error::Result;
use crate::metrics::drift::{self, DriftOptions, Source};
use crate::options;

pub fn run(mut args: DriftArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = args.prices.files.clone();
    let fields = options::drift_fields(ctx, &args.field, args.no_default_fields, true)?;
    let cost = if fields.iter().any(|f| f.source == Source::Cost) {
        Some(options::cost(ctx, &args.prices.files)?)
    } else {
        None
    };
    let p = prepare(&args.common, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = DriftOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        baseline: p.baseline,
        fields,
        cost,
        charts: false,
    };
    let mut report = drift::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.common, &p.fail_on, ctx)
}
