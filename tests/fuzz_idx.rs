//! Property-based fuzzing of the IDX reader and of datasets built from IDX files,
//! deterministic (fixed ChaCha seed), 10,000 cases each per run:
//! - `idx::parse` on generated headers and bodies: random magic bytes and dimension counts,
//!   dimensions from 0 to 2^32 − 1 (products that overflow), bodies exact, short, long or
//!   random, headers cut short, gzipped or corrupt gzip. Every parse ends in an array whose
//!   length is the product of its dimensions, or a one-line error that names the file,
//!   quickly and without allocating what a header announces.
//! - `data::from_bytes` on four generated files (image sizes from 0×0 to 12×12, empty splits,
//!   mismatched counts and sizes, bad labels, damaged files): a dataset that trains (the mlp,
//!   and the cnn where the images are large enough) with test metrics exactly when it has
//!   test images, or a one-line error that names a file.

use optlab::data::{self, idx};
use optlab::experiment::train::{self, RunSpec, RunStatus, TrainSettings};
use optlab::limits::Allow;
use optlab::nn;
use optlab::optim::OptimizerConfig;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed, TestRunner};
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// 10,000 cases from a fixed seed; `OPTLAB_FUZZ_SEED` (mixed into the seed) and
/// `OPTLAB_FUZZ_CASES` explore further by hand.
fn config(seed: u64) -> ProptestConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("OPTLAB_FUZZ_SEED").map_or(seed, |s| seed ^ s.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    ProptestConfig {
        cases: env("OPTLAB_FUZZ_CASES").map_or(10_000, |c| c.max(10_000) as u32),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

const QUICK: Duration = Duration::from_secs(5);

fn one_line(e: &str) {
    assert!(!e.is_empty() && !e.contains('\n') && e.chars().count() <= 400, "{e}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn header(magic: [u8; 3], dims: &[u32]) -> Vec<u8> {
    let mut v = vec![magic[0], magic[1], magic[2], dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

fn dim() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 0u32..6,
        4 => 1u32..40,
        1 => Just(28),
        1 => Just(60_000),
        1 => Just(1 << 16),
        1 => Just(u32::MAX),
        1 => any::<u32>(),
    ]
}

/// How the body relates to what the header announces.
#[derive(Clone, Copy, Debug)]
enum Body {
    Exact,
    Extra(u8),
    Short(u16),
    Random(u16),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        5 => Just(Body::Exact),
        1 => (1u8..4).prop_map(Body::Extra),
        2 => (1u16..300).prop_map(Body::Short),
        2 => (0u16..300).prop_map(Body::Random),
    ]
}

/// What a file is wrapped in.
#[derive(Clone, Copy, Debug)]
enum Wrap {
    Raw,
    Gzip,
    /// gzip, then cut or damaged at this position
    BadGzip(u16),
    /// the raw bytes cut at this position (inside the header, often)
    Cut(u16),
}

fn wrap() -> impl Strategy<Value = Wrap> {
    prop_oneof![
        12 => Just(Wrap::Raw),
        3 => Just(Wrap::Gzip),
        1 => any::<u16>().prop_map(Wrap::BadGzip),
        1 => (0u16..24).prop_map(Wrap::Cut),
    ]
}

fn make(magic: [u8; 3], dims: &[u32], body: Body, wrap: Wrap, fill: u8) -> Vec<u8> {
    let mut v = header(magic, dims);
    let total = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    // bodies stay small: a header may announce gigabytes, the file holds at most 64 kB
    let exact = total.filter(|&t| t <= 1 << 16).map(|t| t as usize);
    let len = match (body, exact) {
        (Body::Exact, Some(t)) => t,
        (Body::Extra(k), Some(t)) => t + k as usize,
        (Body::Short(k), Some(t)) => t.saturating_sub(k as usize),
        (Body::Random(k), _) => k as usize,
        // the header announces more than the file will hold
        (_, None) => 17,
    };
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(fill) % 10));
    match wrap {
        Wrap::Raw => v,
        Wrap::Gzip => gzip(&v),
        Wrap::BadGzip(at) => {
            let mut g = gzip(&v);
            let at = at as usize % g.len();
            if at.is_multiple_of(2) {
                g.truncate(at.max(2));
            } else {
                g[at] ^= 0x5a;
            }
            g
        }
        Wrap::Cut(at) => {
            v.truncate((at as usize).min(v.len()));
            v
        }
    }
}

fn magic() -> impl Strategy<Value = [u8; 3]> {
    prop_oneof![9 => Just([0, 0, 8]), 1 => any::<[u8; 3]>(), 1 => prop::sample::select(vec![[0, 0, 9], [0, 0, 0x0d], [0x1f, 0x8b, 8], [0, 1, 8]])]
}

fn idx_file() -> impl Strategy<Value = (Vec<u8>, usize)> {
    let want = prop::sample::select(vec![1usize, 3]);
    let dims = (want, prop::option::weighted(0.25, 0usize..6))
        .prop_flat_map(|(want, other)| (Just(want), prop::collection::vec(dim(), other.unwrap_or(want))));
    (magic(), dims, body(), wrap(), any::<u8>())
        .prop_map(|(m, (want, dims), b, w, fill)| (make(m, &dims, b, w, fill), want))
}

#[test]
fn fuzz_idx_files_end_in_an_array_or_a_one_line_error_naming_the_file() {
    let counts = Mutex::new([0usize; 2]);
    let mut runner = TestRunner::new(config(0x1d_f17e));
    runner
        .run(&idx_file(), |(file, want)| {
            let t = Instant::now();
            match idx::parse(&file, want, "fuzz.idx") {
                Ok(a) => {
                    assert_eq!(a.dims.len(), want);
                    assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
                    counts.lock().unwrap()[1] += 1;
                }
                Err(e) => {
                    let e = e.to_string();
                    one_line(&e);
                    assert!(e.starts_with("fuzz.idx: "), "{e}");
                    counts.lock().unwrap()[0] += 1;
                }
            }
            assert!(t.elapsed() < QUICK);
            Ok(())
        })
        .unwrap();
    let [errors, arrays] = *counts.lock().unwrap();
    eprintln!("errors {errors}, arrays {arrays}");
    assert!(errors + arrays >= 10_000 && errors >= 1_000 && arrays >= 1_000, "errors {errors}, arrays {arrays}");
}

/// One split's two files, close to valid: `n` images of `rows`×`cols` and `labels` labels.
#[derive(Clone, Debug)]
struct SplitGen {
    n: u32,
    rows: u32,
    cols: u32,
    labels: u32,
    bad_label: bool,
    damage: Option<(bool, Wrap, Body)>,
}

fn split_gen(max_n: u32) -> impl Strategy<Value = SplitGen> {
    (
        prop_oneof![1 => Just(0u32), 8 => 1..max_n],
        prop_oneof![1 => Just(0u32), 12 => 1u32..13],
        prop_oneof![1 => Just(0u32), 12 => 1u32..13],
        prop::option::weighted(0.08, 0u32..14),
        prop::bool::weighted(0.04),
        prop::option::weighted(0.08, (any::<bool>(), wrap(), body())),
    )
        .prop_map(|(n, rows, cols, labels, bad_label, damage)| SplitGen {
            n,
            rows,
            cols,
            labels: labels.unwrap_or(n),
            bad_label,
            damage,
        })
}

fn split_files(g: &SplitGen, fill: u8) -> [Vec<u8>; 2] {
    let (rows, cols) = (g.rows, g.cols);
    let mut images = make([0, 0, 8], &[g.n, rows, cols], Body::Exact, Wrap::Raw, fill);
    let labels_body: Vec<u8> = (0..g.labels)
        .map(|i| if g.bad_label && i + 1 == g.labels { 10 + fill % 200 } else { (i % 10) as u8 })
        .collect();
    let mut labels = header([0, 0, 8], &[g.labels]);
    labels.extend(labels_body);
    if let Some((which, w, b)) = g.damage {
        let target = if which { &mut images } else { &mut labels };
        let dims = if which { vec![g.n, rows, cols] } else { vec![g.labels] };
        *target = make([0, 0, 8], &dims, b, w, fill);
    }
    [images, labels]
}

#[test]
fn fuzz_datasets_train_or_fail_in_one_line_naming_a_file() {
    let strategy = (split_gen(12), split_gen(6), prop::bool::weighted(0.8), any::<u8>());
    let counts = Mutex::new([0usize; 3]);
    let stop = AtomicBool::new(false);
    let run = RunSpec { label: "sgd".into(), config: OptimizerConfig::parse("sgd(lr=0.1)").unwrap(), seed: 3 };
    let s = TrainSettings { epochs: 1, batch_size: 4, eval_chunk: 3, ..Default::default() };
    let mut runner = TestRunner::new(config(0xda7a_5e75));
    runner
        .run(&strategy, |(tr, mut te, same_size, fill)| {
            if same_size {
                (te.rows, te.cols) = (tr.rows, tr.cols);
            }
            let t = Instant::now();
            let [a, b] = split_files(&tr, fill);
            let [c, d] = split_files(&te, fill.wrapping_add(1));
            let names = ["tr-img", "tr-lab", "te-img", "te-lab"];
            let files = [(names[0], &a[..]), (names[1], &b[..]), (names[2], &c[..]), (names[3], &d[..])];
            match data::from_bytes("mnist", files, "fuzz") {
                Ok(data) => {
                    assert!(!data.train.is_empty());
                    let shape = data.input_shape();
                    assert!(shape.h >= 1 && shape.w >= 1);
                    let mut trained = false;
                    for spec in ["mlp", "cnn"] {
                        let model = match nn::build(spec, shape, Allow::DEFAULT) {
                            Ok(m) => m,
                            Err(e) => {
                                // only the cnn, on images too small for its 2×2 pool
                                let e = e.to_string();
                                one_line(&e);
                                assert!(spec == "cnn" && (shape.h < 2 || shape.w < 2), "{spec} on {shape:?}: {e}");
                                continue;
                            }
                        };
                        s.validate(&model, &data, 1, Allow::DEFAULT).unwrap();
                        let r = train::train_one(&model, &data, &run, 0, &s, &stop, &|_| {});
                        assert_eq!(r.status, RunStatus::Completed);
                        let e = &r.epochs[0];
                        assert!(e.train_loss.is_finite());
                        assert_eq!(e.test_loss.is_some(), !data.test.is_empty());
                        assert_eq!(e.test_accuracy.is_some(), !data.test.is_empty());
                        assert!(e.test_loss.is_none_or(f64::is_finite));
                        trained = true;
                    }
                    assert!(trained);
                    counts.lock().unwrap()[if data.test.is_empty() { 2 } else { 1 }] += 1;
                }
                Err(e) => {
                    let e = format!("{e:#}");
                    one_line(&e);
                    assert!(names.iter().any(|n| e.contains(n)), "{e}");
                    counts.lock().unwrap()[0] += 1;
                }
            }
            assert!(t.elapsed() < QUICK);
            Ok(())
        })
        .unwrap();
    let [errors, trained, no_test] = *counts.lock().unwrap();
    eprintln!("errors {errors}, trained {trained}, trained without a test set {no_test}");
    assert!(errors + trained + no_test >= 10_000);
    assert!(errors >= 1_000 && trained >= 1_000 && no_test >= 100, "{errors} {trained} {no_test}");
}

#[test]
fn a_header_announcing_gigabytes_over_a_tiny_gzip_body_is_an_error_not_an_allocation() {
    for dims in [[u32::MAX, u32::MAX, u32::MAX], [60_000, 28, 28], [1 << 16, 1 << 10, 1 << 10]] {
        let g = gzip(&[header([0, 0, 8], &dims), vec![0; 100]].concat());
        let t = Instant::now();
        let e = idx::parse(&g, 3, "big.gz").unwrap_err().to_string();
        assert!(e.starts_with("big.gz: ") && t.elapsed() < Duration::from_secs(1), "{e}");
    }
}
