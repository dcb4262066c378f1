//! `adam-mini`: Adam-mini, Adam with one second moment per block of parameters (Zhang et al.,
//! 2024), as `pytorch_optimizer.AdamMini` (pytorch-optimizer 4.1.0).
//!
//! The reference takes a model and picks a branch per parameter by its name. With g the
//! gradient cast to float32 (negated when `maximize`), m kept in float32, and each tensor first
//! decayed as θ·(1 − γλ) (λ = 0 for names containing `norm` or `ln_f`):
//!
//! ```text
//! names with embed, embd, wte, lm_head.weight, output.weight (per-coordinate Adam, float32):
//!     m = lerp(m, g, 1 − β₁);  v = β₂v + (1 − β₂)g²;  θ = θ − γ/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε)
//! every other tensor (one second moment v̄ for the whole tensor, in the parameters' type):
//!     m = lerp(m, g, 1 − β₁);  v̄ = β₂v̄ + (1 − β₂)·Σg²/n
//!     θ = θ − γ · m·((1/(1 − β₁ᵗ))/(√v̄/√(1 − β₂ᵗ) + ε))       (the product in float32)
//! ```
//!
//! The reference's per-head branches for attention projections (`q_proj`, `k_proj`, `wq`,
//! `wk`, `attn.qkv`), which need `num_embeds`/`num_heads`, are not available: such tensors
//! take the block branch here. In the 2-D lab the single tensor has no model name:
//! `param_name` names it ("weight": the block branch, "embed": the per-coordinate one; None
//! uses the layout's names).
//!
//! Defaults as in pytorch-optimizer: lr γ = 1, betas (0.9, 0.999), weight_decay λ = 0.1,
//! eps ε = 1e-8, maximize false. `model_sharding` (distributed) is not a key.

use super::{Check, FirstOrder, GradientRule, Group, GroupHyper, Hyper, Kind, Layout, Method, Optimizer, Param, Point, Real};
use std::ops::Range;

pub(super) const METHOD: Method = Method {
    name: "adam-mini",
    title: "Adam-mini (one second moment per parameter block) as pytorch_optimizer.AdamMini",
    group: Group::Adaptive,
    formula: "m = lerp(m, g, 1−β₁);  v̄ = β₂v̄ + (1−β₂)·mean(g²) per tensor;  θ = θ − lr·m/(1−β₁ᵗ)/(√v̄/√(1−β₂ᵗ) + ε)",
    reference: "pytorch-optimizer 4.1.0 AdamMini",
    params: &[
        Param::new("lr", Kind::Num, "1", Check::Lr, "learning rate"),
        Param::new("betas", Kind::Nums(2), "(0.9, 0.999)", Check::Unit, "decay rates (β₁, β₂), each in [0, 1)"),
        Param::new("weight_decay", Kind::Num, "0.1", Check::NonNeg, "decoupled weight decay λ (0 for norm layers)"),
        Param::new("eps", Kind::Num, "1e-8", Check::NonNeg, "added to the denominator"),
        Param::new("maximize", Kind::Bool, "false", Check::Any, "maximise the objective instead"),
        Param::new("param_name", Kind::Choice(&["None", "weight", "embed"]), "None", Check::Any, "the name of the single 2-D lab tensor, which picks its branch (None: the layout's names)"),
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
    FirstOrder::boxed(AdamMini::<T>::new(AdamMiniConfig::from_hyper(h), layout.clone()))
}

/// Hyperparameters of [`AdamMini`], pytorch-optimizer's names and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamMiniConfig {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
    pub param_name: Option<String>,
}

impl AdamMiniConfig {
    pub fn from_hyper(h: &Hyper) -> Self {
        AdamMiniConfig {
            lr: h.num("lr"),
            betas: h.pair("betas"),
            weight_decay: h.num("weight_decay"),
            eps: h.num("eps"),
            maximize: h.flag("maximize"),
            param_name: h.choice("param_name").map(str::to_string),
        }
    }
}

/// One tensor as Adam-mini sees it: its range, its branch and whether it decays.
struct Block {
    range: Range<usize>,
    embed: bool,
    decays: bool,
}

/// Adam-mini state: the step count, m (float32), the embedding branches' v (float32) and
/// every other tensor's v̄.
pub struct AdamMini<T> {
    pub cfg: AdamMiniConfig,
    layout: Layout,
    blocks: Vec<Block>,
    step: u64,
    m: Vec<f32>,
    v: Vec<f32>,
    v_mean: Vec<T>,
}

impl<T: Real> AdamMini<T> {
    pub fn new(cfg: AdamMiniConfig, layout: Layout) -> Self {
        AdamMini { cfg, layout, blocks: Vec::new(), step: 0, m: Vec::new(), v: Vec::new(), v_mean: Vec::new() }
    }

    fn init(&mut self, n: usize) {
        let named: Vec<(Range<usize>, String)> = if self.layout.len() == n && !self.layout.tensors.is_empty() {
            self.layout.tensors.iter().map(|t| (t.range(), t.name.clone())).collect()
        } else {
            vec![(0..n, String::new())]
        };
        let only = self.cfg.param_name.clone();
        self.blocks = named
            .into_iter()
            .map(|(range, name)| {
                let name = only.clone().unwrap_or(name);
                let embed = ["embed", "embd", "wte", "lm_head.weight", "output.weight"].iter().any(|b| name.contains(b));
                let decays = !(name.contains("norm") || name.contains("ln_f"));
                Block { range, embed, decays }
            })
            .collect();
        self.m = vec![0.0; n];
        self.v = vec![0.0; n];
        self.v_mean = vec![T::zero(); self.blocks.len()];
    }
}

impl<T: Real> GradientRule<T> for AdamMini<T> {
    fn hyper(&mut self) -> GroupHyper<'_> {
        GroupHyper { lr: &mut self.cfg.lr, momentum: Some(&mut self.cfg.betas.0) }
    }
    fn update(&mut self, params: &mut [T], grad: &[T]) {
        let n = params.len();
        if self.m.len() != n {
            self.init(n);
        }
        self.step += 1;
        let c = &self.cfg;
        let (beta1, beta2) = c.betas;
        let t = self.step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sq = (1.0 - beta2.powf(t)).sqrt();
        let w1 = (1.0 - beta1) as f32;
        for (bi, b) in self.blocks.iter().enumerate() {
            let p = &mut params[b.range.clone()];
            let g: Vec<f32> =
                grad[b.range.clone()].iter().map(|&x| if c.maximize { -(x.f64() as f32) } else { x.f64() as f32 }).collect();
            let wd = if b.decays { c.weight_decay } else { 0.0 };
            let decay = T::of(1.0 - wd * c.lr);
            for pi in p.iter_mut() {
                *pi = *pi * decay;
            }
            let m = &mut self.m[b.range.clone()];
            if b.embed {
                let v = &mut self.v[b.range.clone()];
                let (b2, w2) = (beta2 as f32, (1.0 - beta2) as f32);
                let (bc2, eps) = (bias_correction2_sq as f32, c.eps as f32);
                let scale = T::of(-c.lr / bias_correction1);
                for (((pi, &gi), mi), vi) in p.iter_mut().zip(&g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *mi = super::ops::lerp(*mi, gi, w1);
                    *vi = super::ops::addcmul(*vi * b2, gi, gi, w2);
                    let h = vi.sqrt() / bc2 + eps;
                    // addcdiv of float32 m, h onto the parameter: the quotient rounds to float32
                    *pi = *pi + scale * T::of((*mi / h) as f64);
                }
            } else {
                // the squares rounded to float32, their sum accurate (torch sums in cascades)
                let sum_sq = g.iter().fold(0.0f64, |a, &x| a + (x * x) as f64) as f32;
                let tmp_lr = sum_sq / g.len() as f32;
                let v = &mut self.v_mean[bi];
                *v = super::ops::add_alpha(*v * T::of(beta2), T::of(tmp_lr as f64), T::of(1.0 - beta2));
                let h = v.sqrt() / T::of(bias_correction2_sq) + T::of(c.eps);
                // a Python float over a tensor: torch takes the reciprocal and multiplies
                let stepsize = (T::one() / h) * T::of(1.0 / bias_correction1);
                let s32 = stepsize.f64() as f32;
                let neg_lr = T::of(-c.lr);
                for ((pi, &gi), mi) in p.iter_mut().zip(&g).zip(m.iter_mut()) {
                    *mi = super::ops::lerp(*mi, gi, w1);
                    let update = *mi * s32;
                    *pi = super::ops::add_alpha(*pi, T::of(update as f64), neg_lr);
                }
            }
        }
    }
}
