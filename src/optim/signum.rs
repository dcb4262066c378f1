//! `signum`: Signum, steps of the sign of a momentum (Bernstein et al., 2018), as
//! `pytorch_optimizer.SignSGD` with its default momentum 0.9 (pytorch-optimizer 4.1.0).
//!
//! ```text
//! θ ← θ·(1 − γλ)   (weight_decouple)   or   g_t ← g_t + λθ
//! m_t = m_{t−1} + (1 − μ)·(g_t − m_{t−1})     (torch lerp; m_0 = 0)
//! θ_t = θ − γ·sign(m_t)
//! ```
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum μ = 0.9, weight_decay λ = 0,
//! weight_decouple true, maximize false. The same update as [`super::signsgd`], which
//! differs only in its default momentum (0).

use super::signsgd::{build, params};
use super::{Group, Method, Param, Point};

pub(super) const METHOD: Method = Method {
    name: "signum",
    title: "Signum (steps of the sign of a momentum) as pytorch_optimizer.SignSGD",
    group: Group::SignBased,
    formula: "m = lerp(m, g, 1−μ);  θ = θ·(1 − lr·λ) − lr·sign(m)",
    reference: "pytorch-optimizer 4.1.0 SignSGD",
    params: &PARAMS,
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

const PARAMS: [Param; 5] = params("0.9");
