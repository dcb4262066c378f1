//! `adamax`: Adamax (Adam with the infinity norm), as `torch.optim.Adamax`
//! (Kingma & Ba, 2015, §7.1).
//!
//! ```text
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t
//! u_t = max(β₂·u_{t−1}, |g_t| + ε)
//! θ_t = θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / u_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.002, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
//! maximize false.

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adamax",
    title: "Adamax as torch.optim.Adamax",
    group: Group::Adaptive,
    formula: "m = β₁m + (1−β₁)g;  u = max(β₂u, |g| + ε);  θ = θ − lr/(1−β₁ᵗ) · m/u",
    reference: "torch.optim.Adamax",
    params: &[
        Param::new("lr", Kind::Num, "0.002", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to |g|"),
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
    FirstOrder::boxed(Adamax::<T>::new(AdamaxConfig::from_hyper(h)))
}

/// Hyperparameters of [`Adamax`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamaxConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl AdamaxConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdamaxConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Adamax state: step count, first moment, infinity norm.
pub struct Adamax<T> {
    pub cfg: AdamaxConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_inf: Vec<T>,
}

impl<T: Real> Adamax<T> {
    pub fn new(cfg: AdamaxConfig) -> Self {
        Adamax { cfg, step: 0, exp_avg: Vec::new(), exp_inf: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Adamax<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_inf, n, T::zero());
        self.step += 1;
        let (b1, b2) = c.betas;
        let clr = c.lr / (1.0 - b1.powf(self.step as f64));
        let (w1, b2t, eps, neg_clr) = (T::of(1.0 - b1), T::of(b2), T::of(c.eps), T::of(-clr));
        for i in 0..n {
            let p = &mut params[i];
            let g = ops::effective_grad(grad[i], *p, c.maximize, c.weight_decay);
            let m = ops::lerp(self.exp_avg[i], g, w1);
            self.exp_avg[i] = m;
            let u = ops::maximum(self.exp_inf[i] * b2t, g.abs() + eps);
            self.exp_inf[i] = u;
            *p = ops::addcdiv(*p, m, u, neg_clr);
        }
    }
}
