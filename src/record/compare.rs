//! The records of a 2-D comparison: `trajectories.csv` and `summary.json`.

use super::{csv_field, OutDir};
use crate::experiment::compare::Run;
use crate::objective::Function;
use anyhow::Result;
use std::fmt::Write as _;

/// `rel/name`, or `name` at the folder's root.
pub fn at(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// The header of `trajectories.csv`.
pub const TRAJECTORIES_HEADER: &str = "optimizer,step,x,y,loss,grad_x,grad_y,evals,lr,gradient_at_x,gradient_at_y\n";

/// One row of `trajectories.csv` (see [`trajectories_csv`]).
pub fn trajectory_row(s: &mut String, label: &str, p: &crate::experiment::Point) {
    let _ = writeln!(
        s,
        "{label},{},{:?},{:?},{:?},{:?},{:?},{},{:?},{:?},{:?}",
        p.step, p.x, p.y, p.loss, p.grad_x, p.grad_y, p.evals, p.lr, p.at_x, p.at_y
    );
}

/// `trajectories.csv`: optimizer, step, x, y, loss, grad_x, grad_y, evals, lr,
/// gradient_at_x, gradient_at_y (the first seven as before, new columns at the end). The row
/// with step k is the point after k steps (step 0 is the start): (x, y) the point the method
/// reports with its loss and (clipped) gradient, `evals` function evaluations so far, `lr`
/// the learning rate in force for step k, and the point where the method takes its gradients
/// (Schedule-Free's y; the same as (x, y) for other methods). Floats are written in full
/// precision (shortest text that reads back to the same f64).
pub fn trajectories_csv(runs: &[Run]) -> String {
    let mut s = String::from(TRAJECTORIES_HEADER);
    for r in runs {
        let label = csv_field(&r.label);
        for p in &r.trajectory.points {
            trajectory_row(&mut s, &label, p);
        }
    }
    s
}

/// `summary.json` of a comparison.
pub fn summary_json(f: &Function, runs: &[Run], start: [f64; 2], steps: usize, note: &str) -> serde_json::Value {
    serde_json::json!({
        "function": f.name,
        "formula": f.formula,
        "domain": f.domain,
        "start": start,
        "steps": steps,
        "note": note,
        "optlab_version": env!("CARGO_PKG_VERSION"),
        "kernels": crate::kernels::active().name(),
        "runs": runs.iter().map(|r| &r.summary).collect::<Vec<_>>(),
    })
}

/// Writes `rel/trajectories.csv` and `rel/summary.json`.
pub fn write(
    out: &mut OutDir,
    rel: &str,
    f: &Function,
    runs: &[Run],
    start: [f64; 2],
    steps: usize,
    note: &str,
) -> Result<()> {
    out.bytes(at(rel, "trajectories.csv"), trajectories_csv(runs).as_bytes())?;
    out.json(at(rel, "summary.json"), &summary_json(f, runs, start, steps, note))?;
    Ok(())
}

/// `trajectories.csv` of long runs, streamed: each run appends its rows to a part file of
/// its own while it runs (every `every`-th step, and its last point), and [`finish`]
/// joins the parts, in run order, into the real file (atomically) and removes them. A part
/// file is removed also when the stream is dropped without finishing.
///
/// [`finish`]: TrajectoryStream::finish
pub struct TrajectoryStream {
    parts: Vec<std::sync::Mutex<Part>>,
    every: usize,
}

struct Part {
    path: std::path::PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    label: String,
    last: Option<crate::experiment::Point>,
    row: String,
    error: Option<std::io::Error>,
}

impl TrajectoryStream {
    /// Creates one part file per run in `out`'s folder `rel`.
    pub fn create(out: &OutDir, rel: &str, labels: &[String], every: usize) -> Result<TrajectoryStream> {
        let dir = out.join(rel);
        std::fs::create_dir_all(&dir)?;
        let mut parts = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let path = dir.join(format!(".trajectories.csv.part{i}.tmp{}", std::process::id()));
            let file =
                std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            parts.push(std::sync::Mutex::new(Part {
                path,
                file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
                label: csv_field(l),
                last: None,
                row: String::new(),
                error: None,
            }));
        }
        Ok(TrajectoryStream { parts, every: every.max(1) })
    }

    /// Records point `p` of run `run`.
    pub fn row(&self, run: usize, p: &crate::experiment::Point) {
        use std::io::Write as _;
        let mut part = self.parts[run].lock().unwrap_or_else(|e| e.into_inner());
        let part = &mut *part;
        if !p.step.is_multiple_of(self.every) {
            part.last = Some(*p);
            return;
        }
        part.last = None;
        part.row.clear();
        trajectory_row(&mut part.row, &part.label, p);
        if let (Some(f), None) = (part.file.as_mut(), part.error.as_ref()) {
            if let Err(e) = f.write_all(part.row.as_bytes()) {
                part.error = Some(e);
            }
        }
    }

    /// Joins the parts into `rel/trajectories.csv`.
    pub fn finish(self, out: &mut OutDir, rel: &str) -> Result<()> {
        use std::io::Write as _;
        for m in &self.parts {
            let mut part = m.lock().unwrap_or_else(|e| e.into_inner());
            let part = &mut *part;
            if let Some(p) = part.last.take() {
                part.row.clear();
                trajectory_row(&mut part.row, &part.label, &p);
                if let Some(f) = part.file.as_mut() {
                    f.write_all(part.row.as_bytes())?;
                }
            }
            if let Some(e) = part.error.take() {
                return Err(anyhow::anyhow!("cannot write {}: {e}", part.path.display()));
            }
            if let Some(mut f) = part.file.take() {
                f.flush()?;
            }
        }
        let paths: Vec<std::path::PathBuf> =
            self.parts.iter().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).path.clone()).collect();
        out.with(at(rel, "trajectories.csv"), |tmp| {
            let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
            w.write_all(TRAJECTORIES_HEADER.as_bytes())?;
            for p in &paths {
                std::io::copy(&mut std::fs::File::open(p)?, &mut w)?;
            }
            w.flush()?;
            Ok(())
        })?;
        Ok(())
    }
}

impl Drop for TrajectoryStream {
    fn drop(&mut self) {
        for m in &self.parts {
            let mut part = m.lock().unwrap_or_else(|e| e.into_inner());
            part.file = None;
            let _ = std::fs::remove_file(&part.path);
        }
    }
}
