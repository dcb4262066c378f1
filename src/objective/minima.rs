//! Finding local minima reliably and within a bound: a capped-step gradient flow
//! (backtracking line search with the step length bounded, so it stays in the basin of its
//! start) followed by Newton polishing. Used to name "the nearest local minimum" for `tune`
//! and `compare`, to list the minima of functions that have no closed-form list, and to
//! classify where the starts of a basin map ended.
//!
//! **Two phases.** A descent first takes Newton steps where the Hessian is positive definite
//! and steepest-descent steps of the capped length elsewhere (the method the seminar's
//! numbers were made with; on ordinary functions it is all that runs). When that method
//! stops making progress — steps that no longer lower the value, a zig-zag of tiny
//! steepest-descent steps, a start far outside the domain, or 10,000 iterations — a robust
//! phase takes over: the step is split along the Hessian's eigenvectors, a Newton step where
//! the curvature is positive, a step of the capped length down the slope where it is zero
//! or negative (flat directions of functions of one variable, flat tails, saddles), and it
//! stops as soon as no step can lower the value by more than its rounding.
//!
//! **Classification.** A stationary point is a minimum when the Hessian's eigenvalues are
//! clearly positive. When the smallest is zero up to rounding (x⁴, flat valleys such as
//! x² + 5, plateaus) the function is probed on rings around the point: a lower value
//! anywhere means a saddle, higher values (and equal ones along a valley) a minimum, equal
//! values everywhere a flat region.
//!
//! **Budgets.** Every search has a [`Budget`]: function evaluations, each weighted by the
//! cost of one evaluation (a typed expression costs its number of operations, so a long
//! expression gets fewer), and a wall-clock limit as a safety net. The weighted count is the
//! primary bound, so results are deterministic — the same input gives the same minima on any
//! machine; the time limit is set well above what the count allows on an ordinary machine
//! and only stops a search on a very slow or overloaded one (then results may differ from
//! run to run, and the note says the time limit was hit). When a budget runs out the search
//! returns what it found and a note that says what was skipped.

use super::{Function, Kind};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Where a descent ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Descent {
    /// A local minimum (gradient ≈ 0, no lower point nearby; isolated, or on a flat valley).
    Minimum { point: [f64; 2], value: f64 },
    /// A local minimum where the function has a kink (|x| + |y|, the tip of a cone): higher
    /// values all around, but no gradient that vanishes. Descents report it; the minima
    /// search over the domain lists only smooth minima.
    Kink { point: [f64; 2], value: f64 },
    /// A stationary point that is not a minimum (saddle or maximum).
    Stationary { point: [f64; 2], value: f64 },
    /// The function is flat around the point (gradient ≈ 0, equal values all around): a
    /// constant function, or a plateau such as a far tail of tanh.
    Flat { point: [f64; 2], value: f64 },
    /// The function kept decreasing without bound (|θ| or −f grew past every limit).
    Unbounded { point: [f64; 2] },
    /// Ran out of iterations, or stopped far from a stationary point.
    NotConverged { point: [f64; 2] },
    /// Left the region it was confined to.
    Left { point: [f64; 2] },
    /// The budget ran out first.
    Stopped { point: [f64; 2] },
}

impl Descent {
    /// The minimum reached, smooth or at a kink.
    pub fn minimum(&self) -> Option<[f64; 2]> {
        match self {
            Descent::Minimum { point, .. } | Descent::Kink { point, .. } => Some(*point),
            _ => None,
        }
    }
}

/// Why a budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The weighted evaluation count (deterministic).
    Work,
    /// The wall-clock safety net.
    Time,
}

/// A bound on one analysis: weighted function evaluations and wall-clock time.
#[derive(Clone, Debug)]
pub struct Budget {
    work: u64,
    spent: u64,
    evals: u64,
    started: Instant,
    time: Option<Duration>,
    stop: Option<Stop>,
}

/// Work units of a minima search over the domain ([`Function::minima`]): about 0.1–0.2 s
/// (one unit is about the time of one arithmetic operation of an expression, 5–10 ns).
pub const SEARCH_WORK: u64 = 20_000_000;
/// The time limit of a minima search (safety net).
pub const SEARCH_TIME: Duration = Duration::from_millis(400);
/// Work units of one descent (the nearest minimum of a start or of a run's end, and each
/// start of a search): about 10 ms.
pub const DESCENT_WORK: u64 = 1_500_000;
/// The time limit of one descent (safety net).
pub const DESCENT_TIME: Duration = Duration::from_millis(50);
/// Work units of a basin map's classification: this plus [`MAP_WORK_PER_CELL`] per start
/// (enough to polish every end point once; end points at a minimum already found cost
/// nothing).
pub const MAP_WORK: u64 = 20_000_000;
pub const MAP_WORK_PER_CELL: u64 = 1_000;
/// The time limit of a basin map's classification: this plus 5 µs per start.
pub const MAP_TIME: Duration = Duration::from_millis(500);

impl Budget {
    /// `work` weighted evaluations, and at most `time` (None: no time limit, fully
    /// deterministic).
    pub fn new(work: u64, time: Option<Duration>) -> Budget {
        Budget { work, spent: 0, evals: 0, started: Instant::now(), time, stop: None }
    }
    /// No limit at all (for callers that bound the work themselves).
    pub fn unlimited() -> Budget {
        Budget::new(u64::MAX, None)
    }
    /// The default of a minima search over the domain.
    pub fn search() -> Budget {
        Budget::new(SEARCH_WORK, Some(SEARCH_TIME))
    }
    /// The default of one descent.
    pub fn descent() -> Budget {
        Budget::new(DESCENT_WORK, Some(DESCENT_TIME))
    }
    /// The default of a basin map's classification of `cells` end points.
    pub fn map(cells: usize) -> Budget {
        let cells = cells as u64;
        Budget::new(
            MAP_WORK.saturating_add(MAP_WORK_PER_CELL.saturating_mul(cells)),
            Some(MAP_TIME + Duration::from_micros(5).saturating_mul(cells.min(u32::MAX as u64) as u32)),
        )
    }
    /// A budget for one part of this one's work: at most `work` units of what is left, the
    /// same deadline. Charge what it spent back with [`Budget::absorb`].
    pub fn part(&self, work: u64) -> Budget {
        let left = self.work.saturating_sub(self.spent);
        let time = self.time.map(|t| t.saturating_sub(self.started.elapsed()));
        Budget::new(work.min(left), time)
    }
    /// Charges what a [`Budget::part`] spent; a time stop of the part stops this one too.
    pub fn absorb(&mut self, part: &Budget) {
        self.spent = self.spent.saturating_add(part.spent);
        self.evals += part.evals;
        if self.spent > self.work || (self.spent == self.work && part.stop == Some(Stop::Work)) {
            self.stop = Some(Stop::Work);
        }
        if part.stop == Some(Stop::Time) {
            self.stop = Some(Stop::Time);
        }
    }
    /// Charges `evals` evaluations of `cost` units each, made elsewhere (e.g. in parallel,
    /// charged afterwards in a fixed order), and checks the time.
    pub fn charge(&mut self, evals: u64, cost: u64) {
        if self.stop.is_some() {
            return;
        }
        self.evals += evals;
        self.spent = self.spent.saturating_add(evals.saturating_mul(cost));
        if self.spent > self.work {
            self.stop = Some(Stop::Work);
        } else if self.time.is_some_and(|t| self.started.elapsed() > t) {
            self.stop = Some(Stop::Time);
        }
    }
    /// Charges one evaluation of `cost` units; false once the budget is spent.
    #[inline]
    fn spend(&mut self, cost: u64) -> bool {
        if self.stop.is_some() {
            return false;
        }
        self.evals += 1;
        self.spent = self.spent.saturating_add(cost);
        if self.spent > self.work {
            self.stop = Some(Stop::Work);
        } else if self.evals.is_multiple_of(128) {
            if let Some(t) = self.time {
                if self.started.elapsed() > t {
                    self.stop = Some(Stop::Time);
                }
            }
        }
        self.stop.is_none()
    }
    /// Whether the budget has run out.
    pub fn exhausted(&self) -> bool {
        self.stop.is_some()
    }
    /// Why it ran out, if it did.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }
    /// Evaluations made so far.
    pub fn evals(&self) -> u64 {
        self.evals
    }
    /// Time since the budget was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
    /// "after 0.31 s (its budget of 25,000,000 work units)" — for notes.
    pub fn describe_stop(&self) -> String {
        let why = match self.stop {
            Some(Stop::Time) => format!("its time limit of {:.1} s", self.time.unwrap_or_default().as_secs_f64()),
            _ => format!("{} evaluations, its budget", crate::limits::group(self.evals)),
        };
        format!("after {:.2} s ({why})", self.elapsed().as_secs_f64())
    }
}

/// The cost of one evaluation of `f`, in work units: 5 for a built-in, 5 plus
/// [`super::Expr::cost`] for an expression.
pub fn eval_cost(f: &Function) -> u64 {
    match &f.kind {
        Kind::Builtin(_) => 5,
        Kind::Expr(e) => 5 + e.cost(),
    }
}

/// Evaluations of one function, charged to a budget.
struct Ev<'a> {
    f: &'a Function,
    cost: u64,
    budget: &'a mut Budget,
}

impl Ev<'_> {
    #[inline]
    fn eval(&mut self, p: [f64; 2]) -> (f64, f64, f64) {
        self.budget.spend(self.cost);
        self.f.eval(p[0], p[1])
    }
    #[inline]
    fn value(&mut self, p: [f64; 2]) -> f64 {
        self.budget.spend(self.cost);
        self.f.value(p[0], p[1])
    }
    fn out(&self) -> bool {
        self.budget.exhausted()
    }
    fn hessian(&mut self, p: [f64; 2]) -> [[f64; 2]; 2] {
        for _ in 0..4 {
            self.budget.spend(self.cost);
        }
        hessian(self.f, p)
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
/// one step (use about 1% of the domain's size). Bounded by [`Budget::descent`].
pub fn descend(f: &Function, start: [f64; 2], scale: f64) -> Descent {
    descend_in(f, start, scale, None, &mut Budget::descent())
}

/// As [`descend`], but gives up as soon as the path leaves `bounds` (x0, x1, y0, y1).
pub fn descend_within(f: &Function, start: [f64; 2], scale: f64, bounds: Option<[f64; 4]>) -> Descent {
    descend_in(f, start, scale, bounds, &mut Budget::descent())
}

/// Iterations of the first phase before the robust one takes over.
const PLAIN_ITERATIONS: usize = 3_000;
/// Iterations of the robust phase.
const ROBUST_ITERATIONS: usize = 500;
/// Progress check of the first phase: the value must fall by a relative 1e-9 in every
/// window of this many iterations.
const PLAIN_WINDOW: usize = 250;
/// The same check in the robust phase.
const ROBUST_WINDOW: usize = 50;

/// Whether `v` has fallen measurably below `before`.
fn fell(before: f64, v: f64) -> bool {
    before - v > 1e-9 * (1.0 + v.abs())
}

/// The descent, charged to `budget`.
pub fn descend_in(f: &Function, start: [f64; 2], scale: f64, bounds: Option<[f64; 4]>, budget: &mut Budget) -> Descent {
    let mut ev = Ev { f, cost: eval_cost(f), budget };
    let scale =
        if scale.is_finite() && scale > 0.0 { scale } else { 1e-2 * (1.0 + start[0].abs().max(start[1].abs())) };
    let mut p = start;
    let (mut v, mut gx, mut gy) = ev.eval(p);
    if !v.is_finite() {
        return Descent::Unbounded { point: p };
    }
    if !(gx.is_finite() && gy.is_finite()) {
        return Descent::NotConverged { point: p };
    }
    // Far outside the domain and the start (100 times their extent) counts as running away.
    let [x0, x1, y0, y1] = f.domain;
    let extent = x0.abs().max(x1.abs()).max(y0.abs()).max(y1.abs()).max(start[0].abs()).max(start[1].abs());
    let limit = 100.0 * (1.0 + extent);
    let away = |p: [f64; 2], v: f64| p[0].abs().max(p[1].abs()) > limit || v < -1e15;
    let left = |p: [f64; 2]| match bounds {
        Some([x0, x1, y0, y1]) => !(p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1),
        None => false,
    };
    // A start more than a diagonal outside the domain goes straight to the robust phase,
    // whose step cap grows with the distance.
    let robust_now = outside(f, start) > norm(x1 - x0, y1 - y0);
    let mut stalled = 0;
    let mut no_gain = 0;
    let mut crawl = 0;
    let mut iterations = 0;
    let mut window_start = v;
    let mut robust = robust_now;
    while !robust {
        if ev.out() {
            return Descent::Stopped { point: p };
        }
        if iterations == PLAIN_ITERATIONS {
            robust = true;
            break;
        }
        iterations += 1;
        let gn = norm(gx, gy);
        if gn <= 1e-13 * (1.0 + v.abs()) {
            break;
        }
        // Newton direction where the Hessian is positive definite, else steepest descent;
        // the step length is capped at `scale` and backtracked until f decreases (Armijo).
        let h = ev.hessian(p);
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        let (mut dx, mut dy) = (-gx, -gy);
        if h[0][0] > 0.0 && det > 0.0 && det.is_finite() {
            dx = -(h[1][1] * gx - h[0][1] * gy) / det;
            dy = -(-h[1][0] * gx + h[0][0] * gy) / det;
        }
        let dn = norm(dx, dy);
        let slope = dx * gx + dy * gy;
        let mut t = (scale / dn).min(1.0);
        let steepest = dx == -gx && dy == -gy;
        if steepest {
            t = scale / dn;
        }
        let mut accepted = false;
        for _ in 0..60 {
            let q = [p[0] + t * dx, p[1] + t * dy];
            let (vq, gxq, gyq) = ev.eval(q);
            if vq.is_finite() && (vq <= v + 1e-4 * t * slope || (vq <= v && norm(gxq, gyq) < gn)) {
                no_gain = if vq < v { 0 } else { no_gain + 1 };
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
        if away(p, v) {
            return Descent::Unbounded { point: p };
        }
        if left(p) {
            return Descent::Left { point: p };
        }
        // no progress: steps that do not lower the value (3 in a row in steepest descent, 200
        // of Newton's: they still refine the point below the value's rounding), a zig-zag
        // of 20 steepest-descent steps cut by the line search to under 1% of the cap (an
        // ill-conditioned valley the Hessian does not see as one: a flat tail), or a value
        // that hardly falls over 250 iterations (a zig-zag across a kink)
        crawl = if accepted && steepest && t < scale / dn && t * dn < 1e-2 * scale { crawl + 1 } else { 0 };
        if no_gain >= if steepest { 3 } else { 200 } || crawl >= 20 || !(gx.is_finite() && gy.is_finite()) {
            robust = true;
        }
        if iterations % PLAIN_WINDOW == 0 {
            if !fell(window_start, v) {
                robust = true;
            }
            window_start = v;
        }
    }
    if robust {
        match robust_descent(&mut ev, p, v, scale, &away, &left) {
            Ok(q) => p = q,
            Err(d) => return d,
        }
    }
    if ev.out() {
        return Descent::Stopped { point: p };
    }
    polish_ev(&mut ev, p, true)
}

/// How far `p` lies outside the domain's box (0 inside).
fn outside(f: &Function, p: [f64; 2]) -> f64 {
    let [x0, x1, y0, y1] = f.domain;
    let dx = (x0 - p[0]).max(p[0] - x1).max(0.0);
    let dy = (y0 - p[1]).max(p[1] - y1).max(0.0);
    let d = norm(dx, dy);
    if d.is_nan() {
        0.0
    } else {
        d
    }
}

/// The eigenvalues (larger first) and unit eigenvectors of a symmetric 2×2 matrix.
fn eigen(h: [[f64; 2]; 2]) -> [(f64, [f64; 2]); 2] {
    let (a, b, c) = (h[0][0], h[0][1], h[1][1]);
    let theta = 0.5 * (2.0 * b).atan2(a - c);
    let (s, co) = theta.sin_cos();
    let u1 = [co, s];
    let u2 = [-s, co];
    let rayleigh = |u: [f64; 2]| a * u[0] * u[0] + 2.0 * b * u[0] * u[1] + c * u[1] * u[1];
    [(rayleigh(u1), u1), (rayleigh(u2), u2)]
}

// `!(a > b)` on purpose in this file: a NaN must fail every test of progress.
/// The robust phase (see the module's documentation). `Ok` with the point where no step
/// lowers the value any more; `Err` with the outcome when it ran away, left its bounds or
/// ran out of budget.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn robust_descent(
    ev: &mut Ev<'_>,
    mut p: [f64; 2],
    mut v: f64,
    scale: f64,
    away: &dyn Fn([f64; 2], f64) -> bool,
    left: &dyn Fn([f64; 2]) -> bool,
) -> Result<[f64; 2], Descent> {
    let (_, mut gx, mut gy) = ev.eval(p);
    let mut no_gain = 0;
    let mut window_start = v;
    for k in 1..=ROBUST_ITERATIONS {
        if ev.out() {
            return Err(Descent::Stopped { point: p });
        }
        let gn = norm(gx, gy);
        if !gn.is_finite() || gn <= 1e-13 * (1.0 + v.abs()) {
            break;
        }
        let h = ev.hessian(p);
        if !(h[0][0].is_finite() && h[0][1].is_finite() && h[1][1].is_finite()) {
            break;
        }
        // the step cap grows with the distance outside the domain (a far start comes back
        // in a few dozen steps, not thousands)
        let cap = scale + 0.1 * outside(ev.f, p);
        let pairs = eigen(h);
        let tau = 1e-9 * (pairs[0].0.abs() + pairs[1].0.abs()) + f64::MIN_POSITIVE;
        let mut d = [0.0, 0.0];
        for (lambda, u) in pairs {
            let gi = gx * u[0] + gy * u[1];
            let si = if gi == 0.0 {
                0.0
            } else if lambda > tau {
                (-gi / lambda).clamp(-cap, cap)
            } else if lambda < -tau {
                (-gi / -lambda).clamp(-cap, cap)
            } else {
                -cap * gi.signum()
            };
            d[0] += si * u[0];
            d[1] += si * u[1];
        }
        // the decrease the step promises to first order; below the value's rounding no
        // step can lower it measurably: converged (or flat)
        let pred = -(gx * d[0] + gy * d[1]);
        if !(pred > 4.0 * f64::EPSILON * v.abs()) {
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let q = [p[0] + t * d[0], p[1] + t * d[1]];
            let (vq, gxq, gyq) = ev.eval(q);
            if vq.is_finite() && (vq < v - 1e-4 * t * pred || (vq <= v && norm(gxq, gyq) < gn)) {
                no_gain = if vq < v { 0 } else { no_gain + 1 };
                p = q;
                v = vq;
                gx = gxq;
                gy = gyq;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted || no_gain >= 3 {
            break;
        }
        if away(p, v) {
            return Err(Descent::Unbounded { point: p });
        }
        if left(p) {
            return Err(Descent::Left { point: p });
        }
        if k % ROBUST_WINDOW == 0 {
            if !fell(window_start, v) {
                break;
            }
            window_start = v;
        }
    }
    Ok(p)
}

/// Newton steps from a point close to a stationary point; classifies it strictly: a
/// minimum needs both Hessian eigenvalues clearly positive, so a degenerate minimum (x⁴,
/// the valley of x² + 5) counts as a stationary point. (Basin maps classify their end
/// points this way, as they always have; descents probe degenerate points, see
/// [`polish_in`].)
pub fn polish(f: &Function, p: [f64; 2]) -> Descent {
    polish_in(f, p, &mut Budget::unlimited(), false)
}

/// [`polish`], charged to `budget` (its work is bounded in any case: at most 50 Newton
/// steps and 24 probes). With `probe`, a point whose smallest curvature is zero up to
/// rounding is classified by the values around it: a minimum (x⁴, a point of the valley of
/// x² + 5), a saddle, or a flat region.
pub fn polish_in(f: &Function, p: [f64; 2], budget: &mut Budget, probe: bool) -> Descent {
    let mut ev = Ev { f, cost: eval_cost(f), budget };
    polish_ev(&mut ev, p, probe)
}

#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn polish_ev(ev: &mut Ev<'_>, mut p: [f64; 2], probing: bool) -> Descent {
    for _ in 0..50 {
        let (_, gx, gy) = ev.eval(p);
        let gn = norm(gx, gy);
        if gn == 0.0 {
            break;
        }
        let h = ev.hessian(p);
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        if det.abs() < 1e-300 || !det.is_finite() {
            break;
        }
        let dx = (h[1][1] * gx - h[0][1] * gy) / det;
        let dy = (-h[1][0] * gx + h[0][0] * gy) / det;
        let q = [p[0] - dx, p[1] - dy];
        let (_, qx, qy) = ev.eval(q);
        if norm(qx, qy).is_nan() || norm(qx, qy) >= gn {
            break;
        }
        p = q;
        if norm(dx, dy) <= 1e-15 * (1.0 + norm(p[0], p[1])) {
            break;
        }
    }
    let (v, gx, gy) = ev.eval(p);
    let h = ev.hessian(p);
    let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
    let scale = 1.0 + v.abs() + norm(h[0][0], h[1][1]);
    if !(norm(gx, gy) <= 1e-6 * scale) {
        // not stationary; with probing, a kink with higher values all around (|x| + |y|,
        // the tip of a cone) is a minimum all the same
        // (a moderate slope only: next to a pole the values are all "higher" too)
        let moderate = norm(gx, gy) <= 1e6 * (1.0 + v.abs());
        if probing && v.is_finite() && moderate && matches!(probe(ev, p, v), Shape::Minimum) {
            return Descent::Kink { point: p, value: v };
        }
        return Descent::NotConverged { point: p };
    }
    // Both eigenvalues clearly positive: a minimum. Clearly negative: a saddle or a
    // maximum. Zero up to rounding (x⁴, x² + 5, x³'s inflection, a plateau): the
    // neighbourhood decides.
    let tr = h[0][0] + h[1][1];
    let disc = ((h[0][0] - h[1][1]).powi(2) + 4.0 * h[0][1] * h[0][1]).sqrt();
    let lmin = 0.5 * (tr - disc);
    let hscale = h[0][0].abs().max(h[1][1].abs()).max(h[0][1].abs());
    let threshold = 1e-6 * (1.0 + hscale);
    if lmin > threshold && det > 0.0 {
        return Descent::Minimum { point: p, value: v };
    }
    if !probing || !(lmin >= -threshold) {
        return Descent::Stationary { point: p, value: v };
    }
    match probe(ev, p, v) {
        Shape::Minimum => Descent::Minimum { point: p, value: v },
        Shape::Lower => Descent::Stationary { point: p, value: v },
        Shape::Flat => Descent::Flat { point: p, value: v },
    }
}

/// What the neighbourhood of a stationary point looks like.
enum Shape {
    /// Higher values around (equal ones allowed along a valley).
    Minimum,
    /// A lower value nearby.
    Lower,
    /// Equal values all around, to rounding.
    Flat,
}

/// Probes 8 directions on rings of radius 10⁻⁵, 10⁻⁴ and 10⁻³ times (1 + |p|).
/// Values closer than 4 ulp of the larger one, or than 10⁻²⁰ of the function's scale
/// ([`Function::value_scale`]), count as equal.
fn probe(ev: &mut Ev<'_>, p: [f64; 2], v: f64) -> Shape {
    let base = 1.0 + p[0].abs().max(p[1].abs());
    let floor = 1e-20 * ev.f.value_scale();
    let mut higher = false;
    for r in [1e-5, 1e-4, 1e-3] {
        for k in 0..8 {
            let (s, c) = (k as f64 * std::f64::consts::FRAC_PI_4).sin_cos();
            let q = [p[0] + r * base * c, p[1] + r * base * s];
            let vq = ev.value(q);
            if !vq.is_finite() {
                continue;
            }
            let tol = 4.0 * f64::EPSILON * v.abs().max(vq.abs()) + floor;
            if vq < v - tol {
                return Shape::Lower;
            }
            if vq > v + tol {
                higher = true;
            }
        }
    }
    if higher {
        Shape::Minimum
    } else {
        Shape::Flat
    }
}

/// The step-length cap used for a function: 1% of its domain's diagonal.
pub fn step_scale(f: &Function) -> f64 {
    let [x0, x1, y0, y1] = f.domain;
    0.01 * norm(x1 - x0, y1 - y0)
}

/// Points merged within a tolerance: a hash of grid cells of that size, so looking a
/// point up costs the same however many are stored.
pub struct Merger {
    tol: f64,
    /// the cell size: a hair above the tolerance, so that a point within it of another
    /// always lies in a neighbouring cell, rounding included
    cell: f64,
    cells: HashMap<(i64, i64), Vec<usize>>,
    points: Vec<[f64; 2]>,
}

impl Merger {
    pub fn new(tol: f64) -> Merger {
        let tol = if tol.is_finite() && tol > 0.0 { tol } else { f64::MIN_POSITIVE };
        Merger { tol, cell: tol * (1.0 + 1e-9), cells: HashMap::new(), points: Vec::new() }
    }
    fn key(&self, p: [f64; 2]) -> (i64, i64) {
        // `as` saturates (and maps NaN to 0): no overflow for any point
        ((p[0] / self.cell).floor() as i64, (p[1] / self.cell).floor() as i64)
    }
    /// The first stored point (lowest index) within the tolerance of `p`.
    pub fn find(&self, p: [f64; 2]) -> Option<usize> {
        let (kx, ky) = self.key(p);
        let mut best: Option<usize> = None;
        for dx in -1..=1 {
            for dy in -1..=1 {
                let k = (kx.saturating_add(dx), ky.saturating_add(dy));
                for &i in self.cells.get(&k).into_iter().flatten() {
                    let q = self.points[i];
                    if norm(q[0] - p[0], q[1] - p[1]) <= self.tol && best.is_none_or(|b| i < b) {
                        best = Some(i);
                    }
                }
            }
        }
        best
    }
    /// Stores `p`; returns its index.
    pub fn insert(&mut self, p: [f64; 2]) -> usize {
        let i = self.points.len();
        self.points.push(p);
        let k = self.key(p);
        self.cells.entry(k).or_default().push(i);
        i
    }
    /// Moves stored point `i` to `p` (within the tolerance of where it was).
    pub fn replace(&mut self, i: usize, p: [f64; 2]) {
        let old = self.key(self.points[i]);
        if let Some(v) = self.cells.get_mut(&old) {
            v.retain(|&j| j != i);
        }
        self.points[i] = p;
        let k = self.key(p);
        self.cells.entry(k).or_default().push(i);
    }
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }
    pub fn len(&self) -> usize {
        self.points.len()
    }
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// The outcome of a minima search over the domain.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// The minima found inside the domain, lowest value first.
    pub minima: Vec<[f64; 2]>,
    /// Set when the budget ran out: what was found and what was skipped.
    pub note: Option<String>,
    /// Starts descended from, of how many.
    pub starts_done: usize,
    pub starts: usize,
    /// Evaluations made.
    pub evals: u64,
}

/// The local minima reached from an n×n grid of starts that lie inside the domain,
/// merged, sorted by value (lowest first); within [`Budget::search`].
pub fn find_in_domain(f: &Function, n: usize) -> Vec<[f64; 2]> {
    search_in_domain(f, n, &mut Budget::search()).minima
}

/// The order in which the starts of an n×n grid are visited: coarse to fine (every 32nd
/// row and column, then every 16th, …), so that a search cut short by its budget has still
/// covered the whole domain.
fn coarse_to_fine(n: usize) -> Vec<(usize, usize)> {
    let mut seen = vec![false; n * n];
    let mut order = Vec::with_capacity(n * n);
    let mut s = if n == 0 { 1 } else { 1usize << (usize::BITS - 1 - n.leading_zeros()) };
    loop {
        for i in (s / 2..n).step_by(s) {
            for j in (s / 2..n).step_by(s) {
                if !seen[i * n + j] {
                    seen[i * n + j] = true;
                    order.push((i, j));
                }
            }
        }
        if s == 1 {
            break;
        }
        s /= 2;
    }
    order
}

/// The largest grid side [`search_in_domain`] takes (larger ones are clamped to it).
pub const MAX_SIDE: usize = 1024;

/// [`find_in_domain`] within `budget`, with a note when the budget ran out.
///
/// The result does not depend on the order the starts are visited in: of the starts that
/// reach the same minimum, the point reached from the first one in row-major order is kept,
/// and ties of value are broken by that order. A function of x alone (or of y alone) has
/// its minima on whole lines: one row (column) of starts through the middle of the domain
/// finds one point per line. A constant expression has no minimum to find.
pub fn search_in_domain(f: &Function, n: usize, budget: &mut Budget) -> Search {
    let n = n.min(MAX_SIDE);
    let [x0, x1, y0, y1] = f.domain;
    let scale = step_scale(f);
    let tol = 1e-4 * norm(x1 - x0, y1 - y0);
    let (mx, my) = (0.05 * (x1 - x0), 0.05 * (y1 - y0));
    let bounds = Some([x0 - mx, x1 + mx, y0 - my, y1 + my]);
    let (uses_x, uses_y) = match &f.kind {
        Kind::Expr(e) => e.uses(),
        Kind::Builtin(_) => (true, true),
    };
    let cell = |k: usize, a: f64, b: f64| a + (b - a) * (k as f64 + 0.5) / n as f64;
    let mid_x = 0.5 * (x0 + x1);
    let mid_y = 0.5 * (y0 + y1);
    // (rank in row-major order, start)
    let starts: Vec<(usize, [f64; 2])> = match (uses_x, uses_y) {
        (false, false) => Vec::new(),
        (true, false) => (0..n).map(|i| (i, [cell(i, x0, x1), mid_y])).collect(),
        (false, true) => (0..n).map(|j| (j, [mid_x, cell(j, y0, y1)])).collect(),
        (true, true) => {
            coarse_to_fine(n).into_iter().map(|(i, j)| (i * n + j, [cell(i, x0, x1), cell(j, y0, y1)])).collect()
        }
    };
    let mut merger = Merger::new(tol);
    // per stored minimum: (value, rank of the start it was kept from)
    let mut info: Vec<(f64, usize)> = Vec::new();
    let mut done = 0;
    for &(rank, s) in &starts {
        if budget.exhausted() {
            break;
        }
        // one start may take at most a descent's budget: a pathological start does not
        // starve the others
        let mut part = budget.part(DESCENT_WORK);
        let d = descend_in(f, s, scale, bounds, &mut part);
        budget.absorb(&part);
        if budget.exhausted() && matches!(d, Descent::Stopped { .. }) {
            break;
        }
        done += 1;
        if let Descent::Minimum { point, value } = d {
            let inside = point[0] >= x0 && point[0] <= x1 && point[1] >= y0 && point[1] <= y1;
            if !inside {
                continue;
            }
            match merger.find(point) {
                Some(i) if rank < info[i].1 => {
                    merger.replace(i, point);
                    info[i] = (value, rank);
                }
                Some(_) => {}
                None => {
                    merger.insert(point);
                    info.push((value, rank));
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..merger.len()).collect();
    order.sort_by(|&a, &b| info[a].0.total_cmp(&info[b].0).then(info[a].1.cmp(&info[b].1)));
    let minima: Vec<[f64; 2]> = order.iter().map(|&i| merger.points()[i]).collect();
    let note = (done < starts.len()).then(|| {
        format!(
            "minima search stopped {}: {} found from {} of {} starts",
            budget.describe_stop(),
            minima.len(),
            crate::limits::group(done as u64),
            crate::limits::group(starts.len() as u64)
        )
    });
    Search { minima, note, starts_done: done, starts: starts.len(), evals: budget.evals() }
}
