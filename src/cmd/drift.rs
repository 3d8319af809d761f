//! `spanlens drift IN... --baseline W --current W`

use super::report::{emit, prepare, Need};
use super::Context;
use crate::cli::DriftArgs;
use crate::engine::KindFilter;
use crate::error::{Error, Result};
use crate::metrics::drift::{self, DriftOptions, FieldSpec, Source};

pub fn run(mut args: DriftArgs, ctx: &Context) -> Result<i32> {
    args.report.reads = args.prices.clone();
    let dc = &ctx.config.drift;
    let defaults = !args.no_default_fields && dc.default_fields.unwrap_or(true);
    let mut fields: Vec<FieldSpec> = if defaults {
        drift::default_fields()
    } else {
        Vec::new()
    };
    for f in dc.fields.iter().chain(&args.field) {
        let spec = drift::parse_field(f).map_err(|e| {
            Error::usage(
                format!("--field: {e}"),
                "e.g. --field attr:app.region,reasoning_tokens",
            )
        })?;
        if !fields.contains(&spec) {
            fields.push(spec);
        }
    }
    if fields.is_empty() {
        return Err(Error::usage(
            "no fields to compare",
            "name some with --field, or drop --no-default-fields",
        ));
    }
    let cost = if fields.iter().any(|f| f.source == Source::Cost) {
        Some(super::cost::cost_options(ctx, &args.prices)?)
    } else {
        None
    };
    let p = prepare(&args.report, ctx, KindFilter::llm(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = DriftOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        baseline: p.baseline,
        fields,
        cost,
    };
    let mut report = drift::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.report, &p.fail_on, ctx)
}
