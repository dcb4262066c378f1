//! `SequentialLR`: runs its schedulers one after another, switching at the milestones, as
//! `torch.optim.lr_scheduler.SequentialLR` (e.g. a linear warm-up, then cosine annealing).
//!
//! ```text
//! t = t + 1;   k = number of milestones ≤ t
//! if t is milestone k:  scheduler k restarts at its step 0 (its closed form at 0 where it
//!                       has one: base_lr for most)
//! else:                 scheduler k steps
//! ```
//!
//! As torch, the constructor builds every scheduler (each taking its initial step), resets
//! the learning rates to `initial_lr`, steps every scheduler back by one, and lets the first
//! one take its initial step again. torch's keywords: schedulers, milestones (both
//! required; one milestone fewer than schedulers). ReduceLROnPlateau and SequentialLR
//! cannot be inside (torch refuses the first and fails on the second); `every` is set on
//! the SequentialLR, not on its schedulers.

use super::{bisect_right, int_list, milestone_list, Action, Groups, ModifierConfig, ModifierInfo, Schedule, EVERY};
use crate::optim::{Check, Hyper, Kind, Param};

pub(super) const INFO: ModifierInfo = ModifierInfo {
    name: "SequentialLR",
    title: "one scheduler after another, switching at the milestones",
    formula: "scheduler k runs from milestone k−1 on, restarted at its step 0",
    reference: "torch.optim.lr_scheduler.SequentialLR",
    params: &[
        Param::new("schedulers", Kind::SchedulerList, "[]", Check::Any, "the schedulers, in order"),
        Param::new("milestones", Kind::NumList, "[]", Check::Custom(milestone_list), "the steps at which the next scheduler takes over"),
        EVERY,
    ],
    required: &["schedulers", "milestones"],
    example: "SequentialLR(schedulers=[LinearLR(start_factor=0.01, total_iters=20), CosineAnnealingLR(T_max=180)], milestones=[20])",
    rules,
    action: Action::Schedule(build),
};

fn rules(h: &Hyper) -> Result<(), String> {
    let (n, m) = (h.specs("schedulers").len(), h.nums("milestones"));
    if n == 0 {
        return Err("SequentialLR needs at least one scheduler, e.g. schedulers=[LinearLR(total_iters=20), CosineAnnealingLR(T_max=180)]".into());
    }
    if m.len() + 1 != n {
        return Err(format!(
            "SequentialLR needs one milestone fewer than schedulers (got {n} schedulers and {} milestones)",
            m.len()
        ));
    }
    if m.windows(2).any(|w| w[1] < w[0]) {
        return Err("SequentialLR's milestones must be increasing".into());
    }
    Ok(())
}

/// Schedulers restarted at a milestone take their closed form at step 0: LinearLR and
/// PolynomialLR divide by total_iters there, which must not be 0 (torch fails).
pub(super) fn check_subs(subs: &[ModifierConfig]) -> Result<(), String> {
    for s in subs.iter().skip(1) {
        if matches!(s.info.name, "LinearLR" | "PolynomialLR") && s.hyper.int("total_iters") == 0 {
            return Err(format!("{} after a milestone of SequentialLR needs total_iters >= 1", s.info.name));
        }
    }
    Ok(())
}

fn build(c: &ModifierConfig) -> Box<dyn Schedule> {
    let subs = c
        .subs
        .iter()
        .map(|s| match s.info.action {
            Action::Schedule(b) => b(s),
            Action::Clip(_) => unreachable!("clipping inside SequentialLR is refused by parse"),
        })
        .collect();
    Box::new(SequentialLr { subs, milestones: int_list(&c.hyper, "milestones"), last_epoch: 0 })
}

struct SequentialLr {
    subs: Vec<Box<dyn Schedule>>,
    milestones: Vec<i64>,
    last_epoch: i64,
}

impl Schedule for SequentialLr {
    fn construct(&mut self, g: &mut Groups) {
        for s in &mut self.subs {
            s.construct(g);
        }
        self.last_epoch = 0;
        for i in 0..g.len() {
            let lr = g.lr(i);
            let initial = g.extra(i).initial_lr.unwrap_or(lr);
            g.set_lr(i, initial);
        }
        for s in &mut self.subs {
            s.undo();
        }
        let idx = bisect_right(&self.milestones, 0);
        self.subs[idx].initial_step(g);
    }
    fn step(&mut self, g: &mut Groups) {
        self.last_epoch += 1;
        let idx = bisect_right(&self.milestones, self.last_epoch);
        if idx > 0 && self.milestones[idx - 1] == self.last_epoch {
            self.subs[idx].jump_to(0, g);
        } else {
            self.subs[idx].step(g);
        }
    }
    fn initial_step(&mut self, g: &mut Groups) {
        // not reachable (a SequentialLR is never inside another); torch's would step
        self.step(g)
    }
    fn jump_to(&mut self, _epoch: i64, _g: &mut Groups) {}
    fn undo(&mut self) {
        for s in &mut self.subs {
            s.undo();
        }
    }
}
