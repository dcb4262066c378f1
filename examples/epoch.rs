//! One training epoch of a model with one optimizer (for profiling):
//! `cargo run --release --example epoch [model] [optimizer]`. Uses full MNIST from
//! ../shared/datasets or ./data when present, else the embedded subset.
use optlab::experiment::train::{self, RunSpec, TrainSettings};
use optlab::optim::OptimizerConfig;
use std::sync::atomic::AtomicBool;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = optlab::nn::build(
        args.get(1).map(|s| s.as_str()).unwrap_or("mlp"),
        optlab::nn::Shape::MNIST,
        optlab::limits::Allow::DEFAULT,
    )
    .unwrap();
    let opt = args.get(2).map(|s| s.as_str()).unwrap_or("sgd(lr=0.01)");
    let data = optlab::data::load("mnist", Some(std::path::Path::new("../shared/datasets")), optlab::data::Want::Full)
        .unwrap();
    let run = RunSpec { label: opt.into(), config: OptimizerConfig::parse(opt).unwrap(), seed: 0 };
    let s = TrainSettings { epochs: 1, evaluate: false, ..Default::default() };
    let t = std::time::Instant::now();
    let r = train::train_one(&model, &data, &run, 0, &s, &AtomicBool::new(false), &|_| {});
    println!("{:.3} s, loss {:.4}", t.elapsed().as_secs_f64(), r.epochs[0].train_loss);
}
