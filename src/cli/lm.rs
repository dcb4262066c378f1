//! `train --model gpt` and `sample`: the language-model side of the command line.

use super::args::{check, open_out, usage};
use super::lab;
use super::output::{install_ctrlc, stopped, STOP};
use super::{SampleArgs, TrainArgs};
use crate::data::text::TextData;
use crate::experiment::lm::{LmEvent, LmStatus};
use crate::experiment::presets::slug;
use crate::experiment::sample::sample;
use crate::limits::{self, Allow};
use crate::nn::checkpoint;
use crate::record;
use crate::report::tables;
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

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

pub fn cmd_train_lm(a: &TrainArgs) -> Result<()> {
    let setup = lab::lm_setup(a)?;
    let (model, data, runs, settings) = (&setup.model, &setup.data, &setup.runs, &setup.settings);
    let mut out = open_out(a.out.as_deref(), PathBuf::from("out/train").join(format!("gpt-{}", slug(&data.name))))?;
    let (steps, batch_size, t) = (settings.steps, settings.batch_size, model.cfg.block_size);
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
    let save = |i: usize, step: usize, params: &[f32]| -> Result<()> {
        let bytes = setup.checkpoint_bytes(i, step, params)?;
        let path = dir.join(lab::checkpoint_rel(i, &runs[i].label, runs[i].seed));
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        record::write_atomic(&path, &bytes)
    };
    // history.csv after every evaluation, so that a run killed outright keeps the evaluations
    // it finished
    let history = record::Streamed::new(dir.join("history.csv"), |r| record::lm::history_rows(r));
    let observe = |e: LmEvent| {
        if let LmEvent::Eval { record, .. } = &e {
            history.push((*record).clone());
        }
        if let LmEvent::Checkpoint { run, step, params } = &e {
            if let Err(err) = save(*run, *step, params) {
                say!("checkpoint of {} at step {step} not written: {err:#}", runs[*run].label);
            }
        }
        progress.observe(&e);
    };
    let trained = lab::train_lm(&setup, a.threads, &STOP, &observe)?;
    drop(progress);
    lab::write_lm(&mut out, &setup, &trained)?;
    let (results, seconds) = (&trained.results, trained.seconds);
    let files = out.finish()?;
    let table = tables::lm_table(results, batch_size, t, true);
    say_raw!("{}", table.render());
    say!("{seconds:.1} s in all; wrote {} files to {}", files.len(), dir.display());
    say!(
        "sample from a run: optlab sample {}",
        dir.join(lab::checkpoint_rel(0, &results[0].label, results[0].seed)).display()
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
    // a small file can describe a model whose one-window workspace is huge
    crate::nn::model::check_bytes("sampling from this checkpoint", model.work_bytes(1), Allow::DEFAULT)
        .map_err(usage)?;
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
