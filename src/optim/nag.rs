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

/// NAG has the same hyperparameters (and checks) as the seminar's momentum.
pub use super::momentum::MomentumConfig as NagConfig;
use super::{ensure_len, GroupHyper, Group, Hyper, Layout, Method, Objective, Optimizer, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "nag",
    title: "Nesterov accelerated gradient, look-ahead form (seminar's NAG)",
    group: Group::Classical,
    formula: "g = ∇f(θ − γ·m);  m = γ·m + lr·g;  θ = θ − m",
    reference: "the seminar (seminar7); torch.optim.SGD(nesterov=True) in the shifted variable",
    params: super::momentum::METHOD.params,
    elementwise: true,
    closure: false,
    point: Point::LookAhead,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(Nag::<T>::new(NagConfig::from_hyper(h)))
}

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
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.gamma) }
    }
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
