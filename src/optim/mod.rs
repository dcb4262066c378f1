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

pub mod draws;
pub mod layout;
pub mod linalg;
mod newton_schulz;
pub mod ops;
pub mod registry;
pub mod schema;
pub mod spec;

/// Declares the method modules and the registry in one list: adding a method is its file
/// plus its name here.
macro_rules! methods {
    ($($m:ident),* $(,)?) => {
        $(mod $m;)*
        /// Every optimizer optlab knows, in the order they are listed.
        pub const METHODS: &[&registry::Method] = &[$(&$m::METHOD),*];
    };
}

methods!(
    gd,
    momentum,
    nag,
    sgd,
    adagrad,
    adadelta,
    adam,
    adamw,
    rmsprop,
    nadam,
    radam,
    adamax,
    rprop,
    asgd,
    adafactor,
    lbfgs,
    muon,
    lion,
    sf_adamw,
    sf_sgd,
    prodigy,
    ademamix,
    adabelief,
    adopt,
    adan,
    lamb,
    lars,
    mars,
    soap,
    normuon,
    adamuon,
    scion,
    scion_light,
    shampoo,
    galore,
    apollo,
    kron,
    scalable_shampoo,
    signsgd,
    signum,
    madgrad,
    laprop,
    came,
    dadapt,
    spam,
    stablespam,
    adam_mini,
    lookahead,
    sam,
    partition
);

pub use layout::{Layout, Role, Shape2, TensorInfo};
pub use registry::{no_rules, Group, Method, OptimizerConfig, Point};
pub use schema::{Check, Hyper, Kind, Param};
pub use spec::{Spec, SpecError, Value};

use std::fmt;

/// The floating-point types optimizers run on (`f32` for networks, `f64` for the 2-D lab).
pub trait Real: num_traits::Float + Send + Sync + Default + fmt::Debug + fmt::Display + 'static {
    /// Converts a hyperparameter (always held as `f64`, like a Python float) to this type.
    fn of(v: f64) -> Self;
    /// Widens to `f64` (for records and reports).
    fn f64(self) -> f64;
    /// Builds `method` for this type (picks the method's `build_f32` / `build_f64`).
    fn build(method: &Method, hyper: &Hyper, layout: &Layout) -> Box<dyn Optimizer<Self>>;
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
    fn build(method: &Method, hyper: &Hyper, layout: &Layout) -> Box<dyn Optimizer<Self>> {
        (method.build_f64)(hyper, layout)
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
    fn build(method: &Method, hyper: &Hyper, layout: &Layout) -> Box<dyn Optimizer<Self>> {
        (method.build_f32)(hyper, layout)
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

/// The hyperparameters of one parameter group that a learning-rate scheduler may change:
/// the learning rate and, where the method has one, the momentum (`momentum`, or β₁ of
/// `betas` — what torch's CyclicLR and OneCycleLR cycle).
pub struct GroupHyper<'a> {
    pub lr: &'a mut f64,
    pub momentum: Option<&'a mut f64>,
}

/// An optimizer: updates `params` in place, calling `objective` where and as often as its
/// method needs. Returns the loss at the point where the (first) gradient was taken.
pub trait Optimizer<T: Real>: Send {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T;

    /// How many parameter groups the optimizer has (Muon with its fallback has two;
    /// `partition` has those of its sub-optimizers, in selector order).
    fn group_count(&self) -> usize {
        1
    }

    /// The schedulable hyperparameters of group `i` (`i < group_count()`).
    fn group(&mut self, i: usize) -> GroupHyper<'_>;

    /// Writes the point the method reports into `out`: the parameters themselves for most
    /// methods; Schedule-Free's averaged point x (its parameters hold y, where gradients are
    /// taken).
    fn report(&self, params: &[T], out: &mut [T]) {
        out.copy_from_slice(params);
    }

    /// Called once at the end of each training epoch with the test loss (for
    /// `ReduceLROnPlateau` and epoch-wise schedulers); no-op for a bare method.
    fn end_epoch(&mut self, _metric: Option<f64>) {}
}

/// An update rule that needs exactly one gradient, taken at the current parameters
/// (every torch.optim optimizer except LBFGS). Wrap it in [`FirstOrder`] to get an
/// [`Optimizer`], or call [`GradientRule::update`] directly when the gradient is at hand.
pub trait GradientRule<T: Real>: Send {
    fn update(&mut self, params: &mut [T], grad: &[T]);
    /// The learning rate (and momentum) a scheduler may change.
    fn hyper(&mut self) -> GroupHyper<'_>;
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

    /// Boxed, as the registry's builders return it.
    pub fn boxed(rule: R) -> Box<dyn Optimizer<T>>
    where
        R: 'static,
    {
        Box::new(Self::new(rule))
    }
}

impl<T: Real, R: GradientRule<T>> Optimizer<T> for FirstOrder<T, R> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        if self.grad.len() != params.len() {
            self.grad.resize(params.len(), T::zero());
        }
        let loss = objective.eval(params, &mut self.grad);
        // the update loop compiled with the CPU's vector instructions and FMA (same results)
        let (rule, grad) = (&mut self.rule, &self.grad);
        crate::fused!(rule.update(params, grad));
        loss
    }
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        self.rule.hyper()
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
