//! `spanlens prices [MODEL...]`: what a model string is priced as, by which
//! rule and from which table; with no model, the tables themselves.

use super::Context;
use crate::cli::PricesArgs;
use crate::error::Result;
use crate::pricing::{PriceTable, Rates};
use crate::report::model::{Cell, Table, Unit};

pub fn run(args: PricesArgs, ctx: &Context) -> Result<i32> {
    let t = crate::options::price_table(ctx, &args.prices.files)?;
    let table = if args.models.is_empty() {
        sources(&t)
    } else {
        models(&t, args.provider.as_deref(), &args.models)
    };
    super::print_tables("prices", vec![table], Vec::new(), args.format, ctx)
}

fn sources(t: &PriceTable) -> Table {
    let mut out = Table::new(
        "sources",
        "Price tables, looked up in this order: --prices files (later first), LiteLLM, Langfuse",
        &[
            ("table", Unit::Text),
            ("models", Unit::Count),
            ("sha256", Unit::Text),
        ],
    );
    for s in &t.sources {
        out.push(vec![
            Cell::text(s.name.clone()),
            Cell::count(s.models as u64),
            Cell::text(s.sha256.clone()),
        ]);
    }
    out
}

/// USD per 1M tokens.
fn per_million(x: f64) -> Cell {
    Cell::Num(crate::metrics::settle(x * 1e6))
}

/// `LABEL: input / output`, USD per 1M tokens.
fn in_out(label: &str, r: &Rates) -> String {
    let m = |x: f64| crate::metrics::settle(x * 1e6);
    format!("{label}: {} / {}", m(r.input), m(r.output))
}

fn models(t: &PriceTable, provider: Option<&str>, names: &[String]) -> Table {
    let mut out = Table::new(
        "prices",
        "What each model string is priced as (USD per 1M tokens)",
        &[
            ("model", Unit::Text),
            ("price_key", Unit::Text),
            ("matched_by", Unit::Text),
            ("source", Unit::Text),
            ("input", Unit::Stat),
            ("output", Unit::Stat),
            ("cache_read", Unit::Stat),
            ("cache_write", Unit::Stat),
            ("cache_write_1h", Unit::Stat),
            ("reasoning", Unit::Stat),
            ("tiers", Unit::Text),
            ("service_tiers", Unit::Text),
        ],
    );
    out.footnote = Some(
        "a missing cache rate bills at the input rate, a missing 1-hour write rate at the cache \
         write rate, a missing reasoning rate at the output rate; tiers: the rates of a prompt \
         above that many tokens; service tiers: input / output on a tier priced apart (a span's \
         service_tier selects it; other tiers bill the standard rates). Unpriced models are \
         never counted as $0: add them with --prices FILE."
            .into(),
    );
    for name in names {
        let Some((p, rule)) = t.lookup(provider, Some(name), None) else {
            let mut row = vec![
                Cell::text(name.clone()),
                Cell::text("(unpriced)"),
                Cell::Null,
                Cell::Null,
            ];
            row.extend((0..6).map(|_| Cell::Null));
            row.push(Cell::text(""));
            row.push(Cell::text(""));
            out.push(row);
            continue;
        };
        let r: &Rates = &p.base;
        let tiers: Vec<String> = p
            .tiers
            .iter()
            .map(|x| in_out(&format!("above {}", x.above), &x.rates))
            .collect();
        let services: Vec<String> = p
            .services
            .iter()
            .map(|s| in_out(s.tier.as_str(), &s.base))
            .collect();
        out.push(vec![
            Cell::text(name.clone()),
            Cell::text(p.key.clone()),
            Cell::text(rule.as_str()),
            Cell::text(t.source_of(p, rule)),
            per_million(r.input),
            per_million(r.output),
            r.cache_read.map_or(Cell::Null, per_million),
            r.cache_write.map_or(Cell::Null, per_million),
            r.cache_write_1h.map_or(Cell::Null, per_million),
            r.reasoning.map_or(Cell::Null, per_million),
            Cell::text(tiers.join("; ")),
            Cell::text(services.join("; ")),
        ]);
    }
    out
}
