//! `signsgd`: SignSGD, steps of the gradient's sign (Bernstein et al., 2018), as
//! `pytorch_optimizer.SignSGD` with `momentum=0` (pytorch-optimizer 4.1.0). With a momentum it
//! is Signum: see [`super::signum`], the same class with momentum 0.9 by default.
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`):
//!
//! ```text
//! θ ← θ·(1 − γλ)          (weight_decouple, the default)   or   g_t ← g_t + λθ   (coupled)
//! μ > 0:   m_t = m_{t−1} + (1 − μ)·(g_t − m_{t−1})    (torch lerp),   u = sign(m_t)
//! μ = 0:   u = sign(g_t)
//! θ_t = θ − γ·u
//! ```
//!
//! Defaults of this name: lr γ = 1e-3, momentum μ = 0, weight_decay λ = 0,
//! weight_decouple true, maximize false. sign(0) = 0. `foreach` (a multi-tensor path with
//! the same arithmetic) is not a key.

use super::ademamix::WeightDecay;
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "signsgd",
    title: "SignSGD (steps of the gradient's sign) as pytorch_optimizer.SignSGD(momentum=0)",
    group: Group::SignBased,
    formula: "θ = θ·(1 − lr·λ);  θ = θ − lr·sign(g)   (momentum μ > 0: sign of m = lerp(m, g, 1−μ))",
    reference: "pytorch-optimizer 4.1.0 SignSGD",
    params: &PARAMS_SIGNSGD,
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// The keys of pytorch-optimizer's `SignSGD`, with the given default momentum.
pub(super) const fn params(momentum: &'static str) -> [Param; 5] {
    [
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate: the size of every coordinate's step"),
        Param::new("momentum", Kind::Num, momentum, Check::Unit, "momentum μ in [0, 1): 0 is SignSGD, > 0 Signum"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − lr·λ) instead of λθ in the gradient"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ]
}

const PARAMS_SIGNSGD: [Param; 5] = params("0");

pub(super) fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(SignSgd::<T>::new(SignSgdConfig::from_hyper(h)))
}

/// Hyperparameters of [`SignSgd`], pytorch-optimizer's names.
#[derive(Clone, Debug, PartialEq)]
pub struct SignSgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub maximize: bool,
}

impl SignSgdConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SignSgdConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            maximize: h.flag("maximize"),
        }
    }
}

/// SignSGD / Signum state: the momentum buffer (when μ > 0).
pub struct SignSgd<T> {
    pub cfg: SignSgdConfig,
    momentum_buffer: Vec<T>,
}

impl<T: Real> SignSgd<T> {
    pub fn new(cfg: SignSgdConfig) -> Self {
        SignSgd { cfg, momentum_buffer: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for SignSgd<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let decay = WeightDecay::new(c.weight_decay, c.weight_decouple, false, c.lr);
        let neg_lr = T::of(-c.lr);
        if c.momentum > 0.0 {
            ensure_len(&mut self.momentum_buffer, params.len(), T::zero());
            let w = T::of(1.0 - c.momentum);
            for ((p, &g), m) in params.iter_mut().zip(grad).zip(self.momentum_buffer.iter_mut()) {
                let g = decay.apply(p, if c.maximize { -g } else { g });
                *m = ops::lerp(*m, g, w);
                *p = ops::add_alpha(*p, ops::sign(*m), neg_lr);
            }
        } else {
            for (p, &g) in params.iter_mut().zip(grad) {
                let g = decay.apply(p, if c.maximize { -g } else { g });
                *p = ops::add_alpha(*p, ops::sign(g), neg_lr);
            }
        }
    }
}
