//! Property-based fuzzing of the two spec parsers, deterministic (fixed ChaCha seed), each
//! 10,000 cases per run:
//! - optimizer specs (`OptimizerConfig::parse`): grammar-shaped specs with every method,
//!   scheduler and clipping name, their keys and random ones, numbers from tiny to huge,
//!   nesting up to and past the depth limit, `|` modifiers, and random bytes. Every parse
//!   ends in a value or a one-line error, quickly; every parsed configuration builds an
//!   optimizer for a tiny layout (f32 and f64) that takes steps without panicking.
//! - model specs (`nn::build`): layer lists with names, positional and key arguments,
//!   negative, float and huge sizes, on random input shapes. Every build ends in a model
//!   within the limits or a one-line error, quickly, without allocating beyond the limits;
//!   small models that build run a forward and backward pass.
//!
//! Crashes found by these tests are kept below as named regression tests.

use optlab::limits::{self, Allow};
use optlab::nn::{self, Shape};
use optlab::optim::{Layout, OptimizerConfig, METHODS};
use optlab::schedule::{CLIPPING, SCHEDULERS};
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use std::time::{Duration, Instant};

/// 10,000 cases from a fixed seed; `OPTLAB_FUZZ_SEED` (mixed into the seed) and
/// `OPTLAB_FUZZ_CASES` explore further by hand.
fn config(seed: u64) -> ProptestConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("OPTLAB_FUZZ_SEED").map_or(seed, |s| seed ^ s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    ProptestConfig {
        cases: env("OPTLAB_FUZZ_CASES").map_or(10_000, |c| c.max(10_000) as u32),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

/// What "returns quickly" means here: generous, it only proves there is no hang.
const QUICK: Duration = Duration::from_secs(5);

fn one_line(e: &str, max: usize) {
    assert!(!e.is_empty() && !e.contains('\n') && e.chars().count() <= max, "{} chars: {e}", e.chars().count());
}

// ---------------------------------------------------------------- optimizer specs

/// Every name a spec may start a call with, and the keys each takes.
fn names_and_keys() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut v: Vec<(&str, Vec<&str>)> =
        METHODS.iter().map(|m| (m.name, m.params.iter().map(|p| p.key).collect())).collect();
    for m in SCHEDULERS.iter().chain(CLIPPING) {
        v.push((m.name, m.params.iter().map(|p| p.key).collect()));
    }
    v
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..12).prop_map(|n| n.to_string()),
        3 => prop::sample::select(vec![
            "0.001", "0.01", "0.1", "0.5", "0.9", "0.99", "0.999", "1", "2", "1e-8", "-1", "-0.5", "-0", "0.0",
        ])
        .prop_map(str::to_string),
        2 => prop::sample::select(vec![
            "1e308", "1e309", "-1e308", "1e-320", "5e-324", "nan", "inf", "-inf", "NaN", "Infinity",
            "18446744073709551615", "18446744073709551616", "9223372036854775807", "4294967296", "1e18",
            "1e12", "1e9", "1000000", "65536", "100000", "1e300", "-1e300", "2147483648", "1e6", "1e7",
        ])
        .prop_map(str::to_string),
        1 => any::<f64>().prop_map(|v| format!("{v:e}")),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => "[0-9]{1,400}",
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => number(),
        1 => prop::sample::select(vec!["true", "false", "True", "False", "None", "none"]).prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "\"strong_wolfe\"", "'strong_wolfe'", "\"epoch\"", "'step'", "\"min\"", "\"max\"", "\"rel\"", "\"abs\"",
            "\"triangular\"", "\"triangular2\"", "\"exp_range\"", "\"cos\"", "\"linear\"", "\"\"", "'x'", "\"unterminated",
        ])
        .prop_map(str::to_string),
    ]
}

/// A value: a leaf, or tuples, lists and nested calls of values, nested up to 20 deep
/// (past the parser's limit of 16).
fn value(names: Vec<(&'static str, Vec<&'static str>)>) -> impl Strategy<Value = String> {
    leaf().prop_recursive(20, 96, 4, move |inner| {
        let names = names.clone();
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("({})", v.join(", "))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            (prop::sample::select(names), prop::collection::vec((any::<prop::sample::Index>(), inner), 0..3)).prop_map(
                |((name, keys), args)| {
                    let args: Vec<String> = args
                        .into_iter()
                        .map(|(i, v)| if keys.is_empty() { v } else { format!("{}={v}", keys[i.index(keys.len())]) })
                        .collect();
                    format!("{name}({})", args.join(", "))
                }
            ),
        ]
    })
}

/// `name(args)`: the name's own keys (mostly), other keys, positional values, duplicates.
fn call(names: Vec<(&'static str, Vec<&'static str>)>) -> impl Strategy<Value = String> {
    let values = value(names.clone());
    (
        prop::sample::select(names),
        prop::collection::vec((0u8..10, any::<prop::sample::Index>(), values), 0..5),
        any::<bool>(),
        "[a-zA-Z_][a-zA-Z0-9_-]{0,8}",
    )
        .prop_map(|((name, keys), args, parens, other)| {
            let args: Vec<String> = args
                .into_iter()
                .map(|(how, i, v)| match how {
                    0..=6 if !keys.is_empty() => format!("{}={v}", keys[i.index(keys.len())]),
                    7 => format!("{other}={v}"),
                    _ => v,
                })
                .collect();
            if args.is_empty() && parens {
                name.to_string()
            } else {
                format!("{name}({})", args.join(", "))
            }
        })
}

/// Replaces the `n`-th number (mod the count) in `text` with `new`.
fn replace_number(text: &str, n: usize, new: &str) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if starts {
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'-')).count();
            spans.push(i..j);
            i = j;
        } else {
            i += 1;
        }
    }
    match spans.get(n % spans.len().max(1)) {
        Some(r) => format!("{}{new}{}", &text[..r.start], &text[r.end..]),
        None => text.to_string(),
    }
}

/// Specs close to valid ones: a method with some of its own keys at their defaults, at
/// ordinary values or at odd ones; modifiers from their examples, one number replaced.
fn plausible_spec() -> impl Strategy<Value = String> {
    let method = (
        prop::sample::select(METHODS.to_vec()),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..10, number()), 0..4),
    )
        .prop_map(|(m, args)| {
            let mut seen = Vec::new();
            let mut out = Vec::new();
            for (i, how, num) in args {
                let p = &m.params[i.index(m.params.len())];
                if seen.contains(&p.key) {
                    continue;
                }
                seen.push(p.key);
                let v = match how {
                    0..=4 => p.default.to_string(),
                    _ => num,
                };
                out.push(format!("{}={v}", p.key));
            }
            if out.is_empty() {
                m.name.to_string()
            } else {
                format!("{}({})", m.name, out.join(", "))
            }
        });
    let modifier = (
        prop::sample::select(SCHEDULERS.iter().chain(CLIPPING).copied().collect::<Vec<_>>()),
        any::<bool>(),
        any::<usize>(),
        number(),
    )
        .prop_map(|(m, keep, n, num)| if keep { m.example.to_string() } else { replace_number(m.example, n, &num) });
    (method, prop::collection::vec(modifier, 0..3))
        .prop_map(|(head, mods)| std::iter::once(head).chain(mods).collect::<Vec<_>>().join(" | "))
}

/// A plausible spec with one to three characters inserted, replaced or removed.
fn mutated_spec() -> impl Strategy<Value = String> {
    let chars: Vec<char> = "()[]=,|'\" \n\t\r\u{b}\u{0}\u{85}\u{2028}0.e-x_\u{e9}\u{1F600}".chars().collect();
    (plausible_spec(), prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(chars), 0u8..3), 1..4))
        .prop_map(|(text, edits)| {
            let mut v: Vec<char> = text.chars().collect();
            for (at, c, op) in edits {
                let i = at.index(v.len() + 1);
                match op {
                    0 => v.insert(i, c),
                    1 if i < v.len() => v[i] = c,
                    _ if i < v.len() => {
                        v.remove(i);
                    }
                    _ => v.push(c),
                }
            }
            v.into_iter().collect()
        })
}

fn optimizer_spec() -> impl Strategy<Value = String> {
    let all = names_and_keys();
    let methods: Vec<_> = all.iter().filter(|(n, _)| METHODS.iter().any(|m| m.name == *n)).cloned().collect();
    let modifiers: Vec<_> = all.iter().filter(|(n, _)| !METHODS.iter().any(|m| m.name == *n)).cloned().collect();
    let pipeline =
        (call(methods), prop::collection::vec(prop_oneof![4 => call(modifiers), 1 => call(all.clone())], 0..4))
            .prop_map(|(head, mods)| std::iter::once(head).chain(mods).collect::<Vec<_>>().join(" | "));
    let deep =
        (0usize..40, prop::sample::select(vec!["(", "[", "adam(x=", "muon(fallback=", "SequentialLR(schedulers=["]))
            .prop_map(|(d, open)| {
                let close: String = open
                    .chars()
                    .rev()
                    .filter_map(|c| match c {
                        '(' => Some(')'),
                        '[' => Some(']'),
                        _ => None,
                    })
                    .collect();
                format!("adam(lr={}0.1{})", open.repeat(d), close.repeat(d))
            });
    let alphabet = prop::collection::vec(
        prop::sample::select(
            "adamsgdlrbetasmomentum()[]=,|'\"0123456789.e-+ _nNoneTrueinf\u{e9}\u{1F600}\n\t\r\u{b}\u{0}"
                .chars()
                .collect::<Vec<_>>(),
        ),
        0..80,
    )
    .prop_map(|v| v.into_iter().collect::<String>());
    let bytes = prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    prop_oneof![6 => plausible_spec(), 4 => mutated_spec(), 5 => pipeline, 1 => deep, 2 => alphabet, 1 => bytes]
}

/// A tiny layout with a matrix, a vector and a scalar-like tensor (9 + 3 + 1 numbers).
fn tiny_layout() -> Layout {
    Layout::of(&[("w", vec![3, 3]), ("b", vec![3]), ("s", vec![1])])
}

fn steps_without_panic(cfg: &OptimizerConfig) {
    let layout = tiny_layout();
    let target: Vec<f64> = (0..13).map(|i| (i as f64 * 0.37).sin()).collect();
    {
        let mut opt = cfg.build::<f64>(&layout);
        let mut p: Vec<f64> = vec![0.5; 13];
        let mut obj = |x: &[f64], g: &mut [f64]| -> f64 {
            let mut f = 0.0;
            for ((gi, &xi), &ti) in g.iter_mut().zip(x).zip(&target) {
                let d = xi - ti;
                *gi = 4.0 * d * d * d + 3.0 * (3.0 * xi).cos();
                f += d * d * d * d + (3.0 * xi).sin();
            }
            f
        };
        for _ in 0..3 {
            opt.step(&mut p, &mut obj);
        }
        let mut out = vec![0.0; 13];
        opt.report(&p, &mut out);
    }
    {
        let mut opt = cfg.build_with::<f32>(&layout, optlab::schedule::Cadence::Training);
        let mut p: Vec<f32> = vec![0.5; 13];
        let mut obj = |x: &[f32], g: &mut [f32]| -> f32 {
            let mut f = 0.0;
            for ((gi, &xi), &ti) in g.iter_mut().zip(x).zip(&target) {
                *gi = 2.0 * (xi - ti as f32);
                f += (xi - ti as f32) * (xi - ti as f32);
            }
            f
        };
        opt.step(&mut p, &mut obj);
        opt.end_epoch(Some(1.0));
        opt.step(&mut p, &mut obj);
    }
}

/// One optimizer spec: a configuration that builds and steps, or a one-line error; quickly.
fn check_optimizer_spec(text: &str) -> Outcome {
    if std::env::var_os("OPTLAB_FUZZ_LOG").is_some() {
        eprintln!("case: {text}");
    }
    let t = Instant::now();
    let outcome = match OptimizerConfig::parse(text) {
        Ok(cfg) => {
            let canonical = cfg.canonical();
            let again = OptimizerConfig::parse(&canonical)
                .unwrap_or_else(|e| panic!("{text}: its canonical spec {canonical} does not parse: {e}"));
            assert_eq!(again, cfg, "{text} → {canonical}");
            let _ = cfg.label();
            // a known hang outside the parser, kept out of the fuzzing until it is fixed:
            // see `lbfgs_with_a_huge_max_iter_steps_quickly` below
            if !(cfg.method.name == "lbfgs" && cfg.hyper.int("max_iter") > LBFGS_MAX_ITER_FUZZED) {
                steps_without_panic(&cfg);
            }
            Outcome::Exercised
        }
        Err(e) => {
            one_line(&e.message, 600);
            let _ = e.caret(text);
            Outcome::Error
        }
    };
    assert!(t.elapsed() < QUICK, "{text}: {:?}", t.elapsed());
    outcome
}

/// Runs `check` on `cases` generated values, and returns how many cases returned each outcome.
fn run<S: Strategy>(seed: u64, strategy: S, check: impl Fn(S::Value) -> Outcome) -> [usize; 3]
where
    S::Value: std::fmt::Debug,
{
    let counts = std::sync::Mutex::new([0usize; 3]);
    let mut runner = proptest::test_runner::TestRunner::new(config(seed));
    runner
        .run(&strategy, |v| {
            let o = check(v);
            counts.lock().unwrap()[o as usize] += 1;
            Ok(())
        })
        .unwrap();
    let c = *counts.lock().unwrap();
    eprintln!("errors, values, exercised: {c:?}");
    assert!(c.iter().sum::<usize>() >= 10_000, "{c:?}");
    c
}

/// How a case ended: an error, a value, or a value that was also exercised (stepped, run).
#[derive(Clone, Copy)]
enum Outcome {
    Error = 0,
    Value = 1,
    Exercised = 2,
}

#[test]
fn fuzz_optimizer_specs_end_in_a_value_or_a_one_line_error() {
    let [errors, _, stepped] = run(0x0971_5e1f, optimizer_spec(), |text| check_optimizer_spec(&text));
    // the generator reaches both sides: valid configurations that step, and errors
    assert!(stepped >= 1_000 && errors >= 1_000, "stepped {stepped}, errors {errors}");
}

/// LBFGS configurations with more iterations per step than this are parsed, not stepped.
const LBFGS_MAX_ITER_FUZZED: i64 = 100_000;

/// Found by this fuzzing (seed 1): `max_iter` (and `max_eval`, which follows it) had no
/// upper bound, so one step ran up to 2^63 iterations when the tolerances were not met (here
/// the clipped gradient never falls below tolerance_grad). Both are now bounded (10,000 and
/// 12,500 per step), and a larger value is a one-line error.
#[test]
fn lbfgs_with_a_huge_max_iter_steps_quickly() {
    let t = Instant::now();
    match OptimizerConfig::parse(
        "lbfgs(max_iter=2265733316516331203782, tolerance_grad=0.1) | clip_grad_value(clip_value=0.5)",
    ) {
        Ok(cfg) => steps_without_panic(&cfg),
        Err(e) => one_line(&e.message, 600),
    }
    assert!(t.elapsed() < QUICK, "{:?}", t.elapsed());
}

#[test]
fn optimizer_specs_nested_30000_deep_fail_cleanly() {
    for open in ["(", "[", "adam(x=", "muon(fallback="] {
        let text = format!("adam(lr={}1{})", open.repeat(30_000), ")".repeat(30_000));
        let e = OptimizerConfig::parse(&text).unwrap_err();
        one_line(&e.message, 600);
        assert!(e.message.contains("nested deeper") || e.message.contains("too long"), "{}", e.message);
    }
    // nesting just past the limit, in a short text
    let e = OptimizerConfig::parse(&format!("adam(lr={}1{})", "(".repeat(17), ")".repeat(17))).unwrap_err();
    assert!(e.message.contains("nested deeper than 16"), "{}", e.message);
}

#[test]
fn long_optimizer_specs_are_refused_with_a_short_message() {
    let text = format!("adam(lr={})", "1".repeat(200_000));
    let e = OptimizerConfig::parse(&text).unwrap_err();
    one_line(&e.message, 200);
    let text = format!("{}(lr=1)", "a".repeat(5_000));
    let e = OptimizerConfig::parse(&text).unwrap_err();
    one_line(&e.message, 600);
}

// ---------------------------------------------------------------- model specs

fn size() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (1u32..9).prop_map(|n| n.to_string()),
        2 => (9u32..130).prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            "0", "-1", "-3", "2.5", "1e3", "", " ", "x", "+4", "07", "64", "65", "1024", "1025", "65536", "65537",
            "16777216", "16777217", "4294967296", "9223372036854775807", "18446744073709551615",
            "18446744073709551616", "99999999999999999999999", "nan", "inf", "(3)", "3)", "(",
        ])
        .prop_map(str::to_string),
        1 => any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn layer() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "linear", "conv", "maxpool", "relu", "tanh", "sigmoid", "flatten", "fc", "dense", "conv2d", "pool", "Linear",
        "CONV", "softmax", "", "lin ear",
    ]);
    let key = prop::sample::select(vec![
        "out",
        "k",
        "kernel",
        "kernel_size",
        "s",
        "stride",
        "p",
        "padding",
        "out_channels",
        "q",
        "",
        "K",
    ]);
    (name, prop::collection::vec((prop::option::weighted(0.5, key), size()), 0..6), 0u8..16).prop_map(
        |(name, args, parens)| {
            let args: Vec<String> =
                args.into_iter().map(|(k, v)| k.map_or_else(|| v.clone(), |k| format!("{k}={v}"))).collect();
            match parens {
                0 if args.is_empty() => name.to_string(),
                0 | 1 => format!("{name}({})", args.join(",")),
                2 => format!("{name}({}", args.join(",")),
                3 => format!("{name}({})x", args.join(",")),
                _ => format!(" {name}( {} ) ", args.join(" , ")),
            }
        },
    )
}

fn model_spec() -> impl Strategy<Value = String> {
    let list = prop::collection::vec(layer(), 0..7).prop_map(|mut v| {
        v.push("linear(10)".to_string());
        v.join(",")
    });
    let raw = prop::collection::vec(layer(), 1..7).prop_map(|v| v.join(","));
    let named = prop::sample::select(vec!["mlp", "mlp-relu", "cnn", "MLP", "resnet", ""]).prop_map(str::to_string);
    let deep = (0usize..50).prop_map(|d| format!("linear{}10{}", "(".repeat(d), ")".repeat(d)));
    let bytes = prop::collection::vec(any::<u8>(), 0..60).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let alphabet = prop::collection::vec(
        prop::sample::select("linearconvpool(),=kps0123456789-. ".chars().collect::<Vec<_>>()),
        0..60,
    )
    .prop_map(|v| v.into_iter().collect::<String>());
    let valid = prop::sample::select(vec![
        "linear(64),linear(10)",
        "conv(3,k=3,p=1),relu,maxpool(2),linear(10)",
        "conv(8, k=5, s=2, p=2), tanh, flatten, linear(32), sigmoid, linear(10)",
        "Conv(4,3,1,1),ReLU(),MaxPool(kernel=3),Linear(out=10)",
    ]);
    let chars: Vec<char> = "(),= \n\t\u{0}\u{85}0123456789-.kpsx\u{e9}".chars().collect();
    let mutated =
        (valid, prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(chars), 0u8..3), 1..4))
            .prop_map(|(text, edits)| {
                let mut v: Vec<char> = text.chars().collect();
                for (at, c, op) in edits {
                    let i = at.index(v.len() + 1);
                    match op {
                        0 => v.insert(i, c),
                        1 if i < v.len() => v[i] = c,
                        _ if i < v.len() => {
                            v.remove(i);
                        }
                        _ => v.push(c),
                    }
                }
                v.into_iter().collect::<String>()
            });
    prop_oneof![8 => list, 2 => raw, 4 => mutated, 1 => named, 1 => deep, 1 => bytes, 1 => alphabet]
}

fn input_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        6 => (1usize..40, 1usize..40).prop_map(|(h, w)| Shape { c: 1, h, w }),
        1 => Just(Shape::MNIST),
        1 => (1usize..4, 1usize..9, 1usize..9).prop_map(|(c, h, w)| Shape { c, h, w }),
        1 => prop::sample::select(vec![
            Shape { c: 1, h: 1 << 31, w: 1 },
            Shape { c: 1, h: 46_341, w: 46_341 },
            Shape { c: 1, h: 0, w: 28 },
            Shape { c: 1 << 20, h: 1 << 20, w: 1 << 20 },
            Shape { c: usize::MAX, h: usize::MAX, w: 2 },
        ]),
    ]
}

/// One model spec on one input shape: a model within the limits, or a one-line error;
/// quickly. A small model runs a forward and backward pass on a batch of 2.
fn check_model_spec(text: &str, input: Shape, allow: Allow) -> Outcome {
    let t = Instant::now();
    let outcome = match nn::build(text, input, allow) {
        Ok(m) => {
            assert!(m.n_params as u64 <= limits::PARAMS.max_for(allow), "{text}");
            assert!(m.forward_macs as u64 <= limits::MACS.max_for(allow), "{text}");
            let bytes = m.bytes_for(1).expect("checked");
            assert!(bytes <= limits::BYTES.max_for(allow), "{text}");
            assert_eq!(m.input, input);
            assert_eq!(m.input_len(), input.len());
            if m.bytes_for(2).is_some_and(|b| b < 8 << 20) && m.train_macs < 2_000_000 {
                let params = m.init(7);
                let mut ws = m.workspace(2);
                for (i, v) in ws.input_mut(2).iter_mut().enumerate() {
                    *v = ((i * 7919 % 13) as f32 - 6.0) * 0.3;
                }
                let mut grad = vec![0f32; m.n_params];
                let loss = m.loss_and_grad(&params, &mut grad, &mut ws, &[3, 9]);
                assert!(loss.is_finite(), "{text}: loss {loss}");
                let (sum, correct) = m.evaluate(&params, &mut ws, &[1, 2]);
                assert!(sum.is_finite() && correct <= 2);
                Outcome::Exercised
            } else {
                Outcome::Value
            }
        }
        Err(e) => {
            one_line(&e.to_string(), 400);
            Outcome::Error
        }
    };
    assert!(t.elapsed() < QUICK, "{text}: {:?}", t.elapsed());
    outcome
}

#[test]
fn fuzz_model_specs_build_within_limits_or_fail_in_one_line() {
    let strategy = (model_spec(), input_shape(), prop::bool::weighted(0.2));
    let [errors, built, ran] = run(0x1a7e_5bec, strategy, |(text, input, large)| {
        check_model_spec(&text, input, if large { Allow::LARGE } else { Allow::DEFAULT })
    });
    assert!(ran >= 500 && errors >= 1_000, "ran {ran}, built {built}, errors {errors}");
}

#[test]
fn the_audits_model_specs_fail_in_one_line_without_allocating() {
    for spec in [
        "conv(4294967296,k=1),linear(10)",
        "conv(1000,k=3,p=1000)",
        "conv(1000,k=3,p=1000),linear(10)",
        "linear(18446744073709551615)",
        "conv(1,k=3,p=9223372036854775807)",
        "conv(1,k=3,p=9223372036854775807),linear(10)",
        "conv(3,k=3,k=5)",
        "linear(10,20)",
    ] {
        for allow in [Allow::DEFAULT, Allow::LARGE] {
            let t = Instant::now();
            let e = nn::build(spec, Shape::MNIST, allow).unwrap_err().to_string();
            one_line(&e, 400);
            assert!(t.elapsed() < Duration::from_secs(1), "{spec}");
        }
    }
}

#[test]
fn model_specs_nested_30000_deep_fail_cleanly() {
    let text = format!("linear{}10{}", "(".repeat(30_000), ")".repeat(30_000));
    let e = nn::build(&text, Shape::MNIST, Allow::LARGE).unwrap_err().to_string();
    one_line(&e, 300);
    let text = format!("linear{}10{}", "(".repeat(3_000), ")".repeat(3_000));
    assert!(nn::build(&text, Shape::MNIST, Allow::LARGE)
        .unwrap_err()
        .to_string()
        .contains("nested deeper than 16 levels"));
}
