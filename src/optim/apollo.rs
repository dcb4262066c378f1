//! `apollo`: APOLLO, SGD-like memory with AdamW-like steps: Adam's moments in a random
//! low-rank projection only set how much to scale the gradient (Zhu et al., 2024,
//! "APOLLO: SGD-like memory, AdamW-level performance"), as pytorch-optimizer 4.1.0's `APOLLO`.
//!
//! With `rank` set (the reference's parameter-group keys rank, update_proj_gap, scale and
//! projection_type), each 2-D tensor's gradient G (rows × cols), at step t:
//!
//! ```text
//! P = randn(rows, rank)/√rank (left, rows < cols) or randn(rank, cols)/√rank (right; both
//!     are drawn, U first), at the first step and whenever t % update_proj_gap == 0
//! R = G Pᵀ (right) or Pᵀ G (left)                      (the low-rank gradient)
//! m ← lerp(m, R, 1 − β₁);  v ← β₂·v + (1 − β₂)·R²;  N = m/(√v + ε)
//! s = ‖N‖/(‖R‖ + 1e-8)   ("tensor"; "channel": per row or column of the low-rank shape)
//! S = R·s;  ℓ = max(‖S‖/(‖S_prev‖ + 1e-8), 1.01)/1.01 after the first step;  S ← S/ℓ
//! θ ← θ − η·scale·√scale·back(S),   η = γ·√(1 − β₂ᵗ)/(1 − β₁ᵗ) (γ without correct_bias)
//! θ ← θ·(1 − λη)                    (weight_decouple; else G ← G + λθ first; λ alone with fixed_decay)
//! ```
//!
//! Every other tensor (and every tensor without `rank`) takes Adam's step
//! θ ← θ − η·m/(√v + ε) with the same decay.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-2, betas (0.9, 0.999), scale_type "tensor",
//! weight_decay λ = 0, weight_decouple true, fixed_decay false, correct_bias true, eps 1e-6,
//! maximize false; rank None (no projection), update_proj_gap 50, scale 1,
//! projection_type "std" (GaLoreProjector's defaults; APOLLO always projects randomly).
//!
//! The random projections come from optlab's seeded generator ([`super::draws`]), so runs
//! repeat; the golden tests replay torch's draws.

use super::draws::Source;
use super::galore::{rank_ok, Projection, Projector, PROJECTION_TYPES};
use super::{
    ensure_len, linalg, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real,
};

pub(super) const METHOD: Method = Method {
    name: "apollo",
    title: "APOLLO (gradient scaled by Adam's moments in a random low-rank projection) as pytorch-optimizer's APOLLO",
    group: Group::Matrix,
    formula: "R = G Pᵀ (P random, refreshed every gap steps);  N = m/(√v+ε) from R;  θ −= lr'·G·‖N‖/‖R‖ (as R back-projected, growth-limited)",
    reference: "pytorch-optimizer 4.1.0 APOLLO (with GaLoreProjector)",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "learning rate γ"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "(β₁, β₂) of the moments"),
        Param::new("scale_type", Kind::Choice(&["tensor", "channel"]), "\"tensor\"", Check::Any, "one scaling factor per tensor or per channel"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay after the step (else added to the gradient)"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay not scaled by the step size"),
        Param::new("correct_bias", Kind::Bool, "true", Check::Any, "Adam's bias correction of the step size"),
        Param::new("eps", Kind::Num, "1e-6", Check::NonNeg, "added to √v"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("rank", Kind::MaybeNum, "None", Check::Custom(rank_ok), "projection rank (None: no projection)"),
        Param::new("update_proj_gap", Kind::Int, "50", Check::AtLeast(1), "steps between new random projections"),
        Param::new("scale", Kind::Num, "1", Check::NonNeg, "the update is multiplied by √scale and by scale"),
        Param::new("projection_type", Kind::Choice(PROJECTION_TYPES), "\"std\"", Check::Any, "orientation of the projection"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Apollo::<T>::new(ApolloConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Apollo`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ApolloConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub channel: bool,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub correct_bias: bool,
    pub eps: f64,
    pub maximize: bool,
    pub projection: Option<Projection>,
}

impl ApolloConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        ApolloConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            channel: h.choice("scale_type") == Some("channel"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            correct_bias: h.flag("correct_bias"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            projection: Projection::from_hyper(h),
        }
    }
}

/// One tensor's state.
struct TensorState<T> {
    offset: usize,
    len: usize,
    matrix: Option<(usize, usize)>,
    projector: Option<Projector>,
    m: Vec<T>,
    v: Vec<T>,
    /// ‖S‖ of the last step (the reference's `scaling_grad`).
    last_norm: Option<T>,
}

/// APOLLO's state.
pub struct Apollo<T: Real> {
    pub cfg: ApolloConfig,
    layout: Layout,
    tensors: Vec<TensorState<T>>,
    step: u64,
    source: Source,
}

fn plan<T: Real>(layout: &Layout) -> Vec<TensorState<T>> {
    layout
        .tensors
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| TensorState {
            offset: t.offset,
            len: t.len(),
            matrix: (t.shape.len() == 2).then(|| (t.shape[0], t.shape[1])),
            projector: None,
            m: Vec::new(),
            v: Vec::new(),
            last_norm: None,
        })
        .collect()
}

impl<T: Real> Apollo<T> {
    pub fn new(cfg: ApolloConfig, layout: &Layout) -> Self {
        Apollo { cfg, layout: layout.clone(), tensors: plan(layout), step: 0, source: Source::new(0) }
    }
}

impl<T: Real> GradientRule<T> for Apollo<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        if self.layout.len() != params.len() {
            self.layout = Layout::flat(params.len());
            self.tensors = plan(&self.layout);
        }
        self.step += 1;
        let c = &self.cfg;
        let (b1, b2) = c.betas;
        let mut step_size = c.lr;
        if c.correct_bias {
            let bc1 = 1.0 - b1.powi(self.step as i32);
            let bc2_sqrt = (1.0 - b2.powi(self.step as i32)).sqrt();
            step_size *= bc2_sqrt / bc1;
        }
        let (w1, beta2, w2, eps) = (T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2), T::of(c.eps));
        let decay = T::of(1.0 - c.weight_decay * if c.fixed_decay { 1.0 } else { step_size });
        let tiny = T::of(1e-8);
        for t in &mut self.tensors {
            let r = t.offset..t.offset + t.len;
            let p = &mut params[r.clone()];
            let mut g: Vec<T> = grad[r].iter().map(|&x| if c.maximize { -x } else { x }).collect();
            if !c.weight_decouple && c.weight_decay > 0.0 {
                for (g, &x) in g.iter_mut().zip(p.iter()) {
                    *g = ops::add_alpha(*g, x, T::of(c.weight_decay));
                }
            }
            let projected = match (&c.projection, t.matrix) {
                (Some(pr), Some((rows, cols))) => {
                    let proj = t.projector.get_or_insert_with(|| Projector::new(pr.clone(), rows, cols));
                    let g64: Vec<f64> = g.iter().map(|x| x.f64()).collect();
                    let low = proj.project(&g64, self.step, true, &mut self.source);
                    Some((low.iter().map(|&x| T::of(x)).collect::<Vec<T>>(), proj.low_shape()))
                }
                _ => None,
            };
            let low = projected.as_ref().map_or(&g, |(l, _)| l);
            ensure_len(&mut t.m, low.len(), T::zero());
            ensure_len(&mut t.v, low.len(), T::zero());
            let mut norm_grad: Vec<T> = Vec::with_capacity(low.len());
            for ((m, v), &x) in t.m.iter_mut().zip(t.v.iter_mut()).zip(low.iter()) {
                *m = ops::lerp(*m, x, w1);
                *v = ops::addcmul(*v * beta2, x, x, w2);
                norm_grad.push(*m / (v.sqrt() + eps));
            }
            let update: Vec<T> = match (&projected, &t.projector) {
                (Some((low, (lr, lc))), Some(proj)) => {
                    let (lr, lc) = (*lr, *lc);
                    let mut scaled = vec![T::zero(); low.len()];
                    if c.channel && lr >= lc {
                        // norms along dim 1: one factor per row
                        for i in 0..lr {
                            let row = i * lc..(i + 1) * lc;
                            let f = linalg::norm(&norm_grad[row.clone()]) / (linalg::norm(&low[row.clone()]) + tiny);
                            for j in row {
                                scaled[j] = low[j] * f;
                            }
                        }
                    } else if c.channel {
                        // norms along dim 0: one factor per column
                        for j in 0..lc {
                            let col = |x: &[T]| (0..lr).map(|i| x[i * lc + j]).collect::<Vec<T>>();
                            let f = linalg::norm(&col(&norm_grad)) / (linalg::norm(&col(low)) + tiny);
                            for i in 0..lr {
                                scaled[i * lc + j] = low[i * lc + j] * f;
                            }
                        }
                    } else {
                        let f = linalg::norm(&norm_grad) / (linalg::norm(low) + tiny);
                        for (s, &x) in scaled.iter_mut().zip(low.iter()) {
                            *s = x * f;
                        }
                    }
                    let mut norm = linalg::norm(&scaled);
                    if let Some(prev) = t.last_norm {
                        let ratio = norm / (prev + tiny);
                        let limit = T::of(1.01);
                        let limiter = if limit > ratio { limit } else { ratio } / limit;
                        scaled.iter_mut().for_each(|x| *x = *x / limiter);
                        norm = norm / limiter;
                    }
                    t.last_norm = Some(norm);
                    let root = T::of(proj.p.scale.sqrt());
                    let x: Vec<f64> = scaled.iter().map(|&x| (x * root).f64()).collect();
                    proj.project_back(&x, (lr, lc)).into_iter().map(T::of).collect()
                }
                _ => norm_grad,
            };
            let neg = T::of(-step_size);
            for (p, &u) in p.iter_mut().zip(&update) {
                *p = ops::add_alpha(*p, u, neg);
            }
            if c.weight_decouple && c.weight_decay != 0.0 {
                p.iter_mut().for_each(|x| *x = *x * decay);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
}
