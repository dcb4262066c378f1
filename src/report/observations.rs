//! Observations drawn from the numbers just measured, each stated with the number behind it.

use super::tables::{fmt_pt, sig};
use crate::experiment::compare::Run;
use crate::experiment::train::{RunResult, RunStatus};

pub fn join_and(items: &[String]) -> String {
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
    /// The runs tied for the fewest rises of the training loss (fewest rises, then the
    /// smallest largest rise); one label when a single run is the most stable, every run
    /// when none rose.
    pub most_stable: Vec<String>,
    /// The runs that overfit: their final test loss clearly exceeds their training loss.
    pub overfit: Vec<Overfit>,
}

/// A run whose final test loss is clearly above its training loss.
pub struct Overfit {
    pub label: String,
    pub train_loss: f64,
    pub test_loss: f64,
    /// The epoch (1-based) and value of the lowest test loss, when it came before the last.
    pub best_test: Option<(usize, f64)>,
}

/// "Clearly": the test loss is at least this many times the training loss ...
pub const OVERFIT_RATIO: f64 = 1.5;
/// ... and above it by at least this much (so tiny losses are not called overfitting).
pub const OVERFIT_GAP: f64 = 0.05;

/// A test loss that ends at least this many times its lowest value has clearly risen.
pub const OVERFIT_RISE: f64 = 1.05;

/// One sentence for the runs that overfit, e.g. "all 4 optimizers overfit: final test loss
/// 1.9–3.3× the training loss"; `None` when none does.
pub fn overfit_summary(overfit: &[Overfit], runs: usize) -> Option<String> {
    let ratios: Vec<f64> = overfit.iter().map(|o| o.test_loss / o.train_loss.max(1e-12)).collect();
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0f64), |(a, b), &r| (a.min(r), b.max(r)));
    let labels: Vec<String> = overfit.iter().map(|o| o.label.clone()).collect();
    let who = match overfit.len() {
        0 => return None,
        n if n == runs && n > 1 => format!("all {n} optimizers overfit"),
        1 => format!("{} overfits", labels[0]),
        _ => format!("{} overfit", join_and(&labels)),
    };
    let range = if hi - lo < 0.05 { format!("{hi:.1}×") } else { format!("{lo:.1}–{hi:.1}×") };
    Some(format!("{who}: final test loss {range} the training loss"))
}

/// Two stability keys tie when the counts agree and the largest rises agree to the 0.1% the
/// report prints them with.
fn same_stability(a: (usize, f64), b: (usize, f64)) -> bool {
    a.0 == b.0 && (a.1 - b.1).abs() < 5e-4
}

/// Whether `r` overfits, from its last epoch with both losses.
pub fn overfit(r: &RunResult) -> Option<Overfit> {
    let last = r.epochs.last()?;
    let (train, test) = (last.train_loss, last.test_loss?);
    if !(train.is_finite() && test.is_finite() && test >= OVERFIT_RATIO * train && test - train >= OVERFIT_GAP) {
        return None;
    }
    let best = r
        .epochs
        .iter()
        .filter_map(|e| e.test_loss.filter(|v| v.is_finite()).map(|v| (e.epoch, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    Some(Overfit {
        label: r.label.clone(),
        train_loss: train,
        test_loss: test,
        best_test: best.filter(|&(epoch, v)| epoch < last.epoch && test >= OVERFIT_RISE * v),
    })
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
    let best = runs.iter().map(|r| rises(r)).min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let stable: Vec<&&RunResult> =
        best.map(|k| runs.iter().filter(|r| same_stability(rises(r), k)).collect()).unwrap_or_default();
    if let Some(k) = best {
        let labels: Vec<String> = stable.iter().map(|r| r.label.clone()).collect();
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
        facts.push(if k.0 == 0 && stable.len() == runs.len() && runs.len() > 1 {
            format!(
                "Stability epoch to epoch does not tell them apart: the mean training loss never went up for any optimizer ({}), a tie.",
                join_and(&labels)
            )
        } else if stable.len() > 1 {
            format!(
                "Most stable epoch to epoch: a tie between {} — the mean training loss went up {}.",
                join_and(&labels),
                list.join(", ")
            )
        } else {
            format!("Most stable epoch to epoch: {} — the mean training loss went up {}.", labels[0], list.join(", "))
        });
    }
    let overfit: Vec<Overfit> = runs.iter().filter_map(|r| overfit(r)).collect();
    for o in &overfit {
        let best = match o.best_test {
            Some((epoch, v)) => format!("; its test loss was lowest at epoch {epoch} ({v:.4}) and rose after"),
            None => String::new(),
        };
        facts.push(format!(
            "{} overfits: final test loss {:.4} against training loss {:.4} ({:.1}×){best}.",
            o.label,
            o.test_loss,
            o.train_loss,
            o.test_loss / o.train_loss.max(1e-12)
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
    Part2Findings {
        facts,
        lowest: lowest.map(|r| r.label.clone()),
        most_stable: stable.iter().map(|r| r.label.clone()).collect(),
        overfit,
    }
}
