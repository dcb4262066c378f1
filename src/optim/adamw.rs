//! `adamw`: Adam with decoupled weight decay, as `torch.optim.AdamW`
//! (Loshchilov & Hutter, 2019).
//!
//! ```text
//! θ_{t−1} ← θ_{t−1}·(1 − γλ)                     (decoupled decay, before the Adam step)
//! then the Adam update of `adam` with g_t = ∇f(θ_{t−1}) (no λθ added to g)
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.001, betas (0.9, 0.999), eps 1e-8,
//! weight_decay λ = 0.01, amsgrad false, maximize false. Runs on [`super::adam::Adam`].

use super::adam::{Adam, AdamConfig};
use super::registry::no_rules;
use super::{Check, FirstOrder, Group, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adamw",
    title: "AdamW (decoupled weight decay) as torch.optim.AdamW",
    group: Group::Adaptive,
    formula: "θ = θ·(1 − lr·λ);  then Adam's update",
    reference: "torch.optim.AdamW",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("weight_decay", Kind::Num, "0.01", Check::NonNeg, "decoupled decay λ"),
        Param::new("amsgrad", Kind::Bool, "false", Check::Any, "use the running maximum of v (AMSGrad)"),
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
    FirstOrder::boxed(Adam::<T>::new(AdamConfig { decoupled_weight_decay: true, ..AdamConfig::from_hyper(h) }))
}
