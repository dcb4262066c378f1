//! `gd`: plain gradient descent, the seminar's `GD`.
//!
//! ```text
//! θ_t = θ_{t−1} − lr·∇f(θ_{t−1})
//! ```
//!
//! Default lr = 0.1 (the seminar's value). Identical, bit for bit, to `sgd(lr=…)`: the
//! update is rounded like PyTorch's `param.add_(grad, alpha=-lr)` (one fused multiply-add),
//! where the seminar's `v -= lr * v.grad` rounds twice; the difference is below one ulp
//! per step.

use super::{check, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "gd",
    title: "plain gradient descent (seminar's GD; same as sgd without momentum)",
    formula: "θ = θ − lr·g",
    params: &[
        ParamDoc { name: "lr", default: "0.1", doc: "learning rate (seminar's value)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Gd`].
#[derive(Clone, Debug, PartialEq)]
pub struct GdConfig {
    pub lr: f64,
    pub maximize: bool,
}

impl Default for GdConfig {
    fn default() -> Self {
        GdConfig { lr: 0.1, maximize: false }
    }
}

impl GdConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "maximize"])?;
        let d = Self::default();
        Ok(GdConfig { lr: a.num("lr", d.lr)?, maximize: a.flag("maximize", d.maximize)? })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![("lr", fmt_num(self.lr)), ("maximize", self.maximize.to_string())]
    }
}

/// Plain gradient descent (stateless).
pub struct Gd {
    pub cfg: GdConfig,
}

impl Gd {
    pub fn new(cfg: GdConfig) -> Self {
        Gd { cfg }
    }
}

impl<T: Real> GradientRule<T> for Gd {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let neg_lr = T::of(-self.cfg.lr);
        for (p, &g) in params.iter_mut().zip(grad) {
            let g = if self.cfg.maximize { -g } else { g };
            *p = ops::add_alpha(*p, g, neg_lr);
        }
    }
}
