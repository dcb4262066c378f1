//! `adamuon`: AdaMuon, Adam's element-wise second moment on Muon's orthogonalised momentum
//! (Si et al., 2025, "AdaMuon: Adaptive Muon optimizer"), as pytorch-optimizer 4.1.0's
//! `AdaMuon` (its default per-parameter path).
//!
//! For each matrix parameter W (rows × cols, higher tensors flattened to [d₀, d₁·d₂·…]),
//! with G = ∇f(W) and step t:
//!
//! ```text
//! W ← W·(1 − γλ)                                    (weight_decouple; else G ← G + λW)
//! m ← lerp(m, G, 1 − β₁)
//! O = NS5_bf16(m)                                    (kept in bfloat16 below)
//! v ← β₂·v + (1 − β₂)·O²                             (element-wise, in the parameter's type)
//! O ← bf16(O / (√(v/(1 − β₂ᵗ)) + ε))
//! O ← bf16(O · bf16(√min(rows, cols) · 1/bf16(‖O‖ + ε)))
//! W ← W − γ'·O,   γ' = γ·0.2·√max(rows, cols)  (use_adjusted_lr; else γ·√max(1, rows/cols))
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 2e-2, betas (β₁, β₂) = (0.9, 0.95),
//! weight_decay λ = 0, weight_decouple true, ns_steps 5, ns_coeffs "original",
//! use_adjusted_lr true, eps 1e-10, maximize false.
//!
//! **Which tensors.** As for [`super::normuon`]: tensors with ≥ 2 dims take the AdaMuon
//! update, the rest the reference's internal AdamW group ([`Optimizer::group`] 1):
//! adamw_lr 3e-4, adamw_betas (0.9, 0.999), adamw_wd 0, and the same eps.
//!
//! **bfloat16.** The reference keeps the Newton–Schulz result in bfloat16 through the
//! division by √(v/bc₂) + ε and the norm rescale: each of those results is rounded to
//! bfloat16 (through f32, as torch converts), the norm itself too.

use super::newton_schulz::{bf16_of_f32, ns_preset, zero_power_bf16, NewtonSchulz, NS_PRESETS};
use super::normuon::{adjusted_lr, weight_decay, AdamwGroup, MatrixRule, WithAdamw};
use super::{ensure_len, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "adamuon",
    title: "AdaMuon (Adam's second moment on orthogonalised momentum) as pytorch-optimizer's AdaMuon, AdamW for non-matrices",
    group: Group::Matrix,
    formula: "m = lerp(m, G, 1−β₁);  O = NS5_bf16(m);  v = β₂v + (1−β₂)O²;  O = O/(√(v/bc₂)+ε);  W −= lr'·√min(r,c)·O/‖O‖",
    reference: "pytorch-optimizer 4.1.0 AdaMuon (non-matrix tensors: its internal AdamW group)",
    params: &[
        Param::new("lr", Kind::Num, "0.02", Check::Lr, "learning rate γ of the matrices"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.95)", Check::Unit, "(β₁, β₂) of the momentum and the second moment"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ of the matrices"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay W·(1 − γλ) (else added to the gradient)"),
        Param::new("ns_steps", Kind::Int, "5", Check::AtLeast(1), "Newton–Schulz iterations"),
        Param::new("ns_coeffs", Kind::Choice(NS_PRESETS), "\"original\"", Check::Any, "Newton–Schulz coefficient preset"),
        Param::new("use_adjusted_lr", Kind::Bool, "true", Check::Any, "lr·0.2·√max(rows, cols) instead of lr·√max(1, rows/cols)"),
        Param::new("adamw_lr", Kind::Num, "0.0003", Check::Lr, "learning rate of the AdamW group (non-matrices)"),
        Param::new("adamw_betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "(β₁, β₂) of the AdamW group"),
        Param::new("adamw_wd", Kind::Num, "0", Check::NonNeg, "weight decay of the AdamW group"),
        Param::new("eps", Kind::Num, "1e-10", Check::NonNeg, "added to the denominators (both groups)"),
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
    let adamw =
        AdamwGroup::new(h.num("adamw_lr"), h.pair("adamw_betas"), h.num("adamw_wd"), h.num("eps"), h.flag("weight_decouple"));
    Box::new(WithAdamw::new(AdaMuonRule::<T>::new(AdaMuonConfig::from_hyper(h)), adamw, h.flag("maximize"), layout))
}

/// Hyperparameters of the AdaMuon group, pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaMuonConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub ns_steps: usize,
    pub ns_coeffs: &'static [(f64, f64, f64)],
    pub use_adjusted_lr: bool,
    pub eps: f64,
}

impl AdaMuonConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdaMuonConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            ns_steps: h.int("ns_steps").max(1) as usize,
            ns_coeffs: ns_preset(h.choice("ns_coeffs").unwrap_or("original")),
            use_adjusted_lr: h.flag("use_adjusted_lr"),
            eps: h.num("eps"),
        }
    }
}

/// Rounds to bfloat16 through f32, as torch casts a wider result into a bfloat16 tensor.
fn bf16<T: Real>(x: T) -> T {
    T::of(bf16_of_f32(x.f64() as f32) as f64)
}

/// AdaMuon's state: first and second moments of each matrix.
pub struct AdaMuonRule<T> {
    pub cfg: AdaMuonConfig,
    step: u64,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
    ortho: Vec<f32>,
    ns: NewtonSchulz,
}

impl<T: Real> AdaMuonRule<T> {
    pub fn new(cfg: AdaMuonConfig) -> Self {
        AdaMuonRule { cfg, step: 0, m: Vec::new(), v: Vec::new(), ortho: Vec::new(), ns: NewtonSchulz::default() }
    }
}

impl<T: Real> MatrixRule<T> for AdaMuonRule<T> {
    fn begin_step(&mut self) {
        self.step += 1;
    }

    fn update(&mut self, k: usize, p: &mut [T], g: &mut [T], rows: usize, cols: usize) {
        let c = &self.cfg;
        if self.m.len() <= k {
            self.m.resize_with(k + 1, Vec::new);
            self.v.resize_with(k + 1, Vec::new);
        }
        let n = rows * cols;
        ensure_len(&mut self.m[k], n, T::zero());
        ensure_len(&mut self.v[k], n, T::zero());
        weight_decay(p, g, c.lr, c.weight_decay, c.weight_decouple);
        let (b1, b2) = c.betas;
        let bc2 = T::of(1.0 - b2.powi(self.step as i32));
        let w1 = T::of(1.0 - b1);
        for (m, &g) in self.m[k].iter_mut().zip(g.iter()) {
            *m = ops::lerp(*m, g, w1);
        }
        ensure_len(&mut self.ortho, n, 0.0);
        zero_power_bf16(&mut self.ns, &self.m[k], rows, cols, c.ns_steps, c.ns_coeffs, &mut self.ortho);
        // the update stays in bfloat16: `u` holds bfloat16 values
        let (beta2, w2, eps) = (T::of(b2), T::of(1.0 - b2), T::of(c.eps));
        let u = &mut *g;
        for ((u, &o), v) in u.iter_mut().zip(&self.ortho).zip(self.v[k].iter_mut()) {
            let o = T::of(o as f64);
            *v = ops::addcmul(*v * beta2, o, o, w2);
            *u = bf16(o / ((*v / bc2).sqrt() + eps));
        }
        // ‖O‖ in bfloat16 (accumulated wide), + ε in bfloat16, then scale / it as
        // reciprocal · scale, each rounded to bfloat16
        let norm = u.iter().fold(0.0f64, |s, &x| x.f64().mul_add(x.f64(), s)).sqrt();
        let norm = bf16_of_f32(norm as f32);
        let norm = bf16_of_f32(norm + c.eps as f32);
        let scale = (rows.min(cols) as f64).sqrt() as f32;
        let factor = bf16_of_f32(bf16_of_f32(1.0 / norm) * scale);
        let neg_lr = T::of(-adjusted_lr(c.lr, rows, cols, c.use_adjusted_lr));
        for (p, &u) in p.iter_mut().zip(u.iter()) {
            let u = bf16_of_f32(u.f64() as f32 * factor);
            *p = ops::add_alpha(*p, T::of(u as f64), neg_lr);
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
}
