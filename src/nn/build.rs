//! Building layers from their specs: a [`Builder`] holds the shape of the next layer's input,
//! the model's parameters (each layer declares its tensors there) and the limits in force,
//! and [`sequence`] builds a list of layers one after another, each from its kind's `build`
//! (declared in the layer's own file). Every size is checked with checked arithmetic against
//! [`crate::limits`] before anything is allocated; an error names the layer, and the path
//! to it inside a nested block.

use super::layer::{Dims, Layer};
use super::params::{InitRule, Params};
use super::sequential::Sequential;
use super::spec::LayerSpec;
use crate::limits::{self, Allow, Limit};
use crate::optim::Role;
use anyhow::{anyhow, Result};

/// What a layer's build sees: its input's shape, the model's parameters, the limits.
pub struct Builder<'a> {
    pub params: &'a mut Params,
    /// The shape of one sample of the layer's input.
    pub dims: Dims,
    pub allow: Allow,
    /// The most values one activation (one sample) may hold.
    pub max_act: u64,
    /// The PyTorch name prefix of the layer's tensors (`2.` for the third layer, `2.0.` for
    /// the first layer inside it).
    pub prefix: String,
    /// Fold a ReLU right before a 2×2 max-pool into the pool (same numbers, fewer passes).
    pub fuse: bool,
    /// Whether the layer before this one, in the same list, is a ReLU.
    pub after_relu: bool,
    /// Set by a layer that took the ReLU before it into itself: the ReLU is dropped.
    pub folded: bool,
    /// How deep in blocks the layer is (0: the model's own list).
    pub depth: usize,
    /// Multiply-adds of one sample's forward pass through the layers built so far.
    pub macs: u64,
}

/// Checked arithmetic on sizes: `None` once anything overflowed.
pub fn mul(a: impl TryInto<u64>, b: impl TryInto<u64>) -> Option<u64> {
    a.try_into().ok()?.checked_mul(b.try_into().ok()?)
}

impl Builder<'_> {
    /// Checks a value against a limit; the message names the value by `key`.
    pub fn limit(&self, limit: &Limit, key: &str, v: Option<u64>) -> Result<u64> {
        limit
            .check(v, self.allow)
            .map_err(|e| anyhow!("{}", e.0.strip_prefix(limit.flag).map_or(e.0.clone(), |rest| format!("{key}{rest}"))))
    }

    /// A width (`out`) within the limits, as a `usize`.
    pub fn width(&self, key: &str, v: u64) -> Result<usize> {
        Ok(self.limit(&limits::WIDTH, key, Some(v))? as usize)
    }

    /// A kernel size, stride or padding within the limits.
    pub fn kernel(&self, key: &str, v: u64) -> Result<usize> {
        Ok(self.limit(&limits::KERNEL, key, Some(v))? as usize)
    }

    /// Checks that `values` more parameters keep the model within the limit.
    pub fn room_for(&self, values: Option<u64>) -> Result<()> {
        let total = values.and_then(|v| v.checked_add(self.params.len() as u64));
        self.limit(&limits::PARAMS, "the model would have", total).map(|_| ())
    }

    /// Declares a tensor `<prefix><name>` (its role guessed from its name and shape);
    /// returns its offset. The caller has checked the size with [`Builder::room_for`].
    pub fn declare(&mut self, name: &str, shape: Vec<usize>, init: InitRule) -> usize {
        let name = format!("{}{name}", self.prefix);
        let role = Role::guess(&name, &shape);
        self.params.add(name, shape, role, init)
    }

    /// Checks that an output of `c`×`h`×`w` values fits in the memory limit.
    pub fn activation(&self, c: u64, h: u64, w: u64) -> Result<u64> {
        mul(c, mul(h, w).unwrap_or(u64::MAX))
            .filter(|&v| v <= self.max_act)
            .ok_or_else(|| anyhow!("its output of {c}×{h}×{w} values is larger than the memory limit allows"))
    }
}

/// Builds `specs` one after another from the builder's input shape; each layer's tensors are
/// named `<prefix><index>.`. `path` names the list in messages (`""` at the top).
pub fn sequence(specs: &[LayerSpec], b: &mut Builder, path: &str) -> Result<Sequential> {
    let mut seq = Sequential::new(b.dims.clone());
    let prefix = b.prefix.clone();
    b.after_relu = false;
    for (i, s) in specs.iter().enumerate() {
        let at = format!("{path}{}", i + 1);
        b.prefix = format!("{prefix}{i}.");
        b.folded = false;
        let named = |e: anyhow::Error| anyhow!("layer {at} ({}): {e}", super::spec::show(&s.to_string(), 60));
        let l = (s.kind.build)(s, b).map_err(named)?;
        if b.depth == 0 && l.has_params() {
            b.macs =
                b.limit(&limits::MACS, "the model would need", Some(b.macs.saturating_add(l.macs()))).map_err(named)?;
        }
        if b.folded {
            seq.layers.pop();
        }
        b.after_relu = s.kind.name == "relu";
        b.dims = l.out_dims().clone();
        seq.push(l);
    }
    b.prefix = prefix;
    Ok(seq)
}

/// The body of a block: `specs` built from the builder's input, their tensors named
/// `<prefix><index>.`.
pub fn body(specs: &[LayerSpec], b: &mut Builder) -> Result<Sequential> {
    let (dims, after) = (b.dims.clone(), b.after_relu);
    b.depth += 1;
    let seq = sequence(specs, b, "");
    b.depth -= 1;
    b.dims = dims;
    b.after_relu = after;
    // a fold inside the body is the body's own: the block drops nothing of the outer list
    b.folded = false;
    seq
}

/// The tensor shape `[features]` of a flat vector or of each position.
pub fn features(d: &Dims) -> usize {
    if d.seq {
        d.last()
    } else {
        d.len()
    }
}

/// `Box<dyn Layer>` for a concrete layer.
pub fn boxed(l: impl Layer + 'static) -> Result<Box<dyn Layer>> {
    Ok(Box::new(l))
}
