//! `scion-light`: SCIONLight, SCION with its momentum kept in the gradient buffer, as
//! pytorch-optimizer 4.1.0's `SCIONLight`.
//!
//! The reference never zeroes the gradients: after each step it scales `.grad` by
//! 1 − momentum, and the next backward pass adds the new gradient to it. With g_t = ∇f(θ):
//!
//! ```text
//! d ← (1 − α)·d + g_t                 (d = .grad; the scaling happened after the last step)
//! θ ← θ·(1 − γλ)                      (only without constraint; weight_decouple, else d ← d + λθ)
//! u = scale · LMO(d)                  (the oracles of `scion`)
//! θ ← θ·(1 − γ) if constraint;   θ ← θ − γ·u
//! ```
//!
//! As in the reference, `maximize` negates the buffer itself (and so flips the sign of
//! the accumulated momentum at every step) and coupled weight decay stays in it.
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum α = 0.1, constraint false,
//! norm_type AUTO, scale 1, weight_decay 0, weight_decouple true, maximize false.

use super::scion::{momentum_ok, Scion, ScionConfig, NORM_TYPES};
use super::{Check, FirstOrder, Group, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "scion-light",
    title: "SCIONLight (SCION with its momentum in the gradient buffer) as pytorch-optimizer's SCIONLight",
    group: Group::Matrix,
    formula: "d = (1−α)d + G;  θ = θ(1−γ) (constraint);  θ = θ − γ·scale·LMO(d)",
    reference: "pytorch-optimizer 4.1.0 SCIONLight",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("momentum", Kind::Num, "0.1", Check::Custom(momentum_ok), "the buffer keeps 1 − α of itself, in (0, 1]"),
        Param::new("constraint", Kind::Bool, "false", Check::Any, "conditional-gradient step: θ·(1 − γ) first"),
        Param::new("norm_type", Kind::Choice(NORM_TYPES), "\"AUTO\"", Check::Any, "the linear minimisation oracle"),
        Param::new("scale", Kind::Num, "1", Check::Positive, "radius: the oracle's output is multiplied by it"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ (not with constraint)"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − γλ) (else added to the buffer)"),
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
    FirstOrder::boxed(Scion::<T>::new(ScionConfig::from_hyper(h), layout, true))
}
