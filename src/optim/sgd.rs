//! `sgd`: stochastic gradient descent with PyTorch's full semantics
//! (`torch.optim.SGD`).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), plus λθ when `weight_decay` λ ≠ 0:
//!
//! ```text
//! if μ ≠ 0:   b_1 = g_1;   b_t = μ·b_{t−1} + (1 − τ)·g_t          (τ = dampening)
//!             g_t = g_t + μ·b_t   if nesterov   else   g_t = b_t
//! θ_t = θ_{t−1} − γ·g_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, momentum μ = 0, dampening τ = 0, weight_decay 0,
//! nesterov false, maximize false. PyTorch's errors for invalid combinations are kept:
//! nesterov needs momentum > 0 and dampening = 0.
//!
//! `sgd(momentum=μ)` is the same method as the seminar's `momentum` (m = lr·b), and
//! `sgd(momentum=μ, nesterov=true)` the same as the seminar's look-ahead `nag`, only
//! recording different points: see [`super::nag`].

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "sgd",
    title: "SGD as torch.optim.SGD (momentum, dampening, Nesterov, weight decay)",
    formula: "b = μ·b + (1−τ)·g (b = g on step 1);  g = g + μ·b if nesterov else b;  θ = θ − lr·g",
    params: &[
        ParamDoc { name: "lr", default: "0.001", doc: "learning rate" },
        ParamDoc { name: "momentum", default: "0", doc: "momentum factor μ" },
        ParamDoc { name: "dampening", default: "0", doc: "dampening τ for momentum" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ (adds λθ to the gradient)" },
        ParamDoc { name: "nesterov", default: "false", doc: "Nesterov momentum (needs momentum > 0, dampening = 0)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Sgd`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false }
    }
}

impl SgdConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"])?;
        let d = Self::default();
        Ok(SgdConfig {
            lr: a.num("lr", d.lr)?,
            momentum: a.num("momentum", d.momentum)?,
            dampening: a.num("dampening", d.dampening)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            nesterov: a.flag("nesterov", d.nesterov)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::non_negative("momentum", self.momentum)?;
        check::non_negative("weight_decay", self.weight_decay)?;
        if !self.dampening.is_finite() {
            return Err(format!("invalid dampening value: {}", self.dampening));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(format!(
                "Nesterov momentum requires a momentum and zero dampening (got momentum={}, dampening={}; set e.g. momentum=0.9, dampening=0)",
                fmt_num(self.momentum),
                fmt_num(self.dampening)
            ));
        }
        Ok(())
    }

    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("momentum", fmt_num(self.momentum)),
            ("dampening", fmt_num(self.dampening)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("nesterov", self.nesterov.to_string()),
            ("maximize", self.maximize.to_string()),
        ]
    }
}

/// State of [`SgdConfig`]'s method: the momentum buffer (absent until the first step).
pub struct Sgd<T> {
    pub cfg: SgdConfig,
    buf: Vec<T>,
}

impl<T: Real> Sgd<T> {
    pub fn new(cfg: SgdConfig) -> Self {
        Sgd { cfg, buf: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Sgd<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let neg_lr = T::of(-c.lr);
        if c.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grad) {
                let g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
                *p = ops::add_alpha(*p, g, neg_lr);
            }
            return;
        }
        let first = self.buf.len() != params.len();
        ensure_len(&mut self.buf, params.len(), T::zero());
        let mu = T::of(c.momentum);
        let one_minus_damp = T::of(1.0 - c.dampening);
        for ((p, &g), b) in params.iter_mut().zip(grad).zip(self.buf.iter_mut()) {
            let mut g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
            *b = if first { g } else { ops::add_alpha(*b * mu, g, one_minus_damp) };
            g = if c.nesterov { ops::add_alpha(g, *b, mu) } else { *b };
            *p = ops::add_alpha(*p, g, neg_lr);
        }
    }
}
