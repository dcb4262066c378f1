//! `CosineAnnealingLR`: half a cosine from the initial learning rate down to `eta_min` over
//! `T_max` steps (SGDR without restarts), as `torch.optim.lr_scheduler.CosineAnnealingLR`.
//!
//! torch computes it recursively from the current rate, and optlab does the same:
//!
//! ```text
//! lr_t = η_min + (lr_{t−1} − η_min)·(1 + cos(πt/T_max))/(1 + cos(π(t−1)/T_max))
//! lr_t = lr_{t−1} + (base_lr − η_min)·(1 − cos(π/T_max))/2     when (t − 1 − T_max) mod 2T_max = 0
//! (closed form: η_min + (base_lr − η_min)·(1 + cos(πt/T_max))/2)
//! ```
//!
//! Past T_max the rate climbs back up (the cosine continues), as in torch. torch's
//! keywords: T_max (required), eta_min 0.

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};
use std::f64::consts::PI;

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "CosineAnnealingLR",
    title: "cosine annealing from the initial learning rate to eta_min over T_max steps",
    formula: "lr = η_min + (base_lr − η_min)·(1 + cos(π·t/T_max))/2 (computed recursively, as torch)",
    reference: "torch.optim.lr_scheduler.CosineAnnealingLR",
    params: &[
        Param::new("T_max", Kind::Int, "1", Check::AtLeast(1), "steps of the half cosine"),
        Param::new("eta_min", Kind::Num, "0", Check::NonNeg, "the smallest learning rate η_min"),
        EVERY,
    ],
    required: &["T_max"],
    example: "CosineAnnealingLR(T_max=100, eta_min=1e-4)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    LrScheduler::boxed(CosineAnnealingLr { t_max: c.hyper.int("T_max"), eta_min: c.hyper.num("eta_min") })
}

struct CosineAnnealingLr {
    t_max: i64,
    eta_min: f64,
}

impl Rule for CosineAnnealingLr {
    fn get_lr(&mut self, c: &Core, i: usize, lr: f64, _g: &mut Groups) -> f64 {
        let (t, t_max, eta_min) = (c.last_epoch, self.t_max as f64, self.eta_min);
        let base_lr = c.base_lrs[i];
        if c.initial {
            lr
        } else if c.step_count == 1 && t > 0 {
            eta_min + (base_lr - eta_min) * (1.0 + (t as f64 * PI / t_max).cos()) / 2.0
        } else if (t - 1 - self.t_max).rem_euclid(2 * self.t_max) == 0 {
            lr + (base_lr - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * t as f64 / t_max).cos()) / (1.0 + (PI * (t - 1) as f64 / t_max).cos()) * (lr - eta_min)
                + eta_min
        }
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        let t_max = self.t_max as f64;
        Some(self.eta_min + (base_lr - self.eta_min) * (1.0 + (PI * c.last_epoch as f64 / t_max).cos()) / 2.0)
    }
}
