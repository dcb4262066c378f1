//! Observations drawn from the numbers just measured, each stated with the number behind it.

use super::tables::{fmt_pt, sig};
use crate::experiment::compare::Run;
use crate::experiment::train::{RunResult, RunStatus};

fn join_and(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// What the 2-D runs show.
pub fn part1(runs: &[Run], steps: usize, bounded: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut conv: Vec<&Run> = runs.iter().filter(|r| r.summary.converged_at.is_some()).collect();
    conv.sort_by_key(|r| r.summary.converged_at);
    if let Some(best) = conv.first() {
        let rest: Vec<String> =
            conv[1..].iter().map(|r| format!("{} {}", r.label, r.summary.converged_at.unwrap())).collect();
        out.push(format!(
            "Fastest to converge: {} at step {}{}.",
            best.label,
            best.summary.converged_at.unwrap(),
            if rest.is_empty() { String::new() } else { format!(" (then {})", rest.join(", ")) }
        ));
    }
    let div: Vec<String> =
        runs.iter().filter_map(|r| r.summary.diverged_at.map(|k| format!("{} (step {k})", r.label))).collect();
    if !div.is_empty() {
        out.push(format!("Diverged: {}.", join_and(&div)));
    }
    let stalled: Vec<String> = runs
        .iter()
        .filter(|r| r.summary.converged_at.is_none() && r.summary.diverged_at.is_none())
        .map(|r| match r.summary.distance_to_minimum {
            Some(d) => format!("{} (still {} from the nearest minimum)", r.label, sig(d)),
            None => format!("{} (final loss {})", r.label, sig(r.summary.final_loss)),
        })
        .collect();
    if !stalled.is_empty() {
        out.push(format!("Not converged within {steps} steps: {}.", join_and(&stalled)));
    }
    if let Some(low) = runs
        .iter()
        .filter(|r| r.summary.diverged_at.is_none() && r.summary.final_loss.is_finite())
        .min_by(|a, b| a.summary.final_loss.total_cmp(&b.summary.final_loss))
    {
        out.push(format!(
            "Lowest final loss: {} with {} at {}.",
            low.label,
            sig(low.summary.final_loss),
            fmt_pt(low.summary.final_x, low.summary.final_y)
        ));
    }
    let mut minima: Vec<[f64; 2]> = Vec::new();
    for r in runs.iter().filter(|r| r.summary.converged_at.is_some()) {
        if let Some(m) = r.summary.nearest_minimum {
            if !minima.iter().any(|q| (q[0] - m[0]).hypot(q[1] - m[1]) < 1e-3) {
                minima.push(m);
            }
        }
    }
    if minima.len() > 1 {
        let pts: Vec<String> = minima.iter().map(|m| fmt_pt(m[0], m[1])).collect();
        out.push(format!(
            "The converged runs ended in {} different local minima: {}; a large step can jump to another basin.",
            minima.len(),
            join_and(&pts)
        ));
    }
    if !bounded && conv.is_empty() {
        out.push("The function is unbounded below, so no run can converge; the loss only keeps falling.".into());
    }
    out
}

/// Number of epochs whose mean training loss rose above the previous epoch's, and the
/// largest relative rise.
pub fn rises(r: &RunResult) -> (usize, f64) {
    let l: Vec<f64> = r.epochs.iter().map(|e| e.train_loss).collect();
    let mut n = 0;
    let mut worst = 0f64;
    for w in l.windows(2) {
        if w[1] > w[0] {
            n += 1;
            worst = worst.max((w[1] - w[0]) / w[0].abs().max(1e-12));
        }
    }
    (n, worst)
}

/// Relative improvement of the training loss over the last `k` epochs (None if too short).
pub fn recent_gain(r: &RunResult, k: usize) -> Option<f64> {
    let n = r.epochs.len();
    (n > k).then(|| {
        let (a, b) = (r.epochs[n - 1 - k].train_loss, r.epochs[n - 1].train_loss);
        (a - b) / a.abs().max(1e-12)
    })
}

/// The measured facts of one model's training, and the seminar's claims checked against them.
pub struct Part2Findings {
    pub facts: Vec<String>,
    pub lowest: Option<String>,
    pub most_stable: Option<String>,
}

/// What the training runs show (one seed per optimizer is assumed; with several, the first).
pub fn part2(results: &[RunResult]) -> Part2Findings {
    let mut facts = Vec::new();
    let runs: Vec<&RunResult> = results.iter().filter(|r| !r.epochs.is_empty()).collect();
    let last = |r: &RunResult| r.epochs.last().map(|e| e.train_loss).unwrap_or(f64::NAN);
    let lowest = runs.iter().min_by(|a, b| last(a).total_cmp(&last(b)));
    if let Some(l) = lowest {
        let mut rest: Vec<&&RunResult> = runs.iter().filter(|r| r.label != l.label).collect();
        rest.sort_by(|a, b| last(a).total_cmp(&last(b)));
        let others: Vec<String> = rest.iter().map(|r| format!("{} {:.4}", r.label, last(r))).collect();
        facts.push(format!(
            "Lowest final training loss: {} with {:.4} (then {}).",
            l.label,
            last(l),
            others.join(", ")
        ));
    }
    let acc = |r: &RunResult| r.epochs.last().and_then(|e| e.test_accuracy).unwrap_or(f64::NAN);
    if let Some(b) = runs.iter().filter(|r| acc(r).is_finite()).max_by(|a, b| acc(a).total_cmp(&acc(b))) {
        facts.push(format!("Highest final test accuracy: {} with {:.2}%.", b.label, 100.0 * acc(b)));
    }
    let stable = runs.iter().min_by(|a, b| {
        let (ra, rb) = (rises(a), rises(b));
        ra.0.cmp(&rb.0).then(ra.1.total_cmp(&rb.1))
    });
    if let Some(s) = stable {
        let list: Vec<String> = runs
            .iter()
            .map(|r| {
                let (n, w) = rises(r);
                if n == 0 {
                    format!("{} never", r.label)
                } else {
                    format!("{} {n}× (largest rise {:.1}%)", r.label, 100.0 * w)
                }
            })
            .collect();
        facts.push(format!(
            "Most stable epoch to epoch: {} — the mean training loss went up {}.",
            s.label,
            list.join(", ")
        ));
    }
    for r in &runs {
        if let Some(g) = recent_gain(r, 5) {
            if g < 0.01 && r.epochs.len() >= 10 {
                facts.push(format!(
                    "{} stalled: its training loss improved by only {:.2}% over the last 5 epochs.",
                    r.label,
                    100.0 * g
                ));
            }
        }
    }
    for r in results {
        if let RunStatus::Diverged { epoch, step } = r.status {
            facts.push(format!("{} diverged (NaN loss) at epoch {epoch}, step {step}.", r.label));
        }
    }
    Part2Findings { facts, lowest: lowest.map(|r| r.label.clone()), most_stable: stable.map(|r| r.label.clone()) }
}
