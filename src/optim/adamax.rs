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

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "adamax",
    title: "Adamax as torch.optim.Adamax",
    formula: "m = β₁m + (1−β₁)g;  u = max(β₂u, |g| + ε);  θ = θ − lr/(1−β₁ᵗ) · m/u",
    params: &[
        ParamDoc { name: "lr", default: "0.002", doc: "learning rate" },
        ParamDoc { name: "betas", default: "(0.9, 0.999)", doc: "decay rates (β₁, β₂), each in [0, 1)" },
        ParamDoc { name: "eps", default: "1e-8", doc: "added to |g|" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Adamax`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamaxConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        AdamaxConfig { lr: 2e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, maximize: false }
    }
}

impl AdamaxConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "betas", "eps", "weight_decay", "maximize"])?;
        let d = Self::default();
        Ok(AdamaxConfig {
            lr: a.num("lr", d.lr)?,
            betas: a.pair("betas", d.betas)?,
            eps: a.num("eps", d.eps)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::non_negative("eps", self.eps)?;
        check::betas(self.betas)?;
        check::non_negative("weight_decay", self.weight_decay)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("betas", format!("({}, {})", fmt_num(self.betas.0), fmt_num(self.betas.1))),
            ("eps", fmt_num(self.eps)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("maximize", self.maximize.to_string()),
        ]
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
