//! `train`, `data fetch` and `bench`: the MNIST side of the command line.

use super::args::{check, open_out, parse_optimizers};
use super::output::{install_ctrlc, stopped, STOP};
use super::{SeminarArgs, TrainArgs};
use crate::data::{self, Want};
use crate::experiment::compare::unique_labels;
use crate::experiment::presets::{slug, PART2_OPTIMIZERS as SEMINAR_NN_OPTIMIZERS};
use crate::experiment::train::{self, Event, RunSpec, RunStatus, TrainSettings};
use crate::limits::{self, Allow};
use crate::nn;

use crate::report::tables;
use crate::report::tables::Table;
use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
                say!(
                    "{} epoch {}/{}: train loss {:.4}{acc} ({:.2} s)",
                    self.labels[run],
                    record.epoch,
                    self.epochs,
                    record.train_loss,
                    record.seconds
                );
            }
            (None, Event::Finished { run, status: RunStatus::Diverged { epoch, step } }) => {
                say!("{} diverged at epoch {epoch}, step {step} (loss became NaN/inf)", self.labels[run])
            }
            _ => {}
        }
    }
}

/// Builds the run list: every optimizer × every seed, in that order.
pub fn run_specs(optimizers: &[String], seed: u64, seeds: u64) -> Result<Vec<RunSpec>> {
    run_specs_or(optimizers, &SEMINAR_NN_OPTIMIZERS, seed, seeds)
}

/// [`run_specs`] with other default optimizers.
pub fn run_specs_or(optimizers: &[String], defaults: &[&str], seed: u64, seeds: u64) -> Result<Vec<RunSpec>> {
    let owned: Vec<String> =
        if optimizers.is_empty() { defaults.iter().map(|s| s.to_string()).collect() } else { optimizers.to_vec() };
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
    if super::lm::is_language_model(a) {
        return super::lm::cmd_train_lm(a);
    }
    let setup = super::lab::train_setup(a)?;
    let (model, data, runs, n_train) = (&setup.model, &setup.data, &setup.runs, setup.n_train);
    let (epochs, batch_size) = (setup.settings.epochs, setup.settings.batch_size);
    let mut out =
        open_out(a.out.as_deref(), PathBuf::from("out/train").join(format!("{}-{}", slug(&model.name), data.name)))?;
    say!(
        "{}: {} parameters; {} from {} ({} training / {} test images); {} runs × {} epochs, batch {}",
        model.name,
        model.n_params,
        data.name,
        data.source,
        n_train,
        data.test.len(),
        runs.len(),
        epochs,
        batch_size
    );
    if data.source.starts_with("embedded") && !a.subset {
        say!("(the full set is not fetched; `optlab data fetch {}` gets it)", data.name);
    }
    if data.test.is_empty() {
        say!("(the test set is empty: no test metrics)");
    }
    install_ctrlc();
    let progress = Progress::new(runs, epochs, n_train.div_ceil(batch_size));
    // history.csv after every epoch, so that a run killed outright keeps the epochs it finished
    let history = crate::record::Streamed::new(out.join("history.csv"), |r| crate::record::train::history_rows(r));
    let observe = |e: Event| {
        if let Event::Epoch { record, .. } = &e {
            history.push((*record).clone());
        }
        progress.observe(e);
    };
    let t = super::lab::train(setup, a.threads, &STOP, &observe)?;
    drop(progress);
    super::lab::write_train(&mut out, &t)?;
    let (results, seconds) = (&t.results, t.seconds);
    let dir = out.path().to_path_buf();
    let files = out.finish()?;
    say_raw!("{}", tables::train_table(results).render());
    say!("{:.1} s in all; wrote {} files to {}", seconds, files.len(), dir.display());
    if stopped() {
        say!("interrupted: the records hold the completed epochs");
    }
    Ok(())
}

pub fn cmd_fetch(name: &str, root: &Path) -> Result<()> {
    let dest = data::fetch::fetch(name, root, &data::fetch::Tools::default(), &|m| say!("{m}"))?;
    let d = data::load_dir(name, &dest)?;
    say!("{name}: {} training and {} test images verified in {}", d.train.len(), d.test.len(), dest.display());
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

pub fn cmd_bench(data_dir: Option<&Path>, epochs: usize, part2: bool, map_grid: usize, allow: Allow) -> Result<()> {
    let epochs = check(limits::EPOCHS, epochs, allow)?;
    let map_grid = check(limits::BENCH_GRID, map_grid, allow)?;
    let shared = PathBuf::from("../shared/datasets");
    let dir = data_dir.map(Path::to_path_buf).or_else(|| shared.join("mnist").is_dir().then_some(shared));
    let data = data::load("mnist", dir.as_deref(), Want::Auto)?;
    let full = !data.source.starts_with("embedded");
    say!(
        "optlab bench — MNIST from {} ({} training images){}",
        data.source,
        data.train.len(),
        if full { "" } else { "; fetch the full set for the real numbers" }
    );
    say!("threads for part 2: {}", rayon::current_num_threads());
    let kp = crate::kernels::active();
    say!("kernels: {kp} ({}; {ENV} to force one)", kp.describe(), ENV = crate::kernels::ENV);
    install_ctrlc();
    let stop = &STOP;
    let one = TrainSettings { epochs: 1, evaluate: false, ..Default::default() };
    let mut rows = Table::new(&["model", "optimizer", "s/epoch (1 thread, median of 3)", "GFLOP/s"]);
    for m in ["mlp", "cnn"] {
        let model = nn::build(m, data.input_shape(), allow)?;
        let flops = 2.0 * model.train_macs as f64 * data.train.len() as f64;
        for o in ["sgd(lr=0.01)", "adam"] {
            let run = run_specs(&[o.to_string()], 0, 1)?.remove(0);
            let times: Vec<f64> = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    train::train_one(&model, &data, &run, 0, &one, stop, &|_| {});
                    t.elapsed().as_secs_f64()
                })
                .collect();
            let t = median(times);
            rows.rows.push(vec![m.into(), o.into(), format!("{t:.3}"), format!("{:.1}", flops / t / 1e9)]);
        }
    }
    say_raw!("{}", rows.render());
    say!("GFLOP/s counts the multiply-adds of the forward and backward passes (2 FLOP each); the optimizer update is not counted.");
    bench_gpt(allow)?;
    // the ceiling of the kernel path on one core, and what its product kernel reaches on a
    // large square product
    let k = crate::kernels::kernels();
    let n = 512;
    let (a, b, mut c) = (vec![1f32; n * n], vec![1f32; n * n], vec![0f32; n * n]);
    let reps = 4;
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().context("thread pool")?;
    let t = Instant::now();
    one_thread.install(|| {
        for _ in 0..reps {
            k.gemm(n, n, n, &a, n, 1, &b, n, crate::kernels::Init::Zero, &mut c, n);
        }
    });
    let big = 2.0 * (n * n * n * reps) as f64 / t.elapsed().as_secs_f64() / 1e9;
    say!(
        "peak of the {} kernels on one core (fused multiply-adds only): {:.1} GFLOP/s; a 512³ product with them: {big:.1} GFLOP/s",
        k.path(),
        k.peak_gflops()
    );
    if part2 {
        let runs = run_specs(&SEMINAR_NN_OPTIMIZERS.iter().map(|s| s.to_string()).collect::<Vec<_>>(), 0, 1)?;
        let s = TrainSettings { epochs, ..Default::default() };
        let (mlp, cnn) = (nn::build("mlp", data.input_shape(), allow)?, nn::build("cnn", data.input_shape(), allow)?);
        let t = Instant::now();
        let (r1, r2) = rayon::join(
            || train::train(&mlp, &data, &runs, &s, stop, &|_| {}),
            || train::train(&cnn, &data, &runs, &s, stop, &|_| {}),
        );
        let wall = t.elapsed().as_secs_f64();
        say!(
            "seminar part 2 (mlp and cnn × adam, adagrad, adadelta, sgd(lr=0.01) × {epochs} epochs, batch 32, test evaluation every epoch): {wall:.1} s wall"
        );
        for (name, r) in [("mlp", &r1), ("cnn", &r2)] {
            let accs: Vec<String> = r
                .iter()
                .map(|x| {
                    format!("{} {:.4}", x.label, x.epochs.last().and_then(|e| e.test_accuracy).unwrap_or(f64::NAN))
                })
                .collect();
            say!("  {name} final test accuracy: {}", accs.join(", "));
        }
    }
    if let Some(mb) = peak_rss_mb() {
        say!("peak memory (VmHWM): {mb:.0} MB");
    }
    if map_grid > 0 {
        let f = crate::objective::builtin("sin-cos").expect("built-in").function();
        let cfg = vec![("adam(lr=0.1)".to_string(), crate::optim::OptimizerConfig::parse("adam(lr=0.1)")?)];
        let o = crate::experiment::map::MapOptions {
            grid: map_grid,
            steps: 500,
            domain: f.domain,
            shape: Default::default(),
        };
        let t = Instant::now();
        crate::experiment::map::map(&f, &cfg, &o);
        let secs = t.elapsed().as_secs_f64();
        let steps = (map_grid * map_grid * 500) as f64;
        say!(
            "basin map: adam on sin-cos, {map_grid}×{map_grid} starts × 500 steps on {} threads: {secs:.2} s, {:.1} M optimizer steps/s",
            rayon::current_num_threads(),
            steps / secs / 1e6
        );
    }
    Ok(())
}

pub fn cmd_seminar(a: &SeminarArgs) -> Result<()> {
    let (opts, out) = super::lab::seminar_setup(a)?;
    install_ctrlc();
    say!("optlab seminar{} — writing {}", if a.quick { " --quick" } else { "" }, a.out.join("index.html").display());
    let bar = std::io::stdout().is_terminal().then(|| {
        let b = ProgressBar::new(1);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("valid template"),
        );
        b
    });
    let last = std::sync::Mutex::new(String::new());
    let show = |done: u64, total: u64, what: &str| match &bar {
        Some(b) => {
            b.set_length(total);
            b.set_position(done);
            b.set_message(what.to_string());
        }
        None => {
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if *l != what {
                say!("[{done}/{total}] {what}");
                *l = what.to_string();
            }
        }
    };
    let (results, outcome, files) = super::lab::seminar(&opts, out, &STOP, &show)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    say!(
        "done in {:.1} s: {} ({} files); open {} in a browser",
        outcome.seconds,
        outcome.markdown.display(),
        files.len(),
        outcome.html.display()
    );
    if results.interrupted {
        say!("interrupted: the training records hold the completed epochs, and the report says so");
    }
    Ok(())
}

/// The character-level GPT in `bench`: milliseconds per training step (batch 12×64, the
/// nanoGPT AdamW recipe and Muon + AdamW, median of 5 after 2 warm-up steps) on one thread,
/// and on every core when there are more (one run then splits its products, attention
/// windows and row kernels over them, with the same bits), with the FLOPs per step and the
/// fraction of the kernel path's peak (of one core, or of all of them).
fn bench_gpt(allow: Allow) -> Result<()> {
    use crate::experiment::presets::{GPT_ADAMW, GPT_MUON};
    let data = crate::data::text::TextData::shakespeare()?;
    let model = nn::Gpt::new(nn::GptConfig::default_for(data.vocab.len()), allow)?;
    let k = crate::kernels::kernels();
    let (n, t) = (12, model.cfg.block_size);
    let flops = model.step_flops(n) as f64;
    let peak = k.peak_gflops();
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let mut threads = vec![1];
    if cores > 1 {
        threads.push(cores);
    }
    let mut rows = Table::new(&["model", "optimizer", "threads", "ms/step (median of 5)", "GFLOP/step", "% of peak"]);
    for (name, spec) in [("adamw (nanoGPT recipe)", GPT_ADAMW), ("muon + adamw", GPT_MUON)] {
        for &th in &threads {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(th).build().context("thread pool")?;
            let cfg = crate::optim::OptimizerConfig::parse(spec)?;
            let ms = pool.install(|| {
                let mut opt = cfg.build_with::<f32>(&model.layout(), crate::schedule::Cadence::Training);
                let mut params = model.init(0);
                let mut w = model.work(n);
                let (mut x, mut y) = (vec![0u32; n * t], vec![0u32; n * t]);
                let mut times = Vec::new();
                for step in 0..7u64 {
                    data.batch(crate::data::text::Part::Train, 0, step, n, t, &mut x, &mut y);
                    let t0 = Instant::now();
                    let mut obj = |p: &[f32], g: &mut [f32]| model.loss_and_grad(k, p, g, &x, &y, t, &mut w);
                    opt.step(&mut params, &mut obj);
                    if step >= 2 {
                        times.push(t0.elapsed().as_secs_f64());
                    }
                }
                median(times) * 1e3
            });
            rows.rows.push(vec![
                "gpt".into(),
                name.into(),
                th.to_string(),
                format!("{ms:.1}"),
                format!("{:.2}", flops / 1e9),
                format!("{:.0}", 100.0 * flops / (ms / 1e3) / 1e9 / (peak * th as f64)),
            ]);
        }
    }
    say_raw!("{}", rows.render());
    say!("gpt: {}, {} parameters; FLOPs count 6 × the forward multiply-adds", model.cfg.canonical(), model.n_params);
    Ok(())
}
