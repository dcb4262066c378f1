//! Sine and cosine of many `f64` at once, and the batched gradients of the 2-D functions
//! built on them, written once over [`F64xN`].
//!
//! The sine and cosine use Cody–Waite reduction by π/2 (a three-part constant, fused
//! multiply-adds) and the fdlibm kernel polynomials on [−π/4, π/4]. The quotient is rounded
//! with the 1.5·2⁵² trick (an add and a subtract, exact for |x| ≤ 1e5), whose bit pattern also
//! gives the quadrant. Lanes with |x| > 1e5 or non-finite are recomputed with the scalar libm
//! `sin`/`cos`. Every step is an IEEE operation that each backend performs alike, so the
//! results are the same bits on every path, the scalar one included (tested); they agree
//! with libm to within 2 ulp for |x| ≤ 1e5 (tested).

use super::simd::F64xN;

// π/2 split in three parts (fdlibm's pio2_1, pio2_1t-style split), 2/π
const PIO2_1: f64 = 1.5707963267341256;
const PIO2_2: f64 = 6.077100506303966e-11;
const PIO2_3: f64 = 2.0222662487111665e-21;
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
/// Adding and subtracting 1.5·2⁵² rounds to the nearest integer (ties to even) for |v| < 2⁵¹.
const ROUND: f64 = 6755399441055744.0;
/// Beyond this the reduction loses accuracy; such lanes use libm.
const LIMIT: f64 = 1e5;
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

/// (sin x, cos x) for every lane.
#[inline(always)]
pub(super) fn sincos<V: F64xN>(s: V, x: V::D) -> (V::D, V::D) {
    let round = s.splat(ROUND);
    let t = s.add(s.mul(x, s.splat(TWO_OVER_PI)), round);
    let k = s.sub(t, round);
    let mut r = s.fnma(k, s.splat(PIO2_1), x);
    r = s.fnma(k, s.splat(PIO2_2), r);
    r = s.fnma(k, s.splat(PIO2_3), r);
    let z = s.mul(r, r);
    // sin r = r + r·z·(S1 + z·(S2 + …))
    let mut ps = s.splat(S[5]);
    for &c in S[..5].iter().rev() {
        ps = s.fma(ps, z, s.splat(c));
    }
    let sin_r = s.fma(s.mul(r, z), ps, r);
    // cos r = 1 − z/2 + z²·(C1 + z·(C2 + …)), with the fdlibm correction
    // w + (((1 − w) − z/2) + z²·poly)
    let mut pc = s.splat(C[5]);
    for &c in C[..5].iter().rev() {
        pc = s.fma(pc, z, s.splat(c));
    }
    let one = s.splat(1.0);
    let hz = s.mul(z, s.splat(0.5));
    let w = s.sub(one, hz);
    let corr = s.add(s.sub(s.sub(one, w), hz), s.mul(s.mul(z, z), pc));
    let cos_r = s.add(w, corr);
    let (mut sin, mut cos) = s.quadrant(t, sin_r, cos_r);
    let big = s.outside(x, LIMIT);
    if big != 0 {
        let mut xs = [0f64; 8];
        let (mut ss, mut cs) = ([0f64; 8], [0f64; 8]);
        // SAFETY: the arrays hold 8 ≥ LANES values
        unsafe {
            s.store(xs.as_mut_ptr(), x);
            s.store(ss.as_mut_ptr(), sin);
            s.store(cs.as_mut_ptr(), cos);
        }
        for i in 0..V::LANES {
            if big & (1 << i) != 0 {
                ss[i] = xs[i].sin();
                cs[i] = xs[i].cos();
            }
        }
        // SAFETY: as above
        unsafe {
            sin = s.load(ss.as_ptr());
            cos = s.load(cs.as_ptr());
        }
    }
    (sin, cos)
}

/// A 2-D gradient written over [`F64xN`], applied to many points by [`over_points`].
pub(super) trait Grad2 {
    fn grad<V: F64xN>(s: V, x: V::D, y: V::D) -> (V::D, V::D);
}

/// x²/10·sin x + y²/10·cos y (`SQUARED`: x²/10·sin x² + y²/10·cos y²).
pub(super) struct SinCos<const SQUARED: bool>;

impl<const SQUARED: bool> Grad2 for SinCos<SQUARED> {
    #[inline(always)]
    fn grad<V: F64xN>(s: V, x: V::D, y: V::D) -> (V::D, V::D) {
        sin_cos_grad::<V, SQUARED>(s, x, y)
    }
}

/// Gradients of x²/10·sin u + y²/10·cos v with u = x, v = y (SQUARED: u = x², v = y²), in
/// the operation order of `objective::builtin::sin_cos` / `sin_cos_sq` with `sincos` in
/// place of libm.
#[inline(always)]
fn sin_cos_grad<V: F64xN, const SQUARED: bool>(s: V, x: V::D, y: V::D) -> (V::D, V::D) {
    let (ten, two, zero) = (s.splat(10.0), s.splat(2.0), s.splat(0.0));
    let (x2, y2) = (s.mul(x, x), s.mul(y, y));
    let (bx, by) = (s.div(x2, ten), s.div(y2, ten));
    let (sx, cx) = sincos(s, if SQUARED { x2 } else { x });
    let (sy, cy) = sincos(s, if SQUARED { y2 } else { y });
    let (tx, ty) = (s.mul(two, x), s.mul(two, y));
    let neg_sy = s.sub(zero, sy);
    if SQUARED {
        // (sin x²/10)·(2x) + (x²/10·cos x²)·(2x)
        (
            s.add(s.mul(s.div(sx, ten), tx), s.mul(s.mul(bx, cx), tx)),
            s.add(s.mul(s.div(cy, ten), ty), s.mul(s.mul(by, neg_sy), ty)),
        )
    } else {
        // (sin x/10)·(2x) + (x²/10)·cos x
        (s.add(s.mul(s.div(sx, ten), tx), s.mul(bx, cx)), s.add(s.mul(s.div(cy, ten), ty), s.mul(by, neg_sy)))
    }
}

/// Applies the gradient `G` to the interleaved points `p` = [x₀, y₀, x₁, y₁, …], writing the
/// gradients into `g` (same layout), LANES points at a time; a short last block is padded
/// with zeros and only its real points are written. (A trait rather than a closure, so that
/// everything inlines into the kernel's entry point and its instruction set.)
#[inline(always)]
pub(super) fn over_points<V: F64xN, G: Grad2>(s: V, p: &[f64], g: &mut [f64]) {
    let n = (p.len() / 2).min(g.len() / 2);
    let whole = n / V::LANES * V::LANES;
    let (pp, gp) = (p.as_ptr(), g.as_mut_ptr());
    let mut i = 0;
    while i < whole {
        // SAFETY: points i..i+LANES lie inside p and g
        unsafe {
            let (x, y) = s.deinterleave(pp.add(2 * i));
            let (gx, gy) = G::grad(s, x, y);
            s.interleave(gp.add(2 * i), gx, gy);
        }
        i += V::LANES;
    }
    if i < n {
        let m = n - i;
        let mut buf = [0f64; 16];
        buf[..2 * m].copy_from_slice(&p[2 * i..2 * n]);
        // SAFETY: the buffer holds 16 ≥ 2·LANES values
        unsafe {
            let (x, y) = s.deinterleave(buf.as_ptr());
            let (gx, gy) = G::grad(s, x, y);
            s.interleave(buf.as_mut_ptr(), gx, gy);
        }
        g[2 * i..2 * n].copy_from_slice(&buf[..2 * m]);
    }
}

/// `sin[i], cos[i] = sin x[i], cos x[i]` for every i, LANES at a time (a short last block
/// padded with zeros).
#[inline(always)]
pub(super) fn sincos_slice<V: F64xN>(s: V, x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    let n = x.len().min(sin.len()).min(cos.len());
    let mut i = 0;
    while i + V::LANES <= n {
        // SAFETY: elements i..i+LANES lie inside all three slices
        unsafe {
            let (a, b) = sincos(s, s.load(x.as_ptr().add(i)));
            s.store(sin.as_mut_ptr().add(i), a);
            s.store(cos.as_mut_ptr().add(i), b);
        }
        i += V::LANES;
    }
    if i < n {
        let m = n - i;
        let (mut xs, mut ss, mut cs) = ([0f64; 8], [0f64; 8], [0f64; 8]);
        xs[..m].copy_from_slice(&x[i..n]);
        // SAFETY: the arrays hold 8 ≥ LANES values
        unsafe {
            let (a, b) = sincos(s, s.load(xs.as_ptr()));
            s.store(ss.as_mut_ptr(), a);
            s.store(cs.as_mut_ptr(), b);
        }
        sin[i..n].copy_from_slice(&ss[..m]);
        cos[i..n].copy_from_slice(&cs[..m]);
    }
}

/// The batched gradients of `sin-cos` (`squared` false) or `sin-cos-sq` (true).
#[inline(always)]
pub(super) fn sin_cos_batch<V: F64xN>(s: V, p: &[f64], g: &mut [f64], squared: bool) {
    if squared {
        over_points::<V, SinCos<true>>(s, p, g)
    } else {
        over_points::<V, SinCos<false>>(s, p, g)
    }
}
