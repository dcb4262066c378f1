//! `compare --animate`: the optimizers moving together over the contour plot, step by
//! step, with a step counter, as an animated GIF.

use super::contour::{Cache, Contour};
use super::{perr, theme, Series};
use crate::objective::Function;
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::cell::RefCell;
use std::path::Path;

/// Writes `path` (a GIF of `frames` frames, `delay_ms` apart) showing the runs up to each step.
pub fn animate(
    f: &Function,
    series: &[Series],
    view: [f64; 4],
    title: &str,
    path: &Path,
    frames: usize,
    delay_ms: u32,
) -> Result<()> {
    theme::init_fonts();
    let steps = series.iter().map(|s| s.points.len()).max().unwrap_or(1).max(1) - 1;
    let frames = frames.clamp(2, steps.max(1) + 1);
    let size = (720, 620);
    let root = BitMapBackend::gif(path, size, delay_ms)
        .map_err(perr)
        .with_context(|| format!("cannot write {}", path.display()))?
        .into_drawing_area();
    // the coloured contours are computed once and shared by every frame
    let cache = RefCell::new(Cache::default());
    for i in 0..frames {
        // denser frames early, where most of the motion is
        let u = i as f64 / (frames - 1) as f64;
        let k = ((u * u) * steps as f64).round() as usize;
        let cut: Vec<Series> = series
            .iter()
            .map(|s| Series {
                label: s.label.clone(),
                points: s.points[..(k + 1).min(s.points.len())].to_vec(),
                diverged_at: s.diverged_at.filter(|&d| d <= k + 1),
                _marker: std::marker::PhantomData,
            })
            .collect();
        Contour { f, series: &cut, title: format!("{title} — step {k}"), view, size }.draw_cached(&root, &cache)?;
        root.present().map_err(perr)?;
    }
    Ok(())
}
