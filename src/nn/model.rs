//! A sequential model on flat buffers: parameters and gradients are single `f32` slices in
//! PyTorch's `model.parameters()` order (each weight row-major in PyTorch's own shape), and
//! every activation lives in a preallocated [`Workspace`], so a training step allocates
//! nothing. The layers (one file per kind in `layers/`) do their arithmetic with the
//! run-time chosen kernels (`crate::kernels`), whose every path gives the same bits; the
//! workspace says which path it runs on.

use super::layers::{Activation, Conv, Ctx, Grads, Layer, Linear, MaxPool, Scratch};
use super::spec::LayerSpec;
use crate::kernels::{self, Kernels, Path};
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

/// Activations, their gradients and each layer's scratch space for batches of up to `cap`
/// samples, and the kernels the passes run on.
pub struct Workspace {
    cap: usize,
    acts: Vec<Vec<f32>>,
    dacts: Vec<Vec<f32>>,
    scratch: Vec<Scratch>,
    kernels: &'static Kernels,
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
    /// The kernel path this workspace's passes run on (the process's active one unless
    /// changed with [`Workspace::use_kernels`]).
    pub fn kernel_path(&self) -> Path {
        self.kernels.path()
    }
    /// Runs the passes on path `p` from now on; an error if this CPU cannot run it.
    pub fn use_kernels(&mut self, p: Path) -> Result<()> {
        match kernels::table(p) {
            Some(k) => {
                self.kernels = k;
                Ok(())
            }
            None => bail!("this CPU cannot run the {p} kernels ({})", p.describe()),
        }
    }
}

impl Model {
    /// Builds the layers for inputs of `input` shape and `classes` outputs.
    pub fn new(name: &str, specs: &[LayerSpec], input: Shape, classes: usize) -> Result<Model> {
        Model::build(name, specs, input, classes, true)
    }

    /// `fuse`: fold a ReLU before a 2×2 max-pool into the pool (the same numbers, fewer passes).
    fn build(name: &str, specs: &[LayerSpec], input: Shape, classes: usize, fuse: bool) -> Result<Model> {
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
                    let l = Layer::Linear(Linear { inp, out, w: n, b: n + inp * out });
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
                    let c = Conv::new(shape.c, shape.h, shape.w, out, k, stride, pad, n);
                    let (kk, oh, ow) = (shape.c * k * k, c.oh, c.ow);
                    shapes.push((format!("{i}.conv.weight"), vec![out, shape.c, k, k]));
                    shapes.push((format!("{i}.conv.bias"), vec![out]));
                    n += out * kk + out;
                    macs += out * kk * oh * ow;
                    train_macs += out * kk * oh * ow * if train_macs == 0 { 2 } else { 3 };
                    shape = Shape { c: out, h: oh, w: ow };
                    Layer::Conv(c)
                }
                LayerSpec::MaxPool { k } => {
                    if shape.h < k || shape.w < k {
                        bail!("layer {} (maxpool {k}): window larger than its {}×{} input", i + 1, shape.h, shape.w);
                    }
                    let (oh, ow) = (shape.h / k, shape.w / k);
                    // a ReLU right before a 2×2 pool is folded into it (same numbers)
                    let relu = fuse && k == 2 && matches!(layers.last(), Some(Layer::Act(Activation::Relu)));
                    if relu {
                        layers.pop();
                        sizes.pop();
                    }
                    let l = Layer::MaxPool(MaxPool { c: shape.c, h: shape.h, wd: shape.w, k, oh, ow, relu });
                    shape = Shape { c: shape.c, h: oh, w: ow };
                    l
                }
                LayerSpec::Relu => Layer::Act(Activation::Relu),
                LayerSpec::Tanh => Layer::Act(Activation::Tanh),
                LayerSpec::Sigmoid => Layer::Act(Activation::Sigmoid),
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
        for r in self.layers.iter().filter_map(Layer::params) {
            let bound = 1.0 / (r.fan_in as f32).sqrt();
            uniform(&mut p[r.w..r.w + r.w_len], bound);
            uniform(&mut p[r.b..r.b + r.b_len], bound);
        }
        p
    }

    /// Features of one input sample.
    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    /// A workspace for batches of up to `cap` samples, on the active kernel path.
    pub fn workspace(&self, cap: usize) -> Workspace {
        let acts: Vec<Vec<f32>> = self.sizes.iter().map(|&s| vec![0f32; s * cap]).collect();
        let dacts = acts.clone();
        let scratch = self.layers.iter().map(|l| l.scratch(cap)).collect();
        Workspace { cap, acts, dacts, scratch, kernels: kernels::kernels() }
    }

    /// Forward pass over the `n` samples in the workspace's input; returns the log-probabilities
    /// (`n` × classes).
    pub fn forward<'w>(&self, params: &[f32], ws: &'w mut Workspace, n: usize) -> &'w [f32] {
        assert!(n <= ws.cap && params.len() == self.n_params);
        let c = Ctx { k: ws.kernels, params, n };
        for (i, l) in self.layers.iter().enumerate() {
            let (lo, hi) = ws.acts.split_at_mut(i + 1);
            let x = &lo[i][..n * self.sizes[i]];
            let y = &mut hi[0][..n * self.sizes[i + 1]];
            l.forward(&c, x, y, &mut ws.scratch[i]);
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
        let c = Ctx { k: ws.kernels, params, n };
        for (i, l) in self.layers.iter().enumerate().rev() {
            let (lo, hi) = ws.dacts.split_at_mut(i + 1);
            let dy = &hi[0][..n * self.sizes[i + 1]];
            // the first layer's input is the data: no gradient needed
            let dx = (i > 0).then(|| &mut lo[i][..n * self.sizes[i]]);
            let x = &ws.acts[i][..n * self.sizes[i]];
            let y = &ws.acts[i + 1][..n * self.sizes[i + 1]];
            l.backward(&c, x, y, Grads { grad: &mut *grad, dy, dx }, &mut ws.scratch[i]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relu_folded_into_the_max_pool_gives_the_same_bits_as_the_two_layers() {
        let (name, specs) =
            crate::nn::spec::parse("conv(3,k=3,p=1),relu,maxpool(2),conv(2,k=3,p=1),relu,maxpool(2),linear(10)")
                .unwrap();
        let input = Shape { c: 1, h: 28, w: 28 };
        let fused = Model::build(&name, &specs, input, 10, true).unwrap();
        let plain = Model::build(&name, &specs, input, 10, false).unwrap();
        assert_eq!(fused.layers.len() + 2, plain.layers.len());
        let params = fused.init(3);
        let labels: Vec<u8> = (0..5).map(|i| (i * 3 % 10) as u8).collect();
        let mut out = Vec::new();
        for m in [&fused, &plain] {
            let mut ws = m.workspace(5);
            // many negative inputs, exact zeros and ties
            for (i, v) in ws.input_mut(5).iter_mut().enumerate() {
                *v = ((i * 7919 % 13) as f32 - 8.0) * 0.25;
            }
            let mut grad = vec![0f32; m.n_params];
            let loss = m.loss_and_grad(&params, &mut grad, &mut ws, &labels);
            out.push((loss.to_bits(), grad.iter().map(|g| g.to_bits()).collect::<Vec<_>>()));
        }
        assert_eq!(out[0], out[1]);
    }
}
