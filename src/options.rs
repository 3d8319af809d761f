//! The options stage: command-line flags and `spanlens.toml` merged into
//! the typed options the reports take, once. Every default lives here
//! (and is named in the flag's help), and every check is made here, so the
//! `report` command and the single-report commands accept and refuse the
//! same things. A flag wins over the file; the file over the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cmd::Context;
use crate::config::{self, AnomaliesConfig, ObjectiveConfig};
use crate::engine::{parse_condition, Condition, KindFilter};
use crate::error::{Error, Result};
use crate::metrics::anomaly::{self, Composite};
use crate::metrics::compare::{self, MetricDef, METRICS};
use crate::metrics::cost::{self, Budget, BudgetPeriod, CostOptions};
use crate::metrics::drift::{self, FieldSpec};
use crate::metrics::slo::{Objective, Sli};
use crate::pricing::PriceTable;
use crate::window::{self, Window, WindowSpec, NS_PER_DAY};

/// `--top`: more cohorts than this go to `__other__`.
pub const DEFAULT_TOP: usize = 50;
/// `--stale-after`: data ending this long before the clock is stale.
pub const DEFAULT_STALE_AFTER: &str = "36h";
/// `cost --top-traces`: the most expensive traces listed.
pub const DEFAULT_TOP_TRACES: usize = 10;
/// `anomalies --deploy-quiet`: minutes after a prompt version first
/// appears with no anomaly.
pub const DEFAULT_DEPLOY_QUIET_MIN: u64 = 30;
/// `anomalies --loop-floor`: the fewest LLM calls in one trace that count
/// as an agent loop.
pub const DEFAULT_LOOP_FLOOR: u64 = 10;

/// Spans that bill tokens, what cost counts unless `--span-type` says
/// otherwise: LLM calls and embeddings.
pub fn cost_kind() -> KindFilter {
    KindFilter::SpanTypes(vec!["llm".into(), "embedding".into()])
}

/// The price tables: the embedded ones, `[cost] prices`, then `extra`
/// (`--prices`), with `[prices] aliases` (each must name a priced model).
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

/// Prices for a report that needs the cost of a span or a trace (cost
/// objectives, drift's cost_usd, compare's cost metrics, anomalies, the
/// `report` command): LLM and embedding spans, `[cost] recompute`.
pub fn cost(ctx: &Context, extra: &[PathBuf]) -> Result<CostOptions> {
    Ok(CostOptions {
        prices: Arc::new(price_table(ctx, extra)?),
        kind: cost_kind(),
        recompute: ctx.config.cost.recompute,
        top_traces: top_traces(ctx, None),
        budgets: Vec::new(),
        tz: window::TimeZone::UTC,
        resolved: None,
    })
}

/// `--top-traces`, else `[cost] top_traces`, else the default.
pub fn top_traces(ctx: &Context, flag: Option<usize>) -> usize {
    flag.or(ctx.config.cost.top_traces)
        .unwrap_or(DEFAULT_TOP_TRACES)
}

/// `--where`-style conditions, each checked (`flag` names their origin).
pub fn conditions(list: &[String], flag: &str) -> Result<Vec<Condition>> {
    list.iter()
        .map(|s| {
            parse_condition(s).map_err(|e| {
                Error::usage(
                    format!("{flag}: {e}"),
                    "e.g. --where model=gpt-4o --where route!=health",
                )
            })
        })
        .collect()
}

/// Budgets from `--budget` flags and `[[budget]]` tables.
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

/// The objectives of spanlens.toml and `file`, and the prices (`prices`,
/// called only when a cost objective needs them).
pub fn objectives(
    ctx: &Context,
    file: Option<&Path>,
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
            None => DEFAULT_OBJECTIVE_PERIOD_DAYS * NS_PER_DAY,
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

/// An objective's period when it names none, in days.
pub const DEFAULT_OBJECTIVE_PERIOD_DAYS: i64 = 30;

/// What the anomaly rules take besides the scope.
pub struct AnomalySettings {
    pub suppress: Vec<Window>,
    pub deploy_quiet_ns: i64,
    pub loop_floor: u64,
    pub composites: Vec<Composite>,
}

/// The anomaly flags of a command line (the `report` command has none:
/// only `[anomalies]` in spanlens.toml).
#[derive(Default)]
pub struct AnomalyFlags<'a> {
    pub suppress: &'a [String],
    pub deploy_quiet_min: Option<u64>,
    pub loop_floor: Option<u64>,
}

/// `[anomalies]` and the anomaly flags, checked (suppressed ranges read
/// in the `--tz` zone).
pub fn anomalies(
    ctx: &Context,
    flags: AnomalyFlags<'_>,
    tz: &window::TimeZone,
) -> Result<AnomalySettings> {
    let ac = &ctx.config.anomalies;
    let from_file = ac
        .suppress
        .iter()
        .map(|s| (s, "spanlens.toml [anomalies] suppress"));
    let from_flags = flags.suppress.iter().map(|s| (s, "--suppress"));
    let mut suppress = Vec::new();
    for (s, origin) in from_file.chain(from_flags) {
        let hint = "e.g. --suppress 2026-01-08T14:00:00Z..2026-01-08T15:00:00Z";
        match window::parse_window(s, tz) {
            Ok(WindowSpec::Absolute(w)) => suppress.push(w),
            Ok(_) => {
                return Err(Error::usage(
                    format!("{origin} {s}: give a range, not a length"),
                    hint,
                ))
            }
            Err(e) => return Err(Error::usage(format!("{origin}: {e}"), hint)),
        }
    }
    let quiet_min = flags
        .deploy_quiet_min
        .or(ac.deploy_quiet_minutes)
        .unwrap_or(DEFAULT_DEPLOY_QUIET_MIN);
    Ok(AnomalySettings {
        suppress,
        deploy_quiet_ns: i64::try_from(quiet_min)
            .unwrap_or(i64::MAX)
            .saturating_mul(60 * window::NS_PER_SEC),
        loop_floor: flags
            .loop_floor
            .or(ac.loop_floor)
            .unwrap_or(DEFAULT_LOOP_FLOOR),
        composites: composites(ac)?,
    })
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

/// The drift fields: the defaults (unless `--no-default-fields` or
/// `[drift] default_fields = false`), then `[drift] fields`, then
/// `--field`; a field named twice is compared once. None at all is an
/// error for the `drift` command (`required`), an empty section for the
/// report.
pub fn drift_fields(
    ctx: &Context,
    flags: &[String],
    no_default_fields: bool,
    required: bool,
) -> Result<Vec<FieldSpec>> {
    let dc = &ctx.config.drift;
    let mut fields: Vec<FieldSpec> = if !no_default_fields && dc.default_fields.unwrap_or(true) {
        drift::default_fields()
    } else {
        Vec::new()
    };
    let from_file = dc
        .fields
        .iter()
        .map(|f| (f, "spanlens.toml [drift] fields"));
    let from_flags = flags.iter().map(|f| (f, "--field"));
    for (f, origin) in from_file.chain(from_flags) {
        let spec = drift::parse_field(f).map_err(|e| {
            Error::usage(
                format!("{origin}: {e}"),
                "e.g. --field attr:app.region,reasoning_tokens",
            )
        })?;
        if !fields.contains(&spec) {
            fields.push(spec);
        }
    }
    if fields.is_empty() && required {
        return Err(Error::usage(
            "no fields to compare",
            "name some with --field, or drop --no-default-fields",
        ));
    }
    Ok(fields)
}

/// What a comparison gates on and how strictly.
pub struct CompareSettings {
    pub metrics: Vec<&'static MetricDef>,
    pub alpha: f64,
    pub min_effect: BTreeMap<String, f64>,
    pub seed: u64,
}

/// The compare flags of a command line (the `report` command has none:
/// only `[compare]` in spanlens.toml).
#[derive(Default)]
pub struct CompareFlags<'a> {
    pub metrics: &'a [String],
    pub alpha: Option<f64>,
    pub min_effect: &'a [String],
    pub seed: Option<u64>,
}

/// `[compare]` and the compare flags, checked: known metrics (in the
/// table's order, each once; all by default), minimum effects of known
/// metrics in range, alpha in (0, 1).
pub fn compare(ctx: &Context, flags: CompareFlags<'_>) -> Result<CompareSettings> {
    let cc = &ctx.config.compare;
    let (names, metrics_origin): (Vec<String>, &str) = if !flags.metrics.is_empty() {
        (flags.metrics.to_vec(), "--metrics")
    } else {
        (
            cc.metrics.clone().unwrap_or_default(),
            "spanlens.toml [compare] metrics",
        )
    };
    let all = || {
        METRICS
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut metrics: Vec<&'static MetricDef> = Vec::new();
    for n in &names {
        let n = n.trim();
        let m = compare::metric(n).ok_or_else(|| {
            Error::usage(
                format!(
                    "{metrics_origin}: unknown metric `{n}`{}",
                    crate::error::did_you_mean(n, METRICS.iter().map(|m| m.name))
                ),
                format!("use {}", all()),
            )
        })?;
        if !metrics.iter().any(|x| x.name == m.name) {
            metrics.push(m);
        }
    }
    if metrics.is_empty() {
        metrics = METRICS.iter().collect();
    }
    metrics.sort_by_key(|m| METRICS.iter().position(|x| x.name == m.name));
    let mut min_effect: BTreeMap<String, f64> = cc.min_effect.clone().into_iter().collect();
    for s in flags.min_effect {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            Error::usage(
                format!("--min-effect: `{s}` is not METRIC=X"),
                "e.g. --min-effect error_rate=0.005,latency_p95=0.2",
            )
        })?;
        let v: f64 = v.trim().parse().map_err(|_| {
            Error::usage(
                format!("--min-effect: `{v}` is not a number"),
                "rates take an absolute share (0.01 = 1 pp), the others a relative change (0.1 = 10%)",
            )
        })?;
        min_effect.insert(k.trim().to_string(), v);
    }
    for (k, v) in &min_effect {
        if compare::metric(k).is_none() {
            return Err(Error::usage(
                format!(
                    "minimum effect for unknown metric `{k}`{}",
                    crate::error::did_you_mean(k, METRICS.iter().map(|m| m.name))
                ),
                format!("use {}", all()),
            ));
        }
        config::check_min_effect(*v).map_err(|e| {
            Error::usage(
                format!("minimum effect of {k}: {e}"),
                "e.g. --min-effect error_rate=0.01",
            )
        })?;
    }
    let alpha = flags.alpha.or(cc.alpha).unwrap_or(compare::ALPHA);
    let alpha_origin = if flags.alpha.is_some() {
        "--alpha"
    } else {
        "spanlens.toml [compare] alpha"
    };
    config::check_alpha(alpha)
        .map_err(|e| Error::usage(format!("{alpha_origin}: {e}"), "e.g. --alpha 0.05"))?;
    Ok(CompareSettings {
        metrics,
        alpha,
        min_effect,
        seed: flags.seed.or(cc.seed).unwrap_or(compare::SEED),
    })
}
