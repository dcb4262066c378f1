//! Fuzzing the expression parser and evaluator: grammar-generated expressions, token soup
//! and raw bytes. Every input ends in a value or an error — never a panic, a stack
//! overflow or a hang — and errors stay short. Deterministic: a fixed ChaCha seed, 10,000
//! cases per test and per run.

use optlab::objective::Expr;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const CASES: u32 = 10_000;

fn runner() -> TestRunner {
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Numbers as a user may type them, the extreme ones included.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..1000).prop_map(|v| v.to_string()),
        (0u32..100, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        any::<f64>().prop_filter_map("finite", |v| v.is_finite().then(|| format!("{:e}", v.abs()))),
        Just("1e308".to_string()),
        Just("1.7976931348623157e308".to_string()),
        Just("5e-324".to_string()),
        Just("0".to_string()),
        Just(".5".to_string()),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("x".to_string()),
        3 => Just("y".to_string()),
        1 => Just("pi".to_string()),
        1 => Just("e".to_string()),
        3 => number(),
    ]
}

const FUNCS: &[&str] = &["sin", "cos", "tan", "exp", "ln", "log", "sqrt", "abs", "tanh", "SIN", "Exp"];
const BINARY: &[&str] = &["+", "-", "*", "/", "^", "**", " + ", " ^ -", "*-", "/+", "**-"];

/// Expressions of the grammar: every one of them parses.
fn grammar() -> impl Strategy<Value = String> {
    leaf().prop_recursive(12, 200, 3, |inner| {
        prop_oneof![
            4 => (inner.clone(), prop::sample::select(BINARY), inner.clone()).prop_map(|(a, o, b)| format!("{a}{o}{b}")),
            1 => inner.clone().prop_map(|a| format!("-{a}")),
            1 => inner.clone().prop_map(|a| format!("({a})")),
            2 => (prop::sample::select(FUNCS), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            1 => (inner.clone(), 1usize..6).prop_map(|(a, n)| format!("{}{a}", "-".repeat(n))),
            1 => (inner.clone(), 1usize..8).prop_map(|(a, n)| format!("{}{a}", "x^".repeat(n))),
        ]
    })
}

/// Points to evaluate at: ordinary, extreme, zero, negative zero, non-finite.
fn point() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -20.0..20.0f64,
        1 => any::<f64>(),
        1 => prop::sample::select(vec![0.0, -0.0, 1.0, -1.0, 1e300, -1e300, 1e-300, f64::MAX, f64::NAN, f64::INFINITY]),
    ]
}

/// Evaluates every way there is; panics are the failures proptest reports.
fn exercise(e: &Expr, x: f64, y: f64) {
    let (v, gx, gy) = e.eval(x, y);
    let v2 = e.value(x, y);
    assert!(v.to_bits() == v2.to_bits() || (v.is_nan() && v2.is_nan()), "value {v} vs eval {v2}");
    let why = e.explain_nonfinite(x, y);
    let finite = v.is_finite() && gx.is_finite() && gy.is_finite();
    assert_eq!(why.is_none(), finite, "explanation {why:?} for ({v}, {gx}, {gy})");
    if let Some(w) = why {
        assert!(w.len() < 200, "long explanation: {w}");
    }
    let mut g = [0.0; 6];
    e.grad_batch(optlab::kernels::kernels(), &[x, y, y, x, 0.5, -0.5], &mut g);
}

/// An error is three short lines (message, expression window, caret).
fn check_error(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 3, "{} lines: {text}", lines.len());
    assert!(lines.iter().all(|l| l.chars().count() < 300), "long line in: {text}");
}

#[test]
fn grammar_expressions_parse_and_evaluate_without_panic() {
    runner()
        .run(&(grammar(), point(), point()), |(src, x, y)| {
            let e = Expr::parse(&src).map_err(|err| TestCaseError::fail(format!("{src}: {err}")))?;
            exercise(&e, x, y);
            exercise(&e, 1.5, -0.25);
            Ok(())
        })
        .unwrap();
}

const TOKENS: &[&str] = &[
    "x", "y", "(", ")", "+", "-", "*", "/", "^", "**", "sin", "cos(", "ln(", "sqrt(", "exp", "tanh(", "1", "2.5",
    "1e308", "1e400", "0", ".", "e", "E", "pi", " ", "\t", "\n", "é", "∞", "$", "_", "1e", "1e-", "..", "x1", ")(",
    "((", "))", ",", "1.2.3", "abs", "log(", "-", "--", "^-", "**-",
];

#[test]
fn token_soup_ends_in_a_value_or_a_short_error() {
    let soup = prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat());
    runner()
        .run(&(soup, point(), point()), |(src, x, y)| {
            match Expr::parse(&src) {
                Ok(e) => exercise(&e, x, y),
                Err(err) => check_error(&err.to_string()),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn raw_bytes_end_in_a_value_or_a_short_error() {
    let bytes = prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let printable = "[ -~]{0,200}";
    runner()
        .run(&(prop_oneof![bytes, printable.prop_map(|s| s)], point(), point()), |(src, x, y)| {
            match Expr::parse(&src) {
                Ok(e) => exercise(&e, x, y),
                Err(err) => check_error(&err.to_string()),
            }
            match optlab::objective::resolve(&src) {
                Ok(f) => {
                    let _ = f.check_start([x, y]);
                }
                Err(err) => check_error(&err.to_string()),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn huge_inputs_are_refused_quickly_with_a_short_error() {
    let t = std::time::Instant::now();
    for src in [
        format!("{}x{}", "(".repeat(30_000), ")".repeat(30_000)),
        "-".repeat(30_000) + "x",
        "x^".repeat(30_000) + "x",
        "x+".repeat(60_000) + "x",
        "9".repeat(120_000),
        format!("{}x", "sin(".repeat(30_000)),
    ] {
        let err = Expr::parse(&src).unwrap_err();
        assert!(err.message.contains("the limit is 10,000"), "{}", err.message);
        check_error(&err.to_string());
    }
    assert!(t.elapsed().as_secs_f64() < 5.0);
}
