//! A residual block, `y = x + body(x)` (GPT-2's `x = x + attn(ln_1(x))` and
//! `x = x + mlp(ln_2(x))`): a sequence of layers whose output has its input's shape, added to
//! its input. The backward pass gives the input the output's gradient plus the body's.

use crate::nn::build::{body, boxed};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::sequential::{SeqWork, Sequential};
use crate::nn::spec::LayerKind;

#[derive(Debug)]
pub(crate) struct Residual {
    pub body: Sequential,
    pub dims: Dims,
}

impl Residual {
    /// A block over `body`, whose output must have the shape of its input.
    pub fn new(body: Sequential) -> anyhow::Result<Residual> {
        let dims = body.input.clone().expect("a sequence has an input shape");
        if body.out_dims() != &dims {
            anyhow::bail!(
                "residual: the body's output {:?} does not have its input's shape {:?}",
                body.out_dims().dims,
                dims.dims
            );
        }
        Ok(Residual { body, dims })
    }
}

impl Layer for Residual {
    fn describe(&self) -> String {
        let parts: Vec<String> = self.body.layers.iter().map(|l| l.describe()).collect();
        format!("residual({})", parts.join(", "))
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn macs(&self) -> u64 {
        self.body.macs()
    }
    fn has_params(&self) -> bool {
        self.body.layers.iter().any(|l| l.has_params())
    }
    fn scratch(&self, cap: usize) -> Scratch {
        Scratch::new(self.body.work(cap))
    }
    fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        self.body.work_bytes(cap)
    }
    fn spare(&self, cap: usize) -> Vec<usize> {
        self.body.spare(cap)
    }
    fn finish(&mut self) {
        self.body.layers.iter_mut().for_each(|l| l.finish());
    }

    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        let w = s.get::<SeqWork>();
        self.body.forward(c, x, w);
        for ((o, &b), &v) in y.iter_mut().zip(self.body.output(c, w)).zip(x) {
            *o = b + v;
        }
    }

    fn backward(&self, c: &Ctx, x: &[f32], _y: &[f32], g: Grads, s: &mut Scratch) {
        let Grads { grad, dy, mut dx, spare, .. } = g;
        if let Some(d) = dx.as_deref_mut() {
            d.iter_mut().zip(dy).for_each(|(a, &v)| *a += v);
        }
        self.body.backward(c, x, s.get::<SeqWork>(), grad, dy, dx, false, spare);
    }
}

/// `residual(layer, ...)`: `x + body(x)`, the body a list of layers whose output has the
/// input's shape.
pub(crate) const KIND: LayerKind = LayerKind {
    name: "residual",
    aliases: &[],
    about: "x + body(x): the layers given, added to their input (a transformer block's skip connection)",
    keys: &[],
    body: true,
    build: |s, b| boxed(Residual::new(body(&s.body, b)?)?),
};
