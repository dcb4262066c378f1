//! `normuon`: NorMuon, Muon with a row-wise second moment of the orthogonalised update
//! (Li et al., 2025, "NorMuon: Making Muon more efficient and scalable"; modded-nanogpt's
//! record optimizer), as pytorch-optimizer 4.1.0's `NorMuon`.
//!
//! For each matrix parameter W (rows × cols, higher tensors flattened to [d₀, d₁·d₂·…]),
//! with G = ∇f(W):
//!
//! ```text
//! W ← W·(1 − γλ)                                   (weight_decouple; else G ← G + λW)
//! B ← lerp(B, G, 1 − μ);   M = lerp(G, B, μ) if nesterov else B
//! O = NS5_bf16(M)                                   (pytorch-optimizer's zero_power_via_newton_schulz_5,
//!                                                    cast back to the parameter's type at once)
//! v ← lerp(v, mean_j O²_ij, 1 − β₂)                 (one number per row i)
//! Ô = O / (√v + ε)                                  (row-wise)
//! preserve_norm: Ô ← Ô·‖O‖/(‖Ô‖ + ε),  γ' = γ·√max(1, rows/cols)  (γ·0.2·√max(rows, cols) with use_adjusted_lr)
//! match_rms:     Ô ← Ô·0.2·√(rows·cols)/(‖Ô‖ + ε),  γ' = γ
//! W ← W − γ'·Ô
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 2e-2, momentum μ = 0.95, beta2 β₂ = 0.95,
//! weight_decay λ = 0, weight_decouple true, nesterov true, ns_steps 5, ns_coeffs
//! "original" (3.4445, −4.775, 2.0315), update_scale "preserve_norm", use_adjusted_lr false,
//! eps 1e-10, maximize false.
//!
//! **Which tensors.** The reference takes parameter groups flagged `use_muon`; the others
//! form its internal AdamW group. optlab gives every tensor with ≥ 2 dims to the NorMuon
//! update and the rest (biases) to that AdamW group, [`Optimizer::group`] 1, with
//! adamw_lr 3e-4, adamw_betas (0.9, 0.95), adamw_wd 0, adamw_eps 1e-10:
//! m ← lerp(m, g, 1 − β₁), v ← lerp(v, g², 1 − β₂), θ ← θ − (γ/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε).
//!
//! **bfloat16.** The Newton–Schulz iteration is torch's bfloat16 one, emulated as for
//! [`super::muon`] (round to bfloat16 after each op where torch does); NorMuon casts its
//! result back to the parameter's type right away, so everything after it is in f64 (f32).

use super::newton_schulz::{ns_preset, zero_power_bf16, NewtonSchulz, NS_PRESETS};
use super::{
    ensure_len, linalg, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real,
};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "normuon",
    title: "NorMuon (Muon with a row-wise second moment) as pytorch-optimizer's NorMuon, AdamW for non-matrices",
    group: Group::Matrix,
    formula: "B = lerp(B, G, 1−μ);  O = NS5_bf16(lerp(G, B, μ));  v = lerp(v, rowmean(O²), 1−β₂);  W −= lr'·‖O‖·Ô/‖Ô‖, Ô = O/(√v+ε)",
    reference: "pytorch-optimizer 4.1.0 NorMuon (non-matrix tensors: its internal AdamW group)",
    params: &[
        Param::new("lr", Kind::Num, "0.02", Check::Lr, "learning rate γ of the matrices"),
        Param::new("momentum", Kind::Num, "0.95", Check::Unit, "momentum factor μ, in [0, 1)"),
        Param::new("beta2", Kind::Num, "0.95", Check::Unit, "decay rate β₂ of the row-wise second moment, in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ of the matrices"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay W·(1 − γλ) (else added to the gradient)"),
        Param::new("nesterov", Kind::Bool, "true", Check::Any, "orthogonalise lerp(G, B, μ) instead of B"),
        Param::new("ns_steps", Kind::Int, "5", Check::AtLeast(1), "Newton–Schulz iterations"),
        Param::new("ns_coeffs", Kind::Choice(NS_PRESETS), "\"original\"", Check::Any, "Newton–Schulz coefficient preset"),
        Param::new(
            "update_scale",
            Kind::Choice(&["preserve_norm", "match_rms"]),
            "\"preserve_norm\"",
            Check::Any,
            "keep ‖O‖ (preserve_norm) or give the update RMS 0.2 (match_rms)",
        ),
        Param::new("use_adjusted_lr", Kind::Bool, "false", Check::Any, "lr·0.2·√max(rows, cols) instead of lr·√max(1, rows/cols)"),
        Param::new("adamw_lr", Kind::Num, "0.0003", Check::Lr, "learning rate of the AdamW group (non-matrices)"),
        Param::new("adamw_betas", Kind::Nums(2), "(0.9, 0.95)", Check::Unit, "(β₁, β₂) of the AdamW group"),
        Param::new("adamw_wd", Kind::Num, "0", Check::NonNeg, "weight decay of the AdamW group"),
        Param::new("adamw_eps", Kind::Num, "1e-10", Check::NonNeg, "ε of the AdamW group"),
        Param::new("eps", Kind::Num, "1e-10", Check::NonNeg, "added to √v and to the norm"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: true,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    let (b1, b2) = h.pair("adamw_betas");
    let adamw = AdamwGroup::new(h.num("adamw_lr"), (b1, b2), h.num("adamw_wd"), h.num("adamw_eps"), h.flag("weight_decouple"));
    Box::new(WithAdamw::new(NorMuonRule::<T>::new(NorMuonConfig::from_hyper(h)), adamw, h.flag("maximize"), layout))
}

/// Hyperparameters of the NorMuon group, pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct NorMuonConfig {
    pub lr: f64,
    pub momentum: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub nesterov: bool,
    pub ns_steps: usize,
    pub ns_coeffs: &'static [(f64, f64, f64)],
    pub match_rms: bool,
    pub use_adjusted_lr: bool,
    pub eps: f64,
}

impl NorMuonConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        NorMuonConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            beta2: h.num("beta2"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            nesterov: h.flag("nesterov"),
            ns_steps: h.int("ns_steps").max(1) as usize,
            ns_coeffs: ns_preset(h.choice("ns_coeffs").unwrap_or("original")),
            match_rms: h.choice("update_scale") == Some("match_rms"),
            use_adjusted_lr: h.flag("use_adjusted_lr"),
            eps: h.num("eps"),
        }
    }
}

/// pytorch-optimizer's `get_adjusted_lr` for a rows × cols matrix: γ·0.2·√max(rows, cols)
/// (Moonlight's, `use_adjusted_lr`) or γ·√max(1, rows/cols) (Keller Jordan's).
pub(super) fn adjusted_lr(lr: f64, rows: usize, cols: usize, use_adjusted_lr: bool) -> f64 {
    let (r, c) = (rows as f64, cols as f64);
    let ratio = if use_adjusted_lr { 0.2 * r.max(c).sqrt() } else { (r / c).max(1.0).sqrt() };
    lr * ratio
}

/// The reference's weight decay before a step (`apply_weight_decay`, fixed_decay false):
/// decoupled, θ·(1 − λγ); coupled, g + λθ.
pub(super) fn weight_decay<T: Real>(p: &mut [T], g: &mut [T], lr: f64, wd: f64, decouple: bool) {
    if wd == 0.0 {
        return;
    }
    if decouple {
        let f = T::of(1.0 - wd * lr);
        p.iter_mut().for_each(|x| *x = *x * f);
    } else if wd > 0.0 {
        for (g, &p) in g.iter_mut().zip(p.iter()) {
            *g = ops::add_alpha(*g, p, T::of(wd));
        }
    }
}

/// An update rule of the Muon family for one matrix at a time (the reference's
/// `use_muon=True` group).
pub(super) trait MatrixRule<T: Real>: Send {
    /// Called once per step before the matrices (the group's step count).
    fn begin_step(&mut self);
    /// Updates matrix `k` (rows × cols) of the parameters `p` from its gradient `g`
    /// (already negated when maximising; the rule may overwrite it).
    fn update(&mut self, k: usize, p: &mut [T], g: &mut [T], rows: usize, cols: usize);
    fn hyper(&mut self) -> GroupHyper<'_>;
}

/// The reference's internal AdamW group (`use_muon=False`) over the tensors that are not
/// matrices.
pub(super) struct AdamwGroup<T> {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub eps: f64,
    pub weight_decouple: bool,
    step: u64,
    m: Vec<T>,
    v: Vec<T>,
}

impl<T: Real> AdamwGroup<T> {
    pub fn new(lr: f64, betas: (f64, f64), weight_decay: f64, eps: f64, weight_decouple: bool) -> Self {
        AdamwGroup { lr, betas, weight_decay, eps, weight_decouple, step: 0, m: Vec::new(), v: Vec::new() }
    }

    /// One step over the tensors at `ranges` of the flat `params` / `grad`.
    fn update(&mut self, params: &mut [T], grad: &mut [T], ranges: &[Range<usize>]) {
        ensure_len(&mut self.m, params.len(), T::zero());
        ensure_len(&mut self.v, params.len(), T::zero());
        self.step += 1;
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2_sqrt = T::of((1.0 - b2.powi(self.step as i32)).sqrt());
        let (w1, w2, eps, step) = (T::of(1.0 - b1), T::of(1.0 - b2), T::of(self.eps), T::of(-self.lr / bc1));
        for r in ranges {
            let (p, g) = (&mut params[r.clone()], &mut grad[r.clone()]);
            weight_decay(p, g, self.lr, self.weight_decay, self.weight_decouple);
            for (i, (p, &g)) in p.iter_mut().zip(g.iter()).enumerate() {
                let (m, v) = (&mut self.m[r.start + i], &mut self.v[r.start + i]);
                *m = ops::lerp(*m, g, w1);
                *v = ops::lerp(*v, g * g, w2);
                let de = v.sqrt() / bc2_sqrt + eps;
                *p = ops::addcdiv(*p, *m, de, step);
            }
        }
    }
}

/// A matrix rule for the tensors with ≥ 2 dims and the AdamW group for the rest, as one
/// optimizer with two parameter groups (the second only if there are such tensors).
pub(super) struct WithAdamw<T: Real, R> {
    pub rule: R,
    adamw: AdamwGroup<T>,
    maximize: bool,
    layout: Layout,
    matrices: Vec<(Range<usize>, usize, usize)>,
    others: Vec<Range<usize>>,
    grad: Vec<T>,
}

impl<T: Real, R: MatrixRule<T>> WithAdamw<T, R> {
    pub fn new(rule: R, adamw: AdamwGroup<T>, maximize: bool, layout: &Layout) -> Self {
        let mut w = WithAdamw {
            rule,
            adamw,
            maximize,
            layout: layout.clone(),
            matrices: Vec::new(),
            others: Vec::new(),
            grad: Vec::new(),
        };
        w.plan();
        w
    }

    fn plan(&mut self) {
        self.matrices.clear();
        self.others.clear();
        for t in &self.layout.tensors {
            match t.as_matrix() {
                Some((rows, cols)) if rows * cols > 0 => self.matrices.push((t.range(), rows, cols)),
                _ => self.others.push(t.range()),
            }
        }
    }
}

impl<T: Real, R: MatrixRule<T>> Optimizer<T> for WithAdamw<T, R> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        if self.layout.len() != n {
            // a layout that does not cover the parameters: one vector (all to AdamW)
            self.layout = Layout::flat(n);
            self.plan();
        }
        ensure_len(&mut self.grad, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        if self.maximize {
            self.grad.iter_mut().for_each(|g| *g = -*g);
        }
        if !self.matrices.is_empty() {
            self.rule.begin_step();
        }
        for (k, (r, rows, cols)) in self.matrices.iter().enumerate() {
            self.rule.update(k, &mut params[r.clone()], &mut self.grad[r.clone()], *rows, *cols);
        }
        if !self.others.is_empty() {
            self.adamw.update(params, &mut self.grad, &self.others);
        }
        loss
    }

    fn group_count(&self) -> usize {
        if !self.matrices.is_empty() && !self.others.is_empty() {
            2
        } else {
            1
        }
    }

    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        if self.matrices.is_empty() || (i == 1 && !self.others.is_empty()) {
            GroupHyper { lr: &mut self.adamw.lr, momentum: Some(&mut self.adamw.betas.0) }
        } else {
            self.rule.hyper()
        }
    }
}

/// NorMuon's state: momentum and row-wise second moment of each matrix.
pub struct NorMuonRule<T> {
    pub cfg: NorMuonConfig,
    momentum: Vec<Vec<T>>,
    second: Vec<Vec<T>>,
    ortho: Vec<f32>,
    update: Vec<T>,
    ns: NewtonSchulz,
}

impl<T: Real> NorMuonRule<T> {
    pub fn new(cfg: NorMuonConfig) -> Self {
        NorMuonRule {
            cfg,
            momentum: Vec::new(),
            second: Vec::new(),
            ortho: Vec::new(),
            update: Vec::new(),
            ns: NewtonSchulz::default(),
        }
    }
}

impl<T: Real> MatrixRule<T> for NorMuonRule<T> {
    fn begin_step(&mut self) {}

    fn update(&mut self, k: usize, p: &mut [T], g: &mut [T], rows: usize, cols: usize) {
        let c = &self.cfg;
        if self.momentum.len() <= k {
            self.momentum.resize_with(k + 1, Vec::new);
            self.second.resize_with(k + 1, Vec::new);
        }
        let n = rows * cols;
        ensure_len(&mut self.momentum[k], n, T::zero());
        ensure_len(&mut self.second[k], rows, T::zero());
        weight_decay(p, g, c.lr, c.weight_decay, c.weight_decouple);
        let (w_grad, w_buf) = (T::of(1.0 - c.momentum), T::of(c.momentum));
        for (g, b) in g.iter_mut().zip(self.momentum[k].iter_mut()) {
            *b = ops::lerp(*b, *g, w_grad);
            *g = if c.nesterov { ops::lerp(*g, *b, w_buf) } else { *b };
        }
        ensure_len(&mut self.ortho, n, 0.0);
        zero_power_bf16(&mut self.ns, g, rows, cols, c.ns_steps, c.ns_coeffs, &mut self.ortho);
        ensure_len(&mut self.update, n, T::zero());
        let u = &mut self.update;
        for (u, &o) in u.iter_mut().zip(&self.ortho) {
            *u = T::of(o as f64);
        }
        let original_norm = linalg::norm(u);
        let (w2, eps) = (T::of(1.0 - c.beta2), T::of(c.eps));
        let count = T::of(cols as f64);
        for (i, v) in self.second[k].iter_mut().enumerate() {
            let row = &mut u[i * cols..(i + 1) * cols];
            let mean = row.iter().fold(T::zero(), |s, &x| s + x * x) / count;
            *v = ops::lerp(*v, mean, w2);
            let de = v.sqrt() + eps;
            row.iter_mut().for_each(|x| *x = *x / de);
        }
        let norm = linalg::norm(u) + eps;
        let (scale, lr) = if c.match_rms {
            (T::one() / norm * T::of(0.2 * (n as f64).sqrt()), c.lr)
        } else {
            (original_norm / norm, adjusted_lr(c.lr, rows, cols, c.use_adjusted_lr))
        };
        let neg_lr = T::of(-lr);
        for (p, &u) in p.iter_mut().zip(u.iter()) {
            *p = ops::add_alpha(*p, u * scale, neg_lr);
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerConfig;

    #[test]
    fn biases_go_to_the_internal_adamw_group() {
        let cfg = OptimizerConfig::parse("normuon(lr=0.02, adamw_lr=0.5)").unwrap();
        let layout = Layout::of(&[("w", vec![2, 3]), ("b", vec![2])]);
        let mut opt = cfg.build::<f64>(&layout);
        assert_eq!(opt.group_count(), 2);
        assert_eq!(*opt.group(1).lr, 0.5);
        let mut p = vec![1.0; 8];
        let mut obj = |_: &[f64], g: &mut [f64]| {
            g.fill(1.0);
            0.0
        };
        opt.step(&mut p, &mut obj);
        // Adam's first step moves each bias by lr (up to ε)
        assert!(p[6..].iter().all(|&b| (b - 0.5).abs() < 1e-8), "{p:?}");
        assert!(p[..6].iter().all(|&w| w < 1.0 && w > 0.9), "{p:?}");
    }

    #[test]
    fn adjusted_learning_rates_follow_the_reference() {
        assert_eq!(adjusted_lr(0.1, 2, 8, false), 0.1);
        assert_eq!(adjusted_lr(0.1, 8, 2, false), 0.1 * 2.0);
        assert_eq!(adjusted_lr(0.1, 4, 9, true), 0.1 * (0.2 * 3.0));
    }
}
