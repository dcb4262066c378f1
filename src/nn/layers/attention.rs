//! Causal multi-head self-attention (GPT-2's, as nanoGPT writes it without flash
//! attention): from `qkv` rows [q | k | v] of width 3d, per sample and head
//! `softmax(q·kᵀ / √(d/H) + causal −∞)·v`, heads concatenated in head order. The products
//! go through the kernels (`dots` for q·kᵀ and dy·vᵀ, `gemm` for the rest), the softmax is
//! scalar code: the same bits on every kernel path.

use crate::kernels::{Init, Kernels};
use crate::nn::layer::{Ctx, Dims, Grads, Layer, Scratch};
use rayon::prelude::*;

#[derive(Clone, Debug)]
pub(crate) struct Attention {
    /// Model width d (all heads), heads H, context t.
    pub d: usize,
    pub heads: usize,
    pub t: usize,
}

/// One sample-and-head's buffers of the backward pass (t×hd and t×t).
#[derive(Clone, Debug, Default)]
pub(crate) struct AttnGrad {
    dy: Vec<f32>,
    dp: Vec<f32>,
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
}

impl AttnGrad {
    pub fn new(t: usize, hd: usize) -> AttnGrad {
        AttnGrad {
            dy: vec![0.0; t * hd],
            dp: vec![0.0; t * t],
            dq: vec![0.0; t * hd],
            dk: vec![0.0; t * hd],
            dv: vec![0.0; t * hd],
        }
    }
}

impl Attention {
    fn hd(&self) -> usize {
        self.d / self.heads
    }

    /// `y` (n·t rows of d) from `qkv` (n·t rows of 3d); keeps q, k, v per head
    /// ([n, H, t, hd] each, in `q`, `k`, `v`) and the probabilities ([n, H, t, t], in `p`).
    /// Samples are independent, so they run in parallel over the current rayon pool; each
    /// one's arithmetic is the same whatever thread runs it.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        kn: &Kernels,
        qkv: &[f32],
        n: usize,
        y: &mut [f32],
        q: &mut [f32],
        k: &mut [f32],
        v: &mut [f32],
        p: &mut [f32],
    ) {
        let (d, t, hd, nh) = (self.d, self.t, self.hd(), self.heads);
        let (per, pp) = (nh * t * hd, nh * t * t);
        y[..n * t * d]
            .par_chunks_mut(t * d)
            .zip(q[..n * per].par_chunks_mut(per))
            .zip(k[..n * per].par_chunks_mut(per))
            .zip(v[..n * per].par_chunks_mut(per))
            .zip(p[..n * pp].par_chunks_mut(pp))
            .enumerate()
            .with_min_len(1)
            .for_each(|(b, ((((yb, qb), kb), vb), pb))| {
                self.forward_sample(kn, &qkv[b * t * 3 * d..][..t * 3 * d], yb, qb, kb, vb, pb)
            });
    }

    /// [`Attention::forward`] of one sample (its rows of `qkv` and `y`, its heads' q, k, v, p).
    #[allow(clippy::too_many_arguments)]
    fn forward_sample(
        &self,
        kn: &Kernels,
        qkv: &[f32],
        y: &mut [f32],
        q: &mut [f32],
        k: &mut [f32],
        v: &mut [f32],
        p: &mut [f32],
    ) {
        let (d, t, hd) = (self.d, self.t, self.hd());
        let scale = (hd as f32).sqrt();
        for h in 0..self.heads {
            let (qh, kh, vh) =
                (&mut q[h * t * hd..][..t * hd], &mut k[h * t * hd..][..t * hd], &mut v[h * t * hd..][..t * hd]);
            for i in 0..t {
                let row = &qkv[i * 3 * d..][..3 * d];
                qh[i * hd..][..hd].copy_from_slice(&row[h * hd..][..hd]);
                kh[i * hd..][..hd].copy_from_slice(&row[d + h * hd..][..hd]);
                vh[i * hd..][..hd].copy_from_slice(&row[2 * d + h * hd..][..hd]);
            }
            let ph = &mut p[h * t * t..][..t * t];
            kn.dots(qh, kh, t, hd, t, Init::Zero, ph);
            for (i, row) in ph.chunks_exact_mut(t).enumerate() {
                let mut m = f32::NEG_INFINITY;
                for s in &mut row[..=i] {
                    *s /= scale;
                    m = m.max(*s);
                }
                let mut sum = 0f32;
                for s in &mut row[..=i] {
                    *s = (*s - m).exp();
                    sum += *s;
                }
                for s in &mut row[..=i] {
                    *s /= sum;
                }
                row[i + 1..].fill(0.0);
            }
            kn.gemm(t, t, hd, ph, t, 1, vh, hd, Init::Zero, &mut y[h * hd..], d);
        }
    }

    /// Adds into `dqkv` (n·t rows of 3d) from `dy` (n·t rows of d) and the saved q, k, v, p;
    /// `g` holds one [`AttnGrad`] per sample (at least n), so samples run in parallel.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        kn: &Kernels,
        dy: &[f32],
        n: usize,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        p: &[f32],
        g: &mut [AttnGrad],
        dqkv: &mut [f32],
    ) {
        let (d, t, hd, nh) = (self.d, self.t, self.hd(), self.heads);
        let (per, pp) = (nh * t * hd, nh * t * t);
        assert!(g.len() >= n, "attention: one gradient buffer per sample");
        dqkv[..n * t * 3 * d]
            .par_chunks_mut(t * 3 * d)
            .zip(g[..n].par_iter_mut())
            .enumerate()
            .with_min_len(1)
            .for_each(|(b, (db, gb))| {
                let (qb, kb, vb) = (&q[b * per..][..per], &k[b * per..][..per], &v[b * per..][..per]);
                self.backward_sample(kn, &dy[b * t * d..][..t * d], qb, kb, vb, &p[b * pp..][..pp], gb, db)
            });
    }

    /// [`Attention::backward`] of one sample.
    #[allow(clippy::too_many_arguments)]
    fn backward_sample(
        &self,
        kn: &Kernels,
        dy: &[f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        p: &[f32],
        g: &mut AttnGrad,
        dqkv: &mut [f32],
    ) {
        let (d, t, hd) = (self.d, self.t, self.hd());
        let scale = (hd as f32).sqrt();
        for h in 0..self.heads {
            let (qh, kh, vh) = (&q[h * t * hd..][..t * hd], &k[h * t * hd..][..t * hd], &v[h * t * hd..][..t * hd]);
            let ph = &p[h * t * t..][..t * t];
            for i in 0..t {
                g.dy[i * hd..][..hd].copy_from_slice(&dy[i * d + h * hd..][..hd]);
            }
            // dP = dY·Vᵀ, dV = Pᵀ·dY
            kn.dots(&g.dy, vh, t, hd, t, Init::Zero, &mut g.dp);
            kn.gemm(t, t, hd, ph, 1, t, &g.dy, hd, Init::Zero, &mut g.dv, hd);
            // dS = P ⊙ (dP − Σ_j P·dP) / scale, zero above the diagonal
            for (i, (dr, pr)) in g.dp.chunks_exact_mut(t).zip(ph.chunks_exact(t)).enumerate() {
                let dot: f32 = dr[..=i].iter().zip(&pr[..=i]).map(|(a, b)| a * b).sum();
                for (x, &pv) in dr[..=i].iter_mut().zip(&pr[..=i]) {
                    *x = pv * (*x - dot) / scale;
                }
                dr[i + 1..].fill(0.0);
            }
            // dQ = dS·K, dK = dSᵀ·Q
            kn.gemm(t, t, hd, &g.dp, t, 1, kh, hd, Init::Zero, &mut g.dq, hd);
            kn.gemm(t, t, hd, &g.dp, 1, t, qh, hd, Init::Zero, &mut g.dk, hd);
            for i in 0..t {
                let row = &mut dqkv[i * 3 * d..][..3 * d];
                let add = |dst: &mut [f32], src: &[f32]| dst.iter_mut().zip(src).for_each(|(a, &v)| *a += v);
                add(&mut row[h * hd..][..hd], &g.dq[i * hd..][..hd]);
                add(&mut row[d + h * hd..][..hd], &g.dk[i * hd..][..hd]);
                add(&mut row[2 * d + h * hd..][..hd], &g.dv[i * hd..][..hd]);
            }
        }
    }
}

/// The attention layer (spec `attention(heads)`): rows [q | k | v] of width 3d in, d out,
/// for windows of up to `t` positions.
#[derive(Clone, Debug)]
pub(crate) struct SelfAttention {
    pub d: usize,
    pub heads: usize,
    pub t: usize,
    pub dims: Dims,
}

/// What the attention layer keeps per batch: q, k, v and the probabilities, and one
/// gradient buffer per window.
struct AttnBufs {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    p: Vec<f32>,
    grads: Vec<AttnGrad>,
}

impl SelfAttention {
    pub fn new(d: usize, heads: usize, t: usize) -> SelfAttention {
        SelfAttention { d, heads, t, dims: Dims::seq(t, &[d]) }
    }

    fn at(&self, t: usize) -> Attention {
        Attention { d: self.d, heads: self.heads, t }
    }
}

impl Layer for SelfAttention {
    fn describe(&self) -> String {
        format!("attention({})", self.heads)
    }
    fn out_dims(&self) -> &Dims {
        &self.dims
    }
    fn macs(&self) -> u64 {
        // q·kᵀ and p·v over the whole t×t square (the causal half is computed in full)
        let (t, d) = (self.t as u64, self.d as u64);
        t.saturating_mul(t).saturating_mul(d)
    }
    fn scratch(&self, cap: usize) -> Scratch {
        let (r, hd) = (cap * self.t, self.d / self.heads);
        Scratch::new(AttnBufs {
            q: vec![0.0; r * self.d],
            k: vec![0.0; r * self.d],
            v: vec![0.0; r * self.d],
            p: vec![0.0; cap * self.heads * self.t * self.t],
            grads: (0..cap).map(|_| AttnGrad::new(self.t, hd)).collect(),
        })
    }
    fn scratch_bytes(&self, cap: u64) -> Option<u64> {
        let (t, d) = (self.t as u64, self.d as u64);
        let hd = d / self.heads as u64;
        let qkv = cap.checked_mul(t)?.checked_mul(d)?.checked_mul(3)?;
        let p = cap.checked_mul(self.heads as u64)?.checked_mul(t)?.checked_mul(t)?;
        let grads = cap.checked_mul(t.checked_mul(4 * hd)?.checked_add(t.checked_mul(t)?)?)?;
        qkv.checked_add(p)?.checked_add(grads)?.checked_mul(4)
    }
    fn forward(&self, c: &Ctx, x: &[f32], y: &mut [f32], s: &mut Scratch) {
        let b = s.get::<AttnBufs>();
        self.at(c.t).forward(c.k, x, c.n, y, &mut b.q, &mut b.k, &mut b.v, &mut b.p);
    }
    fn backward(&self, c: &Ctx, _x: &[f32], _y: &[f32], g: Grads, s: &mut Scratch) {
        let Some(dx) = g.dx else { return };
        let b = s.get::<AttnBufs>();
        self.at(c.t).backward(c.k, g.dy, c.n, &b.q, &b.k, &b.v, &b.p, &mut b.grads, dx);
    }
}
