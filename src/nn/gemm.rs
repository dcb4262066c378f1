//! A safe wrapper over `matrixmultiply::sgemm` with explicit row/column strides, so
//! transposed operands cost nothing.

/// C[m×n] = alpha·A[m×k]·B[k×n] + beta·C, with A(i,l) = a[i·rsa + l·csa] and so on.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    rsc: usize,
    csc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    if k > 0 {
        assert!(last(m, k, rsa, csa) < a.len() && last(k, n, rsb, csb) < b.len(), "sgemm operand out of bounds");
    }
    assert!(last(m, n, rsc, csc) < c.len(), "sgemm output out of bounds");
    // SAFETY: every element the kernel touches lies inside the slices (checked above);
    // `c` is exclusively borrowed and does not alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            rsc as isize,
            csc as isize,
        )
    }
}
