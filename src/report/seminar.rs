//! `optlab seminar`: the whole seminar — its six methods compared on its four 2-D functions
//! (with lr = 0.1 for all, then with tuned learning rates) and its two MNIST models trained
//! with its four optimizers — written as one report with conclusions drawn from the numbers
//! measured in this run.

use super::doc::{Block, Report, Section};
use super::observations;
use super::outputs::{write_compare, write_train};
use super::tables;
use crate::data::{self, Dataset, Want};
use crate::experiment::compare::{compare, unique_labels};
use crate::experiment::train::{self, Event, RunResult, RunSpec, TrainSettings};
use crate::experiment::tune::{self, TuneOptions};
use crate::nn;
use crate::objective;
use crate::optim::{registry, OptimizerConfig};
use anyhow::Result;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The seminar's six methods for part 1, all with lr = 0.1 as in its notebook.
pub const PART1_OPTIMIZERS: [&str; 6] =
    ["gd(lr=0.1)", "momentum(lr=0.1)", "nag(lr=0.1)", "adagrad(lr=0.1)", "adadelta(lr=0.1)", "adam(lr=0.1)"];

/// The seminar's four functions, in its order.
pub const PART1_FUNCTIONS: [&str; 4] = ["quadratic", "saddle", "sin-cos", "sin-cos-sq"];

/// The seminar's four optimizers for part 2 (torch defaults, SGD with lr 0.01).
pub const PART2_OPTIMIZERS: [&str; 4] = ["adam", "adagrad", "adadelta", "sgd(lr=0.01)"];

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
        }
    }
}

/// Progress of the whole run: `done` of `total` work units (a 2-D experiment is one unit,
/// an epoch of one training run another), and what is running.
pub struct Progress<'a> {
    pub done: u64,
    pub total: u64,
    pub what: &'a str,
}

/// What the run wrote.
pub struct Outcome {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub seconds: f64,
    /// Every file written, the reports included.
    pub files: Vec<PathBuf>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Runs everything and writes `index.html`, `report.md` and all records into `opts.out`.
pub fn run(opts: &SeminarOptions, stop: &AtomicBool, progress: &(dyn Fn(Progress) + Sync)) -> Result<Outcome> {
    let t0 = Instant::now();
    let out = &opts.out;
    std::fs::create_dir_all(out)?;
    let steps = if opts.quick { 60 } else { 500 };
    let tune_opts = TuneOptions { steps: if opts.quick { 400 } else { 10_000 }, ..Default::default() };
    let epochs = if opts.quick { 2 } else { opts.epochs };
    let limit = if opts.quick { Some(2000) } else { None };
    let data: Dataset = data::load(&opts.dataset, opts.data_dir.as_deref(), opts.want)?;
    let n_train = limit.map_or(data.train.len(), |l| l.min(data.train.len()));
    let units_part1 = 2 * PART1_FUNCTIONS.len() as u64 + 1;
    let units_per_model = (PART2_OPTIMIZERS.len() * epochs) as u64;
    let total = units_part1 + 2 * units_per_model + if opts.modern { super::modern::units(epochs) } else { 0 };
    let done = std::sync::atomic::AtomicU64::new(0);
    let tick = |what: &str, n: u64| {
        let d = done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        progress(Progress { done: d, total, what });
    };
    let mut files = Vec::new();
    let mut report =
        Report { title: "Seminar 7: optimization methods — reproduced by optlab".into(), ..Default::default() };

    // ---- the methods
    let configs: Vec<OptimizerConfig> =
        PART1_OPTIMIZERS.iter().map(|s| OptimizerConfig::parse(s).expect("valid")).collect();
    let mut methods = Vec::new();
    for name in ["gd", "momentum", "nag", "adagrad", "adadelta", "adam"] {
        let info = registry::method(name).expect("known");
        methods.push(format!("{:<9} {}", info.name, info.formula));
    }
    report.sections.push(Section {
        level: 2,
        title: "1.1 The methods".into(),
        blocks: vec![
            Block::Para("The seminar implements six methods. optlab's versions follow torch.optim where PyTorch has the method (Adagrad, Adadelta, Adam: same update rule, defaults and rounding, checked against PyTorch's own trajectories); GD, Momentum and NAG follow the seminar's formulas.".into()),
            Block::Pre(methods.join("\n")),
            Block::List(vec![
                "The seminar's Adam divides m and v by (1 − βᵗ) in place every step, so its bias correction compounds; optlab applies the correction to copies, as the paper and PyTorch do.".into(),
                "The seminar's Adadelta uses a decay of 0.1 (PyTorch: 0.9) and ignores the learning rate; optlab follows PyTorch, so adadelta(lr=0.1) below scales every step by 0.1.".into(),
                "The seminar's Adagrad puts ε inside the square root (lr/√(s + ε), ε = 1e-8); PyTorch and optlab use lr/(√s + ε) with ε = 1e-10.".into(),
                "NAG takes its gradient at the look-ahead point θ − γm; it is the same method as sgd(momentum=γ, nesterov=true), which records the look-ahead point itself.".into(),
            ]),
        ],
    });

    // ---- part 1
    let mut conclusions: Vec<String> = Vec::new();
    for (fi, name) in PART1_FUNCTIONS.iter().enumerate() {
        let f = objective::builtin(name).expect("seminar function").function();
        let start = f.start;
        let dir = out.join("part1").join(name);
        let mut blocks = vec![Block::Para(format!(
            "J(x, y) = {}. All six methods start from ({}, {}) and take {steps} steps with lr = 0.1, as in the seminar.",
            f.formula, start[0], start[1]
        ))];
        let runs = compare(&f, &configs, start, steps, Default::default());
        files.extend(write_compare(
            &dir.join("lr0.1"),
            &f,
            &runs,
            start,
            steps,
            &format!("lr = 0.1 for all, {steps} steps"),
            false,
        )?);
        blocks.push(Block::Table(tables::summary_table(&runs)));
        let obs = observations::part1(&runs, steps, f.bounded_below);
        blocks.push(Block::List(obs.clone()));
        for (stem, cap) in [
            ("contour", "trajectories over the contours"),
            ("surface", "trajectories on the surface"),
            ("loss", "loss per step"),
        ] {
            blocks.push(Block::Figure {
                stem: dir.join("lr0.1").join(stem),
                caption: format!("{name}, lr = 0.1: {cap}"),
            });
        }
        tick(&format!("part 1: {name}, lr = 0.1"), 1);
        let mut sub = vec![];
        match tune::tune(&f, &configs, start, &tune_opts) {
            Ok((target, tuned)) => {
                let cfgs: Vec<OptimizerConfig> =
                    configs.iter().zip(&tuned).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
                let need = tuned.iter().filter_map(|t| t.steps).max().unwrap_or(0);
                let tsteps = steps.max(need + need / 5 + 1);
                let truns = compare(&f, &cfgs, start, tsteps, Default::default());
                let tdir = dir.join("tuned");
                files.extend(write_compare(
                    &tdir,
                    &f,
                    &truns,
                    start,
                    tsteps,
                    &format!("tuned lr, {tsteps} steps"),
                    false,
                )?);
                crate::record::write_json(
                    &dir.join("tune.json"),
                    &serde_json::json!({"target": target, "results": tuned}),
                )?;
                files.push(dir.join("tune.json"));
                sub.push(Block::Para(format!(
                    "The seminar asks for parameters with which every method reaches the nearest local minimum. {} optlab searched each method's lr over 1e-4..10 (log grid, then refinement) for the fewest steps to stay within {} of it.",
                    tables::target_line(&target).map(|t| format!("The start descends to the {}.", t.trim_start_matches("target: "))).unwrap_or_default(),
                    tables::sig(crate::experiment::convergence_tol(&f))
                )));
                sub.push(Block::Table(tables::tune_table(&tuned)));
                sub.push(Block::Table(tables::summary_table(&truns)));
                let tobs = observations::part1(&truns, tsteps, f.bounded_below);
                if let Some(first) = tobs.first() {
                    conclusions.push(format!("{name} with tuned lr: {first}"));
                }
                sub.push(Block::List(tobs));
                for (stem, cap) in [
                    ("contour", "trajectories over the contours"),
                    ("surface", "trajectories on the surface"),
                    ("loss", "loss per step"),
                ] {
                    sub.push(Block::Figure { stem: tdir.join(stem), caption: format!("{name}, tuned lr: {cap}") });
                }
            }
            Err(reason) => {
                sub.push(Block::Para(format!("Nothing to tune: {reason}.")));
                conclusions.push(format!("{name}: no minimum to reach ({reason})."));
            }
        }
        if let Some(first) = obs.first() {
            conclusions.push(format!("{name} with lr = 0.1: {first}"));
        }
        tick(&format!("part 1: {name}, tuned"), 1);
        report.sections.push(Section { level: 2, title: format!("1.{} {}", fi + 2, name), blocks });
        report.sections.push(Section {
            level: 3,
            title: format!("1.{} {} with tuned learning rates", fi + 2, name),
            blocks: sub,
        });
    }

    // ---- basin maps of the seminar's six on its two sin functions
    let (grid, map_steps) = if opts.quick { (48, 100) } else { (256, 500) };
    let named: Vec<(String, OptimizerConfig)> =
        unique_labels(&configs).into_iter().zip(configs.iter().cloned()).collect();
    let mut blocks = vec![Block::Para(format!(
        "One start says little about an optimizer. Here every method (lr = 0.1) starts from each of {grid}×{grid} points of [−10, 10]² and takes {map_steps} steps: the colour of a point is the local minimum it ends in, darker the more steps it took; black means it diverged, grey that it did not converge."
    ))];
    for name in ["sin-cos", "sin-cos-sq"] {
        let f = objective::builtin(name).expect("seminar function").function();
        let maps = crate::experiment::map::map(
            &f,
            &named,
            &crate::experiment::map::MapOptions { grid, steps: map_steps, domain: f.domain, shape: Default::default() },
        );
        let dir = out.join("part1").join(name).join("maps");
        files.extend(super::outputs::write_map(&dir, &f, &maps, map_steps)?);
        blocks.push(Block::Table(super::outputs::map_table(&maps)));
        let best = maps
            .iter()
            .map(|m| (m, crate::experiment::map::summarize(m)))
            .max_by(|a, b| a.1.basin_shares.iter().sum::<f64>().total_cmp(&b.1.basin_shares.iter().sum::<f64>()));
        if let Some((m, s)) = best {
            let line = format!(
                "{name}: {} converged from the most starts, {:.1}% of them ({} minima reached in all).",
                m.label,
                100.0 * s.basin_shares.iter().sum::<f64>(),
                m.minima.len()
            );
            blocks.push(Block::List(vec![line.clone()]));
            conclusions.push(line);
        }
        blocks.push(Block::Figure {
            stem: dir.join("panel"),
            caption: format!("{name}: basins of the six methods, lr = 0.1"),
        });
    }
    tick("part 1: basin maps", 1);
    report.sections.push(Section { level: 2, title: "1.6 Basin maps".into(), blocks });

    // ---- part 2
    let specs: Vec<OptimizerConfig> =
        PART2_OPTIMIZERS.iter().map(|s| OptimizerConfig::parse(s).expect("valid")).collect();
    let labels = unique_labels(&specs);
    let runs: Vec<RunSpec> = specs
        .iter()
        .zip(&labels)
        .map(|(c, l)| RunSpec { label: l.clone(), config: c.clone(), seed: opts.seed })
        .collect();
    let settings = TrainSettings {
        epochs,
        batch_size: 32,
        limit_train: limit,
        limit_test: limit.map(|l| l / 2),
        ..Default::default()
    };
    for (mi, (model_name, what)) in
        [("mlp", "a fully connected network"), ("cnn", "a convolutional network")].iter().enumerate()
    {
        let model = nn::build(model_name, data.input_shape(), crate::limits::Allow::DEFAULT)?;
        let label = format!("part 2: {model_name}");
        let t = Instant::now();
        let results: Vec<RunResult> = train::train(&model, &data, &runs, &settings, stop, &|e| {
            if let Event::Epoch { .. } = e {
                tick(&label, 1);
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let dir = out.join("part2").join(model_name);
        let written = write_train(&dir, &model, &data, &settings, &results, secs)?;
        files.extend(written.files);
        let found = observations::part2(&results);
        let mut blocks = vec![Block::Para(format!(
            "{} ({} parameters), trained on {} training images of {} ({}), batch 32, {epochs} epochs, seed {}. Every optimizer starts from the same initial weights and sees the same batches (the seminar reused one model for all four, so each continued from the previous one's weights). Wall time {:.1} s.",
            describe(model_name), model.n_params, n_train, data.name, data.source, opts.seed, secs
        ))];
        blocks.push(Block::Table(tables::train_table(&results)));
        blocks.push(Block::List(found.facts.clone()));
        blocks.push(Block::Figure {
            stem: dir.join("curves_grid"),
            caption: format!(
                "{model_name}: mean training loss per epoch, one panel per optimizer (the seminar's figure)"
            ),
        });
        blocks.push(Block::Figure {
            stem: dir.join("curves"),
            caption: format!("{model_name}: all optimizers, training loss and test accuracy"),
        });
        let claims = seminar_claims(model_name, &results, &found);
        if !claims.is_empty() {
            blocks.push(Block::Para("The seminar's conclusions, checked against this run. Note that the seminar trained its four optimizers one after another on the same model object, so every optimizer after the first started from an already trained network; its curves mix that effect into the comparison, optlab's do not.".into()));
            blocks.push(Block::List(claims.clone()));
        }
        conclusions.extend(found.facts.iter().take(3).map(|f| format!("{model_name}: {f}")));
        conclusions.extend(claims.into_iter().map(|c| format!("{model_name}: {c}")));
        report.sections.push(Section {
            level: 2,
            title: format!("2.{} {model_name}: {what} on {}", mi + 1, data.name),
            blocks,
        });
    }
    if opts.modern {
        let m = super::modern::run(
            out,
            &PART1_FUNCTIONS,
            steps,
            &tune_opts,
            &data,
            &settings,
            opts.seed,
            stop,
            &|what: &str, n: u64| tick(what, n),
        )?;
        report.sections.extend(m.sections);
        conclusions.extend(m.conclusions);
        files.extend(m.files);
    }
    report.sections.push(Section {
        level: 2,
        title: "Conclusions".into(),
        blocks: vec![
            Block::Para("Drawn from the numbers measured in this run (the tables above hold all of them):".into()),
            Block::List(conclusions),
        ],
    });

    let seconds = t0.elapsed().as_secs_f64();
    report.meta = vec![
        ("machine".into(), machine()),
        ("kernels".into(), format!("{} ({})", crate::kernels::active(), crate::kernels::active().describe())),
        ("optlab".into(), format!("{} ({})", env!("CARGO_PKG_VERSION"), if opts.quick { "quick smoke run" } else { "full run" })),
        ("seed".into(), opts.seed.to_string()),
        ("data".into(), format!("{}: {} training / {} test images from {}", data.name, n_train, settings.limit_test.map_or(data.test.len(), |l| l.min(data.test.len())), data.source)),
        ("part 1".into(), format!("{} methods × {} functions from (8, 0.1), {steps} steps (longer with tuned lr)", configs.len(), PART1_FUNCTIONS.len())),
        ("part 2".into(), format!("mlp and cnn × {} × {epochs} epochs, batch 32", PART2_OPTIMIZERS.join(", "))),
        ("total run time".into(), format!("{seconds:.1} s")),
        ("records".into(), format!("part1/<function>/(lr0.1|tuned)/{{trajectories.csv, summary.json}}, part2/<model>/{{history.csv, steps.csv, summary.json}} under {}", out.display())),
    ];
    let html = out.join("index.html");
    let markdown = out.join("report.md");
    crate::record::write_atomic(&html, report.to_html()?.as_bytes())?;
    crate::record::write_atomic(&markdown, report.to_markdown(out).as_bytes())?;
    files.push(html.clone());
    files.push(markdown.clone());
    Ok(Outcome { html, markdown, seconds, files })
}

fn describe(model: &str) -> &'static str {
    match model {
        "mlp" => "The seminar's MLP, Linear(784,64) → Linear(64,10) → LogSoftmax (no activation between the layers)",
        _ => "The seminar's CNN, Conv2d(1,3,3,padding=1) → ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax",
    }
}

/// The seminar's written conclusions about part 2, each checked against this run's numbers.
fn seminar_claims(model: &str, results: &[RunResult], found: &observations::Part2Findings) -> Vec<String> {
    let last = |name: &str| {
        results.iter().find(|r| r.label.starts_with(name)).and_then(|r| r.epochs.last()).map(|e| e.train_loss)
    };
    let verdict = |ok: bool| if ok { "agrees" } else { "does not agree" };
    let mut out = Vec::new();
    let (adam, adagrad, adadelta, sgd) = (last("adam"), last("adagrad"), last("adadelta"), last("sgd"));
    let stable = found.most_stable.clone().unwrap_or_default();
    if model == "mlp" {
        out.push(format!(
            "\"Adam trains most stably\": the most stable here is {stable} — {}.",
            verdict(stable.starts_with("adam("))
        ));
        if let (Some(a), Some(ag), Some(ad), Some(s)) = (adam, adagrad, adadelta, sgd) {
            let ok = ag < a.min(ad) && s < a.min(ad);
            out.push(format!(
                "\"Adagrad and SGD reach lower values\": final training loss adagrad {ag:.4}, sgd {s:.4} vs adam {a:.4}, adadelta {ad:.4} — {}.",
                verdict(ok)
            ));
        }
    } else {
        if let Some(r) = results.iter().find(|r| r.label.starts_with("adadelta")) {
            let g = observations::recent_gain(r, 5).unwrap_or(f64::NAN);
            out.push(format!(
                "\"Adadelta stopped converging\": adadelta's training loss still fell by {:.2}% over the last 5 epochs — {}.",
                100.0 * g,
                verdict(g < 0.01)
            ));
        }
        if let Some(best) = &found.lowest {
            out.push(format!(
                "\"Adagrad showed the best results\": the lowest final training loss here is {best}'s — {}.",
                verdict(best.starts_with("adagrad("))
            ));
        }
        let (n_sgd, _) =
            results.iter().find(|r| r.label.starts_with("sgd")).map(observations::rises).unwrap_or((0, 0.0));
        let max_rises = results.iter().map(|r| observations::rises(r).0).max().unwrap_or(0);
        out.push(format!(
            "\"SGD converges unstably\": sgd's training loss rose in {n_sgd} epochs (the most of any optimizer: {max_rises}) — {}.",
            verdict(n_sgd > 0 && n_sgd == max_rises)
        ));
    }
    out
}
