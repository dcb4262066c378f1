//! `map`: every optimizer from every start of a grid — which local minimum each start ends
//! in (basins), how many steps it takes, and which starts diverge or stall.
//!
//! All optimizers here act coordinate by coordinate, so one optimizer instance updating the
//! flat vector [x₀, y₀, x₁, y₁, …] of a whole block of starts is exactly the same as running
//! each start on its own — with no per-start allocation and vectorised update loops. Blocks
//! of rows run in parallel (rayon); since the split never changes what a start computes, the
//! result is the same for any number of threads. Gradients are batched and vectorised
//! ([`crate::objective::batch`]): exactly the scalar ones for most built-ins, within a few
//! ulps for the sin–cos functions and typed expressions (the kernels' own sine and cosine),
//! the same bits on every kernel path.

use crate::objective::minima::{self, Descent};
use crate::objective::Function;
use crate::optim::{Layout, OptimizerConfig, Point, Shape2};
use rayon::prelude::*;
use serde::Serialize;

/// What became of one start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Ended at the minimum with this index in [`MapResult::minima`], still for good after `steps`.
    Basin { minimum: u16, steps: u32 },
    /// Non-finite values or |θ| > 1e12 at this step.
    Diverged { step: u32 },
    /// Finite, but not at a minimum after all steps.
    Stalled,
}

/// A basin map of one optimizer.
#[derive(Clone, Debug)]
pub struct MapResult {
    pub label: String,
    pub spec: String,
    pub grid: usize,
    pub domain: [f64; 4],
    /// Row-major from the top-left (y1) corner, `grid`×`grid`.
    pub cells: Vec<Outcome>,
    /// The minima reached, merged within tolerance (shared across optimizers of a run).
    pub minima: Vec<[f64; 2]>,
    /// Set when the classification of end points ran out of its budget: how many end
    /// points of this map were left unclassified (counted as not converged).
    pub note: Option<String>,
}

/// Shares and medians, per optimizer (a row of `map.csv`).
#[derive(Clone, Debug, Serialize)]
pub struct MapSummary {
    pub optimizer: String,
    /// Share of starts ending in each minimum, in `minima` order.
    pub basin_shares: Vec<f64>,
    pub diverged_share: f64,
    pub stalled_share: f64,
    /// Median steps to converge over the converged starts.
    pub median_steps: Option<f64>,
}

/// Settings.
#[derive(Clone, Debug)]
pub struct MapOptions {
    pub grid: usize,
    pub steps: usize,
    pub domain: [f64; 4],
    /// The tensor shape of each start's (x, y), for methods that are not element-wise.
    pub shape: Shape2,
}

/// The start at cell (row, col): cell centres, row 0 at the top (y1).
pub fn cell_start(domain: [f64; 4], grid: usize, row: usize, col: usize) -> [f64; 2] {
    let [x0, x1, y0, y1] = domain;
    [x0 + (x1 - x0) * (col as f64 + 0.5) / grid as f64, y1 - (y1 - y0) * (row as f64 + 0.5) / grid as f64]
}

/// End points classified per block (see [`map`]).
const CLASSIFY_BLOCK: usize = 4096;

/// The most minima a map tells apart (their index is a `u16`).
pub const MAX_MINIMA: usize = u16::MAX as usize;

/// Where one start ended: final point, first bad step, last step in which it moved.
type End = ([f64; 2], Option<u32>, u32);

/// Runs one block of starts: batched as one vector for element-wise methods (every
/// coordinate evolves on its own, so this equals separate runs), one after another
/// otherwise.
/// A set `stop` ends the block early (its ends are then incomplete and are dropped).
fn run_block(
    f: &Function,
    cfg: &OptimizerConfig,
    starts: &[[f64; 2]],
    o: &MapOptions,
    move_tol: f64,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Vec<End> {
    if cfg.elementwise() && cfg.modifiers.iter().all(|m| m.is_elementwise()) {
        run_batch(f, cfg, starts, &Layout::flat(2 * starts.len()), o.steps, move_tol, stop)
    } else {
        let layout = crate::experiment::effective_shape(cfg, o.shape).layout();
        let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
        starts
            .iter()
            .take_while(|_| !stopped())
            .flat_map(|s| run_batch(f, cfg, std::slice::from_ref(s), &layout, o.steps, move_tol, stop))
            .collect()
    }
}

/// Runs starts laid side by side in one parameter vector.
fn run_batch(
    f: &Function,
    cfg: &OptimizerConfig,
    starts: &[[f64; 2]],
    layout: &Layout,
    steps: usize,
    move_tol: f64,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Vec<End> {
    let n = starts.len();
    let mut p: Vec<f64> = starts.iter().flat_map(|s| [s[0], s[1]]).collect();
    let averaged = cfg.method.point == Point::Averaged;
    let mut shown = p.clone();
    let mut prev = p.clone();
    let mut bad: Vec<Option<u32>> = vec![None; n];
    let mut last_move = vec![0u32; n];
    let mut opt = cfg.build::<f64>(layout);
    let move_tol2 = move_tol * move_tol;
    // the batched gradients do not compute the loss: only for methods that never look at it
    let batched = !cfg.method.closure;
    let mut obj = |q: &[f64], g: &mut [f64]| {
        if batched && crate::objective::batch::grad_batch(f, q, g) {
            return 0.0;
        }
        let mut total = 0.0;
        for (qq, gg) in q.chunks_exact(2).zip(g.chunks_exact_mut(2)) {
            let (v, gx, gy) = f.eval(qq[0], qq[1]);
            gg[0] = gx;
            gg[1] = gy;
            total += v;
        }
        total
    };
    for k in 1..=steps as u32 {
        if k % 16 == 1 && stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            break;
        }
        opt.step(&mut p, &mut obj);
        let cur = if averaged {
            opt.report(&p, &mut shown);
            &shown
        } else {
            &p
        };
        for i in 0..n {
            let (x, y) = (cur[2 * i], cur[2 * i + 1]);
            if bad[i].is_none() {
                if !(x.is_finite() && y.is_finite()) || x.abs().max(y.abs()) > crate::experiment::DIVERGENCE_LIMIT {
                    bad[i] = Some(k);
                } else if (x - prev[2 * i]).powi(2) + (y - prev[2 * i + 1]).powi(2) > move_tol2 {
                    last_move[i] = k;
                }
            }
        }
        prev.copy_from_slice(cur);
    }
    (0..n).map(|i| ([prev[2 * i], prev[2 * i + 1]], bad[i], last_move[i])).collect()
}

/// Basin maps of every optimizer over the same grid. Minima are merged within 1e-3 of the
/// domain's diagonal; a start counts as converged when its final point lies within that
/// tolerance of a local minimum, and its steps are those after which it moved less than
/// 1e-6 of the diagonal per step.
pub fn map(f: &Function, configs: &[(String, OptimizerConfig)], o: &MapOptions) -> Vec<MapResult> {
    map_until(f, configs, o, None)
}

/// [`map`] that Ctrl-C (`stop`) can end early: the maps of the optimizers finished before
/// it are returned whole; the one under way and those after it are left out.
pub fn map_until(
    f: &Function,
    configs: &[(String, OptimizerConfig)],
    o: &MapOptions,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Vec<MapResult> {
    let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
    let [x0, x1, y0, y1] = o.domain;
    let diag = (x1 - x0).hypot(y1 - y0);
    let (tol, move_tol) = (1e-3 * diag, 1e-6 * diag);
    let g = o.grid;
    let mut raw = Vec::new();
    for (label, cfg) in configs {
        let rows: Vec<Option<Vec<End>>> = (0..g)
            .into_par_iter()
            .map(|r| {
                if stopped() {
                    return None;
                }
                let starts: Vec<[f64; 2]> = (0..g).map(|c| cell_start(o.domain, g, r, c)).collect();
                Some(run_block(f, cfg, &starts, o, move_tol, stop))
            })
            .collect();
        if stopped() || rows.iter().any(Option::is_none) {
            break;
        }
        let rows: Vec<Vec<End>> = rows.into_iter().flatten().collect();
        raw.push((label.clone(), cfg.canonical(), rows.into_iter().flatten().collect::<Vec<_>>()));
    }
    // Classify the end points: each end point not within `tol` of a minimum found so far is
    // polished to the minimum it is at. Minima are looked up in a spatial hash, and the
    // polishing is bounded by a budget (weighted evaluations, and time as a safety net);
    // past it, end points that match no known minimum count as not converged, and the
    // map's note says how many. The end points are taken in blocks: those of a block that
    // match no minimum yet are polished in parallel (polishing is a pure function of the
    // point), then the block is classified in order, as one pass would, charging the
    // budget in order: the result does not depend on the number of threads.
    let mut merger = minima::Merger::new(tol);
    let mut budget = minima::Budget::map(g.saturating_mul(g).saturating_mul(raw.len()));
    let cost = minima::eval_cost(f);
    let mut results = Vec::new();
    for (label, spec, cells) in raw {
        let (mut skipped, mut beyond) = (0usize, 0usize);
        let mut out: Vec<Outcome> = Vec::with_capacity(cells.len());
        for block in cells.chunks(CLASSIFY_BLOCK) {
            let todo: Vec<[f64; 2]> =
                block.iter().filter(|c| c.1.is_none() && merger.find(c.0).is_none()).map(|c| c.0).collect();
            let polished: Vec<(Descent, u64)> = if budget.exhausted() {
                Vec::new()
            } else {
                todo.par_iter()
                    .map(|&p| {
                        let mut b = minima::Budget::unlimited();
                        let d = minima::polish_in(f, p, &mut b, false);
                        (d, b.evals())
                    })
                    .collect()
            };
            let mut next = 0;
            for &(p, bad, last) in block {
                if let Some(step) = bad {
                    out.push(Outcome::Diverged { step });
                    continue;
                }
                let idx = match merger.find(p) {
                    Some(i) => Some(i),
                    None if budget.exhausted() => {
                        skipped += 1;
                        None
                    }
                    None => {
                        // the first polished point of the block not used yet is this one's
                        while todo[next] != p {
                            next += 1;
                        }
                        let (d, evals) = &polished[next];
                        next += 1;
                        budget.charge(*evals, cost);
                        match *d {
                            Descent::Minimum { point, .. } if (point[0] - p[0]).hypot(point[1] - p[1]) <= tol => {
                                if merger.len() < MAX_MINIMA {
                                    Some(merger.insert(point))
                                } else {
                                    beyond += 1;
                                    None
                                }
                            }
                            _ => None,
                        }
                    }
                };
                out.push(match idx {
                    Some(i) => Outcome::Basin { minimum: i as u16, steps: last },
                    None => Outcome::Stalled,
                });
            }
        }
        let mut notes = Vec::new();
        if skipped > 0 {
            notes.push(format!(
                "classifying end points stopped {}: {} of {} end points of {label} not classified (counted as not converged)",
                budget.describe_stop(),
                crate::limits::group(skipped as u64),
                crate::limits::group(cells.len() as u64)
            ));
        }
        if beyond > 0 {
            notes.push(format!(
                "more than {} minima reached: {} end points of {label} at further minima counted as not converged",
                crate::limits::group(MAX_MINIMA as u64),
                crate::limits::group(beyond as u64)
            ));
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        results.push(MapResult { label, spec, grid: g, domain: o.domain, cells: out, minima: Vec::new(), note });
    }
    let minima = merger.points().to_vec();
    for r in &mut results {
        r.minima = minima.clone();
    }
    results
}

/// Shares and median steps of one map.
pub fn summarize(r: &MapResult) -> MapSummary {
    let n = r.cells.len().max(1) as f64;
    let mut shares = vec![0f64; r.minima.len()];
    let (mut div, mut stall) = (0usize, 0usize);
    let mut steps: Vec<u32> = Vec::new();
    for c in &r.cells {
        match *c {
            Outcome::Basin { minimum, steps: s } => {
                shares[minimum as usize] += 1.0;
                steps.push(s);
            }
            Outcome::Diverged { .. } => div += 1,
            Outcome::Stalled => stall += 1,
        }
    }
    steps.sort_unstable();
    let median = if steps.is_empty() {
        None
    } else if steps.len() % 2 == 1 {
        Some(steps[steps.len() / 2] as f64)
    } else {
        Some((steps[steps.len() / 2 - 1] as f64 + steps[steps.len() / 2] as f64) / 2.0)
    };
    MapSummary {
        optimizer: r.label.clone(),
        basin_shares: shares.iter().map(|s| s / n).collect(),
        diverged_share: div as f64 / n,
        stalled_share: stall as f64 / n,
        median_steps: median,
    }
}
