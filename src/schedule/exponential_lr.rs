//! `ExponentialLR`: decays the learning rate by γ every step, as
//! `torch.optim.lr_scheduler.ExponentialLR`.
//!
//! ```text
//! lr_t = lr_{t−1}·γ            (closed form: base_lr·γᵗ)
//! ```
//!
//! torch's keywords: gamma (required).

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "ExponentialLR",
    title: "exponential decay: multiply the learning rate by gamma every step",
    formula: "lr = lr·γ",
    reference: "torch.optim.lr_scheduler.ExponentialLR",
    params: &[Param::new("gamma", Kind::Num, "1", Check::NonNeg, "multiplicative factor γ per step"), EVERY],
    required: &["gamma"],
    example: "ExponentialLR(gamma=0.98)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    LrScheduler::boxed(ExponentialLr { gamma: c.hyper.num("gamma") })
}

struct ExponentialLr {
    gamma: f64,
}

impl Rule for ExponentialLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        if c.initial {
            lr
        } else {
            lr * self.gamma
        }
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        Some(base_lr * self.gamma.powf(c.last_epoch as f64))
    }
}
