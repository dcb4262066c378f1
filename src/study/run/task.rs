//! A task: its share of trials, claimed, run and written, with progress and signals.

use super::*;
use crate::optim::OptimizerConfig;
use crate::study::plan::Trial;
use crate::study::{ProblemKind, Target};
use anyhow::{Context as _, Result};
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

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
pub(super) fn note(o: &Outcome, target: Option<Target>) -> String {
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
pub(super) fn sweep_leftovers(sd: &StudyDir, age: Duration) {
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
pub(super) fn one(
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
pub(super) fn execute(
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
