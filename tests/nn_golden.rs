//! Fidelity of the networks: loss and gradient on the golden batch match PyTorch, and so do
//! the parameters after 3 steps of Adam, Adagrad, Adadelta and SGD(lr=0.01); gradients also
//! agree with finite differences on a tiny model. Golden values: `tests/data/nn/` (a copy of
//! `../shared/golden/nn/`, made by `make_nn_golden.py` with PyTorch 2.15, float32).

use optlab::data;
use optlab::nn;
use optlab::optim::OptimizerConfig;
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nn")
}

fn f32s(name: &str) -> Vec<f32> {
    let b = std::fs::read(dir().join(name)).unwrap();
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap()).unwrap()
}

/// The golden batch: the first 32 MNIST training images (the embedded subset starts with them).
fn batch(model: &nn::Model, ws: &mut nn::Workspace) -> Vec<u8> {
    let d = data::embedded_mnist().unwrap();
    let idx: Vec<usize> = (0..32).collect();
    d.train.gather(&idx, 0.1307, 0.3081, ws.input_mut(32));
    assert_eq!(model.input_len(), 784);
    let labels: Vec<u8> = d.train.labels[..32].to_vec();
    let m = manifest();
    let golden: Vec<u8> = m["labels"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(labels, golden);
    labels
}

/// max |a − b| relative to the largest |b| (1e-5 means agreement to about 5 digits of the
/// tensor's scale), plus the worst element-wise relative error among elements that are not tiny.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).abs()).fold(0.0, f64::max) / scale
}

#[test]
fn loss_and_gradient_on_the_golden_batch_match_pytorch() {
    let m = manifest();
    for name in ["mlp", "cnn"] {
        let g = &m["models"][name];
        let model = nn::build(name, optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
        assert_eq!(model.n_params as u64, g["n_params"].as_u64().unwrap(), "{name}");
        let shapes: Vec<Vec<usize>> = model.param_shapes.iter().map(|s| s.1.clone()).collect();
        let golden_shapes: Vec<Vec<usize>> = g["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect())
            .collect();
        assert_eq!(shapes, golden_shapes, "{name}: parameter layout");
        let params = f32s(g["init"].as_str().unwrap());
        let mut ws = model.workspace(32);
        let labels = batch(&model, &mut ws);
        let mut grad = vec![0f32; model.n_params];
        let loss = model.loss_and_grad(&params, &mut grad, &mut ws, &labels);
        let tl = g["loss"].as_f64().unwrap();
        let lerr = (loss as f64 - tl).abs() / tl;
        let gerr = rel_err(&grad, &f32s(g["grad"].as_str().unwrap()));
        println!("{name}: loss {loss} vs torch {tl} (rel {lerr:e}); gradient rel err {gerr:e}");
        assert!(lerr < 1e-5, "{name}: loss {loss} vs {tl}");
        assert!(gerr < 1e-5, "{name}: gradient differs by {gerr:e} of its scale");
    }
}

#[test]
fn parameters_after_three_steps_of_each_optimizer_match_pytorch() {
    let m = manifest();
    for name in ["mlp", "cnn"] {
        let g = &m["models"][name];
        let model = nn::build(name, optlab::nn::Shape::MNIST, optlab::limits::Allow::DEFAULT).unwrap();
        let init = f32s(g["init"].as_str().unwrap());
        let mut ws = model.workspace(32);
        let labels = batch(&model, &mut ws);
        for (oname, spec) in
            [("adam", "adam"), ("adagrad", "adagrad"), ("adadelta", "adadelta"), ("sgd", "sgd(lr=0.01)")]
        {
            let gold = &g["after_3_steps"][oname];
            let mut opt = OptimizerConfig::parse(spec).unwrap().build::<f32>(&model.layout());
            let mut p = init.clone();
            let mut losses = Vec::new();
            for _ in 0..3 {
                let mut obj = |params: &[f32], grad: &mut [f32]| model.loss_and_grad(params, grad, &mut ws, &labels);
                losses.push(opt.step(&mut p, &mut obj));
            }
            let want = f32s(gold["params"].as_str().unwrap());
            let err = rel_err(&p, &want);
            let tl: Vec<f64> =
                gold["losses_before_each_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            println!("{name} {oname}: params rel err {err:e}; losses {losses:?} vs torch {tl:?}");
            assert!(err < 1e-5, "{name} {oname}: parameters differ by {err:e} of their scale");
            for (a, b) in losses.iter().zip(&tl) {
                assert!((*a as f64 - b).abs() / b < 1e-5, "{name} {oname}: loss {a} vs {b}");
            }
        }
    }
}

#[test]
fn gradients_of_tiny_models_match_finite_differences() {
    // every layer kind (and both convolution paths, direct stride-1 and im2col, with and
    // without an input gradient, and both linear paths), small enough for central
    // differences in f32; the second model is smooth (no ReLU, no max-pool) because a step
    // of h can flip a max-pool window or cross a ReLU kink and spoil the difference quotient
    // (max-pool and ReLU are checked against PyTorch in the CNN test above)
    for spec in [
        "conv(2,k=3,p=1,s=1),tanh,maxpool(2),conv(2,k=2,s=2),sigmoid,flatten,linear(5),relu,linear(3)",
        "conv(2,k=3,p=1),tanh,conv(3,k=3,p=1),sigmoid,flatten,linear(20),tanh,linear(3)",
        // blocks: residual branches (nested too), LayerNorm with and without bias, GELU and a
        // linear layer without bias, whose input gradients add
        "linear(12),residual(layer_norm,linear(12),gelu),residual(residual(tanh,linear(12,bias=false)),layer_norm(bias=false)),linear(3)",
        // a conv and a (1×1, so smooth) max-pool inside a block: their backward adds into a
        // gradient that already holds the skip connection's (the pool's `fresh = false` path)
        "conv(2,k=3,p=1),tanh,residual(conv(2,k=3,p=1),sigmoid,maxpool(1)),flatten,linear(3)",
    ] {
        check_tiny_model(spec);
    }
}

fn check_tiny_model(spec: &str) {
    let (_, layers) = nn::spec::parse(spec).unwrap();
    let model =
        nn::Model::new("tiny", &layers, nn::Shape { c: 1, h: 8, w: 8 }, 3, optlab::limits::Allow::DEFAULT).unwrap();
    let params = model.init(7);
    let n = 4;
    let mut ws = model.workspace(n);
    let x: Vec<f32> = (0..n * 64).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    ws.input_mut(n).copy_from_slice(&x);
    let labels = [0u8, 2, 1, 2];
    let mut grad = vec![0f32; model.n_params];
    model.loss_and_grad(&params, &mut grad, &mut ws, &labels);
    let loss_at = |p: &[f32], ws: &mut nn::Workspace| {
        ws.input_mut(n).copy_from_slice(&x);
        model.evaluate(p, ws, &labels).0 / n as f64
    };
    let mut worst = 0f64;
    for i in 0..model.n_params {
        let h = 1e-2f32;
        let mut p = params.clone();
        p[i] += h;
        let up = loss_at(&p, &mut ws);
        p[i] -= 2.0 * h;
        let down = loss_at(&p, &mut ws);
        let fd = (up - down) / (2.0 * h as f64);
        let err = (fd - grad[i] as f64).abs() / (1e-2 + fd.abs());
        worst = worst.max(err);
        assert!(err < 2e-2, "{spec}: parameter {i}: analytic {} vs finite difference {fd}", grad[i]);
    }
    println!("{spec}: worst relative gradient error {worst:e} over {} parameters", model.n_params);
}
