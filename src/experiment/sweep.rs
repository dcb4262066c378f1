//! `sweep-lr`: final loss and steps to converge as functions of the learning rate (and,
//! optionally, of a second hyperparameter), from one start.

use super::compare::run_summary;
use crate::objective::Function;
use crate::optim::{OptimizerConfig, Shape2, SpecError, Value};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// One run of the sweep (a row of `sweep.csv`).
#[derive(Clone, Debug, Serialize)]
pub struct SweepPoint {
    pub optimizer: String,
    pub lr: f64,
    /// The value of the second hyperparameter (for `--vs`).
    pub other: Option<f64>,
    pub final_loss: f64,
    /// Function evaluations the run made.
    pub evals: u64,
    pub converged_at: Option<usize>,
    pub diverged_at: Option<usize>,
}

pub use super::{linspace, logspace};

/// The configuration with `key` set to `value` (validated like any spec).
pub fn with_param(cfg: &OptimizerConfig, key: &str, value: f64) -> Result<OptimizerConfig, SpecError> {
    cfg.with(key, Value::Num(value)).map_err(|m| SpecError::new(m, 0..0))
}

/// Every optimizer at every lr (× every value of `other`, when given), in parallel; results
/// in input order.
pub fn sweep(
    f: &Function,
    configs: &[(String, OptimizerConfig)],
    start: [f64; 2],
    steps: usize,
    lrs: &[f64],
    other: Option<(&str, &[f64])>,
    shape: Shape2,
) -> Result<Vec<SweepPoint>, SpecError> {
    sweep_until(f, configs, start, steps, lrs, other, shape, None)
}

/// [`sweep`] that Ctrl-C (`stop`) can end early: the runs not yet started are left out,
/// a run under way ends where it is (and counts as not converged).
#[allow(clippy::too_many_arguments)]
pub fn sweep_until(
    f: &Function,
    configs: &[(String, OptimizerConfig)],
    start: [f64; 2],
    steps: usize,
    lrs: &[f64],
    other: Option<(&str, &[f64])>,
    shape: Shape2,
    stop: Option<&AtomicBool>,
) -> Result<Vec<SweepPoint>, SpecError> {
    let mut jobs: Vec<(String, OptimizerConfig, f64, Option<f64>)> = Vec::new();
    for (label, cfg) in configs {
        for &lr in lrs {
            match other {
                None => jobs.push((label.clone(), cfg.with_lr(lr), lr, None)),
                Some((key, values)) => {
                    for &v in values {
                        jobs.push((label.clone(), with_param(&cfg.with_lr(lr), key, v)?, lr, Some(v)));
                    }
                }
            }
        }
    }
    let stopped = || stop.is_some_and(|s| s.load(Ordering::Relaxed));
    Ok(jobs
        .par_iter()
        .filter_map(|(label, cfg, lr, v)| {
            if stopped() {
                return None;
            }
            let s = run_summary(f, label, cfg, start, steps, shape, stop);
            Some(SweepPoint {
                optimizer: label.clone(),
                lr: *lr,
                other: *v,
                final_loss: s.final_loss,
                evals: s.evals,
                converged_at: s.converged_at.filter(|_| s.interrupted_at.is_none()),
                diverged_at: s.diverged_at,
            })
        })
        .collect())
}

/// The stable range of one optimizer: the smallest and largest lr with which it converged.
pub fn stable_range(points: &[SweepPoint], optimizer: &str) -> Option<(f64, f64)> {
    let ok: Vec<f64> =
        points.iter().filter(|p| p.optimizer == optimizer && p.converged_at.is_some()).map(|p| p.lr).collect();
    if ok.is_empty() {
        None
    } else {
        Some((ok.iter().copied().fold(f64::INFINITY, f64::min), ok.iter().copied().fold(0.0, f64::max)))
    }
}
