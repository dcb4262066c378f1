use optlab::experiment::run_trajectory;
use optlab::objective;
use optlab::optim::OptimizerConfig;
fn main() {
    let t = std::time::Instant::now();
    let f = objective::builtin("sin-cos").unwrap().function();
    println!(
        "sin-cos minima {} in {:?}: {:?}",
        f.minima().len(),
        t.elapsed(),
        &f.minima()[..4]
    );
    let t = std::time::Instant::now();
    let f2 = objective::builtin("sin-cos-sq").unwrap().function();
    println!(
        "sin-cos-sq minima {} in {:?}",
        f2.minima().len(),
        t.elapsed()
    );
    let q = objective::builtin("quadratic").unwrap().function();
    let tr = run_trajectory(
        &q,
        &OptimizerConfig::parse("sgd(lr=0.1)").unwrap(),
        [8.0, 0.1],
        3,
    );
    for p in &tr.points {
        println!("{:?} {:e}", p, p.loss);
    }
}
#[allow(dead_code)]
fn cmp() {}
