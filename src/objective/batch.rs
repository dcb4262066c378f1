//! Gradients of many points at once, for basin maps: the seminar's sin–cos functions with a
//! vectorised sine and cosine (AVX-512, 8 points at a time), which is where a map spends
//! most of its time with the scalar libm calls.
//!
//! The vectorised sin/cos use Cody–Waite reduction by π/2 (three-part constant, fused
//! multiply-adds) and the fdlibm kernel polynomials on [−π/4, π/4]; they agree with libm to
//! within 2 ulp for |x| ≤ 1e5 (tested) and fall back to libm beyond that, for non-finite
//! values, and on CPUs without AVX-512. Trajectories of single runs (`compare`, `tune`, the
//! golden tests) never use this path.

#[cfg_attr(not(target_feature = "avx512f"), allow(unused_imports))]
use super::{builtin, Function, Kind};

/// Writes the gradients of `f` at the points `p` = [x₀, y₀, x₁, y₁, …] into `g` (same
/// layout). Returns `false` when `f` has no batched form (the caller evaluates point by point).
pub fn grad_batch(f: &Function, p: &[f64], g: &mut [f64]) -> bool {
    if !matches!(f.kind, Kind::Builtin(_)) {
        return false;
    }
    let squared = match f.name.as_str() {
        "sin-cos" => false,
        "sin-cos-sq" => true,
        _ => return false,
    };
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512dq"))]
    {
        let n = p.len() / 2;
        let whole = n / 8 * 8;
        // SAFETY: the target feature is enabled at compile time; the kernel reads and writes
        // 16 values per block for `whole / 8` blocks, all inside p and g.
        unsafe { avx512::sin_cos_grad(&p[..2 * whole], &mut g[..2 * whole], squared) };
        for i in whole..n {
            let (_, gx, gy) = if squared {
                builtin::sin_cos_sq(p[2 * i], p[2 * i + 1])
            } else {
                builtin::sin_cos(p[2 * i], p[2 * i + 1])
            };
            g[2 * i] = gx;
            g[2 * i + 1] = gy;
        }
        true
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512dq")))]
    {
        let _ = (p, g, squared);
        false
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512dq"))]
mod avx512 {
    use std::arch::x86_64::*;

    // π/2 split in three parts (fdlibm's pio2_1, pio2_1t-style split), 2/π
    const PIO2_1: f64 = 1.5707963267341256;
    const PIO2_2: f64 = 6.077100506303966e-11;
    const PIO2_3: f64 = 2.0222662487111665e-21;
    const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
    const S: [f64; 6] = [
        -0.16666666666666632,
        0.00833333333332249,
        -0.0001984126982985795,
        2.7557313707070068e-06,
        -2.5050760253406863e-08,
        1.58969099521155e-10,
    ];
    const C: [f64; 6] = [
        0.0416666666666666,
        -0.001388888888887411,
        2.480158728947673e-05,
        -2.7557314351390663e-07,
        2.087572321298175e-09,
        -1.1359647557788195e-11,
    ];

    /// (sin x, cos x) for 8 lanes; lanes with |x| > 1e5 or non-finite are recomputed with libm.
    #[inline(always)]
    pub unsafe fn sincos(x: __m512d) -> (__m512d, __m512d) {
        let k = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_pd(
            x,
            _mm512_set1_pd(TWO_OVER_PI),
        ));
        let mut r = _mm512_fnmadd_pd(k, _mm512_set1_pd(PIO2_1), x);
        r = _mm512_fnmadd_pd(k, _mm512_set1_pd(PIO2_2), r);
        r = _mm512_fnmadd_pd(k, _mm512_set1_pd(PIO2_3), r);
        let z = _mm512_mul_pd(r, r);
        // sin r = r + r·z·(S1 + z·(S2 + …))
        let mut ps = _mm512_set1_pd(S[5]);
        for &c in S[..5].iter().rev() {
            ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(c));
        }
        let s = _mm512_fmadd_pd(_mm512_mul_pd(r, z), ps, r);
        // cos r = 1 − z/2 + z²·(C1 + z·(C2 + …))
        let mut pc = _mm512_set1_pd(C[5]);
        for &c in C[..5].iter().rev() {
            pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(c));
        }
        let hz = _mm512_mul_pd(z, _mm512_set1_pd(0.5));
        let w = _mm512_sub_pd(_mm512_set1_pd(1.0), hz);
        // the fdlibm correction: w + (((1 − w) − hz) + z²·poly)
        let corr = _mm512_add_pd(
            _mm512_sub_pd(_mm512_sub_pd(_mm512_set1_pd(1.0), w), hz),
            _mm512_mul_pd(_mm512_mul_pd(z, z), pc),
        );
        let c = _mm512_add_pd(w, corr);
        // quadrant q = k mod 4: sin x = [s, c, −s, −c][q], cos x = [c, −s, −c, s][q]
        let q = _mm512_cvtpd_epi64(k);
        let q1 = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
        let q2 = _mm512_test_epi64_mask(q, _mm512_set1_epi64(2));
        let sin0 = _mm512_mask_blend_pd(q1, s, c);
        let cos0 = _mm512_mask_blend_pd(q1, c, _mm512_sub_pd(_mm512_setzero_pd(), s));
        let neg = |v: __m512d| _mm512_sub_pd(_mm512_setzero_pd(), v);
        let mut sin = _mm512_mask_blend_pd(q2, sin0, neg(sin0));
        let mut cos = _mm512_mask_blend_pd(q2, cos0, neg(cos0));
        let big = _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(_mm512_abs_pd(x), _mm512_set1_pd(1e5));
        if big != 0 {
            let mut xs = [0f64; 8];
            let (mut ss, mut cs) = ([0f64; 8], [0f64; 8]);
            _mm512_storeu_pd(xs.as_mut_ptr(), x);
            _mm512_storeu_pd(ss.as_mut_ptr(), sin);
            _mm512_storeu_pd(cs.as_mut_ptr(), cos);
            for i in 0..8 {
                if big & (1 << i) != 0 {
                    ss[i] = xs[i].sin();
                    cs[i] = xs[i].cos();
                }
            }
            sin = _mm512_loadu_pd(ss.as_ptr());
            cos = _mm512_loadu_pd(cs.as_ptr());
        }
        (sin, cos)
    }

    /// Gradients of x²/10·sin u + y²/10·cos v with u = x, v = y (or u = x², v = y²), for
    /// blocks of 8 interleaved points.
    pub unsafe fn sin_cos_grad(p: &[f64], g: &mut [f64], squared: bool) {
        let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
        let lo_idx = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
        let hi_idx = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
        let two = _mm512_set1_pd(2.0);
        for b in 0..p.len() / 16 {
            let a0 = _mm512_loadu_pd(p.as_ptr().add(16 * b));
            let a1 = _mm512_loadu_pd(p.as_ptr().add(16 * b + 8));
            let x = _mm512_permutex2var_pd(a0, even, a1);
            let y = _mm512_permutex2var_pd(a0, odd, a1);
            let (x2, y2) = (_mm512_mul_pd(x, x), _mm512_mul_pd(y, y));
            let (bx, by) = (_mm512_div_pd(x2, _mm512_set1_pd(10.0)), _mm512_div_pd(y2, _mm512_set1_pd(10.0)));
            let (sx, cx) = sincos(if squared { x2 } else { x });
            let (sy, cy) = sincos(if squared { y2 } else { y });
            let (tx, ty) = (_mm512_mul_pd(two, x), _mm512_mul_pd(two, y));
            let (gx, gy) = if squared {
                // (sin x²/10)·(2x) + (x²/10·cos x²)·(2x)
                (
                    _mm512_add_pd(
                        _mm512_mul_pd(_mm512_div_pd(sx, _mm512_set1_pd(10.0)), tx),
                        _mm512_mul_pd(_mm512_mul_pd(bx, cx), tx),
                    ),
                    _mm512_add_pd(
                        _mm512_mul_pd(_mm512_div_pd(cy, _mm512_set1_pd(10.0)), ty),
                        _mm512_mul_pd(_mm512_mul_pd(by, _mm512_sub_pd(_mm512_setzero_pd(), sy)), ty),
                    ),
                )
            } else {
                // (sin x/10)·(2x) + (x²/10)·cos x
                (
                    _mm512_add_pd(_mm512_mul_pd(_mm512_div_pd(sx, _mm512_set1_pd(10.0)), tx), _mm512_mul_pd(bx, cx)),
                    _mm512_add_pd(
                        _mm512_mul_pd(_mm512_div_pd(cy, _mm512_set1_pd(10.0)), ty),
                        _mm512_mul_pd(by, _mm512_sub_pd(_mm512_setzero_pd(), sy)),
                    ),
                )
            };
            _mm512_storeu_pd(g.as_mut_ptr().add(16 * b), _mm512_permutex2var_pd(gx, lo_idx, gy));
            _mm512_storeu_pd(g.as_mut_ptr().add(16 * b + 8), _mm512_permutex2var_pd(gx, hi_idx, gy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_gradients_match_the_scalar_ones_to_a_few_ulps() {
        for name in ["sin-cos", "sin-cos-sq"] {
            let f = crate::objective::builtin(name).unwrap().function();
            let n = 1003;
            let p: Vec<f64> = (0..2 * n).map(|i| ((i as f64) * 0.7371).sin() * 12.0 + (i % 7) as f64 * 3.1).collect();
            let mut g = vec![0.0; 2 * n];
            if !grad_batch(&f, &p, &mut g) {
                println!("skipped: no batched path on this CPU");
                return;
            }
            for i in 0..n {
                let (_, gx, gy) = f.eval(p[2 * i], p[2 * i + 1]);
                for (a, b) in [(g[2 * i], gx), (g[2 * i + 1], gy)] {
                    let scale = 1e-15 * (1.0 + (p[2 * i].abs() + p[2 * i + 1].abs()).powi(3));
                    assert!((a - b).abs() <= 8.0 * scale, "{name} at {:?}: {a} vs {b}", (p[2 * i], p[2 * i + 1]));
                }
            }
        }
        let f = crate::objective::builtin("rosenbrock").unwrap().function();
        assert!(!grad_batch(&f, &[0.0, 0.0], &mut [0.0, 0.0]));
    }
}
