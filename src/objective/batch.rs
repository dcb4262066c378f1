//! Gradients of many points at once, for basin maps.
//!
//! Every function has a batched form here, run on the run-time chosen kernels
//! (`crate::kernels`) and giving the same bits on every path, the scalar one included:
//!
//! - the seminar's sin–cos functions use the kernels' vectorised sine and cosine (their own
//!   reduction and polynomial, within 2 ulp of libm; see `kernels/trig.rs`) — never libm on one
//!   path and a polynomial on another;
//! - the other built-ins run their scalar formulas point after point, compiled with the CPU's
//!   vector instructions: exactly the numbers of single runs;
//! - typed expressions run their tape on blocks of points ([`Expr::grad_batch`]), with the
//!   kernels' sine and cosine.
//!
//! Trajectories of single runs (`compare`, `tune`, the golden tests) use the scalar
//! functions with libm, as PyTorch does.
//!
//! [`Expr::grad_batch`]: super::Expr::grad_batch

use super::{builtin, Function, Kind};
use crate::kernels::{self, Kernels};

/// Writes the gradients of `f` at the points `p` = [x₀, y₀, x₁, y₁, …] into `g` (same
/// layout), on the active kernel path. Returns `false` when `f` has no batched form (the
/// caller evaluates point by point).
pub fn grad_batch(f: &Function, p: &[f64], g: &mut [f64]) -> bool {
    grad_batch_on(kernels::kernels(), f, p, g)
}

/// Applies a scalar gradient point by point, inside the caller's instruction set.
macro_rules! each_point {
    ($f:path, $p:expr, $g:expr) => {
        for (q, gg) in $p.chunks_exact(2).zip($g.chunks_exact_mut(2)) {
            let (_, gx, gy) = $f(q[0], q[1]);
            gg[0] = gx;
            gg[1] = gy;
        }
    };
}

/// [`grad_batch`] on the given kernels.
pub fn grad_batch_on(k: &Kernels, f: &Function, p: &[f64], g: &mut [f64]) -> bool {
    let name = match &f.kind {
        Kind::Expr(e) => {
            e.grad_batch(k, p, g);
            return true;
        }
        Kind::Builtin(_) => f.name.as_str(),
    };
    match name {
        "sin-cos" => k.sin_cos_grad(p, g, false),
        "sin-cos-sq" => k.sin_cos_grad(p, g, true),
        "quadratic" => crate::fused!(each_point!(builtin::quadratic, p, g)),
        "saddle" => crate::fused!(each_point!(builtin::saddle, p, g)),
        "rosenbrock" => crate::fused!(each_point!(builtin::rosenbrock, p, g)),
        "beale" => crate::fused!(each_point!(builtin::beale, p, g)),
        "himmelblau" => crate::fused!(each_point!(builtin::himmelblau, p, g)),
        "booth" => crate::fused!(each_point!(builtin::booth, p, g)),
        "matyas" => crate::fused!(each_point!(builtin::matyas, p, g)),
        "rastrigin" => crate::fused!(each_point!(builtin::rastrigin, p, g)),
        "ackley" => crate::fused!(each_point!(builtin::ackley, p, g)),
        "goldstein-price" => crate::fused!(each_point!(builtin::goldstein_price, p, g)),
        "styblinski-tang" => crate::fused!(each_point!(builtin::styblinski_tang, p, g)),
        "six-hump-camel" => crate::fused!(each_point!(builtin::six_hump_camel, p, g)),
        "valley" => crate::fused!(each_point!(builtin::valley, p, g)),
        "monkey-saddle" => crate::fused!(each_point!(builtin::monkey_saddle, p, g)),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Path;

    fn points(n: usize) -> Vec<f64> {
        let mut p: Vec<f64> = (0..2 * n).map(|i| ((i as f64) * 0.7371).sin() * 12.0 + (i % 7) as f64 * 3.1).collect();
        // the edges: zeros, exact multiples of π/2, the 1e5 limit, beyond it, non-finite
        let special = [
            0.0,
            -0.0,
            std::f64::consts::FRAC_PI_2,
            -std::f64::consts::PI,
            1e5,
            -1e5,
            1.0000001e5,
            3e7,
            f64::INFINITY,
            f64::NAN,
            1e-300,
            -7.5,
        ];
        p[..special.len()].copy_from_slice(&special);
        p
    }

    #[test]
    fn batched_gradients_match_the_scalar_libm_ones_to_a_few_ulps() {
        let k = kernels::table(Path::Scalar).unwrap();
        for name in ["sin-cos", "sin-cos-sq"] {
            let f = crate::objective::builtin(name).unwrap().function();
            let n = 1003;
            let p = points(n);
            let mut g = vec![0.0; 2 * n];
            assert!(grad_batch_on(k, &f, &p, &mut g));
            for i in 0..n {
                let (_, gx, gy) = f.eval(p[2 * i], p[2 * i + 1]);
                for (a, b) in [(g[2 * i], gx), (g[2 * i + 1], gy)] {
                    if b.is_nan() {
                        assert!(a.is_nan(), "{name}: {a} where libm gives NaN");
                        continue;
                    }
                    let scale = 1e-15 * (1.0 + (p[2 * i].abs() + p[2 * i + 1].abs()).powi(3));
                    assert!((a - b).abs() <= 8.0 * scale, "{name} at {:?}: {a} vs {b}", (p[2 * i], p[2 * i + 1]));
                }
            }
        }
    }

    #[test]
    fn batched_gradients_are_the_same_bits_on_every_kernel_path() {
        let scalar = kernels::table(Path::Scalar).unwrap();
        for path in Path::ALL {
            let Some(k) = kernels::table(path) else {
                println!("skipped {path}: this CPU cannot run it");
                continue;
            };
            for name in ["sin-cos", "sin-cos-sq"] {
                let f = crate::objective::builtin(name).unwrap().function();
                // every tail length of the 8-, 4- and 2-lane backends
                for n in [1, 2, 3, 5, 7, 8, 9, 15, 17, 1003] {
                    let p = points(n.max(12))[..2 * n].to_vec();
                    let (mut want, mut got) = (vec![0.0; 2 * n], vec![1.0; 2 * n]);
                    grad_batch_on(scalar, &f, &p, &mut want);
                    let before = kernels::calls_on_this_thread(path);
                    grad_batch_on(k, &f, &p, &mut got);
                    assert_eq!(kernels::calls_on_this_thread(path), before + 1, "the {path} kernel did not run");
                    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(a.to_bits(), b.to_bits(), "{path}, {name}, n={n}, value {i}: {a} vs {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_other_function_batches_to_exactly_its_scalar_gradient_and_expressions_to_a_few_ulps() {
        let k = kernels::kernels();
        let p = points(203);
        for info in crate::objective::BUILTINS {
            let f = info.function();
            let mut g = vec![0.0; p.len()];
            assert!(grad_batch_on(k, &f, &p, &mut g), "{} has no batched form", f.name);
            if f.name.starts_with("sin-cos") {
                continue;
            }
            for (i, q) in p.chunks_exact(2).enumerate() {
                let (_, gx, gy) = f.eval(q[0], q[1]);
                for (a, b) in [(g[2 * i], gx), (g[2 * i + 1], gy)] {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{} at {q:?}: {a} vs {b}",
                        f.name
                    );
                }
            }
        }
        // sin and cos from the kernels' polynomial; everything else as the scalar tape
        for src in [
            "x^2*sin(x)/10 + y^2*cos(y)/10",
            "exp(-x^2)*tanh(y) + sqrt(abs(x*y)) - ln(1+x^2)/(2+cos(y))",
            "x^y + x*x*y - 3",
            "tan(x/7)^2 + sin(x)*sin(x) - (-y)",
        ] {
            let f = crate::objective::Function::from_expr(src, [-10.0, 10.0, -10.0, 10.0], [1.0, 1.0]).unwrap();
            let p: Vec<f64> = points(203).iter().map(|v| if v.is_finite() { v.clamp(-1e3, 1e3) } else { *v }).collect();
            let mut g = vec![0.0; p.len()];
            assert!(grad_batch_on(k, &f, &p, &mut g));
            for (i, q) in p.chunks_exact(2).enumerate() {
                let (_, gx, gy) = f.eval(q[0], q[1]);
                for (a, b) in [(g[2 * i], gx), (g[2 * i + 1], gy)] {
                    if !(a.is_finite() && b.is_finite()) {
                        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{src} at {q:?}: {a} vs {b}");
                        continue;
                    }
                    assert!((a - b).abs() <= 1e-13 * (1.0 + b.abs()), "{src} at {q:?}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn expressions_batch_to_the_same_bits_on_every_kernel_path() {
        let scalar = kernels::table(Path::Scalar).unwrap();
        let f = crate::objective::Function::from_expr(
            "x^2*sin(x)/10 + y^2*cos(y)/10 + exp(-y^2)",
            [-10.0, 10.0, -10.0, 10.0],
            [1.0, 1.0],
        )
        .unwrap();
        for path in Path::ALL {
            let Some(k) = kernels::table(path) else {
                println!("skipped {path}: this CPU cannot run it");
                continue;
            };
            for n in [1, 3, 63, 64, 65, 200] {
                let p = points(n.max(12))[..2 * n].to_vec();
                let (mut want, mut got) = (vec![0.0; 2 * n], vec![1.0; 2 * n]);
                grad_batch_on(scalar, &f, &p, &mut want);
                let before = kernels::calls_on_this_thread(path);
                grad_batch_on(k, &f, &p, &mut got);
                assert!(kernels::calls_on_this_thread(path) > before, "the {path} kernels did not run");
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "{path}, n={n}, value {i}: {a} vs {b}");
                }
            }
        }
    }
}
