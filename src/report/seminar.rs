//! The seminar report: the records, figures and conclusions of `experiment::seminar`'s
//! results, written as one report (`index.html`, self-contained, and `report.md`), with
//! conclusions drawn from the numbers measured in this run.

use super::doc::{Block, Report, Section};
use super::{figures, observations, tables};
use crate::experiment::presets::{PART1_FUNCTIONS, PART2_OPTIMIZERS};
use crate::experiment::seminar::{Seminar, Training, TunedRuns};
use crate::experiment::train::{RunResult, RunStatus};
use crate::objective::Function;
use crate::optim::registry;
use crate::record::{self, train::TrainContext, OutDir};
use anyhow::Result;
use std::path::PathBuf;

/// What the report wrote.
pub struct Outcome {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub seconds: f64,
    /// Every file written, the reports included.
    pub files: Vec<PathBuf>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Writes a 2-D comparison's records and figures into `rel`.
fn write_compare(
    out: &mut OutDir,
    rel: &str,
    f: &Function,
    runs: &[crate::experiment::compare::Run],
    steps: usize,
    note: &str,
    by_evals: bool,
) -> Result<()> {
    record::compare::write(out, rel, f, runs, f.start, steps, note)?;
    figures::compare(out, rel, f, runs, note, by_evals)
}

/// Writes a training run's records and figures into `rel`.
fn write_train(out: &mut OutDir, rel: &str, s: &Seminar, t: &Training) -> Result<()> {
    let d = &s.data;
    let c = TrainContext {
        model: &t.model.name,
        parameters: t.model.n_params,
        dataset: &d.name,
        data_source: &d.source,
        train_samples: d.train_samples,
        test_samples: d.test_total,
        normalisation: [d.mean, d.std],
    };
    record::train::write(out, rel, &c, &s.settings, &t.results, t.seconds)?;
    let what = format!(
        "{} on {} ({} training images), batch {}",
        t.model.name, d.name, d.train_samples, s.settings.batch_size
    );
    figures::train(out, rel, &what, s.settings.epochs, &t.results)
}

fn figure(out: &OutDir, rel: &str, caption: String) -> Block {
    Block::Figure { stem: out.join(rel), caption }
}

/// Writes every record and figure of `s` into `out`, then `index.html` and `report.md`;
/// `tick` reports the report's progress.
pub fn write(s: &Seminar, out: &mut OutDir) -> Result<Outcome> {
    let steps = s.steps;
    let epochs = s.epochs;
    let mut report =
        Report { title: "Seminar 7: optimization methods — reproduced by optlab".into(), ..Default::default() };

    // ---- the methods
    let mut methods = Vec::new();
    for name in ["gd", "momentum", "nag", "adagrad", "adadelta", "adam"] {
        let info = registry::method(name).expect("known");
        methods.push(format!("{:<9} {}", info.name, info.formula));
    }
    report.sections.push(Section {
        level: 2,
        title: "1.1 The methods".into(),
        blocks: vec![
            Block::Para("The seminar implements six methods. optlab's versions follow torch.optim where PyTorch has the method (Adagrad, Adadelta, Adam: same update rule, defaults and rounding, checked against PyTorch's own trajectories); GD, Momentum and NAG follow the seminar's formulas.".into()),
            Block::Pre(methods.join("\n")),
            Block::List(vec![
                "The seminar's Adam divides m and v by (1 − βᵗ) in place every step, so its bias correction compounds; optlab applies the correction to copies, as the paper and PyTorch do.".into(),
                "The seminar's Adadelta uses a decay of 0.1 (PyTorch: 0.9) and ignores the learning rate; optlab follows PyTorch, so adadelta(lr=0.1) below scales every step by 0.1.".into(),
                "The seminar's Adagrad puts ε inside the square root (lr/√(s + ε), ε = 1e-8); PyTorch and optlab use lr/(√s + ε) with ε = 1e-10.".into(),
                "NAG takes its gradient at the look-ahead point θ − γm; it is the same method as sgd(momentum=γ, nesterov=true), which records the look-ahead point itself.".into(),
            ]),
        ],
    });

    // ---- part 1
    let mut conclusions: Vec<String> = Vec::new();
    for (fi, p) in s.part1.iter().enumerate() {
        let f = &p.function;
        let name = f.name.as_str();
        let start = f.start;
        let dir = format!("part1/{name}");
        let mut blocks = vec![Block::Para(format!(
            "J(x, y) = {}. All six methods start from ({}, {}) and take {steps} steps with lr = 0.1, as in the seminar.",
            f.formula, start[0], start[1]
        ))];
        let rel = format!("{dir}/lr0.1");
        write_compare(out, &rel, f, &p.runs, steps, &format!("lr = 0.1 for all, {steps} steps"), false)?;
        blocks.push(Block::Table(tables::summary_table(&p.runs)));
        let obs = observations::part1(&p.runs, steps, f.bounded_below);
        blocks.push(Block::List(obs.clone()));
        for (stem, cap) in [
            ("contour", "trajectories over the contours"),
            ("surface", "trajectories on the surface"),
            ("loss", "loss per step"),
        ] {
            blocks.push(figure(out, &format!("{rel}/{stem}"), format!("{name}, lr = 0.1: {cap}")));
        }
        let mut sub = vec![];
        match &p.tuned {
            Ok(TunedRuns { target, tuned, steps: tsteps, runs: truns }) => {
                let tsteps = *tsteps;
                let trel = format!("{dir}/tuned");
                write_compare(out, &trel, f, truns, tsteps, &format!("tuned lr, {tsteps} steps"), false)?;
                record::tune::write(out, &dir, name, start, target, tuned)?;
                sub.push(Block::Para(format!(
                    "The seminar asks for parameters with which every method reaches the nearest local minimum. {} optlab searched each method's lr over 1e-4..10 (log grid, then refinement) for the fewest steps to stay within {} of it.",
                    tables::target_line(target).map(|t| format!("The start descends to the {}.", t.trim_start_matches("target: "))).unwrap_or_default(),
                    tables::sig(crate::experiment::convergence_tol(f))
                )));
                sub.push(Block::Table(tables::tune_table(tuned)));
                sub.push(Block::Table(tables::summary_table(truns)));
                let tobs = observations::part1(truns, tsteps, f.bounded_below);
                if let Some(first) = tobs.first() {
                    conclusions.push(format!("{name} with tuned lr: {first}"));
                }
                sub.push(Block::List(tobs));
                for (stem, cap) in [
                    ("contour", "trajectories over the contours"),
                    ("surface", "trajectories on the surface"),
                    ("loss", "loss per step"),
                ] {
                    sub.push(figure(out, &format!("{trel}/{stem}"), format!("{name}, tuned lr: {cap}")));
                }
            }
            Err(reason) => {
                sub.push(Block::Para(format!("Nothing to tune: {reason}.")));
                conclusions.push(format!("{name}: no minimum to reach ({reason})."));
            }
        }
        if let Some(first) = obs.first() {
            conclusions.push(format!("{name} with lr = 0.1: {first}"));
        }
        report.sections.push(Section { level: 2, title: format!("1.{} {}", fi + 2, name), blocks });
        report.sections.push(Section {
            level: 3,
            title: format!("1.{} {} with tuned learning rates", fi + 2, name),
            blocks: sub,
        });
    }

    // ---- basin maps
    let (grid, map_steps) = (s.map_grid, s.map_steps);
    let mut blocks = vec![Block::Para(format!(
        "One start says little about an optimizer. Here every method (lr = 0.1) starts from each of {grid}×{grid} points of [−10, 10]² and takes {map_steps} steps: the colour of a point is the local minimum it ends in, darker the more steps it took; black means it diverged, grey that it did not converge."
    ))];
    for m in &s.maps {
        let f = &m.function;
        let name = f.name.as_str();
        let rel = format!("part1/{name}/maps");
        record::map::write(out, &rel, f, &m.maps, map_steps)?;
        figures::map(out, &rel, f, &m.maps, map_steps)?;
        blocks.push(Block::Table(tables::map_table(&m.maps)));
        let best = m
            .maps
            .iter()
            .map(|r| (r, crate::experiment::map::summarize(r)))
            .max_by(|a, b| a.1.basin_shares.iter().sum::<f64>().total_cmp(&b.1.basin_shares.iter().sum::<f64>()));
        if let Some((r, sm)) = best {
            let line = format!(
                "{name}: {} converged from the most starts, {:.1}% of them ({} minima reached in all).",
                r.label,
                100.0 * sm.basin_shares.iter().sum::<f64>(),
                r.minima.len()
            );
            blocks.push(Block::List(vec![line.clone()]));
            conclusions.push(line);
        }
        blocks.push(figure(out, &format!("{rel}/panel"), format!("{name}: basins of the six methods, lr = 0.1")));
    }
    report.sections.push(Section { level: 2, title: "1.6 Basin maps".into(), blocks });

    // ---- part 2
    for (mi, t) in s.part2.iter().enumerate() {
        let model_name = t.model.name.as_str();
        let what = if model_name == "mlp" { "a fully connected network" } else { "a convolutional network" };
        let rel = format!("part2/{model_name}");
        write_train(out, &rel, s, t)?;
        let found = observations::part2(&t.results);
        let mut blocks = vec![Block::Para(format!(
            "{} ({} parameters), trained on {} training images of {} ({}), batch 32, {epochs} epochs, seed {}. Every optimizer starts from the same initial weights and sees the same batches (the seminar reused one model for all four, so each continued from the previous one's weights). Wall time {:.1} s.",
            describe(model_name), t.model.n_params, s.data.train_samples, s.data.name, s.data.source, s.opts.seed, t.seconds
        ))];
        blocks.push(Block::Table(tables::train_table(&t.results)));
        blocks.push(Block::List(found.facts.clone()));
        blocks.push(figure(
            out,
            &format!("{rel}/curves_grid"),
            format!("{model_name}: mean training loss per epoch, one panel per optimizer (the seminar's figure)"),
        ));
        blocks.push(figure(
            out,
            &format!("{rel}/curves"),
            format!("{model_name}: all optimizers, training loss and test accuracy"),
        ));
        let claims = seminar_claims(model_name, &t.results, &found, s.opts.quick);
        if !claims.is_empty() {
            blocks.push(Block::Para("The seminar's conclusions, checked against this run. Note that the seminar trained its four optimizers one after another on the same model object, so every optimizer after the first started from an already trained network; its curves mix that effect into the comparison, optlab's do not.".into()));
            blocks.push(Block::List(claims.clone()));
        }
        blocks.push(Block::Para(data_note(&s.data)));
        conclusions.extend(found.facts.iter().take(3).map(|f| format!("{model_name}: {f}")));
        let trained = t.results.iter().filter(|r| !r.epochs.is_empty()).count();
        if let Some(o) = observations::overfit_summary(&found.overfit, trained) {
            conclusions.push(format!("{model_name}: {o}."));
        }
        conclusions.extend(claims.into_iter().map(|c| format!("{model_name}: {c}")));
        report.sections.push(Section {
            level: 2,
            title: format!("2.{} {model_name}: {what} on {}", mi + 1, s.data.name),
            blocks,
        });
    }
    if is_subset(&s.data) {
        conclusions.push(format!("Part 2 ran on {}, not on the full data: {}", subset_words(&s.data), FULL_HOW));
    }
    if s.modern.is_some() {
        let m = super::modern::write(s, out)?;
        report.sections.extend(m.sections);
        conclusions.extend(m.conclusions);
    }
    if s.interrupted {
        conclusions.insert(0, "The run was interrupted (Ctrl-C): the training results hold only the epochs completed before it, so conclusions about training compare runs of different lengths.".into());
    }
    report.sections.push(Section {
        level: 2,
        title: "Conclusions".into(),
        blocks: vec![
            Block::Para("Drawn from the numbers measured in this run (the tables above hold all of them):".into()),
            Block::List(conclusions),
        ],
    });

    let seconds = s.started.elapsed().as_secs_f64();
    let run_kind = match (s.opts.quick, s.interrupted) {
        (_, true) => "interrupted run",
        (true, false) => "quick smoke run",
        (false, false) => "full run",
    };
    report.meta = vec![
        ("machine".into(), machine()),
        ("kernels".into(), format!("{} ({})", crate::kernels::active(), crate::kernels::active().describe())),
        ("optlab".into(), format!("{} ({run_kind})", env!("CARGO_PKG_VERSION"))),
        ("seed".into(), s.opts.seed.to_string()),
        ("data".into(), format!("{}: {} training / {} test images from {}", s.data.name, s.data.train_samples, s.data.test_samples, s.data.source)),
        ("part 1".into(), format!("{} methods × {} functions from (8, 0.1), {steps} steps (longer with tuned lr)", s.configs.len(), PART1_FUNCTIONS.len())),
        ("part 2".into(), format!("mlp and cnn × {} × {epochs} epochs, batch 32", PART2_OPTIMIZERS.join(", "))),
        ("total run time".into(), format!("{seconds:.1} s")),
        ("records".into(), format!("part1/<function>/(lr0.1|tuned)/{{trajectories.csv, summary.json}}, part2/<model>/{{history.csv, steps.csv, summary.json}} under {}", out.path().display())),
    ];
    let html = out.bytes("index.html", report.to_html()?.as_bytes())?;
    let base: PathBuf = out.path().to_path_buf();
    let markdown = out.bytes("report.md", report.to_markdown(&base).as_bytes())?;
    Ok(Outcome { html, markdown, seconds, files: out.written() })
}

/// How to check part 2 on the full data.
const FULL_HOW: &str = "on full MNIST a verdict that depends on the data can come out differently; `optlab data fetch mnist`, then `optlab seminar --full`, checks them on all 60,000 training and 10,000 test images.";

/// Whether part 2 trained on the embedded MNIST subset.
fn is_subset(d: &crate::experiment::seminar::DataInfo) -> bool {
    d.source.starts_with("embedded")
}

fn subset_words(d: &crate::experiment::seminar::DataInfo) -> String {
    let n = |v: usize| crate::limits::group(v as u64);
    format!("the embedded MNIST subset ({} training / {} test images)", n(d.train_samples), n(d.test_samples))
}

/// Which data part 2's numbers and verdicts come from, and how to get the rest.
fn data_note(d: &crate::experiment::seminar::DataInfo) -> String {
    if is_subset(d) {
        format!("Data: every number and verdict above comes from {}; {FULL_HOW}", subset_words(d))
    } else {
        let n = |v: usize| crate::limits::group(v as u64);
        format!(
            "Data: every number and verdict above comes from {} ({} training / {} test images, read from {}).",
            d.name,
            n(d.train_samples),
            n(d.test_samples),
            d.source
        )
    }
}

fn describe(model: &str) -> &'static str {
    match model {
        "mlp" => "The seminar's MLP, Linear(784,64) → Linear(64,10) → LogSoftmax (no activation between the layers)",
        _ => "The seminar's CNN, Conv2d(1,3,3,padding=1) → ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax",
    }
}

/// The method of a run: its spec up to the first `(` or ` ` (`adam` for `adam(lr=0.001)`,
/// never `adamw` or `adamax`).
fn method_of(spec: &str) -> &str {
    spec.split(['(', ' ']).next().unwrap_or(spec)
}

/// "SGD converges unstably", judged by the number of epochs in which each optimizer's
/// training loss rose: agrees when sgd's rose in the most epochs alone, is a tie when others
/// rose as often, and does not agree when another rose more often or none rose at all.
fn sgd_unstable(sgd: &RunResult, results: &[RunResult]) -> String {
    let n = observations::rises(sgd).0;
    let max = results.iter().map(|r| observations::rises(r).0).max().unwrap_or(0);
    let claim = "\"SGD converges unstably\"";
    let epochs = |k: usize| if k == 1 { "1 epoch".to_string() } else { format!("{k} epochs") };
    if max == 0 {
        return format!("{claim}: no optimizer's training loss rose in any epoch, sgd's included — does not agree.");
    }
    let most: Vec<String> = results
        .iter()
        .filter(|r| r.label != sgd.label && observations::rises(r).0 == max)
        .map(|r| r.label.clone())
        .collect();
    if n < max {
        format!(
            "{claim}: sgd's training loss rose in {}, fewer than {}'s {} — does not agree.",
            epochs(n),
            most.join(", "),
            epochs(max)
        )
    } else if most.is_empty() {
        format!("{claim}: sgd's training loss rose in {}, the most of any optimizer — agrees.", epochs(n))
    } else {
        format!(
            "{claim}: sgd's training loss rose in {}, as often as {}'s — a tie, so it neither agrees nor disagrees.",
            epochs(n),
            most.join(", ")
        )
    }
}

/// The seminar's written conclusions about part 2, each checked against this run's numbers.
/// An interrupted, too short or `--quick` run checks none of them and says why, instead of
/// drawing conclusions from numbers that cannot carry them.
fn seminar_claims(model: &str, results: &[RunResult], found: &observations::Part2Findings, quick: bool) -> Vec<String> {
    let min_epochs = results.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
    if results.iter().any(|r| matches!(r.status, RunStatus::Interrupted { .. })) {
        return vec![format!("The seminar's conclusions are not checked: the run was interrupted, so the optimizers trained for different numbers of epochs (the shortest {min_epochs}).")];
    }
    if quick || min_epochs < 3 {
        let why = if quick { " of a quick smoke run on 2,000 images" } else { "" };
        return vec![format!("The seminar's conclusions are not checked: {min_epochs} epochs{why} are too few to test claims about 20 epochs of training.")];
    }
    let run = |m: &str| results.iter().find(|r| method_of(&r.spec) == m);
    let method = |label: &str| results.iter().find(|r| r.label == label).map(|r| method_of(&r.spec));
    let is = |label: &Option<String>, m: &str| label.as_deref().and_then(method) == Some(m);
    let last = |m: &str| run(m).and_then(|r| r.epochs.last()).map(|e| e.train_loss);
    let verdict = |ok: bool| if ok { "agrees" } else { "does not agree" };
    let mut out = Vec::new();
    let (adam, adagrad, adadelta, sgd) = (last("adam"), last("adagrad"), last("adadelta"), last("sgd"));
    const TIE: &str = "a tie, so it neither agrees nor disagrees";
    if model == "mlp" {
        let stable = &found.most_stable;
        let with_adam = stable.iter().any(|l| method(l) == Some("adam"));
        let others: Vec<String> = stable.iter().filter(|l| method(l) != Some("adam")).cloned().collect();
        out.push(if results.len() > 1 && results.iter().all(|r| observations::rises(r).0 == 0) {
            format!("\"Adam trains most stably\": no optimizer's training loss went up in any epoch, so stability does not tell them apart — {TIE}.")
        } else if with_adam && !others.is_empty() {
            format!(
                "\"Adam trains most stably\": adam ties with {} for the most stable here — {TIE}.",
                observations::join_and(&others)
            )
        } else {
            let who = match stable.len() {
                1 => format!("is {}", stable[0]),
                _ => format!("are {}, tied", observations::join_and(stable)),
            };
            format!("\"Adam trains most stably\": the most stable here {who} — {}.", verdict(with_adam))
        });
        if let (Some(a), Some(ag), Some(ad), Some(s)) = (adam, adagrad, adadelta, sgd) {
            let ok = ag < a.min(ad) && s < a.min(ad);
            out.push(format!(
                "\"Adagrad and SGD reach lower values\": final training loss adagrad {ag:.4}, sgd {s:.4} vs adam {a:.4}, adadelta {ad:.4} — {}.",
                verdict(ok)
            ));
        }
    } else {
        if let Some(r) = run("adadelta") {
            match observations::recent_gain(r, 5).filter(|g| g.is_finite()) {
                Some(g) => out.push(format!(
                    "\"Adadelta stopped converging\": adadelta's training loss still fell by {:.2}% over the last 5 epochs — {}.",
                    100.0 * g,
                    verdict(g < 0.01)
                )),
                None => out.push(format!(
                    "\"Adadelta stopped converging\": not checked — it needs more than 5 epochs of finite losses, this run has {}.",
                    r.epochs.len()
                )),
            }
        }
        if let Some(best) = &found.lowest {
            out.push(format!(
                "\"Adagrad showed the best results\": the lowest final training loss here is {best}'s — {}.",
                verdict(is(&found.lowest, "adagrad"))
            ));
        }
        if let Some(sgd) = run("sgd") {
            out.push(sgd_unstable(sgd, results));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::train::EpochRecord;

    /// A completed run of `spec` whose epochs have these (training loss, test loss).
    fn run(spec: &str, losses: &[(f64, f64)]) -> RunResult {
        let label = method_of(spec).to_string();
        let epochs = losses
            .iter()
            .enumerate()
            .map(|(i, &(train, test))| EpochRecord {
                optimizer: label.clone(),
                seed: 0,
                epoch: i + 1,
                train_loss: train,
                test_loss: Some(test),
                test_accuracy: Some(0.9),
                lr: 0.01,
                seconds: 0.1,
            })
            .collect();
        RunResult { label, spec: spec.into(), seed: 0, epochs, step_losses: vec![], status: RunStatus::Completed }
    }

    /// Four runs whose training losses fall steadily (never rise) for 6 epochs.
    fn steady() -> Vec<RunResult> {
        let fall = |a: f64| (0..6).map(|k| (a / (1.0 + k as f64), a)).collect::<Vec<_>>();
        ["adam(lr=0.001)", "adagrad(lr=0.01)", "adadelta(lr=1)", "sgd(lr=0.01)"]
            .iter()
            .enumerate()
            .map(|(i, s)| run(s, &fall(1.0 + i as f64 / 10.0)))
            .collect()
    }

    fn claims(model: &str, results: &[RunResult]) -> Vec<String> {
        seminar_claims(model, results, &observations::part2(results), false)
    }

    #[test]
    fn when_no_loss_ever_rose_stability_is_reported_as_a_tie_not_a_winner() {
        let r = steady();
        let found = observations::part2(&r);
        assert_eq!(found.most_stable.len(), 4, "every run is tied: {:?}", found.most_stable);
        let fact = found.facts.iter().find(|f| f.contains("Stability")).expect("a stability fact");
        assert!(fact.contains("a tie") && !fact.contains("Most stable"), "{fact}");
        let adam = claims("mlp", &r).into_iter().find(|c| c.contains("Adam trains most stably")).unwrap();
        assert!(adam.contains("a tie") && !adam.ends_with("— agrees.") && !adam.ends_with("does not agree."), "{adam}");
    }

    #[test]
    fn sgd_unstable_is_never_stated_with_zero_rises() {
        let r = steady();
        let c = claims("cnn", &r).into_iter().find(|c| c.contains("SGD converges unstably")).unwrap();
        assert!(!c.contains("0 epochs") && !c.contains("the most of any"), "{c}");
        assert!(c.ends_with("does not agree."), "{c}");
    }

    #[test]
    fn sgd_unstable_agrees_only_when_sgd_rose_most_and_ties_are_ties() {
        let mut r = steady();
        // sgd rises twice
        r[3] = run("sgd(lr=0.01)", &[(1.0, 1.0), (1.1, 1.0), (0.9, 1.0), (1.0, 1.0), (0.8, 1.0), (0.7, 1.0)]);
        let c = sgd_unstable(&r[3], &r);
        assert!(c.contains("rose in 2 epochs, the most of any optimizer — agrees."), "{c}");
        // adam rises twice too: a tie
        r[0] = run("adam(lr=0.001)", &[(1.0, 1.0), (1.2, 1.0), (0.9, 1.0), (1.0, 1.0), (0.8, 1.0), (0.7, 1.0)]);
        let c = sgd_unstable(&r[3], &r);
        assert!(c.contains("as often as adam's — a tie"), "{c}");
        // adagrad rises three times: sgd is not the least stable
        r[1] = run("adagrad(lr=0.01)", &[(1.0, 1.0), (1.2, 1.0), (0.9, 1.0), (1.0, 1.0), (0.8, 1.0), (0.9, 1.0)]);
        let c = sgd_unstable(&r[3], &r);
        assert!(c.contains("fewer than adagrad's 3 epochs — does not agree."), "{c}");
    }

    #[test]
    fn a_single_most_stable_run_is_named_and_judged() {
        let mut r = steady();
        for (i, s) in ["adagrad(lr=0.01)", "adadelta(lr=1)", "sgd(lr=0.01)"].iter().enumerate() {
            r[i + 1] = run(s, &[(1.0, 1.0), (1.1, 1.0), (0.9, 1.0), (0.8, 1.0)]);
        }
        let found = observations::part2(&r);
        assert_eq!(found.most_stable, vec!["adam".to_string()]);
        let adam = claims("mlp", &r).into_iter().find(|c| c.contains("Adam trains most stably")).unwrap();
        assert!(adam.ends_with("the most stable here is adam — agrees."), "{adam}");
    }

    #[test]
    fn a_test_loss_clearly_above_the_training_loss_is_named_overfitting() {
        // the subset MLP's numbers from issue 19: test 0.58 against train 0.18
        let r = vec![
            run("adam(lr=0.001)", &[(0.5, 0.45), (0.3, 0.40), (0.18, 0.58)]),
            run("sgd(lr=0.01)", &[(0.5, 0.50), (0.35, 0.36), (0.30, 0.33)]),
        ];
        let found = observations::part2(&r);
        let labels: Vec<&str> = found.overfit.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["adam"], "sgd's test loss is within 10% of its training loss");
        let fact = found.facts.iter().find(|f| f.contains("overfits")).unwrap();
        assert!(fact.contains("0.5800 against training loss 0.1800") && fact.contains("lowest at epoch 2"), "{fact}");
        assert_eq!(
            observations::overfit_summary(&found.overfit, 2).as_deref(),
            Some("adam overfits: final test loss 3.2× the training loss")
        );
        // tiny losses far apart in ratio but not in value are not overfitting
        assert!(observations::overfit(&run("adam", &[(0.001, 0.01)])).is_none());
        // a test loss 1% above its lowest has not clearly risen
        let o = observations::overfit(&run("adam", &[(0.5, 0.40), (0.1, 0.30), (0.05, 0.303)])).unwrap();
        assert_eq!(o.best_test, None);
    }

    #[test]
    fn the_report_says_which_data_part_2_used_and_how_to_check_on_the_full_set() {
        let mut d = crate::experiment::seminar::DataInfo {
            name: "mnist".into(),
            source: "embedded subset (first 10,000 train / 2,000 test images of MNIST)".into(),
            train_samples: 10_000,
            test_total: 2_000,
            test_samples: 2_000,
            mean: 0.1307,
            std: 0.3081,
        };
        let note = data_note(&d);
        assert!(note.contains("embedded MNIST subset (10,000 training / 2,000 test images)"), "{note}");
        assert!(note.contains("optlab seminar --full"), "{note}");
        d.source = "/data/mnist".into();
        d.train_samples = 60_000;
        let note = data_note(&d);
        assert!(note.contains("mnist (60,000 training") && !note.contains("--full"), "{note}");
    }
}
