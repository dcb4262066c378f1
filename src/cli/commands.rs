//! What each 2-D command does, in terms of the library: read the flags (checked against
//! the limits before any work), run the experiment, write its records and figures, then
//! print. The MNIST commands are in `training.rs`.

use super::args::{check, open_out, usage};
use super::lab;
use super::output::{install_ctrlc, stopped, STOP};
use super::{Cli, Command, ListWhat, RunArgs};
use crate::experiment::compare::{compare_streamed, compare_until, unique_labels, Run};
use crate::experiment::presets::slug;
use crate::experiment::{sweep, IN_MEMORY_STEPS};
use crate::limits::{self, Allow};
use crate::objective;
use crate::optim::{Group, METHODS};
use crate::record::{self, compare::TrajectoryStream};
use crate::report::figures;
use crate::report::tables::{fmt_pt, map_table, summary_table, target_line, tune_table, Table};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Seminar(super::SeminarArgs::default())) {
        Command::Compare { run, steps, out, tuned, animate, x_axis, record_every } => cmd_compare(
            &run,
            steps,
            out,
            CompareOptions { tuned, animate, by_evals: x_axis == super::XAxis::Evals, every: record_every },
        ),
        Command::Tune { run, steps, out } => cmd_tune(&run, steps, out),
        Command::Map { run, grid, steps, out } => cmd_map(&run, grid, steps, out),
        Command::SweepLr { run, lrs, vs, steps, out } => cmd_sweep(&run, &lrs, vs.as_deref(), steps, out),
        Command::List { what, markdown } => {
            match (what, markdown) {
                (ListWhat::Optimizers, false) => say_raw!("{}", list_optimizers()),
                (ListWhat::Optimizers, true) => say_raw!("{}", optimizers_markdown()),
                (ListWhat::Schedulers, _) => say_raw!("{}", list_schedulers()),
                (ListWhat::Functions, _) => say_raw!("{}", list_functions()),
                (ListWhat::Layers, _) => say_raw!("{}", crate::nn::spec::list_layers()),
            }
            Ok(())
        }
        Command::Seminar(args) => super::training::cmd_seminar(&args),
        Command::Serve { port, host, open } => crate::serve::serve(&crate::serve::ServeOptions { host, port }, open),
        Command::Train(args) => super::training::cmd_train(&args),
        Command::Sample(args) => super::lm::cmd_sample(&args),
        Command::Study { action } => super::study::cmd_study(&action),
        Command::Data { action: super::DataAction::Fetch { name, data_dir } } => {
            super::training::cmd_fetch(&name, &data_dir)
        }
        Command::Bench { data_dir, epochs, no_part2, map_grid, allow_large } => {
            super::training::cmd_bench(data_dir.as_deref(), epochs, !no_part2, map_grid, Allow { large: allow_large })
        }
    }
}

/// The switches of `compare`.
struct CompareOptions {
    tuned: bool,
    animate: bool,
    by_evals: bool,
    /// Write every k-th step to trajectories.csv (None: every step up to 1 million, then
    /// as many as keep it near 1 million rows per run).
    every: Option<usize>,
}

/// Bytes of one row of trajectories.csv, about (full-precision floats).
const CSV_ROW_BYTES: u64 = 200;

fn cmd_compare(args: &RunArgs, steps: usize, out: Option<PathBuf>, o: CompareOptions) -> Result<()> {
    let allow = Allow { large: args.allow_large };
    let mut steps = check(limits::STEPS, steps, allow)?;
    let setup = lab::setup(args)?;
    let (f, start, shape) = (&setup.function, setup.start, setup.shape);
    let mut configs = setup.configs.clone();
    let every = match o.every {
        Some(0) => return Err(usage("--record-every 0: give 1 (every step) or more")),
        Some(k) => k,
        None => steps.div_ceil(1_000_000).max(1),
    };
    let rows = (steps / every + 2) as u64 * configs.len() as u64;
    let csv_bytes = rows.saturating_mul(CSV_ROW_BYTES);
    if csv_bytes > limits::BYTES.max_for(allow) {
        return Err(usage(format!(
            "trajectories.csv would hold about {} GB ({} rows); write fewer rows with --record-every K{}",
            csv_bytes / 1_000_000_000,
            limits::group(rows),
            if allow.large { "" } else { ", or add --allow-large" }
        )));
    }
    let mut out = open_out(out.as_deref(), PathBuf::from("out/compare").join(slug(&f.name)))?;
    install_ctrlc();
    let mut said = Vec::new();
    let note = if o.tuned {
        lab::tune_first(&setup, &mut configs, &mut steps, &mut said)
    } else {
        format!("from {}, {steps} steps", fmt_pt(start[0], start[1]))
    };
    let in_memory = (steps + 1).saturating_mul(configs.len()) <= 6 * IN_MEMORY_STEPS;
    let runs: Vec<Run> = if steps <= IN_MEMORY_STEPS && in_memory && every == 1 {
        let runs = compare_until(f, &configs, start, steps, shape, Some(&STOP));
        let c = lab::Comparison { function: f.clone(), start, steps, runs, note: note.clone(), said: Vec::new() };
        lab::write_compare(&mut out, &c, o.by_evals, o.animate)?;
        c.runs
    } else {
        let labels = unique_labels(&configs);
        let stream = TrajectoryStream::create(&out, "", &labels, every)?;
        let runs = compare_streamed(f, &configs, start, steps, shape, &STOP, &|i, p| stream.row(i, p));
        stream.finish(&mut out, "")?;
        out.json("summary.json", &record::compare::summary_json(f, &runs, start, steps, &note))?;
        if every > 1 {
            said.push(format!("trajectories.csv holds every {every}th step and the last of each run (--record-every)"));
        }
        figures::compare(&mut out, "", f, &runs, &note, o.by_evals)?;
        if o.animate {
            figures::animation(&mut out, "", f, &runs)?;
        }
        runs
    };
    let dir = out.path().to_path_buf();
    let files = out.finish()?;
    for line in said {
        say!("{line}");
    }
    say!("{} — {}, {note}", f.name, f.formula);
    say_raw!("{}", summary_table(&runs).render());
    say!("wrote {} files to {}", files.len(), dir.display());
    if let Some(n) = f.minima_note() {
        say!("note: {n}");
    }
    if stopped() {
        say!("interrupted: the records hold the steps made before Ctrl-C");
    }
    Ok(())
}

fn cmd_tune(args: &RunArgs, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let steps = check(limits::STEPS, steps, Allow { large: args.allow_large })?;
    let setup = lab::setup(args)?;
    let mut dir = match &out {
        Some(d) => Some(open_out(Some(d), d.clone())?),
        None => None,
    };
    let t = lab::run_tune(setup, steps);
    let (f, start) = (&t.function, t.start);
    let mut wrote = None;
    if let (Ok(_), Some(d)) = (&t.result, dir.as_mut()) {
        lab::write_tune(d, &t)?;
        wrote = Some(d.join("tune.json"));
    }
    if let Some(d) = dir {
        d.finish()?;
    }
    say!("{} — {}, from {}, budget {steps} steps per trial", f.name, f.formula, fmt_pt(start[0], start[1]));
    match &t.result {
        Ok((target, tuned)) => {
            if let Some(t) = target_line(target) {
                say!("{t}");
            }
            say_raw!("{}", tune_table(tuned).render());
            if let Some(p) = wrote {
                say!("wrote {}", p.display());
            }
        }
        Err(reason) => say!("nothing to tune: {reason}"),
    }
    if let Some(n) = f.minima_note() {
        say!("note: {n}");
    }
    Ok(())
}

/// `optlab list optimizers`.
pub fn list_optimizers() -> String {
    let mut s = String::new();
    for g in Group::ALL {
        let in_group: Vec<_> = METHODS.iter().filter(|m| m.group == g).collect();
        if in_group.is_empty() {
            continue;
        }
        s.push_str(&format!("== {} ==\n\n", g.title()));
        for o in in_group {
            s.push_str(&format!("{} — {}\n    {}\n    reference: {}\n", o.name, o.title, o.formula, o.reference));
            let mut props = vec![if o.elementwise { "element-wise" } else { "tensor-wise" }];
            if o.closure {
                props.push("several evaluations per step");
            }
            match o.point {
                crate::optim::Point::LookAhead => props.push("gradient at a look-ahead point"),
                crate::optim::Point::Averaged => props.push("gradient at y, reports the averaged x"),
                crate::optim::Point::Current => {}
            }
            s.push_str(&format!("    {}\n", props.join("; ")));
            for p in o.params {
                s.push_str(&format!("    {:<26} {:<14} {}\n", p.key, p.default, p.doc));
            }
            s.push('\n');
        }
    }
    s
}

/// `optlab list schedulers`: every scheduler and clipping rule with its rule, reference,
/// an example and its hyperparameters (keys torch requires are marked so).
pub fn list_schedulers() -> String {
    use crate::schedule::{CLIPPING, SCHEDULERS};
    let mut s = String::from(
        "Modifiers follow an optimizer spec, joined with '|', e.g.\n    adam(lr=0.05) | CosineAnnealingLR(T_max=150, eta_min=1e-4) | clip_grad_norm(max_norm=1.0)\nSchedulers step after every optimizer step (in training: every batch, or every epoch with every=\"epoch\").\n\n",
    );
    for (title, list) in [("learning-rate schedulers", SCHEDULERS), ("gradient clipping", CLIPPING)] {
        s.push_str(&format!("== {title} ==\n\n"));
        for m in list {
            s.push_str(&format!(
                "{} — {}\n    {}\n    reference: {}\n    e.g. {}\n",
                m.name, m.title, m.formula, m.reference, m.example
            ));
            for p in m.params {
                let default = if m.required.contains(&p.key) { "(required)" } else { p.default };
                s.push_str(&format!("    {:<26} {:<14} {}\n", p.key, default, p.doc));
            }
            s.push('\n');
        }
    }
    s
}

/// `optlab list optimizers --markdown`: one row per method, grouped, with its reference,
/// properties and defaults.
pub fn optimizers_markdown() -> String {
    let mut s = String::from(
        "| group | name | reference | element-wise | gradient at | defaults |\n|---|---|---|---|---|---|\n",
    );
    for g in Group::ALL {
        for m in METHODS.iter().filter(|m| m.group == g) {
            let defaults: Vec<String> = m
                .params
                .iter()
                .filter(|p| !matches!(p.key, "maximize" | "foreach" | "differentiable" | "capturable"))
                .map(|p| format!("{}={}", p.key, p.default))
                .collect();
            let point = match m.point {
                crate::optim::Point::Current if m.closure => "the current point, several times per step",
                crate::optim::Point::Current => "the current point",
                crate::optim::Point::LookAhead => "a look-ahead point",
                crate::optim::Point::Averaged => "y; reports the averaged x",
            };
            s.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} |\n",
                g.title(),
                m.name,
                m.reference,
                if m.elementwise { "yes" } else { "no" },
                point,
                defaults.join(", ")
            ));
        }
    }
    s
}

/// `optlab list functions`.
pub fn list_functions() -> String {
    let mut s = String::new();
    for b in objective::BUILTINS {
        let [x0, x1, y0, y1] = b.domain;
        let minima = match b.minima {
            Some([]) => "none (unbounded below)".to_string(),
            Some(m) => m.iter().map(|p| fmt_pt(p[0], p[1])).collect::<Vec<_>>().join(", "),
            None => "many local minima; found numerically in the domain".to_string(),
        };
        s.push_str(&format!(
            "{}{} — {}\n    domain [{x0}, {x1}] × [{y0}, {y1}], start {}, minima: {}\n",
            b.name,
            if b.seminar { " (seminar)" } else { "" },
            b.formula,
            fmt_pt(b.start[0], b.start[1]),
            minima
        ));
    }
    s.push_str("\nOr any expression in x and y: --function \"x^2*sin(x)/10 + y^2*cos(y)/10\"\n");
    s
}

fn cmd_map(args: &RunArgs, grid: usize, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let (f, named, opts) = lab::map_setup(args, grid, steps)?;
    let mut out = open_out(out.as_deref(), PathBuf::from("out/map").join(slug(&f.name)))?;
    install_ctrlc();
    let t = std::time::Instant::now();
    let m = lab::run_map(f, &named, opts, Some(&STOP));
    let secs = t.elapsed().as_secs_f64();
    lab::write_map(&mut out, &m)?;
    let (f, maps, grid, steps) = (&m.function, &m.maps, m.options.grid, m.steps);
    let dir = out.path().to_path_buf();
    let files = out.finish()?;
    let total = (grid * grid * steps * named.len()) as f64;
    say!(
        "{} — {}: {}×{} starts over [{}, {}] × [{}, {}], {steps} steps",
        f.name,
        f.formula,
        grid,
        grid,
        f.domain[0],
        f.domain[1],
        f.domain[2],
        f.domain[3]
    );
    say_raw!("{}", map_table(maps).render());
    for m in maps {
        if let Some(n) = &m.note {
            say!("note: {}: {n}", m.label);
        }
    }
    if stopped() {
        say!("interrupted: {} of {} maps were complete and are written", maps.len(), named.len());
    } else {
        say!("{:.2} s for {:.0} M optimizer steps ({:.1} M steps/s)", secs, total / 1e6, total / secs / 1e6);
    }
    say!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}

fn cmd_sweep(args: &RunArgs, lrs: &str, vs: Option<&str>, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let setup = lab::sweep_setup(args, lrs, vs, steps)?;
    let mut out = open_out(out.as_deref(), PathBuf::from("out/sweep").join(slug(&setup.function.name)))?;
    install_ctrlc();
    let lr_count = setup.lrs.len();
    let s = lab::run_sweep(setup, Some(&STOP))?;
    lab::write_sweep(&mut out, &s)?;
    let (f, start, steps, points, labels) = (&s.function, s.start, s.steps, &s.points, &s.labels);
    let dir = out.path().to_path_buf();
    let files = out.finish()?;
    let mut t = Table::new(&["optimizer", "stable lr range (converged)", "fewest steps", "at lr"]);
    let r3 = |v: f64| crate::optim::fmt_num(crate::experiment::tune::round_sig(v, 3));
    for l in labels {
        let best = points
            .iter()
            .filter(|p| &p.optimizer == l)
            .filter_map(|p| p.converged_at.map(|s| (s, p.lr)))
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        t.rows.push(vec![
            l.clone(),
            sweep::stable_range(points, l).map_or("none".into(), |(a, b)| format!("{} .. {}", r3(a), r3(b))),
            best.map_or("-".into(), |b| b.0.to_string()),
            best.map_or("-".into(), |b| r3(b.1)),
        ]);
    }
    say!("{} — {}, from {}, {steps} steps, {} learning rates", f.name, f.formula, fmt_pt(start[0], start[1]), lr_count);
    say_raw!("{}", t.render());
    say!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
