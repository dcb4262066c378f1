//! Figures: contour and 3-D surface plots with trajectories, loss curves. Each figure is
//! drawn once through a backend-generic function and saved as both PNG and SVG. Text uses
//! an embedded DejaVu Sans, so figures render on machines without any system font.
//! Figures read only records (trajectories); they never run optimizers.
//!
//! Every figure finishes on any data: its axis ranges come from [`axis`] (finite, not too
//! narrow, log axes beyond 1e±300 or 60 decades drawn in decades), only points on the axes
//! are drawn, and what had to be clamped or skipped is written on the figure as a note.

pub mod animate;
pub mod axis;
pub mod contour;
pub mod curves;
pub mod lines;
pub mod map;
pub mod study;
pub mod surface;
pub mod sweep;
pub mod theme;

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Size in pixels (PNG) / user units (SVG).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Converts a plotters error into an `anyhow` one.
pub(crate) fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Draws the legend of `chart` in the one style all figures share: a translucent white box
/// (`opacity` of its background) with a grey border, at `pos`, labels in `font_size`.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut plotters::chart::ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
    opacity: f64,
    font_size: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(opacity))
        .border_style(BLACK.mix(0.5))
        .label_font((theme::FONT_FAMILY, font_size))
        .draw()
        .map_err(perr)
}

/// Draws `fig` into a PNG file's bytes.
pub fn render_png<F: Figure>(fig: &F) -> Result<Vec<u8>> {
    theme::init_fonts();
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        fig.draw(&root)?;
        root.present().map_err(perr)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().context("encoding PNG")?;
        writer.write_image_data(&rgb).context("encoding PNG")?;
    }
    Ok(out)
}

/// Draws `fig` as SVG text.
pub fn render_svg<F: Figure>(fig: &F) -> Result<String> {
    theme::init_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        fig.draw(&root)?;
        root.present().map_err(perr)?;
    }
    Ok(svg)
}

/// Writes `<stem>.png` and `<stem>.svg` (atomically, each drawn in memory first); returns
/// both paths.
pub fn save<F: Figure>(fig: &F, stem: &Path) -> Result<Vec<PathBuf>> {
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let bytes = render_png(fig).with_context(|| format!("drawing {}", png.display()))?;
    crate::record::write_atomic(&png, &bytes)?;
    let text = render_svg(fig).with_context(|| format!("drawing {}", svg.display()))?;
    crate::record::write_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

/// [`save`] into an output folder: `<rel>.png` and `<rel>.svg`, tracked by the folder.
pub fn save_in<F: Figure>(fig: &F, out: &mut crate::record::OutDir, rel: &str) -> Result<Vec<PathBuf>> {
    let png = render_png(fig).with_context(|| format!("drawing {rel}.png"))?;
    let a = out.bytes(format!("{rel}.png"), &png)?;
    let svg = render_svg(fig).with_context(|| format!("drawing {rel}.svg"))?;
    let b = out.bytes(format!("{rel}.svg"), svg.as_bytes())?;
    Ok(vec![a, b])
}

/// What a figure needs of one run.
pub struct Series<'a> {
    pub label: String,
    /// (x, y, loss) per recorded step, all finite.
    pub points: Vec<(f64, f64, f64)>,
    pub diverged_at: Option<usize>,
    pub _marker: std::marker::PhantomData<&'a ()>,
}

impl Series<'_> {
    pub fn from_run(run: &crate::experiment::compare::Run) -> Series<'static> {
        Series {
            label: match run.summary.diverged_at {
                Some(k) => format!("{} (diverged at {k})", run.label),
                None => run.label.clone(),
            },
            points: run.trajectory.points.iter().map(|p| (p.x, p.y, p.loss)).collect(),
            diverged_at: run.summary.diverged_at,
            _marker: std::marker::PhantomData,
        }
    }
}

/// Splits a polyline into the pieces inside `view` (x0, x1, y0, y1), cutting segments at
/// the border (Liang–Barsky), so nothing is drawn outside the axes; see [`axis::clip_path`].
pub fn clip_polyline(pts: &[(f64, f64)], view: [f64; 4]) -> Vec<Vec<(f64, f64)>> {
    axis::clip_path(pts, view, false, false)
}

/// The longest caption or note drawn; longer texts (a 100 KB expression) are shortened.
const MAX_TEXT: usize = 240;

/// A title as drawn: shortened when very long.
pub(crate) fn caption(title: &str) -> String {
    crate::limits::shorten(title, MAX_TEXT)
}

/// Makes room for `notes` (what a figure clamped or could not draw) at the bottom of
/// `area`, writes them there in dark red, one per line, and returns the area above for the
/// figure; with no notes, `area` itself (so figures of ordinary data are unchanged).
pub(crate) fn with_notes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    notes: &[String],
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let mut shown: Vec<String> = Vec::new();
    for n in notes {
        let n = crate::limits::shorten(n, MAX_TEXT / 2);
        if !shown.contains(&n) {
            shown.push(n);
        }
    }
    if shown.is_empty() {
        return Ok(area.clone());
    }
    if shown.len() > 4 {
        let more = shown.len() - 3;
        shown.truncate(3);
        shown.push(format!("… and {more} more notes"));
    }
    let (_, h) = area.dim_in_pixel();
    let room = (8 + 16 * shown.len() as u32).min(h / 2);
    let (top, bottom) = area.split_vertically(h - room);
    let style = (theme::FONT_FAMILY, 13).into_font().color(&RGBColor(170, 20, 20));
    for (i, n) in shown.iter().enumerate() {
        bottom.draw(&Text::new(n.clone(), (8, 2 + 16 * i as i32), style.clone())).map_err(perr)?;
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::clip_polyline;

    #[test]
    fn clipping_cuts_segments_at_the_border() {
        let v = [0.0, 1.0, 0.0, 1.0];
        let pieces = clip_polyline(&[(0.5, 0.5), (2.0, 0.5), (2.0, 2.0), (0.5, 0.25)], v);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(0.5, 0.5), (1.0, 0.5)]);
        assert!(pieces.iter().flatten().all(|p| p.0 >= 0.0 && p.0 <= 1.0 && p.1 >= 0.0 && p.1 <= 1.0));
        assert!(clip_polyline(&[(5.0, 5.0), (6.0, 6.0)], v).is_empty());
    }
}
