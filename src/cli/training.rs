//! `train`, `data fetch` and `bench`: the MNIST side of the command line.

use super::commands::{parse_optimizers, render_table, usage};
use super::TrainArgs;
use crate::data::{self, Dataset, Want};
use crate::experiment::compare::unique_labels;
use crate::experiment::train::{self, Event, RunResult, RunSpec, RunStatus, TrainSettings};
use crate::nn::{self, Model};
use crate::plot::{self, curves};
use crate::record;
use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Set by Ctrl-C: runs stop at the next step and keep their completed epochs.
pub static STOP: AtomicBool = AtomicBool::new(false);

fn install_ctrlc() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: finishing the records of completed epochs (press again to quit at once)");
    });
}

/// The seminar's four optimizers for part 2 (torch defaults, SGD with lr 0.01).
pub const SEMINAR_NN_OPTIMIZERS: [&str; 4] = ["adam", "adagrad", "adadelta", "sgd(lr=0.01)"];

fn load_dataset(name: &str, dir: Option<&Path>, want: Want) -> Result<Dataset> {
    data::load(name, dir, want).map_err(|e| usage(format!("{e:#}")))
}

/// Progress display: bars on a terminal, one line per epoch otherwise.
struct Progress {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    labels: Vec<String>,
    epochs: usize,
}

impl Progress {
    fn new(runs: &[RunSpec], epochs: usize, steps_per_epoch: usize) -> Progress {
        let labels: Vec<String> = runs.iter().map(|r| format!("{} seed {}", r.label, r.seed)).collect();
        if !std::io::stdout().is_terminal() {
            return Progress { bars: None, labels, epochs };
        }
        let mp = MultiProgress::new();
        let width = labels.iter().map(|l| l.len()).max().unwrap_or(8);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:<{width}}} {{percent:>3}}%|{{bar:28}}| {{msg}} [{{elapsed_precise}}<{{eta_precise}}]"
        ))
        .expect("valid template")
        .progress_chars("█▉▊▋▌▍▎▏ ");
        let bars = labels
            .iter()
            .map(|l| {
                let b = mp.add(ProgressBar::new((epochs * steps_per_epoch) as u64));
                b.set_style(style.clone());
                b.set_prefix(l.clone());
                b
            })
            .collect();
        Progress { bars: Some((mp, bars)), labels, epochs }
    }

    fn observe(&self, e: Event) {
        match (&self.bars, e) {
            (Some((_, bars)), Event::Step { run, epoch, step, steps_per_epoch, loss }) => {
                bars[run].set_position(((epoch - 1) * steps_per_epoch + step) as u64);
                bars[run].set_message(format!("epoch {epoch}/{} loss {loss:.4}", self.epochs));
            }
            (Some((_, bars)), Event::Finished { run, status }) => match status {
                RunStatus::Completed => bars[run].finish(),
                RunStatus::Diverged { epoch, step } => {
                    bars[run].abandon_with_message(format!("diverged at epoch {epoch}, step {step}"))
                }
                RunStatus::Interrupted { epoch } => {
                    bars[run].abandon_with_message(format!("interrupted in epoch {epoch}"))
                }
            },
            (None, Event::Epoch { run, record }) => {
                let acc = record.test_accuracy.map(|a| format!(", test accuracy {:.4}", a)).unwrap_or_default();
                println!(
                    "{} epoch {}/{}: train loss {:.4}{acc} ({:.2} s)",
                    self.labels[run], record.epoch, self.epochs, record.train_loss, record.seconds
                );
            }
            (None, Event::Finished { run, status: RunStatus::Diverged { epoch, step } }) => {
                println!("{} diverged at epoch {epoch}, step {step} (loss became NaN/inf)", self.labels[run])
            }
            _ => {}
        }
    }
}

/// What a training run writes, and its table.
pub struct TrainOutput {
    pub files: Vec<PathBuf>,
    pub table: String,
}

/// Writes records and figures of a training run into `dir`.
pub fn write_train(
    dir: &Path,
    model: &Model,
    data: &Dataset,
    s: &TrainSettings,
    results: &[RunResult],
    seconds: f64,
) -> Result<TrainOutput> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut files = vec![dir.join("history.csv"), dir.join("steps.csv"), dir.join("summary.json")];
    record::write_atomic(&files[0], train::history_csv(results).as_bytes())?;
    record::write_atomic(&files[1], train::steps_csv(results).as_bytes())?;
    let runs: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let last = r.epochs.last();
            let secs: Vec<f64> = r.epochs.iter().map(|e| e.seconds).collect();
            serde_json::json!({
                "optimizer": r.label, "spec": r.spec, "seed": r.seed, "status": r.status,
                "epochs_completed": r.epochs.len(),
                "final_train_loss": last.map(|e| e.train_loss),
                "final_test_loss": last.and_then(|e| e.test_loss),
                "final_test_accuracy": last.and_then(|e| e.test_accuracy),
                "best_test_accuracy": r.epochs.iter().filter_map(|e| e.test_accuracy).fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v)))),
                "mean_seconds_per_epoch": if secs.is_empty() { None } else { Some(secs.iter().sum::<f64>() / secs.len() as f64) },
            })
        })
        .collect();
    let n_train = s.limit_train.map_or(data.train.len(), |l| l.min(data.train.len()));
    record::write_json(
        &files[2],
        &serde_json::json!({
            "model": model.name, "parameters": model.n_params, "dataset": data.name, "data_source": data.source,
            "train_samples": n_train, "test_samples": data.test.len(), "epochs": s.epochs, "batch_size": s.batch_size,
            "normalisation": [data.mean, data.std], "total_seconds": seconds,
            "optlab_version": env!("CARGO_PKG_VERSION"), "runs": runs,
        }),
    )?;
    let bands = curves::bands(results);
    let what = format!("{} on {} ({} training images), batch {}", model.name, data.name, n_train, s.batch_size);
    files.extend(plot::save(
        &curves::CurvesGrid {
            bands: &bands,
            title: format!("mean training loss per epoch — {what}"),
            epochs: s.epochs,
        },
        &dir.join("curves_grid"),
    )?);
    files.extend(plot::save(&curves::Curves { bands: &bands, title: what, epochs: s.epochs }, &dir.join("curves"))?);
    let mut rows = vec![[
        "optimizer".to_string(),
        "seed".into(),
        "epochs".into(),
        "train loss".into(),
        "test loss".into(),
        "test acc".into(),
        "s/epoch".into(),
        "status".into(),
    ]];
    for r in results {
        let last = r.epochs.last();
        let f = |v: Option<f64>, p: usize| v.map_or("-".into(), |v| format!("{v:.p$}"));
        let secs = if r.epochs.is_empty() {
            None
        } else {
            Some(r.epochs.iter().map(|e| e.seconds).sum::<f64>() / r.epochs.len() as f64)
        };
        rows.push([
            r.label.clone(),
            r.seed.to_string(),
            r.epochs.len().to_string(),
            f(last.map(|e| e.train_loss), 4),
            f(last.and_then(|e| e.test_loss), 4),
            f(last.and_then(|e| e.test_accuracy), 4),
            f(secs, 3),
            match r.status {
                RunStatus::Completed => "ok".into(),
                RunStatus::Diverged { epoch, step } => format!("diverged (epoch {epoch}, step {step})"),
                RunStatus::Interrupted { epoch } => format!("interrupted in epoch {epoch}"),
            },
        ]);
    }
    Ok(TrainOutput { files, table: render_table(&rows) })
}

/// Builds the run list: every optimizer × every seed, in that order.
pub fn run_specs(optimizers: &[String], seed: u64, seeds: u64) -> Result<Vec<RunSpec>> {
    let owned: Vec<String> = if optimizers.is_empty() {
        SEMINAR_NN_OPTIMIZERS.iter().map(|s| s.to_string()).collect()
    } else {
        optimizers.to_vec()
    };
    let configs = parse_optimizers(&owned)?;
    let labels = unique_labels(&configs);
    let mut runs = Vec::new();
    for (c, l) in configs.iter().zip(labels) {
        for k in 0..seeds.max(1) {
            runs.push(RunSpec { label: l.clone(), config: c.clone(), seed: seed + k });
        }
    }
    Ok(runs)
}

/// Runs `train` inside a pool of `threads` threads (all cores when None).
pub fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        Some(n) => Ok(rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build().context("thread pool")?.install(f)),
        None => Ok(f()),
    }
}

pub fn cmd_train(a: &TrainArgs) -> Result<()> {
    let model = nn::build(&a.model).map_err(|e| usage(format!("--model: {e:#}")))?;
    if a.batch_size == 0 || a.epochs == 0 {
        return Err(usage("--batch-size and --epochs must be at least 1"));
    }
    let runs = run_specs(&a.optimizers, a.seed, a.seeds)?;
    let want = if a.subset {
        Want::Subset
    } else if a.full {
        Want::Full
    } else {
        Want::Auto
    };
    let data = load_dataset(&a.dataset, a.data_dir.as_deref(), want)?;
    let settings =
        TrainSettings { epochs: a.epochs, batch_size: a.batch_size, limit_train: a.limit, ..Default::default() };
    let n_train = a.limit.map_or(data.train.len(), |l| l.min(data.train.len()));
    println!(
        "{}: {} parameters; {} from {} ({} training / {} test images); {} runs × {} epochs, batch {}",
        model.name,
        model.n_params,
        data.name,
        data.source,
        n_train,
        data.test.len(),
        runs.len(),
        a.epochs,
        a.batch_size
    );
    if data.source.starts_with("embedded") && !a.subset {
        println!("(the full set is not fetched; `optlab data fetch {}` gets it)", data.name);
    }
    install_ctrlc();
    let progress = Progress::new(&runs, a.epochs, n_train.div_ceil(a.batch_size));
    let t0 = Instant::now();
    let results =
        in_pool(a.threads, || train::train(&model, &data, &runs, &settings, &STOP, &|e| progress.observe(e)))?;
    let seconds = t0.elapsed().as_secs_f64();
    drop(progress);
    let slug = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect::<String>()
    };
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out/train").join(format!("{}-{}", slug(&model.name), data.name)));
    let out = write_train(&dir, &model, &data, &settings, &results, seconds)?;
    print!("{}", out.table);
    println!("{:.1} s in all; wrote {} files to {}", seconds, out.files.len(), dir.display());
    if STOP.load(Ordering::Relaxed) {
        println!("interrupted: the records hold the completed epochs");
    }
    Ok(())
}

pub fn cmd_fetch(name: &str, root: &Path) -> Result<()> {
    let dest = data::fetch::fetch(name, root, &data::fetch::Tools::default(), &|m| println!("{m}"))?;
    let d = data::load_dir(name, &dest)?;
    println!("{name}: {} training and {} test images verified in {}", d.train.len(), d.test.len(), dest.display());
    Ok(())
}

/// Peak resident memory of this process in MB (Linux), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn cmd_bench(data_dir: Option<&Path>, epochs: usize, part2: bool) -> Result<()> {
    let shared = PathBuf::from("../shared/datasets");
    let dir = data_dir.map(Path::to_path_buf).or_else(|| shared.join("mnist").is_dir().then_some(shared));
    let data = data::load("mnist", dir.as_deref(), Want::Auto)?;
    let full = !data.source.starts_with("embedded");
    println!(
        "optlab bench — MNIST from {} ({} training images){}",
        data.source,
        data.train.len(),
        if full { "" } else { "; fetch the full set for the real numbers" }
    );
    println!("threads for part 2: {}", rayon::current_num_threads());
    let stop = AtomicBool::new(false);
    let one = TrainSettings { epochs: 1, evaluate: false, ..Default::default() };
    let mut rows =
        vec![["model".to_string(), "optimizer".into(), "s/epoch (1 thread, median of 3)".into(), "GFLOP/s".into()]];
    for m in ["mlp", "cnn"] {
        let model = nn::build(m)?;
        let steps = data.train.len().div_ceil(32);
        let flops = 2.0 * model.train_macs as f64 * data.train.len() as f64;
        for o in ["sgd(lr=0.01)", "adam"] {
            let run = run_specs(&[o.to_string()], 0, 1)?.remove(0);
            let times: Vec<f64> = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    train::train_one(&model, &data, &run, 0, &one, &stop, &|_| {});
                    t.elapsed().as_secs_f64()
                })
                .collect();
            let t = median(times);
            rows.push([m.into(), o.into(), format!("{t:.3}"), format!("{:.1}", flops / t / 1e9)]);
            let _ = steps;
        }
    }
    print!("{}", render_table(&rows));
    println!("GFLOP/s counts the multiply-adds of the forward and backward passes (2 FLOP each); the optimizer update is not counted.");
    // what one core reaches on a large square GEMM with the same kernel: the practical peak
    let n = 512;
    let (a, b, mut c) = (vec![1f32; n * n], vec![1f32; n * n], vec![0f32; n * n]);
    let reps = 10;
    let t = Instant::now();
    for _ in 0..reps {
        nn::gemm::sgemm(n, n, n, &a, n, 1, &b, n, 1, 0.0, &mut c, n, 1);
    }
    let peak = 2.0 * (n * n * n * reps) as f64 / t.elapsed().as_secs_f64() / 1e9;
    println!("large-GEMM reference on one core (512³ sgemm, same kernel): {peak:.1} GFLOP/s");
    if part2 {
        let runs = run_specs(&SEMINAR_NN_OPTIMIZERS.iter().map(|s| s.to_string()).collect::<Vec<_>>(), 0, 1)?;
        let s = TrainSettings { epochs, ..Default::default() };
        let (mlp, cnn) = (nn::build("mlp")?, nn::build("cnn")?);
        let t = Instant::now();
        let (r1, r2) = rayon::join(
            || train::train(&mlp, &data, &runs, &s, &stop, &|_| {}),
            || train::train(&cnn, &data, &runs, &s, &stop, &|_| {}),
        );
        let wall = t.elapsed().as_secs_f64();
        println!(
            "seminar part 2 (mlp and cnn × adam, adagrad, adadelta, sgd(lr=0.01) × {epochs} epochs, batch 32, test evaluation every epoch): {wall:.1} s wall"
        );
        for (name, r) in [("mlp", &r1), ("cnn", &r2)] {
            let accs: Vec<String> = r
                .iter()
                .map(|x| {
                    format!("{} {:.4}", x.label, x.epochs.last().and_then(|e| e.test_accuracy).unwrap_or(f64::NAN))
                })
                .collect();
            println!("  {name} final test accuracy: {}", accs.join(", "));
        }
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak memory (VmHWM): {mb:.0} MB");
    }
    Ok(())
}
