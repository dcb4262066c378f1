//! `scion`: SCION, steepest descent under a norm chosen per tensor through its linear
//! minimisation oracle (Pethick et al., 2025, "Training deep learning models with norm-constrained
//! LMOs"), as pytorch-optimizer 4.1.0's `SCION`, tensor by tensor.
//!
//! For each tensor, with g = ∇f(θ):
//!
//! ```text
//! θ ← θ·(1 − γλ)                    (only without constraint; weight_decouple, else g ← g + λθ)
//! d ← lerp(d, g, α)                 (α = momentum: the weight of the new gradient)
//! u = scale · LMO(d)
//! θ ← θ·(1 − γ) if constraint;   θ ← θ − γ·u
//! ```
//!
//! The oracles (`norm_type`, with their reference options at their defaults):
//! - `AUTO`: BIAS for vectors, SPECTRAL for matrices, SPECTRALCONV for higher tensors;
//! - `SPECTRAL`: NS5_bf16(d)·√(d_out/d_in) (d_out × d_in = the tensor as a matrix; in
//!   bfloat16: the factor and scale are rounded to bfloat16, and so is each product);
//! - `SPECTRALCONV`: NS5_bf16(d as [d_out, rest])·√(d_out/d_in)/(kh·kw…), d_in = size(1);
//! - `SIGN`: sign(d)/d_in;  `BIAS`: d/(√mean(d²) + 1e-8);
//! - `COL`: d / (‖column‖/√d_in + 1e-8) (d_in = rows);  `ROW`: d / (‖row‖·√cols + 1e-8);
//! - `NONE`: d itself.
//!
//! The reference fails on a vector for SPECTRAL, SIGN, COL and ROW (they read size(1));
//! optlab reads a vector there as a 1 × n matrix.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum α = 0.1, constraint false,
//! norm_type AUTO, scale 1, weight_decay λ = 0, weight_decouple true, maximize false.
//! (`norm_kwargs` is not offered: every oracle takes its defaults.)

use super::newton_schulz::{bf16_of_f32, ns_preset, zero_power_bf16, NewtonSchulz};
use super::normuon::weight_decay;
use super::{
    ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real,
};
use std::ops::Range;

/// The oracle names of `norm_type` (the reference's `LMONorm`).
pub(super) const NORM_TYPES: &[&str] = &["AUTO", "NONE", "SPECTRAL", "SPECTRALCONV", "SIGN", "BIAS", "COL", "ROW"];

pub(super) const METHOD: Method = Method {
    name: "scion",
    title: "SCION (norm-constrained LMO steps: spectral for matrices, RMS for vectors) as pytorch-optimizer's SCION",
    group: Group::Matrix,
    formula: "d = lerp(d, G, α);  θ = θ(1−γ) (constraint);  θ = θ − γ·scale·LMO(d)   (LMO: NS5_bf16·√(d_out/d_in), d/rms(d), sign/d_in)",
    reference: "pytorch-optimizer 4.1.0 SCION",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("momentum", Kind::Num, "0.1", Check::Custom(momentum_ok), "weight α of the new gradient in d, in (0, 1]"),
        Param::new("constraint", Kind::Bool, "false", Check::Any, "conditional-gradient step: θ·(1 − γ) first"),
        Param::new("norm_type", Kind::Choice(NORM_TYPES), "\"AUTO\"", Check::Any, "the linear minimisation oracle"),
        Param::new("scale", Kind::Num, "1", Check::Positive, "radius: the oracle's output is multiplied by it"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ (not with constraint)"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − γλ) (else added to the gradient)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

pub(super) fn momentum_ok(v: &super::Value) -> Result<(), String> {
    match v {
        super::Value::Num(x) if *x > 0.0 && *x <= 1.0 => Ok(()),
        _ => Err(format!("momentum must be in (0, 1] (the weight of the new gradient), got {v}")),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Scion::<T>::new(ScionConfig::from_hyper(h), layout, false))
}

/// The oracle of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lmo {
    None,
    Spectral,
    SpectralConv,
    Sign,
    Bias,
    Col,
    Row,
}

/// Hyperparameters of [`Scion`] (and SCIONLight), pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ScionConfig {
    pub lr: f64,
    pub momentum: f64,
    pub constraint: bool,
    /// `None`: AUTO, chosen by the tensor's rank.
    pub norm_type: Option<Lmo>,
    pub scale: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub maximize: bool,
}

impl ScionConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let norm_type = match h.choice("norm_type").unwrap_or("AUTO") {
            "NONE" => Some(Lmo::None),
            "SPECTRAL" => Some(Lmo::Spectral),
            "SPECTRALCONV" => Some(Lmo::SpectralConv),
            "SIGN" => Some(Lmo::Sign),
            "BIAS" => Some(Lmo::Bias),
            "COL" => Some(Lmo::Col),
            "ROW" => Some(Lmo::Row),
            _ => None,
        };
        ScionConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            constraint: h.flag("constraint"),
            norm_type,
            scale: h.num("scale"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            maximize: h.flag("maximize"),
        }
    }
}

/// One tensor: where it is, its shape, and its oracle.
struct TensorPlan {
    range: Range<usize>,
    shape: Vec<usize>,
    lmo: Lmo,
}

/// Writes `scale · LMO(d)` of the tensor of shape `shape` into `out` (`ortho` and `ns`
/// are scratch for the spectral oracles).
fn lmo<T: Real>(
    kind: Lmo,
    d: &[T],
    shape: &[usize],
    scale: f64,
    out: &mut [T],
    ortho: &mut Vec<f32>,
    ns: &mut NewtonSchulz,
) {
    let n = d.len();
    // the tensor as a matrix (a vector as one row, where the reference needs two dims)
    let (rows, cols) = if shape.len() >= 2 { (shape[0], n / shape[0].max(1)) } else { (1, n) };
    let eps = T::of(1e-8);
    match kind {
        Lmo::None => {
            for (o, &x) in out.iter_mut().zip(d) {
                *o = x * T::of(scale);
            }
        }
        Lmo::Spectral | Lmo::SpectralConv => {
            ensure_len(ortho, n, 0.0);
            zero_power_bf16(ns, d, rows, cols, 5, ns_preset("original"), ortho);
            let shape_scale = if kind == Lmo::Spectral || shape.len() < 3 {
                (rows as f64 / cols as f64).sqrt()
            } else {
                let kernel: usize = shape[2..].iter().product();
                (shape[0] as f64 / shape[1] as f64).sqrt() / kernel as f64
            };
            // the reference multiplies the bfloat16 result by the scalars as bfloat16 values
            // (the 2-D cases agree bit for bit only so), each product rounded to bfloat16
            let (s1, s2) = (bf16_of_f32(shape_scale as f32), bf16_of_f32(scale as f32));
            for (o, &x) in out.iter_mut().zip(ortho.iter()) {
                *o = T::of(bf16_of_f32(bf16_of_f32(x * s1) * s2) as f64);
            }
        }
        Lmo::Sign => {
            let d_in = T::of(cols as f64);
            for (o, &x) in out.iter_mut().zip(d) {
                *o = ops::sign(x) / d_in * T::of(scale);
            }
        }
        Lmo::Bias => {
            let mean = d.iter().fold(T::zero(), |s, &x| s + x * x) / T::of(n as f64);
            let de = mean.sqrt() + eps;
            for (o, &x) in out.iter_mut().zip(d) {
                *o = x / de * T::of(scale);
            }
        }
        Lmo::Col => {
            // d_in = rows, d_out = cols; rms per column, not normalised by d_out (default)
            let root = T::of((rows as f64).sqrt());
            for j in 0..cols {
                let ss = (0..rows).fold(T::zero(), |s, i| s + d[i * cols + j] * d[i * cols + j]);
                let de = ss.sqrt() / root + eps;
                for i in 0..rows {
                    out[i * cols + j] = d[i * cols + j] / de * T::of(scale);
                }
            }
        }
        Lmo::Row => {
            let root = T::of((cols as f64).sqrt());
            for i in 0..rows {
                let row = &d[i * cols..(i + 1) * cols];
                let ss = row.iter().fold(T::zero(), |s, &x| s + x * x);
                let de = ss.sqrt() * root + eps;
                for (o, &x) in out[i * cols..(i + 1) * cols].iter_mut().zip(row) {
                    *o = x / de * T::of(scale);
                }
            }
        }
    }
}

/// SCION's state (and SCIONLight's, which keeps its momentum in the gradient buffer).
pub struct Scion<T: Real> {
    pub cfg: ScionConfig,
    layout: Layout,
    plan: Vec<TensorPlan>,
    /// SCIONLight: the momentum lives in the gradient (`d` is the gradient buffer).
    light: bool,
    d: Vec<T>,
    update: Vec<T>,
    ortho: Vec<f32>,
    ns: NewtonSchulz,
}

impl<T: Real> Scion<T> {
    pub fn new(cfg: ScionConfig, layout: &Layout, light: bool) -> Self {
        let mut s = Scion {
            cfg,
            layout: layout.clone(),
            plan: Vec::new(),
            light,
            d: Vec::new(),
            update: Vec::new(),
            ortho: Vec::new(),
            ns: NewtonSchulz::default(),
        };
        s.make_plan();
        s
    }

    fn make_plan(&mut self) {
        let auto = |rank: usize| match rank {
            0 | 1 => Lmo::Bias,
            2 => Lmo::Spectral,
            _ => Lmo::SpectralConv,
        };
        self.plan = self
            .layout
            .tensors
            .iter()
            .map(|t| TensorPlan { range: t.range(), shape: t.shape.clone(), lmo: self.cfg.norm_type.unwrap_or(auto(t.shape.len())) })
            .collect();
    }
}

impl<T: Real> GradientRule<T> for Scion<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        if self.layout.len() != n {
            self.layout = Layout::flat(n);
            self.make_plan();
        }
        ensure_len(&mut self.d, n, T::zero());
        ensure_len(&mut self.update, n, T::zero());
        let c = &self.cfg;
        let one_minus = T::of(1.0 - c.momentum);
        for t in &self.plan {
            let r = t.range.clone();
            let (p, d) = (&mut params[r.clone()], &mut self.d[r.clone()]);
            if self.light {
                // the buffer was scaled by 1 − momentum after the last step; the new
                // gradient is added to it (as backward accumulates into .grad)
                for (d, &g) in d.iter_mut().zip(&grad[r.clone()]) {
                    *d = *d + g;
                }
                if c.maximize {
                    d.iter_mut().for_each(|x| *x = -*x);
                }
                if !c.constraint && c.weight_decay > 0.0 {
                    weight_decay(p, d, c.lr, c.weight_decay, c.weight_decouple);
                }
            } else {
                let g = &mut self.update[r.clone()];
                for (g, &x) in g.iter_mut().zip(&grad[r.clone()]) {
                    *g = if c.maximize { -x } else { x };
                }
                if !c.constraint && c.weight_decay > 0.0 {
                    weight_decay(p, g, c.lr, c.weight_decay, c.weight_decouple);
                }
                let w = T::of(c.momentum);
                for (d, &g) in d.iter_mut().zip(g.iter()) {
                    *d = ops::lerp(*d, g, w);
                }
            }
            let u = &mut self.update[r.clone()];
            lmo(t.lmo, d, &t.shape, c.scale, u, &mut self.ortho, &mut self.ns);
            if c.constraint {
                let f = T::of(1.0 - c.lr);
                p.iter_mut().for_each(|x| *x = *x * f);
            }
            let neg_lr = T::of(-c.lr);
            for (p, &u) in p.iter_mut().zip(u.iter()) {
                *p = ops::add_alpha(*p, u, neg_lr);
            }
            if self.light && c.momentum != 1.0 {
                d.iter_mut().for_each(|x| *x = *x * one_minus);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
}
