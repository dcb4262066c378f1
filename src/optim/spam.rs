//! `spam`: SPAM, Adam with momentum resets and spike clipping (Huang et al., 2025), as
//! `pytorch_optimizer.SPAM` (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), T the total step count before this
//! step, G = `update_proj_gap`, A = `grad_accu_steps`, τ = `threshold`:
//!
//! ```text
//! (T + 1) mod G = 0:   m ← 0, v ← 0                      (momentum reset)
//! τ ≠ 0, T+1 ≥ A and (T+1) mod G ≥ A:   where g² > τ·v:  g ← sign(g)·√(τ·v)   (spike clip)
//! m_t = β₁·m + (1 − β₁)·g;   v_t = β₂·v + (1 − β₂)·g²
//! θ_t = θ_{t−1} − s·γ·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m_t/(√v_t + ε);   θ_t ← θ_t·(1 − γλ)
//! ```
//!
//! t counts every step (resets do not restart it). s = 1 − c is the warm-up after a reset:
//! c is 0.99 decayed by torch's CosineAnnealingLR (computed recursively, T_max =
//! warmup_epoch + 1) over the `warmup_epoch` steps that follow it, 0 otherwise (and before
//! the first reset).
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999), weight_decay λ = 0,
//! warmup_epoch 50, threshold 5000, grad_accu_steps 20, update_proj_gap 500, eps ε = 1e-6,
//! maximize false. The reference's `density` (random sparse masks of matrices, drawn from
//! torch's generator, default 1: every entry) is not a key: optlab updates every entry.

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};
use std::f64::consts::PI;

pub(super) const METHOD: Method = Method {
    name: "spam",
    title: "SPAM (Adam with momentum resets and spike clipping) as pytorch_optimizer.SPAM",
    group: Group::Adaptive,
    formula: "every G steps m = v = 0 (then a cosine warm-up s);  g clipped to √(τv);  θ = θ − s·lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε)",
    reference: "pytorch-optimizer 4.1.0 SPAM",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "decoupled weight decay λ: θ·(1 − lr·λ) after the step"),
        Param::new("warmup_epoch", Kind::Int, "50", Check::AtLeast(0), "steps of the cosine warm-up after each reset"),
        Param::new("threshold", Kind::Num, "5000", Check::NonNeg, "spike threshold τ: g² > τ·v is clipped (0: no clipping)"),
        Param::new("grad_accu_steps", Kind::Int, "20", Check::AtLeast(0), "steps after the start and after each reset without clipping"),
        Param::new("update_proj_gap", Kind::Int, "500", Check::AtLeast(1), "steps G between momentum resets"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added to √v"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Spam::<T>::new(SpamConfig::from_hyper(h)))
}

/// pytorch-optimizer's `CosineDecay`: torch's CosineAnnealingLR (T_max = t_max + 1) on a
/// dummy SGD with lr `start`, whose `last_epoch` is set to the caller's step before each
/// `step()`; `t_max` and later give `eta_min`.
#[derive(Clone, Debug)]
pub(super) struct CosineDecay {
    start: f64,
    t_max: i64,
    eta_min: f64,
    lr: f64,
    step_count: u64,
}

impl CosineDecay {
    pub(super) fn new(start: f64, t_max: i64, eta_min: f64) -> Self {
        // at most 2^52 steps (more than any run takes), so that t_max + 1 and twice it stay
        // exact: a t_max of 1e300 saturated to i64::MAX and its period wrapped round to 0
        let t_max = t_max.clamp(0, 1 << 52);
        // the scheduler's constructor steps once, to last_epoch 0 (lr = start)
        CosineDecay { start, t_max, eta_min, lr: start, step_count: 1 }
    }

    /// The value at `current_step` (advances the scheduler as the reference does).
    pub(super) fn get(&mut self, current_step: i64) -> f64 {
        if current_step >= self.t_max {
            return self.eta_min;
        }
        self.step_count += 1;
        let t = current_step + 1;
        let (t_max, eta_min, base) = ((self.t_max + 1) as f64, self.eta_min, self.start);
        self.lr = if t == 0 {
            self.lr
        } else if self.step_count == 1 && t > 0 {
            eta_min + (base - eta_min) * (1.0 + (t as f64 * PI / t_max).cos()) / 2.0
        } else if (t - 1 - (self.t_max + 1)).rem_euclid(2 * (self.t_max + 1)) == 0 {
            self.lr + (base - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * t as f64 / t_max).cos()) / (1.0 + (PI * (t - 1) as f64 / t_max).cos()) * (self.lr - eta_min)
                + eta_min
        };
        self.lr
    }
}

/// Hyperparameters of [`Spam`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SpamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub warmup_epoch: i64,
    pub threshold: f64,
    pub grad_accu_steps: i64,
    pub update_proj_gap: i64,
    pub eps: f64,
    pub maximize: bool,
}

impl SpamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SpamConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            warmup_epoch: h.int("warmup_epoch"),
            threshold: h.num("threshold"),
            grad_accu_steps: h.int("grad_accu_steps"),
            update_proj_gap: h.int("update_proj_gap"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// SPAM state: the step counts, the warm-up schedule, m and v.
pub struct Spam<T> {
    pub cfg: SpamConfig,
    step: u64,
    total_step: i64,
    current_step: i64,
    warmup: CosineDecay,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
}

impl<T: Real> Spam<T> {
    pub fn new(cfg: SpamConfig) -> Self {
        let warmup = CosineDecay::new(0.99, cfg.warmup_epoch, 0.0);
        Spam {
            current_step: cfg.warmup_epoch + 1,
            cfg,
            step: 0,
            total_step: 0,
            warmup,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for Spam<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        let c = &self.cfg;
        let gap = c.update_proj_gap;
        if self.exp_avg.len() != n || (self.total_step + 1) % gap == 0 {
            self.exp_avg.clear();
            self.exp_avg_sq.clear();
        }
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        let scale_factor = 1.0 - self.warmup.get(self.current_step);
        self.step += 1;
        let (beta1, beta2) = c.betas;
        let t = self.step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sq = (1.0 - beta2.powf(t)).sqrt();
        let step_size = c.lr * bias_correction2_sq / bias_correction1;
        let current = self.total_step + 1;
        let clip = c.threshold != 0.0 && current >= c.grad_accu_steps && current % gap >= c.grad_accu_steps;
        let (b1, w1, b2, w2) = (T::of(beta1), T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2));
        let (tau, eps, neg_step) = (T::of(c.threshold), T::of(c.eps), T::of(-step_size * scale_factor));
        let decay = T::of(1.0 - c.weight_decay * c.lr);
        for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(self.exp_avg.iter_mut()).zip(self.exp_avg_sq.iter_mut()) {
            let mut g = if c.maximize { -g } else { g };
            if clip && g.powi(2) > tau * *v {
                g = ops::sign(g) * (*v * tau).sqrt();
            }
            *m = ops::add_alpha(*m * b1, g, w1);
            *v = ops::addcmul(*v * b2, g, g, w2);
            let de_nom = v.sqrt() + eps;
            *p = ops::addcdiv(*p, *m, de_nom, neg_step);
            *p = *p * decay;
        }
        self.total_step += 1;
        self.current_step += 1;
        if (self.total_step + 1) % gap == 0 {
            self.current_step = 0;
            self.warmup = CosineDecay::new(0.99, c.warmup_epoch, 0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: `stable-spam(t_max=1e300)` saturated to i64::MAX, and the cosine's
    /// period 2·(t_max + 1) wrapped round to 0 (a remainder by zero).
    #[test]
    fn a_huge_t_max_is_a_long_schedule_not_a_division_by_zero() {
        let mut c = CosineDecay::new(1.0, i64::MAX, 0.5);
        for step in 0..5 {
            let v = c.get(step);
            assert!(v.is_finite() && (0.5..=1.0).contains(&v), "{v}");
        }
        let mut c = CosineDecay::new(1.0, -3, 0.5);
        assert_eq!(c.get(0), 0.5);
    }
}
