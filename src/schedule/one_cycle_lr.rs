//! `OneCycleLR`: the 1cycle policy (Smith & Topin 2017, "Super-Convergence"): the learning
//! rate rises from max_lr/div_factor to max_lr, then anneals far below the start, the
//! momentum moving the other way, as `torch.optim.lr_scheduler.OneCycleLR`.
//!
//! ```text
//! initial_lr = max_lr/div_factor;   min_lr = initial_lr/final_div_factor;   N = total_steps
//! two phases (default):  [0, pct_start·N − 1]: initial_lr → max_lr,  then → min_lr at N − 1
//! three_phase:           [0, pct_start·N − 1]: initial_lr → max_lr,
//!                        [.., 2·pct_start·N − 2]: max_lr → initial_lr,  then → min_lr at N − 1
//! within a phase from step a to b:  p = (t − a)/(b − a)
//!   cos:    lr = end + (start − end)/2·(1 + cos(πp));   linear:  lr = (end − start)·p + start
//! momentum: max_momentum → base_momentum → max_momentum likewise (the third phase stays)
//! ```
//!
//! The constructor overwrites the groups' `initial_lr` (and sets the momentum to
//! max_momentum). Past total_steps torch raises an error; optlab keeps the last learning
//! rate. torch's keywords and defaults: max_lr (required), total_steps None, epochs None,
//! steps_per_epoch None (total_steps, or epochs and steps_per_epoch, must be given),
//! pct_start 0.3, anneal_strategy "cos", cycle_momentum true, base_momentum 0.85,
//! max_momentum 0.95, div_factor 25, final_div_factor 1e4, three_phase false.

use super::{count_or_none, momentum_bound, Action, Core, Groups, LrScheduler, ModifierConfig, ModifierInfo, Rule, Schedule, EVERY};
use crate::optim::{Check, Hyper, Kind, Param};
use std::f64::consts::PI;

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "OneCycleLR",
    title: "1cycle: warm up to max_lr, then anneal far below the start (momentum inversely)",
    formula: "lr: max_lr/div_factor → max_lr (pct_start of the steps) → max_lr/(div_factor·final_div_factor), cos or linear",
    reference: "torch.optim.lr_scheduler.OneCycleLR",
    params: &[
        Param::new("max_lr", Kind::Num, "0", Check::Lr, "the peak learning rate"),
        Param::new("total_steps", Kind::MaybeNum, "None", Check::Custom(count_or_none), "steps of the cycle"),
        Param::new("epochs", Kind::MaybeNum, "None", Check::Custom(count_or_none), "epochs (with steps_per_epoch, when total_steps is None)"),
        Param::new("steps_per_epoch", Kind::MaybeNum, "None", Check::Custom(count_or_none), "steps per epoch (with epochs)"),
        Param::new("pct_start", Kind::Num, "0.3", Check::UnitClosed, "fraction of the steps spent raising the learning rate"),
        Param::new("anneal_strategy", Kind::Choice(&["cos", "linear"]), "\"cos\"", Check::Any, "cosine or linear annealing"),
        Param::new("cycle_momentum", Kind::Bool, "true", Check::Any, "cycle the momentum (or β₁) inversely to the learning rate"),
        Param::new("base_momentum", Kind::Num, "0.85", Check::Custom(momentum_bound), "the momentum at the peak of the learning rate"),
        Param::new("max_momentum", Kind::Num, "0.95", Check::Custom(momentum_bound), "the momentum at the start and the end"),
        Param::new("div_factor", Kind::Num, "25", Check::Positive, "initial_lr = max_lr/div_factor"),
        Param::new("final_div_factor", Kind::Num, "1e4", Check::Positive, "min_lr = initial_lr/final_div_factor"),
        Param::new("three_phase", Kind::Bool, "false", Check::Any, "come back to initial_lr before the final annealing"),
        EVERY,
    ],
    required: &["max_lr"],
    example: "OneCycleLR(max_lr=0.1, total_steps=1000)",
    rules,
    action: Action::Schedule(build),
};

fn rules(h: &Hyper) -> Result<(), String> {
    let given = |k| h.maybe_num(k).is_some();
    let by_epochs = given("epochs") && given("steps_per_epoch");
    if !(given("total_steps") || by_epochs) {
        return Err("OneCycleLR needs total_steps, or epochs and steps_per_epoch (e.g. total_steps=1000)".into());
    }
    Ok(())
}

fn total_steps(h: &Hyper) -> i64 {
    match h.maybe_num("total_steps") {
        Some(n) => n as i64,
        None => h.maybe_num("epochs").unwrap_or(1.0) as i64 * h.maybe_num("steps_per_epoch").unwrap_or(1.0) as i64,
    }
}

/// Which group value a phase starts or ends at.
#[derive(Clone, Copy)]
enum At {
    Initial,
    Max,
    Min,
}

struct Phase {
    end_step: f64,
    lr: (At, At),
    /// (start, end) momentum: true = max_momentum, false = base_momentum.
    momentum: (bool, bool),
}

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let h = &c.hyper;
    let n = total_steps(h);
    let pct = h.num("pct_start");
    let phases = if h.flag("three_phase") {
        vec![
            Phase { end_step: pct * n as f64 - 1.0, lr: (At::Initial, At::Max), momentum: (true, false) },
            Phase { end_step: 2.0 * pct * n as f64 - 2.0, lr: (At::Max, At::Initial), momentum: (false, true) },
            Phase { end_step: (n - 1) as f64, lr: (At::Initial, At::Min), momentum: (true, true) },
        ]
    } else {
        vec![
            Phase { end_step: pct * n as f64 - 1.0, lr: (At::Initial, At::Max), momentum: (true, false) },
            Phase { end_step: (n - 1) as f64, lr: (At::Max, At::Min), momentum: (false, true) },
        ]
    };
    LrScheduler::boxed(OneCycleLr {
        total_steps: n,
        phases,
        cos: h.choice("anneal_strategy") == Some("cos"),
        max_lr: h.num("max_lr"),
        div_factor: h.num("div_factor"),
        final_div_factor: h.num("final_div_factor"),
        cycle_momentum: h.flag("cycle_momentum"),
        base_momentum: h.num("base_momentum"),
        max_momentum: h.num("max_momentum"),
    })
}

struct OneCycleLr {
    total_steps: i64,
    phases: Vec<Phase>,
    cos: bool,
    max_lr: f64,
    div_factor: f64,
    final_div_factor: f64,
    cycle_momentum: bool,
    base_momentum: f64,
    max_momentum: f64,
}

impl OneCycleLr {
    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        if self.cos {
            let cos_out = (PI * pct).cos() + 1.0;
            end + (start - end) / 2.0 * cos_out
        } else {
            (end - start) * pct + start
        }
    }
}

impl Rule for OneCycleLr {
    fn prepare(&mut self, g: &mut Groups) {
        for i in 0..g.len() {
            let e = g.extra(i);
            let initial = self.max_lr / self.div_factor;
            e.initial_lr = Some(initial);
            e.max_lr = self.max_lr;
            e.min_lr = initial / self.final_div_factor;
            if self.cycle_momentum {
                e.max_momentum = self.max_momentum;
                e.base_momentum = self.base_momentum;
                g.set_momentum(i, self.max_momentum);
            }
        }
    }
    fn get_lr(&mut self, c: &Core, i: usize, lr: f64, g: &mut Groups) -> f64 {
        let step = c.last_epoch;
        if step > self.total_steps {
            return lr; // torch raises: stepped past total_steps
        }
        let e = *g.extra(i);
        let value = |a: At| match a {
            At::Initial => e.initial_lr.unwrap_or(lr),
            At::Max => e.max_lr,
            At::Min => e.min_lr,
        };
        let momentum = |m: bool| if m { e.max_momentum } else { e.base_momentum };
        let mut start_step = 0.0;
        let last = self.phases.len() - 1;
        for (k, phase) in self.phases.iter().enumerate() {
            if step as f64 <= phase.end_step || k == last {
                let width = phase.end_step - start_step;
                if width == 0.0 {
                    return lr; // torch divides by zero here
                }
                let pct = (step as f64 - start_step) / width;
                let new = self.anneal(value(phase.lr.0), value(phase.lr.1), pct);
                if self.cycle_momentum {
                    g.set_momentum(i, self.anneal(momentum(phase.momentum.0), momentum(phase.momentum.1), pct));
                }
                return new;
            }
            start_step = phase.end_step;
        }
        lr
    }
}
