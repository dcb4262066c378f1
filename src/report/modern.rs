//! `optlab seminar --modern`: the seminar's comparison repeated with five methods that came
//! after it — Lion, Schedule-Free AdamW, Muon (with AdamW on what is not a matrix),
//! Prodigy and SOAP — on its four functions (each method's lr tuned as the seminar asks)
//! and on its two networks.

use super::doc::{Block, Section};
use super::observations;
use super::outputs::{write_compare, write_train};
use super::tables;
use crate::data::Dataset;
use crate::experiment::compare::{compare, unique_labels};
use crate::experiment::train::{self, Event, RunResult, RunSpec, TrainSettings};
use crate::experiment::tune::{self, TuneOptions};
use crate::nn;
use crate::objective;
use crate::optim::{OptimizerConfig, Shape2};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// The modern methods of the section (their reference defaults; the lr is tuned in part 1).
pub const MODERN_2D: [&str; 5] = ["lion", "sf-adamw", "muon", "prodigy", "soap"];

/// The same methods for the networks, at learning rates their references recommend for such
/// models (Lion: 3–10× below Adam's; Muon's own default for the weights, AdamW on biases).
pub const MODERN_NN: [&str; 5] = [
    "lion(lr=1e-4)",
    "sf-adamw(lr=2.5e-3)",
    "muon(lr=0.02, fallback=adamw(lr=1e-3))",
    "prodigy",
    "soap(lr=3e-3, max_precondition_dim=128)",
];

/// What the section produced.
pub struct ModernOutcome {
    pub sections: Vec<Section>,
    pub conclusions: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// Work units of the section: two per function, one per epoch of each network run.
pub fn units(epochs: usize) -> u64 {
    (4 + 2 * MODERN_NN.len() * epochs) as u64
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    out: &Path,
    functions: &[&str],
    steps: usize,
    tune_opts: &TuneOptions,
    data: &Dataset,
    settings: &TrainSettings,
    seed: u64,
    stop: &AtomicBool,
    tick: &(dyn Fn(&str, u64) + Sync),
) -> Result<ModernOutcome> {
    let out = out.join("modern");
    let mut files = Vec::new();
    let mut conclusions = Vec::new();
    let configs: Vec<OptimizerConfig> =
        MODERN_2D.iter().map(|s| OptimizerConfig::parse(s).expect("registered method")).collect();
    let shape = Shape2::Row;
    let tune_opts = TuneOptions { shape, ..tune_opts.clone() };
    let mut methods: Vec<String> =
        configs.iter().map(|c| format!("{:<9} {}   [{}]", c.name(), c.method.formula, c.method.reference)).collect();
    methods.sort();
    let mut blocks = vec![
        Block::Para("The seminar's comparison repeated with five methods from after it, each following its reference implementation (checked against the reference's own trajectories). The point (x, y) is held as a 1×2 matrix, so Muon orthogonalises and SOAP preconditions it as they would a weight matrix; Schedule-Free takes its gradients at y and reports the averaged point x, which is what is drawn.".into()),
        Block::Pre(methods.join("\n")),
    ];
    for name in functions {
        let f = objective::builtin(name).expect("seminar function").function();
        let start = f.start;
        let dir = out.join("part1").join(name);
        match tune::tune(&f, &configs, start, &tune_opts) {
            Ok((target, tuned)) => {
                let cfgs: Vec<OptimizerConfig> =
                    configs.iter().zip(&tuned).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
                let need = tuned.iter().filter_map(|t| t.steps).max().unwrap_or(0);
                let tsteps = steps.max(need + need / 5 + 1);
                let runs = compare(&f, &cfgs, start, tsteps, shape);
                files.extend(write_compare(
                    &dir,
                    &f,
                    &runs,
                    start,
                    tsteps,
                    &format!("modern, tuned lr, {tsteps} steps"),
                    true,
                )?);
                blocks.push(Block::Para(format!(
                    "{name}: J(x, y) = {}, from ({}, {}). {}",
                    f.formula,
                    start[0],
                    start[1],
                    tables::target_line(&target).unwrap_or_default()
                )));
                blocks.push(Block::Table(tables::tune_table(&tuned)));
                blocks.push(Block::Table(tables::summary_table(&runs)));
                let obs = observations::part1(&runs, tsteps, f.bounded_below);
                if let Some(first) = obs.first() {
                    conclusions.push(format!("modern methods on {name}: {first}"));
                }
                blocks.push(Block::List(obs));
                blocks.push(Block::Figure {
                    stem: dir.join("contour"),
                    caption: format!("{name}: the modern methods with tuned lr over the contours"),
                });
                blocks.push(Block::Figure {
                    stem: dir.join("loss"),
                    caption: format!("{name}: loss per function evaluation"),
                });
            }
            Err(reason) => blocks.push(Block::Para(format!("{name}: nothing to tune: {reason}."))),
        }
        tick(&format!("modern: {name}"), 1);
    }
    let mut sections =
        vec![Section { level: 2, title: "3.1 Modern methods on the seminar's functions".into(), blocks }];

    let specs: Vec<OptimizerConfig> =
        MODERN_NN.iter().map(|s| OptimizerConfig::parse(s).expect("registered method")).collect();
    let runs: Vec<RunSpec> = unique_labels(&specs)
        .into_iter()
        .zip(&specs)
        .map(|(label, c)| RunSpec { label, config: c.clone(), seed })
        .collect();
    for (mi, model_name) in ["mlp", "cnn"].iter().enumerate() {
        let model = nn::build(model_name, data.input_shape(), crate::limits::Allow::DEFAULT)?;
        let label = format!("modern: {model_name}");
        let t = std::time::Instant::now();
        let results: Vec<RunResult> = train::train(&model, data, &runs, settings, stop, &|e| {
            if let Event::Epoch { .. } = e {
                tick(&label, 1);
            }
        });
        let secs = t.elapsed().as_secs_f64();
        let dir = out.join("part2").join(model_name);
        let written = write_train(&dir, &model, data, settings, &results, secs)?;
        files.extend(written.files);
        let found = observations::part2(&results);
        conclusions.extend(found.facts.iter().take(2).map(|f| format!("modern methods, {model_name}: {f}")));
        sections.push(Section {
            level: 2,
            title: format!("3.{} Modern methods training the {model_name}", mi + 2),
            blocks: vec![
                Block::Para(format!(
                    "The same training as in part 2 ({} epochs, batch {}, the same initial weights and batches), with the modern methods. Wall time {secs:.1} s.",
                    settings.epochs, settings.batch_size
                )),
                Block::Table(tables::train_table(&results)),
                Block::List(found.facts),
                Block::Figure {
                    stem: dir.join("curves"),
                    caption: format!("{model_name}: the modern methods, training loss and test accuracy"),
                },
            ],
        });
    }
    Ok(ModernOutcome { sections, conclusions, files })
}
