//! `train --model gpt`: optimizers × seeds training a character-level language model by
//! steps, as nanoGPT's `train.py` does.
//!
//! Every run of a seed starts from the same initial weights and sees the same random
//! windows (drawn from the seed and the step), so optimizers are compared on equal terms.
//! Every `eval_every` steps (and after the last) a run measures the mean loss over
//! `eval_batches` batches of the training split and of the validation split; those windows
//! are drawn once from a fixed seed, so every evaluation of every run sees the same ones.
//! An evaluation is also where epoch-wise schedulers (`every="epoch"`) step and where
//! ReduceLROnPlateau reads the validation loss. Runs go in parallel (rayon), each
//! single-threaded, so results are the same bits for any number of threads.

use super::task::{self, End, Metrics, Period, Plan, Progress, Task};
use crate::data::text::{Part, TextData};
use crate::limits::{self, Allow};
use crate::nn::{Gpt, GptWork};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::train::RunSpec;

/// The seed of the evaluation windows (the same for every run and evaluation).
pub const EVAL_SEED: u64 = 0x5EED_E7A1;

/// How to train. [`LmSettings::validate`] checks them before any work.
#[derive(Clone, Debug)]
pub struct LmSettings {
    pub steps: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Steps between evaluations (0: only after the last step).
    pub eval_every: usize,
    /// Batches of each split per evaluation (0: no evaluation).
    pub eval_batches: usize,
    /// Hand the parameters out ([`LmEvent::Checkpoint`]) every N steps.
    pub checkpoint_every: Option<usize>,
}

impl Default for LmSettings {
    fn default() -> Self {
        LmSettings { steps: 2000, batch_size: 12, eval_every: 250, eval_batches: 20, checkpoint_every: None }
    }
}

impl LmSettings {
    /// Checks the settings, the data's length against the context, and the memory the runs
    /// will hold; one-line errors.
    pub fn validate(&self, model: &Gpt, data: &TextData, runs: usize, allow: Allow) -> Result<(), String> {
        let e = |e: limits::LimitError| e.0;
        limits::STEPS.check_usize(self.steps, allow).map_err(e)?;
        limits::BATCH.check_usize(self.batch_size, allow).map_err(e)?;
        if self.eval_batches > 10_000 {
            return Err(format!("--eval-batches {}: at most 10000", self.eval_batches));
        }
        if runs == 0 {
            return Err("no runs to make (give at least one optimizer and one seed)".into());
        }
        if model.cfg.vocab != data.vocab.len() {
            return Err(format!(
                "the model's vocabulary ({}) is not the data's ({})",
                model.cfg.vocab,
                data.vocab.len()
            ));
        }
        data.check_windows(model.cfg.block_size)?;
        let bytes = self.bytes_needed(model, runs, rayon::current_num_threads());
        let what = format!("training ({runs} runs × {} steps, batch {})", self.steps, self.batch_size);
        crate::nn::model::check_bytes(&what, bytes, allow).map(|_| ())
    }

    /// Bytes the runs hold when `threads` run at once: parameters, gradient, reported copy,
    /// optimizer state (four buffers the size of the parameters) and the workspace of each
    /// running one, and the records of every run.
    pub fn bytes_needed(&self, model: &Gpt, runs: usize, threads: usize) -> Option<u64> {
        let params = (model.n_params as u64).checked_mul(4 * 7)?;
        let running = model.work_bytes(self.batch_size)?.checked_add(params)?;
        let kept = (self.steps as u64).checked_mul(40)?;
        let at_once = runs.min(threads.max(1)) as u64;
        running.checked_mul(at_once)?.checked_add(kept.checked_mul(runs as u64)?)
    }

    /// The steps after which a run evaluates.
    pub fn is_eval_step(&self, step: usize) -> bool {
        self.eval_batches > 0 && (step == self.steps || (self.eval_every > 0 && step.is_multiple_of(self.eval_every)))
    }
}

/// One evaluation of one run (a row of `history.csv`).
#[derive(Clone, Debug, Serialize)]
pub struct EvalRecord {
    pub optimizer: String,
    pub seed: u64,
    pub step: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    /// The learning rate in force for the last step (group 0).
    pub lr: f64,
    /// Training tokens seen so far.
    pub tokens: u64,
    /// Wall time since the run began (training and evaluation).
    pub seconds: f64,
}

/// One training step (a row of `steps.csv`).
#[derive(Clone, Copy, Debug)]
pub struct StepRecord {
    pub loss: f32,
    pub lr: f64,
    /// The gradient's norm before any clipping.
    pub grad_norm: f32,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LmStatus {
    Completed,
    /// The loss became NaN or infinite at this step (1-based).
    Diverged {
        step: usize,
    },
    /// Stopped by the user before this step; the evaluations before it are complete.
    Interrupted {
        step: usize,
    },
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct LmResult {
    pub label: String,
    pub spec: String,
    pub seed: u64,
    pub evals: Vec<EvalRecord>,
    pub steps: Vec<StepRecord>,
    pub status: LmStatus,
    /// The parameters the run ends with (the point the method reports: Schedule-Free's x).
    pub params: Vec<f32>,
    pub seconds: f64,
}

/// Progress reports (`run` indexes the run list).
#[derive(Clone, Debug)]
pub enum LmEvent<'a> {
    Step {
        run: usize,
        step: usize,
        loss: f32,
        tokens_per_s: f64,
    },
    Eval {
        run: usize,
        record: &'a EvalRecord,
    },
    Finished {
        run: usize,
        status: LmStatus,
    },
    /// The parameters after `step` (the point the method reports), every `checkpoint_every` steps.
    Checkpoint {
        run: usize,
        step: usize,
        params: &'a [f32],
    },
}

/// The mean loss over `batches` fixed batches of `part`.
pub fn evaluate(
    model: &Gpt,
    params: &[f32],
    data: &TextData,
    part: Part,
    batches: usize,
    n: usize,
    w: &mut GptWork,
) -> f64 {
    let k = crate::kernels::kernels();
    let t = model.cfg.block_size;
    let (mut x, mut y) = (vec![0u32; n * t], vec![0u32; n * t]);
    let mut sum = 0f64;
    for b in 0..batches {
        data.batch(part, EVAL_SEED, b as u64, n, t, &mut x, &mut y);
        sum += model.loss(k, params, &x, &y, t, w) as f64;
    }
    sum / batches.max(1) as f64
}

/// Character-level language modelling as a [`Task`]: random windows of the training split
/// drawn from the seed and the step; evaluation on fixed windows of both splits
/// (`train_loss`, `val_loss`, and the validation perplexity and bits per character).
struct CharLm<'a> {
    model: &'a Gpt,
    data: &'a TextData,
    s: &'a LmSettings,
}

/// A language-model run's buffers: the workspace and the batch's inputs and targets.
struct LmWork {
    w: GptWork,
    x: Vec<u32>,
    y: Vec<u32>,
}

impl Task for CharLm<'_> {
    type Work = LmWork;
    fn layout(&self) -> crate::optim::Layout {
        self.model.layout()
    }
    fn init(&self, seed: u64) -> Vec<f32> {
        self.model.init(seed)
    }
    fn work(&self) -> LmWork {
        let len = self.s.batch_size * self.model.cfg.block_size;
        LmWork { w: self.model.work(self.s.batch_size), x: vec![0; len], y: vec![0; len] }
    }
    fn batch(&self, seed: u64, step: usize, w: &mut LmWork) {
        let (n, t) = (self.s.batch_size, self.model.cfg.block_size);
        self.data.batch(Part::Train, seed, step as u64, n, t, &mut w.x, &mut w.y);
    }
    fn loss_and_grad(&self, params: &[f32], grad: &mut [f32], w: &mut LmWork) -> f32 {
        let k = crate::kernels::kernels();
        self.model.loss_and_grad(k, params, grad, &w.x, &w.y, self.model.cfg.block_size, &mut w.w)
    }
    fn evaluate(&self, params: &[f32], w: &mut LmWork) -> Metrics {
        let (b, n) = (self.s.eval_batches, self.s.batch_size);
        let train = evaluate(self.model, params, self.data, Part::Train, b, n, &mut w.w);
        let val = evaluate(self.model, params, self.data, Part::Val, b, n, &mut w.w);
        Metrics(vec![
            ("train_loss", train),
            ("val_loss", val),
            ("val_perplexity", val.exp()),
            ("val_bpc", val / std::f64::consts::LN_2),
        ])
    }
    fn watched(&self, m: &Metrics) -> Option<f64> {
        m.get("val_loss")
    }
}

/// Trains one run.
pub fn train_one(
    model: &Gpt,
    data: &TextData,
    run: &RunSpec,
    index: usize,
    s: &LmSettings,
    stop: &AtomicBool,
    observe: &(dyn Fn(LmEvent) + Sync),
) -> LmResult {
    let task = CharLm { model, data, s };
    let tokens = |step: usize| (step * s.batch_size * model.cfg.block_size) as u64;
    let plan = Plan {
        steps: s.steps,
        period: s.eval_every,
        records: s.eval_batches > 0,
        report_every: 10,
        report_global: true,
        grad_norm: true,
        checkpoint_every: s.checkpoint_every,
    };
    let record = |p: &Period| EvalRecord {
        optimizer: run.label.clone(),
        seed: run.seed,
        step: p.step,
        train_loss: p.metrics.get("train_loss").unwrap_or(f64::NAN),
        val_loss: p.metrics.get("val_loss").unwrap_or(f64::NAN),
        lr: p.lr_last,
        tokens: tokens(p.step),
        seconds: p.elapsed,
    };
    let (mut last, mut last_step) = (Instant::now(), 0usize);
    let mut progress = |e: Progress| match e {
        Progress::Step { step, loss } => {
            let dt = last.elapsed().as_secs_f64().max(1e-9);
            let tokens_per_s = (tokens(step) - tokens(last_step)) as f64 / dt;
            observe(LmEvent::Step { run: index, step, loss, tokens_per_s });
            (last, last_step) = (Instant::now(), step);
        }
        Progress::Period(p) => observe(LmEvent::Eval { run: index, record: &record(p) }),
        Progress::Checkpoint { step, params } => observe(LmEvent::Checkpoint { run: index, step, params }),
    };
    let out = task::run(&task, run, &plan, stop, &mut progress);
    let status = match out.end {
        End::Completed => LmStatus::Completed,
        End::Diverged(step) => LmStatus::Diverged { step },
        End::Interrupted(step) => LmStatus::Interrupted { step },
    };
    observe(LmEvent::Finished { run: index, status });
    LmResult {
        label: run.label.clone(),
        spec: run.config.canonical(),
        seed: run.seed,
        evals: out.periods.iter().map(record).collect(),
        steps: out.steps.iter().map(|st| StepRecord { loss: st.loss, lr: st.lr, grad_norm: st.grad_norm }).collect(),
        status,
        params: out.params,
        seconds: out.seconds,
    }
}

/// Trains every run, in parallel over the current rayon pool; results in `runs` order.
pub fn train(
    model: &Gpt,
    data: &TextData,
    runs: &[RunSpec],
    s: &LmSettings,
    stop: &AtomicBool,
    observe: &(dyn Fn(LmEvent) + Sync),
) -> Vec<LmResult> {
    runs.par_iter().enumerate().map(|(i, r)| train_one(model, data, r, i, s, stop, observe)).collect()
}
