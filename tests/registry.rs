//! Conformance of every registered method, in the spirit of PyTorch's `OptimizerInfo`
//! database: nothing here lists methods by hand, so a new method is covered by adding it.
//! - its schema's defaults parse, fit their types and pass their own checks;
//! - the bare name parses to the defaults, and the canonical spec parses back to the same
//!   configuration and runs the same trajectory (the builder reads what the schema says);
//! - every key can be set to another valid value, and reads back as set (a switch offered
//!   only off must refuse `true`);
//! - with its defaults it descends on a bowl in f64 and in f32;
//! - a method that declares itself element-wise gives, for a batch of starts laid side by
//!   side in one vector, exactly the numbers of separate runs.

use optlab::optim::schema::check_schema;
use optlab::optim::{Kind, Layout, Method, Objective, OptimizerConfig, Shape2, Value, METHODS};

fn layout_2d(m: &Method) -> Layout {
    if m.matrix_only {
        Shape2::Row.layout()
    } else {
        Shape2::Vector.layout()
    }
}

/// Values to try for a key, as spec text: changes of the default that usually stay valid.
fn candidates(kind: Kind, default: &Value) -> Vec<String> {
    let num = |v: &Value| if let Value::Num(x) = v { *x } else { 0.0 };
    match kind {
        Kind::Num => {
            let d = num(default);
            [d * 0.5, d * 0.9, d + 0.1, 0.1, 0.5, 2.0, 1e-3]
                .iter()
                .filter(|&&x| x != d)
                .map(|x| format!("{x}"))
                .collect()
        }
        Kind::Int => {
            let d = num(default);
            [d + 1.0, d * 2.0, 1.0, 2.0, 5.0, 3.0].iter().filter(|&&x| x != d).map(|x| format!("{x}")).collect()
        }
        Kind::Bool => vec![(!matches!(default, Value::Bool(true))).to_string()],
        Kind::Off => vec![],
        Kind::Choice(options) => options
            .iter()
            .map(|o| if *o == "None" { "None".to_string() } else { format!("\"{o}\"") })
            .filter(|o| *o != default.to_string())
            .collect(),
        Kind::Nums(n) | Kind::MaybeNums(n) => {
            let d = match default {
                Value::Tuple(items) => items.iter().map(num).collect::<Vec<f64>>(),
                _ => vec![0.0; n],
            };
            let scaled: Vec<String> = d.iter().map(|x| format!("{}", if *x == 0.0 { 0.1 } else { x * 0.9 })).collect();
            let mut v = vec![format!("({})", scaled.join(", "))];
            if n == 2 {
                v.push(format!("({}, {})", d[0] * 0.5, d[1]));
            }
            v
        }
        Kind::NumList => vec!["[2, 5]".into(), "[3]".into()],
        Kind::MaybeNum => ["2", "5", "0.1", "0.5", "None"]
            .iter()
            .map(|s| s.to_string())
            .filter(|s| *s != default.to_string())
            .collect(),
        Kind::Optimizer => vec!["sgd(lr=0.01)".into(), "adam(lr=0.01)".into()],
        Kind::MaybeOptimizer => vec!["sgd(lr=0.01)".into(), "adam(lr=0.01)".into(), "None".into()],
        Kind::SchedulerList => vec![],
    }
}

fn bowl<T: optlab::optim::Real>(p: &[T], g: &mut [T]) -> T {
    let mut s = T::zero();
    for (gi, &pi) in g.iter_mut().zip(p) {
        *gi = pi + pi;
        s = s + pi * pi;
    }
    s
}

fn run<T: optlab::optim::Real>(cfg: &OptimizerConfig, layout: &Layout, start: &[T], steps: usize) -> Vec<T> {
    let mut opt = cfg.build::<T>(layout);
    let mut p = start.to_vec();
    let mut obj = |q: &[T], g: &mut [T]| bowl(q, g);
    for _ in 0..steps {
        opt.step(&mut p, &mut obj as &mut dyn Objective<T>);
    }
    let mut shown = p.clone();
    opt.report(&p, &mut shown);
    shown
}

#[test]
fn every_method_has_a_valid_schema_and_its_defaults_parse_and_round_trip() {
    assert!(METHODS.len() >= 13);
    for m in METHODS {
        check_schema(m.name, m.params).unwrap();
        let c = OptimizerConfig::parse(m.name).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(c, OptimizerConfig::defaults(m), "{}", m.name);
        let canon = c.canonical();
        let back = OptimizerConfig::parse(&canon).unwrap_or_else(|e| panic!("{canon}: {e}"));
        assert_eq!(back, c, "{}: canonical spec reads back differently", m.name);
        // the builder reads the schema's values: the explicit spec runs the same numbers
        let l = layout_2d(m);
        assert_eq!(run::<f64>(&c, &l, &[3.0, -2.0], 20), run::<f64>(&back, &l, &[3.0, -2.0], 20), "{}", m.name);
        assert!(!m.formula.is_empty() && !m.reference.is_empty() && !m.title.is_empty(), "{}", m.name);
        assert!(m.params.iter().any(|p| p.key == "lr"), "{} has no lr", m.name);
    }
}

#[test]
fn every_key_of_every_method_can_be_set() {
    for m in METHODS {
        for p in m.params {
            let default = p.default_value();
            if p.kind == Kind::Off {
                // offered only off: `true` must be refused, in one line
                let e = OptimizerConfig::parse(&format!("{}({}=true)", m.name, p.key))
                    .expect_err(&format!("{}: {}=true should be refused", m.name, p.key));
                assert!(!e.message.contains('\n') && e.message.contains(p.key), "{}: {}", m.name, e.message);
                continue;
            }
            let mut set = None;
            'outer: for v in candidates(p.kind, &default) {
                // alone, or together with one other key changed (rules across keys, such as
                // Nesterov needing a momentum)
                let mut tries = vec![format!("{}({}={v})", m.name, p.key)];
                for q in m.params.iter().filter(|q| q.key != p.key) {
                    for w in candidates(q.kind, &q.default_value()).into_iter().take(2) {
                        tries.push(format!("{}({}={v}, {}={w})", m.name, p.key, q.key));
                    }
                }
                for t in tries {
                    if let Ok(c) = OptimizerConfig::parse(&t) {
                        set = Some((t, c));
                        break 'outer;
                    }
                }
            }
            let (text, c) =
                set.unwrap_or_else(|| panic!("{}: no valid non-default value found for '{}'", m.name, p.key));
            assert_ne!(*c.hyper.value(p.key), default, "{text}: '{}' did not change", p.key);
        }
    }
}

#[test]
fn every_method_descends_on_a_bowl_in_f64_and_f32_with_its_defaults() {
    for m in METHODS {
        let c = OptimizerConfig::defaults(m);
        let l = layout_2d(m);
        let l0 = 3.0f64 * 3.0 + 2.0 * 2.0;
        let p = run::<f64>(&c, &l, &[3.0, -2.0], 50);
        let l1 = p[0] * p[0] + p[1] * p[1];
        assert!(l1.is_finite() && l1 < l0, "{} (f64): loss {l0} -> {l1}", m.name);
        let p = run::<f32>(&c, &l, &[3.0f32, -2.0], 50);
        let l1 = (p[0] * p[0] + p[1] * p[1]) as f64;
        assert!(l1.is_finite() && l1 < l0, "{} (f32): loss {l0} -> {l1}", m.name);
    }
}

#[test]
fn element_wise_methods_give_batched_starts_exactly_the_numbers_of_separate_runs() {
    let f = optlab::objective::builtin("sin-cos").unwrap().function();
    let starts = [[8.0, 0.1], [-3.0, 2.5], [0.7, -6.0]];
    let mut checked = 0;
    for m in METHODS.iter().filter(|m| m.elementwise) {
        let c = OptimizerConfig::defaults(m).with_lr(0.05);
        let mut batch: Vec<f64> = starts.iter().flatten().copied().collect();
        let mut opt = c.build::<f64>(&Layout::flat(batch.len()));
        let mut obj = |q: &[f64], g: &mut [f64]| {
            let mut s = 0.0;
            for (qq, gg) in q.chunks(2).zip(g.chunks_mut(2)) {
                let (v, gx, gy) = f.eval(qq[0], qq[1]);
                gg[0] = gx;
                gg[1] = gy;
                s += v;
            }
            s
        };
        for _ in 0..40 {
            opt.step(&mut batch, &mut obj);
        }
        for (i, s) in starts.iter().enumerate() {
            let mut p = *s;
            let mut one = c.build::<f64>(&Layout::flat(2));
            let mut o1 = f.objective();
            for _ in 0..40 {
                one.step(&mut p, &mut o1);
            }
            assert_eq!([batch[2 * i], batch[2 * i + 1]], p, "{}: start {i} differs when batched", m.name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} element-wise methods");
}
