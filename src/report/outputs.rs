//! Writers of the records and figures of one experiment (compare, train).

use crate::data::Dataset;
use crate::experiment::compare::Run;
use crate::experiment::train::{self, RunResult, TrainSettings};
use crate::nn::Model;
use crate::objective::Function;
use crate::plot::{self, contour::Contour, curves, lines::LossCurves, surface::Surface, Series};
use crate::record;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Writes everything `compare` promises into `dir`; returns the files written.
pub fn write_compare(
    dir: &Path,
    f: &Function,
    runs: &[Run],
    start: [f64; 2],
    steps: usize,
    note: &str,
    by_evals: bool,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut files = vec![dir.join("trajectories.csv"), dir.join("summary.json")];
    record::write_atomic(&files[0], record::trajectories_csv(runs).as_bytes())?;
    let summary = serde_json::json!({
        "function": f.name,
        "formula": f.formula,
        "domain": f.domain,
        "start": start,
        "steps": steps,
        "note": note,
        "optlab_version": env!("CARGO_PKG_VERSION"),
        "kernels": crate::kernels::active().name(),
        "runs": runs.iter().map(|r| &r.summary).collect::<Vec<_>>(),
    });
    record::write_json(&files[1], &summary)?;
    let series: Vec<Series> = runs.iter().map(Series::from_run).collect();
    let what = if note.is_empty() { String::new() } else { format!(", {note}") };
    let title = format!("{}: {}{}", f.name, f.formula, what);
    let short = if f.name == f.formula { f.name.clone() } else { format!("{}: {}", f.name, f.formula) };
    let view = plot::contour::view_for(f, &series);
    files.extend(plot::save(
        &Contour { f, series: &series, title: title.clone(), view, size: (900, 760) },
        &dir.join("contour"),
    )?);
    files.extend(plot::save(
        &Surface { f, series: &series, title: title.clone(), size: (900, 760) },
        &dir.join("surface"),
    )?);
    let mut loss = LossCurves::new(&series, format!("loss per step — {short}{what}"), (900, 560));
    if by_evals {
        loss.title = format!("loss per function evaluation — {short}{what}");
        loss.x = Some((
            "function evaluations",
            runs.iter().map(|r| r.trajectory.points.iter().map(|p| p.evals as f64).collect()).collect(),
        ));
    }
    files.extend(plot::save(&loss, &dir.join("loss"))?);
    if runs.iter().any(|r| !r.config.modifiers.is_empty()) {
        // the learning rate each run used, step by step (schedulers)
        let lrs: Vec<Series> = runs
            .iter()
            .map(|r| Series {
                label: r.label.clone(),
                points: r.trajectory.points.iter().map(|p| (p.x, p.y, p.lr)).collect(),
                diverged_at: r.summary.diverged_at,
                _marker: std::marker::PhantomData,
            })
            .collect();
        let mut fig = LossCurves::new(&lrs, format!("learning rate per step — {short}{what}"), (900, 460));
        fig.y_desc = "learning rate";
        fig.headroom = 0.12 * lrs.len() as f64;
        files.extend(plot::save(&fig, &dir.join("lr"))?);
    }
    Ok(files)
}

/// What a training run wrote, and its table.
pub struct TrainOutput {
    pub files: Vec<PathBuf>,
    pub table: String,
}

/// Writes records and figures of a training run into `dir`.
pub fn write_train(
    dir: &Path,
    model: &Model,
    data: &Dataset,
    s: &TrainSettings,
    results: &[RunResult],
    seconds: f64,
) -> Result<TrainOutput> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut files = vec![dir.join("history.csv"), dir.join("steps.csv"), dir.join("summary.json")];
    record::write_atomic(&files[0], train::history_csv(results).as_bytes())?;
    record::write_atomic(&files[1], train::steps_csv(results).as_bytes())?;
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
    let n_train = s.limit_train.map_or(data.train.len(), |l| l.min(data.train.len()));
    record::write_json(
        &files[2],
        &serde_json::json!({
            "model": model.name, "parameters": model.n_params, "dataset": data.name, "data_source": data.source,
            "train_samples": n_train, "test_samples": data.test.len(), "epochs": s.epochs, "batch_size": s.batch_size,
            "normalisation": [data.mean, data.std], "total_seconds": seconds,
            "optlab_version": env!("CARGO_PKG_VERSION"), "kernels": crate::kernels::active().name(), "runs": runs,
        }),
    )?;
    let bands = curves::bands(results);
    let what = format!("{} on {} ({} training images), batch {}", model.name, data.name, n_train, s.batch_size);
    files.extend(plot::save(
        &curves::CurvesGrid {
            bands: &bands,
            title: format!("mean training loss per epoch — {what}"),
            epochs: s.epochs,
        },
        &dir.join("curves_grid"),
    )?);
    files.extend(plot::save(
        &curves::Curves { bands: &bands, title: what.clone(), epochs: s.epochs },
        &dir.join("curves"),
    )?);
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
        files.extend(plot::save(&fig, &dir.join("lr"))?);
    }
    Ok(TrainOutput { table: super::tables::train_table(results).render(), files })
}

/// Writes `map.csv`, `map.json`, one basin map per optimizer (`map-<n>-<name>.png/.svg`) and
/// the panel of all (`panel.png/.svg`) into `dir`.
pub fn write_map(
    dir: &Path,
    f: &Function,
    maps: &[crate::experiment::map::MapResult],
    steps: usize,
) -> Result<Vec<PathBuf>> {
    use crate::experiment::map::summarize;
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let summaries: Vec<_> = maps.iter().map(summarize).collect();
    let mut csv = String::from("optimizer,outcome,minimum_x,minimum_y,share,median_steps\n");
    for (m, s) in maps.iter().zip(&summaries) {
        let label = record::csv_field(&m.label);
        let med = s.median_steps.map(|v| v.to_string()).unwrap_or_default();
        for (i, share) in s.basin_shares.iter().enumerate() {
            let _ = writeln!(csv, "{label},minimum {i},{:?},{:?},{share:?},{med}", m.minima[i][0], m.minima[i][1]);
        }
        let _ = writeln!(csv, "{label},diverged,,,{:?},", s.diverged_share);
        let _ = writeln!(csv, "{label},stalled,,,{:?},", s.stalled_share);
    }
    let mut files = vec![dir.join("map.csv"), dir.join("map.json")];
    record::write_atomic(&files[0], csv.as_bytes())?;
    let minima = maps.first().map(|m| m.minima.clone()).unwrap_or_default();
    record::write_json(
        &files[1],
        &serde_json::json!({
            "function": f.name, "formula": f.formula, "domain": maps.first().map(|m| m.domain),
            "grid": maps.first().map(|m| m.grid), "steps": steps, "minima": minima,
            "optimizers": maps.iter().zip(&summaries).map(|(m, s)| serde_json::json!({"optimizer": m.label, "spec": m.spec, "summary": s})).collect::<Vec<_>>(),
        }),
    )?;
    for (i, m) in maps.iter().enumerate() {
        let name: String = m.label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let title = format!("{}: {} — {} starts, {steps} steps", f.name, m.label, m.grid * m.grid);
        files.extend(plot::save(
            &plot::map::BasinMap { map: m, steps, title },
            &dir.join(format!("map-{}-{name}", i + 1)),
        )?);
    }
    files.extend(plot::save(
        &plot::map::MapPanel {
            maps,
            steps,
            title: format!("basins of {} ({}) — {} steps from every start", f.name, f.formula, steps),
        },
        &dir.join("panel"),
    )?);
    Ok(files)
}

/// The table of a basin-map run.
pub fn map_table(maps: &[crate::experiment::map::MapResult]) -> super::tables::Table {
    let mut t = super::tables::Table::new(&[
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
            .map_or("-".to_string(), |(i, v)| {
                format!("{} {:.1}%", super::tables::fmt_pt(m.minima[i][0], m.minima[i][1]), 100.0 * v)
            });
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
