//! Running trials: a task's share, claims, results and failures.
//!
//! A study folder holds, besides the plan:
//!
//! - `results/<id>.json`: one per finished trial, written atomically (temp + rename). It
//!   carries the trial's full definition and hash, the outcome and `"complete": true`; a
//!   file that does not parse, lacks the marker or belongs to another trial or an older plan
//!   is not a result, and the trial runs again.
//! - `claims/<id>.claim`: made with an exclusive create before a trial runs, removed after
//!   its result is written. A task that finds a trial claimed skips it, so two tasks given
//!   the same trial never both run it.
//! - `failed/<id>.json`: the error of a trial that failed (not a diverged run: that is a
//!   result); a rerun tries it again.
//!
//! **Stale claims.** A claim records the host, pid and start time of the process that made
//! it, and that process refreshes the claim's modification time every `lease / 4` (at most
//! every minute) while the trial runs. A claim is taken over by a later task when
//! - it was made on the same host and its process is gone (checked in /proc: the pid is
//!   not running, is a zombie, or is another process with a different start time), or
//! - it was made on another host (or where /proc is missing) and was not refreshed for
//!   longer than the lease (default 10 minutes, `--lease`).
//!
//! So a task killed by SIGKILL, a node failure or a preemption blocks its trials at most for
//! the lease, and not at all for a rerun on the same machine. A task also removes the
//! temporary files of writes that a killed task left (older than the lease, at least a
//! minute: a write takes milliseconds). Taking over renames the stale
//! claim to a unique name first (only one task can), checks that it renamed the claim it
//! judged, and then claims with an exclusive create again.

//! One file per job: `folder` (the plan read and checked), `results` (result and failure
//! files), `claims` (the claim-and-lease protocol), `share` (which trials a task runs),
//! `trial` (one trial through the experiment layer), `task` (a task's share: claim, run,
//! write, signals), `status` (where the study stands).

mod claims;
mod folder;
mod results;
mod share;
mod status;
mod task;
mod trial;

pub use claims::*;
pub use folder::*;
pub use results::*;
pub use share::*;
pub use status::*;
pub use task::*;
use trial::*;

use std::time::Duration;

/// The result files' format.
pub const RESULT_FORMAT: &str = "optlab-study-result/1";
/// The default lease of a claim made on another host.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// Points of a 2-D run's loss curve kept in its result (besides the last).
pub const CURVE_POINTS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::SystemTime;

    #[test]
    fn shares_come_from_flags_then_slurm_then_kubernetes() {
        let none = |_: &str| None;
        assert_eq!(share_from(None, None, 8, &none).unwrap(), Share::all());
        assert_eq!(share_from(Some(3), None, 8, &none).unwrap().count, 8);
        assert!(share_from(Some(8), Some(8), 8, &none).unwrap_err().0.contains("not below"));
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("2".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("0".to_string()),
            "SLURM_ARRAY_TASK_MAX" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(
            share_from(None, None, 8, &slurm).unwrap(),
            Share { index: 2, count: 4, source: "SLURM_ARRAY_TASK_ID".into() }
        );
        let resubmitted = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("7".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_MAX" => Some("7".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("2".to_string()),
            _ => None,
        };
        assert_eq!(share_from(None, None, 8, &resubmitted).unwrap().count, 8);
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "5".to_string());
        assert_eq!(share_from(None, None, 8, &k8s).unwrap().index, 5);
        let bad = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "x".to_string());
        assert!(share_from(None, None, 8, &bad).is_err());
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[0, 1, 2, 4, 6, 7], 10), "0-2, 4, 6-7");
        assert!(ranges(&[0, 2, 4, 6], 2).contains("4 ranges in all"));
    }

    #[test]
    fn a_claim_of_a_dead_process_on_this_host_is_stale() {
        let mut me = my_claim("t");
        assert!(claim_is_live(&me, Some(SystemTime::now()), DEFAULT_LEASE));
        me.start_ticks = me.start_ticks.map(|t| t + 1);
        if Path::new("/proc/self/stat").exists() {
            assert!(!claim_is_live(&me, Some(SystemTime::now()), DEFAULT_LEASE));
        }
        let other = ClaimInfo { host: "elsewhere".into(), ..my_claim("t") };
        assert!(claim_is_live(&other, Some(SystemTime::now()), DEFAULT_LEASE));
        let old = SystemTime::now() - Duration::from_secs(700);
        assert!(!claim_is_live(&other, Some(old), DEFAULT_LEASE));
    }
}
