//! Using optlab as a library: run Adam on Rosenbrock and tune plain GD on the seminar's
//! sin–cos function. Run with `cargo run --release --example library`.

use optlab::experiment::{compare::compare, tune};
use optlab::objective;
use optlab::optim::OptimizerConfig;

fn main() {
    let f = objective::resolve("rosenbrock").expect("built-in");
    let adam = OptimizerConfig::parse("adam(lr=0.05)").expect("valid spec");

    // Step by step, through the Optimizer trait, on a flat parameter slice.
    let mut opt = adam.build::<f64>(&optlab::optim::Layout::flat(2));
    let mut p = [-1.2, 1.0];
    let mut obj = f.objective();
    for _ in 0..2000 {
        opt.step(&mut p, &mut obj);
    }
    println!("adam(lr=0.05) after 2000 steps: ({:.6}, {:.6}), f = {:.3e}", p[0], p[1], f.value(p[0], p[1]));

    // Or as an experiment that records every point and summarises the run.
    let runs = compare(
        &f,
        &[adam, OptimizerConfig::parse("sgd(lr=1e-3, momentum=0.9)").unwrap()],
        f.start,
        2000,
        Default::default(),
    );
    for r in &runs {
        println!("{:<28} converged at step {:?}", r.label, r.summary.converged_at);
    }

    // Tune gd's learning rate to reach the nearest local minimum of sin-cos from (8, 0.1).
    let g = objective::resolve("sin-cos").unwrap();
    let (target, tuned) =
        tune::tune(&g, &[OptimizerConfig::parse("gd").unwrap()], [8.0, 0.1], &Default::default()).unwrap();
    println!("target {target:?}: gd lr = {:?}, {:?} steps", tuned[0].lr, tuned[0].steps);
}
