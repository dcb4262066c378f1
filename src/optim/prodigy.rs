//! `prodigy`: Prodigy, Adam with a learning-rate estimate d (Mishchenko & Defazio, 2024),
//! as `prodigyopt.Prodigy` (prodigyopt 1.1.2).
//!
//! With g_t = ∇f(θ_{t−1}) (+ λθ_{t−1} when weight decay is coupled), η_t = lr·d_t·ρ_t
//! (ρ_t = √(1 − β₂ᵗ)/(1 − β₁ᵗ) with use_bias_correction, else 1), and sums over ALL
//! parameters (every tensor, every `slice_p`-th entry):
//!
//! ```text
//! m_t = β₁·m_{t−1} + d_t(1 − β₁)·g_t
//! v_t = β₂·v_{t−1} + d_t²(1 − β₂)·g_t²
//! s_t = β₃·s_{t−1} + (d_t/d₀)·η_t·g_t        ((d_t/d₀)·d_t with safeguard_warmup)
//! r_t = β₃·r_{t−1} + (d_t/d₀)·η_t·⟨g_t, θ₀ − θ_{t−1}⟩
//! d̂ = d_coef · r_t / Σ|s_t|;   d_max = max(d_max, d̂);   d_{t+1} = min(d_max, d_t·growth_rate)
//!     (and d_{t+1} ≥ d̂ while d_t is still d₀)
//! θ_t = θ_{t−1}·(1 − λη_t) − η_t·m_t / (√v_t + d_{t+1}·ε)      (decoupled decay)
//! ```
//!
//! β₃ defaults to √β₂. Defaults as in prodigyopt: lr = 1, betas (0.9, 0.999), beta3 None,
//! eps 1e-8, weight_decay 0, decouple true, use_bias_correction false, safeguard_warmup
//! false, d0 1e-6, d_coef 1, growth_rate inf, slice_p 1. With β₁ = 0 the step uses the
//! gradient: θ − η_t·d_{t+1}·g_t/(√v_t + d_{t+1}ε). A step with Σ|s| = 0 (no gradient yet)
//! changes nothing but the state. `fsdp_in_use` (sharded training) is accepted as `false`
//! only. The d estimate makes every coordinate depend on all the others: not element-wise.

use super::{
    ensure_len, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real,
    Value,
};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "prodigy",
    title: "Prodigy (Adam with an estimated step size d) as prodigyopt.Prodigy",
    group: Group::LearningRateFree,
    formula: "d̂ = d_coef·Σ⟨g, θ₀−θ⟩-EMA / Σ|s|;  d = min(max(d, d̂), d·growth);  θ = θ − lr·d·m/(√v + d·ε)",
    reference: "prodigyopt 1.1.2 Prodigy",
    params: &[
        Param::new("lr", Kind::Num, "1", Check::Lr, "multiplies the estimated step size d (leave at 1)"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂) of the moments, each in [0, 1)"),
        Param::new("beta3", Kind::MaybeNum, "None", Check::UnitClosed, "decay of the d statistics (None: √β₂)"),
        Param::new("eps", Kind::Num, "1e-8", Check::Positive, "added to the denominator (times d)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("decouple", Kind::Bool, "true", Check::Any, "AdamW-style decay θ·(1 − λ·lr·d) instead of λθ in the gradient"),
        Param::new("use_bias_correction", Kind::Bool, "false", Check::Any, "Adam's bias correction in the step size"),
        Param::new("safeguard_warmup", Kind::Bool, "false", Check::Any, "leave lr out of the denominator statistic s"),
        Param::new("d0", Kind::Num, "1e-6", Check::Positive, "initial estimate of d"),
        Param::new("d_coef", Kind::Num, "1", Check::Any, "multiplies the estimate d̂"),
        Param::new("growth_rate", Kind::Num, "inf", Check::PositiveOrInf, "d grows at most by this factor per step (inf: no limit)"),
        Param::new("fsdp_in_use", Kind::Off, "false", Check::Custom(no_fsdp), "sharded parameters (not available: false only)"),
        Param::new("slice_p", Kind::Int, "1", Check::AtLeast(1), "estimate d from every slice_p-th entry of each tensor"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn no_fsdp(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err("fsdp_in_use=true is for sharded distributed training; optlab has one process (use false)".into()),
        _ => Ok(()),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(Prodigy::<T>::new(ProdigyConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Prodigy`], prodigyopt's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ProdigyConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub beta3: Option<f64>,
    pub eps: f64,
    pub weight_decay: f64,
    pub decouple: bool,
    pub use_bias_correction: bool,
    pub safeguard_warmup: bool,
    pub d0: f64,
    pub d_coef: f64,
    pub growth_rate: f64,
    pub slice_p: usize,
}

impl ProdigyConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        ProdigyConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            beta3: h.maybe_num("beta3"),
            eps: h.num("eps"),
            weight_decay: h.num("weight_decay"),
            decouple: h.flag("decouple"),
            use_bias_correction: h.flag("use_bias_correction"),
            safeguard_warmup: h.flag("safeguard_warmup"),
            d0: h.num("d0"),
            d_coef: h.num("d_coef"),
            growth_rate: h.num("growth_rate"),
            slice_p: h.int("slice_p").max(1) as usize,
        }
    }
}

/// Prodigy state: the group's d, d_max, numerator r and step count k; per entry m and v;
/// per sliced entry s and θ₀.
pub struct Prodigy<T> {
    pub cfg: ProdigyConfig,
    /// The tensors of the flat buffer (the statistics are sliced tensor by tensor).
    tensors: Vec<Range<usize>>,
    k: u64,
    d: f64,
    d_max: f64,
    d_numerator: f64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    /// s and θ₀ for the sliced entries, tensor after tensor.
    s: Vec<T>,
    p0: Vec<T>,
    grad: Vec<T>,
}

impl<T: Real> Prodigy<T> {
    pub fn new(cfg: ProdigyConfig, layout: &Layout) -> Self {
        let tensors = layout.tensors.iter().map(|t| t.range()).collect();
        Prodigy {
            d: cfg.d0,
            d_max: cfg.d0,
            cfg,
            tensors,
            k: 0,
            d_numerator: 0.0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            s: Vec::new(),
            p0: Vec::new(),
            grad: Vec::new(),
        }
    }

    /// The tensors, or one tensor over everything when the layout does not cover `n`.
    fn ranges(&mut self, n: usize) {
        if self.tensors.last().map(|r| r.end) != Some(n) {
            self.tensors = std::iter::once(0..n).collect();
        }
    }

    /// Sizes the state on the first step: m, v and s zero, θ₀ the sliced parameters.
    fn init(&mut self, params: &[T]) {
        let n = params.len();
        if self.exp_avg_sq.len() == n {
            return;
        }
        self.ranges(n);
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        let p = self.cfg.slice_p;
        self.p0.clear();
        for r in &self.tensors {
            self.p0.extend(params[r.clone()].iter().step_by(p).copied());
        }
        ensure_len(&mut self.s, self.p0.len(), T::zero());
    }
}

impl<T: Real> Optimizer<T> for Prodigy<T> {
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }

    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        ensure_len(&mut self.grad, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        self.init(params);
        let c = &self.cfg;
        let (beta1, beta2) = c.betas;
        let beta3 = c.beta3.unwrap_or_else(|| beta2.sqrt());
        let (lr, d, d0) = (c.lr, self.d, c.d0);
        let t = (self.k + 1) as f64;
        let bias_correction =
            if c.use_bias_correction { (1.0 - beta2.powf(t)).powf(0.5) / (1.0 - beta1.powf(t)) } else { 1.0 };
        let dlr = d * lr * bias_correction;
        let d_numerator = self.d_numerator * beta3;
        if c.weight_decay != 0.0 && !c.decouple {
            let wd = T::of(c.weight_decay);
            for (g, &p) in self.grad.iter_mut().zip(params.iter()) {
                *g = ops::add_alpha(*g, p, wd);
            }
        }

        // the statistics of d: ⟨g, θ₀ − θ⟩ and Σ|s| over every tensor
        let mut delta_numerator = 0.0;
        let mut d_denom = 0.0;
        if lr > 0.0 {
            let (b1, w1) = (T::of(beta1), T::of(d * (1.0 - beta1)));
            let (b2, w2) = (T::of(beta2), T::of(d * d * (1.0 - beta2)));
            let (b3, ws) = (T::of(beta3), T::of(if c.safeguard_warmup { d / d0 * d } else { d / d0 * dlr }));
            // Each tensor's dot product and Σ|s| are rounded to the tensor's type (torch's
            // `.item()` of a float32 reduction); summed in f64 here, close to the BLAS's
            // blocked sums.
            let mut j = 0;
            for r in &self.tensors {
                let mut dot = 0.0f64;
                let mut abs_sum = 0.0f64;
                for i in r.clone().step_by(c.slice_p) {
                    let g = self.grad[i];
                    dot = g.f64().mul_add((self.p0[j] - params[i]).f64(), dot);
                    let s = ops::add_alpha(self.s[j] * b3, g, ws);
                    self.s[j] = s;
                    abs_sum += s.abs().f64();
                    j += 1;
                }
                delta_numerator += d / d0 * dlr * T::of(dot).f64();
                d_denom += T::of(abs_sum).f64();
            }
            for ((m, v), &g) in self.exp_avg.iter_mut().zip(self.exp_avg_sq.iter_mut()).zip(&self.grad) {
                if beta1 > 0.0 {
                    *m = ops::add_alpha(*m * b1, g, w1);
                }
                *v = ops::addcmul(*v * b2, g, g, w2);
            }
        }
        if d_denom == 0.0 {
            // no gradient information yet (or lr = 0): prodigyopt returns before the step
            return loss;
        }

        let global_numerator = d_numerator + delta_numerator;
        let d_hat = c.d_coef * global_numerator / d_denom;
        let mut d_new = d;
        // Python's max/min keep the first argument unless the second is strictly better
        if d_new == d0 && d_hat > d_new {
            d_new = d_hat;
        }
        if d_hat > self.d_max {
            self.d_max = d_hat;
        }
        let grown = d_new * c.growth_rate;
        d_new = if grown < self.d_max { grown } else { self.d_max };
        self.d_numerator = global_numerator;
        self.d = d_new;

        let eps_d = T::of(d_new * c.eps);
        let decay = (c.weight_decay != 0.0 && c.decouple).then(|| T::of(-c.weight_decay * dlr));
        let (neg_dlr, neg_dlr_d) = (T::of(-dlr), T::of(-dlr * d_new));
        for (((p, &m), &v), &g) in params.iter_mut().zip(&self.exp_avg).zip(&self.exp_avg_sq).zip(&self.grad) {
            let denom = v.sqrt() + eps_d;
            if let Some(wd) = decay {
                *p = ops::add_alpha(*p, *p, wd);
            }
            *p = if beta1 > 0.0 { ops::addcdiv(*p, m, denom, neg_dlr) } else { ops::addcdiv(*p, g, denom, neg_dlr_d) };
        }
        self.k += 1;
        loss
    }
}
