//! `soap`: SOAP, Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al., 2024), as
//! pytorch-optimizer 4.1.0's `SOAP`, tensor by tensor.
//!
//! For a matrix gradient G (each dimension of size ≤ max_precondition_dim is preconditioned;
//! higher tensors likewise dimension by dimension, vectors only with `precondition_1d`):
//!
//! ```text
//! L ← β_s·L + (1 − β_s)·G Gᵀ,   R ← β_s·R + (1 − β_s)·Gᵀ G        (after each step)
//! Q_L, Q_R: eigenvectors of L, R (descending) on the first step, then every
//!           precondition_frequency steps one power-iteration step: Q ← qr(L·Q) (columns
//!           sorted by estimated eigenvalue, v permuted alike; QR in float32 as the reference)
//! G' = Q_Lᵀ G Q_R                                   (rotate into the eigenbasis)
//! m_t = β₁·m_{t−1} + (1 − β₁)·G                    (kept in the original basis)
//! v_t = β₂·v_{t−1} + (1 − β₂)·G'²                  (kept in the eigenbasis)
//! N   = Q_L · ((Q_Lᵀ m_t Q_R)/(√v_t + ε)) · Q_Rᵀ   (/ (rms(N) + ε) with normalize_gradient)
//! θ_t = θ_{t−1} − γ·√(1 − β₂ᵏ)/(1 − β₁ᵏ)·N,  then θ_t·(1 − γλ)   (k = t − 1)
//! ```
//!
//! The first step only gathers L and R and computes their eigenvectors: the parameters do
//! not move, and later steps count k = t − 1 (bias correction, precondition_frequency).
//! Defaults as in pytorch-optimizer: lr γ = 3e-3, betas (0.95, 0.95), shampoo_beta None
//! (= β₂), weight_decay λ = 0.01, precondition_frequency 10, max_precondition_dim 10000,
//! merge_dims false, precondition_1d false, correct_bias true, normalize_gradient false,
//! data_format "channels_first", eps 1e-8, maximize false.
//!
//! `merge_dims` merges consecutive small dimensions (up to max_precondition_dim) before
//! preconditioning (with "channels_last" a 4-D tensor is read as NHWC and permuted to NCHW
//! first). The reference fails with a reshape error when everything merges into a single
//! dimension; here that dimension is the whole tensor.
//!
//! Eigenvectors of repeated eigenvalues (e.g. the null space of a rank-deficient L on the
//! first step) are any orthonormal basis of their space, in optlab as in LAPACK; SOAP's
//! update depends on that choice, so runs agree with the reference only where the
//! eigenvalues are distinct (always in the 2-D lab).

use super::linalg::{eigh, matmul, qr_q_f32};
use super::registry::no_rules;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "soap",
    title: "SOAP (Adam in Shampoo's eigenbasis) as pytorch-optimizer's SOAP",
    group: Group::Matrix,
    formula: "G' = Q_Lᵀ G Q_R;  m = β₁m + (1−β₁)G;  v = β₂v + (1−β₂)G'²;  θ = θ − lr·Q_L (Q_Lᵀ m Q_R / (√v + ε)) Q_Rᵀ",
    reference: "pytorch-optimizer 4.1.0 SOAP",
    params: &[
        Param::new("lr", Kind::Num, "0.003", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.95, 0.95)", Check::Unit, "decay rates (β₁, β₂) of the moments, each in [0, 1)"),
        Param::new("shampoo_beta", Kind::MaybeNum, "None", Check::NonNeg, "decay rate of the preconditioner statistics (None: β₂)"),
        Param::new("weight_decay", Kind::Num, "0.01", Check::NonNeg, "decoupled weight decay λ, θ·(1 − lr·λ) after the step"),
        Param::new("precondition_frequency", Kind::Int, "10", Check::AtLeast(1), "steps between eigenbasis updates"),
        Param::new("max_precondition_dim", Kind::Int, "10000", Check::AtLeast(1), "larger dimensions are not preconditioned"),
        Param::new("merge_dims", Kind::Bool, "false", Check::Any, "merge consecutive small dimensions first"),
        Param::new("precondition_1d", Kind::Bool, "false", Check::Any, "precondition vectors too"),
        Param::new("correct_bias", Kind::Bool, "true", Check::Any, "Adam's bias correction of the step size"),
        Param::new("normalize_gradient", Kind::Bool, "false", Check::Any, "divide the update by its RMS"),
        Param::new(
            "data_format",
            Kind::Choice(&["channels_first", "channels_last"]),
            "\"channels_first\"",
            Check::Any,
            "layout of 4-D tensors when merging dimensions",
        ),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Soap::<T>::new(SoapConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Soap`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SoapConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub shampoo_beta: Option<f64>,
    pub weight_decay: f64,
    pub precondition_frequency: u64,
    pub max_precondition_dim: usize,
    pub merge_dims: bool,
    pub precondition_1d: bool,
    pub correct_bias: bool,
    pub normalize_gradient: bool,
    pub channels_last: bool,
    pub eps: f64,
    pub maximize: bool,
}

impl SoapConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        SoapConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            shampoo_beta: h.maybe_num("shampoo_beta"),
            weight_decay: h.num("weight_decay"),
            precondition_frequency: h.int("precondition_frequency").max(1) as u64,
            max_precondition_dim: h.int("max_precondition_dim").max(1) as usize,
            merge_dims: h.flag("merge_dims"),
            precondition_1d: h.flag("precondition_1d"),
            correct_bias: h.flag("correct_bias"),
            normalize_gradient: h.flag("normalize_gradient"),
            channels_last: h.choice("data_format") == Some("channels_last"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }
}

/// pytorch-optimizer's `merge_small_dims`: consecutive dimensions are multiplied together
/// while the product stays ≤ `max_dim`. (The reference returns `[1]` when everything
/// merges into one dimension, which no tensor of more than one element can be reshaped to;
/// that dimension is kept whole here.)
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
    merged
}

/// One tensor's preconditioner: its working dimensions and, per dimension, the statistics
/// and the eigenbasis (`None`: not preconditioned, the identity).
struct Tensor<T> {
    offset: usize,
    dims: Vec<usize>,
    /// Working (permuted) order → index within the tensor, for channels-last merging.
    perm: Option<Vec<usize>>,
    gg: Vec<Option<Vec<T>>>,
    q: Vec<Option<Vec<T>>>,
    /// The eigenbases have been computed (the reference's `Q is not None`).
    ready: bool,
}

impl<T: Real> Tensor<T> {
    fn new(offset: usize, shape: &[usize], c: &SoapConfig) -> Self {
        let len: usize = shape.iter().product();
        let max = c.max_precondition_dim;
        let (dims, perm) = if shape.len() <= 1 {
            (vec![len], None)
        } else if c.merge_dims {
            let (shape, perm) = if c.channels_last && shape.len() == 4 {
                // read [a, b, c, d] as NHWC and work on the NCHW permutation [a, d, b, c]
                let [a, b, cc, d] = [shape[0], shape[1], shape[2], shape[3]];
                let mut perm = Vec::with_capacity(len);
                for i in 0..a {
                    for l in 0..d {
                        for j in 0..b {
                            for k in 0..cc {
                                perm.push(((i * b + j) * cc + k) * d + l);
                            }
                        }
                    }
                }
                (vec![a, d, b, cc], Some(perm))
            } else {
                (shape.to_vec(), None)
            };
            let merged = merge_small_dims(&shape, max);
            (if merged.len() > 1 { merged } else { vec![len] }, perm)
        } else {
            (shape.to_vec(), None)
        };
        let gg: Vec<Option<Vec<T>>> = if shape.len() <= 1 {
            vec![(c.precondition_1d && len <= max).then(|| vec![T::zero(); len * len])]
        } else {
            dims.iter().map(|&d| (d <= max).then(|| vec![T::zero(); d * d])).collect()
        };
        let q = vec![None; gg.len()];
        Tensor { offset, dims, perm, gg, q, ready: false }
    }

    fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Copies this tensor out of the flat buffer `src` into working order.
    fn gather(&self, src: &[T], dst: &mut [T]) {
        let src = &src[self.offset..self.offset + self.len()];
        match &self.perm {
            None => dst[..src.len()].copy_from_slice(src),
            Some(p) => {
                for (d, &i) in dst.iter_mut().zip(p) {
                    *d = src[i];
                }
            }
        }
    }

    /// Copies working order `src` back into this tensor's place in the flat buffer `dst`.
    fn scatter(&self, src: &[T], dst: &mut [T]) {
        let dst = &mut dst[self.offset..self.offset + self.len()];
        match &self.perm {
            None => dst.copy_from_slice(&src[..dst.len()]),
            Some(p) => {
                for (&s, &i) in src.iter().zip(p) {
                    dst[i] = s;
                }
            }
        }
    }

    /// `project`: `x` (working order) rotated by every basis, forward (Qᵀ·) or backward
    /// (Q·), as the reference's chain of `tensordot`s; `tmp` and `qt` are scratch.
    fn project(&self, x: &mut Vec<T>, tmp: &mut Vec<T>, qt: &mut Vec<T>, backward: bool) {
        let n = self.len();
        for (q, &d) in self.q.iter().zip(&self.dims) {
            let m: Option<&[T]> = match q {
                None => None,
                Some(q) if !backward => Some(q),
                Some(q) => {
                    // backward contracts with Q's second index: use Qᵀ
                    ensure_len(qt, d * d, T::zero());
                    for i in 0..d {
                        for j in 0..d {
                            qt[j * d + i] = q[i * d + j];
                        }
                    }
                    Some(qt)
                }
            };
            mode_product(&x[..n], d, m, &mut tmp[..n]);
            std::mem::swap(x, tmp);
        }
    }

    /// `update_pre_conditioner`: folds the outer products of `g` (working order) into the
    /// statistics, sets the first eigenbases, and every precondition_frequency steps
    /// refreshes them by power iteration (permuting `v`, the flat second moment, alike).
    fn update_preconditioner(&mut self, g: &[T], step: u64, c: &SoapConfig, v: &mut [T], scratch: &mut Scratch<T>) {
        let w = T::of(1.0 - c.shampoo_beta.unwrap_or(c.betas.1));
        for k in 0..self.dims.len() {
            let d = self.dims[k];
            let pre: usize = self.dims[..k].iter().product();
            let post: usize = self.dims[k + 1..].iter().product();
            let Some(gg) = self.gg[k].as_mut() else { continue };
            // tensordot over every other index: Σ over (pre, post) in order of g[.., a, ..]·g[.., b, ..]
            let outer = &mut scratch.outer;
            outer.clear();
            outer.resize(d * d, T::zero());
            for p in 0..pre {
                let block = &g[p * d * post..(p + 1) * d * post];
                for q in 0..post {
                    for a in 0..d {
                        let ga = block[a * post + q];
                        let row = &mut outer[a * d..(a + 1) * d];
                        for b in a..d {
                            row[b] = row[b] + ga * block[b * post + q];
                        }
                    }
                }
            }
            for a in 0..d {
                for b in a..d {
                    let s = outer[a * d + b];
                    // GG stays exactly symmetric: both halves see the same values
                    let new = ops::lerp(gg[a * d + b], s, w);
                    gg[a * d + b] = new;
                    gg[b * d + a] = new;
                }
            }
        }
        if !self.ready {
            self.q = self.gg.iter().zip(&self.dims).map(|(gg, &d)| gg.as_ref().map(|m| eigenbasis(m, d))).collect();
            self.ready = true;
        }
        if step > 0 && step.is_multiple_of(c.precondition_frequency) {
            self.power_iteration(v, &mut scratch.tmp);
        }
    }

    /// `get_orthogonal_matrix_qr`: one power-iteration step Q ← qr(GG·Q) per dimension, the
    /// columns sorted by descending estimated eigenvalue, with `v` permuted alike.
    fn power_iteration(&mut self, v: &mut [T], tmp: &mut [Vec<T>; 2]) {
        let n = self.len();
        let [vw, sorted] = tmp;
        self.gather(v, vw);
        for k in 0..self.dims.len() {
            let (Some(gg), Some(q)) = (&self.gg[k], &mut self.q[k]) else { continue };
            let d = self.dims[k];
            let mut mp = vec![T::zero(); d * d];
            matmul(gg, q, &mut mp, d, d, d);
            let est: Vec<T> = (0..d).map(|j| (0..d).fold(T::zero(), |s, i| s + q[i * d + j] * mp[i * d + j])).collect();
            let mut order: Vec<usize> = (0..d).collect();
            order.sort_by(|&i, &j| est[j].partial_cmp(&est[i]).unwrap_or(std::cmp::Ordering::Equal));
            // v ← v.index_select(k, order)
            let pre: usize = self.dims[..k].iter().product();
            let post: usize = self.dims[k + 1..].iter().product();
            for p in 0..pre {
                for (dst, &src) in order.iter().enumerate() {
                    let (to, from) = ((p * d + dst) * post, (p * d + src) * post);
                    sorted[to..to + post].copy_from_slice(&vw[from..from + post]);
                }
            }
            vw[..n].copy_from_slice(&sorted[..n]);
            // the reference runs the QR in float32
            let power: Vec<f32> = (0..d * d).map(|e| mp[(e / d) * d + order[e % d]].f64() as f32).collect();
            for (qe, x) in q.iter_mut().zip(qr_q_f32(&power, d)) {
                *qe = T::of(x as f64);
            }
        }
        self.scatter(vw, v);
    }
}

/// `torch.tensordot(x, M, dims=[[0], [0]])` for x of shape [a, rest] (row-major): out
/// [rest, b] with out[r, j] = Σᵢ x[i, r]·M[i, j], summed over i in order; without a
/// matrix the first axis moves to the end.
fn mode_product<T: Real>(x: &[T], a: usize, m: Option<&[T]>, out: &mut [T]) {
    let rest = x.len() / a.max(1);
    match m {
        None => {
            for i in 0..a {
                for r in 0..rest {
                    out[r * a + i] = x[i * rest + r];
                }
            }
        }
        Some(m) => {
            let b = m.len() / a.max(1);
            out[..rest * b].fill(T::zero());
            for i in 0..a {
                let mrow = &m[i * b..(i + 1) * b];
                for r in 0..rest {
                    let xi = x[i * rest + r];
                    for (o, &mij) in out[r * b..(r + 1) * b].iter_mut().zip(mrow) {
                        *o = *o + xi * mij;
                    }
                }
            }
        }
    }
}

/// `get_orthogonal_matrix`: the eigenvectors of GG + 1e-30·I, by descending eigenvalue.
fn eigenbasis<T: Real>(gg: &[T], d: usize) -> Vec<T> {
    let tiny = T::of(1e-30);
    let a: Vec<f64> = (0..d * d).map(|e| if e / d == e % d { gg[e] + tiny } else { gg[e] }.f64()).collect();
    let (_, vecs) = eigh(&a, d);
    (0..d * d).map(|e| T::of(vecs[(e / d) * d + (d - 1 - e % d)])).collect()
}

/// SOAP state: the step count, the moments (m in the original basis, v in the eigenbasis,
/// both in the tensors' own layout) and the preconditioners.
pub struct Soap<T> {
    pub cfg: SoapConfig,
    step: u64,
    tensors: Vec<Tensor<T>>,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    /// Scratch: the step's gradient and a result (flat), one tensor's gradient in working order, the
    /// vector being projected, two more buffers and a transposed basis.
    g: Vec<T>,
    flat: Vec<T>,
    gw: Vec<T>,
    x: Vec<T>,
    scratch: Scratch<T>,
    qt: Vec<T>,
}

/// Scratch buffers of the preconditioner update: two tensor-sized vectors and one
/// statistics-sized matrix.
#[derive(Default)]
struct Scratch<T> {
    tmp: [Vec<T>; 2],
    outer: Vec<T>,
}

impl<T: Real> Soap<T> {
    pub fn new(cfg: SoapConfig, layout: &Layout) -> Self {
        let tensors = layout.tensors.iter().map(|t| Tensor::new(t.offset, &t.shape, &cfg)).collect();
        Soap {
            cfg,
            step: 0,
            tensors,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            g: Vec::new(),
            flat: Vec::new(),
            gw: Vec::new(),
            x: Vec::new(),
            scratch: Scratch { tmp: Default::default(), outer: Vec::new() },
            qt: Vec::new(),
        }
    }
}

impl<T: Real> GradientRule<T> for Soap<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        let first = self.exp_avg.len() != n;
        ensure_len(&mut self.exp_avg, n, T::zero());
        ensure_len(&mut self.exp_avg_sq, n, T::zero());
        ensure_len(&mut self.g, n, T::zero());
        ensure_len(&mut self.flat, n, T::zero());
        let widest = self.tensors.iter().map(|t| t.len()).max().unwrap_or(0);
        let [t0, t1] = &mut self.scratch.tmp;
        for w in [&mut self.gw, &mut self.x, t0, t1] {
            ensure_len(w, widest, T::zero());
        }
        self.step += 1;
        let c = &self.cfg;
        if first {
            // the first step only gathers statistics and sets the eigenbases
            for t in self.tensors.iter_mut() {
                t.gather(grad, &mut self.gw);
                t.update_preconditioner(&self.gw, 0, c, &mut self.exp_avg_sq, &mut self.scratch);
            }
            return;
        }
        let k = self.step - 1;
        let (b1, b2) = c.betas;
        let mut step_size = c.lr;
        if c.correct_bias {
            let bc1 = 1.0 - b1.powf(k as f64);
            let bc2_sqrt = (1.0 - b2.powf(k as f64)).sqrt();
            step_size *= bc2_sqrt / bc1;
        }
        let (w1, w2, eps, neg_step) = (T::of(1.0 - b1), T::of(1.0 - b2), T::of(c.eps), T::of(-step_size));
        let decay = (c.weight_decay != 0.0).then(|| T::of(1.0 - c.weight_decay * c.lr));
        for (gi, &g) in self.g.iter_mut().zip(grad) {
            *gi = if c.maximize { -g } else { g };
        }
        for t in self.tensors.iter_mut() {
            let (r, len) = (t.offset..t.offset + t.len(), t.len());
            // G' = Q_Lᵀ G Q_R, then v ← lerp(v, G'², 1 − β₂) in the tensor's layout
            t.gather(&self.g, &mut self.gw);
            self.x[..len].copy_from_slice(&self.gw[..len]);
            t.project(&mut self.x, &mut self.scratch.tmp[0], &mut self.qt, false);
            t.scatter(&self.x, &mut self.flat);
            for (vi, &gp) in self.exp_avg_sq[r.clone()].iter_mut().zip(&self.flat[r.clone()]) {
                *vi = ops::lerp(*vi, gp * gp, w2);
            }
            for (mi, &gi) in self.exp_avg[r.clone()].iter_mut().zip(&self.g[r.clone()]) {
                *mi = ops::lerp(*mi, gi, w1);
            }
            // N = Q_L (Q_Lᵀ m Q_R / (√v + ε)) Q_Rᵀ
            t.gather(&self.exp_avg, &mut self.x);
            t.project(&mut self.x, &mut self.scratch.tmp[0], &mut self.qt, false);
            t.gather(&self.exp_avg_sq, &mut self.scratch.tmp[1]);
            for (x, &vi) in self.x[..len].iter_mut().zip(&self.scratch.tmp[1][..len]) {
                *x = *x / (vi.sqrt() + eps);
            }
            t.project(&mut self.x, &mut self.scratch.tmp[0], &mut self.qt, true);
            t.scatter(&self.x, &mut self.flat);
            let upd = &mut self.flat[r.clone()];
            if c.normalize_gradient {
                let ms = upd.iter().fold(0.0f64, |s, &x| s + (x * x).f64()) / len as f64;
                let rms = T::of(ms).sqrt() + eps;
                for x in upd.iter_mut() {
                    *x = *x / rms;
                }
            }
            for (p, &u) in params[r].iter_mut().zip(upd.iter()) {
                *p = ops::add_alpha(*p, u, neg_step);
                if let Some(s) = decay {
                    *p = *p * s;
                }
            }
            t.update_preconditioner(&self.gw, k, c, &mut self.exp_avg_sq, &mut self.scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_small_dims_as_the_reference() {
        assert_eq!(merge_small_dims(&[1, 2, 512, 1, 2048, 1, 3, 4], 1024), vec![1024, 2048, 12]);
        assert_eq!(merge_small_dims(&[1, 2, 768, 1, 2048], 1024), vec![2, 768, 2048]);
        assert_eq!(merge_small_dims(&[16, 1, 3, 3], 10000), vec![144]);
    }
}
