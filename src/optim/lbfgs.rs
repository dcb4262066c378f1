//! `lbfgs`: limited-memory BFGS as `torch.optim.LBFGS` (Liu & Nocedal, 1989; the code
//! follows minFunc and torch7's `optim.lbfgs` / `lswolfe`), with the optional strong-Wolfe
//! line search (Nocedal & Wright, Algorithms 3.5–3.6) and its cubic interpolation.
//!
//! One optlab step is one torch `step(closure)`: up to `max_iter` iterations of
//!
//! ```text
//! d = −H·g      (two-loop recursion over the last history_size pairs (s, y) with
//!                s = t·d, y = Δg, kept when yᵀs > 1e-10; H₀ = (yᵀs / yᵀy)·I; d = −g first)
//! t = min(1, 1/‖g‖₁)·lr on the very first iteration, lr afterwards
//! θ = θ + t·d   (t from the strong-Wolfe search when line_search_fn="strong_wolfe")
//! ```
//!
//! stopping when ‖g‖_∞ ≤ tolerance_grad, gᵀd > −tolerance_change, ‖t·d‖_∞ ≤
//! tolerance_change, |Δf| < tolerance_change, or after max_iter iterations / max_eval
//! evaluations. The state (direction, step, history, previous gradient and loss, counters)
//! carries over from step to step as in torch. The step returns the loss at its first
//! evaluation (torch's `orig_loss`).
//!
//! Defaults as in PyTorch: lr 1, max_iter 20, max_eval None (= max_iter·5 div 4),
//! tolerance_grad 1e-7, tolerance_change 1e-9, history_size 100, line_search_fn None,
//! maximize false. As in torch, the line search always uses its own tolerance_change of
//! 1e-9 (c₁ = 1e-4, c₂ = 0.9, at most max_eval − evaluations so far trial points).
//!
//! Scalars are computed as torch computes them (Python floats and 0-dim tensors), in the
//! same order, so that f64 runs agree with torch to the last bit; reductions over the
//! parameters (dot products, ‖·‖₁, ‖·‖_∞) are summed in order.

use super::{Check, Group, GroupHyper, Hyper, Kind, Layout, Method, Objective, Optimizer, Param, Point, Real, Value};
use std::collections::VecDeque;

pub(super) const METHOD: Method = Method {
    name: "lbfgs",
    title: "L-BFGS with optional strong-Wolfe line search as torch.optim.LBFGS",
    group: Group::Matrix,
    formula: "d = −H·g (two-loop recursion over the last (s, y) pairs);  θ = θ + t·d, t = lr or strong-Wolfe; up to max_iter per step",
    reference: "torch.optim.LBFGS",
    params: &[
        Param::new("lr", Kind::Num, "1", Check::Lr, "learning rate (the first trial step)"),
        Param::new("max_iter", Kind::Int, "20", Check::Custom(max_iter_ok), "iterations per optimizer step (1 to 10,000)"),
        Param::new("max_eval", Kind::MaybeNum, "None", Check::Custom(max_eval_ok), "evaluations per step (None = max_iter·5 div 4)"),
        Param::new("tolerance_grad", Kind::Num, "1e-7", Check::NonNeg, "stop when the largest gradient entry is at most this"),
        Param::new("tolerance_change", Kind::Num, "1e-9", Check::NonNeg, "stop when the step, the loss change or gᵀd is below this"),
        Param::new("history_size", Kind::Int, "100", Check::Custom(history_ok), "number of (s, y) pairs kept (1 to 10,000)"),
        Param::new("line_search_fn", Kind::Choice(&["None", "strong_wolfe"]), "None", Check::Any, "None (fixed step lr) or \"strong_wolfe\""),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: true,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

/// Iterations (and evaluations) one step may make: PyTorch sets no bound, optlab does, so a
/// step always ends (the default is 20).
const MAX_ITER: f64 = 10_000.0;

fn max_iter_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if (1.0..=MAX_ITER).contains(x) && x.fract() == 0.0 => Ok(()),
        _ => Err(format!("invalid max_iter value: max_iter={v} (use an integer from 1 to 10,000)")),
    }
}

fn history_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if (1.0..=MAX_ITER).contains(x) && x.fract() == 0.0 => Ok(()),
        _ => Err(format!("invalid history_size value: history_size={v} (use an integer from 1 to 10,000)")),
    }
}

fn max_eval_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::None => Ok(()),
        Value::Num(x) if (1.0..=MAX_ITER * 1.25).contains(x) && x.fract() == 0.0 => Ok(()),
        _ => Err(format!(
            "invalid max_eval value: max_eval={v} (use an integer from 1 to 12,500, or None for max_iter*5//4)"
        )),
    }
}

fn build<T: Real>(h: &Hyper, _layout: &Layout) -> Box<dyn Optimizer<T>> {
    Box::new(Lbfgs::<T>::new(LbfgsConfig::from_hyper(h)))
}

/// Hyperparameters of [`Lbfgs`], PyTorch's names and defaults (`max_eval` resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsConfig {
    pub lr: f64,
    pub max_iter: u64,
    pub max_eval: u64,
    pub tolerance_grad: f64,
    pub tolerance_change: f64,
    pub history_size: usize,
    pub strong_wolfe: bool,
    pub maximize: bool,
}

impl LbfgsConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let max_iter = h.int("max_iter").max(0) as u64;
        LbfgsConfig {
            lr: h.num("lr"),
            max_iter,
            max_eval: h.maybe_num("max_eval").map_or(max_iter * 5 / 4, |e| e.max(0.0) as u64),
            tolerance_grad: h.num("tolerance_grad"),
            tolerance_change: h.num("tolerance_change"),
            history_size: h.int("history_size").max(1) as usize,
            strong_wolfe: h.choice("line_search_fn") == Some("strong_wolfe"),
            maximize: h.flag("maximize"),
        }
    }
}

/// Python's `max(a, b)`: `a` unless `b > a`.
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)`: `a` unless `b < a`.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// `x.dot(y)`, summed in order.
fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    x.iter().zip(y).fold(T::zero(), |s, (&a, &b)| s + a * b)
}

/// `x.abs().max()` (NaN if any entry is NaN, as torch's max).
fn max_abs<T: Real>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |m, &v| if v.is_nan() || m.is_nan() { T::nan() } else { m.max(v.abs()) })
}

/// `x.abs().sum()`, in order.
fn sum_abs<T: Real>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |s, &v| s + v.abs())
}

/// The minimiser of the cubic through (x₁, f₁, g₁) and (x₂, f₂, g₂), clamped to `bounds`
/// (default: the interval between x₁ and x₂); the midpoint of the bounds when the cubic
/// has no minimum. torch's `_cubic_interpolate`, operation for operation.
pub fn cubic_interpolate(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: Option<(f64, f64)>) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = (g1 + g2) - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * (((g2 + d2) - d1) / ((g2 - g1) + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * (((g1 + d2) - d1) / ((g1 - g2) + 2.0 * d2))
        };
        py_min(py_max(min_pos, lo), hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// The sufficient-decrease and curvature constants of the line search, and its own
/// tolerance on the bracket width (torch does not pass the optimizer's).
const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const LS_TOLERANCE_CHANGE: f64 = 1e-9;

/// Buffers of the strong-Wolfe search: the starting point and gradient, the newest and
/// previous trial gradients, and the gradients at the two ends of the bracket.
#[derive(Default)]
struct LineSearch<T> {
    x: Vec<T>,
    g0: Vec<T>,
    g_new: Vec<T>,
    g_prev: Vec<T>,
    bracket_g: [Vec<T>; 2],
}

/// Where the gradient of a bracket end comes from when the bracket is formed.
#[derive(Clone, Copy)]
enum Src {
    Start,
    Prev,
    New,
}

impl<T: Real> LineSearch<T> {
    fn size(&mut self, n: usize) {
        let [b0, b1] = &mut self.bracket_g;
        for b in [&mut self.x, &mut self.g0, &mut self.g_new, &mut self.g_prev, b0, b1] {
            super::ensure_len(b, n, T::zero());
        }
    }

    fn copy_into_bracket(&mut self, k: usize, src: Src) {
        let from = match src {
            Src::Start => &self.g0,
            Src::Prev => &self.g_prev,
            Src::New => &self.g_new,
        };
        self.bracket_g[k].copy_from_slice(from);
    }

    /// f and ∇f at x + t·d (torch's `_directional_evaluate`): the parameters are moved
    /// there for the evaluation and put back.
    fn evaluate(&mut self, params: &mut [T], t: f64, d: &[T], obj: &mut dyn Objective<T>, maximize: bool) -> f64 {
        let tt = T::of(t);
        for ((p, &x), &di) in params.iter_mut().zip(&self.x).zip(d) {
            *p = tt.mul_add(di, x);
        }
        let mut f = obj.eval(params, &mut self.g_new).f64();
        if maximize {
            f = -f;
            self.g_new.iter_mut().for_each(|g| *g = -*g);
        }
        params.copy_from_slice(&self.x);
        f
    }

    /// torch's `_strong_wolfe` from the parameters (copied into `self.x`) along `d`, with
    /// loss `f`, gradient `self.g0` and directional derivative `gtd` there. Returns the
    /// loss at the chosen step, the step, and the number of evaluations; the gradient
    /// there is left in `self.g_new`.
    #[allow(clippy::too_many_arguments)]
    fn search(
        &mut self,
        params: &mut [T],
        obj: &mut dyn Objective<T>,
        maximize: bool,
        mut t: f64,
        d: &[T],
        f: f64,
        gtd: f64,
        max_ls: i64,
    ) -> (f64, f64, u64) {
        let d_norm = max_abs(d).f64();
        let mut f_new = self.evaluate(params, t, d, obj, maximize);
        let mut evals = 1u64;
        let mut gtd_new = dot(&self.g_new, d).f64();
        let (mut t_prev, mut f_prev, mut gtd_prev) = (0.0, f, gtd);
        let mut prev_is_start = true;
        let mut done = false;
        let mut ls_iter = 0i64;
        // bracket: positions, values, directional derivatives (gradients in bracket_g)
        let mut bracket = [0.0f64; 2];
        let mut bracket_f = [0.0f64; 2];
        let mut bracket_gtd = [0.0f64; 2];
        let mut two_ended = true;
        while ls_iter < max_ls {
            let prev_src = if prev_is_start { Src::Start } else { Src::Prev };
            let armijo_fails = f_new > f + C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev);
            let wolfe = !armijo_fails && gtd_new.abs() <= -C2 * gtd;
            if wolfe {
                bracket[0] = t;
                bracket_f[0] = f_new;
                self.copy_into_bracket(0, Src::New);
                two_ended = false;
                done = true;
                break;
            }
            if armijo_fails || gtd_new >= 0.0 {
                // a bracket [t_prev, t] holds a point satisfying the conditions
                bracket = [t_prev, t];
                bracket_f = [f_prev, f_new];
                bracket_gtd = [gtd_prev, gtd_new];
                self.copy_into_bracket(0, prev_src);
                self.copy_into_bracket(1, Src::New);
                break;
            }
            // extrapolate beyond t
            let min_step = t + 0.01 * (t - t_prev);
            let max_step = t * 10.0;
            let tmp = t;
            t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, Some((min_step, max_step)));
            t_prev = tmp;
            f_prev = f_new;
            std::mem::swap(&mut self.g_prev, &mut self.g_new);
            prev_is_start = false;
            gtd_prev = gtd_new;
            f_new = self.evaluate(params, t, d, obj, maximize);
            evals += 1;
            gtd_new = dot(&self.g_new, d).f64();
            ls_iter += 1;
        }
        if ls_iter == max_ls {
            bracket = [0.0, t];
            bracket_f = [f, f_new];
            self.copy_into_bracket(0, Src::Start);
            self.copy_into_bracket(1, Src::New);
            two_ended = true;
        }

        // zoom: shrink the bracket until a point satisfies the strong Wolfe conditions
        let mut insuf_progress = false;
        let last = if two_ended { 1 } else { 0 };
        let (mut low, mut high) = if bracket_f[0] <= bracket_f[last] { (0, 1) } else { (1, 0) };
        while !done && ls_iter < max_ls {
            if (bracket[1] - bracket[0]).abs() * d_norm < LS_TOLERANCE_CHANGE {
                break;
            }
            t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1], None);
            let b_max = py_max(bracket[0], bracket[1]);
            let b_min = py_min(bracket[0], bracket[1]);
            let eps = 0.1 * (b_max - b_min);
            if py_min(b_max - t, t - b_min) < eps {
                // too close to an end: after insufficient progress, or at an end, move away
                if insuf_progress || t >= b_max || t <= b_min {
                    t = if (t - b_max).abs() < (t - b_min).abs() { b_max - eps } else { b_min + eps };
                    insuf_progress = false;
                } else {
                    insuf_progress = true;
                }
            } else {
                insuf_progress = false;
            }
            f_new = self.evaluate(params, t, d, obj, maximize);
            evals += 1;
            gtd_new = dot(&self.g_new, d).f64();
            ls_iter += 1;
            if f_new > f + C1 * t * gtd || f_new >= bracket_f[low] {
                // not lower than the low end: the new high end
                bracket[high] = t;
                bracket_f[high] = f_new;
                bracket_gtd[high] = gtd_new;
                self.copy_into_bracket(high, Src::New);
                (low, high) = if bracket_f[0] <= bracket_f[1] { (0, 1) } else { (1, 0) };
            } else {
                if gtd_new.abs() <= -C2 * gtd {
                    done = true;
                } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                    // the old low end becomes the high end
                    bracket[high] = bracket[low];
                    bracket_f[high] = bracket_f[low];
                    bracket_gtd[high] = bracket_gtd[low];
                    let (a, b) = self.bracket_g.split_at_mut(1);
                    if high == 0 {
                        a[0].copy_from_slice(&b[0]);
                    } else {
                        b[0].copy_from_slice(&a[0]);
                    }
                }
                // the new point becomes the low end
                bracket[low] = t;
                bracket_f[low] = f_new;
                bracket_gtd[low] = gtd_new;
                self.copy_into_bracket(low, Src::New);
            }
        }
        let t = bracket[low];
        let f_new = bracket_f[low];
        let (g_new, bracket_g) = (&mut self.g_new, &self.bracket_g);
        g_new.copy_from_slice(&bracket_g[low]);
        (f_new, t, evals)
    }
}

/// L-BFGS state, carried over from step to step as torch keeps it.
pub struct Lbfgs<T> {
    pub cfg: LbfgsConfig,
    /// Evaluations and iterations over the whole run (torch's `func_evals`, `n_iter`).
    pub func_evals: u64,
    pub n_iter: u64,
    d: Vec<T>,
    t: f64,
    /// The history: y = Δg (old_dirs), s = t·d (old_stps), ρ = 1/(yᵀs), oldest first.
    old_dirs: VecDeque<Vec<T>>,
    old_stps: VecDeque<Vec<T>>,
    ro: VecDeque<T>,
    al: Vec<T>,
    h_diag: T,
    prev_flat_grad: Vec<T>,
    prev_loss: f64,
    flat_grad: Vec<T>,
    /// Scratch for the newest pair (y, s) before it enters the history.
    y: Vec<T>,
    s: Vec<T>,
    ls: LineSearch<T>,
}

impl<T: Real> Lbfgs<T> {
    pub fn new(cfg: LbfgsConfig) -> Self {
        Lbfgs {
            cfg,
            func_evals: 0,
            n_iter: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            al: Vec::new(),
            h_diag: T::one(),
            prev_flat_grad: Vec::new(),
            prev_loss: 0.0,
            flat_grad: Vec::new(),
            y: Vec::new(),
            s: Vec::new(),
            ls: LineSearch::default(),
        }
    }

    /// Evaluates at the parameters into `flat_grad`; returns (reported loss, loss as
    /// minimised).
    fn evaluate(&mut self, params: &[T], obj: &mut dyn Objective<T>) -> (T, f64) {
        let loss = obj.eval(params, &mut self.flat_grad);
        if self.cfg.maximize {
            self.flat_grad.iter_mut().for_each(|g| *g = -*g);
            (loss, -loss.f64())
        } else {
            (loss, loss.f64())
        }
    }

    /// The L-BFGS direction from the current gradient (the first iteration of the run:
    /// steepest descent), updating the history with the last step.
    fn direction(&mut self) {
        if self.n_iter == 1 {
            self.d.clear();
            self.d.extend(self.flat_grad.iter().map(|&g| -g));
            self.old_dirs.clear();
            self.old_stps.clear();
            self.ro.clear();
            self.h_diag = T::one();
            return;
        }
        // y = g − g_prev, s = t·d; the pair is kept when yᵀs > 1e-10
        let t = T::of(self.t);
        self.y.clear();
        self.y.extend(self.flat_grad.iter().zip(&self.prev_flat_grad).map(|(&g, &p)| g - p));
        self.s.clear();
        self.s.extend(self.d.iter().map(|&d| d * t));
        let ys = dot(&self.y, &self.s);
        if ys.f64() > 1e-10 {
            // a full history drops its oldest pair (whose buffers are reused)
            let (mut y, mut s) = if self.old_dirs.len() == self.cfg.history_size {
                self.ro.pop_front();
                (self.old_dirs.pop_front().unwrap_or_default(), self.old_stps.pop_front().unwrap_or_default())
            } else {
                (Vec::new(), Vec::new())
            };
            y.clone_from(&self.y);
            s.clone_from(&self.s);
            self.old_dirs.push_back(y);
            self.old_stps.push_back(s);
            self.ro.push_back(T::one() / ys);
            self.h_diag = ys / dot(&self.y, &self.y);
        }
        let num_old = self.old_dirs.len();
        // as many coefficients as pairs held (not history_size: that may be huge)
        if self.al.len() < num_old {
            self.al.resize(num_old, T::zero());
        }
        // two-loop recursion, in d (torch's q, then r)
        let d = &mut self.d;
        d.clear();
        d.extend(self.flat_grad.iter().map(|&g| -g));
        for i in (0..num_old).rev() {
            let al = dot(&self.old_stps[i], d) * self.ro[i];
            self.al[i] = al;
            for (q, &yi) in d.iter_mut().zip(&self.old_dirs[i]) {
                *q = (-al).mul_add(yi, *q);
            }
        }
        let h = self.h_diag;
        d.iter_mut().for_each(|q| *q = *q * h);
        for i in 0..num_old {
            let be = dot(&self.old_dirs[i], d) * self.ro[i];
            let w = self.al[i] - be;
            for (r, &si) in d.iter_mut().zip(&self.old_stps[i]) {
                *r = w.mul_add(si, *r);
            }
        }
    }
}

impl<T: Real> Optimizer<T> for Lbfgs<T> {
    fn group(&mut self, _i: usize) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }

    fn step(&mut self, params: &mut [T], obj: &mut dyn Objective<T>) -> T {
        let n = params.len();
        super::ensure_len(&mut self.flat_grad, n, T::zero());
        let (orig_loss, mut loss) = self.evaluate(params, obj);
        let mut current_evals = 1u64;
        self.func_evals += 1;
        let tol_grad = self.cfg.tolerance_grad;
        let tol_change = self.cfg.tolerance_change;
        if max_abs(&self.flat_grad).f64() <= tol_grad {
            return orig_loss;
        }
        let mut n_iter = 0u64;
        while n_iter < self.cfg.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            self.direction();
            super::ensure_len(&mut self.prev_flat_grad, n, T::zero());
            self.prev_flat_grad.copy_from_slice(&self.flat_grad);
            self.prev_loss = loss;

            // the step length: the first iteration of the run scales by 1/‖g‖₁ (torch's
            // min(1, 1/‖g‖₁)·lr: a tensor of the parameters' type when 1/‖g‖₁ < 1)
            let lr = self.cfg.lr;
            self.t = if self.n_iter == 1 {
                let inv = T::one() / sum_abs(&self.flat_grad);
                if inv.f64() < 1.0 {
                    (inv * T::of(lr)).f64()
                } else {
                    lr
                }
            } else {
                lr
            };
            let gtd = dot(&self.flat_grad, &self.d).f64();
            if gtd > -tol_change {
                break;
            }
            let mut ls_evals = 0;
            let mut opt_cond = false;
            if self.cfg.strong_wolfe {
                self.ls.size(n);
                self.ls.x.copy_from_slice(params);
                self.ls.g0.copy_from_slice(&self.flat_grad);
                let max_ls = self.cfg.max_eval as i64 - current_evals as i64;
                let (f, t, evals) =
                    self.ls.search(params, obj, self.cfg.maximize, self.t, &self.d, loss, gtd, max_ls);
                loss = f;
                self.t = t;
                ls_evals = evals;
                self.flat_grad.copy_from_slice(&self.ls.g_new);
                add_step(params, self.t, &self.d);
                opt_cond = max_abs(&self.flat_grad).f64() <= tol_grad;
            } else {
                add_step(params, self.t, &self.d);
                if n_iter != self.cfg.max_iter {
                    // re-evaluated only when another iteration may follow
                    loss = self.evaluate(params, obj).1;
                    opt_cond = max_abs(&self.flat_grad).f64() <= tol_grad;
                    ls_evals = 1;
                }
            }
            current_evals += ls_evals;
            self.func_evals += ls_evals;

            if n_iter == self.cfg.max_iter || current_evals >= self.cfg.max_eval || opt_cond {
                break;
            }
            // lack of progress
            let t = T::of(self.t);
            let largest_move = self.d.iter().fold(T::zero(), |m, &d| {
                let v = (d * t).abs();
                if v.is_nan() || m.is_nan() {
                    T::nan()
                } else {
                    m.max(v)
                }
            });
            if largest_move.f64() <= tol_change {
                break;
            }
            if (loss - self.prev_loss).abs() < tol_change {
                break;
            }
        }
        orig_loss
    }
}

/// `θ += t·d` (torch's `_add_grad`: `p.add_(d, alpha=t)`).
fn add_step<T: Real>(params: &mut [T], t: f64, d: &[T]) {
    let t = T::of(t);
    for (p, &di) in params.iter_mut().zip(d) {
        *p = t.mul_add(di, *p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_interpolation_finds_the_minimum_or_falls_back_to_the_midpoint() {
        // f = x³ − 3x: f(0) = 0, f'(0) = −3, f(2) = 2, f'(2) = 9; minimum at x = 1
        assert_eq!(cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, None), 1.0);
        assert_eq!(cubic_interpolate(2.0, 2.0, 9.0, 0.0, 0.0, -3.0, None), 1.0);
        // clamped to the bounds
        assert_eq!(cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, Some((1.5, 3.0))), 1.5);
        // no real critical point (d1² < g1·g2): the midpoint of the bounds
        assert_eq!(cubic_interpolate(0.0, 0.0, 1.5, 1.0, 1.0, 1.5, Some((0.0, 4.0))), 2.0);
        assert_eq!(cubic_interpolate(0.0, 0.0, 1.5, 1.0, 1.0, 1.5, None), 0.5);
    }

    fn quadratic(p: &[f64], g: &mut [f64]) -> f64 {
        g[0] = 2.0 * p[0];
        g[1] = 20.0 * p[1];
        p[0] * p[0] + 10.0 * p[1] * p[1]
    }

    fn config(spec: &str) -> LbfgsConfig {
        let cfg = crate::optim::OptimizerConfig::parse(spec).unwrap();
        LbfgsConfig::from_hyper(&cfg.hyper)
    }

    #[test]
    fn max_eval_defaults_to_five_quarters_of_max_iter_and_bad_values_are_errors() {
        assert_eq!(config("lbfgs").max_eval, 25);
        assert_eq!(config("lbfgs(max_iter=7)").max_eval, 8);
        assert_eq!(config("lbfgs(max_eval=3)").max_eval, 3);
        for bad in ["lbfgs(max_eval=0)", "lbfgs(max_eval=2.5)", "lbfgs(history_size=0)", "lbfgs(max_iter=0)"] {
            assert!(crate::optim::OptimizerConfig::parse(bad).is_err(), "{bad}");
        }
        assert!(crate::optim::OptimizerConfig::parse("lbfgs(line_search_fn=\"armijo\")").is_err());
    }

    #[test]
    fn a_step_returns_the_first_loss_and_counts_every_evaluation() {
        let mut opt = Lbfgs::<f64>::new(config("lbfgs(line_search_fn=\"strong_wolfe\")"));
        let mut p = [3.0, 1.0];
        let calls = std::cell::Cell::new(0u64);
        let mut obj = |p: &[f64], g: &mut [f64]| {
            calls.set(calls.get() + 1);
            quadratic(p, g)
        };
        let loss = opt.step(&mut p, &mut obj);
        assert_eq!(loss, 19.0);
        assert_eq!(opt.func_evals, calls.get());
        assert!(calls.get() > 1 && calls.get() <= 25);
        assert!(p[0].abs() < 1e-6 && p[1].abs() < 1e-6, "{p:?}");
        // at the minimum: one evaluation, no move (the gradient is below tolerance_grad)
        let before = p;
        opt.step(&mut p, &mut obj);
        assert_eq!(opt.func_evals, calls.get());
        assert_eq!(p, before);
    }

    #[test]
    fn maximize_climbs_and_reports_the_objective_itself() {
        let mut opt = Lbfgs::<f64>::new(config("lbfgs(lr=0.1, max_iter=3, maximize=true)"));
        let mut p = [1.0, 1.0];
        let mut neg = |p: &[f64], g: &mut [f64]| {
            let f = quadratic(p, g);
            g.iter_mut().for_each(|v| *v = -*v);
            -f
        };
        assert_eq!(opt.step(&mut p, &mut neg), -11.0);
        assert!(p[0].abs() < 1.0 && p[1].abs() < 1.0, "{p:?}");
    }

    #[test]
    fn the_history_keeps_at_most_history_size_pairs() {
        let mut opt = Lbfgs::<f64>::new(config("lbfgs(lr=0.01, max_iter=6, history_size=2)"));
        let mut p = [3.0, 1.0];
        opt.step(&mut p, &mut quadratic);
        assert_eq!(opt.old_dirs.len(), 2);
        assert_eq!(opt.ro.len(), 2);
        assert_eq!(opt.n_iter, 6);
    }
}
