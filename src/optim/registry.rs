//! The registry of methods: every optimizer declares itself once, in its own file, as a
//! [`Method`] (name, title, formula, reference, hyperparameter schema, properties, and how
//! to build it). Parsing, validation, canonical specs, labels, `optlab list optimizers`,
//! `with_lr` and `sweep-lr --vs` all work from these declarations.
//!
//! Adding a method: write its file with a `pub(super) const METHOD: Method`, and add its
//! module name to the `methods!` line in `optim/mod.rs`.

use super::schema::{Hyper, Param};
use super::spec::{Spec, SpecError, Value};
use super::{Layout, Optimizer, Real};
use crate::schedule::{self, Cadence, ModifierConfig};
use serde::Serialize;
use std::fmt;

/// The families `optlab list optimizers` groups methods into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Gradient descent and momentum.
    Classical,
    /// Per-coordinate step sizes from gradient statistics (Adagrad, Adam, ...).
    Adaptive,
    /// Updates from the sign of a momentum (Lion).
    SignBased,
    /// Work on whole tensors: matrix preconditioning, orthogonalisation, trust ratios,
    /// quasi-Newton (Muon, SOAP, LAMB, LARS, LBFGS, ...).
    Matrix,
    /// Estimate the step size themselves (Prodigy).
    LearningRateFree,
    /// Averaging instead of a schedule (Schedule-Free).
    ScheduleFree,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Classical,
        Group::Adaptive,
        Group::SignBased,
        Group::Matrix,
        Group::LearningRateFree,
        Group::ScheduleFree,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Group::Classical => "classical",
            Group::Adaptive => "adaptive",
            Group::SignBased => "sign-based",
            Group::Matrix => "matrix / second-order",
            Group::LearningRateFree => "learning-rate-free",
            Group::ScheduleFree => "schedule-free",
        }
    }
}

/// Where a method takes its gradients, and which point it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Point {
    /// Gradient at the parameters; the parameters are reported.
    Current,
    /// Gradient at a look-ahead point other than the parameters (the seminar's NAG:
    /// θ − γm); the parameters are reported.
    LookAhead,
    /// Gradient at y (held in the parameters); the averaged point x is reported
    /// (Schedule-Free). Records keep y too.
    Averaged,
}

/// One optimization method, declared once in its own file.
pub struct Method {
    /// The spec name (`adam`, `sf-adamw`, ...).
    pub name: &'static str,
    pub title: &'static str,
    pub group: Group,
    /// The update rule in one line (shown by `optlab list optimizers`).
    pub formula: &'static str,
    /// What optlab matches: `torch.optim.Adam`, `lion-pytorch 0.2.5`, ...
    pub reference: &'static str,
    pub params: &'static [Param],
    /// Every coordinate is updated from its own gradient and state only, so independent
    /// problems can be batched in one vector (basin maps rely on it).
    pub elementwise: bool,
    /// Evaluates the objective several times per step (a closure, as LBFGS).
    pub closure: bool,
    pub point: Point,
    /// Needs matrices (Muon): a 2-D vector parameter is treated as 1x2.
    pub matrix_only: bool,
    /// Rules across keys (PyTorch's errors for invalid combinations); `no_rules` if none.
    pub rules: fn(&Hyper) -> Result<(), String>,
    pub build_f64: fn(&Hyper, &Layout) -> Box<dyn Optimizer<f64>>,
    pub build_f32: fn(&Hyper, &Layout) -> Box<dyn Optimizer<f32>>,
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.name)
    }
}

/// For methods without rules across keys.
pub fn no_rules(_: &Hyper) -> Result<(), String> {
    Ok(())
}

use super::METHODS;

/// The method called `name` (any case).
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().copied().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// A validated optimizer configuration: the method, its hyperparameters, and the
/// modifiers (schedulers, clipping) that follow it in the spec.
#[derive(Clone, Debug)]
pub struct OptimizerConfig {
    pub method: &'static Method,
    pub hyper: Hyper,
    pub modifiers: Vec<ModifierConfig>,
}

impl PartialEq for OptimizerConfig {
    fn eq(&self, other: &Self) -> bool {
        self.method.name == other.method.name && self.hyper == other.hyper && self.modifiers == other.modifiers
    }
}

impl OptimizerConfig {
    /// Parses and validates `method(...) | modifier(...) | ...`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let max = crate::limits::TEXT.max as usize;
        if text.len() > max {
            return Err(SpecError::new(
                format!(
                    "the spec '{}' is too long (the limit is {} characters)",
                    crate::limits::shorten(text, 40),
                    crate::limits::group(max as u64)
                ),
                0..0,
            ));
        }
        let specs = Spec::parse_pipeline(text)?;
        let mut cfg = Self::from_spec(&specs[0])?;
        for s in &specs[1..] {
            cfg.modifiers.push(schedule::parse(s)?);
        }
        schedule::check_chain(&cfg.modifiers)?;
        schedule::check_method(cfg.method, &cfg.hyper, &cfg.modifiers)?;
        Ok(cfg)
    }

    /// Builds a validated configuration from one parsed method spec (no modifiers).
    pub fn from_spec(spec: &Spec) -> Result<Self, SpecError> {
        let method = method(&spec.name).ok_or_else(|| {
            let names: Vec<&str> = METHODS.iter().map(|o| o.name).collect();
            SpecError::new(
                format!("unknown optimizer '{}' (known: {})", crate::limits::shorten(&spec.name, 40), names.join(", ")),
                spec.name_span.clone(),
            )
        })?;
        let hyper = Hyper::from_spec(method.name, method.params, spec)?;
        // nested optimizers (Muon's fallback, partition's selectors) are validated like any
        // spec; they run on gathered copies of their tensors given the gradient already taken,
        // so they must take exactly one gradient, at their parameters
        for (p, v) in method.params.iter().zip(hyper.iter().map(|(_, v)| v)) {
            let Value::Call(inner) = v else { continue };
            let sub = Self::from_spec(inner)?;
            let first_order = !sub.method.closure && sub.method.point == Point::Current;
            let span = || spec.get(p.key).map_or(0..0, |a| a.span.clone());
            match p.kind {
                super::Kind::Optimizer if !first_order || !sub.elementwise() => {
                    return Err(SpecError::new(
                        format!(
                            "{} of {} must be an element-wise first-order method that takes its gradient at its parameters (e.g. adamw)",
                            p.key, method.name
                        ),
                        span(),
                    ));
                }
                super::Kind::MaybeOptimizer if !first_order => {
                    return Err(SpecError::new(
                        format!(
                            "{} of {} must be a first-order method that takes one gradient at its parameters (e.g. adamw, muon; not {})",
                            p.key, method.name, sub.method.name
                        ),
                        span(),
                    ));
                }
                _ => {}
            }
        }
        (method.rules)(&hyper)
            .map_err(|m| SpecError::new(m, spec.name_span.start..spec.text.len() + spec.name_span.start))?;
        Ok(OptimizerConfig { method, hyper, modifiers: Vec::new() })
    }

    /// The method with every hyperparameter at its default.
    pub fn defaults(method: &'static Method) -> Self {
        OptimizerConfig { method, hyper: Hyper::defaults(method.name, method.params), modifiers: Vec::new() }
    }

    /// Whether this configuration updates every coordinate from its own gradient and state
    /// only (so independent problems can be batched in one vector): the method's property,
    /// unless an option makes the run tensor-wise (`cautious=true` masks and rescales by a
    /// count over each tensor).
    pub fn elementwise(&self) -> bool {
        self.method.elementwise && !(self.hyper.has("cautious") && self.hyper.flag("cautious"))
    }

    /// The method's short name (`adam`, `sgd`, ...).
    pub fn name(&self) -> &'static str {
        self.method.name
    }

    /// The learning rate. A `partition` without an `lr` of its own reports the learning rate
    /// of its first selector given (in schema order).
    pub fn lr(&self) -> f64 {
        match self.hyper.value("lr") {
            Value::Num(x) => *x,
            _ => self
                .hyper
                .iter()
                .find_map(|(_, v)| match v {
                    Value::Call(s) => Self::from_spec(s).ok().map(|c| c.lr()),
                    _ => None,
                })
                .unwrap_or(f64::NAN),
        }
    }

    /// Checks the configuration against the tensors it will run on, before anything runs:
    /// `partition` must cover every tensor (and each of its selectors, recursively, the
    /// tensors it takes). Every other method accepts any layout. The error is one line.
    pub fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        if self.method.name == super::partition::METHOD.name {
            super::partition::check_layout(&self.hyper, layout)
        } else {
            Ok(())
        }
    }

    /// The same configuration with another learning rate (used by `tune`).
    pub fn with_lr(&self, lr: f64) -> Self {
        self.with("lr", Value::Num(lr)).expect("a finite non-negative lr is valid for every method")
    }

    /// The same configuration with `key` set to `value`, validated as in a spec.
    pub fn with(&self, key: &str, value: Value) -> Result<Self, String> {
        let mut c = self.clone();
        c.hyper.set(key, value)?;
        (c.method.rules)(&c.hyper)?;
        Ok(c)
    }

    /// A fresh optimizer (empty state) for parameters of type `T` laid out as `layout`,
    /// with its schedulers and clipping, stepping as in the 2-D lab ([`Cadence::Lab`]).
    pub fn build<T: Real>(&self, layout: &Layout) -> Box<dyn Optimizer<T>> {
        self.build_with(layout, Cadence::Lab)
    }

    /// [`Self::build`] with the schedulers stepping at the given cadence
    /// ([`Cadence::Training`]: per batch or per epoch, see [`schedule`]).
    pub fn build_with<T: Real>(&self, layout: &Layout, cadence: Cadence) -> Box<dyn Optimizer<T>> {
        let inner = T::build(self.method, &self.hyper, layout);
        if self.modifiers.is_empty() {
            inner
        } else {
            schedule::wrap_for(inner, &self.modifiers, layout, cadence)
        }
    }

    fn with_modifiers(&self, head: String, f: impl Fn(&ModifierConfig) -> String) -> String {
        let mut s = head;
        for m in &self.modifiers {
            s.push_str(" | ");
            s.push_str(&f(m));
        }
        s
    }

    /// The canonical spec with every hyperparameter spelled out, e.g.
    /// `adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=false, maximize=false)`.
    pub fn canonical(&self) -> String {
        self.with_modifiers(self.hyper.canonical(), |m| m.canonical())
    }

    /// A short label: the name, the learning rate, and the hyperparameters that differ
    /// from the defaults, e.g. `sgd(lr=0.01, momentum=0.9)`.
    pub fn label(&self) -> String {
        self.with_modifiers(self.hyper.label(), |m| m.label())
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}
