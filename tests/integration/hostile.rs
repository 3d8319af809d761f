//! Issue 7, reliability.md promise 5: attribute values carrying table
//! pipes, Markdown, HTML, spreadsheet formulas, terminal escape sequences
//! and newlines cannot change what a report shows, in any format. Each
//! format is snapshotted, and the property is asserted directly: no ESC or
//! other control character reaches a terminal table or a CSV, no CSV text
//! cell starts a formula, no Markdown structure comes from span data, JSON and
//! Parquet carry the raw values unchanged.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::common::{assert_inert_markdown, parquet_rows, run, stderr};

/// The hostile values, one cohort each.
const HOSTILE: &[&str] = &[
    "/a|b|c",
    "<script>alert(1)</script>",
    "[click](https://evil.example)",
    "`code` *em* _u_",
    "line\n# EVIL heading\n| x | y |",
    "=HYPERLINK(\"https://evil.example\",\"x\")",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\u{1b}[31mred\u{1b}[0m\u{7}\u{1b}]8;;https://evil.example\u{7}link",
];

fn hostile_input(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("hostile.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    let mut id = 0;
    for (i, route) in HOSTILE.iter().enumerate() {
        for k in 0..3 {
            id += 1;
            let t = 1_767_225_600 + k * 60 + i as i64;
            let line = serde_json::json!({
                "trace_id": format!("{id:032x}"),
                "span_id": format!("{id:016x}"),
                "name": "chat",
                "start_time": t,
                "end_time": t + 1 + k,
                "status": {"code": "OK"},
                "attributes": {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "http.route": route,
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 10,
                }
            });
            writeln!(f, "{line}").unwrap();
        }
    }
    input
}

fn output(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn issue7_hostile_values_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_input(dir.path());
    let input = input.to_str().unwrap();
    let base = [
        "slo",
        input,
        "--by",
        "route",
        "--current",
        "2026-01-01..2026-01-02",
    ];
    let with = |fmt: &str| -> String {
        let mut a = base.to_vec();
        a.extend(["--format", fmt]);
        output(&a)
    };

    // terminal table: no control character but the line ends
    let table = with("table");
    for c in table.chars() {
        assert!(c == '\n' || !c.is_control(), "control {c:?} in the table");
    }
    assert!(
        table.contains("[31mred"),
        "the escape's text is shown, inert"
    );
    insta::assert_snapshot!("hostile_table", table);

    // CSV: every text cell that a spreadsheet would run is neutralised
    let csv_text = with("csv");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let route = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "route")
        .unwrap();
    let mut routes = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        for cell in rec.iter() {
            assert!(
                !cell.chars().any(|c| c.is_control() && c != '\n'),
                "a control character in {cell:?}"
            );
            if cell.parse::<f64>().is_err() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a formula cell: {cell:?}"
                );
            }
        }
        routes.push(rec[route].to_string());
    }
    for h in HOSTILE
        .iter()
        .filter(|h| h.starts_with(['=', '+', '-', '@']))
    {
        assert!(routes.contains(&format!("'{h}")), "{h} not kept as text");
    }
    insta::assert_snapshot!("hostile_csv", csv_text);

    // Markdown: one table, every row with its header's cells, no link,
    // HTML or heading from span data
    let md = with("markdown");
    let (_, rows) = assert_inert_markdown(&md, "EVIL", |_| false);
    assert!(rows >= HOSTILE.len(), "{rows} rows");
    assert!(!md.contains('\u{1b}'), "an escape in Markdown");
    insta::assert_snapshot!("hostile_markdown", md);

    // JSON: the raw values, exactly
    let json: Value = serde_json::from_str(&with("json")).unwrap();
    let mut got: Vec<String> = json["tables"]["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);

    // Parquet: the raw values too
    let pq = dir.path().join("slo.parquet");
    let mut a = base.to_vec();
    a.extend(["--format", "parquet", "-o", pq.to_str().unwrap()]);
    output(&a);
    let mut got: Vec<String> = parquet_rows(&pq)
        .iter()
        .map(|r| r["route"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
}
