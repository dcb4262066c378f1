//! The layout of a flat parameter buffer: which tensors it holds, where and with what shape,
//! in PyTorch's order. Element-wise methods ignore it; Muon, Adafactor, SOAP, LAMB, LARS and
//! MARS work tensor by tensor and need it. Each tensor carries its [`Role`] in the model
//! (hidden matrix, embedding, head, norm gain, bias, ...), which parameter groups select on.

use std::ops::Range;

/// What a tensor is in its model: the selectors of parameter groups (`partition(...)`) and
/// of nanoGPT's "weight decay on matrices only" read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A weight matrix inside the network (linear and conv weights, attention and MLP
    /// matrices of a transformer block): what Muon is meant for.
    Hidden,
    /// A token or position embedding table.
    Embedding,
    /// The output layer's weight (the classifier, or a language model's head; a head tied to
    /// the token embedding is the embedding's tensor and has its role).
    Head,
    /// The gain (weight) of a normalisation layer.
    NormGain,
    /// A bias (of a linear, conv or normalisation layer).
    Bias,
    /// Anything else: the 2-D lab's (x, y), a flat vector.
    Other,
}

impl Role {
    /// Every role, in the order they are listed.
    pub const ALL: [Role; 6] = [Role::Hidden, Role::Embedding, Role::Head, Role::NormGain, Role::Bias, Role::Other];

    /// The name used in specs and records (`hidden`, `embedding`, `head`, `norm`, `bias`,
    /// `other`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Hidden => "hidden",
            Role::Embedding => "embedding",
            Role::Head => "head",
            Role::NormGain => "norm",
            Role::Bias => "bias",
            Role::Other => "other",
        }
    }

    /// The role a tensor gets when its model does not say: a bias by its name
    /// (`*.bias`), a matrix (rank ≥ 2) as hidden, anything else as other.
    pub fn guess(name: &str, shape: &[usize]) -> Role {
        if name.ends_with("bias") {
            Role::Bias
        } else if shape.len() >= 2 {
            Role::Hidden
        } else {
            Role::Other
        }
    }
}

/// One tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// PyTorch's name, e.g. `fc1.weight` (or `xy` in the 2-D lab).
    pub name: String,
    pub offset: usize,
    /// PyTorch's shape, e.g. `[64, 784]`, `[16, 1, 3, 3]`, `[64]`.
    pub shape: Vec<usize>,
    /// What the tensor is in its model.
    pub role: Role,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
    /// The tensor seen as a matrix [rows, cols] the way Muon and SOAP flatten it: the first
    /// dimension by the product of the rest (a conv kernel [out, in, kh, kw] is
    /// [out, in·kh·kw]). `None` for vectors and scalars.
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        (self.shape.len() >= 2).then(|| (self.shape[0], self.shape[1..].iter().product()))
    }
}

/// The tensors of a flat buffer, contiguous and in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub tensors: Vec<TensorInfo>,
}

impl Layout {
    /// One vector of `n` numbers (the 2-D lab's default, and batched basin maps).
    pub fn flat(n: usize) -> Layout {
        Layout::of(&[("params", vec![n])])
    }

    /// Consecutive tensors with these names and shapes, each with the role
    /// [`Role::guess`] gives it.
    pub fn of(tensors: &[(&str, Vec<usize>)]) -> Layout {
        let with: Vec<(&str, Vec<usize>, Role)> =
            tensors.iter().map(|(n, s)| (*n, s.clone(), Role::guess(n, s))).collect();
        Layout::with_roles(&with)
    }

    /// Consecutive tensors with these names, shapes and roles.
    pub fn with_roles(tensors: &[(&str, Vec<usize>, Role)]) -> Layout {
        let mut offset = 0;
        let tensors = tensors
            .iter()
            .map(|(name, shape, role)| {
                let t = TensorInfo { name: name.to_string(), offset, shape: shape.clone(), role: *role };
                offset += t.len();
                t
            })
            .collect();
        Layout { tensors }
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.tensors.last().map_or(0, |t| t.offset + t.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shape of the 2-D lab's parameter (x, y): PyTorch tensor of shape `[2]`, `[1, 2]`
/// or `[2, 1]` (`--shape 2|1x2|2x1`). Matrix methods see a matrix; element-wise methods
/// give the same numbers for all three.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Shape2 {
    #[default]
    Vector,
    Row,
    Column,
}

impl Shape2 {
    pub fn parse(s: &str) -> Result<Shape2, String> {
        match s.trim() {
            "2" => Ok(Shape2::Vector),
            "1x2" => Ok(Shape2::Row),
            "2x1" => Ok(Shape2::Column),
            other => Err(format!("unknown shape '{other}' (use 2, 1x2 or 2x1)")),
        }
    }
    pub fn dims(self) -> Vec<usize> {
        match self {
            Shape2::Vector => vec![2],
            Shape2::Row => vec![1, 2],
            Shape2::Column => vec![2, 1],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Shape2::Vector => "2",
            Shape2::Row => "1x2",
            Shape2::Column => "2x1",
        }
    }
    pub fn layout(self) -> Layout {
        Layout::of(&[("xy", self.dims())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_are_consecutive_and_conv_kernels_flatten_to_matrices() {
        let l = Layout::of(&[("conv.weight", vec![16, 1, 3, 3]), ("conv.bias", vec![16]), ("fc.weight", vec![10, 4])]);
        assert_eq!(l.tensors[1].range(), 144..160);
        assert_eq!(l.len(), 200);
        assert_eq!(l.tensors[0].as_matrix(), Some((16, 9)));
        assert_eq!(l.tensors[1].as_matrix(), None);
        assert_eq!(Shape2::parse("2x1").unwrap().layout().tensors[0].shape, vec![2, 1]);
        assert!(Shape2::parse("3").is_err());
        assert_eq!(l.tensors.iter().map(|t| t.role).collect::<Vec<_>>(), [Role::Hidden, Role::Bias, Role::Hidden]);
        assert_eq!(Layout::flat(3).tensors[0].role, Role::Other);
    }
}
