//! `lamb`: LAMB, layer-wise adaptive moments (You et al., 2020), as pytorch-optimizer 4.1.0's
//! `Lamb`, tensor by tensor.
//!
//! ```text
//! g_t = c·∇f(θ_{t−1})        c = min(1, max_grad_norm/(‖∇f‖ + ε)) over all tensors if pre_norm, else 1
//! θ ← θ·(1 − γλ)             (weight_decouple; 1 − λ with fixed_decay)
//! m_t = β₁·m_{t−1} + β₃·g_t  (β₃ = 1 − β₁ with grad_averaging, else 1)
//! v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
//! u   = m_t/(√v_t + ε)       (+ λθ when weight decay is not decoupled)
//! r   = min(‖θ‖, 10)/(‖u‖ + ε) per tensor (1 if either norm is 0, or with adam=true)
//! θ_t = θ − γ/(1 − β₁ᵗ) · r·u
//! ```
//!
//! With `rectify`, u is RAdam's step: the norm is taken of θ − s·m/(√v + ε) (or θ − s·m
//! before the variance is tractable, with `degenerated_to_sgd`; no step otherwise) where s is
//! RAdam's rectified step size, and θ moves by s·r along that direction.
//!
//! Defaults as in pytorch-optimizer: lr γ = 0.001, betas (0.9, 0.999), weight_decay λ = 0,
//! weight_decouple true, fixed_decay false, rectify false, degenerated_to_sgd false,
//! n_sma_threshold 5, grad_averaging true, max_grad_norm 1 (used only with pre_norm),
//! adam false, pre_norm false, eps 1e-6, maximize false.
//!
//! The arithmetic follows the reference's default (foreach) path: u = m · (1/(√v + ε));
//! with `rectify` its per-tensor path.

use super::linalg::{global_clip_factor, norm};
use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "lamb",
    title: "LAMB (layer-wise trust ratio on Adam's step) as pytorch-optimizer's Lamb",
    group: Group::Matrix,
    formula: "u = m/(√v + ε) (+λθ);  θ = θ − lr/(1−β₁ᵗ) · min(‖θ‖, 10)/(‖u‖ + ε) · u  per tensor",
    reference: "pytorch-optimizer 4.1.0 Lamb",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂) of the moments, each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decay θ·(1 − lr·λ) (else λθ joins the update u)"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("rectify", Kind::Bool, "false", Check::Any, "RAdam's rectified update"),
        Param::new("degenerated_to_sgd", Kind::Bool, "false", Check::Any, "with rectify: SGD-like steps while the variance is intractable"),
        Param::new("n_sma_threshold", Kind::Int, "5", Check::Any, "with rectify: length of the SMA from which the adaptive step is used"),
        Param::new("grad_averaging", Kind::Bool, "true", Check::Any, "scale the gradient in m by 1 − β₁"),
        Param::new("max_grad_norm", Kind::Num, "1", Check::NonNeg, "with pre_norm: clip the global gradient norm to this (0: off)"),
        Param::new("adam", Kind::Bool, "false", Check::Any, "trust ratio 1 (plain Adam step)"),
        Param::new("pre_norm", Kind::Bool, "false", Check::Any, "clip the gradients by their global norm first"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added to the denominators"),
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

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Lamb::<T>::new(LambConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`Lamb`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct LambConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub rectify: bool,
    pub degenerated_to_sgd: bool,
    pub n_sma_threshold: f64,
    pub grad_averaging: bool,
    pub max_grad_norm: f64,
    pub adam: bool,
    pub pre_norm: bool,
    pub eps: f64,
    pub maximize: bool,
}

impl LambConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        LambConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            rectify: h.flag("rectify"),
            degenerated_to_sgd: h.flag("degenerated_to_sgd"),
            n_sma_threshold: h.num("n_sma_threshold"),
            grad_averaging: h.flag("grad_averaging"),
            max_grad_norm: h.num("max_grad_norm"),
            adam: h.flag("adam"),
            pre_norm: h.flag("pre_norm"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// The trust ratio ‖θ‖/(‖u‖ + ε), 1 when either norm is 0 (the reference's weight norm is
/// clamped to at most 10).
fn trust_ratio<T: Real>(weight_norm: T, update_norm: T, eps: T) -> T {
    if weight_norm == T::zero() || update_norm == T::zero() {
        T::one()
    } else {
        weight_norm / (update_norm + eps)
    }
}

/// The weight norm clamped to at most 10, as the reference (`clamp_(max=10)`, NaN stays).
fn clamp_norm<T: Real>(n: T) -> T {
    if n > T::of(10.0) {
        T::of(10.0)
    } else {
        n
    }
}

/// LAMB state: moments, step count, and a scratch buffer for one tensor's update.
pub struct Lamb<T> {
    pub cfg: LambConfig,
    layout: Layout,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    update: Vec<T>,
}

impl<T: Real> Lamb<T> {
    pub fn new(cfg: LambConfig, layout: Layout) -> Self {
        Lamb { cfg, layout, step: 0, exp_avg: Vec::new(), exp_avg_sq: Vec::new(), update: Vec::new() }
    }

    /// RAdam's step size lr·rₜ (negative when the variance is intractable and SGD steps are
    /// off) and the SMA length ρₜ, as pytorch-optimizer's `get_rectify_step_size`.
    fn rectified_step(&self) -> (f64, f64) {
        let c = &self.cfg;
        if !c.rectify {
            return (c.lr, 0.0);
        }
        let (t, b2) = (self.step as f64, c.betas.1);
        let n_sma_max = 2.0 / (1.0 - b2) - 1.0;
        let b2t = b2.powf(t);
        let n_sma = n_sma_max - 2.0 * t * b2t / (1.0 - b2t);
        let rt = if n_sma >= c.n_sma_threshold {
            ((1.0 - b2t) * (n_sma - 4.0) / (n_sma_max - 4.0) * (n_sma - 2.0) / n_sma * n_sma_max / (n_sma_max - 2.0)).sqrt()
        } else if c.degenerated_to_sgd {
            1.0
        } else {
            -1.0
        };
        (c.lr * rt, n_sma)
    }
}

impl<T: Real> GradientRule<T> for Lamb<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        ensure_len(&mut self.update, n, T::zero());
        self.step += 1;
        let (rect_step, n_sma) = self.rectified_step();
        let c = &self.cfg;
        let step_size = rect_step / (1.0 - c.betas.0.powf(self.step as f64));
        let clip = if c.pre_norm && c.max_grad_norm != 0.0 {
            global_clip_factor(grad, &self.layout, c.max_grad_norm, c.eps)
        } else {
            T::one()
        };
        let (b1, b2, w2) = (T::of(c.betas.0), T::of(c.betas.1), T::of(1.0 - c.betas.1));
        let b3 = T::of(if c.grad_averaging { 1.0 - c.betas.0 } else { 1.0 });
        let eps = T::of(c.eps);
        let shrink = (c.weight_decouple && c.weight_decay != 0.0)
            .then(|| T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { c.lr }));
        let l2 = (!c.weight_decouple && c.weight_decay > 0.0).then(|| T::of(c.weight_decay));
        let adaptive = n_sma >= c.n_sma_threshold;
        for t in &self.layout.tensors {
            let r = t.range();
            let (p, g) = (&mut params[r.clone()], &grad[r.clone()]);
            let (m, v, u) = (&mut self.exp_avg[r.clone()], &mut self.exp_avg_sq[r.clone()], &mut self.update[r]);
            for i in 0..p.len() {
                let mut gi = if c.maximize { -g[i] } else { g[i] };
                gi = gi * clip;
                m[i] = ops::add_alpha(m[i] * b1, gi, b3);
                v[i] = ops::addcmul(v[i] * b2, gi, gi, w2);
                if let Some(s) = shrink {
                    p[i] = p[i] * s;
                }
            }
            if !c.rectify {
                // the default (foreach) path: u = m · (1/(√v + ε)) (+ λθ), scaled by the trust ratio
                for i in 0..p.len() {
                    let mut ui = m[i] * (T::one() / (v[i].sqrt() + eps));
                    if let Some(wd) = l2 {
                        ui = ops::add_alpha(ui, p[i], wd);
                    }
                    u[i] = ui;
                }
                let wn = clamp_norm(norm(p));
                let ratio = if c.adam { T::one() } else { trust_ratio(wn, norm(u), eps) };
                let neg_step = T::of(-step_size);
                for (pi, &ui) in p.iter_mut().zip(u.iter()) {
                    *pi = ops::add_alpha(*pi, ui * ratio, neg_step);
                }
                continue;
            }
            // the per-tensor path (rectify): no step at all while the variance is intractable
            if step_size <= 0.0 {
                continue;
            }
            let neg_step = T::of(-step_size);
            for i in 0..p.len() {
                u[i] = if adaptive {
                    ops::addcdiv(p[i], m[i], v[i].sqrt() + eps, neg_step)
                } else {
                    ops::add_alpha(p[i], m[i], neg_step)
                };
            }
            let wn = clamp_norm(norm(p));
            let ratio = trust_ratio(wn, norm(u), eps);
            // -step_size·ratio is a tensor product in the reference (the dtype of θ)
            let scaled = if c.adam || ratio == T::one() { neg_step } else { neg_step * ratio };
            for i in 0..p.len() {
                p[i] = if adaptive {
                    ops::addcdiv(p[i], m[i], v[i].sqrt() + eps, scaled)
                } else {
                    ops::add_alpha(p[i], m[i], scaled)
                };
            }
        }
    }
}
