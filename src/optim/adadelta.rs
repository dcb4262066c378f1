//! `adadelta`: Adadelta as `torch.optim.Adadelta` (Zeiler, 2012).
//!
//! ```text
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! v_t = ρ·v_{t−1} + (1 − ρ)·g_t²
//! Δ_t = √(u_{t−1} + ε) / √(v_t + ε) · g_t
//! u_t = ρ·u_{t−1} + (1 − ρ)·Δ_t²
//! θ_t = θ_{t−1} − γ·Δ_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 1.0, rho ρ = 0.9, eps 1e-6, weight_decay 0,
//! maximize false.
//!
//! The seminar's own Adadelta uses decay 0.1 (so the averages forget almost at once),
//! ε = 1e-8, and ignores the learning rate; optlab follows PyTorch.

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adadelta",
    title: "Adadelta as torch.optim.Adadelta",
    group: Group::Adaptive,
    formula: "v = ρv + (1−ρ)g²;  Δ = √(u+ε)/√(v+ε)·g;  u = ρu + (1−ρ)Δ²;  θ = θ − lr·Δ",
    reference: "torch.optim.Adadelta",
    params: &[
        Param::new("lr", Kind::Num, "1.0", Check::Lr, "scale applied to Δ"),
        Param::new("rho", Kind::Num, "0.9", Check::UnitClosed, "decay ρ of the running averages"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added inside both square roots"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Adadelta::<T>::new(AdadeltaConfig::from_hyper(h)))
}

/// Hyperparameters of [`Adadelta`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdadeltaConfig {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl AdadeltaConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdadeltaConfig {
            lr: h.num("lr"),
            rho: h.num("rho"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Adadelta state: running averages of squared gradients (v) and squared updates (u).
pub struct Adadelta<T> {
    pub cfg: AdadeltaConfig,
    square_avg: Vec<T>,
    acc_delta: Vec<T>,
}

impl<T: Real> Adadelta<T> {
    pub fn new(cfg: AdadeltaConfig) -> Self {
        Adadelta { cfg, square_avg: Vec::new(), acc_delta: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Adadelta<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        ensure_len(&mut self.square_avg, params.len(), T::zero());
        ensure_len(&mut self.acc_delta, params.len(), T::zero());
        let (rho, one_m_rho, eps, neg_lr) = (T::of(c.rho), T::of(1.0 - c.rho), T::of(c.eps), T::of(-c.lr));
        for (((p, &g), v), u) in
            params.iter_mut().zip(grad).zip(self.square_avg.iter_mut()).zip(self.acc_delta.iter_mut())
        {
            let g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
            *v = ops::addcmul(*v * rho, g, g, one_m_rho);
            let std = (*v + eps).sqrt();
            let delta = (*u + eps).sqrt() / std * g;
            *u = ops::addcmul(*u * rho, delta, delta, one_m_rho);
            *p = ops::add_alpha(*p, delta, neg_lr);
        }
    }
}
