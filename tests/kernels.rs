//! The run-time chosen kernels: every path this CPU has gives the same bits as the scalar
//! path, on shapes with tails; the scalar path agrees with plain f64 loops; the path a test
//! meant to run is the one that ran; networks train to the same bits on every path; the
//! command line names the path and refuses one the CPU lacks.
//!
//! `.ci/run` runs this file once per path the machine has, with `OPTLAB_KERNELS` set.

use optlab::kernels::{self, ConvGeom, Init, Kernels, Path};
use std::process::Command;

/// Values of many magnitudes and both signs (so that a different summation order would
/// show in the bits), from a fixed generator.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            let e = ((s >> 8) % 9) as i32 - 4;
            (2.0 * u - 1.0) * 2f32.powi(e)
        })
        .collect()
}

fn same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {i}: {x} vs {y}");
    }
}

fn close(got: &[f32], want: &[f64], scale: &[f64], what: &str) {
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tol = 1e-5 * s.max(1e-30);
        assert!((*g as f64 - w).abs() <= tol, "{what}: element {i}: {g} vs {w} (tolerance {tol})");
    }
}

fn scalar() -> &'static Kernels {
    kernels::table(Path::Scalar).expect("the scalar path runs everywhere")
}

/// Runs `f` on path `p`'s kernels and checks that they (and only they) ran.
fn on<R>(p: Path, k: &Kernels, f: impl FnOnce(&Kernels) -> R) -> R {
    let before = kernels::calls_on_this_thread(p);
    let r = f(k);
    assert!(kernels::calls_on_this_thread(p) > before, "the {p} kernels did not run");
    r
}

/// Every kernel of path `p` against the scalar path, bit for bit.
fn path_matches_scalar(p: Path) {
    let Some(k) = kernels::table(p) else {
        println!(
            "skipped: this CPU cannot run the {p} kernels ({}); it runs {:?}",
            p.describe(),
            kernels::supported().iter().map(|p| p.name()).collect::<Vec<_>>()
        );
        assert!(!p.supported());
        return;
    };
    assert_eq!(k.path(), p);
    let s = scalar();

    // dots: every tail of rows, outputs and the 16-lane chunks
    for (n, kk, o) in [(1, 1, 1), (3, 7, 2), (5, 16, 3), (8, 17, 5), (4, 33, 10), (7, 100, 9), (32, 784, 12)] {
        let x = values(n * kk, 1);
        let w = values(o * kk, 2);
        let bias = values(o, 3);
        for init in [Init::Zero, Init::Keep, Init::Bias(&bias)] {
            let start = values(n * o, 4);
            let (mut want, mut got) = (start.clone(), start);
            s.dots(&x, &w, n, kk, o, init, &mut want);
            on(p, k, |k| k.dots(&x, &w, n, kk, o, init, &mut got));
            same_bits(&got, &want, &format!("{p} dots {n}×{kk}×{o} {init:?}"));
        }
    }

    // gemm: row tails, column tails, transposed A, empty sums
    for (m, kd, nn) in [(1, 1, 1), (5, 3, 15), (7, 32, 16), (13, 0, 17), (6, 9, 33), (9, 32, 70), (64, 32, 100)] {
        for (rsa, csa) in [(kd, 1), (1, m)] {
            let a = values(m * kd.max(1), 5);
            let b = values(kd.max(1) * nn, 6);
            let bias = values(m, 7);
            for init in [Init::Zero, Init::Keep, Init::Bias(&bias)] {
                let start = values(m * nn, 8);
                let (mut want, mut got) = (start.clone(), start);
                s.gemm(m, kd, nn, &a, rsa, csa, &b, nn, init, &mut want, nn);
                on(p, k, |k| k.gemm(m, kd, nn, &a, rsa, csa, &b, nn, init, &mut got, nn));
                same_bits(&got, &want, &format!("{p} gemm {m}×{kd}×{nn} strides ({rsa}, {csa}) {init:?}"));
            }
        }
    }

    // the packed product: several row, column and k-blocks, tails of each, B read
    // row-major and transposed (csb ≠ 1)
    for (m, kd, nn) in [(100, 300, 40), (37, 260, 17), (130, 40, 65), (200, 600, 300)] {
        let a = values(m * kd, 13);
        let bias = values(m, 14);
        for (rsb, csb) in [(nn, 1), (1, kd)] {
            let b = values(kd * nn, 15);
            for init in [Init::Zero, Init::Keep, Init::Bias(&bias)] {
                let start = values(m * nn, 16);
                let (mut want, mut got) = (start.clone(), start);
                s.gemm_strided(m, kd, nn, &a, kd, 1, &b, rsb, csb, init, &mut want, nn);
                on(p, k, |k| k.gemm_strided(m, kd, nn, &a, kd, 1, &b, rsb, csb, init, &mut got, nn));
                same_bits(&got, &want, &format!("{p} packed gemm {m}×{kd}×{nn} B strides ({rsb}, {csb}) {init:?}"));
            }
        }
    }

    // the convolution kernels
    for c in conv_cases() {
        let (padded, wt, bias, dy) = conv_operands(&c);
        let g = c.geom();
        let (mut want, mut got) = (vec![0f32; c.cout * c.oh * c.ow], vec![1f32; c.cout * c.oh * c.ow]);
        s.conv_forward(&g, &padded, &wt, &bias, &mut want);
        on(p, k, |k| k.conv_forward(&g, &padded, &wt, &bias, &mut got));
        same_bits(&got, &want, &format!("{p} conv forward {c:?}"));

        let start = values(c.cout * g.offs.len(), 9);
        let (mut want, mut got) = (start.clone(), start);
        s.conv_weight_grad(&g, &padded, &dy, &mut want);
        on(p, k, |k| k.conv_weight_grad(&g, &padded, &dy, &mut got));
        same_bits(&got, &want, &format!("{p} conv weight gradient {c:?}"));

        let start = values(c.cin * c.hp * c.wp, 10);
        let (mut want, mut got) = (start.clone(), start);
        s.conv_input_grad(&g, &dy, &wt, &mut want);
        on(p, k, |k| k.conv_input_grad(&g, &dy, &wt, &mut got));
        same_bits(&got, &want, &format!("{p} conv input gradient {c:?}"));
    }

    // max-pool (ties, NaN, odd sizes) and the scatter of its backward pass
    for (h, w) in [(28, 28), (6, 40), (5, 7), (2, 2), (3, 33), (14, 14)] {
        let mut x: Vec<f32> = values(h * w, 11).iter().map(|v| (v * 4.0).round().max(0.0)).collect();
        x[w / 2] = f32::NAN;
        let n = (h / 2) * (w / 2);
        let (mut y0, mut a0, mut y1, mut a1) = (vec![0f32; n], vec![0u32; n], vec![0f32; n], vec![0u32; n]);
        for relu in [true, false] {
            // negative values, −0 and ties at zero after the ReLU
            let mut xr: Vec<f32> = x.iter().enumerate().map(|(i, &v)| if i % 3 == 0 { -v } else { v }).collect();
            xr[w] = -0.0;
            s.maxpool2(&xr, h, w, 7, relu, &mut y0, &mut a0);
            on(p, k, |k| k.maxpool2(&xr, h, w, 7, relu, &mut y1, &mut a1));
            same_bits(&y1, &y0, &format!("{p} maxpool {h}×{w} relu {relu}"));
            assert_eq!(a1, a0, "{p} maxpool {h}×{w} relu {relu}: positions");
        }
        s.maxpool2(&x, h, w, 7, false, &mut y0, &mut a0);
        let idx: Vec<u32> = a0.iter().map(|&i| i - 7).collect();
        let vals = values(n, 12);
        let (mut d0, mut d1) = (vec![0f32; h * w], vec![0f32; h * w]);
        s.scatter(&mut d0, &idx, &vals);
        on(p, k, |k| k.scatter(&mut d1, &idx, &vals));
        same_bits(&d1, &d0, &format!("{p} scatter {h}×{w}"));
    }

    for len in [0, 1, 15, 16, 17, 31, 784] {
        let a = values(len, 13);
        let want = s.sum(&a);
        let got = on(p, k, |k| k.sum(&a));
        assert_eq!(got.to_bits(), want.to_bits(), "{p} sum of {len}: {got} vs {want}");
    }
}

#[test]
fn avx512_kernels_give_the_scalar_bits_or_say_why_they_did_not_run() {
    path_matches_scalar(Path::Avx512);
}

#[test]
fn avx2_kernels_give_the_scalar_bits_or_say_why_they_did_not_run() {
    path_matches_scalar(Path::Avx2);
}

#[test]
fn neon_kernels_give_the_scalar_bits_or_say_why_they_did_not_run() {
    path_matches_scalar(Path::Neon);
}

#[test]
fn the_best_supported_path_is_found_and_at_least_scalar_runs() {
    let all = kernels::supported();
    assert_eq!(all.last(), Some(&Path::Scalar));
    assert_eq!(kernels::best(), all[0]);
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        assert_eq!(Path::Avx2.supported(), avx2);
        assert_eq!(Path::Avx512.supported(), avx2 && std::arch::is_x86_feature_detected!("avx512f"));
        assert!(!Path::Neon.supported());
    }
    #[cfg(target_arch = "aarch64")]
    assert!(Path::Neon.supported() && !Path::Avx2.supported());
    println!("this CPU runs {all:?}");
}

#[test]
fn the_active_path_is_the_one_optlab_kernels_asks_for() {
    match std::env::var(kernels::ENV) {
        Ok(v) if !v.trim().is_empty() && !v.eq_ignore_ascii_case("auto") => {
            let want = Path::parse(&v).unwrap_or_else(|| panic!("{}={v} is not a kernel path", kernels::ENV));
            assert!(want.supported(), "{}={v}: this CPU cannot run it", kernels::ENV);
            assert_eq!(kernels::active(), want);
        }
        _ => assert_eq!(kernels::active(), kernels::best()),
    }
    assert_eq!(kernels::kernels().path(), kernels::active());
    println!("active kernels: {}", kernels::active());
}

#[test]
fn choosing_a_path_the_cpu_lacks_or_an_unknown_one_is_an_error_that_names_the_choices() {
    assert_eq!(kernels::choose(None), Ok(kernels::best()));
    assert_eq!(kernels::choose(Some(" AUTO ")), Ok(kernels::best()));
    assert_eq!(kernels::choose(Some("scalar")), Ok(Path::Scalar));
    let e = kernels::choose(Some("sse9")).unwrap_err().to_string();
    assert!(e.contains("unknown") && e.contains("avx512") && e.contains("scalar"), "{e}");
    for p in Path::ALL.into_iter().filter(|p| !p.supported()) {
        let e = kernels::choose(Some(p.name())).unwrap_err().to_string();
        assert!(e.contains("cannot run") && e.contains(p.name()), "{e}");
    }
}

// ---- the scalar path against plain f64 loops (so the reference itself is right) ----

#[test]
fn dots_and_gemm_compute_the_products_they_promise() {
    let s = scalar();
    let (n, kk, o) = (5, 37, 7);
    let (x, w, bias) = (values(n * kk, 21), values(o * kk, 22), values(o, 23));
    let mut y = vec![0f32; n * o];
    s.dots(&x, &w, n, kk, o, Init::Bias(&bias), &mut y);
    let mut want = vec![0f64; n * o];
    let mut scale = vec![0f64; n * o];
    for i in 0..n {
        for j in 0..o {
            let terms = (0..kk).map(|l| x[i * kk + l] as f64 * w[j * kk + l] as f64);
            want[i * o + j] = terms.clone().sum::<f64>() + bias[j] as f64;
            scale[i * o + j] = terms.map(f64::abs).sum::<f64>() + (bias[j] as f64).abs();
        }
    }
    close(&y, &want, &scale, "dots");

    // C = bias + Aᵀ·B with A stored k×m (transposed access)
    let (m, kd, nn) = (6, 11, 21);
    let (a, b, bias) = (values(kd * m, 24), values(kd * nn, 25), values(m, 26));
    let mut c = vec![0f32; m * nn];
    s.gemm(m, kd, nn, &a, 1, m, &b, nn, Init::Bias(&bias), &mut c, nn);
    let (mut want, mut scale) = (vec![0f64; m * nn], vec![0f64; m * nn]);
    for i in 0..m {
        for j in 0..nn {
            let terms = (0..kd).map(|l| a[l * m + i] as f64 * b[l * nn + j] as f64);
            want[i * nn + j] = terms.clone().sum::<f64>() + bias[i] as f64;
            scale[i * nn + j] = terms.map(f64::abs).sum::<f64>() + (bias[i] as f64).abs();
        }
    }
    close(&c, &want, &scale, "gemm");
}

/// `init + Σ_l A(i, l)·B(l, j)` one fused multiply-add at a time in the order of l: the
/// exact operations `gemm` promises for each element.
#[allow(clippy::too_many_arguments)]
fn gemm_in_order(
    m: usize,
    kd: usize,
    nn: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    init: Init,
    c: &mut [f32],
) {
    for i in 0..m {
        for j in 0..nn {
            let mut acc = match init {
                Init::Zero => 0.0,
                Init::Keep => c[i * nn + j],
                Init::Bias(bias) => bias[i],
            };
            for l in 0..kd {
                acc = a[i * rsa + l * csa].mul_add(b[l * rsb + j * csb], acc);
            }
            c[i * nn + j] = acc;
        }
    }
}

#[test]
fn gemm_adds_each_elements_terms_in_the_order_of_the_sum_on_every_path() {
    // shapes that take the packed product with several k-blocks (kd > 256), row blocks
    // (m > 96) and column blocks (n > 256), and ones that stay direct; transposed A and B
    let cases = [(200, 600, 300), (97, 257, 33), (64, 32, 100), (5, 3, 15), (130, 520, 65)];
    for p in kernels::supported() {
        let k = kernels::table(p).expect("supported");
        for (m, kd, nn) in cases {
            let bias = values(m, 33);
            for (ra, rb) in [((kd, 1), (nn, 1)), ((1, m), (1, kd))] {
                let (a, b) = (values(m * kd, 31), values(kd * nn, 32));
                for init in [Init::Zero, Init::Keep, Init::Bias(&bias)] {
                    let start = values(m * nn, 34);
                    let (mut want, mut got) = (start.clone(), start);
                    gemm_in_order(m, kd, nn, &a, ra, &b, rb, init, &mut want);
                    on(p, k, |k| k.gemm_strided(m, kd, nn, &a, ra.0, ra.1, &b, rb.0, rb.1, init, &mut got, nn));
                    same_bits(&got, &want, &format!("{p} gemm {m}×{kd}×{nn} A {ra:?} B {rb:?} {init:?}"));
                }
            }
        }
    }
}

#[test]
fn a_product_split_over_two_threads_gives_the_bits_of_one_thread() {
    let (m, kd, nn) = (300, 200, 130);
    let (a, b, bias) = (values(m * kd, 41), values(kd * nn, 42), values(m, 43));
    let k = kernels::kernels();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut c = vec![0f32; m * nn];
        pool.install(|| k.gemm_strided(m, kd, nn, &a, kd, 1, &b, 1, kd, Init::Bias(&bias), &mut c, nn));
        c
    };
    let one = run(1);
    let before = kernels::parallel_splits();
    let two = run(2);
    assert!(kernels::parallel_splits() > before, "the product was not split over the two threads");
    same_bits(&two, &one, "gemm on 2 threads against 1");
}

#[derive(Clone, Copy, Debug)]
struct ConvCase {
    cin: usize,
    cout: usize,
    k: usize,
    hp: usize,
    wp: usize,
    oh: usize,
    ow: usize,
}

impl ConvCase {
    fn new(cin: usize, cout: usize, k: usize, h: usize, w: usize, pad: usize) -> ConvCase {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        ConvCase { cin, cout, k, hp, wp, oh: hp - k + 1, ow: wp - k + 1 }
    }
    fn offs(&self) -> Vec<usize> {
        ConvGeom::tap_offsets(self.cin, self.k, self.hp, self.wp)
    }
    fn geom(&self) -> ConvGeom<'static> {
        let offs: &'static [usize] = Box::leak(self.offs().into_boxed_slice());
        ConvGeom { cin: self.cin, cout: self.cout, k: self.k, hp: self.hp, wp: self.wp, oh: self.oh, ow: self.ow, offs }
    }
}

fn conv_cases() -> Vec<ConvCase> {
    vec![
        ConvCase::new(1, 3, 3, 28, 28, 1),
        ConvCase::new(2, 5, 3, 6, 19, 0),
        ConvCase::new(3, 4, 5, 9, 7, 2),
        ConvCase::new(1, 1, 1, 4, 33, 0),
        ConvCase::new(4, 7, 3, 5, 17, 1),
        ConvCase::new(2, 2, 4, 8, 8, 1),
    ]
}

/// A padded input with zero borders, weights, biases and an output gradient.
fn conv_operands(c: &ConvCase) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let padded = values(c.cin * c.hp * c.wp, 31);
    let taps = c.cin * c.k * c.k;
    (padded, values(c.cout * taps, 32), values(c.cout, 33), values(c.cout * c.oh * c.ow, 34))
}

#[test]
fn convolution_kernels_compute_the_sums_they_promise() {
    let s = scalar();
    for c in conv_cases() {
        let (padded, wt, bias, dy) = conv_operands(&c);
        let g = c.geom();
        let taps = c.cin * c.k * c.k;
        let at = |ci: usize, y: usize, x: usize| padded[(ci * c.hp + y) * c.wp + x] as f64;
        let wv = |co: usize, ci: usize, ky: usize, kx: usize| wt[((co * c.cin + ci) * c.k + ky) * c.k + kx] as f64;

        // forward: y[co][oy][ox] = bias + Σ w·x
        let mut y = vec![0f32; c.cout * c.oh * c.ow];
        s.conv_forward(&g, &padded, &wt, &bias, &mut y);
        let (mut want, mut scale) = (Vec::new(), Vec::new());
        for (co, &b) in bias.iter().enumerate() {
            for oy in 0..c.oh {
                for ox in 0..c.ow {
                    let (mut v, mut a) = (b as f64, (b as f64).abs());
                    for ci in 0..c.cin {
                        for ky in 0..c.k {
                            for kx in 0..c.k {
                                let t = wv(co, ci, ky, kx) * at(ci, oy + ky, ox + kx);
                                v += t;
                                a += t.abs();
                            }
                        }
                    }
                    want.push(v);
                    scale.push(a);
                }
            }
        }
        close(&y, &want, &scale, &format!("conv forward {c:?}"));

        // weight gradient, added to what is there
        let start = values(c.cout * taps, 35);
        let mut dw = start.clone();
        s.conv_weight_grad(&g, &padded, &dy, &mut dw);
        let (mut want, mut scale) = (Vec::new(), Vec::new());
        for co in 0..c.cout {
            for ci in 0..c.cin {
                for ky in 0..c.k {
                    for kx in 0..c.k {
                        let s0 = start[((co * c.cin + ci) * c.k + ky) * c.k + kx] as f64;
                        let (mut v, mut a) = (s0, s0.abs());
                        for oy in 0..c.oh {
                            for ox in 0..c.ow {
                                let t = dy[(co * c.oh + oy) * c.ow + ox] as f64 * at(ci, oy + ky, ox + kx);
                                v += t;
                                a += t.abs();
                            }
                        }
                        want.push(v);
                        scale.push(a);
                    }
                }
            }
        }
        close(&dw, &want, &scale, &format!("conv weight gradient {c:?}"));

        // input gradient (padded layout), added to what is there
        let start = values(c.cin * c.hp * c.wp, 36);
        let mut dpad = start.clone();
        s.conv_input_grad(&g, &dy, &wt, &mut dpad);
        let mut want: Vec<f64> = start.iter().map(|&v| v as f64).collect();
        let mut scale: Vec<f64> = want.iter().map(|v| v.abs()).collect();
        for co in 0..c.cout {
            for ci in 0..c.cin {
                for ky in 0..c.k {
                    for kx in 0..c.k {
                        for oy in 0..c.oh {
                            for ox in 0..c.ow {
                                let t = wv(co, ci, ky, kx) * dy[(co * c.oh + oy) * c.ow + ox] as f64;
                                let i = (ci * c.hp + oy + ky) * c.wp + ox + kx;
                                want[i] += t;
                                scale[i] += t.abs();
                            }
                        }
                    }
                }
            }
        }
        close(&dpad, &want, &scale, &format!("conv input gradient {c:?}"));
    }
}

#[test]
fn maxpool_takes_the_first_maximum_and_propagates_nan_like_pytorch() {
    let s = scalar();
    for (h, w) in [(28, 28), (6, 40), (5, 7), (2, 2)] {
        let mut x: Vec<f32> = (0..h * w).map(|i| ((i * 37 % 11) as f32 - 5.0).max(0.0)).collect();
        x[w + 1] = f32::NAN;
        let (oh, ow) = (h / 2, w / 2);
        let (mut y, mut at) = (vec![0f32; oh * ow], vec![0u32; oh * ow]);
        s.maxpool2(&x, h, w, 0, false, &mut y, &mut at);
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut best, mut arg) = (f32::NEG_INFINITY, 0usize);
                for ky in 0..2 {
                    for kx in 0..2 {
                        let i = (2 * oy + ky) * w + 2 * ox + kx;
                        if x[i] > best || x[i].is_nan() {
                            best = x[i];
                            arg = i;
                        }
                    }
                }
                let o = oy * ow + ox;
                assert_eq!(at[o] as usize, arg, "{h}×{w} at ({oy}, {ox})");
                assert!(y[o] == best || (y[o].is_nan() && best.is_nan()));
            }
        }
    }
}

#[test]
fn sum_adds_every_value() {
    let a = values(1001, 41);
    let want: f64 = a.iter().map(|&v| v as f64).sum();
    let scale: f64 = a.iter().map(|v| v.abs() as f64).sum();
    close(&[scalar().sum(&a)], &[want], &[scale], "sum");
}

// ---- whole networks ----

/// Trains `spec` for `steps` Adam steps of batch 32 on the embedded MNIST subset on path `p`,
/// returning the loss of every step and the final parameters.
fn train(spec: &str, p: Path, steps: usize) -> (Vec<f32>, Vec<f32>) {
    let data = optlab::data::embedded_mnist().unwrap();
    let model = optlab::nn::build(spec, optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
    let mut ws = model.workspace(32);
    ws.use_kernels(p).unwrap();
    assert_eq!(ws.kernel_path(), p);
    let mut params = model.init(7);
    let mut opt = optlab::optim::OptimizerConfig::parse("adam(lr=0.003)").unwrap().build::<f32>(&model.layout());
    let mut losses = Vec::new();
    let before = kernels::calls_on_this_thread(p);
    for step in 0..steps {
        let idx: Vec<usize> = (0..32).map(|i| (step * 32 + i * 7) % data.train.len()).collect();
        let labels: Vec<u8> = idx.iter().map(|&i| data.train.labels[i]).collect();
        data.train.gather(&idx, data.mean, data.std, ws.input_mut(32));
        let mut obj = |q: &[f32], g: &mut [f32]| model.loss_and_grad(q, g, &mut ws, &labels);
        losses.push(opt.step(&mut params, &mut obj));
    }
    assert!(kernels::calls_on_this_thread(p) > before, "the {p} kernels did not run");
    (losses, params)
}

#[test]
fn networks_train_to_the_same_bits_on_every_path_for_100_steps() {
    let specs = [
        "mlp",
        "cnn",
        // stride 2 (im2col), a second conv (input gradient), a 3×3 max-pool, tanh, sigmoid
        "conv(4,k=3,s=2,p=1),relu,conv(5,k=3,p=1),tanh,maxpool(3),flatten,linear(12),sigmoid,linear(10)",
    ];
    for spec in specs {
        let (want_losses, want_params) = train(spec, Path::Scalar, 100);
        assert!(
            want_losses[99] < want_losses[0],
            "{spec}: the loss should fall ({} → {})",
            want_losses[0],
            want_losses[99]
        );
        for p in Path::ALL.into_iter().filter(|&p| p != Path::Scalar) {
            if !p.supported() {
                println!("skipped {spec} on {p}: this CPU cannot run it");
                continue;
            }
            let (losses, params) = train(spec, p, 100);
            same_bits(&losses, &want_losses, &format!("{spec} on {p}: losses"));
            same_bits(&params, &want_params, &format!("{spec} on {p}: parameters after 100 steps"));
            println!("{spec} on {p}: 100 steps, same bits as scalar (loss {} → {})", losses[0], losses[99]);
        }
    }
}

// ---- the command line ----

fn optlab(env: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_optlab"));
    c.args(args);
    match env {
        Some(v) => c.env(kernels::ENV, v),
        None => c.env_remove(kernels::ENV),
    };
    c.output().expect("run optlab")
}

#[test]
fn the_command_line_names_the_path_and_refuses_one_the_cpu_lacks_with_exit_2() {
    let o = optlab(None, &["--version"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success() && out.contains(&format!("kernels: {}", kernels::best())), "{out}");
    for p in Path::ALL {
        let o = optlab(Some(p.name()), &["--version"]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        if p.supported() {
            assert!(o.status.success() && out.contains(&format!("kernels: {p}")), "{p}: {out} {err}");
        } else {
            assert_eq!(o.status.code(), Some(2), "{p}: {out} {err}");
            assert!(err.contains("cannot run") && err.lines().count() == 1, "{p}: {err}");
        }
    }
    let o = optlab(Some("fast"), &["list", "functions"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown kernel path"));
    // a hostile value is echoed shortened and escaped, on one line
    let hostile = format!("{}\u{1b}[31m\nrm -rf ~", "x".repeat(100_000));
    let o = optlab(Some(&hostile), &["list", "functions"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.len() < 400 && err.trim_end().lines().count() == 1 && !err.contains('\u{1b}'), "{err}");
    assert!(err.contains("unknown kernel path") && err.contains("characters in all"), "{err}");
}

#[test]
fn summary_json_names_the_path_that_ran() {
    let dir = std::env::temp_dir().join(format!("optlab-kernels-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = optlab(
        Some("scalar"),
        &["compare", "-f", "quadratic", "-o", "gd", "--steps", "5", "--out", dir.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["kernels"], "scalar");
    let _ = std::fs::remove_dir_all(&dir);
}
