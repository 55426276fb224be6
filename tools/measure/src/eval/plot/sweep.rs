//! The plot of experiment (a): latency against trade probability.

use super::super::sweep::SweepPoint;
use super::{draw_legend, log_range, ms_label, FONT, OFF, ON};
use bazaar_client::Kind;
use plotters::prelude::*;
use std::path::Path;

/// Experiment (a): p50 and p99 of `kind` against p, cache on and off on the same axes.
///
/// # Errors
/// When the file cannot be written.
pub fn sweep_plot(path: &Path, kind: Kind, points: &[SweepPoint]) -> anyhow::Result<()> {
    let all = lines(kind, points);
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
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
    root.present()?;
    Ok(())
}

/// One line of the plot: its legend label, colour, whether it is dashed (p99) and its points.
type Line = (&'static str, RGBColor, bool, Vec<(f64, f64)>);

/// p50 and p99 of `kind` against p, with the cache on and off: the four lines of a sweep plot.
fn lines(kind: Kind, points: &[SweepPoint]) -> [Line; 4] {
    let series = |on: bool, quantile: fn(&bazaar_client::KindSummary) -> u64| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|pt| (pt.cache_size > 0) == on && pt.report.kind(kind).count > 0)
            .map(|pt| (pt.p, quantile(pt.report.kind(kind)) as f64 / 1000.0))
            .collect()
    };
    let p50 = |s: &bazaar_client::KindSummary| s.p50_us;
    let p99 = |s: &bazaar_client::KindSummary| s.p99_us;
    [
        ("cache on, p50", ON, false, series(true, p50)),
        ("cache on, p99", ON, true, series(true, p99)),
        ("cache off, p50", OFF, false, series(false, p50)),
        ("cache off, p99", OFF, true, series(false, p99)),
    ]
}

fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::Lookup => "Lookup",
        Kind::Trade => "Trade",
        Kind::OrderQuery => "Order query",
    }
}
