//! Charts, drawn with plotters into strings (SVG) or buffers (PNG). Text uses the DejaVu Sans
//! font shipped in `assets/` through ab_glyph, so nothing depends on the machine's fonts.
//! Chart text stays ASCII (terminal ids, codes, English axis labels): the bundled font has no
//! CJK glyphs, and the report's Chinese text lives in HTML/Markdown instead.
//!
//! Every chart is a function of the report model to bytes; series are drawn in a fixed order,
//! bars are drawn as rectangles (plotters' Histogram iterates a HashMap), so bytes are stable.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::classify::Class;
use crate::error::{Error, Result};
use crate::report::Report;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in and tested; failing to parse it is a build defect.
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("bundled font assets/DejaVuSans.ttf is not a valid font"));
    });
}

/// Colour per failure class, the same in every chart and in the HTML legend.
pub fn class_colour(c: Class) -> RGBColor {
    match c {
        Class::Approved => RGBColor(46, 139, 87),
        Class::Declined => RGBColor(230, 159, 0),
        Class::Fraud => RGBColor(204, 0, 102),
        Class::Network => RGBColor(86, 180, 233),
        Class::Terminal => RGBColor(213, 62, 0),
        Class::Unknown => RGBColor(120, 120, 120),
    }
}

pub fn class_hex(c: Class) -> String {
    let RGBColor(r, g, b) = class_colour(c);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::internal("charts", e)
}

/// A chart drawn on any backend.
type Draw = fn(&Report, DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>;

fn svg(size: (u32, u32), r: &Report, draw: Draw) -> Result<Vec<u8>> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(r, root)?;
    }
    Ok(s.into_bytes())
}

/// Every chart as (file name, SVG bytes).
pub fn all_svg(r: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    Ok(vec![(
        "failure_rate_over_time.svg".into(),
        svg((1000, 420), r, failure_rate_over_time)?,
    )])
}

/// Failure rate per period, one line per failure class plus the total.
fn failure_rate_over_time(r: &Report, root: DrawingArea<SVGBackend<'_>, Shift>) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let n = r.periods.len().max(1);
    let series: Vec<(String, RGBColor, Vec<f64>)> = std::iter::once((
        "all failures".to_string(),
        RGBColor(30, 30, 30),
        r.periods.iter().map(|p| p.failure_rate * 100.0).collect(),
    ))
    .chain(
        [
            Class::Declined,
            Class::Fraud,
            Class::Network,
            Class::Terminal,
            Class::Unknown,
        ]
        .into_iter()
        .map(|c| {
            (
                c.name().to_string(),
                class_colour(c),
                r.periods
                    .iter()
                    .map(|p| {
                        if p.counts.transactions == 0 {
                            0.0
                        } else {
                            p.counts.get(c) as f64 * 100.0 / p.counts.transactions as f64
                        }
                    })
                    .collect(),
            )
        }),
    )
    .collect();
    let ymax = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let labels: Vec<String> = r.periods.iter().map(|p| p.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Failure rate over time, by class (% of transactions)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..(n as f64 - 1.0).max(1.0), 0f64..ymax)
        .map_err(err)?;
    let step = (n / 8).max(1);
    chart
        .configure_mesh()
        .x_labels(n.min(10))
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            if i % step == 0 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.1}%"))
        .y_desc("% of transactions")
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(err)?;
    for (name, colour, values) in &series {
        let width = if name == "all failures" { 3 } else { 2 };
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                colour.stroke_width(width),
            ))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
