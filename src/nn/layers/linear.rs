//! Fully connected layer: `y = x·Wᵀ + b`, W stored out×in (row-major, as PyTorch).

use super::{Ctx, Grads, ParamRange};
use crate::kernels::Init;

#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub inp: usize,
    pub out: usize,
    /// Offsets of the weight and bias in the parameter vector.
    pub w: usize,
    pub b: usize,
}

impl Linear {
    pub fn params(&self) -> ParamRange {
        ParamRange { w: self.w, w_len: self.inp * self.out, b: self.b, b_len: self.out, fan_in: self.inp }
    }

    /// `y[j][o] = Σ_i x[j][i]·W[o][i] + b[o]` (16 partial sums over i, fixed tree).
    pub fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32]) {
        let (inp, out) = (self.inp, self.out);
        let w = &c.params[self.w..self.w + inp * out];
        c.k.dots(x, w, c.n, inp, out, Init::Bias(&c.params[self.b..self.b + out]), y);
    }

    /// dW = dYᵀ·X and dX = dY·W, each term added in sample (resp. output) order; db = the
    /// sum of dY's rows in sample order.
    pub fn backward(&self, c: &Ctx, x: &[f32], g: Grads) {
        let (inp, out, n) = (self.inp, self.out, c.n);
        let dy = g.dy;
        // dW[o][i] = Σ_j dY[j][o]·X[j][i]: A(o, j) = dy[j·out + o]
        c.k.gemm(out, n, inp, dy, 1, out, x, inp, Init::Zero, &mut g.grad[self.w..self.w + inp * out], inp);
        let db = &mut g.grad[self.b..self.b + out];
        db.fill(0.0);
        for row in dy.chunks_exact(out) {
            db.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        if let Some(dx) = g.dx {
            // dX[j][i] = Σ_o dY[j][o]·W[o][i]
            let w = &c.params[self.w..self.w + inp * out];
            c.k.gemm(n, out, inp, dy, out, 1, w, inp, Init::Zero, dx, inp);
        }
    }
}

/// The linear layer of a transformer: `y = x·Wᵀ (+ b)` applied to every row (token) of its
/// input, with an optional bias, and a backward pass that *adds* into the input gradient
/// (so residual branches and a tied head accumulate). The same kernels and summation
/// orders as [`Linear`].
#[derive(Clone, Debug)]
pub(crate) struct RowLinear {
    pub inp: usize,
    pub out: usize,
    pub w: usize,
    pub b: Option<usize>,
}

impl RowLinear {
    /// `y[r][o] = b[o] + Σ_i x[r][i]·W[o][i]` for `rows` rows, through the GEMM kernel
    /// reading W transposed (B(i, o) = W[o][i], which the kernel packs into contiguous
    /// panels): each output starts from its bias (or 0) and adds its `inp` terms one fused
    /// multiply-add at a time, in input order. Vectorised across outputs, it keeps a tile of
    /// outputs in registers (row-by-row dot products, as [`Linear`] uses, ran 1.6× slower).
    pub fn forward(&self, k: &crate::kernels::Kernels, params: &[f32], x: &[f32], rows: usize, y: &mut [f32]) {
        let (inp, out) = (self.inp, self.out);
        let y = &mut y[..rows * out];
        let w = &params[self.w..self.w + inp * out];
        match self.b {
            Some(b) => {
                let b = &params[b..b + out];
                y.chunks_exact_mut(out).for_each(|r| r.copy_from_slice(b));
                k.gemm_strided(rows, inp, out, x, inp, 1, w, 1, inp, Init::Keep, y, out);
            }
            None => k.gemm_strided(rows, inp, out, x, inp, 1, w, 1, inp, Init::Zero, y, out),
        }
    }

    /// Adds dW = dYᵀ·X (and db, the column sums of dY in row order) into `grad`, and
    /// dX = dY·W into `dx` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        k: &crate::kernels::Kernels,
        params: &[f32],
        grad: &mut [f32],
        x: &[f32],
        dy: &[f32],
        rows: usize,
        dx: Option<&mut [f32]>,
    ) {
        let (inp, out) = (self.inp, self.out);
        k.gemm(out, rows, inp, dy, 1, out, x, inp, Init::Keep, &mut grad[self.w..self.w + inp * out], inp);
        if let Some(b) = self.b {
            let db = &mut grad[b..b + out];
            for row in dy[..rows * out].chunks_exact(out) {
                db.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
        }
        if let Some(dx) = dx {
            let w = &params[self.w..self.w + inp * out];
            k.gemm(rows, out, inp, dy, out, 1, w, inp, Init::Keep, dx, inp);
        }
    }
}
