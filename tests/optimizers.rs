//! Promises about the optimizers: spec parsing and PyTorch's validation errors,
//! convergence from fixed starts, and how the seminar's variants relate to torch's.

use optlab::objective;
use optlab::optim::{Objective, OptimizerConfig};

fn err(spec: &str) -> String {
    OptimizerConfig::parse(spec).unwrap_err().to_string()
}

#[test]
fn bad_specs_give_one_line_errors_naming_the_offending_part() {
    assert!(err("adamm").contains("unknown optimizer 'adamm'"));
    assert!(err("adam(lrr=0.1)").contains("unknown key 'lrr' for adam"));
    assert!(err("adam(lr=-1)").contains("invalid learning rate: lr=-1"));
    assert!(err("adam(betas=(0.9, 1.0))").contains("invalid beta parameter at index 1"));
    assert!(err("adam(betas=(-0.1, 0.9))").contains("index 0"));
    assert!(err("sgd(nesterov=true)").contains("Nesterov momentum requires a momentum and zero dampening"));
    assert!(err("sgd(momentum=0.9, dampening=0.1, nesterov=true)").contains("zero dampening"));
    assert!(err("adam(amsgrad=maybe)").contains("amsgrad takes true or false"));
    assert!(err("adam(lr=0.1").contains("expected ',' or ')'"));
    assert!(err("adam(lr=true)").contains("lr takes a number"));
    assert!(err("rprop(etas=(1.5, 1.2))").contains("invalid eta values"));
    assert!(err("adadelta(rho=1.5)").contains("invalid rho value"));
    for spec in ["adamm", "adam(lr=-1)", "adam(lr=0.1"] {
        assert!(!err(spec).contains('\n'), "{spec}");
    }
}

#[test]
fn specs_take_pytorch_keywords_and_defaults() {
    let c = OptimizerConfig::parse("adam(lr=0.1, betas=(0.8, 0.99), amsgrad=true)").unwrap();
    assert_eq!(
        c.canonical(),
        "adam(lr=0.1, betas=(0.8, 0.99), eps=1e-8, weight_decay=0, amsgrad=true, maximize=false, decoupled_weight_decay=false)"
    );
    assert_eq!(OptimizerConfig::parse("sgd").unwrap().lr(), 1e-3);
    assert_eq!(
        OptimizerConfig::parse("adamw").unwrap().canonical(),
        "adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=false, maximize=false)"
    );
    assert_eq!(
        OptimizerConfig::parse("sgd(lr=0.1, momentum=0.9, nesterov=true)").unwrap().label(),
        "sgd(lr=0.1, momentum=0.9, nesterov=true)"
    );
}

fn run(spec: &str, f: &str, start: [f64; 2], steps: usize) -> [f64; 2] {
    let f = objective::builtin(f).unwrap().function();
    let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f64>(&optlab::optim::Layout::flat(2));
    let mut p = start;
    let mut obj = f.objective();
    for _ in 0..steps {
        opt.step(&mut p, &mut obj);
    }
    p
}

#[test]
fn every_optimizer_converges_on_the_quadratic_from_8_0_1() {
    let specs = [
        "gd(lr=0.1)",
        "momentum(lr=0.05)",
        "nag(lr=0.05)",
        "sgd(lr=0.1)",
        "sgd(lr=0.05, momentum=0.9, nesterov=true)",
        "adagrad(lr=1.0)",
        "adadelta(lr=1.0)",
        "adam(lr=0.1)",
        "adam(lr=0.1, amsgrad=true)",
        "adamw(lr=0.1, weight_decay=0)",
        "rmsprop(lr=0.001, centered=true)",
        "rmsprop(lr=0.001, momentum=0.5)",
        "nadam(lr=0.01)",
        "radam(lr=0.01)",
        "adamax(lr=0.1)",
        "rprop(lr=0.1)",
    ];
    for spec in specs {
        let p = run(spec, "quadratic", [8.0, 0.1], 20_000);
        assert!(p[0].hypot(p[1]) < 1e-3, "{spec} ended at {p:?}");
    }
}

#[test]
fn gd_is_bit_identical_to_sgd_without_momentum() {
    for f in ["sin-cos", "rosenbrock"] {
        assert_eq!(run("gd(lr=0.001)", f, [0.5, 0.1], 200), run("sgd(lr=0.001)", f, [0.5, 0.1], 200), "{f}");
    }
}

#[test]
fn seminar_momentum_follows_sgd_momentum_up_to_rounding() {
    let a = run("momentum(lr=0.001, gamma=0.9)", "rosenbrock", [-1.2, 1.0], 300);
    let b = run("sgd(lr=0.001, momentum=0.9)", "rosenbrock", [-1.2, 1.0], 300);
    assert!((a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9, "{a:?} vs {b:?}");
}

#[test]
fn seminar_nag_look_ahead_point_is_torch_nesterov_iterate() {
    // torch's Nesterov SGD iterates φ_k are the seminar NAG's look-ahead points θ_k − γ·m_k.
    let f = objective::builtin("sin-cos").unwrap().function();
    let (lr, gamma) = (0.05, 0.9);
    let mut nag = OptimizerConfig::parse(&format!("nag(lr={lr}, gamma={gamma})"))
        .unwrap()
        .build::<f64>(&optlab::optim::Layout::flat(2));
    let mut sgd = OptimizerConfig::parse(&format!("sgd(lr={lr}, momentum={gamma}, nesterov=true)"))
        .unwrap()
        .build::<f64>(&optlab::optim::Layout::flat(2));
    let (mut theta, mut phi) = ([8.0, 0.1], [8.0, 0.1]);
    let mut prev = theta;
    let mut obj = f.objective();
    for k in 0..100 {
        nag.step(&mut theta, &mut obj);
        sgd.step(&mut phi, &mut obj);
        // m_k = θ_{k−1} − θ_k, so the look-ahead point is θ_k − γ·(θ_{k−1} − θ_k)
        let ahead = [theta[0] - gamma * (prev[0] - theta[0]), theta[1] - gamma * (prev[1] - theta[1])];
        if k > 0 {
            assert!(
                (ahead[0] - phi[0]).abs() < 1e-9 && (ahead[1] - phi[1]).abs() < 1e-9,
                "step {k}: {ahead:?} vs {phi:?}"
            );
        }
        prev = theta;
    }
}

#[test]
fn nag_evaluates_the_gradient_at_the_look_ahead_point() {
    let mut seen: Vec<[f64; 2]> = Vec::new();
    let mut obj = |p: &[f64], g: &mut [f64]| {
        seen.push([p[0], p[1]]);
        g[0] = 2.0 * p[0];
        g[1] = 2.0 * p[1];
        p[0] * p[0] + p[1] * p[1]
    };
    let mut nag =
        OptimizerConfig::parse("nag(lr=0.1, gamma=0.5)").unwrap().build::<f64>(&optlab::optim::Layout::flat(2));
    let mut p = [1.0, 0.0];
    nag.step(&mut p, &mut obj as &mut dyn Objective<f64>); // m = 0.2, θ = 0.8
    nag.step(&mut p, &mut obj as &mut dyn Objective<f64>); // look-ahead 0.8 − 0.5·0.2 = 0.7
    assert_eq!(seen[0], [1.0, 0.0]);
    assert!((seen[1][0] - 0.7).abs() < 1e-15, "{:?}", seen[1]);
}

#[test]
fn maximize_climbs_instead() {
    let p = run("adam(lr=0.1, maximize=true)", "quadratic", [1.0, 1.0], 10);
    assert!(p[0] > 1.0 && p[1] > 1.0);
}
