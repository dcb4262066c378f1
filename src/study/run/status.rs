//! Where a study stands: done, running, failed, missing.

use super::*;
use anyhow::Result;
use rayon::prelude::*;
use std::time::Duration;

/// Where every trial of a study stands.
#[derive(Clone, Debug, Default)]
pub struct StudyStatus {
    pub done: Vec<usize>,
    /// Held by a live task.
    pub running: Vec<(usize, Option<ClaimInfo>)>,
    /// Claimed by a task that is gone (a rerun takes them over).
    pub stale: Vec<(usize, Option<ClaimInfo>)>,
    pub failed: Vec<Failure>,
    /// Result files that are not valid results.
    pub invalid: Vec<(usize, String)>,
    /// Not done, not running, not failed.
    pub missing: Vec<usize>,
}

/// Reads every trial's state.
pub fn status(sd: &StudyDir, lease: Duration) -> StudyStatus {
    let states: Vec<(usize, Result<Option<TrialResult>, String>)> =
        (0..sd.trials.len()).into_par_iter().map(|id| (id, sd.result(id))).collect();
    let mut s = StudyStatus::default();
    for (id, state) in states {
        match state {
            Ok(Some(_)) => {
                s.done.push(id);
                continue;
            }
            Ok(None) => {}
            Err(why) => s.invalid.push((id, why)),
        }
        if let Some((live, info)) = claim_state(&sd.claim_path(id), lease) {
            if live {
                s.running.push((id, info));
                continue;
            }
            s.stale.push((id, info));
        }
        if let Some(f) = read_failure(&sd.failed_path(id), &sd.trials[id]) {
            s.failed.push(f);
            continue;
        }
        s.missing.push(id);
    }
    s
}

/// Reads every valid result (in id order) and the ids without one.
pub fn collect(sd: &StudyDir) -> (Vec<TrialResult>, Vec<usize>) {
    let all: Vec<Option<TrialResult>> =
        (0..sd.trials.len()).into_par_iter().map(|id| sd.result(id).ok().flatten()).collect();
    let missing = all.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| i).collect();
    (all.into_iter().flatten().collect(), missing)
}

/// `0-4, 7, 9-12`: ids as ranges (at most `max` pieces, then "…").
pub fn ranges(ids: &[usize], max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", ids[i], ids[j]) } else { ids[i].to_string() });
        i = j + 1;
    }
    if parts.len() > max {
        let n = parts.len();
        parts.truncate(max);
        parts.push(format!("… ({n} ranges in all)"));
    }
    parts.join(", ")
}
