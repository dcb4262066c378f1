//! `adabelief`: AdaBelief, Adam with the variance of the gradient around its mean
//! ("belief") in the denominator (Zhuang et al., 2020), as `pytorch_optimizer.AdaBelief`
//! (pytorch-optimizer 4.1.0), with its rectified (RAdam-like) and AMSBound variants.
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`; decay as below):
//!
//! ```text
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t
//! s_t = β₂·s_{t−1} + (1 − β₂)·(g_t − m_t)² + ε      (ŝ_t = max(ŝ_{t−1}, s_t) with ams_bound)
//! θ_t = θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / (√s_t/√(1 − β₂ᵗ) + ε)
//! ```
//!
//! `rectify`: with ρ_∞ = 2/(1 − β₂) − 1 and ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ), if ρ_t ≥
//! n_sma_threshold the step is γ·r_t/(1 − β₁ᵗ) · m_t/(√s_t + ε) (RAdam's r_t; no √(1 − β₂ᵗ)),
//! otherwise γ/(1 − β₁ᵗ)·m_t without a denominator when degenerated_to_sgd, or no step.
//! `adam_debias` leaves out the 1/(1 − β₁ᵗ) of the step size.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999), weight_decay λ = 0,
//! weight_decouple **true** (θ·(1 − γλ), or θ·(1 − λ) with fixed_decay; false adds λθ to
//! g), rectify false, n_sma_threshold 5, degenerated_to_sgd true, ams_bound false,
//! eps 1e-16, maximize false. The package's `adanorm` rescales the gradient by norms of
//! whole tensors; optlab's AdaBelief is element-wise and accepts it as `false` only.
//! `foreach` (a faster multi-tensor path, same arithmetic) is not a key.

use super::ademamix::{no_adanorm, WeightDecay};
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "adabelief",
    title: "AdaBelief (rectify, AMSBound) as pytorch_optimizer.AdaBelief",
    group: Group::Adaptive,
    formula: "m = β₁m + (1−β₁)g;  s = β₂s + (1−β₂)(g−m)² + ε;  θ = θ − lr/(1−β₁ᵗ) · m/(√s/√(1−β₂ᵗ) + ε)",
    reference: "pytorch-optimizer 4.1.0 AdaBelief",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − lr·λ) instead of λθ in the gradient"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("rectify", Kind::Bool, "false", Check::Any, "RAdam's rectified step"),
        Param::new("n_sma_threshold", Kind::Int, "5", Check::Any, "rectify: the adaptive step needs ρ_t ≥ this"),
        Param::new("degenerated_to_sgd", Kind::Bool, "true", Check::Any, "rectify: below the threshold, step along m (else no step)"),
        Param::new("ams_bound", Kind::Bool, "false", Check::Any, "use the running maximum of s (AMSBound)"),
        Param::new("eps", Kind::Num, "1e-16", Check::NonNeg, "added to s and to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("adam_debias", Kind::Bool, "false", Check::Any, "leave out 1/(1 − β₁ᵗ) of the step size (AdamD)"),
        Param::new("adanorm", Kind::Off, "false", Check::Custom(no_adanorm), "AdaNorm gradient rescaling (tensor-wise: false only)"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(AdaBelief::<T>::new(AdaBeliefConfig::from_hyper(h)))
}

/// Hyperparameters of [`AdaBelief`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaBeliefConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub rectify: bool,
    pub n_sma_threshold: f64,
    pub degenerated_to_sgd: bool,
    pub ams_bound: bool,
    pub eps: f64,
    pub maximize: bool,
    pub adam_debias: bool,
}

impl AdaBeliefConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdaBeliefConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            rectify: h.flag("rectify"),
            n_sma_threshold: h.num("n_sma_threshold"),
            degenerated_to_sgd: h.flag("degenerated_to_sgd"),
            ams_bound: h.flag("ams_bound"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            adam_debias: h.flag("adam_debias"),
        }
    }

    /// pytorch-optimizer's `get_rectify_step_size` then `apply_adam_debias`: the step size
    /// and ρ_t of step `t`.
    fn step_size(&self, t: f64) -> (f64, f64) {
        let (beta1, beta2) = self.betas;
        let mut step_size = self.lr;
        let mut n_sma = 0.0;
        if self.rectify {
            let n_sma_max = 2.0 / (1.0 - beta2) - 1.0;
            let beta2_t = beta2.powf(t);
            n_sma = n_sma_max - 2.0 * t * beta2_t / (1.0 - beta2_t);
            let rt = if n_sma >= self.n_sma_threshold {
                ((1.0 - beta2_t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0) / n_sma * n_sma_max
                    / (n_sma_max - 2.0))
                    .sqrt()
            } else if self.degenerated_to_sgd {
                1.0
            } else {
                -1.0
            };
            step_size *= rt;
        }
        if !self.adam_debias {
            step_size /= 1.0 - beta1.powf(t);
        }
        (step_size, n_sma)
    }
}

/// AdaBelief state: step count, m, the belief s, and (AMSBound) the running max of s.
pub struct AdaBelief<T> {
    pub cfg: AdaBeliefConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_var: Vec<T>,
    max_exp_avg_var: Vec<T>,
}

impl<T: Real> AdaBelief<T> {
    pub fn new(cfg: AdaBeliefConfig) -> Self {
        AdaBelief { cfg, step: 0, exp_avg: Vec::new(), exp_avg_var: Vec::new(), max_exp_avg_var: Vec::new() }
    }
}

/// How the denominator enters the step.
#[derive(Clone, Copy)]
enum Step {
    /// θ − a·m/(√s/√(1 − β₂ᵗ) + ε).
    Adaptive,
    /// rectify, ρ_t ≥ threshold: θ − a·m/(√s + ε).
    Rectified,
    /// rectify, below the threshold: θ − a·m.
    Sgd,
    /// rectify, below the threshold, not degenerated to SGD: no step.
    None,
}

impl<T: Real> GradientRule<T> for AdaBelief<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        let c = &self.cfg;
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_var, n, T::zero());
        if c.ams_bound {
            ensure_len(&mut self.max_exp_avg_var, n, T::zero());
        }
        self.step += 1;
        let t = self.step as f64;
        let (beta1, beta2) = c.betas;
        let (step_size, n_sma) = c.step_size(t);
        let kind = if !c.rectify {
            Step::Adaptive
        } else if n_sma >= c.n_sma_threshold {
            Step::Rectified
        } else if step_size > 0.0 {
            Step::Sgd
        } else {
            Step::None
        };
        let bias_correction2_sq = T::of((1.0 - beta2.powf(t)).sqrt());
        let decay = WeightDecay::new(c.weight_decay, c.weight_decouple, c.fixed_decay, c.lr);
        let (w1, b2, w2, eps, neg_step) =
            (T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2), T::of(c.eps), T::of(-step_size));
        for i in 0..n {
            let p = &mut params[i];
            let g = if c.maximize { -grad[i] } else { grad[i] };
            let g = decay.apply(p, g);
            let m = ops::lerp(self.exp_avg[i], g, w1);
            self.exp_avg[i] = m;
            let r = g - m;
            let s = ops::addcmul(self.exp_avg_var[i] * b2, r, r, w2) + eps;
            self.exp_avg_var[i] = s;
            let s_hat = if c.ams_bound {
                let mx = ops::maximum(self.max_exp_avg_var[i], s);
                self.max_exp_avg_var[i] = mx;
                mx
            } else {
                s
            };
            match kind {
                Step::Adaptive => {
                    let denom = s_hat.sqrt() / bias_correction2_sq + eps;
                    *p = ops::addcdiv(*p, m, denom, neg_step);
                }
                Step::Rectified => *p = ops::addcdiv(*p, m, s_hat.sqrt() + eps, neg_step),
                Step::Sgd => *p = ops::add_alpha(*p, m, neg_step),
                Step::None => {}
            }
        }
    }
}
