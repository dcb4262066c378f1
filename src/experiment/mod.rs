//! Experiments: run optimizers on objectives and produce records. Nothing here knows
//! about the command line or about figures.

pub mod compare;
pub mod lm;
pub mod map;
pub mod presets;
pub mod sample;
pub mod seminar;
pub mod sweep;
pub mod task;
pub mod train;
pub mod tune;

use crate::objective::Function;
use crate::optim::{Objective, OptimizerConfig, Shape2};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// A parameter is declared diverged once |θ| exceeds this (or anything is non-finite).
pub const DIVERGENCE_LIMIT: f64 = 1e12;

/// One recorded point: the state after `step` steps.
///
/// `x`, `y` are the point the method reports (for Schedule-Free the averaged point x);
/// `loss` and the gradient are taken there. `at_x`, `at_y` are where the method takes its
/// gradients (Schedule-Free's y; the same as `x`, `y` for other methods).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub step: usize,
    pub x: f64,
    pub y: f64,
    pub loss: f64,
    pub grad_x: f64,
    pub grad_y: f64,
    /// The learning rate in force for step `step` (group 0; after schedulers).
    pub lr: f64,
    /// Function evaluations the optimizer made in steps 1..=`step` (LBFGS makes several
    /// per step; first-order methods one).
    pub evals: u64,
    pub at_x: f64,
    pub at_y: f64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// All requested steps were taken.
    Completed,
    /// At `step` the point, loss or gradient became non-finite or |θ| > 1e12;
    /// the trajectory holds the points before it.
    Diverged { step: usize },
    /// Stopped by the user (Ctrl-C) after `step` steps; the trajectory holds the points up
    /// to it.
    Interrupted { step: usize },
}

/// A trajectory of one optimizer from one start.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub points: Vec<Point>,
    pub status: Status,
}

/// Runs of more steps than this keep only every k-th point in memory (see
/// [`run_trajectory_streamed`]); their records are streamed.
pub const IN_MEMORY_STEPS: usize = 200_000;

/// Points kept in memory (for figures) of a streamed run.
pub const KEPT_POINTS: usize = 100_000;

/// The tensor shape a 2-D run gives its parameter: `shape`, except that a method that
/// needs matrices (Muon) sees the vector as 1x2.
pub fn effective_shape(cfg: &OptimizerConfig, shape: Shape2) -> Shape2 {
    if cfg.method.matrix_only && shape == Shape2::Vector {
        Shape2::Row
    } else {
        shape
    }
}

/// Runs `steps` steps of `cfg` on `f` from `start` (parameter of shape `[2]`), recording
/// every point. A diverging run stops at the first bad point and says so.
pub fn run_trajectory(f: &Function, cfg: &OptimizerConfig, start: [f64; 2], steps: usize) -> Trajectory {
    run_trajectory_shaped(f, cfg, start, steps, Shape2::Vector)
}

/// [`run_trajectory`] with the parameter (x, y) as a tensor of the given shape.
pub fn run_trajectory_shaped(
    f: &Function,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
) -> Trajectory {
    let mut points = Vec::with_capacity(steps.min(IN_MEMORY_STEPS) + 1);
    let status = drive(f, cfg, start, steps, shape, None, |p| points.push(*p));
    Trajectory { points, status }
}

/// Runs `steps` steps and hands every recorded point to `sink` instead of keeping it; stops
/// early when `stop` is set (checked every 1,024 steps). The points are those
/// [`run_trajectory_shaped`] records, in order.
pub fn drive(
    f: &Function,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    stop: Option<&AtomicBool>,
    mut sink: impl FnMut(&Point),
) -> Status {
    let mut opt = cfg.build::<f64>(&effective_shape(cfg, shape).layout());
    let mut p = start;
    let mut shown = start;
    let mut evals = 0u64;
    let mut next_check = 65_536u64;
    let mut f_obj = f.objective();
    for k in 0..=steps {
        opt.report(&p, &mut shown);
        let (loss, mut grad_x, mut grad_y) = f.eval(shown[0], shown[1]);
        if !cfg.modifiers.is_empty() {
            let mut g = [grad_x, grad_y];
            crate::schedule::clip_recorded(&cfg.modifiers, &mut g);
            [grad_x, grad_y] = g;
        }
        let lr = *opt.group(0).lr;
        let pt = Point { step: k, x: shown[0], y: shown[1], loss, grad_x, grad_y, lr, evals, at_x: p[0], at_y: p[1] };
        let finite = [pt.x, pt.y, pt.loss, pt.grad_x, pt.grad_y, p[0], p[1]].iter().all(|v| v.is_finite());
        if !(finite && [pt.x, pt.y, p[0], p[1]].iter().all(|v| v.abs() <= DIVERGENCE_LIMIT)) {
            return Status::Diverged { step: k };
        }
        sink(&pt);
        if k < steps {
            // look every 1024 steps, and every 65,536 evaluations (L-BFGS's steps may make thousands)
            if (k % 1024 == 1023 || evals >= next_check) && stop.is_some() {
                next_check = evals + 65_536;
                if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    return Status::Interrupted { step: k };
                }
            }
            let mut counted = |q: &[f64], g: &mut [f64]| {
                evals += 1;
                f_obj.eval(q, g)
            };
            opt.step(&mut p, &mut counted);
        }
    }
    Status::Completed
}

/// Exact statistics of a run whose points were not all kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streamed {
    pub lowest_loss: f64,
}

/// A long run: every point goes to `sink` (the record writer), every `keep`-th point (and
/// the last) is kept for the figures, and the lowest loss is tracked exactly.
#[allow(clippy::too_many_arguments)]
pub fn run_trajectory_streamed(
    f: &Function,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    keep: usize,
    stop: Option<&AtomicBool>,
    mut sink: impl FnMut(&Point),
) -> (Trajectory, Streamed) {
    let keep = keep.max(1);
    let mut points = Vec::with_capacity((steps / keep).min(KEPT_POINTS * 2) + 2);
    let mut lowest = f64::INFINITY;
    let mut last: Option<Point> = None;
    let status = drive(f, cfg, start, steps, shape, stop, |p| {
        sink(p);
        lowest = lowest.min(p.loss);
        if p.step % keep == 0 {
            points.push(*p);
            last = None;
        } else {
            last = Some(*p);
        }
    });
    points.extend(last);
    (Trajectory { points, status }, Streamed { lowest_loss: lowest })
}

/// [`steps_to_converge`] of a run that was not kept, by running it again (runs are
/// deterministic) and watching the distance to `target`.
pub fn steps_to_converge_rerun(
    f: &Function,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    target: [f64; 2],
    tol: f64,
) -> Option<usize> {
    let mut first = None;
    drive(f, cfg, start, steps, shape, None, |pt| {
        if (pt.x - target[0]).hypot(pt.y - target[1]) <= tol {
            first.get_or_insert(pt.step);
        } else {
            first = None;
        }
    });
    first
}

/// The first step from which the trajectory stays within `tol` of `target` to the end.
pub fn steps_to_converge(points: &[Point], target: [f64; 2], tol: f64) -> Option<usize> {
    let mut first = None;
    for pt in points {
        let d = (pt.x - target[0]).hypot(pt.y - target[1]);
        if d <= tol {
            first.get_or_insert(pt.step);
        } else {
            first = None;
        }
    }
    first
}

/// `n` log-spaced values from `a` to `b` (both included; `a` alone when `n` is 1).
pub fn logspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let (la, lb) = (a.ln(), b.ln());
    (0..n).map(|i| (la + (lb - la) * i as f64 / (n.max(2) - 1) as f64).exp()).collect()
}

/// `n` evenly spaced values from `a` to `b`.
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| a + (b - a) * i as f64 / (n.max(2) - 1) as f64).collect()
}

/// The convergence tolerance used for a function: 1e-3 of the diagonal of the domain it
/// was defined with ([`Function::home`]; a `--domain` that changes the view does not
/// change it).
pub fn convergence_tol(f: &Function) -> f64 {
    let [x0, x1, y0, y1] = f.home;
    1e-3 * (x1 - x0).hypot(y1 - y0)
}
