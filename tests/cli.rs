//! End-to-end: the `optlab` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_figures(dir: &Path) {
    for stem in ["contour", "surface", "loss"] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
        assert!(png.len() > 20_000, "{stem}.png is suspiciously small");
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}.svg");
        assert!(svg.contains("<text"), "{stem}.svg has no text");
    }
}

#[test]
fn compare_on_each_seminar_function_writes_records_figures_and_a_table() {
    for f in ["quadratic", "saddle", "sin-cos", "sin-cos-sq"] {
        let dir = tmp(&format!("cmp-{f}"));
        let o = optlab(&["compare", "--function", f, "--steps", "120", "--out", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        let out = stdout(&o);
        for name in
            ["gd(lr=0.1)", "momentum(lr=0.1)", "nag(lr=0.1)", "adagrad(lr=0.1)", "adadelta(lr=0.1)", "adam(lr=0.1)"]
        {
            assert!(out.contains(name), "{f}: table lacks {name}:\n{out}");
        }
        let csv = std::fs::read_to_string(dir.join("trajectories.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("optimizer,step,x,y,loss,grad_x,grad_y,evals,lr,gradient_at_x,gradient_at_y"));
        assert!(csv.lines().nth(1).unwrap().starts_with("gd(lr=0.1),0,8.0,0.1,"));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["runs"].as_array().unwrap().len(), 6);
        assert_eq!(summary["steps"], 120);
        assert_figures(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn trajectory_rows_hold_full_precision_and_step_k_is_the_point_after_k_steps() {
    let dir = tmp("precision");
    let o =
        optlab(&["compare", "-f", "quadratic", "-o", "sgd(lr=0.1)", "--steps", "3", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.join("trajectories.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5);
    // torch.optim.SGD(lr=0.1) on x²+y² from (8, 0.1): after 2 steps x = 5.12, loss = 26.218496000000002
    assert_eq!(rows[3], "sgd(lr=0.1),2,5.12,0.064,26.218496000000002,10.24,0.128,2,0.1,5.12,0.064");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_diverging_run_is_reported_and_the_figures_still_render() {
    let dir = tmp("diverge");
    let o = optlab(&[
        "compare",
        "-f",
        "sin-cos-sq",
        "-o",
        "momentum(lr=0.1)",
        "adam(lr=0.1)",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("diverged at step"), "{}", stdout(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(summary["runs"][0]["diverged_at"].as_u64().is_some());
    assert!(summary["runs"][1]["diverged_at"].is_null());
    let csv = std::fs::read_to_string(dir.join("trajectories.csv")).unwrap();
    assert!(!csv.contains("NaN") && !csv.contains("inf"));
    assert_figures(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn typed_expressions_run_like_builtins() {
    let dir = tmp("expr");
    let o = optlab(&[
        "compare",
        "--function",
        "x^2*sin(x)/10 + y^2*cos(y)/10",
        "-o",
        "adam(lr=0.1)",
        "--steps",
        "100",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(5.0870, "), "{}", stdout(&o));
    assert_figures(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["compare", "-o", "adam(lr=-1)"], "--optimizer 'adam(lr=-1)': invalid learning rate"),
        (&["compare", "-o", "adamm"], "unknown optimizer 'adamm'"),
        (&["compare", "-o", "adam(beta=(0.9,0.99))"], "unknown key 'beta' for adam"),
        (&["compare", "-o", "adam(betas=(0.9, 1.5))"], "invalid beta parameter at index 1"),
        (&["compare", "--start", "8;0.1"], "--start '8;0.1' is not 2 comma-separated numbers"),
        (&["compare", "--function", "rosenbrok"], "unknown function 'rosenbrok'"),
        (&["tune", "--domain", "1,0,0,1"], "must have x0 < x1"),
    ];
    for (args, msg) in cases {
        let o = optlab(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.starts_with("error: ") && err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn expression_syntax_errors_point_at_the_fault_in_one_line() {
    let o = optlab(&["compare", "--function", "x^2 + sinn(y)"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown name 'sinn'"), "{err}");
    assert!(err.contains("x^2 + »sinn«(y)"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn tune_finds_working_rates_for_all_six_on_the_seminar_sin_functions() {
    for f in ["sin-cos", "sin-cos-sq"] {
        let o = optlab(&["tune", "--function", f]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("target: local minimum"), "{out}");
        assert!(!out.contains("none in 1e-4..10"), "{f}: some optimizer found no lr:\n{out}");
        for name in ["gd ", "momentum ", "nag ", "adagrad ", "adadelta ", "adam "] {
            let row =
                out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{f}: no row for {name}:\n{out}"));
            let steps: usize = row.split_whitespace().nth(2).unwrap().parse().unwrap();
            assert!(steps > 0 && steps < 10_000, "{row}");
        }
    }
}

#[test]
fn tune_reports_the_saddle_as_having_no_minimum_instead_of_looping() {
    let o = optlab(&["tune", "--function", "saddle"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("nothing to tune: the function decreases without bound"), "{}", stdout(&o));
}

#[test]
fn list_shows_every_optimizer_and_function_with_defaults() {
    let o = stdout(&optlab(&["list", "optimizers"]));
    for name in [
        "gd", "momentum", "nag", "sgd", "adagrad", "adadelta", "adam", "adamw", "rmsprop", "nadam", "radam", "adamax",
        "rprop",
    ] {
        assert!(o.contains(&format!("\n{name} — ")) || o.starts_with(&format!("{name} — ")), "{name}");
    }
    assert!(o.contains("betas") && o.contains("(0.9, 0.999)"));
    let o = stdout(&optlab(&["list", "functions"]));
    assert!(o.contains("himmelblau") && o.contains("sin-cos-sq (seminar)") && o.contains("(3.0000, 2.0000)"));
}

#[test]
fn help_explains_the_spec_syntax() {
    let o = stdout(&optlab(&["compare", "--help"]));
    assert!(o.contains("--optimizer") && o.contains("betas=(0.8, 0.99)") && o.contains("--function"));
}

#[test]
fn lbfgs_is_compared_fairly_by_function_evaluations() {
    let dir = tmp("evals");
    let o = optlab(&[
        "compare",
        "-f",
        "rosenbrock",
        "-o",
        "lbfgs(line_search_fn=\"strong_wolfe\")",
        "adam(lr=0.05)",
        "--steps",
        "20",
        "--x-axis",
        "evals",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("evals"), "the table has no evals column: {}", stdout(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert!(runs[0]["evals"].as_u64().unwrap() > 20, "lbfgs: {}", runs[0]["evals"]);
    assert_eq!(runs[1]["evals"].as_u64().unwrap(), 20);
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    assert!(svg.contains("function evaluations"), "the loss figure is not drawn against evaluations");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shapes_matter_to_matrix_methods_and_muon_says_how_it_sees_a_vector() {
    let run = |shape: &str, spec: &str| {
        let dir = tmp(&format!("shape-{shape}"));
        let o = optlab(&[
            "compare",
            "-f",
            "sin-cos",
            "-o",
            spec,
            "--steps",
            "30",
            "--shape",
            shape,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (s["runs"][0]["final_x"].as_f64().unwrap(), s["runs"][0]["final_y"].as_f64().unwrap(), stderr(&o))
    };
    let (_, _, note) = run("2", "muon(lr=0.05)");
    assert!(note.contains("treated as a 1x2 matrix"), "{note}");
    let (row, col) = (run("1x2", "adafactor(lr=0.1)"), run("2x1", "adafactor(lr=0.1)"));
    assert_ne!((row.0, row.1), (col.0, col.1), "factored Adafactor should depend on the shape");
    let (a, b) = (run("1x2", "adam(lr=0.1)"), run("2", "adam(lr=0.1)"));
    assert_eq!((a.0, a.1), (b.0, b.1), "an element-wise method must not depend on the shape");
    let o = optlab(&["compare", "--shape", "3x3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("use 2, 1x2 or 2x1"), "{}", stderr(&o));
}

#[test]
fn list_shows_groups_references_and_schedulers() {
    let o = optlab(&["list", "optimizers"]);
    let out = stdout(&o);
    for want in
        ["== classical ==", "== sign-based ==", "== schedule-free ==", "reference: lion-pytorch", "line_search_fn"]
    {
        assert!(out.contains(want), "list optimizers lacks {want}");
    }
    let o = optlab(&["list", "schedulers"]);
    let out = stdout(&o);
    for want in ["CosineAnnealingLR", "ReduceLROnPlateau", "clip_grad_norm", "(required)"] {
        assert!(out.contains(want), "list schedulers lacks {want}");
    }
    let md = stdout(&optlab(&["list", "optimizers", "--markdown"]));
    assert_eq!(md.lines().filter(|l| l.starts_with("| ") && l.contains('`')).count(), optlab::optim::METHODS.len());
}
