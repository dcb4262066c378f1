use optlab::nn::{Gpt, GptConfig};
fn main() {
    let g = Gpt::new(GptConfig::default_for(65), optlab::limits::Allow::DEFAULT).unwrap();
    let p = g.init(1);
    let k = optlab::kernels::kernels();
    let mut w = g.work(12);
    let x: Vec<u32> = (0..768).map(|i| (i * 7 % 65) as u32).collect();
    let y: Vec<u32> = (0..768).map(|i| (i * 11 % 65) as u32).collect();
    let mut grad = vec![0f32; g.n_params];
    for _ in 0..2 {
        g.loss_and_grad(k, &p, &mut grad, &x, &y, 64, &mut w);
    }
    let t = std::time::Instant::now();
    for _ in 0..10 {
        g.loss_and_grad(k, &p, &mut grad, &x, &y, 64, &mut w);
    }
    let s = t.elapsed().as_secs_f64() / 10.0;
    let t2 = std::time::Instant::now();
    for _ in 0..10 {
        g.forward(k, &p, &x, 64, &mut w);
    }
    let f = t2.elapsed().as_secs_f64() / 10.0;
    println!(
        "step {:.1} ms, forward {:.1} ms, {:.2} GFLOP/step, {:.1} GFLOP/s",
        s * 1e3,
        f * 1e3,
        g.step_flops(12) as f64 / 1e9,
        g.step_flops(12) as f64 / s / 1e9
    );
}
