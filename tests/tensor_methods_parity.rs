//! Parity of the tensor-wise pytorch-optimizer methods (Adan, LAMB, LARS, MARS, SOAP) beyond
//! the cases of `modern_parity.rs`: other hyperparameters, branches and shapes, from
//! `tests/data/tensor_methods_2d.json` (made by
//! `python3 modern_optim_2d.py --cases tensor_methods_2d_cases.py --out tensor_methods_2d.json`
//! with torch 2.15 and pytorch-optimizer 4.1.0, float64). Same rule as `modern_parity.rs`:
//! the point where gradients are taken agrees to 1e-12·(1+|x|+|y|) before each case's chaos
//! step (or the case's own tolerance).
//!
//! `OPTLAB_GOLDEN=soap cargo test --release --test tensor_methods_parity -- --nocapture`
//! runs only the cases whose id contains `soap`.

use optlab::experiment::run_trajectory_shaped;
use optlab::objective;
use optlab::optim::{OptimizerConfig, Shape2};
use serde_json::Value;

/// A JSON value as spec text: strings quoted, tuples as tuples.
fn spec_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Array(a) => format!("({})", a.iter().map(spec_value).collect::<Vec<_>>().join(", ")),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn spec_of(case: &Value) -> String {
    let args: Vec<String> =
        case["kwargs"].as_object().unwrap().iter().map(|(k, v)| format!("{k}={}", spec_value(v))).collect();
    format!("{}({})", case["optlab"].as_str().unwrap(), args.join(", "))
}

fn series(case: &Value, key: &str) -> Vec<f64> {
    case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn check_case(case: &Value) -> Result<f64, String> {
    let id = case["id"].as_str().unwrap();
    let spec = spec_of(case);
    let cfg = OptimizerConfig::parse(&spec).map_err(|e| format!("{id}: {spec}: {e}"))?;
    let f = objective::builtin(case["function"].as_str().unwrap()).unwrap().function();
    let shape = match case.get("shape").and_then(|s| s.as_array()).map(|s| s.len()) {
        Some(2) if case["shape"][0] == 1 => Shape2::Row,
        Some(2) => Shape2::Column,
        _ => Shape2::Vector,
    };
    let s = series(case, "start");
    let traj = run_trajectory_shaped(&f, &cfg, [s[0], s[1]], case["steps"].as_u64().unwrap() as usize, shape);
    let (xs, ys) = (series(case, "xs"), series(case, "ys"));
    let tol = case.get("tolerance").and_then(|t| t.as_f64()).unwrap_or(1e-12);
    let upto = case["chaos_step"].as_u64().map_or(xs.len(), |c| c as usize).min(xs.len());
    if traj.points.len() < upto {
        return Err(format!("{id}: {spec}: stopped at step {} ({:?})", traj.points.len(), traj.status));
    }
    let mut worst = 0.0f64;
    for k in 0..upto {
        let p = traj.points[k];
        let err = (p.at_x - xs[k]).abs().max((p.at_y - ys[k]).abs()) / (1.0 + xs[k].abs() + ys[k].abs());
        worst = worst.max(err);
        if err > tol || err.is_nan() {
            return Err(format!(
                "{id}: {spec}: step {k}: ({}, {}) vs reference ({}, {}), rel err {err:e}",
                p.at_x, p.at_y, xs[k], ys[k]
            ));
        }
    }
    Ok(worst)
}

#[test]
fn tensor_methods_match_pytorch_optimizer_on_more_settings() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tensor_methods_2d.json");
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, g["case_count"].as_u64().unwrap());
    let only = std::env::var("OPTLAB_GOLDEN").ok();
    let (mut ran, mut failures) = (0, Vec::new());
    for case in cases {
        let id = case["id"].as_str().unwrap();
        if only.as_deref().is_some_and(|o| !id.contains(o)) {
            continue;
        }
        ran += 1;
        match check_case(case) {
            Ok(worst) => println!("ok   {id:32} worst rel err {worst:.1e}"),
            Err(e) => {
                println!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    println!("tensor-method parity: {}/{ran} cases agree", ran - failures.len());
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}
