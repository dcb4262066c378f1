//! The network kernels, written once over [`F32x16`] and compiled for each backend.
//!
//! Every output element is computed by the same sequence of IEEE operations on every
//! backend, which is what makes the networks' numbers independent of the CPU:
//!
//! - products along a row ([`dots`], the convolution weight gradient, [`sum`]) keep 16
//!   partial sums (lane l takes elements l, l+16, l+32, …; a short last chunk is zero-filled)
//!   and end with the fixed reduction tree of [`F32x16::reduce`];
//! - products vectorised across outputs ([`gemm`], the direct convolution and its input
//!   gradient) add their terms to each output one fused multiply-add at a time, in a fixed
//!   order of the summed index, so the vector width does not enter at all.
//!
//! Register blocking (how many rows and columns one tile covers) differs per backend — it
//! decides speed, never the order of any sum.
//!
//! Safety: the callers in `mod.rs` check that every index these kernels touch lies inside
//! the slices; the kernels themselves then use unchecked pointer arithmetic.

use super::simd::F32x16;
use super::{ConvGeom, Init};

/// Loads a full vector (`m` ≥ 16) or the `m` lanes of the prepared tail `t`.
#[inline(always)]
unsafe fn ld<S: F32x16>(s: S, p: *const f32, m: usize, t: S::T) -> S::V {
    if m >= 16 {
        s.load(p)
    } else {
        s.load_t(p, t)
    }
}

#[inline(always)]
unsafe fn st<S: F32x16>(s: S, p: *mut f32, v: S::V, m: usize, t: S::T) {
    if m >= 16 {
        s.store(p, v)
    } else {
        s.store_t(p, v, t)
    }
}

/// `y[i·o + j] = Σ_l x[i·k + l]·w[j·k + l]` (16 partial sums, fixed tree), then `init`:
/// `Zero` stores the sum, `Keep` adds it to `y`, `Bias(b)` adds `b[j]`. Tiles of R rows of
/// x × J rows of w.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dots<S: F32x16, const R: usize, const J: usize>(
    s: S,
    x: &[f32],
    w: &[f32],
    n: usize,
    k: usize,
    o: usize,
    init: Init,
    y: &mut [f32],
) {
    let (xp, wp, yp) = (x.as_ptr(), w.as_ptr(), y.as_mut_ptr());
    let mut i0 = 0;
    while i0 + R <= n {
        dots_rows::<S, R, J>(s, xp, wp, k, o, i0, init, yp);
        i0 += R;
    }
    while i0 < n {
        dots_rows::<S, 1, J>(s, xp, wp, k, o, i0, init, yp);
        i0 += 1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dots_rows<S: F32x16, const R: usize, const J: usize>(
    s: S,
    x: *const f32,
    w: *const f32,
    k: usize,
    o: usize,
    i0: usize,
    init: Init,
    y: *mut f32,
) {
    let mut j0 = 0;
    while j0 + J <= o {
        dots_tile::<S, R, J>(s, x, w, k, o, i0, j0, init, y);
        j0 += J;
    }
    while j0 < o {
        dots_tile::<S, R, 1>(s, x, w, k, o, i0, j0, init, y);
        j0 += 1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dots_tile<S: F32x16, const R: usize, const J: usize>(
    s: S,
    x: *const f32,
    w: *const f32,
    k: usize,
    o: usize,
    i0: usize,
    j0: usize,
    init: Init,
    y: *mut f32,
) {
    let mut acc = [[s.zero(); J]; R];
    let (xp, wp) = (x.add(i0 * k), w.add(j0 * k));
    // full chunks of 16, then the tail (its mask prepared once)
    let mut l = 0;
    while l < k {
        let m = (k - l).min(16);
        let t = s.tail(m);
        let mut wv = [s.zero(); J];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = ld(s, wp.add(j * k + l), m, t);
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let xv = ld(s, xp.add(i * k + l), m, t);
            for (a, &wj) in row.iter_mut().zip(&wv) {
                *a = s.fma(xv, wj, *a);
            }
        }
        l += m;
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, a) in row.iter().enumerate() {
            let r = s.reduce(*a);
            let dst = y.add((i0 + i) * o + j0 + j);
            *dst = match init {
                Init::Zero => r,
                Init::Keep => *dst + r,
                Init::Bias(b) => r + *b.get_unchecked(j0 + j),
            };
        }
    }
}

/// The operands of [`gemm`]: `C[i][j] = init + Σ_l A(i, l)·B(l, j)` for i < m, j < n,
/// l < kd, with `A(i, l) = a[i·rsa + l·csa]`, `B(l, j) = b[l·rsb + j·csb]`, `C[i][j] =
/// c[i·rsc + j]`.
#[derive(Clone, Copy)]
pub(super) struct Gemm<'a> {
    pub m: usize,
    pub kd: usize,
    pub n: usize,
    pub a: &'a [f32],
    pub rsa: usize,
    pub csa: usize,
    pub b: &'a [f32],
    pub rsb: usize,
    pub csb: usize,
    pub rsc: usize,
}

/// Depth of a k-block of the packed product: the terms l in `pc..pc + KC` of every output
/// are added in one pass over the block, and the blocks follow each other in increasing
/// order, each starting from the value the previous one stored in C (a store and reload of
/// an f32 is exact, so the sum is the one unblocked code would compute).
const KC: usize = 256;
/// Rows of A packed at once (a multiple of every path's register rows: 4, 6 and 8).
const MC: usize = 96;
/// Columns of B packed at once (a multiple of every path's register width: 16 and 32).
const NC: usize = 256;
/// The f32s of one thread's packing buffer: a k-block of B's columns, one of A's rows, and
/// room to align the start to 64 bytes.
const PACK_LEN: usize = KC * NC + MC * KC + 16;

thread_local! {
    /// Each thread's packing buffer, allocated by its first packed product and kept.
    static PACK: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Takes this thread's packing buffer (allocating it on the first call only).
fn take_pack() -> Vec<f32> {
    let v = PACK.take();
    if v.len() >= PACK_LEN {
        v
    } else {
        vec![0.0; PACK_LEN]
    }
}

fn put_pack(v: Vec<f32>) {
    PACK.set(v);
}

/// Whether packing pays for a product of this shape (it copies B once per k-block and A
/// once per k-block and column block; with few rows that copy is not repaid). Either way
/// every output gets the same bits.
fn packing_pays(g: &Gemm, r: usize) -> bool {
    g.csb != 1 || (g.m >= 4 * r && g.kd >= 16 && g.n >= 16)
}

/// `C = init + A·B`, each element's terms added one fused multiply-add at a time in the
/// order l = 0, 1, …, starting from 0 (`Zero`), from C (`Keep`) or from `bias[i]` (`Bias`).
/// Register tiles of R rows × CW vectors of 16 columns; large products pack B and A into
/// contiguous panels first, in blocks of KC terms, MC rows and NC columns (see [`KC`]).
#[inline(always)]
pub(super) unsafe fn gemm<S: F32x16, const R: usize, const CW: usize>(s: S, g: &Gemm, init: Init, c: &mut [f32]) {
    if g.kd == 0 || !packing_pays(g, R) {
        return gemm_direct::<S, R, CW>(s, g, init, c);
    }
    let mut buf = take_pack();
    // align the panels to 64 bytes (the offset is below 16 f32s)
    let off = buf.as_ptr().align_offset(64).min(16);
    let base = buf.as_mut_ptr().add(off);
    gemm_packed::<S, R, CW>(s, g, init, c.as_mut_ptr(), base, base.add(KC * NC));
    put_pack(buf);
}

/// The packed product: for each block of NC columns and each k-block (in increasing
/// order), B's block is packed into panels of 16·CW columns (kc rows × panel width,
/// zero-padded), then for each block of MC rows A's block is packed into panels of R rows
/// (kc × R, zero-padded), and every (row panel, column panel) pair runs [`micro`].
#[inline(always)]
unsafe fn gemm_packed<S: F32x16, const R: usize, const CW: usize>(
    s: S,
    g: &Gemm,
    init: Init,
    c: *mut f32,
    bp: *mut f32,
    ap: *mut f32,
) {
    let nr = 16 * CW;
    let mut jc = 0;
    while jc < g.n {
        let nc = (g.n - jc).min(NC);
        let mut pc = 0;
        while pc < g.kd {
            let kc = (g.kd - pc).min(KC);
            pack_b(s, g, pc, kc, jc, nc, nr, bp);
            let start = if pc == 0 { init } else { Init::Keep };
            let mut ic = 0;
            while ic < g.m {
                let mc = (g.m - ic).min(MC);
                pack_a::<R>(g, ic, mc, pc, kc, ap);
                let (mut j, mut boff) = (0, 0);
                while j < nc {
                    let w = (nc - j).min(nr);
                    let pw = panel_width(w, nr);
                    let mut i = 0;
                    while i < mc {
                        let h = (mc - i).min(R);
                        let cij = c.add((ic + i) * g.rsc + jc + j);
                        let (a, b) = (ap.add(i * kc), bp.add(boff));
                        if pw == nr {
                            micro::<S, R, CW>(s, kc, a, b, cij, g.rsc, h, w, start, ic + i);
                        } else {
                            micro::<S, R, 1>(s, kc, a, b, cij, g.rsc, h, w, start, ic + i);
                        }
                        i += R;
                    }
                    boff += kc * pw;
                    j += w;
                }
                ic += mc;
            }
            pc += kc;
        }
        jc += nc;
    }
}

/// The packed width of a column panel with `w` valid columns: the full width, or 16 when
/// the columns fit one vector (so a narrow last panel does not do a wide panel's work).
#[inline(always)]
fn panel_width(w: usize, nr: usize) -> usize {
    if w <= 16 {
        16
    } else {
        nr
    }
}

/// Packs `B(pc + l, jc + j)` for l < kc, j < nc into column panels (see [`gemm_packed`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_b<S: F32x16>(s: S, g: &Gemm, pc: usize, kc: usize, jc: usize, nc: usize, nr: usize, dst: *mut f32) {
    let b = g.b.as_ptr();
    let (mut j, mut d) = (0, dst);
    while j < nc {
        let w = (nc - j).min(nr);
        let pw = panel_width(w, nr);
        if g.csb == 1 {
            // whole vectors, the last one zero-filled past the panel's columns
            for l in 0..kc {
                let src = b.add((pc + l) * g.rsb + jc + j);
                let row = d.add(l * pw);
                let mut q = 0;
                while q < pw {
                    let m = w.saturating_sub(q).min(16);
                    let v = match m {
                        16 => s.load(src.add(q)),
                        0 => s.zero(),
                        _ => s.load_t(src.add(q), s.tail(m)),
                    };
                    s.store(row.add(q), v);
                    q += 16;
                }
            }
        } else {
            // a transposed B: read along l (contiguous when rsb = 1), one column at a time
            for jj in 0..w {
                let src = b.add(pc * g.rsb + (jc + j + jj) * g.csb);
                let mut l = 0;
                while l + 4 <= kc {
                    let (v0, v1, v2, v3) = (
                        *src.add(l * g.rsb),
                        *src.add((l + 1) * g.rsb),
                        *src.add((l + 2) * g.rsb),
                        *src.add((l + 3) * g.rsb),
                    );
                    *d.add(l * pw + jj) = v0;
                    *d.add((l + 1) * pw + jj) = v1;
                    *d.add((l + 2) * pw + jj) = v2;
                    *d.add((l + 3) * pw + jj) = v3;
                    l += 4;
                }
                while l < kc {
                    *d.add(l * pw + jj) = *src.add(l * g.rsb);
                    l += 1;
                }
            }
            if w < pw {
                for l in 0..kc {
                    std::ptr::write_bytes(d.add(l * pw + w), 0, pw - w);
                }
            }
        }
        d = d.add(kc * pw);
        j += w;
    }
}

/// Packs `A(ic + i, pc + l)` for i < mc, l < kc into row panels of R (see [`gemm_packed`]):
/// for each l the R values of the panel's rows, written contiguously (R independent reads,
/// each row read in order when A is row-major), zeros for rows past the block.
#[inline(always)]
unsafe fn pack_a<const R: usize>(g: &Gemm, ic: usize, mc: usize, pc: usize, kc: usize, dst: *mut f32) {
    let a = g.a.as_ptr();
    let mut i0 = 0;
    while i0 < mc {
        let h = (mc - i0).min(R);
        let d = dst.add(i0 * kc);
        let mut rows = [a; R];
        for (r, p) in rows.iter_mut().enumerate() {
            // past the block: any valid row, its values unused (zeros are written instead)
            *p = a.add((ic + i0 + r.min(h - 1)) * g.rsa + pc * g.csa);
        }
        for l in 0..kc {
            let mut v = [0f32; R];
            for r in 0..R {
                v[r] = if r < h { *rows[r].add(l * g.csa) } else { 0.0 };
            }
            std::ptr::write_unaligned(d.add(l * R) as *mut [f32; R], v);
        }
        i0 += R;
    }
}

/// One register tile of the packed product: `h` ≤ R rows and `w` ≤ 16·CW columns of C at
/// `c`, from a packed row panel `a` (kc × R) and column panel `b` (kc × 16·CW). Each
/// accumulator starts from `start` (`Bias` takes the bias of row `row0 + i`), adds its kc
/// terms in order, and is stored; padded rows and columns are computed and dropped.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<S: F32x16, const R: usize, const CW: usize>(
    s: S,
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    rsc: usize,
    h: usize,
    w: usize,
    start: Init,
    row0: usize,
) {
    let last = (w - 1) / 16;
    let t = s.tail(w - 16 * last);
    let width = |q: usize| if q == last { w - 16 * last } else { 16 };
    let mut acc = [[s.zero(); CW]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        for (q, v) in row.iter_mut().enumerate() {
            if i >= h || q > last {
                continue;
            }
            *v = match start {
                Init::Zero => s.zero(),
                Init::Keep => ld(s, c.add(i * rsc + 16 * q), width(q), t),
                Init::Bias(bias) => s.splat(*bias.get_unchecked(row0 + i)),
            };
        }
    }
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let mut bv = [s.zero(); CW];
        for (q, v) in bv.iter_mut().enumerate() {
            *v = s.load(bp.add(16 * q));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = s.splat(*ap.add(i));
            for (v, &bq) in row.iter_mut().zip(&bv) {
                *v = s.fma(av, bq, *v);
            }
        }
        ap = ap.add(R);
        bp = bp.add(16 * CW);
    }
    for (i, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            if i >= h || q > last {
                continue;
            }
            st(s, c.add(i * rsc + 16 * q), *v, width(q), t);
        }
    }
}

/// The product without packing (small products, and those where packing does not pay):
/// tiles of R rows × CW vectors of 16 columns read straight from A and B (`csb` = 1).
#[inline(always)]
unsafe fn gemm_direct<S: F32x16, const R: usize, const CW: usize>(s: S, g: &Gemm, init: Init, c: &mut [f32]) {
    let cp = c.as_mut_ptr();
    let mut j0 = 0;
    while j0 + 16 * CW <= g.n {
        gemm_rows::<S, R, CW>(s, g, init, cp, j0, 16);
        j0 += 16 * CW;
    }
    while j0 < g.n {
        let tail = (g.n - j0).min(16);
        gemm_rows::<S, R, 1>(s, g, init, cp, j0, tail);
        j0 += 16;
    }
}

#[inline(always)]
unsafe fn gemm_rows<S: F32x16, const R: usize, const CW: usize>(
    s: S,
    g: &Gemm,
    init: Init,
    c: *mut f32,
    j0: usize,
    tail: usize,
) {
    let mut i0 = 0;
    while i0 + R <= g.m {
        gemm_tile::<S, R, CW>(s, g, init, c, i0, j0, tail);
        i0 += R;
    }
    while i0 < g.m {
        gemm_tile::<S, 1, CW>(s, g, init, c, i0, j0, tail);
        i0 += 1;
    }
}

/// One tile; `tail` is the number of valid columns in its last vector (16 when full).
#[inline(always)]
unsafe fn gemm_tile<S: F32x16, const R: usize, const CW: usize>(
    s: S,
    g: &Gemm,
    init: Init,
    c: *mut f32,
    i0: usize,
    j0: usize,
    tail: usize,
) {
    let width = |q: usize| if q + 1 == CW { tail } else { 16 };
    let t = s.tail(tail);
    let cptr = |i: usize, q: usize| c.add((i0 + i) * g.rsc + j0 + 16 * q);
    let mut acc = [[s.zero(); CW]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        for (q, v) in row.iter_mut().enumerate() {
            *v = match init {
                Init::Zero => s.zero(),
                Init::Keep => ld(s, cptr(i, q), width(q), t),
                Init::Bias(b) => s.splat(*b.get_unchecked(i0 + i)),
            };
        }
    }
    let (a, b) = (g.a.as_ptr(), g.b.as_ptr());
    for l in 0..g.kd {
        let mut bv = [s.zero(); CW];
        for (q, v) in bv.iter_mut().enumerate() {
            *v = ld(s, b.add(l * g.rsb + j0 + 16 * q), width(q), t);
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = s.splat(*a.add((i0 + i) * g.rsa + l * g.csa));
            for (v, &bq) in row.iter_mut().zip(&bv) {
                *v = s.fma(av, bq, *v);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            st(s, cptr(i, q), *v, width(q), t);
        }
    }
}

/// Stride-1 convolution of one zero-padded sample into its output planes:
/// `y[c][oy][ox] = bias[c] + Σ_t w[c][t]·padded[offs[t] + oy·wp + ox]`, the taps t in
/// weight order, one fused multiply-add each. Output channels in groups of G.
#[inline(always)]
pub(super) unsafe fn conv_forward<S: F32x16, const G: usize>(
    s: S,
    g: &ConvGeom,
    padded: &[f32],
    wt: &[f32],
    bias: &[f32],
    y: &mut [f32],
) {
    let mut c0 = 0;
    while c0 + G <= g.cout {
        conv_group::<S, G>(s, g, padded, wt, bias, y, c0);
        c0 += G;
    }
    match g.cout - c0 {
        0 => {}
        1 => conv_group::<S, 1>(s, g, padded, wt, bias, y, c0),
        2 => conv_group::<S, 2>(s, g, padded, wt, bias, y, c0),
        3 => conv_group::<S, 3>(s, g, padded, wt, bias, y, c0),
        _ => {
            while c0 < g.cout {
                conv_group::<S, 1>(s, g, padded, wt, bias, y, c0);
                c0 += 1;
            }
        }
    }
}

#[inline(always)]
unsafe fn conv_group<S: F32x16, const G: usize>(
    s: S,
    g: &ConvGeom,
    padded: &[f32],
    wt: &[f32],
    bias: &[f32],
    y: &mut [f32],
    c0: usize,
) {
    let taps = g.offs.len();
    let (pp, yp, wp) = (padded.as_ptr(), y.as_mut_ptr(), wt.as_ptr());
    // each output is computed on its own, so a row of at least 16 ends with a full vector
    // that overlaps the previous one (the same values written twice) instead of a masked one
    let tm = s.tail(g.ow.min(16));
    for oy in 0..g.oh {
        let mut j = 0;
        while j < g.ow {
            let mut m = (g.ow - j).min(16);
            if m < 16 && g.ow >= 16 {
                (j, m) = (g.ow - 16, 16);
            }
            let mut acc = [s.zero(); G];
            for (c, a) in acc.iter_mut().enumerate() {
                *a = s.splat(*bias.get_unchecked(c0 + c));
            }
            for (t, &off) in g.offs.iter().enumerate() {
                let src = ld(s, pp.add(off + oy * g.wp + j), m, tm);
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = s.fma(s.splat(*wp.add((c0 + c) * taps + t)), src, *a);
                }
            }
            for (c, a) in acc.iter().enumerate() {
                st(s, yp.add(((c0 + c) * g.oh + oy) * g.ow + j), *a, m, tm);
            }
            j += m;
        }
    }
}

/// One sample's weight gradient of a stride-1 convolution, added into `dw` (cout × taps):
/// `dw[c][t] += Σ_(oy, ox) dy[c][oy][ox]·padded[offs[t] + oy·wp + ox]`, as 16 partial sums
/// over the positions of each output row (lane l takes columns l, l+16, …) and the fixed
/// tree. Tiles of G channels × T taps.
#[inline(always)]
pub(super) unsafe fn conv_weight_grad<S: F32x16, const G: usize, const T: usize>(
    s: S,
    g: &ConvGeom,
    padded: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) {
    let taps = g.offs.len();
    let mut c0 = 0;
    while c0 < g.cout {
        let gc = (g.cout - c0).min(G);
        let mut t0 = 0;
        while t0 < taps {
            let tt = (taps - t0).min(T);
            if gc == G && tt == T {
                wgrad_tile::<S, G, T>(s, g, padded, dy, dw, c0, t0);
            } else {
                for c in c0..c0 + gc {
                    for t in t0..t0 + tt {
                        wgrad_tile::<S, 1, 1>(s, g, padded, dy, dw, c, t);
                    }
                }
            }
            t0 += tt;
        }
        c0 += gc;
    }
}

#[inline(always)]
unsafe fn wgrad_tile<S: F32x16, const G: usize, const T: usize>(
    s: S,
    g: &ConvGeom,
    padded: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    c0: usize,
    t0: usize,
) {
    let taps = g.offs.len();
    let (pp, dp) = (padded.as_ptr(), dy.as_ptr());
    let mut offs = [0usize; T];
    offs.copy_from_slice(&g.offs[t0..t0 + T]);
    let mut acc = [[s.zero(); T]; G];
    let tm = s.tail((g.ow % 16).max(1));
    for oy in 0..g.oh {
        let mut j = 0;
        while j < g.ow {
            let m = (g.ow - j).min(16);
            let mut d = [s.zero(); G];
            for (c, v) in d.iter_mut().enumerate() {
                *v = ld(s, dp.add(((c0 + c) * g.oh + oy) * g.ow + j), m, tm);
            }
            for (t, &off) in offs.iter().enumerate() {
                let src = ld(s, pp.add(off + oy * g.wp + j), m, tm);
                for (c, row) in acc.iter_mut().enumerate() {
                    row[t] = s.fma(d[c], src, row[t]);
                }
            }
            j += m;
        }
    }
    let dwp = dw.as_mut_ptr();
    for (c, row) in acc.iter().enumerate() {
        for (t, a) in row.iter().enumerate() {
            let dst = dwp.add((c0 + c) * taps + t0 + t);
            *dst += s.reduce(*a);
        }
    }
}

/// One sample's gradient with respect to the zero-padded input of a stride-1 convolution,
/// added into `dpad` (cin planes of hp × wp): `dpad[ci][(oy+ky)·wp + ox+kx] +=
/// w[c][ci][ky][kx]·dy[c][oy][ox]`, each element's terms in the order (c, ky, kx).
#[inline(always)]
pub(super) unsafe fn conv_input_grad<S: F32x16>(s: S, g: &ConvGeom, dy: &[f32], wt: &[f32], dpad: &mut [f32]) {
    let (dp, wp, op) = (dy.as_ptr(), wt.as_ptr(), dpad.as_mut_ptr());
    let kk = g.k * g.k;
    let tm = s.tail((g.ow % 16).max(1));
    for c in 0..g.cout {
        for ci in 0..g.cin {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    let wv = s.splat(*wp.add((c * g.cin + ci) * kk + ky * g.k + kx));
                    for oy in 0..g.oh {
                        let dst = op.add(ci * g.hp * g.wp + (oy + ky) * g.wp + kx);
                        let src = dp.add((c * g.oh + oy) * g.ow);
                        let mut j = 0;
                        while j < g.ow {
                            let m = (g.ow - j).min(16);
                            let v = s.fma(wv, ld(s, src.add(j), m, tm), ld(s, dst.add(j), m, tm));
                            st(s, dst.add(j), v, m, tm);
                            j += m;
                        }
                    }
                }
            }
        }
    }
}

/// The sum of `a` as 16 partial sums (lane l takes a[l], a[l+16], …) and the fixed tree.
#[inline(always)]
pub(super) unsafe fn sum<S: F32x16>(s: S, a: &[f32]) -> f32 {
    let p = a.as_ptr();
    let mut acc = s.zero();
    let tm = s.tail((a.len() % 16).max(1));
    let mut l = 0;
    while l < a.len() {
        let m = (a.len() - l).min(16);
        acc = s.add(acc, ld(s, p.add(l), m, tm));
        l += m;
    }
    s.reduce(acc)
}

/// `iters` rounds of fused multiply-adds on A independent accumulators: a probe of the
/// path's peak FMA throughput. Returns a value that depends on every accumulator.
#[inline(always)]
pub(super) fn fma_probe<S: F32x16, const A: usize>(s: S, iters: usize, x: f32) -> f32 {
    let mut acc = [s.splat(x); A];
    let (m, c) = (s.splat(0.999_999), s.splat(1e-7));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = s.fma(*a, m, c);
        }
    }
    s.reduce(acc.into_iter().fold(s.zero(), |t, a| s.add(t, a)))
}

/// 2×2 max-pooling (stride 2) of one h×w plane into `y` ((h/2)×(w/2)), with the index
/// (`base` + position in the plane) of each window's maximum in `at`: the first maximum in
/// row-major window order wins and NaN propagates, as in PyTorch. With `relu`, of the
/// inputs after a ReLU (`v > 0 ? v : 0`). Branch-free selects, so the compiler vectorises it
/// for the entry point's instruction set; the result is exact.
#[inline(always)]
pub(super) fn maxpool2(x: &[f32], h: usize, w: usize, base: u32, relu: bool, y: &mut [f32], at: &mut [u32]) {
    let r = |v: f32| if !relu || v > 0.0 { v } else { 0.0 };
    let (oh, ow) = (h / 2, w / 2);
    for oy in 0..oh {
        let r0 = 2 * oy * w;
        let (row0, row1) = (&x[r0..r0 + w], &x[r0 + w..r0 + 2 * w]);
        let (yo, ao) = (&mut y[oy * ow..(oy + 1) * ow], &mut at[oy * ow..(oy + 1) * ow]);
        let (r0u, wu) = (base + r0 as u32, w as u32);
        for (ox, ((p0, p1), (yv, av))) in
            row0.chunks_exact(2).zip(row1.chunks_exact(2)).zip(yo.iter_mut().zip(ao.iter_mut())).enumerate()
        {
            let (a, b, c, d) = (r(p0[0]), r(p0[1]), r(p1[0]), r(p1[1]));
            let (mut best, mut arg) = (a, 0u32);
            let t = b > best || b.is_nan();
            best = if t { b } else { best };
            arg = if t { 1 } else { arg };
            let t = c > best || c.is_nan();
            best = if t { c } else { best };
            arg = if t { wu } else { arg };
            let t = d > best || d.is_nan();
            best = if t { d } else { best };
            arg = if t { wu + 1 } else { arg };
            *yv = best;
            *av = r0u + 2 * ox as u32 + arg;
        }
    }
}

/// `dst[idx[i]] = vals[i]`, in the order of i (a later duplicate index wins, as in the
/// AVX-512 scatter).
#[inline(always)]
pub(super) fn scatter(dst: &mut [f32], idx: &[u32], vals: &[f32]) {
    for (&i, &v) in idx.iter().zip(vals) {
        dst[i as usize] = v;
    }
}

/// The AVX2 max-pool, with the even/odd column split the compiler does not find on its own.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use crate::kernels::simd::store_part8;
    use std::arch::x86_64::*;

    /// All ones in the lanes `first..first + 8` that are below `m`.
    #[inline(always)]
    unsafe fn mask8(m: usize, first: i32) -> __m256i {
        let idx = _mm256_setr_epi32(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6, first + 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(m as i32), idx)
    }

    /// As [`super::maxpool2`], 8 outputs at a time.
    ///
    /// # Safety
    /// AVX2; `x` holds h×w values (w ≥ 2), `y` and `at` (h/2)×(w/2).
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn maxpool2(x: &[f32], h: usize, w: usize, base: u32, relu: bool, y: &mut [f32], at: &mut [u32]) {
        let (oh, ow) = (h / 2, w / 2);
        let xp = x.as_ptr();
        // max(v, +0) is the ReLU v > 0 ? v : 0 exactly (NaN and −0 give the second operand)
        let zero = _mm256_setzero_ps();
        let r = |v: __m256| if relu { _mm256_max_ps(v, zero) } else { v };
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for oy in 0..oh {
            let r0 = 2 * oy * w;
            let mut ox0 = 0;
            while ox0 < ow {
                let m = (ow - ox0).min(8);
                let n_in = 2 * m;
                let (lo_m, hi_m) = (mask8(n_in, 0), mask8(n_in, 8));
                // 2m consecutive inputs of a row, split into even and odd columns
                let load = |row: usize| {
                    let p = xp.add(row + 2 * ox0);
                    let lo = _mm256_maskload_ps(p, lo_m);
                    let hi = _mm256_maskload_ps(p.wrapping_add(8), hi_m);
                    // per 128-bit half: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then in order
                    let ev = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
                    let od = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
                    let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
                    (r(fix(ev)), r(fix(od)))
                };
                let (a, b) = load(r0);
                let (c, d) = load(r0 + w);
                let mut best = a;
                let mut idx = _mm256_setzero_si256();
                for (v, off) in [(b, 1), (c, w as i32), (d, w as i32 + 1)] {
                    let t = _mm256_or_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, best), _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                    best = _mm256_blendv_ps(best, v, t);
                    idx = _mm256_castps_si256(_mm256_blendv_ps(
                        _mm256_castsi256_ps(idx),
                        _mm256_castsi256_ps(_mm256_set1_epi32(off)),
                        t,
                    ));
                }
                // index = base + r0 + 2·(ox0 + lane) + offset within the window
                let col = _mm256_slli_epi32::<1>(_mm256_add_epi32(lanes, _mm256_set1_epi32(ox0 as i32)));
                let full = _mm256_add_epi32(_mm256_add_epi32(col, idx), _mm256_set1_epi32((base as usize + r0) as i32));
                let o = oy * ow + ox0;
                store_part8(y.as_mut_ptr().add(o), best, m);
                store_part8(at.as_mut_ptr().add(o) as *mut f32, _mm256_castsi256_ps(full), m);
                ox0 += m;
            }
        }
    }
}

/// AVX-512 versions of the exact (select and scatter) kernels, with the permutes and
/// scatters the compiler does not find on its own.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use crate::kernels::simd::tail_mask;
    use std::arch::x86_64::*;

    /// As [`super::maxpool2`].
    ///
    /// # Safety
    /// AVX-512F; `x` holds h×w values (w ≥ 2), `y` and `at` (h/2)×(w/2).
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(crate) unsafe fn maxpool2(x: &[f32], h: usize, w: usize, base: u32, relu: bool, y: &mut [f32], at: &mut [u32]) {
        let (oh, ow) = (h / 2, w / 2);
        // max(v, +0) is the ReLU v > 0 ? v : 0 exactly (NaN and −0 give the second operand)
        let zero = _mm512_setzero_ps();
        let r = |v: __m512| if relu { _mm512_max_ps(v, zero) } else { v };
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let xp = x.as_ptr();
        for oy in 0..oh {
            let r0 = 2 * oy * w;
            let mut ox0 = 0;
            while ox0 < ow {
                let m = (ow - ox0).min(16);
                let om = tail_mask(m);
                // 2m consecutive inputs from each of the two rows, split into even and odd columns
                let n_in = 2 * m;
                let (lo_m, hi_m) = (tail_mask(n_in.min(16)), tail_mask(n_in.saturating_sub(16)));
                let load = |row: usize| {
                    let p = xp.add(row + 2 * ox0);
                    let lo = _mm512_maskz_loadu_ps(lo_m, p);
                    let hi = _mm512_maskz_loadu_ps(hi_m, p.wrapping_add(16));
                    (r(_mm512_permutex2var_ps(lo, even, hi)), r(_mm512_permutex2var_ps(lo, odd, hi)))
                };
                let (a, b) = load(r0);
                let (c, d) = load(r0 + w);
                let mut best = a;
                let mut idx = _mm512_setzero_si512();
                for (v, off) in [(b, 1), (c, w as i32), (d, w as i32 + 1)] {
                    let t = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                    best = _mm512_mask_blend_ps(t, best, v);
                    idx = _mm512_mask_blend_epi32(t, idx, _mm512_set1_epi32(off));
                }
                // index = base + r0 + 2·(ox0 + lane) + offset within the window
                let col = _mm512_slli_epi32::<1>(_mm512_add_epi32(lanes, _mm512_set1_epi32(ox0 as i32)));
                let full = _mm512_add_epi32(_mm512_add_epi32(col, idx), _mm512_set1_epi32((base as usize + r0) as i32));
                let o = oy * ow + ox0;
                _mm512_mask_storeu_ps(y.as_mut_ptr().add(o), om, best);
                _mm512_mask_storeu_epi32(at.as_mut_ptr().add(o) as *mut i32, om, full);
                ox0 += m;
            }
        }
    }

    /// As [`super::scatter`], with a vector scatter (overlapping indices are written in lane
    /// order, so a later duplicate wins here too).
    ///
    /// # Safety
    /// AVX-512F; every index lies inside `dst`, `dst.len() < 2³¹`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(crate) unsafe fn scatter(dst: &mut [f32], idx: &[u32], vals: &[f32]) {
        let n = idx.len().min(vals.len());
        let mut i = 0;
        while i < n {
            let m = (n - i).min(16);
            let mask = tail_mask(m);
            let iv = _mm512_maskz_loadu_epi32(mask, idx.as_ptr().add(i) as *const i32);
            let vv = _mm512_maskz_loadu_ps(mask, vals.as_ptr().add(i));
            _mm512_mask_i32scatter_ps::<4>(dst.as_mut_ptr(), mask, iv, vv);
            i += m;
        }
    }
}
