//! What each command does, in terms of the library.

use super::{Cli, Command, ListWhat, RunArgs};
use crate::experiment::compare::{compare, Run};
use crate::experiment::tune::{self, Target, TuneOptions, Tuned};
use crate::objective::{self, Function};
use crate::optim::{OptimizerConfig, OPTIMIZERS};
use crate::plot::{self, contour::Contour, lines::LossCurves, surface::Surface, Series};
use crate::record;
use anyhow::{Context, Result};
use std::fmt;
use std::path::{Path, PathBuf};

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

/// The seminar's six optimizers, all with lr = 0.1 as in its notebook.
pub const SEMINAR_OPTIMIZERS: [&str; 6] =
    ["gd(lr=0.1)", "momentum(lr=0.1)", "nag(lr=0.1)", "adagrad(lr=0.1)", "adadelta(lr=0.1)", "adam(lr=0.1)"];

/// The seminar's four functions.
pub const SEMINAR_FUNCTIONS: [&str; 4] = ["quadratic", "saddle", "sin-cos", "sin-cos-sq"];

pub fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Seminar { out: "out/seminar".into(), quick: false }) {
        Command::Compare { run, steps, out, tuned } => cmd_compare(&run, steps, out, tuned),
        Command::Tune { run, steps, out } => cmd_tune(&run, steps, out),
        Command::List { what } => {
            match what {
                ListWhat::Optimizers => print!("{}", list_optimizers()),
                ListWhat::Functions => print!("{}", list_functions()),
            }
            Ok(())
        }
        Command::Seminar { out, quick } => cmd_seminar(&out, quick),
        Command::Train(args) => super::training::cmd_train(&args),
        Command::Data { action: super::DataAction::Fetch { name, data_dir } } => {
            super::training::cmd_fetch(&name, &data_dir)
        }
        Command::Bench { data_dir, epochs, no_part2 } => {
            super::training::cmd_bench(data_dir.as_deref(), epochs, !no_part2)
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

/// Parses every --optimizer spec (the seminar's six when none is given).
pub fn parse_optimizers(specs: &[String]) -> Result<Vec<OptimizerConfig>> {
    let owned: Vec<String> =
        if specs.is_empty() { SEMINAR_OPTIMIZERS.iter().map(|s| s.to_string()).collect() } else { specs.to_vec() };
    owned.iter().map(|s| OptimizerConfig::parse(s).map_err(|e| usage(format!("--optimizer '{s}': {e}")))).collect()
}

fn slug(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    out.truncate(40);
    out
}

fn fmt_pt(x: f64, y: f64) -> String {
    format!("({}, {})", sig(x), sig(y))
}

fn sig(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e-3 && v.abs() < 1e5 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// The comparison table printed on stdout.
pub fn summary_table(runs: &[Run]) -> String {
    let mut rows = vec![[
        "optimizer".to_string(),
        "final (x, y)".into(),
        "final loss".into(),
        "nearest minimum".into(),
        "distance".into(),
        "converged".into(),
    ]];
    for r in runs {
        let s = &r.summary;
        let (min, dist) = match (s.nearest_minimum, s.distance_to_minimum) {
            (Some(m), Some(d)) => (fmt_pt(m[0], m[1]), sig(d)),
            _ => ("none".into(), "-".into()),
        };
        let conv = match (s.diverged_at, s.converged_at) {
            (Some(k), _) => format!("diverged at step {k}"),
            (None, Some(k)) => format!("at step {k}"),
            (None, None) => "no".into(),
        };
        let (fin, loss) = if s.final_x.is_finite() {
            (fmt_pt(s.final_x, s.final_y), sig(s.final_loss))
        } else {
            ("-".into(), "-".into())
        };
        rows.push([r.label.clone(), fin, loss, min, dist, conv]);
    }
    render_table(&rows)
}

pub(super) fn render_table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r.iter().zip(widths.iter()).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (N - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// Writes everything `compare` promises into `dir`; returns the files written.
pub fn write_compare(
    dir: &Path,
    f: &Function,
    runs: &[Run],
    start: [f64; 2],
    steps: usize,
    note: &str,
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
    files.extend(plot::save(
        &LossCurves { series: &series, title: format!("loss per step — {short}{what}"), size: (900, 560) },
        &dir.join("loss"),
    )?);
    Ok(files)
}

fn cmd_compare(args: &RunArgs, mut steps: usize, out: Option<PathBuf>, tuned: bool) -> Result<()> {
    let (f, start) = load_function(args)?;
    let mut configs = parse_optimizers(&args.optimizers)?;
    let mut note = format!("from {}, {steps} steps", fmt_pt(start[0], start[1]));
    if tuned {
        match tune::tune(&f, &configs, start, &TuneOptions { steps: steps.max(1000), ..Default::default() }) {
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
    let runs = compare(&f, &configs, start, steps);
    let dir = out.unwrap_or_else(|| PathBuf::from("out/compare").join(slug(&f.name)));
    println!("{} — {}, {note}", f.name, f.formula);
    print!("{}", summary_table(&runs));
    let files = write_compare(&dir, &f, &runs, start, steps, &note)?;
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}

/// Enough steps to show every tuned optimizer converging: the requested number, or 20%
/// more than the slowest one needs.
fn tuned_steps(steps: usize, tuned: &[Tuned]) -> usize {
    let need = tuned.iter().filter_map(|t| t.steps).max().unwrap_or(0);
    steps.max(need + need / 5 + 1)
}

/// The tuning table.
pub fn tune_table(target: &Target, tuned: &[Tuned]) -> String {
    let mut out = String::new();
    if let Target::Minimum { point, value } = target {
        out.push_str(&format!("target: local minimum {} with f = {}\n", fmt_pt(point[0], point[1]), sig(*value)));
    }
    let mut rows = vec![["optimizer".to_string(), "best lr".into(), "steps to reach it".into(), "runs".into()]];
    for t in tuned {
        rows.push([
            t.optimizer.clone(),
            t.lr.map_or("none in 1e-4..10".into(), crate::optim::fmt_num),
            t.steps.map_or("-".into(), |s| s.to_string()),
            t.runs.to_string(),
        ]);
    }
    out.push_str(&render_table(&rows));
    out
}

fn cmd_tune(args: &RunArgs, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let (f, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    println!("{} — {}, from {}, budget {steps} steps per trial", f.name, f.formula, fmt_pt(start[0], start[1]));
    let opts = TuneOptions { steps, ..Default::default() };
    match tune::tune(&f, &configs, start, &opts) {
        Ok((target, tuned)) => {
            print!("{}", tune_table(&target, &tuned));
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
    for o in OPTIMIZERS {
        s.push_str(&format!("{} — {}\n    {}\n", o.name, o.title, o.formula));
        for p in o.params {
            s.push_str(&format!("    {:<26} {:<14} {}\n", p.name, p.default, p.doc));
        }
        s.push('\n');
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

fn cmd_seminar(out: &Path, quick: bool) -> Result<()> {
    let steps = if quick { 50 } else { 500 };
    let configs = parse_optimizers(&[])?;
    let opts = TuneOptions { steps: if quick { 300 } else { 10_000 }, ..Default::default() };
    println!("optlab seminar — part 1: {} optimizers from (8, 0.1) on the seminar's four functions\n", configs.len());
    for name in SEMINAR_FUNCTIONS {
        let f = objective::builtin(name).expect("seminar function").function();
        let start = f.start;
        let runs = compare(&f, &configs, start, steps);
        let note = format!("lr = 0.1 for all, {steps} steps");
        println!("== {name}: {} ({note})", f.formula);
        print!("{}", summary_table(&runs));
        write_compare(&out.join(name).join("lr0.1"), &f, &runs, start, steps, &note)?;
        match tune::tune(&f, &configs, start, &opts) {
            Ok((target, tuned)) => {
                print!("{}", tune_table(&target, &tuned));
                let cfgs: Vec<OptimizerConfig> =
                    configs.iter().zip(&tuned).map(|(c, t)| t.lr.map_or(c.clone(), |lr| c.with_lr(lr))).collect();
                let steps = tuned_steps(steps, &tuned);
                let runs = compare(&f, &cfgs, start, steps);
                let note = format!("tuned lr, {steps} steps");
                println!("-- {name} with tuned learning rates");
                print!("{}", summary_table(&runs));
                write_compare(&out.join(name).join("tuned"), &f, &runs, start, steps, &note)?;
                record::write_json(
                    &out.join(name).join("tune.json"),
                    &serde_json::json!({"target": target, "results": tuned}),
                )?;
            }
            Err(reason) => println!("-- {name}: nothing to tune: {reason}"),
        }
        println!();
    }
    println!("figures and records in {}", out.display());
    Ok(())
}
