//! The plot of experiment (b): the cache's contents and counters over time.

use super::super::cache_probe::CacheStats;
use super::super::timeline::Timeline;
use super::{draw_legend, FONT, GREEN, OFF, ON, ORANGE, PURPLE};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// A cache counter to draw: its name, colour and how to read it.
type Counter = (&'static str, RGBColor, fn(&CacheStats) -> u64);

/// Experiment (b): which stocks are cached at each reading (darker = more recently used), and
/// the cumulative counters below it.
///
/// # Errors
/// When the file cannot be written.
pub fn timeline_plot(path: &Path, timeline: &Timeline) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 780)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(440);
    let end_s = end_secs(timeline);
    draw_contents(&upper, timeline, end_s)?;
    draw_counters(&lower, timeline, end_s)?;
    root.present()?;
    Ok(())
}

/// Where the time axis ends: one sampling period after the last reading.
fn end_secs(timeline: &Timeline) -> f64 {
    let period_s = timeline.period_ms as f64 / 1000.0;
    timeline.samples.last().map_or(1.0, |s| s.at_ms / 1000.0) + period_s
}

/// The upper chart: a row per stock, a bar for each reading it was cached at.
fn draw_contents(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    timeline: &Timeline,
    end_s: f64,
) -> anyhow::Result<()> {
    let samples = &timeline.samples;
    let period_s = timeline.period_ms as f64 / 1000.0;
    let stocks = &timeline.stocks;
    let rows = stocks.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Cache contents over time (capacity {}, darker = more recently used)",
                timeline.cache_size
            ),
            (FONT, 20),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..end_s, -0.5..rows as f64 - 0.5)?;
    let names = stocks.clone();
    chart
        .configure_mesh()
        .x_desc("time, s")
        .y_labels(rows)
        .y_label_formatter(&move |v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .disable_y_mesh()
        .draw()?;
    let capacity = timeline.cache_size.max(1) as f64;
    chart.draw_series(samples.iter().flat_map(|sample| {
        let t0 = sample.at_ms / 1000.0;
        sample
            .stats
            .entries
            .iter()
            .enumerate()
            .filter_map(move |(rank, name)| {
                let row = stocks.iter().position(|s| s == name)? as f64;
                let shade = 1.0 - 0.75 * rank as f64 / capacity;
                Some(Rectangle::new(
                    [(t0, row - 0.38), (t0 + period_s, row + 0.38)],
                    ON.mix(shade).filled(),
                ))
            })
    }))?;

    Ok(())
}

/// The lower chart: hits, misses, evictions and invalidations since the first reading.
fn draw_counters(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    timeline: &Timeline,
    end_s: f64,
) -> anyhow::Result<()> {
    let samples = &timeline.samples;
    let first = samples.first().map(|s| s.stats.clone()).unwrap_or_default();
    let counters: [Counter; 4] = [
        ("hits", GREEN, |s| s.hits),
        ("misses", OFF, |s| s.misses),
        ("evictions", ORANGE, |s| s.evictions),
        ("invalidations", PURPLE, |s| s.invalidations),
    ];
    let top = samples
        .iter()
        .flat_map(|s| {
            counters
                .iter()
                .map(|c| c.2(&s.stats).saturating_sub(c.2(&first)))
        })
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("Cumulative cache counters during the run", (FONT, 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..end_s, 0.0..top as f64 * 1.08)?;
    chart
        .configure_mesh()
        .x_desc("time, s")
        .y_desc("count since the first reading")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()?;
    for (label, color, f) in counters {
        let start = f(&first);
        chart
            .draw_series(LineSeries::new(
                samples
                    .iter()
                    .map(|s| (s.at_ms / 1000.0, f(&s.stats).saturating_sub(start) as f64)),
                color.stroke_width(2),
            ))?
            .label(label)
            .legend(legend_line!(color, false));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
    Ok(())
}
