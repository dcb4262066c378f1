//! `LinearLR`: scales the learning rate by a factor that moves linearly from
//! `start_factor` to `end_factor` over `total_iters` steps, as
//! `torch.optim.lr_scheduler.LinearLR` (usually a warm-up).
//!
//! ```text
//! lr_0 = lr·s;   lr_t = lr_{t−1}·(1 + (e − s)/(n·s + (t − 1)·(e − s)))   for 0 < t ≤ n
//! unchanged after n               (s = start_factor, e = end_factor, n = total_iters)
//! (closed form: base_lr·(s + (e − s)·min(n, t)/n))
//! ```
//!
//! torch's keywords: start_factor 1/3 (in (0, 1]), end_factor 1.0 (in [0, 1]), total_iters 5.

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param, Value};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "LinearLR",
    title: "linear change of the factor from start_factor to end_factor (warm-up)",
    formula: "lr = base_lr·(s + (e − s)·min(t, total_iters)/total_iters)",
    reference: "torch.optim.lr_scheduler.LinearLR",
    params: &[
        Param::new("start_factor", Kind::Num, "0.3333333333333333", Check::Custom(start), "factor at step 0, in (0, 1]"),
        Param::new("end_factor", Kind::Num, "1", Check::UnitClosed, "factor from total_iters on, in [0, 1]"),
        Param::new("total_iters", Kind::Int, "5", Check::AtLeast(0), "steps to go from start_factor to end_factor"),
        EVERY,
    ],
    required: &[],
    example: "LinearLR(start_factor=0.01, total_iters=20)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn start(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if *x > 0.0 && *x <= 1.0 => Ok(()),
        other => Err(format!(
            "invalid start_factor {other}: the starting multiplicative factor must be greater than 0 and at most 1"
        )),
    }
}

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    LrScheduler::boxed(LinearLr {
        start: h.num("start_factor"),
        end: h.num("end_factor"),
        total_iters: h.int("total_iters"),
    })
}

struct LinearLr {
    start: f64,
    end: f64,
    total_iters: i64,
}

impl Rule for LinearLr {
    fn get_lr(&mut self, c: &Core, _i: usize, lr: f64, _g: &mut Groups) -> f64 {
        if c.last_epoch == 0 {
            return lr * self.start;
        }
        if c.initial || c.last_epoch > self.total_iters {
            return lr;
        }
        let span = self.end - self.start;
        lr * (1.0 + span / (self.total_iters as f64 * self.start + (c.last_epoch - 1) as f64 * span))
    }
    fn closed_form(&self, c: &Core, base_lr: f64) -> Option<f64> {
        let n = self.total_iters.min(c.last_epoch) as f64;
        Some(base_lr * (self.start + (self.end - self.start) * n / self.total_iters as f64))
    }
}
