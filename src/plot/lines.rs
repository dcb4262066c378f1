//! Loss per step (or per function evaluation), one line per run; log scale when every value
//! is positive. Also used for the learning rate per step.

use super::theme::{self, tick, FONT_FAMILY};
use super::{axis, caption, perr, with_notes, Figure, Series};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Loss curves of the runs.
pub struct LossCurves<'a> {
    pub series: &'a [Series<'a>],
    pub title: String,
    pub size: (u32, u32),
    /// The x value of each point of each series (e.g. function evaluations) and the axis
    /// name; `None` plots against the step.
    pub x: Option<(&'static str, Vec<Vec<f64>>)>,
    /// The name of the y axis (`loss` unless set).
    pub y_desc: &'static str,
    /// Empty space above the highest value, as a fraction of the range (room for the legend).
    pub headroom: f64,
}

impl<'a> LossCurves<'a> {
    /// Loss against step.
    pub fn new(series: &'a [Series<'a>], title: String, size: (u32, u32)) -> Self {
        LossCurves { series, title, size, x: None, y_desc: "loss", headroom: 0.05 }
    }

    fn x_at(&self, i: usize, k: usize) -> f64 {
        match &self.x {
            Some((_, xs)) => xs.get(i).and_then(|x| x.get(k)).copied().unwrap_or(k as f64),
            None => k as f64,
        }
    }
}

impl LossCurves<'_> {
    /// Whether the y axis is logarithmic (every loss strictly positive).
    pub fn log_scale(&self) -> bool {
        let all: Vec<f64> =
            self.series.iter().flat_map(|s| s.points.iter().map(|p| p.2)).filter(|v| v.is_finite()).collect();
        !all.is_empty() && all.iter().all(|&v| v > 0.0)
    }
}

impl Figure for LossCurves<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let mut notes = Vec::new();
        let x_max = (0..self.series.len())
            .filter(|&i| !self.series[i].points.is_empty())
            .map(|i| self.x_at(i, self.series[i].points.len() - 1))
            .filter(|x| x.is_finite())
            .fold(1.0f64, f64::max);
        let steps = x_max;
        let x_name = self.x.as_ref().map_or("step", |x| x.0);
        let xfit = axis::linear(x_name, 0.0, steps);
        notes.extend(xfit.note.clone());
        // only finite values are drawn (an lr schedule may overflow to inf)
        let vals: Vec<f64> =
            self.series.iter().flat_map(|s| s.points.iter().map(|p| p.2)).filter(|v| v.is_finite()).collect();
        let (mut lo, mut hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, &v| (a.0.min(v), a.1.max(v)));
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        if vals.is_empty() {
            notes.push(format!("no finite {}; nothing to draw", self.y_desc));
        } else if let Some(k) = self.first_not_finite() {
            notes.push(format!("{} is not finite from step {k} on; drawn up to there", self.y_desc));
        }
        let log_y = self.log_scale();
        // the y range plotters sees: finite, not too narrow; a log axis beyond 1e±300 or
        // wider than 60 decades is drawn in decades
        let yaxis = if log_y {
            axis::Axis::log(self.y_desc, lo, hi, 0.5, 2.0, axis::log_centre(vals.iter().copied()))
        } else {
            axis::Axis::Linear(axis::widen(axis::linear(self.y_desc, lo, hi), 0.05, self.headroom))
        };
        let yfit = yaxis.fit();
        notes.extend(yfit.note.clone());
        let view = [xfit.lo, xfit.hi, yfit.lo, yfit.hi];
        let area = &with_notes(area, &notes)?;
        let mut builder = ChartBuilder::on(area);
        builder.caption(caption(&self.title), (FONT_FAMILY, 20)).margin(14).x_label_area_size(42).y_label_area_size(70);
        let colors: Vec<RGBColor> = (0..self.series.len())
            .map(theme::color)
            .map(|c| if c == WHITE { RGBColor(0, 0, 0) } else { darken(c) })
            .collect();
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_name)
                    .y_desc(if log_y { format!("{} (log scale)", self.y_desc) } else { self.y_desc.to_string() })
                    .x_label_formatter(&|v| tick(*v))
                    .y_label_formatter(&|v| yaxis.label(*v))
                    .label_style((FONT_FAMILY, 14))
                    .axis_desc_style((FONT_FAMILY, 15))
                    .light_line_style(BLACK.mix(0.05))
                    .bold_line_style(BLACK.mix(0.12))
                    .draw()
                    .map_err(perr)?;
                for (i, s) in self.series.iter().enumerate() {
                    let c = colors[i];
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| p.2.is_finite())
                        .map(|(k, p)| (self.x_at(i, k), yaxis.chart(p.2)))
                        .collect();
                    let pieces = axis::clip_path(&pts, view, false, yaxis.clip_log());
                    chart
                        .draw_series(pieces.into_iter().map(|p| PathElement::new(p, c.stroke_width(2))))
                        .map_err(perr)?
                        .label(caption(&s.label))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
                    if s.diverged_at.is_some() {
                        if let Some(p) = s.points.last() {
                            // on the axes: an infinite last value sits on the border
                            let k = xfit.clamp(self.x_at(i, s.points.len() - 1));
                            if let (Some(k), Some(v)) = (k, yaxis.clamp(p.2)) {
                                chart
                                    .draw_series(std::iter::once(Cross::new((k, v), 7, c.stroke_width(3))))
                                    .map_err(perr)?;
                            }
                        }
                    }
                }
                super::legend(&mut chart, SeriesLabelPosition::UpperRight, 0.9, 13)?;
            }};
        }
        if yaxis.is_log() {
            let chart = builder.build_cartesian_2d(xfit.range(), yfit.range().log_scale()).map_err(perr)?;
            body!(chart);
        } else {
            let chart = builder.build_cartesian_2d(xfit.range(), yfit.range()).map_err(perr)?;
            body!(chart);
        }
        Ok(())
    }
}

impl LossCurves<'_> {
    /// The first step after which some run's value is not finite, if any (runs that
    /// diverged say so in their label already, so only the others count).
    fn first_not_finite(&self) -> Option<usize> {
        self.series
            .iter()
            .filter(|s| s.diverged_at.is_none())
            .filter_map(|s| s.points.iter().position(|p| !p.2.is_finite()))
            .min()
    }
}

/// Bright palette colours (yellow, white) are darkened for a white background.
fn darken(c: RGBColor) -> RGBColor {
    let l = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if l > 170.0 {
        let k = 170.0 / l;
        RGBColor((c.0 as f64 * k) as u8, (c.1 as f64 * k) as u8, (c.2 as f64 * k) as u8)
    } else {
        c
    }
}
