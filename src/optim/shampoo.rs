//! `shampoo`: Shampoo, a Kronecker-factored preconditioner per tensor dimension (Gupta, Koren
//! and Singer, 2018, "Shampoo: Preconditioned stochastic tensor optimization"), as
//! pytorch-optimizer 4.1.0's `Shampoo`.
//!
//! For each tensor G = ∇f(θ) of order k (its dimensions d₁ … d_k, each with a statistic
//! H_i, d_i × d_i, starting at ε·I):
//!
//! ```text
//! G ← lerp(G, B, μ)                         (μ > 0; B starts as the first gradient)
//! G ← G + λθ   (or θ·(1 − λγ) with weight_decouple, θ·(1 − λ) with fixed_decay too)
//! H_i ← H_i + G_(i) G_(i)ᵀ                  (G_(i): G unfolded along dimension i)
//! P_i = H_i^(−1/(2k))                        (every preconditioning_compute_steps steps)
//! U = G ×₁ P₁ ×₂ P₂ … ×_k P_k;   B ← U;   θ ← θ − γ·U
//! ```
//!
//! A matrix gets U = P_L G P_R with P_L = (εI + Σ GGᵀ)^(−1/4), P_R = (εI + Σ GᵀG)^(−1/4); a
//! vector U = (εI + Σ ggᵀ)^(−1/2) g. Until the first preconditioner is computed
//! (preconditioning_compute_steps > 1) P_i is zero, as in the reference, and θ does not move.
//!
//! The reference takes the inverse roots from an SVD (LAPACK, in the tensor's type);
//! optlab from the eigendecomposition of the symmetric statistic (in f64): the same
//! matrix up to rounding (P = Σ sign(λ)|λ|^(−1/(2k)) v vᵀ), compared with a relative
//! tolerance of ~1e-10.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum μ = 0, weight_decay λ = 0,
//! weight_decouple false, fixed_decay false, preconditioning_compute_steps 1,
//! matrix_eps ε = 1e-6, maximize false.

use super::linalg::eigh;
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "shampoo",
    title: "Shampoo (a Kronecker-factored preconditioner per dimension) as pytorch-optimizer's Shampoo",
    group: Group::Matrix,
    formula: "G = lerp(G, B, μ);  L += GGᵀ;  R += GᵀG;  U = L^(−1/4) G R^(−1/4) (vectors: H^(−1/2) g);  B = U;  θ = θ − lr·U",
    reference: "pytorch-optimizer 4.1.0 Shampoo",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("momentum", Kind::Num, "0", Check::UnitClosed, "momentum μ: G = lerp(G, B, μ), B the last update"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λγ) instead of G + λθ"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay not scaled by lr: θ·(1 − λ)"),
        Param::new("preconditioning_compute_steps", Kind::Int, "1", Check::AtLeast(1), "steps between inverse-root computations"),
        Param::new("matrix_eps", Kind::Num, "1e-6", Check::NonNeg, "the statistics start at matrix_eps·I"),
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
    FirstOrder::boxed(Shampoo::<T>::new(ShampooConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Shampoo`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ShampooConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub preconditioning_compute_steps: u64,
    pub matrix_eps: f64,
    pub maximize: bool,
}

impl ShampooConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        ShampooConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            preconditioning_compute_steps: h.int("preconditioning_compute_steps").max(1) as u64,
            matrix_eps: h.num("matrix_eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// `H^(−1/p)` of the symmetric d × d `h` through its eigendecomposition (f64), as
/// pytorch-optimizer's `compute_power_svd` gives it: Σ sign(λ)|λ|^(−1/p) v vᵀ.
pub(super) fn inverse_root(h: &[f64], d: usize, p: f64) -> Vec<f64> {
    let (values, vectors) = eigh(h, d);
    let mut out = vec![0.0; d * d];
    for (k, &l) in values.iter().enumerate() {
        let s = l.abs().powf(-1.0 / p).copysign(l);
        for i in 0..d {
            let vi = vectors[i * d + k] * s;
            for j in 0..d {
                out[i * d + j] += vi * vectors[j * d + k];
            }
        }
    }
    out
}

/// `x` (row-major, shape `dims`) multiplied along dimension `k` by the d × d `m`:
/// out[…, j, …] = Σᵢ m[j, i]·x[…, i, …].
pub(super) fn mode_product<T: Real>(x: &[T], dims: &[usize], k: usize, m: &[T], out: &mut [T]) {
    let d = dims[k];
    let pre: usize = dims[..k].iter().product();
    let post: usize = dims[k + 1..].iter().product();
    for a in 0..pre {
        let base = a * d * post;
        for j in 0..d {
            for q in 0..post {
                let mut s = T::zero();
                for i in 0..d {
                    s = s + m[j * d + i] * x[base + i * post + q];
                }
                out[base + j * post + q] = s;
            }
        }
    }
}

/// Adds the unfolding of `g` along dimension `k` times its transpose to the d × d `h`:
/// h[a, b] += Σ over the other indices of g[…, a, …]·g[…, b, …].
pub(super) fn add_outer<T: Real>(g: &[T], dims: &[usize], k: usize, h: &mut [T]) {
    let d = dims[k];
    let pre: usize = dims[..k].iter().product();
    let post: usize = dims[k + 1..].iter().product();
    for a in 0..d {
        for b in a..d {
            let mut s = T::zero();
            for p in 0..pre {
                let base = p * d * post;
                for q in 0..post {
                    s = s + g[base + a * post + q] * g[base + b * post + q];
                }
            }
            h[a * d + b] = h[a * d + b] + s;
            if a != b {
                h[b * d + a] = h[a * d + b];
            }
        }
    }
}

/// One tensor's state.
struct TensorState<T> {
    offset: usize,
    dims: Vec<usize>,
    stats: Vec<Vec<T>>,
    inv: Vec<Vec<T>>,
    momentum: Vec<T>,
}

/// Shampoo's state.
pub struct Shampoo<T: Real> {
    pub cfg: ShampooConfig,
    layout: Layout,
    tensors: Vec<TensorState<T>>,
    step: u64,
    g: Vec<T>,
    tmp: Vec<T>,
}

impl<T: Real> Shampoo<T> {
    pub fn new(cfg: ShampooConfig, layout: &Layout) -> Self {
        let mut s = Shampoo { cfg, layout: layout.clone(), tensors: Vec::new(), step: 0, g: Vec::new(), tmp: Vec::new() };
        s.plan();
        s
    }

    fn plan(&mut self) {
        let eps = self.cfg.matrix_eps;
        self.tensors = self
            .layout
            .tensors
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| {
                let dims = if t.shape.is_empty() { vec![1] } else { t.shape.clone() };
                let stats = dims
                    .iter()
                    .map(|&d| {
                        let mut m = vec![T::zero(); d * d];
                        (0..d).for_each(|i| m[i * d + i] = T::of(eps));
                        m
                    })
                    .collect();
                let inv = dims.iter().map(|&d| vec![T::zero(); d * d]).collect();
                TensorState { offset: t.offset, dims, stats, inv, momentum: Vec::new() }
            })
            .collect();
    }
}

impl<T: Real> GradientRule<T> for Shampoo<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        if self.layout.len() != n {
            self.layout = Layout::flat(n);
            self.plan();
        }
        self.step += 1;
        let c = &self.cfg;
        let recompute = self.step.is_multiple_of(c.preconditioning_compute_steps);
        for t in &mut self.tensors {
            let len: usize = t.dims.iter().product();
            let r = t.offset..t.offset + len;
            let p = &mut params[r.clone()];
            ensure_len(&mut self.g, len, T::zero());
            ensure_len(&mut self.tmp, len, T::zero());
            let g = &mut self.g;
            g.copy_from_slice(&grad[r.clone()]);
            if c.momentum > 0.0 && t.momentum.is_empty() {
                t.momentum = g.clone();
            }
            if c.maximize {
                g.iter_mut().for_each(|x| *x = -*x);
            }
            if c.momentum > 0.0 {
                let w = T::of(c.momentum);
                for (g, &b) in g.iter_mut().zip(&t.momentum) {
                    *g = ops::lerp(*g, b, w);
                }
            }
            if c.weight_decay != 0.0 {
                if c.weight_decouple {
                    let f = T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { c.lr });
                    p.iter_mut().for_each(|x| *x = *x * f);
                } else if c.weight_decay > 0.0 {
                    for (g, &x) in g.iter_mut().zip(p.iter()) {
                        *g = ops::add_alpha(*g, x, T::of(c.weight_decay));
                    }
                }
            }
            let order = t.dims.len() as f64;
            for k in 0..t.dims.len() {
                add_outer(g, &t.dims, k, &mut t.stats[k]);
                if recompute {
                    let d = t.dims[k];
                    let h: Vec<f64> = t.stats[k].iter().map(|x| x.f64()).collect();
                    for (dst, v) in t.inv[k].iter_mut().zip(inverse_root(&h, d, 2.0 * order)) {
                        *dst = T::of(v);
                    }
                }
            }
            // the statistics take the gradient before preconditioning; then G ×₁ P₁ … ×_k P_k
            for k in 0..t.dims.len() {
                mode_product(g, &t.dims, k, &t.inv[k], &mut self.tmp);
                std::mem::swap(g, &mut self.tmp);
            }
            if c.momentum > 0.0 {
                t.momentum.copy_from_slice(g);
            }
            let neg_lr = T::of(-c.lr);
            for (p, &u) in p.iter_mut().zip(g.iter()) {
                *p = ops::add_alpha(*p, u, neg_lr);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
}
