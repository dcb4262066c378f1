//! `tune.json`: the target minimum and each optimizer's tuned lr, in one shape wherever it
//! is written (`optlab tune --out`, the seminar's part 1).

use super::OutDir;
use crate::experiment::tune::{Target, Tuned};
use anyhow::Result;

/// The document: function, start, target, results.
pub fn json(function: &str, start: [f64; 2], target: &Target, tuned: &[Tuned]) -> serde_json::Value {
    serde_json::json!({"function": function, "start": start, "target": target, "results": tuned})
}

/// Writes `rel/tune.json`.
pub fn write(
    out: &mut OutDir,
    rel: &str,
    function: &str,
    start: [f64; 2],
    target: &Target,
    tuned: &[Tuned],
) -> Result<()> {
    out.json(super::compare::at(rel, "tune.json"), &json(function, start, target, tuned))?;
    Ok(())
}
