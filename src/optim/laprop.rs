//! `laprop`: LaProp, Adam with the momentum taken of the already normalised gradient
//! (Ziyin et al., 2020), as `pytorch_optimizer.LaProp` (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`):
//!
//! ```text
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! a_t = β₁·a_{t−1} + (1 − β₁)·γ                  (lr-weighted bias correction, a_0 = 0)
//! d_t = (√(v_t + 1e-15) + ε)/√(1 − β₂ᵗ)
//! m_t = β₁·m_{t−1} + (1 − β₁)·γ·g_t/d_t
//! θ_t = θ_{t−1} − m_t/(a_t/γ)                     (a_t/γ read as 1 when γ = 0)
//! θ_t ← θ_t·(1 − γλ)                             (decoupled decay, after the step)
//! ```
//!
//! `centered`: after `steps_before_using_centered` steps the squared running mean of g is
//! subtracted from v in place, as the reference does. `ams_bound` uses the running maximum of
//! v in d_t. `cautious`: the step uses a copy of m kept only where m·g > 0, scaled by
//! n/(kept + 1) per tensor (tensor-wise: such a run is not element-wise).
//!
//! Defaults as in pytorch-optimizer: lr γ = 4e-4, betas (0.9, 0.999), centered false,
//! steps_before_using_centered 10, weight_decay λ = 0, weight_decouple true, fixed_decay false
//! (θ·(1 − λ)), ams_bound false, eps ε = 1e-15, cautious false, maximize false. With
//! `weight_decouple=false` the reference adds λθ to a gradient that is no longer read, so
//! coupled decay has no effect; optlab keeps that.

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "laprop",
    title: "LaProp (momentum of the normalised gradient) as pytorch_optimizer.LaProp",
    group: Group::Adaptive,
    formula: "v = β₂v + (1−β₂)g²;  m = β₁m + (1−β₁)·lr·g/((√v + ε)/√(1−β₂ᵗ));  θ = θ − m·lr/Σ(lr-weighted β₁)",
    reference: "pytorch-optimizer 4.1.0 LaProp",
    params: &[
        Param::new("lr", Kind::Num, "4e-4", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("centered", Kind::Bool, "false", Check::Any, "subtract the squared running mean of g from v"),
        Param::new("steps_before_using_centered", Kind::Int, "10", Check::AtLeast(0), "steps before centering starts"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − lr·λ) after the step"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("ams_bound", Kind::Bool, "false", Check::Any, "use the running maximum of v"),
        Param::new("eps", Kind::Num, "1e-15", Check::NonNeg, "added to the denominator"),
        Param::new("cautious", Kind::Bool, "false", Check::Any, "mask update entries against the gradient, rescaled per tensor (tensor-wise)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(LaProp::<T>::new(LaPropConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`LaProp`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct LaPropConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub centered: bool,
    pub steps_before_using_centered: u64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub ams_bound: bool,
    pub eps: f64,
    pub cautious: bool,
    pub maximize: bool,
}

impl LaPropConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        LaPropConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            centered: h.flag("centered"),
            steps_before_using_centered: h.int("steps_before_using_centered").max(0) as u64,
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            ams_bound: h.flag("ams_bound"),
            eps: h.num("eps"),
            cautious: h.flag("cautious"),
            maximize: h.flag("maximize"),
        }
    }
}

/// LaProp state: step count, m, v, the lr-weighted bias corrections, the running mean of g
/// (centered) and the running maximum of v (ams_bound).
pub struct LaProp<T> {
    pub cfg: LaPropConfig,
    layout: Layout,
    step: u64,
    exp_avg_lr_1: f64,
    exp_avg_lr_2: f64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    exp_mean_avg_beta2: Vec<T>,
    max_exp_avg_sq: Vec<T>,
    g: Vec<T>,
    update: Vec<T>,
}

impl<T: Real> LaProp<T> {
    pub fn new(cfg: LaPropConfig, layout: Layout) -> Self {
        LaProp {
            cfg,
            layout,
            step: 0,
            exp_avg_lr_1: 0.0,
            exp_avg_lr_2: 0.0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            exp_mean_avg_beta2: Vec::new(),
            max_exp_avg_sq: Vec::new(),
            g: Vec::new(),
            update: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for LaProp<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        for buf in [&mut self.exp_avg, &mut self.exp_avg_sq, &mut self.g, &mut self.update] {
            ensure_len(buf, n, T::zero());
        }
        if self.cfg.centered {
            ensure_len(&mut self.exp_mean_avg_beta2, n, T::zero());
        }
        if self.cfg.ams_bound {
            ensure_len(&mut self.max_exp_avg_sq, n, T::zero());
        }
        self.step += 1;
        let c = &self.cfg;
        let (beta1, beta2) = c.betas;
        let bias_correction2_sq = T::of((1.0 - beta2.powf(self.step as f64)).sqrt());
        self.exp_avg_lr_1 = self.exp_avg_lr_1 * beta1 + (1.0 - beta1) * c.lr;
        self.exp_avg_lr_2 = self.exp_avg_lr_2 * beta2 + (1.0 - beta2);
        let bias_correction1 = if c.lr != 0.0 { self.exp_avg_lr_1 / c.lr } else { 1.0 };
        let neg_step_size = T::of(-(1.0 / bias_correction1));
        let centering = c.centered && self.step > c.steps_before_using_centered;
        let (b1, b2, w2, eps, tiny) = (T::of(beta1), T::of(beta2), T::of(1.0 - beta2), T::of(c.eps), T::of(1e-15));
        let w1_lr = T::of((1.0 - beta1) * c.lr);
        for (i, &g) in grad.iter().enumerate() {
            let g = if c.maximize { -g } else { g };
            self.g[i] = g;
            let mut v = ops::addcmul(self.exp_avg_sq[i] * b2, g, g, w2);
            if c.centered {
                let mean = ops::add_alpha(self.exp_mean_avg_beta2[i] * b2, g, w2);
                self.exp_mean_avg_beta2[i] = mean;
                if centering {
                    v = v - mean.powi(2);
                }
            }
            self.exp_avg_sq[i] = v;
            let vmax = if c.ams_bound {
                let mx = &mut self.max_exp_avg_sq[i];
                *mx = ops::maximum(*mx, v);
                *mx
            } else {
                v
            };
            let de_nom = ((vmax + tiny).sqrt() + eps) / bias_correction2_sq;
            let m = ops::addcdiv(self.exp_avg[i] * b1, g, de_nom, w1_lr);
            self.exp_avg[i] = m;
            self.update[i] = m;
        }
        if c.cautious {
            for r in ops::tensor_ranges(&self.layout, n) {
                ops::cautious(&mut self.update[r.clone()], &self.g[r]);
            }
        }
        let decay = if c.weight_decouple {
            Some(T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { c.lr }))
        } else {
            None
        };
        for (p, &u) in params.iter_mut().zip(self.update.iter()) {
            *p = ops::add_alpha(*p, u, neg_step_size);
            if let Some(f) = decay {
                *p = *p * f;
            }
        }
    }
}
