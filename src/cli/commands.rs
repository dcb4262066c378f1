//! What each command does, in terms of the library.

use super::{Cli, Command, ListWhat, RunArgs};
use crate::experiment::compare::compare;
use crate::experiment::tune::{self, TuneOptions, Tuned};
use crate::objective::{self, Function};
use crate::optim::{Group, OptimizerConfig, Shape2, METHODS};
use crate::record;
use crate::report::outputs::write_compare;
use crate::report::tables::{fmt_pt, summary_table, target_line, tune_table};
use anyhow::Result;
use std::fmt;
use std::path::PathBuf;

/// Bad input from the user: printed as one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub(super) fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

use crate::report::seminar::PART1_OPTIMIZERS as SEMINAR_OPTIMIZERS;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Seminar(super::SeminarArgs::default())) {
        Command::Compare { run, steps, out, tuned, animate, x_axis } => {
            cmd_compare(&run, steps, out, tuned, animate, x_axis == super::XAxis::Evals)
        }
        Command::Tune { run, steps, out } => cmd_tune(&run, steps, out),
        Command::Map { run, grid, steps, out } => cmd_map(&run, grid, steps, out),
        Command::SweepLr { run, lrs, vs, steps, out } => cmd_sweep(&run, &lrs, vs.as_deref(), steps, out),
        Command::List { what, markdown } => {
            match (what, markdown) {
                (ListWhat::Optimizers, false) => print!("{}", list_optimizers()),
                (ListWhat::Optimizers, true) => print!("{}", optimizers_markdown()),
                (ListWhat::Schedulers, _) => print!("{}", list_schedulers()),
                (ListWhat::Functions, _) => print!("{}", list_functions()),
            }
            Ok(())
        }
        Command::Seminar(args) => super::training::cmd_seminar(&args),
        Command::Serve { port, host, open } => crate::serve::serve(&crate::serve::ServeOptions { host, port }, open),
        Command::Train(args) => super::training::cmd_train(&args),
        Command::Data { action: super::DataAction::Fetch { name, data_dir } } => {
            super::training::cmd_fetch(&name, &data_dir)
        }
        Command::Bench { data_dir, epochs, no_part2, map_grid } => {
            super::training::cmd_bench(data_dir.as_deref(), epochs, !no_part2, map_grid)
        }
    }
}

fn parse_numbers(s: &str, n: usize, flag: &str, example: &str) -> Result<Vec<f64>> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let vals: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    match vals {
        Some(v) if v.len() == n => Ok(v),
        _ => Err(usage(format!("{flag} '{s}' is not {n} comma-separated numbers (write e.g. {flag} {example})"))),
    }
}

/// The function with the user's --domain and --start applied.
pub fn load_function(args: &RunArgs) -> Result<(Function, [f64; 2])> {
    let domain = match &args.domain {
        Some(d) => {
            let v = parse_numbers(d, 4, "--domain", "-5,5,-5,5")?;
            if !(v[0] < v[1] && v[2] < v[3]) {
                return Err(usage(format!("--domain '{d}' must have x0 < x1 and y0 < y1")));
            }
            Some([v[0], v[1], v[2], v[3]])
        }
        None => None,
    };
    let start = match &args.start {
        Some(s) => {
            let v = parse_numbers(s, 2, "--start", "8,0.1")?;
            Some([v[0], v[1]])
        }
        None => None,
    };
    let mut f = match objective::builtin(&args.function) {
        Some(b) => b.function(),
        None => {
            let d = domain.unwrap_or([-10.0, 10.0, -10.0, 10.0]);
            let s = start.unwrap_or([8.0, 0.1]);
            Function::from_expr(&args.function, d, s).or_else(|_| objective::resolve(&args.function)).map_err(|e| {
                // an unknown name is one line; a syntax error shows the expression and a caret
                let text = if e.message.starts_with("unknown function") { e.message.clone() } else { e.to_string() };
                usage(format!("--function: {text}"))
            })?
        }
    };
    if let Some(d) = domain {
        f.domain = d;
    }
    let start = start.unwrap_or(f.start);
    Ok((f, start))
}

/// The --shape flag; says so when a matrix method will see the vector as a 1x2 matrix.
pub fn load_shape(args: &RunArgs, configs: &[OptimizerConfig]) -> Result<Shape2> {
    let shape = Shape2::parse(&args.shape).map_err(|e| usage(format!("--shape: {e}")))?;
    if shape == Shape2::Vector {
        for c in configs.iter().filter(|c| c.method.matrix_only) {
            eprintln!(
                "note: {} works on matrices; (x, y) is treated as a 1x2 matrix (choose with --shape 1x2 or 2x1)",
                c.name()
            );
        }
    }
    Ok(shape)
}

/// Parses every --optimizer spec (the seminar's six when none is given).
pub fn parse_optimizers(specs: &[String]) -> Result<Vec<OptimizerConfig>> {
    let owned: Vec<String> =
        if specs.is_empty() { SEMINAR_OPTIMIZERS.iter().map(|s| s.to_string()).collect() } else { specs.to_vec() };
    owned
        .iter()
        .map(|s| {
            OptimizerConfig::parse(s).map_err(|e| match e.caret(s) {
                // a long spec gets the caret under the fault; a short one stays on one line
                Some(c) if s.len() > 40 => usage(format!("--optimizer: {e}\n{c}")),
                _ => usage(format!("--optimizer '{s}': {e}")),
            })
        })
        .collect()
}

fn slug(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    out.truncate(40);
    out
}

fn cmd_compare(
    args: &RunArgs,
    mut steps: usize,
    out: Option<PathBuf>,
    tuned: bool,
    animate: bool,
    by_evals: bool,
) -> Result<()> {
    let (f, start) = load_function(args)?;
    let mut configs = parse_optimizers(&args.optimizers)?;
    let shape = load_shape(args, &configs)?;
    let mut note = format!("from {}, {steps} steps", fmt_pt(start[0], start[1]));
    if tuned {
        match tune::tune(&f, &configs, start, &TuneOptions { steps: steps.max(1000), shape, ..Default::default() }) {
            Ok((_, t)) => {
                configs = configs.iter().zip(&t).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
                let longer = tuned_steps(steps, &t);
                if longer > steps {
                    println!(
                        "running {longer} steps instead of {steps}: the slowest tuned optimizer needs {} to converge",
                        t.iter().filter_map(|t| t.steps).max().unwrap_or(0)
                    );
                    steps = longer;
                }
                note = format!("from {}, {steps} steps, tuned lr", fmt_pt(start[0], start[1]));
            }
            Err(reason) => println!("tune: {reason}; running with the given learning rates"),
        }
    }
    let runs = compare(&f, &configs, start, steps, shape);
    let dir = out.unwrap_or_else(|| PathBuf::from("out/compare").join(slug(&f.name)));
    println!("{} — {}, {note}", f.name, f.formula);
    print!("{}", summary_table(&runs).render());
    let mut files = write_compare(&dir, &f, &runs, start, steps, &note, by_evals)?;
    if animate {
        let series: Vec<crate::plot::Series> = runs.iter().map(crate::plot::Series::from_run).collect();
        let view = crate::plot::contour::view_for(&f, &series);
        let gif = dir.join("trajectories.gif");
        crate::plot::animate::animate(&f, &series, view, &f.name, &gif, 60, 80)?;
        files.push(gif);
    }
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}

/// Enough steps to show every tuned optimizer converging: the requested number, or 20%
/// more than the slowest one needs.
fn tuned_steps(steps: usize, tuned: &[Tuned]) -> usize {
    let need = tuned.iter().filter_map(|t| t.steps).max().unwrap_or(0);
    steps.max(need + need / 5 + 1)
}

fn cmd_tune(args: &RunArgs, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let (f, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let shape = load_shape(args, &configs)?;
    println!("{} — {}, from {}, budget {steps} steps per trial", f.name, f.formula, fmt_pt(start[0], start[1]));
    let opts = TuneOptions { steps, shape, ..Default::default() };
    match tune::tune(&f, &configs, start, &opts) {
        Ok((target, tuned)) => {
            if let Some(t) = target_line(&target) {
                println!("{t}");
            }
            print!("{}", tune_table(&tuned).render());
            if let Some(dir) = out {
                record::write_json(
                    &dir.join("tune.json"),
                    &serde_json::json!({"function": f.name, "start": start, "target": target, "results": tuned}),
                )?;
                println!("wrote {}", dir.join("tune.json").display());
            }
        }
        Err(reason) => println!("nothing to tune: {reason}"),
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
    if !(2..=4096).contains(&grid) {
        return Err(usage(format!("--grid {grid}: use 2 to 4096 starts per side")));
    }
    let (f, _) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let shape = load_shape(args, &configs)?;
    let labels = crate::experiment::compare::unique_labels(&configs);
    let named: Vec<(String, OptimizerConfig)> = labels.into_iter().zip(configs).collect();
    let opts = crate::experiment::map::MapOptions { grid, steps, domain: f.domain, shape };
    println!(
        "{} — {}: {}×{} starts over [{}, {}] × [{}, {}], {steps} steps",
        f.name, f.formula, grid, grid, f.domain[0], f.domain[1], f.domain[2], f.domain[3]
    );
    let t = std::time::Instant::now();
    let maps = crate::experiment::map::map(&f, &named, &opts);
    let secs = t.elapsed().as_secs_f64();
    let total = (grid * grid * steps * named.len()) as f64;
    print!("{}", crate::report::outputs::map_table(&maps).render());
    println!("{:.2} s for {:.0} M optimizer steps ({:.1} M steps/s)", secs, total / 1e6, total / secs / 1e6);
    let dir = out.unwrap_or_else(|| PathBuf::from("out/map").join(slug(&f.name)));
    let files = crate::report::outputs::write_map(&dir, &f, &maps, steps)?;
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}

/// `FROM..TO:COUNT`.
fn parse_range(s: &str, flag: &str) -> Result<(f64, f64, usize)> {
    let bad = || usage(format!("{flag} '{s}' is not FROM..TO:COUNT (e.g. 1e-4..10:61)"));
    let (range, count) = s.split_once(':').ok_or_else(bad)?;
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let (a, b): (f64, f64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    let n: usize = count.trim().parse().map_err(|_| bad())?;
    if !(a.is_finite() && b.is_finite() && a < b && (2..=1000).contains(&n)) {
        return Err(usage(format!("{flag} '{s}': need FROM < TO and 2..1000 values")));
    }
    Ok((a, b, n))
}

fn cmd_sweep(args: &RunArgs, lrs: &str, vs: Option<&str>, steps: usize, out: Option<PathBuf>) -> Result<()> {
    use crate::experiment::sweep;
    let (f, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    let (a, b, n) = parse_range(lrs, "--lrs")?;
    if a <= 0.0 {
        return Err(usage("--lrs must be positive (it is log-spaced)"));
    }
    let shape = load_shape(args, &configs)?;
    let lr_values = sweep::logspace(a, b, n);
    let other = match vs {
        None => None,
        Some(v) => {
            let (key, range) = match v.split_once('=') {
                Some((k, r)) => (k.trim().to_string(), parse_range(r, "--vs")?),
                None => (v.trim().to_string(), (0.0, 0.99, 12)),
            };
            Some((key, sweep::linspace(range.0, range.1, range.2)))
        }
    };
    let labels = crate::experiment::compare::unique_labels(&configs);
    let named: Vec<(String, OptimizerConfig)> = labels.iter().cloned().zip(configs).collect();
    let points = sweep::sweep(
        &f,
        &named,
        start,
        steps,
        &lr_values,
        other.as_ref().map(|(k, v)| (k.as_str(), v.as_slice())),
        shape,
    )
    .map_err(|e| usage(format!("--vs: {e}")))?;
    let dir = out.unwrap_or_else(|| PathBuf::from("out/sweep").join(slug(&f.name)));
    std::fs::create_dir_all(&dir)?;
    let mut csv = String::from("optimizer,lr,other,final_loss,converged_at,diverged_at,evals\n");
    for p in &points {
        let o = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{:?},{},{:?},{},{},{}\n",
            crate::record::csv_field(&p.optimizer),
            p.lr,
            p.other.map(|v| format!("{v:?}")).unwrap_or_default(),
            p.final_loss,
            o(p.converged_at),
            o(p.diverged_at),
            p.evals
        ));
    }
    record::write_atomic(&dir.join("sweep.csv"), csv.as_bytes())?;
    record::write_json(
        &dir.join("sweep.json"),
        &serde_json::json!({"function": f.name, "start": start, "steps": steps, "vs": other.as_ref().map(|o| &o.0), "points": points}),
    )?;
    let mut t =
        crate::report::tables::Table::new(&["optimizer", "stable lr range (converged)", "fewest steps", "at lr"]);
    for l in &labels {
        let best = points
            .iter()
            .filter(|p| &p.optimizer == l)
            .filter_map(|p| p.converged_at.map(|s| (s, p.lr)))
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        t.rows.push(vec![
            l.clone(),
            sweep::stable_range(&points, l).map_or("none".into(), |(a, b)| {
                format!(
                    "{} .. {}",
                    crate::optim::fmt_num(crate::experiment::tune::round_sig(a, 3)),
                    crate::optim::fmt_num(crate::experiment::tune::round_sig(b, 3))
                )
            }),
            best.map_or("-".into(), |b| b.0.to_string()),
            best.map_or("-".into(), |b| crate::optim::fmt_num(crate::experiment::tune::round_sig(b.1, 3))),
        ]);
    }
    println!(
        "{} — {}, from {}, {steps} steps, {} learning rates",
        f.name,
        f.formula,
        fmt_pt(start[0], start[1]),
        lr_values.len()
    );
    print!("{}", t.render());
    let mut files = 2;
    if let Some((key, _)) = &other {
        for (i, l) in labels.iter().enumerate() {
            let title =
                format!("{}: {l}, steps to converge over lr × {key} (black: diverged, grey: not converged)", f.name);
            files += crate::plot::save(
                &crate::plot::sweep::SweepHeatmap {
                    points: &points,
                    optimizer: l.clone(),
                    key: key.clone(),
                    title,
                    steps,
                },
                &dir.join(format!("heatmap-{}", i + 1)),
            )?
            .len();
        }
    } else {
        let title = format!(
            "{} — {}: learning-rate sweep from {}, {steps} steps",
            f.name,
            f.formula,
            fmt_pt(start[0], start[1])
        );
        files += crate::plot::save(
            &crate::plot::sweep::SweepCurves { points: &points, optimizers: &labels, title, steps },
            &dir.join("sweep"),
        )?
        .len();
    }
    println!("wrote {files} files to {}", dir.display());
    Ok(())
}
