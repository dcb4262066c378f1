//! `sam`: SAM, sharpness-aware minimization (Foret et al., 2021), as
//! `pytorch_optimizer.SAM` (pytorch-optimizer 4.1.0) around any first-order method.
//!
//! Two gradients per step: at θ, then at the perturbed point θ + e, where the base method
//! takes its step from θ:
//!
//! ```text
//! g = ∇f(θ);   n = ‖g‖ (adaptive: ‖|θ|·g‖) + perturb_eps
//! e = ρ/n · g            (adaptive: ρ/n · θ²·g)
//! θ ← base step(θ, ∇f(θ + e))
//! ```
//!
//! As the reference, the norm is taken per tensor in the parameters' type, then everything
//! up to ρ/n is float32 (each norm cast, squared, summed, the square root, + perturb_eps, and
//! ρ/n as the reciprocal times ρ), and ρ/n is cast back before it multiplies the gradient.
//! Keywords as in pytorch-optimizer: `base_optimizer` (a spec, e.g. `sgd(lr=0.1,
//! momentum=0.9)`), rho ρ = 0.05, adaptive false, perturb_eps 1e-12; `lr` (None: the base
//! method's) replaces the base learning rate. Both evaluations count (records, tables and
//! `--x-axis evals`, as for LBFGS); the loss reported is the one at θ.

use super::lookahead::{inner_config, inner_given};
use super::{Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "sam",
    title: "SAM (the base step with the gradient at a worst-case perturbed point) as pytorch_optimizer.SAM",
    group: Group::Classical,
    formula: "e = ρ·g/‖g‖ (adaptive: ρ·θ²g/‖|θ|g‖);  θ = base step(θ, ∇f(θ + e))",
    reference: "pytorch-optimizer 4.1.0 SAM",
    params: &[
        Param::new("base_optimizer", Kind::MaybeOptimizer, "sgd(lr=0.1, momentum=0.9)", Check::Custom(inner_given), "the base method, a spec (e.g. sgd(lr=0.1, momentum=0.9))"),
        Param::new("rho", Kind::Num, "0.05", Check::NonNeg, "radius ρ of the perturbation"),
        Param::new("adaptive", Kind::Bool, "false", Check::Any, "ASAM: scale the perturbation by θ² (and the norm by |θ|)"),
        Param::new("perturb_eps", Kind::Num, "1e-12", Check::NonNeg, "added to the gradient norm"),
        Param::new("lr", Kind::MaybeNum, "None", Check::Lr, "None: the base method's lr; a number: replaces it"),
    ],
    elementwise: false,
    closure: true,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    let base = inner_config(h, "base_optimizer").build::<T>(layout);
    let ranges = layout.tensors.iter().map(|t| t.range()).collect();
    Box::new(Sam {
        base,
        rho: h.num("rho"),
        adaptive: h.flag("adaptive"),
        perturb_eps: h.num("perturb_eps"),
        ranges,
        grad: Vec::new(),
        old: Vec::new(),
        scratch: Vec::new(),
    })
}

/// SAM state: the base optimizer, its settings, the tensors (for the norms) and buffers.
pub struct Sam<T: Real> {
    base: Box<dyn Optimizer<T>>,
    rho: f64,
    adaptive: bool,
    perturb_eps: f64,
    ranges: Vec<Range<usize>>,
    grad: Vec<T>,
    old: Vec<T>,
    scratch: Vec<T>,
}

impl<T: Real> Sam<T> {
    /// ρ/(‖g‖ + perturb_eps) with the reference's float32 arithmetic.
    fn scale(&mut self, params: &[T]) -> T {
        let n = params.len();
        if self.ranges.iter().map(|r| r.len()).sum::<usize>() != n {
            self.ranges = std::iter::once(0..n).collect();
        }
        let mut sum = 0.0f32;
        for r in &self.ranges {
            let g = &self.grad[r.clone()];
            let nrm = if self.adaptive {
                self.scratch.clear();
                self.scratch.extend(params[r.clone()].iter().zip(g).map(|(&p, &gi)| p.abs() * gi));
                super::linalg::norm(&self.scratch)
            } else {
                super::linalg::norm(g)
            };
            let f = nrm.f64() as f32;
            sum += f * f;
        }
        let nrm = sum.sqrt() + self.perturb_eps as f32;
        T::of(((1.0f32 / nrm) * self.rho as f32) as f64)
    }
}

impl<T: Real> Optimizer<T> for Sam<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        self.grad.resize(n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        let scale = self.scale(params);
        self.old.clear();
        self.old.extend_from_slice(params);
        for (p, &g) in params.iter_mut().zip(&self.grad) {
            let e = if self.adaptive { *p * *p * g * scale } else { g * scale };
            *p = *p + e;
        }
        objective.eval(params, &mut self.grad);
        params.copy_from_slice(&self.old);
        let perturbed = &self.grad;
        let mut known = |_: &[T], g: &mut [T]| {
            g.copy_from_slice(perturbed);
            loss
        };
        self.base.step(params, &mut known);
        loss
    }
    fn group_count(&self) -> usize {
        self.base.group_count()
    }
    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        self.base.group(i)
    }
    fn end_epoch(&mut self, metric: Option<f64>) {
        self.base.end_epoch(metric)
    }
}
