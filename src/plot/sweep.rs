//! Learning-rate sweeps: final loss and steps to converge against lr (log axis), the stable
//! range of each optimizer shaded; and a heatmap of lr × a second hyperparameter.

use super::theme::{colormap, line_color, tick, FONT_FAMILY};
use super::{axis, caption, perr, with_notes, Figure};
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
        let mut notes = Vec::new();
        // the lr axis: log, over the positive learning rates (in decades beyond 1e±300 or
        // 60 decades)
        let lrs: Vec<f64> = self.points.iter().map(|p| p.lr).collect();
        let xaxis = match axis::positive_bounds(lrs.iter().copied()) {
            Some((lo, hi)) => {
                if lrs.iter().any(|&l| !(l.is_finite() && l > 0.0)) {
                    notes.push("learning rates that are not positive and finite are left out".into());
                }
                axis::Axis::log("learning rate", lo, hi, 1.0, 1.0, axis::log_centre(lrs.iter().copied()))
            }
            None => {
                notes.push("no positive, finite learning rate; nothing to draw".into());
                axis::Axis::Log(axis::log("learning rate", 1.0, 10.0, None))
            }
        };
        let xfit = xaxis.fit();
        notes.extend(xfit.note.clone());
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
        let yaxis = if log_loss {
            axis::Axis::log("final loss", flo, fhi, 0.5, 2.0, axis::log_centre(finite.iter().copied()))
        } else {
            axis::Axis::Linear(axis::widen(axis::linear("final loss", flo, fhi), 0.08, 0.08))
        };
        let yfit = yaxis.fit();
        notes.extend(yfit.note.clone());
        let view = [xfit.lo, xfit.hi, yfit.lo, yfit.hi];
        let area = with_notes(area, &notes)?;
        let area = area.titled(&caption(&self.title), (FONT_FAMILY, 19)).map_err(perr)?;
        let panels = area.split_evenly((1, 2));
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
                        .x_label_formatter(&|v| xaxis.label(*v))
                        .y_label_formatter(&|v| yaxis.label(*v))
                        .label_style((FONT_FAMILY, 12))
                        .light_line_style(BLACK.mix(0.05))
                        .draw()
                        .map_err(perr)?;
                    for (i, o) in self.optimizers.iter().enumerate() {
                        let c = line_color(i);
                        if let Some((a, b)) = stable_range(self.points, o) {
                            let y = if log_loss { flo * 0.6 } else { flo };
                            if let (Some(a), Some(b), Some(y)) = (xaxis.clamp(a), xaxis.clamp(b), yaxis.clamp(y)) {
                                chart
                                    .draw_series(std::iter::once(Rectangle::new([(a, y), (b, y)], c.stroke_width(6))))
                                    .map_err(perr)?;
                            }
                        }
                        let pts: Vec<(f64, f64)> = self
                            .points
                            .iter()
                            .filter(|p| &p.optimizer == o && p.diverged_at.is_none() && p.final_loss.is_finite())
                            .map(|p| (xaxis.chart(p.lr), yaxis.chart(p.final_loss)))
                            .collect();
                        chart
                            .draw_series(
                                axis::clip_path(&pts, view, xaxis.clip_log(), yaxis.clip_log())
                                    .into_iter()
                                    .map(|p| PathElement::new(p, c.stroke_width(2))),
                            )
                            .map_err(perr)?
                            .label(caption(o))
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
                    }
                    super::legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.9, 12)?;
                }};
            }
            match (xaxis.is_log(), yaxis.is_log()) {
                (true, true) => {
                    body!(b.build_cartesian_2d(xfit.range().log_scale(), yfit.range().log_scale()).map_err(perr)?)
                }
                (true, false) => body!(b.build_cartesian_2d(xfit.range().log_scale(), yfit.range()).map_err(perr)?),
                (false, true) => body!(b.build_cartesian_2d(xfit.range(), yfit.range().log_scale()).map_err(perr)?),
                (false, false) => body!(b.build_cartesian_2d(xfit.range(), yfit.range()).map_err(perr)?),
            }
        }
        // right: steps to converge
        let stepfit = axis::linear("steps", 0.0, self.steps as f64);
        let view = [xfit.lo, xfit.hi, stepfit.lo, stepfit.hi];
        let mut b = ChartBuilder::on(&panels[1]);
        b.caption("steps to converge (bars at the bottom of the left panel: stable lr range)", (FONT_FAMILY, 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56);
        macro_rules! steps_body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("learning rate")
                    .y_desc("steps")
                    .x_label_formatter(&|v| xaxis.label(*v))
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
                        .filter_map(|p| p.converged_at.map(|s| (xaxis.chart(p.lr), s as f64)))
                        .collect();
                    chart
                        .draw_series(
                            axis::clip_path(&pts, view, xaxis.clip_log(), false)
                                .into_iter()
                                .map(|p| PathElement::new(p, c.stroke_width(2))),
                        )
                        .map_err(perr)?;
                    chart
                        .draw_series(
                            pts.iter()
                                .filter(|p| xfit.contains(p.0) && stepfit.contains(p.1))
                                .map(|&p| Circle::new(p, 2, c.filled())),
                        )
                        .map_err(perr)?;
                }
            }};
        }
        if xaxis.is_log() {
            steps_body!(b.build_cartesian_2d(xfit.range().log_scale(), stepfit.range()).map_err(perr)?);
        } else {
            steps_body!(b.build_cartesian_2d(xfit.range(), stepfit.range()).map_err(perr)?);
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
        // cells are placed by rank, so any finite values draw; others are left out
        let pts: Vec<&SweepPoint> = self
            .points
            .iter()
            .filter(|p| p.optimizer == self.optimizer && p.lr.is_finite() && p.other.is_some_and(f64::is_finite))
            .collect();
        let mut lrs: Vec<f64> = pts.iter().map(|p| p.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        let mut vs: Vec<f64> = pts.iter().filter_map(|p| p.other).collect();
        vs.sort_by(f64::total_cmp);
        vs.dedup();
        if lrs.len() < 2 || vs.len() < 2 {
            let note = format!(
                "{}: {} finite learning rates × {} finite values of {}; a heatmap needs 2 of each",
                caption(&self.optimizer),
                lrs.len(),
                vs.len(),
                caption(&self.key)
            );
            let area = with_notes(area, &[note])?;
            area.titled(&caption(&self.title), (FONT_FAMILY, 17)).map_err(perr)?;
            return Ok(());
        }
        let (nx, ny) = (lrs.len(), vs.len());
        let mut chart = ChartBuilder::on(area)
            .caption(caption(&self.title), (FONT_FAMILY, 17))
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
