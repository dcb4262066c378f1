//! `optlab study` on the character-level GPT: a language-model problem plans, runs and
//! reports like an MNIST one (lrs × seeds), ranked by the last validation loss, with that
//! loss in `results.csv` and the report; its keys and metrics are checked like any other.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().expect("run optlab")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("optlab-study-lm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const STUDY: &str = r#"
name = "gpt-tiny"
seeds = 2
optimizers = ["adamw(betas=(0.9, 0.99)) | clip_grad_norm(max_norm=1.0)", "lion"]
[space]
lr = { values = [1e-3, 3e-3] }
[[problem]]
train = "gpt(n_layer=1, n_head=2, n_embd=16, block_size=16)"
steps = 8
batch_size = 4
eval_every = 4
eval_batches = 2
target = { loss = 4.1 }
"#;

#[test]
fn a_gpt_study_sweeps_lrs_and_seeds_and_ranks_them_by_validation_loss() {
    let d = tmp("plan");
    let file = d.join("study.toml");
    std::fs::write(&file, STUDY).unwrap();
    let p = d.join("plan");
    let o = run(&["study", "plan", file.to_str().unwrap(), "--out", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(p.join("trials.jsonl")).unwrap().lines().count(), 2 * 2 * 2);
    let o = run(&["study", "run", p.to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("validation loss"), "{out}");
    let o = run(&["study", "report", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = p.join("report");
    let csv = std::fs::read_to_string(r.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "val_loss").expect("a val_loss column");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        // the spec fields are quoted and hold commas: count from the end
        let cells: Vec<&str> = row.split(',').collect();
        let v: f64 = cells[cells.len() - (header.len() - col)].parse().unwrap_or_else(|_| panic!("{row}"));
        assert!(v > 2.0 && v < 5.0, "validation loss {v} of a barely trained 65-character model: {row}");
    }
    let html = std::fs::read_to_string(r.join("index.html")).unwrap();
    assert!(html.contains("final validation loss") && html.contains("8 steps"), "report");
    // a second run finds every trial done
    let o = run(&["study", "run", p.to_str().unwrap()]);
    assert!(text(&o).contains("ran 0, already done 8"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_language_model_problems_are_one_line_errors() {
    let d = tmp("bad");
    for (change, want) in [
        (("steps = 8", "epochs = 3"), "epochs is not for a language model"),
        (("eval_batches = 2", "eval_batches = 0"), "eval_batches = 0"),
        (("target = { loss = 4.1 }", "target = { accuracy = 0.5 }"), "no accuracy"),
        (("target = { loss = 4.1 }", "select = \"test_accuracy\""), "not for a language model"),
        (("n_embd=16", "n_embd=15"), "gpt"),
        (("batch_size = 4", "batch_size = 4\ntext = \"/nonexistent/file.txt\""), "/nonexistent/file.txt"),
    ] {
        let study = STUDY.replace(change.0, change.1);
        let file = d.join("s.toml");
        std::fs::write(&file, &study).unwrap();
        let o = run(&["study", "plan", file.to_str().unwrap(), "--out", d.join("p").to_str().unwrap()]);
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{change:?}: {}", text(&o));
        assert!(e.contains(want) && e.trim().lines().count() == 1, "{change:?}: {e}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
