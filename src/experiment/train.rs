//! `train`: optimizers × seeds training one model on one dataset.
//!
//! Every optimizer starts from the same initial weights (those of its seed) and sees the
//! same shuffled batches (the order depends only on the seed and the epoch). The seminar
//! reused one model object for all four optimizers, so each continued from the previous
//! one's weights; optlab does not. Runs go in parallel (rayon), each single-threaded, so
//! the results are bit-identical whatever the number of threads.

use crate::data::Dataset;
use crate::nn::Model;
use crate::optim::OptimizerConfig;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    /// Evaluate on the test set after every epoch.
    pub evaluate: bool,
    /// Test samples per forward pass during evaluation.
    pub eval_chunk: usize,
    /// Use only the first N training samples (None: all).
    pub limit_train: Option<usize>,
    /// Use only the first N test samples (None: all).
    pub limit_test: Option<usize>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: 20,
            batch_size: 32,
            evaluate: true,
            eval_chunk: 500,
            limit_train: None,
            limit_test: None,
        }
    }
}

/// One run to make: an optimizer and a seed.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub label: String,
    pub config: OptimizerConfig,
    pub seed: u64,
}

/// One epoch of one run (a row of `history.csv`).
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
    pub optimizer: String,
    pub seed: u64,
    pub epoch: usize,
    /// Mean of the batch losses over the epoch (what the seminar plots).
    pub train_loss: f64,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// The learning rate in force at the end of the epoch (group 0; schedulers move it).
    pub lr: f64,
    /// Wall time of the epoch, training and evaluation.
    pub seconds: f64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    /// The loss became NaN or infinite at this step of this epoch (1-based epoch).
    Diverged {
        epoch: usize,
        step: usize,
    },
    /// Stopped by the user during this epoch; the epochs before it are complete.
    Interrupted {
        epoch: usize,
    },
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub label: String,
    pub spec: String,
    pub seed: u64,
    pub epochs: Vec<EpochRecord>,
    /// (epoch, loss, learning rate in force) of every training step.
    pub step_losses: Vec<(u32, f32, f64)>,
    pub status: RunStatus,
}

/// Progress reports from the runs (`run` indexes the run list).
#[derive(Clone, Debug)]
pub enum Event<'a> {
    Step { run: usize, epoch: usize, step: usize, steps_per_epoch: usize, loss: f32 },
    Epoch { run: usize, record: &'a EpochRecord },
    Finished { run: usize, status: RunStatus },
}

/// The order of the training samples in `epoch` for `seed` (Fisher–Yates, ChaCha8).
pub fn shuffled(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64 + 1));
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// Loss sum and accuracy on the test set.
pub fn evaluate(
    model: &Model,
    params: &[f32],
    data: &Dataset,
    n_test: usize,
    chunk: usize,
    ws: &mut crate::nn::Workspace,
) -> (f64, f64) {
    let (mut loss, mut correct) = (0f64, 0usize);
    let idx: Vec<usize> = (0..n_test).collect();
    for c in idx.chunks(chunk) {
        data.test.gather(c, data.mean, data.std, ws.input_mut(c.len()));
        let labels = &data.test.labels[c[0]..c[0] + c.len()];
        let (l, k) = model.evaluate(params, ws, labels);
        loss += l;
        correct += k;
    }
    (loss / n_test as f64, correct as f64 / n_test as f64)
}

/// Trains one run.
pub fn train_one(
    model: &Model,
    data: &Dataset,
    run: &RunSpec,
    index: usize,
    s: &TrainSettings,
    stop: &AtomicBool,
    observe: &(dyn Fn(Event) + Sync),
) -> RunResult {
    let n_train = s.limit_train.map_or(data.train.len(), |l| l.min(data.train.len()));
    let n_test = s.limit_test.map_or(data.test.len(), |l| l.min(data.test.len()));
    let mut params = model.init(run.seed);
    let mut shown = params.clone();
    let mut opt = run.config.build_with::<f32>(&model.layout(), crate::schedule::Cadence::Training);
    let mut ws = model.workspace(s.batch_size);
    let mut eval_ws = if s.evaluate { Some(model.workspace(s.eval_chunk)) } else { None };
    let steps_per_epoch = n_train.div_ceil(s.batch_size);
    let mut epochs = Vec::with_capacity(s.epochs);
    let mut step_losses = Vec::with_capacity(s.epochs * steps_per_epoch);
    let mut labels = vec![0u8; s.batch_size];
    let mut status = RunStatus::Completed;
    'outer: for epoch in 1..=s.epochs {
        let t0 = Instant::now();
        let order = shuffled(n_train, run.seed, epoch);
        let mut sum = 0f64;
        for (step, batch) in order.chunks(s.batch_size).enumerate() {
            if stop.load(Ordering::Relaxed) {
                status = RunStatus::Interrupted { epoch };
                break 'outer;
            }
            let n = batch.len();
            data.train.gather(batch, data.mean, data.std, ws.input_mut(n));
            for (l, &i) in labels.iter_mut().zip(batch) {
                *l = data.train.labels[i];
            }
            let lab = &labels[..n];
            let lr = *opt.group(0).lr;
            let loss = {
                let mut obj = |p: &[f32], g: &mut [f32]| model.loss_and_grad(p, g, &mut ws, lab);
                opt.step(&mut params, &mut obj)
            };
            step_losses.push((epoch as u32, loss, lr));
            if !loss.is_finite() {
                status = RunStatus::Diverged { epoch, step: step + 1 };
                break 'outer;
            }
            sum += loss as f64;
            if step % 25 == 0 || step + 1 == steps_per_epoch {
                observe(Event::Step { run: index, epoch, step: step + 1, steps_per_epoch, loss });
            }
        }
        let (test_loss, test_accuracy) = match eval_ws.as_mut() {
            Some(ews) => {
                // the point the method returns (Schedule-Free's x; the parameters otherwise)
                opt.report(&params, &mut shown);
                let (l, a) = evaluate(model, &shown, data, n_test, s.eval_chunk, ews);
                (Some(l), Some(a))
            }
            None => (None, None),
        };
        // epoch-wise schedulers step here; ReduceLROnPlateau watches the test loss
        opt.end_epoch(test_loss);
        let rec = EpochRecord {
            optimizer: run.label.clone(),
            seed: run.seed,
            epoch,
            train_loss: sum / steps_per_epoch as f64,
            test_loss,
            test_accuracy,
            lr: *opt.group(0).lr,
            seconds: t0.elapsed().as_secs_f64(),
        };
        observe(Event::Epoch { run: index, record: &rec });
        epochs.push(rec);
    }
    observe(Event::Finished { run: index, status });
    RunResult { label: run.label.clone(), spec: run.config.canonical(), seed: run.seed, epochs, step_losses, status }
}

/// Trains every run, in parallel over the current rayon pool; results in `runs` order.
pub fn train(
    model: &Model,
    data: &Dataset,
    runs: &[RunSpec],
    s: &TrainSettings,
    stop: &AtomicBool,
    observe: &(dyn Fn(Event) + Sync),
) -> Vec<RunResult> {
    runs.par_iter().enumerate().map(|(i, r)| train_one(model, data, r, i, s, stop, observe)).collect()
}
