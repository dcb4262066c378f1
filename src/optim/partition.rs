//! `partition`: role-based parameter groups, as `optax.multi_transform` and PyTorch's param
//! groups (`torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0}])`):
//! every tensor of the model goes to exactly one sub-optimizer, chosen by a selector.
//!
//! ```text
//! partition(matrices=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1),
//!           vectors=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0))     nanoGPT's decay groups
//! partition(hidden=muon(lr=0.02, momentum=0.95),
//!           rest=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0))        modded-nanogpt
//! ```
//!
//! **Selectors.** Each keyword is a selector whose value is an optimizer spec (or `None`: the
//! selector is not used). By role ([`super::Role`]): `hidden`, `embedding`, `head`, `norm`
//! (norm gains), `bias`, `other`; by shape: `matrices` (≥ 2 dims), `vectors` (< 2 dims); and
//! `rest`, everything no other selector took.
//!
//! **Precedence.** A tensor goes to the first selector that matches it in this fixed order
//! (the order the keywords are written in does not matter): the role selectors first
//! (`hidden`, `embedding`, `head`, `norm`, `bias`, `other`; roles never overlap), then
//! `matrices` and `vectors` (never overlap either), then `rest`. So
//! `partition(hidden=muon(), matrices=adamw())` gives the hidden matrices to Muon and the
//! embedding, the head and any other matrix to AdamW: the more specific selector wins.
//!
//! **Semantics.** One gradient is taken per step, at the parameters; then, for every selector
//! in use, its tensors' parameters and gradients are gathered (in layout order) into
//! buffers of their own, the sub-optimizer steps on them exactly as it would on those
//! tensors alone, and the parameters are scattered back. A sub-optimizer is built on the
//! layout of its tensors (names, shapes and roles kept), so its numbers are bit for bit
//! those of that optimizer run alone on those tensors (a selector whose tensors are one
//! contiguous block steps on that block in place, with the same numbers). Each
//! sub-optimizer's parameter groups are groups of the partition, in the order of the
//! selectors above ([`Optimizer::group_count`] / [`Optimizer::group`]), so schedulers
//! (`| CosineAnnealingLR(...)`) act on every group from its own learning rate, and
//! clipping (`| clip_grad_norm(1.0)`) takes the norm over all tensors before the step, as
//! `torch.nn.utils.clip_grad_norm_(model.parameters())` before `optimizer.step()`.
//! Sub-optimizers must take one gradient at their parameters (not `lbfgs`, `nag`, the
//! schedule-free methods); matrix methods (`muon`, `soap`, `lamb`, ...) and nested
//! partitions are fine.
//!
//! **Coverage.** A tensor no selector takes is an error before training starts
//! ([`super::OptimizerConfig::check_layout`]); an optimizer built anyway leaves it unchanged.
//!
//! **Defaults.** `rest=adamw(lr=1e-3)` (as Muon's fallback), every other selector `None`, so
//! `partition` alone is `adamw(lr=1e-3)` on every tensor; write `rest=None` to make every
//! tensor need a selector of its own. A partition with no selector at all is an error.
//! `lr=None`: each sub-optimizer keeps its own learning rate; a number (what `tune` and
//! `sweep-lr` set) replaces the learning rate of every sub-optimizer.
//!
//! `muon(fallback=...)` is this mechanism with two fixed groups: `muon(lr=γ, fallback=F)` is
//! `partition(matrices=muon(lr=γ), rest=F)`, and `partition(hidden=muon(...), rest=...)` is
//! the general form (by role, any sub-optimizer for the rest).

use super::{
    ensure_len, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, OptimizerConfig, Param,
    Point, Real, Role, TensorInfo,
};
use std::ops::Range;

/// The selectors, in precedence order.
const SELECTORS: [&str; 9] = ["hidden", "embedding", "head", "norm", "bias", "other", "matrices", "vectors", "rest"];

pub(super) const METHOD: Method = Method {
    name: "partition",
    title: "parameter groups: a sub-optimizer per role or shape of tensor (optax.multi_transform)",
    group: Group::Matrix,
    formula: "for each selector s (hidden, embedding, head, norm, bias, other, matrices, vectors, rest; first match wins): θ_s = opt_s.step(θ_s, g_s)",
    reference: "optax.multi_transform; torch.optim param groups",
    params: &[
        Param::new("lr", Kind::MaybeNum, "None", Check::Lr, "None: each sub-optimizer keeps its lr; a number: the lr of every sub-optimizer"),
        Param::new("hidden", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the hidden weight matrices (role hidden)"),
        Param::new("embedding", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the embedding tables"),
        Param::new("head", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the output layer's weight"),
        Param::new("norm", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the gains of normalisation layers"),
        Param::new("bias", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the biases"),
        Param::new("other", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the tensors of role other (the 2-D lab's xy)"),
        Param::new("matrices", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the tensors with ≥ 2 dims not taken by a role selector"),
        Param::new("vectors", Kind::MaybeOptimizer, "None", Check::Any, "optimizer for the tensors with < 2 dims not taken by a role selector"),
        Param::new("rest", Kind::MaybeOptimizer, "adamw(lr=1e-3)", Check::Any, "optimizer for every tensor no other selector took"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn rules(h: &Hyper) -> Result<(), String> {
    if SELECTORS.iter().all(|k| h.maybe_spec(k).is_none()) {
        return Err("partition needs at least one selector, e.g. partition(matrices=adamw(weight_decay=0.1), vectors=adamw(weight_decay=0))".into());
    }
    Ok(())
}

/// Whether selector `key` matches tensor `t` (ignoring precedence).
fn matches(key: &str, t: &TensorInfo) -> bool {
    let role = |r: Role| t.role == r;
    match key {
        "hidden" => role(Role::Hidden),
        "embedding" => role(Role::Embedding),
        "head" => role(Role::Head),
        "norm" => role(Role::NormGain),
        "bias" => role(Role::Bias),
        "other" => role(Role::Other),
        "matrices" => t.shape.len() >= 2,
        "vectors" => t.shape.len() < 2,
        "rest" => true,
        _ => false,
    }
}

/// One selector in use: its sub-optimizer's configuration and the indices of its tensors.
struct Assigned {
    config: OptimizerConfig,
    tensors: Vec<usize>,
}

/// Which selector takes which tensors (selectors that take none are left out), and the
/// tensors none takes.
fn assign(h: &Hyper, layout: &Layout) -> (Vec<Assigned>, Vec<usize>) {
    let lr = h.maybe_num("lr");
    let mut parts: Vec<Assigned> = Vec::new();
    let mut taken = vec![false; layout.tensors.len()];
    for key in SELECTORS {
        let Some(spec) = h.maybe_spec(key) else { continue };
        let tensors: Vec<usize> =
            (0..layout.tensors.len()).filter(|&i| !taken[i] && matches(key, &layout.tensors[i])).collect();
        if tensors.is_empty() {
            continue;
        }
        tensors.iter().for_each(|&i| taken[i] = true);
        // the nested spec was validated with the outer one; the default stands in otherwise
        let mut config =
            OptimizerConfig::from_spec(spec).unwrap_or_else(|_| OptimizerConfig::defaults(&super::adamw::METHOD));
        if let Some(lr) = lr {
            config = config.with_lr(lr);
        }
        parts.push(Assigned { config, tensors });
    }
    let uncovered = (0..layout.tensors.len()).filter(|&i| !taken[i]).collect();
    (parts, uncovered)
}

/// The layout of some tensors of `layout`, packed, with their names, shapes and roles.
fn sub_layout(layout: &Layout, tensors: &[usize]) -> Layout {
    let t: Vec<(&str, Vec<usize>, Role)> = tensors
        .iter()
        .map(|&i| (layout.tensors[i].name.as_str(), layout.tensors[i].shape.clone(), layout.tensors[i].role))
        .collect();
    Layout::with_roles(&t)
}

/// Every tensor is taken by a selector, and each sub-optimizer accepts its tensors.
pub(super) fn check_layout(h: &Hyper, layout: &Layout) -> Result<(), String> {
    let (parts, uncovered) = assign(h, layout);
    if !uncovered.is_empty() {
        const SHOWN: usize = 3;
        let mut names: Vec<String> = uncovered
            .iter()
            .take(SHOWN)
            .map(|&i| {
                let t = &layout.tensors[i];
                format!("{} ({}, {:?})", crate::limits::shorten(&t.name, 60), t.role.name(), t.shape)
            })
            .collect();
        if uncovered.len() > SHOWN {
            names.push(format!("and {} more", uncovered.len() - SHOWN));
        }
        let (what, verb) = if uncovered.len() == 1 { ("tensor", "is") } else { ("tensors", "are") };
        return Err(format!(
            "partition: {what} {} {verb} not covered by any selector; add rest=... (e.g. rest=adamw(lr=1e-3)) or a selector that takes {}",
            names.join(", "),
            if uncovered.len() == 1 { "it" } else { "them" }
        ));
    }
    for p in &parts {
        p.config.check_layout(&sub_layout(layout, &p.tensors))?;
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(Partition::<T>::new(h.clone(), layout))
}

/// One group of the partition: its sub-optimizer, the ranges of its tensors in the full
/// buffer (adjacent tensors merged), and the gathered copies.
struct Part<T: Real> {
    opt: Box<dyn Optimizer<T>>,
    ranges: Vec<Range<usize>>,
    params: Vec<T>,
    grad: Vec<T>,
}

/// A partition of the tensors among sub-optimizers.
pub struct Partition<T: Real> {
    hyper: Hyper,
    layout: Layout,
    parts: Vec<Part<T>>,
    grad: Vec<T>,
    /// The learning rate shown as group 0 when no selector takes any tensor.
    spare_lr: f64,
}

impl<T: Real> Partition<T> {
    pub fn new(hyper: Hyper, layout: &Layout) -> Self {
        let mut p = Partition { hyper, layout: layout.clone(), parts: Vec::new(), grad: Vec::new(), spare_lr: 0.0 };
        p.plan();
        p
    }

    fn plan(&mut self) {
        let (assigned, _) = assign(&self.hyper, &self.layout);
        self.parts = assigned
            .into_iter()
            .map(|a| {
                let mut ranges: Vec<Range<usize>> = Vec::new();
                for &i in &a.tensors {
                    let r = self.layout.tensors[i].range();
                    match ranges.last_mut() {
                        Some(last) if last.end == r.start => last.end = r.end,
                        _ => ranges.push(r),
                    }
                }
                let opt = a.config.build::<T>(&sub_layout(&self.layout, &a.tensors));
                Part { opt, ranges, params: Vec::new(), grad: Vec::new() }
            })
            .collect();
        self.spare_lr = self.hyper.maybe_num("lr").unwrap_or(0.0);
    }
}

impl<T: Real> Optimizer<T> for Partition<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        if self.layout.len() != n {
            // a layout that does not cover the parameters: one vector
            self.layout = Layout::flat(n);
            self.plan();
        }
        ensure_len(&mut self.grad, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        let grad = &self.grad;
        for part in &mut self.parts {
            if let [r] = part.ranges.as_slice() {
                // one block: step on it in place
                let g = &grad[r.clone()];
                let mut known = |_: &[T], out: &mut [T]| {
                    out.copy_from_slice(g);
                    loss
                };
                part.opt.step(&mut params[r.clone()], &mut known);
                continue;
            }
            let m: usize = part.ranges.iter().map(|r| r.len()).sum();
            ensure_len(&mut part.params, m, T::zero());
            ensure_len(&mut part.grad, m, T::zero());
            let mut at = 0;
            for r in &part.ranges {
                let len = r.len();
                part.params[at..at + len].copy_from_slice(&params[r.clone()]);
                part.grad[at..at + len].copy_from_slice(&grad[r.clone()]);
                at += len;
            }
            let g = &part.grad;
            let mut known = |_: &[T], out: &mut [T]| {
                out.copy_from_slice(g);
                loss
            };
            part.opt.step(&mut part.params, &mut known);
            let mut at = 0;
            for r in &part.ranges {
                let len = r.len();
                params[r.clone()].copy_from_slice(&part.params[at..at + len]);
                at += len;
            }
        }
        loss
    }

    fn group_count(&self) -> usize {
        self.parts.iter().map(|p| p.opt.group_count()).sum::<usize>().max(1)
    }

    fn group(&mut self, mut i: usize) -> GroupHyper<'_> {
        for p in &mut self.parts {
            let c = p.opt.group_count();
            if i < c {
                return p.opt.group(i);
            }
            i -= c;
        }
        GroupHyper { lr: &mut self.spare_lr, momentum: None }
    }

    fn end_epoch(&mut self, metric: Option<f64>) {
        for p in &mut self.parts {
            p.opt.end_epoch(metric);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small model: a hidden matrix, its bias, a norm gain, and a head matrix.
    fn model() -> Layout {
        Layout::with_roles(&[
            ("fc1.weight", vec![3, 4], Role::Hidden),
            ("fc1.bias", vec![3], Role::Bias),
            ("ln.weight", vec![3], Role::NormGain),
            ("head.weight", vec![2, 3], Role::Head),
        ])
    }

    /// A quadratic with a different curvature per coordinate, so every tensor's gradient
    /// differs.
    fn loss(p: &[f64], g: &mut [f64]) -> f64 {
        let mut s = 0.0;
        for (i, (gi, &pi)) in g.iter_mut().zip(p).enumerate() {
            let c = 1.0 + i as f64 * 0.25;
            *gi = c * (pi - 0.1 * i as f64);
            s += 0.5 * c * (pi - 0.1 * i as f64).powi(2);
        }
        s
    }

    fn start(n: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.3).collect()
    }

    /// Runs `spec` alone on the tensors `idx` of `layout` (with the full loss, whose
    /// gradient on those tensors depends only on them), and returns their parameters.
    fn alone(spec: &str, layout: &Layout, idx: &[usize], steps: usize) -> Vec<(usize, f64)> {
        let full = start(layout.len());
        let coords: Vec<usize> = idx.iter().flat_map(|&i| layout.tensors[i].range()).collect();
        let mut p: Vec<f64> = coords.iter().map(|&c| full[c]).collect();
        let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f64>(&sub_layout(layout, idx));
        let mut obj = |q: &[f64], g: &mut [f64]| {
            let mut x = full.clone();
            coords.iter().zip(q).for_each(|(&c, &v)| x[c] = v);
            let mut gx = vec![0.0; x.len()];
            let l = loss(&x, &mut gx);
            coords.iter().zip(g.iter_mut()).for_each(|(&c, gi)| *gi = gx[c]);
            l
        };
        for _ in 0..steps {
            opt.step(&mut p, &mut obj);
        }
        coords.into_iter().zip(p).collect()
    }

    fn run(spec: &str, layout: &Layout, steps: usize) -> Vec<f64> {
        let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f64>(layout);
        let mut p = start(layout.len());
        for _ in 0..steps {
            opt.step(&mut p, &mut loss);
        }
        p
    }

    #[test]
    fn each_group_gives_bit_for_bit_what_its_optimizer_gives_alone_on_its_tensors() {
        let l = model();
        let p = run("partition(matrices=sgd(lr=0.1), vectors=adam(lr=0.01))", &l, 25);
        let mut seen = 0;
        for (spec, idx) in [("sgd(lr=0.1)", vec![0, 3]), ("adam(lr=0.01)", vec![1, 2])] {
            for (c, v) in alone(spec, &l, &idx, 25) {
                assert_eq!(p[c].to_bits(), v.to_bits(), "{spec}, coordinate {c}: {} vs {v}", p[c]);
                seen += 1;
            }
        }
        assert_eq!(seen, l.len());
        // a matrix method on gathered, non-adjacent tensors: the same numbers as alone
        let p = run("partition(matrices=muon(lr=0.02), rest=adamw(lr=0.01))", &l, 10);
        for (spec, idx) in [("muon(lr=0.02)", vec![0, 3]), ("adamw(lr=0.01)", vec![1, 2])] {
            for (c, v) in alone(spec, &l, &idx, 10) {
                assert_eq!(p[c].to_bits(), v.to_bits(), "{spec}, coordinate {c}");
            }
        }
    }

    #[test]
    fn muon_with_a_fallback_is_partition_of_matrices_to_muon_and_rest_to_the_fallback() {
        let l = model();
        let a = run("muon(lr=0.02, fallback=sgd(lr=0.1, momentum=0.9))", &l, 10);
        let b = run("partition(matrices=muon(lr=0.02), rest=sgd(lr=0.1, momentum=0.9))", &l, 10);
        assert_eq!(a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn a_tensor_goes_to_the_first_matching_selector_roles_then_shapes_then_rest() {
        let l = model();
        // hidden beats matrices, whatever the order written; the head is a matrix; bias and
        // norm gain fall to rest
        let spec = "partition(matrices=sgd(lr=0.5), rest=sgd(lr=0.25), hidden=sgd(lr=0.125))";
        let cfg = OptimizerConfig::parse(spec).unwrap();
        let mut opt = cfg.build::<f64>(&l);
        assert_eq!(opt.group_count(), 3);
        let lrs: Vec<f64> = (0..3).map(|i| *opt.group(i).lr).collect();
        assert_eq!(lrs, [0.125, 0.5, 0.25], "groups in precedence order: hidden, matrices, rest");
        let mut p = vec![0.0; l.len()];
        let mut ones = |_: &[f64], g: &mut [f64]| {
            g.fill(1.0);
            0.0
        };
        opt.step(&mut p, &mut ones);
        let want = |i: usize| match l.tensors[i].name.as_str() {
            "fc1.weight" => -0.125,
            "head.weight" => -0.5,
            _ => -0.25,
        };
        for (i, t) in l.tensors.iter().enumerate() {
            assert!(p[t.range()].iter().all(|&v| v == want(i)), "{}: {:?}", t.name, &p[t.range()]);
        }
        // rest takes nothing when the others cover everything: no group for it
        let cfg = OptimizerConfig::parse("partition(matrices=sgd(lr=0.5), vectors=sgd(lr=0.25))").unwrap();
        assert_eq!(cfg.build::<f64>(&l).group_count(), 2);
        cfg.check_layout(&l).unwrap();
    }

    #[test]
    fn an_uncovered_tensor_is_an_error_naming_it_and_empty_or_unknown_selectors_are_spec_errors() {
        let l = model();
        let cfg = OptimizerConfig::parse("partition(hidden=muon(lr=0.02), head=adam(), bias=adam(), rest=None)").unwrap();
        let e = cfg.check_layout(&l).unwrap_err();
        assert_eq!(
            e,
            "partition: tensor ln.weight (norm, [3]) is not covered by any selector; add rest=... (e.g. rest=adamw(lr=1e-3)) or a selector that takes it"
        );
        let cfg = OptimizerConfig::parse("partition(matrices=sgd(), rest=None)").unwrap();
        let e = cfg.check_layout(&l).unwrap_err();
        assert!(e.contains("tensors fc1.bias (bias, [3]), ln.weight (norm, [3]) are not covered"), "{e}");
        // recursively: a nested partition must cover what it is given
        let cfg = OptimizerConfig::parse("partition(vectors=partition(bias=sgd(), rest=None), rest=sgd())").unwrap();
        assert!(cfg.check_layout(&l).unwrap_err().contains("ln.weight"));
        // every other method accepts any layout
        OptimizerConfig::parse("adam").unwrap().check_layout(&l).unwrap();
        // built anyway, the uncovered tensor is left as it is
        let cfg = OptimizerConfig::parse("partition(matrices=sgd(lr=1), rest=None)").unwrap();
        let mut p = vec![1.0; l.len()];
        cfg.build::<f64>(&l).step(&mut p, &mut loss);
        assert!(p[l.tensors[1].range()].iter().all(|&v| v == 1.0));
        // spec errors
        for bad in ["partition(rest=None)", "partition(weights=sgd())", "partition(rest=lbfgs())", "partition(rest=3)"] {
            let e = OptimizerConfig::parse(bad).expect_err(bad);
            assert!(!e.message.contains('\n'), "{bad}: {}", e.message);
        }
        assert!(OptimizerConfig::parse("partition(weights=sgd())").unwrap_err().message.contains("unknown key 'weights'"));
    }

    #[test]
    fn every_group_lr_is_visible_to_schedulers_and_clipping_is_global() {
        let l = model();
        let spec = "partition(hidden=muon(lr=0.02, momentum=0.95), rest=adamw(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)) | CosineAnnealingLR(T_max=10)";
        let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f64>(&l);
        assert_eq!(opt.group_count(), 2);
        assert_eq!((*opt.group(0).lr, *opt.group(1).lr), (0.02, 1e-3));
        let mut p = start(l.len());
        for _ in 0..5 {
            opt.step(&mut p, &mut loss);
        }
        // halfway through the cosine, each group at half its own initial rate
        assert!((*opt.group(0).lr - 0.01).abs() < 1e-12, "{}", *opt.group(0).lr);
        assert!((*opt.group(1).lr - 5e-4).abs() < 1e-15, "{}", *opt.group(1).lr);
        assert!(opt.group(1).momentum.is_some());
        // clip_grad_norm scales the whole gradient by the norm over every tensor
        let clipped = "partition(matrices=sgd(lr=1), vectors=sgd(lr=1)) | clip_grad_norm(max_norm=1.0)";
        let mut opt = OptimizerConfig::parse(clipped).unwrap().build::<f64>(&l);
        let mut p = vec![0.0; l.len()];
        let mut ones = |_: &[f64], g: &mut [f64]| {
            g.fill(1.0);
            0.0
        };
        opt.step(&mut p, &mut ones);
        let c = 1.0 / ((l.len() as f64).sqrt() + 1e-6);
        assert!(p.iter().all(|&v| (v + c).abs() < 1e-15), "{p:?}");
        // an lr of the partition's own replaces every group's (as tune sets it)
        let cfg = OptimizerConfig::parse("partition(hidden=muon(lr=0.02), rest=adamw())").unwrap().with_lr(0.3);
        let mut opt = cfg.build::<f64>(&l);
        assert_eq!((*opt.group(0).lr, *opt.group(1).lr), (0.3, 0.3));
        assert_eq!(OptimizerConfig::parse("partition(hidden=muon(lr=0.02), rest=adamw())").unwrap().lr(), 0.02);
    }

    #[test]
    fn in_the_2d_lab_partition_rest_adam_is_adam_and_partition_alone_is_adamw() {
        for shape in [super::super::Shape2::Vector, super::super::Shape2::Row] {
            let l = shape.layout();
            for (spec, same) in [("partition(rest=adam(lr=0.1))", "adam(lr=0.1)"), ("partition", "adamw(lr=1e-3)")] {
                let cfg = OptimizerConfig::parse(spec).unwrap();
                cfg.check_layout(&l).unwrap();
                let a = run(spec, &l, 30);
                let b = run(same, &l, 30);
                assert_eq!(a, b, "{spec} vs {same} ({shape:?})");
                assert_eq!(cfg.build::<f64>(&l).group_count(), 1);
            }
        }
        // the lab's xy has role other
        let l = super::super::Shape2::Vector.layout();
        assert_eq!(run("partition(other=sgd(lr=0.1), rest=None)", &l, 5), run("sgd(lr=0.1)", &l, 5));
        assert_eq!(OptimizerConfig::parse("partition").unwrap().label(), "partition");
    }
}
