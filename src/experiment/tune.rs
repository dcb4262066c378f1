//! `tune`: for each optimizer, the learning rate with which it reaches the nearest local
//! minimum of the start in the fewest steps.
//!
//! The target is found first by a reliable method (Newton with a line search, steps
//! capped so it stays in the start's basin; see [`crate::objective::minima`]). Then, per
//! optimizer: a log-spaced search over `lr_min..lr_max` (8 points per decade), followed
//! by two refinement rounds of 9 log-spaced points around the best one. Everything is
//! deterministic; runs go in parallel with results independent of the thread count.

use super::{convergence_tol, run_trajectory_shaped, steps_to_converge};
use crate::limits::fmt_value;
use crate::objective::minima::{self, Descent};
use crate::objective::Function;
use crate::optim::OptimizerConfig;
use rayon::prelude::*;
use serde::Serialize;

/// Where the tuner aims.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Minimum {
        point: [f64; 2],
        value: f64,
    },
    /// No local minimum is reachable from the start (e.g. the saddle): nothing to tune.
    None {
        reason: String,
    },
}

/// The outcome for one optimizer.
#[derive(Clone, Debug, Serialize)]
pub struct Tuned {
    pub optimizer: String,
    /// The best learning rate, if any lr in the range reaches the target.
    pub lr: Option<f64>,
    /// Steps it takes with that lr (first step from which it stays within tolerance).
    pub steps: Option<usize>,
    /// Function evaluations the optimizer made up to that step (LBFGS makes several per step).
    pub evals: Option<u64>,
    /// The spec with the tuned lr.
    pub spec: String,
    /// How many runs the search made.
    pub runs: usize,
}

/// Search settings.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    pub lr_min: f64,
    pub lr_max: f64,
    /// Step budget of each trial run.
    pub steps: usize,
    /// The tensor shape of (x, y) (matters for matrix methods only).
    pub shape: crate::optim::Shape2,
    /// When set (by a server whose client left), the trials stop early and count as failed.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions { lr_min: 1e-4, lr_max: 10.0, steps: 10_000, shape: Default::default(), stop: None }
    }
}

/// The local minimum that the start descends to, or why there is none. The descent is
/// bounded by [`minima::Budget::descent`] and its steps grow with the distance from the
/// domain, so a far start (x² + y² from (2000, 0)) still finds its minimum.
pub fn target(f: &Function, start: [f64; 2]) -> Target {
    let mut budget = minima::Budget::descent();
    // four decimals as always; short exponent forms for huge or non-finite coordinates
    let c = |v: f64| if v.abs() < 1e6 { format!("{v:.4}") } else { fmt_value(v) };
    let pt = |p: [f64; 2]| format!("({}, {})", c(p[0]), c(p[1]));
    match minima::descend_in(f, start, minima::step_scale(f), None, &mut budget) {
        Descent::Minimum { point, value } | Descent::Kink { point, value } => Target::Minimum { point, value },
        Descent::Stationary { point, .. } => Target::None {
            reason: format!("the start descends to a stationary point that is not a minimum, {}", pt(point)),
        },
        Descent::Flat { point, .. } => Target::None {
            reason: format!("the function is flat around {} (no slope to descend, no minimum to reach)", pt(point)),
        },
        Descent::Unbounded { .. } | Descent::Left { .. } => Target::None {
            reason: "the function decreases without bound from this start (no local minimum to reach)".into(),
        },
        Descent::NotConverged { point } => {
            Target::None { reason: format!("no minimum found from the start (descent stopped at {})", pt(point)) }
        }
        Descent::Stopped { point } => Target::None {
            reason: format!(
                "no minimum found from the start: the descent stopped {} at {}",
                budget.describe_stop(),
                pt(point)
            ),
        },
    }
}

/// `n` log-spaced values from `a` to `b`, each rounded to 3 significant digits (so tuned
/// learning rates read well and can be typed back), without duplicates.
fn logspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let (la, lb) = (a.ln(), b.ln());
    let mut v: Vec<f64> =
        (0..n).map(|i| round_sig((la + (lb - la) * i as f64 / (n - 1).max(1) as f64).exp(), 3)).collect();
    v.dedup();
    v
}

/// Rounds to `digits` significant digits.
pub fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    // formatting in scientific notation rounds correctly; parsing gives the nearest f64
    format!("{:.*e}", (digits.max(1) - 1) as usize, v).parse().unwrap_or(v)
}

/// Steps to reach `m` with learning rate `lr` (None: never within the budget).
fn trial(
    f: &Function,
    cfg: &OptimizerConfig,
    start: [f64; 2],
    m: [f64; 2],
    lr: f64,
    opts: &TuneOptions,
) -> Option<usize> {
    let traj = match &opts.stop {
        None => run_trajectory_shaped(f, &cfg.with_lr(lr), start, opts.steps, opts.shape),
        Some(stop) => {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return None;
            }
            let mut points = Vec::with_capacity(opts.steps + 1);
            let cfg = cfg.with_lr(lr);
            let status = super::drive(f, &cfg, start, opts.steps, opts.shape, Some(stop), |p| points.push(*p));
            super::Trajectory { points, status }
        }
    };
    steps_to_converge(&traj.points, m, convergence_tol(f)).filter(|_| traj.points.len() == opts.steps + 1)
}

/// Picks the best (fewest steps; ties go to the smaller lr, which is the safer choice).
fn best(results: &[(f64, Option<usize>)]) -> Option<(f64, usize)> {
    results.iter().filter_map(|&(lr, s)| s.map(|s| (lr, s))).min_by(|a, b| a.1.cmp(&b.1).then(a.0.total_cmp(&b.0)))
}

/// Tunes one optimizer's lr to reach `m` from `start`.
pub fn tune_one(f: &Function, cfg: &OptimizerConfig, start: [f64; 2], m: [f64; 2], opts: &TuneOptions) -> Tuned {
    let decades = (opts.lr_max / opts.lr_min).log10().max(0.0);
    let n = (decades * 8.0).round() as usize + 1;
    let grid = logspace(opts.lr_min, opts.lr_max, n);
    let mut results: Vec<(f64, Option<usize>)> =
        grid.par_iter().map(|&lr| (lr, trial(f, cfg, start, m, lr, opts))).collect();
    let mut runs = results.len();
    let mut ratio = (opts.lr_max / opts.lr_min).powf(1.0 / (n - 1).max(1) as f64);
    for _ in 0..2 {
        let Some((lr, _)) = best(&results) else { break };
        let lo = (lr / ratio).max(opts.lr_min);
        let hi = (lr * ratio).min(opts.lr_max);
        let more: Vec<(f64, Option<usize>)> =
            logspace(lo, hi, 9).par_iter().map(|&lr| (lr, trial(f, cfg, start, m, lr, opts))).collect();
        runs += more.len();
        results.extend(more);
        ratio = ratio.powf(0.25);
    }
    let b = best(&results);
    let spec = match b {
        Some((lr, _)) => cfg.with_lr(lr).canonical(),
        None => cfg.canonical(),
    };
    // the evaluations behind the best run's steps (one more run, at the best lr)
    let evals = b.and_then(|(lr, k)| {
        run_trajectory_shaped(f, &cfg.with_lr(lr), start, k, opts.shape).points.get(k).map(|p| p.evals)
    });
    // the method's name and its modifiers: the lr is what varies
    let optimizer = std::iter::once(cfg.name().to_string())
        .chain(cfg.modifiers.iter().map(|m| m.label()))
        .collect::<Vec<_>>()
        .join(" | ");
    Tuned { optimizer, lr: b.map(|b| b.0), steps: b.map(|b| b.1), evals, spec, runs }
}

/// Tunes every optimizer; `Err` carries the reason when there is no minimum to aim at.
pub fn tune(
    f: &Function,
    configs: &[OptimizerConfig],
    start: [f64; 2],
    opts: &TuneOptions,
) -> Result<(Target, Vec<Tuned>), String> {
    let t = target(f, start);
    let m = match &t {
        Target::Minimum { point, .. } => *point,
        Target::None { reason } => return Err(reason.clone()),
    };
    let tuned = configs.iter().map(|c| tune_one(f, c, start, m, opts)).collect();
    Ok((t, tuned))
}
