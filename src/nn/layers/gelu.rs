//! GELU, the exact form PyTorch's `F.gelu` computes by default:
//! `gelu(x) = x·½·(1 + erf(x/√2))`, with derivative `Φ(x) + x·φ(x)`
//! (Φ = ½(1 + erf(x/√2)), φ = e^(−x²/2)/√(2π)). erf is libm's `erff` (within 1 ulp),
//! the same bits on every kernel path and for every thread count.

use crate::nn::build::boxed;
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::spec::LayerKind;
use rayon::prelude::*;
use std::f32::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

/// Elements per parallel task (element-wise work, so the split changes no bits).
const CHUNK: usize = 8192;

/// `y = gelu(x)` element-wise, in parallel chunks over the current rayon pool.
pub(crate) fn forward(x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    y[..n].par_chunks_mut(CHUNK).zip(x[..n].par_chunks(CHUNK)).for_each(|(y, x)| {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * 0.5 * (1.0 + libm::erff(v * FRAC_1_SQRT_2));
        }
    });
}

/// `dx += dy·gelu'(x)` element-wise, in parallel chunks.
pub(crate) fn backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    const PDF: f32 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5;
    let n = x.len().min(dy.len()).min(dx.len());
    dx[..n].par_chunks_mut(CHUNK).zip(x[..n].par_chunks(CHUNK).zip(dy[..n].par_chunks(CHUNK))).for_each(
        |(dx, (x, dy))| {
            for ((o, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
                let cdf = 0.5 * (1.0 + libm::erff(v * FRAC_1_SQRT_2));
                let pdf = (-0.5 * v * v).exp() * PDF;
                *o += g * (cdf + v * pdf);
            }
        },
    );
}

/// The GELU layer (spec `gelu`), of any shape.
#[derive(Clone, Debug)]
pub(crate) struct Gelu {
    pub dims: Dims,
}

impl Layer for Gelu {
    fn describe(&self) -> String {
        "gelu".into()
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn forward(&self, _c: &Ctx, x: &[f32], y: &mut [f32], _s: &mut Scratch) {
        forward(x, y);
    }
    fn backward(&self, _c: &Ctx, x: &[f32], _y: &[f32], g: Grads, _s: &mut Scratch) {
        if let Some(dx) = g.dx {
            backward(x, g.dy, dx);
        }
    }
}

/// `gelu`: PyTorch's `nn.GELU()` (the exact erf form).
pub(crate) const KIND: LayerKind = LayerKind {
    name: "gelu",
    aliases: &[],
    about: "nn.GELU(): x·Φ(x) with the exact erf",
    keys: &[],
    body: false,
    build: |_, b| boxed(Gelu { dims: b.dims.clone() }),
};
