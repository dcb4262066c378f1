//! `sgd`: stochastic gradient descent with PyTorch's full semantics
//! (`torch.optim.SGD`).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), plus λθ when `weight_decay` λ ≠ 0:
//!
//! ```text
//! if μ ≠ 0:   b_1 = g_1;   b_t = μ·b_{t−1} + (1 − τ)·g_t          (τ = dampening)
//!             g_t = g_t + μ·b_t   if nesterov   else   g_t = b_t
//! θ_t = θ_{t−1} − γ·g_t
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, momentum μ = 0, dampening τ = 0, weight_decay 0,
//! nesterov false, maximize false. PyTorch's errors for invalid combinations are kept:
//! nesterov needs momentum > 0 and dampening = 0.
//!
//! `sgd(momentum=μ)` is the same method as the seminar's `momentum` (m = lr·b), and
//! `sgd(momentum=μ, nesterov=true)` the same as the seminar's look-ahead `nag`, only
//! recording different points: see [`super::nag`].

use super::{ensure_len, fmt_num, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "sgd",
    title: "SGD as torch.optim.SGD (momentum, dampening, Nesterov, weight decay)",
    group: Group::Classical,
    formula: "b = μ·b + (1−τ)·g (b = g on step 1);  g = g + μ·b if nesterov else b;  θ = θ − lr·g",
    reference: "torch.optim.SGD",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("momentum", Kind::Num, "0", Check::NonNeg, "momentum factor μ"),
        Param::new("dampening", Kind::Num, "0", Check::Any, "dampening τ for momentum"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty λ (adds λθ to the gradient)"),
        Param::new("nesterov", Kind::Bool, "false", Check::Any, "Nesterov momentum (needs momentum > 0, dampening = 0)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// PyTorch's rule: Nesterov needs a momentum and zero dampening.
fn rules(h: &Hyper) -> Result<(), String> {
    let (momentum, dampening) = (h.num("momentum"), h.num("dampening"));
    if h.flag("nesterov") && (momentum <= 0.0 || dampening != 0.0) {
        return Err(format!(
            "Nesterov momentum requires a momentum and zero dampening (got momentum={}, dampening={}; set e.g. momentum=0.9, dampening=0)",
            fmt_num(momentum),
            fmt_num(dampening)
        ));
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Sgd::<T>::new(SgdConfig::from_hyper(h)))
}

/// Hyperparameters of [`Sgd`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

impl SgdConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SgdConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            dampening: h.num("dampening"),
            weight_decay: h.num("weight_decay"),
            nesterov: h.flag("nesterov"),
            maximize: h.flag("maximize"),
        }
    }
}

/// State of [`SgdConfig`]'s method: the momentum buffer (absent until the first step).
pub struct Sgd<T> {
    pub cfg: SgdConfig,
    buf: Vec<T>,
}

impl<T: Real> Sgd<T> {
    pub fn new(cfg: SgdConfig) -> Self {
        Sgd { cfg, buf: Vec::new() }
    }

    /// torch's `state['momentum_buffer']` (empty before the first step with a momentum):
    /// what Lookahead's `pullback_momentum` rewrites.
    pub(super) fn momentum_buffer(&mut self) -> &mut Vec<T> {
        &mut self.buf
    }
}

impl<T: Real> GradientRule<T> for Sgd<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let neg_lr = T::of(-c.lr);
        if c.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grad) {
                let g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
                *p = ops::add_alpha(*p, g, neg_lr);
            }
            return;
        }
        let first = self.buf.len() != params.len();
        ensure_len(&mut self.buf, params.len(), T::zero());
        let mu = T::of(c.momentum);
        let one_minus_damp = T::of(1.0 - c.dampening);
        for ((p, &g), b) in params.iter_mut().zip(grad).zip(self.buf.iter_mut()) {
            let mut g = ops::effective_grad(g, *p, c.maximize, c.weight_decay);
            *b = if first { g } else { ops::add_alpha(*b * mu, g, one_minus_damp) };
            g = if c.nesterov { ops::add_alpha(g, *b, mu) } else { *b };
            *p = ops::add_alpha(*p, g, neg_lr);
        }
    }
}
