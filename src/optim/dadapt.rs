//! `dadapt-adam`: D-Adaptation Adam, Adam whose step size d is estimated from the iterates
//! (Defazio & Mishchenko, 2023), as `pytorch_optimizer.DAdaptAdam` (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), γ_t = d_t·lr (divided by
//! (1 − β₁ᵗ)/√(1 − β₂ᵗ) with `bias_correction`), sums over every parameter:
//!
//! ```text
//! r_t = Σ γ_t·⟨g_t, s_{t−1}/(√v_{t−1} + ε)⟩
//! m_t = β₁·m_{t−1} + γ_t(1 − β₁)·g_t;   v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! s_t = √β₂·s_{t−1} + γ_t(1 − √β₂)·g_t
//! R_t = √β₂·R_{t−1} + (1 − √β₂)·r_t
//! d_{t+1} = max(d_t, min(R_t/((1 − √β₂)·Σ|s_t|), d_t·growth_rate))     (lr > 0)
//! θ_t = θ_{t−1}·(1 − γ_t·λ) − m_t/(√v_t + ε)
//! ```
//!
//! If Σ|s_t| = 0 (a zero gradient everywhere) the step changes nothing but the moments.
//! Defaults as in pytorch-optimizer: lr 1, betas (0.9, 0.999), d0 1e-6, growth_rate inf,
//! weight_decay λ = 0, weight_decouple false, fixed_decay false (θ·(1 − λ)), bias_correction
//! false, eps 1e-8, maximize false. The decay is decoupled only: with `weight_decouple=false`
//! the reference passes no gradient to its decay, which then does nothing; optlab keeps that.
//! d is one number over all the parameters, so the method is not element-wise.

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "dadapt-adam",
    title: "D-Adaptation Adam (step size estimated from the iterates) as pytorch_optimizer.DAdaptAdam",
    group: Group::LearningRateFree,
    formula: "γ = d·lr;  m = β₁m + γ(1−β₁)g;  s = √β₂s + γ(1−√β₂)g;  d = max(d, R/((1−√β₂)Σ|s|));  θ = θ − m/(√v + ε)",
    reference: "pytorch-optimizer 4.1.0 DAdaptAdam",
    params: &[
        Param::new("lr", Kind::Num, "1", Check::Lr, "multiplier of the estimated step size d (1: as estimated)"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("d0", Kind::Num, "1e-6", Check::Positive, "initial estimate of d"),
        Param::new("growth_rate", Kind::Num, "inf", Check::PositiveOrInf, "d grows at most by this factor per step (inf: no limit)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − d·lr·λ) (false: no decay, as in the reference)"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by the step size"),
        Param::new("bias_correction", Kind::Bool, "false", Check::Any, "Adam's bias correction in the step size"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(DAdaptAdam::<T>::new(DAdaptAdamConfig::from_hyper(h)))
}

/// Hyperparameters of [`DAdaptAdam`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct DAdaptAdamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub d0: f64,
    pub growth_rate: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub bias_correction: bool,
    pub eps: f64,
    pub maximize: bool,
}

impl DAdaptAdamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        DAdaptAdamConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            d0: h.num("d0"),
            growth_rate: h.num("growth_rate"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            bias_correction: h.flag("bias_correction"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// D-Adaptation state: the step count, the estimate d, the weighted numerator R, and the
/// moments m, v, s.
pub struct DAdaptAdam<T> {
    pub cfg: DAdaptAdamConfig,
    step: u64,
    d: f64,
    numerator_weighted: T,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    s: Vec<T>,
}

impl<T: Real> DAdaptAdam<T> {
    pub fn new(cfg: DAdaptAdamConfig) -> Self {
        DAdaptAdam {
            d: cfg.d0,
            cfg,
            step: 0,
            numerator_weighted: T::zero(),
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            s: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for DAdaptAdam<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        for buf in [&mut self.exp_avg, &mut self.exp_avg_sq, &mut self.s] {
            ensure_len(buf, n, T::zero());
        }
        let c = &self.cfg;
        let (beta1, beta2) = c.betas;
        let beta2_sq = beta2.sqrt();
        let next = (self.step + 1) as f64;
        let bias_correction = (1.0 - beta1.powf(next)) / (1.0 - beta2.powf(next)).sqrt();
        let d_lr = if c.bias_correction { self.d * c.lr / bias_correction } else { self.d * c.lr };
        self.step += 1;
        let (b1, b2, w2, b2s) = (T::of(beta1), T::of(beta2), T::of(1.0 - beta2), T::of(beta2_sq));
        let (wm, ws, eps) = (T::of(d_lr * (1.0 - beta1)), T::of(d_lr * (1.0 - beta2_sq)), T::of(c.eps));
        let mut dot = T::zero();
        let mut sk_l1 = T::zero();
        for (i, &g) in grad.iter().enumerate() {
            let g = if c.maximize { -g } else { g };
            let de_nom = self.exp_avg_sq[i].sqrt() + eps;
            dot = dot + g * (self.s[i] / de_nom);
            self.exp_avg[i] = ops::add_alpha(self.exp_avg[i] * b1, g, wm);
            self.exp_avg_sq[i] = ops::addcmul(self.exp_avg_sq[i] * b2, g, g, w2);
            self.s[i] = ops::add_alpha(self.s[i] * b2s, g, ws);
            sk_l1 = sk_l1 + self.s[i].abs();
        }
        if sk_l1 == T::zero() {
            return;
        }
        let numerator_acc = ops::add_alpha(T::zero(), dot, T::of(d_lr));
        self.numerator_weighted = ops::add_alpha(self.numerator_weighted * b2s, numerator_acc, T::of(1.0 - beta2_sq));
        if c.lr > 0.0 {
            let d_hat = (self.numerator_weighted / (T::of(1.0 - beta2_sq) * sk_l1)).f64();
            self.d = self.d.max(d_hat.min(self.d * c.growth_rate));
        }
        let decay = (c.weight_decouple && c.weight_decay != 0.0)
            .then(|| T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { d_lr }));
        for (i, p) in params.iter_mut().enumerate() {
            let de_nom = self.exp_avg_sq[i].sqrt() + eps;
            if let Some(f) = decay {
                *p = *p * f;
            }
            *p = ops::addcdiv(*p, self.exp_avg[i], de_nom, -T::one());
        }
    }
}
