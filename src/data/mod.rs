//! Datasets of grey images with 10 classes: MNIST and Fashion-MNIST (28×28), or files of
//! the same format with images of any other size (models follow [`Dataset::input_shape`]).
//! The training set must hold images; an empty test set means a run has no test metrics.
//!
//! Where the files are looked for: `--data-dir`, then `$OPTLAB_DATA`, then `./data/<name>`
//! (each either holding the four files or a `<name>/` folder with them). MNIST also has an
//! embedded subset (the first 10,000 training and 2,000 test images) compiled into the
//! binary, used when the full files are not found. Pixels stay `u8` in memory; batches are
//! normalised when they are assembled.

pub mod fetch;
pub mod idx;
pub mod text;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// One split (train or test).
#[derive(Clone, Debug)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
    /// The file the images came from (for messages).
    pub file: String,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }
    /// Writes the normalised images of `indices` into `out` (row-major, one image a row).
    pub fn gather(&self, indices: &[usize], mean: f32, std: f32, out: &mut [f32]) {
        // compiled with the CPU's FMA (one instruction instead of a library call per pixel)
        crate::fused!(self.gather_with(indices, mean, std, out))
    }

    #[inline(always)]
    fn gather_with(&self, indices: &[usize], mean: f32, std: f32, out: &mut [f32]) {
        let p = self.pixels();
        // (v/255 − mean)/std, computed as one multiply-add per pixel so it vectorises; it
        // differs from torchvision's two-step rounding by at most an ulp.
        let scale = 1.0 / (255.0 * std);
        let shift = -mean / std;
        for (k, &i) in indices.iter().enumerate() {
            let src = &self.images[i * p..(i + 1) * p];
            for (o, &v) in out[k * p..(k + 1) * p].iter_mut().zip(src) {
                *o = (v as f32).mul_add(scale, shift);
            }
        }
    }
}

/// A dataset with its normalisation and where it came from.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub train: Split,
    pub test: Split,
    pub mean: f32,
    pub std: f32,
    /// Where the files were read from, or "embedded subset".
    pub source: String,
}

impl Dataset {
    /// The shape of one image as a model's input: 1 channel × rows × columns.
    pub fn input_shape(&self) -> crate::nn::Shape {
        crate::nn::Shape { c: 1, h: self.train.rows, w: self.train.cols }
    }
}

/// A dataset optlab knows.
pub struct DatasetInfo {
    pub name: &'static str,
    pub mean: f32,
    pub std: f32,
    pub licence: &'static str,
}

pub const DATASETS: &[DatasetInfo] = &[
    DatasetInfo { name: "mnist", mean: 0.1307, std: 0.3081, licence: "CC BY-SA 3.0" },
    DatasetInfo { name: "fashion-mnist", mean: 0.2860, std: 0.3530, licence: "MIT" },
];

pub const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

pub fn info(name: &str) -> Result<&'static DatasetInfo> {
    match DATASETS.iter().find(|d| d.name == name) {
        Some(d) => Ok(d),
        None => bail!("unknown dataset '{name}' (known: mnist, fashion-mnist)"),
    }
}

fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()].into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The folders searched for `name`, in order.
pub fn search_dirs(name: &str, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(d) = data_dir {
        roots.push(d.to_path_buf());
    }
    if let Some(env) = std::env::var_os("OPTLAB_DATA") {
        roots.push(PathBuf::from(env));
    }
    roots.push(PathBuf::from("data"));
    let mut dirs = Vec::new();
    for r in roots {
        dirs.push(r.join(name));
        dirs.push(r);
    }
    dirs
}

/// One split from its images and labels (`files`: their names, for messages). An empty
/// training set is an error; an empty test set is allowed (no test metrics).
fn split_from(images: idx::Idx, labels: idx::Idx, files: [&str; 2], train: bool) -> Result<Split> {
    let [image_file, label_file] = files;
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        bail!("{image_file} holds {n} images but {label_file} holds {} labels", labels.dims[0]);
    }
    if train && n == 0 {
        bail!("{image_file}: the training set holds no images");
    }
    if n > 0 && (rows == 0 || cols == 0) {
        bail!("{image_file}: images of {rows}×{cols} pixels (each side needs at least 1 pixel)");
    }
    check_label_range(&labels, label_file)?;
    Ok(Split { images: images.data, labels: labels.data, rows, cols, file: image_file.to_string() })
}

fn check_label_range(labels: &idx::Idx, file: &str) -> Result<()> {
    if let Some((i, bad)) = labels.data.iter().enumerate().find(|(_, &l)| l > 9) {
        bail!("{file}: label {bad} at index {i} is out of range 0..9");
    }
    Ok(())
}

/// The four files (train images, train labels, test images, test labels) as one dataset;
/// the test images must have the training images' size (unless there are none).
fn assemble(info: &DatasetInfo, parts: Vec<(idx::Idx, String)>, source: String) -> Result<Dataset> {
    let mut it = parts.into_iter();
    let mut next = || it.next().expect("four files");
    let ((a, fa), (b, fb), (c, fc), (d, fd)) = (next(), next(), next(), next());
    let train = split_from(a, b, [&fa, &fb], true)?;
    let mut test = split_from(c, d, [&fc, &fd], false)?;
    if test.is_empty() {
        (test.rows, test.cols) = (train.rows, train.cols);
    } else if (test.rows, test.cols) != (train.rows, train.cols) {
        bail!(
            "{fc}: the test images are {}×{} pixels but the training images ({fa}) are {}×{}",
            test.rows,
            test.cols,
            train.rows,
            train.cols
        );
    }
    Ok(Dataset { name: info.name.to_string(), train, test, mean: info.mean, std: info.std, source })
}

/// Reads the four files from `dir`.
pub fn load_dir(name: &str, dir: &Path) -> Result<Dataset> {
    let info = info(name)?;
    let mut parts = Vec::new();
    for (i, stem) in FILES.iter().enumerate() {
        let Some(path) = find_file(dir, stem) else { bail!("{}: missing {stem}(.gz)", dir.display()) };
        let d = idx::read_file(&path, if i.is_multiple_of(2) { 3 } else { 1 })?;
        parts.push((d, path.display().to_string()));
    }
    assemble(info, parts, dir.display().to_string())
}

/// The MNIST subset compiled into the binary.
pub fn embedded_mnist() -> Result<Dataset> {
    const B: [&[u8]; 4] = [
        include_bytes!("../../assets/mnist-subset/train-images-idx3-ubyte.gz"),
        include_bytes!("../../assets/mnist-subset/train-labels-idx1-ubyte.gz"),
        include_bytes!("../../assets/mnist-subset/t10k-images-idx3-ubyte.gz"),
        include_bytes!("../../assets/mnist-subset/t10k-labels-idx1-ubyte.gz"),
    ];
    let names = FILES.map(|f| format!("embedded {f}"));
    let files = [0, 1, 2, 3].map(|i| (names[i].as_str(), B[i]));
    from_bytes("mnist", files, "embedded subset (first 10,000 train / 2,000 test images of MNIST)")
}

/// A dataset from the bytes of its four IDX files (gzipped or raw), in [`FILES`] order,
/// each with the name its errors use.
pub fn from_bytes(name: &str, files: [(&str, &[u8]); 4], source: &str) -> Result<Dataset> {
    let info = info(name)?;
    let mut parts = Vec::new();
    for (i, (file, bytes)) in files.into_iter().enumerate() {
        parts.push((idx::parse(bytes, if i.is_multiple_of(2) { 3 } else { 1 }, file)?, file.to_string()));
    }
    assemble(info, parts, source.to_string())
}

/// How a dataset was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The full files if found; for MNIST, else the embedded subset.
    Auto,
    /// The full files, or an error saying how to fetch them.
    Full,
    /// The embedded subset (MNIST only).
    Subset,
}

/// Finds and loads a dataset.
pub fn load(name: &str, data_dir: Option<&Path>, want: Want) -> Result<Dataset> {
    info(name)?;
    if want == Want::Subset {
        if name != "mnist" {
            bail!("only mnist has an embedded subset; fetch {name} with `optlab data fetch {name}`");
        }
        return embedded_mnist();
    }
    let dirs = search_dirs(name, data_dir);
    for d in &dirs {
        if FILES.iter().all(|s| find_file(d, s).is_some()) {
            return load_dir(name, d);
        }
    }
    if name == "mnist" && want == Want::Auto {
        return embedded_mnist();
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!("{name} not found (looked in {}); get it with `optlab data fetch {name}`", looked.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_subset_is_real_mnist() {
        let d = embedded_mnist().unwrap();
        assert_eq!((d.train.len(), d.test.len(), d.train.rows, d.train.cols), (10_000, 2_000, 28, 28));
        assert_eq!(&d.train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        assert_eq!(&d.test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    }

    #[test]
    fn missing_fashion_mnist_says_how_to_fetch_it() {
        let dir = std::env::temp_dir().join(format!("optlab-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = load("fashion-mnist", Some(&dir), Want::Full).unwrap_err().to_string();
        assert!(e.contains("optlab data fetch fashion-mnist"), "{e}");
        assert!(load("cifar", None, Want::Auto).unwrap_err().to_string().contains("unknown dataset 'cifar'"));
    }
}
