//! Expanding a study into numbered trials, and the plan folder's files.
//!
//! Trials are numbered problem by problem, then optimizer, hyperparameter point and
//! replicate (seed or start), in the study file's order; each is written out in full
//! (`trials.jsonl`: its problem, its optimizer's canonical spec, seed and start) with a
//! SHA-256 of its definition, so that any machine runs exactly trial *i* from the line,
//! and a result can be checked against the trial it claims to be.

use super::{
    round_int, within, Dim, OptimizerSearch, Problem, ProblemKind, Replicates, Search, Study, StudyError, TRIALS,
};
use crate::limits::{self, Allow};
use crate::optim::{Kind, OptimizerConfig, Value};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The plan's format, checked when a folder is read.
pub const PLAN_FORMAT: &str = "optlab-study-plan/1";

/// One trial: everything needed to run it, on any machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub id: usize,
    /// Index into the plan's problems, and its name.
    pub problem: usize,
    pub problem_name: String,
    /// Index into the plan's optimizers, and its label.
    pub optimizer: usize,
    pub optimizer_label: String,
    /// Index of the hyperparameter point within the optimizer's search.
    pub point: usize,
    /// The searched hyperparameters of this point, as spec text (`lr` → `0.001`).
    pub hyper: BTreeMap<String, String>,
    /// The learning rate (group 0, before any schedule).
    pub lr: f64,
    /// The canonical spec that builds the optimizer (every hyperparameter and modifier).
    pub spec: String,
    /// Index of the replicate (seed or start).
    pub replicate: usize,
    /// The seed of the initial weights and batch order (training), or of a random start.
    pub seed: Option<u64>,
    /// Where a 2-D run starts.
    pub start: Option<[f64; 2]>,
    /// SHA-256 of the trial's definition with its problem's (hex).
    #[serde(default)]
    pub hash: String,
}

impl Trial {
    /// The SHA-256 (hex) of this trial's fields other than `hash`, together with its
    /// problem's definition.
    pub fn compute_hash(&self, problem: &Problem) -> String {
        let mut t = self.clone();
        t.hash = String::new();
        let text = serde_json::to_string(&(&t, problem)).expect("a trial serialises");
        hex(&Sha256::digest(text.as_bytes()))
    }

    /// `rosenbrock · adam(lr=0.001) · seed 0`.
    pub fn describe(&self) -> String {
        let hyper: Vec<String> = self.hyper.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let what = if hyper.is_empty() {
            self.optimizer_label.clone()
        } else {
            format!("{} [{}]", self.optimizer_label, hyper.join(", "))
        };
        let rep = match (self.seed, self.start) {
            (Some(s), _) => format!("seed {s}"),
            (None, Some([x, y])) => format!("start ({}, {})", limits::fmt_value(x), limits::fmt_value(y)),
            _ => format!("replicate {}", self.replicate),
        };
        format!("{} · {what} · {rep}", self.problem_name)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the plan says about one optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOptimizer {
    pub label: String,
    pub spec: String,
    pub search: Search,
    /// Points of its search.
    pub points: usize,
    /// The searched keys with their axes in words.
    pub space: Vec<(String, String)>,
}

/// Resources of one task of a cluster job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus_per_task: usize,
    pub mem_mb: u64,
    /// Wall-time limit of one task.
    pub time_minutes: u64,
    /// A rough estimate of one trial on one core, and of the whole study on one core.
    pub trial_seconds_max: f64,
    pub study_core_seconds: f64,
}

/// `plan.json`: the study as validated, the task layout and the digest of `trials.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub name: String,
    pub description: String,
    pub trials: usize,
    /// Tasks of the job array / Indexed Job; task I runs the trials with id % tasks == I.
    pub tasks: usize,
    /// Tasks running at once (Slurm's %M, Kubernetes' parallelism).
    pub parallel: usize,
    pub seeds: Vec<u64>,
    pub problems: Vec<Problem>,
    pub optimizers: Vec<PlanOptimizer>,
    pub resources: Resources,
    /// SHA-256 of `trials.jsonl`, checked before a run.
    pub trials_sha256: String,
    pub optlab_version: String,
}

impl Plan {
    /// The trial ids of task `index` of `count`.
    pub fn share(trials: usize, index: usize, count: usize) -> impl Iterator<Item = usize> {
        (index..trials).step_by(count.max(1))
    }
}

/// Radical inverse of `i` in base `b` (the Halton sequence's coordinate), exact in f64
/// for the indices used here.
pub fn halton(mut i: u64, b: u64) -> f64 {
    let (mut f, mut r) = (1.0f64, 0.0f64);
    while i > 0 {
        f /= b as f64;
        r += f * (i % b) as f64;
        i /= b;
    }
    r
}

const PRIMES: [u64; 24] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89];

/// `v` rounded to `digits` significant digits (grids read 0.001, 0.00316, 0.01 ...).
pub fn round_sig(v: f64, digits: usize) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{v:.*e}", digits.saturating_sub(1)).parse().unwrap_or(v)
}

fn grid_values(d: &Dim) -> Vec<Value> {
    match d {
        Dim::Values(v) => v.clone(),
        Dim::Log { a, b, count } => {
            crate::experiment::logspace(*a, *b, *count).into_iter().map(|v| Value::Num(round_sig(v, 3))).collect()
        }
        Dim::Linear { a, b, count } => {
            crate::experiment::linspace(*a, *b, *count).into_iter().map(|v| Value::Num(round_sig(v, 3))).collect()
        }
    }
}

fn at_fraction(d: &Dim, u: f64) -> Value {
    match d {
        Dim::Values(v) => v[((u * v.len() as f64) as usize).min(v.len() - 1)].clone(),
        Dim::Log { a, b, .. } => Value::Num(round_sig((a.ln() + u * (b.ln() - a.ln())).exp().clamp(*a, *b), 4)),
        Dim::Linear { a, b, .. } => Value::Num(round_sig((a + u * (b - a)).clamp(*a, *b), 4)),
    }
}

/// The hyperparameter points of an optimizer's search: every combination of a grid (the
/// first key outermost), or `points` points of the Halton sequence (indices 1, 2, ...;
/// one prime base per key).
pub fn points(o: &OptimizerSearch) -> Result<Vec<Vec<(String, Value)>>, StudyError> {
    if o.space.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    match o.search {
        Search::Grid => {
            let axes: Vec<Vec<Value>> = o.space.iter().map(|(_, d)| grid_values(d)).collect();
            let mut out: Vec<Vec<(String, Value)>> = vec![Vec::new()];
            for ((key, _), vals) in o.space.iter().zip(&axes) {
                let mut next = Vec::with_capacity(out.len() * vals.len());
                for p in &out {
                    for v in vals {
                        let mut q = p.clone();
                        q.push((key.clone(), v.clone()));
                        next.push(q);
                    }
                }
                out = next;
            }
            Ok(out)
        }
        Search::QuasiRandom => {
            if o.space.len() > PRIMES.len() {
                return Err(StudyError(format!(
                    "optimizer '{}': quasi-random search over {} keys; at most {} are supported",
                    o.label,
                    o.space.len(),
                    PRIMES.len()
                )));
            }
            Ok((1..=o.points as u64)
                .map(|i| {
                    o.space
                        .iter()
                        .enumerate()
                        .map(|(d, (key, dim))| (key.clone(), at_fraction(dim, halton(i, PRIMES[d]))))
                        .collect()
                })
                .collect())
        }
    }
}

/// The configuration of one point: the base with each searched key set (integer keys
/// rounded), validated by the method's schema and rules.
pub fn configure(o: &OptimizerSearch, point: &[(String, Value)]) -> Result<OptimizerConfig, StudyError> {
    let mut cfg = o.base.clone();
    for (key, v) in point {
        let int = o.base.method.params.iter().any(|p| p.key == key && p.kind == Kind::Int);
        let v = if int { round_int(v.clone()) } else { v.clone() };
        cfg = cfg.with(key, v.clone()).map_err(|e| {
            StudyError(format!("optimizer '{}': {key} = {v} is refused by {}: {e}", o.label, o.base.name()))
        })?;
    }
    Ok(cfg)
}

/// A random start for `seed`, uniform in `b` (ChaCha8: the same on every machine).
pub fn random_start(seed: u64, b: [f64; 4]) -> [f64; 2] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5354_4152_5453_0001);
    let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let (ux, uy) = (u(), u());
    [b[0] + ux * (b[1] - b[0]), b[2] + uy * (b[3] - b[2])]
}

/// How many replicates a problem has.
pub fn replicate_count(r: &Replicates, seeds: &[u64]) -> usize {
    match r {
        Replicates::Starts(s) => s.len(),
        Replicates::RandomStarts(_) | Replicates::Seeds => seeds.len(),
    }
}

/// Expands a study into its trials (checked against the trial limit before they are made).
pub fn expand(study: &Study, allow: Allow) -> Result<Vec<Trial>, StudyError> {
    let mut per_optimizer = Vec::new();
    for o in &study.optimizers {
        per_optimizer.push(points(o)?);
    }
    let n_points: u64 = per_optimizer.iter().map(|p| p.len() as u64).sum();
    let mut total: Option<u64> = Some(0);
    for r in &study.replicates {
        let n = limits::product(&[n_points, replicate_count(r, &study.seeds) as u64]);
        total = total.zip(n).and_then(|(a, b)| a.checked_add(b));
    }
    within(TRIALS, total, "the study's trials (problems × points × seeds)", allow)?;
    let mut configs: Vec<Vec<(OptimizerConfig, String)>> = Vec::new();
    for (o, pts) in study.optimizers.iter().zip(&per_optimizer) {
        let mut list = Vec::with_capacity(pts.len());
        for p in pts {
            let cfg = configure(o, p)?;
            let spec = cfg.canonical();
            match OptimizerConfig::parse(&spec) {
                Ok(back) if back == cfg => {}
                _ => return Err(StudyError(format!("internal: the spec {spec} does not read back to itself"))),
            }
            list.push((cfg, spec));
        }
        configs.push(list);
    }
    let mut trials = Vec::with_capacity(total.unwrap_or(0) as usize);
    for (pi, (problem, reps)) in study.problems.iter().zip(&study.replicates).enumerate() {
        let n_reps = replicate_count(reps, &study.seeds);
        for (oi, o) in study.optimizers.iter().enumerate() {
            for (k, (point, (cfg, spec))) in per_optimizer[oi].iter().zip(&configs[oi]).enumerate() {
                for r in 0..n_reps {
                    let (seed, start) = match reps {
                        Replicates::Starts(s) => (None, Some(s[r])),
                        Replicates::RandomStarts(b) => (Some(study.seeds[r]), Some(random_start(study.seeds[r], *b))),
                        Replicates::Seeds => (Some(study.seeds[r]), None),
                    };
                    let mut t = Trial {
                        id: trials.len(),
                        problem: pi,
                        problem_name: problem.name.clone(),
                        optimizer: oi,
                        optimizer_label: o.label.clone(),
                        point: k,
                        hyper: point.iter().map(|(key, _)| (key.clone(), cfg.hyper.value(key).to_string())).collect(),
                        lr: cfg.lr(),
                        spec: spec.clone(),
                        replicate: r,
                        seed,
                        start,
                        hash: String::new(),
                    };
                    t.hash = t.compute_hash(problem);
                    trials.push(t);
                }
            }
        }
    }
    Ok(trials)
}

/// `trials.jsonl`: one trial per line.
pub fn trials_jsonl(trials: &[Trial]) -> String {
    let mut s = String::with_capacity(trials.len() * 400);
    for t in trials {
        s.push_str(&serde_json::to_string(t).expect("a trial serialises"));
        s.push('\n');
    }
    s
}

/// How the plan lays out the work on a cluster (from `study plan`'s flags).
#[derive(Clone, Debug)]
pub struct Layout {
    /// Tasks (None: one per trial, at most 1,000, Slurm's default MaxArraySize).
    pub tasks: Option<usize>,
    /// Tasks at once (None: all of them, at most 100).
    pub parallel: Option<usize>,
    pub cpus_per_task: usize,
    /// Memory per task in MB (None: estimated).
    pub mem_mb: Option<u64>,
    /// Time limit per task in minutes (None: estimated).
    pub time_minutes: Option<u64>,
}

/// Seconds of one trial on one core, roughly (an upper estimate for time limits), and the
/// memory it holds in MB.
pub fn trial_cost(problem: &Problem) -> (f64, f64) {
    match &problem.kind {
        ProblemKind::Function { function, steps, .. } => {
            let builtin = crate::objective::builtin(function).is_some();
            let per_step = if builtin { 1e-6 } else { 5e-6 };
            // an expression's minima are searched once per process (a 40×40 grid of descents)
            (*steps as f64 * per_step + if builtin { 0.01 } else { 2.0 }, 1.0 + *steps as f64 * 1e-4)
        }
        ProblemKind::Train { model, dataset, data, epochs, batch_size, limit, test_limit, .. } => {
            let Ok(m) = crate::nn::build(model, crate::nn::Shape::MNIST, crate::limits::Allow::DEFAULT) else {
                return (60.0, 500.0);
            };
            let (train_n, test_n) = match (data, dataset.as_str()) {
                (super::DataSource::Subset, _) => (10_000usize, 2_000usize),
                _ => (60_000, 10_000),
            };
            let n = limit.map_or(train_n, |l| l.min(train_n)) as f64;
            let nt = test_limit.map_or(test_n, |l| l.min(test_n)) as f64;
            // 2 FLOP per multiply-add at a conservative 5 GFLOP/s, plus 2 µs per image
            let flops = 2.0 * (m.train_macs as f64 * n + m.forward_macs as f64 * nt);
            let secs = *epochs as f64 * (flops / 5e9 + 2e-6 * (n + nt)) + 0.5;
            let data_mb = (train_n + test_n) as f64 * 785.0 / 1e6;
            // the training and evaluation workspaces (with their parameters and gradient),
            // counted without allocating them, and the optimizer state (≤ 6 buffers)
            let eval_chunk = (nt as usize).clamp(1, 500);
            let ws =
                m.bytes_for(*batch_size).unwrap_or(u64::MAX / 4) as f64 + m.bytes_for(eval_chunk).unwrap_or(0) as f64;
            let mb = data_mb + (m.n_params as f64 * 4.0 * 6.0 + ws) / 1e6 + n * 8.0 / 1e6;
            (secs, mb)
        }
        ProblemKind::LanguageModel { model, dataset, text, steps, batch_size, eval_every, eval_batches } => {
            // the vocabulary of the text where this machine can read it (the study is planned
            // where it runs, usually), else a generous guess
            let _ = dataset;
            let vocab = match text {
                None => 65,
                Some(t) => {
                    crate::data::text::TextData::from_file(std::path::Path::new(t)).map_or(512, |d| d.vocab.len())
                }
            };
            let Ok(m) = crate::nn::GptConfig::parse(model, vocab)
                .and_then(|c| crate::nn::Gpt::new(c, crate::limits::Allow::DEFAULT))
            else {
                return (600.0, 500.0);
            };
            // a conservative 5 GFLOP/s, the training steps and the evaluations' forward passes
            let evals = if *eval_every > 0 { steps / eval_every + 1 } else { 1 };
            let step = m.step_flops(*batch_size) as f64;
            let secs = (*steps as f64 * step + (evals * 2 * eval_batches) as f64 * step / 3.0) / 5e9 + 1.0;
            let work = m.work_bytes(*batch_size).unwrap_or(u64::MAX / 2) as f64;
            let mb = (m.n_params as f64 * 4.0 * 8.0 + work) / 1e6 + if text.is_some() { 100.0 } else { 10.0 };
            (secs, mb)
        }
    }
}

/// Resources of one task: its cores, memory (300 MB + each core's share of the largest
/// trial, rounded up to 100 MB) and time limit (4 × the estimated work of its trials on its
/// cores, at least 10 minutes, rounded up to 5 minutes).
pub fn resources(study: &Study, trials: &[Trial], tasks: usize, layout: &Layout) -> Resources {
    let costs: Vec<(f64, f64)> = study.problems.iter().map(trial_cost).collect();
    let total: f64 = trials.iter().map(|t| costs[t.problem].0).sum();
    let trial_max = costs.iter().map(|c| c.0).fold(0.0, f64::max);
    let mem_max = costs.iter().map(|c| c.1).fold(0.0, f64::max);
    let cpus = layout.cpus_per_task.max(1);
    // the busiest task's share
    let busiest: f64 = (0..tasks.min(trials.len()))
        .map(|i| Plan::share(trials.len(), i, tasks).map(|id| costs[trials[id].problem].0).sum::<f64>())
        .fold(0.0, f64::max);
    let per_task = (busiest / cpus as f64).max(trial_max);
    let minutes = ((4.0 * per_task / 60.0).ceil() as u64).max(10).div_ceil(5) * 5;
    let mem = ((300.0 + cpus as f64 * mem_max) / 100.0).ceil() as u64 * 100;
    Resources {
        cpus_per_task: cpus,
        mem_mb: layout.mem_mb.unwrap_or(mem),
        time_minutes: layout.time_minutes.unwrap_or(minutes),
        trial_seconds_max: trial_max,
        study_core_seconds: total,
    }
}

/// The plan of a study expanded into `trials`.
pub fn make_plan(study: &Study, trials: &[Trial], layout: &Layout, jsonl: &str) -> Result<Plan, StudyError> {
    let n = trials.len();
    let tasks = layout.tasks.unwrap_or(n.min(1000));
    if tasks == 0 || tasks > n {
        return Err(StudyError(format!("--tasks {tasks}: give 1 to {n} (the number of trials)")));
    }
    let parallel = layout.parallel.unwrap_or(tasks.min(100));
    if parallel == 0 || parallel > tasks {
        return Err(StudyError(format!("--parallel {parallel}: give 1 to {tasks} (the number of tasks)")));
    }
    let optimizers = study
        .optimizers
        .iter()
        .map(|o| PlanOptimizer {
            label: o.label.clone(),
            spec: o.spec.clone(),
            search: o.search,
            points: trials.iter().filter(|t| t.optimizer_label == o.label).map(|t| t.point + 1).max().unwrap_or(1),
            space: o.space.iter().map(|(k, d)| (k.clone(), describe_dim(d))).collect(),
        })
        .collect();
    Ok(Plan {
        format: PLAN_FORMAT.into(),
        name: study.name.clone(),
        description: study.description.clone(),
        trials: n,
        tasks,
        parallel,
        seeds: study.seeds.clone(),
        problems: study.problems.clone(),
        optimizers,
        resources: resources(study, trials, tasks, layout),
        trials_sha256: hex(&Sha256::digest(jsonl.as_bytes())),
        optlab_version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// An axis in words: `log 1e-4..1, 8 values`.
pub fn describe_dim(d: &Dim) -> String {
    match d {
        Dim::Log { a, b, count } => {
            format!("log {}..{}, {count} values", limits::fmt_value(*a), limits::fmt_value(*b))
        }
        Dim::Linear { a, b, count } => {
            format!("linear {}..{}, {count} values", limits::fmt_value(*a), limits::fmt_value(*b))
        }
        Dim::Values(v) => {
            let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study(text: &str) -> Study {
        super::super::parse(text, "s.toml", Allow::DEFAULT).unwrap()
    }

    const TEXT: &str = r#"
seeds = [3, 4]
optimizers = ["adam", "sgd(momentum=0.9)"]
[budget]
steps = 20
[space]
lr = { log = [1e-4, 1.0], count = 5 }
[[problem]]
function = "quadratic"
starts = "random"
[[problem]]
function = "rosenbrock"
starts = [[-1, 1], [0, 0], [1, -1]]
"#;

    fn train_cost(batch: usize) -> (f64, f64) {
        let s = study(&format!(
            "optimizers = [\"adam\"]\n[budget]\nepochs = 2\n[[problem]]\ntrain = \"mlp\"\nbatch_size = {batch}\nlimit = 1000\n"
        ));
        trial_cost(&s.problems[0])
    }

    #[test]
    fn the_memory_of_a_training_trial_counts_its_workspaces_in_bytes() {
        let (small_s, small) = train_cost(32);
        let (_, big) = train_cost(1000);
        // the MLP's activations and gradients: about 1000 × (784 + 4·64 + 4·10) floats more
        // for a batch of 1000 than for one of 32
        let grown = big - small;
        assert!((3.0..6.0).contains(&grown), "{small} MB → {big} MB");
        // data (70,000 × 785 bytes at most) and a small model: tens of MB, not more
        assert!((5.0..100.0).contains(&small), "{small} MB");
        assert!(small_s > 0.5 && small_s < 60.0, "{small_s} s");
    }

    #[test]
    fn trials_are_numbered_problem_optimizer_point_replicate() {
        let s = study(TEXT);
        let t = expand(&s, Allow::DEFAULT).unwrap();
        assert_eq!(t.len(), 2 * 5 * 2 + 2 * 5 * 3);
        assert_eq!((t[0].problem, t[0].optimizer, t[0].point, t[0].seed), (0, 0, 0, Some(3)));
        assert_eq!((t[1].point, t[1].seed), (0, Some(4)));
        assert_eq!(t[2].point, 1);
        assert_eq!(t[20].start, Some([-1.0, 1.0]));
        assert_eq!(t[20].seed, None);
        let lrs: Vec<f64> =
            t.iter().filter(|t| t.problem == 0 && t.optimizer == 0 && t.replicate == 0).map(|t| t.lr).collect();
        assert_eq!(lrs, vec![1e-4, 1e-3, 1e-2, 0.1, 1.0]);
        assert!(t.iter().all(|x| x.hash == x.compute_hash(&s.problems[x.problem])));
        assert!(t[0].spec.starts_with("adam(lr=1e-4, "), "{}", t[0].spec);
    }

    #[test]
    fn the_same_study_expands_to_the_same_trials() {
        let a = trials_jsonl(&expand(&study(TEXT), Allow::DEFAULT).unwrap());
        let b = trials_jsonl(&expand(&study(TEXT), Allow::DEFAULT).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn quasi_random_points_follow_the_halton_sequence() {
        assert_eq!(halton(1, 2), 0.5);
        assert_eq!(halton(3, 2), 0.75);
        assert_eq!(halton(1, 3), 1.0 / 3.0);
        let s = study(&TEXT.replace("[budget]", "search = \"quasi-random\"\npoints = 7\n[budget]"));
        let t = expand(&s, Allow::DEFAULT).unwrap();
        let lrs: Vec<f64> =
            t.iter().filter(|t| t.problem == 0 && t.optimizer == 0 && t.replicate == 0).map(|t| t.lr).collect();
        assert_eq!(lrs.len(), 7);
        assert_eq!(lrs[0], 0.01); // the middle of the log range
        assert!(lrs.iter().all(|&l| (1e-4..=1.0).contains(&l)));
    }

    #[test]
    fn random_starts_lie_in_the_box_and_depend_only_on_the_seed() {
        let b = [-2.0, 2.0, 0.0, 1.0];
        let p = random_start(7, b);
        assert_eq!(p, random_start(7, b));
        assert_ne!(p, random_start(8, b));
        assert!((-2.0..2.0).contains(&p[0]) && (0.0..1.0).contains(&p[1]));
    }

    #[test]
    fn a_study_over_the_trial_limit_is_refused_before_expansion() {
        let text = TEXT.replace("seeds = [3, 4]", "seeds = 10000").replace("count = 5", "count = 1000");
        let s = super::super::parse(&text, "s.toml", Allow::DEFAULT);
        let e = match s {
            Ok(s) => expand(&s, Allow::DEFAULT).unwrap_err().0,
            Err(e) => e.0,
        };
        assert!(e.contains("the limit is"), "{e}");
    }
}
