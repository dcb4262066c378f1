//! More parity with torch 2.15 for ASGD, Adafactor, LBFGS and Muon, beyond the modern golden
//! file:
//!
//! * `tests/data/torch_optim_extra_2d.json` (float64, 2-D functions; cases in
//!   `torch_optim_extra_cases.py`, made with the generator of `modern_optim_2d.json`, same
//!   conventions): other hyperparameters, functions, starts and shapes, each aimed at a branch
//!   of the reference. Checked as the modern parity test checks: the points to
//!   1e-12·(1+|x|+|y|) before the chaos step, LBFGS's evaluation counts exactly.
//! * `tests/data/torch_optim_extra_tensors.json` (float32, made by
//!   `torch_optim_extra_tensors.py`): several tensors of different shapes at once (wide, tall
//!   and long matrices, a conv kernel, a batch of matrices, vectors) under an objective whose
//!   gradient is exact element by element, so the parameters after a few steps must agree to
//!   the rounding of the optimizer alone.
//!
//! `OPTLAB_GOLDEN=muon cargo test --release --test torch_optim_extra -- --nocapture` runs
//! the cases whose id contains `muon`.

mod common;

use common::{check_file, load, selected, series};
use optlab::optim::{Layout, OptimizerConfig};
use serde_json::Value;

#[test]
fn extra_2d_cases_match_torch() {
    check_file("torch_optim_extra_2d.json", "torch.optim extra parity", &[]);
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// The tensor cases' objective: f = Σ p⁴/4 − t·p (summed in f64, rounded to f32 once, as
/// the generator does), ∇f = (p·p)·p − t in f32.
fn objective_of(targets: &[f32]) -> impl FnMut(&[f32], &mut [f32]) -> f32 + '_ {
    move |p: &[f32], g: &mut [f32]| {
        for ((g, &p), &t) in g.iter_mut().zip(p).zip(targets) {
            *g = p * p * p - t;
        }
        p.iter().zip(targets).fold(0f64, |s, (&p, &t)| {
            let (p, t) = (p as f64, t as f64);
            s + (p * p * p * p / 4.0 - t * p)
        }) as f32
    }
}

#[test]
fn extra_tensor_cases_match_torch_in_f32() {
    let g = load("torch_optim_extra_tensors.json");
    let shapes: Vec<(String, Vec<usize>)> = g["layout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let shape = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            (t["name"].as_str().unwrap().to_string(), shape)
        })
        .collect();
    let named: Vec<(&str, Vec<usize>)> = shapes.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
    let layout = Layout::of(&named);
    let (init, targets) = (f32s(&g["init"]), f32s(&g["targets"]));
    let mut failures = Vec::new();
    for case in g["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        if !selected(id) {
            continue;
        }
        let spec = case["optlab"].as_str().unwrap();
        let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f32>(&layout);
        let mut p = init.clone();
        let mut obj = objective_of(&targets);
        let mut losses = Vec::new();
        for _ in 0..case["steps"].as_u64().unwrap() {
            losses.push(opt.step(&mut p, &mut obj));
        }
        // LBFGS decides with the loss, which torch sums in another order
        let tol = if id.starts_with("lbfgs") { 1e-4 } else { 1e-6 };
        let want = f32s(&case["params"]);
        let mut worst = 0f64;
        for t in &layout.tensors {
            let (a, b) = (&p[t.range()], &want[t.range()]);
            let scale = b.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
            let diff = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).fold(0.0, f64::max);
            let err = diff / scale.max(f64::MIN_POSITIVE);
            worst = worst.max(err);
            if err.is_nan() || err > tol {
                failures.push(format!("{id}: tensor {} {:?} differs by {err:e} of its scale", t.name, t.shape));
            }
        }
        let want_losses: Vec<f64> = series(case, "losses").unwrap();
        for (a, b) in losses.iter().zip(&want_losses) {
            let diff = (*a as f64 - b).abs();
            if diff.is_nan() || diff > 1e-5 * b.abs().max(1.0) {
                failures.push(format!("{id}: loss {a} vs torch {b}"));
            }
        }
        println!("{id:20} {spec}: worst error {worst:.1e}");
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
