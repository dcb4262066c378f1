//! `ReduceLROnPlateau`: multiplies the learning rate by `factor` once a metric has stopped
//! improving for more than `patience` steps, as `torch.optim.lr_scheduler.ReduceLROnPlateau`.
//!
//! ```text
//! better(a) = a < best·(1 − threshold)   (mode min, rel)      a < best − threshold   (min, abs)
//!             a > best·(1 + threshold)   (mode max, rel)      a > best + threshold   (max, abs)
//! if better(metric): best = metric, bad = 0   else bad = bad + 1
//! in cooldown: cooldown = cooldown − 1, bad = 0
//! if bad > patience:  lr = max(lr·factor, min_lr) where that lowers lr by more than eps;
//!                     cooldown = cooldown steps; bad = 0
//! ```
//!
//! The metric: in the 2-D lab the loss at the point where each step took its gradient; in
//! training the test loss at the end of each epoch (the epoch's mean training loss when
//! there is no evaluation); so it takes no `every`. torch's keywords and defaults: mode
//! "min", factor 0.1 (< 1), patience 10, threshold 1e-4, threshold_mode "rel", cooldown 0,
//! min_lr 0 (one value for every group), eps 1e-8.

use super::{no_rules, Action, Groups, ModifierConfig, ModifierInfo, Schedule};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "ReduceLROnPlateau",
    title: "reduce the learning rate when the loss stops improving",
    formula: "lr = max(lr·factor, min_lr) after more than patience steps without improvement",
    reference: "torch.optim.lr_scheduler.ReduceLROnPlateau",
    params: &[
        Param::new("mode", Kind::Choice(&["min", "max"]), "\"min\"", Check::Any, "whether the metric should decrease or increase"),
        Param::new("factor", Kind::Num, "0.1", Check::Unit, "new lr = lr·factor, in [0, 1)"),
        Param::new("patience", Kind::Int, "10", Check::AtLeast(0), "steps without improvement tolerated"),
        Param::new("threshold", Kind::Num, "1e-4", Check::NonNeg, "how much better counts as an improvement"),
        Param::new("threshold_mode", Kind::Choice(&["rel", "abs"]), "\"rel\"", Check::Any, "threshold relative to the best value, or absolute"),
        Param::new("cooldown", Kind::Int, "0", Check::AtLeast(0), "steps to wait after a reduction"),
        Param::new("min_lr", Kind::Num, "0", Check::NonNeg, "the smallest learning rate"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "reductions smaller than eps are skipped"),
    ],
    required: &[],
    example: "ReduceLROnPlateau(factor=0.5, patience=3)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    let max = h.choice("mode") == Some("max");
    Box::new(Plateau {
        max,
        rel: h.choice("threshold_mode") == Some("rel"),
        factor: h.num("factor"),
        patience: h.int("patience"),
        threshold: h.num("threshold"),
        cooldown: h.int("cooldown"),
        min_lr: h.num("min_lr"),
        eps: h.num("eps"),
        best: if max { f64::NEG_INFINITY } else { f64::INFINITY },
        bad_epochs: 0,
        cooldown_counter: 0,
    })
}

struct Plateau {
    max: bool,
    rel: bool,
    factor: f64,
    patience: i64,
    threshold: f64,
    cooldown: i64,
    min_lr: f64,
    eps: f64,
    best: f64,
    bad_epochs: i64,
    cooldown_counter: i64,
}

impl Plateau {
    fn is_better(&self, a: f64) -> bool {
        match (self.max, self.rel) {
            (false, true) => a < self.best * (1.0 - self.threshold),
            (false, false) => a < self.best - self.threshold,
            (true, true) => a > self.best * (self.threshold + 1.0),
            (true, false) => a > self.best + self.threshold,
        }
    }
}

impl Schedule for Plateau {
    fn construct(&mut self, _g: &mut Groups) {}
    fn step(&mut self, _g: &mut Groups) {}
    fn needs_metric(&self) -> bool {
        true
    }
    fn step_metric(&mut self, current: f64, g: &mut Groups) {
        if self.is_better(current) {
            self.best = current;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.patience {
            for i in 0..g.len() {
                let old = g.lr(i);
                // Python's max(a, b): b only when b > a
                let reduced = old * self.factor;
                let new = if self.min_lr > reduced { self.min_lr } else { reduced };
                if old - new > self.eps {
                    g.set_lr(i, new);
                }
            }
            self.cooldown_counter = self.cooldown;
            self.bad_epochs = 0;
        }
    }
    fn initial_step(&mut self, _g: &mut Groups) {}
    fn jump_to(&mut self, _epoch: i64, _g: &mut Groups) {}
    fn undo(&mut self) {}
}
