//! Times the kernels on the seminar models' shapes, on every kernel path this CPU has: the
//! median of 5 runs of one epoch's worth of calls, in seconds per epoch and GFLOP/s beside
//! the path's peak. `cargo run --release --example kernels`
use optlab::kernels::{self, ConvGeom, Init, Kernels};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over 5 runs.
fn time(mut f: impl FnMut()) -> f64 {
    median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let steps = 1875; // one epoch of batch 32
    let images = 32 * steps;
    for path in kernels::supported() {
        let k: &Kernels = kernels::table(path).unwrap();
        let peak = k.peak_gflops();
        println!("{path} ({}), peak {peak:.1} GFLOP/s on one core", path.describe());
        let report = |what: &str, secs: f64, flop: f64| {
            let rate = flop / secs / 1e9;
            println!("  {what:<44} {secs:>7.3} s/epoch {rate:>6.1} GFLOP/s ({:>3.0}% of peak)", 100.0 * rate / peak);
        };
        // the MLP's first layer: 32 × 784 → 64, forward and weight gradient
        let (x, w, b) = (vec![0.5f32; 32 * 784], vec![0.25f32; 64 * 784], vec![0.1f32; 64]);
        let (mut y, mut gw) = (vec![0f32; 32 * 64], vec![0f32; 64 * 784]);
        let flop = 2.0 * 32.0 * 784.0 * 64.0 * steps as f64;
        report(
            "mlp linear 784→64 forward (dots)",
            time(|| {
                for _ in 0..steps {
                    k.dots(&x, &w, 32, 784, 64, Init::Bias(&b), &mut y)
                }
            }),
            flop,
        );
        report(
            "mlp linear 784→64 weight gradient (gemm)",
            time(|| {
                for _ in 0..steps {
                    k.gemm(64, 32, 784, &y, 1, 64, &x, 784, Init::Zero, &mut gw, 784)
                }
            }),
            flop,
        );
        // the CNN's convolution: 1 → 3 channels, 3×3, padding 1, 28×28
        let offs = ConvGeom::tap_offsets(1, 3, 30, 30);
        let g = ConvGeom { cin: 1, cout: 3, k: 3, hp: 30, wp: 30, oh: 28, ow: 28, offs: &offs };
        let padded: Vec<f32> = (0..900).map(|i| (i % 7) as f32 * 0.1).collect();
        let (wt, bias) = (vec![0.1f32; 27], vec![0f32; 3]);
        let (mut out, mut dw) = (vec![0f32; 3 * 784], vec![0f32; 27]);
        let flop = 2.0 * 27.0 * 784.0 * images as f64;
        report(
            "cnn conv forward",
            time(|| {
                for _ in 0..images {
                    k.conv_forward(&g, &padded, &wt, &bias, &mut out)
                }
            }),
            flop,
        );
        report(
            "cnn conv weight gradient",
            time(|| {
                for _ in 0..images {
                    k.conv_weight_grad(&g, &padded, &out, &mut dw)
                }
            }),
            flop,
        );
        let (mut py, mut at) = (vec![0f32; 196], vec![0u32; 196]);
        let secs = time(|| {
            for _ in 0..images {
                for c in 0..3 {
                    k.maxpool2(&out[c * 784..(c + 1) * 784], 28, 28, 0, true, &mut py, &mut at);
                }
            }
        });
        println!("  {:<44} {secs:>7.3} s/epoch", "cnn relu + 2×2 max-pool");
        // a basin map's gradients: sin-cos at 2 × 1024 points
        let p: Vec<f64> = (0..2048).map(|i| (i as f64 * 0.37).sin() * 9.0).collect();
        let mut gr = vec![0f64; 2048];
        let secs = time(|| {
            for _ in 0..500 {
                k.sin_cos_grad(&p, &mut gr, false)
            }
        });
        println!("  {:<44} {:>7.1} M points/s", "sin-cos gradients (batched)", 1024.0 * 500.0 / secs / 1e6);
        std::hint::black_box((&y, &gw, &out, &dw, &py, &gr));
    }
}
