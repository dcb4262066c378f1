//! The records of basin maps: `map.csv` and `map.json`.

use super::{csv_field, OutDir};
use crate::experiment::map::{summarize, MapResult};
use crate::objective::Function;
use anyhow::Result;
use std::fmt::Write as _;

/// `map.csv`: optimizer, outcome (`minimum i`, `diverged`, `stalled`), minimum_x,
/// minimum_y, share of the starts, median steps to converge.
pub fn csv(maps: &[MapResult]) -> String {
    let mut csv = String::from("optimizer,outcome,minimum_x,minimum_y,share,median_steps\n");
    for m in maps {
        let s = summarize(m);
        let label = csv_field(&m.label);
        let med = s.median_steps.map(|v| v.to_string()).unwrap_or_default();
        for (i, share) in s.basin_shares.iter().enumerate() {
            let _ = writeln!(csv, "{label},minimum {i},{:?},{:?},{share:?},{med}", m.minima[i][0], m.minima[i][1]);
        }
        let _ = writeln!(csv, "{label},diverged,,,{:?},", s.diverged_share);
        let _ = writeln!(csv, "{label},stalled,,,{:?},", s.stalled_share);
    }
    csv
}

/// Writes `rel/map.csv` and `rel/map.json`.
pub fn write(out: &mut OutDir, rel: &str, f: &Function, maps: &[MapResult], steps: usize) -> Result<()> {
    out.bytes(super::compare::at(rel, "map.csv"), csv(maps).as_bytes())?;
    let minima = maps.first().map(|m| m.minima.clone()).unwrap_or_default();
    out.json(
        super::compare::at(rel, "map.json"),
        &serde_json::json!({
            "function": f.name, "formula": f.formula, "domain": maps.first().map(|m| m.domain),
            "grid": maps.first().map(|m| m.grid), "steps": steps, "minima": minima,
            "optimizers": maps.iter().map(|m| serde_json::json!({"optimizer": m.label, "spec": m.spec, "summary": summarize(m)})).collect::<Vec<_>>(),
        }),
    )?;
    Ok(())
}
