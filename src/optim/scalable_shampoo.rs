//! `scalable-shampoo`: Scalable Shampoo (Anil et al., 2020, "Scalable second order
//! optimization for deep learning"), blocked Kronecker preconditioners with inverse roots by
//! a coupled Schur–Newton iteration and layer-wise grafting, as pytorch-optimizer 4.1.0's
//! `ScalableShampoo`.
//!
//! Each tensor is reshaped (`shape_interpretation`: consecutive small dimensions merged up to
//! block_size) and cut into blocks of at most block_size per dimension; each block has a
//! statistic H_i per dimension (ε·I at first) and a preconditioner P_i (I at first). With
//! g = ∇f(θ), step t:
//!
//! ```text
//! H_i ← β₂·H_i + (1 − β₂)·G_(i)G_(i)ᵀ  (per block; every statistics_compute_steps steps)
//! P_i = (H_i + ridge·I)^(−1/(2k))      (Schur–Newton, every preconditioning_compute_steps steps;
//!                                       ridge = matrix_eps·λ_max by power iteration)
//! s = G ×₁ P₁ … ×_k P_k  (per block; g itself where nothing is preconditioned)
//! r = graft(g): g (SGD), g/(√Σg² + ε_d) (ADAGRAD), g/(√EMA(g²) + ε_d) (RMSPROP), sign g (SQRTN)
//! s ← s·‖r‖/(‖s‖ + 1e-16)                            (unless graft_type NONE)
//! m ← β₁m + s;  m_r ← β₁m_r + r                      (moving_average_for_momentum: lerps)
//! u = m if t ≥ start_preconditioning_step else m_r;  nesterov: u ← β₁u + (s or r)
//! θ ← θ − γ·u                                         (weight decay: added to s and r, or
//!                                                       decoupled θ·(1 − γλ))
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999),
//! moving_average_for_momentum false, weight_decay 0, decoupled_weight_decay false,
//! decoupled_learning_rate true, inverse_exponent_override 0 (2k), start_preconditioning_step
//! 25, preconditioning_compute_steps 1000, statistics_compute_steps 1, block_size 512,
//! skip_preconditioning_rank_lt 1, no_preconditioning_for_layers_with_dim_gt 8192,
//! shape_interpretation true, graft_type SGD, nesterov true, diagonal_eps 1e-10,
//! matrix_eps 1e-6, use_svd false, maximize false (pre_conditioner_type ALL).
//!
//! The power iteration starts from a normal vector drawn from optlab's seeded source
//! ([`super::draws`]); the golden tests replay torch's.

use super::draws::Source;
use super::shampoo::{inverse_root, mode_product};
use super::{ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "scalable-shampoo",
    title: "Scalable Shampoo (blocked preconditioners, Schur–Newton roots, grafting) as pytorch-optimizer's ScalableShampoo",
    group: Group::Matrix,
    formula: "H_i = β₂H_i + (1−β₂)G_(i)G_(i)ᵀ;  s = G ×ᵢ H_i^(−1/2k);  s ← s‖graft(g)‖/‖s‖;  m = β₁m + s;  θ −= lr·(β₁m + s)",
    reference: "pytorch-optimizer 4.1.0 ScalableShampoo",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "(β₁ momentum, β₂ statistics decay)"),
        Param::new("moving_average_for_momentum", Kind::Bool, "false", Check::Any, "momentum as lerp(m, s, 1 − β₁)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("decoupled_weight_decay", Kind::Bool, "false", Check::Any, "θ·(1 − γλ) instead of adding λθ"),
        Param::new("decoupled_learning_rate", Kind::Bool, "true", Check::Any, "lr on the momentum (else on the preconditioned gradient)"),
        Param::new("inverse_exponent_override", Kind::Int, "0", Check::AtLeast(0), "the root order (0: twice the preconditioned rank)"),
        Param::new("start_preconditioning_step", Kind::Int, "25", Check::AtLeast(1), "the Shampoo direction from this step on"),
        Param::new("preconditioning_compute_steps", Kind::Int, "1000", Check::AtLeast(1), "steps between inverse roots"),
        Param::new("statistics_compute_steps", Kind::Int, "1", Check::AtLeast(1), "steps between statistics updates"),
        Param::new("block_size", Kind::Int, "512", Check::AtLeast(1), "block size of the partition (and of merging)"),
        Param::new("skip_preconditioning_rank_lt", Kind::Int, "1", Check::AtLeast(0), "tensors of fewer dims are not preconditioned"),
        Param::new(
            "no_preconditioning_for_layers_with_dim_gt",
            Kind::Int,
            "8192",
            Check::AtLeast(1),
            "tensors with a larger dimension are not preconditioned",
        ),
        Param::new("shape_interpretation", Kind::Bool, "true", Check::Any, "merge small dimensions first"),
        Param::new(
            "graft_type",
            Kind::Choice(&["NONE", "SGD", "ADAGRAD", "RMSPROP", "SQRTN"]),
            "\"SGD\"",
            Check::Any,
            "whose norm the update takes (layer-wise grafting)",
        ),
        Param::new("nesterov", Kind::Bool, "true", Check::Any, "Nesterov momentum"),
        Param::new("diagonal_eps", Kind::Num, "1e-10", Check::NonNeg, "ε of the AdaGrad / RMSProp grafts"),
        Param::new("matrix_eps", Kind::Num, "1e-6", Check::NonNeg, "statistics start at ε·I; ridge factor of the roots"),
        Param::new("use_svd", Kind::Bool, "false", Check::Any, "inverse roots by SVD instead of Schur–Newton"),
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
    FirstOrder::boxed(ScalableShampoo::<T>::new(ScalableShampooConfig::from_hyper(h), layout))
}

/// The grafts of `graft_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graft {
    None,
    Sgd,
    AdaGrad,
    RmsProp,
    SqrtN,
}

/// Hyperparameters of [`ScalableShampoo`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalableShampooConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub moving_average_for_momentum: bool,
    pub weight_decay: f64,
    pub decoupled_weight_decay: bool,
    pub decoupled_learning_rate: bool,
    pub inverse_exponent_override: usize,
    pub start_preconditioning_step: u64,
    pub preconditioning_compute_steps: u64,
    pub statistics_compute_steps: u64,
    pub block_size: usize,
    pub skip_preconditioning_rank_lt: usize,
    pub no_preconditioning_for_layers_with_dim_gt: usize,
    pub shape_interpretation: bool,
    pub graft_type: Graft,
    pub nesterov: bool,
    pub diagonal_eps: f64,
    pub matrix_eps: f64,
    pub use_svd: bool,
    pub maximize: bool,
}

impl ScalableShampooConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let int = |k: &str| h.int(k).max(0) as u64;
        ScalableShampooConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            moving_average_for_momentum: h.flag("moving_average_for_momentum"),
            weight_decay: h.num("weight_decay"),
            decoupled_weight_decay: h.flag("decoupled_weight_decay"),
            decoupled_learning_rate: h.flag("decoupled_learning_rate"),
            inverse_exponent_override: int("inverse_exponent_override") as usize,
            start_preconditioning_step: int("start_preconditioning_step"),
            preconditioning_compute_steps: int("preconditioning_compute_steps").max(1),
            statistics_compute_steps: int("statistics_compute_steps").max(1),
            block_size: int("block_size").max(1) as usize,
            skip_preconditioning_rank_lt: int("skip_preconditioning_rank_lt") as usize,
            no_preconditioning_for_layers_with_dim_gt: int("no_preconditioning_for_layers_with_dim_gt") as usize,
            shape_interpretation: h.flag("shape_interpretation"),
            graft_type: match h.choice("graft_type").unwrap_or("SGD") {
                "NONE" => Graft::None,
                "ADAGRAD" => Graft::AdaGrad,
                "RMSPROP" => Graft::RmsProp,
                "SQRTN" => Graft::SqrtN,
                _ => Graft::Sgd,
            },
            nesterov: h.flag("nesterov"),
            diagonal_eps: h.num("diagonal_eps"),
            matrix_eps: h.num("matrix_eps"),
            use_svd: h.flag("use_svd"),
            maximize: h.flag("maximize"),
        }
    }
}

/// pytorch-optimizer's `merge_small_dims` ([1] when everything merges into one dimension).
fn merge_small_dims(shape: &[usize], max_dim: usize) -> Vec<usize> {
    let mut merged = Vec::new();
    let mut product = 1;
    for &d in shape {
        product *= d;
        if product > max_dim {
            merged.push(product / d);
            product = d;
        }
    }
    merged.push(product);
    if merged.len() > 1 {
        merged
    } else {
        vec![1]
    }
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = (0..n).fold(0.0, |s, l| s + a[i * n + l] * b[l * n + j]);
        }
    }
    c
}

fn max_abs_diff_identity(m: &[f64], n: usize) -> f64 {
    let mut e = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let d = (m[i * n + j] - if i == j { 1.0 } else { 0.0 }).abs();
            e = if d > e || d.is_nan() { d } else { e };
        }
    }
    e
}

/// pytorch-optimizer's `power_iteration`: the largest eigenvalue of the n × n `g`, from a
/// normal start vector, 100 iterations.
fn power_iteration(g: &[f64], n: usize, src: &mut Source) -> f64 {
    let mut v: Vec<f64> = (0..n).map(|_| src.normal()).collect();
    let mv = |v: &[f64]| (0..n).map(|i| (0..n).fold(0.0, |s, j| s + g[i * n + j] * v[j])).collect::<Vec<f64>>();
    for _ in 0..100 {
        let mut w = mv(&v);
        let norm = w.iter().fold(0.0f64, |s, x| s + x * x).sqrt().max(f64::MIN_POSITIVE);
        w.iter_mut().for_each(|x| *x /= norm);
        v = w;
    }
    let w = mv(&v);
    v.iter().zip(&w).fold(0.0, |s, (a, b)| s + a * b).max(1e-16)
}

/// pytorch-optimizer's `compute_power_schur_newton`: (G + ridge)^(−1/p) by the coupled
/// Schur–Newton iteration (error tolerance 1e-3, at most 100 iterations, stopped when the
/// error grows by more than 1.2×).
fn schur_newton(g: &[f64], n: usize, p: usize, ridge_epsilon: f64, src: &mut Source) -> Vec<f64> {
    let pf = p as f64;
    if n == 1 {
        return vec![(g[0] + ridge_epsilon * g[0].max(1e-16)).powf(-1.0 / pf)];
    }
    let eye = |s: f64| {
        let mut m = vec![0.0; n * n];
        (0..n).for_each(|i| m[i * n + i] = s);
        m
    };
    let lambda = power_iteration(g, n, src);
    let shift = lambda * ridge_epsilon;
    let mat_g: Vec<f64> = (0..n * n).map(|e| g[e] + if e / n == e % n { shift } else { 0.0 }).collect();
    let z = (1.0 + pf) / (2.0 * mat_g.iter().fold(0.0f64, |s, x| s + x * x).sqrt());
    let mut root = eye(z.powf(1.0 / pf));
    let mut m: Vec<f64> = mat_g.iter().map(|x| x * z).collect();
    let alpha = -1.0 / pf;
    let mut prev = max_abs_diff_identity(&m, n);
    for _ in 0..100 {
        let mi: Vec<f64> = (0..n * n).map(|e| if e / n == e % n { 1.0 - alpha } else { 0.0 } + alpha * m[e]).collect();
        let new_root = matmul(&root, &mi, n);
        // matrix_power by repeated squaring, as torch
        let mut result: Option<Vec<f64>> = None;
        let (mut zpow, mut k) = (mi.clone(), p);
        while k > 0 {
            if k & 1 == 1 {
                result = Some(match result {
                    None => zpow.clone(),
                    Some(r) => matmul(&r, &zpow, n),
                });
            }
            k >>= 1;
            if k > 0 {
                zpow = matmul(&zpow, &zpow, n);
            }
        }
        let new_m = matmul(&result.unwrap_or_else(|| eye(1.0)), &m, n);
        let error = max_abs_diff_identity(&new_m, n);
        let diverged = error > prev * 1.2;
        if diverged || error <= 1e-3 {
            return if diverged { root } else { new_root };
        }
        root = new_root;
        m = new_m;
        prev = error;
    }
    root
}

/// One block of a tensor: where it is (start and size per dimension) and its statistics
/// and preconditioners, one per dimension.
struct Block {
    start: Vec<usize>,
    size: Vec<usize>,
    stats: Vec<Vec<f64>>,
    pre: Vec<Vec<f64>>,
}

/// One tensor's state.
struct TensorState<T> {
    offset: usize,
    len: usize,
    /// The transformed shape, and the blocks (empty: not preconditioned).
    shape: Vec<usize>,
    blocks: Vec<Block>,
    momentum: Vec<T>,
    graft_momentum: Vec<T>,
    graft_stats: Vec<T>,
}

fn plan<T: Real>(layout: &Layout, c: &ScalableShampooConfig) -> Vec<TensorState<T>> {
    layout
        .tensors
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            let shape = if c.shape_interpretation { merge_small_dims(&t.shape, c.block_size) } else { t.shape.clone() };
            let skip = t.shape.len() < c.skip_preconditioning_rank_lt
                || t.shape.iter().any(|&d| d > c.no_preconditioning_for_layers_with_dim_gt);
            let mut blocks = Vec::new();
            if shape.len() > 1 && !skip {
                // the splits of each dimension, then every combination (first dimension outermost)
                let splits: Vec<Vec<(usize, usize)>> = shape
                    .iter()
                    .map(|&d| {
                        if c.block_size >= d {
                            vec![(0, d)]
                        } else {
                            (0..d).step_by(c.block_size).map(|s| (s, c.block_size.min(d - s))).collect()
                        }
                    })
                    .collect();
                let mut combos: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
                for s in &splits {
                    combos = combos.iter().flat_map(|pre| s.iter().map(move |x| [pre.clone(), vec![*x]].concat())).collect();
                }
                for combo in combos {
                    let size: Vec<usize> = combo.iter().map(|x| x.1).collect();
                    let stats = size
                        .iter()
                        .map(|&d| {
                            let mut m = vec![0.0; d * d];
                            (0..d).for_each(|i| m[i * d + i] = c.matrix_eps);
                            m
                        })
                        .collect();
                    let pre = size
                        .iter()
                        .map(|&d| {
                            let mut m = vec![0.0; d * d];
                            (0..d).for_each(|i| m[i * d + i] = 1.0);
                            m
                        })
                        .collect();
                    blocks.push(Block { start: combo.iter().map(|x| x.0).collect(), size, stats, pre });
                }
            }
            let n = t.len();
            TensorState {
                offset: t.offset,
                len: n,
                shape,
                blocks,
                momentum: vec![T::zero(); n],
                graft_momentum: vec![T::zero(); n],
                graft_stats: vec![T::zero(); n],
            }
        })
        .collect()
}

/// Copies block `b` out of the row-major tensor `x` of shape `shape` (or back into it).
fn block_copy(x: &mut [f64], shape: &[usize], b: &Block, out: &mut [f64], back: bool) {
    let k = shape.len();
    let n: usize = b.size.iter().product();
    let mut idx = vec![0usize; k];
    for (e, o) in out[..n].iter_mut().enumerate() {
        // the block's multi-index of e, then the tensor's flat index
        let mut rest = e;
        for i in (0..k).rev() {
            idx[i] = rest % b.size[i];
            rest /= b.size[i];
        }
        let mut flat = 0;
        for i in 0..k {
            flat = flat * shape[i] + b.start[i] + idx[i];
        }
        if back {
            x[flat] = *o;
        } else {
            *o = x[flat];
        }
    }
}

/// ScalableShampoo's state.
pub struct ScalableShampoo<T: Real> {
    pub cfg: ScalableShampooConfig,
    layout: Layout,
    tensors: Vec<TensorState<T>>,
    step: u64,
    source: Source,
}

impl<T: Real> ScalableShampoo<T> {
    pub fn new(cfg: ScalableShampooConfig, layout: &Layout) -> Self {
        let tensors = plan(layout, &cfg);
        ScalableShampoo { cfg, layout: layout.clone(), tensors, step: 0, source: Source::new(0) }
    }
}

impl<T: Real> GradientRule<T> for ScalableShampoo<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        if self.layout.len() != params.len() {
            self.layout = Layout::flat(params.len());
            self.tensors = plan(&self.layout, &self.cfg);
        }
        self.step += 1;
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        let is_precondition_step = self.step >= c.start_preconditioning_step;
        let pcm = if c.decoupled_learning_rate { 1.0 } else { c.lr };
        let mom_mult = if c.decoupled_learning_rate { c.lr } else { 1.0 };
        let w = if c.moving_average_for_momentum { 1.0 - b1 } else { 1.0 };
        let w2 = if b2 == 1.0 { 1.0 } else { 1.0 - b2 };
        let (tb1, tb2, tw) = (T::of(b1), T::of(b2), T::of(w));
        for t in &mut self.tensors {
            let r = t.offset..t.offset + t.len;
            let p = &mut params[r.clone()];
            let g: Vec<T> = grad[r].iter().map(|&x| if c.maximize { -x } else { x }).collect();
            // the graft's statistics and direction
            match c.graft_type {
                Graft::AdaGrad => {
                    for (s, &x) in t.graft_stats.iter_mut().zip(&g) {
                        *s = ops::addcmul(*s, x, x, T::one());
                    }
                }
                Graft::RmsProp => {
                    for (s, &x) in t.graft_stats.iter_mut().zip(&g) {
                        *s = ops::addcmul(*s * tb2, x, x, T::of(1.0 - b2));
                    }
                }
                _ => {}
            }
            let de = T::of(c.diagonal_eps);
            let mut graft: Vec<T> = g
                .iter()
                .zip(&t.graft_stats)
                .map(|(&x, &s)| match c.graft_type {
                    Graft::AdaGrad | Graft::RmsProp => x / (s.sqrt() + de),
                    Graft::SqrtN => ops::sign(x),
                    _ => x,
                })
                .map(|x| x * T::of(pcm))
                .collect();
            // the preconditioner's statistics, roots and direction
            let preconditioned = !t.blocks.is_empty();
            let mut shampoo: Vec<T> = if preconditioned {
                let mut g64: Vec<f64> = g.iter().map(|x| x.f64()).collect();
                let k = t.shape.len();
                let order = if c.inverse_exponent_override > 0 { c.inverse_exponent_override } else { 2 * k };
                let mut out = vec![0.0; t.len];
                for b in &mut t.blocks {
                    let n: usize = b.size.iter().product();
                    let mut x = vec![0.0; n];
                    block_copy(&mut g64, &t.shape, b, &mut x, false);
                    if self.step.is_multiple_of(c.statistics_compute_steps) {
                        for i in 0..k {
                            let mut outer = vec![0.0; b.size[i] * b.size[i]];
                            super::shampoo::add_outer(&x, &b.size, i, &mut outer);
                            for (s, o) in b.stats[i].iter_mut().zip(&outer) {
                                *s = w2.mul_add(*o, *s * b2);
                            }
                        }
                    }
                    if self.step.is_multiple_of(c.preconditioning_compute_steps) {
                        for i in 0..k {
                            let d = b.size[i];
                            b.pre[i] = if c.use_svd {
                                inverse_root(&b.stats[i], d, order as f64)
                            } else {
                                schur_newton(&b.stats[i], d, order, c.matrix_eps, &mut self.source)
                            };
                        }
                    }
                    // G ×ᵢ Pᵢ contracting P's first index (tensordot over dim 0)
                    let mut tmp = vec![0.0; n];
                    for i in 0..k {
                        let d = b.size[i];
                        let pt: Vec<f64> = (0..d * d).map(|e| b.pre[i][(e % d) * d + e / d]).collect();
                        mode_product(&x, &b.size, i, &pt, &mut tmp);
                        std::mem::swap(&mut x, &mut tmp);
                    }
                    block_copy(&mut out, &t.shape, b, &mut x, true);
                }
                out.iter().map(|&x| T::of(x * pcm)).collect()
            } else {
                graft.clone()
            };
            if c.graft_type != Graft::None {
                let gn = super::linalg::norm(&graft);
                let sn = super::linalg::norm(&shampoo);
                let f = gn / (sn + T::of(1e-16));
                shampoo.iter_mut().for_each(|x| *x = *x * f);
            }
            if c.decoupled_weight_decay {
                if c.weight_decay != 0.0 {
                    let f = T::of(1.0 - c.weight_decay * c.lr);
                    p.iter_mut().for_each(|x| *x = *x * f);
                }
            } else if c.weight_decay > 0.0 {
                let wd = T::of(c.weight_decay);
                for ((gg, s), &x) in graft.iter_mut().zip(shampoo.iter_mut()).zip(p.iter()) {
                    *gg = ops::add_alpha(*gg, x, wd);
                    *s = ops::add_alpha(*s, x, wd);
                }
            }
            for (m, &s) in t.momentum.iter_mut().zip(&shampoo) {
                *m = if c.moving_average_for_momentum { ops::lerp(*m, s, tw) } else { *m * tb1 + s };
            }
            for (m, &gg) in t.graft_momentum.iter_mut().zip(&graft) {
                *m = ops::add_alpha(*m * tb1, gg, tw);
            }
            let neg = T::of(-mom_mult);
            for i in 0..t.len {
                let (mut u, wd_update) = if is_precondition_step {
                    (t.momentum[i], shampoo[i])
                } else {
                    (t.graft_momentum[i], graft[i])
                };
                if c.nesterov {
                    u = if c.moving_average_for_momentum { ops::lerp(u, wd_update, tw) } else { u * tb1 + wd_update };
                }
                p[i] = ops::add_alpha(p[i], u, neg);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
}
