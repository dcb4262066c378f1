//! Text from a trained character-level GPT: each new token drawn from the softmax of the
//! last position's logits divided by a temperature, among the `top_k` most likely (nanoGPT's
//! `generate`), with a seeded generator so that a sample can be reproduced.

use crate::nn::Gpt;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// Draws the next token from `logits` with `temperature` among the `top_k` most likely
/// (0: all), by inverse transform of a uniform from `rng`.
pub fn draw(logits: &[f32], temperature: f64, top_k: usize, rng: &mut impl Rng) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let k = if top_k == 0 { logits.len() } else { top_k.min(logits.len()) };
    let top = &order[..k];
    let m = logits[top[0]] as f64;
    let w: Vec<f64> = top.iter().map(|&i| ((logits[i] as f64 - m) / temperature).exp()).collect();
    let total: f64 = w.iter().sum();
    let u = ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * total;
    let mut acc = 0.0;
    for (&i, &wi) in top.iter().zip(&w) {
        acc += wi;
        if u < acc {
            return i;
        }
    }
    top[k - 1]
}

/// `chars` new tokens after `context`, each from the logits of the last position of the
/// last `block_size` tokens.
pub fn sample(
    model: &Gpt,
    params: &[f32],
    context: &mut Vec<u32>,
    chars: usize,
    temperature: f64,
    top_k: usize,
    seed: u64,
) -> Vec<u32> {
    let k = crate::kernels::kernels();
    let mut w = model.work(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (bs, v) = (model.cfg.block_size, model.cfg.vocab);
    let mut new = Vec::with_capacity(chars);
    for _ in 0..chars {
        let start = context.len().saturating_sub(bs);
        let window = &context[start..];
        model.forward(k, params, window, window.len(), &mut w);
        let logits = w.logits(v);
        let last = &logits[(window.len() - 1) * v..];
        let next = draw(last, temperature, top_k, &mut rng) as u32;
        context.push(next);
        new.push(next);
    }
    new
}
