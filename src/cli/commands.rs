//! What each command does, in terms of the library.

use super::{Cli, Command, ListWhat, RunArgs};
use crate::experiment::compare::compare;
use crate::experiment::tune::{self, TuneOptions, Tuned};
use crate::objective::{self, Function};
use crate::optim::{OptimizerConfig, OPTIMIZERS};
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
        Command::Compare { run, steps, out, tuned } => cmd_compare(&run, steps, out, tuned),
        Command::Tune { run, steps, out } => cmd_tune(&run, steps, out),
        Command::List { what } => {
            match what {
                ListWhat::Optimizers => print!("{}", list_optimizers()),
                ListWhat::Functions => print!("{}", list_functions()),
            }
            Ok(())
        }
        Command::Seminar(args) => super::training::cmd_seminar(&args),
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
    print!("{}", summary_table(&runs).render());
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

fn cmd_tune(args: &RunArgs, steps: usize, out: Option<PathBuf>) -> Result<()> {
    let (f, start) = load_function(args)?;
    let configs = parse_optimizers(&args.optimizers)?;
    println!("{} — {}, from {}, budget {steps} steps per trial", f.name, f.formula, fmt_pt(start[0], start[1]));
    let opts = TuneOptions { steps, ..Default::default() };
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
