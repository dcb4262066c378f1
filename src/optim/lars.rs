//! `lars`: LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017), as
//! pytorch-optimizer 4.1.0's `LARS`, tensor by tensor.
//!
//! ```text
//! g = ∇f(θ_{t−1})
//! for matrices and higher (ndim > 1):
//!     r = η·‖θ‖/(‖g‖ + λ‖θ‖)      (1 if ‖θ‖ = 0 or the denominator is 0)
//!     g = r·(g + λθ)
//! b_t = μ·b_{t−1} + (1 − τ)·g      (b_0 = 0; no momentum when μ = 0)
//! g   = g + μ·b_t if nesterov else b_t
//! θ_t = θ_{t−1} − γ·g
//! ```
//!
//! Vectors and scalars (biases, the 2-D lab's shape `2`) take plain SGD steps: no trust
//! ratio and no weight decay. Unlike torch's SGD the momentum buffer starts at 0, so the
//! first step is (1 − τ)·γ·g.
//!
//! Defaults as in pytorch-optimizer: lr γ = 0.001, weight_decay λ = 0, momentum μ = 0.9,
//! dampening τ = 0, trust_coefficient η = 0.001, nesterov false, maximize false.

use super::linalg::norm;
use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "lars",
    title: "LARS (layer-wise trust ratio on SGD) as pytorch-optimizer's LARS",
    group: Group::Matrix,
    formula: "g = η‖θ‖/(‖g‖ + λ‖θ‖) · (g + λθ) per matrix;  b = μb + (1−τ)g;  θ = θ − lr·(g + μb if nesterov else b)",
    reference: "pytorch-optimizer 4.1.0 LARS",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ (matrices only)"),
        Param::new("momentum", Kind::Num, "0.9", Check::Unit, "momentum factor μ in [0, 1)"),
        Param::new("dampening", Kind::Num, "0", Check::Unit, "dampening τ in [0, 1)"),
        Param::new("trust_coefficient", Kind::Num, "0.001", Check::NonNeg, "trust coefficient η"),
        Param::new("nesterov", Kind::Bool, "false", Check::Any, "Nesterov momentum"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Lars::<T>::new(LarsConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`Lars`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct LarsConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub trust_coefficient: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl LarsConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        LarsConfig {
            lr: h.num("lr"),
            weight_decay: h.num("weight_decay"),
            momentum: h.num("momentum"),
            dampening: h.num("dampening"),
            trust_coefficient: h.num("trust_coefficient"),
            nesterov: h.flag("nesterov"),
            maximize: h.flag("maximize"),
        }
    }
}

/// LARS state: the momentum buffer, and the scaled gradient of one step.
pub struct Lars<T> {
    pub cfg: LarsConfig,
    layout: Layout,
    buf: Vec<T>,
    g: Vec<T>,
}

impl<T: Real> Lars<T> {
    pub fn new(cfg: LarsConfig, layout: Layout) -> Self {
        Lars { cfg, layout, buf: Vec::new(), g: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Lars<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.buf, n, T::zero());
        ensure_len(&mut self.g, n, T::zero());
        for (gi, &g) in self.g.iter_mut().zip(grad) {
            *gi = if c.maximize { -g } else { g };
        }
        let wd = T::of(c.weight_decay);
        for t in self.layout.tensors.iter().filter(|t| t.shape.len() > 1) {
            let (p, g) = (&params[t.range()], &mut self.g[t.range()]);
            let (pn, gn) = (norm(p), norm(g));
            let denom = gn + wd * pn;
            let ratio = if pn > T::zero() && denom > T::zero() { T::of(c.trust_coefficient) * pn / denom } else { T::one() };
            for (gi, &pi) in g.iter_mut().zip(p) {
                *gi = ops::add_alpha(*gi, pi, wd) * ratio;
            }
        }
        let (mu, damp, neg_lr) = (T::of(c.momentum), T::of(1.0 - c.dampening), T::of(-c.lr));
        for ((p, g), b) in params.iter_mut().zip(self.g.iter_mut()).zip(self.buf.iter_mut()) {
            if c.momentum > 0.0 {
                *b = ops::add_alpha(*b * mu, *g, damp);
                *g = if c.nesterov { ops::add_alpha(*g, *b, mu) } else { *b };
            }
            *p = ops::add_alpha(*p, *g, neg_lr);
        }
    }
}
