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

use super::{check, ensure_len, fmt_num, ops, GradientRule, OptimizerInfo, ParamDoc, Real, Spec, SpecError};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "rprop",
    title: "Rprop as torch.optim.Rprop",
    formula: "Δ = clamp(Δ·(η₊ | η₋ | 1 by sign of g·g_prev), Δmin, Δmax);  θ = θ − sign(g)·Δ",
    params: &[
        ParamDoc { name: "lr", default: "0.01", doc: "initial step size Δ₀" },
        ParamDoc { name: "etas", default: "(0.5, 1.2)", doc: "(η₋, η₊) with 0 < η₋ < 1 < η₊" },
        ParamDoc { name: "step_sizes", default: "(1e-6, 50)", doc: "(Δmin, Δmax)" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// Hyperparameters of [`Rprop`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RpropConfig {
    pub lr: f64,
    pub etas: (f64, f64),
    pub step_sizes: (f64, f64),
    pub maximize: bool,
}

impl Default for RpropConfig {
    fn default() -> Self {
        RpropConfig { lr: 1e-2, etas: (0.5, 1.2), step_sizes: (1e-6, 50.0), maximize: false }
    }
}

impl RpropConfig {
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let a = spec.args(&["lr", "etas", "step_sizes", "maximize"])?;
        let d = Self::default();
        Ok(RpropConfig {
            lr: a.num("lr", d.lr)?,
            etas: a.pair("etas", d.etas)?,
            step_sizes: a.pair("step_sizes", d.step_sizes)?,
            maximize: a.flag("maximize", d.maximize)?,
        })
    }
    pub fn validate(&self) -> Result<(), String> {
        check::lr(self.lr)?;
        let (em, ep) = self.etas;
        if !(0.0 < em && em < 1.0 && 1.0 < ep && ep.is_finite()) {
            return Err(format!("invalid eta values: etas=({em}, {ep}) (need 0 < η₋ < 1 < η₊)"));
        }
        let (lo, hi) = self.step_sizes;
        if !(lo >= 0.0 && lo <= hi && hi.is_finite()) {
            return Err(format!("invalid step_sizes: ({lo}, {hi}) (need 0 <= min <= max)"));
        }
        Ok(())
    }
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("lr", fmt_num(self.lr)),
            ("etas", format!("({}, {})", fmt_num(self.etas.0), fmt_num(self.etas.1))),
            ("step_sizes", format!("({}, {})", fmt_num(self.step_sizes.0), fmt_num(self.step_sizes.1))),
            ("maximize", self.maximize.to_string()),
        ]
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
