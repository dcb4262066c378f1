//! Muon's Newton–Schulz iteration in bfloat16, as torch's CPU kernels compute it, fast.
//!
//! torch (`_zeropower_via_newtonschulz`) casts the momentum to bfloat16, divides it by its
//! norm, and runs `ns_steps` times
//!
//! ```text
//! A = X Xᵀ;   B = addmm(A, A, A, beta=b, alpha=c);   X = addmm(X, B, X, beta=a)
//! ```
//!
//! each result rounded to bfloat16. On the CPU the products are summed in f32 in two fixed
//! orders, which this file reproduces term for term:
//!
//! - `X Xᵀ` as ATen's vectorised bfloat16 dot product (`bf16_dot_with_fp32_arith`, AVX2
//!   register layout): for l below the last multiple of 64, 64 partial sums (partial s takes
//!   l ≡ s mod 64, in order), folded as 8 registers of 8 lanes — registers r and r + 4, then
//!   r + 2, then r + 1; lanes ((0+4)+(2+6)) + ((1+5)+(3+7)) — then the 8-element chunks up to
//!   the last multiple of 16 into one register folded the same way, then the rest one by one;
//! - the two `addmm` as ATen's generic gemm: four partial sums (l mod 4) over the whole blocks
//!   of four, the rest into the first, ((s₀ + s₁) + s₂) + s₃, then β·C + α·dot in f32 with
//!   the first product fused (α·dot alone when β = 0).
//!
//! Every product is of two bfloat16 values, exact in f32, so a multiply-add rounds once
//! whether or not it is fused: the kernels below use plain `a * b + c`, vectorise across the
//! output entries (the sums along l keep their order), and give the same bits on every
//! kernel path and vector width. They run through [`crate::fused!`], compiled with the
//! active path's instruction set. The scalar reference kept in the tests is the direct
//! transcription of the orders above, checked against torch on matrices up to 70 × 100;
//! these kernels equal it bit for bit.

use crate::kernels::Path;

/// Output entries computed together (one AVX-512 register, two AVX2 registers).
const W: usize = 16;

/// Rounds an f32 to the nearest bfloat16 (ties to even), as `c10::BFloat16` does; NaN stays
/// NaN.
#[inline(always)]
pub(super) fn bf16_of_f32(f: f32) -> f32 {
    let bits = f.to_bits();
    let rounded = f32::from_bits(bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) & 0xFFFF_0000);
    if f.is_nan() {
        f
    } else {
        rounded
    }
}

/// `β·c + α·dot` in f32 as ATen's bfloat16 `addmm` finishes an entry, rounded to bfloat16.
#[inline(always)]
fn addmm_entry(beta: f32, c: f32, alpha: f32, dot: f32) -> f32 {
    let ad = alpha * dot;
    bf16_of_f32(if beta == 0.0 { ad } else { beta.mul_add(c, ad) })
}

/// Scratch of the iteration, kept between steps (no allocation once sized).
#[derive(Default)]
pub(super) struct NewtonSchulz {
    /// X, p × q (p ≤ q), bfloat16 values held as f32.
    pub x: Vec<f32>,
    /// Xᵀ, q × p.
    xt: Vec<f32>,
    gram: Vec<f32>,
    poly: Vec<f32>,
    next: Vec<f32>,
}

impl NewtonSchulz {
    /// Sizes the scratch for a p × q iterate and returns X to be filled (row-major).
    pub fn start(&mut self, p: usize, q: usize) -> &mut [f32] {
        for (v, n) in [(&mut self.x, p * q), (&mut self.xt, p * q), (&mut self.next, p * q)] {
            v.resize(n, 0.0);
        }
        self.gram.resize(p * p, 0.0);
        self.poly.resize(p * p, 0.0);
        &mut self.x
    }

    /// Divides X (filled through [`start`](Self::start)) by its norm and runs `steps`
    /// iterations with coefficients (a, b, c) on the active kernel path; the result is in
    /// `self.x`.
    pub fn iterate(&mut self, p: usize, q: usize, eps: f64, coef: (f32, f32, f32), steps: usize) {
        self.iterate_on(crate::kernels::active(), p, q, eps, coef, steps)
    }

    /// [`iterate`](Self::iterate) on kernel path `path`, which this CPU must support (the
    /// scalar path otherwise).
    pub fn iterate_on(&mut self, path: Path, p: usize, q: usize, eps: f64, coef: (f32, f32, f32), steps: usize) {
        self.iterate_schedule_on(path, p, q, eps, steps, |_| coef);
    }

    /// [`iterate_on`](Self::iterate_on) with coefficients of their own for each of the
    /// `steps` iterations (`coef(i)`), as pytorch-optimizer's coefficient schedules.
    fn iterate_schedule_on(
        &mut self,
        path: Path,
        p: usize,
        q: usize,
        eps: f64,
        steps: usize,
        coef: impl Fn(usize) -> (f32, f32, f32),
    ) {
        // ‖X‖ (accumulated wide, rounded to bfloat16), clamped at eps, then X / ‖X‖
        let norm = self.x.iter().fold(0.0f64, |s, &v| (v as f64).mul_add(v as f64, s)).sqrt();
        let norm = bf16_of_f32(norm as f32) as f64;
        let norm = bf16_of_f32(if norm < eps { eps } else { norm } as f32);
        for v in self.x.iter_mut() {
            *v = bf16_of_f32(*v / norm);
        }
        for i in 0..steps {
            let (a, b, c) = coef(i);
            let s = &mut *self;
            let sizes = (p, q, a, b, c);
            match path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has the instruction set (checked just before)
                Path::Avx512 if path.supported() => unsafe { one_step_avx512(s, sizes) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above
                Path::Avx2 if path.supported() => unsafe { one_step_avx2(s, sizes) },
                _ => one_step::<false>(s, sizes),
            }
            std::mem::swap(&mut self.x, &mut self.next);
        }
    }
}

/// pytorch-optimizer's coefficient presets of `zero_power_via_newton_schulz_5`
/// (`ns_coeffs`): the names and their (a, b, c) per iteration, the last repeated.
pub(super) const NS_PRESETS: &[&str] = &["original", "quintic", "polar_express", "polar_express_safer"];

/// The coefficients of preset `name` (see [`NS_PRESETS`]; anything else is "original").
pub(super) fn ns_preset(name: &str) -> &'static [(f64, f64, f64)] {
    match name {
        "quintic" => &[
            (4.0848, -6.8946, 2.9270),
            (3.9505, -6.3029, 2.6377),
            (3.7418, -5.5913, 2.3037),
            (2.8769, -3.1427, 1.2046),
            (2.8366, -3.0525, 1.2012),
        ],
        "polar_express" => &[
            (8.237312490495555, -23.157747414558198, 16.680568411445915),
            (4.082441999064835, -2.893047735332586, 0.5252849256975648),
            (3.9263479922546582, -2.8547468034765298, 0.5318022422894988),
            (3.2982187133085143, -2.424541981026706, 0.48632008358844075),
            (2.2970369434552573, -1.63662558125903, 0.4002628455953627),
            (1.8763805351440397, -1.2347896577722228, 0.35891887501668385),
            (1.8564423485617974, -1.2132449880935525, 0.3568003487825883),
            (1.8749994008682747, -1.2499988017229169, 0.3749994008546422),
        ],
        "polar_express_safer" => &[
            (8.156554524902461, -22.48329292557795, 15.878769915207462),
            (4.0429299351667245, -2.808917465908704, 0.5000178451051299),
            (3.8916678022926563, -2.7724841532176825, 0.5060648178503389),
            (3.285753657755658, -2.3681294933425394, 0.46449024233003117),
            (2.3005307116270983, -1.6111665557258408, 0.3833374427545273),
            (1.8631210546382593, -1.2042160621002727, 0.3421879560523383),
            (1.8382572152247512, -1.1779263289537742, 0.3396513038637379),
            (1.8749999923301852, -1.2499999836060613, 0.374999991275876),
        ],
        _ => &[(3.4445, -4.7750, 2.0315)],
    }
}

/// pytorch-optimizer's `zero_power_via_newton_schulz_5` (bfloat16, eps 1e-7) of the
/// rows × cols matrix `m`: transposed when rows > cols, cast to bfloat16, divided by its
/// norm, then `steps` iterations with the preset's coefficients (iteration i takes entry
/// min(i, last)). The result (bfloat16 values held as f32) is written to `out`, rows × cols
/// like `m`.
pub(super) fn zero_power_bf16<T: super::Real>(
    ns: &mut NewtonSchulz,
    m: &[T],
    rows: usize,
    cols: usize,
    steps: usize,
    coefs: &[(f64, f64, f64)],
    out: &mut [f32],
) {
    let transposed = rows > cols;
    let (p, q) = if transposed { (cols, rows) } else { (rows, cols) };
    let x = ns.start(p, q);
    for i in 0..rows {
        for j in 0..cols {
            let v = bf16_of_f32(m[i * cols + j].f64() as f32);
            if transposed {
                x[j * q + i] = v;
            } else {
                x[i * q + j] = v;
            }
        }
    }
    let coef = |i: usize| {
        let (a, b, c) = coefs[i.min(coefs.len() - 1)];
        (a as f32, b as f32, c as f32)
    };
    ns.iterate_schedule_on(crate::kernels::active(), p, q, 1e-7, steps, coef);
    for i in 0..rows {
        for j in 0..cols {
            out[i * cols + j] = if transposed { ns.x[j * q + i] } else { ns.x[i * q + j] };
        }
    }
}

type Sizes = (usize, usize, f32, f32, f32);

/// One iteration, X → `next` (p × q, coefficients a, b, c), inlined into each path's build.
#[inline(always)]
fn one_step<const F: bool>(s: &mut NewtonSchulz, (p, q, a, b, c): Sizes) {
    transpose(&s.x, p, q, &mut s.xt);
    gram::<F>(&s.x, &s.xt, p, q, &mut s.gram);
    addmm::<F>(&s.gram, &s.gram, &s.gram, p, p, p, b, c, &mut s.poly);
    addmm::<F>(&s.poly, &s.x, &s.x, p, p, q, a, 1.0, &mut s.next);
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn one_step_avx2(s: &mut NewtonSchulz, sizes: Sizes) {
    one_step::<true>(s, sizes)
}

/// # Safety
/// The CPU must have AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn one_step_avx512(s: &mut NewtonSchulz, sizes: Sizes) {
    one_step::<true>(s, sizes)
}

/// `acc[e] += a·row[e]` for the first `w` entries (all W of them in one fixed-size loop when
/// the block is full, which the compiler turns into vector instructions). The product of two
/// bfloat16 values is exact in f32, so the fused multiply-add rounds as `a * row[e] + acc[e]`
/// does: `F` (the vector paths, which have FMA instructions) fuses, the scalar build
/// multiplies and adds, with the same bits.
#[inline(always)]
fn axpy<const F: bool>(acc: &mut [f32; W], a: f32, row: &[f32], w: usize) {
    let madd = |a: f32, b: f32, c: f32| if F { a.mul_add(b, c) } else { a * b + c };
    if w == W {
        let row: &[f32; W] = row[..W].try_into().expect("a full block");
        for e in 0..W {
            acc[e] = madd(a, row[e], acc[e]);
        }
    } else {
        for (x, &r) in acc.iter_mut().zip(&row[..w]) {
            *x = madd(a, r, *x);
        }
    }
}

#[inline(always)]
fn transpose(x: &[f32], p: usize, q: usize, xt: &mut [f32]) {
    for i in 0..p {
        for (j, &v) in x[i * q..(i + 1) * q].iter().enumerate() {
            xt[j * p + i] = v;
        }
    }
}

/// `out = bf16(X Xᵀ)` (p × p) in the order of the vectorised bfloat16 dot product; `xt` is
/// Xᵀ (q × p). Only the blocks on and above the diagonal are computed, then mirrored (the
/// same products in the same order: A is symmetric bit for bit).
#[inline(always)]
fn gram<const F: bool>(x: &[f32], xt: &[f32], p: usize, q: usize, out: &mut [f32]) {
    let main = q & !63;
    let vectors = q & !15;
    let mut leaves = [[0f32; W]; 64];
    for i in 0..p {
        let xi = &x[i * q..(i + 1) * q];
        let mut k0 = i - i % W;
        while k0 < p {
            let w = W.min(p - k0);
            // the 64 partial sums of the entries (i, k0..k0 + w)
            for (s4, quad) in leaves.chunks_exact_mut(4).enumerate() {
                // four partial sums at a time: independent chains for the pipeline
                let (mut a0, mut a1, mut a2, mut a3) = ([0f32; W], [0f32; W], [0f32; W], [0f32; W]);
                let mut l = 4 * s4;
                while l < main {
                    axpy::<F>(&mut a0, xi[l], &xt[l * p + k0..], w);
                    axpy::<F>(&mut a1, xi[l + 1], &xt[(l + 1) * p + k0..], w);
                    axpy::<F>(&mut a2, xi[l + 2], &xt[(l + 2) * p + k0..], w);
                    axpy::<F>(&mut a3, xi[l + 3], &xt[(l + 3) * p + k0..], w);
                    l += 64;
                }
                quad.copy_from_slice(&[a0, a1, a2, a3]);
            }
            // registers r = s / 8, lanes j = s % 8: fold registers, then lanes
            let reg = |r: usize, j: usize| &leaves[8 * r + j];
            let mut sum = [0f32; W];
            let mut lane = [[0f32; W]; 8];
            for (j, lj) in lane.iter_mut().enumerate() {
                for (e, v) in lj.iter_mut().enumerate() {
                    let r04 = reg(0, j)[e] + reg(4, j)[e];
                    let r26 = reg(2, j)[e] + reg(6, j)[e];
                    let r15 = reg(1, j)[e] + reg(5, j)[e];
                    let r37 = reg(3, j)[e] + reg(7, j)[e];
                    *v = (r04 + r26) + (r15 + r37);
                }
            }
            for e in 0..W {
                sum[e] = ((lane[0][e] + lane[4][e]) + (lane[2][e] + lane[6][e]))
                    + ((lane[1][e] + lane[5][e]) + (lane[3][e] + lane[7][e]));
            }
            // the 8-element chunks up to the last multiple of 16, into one register
            let mut tail = [[0f32; W]; 8];
            let mut l = main;
            while l < vectors {
                for (j, tj) in tail.iter_mut().enumerate() {
                    axpy::<F>(tj, xi[l + j], &xt[(l + j) * p + k0..], w);
                }
                l += 8;
            }
            for e in 0..W {
                sum[e] += ((tail[0][e] + tail[4][e]) + (tail[2][e] + tail[6][e]))
                    + ((tail[1][e] + tail[5][e]) + (tail[3][e] + tail[7][e]));
            }
            // the rest one by one
            for l in vectors..q {
                axpy::<F>(&mut sum, xi[l], &xt[l * p + k0..], w);
            }
            for (e, &v) in sum[..w].iter().enumerate() {
                let v = bf16_of_f32(v);
                out[i * p + k0 + e] = v;
                out[(k0 + e) * p + i] = v;
            }
            k0 += W;
        }
    }
}

/// `out = bf16(β·C + α·(L R))` with L m × k, R k × n, C and out m × n, each dot in the
/// generic gemm's four partial sums. One row of L at a time: its four W-wide partial sums
/// take 8 of AVX2's 16 registers (two rows sharing the loads of R measured slower: spills).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn addmm<const F: bool>(
    l: &[f32],
    r: &[f32],
    c: &[f32],
    m: usize,
    k: usize,
    n: usize,
    beta: f32,
    alpha: f32,
    out: &mut [f32],
) {
    for i in 0..m {
        addmm_rows::<F, 1>(l, r, c, i, k, n, beta, alpha, out);
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn addmm_rows<const F: bool, const R: usize>(
    l: &[f32],
    r: &[f32],
    c: &[f32],
    i0: usize,
    k: usize,
    n: usize,
    beta: f32,
    alpha: f32,
    out: &mut [f32],
) {
    let blocks = k & !3;
    let mut j0 = 0;
    while j0 < n {
        let w = W.min(n - j0);
        let mut acc = [[[0f32; W]; 4]; R];
        let mut t = 0;
        while t < blocks {
            for u in 0..4 {
                let row = &r[(t + u) * n + j0..];
                for (rr, a) in acc.iter_mut().enumerate() {
                    axpy::<F>(&mut a[u], l[(i0 + rr) * k + t + u], row, w);
                }
            }
            t += 4;
        }
        for t in blocks..k {
            let row = &r[t * n + j0..];
            for (rr, a) in acc.iter_mut().enumerate() {
                axpy::<F>(&mut a[0], l[(i0 + rr) * k + t], row, w);
            }
        }
        for (rr, a) in acc.iter().enumerate() {
            let i = i0 + rr;
            for e in 0..w {
                let dot = ((a[0][e] + a[1][e]) + a[2][e]) + a[3][e];
                out[i * n + j0 + e] = addmm_entry(beta, c[i * n + j0 + e], alpha, dot);
            }
        }
        j0 += W;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold_lanes(v: [f32; 8]) -> f32 {
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
    fn dot_vectorised(x: &[f32], y: &[f32]) -> f32 {
        let len = x.len();
        let main = len & !63;
        let mut acc = [[0f32; 8]; 8];
        for (xb, yb) in x[..main].chunks_exact(64).zip(y[..main].chunks_exact(64)) {
            for (r, reg) in acc.iter_mut().enumerate() {
                for lane in 0..8 {
                    reg[lane] += xb[r * 8 + lane] * yb[r * 8 + lane];
                }
            }
        }
        for half in [4, 2, 1] {
            for r in 0..half {
                let other = acc[r + half];
                for (a, b) in acc[r].iter_mut().zip(other) {
                    *a += b;
                }
            }
        }
        let mut sum = fold_lanes(acc[0]);
        let vectors = len & !15;
        let mut tail = [0f32; 8];
        for (xb, yb) in x[main..vectors].chunks_exact(8).zip(y[main..vectors].chunks_exact(8)) {
            for lane in 0..8 {
                tail[lane] += xb[lane] * yb[lane];
            }
        }
        sum += fold_lanes(tail);
        for (&a, &b) in x[vectors..].iter().zip(&y[vectors..]) {
            sum += a * b;
        }
        sum
    }
    fn dot_ilp4(n: usize, f: impl Fn(usize) -> f32) -> f32 {
        let mut s = [0f32; 4];
        let blocks = n & !3;
        for l in (0..blocks).step_by(4) {
            for (k, sk) in s.iter_mut().enumerate() {
                *sk += f(l + k);
            }
        }
        for l in blocks..n {
            s[0] += f(l);
        }
        ((s[0] + s[1]) + s[2]) + s[3]
    }

    /// The direct transcription of torch's orders, one entry at a time (the code these
    /// kernels replaced, checked against torch).
    fn reference(x0: &[f32], p: usize, q: usize, eps: f64, (a, b, c): (f32, f32, f32), steps: usize) -> Vec<f32> {
        let mut x = x0.to_vec();
        let norm = x.iter().fold(0.0f64, |s, &v| (v as f64).mul_add(v as f64, s)).sqrt();
        let norm = bf16_of_f32(norm as f32) as f64;
        let norm = bf16_of_f32(if norm < eps { eps } else { norm } as f32);
        for v in x.iter_mut() {
            *v = bf16_of_f32(*v / norm);
        }
        let (mut gram, mut poly, mut next) = (vec![0f32; p * p], vec![0f32; p * p], vec![0f32; p * q]);
        for _ in 0..steps {
            for i in 0..p {
                for k in 0..p {
                    gram[i * p + k] = bf16_of_f32(dot_vectorised(&x[i * q..(i + 1) * q], &x[k * q..(k + 1) * q]));
                }
            }
            for i in 0..p {
                for k in 0..p {
                    let dot = dot_ilp4(p, |l| gram[i * p + l] * gram[l * p + k]);
                    poly[i * p + k] = addmm_entry(b, gram[i * p + k], c, dot);
                }
            }
            for i in 0..p {
                for j in 0..q {
                    let dot = dot_ilp4(p, |l| poly[i * p + l] * x[l * q + j]);
                    next[i * q + j] = addmm_entry(a, x[i * q + j], 1.0, dot);
                }
            }
            std::mem::swap(&mut x, &mut next);
        }
        x
    }

    fn matrix(p: usize, q: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..p * q)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                bf16_of_f32((u * 10f64.powf(3.0 * u)) as f32)
            })
            .collect()
    }

    #[test]
    fn the_fast_iteration_equals_torchs_orders_bit_for_bit_on_every_kernel_path_and_shape() {
        let coef = (3.4445f32, -4.775f32, 2.0315f32);
        let shapes =
            [(1, 1), (1, 7), (3, 70), (5, 64), (16, 16), (17, 100), (33, 129), (64, 200), (70, 100), (128, 384)];
        for (n, &(p, q)) in shapes.iter().enumerate() {
            let x0 = matrix(p, q, 7 + n as u64);
            let want = reference(&x0, p, q, 1e-7, coef, 5);
            for path in crate::kernels::supported() {
                let mut ns = NewtonSchulz::default();
                ns.start(p, q).copy_from_slice(&x0);
                ns.iterate_on(path, p, q, 1e-7, coef, 5);
                let got = ns.x;
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{path}: {p}×{q} differs from the reference");
            }
        }
    }

    #[test]
    fn products_are_summed_in_the_order_of_torchs_kernels() {
        let mut x = vec![0f32; 64];
        (x[0], x[8], x[32]) = (1e8, 1.0, -1e8); // registers 0, 1, 4 of the 64-element block
        let ones = vec![1f32; 64];
        assert_eq!(dot_vectorised(&x, &ones), 1.0, "registers 0 and 4 meet first");
        assert_eq!(x.iter().fold(0f32, |s, &v| s + v), 0.0, "in order the 1 is lost");
        let y = [1e8f32, 1.0, 0.0, 0.0, -1e8];
        assert_eq!(dot_ilp4(5, |l| y[l]), 1.0, "the tail joins the first partial sum");
        // the 16-element and scalar tails: 64 + 16 + 3 elements
        let x: Vec<f32> = (0..83).map(|i| i as f32).collect();
        assert_eq!(dot_vectorised(&x, &ones.iter().chain(&ones).copied().collect::<Vec<_>>()[..83]), 3403.0);
    }

    #[test]
    #[ignore = "a measurement, not a test: cargo test --release --lib newton_schulz_speed -- --ignored --nocapture"]
    fn newton_schulz_speed() {
        for (p, q) in [(128, 384), (128, 512), (128, 128)] {
            let x0 = matrix(p, q, 3);
            for path in crate::kernels::supported() {
                let mut ns = NewtonSchulz::default();
                let mut best = f64::INFINITY;
                for _ in 0..5 {
                    ns.start(p, q).copy_from_slice(&x0);
                    let t = std::time::Instant::now();
                    ns.iterate_on(path, p, q, 1e-7, (3.4445, -4.775, 2.0315), 5);
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let flop = 5.0 * (2.0 * (p * p * q) as f64 * 2.0 + 2.0 * (p * p * p) as f64);
                println!("{path} {p}×{q}: {:.2} ms, {:.1} GFLOP/s", best * 1e3, flop / best / 1e9);
            }
        }
    }

    #[test]
    fn bf16_rounding_keeps_nan_and_rounds_ties_to_even() {
        assert!(bf16_of_f32(f32::NAN).is_nan());
        let up = 2f32.powi(-7);
        assert_eq!(bf16_of_f32(1.0 + up / 2.0), 1.0);
        assert_eq!(bf16_of_f32(1.0 + 1.5 * up), 1.0 + 2.0 * up);
        assert_eq!(bf16_of_f32(f32::INFINITY), f32::INFINITY);
    }
}
