//! Renderers: table (comfy-table), Markdown, JSON, CSV and Parquet of a
//! [`Report`]. They only format; every number arrives computed.

use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, Color, ContentArrangement, Table as Ct};
use polars::prelude::*;
use serde_json::{Map, Value};

use super::fit;
use super::format;
use super::model::{self, Cell, Nightly, Report, Table, Unit};

/// Longest fact shown above a terminal table (a gate lists every
/// metric's minimum effect); only a hostile value is cut.
const MAX_META: usize = 1000;

/// Longest text shown in a human cell.
const MAX_TEXT: usize = 80;

/// Longest item of a list shown in a human cell: ids are shown whole (a
/// W3C trace id and span id take 49 characters); only a hostile value is
/// cut.
const MAX_ITEM: usize = 200;

fn human(cell: &Cell, unit: Unit, markdown: bool) -> String {
    let num = |x: f64| match unit {
        Unit::Share => format::pct(Some(x)),
        Unit::Ms => format::ms(x),
        Unit::Usd => format::usd(x),
        Unit::Count => format::int(x.max(0.0) as u64),
        Unit::Time => format::time_ns(x as i64),
        Unit::Stat => format::stat(x),
        Unit::Tokens => format::tokens(x),
        Unit::Number | Unit::Text | Unit::PerRow | Unit::List => format::number(x),
    };
    let safe = |s: &str, max: usize| {
        if markdown {
            format::markdown_safe(s, max)
        } else {
            format::terminal_safe(s, max)
        }
    };
    match cell {
        Cell::Null => "-".into(),
        Cell::Text(s) => safe(s, MAX_TEXT),
        Cell::List(v) => v
            .iter()
            .map(|s| safe(s, MAX_ITEM))
            .collect::<Vec<_>>()
            .join(" "),
        Cell::Int(i) => match unit {
            Unit::Count => {
                if *i < 0 {
                    format!("-{}", format::int(i.unsigned_abs()))
                } else {
                    format::int(*i as u64)
                }
            }
            Unit::Time => format::time_ns(*i),
            _ => num(*i as f64),
        },
        Cell::Num(x) => num(*x),
        Cell::Low(x) => format!("{}*", num(*x)),
    }
}

fn right_aligned(unit: Unit) -> bool {
    !matches!(unit, Unit::Text | Unit::Time | Unit::List)
}

fn footnote(t: &Table) -> Option<String> {
    let low = t.rows.iter().flatten().any(|c| matches!(c, Cell::Low(_)));
    match (&t.footnote, low) {
        (Some(f), _) => Some(f.clone()),
        (None, true) => Some("* low confidence: p95 with n < 20, p99 with n < 100".into()),
        _ => None,
    }
}

/// The colour of a verdict in a terminal table (columns verdict, status,
/// severity and alert): red calls for action, yellow for a look, green is
/// good news; anything else is left plain.
fn verdict_color(column: &str, text: &str) -> Option<Color> {
    if !matches!(column, "verdict" | "status" | "severity" | "alert") {
        return None;
    }
    match text {
        "regressed" | "breached" | "critical" | "page" | "drift" => Some(Color::Red),
        "warning" | "ticket" | "moderate" | "inconclusive" => Some(Color::Yellow),
        "improved" | "pass" | "met" | "ok" | "stable" => Some(Color::Green),
        _ => None,
    }
}

/// How a terminal table is drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct View {
    /// verdicts coloured (ANSI)
    pub color: bool,
    /// fit this many columns (a terminal, `--width`); None: every column
    /// under its full name, the same bytes whatever the terminal (piped
    /// output, `--wide`)
    pub width: Option<usize>,
}

/// One table cell for a terminal.
fn term_cell(text: String, column: &model::Column, view: View) -> comfy_table::Cell {
    let paint = verdict_color(&column.name, &text).filter(|_| view.color);
    let mut cell = comfy_table::Cell::new(text);
    if right_aligned(column.unit) {
        cell = cell.set_alignment(CellAlignment::Right);
    }
    match paint {
        Some(p) => cell.fg(p),
        None => cell,
    }
}

/// A line of facts, wrapped at spaces when the view has a width.
fn term_line(out: &mut dyn Write, view: View, first: &str, text: &str) -> io::Result<()> {
    match view.width {
        Some(w) => {
            for line in fit::wrap(text, w, first, "    ") {
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
        None => writeln!(out, "{first}{text}"),
    }
}

/// One table for a terminal: every column, or the view that fits.
fn term_table(t: &Table, out: &mut dyn Write, view: View) -> io::Result<()> {
    let mut cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .enumerate()
        .map(|(ri, row)| {
            row.iter()
                .enumerate()
                .map(|(ci, c)| human(c, t.unit_at(ri, ci), false))
                .collect()
        })
        .collect();
    let mut ct = Ct::new();
    ct.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if view.color {
        ct.enforce_styling();
    } else {
        ct.force_no_tty();
    }
    let Some(width) = view.width else {
        ct.set_header(t.columns.iter().map(|c| c.name.clone()));
        for row in cells {
            ct.add_row(
                row.into_iter()
                    .zip(&t.columns)
                    .map(|(s, c)| term_cell(s, c, view)),
            );
        }
        return writeln!(out, "{ct}");
    };
    // a long text (a 200-character route) must not push every number out:
    // text cells are cut to a third of the width, ids never
    let cap = (width / 3).max(16);
    for (c, col) in t.columns.iter().enumerate() {
        if col.unit == Unit::Text && !fit::is_id(&col.name) {
            for row in cells.iter_mut() {
                row[c] = fit::cut(&row[c], cap);
            }
        }
    }
    let l = fit::layout(t, &cells, width);
    let two_lines = l.header.iter().any(|(a, _)| !a.is_empty());
    ct.set_header(l.header.iter().map(|(a, b)| {
        if two_lines {
            format!("{a}\n{b}")
        } else {
            b.clone()
        }
    }));
    for row in &cells {
        ct.add_row(
            l.shown
                .iter()
                .map(|&c| term_cell(row[c].clone(), &t.columns[c], view)),
        );
    }
    writeln!(out, "{ct}")?;
    if !l.hidden.is_empty() {
        let names: Vec<&str> = l
            .hidden
            .iter()
            .map(|&c| t.columns[c].name.as_str())
            .collect();
        term_line(
            out,
            view,
            "",
            &format!(
                "({} more column(s): {}; --wide shows them)",
                names.len(),
                names.join(", ")
            ),
        )?;
    }
    // ids whole, under the table: each row's, after what the row is about
    let about = (0..t.columns.len())
        .find(|&c| c >= t.keys && t.columns[c].unit == Unit::Text)
        .into_iter();
    let label: Vec<usize> = (0..t.keys).chain(about).collect();
    for &c in &l.lists {
        writeln!(out, "{}:", t.columns[c].name)?;
        for row in cells.iter().filter(|r| !r[c].is_empty()) {
            let who: Vec<&str> = label.iter().map(|&k| row[k].as_str()).collect();
            term_line(out, view, &format!("  {}: ", who.join(" ")), &row[c])?;
        }
    }
    Ok(())
}

/// A terminal table of a report: its facts, tables, findings and notes.
pub fn table(r: &Report, out: &mut dyn Write, view: View) -> io::Result<()> {
    if let Some(h) = &r.headline {
        term_line(out, view, "", &format::terminal_safe(h, 300))?;
    }
    // piped: cut as before (the same bytes); fitted: wrapped, whole
    let max_meta = if view.width.is_some() { MAX_META } else { 200 };
    for (k, v) in &r.meta {
        term_line(
            out,
            view,
            &format!("{k}: "),
            &format::terminal_safe(v, max_meta),
        )?;
    }
    for t in &r.tables {
        writeln!(out)?;
        writeln!(out, "{}", t.title)?;
        if t.rows.is_empty() {
            writeln!(out, "  (none)")?;
            continue;
        }
        term_table(t, out, view)?;
        if let Some(f) = footnote(t) {
            term_line(out, view, "", &f)?;
        }
    }
    if !r.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Findings")?;
        for f in &r.findings {
            term_line(
                out,
                view,
                &format!("  {}: ", f.kind),
                &format::terminal_safe(&f.message, 300),
            )?;
        }
    }
    for n in &r.notes {
        term_line(out, view, "note: ", &format::terminal_safe(n, 300))?;
    }
    Ok(())
}

pub fn markdown(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    // the verdict line first: what a pull-request comment leads with
    if let Some(h) = &r.headline {
        writeln!(out, "**{}**", format::markdown_safe(h, 300))?;
        writeln!(out)?;
    }
    writeln!(out, "# spanlens {}", r.command)?;
    writeln!(out)?;
    if r.findings.is_empty() {
        writeln!(out, "**No findings.**")?;
    } else {
        writeln!(out, "**{} finding(s):**", r.findings.len())?;
        writeln!(out)?;
        for f in &r.findings {
            writeln!(
                out,
                "- **{}**: {}",
                f.kind,
                format::markdown_safe(&f.message, 300)
            )?;
        }
    }
    writeln!(out)?;
    for (k, v) in &r.meta {
        writeln!(out, "- {k}: {}", format::markdown_safe(v, 200))?;
    }
    for t in &r.tables {
        writeln!(out)?;
        writeln!(out, "## {}", t.title)?;
        writeln!(out)?;
        markdown_table(t, out)?;
    }
    for n in &r.notes {
        writeln!(out)?;
        writeln!(out, "> note: {}", format::markdown_safe(n, 300))?;
    }
    Ok(())
}

/// One table as GitHub Markdown (cells escaped), with its footnote.
pub fn markdown_table(t: &Table, out: &mut dyn Write) -> io::Result<()> {
    if t.rows.is_empty() {
        writeln!(out, "(none)")?;
        return Ok(());
    }
    let head: Vec<String> = t
        .columns
        .iter()
        // column names are ours or the user's --by keys: only a pipe could break the table
        .map(|c| c.name.replace('|', "\\|"))
        .collect();
    writeln!(out, "| {} |", head.join(" | "))?;
    let align: Vec<&str> = t
        .columns
        .iter()
        .map(|c| if right_aligned(c.unit) { "---:" } else { "---" })
        .collect();
    writeln!(out, "| {} |", align.join(" | "))?;
    for (ri, row) in t.rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(ci, c)| human(c, t.unit_at(ri, ci), true))
            .collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    if let Some(f) = footnote(t) {
        writeln!(out)?;
        // a leading `*` (the low-confidence mark) would start a list item
        let f = if f.starts_with('*') {
            format!("\\{f}")
        } else {
            f
        };
        writeln!(out, "{f}")?;
    }
    Ok(())
}

/// How an infinite number is written where the format has no number for
/// it (JSON, CSV); None for NaN (no value).
fn non_finite(x: f64) -> Option<&'static str> {
    match x {
        f64::INFINITY => Some("inf"),
        f64::NEG_INFINITY => Some("-inf"),
        _ => None,
    }
}

fn json_value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Text(s) => Value::String(s.clone()),
        Cell::List(v) => Value::from(v.clone()),
        Cell::Int(i) => Value::from(*i),
        // JSON has no infinity: an infinite value (a burn rate against a
        // 100% target) is the string "inf" / "-inf", never null ("no data")
        Cell::Num(x) | Cell::Low(x) => serde_json::Number::from_f64(*x).map_or_else(
            || non_finite(*x).map_or(Value::Null, |s| Value::String(s.into())),
            Value::Number,
        ),
    }
}

/// The version of the JSON documents' shape (`--format json`, a report's
/// summary.json): raised when a key is renamed, removed or changes type.
pub const SCHEMA_VERSION: u32 = 3;

/// A cell in JSON, times as RFC 3339 strings.
fn json_cell(c: &Cell, unit: Unit) -> Value {
    match (c, unit) {
        (Cell::Int(ns), Unit::Time) => Value::String(format::rfc3339(*ns)),
        _ => json_value(c),
    }
}

/// One row as a JSON object, by column name.
fn row_json(t: &Table, ri: usize, m: &mut Map<String, Value>) {
    for (ci, (c, col)) in t.rows[ri].iter().zip(&t.columns).enumerate() {
        m.insert(col.name.clone(), json_cell(c, t.unit_at(ri, ci)));
    }
}

fn table_json(t: &Table) -> Value {
    Value::Array(
        (0..t.rows.len())
            .map(|ri| {
                let mut m = Map::new();
                row_json(t, ri, &mut m);
                Value::Object(m)
            })
            .collect(),
    )
}

pub fn json(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut v = json_value_of(r);
    v["schema_version"] = SCHEMA_VERSION.into();
    serde_json::to_writer_pretty(&mut *out, &v)?;
    writeln!(out)
}

/// The JSON document of a report (what `--format json` prints).
pub fn json_value_of(r: &Report) -> Value {
    let mut meta = Map::new();
    for (k, v) in &r.meta {
        meta.insert(k.clone(), Value::String(v.clone()));
    }
    let mut tables = Map::new();
    for t in &r.tables {
        tables.insert(t.name.clone(), table_json(t));
    }
    serde_json::json!({
        "command": r.command,
        "headline": r.headline,
        "meta": meta,
        "findings": r.findings,
        "tables": tables,
        "notes": r.notes,
    })
}

/// One JSON object a line, for jq and line tools: every row of `tables`,
/// each with the table it belongs to (`"table"`, and `"section"` for the
/// report's), its cells by column name as in `--format json`.
pub fn jsonl<'a>(
    tables: impl IntoIterator<Item = (Option<&'a str>, &'a Table)>,
    out: &mut dyn Write,
) -> io::Result<()> {
    for (section, t) in tables {
        for ri in 0..t.rows.len() {
            let mut m = Map::new();
            if let Some(s) = section {
                m.insert("section".into(), Value::String(s.to_string()));
            }
            m.insert("table".into(), Value::String(t.name.clone()));
            row_json(t, ri, &mut m);
            serde_json::to_writer(&mut *out, &Value::Object(m))?;
            writeln!(out)?;
        }
    }
    Ok(())
}

pub fn csv(t: &Table, out: &mut dyn Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(t.columns.iter().map(|c| format::csv_safe(&c.name)))
        .map_err(io::Error::other)?;
    for row in &t.rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Null => String::new(),
            Cell::Text(s) => format::csv_safe(s),
            Cell::List(v) => format::csv_safe(&v.join(" ")),
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) | Cell::Low(x) => {
                if x.is_finite() {
                    format!("{x:?}")
                } else {
                    non_finite(*x).unwrap_or_default().to_string()
                }
            }
        }))
        .map_err(io::Error::other)?;
    }
    w.flush()
}

/// The table as a polars frame (raw values; same column names as JSON).
pub fn frame(t: &Table) -> PolarsResult<DataFrame> {
    let mut cols = Vec::with_capacity(t.columns.len());
    for (i, c) in t.columns.iter().enumerate() {
        let cells = t.rows.iter().map(|r| &r[i]);
        let is_text = t.rows.iter().any(|r| matches!(r[i], Cell::Text(_))) || c.unit == Unit::Text;
        let all_int = t
            .rows
            .iter()
            .all(|r| matches!(r[i], Cell::Int(_) | Cell::Null));
        let name: PlSmallStr = c.name.as_str().into();
        let is_list = c.unit == Unit::List || t.rows.iter().any(|r| matches!(r[i], Cell::List(_)));
        let col = if is_list && t.rows.is_empty() {
            // the same type with no rows as with some
            ListChunked::full_null_with_dtype(name, 0, &DataType::String)
                .into_series()
                .into_column()
        } else if is_list {
            let v: ListChunked = cells
                .map(|x| match x {
                    Cell::List(v) => Some(Series::new(PlSmallStr::EMPTY, v)),
                    _ => None,
                })
                .collect();
            v.with_name(name).into_series().into_column()
        } else if is_text {
            let v: Vec<Option<String>> = cells
                .map(|x| match x {
                    Cell::Text(s) => Some(s.clone()),
                    Cell::Null => None,
                    other => other.as_f64().map(|f| f.to_string()),
                })
                .collect();
            Column::new(name, v)
        } else if all_int && matches!(c.unit, Unit::Count | Unit::Time) {
            let v: Int64Chunked = cells
                .map(|x| match x {
                    Cell::Int(i) => Some(*i),
                    _ => None,
                })
                .collect();
            let v = v.with_name(name);
            if c.unit == Unit::Time {
                v.into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
                    .into_series()
                    .into_column()
            } else {
                v.into_series().into_column()
            }
        } else {
            let v: Vec<Option<f64>> = cells.map(Cell::as_f64).collect();
            Column::new(name, v)
        };
        cols.push(col);
    }
    DataFrame::new_infer_height(cols)
}

pub fn parquet(t: &Table, out: &mut dyn Write) -> io::Result<()> {
    let mut df = frame(t).map_err(io::Error::other)?;
    ParquetWriter::new(out)
        .finish(&mut df)
        .map(|_| ())
        .map_err(io::Error::other)
}

/// The nightly report as Markdown: the verdict line, the first screen,
/// then each section's tables.
pub fn nightly_markdown(n: &Nightly, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "**{}**", format::markdown_safe(&n.headline, 300))?;
    writeln!(out)?;
    writeln!(out, "# spanlens nightly report")?;
    writeln!(out)?;
    for (k, v) in &n.meta {
        writeln!(out, "- {k}: {}", format::markdown_safe(v, 200))?;
    }
    writeln!(out)?;
    writeln!(out, "## Summary")?;
    for b in &n.summary {
        writeln!(out)?;
        writeln!(out, "**{}**", format::markdown_safe(&b.title, 200))?;
        writeln!(out)?;
        if b.items.is_empty() {
            writeln!(out, "- none")?;
        }
        for i in &b.items {
            writeln!(out, "- {}", format::markdown_safe(i, 300))?;
        }
        if b.more > 0 {
            writeln!(out, "- and {} more (see below)", b.more)?;
        }
    }
    for s in &n.sections {
        writeln!(out)?;
        writeln!(out, "## {}", s.title)?;
        if let Some(h) = &s.report.headline {
            writeln!(out)?;
            writeln!(out, "{}", format::markdown_safe(h, 300))?;
        }
        if !s.report.meta.is_empty() {
            writeln!(out)?;
        }
        for (k, v) in &s.report.meta {
            writeln!(out, "- {k}: {}", format::markdown_safe(v, 200))?;
        }
        for c in n.charts.iter().filter(|c| c.section == s.name) {
            writeln!(out)?;
            writeln!(
                out,
                "![{}]({})",
                format::markdown_safe(&c.title, 200),
                c.path
            )?;
        }
        for t in &s.report.tables {
            writeln!(out)?;
            writeln!(out, "### {}", t.title)?;
            writeln!(out)?;
            markdown_table(t, out)?;
        }
        for note in &s.report.notes {
            writeln!(out)?;
            writeln!(out, "> note: {}", format::markdown_safe(note, 300))?;
        }
    }
    Ok(())
}

/// The nightly report as one JSON document (every section as `--format
/// json` prints it).
pub fn nightly_value(n: &Nightly) -> Value {
    let mut meta = Map::new();
    for (k, v) in &n.meta {
        meta.insert(k.clone(), Value::String(v.clone()));
    }
    let mut sections = Map::new();
    for s in &n.sections {
        sections.insert(s.name.clone(), json_value_of(&s.report));
    }
    serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "command": "report",
        "headline": n.headline,
        "meta": meta,
        "summary": n.summary,
        "findings": n.findings(),
        "sections": sections,
        "charts": n.charts,
    })
}

pub fn nightly_json(n: &Nightly, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &nightly_value(n))?;
    writeln!(out)
}
