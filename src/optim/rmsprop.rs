//! `rmsprop`: RMSprop as `torch.optim.RMSprop` (Hinton's lecture 6e; centered form by
//! Graves, 2013).
//!
//! ```text
//! g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} with weight_decay λ)
//! v_t = α·v_{t−1} + (1 − α)·g_t²
//! if centered:  ḡ_t = α·ḡ_{t−1} + (1 − α)·g_t;   d_t = √(v_t − ḡ_t²) + ε
//! else:         d_t = √v_t + ε
//! if μ > 0:     b_t = μ·b_{t−1} + g_t/d_t;        θ_t = θ_{t−1} − γ·b_t
//! else:         θ_t = θ_{t−1} − γ·g_t/d_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.01, alpha α = 0.99, eps 1e-8, weight_decay 0,
//! momentum μ = 0, centered false, maximize false.

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "rmsprop",
    title: "RMSprop (optionally centered, with momentum) as torch.optim.RMSprop",
    formula: "v = αv + (1−α)g²;  d = √(v − ḡ²) + ε (centered) or √v + ε;  θ = θ − lr·g/d (or via momentum buffer)",
    params: &[
        ParamDoc { name: "lr", default: "0.01", doc: "learning rate" },
        ParamDoc { name: "alpha", default: "0.99", doc: "smoothing constant α" },
        ParamDoc { name: "eps", default: "1e-8", doc: "added to the denominator" },
        ParamDoc { name: "weight_decay", default: "0", doc: "L2 penalty λ" },
        ParamDoc { name: "momentum", default: "0", doc: "momentum factor μ" },
        ParamDoc { name: "centered", default: "false", doc: "normalise by the variance estimate" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`RmsProp`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RmsPropConfig {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl RmsPropConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"])?;
        let d = Self::default();
        Ok(RmsPropConfig {
            lr: a.num("lr", d.lr)?,
            alpha: a.num("alpha", d.alpha)?,
            eps: a.num("eps", d.eps)?,
            weight_decay: a.num("weight_decay", d.weight_decay)?,
            momentum: a.num("momentum", d.momentum)?,
            centered: a.flag("centered", d.centered)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        check::non_negative("eps", self.eps)?;
        check::non_negative("momentum", self.momentum)?;
        check::non_negative("weight_decay", self.weight_decay)?;
        check::non_negative("alpha", self.alpha)
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("alpha", fmt_num(self.alpha)),
            ("eps", fmt_num(self.eps)),
            ("weight_decay", fmt_num(self.weight_decay)),
            ("momentum", fmt_num(self.momentum)),
            ("centered", self.centered.to_string()),
            ("maximize", self.maximize.to_string()),
        ]
    }
}

/// RMSprop state: mean square, (centered) mean gradient, (momentum) buffer.
pub struct RmsProp<T> {
    pub cfg: RmsPropConfig,
    square_avg: Vec<T>,
    grad_avg: Vec<T>,
    buf: Vec<T>,
}

impl<T: Real> RmsProp<T> {
    pub fn new(cfg: RmsPropConfig) -> Self {
        RmsProp { cfg, square_avg: Vec::new(), grad_avg: Vec::new(), buf: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for RmsProp<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.square_avg, n, T::zero());
        if c.centered {
            ensure_len(&mut self.grad_avg, n, T::zero());
        }
        if c.momentum > 0.0 {
            ensure_len(&mut self.buf, n, T::zero());
        }
        let (alpha, w, eps, neg_lr, mu, one) =
            (T::of(c.alpha), T::of(1.0 - c.alpha), T::of(c.eps), T::of(-c.lr), T::of(c.momentum), T::one());
        for i in 0..n {
            let p = &mut params[i];
            let g = ops::effective_grad(grad[i], *p, c.maximize, c.weight_decay);
            let v = ops::addcmul(self.square_avg[i] * alpha, g, g, w);
            self.square_avg[i] = v;
            let avg = if c.centered {
                let ga = ops::lerp(self.grad_avg[i], g, w);
                self.grad_avg[i] = ga;
                ops::addcmul(v, ga, ga, -one).sqrt()
            } else {
                v.sqrt()
            } + eps;
            if c.momentum > 0.0 {
                let b = ops::addcdiv(self.buf[i] * mu, g, avg, one);
                self.buf[i] = b;
                *p = ops::add_alpha(*p, b, neg_lr);
            } else {
                *p = ops::addcdiv(*p, g, avg, neg_lr);
            }
        }
    }
}
