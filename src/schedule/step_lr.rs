//! `StepLR`: decays the learning rate by γ every `step_size` steps, as
//! `torch.optim.lr_scheduler.StepLR`.
//!
//! ```text
//! lr_t = lr_{t−1}·γ   if t > 0 and t mod step_size = 0,   else lr_{t−1}
//! (closed form, used by SequentialLR at a milestone: lr_t = base_lr·γ^⌊t/step_size⌋)
//! ```
//!
//! torch's keywords: step_size (required), gamma 0.1.

use super::{Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, Action, EVERY, no_rules};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "StepLR",
    title: "step decay: multiply the learning rate by gamma every step_size steps",
    formula: "lr = lr·γ when t is a multiple of step_size",
    reference: "torch.optim.lr_scheduler.StepLR",
    params: &[
        Param::new("step_size", Kind::Int, "1", Check::AtLeast(1), "period of the decay, in steps"),
        Param::new("gamma", Kind::Num, "0.1", Check::NonNeg, "multiplicative factor γ of the decay"),
        EVERY,
    ],
    required: &["step_size"],
    example: "StepLR(step_size=30, gamma=0.5)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    LrScheduler::boxed(StepLr { step_size: c.hyper.int("step_size"), gamma: c.hyper.num("gamma") })
}

struct StepLr {
    step_size: i64,
    gamma: f64,
}

impl Rule for StepLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        if c.last_epoch == 0 || c.last_epoch.rem_euclid(self.step_size) != 0 {
            lr
        } else {
            lr * self.gamma
        }
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        Some(base_lr * self.gamma.powf(c.last_epoch.div_euclid(self.step_size) as f64))
    }
}
