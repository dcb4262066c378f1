//! More parity for Lion, Schedule-Free AdamW and SGD, Prodigy, AdEMAMix, AdaBelief and ADOPT:
//! every case of `tests/data/modern_extra_a_2d.json` (made by `tests/data/modern_extra_a_2d.py`
//! with the reference packages, float64) is reproduced before its chaos step — the point where
//! gradients are taken to 1e-12·(1+|x|+|y|), Schedule-Free's averaged point likewise, the lr
//! in force exactly. These cases reach the branches and keys the main golden file does not,
//! and change the learning rate between steps (`lr_factors`) as a scheduler would, through
//! the optimizer's group hyperparameters.
//!
//! `OPTLAB_GOLDEN=prodigy cargo test --release --test modern_extra_a -- --nocapture` runs only
//! the cases whose id contains `prodigy`.

// `!(err <= tol)` on purpose: a NaN error must fail.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod common;

use common::{load, series, shape_of, spec_of};
use optlab::objective;
use optlab::optim::{Objective, OptimizerConfig};
use serde_json::Value;

fn golden() -> Value {
    load("modern_extra_a_2d.json")
}

/// Runs one case, setting the lr before each step when the case says so; `Err` says where it
/// first differs, `Ok` gives the worst relative error.
fn check_case(case: &Value) -> Result<f64, String> {
    let id = case["id"].as_str().unwrap();
    let f = objective::builtin(case["function"].as_str().unwrap()).expect("known function").function();
    let spec = spec_of(case);
    let cfg = OptimizerConfig::parse(&spec).map_err(|e| format!("{id}: {spec}: {e}"))?;
    let mut opt = cfg.build::<f64>(&shape_of(case).layout());
    let s = case["start"].as_array().unwrap();
    let mut p = [s[0].as_f64().unwrap(), s[1].as_f64().unwrap()];
    let (xs, ys, lrs) = (series(case, "xs").unwrap(), series(case, "ys").unwrap(), series(case, "lrs").unwrap());
    let (exs, eys) = (series(case, "eval_xs"), series(case, "eval_ys"));
    let factors = series(case, "lr_factors");
    let steps = case["steps"].as_u64().unwrap() as usize;
    let upto = case["chaos_step"].as_u64().map_or(xs.len(), |c| c as usize).min(xs.len());
    let lr0 = cfg.lr();
    let mut shown = [0.0; 2];
    let mut obj = f.objective();
    let mut worst = 0.0f64;
    for k in 0..upto {
        if let Some(fs) = &factors {
            if k < steps {
                *opt.group(0).lr = lr0 * fs[k];
            }
        }
        let scale = 1.0 + xs[k].abs() + ys[k].abs();
        let err = (p[0] - xs[k]).abs().max((p[1] - ys[k]).abs()) / scale;
        worst = worst.max(err);
        if !(err <= 1e-12) {
            return Err(format!(
                "{id}: {spec}: step {k}: ({}, {}) vs reference ({}, {}), rel err {err:e}",
                p[0], p[1], xs[k], ys[k]
            ));
        }
        opt.report(&p, &mut shown);
        if let (Some(ex), Some(ey)) = (&exs, &eys) {
            let err = (shown[0] - ex[k]).abs().max((shown[1] - ey[k]).abs()) / (1.0 + ex[k].abs() + ey[k].abs());
            worst = worst.max(err);
            if !(err <= 1e-12) {
                return Err(format!(
                    "{id}: step {k}: reported point ({}, {}) vs reference x ({}, {}), rel err {err:e}",
                    shown[0], shown[1], ex[k], ey[k]
                ));
            }
        } else if shown != p {
            return Err(format!("{id}: step {k}: reports ({}, {}) instead of its parameters", shown[0], shown[1]));
        }
        let lr = *opt.group(0).lr;
        if lr != lrs[k] {
            return Err(format!("{id}: step {k}: lr {lr} vs reference {}", lrs[k]));
        }
        if k < steps {
            let loss = opt.step(&mut p, &mut obj as &mut dyn Objective<f64>);
            let want = case["losses"][k].as_f64().unwrap();
            if !((loss - want).abs() <= 1e-12 * (1.0 + want.abs())) {
                return Err(format!("{id}: step {k}: loss {loss} vs reference {want}"));
            }
        }
    }
    Ok(worst)
}

#[test]
fn every_extra_case_of_the_modern_methods_matches_its_reference_before_its_chaos_step() {
    let g = golden();
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
            Ok(worst) => println!("ok   {id:34} worst rel err {worst:.1e}"),
            Err(e) => {
                println!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    println!("modern extra parity: {}/{ran} cases agree", ran - failures.len());
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}
