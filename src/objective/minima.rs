//! Finding local minima reliably: a capped-step gradient flow (backtracking line search
//! with the step length bounded, so it stays in the basin of its start) followed by
//! Newton polishing. Used to name "the nearest local minimum" for `tune` and to list the
//! minima of functions that have no closed-form list.

use super::Function;

/// Where a descent ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Descent {
    /// A local minimum (gradient ≈ 0, Hessian positive definite).
    Minimum { point: [f64; 2], value: f64 },
    /// A stationary point that is not a minimum (saddle or maximum).
    Stationary { point: [f64; 2], value: f64 },
    /// The function kept decreasing without bound (|θ| or −f grew past every limit).
    Unbounded { point: [f64; 2] },
    /// Ran out of iterations.
    NotConverged { point: [f64; 2] },
    /// Left the region it was confined to.
    Left { point: [f64; 2] },
}

impl Descent {
    pub fn minimum(&self) -> Option<[f64; 2]> {
        match self {
            Descent::Minimum { point, .. } => Some(*point),
            _ => None,
        }
    }
}

fn norm(a: f64, b: f64) -> f64 {
    a.hypot(b)
}

/// Hessian by central differences of the exact gradient.
pub fn hessian(f: &Function, p: [f64; 2]) -> [[f64; 2]; 2] {
    let h = 1e-5 * (1.0 + p[0].abs().max(p[1].abs()));
    let (_, gx1, gy1) = f.eval(p[0] + h, p[1]);
    let (_, gx0, gy0) = f.eval(p[0] - h, p[1]);
    let (_, gx3, gy3) = f.eval(p[0], p[1] + h);
    let (_, gx2, gy2) = f.eval(p[0], p[1] - h);
    let hxx = (gx1 - gx0) / (2.0 * h);
    let hyy = (gy3 - gy2) / (2.0 * h);
    let hxy = 0.5 * ((gy1 - gy0) / (2.0 * h) + (gx3 - gx2) / (2.0 * h));
    [[hxx, hxy], [hxy, hyy]]
}

/// Descends from `start` to the local minimum of its basin. `scale` bounds the length of
/// one step (use about 1% of the domain's size).
pub fn descend(f: &Function, start: [f64; 2], scale: f64) -> Descent {
    descend_within(f, start, scale, None)
}

/// As [`descend`], but gives up as soon as the path leaves `bounds` (x0, x1, y0, y1).
pub fn descend_within(f: &Function, start: [f64; 2], scale: f64, bounds: Option<[f64; 4]>) -> Descent {
    let mut p = start;
    let (mut v, mut gx, mut gy) = f.eval(p[0], p[1]);
    if !v.is_finite() {
        return Descent::Unbounded { point: p };
    }
    // Far outside the domain (100 times its extent) counts as running away.
    let [x0, x1, y0, y1] = f.domain;
    let limit = 100.0 * (1.0 + x0.abs().max(x1.abs()).max(y0.abs()).max(y1.abs()));
    let mut stalled = 0;
    let mut iterations_left = 100_000;
    while iterations_left > 0 {
        iterations_left -= 1;
        let gn = norm(gx, gy);
        if gn <= 1e-13 * (1.0 + v.abs()) {
            break;
        }
        // Newton direction where the Hessian is positive definite, else steepest descent;
        // the step length is capped at `scale` and backtracked until f decreases (Armijo).
        let h = hessian(f, p);
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        let (mut dx, mut dy) = (-gx, -gy);
        if h[0][0] > 0.0 && det > 0.0 && det.is_finite() {
            dx = -(h[1][1] * gx - h[0][1] * gy) / det;
            dy = -(-h[1][0] * gx + h[0][0] * gy) / det;
        }
        let dn = norm(dx, dy);
        let slope = dx * gx + dy * gy;
        let mut t = (scale / dn).min(1.0);
        if dx == -gx && dy == -gy {
            t = scale / dn;
        }
        let mut accepted = false;
        for _ in 0..60 {
            let q = [p[0] + t * dx, p[1] + t * dy];
            let (vq, gxq, gyq) = f.eval(q[0], q[1]);
            if vq.is_finite() && (vq <= v + 1e-4 * t * slope || (vq <= v && norm(gxq, gyq) < gn)) {
                p = q;
                v = vq;
                gx = gxq;
                gy = gyq;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted || t * dn <= 1e-15 * (1.0 + norm(p[0], p[1])) {
            stalled += 1;
            if stalled > 2 {
                break;
            }
        } else {
            stalled = 0;
        }
        if p[0].abs().max(p[1].abs()) > limit || v < -1e15 {
            return Descent::Unbounded { point: p };
        }
        if let Some([x0, x1, y0, y1]) = bounds {
            if p[0] < x0 || p[0] > x1 || p[1] < y0 || p[1] > y1 {
                return Descent::Left { point: p };
            }
        }
    }
    if iterations_left == 0 {
        return Descent::NotConverged { point: p };
    }
    polish(f, p)
}

/// Newton steps from a point close to a stationary point; classifies it.
pub fn polish(f: &Function, mut p: [f64; 2]) -> Descent {
    for _ in 0..50 {
        let (_, gx, gy) = f.eval(p[0], p[1]);
        let gn = norm(gx, gy);
        if gn == 0.0 {
            break;
        }
        let h = hessian(f, p);
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        if det.abs() < 1e-300 || !det.is_finite() {
            break;
        }
        let dx = (h[1][1] * gx - h[0][1] * gy) / det;
        let dy = (-h[1][0] * gx + h[0][0] * gy) / det;
        let q = [p[0] - dx, p[1] - dy];
        let (_, qx, qy) = f.eval(q[0], q[1]);
        if norm(qx, qy).is_nan() || norm(qx, qy) >= gn {
            break;
        }
        p = q;
        if norm(dx, dy) <= 1e-15 * (1.0 + norm(p[0], p[1])) {
            break;
        }
    }
    let (v, gx, gy) = f.eval(p[0], p[1]);
    let h = hessian(f, p);
    let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    let scale = 1.0 + v.abs() + norm(h[0][0], h[1][1]);
    if norm(gx, gy) > 1e-6 * scale {
        return Descent::NotConverged { point: p };
    }
    // Both eigenvalues clearly positive (a degenerate point such as x³'s inflection,
    // whose curvature is zero up to rounding, is not a minimum).
    let tr = h[0][0] + h[1][1];
    let disc = ((h[0][0] - h[1][1]).powi(2) + 4.0 * h[0][1] * h[0][1]).sqrt();
    let lmin = 0.5 * (tr - disc);
    let hscale = h[0][0].abs().max(h[1][1].abs()).max(h[0][1].abs());
    if lmin > 1e-6 * (1.0 + hscale) && det > 0.0 {
        Descent::Minimum { point: p, value: v }
    } else {
        Descent::Stationary { point: p, value: v }
    }
}

/// The step-length cap used for a function: 1% of its domain's diagonal.
pub fn step_scale(f: &Function) -> f64 {
    let [x0, x1, y0, y1] = f.domain;
    0.01 * norm(x1 - x0, y1 - y0)
}

/// The local minima reached from an n×n grid of starts that lie inside the domain,
/// merged, sorted by value (lowest first).
pub fn find_in_domain(f: &Function, n: usize) -> Vec<[f64; 2]> {
    let [x0, x1, y0, y1] = f.domain;
    let scale = step_scale(f);
    let tol = 1e-4 * norm(x1 - x0, y1 - y0);
    let (mx, my) = (0.05 * (x1 - x0), 0.05 * (y1 - y0));
    let bounds = Some([x0 - mx, x1 + mx, y0 - my, y1 + my]);
    let mut found: Vec<([f64; 2], f64)> = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let s = [x0 + (x1 - x0) * (i as f64 + 0.5) / n as f64, y0 + (y1 - y0) * (j as f64 + 0.5) / n as f64];
            if let Descent::Minimum { point, value } = descend_within(f, s, scale, bounds) {
                let inside = point[0] >= x0 && point[0] <= x1 && point[1] >= y0 && point[1] <= y1;
                if inside && !found.iter().any(|(q, _)| norm(q[0] - point[0], q[1] - point[1]) < tol) {
                    found.push((point, value));
                }
            }
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    found.into_iter().map(|(p, _)| p).collect()
}
