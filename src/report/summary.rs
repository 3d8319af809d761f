//! Renderers for the run summary (ingest) and the inspect report.

use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::format::{bytes, int, pct, terminal_safe, time_ns};
use crate::frame::summary::RunSummary;

/// The stderr summary after `ingest`.
pub fn ingest_text(s: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
    let range = match (s.start_ns, s.end_ns) {
        (Some(a), Some(b)) => format!("{} .. {}", time_ns(a), time_ns(b)),
        _ => "no spans".into(),
    };
    writeln!(
        out,
        "read {} file(s): {} spans in {} traces, {} evals; span starts {}",
        s.files,
        int(s.spans),
        int(s.traces),
        int(s.evals),
        range
    )?;
    if !s.conventions.is_empty() {
        let c: Vec<String> = s
            .conventions
            .iter()
            .map(|(c, n)| format!("{c} ({} spans)", int(*n)))
            .collect();
        writeln!(out, "  conventions: {}", c.join(", "))?;
    }
    let unmapped: usize = s
        .inputs
        .iter()
        .map(|i| i.unclaimed_distinct)
        .max()
        .unwrap_or(0);
    if unmapped > 0 {
        writeln!(
            out,
            "  unmapped attributes: {unmapped} distinct, kept in `attrs` (see `spanlens inspect`)"
        )?;
    }
    if s.duplicates > 0 {
        writeln!(
            out,
            "  duplicates: {} span(s) seen twice, kept once",
            int(s.duplicates)
        )?;
    }
    for (path, why) in &s.skipped_files {
        writeln!(out, "  skipped {}: {why}", terminal_safe(path, 200))?;
    }
    rejects_text(s, out)
}

fn rejects_text(s: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
    if s.rejected_count == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "  rejected: {} record(s), each counted and skipped:",
        int(s.rejected_count)
    )?;
    let mut shown = 0;
    for i in &s.inputs {
        for r in &i.rejected {
            if shown >= 20 {
                break;
            }
            writeln!(
                out,
                "    {}:{}: {}",
                terminal_safe(&i.path, 200),
                r.line,
                terminal_safe(&r.reason, 300)
            )?;
            shown += 1;
        }
    }
    if s.rejected_count > shown as u64 {
        writeln!(
            out,
            "    ... {} more (all listed with --format json)",
            int(s.rejected_count - shown as u64)
        )?;
    }
    Ok(())
}

/// `spanlens inspect` as tables.
pub fn inspect_table(s: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
    for i in &s.inputs {
        let comp = i.compression.map(|c| format!(", {c}")).unwrap_or_default();
        writeln!(
            out,
            "== {} ({}{comp}, {})",
            terminal_safe(&i.path, 300),
            i.format,
            bytes(i.bytes)
        )?;
        writeln!(
            out,
            "records {}  spans {} (llm {})  evals {}  rejected {}  duplicates {}",
            int(i.records),
            int(i.spans),
            int(i.llm_spans),
            int(i.evals),
            int(i.rejected_count),
            int(i.duplicates)
        )?;
        if !i.conventions.is_empty() {
            let c: Vec<String> = i
                .conventions
                .iter()
                .map(|(c, n)| format!("{c} {}", int(*n)))
                .collect();
            writeln!(out, "conventions (spans): {}", c.join(", "))?;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "field (LLM spans)",
            "coverage",
            "present",
            "from (alias: spans)",
        ]);
        for c in &i.coverage {
            let from: Vec<String> = c
                .sources
                .iter()
                .map(|(a, n)| format!("{a}: {}", int(*n)))
                .collect();
            t.add_row(vec![
                c.field.to_string(),
                pct(c.share),
                format!("{}/{}", int(c.present), int(c.llm_spans)),
                if from.is_empty() {
                    "-".into()
                } else {
                    from.join(", ")
                },
            ]);
        }
        writeln!(out, "{t}")?;
        if !i.unclaimed_attributes.is_empty() {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(vec![
                format!(
                    "attribute no alias claimed ({} distinct)",
                    i.unclaimed_distinct
                ),
                "spans".into(),
            ]);
            for (k, n) in &i.unclaimed_attributes {
                t.add_row(vec![terminal_safe(k, 120), int(*n)]);
            }
            writeln!(out, "{t}")?;
        }
        if !i.suggested_fields.is_empty() {
            writeln!(
                out,
                "these attributes look like fields most LLM spans here lack; to read them, add to spanlens.toml:"
            )?;
            writeln!(out, "  [fields]")?;
            for line in &i.suggested_fields {
                // plain ASCII (see summary::suggest_fields), never cut
                writeln!(out, "  {line}")?;
            }
        }
        let mut notes: Vec<String> = i.notes.clone();
        if i.content_attributes_dropped > 0 {
            notes.push(format!(
                "{} prompt/completion text attribute value(s) not kept (use --include-text to keep them)",
                int(i.content_attributes_dropped)
            ));
        }
        if i.exclusive_input_normalized > 0 {
            notes.push(format!(
                "{} span(s) reported input tokens excluding cache; cache tokens were added (input is inclusive)",
                int(i.exclusive_input_normalized)
            ));
        }
        if i.rolled_up_usage_cleared > 0 {
            notes.push(format!(
                "{} wrapper span(s) repeated the token counts or cost of the model calls below them; \
                 not counted again",
                int(i.rolled_up_usage_cleared)
            ));
        }
        if i.coerced_values > 0 {
            notes.push(format!(
                "{} numeric value(s) read from text",
                int(i.coerced_values)
            ));
        }
        for (f, n) in &i.invalid_values {
            notes.push(format!("{} invalid {f} value(s) left empty", int(*n)));
        }
        if i.nonstandard_ids > 0 {
            notes.push(format!(
                "{} span(s) with non-OTLP ids kept as given",
                int(i.nonstandard_ids)
            ));
        }
        if i.timestamps_in_future > 0 {
            notes.push(format!(
                "{} span(s) start more than a day in the future",
                int(i.timestamps_in_future)
            ));
        }
        for n in notes {
            writeln!(out, "note: {n}")?;
        }
        for r in i.rejected.iter().take(20) {
            writeln!(
                out,
                "rejected {}:{}: {}",
                terminal_safe(&i.path, 200),
                r.line,
                terminal_safe(&r.reason, 300)
            )?;
        }
        if i.rejected_count > 20 {
            writeln!(
                out,
                "rejected ... {} more (all in --format json)",
                int(i.rejected_count - 20)
            )?;
        }
        writeln!(out)?;
    }
    for (path, why) in &s.skipped_files {
        writeln!(out, "skipped {}: {why}", terminal_safe(path, 200))?;
    }
    Ok(())
}

fn rejected_list(s: &RunSummary) -> Vec<serde_json::Value> {
    s.inputs
        .iter()
        .flat_map(|i| {
            i.rejected.iter().map(
                move |r| serde_json::json!({"file": i.path, "line": r.line, "reason": r.reason}),
            )
        })
        .collect()
}

/// `ingest --format json`: `{input: {..., rejected: [...]}, output: [...]}`.
pub fn ingest_json(
    s: &RunSummary,
    written: &[(std::path::PathBuf, usize)],
    lake: Option<&crate::cmd::ingest::LakeChange>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut input = serde_json::to_value(s).map_err(io::Error::other)?;
    input["rejected"] = serde_json::Value::Array(rejected_list(s));
    let output: Vec<serde_json::Value> = written
        .iter()
        .map(|(p, n)| serde_json::json!({"path": p.display().to_string(), "rows": n}))
        .collect();
    let mut doc = serde_json::json!({
        "schema_version": super::render::SCHEMA_VERSION,
        "input": input,
        "output": output,
    });
    if let Some(l) = lake {
        doc["lake"] = serde_json::to_value(l).map_err(io::Error::other)?;
    }
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

pub fn inspect_json(s: &RunSummary, out: &mut dyn Write) -> io::Result<()> {
    let mut v = serde_json::to_value(s).map_err(io::Error::other)?;
    v["rejected"] = serde_json::Value::Array(rejected_list(s));
    v["schema_version"] = super::render::SCHEMA_VERSION.into();
    serde_json::to_writer_pretty(&mut *out, &v).map_err(io::Error::from)?;
    writeln!(out)
}
