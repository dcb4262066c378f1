//! Basin maps: one image per optimizer (colour = the minimum a start ends in, shade = steps
//! to converge, black = diverged, grey = stalled) and a panel of all optimizers.

use super::theme::{tick, FONT_FAMILY, LINES};
use super::{axis, caption, perr, with_notes, Figure};
use crate::experiment::map::{MapResult, Outcome};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;

/// The colour of basin `i`: the line palette without its grey, which marks stalled starts.
fn basin_color(i: usize) -> RGBColor {
    const PICK: [usize; 9] = [0, 1, 2, 3, 4, 5, 6, 8, 9];
    LINES[PICK[i % PICK.len()]]
}

const GREY: RGBColor = RGBColor(170, 170, 170);

/// Colour of one cell: the basin's colour, darker the more steps it took.
pub fn cell_color(o: Outcome, max_steps: usize) -> RGBColor {
    match o {
        Outcome::Diverged { .. } => RGBColor(0, 0, 0),
        Outcome::Stalled => GREY,
        Outcome::Basin { minimum, steps } => {
            let c = basin_color(minimum as usize);
            let frac = (1.0 + steps as f64).ln() / (1.0 + max_steps.max(1) as f64).ln();
            let k = 1.0 - 0.65 * frac.clamp(0.0, 1.0);
            RGBColor((c.0 as f64 * k) as u8, (c.1 as f64 * k) as u8, (c.2 as f64 * k) as u8)
        }
    }
}

/// Whether the cells of `r` fill its grid and name only minima it lists.
fn consistent(r: &MapResult) -> bool {
    r.grid > 0
        && r.grid.checked_mul(r.grid) == Some(r.cells.len())
        && r.cells.iter().all(|c| match *c {
            Outcome::Basin { minimum, .. } => (minimum as usize) < r.minima.len(),
            _ => true,
        })
}

/// Draws one map, with notes under it when it clamped something or has nothing to draw.
fn draw_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &MapResult,
    steps: usize,
    title: &str,
    small: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut notes = Vec::new();
    let [x0, x1, y0, y1] = axis::view(r.domain, &mut notes);
    if !consistent(r) {
        notes.push(format!("{}: the map has no cells to draw", caption(&r.label)));
    }
    let area = &with_notes(area, &notes)?;
    let mut chart = ChartBuilder::on(area)
        .caption(caption(title), (FONT_FAMILY, if small { 15 } else { 19 }))
        .margin(8)
        .x_label_area_size(if small { 26 } else { 36 })
        .y_label_area_size(if small { 34 } else { 48 })
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT_FAMILY, if small { 11 } else { 13 }))
        .draw()
        .map_err(perr)?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    let (w, h) = ((px.end - px.start).max(1) as usize, (py.end - py.start).max(1) as usize);
    let g = r.grid;
    if !consistent(r) {
        return Ok(());
    }
    let mut buf = vec![0u8; w * h * 3];
    for j in 0..h {
        let row = (j * g / h).min(g - 1);
        for i in 0..w {
            let col = (i * g / w).min(g - 1);
            let c = cell_color(r.cells[row * g + col], steps);
            buf[3 * (j * w + i)..3 * (j * w + i) + 3].copy_from_slice(&[c.0, c.1, c.2]);
        }
    }
    if let Some(img) = BitMapElement::with_owned_buffer((x0, y1), (w as u32, h as u32), buf) {
        chart.draw_series(std::iter::once(img)).map_err(perr)?;
    }
    chart
        .draw_series(
            r.minima
                .iter()
                .filter(|m| m[0] >= x0 && m[0] <= x1 && m[1] >= y0 && m[1] <= y1)
                .map(|m| Cross::new((m[0], m[1]), 4, WHITE.stroke_width(2))),
        )
        .map_err(perr)?;
    Ok(())
}

/// One optimizer's basin map with a legend of the minima.
pub struct BasinMap<'a> {
    pub map: &'a MapResult,
    pub steps: usize,
    pub title: String,
}

impl Figure for BasinMap<'_> {
    fn size(&self) -> (u32, u32) {
        (980, 720)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let (left, right) = area.split_horizontally(720);
        draw_map(&left, self.map, self.steps, &self.title, false)?;
        if !consistent(self.map) {
            return Ok(());
        }
        let summary = crate::experiment::map::summarize(self.map);
        let mut y = 60;
        let text =
            |s: &str, y: i32, c: &RGBColor| Text::new(s.to_string(), (34, y), (FONT_FAMILY, 13).into_font().color(c));
        right.draw(&text("end point of each start", 30, &BLACK)).map_err(perr)?;
        for (i, m) in self.map.minima.iter().enumerate().take(24) {
            let c = basin_color(i);
            right.draw(&Rectangle::new([(10, y - 6), (26, y + 8)], c.filled())).map_err(perr)?;
            let share = summary.basin_shares.get(i).copied().unwrap_or(0.0);
            let label = format!("({}, {}) {:.1}%", tick(m[0]), tick(m[1]), 100.0 * share);
            right.draw(&text(&label, y + 6, &BLACK)).map_err(perr)?;
            y += 22;
        }
        if self.map.minima.len() > 24 {
            right.draw(&text(&format!("… {} minima in all", self.map.minima.len()), y + 6, &BLACK)).map_err(perr)?;
            y += 22;
        }
        for (c, label) in [
            (RGBColor(0, 0, 0), format!("diverged {:.1}%", 100.0 * summary.diverged_share)),
            (GREY, format!("not converged {:.1}%", 100.0 * summary.stalled_share)),
        ] {
            right.draw(&Rectangle::new([(10, y - 6), (26, y + 8)], c.filled())).map_err(perr)?;
            right.draw(&text(&label, y + 6, &BLACK)).map_err(perr)?;
            y += 22;
        }
        let median = summary.median_steps.map_or("-".to_string(), |m| format!("{m:.0}"));
        right.draw(&text(&format!("median steps: {median}"), y + 16, &BLACK)).map_err(perr)?;
        right.draw(&text("darker = more steps", y + 38, &BLACK)).map_err(perr)?;
        Ok(())
    }
}

/// The most maps a panel shows (the figure grows with each).
pub const MAX_PANELS: usize = 30;

/// All optimizers side by side.
pub struct MapPanel<'a> {
    pub maps: &'a [MapResult],
    pub steps: usize,
    pub title: String,
}

impl Figure for MapPanel<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.maps.len().clamp(1, MAX_PANELS);
        let cols = n.min(3);
        let rows = n.div_ceil(cols);
        (380 * cols as u32, 50 + 380 * rows as u32)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE).map_err(perr)?;
        let mut notes = Vec::new();
        if self.maps.is_empty() {
            notes.push("no maps; nothing to draw".to_string());
        }
        if self.maps.len() > MAX_PANELS {
            notes.push(format!("the first {MAX_PANELS} of {} maps are shown", self.maps.len()));
        }
        let area = with_notes(area, &notes)?;
        let area = area.titled(&caption(&self.title), (FONT_FAMILY, 19)).map_err(perr)?;
        let n = self.maps.len().clamp(1, MAX_PANELS);
        let cols = n.min(3);
        let rows = n.div_ceil(cols);
        for (panel, m) in area.split_evenly((rows, cols)).iter().zip(self.maps) {
            draw_map(panel, m, self.steps, &m.label, true)?;
        }
        Ok(())
    }
}
