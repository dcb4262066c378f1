//! `ademamix`: AdEMAMix, Adam with a mixture of a fast and a slow momentum
//! (Pagliardini, Ablin & Grangier, 2024), as `pytorch_optimizer.AdEMAMix`
//! (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`; + λθ_{t−1} when the decay is coupled):
//!
//! ```text
//! m_t = β₁·m_{t−1} + (1 − β₁)·g_t                   (fast momentum)
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! s_t = β₃(t)·s_{t−1} + (1 − β₃(t))·g_t             (slow momentum)
//! θ_t = θ_{t−1} − γ·(m_t/(1 − β₁ᵗ) + α(t)·s_t) / (√v_t/√(1 − β₂ᵗ) + ε)
//! ```
//!
//! With `t_alpha_beta3` = T the slow momentum warms up: α(t) = min(tα/T, α) and
//! β₃(t) = min(exp(ln β₁·ln β₃ / ((1 − t/T)·ln β₃ + (t/T)·ln β₁)), β₃); None keeps α and β₃.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999, 0.9999),
//! weight_decay λ = 0, weight_decouple false (true: θ·(1 − γλ) before the step, or
//! θ·(1 − λ) with fixed_decay), alpha 5, t_alpha_beta3 None, eps 1e-8, maximize false.
//! `cautious`: m_t/(1 − β₁ᵗ) is replaced by a copy of m_t kept only where m_t·g_t > 0 and
//! scaled by n/(kept + 1) per tensor, then divided by 1 − β₁ᵗ (a tensor-wise statistic: such a
//! run is not element-wise). The package's `stable_adamw` rescales the step by the RMS of
//! g²/v over a tensor; optlab accepts it as `false` only. `foreach` (a faster multi-tensor
//! path, same arithmetic) is not a key.

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real, Value,
};

pub(super) const METHOD: Method = Method {
    name: "ademamix",
    title: "AdEMAMix (fast + slow momentum) as pytorch_optimizer.AdEMAMix",
    group: Group::Adaptive,
    formula: "m = β₁m + (1−β₁)g;  s = β₃s + (1−β₃)g;  θ = θ − lr·(m/(1−β₁ᵗ) + α·s)/(√v/√(1−β₂ᵗ) + ε)",
    reference: "pytorch-optimizer 4.1.0 AdEMAMix",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(3), "(0.9, 0.999, 0.9999)", Check::Custom(three_betas), "(β₁ fast momentum, β₂ second moment, β₃ slow momentum); β₁, β₂ in [0, 1), β₃ in [0, 1]"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − lr·λ) instead of λθ in the gradient"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("alpha", Kind::Num, "5", Check::NonNeg, "weight α of the slow momentum"),
        Param::new("t_alpha_beta3", Kind::MaybeNum, "None", Check::NonNeg, "steps over which α and β₃ warm up (None: no warm-up)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("cautious", Kind::Bool, "false", Check::Any, "mask the fast momentum against the gradient, rescaled per tensor (tensor-wise)"),
        Param::new("stable_adamw", Kind::Off, "false", Check::Custom(no_stable_adamw), "StableAdamW update clipping (tensor-wise: false only)"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// pytorch-optimizer's `validate_betas`: β₁, β₂ in [0, 1), β₃ in [0, 1].
fn three_betas(v: &Value) -> Result<(), String> {
    let Value::Tuple(items) = v else { return Ok(()) };
    for (i, b) in items.iter().enumerate() {
        let Value::Num(x) = *b else { continue };
        let ok = if i < 2 { (0.0..1.0).contains(&x) } else { (0.0..=1.0).contains(&x) };
        if !ok {
            let range = if i < 2 { "[0, 1)" } else { "[0, 1]" };
            return Err(format!("invalid beta parameter at index {i}: betas={v} (beta{} must be in {range})", i + 1));
        }
    }
    Ok(())
}

/// The package's switches that need statistics of a whole tensor: optlab's element-wise
/// versions of its methods take them as `false` only.
fn tensor_wise_off(key: &str, what: &str, v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err(format!(
            "{key}=true {what}, a statistic of a whole tensor; optlab's version of this method is element-wise \
             and has no {key} (use {key}=false)"
        )),
        _ => Ok(()),
    }
}

/// pytorch-optimizer's `stable_adamw`: not available.
pub(super) fn no_stable_adamw(v: &Value) -> Result<(), String> {
    tensor_wise_off("stable_adamw", "divides the update by the RMS of g²/v over the tensor", v)
}

/// pytorch-optimizer's `adanorm`: not available.
pub(super) fn no_adanorm(v: &Value) -> Result<(), String> {
    tensor_wise_off("adanorm", "rescales the gradient by a running average of its norm", v)
}

/// The warm-up takes logarithms of β₁ and β₃ and divides by T.
fn rules(h: &Hyper) -> Result<(), String> {
    if let Some(t) = h.maybe_num("t_alpha_beta3") {
        let b = h.nums("betas");
        if t <= 0.0 {
            return Err(format!("t_alpha_beta3 must be > 0 steps or None (got {t})"));
        }
        if b[0] <= 0.0 || b[2] <= 0.0 {
            return Err("the warm-up of t_alpha_beta3 takes ln β₁ and ln β₃: both must be > 0 (or set t_alpha_beta3=None)"
                .into());
        }
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(AdEMAMix::<T>::new(AdEMAMixConfig::from_hyper(h), layout.clone()))
}

/// pytorch-optimizer's `apply_weight_decay`, resolved for one step: multiply θ, or add λθ
/// to the gradient.
#[derive(Clone, Copy, Debug)]
pub(super) enum WeightDecay<T> {
    Off,
    /// θ ← θ·factor.
    Decoupled(T),
    /// g ← g + λθ.
    Coupled(T),
}

impl<T: Real> WeightDecay<T> {
    pub(super) fn new(weight_decay: f64, weight_decouple: bool, fixed_decay: bool, lr: f64) -> Self {
        if weight_decay == 0.0 {
            WeightDecay::Off
        } else if weight_decouple {
            WeightDecay::Decoupled(T::of(1.0 - weight_decay * if fixed_decay { 1.0 } else { lr }))
        } else if weight_decay > 0.0 {
            WeightDecay::Coupled(T::of(weight_decay))
        } else {
            WeightDecay::Off
        }
    }

    /// Applies the decay to `p` or `g`; returns the gradient the update uses.
    #[inline(always)]
    pub(super) fn apply(self, p: &mut T, g: T) -> T {
        match self {
            WeightDecay::Off => g,
            WeightDecay::Decoupled(f) => {
                *p = *p * f;
                g
            }
            WeightDecay::Coupled(wd) => ops::add_alpha(g, *p, wd),
        }
    }
}

/// Hyperparameters of [`AdEMAMix`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdEMAMixConfig {
    pub lr: f64,
    pub betas: (f64, f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub alpha: f64,
    pub t_alpha_beta3: Option<f64>,
    pub eps: f64,
    pub maximize: bool,
    pub cautious: bool,
}

impl AdEMAMixConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let b = h.nums("betas");
        AdEMAMixConfig {
            lr: h.num("lr"),
            betas: (b[0], b[1], b[2]),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            alpha: h.num("alpha"),
            t_alpha_beta3: h.maybe_num("t_alpha_beta3"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            cautious: h.flag("cautious"),
        }
    }

    /// α(t): min(tα/T, α) during the warm-up, else α.
    fn alpha_at(&self, t: f64) -> f64 {
        match self.t_alpha_beta3 {
            None => self.alpha,
            Some(tt) => {
                let a = t * self.alpha / tt;
                if self.alpha < a {
                    self.alpha
                } else {
                    a
                }
            }
        }
    }

    /// β₃(t): the slow momentum's decay, interpolated in half-life from β₁ to β₃.
    fn beta3_at(&self, t: f64) -> f64 {
        let (beta1, _, beta3) = self.betas;
        match self.t_alpha_beta3 {
            None => beta3,
            Some(tt) => {
                let (l1, l3) = (beta1.ln(), beta3.ln());
                let b = (l1 * l3 / ((1.0 - t / tt) * l3 + (t / tt) * l1)).exp();
                if beta3 < b {
                    beta3
                } else {
                    b
                }
            }
        }
    }
}

/// AdEMAMix state: step count, fast momentum m, second moment v, slow momentum s.
pub struct AdEMAMix<T> {
    pub cfg: AdEMAMixConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    exp_avg_slow: Vec<T>,
    /// The tensors `cautious` masks over, and its scratch (the masked m and the gradient).
    layout: Layout,
    masked: Vec<T>,
    g: Vec<T>,
}

impl<T: Real> AdEMAMix<T> {
    /// With the tensors that `cautious` masks over (one tensor when the layout does not fit).
    pub fn new(cfg: AdEMAMixConfig, layout: Layout) -> Self {
        AdEMAMix {
            cfg,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            exp_avg_slow: Vec::new(),
            layout,
            masked: Vec::new(),
            g: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for AdEMAMix<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        ensure_len(&mut self.exp_avg_slow, n, T::zero());
        self.step += 1;
        let c = &self.cfg;
        let t = self.step as f64;
        let (beta1, beta2, _) = c.betas;
        let bias_correction1 = T::of(1.0 - beta1.powf(t));
        let bias_correction2_sq = T::of((1.0 - beta2.powf(t)).sqrt());
        let alpha_t = T::of(c.alpha_at(t));
        let beta3_t = c.beta3_at(t);
        let decay = WeightDecay::new(c.weight_decay, c.weight_decouple, c.fixed_decay, c.lr);
        let (w1, b2, w2, w3) = (T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2), T::of(1.0 - beta3_t));
        let (eps, neg_lr) = (T::of(c.eps), T::of(-c.lr));
        if c.cautious {
            ensure_len(&mut self.masked, n, T::zero());
            ensure_len(&mut self.g, n, T::zero());
            for i in 0..n {
                let p = &mut params[i];
                let g = if c.maximize { -grad[i] } else { grad[i] };
                let g = decay.apply(p, g);
                self.g[i] = g;
                let m = ops::lerp(self.exp_avg[i], g, w1);
                self.exp_avg[i] = m;
                self.masked[i] = m;
                self.exp_avg_sq[i] = ops::addcmul(self.exp_avg_sq[i] * b2, g, g, w2);
                self.exp_avg_slow[i] = ops::lerp(self.exp_avg_slow[i], g, w3);
            }
            for r in ops::tensor_ranges(&self.layout, n) {
                ops::cautious(&mut self.masked[r.clone()], &self.g[r]);
            }
            for (i, p) in params.iter_mut().enumerate() {
                let denom = self.exp_avg_sq[i].sqrt() / bias_correction2_sq + eps;
                let update = ops::add_alpha(self.masked[i] / bias_correction1, self.exp_avg_slow[i], alpha_t);
                *p = ops::addcdiv(*p, update, denom, neg_lr);
            }
            return;
        }
        for i in 0..n {
            let p = &mut params[i];
            let g = if c.maximize { -grad[i] } else { grad[i] };
            let g = decay.apply(p, g);
            let m = ops::lerp(self.exp_avg[i], g, w1);
            self.exp_avg[i] = m;
            let v = ops::addcmul(self.exp_avg_sq[i] * b2, g, g, w2);
            self.exp_avg_sq[i] = v;
            let s = ops::lerp(self.exp_avg_slow[i], g, w3);
            self.exp_avg_slow[i] = s;
            let denom = v.sqrt() / bias_correction2_sq + eps;
            let update = ops::add_alpha(m / bias_correction1, s, alpha_t);
            *p = ops::addcdiv(*p, update, denom, neg_lr);
        }
    }
}
