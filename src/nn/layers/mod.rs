//! The layers of a sequential model, one file per kind, each with its forward and backward
//! pass. They work on flat buffers: the parameters and gradients of the whole model
//! (each layer knows the offsets of its own tensors), and the activations of the batch,
//! sample after sample. The arithmetic goes through the run-time chosen [`Kernels`], whose
//! every path gives the same bits.

mod activation;
mod attention;
mod conv;
mod embedding;
pub(crate) mod gelu;
mod layer_norm;
mod linear;
mod pool;

pub(crate) use activation::Activation;
pub(crate) use attention::{Attention, AttnGrad};
pub(crate) use conv::Conv;
pub(crate) use embedding::Embedding;
pub(crate) use layer_norm::LayerNorm;
pub(crate) use linear::{Linear, RowLinear};
pub(crate) use pool::MaxPool;

use crate::kernels::Kernels;

/// What every layer's pass needs: the kernels, the whole parameter vector and the batch size.
pub(crate) struct Ctx<'a> {
    pub k: &'a Kernels,
    pub params: &'a [f32],
    pub n: usize,
}

/// The gradients of one layer's backward pass: the whole gradient vector (the layer writes
/// its own tensors), the gradient of its output, and the gradient of its input to write
/// (`None` for the first layer, whose input needs none).
pub(crate) struct Grads<'a> {
    pub grad: &'a mut [f32],
    pub dy: &'a [f32],
    pub dx: Option<&'a mut [f32]>,
}

/// Buffers a layer keeps in the workspace between its forward and backward pass (sized
/// once for the workspace's batch capacity, so a step allocates nothing).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    pub f: Vec<f32>,
    pub g: Vec<f32>,
    pub idx: Vec<u32>,
}

/// One layer.
#[derive(Clone, Debug)]
pub(crate) enum Layer {
    Linear(Linear),
    Conv(Conv),
    MaxPool(MaxPool),
    Act(Activation),
    /// Images to feature vectors: the layout is already flat, so a copy.
    Flatten,
}

/// Where a layer's parameters lie in the flat vector, for initialisation.
pub(crate) struct ParamRange {
    pub w: usize,
    pub w_len: usize,
    pub b: usize,
    pub b_len: usize,
    pub fan_in: usize,
}

impl Layer {
    pub fn params(&self) -> Option<ParamRange> {
        match self {
            Layer::Linear(l) => Some(l.params()),
            Layer::Conv(c) => Some(c.params()),
            _ => None,
        }
    }

    pub fn scratch(&self, cap: usize) -> Scratch {
        match self {
            Layer::Conv(c) => c.scratch(cap),
            Layer::MaxPool(p) => p.scratch(cap),
            _ => Scratch::default(),
        }
    }

    /// The bytes of [`Layer::scratch`] for `cap` samples, with the layer's own tables
    /// (`None` on overflow).
    pub fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        match self {
            Layer::Conv(c) => c.scratch_bytes(cap),
            Layer::MaxPool(p) => p.scratch_bytes(cap),
            _ => Some(0),
        }
    }

    /// Writes the layer's output `y` for the input `x` (both for `c.n` samples).
    pub fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        match self {
            Layer::Linear(l) => l.forward(c, x, y),
            Layer::Conv(l) => l.forward(c, x, y, s),
            Layer::MaxPool(l) => l.forward(c, x, y, s),
            Layer::Act(a) => a.forward(x, y),
            Layer::Flatten => y.copy_from_slice(x),
        }
    }

    /// Writes the gradients of the layer's parameters and (if asked) of its input, from
    /// the gradient of its output; `x` and `y` are the forward pass's input and output.
    pub fn backward(&self, c: &Ctx, x: &[f32], y: &[f32], g: Grads, s: &mut Scratch) {
        match self {
            Layer::Linear(l) => l.backward(c, x, g),
            Layer::Conv(l) => l.backward(c, g, s),
            Layer::MaxPool(l) => l.backward(c, y, g, s),
            Layer::Act(a) => a.backward(y, g),
            Layer::Flatten => {
                if let Some(dx) = g.dx {
                    dx.copy_from_slice(g.dy);
                }
            }
        }
    }
}
