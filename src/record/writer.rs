//! The one place optlab writes files.
//!
//! - Every file is written atomically: to a temporary file in the same folder, then renamed
//!   over the target, so a crash, a full disk or Ctrl-C never leaves half a file under the
//!   real name. A failed write removes its temporary file.
//! - An output folder ([`OutDir`]) is checked before any work starts (not a file, not inside
//!   /proc or /sys, writable), remembers which files this run wrote, and on [`OutDir::finish`]
//!   removes the files an earlier optlab run wrote there that this run did not (old map
//!   panels, an old GIF), listed in its manifest `.optlab-files`. Files optlab did not write
//!   are never touched.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Component, Path, PathBuf};

/// The manifest of the files an optlab run wrote into a folder, one relative path per line.
pub const MANIFEST: &str = ".optlab-files";
/// The files of earlier runs while a run writes into their folder: the manifest is moved
/// here when a run starts and the new one is written when it finishes, so a run that fails
/// or is killed halfway leaves no manifest (the folder does not look complete), and the
/// next run still knows the earlier files to remove.
pub const PENDING: &str = ".optlab-files.previous";

/// The temporary name of `path` for this process: `.<name>.tmp<pid>` beside it.
fn temp_for(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically, creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| std::fs::write(tmp, bytes).with_context(|| format!("cannot write {}", path.display())))
}

/// Lets `write` produce the file at a temporary path, then renames it to `path`; on any
/// error the temporary file is removed. For writers that insist on a path of their own
/// (the GIF encoder).
pub fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    create_parent(path)?;
    let tmp = temp_for(path);
    let done = write(&tmp).and_then(|()| {
        // flush the data before the rename makes it visible under the real name
        if let Ok(f) = std::fs::File::open(&tmp) {
            let _ = f.sync_data();
        }
        std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
    });
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// Why `dir` cannot be an output folder, checked before any work: it is a file, lies in
/// /proc, /sys or /dev, or cannot be created or written to.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    let shown = dir.display();
    if dir.as_os_str().is_empty() {
        bail!("--out is empty: name a folder");
    }
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().map(|c| c.join(dir)).unwrap_or_else(|_| dir.to_path_buf())
    };
    let mut parts = absolute.components().filter(|c| matches!(c, Component::Normal(_)));
    if let Some(Component::Normal(first)) = parts.next() {
        if ["proc", "sys", "dev"].iter().any(|p| first == *p) {
            bail!("--out {shown}: /{} is not a place for files; choose a normal folder", first.to_string_lossy());
        }
    }
    if dir.exists() && !dir.is_dir() {
        bail!("--out {shown} is a file, not a folder; choose another --out");
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("--out {shown}: cannot create the folder ({})", plain(&e)))?;
    let probe = dir.join(format!(".optlab-probe.tmp{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!("--out {shown}: cannot write there ({})", plain(&e)),
    }
}

/// An io error without its "(os error N)" tail.
fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An output folder: checked when opened, the files written tracked, stale ones removed at
/// the end.
#[derive(Debug)]
pub struct OutDir {
    dir: PathBuf,
    written: Vec<String>,
    previous: Vec<String>,
}

/// A relative path inside an output folder, with `/` separators and no `..`.
fn clean_rel(rel: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => bail!("internal: output path {} must be relative and stay in the folder", rel.display()),
        }
    }
    if parts.is_empty() {
        bail!("internal: empty output path");
    }
    Ok(parts.join("/"))
}

impl OutDir {
    /// Checks and creates `dir`, reads what an earlier run wrote there and removes the
    /// temporary files of optlab processes that no longer run.
    pub fn open(dir: &Path) -> Result<OutDir> {
        check_out_dir(dir)?;
        let read = |name: &str| -> Vec<String> {
            std::fs::read_to_string(dir.join(name))
                .map(|s| s.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
                .unwrap_or_default()
        };
        let mut previous = read(PENDING);
        for f in read(MANIFEST) {
            if !previous.contains(&f) {
                previous.push(f);
            }
        }
        if dir.join(MANIFEST).exists() {
            let mut list = previous.join("\n");
            list.push('\n');
            write_atomic(&dir.join(PENDING), list.as_bytes())?;
            std::fs::remove_file(dir.join(MANIFEST))
                .with_context(|| format!("cannot replace {}", dir.join(MANIFEST).display()))?;
        }
        let out = OutDir { dir: dir.to_path_buf(), written: Vec::new(), previous };
        out.remove_dead_temps();
        Ok(out)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The full path of `rel` in the folder.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    fn own(&mut self, rel: &Path) -> Result<PathBuf> {
        let key = clean_rel(rel)?;
        if !self.written.contains(&key) {
            self.written.push(key);
        }
        Ok(self.dir.join(rel))
    }

    /// Writes `bytes` to `rel` atomically; returns its path.
    pub fn bytes(&mut self, rel: impl AsRef<Path>, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.own(rel.as_ref())?;
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Writes `value` as pretty JSON to `rel`.
    pub fn json<T: serde::Serialize>(&mut self, rel: impl AsRef<Path>, value: &T) -> Result<PathBuf> {
        let s = serde_json::to_string_pretty(value).context("serialising JSON")?;
        self.bytes(rel, s.as_bytes())
    }

    /// Lets `write` produce `rel` at a temporary path (see [`write_with`]).
    pub fn with(&mut self, rel: impl AsRef<Path>, write: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let path = self.own(rel.as_ref())?;
        write_with(&path, write)?;
        Ok(path)
    }

    /// The files written so far, in order.
    pub fn written(&self) -> Vec<PathBuf> {
        self.written.iter().map(|r| self.dir.join(r)).collect()
    }

    /// Removes what an earlier run wrote here and this one did not, and records this run's
    /// files in the manifest. Call it also after an interruption: what this run completed
    /// stays, stale files of earlier runs go. Returns the files written.
    pub fn finish(self) -> Result<Vec<PathBuf>> {
        for old in &self.previous {
            if self.written.contains(old) || clean_rel(Path::new(old)).ok().as_deref() != Some(old.as_str()) {
                continue;
            }
            let p = self.dir.join(old);
            if p.is_file() {
                let _ = std::fs::remove_file(&p);
                // an emptied subfolder of ours goes too; a folder with foreign files stays
                if let Some(parent) = p.parent() {
                    if parent != self.dir {
                        let _ = std::fs::remove_dir(parent);
                    }
                }
            }
        }
        let mut list = self.written.join("\n");
        list.push('\n');
        write_atomic(&self.dir.join(MANIFEST), list.as_bytes())?;
        let _ = std::fs::remove_file(self.dir.join(PENDING));
        Ok(self.written())
    }

    /// Removes `.name.tmpPID` files in the folder whose process is gone (Linux; elsewhere
    /// nothing is removed).
    fn remove_dead_temps(&self) {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(i) = name.rfind(".tmp") else { continue };
            if !name.starts_with('.') {
                continue;
            }
            let Ok(pid) = name[i + 4..].parse::<u32>() else { continue };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Records written as they complete: every [`Streamed::push`] rewrites the file atomically
/// with all the rows so far, so that a run killed outright (SIGKILL, a node failure) keeps
/// what it finished. The end of the run writes the file again in its final order.
pub struct Streamed<T> {
    path: PathBuf,
    rows: std::sync::Mutex<Vec<T>>,
    render: fn(&[T]) -> String,
}

impl<T> Streamed<T> {
    pub fn new(path: PathBuf, render: fn(&[T]) -> String) -> Streamed<T> {
        Streamed { path, rows: std::sync::Mutex::new(Vec::new()), render }
    }

    /// Adds a completed row and rewrites the file (a failed write is retried by the next
    /// push and by the end of the run).
    pub fn push(&self, row: T) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        rows.push(row);
        let _ = write_atomic(&self.path, (self.render)(&rows).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("optlab-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_second_run_removes_its_own_stale_files_and_keeps_foreign_ones() {
        let d = scratch("stale");
        let mut a = OutDir::open(&d).unwrap();
        a.bytes("keep.csv", b"1").unwrap();
        a.bytes("map-3-old.png", b"1").unwrap();
        a.bytes("sub/old.svg", b"1").unwrap();
        a.finish().unwrap();
        std::fs::write(d.join("notes.txt"), b"mine").unwrap();
        let mut b = OutDir::open(&d).unwrap();
        b.bytes("keep.csv", b"2").unwrap();
        b.finish().unwrap();
        assert_eq!(std::fs::read(d.join("keep.csv")).unwrap(), b"2");
        assert!(!d.join("map-3-old.png").exists() && !d.join("sub").exists());
        assert_eq!(std::fs::read(d.join("notes.txt")).unwrap(), b"mine");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_rerun_that_stops_halfway_leaves_no_manifest_and_the_next_run_cleans_up() {
        let d = scratch("halfway");
        let mut a = OutDir::open(&d).unwrap();
        for f in ["summary.json", "contour.png", "loss.png"] {
            a.bytes(f, b"old").unwrap();
        }
        a.finish().unwrap();
        // a rerun killed (or failing) after its first file: the folder is not marked complete
        let mut b = OutDir::open(&d).unwrap();
        assert!(!d.join(MANIFEST).exists(), "the old manifest must go when a rerun starts");
        b.bytes("summary.json", b"new").unwrap();
        drop(b);
        assert!(!d.join(MANIFEST).exists() && d.join("contour.png").exists());
        // the next complete run still removes the first run's files
        let mut c = OutDir::open(&d).unwrap();
        c.bytes("summary.json", b"newer").unwrap();
        c.finish().unwrap();
        assert!(!d.join("contour.png").exists() && !d.join("loss.png").exists() && !d.join(PENDING).exists());
        assert_eq!(std::fs::read_to_string(d.join(MANIFEST)).unwrap(), "summary.json\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let d = scratch("fail");
        let mut o = OutDir::open(&d).unwrap();
        assert!(o.with("x.gif", |_| bail!("encoder failed")).is_err());
        let names: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(names.is_empty(), "{names:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_out_that_is_a_file_or_in_proc_is_refused_before_work() {
        let d = scratch("file");
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("f");
        std::fs::write(&f, b"").unwrap();
        assert!(check_out_dir(&f).unwrap_err().to_string().contains("is a file"));
        assert!(check_out_dir(Path::new("/proc/self/x")).unwrap_err().to_string().contains("/proc"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
