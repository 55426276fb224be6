//! The SVG plots, drawn with plotters' SVG backend (text becomes `<text>` elements, so no fonts
//! are needed to draw them): the palette, axis labels and legend strokes every plot shares.
//!
//! - [`sweep`], [`timeline`], [`crash`] - one plot per experiment.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

const ON: RGBColor = RGBColor(31, 119, 180);
const OFF: RGBColor = RGBColor(214, 39, 40);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREY: RGBColor = RGBColor(120, 120, 120);
const FONT: &str = "sans-serif";

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

/// The legend, in the same framed, see-through box on every plot.
fn draw_legend<'a, 'b: 'a, Coords: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Coords>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
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

mod crash;
mod sweep;
mod timeline;

pub use crash::{crash_plot, windows};
pub use sweep::sweep_plot;
pub use timeline::timeline_plot;

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
}
