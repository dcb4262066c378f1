//! `mars`: MARS, variance-reduced adaptive steps (Yuan et al., 2024), as pytorch-optimizer
//! 4.1.0's `MARS`.
//!
//! Matrices (ndim ≥ 2; every tensor with `optimize_1d`) take the MARS step with the
//! previous gradient g_{t−1} (0 on the first step):
//!
//! ```text
//! c_t = g_t + γ·β₁/(1 − β₁)·(g_t − g_{t−1});   c_t ← c_t / max(1, ‖c_t‖)   (per tensor)
//! m_t = β₁·m_{t−1} + (1 − β₁)·c_t
//! adamw:    v_t = β₂·v_{t−1} + (1 − β₂)·c_t²;   u = m_t/(1 − β₁ᵗ) / ((√(v_t + 1e-15) + ε)/√(1 − β₂ᵗ))
//! lion:     u = sign(m_t)
//! shampoo:  u = NS₅(m_t/(1 − β₁)) · √max(1, rows/cols)   (Newton–Schulz in bfloat16)
//! θ_t = θ_{t−1}·(1 − γ_lr·λ) − γ_lr·u       (decoupled decay; `fixed_decay`: 1 − λ)
//! ```
//!
//! Vectors (without `optimize_1d`) take AdamW steps on g_t with `betas_1d`, `weight_decay_1d`
//! and the learning rate lr·(lr_1d/lr) (the ratio is fixed when the method is built, so a
//! scheduler scales both rates). With `cautious`, u is masked to the coordinates where
//! u·g > 0 and rescaled by n/(#kept + 1); `ams_bound` uses the running maximum of v. Coupled
//! weight decay (`weight_decouple=false`) only adds λθ to the gradient remembered as
//! g_{t−1}, exactly as the reference does.
//!
//! Defaults as in pytorch-optimizer: lr 3e-3, betas (0.95, 0.99), gamma 0.025,
//! mars_type "adamw", optimize_1d false, lr_1d 3e-3, betas_1d (0.9, 0.95), weight_decay 0,
//! weight_decay_1d 0.1, weight_decouple true, fixed_decay false, ams_bound false,
//! cautious false, eps 1e-8, maximize false.
//!
//! "adamw" and "lion" follow the reference's default (foreach) arithmetic, "shampoo" its
//! per-tensor path (γ·(β₁/(1 − β₁)) rounds differently there). The reference cannot be
//! built with lr = 0 (it divides lr_1d by lr); here the vectors then keep lr_1d.

use super::linalg::norm;
use super::{ensure_len, ops, Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};

pub(super) const METHOD: Method = Method {
    name: "mars",
    title: "MARS (variance-reduced AdamW / Lion / Shampoo steps) as pytorch-optimizer's MARS",
    group: Group::Matrix,
    formula: "c = g + γβ₁/(1−β₁)(g − g_prev), clipped to norm 1;  m = β₁m + (1−β₁)c;  θ = θ − lr·(AdamW | sign | NS₅) step on m",
    reference: "pytorch-optimizer 4.1.0 MARS",
    params: &[
        Param::new("lr", Kind::Num, "0.003", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.95, 0.99)", Check::Unit, "decay rates (β₁, β₂) for the MARS tensors, each in [0, 1)"),
        Param::new("gamma", Kind::Num, "0.025", Check::NonNeg, "strength γ of the gradient correction"),
        Param::new("mars_type", Kind::Choice(&["adamw", "lion", "shampoo"]), "\"adamw\"", Check::Any, "the step taken on the corrected momentum"),
        Param::new("optimize_1d", Kind::Bool, "false", Check::Any, "MARS steps for vectors too (else AdamW with the _1d settings)"),
        Param::new("lr_1d", Kind::Num, "0.003", Check::Lr, "learning rate of the vectors' AdamW"),
        Param::new("betas_1d", Kind::Nums(2), "(0.9, 0.95)", Check::Unit, "decay rates of the vectors' AdamW, each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0", Check::NonNeg, "weight decay λ of the MARS tensors"),
        Param::new("weight_decay_1d", Kind::Num, "0.1", Check::NonNeg, "weight decay of the vectors"),
        Param::new("weight_decouple", Kind::Bool, "true", Check::Any, "decoupled decay θ·(1 − lr·λ)"),
        Param::new("fixed_decay", Kind::Bool, "false", Check::Any, "decoupled decay θ·(1 − λ), not scaled by lr"),
        Param::new("ams_bound", Kind::Bool, "false", Check::Any, "use the running maximum of v"),
        Param::new("cautious", Kind::Bool, "false", Check::Any, "mask update coordinates whose sign disagrees with the gradient"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator (Newton–Schulz: the least norm)"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
    ],
    elementwise: false,
    closure: false,
    point: Point::Current,
    matrix_only: false,
    rules: super::registry::no_rules,
    build_f64: build::<f64>,
    build_f32: build::<f32>,
};

fn build<T: Real>(h: &Hyper, layout: &Layout) -> Box<dyn Optimizer<T>> {
    FirstOrder::boxed(Mars::<T>::new(MarsConfig::from_hyper(h), layout.clone()))
}

/// The step MARS takes on its corrected momentum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarsType {
    AdamW,
    Lion,
    Shampoo,
}

/// Hyperparameters of [`Mars`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct MarsConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub gamma: f64,
    pub mars_type: MarsType,
    pub optimize_1d: bool,
    /// lr_1d / lr as the reference stores it when built (`lr_1d_factor`).
    pub lr_1d_factor: f64,
    pub lr_1d: f64,
    pub betas_1d: (f64, f64),
    pub weight_decay: f64,
    pub weight_decay_1d: f64,
    pub weight_decouple: bool,
    pub fixed_decay: bool,
    pub ams_bound: bool,
    pub cautious: bool,
    pub eps: f64,
    pub maximize: bool,
}

impl MarsConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        let (lr, lr_1d) = (h.num("lr"), h.num("lr_1d"));
        MarsConfig {
            lr,
            betas: h.pair("betas"),
            gamma: h.num("gamma"),
            mars_type: match h.choice("mars_type") {
                Some("lion") => MarsType::Lion,
                Some("shampoo") => MarsType::Shampoo,
                _ => MarsType::AdamW,
            },
            optimize_1d: h.flag("optimize_1d"),
            lr_1d_factor: lr_1d / lr,
            lr_1d,
            betas_1d: h.pair("betas_1d"),
            weight_decay: h.num("weight_decay"),
            weight_decay_1d: h.num("weight_decay_1d"),
            weight_decouple: h.flag("weight_decouple"),
            fixed_decay: h.flag("fixed_decay"),
            ams_bound: h.flag("ams_bound"),
            cautious: h.flag("cautious"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
        }
    }

    /// The learning rate of the vectors that take AdamW steps.
    fn lr_1d_now(&self) -> f64 {
        if self.lr_1d_factor.is_finite() {
            self.lr * self.lr_1d_factor
        } else {
            self.lr_1d
        }
    }
}

/// MARS state: moments, the previous gradient, and per-step scratch.
pub struct Mars<T> {
    pub cfg: MarsConfig,
    layout: Layout,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    max_exp_avg_sq: Vec<T>,
    last_grad: Vec<T>,
    /// The gradient as the step sees it (negated when maximising, plus coupled decay).
    g: Vec<T>,
    /// The corrected gradient c_t.
    c: Vec<T>,
    /// The update u.
    u: Vec<T>,
    ns: NewtonSchulz,
}

impl<T: Real> Mars<T> {
    pub fn new(cfg: MarsConfig, layout: Layout) -> Self {
        Mars {
            cfg,
            layout,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            max_exp_avg_sq: Vec::new(),
            last_grad: Vec::new(),
            g: Vec::new(),
            c: Vec::new(),
            u: Vec::new(),
            ns: NewtonSchulz::default(),
        }
    }
}

/// `apply_cautious`: keeps the coordinates where u·g > 0 and scales them by
/// n/(#kept + 1) (computed as reciprocal(#kept + 1)·n, as torch's `n / tensor` is).
fn cautious<T: Real>(u: &mut [T], g: &[T]) {
    let kept = u.iter().zip(g).filter(|(&a, &b)| a * b > T::zero()).count();
    let scale = (T::one() / (T::of(kept as f64) + T::one())) * T::of(u.len() as f64);
    for (a, &b) in u.iter_mut().zip(g) {
        *a = if *a * b > T::zero() { *a * scale } else { *a * T::zero() };
    }
}

impl<T: Real> GradientRule<T> for Mars<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    #[inline(always)]
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        for buf in [&mut self.exp_avg, &mut self.exp_avg_sq, &mut self.last_grad, &mut self.g, &mut self.c, &mut self.u] {
            ensure_len(buf, n, T::zero());
        }
        if self.cfg.ams_bound {
            ensure_len(&mut self.max_exp_avg_sq, n, T::zero());
        }
        self.step += 1;
        let c = &self.cfg;
        let t = self.step as f64;
        for (gi, &g) in self.g.iter_mut().zip(grad) {
            *gi = if c.maximize { -g } else { g };
        }
        let per_tensor = c.mars_type == MarsType::Shampoo;
        for ti in 0..self.layout.tensors.len() {
            let info = &self.layout.tensors[ti];
            let r = info.range();
            let is_matrix = info.shape.len() >= 2;
            let mixed = c.optimize_1d || is_matrix;
            let (beta1, beta2) = if mixed { c.betas } else { c.betas_1d };
            let (lr, wd) = if mixed { (c.lr, c.weight_decay) } else { (c.lr_1d_now(), c.weight_decay_1d) };
            let g = &mut self.g[r.clone()];
            let m = &mut self.exp_avg[r.clone()];
            let v = &mut self.exp_avg_sq[r.clone()];
            let last = &mut self.last_grad[r.clone()];
            let corr = &mut self.c[r.clone()];
            let u = &mut self.u[r.clone()];
            let p = &mut params[r.clone()];

            if mixed {
                // c = g + γβ₁/(1 − β₁)·(g − g_prev), scaled to norm ≤ 1
                let coef = T::of(if per_tensor { c.gamma * (beta1 / (1.0 - beta1)) } else { c.gamma * beta1 / (1.0 - beta1) });
                for ((ci, &gi), &li) in corr.iter_mut().zip(g.iter()).zip(last.iter()) {
                    *ci = (gi - li) * coef + gi;
                }
                let nrm = norm(corr);
                // foreach divides by max(‖c‖, 1); the per-tensor path only when ‖c‖ > 1 (same values)
                if nrm > T::one() || (!per_tensor && nrm.is_nan()) {
                    for ci in corr.iter_mut() {
                        *ci = *ci / nrm;
                    }
                }
            } else {
                corr.copy_from_slice(g);
            }
            let w1 = T::of(1.0 - beta1);
            for (mi, &ci) in m.iter_mut().zip(corr.iter()) {
                *mi = ops::lerp(*mi, ci, w1);
            }
            u.copy_from_slice(m);
            if c.cautious {
                cautious(u, g);
            }
            let shampoo_step = mixed && is_matrix && c.mars_type == MarsType::Shampoo;
            if mixed && c.mars_type == MarsType::Lion {
                for ui in u.iter_mut() {
                    *ui = ops::sign(*ui);
                }
            } else if shampoo_step {
                let (rows, cols) = info.as_matrix().unwrap_or((1, info.len()));
                let factor = (info.shape[0] as f64 / info.shape[1] as f64).max(1.0).sqrt();
                let scale = T::of(1.0 / (1.0 - beta1));
                for ui in u.iter_mut() {
                    *ui = *ui * scale;
                }
                self.ns.orthogonalize(u, rows, cols, c.eps, factor);
            } else {
                let bc1 = T::of(1.0 - beta1.powf(t));
                let bc2_sqrt = T::of((1.0 - beta2.powf(t)).sqrt());
                let (b2, w2, eps, tiny) = (T::of(beta2), T::of(1.0 - beta2), T::of(c.eps), T::of(1e-15));
                for i in 0..u.len() {
                    let vi = ops::addcmul(v[i] * b2, corr[i], corr[i], w2);
                    v[i] = vi;
                    let vmax = if c.ams_bound {
                        let mx = &mut self.max_exp_avg_sq[r.start + i];
                        *mx = ops::maximum(*mx, vi);
                        *mx
                    } else {
                        vi
                    };
                    let denom = ((vmax + tiny).sqrt() + eps) / bc2_sqrt * bc1;
                    u[i] = u[i] / denom;
                }
            }
            // weight decay, then the step, then remember the gradient (with coupled decay)
            if wd != 0.0 {
                if c.weight_decouple {
                    let s = T::of(1.0 - wd * if c.fixed_decay { 1.0 } else { lr });
                    for pi in p.iter_mut() {
                        *pi = *pi * s;
                    }
                } else if wd > 0.0 {
                    let wdt = T::of(wd);
                    for (gi, &pi) in g.iter_mut().zip(p.iter()) {
                        *gi = ops::add_alpha(*gi, pi, wdt);
                    }
                }
            }
            let neg_lr = T::of(-lr);
            for (pi, &ui) in p.iter_mut().zip(u.iter()) {
                *pi = ops::add_alpha(*pi, ui, neg_lr);
            }
            last.copy_from_slice(g);
        }
    }
}

/// `x` rounded to bfloat16 (round to nearest even, as torch's casts), held in an f32.
fn bf16(x: f32) -> f32 {
    if x.is_nan() {
        return f32::NAN;
    }
    let u = x.to_bits();
    let bias = ((u >> 16) & 1) + 0x7FFF;
    f32::from_bits(u.wrapping_add(bias) & 0xFFFF_0000)
}

/// pytorch-optimizer's `zero_power_via_newton_schulz_5` in bfloat16: every tensor operation
/// rounds its result to bfloat16 (products summed in f32, as torch's bf16 matmuls do).
#[derive(Default)]
struct NewtonSchulz {
    x: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl NewtonSchulz {
    const COEFFS: (f32, f32, f32) = (3.4445, -4.7750, 2.0315);
    const STEPS: usize = 5;

    /// Replaces the [rows, cols] matrix `u` by NS₅(u)·factor.
    fn orthogonalize<T: Real>(&mut self, u: &mut [T], rows: usize, cols: usize, eps: f64, factor: f64) {
        // work on the wide orientation [r, k] with r ≤ k
        let transpose = rows > cols;
        let (r, k) = if transpose { (cols, rows) } else { (rows, cols) };
        self.x.resize(r * k, 0.0);
        for i in 0..rows {
            for j in 0..cols {
                // f64 → bf16 goes through f32 in torch
                let v = bf16(u[i * cols + j].f64() as f32);
                if transpose {
                    self.x[j * k + i] = v;
                } else {
                    self.x[i * k + j] = v;
                }
            }
        }
        let nrm = bf16(self.x.iter().map(|&v| v * v).sum::<f32>().sqrt());
        let nrm = if nrm < bf16(eps as f32) { bf16(eps as f32) } else { nrm };
        for v in self.x.iter_mut() {
            *v = bf16(*v / nrm);
        }
        let (ca, cb, cc) = Self::COEFFS;
        self.a.resize(r * r, 0.0);
        self.b.resize(r * r, 0.0);
        self.c.resize(r * k, 0.0);
        for _ in 0..Self::STEPS {
            // A = X Xᵀ
            for i in 0..r {
                for j in 0..r {
                    let s: f32 = (0..k).map(|l| self.x[i * k + l] * self.x[j * k + l]).sum();
                    self.a[i * r + j] = bf16(s);
                }
            }
            // B = b·A + c·A A
            for i in 0..r {
                for j in 0..r {
                    let s: f32 = (0..r).map(|l| self.a[i * r + l] * self.a[l * r + j]).sum();
                    self.b[i * r + j] = bf16(cc * s + cb * self.a[i * r + j]);
                }
            }
            // X = a·X + B X
            for i in 0..r {
                for j in 0..k {
                    let s: f32 = (0..r).map(|l| self.b[i * r + l] * self.x[l * k + j]).sum();
                    self.c[i * k + j] = bf16(s + ca * self.x[i * k + j]);
                }
            }
            std::mem::swap(&mut self.x, &mut self.c);
        }
        let f = factor as f32;
        for i in 0..rows {
            for j in 0..cols {
                let v = if transpose { self.x[j * k + i] } else { self.x[i * k + j] };
                u[i * cols + j] = T::of(bf16(v * f) as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 1.0);
        // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties to even (1)
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
        assert!(bf16(f32::NAN).is_nan());
    }
}
