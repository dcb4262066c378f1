//! Studies: fair optimizer benchmarks, planned as numbered trials and run anywhere.
//!
//! A study file (TOML, see `examples/study.toml`) names problems (2-D functions with
//! starts, or training runs), optimizers with their search spaces (a grid, or a
//! quasi-random Halton sequence as AlgoPerf uses), seeds, a budget and targets.
//!
//! - [`plan`] expands it into numbered trials: trial *i* is always the same problem,
//!   optimizer, hyperparameters and seed, whatever machine computes it.
//! - [`run`] runs a share of them (one task of a Slurm array or a Kubernetes Indexed Job,
//!   or everything on this machine), each trial claimed by an exclusive create and its
//!   result written atomically, so reruns resume and two tasks never both run a trial.
//! - [`report`] merges whatever results exist into tables, figures and a report.
//! - [`engines`] writes the Slurm batch script and the Kubernetes Job.
//!
//! This module holds the study file's model and its validation: every mistake is one
//! line saying what to fix ([`StudyError`]).

pub mod engines;
pub mod plan;
pub mod report;
pub mod run;
pub mod store;

use crate::limits::{self, Allow, Limit};
use crate::optim::{Kind, OptimizerConfig, Spec, Value};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A mistake in a study file or a study folder: one line, meant for the user (the command
/// line shows it and exits with code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyError(pub String);

impl fmt::Display for StudyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StudyError {}

fn err<T>(msg: impl Into<String>) -> Result<T, StudyError> {
    Err(StudyError(msg.into()))
}

/// Bytes of a study file.
pub const STUDY_FILE: Limit =
    Limit { what: "bytes", flag: "the study file", min: 1, max: 1 << 20, large_max: 16 << 20 };
/// Trials of one study.
pub const TRIALS: Limit = Limit { what: "trials", flag: "the study", min: 1, max: 100_000, large_max: 10_000_000 };
/// Hyperparameter points of one optimizer (a grid's product, or a quasi-random budget).
pub const POINTS: Limit = Limit {
    what: "hyperparameter points per optimizer",
    flag: "the search space",
    min: 1,
    max: 10_000,
    large_max: 1_000_000,
};
/// Starts of one 2-D problem.
pub const STARTS: Limit = Limit { what: "starts", flag: "starts", min: 1, max: 10_000, large_max: 10_000 };

// ---------------------------------------------------------------- the file as written

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    description: Option<String>,
    seeds: Option<Seeds>,
    search: Option<String>,
    points: Option<u64>,
    budget: Option<BudgetFile>,
    space: Option<toml::Table>,
    #[serde(default)]
    optimizers: Vec<String>,
    #[serde(default)]
    optimizer: Vec<OptimizerFile>,
    #[serde(default)]
    problem: Vec<ProblemFile>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Seeds {
    Count(i64),
    List(Vec<i64>),
}

#[derive(Deserialize, Debug, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    steps: Option<i64>,
    epochs: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct OptimizerFile {
    spec: String,
    label: Option<String>,
    search: Option<String>,
    points: Option<u64>,
    space: Option<toml::Table>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ProblemFile {
    name: Option<String>,
    // a 2-D function
    function: Option<String>,
    starts: Option<toml::Value>,
    #[serde(rename = "box")]
    start_box: Option<Vec<f64>>,
    domain: Option<Vec<f64>>,
    steps: Option<i64>,
    shape: Option<String>,
    // a training run
    train: Option<String>,
    dataset: Option<String>,
    data: Option<String>,
    data_dir: Option<String>,
    epochs: Option<i64>,
    batch_size: Option<i64>,
    limit: Option<i64>,
    test_limit: Option<i64>,
    // a language model (with train = "gpt(...)", dataset, steps and batch_size)
    text: Option<String>,
    eval_every: Option<i64>,
    eval_batches: Option<i64>,
    // both
    target: Option<toml::Value>,
    select: Option<String>,
}

// ---------------------------------------------------------------- the validated study

/// Where a training problem's data comes from. Every machine must see the same images for
/// its trials to be the same, so there is no "whatever is found" choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// The MNIST subset compiled into optlab (10,000 train / 2,000 test images): the same
    /// everywhere, nothing to copy.
    Subset,
    /// The full dataset, which every machine must have (`optlab data fetch`).
    Full,
}

/// What a problem is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    /// A 2-D function: a built-in name or an expression in x and y.
    Function {
        function: String,
        domain: Option<[f64; 4]>,
        steps: usize,
        /// The parameter's tensor shape: 2, 1x2 or 2x1 (as `--shape`).
        shape: String,
    },
    /// Training a model on a dataset.
    Train {
        model: String,
        dataset: String,
        data: DataSource,
        data_dir: Option<String>,
        epochs: usize,
        batch_size: usize,
        /// Only the first N training images.
        limit: Option<usize>,
        /// Only the first N test images.
        test_limit: Option<usize>,
    },
    /// Training a character-level language model (`train = "gpt(...)"`) for a number of
    /// steps, evaluated on the validation split.
    LanguageModel {
        /// The canonical model spec.
        model: String,
        /// The data's name: `shakespeare-char` (embedded), or the text file's.
        dataset: String,
        /// A UTF-8 text file every machine has (instead of the embedded dataset).
        text: Option<String>,
        steps: usize,
        batch_size: usize,
        eval_every: usize,
        eval_batches: usize,
    },
}

/// A target for time-to-target: reached once the loss is at most `loss` (2-D: the function
/// value; training: the test loss) or the test accuracy at least `accuracy`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Loss(f64),
    Accuracy(f64),
}

impl Target {
    /// `loss ≤ 0.001` / `test accuracy ≥ 0.9`.
    pub fn describe(&self) -> String {
        match self {
            Target::Loss(v) => format!("loss ≤ {}", limits::fmt_value(*v)),
            Target::Accuracy(v) => format!("test accuracy ≥ {}", limits::fmt_value(*v)),
        }
    }
}

/// The number that ranks hyperparameters (the mean over seeds of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Loss at the end (2-D: the function value; training: the last epoch's mean
    /// training loss).
    FinalLoss,
    /// Lowest loss along the run (2-D only).
    LowestLoss,
    /// Test loss after the last epoch.
    TestLoss,
    /// Validation loss at the last evaluation (language models).
    ValLoss,
    /// Test accuracy after the last epoch.
    TestAccuracy,
    /// Steps (2-D, language models) or epochs (training) to reach the target.
    StepsToTarget,
}

impl Metric {
    pub const ALL: [(&'static str, Metric); 6] = [
        ("final_loss", Metric::FinalLoss),
        ("lowest_loss", Metric::LowestLoss),
        ("test_loss", Metric::TestLoss),
        ("val_loss", Metric::ValLoss),
        ("test_accuracy", Metric::TestAccuracy),
        ("steps_to_target", Metric::StepsToTarget),
    ];

    pub fn name(self) -> &'static str {
        Metric::ALL.iter().find(|(_, m)| *m == self).map_or("?", |(n, _)| n)
    }

    /// Whether larger values are better.
    pub fn higher_is_better(self) -> bool {
        self == Metric::TestAccuracy
    }
}

/// One problem of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Unique within the study; names its rows and figures.
    pub name: String,
    #[serde(flatten)]
    pub kind: ProblemKind,
    pub target: Option<Target>,
    /// What ranks the hyperparameters.
    pub select: Metric,
}

impl Problem {
    pub fn is_train(&self) -> bool {
        matches!(self.kind, ProblemKind::Train { .. })
    }

    pub fn is_language_model(&self) -> bool {
        matches!(self.kind, ProblemKind::LanguageModel { .. })
    }

    /// Whether the replicates are seeds (training of either kind) rather than starts.
    pub fn replicates_by_seed(&self) -> bool {
        !matches!(self.kind, ProblemKind::Function { .. })
    }

    /// The budget in words: `500 steps` / `3 epochs`.
    pub fn budget(&self) -> String {
        match &self.kind {
            ProblemKind::Function { steps, .. } => format!("{steps} steps"),
            ProblemKind::Train { epochs, .. } => format!("{epochs} epochs"),
            ProblemKind::LanguageModel { steps, .. } => format!("{steps} steps"),
        }
    }
}

/// How a problem's runs are repeated: 2-D runs are deterministic, so they are repeated
/// over starts; training runs over seeds.
#[derive(Clone, Debug, PartialEq)]
pub enum Replicates {
    /// Explicit starts (2-D): replicate r starts at `starts[r]`.
    Starts(Vec<[f64; 2]>),
    /// One random start per seed (2-D), uniform in the box `[x0, x1, y0, y1]`.
    RandomStarts([f64; 4]),
    /// One run per seed (training).
    Seeds,
}

/// How an optimizer's hyperparameters are searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Search {
    /// Every combination of the listed values.
    Grid,
    /// `points` points of a Halton sequence over the space (AlgoPerf's quasi-random search).
    QuasiRandom,
}

/// One axis of a search space.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// `count` log-spaced values from `a` to `b` (quasi-random: any value in between, on a
    /// log scale).
    Log { a: f64, b: f64, count: usize },
    /// `count` evenly spaced values from `a` to `b`.
    Linear { a: f64, b: f64, count: usize },
    /// These values.
    Values(Vec<Value>),
}

/// An optimizer of the study and its search.
#[derive(Clone, Debug)]
pub struct OptimizerSearch {
    /// The spec as written.
    pub spec: String,
    /// Its label in tables and figures (unique within the study).
    pub label: String,
    pub base: OptimizerConfig,
    pub search: Search,
    /// Quasi-random points.
    pub points: usize,
    /// The axes, `lr` first, then by name.
    pub space: Vec<(String, Dim)>,
}

/// A validated study.
#[derive(Clone, Debug)]
pub struct Study {
    pub name: String,
    pub description: String,
    pub seeds: Vec<u64>,
    pub problems: Vec<Problem>,
    pub replicates: Vec<Replicates>,
    pub optimizers: Vec<OptimizerSearch>,
}

// ---------------------------------------------------------------- parsing

/// Reads and validates a study file (checked against its size limit before reading).
pub fn load(path: &Path, allow: Allow) -> Result<Study, StudyError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| StudyError(format!("cannot read {shown}: {}", plain(&e))))?;
    if meta.is_dir() {
        return err(format!("{shown} is a folder; give the study file (TOML)"));
    }
    within(STUDY_FILE, Some(meta.len()), &format!("{shown}: size"), allow)?;
    let bytes = std::fs::read(path).map_err(|e| StudyError(format!("cannot read {shown}: {}", plain(&e))))?;
    let text = String::from_utf8(bytes).map_err(|_| StudyError(format!("{shown} is not UTF-8 text")))?;
    parse(&text, &shown.to_string(), allow)
}

/// An io error without its "(os error N)" tail.
pub(crate) fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Line and column (1-based) of byte `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Parses and validates study text; `file` names it in messages.
pub fn parse(text: &str, file: &str, allow: Allow) -> Result<Study, StudyError> {
    let raw: File = toml::from_str(text).map_err(|e| {
        let msg = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        let mut msg = limits::shorten(&msg, 240);
        // a top-level key written after a [table] belongs to that table
        let top = ["name", "description", "seeds", "search", "points", "optimizers"];
        if top.iter().any(|k| msg.starts_with(&format!("unknown field `{k}`"))) {
            msg.push_str(" (top-level keys go before the first [table])");
        }
        match e.span() {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                StudyError(format!("{file} line {l}, column {c}: {msg}"))
            }
            None => StudyError(format!("{file}: {msg}")),
        }
    })?;
    validate(raw, file, allow)
}

/// Checks `value` (None: an overflowed product) against `limit`, as `what = value: ...`.
fn within(limit: Limit, value: Option<u64>, what: &str, allow: Allow) -> Result<u64, StudyError> {
    let max = limit.max_for(allow);
    match value {
        Some(v) if v < limit.min => {
            err(format!("{what} = {}: need at least {} {}", limits::group(v), limits::group(limit.min), limit.what))
        }
        Some(v) if v <= max => Ok(v),
        _ => {
            let shown = value.map_or_else(|| "more than 2^64".to_string(), limits::group);
            let how = if !allow.large && limit.large_max > limit.max {
                format!("; add --allow-large to go up to {}", limits::group(limit.large_max))
            } else {
                String::new()
            };
            err(format!("{what} = {shown}: the limit is {} {}{how}", limits::group(max), limit.what))
        }
    }
}

/// A whole number from the file, checked against `limit`.
fn whole(v: i64, what: &str, limit: Limit, allow: Allow) -> Result<usize, StudyError> {
    if v < 0 {
        return err(format!("{what} = {v} is negative; give a whole number of at least {}", limit.min));
    }
    within(limit, Some(v as u64), what, allow).map(|v| v as usize)
}

fn validate(raw: File, file: &str, allow: Allow) -> Result<Study, StudyError> {
    let name = raw
        .name
        .clone()
        .unwrap_or_else(|| Path::new(file).file_stem().map_or("study".into(), |s| s.to_string_lossy().into_owned()));
    if name.trim().is_empty() || name.chars().count() > 80 {
        return err(format!("{file}: name must be 1 to 80 characters"));
    }
    let seeds: Vec<u64> = match raw.seeds {
        None => vec![0],
        Some(Seeds::Count(n)) => {
            let n = whole(n, &format!("{file}: seeds"), limits::SEEDS, allow)?;
            (0..n as u64).collect()
        }
        Some(Seeds::List(list)) => {
            if list.is_empty() {
                return err(format!("{file}: seeds = [] is empty; give a count (seeds = 5) or at least one seed"));
            }
            within(limits::SEEDS, Some(list.len() as u64), &format!("{file}: seeds"), allow)?;
            let mut out = Vec::new();
            for s in list {
                if s < 0 {
                    return err(format!("{file}: seed {s} is negative; seeds are whole numbers from 0"));
                }
                if out.contains(&(s as u64)) {
                    return err(format!("{file}: seed {s} is listed twice"));
                }
                out.push(s as u64);
            }
            out
        }
    };
    let budget = raw.budget.unwrap_or_default();
    let default_search = parse_search(raw.search.as_deref(), file)?;
    let default_points = raw.points;
    let default_space = raw.space.unwrap_or_default();

    // optimizers
    let mut entries: Vec<OptimizerFile> = raw
        .optimizers
        .into_iter()
        .map(|spec| OptimizerFile { spec, label: None, search: None, points: None, space: None })
        .collect();
    entries.extend(raw.optimizer);
    if entries.is_empty() && default_space.contains_key("optimizers") {
        return err(format!(
            "{file}: optimizers = [...] stands after [space], so it belongs to that table; move it before the first [table]"
        ));
    }
    if entries.is_empty() {
        return err(format!(
            "{file}: no optimizers; add optimizers = [\"adam\", \"sgd(lr=0.01)\"] or [[optimizer]] tables with spec = \"...\""
        ));
    }
    within(limits::OPTIMIZERS, Some(entries.len() as u64), &format!("{file}: optimizers"), allow)?;
    let mut optimizers: Vec<OptimizerSearch> = Vec::new();
    for (i, o) in entries.into_iter().enumerate() {
        let what = format!("{file}: optimizer {} ('{}')", i + 1, limits::shorten(&o.spec, 60));
        within(limits::TEXT, Some(o.spec.len() as u64), &format!("{what}: spec length"), allow)?;
        let base = OptimizerConfig::parse(&o.spec).map_err(|e| StudyError(format!("{what}: {e}")))?;
        let search = match o.search.as_deref() {
            Some(s) => parse_search(Some(s), &what)?,
            None => default_search,
        };
        let table = o.space.unwrap_or_else(|| default_space.clone());
        let space = parse_space(&table, &base, &what)?;
        let points = match (search, o.points.or(default_points)) {
            (Search::QuasiRandom, None) => {
                return err(format!("{what}: search = \"quasi-random\" needs points = N (how many to draw)"))
            }
            (Search::QuasiRandom, Some(p)) => within(POINTS, Some(p), &format!("{what}: points"), allow)? as usize,
            (Search::Grid, _) => 0,
        };
        if search == Search::Grid {
            let sizes: Vec<u64> = space.iter().map(|(_, d)| d.len() as u64).collect();
            within(POINTS, limits::product(&sizes), &format!("{what}: points of the grid"), allow)?;
        }
        let label = match o.label {
            Some(l) if l.trim().is_empty() || l.chars().count() > 80 => {
                return err(format!("{what}: label must be 1 to 80 characters"))
            }
            Some(l) => l,
            None => short_label(&base, &space),
        };
        optimizers.push(OptimizerSearch { spec: o.spec, label, base, search, points, space });
    }
    for i in 0..optimizers.len() {
        let base = optimizers[i].label.clone();
        let n = optimizers[..i].iter().filter(|o| o.label == base || o.label.starts_with(&format!("{base} #"))).count();
        if n > 0 {
            optimizers[i].label = format!("{base} #{}", n + 1);
        }
    }

    // problems
    if raw.problem.is_empty() {
        return err(format!(
            "{file}: no problems; add a [[problem]] with function = \"rosenbrock\" or train = \"mlp\""
        ));
    }
    let mut problems: Vec<Problem> = Vec::new();
    let mut replicates = Vec::new();
    for (i, p) in raw.problem.into_iter().enumerate() {
        let label = p.name.clone().or_else(|| p.function.clone()).or_else(|| p.train.clone()).unwrap_or_default();
        let what = format!("{file}: problem {} ('{}')", i + 1, limits::shorten(&label, 40));
        let (problem, reps) = problem(p, budget, &seeds, &what, allow)?;
        if problems.iter().any(|q| q.name == problem.name) {
            return err(format!("{what}: the name '{}' is used twice; give each problem its own name", problem.name));
        }
        problems.push(problem);
        replicates.push(reps);
    }
    Ok(Study { name, description: raw.description.unwrap_or_default(), seeds, problems, replicates, optimizers })
}

fn parse_search(s: Option<&str>, what: &str) -> Result<Search, StudyError> {
    match s.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(Search::Grid),
        Some(s) if s == "grid" => Ok(Search::Grid),
        Some(s) if s == "quasi-random" || s == "quasi_random" || s == "halton" => Ok(Search::QuasiRandom),
        Some(s) => err(format!("{what}: search = \"{}\": use \"grid\" or \"quasi-random\"", limits::shorten(&s, 40))),
    }
}

impl Dim {
    /// Values on a grid.
    pub fn len(&self) -> usize {
        match self {
            Dim::Log { count, .. } | Dim::Linear { count, .. } => *count,
            Dim::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A TOML value as a spec value: numbers, booleans, arrays of numbers (tuples), and strings
/// read as spec text (`"(0.9, 0.999)"`, `"None"`, `"adamw(lr=1e-3)"`).
fn spec_value(v: &toml::Value, what: &str) -> Result<Value, StudyError> {
    match v {
        toml::Value::Integer(i) => Ok(Value::Num(*i as f64)),
        toml::Value::Float(f) if f.is_finite() => Ok(Value::Num(*f)),
        toml::Value::Float(f) => err(format!("{what}: {f} is not a finite number")),
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::Array(items) => {
            Ok(Value::Tuple(items.iter().map(|i| spec_value(i, what)).collect::<Result<_, _>>()?))
        }
        toml::Value::String(s) => {
            let spec = Spec::parse(&format!("v(x={s})"))
                .map_err(|e| StudyError(format!("{what}: \"{}\" is not a value ({e})", limits::shorten(s, 40))))?;
            if spec.args.len() != 1 {
                return err(format!("{what}: \"{}\" is not one value", limits::shorten(s, 40)));
            }
            Ok(spec.args.into_iter().next().expect("one argument").value)
        }
        _ => err(format!("{what}: use a number, true/false, a list or a string")),
    }
}

fn number_pair(v: &toml::Value, key: &str, what: &str) -> Result<(f64, f64), StudyError> {
    let bad = || StudyError(format!("{what}: {key} must be two numbers [from, to], e.g. {key} = [1e-4, 1.0]"));
    let arr = v.as_array().ok_or_else(bad)?;
    let num = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
    match arr.as_slice() {
        [a, b] => {
            let (a, b) = (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?);
            if !(a.is_finite() && b.is_finite()) {
                return Err(bad());
            }
            Ok((a, b))
        }
        _ => Err(bad()),
    }
}

fn parse_dim(key: &str, v: &toml::Value, what: &str) -> Result<Dim, StudyError> {
    let what = format!("{what}, space key '{key}'");
    match v {
        toml::Value::Array(items) => {
            if items.is_empty() {
                return err(format!("{what}: [] lists no values"));
            }
            Ok(Dim::Values(items.iter().map(|i| spec_value(i, &what)).collect::<Result<_, _>>()?))
        }
        toml::Value::Table(t) => {
            let count = match t.get("count") {
                None => None,
                Some(c) => match c.as_integer() {
                    Some(n) if (1..=1_000_000).contains(&n) => Some(n as usize),
                    _ => return err(format!("{what}: count must be a whole number from 1 to 1,000,000")),
                },
            };
            for k in t.keys() {
                if !["log", "linear", "values", "count"].contains(&k.as_str()) {
                    return err(format!(
                        "{what}: unknown key '{}' (use log = [from, to] or linear = [from, to] with count = N, or values = [...])",
                        limits::shorten(k, 30)
                    ));
                }
            }
            let kinds = ["log", "linear", "values"].iter().filter(|k| t.contains_key(**k)).count();
            if kinds != 1 {
                return err(format!(
                    "{what}: give exactly one of log = [from, to], linear = [from, to] or values = [...]"
                ));
            }
            if let Some(v) = t.get("values") {
                if count.is_some() {
                    return err(format!("{what}: count goes with log or linear, not with values"));
                }
                return parse_dim(key, v, &what.replace(&format!(", space key '{key}'"), ""));
            }
            let log = t.contains_key("log");
            let (a, b) = number_pair(
                t.get(if log { "log" } else { "linear" }).expect("checked"),
                if log { "log" } else { "linear" },
                &what,
            )?;
            let count = count.unwrap_or(if log { 8 } else { 5 });
            if a > b || (a == b && count > 1) {
                return err(format!("{what}: the range must go from a smaller to a larger value"));
            }
            if log {
                if a <= 0.0 {
                    return err(format!(
                        "{what}: log = [{}, {}] must be positive",
                        limits::fmt_value(a),
                        limits::fmt_value(b)
                    ));
                }
                Ok(Dim::Log { a, b, count })
            } else {
                Ok(Dim::Linear { a, b, count })
            }
        }
        other => Ok(Dim::Values(vec![spec_value(other, &what)?])),
    }
}

fn parse_space(t: &toml::Table, base: &OptimizerConfig, what: &str) -> Result<Vec<(String, Dim)>, StudyError> {
    let mut space: Vec<(String, Dim)> = Vec::new();
    for (k, v) in t {
        let key = k.trim();
        let Some(p) = base.method.params.iter().find(|p| p.key.eq_ignore_ascii_case(key)) else {
            let keys: Vec<&str> = base.method.params.iter().map(|p| p.key).collect();
            return err(format!(
                "{what}: space key '{}': {} has no hyperparameter '{}' (it has: {})",
                limits::shorten(key, 30),
                base.name(),
                limits::shorten(key, 30),
                keys.join(", ")
            ));
        };
        let dim = parse_dim(p.key, v, what)?;
        // every value of the axis must be valid for the method (ends of a range too)
        let samples: Vec<Value> = match &dim {
            Dim::Values(v) => v.clone(),
            Dim::Log { a, b, .. } | Dim::Linear { a, b, .. } => vec![Value::Num(*a), Value::Num(*b)],
        };
        for s in samples {
            let s = if p.kind == Kind::Int { round_int(s) } else { s };
            base.with(p.key, s).map_err(|e| StudyError(format!("{what}, space key '{}': {e}", p.key)))?;
        }
        space.push((p.key.to_string(), dim));
    }
    space.sort_by(|a, b| (a.0 != "lr", &a.0).cmp(&(b.0 != "lr", &b.0)));
    Ok(space)
}

/// Integer hyperparameters take the nearest whole number of a range's value.
pub(crate) fn round_int(v: Value) -> Value {
    match v {
        Value::Num(x) => Value::Num(x.round()),
        other => other,
    }
}

/// The label of an optimizer whose `space` keys are searched: the method with the
/// hyperparameters set away from their defaults, leaving out the searched ones, and its
/// modifiers (`sgd(momentum=0.9) | StepLR`).
fn short_label(base: &OptimizerConfig, space: &[(String, Dim)]) -> String {
    let mut parts = Vec::new();
    for (p, (key, v)) in base.method.params.iter().zip(base.hyper.iter()) {
        if space.iter().any(|(k, _)| k == key) {
            continue;
        }
        if key == "lr" || *v != p.default_value() {
            parts.push(format!("{key}={v}"));
        }
    }
    let mut s =
        if parts.is_empty() { base.name().to_string() } else { format!("{}({})", base.name(), parts.join(", ")) };
    for m in &base.modifiers {
        s.push_str(" | ");
        s.push_str(&m.label());
    }
    s
}

fn problem(
    p: ProblemFile,
    budget: BudgetFile,
    seeds: &[u64],
    what: &str,
    allow: Allow,
) -> Result<(Problem, Replicates), StudyError> {
    let select = match p.select.as_deref() {
        None => None,
        Some(s) => match Metric::ALL.iter().find(|(n, _)| *n == s.trim()) {
            Some((_, m)) => Some(*m),
            None => {
                let names: Vec<&str> = Metric::ALL.iter().map(|(n, _)| *n).collect();
                return err(format!(
                    "{what}: select = \"{}\": use one of {}",
                    limits::shorten(s, 30),
                    names.join(", ")
                ));
            }
        },
    };
    let target = match &p.target {
        None => None,
        Some(toml::Value::Float(v)) => Some(Target::Loss(*v)),
        Some(toml::Value::Integer(v)) => Some(Target::Loss(*v as f64)),
        Some(toml::Value::Table(t)) if t.len() == 1 => {
            let (k, v) = t.iter().next().expect("one entry");
            let v = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            match (k.as_str(), v) {
                ("loss", Some(v)) => Some(Target::Loss(v)),
                ("accuracy", Some(v)) if (0.0..=1.0).contains(&v) => Some(Target::Accuracy(v)),
                ("accuracy", Some(_)) => return err(format!("{what}: target accuracy must be from 0 to 1")),
                _ => return err(format!("{what}: target = {{ loss = X }} or {{ accuracy = X }}")),
            }
        }
        Some(_) => return err(format!("{what}: target = {{ loss = X }} or {{ accuracy = X }} (or a number: a loss)")),
    };
    if let Some(Target::Loss(v)) = target {
        if !v.is_finite() {
            return err(format!("{what}: the target loss must be a finite number"));
        }
    }
    match (&p.function, &p.train) {
        (Some(_), Some(_)) => err(format!("{what}: give function = \"...\" or train = \"...\", not both")),
        (None, None) => {
            err(format!("{what}: give function = \"rosenbrock\" (a 2-D function) or train = \"mlp\" (a model)"))
        }
        (Some(f), None) => function_problem(&p, f, budget, seeds, target, select, what, allow),
        (None, Some(m)) if crate::nn::is_gpt_spec(m) => lm_problem(&p, m, budget, target, select, what, allow),
        (None, Some(m)) => train_problem(&p, m, budget, target, select, what, allow),
    }
}

fn four(v: &[f64], key: &str, what: &str) -> Result<[f64; 4], StudyError> {
    match v {
        [x0, x1, y0, y1] if v.iter().all(|t| t.is_finite()) && x0 < x1 && y0 < y1 => Ok([*x0, *x1, *y0, *y1]),
        _ => err(format!("{what}: {key} = [x0, x1, y0, y1] with x0 < x1 and y0 < y1 (finite)")),
    }
}

/// A built-in function, or an expression over `domain` (default [−10, 10]²).
pub fn load_function(text: &str, domain: Option<[f64; 4]>) -> Result<crate::objective::Function, String> {
    let mut f = match crate::objective::builtin(text) {
        Some(b) => b.function(),
        None => {
            let d = domain.unwrap_or([-10.0, 10.0, -10.0, 10.0]);
            crate::objective::Function::from_expr(text, d, [8.0, 0.1])
                .or_else(|_| crate::objective::resolve(text))
                .map_err(|e| e.message.clone())?
        }
    };
    if let Some(d) = domain {
        f.domain = d;
    }
    Ok(f)
}

#[allow(clippy::too_many_arguments)]
fn function_problem(
    p: &ProblemFile,
    text: &str,
    budget: BudgetFile,
    seeds: &[u64],
    target: Option<Target>,
    select: Option<Metric>,
    what: &str,
    allow: Allow,
) -> Result<(Problem, Replicates), StudyError> {
    for (set, key) in [
        (p.dataset.is_some(), "dataset"),
        (p.data.is_some(), "data"),
        (p.data_dir.is_some(), "data_dir"),
        (p.epochs.is_some(), "epochs"),
        (p.batch_size.is_some(), "batch_size"),
        (p.limit.is_some(), "limit"),
        (p.test_limit.is_some(), "test_limit"),
        (p.text.is_some(), "text"),
        (p.eval_every.is_some(), "eval_every"),
        (p.eval_batches.is_some(), "eval_batches"),
    ] {
        if set {
            return err(format!(
                "{what}: {key} is for train problems; a function problem takes steps, starts, box, domain, shape"
            ));
        }
    }
    within(limits::TEXT, Some(text.len() as u64), &format!("{what}: function length"), allow)?;
    let domain = p.domain.as_deref().map(|d| four(d, "domain", what)).transpose()?;
    let f = load_function(text, domain).map_err(|m| StudyError(format!("{what}: {m}")))?;
    let steps = match p.steps.or(budget.steps) {
        Some(s) => whole(s, &format!("{what}: steps"), limits::STEPS, allow)?,
        None => return err(format!("{what}: no step budget; add steps = N to the problem or [budget] steps = N")),
    };
    let shape = p.shape.clone().unwrap_or_else(|| "2".into());
    crate::optim::Shape2::parse(&shape).map_err(|e| StudyError(format!("{what}: shape: {e}")))?;
    if matches!(target, Some(Target::Accuracy(_))) {
        return err(format!("{what}: a function has no accuracy; give target = {{ loss = X }}"));
    }
    let select = select.unwrap_or(Metric::FinalLoss);
    if matches!(select, Metric::TestLoss | Metric::TestAccuracy | Metric::ValLoss) {
        return err(format!(
            "{what}: select = \"{}\" is for train problems; use final_loss, lowest_loss or steps_to_target",
            select.name()
        ));
    }
    if select == Metric::StepsToTarget && target.is_none() {
        return err(format!("{what}: select = \"steps_to_target\" needs a target"));
    }
    let reps = match &p.starts {
        None => {
            if p.start_box.is_some() {
                return err(format!("{what}: box goes with starts = \"random\""));
            }
            Replicates::Starts(vec![f.start])
        }
        Some(toml::Value::String(s)) if s == "random" => {
            let b = match &p.start_box {
                Some(b) => four(b, "box", what)?,
                None => f.domain,
            };
            let _ = seeds;
            Replicates::RandomStarts(b)
        }
        Some(toml::Value::Array(items)) => {
            if p.start_box.is_some() {
                return err(format!("{what}: box goes with starts = \"random\""));
            }
            if items.is_empty() {
                return err(format!("{what}: starts = [] lists no starts"));
            }
            within(STARTS, Some(items.len() as u64), &format!("{what}: starts"), allow)?;
            let mut out = Vec::new();
            for it in items {
                let v: Option<Vec<f64>> = it.as_array().map(|a| {
                    a.iter().filter_map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64))).collect()
                });
                match v.as_deref() {
                    Some([x, y]) if x.is_finite() && y.is_finite() && it.as_array().is_some_and(|a| a.len() == 2) => {
                        out.push([*x, *y])
                    }
                    _ => {
                        return err(format!(
                            "{what}: starts = [[x, y], ...] with finite numbers, or starts = \"random\""
                        ))
                    }
                }
            }
            Replicates::Starts(out)
        }
        Some(_) => return err(format!("{what}: starts = [[x, y], ...] or starts = \"random\" (one start per seed)")),
    };
    let name = p.name.clone().unwrap_or_else(|| f.name.clone());
    check_name(&name, what)?;
    let kind = ProblemKind::Function { function: text.to_string(), domain, steps, shape };
    Ok((Problem { name, kind, target, select }, reps))
}

fn check_name(name: &str, what: &str) -> Result<(), StudyError> {
    if name.trim().is_empty() || name.chars().count() > 120 {
        return err(format!("{what}: name must be 1 to 120 characters"));
    }
    Ok(())
}

fn train_problem(
    p: &ProblemFile,
    model_spec: &str,
    budget: BudgetFile,
    target: Option<Target>,
    select: Option<Metric>,
    what: &str,
    allow: Allow,
) -> Result<(Problem, Replicates), StudyError> {
    for (set, key) in [
        (p.function.is_some(), "function"),
        (p.starts.is_some(), "starts"),
        (p.start_box.is_some(), "box"),
        (p.domain.is_some(), "domain"),
        (p.steps.is_some(), "steps"),
        (p.shape.is_some(), "shape"),
        (p.text.is_some(), "text"),
        (p.eval_every.is_some(), "eval_every"),
        (p.eval_batches.is_some(), "eval_batches"),
    ] {
        if set {
            return err(format!(
                "{what}: {key} is not for this train problem; an image model takes dataset, data, epochs, batch_size, limit (steps, text, eval_every and eval_batches go with train = \"gpt\")"
            ));
        }
    }
    within(limits::TEXT, Some(model_spec.len() as u64), &format!("{what}: model spec length"), allow)?;
    let model = crate::nn::build(model_spec, crate::nn::Shape::MNIST, crate::limits::Allow::DEFAULT)
        .map_err(|e| StudyError(format!("{what}: train: {e:#}")))?;
    within(limits::PARAMS, Some(model.n_params as u64), &format!("{what}: model parameters"), allow)?;
    let dataset = p.dataset.clone().unwrap_or_else(|| "mnist".into());
    crate::data::info(&dataset).map_err(|e| StudyError(format!("{what}: {e}")))?;
    let data = match p.data.as_deref().map(str::trim) {
        None if dataset == "mnist" => DataSource::Subset,
        None => DataSource::Full,
        Some("subset") if dataset == "mnist" => DataSource::Subset,
        Some("subset") => return err(format!("{what}: only mnist has an embedded subset; use data = \"full\"")),
        Some("full") => DataSource::Full,
        Some(other) => {
            return err(format!(
                "{what}: data = \"{}\": use \"subset\" (embedded MNIST) or \"full\"",
                limits::shorten(other, 30)
            ))
        }
    };
    if p.data_dir.is_some() && data == DataSource::Subset {
        return err(format!("{what}: data_dir goes with data = \"full\""));
    }
    let epochs = match p.epochs.or(budget.epochs) {
        Some(e) => whole(e, &format!("{what}: epochs"), limits::EPOCHS, allow)?,
        None => return err(format!("{what}: no epoch budget; add epochs = N to the problem or [budget] epochs = N")),
    };
    let batch_size = whole(p.batch_size.unwrap_or(32), &format!("{what}: batch_size"), limits::BATCH, allow)?;
    let limit_of = |v: Option<i64>, key: &str| -> Result<Option<usize>, StudyError> {
        match v {
            None => Ok(None),
            Some(n) if n >= 1 => Ok(Some(n as usize)),
            Some(n) => err(format!("{what}: {key} = {n} leaves no images; give at least 1")),
        }
    };
    let limit = limit_of(p.limit, "limit")?;
    let test_limit = limit_of(p.test_limit, "test_limit")?;
    let select = select.unwrap_or(Metric::TestAccuracy);
    if select == Metric::ValLoss {
        return err(format!("{what}: select = \"val_loss\" is for language models; use test_loss"));
    }
    if select == Metric::LowestLoss {
        return err(format!("{what}: select = \"lowest_loss\" is for function problems; use final_loss, test_loss, test_accuracy or steps_to_target"));
    }
    if select == Metric::StepsToTarget && target.is_none() {
        return err(format!("{what}: select = \"steps_to_target\" needs a target"));
    }
    let name = p.name.clone().unwrap_or_else(|| format!("{}-{dataset}", model.name));
    check_name(&name, what)?;
    let kind = ProblemKind::Train {
        model: model_spec.to_string(),
        dataset,
        data,
        data_dir: p.data_dir.clone(),
        epochs,
        batch_size,
        limit,
        test_limit,
    };
    Ok((Problem { name, kind, target, select }, Replicates::Seeds))
}

/// A language-model problem: `train = "gpt(...)"` on `dataset = "shakespeare-char"` (the
/// default) or `text = "FILE"`, for `steps` steps (or [budget] steps) of `batch_size`
/// windows, evaluated every `eval_every` steps on `eval_batches` batches (nanoGPT's 12, 250,
/// 20 by default); ranked by the last validation loss unless `select` says otherwise.
#[allow(clippy::too_many_arguments)]
fn lm_problem(
    p: &ProblemFile,
    model_spec: &str,
    budget: BudgetFile,
    target: Option<Target>,
    select: Option<Metric>,
    what: &str,
    allow: Allow,
) -> Result<(Problem, Replicates), StudyError> {
    for (set, key) in [
        (p.function.is_some(), "function"),
        (p.starts.is_some(), "starts"),
        (p.start_box.is_some(), "box"),
        (p.domain.is_some(), "domain"),
        (p.shape.is_some(), "shape"),
        (p.data.is_some(), "data"),
        (p.data_dir.is_some(), "data_dir"),
        (p.epochs.is_some(), "epochs"),
        (p.limit.is_some(), "limit"),
        (p.test_limit.is_some(), "test_limit"),
    ] {
        if set {
            return err(format!(
                "{what}: {key} is not for a language model; train = \"gpt\" takes dataset or text, steps, batch_size, eval_every, eval_batches"
            ));
        }
    }
    within(limits::TEXT, Some(model_spec.len() as u64), &format!("{what}: model spec length"), allow)?;
    if p.dataset.is_some() && p.text.is_some() {
        return err(format!("{what}: give dataset or text, not both"));
    }
    let dataset = p.dataset.clone().unwrap_or_else(|| "shakespeare-char".into());
    let data = crate::data::text::TextData::load(&dataset, p.text.as_deref().map(Path::new))
        .map_err(|e| StudyError(format!("{what}: {e:#}")))?;
    let cfg = crate::nn::GptConfig::parse(model_spec, data.vocab.len())
        .map_err(|e| StudyError(format!("{what}: train: {e:#}")))?;
    let model = crate::nn::Gpt::new(cfg, allow).map_err(|e| StudyError(format!("{what}: train: {e:#}")))?;
    let steps = match p.steps.or(budget.steps) {
        Some(s) => whole(s, &format!("{what}: steps"), limits::STEPS, allow)?,
        None => return err(format!("{what}: no step budget; add steps = N to the problem or [budget] steps = N")),
    };
    let batch_size = whole(p.batch_size.unwrap_or(12), &format!("{what}: batch_size"), limits::BATCH, allow)?;
    let count = |v: Option<i64>, default: i64, key: &str| -> Result<usize, StudyError> {
        match v.unwrap_or(default) {
            n if (0..=10_000_000).contains(&n) => Ok(n as usize),
            n => err(format!("{what}: {key} = {n}: give a whole number from 0 to 10,000,000")),
        }
    };
    let eval_every = count(p.eval_every, 250, "eval_every")?;
    let eval_batches = count(p.eval_batches, 20, "eval_batches")?;
    if eval_batches == 0 {
        return err(format!("{what}: eval_batches = 0 leaves nothing to rank the runs by; give at least 1"));
    }
    let settings =
        crate::experiment::lm::LmSettings { steps, batch_size, eval_every, eval_batches, checkpoint_every: None };
    settings.validate(&model, &data, 1, allow).map_err(|e| StudyError(format!("{what}: {e}")))?;
    if matches!(target, Some(Target::Accuracy(_))) {
        return err(format!(
            "{what}: a language model has no accuracy; give target = {{ loss = X }} (a validation loss)"
        ));
    }
    let select = select.unwrap_or(Metric::ValLoss);
    if matches!(select, Metric::LowestLoss | Metric::TestLoss | Metric::TestAccuracy) {
        return err(format!(
            "{what}: select = \"{}\" is not for a language model; use val_loss, final_loss or steps_to_target",
            select.name()
        ));
    }
    if select == Metric::StepsToTarget && target.is_none() {
        return err(format!("{what}: select = \"steps_to_target\" needs a target"));
    }
    let name = p.name.clone().unwrap_or_else(|| format!("gpt-{}", crate::experiment::presets::slug(&data.name)));
    check_name(&name, what)?;
    let kind = ProblemKind::LanguageModel {
        model: model.cfg.canonical(),
        dataset: data.name.clone(),
        text: p.text.clone(),
        steps,
        batch_size,
        eval_every,
        eval_batches,
    };
    Ok((Problem { name, kind, target, select }, Replicates::Seeds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Study {
        parse(text, "s.toml", Allow::DEFAULT).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> String {
        let e = parse(text, "s.toml", Allow::DEFAULT).unwrap_err().0;
        assert!(!e.contains('\n'), "not one line: {e}");
        e
    }

    const SMALL: &str = r#"
name = "t"
seeds = 2
optimizers = ["adam", "sgd(momentum=0.9)"]
[budget]
steps = 50
[space]
lr = { log = [1e-3, 1e-1], count = 3 }
[[problem]]
function = "rosenbrock"
target = 1e-2
"#;

    #[test]
    fn a_small_study_is_read_with_its_defaults() {
        let s = parse_ok(SMALL);
        assert_eq!(s.seeds, vec![0, 1]);
        assert_eq!(s.optimizers.len(), 2);
        assert_eq!(s.optimizers[1].label, "sgd(momentum=0.9)");
        assert_eq!(s.optimizers[0].space[0].0, "lr");
        assert_eq!(s.problems[0].select, Metric::FinalLoss);
        assert_eq!(s.problems[0].target, Some(Target::Loss(1e-2)));
    }

    #[test]
    fn mistakes_are_one_line_that_says_what_to_fix() {
        assert!(parse_err("nmae = 1").contains("line 1"));
        assert!(parse_err(&SMALL.replace("steps = 50", "stpes = 50")).contains("stpes"));
        assert!(parse_err(&SMALL.replace("\"adam\"", "\"adma\"")).contains("unknown optimizer 'adma'"));
        assert!(parse_err(&SMALL.replace("lr = {", "momentun = {")).contains("has no hyperparameter 'momentun'"));
        assert!(parse_err(&SMALL.replace("1e-3, 1e-1", "-1, 1")).contains("must be positive"));
        assert!(parse_err(&SMALL.replace("rosenbrock", "rosenbrok")).contains("unknown function"));
        assert!(parse_err(&SMALL.replace("steps = 50", "steps = 0")).contains("at least 1"));
        assert!(parse_err(&SMALL.replace("steps = 50", "steps = 100000000000")).contains("--allow-large"));
        assert!(parse_err(&SMALL.replace("seeds = 2", "seeds = -2")).contains("negative"));
        assert!(parse_err(&SMALL.replace("count = 3", "count = 100000")).contains("points of the grid"));
        assert!(parse_err(&SMALL.replace("target = 1e-2", "target = { accuracy = 0.9 }")).contains("no accuracy"));
        assert!(parse_err(&SMALL.replace("function = \"rosenbrock\"", "train = \"mlp\"")).contains("no epoch budget"));
        assert!(parse_err(&SMALL.replace("function = \"rosenbrock\"", "train = \"mlp\"\nsteps = 5"))
            .contains("steps is not for this train problem"));
    }

    #[test]
    fn searched_values_are_checked_by_the_method_schema() {
        let e = parse_err(&SMALL.replace("lr = {", "betas = [[0.9, 1.5]]\nlr = {"));
        assert!(e.contains("betas"), "{e}");
    }
}
