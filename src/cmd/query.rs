//! `spanlens query FILE.sql IN...`: a user's template over the canonical
//! tables, expanded like the bundled ones.

use super::pipeline::{emit, prepare, Need};
use super::{to_stdout, Context};
use crate::cli::QueryArgs;
use crate::engine::template::Expander;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::report::model::{Cell, Report, Table, Unit};

pub fn run(mut args: QueryArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = vec![args.sql.clone()];
    args.common.reads_attrs = true;
    let text = std::fs::read_to_string(&args.sql).map_err(|e| Error::input_io(&args.sql, &e))?;
    let name = args.sql.display().to_string();
    let p = prepare(
        &args.common,
        ctx,
        crate::engine::KindFilter::All,
        Need::AnySpan,
    )?;
    let mut engine = p.engine;
    let q = Expander::new(engine.dialect(), engine.percentiles(), &p.scope)
        .with_partitions(engine.partition_filter(p.scope.window))
        .expand(&name, &text, &[])?;
    if args.explain {
        to_stdout(|w| writeln!(w, "{}", q.sql))?;
        return Ok(crate::exit::OK);
    }
    let df = &crate::metrics::ask_one(&mut engine, q)?;
    let mut cols = Vec::new();
    for c in df.columns() {
        let unit = if c.dtype().is_primitive_numeric() {
            Unit::Number
        } else {
            Unit::Text
        };
        cols.push((c.name().to_string(), unit));
    }
    let spec: Vec<(&str, Unit)> = cols.iter().map(|(n, u)| (n.as_str(), *u)).collect();
    let mut t = Table::new("result", &name, &spec);
    for c in t.columns.iter_mut() {
        if c.unit == Unit::Number {
            let dt = df
                .column(&c.name)
                .map(|x| x.dtype().is_integer())
                .unwrap_or(false);
            if dt {
                c.unit = Unit::Count;
            }
        }
    }
    for i in 0..df.height() {
        let row = df
            .columns()
            .iter()
            .map(|c| match c.get(i) {
                Ok(v) if v.is_null() => Cell::Null,
                Ok(v) => {
                    if c.dtype().is_integer() {
                        v.extract::<i64>().map_or(Cell::Null, Cell::Int)
                    } else if c.dtype().is_primitive_numeric() {
                        v.extract::<f64>().map_or(Cell::Null, Cell::Num)
                    } else {
                        Cell::Text(v.str_value().to_string())
                    }
                }
                Err(_) => Cell::Null,
            })
            .collect();
        t.push(row);
    }
    let report = Report {
        command: "query".into(),
        meta: p.pre.meta,
        tables: vec![t],
        findings: p.pre.findings,
        notes: Vec::new(),
        headline: None,
        charts: Vec::new(),
    };
    emit(&report, &args.common, &p.fail_on, ctx)
}
