//! Times the GPT's training step and forward pass (default model, batch 12×64): the best
//! and the median of N runs (`cargo run --release --example gpt_time -- N`, default 10),
//! on the current rayon pool (`RAYON_NUM_THREADS=1` for one thread).
use optlab::nn::{Gpt, GptConfig};
fn main() {
    // run on a worker of the pool, so that the parallel parts run on this same thread
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
    pool.install(run);
}

fn run() {
    let reps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let g = Gpt::new(GptConfig::default_for(65), optlab::limits::Allow::DEFAULT).unwrap();
    let p = g.init(1);
    let k = optlab::kernels::kernels();
    let mut w = g.work(12);
    let x: Vec<u32> = (0..768).map(|i| (i * 7 % 65) as u32).collect();
    let y: Vec<u32> = (0..768).map(|i| (i * 11 % 65) as u32).collect();
    let mut grad = vec![0f32; g.n_params];
    let mut loss = 0.0;
    for _ in 0..2 {
        loss = g.loss_and_grad(k, &p, &mut grad, &x, &y, 64, &mut w);
    }
    // a fingerprint of the bits of the loss and the gradient, to compare builds
    let fnv = grad.iter().fold(0xcbf2_9ce4_8422_2325u64 ^ loss.to_bits() as u64, |h, v| {
        (h ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01b3)
    });
    println!("loss {loss} (bits {:08x}), gradient fingerprint {fnv:016x}", loss.to_bits());
    // with one thread, the time this thread ran (Linux's schedstat), which a busy machine
    // does not inflate; else the wall time
    let cpu_ns = || -> Option<f64> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        s.split_whitespace().next()?.parse().ok()
    };
    let one = rayon::current_num_threads() == 1 && cpu_ns().is_some();
    let time = |f: &mut dyn FnMut()| {
        let mut v: Vec<f64> = (0..reps)
            .map(|_| {
                let (t, c) = (std::time::Instant::now(), cpu_ns());
                f();
                match (one, c, cpu_ns()) {
                    (true, Some(a), Some(b)) => (b - a) / 1e6,
                    _ => t.elapsed().as_secs_f64() * 1e3,
                }
            })
            .collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (s_min, s_med) = time(&mut || {
        g.loss_and_grad(k, &p, &mut grad, &x, &y, 64, &mut w);
    });
    if std::env::var_os("GPT_TIME_STEPS_ONLY").is_some() {
        return;
    }
    let (f_min, f_med) = time(&mut || g.forward(k, &p, &x, 64, &mut w));
    let gf = g.step_flops(12) as f64 / 1e9;
    println!(
        "{} kernels, {} threads ({}): step {s_min:.1} ms best / {s_med:.1} median, forward {f_min:.1} / {f_med:.1}; {gf:.2} GFLOP/step, {:.1} GFLOP/s at best",
        k.path(),
        rayon::current_num_threads(),
        if one { "thread CPU time" } else { "wall time" },
        gf / s_min * 1e3
    );
}
