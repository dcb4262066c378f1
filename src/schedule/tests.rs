//! Schedulers and clipping: specs read back, errors, torch's learning rates for the options
//! the 2-D golden file does not cover (`tests/data/scheduler_lrs.json`, made by
//! `tests/data/make_scheduler_lrs.py`), clipping arithmetic and the training cadence.

use super::*;
use crate::optim::{GroupHyper, Objective, Optimizer, OptimizerConfig};

fn modifiers(chain: &str) -> Result<Vec<ModifierConfig>, SpecError> {
    let specs = Spec::parse_pipeline(&format!("opt | {chain}"))?;
    let mods = specs[1..].iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    check_chain(&mods)?;
    Ok(mods)
}

fn err(spec: &str) -> String {
    OptimizerConfig::parse(spec).unwrap_err().message
}

#[test]
fn every_schema_is_sound_and_every_canonical_spec_reads_back() {
    for info in SCHEDULERS.iter().chain(CLIPPING) {
        crate::optim::schema::check_schema(info.name, info.params).unwrap();
        assert_eq!(info.is_clipping(), CLIPPING.iter().any(|c| c.name == info.name));
        for key in info.required {
            assert!(info.params.iter().any(|p| p.key == *key), "{}: required {key} is not a key", info.name);
        }
        let spec = format!("sgd(lr=0.1, momentum=0.9) | {}", info.example);
        let c = OptimizerConfig::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let m = &c.modifiers[0];
        assert_eq!(m.name(), info.name);
        let canonical = c.canonical();
        let back = OptimizerConfig::parse(&canonical).unwrap_or_else(|e| panic!("{canonical}: {e}"));
        assert_eq!(back, c, "{canonical}");
        assert_eq!(back.canonical(), canonical);
        // the label reads back too
        let label = OptimizerConfig::parse(&c.label()).unwrap();
        assert_eq!(label, c, "{}", c.label());
        // names match in any case; canonical output uses torch's spelling
        let lower = OptimizerConfig::parse(&spec.to_lowercase()).unwrap();
        assert!(lower.canonical().contains(info.name), "{}", lower.canonical());
    }
}

#[test]
fn canonical_and_label_spell_torch_names() {
    let c = OptimizerConfig::parse(
        "adamw(lr=0.2) | sequentiallr(schedulers=[linearlr(start_factor=0.01, total_iters=20), cosineannealinglr(t_max=180)], milestones=[20])",
    )
    .unwrap();
    assert_eq!(
        c.modifiers[0].canonical(),
        "SequentialLR(schedulers=[LinearLR(start_factor=0.01, end_factor=1, total_iters=20), CosineAnnealingLR(T_max=180, eta_min=0)], milestones=[20], every=\"step\")"
    );
    assert_eq!(
        c.modifiers[0].label(),
        "SequentialLR(schedulers=[LinearLR(start_factor=0.01, total_iters=20), CosineAnnealingLR(T_max=180)], milestones=[20])"
    );
    let c = OptimizerConfig::parse(
        "sgd(lr=0.1, momentum=0.9) | MultiStepLR(milestones=[20, 60], gamma=0.3) | clip_grad_norm(max_norm=1.0)",
    )
    .unwrap();
    assert_eq!(
        c.label(),
        "sgd(lr=0.1, momentum=0.9) | MultiStepLR(milestones=[20, 60], gamma=0.3) | clip_grad_norm(max_norm=1)"
    );
    assert_eq!(
        c.canonical(),
        "sgd(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=false, maximize=false) | MultiStepLR(milestones=[20, 60], gamma=0.3, every=\"step\") | clip_grad_norm(max_norm=1, norm_type=2, error_if_nonfinite=false)"
    );
    let c = OptimizerConfig::parse("adam | ConstantLR | clip_grad_norm(1, norm_type=inf)").unwrap();
    assert_eq!(c.label(), "adam(lr=1e-3) | ConstantLR | clip_grad_norm(max_norm=1, norm_type=inf)");
    assert_eq!(OptimizerConfig::parse(&c.canonical()).unwrap(), c);
    let c = OptimizerConfig::parse("sgd | StepLR(10, every=\"epoch\")").unwrap();
    assert_eq!(c.modifiers[0].every(), Every::Epoch);
    assert_eq!(c.modifiers[0].label(), "StepLR(step_size=10, every=\"epoch\")");
}

#[test]
fn bad_modifiers_give_one_line_errors_that_say_what_to_do() {
    let cases = [
        ("sgd | Cosine(T_max=10)", "unknown scheduler or clipping rule 'cosine'"),
        ("sgd | adam", "'adam' is an optimizer"),
        ("sgd | CosineAnnealingLR", "CosineAnnealingLR needs T_max (e.g. CosineAnnealingLR(T_max=100"),
        ("sgd | CosineAnnealingLR(T_max=0)", "invalid T_max value: T_max=0 (use an integer >= 1)"),
        ("sgd | CosineAnnealingLR(T_max=10.5)", "T_max takes an integer"),
        ("sgd | StepLR(step_size=5, gama=0.5)", "unknown key 'gama' for StepLR"),
        ("sgd | StepLR(step_size=5, every=\"batch\")", "every takes one of \"step\", \"epoch\""),
        ("sgd | MultiStepLR(milestones=[10, 2.5])", "invalid milestone 2.5"),
        ("sgd | ConstantLR(factor=1.5)", "invalid factor 1.5"),
        ("sgd | LinearLR(start_factor=0)", "invalid start_factor 0"),
        ("sgd | LinearLR(end_factor=2)", "invalid end_factor value"),
        ("sgd | ExponentialLR(gamma=-1)", "invalid gamma value"),
        ("sgd | ExponentialLR", "ExponentialLR needs gamma"),
        ("sgd | CyclicLR(max_lr=0.1)", "CyclicLR needs base_lr"),
        ("sgd | CyclicLR(base_lr=0.01, max_lr=0.1, mode=\"sine\")", "mode takes one of"),
        ("sgd | CyclicLR(base_lr=0.01, max_lr=0.1, step_size_down=0)", "use a whole number >= 1, or None"),
        ("sgd | CyclicLR(base_lr=0.01, max_lr=0.1, max_momentum=1.2)", "invalid momentum 1.2"),
        ("adagrad | CyclicLR(base_lr=0.01, max_lr=0.1)", "set cycle_momentum=false"),
        ("adagrad | OneCycleLR(max_lr=0.1, total_steps=100)", "adagrad has neither momentum nor betas"),
        ("sgd | OneCycleLR(max_lr=0.1)", "OneCycleLR needs total_steps, or epochs and steps_per_epoch"),
        ("sgd | OneCycleLR(max_lr=0.1, epochs=3)", "OneCycleLR needs total_steps"),
        ("sgd | OneCycleLR(max_lr=0.1, total_steps=100, pct_start=1.5)", "invalid pct_start value"),
        ("sgd | OneCycleLR(max_lr=0.1, total_steps=100, anneal_strategy=\"cosine\")", "anneal_strategy takes one of"),
        ("sgd | ReduceLROnPlateau(factor=1.0)", "invalid factor value: factor=1 (use in [0, 1))"),
        ("sgd | ReduceLROnPlateau(mode=\"maximum\")", "mode takes one of \"min\", \"max\""),
        ("sgd | SequentialLR(schedulers=[ConstantLR, ExponentialLR(gamma=0.9)])", "SequentialLR needs milestones"),
        ("sgd | SequentialLR(schedulers=[ConstantLR, ExponentialLR(gamma=0.9)], milestones=[5, 10])", "one milestone fewer than schedulers"),
        ("sgd | SequentialLR(schedulers=[], milestones=[])", "at least one scheduler"),
        ("sgd | SequentialLR(schedulers=[ConstantLR, StepLR(2), ExponentialLR(0.9)], milestones=[10, 5])", "must be increasing"),
        ("sgd | SequentialLR(schedulers=[ConstantLR, ReduceLROnPlateau], milestones=[5])", "cannot hold ReduceLROnPlateau"),
        ("sgd | SequentialLR(schedulers=[ConstantLR, clip_grad_norm(1)], milestones=[5])", "put it after them with '|'"),
        (
            "sgd | SequentialLR(schedulers=[ConstantLR, SequentialLR(schedulers=[ConstantLR], milestones=[])], milestones=[5])",
            "cannot hold another SequentialLR",
        ),
        ("sgd | SequentialLR(schedulers=[ConstantLR(every=\"epoch\"), ConstantLR], milestones=[5])", "every applies to the whole SequentialLR"),
        ("sgd | SequentialLR(schedulers=[ConstantLR, LinearLR(total_iters=0)], milestones=[5])", "needs total_iters >= 1"),
        ("sgd | SequentialLR(schedulers=[StepLR], milestones=[])", "StepLR needs step_size"),
        ("sgd | SequentialLR(schedulers=[1, 2], milestones=[1])", "schedulers takes a list of schedulers"),
        ("sgd | clip_grad_norm", "clip_grad_norm needs max_norm"),
        ("sgd | clip_grad_norm(max_norm=-1)", "invalid max_norm value"),
        ("sgd | clip_grad_norm(1, norm_type=0)", "use a value > 0, or inf"),
        ("sgd | clip_grad_norm(1, norm_type=-inf)", "use a value > 0"),
        ("sgd | clip_grad_value(clip_value=-0.5)", "invalid clip_value value"),
        ("sgd | clip_grad_norm(1) | clip_grad_value(1)", "at most one clipping rule per spec"),
    ];
    for (spec, want) in cases {
        let e = err(spec);
        assert!(e.contains(want), "{spec}: {e}");
        assert!(!e.contains('\n'), "{spec}: {e}");
    }
    // errors point at the modifier
    let text = "sgd | clip_grad_norm(1) | clip_grad_value(1)";
    let e = OptimizerConfig::parse(text).unwrap_err();
    assert_eq!(&text[e.span.clone()], "clip_grad_value(1)");
    let text = "sgd | CosineAnnealingLR(T_max=0)";
    let e = OptimizerConfig::parse(text).unwrap_err();
    assert_eq!(&text[e.span.clone()], "T_max=0");
    // momentum cycling is fine where there is a momentum, or when off
    OptimizerConfig::parse("adagrad | CyclicLR(base_lr=0.01, max_lr=0.1, cycle_momentum=false)").unwrap();
    OptimizerConfig::parse("rmsprop | OneCycleLR(max_lr=0.1, total_steps=100)").unwrap();
    OptimizerConfig::parse("adagrad | SequentialLR(schedulers=[ConstantLR, StepLR(3)], milestones=[4])").unwrap();
    assert!(err(
        "adagrad | SequentialLR(schedulers=[ConstantLR, OneCycleLR(max_lr=1, total_steps=9)], milestones=[4])"
    )
    .contains("OneCycleLR cycles the momentum"));
}

/// An optimizer that only holds groups (lr, momentum) and returns the objective's value.
struct Groupwise {
    groups: Vec<(f64, f64)>,
    grad: Vec<f64>,
}

impl Optimizer<f64> for Groupwise {
    fn step(&mut self, params: &mut [f64], objective: &mut dyn Objective<f64>) -> f64 {
        self.grad.resize(params.len(), 0.0);
        objective.eval(params, &mut self.grad)
    }
    fn group_count(&self) -> usize {
        self.groups.len()
    }
    fn group(&mut self, i: usize) -> GroupHyper<'_> {
        let (lr, m) = &mut self.groups[i];
        GroupHyper { lr, momentum: Some(m) }
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * b.abs()
}

#[test]
fn learning_rates_and_momenta_match_torch_for_options_beyond_the_2d_golden_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scheduler_lrs.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("scheduler_lrs.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, doc["case_count"].as_u64().unwrap());
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let spec = case["spec"].as_str().unwrap();
        let mods = modifiers(spec).unwrap_or_else(|e| panic!("{id}: {spec}: {e}"));
        let groups = case["groups"].as_array().unwrap().iter().map(|g| (f(&g["lr"]), f(&g["momentum"]))).collect();
        let mut opt = wrap(Box::new(Groupwise { groups, grad: Vec::new() }), &mods);
        let metrics: Vec<f64> = case["metrics"].as_array().map_or(vec![], |m| m.iter().map(f).collect());
        let (lrs, momenta) = (case["lrs"].as_array().unwrap(), case["momenta"].as_array().unwrap());
        let mut p = [0.0, 0.0];
        'steps: for (k, (want_lr, want_m)) in lrs.iter().zip(momenta).enumerate() {
            for (i, (wl, wm)) in want_lr.as_array().unwrap().iter().zip(want_m.as_array().unwrap()).enumerate() {
                let (lr, m) = {
                    let g = opt.group(i);
                    (*g.lr, *g.momentum.unwrap())
                };
                if !close(lr, f(wl)) || !close(m, f(wm)) {
                    failures.push(format!(
                        "{id}: {spec}: step {k}, group {i}: lr {lr:e} momentum {m} vs torch {} {}",
                        f(wl),
                        f(wm)
                    ));
                    break 'steps;
                }
            }
            let loss = metrics.get(k).copied().unwrap_or(0.0);
            opt.step(&mut p, &mut |_: &[f64], _: &mut [f64]| loss);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn clip_grad_norm_scales_by_max_norm_over_the_norm_plus_1e_6() {
    let clip = Clip::Norm { max_norm: 1.0, norm_type: 2.0, error_if_nonfinite: false };
    let mut g = [3.0, 4.0];
    assert!(clip.apply(&mut g, &[]));
    let c = 1.0 / (5.0 + 1e-6);
    assert_eq!(g, [3.0 * c, 4.0 * c]);
    // below max_norm: multiplied by 1
    let mut g = [0.3, 0.4];
    clip.apply(&mut g, &[]);
    assert_eq!(g, [0.3, 0.4]);
    // the norm of the tensors' norms
    let mut g = [3.0f64, 4.0, 12.0];
    clip.apply(&mut g, &[0..2, 2..3]);
    let total = (5.0f64 * 5.0 + 12.0 * 12.0).sqrt();
    assert_eq!(g[2], 12.0 * (1.0 / (total + 1e-6)));
    // inf norm: the largest |g|
    let clip = Clip::Norm { max_norm: 2.0, norm_type: f64::INFINITY, error_if_nonfinite: false };
    let mut g = [-8.0f32, 1.0];
    clip.apply(&mut g, &[]);
    let c = 2.0f32 / (8.0 + 1e-6f32);
    assert_eq!(g, [-8.0 * c, c]);
    // p = 1
    let clip = Clip::Norm { max_norm: 1.0, norm_type: 1.0, error_if_nonfinite: false };
    let mut g = [-1.0, 3.0];
    clip.apply(&mut g, &[]);
    assert_eq!(g, [-1.0 / (4.0 + 1e-6), 3.0 / (4.0 + 1e-6)]);
    // a non-finite norm: torch raises with error_if_nonfinite, otherwise scales by 0
    let mut g = [f64::INFINITY, 1.0];
    Clip::Norm { max_norm: 1.0, norm_type: 2.0, error_if_nonfinite: false }.apply(&mut g, &[]);
    assert!(g[0].is_nan() && g[1] == 0.0);
    let mut g = [f64::INFINITY, 1.0];
    assert!(!Clip::Norm { max_norm: 1.0, norm_type: 2.0, error_if_nonfinite: true }.apply(&mut g, &[]));
    // value clipping clamps every component
    let mut g = [-3.0, 0.2, 7.0, f64::NAN];
    Clip::Value(0.5).apply(&mut g, &[]);
    assert_eq!(&g[..3], &[-0.5, 0.2, 0.5]);
    assert!(g[3].is_nan());
}

#[test]
fn clipping_applies_to_the_gradient_the_optimizer_sees_and_to_the_record() {
    let cfg = OptimizerConfig::parse("sgd(lr=0.1) | clip_grad_value(clip_value=0.5)").unwrap();
    let mut opt = cfg.build::<f64>(&Layout::flat(2));
    let mut p = [1.0, 1.0];
    opt.step(&mut p, &mut |_: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&[10.0, -0.25]);
        0.0
    });
    assert_eq!(p, [1.0 - 0.1 * 0.5, 1.0 + 0.1 * 0.25]);
    let mut g = [10.0, -0.25];
    clip_recorded(&cfg.modifiers, &mut g);
    assert_eq!(g, [0.5, -0.25]);
    // error_if_nonfinite: the step's loss and parameters become NaN (the run diverges)
    let cfg = OptimizerConfig::parse("sgd(lr=0.1) | clip_grad_norm(1, error_if_nonfinite=true)").unwrap();
    let mut opt = cfg.build::<f64>(&Layout::flat(2));
    let loss = opt.step(&mut p, &mut |_: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&[f64::INFINITY, 0.0]);
        1.0
    });
    assert!(loss.is_nan() && p[0].is_nan());
}

#[test]
fn in_training_schedulers_step_per_batch_or_per_epoch_and_plateau_on_the_epoch_metric() {
    let cfg = OptimizerConfig::parse(
        "sgd(lr=1) | ExponentialLR(gamma=0.5) | StepLR(step_size=1, gamma=0.1, every=\"epoch\") | ReduceLROnPlateau(patience=0, factor=0.5)",
    )
    .unwrap();
    let mut opt = cfg.build_with::<f32>(&Layout::flat(2), Cadence::Training);
    let mut p = [0f32; 2];
    let lr = |o: &mut Box<dyn Optimizer<f32>>| *o.group(0).lr;
    for _ in 0..3 {
        opt.step(&mut p, &mut |_: &[f32], _: &mut [f32]| 1.0f32);
    }
    assert_eq!(lr(&mut opt), 0.125); // three batches of ExponentialLR only
    opt.end_epoch(Some(2.0)); // StepLR ×0.1; the first metric sets the plateau's best
    assert!(close(lr(&mut opt), 0.0125));
    opt.end_epoch(Some(3.0)); // StepLR ×0.1, and the metric got worse: ×0.5
    assert!(close(lr(&mut opt), 0.000625));
    // no test loss: the epoch's mean training loss
    opt.step(&mut p, &mut |_: &[f32], _: &mut [f32]| 1.0f32);
    opt.end_epoch(None); // 1.0 < 2.0: an improvement, no reduction
    assert!(close(lr(&mut opt), 0.000625 * 0.5 * 0.1));
    // the same spec in the lab steps every scheduler after every step, plateau on the loss
    let mut opt = cfg.build::<f64>(&Layout::flat(2));
    let mut p = [0f64; 2];
    opt.step(&mut p, &mut |_: &[f64], _: &mut [f64]| 1.0);
    assert!(close(*opt.group(0).lr, 0.05));
    opt.step(&mut p, &mut |_: &[f64], _: &mut [f64]| 1.0);
    assert!(close(*opt.group(0).lr, 0.05 * 0.05 * 0.5));
}

#[test]
fn the_wrapper_delegates_groups_and_reports_and_onecycle_sets_the_start() {
    let cfg = OptimizerConfig::parse("adam(lr=0.5) | OneCycleLR(max_lr=0.4, total_steps=10)").unwrap();
    let mut opt = cfg.build::<f64>(&Layout::flat(2));
    assert_eq!(opt.group_count(), 1);
    let g = opt.group(0);
    assert!(close(*g.lr, 0.4 / 25.0));
    assert!(close(*g.momentum.unwrap(), 0.95));
    let mut out = [0.0; 2];
    opt.report(&[1.0, 2.0], &mut out);
    assert_eq!(out, [1.0, 2.0]);
    // past total_steps the rate stays where it ended (torch raises)
    let mut p = [0.0; 2];
    for _ in 0..12 {
        opt.step(&mut p, &mut |_: &[f64], g: &mut [f64]| {
            g.fill(0.0);
            0.0
        });
    }
    let last = *opt.group(0).lr;
    opt.step(&mut p, &mut |_: &[f64], g: &mut [f64]| {
        g.fill(0.0);
        0.0
    });
    assert_eq!(*opt.group(0).lr, last);
}
