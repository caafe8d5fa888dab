//! SVG charts with plotters: line charts and grouped bar charts, as strings
//! to inline in the report page and to write as files.
//!
//! Every chart keeps its legend in a column of its own right of the plot, so
//! no legend covers data; a bar whose value is zero carries a "0" (a bar
//! that was not measured is simply absent, and the caption says why); an
//! axis of counts has integer ticks only; large numbers read `100k`, not
//! `100000.0`.

use plotters::coord::Shift;
use plotters::prelude::*;

/// One line of a line chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker on a line chart: something that happened at `x`.
pub struct Mark {
    pub x: f64,
    pub label: String,
    pub color: RGBColor,
}

/// One series of a bar chart: its name and a value per category (`None`:
/// this series has no bar in that category).
pub type Bars = (String, Vec<Option<f64>>);

/// How the value axis reads.
pub struct YAxis<'a> {
    pub desc: &'a str,
    /// Logarithmic.
    pub log: bool,
    /// Counts: integer ticks only.
    pub integer: bool,
    /// A horizontal reference line (a ratio of 1, say; the axis
    /// description says what it means).
    pub reference: Option<f64>,
}

impl<'a> YAxis<'a> {
    pub fn linear(desc: &'a str) -> Self {
        YAxis {
            desc,
            log: false,
            integer: false,
            reference: None,
        }
    }
}

/// Marker colours for governance levels and the leak flag.
pub const YELLOW: RGBColor = RGBColor(190, 150, 0);
pub const ORANGE: RGBColor = RGBColor(225, 100, 0);
pub const RED: RGBColor = RGBColor(190, 0, 0);
pub const GREY: RGBColor = RGBColor(90, 90, 90);

const SIZE: (u32, u32) = (900, 420);
/// Width of the legend column.
const LEGEND: u32 = 230;
const FONT: &str = "sans-serif";

/// Series colours: distinct, print-friendly; never reused within a chart of
/// up to eight series.
pub fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// A tick label: `100k`, `2.5M`, `12`, `0.75`.
pub fn number(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.2}"))
    }
}

/// A tick label; none for a fraction on an axis of counts.
fn integer_tick(v: f64, integer: bool) -> String {
    if integer && (v - v.round()).abs() > 1e-9 {
        String::new()
    } else {
        number(v)
    }
}

fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (if log { 1.0 } else { 0.0 }, 1.0);
    }
    if log {
        (lo / 1.5, hi * 1.5)
    } else {
        (lo.min(0.0), if hi > 0.0 { hi * 1.1 } else { 1.0 })
    }
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Failure<'a> = Box<dyn std::error::Error + 'a>;

/// The legend column: a swatch and the (wrapped) name of each entry.
fn legend<'a>(area: &Area<'a>, entries: &[(String, RGBColor, bool)]) -> Result<(), Failure<'a>> {
    let mut y = 44;
    for (name, c, is_line) in entries {
        if *is_line {
            area.draw(&PathElement::new(
                vec![(6, y + 7), (26, y + 7)],
                c.stroke_width(3),
            ))?;
        } else {
            area.draw(&Rectangle::new([(8, y + 1), (22, y + 13)], c.filled()))?;
        }
        for line in wrap(name, 28) {
            area.draw(&Text::new(line, (32, y), (FONT, 13)))?;
            y += 16;
        }
        y += 6;
    }
    Ok(())
}

/// Renders with `draw` onto an SVG string; a failure becomes an SVG that
/// says so (the page test rejects it).
fn render(draw: impl for<'a> FnOnce(&Area<'a>) -> Result<(), Failure<'a>>) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root).map_err(|e| e.to_string()))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => svg,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">chart failed: {}</text></svg>",
            e.replace('<', "&lt;")
        ),
    }
}

/// A line chart, with vertical `marks` labelled at the top of the plot; a
/// logarithmic x axis when `x_log`, integer ticks only on y when
/// `y_integer`.
pub fn lines(
    title: &str,
    (x_desc, x_log): (&str, bool),
    (y_desc, y_integer): (&str, bool),
    lines: &[Line],
    marks: &[Mark],
) -> String {
    let (x0, x1) = range(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .chain(marks.iter().map(|m| m.x)),
        x_log,
    );
    // No slack to the right of the last point.
    let x1 = if x_log { x1 / 1.5 } else { x1 / 1.1 };
    let (y0, y1) = range(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)),
        false,
    );
    // Room above the data for the marks' labels.
    let y1 = y1 * (1.0 + 0.07 * marks.len().min(5) as f64);
    render(|root| {
        let (plot, side) = root.split_horizontally(SIZE.0 - LEGEND);
        let mut builder = ChartBuilder::on(&plot);
        builder
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(70);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .x_label_formatter(&|x| number(*x))
                    .y_label_formatter(&|y| integer_tick(*y, y_integer))
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                for (i, line) in lines.iter().enumerate() {
                    chart.draw_series(LineSeries::new(
                        line.points.iter().copied().filter(|p| !x_log || p.0 > 0.0),
                        color(i).stroke_width(2),
                    ))?;
                }
                for (i, m) in marks.iter().enumerate() {
                    let top = y1 * (1.0 - 0.065 * (i % 5) as f64) - (y1 - y0) * 0.02;
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(m.x, y0), (m.x, top)],
                        m.color.mix(0.8).stroke_width(1),
                    )))?;
                    chart.draw_series(std::iter::once(Text::new(
                        m.label.clone(),
                        (m.x, top),
                        (FONT, 12).into_font().color(&m.color),
                    )))?;
                }
            }};
        }
        if x_log {
            draw!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?);
        } else {
            draw!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
        }
        let entries: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.clone(), color(i), true))
            .collect();
        legend(&side, &entries)
    })
}

/// Grouped bars: one group per category, one bar per series that has a
/// value there (bars of a group are centred; every series keeps its colour).
pub fn bars(title: &str, y: &YAxis, categories: &[String], series: &[Bars]) -> String {
    let values = || series.iter().flat_map(|s| s.1.iter().flatten().copied());
    let (y0, mut y1) = range(values().chain(y.reference), y.log);
    if y.integer {
        y1 = y1.ceil().max(1.0);
    }
    let groups = categories.len().max(1);
    let widest = (0..groups)
        .map(|g| {
            series
                .iter()
                .filter(|s| s.1.get(g).is_some_and(|v| v.is_some()))
                .count()
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let width = 0.8 / widest as f64;
    // Each bar: (series, group, left edge, value).
    let mut placed = Vec::new();
    for g in 0..groups {
        let present: Vec<usize> = (0..series.len())
            .filter(|&i| series[i].1.get(g).is_some_and(|v| v.is_some()))
            .collect();
        let start = g as f64 - width * present.len() as f64 / 2.0;
        for (slot, &i) in present.iter().enumerate() {
            let v = series[i].1[g].expect("present");
            placed.push((i, start + width * slot as f64, v));
        }
    }
    let names = categories.to_vec();
    let x_fmt = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    let integer = y.integer;
    let y_fmt = move |v: &f64| integer_tick(*v, integer);
    render(|root| {
        let (plot, side) = root.split_horizontally(SIZE.0 - LEGEND);
        let mut builder = ChartBuilder::on(&plot);
        builder
            .caption(title, (FONT, 17))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(70);
        let x_range = -0.5..groups as f64 - 0.5;
        macro_rules! draw {
            ($chart:expr, $floor:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_labels(groups * 2 + 1)
                    .y_labels(if integer {
                        (y1 as usize + 1).min(11)
                    } else {
                        10
                    })
                    .x_label_formatter(&x_fmt)
                    .y_label_formatter(&y_fmt)
                    .disable_x_mesh()
                    .y_desc(y.desc)
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                let floor = $floor;
                for &(i, left, v) in &placed {
                    let c = color(i);
                    if v > 0.0 && v.is_finite() {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(left, floor), (left + width * 0.92, v)],
                            c.filled(),
                        )))?;
                        if !y.log && v < (y1 - y0) * 0.015 {
                            // Too low to see: say it is nearly nothing.
                            chart.draw_series(std::iter::once(Text::new(
                                "≈0",
                                (left, floor + (y1 - y0) * 0.035),
                                (FONT, 14).into_font().color(&c),
                            )))?;
                        }
                    } else {
                        // Zero (or nothing to draw on a log axis): say so.
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(left, floor), (left + width * 0.92, floor)],
                            c.stroke_width(2),
                        )))?;
                        let above = if y.log {
                            floor * 1.5
                        } else {
                            floor + (y1 - y0) * 0.035
                        };
                        chart.draw_series(std::iter::once(Text::new(
                            "0",
                            (left + width * 0.2, above),
                            (FONT, 14).into_font().color(&c),
                        )))?;
                    }
                }
                if let Some(r) = y.reference {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(-0.5, r), (groups as f64 - 0.5, r)],
                        BLACK.mix(0.6).stroke_width(1),
                    )))?;
                }
            }};
        }
        if y.log {
            draw!(
                builder.build_cartesian_2d(x_range, (y0..y1).log_scale())?,
                y0
            );
        } else {
            draw!(builder.build_cartesian_2d(x_range, y0..y1)?, 0.0);
        }
        let entries: Vec<_> = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.0.clone(), color(i), false))
            .collect();
        legend(&side, &entries)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_as_numbers_people_write() {
        assert_eq!(number(100_000.0), "100k");
        assert_eq!(number(2_500_000.0), "2.5M");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.75), "0.75");
        assert_eq!(number(1_000.0), "1000");
    }

    #[test]
    fn a_zero_bar_is_labelled_and_an_absent_one_is_not_drawn() {
        let chart = |first: Option<f64>| {
            bars(
                "t",
                &YAxis {
                    integer: true,
                    ..YAxis::linear("count")
                },
                &["a".into(), "b".into()],
                &[
                    ("s".into(), vec![first, None]),
                    ("u".into(), vec![Some(3.0), Some(2.0)]),
                ],
            )
        };
        let (zero, absent) = (chart(Some(0.0)), chart(None));
        assert!(!zero.contains("chart failed"), "{zero}");
        // The text of every <text> element.
        let texts = |svg: &str| -> Vec<String> {
            svg.split("</text>")
                .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim().to_string()))
                .collect()
        };
        let zeros = |svg: &str| texts(svg).iter().filter(|t| *t == "0").count();
        assert_eq!(
            zeros(&zero),
            zeros(&absent) + 1,
            "the zero bar, and only it, is labelled"
        );
        // Integer ticks only.
        let ticks = texts(&zero);
        assert!(ticks.iter().any(|t| t == "3"), "{ticks:?}");
        assert!(!ticks.iter().any(|t| t.contains('.')), "{ticks:?}");
    }

    #[test]
    fn long_legend_names_wrap() {
        let lines = wrap(
            "string cache (leaky): total bytes (table + keys + values)",
            28,
        );
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.len() <= 28),
            "{lines:?}"
        );
    }
}
