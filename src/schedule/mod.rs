//! Learning-rate schedulers and gradient clipping: the modifiers that may follow an
//! optimizer in a spec, joined with `|`.
//!
//! (Placeholder: filled in by the schedulers change.)

use crate::optim::{Hyper, Optimizer, Real, Spec, SpecError};

/// A validated modifier: a scheduler or a clipping rule with its hyperparameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ModifierConfig {
    pub hyper: Hyper,
}

impl ModifierConfig {
    pub fn canonical(&self) -> String {
        self.hyper.canonical()
    }
    pub fn label(&self) -> String {
        self.hyper.label()
    }
}

/// Reads one modifier spec.
pub fn parse(spec: &Spec) -> Result<ModifierConfig, SpecError> {
    Err(SpecError::new(format!("unknown scheduler or clipping rule '{}'", spec.name), spec.name_span.clone()))
}

/// Checks a chain of modifiers as a whole (at most one clipping rule, ...).
pub fn check_chain(_mods: &[ModifierConfig]) -> Result<(), SpecError> {
    Ok(())
}

/// Wraps an optimizer so that its modifiers apply.
pub fn wrap<T: Real>(inner: Box<dyn Optimizer<T>>, _mods: &[ModifierConfig]) -> Box<dyn Optimizer<T>> {
    inner
}

/// Clips a recorded gradient the way the chain's clipping rule clips the gradient the
/// optimizer sees (records show the clipped gradient, as torch's do after `clip_grad_*_`).
pub fn clip_recorded(_mods: &[ModifierConfig], _grad: &mut [f64]) {}
