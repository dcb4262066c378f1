//! `compare`: several optimizers on one function from one start.

use super::{
    convergence_tol, run_trajectory_shaped, run_trajectory_streamed, steps_to_converge, steps_to_converge_rerun, Point,
    Status, Trajectory, KEPT_POINTS,
};
use crate::objective::Function;
use crate::optim::{OptimizerConfig, Point as Reported, Shape2};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::AtomicBool;

/// One optimizer's run and what it reached.
#[derive(Clone, Debug)]
pub struct Run {
    /// Legend label (unique within a comparison).
    pub label: String,
    pub config: OptimizerConfig,
    pub trajectory: Trajectory,
    pub summary: RunSummary,
}

/// The numbers reported for one run (a row of the table and of `summary.json`).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub optimizer: String,
    /// Every hyperparameter, as a spec string that reproduces the run.
    pub spec: String,
    pub lr: f64,
    pub steps: usize,
    /// Function evaluations the optimizer made (LBFGS makes several per step).
    pub evals: u64,
    /// Where the method takes gradients relative to the point reported in `final_x/y` and
    /// in the trajectory: `current`, `look-ahead` (NAG) or `averaged` (Schedule-Free).
    pub point: Reported,
    pub final_x: f64,
    pub final_y: f64,
    pub final_loss: f64,
    pub lowest_loss: f64,
    /// The local minimum the run ended nearest to (its own basin's), if there is one.
    pub nearest_minimum: Option<[f64; 2]>,
    pub distance_to_minimum: Option<f64>,
    /// First step from which the run stays within `tolerance` of `nearest_minimum`.
    pub converged_at: Option<usize>,
    pub tolerance: f64,
    /// Step at which the run diverged (non-finite values or |θ| > 1e12).
    pub diverged_at: Option<usize>,
    /// Step after which Ctrl-C stopped the run (absent when it was not stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<usize>,
}

/// Makes labels unique: a second `adam` becomes `adam #2`.
pub fn unique_labels(configs: &[OptimizerConfig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in configs {
        let base = c.label();
        let n = out.iter().filter(|l| **l == base || l.starts_with(&format!("{base} #"))).count();
        out.push(if n == 0 { base } else { format!("{base} #{}", n + 1) });
    }
    out
}

/// Summarises a trajectory against the function's minima.
pub fn summarize(f: &Function, label: &str, cfg: &OptimizerConfig, traj: &Trajectory, steps: usize) -> RunSummary {
    let last = traj.points.last().copied();
    let (fx, fy, fl) = last.map(|p| (p.x, p.y, p.loss)).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let diverged_at = match traj.status {
        Status::Diverged { step } => Some(step),
        Status::Completed | Status::Interrupted { .. } => None,
    };
    let interrupted_at = match traj.status {
        Status::Interrupted { step } => Some(step),
        _ => None,
    };
    let tol = convergence_tol(f);
    let nearest = if diverged_at.is_none() { f.nearest_minimum([fx, fy]) } else { None };
    let converged_at = nearest.and_then(|(m, _)| steps_to_converge(&traj.points, m, tol));
    RunSummary {
        optimizer: label.to_string(),
        spec: cfg.canonical(),
        lr: cfg.lr(),
        steps,
        evals: last.map_or(0, |p| p.evals),
        point: cfg.method.point,
        final_x: fx,
        final_y: fy,
        final_loss: fl,
        lowest_loss: traj.points.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min),
        nearest_minimum: nearest.map(|n| n.0),
        distance_to_minimum: nearest.map(|n| n.1),
        converged_at: if diverged_at.is_none() { converged_at } else { None },
        tolerance: tol,
        diverged_at,
        interrupted_at,
    }
}

/// Runs every optimizer from `start` for `steps` steps, in parallel; the result does not
/// depend on the number of threads.
pub fn compare(f: &Function, configs: &[OptimizerConfig], start: [f64; 2], steps: usize, shape: Shape2) -> Vec<Run> {
    compare_until(f, configs, start, steps, shape, None)
}

/// [`compare`] that Ctrl-C (`stop`) can end early; the runs keep the points made.
pub fn compare_until(
    f: &Function,
    configs: &[OptimizerConfig],
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    stop: Option<&AtomicBool>,
) -> Vec<Run> {
    let labels = unique_labels(configs);
    configs
        .par_iter()
        .zip(labels.par_iter())
        .map(|(cfg, label)| {
            let trajectory = match stop {
                None => run_trajectory_shaped(f, cfg, start, steps, shape),
                Some(s) => {
                    let mut points = Vec::with_capacity(steps + 1);
                    let status = super::drive(f, cfg, start, steps, shape, Some(s), |p| points.push(*p));
                    Trajectory { points, status }
                }
            };
            let summary = summarize(f, label, cfg, &trajectory, steps);
            Run { label: label.clone(), config: cfg.clone(), trajectory, summary }
        })
        .collect()
}

/// The summary of one run, with memory bounded whatever `steps` is: short runs are kept
/// whole, long ones streamed with exact statistics (as [`compare_streamed`] does).
#[allow(clippy::too_many_arguments)]
pub fn run_summary(
    f: &Function,
    label: &str,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    stop: Option<&AtomicBool>,
) -> RunSummary {
    if steps <= super::IN_MEMORY_STEPS {
        let mut points = Vec::with_capacity(steps + 1);
        let status = super::drive(f, cfg, start, steps, shape, stop, |p| points.push(*p));
        return summarize(f, label, cfg, &Trajectory { points, status }, steps);
    }
    let keep = steps.div_ceil(KEPT_POINTS).max(1);
    let (trajectory, exact) = run_trajectory_streamed(f, cfg, start, steps, shape, keep, stop, |_| {});
    exact_summary(f, label, cfg, start, steps, shape, &trajectory, exact)
}

/// The summary of a run kept only in part: the lowest loss from `exact`, the step of
/// convergence from a second pass.
#[allow(clippy::too_many_arguments)]
fn exact_summary(
    f: &Function,
    label: &str,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    trajectory: &Trajectory,
    exact: super::Streamed,
) -> RunSummary {
    let mut summary = summarize(f, label, cfg, trajectory, steps);
    summary.lowest_loss = exact.lowest_loss;
    if let (Some(m), None) = (summary.nearest_minimum, summary.diverged_at) {
        let ran = trajectory.points.last().map_or(0, |p| p.step);
        summary.converged_at = steps_to_converge_rerun(f, cfg, start, ran, shape, m, summary.tolerance);
    }
    summary
}

/// [`compare`] for long runs: every point goes to `sink(run index, point)` as it is made
/// (the record writer streams it to disk), the runs keep only every k-th point for the
/// figures (at most about [`KEPT_POINTS`]), and their summaries are exact (the lowest loss
/// is tracked, the step of convergence found by a second, deterministic pass). Ctrl-C
/// (`stop`) ends every run early; what was made is kept.
#[allow(clippy::too_many_arguments)]
pub fn compare_streamed(
    f: &Function,
    configs: &[OptimizerConfig],
    start: [f64; 2],
    steps: usize,
    shape: Shape2,
    stop: &AtomicBool,
    sink: &(dyn Fn(usize, &Point) + Sync),
) -> Vec<Run> {
    let labels = unique_labels(configs);
    let keep = steps.div_ceil(KEPT_POINTS).max(1);
    configs
        .par_iter()
        .zip(labels.par_iter())
        .enumerate()
        .map(|(i, (cfg, label))| {
            let (trajectory, exact) =
                run_trajectory_streamed(f, cfg, start, steps, shape, keep, Some(stop), |p| sink(i, p));
            let summary = exact_summary(f, label, cfg, start, steps, shape, &trajectory, exact);
            Run { label: label.clone(), config: cfg.clone(), trajectory, summary }
        })
        .collect()
}
