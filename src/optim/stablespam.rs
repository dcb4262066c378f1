//! `stable-spam`: StableSPAM, SPAM with adaptive spike clipping and gradient-norm
//! normalisation (Huang et al., 2025), as `pytorch_optimizer.StableSPAM`
//! (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), per tensor, T the total step count
//! (this step included), t the Adam step, s the cosine factor (1 without `t_max`):
//!
//! ```text
//! θ ← θ·(1 − γλ)
//! M_T = lerp(M_{T−1}, max|g|, 1 − ϑ);   M̂ = M_T/(1 − ϑᵀ)       (AdaClip bound)
//! where |g| > M̂:  g ← g/max|g|·M̂
//! n_T = lerp(n_{T−1}, ‖g‖, 1 − γ₁s);   w_T = lerp(w_{T−1}, ‖g‖², 1 − γ₂)
//! g ← g/‖g‖ · (n_T/(1 − (γ₁s)ᵀ)) / (√(w_T/(1 − γ₂ᵀ)) + ε)     (a zero ‖g‖ skips the tensor)
//! m_t = β₁s·m + (1 − β₁s)·g;   v_t = β₂·v + (1 − β₂)·g²
//! θ_t = θ − γ/(1 − (β₁s)ᵗ) · m_t/(√v_t/√(1 − β₂ᵗ) + ε)
//! ```
//!
//! Every `update_proj_gap` total steps m and v restart from zero at that step, and so does
//! the Adam step t (t = 1 there); the clipping bound and the norm statistics count T, which
//! never restarts. With `t_max`, s is torch's CosineAnnealingLR from 1 to `eta_min`
//! (T_max = t_max + 1, computed recursively) at step T, `eta_min` from t_max on.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999), gamma1 0.7 (−1: β₁),
//! gamma2 0.9, theta ϑ = 0.999, t_max None, eta_min 0.5, weight_decay λ = 0,
//! update_proj_gap 1000, eps ε = 1e-8, maximize false.

use super::linalg::norm;
use super::spam::CosineDecay;
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "stable-spam",
    title: "StableSPAM (adaptive spike clipping, norm-normalised Adam) as pytorch_optimizer.StableSPAM",
    group: Group::Adaptive,
    formula: "g clipped to the EMA of max|g|;  g = g/‖g‖·EMA(‖g‖)/√EMA(‖g‖²);  Adam on g, moments reset every G steps",
    reference: "pytorch-optimizer 4.1.0 StableSPAM",
    params: &[
        Param::new("lr", Kind::Num, "1e-3", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("gamma1", Kind::Num, "0.7", Check::Any, "decay γ₁ of the running gradient norm (−1: β₁)"),
        Param::new("gamma2", Kind::Num, "0.9", Check::Any, "decay γ₂ of the running squared gradient norm"),
        Param::new("theta", Kind::Num, "0.999", Check::Any, "decay ϑ of the running maximum |g| (the clipping bound)"),
        Param::new("t_max", Kind::MaybeNum, "None", Check::NonNeg, "steps of the cosine factor on β₁ and γ₁ (None: no schedule)"),
        Param::new("eta_min", Kind::Num, "0.5", Check::Any, "the cosine factor's final value"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "decoupled weight decay λ: θ·(1 − lr·λ) first"),
        Param::new("update_proj_gap", Kind::Int, "1000", Check::AtLeast(1), "total steps between momentum resets"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominators"),
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

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(StableSpam::<T>::new(StableSpamConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`StableSpam`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct StableSpamConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub gamma1: f64,
    pub gamma2: f64,
    pub theta: f64,
    pub t_max: Option<f64>,
    pub eta_min: f64,
    pub weight_decay: f64,
    pub update_proj_gap: i64,
    pub eps: f64,
    pub maximize: bool,
}

impl StableSpamConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let betas = h.pair("betas");
        let gamma1 = h.num("gamma1");
        StableSpamConfig {
            lr: h.num("lr"),
            betas,
            gamma1: if gamma1 == -1.0 { betas.0 } else { gamma1 },
            gamma2: h.num("gamma2"),
            theta: h.num("theta"),
            t_max: h.maybe_num("t_max"),
            eta_min: h.num("eta_min"),
            weight_decay: h.num("weight_decay"),
            update_proj_gap: h.int("update_proj_gap"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// StableSPAM state: the step counts, the schedule, m and v, and per tensor the running
/// max |g|, ‖g‖ and ‖g‖².
pub struct StableSpam<T> {
    pub cfg: StableSpamConfig,
    layout: Layout,
    ranges: Vec<Range<usize>>,
    step: u64,
    total_step: i64,
    warmup: Option<CosineDecay>,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    m_max_t: Vec<T>,
    m_norm_t: Vec<T>,
    v_norm_t: Vec<T>,
    g: Vec<T>,
}

impl<T: Real> StableSpam<T> {
    pub fn new(cfg: StableSpamConfig, layout: Layout) -> Self {
        let warmup = cfg.t_max.map(|t| CosineDecay::new(1.0, t as i64, cfg.eta_min));
        StableSpam {
            cfg,
            layout,
            ranges: Vec::new(),
            step: 0,
            total_step: 0,
            warmup,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            m_max_t: Vec::new(),
            m_norm_t: Vec::new(),
            v_norm_t: Vec::new(),
            g: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for StableSpam<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        if self.exp_avg.len() != n {
            self.ranges = ops::tensor_ranges(&self.layout, n);
            let k = self.ranges.len();
            for buf in [&mut self.m_max_t, &mut self.m_norm_t, &mut self.v_norm_t] {
                buf.clear();
                buf.resize(k, T::zero());
            }
        }
        for buf in [&mut self.exp_avg, &mut self.exp_avg_sq, &mut self.g] {
            ensure_len(buf, n, T::zero());
        }
        self.total_step += 1;
        let scale = self.warmup.as_mut().map_or(1.0, |w| w.get(self.total_step));
        self.step += 1;
        let t_norms = self.total_step as f64;
        let c = &self.cfg;
        let reset = c.update_proj_gap > 0 && self.total_step % c.update_proj_gap == 0;
        if reset {
            self.step = 1;
            self.exp_avg.iter_mut().chain(self.exp_avg_sq.iter_mut()).for_each(|x| *x = T::zero());
        }
        let t = self.step as f64;
        let (beta1, beta2) = (c.betas.0 * scale, c.betas.1);
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sq = T::of((1.0 - beta2.powf(t)).sqrt());
        let neg_step_size = T::of(-(c.lr / bias_correction1));
        let theta_t = T::of(1.0 - c.theta.powf(t_norms));
        let gamma1 = c.gamma1 * scale;
        let (wn, wv) = (T::of(1.0 - gamma1), T::of(1.0 - c.gamma2));
        let (mn_bc, vn_bc) = (T::of(1.0 - gamma1.powf(t_norms)), T::of(1.0 - c.gamma2.powf(t_norms)));
        let (b1, w1, b2, w2) = (T::of(beta1), T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2));
        let (eps, w_theta) = (T::of(c.eps), T::of(1.0 - c.theta));
        let decay = T::of(1.0 - c.weight_decay * c.lr);
        for (ti, r) in self.ranges.iter().enumerate() {
            let p = &mut params[r.clone()];
            let g = &mut self.g[r.clone()];
            for ((gi, &gr), pi) in g.iter_mut().zip(&grad[r.clone()]).zip(p.iter_mut()) {
                *gi = if c.maximize { -gr } else { gr };
                *pi = *pi * decay;
            }
            let max_grad = g.iter().fold(T::neg_infinity(), |a, &x| ops::maximum(a, x.abs()));
            self.m_max_t[ti] = ops::lerp(self.m_max_t[ti], max_grad, w_theta);
            let m_max_hat = self.m_max_t[ti] / theta_t;
            for gi in g.iter_mut() {
                if gi.abs() > m_max_hat {
                    *gi = *gi / max_grad * m_max_hat;
                }
            }
            let grad_norm = norm(g);
            if grad_norm == T::zero() {
                continue;
            }
            self.m_norm_t[ti] = ops::lerp(self.m_norm_t[ti], grad_norm, wn);
            self.v_norm_t[ti] = ops::lerp(self.v_norm_t[ti], grad_norm.powi(2), wv);
            let m_norm_hat = self.m_norm_t[ti] / mn_bc;
            let v_norm_hat = self.v_norm_t[ti] / vn_bc;
            let c_norm_t = m_norm_hat / (v_norm_hat.sqrt() + eps);
            let (m, v) = (&mut self.exp_avg[r.clone()], &mut self.exp_avg_sq[r.clone()]);
            for (((gi, mi), vi), pi) in g.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(p.iter_mut()) {
                *gi = *gi / grad_norm * c_norm_t;
                *mi = ops::add_alpha(*mi * b1, *gi, w1);
                *vi = ops::addcmul(*vi * b2, *gi, *gi, w2);
                let de_nom = vi.sqrt() / bias_correction2_sq + eps;
                *pi = ops::addcdiv(*pi, *mi, de_nom, neg_step_size);
            }
        }
    }
}
