"""Extra float64 cases for the four torch.optim methods ported last (ASGD, Adafactor, LBFGS,
Muon): other hyperparameters, starts, functions and shapes than modern_optim_2d.json, each
aimed at a branch of the reference (averaging from t0, eps1 given, factored 2x1 with weight
decay, LBFGS stops on each tolerance, short histories, max_eval limiting the line search,
Muon's lr adjustments, plain momentum, the norm clamp).

Run with the generator of the modern golden file (same conventions, torch 2.15):
    python3 modern_optim_2d.py --cases torch_optim_extra_cases.py --out torch_optim_extra_2d.json
"""

S8 = [8.0, 0.1]
RB = [-1.5, 2.0]


def C(id, cls, kwargs, function, start, name, **kw):
    return dict(id=id, reference="torch", **{"class": cls}, kwargs=kwargs, function=function, start=start,
                optlab=name, **kw)


CASES = [
    # ASGD
    C("asgd-beale-avg-early", "ASGD", dict(lr=0.02, lambd=0.01, alpha=1.0, t0=5), "beale", [1.0, 1.5], "asgd"),
    C("asgd-himmel-wd", "ASGD", dict(lr=0.005, weight_decay=0.05, t0=20), "himmelblau", [0.5, 0.5], "asgd"),
    C("asgd-sincos-max", "ASGD", dict(lr=0.05, maximize=True, t0=0), "sin-cos", [3.0, -2.0], "asgd", steps=60),
    # Adafactor
    C("adafactor-vec-eps1-wd", "Adafactor", dict(lr=0.05, eps=(1e-20, 1e-2), weight_decay=0.02), "rosenbrock", RB,
      "adafactor"),
    C("adafactor-col-sincos-d", "Adafactor", dict(lr=1.0, beta2_decay=-0.3, d=1.5), "sin-cos", S8, "adafactor",
      shape=[2, 1]),
    C("adafactor-row-himmel-max", "Adafactor", dict(lr=0.03, maximize=True), "himmelblau", [0.5, 0.5], "adafactor",
      shape=[1, 2], steps=80),
    C("adafactor-vec-beale-bigeps", "Adafactor", dict(lr=0.1, eps=(0.5, 0.3)), "beale", [1.0, 1.5], "adafactor"),
    # LBFGS
    C("lbfgs-plain20-sincos", "LBFGS", dict(lr=0.5), "sin-cos", S8, "lbfgs", steps=10),
    C("lbfgs-plain-quad-tolgrad", "LBFGS", dict(lr=1, tolerance_grad=1e-3), "quadratic", S8, "lbfgs", steps=5),
    C("lbfgs-wolfe-hist2-rosen", "LBFGS", dict(lr=1, history_size=2, line_search_fn="strong_wolfe"), "rosenbrock", RB,
      "lbfgs", steps=8),
    C("lbfgs-wolfe-maxeval-beale", "LBFGS", dict(lr=1, max_iter=10, max_eval=6, line_search_fn="strong_wolfe"), "beale",
      [1.0, 1.5], "lbfgs", steps=10),
    C("lbfgs-wolfe-tolchange-himmel", "LBFGS", dict(lr=0.8, tolerance_change=1e-4, line_search_fn="strong_wolfe"),
      "himmelblau", [-1.0, 0.3], "lbfgs", steps=6),
    C("lbfgs-wolfe-lr-sinsq", "LBFGS", dict(lr=0.3, max_iter=3, line_search_fn="strong_wolfe"),
      "sin-cos-sq", [1.3, 0.7], "lbfgs", steps=12),
    C("lbfgs-plain-hist1-himmel", "LBFGS", dict(lr=0.05, max_iter=5, history_size=1), "himmelblau", [0.5, 0.5], "lbfgs",
      steps=20),
    C("lbfgs-wolfe-maxiter1-rosen", "LBFGS", dict(lr=1, max_iter=1, line_search_fn="strong_wolfe"), "rosenbrock", RB,
      "lbfgs", steps=3),
    # Muon
    C("muon-col-original-sincos", "Muon", dict(lr=0.05, weight_decay=0.0), "sin-cos", S8, "muon", shape=[2, 1]),
    C("muon-row-rms-rosen", "Muon", dict(lr=0.01, adjust_lr_fn="match_rms_adamw"), "rosenbrock", RB, "muon",
      shape=[1, 2]),
    C("muon-row-spectral-himmel", "Muon", dict(lr=0.05, adjust_lr_fn="spectral_unclamped", momentum=0.5),
      "himmelblau", [0.5, 0.5], "muon", shape=[1, 2]),
    C("muon-col-spectral-beale", "Muon", dict(lr=0.02, adjust_lr_fn="spectral_unclamped", nesterov=False,
                                              ns_steps=3), "beale", [1.0, 1.5], "muon", shape=[2, 1]),
    C("muon-row-coeffs-eps-quad", "Muon", dict(lr=0.1, ns_coefficients=(2.0, -1.5, 0.5), eps=50.0, momentum=0.0),
      "quadratic", S8, "muon", shape=[1, 2]),
]
