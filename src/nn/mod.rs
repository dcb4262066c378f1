//! Neural networks on flat parameter and gradient buffers, as compositions of layers
//! ([`layer::Layer`], one file per kind in `layers/`) with hand-written forward and backward
//! passes: the seminar's MNIST models and sequential models from a spec ([`Model`]), and the
//! character-level GPT ([`Gpt`]), built of the same layers with residual blocks.

pub mod build;
pub mod checkpoint;
pub mod gpt;
pub mod layer;
mod layers;
pub mod loss;
pub mod model;
pub mod params;
pub mod sequential;
pub mod spec;

pub use gpt::{Gpt, GptConfig, GptWork};
pub use model::{Model, Shape, Workspace};

/// The number of classes of every dataset optlab knows (digits, clothes).
pub const CLASSES: usize = 10;

impl Shape {
    /// One 28×28 grey image (MNIST, Fashion-MNIST).
    pub const MNIST: Shape = Shape { c: 1, h: 28, w: 28 };
}

/// Whether a model spec names the language model (`gpt` or `gpt(...)`).
pub fn is_gpt_spec(spec: &str) -> bool {
    let m = spec.trim().to_ascii_lowercase();
    m == "gpt" || m.starts_with("gpt(")
}

/// Builds a model from a name (`mlp`, `mlp-relu`, `cnn`) or a layer list, for inputs of
/// shape `input` (channels × height × width: a dataset's
/// [`crate::data::Dataset::input_shape`]) and [`CLASSES`] classes. The layers follow the
/// input: a linear layer takes whatever its input holds, so the seminar's CNN on 40×40
/// images has a Linear(1200, 10). Sizes over the limits are refused unless `allow.large`.
pub fn build(spec: &str, input: Shape, allow: crate::limits::Allow) -> anyhow::Result<Model> {
    let (name, layers) = spec::parse(spec)?;
    Model::new(&name, &layers, input, CLASSES, allow)
}
