//! The study folder: its plan and trials, read and checked.

use super::*;
use crate::study::plan::{Plan, Trial, PLAN_FORMAT};
use crate::study::{ProblemKind, StudyError};
use anyhow::Result;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A study folder with its plan and trials read and checked.
#[derive(Clone, Debug)]
pub struct StudyDir {
    pub dir: PathBuf,
    pub plan: Plan,
    pub trials: Vec<Trial>,
}

pub(super) fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, StudyError> {
    crate::study::store::read_bounded(path, max).map_err(|e| match e {
        crate::study::store::ReadError::TooLarge(_) => {
            StudyError(format!("{} is larger than {max} bytes; is it a study folder's file?", path.display()))
        }
        e => StudyError(format!("cannot read {}: {e}", path.display())),
    })
}

/// Checks the counts of a plan read from a folder as the same counts are checked in a
/// study file or on the command line (with `--allow-large`'s limits: the plan may have
/// been made with it), so an edited plan cannot ask for an impossible allocation.
pub(super) fn check_plan_counts(plan: &Plan, shown: &str) -> Result<(), StudyError> {
    use crate::limits::{self, Allow};
    let bad = |what: &str, e: String| StudyError(format!("{shown}/plan.json: {what}: {e}; plan the study again"));
    let check = |limit: limits::Limit, v: usize, what: &str| -> Result<(), StudyError> {
        limit.check(Some(v as u64), Allow::LARGE).map(|_| ()).map_err(|e| bad(what, e.to_string()))
    };
    check(crate::study::TRIALS, plan.trials, "trials")?;
    if plan.tasks == 0 || plan.tasks > plan.trials {
        return Err(bad("tasks", format!("{} is not between 1 and the {} trials", plan.tasks, plan.trials)));
    }
    if plan.parallel == 0 || plan.parallel > plan.tasks {
        return Err(bad("parallel", format!("{} is not between 1 and the {} tasks", plan.parallel, plan.tasks)));
    }
    check(limits::SEEDS, plan.seeds.len().max(1), "seeds")?;
    check(limits::THREADS, plan.resources.cpus_per_task, "cpus_per_task")?;
    check(limits::OPTIMIZERS, plan.optimizers.len(), "optimizers")?;
    if plan.problems.is_empty() || plan.problems.len() > plan.trials {
        return Err(bad("problems", format!("{} problems for {} trials", plan.problems.len(), plan.trials)));
    }
    for p in &plan.problems {
        let what = format!("problem '{}'", limits::shorten(&p.name, 40));
        match &p.kind {
            ProblemKind::Function { steps, .. } => check(limits::STEPS, *steps, &format!("{what}: steps"))?,
            ProblemKind::Train { epochs, batch_size, limit, test_limit, .. } => {
                check(limits::EPOCHS, *epochs, &format!("{what}: epochs"))?;
                check(limits::BATCH, *batch_size, &format!("{what}: batch_size"))?;
                for (name, v) in [("limit", limit), ("test_limit", test_limit)] {
                    if v.is_some_and(|n| n == 0 || n > 1 << 40) {
                        return Err(bad(&format!("{what}: {name}"), "not a sensible number of images".into()));
                    }
                }
            }
            ProblemKind::LanguageModel { steps, batch_size, eval_every, eval_batches, .. } => {
                check(limits::STEPS, *steps, &format!("{what}: steps"))?;
                check(limits::BATCH, *batch_size, &format!("{what}: batch_size"))?;
                if *eval_every > 10_000_000 || *eval_batches == 0 || *eval_batches > 10_000 {
                    return Err(bad(&format!("{what}: evaluation"), "not a sensible evaluation schedule".into()));
                }
            }
        }
    }
    Ok(())
}

impl StudyDir {
    /// Reads `dir/plan.json` and `dir/trials.jsonl`, checking that they belong together.
    pub fn open(dir: &Path) -> Result<StudyDir, StudyError> {
        let shown = dir.display();
        if !dir.join("plan.json").is_file() {
            return Err(StudyError(format!(
                "{shown} is not a study folder (no plan.json); make one with `optlab study plan STUDY.toml --out {shown}`"
            )));
        }
        let bytes = read_limited(&dir.join("plan.json"), 64 << 20)?;
        let plan: Plan = serde_json::from_slice(&bytes)
            .map_err(|e| StudyError(format!("{shown}/plan.json is damaged ({e}); plan the study again")))?;
        if plan.format != PLAN_FORMAT {
            return Err(StudyError(format!(
                "{shown}/plan.json is of format '{}', this optlab reads '{PLAN_FORMAT}'; plan the study again",
                crate::limits::shorten(&plan.format, 40)
            )));
        }
        check_plan_counts(&plan, &shown.to_string())?;
        let jsonl = read_limited(&dir.join("trials.jsonl"), (plan.trials as u64).saturating_mul(100_000))?;
        if crate::study::plan::hex(&Sha256::digest(&jsonl)) != plan.trials_sha256 {
            return Err(StudyError(format!(
                "{shown}/trials.jsonl does not match plan.json (changed or damaged); plan the study again"
            )));
        }
        let text = String::from_utf8(jsonl).map_err(|_| StudyError(format!("{shown}/trials.jsonl is not UTF-8")))?;
        let mut trials = Vec::with_capacity(plan.trials);
        for (i, line) in text.lines().enumerate() {
            let t: Trial = serde_json::from_str(line)
                .map_err(|e| StudyError(format!("{shown}/trials.jsonl line {}: {e}", i + 1)))?;
            let ok =
                t.id == i && t.problem < plan.problems.len() && t.hash == t.compute_hash(&plan.problems[t.problem]);
            if !ok {
                return Err(StudyError(format!("{shown}/trials.jsonl line {}: not trial {i} of this plan", i + 1)));
            }
            trials.push(t);
        }
        if trials.len() != plan.trials || plan.tasks == 0 {
            return Err(StudyError(format!("{shown}: plan.json and trials.jsonl disagree; plan the study again")));
        }
        Ok(StudyDir { dir: dir.to_path_buf(), plan, trials })
    }

    pub fn result_path(&self, id: usize) -> PathBuf {
        self.dir.join("results").join(format!("{id:08}.json"))
    }

    pub fn claim_path(&self, id: usize) -> PathBuf {
        self.dir.join("claims").join(format!("{id:08}.claim"))
    }

    pub fn failed_path(&self, id: usize) -> PathBuf {
        self.dir.join("failed").join(format!("{id:08}.json"))
    }

    /// The valid result of trial `id`, or why there is none (`Ok(None)`: no file).
    pub fn result(&self, id: usize) -> Result<Option<TrialResult>, String> {
        read_result(&self.result_path(id), &self.trials[id])
    }
}
