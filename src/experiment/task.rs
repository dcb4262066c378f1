//! The one training loop of every network workload. A [`Task`] (image classification, in
//! `train.rs`; character-level language modelling, in `lm.rs`) provides the model's
//! parameters, its batches and its evaluation; [`run`] makes the steps, evaluates at the end
//! of each period (an epoch, or `eval_every` steps), lets epoch-wise schedulers and
//! ReduceLROnPlateau see the metric the task watches, and hands the records back.
//!
//! Evaluations report their numbers as [`Metrics`], a map from names to values (`test_loss`
//! and `test_accuracy` for classifiers; `train_loss`, `val_loss`, `val_perplexity` and
//! `val_bpc` for language models), so nothing in the loop knows which columns a task has.

use super::train::RunSpec;
use crate::optim::Layout;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// An evaluation's numbers, by name, in the order the task gives them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics(pub Vec<(&'static str, f64)>);

impl Metrics {
    /// The value named `name`, if the evaluation has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    pub fn push(&mut self, name: &'static str, v: f64) {
        self.0.push((name, v));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A training workload: a model with its data.
pub trait Task: Sync {
    /// What one run keeps between steps: workspaces, batch buffers, the epoch's order.
    type Work;

    /// The parameter tensors the optimizers see.
    fn layout(&self) -> Layout;

    /// The initial parameters of `seed`.
    fn init(&self, seed: u64) -> Vec<f32>;

    /// A run's buffers, made once.
    fn work(&self) -> Self::Work;

    /// Loads the batch of step `step` (from 1) of a run of `seed`: the same for every
    /// optimizer of the seed.
    fn batch(&self, seed: u64, step: usize, w: &mut Self::Work);

    /// The mean loss of the loaded batch and its gradient, written into `grad`.
    fn loss_and_grad(&self, params: &[f32], grad: &mut [f32], w: &mut Self::Work) -> f32;

    /// The metrics of `params` (empty: nothing to evaluate on).
    fn evaluate(&self, params: &[f32], w: &mut Self::Work) -> Metrics;

    /// The metric epoch-wise schedulers and ReduceLROnPlateau watch.
    fn watched(&self, m: &Metrics) -> Option<f64>;
}

/// When a run steps, evaluates and hands out its parameters.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub steps: usize,
    /// Steps per period: an evaluation (and a record) after every `period` steps and after
    /// the last (0: only after the last).
    pub period: usize,
    /// Whether period ends evaluate and make a record.
    pub records: bool,
    /// Progress reports every `report_every` steps of a period (from its first), and at its
    /// last step; with `report_global`, at every multiple of `report_every` of the run's step
    /// instead (and at the last step).
    pub report_every: usize,
    pub report_global: bool,
    /// Record the gradient's norm at every step (before any clipping).
    pub grad_norm: bool,
    /// Hand the parameters out every N steps.
    pub checkpoint_every: Option<usize>,
}

impl Plan {
    fn period_end(&self, step: usize) -> bool {
        step == self.steps || (self.period > 0 && step.is_multiple_of(self.period))
    }
}

/// One training step of a run.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub loss: f32,
    /// The learning rate in force for the step (group 0).
    pub lr: f64,
    /// The gradient's norm before any clipping (NaN unless the plan asks for it).
    pub grad_norm: f32,
}

/// The end of one period of a run.
#[derive(Clone, Debug)]
pub struct Period {
    /// The period's number (from 1) and the step it ends at.
    pub period: usize,
    pub step: usize,
    /// The mean of the period's batch losses.
    pub batch_loss: f64,
    pub metrics: Metrics,
    /// The learning rate of the period's last step, and the one in force after the
    /// epoch-wise schedulers stepped (group 0).
    pub lr_last: f64,
    pub lr_after: f64,
    /// Wall time of the period (training and evaluation), and since the run began.
    pub seconds: f64,
    pub elapsed: f64,
}

/// How a run ended, at which step (from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum End {
    Completed,
    /// The loss was NaN or infinite at this step.
    Diverged(usize),
    /// Stopped by the user before this step; the periods before it are complete.
    Interrupted(usize),
}

/// Progress of one run, as it goes.
pub enum Progress<'a> {
    Step { step: usize, loss: f32 },
    Period(&'a Period),
    Checkpoint { step: usize, params: &'a [f32] },
}

/// What one run produced.
pub struct Outcome {
    pub periods: Vec<Period>,
    pub steps: Vec<Step>,
    pub end: End,
    /// The point the method reports (Schedule-Free's x; the parameters otherwise).
    pub params: Vec<f32>,
    pub seconds: f64,
}

/// Trains one run of `task` by `plan`: every optimizer of a seed starts from the same
/// weights and sees the same batches; the step allocates nothing.
pub fn run<T: Task>(
    task: &T,
    run: &RunSpec,
    plan: &Plan,
    stop: &AtomicBool,
    observe: &mut dyn FnMut(Progress),
) -> Outcome {
    let mut params = task.init(run.seed);
    let mut shown = params.clone();
    let mut opt = run.config.build_with::<f32>(&task.layout(), crate::schedule::Cadence::Training);
    let mut w = task.work();
    let mut periods = Vec::new();
    let mut steps = Vec::with_capacity(plan.steps.min(1 << 20));
    let mut end = End::Completed;
    let t0 = Instant::now();
    let mut tp = Instant::now();
    let (mut sum, mut in_period, mut period) = (0f64, 0usize, 1usize);
    for step in 1..=plan.steps {
        if stop.load(Ordering::Relaxed) {
            end = End::Interrupted(step);
            break;
        }
        task.batch(run.seed, step, &mut w);
        let lr = *opt.group(0).lr;
        let mut norm = f32::NAN;
        let loss = {
            let mut obj = |p: &[f32], g: &mut [f32]| {
                let l = task.loss_and_grad(p, g, &mut w);
                if plan.grad_norm {
                    norm = g.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt() as f32;
                }
                l
            };
            opt.step(&mut params, &mut obj)
        };
        steps.push(Step { loss, lr, grad_norm: norm });
        if !loss.is_finite() {
            end = End::Diverged(step);
            break;
        }
        sum += loss as f64;
        in_period += 1;
        let last = plan.period_end(step);
        let every = plan.report_every.max(1);
        let due = if plan.report_global { step.is_multiple_of(every) } else { (in_period - 1).is_multiple_of(every) };
        if due || last {
            observe(Progress::Step { step, loss });
        }
        if plan.checkpoint_every.is_some_and(|c| step.is_multiple_of(c)) {
            opt.report(&params, &mut shown);
            observe(Progress::Checkpoint { step, params: &shown });
        }
        if last && plan.records {
            opt.report(&params, &mut shown);
            let metrics = task.evaluate(&shown, &mut w);
            opt.end_epoch(task.watched(&metrics));
            let p = Period {
                period,
                step,
                batch_loss: sum / in_period as f64,
                metrics,
                lr_last: lr,
                lr_after: *opt.group(0).lr,
                seconds: tp.elapsed().as_secs_f64(),
                elapsed: t0.elapsed().as_secs_f64(),
            };
            observe(Progress::Period(&p));
            periods.push(p);
        }
        if last {
            (sum, in_period, period, tp) = (0.0, 0, period + 1, Instant::now());
        }
    }
    opt.report(&params, &mut shown);
    Outcome { periods, steps, end, params: shown, seconds: t0.elapsed().as_secs_f64() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerConfig;

    /// Loss (p − b)² on a batch b = the step number; evaluation reports p.
    struct Toy;
    impl Task for Toy {
        type Work = f32;
        fn layout(&self) -> Layout {
            Layout::flat(1)
        }
        fn init(&self, _seed: u64) -> Vec<f32> {
            vec![0.0]
        }
        fn work(&self) -> f32 {
            0.0
        }
        fn batch(&self, _seed: u64, step: usize, w: &mut f32) {
            *w = step as f32;
        }
        fn loss_and_grad(&self, p: &[f32], g: &mut [f32], w: &mut f32) -> f32 {
            g[0] = 2.0 * (p[0] - *w);
            (p[0] - *w).powi(2)
        }
        fn evaluate(&self, p: &[f32], _w: &mut f32) -> Metrics {
            Metrics(vec![("p", p[0] as f64)])
        }
        fn watched(&self, m: &Metrics) -> Option<f64> {
            m.get("p")
        }
    }

    fn spec(s: &str) -> RunSpec {
        RunSpec { label: s.into(), config: OptimizerConfig::parse(s).unwrap(), seed: 0 }
    }

    #[test]
    fn periods_end_every_period_steps_and_after_the_last_with_their_mean_batch_loss() {
        let plan = Plan {
            steps: 7,
            period: 3,
            records: true,
            report_every: 2,
            report_global: false,
            grad_norm: true,
            checkpoint_every: Some(4),
        };
        let (mut reports, mut checkpoints) = (Vec::new(), Vec::new());
        let stop = AtomicBool::new(false);
        let out = run(&Toy, &spec("sgd(lr=0.1)"), &plan, &stop, &mut |e| match e {
            Progress::Step { step, .. } => reports.push(step),
            Progress::Checkpoint { step, .. } => checkpoints.push(step),
            Progress::Period(_) => {}
        });
        assert_eq!(out.end, End::Completed);
        let ends: Vec<(usize, usize)> = out.periods.iter().map(|p| (p.period, p.step)).collect();
        assert_eq!(ends, [(1, 3), (2, 6), (3, 7)]);
        assert_eq!(reports, [1, 3, 4, 6, 7]);
        assert_eq!(checkpoints, [4]);
        let mean = |r: std::ops::Range<usize>| r.map(|i| out.steps[i].loss as f64).sum::<f64>() / 3.0;
        assert_eq!(out.periods[0].batch_loss, mean(0..3));
        assert_eq!(out.periods[1].batch_loss, mean(3..6));
        assert_eq!(out.periods[2].batch_loss, out.steps[6].loss as f64);
        // the gradient norm is |2(p − b)| before the step
        assert_eq!(out.steps[0].grad_norm, 2.0);
        assert_eq!(out.periods[2].metrics.get("p"), Some(out.params[0] as f64));
    }

    #[test]
    fn a_stop_keeps_the_completed_periods_and_a_nan_loss_ends_the_run() {
        let plan = Plan {
            steps: 10,
            period: 2,
            records: true,
            report_every: 1,
            report_global: false,
            grad_norm: false,
            checkpoint_every: None,
        };
        let stop = AtomicBool::new(false);
        let out = run(&Toy, &spec("sgd(lr=0.1)"), &plan, &stop, &mut |e| {
            if let Progress::Step { step: 5, .. } = e {
                stop.store(true, Ordering::Relaxed);
            }
        });
        assert_eq!(out.end, End::Interrupted(6));
        assert_eq!(out.periods.len(), 2);
        assert_eq!(out.steps.len(), 5);
        assert!(out.steps[0].grad_norm.is_nan());
        let stop = AtomicBool::new(false);
        let out = run(&Toy, &spec("sgd(lr=1000)"), &plan, &stop, &mut |_| {});
        assert!(matches!(out.end, End::Diverged(s) if s < 10), "{:?}", out.end);
    }
}
