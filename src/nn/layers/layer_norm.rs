//! Layer normalisation over the last dimension (PyTorch's `nn.LayerNorm(d, eps)`):
//! `y = (x − mean)·rstd·w + b` with the biased variance and `rstd = 1/√(var + eps)`;
//! the statistics of each row are kept for the backward pass. Moments are accumulated in
//! f64 and rounded once (closer to the exact value than any f32 order, and the same on
//! every kernel path: this is plain scalar code).

/// A LayerNorm over rows of `d` features; `w`, `b`: offsets of its gain and bias (`None`:
/// no bias, as nanoGPT's `bias=False`).
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    pub d: usize,
    pub w: usize,
    pub b: Option<usize>,
    pub eps: f32,
}

impl LayerNorm {
    /// Normalises the rows of `x` into `y`, keeping each row's mean and rstd.
    pub fn forward(&self, params: &[f32], x: &[f32], y: &mut [f32], mean: &mut [f32], rstd: &mut [f32]) {
        let d = self.d;
        let w = &params[self.w..self.w + d];
        let b = self.b.map(|b| &params[b..b + d]);
        for (r, (xr, yr)) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)).enumerate() {
            let m = xr.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = xr.iter().map(|&v| (v as f64 - m) * (v as f64 - m)).sum::<f64>() / d as f64;
            let rs = (1.0 / (var + self.eps as f64).sqrt()) as f32;
            let mf = m as f32;
            mean[r] = mf;
            rstd[r] = rs;
            for i in 0..d {
                let n = (xr[i] - mf) * rs;
                yr[i] = match b {
                    Some(b) => n.mul_add(w[i], b[i]),
                    None => n * w[i],
                };
            }
        }
    }

    /// Adds the gradients of the gain and bias into `grad` and of the input into `dx`, from
    /// `dy`: with x̂ the normalised input and g = dy·w,
    /// `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))`.
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
        for (r, ((xr, dyr), dxr)) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)).enumerate() {
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
        // the gain's and bias's gradients, summed over rows in row order
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
