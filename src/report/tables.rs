//! Tables of results: one `Table` value, printed on stdout as aligned text and put into the
//! reports as HTML and Markdown.

use crate::experiment::compare::Run;
use crate::experiment::train::{RunResult, RunStatus};
use crate::experiment::tune::{Target, Tuned};

/// A header and rows of cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
    }

    /// Aligned plain text with a rule under the header.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths = vec![0usize; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&self.header);
        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * n.saturating_sub(1)));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// A point, short.
pub fn fmt_pt(x: f64, y: f64) -> String {
    format!("({}, {})", sig(x), sig(y))
}

/// A number with 4 decimals, or in scientific notation when very large or small.
pub fn sig(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e-3 && v.abs() < 1e5 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// How a 2-D run ended, in words.
pub fn convergence(s: &crate::experiment::compare::RunSummary) -> String {
    match (s.diverged_at, s.converged_at) {
        (Some(k), _) => format!("diverged at step {k}"),
        (None, Some(k)) => format!("at step {k}"),
        (None, None) => "no".into(),
    }
}

/// The comparison of 2-D runs.
pub fn summary_table(runs: &[Run]) -> Table {
    let mut t = Table::new(&[
        "optimizer",
        "steps",
        "evals",
        "final (x, y)",
        "final loss",
        "nearest minimum",
        "distance",
        "converged",
    ]);
    for r in runs {
        let s = &r.summary;
        let (min, dist) = match (s.nearest_minimum, s.distance_to_minimum) {
            (Some(m), Some(d)) => (fmt_pt(m[0], m[1]), sig(d)),
            _ => ("none".into(), "-".into()),
        };
        let (fin, loss) = if s.final_x.is_finite() {
            (fmt_pt(s.final_x, s.final_y), sig(s.final_loss))
        } else {
            ("-".into(), "-".into())
        };
        let taken = r.trajectory.points.last().map_or(0, |p| p.step);
        t.rows.push(vec![
            r.label.clone(),
            taken.to_string(),
            s.evals.to_string(),
            fin,
            loss,
            min,
            dist,
            convergence(s),
        ]);
    }
    t
}

/// The target line of a tuning, if there is a target.
pub fn target_line(target: &Target) -> Option<String> {
    match target {
        Target::Minimum { point, value } => {
            Some(format!("target: local minimum {} with f = {}", fmt_pt(point[0], point[1]), sig(*value)))
        }
        Target::None { .. } => None,
    }
}

/// The learning rates found by `tune`.
pub fn tune_table(tuned: &[Tuned]) -> Table {
    let mut t = Table::new(&["optimizer", "best lr", "steps to reach it", "evals", "runs"]);
    for x in tuned {
        t.rows.push(vec![
            x.optimizer.clone(),
            x.lr.map_or("none in 1e-4..10".into(), crate::optim::fmt_num),
            x.steps.map_or("-".into(), |s| s.to_string()),
            x.evals.map_or("-".into(), |s| s.to_string()),
            x.runs.to_string(),
        ]);
    }
    t
}

/// Mean seconds per epoch of a training run.
pub fn seconds_per_epoch(r: &RunResult) -> Option<f64> {
    (!r.epochs.is_empty()).then(|| r.epochs.iter().map(|e| e.seconds).sum::<f64>() / r.epochs.len() as f64)
}

/// How a training run ended, in words.
pub fn train_status(s: RunStatus) -> String {
    match s {
        RunStatus::Completed => "ok".into(),
        RunStatus::Diverged { epoch, step } => format!("diverged (epoch {epoch}, step {step})"),
        RunStatus::Interrupted { epoch } => format!("interrupted in epoch {epoch}"),
    }
}

/// A training run: one row per optimizer × seed.
pub fn train_table(results: &[RunResult]) -> Table {
    let mut t =
        Table::new(&["optimizer", "seed", "epochs", "train loss", "test loss", "test acc", "s/epoch", "status"]);
    let f = |v: Option<f64>, p: usize| v.map_or("-".into(), |v| format!("{v:.p$}"));
    for r in results {
        let last = r.epochs.last();
        t.rows.push(vec![
            r.label.clone(),
            r.seed.to_string(),
            r.epochs.len().to_string(),
            f(last.map(|e| e.train_loss), 4),
            f(last.and_then(|e| e.test_loss), 4),
            f(last.and_then(|e| e.test_accuracy), 4),
            f(seconds_per_epoch(r), 3),
            train_status(r.status),
        ]);
    }
    t
}

/// The table of a basin-map run.
pub fn map_table(maps: &[crate::experiment::map::MapResult]) -> Table {
    let mut t = Table::new(&[
        "optimizer",
        "converged",
        "basins reached",
        "largest basin",
        "diverged",
        "not converged",
        "median steps",
    ]);
    for m in maps {
        let s = crate::experiment::map::summarize(m);
        let conv: f64 = s.basin_shares.iter().sum();
        let reached = s.basin_shares.iter().filter(|&&v| v > 0.0).count();
        let largest = s
            .basin_shares
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .filter(|(_, v)| **v > 0.0)
            .map_or("-".to_string(), |(i, v)| format!("{} {:.1}%", fmt_pt(m.minima[i][0], m.minima[i][1]), 100.0 * v));
        t.rows.push(vec![
            m.label.clone(),
            format!("{:.1}%", 100.0 * conv),
            reached.to_string(),
            largest,
            format!("{:.1}%", 100.0 * s.diverged_share),
            format!("{:.1}%", 100.0 * s.stalled_share),
            s.median_steps.map_or("-".into(), |v| format!("{v:.0}")),
        ]);
    }
    t
}

/// The final losses of language-model runs: optimizer (and seed, with `seeds`), steps,
/// train and validation loss, validation bits per character, seconds and tokens per second
/// of `batch_size` windows of `block_size` tokens.
pub fn lm_table(
    results: &[crate::experiment::lm::LmResult],
    batch_size: usize,
    block_size: usize,
    seeds: bool,
) -> Table {
    let mut header = vec!["optimizer", "seed", "steps", "train loss", "val loss", "val bits/char", "s", "tokens/s"];
    if !seeds {
        header.remove(1);
    }
    let mut table = Table::new(&header);
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for r in results {
        let last = r.evals.last();
        let mut row = vec![r.label.clone()];
        if seeds {
            row.push(r.seed.to_string());
        }
        row.extend([
            r.steps.len().to_string(),
            f(last.map(|e| e.train_loss)),
            f(last.map(|e| e.val_loss)),
            f(last.map(|e| e.val_loss / std::f64::consts::LN_2)),
            format!("{:.1}", r.seconds),
            format!("{:.0}", (r.steps.len() * batch_size * block_size) as f64 / r.seconds.max(1e-9)),
        ]);
        table.rows.push(row);
    }
    table
}
