//! The plot of experiment (c): latency by send time around the kill of a replica.

use super::super::crash::CrashRun;
use super::{draw_legend, log_range, ms_label, runs, FONT, GREEN, GREY, OFF, ON, PURPLE};
use bazaar_client::{Kind, Sample};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

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
    draw_downtime(&mut chart, run, &y)?;
    draw_latencies(&mut chart, &series, window)?;
    draw_failures(&mut chart, samples, y.start)?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
    root.present()?;
    Ok(())
}

/// One request type's windows, in the colour it is drawn in.
type KindSeries = (Kind, RGBColor, Vec<(f64, f64, f64)>);

/// The chart every crash plot draws on: seconds across, log-scale milliseconds up.
type LatencyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

/// The victim's downtime shaded, with a dashed, labelled line at the kill and the restart.
fn draw_downtime<'a, 'b: 'a>(
    chart: &mut LatencyChart<'a, 'b>,
    run: &CrashRun,
    y: &std::ops::Range<f64>,
) -> anyhow::Result<()> {
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
    Ok(())
}

/// Per request type, the slowest (solid) and the median (dashed) request of each window, with
/// the lines broken where no request was sent.
fn draw_latencies<'a, 'b: 'a>(
    chart: &mut LatencyChart<'a, 'b>,
    series: &[KindSeries],
    window: f64,
) -> anyhow::Result<()> {
    let gap = 1.5 * window / 1000.0;
    for (kind, color, data) in series {
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
    Ok(())
}

/// Every failed request as a red cross (none is drawn, nor put in the legend, when none failed).
fn draw_failures<'a, 'b: 'a>(
    chart: &mut LatencyChart<'a, 'b>,
    samples: &[Sample],
    floor: f64,
) -> anyhow::Result<()> {
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| !(s.outcome.starts_with('2') || s.outcome == "409"))
        .map(|s| (s.at_ms / 1000.0, (s.latency_us as f64 / 1000.0).max(floor)))
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
