//! `spanlens cost`: tokens and USD by kind per cohort, cost per trace, top
//! traces, unpriced models, reported-vs-table deltas and budgets
//! (docs/statistics.md "Cost").

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::*;

use super::{
    cohort_phase, expand, key_order, pct_cell, percentile_template, read_percentiles, Batch, Rows,
};
use crate::engine::template::Expanded;
use crate::engine::template::Template;
use crate::engine::{Condition, Engine, KindFilter, Scope};
use crate::error::Result;
use crate::pricing::{CostParts, MatchRule, ModelPrice, PriceTable, ServiceTier, Tokens};
use crate::report::model::{Cell, Finding, FindingKind, Report, Table, Unit};
use crate::window::{Window, NS_PER_DAY};

/// Which period a budget covers, ending at the report's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetPeriod {
    /// the 24 hours ending at the report's end
    Day,
    /// the calendar month (UTC) holding the report's end, to date
    Month,
    /// the report's window
    Window,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub usd: f64,
    pub period: BudgetPeriod,
    /// Only spans matching these conditions count (from spanlens.toml).
    pub selector: Vec<Condition>,
    pub label: String,
}

/// `100`, `100/day`, `2500/month`.
pub fn parse_budget(s: &str) -> std::result::Result<Budget, String> {
    let (amount, period) = match s.split_once('/') {
        Some((a, p)) => (a, p),
        None => (s, "window"),
    };
    let usd: f64 = amount
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("`{s}`: the amount must be a number of USD, e.g. 100/day"))?;
    crate::config::check_budget_usd(usd).map_err(|e| format!("`{s}`: {e}"))?;
    let period = match period.trim() {
        "day" | "d" => BudgetPeriod::Day,
        "month" | "mo" => BudgetPeriod::Month,
        "window" => BudgetPeriod::Window,
        p => return Err(format!("`{s}`: unknown period `{p}` (use day or month)")),
    };
    Ok(Budget {
        usd,
        period,
        selector: Vec::new(),
        label: s.to_string(),
    })
}

#[derive(Clone)]
pub struct CostOptions {
    pub prices: Arc<PriceTable>,
    pub kind: KindFilter,
    /// Ignore reported costs and price every span from the table.
    pub recompute: bool,
    pub top_traces: usize,
    pub budgets: Vec<Budget>,
    /// `--tz`: where a `/month` budget's month starts
    pub tz: crate::window::TimeZone,
    /// Prices resolved once over every span the run reads ([`shared`]):
    /// [`resolve`] registers them instead of asking the engine again. The
    /// cost section's own options never carry them: its models table
    /// counts the usage of its own window.
    pub resolved: Option<Arc<Resolution>>,
}

pub struct CostReportOptions {
    pub key_names: Vec<String>,
    pub min_count: u64,
    pub top: usize,
    pub cost: CostOptions,
}

/// A model as the spans name it: (provider, request model, response model).
type ModelId = (Option<String>, Option<String>, Option<String>);

fn model_key(m: &ModelId) -> String {
    let s = |x: &Option<String>| x.clone().unwrap_or_default();
    format!("{}|{}|{}", s(&m.0), s(&m.1), s(&m.2))
}

/// The prices resolved for the models of one run.
#[derive(Clone)]
pub struct Resolution {
    /// model key -> (id, price and how it matched)
    pub models: BTreeMap<String, (ModelId, Option<(ModelPrice, MatchRule)>)>,
    /// model key -> spans, input and output tokens (phase-1 counts)
    pub usage: BTreeMap<String, (u64, u64, u64, u64)>,
    /// model key -> spans by the service tier priced apart they ran on
    pub services: BTreeMap<String, BTreeMap<ServiceTier, u64>>,
    /// Lower bounds of prompt-size classes where some model's tier changes.
    pub classes: Vec<u64>,
}

impl Resolution {
    pub fn tier_class_sql(&self) -> String {
        if self.classes.is_empty() {
            return "0".into();
        }
        let mut s = String::from("CASE");
        for c in self.classes.iter().rev() {
            s.push_str(&format!(" WHEN COALESCE(input_tokens, 0) >= {c} THEN {c}"));
        }
        s.push_str(" ELSE 0 END");
        s
    }
}

/// Phase 1 of the cost report: look up every model that carries tokens or
/// a cost and register the resolved rates as the small table `prices`.
pub fn resolve(engine: &mut dyn Engine, scope: &Scope, o: &CostOptions) -> Result<Resolution> {
    if let Some(r) = &o.resolved {
        register(engine, r)?;
        return Ok((**r).clone());
    }
    let mut s = scope.clone();
    s.kind = o.kind.clone();
    let q = expand(
        engine,
        &s,
        Template::CostModels,
        &[("service_tier", ServiceTier::sql())],
    )?;
    let frame = super::ask_one(engine, q)?;
    let rows = Rows::new(&frame, "cost_models");
    let (p, rq, rs) = (
        rows.strs("provider")?,
        rows.strs("request_model")?,
        rows.strs("response_model")?,
    );
    let stier = rows.strs("stier")?;
    let (spans, inp, out, rep) = (
        rows.u64s("spans")?,
        rows.u64s("input_tokens")?,
        rows.u64s("output_tokens")?,
        rows.u64s("reported_spans")?,
    );
    let mut res = Resolution {
        models: BTreeMap::new(),
        usage: BTreeMap::new(),
        services: BTreeMap::new(),
        classes: Vec::new(),
    };
    let mut classes = std::collections::BTreeSet::new();
    for i in 0..rows.len() {
        let id: ModelId = (p[i].clone(), rq[i].clone(), rs[i].clone());
        let hit = o
            .prices
            .lookup(id.0.as_deref(), id.1.as_deref(), id.2.as_deref())
            .map(|(m, r)| (m.clone(), r));
        if let Some((m, _)) = &hit {
            // a service tier's own prompt-size tiers (a Langfuse priority
            // tier above 150k) start classes too
            let services = m.services.iter().flat_map(|s| &s.tiers);
            for t in m.tiers.iter().chain(services) {
                classes.insert(if t.inclusive { t.above } else { t.above + 1 });
            }
        }
        let key = model_key(&id);
        let u = res.usage.entry(key.clone()).or_default();
        *u = (u.0 + spans[i], u.1 + inp[i], u.2 + out[i], u.3 + rep[i]);
        if let Some(t) = stier[i].as_deref().and_then(ServiceTier::of) {
            *res.services
                .entry(key.clone())
                .or_default()
                .entry(t)
                .or_default() += spans[i];
        }
        res.models.insert(key, (id, hit));
    }
    res.classes = classes.into_iter().collect();
    register(engine, &res)?;
    Ok(res)
}

/// `o` with the prices of every model that any span up to `end_ns`
/// (passing `scope`'s conditions, of any span type) names, resolved once:
/// what every section of one report but cost shares. A model a section's spans do
/// not name only adds rows to the `prices` table; a prompt-size class
/// another model needs gives every model the rates it has at that size, so
/// each span's cost is the one a section's own resolution gives.
pub fn shared(
    engine: &mut dyn Engine,
    scope: &Scope,
    end_ns: i64,
    o: &CostOptions,
) -> Result<CostOptions> {
    let mut s = scope.clone();
    s.window = crate::window::Window {
        start_ns: crate::stats::quantile::ZERO_BUCKET,
        end_ns,
    };
    s.kept = None;
    s.arms = None;
    let mut all = o.clone();
    all.kind = KindFilter::All;
    all.resolved = None;
    let res = resolve(engine, &s, &all)?;
    Ok(CostOptions {
        resolved: Some(Arc::new(res)),
        ..o.clone()
    })
}

/// The `prices` table: one row per priced model, prompt-size class and
/// service tier ('' the standard one; a tier the model has no rates for
/// carries the standard rates).
fn register(engine: &mut dyn Engine, res: &Resolution) -> Result<()> {
    let mut mkey = Vec::new();
    let mut tclass = Vec::new();
    let mut stier = Vec::new();
    let mut r: [Vec<f64>; 6] = Default::default();
    let services = std::iter::once(None).chain(ServiceTier::ALL.map(Some));
    for (k, (_, hit)) in &res.models {
        let Some((m, _)) = hit else { continue };
        for c in std::iter::once(0).chain(res.classes.iter().copied()) {
            for st in services.clone() {
                let rates = m.rates_on(st, c);
                mkey.push(k.clone());
                tclass.push(c as i64);
                stier.push(st.map_or("", ServiceTier::as_str));
                r[0].push(rates.input);
                r[1].push(rates.output);
                r[2].push(rates.cache_read());
                r[3].push(rates.cache_write());
                r[4].push(rates.cache_write_1h());
                r[5].push(rates.reasoning());
            }
        }
    }
    let [r_in, r_out, r_cr, r_cw, r_cw1h, r_reas] = r;
    let df = DataFrame::new_infer_height(vec![
        Column::new("mkey".into(), mkey),
        Column::new("tclass".into(), tclass),
        Column::new("stier".into(), stier),
        Column::new("r_in".into(), r_in),
        Column::new("r_out".into(), r_out),
        Column::new("r_cr".into(), r_cr),
        Column::new("r_cw".into(), r_cw),
        Column::new("r_cw1h".into(), r_cw1h),
        Column::new("r_reas".into(), r_reas),
    ])
    .map_err(|e| super::frame_err("prices", e))?;
    engine.register("prices", df)
}

/// The expanded per-span token query (each span's billable tokens by
/// kind, with its price keys), wrapped by the span cost and token sum
/// queries.
fn span_tokens_with(engine: &dyn Engine, scope: &Scope, res: &Resolution) -> Result<String> {
    let e = expand(
        engine,
        scope,
        Template::CostSpanTokens,
        &[
            ("tier_class", res.tier_class_sql()),
            ("service_tier", ServiceTier::sql()),
        ],
    )?;
    Ok(e.as_param())
}

/// The expanded per-span cost query (wrapped by other templates), over
/// the prices `res` registered.
pub fn span_costs_with(
    engine: &dyn Engine,
    scope: &Scope,
    o: &CostOptions,
    res: &Resolution,
) -> Result<String> {
    let e = expand(
        engine,
        scope,
        Template::CostSpanCosts,
        &[
            ("span_tokens", span_tokens_with(engine, scope, res)?),
            (
                "use_reported",
                if o.recompute { "FALSE" } else { "TRUE" }.into(),
            ),
        ],
    )?;
    Ok(e.as_param())
}

/// The expanded per-trace cost query (wrapped by other templates).
pub fn trace_costs_with(
    engine: &dyn Engine,
    scope: &Scope,
    o: &CostOptions,
    res: &Resolution,
) -> Result<String> {
    let spans = span_costs_with(engine, scope, o, res)?;
    let e = expand(
        engine,
        scope,
        Template::CostTraceCosts,
        &[("span_costs", spans)],
    )?;
    Ok(e.as_param())
}

/// Money and tokens of one cohort.
#[derive(Default, Clone, Debug)]
pub struct CohortCost {
    pub spans: u64,
    /// input (uncached), cache read, cache write, output (without reasoning), reasoning
    pub tokens: [u64; 5],
    /// table price by kind, over priced spans
    pub table: CostParts,
    pub reported_usd: f64,
    pub reported_spans: u64,
    /// reported minus table price on spans that have both
    pub delta_usd: f64,
    pub delta_spans: u64,
    /// what the report counts: reported where present (unless --recompute), else the table
    pub cost_usd: f64,
    pub unpriced_spans: u64,
}

fn add(a: &mut CostParts, b: &CostParts) {
    a.input += b.input;
    a.cache_read += b.cache_read;
    a.cache_write += b.cache_write;
    a.output += b.output;
    a.reasoning += b.reasoning;
}

/// Cost per cohort from the token sums of `cost_tokens`.
fn tokens_query(engine: &dyn Engine, scope: &Scope, res: &Resolution) -> Result<Expanded> {
    expand(
        engine,
        scope,
        Template::CostTokens,
        &[("span_tokens", span_tokens_with(engine, scope, res)?)],
    )
}

/// Cost per cohort from the rows of [`tokens_query`].
fn cohort_costs(
    frame: &DataFrame,
    nk: usize,
    o: &CostOptions,
    res: &Resolution,
) -> Result<BTreeMap<Vec<String>, CohortCost>> {
    let rows = Rows::new(frame, "cost_tokens");
    let keys = rows.keys(nk)?;
    let mkey = rows.strs("mkey")?;
    let tclass = rows.u64s("tclass")?;
    let stier = rows.strs("stier")?;
    let g = |n: &str| rows.u64s(n);
    let (spans, i_, o_, cr, cw, cw1h, rs) = (
        g("spans")?,
        g("input")?,
        g("output")?,
        g("cache_read")?,
        g("cache_write")?,
        g("cache_write_1h")?,
        g("reasoning")?,
    );
    let (ri, ro, rcr, rcw, rcw1h, rrs) = (
        g("r_input")?,
        g("r_output")?,
        g("r_cache_read")?,
        g("r_cache_write")?,
        g("r_cache_write_1h")?,
        g("r_reasoning")?,
    );
    let rep_usd = rows.f64s("reported_usd")?;
    let rep_spans = g("reported_spans")?;
    let mut out: BTreeMap<Vec<String>, CohortCost> = BTreeMap::new();
    for r in 0..rows.len() {
        let c = out.entry(keys[r].clone()).or_default();
        let all = Tokens {
            input: i_[r],
            output: o_[r],
            cache_read: cr[r],
            cache_write: cw[r],
            cache_write_1h: cw1h[r],
            reasoning: rs[r],
        };
        let reported = Tokens {
            input: ri[r],
            output: ro[r],
            cache_read: rcr[r],
            cache_write: rcw[r],
            cache_write_1h: rcw1h[r],
            reasoning: rrs[r],
        };
        c.spans += spans[r];
        for (sum, n) in c.tokens.iter_mut().zip(all.by_kind()) {
            *sum += n;
        }
        let rep = rep_usd[r].unwrap_or(0.0);
        let price = mkey[r]
            .as_ref()
            .and_then(|k| res.models.get(k))
            .and_then(|(_, hit)| hit.as_ref());
        match price {
            Some((m, _)) => {
                // prices are linear in tokens within a prompt-size class:
                // the summed tokens are billed at that class's tier
                let service = stier[r].as_deref().and_then(ServiceTier::of);
                let rates = m.rates_on(service, tclass[r]);
                let t_all = rates.cost(&all);
                let t_rep = rates.cost(&reported);
                add(&mut c.table, &t_all);
                c.reported_usd += rep;
                c.reported_spans += rep_spans[r];
                if rep_spans[r] > 0 {
                    c.delta_usd += rep - t_rep.total();
                    c.delta_spans += rep_spans[r];
                }
                c.cost_usd += if o.recompute {
                    t_all.total()
                } else {
                    rep + t_all.total() - t_rep.total()
                };
            }
            None => {
                c.reported_usd += rep;
                c.reported_spans += rep_spans[r];
                if o.recompute {
                    c.unpriced_spans += spans[r];
                } else {
                    c.cost_usd += rep;
                    c.unpriced_spans += spans[r] - rep_spans[r];
                }
            }
        }
    }
    Ok(out)
}

pub fn run(engine: &mut dyn Engine, mut scope: Scope, o: &CostReportOptions) -> Result<Report> {
    scope.kind = o.cost.kind.clone();
    cohort_phase(engine, &mut scope, o.min_count, o.top)?;
    let res = resolve(engine, &scope, &o.cost)?;
    let tc = trace_costs_with(engine, &scope, &o.cost, &res)?;
    // tokens, trace costs and top traces in one engine pass
    let mut batch = Batch::new();
    let tokens = batch.ask(tokens_query(engine, &scope, &res)?);
    let traces = batch.ask(expand(
        engine,
        &scope,
        percentile_template(
            engine.percentiles(),
            Template::CostTraceQuantiles,
            Template::CostTraceHistograms,
        ),
        &[("trace_costs", tc.clone())],
    )?);
    let top_traces = batch.ask(expand(
        engine,
        &scope,
        Template::CostTopTraces,
        &[
            ("trace_costs", tc),
            ("limit", o.cost.top_traces.to_string()),
        ],
    )?);
    let answers = batch.run(engine)?;
    let nk = scope.keys.len();
    let costs = cohort_costs(answers.frame(tokens), nk, &o.cost, &res)?;
    let hist_rows = answers.rows(traces);
    let hists = read_percentiles(&hist_rows, nk, None, engine.percentiles())?;
    // trace count and sum per cohort
    let mut per_trace: BTreeMap<Vec<String>, (u64, f64, u64)> = BTreeMap::new();
    {
        let keys = hist_rows.keys(nk)?;
        let (n, usd, inc) = (
            hist_rows.u64s("n")?,
            hist_rows.f64s("usd")?,
            hist_rows.u64s("incomplete")?,
        );
        for i in 0..hist_rows.len() {
            let e = per_trace.entry(keys[i].clone()).or_default();
            e.0 += n[i];
            e.1 += usd[i].unwrap_or(0.0);
            e.2 += inc[i];
        }
    }
    let total: f64 = costs.values().map(|c| c.cost_usd).sum();

    let mut summary = Table::with_keys(
        "cost",
        "Cost per cohort",
        &o.key_names,
        &[
            ("spans", Unit::Count),
            ("cost_usd", Unit::Usd),
            ("share", Unit::Share),
            ("traces", Unit::Count),
            ("per_trace_mean_usd", Unit::Usd),
            ("per_trace_p50_usd", Unit::Usd),
            ("per_trace_p95_usd", Unit::Usd),
            ("reported_usd", Unit::Usd),
            ("reported_spans", Unit::Count),
            ("delta_vs_table_usd", Unit::Usd),
            ("unpriced_spans", Unit::Count),
        ],
    )
    .wide(&[
        "traces",
        "per_trace_mean_usd",
        "reported_spans",
        "delta_vs_table_usd",
    ])
    .drop_first(&[
        "reported_usd",
        "per_trace_p50_usd+per_trace_p95_usd",
        "share",
        "spans",
    ]);
    let mut tokens = Table::with_keys(
        "tokens",
        "Tokens and table price by kind",
        &o.key_names,
        &[
            ("input_tokens", Unit::Count),
            ("cache_read_tokens", Unit::Count),
            ("cache_write_tokens", Unit::Count),
            ("output_tokens", Unit::Count),
            ("reasoning_tokens", Unit::Count),
            ("input_usd", Unit::Usd),
            ("cache_read_usd", Unit::Usd),
            ("cache_write_usd", Unit::Usd),
            ("output_usd", Unit::Usd),
            ("reasoning_usd", Unit::Usd),
            ("table_usd", Unit::Usd),
        ],
    )
    .wide(&[
        "cache_write_tokens",
        "reasoning_tokens",
        "input_usd",
        "cache_read_usd",
        "cache_write_usd",
        "output_usd",
        "reasoning_usd",
    ]);
    tokens.footnote = Some(
        "input tokens exclude cache reads and writes; output tokens exclude reasoning tokens"
            .into(),
    );
    let mut keys: Vec<&Vec<String>> = costs.keys().collect();
    keys.sort_by(|a, b| key_order(a, b));
    for k in keys {
        let c = &costs[k];
        let (n, sum, _) = per_trace.get(k).copied().unwrap_or_default();
        let h = hists.get(&(k.clone(), String::new()));
        let mut row: Vec<Cell> = k.iter().map(|s| Cell::text(s.clone())).collect();
        row.extend([
            Cell::count(c.spans),
            Cell::Num(c.cost_usd),
            Cell::opt((total > 0.0).then(|| c.cost_usd / total)),
            Cell::count(n),
            Cell::opt((n > 0).then(|| sum / n as f64)),
            pct_cell(h, 0.5),
            pct_cell(h, 0.95),
            if c.reported_spans > 0 {
                Cell::Num(c.reported_usd)
            } else {
                Cell::Null
            },
            Cell::count(c.reported_spans),
            if c.delta_spans > 0 {
                Cell::Num(c.delta_usd)
            } else {
                Cell::Null
            },
            Cell::count(c.unpriced_spans),
        ]);
        summary.push(row);
        let mut row: Vec<Cell> = k.iter().map(|s| Cell::text(s.clone())).collect();
        row.extend(c.tokens.iter().map(|t| Cell::count(*t)));
        row.extend([
            Cell::Num(c.table.input),
            Cell::Num(c.table.cache_read),
            Cell::Num(c.table.cache_write),
            Cell::Num(c.table.output),
            Cell::Num(c.table.reasoning),
            Cell::Num(c.table.total()),
        ]);
        tokens.push(row);
    }

    // models and how each was priced
    let mut models = Table::new(
        "models",
        "Models and their prices",
        &[
            ("provider", Unit::Text),
            ("request_model", Unit::Text),
            ("response_model", Unit::Text),
            ("price_key", Unit::Text),
            ("matched_by", Unit::Text),
            ("price_source", Unit::Text),
            ("service_tiers", Unit::Text),
            ("spans", Unit::Count),
            ("input_tokens", Unit::Count),
            ("output_tokens", Unit::Count),
        ],
    )
    .wide(&[
        "provider",
        "price_source",
        "service_tiers",
        "input_tokens",
        "output_tokens",
    ])
    .drop_first(&["request_model", "matched_by", "spans"]);
    let mut unpriced = Table::new(
        "unpriced",
        "Unpriced models (no price found; never counted as $0)",
        &[
            ("provider", Unit::Text),
            ("request_model", Unit::Text),
            ("response_model", Unit::Text),
            ("spans", Unit::Count),
            ("spans_without_reported_cost", Unit::Count),
            ("input_tokens", Unit::Count),
            ("output_tokens", Unit::Count),
        ],
    );
    let mut findings = Vec::new();
    let t = |x: &Option<String>| x.clone().map_or(Cell::Null, Cell::Text);
    for (k, (id, hit)) in &res.models {
        let (spans, inp, out, rep) = res.usage.get(k).copied().unwrap_or_default();
        let matched = hit.as_ref().map(|(m, r)| (m.key.clone(), r.as_str()));
        let source = hit.as_ref().map(|(m, r)| o.cost.prices.source_of(m, *r));
        // `priority 12, batch 3 (standard rates)`: a tier the table does not
        // price apart for this model bills the standard rates
        let tiers: Vec<String> = res
            .services
            .get(k)
            .into_iter()
            .flatten()
            .map(|(t, n)| match hit {
                Some((m, _)) if !m.prices_service(*t) => {
                    format!("{} {n} (standard rates)", t.as_str())
                }
                _ => format!("{} {n}", t.as_str()),
            })
            .collect();
        models.push(vec![
            t(&id.0),
            t(&id.1),
            t(&id.2),
            matched
                .as_ref()
                .map_or(Cell::text("(unpriced)"), |m| Cell::text(m.0.clone())),
            matched.as_ref().map_or(Cell::Null, |m| Cell::text(m.1)),
            source.map_or(Cell::Null, Cell::text),
            if tiers.is_empty() {
                Cell::Null
            } else {
                Cell::Text(tiers.join(", "))
            },
            Cell::count(spans),
            Cell::count(inp),
            Cell::count(out),
        ]);
        if hit.is_none() {
            let without = if o.cost.recompute { spans } else { spans - rep };
            unpriced.push(vec![
                t(&id.0),
                t(&id.1),
                t(&id.2),
                Cell::count(spans),
                Cell::count(without),
                Cell::count(inp),
                Cell::count(out),
            ]);
            if without > 0 {
                let name =
                    id.1.clone()
                        .or(id.2.clone())
                        .unwrap_or_else(|| "(no model name)".into());
                findings.push(
                    Finding::new(
                        FindingKind::Unpriced,
                        format!(
                            "{name}: {without} span(s), {inp} input and {out} output tokens have no price; \
                             add it with --prices FILE (`spanlens prices {name}` shows how a name is looked up)"
                        ),
                        1.0,
                    )
                    .metric(name.clone())
                    .values(Some(without as f64), None),
                );
            }
        }
    }

    let mut top = Table::with_keys(
        "top_traces",
        "Most expensive traces",
        &o.key_names,
        &[
            ("trace_id", Unit::Text),
            ("cost_usd", Unit::Usd),
            ("spans", Unit::Count),
            ("unpriced_spans", Unit::Count),
            ("start", Unit::Time),
        ],
    )
    .drop_first(&["start", "spans", "unpriced_spans"]);
    let tr = answers.rows(top_traces);
    let tk = tr.keys(nk)?;
    let (tid, tcost, tsp, tun, tst) = (
        tr.strs("trace_id")?,
        tr.f64s("cost")?,
        tr.u64s("spans")?,
        tr.u64s("unpriced_spans")?,
        tr.i64s("start_ns")?,
    );
    for i in 0..tr.len() {
        let mut row: Vec<Cell> = tk[i].iter().map(|s| Cell::text(s.clone())).collect();
        row.extend([
            t(&tid[i]),
            Cell::opt(tcost[i]),
            Cell::count(tsp[i]),
            Cell::count(tun[i]),
            tst[i].map_or(Cell::Null, Cell::Int),
        ]);
        top.push(row);
    }

    let mut tables = vec![summary, tokens, models, unpriced, top];
    if !o.cost.budgets.is_empty() {
        let (b, f) = budgets(engine, &scope, &o.cost, &o.key_names)?;
        tables.push(b);
        findings.extend(f);
    }
    for t in tables.iter_mut() {
        super::settle_table(t);
    }
    // every source on one line (JSON meta is an object: one key each)
    let sources: Vec<String> = o
        .cost
        .prices
        .sources
        .iter()
        .map(|s| {
            format!(
                "{} ({} models, sha256 {})",
                s.name,
                s.models,
                &s.sha256[..16]
            )
        })
        .collect();
    let mut meta = vec![("prices".to_string(), sources.join("; "))];
    meta.push((
        "cost basis".into(),
        if o.cost.recompute {
            "table prices for every span (--recompute)".into()
        } else {
            "reported cost where a span carries one, else table prices".into()
        },
    ));
    Ok(Report {
        command: "cost".into(),
        meta,
        tables,
        findings,
        notes: Vec::new(),
        headline: None,
        charts: Vec::new(),
    })
}

/// The window a budget period covers, ending at `end`.
pub fn budget_window(p: BudgetPeriod, report: Window, tz: &crate::window::TimeZone) -> Window {
    let end = report.end_ns;
    match p {
        BudgetPeriod::Window => report,
        BudgetPeriod::Day => Window {
            start_ns: end - NS_PER_DAY,
            end_ns: end,
        },
        BudgetPeriod::Month => Window {
            start_ns: crate::window::month_start(end - 1, tz),
            end_ns: end,
        },
    }
}

fn budgets(
    engine: &mut dyn Engine,
    scope: &Scope,
    o: &CostOptions,
    key_names: &[String],
) -> Result<(Table, Vec<Finding>)> {
    // a budget period can reach before the report window: price every model
    // met in the report window or any budget period
    let mut wide = scope.clone();
    for b in &o.budgets {
        let w = budget_window(b.period, scope.window, &o.tz);
        wide.window.start_ns = wide.window.start_ns.min(w.start_ns);
        wide.window.end_ns = wide.window.end_ns.max(w.end_ns);
    }
    let res = &resolve(engine, &wide, o)?;
    let mut t = Table::with_keys(
        "budgets",
        "Budgets",
        key_names,
        &[
            ("budget", Unit::Text),
            ("budget_usd", Unit::Usd),
            ("period_start", Unit::Time),
            ("spent_usd", Unit::Usd),
            ("used", Unit::Share),
            ("threshold_crossed", Unit::Text),
        ],
    );
    let mut findings = Vec::new();
    // every budget's spend in one engine pass
    let mut batch = Batch::new();
    let mut asked = Vec::with_capacity(o.budgets.len());
    for b in &o.budgets {
        let mut s = scope.clone();
        s.window = budget_window(b.period, scope.window, &o.tz);
        s.conditions.extend(b.selector.iter().cloned());
        asked.push((batch.ask(tokens_query(engine, &s, res)?), s.window));
    }
    let answers = batch.run(engine)?;
    for (b, (a, window)) in o.budgets.iter().zip(&asked) {
        let costs = cohort_costs(answers.frame(*a), scope.keys.len(), o, res)?;
        let mut keys: Vec<&Vec<String>> = costs.keys().collect();
        keys.sort_by(|a, b| key_order(a, b));
        for k in keys {
            let spent = costs[k].cost_usd;
            let used = spent / b.usd;
            let crossed = [1.0, 0.8, 0.5].into_iter().find(|x| used >= *x);
            let mut row: Vec<Cell> = k.iter().map(|x| Cell::text(x.clone())).collect();
            row.extend([
                Cell::text(b.label.clone()),
                Cell::Num(b.usd),
                Cell::Int(window.start_ns),
                Cell::Num(spent),
                Cell::Num(used),
                crossed.map_or(Cell::Null, |x| Cell::text(format!("{:.0}%", x * 100.0))),
            ]);
            t.push(row);
            if used >= 1.0 {
                findings.push(
                    Finding::new(
                        FindingKind::Budget,
                        format!(
                            "{} [{}]: spent ${spent:.4} of ${} ({:.0}%)",
                            b.label,
                            k.join(", "),
                            b.usd,
                            used * 100.0
                        ),
                        Finding::CRITICAL * used,
                    )
                    .cohort(key_names, k)
                    .metric(b.label.clone())
                    .values(Some(spent), Some(b.usd)),
                );
            }
        }
    }
    Ok((t, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_and_windows() {
        assert_eq!(parse_budget("100/day").unwrap().period, BudgetPeriod::Day);
        assert_eq!(parse_budget("$2500/month").unwrap().usd, 2500.0);
        assert_eq!(parse_budget("50").unwrap().period, BudgetPeriod::Window);
        assert!(parse_budget("x/day").is_err());
        assert!(parse_budget("10/year").is_err());
        // 2026-03-15T12:00Z -> month from 2026-03-01
        let end = 1_773_576_000 * 1_000_000_000;
        let report = Window {
            start_ns: end - 10,
            end_ns: end,
        };
        let w = budget_window(BudgetPeriod::Month, report, &crate::window::TimeZone::UTC);
        assert_eq!(w.start_ns, 1_772_323_200 * 1_000_000_000);
        // in Tokyo, March began 2026-02-28T15:00Z
        let tokyo = crate::window::parse_tz("Asia/Tokyo").unwrap();
        let w = budget_window(BudgetPeriod::Month, report, &tokyo);
        assert_eq!(w.start_ns, 1_772_290_800 * 1_000_000_000);
    }
}
