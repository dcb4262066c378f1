//! `galore`: GaLore, Adam in a low-rank projection of each matrix gradient (Zhao et al.,
//! 2024, "GaLore: Memory-efficient LLM training by gradient low-rank projection"), as
//! pytorch-optimizer 4.1.0's `GaLore` with its `GaLoreProjector`.
//!
//! With `rank` set (the reference's parameter-group keys rank, update_proj_gap, scale and
//! projection_type), each 2-D tensor's gradient G (rows × cols) is projected:
//!
//! ```text
//! P = top-`rank` singular vectors of G (float32 SVD), at the first step and whenever
//!     t % update_proj_gap == 0;  "std": right ones (Vᵀ, rank × cols) if rows ≥ cols, else
//!     left ones (U, rows × rank); "reverse_std" the other way; "right", "left", "full"
//! R = G Pᵀ or Pᵀ G (the low-rank gradient)
//! m ← lerp(m, R, 1 − β₁);   v ← β₂·v + (1 − β₂)·R²      (kept across projector changes)
//! θ ← θ − (γ·√(1 − β₂ᵗ)/(1 − β₁ᵗ))·scale·back(m/(√v + ε));   θ ← θ·(1 − γλ)
//! ```
//!
//! where back(·) multiplies by P on the side it was projected. Every other tensor (and
//! every tensor without `rank`) takes that same Adam step unprojected.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, betas (0.9, 0.999), weight_decay λ = 0,
//! eps 1e-6, maximize false; rank None (no projection), update_proj_gap 50, scale 1,
//! projection_type "std" (GaLoreProjector's defaults when rank is given).
//!
//! **The SVD.** The reference takes it from LAPACK in float32; the signs of the singular
//! vectors are whatever LAPACK returns, and they matter once the projector changes (the
//! moments are not reset). optlab computes the vectors from the symmetric
//! eigendecomposition of the smaller Gram matrix (f64, rounded to f32 like the reference's);
//! its signs are its own. The golden tests replay the reference's projectors through
//! [`super::draws`].

use super::draws::Source;
use super::linalg::eigh;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

/// The projection types of `projection_type`.
pub(super) const PROJECTION_TYPES: &[&str] = &["std", "reverse_std", "right", "left", "full", "random"];

pub(super) const METHOD: Method = Method {
    name: "galore",
    title: "GaLore (Adam in a low-rank SVD projection of each matrix gradient) as pytorch-optimizer's GaLore",
    group: Group::Matrix,
    formula: "R = G Pᵀ (P: top-rank singular vectors, refreshed every gap steps);  Adam moments of R;  θ −= lr'·scale·(m/(√v+ε)) P",
    reference: "pytorch-optimizer 4.1.0 GaLore (with GaLoreProjector)",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "(β₁, β₂) of the moments"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "decoupled weight decay λ, after the step"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added to √v"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("rank", Kind::MaybeNum, "None", Check::Custom(rank_ok), "projection rank (None: no projection)"),
        Param::new("update_proj_gap", Kind::Int, "50", Check::AtLeast(1), "steps between projector updates"),
        Param::new("scale", Kind::Num, "1", Check::NonNeg, "multiplies the update projected back"),
        Param::new("projection_type", Kind::Choice(PROJECTION_TYPES), "\"std\"", Check::Any, "which singular vectors project"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

pub(super) fn rank_ok(v: &super::Value) -> Result<(), String> {
    match v {
        super::Value::None => Ok(()),
        super::Value::Num(x) if *x >= 1.0 && x.fract() == 0.0 => Ok(()),
        _ => Err(format!("rank must be None or a positive integer, got {v}")),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(GaLore::<T>::new(GaLoreConfig::from_hyper(h), layout))
}

/// The projection settings of a group (`rank` given).
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub rank: usize,
    pub update_proj_gap: u64,
    pub scale: f64,
    pub projection_type: &'static str,
}

impl Projection {
    /// From the keys rank, update_proj_gap, scale and projection_type (None without rank).
    pub fn from_hyper(h: &Hyper) -> Option<Projection> {
        let rank = h.maybe_num("rank")?;
        let kind = h.choice("projection_type").unwrap_or("std");
        let projection_type = PROJECTION_TYPES.iter().copied().find(|t| *t == kind).unwrap_or("std");
        Some(Projection {
            rank: rank.max(1.0) as usize,
            update_proj_gap: h.int("update_proj_gap").max(1) as u64,
            scale: h.num("scale"),
            projection_type,
        })
    }
}

/// Hyperparameters of [`GaLore`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct GaLoreConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
    pub projection: Option<Projection>,
}

impl GaLoreConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        GaLoreConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            projection: Projection::from_hyper(h),
        }
    }
}

/// `c = a·b` (a n × k, b k × m), f64, each entry summed over k in order.
fn mm(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            c[i * m + j] = (0..k).fold(0.0, |s, l| s + a[i * k + l] * b[l * m + j]);
        }
    }
    c
}

fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = a[i * m + j];
        }
    }
    t
}

/// The thin SVD's factors U (rows × k) and Vᵀ (k × cols), k = min(rows, cols), singular
/// values descending, from the eigendecomposition of the smaller Gram matrix (f64).
fn thin_svd(g: &[f64], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let k = rows.min(cols);
    let gt = transpose(g, rows, cols);
    let (mut u, mut vh) = (vec![0.0; rows * k], vec![0.0; k * cols]);
    if rows <= cols {
        let (vals, vecs) = eigh(&mm(g, &gt, rows, cols, rows), rows);
        for c in 0..k {
            let src = rows - 1 - c;
            let s = vals[src].max(0.0).sqrt();
            for i in 0..rows {
                u[i * k + c] = vecs[i * rows + src];
            }
            for j in 0..cols {
                let x: f64 = (0..rows).map(|i| u[i * k + c] * g[i * cols + j]).sum();
                vh[c * cols + j] = if s > 0.0 { x / s } else { 0.0 };
            }
        }
    } else {
        let (vals, vecs) = eigh(&mm(&gt, g, cols, rows, cols), cols);
        for c in 0..k {
            let src = cols - 1 - c;
            let s = vals[src].max(0.0).sqrt();
            for j in 0..cols {
                vh[c * cols + j] = vecs[j * cols + src];
            }
            for i in 0..rows {
                let x: f64 = (0..cols).map(|j| g[i * cols + j] * vh[c * cols + j]).sum();
                u[i * k + c] = if s > 0.0 { x / s } else { 0.0 };
            }
        }
    }
    (u, vh)
}

/// The matrices a projector holds: right (Vᵀ, r × cols), left (U, rows × r), or both.
#[derive(Clone, Debug)]
enum Ortho {
    Right(Vec<f64>, usize),
    Left(Vec<f64>, usize),
    Full(Vec<f64>, Vec<f64>, usize),
}

/// pytorch-optimizer's `GaLoreProjector` for one rows × cols matrix.
pub(super) struct Projector {
    pub p: Projection,
    rows: usize,
    cols: usize,
    ortho: Option<Ortho>,
    last_step: Option<u64>,
}

impl Projector {
    pub fn new(p: Projection, rows: usize, cols: usize) -> Self {
        Projector { p, rows, cols, ortho: None, last_step: None }
    }

    /// The shape of the low-rank gradient.
    pub fn low_shape(&self) -> (usize, usize) {
        let (rows, cols) = (self.rows, self.cols);
        let is_right = rows >= cols;
        match &self.ortho {
            Some(Ortho::Right(_, r)) => (rows, *r),
            Some(Ortho::Left(_, r)) => (*r, cols),
            Some(Ortho::Full(_, _, r)) => (*r, *r),
            None if is_right => (rows, self.p.rank),
            None => (self.p.rank, cols),
        }
    }

    fn orthogonal(&self, g: &[f64], side: &str, random: bool, src: &mut Source) -> Ortho {
        let (rows, cols) = (self.rows, self.cols);
        let (u, vh, r) = if random {
            let r = self.p.rank;
            let root = (r as f64).sqrt();
            let u: Vec<f64> = (0..rows * r).map(|_| src.normal() / root).collect();
            let vh: Vec<f64> = (0..r * cols).map(|_| src.normal() / root).collect();
            (u, vh, r)
        } else {
            let (u, vh) = thin_svd(g, rows, cols);
            let k = rows.min(cols);
            let r = self.p.rank.min(k);
            // the reference's SVD is float32
            let f = |x: &f64| *x as f32 as f64;
            let u: Vec<f64> = (0..rows).flat_map(|i| (0..r).map(move |c| (i, c))).map(|(i, c)| f(&u[i * k + c])).collect();
            let vh: Vec<f64> = vh[..r * cols].iter().map(f).collect();
            (u, vh, r)
        };
        match side {
            "right" => Ortho::Right(src.projector(vh), r),
            "left" => Ortho::Left(src.projector(u), r),
            _ => Ortho::Full(u, vh, r),
        }
    }

    /// `project`: refreshes the projector when due, then returns the low-rank gradient
    /// (row-major, shape [`low_shape`](Self::low_shape)).
    pub fn project(&mut self, g: &[f64], step: u64, random: bool, src: &mut Source) -> Vec<f64> {
        let (rows, cols) = (self.rows, self.cols);
        let is_right = rows >= cols;
        let due = self.ortho.is_none() || step.is_multiple_of(self.p.update_proj_gap);
        if due && self.last_step != Some(step) {
            let side = match self.p.projection_type {
                "std" | "random" => {
                    if is_right {
                        "right"
                    } else {
                        "left"
                    }
                }
                "reverse_std" => {
                    if is_right {
                        "left"
                    } else {
                        "right"
                    }
                }
                other => other,
            };
            self.ortho = Some(self.orthogonal(g, side, random, src));
            self.last_step = Some(step);
        }
        // every type projects with its right factor as G·Vᵀ and its left one as Uᵀ·G
        match self.ortho.as_ref().expect("set above") {
            Ortho::Full(u, vh, r) => {
                let left = mm(&transpose(u, rows, *r), g, *r, rows, cols);
                mm(&left, &transpose(vh, *r, cols), *r, cols, *r)
            }
            Ortho::Right(vh, r) => mm(g, &transpose(vh, *r, cols), rows, cols, *r),
            Ortho::Left(u, r) => mm(&transpose(u, rows, *r), g, *r, rows, cols),
        }
    }

    /// `project_back`: the low-rank `x` (shape `low`) back to rows × cols, times scale.
    pub fn project_back(&self, x: &[f64], low: (usize, usize)) -> Vec<f64> {
        let (lr, lc) = low;
        let mut out = match self.ortho.as_ref().expect("projected first") {
            Ortho::Full(u, vh, r) => {
                let left = mm(u, x, self.rows, *r, lc);
                mm(&left, vh, self.rows, *r, self.cols)
            }
            Ortho::Right(m, r) => self.back_one(m, (*r, self.cols), x, (lr, lc)),
            Ortho::Left(m, r) => self.back_one(m, (self.rows, *r), x, (lr, lc)),
        };
        out.iter_mut().for_each(|v| *v *= self.p.scale);
        out
    }

    /// x·P or P·x, as the reference decides from the shapes.
    fn back_one(&self, m: &[f64], (mr, mc): (usize, usize), x: &[f64], (lr, lc): (usize, usize)) -> Vec<f64> {
        let x_times_p = match self.p.projection_type {
            "right" => true,
            "left" => false,
            "reverse_std" => lr != mc,
            _ => lc == mr,
        };
        if x_times_p {
            mm(x, m, lr, lc, mc)
        } else {
            mm(m, x, mr, mc, lc)
        }
    }
}

/// One tensor's state: its moments (low-rank when projected) and projector.
struct TensorState<T> {
    offset: usize,
    len: usize,
    matrix: Option<(usize, usize)>,
    projector: Option<Projector>,
    m: Vec<T>,
    v: Vec<T>,
}

/// GaLore's state.
pub struct GaLore<T: Real> {
    pub cfg: GaLoreConfig,
    layout: Layout,
    tensors: Vec<TensorState<T>>,
    step: u64,
    source: Source,
}

/// The tensors of a layout, with the 2-D ones (exactly two dims, as the reference's
/// `p.dim() == 2`) marked as matrices.
fn plan<T: Real>(layout: &Layout) -> Vec<TensorState<T>> {
    layout
        .tensors
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| TensorState {
            offset: t.offset,
            len: t.len(),
            matrix: (t.shape.len() == 2).then(|| (t.shape[0], t.shape[1])),
            projector: None,
            m: Vec::new(),
            v: Vec::new(),
        })
        .collect()
}

impl<T: Real> GaLore<T> {
    pub fn new(cfg: GaLoreConfig, layout: &Layout) -> Self {
        GaLore { cfg, layout: layout.clone(), tensors: plan(layout), step: 0, source: Source::new(0) }
    }
}

impl<T: Real> GradientRule<T> for GaLore<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        if self.layout.len() != params.len() {
            self.layout = Layout::flat(params.len());
            self.tensors = plan(&self.layout);
        }
        self.step += 1;
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        let bc1 = 1.0 - b1.powi(self.step as i32);
        let bc2_sqrt = (1.0 - b2.powi(self.step as i32)).sqrt();
        let step_size = c.lr * bc2_sqrt / bc1;
        let (w1, beta2, w2, eps) = (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(c.eps));
        let decay = T::of(1.0 - c.weight_decay * c.lr);
        for t in &mut self.tensors {
            let r = t.offset..t.offset + t.len;
            let g: Vec<T> = grad[r.clone()].iter().map(|&x| if c.maximize { -x } else { x }).collect();
            let p = &mut params[r];
            let projected = match (&c.projection, t.matrix) {
                (Some(pr), Some((rows, cols))) => {
                    let proj = t.projector.get_or_insert_with(|| Projector::new(pr.clone(), rows, cols));
                    let g64: Vec<f64> = g.iter().map(|x| x.f64()).collect();
                    let low = proj.project(&g64, self.step, false, &mut self.source);
                    Some((low.iter().map(|&x| T::of(x)).collect::<Vec<T>>(), proj.low_shape()))
                }
                _ => None,
            };
            let low = projected.as_ref().map_or(&g, |(l, _)| l);
            ensure_len(&mut t.m, low.len(), T::zero());
            ensure_len(&mut t.v, low.len(), T::zero());
            let mut norm_grad: Vec<T> = Vec::with_capacity(low.len());
            for ((m, v), &x) in t.m.iter_mut().zip(t.v.iter_mut()).zip(low.iter()) {
                *m = ops::lerp(*m, x, w1);
                *v = ops::addcmul(*v * beta2, x, x, w2);
                norm_grad.push(*m / (v.sqrt() + eps));
            }
            let update: Vec<T> = match (&projected, &t.projector) {
                (Some((_, shape)), Some(proj)) => {
                    let x: Vec<f64> = norm_grad.iter().map(|x| x.f64()).collect();
                    proj.project_back(&x, *shape).into_iter().map(T::of).collect()
                }
                _ => norm_grad,
            };
            let neg = T::of(-step_size);
            for (p, &u) in p.iter_mut().zip(&update) {
                *p = ops::add_alpha(*p, u, neg);
            }
            if c.weight_decay != 0.0 {
                p.iter_mut().for_each(|x| *x = *x * decay);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thin_svd_reconstructs_the_matrix() {
        let g = [3.0, 1.0, -2.0, 0.5, 4.0, 1.5];
        for (rows, cols) in [(2, 3), (3, 2)] {
            let (u, vh) = thin_svd(&g, rows, cols);
            let k = rows.min(cols);
            // G = U Uᵀ G when U spans the column space (k = rows) or G Vᵀᵀ V likewise
            let back = if rows <= cols {
                mm(&u, &mm(&transpose(&u, rows, k), &g, k, rows, cols), rows, k, cols)
            } else {
                mm(&mm(&g, &transpose(&vh, k, cols), rows, cols, k), &vh, rows, k, cols)
            };
            for (a, b) in back.iter().zip(&g) {
                assert!((a - b).abs() < 1e-12, "{rows}×{cols}: {back:?}");
            }
        }
    }
}
