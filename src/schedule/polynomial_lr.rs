//! `PolynomialLR`: decays the learning rate polynomially to 0 over `total_iters` steps, as
//! `torch.optim.lr_scheduler.PolynomialLR`.
//!
//! ```text
//! lr_t = lr_{t−1}·((1 − t/n)/(1 − (t − 1)/n))^power   for 0 < t ≤ n, unchanged after
//! (closed form: base_lr·(1 − min(n, t)/n)^power)          (n = total_iters)
//! ```
//!
//! torch's keywords: total_iters 5, power 1.0 (optlab refuses a negative power: torch
//! divides by zero at total_iters).

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "PolynomialLR",
    title: "polynomial decay to 0 over total_iters steps",
    formula: "lr = base_lr·(1 − min(t, total_iters)/total_iters)^power",
    reference: "torch.optim.lr_scheduler.PolynomialLR",
    params: &[
        Param::new("total_iters", Kind::Int, "5", Check::AtLeast(0), "steps of the decay"),
        Param::new("power", Kind::Num, "1", Check::NonNeg, "power of the polynomial"),
        EVERY,
    ],
    required: &[],
    example: "PolynomialLR(total_iters=150, power=2.0)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    LrScheduler::boxed(PolynomialLr { total_iters: c.hyper.int("total_iters"), power: c.hyper.num("power") })
}

struct PolynomialLr {
    total_iters: i64,
    power: f64,
}

impl Rule for PolynomialLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        if c.initial || c.last_epoch > self.total_iters {
            return lr;
        }
        let n = self.total_iters as f64;
        let t = c.last_epoch;
        let decay = ((1.0 - t as f64 / n) / (1.0 - (t - 1) as f64 / n)).powf(self.power);
        lr * decay
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        let n = self.total_iters as f64;
        Some(base_lr * (1.0 - self.total_iters.min(c.last_epoch) as f64 / n).powf(self.power))
    }
}
