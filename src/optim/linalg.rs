//! Small dense linear algebra for the tensor-wise methods (LAMB, LARS, MARS, SOAP), with
//! the rounding of the PyTorch calls they mirror where that is known:
//!
//! | torch call | here |
//! |---|---|
//! | `torch.linalg.norm(t)`, `torch._foreach_norm` | [`norm`]: Σ x² accumulated with fma, in f64 |
//! | `torch.linalg.eigh(m)` | [`eigh`]: LAPACK's dlaev2 rotation for 2×2 (bit for bit); else Householder tridiagonalisation + implicit QL, f64 |
//! | `torch.linalg.qr(m.float())` | [`qr_q_f32`]: LAPACK's unblocked Householder QR in f32 |
//! | `a @ b` | [`matmul`]: row-by-column sums in order, in `T` (MKL's result for 2×2) |
//!
//! torch's own element-wise `sqrt` comes from MKL's vector library, which on this project's
//! reference machine is not correctly rounded (about 1 in 80 float64 inputs is off by one ulp);
//! optlab's `sqrt` is, so long chaotic runs can drift apart at that level.
//!
//! Matrices are row-major slices.

use super::{Layout, Real};

/// The Euclidean norm of `xs` (`torch.linalg.norm`). ATen sums the squares with fused
/// multiply-adds; for `f64` and short vectors this is bit for bit its result. `f32` tensors
/// are summed in `f64` and rounded once (ATen's cascade summation is as accurate).
pub fn norm<T: Real>(xs: &[T]) -> T {
    let mut acc = 0.0f64;
    for &x in xs {
        let x = x.f64();
        acc = x.mul_add(x, acc);
    }
    T::of(acc.sqrt())
}

/// pytorch-optimizer's global gradient clipping factor (`get_global_gradient_norm` and the
/// methods' `get_global_gradient_norm`): min(1, max_norm / (‖g‖ + eps)) where ‖g‖² is the
/// sum over tensors of their squared norms. Like the reference, everything after the
/// per-tensor norms is float32: the squares, their sum, the square root, `+ eps`, and
/// `max_norm / x` computed as `reciprocal(x) · max_norm`. (torch's float32 square root is
/// MKL's, off by one ulp for about one input in six; with a single tensor, as in the 2-D
/// lab, it takes the root of a squared norm, where both are exact.)
pub fn global_clip_factor<T: Real>(grad: &[T], layout: &Layout, max_norm: f64, eps: f64) -> T {
    let mut sum = 0.0f32;
    for t in &layout.tensors {
        let n = norm(&grad[t.range()]).f64() as f32;
        sum += n * n;
    }
    let denom = sum.sqrt() + eps as f32;
    let factor = (1.0 / denom) * max_norm as f32;
    // torch.clamp(max=1.0) keeps NaN
    T::of(if factor > 1.0 { 1.0 } else { factor as f64 })
}

/// `c = a · b` with `a` [n, k] and `b` [k, m], each entry summed over k in order.
pub fn matmul<T: Real>(a: &[T], b: &[T], c: &mut [T], n: usize, k: usize, m: usize) {
    debug_assert!(a.len() == n * k && b.len() == k * m && c.len() == n * m);
    for i in 0..n {
        let row = &mut c[i * m..(i + 1) * m];
        row.fill(T::zero());
        for (l, &ail) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (cj, &blj) in row.iter_mut().zip(&b[l * m..(l + 1) * m]) {
                *cj = *cj + ail * blj;
            }
        }
    }
}

/// Eigenvalues (ascending) and eigenvectors (the columns of the returned row-major [n, n]
/// matrix) of the symmetric matrix `a` ([n, n], row-major; only symmetric input is
/// meaningful). Householder reduction to tridiagonal form, then the implicit QL iteration
/// with Wilkinson-like shifts (as EISPACK's tred2/tql2). Eigenvectors of repeated
/// eigenvalues are some orthonormal basis of their space, as with any LAPACK.
pub fn eigh(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    if n == 2 {
        return eigh2(a[0], a[2], a[3]);
    }
    // the transformation is built transposed (row i of `w` is column i of V), which keeps
    // every inner loop of the reduction on contiguous memory and makes the QL rotations act
    // on rows
    let mut w = a.to_vec();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tridiagonalize(&mut w, &mut d, &mut e, n);
    ql_implicit(&mut d, &mut e, &mut w, n);
    // ascending, as LAPACK returns them
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    let values: Vec<f64> = order.iter().map(|&i| d[i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &src) in order.iter().enumerate() {
        for r in 0..n {
            vectors[r * n + col] = w[src * n + r];
        }
    }
    (values, vectors)
}

/// The 2×2 case as LAPACK's dsyevd solves it (the tridiagonal reduction is the identity,
/// then dsteqr rotates by dlaev2's eigenvector): bit for bit torch's result, up to the
/// signs of the eigenvectors. `[[a, b], [b, c]]`.
fn eigh2(a: f64, b: f64, c: f64) -> (Vec<f64>, Vec<f64>) {
    let (rt1, rt2, cs, sn) = laev2(a, b, c);
    // Z = I·rotation: columns (cs, sn) for rt1 and (−sn, cs) for rt2
    if rt1 > rt2 {
        (vec![rt2, rt1], vec![-sn, cs, cs, sn])
    } else {
        (vec![rt1, rt2], vec![cs, -sn, sn, cs])
    }
}

/// LAPACK's dlaev2: the eigenvalues rt1 (larger in absolute value) and rt2 of
/// [[a, b], [b, c]], and the unit eigenvector (cs, sn) of rt1.
fn laev2(a: f64, b: f64, c: f64) -> (f64, f64, f64, f64) {
    let (sm, df) = (a + c, a - c);
    let adf = df.abs();
    let tb = b + b;
    let ab = tb.abs();
    let (acmx, acmn) = if a.abs() > c.abs() { (a, c) } else { (c, a) };
    let rt = if adf > ab {
        let q = ab / adf;
        adf * (1.0 + q * q).sqrt()
    } else if adf < ab {
        let q = adf / ab;
        ab * (1.0 + q * q).sqrt()
    } else {
        ab * 2f64.sqrt()
    };
    let (rt1, rt2, sgn1) = if sm < 0.0 {
        let rt1 = 0.5 * (sm - rt);
        (rt1, (acmx / rt1) * acmn - (b / rt1) * b, -1)
    } else if sm > 0.0 {
        let rt1 = 0.5 * (sm + rt);
        (rt1, (acmx / rt1) * acmn - (b / rt1) * b, 1)
    } else {
        (0.5 * rt, -0.5 * rt, 1)
    };
    let (cs, sgn2) = if df >= 0.0 { (df + rt, 1) } else { (df - rt, -1) };
    let (mut cs1, mut sn1);
    if cs.abs() > ab {
        let ct = -tb / cs;
        sn1 = 1.0 / (1.0 + ct * ct).sqrt();
        cs1 = ct * sn1;
    } else if ab == 0.0 {
        cs1 = 1.0;
        sn1 = 0.0;
    } else {
        let tn = -cs / tb;
        cs1 = 1.0 / (1.0 + tn * tn).sqrt();
        sn1 = tn * cs1;
    }
    if sgn1 == sgn2 {
        (cs1, sn1) = (-sn1, cs1);
    }
    (rt1, rt2, cs1, sn1)
}

/// Householder reduction of the symmetric `v` to tridiagonal form: on return `d` holds the
/// diagonal, `e[1..]` the sub-diagonal and `v` the orthogonal transformation V, stored
/// transposed (V[i][j] at j·n + i).
fn tridiagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |i: usize, j: usize| j * n + i;
    for (j, dj) in d.iter_mut().enumerate() {
        *dj = v[at(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in d[..i].iter_mut() {
                *x /= scale;
                h += *x * *x;
            }
            let f = d[i - 1];
            let g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                let f = d[j];
                v[at(j, i)] = f;
                let mut g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    g += v[at(k, j)] * d[k];
                    e[k] += v[at(k, j)] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // accumulate the transformations
    for i in 0..n - 1 {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[at(k, i + 1)] / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += v[at(k, i + 1)] * v[at(k, j)];
                }
                for k in 0..=i {
                    v[at(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// The implicit QL iteration on the tridiagonal (d, e), rotating the rows of `w` (the
/// transposed eigenvector matrix). On return `d` holds the eigenvalues, unsorted.
fn ql_implicit(d: &mut [f64], e: &mut [f64], w: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            // at most a few dozen sweeps per eigenvalue; a bound keeps NaN input from looping
            for _ in 0..64 {
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let h = g - d[l];
                for x in d[l + 2..].iter_mut() {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    let h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = w.split_at_mut((i + 1) * n);
                    let (wi, wi1) = (&mut lo[i * n..], &mut hi[..n]);
                    for (a, b) in wi.iter_mut().zip(wi1.iter_mut()) {
                        let h = *b;
                        *b = s * *a + c * h;
                        *a = c * *a - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 || e[l].is_nan() {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

/// The Q factor of the QR decomposition of the square `a` ([n, n], row-major), computed in
/// `f32` as LAPACK's sgeqr2 + sorg2r do (Householder reflectors H = I − τvvᵀ with
/// β = −sign(α)·‖(α, x)‖, τ = (β − α)/β, v = x/(α − β)). For 2×2 input this reproduces
/// `torch.linalg.qr` (MKL) bit for bit; for larger input up to the order of its sums.
pub fn qr_q_f32(a: &[f32], n: usize) -> Vec<f32> {
    let at = |i: usize, j: usize| i * n + j;
    let mut r = a.to_vec();
    let mut tau = vec![0.0f32; n];
    let mut w = vec![0.0f32; n];
    for i in 0..n {
        let alpha = r[at(i, i)];
        let xnorm = {
            let mut acc = 0.0f64;
            for k in i + 1..n {
                let x = r[at(k, i)] as f64;
                acc = x.mul_add(x, acc);
            }
            acc.sqrt() as f32
        };
        if xnorm == 0.0 {
            tau[i] = 0.0;
            continue;
        }
        let beta = -lapy2(alpha, xnorm).copysign(alpha);
        tau[i] = (beta - alpha) / beta;
        let scale = alpha - beta;
        for k in i + 1..n {
            r[at(k, i)] /= scale;
        }
        r[at(i, i)] = beta;
        // apply H(i) to the trailing columns: C −= τ v (Cᵀv)ᵀ, with v = (1, r[i+1.., i])
        if i + 1 < n {
            reflect(&mut r, &mut w, n, i, tau[i]);
        }
    }
    // form Q = H(0)·H(1)···H(n−1) backwards, in place of the reflectors
    let mut q = r;
    for i in (0..n).rev() {
        if i + 1 < n {
            q[at(i, i)] = 1.0;
            reflect(&mut q, &mut w, n, i, tau[i]);
        }
        for k in i + 1..n {
            q[at(k, i)] *= -tau[i];
        }
        q[at(i, i)] = 1.0 - tau[i];
        for k in 0..i {
            q[at(k, i)] = 0.0;
        }
    }
    q
}

/// Applies H = I − τ v vᵀ (v = column i of `m` from row i, with m[i][i] taken as 1) to
/// columns i+1.. of rows i.. of `m`, from the left, as LAPACK's slarf (gemv then ger).
fn reflect(m: &mut [f32], w: &mut [f32], n: usize, i: usize, tau: f32) {
    if tau == 0.0 {
        return;
    }
    let at = |r: usize, c: usize| r * n + c;
    let cols = i + 1..n;
    w[cols.clone()].fill(0.0);
    for k in i..n {
        let vk = if k == i { 1.0 } else { m[at(k, i)] };
        for j in cols.clone() {
            w[j] += vk * m[at(k, j)];
        }
    }
    for k in i..n {
        let vk = if k == i { 1.0 } else { m[at(k, i)] };
        for j in cols.clone() {
            m[at(k, j)] += vk * (-tau * w[j]);
        }
    }
}

/// LAPACK's slapy2: √(x² + y²) without needless overflow, as w·√(1 + (z/w)²).
fn lapy2(x: f32, y: f32) -> f32 {
    let (xa, ya) = (x.abs(), y.abs());
    let (w, z) = (xa.max(ya), xa.min(ya));
    if z == 0.0 {
        w
    } else {
        let q = z / w;
        w * (1.0 + q * q).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_eigh(a: &[f64], n: usize) {
        let (vals, vecs) = eigh(a, n);
        for w in vals.windows(2) {
            assert!(w[0] <= w[1]);
        }
        // A·v = λ·v and VᵀV = I
        for c in 0..n {
            for r in 0..n {
                let av: f64 = (0..n).map(|k| a[r * n + k] * vecs[k * n + c]).sum();
                assert!((av - vals[c] * vecs[r * n + c]).abs() < 1e-10, "column {c}");
            }
            for c2 in 0..n {
                let dot: f64 = (0..n).map(|k| vecs[k * n + c] * vecs[k * n + c2]).sum();
                assert!((dot - if c == c2 { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn eigh_diagonalises_symmetric_matrices() {
        check_eigh(&[2.0, 1.0, 1.0, 3.0], 2);
        check_eigh(&[4.0], 1);
        check_eigh(&[1.0, 2.0, 2.0, 4.0], 2); // rank one
        let n = 7;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v = ((i * 7 + j * 3) % 11) as f64 - 5.0;
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        check_eigh(&a, n);
        check_eigh(&[0.0; 9], 3);
    }

    #[test]
    fn qr_of_two_by_two_matches_mkl() {
        // torch.linalg.qr(torch.tensor([[0.3, -1.2], [2.5, 0.7]])).Q, float32
        let q = qr_q_f32(&[0.3, -1.2, 2.5, 0.7], 2);
        let want: [f64; 4] = [-0.11914515495300293, -0.9928767681121826, -0.9928767681121826, 0.11914527416229248];
        assert_eq!(q, want.map(|v| v as f32), "bit for bit");
        let q = qr_q_f32(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0], 3);
        for c in 0..3 {
            for c2 in 0..3 {
                let dot: f32 = (0..3).map(|k| q[k * 3 + c] * q[k * 3 + c2]).sum();
                assert!((dot - if c == c2 { 1.0 } else { 0.0 }).abs() < 1e-6);
            }
        }
    }
}
