//! IDX datasets of other image sizes: they load and train with every model that can take
//! them (the model follows the data's shape), and what cannot work is a one-line error that
//! names the file. Empty test sets mean no test metrics; empty training sets, 0 epochs,
//! `--limit 0` and runs that need too much memory are errors before any work.

use optlab::data::{self, Dataset};
use optlab::experiment::train::{self, RunSpec, RunStatus, TrainSettings};
use optlab::limits::Allow;
use optlab::nn;
use optlab::optim::OptimizerConfig;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-data-shapes-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Images whose pixels depend on their label (so a model can learn something).
fn images(n: usize, rows: usize, cols: usize) -> (Vec<u8>, Vec<u8>) {
    let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
    let mut px = Vec::with_capacity(n * rows * cols);
    for &l in &labels {
        for p in 0..rows * cols {
            px.push(((p * 31 + l as usize * 53) % 256) as u8);
        }
    }
    (px, labels)
}

/// Writes the four files of a dataset: `train` and `test` are (images, rows, cols).
fn write(dir: &Path, train: (usize, usize, usize), test: (usize, usize, usize)) {
    for ((n, r, c), [img, lab]) in [
        (train, ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]),
        (test, ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    ] {
        let (px, labels) = images(n, r, c);
        std::fs::write(dir.join(img), idx(&[n as u32, r as u32, c as u32], &px)).unwrap();
        std::fs::write(dir.join(lab), idx(&[n as u32], &labels)).unwrap();
    }
}

fn load(dir: &Path) -> anyhow::Result<Dataset> {
    data::load_dir("mnist", dir)
}

fn err(dir: &Path) -> String {
    let e = format!("{:#}", load(dir).unwrap_err());
    assert!(!e.contains('\n'), "{e}");
    e
}

fn runs() -> Vec<RunSpec> {
    ["sgd(lr=0.05)", "adam"]
        .iter()
        .map(|s| RunSpec { label: s.to_string(), config: OptimizerConfig::parse(s).unwrap(), seed: 1 })
        .collect()
}

fn settings() -> TrainSettings {
    TrainSettings { epochs: 2, batch_size: 8, eval_chunk: 16, ..Default::default() }
}

fn train(model: &nn::Model, data: &Dataset, s: &TrainSettings) -> Vec<train::RunResult> {
    let runs = runs();
    s.validate(model, data, runs.len(), Allow::DEFAULT).unwrap();
    train::train(model, data, &runs, s, &AtomicBool::new(false), &|_| {})
}

#[test]
fn images_of_other_sizes_load_and_train_with_every_model_that_can_take_them() {
    let models = ["mlp", "mlp-relu", "cnn", "conv(4,k=3,s=2,p=1),tanh,maxpool(2),flatten,linear(10)"];
    for (side_h, side_w) in [(40, 40), (14, 14), (1, 1), (5, 9), (28, 28)] {
        let dir = temp_dir(&format!("{side_h}x{side_w}"));
        write(&dir, (40, side_h, side_w), (20, side_h, side_w));
        let d = load(&dir).unwrap();
        assert_eq!(d.input_shape(), nn::Shape { c: 1, h: side_h, w: side_w });
        for m in models {
            match nn::build(m, d.input_shape(), Allow::DEFAULT) {
                Ok(model) => {
                    assert_eq!(model.input_len(), side_h * side_w);
                    for r in train(&model, &d, &settings()) {
                        assert_eq!(r.status, RunStatus::Completed, "{m} on {side_h}×{side_w}");
                        assert_eq!(r.epochs.len(), 2);
                        for e in &r.epochs {
                            assert!(e.train_loss.is_finite());
                            assert!(e.test_loss.is_some_and(f64::is_finite), "{m} on {side_h}×{side_w}");
                            assert!(e.test_accuracy.is_some_and(|a| (0.0..=1.0).contains(&a)));
                        }
                    }
                }
                Err(e) => {
                    // only models that cannot take such small images are refused, naming the layer
                    let e = e.to_string();
                    assert!(side_h < 4 || side_w < 4, "{m} on {side_h}×{side_w}: {e}");
                    assert!(e.starts_with("layer ") && e.contains("smaller than"), "{e}");
                }
            }
        }
    }
}

#[test]
fn the_cnn_on_40x40_images_has_a_linear_layer_of_1200_inputs() {
    let dir = temp_dir("cnn40");
    write(&dir, (10, 40, 40), (10, 40, 40));
    let d = load(&dir).unwrap();
    let m = nn::build("cnn", d.input_shape(), Allow::DEFAULT).unwrap();
    assert_eq!(m.param_shapes[2], ("3.linear.weight".to_string(), vec![10, 1200]));
    // a model built for 28×28 is refused for this data before any work
    let m28 = nn::build("cnn", nn::Shape::MNIST, Allow::DEFAULT).unwrap();
    let e = settings().validate(&m28, &d, 1, Allow::DEFAULT).unwrap_err();
    assert!(e.contains("1×28×28") && e.contains("40×40") && e.contains("train-images-idx3-ubyte"), "{e}");
}

#[test]
fn an_empty_test_set_means_no_test_metrics_not_nan() {
    let dir = temp_dir("notest");
    write(&dir, (30, 6, 6), (0, 6, 6));
    let d = load(&dir).unwrap();
    assert!(d.test.is_empty());
    let m = nn::build("mlp", d.input_shape(), Allow::DEFAULT).unwrap();
    for r in train(&m, &d, &settings()) {
        assert_eq!(r.status, RunStatus::Completed);
        for e in &r.epochs {
            assert!(e.train_loss.is_finite());
            assert_eq!((e.test_loss, e.test_accuracy), (None, None));
        }
    }
    // the image size of an empty test file does not matter
    let dir = temp_dir("notest-other-size");
    write(&dir, (30, 6, 6), (0, 0, 0));
    assert_eq!(load(&dir).unwrap().input_shape(), nn::Shape { c: 1, h: 6, w: 6 });
    // nor does a test limit of 0
    let d = load(&temp_dir_with("limit-test", (30, 6, 6), (10, 6, 6))).unwrap();
    let s = TrainSettings { limit_test: Some(0), ..settings() };
    for r in train(&m, &d, &s) {
        assert!(r.epochs.iter().all(|e| e.test_loss.is_none() && e.test_accuracy.is_none()));
    }
}

fn temp_dir_with(tag: &str, train: (usize, usize, usize), test: (usize, usize, usize)) -> PathBuf {
    let dir = temp_dir(tag);
    write(&dir, train, test);
    dir
}

#[test]
fn an_empty_training_set_is_an_error_naming_the_file() {
    let e = err(&temp_dir_with("notrain", (0, 28, 28), (10, 28, 28)));
    assert!(e.contains("train-images-idx3-ubyte: the training set holds no images"), "{e}");
}

#[test]
fn mismatched_counts_and_sizes_are_errors_naming_the_files() {
    let dir = temp_dir_with("counts", (10, 8, 8), (10, 8, 8));
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[9], &[1; 9])).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("train-images-idx3-ubyte holds 10 images but")
            && e.contains("train-labels-idx1-ubyte holds 9 labels"),
        "{e}"
    );

    let e = err(&temp_dir_with("sizes", (10, 8, 8), (10, 8, 9)));
    assert!(
        e.contains("t10k-images-idx3-ubyte: the test images are 8×9 pixels but the training images")
            && e.contains("are 8×8"),
        "{e}"
    );

    let e = err(&temp_dir_with("zero-side", (10, 0, 28), (10, 0, 28)));
    assert!(e.contains("train-images-idx3-ubyte: images of 0×28 pixels"), "{e}");

    let dir = temp_dir_with("labels", (10, 4, 4), (10, 4, 4));
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 12])).unwrap();
    let e = err(&dir);
    assert!(e.contains("t10k-labels-idx1-ubyte: label 12 at index 9 is out of range"), "{e}");
}

#[test]
fn truncated_and_overflowing_headers_are_errors_naming_the_file() {
    let dir = temp_dir_with("truncated", (10, 8, 8), (10, 8, 8));
    let f = dir.join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 5]).unwrap();
    let e = err(&dir);
    assert!(e.contains("train-images-idx3-ubyte: truncated"), "{e}");

    std::fs::write(&f, idx(&[u32::MAX, u32::MAX, u32::MAX], &[0; 64])).unwrap();
    let e = err(&dir);
    assert!(e.contains("train-images-idx3-ubyte: header announces") && e.contains("more than 2^64"), "{e}");

    std::fs::write(&f, idx(&[1 << 20, 1 << 10, 1 << 10], &[0; 64])).unwrap();
    let e = err(&dir);
    assert!(e.contains("more than optlab accepts"), "{e}");

    std::fs::write(&f, &bytes[..10]).unwrap();
    assert!(err(&dir).contains("truncated inside the header"));
}

#[test]
fn zero_epochs_zero_batch_and_limit_0_are_errors_before_any_work() {
    let d = load(&temp_dir_with("validate", (50, 8, 8), (10, 8, 8))).unwrap();
    let m = nn::build("mlp", d.input_shape(), Allow::DEFAULT).unwrap();
    let v = |s: TrainSettings| s.validate(&m, &d, 2, Allow::DEFAULT);
    assert!(v(settings()).is_ok());
    assert!(v(TrainSettings { epochs: 0, ..settings() }).unwrap_err().contains("--epochs 0: need at least 1"));
    assert!(v(TrainSettings { batch_size: 0, ..settings() }).unwrap_err().contains("--batch-size 0: need at least 1"));
    let e = v(TrainSettings { batch_size: 1 << 20, ..settings() }).unwrap_err();
    assert!(e.contains("--batch-size 1,048,576: the limit is 65,536"), "{e}");
    let e = v(TrainSettings { epochs: 20_000, ..settings() }).unwrap_err();
    assert!(e.contains("--epochs 20,000") && e.contains("--allow-large"), "{e}");
    assert!(v(TrainSettings { limit_train: Some(0), ..settings() }).unwrap_err().contains("--limit 0"));
    assert!(v(TrainSettings { eval_chunk: 0, ..settings() }).is_err());
    assert!(settings().validate(&m, &d, 0, Allow::DEFAULT).is_err());
}

#[test]
fn runs_that_would_need_too_much_memory_are_refused_before_any_work() {
    let d = load(&temp_dir_with("memory", (60, 8, 8), (10, 8, 8))).unwrap();
    // a wide layer with a big batch: the activations
    let m = nn::build("linear(65536),relu,linear(10)", d.input_shape(), Allow::DEFAULT).unwrap();
    let s = TrainSettings { batch_size: 65_536, ..settings() };
    let e = s.validate(&m, &d, 1, Allow::DEFAULT).unwrap_err();
    assert!(e.contains("needs") && e.contains("the limit is 4.0 GB; add --allow-large"), "{e}");
    // a small model, but a million epochs of step records for 10,000 runs
    let m = nn::build("mlp", d.input_shape(), Allow::DEFAULT).unwrap();
    let s = TrainSettings { epochs: 1_000_000, batch_size: 1, ..settings() };
    let e = s.validate(&m, &d, 10_000, Allow::LARGE).unwrap_err();
    assert!(e.contains("training (10000 runs × 1000000 epochs, batch 1) needs"), "{e}");
    assert!(s.bytes_needed(&m, &d, 10_000, 2).unwrap() > 64 << 30);
}
