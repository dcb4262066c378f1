//! Max pooling with a k×k window and stride k (windows do not overlap). The first maximum
//! in row-major window order wins and NaN propagates, as in PyTorch; the position of each
//! maximum is kept for the backward pass.
//!
//! A ReLU right before a 2×2 max-pool is folded into it (`relu`): the pool reads its input
//! through the ReLU, and the backward pass passes a gradient only where the pooled value is
//! positive — the same numbers as the two layers one after the other, without writing and
//! reading the ReLU's output and gradient.

use super::Bufs;
use crate::nn::build::{boxed, Builder};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::spec::{Key, LayerKind, LayerSpec, Ty, Val};
use anyhow::bail;

#[derive(Clone, Debug)]
pub(crate) struct MaxPool {
    pub c: usize,
    pub h: usize,
    pub wd: usize,
    pub k: usize,
    pub oh: usize,
    pub ow: usize,
    /// A ReLU applied to the input first (only with k = 2).
    pub relu: bool,
    pub dims: Dims,
}

impl MaxPool {
    /// `idx`: for each output, the index of its maximum within the sample's input; `f`: one
    /// sample's output gradient through the ReLU.
    fn bufs(&self, cap: usize) -> Bufs {
        let outs = self.c * self.oh * self.ow;
        Bufs { idx: vec![0u32; cap * outs], f: vec![0f32; if self.relu { outs } else { 0 }], ..Default::default() }
    }

    /// The bytes of [`MaxPool::scratch`] for `cap` samples (`None` on overflow).
    pub fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        let outs = (self.c as u64).checked_mul(self.oh as u64)?.checked_mul(self.ow as u64)?;
        outs.checked_mul(cap.checked_add(self.relu as u64)?)?.checked_mul(4)
    }

    fn run_forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Bufs) {
        let (ch, h, wd, oh, ow) = (self.c, self.h, self.wd, self.oh, self.ow);
        let (ins, outs) = (ch * h * wd, ch * oh * ow);
        for (xs, (ys, ats)) in
            x.chunks_exact(ins).zip(y.chunks_exact_mut(outs).zip(s.idx.chunks_exact_mut(outs))).take(c.n)
        {
            for p in 0..ch {
                let (o, plane) = (p * oh * ow, &xs[p * h * wd..(p + 1) * h * wd]);
                let (yp, ap) = (&mut ys[o..o + oh * ow], &mut ats[o..o + oh * ow]);
                if self.k == 2 {
                    c.k.maxpool2(plane, h, wd, (p * h * wd) as u32, self.relu, yp, ap);
                } else {
                    self.pool_plane(plane, (p * h * wd) as u32, yp, ap);
                }
            }
        }
    }

    /// Any window size, in plain loops.
    fn pool_plane(&self, plane: &[f32], base: u32, y: &mut [f32], at: &mut [u32]) {
        let (k, wd) = (self.k, self.wd);
        for oy in 0..self.oh {
            for ox in 0..self.ow {
                let (mut best, mut arg) = (f32::NEG_INFINITY, 0usize);
                for ky in 0..k {
                    for kx in 0..k {
                        let i = (oy * k + ky) * wd + ox * k + kx;
                        let v = plane[i];
                        if v > best || v.is_nan() {
                            best = v;
                            arg = i;
                        }
                    }
                }
                y[oy * self.ow + ox] = best;
                at[oy * self.ow + ox] = base + arg as u32;
            }
        }
    }

    /// Each output's gradient is added to the input that was its maximum (through the ReLU:
    /// only where the pooled value is positive); the others get nothing.
    fn run_backward(&self, c: &Ctx, y: &[f32], g: Grads, s: &mut Bufs) {
        let Some(dx) = g.dx else { return };
        let (ins, outs) = (self.c * self.h * self.wd, self.c * self.oh * self.ow);
        for (((dxs, ats), dys), ys) in dx
            .chunks_exact_mut(ins)
            .zip(s.idx.chunks_exact(outs))
            .zip(g.dy.chunks_exact(outs))
            .zip(y.chunks_exact(outs))
            .take(c.n)
        {
            // windows do not overlap: each input is the maximum of at most one window
            let vals = if self.relu {
                let masked = &mut s.f[..outs];
                masked.iter_mut().zip(dys.iter().zip(ys)).for_each(|(m, (&d, &v))| *m = if v > 0.0 { d } else { 0.0 });
                &*masked
            } else {
                dys
            };
            if g.fresh {
                // into zeros, writing is adding
                c.k.scatter(dxs, ats, vals);
            } else {
                ats.iter().zip(vals).for_each(|(&i, &v)| dxs[i as usize] += v);
            }
        }
    }
}

impl Layer for MaxPool {
    fn describe(&self) -> String {
        let k = self.k;
        if self.relu {
            format!("relu, maxpool({k})")
        } else {
            format!("maxpool({k})")
        }
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn scratch(&self, cap: usize) -> Scratch {
        Scratch::new(self.bufs(cap))
    }
    fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        MaxPool::scratch_bytes(self, cap)
    }
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        self.run_forward(c, x, y, s.get::<Bufs>());
    }
    fn backward(&self, c: &Ctx, _x: &[f32], y: &[f32], g: Grads, s: &mut Scratch) {
        self.run_backward(c, y, g, s.get::<Bufs>());
    }
}

/// `maxpool(k=2)`: PyTorch's `nn.MaxPool2d(k)` (stride k). Right after a ReLU, a 2×2 pool
/// takes the ReLU into itself.
pub(crate) const KIND: LayerKind = LayerKind {
    name: "maxpool",
    aliases: &["maxpool2d", "pool"],
    about: "nn.MaxPool2d(k): the maximum of each k×k window, stride k",
    keys: &[Key {
        names: &["k", "kernel", "kernel_size"],
        ty: Ty::Size,
        default: Some(Val::Size(2)),
        always_shown: false,
    }],
    body: false,
    build,
};

fn build(s: &LayerSpec, b: &mut Builder) -> anyhow::Result<Box<dyn Layer>> {
    let k = b.kernel("k", s.size("k"))?;
    let &[c, h, w] = b.dims.dims.as_slice() else {
        bail!("a max-pool layer needs an image, but its input is flat (put it before linear and flatten layers)")
    };
    if h < k || w < k {
        bail!("its {h}×{w} input is smaller than the {k}×{k} window (the output would be less than 1×1)");
    }
    let (oh, ow) = (h / k, w / k);
    let relu = b.fuse && k == 2 && b.after_relu;
    b.folded = relu;
    boxed(MaxPool { c, h, wd: w, k, oh, ow, relu, dims: Dims::fixed(&[c, oh, ow]) })
}
