//! Experiments: run optimizers on objectives and produce records. Nothing here knows
//! about the command line or about figures.

pub mod compare;
pub mod map;
pub mod sweep;
pub mod train;
pub mod tune;

use crate::objective::Function;
use crate::optim::OptimizerConfig;
use serde::Serialize;

/// A parameter is declared diverged once |θ| exceeds this (or anything is non-finite).
pub const DIVERGENCE_LIMIT: f64 = 1e12;

/// One recorded point: the state after `step` steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub step: usize,
    pub x: f64,
    pub y: f64,
    pub loss: f64,
    pub grad_x: f64,
    pub grad_y: f64,
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
}

/// A trajectory of one optimizer from one start.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub points: Vec<Point>,
    pub status: Status,
}

fn point_at(f: &Function, step: usize, p: [f64; 2]) -> Option<Point> {
    let (loss, grad_x, grad_y) = f.eval(p[0], p[1]);
    let pt = Point { step, x: p[0], y: p[1], loss, grad_x, grad_y };
    let finite = [pt.x, pt.y, pt.loss, pt.grad_x, pt.grad_y].iter().all(|v| v.is_finite());
    (finite && p[0].abs() <= DIVERGENCE_LIMIT && p[1].abs() <= DIVERGENCE_LIMIT).then_some(pt)
}

/// Runs `steps` steps of `cfg` on `f` from `start`, recording every point. A diverging run
/// stops at the first bad point and says so.
pub fn run_trajectory(f: &Function, cfg: &OptimizerConfig, start: [f64; 2], steps: usize) -> Trajectory {
    let mut opt = cfg.build::<f64>();
    let mut p = start;
    let mut points = Vec::with_capacity(steps + 1);
    let mut obj = f.objective();
    for k in 0..=steps {
        match point_at(f, k, p) {
            Some(pt) => points.push(pt),
            None => return Trajectory { points, status: Status::Diverged { step: k } },
        }
        if k < steps {
            opt.step(&mut p, &mut obj);
        }
    }
    Trajectory { points, status: Status::Completed }
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

/// The convergence tolerance used for a function: 1e-3 of its domain's diagonal.
pub fn convergence_tol(f: &Function) -> f64 {
    let [x0, x1, y0, y1] = f.domain;
    1e-3 * (x1 - x0).hypot(y1 - y0)
}
