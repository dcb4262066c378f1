//! Running one trial through the experiment layer: a 2-D run, a training run, a language-model run.

use super::*;
use crate::experiment::compare::summarize;
use crate::experiment::train::{train_one, RunSpec, RunStatus, TrainSettings};
use crate::experiment::Trajectory;
use crate::optim::{OptimizerConfig, Shape2};
use crate::study::plan::Trial;
use crate::study::{load_function, DataSource, Problem, ProblemKind, Target};
use anyhow::Result;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// A problem made ready once per process (functions with their minima, models, data).
pub(super) enum Ready {
    Function { f: crate::objective::Function, shape: Shape2 },
    Train { model: crate::nn::Model, data: crate::data::Dataset },
    LanguageModel { model: crate::nn::Gpt, data: crate::data::text::TextData },
}

pub(super) fn prepare(p: &Problem) -> Result<Ready, String> {
    match &p.kind {
        ProblemKind::Function { function, domain, shape, .. } => {
            let f = load_function(function, *domain)?;
            let shape = Shape2::parse(shape)?;
            Ok(Ready::Function { f, shape })
        }
        ProblemKind::Train { model, dataset, data, data_dir, .. } => {
            let d = match data {
                DataSource::Subset => crate::data::embedded_mnist(),
                DataSource::Full => {
                    crate::data::load(dataset, data_dir.as_deref().map(Path::new), crate::data::Want::Full)
                }
            }
            .map_err(|e| format!("{e:#}"))?;
            let m = crate::nn::build(model, d.input_shape(), crate::limits::Allow::DEFAULT)
                .map_err(|e| format!("{e:#}"))?;
            Ok(Ready::Train { model: m, data: d })
        }
        ProblemKind::LanguageModel { model, text, .. } => {
            let data = crate::data::text::TextData::load("shakespeare-char", text.as_deref().map(Path::new))
                .map_err(|e| format!("{e:#}"))?;
            let cfg = crate::nn::GptConfig::parse(model, data.vocab.len()).map_err(|e| format!("{e:#}"))?;
            let m = crate::nn::Gpt::new(cfg, crate::limits::Allow::DEFAULT).map_err(|e| format!("{e:#}"))?;
            Ok(Ready::LanguageModel { model: m, data })
        }
    }
}

pub(super) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Runs a 2-D trial; `None` if Ctrl-C stopped it.
pub(super) fn run_function(
    f: &crate::objective::Function,
    shape: Shape2,
    cfg: &OptimizerConfig,
    t: &Trial,
    steps: usize,
    target: Option<Target>,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>)> {
    let start = t.start.unwrap_or(f.start);
    let every = steps.div_ceil(CURVE_POINTS).max(1);
    let goal = match target {
        Some(Target::Loss(v)) => Some(v),
        _ => None,
    };
    let t0 = Instant::now();
    let mut hit: Option<(usize, u64, f64)> = None;
    let mut curve = Vec::with_capacity(CURVE_POINTS + 2);
    let mut last = None;
    let mut watch = |p: &crate::experiment::Point| {
        if hit.is_none() && goal.is_some_and(|g| p.loss <= g) {
            hit = Some((p.step, p.evals, t0.elapsed().as_secs_f64()));
        }
        if p.step.is_multiple_of(every) {
            curve.push((p.step, p.loss));
            last = None;
        } else {
            last = Some((p.step, p.loss));
        }
    };
    let summary = if steps <= crate::experiment::IN_MEMORY_STEPS {
        let mut points = Vec::with_capacity(steps + 1);
        let status = crate::experiment::drive(f, cfg, start, steps, shape, Some(stop), |p| {
            watch(p);
            points.push(*p);
        });
        summarize(f, &t.optimizer_label, cfg, &Trajectory { points, status }, steps)
    } else {
        let keep = steps.div_ceil(crate::experiment::KEPT_POINTS).max(1);
        let (traj, exact) =
            crate::experiment::run_trajectory_streamed(f, cfg, start, steps, shape, keep, Some(stop), &mut watch);
        let mut s = summarize(f, &t.optimizer_label, cfg, &traj, steps);
        s.lowest_loss = exact.lowest_loss;
        if let (Some(m), None) = (s.nearest_minimum, s.diverged_at) {
            let ran = traj.points.last().map_or(0, |p| p.step);
            s.converged_at = crate::experiment::steps_to_converge_rerun(f, cfg, start, ran, shape, m, s.tolerance);
        }
        s
    };
    if summary.interrupted_at.is_some() {
        return None;
    }
    curve.extend(last);
    let status = if summary.diverged_at.is_some() { "diverged" } else { "completed" };
    let steps_run = curve.last().map_or(0, |c| c.0);
    let final_ok = summary.final_x.is_finite();
    let o = FunctionOutcome {
        status: status.into(),
        steps,
        steps_run,
        evals: summary.evals,
        final_loss: finite(summary.final_loss),
        lowest_loss: finite(summary.lowest_loss),
        final_point: final_ok.then_some([summary.final_x, summary.final_y]),
        nearest_minimum: summary.nearest_minimum,
        distance_to_minimum: summary.distance_to_minimum,
        converged_at: summary.converged_at,
        diverged_at: summary.diverged_at,
        steps_to_target: hit.map(|h| h.0),
        evals_to_target: hit.map(|h| h.1),
        curve: curve.into_iter().filter(|c| c.1.is_finite()).collect(),
    };
    Some((Outcome::Function(o), hit.map(|h| h.2)))
}

/// Runs a training trial; `None` if Ctrl-C stopped it.
pub(super) fn run_train(
    model: &crate::nn::Model,
    data: &crate::data::Dataset,
    p: &Problem,
    cfg: &OptimizerConfig,
    t: &Trial,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>, Vec<f64>)> {
    let ProblemKind::Train { epochs, batch_size, limit, test_limit, .. } = &p.kind else { return None };
    let settings = TrainSettings {
        epochs: *epochs,
        batch_size: *batch_size,
        evaluate: true,
        eval_chunk: 500,
        limit_train: *limit,
        limit_test: *test_limit,
    };
    let spec = RunSpec { label: t.optimizer_label.clone(), config: cfg.clone(), seed: t.seed.unwrap_or(0) };
    let r = train_one(model, data, &spec, 0, &settings, stop, &|_| {});
    let diverged_at = match r.status {
        RunStatus::Interrupted { .. } => return None,
        RunStatus::Diverged { epoch, step } => Some((epoch, step)),
        RunStatus::Completed => None,
    };
    let n_train = limit.map_or(data.train.len(), |l| l.min(data.train.len()));
    let epochs_out: Vec<EpochOutcome> = r
        .epochs
        .iter()
        .map(|e| EpochOutcome {
            epoch: e.epoch,
            train_loss: finite(e.train_loss),
            test_loss: e.test_loss.and_then(finite),
            test_accuracy: e.test_accuracy.and_then(finite),
            lr: finite(e.lr),
        })
        .collect();
    let reached = |e: &EpochOutcome| match p.target {
        Some(Target::Loss(v)) => e.test_loss.is_some_and(|l| l <= v),
        Some(Target::Accuracy(v)) => e.test_accuracy.is_some_and(|a| a >= v),
        None => false,
    };
    let hit = epochs_out.iter().position(reached);
    let secs: Vec<f64> = r.epochs.iter().map(|e| e.seconds).collect();
    let last = epochs_out.last();
    let o = TrainOutcome {
        status: if diverged_at.is_some() { "diverged" } else { "completed" }.into(),
        diverged_at,
        steps_per_epoch: n_train.div_ceil(*batch_size),
        final_train_loss: last.and_then(|e| e.train_loss),
        final_test_loss: last.and_then(|e| e.test_loss),
        final_test_accuracy: last.and_then(|e| e.test_accuracy),
        best_test_accuracy: epochs_out.iter().filter_map(|e| e.test_accuracy).reduce(f64::max),
        epochs_to_target: hit.map(|i| i + 1),
        epochs: epochs_out,
    };
    Some((Outcome::Train(o), hit.map(|i| secs[..=i].iter().sum()), secs))
}

/// Runs a language-model trial; `None` if Ctrl-C stopped it.
pub(super) fn run_language_model(
    model: &crate::nn::Gpt,
    data: &crate::data::text::TextData,
    p: &Problem,
    cfg: &OptimizerConfig,
    t: &Trial,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>)> {
    let ProblemKind::LanguageModel { steps, batch_size, eval_every, eval_batches, .. } = &p.kind else { return None };
    let settings = crate::experiment::lm::LmSettings {
        steps: *steps,
        batch_size: *batch_size,
        eval_every: *eval_every,
        eval_batches: *eval_batches,
        checkpoint_every: None,
    };
    let spec = RunSpec { label: t.optimizer_label.clone(), config: cfg.clone(), seed: t.seed.unwrap_or(0) };
    let r = crate::experiment::lm::train_one(model, data, &spec, 0, &settings, stop, &|_| {});
    use crate::experiment::lm::LmStatus;
    let diverged_at = match r.status {
        LmStatus::Interrupted { .. } => return None,
        LmStatus::Diverged { step } => Some(step),
        LmStatus::Completed => None,
    };
    let evals: Vec<LmEvalOutcome> = r
        .evals
        .iter()
        .map(|e| LmEvalOutcome {
            step: e.step,
            train_loss: finite(e.train_loss),
            val_loss: finite(e.val_loss),
            lr: finite(e.lr),
        })
        .collect();
    let hit = match p.target {
        Some(Target::Loss(v)) => evals.iter().position(|e| e.val_loss.is_some_and(|l| l <= v)),
        _ => None,
    };
    let last = evals.last();
    let o = LmOutcome {
        status: if diverged_at.is_some() { "diverged" } else { "completed" }.into(),
        diverged_at,
        final_train_loss: last.and_then(|e| e.train_loss),
        final_val_loss: last.and_then(|e| e.val_loss),
        best_val_loss: evals.iter().filter_map(|e| e.val_loss).reduce(f64::min),
        steps_to_target: hit.map(|i| evals[i].step),
        evals,
    };
    Some((Outcome::LanguageModel(o), hit.map(|i| r.evals[i].seconds)))
}
