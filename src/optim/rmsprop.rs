//! `rmsprop`: RMSprop as `torch.optim.RMSprop` (Hinton's lecture 6e; centered form by
//! Graves, 2013).
//!
//! ```text
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! v_t = α·v_{t−1} + (1 − α)·g_t²
//! if centered:  ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t;   d_t = √(v_t − ḡ_t²) + ε
//! else:         d_t = √v_t + ε
//! if μ > 0:     b_t = μ·b_{t−1} + g_t/d_t;        θ_t = θ_{t−1} − γ·b_t
//! else:         θ_t = θ_{t−1} − γ·g_t/d_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.01, alpha α = 0.99, eps 1e-8, weight_decay 0,
//! momentum μ = 0, centered false, maximize false.

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "rmsprop",
    title: "RMSprop (optionally centered, with momentum) as torch.optim.RMSprop",
    group: Group::Adaptive,
    formula: "v = αv + (1−α)g²;  d = √(v − ḡ²) + ε (centered) or √v + ε;  θ = θ − lr·g/d (or via momentum buffer)",
    reference: "torch.optim.RMSprop",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "learning rate"),
        Param::new("alpha", Kind::Num, "0.99", Check::NonNeg, "smoothing constant α"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ"),
        Param::new("momentum", Kind::Num, "0", Check::NonNeg, "momentum factor μ"),
        Param::new("centered", Kind::Bool, "false", Check::Any, "normalise by the variance estimate"),
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
    FirstOrder::boxed(RmsProp::<T>::new(RmsPropConfig::from_hyper(h)))
}

/// Hyperparameters of [`RmsProp`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RmsPropConfig {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

impl RmsPropConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        RmsPropConfig {
            lr: h.num("lr"),
            alpha: h.num("alpha"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            momentum: h.num("momentum"),
            centered: h.flag("centered"),
            maximize: h.flag("maximize"),
        }
    }
}

/// RMSprop state: mean square, (centered) mean gradient, (momentum) buffer.
pub struct RmsProp<T> {
    pub cfg: RmsPropConfig,
    square_avg: Vec<T>,
    grad_avg: Vec<T>,
    buf: Vec<T>,
}

impl<T: Real> RmsProp<T> {
    pub fn new(cfg: RmsPropConfig) -> Self {
        RmsProp { cfg, square_avg: Vec::new(), grad_avg: Vec::new(), buf: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for RmsProp<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.square_avg, n, T::zero());
        if c.centered {
            ensure_len(&mut self.grad_avg, n, T::zero());
        }
        if c.momentum > 0.0 {
            ensure_len(&mut self.buf, n, T::zero());
        }
        let (alpha, w, eps, neg_lr, mu, one) =
            (T::of(c.alpha), T::of(1.0 - c.alpha), T::of(c.eps), T::of(-c.lr), T::of(c.momentum), T::one());
        for i in 0..n {
            let p = &mut params[i];
            let g = ops::effective_grad(grad[i], *p, c.maximize, c.weight_decay);
            let v = ops::addcmul(self.square_avg[i] * alpha, g, g, w);
            self.square_avg[i] = v;
            let avg = if c.centered {
                let ga = ops::lerp(self.grad_avg[i], g, w);
                self.grad_avg[i] = ga;
                ops::addcmul(v, ga, ga, -one).sqrt()
            } else {
                v.sqrt()
            } + eps;
            if c.momentum > 0.0 {
                let b = ops::addcdiv(self.buf[i] * mu, g, avg, one);
                self.buf[i] = b;
                *p = ops::add_alpha(*p, b, neg_lr);
            } else {
                *p = ops::addcdiv(*p, g, avg, neg_lr);
            }
        }
    }
}
