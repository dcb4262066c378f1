//! `lion`: Lion, "EvoLved Sign Momentum" (Chen et al., 2023), as `lion_pytorch.Lion`
//! (lion-pytorch 0.2.5).
//!
//! ```text
//! θ_{t−1} ← θ_{t−1}·(1 − γλ)                       (decoupled decay, first)
//! u_t = sign(β₁·m_{t−1} + (1 − β₁)·g_t)            (g_t = ∇f(θ_{t−1}), taken before the decay)
//! θ_t = θ_{t−1} − γ·u_t
//! m_t = β₂·m_{t−1} + (1 − β₂)·g_t
//! ```
//!
//! Defaults as in lion-pytorch: lr γ = 1e-4, betas (0.9, 0.99), weight_decay λ = 0,
//! decoupled_weight_decay false. With `decoupled_weight_decay=true` the decay is λ/γ₀·γ
//! (γ₀ the lr given at construction, γ the lr in force), so that a scheduler scales the
//! step but not the decay. The update has the same size γ in every coordinate; only its
//! sign comes from the momentum. `use_triton` (a GPU kernel) is accepted as `false` only.
//!
//! `cautious` is pytorch-optimizer 4.1.0 Lion's switch (whose update and decoupled decay are
//! the arithmetic above): the update u_t is kept only where u_t·g_t > 0 and scaled by
//! n/(kept + 1) per tensor of n entries (a tensor-wise statistic: such a run is not
//! element-wise).

use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real, Value,
};

pub(super) const METHOD: Method = Method {
    name: "lion",
    title: "Lion (sign of an interpolated momentum) as lion_pytorch.Lion",
    group: Group::SignBased,
    formula: "θ = θ·(1 − lr·λ);  θ = θ − lr·sign(β₁m + (1−β₁)g);  m = β₂m + (1−β₂)g",
    reference: "lion-pytorch 0.2.5 Lion",
    params: &[
        Param::new("lr", Kind::Num, "1e-4", Check::Lr, "learning rate: the size of every coordinate's step"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.99)", Check::UnitClosed, "(β₁ of the update's interpolation, β₂ of the momentum), each in [0, 1]"),
        Param::new("weight_decay", Kind::Num, "0", Check::Any, "decoupled decay λ: θ·(1 − lr·λ) before the step"),
        Param::new("use_triton", Kind::Off, "false", Check::Custom(no_triton), "the package's GPU kernel (not available: false only)"),
        Param::new("decoupled_weight_decay", Kind::Bool, "false", Check::Any, "decay by λ/lr₀ per unit lr (lr₀ = the lr at construction)"),
        Param::new("cautious", Kind::Bool, "false", Check::Any, "mask the update against the gradient, rescaled per tensor (pytorch-optimizer's Lion; tensor-wise)"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn no_triton(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err("use_triton=true needs CUDA and Triton; optlab runs the plain update (use_triton=false)".into()),
        _ => Ok(()),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    let mut lion = Lion::<T>::new(LionConfig::from_hyper(h));
    lion.layout = layout.clone();
    FirstOrder::boxed(lion)
}

/// Hyperparameters of [`Lion`], lion-pytorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct LionConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub cautious: bool,
}

impl LionConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        LionConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            decoupled_weight_decay: h.flag("decoupled_weight_decay"),
            cautious: h.flag("cautious"),
        }
    }
}

/// Lion state: the momentum m, and the lr given at construction (for the decoupled decay).
pub struct Lion<T> {
    pub cfg: LionConfig,
    init_lr: f64,
    exp_avg: Vec<T>,
    /// The tensors `cautious` masks over (one tensor when the layout does not fit), and the
    /// update it masks.
    pub layout: Layout,
    u: Vec<T>,
}

impl<T: Real> Lion<T> {
    pub fn new(cfg: LionConfig) -> Self {
        Lion { init_lr: cfg.lr, cfg, exp_avg: Vec::new(), layout: Layout::flat(0), u: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Lion<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        ensure_len(&mut self.exp_avg, params.len(), T::zero());
        let mut wd = c.weight_decay;
        if c.decoupled_weight_decay {
            // lion-pytorch divides by the lr given at construction (which it asserts > 0);
            // optlab accepts lr = 0 and then applies no decay.
            wd = if self.init_lr != 0.0 { wd / self.init_lr } else { 0.0 };
        }
        let (b1, b2) = c.betas;
        let decay = T::of(1.0 - c.lr * wd);
        let (b1t, w1, b2t, w2, neg_lr) = (T::of(b1), T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(-c.lr));
        if c.cautious {
            let n = params.len();
            ensure_len(&mut self.u, n, T::zero());
            for (((p, &g), m), u) in params.iter_mut().zip(grad).zip(self.exp_avg.iter_mut()).zip(self.u.iter_mut()) {
                *p = *p * decay;
                *u = ops::sign(ops::add_alpha(*m * b1t, g, w1));
                *m = ops::add_alpha(*m * b2t, g, w2);
            }
            for r in ops::tensor_ranges(&self.layout, n) {
                ops::cautious(&mut self.u[r.clone()], &grad[r]);
            }
            for (p, &u) in params.iter_mut().zip(self.u.iter()) {
                *p = ops::add_alpha(*p, u, neg_lr);
            }
            return;
        }
        for ((p, &g), m) in params.iter_mut().zip(grad).zip(self.exp_avg.iter_mut()) {
            *p = *p * decay;
            let u = ops::sign(ops::add_alpha(*m * b1t, g, w1));
            *p = ops::add_alpha(*p, u, neg_lr);
            *m = ops::add_alpha(*m * b2t, g, w2);
        }
    }
}
