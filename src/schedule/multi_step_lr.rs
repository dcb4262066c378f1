//! `MultiStepLR`: decays the learning rate by γ at each milestone, as
//! `torch.optim.lr_scheduler.MultiStepLR`.
//!
//! ```text
//! lr_t = lr_{t−1}·γ^k   where k = how many times t appears in milestones (k = 0: unchanged)
//! (closed form: lr_t = base_lr·γ^(number of milestones ≤ t))
//! ```
//!
//! torch's keywords: milestones (required; a list of step indices), gamma 0.1.

use super::{int_list, milestone_list, no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "MultiStepLR",
    title: "multi-step decay: multiply the learning rate by gamma at each milestone",
    formula: "lr = lr·γ at each t in milestones",
    reference: "torch.optim.lr_scheduler.MultiStepLR",
    params: &[
        Param::new("milestones", Kind::NumList, "[]", Check::Custom(milestone_list), "the steps at which to decay"),
        Param::new("gamma", Kind::Num, "0.1", Check::NonNeg, "multiplicative factor γ of the decay"),
        EVERY,
    ],
    required: &["milestones"],
    example: "MultiStepLR(milestones=[30, 80], gamma=0.1)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let milestones = int_list(&c.hyper, "milestones");
    let mut sorted = milestones.clone();
    sorted.sort_unstable();
    LrScheduler::boxed(MultiStepLr { milestones, sorted, gamma: c.hyper.num("gamma") })
}

struct MultiStepLr {
    milestones: Vec<i64>,
    sorted: Vec<i64>,
    gamma: f64,
}

impl Rule for MultiStepLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        let k = self.milestones.iter().filter(|&&m| m == c.last_epoch).count();
        if k == 0 {
            lr
        } else {
            lr * self.gamma.powf(k as f64)
        }
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        Some(base_lr * self.gamma.powf(super::bisect_right(&self.sorted, c.last_epoch) as f64))
    }
}
