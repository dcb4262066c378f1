//! `sf-sgd`: Schedule-Free SGD (Defazio et al., 2024), as `schedulefree.SGDScheduleFree`
//! (schedulefree 1.4.1, `foreach=False` arithmetic).
//!
//! The parameters hold y, where the gradient is taken; the reported point is the average
//! x = y + (1 − 1/β)·(z − y) (what `.eval()` computes). See `sf-adamw` for γ_t and c_t.
//!
//! ```text
//! ĝ_t = ∇f(y_{t−1}) + λ·y_{t−1}
//! y_t = y_{t−1} + c_t·(z_{t−1} − y_{t−1}) + γ_t·(β(1 − c_t) − 1)·ĝ_t
//! z_t = z_{t−1} − γ_t·ĝ_t                           (z_0 = y_0)
//! x_t = y_t + (1 − 1/β)·(z_t − y_t)                 (reported)
//! ```
//!
//! Defaults as in schedulefree: lr = 1, momentum β = 0.9 (in (0, 1)), weight_decay λ = 0,
//! warmup_steps 0, r 0, weight_lr_power 2. `foreach` is not a key.

use super::sf_adamw::{averaged_point, move_y_and_z, Averaging};
use super::{
    ensure_len, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "sf-sgd",
    title: "Schedule-Free SGD as schedulefree.SGDScheduleFree",
    group: Group::ScheduleFree,
    formula: "ĝ = g + λy;  y = lerp(y, z, c) + lr(β(1−c)−1)ĝ;  z = z − lr·ĝ;  x = lerp(y, z, 1−1/β)",
    reference: "schedulefree 1.4.1 SGDScheduleFree",
    params: &[
        Param::new("lr", Kind::Num, "1", Check::Lr, "learning rate (before warm-up)"),
        Param::new("momentum", Kind::Num, "0.9", Check::UnitOpen, "interpolation β between z and x, in (0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ added to the gradient at y"),
        Param::new("warmup_steps", Kind::Int, "0", Check::AtLeast(0), "linear warm-up of lr over this many steps"),
        Param::new("r", Kind::Num, "0", Check::Any, "polynomial weighting t^r of the average"),
        Param::new("weight_lr_power", Kind::Num, "2", Check::NonNeg, "averaging weights grow as (max lr so far)^power"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Averaged,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(SfSgd::<T>::new(SfSgdConfig::from_hyper(h)))
}

/// Hyperparameters of [`SfSgd`], schedulefree's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SfSgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub warmup_steps: u64,
    pub r: f64,
    pub weight_lr_power: f64,
}

impl SfSgdConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SfSgdConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            weight_decay: h.num("weight_decay"),
            warmup_steps: h.int("warmup_steps") as u64,
            r: h.num("r"),
            weight_lr_power: h.num("weight_lr_power"),
        }
    }
}

/// Schedule-Free SGD state: z, the averaging bookkeeping, and the gradient buffer.
pub struct SfSgd<T> {
    pub cfg: SfSgdConfig,
    avg: Averaging,
    z: Vec<T>,
    grad: Vec<T>,
}

impl<T: Real> SfSgd<T> {
    pub fn new(cfg: SfSgdConfig) -> Self {
        SfSgd { cfg, avg: Averaging::new(), z: Vec::new(), grad: Vec::new() }
    }
}

impl<T: Real> Optimizer<T> for SfSgd<T> {
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }

    fn report(&self, params: &[T], out: &mut [T]) {
        averaged_point(params, &self.z, self.cfg.momentum, out);
    }

    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        ensure_len(&mut self.grad, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        if self.z.len() != n {
            self.z.clear();
            self.z.extend_from_slice(params);
        }
        let c = &self.cfg;
        let (lr, ckp1) = self.avg.advance(c.lr, c.warmup_steps, c.r, c.weight_lr_power);
        let (decay, decayed) = (T::of(c.weight_decay), c.weight_decay != 0.0);
        let (ck, a, neg_lr) = (T::of(ckp1), T::of(lr * (c.momentum * (1.0 - ckp1) - 1.0)), T::of(-lr));
        for ((y, z), &g) in params.iter_mut().zip(self.z.iter_mut()).zip(&self.grad) {
            let g = if decayed { ops::add_alpha(g, *y, decay) } else { g };
            move_y_and_z(y, z, g, ck, a, neg_lr);
        }
        loss
    }
}
