//! `adafactor`: Adafactor as `torch.optim.Adafactor` (Shazeer & Stern, 2018, "Adafactor:
//! Adaptive Learning Rates with Sublinear Memory Cost").
//!
//! Per tensor θ, with g_t = ∇f(θ_{t−1}) (negated when `maximize`):
//!
//! ```text
//! β̂_t = t^c                                   (1 − β₂ at step t; c = beta2_decay)
//! ρ_t = min(γ, 1/√t);   α_t = max(ε₂, RMS(θ_{t−1}))·ρ_t
//! θ ← θ·(1 − γλ)                               (decoupled weight_decay λ)
//! tensors with ≥ 2 dims, factored over the last two (rows i, columns j):
//!     R_i = lerp(R_i, ‖g_i·‖²/n_cols, β̂_t);   C_j = lerp(C_j, ‖g_·j‖²/n_rows, β̂_t)
//!     V_ij = R_i·C_j / max(mean_i R_i, ε₁)
//! vectors:  V = lerp(V, g², β̂_t)
//! U = g / √max(V, ε₁²);   θ ← θ − α_t / max(1, RMS(U)/d) · U
//! ```
//!
//! Defaults as in PyTorch: lr γ = 0.01, beta2_decay c = −0.8, eps (ε₁, ε₂) = (None, 1e-3)
//! where ε₁ = None is the machine epsilon of the parameters' type (f32 or f64),
//! d = 1, weight_decay 0, maximize false.
//!
//! Not element-wise: the factored moments and both RMS values couple the entries of a
//! tensor, so the method follows the [`Layout`] (a conv kernel [o, i, kh, kw] is factored
//! over kh × kw for each (o, i), exactly as torch does). The arithmetic follows torch's
//! single-tensor path, including its rounding: squared norms are the rounded norm squared,
//! 1/√ is a division after a square root.

use super::{ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real, Value};

pub(super) const METHOD: Method = Method {
    name: "adafactor",
    title: "Adafactor (factored second moments) as torch.optim.Adafactor",
    group: Group::Adaptive,
    formula: "V = R·Cᵀ/mean(R) (matrices) or lerp(V, g², t^c);  θ = θ − max(ε₂, RMS(θ))·min(lr, 1/√t) · U/max(1, RMS(U)/d),  U = g/√V",
    reference: "torch.optim.Adafactor",
    params: &[
        Param::new("lr", Kind::Num, "0.01", Check::Lr, "learning rate γ (caps the relative step ρ)"),
        Param::new("beta2_decay", Kind::Num, "-0.8", Check::Custom(non_positive), "exponent c of the second-moment rate t^c (≤ 0)"),
        Param::new(
            "eps",
            Kind::MaybeNums(2),
            "(None, 1e-3)",
            Check::Custom(eps_ok),
            "(ε₁ floor of the second moment, None = machine epsilon; ε₂ floor of RMS(θ))",
        ),
        Param::new("d", Kind::Num, "1.0", Check::Custom(at_least_one), "clipping threshold of RMS(update) (≥ 1)"),
        Param::new("weight_decay", Kind::Num, "0.0", Check::NonNeg, "decoupled weight decay λ"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn non_positive(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if *x <= 0.0 => Ok(()),
        _ => Err(format!("beta2_decay should be <= 0 but is: {v} (e.g. beta2_decay=-0.8)")),
    }
}

fn eps_ok(v: &Value) -> Result<(), String> {
    let non_neg = |x: &Value| matches!(x, Value::Num(x) if *x >= 0.0);
    match v {
        Value::Tuple(e) if e.len() == 2 && (e[0] == Value::None || non_neg(&e[0])) && non_neg(&e[1]) => Ok(()),
        _ => Err(format!("invalid eps value: eps={v} (use (ε₁, ε₂) with ε₁ >= 0 or None and ε₂ >= 0, e.g. eps=(None, 1e-3))")),
    }
}

fn at_least_one(v: &Value) -> Result<(), String> {
    match v {
        Value::Num(x) if *x >= 1.0 => Ok(()),
        _ => Err(format!("clipping threshold d should be >= 1 but is: {v} (e.g. d=1.0)")),
    }
}

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Adafactor::<T>::new(AdafactorConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Adafactor`], PyTorch's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdafactorConfig {
    pub lr: f64,
    pub beta2_decay: f64,
    /// ε₁ (`None`: the machine epsilon of the parameters' type) and ε₂.
    pub eps: (Option<f64>, f64),
    pub d: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

impl AdafactorConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let eps = h.maybe_nums("eps");
        AdafactorConfig {
            lr: h.num("lr"),
            beta2_decay: h.num("beta2_decay"),
            eps: (eps[0], eps.get(1).copied().flatten().unwrap_or(1e-3)),
            d: h.num("d"),
            weight_decay: h.num("weight_decay"),
            maximize: h.flag("maximize"),
        }
    }
}

/// How one tensor's second moment is kept.
#[derive(Clone, Debug, PartialEq)]
enum Plan {
    /// A vector (or scalar): one second moment per entry, at `state`.
    Vector { range: std::ops::Range<usize>, state: usize },
    /// `batch` matrices rows × cols (the last two dims): row moments at `rows`
    /// (batch·rows), column moments at `cols` (batch·cols).
    Factored { range: std::ops::Range<usize>, batch: usize, rows: usize, cols: usize, row_state: usize, col_state: usize },
}

/// Adafactor state: step count, the per-tensor plans, and all moments in one buffer.
pub struct Adafactor<T> {
    pub cfg: AdafactorConfig,
    layout: Layout,
    plans: Vec<Plan>,
    step: u64,
    state: Vec<T>,
    /// One tensor's update U (sized for the largest tensor).
    update: Vec<T>,
}

impl<T: Real> Adafactor<T> {
    pub fn new(cfg: AdafactorConfig, layout: &Layout) -> Self {
        Adafactor { cfg, layout: layout.clone(), plans: Vec::new(), step: 0, state: Vec::new(), update: Vec::new() }
    }

    /// Sizes the state for `n` parameters on the first step (a layout that does not cover
    /// them is replaced by one vector).
    fn prepare(&mut self, n: usize) {
        if !self.plans.is_empty() || n == 0 {
            return;
        }
        if self.layout.len() != n {
            self.layout = Layout::flat(n);
        }
        let mut used = 0;
        let mut largest = 0;
        for t in &self.layout.tensors {
            largest = largest.max(t.len());
            let s = &t.shape;
            if s.len() >= 2 {
                let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
                let batch = s[..s.len() - 2].iter().product::<usize>();
                self.plans.push(Plan::Factored {
                    range: t.range(),
                    batch,
                    rows,
                    cols,
                    row_state: used,
                    col_state: used + batch * rows,
                });
                used += batch * (rows + cols);
            } else {
                self.plans.push(Plan::Vector { range: t.range(), state: used });
                used += t.len();
            }
        }
        self.state = vec![T::zero(); used];
        self.update = vec![T::zero(); largest];
    }
}

/// Python's `max(a, b)`: `a` unless `b > a` (so a NaN `b` is ignored, a NaN `a` kept).
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

/// `t.clamp(min=m)`: NaN stays NaN.
fn clamp_min<T: Real>(x: T, m: T) -> T {
    if x < m {
        m
    } else {
        x
    }
}

/// The 2-norm of the values, as ATen reduces it: squares accumulated with fused
/// multiply-adds (in f64), the root rounded to `T`.
fn norm2<T: Real>(values: impl Iterator<Item = T>) -> T {
    T::of(values.fold(0.0f64, |acc, v| v.f64().mul_add(v.f64(), acc)).sqrt())
}

impl<T: Real> GradientRule<T> for Adafactor<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: None }
    }

    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        self.prepare(params.len());
        self.step += 1;
        let c = &self.cfg;
        let eps1 = c.eps.0.unwrap_or(T::epsilon().f64());
        let step = self.step as f64;
        let beta = T::of(step.powf(c.beta2_decay));
        let rho = py_min(c.lr, 1.0 / step.powf(0.5));
        let (floor1, floor1_sq) = (T::of(eps1), T::of(eps1 * eps1));
        let decay = T::of(1.0 - c.lr * c.weight_decay);
        let g_of = |g: T| if c.maximize { -g } else { g };
        for plan in &self.plans {
            let range = match plan {
                Plan::Vector { range, .. } | Plan::Factored { range, .. } => range.clone(),
            };
            let n = range.len();
            let (p, g) = (&mut params[range.clone()], &grad[range]);
            let rms_scale = (n as f64).powf(0.5);
            let alpha = py_max(c.eps.1, norm2(p.iter().copied()).f64() / rms_scale) * rho;
            if c.weight_decay != 0.0 {
                p.iter_mut().for_each(|x| *x = *x * decay);
            }
            let u = &mut self.update[..n];
            match *plan {
                Plan::Vector { state, .. } => {
                    let v = &mut self.state[state..state + n];
                    for ((u, v), &g) in u.iter_mut().zip(v.iter_mut()).zip(g) {
                        let g = g_of(g);
                        *v = ops::lerp(*v, g * g, beta);
                        *u = g * (T::one() / clamp_min(*v, floor1_sq).sqrt());
                    }
                }
                Plan::Factored { batch, rows, cols, row_state, col_state, .. } => {
                    let (n_cols, n_rows) = (T::of(cols as f64), T::of(rows as f64));
                    let (row_vars, col_vars) = self.state.split_at_mut(col_state);
                    for b in 0..batch {
                        let gm = &g[b * rows * cols..(b + 1) * rows * cols];
                        let rv = &mut row_vars[row_state + b * rows..row_state + (b + 1) * rows];
                        let cv = &mut col_vars[b * cols..(b + 1) * cols];
                        for (i, r) in rv.iter_mut().enumerate() {
                            let norm = norm2(gm[i * cols..(i + 1) * cols].iter().map(|&x| g_of(x)));
                            *r = ops::lerp(*r, norm * norm / n_cols, beta);
                        }
                        for (j, cj) in cv.iter_mut().enumerate() {
                            let norm = norm2((0..rows).map(|i| g_of(gm[i * cols + j])));
                            *cj = ops::lerp(*cj, norm * norm / n_rows, beta);
                        }
                        let row_mean = clamp_min(rv.iter().fold(T::zero(), |s, &r| s + r) / n_rows, floor1);
                        let um = &mut u[b * rows * cols..(b + 1) * rows * cols];
                        for (i, &r) in rv.iter().enumerate() {
                            for (j, &cj) in cv.iter().enumerate() {
                                let v = r * cj / row_mean;
                                um[i * cols + j] =
                                    g_of(gm[i * cols + j]) * (T::one() / clamp_min(v, floor1_sq).sqrt());
                            }
                        }
                    }
                }
            }
            let denom = py_max(1.0, norm2(u.iter().copied()).f64() / (rms_scale * c.d));
            let step_size = T::of(-alpha / denom);
            for (p, &u) in p.iter_mut().zip(u.iter()) {
                *p = step_size.mul_add(u, *p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AdafactorConfig {
        AdafactorConfig { lr: 0.01, beta2_decay: -0.8, eps: (None, 1e-3), d: 1.0, weight_decay: 0.0, maximize: false }
    }

    /// eps₁ = None is the machine epsilon of the parameters' type: a gradient of 1e-10 is far
    /// below f32's (1.2e-7), so U = g/ε₁ is small and the step shrinks with it; in f64
    /// (ε₁ = 2.2e-16) U = g/|g| = 1 and the step is the full α.
    #[test]
    fn default_eps1_is_the_machine_epsilon_of_the_type() {
        let layout = Layout::flat(1);
        let mut a64 = Adafactor::<f64>::new(cfg(), &layout);
        let mut p64 = [1.0f64];
        a64.update(&mut p64, &[1e-10]);
        assert_eq!(p64[0], 1.0 - 0.01);
        let mut a32 = Adafactor::<f32>::new(cfg(), &layout);
        let mut p32 = [1.0f32];
        a32.update(&mut p32, &[1e-10]);
        let step = 1.0 - p32[0] as f64;
        let want = 0.01 * (1e-10f32 as f64 / f32::EPSILON as f64);
        // (read through 1 − p in f32, whose resolution near 1 is 6e-8)
        assert!((step - want).abs() < 1e-2 * want, "{step} vs {want}");
    }

    #[test]
    fn eps_takes_none_or_a_number_first_and_a_number_second() {
        let parse = |s: &str| crate::optim::OptimizerConfig::parse(s);
        assert_eq!(AdafactorConfig::from_hyper(&parse("adafactor").unwrap().hyper).eps, (None, 1e-3));
        assert_eq!(AdafactorConfig::from_hyper(&parse("adafactor(eps=(1e-30, 0))").unwrap().hyper).eps, (Some(1e-30), 0.0));
        for bad in ["adafactor(eps=(None, None))", "adafactor(eps=(-1, 1e-3))", "adafactor(d=0.5)", "adafactor(beta2_decay=0.1)"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matrices_are_factored_over_their_last_two_dims() {
        let layout = Layout::of(&[("k", vec![2, 2, 3]), ("b", vec![3])]);
        let mut a = Adafactor::<f64>::new(cfg(), &layout);
        let mut p = vec![0.5; 15];
        a.update(&mut p, &[0.1; 15]);
        assert_eq!(a.plans.len(), 2);
        assert!(matches!(a.plans[0], Plan::Factored { batch: 2, rows: 2, cols: 3, .. }));
        // two batches × (2 row + 3 column moments) + 3 moments of the vector
        assert_eq!(a.state.len(), 2 * (2 + 3) + 3);
        // a layout that does not cover the parameters becomes one vector
        let mut b = Adafactor::<f64>::new(cfg(), &layout);
        let mut q = vec![0.5; 4];
        b.update(&mut q, &[0.1; 4]);
        assert_eq!(b.state.len(), 4);
    }
}
