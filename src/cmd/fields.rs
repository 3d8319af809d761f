//! `spanlens fields`: every name an option takes, from the lists the code
//! itself checks values against (so the listing cannot drift from what
//! the commands accept).

use super::Context;
use crate::cli::FieldsArgs;
use crate::error::Result;
use crate::report::model::{Cell, FindingKind, Table, Unit};
use crate::span::row::SpanType;
use crate::span::schema;

pub fn run(args: FieldsArgs, ctx: &Context) -> Result<i32> {
    let note = "attr:KEY and resource:KEY name any span or resource attribute; `spanlens \
                inspect` lists the attributes an export carries";
    super::print_tables(
        "fields",
        vec![columns(), names()],
        vec![note.into()],
        args.format,
        ctx,
    )
}

/// The canonical tables' columns, and which take `--by` / `--where`.
fn columns() -> Table {
    let mut t = Table::new(
        "columns",
        "Canonical columns (the spans and evals tables of `ingest` and `query`)",
        &[
            ("table", Unit::Text),
            ("column", Unit::Text),
            ("by_and_where", Unit::Text),
        ],
    );
    let cohort = |c: &str| crate::engine::FIELDS.contains(&c);
    for c in schema::SPAN_COLUMNS {
        t.push(vec![
            Cell::text("spans"),
            Cell::text(*c),
            Cell::text(if cohort(c) { "yes" } else { "" }),
        ]);
    }
    for c in schema::EVAL_COLUMNS {
        t.push(vec![Cell::text("evals"), Cell::text(*c), Cell::text("")]);
    }
    t
}

/// Each option's names, for the commands that take it.
fn names() -> Table {
    // option and commands are the rows' keys: the ids under a fitted table name them
    let mut t = Table::with_keys(
        "names",
        "What each option takes",
        &["option".to_string(), "commands".to_string()],
        &[("names", Unit::List)],
    );
    let list = |v: Vec<String>| Cell::List(v);
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let attrs = || ["attr:KEY".to_string(), "resource:KEY".to_string()];
    let reports = crate::cli::ANALYSIS_COMMANDS.join(" ");
    let reports = reports.as_str();
    let mut row = |option: &str, commands: &str, names: Vec<String>| {
        t.push(vec![Cell::text(option), Cell::text(commands), list(names)]);
    };
    let mut by = owned(crate::engine::FIELDS);
    by.extend(attrs());
    row("--by, --where", reports, by);
    let mut kinds: Vec<String> = SpanType::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    kinds.push("all".into());
    row("--span-type (--kind)", reports, kinds);
    let mut drift = owned(crate::metrics::drift::NUMERIC_FIELDS);
    drift.extend(owned(&["cost_usd", "eval_score", "eval_label"]));
    drift.extend(owned(crate::engine::FIELDS));
    drift.extend(attrs());
    row("--field", "drift", drift);
    let metrics = crate::metrics::compare::METRICS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    row("--metrics", "compare", metrics);
    row(
        "--fail-on",
        reports,
        FindingKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
    );
    for (command, tables) in crate::metrics::TABLES {
        row("--table", command, owned(tables));
    }
    t
}
