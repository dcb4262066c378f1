//! Figures of a study: lines with mean ± std bands over seeds (learning-rate sensitivity as
//! DeepOBS draws it, learning curves of the best hyperparameters) and performance profiles
//! as AlgoPerf scores them.

use super::axis::{self, Axis};
use super::theme::{line_color, tick, FONT_FAMILY};
use super::{perr, Figure};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: (x, mean, std) points, and the x values where every seed diverged (drawn as
/// crosses on the top edge).
#[derive(Clone, Debug, Default)]
pub struct BandLine {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
    pub diverged: Vec<f64>,
}

/// Lines with bands, on linear or log axes.
pub struct Bands<'a> {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub log_x: bool,
    /// Log y when every value is positive and they span more than a decade.
    pub log_y: bool,
    pub lines: &'a [BandLine],
    pub size: (u32, u32),
    /// Whether larger values are better: the crosses of diverged runs go to the bottom.
    pub higher_is_better: bool,
    /// Whether x takes whole values only (epochs): ticks at whole numbers.
    pub integer_x: bool,
}

fn finite_range(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) =
        vals.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| (a.0.min(v), a.1.max(v)));
    lo.is_finite().then_some((lo, hi))
}

impl Figure for Bands<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0).chain(l.diverged.iter().copied()));
        let (mut x0, mut x1) = finite_range(xs.filter(|x| !self.log_x || *x > 0.0)).unwrap_or((1.0, 10.0));
        if x1 <= x0 {
            (x0, x1) = if self.log_x { (x0 / 2.0, x1 * 2.0) } else { (x0 - 1.0, x1 + 1.0) };
        }
        let ys = self.lines.iter().flat_map(|l| l.points.iter().flat_map(|p| [p.1 - p.2, p.1, p.1 + p.2]));
        let (mut lo, mut hi) = finite_range(ys).unwrap_or((0.0, 1.0));
        let positive = self.lines.iter().flat_map(|l| l.points.iter()).all(|p| p.1 > 0.0);
        let log_y = self.log_y && positive && {
            let plo = finite_range(self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1))).map_or(1.0, |r| r.0);
            lo = lo.max(plo * 0.5);
            hi / lo > 10.0
        };
        if hi <= lo {
            let d = lo.abs().max(1e-3) * 0.5;
            (lo, hi) = (lo - d, hi + d);
        }
        let hb = self.higher_is_better;
        let title = if log_y { format!("{} (log scale)", self.title) } else { self.title.clone() };
        // the legend stands in a column of its own, right of the axes, so it hides nothing
        let widest = self.lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
        let legend_w = (widest as u32 * 8 + 44).clamp(110, 320).min(self.size.0 / 3);
        let (plot_area, legend_area) = area.split_horizontally(self.size.0.saturating_sub(legend_w));
        let area = &plot_area;
        legend_column(&legend_area, self.lines.iter().map(|l| l.label.as_str()), 50)?;
        // every axis goes through our own axis code: a log axis over more decades than
        // plotters can draw (lr = 1e-200..1e200) becomes a linear axis over the decades
        let plain = |lo: f64, hi: f64| Axis::Linear(axis::linear("", lo, hi));
        let xa = if self.log_x { Axis::log("x", x0, x1, 0.8, 1.25, None) } else { plain(x0, x1) };
        // the y range in values, the floor and top bands are cut at, and the edge where the
        // crosses of diverged runs stand
        let (ya, floor, top, edge) = if log_y {
            let (a, z) = (lo * 0.8, hi * 1.6);
            (Axis::log("y", a, z, 1.0, 1.0, None), a, z, if hb { a * 1.15 } else { hi * 1.3 })
        } else {
            let pad = 0.08 * (hi - lo);
            let (a, z) = (lo - pad, hi + pad);
            (plain(a, z), a, z, if hb { a + 0.5 * pad } else { hi + 0.5 * pad })
        };
        let (fx, fy) = (xa.fit().range(), ya.fit().range());
        let mut b = ChartBuilder::on(area);
        b.caption(&title, (FONT_FAMILY, 18)).margin(12).x_label_area_size(40).y_label_area_size(70);
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                let whole = |v: &f64| if v.fract() == 0.0 { format!("{v:.0}") } else { String::new() };
                let n_x = if self.integer_x { ((x1 - x0) as usize + 1).clamp(2, 11) } else { 10 };
                chart
                    .configure_mesh()
                    .x_desc(self.x_desc.as_str())
                    .y_desc(self.y_desc.as_str())
                    .x_labels(n_x)
                    .x_label_formatter(&|v| if self.integer_x { whole(v) } else { xa.label(*v) })
                    .y_label_formatter(&|v| ya.label(*v))
                    .label_style((FONT_FAMILY, 13))
                    .axis_desc_style((FONT_FAMILY, 14))
                    .light_line_style(BLACK.mix(0.05))
                    .bold_line_style(BLACK.mix(0.12))
                    .draw()
                    .map_err(perr)?;
                let (x, y) = (|v: f64| xa.chart(v), |v: f64| ya.chart(v));
                for (i, l) in self.lines.iter().enumerate() {
                    let c = line_color(i);
                    let pts: Vec<(f64, f64, f64)> =
                        l.points.iter().copied().filter(|p| p.1.is_finite() && p.2.is_finite()).collect();
                    if pts.len() > 1 && pts.iter().any(|p| p.2 > 0.0) {
                        let mut poly: Vec<(f64, f64)> = pts.iter().map(|p| (x(p.0), y((p.1 + p.2).min(top)))).collect();
                        poly.extend(pts.iter().rev().map(|p| (x(p.0), y((p.1 - p.2).max(floor)))));
                        chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.16).filled()))).map_err(perr)?;
                    }
                    chart
                        .draw_series(
                            LineSeries::new(pts.iter().map(|p| (x(p.0), y(p.1))), c.stroke_width(2))
                                .point_size(if pts.len() <= 40 { 3 } else { 0 }),
                        )
                        .map_err(perr)?;
                    chart
                        .draw_series(l.diverged.iter().map(|&d| Cross::new((x(d), y(edge)), 6, c.stroke_width(2))))
                        .map_err(perr)?;
                }
            }};
        }
        match (xa.is_log(), ya.is_log()) {
            (true, true) => body!(b.build_cartesian_2d(fx.log_scale(), fy.log_scale()).map_err(perr)?),
            (true, false) => body!(b.build_cartesian_2d(fx.log_scale(), fy).map_err(perr)?),
            (false, true) => body!(b.build_cartesian_2d(fx, fy.log_scale()).map_err(perr)?),
            (false, false) => body!(b.build_cartesian_2d(fx, fy).map_err(perr)?),
        }
        Ok(())
    }
}

/// A legend in its own column: a coloured line and the label of each series, from `top`.
fn legend_column<'s, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: impl Iterator<Item = &'s str>,
    top: i32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from((FONT_FAMILY, 13).into_font()).color(&BLACK);
    for (i, label) in labels.enumerate() {
        let y = top + 22 * i as i32;
        let c = line_color(i);
        area.draw(&PathElement::new(vec![(6, y), (30, y)], c.stroke_width(3))).map_err(perr)?;
        area.draw(&Text::new(label.to_string(), (36, y - 7), style.clone())).map_err(perr)?;
    }
    Ok(())
}

/// Performance profiles: for each optimizer, the fraction of problems on which its time to
/// target is within a factor τ of the fastest optimizer's.
pub struct Profiles<'a> {
    pub title: String,
    /// (label, performance ratio per problem: ≥ 1, infinite when the target was missed).
    pub lines: &'a [(String, Vec<f64>)],
    pub tau_max: f64,
}

/// ρ(τ) of one optimizer's ratios.
pub fn rho(ratios: &[f64], tau: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    ratios.iter().filter(|&&r| r <= tau).count() as f64 / ratios.len() as f64
}

impl Figure for Profiles<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let tau_max = if self.tau_max > 1.0 { self.tau_max } else { 4.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT_FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1f64..tau_max, -0.02f64..1.05)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc("τ: within this factor of the fastest optimizer's steps (2-D) or epochs (training) to target")
            .y_desc("fraction of problems")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT_FAMILY, 13))
            .axis_desc_style((FONT_FAMILY, 14))
            .light_line_style(BLACK.mix(0.05))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(perr)?;
        for (i, (label, ratios)) in self.lines.iter().enumerate() {
            let c = line_color(i);
            // a step function: jumps at each finite ratio
            let mut cuts: Vec<f64> = ratios.iter().copied().filter(|r| r.is_finite() && *r <= tau_max).collect();
            cuts.sort_by(f64::total_cmp);
            let mut pts = vec![(1.0, rho(ratios, 1.0))];
            for r in cuts {
                let before = pts.last().map_or(0.0, |p| p.1);
                pts.push((r, before));
                pts.push((r, rho(ratios, r)));
            }
            pts.push((tau_max, rho(ratios, tau_max)));
            // lines of equal height are offset a little so that each stays visible
            let dy = 0.006 * i as f64;
            chart
                .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1 - dy)), c.stroke_width(3)))
                .map_err(perr)?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        }
        super::legend(&mut chart, SeriesLabelPosition::LowerRight, 0.9, 13)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_count_the_problems_within_tau() {
        let r = [1.0, 2.0, f64::INFINITY, 1.5];
        assert_eq!(rho(&r, 1.0), 0.25);
        assert_eq!(rho(&r, 2.0), 0.75);
        assert_eq!(rho(&r, 100.0), 0.75);
    }

    #[test]
    fn band_figures_draw_with_nothing_finite() {
        let lines = [BandLine { label: "a".into(), points: vec![(1.0, f64::NAN, 0.0)], diverged: vec![1.0] }];
        let f = Bands {
            title: "t".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            log_x: true,
            log_y: true,
            lines: &lines,
            size: (300, 200),
            higher_is_better: false,
            integer_x: false,
        };
        assert!(crate::plot::render_svg(&f).is_ok());
        let p = Profiles { title: "p".into(), lines: &[("a".into(), vec![f64::INFINITY])], tau_max: 4.0 };
        assert!(crate::plot::render_svg(&p).is_ok());
    }
}
