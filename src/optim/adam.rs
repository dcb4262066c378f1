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

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adam",
    title: "Adam / AMSGrad as torch.optim.Adam",
    group: Group::Adaptive,
    formula: "m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  θ = θ − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε)",
    reference: "torch.optim.Adam",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂) of the moments, each in [0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ added to the gradient"),
        Param::new("amsgrad", Kind::Bool, "false", Check::Any, "use the running maximum of v (AMSGrad)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("decoupled_weight_decay", Kind::Bool, "false", Check::Any, "decay θ·(1 − lr·λ) as AdamW does (torch ≥ 2.6)"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Adam::<T>::new(AdamConfig::from_hyper(h)))
}

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

impl AdamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdamConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            amsgrad: h.flag("amsgrad"),
            maximize: h.flag("maximize"),
            decoupled_weight_decay: h.has("decoupled_weight_decay") && h.flag("decoupled_weight_decay"),
        }
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
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
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
