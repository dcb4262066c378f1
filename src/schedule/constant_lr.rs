//! `ConstantLR`: multiplies the learning rate by a constant factor until `total_iters`,
//! as `torch.optim.lr_scheduler.ConstantLR`.
//!
//! ```text
//! lr_0 = lr·factor;   lr_t = lr_{t−1}/factor (as lr_{t−1}·(1/factor)) at t = total_iters;
//! unchanged otherwise
//! (closed form: base_lr·(factor + [t ≥ total_iters]·(1 − factor)))
//! ```
//!
//! torch's keywords: factor 1/3, total_iters 5. torch refuses a factor outside [0, 1];
//! optlab also refuses 0 (torch divides by it at total_iters).

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param, Value};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "ConstantLR",
    title: "constant factor: a smaller learning rate for the first total_iters steps",
    formula: "lr = base_lr·factor for t < total_iters, base_lr after",
    reference: "torch.optim.lr_scheduler.ConstantLR",
    params: &[
        Param::new("factor", Kind::Num, "0.3333333333333333", Check::Custom(factor), "the factor until total_iters, in (0, 1]"),
        Param::new("total_iters", Kind::Int, "5", Check::AtLeast(0), "steps with the factor applied"),
        EVERY,
    ],
    required: &[],
    example: "ConstantLR(factor=0.5, total_iters=10)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn factor(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if *x > 0.0 && *x <= 1.0 => Ok(()),
        other => Err(format!("invalid factor {other}: use a constant multiplicative factor in (0, 1]")),
    }
}

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    LrScheduler::boxed(ConstantLr { factor: c.hyper.num("factor"), total_iters: c.hyper.int("total_iters") })
}

struct ConstantLr {
    factor: f64,
    total_iters: i64,
}

impl Rule for ConstantLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        if c.last_epoch == 0 {
            lr * self.factor
        } else if c.last_epoch != self.total_iters {
            lr
        } else {
            lr * (1.0 / self.factor)
        }
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        let after = if c.last_epoch >= self.total_iters { 1.0 - self.factor } else { 0.0 };
        Some(base_lr * (self.factor + after))
    }
}
