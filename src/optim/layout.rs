//! The layout of a flat parameter buffer: which tensors it holds, where and with what shape,
//! in PyTorch's order. Element-wise methods ignore it; Muon, Adafactor, SOAP, LAMB, LARS and
//! MARS work tensor by tensor and need it.

use std::ops::Range;

/// One tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// PyTorch's name, e.g. `fc1.weight` (or `xy` in the 2-D lab).
    pub name: String,
    pub offset: usize,
    /// PyTorch's shape, e.g. `[64, 784]`, `[16, 1, 3, 3]`, `[64]`.
    pub shape: Vec<usize>,
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

    /// Consecutive tensors with these names and shapes.
    pub fn of(tensors: &[(&str, Vec<usize>)]) -> Layout {
        let mut offset = 0;
        let tensors = tensors
            .iter()
            .map(|(name, shape)| {
                let t = TensorInfo { name: name.to_string(), offset, shape: shape.clone() };
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
    }
}
