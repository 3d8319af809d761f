//! Issue 7, docs/reliability.md promise 5: attribute values carrying table
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
    "$EVIL^2$ math",
    "mail EVIL@evil.example",
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

/// Issue 19: the error line of `--strict` quotes the rejected record's file
/// name and reason: neither may carry a raw escape sequence to the terminal.
#[test]
fn issue19_strict_error_lines_carry_no_terminal_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "\u{1b}]8;;https:evil.example\u{7}x\u{1b}[31m";
    let input = dir.path().join(format!("in{evil}.jsonl"));
    std::fs::write(
        &input,
        format!("{{\"trace_id\": \"{evil}\", \"span_id\": 5}}\n\"{evil}\"\n"),
    )
    .unwrap();
    for flags in [vec!["--strict"], vec!["--max-bad", "0"]] {
        let mut a = vec!["slo", input.to_str().unwrap()];
        a.extend(flags.iter().copied());
        let o = run(&a);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.starts_with("spanlens: error: "), "{err}");
        assert!(
            !err.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the terminal: {err:?}"
        );
    }
}

/// Issue 19: outputs are created as any Unix tool creates them (0666 less
/// the umask), and a replaced file keeps its mode: a cron report must stay
/// readable by the user who serves it.
#[cfg(unix)]
#[test]
fn issue19_outputs_take_the_umask_and_keep_an_existing_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_input(dir.path());
    let out = dir.path().join("r.json");
    let exe = env!("CARGO_BIN_EXE_spanlens");
    let run_with_umask = |umask: &str| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" slo \"$1\" --format json -o \"$2\" --stale-after off -q"
            ))
            .arg(exe)
            .arg(&input)
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(run_with_umask("022"), 0o644);
    std::fs::remove_file(&out).unwrap();
    assert_eq!(run_with_umask("027"), 0o640);
    // replacing keeps the file's own mode, whatever the umask
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o664)).unwrap();
    assert_eq!(run_with_umask("077"), 0o664);
}

/// Issue 19: `-o` is refused when it resolves to anything the run reads:
/// a file a glob or a directory expands to, the evaluations beside a spans
/// file, the configuration, a price table, an objectives file, the SQL.
#[test]
fn issue19_an_output_is_never_a_file_the_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("g");
    std::fs::create_dir(&g).unwrap();
    let input = hostile_input(&g);
    let original = std::fs::read(&input).unwrap();
    let glob = format!("{}/*.jsonl", g.display());
    let prices = dir.path().join("prices.json");
    let table = r#"{"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}"#;
    std::fs::write(&prices, table).unwrap();
    let sql = dir.path().join("q.sql");
    std::fs::write(&sql, "SELECT COUNT(trace_id) AS n FROM spans").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let i = input.to_str().unwrap();
    for args in [
        vec!["slo", glob.as_str(), "-o", i, "--format", "csv"],
        vec!["slo", g.to_str().unwrap(), "-o", i],
        vec!["slo", i, "-o", link.to_str().unwrap()],
        vec![
            "cost",
            i,
            "--prices",
            prices.to_str().unwrap(),
            "-o",
            prices.to_str().unwrap(),
        ],
        vec![
            "query",
            sql.to_str().unwrap(),
            i,
            "-o",
            sql.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is a file this run reads"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), original);
    assert_eq!(std::fs::read_to_string(&prices).unwrap(), table);
}

/// Issue 19: `-o` through a symlink replaces the link's target and keeps
/// the link; a device is written through, never replaced.
#[cfg(unix)]
#[test]
fn issue19_outputs_follow_links_and_write_through_devices() {
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_input(dir.path());
    let target = dir.path().join("real.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("latest.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let i = input.to_str().unwrap();
    let o = run(&[
        "slo",
        i,
        "--format",
        "json",
        "-o",
        link.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let v: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(v["command"], "slo");
    // /dev/null stays a device
    let o = run(&["slo", i, "--format", "json", "-o", "/dev/null", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// Issue 19: `-o od/summary.json --out-dir od` silently replaced the
/// report with summary.json; an --out-dir inside an input directory made
/// the next run read its own tables.
#[test]
fn issue19_out_dir_collisions_are_refused_and_its_tables_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let input = hostile_input(&data);
    let od = data.join("out");
    let od_s = od.to_str().unwrap();
    let clash = od.join("summary.json");
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "-o",
        clash.to_str().unwrap(),
        "--out-dir",
        od_s,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("would be overwritten by --out-dir"),
        "{}",
        stderr(&o)
    );
    let report = od.join("report.md");
    let inputs_line = || {
        let o = run(&[
            "report",
            data.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
            "--out-dir",
            od_s,
            "--stale-after",
            "off",
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let md = std::fs::read_to_string(&report).unwrap();
        md.lines()
            .find(|l| l.starts_with("- inputs:"))
            .unwrap()
            .to_string()
    };
    let first = inputs_line();
    assert_eq!(
        inputs_line(),
        first,
        "the second run read the first one's tables"
    );
    assert!(first.contains("1 file"), "{first}");
}

/// Issue 19: two `-> .` links made the directory walk exponential; each
/// directory is read once.
#[cfg(unix)]
#[test]
fn issue19_symlink_loops_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_input(dir.path());
    let _ = input;
    std::os::unix::fs::symlink(".", dir.path().join("a")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("b")).unwrap();
    let t = std::time::Instant::now();
    let o = run(&[
        "slo",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "--stale-after",
        "off",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["meta"]["inputs"]
            .as_str()
            .unwrap()
            .starts_with("1 file(s)"),
        "{v}"
    );
}

/// Issue 19: a large `--top` built an OR of one term per kept cohort and
/// key (`--top 4000`: 449 s and 5.5 GB on 20k spans; `--top 10000`
/// overflowed the stack). The kept cohorts are one IN list now.
#[test]
fn issue19_a_large_top_is_linear() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for id in 0..20_000u64 {
        let t = 1_767_225_600 + (id % 80_000) as i64;
        let line = serde_json::json!({
            "trace_id": format!("{id:032x}"),
            "span_id": format!("{id:016x}"),
            "name": "chat",
            "start_time": t,
            "end_time": t + 1,
            "attributes": {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": format!("m{}", id % 3),
                "http.route": format!("/r{}", id % 12_000),
            }
        });
        writeln!(f, "{line}").unwrap();
    }
    drop(f);
    for (by, top) in [("route", "10000"), ("route,model", "4000")] {
        let t = std::time::Instant::now();
        let o = run(&[
            "slo",
            input.to_str().unwrap(),
            "--by",
            by,
            "--top",
            top,
            "--format",
            "json",
            "--stale-after",
            "off",
        ]);
        assert_eq!(o.status.code(), Some(0), "--top {top}: {}", stderr(&o));
        let secs = t.elapsed().as_secs_f64();
        assert!(secs < 30.0, "--by {by} --top {top} took {secs:.1} s");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = v["tables"]["cohorts"].as_array().unwrap();
        // the kept cohorts and one __other__
        assert_eq!(rows.len(), top.parse::<usize>().unwrap() + 1, "--by {by}");
        let spans: u64 = rows.iter().map(|r| r["spans"].as_u64().unwrap()).sum();
        assert_eq!(spans, 20_000);
    }
}

/// Review finding (issue 19): an --out-dir holding an input (a lake under
/// it) would be marked as spanlens' own and skipped as an input after.
#[test]
fn issue19_an_out_dir_holding_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let input = hostile_input(&data);
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a file this run reads"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join(".spanlens-report").exists());
}
