//! `sf-adamw`: Schedule-Free AdamW (Defazio et al., 2024), as
//! `schedulefree.AdamWScheduleFree` (schedulefree 1.4.1, `foreach=False` arithmetic).
//!
//! Three sequences: z (the SGD-like base iterate), x (the weighted average of the z's, the
//! point to evaluate) and y = (1 − β₁)·z + β₁·x (where the gradient is taken). The
//! parameters hold y; x is recovered as x = y + (1 − 1/β₁)·(z − y) (what `.eval()` does).
//!
//! ```text
//! γ_t = lr · min(1, t/warmup_steps)                 (t = 1, 2, ...)
//! γ_max = max(γ_max, γ_t);   w_t = t^r · γ_max^p;   c_t = w_t / Σ_{i≤t} w_i   (p = weight_lr_power)
//! g_t = ∇f(y_{t−1})
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! ĝ_t = g_t / (√(v_t/(1 − β₂ᵗ)) + ε) + λ·y_{t−1}
//! y_t = y_{t−1} + c_t·(z_{t−1} − y_{t−1}) + γ_t·(β₁(1 − c_t) − 1)·ĝ_t
//! z_t = z_{t−1} − γ_t·ĝ_t                           (z_0 = y_0)
//! x_t = y_t + (1 − 1/β₁)·(z_t − y_t)                (reported)
//! ```
//!
//! Defaults as in schedulefree: lr = 0.0025, betas (0.9, 0.999), eps 1e-8,
//! weight_decay λ = 0 (evaluated at y), warmup_steps 0, r 0, weight_lr_power 2.
//! The lr a scheduler sets is the group's `lr`: the warm-up multiplies it, and γ_max keeps
//! the largest γ_t seen (so a decaying lr keeps the averaging weights of its peak).
//! `foreach` (a faster multi-tensor path) is not a key.

use super::{
    ensure_len, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "sf-adamw",
    title: "Schedule-Free AdamW as schedulefree.AdamWScheduleFree",
    group: Group::ScheduleFree,
    formula: "ĝ = g/(√(v/(1−β₂ᵗ))+ε) + λy;  y = lerp(y, z, c) + lr(β₁(1−c)−1)ĝ;  z = z − lr·ĝ;  x = lerp(y, z, 1−1/β₁)",
    reference: "schedulefree 1.4.1 AdamWScheduleFree",
    params: &[
        Param::new("lr", Kind::Num, "0.0025", Check::Lr, "learning rate (before warm-up)"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "(β₁ interpolation between z and x, β₂ of the second moment); β₁ in (0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ, added to the normalised gradient at y"),
        Param::new("warmup_steps", Kind::Int, "0", Check::AtLeast(0), "linear warm-up of lr over this many steps"),
        Param::new("r", Kind::Num, "0", Check::Any, "polynomial weighting t^r of the average"),
        Param::new("weight_lr_power", Kind::Num, "2", Check::NonNeg, "averaging weights grow as (max lr so far)^power"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Averaged,
    matrix_only: false,
    rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// The averaged point x is recovered by dividing by β₁ (schedulefree's `.eval()`).
fn rules(h: &Hyper) -> Result<(), String> {
    if h.pair("betas").0 == 0.0 {
        return Err("Schedule-Free needs beta1 > 0: the averaged point is y + (1 − 1/β₁)(z − y) (e.g. betas=(0.9, 0.999))".into());
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(SfAdamW::<T>::new(SfAdamWConfig::from_hyper(h)))
}

/// Hyperparameters of [`SfAdamW`], schedulefree's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SfAdamWConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub warmup_steps: u64,
    pub r: f64,
    pub weight_lr_power: f64,
}

impl SfAdamWConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SfAdamWConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            warmup_steps: h.int("warmup_steps") as u64,
            r: h.num("r"),
            weight_lr_power: h.num("weight_lr_power"),
        }
    }
}

/// Schedule-Free's bookkeeping of one parameter group (`k`, `lr_max`, `weight_sum`),
/// shared with `sf-sgd`.
#[derive(Clone, Debug)]
pub(super) struct Averaging {
    k: u64,
    lr_max: f64,
    weight_sum: f64,
}

impl Averaging {
    pub(super) fn new() -> Self {
        Averaging { k: 0, lr_max: -1.0, weight_sum: 0.0 }
    }

    /// Advances one step with the group's `lr`: returns (γ_t, c_t), the warmed-up lr and
    /// the weight of the new z in the average, in schedulefree's order of operations.
    pub(super) fn advance(&mut self, lr: f64, warmup_steps: u64, r: f64, weight_lr_power: f64) -> (f64, f64) {
        let t = self.k + 1;
        let sched = if self.k < warmup_steps { t as f64 / warmup_steps as f64 } else { 1.0 };
        let lr = lr * sched;
        // Python's max(lr, lr_max): the first argument unless the second is larger
        self.lr_max = if self.lr_max > lr { self.lr_max } else { lr };
        let weight = (t as f64).powf(r) * self.lr_max.powf(weight_lr_power);
        self.weight_sum += weight;
        let ckp1 = if self.weight_sum == 0.0 { 0.0 } else { weight / self.weight_sum };
        self.k = t;
        (lr, ckp1)
    }

    /// The step count so far.
    pub(super) fn k(&self) -> u64 {
        self.k
    }
}

/// y ← lerp(y, z, c) + a·ĝ;  z ← z − γ·ĝ: the part of the step both methods share.
#[inline(always)]
pub(super) fn move_y_and_z<T: Real>(y: &mut T, z: &mut T, g: T, ckp1: T, a: T, neg_lr: T) {
    *y = ops::add_alpha(ops::lerp(*y, *z, ckp1), g, a);
    *z = ops::add_alpha(*z, g, neg_lr);
}

/// Writes x = lerp(y, z, 1 − 1/β₁) (y itself before the first step).
pub(super) fn averaged_point<T: Real>(y: &[T], z: &[T], beta1: f64, out: &mut [T]) {
    if z.len() != y.len() {
        out.copy_from_slice(y);
        return;
    }
    let w = T::of(1.0 - 1.0 / beta1);
    for ((o, &y), &z) in out.iter_mut().zip(y).zip(z) {
        *o = ops::lerp(y, z, w);
    }
}

/// Schedule-Free AdamW state: z, the second moment v, the averaging bookkeeping, and the
/// gradient buffer.
pub struct SfAdamW<T> {
    pub cfg: SfAdamWConfig,
    avg: Averaging,
    z: Vec<T>,
    exp_avg_sq: Vec<T>,
    grad: Vec<T>,
}

impl<T: Real> SfAdamW<T> {
    pub fn new(cfg: SfAdamWConfig) -> Self {
        SfAdamW { cfg, avg: Averaging::new(), z: Vec::new(), exp_avg_sq: Vec::new(), grad: Vec::new() }
    }
}

impl<T: Real> Optimizer<T> for SfAdamW<T> {
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }

    fn report(&self, params: &[T], out: &mut [T]) {
        averaged_point(params, &self.z, self.cfg.betas.0, out);
    }

    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        ensure_len(&mut self.grad, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        if self.z.len() != n {
            self.z.clear();
            self.z.extend_from_slice(params);
        }
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        let c = &self.cfg;
        let (beta1, beta2) = c.betas;
        let bias_correction2 = 1.0 - beta2.powf((self.avg.k() + 1) as f64);
        let (lr, ckp1) = self.avg.advance(c.lr, c.warmup_steps, c.r, c.weight_lr_power);
        let (b2, w2, bc2, eps) = (T::of(beta2), T::of(1.0 - beta2), T::of(bias_correction2), T::of(c.eps));
        let (decay, decayed) = (T::of(c.weight_decay), c.weight_decay != 0.0);
        let (ck, a, neg_lr) = (T::of(ckp1), T::of(lr * (beta1 * (1.0 - ckp1) - 1.0)), T::of(-lr));
        for (((y, z), v), &g) in params.iter_mut().zip(self.z.iter_mut()).zip(self.exp_avg_sq.iter_mut()).zip(&self.grad)
        {
            *v = ops::addcmul(*v * b2, g, g, w2);
            let denom = (*v / bc2).sqrt() + eps;
            let mut gn = g / denom;
            if decayed {
                gn = ops::add_alpha(gn, *y, decay);
            }
            move_y_and_z(y, z, gn, ck, a, neg_lr);
        }
        loss
    }
}
