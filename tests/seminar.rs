//! End-to-end: `optlab seminar --quick` writes every file it promises, and its report holds
//! every section, figure and table.

use std::path::Path;
use std::process::Command;

#[test]
fn seminar_quick_writes_the_report_records_and_figures() {
    let out = std::env::temp_dir().join(format!("optlab-seminar-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(["seminar", "--quick", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("part 1: quadratic") && stdout.contains("part 2: cnn"), "progress lines missing: {stdout}");

    let must = |p: &Path| assert!(p.is_file() && std::fs::metadata(p).unwrap().len() > 0, "missing {}", p.display());
    for f in ["quadratic", "saddle", "sin-cos", "sin-cos-sq"] {
        for setting in ["lr0.1", "tuned"] {
            if f == "saddle" && setting == "tuned" {
                continue; // nothing to tune: no minimum
            }
            let d = out.join("part1").join(f).join(setting);
            for file in [
                "trajectories.csv",
                "summary.json",
                "contour.png",
                "contour.svg",
                "surface.png",
                "surface.svg",
                "loss.png",
                "loss.svg",
            ] {
                must(&d.join(file));
            }
        }
    }
    for f in ["sin-cos", "sin-cos-sq"] {
        for file in ["map.csv", "map.json", "panel.png", "panel.svg"] {
            must(&out.join("part1").join(f).join("maps").join(file));
        }
    }
    for m in ["mlp", "cnn"] {
        let d = out.join("part2").join(m);
        for file in [
            "history.csv",
            "steps.csv",
            "summary.json",
            "curves_grid.png",
            "curves_grid.svg",
            "curves.png",
            "curves.svg",
        ] {
            must(&d.join(file));
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for remote in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(!html.contains(remote), "the page must not load anything ({remote})");
    }
    for section in [
        "1.1 The methods",
        "1.2 quadratic",
        "1.3 saddle",
        "1.4 sin-cos",
        "1.5 sin-cos-sq",
        "2.1 mlp",
        "2.2 cnn",
        "Conclusions",
    ] {
        assert!(html.contains(section), "section {section} missing");
    }
    // 7 compare sets × 3 figures + 2 basin-map panels + 2 models × 2 figures, all inlined
    assert_eq!(html.matches("<figure><svg").count(), 7 * 3 + 2 + 2 * 2);
    assert!(html.matches("<table>").count() >= 7 + 3 + 2);
    for meta in ["machine", "optlab", "seed", "total run time", "data"] {
        assert!(html.contains(&format!("<td>{meta}</td>")), "meta {meta} missing");
    }
    assert!(html.contains("Fastest to converge") && html.contains("Lowest final training loss"));
    assert!(html.contains("Nothing to tune"));
    // the report says which data part 2 used, and how to check it on the full set
    assert!(
        html.contains("Data: every number and verdict above comes from the embedded MNIST subset")
            && html.contains("Part 2 ran on the embedded MNIST subset")
            && html.contains("optlab seminar --full"),
        "the report does not say that part 2 ran on the embedded subset"
    );

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.starts_with("# Seminar 7"));
    let pngs: Vec<&str> = md.lines().filter(|l| l.starts_with("![")).collect();
    assert_eq!(pngs.len(), 7 * 3 + 2 + 2 * 2);
    for l in pngs {
        let rel = &l[l.find("](").unwrap() + 2..l.len() - 1];
        assert!(out.join(rel).is_file(), "report.md links a missing {rel}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn seminar_quick_modern_adds_the_modern_methods_section() {
    let out = std::env::temp_dir().join(format!("optlab-seminar-modern-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_optlab"))
        .args(["seminar", "--quick", "--modern", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for section in [
        "3.1 Modern methods on the seminar",
        "3.2 Modern methods training the mlp",
        "3.3 Modern methods training the cnn",
        "3.4 Modern methods training a character-level GPT",
    ] {
        assert!(html.contains(section), "section {section} missing");
    }
    // the GPT: five runs of 4 steps (--quick), each evaluated and sampled after "ROMEO:"
    let h = std::fs::read_to_string(out.join("modern/gpt/history.csv")).unwrap();
    for m in ["adamw (nanoGPT)", "muon + adamw", "lion", "soap", "sf-adamw"] {
        assert!(h.lines().any(|l| l.contains(m) && l.contains(",4,")), "{m}: no evaluation at step 4 in\n{h}");
    }
    assert_eq!(html.matches("<pre>ROMEO:").count(), 5, "one sample per method");
    for f in ["val_loss.svg", "val_loss_seconds.png", "summary.json"] {
        assert!(out.join("modern/gpt").join(f).is_file(), "modern/gpt/{f} missing");
    }
    for m in ["lion", "sf-adamw", "muon", "prodigy", "soap"] {
        assert!(html.contains(m), "{m} missing from the report");
    }
    for f in ["quadratic", "sin-cos"] {
        let csv = std::fs::read_to_string(out.join("modern/part1").join(f).join("trajectories.csv")).unwrap();
        assert!(csv.lines().any(|l| l.starts_with("\"muon") || l.starts_with("muon")), "{f}: no muon rows");
    }
    for m in ["mlp", "cnn"] {
        let h = std::fs::read_to_string(out.join("modern/part2").join(m).join("history.csv")).unwrap();
        assert_eq!(h.lines().count(), 1 + 5 * 2, "{m}: five methods × two epochs");
    }
    let _ = std::fs::remove_dir_all(&out);
}
