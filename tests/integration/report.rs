//! Issue 5 (`spanlens report`): docs/cli.md's cron example works as written and
//! is byte-identical when run twice, a golden report of the bundled
//! example, hostile attribute values cannot create Markdown structure, and
//! the out-dir lock.

use std::io::Write;
use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag};

use crate::common::{assert_inert_markdown, root, run, stderr, walk};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().display().to_string();
        out.push((rel, std::fs::read(&e).unwrap()));
    }
    out.sort();
    out
}

/// docs/cli.md's nightly cron example, in `dir`.
fn cron(dir: &Path) -> std::process::Output {
    std::fs::write(
        dir.join("slo.toml"),
        "[[objective]]\nname = \"availability\"\nsli = \"availability\"\ntarget = 0.999\n",
    )
    .unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let config = root().join("fixtures/example/spanlens.toml");
    crate::common::bin()
        .current_dir(dir)
        .args([
            "--config",
            config.to_str().unwrap(),
            "report",
            input.to_str().unwrap(),
            "--current",
            "1d",
            "--baseline",
            "7d",
            "--objectives",
            "slo.toml",
            "-o",
            "reports/2026-01-09.md",
            "--out-dir",
            "reports/2026-01-09/",
            "--fail-on",
            "breach,regression",
            "--quiet",
        ])
        .output()
        .unwrap()
}

#[test]
fn cron_example_works_and_is_byte_identical() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (oa, ob) = (cron(a.path()), cron(b.path()));
    assert_eq!(oa.status.code(), ob.status.code());
    // the availability objective (99.9%) is breached on the example: exit 1, nothing on stderr (--quiet)
    assert_eq!(oa.status.code(), Some(1), "{}", stderr(&oa));
    assert!(oa.stderr.is_empty(), "{}", stderr(&oa));
    assert!(oa.stdout.is_empty());
    let (fa, fb) = (
        files(&a.path().join("reports")),
        files(&b.path().join("reports")),
    );
    let names: Vec<&str> = fa.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "2026-01-09.md",
        "2026-01-09/summary.json",
        "2026-01-09/slo-cohorts.parquet",
        "2026-01-09/slo-objectives.parquet",
        "2026-01-09/cost-cost.parquet",
        "2026-01-09/drift-drift.parquet",
        "2026-01-09/compare-compare.parquet",
        "2026-01-09/anomalies-anomalies.parquet",
        "2026-01-09/spend-daily.svg",
        "2026-01-09/latency-p95-daily.svg",
        "2026-01-09/pass-rate-by-version.svg",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".tmp") || n.contains(".lock")),
        "{names:?}"
    );
    assert_eq!(fa.len(), fb.len());
    for ((na, ba), (nb, bb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between two runs");
    }
    let md = String::from_utf8(
        fa.iter()
            .find(|(n, _)| n == "2026-01-09.md")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(md.starts_with("**spanlens report: "), "verdict line first");
    // every chart is linked relative to the report and is there
    let charts = images(&md);
    assert_eq!(charts.len(), 3, "{charts:?}");
    for c in &charts {
        assert!(c.starts_with("2026-01-09/") && c.ends_with(".svg"), "{c}");
        let svg = &fa.iter().find(|(n, _)| n == c).expect(c).1;
        assert!(
            svg.starts_with(b"<svg") && svg.ends_with(b"</svg>\n"),
            "{c}"
        );
    }
    insta::assert_snapshot!("nightly_example_markdown", md);
    let summary: serde_json::Value = serde_json::from_slice(
        &fa.iter()
            .find(|(n, _)| n == "2026-01-09/summary.json")
            .unwrap()
            .1,
    )
    .unwrap();
    assert!(summary["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "breach"));
}

/// The images a Markdown document shows (its chart links).
fn images(md: &str) -> Vec<String> {
    Parser::new_ext(md, Options::ENABLE_TABLES)
        .filter_map(|ev| match ev {
            Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// Span data created no Markdown structure (common::assert_inert_markdown);
/// the only images are the report's own charts.
fn assert_inert(md: &str, marker: &str) {
    let (tables, _) = assert_inert_markdown(md, marker, |url| {
        url.starts_with("r-charts/") && url.ends_with(".svg")
    });
    assert!(tables > 5, "{tables} tables");
}

#[test]
fn hostile_values_do_not_create_markdown_structure() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    let hostile = [
        "/a|b|c",
        "<script>alert(1)</script>",
        "[click](https://evil.example)",
        "![img](https://evil.example/x.png)",
        "`code` *em* _u_",
        "`EVIL code` *EVIL em* _EVIL u_ ~~EVIL s~~ **EVIL strong**",
        "line\n# EVIL heading\n| x | y |",
        "\n# EVIL heading first",
        "    EVIL indented",
        "\r> EVIL quote",
        "=HYPERLINK(\"https://evil.example\")",
        "\u{1b}[31mred",
    ];
    let mut id = 0;
    for (i, route) in hostile.iter().enumerate() {
        for k in 0..40 {
            id += 1;
            let t = 1_767_225_600 + k * 3600 * 4 + i as i64;
            let line = serde_json::json!({
                "trace_id": format!("{id:032x}"),
                "span_id": format!("{id:016x}"),
                "name": "chat",
                "start_time": t,
                "end_time": t + 1,
                "status": {"code": if k % 7 == 0 { "ERROR" } else { "OK" }},
                "attributes": {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": format!("gpt-4o|{route}"),
                    "http.route": route,
                    "traceloop.prompt.version": if k < 20 { format!("v1 {route}") } else { format!("v2 {route}") },
                    "gen_ai.usage.input_tokens": 100 + k,
                    "gen_ai.usage.output_tokens": 10 + k,
                    "error.type": format!("EVIL <b>{route}</b>"),
                }
            });
            writeln!(f, "{line}").unwrap();
        }
    }
    drop(f);
    let out = dir.path().join("r.md");
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "--current",
        "3d",
        "--baseline",
        "4d",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(md.contains("&lt;script>"), "escaped HTML is shown as text");
    assert_inert(&md, "EVIL");
    // the charts name the hostile cohorts as text only
    let charts = images(&md);
    assert!(!charts.is_empty(), "{charts:?}");
    for c in charts {
        let svg = std::fs::read_to_string(dir.path().join(&c)).unwrap();
        assert!(!svg.contains("<script") && !svg.contains("<b>"), "{c}");
        assert!(!svg.contains('\u{1b}'), "{c}: a control character");
        assert!(svg.contains("&lt;script&gt;"), "{c}");
    }
}

#[test]
fn out_dir_lock() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nightly");
    std::fs::create_dir_all(&out).unwrap();
    let lock = out.join(".spanlens.lock");
    let input = root().join("fixtures/tiny/cost.jsonl");
    let args = |o: &Path| -> Vec<String> {
        vec![
            "report".into(),
            input.display().to_string(),
            "--current".into(),
            "30d".into(),
            "--out-dir".into(),
            o.display().to_string(),
            "-q".into(),
        ]
    };
    // a live holder (this test process holds the kernel lock): refused, exit 4
    let held = spanlens::output::DirLock::acquire(&out).unwrap();
    let a = args(&out);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("another spanlens run (pid"),
        "{}",
        stderr(&o)
    );
    drop(held);
    assert!(!out.join("summary.json").exists());
    // a stale lock (no such process) is taken over, and removed after
    std::fs::write(&lock, "4000000000\n").unwrap();
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("summary.json").exists());
    assert!(!lock.exists());
}

/// Issue 20: the report's drift and compare tables list the rows that need
/// attention; quiet verdicts (57 insufficient drift rows, 34 pass and 15
/// inconclusive comparisons on the example) are counted under the table,
/// and `--all` lists them.
#[test]
fn quiet_rows_are_counted_and_all_lists_them() {
    let config = root().join("fixtures/example/spanlens.toml");
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "report",
        input.to_str().unwrap(),
        "--current",
        "1d",
        "--baseline",
        "7d",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(
        md.contains("57 row(s) not listed (57 insufficient); --all lists them"),
        "{md}"
    );
    assert!(md.contains("(15 inconclusive, 34 pass)"), "{md}");
    assert!(!md.contains("| insufficient |"), "{md}");
    let mut all = args.to_vec();
    all.push("--all");
    let o = run(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = String::from_utf8(o.stdout).unwrap();
    assert_eq!(md.matches("| insufficient |").count(), 57, "{md}");
    assert!(!md.contains("not listed"), "{md}");
}

/// The report takes its drift, compare and anomaly settings from
/// spanlens.toml only: errors there name the file's key, not a flag it
/// does not have; and a configuration without drift fields gives an empty
/// drift section, not an error.
#[test]
fn settings_from_the_file_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let no_fields = write(
        "nodrift.toml",
        "[drift]\ndefault_fields = false\n[report]\nstale_after = \"off\"\n",
    );
    let o = run(&[
        "--config",
        no_fields.to_str().unwrap(),
        "report",
        example.to_str().unwrap(),
        "-q",
    ]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&o)
    );
    let bad = write("badm.toml", "[compare]\nmetrics = [\"latency_p59\"]\n");
    let o = run(&[
        "--config",
        bad.to_str().unwrap(),
        "report",
        example.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("spanlens.toml [compare] metrics: unknown metric `latency_p59`"),
        "{e}"
    );
    assert!(e.contains("did you mean `latency_p95`?"), "{e}");
}

/// The nightly job over a lake and tonight's export (`report LAKE
/// today.jsonl`): a trace that began before midnight has its root in the
/// lake and its model call in the export. The call takes the root's route
/// and tenant, as it does when the trace is read from one file; before,
/// it fell back to its own name.
#[test]
fn a_trace_across_midnight_keeps_its_route_over_a_lake_and_an_export() {
    use crate::common::{json_of, row, rows};
    let dir = tempfile::tempdir().unwrap();
    let root_span = r#"{"trace_id":"7f000000000000000000000000000001","span_id":"a000000000000001","parent_span_id":null,"name":"POST /refunds","kind":2,"start_time_unix_nano":1767311990000000000,"end_time_unix_nano":1767312030000000000,"status":{"code":"OK"},"attributes":{"http.route":"/refunds","tenant.id":"acme"}}"#;
    let call = r#"{"trace_id":"7f000000000000000000000000000001","span_id":"a000000000000002","parent_span_id":"a000000000000001","name":"chat gpt-4o","kind":3,"start_time_unix_nano":1767312001000000000,"end_time_unix_nano":1767312003000000000,"status":{"code":"OK"},"attributes":{"gen_ai.operation.name":"chat","gen_ai.provider.name":"openai","gen_ai.request.model":"gpt-4o","gen_ai.usage.input_tokens":100,"gen_ai.usage.output_tokens":10}}"#;
    // the root starts 2026-01-01T23:59:50Z, the call 2026-01-02T00:00:01Z
    let yesterday = dir.path().join("yesterday.jsonl");
    let today = dir.path().join("today.jsonl");
    std::fs::write(&yesterday, format!("{root_span}\n")).unwrap();
    std::fs::write(&today, format!("{call}\n")).unwrap();
    let lake = dir.path().join("lake");
    crate::common::ingest_ok(&yesterday, &lake, &["--partition", "day"]);
    let check = |inputs: &[&str]| {
        for by in ["route", "tenant"] {
            let mut args = vec!["slo"];
            args.extend(inputs);
            args.extend(["--by", by, "--current", "2026-01-02", "--format", "json"]);
            let v = json_of(&args);
            assert_eq!(rows(&v, "cohorts").len(), 1, "{inputs:?} {v}");
            let want = if by == "route" { "/refunds" } else { "acme" };
            assert_eq!(row(&v, "cohorts", by, want)["spans"], 1, "{inputs:?} {v}");
        }
    };
    check(&[lake.to_str().unwrap(), today.to_str().unwrap()]);
    crate::common::ingest_ok(&today, &lake, &["--partition", "day"]);
    check(&[lake.to_str().unwrap()]);
}

/// Issue 24: a chart or table in --out-dir is this run's; what an earlier
/// run wrote there and this one does not is removed, and nothing else is.
#[test]
fn an_earlier_runs_charts_do_not_outlive_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.svg"), "<svg/>").unwrap();
    std::fs::write(out.join("mine.parquet"), "not spanlens'").unwrap();
    let input = root().join("fixtures/example/export.otlp.jsonl.gz");
    let md = dir.path().join("r.md");
    let report = |extra: &[&str]| {
        let mut args = vec![
            "report",
            input.to_str().unwrap(),
            "--current",
            "1d",
            "--baseline",
            "7d",
            "-o",
            md.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--quiet",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".svg") || n.ends_with(".parquet"))
            .collect();
        names.sort();
        names
    };
    let first = report(&[]);
    assert!(first.contains(&"spend-daily.svg".to_string()), "{first:?}");
    let second = report(&["--no-charts"]);
    assert!(
        !second
            .iter()
            .any(|n| n.ends_with(".svg") && n != "mine.svg"),
        "{second:?}"
    );
    assert!(second.contains(&"mine.svg".to_string()), "{second:?}");
    assert!(second.contains(&"mine.parquet".to_string()), "{second:?}");
    assert!(
        second.contains(&"slo-cohorts.parquet".to_string()),
        "{second:?}"
    );
    // and back: the charts return with the next run that draws them
    assert_eq!(report(&[]), first);
    // reports kept in --out-dir night after night are the person's: a
    // later run under another name leaves the earlier one
    for name in ["2026-01-08.md", "2026-01-09.md"] {
        let o = run(&[
            "report",
            input.to_str().unwrap(),
            "-o",
            out.join(name).to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    }
    assert!(out.join("2026-01-08.md").exists());
    assert!(out.join("2026-01-09.md").exists());
    assert!(out.join("spend-daily.svg").exists());
    // without --out-dir the charts go to REPORT-charts/, and --no-charts
    // clears what an earlier run drew there
    let md = dir.path().join("alone.md");
    let charts = dir.path().join("alone-charts");
    for extra in [&[][..], &["--no-charts"][..]] {
        let mut args = vec![
            "report",
            input.to_str().unwrap(),
            "-o",
            md.to_str().unwrap(),
            "-q",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let svgs = std::fs::read_dir(&charts)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "svg")
            })
            .count();
        assert_eq!(svgs == 0, !extra.is_empty(), "{extra:?}: {svgs} charts");
    }
}

/// A chart as a PNG, drawn by resvg with the machine's fonts (what a
/// browser does with the SVG).
fn png(svg: &str) -> resvg::tiny_skia::Pixmap {
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_system_fonts();
    // `sans-serif` as the machine has it (fontdb's default is Arial)
    let family = db
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .find(|name| name.contains("Sans"));
    if let Some(family) = family {
        db.set_sans_serif_family(family);
    }
    let tree = resvg::usvg::Tree::from_str(svg, &opt).expect("a valid SVG");
    let size = tree.size().to_int_size();
    let mut pix = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, Default::default(), &mut pix.as_mut());
    pix
}

/// Issue 24: every chart of a report renders to PNG (kept in
/// $SPANLENS_CHART_PNG when set, to look at), with its legend right of the
/// plot (a series' colour in the right-hand panel), dates with their year,
/// axis titles with units, `$` ticks on spend, the PSI in a drift's title,
/// and the pass rates as horizontal bars with their Wilson intervals.
#[test]
fn charts_render_to_png() {
    let dir = tempfile::tempdir().unwrap();
    let planted = crate::common::planted(dir.path());
    let example = root().join("fixtures/example/export.otlp.jsonl.gz");
    let keep = std::env::var_os("SPANLENS_CHART_PNG").map(std::path::PathBuf::from);
    let mut seen = Vec::new();
    for (name, input) in [
        ("planted", planted.as_path()),
        ("example", example.as_path()),
    ] {
        let md = dir.path().join(format!("{name}.md"));
        let o = run(&[
            "report",
            input.to_str().unwrap(),
            "--by",
            "route",
            "-o",
            md.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let charts = walk(&dir.path().join(format!("{name}-charts")));
        for svg_path in charts
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        {
            let svg = std::fs::read_to_string(svg_path).unwrap();
            let pix = png(&svg);
            let file = svg_path.file_stem().unwrap().to_string_lossy().into_owned();
            if let Some(k) = &keep {
                std::fs::create_dir_all(k).unwrap();
                pix.save_png(k.join(format!("{name}-{file}.png"))).unwrap();
            }
            // the legend panel (the right 200 px) holds a series' colour
            let (w, h) = (pix.width(), pix.height());
            let coloured = (w - 190..w)
                .flat_map(|x| (0..h).map(move |y| (x, y)))
                .filter_map(|(x, y)| pix.pixel(x, y))
                .any(|p| p.red() != p.green() || p.green() != p.blue());
            assert!(coloured, "{file}: no legend right of the plot");
            seen.push((file, svg));
        }
    }
    let get = |stem: &str| {
        seen.iter()
            .find(|(f, _)| f.starts_with(stem))
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("no chart {stem}"))
    };
    let spend = get("spend-daily");
    assert!(
        spend.contains("2026-01-08") && spend.contains("day (UTC)"),
        "{spend}"
    );
    assert!(
        spend.contains("spend (USD per day)") && spend.contains(">\n$"),
        "{spend}"
    );
    let drift = get("drift-");
    assert!(
        drift.contains("(PSI ") && drift.contains("bins of values"),
        "{drift}"
    );
    let pass = get("pass-rate-by-version");
    assert!(
        pass.contains("(newest)") && pass.contains("95% interval"),
        "{pass}"
    );
}

/// The report resolves prices once, over every span up to its end, for
/// the sections after cost (issue 23); each section then prices its spans
/// as the command run alone does. The export makes the shared resolution
/// wider than any section's own: gemini-2.5-pro's long-context tier
/// (above 200k input tokens) first appears two days before the baseline,
/// where only the compare section's window reaches, and gpt-4o (one rate
/// at every prompt size) runs prompts on both sides of 200k.
#[test]
fn every_section_prices_spans_as_its_command_alone() {
    use crate::common::{rows, same, DAY_NS, T0};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tiers.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let mut id = 0u64;
    let mut span =
        |f: &mut dyn Write, route: &str, model: &str, version: &str, t: i64, inp: i64| {
            id += 1;
            let ms = 200 + (id * 37 % 900) as i64;
            let line = serde_json::json!({
                "trace_id": format!("{id:032x}"),
                "span_id": format!("{id:016x}"),
                "name": format!("chat {model}"),
                "start_time": crate::common::rfc3339(t),
                "end_time": crate::common::rfc3339(t + ms * 1_000_000),
                "status": {"code": if id.is_multiple_of(11) { "ERROR" } else { "OK" }},
                "attributes": {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": model,
                    "http.route": route,
                    "traceloop.prompt.version": version,
                    "gen_ai.usage.input_tokens": inp + (id % 7) as i64 * 1000,
                    "gen_ai.usage.output_tokens": 500 + (id % 13) as i64 * 40,
                }
            });
            writeln!(f, "{line}").unwrap();
        };
    // only the shared resolution and compare's window see these
    for i in 0..6 {
        span(
            &mut f,
            "/a",
            "gpt-5.4",
            "v0",
            T0 - 2 * DAY_NS + i * 60_000_000_000,
            300_000,
        );
    }
    for (version, start, days) in [("v1", T0, 7), ("v2", T0 + 7 * DAY_NS, 1)] {
        for i in 0..60i64 {
            let t = start + i * (days * DAY_NS / 60);
            let big = if i % 2 == 0 { 150_000 } else { 250_000 };
            span(&mut f, "/a", "gpt-4o", version, t, big);
            span(
                &mut f,
                "/b",
                "gemini-2.5-pro",
                version,
                t + 1_000_000_000,
                big + 30_000,
            );
        }
    }
    f.flush().unwrap();
    drop(f);
    let input = input.to_str().unwrap();
    let windows = [
        "--by",
        "route",
        "--baseline",
        "2026-01-01..2026-01-08",
        "--current",
        "2026-01-08..2026-01-09",
    ];
    // a cost objective: the slo section prices traces too
    let slo = dir.path().join("slo.toml");
    std::fs::write(
        &slo,
        "[[objective]]\nname = \"cheap\"\nsli = \"cost\"\nmax_usd = 0.5\ntarget = 0.9\n",
    )
    .unwrap();
    let slo = slo.to_str().unwrap();
    let out = crate::common::bin()
        .env("SPANLENS_TIMINGS", "queries")
        .args([&["-q", "report", input, "--format", "json"], &windows[..]].concat())
        .args(["--objectives", slo])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resolutions = stderr(&out).matches("query cost_models ").count();
    assert_eq!(resolutions, 2, "one shared, one the cost section's");
    for (section, alone) in [
        ("drift", vec!["drift"]),
        ("anomalies", vec!["anomalies"]),
        ("slo", vec!["slo"]),
        (
            "compare",
            vec![
                "compare",
                "--candidate",
                "latest:prompt_version",
                "--until",
                "2026-01-09",
            ],
        ),
    ] {
        let mut args = vec!["-q"];
        args.extend(&alone);
        args.extend([input, "--format", "json"]);
        if section != "compare" {
            args.extend(windows);
        } else {
            args.extend(&windows[..2]);
        }
        if section == "slo" {
            args.extend(["--objectives", slo]);
        }
        let out = run(&args);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            stderr(&out)
        );
        let want: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let got = &report["sections"][section];
        same(&got["tables"], &want["tables"], section);
        same(&got["findings"], &want["findings"], section);
    }
    // what the equality is about: spans priced on both sides of the tier
    let drift = &report["sections"]["drift"];
    let cost = rows(drift, "drift")
        .iter()
        .filter(|r| r["field"] == "cost_usd")
        .count();
    assert_eq!(cost, 2, "a cost_usd drift row per route");
    let compare = &report["sections"]["compare"];
    let priced: Vec<&serde_json::Value> = rows(compare, "compare")
        .iter()
        .filter(|r| r["metric"].as_str().is_some_and(|m| m.starts_with("cost")))
        .collect();
    assert!(!priced.is_empty(), "{compare}");
    assert!(priced.iter().all(|r| r["baseline"].as_f64().unwrap() > 0.0));
    let cheap = &rows(&report["sections"]["slo"], "objectives")[0];
    assert_eq!(cheap["objective"], "cheap");
    assert!(cheap["valid"].as_u64().unwrap() > 0, "{cheap}");
}
