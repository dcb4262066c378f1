//! Issue 10's promises at the command line: every hostile input class ends quickly with
//! exit 0 (valid) or exit 2 and one line (invalid); no panic, abort or runaway allocation;
//! outputs are never lost or left stale.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn optlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-hard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args`, which must be refused: exit 2, one line starting `error: ` containing
/// `msg`, within `secs` seconds.
fn refused(args: &[&str], msg: &str, secs: f64) {
    let t = Instant::now();
    let o = optlab(args);
    let took = t.elapsed().as_secs_f64();
    let err = stderr(&o);
    let shown: Vec<String> = args.iter().map(|a| optlab::limits::shorten(a, 60)).collect();
    assert_eq!(o.status.code(), Some(2), "{shown:?}: {err}");
    assert!(err.starts_with("error: ") && err.contains(msg), "{shown:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{shown:?}: not one line: {err}");
    assert!(err.len() < 600, "{shown:?}: the error is {} bytes long", err.len());
    assert!(took < secs, "{shown:?} took {took:.1} s to be refused");
}

#[test]
fn sizes_over_the_limits_are_refused_before_any_allocation() {
    refused(&["compare", "-f", "quadratic", "-o", "adam", "--steps", "1000000000"], "add --allow-large", 5.0);
    refused(&["compare", "--steps", "18446744073709551615"], "the limit is 10,000,000 steps", 5.0);
    refused(&["compare", "--steps", "99999999999999999999999"], "larger than 2^64", 5.0);
    refused(&["map", "--steps", "4294967296"], "--steps 4,294,967,296", 5.0);
    refused(&["map", "--grid", "100000"], "--grid 100,000", 5.0);
    refused(&["map", "--grid", "1"], "at least 2", 5.0);
    refused(&["train", "--threads", "100000"], "--threads 100,000", 5.0);
    refused(&["bench", "--map-grid", "100000"], "--map-grid 100,000", 5.0);
    refused(&["sweep-lr", "--steps", "0"], "at least 1", 5.0);
    refused(&["tune", "--steps", "20000000"], "--allow-large", 5.0);
}

#[test]
fn negative_fractional_and_wrapping_numbers_are_errors_not_truncated() {
    refused(&["compare", "--steps", "-1"], "negative", 5.0);
    refused(&["compare", "--steps", "2.5"], "not a whole number", 5.0);
    refused(&["compare", "--steps", "2.5e0"], "not a whole number", 5.0);
    refused(&["compare", "--steps", "1e-3"], "not a whole number", 5.0);
    refused(&["compare", "--steps", "1e30"], "larger than 2^64", 5.0);
    refused(&["compare", "--steps", "1e9"], "add --allow-large", 5.0);
    refused(&["compare", "--steps", "ten"], "not a number", 5.0);
    refused(&["train", "--seed", "18446744073709551615", "--seeds", "2"], "past the largest seed", 5.0);
    refused(&["train", "--epochs", "0"], "--epochs 0", 5.0);
    refused(&["train", "--batch-size", "0"], "--batch-size 0", 5.0);
    refused(&["train", "--limit", "0"], "--limit 0", 5.0);
    refused(&["seminar", "--epochs", "0"], "--epochs 0", 5.0);
}

#[test]
fn counts_written_in_scientific_notation_run_that_many_steps() {
    let d = tmp("sci-steps");
    let o = optlab(&["compare", "-f", "quadratic", "-o", "adam", "--steps", "1e2", "--out", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("trajectories.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    assert_eq!(last.split(',').nth(1), Some("100"), "the last row is step 100: {last}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn misspelt_commands_and_flags_are_answered_with_the_right_spelling() {
    refused(&["comapre"], "'compare'", 5.0);
    refused(&["compare", "--optimiser", "adam"], "a similar argument exists: '--optimizer'", 5.0);
}

#[test]
fn a_bad_out_is_a_one_line_error_before_any_work() {
    let d = tmp("outfile");
    std::fs::create_dir_all(&d).unwrap();
    let file = d.join("taken");
    std::fs::write(&file, b"x").unwrap();
    let f = file.to_str().unwrap();
    refused(&["train", "--epochs", "50", "--out", f], "is a file", 10.0);
    refused(&["compare", "--steps", "9000000", "--out", f], "is a file", 5.0);
    refused(&["map", "--out", "/proc/optlab-test"], "/proc", 5.0);
    refused(&["seminar", "--out", f], "is a file", 5.0);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_closed_or_full_stdout_loses_no_results_and_does_not_panic() {
    // stdout closed before optlab writes to it (what `| head -1` does)
    let d = tmp("pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(["compare", "-f", "quadratic", "-o", "adam", "gd", "--steps", "50", "--out", d.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(d.join("trajectories.csv").is_file() && d.join("contour.png").is_file());
    let _ = std::fs::remove_dir_all(&d);
    if std::path::Path::new("/dev/full").exists() {
        let d = tmp("full");
        let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
            .args(["compare", "-f", "quadratic", "--steps", "20", "--out", d.to_str().unwrap()])
            .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}: {}", o.status, stderr(&o));
        assert!(d.join("summary.json").is_file());
        let _ = std::fs::remove_dir_all(&d);
    } else {
        println!("skipped the /dev/full half: this system has no /dev/full");
    }
}

#[test]
fn a_second_run_replaces_its_own_outputs_and_keeps_foreign_files() {
    let d = tmp("stale");
    let ds = d.to_str().unwrap();
    let args = |opts: &[&'static str]| {
        let mut v = vec!["map", "-f", "quadratic", "--grid", "8", "--steps", "20", "--out", ds, "-o"];
        v.extend_from_slice(opts);
        v
    };
    assert!(optlab(&args(&["gd", "adam"])).status.success());
    assert!(std::fs::read_dir(&d).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("map-2-")));
    std::fs::write(d.join("my-notes.txt"), b"keep me").unwrap();
    assert!(optlab(&args(&["gd"])).status.success());
    let names: Vec<String> =
        std::fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with("map-2-")), "stale panel kept: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("map-1-")), "{names:?}");
    assert!(!names.iter().any(|n| n.contains(".tmp")), "temporary file left: {names:?}");
    assert_eq!(std::fs::read(d.join("my-notes.txt")).unwrap(), b"keep me");
    // an animation of an earlier run goes when the next run makes none
    let c = tmp("gif");
    let cs = c.to_str().unwrap();
    assert!(optlab(&["compare", "-f", "quadratic", "--steps", "20", "--animate", "--out", cs]).status.success());
    assert!(c.join("trajectories.gif").is_file());
    assert!(optlab(&["compare", "-f", "quadratic", "--steps", "20", "--out", cs]).status.success());
    assert!(!c.join("trajectories.gif").exists());
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&c);
}

#[test]
fn expressions_starting_with_a_minus_are_values_not_flags() {
    let d = tmp("minus");
    let o = optlab(&[
        "compare",
        "--function",
        "-exp(-x^2-y^2)",
        "--start",
        "0.5,0.5",
        "--steps",
        "30",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_long_compare_is_streamed_and_its_summary_is_exact() {
    use optlab::experiment::compare::{compare, compare_streamed};
    use optlab::optim::OptimizerConfig;
    let f = optlab::objective::builtin("sin-cos").unwrap().function();
    let cfgs = vec![OptimizerConfig::parse("gd(lr=0.01)").unwrap(), OptimizerConfig::parse("adam(lr=0.05)").unwrap()];
    let steps = 250_000;
    let full = compare(&f, &cfgs, f.start, steps, Default::default());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rows = std::sync::Mutex::new(vec![0usize; 2]);
    let streamed = compare_streamed(&f, &cfgs, f.start, steps, Default::default(), &stop, &|i, _| {
        rows.lock().unwrap()[i] += 1;
    });
    for (a, b) in full.iter().zip(&streamed) {
        let (sa, sb) = (serde_json::to_value(&a.summary).unwrap(), serde_json::to_value(&b.summary).unwrap());
        assert_eq!(sa, sb, "summaries differ");
        assert!(b.trajectory.points.len() <= 100_002, "kept {} points", b.trajectory.points.len());
        assert_eq!(b.trajectory.points.last(), a.trajectory.points.last());
    }
    assert_eq!(*rows.lock().unwrap(), vec![steps + 1, steps + 1]);
    // through the CLI: every 1,000th step and the last in the CSV
    let d = tmp("long");
    let o = optlab(&[
        "compare",
        "-f",
        "quadratic",
        "-o",
        "gd(lr=0.01)",
        "--steps",
        "250001",
        "--record-every",
        "1000",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("trajectories.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 251 + 1, "header, steps 0..=250000 by 1000, and step 250001");
    assert!(csv.lines().last().unwrap().starts_with("gd(lr=0.01),250001,"));
    let names: Vec<String> =
        std::fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains(".tmp") || n.contains(".part")), "{names:?}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs optlab with `args`, sends it `signal` (INT, TERM, HUP) after 1.5 s, and waits for it.
fn signalled(args: &[&str], signal: &str) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run optlab");
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    child.wait_with_output().expect("wait for optlab")
}

/// A long compare stopped by `signal` keeps what was made and exits with `code`.
fn stopped_compare_keeps_what_was_made(signal: &str, code: i32) {
    if !std::path::Path::new("/bin/kill").exists() && !std::path::Path::new("/usr/bin/kill").exists() {
        println!("skipped: no kill command to send SIG{signal} with");
        return;
    }
    let d = tmp(&format!("sig{signal}"));
    let t = Instant::now();
    let o = signalled(
        &[
            "compare",
            "-f",
            "quadratic",
            "-o",
            "adam",
            "--steps",
            "5000000000",
            "--allow-large",
            "--record-every",
            "1000000",
            "--out",
            d.to_str().unwrap(),
        ],
        signal,
    );
    assert!(t.elapsed().as_secs_f64() < 30.0, "took {:?} to stop", t.elapsed());
    assert_eq!(o.status.code(), Some(code), "SIG{signal}: {:?}: {}", o.status, stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert!(summary["runs"][0]["interrupted_at"].as_u64().is_some(), "{summary}");
    assert!(d.join("contour.png").is_file() && d.join("trajectories.csv").is_file());
    assert!(String::from_utf8_lossy(&o.stdout).contains("interrupted"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ctrl_c_in_a_long_compare_keeps_what_was_made_and_exits_130() {
    stopped_compare_keeps_what_was_made("INT", 130);
}

#[test]
fn sigterm_in_a_long_compare_keeps_what_was_made_and_exits_143() {
    stopped_compare_keeps_what_was_made("TERM", 143);
}

#[test]
fn sighup_in_a_long_compare_keeps_what_was_made_and_exits_129() {
    stopped_compare_keeps_what_was_made("HUP", 129);
}

#[test]
fn undefined_starts_are_errors_that_say_so_not_divergence() {
    refused(&["compare", "-f", "ln(x)", "--start", "-1,0"], "not finite at the start", 5.0);
    refused(&["compare", "-f", "sqrt(x)+y^2", "--start", "-4,1"], "not finite at the start", 5.0);
    refused(&["tune", "-f", "1/(x-8)", "--start", "8,0.1"], "not finite at the start", 5.0);
    refused(&["compare", "-f", "x^2", "--start", "1e309,0"], "--start", 5.0);
}

#[test]
fn the_plotting_domain_does_not_change_a_runs_verdict() {
    let run = |extra: &[&str]| {
        let d = tmp(&format!("dom{}", extra.len()));
        let mut args = vec![
            "compare",
            "-f",
            "sin-cos",
            "-o",
            "adam(lr=0.1)",
            "gd(lr=0.1)",
            "--steps",
            "300",
            "--out",
            d.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = optlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&d);
        s["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["converged_at"].clone(), r["tolerance"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[]), run(&["--domain", "-100,100,-100,100"]));
}

#[test]
fn nested_and_huge_inputs_are_one_line_errors() {
    let deep = format!("{}x{}", "(".repeat(30_000), ")".repeat(30_000));
    refused(&["compare", "-f", &deep], "--function", 5.0);
    let long = "x+".repeat(60_000) + "y";
    refused(&["compare", "-f", &long], "--function", 5.0);
    let spec = format!("adam(lr={})", "9".repeat(400));
    let o = optlab(&["compare", "-o", &spec]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.len() < 600, "the error repeats the huge input: {} bytes", err.len());
    let nested = format!("{}adam{}", "sgd(fallback=".repeat(8_000), ")".repeat(8_000));
    refused(&["compare", "-o", &nested], "--optimizer", 5.0);
}

#[test]
fn sigterm_in_a_map_keeps_the_finished_maps_and_exits_143() {
    if !std::path::Path::new("/bin/kill").exists() && !std::path::Path::new("/usr/bin/kill").exists() {
        println!("skipped: no kill command to send SIGINT with");
        return;
    }
    let d = tmp("mapc");
    let t = Instant::now();
    let o = signalled(
        &[
            "map",
            "-f",
            "sin-cos",
            "-o",
            "gd",
            "adam",
            "--grid",
            "4096",
            "--steps",
            "5000",
            "--out",
            d.to_str().unwrap(),
        ],
        "TERM",
    );
    assert!(t.elapsed().as_secs_f64() < 60.0, "took {:?} to stop", t.elapsed());
    assert_eq!(o.status.code(), Some(143), "{:?}: {}", o.status, stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("interrupted: 0 of 2 maps"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(d.join("map.json").is_file());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rayon_num_threads_is_bounded_like_threads() {
    for (v, ok) in
        [("4000", false), ("abc", false), ("-1", false), ("99999999999999999999999", false), ("2", true), ("0", true)]
    {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
            .args([
                "compare",
                "-f",
                "quadratic",
                "-o",
                "adam",
                "--steps",
                "50",
                "--out",
                tmp("rayon").to_str().unwrap(),
            ])
            .env("RAYON_NUM_THREADS", v)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        assert!(t.elapsed().as_secs_f64() < 30.0, "RAYON_NUM_THREADS={v} took {:?}", t.elapsed());
        if ok {
            assert!(o.status.success(), "{v}: {}", stderr(&o));
        } else {
            assert_eq!(o.status.code(), Some(2), "{v}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("RAYON_NUM_THREADS") && stderr(&o).trim().lines().count() == 1,
                "{}",
                stderr(&o)
            );
        }
    }
}
