//! `gd`: plain gradient descent, the seminar's `GD`.
//!
//! ```text
//! θ_t = θ_{t−1} − lr·∇f(θ_{t−1})
//! ```
//!
//! Default lr = 0.1 (the seminar's value). Identical, bit for bit, to `sgd(lr=…)`: the
//! update is rounded like PyTorch's `param.add_(grad, alpha=-lr)` (one fused multiply-add),
//! where the seminar's `v -= lr * v.grad` rounds twice; the difference is below one ulp
//! per step.

use super::registry::no_rules;
use super::{ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "gd",
    title: "plain gradient descent (seminar's GD; same as sgd without momentum)",
    group: Group::Classical,
    formula: "θ = θ − lr·g",
    reference: "the seminar (seminar7)",
    params: &[
        Param::new("lr", Kind::Num, "0.1", Check::Lr, "learning rate (seminar's value)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Gd::new(GdConfig::from_hyper(h)))
}

/// Hyperparameters of [`Gd`].
#[derive(Clone, Debug, PartialEq)]
pub struct GdConfig {
    pub lr: f64,
    pub maximize: bool,
}

impl GdConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        GdConfig {
            lr: h.num("lr"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Plain gradient descent (stateless).
pub struct Gd {
    pub cfg: GdConfig,
}

impl Gd {
    pub fn new(cfg: GdConfig) -> Self {
        Gd { cfg }
    }
}

impl<T: Real> GradientRule<T> for Gd {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let neg_lr = T::of(-self.cfg.lr);
        for (p, &g) in params.iter_mut().zip(grad) {
            let g = if self.cfg.maximize { -g } else { g };
            *p = ops::add_alpha(*p, g, neg_lr);
        }
    }
}
