//! The commands as calls: each command's checks (the same one-line messages), its run
//! (stopped by a flag rather than by Ctrl-C) and the files it writes, without printing.
//! The command line and the Python bindings (python/) both go through these, so a result
//! made from Python is the one the command line makes, and its `save` writes the same files.

use super::args::{check, load_function, load_shape, parse_optimizers, parse_range, usage};
use super::{RunArgs, TrainArgs};
use crate::data::{self, Dataset, Want};
use crate::experiment::compare::{compare_until, unique_labels, Run};
use crate::experiment::map::{MapOptions, MapResult};
use crate::experiment::sweep::{self, SweepPoint};
use crate::experiment::train::{self, Event, RunResult, RunSpec, TrainSettings};
use crate::experiment::tune::{self, Target, TuneOptions, Tuned};
use crate::experiment::IN_MEMORY_STEPS;
use crate::limits::{self, Allow};
use crate::nn::{self, Model};
use crate::objective::Function;
use crate::optim::{OptimizerConfig, Shape2};
use crate::record::{self, train::TrainContext, OutDir};
use crate::report::figures;
use crate::report::tables::fmt_pt;
use anyhow::Result;
use std::sync::atomic::AtomicBool;

/// The function, start, optimizers and shape of a 2-D command, checked.
pub struct Setup {
    pub function: Function,
    pub start: [f64; 2],
    pub configs: Vec<OptimizerConfig>,
    pub shape: Shape2,
}

/// Reads `--function`, `--start`, `--domain`, `--optimizer` and `--shape`.
pub fn setup(args: &RunArgs) -> Result<Setup> {
    let (function, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let shape = load_shape(args, &configs)?;
    Ok(Setup { function, start, configs, shape })
}

/// A comparison held in memory: what `compare` records, plots and prints.
pub struct Comparison {
    pub function: Function,
    pub start: [f64; 2],
    pub steps: usize,
    pub runs: Vec<Run>,
    /// The figures' and summary's note ("from (8, 0.1), 500 steps").
    pub note: String,
    /// What the command line says before its table (longer runs after tuning, a failed tune).
    pub said: Vec<String>,
}

/// With `tuned`, tunes each optimizer's lr first (as `compare --tuned` does): the configs
/// with their tuned lr, the steps (more when the slowest tuned run needs them), the note.
pub fn tune_first(s: &Setup, configs: &mut Vec<OptimizerConfig>, steps: &mut usize, said: &mut Vec<String>) -> String {
    let budget = (*steps).clamp(1000, 100_000);
    let opts = TuneOptions { steps: budget, shape: s.shape, ..Default::default() };
    match tune::tune(&s.function, configs, s.start, &opts) {
        Ok((_, t)) => {
            *configs = configs.iter().zip(&t).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
            let need = t.iter().filter_map(|t| t.steps).max().unwrap_or(0);
            let longer = (*steps).max(need + need / 5 + 1);
            if longer > *steps {
                said.push(format!(
                    "running {longer} steps instead of {steps}: the slowest tuned optimizer needs {need} to converge"
                ));
                *steps = longer;
            }
            format!("from {}, {steps} steps, tuned lr", fmt_pt(s.start[0], s.start[1]))
        }
        Err(reason) => {
            said.push(format!("tune: {reason}; running with the given learning rates"));
            format!("from {}, {steps} steps", fmt_pt(s.start[0], s.start[1]))
        }
    }
}

/// `compare` in memory (every point of every run kept): at most [`IN_MEMORY_STEPS`] steps;
/// longer runs are the command line's, which streams them to disk.
pub fn compare(args: &RunArgs, steps: usize, tuned: bool, stop: Option<&AtomicBool>) -> Result<Comparison> {
    let allow = Allow { large: args.allow_large };
    let mut steps = check(limits::STEPS, steps, allow)?;
    let s = setup(args)?;
    let mut configs = s.configs.clone();
    let mut said = Vec::new();
    let note = if tuned {
        tune_first(&s, &mut configs, &mut steps, &mut said)
    } else {
        format!("from {}, {steps} steps", fmt_pt(s.start[0], s.start[1]))
    };
    if steps > IN_MEMORY_STEPS {
        return Err(usage(format!(
            "{steps} steps: a comparison held in memory takes at most {IN_MEMORY_STEPS}; the command line streams longer ones to disk (optlab compare --steps {steps})"
        )));
    }
    let runs = compare_until(&s.function, &configs, s.start, steps, s.shape, stop);
    Ok(Comparison { function: s.function, start: s.start, steps, runs, note, said })
}

/// The files of `compare`: trajectories.csv, summary.json and the figures (and
/// trajectories.gif with `animate`).
pub fn write_compare(out: &mut OutDir, c: &Comparison, by_evals: bool, animate: bool) -> Result<()> {
    record::compare::write(out, "", &c.function, &c.runs, c.start, c.steps, &c.note)?;
    figures::compare(out, "", &c.function, &c.runs, &c.note, by_evals)?;
    if animate {
        figures::animation(out, "", &c.function, &c.runs)?;
    }
    Ok(())
}

/// What `tune` found: the target and one row per optimizer, or why there is nothing to tune.
pub struct Tuning {
    pub function: Function,
    pub start: [f64; 2],
    pub steps: usize,
    pub result: std::result::Result<(Target, Vec<Tuned>), String>,
}

/// `tune`.
pub fn tune(args: &RunArgs, steps: usize) -> Result<Tuning> {
    let steps = check(limits::STEPS, steps, Allow { large: args.allow_large })?;
    Ok(run_tune(setup(args)?, steps))
}

/// `tune` of checked settings.
pub fn run_tune(s: Setup, steps: usize) -> Tuning {
    let opts = TuneOptions { steps, shape: s.shape, ..Default::default() };
    let result = tune::tune(&s.function, &s.configs, s.start, &opts);
    Tuning { function: s.function, start: s.start, steps, result }
}

/// The file of `tune --out`: tune.json (nothing when there was nothing to tune).
pub fn write_tune(out: &mut OutDir, t: &Tuning) -> Result<()> {
    if let Ok((target, tuned)) = &t.result {
        record::tune::write(out, "", &t.function.name, t.start, target, tuned)?;
    }
    Ok(())
}

/// Basin maps, with the settings they were made with.
pub struct Maps {
    pub function: Function,
    pub steps: usize,
    pub options: MapOptions,
    /// One per optimizer finished (fewer than asked for when stopped).
    pub maps: Vec<MapResult>,
    /// How many optimizers were asked for.
    pub asked: usize,
}

/// Optimizers with their unique labels.
pub type Named = Vec<(String, OptimizerConfig)>;

/// The checked settings of `map`: the function, the named optimizers and the options.
pub fn map_setup(args: &RunArgs, grid: usize, steps: usize) -> Result<(Function, Named, MapOptions)> {
    let allow = Allow { large: args.allow_large };
    let grid = check(limits::GRID, grid, allow)?;
    let steps = check(limits::MAP_STEPS, steps, allow)?;
    let (f, _) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let work = limits::product(&[grid as u64, grid as u64, steps as u64, configs.len() as u64]);
    limits::MAP_WORK.check(work, allow).map_err(|e| usage(e.0))?;
    let shape = load_shape(args, &configs)?;
    let labels = unique_labels(&configs);
    let named: Vec<(String, OptimizerConfig)> = labels.into_iter().zip(configs).collect();
    let opts = MapOptions { grid, steps, domain: f.domain, shape };
    Ok((f, named, opts))
}

/// `map`: every optimizer from every start of the grid.
pub fn map(args: &RunArgs, grid: usize, steps: usize, stop: Option<&AtomicBool>) -> Result<Maps> {
    let (function, named, options) = map_setup(args, grid, steps)?;
    Ok(run_map(function, &named, options, stop))
}

/// `map` of checked settings.
pub fn run_map(
    function: Function,
    named: &[(String, OptimizerConfig)],
    options: MapOptions,
    stop: Option<&AtomicBool>,
) -> Maps {
    let maps = crate::experiment::map::map_until(&function, named, &options, stop);
    Maps { function, steps: options.steps, options, maps, asked: named.len() }
}

/// The files of `map`: map.csv, map.json, one image per optimizer and the panel.
pub fn write_map(out: &mut OutDir, m: &Maps) -> Result<()> {
    record::map::write(out, "", &m.function, &m.maps, m.steps)?;
    figures::map(out, "", &m.function, &m.maps, m.steps)
}

/// A learning-rate sweep.
pub struct Sweep {
    pub function: Function,
    pub start: [f64; 2],
    pub steps: usize,
    pub labels: Vec<String>,
    pub lrs: Vec<f64>,
    /// The second hyperparameter of `--vs` and its values.
    pub other: Option<(String, Vec<f64>)>,
    pub points: Vec<SweepPoint>,
}

/// The checked settings of `sweep-lr`.
pub struct SweepSetup {
    pub function: Function,
    pub start: [f64; 2],
    pub steps: usize,
    pub shape: Shape2,
    pub named: Vec<(String, OptimizerConfig)>,
    pub lrs: Vec<f64>,
    pub other: Option<(String, Vec<f64>)>,
}

/// Reads `sweep-lr`'s flags; `lrs` is `FROM..TO:COUNT`, `vs` `KEY` or `KEY=FROM..TO:COUNT`.
pub fn sweep_setup(args: &RunArgs, lrs: &str, vs: Option<&str>, steps: usize) -> Result<SweepSetup> {
    let allow = Allow { large: args.allow_large };
    let steps = check(limits::STEPS, steps, allow)?;
    let (f, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let (a, b, n) = parse_range(lrs, "--lrs")?;
    if a <= 0.0 {
        return Err(usage("--lrs must be positive (it is log-spaced)"));
    }
    let shape = load_shape(args, &configs)?;
    let lr_values = sweep::logspace(a, b, n);
    let other = match vs {
        None => None,
        Some(v) => {
            let (key, range) = match v.split_once('=') {
                Some((k, r)) => (k.trim().to_string(), parse_range(r, "--vs")?),
                None => (v.trim().to_string(), (0.0, 0.99, 12)),
            };
            Some((key, sweep::linspace(range.0, range.1, range.2)))
        }
    };
    let runs = (lr_values.len() * other.as_ref().map_or(1, |o| o.1.len()) * configs.len()) as u64;
    limits::SWEEP_RUNS.check(Some(runs), allow).map_err(|e| usage(e.0))?;
    limits::MAP_WORK.check(runs.checked_mul(steps as u64), allow).map_err(|e| usage(e.0))?;
    let labels = unique_labels(&configs);
    let named: Vec<(String, OptimizerConfig)> = labels.into_iter().zip(configs).collect();
    Ok(SweepSetup { function: f, start, steps, shape, named, lrs: lr_values, other })
}

/// `sweep-lr`.
pub fn sweep(args: &RunArgs, lrs: &str, vs: Option<&str>, steps: usize, stop: Option<&AtomicBool>) -> Result<Sweep> {
    run_sweep(sweep_setup(args, lrs, vs, steps)?, stop)
}

/// `sweep-lr` of checked settings.
pub fn run_sweep(s: SweepSetup, stop: Option<&AtomicBool>) -> Result<Sweep> {
    let points = sweep::sweep_until(
        &s.function,
        &s.named,
        s.start,
        s.steps,
        &s.lrs,
        s.other.as_ref().map(|(k, v)| (k.as_str(), v.as_slice())),
        s.shape,
        stop,
    )
    .map_err(|e| usage(format!("--vs: {e}")))?;
    let labels = s.named.into_iter().map(|n| n.0).collect();
    Ok(Sweep { function: s.function, start: s.start, steps: s.steps, labels, lrs: s.lrs, other: s.other, points })
}

/// The files of `sweep-lr`: sweep.csv, sweep.json and the figures.
pub fn write_sweep(out: &mut OutDir, s: &Sweep) -> Result<()> {
    let key = s.other.as_ref().map(|o| o.0.as_str());
    record::sweep::write(out, &s.function.name, s.start, s.steps, key, &s.points)?;
    figures::sweep(out, &s.function, &fmt_pt(s.start[0], s.start[1]), s.steps, &s.points, &s.labels, key)
}

/// The checked settings of `train` on images: model, data, runs and settings.
pub struct TrainSetup {
    pub model: Model,
    pub data: Dataset,
    pub runs: Vec<RunSpec>,
    pub settings: TrainSettings,
    pub n_train: usize,
}

/// `--seeds`, `--seed` + `--seeds` within 2^64 and `--threads`, as every training checks them;
/// returns the number of seeds.
fn check_seeds_and_threads(a: &TrainArgs, allow: Allow) -> Result<u64> {
    let seeds = check(limits::SEEDS, a.seeds as usize, allow)? as u64;
    if a.seed.checked_add(seeds - 1).is_none() {
        return Err(usage(format!(
            "--seed {} with --seeds {seeds} runs past the largest seed, 2^64 − 1; choose a smaller --seed",
            a.seed
        )));
    }
    if let Some(t) = a.threads {
        check(limits::THREADS, t, allow)?;
    }
    Ok(seeds)
}

/// Reads `train`'s flags for an image model (MNIST, Fashion-MNIST), checked before any work.
pub fn train_setup(a: &TrainArgs) -> Result<TrainSetup> {
    let allow = Allow { large: a.allow_large };
    let epochs = check(limits::EPOCHS, a.epochs, allow)?;
    let batch_size = check(limits::BATCH, a.batch_size.unwrap_or(32), allow)?;
    let seeds = check_seeds_and_threads(a, allow)?;
    if a.limit == Some(0) {
        return Err(usage("--limit 0 leaves no training images; give at least 1"));
    }
    let runs = super::training::run_specs(&a.optimizers, a.seed, seeds)?;
    let want = if a.subset {
        Want::Subset
    } else if a.full {
        Want::Full
    } else {
        Want::Auto
    };
    let name = a.dataset.as_deref().unwrap_or("mnist");
    let data = data::load(name, a.data_dir.as_deref(), want).map_err(|e| usage(format!("{e:#}")))?;
    let model = nn::build(&a.model, data.input_shape(), allow).map_err(|e| usage(format!("--model: {e:#}")))?;
    let settings = TrainSettings { epochs, batch_size, limit_train: a.limit, ..Default::default() };
    settings.validate(&model, &data, runs.len(), allow).map_err(usage)?;
    train::check_optimizers(&model, &runs).map_err(usage)?;
    let n_train = settings.n_train(&data);
    Ok(TrainSetup { model, data, runs, settings, n_train })
}

/// A training run's results.
pub struct Training {
    pub setup: TrainSetup,
    pub results: Vec<RunResult>,
    pub seconds: f64,
}

/// Trains every run of `s` (inside a pool of `threads` threads when given); `observe` sees
/// the progress.
pub fn train(
    s: TrainSetup,
    threads: Option<usize>,
    stop: &AtomicBool,
    observe: &(dyn Fn(Event) + Sync),
) -> Result<Training> {
    let t0 = std::time::Instant::now();
    let results =
        super::training::in_pool(threads, || train::train(&s.model, &s.data, &s.runs, &s.settings, stop, observe))?;
    Ok(Training { setup: s, results, seconds: t0.elapsed().as_secs_f64() })
}

/// The files of `train`: history.csv, steps.csv, summary.json and the learning curves.
pub fn write_train(out: &mut OutDir, t: &Training) -> Result<()> {
    let (m, d) = (&t.setup.model, &t.setup.data);
    let c = TrainContext {
        model: &m.name,
        parameters: m.n_params,
        dataset: &d.name,
        data_source: &d.source,
        train_samples: t.setup.n_train,
        test_samples: d.test.len(),
        normalisation: [d.mean, d.std],
    };
    record::train::write(out, "", &c, &t.setup.settings, &t.results, t.seconds)?;
    let what = format!(
        "{} on {} ({} training images), batch {}",
        m.name, d.name, t.setup.n_train, t.setup.settings.batch_size
    );
    figures::train(out, "", &what, t.setup.settings.epochs, &t.results)
}

/// Reads `seminar`'s flags, checked before any work: the options, and the output folder
/// (opened, so a folder that cannot be written is an error before the runs).
pub fn seminar_setup(a: &super::SeminarArgs) -> Result<(crate::experiment::seminar::SeminarOptions, OutDir)> {
    let epochs = check(limits::EPOCHS, a.epochs, Allow::DEFAULT)?;
    let want = if a.full {
        Want::Full
    } else if a.dataset == "mnist" {
        Want::Subset
    } else {
        Want::Full
    };
    // fail early, with exit code 2, if the data is not there or the folder is not writable
    data::load(&a.dataset, a.data_dir.as_deref(), want).map_err(|e| usage(format!("{e:#}")))?;
    let out = super::args::open_out(Some(&a.out), a.out.clone())?;
    let opts = crate::experiment::seminar::SeminarOptions {
        out: a.out.clone(),
        quick: a.quick,
        dataset: a.dataset.clone(),
        want,
        data_dir: a.data_dir.clone(),
        seed: a.seed,
        epochs,
        modern: a.modern,
        gpt_steps: a.gpt_steps,
    };
    Ok((opts, out))
}

/// The whole seminar: runs it, then writes its records, figures and report into `out`
/// (`progress` sees the work units done); the folder's files and the report's paths.
pub fn seminar(
    opts: &crate::experiment::seminar::SeminarOptions,
    mut out: OutDir,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64, u64, &str) + Sync),
) -> Result<(crate::experiment::seminar::Seminar, crate::report::seminar::Outcome, Vec<std::path::PathBuf>)> {
    let results = crate::experiment::seminar::run(opts, stop, &|p| progress(p.done, p.total, p.what))?;
    progress(results.done_units, results.total_units, "writing the records, figures and report");
    let outcome = crate::report::seminar::write(&results, &mut out)?;
    let files = out.finish()?;
    progress(results.total_units, results.total_units, "done");
    Ok((results, outcome, files))
}

// ---------------------------------------------------------------- language models

/// A checked language-model training: the model, its text, the runs and the settings.
pub struct LmSetup {
    pub model: crate::nn::Gpt,
    pub data: crate::data::text::TextData,
    pub runs: Vec<RunSpec>,
    pub settings: crate::experiment::lm::LmSettings,
}

/// The checkpoint file of run `i` inside the output folder.
pub fn checkpoint_rel(i: usize, label: &str, seed: u64) -> String {
    format!("checkpoints/{}-{}-seed{seed}.safetensors", i + 1, crate::experiment::presets::slug(label))
}

impl LmSetup {
    /// The checkpoint of run `i` after `step`: the same file during training and at the end.
    pub fn checkpoint_bytes(&self, i: usize, step: usize, params: &[f32]) -> Result<Vec<u8>> {
        let r = &self.runs[i];
        let meta = crate::nn::checkpoint::Meta {
            vocab: self.data.vocab.clone(),
            optimizer: r.config.canonical(),
            seed: r.seed,
            step,
        };
        crate::nn::checkpoint::to_bytes(&self.model, params, &meta)
    }
}

/// Checks everything `train --model gpt` is given before any work (one-line errors, exit 2).
pub fn lm_setup(a: &TrainArgs) -> Result<LmSetup> {
    use crate::data::text::TextData;
    use crate::nn::{Gpt, GptConfig};
    let allow = Allow { large: a.allow_large };
    let steps = check(limits::STEPS, a.steps, allow)?;
    let batch_size = check(limits::BATCH, a.batch_size.unwrap_or(12), allow)?;
    let seeds = check_seeds_and_threads(a, allow)?;
    if a.checkpoint_every == Some(0) {
        return Err(usage("--checkpoint-every 0: give a number of steps ≥ 1"));
    }
    let dataset = a.dataset.as_deref().unwrap_or("shakespeare-char");
    if a.text.is_some() && a.dataset.is_some() {
        return Err(usage("give either --dataset or --text, not both"));
    }
    let data = TextData::load(dataset, a.text.as_deref()).map_err(|e| usage(format!("{e:#}")))?;
    let spec = if a.model.trim().eq_ignore_ascii_case("cnn") { "gpt" } else { a.model.as_str() };
    let cfg = GptConfig::parse(spec, data.vocab.len()).map_err(|e| usage(format!("--model: {e:#}")))?;
    let model = Gpt::new(cfg, allow).map_err(|e| usage(format!("--model: {e:#}")))?;
    let runs = super::training::run_specs_or(&a.optimizers, &[crate::experiment::presets::GPT_ADAMW], a.seed, seeds)?;
    let layout = model.layout();
    for r in &runs {
        r.config.check_layout(&layout).map_err(|e| usage(format!("--optimizer: {e}")))?;
    }
    let settings = crate::experiment::lm::LmSettings {
        steps,
        batch_size,
        eval_every: a.eval_every,
        eval_batches: a.eval_batches,
        checkpoint_every: a.checkpoint_every,
    };
    settings.validate(&model, &data, runs.len(), allow).map_err(usage)?;
    Ok(LmSetup { model, data, runs, settings })
}

/// A language-model training's results.
pub struct LmTraining {
    pub results: Vec<crate::experiment::lm::LmResult>,
    pub seconds: f64,
}

/// Trains every run of `s` (in a pool of `threads`, or all cores).
pub fn train_lm(
    s: &LmSetup,
    threads: Option<usize>,
    stop: &AtomicBool,
    observe: &(dyn Fn(crate::experiment::lm::LmEvent) + Sync),
) -> Result<LmTraining> {
    let t0 = std::time::Instant::now();
    let results = super::training::in_pool(threads, || {
        crate::experiment::lm::train(&s.model, &s.data, &s.runs, &s.settings, stop, observe)
    })?;
    Ok(LmTraining { results, seconds: t0.elapsed().as_secs_f64() })
}

/// The files of `train --model gpt`: history.csv, steps.csv, summary.json, the final
/// checkpoints and the figures.
pub fn write_lm(out: &mut OutDir, s: &LmSetup, t: &LmTraining) -> Result<()> {
    let spec = s.model.cfg.canonical();
    let c = record::lm::LmContext::of(&spec, &s.model, &s.data);
    record::lm::write(out, "", &c, &s.settings, &t.results, t.seconds)?;
    for (i, r) in t.results.iter().enumerate() {
        out.bytes(checkpoint_rel(i, &r.label, r.seed), &s.checkpoint_bytes(i, r.steps.len(), &r.params)?)?;
    }
    figures::lm(out, "", &lm_what(s), &t.results)
}

/// What the language-model figures are of.
pub fn lm_what(s: &LmSetup) -> String {
    format!(
        "{} on {}, batch {}×{}",
        s.model.cfg.canonical(),
        s.data.name,
        s.settings.batch_size,
        s.model.cfg.block_size
    )
}
