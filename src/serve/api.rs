//! The requests the server answers: the page and its script, and the JSON API. Every
//! answer is computed by the library code the command line uses (`compare`, `tune`, `map`),
//! and every bad request gets HTTP 400 with `{"error": "..."}` carrying the message the
//! command line prints for the same input.

use super::query::Query;
use crate::cli::{load_function, parse_optimizers, RunArgs};
use crate::experiment::compare::{compare_until, unique_labels};
use crate::experiment::map::{self, MapOptions, Outcome};
use crate::experiment::tune::{self, TuneOptions};
use crate::objective::{self, Expr, Function};
use crate::optim::{Check, Kind, OptimizerConfig, Param, Shape2, METHODS};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Steps of a run, a tuning trial or a map: 1 to this.
pub const MAX_STEPS: usize = 10_000;
/// Optimizers in one request.
pub const MAX_OPTIMIZERS: usize = 32;
/// Starts per side of a basin map, and samples per side of a contour grid.
pub const MAX_GRID: usize = 512;
/// The work of a run or a contour, in function evaluations at most (the most each method
/// may evaluate per step, times the steps, summed over the optimizers; a contour's grid²).
pub const MAX_LIGHT_EVALS: u64 = 5_000_000;
/// The work of a basin map or a tuning, in function evaluations at most: a map's grid² ×
/// steps × the evaluations per step of each optimizer, summed; a tuning's trials × steps ×
/// evaluations per step (512² starts × 1,000 steps of a one-evaluation method).
pub const MAX_HEAVY_EVALS: u64 = 512 * 512 * 1000;
/// Learning rates one tuning tries per optimizer at most (its grid and two refinements).
const TUNE_TRIALS: u64 = 60;

/// An answer: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply { status, content_type: "application/json", body: serde_json::to_vec(v).unwrap_or_default() }
    }

    /// `{"error": message}` with the given status; the message is kept to its first line
    /// unless it carries a caret under a fault (three lines, as on the command line).
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, &json!({ "error": message.into() }))
    }

    fn bad(e: impl std::fmt::Display) -> Reply {
        Reply::error(400, format!("{e:#}"))
    }

    /// The body as JSON (for tests).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

/// Answers one request (`url` is the path with its query string), as the server does.
pub fn handle(method: &str, url: &str) -> Reply {
    match super::default_pools() {
        Ok(p) => handle_in(&p, method, url, &Arc::new(AtomicBool::new(false))),
        Err(e) => Reply::error(500, format!("{e:#}")),
    }
}

/// The context of one request: the pools to compute on, and the flag that is set when its
/// client has gone or its time is up (the computation then stops at its next check).
struct Ctx<'a> {
    pools: &'a super::Pools,
    cancel: &'a Arc<AtomicBool>,
}

impl Ctx<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// [`handle`] on the server's pools, stopping when `cancel` is set.
pub(crate) fn handle_in(pools: &super::Pools, method: &str, url: &str, cancel: &Arc<AtomicBool>) -> Reply {
    let ctx = Ctx { pools, cancel };
    if method != "GET" && method != "HEAD" {
        return Reply::error(405, format!("method {method} is not allowed: the API takes GET requests"));
    }
    let (path, q) = url.split_once('?').unwrap_or((url, ""));
    let asset = |ct: &'static str, s: &str| Reply { status: 200, content_type: ct, body: s.as_bytes().to_vec() };
    match path {
        "/" | "/index.html" => return asset("text/html; charset=utf-8", INDEX),
        "/app.js" => return asset("text/javascript; charset=utf-8", SCRIPT),
        "/style.css" => return asset("text/css; charset=utf-8", STYLE),
        "/favicon.ico" => return Reply { status: 204, content_type: "image/x-icon", body: Vec::new() },
        _ => {}
    }
    let q = match Query::parse(q) {
        Ok(q) => q,
        Err(e) => return Reply::bad(e),
    };
    let out = match path {
        "/api/functions" => Ok(functions()),
        "/api/optimizers" => Ok(optimizers()),
        "/api/function" => function(&ctx, &q),
        "/api/run" => run(&ctx, &q),
        "/api/tune" => tune(&ctx, &q),
        "/api/map" => basin_map(&ctx, &q),
        _ => return Reply::error(404, format!("no such page or endpoint: {path}")),
    };
    match out {
        Ok(v) => Reply::json(200, &v),
        Err(r) => r,
    }
}

type Answer = Result<Value, Reply>;

fn kind_json(k: Kind) -> Value {
    match k {
        Kind::Num => json!({"type": "num"}),
        Kind::Int => json!({"type": "int"}),
        Kind::Bool => json!({"type": "bool"}),
        Kind::Off => json!({"type": "off"}),
        Kind::Choice(o) => json!({"type": "choice", "options": o}),
        Kind::Nums(n) => json!({"type": "nums", "n": n}),
        Kind::NumList => json!({"type": "num-list"}),
        Kind::MaybeNum => json!({"type": "maybe-num"}),
        Kind::MaybeNums(n) => json!({"type": "maybe-nums", "n": n}),
        Kind::Optimizer => json!({"type": "optimizer"}),
        Kind::MaybeOptimizer => json!({"type": "maybe-optimizer"}),
        Kind::SchedulerList => json!({"type": "scheduler-list"}),
    }
}

fn check_name(c: Check) -> Value {
    match c {
        Check::Any => json!("any"),
        Check::Lr => json!("lr"),
        Check::NonNeg => json!("non-negative"),
        Check::Positive => json!("positive"),
        Check::PositiveOrInf => json!("positive-or-inf"),
        Check::Unit => json!("unit"),
        Check::UnitClosed => json!("unit-closed"),
        Check::UnitOpen => json!("unit-open"),
        Check::AtLeast(n) => json!(format!("at-least-{n}")),
        Check::Custom(_) => json!("custom"),
    }
}

fn params_json(params: &[Param]) -> Value {
    params
        .iter()
        .map(|p| {
            json!({"key": p.key, "kind": kind_json(p.kind), "default": p.default, "check": check_name(p.check), "doc": p.doc})
        })
        .collect()
}

/// `GET /api/optimizers`: every method with its hyperparameter schema, and the schedulers
/// and clipping rules that may follow a spec after `|`.
pub fn optimizers() -> Value {
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|m| {
            json!({
                "name": m.name, "title": m.title, "group": m.group.title(), "formula": m.formula,
                "reference": m.reference, "elementwise": m.elementwise, "closure": m.closure,
                "point": m.point, "matrix_only": m.matrix_only, "params": params_json(m.params),
            })
        })
        .collect();
    let modifiers = |list: &[&crate::schedule::ModifierInfo]| -> Vec<Value> {
        list.iter()
            .map(|m| {
                json!({"name": m.name, "title": m.title, "formula": m.formula, "reference": m.reference,
                       "example": m.example, "required": m.required, "params": params_json(m.params)})
            })
            .collect()
    };
    json!({
        "optimizers": methods,
        "schedulers": modifiers(crate::schedule::SCHEDULERS),
        "clipping": modifiers(crate::schedule::CLIPPING),
        "seminar": crate::experiment::presets::PART1_OPTIMIZERS,
    })
}

/// `GET /api/functions`: the built-ins.
pub fn functions() -> Value {
    let list: Vec<Value> = objective::BUILTINS
        .iter()
        .map(|b| {
            json!({"name": b.name, "formula": b.formula, "domain": b.domain, "start": b.start,
                   "minima": b.minima, "bounded_below": b.bounded_below, "log_scale": b.log_scale,
                   "seminar": b.seminar})
        })
        .collect();
    json!({ "functions": list })
}

/// The settings shared with `optlab compare`: function, optimizer (repeated), start,
/// domain, shape. A bad one is answered with the command line's message.
fn run_args(q: &Query) -> RunArgs {
    RunArgs {
        function: q.get("function").unwrap_or("sin-cos").to_string(),
        optimizers: q.all("optimizer"),
        start: q.get("start").map(str::to_string),
        domain: q.get("domain").map(str::to_string),
        shape: q.get("shape").unwrap_or("2").to_string(),
        allow_large: false,
    }
}

/// The function, with a caret position for a typed expression that does not parse.
fn load(args: &RunArgs) -> Result<(Function, [f64; 2]), Reply> {
    load_function(args).map_err(|e| {
        let mut v = json!({ "error": format!("{e:#}") });
        if objective::builtin(&args.function).is_none() {
            if let Err(pe) = Expr::parse(&args.function) {
                let at = pe.expr.get(..pe.start).map_or(0, |s| s.chars().count());
                let len = pe.expr.get(pe.start..pe.start + pe.len).map_or(1, |s| s.chars().count().max(1));
                v["expr"] = json!({"text": pe.expr, "message": pe.message, "at": at, "len": len});
            }
        }
        Reply::json(400, &v)
    })
}

fn configs(args: &RunArgs) -> Result<(Vec<OptimizerConfig>, Shape2), Reply> {
    if args.optimizers.len() > MAX_OPTIMIZERS {
        return Err(Reply::bad(format!(
            "{} optimizers: at most {MAX_OPTIMIZERS} in one request",
            args.optimizers.len()
        )));
    }
    let c = parse_optimizers(&args.optimizers).map_err(Reply::bad)?;
    let shape = Shape2::parse(&args.shape).map_err(|e| Reply::bad(format!("--shape: {e}")))?;
    Ok((c, shape))
}

/// `GET /api/function`: facts about a function and its values on a grid (row 0 at the top,
/// y1; cell centres as in basin maps), for the contour plot.
fn function(ctx: &Ctx, q: &Query) -> Answer {
    q.only(&["function", "domain", "start", "grid"]).map_err(Reply::bad)?;
    let args = run_args(q);
    let grid = q.count("grid", 160, 2..=MAX_GRID).map_err(Reply::bad)?;
    let (f, start) = load(&args)?;
    let d = f.domain;
    let values: Vec<Value> = ctx.pools.light.install(|| {
        use rayon::prelude::*;
        (0..grid * grid)
            .into_par_iter()
            .map(|i| {
                if i % grid == 0 && ctx.cancelled() {
                    return Value::Null;
                }
                let p = map::cell_start(d, grid, i / grid, i % grid);
                let v = f.value(p[0], p[1]);
                if v.is_finite() {
                    json!(v)
                } else {
                    Value::Null
                }
            })
            .collect()
    });
    Ok(json!({
        "function": f.name, "formula": f.formula, "domain": d, "start": start, "default_start": f.start,
        "minima": f.minima(), "bounded_below": f.bounded_below, "log_scale": f.log_scale,
        "builtin": objective::builtin(&args.function).is_some(), "grid": grid, "values": values,
    }))
}

/// `GET /api/run`: `optlab compare` without the files: per run the points, losses, learning
/// rates, evaluations and the fields of `summary.json`.
fn run(ctx: &Ctx, q: &Query) -> Answer {
    q.only(&["function", "optimizer", "start", "domain", "shape", "steps"]).map_err(Reply::bad)?;
    let args = run_args(q);
    let steps = q.count("steps", 500, 1..=MAX_STEPS).map_err(Reply::bad)?;
    let (f, start) = load(&args)?;
    let (configs, shape) = configs(&args)?;
    let per_step = evals_per_step_all(&configs);
    check_work("this run", &[steps as u64 + 1, per_step], ctx.pools.light_evals, "fewer steps or optimizers")?;
    let runs = ctx.pools.light.install(|| compare_until(&f, &configs, start, steps, shape, Some(ctx.cancel)));
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| {
            let p = &r.trajectory.points;
            let mut v = json!({
                "label": r.label,
                "spec": r.summary.spec,
                "status": r.trajectory.status,
                "points": p.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                "losses": p.iter().map(|p| p.loss).collect::<Vec<_>>(),
                "lr": p.iter().map(|p| p.lr).collect::<Vec<_>>(),
                "evals": p.iter().map(|p| p.evals).collect::<Vec<_>>(),
                "summary": r.summary,
            });
            if r.config.method.point != crate::optim::Point::Current {
                v["gradient_at"] = json!(p.iter().map(|p| [p.at_x, p.at_y]).collect::<Vec<_>>());
            }
            v
        })
        .collect();
    Ok(json!({
        "function": f.name, "formula": f.formula, "domain": f.domain, "start": start, "steps": steps,
        "shape": shape.name(), "runs": runs,
    }))
}

fn busy() -> Reply {
    Reply::error(
        503,
        format!("busy: {} basin maps or tunings are being computed; try again when one finishes", super::HEAVY_AT_ONCE),
    )
}

/// `GET /api/tune`: `optlab tune` — each optimizer's best learning rate to reach the
/// start's basin minimum.
fn tune(ctx: &Ctx, q: &Query) -> Answer {
    q.only(&["function", "optimizer", "start", "domain", "shape", "steps"]).map_err(Reply::bad)?;
    let args = run_args(q);
    let steps = q.count("steps", MAX_STEPS, 1..=MAX_STEPS).map_err(Reply::bad)?;
    let (f, start) = load(&args)?;
    let (configs, shape) = configs(&args)?;
    check_work(
        "this tuning",
        &[TUNE_TRIALS, steps as u64 + 1, evals_per_step_all(&configs)],
        ctx.pools.heavy_evals,
        "fewer steps or optimizers",
    )?;
    let opts = TuneOptions { steps, shape, stop: Some(ctx.cancel.clone()), ..Default::default() };
    let out = ctx.pools.heavy(|| tune::tune(&f, &configs, start, &opts)).ok_or_else(busy)?;
    if ctx.cancelled() {
        return Err(Reply::error(503, "the tuning was stopped"));
    }
    Ok(match out {
        Ok((target, tuned)) => json!({"function": f.name, "start": start, "target": target, "results": tuned}),
        Err(reason) => json!({"function": f.name, "start": start, "error_reason": reason, "results": []}),
    })
}

/// `GET /api/map`: `optlab map` — basin maps on a grid of starts. Cells row-major from the
/// top-left: the index of the minimum reached (≥ 0), −1 diverged, −2 not converged; `steps`
/// the steps each converged start took (0 otherwise).
fn basin_map(ctx: &Ctx, q: &Query) -> Answer {
    q.only(&["function", "optimizer", "domain", "shape", "steps", "grid", "start"]).map_err(Reply::bad)?;
    let args = run_args(q);
    let steps = q.count("steps", 500, 1..=MAX_STEPS).map_err(Reply::bad)?;
    let grid = q.count("grid", 128, 2..=MAX_GRID).map_err(Reply::bad)?;
    let (f, _) = load(&args)?;
    let (configs, shape) = configs(&args)?;
    check_work(
        "this basin map",
        &[grid as u64, grid as u64, steps as u64, evals_per_step_all(&configs)],
        ctx.pools.heavy_evals,
        "a smaller grid, fewer steps or fewer optimizers",
    )?;
    let labels = unique_labels(&configs);
    let named: Vec<(String, OptimizerConfig)> = labels.into_iter().zip(configs).collect();
    let opts = MapOptions { grid, steps, domain: f.domain, shape };
    let maps = ctx.pools.heavy(|| map::map_until(&f, &named, &opts, Some(ctx.cancel))).ok_or_else(busy)?;
    let minima = maps.first().map(|m| m.minima.clone()).unwrap_or_default();
    let list: Vec<Value> = maps
        .iter()
        .map(|m| {
            let cells: Vec<i32> = m
                .cells
                .iter()
                .map(|c| match *c {
                    Outcome::Basin { minimum, .. } => minimum as i32,
                    Outcome::Diverged { .. } => -1,
                    Outcome::Stalled => -2,
                })
                .collect();
            let steps: Vec<u32> =
                m.cells.iter().map(|c| if let Outcome::Basin { steps, .. } = *c { steps } else { 0 }).collect();
            json!({"label": m.label, "spec": m.spec, "cells": cells, "steps": steps, "summary": map::summarize(m)})
        })
        .collect();
    Ok(
        json!({"function": f.name, "domain": f.domain, "grid": grid, "steps": opts.steps, "minima": minima, "maps": list}),
    )
}

/// The most function evaluations one step of `cfg` may make: L-BFGS's `max_eval` (its
/// inner iterations and line search), plus the one that opens each step; two for other
/// methods that evaluate a closure (sharpness-aware steps take a second gradient); one
/// for the rest.
pub fn evals_per_step(cfg: &OptimizerConfig) -> u64 {
    if cfg.method.name == "lbfgs" {
        let max_iter = cfg.hyper.int("max_iter").max(1) as u64;
        let max_eval = cfg.hyper.maybe_num("max_eval").map_or(max_iter.saturating_mul(5) / 4, |e| e.max(1.0) as u64);
        max_eval.max(max_iter).saturating_add(1)
    } else if cfg.method.closure {
        2
    } else {
        1
    }
}

/// [`evals_per_step`] summed over the optimizers of a request.
fn evals_per_step_all(configs: &[OptimizerConfig]) -> u64 {
    configs.iter().map(evals_per_step).fold(0u64, u64::saturating_add).max(1)
}

/// Refuses a request whose work (the product of `parts`, in function evaluations) is
/// over `limit`, before any of it is done.
fn check_work(what: &str, parts: &[u64], limit: u64, advice: &str) -> Result<(), Reply> {
    let work = parts.iter().try_fold(1u64, |a, &b| a.checked_mul(b));
    match work {
        Some(w) if w <= limit => Ok(()),
        _ => Err(Reply::bad(format!(
            "{what} could take {} function evaluations; the limit is {}: use {advice}",
            work.map_or_else(|| "more than 2^64".to_string(), crate::limits::group),
            crate::limits::group(limit)
        ))),
    }
}
