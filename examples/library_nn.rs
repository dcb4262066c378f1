//! The README's network example: one Adam step of the seminar's CNN on 32 MNIST images.
//! `cargo run --release --example library_nn`
use optlab::optim::OptimizerConfig;

fn main() -> anyhow::Result<()> {
    let model = optlab::nn::build("cnn", optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT)?; // or a layer list
    let data = optlab::data::embedded_mnist()?;
    let mut params = model.init(0); // PyTorch's default initialisation
    let mut opt = OptimizerConfig::parse("adam")?.build::<f32>(&model.layout());
    let mut ws = model.workspace(32);
    let batch: Vec<usize> = (0..32).collect();
    data.train.gather(&batch, data.mean, data.std, ws.input_mut(32));
    let labels = &data.train.labels[..32];
    let loss = opt.step(&mut params, &mut |p: &[f32], g: &mut [f32]| model.loss_and_grad(p, g, &mut ws, labels));
    println!("loss before the step: {loss}");
    Ok(())
}
