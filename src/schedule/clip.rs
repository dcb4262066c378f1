//! Gradient clipping as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`, applied
//! to the gradient the optimizer sees, before its step.
//!
//! ```text
//! clip_grad_norm:   nᵢ = ‖gᵢ‖_p for each tensor i;   N = ‖(n₁, n₂, …)‖_p
//!                   c = min(max_norm / (N + 1e-6), 1);   g = c·g
//! clip_grad_value:  g = clamp(g, −clip_value, clip_value)
//! ```
//!
//! As torch: the total norm is the norm of the tensors' norms (p = `norm_type`, `inf` for
//! the largest |g|), the gradient is multiplied by the clamped coefficient even when it is
//! 1, and a non-finite norm makes the coefficient 0 or NaN. With `error_if_nonfinite=true`
//! torch raises on a non-finite norm; optlab turns the gradient and the loss into NaN so
//! the run stops as diverged. Defaults: norm_type 2, error_if_nonfinite false; max_norm
//! and clip_value are required. Methods that evaluate several times per step (LBFGS) get
//! every gradient clipped.

use super::{no_rules, Action, ModifierInfo};
use crate::optim::{Check, Hyper, Kind, Param, Real};
use std::ops::Range;

pub(super) const NORM: ModifierInfo = ModifierInfo {
    name: "clip_grad_norm",
    title: "clip the gradient's norm as torch.nn.utils.clip_grad_norm_",
    formula: "N = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p;  g = min(max_norm/(N + 1e-6), 1)·g",
    reference: "torch.nn.utils.clip_grad_norm_",
    params: &[
        Param::new("max_norm", Kind::Num, "0", Check::NonNeg, "the largest norm the gradient keeps"),
        Param::new("norm_type", Kind::Num, "2", Check::PositiveOrInf, "order p of the norm (inf: the largest |g|)"),
        Param::new(
            "error_if_nonfinite",
            Kind::Bool,
            "false",
            Check::Any,
            "stop the run (as diverged) when the norm is not finite",
        ),
    ],
    required: &["max_norm"],
    example: "clip_grad_norm(max_norm=1.0)",
    rules: no_rules,
    action: Action::Clip(norm),
};

pub(super) const VALUE: ModifierInfo = ModifierInfo {
    name: "clip_grad_value",
    title: "clamp every gradient component as torch.nn.utils.clip_grad_value_",
    formula: "g = clamp(g, −clip_value, clip_value)",
    reference: "torch.nn.utils.clip_grad_value_",
    params: &[Param::new("clip_value", Kind::Num, "0", Check::NonNeg, "the largest |g| of any component")],
    required: &["clip_value"],
    example: "clip_grad_value(clip_value=0.5)",
    rules: no_rules,
    action: Action::Clip(value),
};

fn norm(h: &Hyper) -> Clip {
    Clip::Norm {
        max_norm: h.num("max_norm"),
        norm_type: h.num("norm_type"),
        error_if_nonfinite: h.flag("error_if_nonfinite"),
    }
}

fn value(h: &Hyper) -> Clip {
    Clip::Value(h.num("clip_value"))
}

/// A clipping rule with its hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    Norm { max_norm: f64, norm_type: f64, error_if_nonfinite: bool },
    Value(f64),
}

/// Running p-norm of a sequence of magnitudes, as ATen's vector norm reduces them.
#[derive(Clone, Copy)]
struct NormAcc {
    p: f64,
    acc: f64,
}

impl NormAcc {
    fn new(p: f64) -> Self {
        NormAcc { p, acc: 0.0 }
    }
    #[inline]
    fn add(&mut self, x: f64) {
        let a = x.abs();
        self.acc = if self.p == 2.0 {
            self.acc + a * a
        } else if self.p == 1.0 {
            self.acc + a
        } else if self.p.is_infinite() {
            // a NaN component makes the max NaN, as torch's does
            if a.is_nan() || self.acc.is_nan() {
                f64::NAN
            } else {
                self.acc.max(a)
            }
        } else {
            self.acc + a.powf(self.p)
        };
    }
    fn value(self) -> f64 {
        if self.p == 2.0 {
            self.acc.sqrt()
        } else if self.p == 1.0 || self.p.is_infinite() {
            self.acc
        } else {
            self.acc.powf(1.0 / self.p)
        }
    }
}

impl Clip {
    /// Clips `grad` in place; `tensors` are the index ranges of the parameter tensors (empty:
    /// the whole slice is one tensor). Returns false where torch would raise (a non-finite
    /// norm with `error_if_nonfinite`). Allocates nothing.
    pub fn apply<T: Real>(&self, grad: &mut [T], tensors: &[Range<usize>]) -> bool {
        match *self {
            Clip::Value(c) => {
                let (lo, hi) = (T::of(-c), T::of(c));
                for g in grad.iter_mut() {
                    // clamp_min then clamp_max; NaN stays NaN
                    if *g < lo {
                        *g = lo;
                    }
                    if *g > hi {
                        *g = hi;
                    }
                }
                true
            }
            Clip::Norm { max_norm, norm_type, error_if_nonfinite } => {
                let tensor_norm = |r: Range<usize>| {
                    let mut acc = NormAcc::new(norm_type);
                    for g in &grad[r] {
                        acc.add(g.f64());
                    }
                    T::of(acc.value()).f64()
                };
                let mut total = NormAcc::new(norm_type);
                if tensors.is_empty() {
                    total.add(tensor_norm(0..grad.len()));
                } else {
                    for r in tensors {
                        total.add(tensor_norm(r.clone()));
                    }
                }
                let total = T::of(total.value());
                if error_if_nonfinite && !total.is_finite() {
                    return false;
                }
                let coef = T::of(max_norm) / (total + T::of(1e-6));
                let coef = if coef > T::one() { T::one() } else { coef };
                for g in grad.iter_mut() {
                    *g = *g * coef;
                }
                true
            }
        }
    }
}
