//! The Rust side of the Python bindings' overheads (bench/python_bench.py measures the Python
//! side): `cli::lab::compare` of the seminar's six optimizers × 500 steps on sin-cos, and
//! one Adam step of the seminar's MLP (50,890 parameters, f32) from given gradients.
//!
//!     cargo run --release --example python_bench

use optlab::cli::{lab, RunArgs};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    optlab::kernels::init().expect("kernels");
    let args = RunArgs {
        function: "sin-cos".into(),
        optimizers: ["gd", "momentum", "nag", "adagrad", "adadelta", "adam"]
            .iter()
            .map(|s| format!("{s}(lr=0.1)"))
            .collect(),
        start: None,
        domain: None,
        shape: "2".into(),
        allow_large: false,
    };
    let stop = AtomicBool::new(false);
    let ms: Vec<f64> = (0..210)
        .map(|_| {
            let t = Instant::now();
            let c = lab::compare(&args, 500, false, Some(&stop)).expect("compare");
            std::hint::black_box(c);
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(10)
        .collect();
    println!("compare, six optimizers × 500 steps (cli::lab::compare): median {:.3} ms", median(ms));

    let shapes = [vec![64, 784], vec![64], vec![10, 64], vec![10]];
    let names = ["w1", "b1", "w2", "b2"];
    let tensors: Vec<(&str, Vec<usize>)> = names.iter().copied().zip(shapes.iter().cloned()).collect();
    let layout = optlab::optim::Layout::of(&tensors);
    let mut opt = optlab::optim::OptimizerConfig::parse("adam").unwrap().build::<f32>(&layout);
    let mut p = vec![0.01f32; layout.len()];
    let g = vec![0.001f32; layout.len()];
    let us: Vec<f64> = (0..2100)
        .map(|_| {
            let t = Instant::now();
            opt.step(&mut p, &mut |_: &[f32], out: &mut [f32]| {
                out.copy_from_slice(&g);
                0.0
            });
            t.elapsed().as_secs_f64() * 1e6
        })
        .skip(100)
        .collect();
    println!("adam step, MLP {} parameters, f32 (library): median {:.2} µs", layout.len(), median(us));
}
