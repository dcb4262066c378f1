//! The hand-written kernels, chosen once at run time for the CPU that runs them.
//!
//! optlab is built for the baseline of its architecture (any x86-64, any aarch64); the hot
//! loops are compiled several times over, each with one instruction set enabled
//! (`#[target_feature]`), and one table of entry points — a [`Kernels`] — per path:
//!
//! | path | CPU | f32 lanes as |
//! |---|---|---|
//! | `avx512` | x86-64 with AVX-512F (and AVX2, FMA) | 1 × 16 |
//! | `avx2` | x86-64 with AVX2 and FMA | 2 × 8 |
//! | `neon` | aarch64 | 4 × 4 |
//! | `scalar` | any | 16 partial sums |
//!
//! The best path the CPU has is detected once; `OPTLAB_KERNELS=scalar|avx2|avx512|neon`
//! forces one (`auto` or unset: the best). **Every path gives the same bits**: the kernels
//! are written once over a logical 16-lane vector ([`simd`]), so each output element sees the
//! same IEEE operations in the same order whatever the vector width (see [`nn`] and
//! [`trig`] for the orders). The tests run every path the machine has against the scalar
//! one, bit for bit.
//!
//! The optimizers' element-wise update loops go through [`fused`], which compiles them with
//! the path's instruction set so that `mul_add` is one FMA instruction instead of a library
//! call (the results are the same either way: fused multiply-adds are correctly rounded).

mod nn;
mod simd;
mod trig;

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

/// The name of the environment variable that forces a path.
pub const ENV: &str = "OPTLAB_KERNELS";

/// A set of kernels for one instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Path {
    Scalar,
    Neon,
    Avx2,
    Avx512,
}

impl Path {
    /// Every path, the portable one first.
    pub const ALL: [Path; 4] = [Path::Scalar, Path::Neon, Path::Avx2, Path::Avx512];

    /// The name used by `OPTLAB_KERNELS` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Path::Scalar => "scalar",
            Path::Neon => "neon",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
        }
    }

    /// One line on what the path is.
    pub fn describe(self) -> &'static str {
        match self {
            Path::Scalar => "portable scalar code, 16 partial sums",
            Path::Neon => "NEON, 16 lanes as 4×4",
            Path::Avx2 => "AVX2 + FMA, 16 lanes as 2×8",
            Path::Avx512 => "AVX-512, 16 lanes as 1×16",
        }
    }

    /// Parses a name (`auto` is not a path: see [`requested`]).
    pub fn parse(s: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether this CPU (and this build's architecture) can run the path.
    pub fn supported(self) -> bool {
        match self {
            Path::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "aarch64")]
            Path::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Peak f32 FLOP per cycle and core of the path's fused multiply-adds on a CPU with two
    /// FMA units (2 units × lanes × 2 FLOP), for comparison with measured rates.
    pub fn peak_flop_per_cycle(self) -> f64 {
        match self {
            Path::Scalar => 4.0,
            Path::Neon => 16.0,
            Path::Avx2 => 32.0,
            Path::Avx512 => 64.0,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The paths this CPU supports, best first.
pub fn supported() -> Vec<Path> {
    Path::ALL.into_iter().rev().filter(|p| p.supported()).collect()
}

/// The best path this CPU supports.
pub fn best() -> Path {
    supported()[0]
}

/// Why the path asked for in `OPTLAB_KERNELS` cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceError(String);

impl fmt::Display for ChoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChoiceError {}

/// The path `value` (the content of `OPTLAB_KERNELS`) asks for: the best one for `None`,
/// an empty value or `auto`; an error for an unknown name or a path this CPU lacks.
pub fn choose(value: Option<&str>) -> Result<Path, ChoiceError> {
    let v = value.map(str::trim).unwrap_or("");
    if v.is_empty() || v.eq_ignore_ascii_case("auto") {
        return Ok(best());
    }
    let have = supported().iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
    let shown = crate::limits::echo(v, 40);
    match Path::parse(v) {
        None => Err(ChoiceError(format!(
            "{ENV}={shown}: unknown kernel path; use one of scalar, avx2, avx512, neon or auto (this CPU has {have})"
        ))),
        Some(p) if !p.supported() => Err(ChoiceError(format!(
            "{ENV}={shown}: this CPU cannot run the {} kernels ({}); it has {have}",
            p.name(),
            p.describe()
        ))),
        Some(p) => Ok(p),
    }
}

/// The path the environment asks for (see [`choose`]).
pub fn requested() -> Result<Path, ChoiceError> {
    choose(std::env::var(ENV).ok().as_deref())
}

static ACTIVE: OnceLock<Path> = OnceLock::new();

/// Settles the path for this process from `OPTLAB_KERNELS`, or says why it cannot be used.
/// The command line calls this first (and exits with status 2 on an error).
pub fn init() -> Result<Path, ChoiceError> {
    let p = requested()?;
    Ok(*ACTIVE.get_or_init(|| p))
}

/// The path in use. Without a prior [`init`], a bad `OPTLAB_KERNELS` is reported once on
/// stderr and the best path is used.
pub fn active() -> Path {
    *ACTIVE.get_or_init(|| {
        requested().unwrap_or_else(|e| {
            let b = best();
            eprintln!("warning: {e}; using the {b} kernels");
            b
        })
    })
}

/// The kernels of the active path.
pub fn kernels() -> &'static Kernels {
    table(active()).unwrap_or(&SCALAR)
}

/// The kernels of path `p`, if this CPU can run them.
pub fn table(p: Path) -> Option<&'static Kernels> {
    if !p.supported() {
        return None;
    }
    match p {
        Path::Scalar => Some(&SCALAR),
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => Some(&AVX2),
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => Some(&AVX512),
        #[cfg(target_arch = "aarch64")]
        Path::Neon => Some(&NEON),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Products of at least this many multiply-adds may be split over threads.
const PAR_MIN_MACS: u64 = 1 << 20;
/// ... into halves of at least this many rows.
const PAR_MIN_ROWS: usize = 64;

static SPLITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times a kernel call has been split over threads in this process (lets a test
/// check that a multi-threaded run did use more than one thread).
pub fn parallel_splits() -> u64 {
    SPLITS.load(std::sync::atomic::Ordering::Relaxed)
}

thread_local! {
    static CALLS: Cell<[u64; 4]> = const { Cell::new([0; 4]) };
}

fn count(p: Path) {
    CALLS.with(|c| {
        let mut v = c.get();
        v[p as usize] += 1;
        c.set(v);
    });
}

/// How many kernel calls of path `p` this thread has made: lets a test check that the path
/// it meant to test is the one that ran.
pub fn calls_on_this_thread(p: Path) -> u64 {
    CALLS.with(|c| c.get()[p as usize])
}

/// Where a sum starts: from zero, from the destination's current value (`Keep`: the sum is
/// added to it), or from a bias (see each kernel for which index the bias follows).
#[derive(Clone, Copy, Debug)]
pub enum Init<'a> {
    Zero,
    Keep,
    Bias(&'a [f32]),
}

/// The shape of a stride-1 convolution over zero-padded input planes: `cin` planes of
/// `hp`×`wp` in, `cout` planes of `oh`×`ow` out, a k×k kernel, and the offset of each tap
/// (ci, ky, kx), in the weights' order, from [`ConvGeom::tap_offsets`].
#[derive(Clone, Copy, Debug)]
pub struct ConvGeom<'a> {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub hp: usize,
    pub wp: usize,
    pub oh: usize,
    pub ow: usize,
    pub offs: &'a [usize],
}

impl ConvGeom<'_> {
    /// The offsets of the kernel taps (ci, ky, kx) into a padded sample.
    pub fn tap_offsets(cin: usize, k: usize, hp: usize, wp: usize) -> Vec<usize> {
        (0..cin * k * k).map(|t| (t / (k * k)) * hp * wp + ((t / k) % k) * wp + t % k).collect()
    }

    fn check(&self) {
        assert!(self.offs.len() == self.cin * self.k * self.k, "conv: one offset per tap");
        assert!(self.oh + self.k - 1 <= self.hp && self.ow + self.k - 1 <= self.wp, "conv: output larger than input");
        let last = self.cin * self.hp * self.wp;
        assert!(
            self.offs.iter().all(|&o| o + (self.oh - 1) * self.wp + self.ow <= last),
            "conv: tap offsets outside the padded input"
        );
    }
}

type DotsFn = unsafe fn(&[f32], &[f32], usize, usize, usize, Init, &mut [f32]);
type GemmFn = unsafe fn(&nn::Gemm, Init, &mut [f32]);
type ConvFn = unsafe fn(&ConvGeom, &[f32], &[f32], &[f32], &mut [f32]);
type ConvGradFn = unsafe fn(&ConvGeom, &[f32], &[f32], &mut [f32]);
type PoolFn = unsafe fn(&[f32], usize, usize, u32, bool, &mut [f32], &mut [u32]);
type ScatterFn = unsafe fn(&mut [f32], &[u32], &[f32]);
type SumFn = unsafe fn(&[f32]) -> f32;
type Grad2Fn = unsafe fn(&[f64], &mut [f64], bool);
type ProbeFn = unsafe fn(usize, f32) -> (f32, usize);
type SinCosFn = unsafe fn(&[f64], &mut [f64], &mut [f64]);

/// One path's entry points. Obtain it from [`kernels`] or [`table`]; the methods check
/// every bound and then run the path's code.
pub struct Kernels {
    path: Path,
    dots: DotsFn,
    gemm: GemmFn,
    conv_forward: ConvFn,
    conv_weight_grad: ConvGradFn,
    conv_input_grad: ConvGradFn,
    maxpool2: PoolFn,
    scatter: ScatterFn,
    sum: SumFn,
    sin_cos_grad: Grad2Fn,
    sincos: SinCosFn,
    fma_probe: ProbeFn,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernels({})", self.path)
    }
}

impl Kernels {
    pub fn path(&self) -> Path {
        self.path
    }

    /// `y[i·o + j] = Σ_l x[i·k + l]·w[j·k + l]` for i < n, j < o, l < k (x is n×k, w is o×k,
    /// y is n×o, all row-major), summed as 16 partial sums and a fixed tree, then
    /// `init`: `Zero` stores the sum, `Keep` adds it to y, `Bias(b)` adds `b[j]`.
    #[allow(clippy::too_many_arguments)]
    pub fn dots(&self, x: &[f32], w: &[f32], n: usize, k: usize, o: usize, init: Init, y: &mut [f32]) {
        assert!(x.len() >= n * k && w.len() >= o * k && y.len() >= n * o, "dots: operand too short");
        if let Init::Bias(b) = init {
            assert!(b.len() >= o, "dots: bias too short");
        }
        count(self.path);
        // SAFETY: the table exists only for a supported path; bounds checked above
        unsafe { (self.dots)(x, w, n, k, o, init, y) }
    }

    /// `C[i][j] = init + Σ_l A(i, l)·B[l][j]` for i < m, j < n, l < kd, with
    /// `A(i, l) = a[i·rsa + l·csa]` (any strides), `B[l][j] = b[l·rsb + j]`,
    /// `C[i][j] = c[i·rsc + j]`: each element's terms added by one fused multiply-add each
    /// in the order of l, starting from 0 (`Zero`), from C (`Keep`) or from `bias[i]`.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &self,
        m: usize,
        kd: usize,
        n: usize,
        a: &[f32],
        rsa: usize,
        csa: usize,
        b: &[f32],
        rsb: usize,
        init: Init,
        c: &mut [f32],
        rsc: usize,
    ) {
        self.gemm_strided(m, kd, n, a, rsa, csa, b, rsb, 1, init, c, rsc)
    }

    /// [`Kernels::gemm`] with B read through any strides: `B(l, j) = b[l·rsb + j·csb]`
    /// (`rsb` = 1, `csb` = k reads a row-major `[n, k]` matrix transposed, as a linear
    /// layer's weight is). The same sums in the same order whatever the strides.
    ///
    /// A large product is split by blocks of C's rows over the current rayon pool when it
    /// has more than one thread (never across the summed index), so every element is the
    /// same sequence of operations for any thread count.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_strided(
        &self,
        m: usize,
        kd: usize,
        n: usize,
        a: &[f32],
        rsa: usize,
        csa: usize,
        b: &[f32],
        rsb: usize,
        csb: usize,
        init: Init,
        c: &mut [f32],
        rsc: usize,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        if kd > 0 {
            assert!((m - 1) * rsa + (kd - 1) * csa < a.len(), "gemm: A out of bounds");
            assert!((kd - 1) * rsb + (n - 1) * csb < b.len(), "gemm: B out of bounds");
        }
        assert!((m - 1) * rsc + n <= c.len() && n <= rsc, "gemm: C out of bounds");
        if let Init::Bias(bias) = init {
            assert!(bias.len() >= m, "gemm: bias too short");
        }
        count(self.path);
        let g = nn::Gemm { m, kd, n, a, rsa, csa, b, rsb, csb, rsc };
        self.gemm_split(g, init, c);
    }

    /// Runs a checked product, halving its rows over rayon while it is large.
    fn gemm_split(&self, g: nn::Gemm, init: Init, c: &mut [f32]) {
        let work = g.m as u64 * g.n as u64 * g.kd as u64;
        if work >= PAR_MIN_MACS && g.m >= 2 * PAR_MIN_ROWS && rayon::current_num_threads() > 1 {
            // the first half's rows a multiple of 32 (whole register tiles on every path)
            let half = (g.m / 2).div_ceil(32) * 32;
            if half < g.m {
                SPLITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (c0, c1) = c.split_at_mut(half * g.rsc);
                let top = nn::Gemm { m: half, ..g };
                let bottom = nn::Gemm { m: g.m - half, a: &g.a[half * g.rsa..], ..g };
                let bias1 = match init {
                    Init::Bias(b) => Init::Bias(&b[half..]),
                    other => other,
                };
                rayon::join(|| self.gemm_split(top, init, c0), || self.gemm_split(bottom, bias1, c1));
                return;
            }
        }
        // SAFETY: the table exists only for a supported path; `gemm_strided` checked every
        // bound, and a split keeps each half inside its own rows
        unsafe { (self.gemm)(&g, init, c) }
    }

    /// Stride-1 convolution of one padded sample (`cin`×hp×wp) into `y` (cout×oh×ow):
    /// `y[c][oy][ox] = bias[c] + Σ_t w[c][t]·padded[offs[t] + oy·wp + ox]`, taps in order.
    pub fn conv_forward(&self, g: &ConvGeom, padded: &[f32], wt: &[f32], bias: &[f32], y: &mut [f32]) {
        g.check();
        assert!(padded.len() >= g.cin * g.hp * g.wp && wt.len() >= g.cout * g.offs.len());
        assert!(bias.len() >= g.cout && y.len() >= g.cout * g.oh * g.ow);
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.conv_forward)(g, padded, wt, bias, y) }
    }

    /// Adds one sample's weight gradient into `dw` (cout × taps):
    /// `dw[c][t] += Σ dy[c][oy][ox]·padded[offs[t] + oy·wp + ox]` (16 partial sums per
    /// output row position, fixed tree).
    pub fn conv_weight_grad(&self, g: &ConvGeom, padded: &[f32], dy: &[f32], dw: &mut [f32]) {
        g.check();
        assert!(padded.len() >= g.cin * g.hp * g.wp && dy.len() >= g.cout * g.oh * g.ow);
        assert!(dw.len() >= g.cout * g.offs.len());
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.conv_weight_grad)(g, padded, dy, dw) }
    }

    /// Adds one sample's input gradient into `dpad` (cin × hp × wp, the padded layout):
    /// `dpad[ci][(oy+ky)·wp + ox+kx] += w[c][ci][ky][kx]·dy[c][oy][ox]`, terms in the order
    /// (c, ky, kx).
    pub fn conv_input_grad(&self, g: &ConvGeom, dy: &[f32], wt: &[f32], dpad: &mut [f32]) {
        g.check();
        assert!(dy.len() >= g.cout * g.oh * g.ow && wt.len() >= g.cout * g.offs.len());
        assert!(dpad.len() >= g.cin * g.hp * g.wp);
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.conv_input_grad)(g, dy, wt, dpad) }
    }

    /// 2×2 max-pooling (stride 2) of one h×w plane into `y`, with the index (`base` +
    /// position in the plane) of each window's maximum in `at`: the first maximum in
    /// row-major window order wins and NaN propagates, as in PyTorch. With `relu`, of the
    /// plane after a ReLU (`v > 0 ? v : 0`, applied on the fly).
    #[allow(clippy::too_many_arguments)]
    pub fn maxpool2(&self, x: &[f32], h: usize, w: usize, base: u32, relu: bool, y: &mut [f32], at: &mut [u32]) {
        let (oh, ow) = (h / 2, w / 2);
        assert!(x.len() >= h * w && y.len() >= oh * ow && at.len() >= oh * ow, "maxpool2: operand too short");
        assert!((base as usize).saturating_add(h * w) <= u32::MAX as usize, "maxpool2: index overflow");
        if oh == 0 || ow == 0 {
            return;
        }
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.maxpool2)(x, h, w, base, relu, y, at) }
    }

    /// `dst[idx[i]] = vals[i]` in the order of i (a later duplicate wins).
    pub fn scatter(&self, dst: &mut [f32], idx: &[u32], vals: &[f32]) {
        assert!(idx.len() == vals.len(), "scatter: one value per index");
        assert!(
            dst.len() < i32::MAX as usize && idx.iter().all(|&i| (i as usize) < dst.len()),
            "scatter: index out of bounds"
        );
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.scatter)(dst, idx, vals) }
    }

    /// The sum of `a` as 16 partial sums and the fixed tree.
    pub fn sum(&self, a: &[f32]) -> f32 {
        count(self.path);
        // SAFETY: as in `dots`
        unsafe { (self.sum)(a) }
    }

    /// The gradients of `sin-cos` (`squared` false) or `sin-cos-sq` (true) at the
    /// interleaved points `p` = [x₀, y₀, x₁, y₁, …], written into `g` (same layout).
    pub fn sin_cos_grad(&self, p: &[f64], g: &mut [f64], squared: bool) {
        count(self.path);
        // SAFETY: as in `dots` (the kernel indexes with bounds checks)
        unsafe { (self.sin_cos_grad)(p, g, squared) }
    }

    /// `sin[i], cos[i] = sin x[i], cos x[i]` (over the shortest of the three slices), by the
    /// kernels' own reduction and polynomial: within 2 ulp of libm, the same bits on every
    /// path (see `trig.rs`).
    pub fn sincos(&self, x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
        count(self.path);
        // SAFETY: as in `dots` (the kernel bounds every access by the slices' lengths)
        unsafe { (self.sincos)(x, sin, cos) }
    }

    /// The path's f32 throughput on one core in GFLOP/s, measured on a loop of independent
    /// fused multiply-adds and nothing else (the best of 5 runs of about 20 ms): the ceiling
    /// that no kernel of the path can pass.
    pub fn peak_gflops(&self) -> f64 {
        let iters = 1 << 20;
        let mut best = 0f64;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            // SAFETY: the table exists only for a supported path
            let (v, flops_per_iter) = unsafe { (self.fma_probe)(iters, std::hint::black_box(1.0)) };
            let secs = t.elapsed().as_secs_f64();
            std::hint::black_box(v);
            best = best.max((iters * flops_per_iter) as f64 / secs / 1e9);
        }
        best
    }
}

/// Defines one path's entry points: each instantiates the generic kernels with the path's
/// backend inside a function compiled for its instruction set.
macro_rules! entries {
    ($module:ident, $backend:ty, $make:expr, dots($dr:literal, $dj:literal), gemm($gr:literal, $gc:literal),
     conv($cg:literal), wgrad($wg:literal, $wt:literal), probe($pa:literal) $(, #[$attr:meta])?) => {
        #[allow(dead_code)]
        mod $module {
            use super::nn::{self, Gemm};
            use super::simd::*;
            use super::{trig, ConvGeom, Init};

            $(#[$attr])?
            pub(super) unsafe fn dots(x: &[f32], w: &[f32], n: usize, k: usize, o: usize, init: Init, y: &mut [f32]) {
                nn::dots::<$backend, $dr, $dj>($make, x, w, n, k, o, init, y)
            }
            $(#[$attr])?
            pub(super) unsafe fn gemm(g: &Gemm, init: Init, c: &mut [f32]) {
                nn::gemm::<$backend, $gr, $gc>($make, g, init, c)
            }
            $(#[$attr])?
            pub(super) unsafe fn conv_forward(g: &ConvGeom, padded: &[f32], wt: &[f32], bias: &[f32], y: &mut [f32]) {
                nn::conv_forward::<$backend, $cg>($make, g, padded, wt, bias, y)
            }
            $(#[$attr])?
            pub(super) unsafe fn conv_weight_grad(g: &ConvGeom, padded: &[f32], dy: &[f32], dw: &mut [f32]) {
                nn::conv_weight_grad::<$backend, $wg, $wt>($make, g, padded, dy, dw)
            }
            $(#[$attr])?
            pub(super) unsafe fn conv_input_grad(g: &ConvGeom, dy: &[f32], wt: &[f32], dpad: &mut [f32]) {
                nn::conv_input_grad::<$backend>($make, g, dy, wt, dpad)
            }
            $(#[$attr])?
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn maxpool2(x: &[f32], h: usize, w: usize, base: u32, relu: bool, y: &mut [f32], at: &mut [u32]) {
                nn::maxpool2(x, h, w, base, relu, y, at)
            }
            $(#[$attr])?
            pub(super) unsafe fn scatter(dst: &mut [f32], idx: &[u32], vals: &[f32]) {
                nn::scatter(dst, idx, vals)
            }
            $(#[$attr])?
            pub(super) unsafe fn sum(a: &[f32]) -> f32 {
                nn::sum::<$backend>($make, a)
            }
            $(#[$attr])?
            pub(super) unsafe fn sin_cos_grad(p: &[f64], g: &mut [f64], squared: bool) {
                trig::sin_cos_batch::<$backend>($make, p, g, squared)
            }
            $(#[$attr])?
            pub(super) unsafe fn sincos(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
                trig::sincos_slice::<$backend>($make, x, sin, cos)
            }
            $(#[$attr])?
            pub(super) unsafe fn fma_probe(iters: usize, x: f32) -> (f32, usize) {
                (nn::fma_probe::<$backend, $pa>($make, iters, x), $pa * 32)
            }
        }
    };
}

entries!(scalar, Scalar, Scalar, dots(2, 2), gemm(4, 1), conv(4), wgrad(3, 1), probe(8));
static SCALAR: Kernels = Kernels {
    path: Path::Scalar,
    dots: scalar::dots,
    gemm: scalar::gemm,
    conv_forward: scalar::conv_forward,
    conv_weight_grad: scalar::conv_weight_grad,
    conv_input_grad: scalar::conv_input_grad,
    maxpool2: scalar::maxpool2,
    scatter: scalar::scatter,
    sum: scalar::sum,
    sin_cos_grad: scalar::sin_cos_grad,
    sincos: scalar::sincos,
    fma_probe: scalar::fma_probe,
};

#[cfg(target_arch = "x86_64")]
entries!(avx2, Avx2, Avx2::new_unchecked(), dots(2, 2), gemm(6, 1), conv(3), wgrad(3, 1), probe(6), #[target_feature(enable = "avx2,fma")]);
#[cfg(target_arch = "x86_64")]
static AVX2: Kernels = Kernels {
    path: Path::Avx2,
    dots: avx2::dots,
    gemm: avx2::gemm,
    conv_forward: avx2::conv_forward,
    conv_weight_grad: avx2::conv_weight_grad,
    conv_input_grad: avx2::conv_input_grad,
    maxpool2: nn::avx2::maxpool2,
    scatter: avx2::scatter,
    sum: avx2::sum,
    sin_cos_grad: avx2::sin_cos_grad,
    sincos: avx2::sincos,
    fma_probe: avx2::fma_probe,
};

#[cfg(target_arch = "x86_64")]
entries!(avx512, Avx512, Avx512::new_unchecked(), dots(4, 4), gemm(8, 2), conv(4), wgrad(3, 9), probe(10), #[target_feature(enable = "avx512f,avx2,fma")]);
#[cfg(target_arch = "x86_64")]
static AVX512: Kernels = Kernels {
    path: Path::Avx512,
    dots: avx512::dots,
    gemm: avx512::gemm,
    conv_forward: avx512::conv_forward,
    conv_weight_grad: avx512::conv_weight_grad,
    conv_input_grad: avx512::conv_input_grad,
    maxpool2: nn::avx512::maxpool2,
    scatter: nn::avx512::scatter,
    sum: avx512::sum,
    sin_cos_grad: avx512::sin_cos_grad,
    sincos: avx512::sincos,
    fma_probe: avx512::fma_probe,
};

#[cfg(target_arch = "aarch64")]
entries!(neon, Neon, Neon::new_unchecked(), dots(2, 2), gemm(4, 1), conv(4), wgrad(3, 1), probe(6), #[target_feature(enable = "neon")]);
#[cfg(target_arch = "aarch64")]
static NEON: Kernels = Kernels {
    path: Path::Neon,
    dots: neon::dots,
    gemm: neon::gemm,
    conv_forward: neon::conv_forward,
    conv_weight_grad: neon::conv_weight_grad,
    conv_input_grad: neon::conv_input_grad,
    maxpool2: neon::maxpool2,
    scatter: neon::scatter,
    sum: neon::sum,
    sin_cos_grad: neon::sin_cos_grad,
    sincos: neon::sincos,
    fma_probe: neon::fma_probe,
};

/// Evaluates an expression compiled with the active path's instruction set (on x86-64:
/// AVX2 + FMA or AVX-512), so that the element-wise loops it inlines vectorise and their
/// `mul_add`s are FMA instructions; the results are the same on every path. Each path gets
/// its own closure, so that the compiler can inline the expression's callees into it.
#[macro_export]
macro_rules! fused {
    ($e:expr) => {
        match $crate::kernels::active() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the active path is one this CPU supports
            $crate::kernels::Path::Avx512 => unsafe { $crate::kernels::x86::with_avx512(|| $e) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above
            $crate::kernels::Path::Avx2 => unsafe { $crate::kernels::x86::with_avx2(|| $e) },
            _ => $e,
        }
    };
}

/// The entry points of [`fused!`](crate::fused).
#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub mod x86 {
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// # Safety
    /// The CPU must have AVX-512F, AVX2 and FMA.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
}
