//! `came`: CAME, confidence-guided adaptive memory-efficient optimization (Luo et al., 2023),
//! as `pytorch_optimizer.CAME` (pytorch-optimizer 4.1.0).
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), per tensor; matrices (the last two
//! dimensions of tensors with ndim ≥ 2) keep factored row and column statistics as
//! Adafactor does, vectors full ones:
//!
//! ```text
//! V_t = β₂·V_{t−1} + (1 − β₂)·(g_t² + ε₁)          (factored: row and column means)
//! u_t = g_t/√V_t                                   (factored: g·rsqrt(R/mean(R))·rsqrt(C))
//! u_t ← u_t / max(1, RMS(u_t)/d)                   (d = clip_threshold)
//! m_t = β₁·m_{t−1} + (1 − β₁)·u_t
//! vectors:   θ_t = θ_{t−1} − γ·m_t
//! matrices:  U_t = β₃·U_{t−1} + (1 − β₃)·((u_t − m_t)² + ε₂)   (factored confidence)
//!            θ_t = θ_{t−1} − γ·m_t·rsqrt(U_r/mean(U_r))·rsqrt(U_c)
//! ```
//!
//! Decoupled decay θ·(1 − γλ) (or θ·(1 − λ) with `fixed_decay`) is applied before the step;
//! with `weight_decouple=false` the reference adds λθ to a gradient no longer read, so
//! coupled decay has no effect, as there. `ams_bound`: the running maximum of 1/u_t² (after
//! the square-root step) replaces the second moment, divided by β₂.
//!
//! Defaults as in pytorch-optimizer: lr γ = 2e-4, betas (0.9, 0.999, 0.9999), weight_decay 0,
//! weight_decouple true, fixed_decay false, clip_threshold 1, ams_bound false, eps1 1e-30,
//! eps2 1e-16, maximize false.

use super::linalg::norm;
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param,
    Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "came",
    title: "CAME (Adafactor with a confidence-scaled momentum) as pytorch_optimizer.CAME",
    group: Group::Adaptive,
    formula: "u = g/√(β₂V + (1−β₂)(g²+ε₁)), clipped to RMS d;  m = β₁m + (1−β₁)u;  θ = θ − lr·m·rsqrt(U) (U: factored EMA of (u−m)²)",
    reference: "pytorch-optimizer 4.1.0 CAME",
    params: &[
        Param::new("lr", Kind::Num, "2e-4", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(3), "(0.9, 0.999, 0.9999)", Check::Unit, "(β₁ momentum, β₂ second moment, β₃ confidence), each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − lr·λ)"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("clip_threshold", Kind::Num, "1", Check::Positive, "the largest RMS d of the normalised update"),
        Param::new("ams_bound", Kind::Bool, "false", Check::Any, "use the running maximum of the second moment"),
        Param::new("eps1", Kind::Num, "1e-30", Check::NonNeg, "added to g² (second moment)"),
        Param::new("eps2", Kind::Num, "1e-16", Check::NonNeg, "added to (u − m)² (confidence)"),
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
    FirstOrder::boxed(Came::<T>::new(CameConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`Came`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct CameConfig {
    pub lr: f64,
    pub betas: (f64, f64, f64),
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub clip_threshold: f64,
    pub ams_bound: bool,
    pub eps1: f64,
    pub eps2: f64,
    pub maximize: bool,
}

impl CameConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let b = h.nums("betas");
        CameConfig {
            lr: h.num("lr"),
            betas: (b[0], b[1], b[2]),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            clip_threshold: h.num("clip_threshold"),
            ams_bound: h.flag("ams_bound"),
            eps1: h.num("eps1"),
            eps2: h.num("eps2"),
            maximize: h.flag("maximize"),
        }
    }
}

/// How CAME sees one tensor: `batch` matrices of `rows`×`cols` (factored), or a vector.
#[derive(Clone, Copy, Debug)]
struct Block {
    start: usize,
    len: usize,
    /// (batch, rows, cols) for tensors with ndim ≥ 2.
    factored: Option<(usize, usize, usize)>,
}

/// CAME state: the momentum, the second moment (full for vectors, row and column means for
/// matrices), the factored confidence, and scratch.
pub struct Came<T> {
    pub cfg: CameConfig,
    blocks: Vec<Block>,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    exp_avg_sq_hat: Vec<T>,
    /// Per tensor: the factored statistics, row means then column means.
    sq_row: Vec<Vec<T>>,
    sq_col: Vec<Vec<T>>,
    res_row: Vec<Vec<T>>,
    res_col: Vec<Vec<T>>,
    update: Vec<T>,
    g: Vec<T>,
}

impl<T: Real> Came<T> {
    pub fn new(cfg: CameConfig, layout: Layout) -> Self {
        let blocks = layout
            .tensors
            .iter()
            .map(|t| {
                let s = &t.shape;
                let factored = (s.len() >= 2).then(|| {
                    let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
                    (s[..s.len() - 2].iter().product(), rows, cols)
                });
                Block { start: t.offset, len: t.len(), factored }
            })
            .collect();
        Came {
            cfg,
            blocks,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            exp_avg_sq_hat: Vec::new(),
            sq_row: Vec::new(),
            sq_col: Vec::new(),
            res_row: Vec::new(),
            res_col: Vec::new(),
            update: Vec::new(),
            g: Vec::new(),
        }
    }

    /// Sizes the state on the first step (one vector block if the layout does not fit).
    fn init(&mut self, n: usize) {
        let covered: usize = self.blocks.iter().map(|b| b.len).sum();
        if covered != n {
            self.blocks = vec![Block { start: 0, len: n, factored: None }];
        }
        for buf in [&mut self.exp_avg, &mut self.exp_avg_sq, &mut self.update, &mut self.g] {
            ensure_len(buf, n, T::zero());
        }
        if self.cfg.ams_bound {
            ensure_len(&mut self.exp_avg_sq_hat, n, T::zero());
        }
        if self.sq_row.len() != self.blocks.len() {
            let rows = |b: &Block| b.factored.map_or(0, |(k, r, _)| k * r);
            let cols = |b: &Block| b.factored.map_or(0, |(k, _, c)| k * c);
            self.sq_row = self.blocks.iter().map(|b| vec![T::zero(); rows(b)]).collect();
            self.res_row = self.sq_row.clone();
            self.sq_col = self.blocks.iter().map(|b| vec![T::zero(); cols(b)]).collect();
            self.res_col = self.sq_col.clone();
        }
    }
}

/// Updates the row and column means of `x` ([k, r, c]) into `row` ([k, r]) and `col` ([k, c])
/// as EMAs with weight `beta`, then writes rsqrt(row/mean(row))·rsqrt(col) into `out`.
fn factored_ema<T: Real>(x: &[T], row: &mut [T], col: &mut [T], dims: (usize, usize, usize), beta: f64, out: &mut [T]) {
    let (k, r, c) = dims;
    let (b, w) = (T::of(beta), T::of(1.0 - beta));
    let (rn, cn) = (T::of(c as f64), T::of(r as f64));
    for kk in 0..k {
        let m = &x[kk * r * c..(kk + 1) * r * c];
        for i in 0..r {
            let s = m[i * c..(i + 1) * c].iter().fold(T::zero(), |a, &v| a + v);
            let ri = &mut row[kk * r + i];
            *ri = ops::add_alpha(*ri * b, s / rn, w);
        }
        for j in 0..c {
            let s = (0..r).fold(T::zero(), |a, i| a + m[i * c + j]);
            let cj = &mut col[kk * c + j];
            *cj = ops::add_alpha(*cj * b, s / cn, w);
        }
        let rows = &row[kk * r..(kk + 1) * r];
        let row_mean = rows.iter().fold(T::zero(), |a, &v| a + v) / T::of(r as f64);
        let o = &mut out[kk * r * c..(kk + 1) * r * c];
        for i in 0..r {
            let rf = T::one() / (rows[i] / row_mean).sqrt();
            for j in 0..c {
                let cf = T::one() / col[kk * c + j].sqrt();
                o[i * c + j] = rf * cf;
            }
        }
    }
}

impl<T: Real> GradientRule<T> for Came<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        self.init(n);
        self.step += 1;
        let c = self.cfg.clone();
        let (beta1, beta2, beta3) = c.betas;
        let (b1, w1, b2, w2) = (T::of(beta1), T::of(1.0 - beta1), T::of(beta2), T::of(1.0 - beta2));
        let (eps1, eps2) = (T::of(c.eps1), T::of(c.eps2));
        for (gi, &g) in self.g.iter_mut().zip(grad) {
            *gi = if c.maximize { -g } else { g };
        }
        for (bi, blk) in self.blocks.clone().into_iter().enumerate() {
            let r = blk.start..blk.start + blk.len;
            let g = &self.g[r.clone()];
            let u = &mut self.update[r.clone()];
            for (ui, &gi) in u.iter_mut().zip(g) {
                *ui = gi * gi + eps1;
            }
            if let Some(dims) = blk.factored {
                let sq = u.to_vec();
                factored_ema(&sq, &mut self.sq_row[bi], &mut self.sq_col[bi], dims, beta2, u);
            } else {
                for (ui, v) in u.iter_mut().zip(self.exp_avg_sq[r.clone()].iter_mut()) {
                    *v = ops::add_alpha(*v * b2, *ui, w2);
                    *ui = T::one() / v.sqrt();
                }
            }
            if c.ams_bound {
                for (ui, h) in u.iter_mut().zip(self.exp_avg_sq_hat[r.clone()].iter_mut()) {
                    *h = ops::maximum(*h, T::one() / *ui);
                    *ui = T::one() / (*h / b2).sqrt();
                }
            }
            for (ui, &gi) in u.iter_mut().zip(g) {
                *ui = *ui * gi;
            }
            let rms = norm(u) / T::of((blk.len as f64).sqrt());
            let q = rms / T::of(c.clip_threshold);
            let q = if q < T::one() { T::one() } else { q };
            let m = &mut self.exp_avg[r.clone()];
            for (ui, mi) in u.iter_mut().zip(m.iter_mut()) {
                *ui = *ui / q;
                *mi = ops::add_alpha(*mi * b1, *ui, w1);
            }
            if let Some(dims) = blk.factored {
                let res: Vec<T> = u
                    .iter()
                    .zip(m.iter())
                    .map(|(&ui, &mi)| {
                        let d = ui - mi;
                        d * d + eps2
                    })
                    .collect();
                factored_ema(&res, &mut self.res_row[bi], &mut self.res_col[bi], dims, beta3, u);
                for (ui, &mi) in u.iter_mut().zip(m.iter()) {
                    *ui = *ui * mi;
                }
            } else {
                u.copy_from_slice(m);
            }
            let p = &mut params[r];
            if c.weight_decouple {
                let f = T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { c.lr });
                for pi in p.iter_mut() {
                    *pi = *pi * f;
                }
            }
            let lr = T::of(c.lr);
            for (pi, &ui) in p.iter_mut().zip(u.iter()) {
                *pi = *pi + -(ui * lr);
            }
        }
    }
}
