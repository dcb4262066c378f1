//! End-to-end: `optlab train` and the data layer on small real data (the embedded MNIST
//! subset), plus checks on the full datasets when `../shared/datasets` is present.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn shared(sub: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets").join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: {} is not present (only developers' machines have ../shared)", p.display());
        None
    }
}

/// history.csv without the timing column, which is the only thing allowed to differ.
fn history_without_seconds(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect()
}

#[test]
fn train_on_the_embedded_subset_writes_every_record_and_figure() {
    let dir = tmp("basic");
    let o = optlab(&["train", "--model", "mlp", "--epochs", "2", "--limit", "640", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("embedded subset"), "{out}");
    for name in ["adam(lr=1e-3)", "adagrad(lr=0.01)", "adadelta(lr=1)", "sgd(lr=0.01)"] {
        assert!(out.contains(name), "table lacks {name}: {out}");
    }
    let hist = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(hist.lines().next(), Some("optimizer,seed,epoch,train_loss,test_loss,test_accuracy,lr,seconds"));
    assert_eq!(hist.lines().count(), 1 + 4 * 2);
    let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), 1 + 4 * 2 * 20);
    // every optimizer starts from the same weights on the same first batch: equal first losses
    let firsts: Vec<&str> =
        steps.lines().filter(|l| l.contains(",0,1,1,")).map(|l| l.rsplit(',').nth(1).unwrap()).collect();
    assert_eq!(firsts.len(), 4);
    assert!(firsts.iter().all(|l| *l == firsts[0]), "{firsts:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 4);
    assert_eq!(summary["train_samples"], 640);
    for r in summary["runs"].as_array().unwrap() {
        assert_eq!(r["status"]["status"], "completed");
        assert!(r["final_test_accuracy"].as_f64().unwrap() > 0.5, "{r}");
    }
    for stem in ["curves_grid", "curves"] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..4], b"\x89PNG");
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<text") && svg.trim_end().ends_with("</svg>"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_are_bit_identical_whatever_the_number_of_threads() {
    let (a, b) = (tmp("threads1"), tmp("threads2"));
    for (dir, threads) in [(&a, "1"), (&b, "2")] {
        let o = optlab(&[
            "train",
            "--model",
            "cnn",
            "--epochs",
            "2",
            "--limit",
            "320",
            "--seeds",
            "2",
            "--threads",
            threads,
            "-o",
            "adam",
            "sgd(lr=0.05, momentum=0.9)",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert_eq!(history_without_seconds(&a), history_without_seconds(&b));
    assert_eq!(std::fs::read(a.join("steps.csv")).unwrap(), std::fs::read(b.join("steps.csv")).unwrap());
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn a_diverging_run_is_stopped_and_reported_while_the_others_go_on() {
    let dir = tmp("diverge");
    let o = optlab(&[
        "train",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--limit",
        "320",
        "-o",
        "sgd(lr=1e9)",
        "adam",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("diverged"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"][0]["status"]["status"], "diverged");
    assert_eq!(summary["runs"][1]["status"]["status"], "completed");
    assert_eq!(summary["runs"][1]["epochs_completed"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_cleanly_keeps_completed_epochs_and_exits_143() {
    let dir = tmp("ctrlc");
    let mut child = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args([
            "train",
            "--model",
            "mlp",
            "--epochs",
            "500",
            "--limit",
            "2000",
            "-o",
            "adam",
            "--out",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen.push(l.clone());
        if l.contains("epoch 2/500") {
            break;
        }
    }
    // what `kill`, `timeout` and a Slurm time limit send; Ctrl-C (SIGINT) is handled alike
    let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "exit {status:?}; output: {seen:?} {rest:?}");
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");
    let hist = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let epochs = hist.lines().count() - 1;
    assert!((2..500).contains(&epochs), "{epochs} epochs recorded");
    assert!(dir.join("curves.png").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_training_input_exits_2_with_one_line() {
    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let bad = tmp("bad");
    std::fs::create_dir_all(&bad).unwrap();
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    {
        // a header that promises 60,000 images, on a file of 20 bytes
        std::fs::write(bad.join(f), [0u8, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3, 4]).unwrap();
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--model", "resnet"], "unknown model 'resnet'"),
        (vec!["train", "--model", "linear(64),softmax"], "unknown layer 'softmax'"),
        (vec!["train", "--model", "linear(5)"], "ends with 5 outputs"),
        (vec!["train", "-o", "adam(lr=-1)"], "invalid learning rate"),
        (
            vec!["train", "--dataset", "fashion-mnist", "--data-dir", empty.to_str().unwrap(), "--full"],
            "optlab data fetch fashion-mnist",
        ),
        (
            vec!["train", "--dataset", "mnist", "--data-dir", bad.to_str().unwrap(), "--full"],
            "truncated: the header says [60000, 28, 28]",
        ),
        (vec!["train", "--batch-size", "0"], "at least 1"),
    ];
    for (args, msg) in cases {
        let o = optlab(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&empty);
    let _ = std::fs::remove_dir_all(&bad);
}

#[test]
fn custom_layer_list_models_train() {
    let dir = tmp("custom");
    let o = optlab(&[
        "train",
        "--model",
        "conv(4,k=3,p=1),relu,maxpool(2),conv(4,k=3,s=2),tanh,linear(16),sigmoid,linear(10)",
        "--epochs",
        "1",
        "--limit",
        "256",
        "-o",
        "adam(lr=0.01)",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn full_mnist_and_fashion_mnist_load_with_their_known_checksums() {
    use optlab::data::{self, fetch, Want};
    for (name, train0) in
        [("mnist", [5u8, 0, 4, 1, 9, 2, 1, 3, 1, 4]), ("fashion-mnist", [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])]
    {
        let Some(dir) = shared(name) else { continue };
        let d = data::load(name, Some(&dir), Want::Full).unwrap();
        assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
        assert_eq!(&d.train.labels[..10], &train0);
        let sums = fetch::sums(name).unwrap();
        for (i, f) in data::FILES.iter().enumerate() {
            assert_eq!(fetch::sha256_of(&dir.join(format!("{f}.gz"))).unwrap(), sums[i], "{name} {f}");
        }
    }
}

#[test]
fn training_on_full_mnist_uses_all_60000_images() {
    let Some(dir) = shared("mnist") else { return };
    let out = tmp("full");
    let o = optlab(&[
        "train",
        "--model",
        "cnn",
        "--full",
        "--data-dir",
        dir.parent().unwrap().to_str().unwrap(),
        "--epochs",
        "1",
        "-o",
        "adam",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["train_samples"], 60_000);
    assert!(summary["runs"][0]["final_test_accuracy"].as_f64().unwrap() > 0.9);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn schedulers_step_per_batch_or_per_epoch_in_training_and_the_lr_is_recorded() {
    let dir = tmp("sched");
    let o = optlab(&[
        "train",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--limit",
        "640",
        "-o",
        "sgd(lr=0.1) | StepLR(step_size=10, gamma=0.5)",
        "adam | ExponentialLR(gamma=0.5, every=\"epoch\")",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_eq!(steps.lines().next(), Some("optimizer,seed,epoch,step,loss,lr"));
    let lr_of = |who: &str, step: usize| -> f64 {
        let row = steps
            .lines()
            .find(|l| l.starts_with(who) && l.split(',').rev().nth(2) == Some(&step.to_string()))
            .unwrap_or_else(|| panic!("no row for {who} step {step}"));
        row.rsplit(',').next().unwrap().parse().unwrap()
    };
    // per batch: 0.1 for steps 1..=10, halved from step 11, again from step 21
    assert_eq!(lr_of("\"sgd", 1), 0.1);
    assert_eq!(lr_of("\"sgd", 10), 0.1);
    assert_eq!(lr_of("\"sgd", 11), 0.05);
    assert_eq!(lr_of("\"sgd", 21), 0.025);
    // per epoch: 1e-3 through epoch 1 (20 steps of 32), halved for epoch 2
    assert_eq!(lr_of("\"adam", 20), 1e-3);
    assert_eq!(lr_of("\"adam", 21), 5e-4);
    let hist = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert!(hist.lines().any(|l| l.starts_with("\"adam") && l.contains(",2,") && l.contains(",0.00025,")), "{hist}");
    assert!(dir.join("lr.png").is_file() && dir.join("lr.svg").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGKILL cannot be handled: history.csv is written after every epoch, so a run killed
/// outright keeps every epoch it finished (complete rows, an atomic file) and no manifest
/// (the folder does not look like a complete run).
#[test]
fn a_run_killed_outright_keeps_its_finished_epochs() {
    let dir = tmp("sigkill");
    let mut child = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(["train", "--model", "mlp", "--epochs", "500", "--limit", "2000", "-o", "adam", "--out"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for l in lines {
        if l.unwrap().contains("epoch 3/500") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let hist = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let rows: Vec<&str> = hist.lines().collect();
    assert!(rows[0].starts_with("optimizer,seed,epoch,train_loss"), "{hist}");
    assert!((4..501).contains(&rows.len()), "{} epochs kept", rows.len() - 1);
    for (i, r) in rows[1..].iter().enumerate() {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!((f.len(), f[2]), (8, (i + 1).to_string().as_str()), "{r}");
    }
    assert!(!dir.join(".optlab-files").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
