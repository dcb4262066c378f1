//! `momentum`: heavy-ball momentum as the seminar writes it (Polyak, 1964).
//!
//! ```text
//! m_t = γ·m_{t−1} + lr·∇f(θ_{t−1})
//! θ_t = θ_{t−1} − m_t
//! ```
//!
//! Defaults: lr = 0.1, gamma γ = 0.9 (the seminar's). The same method as
//! `sgd(lr=lr, momentum=γ)`, whose buffer b = μ·b + g holds m/lr: the points visited agree
//! up to rounding for a constant lr (they differ once lr changes during a run, since here
//! the lr is folded into the buffer).

use super::registry::no_rules;
use super::{ensure_len, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "momentum",
    title: "heavy-ball momentum, the seminar's form (≈ sgd(momentum=γ))",
    group: Group::Classical,
    formula: "m = γ·m + lr·g;  θ = θ − m",
    reference: "the seminar (seminar7)",
    params: &[
        Param::new("lr", Kind::Num, "0.1", Check::Lr, "learning rate (seminar's value)"),
        Param::new("gamma", Kind::Num, "0.9", Check::UnitClosed, "momentum factor γ"),
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
    FirstOrder::boxed(Momentum::<T>::new(MomentumConfig::from_hyper(h)))
}

/// Hyperparameters of [`Momentum`].
#[derive(Clone, Debug, PartialEq)]
pub struct MomentumConfig {
    pub lr: f64,
    pub gamma: f64,
    pub maximize: bool,
}

impl MomentumConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        MomentumConfig {
            lr: h.num("lr"),
            gamma: h.num("gamma"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Heavy-ball state: the velocity m.
pub struct Momentum<T> {
    pub cfg: MomentumConfig,
    m: Vec<T>,
}

impl<T: Real> Momentum<T> {
    pub fn new(cfg: MomentumConfig) -> Self {
        Momentum { cfg, m: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Momentum<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.gamma) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        ensure_len(&mut self.m, params.len(), T::zero());
        let (gamma, lr) = (T::of(self.cfg.gamma), T::of(self.cfg.lr));
        for ((p, &g), m) in params.iter_mut().zip(grad).zip(self.m.iter_mut()) {
            let g = if self.cfg.maximize { -g } else { g };
            *m = *m * gamma + lr * g;
            *p = *p - *m;
        }
    }
}
