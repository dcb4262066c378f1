//! The tensor-wise pytorch-optimizer methods on the seminar's MLP and CNN, in settings that
//! `nn_golden_modern.rs` leaves out (4-D conv kernels, SOAP's preconditioning of every
//! dimension and its power-iteration refresh, MARS's Newton–Schulz and Lion steps, LAMB's
//! rectified branch, LARS with Nesterov, Adan's clipping): from the golden initial
//! parameters and batch, the parameters after each case's steps agree with
//! `tests/data/nn/manifest_tensor.json` (made by `make_nn_golden_tensor.py` with torch 2.15
//! and pytorch-optimizer 4.1.0, float32) to 1e-5 of each tensor's largest value.
//!
//! `OPTLAB_GOLDEN=soap cargo test --release --test nn_golden_tensor -- --nocapture` runs the
//! cases whose name contains `soap`.

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

fn spec_of(case: &Value) -> String {
    let args: Vec<String> =
        case["kwargs"].as_object().unwrap().iter().map(|(k, v)| format!("{k}={}", spec_value(v))).collect();
    format!("{}({})", case["optlab"].as_str().unwrap(), args.join(", "))
}

#[test]
fn tensor_methods_on_the_seminar_models_match_the_reference() {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("manifest_tensor.json")).unwrap()).unwrap();
    let d = data::embedded_mnist().unwrap();
    let idx: Vec<usize> = (0..32).collect();
    let labels: Vec<u8> = d.train.labels[..32].to_vec();
    let only = std::env::var("OPTLAB_GOLDEN").ok();
    let mut failures = Vec::new();
    for case in m["cases"].as_array().unwrap() {
        let mname = case["model"].as_str().unwrap();
        let name = format!("{mname}/{}", case["case"].as_str().unwrap());
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let model = nn::build(mname, optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
        let layout = model.layout();
        let mut ws = model.workspace(32);
        let spec = spec_of(case);
        let cfg = match OptimizerConfig::parse(&spec) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {spec}: {e}"));
                continue;
            }
        };
        let mut opt = cfg.build::<f32>(&layout);
        let mut p = f32s(&format!("{mname}_init.f32"));
        let mut losses = Vec::new();
        for _ in 0..case["steps"].as_u64().unwrap() {
            d.train.gather(&idx, 0.1307, 0.3081, ws.input_mut(32));
            let mut obj = |params: &[f32], grad: &mut [f32]| model.loss_and_grad(params, grad, &mut ws, &labels);
            losses.push(opt.step(&mut p, &mut obj));
        }
        let want = f32s(case["params"].as_str().unwrap());
        let mut worst = 0f64;
        for t in &layout.tensors {
            let (a, b) = (&p[t.range()], &want[t.range()]);
            let diff = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).fold(0.0, f64::max);
            let scale = b.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
            let err = diff / scale.max(f64::MIN_POSITIVE);
            worst = worst.max(err / 1e-5);
            if err > 1e-5 || err.is_nan() {
                failures
                    .push(format!("{name}: {spec}: tensor {} {:?} differs by {err:e} of its scale", t.name, t.shape));
            }
        }
        let want_losses = case["losses_before_each_step"].as_array().unwrap();
        for (a, b) in losses.iter().zip(want_losses.iter().map(|v| v.as_f64().unwrap())) {
            if (*a as f64 - b).abs() / b > 1e-5 {
                failures.push(format!("{name}: loss {a} vs reference {b}"));
            }
        }
        println!("{name:28} {spec}: worst error {worst:.2} of tolerance");
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
