//! The language-model command line end to end on the embedded tiny Shakespeare: a short
//! `train --model gpt` writes its records, figures and a checkpoint that `sample` reads
//! back; bad model keys, text files, prompts, temperatures and partitions are one-line
//! errors with exit code 2.

use std::process::Command;

fn optlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_optlab")).args(args).output().unwrap()
}

fn fails_with(args: &[&str], says: &str) {
    let o = optlab(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
}

#[test]
fn a_short_gpt_run_writes_records_figures_and_a_checkpoint_that_sample_reads() {
    let dir = std::env::temp_dir().join(format!("optlab-gpt-cli-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let spec = "gpt(n_layer=1, n_head=2, n_embd=16, block_size=16)";
    let o = optlab(&[
        "train",
        "--model",
        spec,
        "--steps",
        "6",
        "--eval-every",
        "3",
        "--eval-batches",
        "2",
        "--batch-size",
        "4",
        "--checkpoint-every",
        "3",
        "-o",
        "adamw(lr=1e-2)",
        "--out",
        d,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "history.csv",
        "steps.csv",
        "summary.json",
        "val_loss.png",
        "val_loss.svg",
        "val_loss_seconds.svg",
        "train_loss.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let hist = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert!(hist
        .starts_with("optimizer,seed,step,train_loss,val_loss,val_perplexity,val_bits_per_char,lr,tokens,seconds\n"));
    assert_eq!(hist.lines().count(), 3, "{hist}");
    let steps = std::fs::read_to_string(dir.join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), 7);
    let ck: Vec<_> = std::fs::read_dir(dir.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(ck.len(), 1);
    let c = ck[0].to_str().unwrap();
    let s1 = optlab(&["sample", c, "--prompt", "ROMEO:", "--chars", "40", "--seed", "3"]);
    assert!(s1.status.success(), "{}", String::from_utf8_lossy(&s1.stderr));
    let text = String::from_utf8_lossy(&s1.stdout).to_string();
    assert!(text.starts_with("ROMEO:") && text.chars().count() >= 46, "{text}");
    let s2 = optlab(&["sample", c, "--prompt", "ROMEO:", "--chars", "40", "--seed", "3"]);
    assert_eq!(s1.stdout, s2.stdout, "the same seed gives the same text");
    fails_with(&["sample", c, "--prompt", "ROMEO€"], "not in the model's vocabulary");
    fails_with(&["sample", c, "--temperature", "0"], "--temperature");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_language_model_inputs_are_one_line_errors() {
    fails_with(&["sample", "/nonexistent/model.safetensors"], "model.safetensors");
    fails_with(&["train", "--model", "gpt(n_layers=4)", "--steps", "1"], "unknown key 'n_layers'");
    fails_with(&["train", "--model", "gpt(n_embd=130, n_head=4)", "--steps", "1"], "not a multiple");
    fails_with(&["train", "--model", "gpt", "--steps", "1", "-o", "partition(hidden=sgd(), rest=None)"], "not covered");
    let dir = std::env::temp_dir().join(format!("optlab-gpt-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes, says) in
        [("e.txt", &b""[..], "empty"), ("b.bin", &b"\x00\x01"[..], "binary"), ("s.txt", &b"short"[..], "too short")]
    {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        fails_with(&["train", "--text", p.to_str().unwrap(), "--steps", "1"], says);
    }
    let not_ck = dir.join("e.txt");
    fails_with(&["sample", not_ck.to_str().unwrap()], "safetensors");
    std::fs::remove_dir_all(&dir).ok();
}
