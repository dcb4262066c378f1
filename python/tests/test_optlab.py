"""The Python package against the command line: same numbers, same files, same messages."""

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import optlab

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "nn"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "optlab", *args], capture_output=True, text=True, cwd=cwd)


CASES = [
    ("sin-cos", ["adam(lr=0.1)", "nag", "sgd(lr=0.05, momentum=0.9)"], None),
    ("rosenbrock", ["adam(lr=0.05)", "lbfgs", "sf-adamw(lr=0.05)"], (-1.2, 1.0)),
    ("x^2*sin(x)/10 + y^2*cos(y)/10", ["adagrad(lr=0.3)", "adam(lr=0.1) | StepLR(step_size=50, gamma=0.5)"], (8.0, 0.1)),
]


@pytest.mark.parametrize("function,specs,start", CASES)
def test_compare_arrays_equal_the_cli_trajectories_bit_for_bit(tmp_path, function, specs, start):
    args = ["compare", "--function", function, "--steps", "300", "--out", str(tmp_path / "cli"), "--optimizer", *specs]
    if start:
        args += ["--start", f"{start[0]!r},{start[1]!r}"]
    p = cli(*args)
    assert p.returncode == 0, p.stderr
    r = optlab.compare(function, specs, start=start, steps=300)
    with open(tmp_path / "cli" / "trajectories.csv") as f:
        rows = list(csv.DictReader(f))
    for run in r.runs:
        mine = [row for row in rows if row["optimizer"] == run.label]
        assert len(mine) == len(run.x)
        for name, arr in [("x", run.x), ("y", run.y), ("loss", run.loss), ("lr", run.lr),
                          ("grad_x", run.grad[:, 0]), ("grad_y", run.grad[:, 1]),
                          ("gradient_at_x", run.gradient_at[:, 0]), ("gradient_at_y", run.gradient_at[:, 1])]:
            want = np.array([float(row[name]) for row in mine])
            assert np.array_equal(arr, want), (run.label, name)
        assert np.array_equal(run.evals, np.array([int(row["evals"]) for row in mine]))
    # save writes exactly the command line's files, with the same records
    r.save(tmp_path / "py")
    names = lambda d: sorted(p.name for p in d.iterdir())
    assert names(tmp_path / "py") == names(tmp_path / "cli")
    for f in ["trajectories.csv", "summary.json", "contour.svg", "loss.svg"]:
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f
    assert r.summary == json.loads((tmp_path / "cli" / "summary.json").read_text())


def test_to_pandas_is_the_trajectories_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    r = optlab.compare("sin-cos", ["adam(lr=0.1)", "nag"])
    r.save(tmp_path)
    kw = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    want = pd.read_csv(tmp_path / "trajectories.csv", **kw)
    pd.testing.assert_frame_equal(r.to_pandas(), want)


def mlp_loss_and_grad(params, x, labels):
    """The seminar's MLP (Linear(784,64) -> Linear(64,10) -> log-softmax, no activation), in float32."""
    w1, b1, w2, b2 = params
    h = x @ w1.T + b1
    z = h @ w2.T + b2
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -logp[np.arange(n), labels].mean()
    dz = np.exp(logp)
    dz[np.arange(n), labels] -= 1
    dz /= n
    dz = dz.astype(np.float32)
    gw2, gb2 = dz.T @ h, dz.sum(axis=0)
    dh = dz @ w2
    gw1, gb1 = dh.T @ x, dh.sum(axis=0)
    return loss, [gw1, gb1, gw2, gb2]


def test_optimizer_step_on_numpy_reproduces_torch_adam_on_the_mlp():
    m = json.loads((GOLDEN / "manifest.json").read_text())
    g = m["models"]["mlp"]
    shapes = [tuple(s) for s in g["shapes"]]
    flat = np.fromfile(GOLDEN / g["init"], dtype="<f4")
    params, at = [], 0
    for s in shapes:
        n = int(np.prod(s))
        params.append(flat[at:at + n].reshape(s).copy())
        at += n
    images, labels, _, _, mean, std = optlab.mnist_subset()
    x = ((images[:32].reshape(32, -1).astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std))
    y = labels[:32].astype(np.int64)
    assert list(y) == m["labels"]
    opt = optlab.Optimizer("adam", shapes=shapes)
    gold = g["after_3_steps"]["adam"]
    for k in range(3):
        loss, grads = mlp_loss_and_grad(params, x, y)
        assert abs(loss - gold["losses_before_each_step"][k]) / gold["losses_before_each_step"][k] < 1e-5
        opt.step(params, grads)
    want = np.fromfile(GOLDEN / gold["params"], dtype="<f4")
    got = np.concatenate([p.ravel() for p in params])
    err = np.abs(got.astype(np.float64) - want).max() / np.abs(want).max()
    assert err < 1e-5, err
    assert opt.lr == 1e-3 and opt.steps == 3


def test_optimizer_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="several times per step"):
        optlab.Optimizer("lbfgs", shapes=[(2,)])
    with pytest.raises(ValueError, match="unknown optimizer"):
        optlab.Optimizer("adamx", shapes=[(2,)])
    o = optlab.Optimizer("adam", shapes=[(2,)])
    with pytest.raises(ValueError, match="shape"):
        o.step([np.zeros(3, np.float32)], [np.zeros(3, np.float32)])
    with pytest.raises(TypeError):
        o.step([np.zeros(2, np.float64)], [np.zeros(2, np.float64)])


def test_figures_render_to_svg_and_png():
    r = optlab.compare("sin-cos", ["adam(lr=0.1)", "nag"], steps=100)
    assert r._repr_svg_().lstrip().startswith("<svg")
    assert r._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(r.figures()) >= {"contour", "surface", "loss"}
    assert r.figure("surface").png[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="figure 'nope'"):
        r.figure("nope")
    m = optlab.map("himmelblau", ["adam(lr=0.1)"], grid=16, steps=100)
    assert m._repr_png_()[:4] == b"\x89PNG"
    assert m.maps[0]["basin"].shape == (16, 16)


@pytest.mark.parametrize("args,call", [
    (["--optimizer", "adamx"], lambda: optlab.compare("sin-cos", ["adamx"])),
    (["--function", "x^^2"], lambda: optlab.compare("x^^2")),
    (["--steps", "100", "--shape", "3x3"], lambda: optlab.compare(steps=100, shape="3x3")),
    (["--steps", "100000000"], lambda: optlab.compare(steps=100_000_000)),
])
def test_bad_input_raises_the_cli_message(tmp_path, args, call):
    p = cli("compare", "--out", str(tmp_path), *args)
    assert p.returncode == 2
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == line[len("error: "):]


def test_keyboard_interrupt_during_a_long_map_returns_promptly():
    def interrupt():
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    t = time.time()
    with pytest.warns(UserWarning, match="interrupted"):
        m = optlab.map("sin-cos", ["adam(lr=0.1)"] * 4, grid=1024, steps=1000, allow_large=True)
    took = time.time() - t
    assert m.interrupted
    assert len(m.maps) < 4
    assert took < 2.0, took


def test_registry_schemas_are_dicts():
    names = [o["name"] for o in optlab.optimizers()]
    assert "adam" in names and "soap" in names
    assert any(s["name"] == "StepLR" for s in optlab.schedulers()["schedulers"])
    assert any(f["name"] == "rosenbrock" for f in optlab.functions())


def test_python_m_optlab_is_the_command_line():
    p = cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("optlab 0.1.0")
    p = cli("comapre")
    assert p.returncode == 2 and "'compare'" in p.stderr


def test_the_package_imports_and_compares_without_pandas():
    code = "import sys; sys.modules['pandas'] = None; import optlab; print(optlab.compare('sin-cos', ['adam(lr=0.1)']))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "adam(lr=0.1)" in p.stdout


def test_tune_sweep_and_train_results(tmp_path):
    t = optlab.tune("quadratic", ["gd", "adam"], steps=2000)
    assert [r["optimizer"] for r in t.results] == ["gd", "adam"]
    s = optlab.sweep_lr("quadratic", ["sgd"], lrs="1e-3..1:5", steps=100)
    assert len(s.points) == 5 and len(s.lrs) == 5
    tr = optlab.train("mlp", ["adam"], epochs=1, limit=256, progress=False)
    assert tr.runs[0]["loss"].dtype == np.float32 and len(tr.runs[0]["loss"]) == 8
    files = tr.save(tmp_path)
    assert any(f.endswith("history.csv") for f in files)


def test_the_language_model_trains_from_python_with_the_cli_s_numbers_and_files(tmp_path):
    model = "gpt(n_layer=1, n_head=2, n_embd=32, block_size=16)"
    specs = ["adamw(lr=1e-3)", "muon(lr=0.02, fallback=adamw(lr=1e-3))"]
    p = cli("train", "--model", model, "--steps", "30", "--eval-every", "10", "--eval-batches", "2",
            "--out", str(tmp_path / "cli"), "--optimizer", *specs)
    assert p.returncode == 0, p.stderr
    r = optlab.train(model, specs, steps=30, eval_every=10, eval_batches=2, progress=False)
    assert r.model == "gpt(n_layer=1, n_head=2, n_embd=32, block_size=16, bias=true, dropout=0)"
    assert [len(run["loss"]) for run in r.runs] == [30, 30]
    assert r.runs[1]["grad_norm"].dtype == np.float32 and np.isfinite(r.runs[1]["grad_norm"]).all()
    no_seconds = lambda text: [row.rsplit(",", 1)[0] for row in text.splitlines()]
    assert no_seconds(r._native.history_csv()) == no_seconds((tmp_path / "cli" / "history.csv").read_text())
    assert r._native.steps_csv() == (tmp_path / "cli" / "steps.csv").read_text()
    assert r.params(0).dtype == np.float32 and len(r.params(0)) == r.parameters
    files = r.save(tmp_path / "py")
    names = lambda d: sorted(str(q.relative_to(d)) for q in d.rglob("*") if q.is_file())
    assert names(tmp_path / "py") == names(tmp_path / "cli")
    for f in (tmp_path / "cli" / "checkpoints").iterdir():
        assert (tmp_path / "py" / "checkpoints" / f.name).read_bytes() == f.read_bytes(), f.name
    assert r._repr_svg_().startswith("<svg")
    with pytest.raises(ValueError, match="n_head"):
        optlab.train("gpt(n_head=3)", steps=2, progress=False)


def test_every_public_function_has_a_docstring():
    for name in optlab.__all__:
        assert getattr(optlab, name).__doc__, name


def test_the_seminar_notebook_runs_headless(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(ROOT / "examples" / "seminar.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    shown = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(shown) >= 5, "the figures show inline"


def test_cli_runs_in_process_and_study_plans(tmp_path, capfd):
    assert optlab.cli("list", "functions") == 0
    assert "rosenbrock" in capfd.readouterr().out
    assert optlab.cli("compare", "--optimizer", "adamx") == 2
    assert "unknown optimizer 'adamx'" in capfd.readouterr().err
    study = ROOT / "examples" / "study-small.toml"
    assert optlab.study("plan", str(study), "--out", str(tmp_path / "s")) == 0
    assert (tmp_path / "s" / "trials.jsonl").exists()


def test_step_on_the_optimizer_s_own_arrays_equals_step_on_copies():
    shapes = [(5, 3), (3,)]
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    a, b = optlab.Optimizer("adamw(lr=0.01)", shapes=shapes), optlab.Optimizer("adamw(lr=0.01)", shapes=shapes)
    mine = [x.copy() for x in init]
    shared = b.params(init)
    for k in range(4):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        a.step(mine, grads)
        b.step(shared, grads)
    for x, y in zip(mine, shared):
        assert np.array_equal(x, y)
