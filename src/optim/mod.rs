//! Optimizers: one abstraction shared by the 2-D laboratory and neural-network training.
//!
//! An optimizer sees flat slices only: the parameters (updated in place) and an
//! [`Objective`] it may call to get the loss and the gradient at any point it chooses.
//! Most optimizers evaluate the objective once, at the current parameters
//! ([`FirstOrder`] wraps such an update rule); the seminar's NAG evaluates it at the
//! look-ahead point θ − γm; line-search methods may call it several times per step.
//!
//! State (moments, accumulators, step count) lives inside the optimizer and is sized on
//! the first step. Hyperparameters are a plain `*Config` struct per optimizer with
//! PyTorch's names and defaults, validated once by [`OptimizerConfig::parse`] /
//! [`OptimizerConfig::validate`] before anything runs.
//!
//! Element-wise arithmetic follows ATen's CPU kernels (see [`ops`]) so that trajectories
//! agree with `torch.optim` to the last few ulps.

pub mod ops;
pub mod spec;

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod gd;
mod momentum;
mod nadam;
mod nag;
mod radam;
mod rmsprop;
mod rprop;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use adamax::{Adamax, AdamaxConfig};
pub use adamw::AdamWConfig;
pub use gd::{Gd, GdConfig};
pub use momentum::{Momentum, MomentumConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use nag::{Nag, NagConfig};
pub use radam::{RAdam, RAdamConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use sgd::{Sgd, SgdConfig};
pub use spec::{Spec, SpecError, Value};

use std::fmt;

/// The floating-point types optimizers run on (`f32` for networks, `f64` for the 2-D lab).
pub trait Real: num_traits::Float + Send + Sync + Default + fmt::Debug + fmt::Display + 'static {
    /// Converts a hyperparameter (always held as `f64`, like a Python float) to this type.
    fn of(v: f64) -> Self;
    /// Widens to `f64` (for records and reports).
    fn f64(self) -> f64;
}

impl Real for f64 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

/// Something that returns the loss at `params` and writes the gradient there into `grad`
/// (same length as `params`). A 2-D test function, or a network on the current batch.
pub trait Objective<T> {
    fn eval(&mut self, params: &[T], grad: &mut [T]) -> T;
}

impl<T, F: FnMut(&[T], &mut [T]) -> T> Objective<T> for F {
    fn eval(&mut self, params: &[T], grad: &mut [T]) -> T {
        self(params, grad)
    }
}

/// An optimizer: updates `params` in place, calling `objective` where and as often as its
/// method needs. Returns the loss at the point where the (first) gradient was taken.
pub trait Optimizer<T: Real>: Send {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T;
}

/// An update rule that needs exactly one gradient, taken at the current parameters
/// (every torch.optim optimizer except LBFGS). Wrap it in [`FirstOrder`] to get an
/// [`Optimizer`], or call [`GradientRule::update`] directly when the gradient is at hand.
pub trait GradientRule<T: Real>: Send {
    fn update(&mut self, params: &mut [T], grad: &[T]);
}

/// Adapts a [`GradientRule`] to the [`Optimizer`] interface; owns the gradient buffer so a
/// step allocates nothing after the first.
pub struct FirstOrder<T, R> {
    pub rule: R,
    grad: Vec<T>,
}

impl<T: Real, R: GradientRule<T>> FirstOrder<T, R> {
    pub fn new(rule: R) -> Self {
        FirstOrder { rule, grad: Vec::new() }
    }
}

impl<T: Real, R: GradientRule<T>> Optimizer<T> for FirstOrder<T, R> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        if self.grad.len() != params.len() {
            self.grad.resize(params.len(), T::zero());
        }
        let loss = objective.eval(params, &mut self.grad);
        self.rule.update(params, &self.grad);
        loss
    }
}

/// Resizes a state buffer on the first step (no allocation afterwards).
#[inline]
pub(crate) fn ensure_len<T: Real>(buf: &mut Vec<T>, n: usize, fill: T) {
    if buf.len() != n {
        buf.clear();
        buf.resize(n, fill);
    }
}

/// A validated optimizer configuration: which method and its hyperparameters.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerConfig {
    Gd(GdConfig),
    Momentum(MomentumConfig),
    Nag(NagConfig),
    Sgd(SgdConfig),
    Adagrad(AdagradConfig),
    Adadelta(AdadeltaConfig),
    Adam(AdamConfig),
    AdamW(AdamWConfig),
    RmsProp(RmsPropConfig),
    NAdam(NAdamConfig),
    RAdam(RAdamConfig),
    Adamax(AdamaxConfig),
    Rprop(RpropConfig),
}

/// One hyperparameter as shown by `optlab list optimizers`.
pub struct ParamDoc {
    pub name: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

/// What `optlab list optimizers` prints about one optimizer.
pub struct OptimizerInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub formula: &'static str,
    pub params: &'static [ParamDoc],
}

/// Every optimizer optlab knows, in the order they are listed.
pub const OPTIMIZERS: &[OptimizerInfo] = &[
    gd::INFO,
    momentum::INFO,
    nag::INFO,
    sgd::INFO,
    adagrad::INFO,
    adadelta::INFO,
    adam::INFO,
    adamw::INFO,
    rmsprop::INFO,
    nadam::INFO,
    radam::INFO,
    adamax::INFO,
    rprop::INFO,
];

impl OptimizerConfig {
    /// Parses and validates a spec string such as `adam(lr=0.1, betas=(0.8, 0.99))`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let spec = Spec::parse(text)?;
        Self::from_spec(&spec)
    }

    /// Builds a validated configuration from a parsed spec.
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let cfg = match spec.name.as_str() {
            "gd" => Self::Gd(GdConfig::from_spec(spec)?),
            "momentum" => Self::Momentum(MomentumConfig::from_spec(spec)?),
            "nag" => Self::Nag(NagConfig::from_spec(spec)?),
            "sgd" => Self::Sgd(SgdConfig::from_spec(spec)?),
            "adagrad" => Self::Adagrad(AdagradConfig::from_spec(spec)?),
            "adadelta" => Self::Adadelta(AdadeltaConfig::from_spec(spec)?),
            "adam" => Self::Adam(AdamConfig::from_spec(spec)?),
            "adamw" => Self::AdamW(AdamWConfig::from_spec(spec)?),
            "rmsprop" => Self::RmsProp(RmsPropConfig::from_spec(spec)?),
            "nadam" => Self::NAdam(NAdamConfig::from_spec(spec)?),
            "radam" => Self::RAdam(RAdamConfig::from_spec(spec)?),
            "adamax" => Self::Adamax(AdamaxConfig::from_spec(spec)?),
            "rprop" => Self::Rprop(RpropConfig::from_spec(spec)?),
            other => {
                let names: Vec<&str> = OPTIMIZERS.iter().map(|o| o.name).collect();
                return Err(SpecError::new(
                    format!("unknown optimizer '{other}' (known: {})", names.join(", ")),
                    spec.name_span.clone(),
                ));
            }
        };
        cfg.validate().map_err(|m| SpecError::new(m, 0..0))?;
        Ok(cfg)
    }

    /// Checks the hyperparameters with PyTorch's rules; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Gd(c) => c.validate(),
            Self::Momentum(c) => c.validate(),
            Self::Nag(c) => c.validate(),
            Self::Sgd(c) => c.validate(),
            Self::Adagrad(c) => c.validate(),
            Self::Adadelta(c) => c.validate(),
            Self::Adam(c) => c.validate(),
            Self::AdamW(c) => c.validate(),
            Self::RmsProp(c) => c.validate(),
            Self::NAdam(c) => c.validate(),
            Self::RAdam(c) => c.validate(),
            Self::Adamax(c) => c.validate(),
            Self::Rprop(c) => c.validate(),
        }
    }

    /// The method's short name (`adam`, `sgd`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gd(_) => "gd",
            Self::Momentum(_) => "momentum",
            Self::Nag(_) => "nag",
            Self::Sgd(_) => "sgd",
            Self::Adagrad(_) => "adagrad",
            Self::Adadelta(_) => "adadelta",
            Self::Adam(_) => "adam",
            Self::AdamW(_) => "adamw",
            Self::RmsProp(_) => "rmsprop",
            Self::NAdam(_) => "nadam",
            Self::RAdam(_) => "radam",
            Self::Adamax(_) => "adamax",
            Self::Rprop(_) => "rprop",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Self::Gd(c) => c.lr,
            Self::Momentum(c) => c.lr,
            Self::Nag(c) => c.lr,
            Self::Sgd(c) => c.lr,
            Self::Adagrad(c) => c.lr,
            Self::Adadelta(c) => c.lr,
            Self::Adam(c) => c.lr,
            Self::AdamW(c) => c.adam.lr,
            Self::RmsProp(c) => c.lr,
            Self::NAdam(c) => c.lr,
            Self::RAdam(c) => c.lr,
            Self::Adamax(c) => c.lr,
            Self::Rprop(c) => c.lr,
        }
    }

    /// The same configuration with another learning rate (used by `tune`).
    pub fn with_lr(&self, lr: f64) -> Self {
        let mut c = self.clone();
        match &mut c {
            Self::Gd(c) => c.lr = lr,
            Self::Momentum(c) => c.lr = lr,
            Self::Nag(c) => c.lr = lr,
            Self::Sgd(c) => c.lr = lr,
            Self::Adagrad(c) => c.lr = lr,
            Self::Adadelta(c) => c.lr = lr,
            Self::Adam(c) => c.lr = lr,
            Self::AdamW(c) => c.adam.lr = lr,
            Self::RmsProp(c) => c.lr = lr,
            Self::NAdam(c) => c.lr = lr,
            Self::RAdam(c) => c.lr = lr,
            Self::Adamax(c) => c.lr = lr,
            Self::Rprop(c) => c.lr = lr,
        }
        c
    }

    /// A fresh optimizer (empty state) for parameters of type `T`.
    pub fn build<T: Real>(&self) -> Box<dyn Optimizer<T>> {
        match self {
            Self::Gd(c) => Box::new(FirstOrder::new(Gd::new(c.clone()))),
            Self::Momentum(c) => Box::new(FirstOrder::new(Momentum::new(c.clone()))),
            Self::Nag(c) => Box::new(Nag::new(c.clone())),
            Self::Sgd(c) => Box::new(FirstOrder::new(Sgd::new(c.clone()))),
            Self::Adagrad(c) => Box::new(FirstOrder::new(Adagrad::new(c.clone()))),
            Self::Adadelta(c) => Box::new(FirstOrder::new(Adadelta::new(c.clone()))),
            Self::Adam(c) => Box::new(FirstOrder::new(Adam::new(c.clone()))),
            Self::AdamW(c) => Box::new(FirstOrder::new(Adam::new(c.adam.clone()))),
            Self::RmsProp(c) => Box::new(FirstOrder::new(RmsProp::new(c.clone()))),
            Self::NAdam(c) => Box::new(FirstOrder::new(NAdam::new(c.clone()))),
            Self::RAdam(c) => Box::new(FirstOrder::new(RAdam::new(c.clone()))),
            Self::Adamax(c) => Box::new(FirstOrder::new(Adamax::new(c.clone()))),
            Self::Rprop(c) => Box::new(FirstOrder::new(Rprop::new(c.clone()))),
        }
    }

    /// The canonical spec string with every hyperparameter spelled out, e.g.
    /// `adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=false, maximize=false)`.
    pub fn canonical(&self) -> String {
        let (name, pairs) = self.pairs();
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name}({})", body.join(", "))
    }

    /// A short label: the name, the learning rate, and the hyperparameters that differ
    /// from the defaults, e.g. `sgd(lr=0.01, momentum=0.9)`.
    pub fn label(&self) -> String {
        let default = Self::from_spec(&Spec::bare(self.name())).expect("defaults are valid");
        let (name, pairs) = self.pairs();
        let (_, dpairs) = default.pairs();
        let diff: Vec<String> = pairs
            .iter()
            .zip(dpairs.iter())
            .filter(|(a, b)| a.0 == "lr" || a.1 != b.1)
            .map(|(a, _)| format!("{}={}", a.0, a.1))
            .collect();
        if diff.is_empty() {
            name.to_string()
        } else {
            format!("{name}({})", diff.join(", "))
        }
    }

    /// (name, [(key, value as written in a spec)]) in PyTorch's keyword order.
    pub fn pairs(&self) -> (&'static str, Vec<(&'static str, String)>) {
        let p = match self {
            Self::Gd(c) => c.pairs(),
            Self::Momentum(c) => c.pairs(),
            Self::Nag(c) => c.pairs(),
            Self::Sgd(c) => c.pairs(),
            Self::Adagrad(c) => c.pairs(),
            Self::Adadelta(c) => c.pairs(),
            Self::Adam(c) => c.pairs(),
            Self::AdamW(c) => c.pairs(),
            Self::RmsProp(c) => c.pairs(),
            Self::NAdam(c) => c.pairs(),
            Self::RAdam(c) => c.pairs(),
            Self::Adamax(c) => c.pairs(),
            Self::Rprop(c) => c.pairs(),
        };
        (self.name(), p)
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Formats a float the shortest way that reads back to the same value.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v}");
    let e = format!("{v:e}");
    if e.len() < s.len() {
        e
    } else {
        s
    }
}

/// Shared validation helpers, worded like PyTorch's `ValueError`s plus what to do.
pub(crate) mod check {
    pub fn lr(v: f64) -> Result<(), String> {
        if v.is_nan() || v < 0.0 || !v.is_finite() {
            return Err(format!("invalid learning rate: lr={v} (use a finite value >= 0, e.g. lr=0.01)"));
        }
        Ok(())
    }
    pub fn non_negative(key: &str, v: f64) -> Result<(), String> {
        if v.is_nan() || v < 0.0 || !v.is_finite() {
            return Err(format!("invalid {key} value: {key}={v} (use a finite value >= 0)"));
        }
        Ok(())
    }
    pub fn betas(b: (f64, f64)) -> Result<(), String> {
        for (i, v) in [b.0, b.1].into_iter().enumerate() {
            if !(0.0..1.0).contains(&v) {
                return Err(format!(
                    "invalid beta parameter at index {i}: betas=({}, {}) (each beta must be in [0, 1))",
                    b.0, b.1
                ));
            }
        }
        Ok(())
    }
    pub fn unit_closed(key: &str, v: f64) -> Result<(), String> {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("invalid {key} value: {key}={v} (use a value in [0, 1])"));
        }
        Ok(())
    }
}
