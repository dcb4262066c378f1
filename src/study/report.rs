//! The study's report: whatever results exist, merged into the best hyperparameters per
//! problem and optimizer, mean ± std over seeds, learning-rate sensitivity (DeepOBS) and
//! performance profiles (AlgoPerf); written as `index.html` (self-contained), `report.md`,
//! `results.csv` and `summary.json` with the figures (PNG and SVG).
//!
//! Ranking. A hyperparameter point of an optimizer on a problem is ranked by its number of
//! failed seeds (diverged, or no value of the problem's metric) first, then by the mean over
//! its other seeds of the problem's `select` metric. Steps and epochs to target are what the
//! profiles use: they are the same on every machine, unlike seconds (also reported).

use super::plan::Plan;
use super::run::{collect, ranges, Outcome, StudyDir, TrialResult};
use super::{Metric, Problem, ProblemKind};
use crate::limits::fmt_value;
use crate::plot::study::{BandLine, Bands, Profiles};
use crate::record::{csv_field, OutDir};
use crate::report::doc::{Block, Report, Section};
use crate::report::tables::Table;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// τ up to which profiles are drawn and scored (AlgoPerf's 4).
pub const TAU_MAX: f64 = 4.0;

/// Mean and sample standard deviation of some values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

/// The statistics of the finite values (None if there are none).
pub fn stat(values: &[f64]) -> Option<Stat> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let std = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(Stat { mean, std, n: v.len() })
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// A result's final loss: the function value, or the last epoch's mean training loss.
fn final_loss(r: &TrialResult) -> Option<f64> {
    match &r.outcome {
        Outcome::Function(f) => f.final_loss.filter(|_| f.diverged_at.is_none()),
        Outcome::Train(t) => t.final_train_loss.filter(|_| t.diverged_at.is_none()),
        Outcome::LanguageModel(t) => t.final_train_loss.filter(|_| t.diverged_at.is_none()),
    }
}

fn diverged(r: &TrialResult) -> bool {
    match &r.outcome {
        Outcome::Function(f) => f.diverged_at.is_some(),
        Outcome::Train(t) => t.diverged_at.is_some(),
        Outcome::LanguageModel(t) => t.diverged_at.is_some(),
    }
}

/// Steps (2-D) or epochs (training) to the target.
fn to_target(r: &TrialResult) -> Option<f64> {
    match &r.outcome {
        Outcome::Function(f) => f.steps_to_target.map(|s| s as f64),
        Outcome::Train(t) => t.epochs_to_target.map(|e| e as f64),
        Outcome::LanguageModel(t) => t.steps_to_target.map(|s| s as f64),
    }
}

/// The value of `m` for a result (None: not there, or the run diverged).
pub fn metric(r: &TrialResult, m: Metric) -> Option<f64> {
    if diverged(r) {
        return None;
    }
    match (m, &r.outcome) {
        (Metric::FinalLoss, _) => final_loss(r),
        (Metric::LowestLoss, Outcome::Function(f)) => f.lowest_loss,
        (Metric::TestLoss, Outcome::Train(t)) => t.final_test_loss,
        (Metric::TestAccuracy, Outcome::Train(t)) => t.final_test_accuracy,
        (Metric::ValLoss, Outcome::LanguageModel(t)) => t.final_val_loss,
        (Metric::StepsToTarget, _) => to_target(r),
        _ => None,
    }
}

/// One hyperparameter point of one optimizer on one problem, over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct PointStats {
    pub problem: String,
    pub optimizer: String,
    pub point: usize,
    pub hyper: BTreeMap<String, String>,
    pub lr: f64,
    pub spec: String,
    /// Replicates planned and done.
    pub planned: usize,
    pub done: usize,
    pub diverged: usize,
    /// Replicates without a value of the problem's metric (diverged, target missed...).
    pub failed: usize,
    /// Mean of the problem's metric over the replicates that have it.
    pub score: Option<f64>,
    pub score_std: Option<f64>,
    pub final_loss: Option<Stat>,
    pub test_loss: Option<Stat>,
    pub test_accuracy: Option<Stat>,
    /// Language models: the last validation loss.
    pub val_loss: Option<Stat>,
    /// Steps (2-D) or epochs (training) to target, over the replicates that reached it.
    pub to_target: Option<Stat>,
    pub reached: usize,
    /// Median over all done replicates (missed: infinite), what the profiles use.
    #[serde(skip)]
    pub to_target_median: f64,
    pub seconds_to_target: Option<Stat>,
    pub seconds: Option<Stat>,
    #[serde(skip)]
    pub ids: Vec<usize>,
}

impl PointStats {
    /// Sort key: fewer failed replicates first, then the better mean.
    fn key(&self, higher_better: bool) -> (usize, f64) {
        let s = self.score.unwrap_or(f64::INFINITY);
        (self.failed, if higher_better { -s } else { s })
    }
}

/// Everything the report shows, computed from the results.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub points: Vec<PointStats>,
    /// Per (problem, optimizer): the index in `points` of the best point, if any is done.
    pub best: Vec<Vec<Option<usize>>>,
    /// Per problem with a target: per optimizer the performance ratio (≥ 1; ∞ if missed).
    pub ratios: Vec<(usize, Vec<f64>)>,
    pub results: usize,
    pub missing: Vec<usize>,
}

/// Groups the results by point and ranks the points.
pub fn analyse(plan: &Plan, trials: &[super::plan::Trial], results: &[TrialResult], missing: Vec<usize>) -> Analysis {
    // points in plan order
    let mut index: BTreeMap<(usize, usize, usize), usize> = BTreeMap::new();
    let mut points: Vec<PointStats> = Vec::new();
    let mut members: Vec<Vec<&TrialResult>> = Vec::new();
    for t in trials {
        let k = (t.problem, t.optimizer, t.point);
        let i = *index.entry(k).or_insert_with(|| {
            points.push(PointStats {
                problem: t.problem_name.clone(),
                optimizer: t.optimizer_label.clone(),
                point: t.point,
                hyper: t.hyper.clone(),
                lr: t.lr,
                spec: t.spec.clone(),
                planned: 0,
                done: 0,
                diverged: 0,
                failed: 0,
                score: None,
                score_std: None,
                final_loss: None,
                test_loss: None,
                test_accuracy: None,
                val_loss: None,
                to_target: None,
                reached: 0,
                to_target_median: f64::INFINITY,
                seconds_to_target: None,
                seconds: None,
                ids: Vec::new(),
            });
            members.push(Vec::new());
            points.len() - 1
        });
        points[i].planned += 1;
        points[i].ids.push(t.id);
    }
    for r in results {
        if let Some(&i) = index.get(&(r.trial.problem, r.trial.optimizer, r.trial.point)) {
            members[i].push(r);
        }
    }
    for (p, rs) in points.iter_mut().zip(&members) {
        let problem = plan.problems.iter().find(|q| q.name == p.problem).expect("the plan's problem");
        p.done = rs.len();
        p.diverged = rs.iter().filter(|r| diverged(r)).count();
        let scores: Vec<Option<f64>> = rs.iter().map(|r| metric(r, problem.select)).collect();
        p.failed = scores.iter().filter(|s| s.is_none()).count();
        let good: Vec<f64> = scores.iter().flatten().copied().collect();
        let st = stat(&good);
        p.score = st.map(|s| s.mean);
        p.score_std = st.map(|s| s.std);
        p.final_loss = stat(&rs.iter().filter_map(|r| final_loss(r)).collect::<Vec<_>>());
        p.test_loss = stat(&rs.iter().filter_map(|r| metric(r, Metric::TestLoss)).collect::<Vec<_>>());
        p.test_accuracy = stat(&rs.iter().filter_map(|r| metric(r, Metric::TestAccuracy)).collect::<Vec<_>>());
        p.val_loss = stat(&rs.iter().filter_map(|r| metric(r, Metric::ValLoss)).collect::<Vec<_>>());
        let reached: Vec<f64> = rs.iter().filter_map(|r| to_target(r)).collect();
        p.reached = reached.len();
        p.to_target = stat(&reached);
        if problem.target.is_some() && !rs.is_empty() {
            p.to_target_median = median(rs.iter().map(|r| to_target(r).unwrap_or(f64::INFINITY)).collect());
        }
        p.seconds_to_target = stat(&rs.iter().filter_map(|r| r.run.seconds_to_target).collect::<Vec<_>>());
        p.seconds = stat(&rs.iter().map(|r| r.run.seconds).collect::<Vec<_>>());
    }
    let mut best = vec![vec![None; plan.optimizers.len()]; plan.problems.len()];
    for (pi, problem) in plan.problems.iter().enumerate() {
        for (oi, o) in plan.optimizers.iter().enumerate() {
            let hb = problem.select.higher_is_better();
            best[pi][oi] = points
                .iter()
                .enumerate()
                .filter(|(_, p)| p.problem == problem.name && p.optimizer == o.label && p.done > 0)
                .min_by(|a, b| {
                    let (ka, kb) = (a.1.key(hb), b.1.key(hb));
                    ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.1.point.cmp(&b.1.point))
                })
                .map(|(i, _)| i);
        }
    }
    // performance profiles: per problem with a target, each optimizer's fastest point
    let mut ratios = Vec::new();
    for (pi, problem) in plan.problems.iter().enumerate() {
        if problem.target.is_none() {
            continue;
        }
        let times: Vec<f64> = plan
            .optimizers
            .iter()
            .map(|o| {
                points
                    .iter()
                    .filter(|p| p.problem == problem.name && p.optimizer == o.label && p.done > 0)
                    .map(|p| p.to_target_median)
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let fastest = times.iter().copied().fold(f64::INFINITY, f64::min);
        let r: Vec<f64> =
            times
                .iter()
                .map(|&t| {
                    if t.is_finite() && fastest.is_finite() {
                        t.max(1e-300) / fastest.max(1e-300)
                    } else {
                        f64::INFINITY
                    }
                })
                .collect();
        ratios.push((pi, r));
    }
    Analysis { points, best, ratios, results: results.len(), missing }
}

/// AlgoPerf's score: the area under ρ(τ) for τ from 1 to `tau_max`, over (`tau_max` − 1):
/// 1 for an optimizer that is fastest on every problem, 0 for one that reaches no target.
pub fn profile_score(ratios: &[f64], tau_max: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    let area: f64 = ratios.iter().filter(|r| r.is_finite() && **r <= tau_max).map(|r| tau_max - r.max(1.0)).sum();
    area / ratios.len() as f64 / (tau_max - 1.0)
}

fn pm(s: Option<Stat>, digits: Option<usize>) -> String {
    match s {
        None => "-".into(),
        Some(s) => {
            let f = |v: f64, sig: usize| match digits {
                Some(d) => format!("{v:.d$}"),
                None => fmt_value(crate::study::plan::round_sig(v, sig)),
            };
            if s.n > 1 {
                format!("{} ± {}", f(s.mean, 4), f(s.std, 2))
            } else {
                f(s.mean, 4)
            }
        }
    }
}

fn hyper_text(p: &PointStats) -> String {
    if p.hyper.is_empty() {
        "(as given)".into()
    } else {
        p.hyper.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

fn slug(name: &str) -> String {
    crate::experiment::presets::slug(name)
}

/// `results.csv`: one row per result (the `seconds` columns differ between runs; all
/// others are the same on every machine).
pub fn results_csv(results: &[TrialResult]) -> String {
    let mut s = String::from(
        "id,problem,optimizer,point,seed,start_x,start_y,lr,hyper,spec,status,final_loss,lowest_loss,test_loss,test_accuracy,best_test_accuracy,val_loss,best_val_loss,steps_to_target,epochs_to_target,diverged_at,steps_run,seconds,seconds_to_target\n",
    );
    let o = |v: Option<f64>| v.map(|v| format!("{v:?}")).unwrap_or_default();
    let u = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in results {
        let t = &r.trial;
        let hyper = t.hyper.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let (vl, bvl) = match &r.outcome {
            Outcome::LanguageModel(x) => (x.final_val_loss, x.best_val_loss),
            _ => (None, None),
        };
        let (status, fl, ll, tl, ta, bta, stt, ett, div, run) = match &r.outcome {
            Outcome::Function(f) => (
                f.status.clone(),
                f.final_loss,
                f.lowest_loss,
                None,
                None,
                None,
                f.steps_to_target,
                None,
                f.diverged_at.map(|d| d.to_string()),
                Some(f.steps_run),
            ),
            Outcome::Train(x) => (
                x.status.clone(),
                x.final_train_loss,
                None,
                x.final_test_loss,
                x.final_test_accuracy,
                x.best_test_accuracy,
                None,
                x.epochs_to_target,
                x.diverged_at.map(|(e, s)| format!("epoch {e} step {s}")),
                Some(x.epochs.len()),
            ),
            Outcome::LanguageModel(x) => (
                x.status.clone(),
                x.final_train_loss,
                None,
                None,
                None,
                None,
                x.steps_to_target,
                None,
                x.diverged_at.map(|d| format!("step {d}")),
                x.evals.last().map(|e| e.step),
            ),
        };
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{:?},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{}",
            t.id,
            csv_field(&t.problem_name),
            csv_field(&t.optimizer_label),
            t.point,
            t.seed.map(|s| s.to_string()).unwrap_or_default(),
            o(t.start.map(|p| p[0])),
            o(t.start.map(|p| p[1])),
            t.lr,
            csv_field(&hyper),
            csv_field(&t.spec),
            status,
            o(fl),
            o(ll),
            o(tl),
            o(ta),
            o(bta),
            o(vl),
            o(bvl),
            u(stt),
            u(ett),
            csv_field(&div.unwrap_or_default()),
            u(run),
            r.run.seconds,
            r.run.seconds_to_target.map(|v| format!("{v:.4}")).unwrap_or_default(),
        );
    }
    s
}

/// What the report wrote.
pub struct Written {
    pub html: PathBuf,
    pub files: Vec<PathBuf>,
    pub analysis: Analysis,
    /// The table of the best hyperparameters, for the terminal.
    pub best_table: Table,
}

fn metric_desc(problem: &Problem) -> String {
    match (problem.select, &problem.kind) {
        (Metric::FinalLoss, ProblemKind::Function { .. }) => "final loss".into(),
        (Metric::FinalLoss, _) => "final training loss".into(),
        (Metric::LowestLoss, _) => "lowest loss".into(),
        (Metric::TestLoss, _) => "final test loss".into(),
        (Metric::TestAccuracy, _) => "final test accuracy".into(),
        (Metric::ValLoss, _) => "final validation loss".into(),
        (Metric::StepsToTarget, ProblemKind::LanguageModel { .. }) => "steps to target".into(),
        (Metric::StepsToTarget, ProblemKind::Function { .. }) => "steps to target".into(),
        (Metric::StepsToTarget, _) => "epochs to target".into(),
    }
}

fn unit(problem: &Problem) -> &'static str {
    if problem.is_train() {
        "epochs"
    } else {
        "steps"
    }
}

/// The table of the best point of every problem × optimizer.
pub fn best_table(plan: &Plan, a: &Analysis) -> Table {
    let mut t = Table::new(&[
        "problem",
        "optimizer",
        "best hyperparameters",
        "seeds",
        "ranked by (mean)",
        "final loss",
        "test accuracy",
        "to target",
        "s to target",
        "diverged",
    ]);
    for (pi, problem) in plan.problems.iter().enumerate() {
        for (oi, o) in plan.optimizers.iter().enumerate() {
            let Some(bi) = a.best[pi][oi] else {
                t.rows.push(vec![
                    problem.name.clone(),
                    o.label.clone(),
                    "no results yet".into(),
                    "0".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
                continue;
            };
            let p = &a.points[bi];
            let score = match (p.score, p.score_std) {
                (Some(m), Some(s)) if p.done - p.failed > 1 => {
                    format!("{} ± {}", fmt_value(super::plan::round_sig(m, 4)), fmt_value(super::plan::round_sig(s, 3)))
                }
                (Some(m), _) => fmt_value(super::plan::round_sig(m, 4)),
                _ => "-".into(),
            };
            let target = match problem.target {
                None => "-".into(),
                Some(_) => format!("{} {} ({}/{} reached)", pm(p.to_target, Some(1)), unit(problem), p.reached, p.done),
            };
            t.rows.push(vec![
                problem.name.clone(),
                o.label.clone(),
                hyper_text(p),
                if p.done < p.planned { format!("{}/{}", p.done, p.planned) } else { p.done.to_string() },
                format!("{}: {score}", metric_desc(problem)),
                pm(p.final_loss, None),
                if problem.is_train() { pm(p.test_accuracy, Some(4)) } else { "-".into() },
                target,
                pm(p.seconds_to_target, None),
                format!("{}/{}", p.diverged, p.done),
            ]);
        }
    }
    t
}

/// The lr-sensitivity lines of a problem: per optimizer, at each lr its best point's
/// metric (mean ± std over seeds); lrs where every seed failed are crosses.
fn sensitivity(plan: &Plan, a: &Analysis, problem: &Problem) -> Vec<BandLine> {
    let hb = problem.select.higher_is_better();
    let mut lines = Vec::new();
    for o in &plan.optimizers {
        let pts: Vec<&PointStats> =
            a.points.iter().filter(|p| p.problem == problem.name && p.optimizer == o.label && p.done > 0).collect();
        let mut lrs: Vec<f64> = pts.iter().map(|p| p.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        if lrs.len() < 2 {
            continue;
        }
        let mut line = BandLine { label: o.label.clone(), ..Default::default() };
        for lr in lrs {
            let best = pts.iter().filter(|p| p.lr == lr).min_by(|x, y| {
                let (kx, ky) = (x.key(hb), y.key(hb));
                kx.0.cmp(&ky.0).then(kx.1.total_cmp(&ky.1))
            });
            match best.and_then(|p| p.score.map(|s| (s, p.score_std.unwrap_or(0.0)))) {
                Some((m, s)) => line.points.push((lr, m, s)),
                None => line.diverged.push(lr),
            }
        }
        lines.push(line);
    }
    lines
}

/// Learning curves of each optimizer's best point: loss per step (2-D) or test accuracy
/// (training with a test set; else the training loss) per epoch, mean ± std over seeds.
fn curves(
    plan: &Plan,
    a: &Analysis,
    pi: usize,
    results: &[TrialResult],
) -> (Vec<BandLine>, &'static str, &'static str) {
    let problem = &plan.problems[pi];
    let by_id: BTreeMap<usize, &TrialResult> = results.iter().map(|r| (r.id, r)).collect();
    let mut lines = Vec::new();
    let mut y_desc = "loss";
    for (oi, o) in plan.optimizers.iter().enumerate() {
        let Some(bi) = a.best[pi][oi] else { continue };
        let rs: Vec<&TrialResult> = a.points[bi].ids.iter().filter_map(|id| by_id.get(id).copied()).collect();
        let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for r in &rs {
            match &r.outcome {
                Outcome::Function(f) => {
                    for &(step, loss) in &f.curve {
                        at.entry(step as u64).or_default().push(loss);
                    }
                }
                Outcome::Train(t) => {
                    let acc = t.epochs.iter().any(|e| e.test_accuracy.is_some());
                    y_desc = if acc { "test accuracy" } else { "mean training loss" };
                    for e in &t.epochs {
                        let v = if acc { e.test_accuracy } else { e.train_loss };
                        if let Some(v) = v {
                            at.entry(e.epoch as u64).or_default().push(v);
                        }
                    }
                }
                Outcome::LanguageModel(t) => {
                    y_desc = "validation loss";
                    for e in &t.evals {
                        if let Some(v) = e.val_loss {
                            at.entry(e.step as u64).or_default().push(v);
                        }
                    }
                }
            }
        }
        let points = at.into_iter().filter_map(|(x, v)| stat(&v).map(|s| (x as f64, s.mean, s.std))).collect();
        lines.push(BandLine { label: o.label.clone(), points, diverged: Vec::new() });
    }
    (lines, if problem.is_train() { "epoch" } else { "step" }, y_desc)
}

/// Writes the report of the study in `sd` into `out`.
pub fn write(sd: &StudyDir, out: &mut OutDir) -> Result<Written> {
    let plan = &sd.plan;
    let (results, missing) = collect(sd);
    let a = analyse(plan, &sd.trials, &results, missing.clone());
    let failed = super::run::status(sd, super::run::DEFAULT_LEASE).failed;
    let mut report = Report { title: format!("optlab study: {}", plan.name), ..Default::default() };
    report.meta = vec![
        ("trials".into(), format!("{} planned, {} done, {} missing", plan.trials, results.len(), missing.len())),
        ("seeds".into(), plan.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
        (
            "made by".into(),
            format!("optlab {} (`optlab study report {}`)", env!("CARGO_PKG_VERSION"), sd.dir.display()),
        ),
    ];
    if !plan.description.is_empty() {
        report.meta.push(("about".into(), plan.description.clone()));
    }

    // ---- the study
    let mut problems = Table::new(&["problem", "what", "budget", "replicates", "target", "ranked by"]);
    for (pi, p) in plan.problems.iter().enumerate() {
        let what = match &p.kind {
            ProblemKind::Function { function, shape, .. } => {
                format!("function {function}{}", if shape == "2" { String::new() } else { format!(", shape {shape}") })
            }
            ProblemKind::Train { model, dataset, data, batch_size, limit, .. } => format!(
                "train {model} on {dataset} ({}{}), batch {batch_size}",
                match data {
                    super::DataSource::Subset => "embedded subset",
                    super::DataSource::Full => "full set",
                },
                limit.map(|l| format!(", first {l} images")).unwrap_or_default()
            ),
            ProblemKind::LanguageModel { model, dataset, batch_size, eval_every, eval_batches, .. } => format!(
                "train {model} on {dataset}, batch {batch_size}, validation on {eval_batches} batches every {eval_every} steps"
            ),
        };
        let reps = sd.trials.iter().filter(|t| t.problem == pi && t.optimizer == 0 && t.point == 0).count();
        let rep_kind = if p.replicates_by_seed() {
            "seeds"
        } else if sd.trials.iter().any(|t| t.problem == pi && t.seed.is_some()) {
            "random starts"
        } else {
            "starts"
        };
        problems.rows.push(vec![
            p.name.clone(),
            what,
            p.budget(),
            format!("{reps} {rep_kind}"),
            p.target.map_or("-".into(), |t| t.describe()),
            metric_desc(p),
        ]);
    }
    let mut optimizers = Table::new(&["optimizer", "spec", "search", "points", "space"]);
    for o in &plan.optimizers {
        let space = o.space.iter().map(|(k, d)| format!("{k}: {d}")).collect::<Vec<_>>().join("; ");
        optimizers.rows.push(vec![
            o.label.clone(),
            o.spec.clone(),
            match o.search {
                super::Search::Grid => "grid".into(),
                super::Search::QuasiRandom => "quasi-random (Halton)".into(),
            },
            o.points.to_string(),
            if space.is_empty() { "(fixed)".into() } else { space },
        ]);
    }
    let mut blocks = vec![
        Block::Para(format!(
            "{} trials: {} problem{} × {} optimizer{} × their hyperparameter points × replicates. Each trial is one run from the same initial state for every optimizer (training: the seed's initial weights and batch order; 2-D: the start). Hyperparameters are ranked by the mean over replicates of the problem's metric, after the number of replicates that diverged or missed it.",
            plan.trials,
            plan.problems.len(),
            if plan.problems.len() == 1 { "" } else { "s" },
            plan.optimizers.len(),
            if plan.optimizers.len() == 1 { "" } else { "s" }
        )),
        Block::Table(problems),
        Block::Table(optimizers),
    ];
    if !missing.is_empty() {
        blocks.push(Block::Para(format!(
            "Incomplete: {} of {} trials have no result yet (ids {}); the numbers below use the {} that do. Run `optlab study run {}` (or submit the job again) to complete it.",
            missing.len(),
            plan.trials,
            ranges(&missing, 20),
            results.len(),
            sd.dir.display()
        )));
    }
    report.sections.push(Section { level: 2, title: "The study".into(), blocks });

    // ---- best hyperparameters
    let table = best_table(plan, &a);
    report.sections.push(Section {
        level: 2,
        title: "Best hyperparameters".into(),
        blocks: vec![
            Block::Para("Per problem and optimizer, the best point of its search and its results over the replicates (mean ± sample std). \"to target\" counts steps (2-D) or epochs (training) over the replicates that reached the target; \"s to target\" is wall time on the machine that ran the trial.".into()),
            Block::Table(table.clone()),
        ],
    });

    // ---- per problem
    for (pi, problem) in plan.problems.iter().enumerate() {
        let mut blocks = Vec::new();
        let stem = slug(&problem.name);
        let lines = sensitivity(plan, &a, problem);
        if !lines.is_empty() {
            let rel = format!("lr-{stem}");
            let fig = Bands {
                title: format!("{}: {} against learning rate", problem.name, metric_desc(problem)),
                x_desc: "learning rate".into(),
                y_desc: metric_desc(problem),
                log_x: true,
                log_y: !problem.select.higher_is_better(),
                lines: &lines,
                size: (900, 560),
                higher_is_better: problem.select.higher_is_better(),
                integer_x: false,
            };
            crate::plot::save_in(&fig, out, &rel)?;
            blocks.push(Block::Figure {
                stem: out.join(&rel),
                caption: format!(
                    "Learning-rate sensitivity on {} (as DeepOBS draws it): at each lr the best of the other searched hyperparameters, mean ± std over replicates; crosses at the {} edge: every replicate diverged or missed the metric.",
                    problem.name,
                    if problem.select.higher_is_better() { "bottom" } else { "top" }
                ),
            });
        }
        let (lines, x, y) = curves(plan, &a, pi, &results);
        if lines.iter().any(|l| !l.points.is_empty()) {
            let rel = format!("curves-{stem}");
            let fig = Bands {
                title: format!("{}: {} of each optimizer's best hyperparameters", problem.name, y),
                x_desc: x.into(),
                y_desc: y.into(),
                log_x: false,
                log_y: y != "test accuracy",
                lines: &lines,
                size: (900, 560),
                higher_is_better: y == "test accuracy",
                integer_x: problem.is_train(),
            };
            crate::plot::save_in(&fig, out, &rel)?;
            blocks.push(Block::Figure {
                stem: out.join(&rel),
                caption: format!("Learning curves on {}: mean ± std over replicates of the best point.", problem.name),
            });
        }
        let mut pts = Table::new(&["optimizer", "hyperparameters", "seeds", "diverged", "mean", "std", "to target"]);
        for p in a.points.iter().filter(|p| p.problem == problem.name).take(400) {
            pts.rows.push(vec![
                p.optimizer.clone(),
                hyper_text(p),
                format!("{}/{}", p.done, p.planned),
                p.diverged.to_string(),
                p.score.map_or("-".into(), |v| fmt_value(super::plan::round_sig(v, 5))),
                p.score_std.map_or("-".into(), |v| fmt_value(super::plan::round_sig(v, 3))),
                if problem.target.is_some() { format!("{}/{}", p.reached, p.done) } else { "-".into() },
            ]);
        }
        blocks.push(Block::Para(format!(
            "Every point of the search: the mean and std over its replicates of the {} ({}); the first 400 are listed.",
            metric_desc(problem),
            if problem.select.higher_is_better() { "higher is better" } else { "lower is better" }
        )));
        blocks.push(Block::Table(pts));
        report.sections.push(Section { level: 2, title: format!("Problem: {}", problem.name), blocks });
    }

    // ---- performance profiles
    let mut scores = Vec::new();
    if !a.ratios.is_empty() {
        let lines: Vec<(String, Vec<f64>)> = plan
            .optimizers
            .iter()
            .enumerate()
            .map(|(oi, o)| (o.label.clone(), a.ratios.iter().map(|(_, r)| r[oi]).collect()))
            .collect();
        let fig = Profiles {
            title: format!("performance profiles over {} problem(s) with a target", a.ratios.len()),
            lines: &lines,
            tau_max: TAU_MAX,
        };
        crate::plot::save_in(&fig, out, "profiles")?;
        let mut t = Table::new(&["optimizer", "targets reached", "fastest on", "score (area under ρ, τ ≤ 4)"]);
        for (label, r) in &lines {
            let s = profile_score(r, TAU_MAX);
            scores.push(serde_json::json!({ "optimizer": label, "score": s, "ratios": r.iter().map(|v| if v.is_finite() { Some(*v) } else { None }).collect::<Vec<_>>() }));
            t.rows.push(vec![
                label.clone(),
                format!("{}/{}", r.iter().filter(|v| v.is_finite()).count(), r.len()),
                format!("{}", r.iter().filter(|v| **v == 1.0).count()),
                format!("{s:.3}"),
            ]);
        }
        let names: Vec<String> = a.ratios.iter().map(|(pi, _)| plan.problems[*pi].name.clone()).collect();
        report.sections.push(Section {
            level: 2,
            title: "Performance profiles".into(),
            blocks: vec![
                Block::Para(format!(
                    "As AlgoPerf scores optimizers: on each problem with a target ({}), an optimizer's time to target is the median over replicates of the steps (2-D) or epochs (training) its fastest hyperparameters need (a missed target counts as infinite); its ratio to the fastest optimizer's is r ≥ 1. ρ(τ) is the fraction of problems with r ≤ τ; the score is the area under ρ for 1 ≤ τ ≤ {TAU_MAX}, divided by {}: 1 means fastest everywhere, 0 no target reached.",
                    names.join(", "),
                    TAU_MAX - 1.0
                )),
                Block::Figure { stem: out.join("profiles"), caption: "Performance profiles (steps or epochs to target).".into() },
                Block::Table(t),
            ],
        });
    }

    // ---- missing and failed
    if !missing.is_empty() || !failed.is_empty() {
        let mut items: Vec<String> = Vec::new();
        if !missing.is_empty() {
            items.push(format!("missing ({}): {}", missing.len(), ranges(&missing, 40)));
        }
        for f in failed.iter().take(50) {
            items.push(format!("trial {} failed: {}", f.id, crate::limits::shorten(&f.error, 300)));
        }
        report.sections.push(Section {
            level: 2,
            title: "Missing and failed trials".into(),
            blocks: vec![Block::List(items)],
        });
    }

    // ---- records
    out.bytes("results.csv", results_csv(&results).as_bytes())?;
    let best: Vec<serde_json::Value> = plan
        .problems
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| {
            let a = &a;
            plan.optimizers.iter().enumerate().map(move |(oi, o)| {
                let b = a.best[pi][oi].map(|i| &a.points[i]);
                serde_json::json!({ "problem": p.name, "optimizer": o.label, "best": b })
            })
        })
        .collect();
    let summary = serde_json::json!({
        "study": plan.name,
        "trials": plan.trials,
        "done": results.len(),
        "missing": missing,
        "failed": failed.iter().map(|f| serde_json::json!({ "id": f.id, "error": f.error })).collect::<Vec<_>>(),
        "best": best,
        "points": a.points,
        "profiles": scores,
        "tau_max": TAU_MAX,
        "optlab_version": env!("CARGO_PKG_VERSION"),
    });
    out.json("summary.json", &summary)?;
    let md = report.to_markdown(out.path());
    out.bytes("report.md", md.as_bytes())?;
    let html = report.to_html()?;
    let html_path = out.bytes("index.html", html.as_bytes())?;
    Ok(Written { html: html_path, files: out.written(), analysis: a, best_table: table })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_score_is_one_for_the_fastest_everywhere_and_zero_for_none() {
        assert_eq!(profile_score(&[1.0, 1.0], 4.0), 1.0);
        assert_eq!(profile_score(&[f64::INFINITY, 5.0], 4.0), 0.0);
        assert!((profile_score(&[2.5], 4.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn statistics_skip_non_finite_values() {
        let s = stat(&[1.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.mean, s.n), (2.0, 2));
        assert!((s.std - 2f64.sqrt()).abs() < 1e-12);
        assert!(stat(&[f64::INFINITY]).is_none());
        assert_eq!(median(vec![3.0, 1.0, f64::INFINITY, 2.0]), 2.0);
    }
}
