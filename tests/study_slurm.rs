//! `optlab study` on a real Slurm cluster: the small study is planned, its generated
//! `slurm.sbatch` submitted with `sbatch --wait`, and the merged results checked against a
//! run on this machine (the same numbers, bit for bit) and reported.
//!
//! The cluster is Debian's slurm-wlm and munge on localhost, started by
//! `scripts/slurm-local.sh` (as root; `.ci/run` does it). Without Slurm, or without root to
//! start it, the test prints `skipped: <reason>` and passes; with OPTLAB_REQUIRE_SLURM=1 it
//! fails instead.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SMALL: &str = include_str!("../examples/study-small.toml");

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether a node of the cluster is up and can take jobs.
fn node_up() -> bool {
    Command::new("sinfo").args(["-h", "-o", "%T"]).output().is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout).lines().any(|l| matches!(l.trim(), "idle" | "mixed" | "allocated"))
    })
}

/// A cluster to submit to, or why there is none.
fn cluster() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("the local Slurm cluster runs on Linux only".into());
    }
    if !have("sbatch") || !have("sinfo") {
        return Err(
            "sbatch is not installed (apt-get install -y slurm-wlm munge, then scripts/slurm-local.sh as root)".into(),
        );
    }
    if node_up() {
        return Ok(());
    }
    if !is_root() {
        return Err("no Slurm node is up, and starting one (scripts/slurm-local.sh) needs root".into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh");
    let o = Command::new("bash").arg(&script).output().map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !o.status.success() || !node_up() {
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        return Err(format!(
            "scripts/slurm-local.sh could not start the cluster: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    Ok(())
}

fn optlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn outcomes(dir: &Path) -> BTreeMap<usize, serde_json::Value> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("results")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.starts_with('.') {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            m.insert(v["id"].as_u64().unwrap() as usize, v["outcome"].clone());
        }
    }
    m
}

fn plan(dir: &Path, extra: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("study.toml");
    std::fs::write(&file, SMALL).unwrap();
    let out = dir.join("plan");
    let mut args = vec!["study", "plan", file.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = optlab(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn the_generated_job_array_runs_the_study_on_slurm() {
    if let Err(reason) = cluster() {
        if std::env::var_os("OPTLAB_REQUIRE_SLURM").is_some_and(|v| v == "1") {
            panic!("OPTLAB_REQUIRE_SLURM=1 but {reason}");
        }
        // straight to stderr, past the test harness's capture, so that CI's log shows it
        let _ = writeln!(std::io::stderr(), "skipped: {reason}");
        return;
    }
    let root = std::env::temp_dir().join(format!("optlab-study-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // 36 trials in 6 array tasks, 3 at a time
    let p = plan(&root.join("slurm"), &["--tasks", "6", "--parallel", "3", "--mem", "300M", "--time", "5"]);
    let t = Instant::now();
    let mut child = Command::new("sbatch")
        .args(["--wait", p.join("slurm.sbatch").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = Command::new("scancel").args(["--name", "optlab-small"]).status();
            panic!("the job array did not finish in 4 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let o = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let job = said.split_whitespace().find_map(|w| w.parse::<u64>().ok()).expect("a job id");
    let logs: Vec<String> = (0..6)
        .map(|i| std::fs::read_to_string(p.join("logs").join(format!("slurm-{job}_{i}.out"))).unwrap_or_default())
        .collect();
    assert!(status.success(), "sbatch --wait: {said}\n{}", logs.join("\n----\n"));
    let _ = writeln!(std::io::stderr(), "the job array {job} ran in {:.1} s", t.elapsed().as_secs_f64());
    // every task ran its own share, read from SLURM_ARRAY_TASK_ID
    for (i, log) in logs.iter().enumerate() {
        assert!(log.contains(&format!("task {i}/6 (from SLURM_ARRAY_TASK_ID)")), "task {i}: {log}");
        assert!(log.contains("ran 6, already done 0"), "task {i}: {log}");
    }
    let st = optlab(&["study", "status", p.to_str().unwrap()]);
    let st = String::from_utf8_lossy(&st.stdout).into_owned();
    assert!(st.contains("36 done, 0 running, 0 failed, 0 missing"), "{st}");
    // the same numbers as on this machine
    let local = plan(&root.join("local"), &[]);
    assert!(optlab(&["study", "run", local.to_str().unwrap()]).status.success());
    assert_eq!(outcomes(&p), outcomes(&local), "Slurm's results differ from a local run's");
    let r = optlab(&["study", "report", p.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(p.join("report/index.html")).unwrap();
    assert!(html.contains("36 done, 0 missing") && html.contains("Performance profiles"));
    let _ = std::fs::remove_dir_all(&root);
}
