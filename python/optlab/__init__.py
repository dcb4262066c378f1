"""optlab from Python: the laboratory's commands as functions returning result objects.

Every function runs the library's own code (the native module ``optlab._optlab``), with the
command line's names, defaults and one-line error messages (a ``ValueError``); results hold
NumPy arrays, ``to_pandas()`` gives the CLI's CSV as a frame (pandas is imported only then),
``save(dir)`` writes exactly the files the CLI writes, and in Jupyter a result shows its main
figure inline. Ctrl-C (the notebook's stop button) stops a long call within a fraction of a
second and returns what was complete, with ``interrupted`` set.
"""

from __future__ import annotations

import io
import json
import warnings

from optlab import _optlab

__version__ = _optlab.__version__
__all__ = [
    "compare",
    "tune",
    "map",
    "sweep_lr",
    "train",
    "seminar",
    "optimizers",
    "schedulers",
    "functions",
    "Optimizer",
    "playground",
    "mnist_subset",
    "cli",
    "study",
]

Optimizer = _optlab.Optimizer
mnist_subset = _optlab.mnist_subset


def _frame(csv_text: str):
    import pandas as pd  # optional: only to_pandas needs it

    # before pandas 3 the default parser may round the last digit; round_trip reads them exactly
    kw = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    return pd.read_csv(io.StringIO(csv_text), **kw)


def _warn_interrupted(result):
    if result.interrupted:
        warnings.warn("interrupted: the result holds the work completed before Ctrl-C", stacklevel=3)
    return result


class _Figures:
    """Inline figures: ``_repr_svg_`` / ``_repr_png_`` show ``default``; ``figure(name)`` picks one."""

    default = ""

    def figures(self) -> dict:
        """Every figure the CLI writes: name -> (SVG text, PNG bytes), rendered once."""
        if getattr(self, "_figs", None) is None:
            self._figs = self._render()
        return self._figs

    def figure(self, name: str | None = None) -> "Figure":
        figs = self.figures()
        name = name or self.default
        if name not in figs:
            raise ValueError(f"figure '{name}': this result has {', '.join(sorted(figs))}")
        svg, png = figs[name]
        return Figure(name, svg, png)

    def _repr_svg_(self):
        figs = self.figures()
        return figs[self.default][0] if self.default in figs else None

    def _repr_png_(self):
        figs = self.figures()
        return figs[self.default][1] if self.default in figs else None


class Figure:
    """One figure, SVG and PNG; shows inline in Jupyter."""

    def __init__(self, name: str, svg: str, png: bytes):
        self.name, self.svg, self.png = name, svg, png

    def _repr_svg_(self):
        return self.svg

    def _repr_png_(self):
        return self.png

    def __repr__(self):
        return f"<optlab figure {self.name}: {len(self.svg)} bytes of SVG, {len(self.png)} of PNG>"


class Run:
    """One optimizer's trajectory: arrays ``step``, ``x``, ``y``, ``loss``, ``grad`` (n x 2),
    ``lr``, ``evals``, ``gradient_at`` (n x 2), and the ``summary`` dict (a row of summary.json)."""

    def __init__(self, d: dict, parent, index: int):
        self.__dict__.update(d)
        self._parent, self._index = parent, index

    @property
    def summary(self) -> dict:
        return self._parent.summary["runs"][self._index]

    def __repr__(self):
        s = self.summary
        return f"<optlab run {self.label}: {len(self.x)} points, final loss {s['final_loss']:.6g}>"


class CompareResult(_Figures):
    """What ``compare`` made: ``runs`` (a list of :class:`Run`), ``summary`` (summary.json)."""

    default = "contour"

    def __init__(self, native, x_axis: str = "steps"):
        self._native, self._x_axis = native, x_axis
        self._summary = None
        self.runs = [Run(d, self, i) for i, d in enumerate(native.runs())]
        self.interrupted = native.interrupted

    @property
    def summary(self) -> dict:
        """summary.json as a dict (made on first use)."""
        if self._summary is None:
            self._summary = self._native.summary()
        return self._summary

    def to_pandas(self):
        """The trajectories.csv frame (one row per optimizer and step)."""
        return _frame(self._native.trajectories_csv())

    def save(self, dir, animate: bool = False) -> list:
        """Writes the files ``optlab compare --out DIR`` writes; returns their paths."""
        return self._native.save(str(dir), self._x_axis, animate)

    def _render(self):
        return self._native.figures(self._x_axis)

    def __getitem__(self, label: str) -> Run:
        for r in self.runs:
            if r.label == label:
                return r
        raise KeyError(label)

    def __repr__(self):
        rows = [f"{r.label}: final loss {r.summary['final_loss']:.6g} at ({r.summary['final_x']:.6g}, {r.summary['final_y']:.6g})" for r in self.runs]
        return f"<optlab compare {self.summary['function']}, {self.summary['note']}\n  " + "\n  ".join(rows) + ">"


def compare(function="sin-cos", optimizers=None, start=None, steps=500, shape="2", domain=None,
            tuned=False, x_axis="steps", allow_large=False) -> CompareResult:
    """``optlab compare``: every optimizer from the same start for ``steps`` steps.

    ``optimizers`` is a spec or a list of specs (default: the seminar's six, lr=0.1);
    ``start`` (x, y); ``domain`` (x0, x1, y0, y1); ``shape`` "2", "1x2" or "2x1"."""
    r = CompareResult(_optlab.compare(function, optimizers, start, steps, shape, domain, tuned, allow_large), x_axis)
    return _warn_interrupted(r)


class TuneResult:
    """What ``tune`` found: ``record`` (tune.json as a dict) or ``reason`` when there is nothing to tune."""

    def __init__(self, native):
        self._native = native
        self.record = native.record()
        self.reason = native.reason
        self.results = self.record["results"] if self.record else []

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.results)

    def save(self, dir) -> list:
        """Writes tune.json as ``optlab tune --out DIR`` does."""
        return self._native.save(str(dir))

    def __repr__(self):
        if self.reason:
            return f"<optlab tune: nothing to tune: {self.reason}>"
        return "<optlab tune\n  " + "\n  ".join(f"{r['optimizer']}: lr {r['lr']}, {r['steps']} steps" for r in self.results) + ">"


def tune(function="sin-cos", optimizers=None, start=None, steps=10_000, shape="2", domain=None, allow_large=False) -> TuneResult:
    """``optlab tune``: each optimizer's lr that reaches the start's nearest minimum in the fewest steps."""
    return TuneResult(_optlab.tune(function, optimizers, start, steps, shape, domain, allow_large))


class MapResult(_Figures):
    """Basin maps: ``maps``, one dict per optimizer with ``basin`` and ``steps`` (grid x grid
    arrays), ``minima`` (k x 2) and ``summary``."""

    default = "map_panel"

    def __init__(self, native):
        self._native = native
        self.maps = native.maps()
        self.interrupted = native.interrupted

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([m["summary"] for m in self.maps])

    def save(self, dir) -> list:
        """Writes the files ``optlab map --out DIR`` writes."""
        return self._native.save(str(dir))

    def _render(self):
        figs = self._native.figures()
        if self.default not in figs and figs:
            self.default = sorted(figs)[0]
        return figs

    def __repr__(self):
        return f"<optlab map: {', '.join(m['label'] for m in self.maps)}; {len(self.maps)} of {self._native.asked} maps>"


def map(function="sin-cos", optimizers=None, grid=512, steps=500, shape="2", domain=None, allow_large=False) -> MapResult:
    """``optlab map``: every optimizer from every start of a grid x grid lattice over the domain."""
    return _warn_interrupted(MapResult(_optlab.map(function, optimizers, grid, steps, shape, domain, allow_large)))


class SweepResult(_Figures):
    """A learning-rate sweep: ``points`` (sweep.json's), ``lrs``, ``stable_ranges``."""

    default = "sweep_loss"

    def __init__(self, native):
        self._native = native
        self.points = native.points()
        self.lrs = native.lrs
        self.stable_ranges = dict(native.stable_ranges())
        self.interrupted = native.interrupted

    def to_pandas(self):
        """The sweep.csv frame."""
        return _frame(self._native.csv())

    def save(self, dir) -> list:
        """Writes the files ``optlab sweep-lr --out DIR`` writes."""
        return self._native.save(str(dir))

    def _render(self):
        figs = {k: v for k, v in self._native.figures().items()}
        if self.default not in figs and figs:
            self.default = sorted(figs)[0]
        return figs

    def __repr__(self):
        return f"<optlab sweep-lr: {len(self.points)} runs; stable ranges {self.stable_ranges}>"


def sweep_lr(function="sin-cos", optimizers=None, lrs="1e-4..10:61", vs=None, start=None, steps=500, shape="2",
             domain=None, allow_large=False) -> SweepResult:
    """``optlab sweep-lr``: final loss and steps to converge against lr (and ``vs``, a second hyperparameter)."""
    return _warn_interrupted(SweepResult(_optlab.sweep_lr(function, optimizers, lrs, vs, start, steps, shape, domain, allow_large)))


class TrainResult(_Figures):
    """A training run: ``runs`` (per run: label, spec, seed, status, per-step ``loss``/``lr``
    arrays, ``epochs`` records); ``history()`` and ``steps()`` frames."""

    default = "curves_grid"

    def __init__(self, native):
        self._native = native
        self.runs = native.runs()
        self.model, self.parameters, self.seconds = native.model, native.parameters, native.seconds
        self.interrupted = native.interrupted

    def history(self):
        """The history.csv frame (one row per run and epoch)."""
        return _frame(self._native.history_csv())

    def steps(self):
        """The steps.csv frame (one row per run and training step)."""
        return _frame(self._native.steps_csv())

    to_pandas = history

    def save(self, dir) -> list:
        """Writes the files ``optlab train --out DIR`` writes."""
        return self._native.save(str(dir))

    def _render(self):
        return self._native.figures()

    def __repr__(self):
        last = [f"{r['label']} seed {r['seed']}: {len(r['epochs'])} epochs" for r in self.runs]
        return f"<optlab train {self.model} ({self.parameters} parameters), {self.seconds:.1f} s\n  " + "\n  ".join(last) + ">"


def _bar(total_hint=None):
    """A tqdm bar when tqdm is installed (tqdm.auto: a widget in notebooks), else None."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=total_hint)

    def update(done, total, *what):
        bar.total = total
        bar.n = done
        if what:
            bar.set_description(str(what[0])[:40], refresh=False)
        bar.refresh()

    return bar, update


def train(model="cnn", optimizers=None, epochs=20, batch_size=None, seed=0, seeds=1, dataset=None, data_dir=None,
          full=False, subset=False, limit=None, threads=None, allow_large=False, progress=True,
          steps=2000, eval_every=250, eval_batches=20, text=None):
    """``optlab train``: an image classifier on MNIST / Fashion-MNIST (the embedded MNIST subset
    when the full set is not fetched; ``epochs``, ``limit``), or, for ``model="gpt(...)"``,
    ``dataset="shakespeare-char"`` or a ``text`` file, the character-level language model
    (``steps``, ``eval_every``, ``eval_batches``; batch 12 windows by default). Returns a
    :class:`TrainResult` or an :class:`LmTrainResult`."""
    language = (str(model).strip().lower().startswith("gpt") or text is not None
                or dataset == "shakespeare-char")
    bar, update = _bar() if progress else (None, None)
    try:
        if language:
            native = _optlab.train_lm("gpt" if model == "cnn" else model, optimizers, steps, batch_size, eval_every,
                                      eval_batches, seed, seeds, dataset, None if text is None else str(text),
                                      threads, allow_large, update)
        else:
            native = _optlab.train(model, optimizers, epochs, batch_size, seed, seeds, dataset,
                                   None if data_dir is None else str(data_dir), full, subset, limit, threads,
                                   allow_large, update)
    finally:
        if bar is not None:
            bar.close()
    return _warn_interrupted(LmTrainResult(native) if language else TrainResult(native))


class LmTrainResult(_Figures):
    """A language-model training: ``runs`` (per run: label, spec, seed, status, per-step
    ``loss``/``lr``/``grad_norm`` arrays, ``evals`` records); ``history()`` (per evaluation:
    train and val loss, perplexity, bits per character, lr, tokens, seconds) and ``steps()``
    frames; ``params(i)`` the final parameters of run ``i``."""

    default = "val_loss"

    def __init__(self, native):
        self._native = native
        self.runs = native.runs()
        self.model, self.parameters, self.seconds = native.model, native.parameters, native.seconds
        self.interrupted = native.interrupted

    def history(self):
        """The history.csv frame (one row per run and evaluation)."""
        return _frame(self._native.history_csv())

    def steps(self):
        """The steps.csv frame (one row per run and step)."""
        return _frame(self._native.steps_csv())

    to_pandas = history

    def params(self, i=0):
        """The final parameters of run ``i`` (float32, PyTorch's parameter order)."""
        return self._native.params(i)

    def save(self, dir) -> list:
        """Writes the files ``optlab train --model gpt --out DIR`` writes (with checkpoints)."""
        return self._native.save(str(dir))

    def _render(self):
        return self._native.figures()

    def __repr__(self):
        last = [f"{r['label']} seed {r['seed']}: {len(r['loss'])} steps" for r in self.runs]
        return f"<optlab train {self.model} ({self.parameters} parameters), {self.seconds:.1f} s\n  " + "\n  ".join(last) + ">"


class SeminarResult:
    """The seminar's folder: ``html`` (index.html), ``markdown`` (report.md), ``files``."""

    def __init__(self, html, markdown, files, interrupted):
        self.html, self.markdown, self.files, self.interrupted = html, markdown, files, interrupted

    def _repr_markdown_(self):
        with open(self.markdown, encoding="utf-8") as f:
            return f.read()

    def __repr__(self):
        return f"<optlab seminar: {self.html} ({len(self.files)} files)>"


def seminar(out="out/seminar", quick=False, full=False, dataset="mnist", data_dir=None, seed=0, epochs=20,
            modern=False, progress=True, gpt_steps=200) -> SeminarResult:
    """``optlab seminar``: the whole seminar, written to ``out`` (records, figures, index.html, report.md);
    with ``modern``, section 3 trains the character-level GPT ``gpt_steps`` steps (0: without it)."""
    bar, update = _bar() if progress else (None, None)
    try:
        r = SeminarResult(*_optlab.seminar(str(out), quick, full, dataset,
                                           None if data_dir is None else str(data_dir), seed, epochs, modern, update,
                                           gpt_steps))
    finally:
        if bar is not None:
            bar.close()
    return _warn_interrupted(r)


def optimizers() -> list:
    """Every method's schema, as ``GET /api/optimizers`` serves it."""
    return json.loads(_optlab.optimizers_json())["optimizers"]


def schedulers() -> dict:
    """The learning-rate schedulers and gradient clipping rules, as ``GET /api/optimizers`` serves them."""
    v = json.loads(_optlab.optimizers_json())
    return {k: v[k] for k in v if k != "optimizers"}


def functions() -> list:
    """The built-in functions, as ``GET /api/functions`` serves them."""
    return json.loads(_optlab.functions_json())["functions"]


def cli(*args: str) -> int:
    """Runs the command line in this process, e.g. ``optlab.cli("list", "functions")``; returns the
    exit code. Ctrl-C (KeyboardInterrupt) stops the command as it does on the command line."""
    return _optlab.run_cli(["optlab", *args])


def study(action: str, *args: str) -> int:
    """``optlab study ACTION ...`` (plan, run, status, report) in this process; returns the exit
    code. The study's files are in its folder (see docs/guide/scaling-out.md)."""
    return cli("study", action, *args)


class Playground:
    """The playground's server on a free loopback port; shows the page inline (an IFrame)."""

    def __init__(self, width="100%", height=720):
        import atexit

        self._server = _optlab.Server("127.0.0.1", 0)
        self.url, self.width, self.height = self._server.url, width, height
        atexit.register(self.stop)

    def stop(self):
        self._server.stop()

    def _repr_html_(self):
        return f'<iframe src="{self.url}" width="{self.width}" height="{self.height}" style="border:0"></iframe>'

    def __repr__(self):
        return f"<optlab playground at {self.url}>"


def playground(**kw) -> Playground:
    """Starts the playground (``optlab serve``) on a free loopback port; the page shows inline in Jupyter."""
    return Playground(**kw)
