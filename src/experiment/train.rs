//! `train`: optimizers × seeds training one model on one dataset.
//!
//! Every optimizer starts from the same initial weights (those of its seed) and sees the
//! same shuffled batches (the order depends only on the seed and the epoch). The seminar
//! reused one model object for all four optimizers, so each continued from the previous
//! one's weights; optlab does not. Runs go in parallel (rayon), each single-threaded, so
//! the results are bit-identical whatever the number of threads.

use super::task::{self, End, Metrics, Period, Plan, Progress, Task};
use crate::data::Dataset;
use crate::limits::{self, Allow};
use crate::nn::Model;
use crate::optim::OptimizerConfig;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::AtomicBool;

/// How to train. [`TrainSettings::validate`] checks them before any work; [`train`] and
/// [`train_one`] expect settings that passed it.
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

impl TrainSettings {
    /// The training samples a run uses: the first `limit_train` of the training set.
    pub fn n_train(&self, data: &Dataset) -> usize {
        self.limit_train.map_or(data.train.len(), |l| l.min(data.train.len()))
    }

    /// The test samples each evaluation uses (0: the runs have no test metrics).
    pub fn n_test(&self, data: &Dataset) -> usize {
        self.limit_test.map_or(data.test.len(), |l| l.min(data.test.len()))
    }

    /// Checks, before any work, that `runs` runs of `model` on `data` with these settings
    /// can be made: epochs and batch size within their limits, a training set that is not
    /// empty (`limit_train` of 0 is an error), a model built for the data's image shape,
    /// and the memory the runs will hold (parameters, gradients, activations, optimizer
    /// state estimated at four buffers the size of the parameters, and the records) within
    /// [`limits::BYTES`]. The error is one line, for the command line to print.
    pub fn validate(&self, model: &Model, data: &Dataset, runs: usize, allow: Allow) -> Result<(), String> {
        let e = |e: limits::LimitError| e.0;
        limits::EPOCHS.check_usize(self.epochs, allow).map_err(e)?;
        limits::BATCH.check_usize(self.batch_size, allow).map_err(e)?;
        if self.limit_train == Some(0) {
            return Err("--limit 0: need at least 1 training image".into());
        }
        if self.evaluate && self.eval_chunk == 0 {
            return Err("the evaluation chunk must hold at least 1 test image".into());
        }
        if runs == 0 {
            return Err("no runs to make (give at least one optimizer and one seed)".into());
        }
        let n_train = self.n_train(data);
        if n_train == 0 {
            return Err(format!("{}: the training set holds no images", data.train.file));
        }
        let shape = data.input_shape();
        if model.input != shape {
            let m = model.input;
            return Err(format!(
                "the model '{}' takes inputs of {}×{}×{}, but the images of {} are {}×{} (build it for the data's shape)",
                crate::nn::spec::show(&model.name, 40),
                m.c,
                m.h,
                m.w,
                data.train.file,
                shape.h,
                shape.w
            ));
        }
        let bytes = self.bytes_needed(model, data, runs, rayon::current_num_threads());
        let what = format!("training ({runs} runs × {} epochs, batch {})", self.epochs, self.batch_size);
        crate::nn::model::check_bytes(&what, bytes, allow).map(|_| ())
    }

    /// An estimate of the bytes `runs` runs hold when `threads` of them run at once: each
    /// running one its parameters, gradient, reported copy, optimizer state (four buffers
    /// the size of the parameters), workspaces and batch order; every run its records.
    /// `None` if it does not fit in 64 bits.
    pub fn bytes_needed(&self, model: &Model, data: &Dataset, runs: usize, threads: usize) -> Option<u64> {
        let (n_train, n_test) = (self.n_train(data) as u64, self.n_test(data) as u64);
        let params = (model.n_params as u64).checked_mul(4)?;
        let mut running = model.bytes_for(self.batch_size)?.checked_add(params.checked_mul(5)?)?;
        if self.evaluate && n_test > 0 {
            let eval_ws = model.bytes_for(self.eval_chunk.min(n_test as usize))?.checked_sub(params.checked_mul(2)?)?;
            running = running.checked_add(eval_ws)?.checked_add(n_test.checked_mul(8)?)?;
        }
        running = running.checked_add(n_train.checked_mul(8)?)?;
        let steps = n_train.div_ceil(self.batch_size.max(1) as u64).checked_mul(self.epochs as u64)?;
        // a step record (epoch, loss, lr) and, while it is made, the loop's own (16 bytes each), and an epoch record with its label
        let kept = steps.checked_mul(32)?.checked_add((self.epochs as u64).checked_mul(160)?)?;
        let at_once = runs.min(threads.max(1)) as u64;
        running.checked_mul(at_once)?.checked_add(kept.checked_mul(runs as u64)?)
    }
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

/// Checks, before any work, that every run's optimizer accepts the model's tensors (a
/// `partition` must cover every tensor); the error is one line, naming the run.
pub fn check_optimizers(model: &Model, runs: &[RunSpec]) -> Result<(), String> {
    let layout = model.layout();
    for r in runs {
        r.config.check_layout(&layout).map_err(|e| format!("{}: {e}", r.label))?;
    }
    Ok(())
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

/// Mean loss and accuracy on the first `n_test` test samples; `None` when there are none
/// (no test metrics, rather than NaN).
pub fn evaluate(
    model: &Model,
    params: &[f32],
    data: &Dataset,
    n_test: usize,
    chunk: usize,
    ws: &mut crate::nn::Workspace,
) -> Option<(f64, f64)> {
    if n_test == 0 {
        return None;
    }
    let (mut loss, mut correct) = (0f64, 0usize);
    let idx: Vec<usize> = (0..n_test).collect();
    for c in idx.chunks(chunk.max(1)) {
        data.test.gather(c, data.mean, data.std, ws.input_mut(c.len()));
        let labels = &data.test.labels[c[0]..c[0] + c.len()];
        let (l, k) = model.evaluate(params, ws, labels);
        loss += l;
        correct += k;
    }
    Some((loss / n_test as f64, correct as f64 / n_test as f64))
}

/// Image classification as a [`Task`]: the training images in a shuffled order per epoch,
/// the test images for evaluation (`test_loss`, `test_accuracy`).
struct Classify<'a> {
    model: &'a Model,
    data: &'a Dataset,
    s: &'a TrainSettings,
    n_train: usize,
    n_test: usize,
}

/// A classification run's buffers: the training workspace, the evaluation workspace (none
/// without a test set), the epoch's order and the batch's labels.
struct ClassWork {
    ws: crate::nn::Workspace,
    eval: Option<crate::nn::Workspace>,
    order: Vec<usize>,
    labels: Vec<u8>,
}

impl Classify<'_> {
    fn steps_per_epoch(&self) -> usize {
        self.n_train.div_ceil(self.s.batch_size)
    }
}

impl Task for Classify<'_> {
    type Work = ClassWork;
    fn layout(&self) -> crate::optim::Layout {
        self.model.layout()
    }
    fn init(&self, seed: u64) -> Vec<f32> {
        self.model.init(seed)
    }
    fn work(&self) -> ClassWork {
        let (s, n_test) = (self.s, self.n_test);
        ClassWork {
            ws: self.model.workspace(s.batch_size),
            // an empty test set: no evaluation, no test metrics
            eval: (s.evaluate && n_test > 0).then(|| self.model.workspace(s.eval_chunk.min(n_test))),
            order: Vec::new(),
            labels: Vec::with_capacity(s.batch_size),
        }
    }
    fn batch(&self, seed: u64, step: usize, w: &mut ClassWork) {
        let spe = self.steps_per_epoch();
        let (epoch, k) = ((step - 1) / spe + 1, (step - 1) % spe);
        if k == 0 {
            w.order = shuffled(self.n_train, seed, epoch);
        }
        let bs = self.s.batch_size;
        let batch = &w.order[k * bs..((k + 1) * bs).min(self.n_train)];
        self.data.train.gather(batch, self.data.mean, self.data.std, w.ws.input_mut(batch.len()));
        w.labels.clear();
        w.labels.extend(batch.iter().map(|&i| self.data.train.labels[i]));
    }
    fn loss_and_grad(&self, params: &[f32], grad: &mut [f32], w: &mut ClassWork) -> f32 {
        self.model.loss_and_grad(params, grad, &mut w.ws, &w.labels)
    }
    fn evaluate(&self, params: &[f32], w: &mut ClassWork) -> Metrics {
        let mut m = Metrics::default();
        if let Some((loss, acc)) =
            w.eval.as_mut().and_then(|e| evaluate(self.model, params, self.data, self.n_test, self.s.eval_chunk, e))
        {
            m.push("test_loss", loss);
            m.push("test_accuracy", acc);
        }
        m
    }
    fn watched(&self, m: &Metrics) -> Option<f64> {
        m.get("test_loss")
    }
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
    let task = Classify { model, data, s, n_train: s.n_train(data), n_test: s.n_test(data) };
    let spe = task.steps_per_epoch();
    let epoch_of = |step: usize| (step - 1) / spe + 1;
    let plan = Plan {
        steps: s.epochs * spe,
        period: spe,
        records: true,
        report_every: 25,
        report_global: false,
        grad_norm: false,
        checkpoint_every: None,
    };
    let record = |p: &Period| EpochRecord {
        optimizer: run.label.clone(),
        seed: run.seed,
        epoch: p.period,
        train_loss: p.batch_loss,
        test_loss: p.metrics.get("test_loss"),
        test_accuracy: p.metrics.get("test_accuracy"),
        lr: p.lr_after,
        seconds: p.seconds,
    };
    let mut progress = |e: Progress| match e {
        Progress::Step { step, loss } => observe(Event::Step {
            run: index,
            epoch: epoch_of(step),
            step: (step - 1) % spe + 1,
            steps_per_epoch: spe,
            loss,
        }),
        Progress::Period(p) => observe(Event::Epoch { run: index, record: &record(p) }),
        Progress::Checkpoint { .. } => {}
    };
    let out = task::run(&task, run, &plan, stop, &mut progress);
    let status = match out.end {
        End::Completed => RunStatus::Completed,
        End::Diverged(step) => RunStatus::Diverged { epoch: epoch_of(step), step: (step - 1) % spe + 1 },
        End::Interrupted(step) => RunStatus::Interrupted { epoch: epoch_of(step) },
    };
    observe(Event::Finished { run: index, status });
    RunResult {
        label: run.label.clone(),
        spec: run.config.canonical(),
        seed: run.seed,
        epochs: out.periods.iter().map(record).collect(),
        step_losses: out.steps.iter().enumerate().map(|(i, st)| (epoch_of(i + 1) as u32, st.loss, st.lr)).collect(),
        status,
    }
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
