//! Records: CSV and JSON files a pandas user can load, written atomically (to a temporary
//! file in the same folder, then renamed), so a crash never leaves half a file.

use crate::experiment::compare::Run;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

pub mod writer;
pub use writer::{write_atomic, write_with, OutDir};

/// Pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(value).context("serialising JSON")?;
    write_atomic(path, s.as_bytes())
}

/// Quotes a CSV field when it needs it (labels contain commas: `adam(lr=0.1, ...)`).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `trajectories.csv`: optimizer, step, x, y, loss, grad_x, grad_y, evals, lr,
/// gradient_at_x, gradient_at_y (the first seven as before, new columns at the end). The row
/// with step k is the point after k steps (step 0 is the start): (x, y) the point the method
/// reports with its loss and (clipped) gradient, `evals` function evaluations so far, `lr`
/// the learning rate in force for step k, and the point where the method takes its gradients (Schedule-Free's y; the same as (x, y)
/// for other methods). Floats are written in full precision (shortest text that reads back
/// to the same f64).
pub fn trajectories_csv(runs: &[Run]) -> String {
    let mut s = String::from("optimizer,step,x,y,loss,grad_x,grad_y,evals,lr,gradient_at_x,gradient_at_y\n");
    for r in runs {
        let label = csv_field(&r.label);
        for p in &r.trajectory.points {
            let _ = writeln!(
                s,
                "{label},{},{:?},{:?},{:?},{:?},{:?},{},{:?},{:?},{:?}",
                p.step, p.x, p.y, p.loss, p.grad_x, p.grad_y, p.evals, p.lr, p.at_x, p.at_y
            );
        }
    }
    s
}
