//! `kron`: PSGD-Kron, preconditioned SGD with a Kronecker-factored preconditioner fitted
//! online to noise probes (Li, 2018, "Preconditioner on matrix Lie group for SGD"; the
//! Kron variant of psgd_torch / Evan Walters), as pytorch-optimizer 4.1.0's `Kron`.
//!
//! For each tensor (dimensions d₁ … d_k), factors Q_i: d_i × d_i upper triangular, or a
//! diagonal (a vector) where d_i = 1, d_i > max_size_triangular, k < min_ndim_triangular or
//! memory_save_mode says so; all in float32 (precondition_dtype), starting at the identity.
//! With g = ∇f(θ), step t:
//!
//! ```text
//! m ← μ·m + (1 − μ)·g;   m̂ = m/(1 − μᵗ)  (to float32)
//! with probability p_t (1 for t < 500, then exp(−0.001(t − 500)), at least 0.03, taken
//! deterministically every ⌈1/p_t⌉ steps), with V ~ N(0, I):
//!   A = m̂ ×₁ Q₁ … ×_k Q_k;   B = V ×₁ Q₁⁻ᵀ … ×_k Q_k⁻ᵀ
//!   Q_i ← Q_i − 0.1·triu(A_(i)A_(i)ᵀ − B_(i)B_(i)ᵀ) Q_i / (‖A_(i)A_(i)ᵀ + B_(i)B_(i)ᵀ‖ + tiny)
//!         (diagonal factors: element-wise, with the max norm; dense: a lower bound of the
//!          spectral norm)
//! u = m̂ ×₁ Q₁ᵀQ₁ … ×_k Q_kᵀQ_k;   u ← u·min(1, 1.1/(rms(u) + 1e-6))
//! θ ← θ − γ·(u + λθ)      (λ on tensors of ≥ 2 dims; weight_decouple false: g ← g + λθ instead)
//! ```
//!
//! With probability balance_prob (1%) on an update step, the factors of each tensor of
//! ≥ 2 dims are rescaled to the geometric mean of their max norms first.
//!
//! Defaults as in pytorch-optimizer: lr γ = 1e-3, momentum μ = 0.9, weight_decay λ = 0,
//! weight_decouple true, pre_conditioner_update_probability None (the schedule above),
//! max_size_triangular 8192, min_ndim_triangular 2, memory_save_mode None,
//! momentum_into_precondition_update true, balance_prob 0.01, maximize false
//! (precondition_lr 0.1 and precondition_init_scale 1 are fixed, as in the reference).
//!
//! The noise V and the balancing draw come from optlab's seeded generator
//! ([`super::draws`]), so runs repeat; the golden tests replay the reference's draws. The
//! reference contracts with `torch.einsum` (through opt_einsum); optlab applies the factors
//! mode by mode, which can round differently in float32.

use super::draws::Source;
use super::{ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "kron",
    title: "PSGD-Kron (Kronecker-factored preconditioner fitted to noise probes) as pytorch-optimizer's Kron",
    group: Group::Matrix,
    formula: "m = μm + (1−μ)G;  Q_i ← Q_i − 0.1·triu(AAᵀ − BBᵀ)Q_i/‖·‖ (A = Q m̂, B = Q⁻ᵀV);  θ −= lr·clip_rms(QᵀQ m̂)",
    reference: "pytorch-optimizer 4.1.0 Kron",
    params: &[
        Param::new("lr", Kind::Num, "0.001", Check::Lr, "learning rate γ"),
        Param::new("momentum", Kind::Num, "0.9", Check::Unit, "momentum μ, in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ (tensors of ≥ 2 dims)"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "add λθ to the preconditioned update (else to the gradient)"),
        Param::new(
            "pre_conditioner_update_probability",
            Kind::MaybeNum,
            "None",
            Check::UnitClosed,
            "probability of a preconditioner update per step (None: 1, decaying after step 500 to 0.03)",
        ),
        Param::new("max_size_triangular", Kind::Int, "8192", Check::AtLeast(1), "larger dimensions get a diagonal factor"),
        Param::new("min_ndim_triangular", Kind::Int, "2", Check::AtLeast(0), "tensors of fewer dims get diagonal factors"),
        Param::new(
            "memory_save_mode",
            Kind::Choice(&["None", "one_diag", "smart_one_diag", "all_diag"]),
            "None",
            Check::Any,
            "which dimensions get diagonal factors to save memory",
        ),
        Param::new("momentum_into_precondition_update", Kind::Bool, "true", Check::Any, "fit the preconditioner to m̂ (else to g)"),
        Param::new("balance_prob", Kind::Num, "0.01", Check::UnitClosed, "probability of rebalancing the factors on an update"),
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

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Kron::<T>::new(KronConfig::from_hyper(h), layout))
}

/// Hyperparameters of [`Kron`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct KronConfig {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub weight_decouple: bool,
    pub update_probability: Option<f64>,
    pub max_size_triangular: usize,
    pub min_ndim_triangular: usize,
    pub memory_save_mode: Option<String>,
    pub momentum_into_precondition_update: bool,
    pub balance_prob: f64,
    pub maximize: bool,
}

impl KronConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        KronConfig {
            lr: h.num("lr"),
            momentum: h.num("momentum"),
            weight_decay: h.num("weight_decay"),
            weight_decouple: h.flag("weight_decouple"),
            update_probability: h.maybe_num("pre_conditioner_update_probability"),
            max_size_triangular: h.int("max_size_triangular").max(1) as usize,
            min_ndim_triangular: h.int("min_ndim_triangular").max(0) as usize,
            memory_save_mode: h.choice("memory_save_mode").map(str::to_string),
            momentum_into_precondition_update: h.flag("momentum_into_precondition_update"),
            balance_prob: h.num("balance_prob"),
            maximize: h.flag("maximize"),
        }
    }
}

/// A factor: a diagonal (vector) or a dense upper-triangular d × d matrix.
#[derive(Clone, Debug)]
enum Factor {
    Diag(Vec<f32>),
    Dense(Vec<f32>, usize),
}

/// (elements before axis i, d_i, elements after) of a tensor.
fn split(dims: &[usize], i: usize) -> (usize, usize, usize) {
    (dims[..i].iter().product(), dims[i], dims[i + 1..].iter().product())
}

/// x ×ᵢ M: out[…, a, …] = Σ_b M[a, b]·x[…, b, …] (M transposed: Σ_b M[b, a]·x[…, b, …]).
fn mode(x: &[f32], dims: &[usize], i: usize, m: &[f32], transposed: bool) -> Vec<f32> {
    let (pre, d, post) = split(dims, i);
    let mut out = vec![0f32; x.len()];
    for p in 0..pre {
        for a in 0..d {
            for q in 0..post {
                let mut s = 0f32;
                for b in 0..d {
                    let w = if transposed { m[b * d + a] } else { m[a * d + b] };
                    s += w * x[(p * d + b) * post + q];
                }
                out[(p * d + a) * post + q] = s;
            }
        }
    }
    out
}

/// x scaled along axis i by the vector q (or divided by it).
fn diag_mode(x: &mut [f32], dims: &[usize], i: usize, q: &[f32], divide: bool) {
    let (pre, d, post) = split(dims, i);
    for p in 0..pre {
        for a in 0..d {
            for q2 in 0..post {
                let e = &mut x[(p * d + a) * post + q2];
                *e = if divide { *e / q[a] } else { *e * q[a] };
            }
        }
    }
}

/// Along axis i, each fiber y solves y·Q = x (Q upper triangular): x·Q⁻¹.
fn solve_right(x: &mut [f32], dims: &[usize], i: usize, q: &[f32]) {
    let (pre, d, post) = split(dims, i);
    for p in 0..pre {
        for q2 in 0..post {
            let at = |j: usize| (p * d + j) * post + q2;
            for j in 0..d {
                let mut s = x[at(j)];
                for l in 0..j {
                    s -= x[at(l)] * q[l * d + j];
                }
                x[at(j)] = s / q[j * d + j];
            }
        }
    }
}

/// The unfolding of x along axis i times its transpose (d × d), or only its diagonal.
fn gram(x: &[f32], dims: &[usize], i: usize, full: bool) -> Vec<f32> {
    let (pre, d, post) = split(dims, i);
    let mut out = vec![0f32; if full { d * d } else { d }];
    for a in 0..d {
        for c in if full { 0..d } else { a..a + 1 } {
            let mut s = 0f32;
            for p in 0..pre {
                for q in 0..post {
                    s += x[(p * d + a) * post + q] * x[(p * d + c) * post + q];
                }
            }
            out[if full { a * d + c } else { a }] = s;
        }
    }
    out
}

fn vnorm(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |s, &v| s + v * v).sqrt()
}

/// pytorch-optimizer's `norm_lower_bound` of the d × d `a` (rescaled in place).
fn norm_lower_bound(a: &mut [f32], d: usize) -> f32 {
    let max_abs = a.iter().fold(0f32, |m, &v| m.max(v.abs()));
    let div = if max_abs > 0.0 { max_abs } else { 1.0 };
    a.iter_mut().for_each(|v| *v /= div);
    let col = |j: usize| (0..d).fold(0f32, |s, i| s + a[i * d + j] * a[i * d + j]);
    let row = |i: usize| (0..d).fold(0f32, |s, j| s + a[i * d + j] * a[i * d + j]);
    let argmax = |f: &dyn Fn(usize) -> f32| {
        (0..d).fold((f32::NEG_INFINITY, 0), |(bv, bi), k| if f(k) > bv { (f(k), k) } else { (bv, bi) })
    };
    let (value0, i) = argmax(&col);
    let (value1, j) = argmax(&row);
    let tiny = f32::MIN_POSITIVE;
    // x0 = a[:, i] @ a;  bound0 = ‖(x0/‖x0‖) @ aᵀ‖
    let x0: Vec<f32> = (0..d).map(|c| (0..d).fold(0f32, |s, r| s + a[r * d + i] * a[r * d + c])).collect();
    let n0 = vnorm(&x0).max(tiny);
    let y0: Vec<f32> = (0..d).map(|r| (0..d).fold(0f32, |s, c| s + (x0[c] / n0) * a[r * d + c])).collect();
    // x1 = a @ a[j, :];  bound1 = ‖aᵀ @ (x1/‖x1‖)‖
    let x1: Vec<f32> = (0..d).map(|r| (0..d).fold(0f32, |s, c| s + a[r * d + c] * a[j * d + c])).collect();
    let n1 = vnorm(&x1).max(tiny);
    let y1: Vec<f32> = (0..d).map(|c| (0..d).fold(0f32, |s, r| s + a[r * d + c] * (x1[r] / n1))).collect();
    max_abs * if value0 > value1 { vnorm(&y0) } else { vnorm(&y1) }
}

/// One tensor's state.
struct TensorState<T> {
    offset: usize,
    dims: Vec<usize>,
    /// The reference's `p.dim()` (0 for scalars).
    ndim: usize,
    momentum: Vec<T>,
    q: Vec<Factor>,
}

/// Kron's state.
pub struct Kron<T: Real> {
    pub cfg: KronConfig,
    layout: Layout,
    tensors: Vec<TensorState<T>>,
    step: u64,
    update_counter: u64,
    source: Source,
}

fn plan<T: Real>(layout: &Layout, c: &KronConfig) -> Vec<TensorState<T>> {
    layout
        .tensors
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            let dims = if t.shape.is_empty() { vec![1] } else { t.shape.clone() };
            let k = dims.len();
            // memory_save_mode: which dimensions are diagonal anyway
            let largest = (0..k).max_by_key(|&i| dims[i]).unwrap_or(0);
            let mut diag = vec![false; k];
            match c.memory_save_mode.as_deref() {
                Some("one_diag") => diag[largest] = true,
                Some("smart_one_diag") => {
                    let mut s = dims.clone();
                    s.sort_unstable();
                    if k >= 2 && s[k - 1] > s[k - 2] {
                        diag[largest] = true;
                    }
                }
                Some("all_diag") => diag = vec![true; k],
                _ => {}
            }
            let q = dims
                .iter()
                .zip(&diag)
                .map(|(&d, &dg)| {
                    if d == 1 || d > c.max_size_triangular || k < c.min_ndim_triangular || dg {
                        Factor::Diag(vec![1.0; d])
                    } else {
                        let mut m = vec![0f32; d * d];
                        (0..d).for_each(|i| m[i * d + i] = 1.0);
                        Factor::Dense(m, d)
                    }
                })
                .collect();
            TensorState { offset: t.offset, dims, ndim: t.shape.len(), momentum: vec![T::zero(); t.len()], q }
        })
        .collect()
}

impl<T: Real> Kron<T> {
    pub fn new(cfg: KronConfig, layout: &Layout) -> Self {
        let tensors = plan(layout, &cfg);
        Kron { cfg, layout: layout.clone(), tensors, step: 0, update_counter: 0, source: Source::new(0) }
    }
}

/// `update_precondition`: one fitting step of the factors `qs` to the pair (V, G).
fn update_factors(qs: &mut [Factor], dims: &[usize], v: &[f32], g: &[f32]) {
    let eps = f32::from_bits(0x0080_0000); // torch.finfo(torch.bfloat16).tiny = 2⁻¹²⁶
    let mut a = g.to_vec();
    for (i, q) in qs.iter().enumerate() {
        match q {
            Factor::Diag(q) => diag_mode(&mut a, dims, i, q, false),
            Factor::Dense(m, _) => a = mode(&a, dims, i, m, false),
        }
    }
    let mut b = v.to_vec();
    for (i, q) in qs.iter().enumerate() {
        match q {
            Factor::Diag(q) => diag_mode(&mut b, dims, i, q, true),
            Factor::Dense(m, _) => solve_right(&mut b, dims, i, m),
        }
    }
    let terms: Vec<(Vec<f32>, Vec<f32>)> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let full = matches!(q, Factor::Dense(..));
            (gram(&a, dims, i, full), gram(&b, dims, i, full))
        })
        .collect();
    for (q, (t1, t2)) in qs.iter_mut().zip(terms) {
        let mut tmp: Vec<f32> = t1.iter().zip(&t2).map(|(x, y)| (x - y) * 0.1f32).collect();
        let mut sum: Vec<f32> = t1.iter().zip(&t2).map(|(x, y)| x + y).collect();
        match q {
            Factor::Diag(q) => {
                let n = sum.iter().fold(0f32, |m, &v| m.max(v.abs())) + eps;
                for (qe, t) in q.iter_mut().zip(&mut tmp) {
                    *t = *t * *qe / n;
                    *qe -= *t;
                }
            }
            Factor::Dense(m, d) => {
                let d = *d;
                for r in 0..d {
                    for c in 0..r {
                        tmp[r * d + c] = 0.0;
                    }
                }
                let n = norm_lower_bound(&mut sum, d) + eps;
                tmp.iter_mut().for_each(|t| *t /= n);
                let mut prod = vec![0f32; d * d];
                for r in 0..d {
                    for c in 0..d {
                        prod[r * d + c] = (0..d).fold(0f32, |s, l| s + tmp[r * d + l] * m[l * d + c]);
                    }
                }
                m.iter_mut().zip(&prod).for_each(|(x, p)| *x -= p);
            }
        }
    }
}

impl<T: Real> GradientRule<T> for Kron<T> {
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        if self.layout.len() != params.len() {
            self.layout = Layout::flat(params.len());
            self.tensors = plan(&self.layout, &self.cfg);
        }
        let c = &self.cfg;
        // the update probability at the step count before this step, in float32
        let prob = c.update_probability.map_or_else(
            || ((-0.001f32 * (self.step as f32 - 500.0)).exp()).clamp(0.03, 1.0),
            |p| p as f32,
        );
        self.update_counter += 1;
        let do_update = prob > 0.0 && self.update_counter as f32 >= 1.0 / prob;
        if do_update {
            self.update_counter = 0;
        }
        let balance = self.source.uniform() < c.balance_prob && do_update;
        self.step += 1;
        let bc1 = 1.0 - c.momentum.powi(self.step as i32);
        let (mu, w) = (T::of(c.momentum), T::of(1.0 - c.momentum));
        for t in &mut self.tensors {
            let len = t.momentum.len();
            let r = t.offset..t.offset + len;
            let p = &mut params[r.clone()];
            let mut g: Vec<T> = grad[r].iter().map(|&x| if c.maximize { -x } else { x }).collect();
            if t.ndim >= 2 && !c.weight_decouple && c.weight_decay != 0.0 {
                for (g, &x) in g.iter_mut().zip(p.iter()) {
                    *g = ops::add_alpha(*g, x, T::of(c.weight_decay));
                }
            }
            for (m, &g) in t.momentum.iter_mut().zip(&g) {
                *m = ops::add_alpha(*m * mu, g, w);
            }
            let bc = T::of(bc1);
            let m_hat: Vec<f32> = t.momentum.iter().map(|&m| (m / bc).f64() as f32).collect();
            if t.dims.len() > 1 && balance {
                let norms: Vec<f32> = t
                    .q
                    .iter()
                    .map(|q| match q {
                        Factor::Diag(v) | Factor::Dense(v, _) => v.iter().fold(0f32, |m, &x| m.max(x.abs())),
                    })
                    .collect();
                let gm = norms.iter().product::<f32>().powf(1.0 / norms.len() as f32);
                for (q, n) in t.q.iter_mut().zip(&norms) {
                    let f = gm / n;
                    match q {
                        Factor::Diag(v) | Factor::Dense(v, _) => v.iter_mut().for_each(|x| *x *= f),
                    }
                }
            }
            if do_update {
                let v: Vec<f32> = (0..len).map(|_| self.source.normal() as f32).collect();
                let target: Vec<f32> = if c.momentum_into_precondition_update {
                    m_hat.clone()
                } else {
                    g.iter().map(|x| x.f64() as f32).collect()
                };
                update_factors(&mut t.q, &t.dims, &v, &target);
            }
            let mut u = m_hat;
            // the dense factors first (Q, then Qᵀ), then the squared diagonals: the order in
            // which the reference's einsum contracts the 1x2 case
            let mut order: Vec<usize> = (0..t.q.len()).collect();
            order.sort_by_key(|&i| matches!(t.q[i], Factor::Diag(_)));
            for &i in &order {
                let q = &t.q[i];
                match q {
                    Factor::Diag(q) => {
                        // the reference's einsum squares the factor first
                        let q2: Vec<f32> = q.iter().map(|x| x * x).collect();
                        diag_mode(&mut u, &t.dims, i, &q2, false);
                    }
                    Factor::Dense(m, _) => u = mode(&mode(&u, &t.dims, i, m, false), &t.dims, i, m, true),
                }
            }
            let u: Vec<T> = u.iter().map(|&x| T::of(x as f64)).collect();
            let mean = u.iter().fold(T::zero(), |s, &x| s + x * x) / T::of(len as f64);
            let f = T::of(1.1) / (mean.sqrt() + T::of(1e-6));
            let f = if f > T::one() { T::one() } else { f };
            let neg_lr = T::of(-c.lr);
            let decay = t.ndim >= 2 && c.weight_decouple && c.weight_decay != 0.0;
            for (p, &u) in p.iter_mut().zip(&u) {
                let mut u = u * f;
                if decay {
                    u = ops::add_alpha(u, *p, T::of(c.weight_decay));
                }
                *p = ops::add_alpha(*p, u, neg_lr);
            }
        }
    }

    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.momentum) }
    }
}
