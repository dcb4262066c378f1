//! `muon`: Muon as `torch.optim.Muon` (Jordan et al., 2024, "Muon: An optimizer for hidden
//! layers in neural networks"), with a fallback optimizer for the tensors that are not
//! matrices.
//!
//! For each matrix parameter W (rows × cols), with G_t = ∇f(W_{t−1}):
//!
//! ```text
//! B_t = lerp(B_{t−1}, G_t, 1 − μ)                  (= μB + (1 − μ)G)
//! M_t = lerp(G_t, B_t, μ) if nesterov else B_t
//! X_0 = M_t / max(‖M_t‖_F, ε)                      (in bfloat16; transposed if rows > cols)
//! X_{k+1} = a·X_k + (b·A_k + c·A_k²)·X_k,   A_k = X_k X_kᵀ      (ns_steps times)
//! W_t = W_{t−1}·(1 − γλ) − γ'·X_K
//! γ' = γ·√max(1, rows/cols)  (adjust_lr_fn None / "original"),
//!      γ·0.2·√max(rows, cols) ("match_rms_adamw"),  γ·√(rows/cols) ("spectral_unclamped")
//! ```
//!
//! Defaults as in PyTorch: lr γ = 1e-3, weight_decay λ = 0.1, momentum μ = 0.95,
//! nesterov true, ns_coefficients (a, b, c) = (3.4445, −4.775, 2.0315), eps 1e-7,
//! ns_steps 5, adjust_lr_fn None.
//!
//! **bfloat16.** torch runs the Newton–Schulz iteration in bfloat16: the momentum is cast to
//! bfloat16, and the norm, the division, X Xᵀ, b·A + c·A², and a·X + B X are each rounded to
//! bfloat16 (round to nearest even, an f64 through f32 as torch converts: [`bf16`]). The
//! products are summed in f32 in the orders of torch's CPU kernels (the vectorised bfloat16
//! dot product for X Xᵀ, the generic gemm's four partial sums for the two `addmm`), which
//! reproduces torch bit for bit (checked on matrices up to 70 × 100 and on the seminar MLP
//! given torch's gradients); `newton_schulz.rs` computes them fast, vectorised across
//! output entries with those orders kept. A gradient that differs from torch's in the last
//! bit can still flip a bfloat16 rounding, which the iteration then amplifies.
//!
//! **Which tensors.** torch's Muon accepts 2-D parameters only and leaves the rest to another
//! optimizer. optlab takes every tensor with ≥ 2 dims (a conv kernel [o, i, kh, kw] as the
//! matrix [o, i·kh·kw], whose dims also set γ'), and runs every other tensor (biases) through
//! the `fallback` optimizer, an element-wise method given as a spec (default
//! `adamw(lr=1e-3)`), as a second parameter group: [`Optimizer::group`] 1 is the fallback's.
//! This is the mechanism of [`super::partition`] with two fixed groups: `muon(lr=γ,
//! fallback=F)` is `partition(matrices=muon(lr=γ), rest=F)`, and
//! `partition(hidden=muon(...), rest=...)` is the general form (groups by role, e.g. the
//! embedding and head left to AdamW as in modded-nanogpt, and any first-order method for the
//! rest).

use super::{
    ensure_len, ops, Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, OptimizerConfig, Param, Point, Real, Value,
};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "muon",
    title: "Muon (Newton–Schulz orthogonalised momentum) as torch.optim.Muon, with a fallback for non-matrices",
    group: Group::Matrix,
    formula: "B = μB + (1−μ)G;  M = lerp(G, B, μ) (nesterov);  O = NewtonSchulz_bf16(M);  W = W(1 − lr·λ) − lr'·O",
    reference: "torch.optim.Muon (non-matrix tensors: the fallback optimizer)",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("weight_decay", Kind::Num, "0.1", Check::NonNeg, "decoupled weight decay λ"),
        Param::new("momentum", Kind::Num, "0.95", Check::NonNeg, "momentum factor μ"),
        Param::new("nesterov", Kind::Bool, "true", Check::Any, "Nesterov momentum: orthogonalise lerp(G, B, μ) instead of B"),
        Param::new("ns_coefficients", Kind::Nums(3), "(3.4445, -4.775, 2.0315)", Check::Any, "Newton–Schulz coefficients (a, b, c)"),
        Param::new("eps", Kind::Num, "1e-7", Check::NonNeg, "floor of the norm that scales the momentum"),
        Param::new("ns_steps", Kind::Int, "5", Check::Custom(ns_steps_ok), "Newton–Schulz iterations (0 to 99)"),
        Param::new(
            "adjust_lr_fn",
            Kind::Choice(&["None", "original", "match_rms_adamw", "spectral_unclamped"]),
            "None",
            Check::Any,
            "scaling of lr by the matrix shape (None = \"original\": √max(1, rows/cols))",
        ),
        Param::new(
            "fallback",
            Kind::Optimizer,
            "adamw(lr=1e-3)",
            Check::Any,
            "element-wise optimizer for the tensors that are not matrices (biases)",
        ),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: true,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn ns_steps_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if (0.0..100.0).contains(x) => Ok(()),
        _ => Err(format!("invalid ns_steps value: ns_steps={v} (number of steps must be less than 100, e.g. ns_steps=5)")),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    // the nested spec was validated with the outer one; the default stands in otherwise
    let fallback = OptimizerConfig::from_spec(h.spec("fallback"))
        .unwrap_or_else(|_| OptimizerConfig::defaults(&super::adamw::METHOD));
    Box::new(Muon::<T>::new(MuonConfig::from_hyper(h), fallback, layout))
}

/// How Muon scales the learning rate by the matrix shape (`adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustLr {
    /// `None` or `"original"`: √max(1, rows/cols) (Keller Jordan's).
    Original,
    /// 0.2·√max(rows, cols) (Moonshot's, to match AdamW's update RMS).
    MatchRmsAdamw,
    /// √(rows/cols) (Bernstein's).
    SpectralUnclamped,
}

impl AdjustLr {
    /// The adjusted learning rate for a rows × cols matrix, as torch's `_adjust_lr`.
    pub fn apply(self, lr: f64, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        let ratio = match self {
            AdjustLr::Original => {
                let r = a / b;
                if r > 1.0 {
                    r.sqrt()
                } else {
                    1.0
                }
            }
            AdjustLr::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        };
        lr * ratio
    }
}

/// Hyperparameters of [`Muon`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct MuonConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub ns_coefficients: (f64, f64, f64),
    pub eps: f64,
    pub ns_steps: usize,
    pub adjust_lr_fn: AdjustLr,
}

impl MuonConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let c = h.nums("ns_coefficients");
        MuonConfig {
            lr: h.num("lr"),
            weight_decay: h.num("weight_decay"),
            momentum: h.num("momentum"),
            nesterov: h.flag("nesterov"),
            ns_coefficients: (c[0], c[1], c[2]),
            eps: h.num("eps"),
            ns_steps: h.int("ns_steps").max(0) as usize,
            adjust_lr_fn: match h.choice("adjust_lr_fn") {
                Some("match_rms_adamw") => AdjustLr::MatchRmsAdamw,
                Some("spectral_unclamped") => AdjustLr::SpectralUnclamped,
                _ => AdjustLr::Original,
            },
        }
    }
}

/// Rounds to the nearest bfloat16 (ties to even) the way torch converts: an f64 goes to f32
/// first (nearest even), then to bfloat16. NaN stays NaN, ±∞ stays ±∞, values beyond the
/// bfloat16 range become ±∞.
pub fn bf16(x: f64) -> f64 {
    bf16_of_f32(x as f32) as f64
}

use super::newton_schulz::{bf16_of_f32, NewtonSchulz};

/// Orthogonalises the rows × cols matrix `m` into `ns.x` (laid out rows × cols like `m` when
/// `rows <= cols`, else transposed: cols × rows), as torch's `_zeropower_via_newtonschulz`
/// in bfloat16 on the CPU. Returns whether the result is transposed.
fn orthogonalise<T: Real>(ns: &mut NewtonSchulz, m: &[T], rows: usize, cols: usize, cfg: &MuonConfig) -> bool {
    let transposed = rows > cols;
    let (p, q) = if transposed { (cols, rows) } else { (rows, cols) };
    let x = ns.start(p, q);
    for i in 0..rows {
        for j in 0..cols {
            let v = bf16(m[i * cols + j].f64()) as f32;
            if transposed {
                x[j * q + i] = v;
            } else {
                x[i * q + j] = v;
            }
        }
    }
    let (a, b, c) = cfg.ns_coefficients;
    ns.iterate(p, q, cfg.eps, (a as f32, b as f32, c as f32), cfg.ns_steps);
    transposed
}

/// One matrix parameter: where it is and its shape as a matrix.
struct MatrixParam {
    range: Range<usize>,
    rows: usize,
    cols: usize,
}

/// Muon state: the momentum of the matrix entries, the fallback optimizer over the other
/// tensors with its gathered copies, and scratch space.
pub struct Muon<T: Real> {
    pub cfg: MuonConfig,
    layout: Layout,
    fallback_cfg: OptimizerConfig,
    matrices: Vec<MatrixParam>,
    others: Vec<Range<usize>>,
    fallback: Option<Box<dyn Optimizer<T>>>,
    planned: bool,
    momentum: Vec<T>,
    grad: Vec<T>,
    other_params: Vec<T>,
    other_grad: Vec<T>,
    ns: NewtonSchulz,
}

impl<T: Real> Muon<T> {
    pub fn new(cfg: MuonConfig, fallback_cfg: OptimizerConfig, layout: &Layout) -> Self {
        let mut m = Muon {
            cfg,
            layout: layout.clone(),
            fallback_cfg,
            matrices: Vec::new(),
            others: Vec::new(),
            fallback: None,
            planned: false,
            momentum: Vec::new(),
            grad: Vec::new(),
            other_params: Vec::new(),
            other_grad: Vec::new(),
            ns: NewtonSchulz::default(),
        };
        m.plan();
        m
    }

    /// Splits the layout into matrices (Muon) and the rest (the fallback group).
    fn plan(&mut self) {
        self.matrices.clear();
        self.others.clear();
        let mut rest = Vec::new();
        for t in &self.layout.tensors {
            match t.as_matrix() {
                Some((rows, cols)) if rows * cols > 0 => self.matrices.push(MatrixParam { range: t.range(), rows, cols }),
                _ => {
                    self.others.push(t.range());
                    rest.push((t.name.as_str(), t.shape.clone()));
                }
            }
        }
        self.fallback = (!self.others.is_empty()).then(|| self.fallback_cfg.build::<T>(&Layout::of(&rest)));
        self.planned = true;
    }

    /// Muon's update of one matrix (gradient in `self.grad`).
    fn update_matrix(&mut self, params: &mut [T], k: usize) {
        let MatrixParam { ref range, rows, cols } = self.matrices[k];
        let c = &self.cfg;
        let (w_grad, w_buf) = (T::of(1.0 - c.momentum), T::of(c.momentum));
        let g = &mut self.grad[range.clone()];
        let buf = &mut self.momentum[range.clone()];
        // the matrix to orthogonalise overwrites the gradient (no longer needed)
        for (g, b) in g.iter_mut().zip(buf.iter_mut()) {
            *b = ops::lerp(*b, *g, w_grad);
            *g = if c.nesterov { ops::lerp(*g, *b, w_buf) } else { *b };
        }
        let transposed = orthogonalise(&mut self.ns, g, rows, cols, c);
        let decay = T::of(1.0 - c.lr * c.weight_decay);
        let neg_lr = T::of(-c.adjust_lr_fn.apply(c.lr, rows, cols));
        let p = &mut params[range.clone()];
        for i in 0..rows {
            for j in 0..cols {
                let o = if transposed { self.ns.x[j * rows + i] } else { self.ns.x[i * cols + j] } as f64;
                let w = &mut p[i * cols + j];
                *w = neg_lr.mul_add(T::of(o), *w * decay);
            }
        }
    }
}

impl<T: Real> Optimizer<T> for Muon<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        if self.layout.len() != n {
            // a layout that does not cover the parameters: one vector (all to the fallback)
            self.layout = Layout::flat(n);
            self.plan();
        }
        ensure_len(&mut self.grad, n, T::zero());
        ensure_len(&mut self.momentum, n, T::zero());
        let loss = objective.eval(params, &mut self.grad);
        for k in 0..self.matrices.len() {
            self.update_matrix(params, k);
        }
        if let Some(fallback) = self.fallback.as_mut() {
            let m: usize = self.others.iter().map(|r| r.len()).sum();
            ensure_len(&mut self.other_params, m, T::zero());
            ensure_len(&mut self.other_grad, m, T::zero());
            let mut at = 0;
            for r in &self.others {
                let len = r.len();
                self.other_params[at..at + len].copy_from_slice(&params[r.clone()]);
                self.other_grad[at..at + len].copy_from_slice(&self.grad[r.clone()]);
                at += len;
            }
            let other_grad = &self.other_grad;
            let mut known = |_: &[T], g: &mut [T]| {
                g.copy_from_slice(other_grad);
                loss
            };
            fallback.step(&mut self.other_params, &mut known);
            let mut at = 0;
            for r in &self.others {
                let len = r.len();
                params[r.clone()].copy_from_slice(&self.other_params[at..at + len]);
                at += len;
            }
        }
        loss
    }

    fn group_count(&self) -> usize {
        if self.fallback.is_some() {
            2
        } else {
            1
        }
    }

    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        match (i, self.fallback.as_mut()) {
            (1, Some(f)) => f.group(0),
            _ => GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_with_ties_to_even() {
        // bfloat16 keeps 8 significant bits: the neighbours of 1 are 1 − 2⁻⁸ and 1 + 2⁻⁷
        let up = 2f64.powi(-7);
        assert_eq!(bf16(1.0), 1.0);
        assert_eq!(bf16(1.0 + up / 2.0), 1.0, "tie goes to the even neighbour 1");
        assert_eq!(bf16(1.0 + 1.5 * up), 1.0 + 2.0 * up, "tie goes to the even neighbour 1 + 2⁻⁶");
        assert_eq!(bf16(1.0 + up / 2.0 + 1e-6), 1.0 + up, "above the tie rounds up");
        assert_eq!(bf16(-(1.0 + 0.75 * up)), -(1.0 + up));
        assert_eq!(bf16(3.4445), 3.4375);
        // through f32 first, as torch converts: just above a tie in f64, exactly a tie in f32
        assert_eq!(bf16(1.0 + up / 2.0 + 2f64.powi(-40)), 1.0);
    }

    #[test]
    fn bf16_passes_nan_and_infinities_and_overflows_to_infinity() {
        assert!(bf16(f64::NAN).is_nan());
        assert_eq!(bf16(f64::INFINITY), f64::INFINITY);
        assert_eq!(bf16(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(bf16(f32::MAX as f64), f64::INFINITY);
        assert_eq!(bf16(1e300), f64::INFINITY);
        let max_bf16 = f32::from_bits(0x7F7F_0000) as f64;
        assert_eq!(bf16(max_bf16), max_bf16);
        assert_eq!(bf16(-0.0).to_bits(), (-0.0f64).to_bits());
        // subnormal bfloat16: the smallest is 2⁻¹³³
        assert_eq!(bf16(2f64.powi(-133)), 2f64.powi(-133));
        assert_eq!(bf16(2f64.powi(-135)), 0.0);
    }

    /// Sums whose order shows: 1e8 + 1 loses the 1 in f32, so a sum that meets −1e8 before
    /// adding 1 keeps it.
    #[test]
    fn adjusted_learning_rates_follow_torch() {
        assert_eq!(AdjustLr::Original.apply(0.1, 2, 8), 0.1);
        assert_eq!(AdjustLr::Original.apply(0.1, 8, 2), 0.1 * 2.0);
        assert_eq!(AdjustLr::MatchRmsAdamw.apply(0.1, 4, 9), 0.1 * (0.2 * 3.0));
        assert_eq!(AdjustLr::SpectralUnclamped.apply(0.1, 2, 8), 0.1 * 0.5);
    }

    #[test]
    fn biases_go_to_the_fallback_as_a_second_group() {
        let cfg = OptimizerConfig::parse("muon(lr=0.02, fallback=sgd(lr=0.5))").unwrap();
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
        // the bias takes plain SGD steps: 1 − 0.5·1
        assert_eq!(&p[6..], &[0.5, 0.5]);
        assert!(p[..6].iter().all(|&w| w < 1.0 && w > 0.9), "{p:?}");
        let only_matrices = cfg.build::<f64>(&Layout::of(&[("w", vec![2, 3])]));
        assert_eq!(only_matrices.group_count(), 1);
    }
}
