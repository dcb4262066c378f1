//! The open layer abstraction every model is a composition of.
//!
//! A layer is one file in `layers/` implementing [`Layer`]: the multiply-adds of its
//! forward pass, the scratch space it keeps between its passes, a forward pass from its
//! input to its output, and a backward pass that **adds** into its input's gradient and into
//! its parameters' gradients (so a residual branch and a tensor used twice, such as a head
//! tied to the token embedding, accumulate instead of overwriting). Its parameters are named
//! tensors it declares once, with their PyTorch name, shape, role and initialisation, in the
//! model's one flat buffer ([`super::params::Params`]). Layers built from a model spec are
//! also declared once in the registry of `layers/mod.rs`, with their keys and defaults.
//!
//! Activations are per sample; a sample is an image (`[c, h, w]`, or a flat vector) or a
//! window of positions (`[t, features]`), whose length `t` may be shorter at run time than
//! the model's context (sampling grows the window one token at a time): [`Dims`] says which,
//! and [`Ctx::t`] gives the length in force.

use crate::kernels::Kernels;
use std::any::Any;
use std::fmt;

/// The shape of one sample's activation: its dimensions, and whether the first one is a
/// sequence of positions whose run-time length is [`Ctx::t`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dims {
    pub dims: Vec<usize>,
    pub seq: bool,
}

impl Dims {
    /// An image or a feature vector.
    pub fn fixed(dims: &[usize]) -> Dims {
        Dims { dims: dims.to_vec(), seq: false }
    }

    /// `t` positions of `rest` each.
    pub fn seq(t: usize, rest: &[usize]) -> Dims {
        Dims { dims: std::iter::once(t).chain(rest.iter().copied()).collect(), seq: true }
    }

    /// Values of one sample at the longest context.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values of one sample of `t` positions (`t` is ignored for a fixed shape).
    pub fn len_at(&self, t: usize) -> usize {
        if self.seq {
            t * self.dims[1..].iter().product::<usize>()
        } else {
            self.len()
        }
    }

    /// The last dimension (the features of a position or of a flat sample).
    pub fn last(&self) -> usize {
        self.dims.last().copied().unwrap_or(1)
    }
}

/// What every pass needs: the kernels, the whole parameter vector, the number of samples,
/// the positions per sample in force (1 for images) and the input tokens of a language
/// model (empty otherwise).
pub struct Ctx<'a> {
    pub k: &'a Kernels,
    pub params: &'a [f32],
    pub n: usize,
    pub t: usize,
    pub tokens: &'a [u32],
}

/// The gradients of one backward pass: the whole gradient vector (the layer adds into its
/// own tensors), the gradient of its output, the gradient of its input to add into (`None`
/// for a model's first layer, whose input is the data), and spare buffers a composite layer
/// lends to its children (see [`Layer::spare`]). `fresh` says that `dx` holds zeros, so a
/// layer may write its terms instead of adding them (the max-pool's scatter does).
pub struct Grads<'a> {
    pub grad: &'a mut [f32],
    pub dy: &'a [f32],
    pub dx: Option<&'a mut [f32]>,
    pub fresh: bool,
    pub spare: &'a mut [Vec<f32>],
}

/// A layer's own buffers between its forward and backward pass, sized once for the
/// workspace's batch capacity (so a step allocates nothing). Each layer keeps its own type.
#[derive(Default)]
pub struct Scratch(Option<Box<dyn Any + Send + Sync>>);

impl Scratch {
    pub fn new<T: Any + Send + Sync>(v: T) -> Scratch {
        Scratch(Some(Box::new(v)))
    }

    /// The layer's own scratch (made by its [`Layer::scratch`], so of its type).
    pub fn get<T: Any>(&mut self) -> &mut T {
        self.0.as_mut().and_then(|b| b.downcast_mut::<T>()).expect("a layer's scratch is the one it made")
    }
}

impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Scratch(..)" } else { "Scratch(none)" })
    }
}

/// One layer of a model. See the module's documentation for the contract.
pub trait Layer: Send + Sync + fmt::Debug {
    /// The layer as a model spec writes it (`linear(64)`, `layer_norm`, ...).
    fn describe(&self) -> String;

    /// The shape of one sample of its output.
    fn out_dims(&self) -> &Dims;

    /// Multiply-adds of one sample's forward pass at the longest context.
    fn macs(&self) -> u64 {
        0
    }

    /// Whether it has parameters of its own (for the multiply-adds of a training step).
    fn has_params(&self) -> bool {
        false
    }

    /// Its scratch space for batches of up to `cap` samples.
    fn scratch(&self, _cap: usize) -> Scratch {
        Scratch::default()
    }

    /// The bytes of [`Layer::scratch`] for `cap` samples, with any tables of its own
    /// (`None` on overflow).
    fn scratch_bytes(&self, _cap: u64) -> Option<u64> {
        Some(0)
    }

    /// The sizes of the buffers its backward pass borrows from [`Grads::spare`] for `cap`
    /// samples (a composite layer's children's gradients).
    fn spare(&self, _cap: usize) -> Vec<usize> {
        Vec::new()
    }

    /// Called once the model's memory has been checked: build tables that were counted in
    /// [`Layer::scratch_bytes`] but not yet made.
    fn finish(&mut self) {}

    /// Called by a model in which this layer is the only one to touch its parameters'
    /// gradients, once per backward pass: the layer may then write them instead of adding
    /// (the model need not zero the gradient first). Returns whether it will.
    fn write_param_grads(&mut self) -> bool {
        !self.has_params()
    }

    /// Writes the output `y` for the input `x` (`c.n` samples each).
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch);

    /// Adds the gradients of its parameters and of its input (if asked) from the gradient
    /// of its output; `x` and `y` are the forward pass's input and output.
    fn backward(&self, c: &Ctx, x: &[f32], y: &[f32], g: Grads, s: &mut Scratch);
}
