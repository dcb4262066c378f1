//! `CosineAnnealingWarmRestarts`: cosine annealing restarted every T_i steps, with
//! T_i = T_0·T_multⁱ (SGDR, Loshchilov & Hutter 2017), as
//! `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`.
//!
//! ```text
//! T_cur = T_cur + 1;   if T_cur ≥ T_i:  T_cur = T_cur − T_i,  T_i = T_i·T_mult
//! lr = η_min + (base_lr − η_min)·(1 + cos(π·T_cur/T_i))/2
//! ```
//!
//! This one is computed from base_lr (not recursively), as in torch. Inside SequentialLR, a
//! milestone sets the rate from the current T_cur without resetting it, as torch's does.
//! torch's keywords: T_0 (required), T_mult 1, eta_min 0.

use super::{no_rules, Action, Core, Groups, ModifierConfig, ModifierInfo, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};
use std::f64::consts::PI;

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "CosineAnnealingWarmRestarts",
    title: "cosine annealing with warm restarts (SGDR) every T_0·T_multⁱ steps",
    formula: "lr = η_min + (base_lr − η_min)·(1 + cos(π·T_cur/T_i))/2;  restart: T_cur = 0, T_i = T_i·T_mult",
    reference: "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts",
    params: &[
        Param::new("T_0", Kind::Int, "1", Check::AtLeast(1), "steps until the first restart"),
        Param::new("T_mult", Kind::Int, "1", Check::AtLeast(1), "factor by which T_i grows after a restart"),
        Param::new("eta_min", Kind::Num, "0", Check::NonNeg, "the smallest learning rate η_min"),
        EVERY,
    ],
    required: &["T_0"],
    example: "CosineAnnealingWarmRestarts(T_0=25, T_mult=2, eta_min=1e-3)",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    Box::new(WarmRestarts {
        core: Core::default(),
        t_0: h.int("T_0"),
        t_i: h.int("T_0"),
        t_mult: h.int("T_mult"),
        t_cur: -1,
        eta_min: h.num("eta_min"),
    })
}

struct WarmRestarts {
    core: Core,
    t_0: i64,
    t_i: i64,
    t_mult: i64,
    t_cur: i64,
    eta_min: f64,
}

impl WarmRestarts {
    /// `get_lr()` applied to every group.
    fn set_lrs(&mut self, g: &mut Groups) {
        let (t_cur, t_i) = (self.t_cur as f64, self.t_i as f64);
        for i in 0..g.len() {
            let base_lr = self.core.base_lrs[i];
            g.set_lr(i, self.eta_min + (base_lr - self.eta_min) * (1.0 + (PI * t_cur / t_i).cos()) / 2.0);
        }
    }
}

impl Schedule for WarmRestarts {
    fn construct(&mut self, g: &mut Groups) {
        self.core.init(g);
        self.t_cur = self.core.last_epoch;
        self.initial_step(g);
    }
    fn step(&mut self, g: &mut Groups) {
        if self.core.last_epoch < 0 {
            // step(epoch=0): the start of the first period
            self.t_i = self.t_0;
            self.t_cur = 0;
            self.core.last_epoch = 0;
        } else {
            self.core.last_epoch += 1;
            self.t_cur += 1;
            if self.t_cur >= self.t_i {
                self.t_cur %= self.t_i;
                self.t_i *= self.t_mult;
            }
        }
        self.set_lrs(g);
    }
    fn initial_step(&mut self, g: &mut Groups) {
        self.core.step_count = 0;
        self.step(g);
    }
    fn jump_to(&mut self, epoch: i64, g: &mut Groups) {
        // LRScheduler._update_lr: no closed form, so get_lr() with T_cur as it stands
        self.core.last_epoch = epoch;
        self.set_lrs(g);
    }
    fn undo(&mut self) {
        self.core.last_epoch -= 1;
    }
}
