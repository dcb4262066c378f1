//! `adamw`: Adam with decoupled weight decay, as `torch.optim.AdamW`
//! (Loshchilov & Hutter, 2019).
//!
//! ```text
//! θ_{t−1} ← θ_{t−1}·(1 − γλ)                     (decoupled decay, before the Adam step)
//! then the Adam update of `adam` with g_t = ∇f(θ_{t−1}) (no λθ added to g)
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, betas (0.9, 0.999), eps 1e-8,
//! weight_decay λ = 0.01, amsgrad false, maximize false. Runs on [`super::Adam`].

use super::{AdamConfig, OptimizerInfo, ParamDoc, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "adamw",
    title: "AdamW (decoupled weight decay) as torch.optim.AdamW",
    formula: "θ = θ·(1 − lr·λ);  then Adam's update",
    params: &[
        ParamDoc { name: "lr", default: "0.001", doc: "learning rate" },
        ParamDoc { name: "betas", default: "(0.9, 0.999)", doc: "decay rates (β₁, β₂), each in [0, 1)" },
        ParamDoc { name: "eps", default: "1e-8", doc: "added to the denominator" },
        ParamDoc { name: "weight_decay", default: "0.01", doc: "decoupled decay λ" },
        ParamDoc { name: "amsgrad", default: "false", doc: "use the running maximum of v (AMSGrad)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of AdamW: an [`AdamConfig`] with decoupled weight decay on.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamWConfig {
    pub adam: AdamConfig,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { adam: AdamConfig { weight_decay: 1e-2, decoupled_weight_decay: true, ..AdamConfig::default() } }
    }
}

impl AdamWConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        Ok(AdamWConfig { adam: AdamConfig::from_spec_with(spec, Self::default().adam)? })
    }
    pub fn validate(&self) -> Result<(), String> {
        self.adam.validate()
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        self.adam.pairs()
    }
}
