//! `optlab._optlab`: the native part of the Python package. A thin shell over the library's
//! `cli::lab` calls (the same checks, runs and files as the command line): it converts
//! arguments, releases the GIL while the work runs on a thread of its own, turns Ctrl-C
//! (KeyboardInterrupt) into the library's stop flag, and hands results back as NumPy arrays
//! and JSON text. The pure-Python part (python/optlab/) wraps these in result objects.

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use optlab::cli::lab;
use optlab::cli::{RunArgs, SeminarArgs, TrainArgs, UsageError};
use optlab::optim::{Layout, OptimizerConfig};
use optlab::record::OutDir;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

/// A library error as a Python exception: bad input (the command line's exit code 2) is a
/// ValueError with the same one-line message; anything else an OSError (files) or a
/// RuntimeError.
fn py_err(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}");
    if e.downcast_ref::<UsageError>().is_some() {
        PyValueError::new_err(msg)
    } else if e.downcast_ref::<std::io::Error>().is_some() {
        PyOSError::new_err(msg)
    } else {
        PyRuntimeError::new_err(msg)
    }
}

fn kernels() -> PyResult<()> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        if let Err(e) = optlab::kernels::init() {
            result = Err(PyValueError::new_err(e.to_string()));
        }
    });
    result
}

/// Runs `work` on a thread of its own with the GIL released, checking for signals every
/// 50 ms: a KeyboardInterrupt sets the stop flag the library polls, and the work returns
/// what it completed. The second value says whether it was interrupted. A panic in the
/// work is a RuntimeError.
fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce(&AtomicBool) -> T + Send) -> PyResult<(T, bool)> {
    interruptible_with(py, work, &|_| {})
}

/// Below this many optimizer steps a call runs on the calling thread (GIL released): it
/// ends within milliseconds, sooner than a KeyboardInterrupt could be acted on, and the
/// thread hand-off would cost more than the work (on a loaded machine, a lot more).
const INLINE_STEPS: usize = 200_000;

/// [`interruptible`] for work of about `steps` optimizer steps: inline when small.
fn sized<T: Send>(py: Python<'_>, steps: usize, work: impl FnOnce(&AtomicBool) -> T + Send) -> PyResult<(T, bool)> {
    if steps > INLINE_STEPS {
        return interruptible(py, work);
    }
    kernels()?;
    let stop = AtomicBool::new(false);
    let r = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&stop))));
    r.map(|r| (r, false)).map_err(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        PyRuntimeError::new_err(format!("optlab failed: {what}"))
    })
}

fn run_args(
    function: &str,
    optimizers: Vec<String>,
    start: Option<(f64, f64)>,
    domain: Option<(f64, f64, f64, f64)>,
    shape: &str,
    allow_large: bool,
) -> RunArgs {
    RunArgs {
        function: function.to_string(),
        optimizers,
        // Rust's shortest round-trip text of each number: the same f64 back
        start: start.map(|(x, y)| format!("{x:?},{y:?}")),
        domain: domain.map(|(a, b, c, d)| format!("{a:?},{b:?},{c:?},{d:?}")),
        shape: shape.to_string(),
        allow_large,
    }
}

fn specs(optimizers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match optimizers {
        None => Ok(Vec::new()),
        Some(o) if o.is_none() => Ok(Vec::new()),
        Some(o) => {
            if let Ok(s) = o.extract::<String>() {
                return Ok(vec![s]);
            }
            o.extract::<Vec<String>>()
                .map_err(|_| PyTypeError::new_err("optimizers: give a spec string or a list of spec strings"))
        }
    }
}

fn to_json(py: Python<'_>, v: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let json = py.import("json")?;
    Ok(json.call_method1("loads", (text,))?.unbind())
}

/// Opens `dir` as the command line opens its `--out` folder.
fn out_dir(dir: &Path) -> PyResult<OutDir> {
    OutDir::open(dir).map_err(|e| PyValueError::new_err(format!("{e:#}")))
}

fn finish(out: OutDir) -> PyResult<Vec<String>> {
    Ok(out.finish().map_err(py_err)?.iter().map(|p| p.display().to_string()).collect())
}

/// Renders the figures that `write` puts in a folder, in memory: a scratch folder under the
/// system's temporary folder, read back and removed. Returns name → (SVG text, PNG bytes).
fn figures(py: Python<'_>, write: impl FnOnce(&mut OutDir) -> anyhow::Result<()>) -> PyResult<Py<PyDict>> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "optlab-figures-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut out = out_dir(&dir)?;
    let r = write(&mut out).and_then(|()| out.finish().map(|_| ()));
    let d = PyDict::new(py);
    if r.is_ok() {
        let mut names: Vec<PathBuf> =
            std::fs::read_dir(&dir).map(|it| it.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        names.sort();
        for p in names.iter().filter(|p| p.extension().is_some_and(|e| e == "svg")) {
            let stem = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            let svg = std::fs::read_to_string(p).unwrap_or_default();
            let png = std::fs::read(p.with_extension("png")).unwrap_or_default();
            d.set_item(stem, (svg, PyBytes::new(py, &png)))?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    r.map_err(py_err)?;
    Ok(d.unbind())
}

// ---------------------------------------------------------------------------- compare

/// The result of `compare` (native part).
#[pyclass(module = "optlab._optlab", frozen)]
struct Comparison {
    inner: lab::Comparison,
    interrupted: bool,
}

#[pymethods]
impl Comparison {
    /// Per run: label, spec, and the arrays of its trajectory (its summary is summary()'s).
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.inner.runs {
            let d = PyDict::new(py);
            let pts = &r.trajectory.points;
            let col =
                |f: fn(&optlab::experiment::Point) -> f64| pts.iter().map(f).collect::<Vec<f64>>().into_pyarray(py);
            d.set_item("label", &r.label)?;
            d.set_item("spec", r.config.canonical())?;
            d.set_item("step", pts.iter().map(|p| p.step as u64).collect::<Vec<u64>>().into_pyarray(py))?;
            d.set_item("x", col(|p| p.x))?;
            d.set_item("y", col(|p| p.y))?;
            d.set_item("loss", col(|p| p.loss))?;
            let grad: Vec<f64> = pts.iter().flat_map(|p| [p.grad_x, p.grad_y]).collect();
            d.set_item("grad", PyArray1::from_vec(py, grad).reshape([pts.len(), 2])?)?;
            d.set_item("lr", col(|p| p.lr))?;
            d.set_item("evals", pts.iter().map(|p| p.evals).collect::<Vec<u64>>().into_pyarray(py))?;
            let at: Vec<f64> = pts.iter().flat_map(|p| [p.at_x, p.at_y]).collect();
            d.set_item("gradient_at", PyArray1::from_vec(py, at).reshape([pts.len(), 2])?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// summary.json, as a dict.
    fn summary(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = &self.inner;
        to_json(py, &optlab::record::compare::summary_json(&c.function, &c.runs, c.start, c.steps, &c.note))
    }

    /// trajectories.csv, as text.
    fn trajectories_csv(&self) -> String {
        optlab::record::compare::trajectories_csv(&self.inner.runs)
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    #[getter]
    fn said(&self) -> Vec<String> {
        self.inner.said.clone()
    }

    /// Writes the files `optlab compare --out DIR` writes; returns their paths.
    #[pyo3(signature = (dir, x_axis="steps", animate=false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, x_axis: &str, animate: bool) -> PyResult<Vec<String>> {
        let by_evals = x_axis_evals(x_axis)?;
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_compare(&mut out, &self.inner, by_evals, animate)).map_err(py_err)?;
        finish(out)
    }

    /// The figures (contour, surface, loss, and lr with schedulers): name → (SVG, PNG).
    #[pyo3(signature = (x_axis="steps"))]
    fn figures(&self, py: Python<'_>, x_axis: &str) -> PyResult<Py<PyDict>> {
        let by_evals = x_axis_evals(x_axis)?;
        let c = &self.inner;
        figures(py, |out| optlab::report::figures::compare(out, "", &c.function, &c.runs, &c.note, by_evals))
    }
}

fn x_axis_evals(x_axis: &str) -> PyResult<bool> {
    match x_axis {
        "steps" => Ok(false),
        "evals" => Ok(true),
        other => Err(PyValueError::new_err(format!("x_axis '{other}': give 'steps' or 'evals'"))),
    }
}

/// `optlab compare` in memory.
#[pyfunction]
#[pyo3(signature = (function="sin-cos", optimizers=None, start=None, steps=500, shape="2", domain=None, tuned=false, allow_large=false))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    function: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    start: Option<(f64, f64)>,
    steps: usize,
    shape: &str,
    domain: Option<(f64, f64, f64, f64)>,
    tuned: bool,
    allow_large: bool,
) -> PyResult<Comparison> {
    let specs = specs(optimizers)?;
    let work = steps.saturating_mul(specs.len().max(6)).saturating_mul(if tuned { 1000 } else { 1 });
    let args = run_args(function, specs, start, domain, shape, allow_large);
    let (r, interrupted) = sized(py, work, |stop| lab::compare(&args, steps, tuned, Some(stop)))?;
    Ok(Comparison { inner: r.map_err(py_err)?, interrupted })
}

// ---------------------------------------------------------------------------- tune

#[pyclass(module = "optlab._optlab", frozen)]
struct Tuning {
    inner: lab::Tuning,
}

#[pymethods]
impl Tuning {
    /// tune.json as a dict (None when there is nothing to tune).
    fn record(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = &self.inner;
        match &t.result {
            Ok((target, tuned)) => to_json(py, &optlab::record::tune::json(&t.function.name, t.start, target, tuned)),
            Err(_) => Ok(py.None()),
        }
    }

    /// Why there is nothing to tune, if so.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.inner.result.as_ref().err().cloned()
    }

    /// Writes tune.json (as `optlab tune --out DIR`); returns the paths written.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_tune(&mut out, &self.inner)).map_err(py_err)?;
        finish(out)
    }
}

/// `optlab tune`.
#[pyfunction]
#[pyo3(signature = (function="sin-cos", optimizers=None, start=None, steps=10_000, shape="2", domain=None, allow_large=false))]
#[allow(clippy::too_many_arguments)]
fn tune(
    py: Python<'_>,
    function: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    start: Option<(f64, f64)>,
    steps: usize,
    shape: &str,
    domain: Option<(f64, f64, f64, f64)>,
    allow_large: bool,
) -> PyResult<Tuning> {
    let args = run_args(function, specs(optimizers)?, start, domain, shape, allow_large);
    let (r, _) = interruptible(py, |_| lab::tune(&args, steps))?;
    Ok(Tuning { inner: r.map_err(py_err)? })
}

// ---------------------------------------------------------------------------- map

#[pyclass(module = "optlab._optlab", frozen)]
struct Maps {
    inner: lab::Maps,
    interrupted: bool,
}

#[pymethods]
impl Maps {
    /// Per optimizer: label, spec, `basin` (grid × grid: index of the minimum reached, -1
    /// diverged, -2 not converged), `steps` (steps to converge, or the step of divergence;
    /// -1 when not converged), `minima` (k × 2) and the summary row.
    fn maps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        use optlab::experiment::map::Outcome;
        let list = PyList::empty(py);
        for m in &self.inner.maps {
            let g = m.grid;
            let basin: Vec<i32> = m
                .cells
                .iter()
                .map(|c| match c {
                    Outcome::Basin { minimum, .. } => *minimum as i32,
                    Outcome::Diverged { .. } => -1,
                    Outcome::Stalled => -2,
                })
                .collect();
            let steps: Vec<i64> = m
                .cells
                .iter()
                .map(|c| match c {
                    Outcome::Basin { steps, .. } => *steps as i64,
                    Outcome::Diverged { step } => *step as i64,
                    Outcome::Stalled => -1,
                })
                .collect();
            let minima: Vec<f64> = m.minima.iter().flatten().copied().collect();
            let d = PyDict::new(py);
            d.set_item("label", &m.label)?;
            d.set_item("spec", &m.spec)?;
            d.set_item("basin", PyArray1::from_vec(py, basin).reshape([g, g])?)?;
            d.set_item("steps", PyArray1::from_vec(py, steps).reshape([g, g])?)?;
            d.set_item("minima", PyArray1::from_vec(py, minima).reshape([m.minima.len(), 2])?)?;
            d.set_item("domain", m.domain.to_vec())?;
            d.set_item("note", m.note.clone())?;
            d.set_item("summary", to_json(py, &optlab::experiment::map::summarize(m))?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// How many optimizers were asked for (more than the maps when interrupted).
    #[getter]
    fn asked(&self) -> usize {
        self.inner.asked
    }

    /// Writes the files `optlab map --out DIR` writes.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_map(&mut out, &self.inner)).map_err(py_err)?;
        finish(out)
    }

    /// The figures: name → (SVG, PNG).
    fn figures(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let m = &self.inner;
        figures(py, |out| optlab::report::figures::map(out, "", &m.function, &m.maps, m.steps))
    }
}

/// `optlab map`.
#[pyfunction]
#[pyo3(signature = (function="sin-cos", optimizers=None, grid=512, steps=500, shape="2", domain=None, allow_large=false))]
#[allow(clippy::too_many_arguments)]
fn map(
    py: Python<'_>,
    function: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    grid: usize,
    steps: usize,
    shape: &str,
    domain: Option<(f64, f64, f64, f64)>,
    allow_large: bool,
) -> PyResult<Maps> {
    let args = run_args(function, specs(optimizers)?, None, domain, shape, allow_large);
    let (r, interrupted) = interruptible(py, |stop| lab::map(&args, grid, steps, Some(stop)))?;
    Ok(Maps { inner: r.map_err(py_err)?, interrupted })
}

// ---------------------------------------------------------------------------- sweep-lr

#[pyclass(module = "optlab._optlab", frozen)]
struct Sweep {
    inner: lab::Sweep,
    interrupted: bool,
}

#[pymethods]
impl Sweep {
    /// sweep.json's points: one dict per run.
    fn points(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_json(py, &self.inner.points)
    }

    /// sweep.csv, as text.
    fn csv(&self) -> String {
        optlab::record::sweep::csv(&self.inner.points)
    }

    #[getter]
    fn lrs<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.lrs.clone().into_pyarray(py)
    }

    #[getter]
    fn labels(&self) -> Vec<String> {
        self.inner.labels.clone()
    }

    /// Each optimizer's stable lr range (converged), or None.
    fn stable_ranges(&self) -> Vec<(String, Option<(f64, f64)>)> {
        let s = &self.inner;
        s.labels.iter().map(|l| (l.clone(), optlab::experiment::sweep::stable_range(&s.points, l))).collect()
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Writes the files `optlab sweep-lr --out DIR` writes.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_sweep(&mut out, &self.inner)).map_err(py_err)?;
        finish(out)
    }

    /// The figures: name → (SVG, PNG).
    fn figures(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let s = &self.inner;
        figures(py, |out| lab::write_sweep(out, s))
    }
}

/// `optlab sweep-lr`.
#[pyfunction]
#[pyo3(signature = (function="sin-cos", optimizers=None, lrs="1e-4..10:61", vs=None, start=None, steps=500, shape="2", domain=None, allow_large=false))]
#[allow(clippy::too_many_arguments)]
fn sweep_lr(
    py: Python<'_>,
    function: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    lrs: &str,
    vs: Option<&str>,
    start: Option<(f64, f64)>,
    steps: usize,
    shape: &str,
    domain: Option<(f64, f64, f64, f64)>,
    allow_large: bool,
) -> PyResult<Sweep> {
    let args = run_args(function, specs(optimizers)?, start, domain, shape, allow_large);
    let (r, interrupted) = interruptible(py, |stop| lab::sweep(&args, lrs, vs, steps, Some(stop)))?;
    Ok(Sweep { inner: r.map_err(py_err)?, interrupted })
}

// ---------------------------------------------------------------------------- train

#[pyclass(module = "optlab._optlab", frozen)]
struct Training {
    inner: lab::Training,
    interrupted: bool,
}

#[pymethods]
impl Training {
    /// history.csv, as text.
    fn history_csv(&self) -> String {
        optlab::record::train::history_csv(&self.inner.results)
    }

    /// steps.csv, as text.
    fn steps_csv(&self) -> String {
        optlab::record::train::steps_csv(&self.inner.results)
    }

    /// Per run: label, spec, seed, status and the per-step loss and lr arrays.
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.inner.results {
            let d = PyDict::new(py);
            d.set_item("label", &r.label)?;
            d.set_item("spec", &r.spec)?;
            d.set_item("seed", r.seed)?;
            d.set_item("status", to_json(py, &r.status)?)?;
            d.set_item("epoch", r.step_losses.iter().map(|s| s.0).collect::<Vec<u32>>().into_pyarray(py))?;
            d.set_item("loss", r.step_losses.iter().map(|s| s.1).collect::<Vec<f32>>().into_pyarray(py))?;
            d.set_item("lr", r.step_losses.iter().map(|s| s.2).collect::<Vec<f64>>().into_pyarray(py))?;
            d.set_item("epochs", to_json(py, &r.epochs)?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    #[getter]
    fn model(&self) -> String {
        self.inner.setup.model.name.clone()
    }

    #[getter]
    fn parameters(&self) -> usize {
        self.inner.setup.model.n_params
    }

    #[getter]
    fn seconds(&self) -> f64 {
        self.inner.seconds
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Writes the files `optlab train --out DIR` writes.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_train(&mut out, &self.inner)).map_err(py_err)?;
        finish(out)
    }

    /// The figures: name → (SVG, PNG).
    fn figures(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let t = &self.inner;
        let (m, d, s) = (&t.setup.model, &t.setup.data, &t.setup.settings);
        let what = format!("{} on {} ({} training images), batch {}", m.name, d.name, t.setup.n_train, s.batch_size);
        figures(py, |out| optlab::report::figures::train(out, "", &what, s.epochs, &t.results))
    }
}

#[pyclass(module = "optlab._optlab", frozen)]
struct LmTraining {
    setup: lab::LmSetup,
    inner: lab::LmTraining,
    interrupted: bool,
}

#[pymethods]
impl LmTraining {
    /// history.csv, as text (one row per run and evaluation).
    fn history_csv(&self) -> String {
        optlab::record::lm::history_csv(&self.inner.results)
    }

    /// steps.csv, as text (one row per run and step).
    fn steps_csv(&self) -> String {
        optlab::record::lm::steps_csv(&self.inner.results)
    }

    /// Per run: label, spec, seed, status, the per-step loss, lr and grad_norm arrays and the
    /// evaluation records.
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.inner.results {
            let d = PyDict::new(py);
            d.set_item("label", &r.label)?;
            d.set_item("spec", &r.spec)?;
            d.set_item("seed", r.seed)?;
            d.set_item("status", to_json(py, &r.status)?)?;
            d.set_item("loss", r.steps.iter().map(|s| s.loss).collect::<Vec<f32>>().into_pyarray(py))?;
            d.set_item("lr", r.steps.iter().map(|s| s.lr).collect::<Vec<f64>>().into_pyarray(py))?;
            d.set_item("grad_norm", r.steps.iter().map(|s| s.grad_norm).collect::<Vec<f32>>().into_pyarray(py))?;
            d.set_item("evals", to_json(py, &r.evals)?)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The final parameters of run `i` (the point the method reports), a float32 array.
    fn params<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        match self.inner.results.get(i) {
            Some(r) => Ok(r.params.clone().into_pyarray(py)),
            None => Err(PyValueError::new_err(format!("run {i}: there are {} runs", self.inner.results.len()))),
        }
    }

    #[getter]
    fn model(&self) -> String {
        self.setup.model.cfg.canonical()
    }

    #[getter]
    fn parameters(&self) -> usize {
        self.setup.model.n_params
    }

    #[getter]
    fn seconds(&self) -> f64 {
        self.inner.seconds
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Writes the files `optlab train --model gpt --out DIR` writes (records, checkpoints,
    /// figures).
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<String>> {
        let mut out = out_dir(&dir)?;
        py.detach(|| lab::write_lm(&mut out, &self.setup, &self.inner)).map_err(py_err)?;
        finish(out)
    }

    /// The figures: name → (SVG, PNG).
    fn figures(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let what = lab::lm_what(&self.setup);
        figures(py, |out| optlab::report::figures::lm(out, "", &what, &self.inner.results))
    }
}

/// `optlab train --model gpt`: a character-level language model on tiny Shakespeare or a
/// text file; `progress(done, total)` is called with the steps done.
#[pyfunction]
#[pyo3(signature = (model="gpt", optimizers=None, steps=2000, batch_size=None, eval_every=250, eval_batches=20, seed=0, seeds=1, dataset=None, text=None, threads=None, allow_large=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn train_lm(
    py: Python<'_>,
    model: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    steps: usize,
    batch_size: Option<usize>,
    eval_every: usize,
    eval_batches: usize,
    seed: u64,
    seeds: u64,
    dataset: Option<String>,
    text: Option<PathBuf>,
    threads: Option<usize>,
    allow_large: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<LmTraining> {
    let a = TrainArgs {
        model: model.to_string(),
        dataset,
        text,
        steps,
        eval_every,
        eval_batches,
        checkpoint_every: None,
        optimizers: specs(optimizers)?,
        epochs: 1,
        batch_size,
        seed,
        seeds,
        data_dir: None,
        full: false,
        subset: false,
        limit: None,
        threads,
        out: None,
        allow_large,
    };
    let setup = lab::lm_setup(&a).map_err(py_err)?;
    let total = (setup.runs.len() * setup.settings.steps) as u64;
    let done = AtomicU64::new(0);
    let last: Vec<AtomicU64> = setup.runs.iter().map(|_| AtomicU64::new(0)).collect();
    let tick = |e: optlab::experiment::lm::LmEvent| {
        if let optlab::experiment::lm::LmEvent::Step { run, step, .. } = e {
            let before = last[run].swap(step as u64, Ordering::Relaxed);
            done.fetch_add((step as u64).saturating_sub(before), Ordering::Relaxed);
        }
    };
    let report = |py: Python<'_>| {
        if let Some(p) = &progress {
            let _ = p.call1(py, (done.load(Ordering::Relaxed), total));
        }
    };
    let (r, interrupted) = interruptible_with(py, |stop| lab::train_lm(&setup, threads, stop, &tick), &report)?;
    report(py);
    Ok(LmTraining { inner: r.map_err(py_err)?, setup, interrupted })
}

/// `optlab train` on MNIST / Fashion-MNIST; `progress(done, total)` is called with the
/// training steps done (from the calling thread, about every 50 ms).
#[pyfunction]
#[pyo3(signature = (model="cnn", optimizers=None, epochs=20, batch_size=None, seed=0, seeds=1, dataset=None, data_dir=None, full=false, subset=false, limit=None, threads=None, allow_large=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn train(
    py: Python<'_>,
    model: &str,
    optimizers: Option<&Bound<'_, PyAny>>,
    epochs: usize,
    batch_size: Option<usize>,
    seed: u64,
    seeds: u64,
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    full: bool,
    subset: bool,
    limit: Option<usize>,
    threads: Option<usize>,
    allow_large: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Training> {
    if optlab::nn::is_gpt_spec(model) {
        return Err(PyValueError::new_err("--model gpt: a language model trains through train_lm"));
    }
    let a = TrainArgs {
        model: model.to_string(),
        dataset,
        text: None,
        steps: 2000,
        eval_every: 250,
        eval_batches: 20,
        checkpoint_every: None,
        optimizers: specs(optimizers)?,
        epochs,
        batch_size,
        seed,
        seeds,
        data_dir,
        full,
        subset,
        limit,
        threads,
        out: None,
        allow_large,
    };
    let setup = lab::train_setup(&a).map_err(py_err)?;
    let total = (setup.runs.len() * setup.settings.epochs * setup.n_train.div_ceil(setup.settings.batch_size)) as u64;
    let done = AtomicU64::new(0);
    let tick = |e: optlab::experiment::train::Event| {
        if let optlab::experiment::train::Event::Step { .. } = e {
            done.fetch_add(1, Ordering::Relaxed);
        }
    };
    let report = |py: Python<'_>| {
        if let Some(p) = &progress {
            let _ = p.call1(py, (done.load(Ordering::Relaxed), total));
        }
    };
    let (r, interrupted) = interruptible_with(py, |stop| lab::train(setup, threads, stop, &tick), &report)?;
    report(py);
    Ok(Training { inner: r.map_err(py_err)?, interrupted })
}

/// [`interruptible`] that also calls `tick` from the calling thread (with the GIL) every 50 ms.
fn interruptible_with<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> T + Send,
    tick: &dyn Fn(Python<'_>),
) -> PyResult<(T, bool)> {
    kernels()?;
    let stop = AtomicBool::new(false);
    let mut interrupted = false;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let joined = std::thread::scope(|s| {
        let stop = &stop;
        let handle = s.spawn(move || {
            let r = work(stop);
            let _ = tx.send(());
            r
        });
        loop {
            let done = py.detach(|| {
                !matches!(
                    rx.lock().map(|r| r.recv_timeout(Duration::from_millis(50))).unwrap_or(Ok(())),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                )
            });
            if done {
                break;
            }
            tick(py);
            if let Err(e) = py.check_signals() {
                stop.store(true, Ordering::SeqCst);
                if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                    interrupted = true;
                } else {
                    let _ = py.detach(|| handle.join());
                    return Err(e);
                }
            }
        }
        py.detach(|| handle.join()).map_err(|p| {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            PyRuntimeError::new_err(format!("optlab failed: {what}"))
        })
    })?;
    Ok((joined, interrupted))
}

// ---------------------------------------------------------------------------- seminar

/// `optlab seminar`: runs it and writes its folder; returns (index.html, report.md, files,
/// interrupted).
#[pyfunction]
#[pyo3(signature = (out=None, quick=false, full=false, dataset="mnist", data_dir=None, seed=0, epochs=20, modern=false, progress=None, gpt_steps=200))]
#[allow(clippy::too_many_arguments)]
fn seminar(
    py: Python<'_>,
    out: Option<PathBuf>,
    quick: bool,
    full: bool,
    dataset: &str,
    data_dir: Option<PathBuf>,
    seed: u64,
    epochs: usize,
    modern: bool,
    progress: Option<Py<PyAny>>,
    gpt_steps: usize,
) -> PyResult<(String, String, Vec<String>, bool)> {
    kernels()?;
    let out = out.unwrap_or_else(|| "out/seminar".into());
    let a = SeminarArgs { out, quick, full, dataset: dataset.to_string(), data_dir, seed, epochs, modern, gpt_steps };
    let (opts, dir) = lab::seminar_setup(&a).map_err(py_err)?;
    let state = std::sync::Mutex::new((0u64, 1u64, String::new()));
    let show = |d: u64, t: u64, w: &str| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s = (d, t, w.to_string());
    };
    let report = |py: Python<'_>| {
        if let Some(p) = &progress {
            let (d, t, w) = state.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let _ = p.call1(py, (d, t, w));
        }
    };
    let (r, _) = interruptible_with(py, |stop| lab::seminar(&opts, dir, stop, &show), &report)?;
    report(py);
    let (results, outcome, files) = r.map_err(py_err)?;
    Ok((
        outcome.html.display().to_string(),
        outcome.markdown.display().to_string(),
        files.iter().map(|p| p.display().to_string()).collect(),
        results.interrupted,
    ))
}

// ---------------------------------------------------------------------------- registry, CLI, server

/// What `GET /api/optimizers` serves: every method's schema and the schedulers (JSON text).
#[pyfunction]
fn optimizers_json() -> String {
    optlab::serve::api::optimizers().to_string()
}

/// What `GET /api/functions` serves (JSON text).
#[pyfunction]
fn functions_json() -> String {
    optlab::serve::api::functions().to_string()
}

/// Runs the command line on `argv` (argv[0] is the program's name) with the GIL released;
/// returns the exit code. This is the `optlab` binary's own entry point.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| optlab::cli::main_from(argv))
}

/// Runs a command in this process (argv[0] is the program's name): Python keeps Ctrl-C, and
/// a KeyboardInterrupt stops the command as Ctrl-C does on the command line (it keeps and
/// writes what was complete). Returns the exit code.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    optlab::cli::embed();
    optlab::cli::STOP.store(false, Ordering::SeqCst);
    let watch = AtomicBool::new(false);
    let (code, interrupted) = interruptible(py, |stop| {
        std::thread::scope(|s| {
            // hand the bindings' stop flag on to the command line's
            s.spawn(|| {
                while !watch.load(Ordering::Relaxed) {
                    if stop.load(Ordering::Relaxed) {
                        optlab::cli::STOP.store(true, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let code = optlab::cli::main_from(argv);
            watch.store(true, Ordering::Relaxed);
            code
        })
    })?;
    optlab::cli::STOP.store(false, Ordering::SeqCst);
    if interrupted {
        PyErr::warn(
            py,
            &py.get_type::<pyo3::exceptions::PyUserWarning>(),
            c"interrupted: the command kept what was complete",
            1,
        )?;
    }
    Ok(code)
}

/// The playground's server, on a thread of its own until `stop`.
#[pyclass(module = "optlab._optlab")]
struct Server {
    running: Option<optlab::serve::Running>,
    url: String,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (host="127.0.0.1", port=0))]
    fn new(host: &str, port: u16) -> PyResult<Server> {
        kernels()?;
        let running = optlab::serve::start(&optlab::serve::ServeOptions { host: host.to_string(), port })
            .map_err(|e| PyOSError::new_err(format!("{e:#}")))?;
        let url = running.url();
        Ok(Server { running: Some(running), url })
    }

    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    fn stop(&mut self, py: Python<'_>) {
        if let Some(r) = self.running.take() {
            py.detach(|| r.stop());
        }
    }
}

/// The embedded MNIST subset (10,000 training and 2,000 test images): (train images
/// (n, 28, 28) uint8, train labels, test images, test labels, mean, std).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn mnist_subset(
    py: Python<'_>,
) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyArray1<u8>>, Bound<'_, PyAny>, Bound<'_, PyArray1<u8>>, f32, f32)> {
    let d = optlab::data::embedded_mnist().map_err(py_err)?;
    let img = |s: optlab::data::Split| -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyArray1<u8>>)> {
        let (n, r, c) = (s.len(), s.rows, s.cols);
        Ok((PyArray1::from_vec(py, s.images).reshape([n, r, c])?.into_any(), s.labels.into_pyarray(py)))
    };
    let (tr, trl) = img(d.train)?;
    let (te, tel) = img(d.test)?;
    Ok((tr, trl, te, tel, d.mean, d.std))
}

// ---------------------------------------------------------------------------- own loop

/// The method, and the flat parameter buffer it updates (a NumPy array, so that
/// [`Optimizer::params`] can hand out views of it).
enum Inner {
    F32(Box<dyn optlab::optim::Optimizer<f32>>, Py<PyArray1<f32>>),
    F64(Box<dyn optlab::optim::Optimizer<f64>>, Py<PyArray1<f64>>),
}

/// An optimizer for your own loop: `step(params, grads)` updates NumPy arrays in place with
/// the registry's rules (PyTorch's).
#[pyclass(module = "optlab._optlab")]
struct Optimizer {
    inner: std::sync::Mutex<Inner>,
    shapes: Vec<Vec<usize>>,
    spec: String,
    steps: u64,
}

fn copy_in<T: numpy::Element + Copy>(
    arrays: &Bound<'_, PyList>,
    shapes: &[Vec<usize>],
    flat: &mut [T],
    what: &str,
) -> PyResult<()> {
    if arrays.len() != shapes.len() {
        return Err(PyValueError::new_err(format!("{what}: {} arrays for {} tensors", arrays.len(), shapes.len())));
    }
    let mut at = 0;
    for (i, (a, shape)) in arrays.iter().zip(shapes).enumerate() {
        let a = a.cast::<numpy::PyArrayDyn<T>>().map_err(|_| {
            PyTypeError::new_err(format!("{what}[{i}]: a NumPy array of the optimizer's dtype is needed"))
        })?;
        if a.shape() != shape.as_slice() {
            return Err(PyValueError::new_err(format!(
                "{what}[{i}]: shape {:?}, the optimizer's is {shape:?}",
                a.shape()
            )));
        }
        let ro = a.try_readonly().map_err(|e| PyValueError::new_err(format!("{what}[{i}]: {e}")))?;
        let s =
            ro.as_slice().map_err(|_| PyValueError::new_err(format!("{what}[{i}]: the array must be contiguous")))?;
        flat[at..at + s.len()].copy_from_slice(s);
        at += s.len();
    }
    Ok(())
}

fn copy_out<T: numpy::Element + Copy>(arrays: &Bound<'_, PyList>, flat: &[T], what: &str) -> PyResult<()> {
    let mut at = 0;
    for (i, a) in arrays.iter().enumerate() {
        let a =
            a.cast::<numpy::PyArrayDyn<T>>().map_err(|_| PyTypeError::new_err(format!("{what}[{i}]: not an array")))?;
        let mut rw = a.try_readwrite().map_err(|e| PyValueError::new_err(format!("{what}[{i}]: {e}")))?;
        let s = rw
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err(format!("{what}[{i}]: the array must be contiguous")))?;
        let n = s.len();
        s.copy_from_slice(&flat[at..at + n]);
        at += n;
    }
    Ok(())
}

/// One step: the parameters copied into the flat buffer, the gradients straight from their
/// arrays into the optimizer's gradient buffer, the parameters copied back.
fn step_with<T: numpy::Element + Copy + optlab::optim::Real>(
    opt: &mut dyn optlab::optim::Optimizer<T>,
    flat: &Bound<'_, PyArray1<T>>,
    params: &Bound<'_, PyList>,
    grads: &Bound<'_, PyList>,
    shapes: &[Vec<usize>],
    loss: T,
) -> PyResult<()> {
    // the arrays of `params()` are the buffer itself: nothing to copy
    let base = flat.data() as usize;
    let mut at = 0;
    let mut shared = params.len() == shapes.len();
    for (a, shape) in params.iter().zip(shapes) {
        let n: usize = shape.iter().product();
        shared &= a.cast::<numpy::PyArrayDyn<T>>().is_ok_and(|a| {
            a.data() as usize == base + at * std::mem::size_of::<T>()
                && a.shape() == shape.as_slice()
                && a.is_c_contiguous()
        });
        at += n;
    }
    let mut rw = flat.try_readwrite().map_err(|e| PyValueError::new_err(format!("params: {e}")))?;
    let p = rw.as_slice_mut().map_err(|_| PyRuntimeError::new_err("the parameter buffer is not contiguous"))?;
    if !shared {
        copy_in(params, shapes, p, "params")?;
    }
    if grads.len() != shapes.len() {
        return Err(PyValueError::new_err(format!("grads: {} arrays for {} tensors", grads.len(), shapes.len())));
    }
    let mut views = Vec::with_capacity(shapes.len());
    for (i, (g, shape)) in grads.iter().zip(shapes).enumerate() {
        let a = g.cast::<numpy::PyArrayDyn<T>>().map_err(|_| {
            PyTypeError::new_err(format!("grads[{i}]: a NumPy array of the optimizer's dtype is needed"))
        })?;
        if a.shape() != shape.as_slice() {
            return Err(PyValueError::new_err(format!(
                "grads[{i}]: shape {:?}, the optimizer's is {shape:?}",
                a.shape()
            )));
        }
        let ro = a.try_readonly().map_err(|e| PyValueError::new_err(format!("grads[{i}]: {e}")))?;
        if ro.as_slice().is_err() {
            return Err(PyValueError::new_err(format!("grads[{i}]: the array must be contiguous")));
        }
        views.push(ro);
    }
    let slices: Vec<&[T]> = views.iter().map(|v| v.as_slice().expect("checked contiguous")).collect();
    opt.step(p, &mut |_: &[T], out: &mut [T]| {
        let mut at = 0;
        for s in &slices {
            out[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        loss
    });
    if !shared {
        copy_out(params, p, "params")?;
    }
    Ok(())
}

#[pymethods]
impl Optimizer {
    #[new]
    #[pyo3(signature = (spec, shapes, dtype="float32"))]
    fn new(py: Python<'_>, spec: &str, shapes: Vec<Vec<usize>>, dtype: &str) -> PyResult<Optimizer> {
        kernels()?;
        let cfg = OptimizerConfig::parse(spec)
            .map_err(|e| PyValueError::new_err(format!("--optimizer '{}': {e}", optlab::limits::shorten(spec, 60))))?;
        if cfg.method.closure {
            return Err(PyValueError::new_err(format!(
                "{}: evaluates the function several times per step, which a step from given gradients cannot do",
                cfg.name()
            )));
        }
        let names: Vec<String> = (0..shapes.len()).map(|i| format!("p{i}")).collect();
        let tensors: Vec<(&str, Vec<usize>)> = names.iter().map(|n| n.as_str()).zip(shapes.iter().cloned()).collect();
        let layout = Layout::of(&tensors);
        cfg.check_layout(&layout).map_err(PyValueError::new_err)?;
        let n = layout.len();
        let cadence = optlab::schedule::Cadence::Training;
        let inner = match dtype {
            "float32" | "f32" => {
                Inner::F32(cfg.build_with::<f32>(&layout, cadence), PyArray1::zeros(py, n, false).unbind())
            }
            "float64" | "f64" => {
                Inner::F64(cfg.build_with::<f64>(&layout, cadence), PyArray1::zeros(py, n, false).unbind())
            }
            other => return Err(PyValueError::new_err(format!("dtype '{other}': give 'float32' or 'float64'"))),
        };
        Ok(Optimizer { inner: std::sync::Mutex::new(inner), shapes, spec: cfg.canonical(), steps: 0 })
    }

    /// One step: updates `params` (a list of arrays of the shapes given) in place from
    /// `grads`; `loss` is passed to schedulers that need it.
    #[pyo3(signature = (params, grads, loss=0.0))]
    fn step(&mut self, params: &Bound<'_, PyList>, grads: &Bound<'_, PyList>, loss: f64) -> PyResult<()> {
        let py = params.py();
        match self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) {
            Inner::F32(opt, p) => step_with(opt.as_mut(), p.bind(py), params, grads, &self.shapes, loss as f32)?,
            Inner::F64(opt, p) => step_with(opt.as_mut(), p.bind(py), params, grads, &self.shapes, loss)?,
        }
        self.steps += 1;
        Ok(())
    }

    /// The parameters as arrays that share the optimizer's own buffer: `step` updates these
    /// in place without copying them in and out. `init` (arrays of the shapes) fills them.
    #[pyo3(signature = (init=None))]
    fn params<'py>(&mut self, py: Python<'py>, init: Option<&Bound<'py, PyList>>) -> PyResult<Bound<'py, PyList>> {
        let flat = match self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) {
            Inner::F32(_, f) => f.bind(py).clone().into_any(),
            Inner::F64(_, f) => f.bind(py).clone().into_any(),
        };
        let list = PyList::empty(py);
        let mut at = 0;
        for s in &self.shapes {
            let n: usize = s.iter().product();
            let part = flat.get_item(pyo3::types::PySlice::new(py, at as isize, (at + n) as isize, 1))?;
            list.append(part.call_method1("reshape", (pyo3::types::PyTuple::new(py, s)?,))?)?;
            at += n;
        }
        if let Some(init) = init {
            if init.len() != self.shapes.len() {
                return Err(PyValueError::new_err(format!(
                    "init: {} arrays for {} tensors",
                    init.len(),
                    self.shapes.len()
                )));
            }
            for (v, x) in list.iter().zip(init.iter()) {
                v.call_method1("__setitem__", (py.Ellipsis(), x))?;
            }
        }
        Ok(list)
    }

    /// The learning rate in force (group 0, after schedulers).
    #[getter]
    fn get_lr(&mut self) -> f64 {
        match self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) {
            Inner::F32(o, ..) => *o.group(0).lr,
            Inner::F64(o, ..) => *o.group(0).lr,
        }
    }

    #[setter]
    fn set_lr(&mut self, lr: f64) {
        match self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) {
            Inner::F32(o, ..) => *o.group(0).lr = lr,
            Inner::F64(o, ..) => *o.group(0).lr = lr,
        }
    }

    /// The canonical spec (every hyperparameter).
    #[getter]
    fn spec(&self) -> String {
        self.spec.clone()
    }

    #[getter]
    fn steps(&self) -> u64 {
        self.steps
    }

    /// Ends an epoch for schedulers that step per epoch (`metric` for ReduceLROnPlateau).
    #[pyo3(signature = (metric=None))]
    fn end_epoch(&mut self, metric: Option<f64>) {
        match self.inner.get_mut().unwrap_or_else(|e| e.into_inner()) {
            Inner::F32(o, ..) => o.end_epoch(metric),
            Inner::F64(o, ..) => o.end_epoch(metric),
        }
    }
}

#[pymodule]
fn _optlab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(tune, m)?)?;
    m.add_function(wrap_pyfunction!(map, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_lr, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(train_lm, m)?)?;
    m.add_function(wrap_pyfunction!(seminar, m)?)?;
    m.add_function(wrap_pyfunction!(optimizers_json, m)?)?;
    m.add_function(wrap_pyfunction!(functions_json, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(mnist_subset, m)?)?;
    m.add_class::<Comparison>()?;
    m.add_class::<Tuning>()?;
    m.add_class::<Maps>()?;
    m.add_class::<Sweep>()?;
    m.add_class::<Training>()?;
    m.add_class::<LmTraining>()?;
    m.add_class::<Server>()?;
    m.add_class::<Optimizer>()?;
    Ok(())
}
