//! The 3-D surface with the trajectories lying on it, as the seminar draws it.
//! Quads are painted back to front (painter's algorithm), coloured by height.

use super::theme::{self, colormap, tick, Scale, FONT_FAMILY};
use super::{axis, caption, perr, with_notes, Figure, Series};
use crate::objective::Function;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Quads per side of the surface mesh.
const MESH: usize = 40;

/// A 3-D surface plot of `f` over its domain with the runs on it.
pub struct Surface<'a> {
    pub f: &'a Function,
    pub series: &'a [Series<'a>],
    pub title: String,
    pub size: (u32, u32),
}

impl Surface<'_> {
    /// Height drawn for a function value: the value itself, or log10(1 + f − f_min) for
    /// functions coloured on a log scale (otherwise their valleys look flat).
    fn height(&self, v: f64, vmin: f64) -> f64 {
        if self.f.log_scale {
            (1.0 + (v - vmin).max(0.0)).log10()
        } else {
            v
        }
    }
}

impl Figure for Surface<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        // ranges plotters can draw (finite, not too narrow); what changed goes into a note
        let mut notes = Vec::new();
        let [x0, x1, y0, y1] = axis::view(self.f.domain, &mut notes);
        let n = MESH + 1;
        let gx: Vec<f64> = (0..n).map(|i| x0 + (x1 - x0) * i as f64 / MESH as f64).collect();
        let gy: Vec<f64> = (0..n).map(|j| y0 + (y1 - y0) * j as f64 / MESH as f64).collect();
        let raw: Vec<f64> = (0..n * n).map(|k| self.f.value(gx[k % n], gy[k / n])).collect();
        let vmin = raw.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let zs: Vec<f64> = raw.iter().map(|&v| self.height(v, vmin)).collect();
        if !zs.iter().any(|v| v.is_finite()) {
            notes.push("the function is not finite anywhere on the domain; nothing to draw".into());
        }
        let scale = Scale::fit(&zs, false);
        let what = if self.f.log_scale { "log10(1 + f − min f)" } else { "f" };
        let zfit = axis::linear(what, scale.lo, scale.hi);
        notes.extend(zfit.note.clone());
        let (zlo, zhi) = (zfit.lo, zfit.hi);
        area.fill(&WHITE).map_err(perr)?;
        let area = &with_notes(area, &notes)?;

        let mut chart = ChartBuilder::on(area)
            .caption(caption(&self.title), (FONT_FAMILY, 20))
            .margin(10)
            .build_cartesian_3d(x0..x1, zlo..zhi, y0..y1)
            .map_err(perr)?;
        chart.with_projection(|mut p| {
            p.yaw = 0.75;
            p.pitch = 0.45;
            p.scale = 0.8;
            p.into_matrix()
        });
        chart
            .configure_axes()
            .label_style((FONT_FAMILY, 12))
            .x_formatter(&|v| tick(*v))
            .y_formatter(&|v| tick(*v))
            .z_formatter(&|v| tick(*v))
            .light_grid_style(BLACK.mix(0.06))
            .max_light_lines(3)
            .draw()
            .map_err(perr)?;

        // Quads sorted far to near.
        let z = |i: usize, j: usize| zs[j * n + i].clamp(zlo, zhi);
        // quads with a corner where f is undefined (NaN) are left out
        let defined = |i: usize, j: usize| {
            [(i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)].iter().all(|&(a, b)| !z(a, b).is_nan())
        };
        let mut quads: Vec<(i32, usize, usize)> = Vec::with_capacity(MESH * MESH);
        {
            let spec = chart.as_coord_spec();
            for j in 0..MESH {
                for i in (0..MESH).filter(|&i| defined(i, j)) {
                    let (cx, cy) = ((gx[i] + gx[i + 1]) / 2.0, (gy[j] + gy[j + 1]) / 2.0);
                    let cz = (z(i, j) + z(i + 1, j) + z(i, j + 1) + z(i + 1, j + 1)) / 4.0;
                    quads.push((spec.projected_depth(&cx, &cz, &cy), i, j));
                }
            }
        }
        quads.sort_by_key(|q| std::cmp::Reverse(q.0));
        // Each quad is filled and outlined before the next (nearer) one covers it.
        for &(_, i, j) in &quads {
            let mean = (z(i, j) + z(i + 1, j) + z(i, j + 1) + z(i + 1, j + 1)) / 4.0;
            let c = colormap((mean - zlo) / (zhi - zlo));
            let corners = vec![
                (gx[i], z(i, j), gy[j]),
                (gx[i + 1], z(i + 1, j), gy[j]),
                (gx[i + 1], z(i + 1, j + 1), gy[j + 1]),
                (gx[i], z(i, j + 1), gy[j + 1]),
            ];
            let mut outline = corners.clone();
            outline.push(corners[0]);
            chart
                .draw_series([
                    Polygon::new(corners, c.filled()).into_dyn(),
                    PathElement::new(
                        outline,
                        RGBColor((c.0 as f64 * 0.88) as u8, (c.1 as f64 * 0.88) as u8, (c.2 as f64 * 0.88) as u8)
                            .stroke_width(1),
                    )
                    .into_dyn(),
                ])
                .map_err(perr)?;
        }

        // Trajectories on the surface (the part inside the domain and height range).
        let inside = |x: f64, y: f64, h: f64| x >= x0 && x <= x1 && y >= y0 && y <= y1 && h >= zlo && h <= zhi;
        for (k, s) in self.series.iter().enumerate() {
            let color = theme::color(k);
            let mut pieces: Vec<Vec<(f64, f64, f64)>> = vec![vec![]];
            for &(x, y, v) in &s.points {
                let h = self.height(v, vmin);
                if inside(x, y, h) {
                    pieces.last_mut().unwrap().push((x, h, y));
                } else if !pieces.last().unwrap().is_empty() {
                    pieces.push(vec![]);
                }
            }
            pieces.retain(|p| !p.is_empty());
            let halo = if color == WHITE { BLACK.mix(0.7) } else { BLACK.mix(0.55) };
            chart
                .draw_series(pieces.iter().map(|p| PathElement::new(p.clone(), halo.stroke_width(4))))
                .map_err(perr)?;
            chart
                .draw_series(pieces.iter().map(|p| PathElement::new(p.clone(), color.stroke_width(2))))
                .map_err(perr)?
                .label(caption(&s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
            if let Some(end) = pieces.last().and_then(|p| p.last()) {
                chart.draw_series(std::iter::once(Circle::new(*end, 4, color.filled()))).map_err(perr)?;
            }
        }
        super::legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.85, 13)?;
        Ok(())
    }
}
