//! Neural networks on flat parameter and gradient buffers: the seminar's MNIST models and
//! small sequential models from a spec, with hand-written forward and backward passes.

mod layers;
pub mod model;
pub mod spec;

pub use model::{Model, Shape, Workspace};

/// Builds a model from a name (`mlp`, `mlp-relu`, `cnn`) or a layer list, for 28×28 grey
/// images and 10 classes.
pub fn build(spec: &str) -> anyhow::Result<Model> {
    let (name, layers) = spec::parse(spec)?;
    Model::new(&name, &layers, Shape { c: 1, h: 28, w: 28 }, 10)
}
