//! The landscape atlas: basin maps, learning-rate sweeps and animations.

use optlab::experiment::map::{map, summarize, MapOptions, Outcome};
use optlab::objective;
use optlab::optim::OptimizerConfig;
use std::process::Command;

fn cfg(s: &str) -> (String, OptimizerConfig) {
    (s.to_string(), OptimizerConfig::parse(s).unwrap())
}

#[test]
fn himmelblau_basins_are_its_four_minima_and_each_start_goes_to_its_own() {
    let f = objective::builtin("himmelblau").unwrap().function();
    let maps = map(
        &f,
        &[cfg("gd(lr=0.005)")],
        &MapOptions { grid: 24, steps: 2000, domain: f.domain, shape: Default::default() },
    );
    let m = &maps[0];
    assert_eq!(m.minima.len(), 4, "{:?}", m.minima);
    for known in f.minima() {
        assert!(m.minima.iter().any(|q| (q[0] - known[0]).hypot(q[1] - known[1]) < 1e-3), "{known:?} not found");
    }
    // a start right next to a minimum ends in that minimum's basin
    for (row, col) in [(0usize, 23usize), (23, 0), (23, 23), (0, 0)] {
        let s = optlab::experiment::map::cell_start(f.domain, 24, row, col);
        match m.cells[row * 24 + col] {
            Outcome::Basin { minimum, .. } => {
                let q = m.minima[minimum as usize];
                let nearest = f.basin_minimum(s).unwrap();
                assert!(
                    (q[0] - nearest[0]).hypot(q[1] - nearest[1]) < 1e-3,
                    "start {s:?}: map says {q:?}, descent says {nearest:?}"
                );
            }
            other => panic!("start {s:?}: {other:?}"),
        }
    }
    let s = summarize(m);
    assert!((s.basin_shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(s.basin_shares.iter().all(|&v| v > 0.1), "{:?}", s.basin_shares);
}

#[test]
fn diverging_and_stalling_starts_are_classified_as_such() {
    let f = objective::builtin("quadratic").unwrap().function();
    let o = MapOptions { grid: 8, steps: 50, domain: f.domain, shape: Default::default() };
    // lr 1.5 on x²+y²: |1 − 2·1.5| = 2 > 1 — every start diverges (the centre start is not exactly 0)
    let div = &map(&f, &[cfg("gd(lr=1.5)")], &o)[0];
    assert!(div.cells.iter().all(|c| matches!(c, Outcome::Diverged { .. })), "{:?}", div.cells);
    // lr 1e-5: 50 steps barely move — nothing converges
    let stall = &map(&f, &[cfg("gd(lr=1e-5)")], &o)[0];
    assert!(stall.cells.iter().all(|c| *c == Outcome::Stalled));
    assert_eq!(summarize(stall).stalled_share, 1.0);
    // lr 0.25: every start converges to (0, 0)
    let ok = &map(&f, &[cfg("gd(lr=0.25)")], &o)[0];
    assert!(ok.cells.iter().all(|c| matches!(c, Outcome::Basin { minimum: 0, .. })));
}

#[test]
fn maps_do_not_depend_on_the_thread_count() {
    let f = objective::builtin("rastrigin").unwrap().function();
    let o = MapOptions { grid: 16, steps: 200, domain: f.domain, shape: Default::default() };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| map(&f, &[cfg("adam(lr=0.05)")], &o));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| map(&f, &[cfg("adam(lr=0.05)")], &o));
    assert_eq!(one[0].cells, two[0].cells);
    assert_eq!(one[0].minima, two[0].minima);
}

fn optlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().unwrap()
}

#[test]
fn map_sweep_and_animate_commands_write_their_files() {
    let dir = std::env::temp_dir().join(format!("optlab-atlas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = |s: &str| dir.join(s).to_str().unwrap().to_string();
    for (f, opts) in
        [("himmelblau", vec!["gd(lr=0.01)", "adam(lr=0.1)"]), ("sin-cos", vec!["gd(lr=0.1)", "nag(lr=0.05)"])]
    {
        let mut args = vec!["map", "--function", f, "--grid", "32", "--steps", "300", "--out"];
        let out = d(&format!("map-{f}"));
        args.push(&out);
        args.push("--optimizer");
        args.extend(opts.iter());
        let o = optlab(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = std::fs::read_to_string(dir.join(format!("map-{f}/map.csv"))).unwrap();
        assert!(csv.starts_with("optimizer,outcome,minimum_x,minimum_y,share,median_steps\n"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("map-{f}/map.json"))).unwrap()).unwrap();
        assert_eq!(json["optimizers"].as_array().unwrap().len(), 2);
        for stem in ["panel", "map-1-gd_lr_0_01_", "map-2-adam_lr_0_1_"].iter().filter(|_| f == "himmelblau") {
            assert!(dir.join(format!("map-{f}/{stem}.png")).is_file(), "{stem}");
            assert!(dir.join(format!("map-{f}/{stem}.svg")).is_file(), "{stem}");
        }
    }
    let o = optlab(&[
        "sweep-lr",
        "--function",
        "rosenbrock",
        "-o",
        "adam",
        "sgd(momentum=0.9)",
        "--lrs",
        "1e-4..1:9",
        "--steps",
        "300",
        "--out",
        &d("sweep"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(dir.join("sweep/sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 9);
    assert!(dir.join("sweep/sweep.png").is_file() && dir.join("sweep/sweep.svg").is_file());
    let o = optlab(&[
        "sweep-lr",
        "--function",
        "quadratic",
        "-o",
        "sgd",
        "--lrs",
        "1e-3..1:5",
        "--vs",
        "momentum=0..0.9:4",
        "--steps",
        "200",
        "--out",
        &d("heat"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("heat/sweep.csv")).unwrap().lines().count(), 1 + 5 * 4);
    assert!(dir.join("heat/heatmap-1.png").is_file());
    let o = optlab(&["sweep-lr", "-o", "adam", "--vs", "momentum"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("adam has no hyperparameter 'momentum'"));
    let o = optlab(&["compare", "--function", "sin-cos", "--steps", "60", "--animate", "--out", &d("anim")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let gif = std::fs::read(dir.join("anim/trajectories.gif")).unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    let _ = std::fs::remove_dir_all(&dir);
}
