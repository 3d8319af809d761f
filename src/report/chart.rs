//! Charts of the nightly report as SVG (plotters' SVG backend; no font
//! files, text is left to the viewer). Only formats: the data comes from the
//! sections ([`Chart`]).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Chart, ChartKind};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 440;
/// Characters of a label or series name kept (span data can be long).
const LABEL: usize = 32;
/// Bar groups beyond this many get their labels turned upright.
const FLAT_LABELS: usize = 8;

/// Whether a label keeps `c`: control characters (terminal escapes, and
/// invalid in XML 1.0) and U+FFFE / U+FFFF (not XML characters either) go.
fn keep(c: &char) -> bool {
    !c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// A label fit for a chart: what [`keep`] drops dropped, cut to [`LABEL`]
/// characters. Plotters escapes `<>&"`.
fn label(s: &str) -> String {
    let mut out: String = s.chars().filter(keep).take(LABEL).collect();
    if s.chars().filter(keep).nth(LABEL).is_some() {
        out.push('…');
    }
    out
}

fn color(i: usize) -> RGBColor {
    // a colour-blind safe palette (Okabe-Ito), then repeats
    const C: [(u8, u8, u8); 8] = [
        (0, 114, 178),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
        (86, 180, 233),
        (213, 94, 0),
        (240, 228, 66),
        (0, 0, 0),
    ];
    let (r, g, b) = C[i % C.len()];
    RGBColor(r, g, b)
}

/// The chart as one SVG document.
pub fn svg(c: &Chart) -> Result<String, String> {
    let mut buf = String::new();
    draw(c, &mut buf).map_err(|e| format!("chart {}: {e}", c.file))?;
    Ok(buf)
}

fn draw(c: &Chart, buf: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let n = c.x.len().max(1);
    let top = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, &b| if b.is_finite() { a.max(b) } else { a });
    let y_max = if top > 0.0 { top * 1.12 } else { 1.0 };
    let upright = c.kind == ChartKind::Bars && n > FLAT_LABELS;
    let names: Vec<String> = c.x.iter().map(|x| label(x)).collect();
    let fmt = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    let root = SVGBackend::with_string(buf, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(label_long(&c.title), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(if upright { 150 } else { 36 })
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max)?;
    let none = |_: &f64| String::new();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(n + 1)
        .x_label_formatter(if upright { &none } else { &fmt })
        .x_label_style(("sans-serif", 11))
        .y_desc(c.y_label.as_str())
        .y_label_formatter(&|y| short(*y))
        .draw()?;
    if upright {
        // turned labels start under their bar and run down
        let style = ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90)
            .into_text_style(&root)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, name) in names.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, 0.0));
            root.draw(&Text::new(name.clone(), (px, py + 8), style.clone()))?;
        }
    }
    let m = c.series.len().max(1) as f64;
    for (j, s) in c.series.iter().enumerate() {
        let col = color(j);
        match c.kind {
            ChartKind::Lines => {
                // a line through each run of consecutive values
                let mut run: Vec<(f64, f64)> = Vec::new();
                let mut runs = Vec::new();
                for (i, v) in s.values.iter().enumerate() {
                    match v {
                        Some(v) if v.is_finite() => run.push((i as f64, *v)),
                        _ => runs.push(std::mem::take(&mut run)),
                    }
                }
                runs.push(run);
                let points: Vec<(f64, f64)> = runs.iter().flatten().copied().collect();
                chart
                    .draw_series(points.iter().map(|p| Circle::new(*p, 3, col.filled())))?
                    .label(label(&s.name))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col));
                for r in runs.into_iter().filter(|r| r.len() > 1) {
                    chart.draw_series(LineSeries::new(r, col.stroke_width(2)))?;
                }
            }
            ChartKind::Bars => {
                let w = 0.8 / m;
                let bars = s.values.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v).filter(|v| v.is_finite())?;
                    let x0 = i as f64 - 0.4 + j as f64 * w;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + w * 0.92, v)],
                        col.filled(),
                    ))
                });
                chart
                    .draw_series(bars)?
                    .label(label(&s.name))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], col.filled())
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

/// A title: as [`label`] with room for a cohort and a field.
fn label_long(s: &str) -> String {
    let t: String = s.chars().filter(keep).take(3 * LABEL).collect();
    if t.chars().count() < s.chars().filter(keep).count() {
        format!("{t}…")
    } else {
        t
    }
}

/// An axis value: `1.2k`, `0.035`, `250`.
fn short(y: f64) -> String {
    let a = y.abs();
    if a >= 1e6 {
        format!("{:.1}M", y / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", y / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{y:.0}")
    } else if a >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Series;

    fn chart(kind: ChartKind, name: &str) -> Chart {
        Chart {
            file: "t".into(),
            title: format!("route={name}: output_tokens"),
            y_label: "% of values".into(),
            kind,
            x: vec!["0 .. 10".into(), name.into(), "20 ..".into()],
            series: vec![
                Series {
                    name: name.into(),
                    values: vec![Some(10.0), None, Some(30.0)],
                },
                Series {
                    name: "current".into(),
                    values: vec![Some(20.0), Some(50.0), Some(30.0)],
                },
            ],
        }
    }

    #[test]
    fn hostile_labels_are_escaped_and_control_characters_dropped() {
        let evil = "<script>alert(1)</script>\u{1b}[31m&\"x\"\u{FFFE}\u{FFFF}";
        for kind in [ChartKind::Lines, ChartKind::Bars] {
            let s = svg(&chart(kind, evil)).unwrap();
            assert!(s.starts_with("<svg"), "{}", &s[..40]);
            assert!(!s.contains("<script"), "raw tag in {s}");
            assert!(!s.contains('\u{1b}'));
            // U+FFFE / U+FFFF are not XML characters (issue 19)
            assert!(!s.contains(['\u{FFFE}', '\u{FFFF}']));
            assert!(s.contains("&lt;script&gt;"));
            // a well-formed document: one root element, closed
            assert_eq!(s.matches("<svg").count(), 1);
            assert!(s.trim_end().ends_with("</svg>"));
        }
    }

    #[test]
    fn lines_break_at_missing_values_and_bars_skip_them() {
        let lines = svg(&chart(ChartKind::Lines, "a")).unwrap();
        // series "a" has 2 points (no line: they are not adjacent), series
        // "current" 3 points and one 3-point line
        assert_eq!(lines.matches("<circle").count(), 5);
        assert_eq!(lines.matches(r#"stroke-width="2""#).count(), 1);
        let bars = svg(&chart(ChartKind::Bars, "a")).unwrap();
        // 2 + 3 bars, plus the background and two legend swatches
        let rects = bars.matches("<rect").count();
        assert!((5..=10).contains(&rects), "{rects} rects");
        // same data, same bytes
        assert_eq!(bars, svg(&chart(ChartKind::Bars, "a")).unwrap());
    }

    #[test]
    fn labels_are_cut() {
        assert_eq!(label(&"x".repeat(40)).chars().count(), LABEL + 1);
        assert_eq!(label("a\nb"), "ab");
        assert_eq!(short(1234.0), "1234");
        assert_eq!(short(12345.0), "12k");
        assert_eq!(short(0.0123), "0.012");
    }
}
