//! The vector backends the kernels are written against.
//!
//! [`F32x16`] is a *logical* vector of 16 `f32` lanes: one AVX-512 register, two AVX2
//! registers, four NEON registers, or an array of 16 for the scalar code. Every kernel that
//! sums along a row keeps 16 partial sums in such a vector and ends with [`F32x16::reduce`],
//! which adds the lanes in one fixed tree on every backend:
//! `t[i] = v[i] + v[i+8]`, then `t[i] + t[i+4]`, then `t[i] + t[i+2]`, then `t[0] + t[1]`.
//! Lanes past the end of a row are loaded as zeros and take part in the same fused
//! multiply-adds on every backend. So each backend performs the same IEEE operations in the
//! same order, and the results are the same bits whatever the CPU.
//!
//! [`F64xN`] is a native-width `f64` vector (8, 4, 2 or 1 lanes) for the 2-D lab's batched
//! gradients, whose arithmetic is element-wise, so the width does not change any result.
//!
//! A backend value is a zero-sized token. The SIMD ones may only be created where the CPU is
//! known to have the instructions (inside the kernels' `#[target_feature]` entry points, see
//! `mod.rs`); every method is `#[inline(always)]` so that it is compiled inside those entry
//! points with their instruction set.

/// A logical vector of 16 `f32` lanes.
pub(crate) trait F32x16: Copy {
    type V: Copy;
    fn zero(self) -> Self::V;
    fn splat(self, v: f32) -> Self::V;
    /// Loads `p[0..16]`.
    ///
    /// # Safety
    /// `p[0..16]` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// The first `m` lanes (1 ≤ m ≤ 16), prepared once for [`F32x16::load_t`] and
    /// [`F32x16::store_t`].
    type T: Copy;
    fn tail(self, m: usize) -> Self::T;
    /// Loads `p[0..m]` into the first `m` lanes of tail `t` and zeros into the others,
    /// reading nothing past `p[m - 1]`.
    ///
    /// # Safety
    /// `p[0..m]` must be readable.
    unsafe fn load_t(self, p: *const f32, t: Self::T) -> Self::V;
    /// # Safety
    /// `p[0..16]` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Stores the first `m` lanes of tail `t`, writing nothing past `p[m - 1]`.
    ///
    /// # Safety
    /// `p[0..m]` must be writable.
    unsafe fn store_t(self, p: *mut f32, v: Self::V, t: Self::T);
    /// `a·b + c`, rounded once.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the 16 lanes by the fixed tree of the module documentation.
    fn reduce(self, v: Self::V) -> f32;
}

/// A native-width vector of `f64` (`LANES` ≤ 8).
pub(crate) trait F64xN: Copy {
    type D: Copy;
    const LANES: usize;
    fn splat(self, v: f64) -> Self::D;
    /// # Safety
    /// `p[0..LANES]` must be readable.
    unsafe fn load(self, p: *const f64) -> Self::D;
    /// # Safety
    /// `p[0..LANES]` must be writable.
    unsafe fn store(self, p: *mut f64, v: Self::D);
    /// Splits `p[0..2·LANES]` = [x₀, y₀, x₁, y₁, …] into a vector of x and one of y (in a lane
    /// order of the backend's choosing, which [`F64xN::interleave`] undoes).
    ///
    /// # Safety
    /// `p[0..2·LANES]` must be readable.
    unsafe fn deinterleave(self, p: *const f64) -> (Self::D, Self::D);
    /// The inverse of [`F64xN::deinterleave`]: writes `p[0..2·LANES]`.
    ///
    /// # Safety
    /// `p[0..2·LANES]` must be writable.
    unsafe fn interleave(self, p: *mut f64, x: Self::D, y: Self::D);
    fn add(self, a: Self::D, b: Self::D) -> Self::D;
    fn sub(self, a: Self::D, b: Self::D) -> Self::D;
    fn mul(self, a: Self::D, b: Self::D) -> Self::D;
    fn div(self, a: Self::D, b: Self::D) -> Self::D;
    /// `a·b + c`, rounded once.
    fn fma(self, a: Self::D, b: Self::D, c: Self::D) -> Self::D;
    /// `c − a·b`, rounded once.
    fn fnma(self, a: Self::D, b: Self::D, c: Self::D) -> Self::D;
    /// Per lane, with q the two low bits of `t`'s bit pattern: (sin, cos) =
    /// q=0: (s, c), q=1: (c, 0−s), q=2: (0−s, 0−c), q=3: (0−c, s).
    fn quadrant(self, t: Self::D, s: Self::D, c: Self::D) -> (Self::D, Self::D);
    /// A bit mask of the lanes where `|x| ≤ limit` does not hold (large or NaN).
    fn outside(self, x: Self::D, limit: f64) -> u32;
}

/// Portable code: the reference every other backend must equal bit for bit.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl F32x16 for Scalar {
    type V = [f32; 16];
    #[inline(always)]
    fn zero(self) -> [f32; 16] {
        [0.0; 16]
    }
    #[inline(always)]
    fn splat(self, v: f32) -> [f32; 16] {
        [v; 16]
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> [f32; 16] {
        std::ptr::read_unaligned(p as *const [f32; 16])
    }
    type T = usize;
    #[inline(always)]
    fn tail(self, m: usize) -> usize {
        m.min(16)
    }
    #[inline(always)]
    unsafe fn load_t(self, p: *const f32, m: usize) -> [f32; 16] {
        let mut v = [0.0; 16];
        std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), m);
        v
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: [f32; 16]) {
        std::ptr::write_unaligned(p as *mut [f32; 16], v)
    }
    #[inline(always)]
    unsafe fn store_t(self, p: *mut f32, v: [f32; 16], m: usize) {
        std::ptr::copy_nonoverlapping(v.as_ptr(), p, m);
    }
    #[inline(always)]
    fn fma(self, a: [f32; 16], b: [f32; 16], c: [f32; 16]) -> [f32; 16] {
        let mut r = c;
        for i in 0..16 {
            r[i] = fma_f32(a[i], b[i], c[i]);
        }
        r
    }
    #[inline(always)]
    fn add(self, a: [f32; 16], b: [f32; 16]) -> [f32; 16] {
        let mut r = a;
        for i in 0..16 {
            r[i] = a[i] + b[i];
        }
        r
    }
    #[inline(always)]
    fn reduce(self, v: [f32; 16]) -> f32 {
        let mut t = [0f32; 8];
        for i in 0..8 {
            t[i] = v[i] + v[i + 8];
        }
        let u = [t[0] + t[4], t[1] + t[5], t[2] + t[6], t[3] + t[7]];
        (u[0] + u[2]) + (u[1] + u[3])
    }
}

impl F64xN for Scalar {
    type D = f64;
    const LANES: usize = 1;
    #[inline(always)]
    fn splat(self, v: f64) -> f64 {
        v
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f64) -> f64 {
        *p
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64, v: f64) {
        *p = v
    }
    #[inline(always)]
    unsafe fn deinterleave(self, p: *const f64) -> (f64, f64) {
        (*p, *p.add(1))
    }
    #[inline(always)]
    unsafe fn interleave(self, p: *mut f64, x: f64, y: f64) {
        *p = x;
        *p.add(1) = y;
    }
    #[inline(always)]
    fn add(self, a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: f64, b: f64) -> f64 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f64, b: f64) -> f64 {
        a * b
    }
    #[inline(always)]
    fn div(self, a: f64, b: f64) -> f64 {
        a / b
    }
    #[inline(always)]
    fn fma(self, a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn fnma(self, a: f64, b: f64, c: f64) -> f64 {
        (-a).mul_add(b, c)
    }
    #[inline(always)]
    fn quadrant(self, t: f64, s: f64, c: f64) -> (f64, f64) {
        let q = t.to_bits();
        let (sin0, cos0) = if q & 1 != 0 { (c, 0.0 - s) } else { (s, c) };
        if q & 2 != 0 {
            (0.0 - sin0, 0.0 - cos0)
        } else {
            (sin0, cos0)
        }
    }
    #[inline(always)]
    fn outside(self, x: f64, limit: f64) -> u32 {
        (x.abs() > limit || x.is_nan()) as u32
    }
}

/// `a·b + c` rounded once, as `f32::mul_add`. Where the build has no FMA instruction (the
/// x86-64 baseline), `mul_add` is a library call; this computes the same bits inline and
/// vectorisable: the product is exact in f64, the sum is rounded to odd (its exact error from
/// TwoSum decides the last bit), and rounding that to f32 is then the correctly rounded
/// result (53 ≥ 2·24 + 2 bits; Boldo & Melquiond, 2008).
#[inline(always)]
pub(crate) fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(any(target_feature = "fma", not(target_arch = "x86_64")))]
    {
        a.mul_add(b, c)
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "fma")))]
    {
        let (p, cd) = (a as f64 * b as f64, c as f64);
        let s = p + cd;
        // TwoSum: p + cd = s + e exactly
        let p1 = s - cd;
        let c1 = s - p1;
        let e = (p - p1) + (cd - c1);
        let bits = s.to_bits();
        // inexact with an even last bit: the odd neighbour on the side of the exact value
        let step = ((e != 0.0) & (bits & 1 == 0) & (s.abs() < f64::INFINITY)) as u64;
        let delta = if (e > 0.0) == (s > 0.0) { step } else { step.wrapping_neg() };
        f64::from_bits(bits.wrapping_add(delta)) as f32
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{store_part8, tail_mask, Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{F32x16, F64xN};
    use std::arch::x86_64::*;

    /// AVX2 with FMA: 16 lanes as two 8-lane registers (lanes 0–7, 8–15).
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[inline(always)]
        pub(crate) unsafe fn new_unchecked() -> Self {
            Avx2(())
        }
    }

    /// `m` lanes on from `first` as a mask of 8 lanes (all ones where `first + i < m`).
    #[inline(always)]
    unsafe fn mask8(m: usize, first: i32) -> __m256i {
        let idx = _mm256_setr_epi32(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6, first + 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(m as i32), idx)
    }

    /// Stores the first `r` (0 ≤ r ≤ 8) lanes of `v` at `p`, in pieces of 4, 2 and 1 (the
    /// masked store is slow on some CPUs, AMD's in particular).
    #[inline(always)]
    pub(crate) unsafe fn store_part8(p: *mut f32, v: __m256, r: usize) {
        if r >= 8 {
            _mm256_storeu_ps(p, v);
            return;
        }
        let mut q = p;
        let mut h = _mm256_castps256_ps128(v);
        if r & 4 != 0 {
            _mm_storeu_ps(q, h);
            h = _mm256_extractf128_ps::<1>(v);
            q = q.add(4);
        }
        if r & 2 != 0 {
            _mm_storel_pd(q as *mut f64, _mm_castps_pd(h));
            h = _mm_movehl_ps(h, h);
            q = q.add(2);
        }
        if r & 1 != 0 {
            _mm_store_ss(q, h);
        }
    }

    /// 8 lanes → their sum by the fixed tree (i + i+4, then i + i+2, then 0 + 1).
    #[inline(always)]
    unsafe fn reduce8(s8: __m256) -> f32 {
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2)))
    }

    impl F32x16 for Avx2 {
        type V = (__m256, __m256);
        #[inline(always)]
        fn zero(self) -> Self::V {
            unsafe { (_mm256_setzero_ps(), _mm256_setzero_ps()) }
        }
        #[inline(always)]
        fn splat(self, v: f32) -> Self::V {
            unsafe { (_mm256_set1_ps(v), _mm256_set1_ps(v)) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> Self::V {
            (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
        }
        type T = (__m256i, __m256i, usize);
        #[inline(always)]
        fn tail(self, m: usize) -> Self::T {
            unsafe { (mask8(m, 0), mask8(m, 8), m) }
        }
        #[inline(always)]
        unsafe fn load_t(self, p: *const f32, t: Self::T) -> Self::V {
            // masked-off lanes are not read (no fault past the end)
            (_mm256_maskload_ps(p, t.0), _mm256_maskload_ps(p.wrapping_add(8), t.1))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: Self::V) {
            _mm256_storeu_ps(p, v.0);
            _mm256_storeu_ps(p.add(8), v.1);
        }
        #[inline(always)]
        unsafe fn store_t(self, p: *mut f32, v: Self::V, t: Self::T) {
            let m = t.2;
            if m > 8 {
                _mm256_storeu_ps(p, v.0);
                store_part8(p.add(8), v.1, m - 8);
            } else {
                store_part8(p, v.0, m);
            }
        }
        #[inline(always)]
        fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            unsafe { (_mm256_fmadd_ps(a.0, b.0, c.0), _mm256_fmadd_ps(a.1, b.1, c.1)) }
        }
        #[inline(always)]
        fn add(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { (_mm256_add_ps(a.0, b.0), _mm256_add_ps(a.1, b.1)) }
        }
        #[inline(always)]
        fn reduce(self, v: Self::V) -> f32 {
            unsafe { reduce8(_mm256_add_ps(v.0, v.1)) }
        }
    }

    impl F64xN for Avx2 {
        type D = __m256d;
        const LANES: usize = 4;
        #[inline(always)]
        fn splat(self, v: f64) -> __m256d {
            unsafe { _mm256_set1_pd(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f64) -> __m256d {
            _mm256_loadu_pd(p)
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64, v: __m256d) {
            _mm256_storeu_pd(p, v)
        }
        #[inline(always)]
        unsafe fn deinterleave(self, p: *const f64) -> (__m256d, __m256d) {
            // [x0 y0 x1 y1], [x2 y2 x3 y3] → [x0 x2 x1 x3], [y0 y2 y1 y3]
            let (a, b) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
            (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b))
        }
        #[inline(always)]
        unsafe fn interleave(self, p: *mut f64, x: __m256d, y: __m256d) {
            _mm256_storeu_pd(p, _mm256_unpacklo_pd(x, y));
            _mm256_storeu_pd(p.add(4), _mm256_unpackhi_pd(x, y));
        }
        #[inline(always)]
        fn add(self, a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_add_pd(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_sub_pd(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_mul_pd(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m256d, b: __m256d) -> __m256d {
            unsafe { _mm256_div_pd(a, b) }
        }
        #[inline(always)]
        fn fma(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            unsafe { _mm256_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn fnma(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            unsafe { _mm256_fnmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn quadrant(self, t: __m256d, s: __m256d, c: __m256d) -> (__m256d, __m256d) {
            unsafe {
                let bits = _mm256_castpd_si256(t);
                let bit = |b: i64| {
                    let m = _mm256_set1_epi64x(b);
                    _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(bits, m), m))
                };
                let (q1, q2) = (bit(1), bit(2));
                let zero = _mm256_setzero_pd();
                let sin0 = _mm256_blendv_pd(s, c, q1);
                let cos0 = _mm256_blendv_pd(c, _mm256_sub_pd(zero, s), q1);
                (
                    _mm256_blendv_pd(sin0, _mm256_sub_pd(zero, sin0), q2),
                    _mm256_blendv_pd(cos0, _mm256_sub_pd(zero, cos0), q2),
                )
            }
        }
        #[inline(always)]
        fn outside(self, x: __m256d, limit: f64) -> u32 {
            unsafe {
                let abs = _mm256_and_pd(x, _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX)));
                _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_NLE_UQ>(abs, _mm256_set1_pd(limit))) as u32
            }
        }
    }

    /// AVX-512 (F): 16 lanes in one register.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        /// # Safety
        /// The CPU must have AVX-512F (and AVX2 and FMA).
        #[inline(always)]
        pub(crate) unsafe fn new_unchecked() -> Self {
            Avx512(())
        }
    }

    /// The lane mask of the first `m` of 16 lanes (m ≤ 16).
    #[inline(always)]
    pub(crate) fn tail_mask(m: usize) -> __mmask16 {
        if m >= 16 {
            0xffff
        } else {
            ((1u32 << m) - 1) as u16
        }
    }

    impl F32x16 for Avx512 {
        type V = __m512;
        #[inline(always)]
        fn zero(self) -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn splat(self, v: f32) -> __m512 {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        type T = __mmask16;
        #[inline(always)]
        fn tail(self, m: usize) -> __mmask16 {
            tail_mask(m)
        }
        #[inline(always)]
        unsafe fn load_t(self, p: *const f32, t: __mmask16) -> __m512 {
            _mm512_maskz_loadu_ps(t, p)
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn store_t(self, p: *mut f32, v: __m512, t: __mmask16) {
            _mm512_mask_storeu_ps(p, t, v)
        }
        #[inline(always)]
        fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn reduce(self, v: __m512) -> f32 {
            unsafe {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                reduce8(_mm256_add_ps(lo, hi))
            }
        }
    }

    impl F64xN for Avx512 {
        type D = __m512d;
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(self, v: f64) -> __m512d {
            unsafe { _mm512_set1_pd(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f64) -> __m512d {
            _mm512_loadu_pd(p)
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64, v: __m512d) {
            _mm512_storeu_pd(p, v)
        }
        #[inline(always)]
        unsafe fn deinterleave(self, p: *const f64) -> (__m512d, __m512d) {
            // [x0 y0 … x3 y3], [x4 y4 … x7 y7] → per 128-bit lane pairs, as for AVX2
            let (a, b) = (_mm512_loadu_pd(p), _mm512_loadu_pd(p.add(8)));
            (_mm512_unpacklo_pd(a, b), _mm512_unpackhi_pd(a, b))
        }
        #[inline(always)]
        unsafe fn interleave(self, p: *mut f64, x: __m512d, y: __m512d) {
            _mm512_storeu_pd(p, _mm512_unpacklo_pd(x, y));
            _mm512_storeu_pd(p.add(8), _mm512_unpackhi_pd(x, y));
        }
        #[inline(always)]
        fn add(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_add_pd(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_sub_pd(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_mul_pd(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m512d, b: __m512d) -> __m512d {
            unsafe { _mm512_div_pd(a, b) }
        }
        #[inline(always)]
        fn fma(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            unsafe { _mm512_fmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn fnma(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            unsafe { _mm512_fnmadd_pd(a, b, c) }
        }
        #[inline(always)]
        fn quadrant(self, t: __m512d, s: __m512d, c: __m512d) -> (__m512d, __m512d) {
            unsafe {
                let bits = _mm512_castpd_si512(t);
                let q1 = _mm512_test_epi64_mask(bits, _mm512_set1_epi64(1));
                let q2 = _mm512_test_epi64_mask(bits, _mm512_set1_epi64(2));
                let zero = _mm512_setzero_pd();
                let sin0 = _mm512_mask_blend_pd(q1, s, c);
                let cos0 = _mm512_mask_blend_pd(q1, c, _mm512_sub_pd(zero, s));
                (
                    _mm512_mask_blend_pd(q2, sin0, _mm512_sub_pd(zero, sin0)),
                    _mm512_mask_blend_pd(q2, cos0, _mm512_sub_pd(zero, cos0)),
                )
            }
        }
        #[inline(always)]
        fn outside(self, x: __m512d, limit: f64) -> u32 {
            unsafe { _mm512_cmp_pd_mask::<_CMP_NLE_UQ>(_mm512_abs_pd(x), _mm512_set1_pd(limit)) as u32 }
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{F32x16, F64xN};
    use std::arch::aarch64::*;

    /// NEON: 16 lanes as four 4-lane registers (lanes 0–3, 4–7, 8–11, 12–15).
    #[derive(Clone, Copy)]
    pub(crate) struct Neon(());

    impl Neon {
        /// # Safety
        /// The CPU must have NEON (every aarch64 CPU does).
        #[inline(always)]
        pub(crate) unsafe fn new_unchecked() -> Self {
            Neon(())
        }
    }

    impl F32x16 for Neon {
        type V = [float32x4_t; 4];
        #[inline(always)]
        fn zero(self) -> Self::V {
            unsafe { [vdupq_n_f32(0.0); 4] }
        }
        #[inline(always)]
        fn splat(self, v: f32) -> Self::V {
            unsafe { [vdupq_n_f32(v); 4] }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> Self::V {
            [vld1q_f32(p), vld1q_f32(p.add(4)), vld1q_f32(p.add(8)), vld1q_f32(p.add(12))]
        }
        type T = usize;
        #[inline(always)]
        fn tail(self, m: usize) -> usize {
            m.min(16)
        }
        #[inline(always)]
        unsafe fn load_t(self, p: *const f32, m: usize) -> Self::V {
            let mut buf = [0f32; 16];
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), m);
            F32x16::load(self, buf.as_ptr())
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: Self::V) {
            vst1q_f32(p, v[0]);
            vst1q_f32(p.add(4), v[1]);
            vst1q_f32(p.add(8), v[2]);
            vst1q_f32(p.add(12), v[3]);
        }
        #[inline(always)]
        unsafe fn store_t(self, p: *mut f32, v: Self::V, m: usize) {
            let mut buf = [0f32; 16];
            F32x16::store(self, buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, m);
        }
        #[inline(always)]
        fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            // vfmaq_f32(c, a, b) = c + a·b, rounded once
            unsafe {
                [
                    vfmaq_f32(c[0], a[0], b[0]),
                    vfmaq_f32(c[1], a[1], b[1]),
                    vfmaq_f32(c[2], a[2], b[2]),
                    vfmaq_f32(c[3], a[3], b[3]),
                ]
            }
        }
        #[inline(always)]
        fn add(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { [vaddq_f32(a[0], b[0]), vaddq_f32(a[1], b[1]), vaddq_f32(a[2], b[2]), vaddq_f32(a[3], b[3])] }
        }
        #[inline(always)]
        fn reduce(self, v: Self::V) -> f32 {
            unsafe {
                // (i + i+8) for lanes 0–3 and 4–7, then i + i+4, then i + i+2, then 0 + 1
                let s4 = vaddq_f32(vaddq_f32(v[0], v[2]), vaddq_f32(v[1], v[3]));
                let s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
                vget_lane_f32::<0>(s2) + vget_lane_f32::<1>(s2)
            }
        }
    }

    impl F64xN for Neon {
        type D = float64x2_t;
        const LANES: usize = 2;
        #[inline(always)]
        fn splat(self, v: f64) -> float64x2_t {
            unsafe { vdupq_n_f64(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f64) -> float64x2_t {
            vld1q_f64(p)
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64, v: float64x2_t) {
            vst1q_f64(p, v)
        }
        #[inline(always)]
        unsafe fn deinterleave(self, p: *const f64) -> (float64x2_t, float64x2_t) {
            let v = vld2q_f64(p);
            (v.0, v.1)
        }
        #[inline(always)]
        unsafe fn interleave(self, p: *mut f64, x: float64x2_t, y: float64x2_t) {
            vst2q_f64(p, float64x2x2_t(x, y))
        }
        #[inline(always)]
        fn add(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
            unsafe { vaddq_f64(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
            unsafe { vsubq_f64(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
            unsafe { vmulq_f64(a, b) }
        }
        #[inline(always)]
        fn div(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
            unsafe { vdivq_f64(a, b) }
        }
        #[inline(always)]
        fn fma(self, a: float64x2_t, b: float64x2_t, c: float64x2_t) -> float64x2_t {
            unsafe { vfmaq_f64(c, a, b) }
        }
        #[inline(always)]
        fn fnma(self, a: float64x2_t, b: float64x2_t, c: float64x2_t) -> float64x2_t {
            // vfmsq_f64(c, a, b) = c − a·b, rounded once
            unsafe { vfmsq_f64(c, a, b) }
        }
        #[inline(always)]
        fn quadrant(self, t: float64x2_t, s: float64x2_t, c: float64x2_t) -> (float64x2_t, float64x2_t) {
            unsafe {
                let bits = vreinterpretq_u64_f64(t);
                let q1 = vtstq_u64(bits, vdupq_n_u64(1));
                let q2 = vtstq_u64(bits, vdupq_n_u64(2));
                let zero = vdupq_n_f64(0.0);
                let sin0 = vbslq_f64(q1, c, s);
                let cos0 = vbslq_f64(q1, vsubq_f64(zero, s), c);
                (vbslq_f64(q2, vsubq_f64(zero, sin0), sin0), vbslq_f64(q2, vsubq_f64(zero, cos0), cos0))
            }
        }
        #[inline(always)]
        fn outside(self, x: float64x2_t, limit: f64) -> u32 {
            unsafe {
                let inside = vcleq_f64(vabsq_f64(x), vdupq_n_f64(limit));
                let a = (vgetq_lane_u64::<0>(inside) == 0) as u32;
                let b = (vgetq_lane_u64::<1>(inside) == 0) as u32;
                a | (b << 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fma_f32;

    #[test]
    fn the_inline_fused_multiply_add_is_correctly_rounded() {
        // products and sums that round differently when not fused, cancellations, subnormal
        // and overflowing results, infinities and NaN
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let e = (s >> 32) % 90;
            f32::from_bits((s as u32 & 0x807f_ffff) | (((e as u32) + 82) << 23))
        };
        let special =
            [0.0, -0.0, 1.0, -1.0, f32::MIN_POSITIVE, 1e-45, f32::MAX, f32::INFINITY, f32::NAN, 1.0 + f32::EPSILON];
        let mut cases: Vec<(f32, f32, f32)> = Vec::new();
        for &a in &special {
            for &b in &special {
                for &c in &special {
                    cases.push((a, b, c));
                }
            }
        }
        // double rounding: a·b + c lies just below the midpoint between c (odd last bit) and its
        // upper neighbour, and rounding the sum to f64 first lands exactly on the midpoint
        let (one_up, tiny) = (1.0 + f32::EPSILON, (1.0 - f32::EPSILON) / 16_777_216.0);
        for scale in [1.0f32, -1.0, 1024.0, -1.0 / 1024.0] {
            cases.push((one_up * scale, tiny, one_up * scale));
            cases.push((tiny, one_up * scale, one_up * scale));
        }
        for i in 0..200_000 {
            let (a, b) = (next(), next());
            // c near −a·b, so that the sum cancels
            let c = if i % 3 == 0 { -(a * b) * (1.0 + f32::EPSILON * (i % 7) as f32) } else { next() };
            cases.push((a, b, c));
        }
        for (a, b, c) in cases {
            let (got, want) = (fma_f32(a, b, c), a.mul_add(b, c));
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "fma({a:e}, {b:e}, {c:e}) = {got:e}, want {want:e}"
            );
        }
    }
}
