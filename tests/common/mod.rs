//! The harness of the 2-D golden files: specs from the generator's cases, the runs, and the
//! comparison rules every parity test shares (the point where gradients are taken to
//! 1e-12·(1+|x|+|y|) before the chaos step, the returned point of Schedule-Free likewise, the
//! lr in force to 1e-12 relative, LBFGS's evaluation count exactly).
//!
//! `OPTLAB_GOLDEN=<part of a case id>` runs only the matching cases.

#![allow(dead_code)]

use optlab::experiment::{run_trajectory_shaped, Status};
use optlab::objective;
use optlab::optim::{OptimizerConfig, Shape2};
use serde_json::Value;

/// A golden file of `tests/data/`.
pub fn load(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("golden file")).expect("json")
}

/// Whether `OPTLAB_GOLDEN` (if set) selects the case.
pub fn selected(id: &str) -> bool {
    std::env::var("OPTLAB_GOLDEN").map_or(true, |o| id.contains(&o))
}

/// A JSON value as spec text: lists stay lists, strings are quoted.
pub fn spec_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(a) => format!("[{}]", a.iter().map(spec_value).collect::<Vec<_>>().join(", ")),
        Value::Null => "None".into(),
        Value::Object(_) => sub_spec(v),
        other => other.to_string(),
    }
}

pub fn args(kwargs: &Value) -> String {
    kwargs
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "foreach")
        .map(|(k, v)| format!("{k}={}", spec_value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{"name": "StepLR", "kwargs": {...}}` → `StepLR(...)`; ChainedScheduler → `a | b`.
pub fn sub_spec(s: &Value) -> String {
    let name = s["name"].as_str().unwrap();
    if name == "ChainedScheduler" {
        return s["kwargs"]["schedulers"].as_array().unwrap().iter().map(sub_spec).collect::<Vec<_>>().join(" | ");
    }
    format!("{name}({})", args(&s["kwargs"]))
}

/// The optlab spec of a case: method, then scheduler, then clipping.
pub fn spec_of(case: &Value) -> String {
    let mut s = format!("{}({})", case["optlab"].as_str().unwrap(), args(&case["kwargs"]));
    if case.get("scheduler").is_some_and(|v| !v.is_null()) {
        s = format!("{s} | {}", sub_spec(&case["scheduler"]));
    }
    if let Some(c) = case.get("clip").filter(|v| !v.is_null()) {
        let kind = c["kind"].as_str().unwrap();
        let rest: Vec<String> =
            c.as_object().unwrap().iter().filter(|(k, _)| *k != "kind").map(|(k, v)| format!("{k}={v}")).collect();
        s = format!("{s} | clip_grad_{kind}({})", rest.join(", "));
    }
    s
}

pub fn series(case: &Value, key: &str) -> Option<Vec<f64>> {
    case.get(key)?.as_array().map(|a| a.iter().map(|v| v.as_f64().unwrap()).collect())
}

pub fn shape_of(case: &Value) -> Shape2 {
    match case.get("shape").and_then(|s| s.as_array()) {
        Some(s) if s.len() == 2 && s[0] == 1 => Shape2::Row,
        Some(s) if s.len() == 2 => Shape2::Column,
        _ => Shape2::Vector,
    }
}

/// A case compared with another tolerance than 1e-12, and why: (case id, tolerance, reason).
pub type Known = (&'static str, f64, &'static str);

/// Runs one case; `Err` says where it first differs.
pub fn check_case(case: &Value, known: &[Known]) -> Result<f64, String> {
    check_case_spec(case, &spec_of(case), known)
}

/// [`check_case`] with the optlab spec given (for files whose cases need more than
/// `optlab(kwargs)`, as wrappers do).
pub fn check_case_spec(case: &Value, spec: &str, known: &[Known]) -> Result<f64, String> {
    let id = case["id"].as_str().unwrap();
    let f = objective::builtin(case["function"].as_str().unwrap()).expect("known function").function();
    let spec = spec.to_string();
    let cfg = OptimizerConfig::parse(&spec).map_err(|e| format!("{id}: {spec}: {e}"))?;
    let s = case["start"].as_array().unwrap();
    let start = [s[0].as_f64().unwrap(), s[1].as_f64().unwrap()];
    let steps = case["steps"].as_u64().unwrap() as usize;
    let traj = run_trajectory_shaped(&f, &cfg, start, steps, shape_of(case));
    let (xs, ys) = (series(case, "xs").unwrap(), series(case, "ys").unwrap());
    let lrs = series(case, "lrs").unwrap();
    let (exs, eys) = (series(case, "eval_xs"), series(case, "eval_ys"));
    let evals = series(case, "evals");
    let mut tol = case.get("tolerance").and_then(|t| t.as_f64()).unwrap_or(1e-12);
    if let Some((_, t, why)) = known.iter().find(|k| k.0 == id) {
        println!("note {id}: compared to {t:e}: {why}");
        tol = *t;
    }
    let upto = case["chaos_step"].as_u64().map_or(xs.len(), |c| c as usize).min(xs.len());
    if traj.points.len() < upto {
        return Err(format!("{id}: {spec}: stopped at step {} ({:?})", traj.points.len(), traj.status));
    }
    let mut worst = 0.0f64;
    for k in 0..upto {
        let p = traj.points[k];
        let scale = 1.0 + xs[k].abs() + ys[k].abs();
        let err = (p.at_x - xs[k]).abs().max((p.at_y - ys[k]).abs()) / scale;
        worst = worst.max(err);
        if !within(err, tol) {
            return Err(format!(
                "{id}: {spec}: step {k}: ({}, {}) vs reference ({}, {}), rel err {err:e}",
                p.at_x, p.at_y, xs[k], ys[k]
            ));
        }
        if let (Some(ex), Some(ey)) = (&exs, &eys) {
            let err = (p.x - ex[k]).abs().max((p.y - ey[k]).abs()) / (1.0 + ex[k].abs() + ey[k].abs());
            if !within(err, tol) {
                return Err(format!(
                    "{id}: step {k}: reported point ({}, {}) vs reference x ({}, {}), rel err {err:e}",
                    p.x, p.y, ex[k], ey[k]
                ));
            }
        }
        if !within((p.lr - lrs[k]).abs(), 1e-12 * lrs[k].abs()) {
            return Err(format!("{id}: step {k}: lr {} vs reference {}", p.lr, lrs[k]));
        }
        if let Some(ev) = &evals {
            if k > 0 && p.evals as f64 != ev[k - 1] {
                return Err(format!("{id}: after step {k}: {} evaluations vs reference {}", p.evals, ev[k - 1]));
            }
        }
    }
    if case["chaos_step"].is_null() && traj.status != Status::Completed {
        return Err(format!("{id}: diverged ({:?}) where the reference completed", traj.status));
    }
    Ok(worst)
}

/// Every selected case of a golden file; panics listing the cases that differ.
pub fn check_file(name: &str, what: &str, known: &[Known]) {
    let g = load(name);
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, g["case_count"].as_u64().unwrap());
    let (mut ran, mut failures) = (0, Vec::new());
    for case in cases {
        let id = case["id"].as_str().unwrap();
        if !selected(id) {
            continue;
        }
        ran += 1;
        match check_case(case, known) {
            Ok(worst) => println!("ok   {id:32} worst rel err {worst:.1e}"),
            Err(e) => {
                println!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    println!("{what}: {}/{ran} cases agree", ran - failures.len());
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}

/// `err <= tol`, false for NaN.
pub fn within(err: f64, tol: f64) -> bool {
    err <= tol
}
