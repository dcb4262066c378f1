//! `adam`: Adam as `torch.optim.Adam` (Kingma & Ba, 2015), with AMSGrad
//! (Reddi, Kale & Kumar, 2018).
//!
//! ```text
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ; see `adamw` for the decoupled form)
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! v̂_t = max(v̂_{t−1}, v_t) if amsgrad else v_t
//! θ_t = θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / (√v̂_t / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
//! amsgrad false, maximize false.
//!
//! The seminar's own Adam divides m and v by (1 − βᵗ) *in place* every step, so the
//! bias correction compounds from step to step, and it adds ε inside the square root;
//! optlab follows PyTorch (corrections applied to copies, ε outside).

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "adam",
    title: "Adam / AMSGrad as torch.optim.Adam",
    formula: "m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  θ = θ − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε)",
    params: &[
        ParamDoc { name: "lr", default: "0.001", doc: "learning rate" },
        ParamDoc {
            name: "betas", default: "(0.9, 0.999)", doc: "decay rates (β₁, β₂) of the moments, each in [0, 1)"
        },
        ParamDoc { name: "eps", default: "1e-8", doc: "added to the denominator" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ added to the gradient" },
        ParamDoc { name: "amsgrad", default: "false", doc: "use the running maximum of v (AMSGrad)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Adam`], PyTorch's names and defaults. `decoupled_weight_decay`
/// turns it into AdamW (PyTorch ≥ 2.6 has the same switch on `Adam`).
#[derive(Clone, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        Self::from_spec_with(spec, Self::default())
    }

    pub(super) fn from_spec_with(spec: &Spec, d: AdamConfig) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"])?;
        Ok(AdamConfig {
            lr: a.num("lr", d.lr)?,
            betas: a.pair("betas", d.betas)?,
            eps: a.num("eps", d.eps)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            amsgrad: a.flag("amsgrad", d.amsgrad)?,
            maximize: a.flag("maximize", d.maximize)?,
            decoupled_weight_decay: d.decoupled_weight_decay,
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
            ("amsgrad", self.amsgrad.to_string()),
            ("maximize", self.maximize.to_string()),
        ]
    }
}

/// Adam state: step count, first and second moments, and (AMSGrad) the running max of v.
pub struct Adam<T> {
    pub cfg: AdamConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    max_exp_avg_sq: Vec<T>,
}

impl<T: Real> Adam<T> {
    pub fn new(cfg: AdamConfig) -> Self {
        Adam { cfg, step: 0, exp_avg: Vec::new(), exp_avg_sq: Vec::new(), max_exp_avg_sq: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Adam<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        if c.amsgrad {
            ensure_len(&mut self.max_exp_avg_sq, n, T::zero());
        }
        self.step += 1;
        let t = self.step as f64;
        let (b1, b2) = c.betas;
        let step_size = c.lr / (1.0 - b1.powf(t));
        let bc2_sqrt = T::of((1.0 - b2.powf(t)).sqrt());
        let (w1, b2t, w2, eps, neg_step) =
            (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(c.eps), T::of(-step_size));
        let (l2, decay) = if c.decoupled_weight_decay {
            (0.0, Some(T::of(1.0 - c.lr * c.weight_decay)))
        } else {
            (c.weight_decay, None)
        };
        if !c.amsgrad && !c.maximize && c.weight_decay == 0.0 && (1.0 - b1).abs() < 0.5 {
            // The common case, without per-element branches so that it vectorises; the same
            // arithmetic as the general loop below.
            for (((p, &g), m), v) in
                params.iter_mut().zip(grad).zip(self.exp_avg.iter_mut()).zip(self.exp_avg_sq.iter_mut())
            {
                *m = w1.mul_add(g - *m, *m);
                *v = ops::addcmul(*v * b2t, g, g, w2);
                let denom = v.sqrt() / bc2_sqrt + eps;
                *p = ops::addcdiv(*p, *m, denom, neg_step);
            }
            return;
        }
        for i in 0..n {
            let p = &mut params[i];
            if let (Some(d), true) = (decay, c.weight_decay != 0.0) {
                *p = *p * d;
            }
            let g = ops::effective_grad(grad[i], *p, c.maximize, l2);
            let m = ops::lerp(self.exp_avg[i], g, w1);
            self.exp_avg[i] = m;
            let v = ops::addcmul(self.exp_avg_sq[i] * b2t, g, g, w2);
            self.exp_avg_sq[i] = v;
            let v_hat = if c.amsgrad {
                let mx = ops::maximum(self.max_exp_avg_sq[i], v);
                self.max_exp_avg_sq[i] = mx;
                mx
            } else {
                v
            };
            let denom = v_hat.sqrt() / bc2_sqrt + eps;
            *p = ops::addcdiv(*p, m, denom, neg_step);
        }
    }
}
