//! Parity of the matrix methods of the second wave (NorMuon, AdaMuon, SCION, SCIONLight,
//! Shampoo, GaLore, APOLLO, Kron, ScalableShampoo) with pytorch-optimizer 4.1.0: every case
//! of `../shared/golden/wave2_optim_2d.json` whose `optlab` name is one of them is
//! reproduced before its chaos step, the point where gradients are taken to
//! 1e-12·(1+|x|+|y|) (or the tolerance listed in `KNOWN`, with its reason), the lr in force
//! to 1e-12 relative. The cases are found by their `optlab` field, so the count comes from
//! the data; the cases of methods not yet ported are listed in `NOT_YET` and printed as
//! skipped. Without `../shared` the test says so and passes.
//!
//! The bfloat16 Newton–Schulz methods (NorMuon, AdaMuon, SCION's spectral oracle) are
//! compared at the same 1e-12: the emulation rounds to bfloat16 where torch does, which
//! reproduces these 2-D cases bit for bit (the golden README's note).
//!
//! `OPTLAB_GOLDEN=normuon cargo test --release --test wave2_matrix_parity -- --nocapture`
//! runs only the cases whose id contains `normuon`.

mod common;

use common::{check_case, selected, Known};
use optlab::optim::draws::{with_given, Given};
use serde_json::Value;

/// The methods this test covers (their `optlab` names).
const METHODS: &[&str] =
    &["normuon", "adamuon", "scion", "scion-light", "shampoo", "galore", "apollo", "kron", "scalable-shampoo"];

/// Cases of those methods that optlab does not implement yet (printed as skipped).
const NOT_YET: &[&str] = &[];

/// Cases compared with another tolerance than 1e-12, and why.
const KNOWN: &[Known] = &[(
    "kron-mat-rosen",
    1e-7,
    "Kron's preconditioner is float32 and torch contracts it with einsum (through opt_einsum); optlab applies the \
     factors in the pairing that reproduces the first 81 steps bit for bit, then one float32 rounding differs \
     (1.5e-10 of the point) and grows to 4e-8 by step 150 (not chaotic: the case has no chaos step)",
)];

fn golden() -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/golden/wave2_optim_2d.json");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).expect("wave2_optim_2d.json is JSON"))
}

/// The case as the harness reads it: the keys the reference put into the parameter group
/// (`rank`, `update_proj_gap`, ...; not `use_muon`, which is optlab's layout) join the
/// keyword arguments.
fn with_group_keys(case: &Value) -> Value {
    let mut c = case.clone();
    if let Some(group) = case.get("group").and_then(|g| g.as_object()) {
        let kwargs = c["kwargs"].as_object_mut().unwrap();
        for (k, v) in group {
            if k != "use_muon" {
                kwargs.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

/// What the reference drew or computed that optlab replays: its normal draws
/// (`random_draws` of torch.randn*) and its projectors, in order.
fn given(case: &Value) -> Given {
    let mut g = Given::default();
    for d in case.get("random_draws").and_then(|d| d.as_array()).into_iter().flatten() {
        let values = d["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap());
        match d["fn"].as_str().unwrap() {
            f if f.starts_with("randn") => g.normals.extend(values),
            "numpy.random.random" => g.uniforms.extend(values),
            f => panic!("a draw of {f}, which no method here makes"),
        }
    }
    for p in case.get("projectors").and_then(|d| d.as_array()).into_iter().flatten() {
        g.projectors.push_back(p.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect());
    }
    g
}

fn method_of(case: &Value) -> &str {
    case["optlab"].as_str().unwrap()
}

#[test]
fn every_wave2_matrix_case_matches_its_reference_before_its_chaos_step() {
    let Some(g) = golden() else {
        println!("skipped: ../shared/golden/wave2_optim_2d.json is not there (the shared golden files are beside the project)");
        return;
    };
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, g["case_count"].as_u64().unwrap());
    let ids: Vec<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in NOT_YET {
        assert!(ids.contains(id), "NOT_YET names '{id}', which the golden file does not have");
    }
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for case in cases.iter().filter(|c| METHODS.contains(&method_of(c))) {
        let id = case["id"].as_str().unwrap();
        if !selected(id) {
            continue;
        }
        if NOT_YET.contains(&id) {
            println!("skip {id:36} ({} not implemented yet)", method_of(case));
            skipped += 1;
            continue;
        }
        ran += 1;
        let (result, left) = with_given(given(case), || check_case(&with_group_keys(case), KNOWN));
        let result = result.and_then(|worst| {
            if left.normals.is_empty() && left.uniforms.is_empty() && left.projectors.is_empty() {
                Ok(worst)
            } else {
                Err(format!(
                    "{id}: {} recorded draws and {} projectors left unused",
                    left.normals.len() + left.uniforms.len(),
                    left.projectors.len()
                ))
            }
        });
        match result {
            Ok(worst) => println!("ok   {id:36} worst rel err {worst:.1e}"),
            Err(e) => {
                println!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    println!("wave2 matrix parity: {}/{ran} cases agree, {skipped} not yet implemented", ran - failures.len());
    assert!(failures.is_empty(), "{} of {ran} cases differ:\n{}", failures.len(), failures.join("\n"));
}
