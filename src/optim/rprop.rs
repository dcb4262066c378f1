//! `rprop`: resilient backpropagation, as `torch.optim.Rprop` (Riedmiller & Braun, 1993).
//!
//! ```text
//! s = sign(g_t · g_{t−1})
//! η_t = η₊ if s > 0,  η₋ if s < 0,  1 if s = 0
//! Δ_t = clamp(Δ_{t−1}·η_t, Δ_min, Δ_max)          (Δ_0 = lr)
//! g_t = 0 where s < 0                             (skip the step after a sign change)
//! θ_t = θ_{t−1} − sign(g_t)·Δ_t
//! ```
//!
//! Defaults as in PyTorch: lr 0.01, etas (η₋, η₊) = (0.5, 1.2),
//! step_sizes (Δ_min, Δ_max) = (1e-6, 50), maximize false. Rprop uses only the sign of the
//! gradient, so it is meant for full-batch problems such as the 2-D functions.

use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "rprop",
    title: "Rprop as torch.optim.Rprop",
    group: Group::Adaptive,
    formula: "Δ = clamp(Δ·(η₊ | η₋ | 1 by sign of g·g_prev), Δmin, Δmax);  θ = θ − sign(g)·Δ",
    reference: "torch.optim.Rprop",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "initial step size Δ₀"),
        Param::new("etas", Kind::Nums(2), "(0.5, 1.2)", Check::Any, "(η₋, η₊) with 0 < η₋ < 1 < η₊"),
        Param::new("step_sizes", Kind::Nums(2), "(1e-6, 50)", Check::Any, "(Δmin, Δmax)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// PyTorch's ranges: 0 < η₋ < 1 < η₊ and 0 ≤ Δmin ≤ Δmax.
fn rules(h: &Hyper) -> Result<(), String> {
    let (em, ep) = h.pair("etas");
    if !(0.0 < em && em < 1.0 && 1.0 < ep) {
        return Err(format!("invalid eta values: etas=({em}, {ep}) (need 0 < η₋ < 1 < η₊)"));
    }
    let (lo, hi) = h.pair("step_sizes");
    if !(lo >= 0.0 && lo <= hi) {
        return Err(format!("invalid step_sizes: ({lo}, {hi}) (need 0 <= min <= max)"));
    }
    Ok(())
}

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Rprop::<T>::new(RpropConfig::from_hyper(h)))
}

/// Hyperparameters of [`Rprop`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RpropConfig {
    pub lr: f64,
    pub etas: (f64, f64),
    pub step_sizes: (f64, f64),
    pub maximize: bool,
}

impl RpropConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        RpropConfig {
            lr: h.num("lr"),
            etas: h.pair("etas"),
            step_sizes: h.pair("step_sizes"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Rprop state: previous (masked) gradient and per-coordinate step sizes.
pub struct Rprop<T> {
    pub cfg: RpropConfig,
    prev: Vec<T>,
    step_size: Vec<T>,
}

impl<T: Real> Rprop<T> {
    pub fn new(cfg: RpropConfig) -> Self {
        Rprop { cfg, prev: Vec::new(), step_size: Vec::new() }
    }
}

impl<T: Real> GradientRule<T> for Rprop<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        let n = params.len();
        ensure_len(&mut self.prev, n, T::zero());
        ensure_len(&mut self.step_size, n, T::of(c.lr));
        let (eta_minus, eta_plus) = (T::of(c.etas.0), T::of(c.etas.1));
        let (lo, hi) = (T::of(c.step_sizes.0), T::of(c.step_sizes.1));
        for i in 0..n {
            let mut g = if c.maximize { -grad[i] } else { grad[i] };
            let s = ops::sign(g * self.prev[i]);
            let eta = if s > T::zero() {
                eta_plus
            } else if s < T::zero() {
                eta_minus
            } else if s == T::zero() {
                T::one()
            } else {
                s
            };
            let st = self.step_size[i] * eta;
            self.step_size[i] = if st.is_nan() { st } else { st.max(lo).min(hi) };
            if eta == eta_minus {
                g = T::zero();
            }
            params[i] = ops::addcmul(params[i], ops::sign(g), self.step_size[i], -T::one());
            self.prev[i] = g;
        }
    }
}
