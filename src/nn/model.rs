//! A sequential model on flat buffers: parameters and gradients are single `f32` slices in
//! PyTorch's `model.parameters()` order (each weight row-major in PyTorch's own shape), and
//! every activation lives in a preallocated [`Workspace`], so a training step allocates
//! nothing. Matrix products go through `matrixmultiply::sgemm`; convolutions are im2col
//! followed by a GEMM.

use super::gemm::sgemm;
use super::simd;
use super::spec::LayerSpec;
use anyhow::{bail, Result};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Channels × height × width of an activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug)]
enum Layer {
    Linear {
        inp: usize,
        out: usize,
        w: usize,
        b: usize,
    },
    Conv {
        cin: usize,
        h: usize,
        wd: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        oh: usize,
        ow: usize,
        w: usize,
        b: usize,
    },
    Relu,
    Tanh,
    Sigmoid,
    MaxPool {
        c: usize,
        h: usize,
        wd: usize,
        k: usize,
        oh: usize,
        ow: usize,
    },
    Flatten,
}

/// A model: layers, then log-softmax and the mean negative log-likelihood.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    layers: Vec<Layer>,
    /// Features of each activation: `sizes[0]` the input, `sizes[i + 1]` layer i's output.
    sizes: Vec<usize>,
    pub n_params: usize,
    /// (name, shape) of each parameter tensor, in order.
    pub param_shapes: Vec<(String, Vec<usize>)>,
    /// Multiply-adds of one sample's forward pass (for FLOP counts).
    pub forward_macs: usize,
    /// Multiply-adds of one sample's forward and backward pass: forward, weight gradient,
    /// and input gradient for every parametrised layer except the first.
    pub train_macs: usize,
}

/// Activations, their gradients and scratch space for batches of up to `cap` samples.
pub struct Workspace {
    cap: usize,
    acts: Vec<Vec<f32>>,
    dacts: Vec<Vec<f32>>,
    cols: Vec<Vec<f32>>,
    dcols: Vec<f32>,
    scratch: Vec<f32>,
    /// Kernel-tap offsets into the padded input of each stride-1 conv layer.
    taps: Vec<Vec<usize>>,
    argmax: Vec<Vec<u32>>,
}

impl Workspace {
    /// The input buffer for `n` samples: write the normalised batch here.
    pub fn input_mut(&mut self, n: usize) -> &mut [f32] {
        let s = self.acts[0].len() / self.cap;
        &mut self.acts[0][..n * s]
    }
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

impl Model {
    /// Builds the layers for inputs of `input` shape and `classes` outputs.
    pub fn new(name: &str, specs: &[LayerSpec], input: Shape, classes: usize) -> Result<Model> {
        let mut shape = input;
        let mut layers = Vec::new();
        let mut sizes = vec![input.len()];
        let mut n = 0usize;
        let mut shapes = Vec::new();
        let mut macs = 0usize;
        let mut train_macs = 0usize;
        for (i, s) in specs.iter().enumerate() {
            let l = match *s {
                LayerSpec::Linear { out } => {
                    let inp = shape.len();
                    let l = Layer::Linear { inp, out, w: n, b: n + inp * out };
                    shapes.push((format!("{i}.linear.weight"), vec![out, inp]));
                    shapes.push((format!("{i}.linear.bias"), vec![out]));
                    n += inp * out + out;
                    macs += inp * out;
                    train_macs += inp * out * if train_macs == 0 { 2 } else { 3 };
                    shape = Shape { c: out, h: 1, w: 1 };
                    l
                }
                LayerSpec::Conv { out, k, stride, pad } => {
                    if shape.h == 1 && shape.w == 1 && i > 0 {
                        bail!("layer {} (conv) needs an image, but its input is flat (put conv layers before linear ones)", i + 1);
                    }
                    if shape.h + 2 * pad < k || shape.w + 2 * pad < k {
                        bail!("layer {} (conv k={k}): kernel larger than its {}×{} input", i + 1, shape.h, shape.w);
                    }
                    let (oh, ow) = ((shape.h + 2 * pad - k) / stride + 1, (shape.w + 2 * pad - k) / stride + 1);
                    let kk = shape.c * k * k;
                    let l = Layer::Conv {
                        cin: shape.c,
                        h: shape.h,
                        wd: shape.w,
                        cout: out,
                        k,
                        stride,
                        pad,
                        oh,
                        ow,
                        w: n,
                        b: n + out * kk,
                    };
                    shapes.push((format!("{i}.conv.weight"), vec![out, shape.c, k, k]));
                    shapes.push((format!("{i}.conv.bias"), vec![out]));
                    n += out * kk + out;
                    macs += out * kk * oh * ow;
                    train_macs += out * kk * oh * ow * if train_macs == 0 { 2 } else { 3 };
                    shape = Shape { c: out, h: oh, w: ow };
                    l
                }
                LayerSpec::MaxPool { k } => {
                    if shape.h < k || shape.w < k {
                        bail!("layer {} (maxpool {k}): window larger than its {}×{} input", i + 1, shape.h, shape.w);
                    }
                    let l = Layer::MaxPool { c: shape.c, h: shape.h, wd: shape.w, k, oh: shape.h / k, ow: shape.w / k };
                    shape = Shape { c: shape.c, h: shape.h / k, w: shape.w / k };
                    l
                }
                LayerSpec::Relu => Layer::Relu,
                LayerSpec::Tanh => Layer::Tanh,
                LayerSpec::Sigmoid => Layer::Sigmoid,
                LayerSpec::Flatten => {
                    shape = Shape { c: shape.len(), h: 1, w: 1 };
                    Layer::Flatten
                }
            };
            layers.push(l);
            sizes.push(shape.len());
        }
        if shape.len() != classes {
            bail!(
                "the model ends with {} outputs, but the data has {classes} classes (end with linear({classes}))",
                shape.len()
            );
        }
        if n == 0 {
            bail!("the model has no parameters (add a linear or conv layer)");
        }
        Ok(Model {
            name: name.to_string(),
            layers,
            sizes,
            n_params: n,
            param_shapes: shapes,
            forward_macs: macs,
            train_macs,
        })
    }

    /// The parameter tensors (names, offsets, PyTorch shapes), for optimizers that work
    /// tensor by tensor.
    pub fn layout(&self) -> crate::optim::Layout {
        let shapes: Vec<(&str, Vec<usize>)> = self.param_shapes.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
        crate::optim::Layout::of(&shapes)
    }

    /// Parameters initialised as PyTorch does by default (kaiming-uniform with a = √5 for
    /// weights, i.e. U(±1/√fan_in), and U(±1/√fan_in) for biases), from `seed`.
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = vec![0f32; self.n_params];
        let mut uniform = |dst: &mut [f32], bound: f32| {
            for v in dst {
                let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
                *v = (2.0 * u - 1.0) * bound;
            }
        };
        for l in &self.layers {
            let (w, b, fan_in, wn, bn) = match *l {
                Layer::Linear { inp, out, w, b } => (w, b, inp, inp * out, out),
                Layer::Conv { cin, cout, k, w, b, .. } => (w, b, cin * k * k, cout * cin * k * k, cout),
                _ => continue,
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            uniform(&mut p[w..w + wn], bound);
            uniform(&mut p[b..b + bn], bound);
        }
        p
    }

    /// Features of one input sample.
    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    /// A workspace for batches of up to `cap` samples.
    pub fn workspace(&self, cap: usize) -> Workspace {
        let acts: Vec<Vec<f32>> = self.sizes.iter().map(|&s| vec![0f32; s * cap]).collect();
        let dacts = acts.clone();
        let mut cols = Vec::new();
        let mut argmax = Vec::new();
        let (mut dcols, mut scratch) = (0, 0);
        let mut taps = Vec::new();
        for l in &self.layers {
            match *l {
                Layer::Conv { cin, h, wd, cout, k, stride, pad, oh, ow, .. } => {
                    if stride == 1 {
                        // padded input per sample; wide output and padded input gradient
                        let (hp, wp) = (h + 2 * pad, wd + 2 * pad);
                        taps.push(tap_offsets(cin, k, hp * wp, wp));
                        cols.push(vec![0f32; cap * cin * hp * wp]);
                        dcols = dcols.max(cout * oh * wp);
                        scratch = scratch.max(cin * hp * wp);
                    } else {
                        taps.push(Vec::new());
                        cols.push(vec![0f32; cap * cin * k * k * oh * ow]);
                        dcols = dcols.max(cin * k * k * oh * ow);
                    }
                }
                Layer::MaxPool { c, oh, ow, .. } => argmax.push(vec![0u32; cap * c * oh * ow]),
                _ => {}
            }
        }
        Workspace { cap, acts, dacts, cols, dcols: vec![0f32; dcols], scratch: vec![0f32; scratch], taps, argmax }
    }

    /// Forward pass over the `n` samples in the workspace's input; returns the log-probabilities
    /// (`n` × classes).
    pub fn forward<'w>(&self, params: &[f32], ws: &'w mut Workspace, n: usize) -> &'w [f32] {
        assert!(n <= ws.cap && params.len() == self.n_params);
        let (mut ci, mut pi) = (0, 0);
        for (i, l) in self.layers.iter().enumerate() {
            let (lo, hi) = ws.acts.split_at_mut(i + 1);
            let x = &lo[i][..n * self.sizes[i]];
            let y = &mut hi[0][..n * self.sizes[i + 1]];
            match *l {
                Layer::Linear { inp, out, w, b } => {
                    let wt = &params[w..w + inp * out];
                    if simd::x_wt(x, wt, n, inp, out, y) {
                        for row in y.chunks_exact_mut(out) {
                            row.iter_mut().zip(&params[b..b + out]).for_each(|(v, &bias)| *v += bias);
                        }
                    } else if out <= SKINNY {
                        // few outputs (a classifier head): one dot product per output, which
                        // beats a GEMM kernel whose tiles would be mostly padding
                        for (xr, yr) in x.chunks_exact(inp).zip(y.chunks_exact_mut(out)) {
                            for (o, yv) in yr.iter_mut().enumerate() {
                                *yv = params[b + o] + dot(xr, &wt[o * inp..(o + 1) * inp]);
                            }
                        }
                    } else {
                        for row in y.chunks_exact_mut(out) {
                            row.copy_from_slice(&params[b..b + out]);
                        }
                        // Y[n,out] += X[n,in] · Wᵀ
                        sgemm(n, inp, out, x, inp, 1, wt, 1, inp, 1.0, y, out, 1);
                    }
                }
                Layer::Conv { cin, h, wd, cout, k, stride: 1, pad, oh, ow, w, b } => {
                    let (hp, wp) = (h + 2 * pad, wd + 2 * pad);
                    let padded = &mut ws.cols[ci];
                    let wide = &mut ws.dcols[..cout * oh * wp];
                    let offs = &ws.taps[ci];
                    for s in 0..n {
                        let ps = &mut padded[s * cin * hp * wp..(s + 1) * cin * hp * wp];
                        pad_input(&x[s * cin * h * wd..(s + 1) * cin * h * wd], cin, h, wd, pad, ps);
                        let ys = &mut y[s * cout * oh * ow..(s + 1) * cout * oh * ow];
                        let wts = &params[w..w + cout * cin * k * k];
                        if simd::conv_rows(ps, wts, &params[b..b + cout], cout, offs, wp, oh, ow, ys) {
                            continue;
                        }
                        conv_wide_forward(ps, wts, &params[b..b + cout], offs, cout, wp, oh, ow, wide);
                        for c in 0..cout {
                            for oy in 0..oh {
                                let src = &wide[c * oh * wp + oy * wp..c * oh * wp + oy * wp + ow];
                                ys[(c * oh + oy) * ow..(c * oh + oy + 1) * ow].copy_from_slice(src);
                            }
                        }
                    }
                    ci += 1;
                }
                Layer::Conv { cin, h, wd, cout, k, stride, pad, oh, ow, w, b } => {
                    let (kk, pp) = (cin * k * k, oh * ow);
                    let cols = &mut ws.cols[ci];
                    for s in 0..n {
                        let col = &mut cols[s * kk * pp..(s + 1) * kk * pp];
                        im2col(&x[s * cin * h * wd..(s + 1) * cin * h * wd], cin, h, wd, k, stride, pad, oh, ow, col);
                        let ys = &mut y[s * cout * pp..(s + 1) * cout * pp];
                        for (c, plane) in ys.chunks_exact_mut(pp).enumerate() {
                            plane.fill(params[b + c]);
                        }
                        sgemm(cout, kk, pp, &params[w..w + cout * kk], kk, 1, col, pp, 1, 1.0, ys, pp, 1);
                    }
                    ci += 1;
                }
                Layer::Relu => y.iter_mut().zip(x).for_each(|(o, &v)| *o = if v > 0.0 { v } else { 0.0 }),
                Layer::Tanh => y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh()),
                Layer::Sigmoid => y.iter_mut().zip(x).for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp())),
                Layer::Flatten => y.copy_from_slice(x),
                Layer::MaxPool { c, h, wd, k: 2, oh, ow } => {
                    // the common 2×2 window, unrolled
                    let am = &mut ws.argmax[pi];
                    for s in 0..n {
                        let xs = &x[s * c * h * wd..(s + 1) * c * h * wd];
                        let base = s * c * oh * ow;
                        for ch in 0..c {
                            let o = base + ch * oh * ow;
                            let plane = &xs[ch * h * wd..(ch + 1) * h * wd];
                            if simd::maxpool2(
                                plane,
                                h,
                                wd,
                                (ch * h * wd) as u32,
                                &mut y[o..o + oh * ow],
                                &mut am[o..o + oh * ow],
                            ) {
                                continue;
                            }
                            for oy in 0..oh {
                                let r0 = ch * h * wd + 2 * oy * wd;
                                let (row0, row1) = (&xs[r0..r0 + wd], &xs[r0 + wd..r0 + 2 * wd]);
                                let o = base + (ch * oh + oy) * ow;
                                let (yo, ao) = (&mut y[o..o + ow], &mut am[o..o + ow]);
                                // branch-free selects, so the loop vectorises; the first
                                // maximum wins and NaN propagates, as in PyTorch
                                let (r0u, wdu) = (r0 as u32, wd as u32);
                                for (ox, ((p0, p1), (yv, av))) in row0
                                    .chunks_exact(2)
                                    .zip(row1.chunks_exact(2))
                                    .zip(yo.iter_mut().zip(ao.iter_mut()))
                                    .enumerate()
                                {
                                    let (mut best, mut at) = (p0[0], 0u32);
                                    let t = p0[1] > best || p0[1].is_nan();
                                    best = if t { p0[1] } else { best };
                                    at = if t { 1 } else { at };
                                    let t = p1[0] > best || p1[0].is_nan();
                                    best = if t { p1[0] } else { best };
                                    at = if t { wdu } else { at };
                                    let t = p1[1] > best || p1[1].is_nan();
                                    best = if t { p1[1] } else { best };
                                    at = if t { wdu + 1 } else { at };
                                    *yv = best;
                                    *av = r0u + 2 * ox as u32 + at;
                                }
                            }
                        }
                    }
                    pi += 1;
                }
                Layer::MaxPool { c, h, wd, k, oh, ow } => {
                    let am = &mut ws.argmax[pi];
                    for s in 0..n {
                        let xs = &x[s * c * h * wd..(s + 1) * c * h * wd];
                        for ch in 0..c {
                            for oy in 0..oh {
                                for ox in 0..ow {
                                    let (mut best, mut at) = (f32::NEG_INFINITY, 0usize);
                                    for ky in 0..k {
                                        for kx in 0..k {
                                            let idx = ch * h * wd + (oy * k + ky) * wd + ox * k + kx;
                                            let v = xs[idx];
                                            // first maximum wins, NaN propagates (as PyTorch)
                                            if v > best || v.is_nan() {
                                                best = v;
                                                at = idx;
                                            }
                                        }
                                    }
                                    let o = s * c * oh * ow + ch * oh * ow + oy * ow + ox;
                                    y[o] = best;
                                    am[o] = at as u32;
                                }
                            }
                        }
                    }
                    pi += 1;
                }
            }
        }
        // log-softmax in place on the logits
        let classes = *self.sizes.last().unwrap();
        let z = &mut ws.acts.last_mut().unwrap()[..n * classes];
        for row in z.chunks_exact_mut(classes) {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&v| (v - m).exp()).sum();
            let lse = sum.ln();
            for v in row.iter_mut() {
                *v = *v - m - lse;
            }
        }
        &ws.acts.last().unwrap()[..n * classes]
    }

    /// Mean negative log-likelihood of `labels` for the batch in the workspace, and its
    /// gradient with respect to every parameter, written into `grad`.
    pub fn loss_and_grad(&self, params: &[f32], grad: &mut [f32], ws: &mut Workspace, labels: &[u8]) -> f32 {
        let n = labels.len();
        let classes = *self.sizes.last().unwrap();
        self.forward(params, ws, n);
        let nl = self.layers.len();
        let mut loss = 0f32;
        {
            let logp = &ws.acts[nl][..n * classes];
            let dz = &mut ws.dacts[nl][..n * classes];
            let inv = 1.0 / n as f32;
            for (&y, (lp, d)) in labels.iter().zip(logp.chunks_exact(classes).zip(dz.chunks_exact_mut(classes))) {
                loss -= lp[y as usize];
                for (c, (dv, &l)) in d.iter_mut().zip(lp).enumerate() {
                    *dv = l.exp() * inv - if c == y as usize { inv } else { 0.0 };
                }
            }
            loss *= inv;
        }
        self.backward(params, grad, ws, n);
        loss
    }

    fn backward(&self, params: &[f32], grad: &mut [f32], ws: &mut Workspace, n: usize) {
        let (mut ci, mut pi) = (ws.cols.len(), ws.argmax.len());
        for (i, l) in self.layers.iter().enumerate().rev() {
            let need_dx = i > 0;
            let (lo, hi) = ws.dacts.split_at_mut(i + 1);
            let dy = &hi[0][..n * self.sizes[i + 1]];
            let dx = &mut lo[i][..n * self.sizes[i]];
            let x = &ws.acts[i][..n * self.sizes[i]];
            let y = &ws.acts[i + 1][..n * self.sizes[i + 1]];
            match *l {
                Layer::Linear { inp, out, w, b } if out <= SKINNY => {
                    let (gw, gb) = grad[w..b + out].split_at_mut(inp * out);
                    let vector_dw = simd::dyt_x(dy, x, n, inp, out, gw);
                    if !vector_dw {
                        gw.fill(0.0);
                    }
                    gb.fill(0.0);
                    let wt = &params[w..w + inp * out];
                    for (j, (xr, dyr)) in x.chunks_exact(inp).zip(dy.chunks_exact(out)).enumerate() {
                        for (o, &g) in dyr.iter().enumerate() {
                            gb[o] += g;
                            if !vector_dw {
                                axpy(g, xr, &mut gw[o * inp..(o + 1) * inp]);
                            }
                        }
                        if need_dx {
                            let dxr = &mut dx[j * inp..(j + 1) * inp];
                            dxr.fill(0.0);
                            for (o, &g) in dyr.iter().enumerate() {
                                axpy(g, &wt[o * inp..(o + 1) * inp], dxr);
                            }
                        }
                    }
                }
                Layer::Linear { inp, out, w, b } => {
                    // dW[out,in] = dYᵀ · X ;  db = Σ rows of dY ;  dX = dY · W
                    if !simd::dyt_x(dy, x, n, inp, out, &mut grad[w..w + inp * out]) {
                        sgemm(out, n, inp, dy, 1, out, x, inp, 1, 0.0, &mut grad[w..w + inp * out], inp, 1);
                    }
                    let db = &mut grad[b..b + out];
                    db.fill(0.0);
                    for row in dy.chunks_exact(out) {
                        db.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
                    }
                    if need_dx {
                        sgemm(n, out, inp, dy, out, 1, &params[w..w + inp * out], inp, 1, 0.0, dx, inp, 1);
                    }
                }
                Layer::Conv { cin, h, wd, cout, k, stride: 1, pad, oh, ow, w, b } => {
                    ci -= 1;
                    let (hp, wp) = (h + 2 * pad, wd + 2 * pad);
                    let padded = &ws.cols[ci];
                    let kk = cin * k * k;
                    grad[w..w + cout * kk].fill(0.0);
                    grad[b..b + cout].fill(0.0);
                    let dwide = &mut ws.dcols[..cout * oh * wp];
                    dwide.fill(0.0);
                    let offs = &ws.taps[ci];
                    for s in 0..n {
                        let dys = &dy[s * cout * oh * ow..(s + 1) * cout * oh * ow];
                        for c in 0..cout {
                            grad[b + c] += sum(&dys[c * oh * ow..(c + 1) * oh * ow]);
                        }
                        let ps = &padded[s * cin * hp * wp..(s + 1) * cin * hp * wp];
                        let direct =
                            simd::conv_rows_weight_grad(ps, dys, cout, offs, wp, oh, ow, &mut grad[w..w + cout * kk]);
                        if !direct || need_dx {
                            // the portable kernels work on the gradient laid out `wp` wide
                            for c in 0..cout {
                                for oy in 0..oh {
                                    dwide[c * oh * wp + oy * wp..c * oh * wp + oy * wp + ow]
                                        .copy_from_slice(&dys[(c * oh + oy) * ow..(c * oh + oy + 1) * ow]);
                                }
                            }
                        }
                        if !direct {
                            conv_wide_weight_grad(ps, dwide, offs, cout, wp, oh, ow, &mut grad[w..w + cout * kk]);
                        }
                        if need_dx {
                            let dpad = &mut ws.scratch[..cin * hp * wp];
                            dpad.fill(0.0);
                            conv_wide_input_grad(dwide, &params[w..w + cout * kk], cin, cout, k, wp, oh, ow, dpad);
                            let dxs = &mut dx[s * cin * h * wd..(s + 1) * cin * h * wd];
                            for c in 0..cin {
                                for iy in 0..h {
                                    let src = &dpad
                                        [c * hp * wp + (iy + pad) * wp + pad..c * hp * wp + (iy + pad) * wp + pad + wd];
                                    dxs[(c * h + iy) * wd..(c * h + iy + 1) * wd].copy_from_slice(src);
                                }
                            }
                        }
                    }
                }
                Layer::Conv { cin, h, wd, cout, k, stride, pad, oh, ow, w, b } => {
                    ci -= 1;
                    let (kk, pp) = (cin * k * k, oh * ow);
                    let cols = &ws.cols[ci];
                    grad[w..w + cout * kk].fill(0.0);
                    grad[b..b + cout].fill(0.0);
                    for s in 0..n {
                        let dys = &dy[s * cout * pp..(s + 1) * cout * pp];
                        let col = &cols[s * kk * pp..(s + 1) * kk * pp];
                        sgemm(cout, pp, kk, dys, pp, 1, col, 1, pp, 1.0, &mut grad[w..w + cout * kk], kk, 1);
                        for (c, plane) in dys.chunks_exact(pp).enumerate() {
                            grad[b + c] += sum(plane);
                        }
                        if need_dx {
                            let dcol = &mut ws.dcols[..kk * pp];
                            sgemm(kk, cout, pp, &params[w..w + cout * kk], 1, kk, dys, pp, 1, 0.0, dcol, pp, 1);
                            let dxs = &mut dx[s * cin * h * wd..(s + 1) * cin * h * wd];
                            dxs.fill(0.0);
                            col2im(dcol, cin, h, wd, k, stride, pad, oh, ow, dxs);
                        }
                    }
                }
                Layer::Relu => {
                    if need_dx {
                        dx.iter_mut().zip(dy).zip(y).for_each(|((d, &g), &o)| *d = if o > 0.0 { g } else { 0.0 });
                    }
                }
                Layer::Tanh => {
                    if need_dx {
                        dx.iter_mut().zip(dy).zip(y).for_each(|((d, &g), &o)| *d = g * (1.0 - o * o));
                    }
                }
                Layer::Sigmoid => {
                    if need_dx {
                        dx.iter_mut().zip(dy).zip(y).for_each(|((d, &g), &o)| *d = g * (1.0 - o) * o);
                    }
                }
                Layer::Flatten => {
                    if need_dx {
                        dx.copy_from_slice(dy);
                    }
                }
                Layer::MaxPool { c, h, wd, oh, ow, .. } => {
                    pi -= 1;
                    if need_dx {
                        let am = &ws.argmax[pi];
                        dx.fill(0.0);
                        let (ins, outs) = (c * h * wd, c * oh * ow);
                        for s in 0..n {
                            // windows do not overlap: each input gets at most one gradient
                            let (dxs, ams, dys) = (
                                &mut dx[s * ins..(s + 1) * ins],
                                &am[s * outs..(s + 1) * outs],
                                &dy[s * outs..(s + 1) * outs],
                            );
                            if !simd::scatter_unique(dxs, ams, dys) {
                                for (&a, &g) in ams.iter().zip(dys) {
                                    dxs[a as usize] += g;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sum of the per-sample losses and the number of correct predictions for the batch in
    /// the workspace (`labels.len()` samples).
    pub fn evaluate(&self, params: &[f32], ws: &mut Workspace, labels: &[u8]) -> (f64, usize) {
        let classes = *self.sizes.last().unwrap();
        let logp = self.forward(params, ws, labels.len());
        let (mut loss, mut correct) = (0f64, 0usize);
        for (row, &y) in logp.chunks_exact(classes).zip(labels) {
            loss -= row[y as usize] as f64;
            let arg = row.iter().enumerate().fold(0, |a, (i, &v)| if v > row[a] { i } else { a });
            correct += (arg == y as usize) as usize;
        }
        (loss, correct)
    }
}

#[allow(clippy::too_many_arguments)]
fn im2col(
    x: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    col: &mut [f32],
) {
    let pp = oh * ow;
    for c in 0..cin {
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut col[((c * k + ky) * k + kx) * pp..((c * k + ky) * k + kx + 1) * pp];
                for oy in 0..oh {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    let dst = &mut row[oy * ow..(oy + 1) * ow];
                    if iy < 0 || iy >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &x[c * h * w + iy as usize * w..c * h * w + (iy as usize + 1) * w];
                    for (ox, d) in dst.iter_mut().enumerate() {
                        let ix = (ox * stride + kx) as isize - pad as isize;
                        *d = if ix < 0 || ix >= w as isize { 0.0 } else { src[ix as usize] };
                    }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn col2im(
    col: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    dx: &mut [f32],
) {
    let pp = oh * ow;
    for c in 0..cin {
        for ky in 0..k {
            for kx in 0..k {
                let row = &col[((c * k + ky) * k + kx) * pp..((c * k + ky) * k + kx + 1) * pp];
                for oy in 0..oh {
                    let iy = (oy * stride + ky) as isize - pad as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for ox in 0..ow {
                        let ix = (ox * stride + kx) as isize - pad as isize;
                        if ix >= 0 && ix < w as isize {
                            dx[c * h * w + iy as usize * w + ix as usize] += row[oy * ow + ox];
                        }
                    }
                }
            }
        }
    }
}

/// Copies one sample (`cin` planes of h×w) into a zero-bordered buffer of (h+2p)×(w+2p) planes.
fn pad_input(x: &[f32], cin: usize, h: usize, w: usize, pad: usize, out: &mut [f32]) {
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    if pad > 0 {
        out.fill(0.0);
    }
    for c in 0..cin {
        for iy in 0..h {
            let dst = c * hp * wp + (iy + pad) * wp + pad;
            out[dst..dst + w].copy_from_slice(&x[(c * h + iy) * w..(c * h + iy + 1) * w]);
        }
    }
}

/// Offsets into a padded sample (planes of `plane` values, rows `wp` apart) of each kernel
/// tap (ci, ky, kx), in the weights' order.
fn tap_offsets(cin: usize, k: usize, plane: usize, wp: usize) -> Vec<usize> {
    (0..cin * k * k).map(|t| (t / (k * k)) * plane + ((t / k) % k) * wp + t % k).collect()
}

/// Length of the "wide" run of a stride-1 convolution: output rows are computed `wp` apart
/// (the padded width), so one contiguous loop covers a whole output plane; the columns past
/// `ow` in each row are junk and never read.
#[inline]
fn wide_len(wp: usize, oh: usize, ow: usize) -> usize {
    (oh - 1) * wp + ow
}

/// Stride-1 convolution of one padded sample into `wide` (cout planes of oh rows × wp).
/// Output channels go in groups of up to 4, 16 outputs at a time, so that each input
/// window is loaded once for the whole group and the sums stay in registers.
#[allow(clippy::too_many_arguments)]
fn conv_wide_forward(
    padded: &[f32],
    wt: &[f32],
    bias: &[f32],
    offs: &[usize],
    cout: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    wide: &mut [f32],
) {
    let len = wide_len(wp, oh, ow);
    let taps = offs.len();
    let mut c0 = 0;
    while c0 < cout {
        if simd::conv_wide_group(padded, wt, bias, c0, (cout - c0).min(4), taps, offs, len, oh * wp, wide) {
            c0 += 4;
            continue;
        }
        match cout - c0 {
            1 => conv_group::<1>(padded, wt, bias, c0, taps, offs, len, oh * wp, wide),
            2 => conv_group::<2>(padded, wt, bias, c0, taps, offs, len, oh * wp, wide),
            3 => conv_group::<3>(padded, wt, bias, c0, taps, offs, len, oh * wp, wide),
            _ => conv_group::<4>(padded, wt, bias, c0, taps, offs, len, oh * wp, wide),
        }
        c0 += 4;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn conv_group<const G: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: &[f32],
    c0: usize,
    taps: usize,
    offs: &[usize],
    len: usize,
    stride: usize,
    wide: &mut [f32],
) {
    let mut j = 0;
    while j < len {
        let m = (len - j).min(16);
        let mut acc = [[0f32; 16]; G];
        for (g, a) in acc.iter_mut().enumerate() {
            *a = [bias[c0 + g]; 16];
        }
        if m == 16 {
            for (t, &off) in offs.iter().enumerate() {
                let src: &[f32; 16] = padded[off + j..off + j + 16].try_into().unwrap();
                for (g, a) in acc.iter_mut().enumerate() {
                    let wv = wt[(c0 + g) * taps + t];
                    for i in 0..16 {
                        a[i] = wv.mul_add(src[i], a[i]);
                    }
                }
            }
        } else {
            for (t, &off) in offs.iter().enumerate() {
                let src = &padded[off + j..off + j + m];
                for (g, a) in acc.iter_mut().enumerate() {
                    let wv = wt[(c0 + g) * taps + t];
                    for i in 0..m {
                        a[i] = wv.mul_add(src[i], a[i]);
                    }
                }
            }
        }
        for (g, a) in acc.iter().enumerate() {
            let o = (c0 + g) * stride + j;
            wide[o..o + m].copy_from_slice(&a[..m]);
        }
        j += m;
    }
}

/// Linear layers with at most this many outputs use dot products instead of a GEMM.
const SKINNY: usize = 16;

/// y += a·x (vectorises).
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = a.mul_add(xv, *yv);
    }
}

/// Adds one sample's weight gradient: dW[c][ci][ky][kx] += Σ_j dwide[c][j]·padded[ci][ky·wp + kx + j].
#[allow(clippy::too_many_arguments)]
fn conv_wide_weight_grad(
    padded: &[f32],
    dwide: &[f32],
    offs: &[usize],
    cout: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    dw: &mut [f32],
) {
    let len = wide_len(wp, oh, ow);
    if simd::conv_wide_weight_grad(padded, dwide, cout, offs, len, oh * wp, dw) {
        return;
    }
    let taps = offs.len();
    for c in 0..cout {
        let d = &dwide[c * oh * wp..c * oh * wp + len];
        for (t, &off) in offs.iter().enumerate() {
            dw[c * taps + t] += dot(d, &padded[off..off + len]);
        }
    }
}

/// The gradient with respect to the padded input: dpad[ci][ky·wp + kx + j] += w·dwide[c][j].
#[allow(clippy::too_many_arguments)]
fn conv_wide_input_grad(
    dwide: &[f32],
    wt: &[f32],
    cin: usize,
    cout: usize,
    k: usize,
    wp: usize,
    oh: usize,
    ow: usize,
    dpad: &mut [f32],
) {
    let len = wide_len(wp, oh, ow);
    let hp = dpad.len() / cin;
    for c in 0..cout {
        let d = &dwide[c * oh * wp..c * oh * wp + len];
        for ci in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    let wv = wt[((c * cin + ci) * k + ky) * k + kx];
                    let off = ci * hp + ky * wp + kx;
                    for (o, &g) in dpad[off..off + len].iter_mut().zip(d) {
                        *o = wv.mul_add(g, *o);
                    }
                }
            }
        }
    }
}

/// Dot product with 16 independent partial sums, so it vectorises without reassociation
/// by the compiler (the order of the sum is fixed, so results are deterministic).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail = x.mul_add(*y, tail);
    }
    acc.iter().sum::<f32>() + tail
}

/// Sum with 16 independent partial sums (vectorises; fixed order, so deterministic).
#[inline]
pub fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let c = a.chunks_exact(16);
    let tail: f32 = c.remainder().iter().sum();
    for x in c {
        for i in 0..16 {
            acc[i] += x[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
