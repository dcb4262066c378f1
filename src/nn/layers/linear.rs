//! Fully connected layer, PyTorch's `nn.Linear(in, out, bias)`: `y = x·Wᵀ + b` on every row
//! of its input (a flat sample, or each position of a window), W stored out×in (row-major,
//! as PyTorch). An image input is flattened first, as the seminar's CNN does. The weight may
//! be another layer's tensor (a language model's head tied to its token embedding), whose
//! gradient then gets both contributions.
//!
//! Two summation orders, each fixed for a layer whatever the batch, thread count or kernel
//! path: a flat sample's outputs are dot products of 16 partial sums in a fixed tree (the
//! `dots` kernel: fastest for the few rows of a classifier's batch), a window's positions go
//! through the GEMM kernel, one fused multiply-add per term in input order (fastest for the
//! hundreds of rows of a language model's batch, where packing the weight pays).
//!
//! Spec: `linear(out)` (aliases `fc`, `dense`; key `out` or `out_features`).

use crate::kernels::{Init, Kernels};
use crate::nn::build::{boxed, features, mul, Builder};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use crate::nn::params::InitRule;
use crate::nn::spec::{Key, LayerKind, LayerSpec, Ty, Val};

#[derive(Clone, Debug)]
pub(crate) struct Linear {
    pub inp: usize,
    pub out: usize,
    /// Offsets of the weight and (if any) the bias in the parameter vector.
    pub w: usize,
    pub b: Option<usize>,
    /// The name of the tensor the weight is tied to (`None`: its own).
    pub tied: Option<String>,
    pub dims: Dims,
    /// Write its parameters' gradients instead of adding to them (see
    /// [`Layer::write_param_grads`]).
    pub write: bool,
}

impl Linear {
    /// `y[r][o] = b[o] + Σ_i x[r][i]·W[o][i]` for `rows` rows, through the GEMM kernel
    /// reading W transposed (B(i, o) = W[o][i], which the kernel packs into contiguous
    /// panels): each output starts from its bias (or 0) and adds its `inp` terms one fused
    /// multiply-add at a time, in input order. Vectorised across outputs, it keeps a tile of
    /// outputs in registers (row-by-row dot products ran 1.6× slower on the GPT).
    pub fn forward_rows(&self, k: &Kernels, params: &[f32], x: &[f32], rows: usize, y: &mut [f32]) {
        let (inp, out) = (self.inp, self.out);
        let y = &mut y[..rows * out];
        let w = &params[self.w..self.w + inp * out];
        match self.b {
            Some(b) => {
                let b = &params[b..b + out];
                y.chunks_exact_mut(out).for_each(|r| r.copy_from_slice(b));
                k.gemm_strided(rows, inp, out, x, inp, 1, w, 1, inp, Init::Keep, y, out);
            }
            None => k.gemm_strided(rows, inp, out, x, inp, 1, w, 1, inp, Init::Zero, y, out),
        }
    }

    /// Adds dW = dYᵀ·X (each term in row order) and db (the column sums of dY in row order)
    /// into `grad`, and dX = dY·W into `dx` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_rows(
        &self,
        k: &Kernels,
        params: &[f32],
        grad: &mut [f32],
        x: &[f32],
        dy: &[f32],
        rows: usize,
        dx: Option<&mut [f32]>,
    ) {
        let (inp, out) = (self.inp, self.out);
        // written from +0, the same bits as added into a zeroed gradient
        let init = if self.write { Init::Zero } else { Init::Keep };
        k.gemm(out, rows, inp, dy, 1, out, x, inp, init, &mut grad[self.w..self.w + inp * out], inp);
        if let Some(b) = self.b {
            let db = &mut grad[b..b + out];
            if self.write {
                db.fill(0.0);
            }
            for row in dy[..rows * out].chunks_exact(out) {
                db.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
        }
        if let Some(dx) = dx {
            let w = &params[self.w..self.w + inp * out];
            k.gemm(rows, out, inp, dy, out, 1, w, inp, Init::Keep, dx, inp);
        }
    }
}

impl Layer for Linear {
    fn describe(&self) -> String {
        let mut s = format!("linear({}", self.out);
        if self.b.is_none() {
            s.push_str(", bias=false");
        }
        if let Some(t) = &self.tied {
            s.push_str(&format!(", tied=\"{t}\""));
        }
        s + ")"
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn macs(&self) -> u64 {
        let rows = if self.dims.seq { self.dims.dims[0] } else { 1 };
        (rows as u64).saturating_mul(self.inp as u64).saturating_mul(self.out as u64)
    }
    fn has_params(&self) -> bool {
        true
    }
    fn write_param_grads(&mut self) -> bool {
        // a tied weight gets a second contribution from the tensor's other user
        self.write = self.tied.is_none();
        self.write
    }
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], _s: &mut Scratch) {
        let rows = x.len() / self.inp;
        if self.dims.seq {
            return self.forward_rows(c.k, c.params, x, rows, y);
        }
        let (inp, out) = (self.inp, self.out);
        let w = &c.params[self.w..self.w + inp * out];
        let init = match self.b {
            Some(b) => Init::Bias(&c.params[b..b + out]),
            None => Init::Zero,
        };
        c.k.dots(x, w, rows, inp, out, init, y);
    }
    fn backward(&self, c: &Ctx, x: &[f32], _y: &[f32], g: Grads, _s: &mut Scratch) {
        self.backward_rows(c.k, c.params, g.grad, x, g.dy, x.len() / self.inp, g.dx);
    }
}

/// `linear(out, bias=true)`: PyTorch's `nn.Linear(in, out, bias)`, `in` taken from its input
/// (an image is flattened); weight and bias U(±1/√in), PyTorch's default.
pub(crate) const KIND: LayerKind = LayerKind {
    name: "linear",
    aliases: &["fc", "dense"],
    about: "nn.Linear(in, out, bias): y = x·Wᵀ + b, in from the input (an image is flattened first)",
    keys: &[
        Key { names: &["out", "out_features"], ty: Ty::Size, default: None, always_shown: false },
        Key { names: &["bias"], ty: Ty::Flag, default: Some(Val::Flag(true)), always_shown: false },
    ],
    body: false,
    build,
};

fn build(s: &LayerSpec, b: &mut Builder) -> anyhow::Result<Box<dyn Layer>> {
    let out = b.width("out", s.size("out"))?;
    let bias = s.flag("bias");
    let inp = features(&b.dims);
    b.room_for(mul(inp, out).and_then(|w| w.checked_add(if bias { out as u64 } else { 0 })))?;
    let init = InitRule::Uniform(1.0 / (inp as f32).sqrt());
    let w = b.declare("linear.weight", vec![out, inp], init);
    let bb = bias.then(|| b.declare("linear.bias", vec![out], init));
    let dims = if b.dims.seq { Dims::seq(b.dims.dims[0], &[out]) } else { Dims::fixed(&[out]) };
    boxed(Linear { inp, out, w, b: bb, tied: None, dims, write: false })
}
