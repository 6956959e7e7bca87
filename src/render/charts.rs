//! Charts, drawn with plotters into strings (SVG) or RGB buffers encoded as PNG (`--png`).
//! Text uses the DejaVu Sans font shipped in `assets/` through ab_glyph, so nothing depends on
//! the machine's fonts. Titles and labels come from the report model in its language: an SVG
//! keeps Chinese text as text and the browser draws it with its own CJK font; the bundled
//! font has no CJK glyphs, so PNGs (`--png`) are always drawn with the English words and
//! ASCII labels.
//!
//! Every chart is a function of the report model; series are drawn in a fixed order and bars
//! are drawn as rectangles (plotters' Histogram iterates a HashMap), so bytes are stable.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analyze::Status;
use crate::classify::Class;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::words::ChartWords;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in; failing to parse it is a build defect, caught by every test.
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("bundled font assets/DejaVuSans.ttf is not a valid font"));
    });
}

/// Colour per class: [`Class::rgb`], the same in every chart and badge.
pub fn class_colour(c: Class) -> RGBColor {
    let (r, g, b) = c.rgb();
    RGBColor(r, g, b)
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::internal("charts", e)
}

/// Chart text, cut to `max` characters. For PNGs (`w.cjk` false) it is kept within the
/// bundled Latin font: other characters become `?`.
fn fit(w: &ChartWords, s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if w.cjk || (' '..='~').contains(&c) {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect();
    if s.chars().count() > max {
        format!("{t}...")
    } else {
        t
    }
}

/// The charts, their file stems and sizes.
#[derive(Clone, Copy)]
enum Chart {
    OverTime,
    TopCodes,
    WorstTerminals,
    Heatmap,
}

const CHARTS: [(Chart, &str, (u32, u32)); 4] = [
    (Chart::OverTime, "failure_rate_over_time", (1000, 420)),
    (Chart::TopCodes, "top_codes", (1000, 460)),
    (Chart::WorstTerminals, "worst_terminals", (1000, 480)),
    (Chart::Heatmap, "terminal_heatmap", (1000, 560)),
];

fn draw<DB: DrawingBackend>(
    c: Chart,
    r: &Report,
    w: &ChartWords,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    match c {
        Chart::OverTime => failure_rate_over_time(r, w, root),
        Chart::TopCodes => top_codes(r, w, root),
        Chart::WorstTerminals => worst_terminals(r, w, root),
        Chart::Heatmap => terminal_heatmap(r, w, root),
    }
}

/// Every chart as (file name, SVG bytes).
pub fn all_svg(r: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    register_font();
    let mut out = Vec::new();
    for (chart, name, size) in CHARTS {
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
            draw(chart, r, &r.chart_words, &root)?;
            root.present().map_err(err)?;
        }
        out.push((format!("{name}.svg"), s.into_bytes()));
    }
    Ok(out)
}

/// Every chart as (file name, PNG bytes).
pub fn all_png(r: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    register_font();
    let english = ChartWords::new(crate::config::Lang::En);
    let mut out = Vec::new();
    for (chart, name, (w, h)) in CHARTS {
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            draw(chart, r, &english, &root)?;
            root.present().map_err(err)?;
        }
        let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| err("bitmap size"))?;
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageOutputFormat::Png)
            .map_err(err)?;
        out.push((format!("{name}.png"), png.into_inner()));
    }
    Ok(out)
}

/// Label of a horizontal band chart: row k from the top is the band [n-1-k, n-k) and is
/// labelled at its centre; other tick positions stay blank.
fn band_label(names: &[String], y: f64) -> String {
    let n = names.len();
    if (y - y.floor() - 0.5).abs() > 1e-6 || y < 0.0 || y.floor() as usize >= n {
        return String::new();
    }
    names[n - 1 - y.floor() as usize].clone()
}

fn caption_style() -> TextStyle<'static> {
    ("sans-serif", 22).into_font().color(&RGBColor(30, 30, 30))
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", 14).into_font().color(&RGBColor(60, 60, 60))
}

/// Failure rate per period, one line per failure class plus the total.
fn failure_rate_over_time<DB: DrawingBackend>(
    r: &Report,
    w: &ChartWords,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let n = r.periods.len();
    let rate = |p: &crate::report::PeriodLine, c: Option<Class>| {
        if p.counts.transactions == 0 {
            return 0.0;
        }
        let k = match c {
            None => p.counts.failures(),
            Some(c) => p.counts.get(c),
        };
        k as f64 * 100.0 / p.counts.transactions as f64
    };
    let mut series: Vec<(String, RGBColor, u32, Vec<f64>)> = vec![(
        w.all_failures.into(),
        RGBColor(30, 30, 30),
        3,
        r.periods.iter().map(|p| rate(p, None)).collect(),
    )];
    for c in [
        Class::Declined,
        Class::Fraud,
        Class::Network,
        Class::Terminal,
        Class::Unknown,
    ] {
        series.push((
            if w.cjk {
                c.label(true).into()
            } else {
                c.name().into()
            },
            class_colour(c),
            2,
            r.periods.iter().map(|p| rate(p, Some(c))).collect(),
        ));
    }
    let ymax = series
        .iter()
        .flat_map(|s| s.3.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let labels: Vec<String> = r.periods.iter().map(|p| p.label.clone()).collect();
    let xmax = n.max(2) as i32 - 1;
    let mut chart = ChartBuilder::on(root)
        .caption(w.over_time, caption_style())
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0..xmax, 0f64..ymax)
        .map_err(err)?;
    let step = n.div_ceil(8).max(1);
    chart
        .configure_mesh()
        .x_labels(n.min(60))
        .x_label_formatter(&|i| {
            let i = *i as usize;
            if i % step == 0 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.1}%"))
        .x_label_style(label_style())
        .y_label_style(label_style())
        .y_desc(w.percent_of_transactions)
        .axis_desc_style(label_style())
        .light_line_style(RGBColor(245, 245, 245))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    for (name, colour, width, values) in &series {
        let (colour, width) = (*colour, *width);
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(i, v)| (i as i32, *v)),
                colour.stroke_width(width),
            ))
            .map_err(err)?
            .label(measured_for_cjk(name))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(label_style())
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A label padded for plotters' width estimate. The bundled font has no CJK glyphs, so
/// plotters measures a Chinese label narrower than the browser draws it (its legend box then
/// cuts the text off); trailing spaces widen the box and are not drawn in SVG.
fn measured_for_cjk(label: &str) -> String {
    let wide = label.chars().filter(|c| *c >= '\u{2E80}').count();
    if wide == 0 {
        return label.to_string();
    }
    format!("{label}{}", " ".repeat(wide * 2))
}

/// The most frequent failure codes as horizontal bars, coloured by class.
fn top_codes<DB: DrawingBackend>(
    r: &Report,
    w: &ChartWords,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let codes = &r.chart_codes;
    let n = codes.len().max(1);
    let max = codes
        .iter()
        .map(|c| c.transactions)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.25;
    let mut chart = ChartBuilder::on(root)
        .caption(w.top_codes, caption_style())
        .margin(14)
        .x_label_area_size(30)
        .y_label_area_size(330)
        .build_cartesian_2d(0f64..max, 0f64..n as f64)
        .map_err(err)?;
    // Row k (from the top) is the band [n-1-k, n-k); labels sit at the band centres.
    let names: Vec<String> = codes
        .iter()
        .map(|c| fit(w, &format!("{}  {}", c.response_code, c.meaning), 40))
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(2 * n + 1)
        .y_label_formatter(&|y| band_label(&names, *y))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_label_style(label_style())
        .y_label_style(label_style())
        .light_line_style(RGBColor(245, 245, 245))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    for (idx, c) in codes.iter().enumerate() {
        let y = (n - 1 - idx) as f64;
        let v = c.transactions as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (v, y + 0.85)],
                class_colour(c.class).mix(0.9).filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ({})", c.transactions, c.class.name()),
                (v + max * 0.01, y + 0.7),
                label_style(),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// Terminals with the highest terminal-fault rate, with Wilson 95% intervals and the baseline.
fn worst_terminals<DB: DrawingBackend>(
    r: &Report,
    w: &ChartWords,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let terms = &r.worst_terminals;
    let n = terms.len().max(1);
    let max = terms
        .iter()
        .map(|t| t.fault_ci_high)
        .fold(r.baseline_rate, f64::max)
        .max(0.001)
        * 100.0
        * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption(w.worst_terminals, caption_style())
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..max, 0f64..n as f64)
        .map_err(err)?;
    // Row k (from the top) is the band [n-1-k, n-k); its label sits at the band centre.
    let names: Vec<String> = terms.iter().map(|t| fit(w, &t.terminal_id, 12)).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(2 * n + 1)
        .y_label_formatter(&|y| band_label(&names, *y))
        .x_label_formatter(&|x| format!("{x:.1}%"))
        .x_desc(w.worst_terminals_axis)
        .axis_desc_style(label_style())
        .x_label_style(label_style())
        .y_label_style(label_style())
        .light_line_style(RGBColor(245, 245, 245))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    let base = r.baseline_rate * 100.0;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(base, 0.0), (base, n as f64)],
            RGBColor(90, 90, 90).stroke_width(2),
        )))
        .map_err(err)?;
    for (idx, t) in terms.iter().enumerate() {
        let y = (n - 1 - idx) as f64;
        let colour = if t.status == Status::Flagged {
            class_colour(Class::Terminal)
        } else {
            RGBColor(110, 110, 110)
        };
        let (lo, hi, v) = (
            t.fault_ci_low * 100.0,
            t.fault_ci_high * 100.0,
            t.terminal_fault_rate * 100.0,
        );
        // A thin bar for the interval, a short tick for the rate.
        chart
            .draw_series([
                Rectangle::new(
                    [(lo, y + 0.4), (hi.max(lo + max * 0.002), y + 0.6)],
                    colour.mix(0.35).filled(),
                ),
                Rectangle::new(
                    [(v - max * 0.002, y + 0.2), (v + max * 0.002, y + 0.8)],
                    colour.filled(),
                ),
            ])
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(Text::new(
            format!("{} {base:.2}%", w.fleet_baseline),
            (base + max * 0.01, n as f64 - 0.3),
            label_style(),
        )))
        .map_err(err)?;
    Ok(())
}

/// Terminal × day grid of terminal-side error rates (flagged and worst terminals).
fn terminal_heatmap<DB: DrawingBackend>(
    r: &Report,
    w: &ChartWords,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let hm = &r.heatmap;
    let (nt, nd) = (
        hm.terminals.len().max(1) as i32,
        hm.days.len().max(1) as i32,
    );
    let mut chart = ChartBuilder::on(root)
        .caption(w.heatmap, caption_style())
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(90)
        .build_cartesian_2d(0..nd, 0..nt)
        .map_err(err)?;
    let step = (nd as usize).div_ceil(8).max(1);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(nd as usize)
        .y_labels(nt as usize)
        .x_label_formatter(&|i| {
            if (*i as usize) % step == 0 {
                hm.days.get(*i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|i| {
            hm.terminals
                .get((nt - 1 - *i) as usize)
                .map(|t| fit(w, t, 12))
                .unwrap_or_default()
        })
        .x_label_style(label_style())
        .y_label_style(label_style())
        .draw()
        .map_err(err)?;
    // Colour scale: white at 0, full red at 5% or more (log-like steps are hard to read here).
    for (ti, row) in hm.rates.iter().enumerate() {
        let y = nt - 1 - ti as i32;
        for (di, v) in row.iter().enumerate() {
            let fill = match v {
                None => RGBColor(238, 238, 238),
                Some(v) => {
                    let t = (v / 0.05).clamp(0.0, 1.0);
                    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
                    RGBColor(mix(255, 213), mix(255, 62), mix(255, 0))
                }
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(di as i32, y), (di as i32 + 1, y + 1)],
                    fill.filled(),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The merchant weekly report's chart: failed payments per day, this week beside the same
/// weekday of the week before.
pub fn weekly_daily(m: &crate::report::weekly::MerchantWeek, w: &ChartWords) -> Result<Vec<u8>> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (900, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max = m
            .days
            .iter()
            .map(|d| d.current.failures.max(d.previous.failures))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.2;
        let labels: Vec<String> = m
            .days
            .iter()
            .map(|d| {
                fit(
                    w,
                    &format!("{} {}", d.weekday, d.day.get(5..).unwrap_or(&d.day)),
                    16,
                )
            })
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(w.daily, caption_style())
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..m.days.len().max(1) as f64, 0f64..max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * m.days.len() + 1)
            .x_label_formatter(&|x| {
                if (x - x.floor() - 0.5).abs() > 1e-6 || *x < 0.0 {
                    return String::new();
                }
                labels.get(x.floor() as usize).cloned().unwrap_or_default()
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_label_style(label_style())
            .y_label_style(label_style())
            .light_line_style(RGBColor(245, 245, 245))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(err)?;
        let previous = RGBColor(170, 170, 170);
        let current = class_colour(Class::Terminal);
        for (i, d) in m.days.iter().enumerate() {
            let x = i as f64;
            chart
                .draw_series([
                    Rectangle::new(
                        [(x + 0.12, 0.0), (x + 0.48, d.previous.failures as f64)],
                        previous.filled(),
                    ),
                    Rectangle::new(
                        [(x + 0.52, 0.0), (x + 0.88, d.current.failures as f64)],
                        current.filled(),
                    ),
                ])
                .map_err(err)?;
        }
        // A legend drawn by hand: plotters' legend needs a series per entry.
        for (k, (name, colour)) in [(w.previous_week, previous), (w.this_week, current)]
            .into_iter()
            .enumerate()
        {
            let y = max * (0.95 - 0.08 * k as f64);
            let x = m.days.len() as f64 * 0.80;
            chart
                .draw_series([Rectangle::new(
                    [(x, y - max * 0.04), (x + 0.12, y)],
                    colour.filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.to_string(),
                    (x + 0.18, y),
                    label_style(),
                )))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(s.into_bytes())
}
