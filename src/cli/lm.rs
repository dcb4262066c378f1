//! `train --model gpt` and `sample`: the language-model side of the command line.

use super::args::{check, open_out, usage};
use super::output::{install_ctrlc, stopped, STOP};
use super::training::{in_pool, run_specs_or};
use super::{SampleArgs, TrainArgs};
use crate::data::text::TextData;
use crate::experiment::lm::{self, LmEvent, LmSettings, LmStatus};
use crate::experiment::presets::{slug, GPT_ADAMW};
use crate::experiment::sample::sample;
use crate::limits::{self, Allow};
use crate::nn::checkpoint::{self, Meta};
use crate::nn::{Gpt, GptConfig};
use crate::record::{self, lm::LmContext};
use crate::report::{figures, tables};
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Whether `train` was asked for a language model (`--model gpt...`, a text dataset or `--text`).
pub fn is_language_model(a: &TrainArgs) -> bool {
    crate::nn::is_gpt_spec(&a.model) || a.text.is_some() || a.dataset.as_deref() == Some("shakespeare-char")
}

/// Progress: a bar per run with its loss and tokens/s on a terminal, one line per evaluation otherwise.
struct Progress {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    labels: Vec<String>,
    steps: usize,
}

impl Progress {
    fn new(labels: Vec<String>, steps: usize) -> Progress {
        if !std::io::stdout().is_terminal() {
            return Progress { bars: None, labels, steps };
        }
        let mp = MultiProgress::new();
        let width = labels.iter().map(|l| l.len()).max().unwrap_or(8).min(48);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:<{width}.{width}}} {{percent:>3}}%|{{bar:24}}| {{msg}} [{{elapsed_precise}}<{{eta_precise}}]"
        ))
        .expect("valid template")
        .progress_chars("█▉▊▋▌▍▎▏ ");
        let bars = labels
            .iter()
            .map(|l| {
                let b = mp.add(ProgressBar::new(steps as u64));
                b.set_style(style.clone());
                b.set_prefix(l.clone());
                b
            })
            .collect();
        Progress { bars: Some((mp, bars)), labels, steps }
    }

    fn observe(&self, e: &LmEvent) {
        match (&self.bars, e) {
            (Some((_, bars)), LmEvent::Step { run, step, loss, tokens_per_s }) => {
                bars[*run].set_position(*step as u64);
                bars[*run].set_message(format!("loss {loss:.4}, {tokens_per_s:.0} tok/s"));
            }
            (Some((_, bars)), LmEvent::Finished { run, status }) => match status {
                LmStatus::Completed => bars[*run].finish(),
                LmStatus::Diverged { step } => bars[*run].abandon_with_message(format!("diverged at step {step}")),
                LmStatus::Interrupted { step } => {
                    bars[*run].abandon_with_message(format!("interrupted at step {step}"))
                }
            },
            (Some((mp, _)), LmEvent::Eval { run, record }) => {
                let _ = mp.println(format!(
                    "{} step {}/{}: train {:.4}, val {:.4}",
                    self.labels[*run], record.step, self.steps, record.train_loss, record.val_loss
                ));
            }
            (None, LmEvent::Eval { run, record }) => say!(
                "{} step {}/{}: train loss {:.4}, val loss {:.4} ({:.1} s)",
                self.labels[*run],
                record.step,
                self.steps,
                record.train_loss,
                record.val_loss,
                record.seconds
            ),
            (None, LmEvent::Finished { run, status: LmStatus::Diverged { step } }) => {
                say!("{} diverged at step {step} (loss became NaN/inf)", self.labels[*run])
            }
            _ => {}
        }
    }
}

/// The checkpoint file of run `i` inside the output folder.
fn checkpoint_rel(i: usize, label: &str, seed: u64) -> String {
    format!("checkpoints/{}-{}-seed{seed}.safetensors", i + 1, slug(label))
}

pub fn cmd_train_lm(a: &TrainArgs) -> Result<()> {
    let allow = Allow { large: a.allow_large };
    let steps = check(limits::STEPS, a.steps, allow)?;
    let batch_size = check(limits::BATCH, a.batch_size.unwrap_or(12), allow)?;
    let seeds = check(limits::SEEDS, a.seeds as usize, allow)? as u64;
    if a.seed.checked_add(seeds - 1).is_none() {
        return Err(usage(format!("--seed {} with --seeds {seeds} runs past the largest seed, 2^64 − 1", a.seed)));
    }
    if let Some(t) = a.threads {
        check(limits::THREADS, t, allow)?;
    }
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
    let runs = run_specs_or(&a.optimizers, &[GPT_ADAMW], a.seed, seeds)?;
    let layout = model.layout();
    for r in &runs {
        r.config.check_layout(&layout).map_err(|e| usage(format!("--optimizer: {e}")))?;
    }
    let settings = LmSettings {
        steps,
        batch_size,
        eval_every: a.eval_every,
        eval_batches: a.eval_batches,
        checkpoint_every: a.checkpoint_every,
    };
    settings.validate(&model, &data, runs.len(), allow).map_err(usage)?;
    let mut out = open_out(a.out.as_deref(), PathBuf::from("out/train").join(format!("gpt-{}", slug(&data.name))))?;
    let t = model.cfg.block_size;
    say!(
        "{}: {} parameters; {} from {} ({} training / {} validation characters, vocabulary {}); {} runs × {steps} steps of {batch_size}×{t} tokens",
        model.cfg.canonical(),
        model.n_params,
        data.name,
        data.source,
        data.train.len(),
        data.val.len(),
        data.vocab.len(),
        runs.len()
    );
    install_ctrlc();
    let labels: Vec<String> = runs.iter().map(|r| format!("{} seed {}", r.label, r.seed)).collect();
    let progress = Progress::new(labels, steps);
    let dir = out.path().to_path_buf();
    // the checkpoint of run `i` after `step`: the same file during training and at the end
    let checkpoint_bytes = |i: usize, step: usize, params: &[f32]| -> Result<Vec<u8>> {
        let r = &runs[i];
        let meta = Meta { vocab: data.vocab.clone(), optimizer: r.config.canonical(), seed: r.seed, step };
        checkpoint::to_bytes(&model, params, &meta)
    };
    let save = |i: usize, step: usize, params: &[f32]| -> Result<()> {
        let bytes = checkpoint_bytes(i, step, params)?;
        let path = dir.join(checkpoint_rel(i, &runs[i].label, runs[i].seed));
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        record::write_atomic(&path, &bytes)
    };
    let t0 = Instant::now();
    // history.csv is rewritten (atomically) after every evaluation, so that a run killed
    // outright keeps the evaluations it finished
    let history = dir.join("history.csv");
    let done = std::sync::Mutex::new(Vec::new());
    let observe = |e: LmEvent| {
        if let LmEvent::Eval { record, .. } = &e {
            let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
            d.push((*record).clone());
            let _ = record::write_atomic(&history, record::lm::history_rows(d.iter()).as_bytes());
        }
        if let LmEvent::Checkpoint { run, step, params } = &e {
            if let Err(err) = save(*run, *step, params) {
                say!("checkpoint of {} at step {step} not written: {err:#}", runs[*run].label);
            }
        }
        progress.observe(&e);
    };
    let results = in_pool(a.threads, || lm::train(&model, &data, &runs, &settings, &STOP, &observe))?;
    let seconds = t0.elapsed().as_secs_f64();
    drop(progress);
    let spec = model.cfg.canonical();
    record::lm::write(&mut out, "", &LmContext::of(&spec, &model, &data), &settings, &results, seconds)?;
    for (i, r) in results.iter().enumerate() {
        out.bytes(checkpoint_rel(i, &r.label, r.seed), &checkpoint_bytes(i, r.steps.len(), &r.params)?)?;
    }
    let what = format!("{} on {}, batch {batch_size}×{t}", model.cfg.canonical(), data.name);
    figures::lm(&mut out, "", &what, &results)?;
    let files = out.finish()?;
    let table = tables::lm_table(&results, batch_size, t, true);
    say_raw!("{}", table.render());
    say!("{seconds:.1} s in all; wrote {} files to {}", files.len(), dir.display());
    say!(
        "sample from a run: optlab sample {}",
        dir.join(checkpoint_rel(0, &results[0].label, results[0].seed)).display()
    );
    if stopped() {
        say!("interrupted: the records hold the completed evaluations, the checkpoints the last parameters");
    }
    Ok(())
}

pub fn cmd_sample(a: &SampleArgs) -> Result<()> {
    if !(a.temperature > 0.0 && a.temperature.is_finite()) {
        return Err(usage(format!("--temperature {}: must be a number > 0", a.temperature)));
    }
    let chars = check(limits::STEPS, a.chars, Allow::DEFAULT)?;
    let (model, params, meta) = checkpoint::load(&a.checkpoint, Allow::DEFAULT).map_err(|e| usage(format!("{e:#}")))?;
    let data =
        TextData { name: String::new(), source: String::new(), vocab: meta.vocab.clone(), train: vec![], val: vec![] };
    let mut tokens = data.encode(&a.prompt).map_err(|c| {
        usage(format!(
            "--prompt: the character {c:?} is not in the model's vocabulary ({} characters)",
            data.vocab.len()
        ))
    })?;
    if tokens.is_empty() {
        return Err(usage("--prompt is empty: give at least one character (the default is a newline)"));
    }
    let text = sample(&model, &params, &mut tokens, chars, a.temperature, a.top_k, a.seed);
    let out: String = format!("{}{}", a.prompt, data.decode(&text));
    if let Some(p) = &a.out {
        record::write_atomic(p, out.as_bytes()).map_err(|e| usage(format!("--out {}: {e:#}", p.display())))?;
    }
    say!("{out}");
    Ok(())
}
