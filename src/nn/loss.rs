//! The losses at the end of a model: over the classes of each sample (an image classifier,
//! PyTorch's `log_softmax` + `nll_loss`) and over the vocabulary at each position (a language
//! model, PyTorch's `F.cross_entropy`). Both are the mean over their rows; each writes the
//! gradient of its logits for the backward pass.

/// Targets of a batch: one class per sample, or one token per position.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    Classes(&'a [u8]),
    Tokens(&'a [u32]),
}

/// The log-probabilities of rows of `width` logits, into `logp`: `z − max − ln Σ e^(z − max)`.
pub fn log_softmax(z: &[f32], width: usize, logp: &mut [f32]) {
    for (row, out) in z.chunks_exact(width).zip(logp.chunks_exact_mut(width)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|&v| (v - m).exp()).sum();
        let lse = sum.ln();
        for (o, &v) in out.iter_mut().zip(row) {
            *o = v - m - lse;
        }
    }
}

/// The mean negative log-likelihood of `labels` under the log-probabilities `logp` (rows of
/// `width`), summed in f32 in sample order, and its gradient with respect to the logits,
/// `(softmax − one-hot)/n`, into `dz`.
pub fn class_nll(logp: &[f32], width: usize, labels: &[u8], dz: &mut [f32]) -> f32 {
    let inv = 1.0 / labels.len() as f32;
    let mut loss = 0f32;
    for (&y, (lp, d)) in labels.iter().zip(logp.chunks_exact(width).zip(dz.chunks_exact_mut(width))) {
        loss -= lp[y as usize];
        for (c, (dv, &l)) in d.iter_mut().zip(lp).enumerate() {
            *dv = l.exp() * inv - if c == y as usize { inv } else { 0.0 };
        }
    }
    loss * inv
}

/// The mean cross-entropy of rows of `width` logits against `targets` (the log-sum-exp per
/// row in f32, the sum over rows in f64); with `grad`, the gradient `(softmax − one-hot)/rows`.
pub fn token_cross_entropy(logits: &[f32], width: usize, targets: &[u32], mut grad: Option<&mut [f32]>) -> f32 {
    let r = targets.len();
    let inv = 1.0 / r as f32;
    let mut total = 0f64;
    for (i, (row, &y)) in logits.chunks_exact(width).zip(targets).enumerate() {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let s: f32 = row.iter().map(|&z| (z - m).exp()).sum();
        let lse = m + s.ln();
        total += (lse - row[y as usize]) as f64;
        if let Some(g) = grad.as_deref_mut() {
            let d = &mut g[i * width..][..width];
            for (o, &z) in d.iter_mut().zip(row) {
                *o = (z - m).exp() / s * inv;
            }
            d[y as usize] -= inv;
        }
    }
    (total / r as f64) as f32
}
