//! ATen's element-wise operations as torch.optim uses them, with ATen's rounding.
//!
//! PyTorch's CPU kernels fuse some operations; reproducing that is what makes optlab's
//! trajectories agree with torch.optim bit for bit in most cases:
//!
//! | torch call | computed as |
//! |---|---|
//! | `t.add_(o, alpha=a)` | `fma(a, o, t)` |
//! | `t.addcmul_(u, v, value=c)` | `fma(c·u, v, t)` |
//! | `t.addcdiv_(u, v, value=c)` | `t + (c·u)/v` |
//! | `t.lerp_(e, w)` | `fma(w, e−t, t)` if `|w| < 0.5`, else `fma(−(e−t), 1−w, e)` |

use super::Real;

/// `t.add_(o, alpha=a)`.
#[inline(always)]
pub fn add_alpha<T: Real>(t: T, o: T, a: T) -> T {
    a.mul_add(o, t)
}

/// `t.addcmul_(u, v, value=c)`.
#[inline(always)]
pub fn addcmul<T: Real>(t: T, u: T, v: T, c: T) -> T {
    (c * u).mul_add(v, t)
}

/// `t.addcdiv_(u, v, value=c)`.
#[inline(always)]
pub fn addcdiv<T: Real>(t: T, u: T, v: T, c: T) -> T {
    t + (c * u) / v
}

/// `t.lerp_(e, w)`: t + w·(e − t), rounded as ATen does.
#[inline(always)]
pub fn lerp<T: Real>(t: T, e: T, w: T) -> T {
    let d = e - t;
    if w.abs() < T::of(0.5) {
        w.mul_add(d, t)
    } else {
        (-d).mul_add(T::one() - w, e)
    }
}

/// `torch.maximum(a, b)`: like `max`, but NaN in either argument gives NaN.
#[inline(always)]
pub fn maximum<T: Real>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a >= b {
        a
    } else {
        b
    }
}

/// `torch.sign(x)`: −1, 0 or +1 (0 for ±0, NaN for NaN), unlike `f64::signum`.
#[inline(always)]
pub fn sign<T: Real>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x * T::zero()
    }
}

/// The gradient as the update sees it: negated when maximising, plus L2 weight decay
/// (`grad.add(param, alpha=weight_decay)`) when that is non-zero.
#[inline(always)]
pub fn effective_grad<T: Real>(g: T, p: T, maximize: bool, weight_decay: f64) -> T {
    let g = if maximize { -g } else { g };
    if weight_decay != 0.0 {
        add_alpha(g, p, T::of(weight_decay))
    } else {
        g
    }
}

/// pytorch-optimizer's `apply_cautious` on one tensor: the update `u` is kept where it agrees
/// in sign with the gradient (u·g > 0), zeroed elsewhere, and the kept entries are scaled by
/// n/(kept + 1), with n/(kept + 1) rounded as torch's `n / tensor` is (reciprocal, then times n).
pub fn cautious<T: Real>(u: &mut [T], g: &[T]) {
    let kept = u.iter().zip(g).filter(|(&a, &b)| a * b > T::zero()).count();
    let scale = (T::one() / (T::of(kept as f64) + T::one())) * T::of(u.len() as f64);
    for (a, &b) in u.iter_mut().zip(g) {
        *a = if *a * b > T::zero() { *a * scale } else { *a * T::zero() };
    }
}

/// The index ranges of the tensors of `layout` (one range over all `n` entries when the
/// layout does not cover exactly `n`): what tensor-wise statistics such as [`cautious`] run
/// over.
pub fn tensor_ranges(layout: &super::Layout, n: usize) -> Vec<std::ops::Range<usize>> {
    if layout.len() == n && !layout.tensors.is_empty() {
        layout.tensors.iter().map(|t| t.range()).collect()
    } else {
        std::iter::once(0..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_alpha_is_fused_not_two_roundings() {
        // 0.1 * 3 + 1 rounds differently when fused: fma keeps the exact product.
        let fused = add_alpha(1.0f64, 3.0, 0.1);
        assert_eq!(fused, 0.1f64.mul_add(3.0, 1.0));
        let (t, o, a) = (1.0f64, 1.0 + f64::EPSILON, -1.0);
        assert_eq!(add_alpha(t, o, a), -f64::EPSILON);
    }

    #[test]
    fn lerp_reaches_end_exactly_at_weight_one() {
        assert_eq!(lerp(0.3f64, 0.7, 1.0), 0.7);
        assert_eq!(lerp(0.3f64, 0.7, 0.0), 0.3);
    }
}
