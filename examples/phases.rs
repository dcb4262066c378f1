//! Where a training step's time goes (gather, forward, forward+backward, optimizer), per
//! model, as the minimum of 5 epochs' worth of steps on one cached batch.
//! `cargo run --release --example phases [model ...]`
use std::time::Instant;
fn main() {
    let data = optlab::data::embedded_mnist().unwrap();
    for name in std::env::args()
        .skip(1)
        .collect::<Vec<_>>()
        .iter()
        .map(|s| s.as_str())
        .chain(if std::env::args().len() > 1 { vec![] } else { vec!["mlp", "cnn"] })
    {
        let model = optlab::nn::build(name, optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
        let mut ws = model.workspace(32);
        let params = model.init(0);
        let mut grad = vec![0f32; model.n_params];
        let idx: Vec<usize> = (0..32).collect();
        let labels = &data.train.labels[..32];
        let reps = 1875;
        let best = |f: &mut dyn FnMut()| -> f64 {
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let g = best(&mut || {
            for _ in 0..reps {
                data.train.gather(&idx, data.mean, data.std, ws.input_mut(32));
            }
        });
        let f = best(&mut || {
            for _ in 0..reps {
                model.forward(&params, &mut ws, 32);
            }
        });
        let fb = best(&mut || {
            for _ in 0..reps {
                model.loss_and_grad(&params, &mut grad, &mut ws, labels);
            }
        });
        let mut opt = optlab::optim::OptimizerConfig::parse("sgd(lr=0.01)").unwrap().build::<f32>(&model.layout());
        let mut p = params.clone();
        let t = Instant::now();
        for _ in 0..reps {
            let mut obj = |_: &[f32], g: &mut [f32]| {
                g[0] = 0.0;
                0.0
            };
            opt.step(&mut p, &mut obj);
        }
        let o = t.elapsed().as_secs_f64();
        println!(
            "{name} per epoch: gather {g:.3} s, forward {f:.3} s, forward+backward {fb:.3} s, sgd update {o:.3} s"
        );
    }
}
