//! SVG charts with plotters: line charts and grouped bar charts, as strings
//! to inline in the report page and to write as files.

use plotters::prelude::*;

/// One line of a line chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const SIZE: (u32, u32) = (880, 420);

fn color(i: usize) -> RGBColor {
    // Distinct, print-friendly: blue, orange, green, red, purple, brown.
    const COLORS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    COLORS[i % COLORS.len()]
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
        (lo.min(0.0), if hi > 0.0 { hi * 1.08 } else { 1.0 })
    }
}

/// A line chart, its legend where it hides the least.
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
    legend: SeriesLabelPosition,
) -> String {
    let mut svg = String::new();
    let (x0, x1) = range(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)),
        false,
    );
    let (y0, y1) = range(
        lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)),
        false,
    );
    let result = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (i, line) in lines.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    c.stroke_width(2),
                ))?
                .label(line.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(legend)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = result {
        return format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">chart failed: {e}</text></svg>");
    }
    svg
}

/// Grouped bars: one group per category, one bar per series.
pub fn bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
    log_y: bool,
) -> String {
    let mut svg = String::new();
    let (y0, y1) = range(series.iter().flat_map(|s| s.1.iter().copied()), log_y);
    let groups = categories.len().max(1) as f64;
    let width = 0.8 / series.len().max(1) as f64;
    let result = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(78);
        let names = categories.to_vec();
        let x_fmt = move |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        macro_rules! draw {
            ($chart:expr, $floor:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_labels(categories.len() * 2 + 1)
                    .x_label_formatter(&x_fmt)
                    .disable_x_mesh()
                    .y_desc(y_desc)
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                for (i, (name, values)) in series.iter().enumerate() {
                    let c = color(i);
                    chart
                        .draw_series(
                            values
                                .iter()
                                .enumerate()
                                .filter(|(_, v)| v.is_finite() && (!log_y || **v > 0.0))
                                .map(|(g, &v)| {
                                    let left = g as f64 - 0.4 + width * i as f64;
                                    Rectangle::new(
                                        [(left, $floor), (left + width * 0.92, v)],
                                        c.filled(),
                                    )
                                }),
                        )?
                        .label(name.clone())
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                        });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK.mix(0.3))
                    .draw()?;
            }};
        }
        if log_y {
            draw!(
                builder.build_cartesian_2d(-0.5..groups - 0.5, (y0..y1).log_scale())?,
                y0
            );
        } else {
            draw!(builder.build_cartesian_2d(-0.5..groups - 0.5, y0..y1)?, 0.0);
        }
        root.present()?;
        Ok(())
    })();
    if let Err(e) = result {
        return format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">chart failed: {e}</text></svg>");
    }
    svg
}
