//! Parity with torch.optim: every case of the golden file (made with PyTorch 2.15 by
//! `tests/data/torch_optim_2d.py`, a copy of `../shared/golden/`) is reproduced to within
//! 1e-12·(1+|x|+|y|) up to its chaos step, and every case PyTorch saw diverge is reported
//! as diverged no later than PyTorch's first non-finite step.

use optlab::experiment::{run_trajectory, Status};
use optlab::objective;
use optlab::optim::OptimizerConfig;
use serde_json::Value;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/torch_optim_2d.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("golden file")).expect("json")
}

/// `{"lr": 0.1, "betas": [0.9, 0.99], "amsgrad": true}` → `adam(lr=0.1, betas=(0.9, 0.99), amsgrad=true)`
fn spec_of(case: &Value) -> String {
    let name = case["optimizer"].as_str().unwrap().to_ascii_lowercase();
    let args: Vec<String> = case["kwargs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| match v {
            Value::Bool(b) => format!("{k}={b}"),
            Value::Array(a) => format!("{k}=({}, {})", a[0], a[1]),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{name}({})", args.join(", "))
}

fn setup(case: &Value) -> (objective::Function, OptimizerConfig, [f64; 2], usize) {
    let f = objective::builtin(case["function"].as_str().unwrap()).expect("known function").function();
    let spec = spec_of(case);
    let cfg = OptimizerConfig::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let s = case["start"].as_array().unwrap();
    (f, cfg, [s[0].as_f64().unwrap(), s[1].as_f64().unwrap()], case["steps"].as_u64().unwrap() as usize)
}

fn series(case: &Value, key: &str) -> Vec<f64> {
    case[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn every_golden_trajectory_matches_torch_optim_before_its_chaos_step() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 73);
    let (mut bit_exact, mut worst) = (0, 0.0f64);
    let mut failures = Vec::new();
    for case in cases {
        let (f, cfg, start, steps) = setup(case);
        let traj = run_trajectory(&f, &cfg, start, steps);
        let label = format!("{} {}", case["function"], case["label"]);
        assert_eq!(traj.status, Status::Completed, "{label} diverged");
        let (xs, ys) = (series(case, "xs"), series(case, "ys"));
        let (ls, gxs, gys) = (series(case, "losses"), series(case, "gxs"), series(case, "gys"));
        let upto = case["chaos_step"].as_u64().map(|c| c as usize).unwrap_or(steps + 1);
        let mut exact = true;
        for k in 0..upto.min(steps + 1) {
            let p = traj.points[k];
            let scale = 1.0 + xs[k].abs() + ys[k].abs();
            let err = (p.x - xs[k]).abs().max((p.y - ys[k]).abs()) / scale;
            worst = worst.max(err);
            exact &= p.x == xs[k] && p.y == ys[k] && p.loss == ls[k] && p.grad_x == gxs[k] && p.grad_y == gys[k];
            if err > 1e-12 {
                failures.push(format!(
                    "{label}: step {k}: ({}, {}) vs torch ({}, {}), rel err {err:e}",
                    p.x, p.y, xs[k], ys[k]
                ));
                break;
            }
            let lerr = (p.loss - ls[k]).abs() / (1.0 + ls[k].abs());
            let gerr = (p.grad_x - gxs[k]).abs().max((p.grad_y - gys[k]).abs()) / (1.0 + gxs[k].abs() + gys[k].abs());
            if lerr > 1e-12 || gerr > 1e-12 {
                failures.push(format!("{label}: step {k}: loss/grad differ (rel {lerr:e} / {gerr:e})"));
                break;
            }
        }
        bit_exact += exact as usize;
    }
    println!("golden parity: {bit_exact}/73 cases bit-identical to torch.optim before chaos_step; worst relative error {worst:e}");
    assert!(failures.is_empty(), "{} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn golden_cases_that_diverged_in_torch_are_reported_diverged_no_later() {
    let g = golden();
    let skipped = g["skipped"].as_array().unwrap();
    assert!(!skipped.is_empty());
    for case in skipped {
        let (f, cfg, start, steps) = setup(case);
        let traj = run_trajectory(&f, &cfg, start, steps);
        let torch_step = case["first_nonfinite_step"].as_u64().unwrap() as usize;
        match traj.status {
            Status::Diverged { step } => assert!(
                step <= torch_step,
                "{} {}: reported at step {step}, torch went non-finite at {torch_step}",
                case["function"],
                case["label"]
            ),
            Status::Completed | Status::Interrupted { .. } => {
                panic!("{} {} did not diverge", case["function"], case["label"])
            }
        }
        assert!(traj.points.iter().all(|p| p.x.is_finite() && p.loss.is_finite()));
    }
}
