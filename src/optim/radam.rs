//! `radam`: rectified Adam, as `torch.optim.RAdam` (Liu et al., 2020).
//!
//! ```text
//! m_t, v_t as in Adam;  m̂_t = m_t / (1 − β₁ᵗ)
//! ρ_∞ = 2/(1 − β₂) − 1;   ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
//! if ρ_t > 5:  r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
//!              θ_t = θ_{t−1} − γ·m̂_t · √(1 − β₂ᵗ)/(√v_t + ε) · r_t
//! else:        θ_t = θ_{t−1} − γ·m̂_t                (un-normalised momentum SGD)
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
//! decoupled_weight_decay false, maximize false. With the default β₂ the first five steps
//! take the second branch, so a large lr moves θ by lr·|m̂| — easily divergent on
//! steep functions.

use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "radam",
    title: "RAdam (rectified Adam) as torch.optim.RAdam",
    group: Group::Adaptive,
    formula: "ρ_t = ρ_∞ − 2tβ₂ᵗ/(1−β₂ᵗ);  θ = θ − lr·m̂·√(1−β₂ᵗ)/(√v+ε)·r_t if ρ_t > 5 else θ − lr·m̂",
    reference: "torch.optim.RAdam",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("decoupled_weight_decay", Kind::Bool, "false", Check::Any, "AdamW-style decay"),
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
    FirstOrder::boxed(RAdam::<T>::new(RAdamConfig::from_hyper(h)))
}

/// Hyperparameters of [`RAdam`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RAdamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub maximize: bool,
}

impl RAdamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        RAdamConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            decoupled_weight_decay: h.flag("decoupled_weight_decay"),
            maximize: h.flag("maximize"),
        }
    }
}

/// RAdam state: step count, first and second moments.
pub struct RAdam<T> {
    pub cfg: RAdamConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
}

impl<T: Real> RAdam<T> {
    pub fn new(cfg: RAdamConfig) -> Self {
        RAdam { cfg, step: 0, exp_avg: Vec::new(), exp_avg_sq: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for RAdam<T> {
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
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rectified = rho_t > 5.0;
        let rect =
            T::of(((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5));
        let bc2_sqrt = T::of(bc2.powf(0.5));
        let (w1, b2t, w2, eps, lr, bc1t) =
            (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(c.eps), T::of(c.lr), T::of(bc1));
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
            let m_hat = m / bc1t;
            if rectified {
                // PyTorch: (bc2 ** 0.5) / (sqrt(v) + eps) is computed as reciprocal() * bc2_sqrt
                let adaptive = (T::one() / (v.sqrt() + eps)) * bc2_sqrt;
                *p = *p - m_hat * lr * adaptive * rect;
            } else {
                *p = *p - m_hat * lr;
            }
        }
    }
}
