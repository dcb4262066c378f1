//! Layer normalisation over the last dimension (PyTorch's `nn.LayerNorm(d, eps)`):
//! `y = (x − mean)·rstd·w + b` with the biased variance and `rstd = 1/√(var + eps)`;
//! the statistics of each row are kept for the backward pass. Moments are accumulated in
//! f64 and rounded once (closer to the exact value than any f32 order, and the same on
//! every kernel path: this is plain scalar code; row blocks run in parallel, which
//! changes no sum).

use crate::nn::build::{boxed, Builder};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::params::InitRule;
use crate::nn::spec::{Key, LayerKind, LayerSpec, Ty, Val};
use crate::optim::Role;
use rayon::prelude::*;

/// A LayerNorm over rows of `d` features; `w`, `b`: offsets of its gain and bias (`None`:
/// no bias, as nanoGPT's `bias=False`).
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    pub d: usize,
    pub w: usize,
    pub b: Option<usize>,
    pub eps: f32,
    pub dims: Dims,
}

/// Rows per parallel task (rows are independent in the forward pass and in the input
/// gradient, so the split changes no bits).
const ROWS: usize = 64;

impl LayerNorm {
    /// Normalises the rows of `x` into `y`, keeping each row's mean and rstd; row blocks run
    /// in parallel over the current rayon pool.
    pub fn forward(&self, params: &[f32], x: &[f32], y: &mut [f32], mean: &mut [f32], rstd: &mut [f32]) {
        let d = self.d;
        let w = &params[self.w..self.w + d];
        let b = self.b.map(|b| &params[b..b + d]);
        let rows = x.len() / d;
        y[..rows * d]
            .par_chunks_mut(ROWS * d)
            .zip(x[..rows * d].par_chunks(ROWS * d))
            .zip(mean[..rows].par_chunks_mut(ROWS).zip(rstd[..rows].par_chunks_mut(ROWS)))
            .for_each(|((y, x), (mean, rstd))| crate::fused!(self.forward_rows(w, b, x, y, mean, rstd)));
    }

    /// The rows of one block; four rows at a time keep four independent chains of f64
    /// additions in flight (each row's sums still run in feature order, so the bits are those
    /// of one row at a time).
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    fn forward_rows(&self, w: &[f32], b: Option<&[f32]>, x: &[f32], y: &mut [f32], mean: &mut [f32], rstd: &mut [f32]) {
        const G: usize = 4;
        let d = self.d;
        // the start of an iterator's f64 sum, as the one-row code used
        let zero: f64 = std::iter::empty::<f64>().sum();
        let rows = x.len() / d;
        let mut r0 = 0;
        while r0 < rows {
            let g = (rows - r0).min(G);
            let xs: [&[f32]; G] = std::array::from_fn(|q| &x[(r0 + q.min(g - 1)) * d..][..d]);
            let mut sum = [zero; G];
            for i in 0..d {
                for q in 0..G {
                    sum[q] += xs[q][i] as f64;
                }
            }
            let m = sum.map(|v| v / d as f64);
            let mut sq = [zero; G];
            for i in 0..d {
                for q in 0..G {
                    let t = xs[q][i] as f64 - m[q];
                    sq[q] += t * t;
                }
            }
            for q in 0..g {
                let r = r0 + q;
                let var = sq[q] / d as f64;
                let rs = (1.0 / (var + self.eps as f64).sqrt()) as f32;
                let mf = m[q] as f32;
                mean[r] = mf;
                rstd[r] = rs;
                let (xr, yr) = (xs[q], &mut y[r * d..][..d]);
                for i in 0..d {
                    let n = (xr[i] - mf) * rs;
                    yr[i] = match b {
                        Some(b) => n.mul_add(w[i], b[i]),
                        None => n * w[i],
                    };
                }
            }
            r0 += g;
        }
    }

    /// Adds the gradients of the gain and bias into `grad` and of the input into `dx`, from
    /// `dy`: with x̂ the normalised input and g = dy·w,
    /// `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))`. The input gradient's row blocks run in
    /// parallel; the gain's and bias's sums over rows stay in row order.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &[f32],
        grad: &mut [f32],
        x: &[f32],
        mean: &[f32],
        rstd: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) {
        let d = self.d;
        let w = &params[self.w..self.w + d];
        let rows = x.len() / d;
        dx[..rows * d]
            .par_chunks_mut(ROWS * d)
            .zip(x[..rows * d].par_chunks(ROWS * d).zip(dy[..rows * d].par_chunks(ROWS * d)))
            .zip(mean[..rows].par_chunks(ROWS).zip(rstd[..rows].par_chunks(ROWS)))
            .for_each(|((dx, (x, dy)), (mean, rstd))| {
                for (r, ((xr, dyr), dxr)) in
                    x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)).enumerate()
                {
                    let (m, rs) = (mean[r], rstd[r]);
                    let (mut sg, mut sgx) = (0f64, 0f64);
                    for i in 0..d {
                        let xh = (xr[i] - m) * rs;
                        let g = dyr[i] * w[i];
                        sg += g as f64;
                        sgx += (g * xh) as f64;
                    }
                    let (mg, mgx) = ((sg / d as f64) as f32, (sgx / d as f64) as f32);
                    for i in 0..d {
                        let xh = (xr[i] - m) * rs;
                        dxr[i] += rs * (dyr[i] * w[i] - mg - xh * mgx);
                    }
                }
            });
        // the gain's and bias's gradients, summed over rows in row order
        crate::fused!(self.param_grads(grad, x, mean, rstd, dy));
    }

    #[inline(always)]
    fn param_grads(&self, grad: &mut [f32], x: &[f32], mean: &[f32], rstd: &[f32], dy: &[f32]) {
        let d = self.d;
        for (r, (xr, dyr)) in x.chunks_exact(d).zip(dy.chunks_exact(d)).enumerate() {
            let (m, rs) = (mean[r], rstd[r]);
            let gw = &mut grad[self.w..self.w + d];
            for i in 0..d {
                gw[i] += dyr[i] * ((xr[i] - m) * rs);
            }
            if let Some(b) = self.b {
                for (g, &v) in grad[b..b + d].iter_mut().zip(dyr) {
                    *g += v;
                }
            }
        }
    }
}

/// Each row's mean and rstd from the forward pass.
struct Stats {
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

impl LayerNorm {
    /// Rows of one sample at the longest context.
    fn rows(&self) -> usize {
        self.dims.len() / self.d
    }
}

impl Layer for LayerNorm {
    fn describe(&self) -> String {
        let mut keys = Vec::new();
        if self.eps != 1e-5 {
            keys.push(format!("eps={}", crate::optim::fmt_num(self.eps as f64)));
        }
        if self.b.is_none() {
            keys.push("bias=false".into());
        }
        if keys.is_empty() {
            "layer_norm".into()
        } else {
            format!("layer_norm({})", keys.join(","))
        }
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn has_params(&self) -> bool {
        true
    }
    fn scratch(&self, cap: usize) -> Scratch {
        let r = cap * self.rows();
        Scratch::new(Stats { mean: vec![0.0; r], rstd: vec![0.0; r] })
    }
    fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        cap.checked_mul(self.rows() as u64)?.checked_mul(8)
    }
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        let st = s.get::<Stats>();
        LayerNorm::forward(self, c.params, x, y, &mut st.mean, &mut st.rstd);
    }
    fn backward(&self, c: &Ctx, x: &[f32], _y: &[f32], g: Grads, s: &mut Scratch) {
        let st = s.get::<Stats>();
        match g.dx {
            Some(dx) => LayerNorm::backward(self, c.params, g.grad, x, &st.mean, &st.rstd, g.dy, dx),
            None => crate::fused!(self.param_grads(g.grad, x, &st.mean, &st.rstd, g.dy)),
        }
    }
}

/// `layer_norm(eps=1e-5, bias=true)`: PyTorch's `nn.LayerNorm(d, eps, bias)` over the
/// features of a flat input or of each position; gain 1, bias 0.
pub(crate) const KIND: LayerKind = LayerKind {
    name: "layer_norm",
    aliases: &["layernorm", "ln"],
    about: "nn.LayerNorm(d, eps, bias): (x − mean)/√(var + eps)·w + b over the features",
    keys: &[
        Key { names: &["eps"], ty: Ty::Float, default: Some(Val::Float(1e-5)), always_shown: false },
        Key { names: &["bias"], ty: Ty::Flag, default: Some(Val::Flag(true)), always_shown: false },
    ],
    body: false,
    build,
};

fn build(s: &LayerSpec, b: &mut Builder) -> anyhow::Result<Box<dyn Layer>> {
    if !b.dims.seq && b.dims.dims.len() != 1 {
        anyhow::bail!("layer_norm needs a flat input (put it after a linear or flatten layer)");
    }
    let d = b.dims.last();
    let eps = s.float("eps") as f32;
    if !(eps.is_finite() && eps > 0.0) {
        anyhow::bail!("eps={}: not a positive number in float32 (1.2e-38..3.4e38)", s.float("eps"));
    }
    let bias = s.flag("bias");
    b.room_for(Some(if bias { 2 * d as u64 } else { d as u64 }))?;
    let name = |what: &str| format!("{}layer_norm.{what}", b.prefix);
    let (wn, bn) = (name("weight"), name("bias"));
    let w = b.params.add(wn, vec![d], Role::NormGain, InitRule::Ones);
    let bb = bias.then(|| b.params.add(bn, vec![d], Role::Bias, InitRule::Zeros));
    boxed(LayerNorm { d, w, b: bb, eps, dims: b.dims.clone() })
}
