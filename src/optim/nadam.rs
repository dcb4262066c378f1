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

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "nadam",
    title: "NAdam as torch.optim.NAdam",
    group: Group::Adaptive,
    formula: "μ_t = β₁(1 − ½·0.96^(tψ));  θ = θ − lr(1−μ_t)/(1−Πμ)·g/d − lr·μ_{t+1}/(1−Πμ')·m/d,  d = √(v/(1−β₂ᵗ)) + ε",
    reference: "torch.optim.NAdam",
    params: &[
        Param::new("lr", Kind::Num, "0.002", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("momentum_decay", Kind::Num, "0.004", Check::NonNeg, "momentum decay ψ"),
        Param::new("decoupled_weight_decay", Kind::Bool, "false", Check::Any, "AdamW-style decay (NAdamW)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
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
    FirstOrder::boxed(NAdam::<T>::new(NAdamConfig::from_hyper(h)))
}

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

impl NAdamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        NAdamConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            momentum_decay: h.num("momentum_decay"),
            decoupled_weight_decay: h.flag("decoupled_weight_decay"),
            maximize: h.flag("maximize"),
        }
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
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
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
