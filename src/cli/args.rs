//! Reading the command line's values: functions, starts, domains, shapes, optimizer specs,
//! ranges, output folders and limits. Every problem is a [`UsageError`]: one line, exit 2.

use super::RunArgs;
use crate::experiment::presets::PART1_OPTIMIZERS as SEMINAR_OPTIMIZERS;
use crate::limits::{self, Allow, Limit};
use crate::objective::{self, Function};
use crate::optim::{OptimizerConfig, Shape2};
use crate::record::OutDir;
use anyhow::Result;
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

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Checks `value` against `limit`, as a usage error.
pub fn check(limit: Limit, value: usize, allow: Allow) -> Result<usize> {
    limit.check_usize(value, allow).map_err(|e| usage(e.0))
}

/// Opens the output folder `out` (or `default`), checked before any work starts.
pub fn open_out(out: Option<&Path>, default: PathBuf) -> Result<OutDir> {
    let dir = out.map(Path::to_path_buf).unwrap_or(default);
    OutDir::open(&dir).map_err(|e| usage(format!("{e:#}")))
}

pub fn parse_numbers(s: &str, n: usize, flag: &str, example: &str) -> Result<Vec<f64>> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let vals: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    match vals {
        Some(v) if v.len() == n => Ok(v),
        _ => Err(usage(format!(
            "{flag} '{}' is not {n} comma-separated numbers (finite; write e.g. {flag} {example})",
            limits::shorten(s, 60)
        ))),
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
                // one line: an unknown name as it is; a syntax error with the fault marked
                if e.message.starts_with("unknown function") || e.expr.is_empty() {
                    usage(format!("--function: {}", e.message))
                } else {
                    usage(format!("--function: {}: {}", e.message, limits::point_at(&e.expr, e.start, e.len)))
                }
            })?
        }
    };
    if let Some(d) = domain {
        f.domain = d;
    }
    let start = start.unwrap_or(f.start);
    f.check_start(start).map_err(|e| usage(format!("--function {}: {e}", limits::shorten(&f.name, 60))))?;
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
    check(limits::OPTIMIZERS, owned.len(), Allow::DEFAULT)?;
    owned
        .iter()
        .map(|s| {
            OptimizerConfig::parse(s).map_err(|e| {
                // one line: a short spec is shown whole, a long one around the fault
                if s.chars().count() <= 40 || e.span.is_empty() {
                    usage(format!("--optimizer '{}': {e}", limits::shorten(s, 60)))
                } else {
                    usage(format!("--optimizer: {e}: {}", limits::point_at(s, e.span.start, e.span.len())))
                }
            })
        })
        .collect()
}

/// `FROM..TO:COUNT`.
pub fn parse_range(s: &str, flag: &str) -> Result<(f64, f64, usize)> {
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
