//! The records of a learning-rate sweep: `sweep.csv` and `sweep.json`.

use super::{csv_field, OutDir};
use crate::experiment::sweep::SweepPoint;
use anyhow::Result;

/// `sweep.csv`: optimizer, lr, other (the `--vs` value), final_loss, converged_at,
/// diverged_at, evals.
pub fn csv(points: &[SweepPoint]) -> String {
    let mut csv = String::from("optimizer,lr,other,final_loss,converged_at,diverged_at,evals\n");
    for p in points {
        let o = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{:?},{},{:?},{},{},{}\n",
            csv_field(&p.optimizer),
            p.lr,
            p.other.map(|v| format!("{v:?}")).unwrap_or_default(),
            p.final_loss,
            o(p.converged_at),
            o(p.diverged_at),
            p.evals
        ));
    }
    csv
}

/// Writes `sweep.csv` and `sweep.json`.
pub fn write(
    out: &mut OutDir,
    function: &str,
    start: [f64; 2],
    steps: usize,
    vs: Option<&str>,
    points: &[SweepPoint],
) -> Result<()> {
    out.bytes("sweep.csv", csv(points).as_bytes())?;
    out.json(
        "sweep.json",
        &serde_json::json!({"function": function, "start": start, "steps": steps, "vs": vs, "points": points}),
    )?;
    Ok(())
}
