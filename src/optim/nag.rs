//! `nag`: Nesterov's accelerated gradient in the seminar's look-ahead form
//! (Nesterov, 1983; Sutskever et al., 2013).
//!
//! ```text
//! g_t = ∇f(θ_{t−1} − γ·m_{t−1})          (gradient at the look-ahead point)
//! m_t = γ·m_{t−1} + lr·g_t
//! θ_t = θ_{t−1} − m_t
//! ```
//!
//! Defaults: lr = 0.1, gamma γ = 0.9 (the seminar's).
//!
//! **Relation to `sgd(momentum=γ, nesterov=true)`.** PyTorch's Nesterov SGD is the same
//! method written in the shifted variable φ = θ − γ·m (the look-ahead point itself): with
//! b = m/lr it does b = γ·b + ∇f(φ); φ = φ − lr·(∇f(φ) + γ·b). Both visit the same
//! sequence of gradient points, but optlab's `nag` records θ (where the seminar plots),
//! while `sgd(nesterov=true)` records φ; the two trajectories are therefore offset by
//! γ·m at every step and meet at the minimum.
//!
//! This optimizer evaluates the objective at a point other than the current parameters,
//! so it implements [`Optimizer`] directly rather than [`super::GradientRule`].

/// NAG has the same hyperparameters (and validation) as the seminar's momentum.
pub use super::momentum::MomentumConfig as NagConfig;
use super::{ensure_len, Objective, Optimizer, OptimizerInfo, ParamDoc, Real};

pub(super) const INFO: OptimizerInfo = OptimizerInfo {
    name: "nag",
    title: "Nesterov accelerated gradient, look-ahead form (seminar's NAG)",
    formula: "g = ∇f(θ − γ·m);  m = γ·m + lr·g;  θ = θ − m",
    params: &[
        ParamDoc { name: "lr", default: "0.1", doc: "learning rate (seminar's value)" },
        ParamDoc { name: "gamma", default: "0.9", doc: "momentum factor γ" },
        ParamDoc { name: "maximize", default: "false", doc: "maximise the objective instead" },
    ],
};

/// NAG state: the velocity m and scratch buffers for the look-ahead point and its gradient.
pub struct Nag<T> {
    pub cfg: NagConfig,
    m: Vec<T>,
    ahead: Vec<T>,
    grad: Vec<T>,
}

impl<T: Real> Nag<T> {
    pub fn new(cfg: NagConfig) -> Self {
        Nag { cfg, m: Vec::new(), ahead: Vec::new(), grad: Vec::new() }
    }
}

impl<T: Real> Optimizer<T> for Nag<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let n = params.len();
        ensure_len(&mut self.m, n, T::zero());
        ensure_len(&mut self.ahead, n, T::zero());
        ensure_len(&mut self.grad, n, T::zero());
        let (gamma, lr) = (T::of(self.cfg.gamma), T::of(self.cfg.lr));
        for ((a, &p), &m) in self.ahead.iter_mut().zip(params.iter()).zip(&self.m) {
            *a = p - gamma * m;
        }
        let loss = objective.eval(&self.ahead, &mut self.grad);
        for ((p, &g), m) in params.iter_mut().zip(&self.grad).zip(self.m.iter_mut()) {
            let g = if self.cfg.maximize { -g } else { g };
            *m = *m * gamma + lr * g;
            *p = *p - *m;
        }
        loss
    }
}
