//! Gradients of many points at once, for basin maps: the seminar's sin–cos functions with a
//! vectorised sine and cosine, which is where a map spends most of its time with the scalar
//! libm calls.
//!
//! The batched gradients run on the run-time chosen kernels (`crate::kernels`) and give the
//! same bits on every path, the scalar one included: the sine and cosine are computed by the
//! kernels' own reduction and polynomial (within 2 ulp of libm; see `kernels/trig.rs`), never
//! by libm on one path and by a polynomial on another. Trajectories of single runs
//! (`compare`, `tune`, the golden tests) use the scalar functions with libm, as PyTorch does.

use super::{Function, Kind};
use crate::kernels::{self, Kernels};

/// Writes the gradients of `f` at the points `p` = [x₀, y₀, x₁, y₁, …] into `g` (same
/// layout), on the active kernel path. Returns `false` when `f` has no batched form (the
/// caller evaluates point by point).
pub fn grad_batch(f: &Function, p: &[f64], g: &mut [f64]) -> bool {
    grad_batch_on(kernels::kernels(), f, p, g)
}

/// [`grad_batch`] on the given kernels.
pub fn grad_batch_on(k: &Kernels, f: &Function, p: &[f64], g: &mut [f64]) -> bool {
    if !matches!(f.kind, Kind::Builtin(_)) {
        return false;
    }
    let squared = match f.name.as_str() {
        "sin-cos" => false,
        "sin-cos-sq" => true,
        _ => return false,
    };
    k.sin_cos_grad(p, g, squared);
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
        let f = crate::objective::builtin("rosenbrock").unwrap().function();
        assert!(!grad_batch(&f, &[0.0, 0.0], &mut [0.0, 0.0]));
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
}
