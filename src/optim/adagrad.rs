//! `adagrad`: Adagrad as `torch.optim.Adagrad` (Duchi, Hazan & Singer, 2011).
//!
//! ```text
//! γ̃_t = γ / (1 + (t − 1)·η)                      (lr_decay η)
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! s_t = s_{t−1} + g_t²                             (s_0 = initial_accumulator_value)
//! θ_t = θ_{t−1} − γ̃_t · g_t / (√s_t + ε)
//! ```
//!
//! Defaults as in PyTorch: lr 0.01, lr_decay 0, weight_decay 0,
//! initial_accumulator_value 0, eps 1e-10, maximize false.
//!
//! The seminar's own Adagrad puts ε inside the square root (`lr / sqrt(s + eps)`) and
//! uses ε = 1e-8; optlab follows PyTorch (ε outside, 1e-10).

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "adagrad",
    title: "Adagrad as torch.optim.Adagrad",
    formula: "s = s + g²;  θ = θ − lr/(1+(t−1)·lr_decay) · g/(√s + ε)",
    params: &[
        ParamDoc { name: "lr", default: "0.01", doc: "learning rate" },
        ParamDoc { name: "lr_decay", default: "0", doc: "learning-rate decay η" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ" },
        ParamDoc { name: "initial_accumulator_value", default: "0", doc: "starting value of s" },
        ParamDoc { name: "eps", default: "1e-10", doc: "added to √s" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Adagrad`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdagradConfig {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub initial_accumulator_value: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl AdagradConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"])?;
        let d = Self::default();
        Ok(AdagradConfig {
            lr: a.num("lr", d.lr)?,
            lr_decay: a.num("lr_decay", d.lr_decay)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            initial_accumulator_value: a.num("initial_accumulator_value", d.initial_accumulator_value)?,
            eps: a.num("eps", d.eps)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::non_negative("lr_decay", self.lr_decay)?;
        check::non_negative("weight_decay", self.weight_decay)?;
        check::non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        check::non_negative("eps", self.eps)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("lr_decay", fmt_num(self.lr_decay)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("initial_accumulator_value", fmt_num(self.initial_accumulator_value)),
            ("eps", fmt_num(self.eps)),
            ("maximize", self.maximize.to_string()),
        ]
    }
}

/// Adagrad state: step count and the sum of squared gradients.
pub struct Adagrad<T> {
    pub cfg: AdagradConfig,
    step: u64,
    sum: Vec<T>,
}

impl<T: Real> Adagrad<T> {
    pub fn new(cfg: AdagradConfig) -> Self {
        Adagrad { cfg, step: 0, sum: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Adagrad<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        ensure_len(&mut self.sum, params.len(), T::of(c.initial_accumulator_value));
        self.step += 1;
        let clr = c.lr / (1.0 + (self.step as f64 - 1.0) * c.lr_decay);
        let (neg_clr, eps, one) = (T::of(-clr), T::of(c.eps), T::one());
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.sum.iter_mut()) {
            let g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
            *s = ops::addcmul(*s, g, g, one);
            let std = s.sqrt() + eps;
            *p = ops::addcdiv(*p, g, std, neg_clr);
        }
    }
}
