//! The records of a language-model run: `history.csv` (one row per evaluation),
//! `steps.csv` (one row per step) and `summary.json`.

use super::{csv_field, OutDir};
use crate::experiment::lm::{EvalRecord, LmResult, LmSettings};
use anyhow::Result;
use std::fmt::Write as _;

/// `history.csv`: optimizer, seed, step, train_loss, val_loss, val_perplexity,
/// val_bits_per_char, lr, tokens, seconds.
pub fn history_csv(results: &[LmResult]) -> String {
    history_rows(results.iter().flat_map(|r| &r.evals))
}

/// [`history_csv`] of evaluations as they complete (written during training, so that a run
/// killed outright keeps its finished evaluations).
pub fn history_rows<'a>(evals: impl IntoIterator<Item = &'a EvalRecord>) -> String {
    let mut s =
        String::from("optimizer,seed,step,train_loss,val_loss,val_perplexity,val_bits_per_char,lr,tokens,seconds\n");
    {
        for e in evals {
            let _ = writeln!(
                s,
                "{},{},{},{:?},{:?},{:?},{:?},{:?},{},{:.3}",
                csv_field(&e.optimizer),
                e.seed,
                e.step,
                e.train_loss,
                e.val_loss,
                e.val_loss.exp(),
                e.val_loss / std::f64::consts::LN_2,
                e.lr,
                e.tokens,
                e.seconds
            );
        }
    }
    s
}

/// `steps.csv`: optimizer, seed, step, loss, lr (in force for the step), grad_norm (before
/// clipping).
pub fn steps_csv(results: &[LmResult]) -> String {
    let mut s = String::from("optimizer,seed,step,loss,lr,grad_norm\n");
    for r in results {
        let label = csv_field(&r.label);
        for (k, st) in r.steps.iter().enumerate() {
            let _ = writeln!(s, "{label},{},{},{:?},{:?},{:?}", r.seed, k + 1, st.loss, st.lr, st.grad_norm);
        }
    }
    s
}

/// What `summary.json` says about the model and the data.
pub struct LmContext<'a> {
    pub model: &'a str,
    pub parameters: usize,
    pub dataset: &'a str,
    pub data_source: &'a str,
    pub vocab_size: usize,
    pub block_size: usize,
    pub train_tokens: usize,
    pub val_tokens: usize,
}

impl<'a> LmContext<'a> {
    /// The context of `model` (its canonical spec in `spec`) trained on `data`.
    pub fn of(spec: &'a str, model: &crate::nn::Gpt, data: &'a crate::data::text::TextData) -> Self {
        LmContext {
            model: spec,
            parameters: model.n_params,
            dataset: &data.name,
            data_source: &data.source,
            vocab_size: data.vocab.len(),
            block_size: model.cfg.block_size,
            train_tokens: data.train.len(),
            val_tokens: data.val.len(),
        }
    }
}

/// Writes `rel/history.csv`, `rel/steps.csv` and `rel/summary.json`.
pub fn write(
    out: &mut OutDir,
    rel: &str,
    c: &LmContext,
    s: &LmSettings,
    results: &[LmResult],
    seconds: f64,
) -> Result<()> {
    let at = |n: &str| super::compare::at(rel, n);
    out.bytes(at("history.csv"), history_csv(results).as_bytes())?;
    out.bytes(at("steps.csv"), steps_csv(results).as_bytes())?;
    let runs: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let last = r.evals.last();
            let best = r.evals.iter().map(|e| e.val_loss).fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
            serde_json::json!({
                "optimizer": r.label, "spec": r.spec, "seed": r.seed, "status": r.status,
                "steps_completed": r.steps.len(),
                "final_train_loss": last.map(|e| e.train_loss),
                "final_val_loss": last.map(|e| e.val_loss),
                "final_val_perplexity": last.map(|e| e.val_loss.exp()),
                "final_val_bits_per_char": last.map(|e| e.val_loss / std::f64::consts::LN_2),
                "best_val_loss": best,
                "seconds": r.seconds,
                "tokens_per_second": (r.seconds > 0.0).then(|| (r.steps.len() * s.batch_size * c.block_size) as f64 / r.seconds),
            })
        })
        .collect();
    out.json(
        at("summary.json"),
        &serde_json::json!({
            "model": c.model, "parameters": c.parameters, "dataset": c.dataset, "data_source": c.data_source,
            "vocab_size": c.vocab_size, "block_size": c.block_size, "train_tokens": c.train_tokens, "val_tokens": c.val_tokens,
            "steps": s.steps, "batch_size": s.batch_size, "eval_every": s.eval_every, "eval_batches": s.eval_batches,
            "total_seconds": seconds, "optlab_version": env!("CARGO_PKG_VERSION"),
            "kernels": crate::kernels::active().name(), "runs": runs,
        }),
    )?;
    Ok(())
}
