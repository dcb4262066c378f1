//! The built-in 2-D functions: value and gradient written out by hand.
//!
//! The seminar's four and Rosenbrock compute their gradients in the order PyTorch's
//! autograd does (e.g. d/dx x²/10·sin x = (sin x/10)·(2x) + (x·x/10)·cos x), so runs on
//! them agree with torch.optim to the last bits. Every gradient here is checked against
//! finite differences and against the expression evaluator in the tests.

use std::f64::consts::{E, PI};

/// (value, ∂f/∂x, ∂f/∂y)
pub type Vg = (f64, f64, f64);

#[inline]
pub fn quadratic(x: f64, y: f64) -> Vg {
    (x * x + y * y, 2.0 * x, 2.0 * y)
}

#[inline]
pub fn saddle(x: f64, y: f64) -> Vg {
    // x**2/10 - y**2/10; autograd: d(a/10)/da = 1/10 = 0.1, then (0.1)·(2x)
    (x * x / 10.0 - y * y / 10.0, 0.1 * (2.0 * x), -0.1 * (2.0 * y))
}

#[inline]
pub fn sin_cos(x: f64, y: f64) -> Vg {
    let (bx, sx, cx) = (x * x / 10.0, x.sin(), x.cos());
    let (by, sy, cy) = (y * y / 10.0, y.sin(), y.cos());
    let v = bx * sx + by * cy;
    let gx = (sx / 10.0) * (2.0 * x) + bx * cx;
    let gy = (cy / 10.0) * (2.0 * y) + by * -sy;
    (v, gx, gy)
}

#[inline]
pub fn sin_cos_sq(x: f64, y: f64) -> Vg {
    let (bx, x2) = (x * x / 10.0, x * x);
    let (by, y2) = (y * y / 10.0, y * y);
    let (sx, cx) = (x2.sin(), x2.cos());
    let (sy, cy) = (y2.sin(), y2.cos());
    let v = bx * sx + by * cy;
    let gx = (sx / 10.0) * (2.0 * x) + (bx * cx) * (2.0 * x);
    let gy = (cy / 10.0) * (2.0 * y) + (by * -sy) * (2.0 * y);
    (v, gx, gy)
}

#[inline]
pub fn rosenbrock(x: f64, y: f64) -> Vg {
    let a = 1.0 - x;
    let b = y - x * x;
    let v = a * a + 100.0 * (b * b);
    let t = 100.0 * (2.0 * b);
    (v, -(2.0 * a) + (-t) * (2.0 * x), t)
}

#[inline]
pub fn beale(x: f64, y: f64) -> Vg {
    let (y2, y3) = (y * y, y * y * y);
    let t1 = 1.5 - x + x * y;
    let t2 = 2.25 - x + x * y2;
    let t3 = 2.625 - x + x * y3;
    let v = t1 * t1 + t2 * t2 + t3 * t3;
    let gx = 2.0 * t1 * (y - 1.0) + 2.0 * t2 * (y2 - 1.0) + 2.0 * t3 * (y3 - 1.0);
    let gy = 2.0 * t1 * x + 2.0 * t2 * (2.0 * x * y) + 2.0 * t3 * (3.0 * x * y2);
    (v, gx, gy)
}

#[inline]
pub fn himmelblau(x: f64, y: f64) -> Vg {
    let a = x * x + y - 11.0;
    let b = x + y * y - 7.0;
    (a * a + b * b, 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b)
}

#[inline]
pub fn booth(x: f64, y: f64) -> Vg {
    let a = x + 2.0 * y - 7.0;
    let b = 2.0 * x + y - 5.0;
    (a * a + b * b, 2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b)
}

#[inline]
pub fn matyas(x: f64, y: f64) -> Vg {
    (0.26 * (x * x + y * y) - 0.48 * x * y, 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x)
}

#[inline]
pub fn rastrigin(x: f64, y: f64) -> Vg {
    let w = 2.0 * PI;
    let v = 20.0 + x * x - 10.0 * (w * x).cos() + y * y - 10.0 * (w * y).cos();
    (v, 2.0 * x + 10.0 * w * (w * x).sin(), 2.0 * y + 10.0 * w * (w * y).sin())
}

#[inline]
pub fn ackley(x: f64, y: f64) -> Vg {
    let w = 2.0 * PI;
    let r = (0.5 * (x * x + y * y)).sqrt();
    let e1 = (-0.2 * r).exp();
    let e2 = (0.5 * ((w * x).cos() + (w * y).cos())).exp();
    let v = -20.0 * e1 - e2 + 20.0 + E;
    // d/dx of −20·exp(−0.2r) = 20·0.2·exp(−0.2r)·dr/dx, dr/dx = x/(2r)
    let (dx1, dy1) = if r > 0.0 { (2.0 * e1 * x / r, 2.0 * e1 * y / r) } else { (0.0, 0.0) };
    let gx = dx1 + e2 * 0.5 * w * (w * x).sin();
    let gy = dy1 + e2 * 0.5 * w * (w * y).sin();
    (v, gx, gy)
}

#[inline]
pub fn goldstein_price(x: f64, y: f64) -> Vg {
    let s = x + y + 1.0;
    let p = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y;
    let a = 1.0 + s * s * p;
    let d = 2.0 * x - 3.0 * y;
    let q = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y;
    let b = 30.0 + d * d * q;
    let dax = 2.0 * s * p + s * s * (-14.0 + 6.0 * x + 6.0 * y);
    let day = 2.0 * s * p + s * s * (-14.0 + 6.0 * x + 6.0 * y);
    let dbx = 4.0 * d * q + d * d * (-32.0 + 24.0 * x - 36.0 * y);
    let dby = -6.0 * d * q + d * d * (48.0 - 36.0 * x + 54.0 * y);
    (a * b, dax * b + a * dbx, day * b + a * dby)
}

#[inline]
pub fn styblinski_tang(x: f64, y: f64) -> Vg {
    let f = |t: f64| t * t * t * t - 16.0 * t * t + 5.0 * t;
    let d = |t: f64| 4.0 * t * t * t - 32.0 * t + 5.0;
    (0.5 * (f(x) + f(y)), 0.5 * d(x), 0.5 * d(y))
}

#[inline]
pub fn six_hump_camel(x: f64, y: f64) -> Vg {
    let (x2, y2) = (x * x, y * y);
    let v = (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2;
    let gx = 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y;
    let gy = x - 8.0 * y + 16.0 * y2 * y;
    (v, gx, gy)
}

/// Long narrow valley: condition number 40.
#[inline]
pub fn valley(x: f64, y: f64) -> Vg {
    (0.05 * x * x + 2.0 * y * y, 0.1 * x, 4.0 * y)
}

#[inline]
pub fn monkey_saddle(x: f64, y: f64) -> Vg {
    (x * x * x - 3.0 * x * y * y, 3.0 * x * x - 3.0 * y * y, -6.0 * x * y)
}
