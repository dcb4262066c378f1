//! Learning-rate sweeps: final loss and steps to converge against lr (log axis), the stable
//! range of each optimizer shaded; and a heatmap of lr × a second hyperparameter.

use super::theme::{colormap, line_color, tick, FONT_FAMILY};
use super::{perr, Figure};
use crate::experiment::sweep::{stable_range, SweepPoint};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Final loss and steps to converge against lr.
pub struct SweepCurves<'a> {
    pub points: &'a [SweepPoint],
    pub optimizers: &'a [String],
    pub title: String,
    pub steps: usize,
}

impl Figure for SweepCurves<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 560)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let area = area.titled(&self.title, (FONT_FAMILY, 19)).map_err(perr)?;
        let panels = area.split_evenly((1, 2));
        let lrs: Vec<f64> = self.points.iter().map(|p| p.lr).collect();
        let (lo, hi) = (lrs.iter().copied().fold(f64::INFINITY, f64::min), lrs.iter().copied().fold(0.0, f64::max));
        let finite: Vec<f64> = self
            .points
            .iter()
            .filter(|p| p.diverged_at.is_none() && p.final_loss.is_finite())
            .map(|p| p.final_loss)
            .collect();
        let (flo, fhi) = (
            finite.iter().copied().fold(f64::INFINITY, f64::min),
            finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let (flo, fhi) = if flo.is_finite() && fhi > flo { (flo, fhi) } else { (0.0, 1.0) };
        let log_loss = flo > 0.0 && fhi / flo > 100.0;
        // left: final loss (diverged runs left out)
        {
            let mut b = ChartBuilder::on(&panels[0]);
            b.caption("final loss (diverged runs left out)", (FONT_FAMILY, 15))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(64);
            macro_rules! body {
                ($chart:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc("learning rate")
                        .y_desc("final loss")
                        .x_label_formatter(&|v| tick(*v))
                        .y_label_formatter(&|v| tick(*v))
                        .label_style((FONT_FAMILY, 12))
                        .light_line_style(BLACK.mix(0.05))
                        .draw()
                        .map_err(perr)?;
                    for (i, o) in self.optimizers.iter().enumerate() {
                        let c = line_color(i);
                        if let Some((a, b)) = stable_range(self.points, o) {
                            let y = if log_loss { flo * 0.6 } else { flo };
                            chart
                                .draw_series(std::iter::once(Rectangle::new([(a, y), (b, y)], c.stroke_width(6))))
                                .map_err(perr)?;
                        }
                        let pts: Vec<(f64, f64)> = self
                            .points
                            .iter()
                            .filter(|p| &p.optimizer == o && p.diverged_at.is_none() && p.final_loss.is_finite())
                            .map(|p| (p.lr, p.final_loss))
                            .collect();
                        chart
                            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                            .map_err(perr)?
                            .label(o.as_str())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
                    }
                    super::legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.9, 12)?;
                }};
            }
            if log_loss {
                body!(b.build_cartesian_2d((lo..hi).log_scale(), (flo * 0.5..fhi * 2.0).log_scale()).map_err(perr)?);
            } else {
                let pad = 0.08 * (fhi - flo);
                body!(b.build_cartesian_2d((lo..hi).log_scale(), flo - pad..fhi + pad).map_err(perr)?);
            }
        }
        // right: steps to converge
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("steps to converge (bars at the bottom of the left panel: stable lr range)", (FONT_FAMILY, 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..self.steps as f64)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc("learning rate")
            .y_desc("steps")
            .x_label_formatter(&|v| tick(*v))
            .label_style((FONT_FAMILY, 12))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(perr)?;
        for (i, o) in self.optimizers.iter().enumerate() {
            let c = line_color(i);
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| &p.optimizer == o)
                .filter_map(|p| p.converged_at.map(|s| (p.lr, s as f64)))
                .collect();
            chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2))).map_err(perr)?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.filled()))).map_err(perr)?;
        }
        Ok(())
    }
}

/// Steps to converge over lr × another hyperparameter, for one optimizer.
pub struct SweepHeatmap<'a> {
    pub points: &'a [SweepPoint],
    pub optimizer: String,
    pub key: String,
    pub title: String,
    pub steps: usize,
}

impl Figure for SweepHeatmap<'_> {
    fn size(&self) -> (u32, u32) {
        (860, 640)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let pts: Vec<&SweepPoint> =
            self.points.iter().filter(|p| p.optimizer == self.optimizer && p.other.is_some()).collect();
        let mut lrs: Vec<f64> = pts.iter().map(|p| p.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        let mut vs: Vec<f64> = pts.iter().filter_map(|p| p.other).collect();
        vs.sort_by(f64::total_cmp);
        vs.dedup();
        if lrs.len() < 2 || vs.len() < 2 {
            return Ok(());
        }
        let (nx, ny) = (lrs.len(), vs.len());
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT_FAMILY, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
            .map_err(perr)?;
        let lr_label = |v: &f64| lrs.get(*v as usize).map(|l| tick(*l)).unwrap_or_default();
        let v_label = |v: &f64| vs.get(*v as usize).map(|l| tick(*l)).unwrap_or_default();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("learning rate (log spaced)")
            .y_desc(self.key.as_str())
            .x_labels(nx.min(8))
            .y_labels(ny.min(10))
            .x_label_formatter(&lr_label)
            .y_label_formatter(&v_label)
            .label_style((FONT_FAMILY, 12))
            .draw()
            .map_err(perr)?;
        let cell = |p: &SweepPoint| -> RGBColor {
            match (p.diverged_at, p.converged_at) {
                (Some(_), _) => RGBColor(0, 0, 0),
                (None, Some(s)) => colormap(1.0 - (1.0 + s as f64).ln() / (1.0 + self.steps as f64).ln()),
                (None, None) => RGBColor(170, 170, 170),
            }
        };
        chart
            .draw_series(pts.iter().map(|p| {
                let i = lrs.iter().position(|l| *l == p.lr).unwrap_or(0) as f64;
                let j = vs.iter().position(|v| Some(*v) == p.other).unwrap_or(0) as f64;
                Rectangle::new([(i, j), (i + 1.0, j + 1.0)], cell(p).filled())
            }))
            .map_err(perr)?;
        Ok(())
    }
}
