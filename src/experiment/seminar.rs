//! The seminar pipeline: its six methods compared on its four 2-D functions (lr = 0.1 for
//! all, then tuned), basin maps, its two MNIST models trained with its four optimizers and,
//! optionally, the same with five modern methods. It only runs experiments and returns
//! their results; `report::seminar` writes the records, figures and the report.

use super::compare::{compare, unique_labels, Run};
use super::lm::{self, LmEvent, LmResult, LmSettings};
use super::map::{self, MapOptions, MapResult};
use super::presets::{modern_gpt, MODERN_2D, MODERN_NN, PART1_FUNCTIONS, PART1_OPTIMIZERS, PART2_OPTIMIZERS};
use super::sample::sample;
use super::train::{self, Event, RunResult, RunSpec, TrainSettings};
use super::tune::{self, Target, TuneOptions, Tuned};
use crate::data::text::TextData;
use crate::data::{self, Dataset, Want};
use crate::nn::{self, Gpt, GptConfig, Model};
use crate::objective::{self, Function};
use crate::optim::{OptimizerConfig, Shape2};
use anyhow::Result;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// What to run.
#[derive(Clone, Debug)]
pub struct SeminarOptions {
    pub out: PathBuf,
    /// A smoke run: 60 steps, coarse tuning, 2 epochs on 2,000 images.
    pub quick: bool,
    pub dataset: String,
    pub want: Want,
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
    pub epochs: usize,
    /// Add section 3: the comparison repeated with lion, sf-adamw, muon, prodigy and soap.
    pub modern: bool,
    /// Steps of section 3's character-level GPT runs (0: no GPT).
    pub gpt_steps: usize,
}

impl Default for SeminarOptions {
    fn default() -> Self {
        SeminarOptions {
            out: "out/seminar".into(),
            quick: false,
            dataset: "mnist".into(),
            want: Want::Subset,
            data_dir: None,
            seed: 0,
            epochs: 20,
            modern: false,
            gpt_steps: 200,
        }
    }
}

/// Progress of the whole run: `done` of `total` work units (a 2-D experiment is one unit,
/// an epoch of one training run another, writing the report the last), and what is running.
pub struct Progress<'a> {
    pub done: u64,
    pub total: u64,
    pub what: &'a str,
}

/// Runs with tuned learning rates.
pub struct TunedRuns {
    pub target: Target,
    pub tuned: Vec<Tuned>,
    /// Steps of the runs: enough for the slowest tuned method to converge.
    pub steps: usize,
    pub runs: Vec<Run>,
}

/// One function of part 1.
pub struct Part1 {
    pub function: Function,
    pub runs: Vec<Run>,
    /// Tuned runs, or why there is nothing to tune.
    pub tuned: Result<TunedRuns, String>,
}

/// Basin maps of the six methods on one function.
pub struct Maps {
    pub function: Function,
    pub maps: Vec<MapResult>,
}

/// One network trained with several optimizers.
pub struct Training {
    pub model: Model,
    pub results: Vec<RunResult>,
    pub seconds: f64,
}

/// Section 3.
pub struct Modern {
    pub configs: Vec<OptimizerConfig>,
    pub part1: Vec<(Function, Result<TunedRuns, String>)>,
    pub training: Vec<Training>,
    pub gpt: Option<GptRuns>,
}

/// Section 3's character-level GPT on tiny Shakespeare, one run per method.
pub struct GptRuns {
    pub model: Gpt,
    pub data: TextData,
    pub settings: LmSettings,
    pub results: Vec<LmResult>,
    /// Per run: text sampled from its final parameters after [`GPT_PROMPT`].
    pub samples: Vec<String>,
    pub seconds: f64,
}

/// The prompt of section 3's samples.
pub const GPT_PROMPT: &str = "ROMEO:";

/// Trains the GPT with each of `modern_gpt(steps)` and samples 300 characters from each
/// (temperature 0.8, top 40, seed 1).
fn train_gpt(steps: usize, seed: u64, stop: &AtomicBool, tick: &(dyn Fn(&str, u64) + Sync)) -> Result<GptRuns> {
    let data = TextData::shakespeare()?;
    let model = Gpt::new(GptConfig::default_for(data.vocab.len()), crate::limits::Allow::DEFAULT)?;
    let runs: Vec<RunSpec> = modern_gpt(steps)
        .into_iter()
        .map(|(label, spec)| {
            let config = OptimizerConfig::parse(&spec).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
            config.check_layout(&model.layout()).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
            Ok(RunSpec { label: label.to_string(), config, seed })
        })
        .collect::<Result<_>>()?;
    let settings = LmSettings { steps, eval_every: (steps / 4).max(1), eval_batches: 10, ..LmSettings::default() };
    let t = Instant::now();
    let results = lm::train(&model, &data, &runs, &settings, stop, &|e| {
        if let LmEvent::Finished { run, .. } = e {
            tick(&format!("modern: gpt, {}", runs[run].label), 1);
        }
    });
    let seconds = t.elapsed().as_secs_f64();
    let prompt = data.encode(GPT_PROMPT).map_err(|c| anyhow::anyhow!("the prompt's {c:?} is not in the vocabulary"))?;
    let samples = results
        .iter()
        .map(|r| {
            let mut context = prompt.clone();
            data.decode(&sample(&model, &r.params, &mut context, 300, 0.8, 40, 1))
        })
        .collect();
    Ok(GptRuns { model, data, settings, results, samples, seconds })
}

/// What the data was.
pub struct DataInfo {
    pub name: String,
    pub source: String,
    pub train_samples: usize,
    /// Test images in the files.
    pub test_total: usize,
    /// Test images used.
    pub test_samples: usize,
    pub mean: f32,
    pub std: f32,
}

/// Everything the seminar measured.
pub struct Seminar {
    pub opts: SeminarOptions,
    pub started: Instant,
    /// Steps of the lr = 0.1 runs.
    pub steps: usize,
    pub epochs: usize,
    pub configs: Vec<OptimizerConfig>,
    pub part1: Vec<Part1>,
    pub map_grid: usize,
    pub map_steps: usize,
    pub maps: Vec<Maps>,
    pub data: DataInfo,
    pub settings: TrainSettings,
    pub part2: Vec<Training>,
    pub modern: Option<Modern>,
    /// Ctrl-C stopped the training; the results hold the completed epochs.
    pub interrupted: bool,
    /// Work units in all, the last being the report.
    pub total_units: u64,
    pub done_units: u64,
}

fn parse_all(specs: &[&str]) -> Vec<OptimizerConfig> {
    specs.iter().map(|s| OptimizerConfig::parse(s).expect("the presets are valid specs")).collect()
}

/// Tunes `configs` on `f` from its start and reruns them with the tuned lr, long enough for
/// the slowest to converge.
fn tuned_runs(
    f: &Function,
    configs: &[OptimizerConfig],
    steps: usize,
    tune_opts: &TuneOptions,
) -> Result<TunedRuns, String> {
    let (target, tuned) = tune::tune(f, configs, f.start, tune_opts)?;
    let cfgs: Vec<OptimizerConfig> =
        configs.iter().zip(&tuned).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
    let need = tuned.iter().filter_map(|t| t.steps).max().unwrap_or(0);
    let tsteps = steps.max(need + need / 5 + 1);
    let runs = compare(f, &cfgs, f.start, tsteps, tune_opts.shape);
    Ok(TunedRuns { target, tuned, steps: tsteps, runs })
}

fn train_all(
    names: &[&str],
    data: &Dataset,
    runs: &[RunSpec],
    settings: &TrainSettings,
    stop: &AtomicBool,
    tick: &(dyn Fn(&str, u64) + Sync),
    prefix: &str,
) -> Result<Vec<Training>> {
    let mut out = Vec::new();
    for name in names {
        let model = nn::build(name, data.input_shape(), crate::limits::Allow::DEFAULT)?;
        let label = format!("{prefix}: {name}");
        let t = Instant::now();
        let results = train::train(&model, data, runs, settings, stop, &|e| {
            if let Event::Epoch { .. } = e {
                tick(&label, 1);
            }
        });
        out.push(Training { model, results, seconds: t.elapsed().as_secs_f64() });
    }
    Ok(out)
}

/// Runs everything the seminar does.
pub fn run(opts: &SeminarOptions, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync)) -> Result<Seminar> {
    let started = Instant::now();
    let steps = if opts.quick { 60 } else { 500 };
    let tune_opts = TuneOptions { steps: if opts.quick { 400 } else { 10_000 }, ..Default::default() };
    let epochs = if opts.quick { 2 } else { opts.epochs };
    let limit = if opts.quick { Some(2000) } else { None };
    let data: Dataset = data::load(&opts.dataset, opts.data_dir.as_deref(), opts.want)?;
    let n_train = limit.map_or(data.train.len(), |l| l.min(data.train.len()));
    let units_part1 = 2 * PART1_FUNCTIONS.len() as u64 + 1;
    let units_per_model = (PART2_OPTIMIZERS.len() * epochs) as u64;
    let gpt_steps = if opts.quick { opts.gpt_steps.min(4) } else { opts.gpt_steps };
    let gpt_runs = if gpt_steps > 0 { modern_gpt(gpt_steps).len() } else { 0 };
    let units_modern = (PART1_FUNCTIONS.len() + 2 * MODERN_NN.len() * epochs + gpt_runs) as u64;
    let total = units_part1 + 2 * units_per_model + if opts.modern { units_modern } else { 0 } + 1;
    let done = AtomicU64::new(0);
    let tick = |what: &str, n: u64| {
        let d = done.fetch_add(n, Ordering::Relaxed) + n;
        progress(Progress { done: d, total, what });
    };

    // ---- part 1: the six methods with lr = 0.1, then tuned
    let configs = parse_all(&PART1_OPTIMIZERS);
    let mut part1 = Vec::new();
    for name in PART1_FUNCTIONS {
        let function = objective::builtin(name).expect("seminar function").function();
        let runs = compare(&function, &configs, function.start, steps, Shape2::default());
        tick(&format!("part 1: {name}, lr = 0.1"), 1);
        let tuned = tuned_runs(&function, &configs, steps, &tune_opts);
        tick(&format!("part 1: {name}, tuned"), 1);
        part1.push(Part1 { function, runs, tuned });
    }

    // ---- basin maps of the six on the two sin functions
    let (map_grid, map_steps) = if opts.quick { (48, 100) } else { (256, 500) };
    let named: Vec<(String, OptimizerConfig)> =
        unique_labels(&configs).into_iter().zip(configs.iter().cloned()).collect();
    let mut maps = Vec::new();
    for name in ["sin-cos", "sin-cos-sq"] {
        let function = objective::builtin(name).expect("seminar function").function();
        let o = MapOptions { grid: map_grid, steps: map_steps, domain: function.domain, shape: Shape2::default() };
        let m = map::map(&function, &named, &o);
        maps.push(Maps { function, maps: m });
    }
    tick("part 1: basin maps", 1);

    // ---- part 2: the two networks with the four optimizers
    let specs = parse_all(&PART2_OPTIMIZERS);
    let runs: Vec<RunSpec> = specs
        .iter()
        .zip(unique_labels(&specs))
        .map(|(c, label)| RunSpec { label, config: c.clone(), seed: opts.seed })
        .collect();
    let settings = TrainSettings {
        epochs,
        batch_size: 32,
        limit_train: limit,
        limit_test: limit.map(|l| l / 2),
        ..Default::default()
    };
    let part2 = train_all(&["mlp", "cnn"], &data, &runs, &settings, stop, &tick, "part 2")?;

    // ---- section 3: modern methods
    let modern = if opts.modern {
        let configs = parse_all(&MODERN_2D);
        let topts = TuneOptions { shape: Shape2::Row, ..tune_opts.clone() };
        let mut p1 = Vec::new();
        for name in PART1_FUNCTIONS {
            let function = objective::builtin(name).expect("seminar function").function();
            let t = tuned_runs(&function, &configs, steps, &topts);
            tick(&format!("modern: {name}"), 1);
            p1.push((function, t));
        }
        let specs = parse_all(&MODERN_NN);
        let runs: Vec<RunSpec> = unique_labels(&specs)
            .into_iter()
            .zip(&specs)
            .map(|(label, c)| RunSpec { label, config: c.clone(), seed: opts.seed })
            .collect();
        let training = train_all(&["mlp", "cnn"], &data, &runs, &settings, stop, &tick, "modern")?;
        let gpt = if gpt_steps > 0 { Some(train_gpt(gpt_steps, opts.seed, stop, &tick)?) } else { None };
        Some(Modern { configs, part1: p1, training, gpt })
    } else {
        None
    };

    let data_info = DataInfo {
        name: data.name.clone(),
        source: data.source.clone(),
        train_samples: n_train,
        test_total: data.test.len(),
        test_samples: settings.limit_test.map_or(data.test.len(), |l| l.min(data.test.len())),
        mean: data.mean,
        std: data.std,
    };
    Ok(Seminar {
        opts: opts.clone(),
        started,
        steps,
        epochs,
        configs,
        part1,
        map_grid,
        map_steps,
        maps,
        data: data_info,
        settings,
        part2,
        modern,
        interrupted: stop.load(Ordering::Relaxed),
        total_units: total,
        done_units: done.load(Ordering::Relaxed),
    })
}
