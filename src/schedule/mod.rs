//! Learning-rate schedulers and gradient clipping: the modifiers that may follow an
//! optimizer in a spec, joined with `|`:
//!
//! ```text
//! adam(lr=0.05) | CosineAnnealingLR(T_max=150, eta_min=1e-4)
//! sgd(lr=0.1, momentum=0.9) | MultiStepLR(milestones=[20, 60], gamma=0.3) | clip_grad_norm(max_norm=1.0)
//! adamw(lr=0.2) | SequentialLR(schedulers=[LinearLR(start_factor=0.01, total_iters=20), CosineAnnealingLR(T_max=180)], milestones=[20])
//! ```
//!
//! Schedulers are torch's `torch.optim.lr_scheduler` classes with their names, keywords and
//! defaults, and they reproduce torch's learning rates to the last bit: like torch, most of
//! them compute the next rate *from the current one* (a recursion, not the closed form), the
//! constructor records `initial_lr` and takes a first step, and `SequentialLR` restarts its
//! schedulers the way torch does (closed form at a milestone). Several schedulers joined with
//! `|` behave as torch's `ChainedScheduler`: each step calls them in order on the same
//! learning rate. Every scheduler acts on every parameter group, each from its own initial
//! learning rate.
//!
//! When they step ([`Cadence`]): in the 2-D lab after every step (ReduceLROnPlateau is fed
//! the loss at the point where that step took its gradient); in training after every batch,
//! or once per epoch with `every="epoch"`, and ReduceLROnPlateau always once per epoch on
//! the test loss ([`Optimizer::end_epoch`]).
//!
//! Clipping (`clip_grad_norm`, `clip_grad_value`, as `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`) changes the gradient the optimizer sees, before its step; at most one
//! clipping rule per spec.
//!
//! Adding a scheduler: its file with a `pub(super) const INFO: ModifierInfo`, and its module
//! name in the `schedulers!` line below.

mod clip;

use crate::optim::{
    registry::Method, GroupHyper, Hyper, Kind, Layout, Objective, Optimizer, Param, Real, Shape2, Spec, SpecError,
    Value,
};
use std::fmt;
use std::ops::Range;

pub use clip::Clip;

/// Declares the scheduler modules and their list in one line.
macro_rules! schedulers {
    ($($m:ident),* $(,)?) => {
        $(mod $m;)*
        /// Every learning-rate scheduler, in the order `optlab list schedulers` shows them.
        pub const SCHEDULERS: &[&ModifierInfo] = &[$(&$m::INFO),*];
    };
}

schedulers!(
    step_lr,
    multi_step_lr,
    constant_lr,
    linear_lr,
    exponential_lr,
    polynomial_lr,
    cosine_annealing_lr,
    cosine_annealing_warm_restarts,
    cyclic_lr,
    one_cycle_lr,
    sequential_lr,
    reduce_lr_on_plateau,
    wsd,
);

/// The gradient-clipping rules.
pub const CLIPPING: &[&ModifierInfo] = &[&clip::NORM, &clip::VALUE];

/// One scheduler or clipping rule, declared once in its own file.
pub struct ModifierInfo {
    /// PyTorch's spelling (`CosineAnnealingLR`, `clip_grad_norm`); specs match it in any case.
    pub name: &'static str,
    pub title: &'static str,
    /// The rule in one line (shown by `optlab list schedulers`).
    pub formula: &'static str,
    /// What optlab matches: `torch.optim.lr_scheduler.StepLR`, ...
    pub reference: &'static str,
    /// The hyperparameters with torch's keywords and defaults (schedulers end with `every`).
    pub params: &'static [Param],
    /// Keys torch requires (no default): a spec must give them; their schema default is only
    /// a placeholder that passes the checks.
    pub required: &'static [&'static str],
    /// A complete example spec.
    pub example: &'static str,
    /// Rules across keys (torch's errors for invalid combinations).
    pub rules: fn(&Hyper) -> Result<(), String>,
    pub(crate) action: Action,
}

/// What a modifier does.
#[derive(Clone, Copy)]
pub(crate) enum Action {
    /// A scheduler: builds its state from a validated configuration.
    Schedule(fn(&ModifierConfig) -> Box<dyn Schedule>),
    /// Clipping of the gradient.
    Clip(fn(&Hyper) -> Clip),
}

impl ModifierInfo {
    /// A gradient-clipping rule (not a scheduler).
    pub fn is_clipping(&self) -> bool {
        matches!(self.action, Action::Clip(_))
    }
}

impl fmt::Debug for ModifierInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModifierInfo({})", self.name)
    }
}

/// For modifiers without rules across keys.
pub(crate) fn no_rules(_: &Hyper) -> Result<(), String> {
    Ok(())
}

/// The `every` key every scheduler takes (last in its schema).
pub(crate) const EVERY: Param = Param::new(
    "every",
    Kind::Choice(&["step", "epoch"]),
    "\"step\"",
    crate::optim::Check::Any,
    "in optlab train: step after every batch (\"step\") or once per epoch (\"epoch\"); every step in the 2-D lab",
);

/// Check of a list of milestones: whole numbers of steps, ≥ 0.
pub(crate) fn milestone_list(v: &Value) -> Result<(), String> {
    let bad = match v {
        Value::List(items) => items.iter().find(|i| !matches!(i, Value::Num(x) if x.fract() == 0.0 && *x >= 0.0)),
        _ => None,
    };
    match bad {
        Some(b) => Err(format!("invalid milestone {b}: use whole numbers of steps >= 0, like [30, 80]")),
        None => Ok(()),
    }
}

/// Check of an optional count: `None` or a whole number ≥ 1.
pub(crate) fn count_or_none(v: &Value) -> Result<(), String> {
    match v {
        Value::None => Ok(()),
        Value::Num(x) if x.fract() == 0.0 && *x >= 1.0 => Ok(()),
        other => Err(format!("invalid value {other}: use a whole number >= 1, or None")),
    }
}

/// A momentum bound cycled by CyclicLR / OneCycleLR (it becomes `momentum` or β₁).
pub(crate) fn momentum_bound(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if (0.0..1.0).contains(x) => Ok(()),
        other => Err(format!("invalid momentum {other}: use a value in [0, 1) (it becomes momentum or beta1)")),
    }
}

/// When schedulers step, besides after `Optimizer::step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// The 2-D lab: every scheduler steps after every optimizer step, whatever its `every`;
    /// ReduceLROnPlateau is fed the loss that step returned (the loss at the point where
    /// the gradient was taken, as recorded before the step).
    Lab,
    /// Network training: schedulers with `every="step"` step after every batch, those with
    /// `every="epoch"` in [`Optimizer::end_epoch`]; ReduceLROnPlateau always in `end_epoch`,
    /// on the test loss (on the epoch's mean training loss when there is none).
    Training,
}

/// When a scheduler steps in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    Step,
    Epoch,
}

/// A validated modifier: a scheduler or a clipping rule with its hyperparameters.
#[derive(Clone, Debug)]
pub struct ModifierConfig {
    pub info: &'static ModifierInfo,
    pub hyper: Hyper,
    /// The schedulers of a SequentialLR, validated like any scheduler.
    pub subs: Vec<ModifierConfig>,
    /// Where the modifier stands in the spec text (for error carets; not compared).
    pub span: Range<usize>,
}

impl PartialEq for ModifierConfig {
    /// Same modifier, same values; nested schedulers compare as configurations (not as the
    /// text they were written in).
    fn eq(&self, other: &Self) -> bool {
        let values = |m: &Self| {
            let params = m.info.params.iter();
            params
                .zip(m.hyper.iter())
                .filter(|(p, _)| p.kind != Kind::SchedulerList)
                .map(|(_, (_, v))| v.clone())
                .collect::<Vec<_>>()
        };
        self.info.name == other.info.name && values(self) == values(other) && self.subs == other.subs
    }
}

impl ModifierConfig {
    /// The canonical spec with every key spelled out, in PyTorch's spelling, e.g.
    /// `CosineAnnealingLR(T_max=150, eta_min=1e-4, every="step")`.
    pub fn canonical(&self) -> String {
        self.render(true, false)
    }

    /// A short label: the name, the required keys and those that differ from the defaults,
    /// e.g. `CosineAnnealingLR(T_max=150, eta_min=1e-4)`.
    pub fn label(&self) -> String {
        self.render(false, false)
    }

    pub fn name(&self) -> &'static str {
        self.info.name
    }

    pub fn is_clipping(&self) -> bool {
        self.info.is_clipping()
    }

    /// Whether the modifier keeps coordinates independent, so that starts batched in one
    /// vector still evolve as separate runs: not clipping by a norm (one norm over the
    /// whole vector) and not ReduceLROnPlateau (fed the summed loss), nor a sequence
    /// holding one.
    pub fn is_elementwise(&self) -> bool {
        !matches!(self.info.name, "clip_grad_norm" | "ReduceLROnPlateau")
            && self.subs.iter().all(|s| s.is_elementwise())
    }

    /// When the scheduler steps in training (`every`; clipping rules act on every gradient).
    pub fn every(&self) -> Every {
        match self.hyper.has("every").then(|| self.hyper.choice("every")).flatten() {
            Some("epoch") => Every::Epoch,
            _ => Every::Step,
        }
    }

    fn render(&self, all: bool, nested: bool) -> String {
        let mut parts = Vec::new();
        for (p, (_, v)) in self.info.params.iter().zip(self.hyper.iter()) {
            if nested && p.key == EVERY.key {
                continue;
            }
            if !(all || self.info.required.contains(&p.key) || *v != p.default_value()) {
                continue;
            }
            let text = match p.kind {
                Kind::SchedulerList => {
                    let subs: Vec<String> = self.subs.iter().map(|s| s.render(all, true)).collect();
                    format!("[{}]", subs.join(", "))
                }
                _ => v.to_string(),
            };
            parts.push(format!("{}={text}", p.key));
        }
        if parts.is_empty() && !all {
            self.info.name.to_string()
        } else {
            format!("{}({})", self.info.name, parts.join(", "))
        }
    }
}

impl fmt::Display for ModifierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The scheduler or clipping rule called `name` (any case).
pub fn modifier(name: &str) -> Option<&'static ModifierInfo> {
    SCHEDULERS.iter().chain(CLIPPING).copied().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// Whether the spec gives `key`, by name or by position.
fn given(spec: &Spec, params: &[Param], key: &str) -> bool {
    spec.args.iter().enumerate().any(|(i, a)| match &a.key {
        Some(k) => k.eq_ignore_ascii_case(key),
        None => params.get(i).is_some_and(|p| p.key == key),
    })
}

/// Reads one modifier spec.
pub fn parse(spec: &Spec) -> Result<ModifierConfig, SpecError> {
    parse_in(spec, None)
}

/// Reads a modifier spec, standing inside `parent`'s scheduler list when `parent` is given.
fn parse_in(spec: &Spec, parent: Option<&'static ModifierInfo>) -> Result<ModifierConfig, SpecError> {
    let whole = spec.name_span.start..spec.name_span.start + spec.text.len();
    let info = modifier(&spec.name).ok_or_else(|| {
        let message = if crate::optim::registry::method(&spec.name).is_some() {
            format!(
                "'{}' is an optimizer, and a spec has one: the optimizer first, then schedulers or clipping after '|'",
                spec.name
            )
        } else {
            let names = |l: &[&ModifierInfo]| l.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
            format!(
                "unknown scheduler or clipping rule '{}' (schedulers: {}; clipping: {})",
                spec.name,
                names(SCHEDULERS),
                names(CLIPPING)
            )
        };
        SpecError::new(message, spec.name_span.clone())
    })?;
    if let Some(parent) = parent {
        let refusal = if info.is_clipping() {
            Some(format!("{} cannot be one of {}'s schedulers; put it after them with '|'", info.name, parent.name))
        } else if info.name == reduce_lr_on_plateau::INFO.name {
            Some(format!(
                "{} cannot hold ReduceLROnPlateau (torch refuses it: its step needs the loss); chain it with '|' instead",
                parent.name
            ))
        } else if info.name == sequential_lr::INFO.name {
            Some(format!(
                "{} cannot hold another SequentialLR (torch cannot restart one at a milestone); list all the schedulers and milestones in one",
                parent.name
            ))
        } else if given(spec, info.params, EVERY.key) {
            Some(format!("every applies to the whole {}: set it there, not on {}", parent.name, info.name))
        } else {
            None
        };
        if let Some(m) = refusal {
            return Err(SpecError::new(m, whole));
        }
    }
    let hyper = Hyper::from_spec(info.name, info.params, spec)?;
    for &key in info.required {
        if !given(spec, info.params, key) {
            return Err(SpecError::new(format!("{} needs {key} (e.g. {})", info.name, info.example), whole));
        }
    }
    let mut subs = Vec::new();
    for p in info.params.iter().filter(|p| p.kind == Kind::SchedulerList) {
        for s in hyper.specs(p.key) {
            subs.push(parse_in(s, Some(info))?);
        }
    }
    (info.rules)(&hyper).map_err(|m| SpecError::new(m, whole.clone()))?;
    if info.name == sequential_lr::INFO.name {
        sequential_lr::check_subs(&subs).map_err(|m| SpecError::new(m, whole.clone()))?;
    }
    Ok(ModifierConfig { info, hyper, subs, span: whole })
}

/// Checks a chain of modifiers as a whole: at most one clipping rule.
pub fn check_chain(mods: &[ModifierConfig]) -> Result<(), SpecError> {
    let mut clips = mods.iter().filter(|m| m.is_clipping());
    if let (Some(first), Some(second)) = (clips.next(), clips.next()) {
        return Err(SpecError::new(
            format!(
                "at most one clipping rule per spec (found {} and {}); keep one",
                first.info.name, second.info.name
            ),
            second.span.clone(),
        ));
    }
    Ok(())
}

/// The first scheduler (nested ones included) that cycles the momentum.
fn cycling_momentum(mods: &[ModifierConfig]) -> Option<&ModifierConfig> {
    mods.iter().find_map(|m| {
        if m.hyper.has("cycle_momentum") && m.hyper.flag("cycle_momentum") {
            Some(m)
        } else {
            cycling_momentum(&m.subs)
        }
    })
}

/// Checks the modifiers against the method: CyclicLR and OneCycleLR with
/// `cycle_momentum=true` need a method with a momentum or betas (torch's error otherwise).
pub fn check_method(method: &'static Method, hyper: &Hyper, mods: &[ModifierConfig]) -> Result<(), SpecError> {
    let Some(m) = cycling_momentum(mods) else { return Ok(()) };
    let shape = if method.matrix_only { Shape2::Row } else { Shape2::Vector };
    let mut opt = <f64 as Real>::build(method, hyper, &shape.layout());
    if (0..opt.group_count()).all(|i| opt.group(i).momentum.is_some()) {
        return Ok(());
    }
    Err(SpecError::new(
        format!(
            "{} cycles the momentum, but {} has neither momentum nor betas: set cycle_momentum=false, or use an optimizer with momentum (sgd, adam, ...)",
            m.info.name, method.name
        ),
        m.span.clone(),
    ))
}

/// Wraps an optimizer so that its modifiers apply, in the 2-D lab's [`Cadence::Lab`], with
/// the parameters clipped as one tensor.
pub fn wrap<T: Real>(inner: Box<dyn Optimizer<T>>, mods: &[ModifierConfig]) -> Box<dyn Optimizer<T>> {
    Box::new(Modified::new(inner, mods, Vec::new(), Cadence::Lab))
}

/// Wraps an optimizer so that its modifiers apply with the given cadence; clipping computes
/// its norm tensor by tensor over `layout`, as torch does over a model's parameters.
pub fn wrap_for<T: Real>(
    inner: Box<dyn Optimizer<T>>,
    mods: &[ModifierConfig],
    layout: &Layout,
    cadence: Cadence,
) -> Box<dyn Optimizer<T>> {
    let tensors = layout.tensors.iter().map(|t| t.range()).collect();
    Box::new(Modified::new(inner, mods, tensors, cadence))
}

/// Clips a recorded gradient the way the chain's clipping rule clips the gradient the
/// optimizer sees (records show the clipped gradient, as torch's do after `clip_grad_*_`).
pub fn clip_recorded(mods: &[ModifierConfig], grad: &mut [f64]) {
    for m in mods {
        if let Action::Clip(make) = m.info.action {
            make(&m.hyper).apply(grad, &[]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// What a scheduler sees of the optimizer, and torch's LRScheduler machinery.

/// Access to the schedulable hyperparameters of an optimizer's groups.
pub(crate) trait HyperSource {
    fn hyper(&mut self, i: usize) -> GroupHyper<'_>;
}

impl<T: Real> HyperSource for Box<dyn Optimizer<T>> {
    fn hyper(&mut self, i: usize) -> GroupHyper<'_> {
        self.group(i)
    }
}

/// What torch keeps in a param group beside `lr` and the momentum, shared by every
/// scheduler of the chain (a later scheduler sees what an earlier one stored).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GroupExtra {
    /// `group["initial_lr"]`: set by the first scheduler constructed (OneCycleLR overwrites it).
    pub initial_lr: Option<f64>,
    /// OneCycleLR's `group["max_lr"]`, `group["min_lr"]`, `group["max_momentum"]`,
    /// `group["base_momentum"]`.
    pub max_lr: f64,
    pub min_lr: f64,
    pub max_momentum: f64,
    pub base_momentum: f64,
}

/// The optimizer's param groups as a scheduler sees them.
pub(crate) struct Groups<'a> {
    src: &'a mut dyn HyperSource,
    extra: &'a mut [GroupExtra],
}

impl Groups<'_> {
    pub fn len(&self) -> usize {
        self.extra.len()
    }
    pub fn lr(&mut self, i: usize) -> f64 {
        *self.src.hyper(i).lr
    }
    pub fn set_lr(&mut self, i: usize, v: f64) {
        *self.src.hyper(i).lr = v;
    }
    /// `momentum`, or β₁ of `betas`.
    pub fn set_momentum(&mut self, i: usize, v: f64) {
        if let Some(m) = self.src.hyper(i).momentum {
            *m = v;
        }
    }
    pub fn extra(&mut self, i: usize) -> &mut GroupExtra {
        &mut self.extra[i]
    }
}

/// A scheduler's state and torch's entry points to it.
pub(crate) trait Schedule: Send {
    /// The constructor (with its initial step), called in chain order.
    fn construct(&mut self, g: &mut Groups);
    /// `scheduler.step()`.
    fn step(&mut self, g: &mut Groups);
    /// `ReduceLROnPlateau.step(metric)`; other schedulers ignore the metric.
    fn step_metric(&mut self, _metric: f64, g: &mut Groups) {
        self.step(g)
    }
    /// Whether `step_metric` needs a real metric (ReduceLROnPlateau).
    fn needs_metric(&self) -> bool {
        false
    }
    /// `LRScheduler._initial_step()` (SequentialLR restarts its first scheduler with it).
    fn initial_step(&mut self, g: &mut Groups);
    /// `LRScheduler._update_lr(epoch)`: SequentialLR at a milestone, with epoch 0 (the
    /// closed form where the scheduler has one).
    fn jump_to(&mut self, epoch: i64, g: &mut Groups);
    /// SequentialLR's `recursive_undo`: `last_epoch -= 1`.
    fn undo(&mut self);
}

/// `LRScheduler`'s state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Core {
    pub last_epoch: i64,
    /// `_step_count`.
    pub step_count: i64,
    pub base_lrs: Vec<f64>,
    /// Inside the constructor's step (`_is_initial`).
    pub initial: bool,
}

impl Core {
    /// `LRScheduler.__init__` before the initial step: `initial_lr` (set if absent) becomes
    /// the base learning rate of each group.
    fn init(&mut self, g: &mut Groups) {
        self.base_lrs.clear();
        for i in 0..g.len() {
            let lr = g.lr(i);
            let initial = *g.extra(i).initial_lr.get_or_insert(lr);
            self.base_lrs.push(initial);
        }
        self.last_epoch = -1;
    }
}

/// The part of a torch scheduler that differs from class to class: `get_lr` and the
/// closed form.
pub(crate) trait Rule: Send {
    /// What the constructor does before `LRScheduler.__init__` (CyclicLR and OneCycleLR set
    /// learning rates, momenta and `initial_lr`).
    fn prepare(&mut self, _g: &mut Groups) {}
    /// `get_lr()` for group `i`, whose learning rate is `lr` (may set the momentum).
    fn get_lr(&mut self, c: &Core, i: usize, lr: f64, g: &mut Groups) -> f64;
    /// `_get_closed_form_lr()` from a base learning rate, where the class has one.
    fn closed_form(&self, _c: &Core, _base_lr: f64) -> Option<f64> {
        None
    }
    /// What the constructor does after `LRScheduler.__init__` (CyclicLR replaces base_lrs).
    fn finish(&mut self, _c: &mut Core) {}
}

/// A torch scheduler built on `LRScheduler` with its standard `step`.
pub(crate) struct LrScheduler<R> {
    core: Core,
    rule: R,
}

impl<R: Rule + 'static> LrScheduler<R> {
    pub fn boxed(rule: R) -> Box<dyn Schedule> {
        Box::new(LrScheduler { core: Core::default(), rule })
    }

    /// `_update_lr`: the new rate of every group from `get_lr` (or the closed form).
    fn update(&mut self, closed: bool, g: &mut Groups) {
        for i in 0..g.len() {
            let lr = g.lr(i);
            let closed_lr = if closed { self.rule.closed_form(&self.core, self.core.base_lrs[i]) } else { None };
            let new = match closed_lr {
                Some(v) => v,
                None => self.rule.get_lr(&self.core, i, lr, g),
            };
            g.set_lr(i, new);
        }
    }
}

impl<R: Rule + 'static> Schedule for LrScheduler<R> {
    fn construct(&mut self, g: &mut Groups) {
        self.rule.prepare(g);
        self.core.init(g);
        self.initial_step(g);
        self.rule.finish(&mut self.core);
    }
    fn step(&mut self, g: &mut Groups) {
        self.core.step_count += 1;
        self.core.last_epoch += 1;
        self.update(false, g);
    }
    fn initial_step(&mut self, g: &mut Groups) {
        self.core.step_count = 0;
        self.core.initial = true;
        self.step(g);
        self.core.initial = false;
    }
    fn jump_to(&mut self, epoch: i64, g: &mut Groups) {
        self.core.last_epoch = epoch;
        self.update(true, g);
    }
    fn undo(&mut self) {
        self.core.last_epoch -= 1;
    }
}

/// Python's `bisect.bisect_right` (the same probes, so unsorted lists give torch's answer).
pub(crate) fn bisect_right(a: &[i64], x: i64) -> usize {
    let (mut lo, mut hi) = (0, a.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The whole numbers of a list key.
pub(crate) fn int_list(h: &Hyper, key: &str) -> Vec<i64> {
    h.nums(key).into_iter().map(|x| x as i64).collect()
}

// ---------------------------------------------------------------------------------------
// The wrapper.

/// One scheduler of the chain.
struct Entry {
    schedule: Box<dyn Schedule>,
    every: Every,
}

/// An optimizer with its schedulers and clipping.
struct Modified<T: Real> {
    inner: Box<dyn Optimizer<T>>,
    chain: Vec<Entry>,
    extra: Vec<GroupExtra>,
    clip: Option<Clip>,
    /// The index ranges of the tensors clipping takes norms of (empty: one tensor).
    tensors: Vec<Range<usize>>,
    cadence: Cadence,
    /// Sum and count of the losses of the current epoch (ReduceLROnPlateau's fallback).
    epoch_loss: (f64, u64),
}

impl<T: Real> Modified<T> {
    fn new(
        inner: Box<dyn Optimizer<T>>,
        mods: &[ModifierConfig],
        tensors: Vec<Range<usize>>,
        cadence: Cadence,
    ) -> Self {
        let extra = vec![GroupExtra::default(); inner.group_count()];
        let mut me = Modified { inner, chain: Vec::new(), extra, clip: None, tensors, cadence, epoch_loss: (0.0, 0) };
        for m in mods {
            match m.info.action {
                Action::Schedule(build) => {
                    let mut schedule = build(m);
                    schedule.construct(&mut Groups { src: &mut me.inner, extra: &mut me.extra });
                    me.chain.push(Entry { schedule, every: m.every() });
                }
                Action::Clip(make) => me.clip = Some(make(&m.hyper)),
            }
        }
        me
    }
}

/// The objective with its gradient clipped.
struct Clipped<'a, T> {
    inner: &'a mut dyn Objective<T>,
    clip: &'a Clip,
    tensors: &'a [Range<usize>],
}

impl<T: Real> Objective<T> for Clipped<'_, T> {
    fn eval(&mut self, params: &[T], grad: &mut [T]) -> T {
        let loss = self.inner.eval(params, grad);
        if self.clip.apply(grad, self.tensors) {
            loss
        } else {
            // torch raises (error_if_nonfinite): the run stops as diverged
            grad.iter_mut().for_each(|g| *g = T::nan());
            T::nan()
        }
    }
}

impl<T: Real> Optimizer<T> for Modified<T> {
    fn step(&mut self, params: &mut [T], objective: &mut dyn Objective<T>) -> T {
        let loss = match &self.clip {
            Some(clip) => {
                let mut obj = Clipped { inner: objective, clip, tensors: &self.tensors };
                self.inner.step(params, &mut obj)
            }
            None => self.inner.step(params, objective),
        };
        let metric = loss.f64();
        let mut g = Groups { src: &mut self.inner, extra: &mut self.extra };
        match self.cadence {
            Cadence::Lab => {
                for e in &mut self.chain {
                    e.schedule.step_metric(metric, &mut g);
                }
            }
            Cadence::Training => {
                self.epoch_loss.0 += metric;
                self.epoch_loss.1 += 1;
                for e in self.chain.iter_mut().filter(|e| e.every == Every::Step && !e.schedule.needs_metric()) {
                    e.schedule.step(&mut g);
                }
            }
        }
        loss
    }

    fn group_count(&self) -> usize {
        self.inner.group_count()
    }

    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        self.inner.group(i)
    }

    fn report(&self, params: &[T], out: &mut [T]) {
        self.inner.report(params, out)
    }

    fn end_epoch(&mut self, metric: Option<f64>) {
        self.inner.end_epoch(metric);
        if self.cadence != Cadence::Training {
            return;
        }
        let (sum, n) = std::mem::take(&mut self.epoch_loss);
        let metric = metric.unwrap_or(if n > 0 { sum / n as f64 } else { f64::NAN });
        let mut g = Groups { src: &mut self.inner, extra: &mut self.extra };
        for e in &mut self.chain {
            if e.schedule.needs_metric() {
                e.schedule.step_metric(metric, &mut g);
            } else if e.every == Every::Epoch {
                e.schedule.step(&mut g);
            }
        }
    }
}

#[cfg(test)]
mod tests;
