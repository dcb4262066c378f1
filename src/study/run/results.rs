//! Trial results and failures: their files, read and checked against the plan.

use super::*;
use crate::study::plan::Trial;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A 2-D run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub steps: usize,
    /// Steps taken (the last recorded point).
    pub steps_run: usize,
    pub evals: u64,
    pub final_loss: Option<f64>,
    pub lowest_loss: Option<f64>,
    pub final_point: Option<[f64; 2]>,
    pub nearest_minimum: Option<[f64; 2]>,
    pub distance_to_minimum: Option<f64>,
    /// First step from which the run stays near its nearest minimum.
    pub converged_at: Option<usize>,
    pub diverged_at: Option<usize>,
    /// First step with loss ≤ the target.
    pub steps_to_target: Option<usize>,
    pub evals_to_target: Option<u64>,
    /// (step, loss) at about [`CURVE_POINTS`] evenly spaced steps and the last.
    pub curve: Vec<(usize, f64)>,
}

/// One epoch of a training run (its wall time is in [`RunInfo`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochOutcome {
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub lr: Option<f64>,
}

/// A training run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub epochs: Vec<EpochOutcome>,
    /// (epoch, step) at which the loss became NaN or infinite.
    pub diverged_at: Option<(usize, usize)>,
    pub steps_per_epoch: usize,
    pub final_train_loss: Option<f64>,
    pub final_test_loss: Option<f64>,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    /// First epoch whose test metric meets the target.
    pub epochs_to_target: Option<usize>,
}

/// One evaluation of a language-model run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LmEvalOutcome {
    pub step: usize,
    pub train_loss: Option<f64>,
    pub val_loss: Option<f64>,
    pub lr: Option<f64>,
}

/// A language-model run's outcome (losses in nats per token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LmOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub evals: Vec<LmEvalOutcome>,
    /// The step whose loss became NaN or infinite.
    pub diverged_at: Option<usize>,
    pub final_train_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub best_val_loss: Option<f64>,
    /// First evaluated step whose validation loss meets the target.
    pub steps_to_target: Option<usize>,
}

/// What a trial produced; identical whatever machine, task or thread ran it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Function(FunctionOutcome),
    Train(TrainOutcome),
    LanguageModel(LmOutcome),
}

/// Where and how long a trial ran (differs from run to run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub seconds: f64,
    pub seconds_to_target: Option<f64>,
    pub host: String,
    pub pid: u32,
    /// `3/8`: task 3 of 8, or `all`.
    pub task: String,
    pub kernels: String,
    pub optlab_version: String,
    pub finished_unix: u64,
    /// Seconds of each epoch (training).
    #[serde(default)]
    pub epoch_seconds: Vec<f64>,
}

/// A result file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    pub format: String,
    pub id: usize,
    pub hash: String,
    pub trial: Trial,
    pub outcome: Outcome,
    pub run: RunInfo,
    /// Written last: a file without it is not a result.
    pub complete: bool,
}

/// A failure file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub id: usize,
    pub hash: String,
    pub error: String,
    pub host: String,
    pub pid: u32,
    pub task: String,
    pub unix: u64,
}

/// The result at `path` if it is a complete result of `trial`; `Ok(None)` if there is no
/// file; `Err(why)` if the file is not a valid result (it is then rerun).
pub fn read_result(path: &Path, trial: &Trial) -> Result<Option<TrialResult>, String> {
    use crate::study::store::{read_bounded, ReadError};
    let bytes = match read_bounded(path, 256 << 20) {
        Ok(b) => b,
        Err(ReadError::Missing) => return Ok(None),
        Err(ReadError::TooLarge(_)) => return Err("larger than 256 MB".into()),
        Err(ReadError::NotRegular(what)) => return Err(format!("{what}, not a regular file")),
        Err(e) => return Err(format!("cannot read it ({e})")),
    };
    if bytes.is_empty() {
        return Err("empty".into());
    }
    let r: TrialResult = serde_json::from_slice(&bytes).map_err(|e| format!("not a complete result ({e})"))?;
    if r.format != RESULT_FORMAT {
        return Err(format!("of format '{}'", crate::limits::shorten(&r.format, 40)));
    }
    if r.id != trial.id || r.trial.id != trial.id {
        return Err(format!("the result of trial {}, not {}", r.id, trial.id));
    }
    if r.hash != trial.hash || r.trial != *trial {
        return Err("made for another definition of the trial (the study was planned again)".into());
    }
    if !r.complete {
        return Err("not marked complete".into());
    }
    // 2-D trials have a start, training trials none
    let kind_ok = matches!(
        (&r.outcome, trial.start.is_some()),
        (Outcome::Function(_), true) | (Outcome::Train(_) | Outcome::LanguageModel(_), false)
    );
    if !kind_ok {
        return Err("the outcome is of the wrong kind".into());
    }
    Ok(Some(r))
}

pub(super) fn read_failure(path: &Path, trial: &Trial) -> Option<Failure> {
    let bytes = crate::study::store::read_bounded(path, 16 << 20).ok()?;
    let f: Failure = serde_json::from_slice(&bytes).ok()?;
    (f.id == trial.id && f.hash == trial.hash).then_some(f)
}
