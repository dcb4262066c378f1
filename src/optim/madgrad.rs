//! `madgrad`: MADGRAD, a momentumised dual-averaged adaptive method (Defazio & Jelassi,
//! 2021), as `pytorch_optimizer.MADGRAD` (pytorch-optimizer 4.1.0).
//!
//! With k = 0, 1, ... the step index, γ' = γ + ε and λ_k = γ'·√(k+1), g_k = ∇f(θ_k) (negated
//! when `maximize`; + λ_wd·θ_k when the decay is coupled):
//!
//! ```text
//! S_k = S_{k−1} + λ_k·g_k²                    (sum of weighted squared gradients)
//! s_k = s_{k−1} + λ_k·g_k                     (dual average)
//! z   = x₀ − s_k/(∛S_k + ε)
//! μ > 0:  θ_{k+1} = μ·θ_k + (1 − μ)·z          (x₀ = θ₀, the starting point)
//! μ = 0:  θ_{k+1} = z                          (x₀ = θ_k + s_{k−1}/(∛S_{k−1} + ε), recomputed)
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum μ = 0.9, weight_decay 0,
//! weight_decouple false (true: θ_{k+1} −= γ'·λ_wd·θ_k after the step), eps ε = 1e-6,
//! maximize false. With ε = 0 a zero ∛S divides as ∞ (no step there), as the reference does.

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "madgrad",
    title: "MADGRAD (momentumised dual averaging, cube-root scaling) as pytorch_optimizer.MADGRAD",
    group: Group::Adaptive,
    formula: "λ = (lr+ε)√(k+1);  S += λg²;  s += λg;  z = x₀ − s/(∛S + ε);  θ = μθ + (1−μ)z",
    reference: "pytorch-optimizer 4.1.0 MADGRAD",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("momentum", Kind::Num, "0.9", Check::Unit, "momentum μ in [0, 1) (0: no averaging with the previous point)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decoupled decay θ −= lr·λ·θ_old after the step, instead of λθ in the gradient"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added to the cube root (and to the lr)"),
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
    FirstOrder::boxed(Madgrad::<T>::new(MadgradConfig::from_hyper(h)))
}

/// Hyperparameters of [`Madgrad`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct MadgradConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub eps: f64,
    pub maximize: bool,
}

impl MadgradConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        MadgradConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// MADGRAD state: the step index k, S (grad_sum_sq), s, and x₀ (with momentum).
pub struct Madgrad<T> {
    pub cfg: MadgradConfig,
    k: u64,
    grad_sum_sq: Vec<T>,
    s: Vec<T>,
    x0: Vec<T>,
}

impl<T: Real> Madgrad<T> {
    pub fn new(cfg: MadgradConfig) -> Self {
        Madgrad { cfg, k: 0, grad_sum_sq: Vec::new(), s: Vec::new(), x0: Vec::new() }
    }
}

/// ∛S + ε, with a zero denominator read as ∞ when ε = 0 (as the reference sets it).
#[inline(always)]
fn rms<T: Real>(sum_sq: T, eps: T, eps_zero: bool) -> T {
    let r = sum_sq.powf(T::of(1.0 / 3.0)) + eps;
    if eps_zero && r == T::zero() {
        T::infinity()
    } else {
        r
    }
}

impl<T: Real> GradientRule<T> for Madgrad<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        let c = &self.cfg;
        if self.k == 0 || self.s.len() != n {
            self.grad_sum_sq.clear();
            self.grad_sum_sq.resize(n, T::zero());
            self.s.clear();
            self.s.resize(n, T::zero());
            if c.momentum > 0.0 {
                self.x0 = params.to_vec();
            }
        }
        ensure_len(&mut self.x0, n, T::zero());
        let lr = c.lr + c.eps;
        let lamb = lr * ((self.k + 1) as f64).powf(0.5);
        let (lam, eps, eps_zero) = (T::of(lamb), T::of(c.eps), c.eps == 0.0);
        let coupled = c.weight_decay > 0.0 && !c.weight_decouple;
        let decoupled = c.weight_decay > 0.0 && c.weight_decouple;
        let (wd, neg_lr_wd) = (T::of(c.weight_decay), T::of(-lr * c.weight_decay));
        let (mom, w) = (T::of(c.momentum), T::of(1.0 - c.momentum));
        for i in 0..n {
            let p = &mut params[i];
            let mut g = if c.maximize { -grad[i] } else { grad[i] };
            if coupled {
                g = ops::add_alpha(g, *p, wd);
            }
            let (ss, s) = (&mut self.grad_sum_sq[i], &mut self.s[i]);
            let x0 = if c.momentum == 0.0 { ops::addcdiv(*p, *s, rms(*ss, eps, eps_zero), T::one()) } else { self.x0[i] };
            *ss = ops::addcmul(*ss, g, g, lam);
            let r = rms(*ss, eps, eps_zero);
            *s = ops::add_alpha(*s, g, lam);
            let old = *p;
            let z = ops::addcdiv(x0, *s, r, -T::one());
            *p = if c.momentum == 0.0 { z } else { ops::add_alpha(*p * mom, z, w) };
            if decoupled {
                *p = ops::add_alpha(*p, old, neg_lr_wd);
            }
        }
        self.k += 1;
    }
}
