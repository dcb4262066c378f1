//! `optlab study` end to end on this machine: plan, run, status and report of the small
//! study; sharding into concurrent tasks (and two tasks given the same share) gives exactly
//! the results of one task; a task killed halfway (SIGINT, SIGKILL) is resumed with nothing
//! lost or run twice; corrupt or partial result files and stale claims are detected; the
//! Kubernetes Job and the Slurm script have the structure their engines need.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

const SMALL: &str = include_str!("../examples/study-small.toml");

fn optlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_optlab"))
}

fn run(args: &[&str]) -> Output {
    optlab().args(args).output().expect("run optlab")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-study-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A heavier version of the small study (the same 36 trials, each taking some tens of
/// milliseconds), so that concurrent tasks really overlap and a kill lands halfway.
fn heavy() -> String {
    SMALL
        .replace("steps = 1000", "steps = 150000")
        .replace("steps = 300", "steps = 60000")
        .replace("limit = 600", "limit = 3000")
}

/// Writes `study` into `dir/study.toml` and plans it into `dir/plan`.
fn plan(dir: &Path, study: &str, extra: &[&str]) -> PathBuf {
    let file = dir.join("study.toml");
    std::fs::write(&file, study).unwrap();
    let out = dir.join("plan");
    let mut args = vec!["study", "plan", file.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    out
}

/// id → the deterministic part of its result ("outcome"), and the trial it claims to be.
fn outcomes(dir: &Path) -> BTreeMap<usize, serde_json::Value> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("results")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        assert_eq!(v["complete"], true);
        let id = v["id"].as_u64().unwrap() as usize;
        assert_eq!(name, format!("{id:08}.json"));
        m.insert(id, serde_json::json!({ "trial": v["trial"], "outcome": v["outcome"] }));
    }
    m
}

/// The heavy study run by one task on one thread: what every other way of running it must
/// reproduce bit for bit.
fn reference() -> &'static BTreeMap<usize, serde_json::Value> {
    static REF: OnceLock<BTreeMap<usize, serde_json::Value>> = OnceLock::new();
    REF.get_or_init(|| {
        let d = tmp("reference");
        let p = plan(&d, &heavy(), &[]);
        let o = run(&["study", "run", p.to_str().unwrap(), "--threads", "1"]);
        assert!(o.status.success(), "{}", text(&o));
        let m = outcomes(&p);
        assert_eq!(m.len(), 36);
        m
    })
}

/// Lines of a run that say a trial ran.
fn ran_lines(out: &str) -> Vec<usize> {
    out.lines()
        .filter_map(|l| {
            let rest = l.split("] trial ").nth(1)?;
            let (id, tail) = rest.split_once(' ')?;
            tail.starts_with("ran in").then(|| id.parse().unwrap())
        })
        .collect()
}

fn claims_left(p: &Path) -> Vec<String> {
    std::fs::read_dir(p.join("claims"))
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn the_small_study_plans_runs_and_reports_on_one_machine() {
    let d = tmp("small");
    let p = plan(&d, SMALL, &["--tasks", "6", "--parallel", "3", "--image", "registry.example/optlab:1.0"]);
    for f in ["study.toml", "trials.jsonl", "plan.json", "slurm.sbatch", "k8s-job.yaml"] {
        assert!(p.join(f).is_file(), "{f}");
    }
    assert_eq!(std::fs::read_to_string(p.join("study.toml")).unwrap(), SMALL);
    assert_eq!(std::fs::read_to_string(p.join("trials.jsonl")).unwrap().lines().count(), 36);
    let o = run(&["study", "status", p.to_str().unwrap()]);
    assert!(text(&o).contains("0 done") && text(&o).contains("36 missing"), "{}", text(&o));

    let o = run(&["study", "run", p.to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let mut ran = ran_lines(&out);
    ran.sort();
    assert_eq!(ran, (0..36).collect::<Vec<_>>(), "one line per trial: {out}");
    assert!(out.contains("results/ holds 36 of the study's 36 results"), "{out}");
    assert!(claims_left(&p).is_empty());

    // a second run finds everything done
    let o = run(&["study", "run", p.to_str().unwrap()]);
    assert!(text(&o).contains("ran 0, already done 36"), "{}", text(&o));

    let o = run(&["study", "status", p.to_str().unwrap()]);
    assert!(text(&o).contains("36 done, 0 running, 0 failed, 0 missing"), "{}", text(&o));

    let o = run(&["study", "report", p.to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("incomplete"), "{out}");
    let r = p.join("report");
    let html = std::fs::read_to_string(r.join("index.html")).unwrap();
    for fig in ["lr-rosenbrock", "lr-bowl", "lr-mlp-tiny", "curves-rosenbrock", "curves-mlp-tiny", "profiles"] {
        assert!(r.join(format!("{fig}.png")).is_file() && r.join(format!("{fig}.svg")).is_file(), "{fig}");
    }
    // every figure is inlined: the page stands alone
    assert_eq!(html.matches("<svg").count(), 7, "six problem figures and the profiles");
    assert!(
        !html.contains("src=\"http") && html.contains("Best hyperparameters") && html.contains("Performance profiles")
    );
    let csv = std::fs::read_to_string(r.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 37);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["done"], 36);
    assert_eq!(summary["best"].as_array().unwrap().len(), 6);
    assert!(summary["best"].as_array().unwrap().iter().all(|b| b["best"]["hyper"]["lr"].is_string()));
    assert_eq!(summary["profiles"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn concurrent_tasks_and_a_doubled_task_give_exactly_the_results_of_one_task() {
    let reference = reference();
    let d = tmp("shards");
    let p = plan(&d, &heavy(), &["--tasks", "4"]);
    let dir = p.to_str().unwrap();
    // four tasks at once, with different thread counts, and a second task 1 given the same share
    let mut children: Vec<Child> = Vec::new();
    for (i, threads) in [(0, "1"), (1, "2"), (2, "1"), (3, "2"), (1, "1")] {
        children.push(
            optlab()
                .args(["study", "run", dir, "--task-index", &i.to_string(), "--task-count", "4", "--threads", threads])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    let mut ran = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        ran.extend(ran_lines(&text(&o)));
    }
    ran.sort();
    assert_eq!(ran, (0..36).collect::<Vec<_>>(), "every trial ran exactly once");
    assert_eq!(&outcomes(&p), reference, "the merged results equal one task's");
    assert!(claims_left(&p).is_empty());
    // tasks over Slurm's variables and Kubernetes' index select the same shares
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn two_tasks_with_the_same_share_never_run_a_trial_twice() {
    let reference = reference();
    let d = tmp("twins");
    let p = plan(&d, &heavy(), &[]);
    let dir = p.to_str().unwrap();
    let spawn = || {
        optlab()
            .args(["study", "run", dir, "--task-index", "0", "--task-count", "1", "--threads", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", text(&a), text(&b));
    let (ra, rb) = (ran_lines(&text(&a)), ran_lines(&text(&b)));
    assert_eq!(ra.len() + rb.len(), 36, "a: {ra:?}\nb: {rb:?}");
    assert!(ra.iter().all(|id| !rb.contains(id)));
    assert_eq!(&outcomes(&p), reference);
    let _ = std::fs::remove_dir_all(&d);
}

/// Starts a run on one thread, waits until `n` results exist, sends `signal`, waits for the
/// process to end; returns its output.
fn interrupt_after(p: &Path, n: usize, signal: &str) -> Output {
    let child = optlab()
        .args(["study", "run", p.to_str().unwrap(), "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        let done = std::fs::read_dir(p.join("results"))
            .map(|r| r.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count())
            .unwrap_or(0);
        if done >= n {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    child.wait_with_output().unwrap()
}

fn resume_completes_with_nothing_lost_or_repeated(p: &Path) {
    let before = outcomes(p).len();
    assert!(before < 36, "the kill landed too late ({before} results)");
    let o = run(&["study", "run", p.to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let ran = ran_lines(&out);
    assert_eq!(ran.len(), 36 - before, "the rerun ran exactly the missing trials: {out}");
    assert_eq!(&outcomes(p), reference());
    assert!(claims_left(p).is_empty(), "{:?}", claims_left(p));
}

/// A task stopped by `signal` keeps its finished trials, releases the claims of the
/// others, exits with `code`, and a rerun finishes the study.
fn a_signal_keeps_the_trials_releases_the_claims(name: &str, signal: &str, code: i32) {
    reference();
    let d = tmp(name);
    let p = plan(&d, &heavy(), &[]);
    let o = interrupt_after(&p, 6, signal);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(code), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(claims_left(&p).is_empty(), "{signal} releases the claims of unfinished trials");
    let kept = outcomes(&p);
    assert!(kept.len() >= 6);
    for (id, v) in &kept {
        assert_eq!(Some(v), reference().get(id), "a kept result is a whole, right result");
    }
    resume_completes_with_nothing_lost_or_repeated(&p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_task_stopped_by_ctrl_c_keeps_its_trials_exits_130_and_a_rerun_finishes_the_study() {
    a_signal_keeps_the_trials_releases_the_claims("sigint", "-INT", 130);
}

#[test]
fn a_task_stopped_by_sigterm_or_sighup_releases_its_claims_and_exits_143_or_129() {
    a_signal_keeps_the_trials_releases_the_claims("sigterm", "-TERM", 143);
    a_signal_keeps_the_trials_releases_the_claims("sighup", "-HUP", 129);
}

#[test]
fn a_task_killed_outright_leaves_claims_that_a_rerun_takes_over() {
    reference();
    let d = tmp("sigkill");
    let p = plan(&d, &heavy(), &[]);
    let o = interrupt_after(&p, 6, "-KILL");
    assert_eq!(o.status.code(), None, "killed by a signal");
    // no temporary or partial result is taken for a result
    for (id, v) in &outcomes(&p) {
        assert_eq!(Some(v), reference().get(id));
    }
    let st = text(&run(&["study", "status", p.to_str().unwrap()]));
    assert!(!st.contains("running: trial"), "a dead task's claims are not running: {st}");
    resume_completes_with_nothing_lost_or_repeated(&p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn corrupt_partial_and_foreign_result_files_are_detected_and_rerun() {
    let d = tmp("corrupt");
    let p = plan(&d, SMALL, &[]);
    let dir = p.to_str().unwrap();
    assert!(run(&["study", "run", dir]).status.success());
    let good = outcomes(&p);
    let res = |id: usize| p.join("results").join(format!("{id:08}.json"));
    let whole = std::fs::read(res(1)).unwrap();
    std::fs::write(res(1), &whole[..whole.len() / 2]).unwrap(); // cut short
    std::fs::write(res(2), b"").unwrap(); // empty
    std::fs::write(res(3), b"\x00\xffnot json").unwrap(); // garbage
    std::fs::copy(res(5), res(4)).unwrap(); // another trial's result
    let edit = |id: usize, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(res(id)).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(res(id), serde_json::to_vec(&v).unwrap()).unwrap();
    };
    edit(6, &|v| v["complete"] = false.into()); // no completion marker
    edit(7, &|v| v["trial"]["lr"] = 0.5.into()); // made for another plan of the trial
    edit(8, &|v| v["hash"] = "0".repeat(64).into());
    std::fs::remove_file(res(9)).unwrap(); // missing
    let st = text(&run(&["study", "status", dir]));
    assert!(st.contains("28 done") && st.contains("8 missing"), "{st}");
    for id in [1, 2, 3, 4, 6, 7, 8] {
        assert!(st.contains(&format!("invalid result: trial {id}:")), "trial {id}: {st}");
    }
    let o = run(&["study", "run", dir]);
    let out = text(&o);
    let mut ran = ran_lines(&out);
    ran.sort();
    assert_eq!(ran, vec![1, 2, 3, 4, 6, 7, 8, 9], "{out}");
    assert_eq!(outcomes(&p), good);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn stale_claims_are_taken_over_and_live_ones_respected() {
    let d = tmp("claims");
    let p = plan(&d, SMALL, &[]);
    let dir = p.to_str().unwrap();
    std::fs::create_dir_all(p.join("claims")).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    // a process of this host that has ended
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let claim = |id: usize, host: &str, pid: u32, age: u64| {
        let path = p.join("claims").join(format!("{id:08}.claim"));
        let body = serde_json::json!({ "host": host, "pid": pid, "start_ticks": null, "claimed_unix": 0, "task": "x", "nonce": format!("n{id}") });
        std::fs::write(&path, body.to_string()).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age)).unwrap();
    };
    claim(0, &host, gone_pid, 0); // this host, process gone: stale at once
    claim(1, "another-host", 1, 0); // another host, fresh: live
    claim(2, "another-host", 1, 3600); // another host, not refreshed for an hour: stale
    std::fs::write(p.join("claims").join("00000003.claim"), b"").unwrap(); // unreadable, young: live
                                                                           // what a task killed while writing leaves: an old temporary file goes, a young one stays
    std::fs::create_dir_all(p.join("results")).unwrap();
    let (old_tmp, young_tmp) =
        (p.join("results/.00000005.json.tmp4000000"), p.join("results/.00000006.json.tmp4000001"));
    std::fs::write(&old_tmp, b"{\"id\": 5, \"compl").unwrap();
    std::fs::write(&young_tmp, b"{").unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&old_tmp).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
    let st = text(&run(&["study", "status", dir]));
    assert!(st.contains("running: trial 1 (another-host") && st.contains("running: trial 3"), "{st}");
    assert!(st.contains("stale claims") && st.contains("2 running"), "{st}");
    let o = run(&["study", "run", dir, "--lease", "600"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let ran = ran_lines(&out);
    assert!(ran.contains(&0) && ran.contains(&2), "stale claims taken over: {out}");
    assert!(!ran.contains(&1) && !ran.contains(&3), "live claims respected: {out}");
    assert!(out.contains("trial 1 skipped: claimed by another-host pid 1"), "{out}");
    assert!(!old_tmp.exists() && young_tmp.exists(), "leftovers older than the lease are swept");
    // the other host's claim goes stale after the lease
    let f = std::fs::OpenOptions::new().write(true).open(p.join("claims").join("00000001.claim")).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(30)).unwrap();
    let old = std::fs::OpenOptions::new().write(true).open(p.join("claims").join("00000003.claim")).unwrap();
    old.set_modified(SystemTime::now() - Duration::from_secs(30)).unwrap();
    let out = text(&run(&["study", "run", dir, "--lease", "10"]));
    let mut ran = ran_lines(&out);
    ran.sort();
    assert_eq!(ran, vec![1, 3], "{out}");
    assert!(claims_left(&p).is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_trial_that_cannot_run_is_reported_failed_with_its_error() {
    let d = tmp("failed");
    let empty = d.join("no-data");
    std::fs::create_dir_all(&empty).unwrap();
    let study = format!(
        "seeds = 1\noptimizers = [\"adam\"]\n[[problem]]\ntrain = \"mlp\"\ndataset = \"fashion-mnist\"\ndata = \"full\"\ndata_dir = \"{}\"\nepochs = 1\n[[problem]]\nfunction = \"quadratic\"\nsteps = 10\n",
        empty.display()
    );
    let p = plan(&d, &study, &[]);
    let dir = p.to_str().unwrap();
    let o = run(&["study", "run", dir]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("1 trial(s) failed"), "{out}");
    let st = text(&run(&["study", "status", dir]));
    assert!(st.contains("1 done") && st.contains("1 failed") && st.contains("failed: trial 0"), "{st}");
    assert!(st.contains("fashion-mnist not found"), "{st}");
    let o = run(&["study", "report", dir]);
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(p.join("report/index.html")).unwrap();
    assert!(html.contains("trial 0 failed"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_study_files_and_folders_are_one_line_errors() {
    let d = tmp("errors");
    let refused = |args: &[&str], msg: &str| {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    };
    let file = d.join("s.toml");
    let out = d.join("o");
    let (f, o) = (file.to_str().unwrap(), out.to_str().unwrap());
    let cases: &[(&str, &str)] = &[
        ("seeds = 2\nstpes = 3\n", "unknown field `stpes`"),
        ("optimizers = [\"adma\"]\n[[problem]]\nfunction = \"quadratic\"\nsteps = 5\n", "unknown optimizer 'adma'"),
        ("optimizers = [\"adam\"]\n", "no problems"),
        ("optimizers = [\"adam\"]\n[[problem]]\nfunction = \"quadratic\"\n", "no step budget"),
        ("optimizers = [\"adam\"]\n[space]\nlr = { log = [0, 1] }\n[[problem]]\nfunction = \"quadratic\"\nsteps = 5\n", "must be positive"),
        ("seeds = 10000\noptimizers = [\"adam\"]\n[space]\nlr = { log = [1e-4, 1], count = 100 }\n[[problem]]\nfunction = \"quadratic\"\nstarts = \"random\"\nsteps = 5\n", "the limit is 100,000 trials"),
        ("optimizers = [\"adam\"]\n[[problem]]\ntrain = \"mlp\"\nepochs = 1\ndata = \"everything\"\n", "use \"subset\""),
        ("optimizers = [\"adam\"]\n[[problem]]\nfunction = \"x +* y\"\nsteps = 5\n", "problem 1"),
        ("this is not toml", "line 1"),
    ];
    for (text, msg) in cases {
        std::fs::write(&file, text).unwrap();
        refused(&["study", "plan", f, "--out", o], msg);
    }
    refused(&["study", "plan", d.join("none.toml").to_str().unwrap(), "--out", o], "cannot read");
    std::fs::write(&file, SMALL).unwrap();
    refused(&["study", "plan", f, "--out", o, "--tasks", "99"], "--tasks 99: give 1 to 36");
    refused(&["study", "plan", f, "--out", o, "--tasks", "4", "--parallel", "5"], "--parallel 5");
    refused(&["study", "plan", f, "--out", o, "--time", "25:99:00"], "--time");
    refused(&["study", "run", d.to_str().unwrap()], "not a study folder");
    let p = plan(&d, SMALL, &["--tasks", "4"]);
    refused(&["study", "run", p.to_str().unwrap(), "--task-index", "4"], "not below the task count 4");
    let o = optlab().args(["study", "run", p.to_str().unwrap()]).env("JOB_COMPLETION_INDEX", "9").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // a damaged trials file is noticed before any work
    let t = p.join("trials.jsonl");
    let body = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, body.replace("\"lr\":0.01", "\"lr\":0.02")).unwrap();
    refused(&["study", "run", p.to_str().unwrap()], "does not match plan.json");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn engine_variables_select_the_share() {
    let d = tmp("env");
    let p = plan(&d, SMALL, &["--tasks", "9"]);
    let dir = p.to_str().unwrap();
    let o = optlab()
        .args(["study", "run", dir])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", "8")
        .env("SLURM_ARRAY_TASK_COUNT", "9")
        .output()
        .unwrap();
    let mut ran = ran_lines(&text(&o));
    ran.sort();
    assert_eq!(ran, vec![2, 11, 20, 29], "{}", text(&o));
    let o = optlab().args(["study", "run", dir]).env("JOB_COMPLETION_INDEX", "4").output().unwrap();
    let mut ran = ran_lines(&text(&o));
    ran.sort();
    assert_eq!(ran, vec![4, 13, 22, 31], "{}", text(&o));
    let _ = std::fs::remove_dir_all(&d);
}

// ---------------------------------------------------------------- the batch files

/// A YAML node of the subset the Job uses: block maps, block lists, flow lists of scalars,
/// scalars (plain or double-quoted).
#[derive(Debug, Clone, PartialEq)]
enum Y {
    Map(Vec<(String, Y)>),
    List(Vec<Y>),
    Str(String),
}

impl Y {
    fn get(&self, key: &str) -> &Y {
        match self {
            Y::Map(m) => &m.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no key {key} in {self:?}")).1,
            _ => panic!("{key}: not a map: {self:?}"),
        }
    }
    fn at(&self, path: &str) -> &Y {
        path.split('.').fold(self, |y, k| match k.parse::<usize>() {
            Ok(i) => match y {
                Y::List(l) => &l[i],
                _ => panic!("{k}: not a list"),
            },
            Err(_) => y.get(k),
        })
    }
    fn str(&self) -> &str {
        match self {
            Y::Str(s) => s,
            _ => panic!("not a scalar: {self:?}"),
        }
    }
    fn int(&self) -> u64 {
        self.str().parse().unwrap_or_else(|_| panic!("not an integer: {self:?}"))
    }
}

fn scalar(s: &str) -> Y {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Y::Str(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Y::List(inner.split(',').map(scalar).collect());
    }
    assert!(!s.contains(": ") && !s.starts_with(['{', '&', '*', '!', '|', '>']), "unexpected YAML: {s}");
    Y::Str(s.to_string())
}

/// Parses the block at `indent` starting at line `i`.
fn block(lines: &[(usize, String)], i: &mut usize, indent: usize) -> Y {
    if lines[*i].1 == "-" {
        let mut items = Vec::new();
        while *i < lines.len() && lines[*i].0 == indent && lines[*i].1 == "-" {
            *i += 1;
            items.push(block(lines, i, indent + 2));
        }
        return Y::List(items);
    }
    let mut map = Vec::new();
    while *i < lines.len() && lines[*i].0 == indent && lines[*i].1 != "-" {
        let line = lines[*i].1.clone();
        let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("not key: value: {line}"));
        assert!(!key.contains(' ') && !key.is_empty(), "bad key in {line}");
        assert!(!map.iter().any(|(k, _): &(String, Y)| k == key), "duplicate key {key}");
        *i += 1;
        let v = if value.trim().is_empty() {
            assert!(*i < lines.len() && lines[*i].0 > indent, "{key} has no value");
            let inner = lines[*i].0;
            block(lines, i, inner)
        } else {
            scalar(value)
        };
        map.push((key.to_string(), v));
    }
    assert!(*i >= lines.len() || lines[*i].0 < indent, "bad indentation at {:?}", lines.get(*i));
    Y::Map(map)
}

fn parse_yaml(text: &str) -> Y {
    let mut lines = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        assert!(!l.contains('\t'), "tabs in YAML");
        let indent = l.len() - t.len();
        if let Some(rest) = t.strip_prefix("- ") {
            lines.push((indent, "-".to_string()));
            lines.push((indent + 2, rest.to_string()));
        } else {
            lines.push((indent, t.to_string()));
        }
    }
    let mut i = 0;
    let y = block(&lines, &mut i, 0);
    assert_eq!(i, lines.len(), "trailing lines");
    y
}

#[test]
fn the_kubernetes_job_is_an_indexed_job_running_the_study_in_the_named_image() {
    let d = tmp("k8s");
    let p = plan(
        &d,
        SMALL,
        &[
            "--tasks",
            "12",
            "--parallel",
            "5",
            "--image",
            "ghcr.io/me/optlab:0.1",
            "--cpus-per-task",
            "2",
            "--mem",
            "1G",
        ],
    );
    let y = parse_yaml(&std::fs::read_to_string(p.join("k8s-job.yaml")).unwrap());
    assert_eq!(y.at("apiVersion").str(), "batch/v1");
    assert_eq!(y.at("kind").str(), "Job");
    let name = y.at("metadata.name").str();
    assert!(
        name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name}"
    );
    assert_eq!(y.at("spec.completionMode").str(), "Indexed");
    assert_eq!(y.at("spec.completions").int(), 12);
    assert_eq!(y.at("spec.parallelism").int(), 5);
    assert!(y.at("spec.backoffLimit").int() >= 1);
    let pod = y.at("spec.template.spec");
    assert_eq!(pod.at("restartPolicy").str(), "Never");
    let c = pod.at("containers.0");
    assert_eq!(c.at("image").str(), "ghcr.io/me/optlab:0.1");
    let cmd: Vec<&str> = match c.at("command") {
        Y::List(l) => l.iter().map(Y::str).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(cmd, ["optlab", "study", "run", "/study"]);
    let env: Vec<(&str, &str)> = match c.at("env") {
        Y::List(l) => l.iter().map(|e| (e.at("name").str(), e.at("value").str())).collect(),
        other => panic!("{other:?}"),
    };
    assert!(env.contains(&("OPTLAB_TASK_COUNT", "12")), "{env:?}");
    assert_eq!(c.at("resources.requests.cpu").str(), "2");
    assert_eq!(c.at("resources.limits.memory").str(), "1024Mi");
    assert_eq!(c.at("volumeMounts.0.mountPath").str(), "/study");
    let vol = c.at("volumeMounts.0.name").str();
    assert_eq!(pod.at("volumes.0.name").str(), vol);
    assert_eq!(pod.at("volumes.0.persistentVolumeClaim.claimName").str(), "optlab-study");
    // a pod's index selects the share the plan says
    let o = optlab()
        .args(["study", "run", p.to_str().unwrap()])
        .env("JOB_COMPLETION_INDEX", "11")
        .env("OPTLAB_TASK_COUNT", "12")
        .output()
        .unwrap();
    let mut ran = ran_lines(&text(&o));
    ran.sort();
    assert_eq!(ran, vec![11, 23, 35], "{}", text(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_slurm_script_is_a_job_array_with_its_resources_stated() {
    let d = tmp("sbatch");
    let p = plan(
        &d,
        SMALL,
        &["--tasks", "12", "--parallel", "3", "--cpus-per-task", "2", "--time", "1:30:00", "--partition", "short"],
    );
    let s = std::fs::read_to_string(p.join("slurm.sbatch")).unwrap();
    assert!(s.starts_with("#!/bin/bash\n"));
    let abs = std::fs::canonicalize(&p).unwrap();
    let directives: Vec<&str> = s.lines().filter_map(|l| l.strip_prefix("#SBATCH ")).collect();
    for want in ["--array=0-11%3", "--cpus-per-task=2", "--time=01:30:00", "--partition=short", "--ntasks=1"] {
        assert!(directives.contains(&want), "{want}: {directives:?}");
    }
    assert!(directives.iter().any(|d| d.starts_with("--mem=") && d.ends_with('M')));
    assert!(directives.contains(&format!("--output={}/logs/slurm-%A_%a.out", abs.display()).as_str()));
    assert!(p.join("logs").is_dir(), "Slurm needs the log folder to exist");
    // every directive comes before the first command
    let first_cmd = s.lines().position(|l| !l.starts_with('#')).unwrap();
    assert!(s.lines().skip(first_cmd).all(|l| !l.starts_with("#SBATCH")));
    let last = s.lines().last().unwrap();
    assert!(last.starts_with("exec ") && last.ends_with(&format!("study run {}", abs.display())), "{last}");
    let status = Command::new("bash").args(["-n", p.join("slurm.sbatch").to_str().unwrap()]).status().unwrap();
    assert!(status.success(), "bash -n");
    let _ = std::fs::remove_dir_all(&d);
}

// ---------------------------------------------------------------- hostile inputs

#[test]
fn any_edit_of_a_study_file_is_a_study_or_a_one_line_error() {
    use optlab::limits::Allow;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config { cases: 10_000, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let edits = proptest::collection::vec((0.0..1.0f64, 0usize..12, "[a-z0-9 =\\[\\]{}\",.\\-_+*/()#|\n]{0,12}"), 1..4);
    let (ok, expanded) = (std::cell::Cell::new(0usize), std::cell::Cell::new(0usize));
    let t = Instant::now();
    runner
        .run(&edits, |edits| {
            let mut text = SMALL.to_string();
            for (at, cut, with) in edits {
                let mut i = ((at * text.len() as f64) as usize).min(text.len());
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                let mut j = (i + cut).min(text.len());
                while !text.is_char_boundary(j) {
                    j += 1;
                }
                text.replace_range(i..j, &with);
            }
            match optlab::study::parse(&text, "s.toml", Allow::DEFAULT) {
                Ok(s) => {
                    ok.set(ok.get() + 1);
                    // expand one valid study in eight (expansion validates every point)
                    if ok.get() % 8 == 0 {
                        expanded.set(expanded.get() + 1);
                        if let Err(e) = optlab::study::plan::expand(&s, Allow::DEFAULT) {
                            proptest::prop_assert!(!e.0.contains('\n'), "{}", e.0);
                        }
                    }
                }
                Err(e) => {
                    proptest::prop_assert!(!e.0.contains('\n') && e.0.chars().count() < 1200, "{}", e.0);
                }
            }
            Ok(())
        })
        .unwrap();
    let (ok, expanded) = (ok.get(), expanded.get());
    assert!(ok > 100 && expanded > 10, "the edits kept too few studies valid ({ok})");
    assert!(t.elapsed() < Duration::from_secs(60), "10,000 cases took {:?}", t.elapsed());
}

#[test]
fn a_result_cut_at_any_byte_is_never_taken_for_a_result() {
    let d = tmp("cut");
    let p = plan(&d, SMALL, &[]);
    assert!(run(&["study", "run", p.to_str().unwrap()]).status.success());
    let sd = optlab::study::run::StudyDir::open(&p).unwrap();
    for id in [0, 12, 24] {
        let path = sd.result_path(id);
        let whole = std::fs::read(&path).unwrap();
        // in memory where there is a tmpfs: thousands of small files
        let shm = Path::new("/dev/shm");
        let probe = if shm.is_dir() {
            shm.join(format!("optlab-probe-{}.json", std::process::id()))
        } else {
            d.join("probe.json")
        };
        for cut in 0..whole.len() {
            std::fs::write(&probe, &whole[..cut]).unwrap();
            let r = optlab::study::run::read_result(&probe, &sd.trials[id]);
            // the file ends with a newline after the closing brace: only that may go
            let complete = cut + 1 >= whole.len();
            assert_eq!(matches!(r, Ok(Some(_))), complete, "trial {id} cut at {cut} of {}", whole.len());
        }
        std::fs::write(&probe, &whole).unwrap();
        assert!(matches!(optlab::study::run::read_result(&probe, &sd.trials[id]), Ok(Some(_))));
        // and a whole result is not taken for another trial's
        assert!(optlab::study::run::read_result(&probe, &sd.trials[id + 1]).is_err());
        let _ = std::fs::remove_file(&probe);
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_shipped_example_study_plans_to_the_readme_example() {
    let text = include_str!("../examples/study.toml");
    let s = optlab::study::parse(text, "examples/study.toml", optlab::limits::Allow::DEFAULT).unwrap();
    let labels: Vec<&str> = s.optimizers.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["adam", "adagrad", "adadelta", "sgd"]);
    let t = optlab::study::plan::expand(&s, optlab::limits::Allow::DEFAULT).unwrap();
    assert_eq!(t.len(), 4 * 8 * 5);
    // the lr grid replaces each optimizer's own lr
    let mut lrs: Vec<f64> = t.iter().filter(|t| t.optimizer == 3).map(|t| t.lr).collect();
    lrs.dedup();
    assert_eq!(lrs.len(), 8);
    assert!(lrs.contains(&1e-4) && lrs.contains(&1.0) && !lrs.contains(&0.01));
}

/// Runs optlab with `args`; fails if it takes more than 10 s (a hang), killing it.
fn run_within_10s(args: &[&str]) -> Output {
    let mut child = optlab().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("{args:?} did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn named_pipes_devices_and_directories_in_a_study_folder_are_refused_without_hanging() {
    let d = tmp("special");
    let p = plan(&d, SMALL, &[]);
    let dir = p.to_str().unwrap();
    std::fs::create_dir_all(p.join("results")).unwrap();
    std::fs::create_dir_all(p.join("claims")).unwrap();
    mkfifo(&p.join("results/00000000.json"));
    std::os::unix::fs::symlink("/dev/zero", p.join("results/00000001.json")).unwrap();
    mkfifo(&p.join("claims/00000003.claim"));
    std::fs::create_dir(p.join("claims/00000002.claim")).unwrap();
    let o = run_within_10s(&["study", "status", dir]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run_within_10s(&["study", "report", dir]);
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
    // a directory where a claim goes is an error that names it, not a trial skipped forever
    let o = run_within_10s(&["study", "run", dir]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(err.contains("00000002.claim") && err.contains("directory") && err.trim().lines().count() == 1, "{err}");
    std::fs::remove_dir(p.join("claims/00000002.claim")).unwrap();
    std::fs::remove_file(p.join("claims/00000003.claim")).unwrap();
    let o = run_within_10s(&["study", "run", dir]);
    assert!(o.status.success(), "{}", text(&o));
    // the pipe and the link to /dev/zero were results of no use: both trials ran again
    assert_eq!(outcomes(&p).len(), 36);
    for id in ["00000000", "00000001"] {
        assert!(std::fs::symlink_metadata(p.join(format!("results/{id}.json"))).unwrap().is_file());
    }
    // a plan file that is a pipe: a one-line error at once
    std::fs::remove_file(p.join("trials.jsonl")).unwrap();
    mkfifo(&p.join("trials.jsonl"));
    let o = run_within_10s(&["study", "status", dir]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("named pipe"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn counts_in_an_edited_plan_are_checked_like_counts_on_the_command_line() {
    let d = tmp("counts");
    let p = plan(&d, SMALL, &[]);
    let dir = p.to_str().unwrap();
    let original = std::fs::read_to_string(p.join("plan.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&original).unwrap();
    for (key, value) in [
        ("trials", serde_json::json!(1_000_000_000_000_000_000u64)),
        ("trials", serde_json::json!(100_000_000_000u64)),
        ("tasks", serde_json::json!(0)),
        ("tasks", serde_json::json!(u64::MAX)),
        ("parallel", serde_json::json!(1_000_000_000u64)),
    ] {
        let mut edited = v.clone();
        edited[key] = value.clone();
        std::fs::write(p.join("plan.json"), serde_json::to_string(&edited).unwrap()).unwrap();
        for cmd in ["status", "run", "report"] {
            let o = run_within_10s(&["study", cmd, dir]);
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert_eq!(o.status.code(), Some(2), "{cmd} with {key} = {value}: {}", text(&o));
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn values_written_into_the_job_files_are_quoted_or_refused() {
    let d = tmp("quoting");
    let file = d.join("study.toml");
    std::fs::write(&file, SMALL).unwrap();
    let out = d.join("plan");
    let args = |extra: &[&str]| {
        let mut a = vec!["study", "plan", file.to_str().unwrap(), "--out", out.to_str().unwrap()];
        a.extend_from_slice(extra);
        run(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>())
    };
    for bad in ["debug\nrm -rf ~", "debug'x", "a\"b", "$(id)", "`id`", "a b"] {
        let o = args(&["--partition", bad]);
        assert_eq!(o.status.code(), Some(2), "--partition {bad:?}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).trim().lines().count() == 1, "{}", text(&o));
        let sbatch = std::fs::read_to_string(out.join("slurm.sbatch")).unwrap_or_default();
        assert!(!sbatch.contains("rm -rf"), "{sbatch}");
    }
    for bad in [&["--image", "img\nx: 1"][..], &["--pvc", "p\nq"], &["--binary", "/bin/x\nrm -rf ~"]] {
        let o = args(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
    }
    let o = args(&["--binary", "/opt/$(id)/`id`/it's/optlab", "--partition", "gpu,debug"]);
    assert!(o.status.success(), "{}", text(&o));
    let sbatch = std::fs::read_to_string(out.join("slurm.sbatch")).unwrap();
    let exec = sbatch.lines().find(|l| l.starts_with("exec ")).unwrap();
    assert!(exec.starts_with("exec '/opt/$(id)/`id`/it'\\''s/optlab' study run"), "{exec}");
    assert!(sbatch.contains("#SBATCH --partition=gpu,debug\n"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Found in the audit: the plotting library's log axis loops over every decade, so a study
/// over lr = 1e-200 and 1e200 never finished its report. Our own axis code draws it.
#[test]
fn a_report_over_400_decades_of_learning_rate_finishes_quickly_with_its_figures() {
    let dir = tmp("decades");
    let study = dir.join("decades.toml");
    std::fs::write(
        &study,
        "name = \"decades\"\nseeds = 1\noptimizers = [\"sgd\", \"adam\"]\n[budget]\nsteps = 20\n[space]\nlr = [1e-200, 1e-3, 1e200]\n[[problem]]\nfunction = \"rosenbrock\"\n",
    )
    .unwrap();
    let p = dir.join("study");
    let o = run(&["study", "plan", study.to_str().unwrap(), "--out", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["study", "run", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = Instant::now();
    let mut child = optlab().args(["study", "report", p.to_str().unwrap()]).stdout(Stdio::null()).spawn().unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("study report over 1e-200..1e200 took more than 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let svg = std::fs::read_to_string(p.join("report/lr-rosenbrock.svg")).unwrap();
    assert!(svg.contains("1e200") && svg.contains("1e-200"), "the lr axis is labelled in decades");
}
