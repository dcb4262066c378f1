//! Learning curves of training runs: the seminar's grid (one panel per optimizer, mean
//! training loss per epoch) and one figure with every optimizer (log-scale training loss
//! and test accuracy), with mean ± std bands over seeds.

use super::theme::{line_color, FONT_FAMILY};
use super::{axis, caption, perr, with_notes, Figure};
use crate::experiment::train::RunResult;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Mean and standard deviation per epoch of one optimizer over its seeds.
#[derive(Clone, Debug)]
pub struct Band {
    pub label: String,
    /// (epoch, mean, std) of the mean training loss.
    pub train: Vec<(f64, f64, f64)>,
    /// (epoch, mean, std) of the test accuracy.
    pub accuracy: Vec<(f64, f64, f64)>,
    pub seeds: usize,
}

/// Groups runs by optimizer label (in first-seen order) and averages over seeds, epoch by
/// epoch, over the epochs every seed completed.
pub fn bands(results: &[RunResult]) -> Vec<Band> {
    let mut labels: Vec<&str> = Vec::new();
    for r in results {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    labels
        .into_iter()
        .map(|l| {
            let runs: Vec<&RunResult> = results.iter().filter(|r| r.label == l).collect();
            let n = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
            let stat = |f: &dyn Fn(&crate::experiment::train::EpochRecord) -> Option<f64>| -> Vec<(f64, f64, f64)> {
                (0..n)
                    .filter_map(|e| {
                        let v: Vec<f64> =
                            runs.iter().filter_map(|r| f(&r.epochs[e])).filter(|v| v.is_finite()).collect();
                        if v.is_empty() {
                            return None;
                        }
                        let n = v.len() as f64;
                        let mut m = v.iter().sum::<f64>() / n;
                        if !m.is_finite() {
                            // values near f64::MAX overflow the sum
                            m = v.iter().map(|x| x / n).sum::<f64>();
                        }
                        let sd = if v.len() > 1 {
                            let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
                            if sd.is_finite() {
                                sd
                            } else {
                                0.0
                            }
                        } else {
                            0.0
                        };
                        Some(((e + 1) as f64, m, sd))
                    })
                    .collect()
            };
            Band {
                label: l.to_string(),
                train: stat(&|r| Some(r.train_loss)),
                accuracy: stat(&|r| r.test_accuracy),
                seeds: runs.len(),
            }
        })
        .collect()
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        vals.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| (a.0.min(v), a.1.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5 * lo.abs().max(1e-3), hi + 0.5 * hi.abs().max(1e-3))
    }
}

/// A labelled, coloured line of (epoch, mean, std) points.
type Line = (String, RGBColor, Vec<(f64, f64, f64)>);

/// Draws one panel, with notes under it when it clamped something or has nothing to draw.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[Line],
    y_desc: &str,
    log_y: bool,
    epochs: usize,
    legend: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut notes = Vec::new();
    let values = || series.iter().flat_map(|s| s.2.iter().flat_map(|p| [p.1 - p.2, p.1 + p.2]));
    let (lo, hi) = range(values());
    if !series.iter().any(|s| s.2.iter().any(|p| p.1.is_finite())) {
        notes.push(format!("{title}: no finite values; nothing to draw"));
    }
    // a log axis only pays off (and only gets tick labels) across more than a decade
    let log_y = log_y && lo > 0.0 && hi / lo > 10.0;
    let title = if log_y { format!("{title} (log scale)") } else { title.to_string() };
    let xfit = axis::linear("epoch", 1.0, epochs.max(2) as f64);
    let yaxis = if log_y {
        axis::Axis::log(
            y_desc,
            lo,
            hi,
            0.8,
            1.25,
            axis::log_centre(series.iter().flat_map(|s| s.2.iter().map(|p| p.1))),
        )
    } else {
        axis::Axis::Linear(axis::widen(axis::linear(y_desc, lo, hi), 0.06, 0.06))
    };
    let yfit = yaxis.fit();
    // the lowest edge of a band on a log axis
    let floor = match yaxis {
        axis::Axis::Log(_) => lo.max(1e-12),
        axis::Axis::Decades(_) => lo,
        axis::Axis::Linear(_) => f64::NEG_INFINITY,
    };
    notes.extend(yfit.note.clone());
    let view = [xfit.lo, xfit.hi, yfit.lo, yfit.hi];
    let area = &with_notes(area, &notes)?;
    let mut b = ChartBuilder::on(area);
    b.caption(caption(&title), (FONT_FAMILY, 17)).margin(10).x_label_area_size(36).y_label_area_size(62);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_desc)
                .x_labels(epochs.clamp(2, 11))
                .x_label_formatter(&|v| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() })
                .y_label_formatter(&|v| yaxis.label(*v))
                .label_style((FONT_FAMILY, 13))
                .axis_desc_style((FONT_FAMILY, 14))
                .light_line_style(BLACK.mix(0.05))
                .bold_line_style(BLACK.mix(0.12))
                .draw()
                .map_err(perr)?;
            for (label, c, pts) in series {
                let c = *c;
                // the points on the axes (mean finite); the band is cut to the axes
                let pts: Vec<(f64, f64, f64)> =
                    pts.iter().copied().filter(|p| p.1.is_finite() && xfit.contains(p.0)).collect();
                if pts.iter().any(|p| p.2 > 0.0) {
                    let on = |v: f64| yaxis.clamp(v).unwrap_or(yfit.lo);
                    let mut poly: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, on(p.1 + p.2))).collect();
                    poly.extend(pts.iter().rev().map(|p| (p.0, on((p.1 - p.2).max(floor)))));
                    chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled()))).map_err(perr)?;
                }
                let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, yaxis.chart(p.1))).collect();
                let style = c.stroke_width(2);
                let dots = if epochs <= 30 { 2 } else { 0 };
                let mut elements: Vec<DynElement<'static, DB, (f64, f64)>> = Vec::new();
                if dots > 0 {
                    for &p in line.iter().filter(|p| yfit.contains(p.1) && (p.1 > 0.0 || !yaxis.is_log())) {
                        elements.push(Circle::new(p, dots, style).into_dyn());
                    }
                }
                for piece in axis::clip_path(&line, view, false, yaxis.clip_log()) {
                    elements.push(PathElement::new(piece, style).into_dyn());
                }
                let s = chart.draw_series(elements).map_err(perr)?;
                if legend {
                    s.label(caption(label))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
                }
            }
            if legend {
                super::legend(&mut chart, SeriesLabelPosition::UpperRight, 0.9, 13)?;
            }
        }};
    }
    if yaxis.is_log() {
        body!(b.build_cartesian_2d(xfit.range(), yfit.range().log_scale()).map_err(perr)?);
    } else {
        body!(b.build_cartesian_2d(xfit.range(), yfit.range()).map_err(perr)?);
    }
    Ok(())
}

/// The most panels the grid shows (the figure grows with each).
pub const MAX_PANELS: usize = 30;

/// The seminar's grid: one panel per optimizer with its mean training loss per epoch.
pub struct CurvesGrid<'a> {
    pub bands: &'a [Band],
    pub title: String,
    pub epochs: usize,
}

impl Figure for CurvesGrid<'_> {
    fn size(&self) -> (u32, u32) {
        let (r, c) = grid(self.bands.len().min(MAX_PANELS));
        (520 * c as u32, 60 + 360 * r as u32)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let mut notes = Vec::new();
        if self.bands.is_empty() {
            notes.push("no runs; nothing to draw".to_string());
        }
        if self.bands.len() > MAX_PANELS {
            notes.push(format!("the first {MAX_PANELS} of {} optimizers are shown", self.bands.len()));
        }
        let area = with_notes(area, &notes)?;
        let area = area.titled(&caption(&self.title), (FONT_FAMILY, 20)).map_err(perr)?;
        let (r, c) = grid(self.bands.len().min(MAX_PANELS));
        for (i, (panel, b)) in area.split_evenly((r, c)).iter().zip(self.bands).enumerate() {
            let title =
                if b.seeds > 1 { format!("{} (mean ± std of {} seeds)", b.label, b.seeds) } else { b.label.clone() };
            draw_panel(
                panel,
                &title,
                &[(b.label.clone(), line_color(i), b.train.clone())],
                "mean train loss",
                false,
                self.epochs,
                false,
            )?;
        }
        Ok(())
    }
}

fn grid(n: usize) -> (usize, usize) {
    match n {
        0 | 1 => (1, 1),
        2 => (1, 2),
        3 | 4 => (2, 2),
        _ => (n.div_ceil(3), 3),
    }
}

/// Every optimizer on one axis: training loss (log scale) and test accuracy.
pub struct Curves<'a> {
    pub bands: &'a [Band],
    pub title: String,
    pub epochs: usize,
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let area = area.titled(&caption(&self.title), (FONT_FAMILY, 20)).map_err(perr)?;
        let panels = area.split_evenly((1, 2));
        let train: Vec<_> =
            self.bands.iter().enumerate().map(|(i, b)| (b.label.clone(), line_color(i), b.train.clone())).collect();
        let acc: Vec<_> =
            self.bands.iter().enumerate().map(|(i, b)| (b.label.clone(), line_color(i), b.accuracy.clone())).collect();
        draw_panel(&panels[0], "mean training loss per epoch", &train, "train loss", true, self.epochs, true)?;
        if acc.iter().any(|a| !a.2.is_empty()) {
            draw_panel(&panels[1], "test accuracy after each epoch", &acc, "accuracy", false, self.epochs, true)?;
        }
        Ok(())
    }
}
