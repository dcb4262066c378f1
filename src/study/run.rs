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

use super::plan::{Plan, Trial, PLAN_FORMAT};
use super::{load_function, DataSource, Problem, ProblemKind, StudyError, Target};
use crate::experiment::compare::summarize;
use crate::experiment::train::{train_one, RunSpec, RunStatus, TrainSettings};
use crate::experiment::Trajectory;
use crate::optim::{OptimizerConfig, Shape2};
use anyhow::{Context as _, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The result files' format.
pub const RESULT_FORMAT: &str = "optlab-study-result/1";
/// The default lease of a claim made on another host.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);
/// Points of a 2-D run's loss curve kept in its result (besides the last).
pub const CURVE_POINTS: usize = 100;

// ---------------------------------------------------------------- the folder

/// A study folder with its plan and trials read and checked.
#[derive(Clone, Debug)]
pub struct StudyDir {
    pub dir: PathBuf,
    pub plan: Plan,
    pub trials: Vec<Trial>,
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, StudyError> {
    super::store::read_bounded(path, max).map_err(|e| match e {
        super::store::ReadError::TooLarge(_) => {
            StudyError(format!("{} is larger than {max} bytes; is it a study folder's file?", path.display()))
        }
        e => StudyError(format!("cannot read {}: {e}", path.display())),
    })
}

/// Checks the counts of a plan read from a folder as the same counts are checked in a
/// study file or on the command line (with `--allow-large`'s limits: the plan may have
/// been made with it), so an edited plan cannot ask for an impossible allocation.
fn check_plan_counts(plan: &Plan, shown: &str) -> Result<(), StudyError> {
    use crate::limits::{self, Allow};
    let bad = |what: &str, e: String| StudyError(format!("{shown}/plan.json: {what}: {e}; plan the study again"));
    let check = |limit: limits::Limit, v: usize, what: &str| -> Result<(), StudyError> {
        limit.check(Some(v as u64), Allow::LARGE).map(|_| ()).map_err(|e| bad(what, e.to_string()))
    };
    check(super::TRIALS, plan.trials, "trials")?;
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
        if super::plan::hex(&Sha256::digest(&jsonl)) != plan.trials_sha256 {
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

// ---------------------------------------------------------------- results

/// A 2-D run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub steps: usize,
    /// Steps taken (the last recorded point).
    pub steps_run: usize,
    pub evals: u64,
    pub final_loss: Option<f64>,
    pub lowest_loss: Option<f64>,
    pub final_point: Option<[f64; 2]>,
    pub nearest_minimum: Option<[f64; 2]>,
    pub distance_to_minimum: Option<f64>,
    /// First step from which the run stays near its nearest minimum.
    pub converged_at: Option<usize>,
    pub diverged_at: Option<usize>,
    /// First step with loss ≤ the target.
    pub steps_to_target: Option<usize>,
    pub evals_to_target: Option<u64>,
    /// (step, loss) at about [`CURVE_POINTS`] evenly spaced steps and the last.
    pub curve: Vec<(usize, f64)>,
}

/// One epoch of a training run (its wall time is in [`RunInfo`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochOutcome {
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub lr: Option<f64>,
}

/// A training run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub epochs: Vec<EpochOutcome>,
    /// (epoch, step) at which the loss became NaN or infinite.
    pub diverged_at: Option<(usize, usize)>,
    pub steps_per_epoch: usize,
    pub final_train_loss: Option<f64>,
    pub final_test_loss: Option<f64>,
    pub final_test_accuracy: Option<f64>,
    pub best_test_accuracy: Option<f64>,
    /// First epoch whose test metric meets the target.
    pub epochs_to_target: Option<usize>,
}

/// One evaluation of a language-model run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LmEvalOutcome {
    pub step: usize,
    pub train_loss: Option<f64>,
    pub val_loss: Option<f64>,
    pub lr: Option<f64>,
}

/// A language-model run's outcome (losses in nats per token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LmOutcome {
    /// `completed` or `diverged`.
    pub status: String,
    pub evals: Vec<LmEvalOutcome>,
    /// The step whose loss became NaN or infinite.
    pub diverged_at: Option<usize>,
    pub final_train_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub best_val_loss: Option<f64>,
    /// First evaluated step whose validation loss meets the target.
    pub steps_to_target: Option<usize>,
}

/// What a trial produced; identical whatever machine, task or thread ran it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Function(FunctionOutcome),
    Train(TrainOutcome),
    LanguageModel(LmOutcome),
}

/// Where and how long a trial ran (differs from run to run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub seconds: f64,
    pub seconds_to_target: Option<f64>,
    pub host: String,
    pub pid: u32,
    /// `3/8`: task 3 of 8, or `all`.
    pub task: String,
    pub kernels: String,
    pub optlab_version: String,
    pub finished_unix: u64,
    /// Seconds of each epoch (training).
    #[serde(default)]
    pub epoch_seconds: Vec<f64>,
}

/// A result file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    pub format: String,
    pub id: usize,
    pub hash: String,
    pub trial: Trial,
    pub outcome: Outcome,
    pub run: RunInfo,
    /// Written last: a file without it is not a result.
    pub complete: bool,
}

/// A failure file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub id: usize,
    pub hash: String,
    pub error: String,
    pub host: String,
    pub pid: u32,
    pub task: String,
    pub unix: u64,
}

/// The result at `path` if it is a complete result of `trial`; `Ok(None)` if there is no
/// file; `Err(why)` if the file is not a valid result (it is then rerun).
pub fn read_result(path: &Path, trial: &Trial) -> Result<Option<TrialResult>, String> {
    use super::store::{read_bounded, ReadError};
    let bytes = match read_bounded(path, 256 << 20) {
        Ok(b) => b,
        Err(ReadError::Missing) => return Ok(None),
        Err(ReadError::TooLarge(_)) => return Err("larger than 256 MB".into()),
        Err(ReadError::NotRegular(what)) => return Err(format!("{what}, not a regular file")),
        Err(e) => return Err(format!("cannot read it ({e})")),
    };
    if bytes.is_empty() {
        return Err("empty".into());
    }
    let r: TrialResult = serde_json::from_slice(&bytes).map_err(|e| format!("not a complete result ({e})"))?;
    if r.format != RESULT_FORMAT {
        return Err(format!("of format '{}'", crate::limits::shorten(&r.format, 40)));
    }
    if r.id != trial.id || r.trial.id != trial.id {
        return Err(format!("the result of trial {}, not {}", r.id, trial.id));
    }
    if r.hash != trial.hash || r.trial != *trial {
        return Err("made for another definition of the trial (the study was planned again)".into());
    }
    if !r.complete {
        return Err("not marked complete".into());
    }
    // 2-D trials have a start, training trials none
    let kind_ok = matches!(
        (&r.outcome, trial.start.is_some()),
        (Outcome::Function(_), true) | (Outcome::Train(_) | Outcome::LanguageModel(_), false)
    );
    if !kind_ok {
        return Err("the outcome is of the wrong kind".into());
    }
    Ok(Some(r))
}

fn read_failure(path: &Path, trial: &Trial) -> Option<Failure> {
    let bytes = super::store::read_bounded(path, 16 << 20).ok()?;
    let f: Failure = serde_json::from_slice(&bytes).ok()?;
    (f.id == trial.id && f.hash == trial.hash).then_some(f)
}

// ---------------------------------------------------------------- claims

/// What a claim file says about who made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (/proc/PID/stat), to tell a
    /// reused pid from the claimant.
    pub start_ticks: Option<u64>,
    pub claimed_unix: u64,
    pub task: String,
    /// Unique per claim.
    pub nonce: String,
}

/// How a claim attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The trial is ours.
    Mine,
    /// Another live task holds it.
    Taken(Option<ClaimInfo>),
}

/// This machine's name (/proc, else $HOSTNAME).
pub fn host_name() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown-host".into())
    })
    .clone()
}

/// (state, start time in ticks) of process `pid` from /proc, if it exists.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether a claim is still held: on this host by its process being alive (when /proc can
/// tell), elsewhere by a refresh within `lease`.
pub fn claim_is_live(info: &ClaimInfo, modified: Option<SystemTime>, lease: Duration) -> bool {
    if info.host == host_name() && Path::new("/proc/self/stat").exists() {
        return match proc_stat(info.pid) {
            None => false,
            Some(('Z' | 'X', _)) => false,
            Some((_, ticks)) => info.start_ticks.is_none_or(|t| t == ticks),
        };
    }
    let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
    age < lease
}

/// The claim at `path` as (what it says, when it was last refreshed), if it exists.
fn read_claim(path: &Path) -> Option<(Option<ClaimInfo>, Option<SystemTime>, Vec<u8>)> {
    let bytes = super::store::read_bounded(path, 1 << 20).ok()?;
    let modified = std::fs::metadata(path).ok().and_then(|m| m.modified().ok());
    Some((serde_json::from_slice(&bytes).ok(), modified, bytes))
}

/// Whether the claim at `path` is held by a live task (see the module's rule); a claim
/// that cannot be read is live while younger than 10 s (its maker may be writing it).
pub fn claim_state(path: &Path, lease: Duration) -> Option<(bool, Option<ClaimInfo>)> {
    let (info, modified, _) = read_claim(path)?;
    let live = match &info {
        Some(i) => claim_is_live(i, modified, lease),
        None => {
            let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
            age < Duration::from_secs(10)
        }
    };
    Some((live, info))
}

/// Claims trial `id` for this process (see the module's rule on stale claims).
pub fn try_claim(sd: &StudyDir, id: usize, me: &ClaimInfo, lease: Duration) -> Result<Claim> {
    let path = sd.claim_path(id);
    let dir = path.parent().expect("claims folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut body = serde_json::to_vec(me).expect("a claim serialises");
    body.push(b'\n');
    for _ in 0..4 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(&body)
                    .and_then(|()| f.sync_data())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(Claim::Mine);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(what) = super::store::not_regular(&path) {
                    // no task makes this: it would block the trial forever
                    return Err(anyhow::Error::new(StudyError(format!(
                        "{} is {what}, not a claim file; remove it and run again",
                        path.display()
                    ))));
                }
                let Some((info, modified, seen)) = read_claim(&path) else { continue };
                let live = match &info {
                    Some(i) => claim_is_live(i, modified, lease),
                    None => {
                        let age =
                            modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or(Duration::ZERO);
                        age < Duration::from_secs(10)
                    }
                };
                if live {
                    return Ok(Claim::Taken(info));
                }
                // take over: move the stale claim aside under a name of our own
                let aside = dir.join(format!(".{id:08}.stale-{}", me.nonce));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e).with_context(|| format!("cannot move the stale claim {}", path.display())),
                }
                let moved = std::fs::read(&aside).unwrap_or_default();
                if moved != seen {
                    // another task replaced the stale claim in between: put its claim back
                    let _ = std::fs::hard_link(&aside, &path);
                    let _ = std::fs::remove_file(&aside);
                    return Ok(Claim::Taken(serde_json::from_slice(&moved).ok()));
                }
                let _ = std::fs::remove_file(&aside);
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create the claim {}", path.display())),
        }
    }
    Ok(Claim::Taken(None))
}

/// Removes our claim on `id` (only if it is still ours).
pub fn release(sd: &StudyDir, id: usize, me: &ClaimInfo) {
    let path = sd.claim_path(id);
    if let Some((Some(info), _, _)) = read_claim(&path) {
        if info.nonce == me.nonce {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// A claim for this process.
pub fn my_claim(task: &str) -> ClaimInfo {
    let pid = std::process::id();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    ClaimInfo {
        host: host_name(),
        pid,
        start_ticks: proc_stat(pid).map(|s| s.1),
        claimed_unix: unix_now(),
        task: task.to_string(),
        nonce: format!("{}-{pid}-{nanos}-{n}", host_name().replace(['/', '.'], "_")),
    }
}

// ---------------------------------------------------------------- which share

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

// ---------------------------------------------------------------- running one trial

/// A problem made ready once per process (functions with their minima, models, data).
enum Ready {
    Function { f: crate::objective::Function, shape: Shape2 },
    Train { model: crate::nn::Model, data: crate::data::Dataset },
    LanguageModel { model: crate::nn::Gpt, data: crate::data::text::TextData },
}

fn prepare(p: &Problem) -> Result<Ready, String> {
    match &p.kind {
        ProblemKind::Function { function, domain, shape, .. } => {
            let f = load_function(function, *domain)?;
            let shape = Shape2::parse(shape)?;
            Ok(Ready::Function { f, shape })
        }
        ProblemKind::Train { model, dataset, data, data_dir, .. } => {
            let d = match data {
                DataSource::Subset => crate::data::embedded_mnist(),
                DataSource::Full => {
                    crate::data::load(dataset, data_dir.as_deref().map(Path::new), crate::data::Want::Full)
                }
            }
            .map_err(|e| format!("{e:#}"))?;
            let m = crate::nn::build(model, d.input_shape(), crate::limits::Allow::DEFAULT)
                .map_err(|e| format!("{e:#}"))?;
            Ok(Ready::Train { model: m, data: d })
        }
        ProblemKind::LanguageModel { model, text, .. } => {
            let data = crate::data::text::TextData::load("shakespeare-char", text.as_deref().map(Path::new))
                .map_err(|e| format!("{e:#}"))?;
            let cfg = crate::nn::GptConfig::parse(model, data.vocab.len()).map_err(|e| format!("{e:#}"))?;
            let m = crate::nn::Gpt::new(cfg, crate::limits::Allow::DEFAULT).map_err(|e| format!("{e:#}"))?;
            Ok(Ready::LanguageModel { model: m, data })
        }
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Runs a 2-D trial; `None` if Ctrl-C stopped it.
fn run_function(
    f: &crate::objective::Function,
    shape: Shape2,
    cfg: &OptimizerConfig,
    t: &Trial,
    steps: usize,
    target: Option<Target>,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>)> {
    let start = t.start.unwrap_or(f.start);
    let every = steps.div_ceil(CURVE_POINTS).max(1);
    let goal = match target {
        Some(Target::Loss(v)) => Some(v),
        _ => None,
    };
    let t0 = Instant::now();
    let mut hit: Option<(usize, u64, f64)> = None;
    let mut curve = Vec::with_capacity(CURVE_POINTS + 2);
    let mut last = None;
    let mut watch = |p: &crate::experiment::Point| {
        if hit.is_none() && goal.is_some_and(|g| p.loss <= g) {
            hit = Some((p.step, p.evals, t0.elapsed().as_secs_f64()));
        }
        if p.step.is_multiple_of(every) {
            curve.push((p.step, p.loss));
            last = None;
        } else {
            last = Some((p.step, p.loss));
        }
    };
    let summary = if steps <= crate::experiment::IN_MEMORY_STEPS {
        let mut points = Vec::with_capacity(steps + 1);
        let status = crate::experiment::drive(f, cfg, start, steps, shape, Some(stop), |p| {
            watch(p);
            points.push(*p);
        });
        summarize(f, &t.optimizer_label, cfg, &Trajectory { points, status }, steps)
    } else {
        let keep = steps.div_ceil(crate::experiment::KEPT_POINTS).max(1);
        let (traj, exact) =
            crate::experiment::run_trajectory_streamed(f, cfg, start, steps, shape, keep, Some(stop), &mut watch);
        let mut s = summarize(f, &t.optimizer_label, cfg, &traj, steps);
        s.lowest_loss = exact.lowest_loss;
        if let (Some(m), None) = (s.nearest_minimum, s.diverged_at) {
            let ran = traj.points.last().map_or(0, |p| p.step);
            s.converged_at = crate::experiment::steps_to_converge_rerun(f, cfg, start, ran, shape, m, s.tolerance);
        }
        s
    };
    if summary.interrupted_at.is_some() {
        return None;
    }
    curve.extend(last);
    let status = if summary.diverged_at.is_some() { "diverged" } else { "completed" };
    let steps_run = curve.last().map_or(0, |c| c.0);
    let final_ok = summary.final_x.is_finite();
    let o = FunctionOutcome {
        status: status.into(),
        steps,
        steps_run,
        evals: summary.evals,
        final_loss: finite(summary.final_loss),
        lowest_loss: finite(summary.lowest_loss),
        final_point: final_ok.then_some([summary.final_x, summary.final_y]),
        nearest_minimum: summary.nearest_minimum,
        distance_to_minimum: summary.distance_to_minimum,
        converged_at: summary.converged_at,
        diverged_at: summary.diverged_at,
        steps_to_target: hit.map(|h| h.0),
        evals_to_target: hit.map(|h| h.1),
        curve: curve.into_iter().filter(|c| c.1.is_finite()).collect(),
    };
    Some((Outcome::Function(o), hit.map(|h| h.2)))
}

/// Runs a training trial; `None` if Ctrl-C stopped it.
fn run_train(
    model: &crate::nn::Model,
    data: &crate::data::Dataset,
    p: &Problem,
    cfg: &OptimizerConfig,
    t: &Trial,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>, Vec<f64>)> {
    let ProblemKind::Train { epochs, batch_size, limit, test_limit, .. } = &p.kind else { return None };
    let settings = TrainSettings {
        epochs: *epochs,
        batch_size: *batch_size,
        evaluate: true,
        eval_chunk: 500,
        limit_train: *limit,
        limit_test: *test_limit,
    };
    let spec = RunSpec { label: t.optimizer_label.clone(), config: cfg.clone(), seed: t.seed.unwrap_or(0) };
    let r = train_one(model, data, &spec, 0, &settings, stop, &|_| {});
    let diverged_at = match r.status {
        RunStatus::Interrupted { .. } => return None,
        RunStatus::Diverged { epoch, step } => Some((epoch, step)),
        RunStatus::Completed => None,
    };
    let n_train = limit.map_or(data.train.len(), |l| l.min(data.train.len()));
    let epochs_out: Vec<EpochOutcome> = r
        .epochs
        .iter()
        .map(|e| EpochOutcome {
            epoch: e.epoch,
            train_loss: finite(e.train_loss),
            test_loss: e.test_loss.and_then(finite),
            test_accuracy: e.test_accuracy.and_then(finite),
            lr: finite(e.lr),
        })
        .collect();
    let reached = |e: &EpochOutcome| match p.target {
        Some(Target::Loss(v)) => e.test_loss.is_some_and(|l| l <= v),
        Some(Target::Accuracy(v)) => e.test_accuracy.is_some_and(|a| a >= v),
        None => false,
    };
    let hit = epochs_out.iter().position(reached);
    let secs: Vec<f64> = r.epochs.iter().map(|e| e.seconds).collect();
    let last = epochs_out.last();
    let o = TrainOutcome {
        status: if diverged_at.is_some() { "diverged" } else { "completed" }.into(),
        diverged_at,
        steps_per_epoch: n_train.div_ceil(*batch_size),
        final_train_loss: last.and_then(|e| e.train_loss),
        final_test_loss: last.and_then(|e| e.test_loss),
        final_test_accuracy: last.and_then(|e| e.test_accuracy),
        best_test_accuracy: epochs_out.iter().filter_map(|e| e.test_accuracy).reduce(f64::max),
        epochs_to_target: hit.map(|i| i + 1),
        epochs: epochs_out,
    };
    Some((Outcome::Train(o), hit.map(|i| secs[..=i].iter().sum()), secs))
}

/// Runs a language-model trial; `None` if Ctrl-C stopped it.
fn run_language_model(
    model: &crate::nn::Gpt,
    data: &crate::data::text::TextData,
    p: &Problem,
    cfg: &OptimizerConfig,
    t: &Trial,
    stop: &AtomicBool,
) -> Option<(Outcome, Option<f64>)> {
    let ProblemKind::LanguageModel { steps, batch_size, eval_every, eval_batches, .. } = &p.kind else { return None };
    let settings = crate::experiment::lm::LmSettings {
        steps: *steps,
        batch_size: *batch_size,
        eval_every: *eval_every,
        eval_batches: *eval_batches,
        checkpoint_every: None,
    };
    let spec = RunSpec { label: t.optimizer_label.clone(), config: cfg.clone(), seed: t.seed.unwrap_or(0) };
    let r = crate::experiment::lm::train_one(model, data, &spec, 0, &settings, stop, &|_| {});
    use crate::experiment::lm::LmStatus;
    let diverged_at = match r.status {
        LmStatus::Interrupted { .. } => return None,
        LmStatus::Diverged { step } => Some(step),
        LmStatus::Completed => None,
    };
    let evals: Vec<LmEvalOutcome> = r
        .evals
        .iter()
        .map(|e| LmEvalOutcome {
            step: e.step,
            train_loss: finite(e.train_loss),
            val_loss: finite(e.val_loss),
            lr: finite(e.lr),
        })
        .collect();
    let hit = match p.target {
        Some(Target::Loss(v)) => evals.iter().position(|e| e.val_loss.is_some_and(|l| l <= v)),
        _ => None,
    };
    let last = evals.last();
    let o = LmOutcome {
        status: if diverged_at.is_some() { "diverged" } else { "completed" }.into(),
        diverged_at,
        final_train_loss: last.and_then(|e| e.train_loss),
        final_val_loss: last.and_then(|e| e.val_loss),
        best_val_loss: evals.iter().filter_map(|e| e.val_loss).reduce(f64::min),
        steps_to_target: hit.map(|i| evals[i].step),
        evals,
    };
    Some((Outcome::LanguageModel(o), hit.map(|i| r.evals[i].seconds)))
}

// ---------------------------------------------------------------- a task

/// What happened to one trial of a task's share.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Run and written.
    Ran { id: usize, seconds: f64, note: String },
    /// A valid result was already there.
    Done { id: usize },
    /// Another live task holds it.
    Claimed { id: usize, by: Option<ClaimInfo> },
    /// It failed; the error is in failed/<id>.json.
    Failed { id: usize, error: String },
    /// Ctrl-C stopped it (or it never started); it is left for a rerun.
    Interrupted { id: usize },
}

impl Event {
    pub fn id(&self) -> usize {
        match self {
            Event::Ran { id, .. }
            | Event::Done { id }
            | Event::Claimed { id, .. }
            | Event::Failed { id, .. }
            | Event::Interrupted { id } => *id,
        }
    }
}

/// How a task's run went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub ran: usize,
    pub done_before: usize,
    pub claimed: usize,
    pub failed: Vec<(usize, String)>,
    pub interrupted: usize,
    /// Result files that were there but not valid (they were run again).
    pub replaced: Vec<(usize, String)>,
}

/// Options of a task.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub lease: Duration,
    /// `3/8` or `all`, recorded in claims and results.
    pub task: String,
}

/// A short note on an outcome for the progress line.
fn note(o: &Outcome, target: Option<Target>) -> String {
    let t = |s: Option<String>| s.map(|s| format!(", target at {s}")).unwrap_or_default();
    match o {
        Outcome::Function(f) => match f.diverged_at {
            Some(k) => format!("diverged at step {k}"),
            None => format!(
                "final loss {}{}",
                f.final_loss.map_or("-".into(), crate::limits::fmt_value),
                t(target.and(f.steps_to_target.map(|s| format!("step {s}"))))
            ),
        },
        Outcome::Train(r) => match r.diverged_at {
            Some((e, s)) => format!("diverged at epoch {e}, step {s}"),
            None => format!(
                "test accuracy {}{}",
                r.final_test_accuracy.map_or("-".into(), |a| format!("{a:.4}")),
                t(target.and(r.epochs_to_target.map(|e| format!("epoch {e}"))))
            ),
        },
        Outcome::LanguageModel(r) => match r.diverged_at {
            Some(s) => format!("diverged at step {s}"),
            None => format!(
                "validation loss {}{}",
                r.final_val_loss.map_or("-".into(), |l| format!("{l:.4}")),
                t(target.and(r.steps_to_target.map(|s| format!("step {s}"))))
            ),
        },
    }
}

/// Runs the trials `ids` of the study in parallel on the current rayon pool: each is
/// skipped if it has a valid result or a live claim, else claimed, run (one thread each, so
/// results do not depend on the number of threads) and written. Ctrl-C (`stop`) stops the
/// trials at once; finished ones are kept, unfinished ones are released for a rerun.
pub fn run_share(
    sd: &StudyDir,
    ids: &[usize],
    opts: &RunOptions,
    stop: &AtomicBool,
    observe: &(dyn Fn(&Event) + Sync),
) -> Result<Summary> {
    for sub in ["results", "claims", "failed"] {
        let d = sd.dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    sweep_leftovers(sd, opts.lease.max(Duration::from_secs(60)));
    let ready: Vec<OnceLock<Result<Ready, String>>> = sd.plan.problems.iter().map(|_| OnceLock::new()).collect();
    let me = my_claim(&opts.task);
    let held: Mutex<HashSet<usize>> = Mutex::new(HashSet::new());
    let summary = Mutex::new(Summary::default());
    let io_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let finished = AtomicBool::new(false);
    let beat = (opts.lease / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
    std::thread::scope(|scope| {
        // the heartbeat: refresh our claims while they run
        scope.spawn(|| {
            let mut last = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < beat {
                    continue;
                }
                last = Instant::now();
                let ids: Vec<usize> = held.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
                for id in ids {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(sd.claim_path(id)) {
                        let _ = f.set_modified(SystemTime::now());
                    }
                }
            }
        });
        ids.par_iter().for_each(|&id| {
            let event = one(sd, id, &ready, &me, opts, stop, &held, &summary);
            match event {
                Ok(e) => {
                    {
                        let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
                        match &e {
                            Event::Ran { .. } => s.ran += 1,
                            Event::Done { .. } => s.done_before += 1,
                            Event::Claimed { .. } => s.claimed += 1,
                            Event::Failed { id, error } => s.failed.push((*id, error.clone())),
                            Event::Interrupted { .. } => s.interrupted += 1,
                        }
                    }
                    observe(&e);
                }
                Err(e) => {
                    let mut slot = io_error.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                    stop.store(true, Ordering::SeqCst);
                }
            }
        });
        finished.store(true, Ordering::Relaxed);
    });
    if let Some(e) = io_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut s = summary.into_inner().unwrap_or_else(|e| e.into_inner());
    s.failed.sort();
    s.replaced.sort();
    Ok(s)
}

/// Removes what killed tasks left behind: temporary files of results and failures (a write
/// is a few milliseconds; one older than `age` belongs to a task that died writing it) and
/// stale claims moved aside by a takeover that did not finish.
fn sweep_leftovers(sd: &StudyDir, age: Duration) {
    for sub in ["results", "failed", "claims"] {
        let Ok(entries) = std::fs::read_dir(sd.dir.join(sub)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with('.') && (name.contains(".tmp") || name.contains(".stale-"))) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|a| a > age);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn one(
    sd: &StudyDir,
    id: usize,
    ready: &[OnceLock<Result<Ready, String>>],
    me: &ClaimInfo,
    opts: &RunOptions,
    stop: &AtomicBool,
    held: &Mutex<HashSet<usize>>,
    summary: &Mutex<Summary>,
) -> Result<Event> {
    if stop.load(Ordering::Relaxed) {
        return Ok(Event::Interrupted { id });
    }
    let trial = &sd.trials[id];
    let invalid = match sd.result(id) {
        Ok(Some(_)) => return Ok(Event::Done { id }),
        Ok(None) => None,
        Err(why) => Some(why),
    };
    match try_claim(sd, id, me, opts.lease)? {
        Claim::Taken(by) => return Ok(Event::Claimed { id, by }),
        Claim::Mine => {}
    }
    // someone may have finished it between our look and our claim
    if let Ok(Some(_)) = sd.result(id) {
        release(sd, id, me);
        return Ok(Event::Done { id });
    }
    if let Some(why) = invalid {
        summary.lock().unwrap_or_else(|e| e.into_inner()).replaced.push((id, why));
    }
    held.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(sd, trial, ready, stop)))
        .unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("internal error (panic): {msg}"))
        });
    let event = match outcome {
        Ok(Some((outcome, mut info))) => {
            info.task = opts.task.clone();
            let seconds = info.seconds;
            let text = note(&outcome, sd.plan.problems[trial.problem].target);
            let r = TrialResult {
                format: RESULT_FORMAT.into(),
                id,
                hash: trial.hash.clone(),
                trial: trial.clone(),
                outcome,
                run: info,
                complete: true,
            };
            let mut bytes = serde_json::to_vec(&r).context("serialising a result")?;
            bytes.push(b'\n');
            let written = crate::record::write_atomic(&sd.result_path(id), &bytes);
            if written.is_ok() {
                let _ = std::fs::remove_file(sd.failed_path(id));
            }
            held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            release(sd, id, me);
            written?;
            Event::Ran { id, seconds, note: text }
        }
        Ok(None) => Event::Interrupted { id },
        Err(error) => {
            let f = Failure {
                id,
                hash: trial.hash.clone(),
                error: error.clone(),
                host: me.host.clone(),
                pid: me.pid,
                task: opts.task.clone(),
                unix: unix_now(),
            };
            let bytes = serde_json::to_vec_pretty(&f).context("serialising a failure")?;
            let written = crate::record::write_atomic(&sd.failed_path(id), &bytes);
            held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            release(sd, id, me);
            written?;
            Event::Failed { id, error }
        }
    };
    if matches!(event, Event::Interrupted { .. }) {
        held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        release(sd, id, me);
    }
    Ok(event)
}

/// Runs one trial: `Ok(None)` if stopped, `Err` if it could not run.
fn execute(
    sd: &StudyDir,
    t: &Trial,
    ready: &[OnceLock<Result<Ready, String>>],
    stop: &AtomicBool,
) -> Result<Option<(Outcome, RunInfo)>, String> {
    let p = &sd.plan.problems[t.problem];
    let r = ready[t.problem].get_or_init(|| prepare(p)).as_ref().map_err(|e| format!("{}: {e}", p.name))?;
    let cfg = OptimizerConfig::parse(&t.spec).map_err(|e| format!("spec {}: {e}", t.spec))?;
    let t0 = Instant::now();
    let (outcome, to_target, epoch_seconds) = match (r, &p.kind) {
        (Ready::Function { f, shape }, ProblemKind::Function { steps, .. }) => {
            match run_function(f, *shape, &cfg, t, *steps, p.target, stop) {
                Some((o, s)) => (o, s, Vec::new()),
                None => return Ok(None),
            }
        }
        (Ready::Train { model, data }, ProblemKind::Train { .. }) => match run_train(model, data, p, &cfg, t, stop) {
            Some(x) => x,
            None => return Ok(None),
        },
        (Ready::LanguageModel { model, data }, ProblemKind::LanguageModel { .. }) => {
            cfg.check_layout(&model.layout()).map_err(|e| format!("spec {}: {e}", t.spec))?;
            match run_language_model(model, data, p, &cfg, t, stop) {
                Some((o, s)) => (o, s, Vec::new()),
                None => return Ok(None),
            }
        }
        _ => return Err("internal: problem and preparation disagree".into()),
    };
    let info = RunInfo {
        seconds: t0.elapsed().as_secs_f64(),
        seconds_to_target: to_target,
        host: host_name(),
        pid: std::process::id(),
        task: String::new(),
        kernels: crate::kernels::active().name().to_string(),
        optlab_version: env!("CARGO_PKG_VERSION").into(),
        finished_unix: unix_now(),
        epoch_seconds,
    };
    Ok(Some((outcome, info)))
}

// ---------------------------------------------------------------- status

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

#[cfg(test)]
mod tests {
    use super::*;

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
