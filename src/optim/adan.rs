//! `adan`: Adan, adaptive Nesterov momentum (Xie et al., 2022), as pytorch-optimizer 4.1.0's
//! `Adan`.
//!
//! ```text
//! g_t = c·∇f(θ_{t−1})          c = min(1, max_grad_norm/(‖∇f‖ + ε)) over all tensors, else 1
//! d_t = g_t − g_{t−1}          (d_1 = 0: g_0 is taken as g_1)
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t
//! n_t = β₂·n_{t−1} + (1 − β₂)·d_t
//! v_t = β₃·v_{t−1} + (1 − β₃)·(g_t + β₂·d_t)²
//! u   = √v_t / √(1 − β₃ᵗ) + ε
//! θ_t = θ_{t−1}·(1 − γλ)                                  (weight_decouple)
//! θ_t = θ_t − γ/(1 − β₁ᵗ) · m_t/u − γβ₂/(1 − β₂ᵗ) · n_t/u
//! θ_t = θ_t / (1 + γλ)                                    (otherwise, when λ > 0)
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 0.001, betas (β₁, β₂, β₃) = (0.98, 0.92, 0.99),
//! weight_decay λ = 0, weight_decouple false, max_grad_norm 0 (no clipping), eps 1e-8,
//! maximize false. The reference's quirk on the first step is kept: the previous gradient
//! starts as −c·∇f before maximize flips the sign, so with `maximize` d_1 = −2g_1.
//!
//! With `max_grad_norm` > 0 the clipping factor couples all coordinates, so the method is not
//! element-wise.

use super::linalg::global_clip_factor;
use super::registry::no_rules;
use super::spec::Value;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adan",
    title: "Adan (adaptive Nesterov momentum) as pytorch-optimizer's Adan",
    group: Group::Adaptive,
    formula: "m = β₁m + (1−β₁)g;  n = β₂n + (1−β₂)Δg;  v = β₃v + (1−β₃)(g + β₂Δg)²;  θ = θ − lr·(m/(1−β₁ᵗ) + β₂n/(1−β₂ᵗ))/(√v̂ + ε)",
    reference: "pytorch-optimizer 4.1.0 Adan",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new(
            "betas",
            Kind::Nums(3),
            "(0.98, 0.92, 0.99)",
            Check::Custom(check_betas),
            "decay rates (β₁, β₂, β₃) of the gradient, gradient-difference and squared moments; β₁, β₂ in [0, 1), β₃ in [0, 1]",
        ),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decay as θ·(1 − lr·λ) before the step (else θ/(1 + lr·λ) after it)"),
        Param::new("max_grad_norm", Kind::Num, "0", Check::NonNeg, "clip the global gradient norm to this (0: no clipping)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// pytorch-optimizer's ranges: β₁, β₂ in [0, 1), β₃ in [0, 1].
pub(super) fn check_betas(v: &Value) -> Result<(), String> {
    let Value::Tuple(items) = v else { return Ok(()) };
    for (i, b) in items.iter().enumerate() {
        let Value::Num(b) = *b else { continue };
        let ok = if i < 2 { (0.0..1.0).contains(&b) } else { (0.0..=1.0).contains(&b) };
        if !ok {
            let range = if i < 2 { "[0, 1)" } else { "[0, 1]" };
            return Err(format!("invalid beta parameter at index {i}: betas={v} (beta{} must be in {range})", i + 1));
        }
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Adan::<T>::new(AdanConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`Adan`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdanConfig {
    pub lr: f64,
    pub betas: (f64, f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub max_grad_norm: f64,
    pub eps: f64,
    pub maximize: bool,
}

impl AdanConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let b = h.nums("betas");
        AdanConfig {
            lr: h.num("lr"),
            betas: (b[0], b[1], b[2]),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            max_grad_norm: h.num("max_grad_norm"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Adan state: the three moments and the negated previous gradient.
pub struct Adan<T> {
    pub cfg: AdanConfig,
    layout: Layout,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    exp_avg_diff: Vec<T>,
    neg_prev_grad: Vec<T>,
}

impl<T: Real> Adan<T> {
    pub fn new(cfg: AdanConfig, layout: Layout) -> Self {
        Adan {
            cfg,
            layout,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            exp_avg_diff: Vec::new(),
            neg_prev_grad: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for Adan<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        let clip = if c.max_grad_norm == 0.0 {
            T::one()
        } else {
            global_clip_factor(grad, &self.layout, c.max_grad_norm, c.eps)
        };
        if self.exp_avg.len() != n {
            // the reference's "previous gradient" starts as −c·g (before maximize negates g)
            self.neg_prev_grad = grad.iter().map(|&g| g * -clip).collect();
        }
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        ensure_len(&mut self.exp_avg_diff, n, T::zero());
        self.step += 1;
        let t = self.step as f64;
        let (b1, b2, b3) = c.betas;
        let step_size = T::of(-(c.lr / (1.0 - b1.powf(t))));
        let diff_step_size = T::of(-(c.lr * b2 / (1.0 - b2.powf(t))));
        let bc3_sqrt = T::of((1.0 - b3.powf(t)).sqrt());
        let (w1, w2, b2t, b3t, w3, eps) = (T::of(1.0 - b1), T::of(1.0 - b2), T::of(b2), T::of(b3), T::of(1.0 - b3), T::of(c.eps));
        let decay = (c.weight_decay != 0.0).then_some(c.lr * c.weight_decay);
        let (shrink, divide) = match decay {
            Some(d) if c.weight_decouple => (Some(T::of(1.0 - d)), None),
            Some(d) => (None, Some(T::of(1.0 + d))),
            None => (None, None),
        };
        for i in 0..n {
            let mut g = if c.maximize { -grad[i] } else { grad[i] };
            g = g * clip;
            let diff = self.neg_prev_grad[i] + g;
            let m = ops::lerp(self.exp_avg[i], g, w1);
            let nd = ops::lerp(self.exp_avg_diff[i], diff, w2);
            let d2 = diff * b2t + g;
            let v = ops::addcmul(self.exp_avg_sq[i] * b3t, d2, d2, w3);
            (self.exp_avg[i], self.exp_avg_diff[i], self.exp_avg_sq[i]) = (m, nd, v);
            let denom = v.sqrt() / bc3_sqrt + eps;
            let mut p = params[i];
            if let Some(s) = shrink {
                p = p * s;
            }
            p = ops::addcdiv(p, m, denom, step_size);
            p = ops::addcdiv(p, nd, denom, diff_step_size);
            if let Some(d) = divide {
                p = p / d;
            }
            params[i] = p;
            self.neg_prev_grad[i] = -g;
        }
    }
}
