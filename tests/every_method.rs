//! Every registered method works in every experiment: compare, tune, map, sweep-lr and
//! training, through the same library calls the commands make, with small settings. Nothing
//! here lists methods by hand.

use optlab::experiment::compare::compare;
use optlab::experiment::map::{map, MapOptions, Outcome};
use optlab::experiment::sweep::sweep;
use optlab::experiment::train::{train, RunSpec, RunStatus, TrainSettings};
use optlab::experiment::tune::{tune, TuneOptions};
use optlab::experiment::Status;
use optlab::objective;
use optlab::optim::{OptimizerConfig, Shape2, METHODS};
use std::sync::atomic::AtomicBool;

fn all() -> Vec<OptimizerConfig> {
    METHODS.iter().map(|m| OptimizerConfig::defaults(m)).collect()
}

#[test]
fn every_method_runs_in_compare_with_each_parameter_shape() {
    let f = objective::builtin("quadratic").unwrap().function();
    for shape in [Shape2::Vector, Shape2::Row, Shape2::Column] {
        let runs = compare(&f, &all(), [3.0, -2.0], 30, shape);
        for r in &runs {
            assert_eq!(r.trajectory.status, Status::Completed, "{} ({shape:?})", r.label);
            assert_eq!(r.trajectory.points.len(), 31, "{}", r.label);
            let last = r.trajectory.points.last().unwrap();
            assert!(last.loss < 13.0, "{} ({shape:?}) did not descend: {}", r.label, last.loss);
            // evaluations are counted: at least one per step
            assert!(r.summary.evals >= 30, "{}: {} evals", r.label, r.summary.evals);
        }
    }
}

#[test]
fn every_method_can_be_tuned_and_swept() {
    let f = objective::builtin("quadratic").unwrap().function();
    let configs = all();
    let (_, tuned) =
        tune(&f, &configs, [3.0, -2.0], &TuneOptions { steps: 300, shape: Shape2::Row, ..Default::default() }).unwrap();
    assert_eq!(tuned.len(), configs.len());
    let found = tuned.iter().filter(|t| t.lr.is_some()).count();
    assert!(found * 10 >= configs.len() * 8, "only {found} of {} methods found a working lr", configs.len());
    let named: Vec<(String, OptimizerConfig)> = configs.iter().map(|c| (c.label(), c.clone())).collect();
    let pts = sweep(&f, &named, [3.0, -2.0], 50, &[1e-3, 1e-2, 1e-1], None, Shape2::Vector).unwrap();
    assert_eq!(pts.len(), 3 * configs.len());
    assert!(pts.iter().all(|p| p.final_loss.is_finite() || p.diverged_at.is_some()));
}

#[test]
fn every_method_draws_a_basin_map_batched_or_start_by_start() {
    let f = objective::builtin("himmelblau").unwrap().function();
    let named: Vec<(String, OptimizerConfig)> =
        all().into_iter().map(|c| (c.label(), c.with_lr(if c.name() == "lbfgs" { 1.0 } else { 0.01 }))).collect();
    let o = MapOptions { grid: 6, steps: 40, domain: f.domain, shape: Shape2::Vector };
    let maps = map(&f, &named, &o);
    assert_eq!(maps.len(), named.len());
    for m in &maps {
        assert_eq!(m.cells.len(), 36, "{}", m.label);
        // something happened: not every start diverged
        assert!(m.cells.iter().any(|c| !matches!(c, Outcome::Diverged { .. })), "{}", m.label);
    }
}

#[test]
fn every_method_trains_the_mlp_for_a_few_steps() {
    let model = optlab::nn::build("mlp", optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
    let data = optlab::data::embedded_mnist().unwrap();
    let runs: Vec<RunSpec> = all()
        .into_iter()
        .map(|c| {
            // networks want small steps; lr-free and line-search methods keep theirs
            let c =
                if c.method.closure || c.name() == "prodigy" || c.name() == "adadelta" { c } else { c.with_lr(1e-3) };
            RunSpec { label: c.label(), config: c, seed: 0 }
        })
        .collect();
    let s =
        TrainSettings { epochs: 1, batch_size: 32, limit_train: Some(96), limit_test: Some(64), ..Default::default() };
    let results = train(&model, &data, &runs, &s, &AtomicBool::new(false), &|_| {});
    for r in &results {
        assert_eq!(r.status, RunStatus::Completed, "{}", r.label);
        assert_eq!(r.step_losses.len(), 3, "{}", r.label);
        assert!(r.epochs[0].test_loss.is_some_and(|l| l.is_finite()), "{}", r.label);
    }
}
