//! Which share of the trials a task runs (task index and count, Slurm, Kubernetes).

use crate::study::plan::Plan;
use crate::study::StudyError;
use anyhow::Result;

/// Which trials a task runs: `index` of `count` (trial ids ≡ index mod count), or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    pub index: usize,
    pub count: usize,
    /// Where it came from: `--task-index`, `SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX`
    /// or `all`.
    pub source: String,
}

impl Share {
    pub fn all() -> Share {
        Share { index: 0, count: 1, source: "all".into() }
    }

    /// `3/8`, or `all`.
    pub fn label(&self) -> String {
        if self.source == "all" {
            "all".into()
        } else {
            format!("{}/{}", self.index, self.count)
        }
    }

    pub fn ids(&self, trials: usize) -> Vec<usize> {
        Plan::share(trials, self.index, self.count).collect()
    }
}

/// The share of this task. The flags win; then Slurm's array variables (the count is
/// SLURM_ARRAY_TASK_COUNT when the array is 0..count−1, else the plan's tasks, so a
/// resubmission of some indices, `--array=3,7`, still means the plan's tasks 3 and 7);
/// then Kubernetes' JOB_COMPLETION_INDEX (count: OPTLAB_TASK_COUNT, else the plan's
/// tasks); else every trial.
pub fn share_from(
    index: Option<usize>,
    count: Option<usize>,
    plan_tasks: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Share, StudyError> {
    let num =
        |name: &str| -> Result<Option<usize>, StudyError> {
            match env(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                    StudyError(format!("{name}={} is not a whole number", crate::limits::shorten(&v, 30)))
                }),
            }
        };
    let (index, count, source) = match (index, count) {
        (Some(i), c) => (i, c.unwrap_or(plan_tasks), "--task-index".to_string()),
        (None, Some(_)) => return Err(StudyError("--task-count goes with --task-index".into())),
        (None, None) => {
            if let Some(i) = num("SLURM_ARRAY_TASK_ID")? {
                let (min, max, n) =
                    (num("SLURM_ARRAY_TASK_MIN")?, num("SLURM_ARRAY_TASK_MAX")?, num("SLURM_ARRAY_TASK_COUNT")?);
                let past = |max: usize| {
                    max.checked_add(1)
                        .ok_or_else(|| StudyError(format!("SLURM_ARRAY_TASK_MAX={max} is too large for a task count")))
                };
                let count = match (min, max, n) {
                    (Some(0), Some(max), Some(n)) if Some(n) == max.checked_add(1) => n,
                    (Some(0), Some(max), None) => past(max)?,
                    (Some(0), Some(max), Some(_)) => {
                        past(max)?;
                        plan_tasks
                    }
                    _ => plan_tasks,
                };
                (i, count, "SLURM_ARRAY_TASK_ID".to_string())
            } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
                (i, num("OPTLAB_TASK_COUNT")?.unwrap_or(plan_tasks), "JOB_COMPLETION_INDEX".to_string())
            } else {
                return Ok(Share::all());
            }
        }
    };
    if count == 0 {
        return Err(StudyError(format!("{source}: a task count of 0; give at least 1")));
    }
    if index >= count {
        return Err(StudyError(format!(
            "{source} {index} is not below the task count {count}; tasks are numbered 0 to {}",
            count - 1
        )));
    }
    Ok(Share { index, count, source })
}
