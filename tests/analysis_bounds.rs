//! The 2-D analysis is bounded: the minima search, descents and tuning's target finish
//! within their budgets on any expression, recognise flat and constant functions, functions
//! of one variable, degenerate minima, flat tails and saddles, and give the same minima on
//! every run. Time bounds here are generous ("does not hang"), not benchmarks.

use optlab::experiment::map::{map, MapOptions, Outcome};
use optlab::experiment::tune::{self, Target};
use optlab::objective::minima::{self, Budget, Descent};
use optlab::objective::{self, Function};
use optlab::optim::OptimizerConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::time::{Duration, Instant};

const D: [f64; 4] = [-10.0, 10.0, -10.0, 10.0];

fn expr(src: &str) -> Function {
    Function::from_expr(src, D, [8.0, 0.1]).unwrap()
}

/// The minima search without the time limit: the evaluation budget alone, deterministic.
fn search(f: &Function) -> minima::Search {
    minima::search_in_domain(f, 40, &mut Budget::new(minima::SEARCH_WORK, None))
}

fn near(a: [f64; 2], b: [f64; 2], tol: f64) -> bool {
    (a[0] - b[0]).hypot(a[1] - b[1]) <= tol
}

fn within<T>(limit: f64, what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(t.elapsed().as_secs_f64() < limit, "{what} took {:?}", t.elapsed());
    out
}

#[test]
fn functions_of_one_variable_have_their_minima_on_lines_found_at_once() {
    for (src, xs) in [
        ("x^2+5", vec![0.0]),
        (
            "cos(x)",
            vec![-std::f64::consts::PI, std::f64::consts::PI, -3.0 * std::f64::consts::PI, 3.0 * std::f64::consts::PI],
        ),
    ] {
        let f = expr(src);
        let s = within(5.0, src, || search(&f));
        assert!(s.note.is_none(), "{src}: {:?}", s.note);
        assert_eq!(s.minima.len(), xs.len(), "{src}: {:?}", s.minima);
        for x in xs {
            assert!(
                s.minima.iter().any(|m| (m[0] - x).abs() < 1e-6 && m[1] == 0.0),
                "{src}: x = {x} missing: {:?}",
                s.minima
            );
        }
        // the descent from the start ends on the line, at the start's height
        let m = f.basin_minimum([8.0, 0.1]).expect(src);
        assert!((m[1] - 0.1).abs() < 1e-12, "{src}: {m:?}");
    }
    let f = expr("sin(y+1)");
    let s = within(5.0, "sin(y+1)", || search(&f));
    // y + 1 = -π/2 + 2πk: four of them in [-10, 10]
    let k = |y: f64| (y + 1.0 + std::f64::consts::FRAC_PI_2) / std::f64::consts::TAU;
    assert!(s.minima.iter().all(|m| m[0] == 0.0 && (k(m[1]) - k(m[1]).round()).abs() < 1e-9), "{:?}", s.minima);
    assert_eq!(s.minima.len(), 4, "{:?}", s.minima);
}

#[test]
fn constant_and_flat_functions_have_no_minimum_and_say_so() {
    for src in ["5", "x - x", "0*y", "exp(-1000)"] {
        let f = expr(src);
        assert!(within(5.0, src, || f.minima().is_empty()), "{src}");
        match tune::target(&f, f.start) {
            Target::None { reason } => assert!(reason.contains("flat"), "{src}: {reason}"),
            t => panic!("{src}: {t:?}"),
        }
    }
    // a flat far tail: -exp(-r²) is flat to rounding at (8, 0.1), and its minimum is found
    let f = expr("-exp(-x^2-y^2)");
    assert!(matches!(minima::descend(&f, f.start, minima::step_scale(&f)), Descent::Flat { .. }));
    assert!(f.minima().iter().any(|m| near(*m, [0.0, 0.0], 1e-6)), "{:?}", f.minima());
}

#[test]
fn flat_tails_and_degenerate_minima_are_reached() {
    let f = expr("tanh(x)^2+tanh(y)^2");
    let s = within(5.0, "tanh", || search(&f));
    assert!(s.note.is_none(), "{:?}", s.note);
    assert_eq!(s.minima.len(), 1);
    assert!(near(s.minima[0], [0.0, 0.0], 1e-6));
    assert!(near(f.basin_minimum([8.0, 0.1]).unwrap(), [0.0, 0.0], 1e-6));
    assert!(near(f.basin_minimum([-9.5, 7.0]).unwrap(), [0.0, 0.0], 1e-6));
    // x⁴ + y⁴ + 3: a minimum whose Hessian vanishes, at a non-zero value
    let f = expr("x^4+y^4+3");
    let s = within(5.0, "quartic", || search(&f));
    assert_eq!(s.minima.len(), 1, "{:?}", s.minima);
    assert!(near(s.minima[0], [0.0, 0.0], 1e-4), "{:?}", s.minima);
    // a kink: the descent reports it as a minimum, the search lists smooth minima only
    let f = expr("abs(x-1)+abs(y+2)");
    assert!(matches!(minima::descend(&f, [5.0, 5.0], minima::step_scale(&f)), Descent::Kink { .. }));
    assert!(near(f.basin_minimum([5.0, 5.0]).unwrap(), [1.0, -2.0], 1e-9));
}

#[test]
fn saddles_end_quickly_as_saddles_or_unbounded() {
    let f = expr("x^2/10 - y^2/10");
    assert!(!f.bounded_below);
    // exactly on the saddle's stable line: a stationary point, not a minimum
    let d = within(2.0, "saddle", || minima::descend(&f, [8.0, 0.0], minima::step_scale(&f)));
    assert!(matches!(d, Descent::Stationary { point, .. } if near(point, [0.0, 0.0], 1e-9)), "{d:?}");
    for src in ["x^3-3*x*y^2", "x^2 - y^4", "x^3 + y^2"] {
        let f = expr(src);
        assert!(within(5.0, src, || search(&f)).minima.is_empty(), "{src}");
        let p = minima::polish_in(&f, [0.0, 0.0], &mut Budget::unlimited(), true);
        assert!(matches!(p, Descent::Stationary { .. }), "{src}: {p:?}");
    }
}

#[test]
fn the_beale_formula_finds_the_builtin_minimum_within_the_budget() {
    let f = expr("(1.5-x+x*y)^2+(2.25-x+x*y^2)^2+(2.625-x+x*y^3)^2");
    let s = within(5.0, "beale", || search(&f));
    assert!(s.note.is_none(), "{:?}", s.note);
    assert!(s.minima.iter().any(|m| near(*m, [3.0, 0.5], 1e-6)), "{:?}", s.minima);
}

#[test]
fn tune_finds_the_minimum_of_a_start_far_outside_the_domain() {
    let f = expr("x^2+y^2");
    for start in [[2000.0, 0.0], [-1e6, 3e5], [0.0, 1e12]] {
        match within(2.0, "far start", || tune::target(&f, start)) {
            Target::Minimum { point, .. } => assert!(near(point, [0.0, 0.0], 1e-9), "{start:?}: {point:?}"),
            t => panic!("{start:?}: {t:?}"),
        }
    }
    // and a function that does decrease without bound still says so
    assert!(matches!(tune::target(&expr("x"), [2000.0, 0.0]), Target::None { .. }));
}

#[test]
fn the_search_gives_the_same_minima_every_time() {
    for src in ["x^2*sin(x)/10 + y^2*cos(y)/10", "sin(3*x)*cos(2*y) + 0.01*(x^2+y^2)", "tanh(x)^2+tanh(y)^2"] {
        let (a, b) = (search(&expr(src)), search(&expr(src)));
        assert_eq!(a.minima, b.minima, "{src}");
        assert_eq!(a.evals, b.evals, "{src}");
    }
    // the typed sin-cos finds exactly the built-in's minima
    let b = objective::builtin("sin-cos").unwrap().function();
    let e = Function::from_expr("x**2/10*sin(x) + y**2/10*cos(y)", b.domain, b.start).unwrap();
    assert_eq!(b.minima(), e.minima());
}

#[test]
fn a_search_cut_short_says_what_it_skipped() {
    let f = expr("sin(3*x)*cos(2*y) + 0.01*(x^2+y^2)");
    let s = within(5.0, "small budget", || minima::search_in_domain(&f, 40, &mut Budget::new(200_000, None)));
    let note = s.note.expect("a note");
    assert!(note.starts_with("minima search stopped after") && note.contains(" of 1,600 starts"), "{note}");
    assert!(s.starts_done < s.starts && !s.minima.is_empty(), "{note}");
    // starts are visited coarse to fine: what was found is spread over the domain
    let xs: Vec<f64> = s.minima.iter().map(|m| m[0]).collect();
    assert!(xs.iter().any(|&x| x < -3.0) && xs.iter().any(|&x| x > 3.0), "{:?}", s.minima);
    // a time limit stops it too
    let mut b = Budget::new(u64::MAX, Some(Duration::from_millis(1)));
    let s = within(5.0, "time limit", || minima::search_in_domain(&expr("sin(x*y)*cos(x+y^2)"), 200, &mut b));
    assert!(s.note.unwrap().contains("time limit"));
}

#[test]
fn basin_maps_of_many_minima_classify_quickly() {
    let f = expr("sin(100*x)+sin(100*y)");
    let cfg = ("gd".to_string(), OptimizerConfig::parse("gd(lr=1e-5)").unwrap());
    // 200² starts, nearly each at a minimum of its own
    let o = MapOptions { grid: 200, steps: 200, domain: D, shape: Default::default() };
    let maps = within(20.0, "map 200", || map(&f, &[cfg], &o));
    let m = &maps[0];
    assert!(m.note.is_none(), "{:?}", m.note);
    assert!(m.minima.len() > 10_000, "{} minima", m.minima.len());
    let converged = m.cells.iter().filter(|c| matches!(c, Outcome::Basin { .. })).count();
    assert!(converged > m.cells.len() * 9 / 10, "{converged} of {}", m.cells.len());
}

/// Expressions from a small grammar, for the bounded-analysis property.
fn grammar() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("y".to_string()),
        (1u32..20).prop_map(|v| v.to_string()),
        (1u32..9, -20i32..20).prop_map(|(a, b)| format!("{a}e{b}")),
    ];
    leaf.prop_recursive(6, 40, 3, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(&["+", "-", "*", "/", "^"][..]), inner.clone())
                .prop_map(|(a, o, b)| format!("({a}){o}({b})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (prop::sample::select(&["sin", "cos", "tan", "exp", "ln", "sqrt", "abs", "tanh"][..]), inner)
                .prop_map(|(f, a)| format!("{f}({a})")),
        ]
    })
}

#[test]
fn on_generated_expressions_every_analysis_stays_within_its_budget() {
    let config = Config { cases: 300, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let work = 2_000_000;
    runner
        .run(&grammar(), |src| {
            let t = Instant::now();
            let f = Function::from_expr(&src, D, [8.0, 0.1]).unwrap();
            let cost = minima::eval_cost(&f);
            let mut b = Budget::new(work, None);
            let s = minima::search_in_domain(&f, 40, &mut b);
            // a descent stops within one iteration of running out: a line search and a
            // polish past the budget at most
            prop_assert!(b.evals() * cost <= work + 200 * cost, "{src}: {} evaluations", b.evals());
            prop_assert!(s.note.is_some() == (s.starts_done < s.starts));
            let _ = tune::target(&f, [8.0, 0.1]);
            let _ = f.nearest_minimum([-3.0, 2.0]);
            let _ = f.check_start([8.0, 0.1]);
            prop_assert!(t.elapsed().as_secs_f64() < 5.0, "{src}: {:?}", t.elapsed());
            Ok(())
        })
        .unwrap();
}
