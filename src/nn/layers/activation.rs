//! Element-wise activations: ReLU, tanh, sigmoid (exact selects or libm per element, so the
//! same on every kernel path).

use super::Grads;

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

    /// The input gradient from the output `y` and its gradient.
    pub fn backward(self, y: &[f32], g: Grads) {
        let Some(dx) = g.dx else { return };
        let it = dx.iter_mut().zip(g.dy).zip(y);
        match self {
            Activation::Relu => it.for_each(|((d, &g), &o)| *d = if o > 0.0 { g } else { 0.0 }),
            Activation::Tanh => it.for_each(|((d, &g), &o)| *d = g * (1.0 - o * o)),
            Activation::Sigmoid => it.for_each(|((d, &g), &o)| *d = g * (1.0 - o) * o),
        }
    }
}
