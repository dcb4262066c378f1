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

use super::{check, ensure_len, fmt_num, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "momentum",
    title: "heavy-ball momentum, the seminar's form (≈ sgd(momentum=γ))",
    formula: "m = γ·m + lr·g;  θ = θ − m",
    params: &[
        ParamDoc { name: "lr", default: "0.1", doc: "learning rate (seminar's value)" },
        ParamDoc { name: "gamma", default: "0.9", doc: "momentum factor γ" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Momentum`].
#[derive(Clone, Debug, PartialEq)]
pub struct MomentumConfig {
    pub lr: f64,
    pub gamma: f64,
    pub maximize: bool,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig { lr: 0.1, gamma: 0.9, maximize: false }
    }
}

impl MomentumConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "gamma", "maximize"])?;
        let d = Self::default();
        Ok(MomentumConfig {
            lr: a.num("lr", d.lr)?,
            gamma: a.num("gamma", d.gamma)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::unit_closed("gamma", self.gamma)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("lr", fmt_num(self.lr)), ("gamma", fmt_num(self.gamma)), ("maximize", self.maximize.to_string())]
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
