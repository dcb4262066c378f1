//! A model's parameters as named tensors in one flat buffer: each declared once by the layer
//! that owns it, with its PyTorch name, shape, role (what optimizers' parameter groups select)
//! and initialisation rule, in PyTorch's `named_parameters()` order. A tensor used twice (a
//! head tied to the token embedding) is declared once and found by name; its gradients add.

use crate::optim::{Layout, Role};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InitRule {
    /// U(−bound, bound) (PyTorch's default for linear and conv layers: bound = 1/√fan_in).
    Uniform(f32),
    /// N(0, sd²).
    Normal(f32),
    Zeros,
    Ones,
}

/// One named tensor of the flat parameter vector.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: Role,
    pub offset: usize,
    pub init: InitRule,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The tensors of a model, in order.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub tensors: Vec<Tensor>,
    len: usize,
}

impl Params {
    /// Declares a tensor after the others; returns its offset. The caller has checked the
    /// total size against the limits.
    pub fn add(&mut self, name: String, shape: Vec<usize>, role: Role, init: InitRule) -> usize {
        let offset = self.len;
        self.len += shape.iter().product::<usize>();
        self.tensors.push(Tensor { name, shape, role, offset, init });
        offset
    }

    /// A tensor declared earlier, by name (for tying).
    pub fn find(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tensors as the optimizers see them (names, shapes, roles).
    pub fn layout(&self) -> Layout {
        let t: Vec<(&str, Vec<usize>, Role)> =
            self.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), t.role)).collect();
        Layout::with_roles(&t)
    }

    /// The initial parameters for `seed`: one ChaCha8 stream, tensor after tensor; uniform
    /// values from 24 random bits of a 32-bit draw, normal ones by Box–Muller from pairs of
    /// 53-bit draws.
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut p = vec![0f32; self.len];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for t in &self.tensors {
            let s = &mut p[t.offset..t.offset + t.len()];
            match t.init {
                InitRule::Zeros => s.fill(0.0),
                InitRule::Ones => s.fill(1.0),
                InitRule::Uniform(bound) => {
                    for v in s {
                        let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
                        *v = (2.0 * u - 1.0) * bound;
                    }
                }
                InitRule::Normal(sd) => {
                    let mut unit = || ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
                    for pair in s.chunks_mut(2) {
                        let (u1, u2) = (unit(), unit());
                        let r = (-2.0 * u1.ln()).sqrt();
                        let th = std::f64::consts::TAU * u2;
                        pair[0] = (r * th.cos()) as f32 * sd;
                        if pair.len() > 1 {
                            pair[1] = (r * th.sin()) as f32 * sd;
                        }
                    }
                }
            }
        }
        p
    }
}
