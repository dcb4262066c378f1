//! 2-D convolution (PyTorch's Conv2d: weight out×in×k×k, zero padding).
//!
//! Stride 1 runs directly on a zero-padded copy of each sample (kept for the backward
//! pass): output rows are vectorised along their columns and every tap is one fused
//! multiply-add. Other strides go through im2col and the kernels' products.

use super::Bufs;
use crate::kernels::{ConvGeom, Init};
use crate::nn::build::{boxed, mul, Builder};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::params::InitRule;
use crate::nn::spec::{Key, LayerKind, LayerSpec, Ty, Val};
use anyhow::bail;

#[derive(Clone, Debug)]
pub(crate) struct Conv {
    pub cin: usize,
    pub h: usize,
    pub wd: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
    /// Offsets of the weight and bias in the parameter vector.
    pub w: usize,
    pub b: usize,
    /// Stride 1: the offset of each kernel tap into a padded sample.
    pub offs: Vec<usize>,
    pub dims: Dims,
}

impl Conv {
    /// The layer's geometry; its tables are made by [`Conv::make_tables`] (the model checks
    /// their size first). The sizes must have been checked: `h + 2·pad ≥ k`, no overflow.
    #[allow(clippy::too_many_arguments)]
    pub fn new(cin: usize, h: usize, wd: usize, cout: usize, k: usize, stride: usize, pad: usize, w: usize) -> Conv {
        let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (wd + 2 * pad - k) / stride + 1);
        let dims = Dims::fixed(&[cout, oh, ow]);
        Conv { cin, h, wd, cout, k, stride, pad, oh, ow, w, b: w + cout * cin * k * k, offs: Vec::new(), dims }
    }

    /// Stride 1: the offset of each kernel tap into a padded sample.
    pub fn make_tables(&mut self) {
        if self.stride == 1 {
            let (hp, wp) = self.padded_dims();
            self.offs = ConvGeom::tap_offsets(self.cin, self.k, hp, wp);
        }
    }

    /// The bytes of [`Conv::scratch`] for `cap` samples and of the tables (`None` on overflow).
    pub fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        let (hp, wp) = (self.h as u64 + 2 * self.pad as u64, self.wd as u64 + 2 * self.pad as u64);
        let taps = (self.cin as u64).checked_mul(self.k as u64)?.checked_mul(self.k as u64)?;
        let (per_sample, tables) = if self.stride == 1 {
            ((self.cin as u64).checked_mul(hp)?.checked_mul(wp)?, taps.checked_mul(8)?)
        } else {
            (taps.checked_mul(self.oh as u64)?.checked_mul(self.ow as u64)?, 0)
        };
        per_sample.checked_mul(cap.checked_add(1)?)?.checked_mul(4)?.checked_add(tables)
    }

    fn taps(&self) -> usize {
        self.cin * self.k * self.k
    }

    fn padded_dims(&self) -> (usize, usize) {
        (self.h + 2 * self.pad, self.wd + 2 * self.pad)
    }

    fn geom(&self) -> ConvGeom<'_> {
        let (hp, wp) = self.padded_dims();
        ConvGeom { cin: self.cin, cout: self.cout, k: self.k, hp, wp, oh: self.oh, ow: self.ow, offs: &self.offs }
    }

    /// Stride 1: `f` the padded batch, `g` one sample's padded input gradient.
    /// Otherwise: `f` the batch's im2col matrices, `g` one sample's column gradient.
    fn bufs(&self, cap: usize) -> Bufs {
        let (hp, wp) = self.padded_dims();
        if self.stride == 1 {
            let plane = self.cin * hp * wp;
            Bufs { f: vec![0f32; cap * plane], g: vec![0f32; plane], ..Default::default() }
        } else {
            let col = self.taps() * self.oh * self.ow;
            Bufs { f: vec![0f32; cap * col], g: vec![0f32; col], ..Default::default() }
        }
    }

    fn run_forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Bufs) {
        let (ins, outs) = (self.cin * self.h * self.wd, self.cout * self.oh * self.ow);
        let wt = &c.params[self.w..self.w + self.cout * self.taps()];
        let bias = &c.params[self.b..self.b + self.cout];
        if self.stride == 1 {
            let g = self.geom();
            let plane = self.cin * g.hp * g.wp;
            for ((xs, ys), ps) in
                x.chunks_exact(ins).zip(y.chunks_exact_mut(outs)).zip(s.f.chunks_exact_mut(plane)).take(c.n)
            {
                self.pad_input(xs, ps);
                c.k.conv_forward(&g, ps, wt, bias, ys);
            }
        } else {
            let (kk, pp) = (self.taps(), self.oh * self.ow);
            for ((xs, ys), col) in
                x.chunks_exact(ins).zip(y.chunks_exact_mut(outs)).zip(s.f.chunks_exact_mut(kk * pp)).take(c.n)
            {
                self.im2col(xs, col);
                // Y[c][p] = bias[c] + Σ_t W[c][t]·col[t][p]
                c.k.gemm(self.cout, kk, pp, wt, kk, 1, col, pp, Init::Bias(bias), ys, pp);
            }
        }
    }

    /// Adds the gradients; the weight gradient reads the padded input (or columns) kept by
    /// the forward pass.
    fn run_backward(&self, c: &Ctx, g: Grads, s: &mut Bufs) {
        let (ins, outs) = (self.cin * self.h * self.wd, self.cout * self.oh * self.ow);
        let (kk, pp) = (self.taps(), self.oh * self.ow);
        let wt = &c.params[self.w..self.w + self.cout * kk];
        let Grads { grad, dy, mut dx, .. } = g;
        let (dw, rest) = grad[self.w..self.b + self.cout].split_at_mut(self.cout * kk);
        let db = &mut rest[..self.cout];
        let geom = self.geom();
        let per_sample = if self.stride == 1 { self.cin * geom.hp * geom.wp } else { kk * pp };
        for (i, (dys, fs)) in dy.chunks_exact(outs).zip(s.f.chunks_exact(per_sample)).take(c.n).enumerate() {
            for (ch, d) in db.iter_mut().enumerate() {
                *d += c.k.sum(&dys[ch * pp..(ch + 1) * pp]);
            }
            let dxs = dx.as_deref_mut().map(|d| &mut d[i * ins..(i + 1) * ins]);
            if self.stride == 1 {
                c.k.conv_weight_grad(&geom, fs, dys, dw);
                if let Some(dxs) = dxs {
                    let dpad = &mut s.g[..per_sample];
                    dpad.fill(0.0);
                    c.k.conv_input_grad(&geom, dys, wt, dpad);
                    self.crop(dpad, dxs);
                }
            } else {
                // dW[c][t] += Σ_p dY[c][p]·col[t][p]
                c.k.dots(dys, fs, self.cout, pp, kk, Init::Keep, dw);
                if let Some(dxs) = dxs {
                    // dcol[t][p] = Σ_c W[c][t]·dY[c][p]
                    let dcol = &mut s.g[..kk * pp];
                    c.k.gemm(kk, self.cout, pp, wt, 1, kk, dys, pp, Init::Zero, dcol, pp);
                    self.col2im(dcol, dxs);
                }
            }
        }
    }

    /// Copies one sample (cin planes of h×wd) into its zero-bordered padded planes.
    fn pad_input(&self, x: &[f32], out: &mut [f32]) {
        let (hp, wp) = self.padded_dims();
        let (h, w, pad) = (self.h, self.wd, self.pad);
        if pad > 0 {
            out.fill(0.0);
        }
        for c in 0..self.cin {
            for iy in 0..h {
                let dst = c * hp * wp + (iy + pad) * wp + pad;
                out[dst..dst + w].copy_from_slice(&x[(c * h + iy) * w..(c * h + iy + 1) * w]);
            }
        }
    }

    /// Adds the inner (unpadded) part of a padded input gradient.
    fn crop(&self, dpad: &[f32], dx: &mut [f32]) {
        let (hp, wp) = self.padded_dims();
        let (h, w, pad) = (self.h, self.wd, self.pad);
        for c in 0..self.cin {
            for iy in 0..h {
                let src = c * hp * wp + (iy + pad) * wp + pad;
                let row = &mut dx[(c * h + iy) * w..(c * h + iy + 1) * w];
                row.iter_mut().zip(&dpad[src..src + w]).for_each(|(d, &v)| *d += v);
            }
        }
    }

    /// The input position (row or column) a kernel tap reads for an output position, if it
    /// lies inside the image.
    fn source(&self, o: usize, tap: usize, size: usize) -> Option<usize> {
        (o * self.stride + tap).checked_sub(self.pad).filter(|&i| i < size)
    }

    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let (k, h, w, pp) = (self.k, self.h, self.wd, self.oh * self.ow);
        for c in 0..self.cin {
            for ky in 0..k {
                for kx in 0..k {
                    let row = &mut col[((c * k + ky) * k + kx) * pp..((c * k + ky) * k + kx + 1) * pp];
                    for oy in 0..self.oh {
                        let dst = &mut row[oy * self.ow..(oy + 1) * self.ow];
                        let Some(iy) = self.source(oy, ky, h) else {
                            dst.fill(0.0);
                            continue;
                        };
                        let src = &x[(c * h + iy) * w..(c * h + iy + 1) * w];
                        for (ox, d) in dst.iter_mut().enumerate() {
                            *d = self.source(ox, kx, w).map_or(0.0, |ix| src[ix]);
                        }
                    }
                }
            }
        }
    }

    fn col2im(&self, col: &[f32], dx: &mut [f32]) {
        let (k, h, w, pp) = (self.k, self.h, self.wd, self.oh * self.ow);
        for c in 0..self.cin {
            for ky in 0..k {
                for kx in 0..k {
                    let row = &col[((c * k + ky) * k + kx) * pp..((c * k + ky) * k + kx + 1) * pp];
                    for oy in 0..self.oh {
                        let Some(iy) = self.source(oy, ky, h) else { continue };
                        for ox in 0..self.ow {
                            if let Some(ix) = self.source(ox, kx, w) {
                                dx[(c * h + iy) * w + ix] += row[oy * self.ow + ox];
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Layer for Conv {
    fn describe(&self) -> String {
        format!("conv({},k={},s={},p={})", self.cout, self.k, self.stride, self.pad)
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn macs(&self) -> u64 {
        (self.taps() as u64).saturating_mul(self.dims.len() as u64)
    }
    fn has_params(&self) -> bool {
        true
    }
    fn scratch(&self, cap: usize) -> Scratch {
        Scratch::new(self.bufs(cap))
    }
    fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        Conv::scratch_bytes(self, cap)
    }
    fn finish(&mut self) {
        self.make_tables();
    }
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        self.run_forward(c, x, y, s.get::<Bufs>());
    }
    fn backward(&self, c: &Ctx, _x: &[f32], _y: &[f32], g: Grads, s: &mut Scratch) {
        self.run_backward(c, g, s.get::<Bufs>());
    }
}

/// `conv(out, k=3, s=1, p=0)`: PyTorch's `nn.Conv2d(in, out, k, stride=s, padding=p)`, `in`
/// the input's channels; weight and bias U(±1/√(in·k·k)), PyTorch's default.
pub(crate) const KIND: LayerKind = LayerKind {
    name: "conv",
    aliases: &["conv2d"],
    about: "nn.Conv2d(in, out, k, stride=s, padding=p) with zero padding, in from the input's channels",
    keys: &[
        Key { names: &["out", "out_channels"], ty: Ty::Size, default: None, always_shown: false },
        Key { names: &["k", "kernel", "kernel_size"], ty: Ty::Size, default: Some(Val::Size(3)), always_shown: true },
        Key { names: &["s", "stride"], ty: Ty::Size, default: Some(Val::Size(1)), always_shown: true },
        Key { names: &["p", "padding"], ty: Ty::Count, default: Some(Val::Size(0)), always_shown: true },
    ],
    body: false,
    build,
};

fn build(s: &LayerSpec, b: &mut Builder) -> anyhow::Result<Box<dyn Layer>> {
    let out = b.width("out", s.size("out"))?;
    let k = b.kernel("k", s.size("k"))?;
    let stride = b.kernel("s", s.size("s"))?;
    let pad = b.kernel("p", s.size("p"))?;
    let &[c, h, w] = b.dims.dims.as_slice() else {
        bail!("a conv layer needs an image, but its input is flat (put conv layers before linear and flatten ones)")
    };
    // sizes here are at most 2^31 (the input) plus twice the padding: no overflow
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    if hp < k || wp < k {
        let padded = if pad > 0 { format!(" (padded to {hp}×{wp})") } else { String::new() };
        bail!("its {h}×{w} input{padded} is smaller than the {k}×{k} kernel");
    }
    let (oh, ow) = ((hp - k) / stride + 1, (wp - k) / stride + 1);
    let taps = mul(c, mul(k, k).unwrap_or(u64::MAX));
    b.room_for(taps.and_then(|t| mul(t, out)).and_then(|w| w.checked_add(out as u64)))?;
    b.activation(out as u64, oh as u64, ow as u64)?;
    let init = InitRule::Uniform(1.0 / ((c * k * k) as f32).sqrt());
    let wt = b.declare("conv.weight", vec![out, c, k, k], init);
    b.declare("conv.bias", vec![out], init);
    boxed(Conv::new(c, h, w, out, k, stride, pad, wt))
}
