//! Filled contours with isolines, trajectories with start/end markers, a legend.

use super::theme::{self, colormap, tick, Scale, FONT_FAMILY};
use super::{axis, caption, clip_polyline, perr, with_notes, Figure, Series};
use crate::objective::{Function, Kind};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;
use std::cell::RefCell;

/// Colour bands of the filled contours.
const BANDS: usize = 20;

/// Evaluations × operations the filled contours may cost (a few tenths of a second): a
/// long typed expression is sampled on a coarser grid of pixels.
const BUDGET: usize = 40_000_000;

/// Roughly how many operations one value of `f` costs.
fn cost(f: &Function) -> usize {
    match &f.kind {
        Kind::Expr(e) => e.len().max(1),
        Kind::Builtin(_) => 8,
    }
}

/// What a contour works out once for its function, view and size; the frames of an
/// animation share it.
#[derive(Default)]
pub(crate) struct Cache {
    /// The notes and the side of the pixel blocks sampled together.
    prepared: Option<(Vec<String>, usize)>,
    /// The coloured raster of the plotting area and its size.
    raster: Option<((usize, usize), Vec<u8>)>,
}

/// A contour plot of `f` over `view` with the runs drawn on top.
pub struct Contour<'a> {
    pub f: &'a Function,
    pub series: &'a [Series<'a>],
    pub title: String,
    pub view: [f64; 4],
    pub size: (u32, u32),
}

/// Where a run's points lie, for choosing a view: the function's domain, widened to take
/// in trajectories that leave it by up to one domain width on each side.
pub fn view_for(f: &Function, series: &[Series]) -> [f64; 4] {
    let [mut x0, mut x1, mut y0, mut y1] = f.domain;
    let (wx, wy) = (x1 - x0, y1 - y0);
    let (lx0, lx1, ly0, ly1) = (x0 - wx, x1 + wx, y0 - wy, y1 + wy);
    for s in series {
        for &(x, y, _) in &s.points {
            if x >= lx0 && x <= lx1 && y >= ly0 && y <= ly1 {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    [x0, x1, y0, y1]
}

impl Figure for Contour<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        self.draw_cached(area, &RefCell::new(Cache::default()))
    }
}

impl Contour<'_> {
    /// The notes of the figure and the side of the pixel blocks whose colour is sampled
    /// once (1 unless the function is a long expression).
    fn prepare(&self, view: [f64; 4], mut notes: Vec<String>) -> (Vec<String>, usize) {
        let [x0, x1, y0, y1] = view;
        let finite_somewhere = (0..64 * 64).any(|k| {
            let (i, j) = ((k % 64) as f64 + 0.5, (k / 64) as f64 + 0.5);
            self.f.value(x0 + i / 64.0 * (x1 - x0), y0 + j / 64.0 * (y1 - y0)).is_finite()
        });
        if !finite_somewhere {
            notes.push("the function is not finite anywhere in the view; nothing to colour".into());
        }
        let pixels = self.size.0 as usize * self.size.1 as usize;
        let work = pixels.saturating_mul(cost(self.f));
        let block = if work <= BUDGET { 1 } else { ((work as f64 / BUDGET as f64).sqrt().ceil() as usize).max(2) };
        if block > 1 {
            notes.push(format!("a long expression: colours sampled once per {block}×{block} pixels"));
        }
        (notes, block)
    }

    /// The filled contours of `view` on `w`×`h` pixels (RGB), with isolines; the function
    /// is evaluated once per `block`×`block` pixels.
    fn raster(&self, view: [f64; 4], w: usize, h: usize, block: usize) -> Vec<u8> {
        let [x0, x1, y0, y1] = view;
        let at = |i: usize, j: usize| {
            let y = y1 - (j as f64 + 0.5) / h as f64 * (y1 - y0);
            let x = x0 + (i as f64 + 0.5) / w as f64 * (x1 - x0);
            self.f.value(x, y)
        };
        let mut z = vec![0.0; w * h];
        if block <= 1 {
            for j in 0..h {
                for i in 0..w {
                    z[j * w + i] = at(i, j);
                }
            }
        } else {
            let (cw, ch) = (w.div_ceil(block), h.div_ceil(block));
            let coarse: Vec<f64> = (0..cw * ch)
                .map(|k| at(((k % cw) * block + block / 2).min(w - 1), ((k / cw) * block + block / 2).min(h - 1)))
                .collect();
            for j in 0..h {
                for i in 0..w {
                    z[j * w + i] = coarse[(j / block) * cw + i / block];
                }
            }
        }
        let scale = Scale::fit(&z, self.f.log_scale);
        let band_of = |v: f64| (scale.t(v) * BANDS as f64).floor().clamp(0.0, BANDS as f64 - 1.0) as usize;
        let bands: Vec<usize> = z.iter().map(|&v| band_of(v)).collect();
        let mut buf = vec![0u8; w * h * 3];
        for j in 0..h {
            for i in 0..w {
                let k = j * w + i;
                let b = bands[k];
                let c = colormap((b as f64 + 0.5) / BANDS as f64);
                // Isolines at every other band boundary, drawn into the raster: a pixel whose
                // right or lower neighbour lies across such a boundary is darkened.
                let across = |n: usize| {
                    let (lo, hi) = (b.min(n), b.max(n));
                    lo != hi && (lo + 1..=hi).any(|l| l % 2 == 0)
                };
                let line = (i + 1 < w && across(bands[k + 1])) || (j + 1 < h && across(bands[k + w]));
                let d = |x: u8| if line { (x as f64 * 0.6) as u8 } else { x };
                buf[3 * k..3 * k + 3].copy_from_slice(&[d(c.0), d(c.1), d(c.2)]);
            }
        }
        buf
    }

    /// Draws the figure, reusing (and filling) `cache`, which must come from a figure
    /// with the same function, view and size.
    pub(crate) fn draw_cached<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        cache: &RefCell<Cache>,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        // a view plotters can draw (finite, not too narrow); what changed goes into a note
        let mut notes = Vec::new();
        let view = axis::view(self.view, &mut notes);
        let [x0, x1, y0, y1] = view;
        let (notes, block) = cache.borrow_mut().prepared.get_or_insert_with(|| self.prepare(view, notes)).clone();
        area.fill(&WHITE).map_err(perr)?;
        let area = &with_notes(area, &notes)?;
        let mut chart = ChartBuilder::on(area)
            .caption(caption(&self.title), (FONT_FAMILY, 20))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("y")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT_FAMILY, 14))
            .axis_desc_style((FONT_FAMILY, 15))
            .draw()
            .map_err(perr)?;

        // Filled contours: the function sampled at every pixel (or block of pixels),
        // coloured by band.
        let (px, py) = chart.plotting_area().get_pixel_range();
        let (w, h) = ((px.end - px.start).max(2) as usize, (py.end - py.start).max(2) as usize);
        let cached = cache.borrow().raster.as_ref().filter(|r| r.0 == (w, h)).map(|r| r.1.clone());
        let buf = match cached {
            Some(buf) => buf,
            None => {
                let buf = self.raster(view, w, h, block);
                cache.borrow_mut().raster = Some(((w, h), buf.clone()));
                buf
            }
        };
        if let Some(img) = BitMapElement::with_owned_buffer((x0, y1), (w as u32, h as u32), buf) {
            chart.draw_series(std::iter::once(img)).map_err(perr)?;
        }

        // Known minima inside the view.
        let inside = |p: &[f64; 2]| p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
        let mut minima: Vec<[f64; 2]> = self.f.minima().iter().filter(|m| inside(m)).copied().collect();
        if minima.len() > 25 {
            // too many to mark (sin-cos-sq has hundreds): only those the runs ended nearest to
            let ends: Vec<(f64, f64)> =
                self.series.iter().filter_map(|s| s.points.last().map(|p| (p.0, p.1))).collect();
            let all = std::mem::take(&mut minima);
            for e in ends {
                if let Some(m) =
                    all.iter().min_by(|a, b| (a[0] - e.0).hypot(a[1] - e.1).total_cmp(&(b[0] - e.0).hypot(b[1] - e.1)))
                {
                    if !minima.contains(m) {
                        minima.push(*m);
                    }
                }
            }
        }
        chart.draw_series(minima.iter().map(|m| Cross::new((m[0], m[1]), 5, WHITE.stroke_width(2)))).map_err(perr)?;

        // Trajectories: a light halo under each line keeps it visible on any colour.
        for (i, s) in self.series.iter().enumerate() {
            let color = theme::color(i);
            let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1)).collect();
            let pieces = clip_polyline(&pts, view);
            let halo = if color == WHITE { BLACK.mix(0.6) } else { WHITE.mix(0.55) };
            chart
                .draw_series(pieces.iter().map(|p| PathElement::new(p.clone(), halo.stroke_width(4))))
                .map_err(perr)?;
            chart
                .draw_series(pieces.iter().map(|p| PathElement::new(p.clone(), color.stroke_width(2))))
                .map_err(perr)?
                .label(caption(&s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
            if let Some(&(ex, ey, _)) = s.points.last() {
                if ex >= x0 && ex <= x1 && ey >= y0 && ey <= y1 {
                    if s.diverged_at.is_some() {
                        chart
                            .draw_series(std::iter::once(Cross::new((ex, ey), 7, color.stroke_width(3))))
                            .map_err(perr)?;
                    } else {
                        chart
                            .draw_series([
                                Circle::new((ex, ey), 6, BLACK.filled()),
                                Circle::new((ex, ey), 4, color.filled()),
                            ])
                            .map_err(perr)?;
                    }
                }
            }
        }
        if let Some(s) = self.series.first() {
            if let Some(&(sx, sy, _)) = s.points.first().filter(|p| inside(&[p.0, p.1])) {
                chart
                    .draw_series([Circle::new((sx, sy), 7, BLACK.filled()), Circle::new((sx, sy), 5, WHITE.filled())])
                    .map_err(perr)?;
            }
        }
        super::legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.85, 13)?;
        Ok(())
    }
}
