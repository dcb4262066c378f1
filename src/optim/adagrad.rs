//! `adagrad`: Adagrad as `torch.optim.Adagrad` (Duchi, Hazan & Singer, 2011).
//!
//! ```text
//! γ̃_t = γ / (1 + (t − 1)·η)                      (lr_decay η)
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! s_t = s_{t−1} + g_t²                             (s_0 = initial_accumulator_value)
//! θ_t = θ_{t−1} − γ̃_t · g_t / (√s_t + ε)
//! ```
//!
//! Defaults as in PyTorch: lr 0.01, lr_decay 0, weight_decay 0,
//! initial_accumulator_value 0, eps 1e-10, maximize false.
//!
//! The seminar's own Adagrad puts ε inside the square root (`lr / sqrt(s + eps)`) and
//! uses ε = 1e-8; optlab follows PyTorch (ε outside, 1e-10).

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adagrad",
    title: "Adagrad as torch.optim.Adagrad",
    group: Group::Adaptive,
    formula: "s = s + g²;  θ = θ − lr/(1+(t−1)·lr_decay) · g/(√s + ε)",
    reference: "torch.optim.Adagrad",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "learning rate"),
        Param::new("lr_decay", Kind::Num, "0", Check::NonNeg, "learning-rate decay η"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ"),
        Param::new("initial_accumulator_value", Kind::Num, "0", Check::NonNeg, "starting value of s"),
        Param::new("eps", Kind::Num, "1e-10", Check::NonNeg, "added to √s"),
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
    FirstOrder::boxed(Adagrad::<T>::new(AdagradConfig::from_hyper(h)))
}

/// Hyperparameters of [`Adagrad`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdagradConfig {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub initial_accumulator_value: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl AdagradConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdagradConfig {
            lr: h.num("lr"),
            lr_decay: h.num("lr_decay"),
            weight_decay: h.num("weight_decay"),
            initial_accumulator_value: h.num("initial_accumulator_value"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Adagrad state: step count and the sum of squared gradients.
pub struct Adagrad<T> {
    pub cfg: AdagradConfig,
    step: u64,
    sum: Vec<T>,
}

impl<T: Real> Adagrad<T> {
    pub fn new(cfg: AdagradConfig) -> Self {
        Adagrad { cfg, step: 0, sum: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Adagrad<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        ensure_len(&mut self.sum, params.len(), T::of(c.initial_accumulator_value));
        self.step += 1;
        let clr = c.lr / (1.0 + (self.step as f64 - 1.0) * c.lr_decay);
        let (neg_clr, eps, one) = (T::of(-clr), T::of(c.eps), T::one());
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.sum.iter_mut()) {
            let g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
            *s = ops::addcmul(*s, g, g, one);
            let std = s.sqrt() + eps;
            *p = ops::addcdiv(*p, g, std, neg_clr);
        }
    }
}
