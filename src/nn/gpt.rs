//! `gpt`: a character-level GPT (GPT-2's block layout at the size of nanoGPT's CPU recipe),
//! composed of the layers in [`super::layers`], with a hand-written backward pass.
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
//! Every pass goes through the run-time chosen kernels (`dots`, `gemm`) and scalar row code,
//! so the bits are the same on every kernel path; each sum runs in a fixed order, so they
//! are the same for every thread count too.

use super::layers::{gelu, Attention, AttnGrad, Embedding, LayerNorm, RowLinear};
use crate::kernels::Kernels;
use crate::limits::Allow;
use crate::optim::{Layout, Role, Spec, Value};
use anyhow::{bail, Result};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// How a tensor starts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum InitRule {
    Normal(f32),
    Zeros,
    Ones,
}

/// One named tensor of the flat parameter vector.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: Role,
    pub offset: usize,
    init: InitRule,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug)]
struct Block {
    ln1: LayerNorm,
    qkv: RowLinear,
    proj: RowLinear,
    ln2: LayerNorm,
    fc: RowLinear,
    out: RowLinear,
}

/// The model: its configuration, its tensors and the layers over them.
#[derive(Clone, Debug)]
pub struct Gpt {
    pub cfg: GptConfig,
    pub tensors: Vec<Tensor>,
    pub n_params: usize,
    emb: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: RowLinear,
}

/// The activations of one layer kept for the backward pass.
#[derive(Clone, Debug, Default)]
struct Saved {
    /// the block's input (the residual stream)
    x: Vec<f32>,
    h1: Vec<f32>,
    m1: Vec<f32>,
    r1: Vec<f32>,
    qkv: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    p: Vec<f32>,
    a: Vec<f32>,
    xmid: Vec<f32>,
    h2: Vec<f32>,
    m2: Vec<f32>,
    r2: Vec<f32>,
    f: Vec<f32>,
    g: Vec<f32>,
}

/// Buffers for batches of up to `cap` windows of `block_size` tokens, sized once so a step
/// allocates nothing.
#[derive(Clone, Debug)]
pub struct GptWork {
    cap: usize,
    d: usize,
    /// windows and their length in the last forward pass
    n: usize,
    t: usize,
    saved: Vec<Saved>,
    /// the residual stream after the last block, ln_f's output and statistics
    xl: Vec<f32>,
    hf: Vec<f32>,
    mf: Vec<f32>,
    rf: Vec<f32>,
    logits: Vec<f32>,
    // backward scratch
    dres: Vec<f32>,
    dh: Vec<f32>,
    da: Vec<f32>,
    dbig: Vec<f32>,
    dbig2: Vec<f32>,
    /// one attention-gradient buffer per window, so windows run in parallel
    attn: Vec<AttnGrad>,
}

impl GptWork {
    /// The logits of the last forward pass, `[n, t, vocab]`.
    pub fn logits(&self, vocab: usize) -> &[f32] {
        &self.logits[..self.n * self.t * vocab]
    }

    /// The hidden state of the last forward pass after the embedding (`k = 0`) or after
    /// block `k`, `[n, t, n_embd]`.
    pub fn hidden(&self, k: usize) -> &[f32] {
        let len = self.n * self.t * self.d;
        match self.saved.get(k) {
            Some(s) => &s.x[..len],
            None => &self.xl[..len],
        }
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
        let mut tensors = Vec::new();
        let mut at = 0usize;
        let mut add = |name: String, shape: Vec<usize>, role: Role, init: InitRule| -> usize {
            let off = at;
            at += shape.iter().product::<usize>();
            tensors.push(Tensor { name, shape, role, offset: off, init });
            off
        };
        let (d, v, t, nl) = (cfg.n_embd, cfg.vocab, cfg.block_size, cfg.n_layer);
        let std = 0.02f32;
        let std_res = 0.02 / (2.0 * nl as f32).sqrt();
        let wte = add("wte.weight".into(), vec![v, d], Role::Embedding, InitRule::Normal(std));
        let wpe = add("wpe.weight".into(), vec![t, d], Role::Embedding, InitRule::Normal(std));
        let mut blocks = Vec::with_capacity(nl);
        for i in 0..nl {
            let p = |s: &str| format!("blocks.{i}.{s}");
            let ln1w = add(p("ln1.weight"), vec![d], Role::NormGain, InitRule::Ones);
            let ln1b = cfg.bias.then(|| add(p("ln1.bias"), vec![d], Role::Bias, InitRule::Zeros));
            let ln2w = add(p("ln2.weight"), vec![d], Role::NormGain, InitRule::Ones);
            let ln2b = cfg.bias.then(|| add(p("ln2.bias"), vec![d], Role::Bias, InitRule::Zeros));
            let mut lin = |name: &str, o: usize, i: usize, sd: f32| {
                let w = add(p(&format!("{name}.weight")), vec![o, i], Role::Hidden, InitRule::Normal(sd));
                let b = cfg.bias.then(|| add(p(&format!("{name}.bias")), vec![o], Role::Bias, InitRule::Zeros));
                RowLinear { inp: i, out: o, w, b }
            };
            let qkv = lin("qkv", 3 * d, d, std);
            let proj = lin("proj", d, d, std_res);
            let fc = lin("fc", 4 * d, d, std);
            let out = lin("out", d, 4 * d, std_res);
            let ln = |w, b| LayerNorm { d, w, b, eps: 1e-5 };
            blocks.push(Block { ln1: ln(ln1w, ln1b), qkv, proj, ln2: ln(ln2w, ln2b), fc, out });
        }
        let lnfw = add("ln_f.weight".into(), vec![d], Role::NormGain, InitRule::Ones);
        let lnfb = cfg.bias.then(|| add("ln_f.bias".into(), vec![d], Role::Bias, InitRule::Zeros));
        let n_params = at;
        Ok(Gpt {
            emb: Embedding { d, wte, wpe },
            blocks,
            ln_f: LayerNorm { d, w: lnfw, b: lnfb, eps: 1e-5 },
            head: RowLinear { inp: d, out: v, w: wte, b: None },
            cfg,
            tensors,
            n_params,
        })
    }

    /// The tensors as the optimizers see them (names, shapes, roles).
    pub fn layout(&self) -> Layout {
        let t: Vec<(&str, Vec<usize>, Role)> =
            self.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), t.role)).collect();
        Layout::with_roles(&t)
    }

    /// The initial parameters for `seed` (normal draws by Box–Muller from ChaCha8, tensor
    /// after tensor).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut p = vec![0f32; self.n_params];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut unit = move || ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
        for t in &self.tensors {
            let s = &mut p[t.offset..t.offset + t.len()];
            match t.init {
                InitRule::Zeros => s.fill(0.0),
                InitRule::Ones => s.fill(1.0),
                InitRule::Normal(sd) => {
                    for pair in s.chunks_mut(2) {
                        let (u1, u2) = (unit(), unit());
                        let r = (-2.0 * u1.ln()).sqrt();
                        let th = std::f64::consts::TAU * u2;
                        pair[0] = (r * th.cos()) as f32 * sd;
                        if pair.len() > 1 {
                            pair[1] = (r * th.sin()) as f32 * sd;
                        }
                    }
                }
            }
        }
        p
    }

    /// Multiply-adds of one forward pass over `n` windows of `block_size` tokens.
    pub fn forward_macs(&self, n: usize) -> u64 {
        let c = &self.cfg;
        let (r, d, t) = ((n * c.block_size) as u64, c.n_embd as u64, c.block_size as u64);
        let per_block = r * 12 * d * d + n as u64 * t * t * d; // linears + q·kᵀ and p·v (causal half ×2)
        r * c.vocab as u64 * d + per_block * c.n_layer as u64
    }

    /// FLOPs of one training step (forward and backward ≈ 3× the forward's multiply-adds,
    /// 2 FLOP each).
    pub fn step_flops(&self, n: usize) -> u64 {
        6 * self.forward_macs(n)
    }

    /// Bytes of [`Gpt::work`] for `cap` windows (`None` on overflow).
    pub fn work_bytes(&self, cap: usize) -> Option<u64> {
        let c = &self.cfg;
        let r = (cap as u64).checked_mul(c.block_size as u64)?;
        let (d, v) = (c.n_embd as u64, c.vocab as u64);
        let t = c.block_size as u64;
        let per_layer = r
            .checked_mul(d)?
            .checked_mul(8 + 3 + 8)?
            .checked_add(r.checked_mul(4)?)?
            .checked_add((cap as u64).checked_mul(c.n_head as u64)?.checked_mul(t)?.checked_mul(t)?)?;
        // the attention gradients' buffers: per window 4 of t × head width and one t × t
        let hd = d / c.n_head as u64;
        let attn = (cap as u64).checked_mul(t.checked_mul(4 * hd)?.checked_add(t.checked_mul(t)?)?)?;
        let rest = r
            .checked_mul(d)?
            .checked_mul(5)?
            .checked_add(r.checked_mul(v)?)?
            .checked_add(r.checked_mul(8 * d)?)?
            .checked_add(attn)?;
        per_layer.checked_mul(c.n_layer as u64)?.checked_add(rest)?.checked_mul(4)
    }

    /// Buffers for up to `cap` windows.
    pub fn work(&self, cap: usize) -> GptWork {
        let c = &self.cfg;
        let (d, t) = (c.n_embd, c.block_size);
        let r = cap * t;
        let z = |n: usize| vec![0f32; n];
        let saved = (0..c.n_layer)
            .map(|_| Saved {
                x: z(r * d),
                h1: z(r * d),
                m1: z(r),
                r1: z(r),
                qkv: z(r * 3 * d),
                q: z(r * d),
                k: z(r * d),
                v: z(r * d),
                p: z(cap * c.n_head * t * t),
                a: z(r * d),
                xmid: z(r * d),
                h2: z(r * d),
                m2: z(r),
                r2: z(r),
                f: z(r * 4 * d),
                g: z(r * 4 * d),
            })
            .collect();
        GptWork {
            cap,
            d,
            n: 0,
            t,
            saved,
            xl: z(r * d),
            hf: z(r * d),
            mf: z(r),
            rf: z(r),
            logits: z(r * c.vocab),
            dres: z(r * d),
            dh: z(r * d),
            da: z(r * d),
            dbig: z(r * 4 * d),
            dbig2: z(r * 4 * d),
            attn: (0..cap).map(|_| AttnGrad::new(t, d / c.n_head)).collect(),
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
        let (d, r) = (c.n_embd, n * t);
        w.n = n;
        w.t = t;
        let attn = Attention { d, heads: c.n_head, t };
        for (l, b) in self.blocks.iter().enumerate() {
            let (prev, rest) = w.saved.split_at_mut(l);
            let s = &mut rest[0];
            if l == 0 {
                self.emb.forward(params, tokens, t, &mut s.x[..r * d]);
            } else {
                // the block input is the previous block's output, x_mid + out(g)
                let p = &prev[l - 1];
                finish_block(k, params, &self.blocks[l - 1], p, r, &mut s.x[..r * d]);
            }
            b.ln1.forward(params, &s.x[..r * d], &mut s.h1[..r * d], &mut s.m1, &mut s.r1);
            b.qkv.forward(k, params, &s.h1[..r * d], r, &mut s.qkv);
            attn.forward(k, &s.qkv[..r * 3 * d], n, &mut s.a, &mut s.q, &mut s.k, &mut s.v, &mut s.p);
            b.proj.forward(k, params, &s.a[..r * d], r, &mut s.xmid);
            for (o, &x) in s.xmid[..r * d].iter_mut().zip(&s.x[..r * d]) {
                *o += x;
            }
            b.ln2.forward(params, &s.xmid[..r * d], &mut s.h2[..r * d], &mut s.m2, &mut s.r2);
            b.fc.forward(k, params, &s.h2[..r * d], r, &mut s.f);
            gelu::forward(&s.f[..r * 4 * d], &mut s.g[..r * 4 * d]);
        }
        match w.saved.last() {
            Some(p) => {
                let last = self.blocks.len() - 1;
                finish_block(k, params, &self.blocks[last], p, r, &mut w.xl[..r * d])
            }
            None => self.emb.forward(params, tokens, t, &mut w.xl[..r * d]),
        }
        self.ln_f.forward(params, &w.xl[..r * d], &mut w.hf[..r * d], &mut w.mf, &mut w.rf);
        self.head.forward(k, params, &w.hf[..r * d], r, &mut w.logits);
    }

    /// The mean cross-entropy of the last forward pass against `targets`; with `grad`, turns
    /// the logits into their gradient (softmax − one-hot) / (n·t).
    fn cross_entropy(&self, w: &mut GptWork, targets: &[u32], into_grad: bool) -> f32 {
        let v = self.cfg.vocab;
        let r = w.n * w.t;
        assert_eq!(targets.len(), r, "gpt: one target per position");
        let inv = 1.0 / r as f32;
        let mut total = 0f64;
        for (row, &y) in w.logits[..r * v].chunks_exact_mut(v).zip(targets) {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let s: f32 = row.iter().map(|&z| (z - m).exp()).sum();
            let lse = m + s.ln();
            total += (lse - row[y as usize]) as f64;
            if into_grad {
                for z in row.iter_mut() {
                    *z = (*z - m).exp() / s * inv;
                }
                row[y as usize] -= inv;
            }
        }
        (total / r as f64) as f32
    }

    /// The loss of windows `x` (n·t tokens) predicting `y`, without gradients.
    pub fn loss(&self, k: &Kernels, params: &[f32], x: &[u32], y: &[u32], t: usize, w: &mut GptWork) -> f32 {
        self.forward(k, params, x, t, w);
        self.cross_entropy(w, y, false)
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
        let loss = self.cross_entropy(w, y, true);
        grad.fill(0.0);
        let c = &self.cfg;
        let (d, n) = (c.n_embd, w.n);
        let r = n * t;
        let GptWork { saved, xl, hf, mf, rf, logits, dres, dh, da, dbig, dbig2, attn: ag, .. } = w;
        let (dres, dh, da) = (&mut dres[..r * d], &mut dh[..r * d], &mut da[..r * d]);
        // head (tied to wte) and the final LayerNorm
        dh.fill(0.0);
        self.head.backward(k, params, grad, &hf[..r * d], &logits[..r * c.vocab], r, Some(dh));
        dres.fill(0.0);
        self.ln_f.backward(params, grad, &xl[..r * d], mf, rf, dh, dres);
        let attn = Attention { d, heads: c.n_head, t };
        for (b, s) in self.blocks.iter().zip(saved.iter()).rev() {
            // x_out = x_mid + out(gelu(fc(ln2(x_mid))))
            let dg = &mut dbig[..r * 4 * d];
            dg.fill(0.0);
            b.out.backward(k, params, grad, &s.g[..r * 4 * d], dres, r, Some(dg));
            let df = &mut dbig2[..r * 4 * d];
            gelu::backward(&s.f[..r * 4 * d], dg, df);
            dh.fill(0.0);
            b.fc.backward(k, params, grad, &s.h2[..r * d], df, r, Some(dh));
            b.ln2.backward(params, grad, &s.xmid[..r * d], &s.m2, &s.r2, dh, dres);
            // x_mid = x + proj(attn(ln1(x)))
            da.fill(0.0);
            b.proj.backward(k, params, grad, &s.a[..r * d], dres, r, Some(da));
            let dqkv = &mut dbig[..r * 3 * d];
            attn.backward(k, da, n, &s.q, &s.k, &s.v, &s.p, ag, dqkv);
            dh.fill(0.0);
            b.qkv.backward(k, params, grad, &s.h1[..r * d], dqkv, r, Some(dh));
            b.ln1.backward(params, grad, &s.x[..r * d], &s.m1, &s.r1, dh, dres);
        }
        self.emb.backward(grad, x, t, dres);
        loss
    }
}

/// A block's output `x_mid + out(g)` into `y`.
fn finish_block(k: &Kernels, params: &[f32], b: &Block, s: &Saved, r: usize, y: &mut [f32]) {
    let d = b.out.out;
    b.out.forward(k, params, &s.g[..r * 4 * d], r, y);
    for (o, &x) in y.iter_mut().zip(&s.xmid[..r * d]) {
        *o += x;
    }
}
