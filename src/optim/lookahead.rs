//! `lookahead`: Lookahead, k steps forward and one step back (Zhang et al., 2019), as
//! `pytorch_optimizer.Lookahead` (pytorch-optimizer 4.1.0) around any first-order method.
//!
//! The inner optimizer steps as usual; every k of its steps the parameters are pulled back
//! towards the slow weights φ (the parameters at the start, then at each sync):
//!
//! ```text
//! θ ← inner step(θ)                         (every step)
//! every k-th step:   θ ← θ + (1 − α)·(φ − θ)   (torch lerp),   φ ← θ
//! ```
//!
//! Keywords as in pytorch-optimizer: `optimizer` (the inner method's spec, e.g.
//! `adamw(lr=1e-3)`), k 5, alpha α = 0.5. The inner method must take one gradient at its
//! parameters (so SAM, LBFGS and Schedule-Free are refused). The reference's
//! `pullback_momentum` is its default "none" here: "reset" and "pullback" rewrite the inner
//! method's momentum buffer, which optlab's wrappers cannot reach yet, so the key is absent. `lr` (None: the inner method's) replaces the inner learning rate; a
//! scheduler after `|` acts on the inner method's groups.

use super::{ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, OptimizerConfig, Param, Point, Real, Value};

pub(super) const METHOD: Method = Method {
    name: "lookahead",
    title: "Lookahead (every k steps, pull back towards the slow weights) as pytorch_optimizer.Lookahead",
    group: Group::Classical,
    formula: "θ = inner step(θ);  every k steps: θ = θ + (1−α)(φ − θ), φ = θ",
    reference: "pytorch-optimizer 4.1.0 Lookahead",
    params: &[
        Param::new("optimizer", Kind::MaybeOptimizer, "adamw(lr=1e-3)", Check::Custom(inner_given), "the inner method, a spec (e.g. adamw(lr=1e-3))"),
        Param::new("k", Kind::Int, "5", Check::AtLeast(1), "inner steps between synchronisations"),
        Param::new("alpha", Kind::Num, "0.5", Check::Unit, "weight α of the fast weights at a sync, in [0, 1)"),
        Param::new("lr", Kind::MaybeNum, "None", Check::Lr, "None: the inner method's lr; a number: replaces it"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// A wrapper needs the method it wraps.
pub(super) fn inner_given(v: &Value) -> Result<(), String> {
    match v {
        Value::None => Err("a wrapper needs the optimizer it wraps, as a spec like adamw(lr=1e-3)".into()),
        _ => Ok(()),
    }
}

/// The inner method of a wrapper under `key`, with the wrapper's `lr` if it gives one.
pub(super) fn inner_config(h: &Hyper, key: &str) -> OptimizerConfig {
    // the nested spec was validated with the outer one; the default stands in otherwise
    let cfg = h
        .maybe_spec(key)
        .and_then(|s| OptimizerConfig::from_spec(s).ok())
        .unwrap_or_else(|| OptimizerConfig::defaults(&super::adamw::METHOD));
    match h.maybe_num("lr") {
        Some(lr) => cfg.with_lr(lr),
        None => cfg,
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    let inner = inner_config(h, "optimizer").build::<T>(layout);
    Box::new(Lookahead { inner, k: h.int("k").max(1) as u64, alpha: h.num("alpha"), counter: 0, slow: Vec::new() })
}

/// Lookahead state: the inner optimizer, the step counter and the slow weights φ.
pub struct Lookahead<T: Real> {
    inner: Box<dyn Optimizer<T>>,
    k: u64,
    alpha: f64,
    counter: u64,
    slow: Vec<T>,
}

impl<T: Real> Optimizer<T> for Lookahead<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        if self.slow.len() != params.len() {
            self.slow = params.to_vec();
        }
        let loss = self.inner.step(params, objective);
        self.counter += 1;
        if self.counter >= self.k {
            self.counter = 0;
            let w = T::of(1.0 - self.alpha);
            for (p, s) in params.iter_mut().zip(self.slow.iter_mut()) {
                *p = ops::lerp(*p, *s, w);
                *s = *p;
            }
        }
        loss
    }
    fn group_count(&self) -> usize {
        self.inner.group_count()
    }
    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        self.inner.group(i)
    }
    fn end_epoch(&mut self, metric: Option<f64>) {
        self.inner.end_epoch(metric)
    }
}
