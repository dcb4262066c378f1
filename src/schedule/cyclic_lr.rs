//! `CyclicLR`: the learning rate cycles between `base_lr` and `max_lr` (Smith 2017,
//! "Cyclical Learning Rates for Training Neural Networks"), and the momentum inversely
//! between `max_momentum` and `base_momentum`, as `torch.optim.lr_scheduler.CyclicLR`.
//!
//! ```text
//! cycle = ⌊1 + t/(up + down)⌋;   x = 1 + t/(up + down) − cycle
//! s = x/r if x ≤ r else (x − 1)/(r − 1)                 (r = up/(up + down))
//! lr = base_lr + (max_lr − base_lr)·s·scale;   momentum = max_m − (max_m − base_m)·s·scale
//! scale = 1 (triangular), 1/2^(cycle−1) (triangular2), γᵗ (exp_range)
//! ```
//!
//! The constructor sets the learning rate to base_lr and the momentum (`momentum`, or β₁ of
//! `betas`) to max_momentum. torch's keywords and defaults: base_lr, max_lr (required),
//! step_size_up 2000, step_size_down None (= step_size_up), mode "triangular", gamma 1.0,
//! cycle_momentum true, base_momentum 0.8, max_momentum 0.9. torch's `scale_fn` /
//! `scale_mode` (a Python callable) and per-group lists are not offered.

use super::{count_or_none, momentum_bound, no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "CyclicLR",
    title: "cyclical learning rate between base_lr and max_lr (momentum cycled inversely)",
    formula: "lr = base_lr + (max_lr − base_lr)·tri(t)·scale;  momentum = max_m − (max_m − base_m)·tri(t)·scale",
    reference: "torch.optim.lr_scheduler.CyclicLR",
    params: &[
        Param::new("base_lr", Kind::Num, "0", Check::Lr, "the lower learning rate of the cycle"),
        Param::new("max_lr", Kind::Num, "0", Check::Lr, "the upper learning rate of the cycle"),
        Param::new("step_size_up", Kind::Int, "2000", Check::AtLeast(1), "steps of the rising half"),
        Param::new("step_size_down", Kind::MaybeNum, "None", Check::Custom(count_or_none), "steps of the falling half (None: step_size_up)"),
        Param::new("mode", Kind::Choice(&["triangular", "triangular2", "exp_range"]), "\"triangular\"", Check::Any, "amplitude scaling: none, halved every cycle, or γ^t"),
        Param::new("gamma", Kind::Num, "1", Check::NonNeg, "γ of exp_range"),
        Param::new("cycle_momentum", Kind::Bool, "true", Check::Any, "cycle the momentum (or β₁) inversely to the learning rate"),
        Param::new("base_momentum", Kind::Num, "0.8", Check::Custom(momentum_bound), "the momentum at the peak of the learning rate"),
        Param::new("max_momentum", Kind::Num, "0.9", Check::Custom(momentum_bound), "the momentum at the start of a cycle"),
        EVERY,
    ],
    required: &["base_lr", "max_lr"],
    example: "CyclicLR(base_lr=0.001, max_lr=0.05, step_size_up=15, mode=\"triangular2\")",
    rules: no_rules,
    action: Action::Schedule(build),
};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Triangular,
    Triangular2,
    ExpRange,
}

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    let up = h.num("step_size_up");
    let down = h.maybe_num("step_size_down").unwrap_or(up);
    let total_size = up + down;
    LrScheduler::boxed(CyclicLr {
        base_lr: h.num("base_lr"),
        max_lr: h.num("max_lr"),
        total_size,
        step_ratio: up / total_size,
        mode: match h.choice("mode") {
            Some("triangular2") => Mode::Triangular2,
            Some("exp_range") => Mode::ExpRange,
            _ => Mode::Triangular,
        },
        gamma: h.num("gamma"),
        cycle_momentum: h.flag("cycle_momentum"),
        base_momentum: h.num("base_momentum"),
        max_momentum: h.num("max_momentum"),
    })
}

struct CyclicLr {
    base_lr: f64,
    max_lr: f64,
    total_size: f64,
    step_ratio: f64,
    mode: Mode,
    gamma: f64,
    cycle_momentum: bool,
    base_momentum: f64,
    max_momentum: f64,
}

impl Rule for CyclicLr {
    fn prepare(&mut self, g: &mut Groups) {
        for i in 0..g.len() {
            g.set_lr(i, self.base_lr);
            if self.cycle_momentum {
                g.set_momentum(i, self.max_momentum);
            }
        }
    }
    fn get_lr(&mut self, c: &Core, i: usize, _lr: f64, g: &mut Groups) -> f64 {
        let t = c.last_epoch as f64;
        let cycle = (1.0 + t / self.total_size).floor();
        let x = 1.0 + t / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio { x / self.step_ratio } else { (x - 1.0) / (self.step_ratio - 1.0) };
        let scale = match self.mode {
            Mode::Triangular => 1.0,
            Mode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            Mode::ExpRange => self.gamma.powf(t),
        };
        // during the constructor's step base_lrs are the groups' initial_lr; base_lr after
        let base_lr = c.base_lrs[i];
        let lr = base_lr + (self.max_lr - base_lr) * scale_factor * scale;
        if self.cycle_momentum {
            let height = (self.max_momentum - self.base_momentum) * scale_factor;
            g.set_momentum(i, self.max_momentum - height * scale);
        }
        lr
    }
    fn finish(&mut self, c: &mut Core) {
        c.base_lrs.iter_mut().for_each(|b| *b = self.base_lr);
    }
}
