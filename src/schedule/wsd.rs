//! `WSD`: warmup–stable–decay, pytorch-optimizer 4.1.0's `get_wsd_schedule` (a torch
//! `LambdaLR`: lr_t = base_lr·r(t), not a recursion). With W, S, D the warm-up, stable and
//! decay steps and m = `min_lr_ratio`:
//!
//! ```text
//! t < W:            r = t/max(1, W)
//! t < W + S:        r = 1
//! t < W + S + D:    u = (t − W − S)/D, and by cooldown_type
//!                   "cosine":   r = (1 − m)·max(0, (1 + cos(2π·num_cycles·u))/2) + m   (u over max(1, D))
//!                   "linear":   r = 1 − u;   "1-sqrt":  r = 1 − √u;   "1-square":  r = 1 − u²
//! afterwards:       r = m
//! ```
//!
//! Keywords as in pytorch-optimizer: num_warmup_steps, num_stable_steps and num_decay_steps
//! (required), min_lr_ratio 0, num_cycles 0.5, cooldown_type "1-sqrt". Only the cosine
//! cooldown reaches m at the end of the decay; the others reach 0 there and jump to m.

use super::{no_rules, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Kind, Param};
use std::f64::consts::PI;

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "WSD",
    title: "warmup-stable-decay: linear warm-up, constant, then a cooldown (pytorch-optimizer's get_wsd_schedule)",
    formula: "r = t/W (warm-up), 1 (stable), then cosine / linear / 1−√u / 1−u² over D steps, min_lr_ratio after",
    reference: "pytorch-optimizer 4.1.0 get_wsd_schedule",
    params: &[
        Param::new("num_warmup_steps", Kind::Int, "0", Check::AtLeast(0), "steps W of the linear warm-up from 0"),
        Param::new("num_stable_steps", Kind::Int, "0", Check::AtLeast(0), "steps S at the full learning rate"),
        Param::new("num_decay_steps", Kind::Int, "1", Check::AtLeast(0), "steps D of the cooldown"),
        Param::new("min_lr_ratio", Kind::Num, "0", Check::NonNeg, "factor m after the cooldown (and the cosine's floor)"),
        Param::new("num_cycles", Kind::Num, "0.5", Check::Any, "waves of the cosine cooldown (0.5: half a cosine)"),
        Param::new("cooldown_type", Kind::Choice(&["cosine", "1-sqrt", "linear", "1-square"]), "\"1-sqrt\"", Check::Any, "the shape of the cooldown"),
        EVERY,
    ],
    required: &["num_warmup_steps", "num_stable_steps", "num_decay_steps"],
    example: "WSD(num_warmup_steps=20, num_stable_steps=80, num_decay_steps=40, cooldown_type=\"cosine\")",
    rules: no_rules,
    action: Action::Schedule(build),
};

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    LrScheduler::boxed(Wsd {
        warmup: h.int("num_warmup_steps"),
        stable: h.int("num_stable_steps"),
        decay: h.int("num_decay_steps"),
        min_lr_ratio: h.num("min_lr_ratio"),
        num_cycles: h.num("num_cycles"),
        cooldown: h.choice("cooldown_type").unwrap_or("1-sqrt").to_string(),
    })
}

struct Wsd {
    warmup: i64,
    stable: i64,
    decay: i64,
    min_lr_ratio: f64,
    num_cycles: f64,
    cooldown: String,
}

impl Wsd {
    /// The factor of the base learning rate at step `t`.
    fn ratio(&self, t: i64) -> f64 {
        if t < self.warmup {
            return t as f64 / self.warmup.max(1) as f64;
        }
        if t < self.warmup + self.stable {
            return 1.0;
        }
        if t < self.warmup + self.stable + self.decay {
            let k = (t - self.warmup - self.stable) as f64;
            let d = self.decay as f64;
            return match self.cooldown.as_str() {
                "cosine" => {
                    let progress = k / self.decay.max(1) as f64;
                    let value = (0.5 * (1.0 + (PI * self.num_cycles * 2.0 * progress).cos())).max(0.0);
                    (1.0 - self.min_lr_ratio) * value + self.min_lr_ratio
                }
                "linear" => 1.0 - k / d,
                "1-square" => 1.0 - (k / d).powf(2.0),
                _ => 1.0 - (k / d).sqrt(),
            };
        }
        self.min_lr_ratio
    }
}

impl Rule for Wsd {
    fn get_lr(&mut self, c: &Core, i: usize, _lr: f64, _g: &mut Groups) -> f64 {
        c.base_lrs[i] * self.ratio(c.last_epoch)
    }
}
