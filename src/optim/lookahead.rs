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
//! `pullback_momentum` acts on torch SGD's momentum buffer b at each sync: "reset" zeroes it,
//! "pullback" pulls it towards its slow copy like the weights, b ← b + (1 − α)·(b_slow − b)
//! (torch lerp; b_slow = 0 at first), then b_slow ← b. Other inner methods keep no such
//! buffer, so these modes need `optimizer=sgd(...)`.
//!
//! Keywords as in pytorch-optimizer: `optimizer` (the inner method's spec, e.g.
//! `adamw(lr=1e-3)`), k 5, alpha α = 0.5, pullback_momentum "none". The inner method must
//! take one gradient at its parameters (so SAM, LBFGS and Schedule-Free are refused). `lr` (None: the inner method's) replaces the inner learning rate; a
//! scheduler after `|` acts on the inner method's groups.

use super::sgd::{Sgd, SgdConfig};
use super::{
    ensure_len, ops, Check, FirstOrder, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, OptimizerConfig, Param,
    Point, Real, Value,
};

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
        Param::new("pullback_momentum", Kind::Choice(&["none", "reset", "pullback"]), "\"none\"", Check::Any, "what a sync does to the inner SGD's momentum buffer"),
        Param::new("lr", Kind::MaybeNum, "None", Check::Lr, "None: the inner method's lr; a number: replaces it"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules,
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

/// "reset" and "pullback" rewrite torch SGD's momentum buffer: the inner method must be sgd.
fn rules(h: &Hyper) -> Result<(), String> {
    let mode = h.choice("pullback_momentum").unwrap_or("none");
    let inner = h.maybe_spec("optimizer").map(|s| s.name.to_ascii_lowercase());
    if mode != "none" && inner.as_deref() != Some("sgd") {
        return Err(format!(
            "pullback_momentum=\"{mode}\" rewrites torch SGD's momentum buffer: use optimizer=sgd(...) (got {}), or pullback_momentum=\"none\"",
            inner.unwrap_or_else(|| "None".into())
        ));
    }
    Ok(())
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
    let cfg = inner_config(h, "optimizer");
    let pullback = match h.choice("pullback_momentum") {
        Some("reset") => MomentumSync::Reset,
        Some("pullback") => MomentumSync::Pullback,
        _ => MomentumSync::Keep,
    };
    let inner = if pullback != MomentumSync::Keep && cfg.name() == "sgd" && cfg.modifiers.is_empty() {
        Inner::Sgd(FirstOrder::new(Sgd::new(SgdConfig::from_hyper(&cfg.hyper))))
    } else {
        Inner::Any(cfg.build::<T>(layout))
    };
    Box::new(Lookahead {
        inner,
        k: h.int("k").max(1) as u64,
        alpha: h.num("alpha"),
        pullback,
        counter: 0,
        slow: Vec::new(),
        slow_momentum: Vec::new(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// What a sync does to the inner SGD's momentum buffer (`pullback_momentum`).
enum MomentumSync {
    Keep,
    Reset,
    Pullback,
}

/// The inner optimizer: any, or torch SGD held as such (its momentum buffer is rewritten).
enum Inner<T: Real> {
    Any(Box<dyn Optimizer<T>>),
    Sgd(FirstOrder<T, Sgd<T>>),
}

impl<T: Real> Inner<T> {
    fn get(&mut self) -> &mut dyn Optimizer<T> {
        match self {
            Inner::Any(o) => o.as_mut(),
            Inner::Sgd(o) => o,
        }
    }
    fn get_ref(&self) -> &dyn Optimizer<T> {
        match self {
            Inner::Any(o) => o.as_ref(),
            Inner::Sgd(o) => o,
        }
    }
}

/// Lookahead state: the inner optimizer, the step counter and the slow weights φ.
pub struct Lookahead<T: Real> {
    inner: Inner<T>,
    k: u64,
    alpha: f64,
    pullback: MomentumSync,
    counter: u64,
    slow: Vec<T>,
    slow_momentum: Vec<T>,
}

impl<T: Real> Optimizer<T> for Lookahead<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        if self.slow.len() != params.len() {
            self.slow = params.to_vec();
        }
        let loss = self.inner.get().step(params, objective);
        self.counter += 1;
        if self.counter >= self.k {
            self.counter = 0;
            let w = T::of(1.0 - self.alpha);
            for (p, s) in params.iter_mut().zip(self.slow.iter_mut()) {
                *p = ops::lerp(*p, *s, w);
                *s = *p;
            }
            if let Inner::Sgd(sgd) = &mut self.inner {
                let buf = sgd.rule.momentum_buffer();
                // the reference creates the buffer (zeros) if SGD has none yet
                if buf.len() != params.len() {
                    buf.clear();
                    buf.resize(params.len(), T::zero());
                }
                match self.pullback {
                    MomentumSync::Reset => buf.iter_mut().for_each(|b| *b = T::zero()),
                    MomentumSync::Pullback => {
                        ensure_len(&mut self.slow_momentum, params.len(), T::zero());
                        for (b, s) in buf.iter_mut().zip(self.slow_momentum.iter_mut()) {
                            *b = ops::lerp(*b, *s, w);
                            *s = *b;
                        }
                    }
                    MomentumSync::Keep => {}
                }
            }
        }
        loss
    }
    fn group_count(&self) -> usize {
        self.inner.get_ref().group_count()
    }
    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        self.inner.get().group(i)
    }
    fn end_epoch(&mut self, metric: Option<f64>) {
        self.inner.get().end_epoch(metric)
    }
}
