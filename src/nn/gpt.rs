//! `gpt`: a character-level GPT (GPT-2's block layout at the size of nanoGPT's CPU recipe),
//! a composition of the engine's layers: an embedding, residual blocks, a LayerNorm and a
//! linear head tied to the token embedding, then the cross-entropy over the vocabulary.
//!
//! ```text
//! x₀ = wte[tokens] + wpe[0..t)
//! block l:  x ← x + proj(attn(ln1(x)));   x ← x + out(gelu(fc(ln2(x))))
//! logits = ln_f(x)·wteᵀ                    (the head is tied to the token embedding)
//! loss   = mean cross-entropy over all n·t positions (natural log)
//! ```
//!
//! Keys and defaults (nanoGPT's `config/train_shakespeare_char.py` scaled to a CPU):
//! `gpt(n_layer=4, n_head=4, n_embd=128, block_size=64, bias=true, dropout=0)`; LayerNorm eps
//! 1e-5, the exact-erf GELU, MLP width 4·n_embd. Initialisation as nanoGPT: every matrix
//! N(0, 0.02) except `proj.weight` and `out.weight`, N(0, 0.02/√(2·n_layer)); biases 0;
//! LayerNorm gains 1. Parameters lie in one flat vector in PyTorch's `named_parameters()`
//! order with PyTorch's names and shapes (Linear weights `[out, in]`); the tied head is the
//! one tensor `wte.weight`, whose gradient is the sum of the embedding's and the head's.
//!
//! ```text
//! embedding(vocab, d)
//! residual(layer_norm, linear(3d), attention(n_head), linear(d))     × n_layer, with
//! residual(layer_norm, linear(4d), gelu, linear(d))
//! layer_norm, linear(vocab, bias=false, tied="wte.weight")
//! ```
//!
//! Every pass goes through the run-time chosen kernels (`dots`, `gemm`) and scalar row code,
//! so the bits are the same on every kernel path; each sum runs in a fixed order, so they
//! are the same for every thread count too.

use super::layer::{Ctx, Dims};
use super::layers::{Embedding, Gelu, LayerNorm, Linear, Residual, SelfAttention};
use super::params::{InitRule, Params, Tensor};
use super::sequential::{SeqWork, Sequential};
use crate::kernels::Kernels;
use crate::limits::Allow;
use crate::optim::{Layout, Role, Spec, Value};
use anyhow::{bail, Result};

/// The model's hyperparameters (the keys of `gpt(...)`), and the vocabulary size the data gives.
#[derive(Clone, Debug, PartialEq)]
pub struct GptConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub block_size: usize,
    pub bias: bool,
    pub vocab: usize,
}

/// The keys of `gpt(...)` with their defaults, as the help text shows them.
pub const KEYS: &str = "n_layer=4, n_head=4, n_embd=128, block_size=64, bias=true, dropout=0";

impl GptConfig {
    /// nanoGPT's CPU recipe for a vocabulary of `vocab` tokens.
    pub fn default_for(vocab: usize) -> GptConfig {
        GptConfig { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, bias: true, vocab }
    }

    /// Reads `gpt` or `gpt(key=value, ...)`; unknown keys, non-integers, zero sizes, a width
    /// the heads do not divide and a dropout other than 0 are one-line errors.
    pub fn parse(text: &str, vocab: usize) -> Result<GptConfig> {
        let spec = Spec::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if spec.name != "gpt" {
            bail!("'{}' is not a language model (the language model is gpt({KEYS}))", spec.name);
        }
        let mut c = GptConfig::default_for(vocab);
        for a in &spec.args {
            let Some(key) = a.key.as_deref() else {
                bail!("gpt: give every value with its key ({KEYS})");
            };
            let int = |v: &Value| -> Result<usize> {
                match v {
                    Value::Num(x) if *x >= 1.0 && x.fract() == 0.0 && *x <= 1e9 => Ok(*x as usize),
                    _ => bail!("gpt: {key} must be a whole number ≥ 1"),
                }
            };
            match key {
                "n_layer" => c.n_layer = int(&a.value)?,
                "n_head" => c.n_head = int(&a.value)?,
                "n_embd" => c.n_embd = int(&a.value)?,
                "block_size" => c.block_size = int(&a.value)?,
                "bias" => match a.value {
                    Value::Bool(b) => c.bias = b,
                    _ => bail!("gpt: bias must be true or false"),
                },
                "dropout" => match a.value {
                    Value::Num(0.0) => {}
                    _ => bail!(
                        "gpt: dropout must be 0 (optlab's GPT trains without dropout, as nanoGPT's small recipes do)"
                    ),
                },
                other => bail!("gpt: unknown key '{other}' (the keys are {KEYS})"),
            }
        }
        if !c.n_embd.is_multiple_of(c.n_head) {
            bail!("gpt: n_embd={} is not a multiple of n_head={}", c.n_embd, c.n_head);
        }
        Ok(c)
    }

    /// The spec that builds this model (every key written out).
    pub fn canonical(&self) -> String {
        format!(
            "gpt(n_layer={}, n_head={}, n_embd={}, block_size={}, bias={}, dropout=0)",
            self.n_layer, self.n_head, self.n_embd, self.block_size, self.bias
        )
    }
}

/// The model: its configuration, its tensors and the layers over them.
#[derive(Debug)]
pub struct Gpt {
    pub cfg: GptConfig,
    params: Params,
    pub n_params: usize,
    body: Sequential,
}

/// Buffers for batches of up to `cap` windows of `block_size` tokens, sized once so a step
/// allocates nothing.
#[derive(Debug)]
pub struct GptWork {
    cap: usize,
    d: usize,
    /// windows and their length in the last forward pass
    n: usize,
    t: usize,
    body: SeqWork,
    dlogits: Vec<f32>,
    spare: Vec<Vec<f32>>,
}

impl GptWork {
    fn rows(&self) -> usize {
        self.n * self.t
    }

    /// The logits of the last forward pass, `[n, t, vocab]`.
    pub fn logits(&self, vocab: usize) -> &[f32] {
        &self.body.acts.last().expect("the model has layers")[..self.rows() * vocab]
    }

    /// The hidden state of the last forward pass after the embedding (`k = 0`) or after
    /// block `k`, `[n, t, n_embd]`: the output of the body's layer 2k (the embedding, then
    /// two residual blocks per transformer block).
    pub fn hidden(&self, k: usize) -> &[f32] {
        &self.body.acts[2 * k][..self.rows() * self.d]
    }
}

impl Gpt {
    /// Builds the model, refusing sizes over the limits (parameters, multiply-adds) unless
    /// `allow.large`.
    pub fn new(cfg: GptConfig, allow: Allow) -> Result<Gpt> {
        let e = |e: crate::limits::LimitError| anyhow::anyhow!("{}", e.0);
        if cfg.vocab == 0 {
            bail!("gpt: the vocabulary is empty");
        }
        for (what, v) in [("n_embd", cfg.n_embd), ("block_size", cfg.block_size), ("vocab", cfg.vocab)] {
            crate::limits::WIDTH.check_usize(v, allow).map_err(|x| anyhow::anyhow!("gpt: {what}: {}", x.0))?;
        }
        if cfg.n_layer > 1024 {
            bail!("gpt: n_layer={} is more than 1024 blocks", cfg.n_layer);
        }
        let (d, l) = (cfg.n_embd as u64, cfg.n_layer as u64);
        let per_block = 12 * d * d + if cfg.bias { 13 * d } else { 4 * d };
        let total = (cfg.vocab as u64 + cfg.block_size as u64)
            .checked_mul(d)
            .and_then(|x| x.checked_add(per_block.checked_mul(l)?))
            .and_then(|x| x.checked_add(if cfg.bias { 2 * d } else { d }));
        crate::limits::PARAMS.check(total, allow).map_err(e)?;
        let mut ps = Params::default();
        let (d, v, t, nl) = (cfg.n_embd, cfg.vocab, cfg.block_size, cfg.n_layer);
        let std = 0.02f32;
        let std_res = 0.02 / (2.0 * nl as f32).sqrt();
        let rows = Dims::seq(t, &[d]);
        let wte = ps.add("wte.weight".into(), vec![v, d], Role::Embedding, InitRule::Normal(std));
        let wpe = ps.add("wpe.weight".into(), vec![t, d], Role::Embedding, InitRule::Normal(std));
        let mut body = Sequential::new(Dims::seq(t, &[]));
        body.push(Box::new(Embedding { d, wte, wpe, vocab: v, dims: rows.clone() }));
        let bias = cfg.bias;
        let ln = |ps: &mut Params, name: String| {
            let w = ps.add(format!("{name}.weight"), vec![d], Role::NormGain, InitRule::Ones);
            let b = bias.then(|| ps.add(format!("{name}.bias"), vec![d], Role::Bias, InitRule::Zeros));
            LayerNorm { d, w, b, eps: 1e-5, dims: Dims::seq(t, &[d]) }
        };
        let lin = |ps: &mut Params, name: String, o: usize, i: usize, sd: f32| {
            let w = ps.add(format!("{name}.weight"), vec![o, i], Role::Hidden, InitRule::Normal(sd));
            let b = bias.then(|| ps.add(format!("{name}.bias"), vec![o], Role::Bias, InitRule::Zeros));
            Linear { inp: i, out: o, w, b, tied: None, dims: Dims::seq(t, &[o]), write: false }
        };
        for i in 0..nl {
            let p = |s: &str| format!("blocks.{i}.{s}");
            // PyTorch's parameter order: ln1, ln2, then the linears (the block's declaration order)
            let ln1 = ln(&mut ps, p("ln1"));
            let ln2 = ln(&mut ps, p("ln2"));
            let qkv = lin(&mut ps, p("qkv"), 3 * d, d, std);
            let proj = lin(&mut ps, p("proj"), d, d, std_res);
            let fc = lin(&mut ps, p("fc"), 4 * d, d, std);
            let out = lin(&mut ps, p("out"), d, 4 * d, std_res);
            let mut attn = Sequential::new(rows.clone());
            attn.push(Box::new(ln1));
            attn.push(Box::new(qkv));
            attn.push(Box::new(SelfAttention::new(d, cfg.n_head, t)));
            attn.push(Box::new(proj));
            let mut mlp = Sequential::new(rows.clone());
            mlp.push(Box::new(ln2));
            mlp.push(Box::new(fc));
            mlp.push(Box::new(Gelu { dims: Dims::seq(t, &[4 * d]) }));
            mlp.push(Box::new(out));
            body.push(Box::new(Residual::new(attn)?));
            body.push(Box::new(Residual::new(mlp)?));
        }
        body.push(Box::new(ln(&mut ps, "ln_f".into())));
        let tied = ps.find("wte.weight").map(|t| t.name.clone());
        body.push(Box::new(Linear { inp: d, out: v, w: wte, b: None, tied, dims: Dims::seq(t, &[v]), write: false }));
        Ok(Gpt { n_params: ps.len(), params: ps, body, cfg })
    }

    /// The named tensors, in PyTorch's `named_parameters()` order.
    pub fn tensors(&self) -> &[Tensor] {
        &self.params.tensors
    }

    /// The tensors as the optimizers see them (names, shapes, roles).
    pub fn layout(&self) -> Layout {
        self.params.layout()
    }

    /// The initial parameters for `seed` (normal draws by Box–Muller from ChaCha8, tensor
    /// after tensor).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        self.params.init(seed)
    }

    /// Multiply-adds of one forward pass over `n` windows of `block_size` tokens.
    pub fn forward_macs(&self, n: usize) -> u64 {
        self.body.macs().saturating_mul(n as u64)
    }

    /// FLOPs of one training step (forward and backward ≈ 3× the forward's multiply-adds,
    /// 2 FLOP each).
    pub fn step_flops(&self, n: usize) -> u64 {
        6 * self.forward_macs(n)
    }

    /// Bytes of [`Gpt::work`] for `cap` windows (`None` on overflow).
    pub fn work_bytes(&self, cap: usize) -> Option<u64> {
        let logits = (cap as u64).checked_mul(self.body.out_dims().len() as u64)?.checked_mul(4)?;
        let spare = self.body.spare(cap).iter().try_fold(0u64, |a, &s| a.checked_add((s as u64).checked_mul(4)?))?;
        self.body.work_bytes(cap as u64)?.checked_add(logits)?.checked_add(spare)
    }

    /// Buffers for up to `cap` windows.
    pub fn work(&self, cap: usize) -> GptWork {
        GptWork {
            cap,
            d: self.cfg.n_embd,
            n: 0,
            t: self.cfg.block_size,
            body: self.body.work(cap),
            dlogits: vec![0f32; cap * self.body.out_dims().len()],
            spare: self.body.spare(cap).into_iter().map(|s| vec![0f32; s]).collect(),
        }
    }

    /// The forward pass over `n = tokens.len() / t` windows of `t ≤ block_size` tokens;
    /// the logits are then in `w.logits`.
    pub fn forward(&self, k: &Kernels, params: &[f32], tokens: &[u32], t: usize, w: &mut GptWork) {
        let c = &self.cfg;
        assert!(t >= 1 && t <= c.block_size && tokens.len().is_multiple_of(t), "gpt: windows of 1..=block_size tokens");
        let n = tokens.len() / t;
        assert!(n <= w.cap, "gpt: batch larger than the workspace");
        assert!(tokens.iter().all(|&x| (x as usize) < c.vocab), "gpt: token outside the vocabulary");
        w.n = n;
        w.t = t;
        let ctx = Ctx { k, params, n, t, tokens };
        self.body.forward(&ctx, &[], &mut w.body);
    }

    /// The loss of windows `x` (n·t tokens) predicting `y`, without gradients.
    pub fn loss(&self, k: &Kernels, params: &[f32], x: &[u32], y: &[u32], t: usize, w: &mut GptWork) -> f32 {
        self.forward(k, params, x, t, w);
        assert_eq!(y.len(), w.rows(), "gpt: one target per position");
        super::loss::token_cross_entropy(w.logits(self.cfg.vocab), self.cfg.vocab, y, None)
    }

    /// The loss and its gradient (written into `grad`, which is overwritten).
    #[allow(clippy::too_many_arguments)]
    pub fn loss_and_grad(
        &self,
        k: &Kernels,
        params: &[f32],
        grad: &mut [f32],
        x: &[u32],
        y: &[u32],
        t: usize,
        w: &mut GptWork,
    ) -> f32 {
        self.forward(k, params, x, t, w);
        let v = self.cfg.vocab;
        let r = w.rows();
        assert_eq!(y.len(), r, "gpt: one target per position");
        let GptWork { body, dlogits, spare, n, .. } = w;
        let logits = &body.acts.last().expect("the model has layers")[..r * v];
        let loss = super::loss::token_cross_entropy(logits, v, y, Some(&mut dlogits[..r * v]));
        grad.fill(0.0);
        let ctx = Ctx { k, params, n: *n, t, tokens: x };
        self.body.backward(&ctx, &[], body, grad, &dlogits[..r * v], None, false, spare);
        loss
    }
}
