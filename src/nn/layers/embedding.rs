//! Token and position embeddings (GPT's `wte(idx) + wpe(arange(T))`): a gather forward and
//! a deterministic scatter-add backward (rows added in token order, so the same bits for
//! any thread count and kernel path).

use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};

/// `wte` ([vocab, d]) and `wpe` ([block, d]) offsets in the parameter vector; the model's
/// first layer, reading the batch's tokens ([`Ctx::tokens`]).
#[derive(Clone, Debug)]
pub(crate) struct Embedding {
    pub d: usize,
    pub wte: usize,
    pub wpe: usize,
    pub vocab: usize,
    pub dims: Dims,
}

impl Embedding {
    /// `x[i] = wte[tokens[i]] + wpe[i mod t]` for windows of `t` tokens.
    pub fn forward(&self, params: &[f32], tokens: &[u32], t: usize, x: &mut [f32]) {
        let d = self.d;
        for (i, (&tok, row)) in tokens.iter().zip(x.chunks_exact_mut(d)).enumerate() {
            let e = &params[self.wte + tok as usize * d..][..d];
            let p = &params[self.wpe + (i % t) * d..][..d];
            for ((o, &a), &b) in row.iter_mut().zip(e).zip(p) {
                *o = a + b;
            }
        }
    }

    /// Adds `dx`'s rows into the gradient rows of their token and of their position, in
    /// token order.
    pub fn backward(&self, grad: &mut [f32], tokens: &[u32], t: usize, dx: &[f32]) {
        let d = self.d;
        for (i, (&tok, row)) in tokens.iter().zip(dx.chunks_exact(d)).enumerate() {
            let e = &mut grad[self.wte + tok as usize * d..][..d];
            e.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            let p = &mut grad[self.wpe + (i % t) * d..][..d];
            p.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
        }
    }
}

impl Layer for Embedding {
    fn describe(&self) -> String {
        format!("embedding({}, {})", self.vocab, self.d)
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn has_params(&self) -> bool {
        true
    }
    fn forward(&self, c: &Ctx, _x: &[f32], y: &mut [f32], _s: &mut Scratch) {
        Embedding::forward(self, c.params, c.tokens, c.t, y);
    }
    fn backward(&self, c: &Ctx, _x: &[f32], _y: &[f32], g: Grads, _s: &mut Scratch) {
        Embedding::backward(self, g.grad, c.tokens, c.t, g.dy);
    }
}
