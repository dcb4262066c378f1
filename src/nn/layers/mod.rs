//! The layers, one file per kind, each implementing [`crate::nn::layer::Layer`] with its
//! forward and backward pass. They work on flat buffers: the parameters and gradients of the
//! whole model (each layer knows the offsets of its own tensors), and the activations of the
//! batch, sample after sample. The arithmetic goes through the run-time chosen kernels,
//! whose every path gives the same bits.

mod activation;
mod attention;
mod conv;
mod embedding;
pub(crate) mod gelu;
mod layer_norm;
mod linear;
mod pool;
mod residual;

pub(crate) use attention::SelfAttention;
pub(crate) use embedding::Embedding;
pub(crate) use gelu::Gelu;
pub(crate) use layer_norm::LayerNorm;
pub(crate) use linear::Linear;
pub(crate) use residual::Residual;

/// The layers a model spec can name, each declared once in its own file (a new layer is its
/// file and one line here).
pub(crate) const KINDS: &[&crate::nn::spec::LayerKind] = &[
    &linear::KIND,
    &conv::KIND,
    &pool::KIND,
    &activation::RELU,
    &activation::TANH,
    &activation::SIGMOID,
    &activation::FLATTEN,
    &gelu::KIND,
    &layer_norm::KIND,
    &residual::KIND,
];

/// Plain buffers a layer keeps between its passes (the conv's padded input or columns, the
/// max-pool's argmax indices).
#[derive(Clone, Debug, Default)]
pub(crate) struct Bufs {
    pub f: Vec<f32>,
    pub g: Vec<f32>,
    pub idx: Vec<u32>,
}
