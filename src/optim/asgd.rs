//! `asgd`: averaged stochastic gradient descent as `torch.optim.ASGD`
//! (Polyak & Juditsky, 1992, "Acceleration of stochastic approximation by averaging").
//!
//! With g_t = ∇f(θ_{t−1}) (negated when `maximize`), plus λ_wd·θ_{t−1} when
//! `weight_decay` ≠ 0, and η₀ = γ, μ₀ = 1:
//!
//! ```text
//! θ_t  = θ_{t−1}·(1 − λ·η_{t−1}) − η_{t−1}·g_t
//! ā_t  = ā_{t−1} + μ_{t−1}·(θ_t − ā_{t−1})        (ā_t = θ_t while μ = 1)
//! η_t  = γ / (1 + λ·γ·t)^α
//! μ_t  = 1 / max(1, t − t₀)
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.01, lambd λ = 1e-4, alpha α = 0.75, t0 = 1e6,
//! weight_decay 0, maximize false.
//!
//! As in torch, the parameters are the iterate θ (what the method reports and where the
//! gradient is taken); the running average ā (torch's `state["ax"]`) is kept alongside and
//! available from [`Asgd::averaged`]. η and μ are held in the parameters' type, as torch
//! holds them in tensors of the default dtype, and recomputed from the step count each step
//! (torch's single-tensor path, the one it takes on the CPU).

use super::{ensure_len, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "asgd",
    title: "averaged SGD as torch.optim.ASGD",
    group: Group::Classical,
    formula: "θ = θ·(1 − λη) − η·g;  ā = ā + μ(θ − ā);  η = lr/(1 + λ·lr·t)^α;  μ = 1/max(1, t − t₀)",
    reference: "torch.optim.ASGD",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "learning rate γ (the first η)"),
        Param::new("lambd", Kind::Num, "1e-4", Check::NonNeg, "decay term λ"),
        Param::new("alpha", Kind::Num, "0.75", Check::NonNeg, "power α of the η schedule"),
        Param::new("t0", Kind::Num, "1e6", Check::Any, "step after which averaging starts"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "L2 penalty (adds weight_decay·θ to the gradient)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: true,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Asgd::<T>::new(AsgdConfig::from_hyper(h)))
}

/// Hyperparameters of [`Asgd`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AsgdConfig {
    pub lr: f64,
    pub lambd: f64,
    pub alpha: f64,
    pub t0: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl AsgdConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AsgdConfig {
            lr: h.num("lr"),
            lambd: h.num("lambd"),
            alpha: h.num("alpha"),
            t0: h.num("t0"),
            weight_decay: h.num("weight_decay"),
            maximize: h.flag("maximize"),
        }
    }
}

/// ASGD state: step count, the step size η and averaging weight μ for the next step, and
/// the running average ā of the iterates.
pub struct Asgd<T> {
    pub cfg: AsgdConfig,
    step: u64,
    eta: T,
    mu: T,
    ax: Vec<T>,
}

impl<T: Real> Asgd<T> {
    pub fn new(cfg: AsgdConfig) -> Self {
        let eta = T::of(cfg.lr);
        Asgd { cfg, step: 0, eta, mu: T::one(), ax: Vec::new() }
    }

    /// The running average ā of the iterates (torch's `state["ax"]`); empty before the
    /// first step.
    #[allow(dead_code)]
    pub fn averaged(&self) -> &[T] {
        &self.ax
    }
}

impl<T: Real> GradientRule<T> for Asgd<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let c = &self.cfg;
        ensure_len(&mut self.ax, params.len(), T::zero());
        if self.step == 0 {
            // torch creates η from the group's lr at the first step, after any scheduler
            // has set it at construction
            self.eta = T::of(c.lr);
        }
        self.step += 1;
        let eta = self.eta.f64();
        let decay = T::of(1.0 - c.lambd * eta);
        let neg_eta = T::of(-eta);
        let wd = T::of(c.weight_decay);
        let (mu, averaging) = (self.mu, self.mu != T::one());
        for ((p, &g), a) in params.iter_mut().zip(grad).zip(self.ax.iter_mut()) {
            let mut g = if c.maximize { -g } else { g };
            if c.weight_decay != 0.0 {
                g = wd.mul_add(*p, g);
            }
            *p = neg_eta.mul_add(g, *p * decay);
            *a = if averaging { *a + (*p - *a) * mu } else { *p };
        }
        // the next step's η and μ, from the step count as torch computes them (in Python
        // floats, then stored in the state tensors)
        let t = self.step as f64;
        self.eta = T::of(c.lr / (1.0 + c.lambd * c.lr * t).powf(c.alpha));
        self.mu = T::of(1.0 / f64::max(1.0, t - c.t0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Objective;
    use serde_json::Value;

    /// The average ā after each step agrees with torch's `state["ax"]` in the golden cases
    /// (the parity test checks the iterates; this checks the average the method keeps).
    #[test]
    fn running_average_matches_torch_state_ax() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/modern_optim_2d.json");
        let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut seen = 0;
        for case in g["cases"].as_array().unwrap().iter().filter(|c| c["class"] == "ASGD") {
            let f = crate::objective::builtin(case["function"].as_str().unwrap()).unwrap().function();
            let kw = &case["kwargs"];
            let mut cfg = AsgdConfig { lr: 0.01, lambd: 1e-4, alpha: 0.75, t0: 1e6, weight_decay: 0.0, maximize: false };
            for (k, v) in kw.as_object().unwrap() {
                let v = v.as_f64().unwrap();
                match k.as_str() {
                    "lr" => cfg.lr = v,
                    "lambd" => cfg.lambd = v,
                    "alpha" => cfg.alpha = v,
                    "t0" => cfg.t0 = v,
                    "weight_decay" => cfg.weight_decay = v,
                    other => panic!("unexpected key {other}"),
                }
            }
            let mut opt = Asgd::<f64>::new(cfg);
            let s = case["start"].as_array().unwrap();
            let mut p = [s[0].as_f64().unwrap(), s[1].as_f64().unwrap()];
            let (ax, ay) = (case["ax"].as_array().unwrap(), case["ay"].as_array().unwrap());
            let upto = case["chaos_step"].as_u64().map_or(ax.len(), |c| c as usize).min(ax.len());
            let mut obj = f.objective();
            let mut grad = [0.0; 2];
            for k in 0..upto {
                obj.eval(&p, &mut grad);
                opt.update(&mut p, &grad);
                let (x, y) = (ax[k].as_f64().unwrap(), ay[k].as_f64().unwrap());
                let a = opt.averaged();
                let err = (a[0] - x).abs().max((a[1] - y).abs()) / (1.0 + x.abs() + y.abs());
                assert!(err <= 1e-12, "{}: step {k}: ā = {a:?} vs torch ({x}, {y})", case["id"]);
            }
            seen += 1;
        }
        assert!(seen >= 2);
    }

    #[test]
    fn eta_and_mu_follow_torch_schedule() {
        let cfg = AsgdConfig { lr: 0.1, lambd: 0.01, alpha: 0.5, t0: 2.0, weight_decay: 0.0, maximize: false };
        let mut opt = Asgd::<f64>::new(cfg);
        let mut p = [1.0];
        for _ in 0..4 {
            opt.update(&mut p, &[0.5]);
        }
        assert_eq!(opt.eta, 0.1 / (1.0f64 + 0.01 * 0.1 * 4.0).powf(0.5));
        assert_eq!(opt.mu, 0.5);
    }
}
