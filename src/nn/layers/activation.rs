//! Element-wise activations: ReLU, tanh, sigmoid (exact selects or libm per element, so the
//! same on every kernel path).

use crate::nn::build::{boxed, Builder};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::spec::LayerKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    Relu,
    Tanh,
    Sigmoid,
}

impl Activation {
    pub fn forward(self, x: &[f32], y: &mut [f32]) {
        let it = y.iter_mut().zip(x);
        match self {
            Activation::Relu => it.for_each(|(o, &v)| *o = if v > 0.0 { v } else { 0.0 }),
            Activation::Tanh => it.for_each(|(o, &v)| *o = v.tanh()),
            Activation::Sigmoid => it.for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp())),
        }
    }

    /// Adds the input gradient from the output `y` and its gradient.
    pub fn backward(self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let it = dx.iter_mut().zip(dy).zip(y);
        match self {
            Activation::Relu => it.for_each(|((d, &g), &o)| *d += if o > 0.0 { g } else { 0.0 }),
            Activation::Tanh => it.for_each(|((d, &g), &o)| *d += g * (1.0 - o * o)),
            Activation::Sigmoid => it.for_each(|((d, &g), &o)| *d += g * (1.0 - o) * o),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

/// An activation layer (specs `relu`, `tanh`, `sigmoid`), of any shape.
#[derive(Clone, Debug)]
pub(crate) struct Act {
    pub f: Activation,
    pub dims: Dims,
}

impl Layer for Act {
    fn describe(&self) -> String {
        self.f.name().into()
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn forward(&self, _c: &Ctx, x: &[f32], y: &mut [f32], _s: &mut Scratch) {
        self.f.forward(x, y);
    }
    fn backward(&self, _c: &Ctx, _x: &[f32], y: &[f32], g: Grads, _s: &mut Scratch) {
        if let Some(dx) = g.dx {
            self.f.backward(y, g.dy, dx);
        }
    }
}

/// Images to feature vectors (spec `flatten`): the layout is already flat, so a copy.
#[derive(Clone, Debug)]
pub(crate) struct Flatten {
    pub dims: Dims,
}

impl Layer for Flatten {
    fn describe(&self) -> String {
        "flatten".into()
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn forward(&self, _c: &Ctx, x: &[f32], y: &mut [f32], _s: &mut Scratch) {
        y.copy_from_slice(x);
    }
    fn backward(&self, _c: &Ctx, _x: &[f32], _y: &[f32], g: Grads, _s: &mut Scratch) {
        if let Some(dx) = g.dx {
            dx.iter_mut().zip(g.dy).for_each(|(d, &v)| *d += v);
        }
    }
}

fn build_act(f: Activation, b: &mut Builder) -> anyhow::Result<Box<dyn Layer>> {
    boxed(Act { f, dims: b.dims.clone() })
}

/// `relu`: PyTorch's `nn.ReLU`, max(x, 0).
pub(crate) const RELU: LayerKind = LayerKind {
    name: "relu",
    aliases: &[],
    about: "nn.ReLU: max(x, 0)",
    keys: &[],
    body: false,
    build: |_, b| build_act(Activation::Relu, b),
};

/// `tanh`: PyTorch's `nn.Tanh`.
pub(crate) const TANH: LayerKind = LayerKind {
    name: "tanh",
    aliases: &[],
    about: "nn.Tanh: tanh x",
    keys: &[],
    body: false,
    build: |_, b| build_act(Activation::Tanh, b),
};

/// `sigmoid`: PyTorch's `nn.Sigmoid`, 1/(1 + e^−x).
pub(crate) const SIGMOID: LayerKind = LayerKind {
    name: "sigmoid",
    aliases: &[],
    about: "nn.Sigmoid: 1/(1 + exp(−x))",
    keys: &[],
    body: false,
    build: |_, b| build_act(Activation::Sigmoid, b),
};

/// `flatten`: PyTorch's `nn.Flatten`, an image to a feature vector.
pub(crate) const FLATTEN: LayerKind = LayerKind {
    name: "flatten",
    aliases: &[],
    about: "nn.Flatten: an image to a vector of its values",
    keys: &[],
    body: false,
    build: |_, b| boxed(Flatten { dims: Dims::fixed(&[b.dims.len()]) }),
};
