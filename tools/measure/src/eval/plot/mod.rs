//! The SVG plots, drawn with plotters' SVG backend (text becomes `<text>` elements, so no fonts
//! are needed to draw them).

use super::cache_probe::CacheStats;
use super::crash::CrashRun;
use super::sweep::SweepPoint;
use super::timeline::Timeline;
use bazaar_client::{Kind, Sample};
use plotters::prelude::*;
use std::path::Path;

const ON: RGBColor = RGBColor(31, 119, 180);
const OFF: RGBColor = RGBColor(214, 39, 40);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

/// A cache counter to draw: its name, colour and how to read it.
type Counter = (&'static str, RGBColor, fn(&CacheStats) -> u64);

/// Milliseconds as a short axis label: `0.25`, `1.5`, `20`.
pub fn ms_label(v: f64) -> String {
    let text = if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A log-scale range covering `values`, with `headroom` times the largest on top (room for the
/// legend).
fn log_range(values: impl Iterator<Item = f64>, headroom: f64) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.01..1.0;
    }
    (lo / 1.6)..(hi * headroom)
}

/// A legend sample: a solid or dashed stroke of `color`. (A macro, not a function: the element
/// type names the backend, whose lifetime a boxed element would have to outlive.)
macro_rules! legend_line {
    ($color:expr, $dashed:expr) => {{
        let color: RGBColor = $color;
        let (a, b) = if $dashed { (5, 8) } else { (7, 7) };
        move |(x, y): (i32, i32)| {
            let style = color.stroke_width(2);
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (a, 0)], style)
                + PathElement::new(vec![(b, 0), (b + a, 0)], style)
                + PathElement::new(vec![(2 * b, 0), (2 * b + a, 0)], style)
        }
    }};
}

/// Splits points into runs whose x are at most `gap` apart, so lines break where nothing was
/// measured instead of bridging the hole.
fn runs(points: &[(f64, f64)], gap: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for &p in points {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| p.0 - l.0 <= gap) => run.push(p),
            _ => out.push(vec![p]),
        }
    }
    out
}

/// Experiment (a): p50 and p99 of `kind` against p, cache on and off on the same axes.
///
/// # Errors
/// When the file cannot be written.
pub fn sweep_plot(path: &Path, kind: Kind, points: &[SweepPoint]) -> anyhow::Result<()> {
    let series = |on: bool, quantile: fn(&bazaar_client::KindSummary) -> u64| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|pt| (pt.cache_size > 0) == on && pt.report.kind(kind).count > 0)
            .map(|pt| (pt.p, quantile(pt.report.kind(kind)) as f64 / 1000.0))
            .collect()
    };
    let p50 = |s: &bazaar_client::KindSummary| s.p50_us;
    let p99 = |s: &bazaar_client::KindSummary| s.p99_us;
    let all = [
        ("cache on, p50", ON, false, series(true, p50)),
        ("cache on, p99", ON, true, series(true, p99)),
        ("cache off, p50", OFF, false, series(false, p50)),
        ("cache off, p99", OFF, true, series(false, p99)),
    ];
    let y = log_range(all.iter().flat_map(|s| s.3.iter().map(|p| p.1)), 2.5);
    let max_p = points.iter().map(|p| p.p).fold(0.0, f64::max);

    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} latency against trade probability", title(kind)),
            (FONT, 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.04..max_p + 0.04, y.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("p (probability that an iteration trades)")
        .y_desc("latency, ms (log scale)")
        .y_labels(12)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| ms_label(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (label, color, dashed, data) in &all {
        if data.is_empty() {
            continue;
        }
        let style = color.stroke_width(2);
        if *dashed {
            chart
                .draw_series(DashedLineSeries::new(data.iter().copied(), 6, 4, style))?
                .label(*label)
                .legend(legend_line!(*color, true));
            chart.draw_series(
                data.iter()
                    .map(|&p| TriangleMarker::new(p, 5, color.filled())),
            )?;
        } else {
            chart
                .draw_series(LineSeries::new(data.iter().copied(), style))?
                .label(*label)
                .legend(legend_line!(*color, false));
            chart.draw_series(data.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::Lookup => "Lookup",
        Kind::Trade => "Trade",
        Kind::OrderQuery => "Order query",
    }
}

/// Experiment (b): which stocks are cached at each reading (darker = more recently used), and
/// the cumulative counters below it.
///
/// # Errors
/// When the file cannot be written.
pub fn timeline_plot(path: &Path, timeline: &Timeline) -> anyhow::Result<()> {
    let samples = &timeline.samples;
    let period_s = timeline.period_ms as f64 / 1000.0;
    let end_s = samples.last().map_or(1.0, |s| s.at_ms / 1000.0) + period_s;
    let stocks = &timeline.stocks;
    let rows = stocks.len().max(1);

    let root = SVGBackend::new(path, (900, 780)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(440);

    let mut chart = ChartBuilder::on(&upper)
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
    let mut chart = ChartBuilder::on(&lower)
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
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Per window of `window_ms` of send times: (window centre in s, median ms, max ms) of the
/// samples of `kind`.
pub fn windows(samples: &[Sample], kind: Kind, window_ms: f64) -> Vec<(f64, f64, f64)> {
    let mut buckets: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for s in samples.iter().filter(|s| s.kind == kind) {
        buckets
            .entry((s.at_ms / window_ms) as u64)
            .or_default()
            .push(s.latency_us);
    }
    buckets
        .into_iter()
        .map(|(i, mut v)| {
            v.sort_unstable();
            let median = v[v.len() / 2] as f64 / 1000.0;
            let max = v[v.len() - 1] as f64 / 1000.0;
            ((i as f64 + 0.5) * window_ms / 1000.0, median, max)
        })
        .collect()
}

/// Experiment (c): per 100 ms of send time, the slowest and the median request of each type,
/// with the downtime shaded and every failed request as a cross.
///
/// # Errors
/// When the file cannot be written.
pub fn crash_plot(path: &Path, run: &CrashRun) -> anyhow::Result<()> {
    let samples = &run.report.samples;
    let window = 100.0;
    let kinds = [
        (Kind::Lookup, GREEN),
        (Kind::Trade, ON),
        (Kind::OrderQuery, PURPLE),
    ];
    let series: Vec<_> = kinds
        .iter()
        .map(|&(k, c)| (k, c, windows(samples, k, window)))
        .collect();
    let y = log_range(samples.iter().map(|s| s.latency_us as f64 / 1000.0), 25.0);
    let end_s = samples.last().map_or(1.0, |s| s.at_ms / 1000.0) + 0.2;

    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let role = if run.victim_was_leader {
        "the leader"
    } else {
        "a follower"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Run {}: kill -9 of order replica {} ({role}) under load",
                run.run, run.victim
            ),
            (FONT, 20),
        )
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..end_s, y.clone().log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time since the load started, s")
        .y_desc("latency, ms (log scale), by send time")
        .y_label_formatter(&|v| ms_label(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [
            (run.kill_at_ms / 1000.0, y.start),
            (run.restart_at_ms / 1000.0, y.end),
        ],
        GREY.mix(0.12).filled(),
    )))?;
    for (at_ms, label) in [
        (run.kill_at_ms, format!("kill -9 replica {}", run.victim)),
        (run.restart_at_ms, "restart".to_string()),
    ] {
        let x = at_ms / 1000.0;
        chart.draw_series(DashedLineSeries::new(
            [(x, y.start), (x, y.end)],
            5,
            4,
            GREY.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            label,
            (x + 0.05, y.end / 1.4),
            (FONT, 14).into_font().color(&GREY),
        )))?;
    }
    let gap = 1.5 * window / 1000.0;
    for (kind, color, data) in &series {
        if data.is_empty() {
            continue;
        }
        let max: Vec<(f64, f64)> = data.iter().map(|w| (w.0, w.2)).collect();
        let median: Vec<(f64, f64)> = data.iter().map(|w| (w.0, w.1)).collect();
        for (i, part) in runs(&max, gap).into_iter().enumerate() {
            let drawn = chart.draw_series(LineSeries::new(part, color.stroke_width(2)))?;
            if i == 0 {
                drawn
                    .label(format!("{} max", kind.name()))
                    .legend(legend_line!(*color, false));
            }
        }
        for (i, part) in runs(&median, gap).into_iter().enumerate() {
            let drawn = chart.draw_series(DashedLineSeries::new(
                part,
                4,
                3,
                color.mix(0.7).stroke_width(1),
            ))?;
            if i == 0 {
                drawn
                    .label(format!("{} median", kind.name()))
                    .legend(legend_line!(*color, true));
            }
        }
    }
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| !(s.outcome.starts_with('2') || s.outcome == "409"))
        .map(|s| {
            (
                s.at_ms / 1000.0,
                (s.latency_us as f64 / 1000.0).max(y.start),
            )
        })
        .collect();
    if !failed.is_empty() {
        chart
            .draw_series(
                failed
                    .iter()
                    .map(|&p| Cross::new(p, 5, OFF.stroke_width(2))),
            )?
            .label("failed request")
            .legend(|(x, y)| Cross::new((x + 9, y), 5, OFF.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_labels_are_short() {
        assert_eq!(ms_label(0.25), "0.25");
        assert_eq!(ms_label(1.0), "1");
        assert_eq!(ms_label(1.5), "1.5");
        assert_eq!(ms_label(200.0), "200");
    }

    #[test]
    fn runs_break_where_points_are_far_apart() {
        let pts = [(0.0, 1.0), (0.1, 1.0), (0.5, 2.0), (0.6, 2.0)];
        let parts = runs(&pts, 0.15);
        assert_eq!(parts, vec![pts[..2].to_vec(), pts[2..].to_vec()]);
    }

    #[test]
    fn windows_give_median_and_max_per_window_and_kind() {
        let s = |at_ms: f64, kind, latency_us| Sample {
            at_ms,
            kind,
            latency_us,
            outcome: "200".into(),
        };
        let samples = [
            s(10.0, Kind::Trade, 1000),
            s(20.0, Kind::Trade, 3000),
            s(30.0, Kind::Trade, 2000),
            s(40.0, Kind::Lookup, 9000),
            s(150.0, Kind::Trade, 5000),
        ];
        assert_eq!(
            windows(&samples, Kind::Trade, 100.0),
            vec![(0.05, 2.0, 3.0), (0.15, 5.0, 5.0)]
        );
        assert!(windows(&samples, Kind::OrderQuery, 100.0).is_empty());
    }
}
