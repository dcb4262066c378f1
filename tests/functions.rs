//! Promises about the 2-D functions: exact gradients (checked against finite differences),
//! known minima are stationary points, built-ins agree with the typed expressions.

use optlab::objective::{self, minima, Function};

fn probe_points(f: &Function) -> Vec<[f64; 2]> {
    let [x0, x1, y0, y1] = f.domain;
    let mut pts = vec![f.start];
    for i in 1..6 {
        for j in 1..6 {
            let (u, v) = (i as f64 / 6.0 + 0.013 * j as f64, j as f64 / 6.0 - 0.007 * i as f64);
            pts.push([x0 + (x1 - x0) * u, y0 + (y1 - y0) * v]);
        }
    }
    pts
}

#[test]
fn every_builtin_gradient_matches_central_finite_differences() {
    for b in objective::BUILTINS {
        let f = b.function();
        for p in probe_points(&f) {
            let (_, gx, gy) = f.eval(p[0], p[1]);
            let h = 1e-6 * (1.0 + p[0].abs().max(p[1].abs()));
            let fdx = (f.value(p[0] + h, p[1]) - f.value(p[0] - h, p[1])) / (2.0 * h);
            let fdy = (f.value(p[0], p[1] + h) - f.value(p[0], p[1] - h)) / (2.0 * h);
            let scale = 1.0 + gx.abs().max(gy.abs()) + f.value(p[0], p[1]).abs() * 1e-6;
            assert!(
                (gx - fdx).abs() <= 1e-5 * scale && (gy - fdy).abs() <= 1e-5 * scale,
                "{} at {p:?}: grad ({gx}, {gy}) vs finite differences ({fdx}, {fdy})",
                b.name
            );
        }
    }
}

#[test]
fn every_known_minimum_is_a_stationary_point_with_positive_curvature() {
    for b in objective::BUILTINS {
        let f = b.function();
        let ms = f.minima().to_vec();
        if b.bounded_below {
            assert!(!ms.is_empty(), "{} lists no minimum", b.name);
        }
        for m in ms {
            let (v, gx, gy) = f.eval(m[0], m[1]);
            assert!(gx.hypot(gy) <= 1e-6 * (1.0 + v.abs()), "{} at {m:?}: |grad| = {}", b.name, gx.hypot(gy));
            let h = minima::hessian(&f, m);
            assert!(
                h[0][0] > 0.0 && h[0][0] * h[1][1] - h[0][1] * h[1][0] > 0.0,
                "{} at {m:?} is not a minimum",
                b.name
            );
        }
    }
}

#[test]
fn known_global_minimum_values_are_reproduced() {
    let at = |name: &str, x: f64, y: f64| objective::builtin(name).unwrap().function().value(x, y);
    assert_eq!(at("rosenbrock", 1.0, 1.0), 0.0);
    assert_eq!(at("beale", 3.0, 0.5), 0.0);
    assert_eq!(at("booth", 1.0, 3.0), 0.0);
    assert!((at("goldstein-price", 0.0, -1.0) - 3.0).abs() < 1e-12);
    assert!((at("six-hump-camel", 0.08984201368301331, -0.7126564032704135) + 1.031628453489877).abs() < 1e-12);
    assert!((at("styblinski-tang", -2.903534027771178, -2.903534027771178) + 78.33233140754285).abs() < 1e-9);
    assert!(at("ackley", 0.0, 0.0).abs() < 1e-15);
    assert_eq!(at("rastrigin", 0.0, 0.0), 0.0);
}

#[test]
fn seminar_builtins_give_the_same_bits_as_their_typed_expressions() {
    let pairs = [
        ("quadratic", "x**2 + y**2"),
        ("saddle", "x**2/10 - y**2/10"),
        ("sin-cos", "x**2/10*sin(x) + y**2/10*cos(y)"),
        ("sin-cos-sq", "x**2/10*sin(x**2) + y**2/10*cos(y**2)"),
        ("rosenbrock", "(1-x)**2 + 100*(y-x**2)**2"),
    ];
    for (name, src) in pairs {
        let b = objective::builtin(name).unwrap().function();
        let e = Function::from_expr(src, b.domain, b.start).unwrap();
        for p in probe_points(&b) {
            assert_eq!(b.eval(p[0], p[1]), e.eval(p[0], p[1]), "{name} vs '{src}' at {p:?}");
        }
    }
}

#[test]
fn himmelblau_minima_are_found_by_descent_from_each_quadrant() {
    let f = objective::builtin("himmelblau").unwrap().function();
    for (s, m) in [
        ([4.0, 4.0], [3.0, 2.0]),
        ([-4.0, 4.0], [-2.805118, 3.131312]),
        ([-4.0, -4.0], [-3.779310, -3.283186]),
        ([4.0, -4.0], [3.584428, -1.848126]),
    ] {
        let got = f.basin_minimum(s).expect("a minimum");
        assert!((got[0] - m[0]).abs() < 1e-5 && (got[1] - m[1]).abs() < 1e-5, "from {s:?}: {got:?}");
    }
}

#[test]
fn unbounded_functions_report_no_minimum_from_their_start() {
    for name in ["saddle", "monkey-saddle"] {
        let f = objective::builtin(name).unwrap().function();
        assert!(f.basin_minimum(f.start).is_none(), "{name}");
    }
}

#[test]
fn unknown_function_names_get_a_helpful_error() {
    let e = objective::resolve("rosenbrok").unwrap_err();
    assert!(e.message.contains("unknown function 'rosenbrok'") && e.message.contains("rosenbrock"), "{}", e.message);
    let e = objective::resolve("x^2 + sinn(y)").unwrap_err();
    assert!(e.to_string().contains("^^^^"));
}
