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

/// Applies a gradient `f` to the interleaved points `p` = [x₀, y₀, x₁, y₁, …], writing the
/// gradients into `g` (same layout), LANES points at a time; a short last block is padded
/// with zeros and only its real points are written.
#[inline(always)]
fn over_points<V: F64xN>(s: V, p: &[f64], g: &mut [f64], f: impl Fn(V, V::D, V::D) -> (V::D, V::D)) {
    let n = (p.len() / 2).min(g.len() / 2);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(V::LANES);
        let (mut xs, mut ys) = ([0f64; 8], [0f64; 8]);
        for j in 0..m {
            xs[j] = p[2 * (i + j)];
            ys[j] = p[2 * (i + j) + 1];
        }
        // SAFETY: the arrays hold 8 ≥ LANES values
        let (gx, gy) = unsafe { f(s, s.load(xs.as_ptr()), s.load(ys.as_ptr())) };
        unsafe {
            s.store(xs.as_mut_ptr(), gx);
            s.store(ys.as_mut_ptr(), gy);
        }
        for j in 0..m {
            g[2 * (i + j)] = xs[j];
            g[2 * (i + j) + 1] = ys[j];
        }
        i += m;
    }
}

/// The batched gradients of `sin-cos` (`squared` false) or `sin-cos-sq` (true).
#[inline(always)]
pub(super) fn sin_cos_batch<V: F64xN>(s: V, p: &[f64], g: &mut [f64], squared: bool) {
    if squared {
        over_points(s, p, g, sin_cos_grad::<V, true>)
    } else {
        over_points(s, p, g, sin_cos_grad::<V, false>)
    }
}
