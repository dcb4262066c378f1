//! `adopt`: ADOPT, Adam that normalises the gradient by the *previous* second moment
//! (Taniguchi et al., 2024), as `pytorch_optimizer.ADOPT` (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`; decay as below):
//!
//! ```text
//! t = 1:   v_1 = g_1²                                  (no step)
//! t > 1:   n_t = clip(g_t / max(√v_{t−1}, ε), −c_t, c_t)    (c_t = t^clip_lambda)
//!          m_t = β₁·m_{t−1} + (1 − β₁)·n_t
//!          θ_t = θ_{t−1} − γ·m_t
//!          v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.9999), weight_decay λ = 0,
//! weight_decouple false (true: θ·(1 − γλ), or θ·(1 − λ) with fixed_decay; applied on the
//! first step too), eps 1e-6, maximize false. The package's `clip_lambda` is a function of
//! the step, by default `step ** 0.25`; here it is the exponent (0.25), or None for no
//! clipping. `cautious`: the step uses a copy of m_t kept only where m_t·n_t > 0 and scaled by
//! k/(kept + 1) per tensor of k entries (a tensor-wise statistic: such a run is not
//! element-wise). Its `stable_adamw` switch rescales the step by the RMS of g²/v over a tensor;
//! optlab accepts it as `false` only. `foreach` is not a key.

use super::ademamix::{no_stable_adamw, WeightDecay};
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "adopt",
    title: "ADOPT (gradient normalised by the previous second moment) as pytorch_optimizer.ADOPT",
    group: Group::Adaptive,
    formula: "n = clip(g/max(√v, ε), ±t^¼);  m = β₁m + (1−β₁)n;  θ = θ − lr·m;  v = β₂v + (1−β₂)g²",
    reference: "pytorch-optimizer 4.1.0 ADOPT",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.9999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("clip_lambda", Kind::MaybeNum, "0.25", Check::Any, "clip the normalised gradient to ±step^clip_lambda (None: no clipping)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − lr·λ) instead of λθ in the gradient"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "lower bound of √v"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("cautious", Kind::Bool, "false", Check::Any, "mask the momentum against the normalised gradient, rescaled per tensor (tensor-wise)"),
        Param::new("stable_adamw", Kind::Off, "false", Check::Custom(no_stable_adamw), "StableAdamW update scaling (tensor-wise: false only)"),
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
    FirstOrder::boxed(Adopt::<T>::new(AdoptConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`Adopt`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdoptConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    /// The exponent of the clipping bound step^p (None: no clipping).
    pub clip_lambda: Option<f64>,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub eps: f64,
    pub maximize: bool,
    pub cautious: bool,
}

impl AdoptConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdoptConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            clip_lambda: h.maybe_num("clip_lambda"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            cautious: h.flag("cautious"),
        }
    }
}

/// ADOPT state: step count, m and v.
pub struct Adopt<T> {
    pub cfg: AdoptConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    /// The tensors `cautious` masks over, and its scratch (masked m, normalised and plain g).
    layout: Layout,
    masked: Vec<T>,
    normed: Vec<T>,
    g: Vec<T>,
}

impl<T: Real> Adopt<T> {
    /// With the tensors that `cautious` masks over (one tensor when the layout does not fit).
    pub fn new(cfg: AdoptConfig, layout: Layout) -> Self {
        Adopt {
            cfg,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            layout,
            masked: Vec::new(),
            normed: Vec::new(),
            g: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for Adopt<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        self.step += 1;
        let c = &self.cfg;
        let decay = WeightDecay::new(c.weight_decay, c.weight_decouple, c.fixed_decay, c.lr);
        let maximize = c.maximize;
        let sign = |g: T| if maximize { -g } else { g };
        if self.step == 1 {
            for ((p, &g), v) in params.iter_mut().zip(grad).zip(self.exp_avg_sq.iter_mut()) {
                let g = decay.apply(p, sign(g));
                *v = g.mul_add(g, *v);
            }
            return;
        }
        let (beta1, beta2) = c.betas;
        let clip = c.clip_lambda.map(|e| T::of((self.step as f64).powf(e)));
        let (w1, b2, w2, eps, neg_lr) =
            (T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2), T::of(c.eps), T::of(-c.lr));
        let normalise = |g: T, v: T| {
            let root = v.sqrt();
            // clamp_(min=eps): NaN stays NaN
            let denom = if root < eps { eps } else { root };
            let mut normed = g / denom;
            if let Some(cl) = clip {
                normed = ops::maximum(normed, -cl);
                normed = if normed.is_nan() || normed <= cl { normed } else { cl };
            }
            normed
        };
        if c.cautious {
            for buf in [&mut self.masked, &mut self.normed, &mut self.g] {
                ensure_len(buf, n, T::zero());
            }
            for i in 0..n {
                let g = decay.apply(&mut params[i], sign(grad[i]));
                self.g[i] = g;
                let normed = normalise(g, self.exp_avg_sq[i]);
                self.normed[i] = normed;
                self.exp_avg[i] = ops::lerp(self.exp_avg[i], normed, w1);
                self.masked[i] = self.exp_avg[i];
            }
            for r in ops::tensor_ranges(&self.layout, n) {
                ops::cautious(&mut self.masked[r.clone()], &self.normed[r]);
            }
            for (i, p) in params.iter_mut().enumerate() {
                *p = ops::add_alpha(*p, self.masked[i], neg_lr);
                let g = self.g[i];
                self.exp_avg_sq[i] = ops::addcmul(self.exp_avg_sq[i] * b2, g, g, w2);
            }
            return;
        }
        for (((p, &g), m), v) in
            params.iter_mut().zip(grad).zip(self.exp_avg.iter_mut()).zip(self.exp_avg_sq.iter_mut())
        {
            let g = decay.apply(p, sign(g));
            *m = ops::lerp(*m, normalise(g, *v), w1);
            *p = ops::add_alpha(*p, *m, neg_lr);
            *v = ops::addcmul(*v * b2, g, g, w2);
        }
    }
}
