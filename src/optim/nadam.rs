//! `nadam`: Adam with Nesterov momentum, as `torch.optim.NAdam` (Dozat, 2016).
//!
//! ```text
//! μ_t = β₁·(1 − ½·0.96^(t·ψ))                    (momentum_decay ψ)
//! g_t = ∇f(θ_{t−1}) (+ λθ, or θ·(1 − γλ) first when decoupled_weight_decay)
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! d_t = √(v_t / (1 − β₂ᵗ)) + ε
//! θ_t = θ_{t−1} − γ(1 − μ_t)/(1 − Π_{i≤t} μ_i) · g_t/d_t − γμ_{t+1}/(1 − Π_{i≤t+1} μ_i) · m_t/d_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.002, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
//! momentum_decay 0.004, decoupled_weight_decay false, maximize false. The running product
//! of μ is kept in f64 (as PyTorch does under a float64 default dtype).

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "nadam",
    title: "NAdam as torch.optim.NAdam",
    formula: "μ_t = β₁(1 − ½·0.96^(tψ));  θ = θ − lr(1−μ_t)/(1−Πμ)·g/d − lr·μ_{t+1}/(1−Πμ')·m/d,  d = √(v/(1−β₂ᵗ)) + ε",
    params: &[
        ParamDoc { name: "lr", default: "0.002", doc: "learning rate" },
        ParamDoc { name: "betas", default: "(0.9, 0.999)", doc: "decay rates (β₁, β₂), each in [0, 1)" },
        ParamDoc { name: "eps", default: "1e-8", doc: "added to the denominator" },
        ParamDoc { name: "weight_decay", default: "0", doc: "weight decay λ" },
        ParamDoc { name: "momentum_decay", default: "0.004", doc: "momentum decay ψ" },
        ParamDoc { name: "decoupled_weight_decay", default: "false", doc: "AdamW-style decay (NAdamW)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`NAdam`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct NAdamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl Default for NAdamConfig {
    fn default() -> Self {
        NAdamConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl NAdamConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a =
            spec.args(&["lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"])?;
        let d = Self::default();
        Ok(NAdamConfig {
            lr: a.num("lr", d.lr)?,
            betas: a.pair("betas", d.betas)?,
            eps: a.num("eps", d.eps)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            momentum_decay: a.num("momentum_decay", d.momentum_decay)?,
            decoupled_weight_decay: a.flag("decoupled_weight_decay", d.decoupled_weight_decay)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::non_negative("eps", self.eps)?;
        check::betas(self.betas)?;
        check::non_negative("weight_decay", self.weight_decay)?;
        check::non_negative("momentum_decay", self.momentum_decay)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("betas", format!("({}, {})", fmt_num(self.betas.0), fmt_num(self.betas.1))),
            ("eps", fmt_num(self.eps)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("momentum_decay", fmt_num(self.momentum_decay)),
            ("decoupled_weight_decay", self.decoupled_weight_decay.to_string()),
            ("maximize", self.maximize.to_string()),
        ]
    }
}

/// NAdam state: step count, product of μ, first and second moments.
pub struct NAdam<T> {
    pub cfg: NAdamConfig,
    step: u64,
    mu_product: f64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
}

impl<T: Real> NAdam<T> {
    pub fn new(cfg: NAdamConfig) -> Self {
        NAdam { cfg, step: 0, mu_product: 1.0, exp_avg: Vec::new(), exp_avg_sq: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for NAdam<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        self.step += 1;
        let t = self.step as f64;
        let (b1, b2) = c.betas;
        let bc2 = T::of(1.0 - b2.powf(t));
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * c.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * c.momentum_decay));
        self.mu_product *= mu;
        let mu_product_next = self.mu_product * mu_next;
        let coef_g = T::of(-c.lr * (1.0 - mu) / (1.0 - self.mu_product));
        let coef_m = T::of((-c.lr * mu_next) / (1.0 - mu_product_next));
        let (w1, b2t, w2, eps) = (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(c.eps));
        let (l2, decay) = if c.decoupled_weight_decay {
            (0.0, T::of(1.0 - c.lr * c.weight_decay))
        } else {
            (c.weight_decay, T::one())
        };
        for i in 0..n {
            let p = &mut params[i];
            if c.decoupled_weight_decay && c.weight_decay != 0.0 {
                *p = *p * decay;
            }
            let g = ops::effective_grad(grad[i], *p, c.maximize, l2);
            let m = ops::lerp(self.exp_avg[i], g, w1);
            self.exp_avg[i] = m;
            let v = ops::addcmul(self.exp_avg_sq[i] * b2t, g, g, w2);
            self.exp_avg_sq[i] = v;
            let denom = (v / bc2).sqrt() + eps;
            *p = ops::addcdiv(*p, g, denom, coef_g);
            *p = ops::addcdiv(*p, m, denom, coef_m);
        }
    }
}
