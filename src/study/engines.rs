//! The batch files of the two engines: a Slurm job array (`slurm.sbatch`) and a Kubernetes
//! Indexed Job (`k8s-job.yaml`). Each task runs `optlab study run DIR`, which reads its
//! index from the engine (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX) and runs the trials
//! whose id ≡ index (mod tasks).

use super::plan::Plan;
use std::fmt::Write as _;

/// Where and how the tasks run.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// The optlab binary the Slurm tasks run (an absolute path, or a name on PATH).
    pub binary: String,
    /// The study folder as the Slurm tasks see it (absolute).
    pub dir: String,
    /// Slurm partition (None: the cluster's default).
    pub partition: Option<String>,
    /// Container image with optlab on its PATH.
    pub image: String,
    /// PersistentVolumeClaim holding the study folder, mounted at `mount`.
    pub pvc: String,
    pub mount: String,
}

/// Refuses values that cannot be written safely into the Slurm script or the Kubernetes
/// manifest: no value may hold a control character (a newline would start a new line of
/// the script, even inside a comment; a NUL ends it), and the partition, which stands in
/// an `#SBATCH` line that no shell reads and so cannot be quoted, is a plain name.
pub fn check(o: &EngineOptions) -> Result<(), super::StudyError> {
    let fields = [
        ("--binary", o.binary.as_str()),
        ("--out", o.dir.as_str()),
        ("--image", o.image.as_str()),
        ("--pvc", o.pvc.as_str()),
        ("--mount", o.mount.as_str()),
    ];
    for (flag, v) in fields.into_iter().chain(o.partition.as_deref().map(|p| ("--partition", p))) {
        if let Some(c) = v.chars().find(|c| c.is_control()) {
            return Err(super::StudyError(format!(
                "{flag} '{}' holds the control character {:?}, which cannot go into the job files",
                crate::limits::shorten(&v.escape_debug().to_string(), 60),
                c
            )));
        }
    }
    if let Some(p) = &o.partition {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || "_.,-".contains(c)) {
            return Err(super::StudyError(format!(
                "--partition '{}': a Slurm partition is letters, digits, '_', '.', '-' (and ',' between several)",
                crate::limits::shorten(&p.escape_debug().to_string(), 60)
            )));
        }
    }
    // #SBATCH --output= holds the folder unquoted
    if o.dir.chars().any(|c| c.is_whitespace() || "'\"\\$`%".contains(c)) {
        return Err(super::StudyError(format!(
            "--out {}: Slurm's #SBATCH lines cannot hold this path (spaces, quotes or %); choose a plain folder",
            crate::limits::shorten(&o.dir, 80)
        )));
    }
    Ok(())
}

/// A line of text for a comment: control characters become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A name of lowercase letters, digits and dashes (a Kubernetes object name, a Slurm job
/// name): `optlab-<name>`, at most 52 characters.
pub fn job_name(study: &str) -> String {
    let mut s: String =
        study.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let mut name = format!("optlab-{}", if s.is_empty() { "study" } else { s });
    name.truncate(52);
    name.trim_end_matches('-').to_string()
}

/// `HH:MM:SS` (or `D-HH:MM:SS`) for Slurm's --time.
pub fn slurm_time(minutes: u64) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:00")
    } else {
        format!("{h:02}:{m:02}:00")
    }
}

fn header(plan: &Plan, comment: &str) -> String {
    let r = &plan.resources;
    let mut s = String::new();
    let per = plan.trials.div_ceil(plan.tasks);
    let _ = writeln!(
        s,
        "{comment} optlab study \"{}\": {} trials in {} tasks (task I runs trials I, I+{}, I+{}, ...; at most {per} each),",
        one_line(&plan.name),
        plan.trials,
        plan.tasks,
        plan.tasks,
        2 * plan.tasks
    );
    let _ = writeln!(s, "{comment} at most {} tasks at once.", plan.parallel);
    let _ = writeln!(
        s,
        "{comment} Resources per task: {} CPU{}, {} MB of memory, {} minutes. Estimated: the longest trial takes about {} s",
        r.cpus_per_task,
        if r.cpus_per_task == 1 { "" } else { "s" },
        r.mem_mb,
        r.time_minutes,
        crate::limits::fmt_value((r.trial_seconds_max * 10.0).ceil() / 10.0)
    );
    let _ = writeln!(
        s,
        "{comment} on one core, the whole study about {} core-seconds (rough: the time limit is 4x the estimate).",
        crate::limits::fmt_value(r.study_core_seconds.ceil())
    );
    let _ = writeln!(
        s,
        "{comment} A task that is stopped (time limit, preemption, a failed node) keeps its finished trials;"
    );
    let _ =
        writeln!(s, "{comment} submit the same file again and the rest run. Made by optlab {}.", plan.optlab_version);
    s
}

/// The Slurm job array: `--array=0-(tasks−1)%parallel`, one `optlab study run DIR` per
/// task, logs in DIR/logs.
pub fn slurm_sbatch(plan: &Plan, o: &EngineOptions) -> String {
    let r = &plan.resources;
    let dir = shell_quote(&o.dir);
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&header(plan, "#"));
    let _ = writeln!(s, "#");
    let _ = writeln!(s, "# Submit:   sbatch {}/slurm.sbatch", dir);
    let _ = writeln!(s, "# Progress: optlab study status {dir}");
    let _ = writeln!(s, "# Report:   optlab study report {dir}");
    let _ = writeln!(s, "#SBATCH --job-name={}", job_name(&plan.name));
    let _ = writeln!(s, "#SBATCH --array=0-{}%{}", plan.tasks - 1, plan.parallel);
    let _ = writeln!(s, "#SBATCH --ntasks=1");
    let _ = writeln!(s, "#SBATCH --cpus-per-task={}", r.cpus_per_task);
    let _ = writeln!(s, "#SBATCH --mem={}M", r.mem_mb);
    let _ = writeln!(s, "#SBATCH --time={}", slurm_time(r.time_minutes));
    // #SBATCH lines are not read by a shell: the path must not need quotes (plan checks it)
    let _ = writeln!(s, "#SBATCH --output={}/logs/slurm-%A_%a.out", o.dir);
    if let Some(p) = &o.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    s.push_str("set -eu\n");
    let _ = writeln!(s, "exec {} study run {dir}", shell_quote(&o.binary));
    s
}

/// A YAML string in double quotes.
fn yq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Kubernetes Indexed Job: `completions` = tasks, `parallelism` = tasks at once, each
/// pod running `optlab study run MOUNT` in the image, the study folder on a
/// PersistentVolumeClaim (ReadWriteMany, so all pods share it).
pub fn k8s_job(plan: &Plan, o: &EngineOptions) -> String {
    let r = &plan.resources;
    let name = job_name(&plan.name);
    let mut s = header(plan, "#");
    s.push_str("#\n");
    let _ = writeln!(
        s,
        "# The study folder must be on the volume {} (ReadWriteMany), mounted at {}:",
        one_line(&o.pvc),
        one_line(&o.mount)
    );
    let _ = writeln!(s, "# copy it there (e.g. kubectl cp into a pod that mounts the claim), then");
    let _ = writeln!(s, "#   kubectl apply -f k8s-job.yaml");
    let _ = writeln!(s, "#   kubectl get job {name}; kubectl logs -l job-name={name}");
    let _ = writeln!(s, "# and read the results back with `optlab study status|report` on a copy of the folder.");
    s.push_str("apiVersion: batch/v1\nkind: Job\nmetadata:\n");
    let _ = writeln!(s, "  name: {name}");
    s.push_str("  labels:\n    app: optlab-study\nspec:\n");
    s.push_str("  completionMode: Indexed\n");
    let _ = writeln!(s, "  completions: {}", plan.tasks);
    let _ = writeln!(s, "  parallelism: {}", plan.parallel);
    let _ = writeln!(s, "  backoffLimit: {}", plan.tasks.max(6));
    let _ = writeln!(s, "  activeDeadlineSeconds: {}", r.time_minutes * 60 * plan.tasks.div_ceil(plan.parallel) as u64);
    s.push_str("  template:\n    metadata:\n      labels:\n        app: optlab-study\n    spec:\n");
    s.push_str("      restartPolicy: Never\n      containers:\n        - name: optlab\n");
    let _ = writeln!(s, "          image: {}", yq(&o.image));
    let _ = writeln!(s, "          command: [\"optlab\", \"study\", \"run\", {}]", yq(&o.mount));
    s.push_str("          env:\n            - name: OPTLAB_TASK_COUNT\n");
    let _ = writeln!(s, "              value: \"{}\"", plan.tasks);
    s.push_str("            - name: RAYON_NUM_THREADS\n");
    let _ = writeln!(s, "              value: \"{}\"", r.cpus_per_task);
    s.push_str("          resources:\n            requests:\n");
    let _ = writeln!(s, "              cpu: \"{}\"", r.cpus_per_task);
    let _ = writeln!(s, "              memory: \"{}Mi\"", r.mem_mb);
    s.push_str("            limits:\n");
    let _ = writeln!(s, "              memory: \"{}Mi\"", r.mem_mb);
    s.push_str("          volumeMounts:\n            - name: study\n");
    let _ = writeln!(s, "              mountPath: {}", yq(&o.mount));
    s.push_str("      volumes:\n        - name: study\n          persistentVolumeClaim:\n");
    let _ = writeln!(s, "            claimName: {}", yq(&o.pvc));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_quotes_are_safe() {
        assert_eq!(job_name("My Study: v2!"), "optlab-my-study-v2");
        assert_eq!(job_name("???"), "optlab-study");
        assert!(job_name(&"x".repeat(200)).len() <= 52);
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(slurm_time(90), "01:30:00");
        assert_eq!(slurm_time(1500), "1-01:00:00");
        assert_eq!(yq("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn control_characters_and_odd_partitions_are_refused() {
        let base = EngineOptions {
            binary: "/usr/bin/optlab".into(),
            dir: "/scratch/study".into(),
            partition: Some("debug".into()),
            image: "optlab:1".into(),
            pvc: "study".into(),
            mount: "/study".into(),
        };
        assert!(check(&base).is_ok());
        for bad in ["debug\nrm -rf ~", "a'b", "a\"b", "$(id)", "`id`", "a\0b", "a b", ""] {
            let o = EngineOptions { partition: Some(bad.into()), ..base.clone() };
            let e = check(&o).unwrap_err().0;
            assert!(!e.contains('\n') && e.contains("--partition"), "{bad:?}: {e}");
        }
        for nl in ["x\ny", "x\0y", "x\ry"] {
            for o in [
                EngineOptions { binary: nl.into(), ..base.clone() },
                EngineOptions { image: nl.into(), ..base.clone() },
                EngineOptions { pvc: nl.into(), ..base.clone() },
                EngineOptions { mount: format!("/{nl}"), ..base.clone() },
                EngineOptions { dir: format!("/{nl}"), ..base.clone() },
            ] {
                assert!(check(&o).is_err(), "{o:?}");
            }
        }
        // quotes, $() and backticks in the binary are quoted, not run
        let o = EngineOptions { binary: "/opt/$(id)/`id`/it's/optlab".into(), ..base.clone() };
        assert!(check(&o).is_ok());
        assert_eq!(shell_quote(&o.binary), "'/opt/$(id)/`id`/it'\\''s/optlab'");
    }
}
