//! The records of a training run: `history.csv`, `steps.csv` and `summary.json`.

use super::{csv_field, OutDir};
use crate::experiment::train::{EpochRecord, RunResult, TrainSettings};
use anyhow::Result;
use std::fmt::Write as _;

/// `history.csv`: optimizer, seed, epoch, train_loss, test_loss, test_accuracy, lr (in
/// force at the end of the epoch), seconds. Test columns are empty without a test set.
pub fn history_csv(results: &[RunResult]) -> String {
    history_rows(results.iter().flat_map(|r| &r.epochs))
}

/// [`history_csv`] of epochs as they complete (written during training, so that a run
/// killed outright keeps its finished epochs).
pub fn history_rows<'a>(epochs: impl IntoIterator<Item = &'a EpochRecord>) -> String {
    let mut s = String::from("optimizer,seed,epoch,train_loss,test_loss,test_accuracy,lr,seconds\n");
    let opt = |v: Option<f64>| v.map(|v| format!("{v:?}")).unwrap_or_default();
    {
        for e in epochs {
            let _ = writeln!(
                s,
                "{},{},{},{:?},{},{},{:?},{:.4}",
                csv_field(&e.optimizer),
                e.seed,
                e.epoch,
                e.train_loss,
                opt(e.test_loss),
                opt(e.test_accuracy),
                e.lr,
                e.seconds
            );
        }
    }
    s
}

/// `steps.csv`: optimizer, seed, epoch, step (counted from 1 over the whole run), loss, lr
/// (in force for that step).
pub fn steps_csv(results: &[RunResult]) -> String {
    let mut s = String::from("optimizer,seed,epoch,step,loss,lr\n");
    for r in results {
        let label = csv_field(&r.label);
        for (k, (e, l, lr)) in r.step_losses.iter().enumerate() {
            let _ = writeln!(s, "{label},{},{e},{},{l:?},{lr:?}", r.seed, k + 1);
        }
    }
    s
}

/// What `summary.json` says about the model and the data.
pub struct TrainContext<'a> {
    pub model: &'a str,
    pub parameters: usize,
    pub dataset: &'a str,
    pub data_source: &'a str,
    pub train_samples: usize,
    pub test_samples: usize,
    pub normalisation: [f32; 2],
}

/// Writes `rel/history.csv`, `rel/steps.csv` and `rel/summary.json`.
pub fn write(
    out: &mut OutDir,
    rel: &str,
    c: &TrainContext,
    s: &TrainSettings,
    results: &[RunResult],
    seconds: f64,
) -> Result<()> {
    let at = |n: &str| super::compare::at(rel, n);
    out.bytes(at("history.csv"), history_csv(results).as_bytes())?;
    out.bytes(at("steps.csv"), steps_csv(results).as_bytes())?;
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
    out.json(
        at("summary.json"),
        &serde_json::json!({
            "model": c.model, "parameters": c.parameters, "dataset": c.dataset, "data_source": c.data_source,
            "train_samples": c.train_samples, "test_samples": c.test_samples, "epochs": s.epochs, "batch_size": s.batch_size,
            "normalisation": c.normalisation, "total_seconds": seconds,
            "optlab_version": env!("CARGO_PKG_VERSION"), "kernels": crate::kernels::active().name(), "runs": runs,
        }),
    )?;
    Ok(())
}
