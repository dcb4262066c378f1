//! A sequence of layers, each one's output the next one's input: the body of every model,
//! and the branch of a residual block.

use super::layer::{Ctx, Dims, Grads, Layer, Scratch};

/// Layers in order, with the shape of the input and of every output.
#[derive(Debug, Default)]
pub struct Sequential {
    pub layers: Vec<Box<dyn Layer>>,
    pub input: Option<Dims>,
}

/// The outputs of every layer and every layer's scratch, for batches of up to `cap`
/// samples.
#[derive(Debug)]
pub struct SeqWork {
    pub acts: Vec<Vec<f32>>,
    pub scratch: Vec<Scratch>,
}

impl Sequential {
    pub fn new(input: Dims) -> Sequential {
        Sequential { layers: Vec::new(), input: Some(input) }
    }

    /// The shape of the last output (the input's when there are no layers).
    pub fn out_dims(&self) -> &Dims {
        self.layers.last().map(|l| l.out_dims()).or(self.input.as_ref()).expect("a sequence has an input shape")
    }

    pub fn push(&mut self, l: Box<dyn Layer>) {
        self.layers.push(l);
    }

    /// Multiply-adds of one sample's forward pass.
    pub fn macs(&self) -> u64 {
        self.layers.iter().fold(0u64, |a, l| a.saturating_add(l.macs()))
    }

    pub fn work(&self, cap: usize) -> SeqWork {
        SeqWork {
            acts: self.layers.iter().map(|l| vec![0f32; cap * l.out_dims().len()]).collect(),
            scratch: self.layers.iter().map(|l| l.scratch(cap)).collect(),
        }
    }

    /// The bytes of [`Sequential::work`] for `cap` samples (`None` on overflow).
    pub fn work_bytes(&self, cap: u64) -> Option<u64> {
        self.layers.iter().try_fold(0u64, |a, l| {
            let act = (l.out_dims().len() as u64).checked_mul(cap)?.checked_mul(4)?;
            a.checked_add(act)?.checked_add(l.scratch_bytes(cap)?)
        })
    }

    /// The spare gradient buffers its backward pass needs: the gradient of layer j's output
    /// (every layer but the last, whose gradient is given) lives in buffer j mod 2, so the two
    /// are the widest even and odd outputs; then what its layers need (element by element,
    /// the widest).
    pub fn spare(&self, cap: usize) -> Vec<usize> {
        let inner = &self.layers[..self.layers.len().saturating_sub(1)];
        let mut v = vec![0usize; 2];
        for (j, l) in inner.iter().enumerate() {
            v[j % 2] = v[j % 2].max(l.out_dims().len() * cap);
        }
        let mut rest: Vec<usize> = Vec::new();
        for l in &self.layers {
            for (i, s) in l.spare(cap).into_iter().enumerate() {
                match rest.get_mut(i) {
                    Some(r) => *r = (*r).max(s),
                    None => rest.push(s),
                }
            }
        }
        v.extend(rest);
        v
    }

    /// The forward pass over `c.n` samples of `x`; the outputs are then in `w.acts`.
    pub fn forward(&self, c: &Ctx, x: &[f32], w: &mut SeqWork) {
        for (i, l) in self.layers.iter().enumerate() {
            let (done, rest) = w.acts.split_at_mut(i);
            let len = c.n * l.out_dims().len_at(c.t);
            let input = if i == 0 { x } else { &done[i - 1][..c.n * self.layers[i - 1].out_dims().len_at(c.t)] };
            l.forward(c, input, &mut rest[0][..len], &mut w.scratch[i]);
        }
    }

    /// The last output of the last forward pass.
    pub fn output<'w>(&self, c: &Ctx, w: &'w SeqWork) -> &'w [f32] {
        let last = self.layers.len() - 1;
        &w.acts[last][..c.n * self.layers[last].out_dims().len_at(c.t)]
    }

    /// The backward pass from `dy` (the gradient of the last output): adds into `grad` and,
    /// if given, into `dx` (the gradient of `x`; `fresh`: it holds zeros). Uses `spare[0..2]` for the gradients
    /// between its layers and lends the rest to them.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        c: &Ctx,
        x: &[f32],
        w: &mut SeqWork,
        grad: &mut [f32],
        dy: &[f32],
        mut dx: Option<&mut [f32]>,
        fresh: bool,
        spare: &mut [Vec<f32>],
    ) {
        let (own, lent) = spare.split_at_mut(2);
        let (even, odd) = own.split_at_mut(1);
        let (even, odd) = (&mut even[0], &mut odd[0]);
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate().rev() {
            let out_len = c.n * l.out_dims().len_at(c.t);
            let y = &w.acts[i][..out_len];
            // this layer's output gradient is in buffer i mod 2, its input's goes to the other
            let (mine, other) = if i % 2 == 0 { (&*even, &mut *odd) } else { (&*odd, &mut *even) };
            let dy_i: &[f32] = if i == last { dy } else { &mine[..out_len] };
            if i == 0 {
                let g = Grads { grad: &mut *grad, dy: dy_i, dx: dx.as_deref_mut(), fresh, spare: &mut *lent };
                l.backward(c, x, y, g, &mut w.scratch[i]);
            } else {
                let in_len = c.n * self.layers[i - 1].out_dims().len_at(c.t);
                let d = &mut other[..in_len];
                d.fill(0.0);
                let g = Grads { grad: &mut *grad, dy: dy_i, dx: Some(d), fresh: true, spare: &mut *lent };
                l.backward(c, &w.acts[i - 1][..in_len], y, g, &mut w.scratch[i]);
            }
        }
    }
}
