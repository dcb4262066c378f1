//! The figures of each experiment, rendered from its records and written through the
//! output folder (PNG and SVG of each).

use crate::experiment::compare::Run;
use crate::experiment::map::MapResult;
use crate::experiment::sweep::SweepPoint;
use crate::experiment::train::RunResult;
use crate::objective::Function;
use crate::plot::{self, contour::Contour, curves, lines::LossCurves, surface::Surface, Series};
use crate::record::compare::at;
use crate::record::OutDir;
use anyhow::Result;

/// The learning rate of each run per step, as curves.
fn lr_series(runs: &[Run]) -> Vec<Series<'static>> {
    runs.iter()
        .map(|r| Series {
            label: r.label.clone(),
            points: r.trajectory.points.iter().map(|p| (p.x, p.y, p.lr)).collect(),
            diverged_at: r.summary.diverged_at,
            _marker: std::marker::PhantomData,
        })
        .collect()
}

/// `rel/contour`, `rel/surface`, `rel/loss` and, when a run has a scheduler, `rel/lr`.
pub fn compare(out: &mut OutDir, rel: &str, f: &Function, runs: &[Run], note: &str, by_evals: bool) -> Result<()> {
    let series: Vec<Series> = runs.iter().map(Series::from_run).collect();
    let what = if note.is_empty() { String::new() } else { format!(", {note}") };
    let title = format!("{}: {}{}", f.name, f.formula, what);
    let short = if f.name == f.formula { f.name.clone() } else { format!("{}: {}", f.name, f.formula) };
    let view = plot::contour::view_for(f, &series);
    plot::save_in(
        &Contour { f, series: &series, title: title.clone(), view, size: (900, 760) },
        out,
        &at(rel, "contour"),
    )?;
    plot::save_in(&Surface { f, series: &series, title: title.clone(), size: (900, 760) }, out, &at(rel, "surface"))?;
    let mut loss = LossCurves::new(&series, format!("loss per step — {short}{what}"), (900, 560));
    if by_evals {
        loss.title = format!("loss per function evaluation — {short}{what}");
        loss.x = Some((
            "function evaluations",
            runs.iter().map(|r| r.trajectory.points.iter().map(|p| p.evals as f64).collect()).collect(),
        ));
    }
    plot::save_in(&loss, out, &at(rel, "loss"))?;
    if runs.iter().any(|r| !r.config.modifiers.is_empty()) {
        let lrs = lr_series(runs);
        let mut fig = LossCurves::new(&lrs, format!("learning rate per step — {short}{what}"), (900, 460));
        fig.y_desc = "learning rate";
        fig.headroom = 0.12 * lrs.len() as f64;
        plot::save_in(&fig, out, &at(rel, "lr"))?;
    }
    Ok(())
}

/// `rel/trajectories.gif`: the runs moving together over the contours.
pub fn animation(out: &mut OutDir, rel: &str, f: &Function, runs: &[Run]) -> Result<()> {
    let series: Vec<Series> = runs.iter().map(Series::from_run).collect();
    let view = plot::contour::view_for(f, &series);
    out.with(at(rel, "trajectories.gif"), |tmp| plot::animate::animate(f, &series, view, &f.name, tmp, 60, 80))?;
    Ok(())
}

/// `rel/curves_grid`, `rel/curves` and, with schedulers, `rel/lr` of a training run;
/// `what` describes the model, data and batch for the titles.
pub fn train(out: &mut OutDir, rel: &str, what: &str, epochs: usize, results: &[RunResult]) -> Result<()> {
    let bands = curves::bands(results);
    plot::save_in(
        &curves::CurvesGrid { bands: &bands, title: format!("mean training loss per epoch — {what}"), epochs },
        out,
        &at(rel, "curves_grid"),
    )?;
    plot::save_in(&curves::Curves { bands: &bands, title: what.to_string(), epochs }, out, &at(rel, "curves"))?;
    if results.iter().any(|r| r.spec.contains(" | ")) {
        // schedulers: the learning rate of each run (first seed) per training step
        let mut seen = Vec::new();
        let lrs: Vec<Series> = results
            .iter()
            .filter(|r| {
                let first = !seen.contains(&&r.label);
                seen.push(&r.label);
                first
            })
            .map(|r| Series {
                label: r.label.clone(),
                points: r.step_losses.iter().map(|&(_, _, lr)| (0.0, 0.0, lr)).collect(),
                diverged_at: None,
                _marker: std::marker::PhantomData,
            })
            .collect();
        let mut fig = LossCurves::new(&lrs, format!("learning rate per step — {what}"), (900, 460));
        fig.y_desc = "learning rate";
        fig.headroom = 0.12 * lrs.len() as f64;
        plot::save_in(&fig, out, &at(rel, "lr"))?;
    }
    Ok(())
}

/// One basin map per optimizer (`rel/map-<n>-<name>`) and the panel of all (`rel/panel`).
pub fn map(out: &mut OutDir, rel: &str, f: &Function, maps: &[MapResult], steps: usize) -> Result<()> {
    for (i, m) in maps.iter().enumerate() {
        let name: String = m.label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let title = format!("{}: {} — {} starts, {steps} steps", f.name, m.label, m.grid * m.grid);
        plot::save_in(&plot::map::BasinMap { map: m, steps, title }, out, &at(rel, &format!("map-{}-{name}", i + 1)))?;
    }
    plot::save_in(
        &plot::map::MapPanel {
            maps,
            steps,
            title: format!("basins of {} ({}) — {} steps from every start", f.name, f.formula, steps),
        },
        out,
        &at(rel, "panel"),
    )?;
    Ok(())
}

/// The sweep's curves (`sweep`), or with a second hyperparameter one heatmap per optimizer
/// (`heatmap-<n>`).
pub fn sweep(
    out: &mut OutDir,
    f: &Function,
    start_text: &str,
    steps: usize,
    points: &[SweepPoint],
    labels: &[String],
    vs: Option<&str>,
) -> Result<()> {
    match vs {
        Some(key) => {
            for (i, l) in labels.iter().enumerate() {
                let title = format!(
                    "{}: {l}, steps to converge over lr × {key} (black: diverged, grey: not converged)",
                    f.name
                );
                plot::save_in(
                    &plot::sweep::SweepHeatmap { points, optimizer: l.clone(), key: key.to_string(), title, steps },
                    out,
                    &format!("heatmap-{}", i + 1),
                )?;
            }
        }
        None => {
            let title = format!("{} — {}: learning-rate sweep from {start_text}, {steps} steps", f.name, f.formula);
            plot::save_in(&plot::sweep::SweepCurves { points, optimizers: labels, title, steps }, out, "sweep")?;
        }
    }
    Ok(())
}

/// `rel/val_loss` (validation loss against steps), `rel/val_loss_seconds` (against wall
/// seconds) and `rel/train_loss` (the loss of every step) of a language-model run, every
/// optimizer and seed on one axis.
pub fn lm(out: &mut OutDir, rel: &str, what: &str, results: &[crate::experiment::lm::LmResult]) -> Result<()> {
    let label = |r: &crate::experiment::lm::LmResult| {
        if results.iter().filter(|o| o.label == r.label).count() > 1 {
            format!("{} seed {}", r.label, r.seed)
        } else {
            r.label.clone()
        }
    };
    let evals: Vec<Series> = results
        .iter()
        .map(|r| Series {
            label: label(r),
            points: r.evals.iter().map(|e| (0.0, 0.0, e.val_loss)).collect(),
            diverged_at: None,
            _marker: std::marker::PhantomData,
        })
        .collect();
    let mut fig = LossCurves::new(&evals, format!("validation loss — {what}"), (900, 560));
    fig.y_desc = "validation loss (nats per character)";
    fig.x = Some(("step", results.iter().map(|r| r.evals.iter().map(|e| e.step as f64).collect()).collect()));
    plot::save_in(&fig, out, &at(rel, "val_loss"))?;
    fig.title = format!("validation loss against time — {what}");
    fig.x = Some(("seconds", results.iter().map(|r| r.evals.iter().map(|e| e.seconds).collect()).collect()));
    plot::save_in(&fig, out, &at(rel, "val_loss_seconds"))?;
    let steps: Vec<Series> = results
        .iter()
        .map(|r| Series {
            label: label(r),
            points: r.steps.iter().filter(|s| s.loss.is_finite()).map(|s| (0.0, 0.0, s.loss as f64)).collect(),
            diverged_at: None,
            _marker: std::marker::PhantomData,
        })
        .collect();
    let mut fig = LossCurves::new(&steps, format!("training loss per step — {what}"), (900, 560));
    fig.x = Some(("step", results.iter().map(|r| (1..=r.steps.len()).map(|k| k as f64).collect()).collect()));
    plot::save_in(&fig, out, &at(rel, "train_loss"))?;
    Ok(())
}
