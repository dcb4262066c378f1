//! `optlab study`: plan a benchmark study into numbered trials, run shares of them (here, on
//! a Slurm array or a Kubernetes Indexed Job), see where it stands, and report it.

use super::args::{check, open_out, usage};
use super::output::{install_ctrlc, stopped, STOP};
use crate::limits::{self, Allow};
use crate::study::engines::{self, EngineOptions};
use crate::study::plan::{self, Layout};
use crate::study::run::{self, Event, RunOptions, StudyDir};
use crate::study::StudyError;
use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum StudyAction {
    /// Expand a study file (TOML; see examples/study.toml) into numbered trials in a folder:
    /// trials.jsonl, plan.json, a copy of the file, slurm.sbatch (a job array) and
    /// k8s-job.yaml (an Indexed Job).
    Plan {
        /// The study file
        study: PathBuf,
        /// The study folder to write
        #[arg(long)]
        out: PathBuf,
        /// Tasks of the job array / Indexed Job (default: one per trial, at most 1,000)
        #[arg(long, value_parser = super::count)]
        tasks: Option<usize>,
        /// Tasks running at once: Slurm's %M, Kubernetes' parallelism (default: all, at most 100)
        #[arg(long, value_parser = super::count)]
        parallel: Option<usize>,
        /// Cores per task; the trials of a task run in parallel on them
        #[arg(long, value_parser = super::count, default_value_t = 1)]
        cpus_per_task: usize,
        /// Memory per task, e.g. 2G or 800M (default: estimated from the problems)
        #[arg(long)]
        mem: Option<String>,
        /// Time limit per task: minutes, HH:MM:SS or D-HH:MM:SS (default: 4× the estimate, at least 10 min)
        #[arg(long)]
        time: Option<String>,
        /// Slurm partition (default: the cluster's default partition)
        #[arg(long)]
        partition: Option<String>,
        /// The optlab the Slurm tasks run (default: this binary's absolute path)
        #[arg(long)]
        binary: Option<String>,
        /// Container image with optlab on its PATH, for k8s-job.yaml
        #[arg(long, default_value = "optlab:latest")]
        image: String,
        /// PersistentVolumeClaim (ReadWriteMany) holding the study folder, for k8s-job.yaml
        #[arg(long, default_value = "optlab-study")]
        pvc: String,
        /// Where the pods mount the study folder
        #[arg(long, default_value = "/study")]
        mount: String,
        /// Allow studies past the ordinary limits (see docs/guide/limits.md)
        #[arg(long)]
        allow_large: bool,
    },
    /// Run this task's share of a planned study: --task-index/--task-count, else
    /// SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX, else every trial on all cores. Done
    /// trials are skipped; Ctrl-C keeps the finished ones.
    Run {
        /// The study folder (made by `optlab study plan`)
        dir: PathBuf,
        /// This task's index, 0 to the task count − 1
        #[arg(long, value_parser = super::count)]
        task_index: Option<usize>,
        /// The number of tasks (default: the plan's)
        #[arg(long, value_parser = super::count, requires = "task_index")]
        task_count: Option<usize>,
        /// Worker threads (default: SLURM_CPUS_PER_TASK, else all cores); results do not depend on it
        #[arg(long, value_parser = super::count)]
        threads: Option<usize>,
        /// Seconds after which a claim made on another host and not refreshed is taken over
        /// (claims of gone processes on this host are taken over at once)
        #[arg(long, value_parser = super::count, default_value_t = 600)]
        lease: usize,
    },
    /// Where the study stands: done, running (claimed), failed (with their errors), missing.
    Status {
        dir: PathBuf,
        /// As for `run`: the lease that decides whether another host's claim is stale
        #[arg(long, value_parser = super::count, default_value_t = 600)]
        lease: usize,
    },
    /// Merge the results that exist into a report: index.html (self-contained), report.md,
    /// results.csv, summary.json and the figures; says which trials are missing.
    Report {
        dir: PathBuf,
        /// Output folder (default: DIR/report)
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn user(e: StudyError) -> anyhow::Error {
    usage(e.0)
}

pub fn cmd_study(action: &StudyAction) -> Result<()> {
    match action {
        StudyAction::Plan {
            study,
            out,
            tasks,
            parallel,
            cpus_per_task,
            mem,
            time,
            partition,
            binary,
            image,
            pvc,
            mount,
            allow_large,
        } => {
            let layout = Layout {
                tasks: *tasks,
                parallel: *parallel,
                cpus_per_task: check(limits::THREADS, *cpus_per_task, Allow::DEFAULT)?,
                mem_mb: mem.as_deref().map(parse_mem).transpose()?,
                time_minutes: time.as_deref().map(parse_time).transpose()?,
            };
            let engine = EngineOptions {
                binary: String::new(),
                dir: String::new(),
                partition: partition.clone(),
                image: image.clone(),
                pvc: pvc.clone(),
                mount: mount.clone(),
            };
            cmd_plan(study, out, &layout, engine, binary.as_deref(), Allow { large: *allow_large })
        }
        StudyAction::Run { dir, task_index, task_count, threads, lease } => {
            cmd_run(dir, *task_index, *task_count, *threads, *lease)
        }
        StudyAction::Status { dir, lease } => cmd_status(dir, *lease),
        StudyAction::Report { dir, out } => cmd_report(dir, out.as_deref()),
    }
}

/// `800M`, `2G`, `2048` (MB).
fn parse_mem(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('G') => (&t[..t.len() - 1], 1024),
        Some('M') => (&t[..t.len() - 1], 1),
        Some('T') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    match num.trim().parse::<u64>() {
        Ok(v) if v > 0 && v.checked_mul(mult).is_some_and(|m| m <= 1 << 30) => Ok(v * mult),
        _ => Err(usage(format!("--mem '{}': give e.g. 800M or 4G", limits::shorten(s, 30)))),
    }
}

/// Minutes, `HH:MM:SS` or `D-HH:MM:SS`, as minutes (rounded up).
fn parse_time(s: &str) -> Result<u64> {
    let bad = || usage(format!("--time '{}': give minutes, HH:MM:SS or D-HH:MM:SS", limits::shorten(s, 30)));
    let t = s.trim();
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().map_err(|_| bad())?, r),
        None => (0, t),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse::<u64>()).collect::<Result<_, _>>().map_err(|_| bad())?;
    let secs = match parts.as_slice() {
        [m] if days == 0 => m.checked_mul(60),
        [h, m, s] if *m < 60 && *s < 60 => h.checked_mul(3600).and_then(|v| v.checked_add(m * 60 + s)),
        _ => None,
    }
    .and_then(|v| v.checked_add(days.checked_mul(86_400)?))
    .ok_or_else(bad)?;
    if secs == 0 || secs > 365 * 86_400 {
        return Err(bad());
    }
    Ok(secs.div_ceil(60))
}

fn cmd_plan(
    file: &Path,
    out: &Path,
    layout: &Layout,
    mut engine: EngineOptions,
    binary: Option<&str>,
    allow: Allow,
) -> Result<()> {
    let study = crate::study::load(file, allow).map_err(user)?;
    let trials = plan::expand(&study, allow).map_err(user)?;
    let jsonl = plan::trials_jsonl(&trials);
    let p = plan::make_plan(&study, &trials, layout, &jsonl).map_err(user)?;
    if engine.mount.is_empty() || !engine.mount.starts_with('/') {
        return Err(usage(format!("--mount '{}': give an absolute path such as /study", engine.mount)));
    }
    let mut dir = open_out(Some(out), out.to_path_buf())?;
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let abs_text = abs.display().to_string();
    if abs_text.chars().any(|c| c.is_whitespace() || "'\"\\$`%".contains(c)) {
        return Err(usage(format!(
            "--out {}: Slurm's #SBATCH lines cannot hold this path (spaces, quotes or %); choose a plain folder",
            out.display()
        )));
    }
    engine.dir = abs_text;
    engine.binary = match binary {
        Some(b) => b.to_string(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .map_or_else(|| "optlab".to_string(), |p| p.display().to_string()),
    };
    engines::check(&engine).map_err(user)?;
    let text = std::fs::read(file).map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    dir.bytes("study.toml", &text)?;
    dir.bytes("trials.jsonl", jsonl.as_bytes())?;
    dir.json("plan.json", &p)?;
    dir.bytes("slurm.sbatch", engines::slurm_sbatch(&p, &engine).as_bytes())?;
    dir.bytes("k8s-job.yaml", engines::k8s_job(&p, &engine).as_bytes())?;
    std::fs::create_dir_all(abs.join("logs"))?;
    dir.finish()?;
    let sd = StudyDir::open(out).map_err(user)?;
    let (results, _) = run::collect(&sd);
    let r = &p.resources;
    say!(
        "study {}: {} trials ({} problem{} × {} optimizer{}: {} hyperparameter points in all, × seeds or starts)",
        p.name,
        p.trials,
        p.problems.len(),
        if p.problems.len() == 1 { "" } else { "s" },
        p.optimizers.len(),
        if p.optimizers.len() == 1 { "" } else { "s" },
        p.optimizers.iter().map(|o| o.points).sum::<usize>()
    );
    say!(
        "{} tasks, {} at once; per task {} CPU, {} MB, {} (the longest trial: about {} s on one core)",
        p.tasks,
        p.parallel,
        r.cpus_per_task,
        r.mem_mb,
        engines::slurm_time(r.time_minutes),
        limits::fmt_value((r.trial_seconds_max * 100.0).ceil() / 100.0)
    );
    if p.tasks > 1000 {
        say!("note: Slurm's default MaxArraySize is 1001; ask for more or plan with --tasks 1000");
    }
    if !results.is_empty() {
        say!("{} of the trials already have results in {} (kept)", results.len(), out.display());
    }
    say!("wrote {}/{{study.toml, trials.jsonl, plan.json, slurm.sbatch, k8s-job.yaml}}", out.display());
    say!("run here:       optlab study run {}", out.display());
    say!("on Slurm:       sbatch {}/slurm.sbatch", engine.dir);
    say!("on Kubernetes:  copy the folder to the volume {}, then kubectl apply -f k8s-job.yaml", engine.pvc);
    say!("then:           optlab study report {}", out.display());
    Ok(())
}

/// The progress of a task: a bar on a terminal, else one line per trial.
struct Progress<'a> {
    bar: Option<ProgressBar>,
    sd: &'a StudyDir,
    total: usize,
    count: std::sync::atomic::AtomicUsize,
}

impl Progress<'_> {
    fn observe(&self, e: &Event) {
        let k = self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let what = |id: usize| self.sd.trials[id].describe();
        if let Some(b) = &self.bar {
            b.set_position(k as u64);
            match e {
                Event::Ran { id, .. } => b.set_message(format!("trial {id}: {}", what(*id))),
                Event::Failed { id, error } => b.println(format!("trial {id} failed: {}", limits::shorten(error, 200))),
                _ => {}
            }
            return;
        }
        let n = self.total;
        match e {
            Event::Ran { id, seconds, note } => {
                say!("[{k}/{n}] trial {id} ran in {seconds:.2} s: {} — {note}", what(*id))
            }
            Event::Done { .. } => {}
            Event::Claimed { id, by } => {
                let who = by
                    .as_ref()
                    .map_or("another task".into(), |c| format!("{} pid {} (task {})", c.host, c.pid, c.task));
                say!("[{k}/{n}] trial {id} skipped: claimed by {who}")
            }
            Event::Failed { id, error } => {
                warn!("[{k}/{n}] trial {id} failed: {}", limits::shorten(error, 300))
            }
            Event::Interrupted { .. } => {}
        }
    }
}

fn cmd_run(dir: &Path, index: Option<usize>, count: Option<usize>, threads: Option<usize>, lease: usize) -> Result<()> {
    let sd = StudyDir::open(dir).map_err(user)?;
    let env = |k: &str| std::env::var(k).ok();
    let share = run::share_from(index, count, sd.plan.tasks, &env).map_err(user)?;
    let threads = match threads {
        Some(t) => Some(check(limits::THREADS, t, Allow::DEFAULT)?),
        None => match env("SLURM_CPUS_PER_TASK").and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(t) if t >= 1 => Some(t.min(limits::THREADS.max as usize)),
            _ => None,
        },
    };
    if lease == 0 {
        return Err(usage("--lease 0: give at least 1 second"));
    }
    let ids = share.ids(sd.trials.len());
    let opts = RunOptions { lease: Duration::from_secs(lease as u64), task: share.label() };
    install_ctrlc();
    let bar = std::io::stdout().is_terminal().then(|| {
        let b = ProgressBar::new(ids.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("valid template"),
        );
        b
    });
    let source = if share.source == "all" {
        "every trial".to_string()
    } else {
        format!("task {} (from {})", share.label(), share.source)
    };
    say!(
        "study {}: {} of {} trials for {source} on {} threads",
        sd.plan.name,
        ids.len(),
        sd.plan.trials,
        threads.unwrap_or_else(rayon::current_num_threads)
    );
    let progress = Progress { bar, sd: &sd, total: ids.len(), count: Default::default() };
    let t0 = std::time::Instant::now();
    let summary =
        super::training::in_pool(threads, || run::run_share(&sd, &ids, &opts, &STOP, &|e| progress.observe(e)))??;
    if let Some(b) = &progress.bar {
        b.finish_and_clear();
    }
    // a cheap count (every task of a large array does this): result files, not validated
    let done = std::fs::read_dir(sd.dir.join("results"))
        .map(|r| r.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count())
        .unwrap_or(0);
    say!(
        "task {}: ran {}, already done {}, claimed by other tasks {}, failed {}{} in {:.1} s; results/ holds {} of the study's {} results",
        share.label(),
        summary.ran,
        summary.done_before,
        summary.claimed,
        summary.failed.len(),
        if summary.interrupted > 0 { format!(", left {} (interrupted)", summary.interrupted) } else { String::new() },
        t0.elapsed().as_secs_f64(),
        done,
        sd.plan.trials
    );
    for (id, why) in summary.replaced.iter().take(20) {
        say!("trial {id}: its result file was {why}; ran it again");
    }
    if stopped() {
        say!("interrupted: the finished trials are kept; run the same command again to finish");
    }
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} trial(s) failed ({}); see `optlab study status {}`",
            summary.failed.len(),
            run::ranges(&summary.failed.iter().map(|f| f.0).collect::<Vec<_>>(), 10),
            dir.display()
        );
    }
    Ok(())
}

fn cmd_status(dir: &Path, lease: usize) -> Result<()> {
    let sd = StudyDir::open(dir).map_err(user)?;
    let s = run::status(&sd, Duration::from_secs(lease.max(1) as u64));
    say!(
        "study {}: {} trials — {} done, {} running, {} failed, {} missing",
        sd.plan.name,
        sd.plan.trials,
        s.done.len(),
        s.running.len(),
        s.failed.len(),
        s.missing.len()
    );
    let who = |c: &Option<run::ClaimInfo>| {
        c.as_ref().map_or("unreadable claim".into(), |c| format!("{} pid {}, task {}", c.host, c.pid, c.task))
    };
    for (id, c) in s.running.iter().take(50) {
        say!("running: trial {id} ({})", who(c));
    }
    if !s.stale.is_empty() {
        let ids: Vec<usize> = s.stale.iter().map(|x| x.0).collect();
        say!("stale claims (their task is gone; the next run takes them over): {}", run::ranges(&ids, 20));
    }
    for f in s.failed.iter().take(50) {
        say!("failed: trial {} ({} pid {}, task {}): {}", f.id, f.host, f.pid, f.task, limits::shorten(&f.error, 300));
    }
    for (id, why) in s.invalid.iter().take(20) {
        say!("invalid result: trial {id}: {why} (it runs again)");
    }
    if !s.missing.is_empty() {
        say!("missing: {}", run::ranges(&s.missing, 30));
    }
    if s.done.len() == sd.plan.trials {
        say!("complete: `optlab study report {}` writes the report", dir.display());
    }
    Ok(())
}

fn cmd_report(dir: &Path, out: Option<&Path>) -> Result<()> {
    let sd = StudyDir::open(dir).map_err(user)?;
    let mut o = open_out(out, dir.join("report"))?;
    let w = crate::study::report::write(&sd, &mut o)?;
    let files = o.finish()?;
    say_raw!("{}", w.best_table.render());
    if !w.analysis.missing.is_empty() {
        say!(
            "incomplete: {} of {} trials have no result yet ({}); the report uses the {} that do",
            w.analysis.missing.len(),
            sd.plan.trials,
            run::ranges(&w.analysis.missing, 10),
            w.analysis.results
        );
    }
    say!("wrote {} files; open {} in a browser", files.len(), w.html.display());
    Ok(())
}
