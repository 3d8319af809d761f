//! Charts of the nightly report as SVG (plotters' SVG backend; no font
//! files, text is left to the viewer). Only formats: the data comes from the
//! sections ([`Chart`]).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{Chart, ChartKind, Unit};

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

/// Width of the legend panel, right of the plot (a legend inside the plot
/// hid the last day's points).
const LEGEND: u32 = 200;
/// Room for one row of horizontal bars and its gap, per series.
const HBAR_ROW: u32 = 14;

type Draw = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A tall enough drawing for every row of horizontal bars.
fn height(c: &Chart) -> u32 {
    match c.kind {
        ChartKind::HBars => {
            let rows = c.x.len().max(1) as u32;
            let per = HBAR_ROW * c.series.len().max(1) as u32 + 10;
            HEIGHT.max(110 + rows * per)
        }
        _ => HEIGHT,
    }
}

/// The value axis' range: from zero, or (zoomed) from a little under the
/// smallest value or interval bound; for percentages never past 0..100.
fn value_range(c: &Chart) -> (f64, f64) {
    let points = c.series.iter().flat_map(|s| {
        let bounds = s.errors.iter().flatten().flat_map(|(l, h)| [*l, *h]);
        s.values.iter().flatten().copied().chain(bounds)
    });
    let finite: Vec<f64> = points.filter(|v| v.is_finite()).collect();
    let top = finite.iter().copied().fold(0.0f64, f64::max);
    if !c.zoom {
        return (0.0, if top > 0.0 { top * 1.12 } else { 1.0 });
    }
    let bottom = finite.iter().copied().fold(top, f64::min);
    let pad = ((top - bottom) * 0.1).max(1.0);
    let lo = ((bottom - pad).max(0.0) / 5.0).floor() * 5.0;
    let mut hi = top + pad;
    if c.y_unit == Unit::Share && top <= 100.0 {
        hi = hi.min(100.0);
    }
    (lo, hi.max(lo + 1.0))
}

/// A value axis tick in the chart's unit: `$0.12`, `85%`, `1.2k`.
fn tick(unit: Unit, y: f64) -> String {
    match unit {
        Unit::Usd => format!("${}", short(y)),
        Unit::Share => format!("{}%", short(y)),
        _ => short(y),
    }
}

fn draw(c: &Chart, buf: &mut String) -> Draw {
    let root = SVGBackend::with_string(buf, (WIDTH, height(c))).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&label_long(&c.title), ("sans-serif", 18))?;
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
    match c.kind {
        ChartKind::HBars => horizontal(c, &plot)?,
        _ => vertical(c, &plot)?,
    }
    draw_legend(c, &legend)?;
    root.present()?;
    Ok(())
}

/// Lines over days, or bars over bins; category labels under the axis
/// (turned upright when there are many bars).
fn vertical(c: &Chart, area: &Area<'_>) -> Draw {
    let n = c.x.len().max(1);
    let (lo, hi) = value_range(c);
    let upright = c.kind == ChartKind::Bars && n > FLAT_LABELS;
    let names: Vec<String> = c.x.iter().map(|x| label(x)).collect();
    let fmt = |x: &f64| category(&names, *x);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(if upright { 160 } else { 48 })
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
    let none = |_: &f64| String::new();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(n + 1)
        .x_label_formatter(if upright { &none } else { &fmt })
        .x_label_style(("sans-serif", 11))
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .y_label_formatter(&|y| tick(c.y_unit, *y))
        .draw()?;
    if upright {
        // turned labels start under their bar and run down
        let style = ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90)
            .into_text_style(area)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, name) in names.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, lo));
            area.draw(&Text::new(name.clone(), (px, py + 8), style.clone()))?;
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
                chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, col.filled())))?;
                for r in runs.into_iter().filter(|r| r.len() > 1) {
                    chart.draw_series(LineSeries::new(r, col.stroke_width(2)))?;
                }
            }
            _ => {
                let w = 0.8 / m;
                let x0 = |i: usize| i as f64 - 0.4 + j as f64 * w;
                let bars = s.values.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v).filter(|v| v.is_finite())?;
                    Some(Rectangle::new(
                        [(x0(i), lo), (x0(i) + w * 0.92, v.max(lo))],
                        col.filled(),
                    ))
                });
                chart.draw_series(bars)?;
                let whiskers = s.errors.iter().enumerate().filter_map(|(i, e)| {
                    let (l, h) = (*e)?;
                    let x = x0(i) + w * 0.46;
                    Some(PathElement::new(
                        vec![(x, l.max(lo)), (x, h)],
                        BLACK.stroke_width(1),
                    ))
                });
                chart.draw_series(whiskers)?;
            }
        }
    }
    Ok(())
}

/// One row of bars per category, top to bottom, its label at the left in
/// full; intervals as error bars with caps.
fn horizontal(c: &Chart, area: &Area<'_>) -> Draw {
    let n = c.x.len().max(1);
    let (lo, hi) = value_range(c);
    let names: Vec<String> = c.x.iter().map(|x| label_long(x)).collect();
    let longest = names.iter().map(|x| x.chars().count()).max().unwrap_or(0);
    // the first category on top
    let row = |i: usize| (n - 1 - i) as f64;
    let upward: Vec<String> = names.iter().rev().cloned().collect();
    let fmt = |y: &f64| category(&upward, *y);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size((longest as u32 * 7 + 24).clamp(60, 330))
        .build_cartesian_2d(lo..hi, -0.5f64..(n as f64 - 0.5))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(n + 1)
        .y_label_formatter(&fmt)
        .y_label_style(("sans-serif", 11))
        .x_desc(c.y_label.as_str())
        .y_desc(c.x_label.as_str())
        .x_label_formatter(&|x| tick(c.y_unit, *x))
        .draw()?;
    let m = c.series.len().max(1) as f64;
    for (j, s) in c.series.iter().enumerate() {
        let col = color(j);
        let h = 0.8 / m;
        let y0 = |i: usize| row(i) + 0.4 - (j as f64 + 1.0) * h;
        let bars = s.values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v).filter(|v| v.is_finite())?;
            Some(Rectangle::new(
                [(lo, y0(i) + h * 0.08), (v.max(lo), y0(i) + h)],
                col.filled(),
            ))
        });
        chart.draw_series(bars)?;
        for (i, e) in s.errors.iter().enumerate() {
            let Some((l, hgh)) = *e else { continue };
            let y = y0(i) + h * 0.54;
            let cap = h * 0.3;
            let l = l.max(lo);
            chart.draw_series([
                PathElement::new(vec![(l, y), (hgh, y)], BLACK.stroke_width(1)),
                PathElement::new(vec![(l, y - cap), (l, y + cap)], BLACK.stroke_width(1)),
                PathElement::new(vec![(hgh, y - cap), (hgh, y + cap)], BLACK.stroke_width(1)),
            ])?;
        }
    }
    Ok(())
}

/// The category name at an axis position (integers only).
fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// The series' names and swatches, in the panel right of the plot.
fn draw_legend(c: &Chart, area: &Area<'_>) -> Draw {
    let font = ("sans-serif", 12).into_font();
    let mut y = 40;
    for (j, s) in c.series.iter().enumerate() {
        let col = color(j);
        match c.kind {
            ChartKind::Lines => {
                area.draw(&PathElement::new(
                    vec![(8, y + 6), (28, y + 6)],
                    col.stroke_width(2),
                ))?;
                area.draw(&Circle::new((18, y + 6), 3, col.filled()))?;
            }
            _ => area.draw(&Rectangle::new([(10, y), (26, y + 12)], col.filled()))?,
        }
        area.draw(&Text::new(label(&s.name), (34, y), font.clone()))?;
        y += 20;
    }
    if c.series
        .iter()
        .any(|s| s.errors.iter().any(Option::is_some))
    {
        area.draw(&PathElement::new(
            vec![(8, y + 6), (28, y + 6)],
            BLACK.stroke_width(1),
        ))?;
        area.draw(&Text::new("95% interval", (34, y), font))?;
    }
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
            y_unit: Unit::Share,
            x_label: "bins".into(),
            kind,
            zoom: false,
            x: vec!["0 .. 10".into(), name.into(), "20 ..".into()],
            series: vec![
                Series {
                    name: name.into(),
                    values: vec![Some(10.0), None, Some(30.0)],
                    errors: Vec::new(),
                },
                Series {
                    name: "current".into(),
                    values: vec![Some(20.0), Some(50.0), Some(30.0)],
                    errors: vec![Some((15.0, 25.0)), None, None],
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
        // "current" 3 points and one 3-point line; the legend a point and
        // a line for each
        assert_eq!(lines.matches("<circle").count(), 5 + 2);
        assert_eq!(lines.matches(r#"stroke-width="2""#).count(), 1 + 2);
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
