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

mod common;

#[test]
fn tensor_methods_match_pytorch_optimizer_on_more_settings() {
    common::check_file("tensor_methods_2d.json", "tensor-method parity", &[]);
}
