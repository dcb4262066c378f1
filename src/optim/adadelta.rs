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

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "adadelta",
    title: "Adadelta as torch.optim.Adadelta",
    formula: "v = ρv + (1−ρ)g²;  Δ = √(u+ε)/√(v+ε)·g;  u = ρu + (1−ρ)Δ²;  θ = θ − lr·Δ",
    params: &[
        ParamDoc { name: "lr", default: "1.0", doc: "scale applied to Δ" },
        ParamDoc { name: "rho", default: "0.9", doc: "decay ρ of the running averages" },
        ParamDoc { name: "eps", default: "1e-6", doc: "added inside both square roots" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Adadelta`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdadeltaConfig {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false }
    }
}

impl AdadeltaConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "rho", "eps", "weight_decay", "maximize"])?;
        let d = Self::default();
        Ok(AdadeltaConfig {
            lr: a.num("lr", d.lr)?,
            rho: a.num("rho", d.rho)?,
            eps: a.num("eps", d.eps)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::unit_closed("rho", self.rho)?;
        check::non_negative("eps", self.eps)?;
        check::non_negative("weight_decay", self.weight_decay)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("rho", fmt_num(self.rho)),
            ("eps", fmt_num(self.eps)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("maximize", self.maximize.to_string()),
        ]
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
