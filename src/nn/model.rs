//! An image classifier on flat buffers: a [`Sequential`] of layers, then log-softmax and
//! the mean negative log-likelihood. Parameters and gradients are single `f32` slices in
//! PyTorch's `model.parameters()` order (each weight row-major in PyTorch's own shape), and
//! every activation lives in a preallocated [`Workspace`], so a training step allocates
//! nothing. The layers (one file per kind in `layers/`) do their arithmetic with the
//! run-time chosen kernels (`crate::kernels`), whose every path gives the same bits; the
//! workspace says which path it runs on.

use super::build::{self, Builder};
use super::layer::{Ctx, Dims};
use super::params::Params;
use super::sequential::{SeqWork, Sequential};
use super::spec::LayerSpec;
use crate::kernels::{self, Kernels, Path};
use crate::limits::{self, Allow};
use anyhow::{bail, Result};

/// Channels × height × width of an image.
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
#[derive(Debug)]
pub struct Model {
    pub name: String,
    /// The shape of one input sample (channels × height × width).
    pub input: Shape,
    body: Sequential,
    /// The parameter tensors, declared by the layers.
    pub params: Params,
    pub n_params: usize,
    /// (name, shape) of each parameter tensor, in order.
    pub param_shapes: Vec<(String, Vec<usize>)>,
    /// Multiply-adds of one sample's forward pass (for FLOP counts).
    pub forward_macs: usize,
    /// Multiply-adds of one sample's forward and backward pass: forward, weight gradient,
    /// and input gradient for every parametrised layer except the first.
    pub train_macs: usize,
    /// Whether every layer writes its parameters' gradients (no zeroing before a backward).
    writes_grads: bool,
}

/// The input, each layer's output and scratch, the log-probabilities and their gradient and
/// the gradients between layers, for batches of up to `cap` samples, and the kernels the
/// passes run on.
pub struct Workspace {
    cap: usize,
    input: Vec<f32>,
    body: SeqWork,
    logp: Vec<f32>,
    dz: Vec<f32>,
    spare: Vec<Vec<f32>>,
    kernels: &'static Kernels,
}

impl Workspace {
    /// The input buffer for `n` samples: write the normalised batch here.
    pub fn input_mut(&mut self, n: usize) -> &mut [f32] {
        let s = self.input.len() / self.cap;
        &mut self.input[..n * s]
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

/// Checked arithmetic on sizes: `None` once anything overflowed.
fn mul(a: impl TryInto<u64>, b: impl TryInto<u64>) -> Option<u64> {
    a.try_into().ok()?.checked_mul(b.try_into().ok()?)
}

/// A size that has passed its checks, back to `usize` (every checked size fits).
fn to_usize(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| anyhow::anyhow!("{v} does not fit in this machine's addresses"))
}

/// `1.5 GB`, `640 MB`, `12 kB`.
pub fn fmt_bytes(b: u64) -> String {
    let units = [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")];
    for (size, unit) in units {
        if b >= size {
            return format!("{:.1} {unit}", b as f64 / size as f64);
        }
    }
    format!("{b} bytes")
}

/// Checks the bytes something needs (`None`: more than 2^64) against [`limits::BYTES`].
pub fn check_bytes(what: &str, bytes: Option<u64>, allow: Allow) -> Result<u64, String> {
    let max = limits::BYTES.max_for(allow);
    match bytes {
        Some(b) if b <= max => Ok(b),
        _ => {
            let shown = bytes.map_or_else(|| "more than 2^64 bytes".to_string(), fmt_bytes);
            let how = if allow.large {
                String::new()
            } else {
                format!("; add --allow-large to go up to {}", fmt_bytes(limits::BYTES.large_max))
            };
            Err(format!("{what} needs {shown} of memory: the limit is {}{how}", fmt_bytes(max)))
        }
    }
}

impl Model {
    /// Builds the layers for inputs of `input` shape and `classes` outputs. Every size
    /// (layer widths, kernel, stride, padding, the activations, the parameter count and
    /// the memory the model needs for one sample) is checked with checked arithmetic against
    /// [`crate::limits`] before anything is allocated; a layer that shrinks its input below
    /// 1×1, or a conv after a flat layer, is an error that names the layer.
    pub fn new(name: &str, specs: &[LayerSpec], input: Shape, classes: usize, allow: Allow) -> Result<Model> {
        Model::build(name, specs, input, classes, allow, true)
    }

    /// `fuse`: fold a ReLU before a 2×2 max-pool into the pool (the same numbers, fewer passes).
    fn build(name: &str, specs: &[LayerSpec], input: Shape, classes: usize, allow: Allow, fuse: bool) -> Result<Model> {
        if input.c == 0 || input.h == 0 || input.w == 0 {
            bail!("the input images are {}×{}×{}: every dimension must be at least 1", input.c, input.h, input.w);
        }
        // the most values one activation (one sample) may hold: a quarter of the memory limit
        let max_act = limits::BYTES.max_for(allow) / 4;
        let input_len = mul(input.c, mul(input.h, input.w).unwrap_or(u64::MAX)).filter(|&v| v <= max_act);
        if input_len.is_none() {
            bail!("the input images of {}×{}×{} values are larger than the memory limit", input.c, input.h, input.w);
        }
        let mut params = Params::default();
        let mut b = Builder {
            params: &mut params,
            dims: Dims::fixed(&[input.c, input.h, input.w]),
            allow,
            max_act,
            prefix: String::new(),
            fuse,
            after_relu: false,
            folded: false,
            depth: 0,
            macs: 0,
        };
        let body = build::sequence(specs, &mut b, "")?;
        let macs = b.macs;
        // the multiply-adds of a training step: forward, weight gradient, and input gradient
        // for every parametrised layer but the first
        let train_macs = body
            .layers
            .iter()
            .filter(|l| l.has_params())
            .fold(0u64, |t, l| t.saturating_add(l.macs().saturating_mul(if t == 0 { 2 } else { 3 })));
        let outputs = body.out_dims().len();
        if outputs != classes {
            bail!("the model ends with {outputs} outputs, but the data has {classes} classes (end with linear({classes}))");
        }
        if params.is_empty() {
            bail!("the model has no parameters (add a linear or conv layer)");
        }
        let param_shapes = params.tensors.iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
        let mut model = Model {
            name: name.to_string(),
            input,
            body,
            n_params: params.len(),
            params,
            param_shapes,
            forward_macs: to_usize(macs).unwrap_or(usize::MAX),
            train_macs: to_usize(train_macs).unwrap_or(usize::MAX),
            writes_grads: false,
        };
        check_bytes(
            &format!("the model '{}' (one sample)", crate::nn::spec::show(name, 40)),
            model.bytes_for(1),
            allow,
        )
        .map_err(anyhow::Error::msg)?;
        // the conv layers' tables, counted in the bytes above, are made once the total is known
        model.body.layers.iter_mut().for_each(|l| l.finish());
        // every tensor belongs to one layer of the list: where all of them write their
        // gradients, nothing needs zeroing before a backward pass
        // (every layer is asked, so that each one that can write does)
        let mut all = true;
        for l in model.body.layers.iter_mut() {
            all &= l.write_param_grads();
        }
        model.writes_grads = all;
        Ok(model)
    }

    /// Values of the logits of one sample.
    fn classes(&self) -> usize {
        self.body.out_dims().len()
    }

    /// The bytes a batch of `cap` samples needs: the parameters and their gradient, and the
    /// workspace ([`Model::workspace`]: the input, every layer's output and scratch, the
    /// log-probabilities and their gradient, the gradients between layers). `None` if it
    /// does not fit in 64 bits.
    pub fn bytes_for(&self, cap: usize) -> Option<u64> {
        let params = mul(self.n_params, 8u64)?;
        let input = mul(self.input_len(), cap)?.checked_mul(4)?;
        let logits = mul(self.classes(), cap)?.checked_mul(8)?;
        let spare = self.body.spare(cap).iter().try_fold(0u64, |a, &s| a.checked_add(mul(s, 4u64)?))?;
        params
            .checked_add(input)?
            .checked_add(self.body.work_bytes(cap as u64)?)?
            .checked_add(logits)?
            .checked_add(spare)
    }

    /// The parameter tensors (names, offsets, PyTorch shapes), for optimizers that work
    /// tensor by tensor.
    pub fn layout(&self) -> crate::optim::Layout {
        self.params.layout()
    }

    /// Parameters initialised as PyTorch does by default (kaiming-uniform with a = √5 for
    /// weights, i.e. U(±1/√fan_in), and U(±1/√fan_in) for biases), from `seed`.
    pub fn init(&self, seed: u64) -> Vec<f32> {
        self.params.init(seed)
    }

    /// Features of one input sample.
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// A workspace for batches of up to `cap` samples, on the active kernel path.
    pub fn workspace(&self, cap: usize) -> Workspace {
        let classes = self.classes();
        Workspace {
            cap,
            input: vec![0f32; cap * self.input_len()],
            body: self.body.work(cap),
            logp: vec![0f32; cap * classes],
            dz: vec![0f32; cap * classes],
            spare: self.body.spare(cap).into_iter().map(|s| vec![0f32; s]).collect(),
            kernels: kernels::kernels(),
        }
    }

    /// Forward pass over the `n` samples in the workspace's input; returns the log-probabilities
    /// (`n` × classes).
    pub fn forward<'w>(&self, params: &[f32], ws: &'w mut Workspace, n: usize) -> &'w [f32] {
        assert!(n <= ws.cap && params.len() == self.n_params);
        let c = Ctx { k: ws.kernels, params, n, t: 1, tokens: &[] };
        let x = &ws.input[..n * self.input_len()];
        self.body.forward(&c, x, &mut ws.body);
        let classes = self.classes();
        super::loss::log_softmax(self.body.output(&c, &ws.body), classes, &mut ws.logp[..n * classes]);
        &ws.logp[..n * classes]
    }

    /// Mean negative log-likelihood of `labels` for the batch in the workspace, and its
    /// gradient with respect to every parameter, written into `grad`.
    pub fn loss_and_grad(&self, params: &[f32], grad: &mut [f32], ws: &mut Workspace, labels: &[u8]) -> f32 {
        let n = labels.len();
        let classes = self.classes();
        self.forward(params, ws, n);
        let loss = super::loss::class_nll(&ws.logp[..n * classes], classes, labels, &mut ws.dz[..n * classes]);
        if !self.writes_grads {
            grad.fill(0.0);
        }
        let c = Ctx { k: ws.kernels, params, n, t: 1, tokens: &[] };
        let Workspace { input, body, dz, spare, .. } = ws;
        let x = &input[..n * self.input_len()];
        self.body.backward(&c, x, body, grad, &dz[..n * classes], None, false, spare);
        loss
    }

    /// Sum of the per-sample losses and the number of correct predictions for the batch in
    /// the workspace (`labels.len()` samples).
    pub fn evaluate(&self, params: &[f32], ws: &mut Workspace, labels: &[u8]) -> (f64, usize) {
        let classes = self.classes();
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
    use crate::optim::Role;

    #[test]
    fn a_relu_folded_into_the_max_pool_gives_the_same_bits_as_the_two_layers() {
        let (name, specs) =
            crate::nn::spec::parse("conv(3,k=3,p=1),relu,maxpool(2),conv(2,k=3,p=1),relu,maxpool(2),linear(10)")
                .unwrap();
        let input = Shape { c: 1, h: 28, w: 28 };
        let fused = Model::build(&name, &specs, input, 10, Allow::DEFAULT, true).unwrap();
        let plain = Model::build(&name, &specs, input, 10, Allow::DEFAULT, false).unwrap();
        assert_eq!(fused.body.layers.len() + 2, plain.body.layers.len());
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

    fn build(spec: &str, input: Shape, allow: Allow) -> Result<Model> {
        let (name, specs) = crate::nn::spec::parse(spec)?;
        Model::new(&name, &specs, input, 10, allow)
    }

    fn err(spec: &str, input: Shape, allow: Allow) -> String {
        let t = std::time::Instant::now();
        let e = build(spec, input, allow).unwrap_err().to_string();
        assert!(t.elapsed().as_secs_f64() < 1.0, "{spec}: {:?}", t.elapsed());
        assert!(!e.contains('\n') && e.len() < 400, "{e}");
        e
    }

    const MNIST: Shape = Shape { c: 1, h: 28, w: 28 };

    #[test]
    fn the_audits_huge_layers_are_refused_before_any_allocation() {
        let e = err("conv(4294967296,k=1),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.starts_with("layer 1 (conv(4294967296,k=1,s=1,p=0)): ") && e.contains("units in one layer"), "{e}");
        assert!(err("conv(4294967296,k=1),linear(10)", MNIST, Allow::LARGE).contains("units in one layer"));
        let e = err("conv(1000,k=3,p=1000)", MNIST, Allow::DEFAULT);
        assert!(e.contains("kernel size, stride or padding") && e.contains("--allow-large"), "{e}");
        // with --allow-large the padding is allowed, and the model is too large
        let e = err("conv(1000,k=3,p=1000),linear(10)", MNIST, Allow::LARGE);
        assert!(e.contains("the limit is 4,000,000,000 parameters"), "{e}");
        // one sample's activations over the memory limit
        let e = err("conv(30000,k=3,p=64),maxpool(64),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.contains("needs 5.3 GB of memory: the limit is 4.0 GB; add --allow-large"), "{e}");
        let e = err("conv(60000,k=3,p=64),maxpool(64),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.contains("larger than the memory limit"), "{e}");
        assert!(err("linear(18446744073709551615)", MNIST, Allow::LARGE).contains("units in one layer"));
        assert!(err("conv(1,k=3,p=9223372036854775807)", MNIST, Allow::LARGE).contains("kernel size"));
        assert!(err("conv(1,k=3,s=9223372036854775807),linear(10)", MNIST, Allow::LARGE).contains("kernel size"));
        assert!(err("maxpool(18446744073709551615),linear(10)", MNIST, Allow::LARGE).contains("kernel size"));
    }

    #[test]
    fn a_model_over_1_gb_of_parameters_needs_allow_large() {
        let spec = "linear(50000),linear(5000),linear(10)";
        let e = err(spec, MNIST, Allow::DEFAULT);
        assert!(e.contains("250,000,000 parameters") && e.contains("--allow-large"), "{e}");
        let m = build(spec, MNIST, Allow::LARGE).unwrap();
        assert_eq!(m.n_params, 784 * 50000 + 50000 + 50000 * 5000 + 5000 + 5000 * 10 + 10);
        // past the hard limit even with --allow-large
        let e = err("linear(65536),linear(65536),linear(10)", Shape { c: 1, h: 1000, w: 1000 }, Allow::LARGE);
        assert!(e.contains("4,000,000,000 parameters"), "{e}");
    }

    #[test]
    fn too_much_compute_per_sample_is_refused() {
        let e = err("conv(4096,k=64,p=64),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.contains("multiply-adds per sample"), "{e}");
    }

    #[test]
    fn the_linear_layer_follows_the_input_shape() {
        for (side, inp) in [(28, 588), (40, 1200), (14, 147), (3, 3)] {
            let m = build("cnn", Shape { c: 1, h: side, w: side }, Allow::DEFAULT).unwrap();
            assert_eq!(m.param_shapes[2].1, vec![10, inp], "{side}");
            assert_eq!(m.input_len(), side * side);
        }
        let m = build("mlp", Shape { c: 1, h: 1, w: 1 }, Allow::DEFAULT).unwrap();
        assert_eq!(m.param_shapes[0].1, vec![64, 1]);
    }

    #[test]
    fn layers_that_shrink_below_1x1_are_errors_naming_the_layer() {
        let one = Shape { c: 1, h: 1, w: 1 };
        let e = err("cnn", one, Allow::DEFAULT);
        assert!(e.starts_with("layer 3 (maxpool(2)): its 1×1 input is smaller than the 2×2 window"), "{e}");
        let e = err("conv(3,k=5),linear(10)", Shape { c: 1, h: 4, w: 9 }, Allow::DEFAULT);
        assert!(e.starts_with("layer 1 (conv(3,k=5,s=1,p=0)): its 4×9 input is smaller than the 5×5 kernel"), "{e}");
        let e = err("conv(3,k=3),conv(3,k=3),linear(10)", Shape { c: 1, h: 4, w: 4 }, Allow::DEFAULT);
        assert!(e.starts_with("layer 2 (conv(3,k=3,s=1,p=0)): its 2×2 input"), "{e}");
        let e = err("linear(20),conv(3,k=1),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.starts_with("layer 2 (conv") && e.contains("input is flat"), "{e}");
        assert!(err("flatten,conv(3,k=1),linear(10)", MNIST, Allow::DEFAULT).contains("input is flat"));
        // a conv on a 1×1 image with a 1×1 kernel is fine
        build("conv(4,k=1),relu,linear(10)", one, Allow::DEFAULT).unwrap();
        assert!(err("mlp", Shape { c: 1, h: 0, w: 28 }, Allow::DEFAULT).contains("at least 1"));
        assert!(err("relu,tanh", MNIST, Allow::DEFAULT).contains("ends with 784 outputs"));
    }

    #[test]
    fn tensors_inside_blocks_are_named_by_their_path_and_a_block_keeps_its_shape() {
        let m = build("linear(16),residual(layer_norm,linear(16),gelu),linear(10)", MNIST, Allow::DEFAULT).unwrap();
        let names: Vec<&str> = m.param_shapes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "0.linear.weight",
                "0.linear.bias",
                "1.0.layer_norm.weight",
                "1.0.layer_norm.bias",
                "1.1.linear.weight",
                "1.1.linear.bias",
                "2.linear.weight",
                "2.linear.bias"
            ]
        );
        let roles: Vec<Role> = m.layout().tensors.iter().map(|t| t.role).collect();
        assert_eq!(roles[2], Role::NormGain);
        assert_eq!(roles[4], Role::Hidden);
        let e = err("linear(16),residual(linear(8)),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.starts_with("layer 2 (residual(linear(8))): residual: the body's output [8]"), "{e}");
        let e = err("linear(16),residual(linear(16),conv(2)),linear(10)", MNIST, Allow::DEFAULT);
        assert!(e.starts_with("layer 2 (residual(linear(16),conv(2,k=3,s=1,p=0))): layer 2 (conv"), "{e}");
        assert!(err("layer_norm,linear(10)", MNIST, Allow::DEFAULT).contains("needs a flat input"));
    }

    #[test]
    fn bytes_for_counts_exactly_what_the_workspace_allocates() {
        for spec in [
            "mlp",
            "cnn",
            "conv(4,k=3,s=2,p=1),relu,maxpool(3),linear(10)",
            "conv(2,k=5),tanh,maxpool(2),relu,flatten,linear(10)",
            "linear(16),residual(layer_norm,linear(16),gelu),linear(10)",
        ] {
            let m = build(spec, Shape { c: 1, h: 17, w: 23 }, Allow::DEFAULT).unwrap();
            for cap in [1, 7] {
                let ws = m.workspace(cap);
                let floats: usize = ws.body.acts.iter().chain(&ws.spare).map(Vec::len).sum::<usize>()
                    + ws.input.len()
                    + ws.logp.len()
                    + ws.dz.len();
                let scratch: u64 = m.body.layers.iter().map(|l| l.scratch_bytes(cap as u64).unwrap()).sum();
                assert_eq!(m.bytes_for(cap), Some((floats * 4 + m.n_params * 8) as u64 + scratch), "{spec} {cap}");
            }
        }
    }
}
