//! Layer-aware optimizers on the seminar MLP: starting from the golden initial parameters
//! and batch, the parameters after 3 steps of each method in `tests/data/nn/manifest_modern.json`
//! (a copy of `../shared/golden/nn/`, made by `make_nn_golden_modern.py` with torch 2.15 and
//! the reference packages, float32) agree with the reference to 1e-5 of each tensor's scale;
//! Muon (bf16 Newton–Schulz, summed in another order) to 1e-2 of its largest update.
//!
//! `OPTLAB_GOLDEN=soap cargo test --release --test nn_golden_modern -- --nocapture` runs one.

// `!(err <= tol)` on purpose: a NaN error must fail.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use optlab::data;
use optlab::nn;
use optlab::optim::OptimizerConfig;
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nn")
}

fn f32s(name: &str) -> Vec<f32> {
    let b = std::fs::read(dir().join(name)).unwrap();
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn spec_value(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("({})", a.iter().map(spec_value).collect::<Vec<_>>().join(", ")),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn args(kwargs: &Value) -> String {
    kwargs.as_object().unwrap().iter().map(|(k, v)| format!("{k}={}", spec_value(v))).collect::<Vec<_>>().join(", ")
}

/// The optlab spec of a case; Muon's two parameter groups become its fallback.
fn spec_of(name: &str, kwargs: &Value) -> String {
    if name == "muon" {
        format!("muon({}, fallback=adamw({}))", args(&kwargs["muon"]), args(&kwargs["adamw"]))
    } else {
        format!("{name}({})", args(kwargs))
    }
}

#[test]
fn mlp_parameters_after_three_steps_of_each_modern_method_match_the_reference() {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("manifest_modern.json")).unwrap()).unwrap();
    let model = nn::build(m["model"].as_str().unwrap()).unwrap();
    let init = f32s(m["init"].as_str().unwrap());
    let d = data::embedded_mnist().unwrap();
    let mut ws = model.workspace(32);
    let idx: Vec<usize> = (0..32).collect();
    let labels: Vec<u8> = d.train.labels[..32].to_vec();
    let only = std::env::var("OPTLAB_GOLDEN").ok();
    let layout = model.layout();
    let mut failures = Vec::new();
    for (name, case) in m["cases"].as_object().unwrap() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let spec = spec_of(name, &case["kwargs"]);
        let cfg = match OptimizerConfig::parse(&spec) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {spec}: {e}"));
                continue;
            }
        };
        let mut opt = cfg.build::<f32>(&layout);
        let mut p = init.clone();
        let mut losses = Vec::new();
        for _ in 0..3 {
            d.train.gather(&idx, 0.1307, 0.3081, ws.input_mut(32));
            let mut obj = |params: &[f32], grad: &mut [f32]| model.loss_and_grad(params, grad, &mut ws, &labels);
            losses.push(opt.step(&mut p, &mut obj));
        }
        let want = f32s(case["params"].as_str().unwrap());
        let mut worst = 0f64;
        for t in &layout.tensors {
            let (a, b, p0) = (&p[t.range()], &want[t.range()], &init[t.range()]);
            let diff = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).fold(0.0, f64::max);
            let (scale, tol) = if name == "muon" {
                // largest update of the reference
                (b.iter().zip(p0).map(|(&y, &z)| (y as f64 - z as f64).abs()).fold(0.0, f64::max), 1e-2)
            } else {
                (b.iter().fold(0f64, |m, &v| m.max(v.abs() as f64)), 1e-5)
            };
            let err = diff / scale.max(f64::MIN_POSITIVE);
            worst = worst.max(err / tol);
            if !within(err, tol) {
                failures.push(format!("{name}: tensor {} {:?} differs by {err:e} of its scale", t.name, t.shape));
            }
        }
        let tl: Vec<f64> =
            case["losses_before_each_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        for (a, b) in losses.iter().zip(&tl) {
            if (*a as f64 - b).abs() / b > 1e-5 {
                failures.push(format!("{name}: loss {a} vs reference {b}"));
            }
        }
        println!("{name:10} {spec}: worst error {worst:.2} of tolerance; losses {losses:?}");
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// `err <= tol`, false for NaN.
fn within(err: f64, tol: f64) -> bool {
    err <= tol
}
