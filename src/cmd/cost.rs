//! `spanlens cost IN... [--prices FILE] [--by tenant,route]`

use std::path::PathBuf;
use std::sync::Arc;

use super::report::{conditions, emit, prepare, Need};
use super::Context;
use crate::cli::CostArgs;
use crate::engine::KindFilter;
use crate::error::{Error, Result};
use crate::metrics::cost::{self, Budget, BudgetPeriod, CostOptions, CostReportOptions};
use crate::pricing::PriceTable;

/// Spans that bill tokens: LLM calls and embeddings (parents that repeat
/// their children's totals are not counted twice).
pub fn default_kind() -> KindFilter {
    KindFilter::SpanTypes(vec!["llm".into(), "embedding".into()])
}

/// Prices for a report that needs cost per span or trace (slo cost
/// objectives, drift's cost_usd, compare's cost metrics): the configured
/// tables and `extra` over the embedded one; LLM and embedding spans.
/// The price tables: the embedded ones, `[cost] prices`, then `extra`
/// (`--prices`), with `[prices] aliases`.
pub fn price_table(ctx: &Context, extra: &[PathBuf]) -> Result<PriceTable> {
    let mut files = ctx.config.cost.prices.clone();
    files.extend(extra.iter().cloned());
    let t = PriceTable::load(&files)?;
    // an alias names a model some table prices (aliases do not chain)
    for (name, target) in &ctx.config.prices.aliases {
        if t.lookup(None, Some(target), None).is_none() {
            return Err(Error::usage(
                format!("spanlens.toml [prices] aliases: `{name}` = `{target}`, which no price table prices"),
                "name the model it runs as `spanlens prices MODEL` finds it, e.g. azure/gpt-4o",
            ));
        }
    }
    Ok(t.with_aliases(&ctx.config.prices.aliases))
}

pub fn cost_options(ctx: &Context, extra: &[PathBuf]) -> Result<CostOptions> {
    Ok(CostOptions {
        prices: Arc::new(price_table(ctx, extra)?),
        kind: default_kind(),
        recompute: ctx.config.cost.recompute,
        top_traces: 0,
        budgets: Vec::new(),
    })
}

/// Budgets from --budget flags and `[[budget]]` tables.
pub fn budgets(ctx: &Context, flags: &[String]) -> Result<Vec<Budget>> {
    let mut budgets = Vec::new();
    for b in flags {
        budgets.push(
            cost::parse_budget(b)
                .map_err(|e| Error::usage(format!("--budget: {e}"), "e.g. --budget 100/day"))?,
        );
    }
    for b in &ctx.config.budgets {
        let period = match b.per.as_deref() {
            None | Some("window") => BudgetPeriod::Window,
            Some("day") => BudgetPeriod::Day,
            Some("month") => BudgetPeriod::Month,
            Some(p) => {
                return Err(Error::usage(
                    format!("spanlens.toml: [[budget]] per = \"{p}\" is not a period"),
                    "use day, month or window",
                ))
            }
        };
        let mut label = format!("{}/{}", b.usd, b.per.as_deref().unwrap_or("window"));
        if !b.selector.is_empty() {
            label = format!("{label} where {}", b.selector.join(" and "));
        }
        budgets.push(Budget {
            usd: b.usd,
            period,
            selector: conditions(&b.selector, "spanlens.toml [[budget]] where")?,
            label,
        });
    }
    Ok(budgets)
}

pub fn run(mut args: CostArgs, ctx: &Context) -> Result<i32> {
    args.report.reads = args.prices.clone();
    let prices = Arc::new(price_table(ctx, &args.prices)?);
    let budgets = budgets(ctx, &args.budget)?;
    let p = prepare(&args.report, ctx, default_kind(), Need::CurrentWindow)?;
    let mut engine = p.engine;
    let opts = CostReportOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        cost: CostOptions {
            prices,
            kind: p.scope.kind.clone(),
            recompute: args.recompute || ctx.config.cost.recompute,
            top_traces: args.top_traces.or(ctx.config.cost.top_traces).unwrap_or(10),
            budgets,
        },
    };
    let mut report = cost::run(&mut engine, p.scope, &opts)?;
    p.pre.apply(&mut report);
    emit(&report, &args.report, &p.fail_on, ctx)
}
